//! The `bulwark` binary's subcommands and their documented exit codes.

use std::io::Write;
use std::process::{Command, Stdio};

fn bulwark(data_dir: &std::path::Path, args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bulwark"))
        .args(args)
        .env("BULWARK_DATA_DIR", data_dir)
        .env_remove("DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run bulwark");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn user_add_audit_verify_and_exit_codes() {
    let dir = bulwark_testkit::temp_dir("cli");
    let (code, out, _) = bulwark(&dir, &["user", "add", "--admin", "alice", "--password-stdin"], "alice-password-1\n");
    assert_eq!(code, 0);
    assert_eq!(out.trim(), "Added alice with the admin role.");

    let (code, _, err) = bulwark(&dir, &["user", "add", "alice", "--password-stdin"], "another-password\n");
    assert_eq!((code, err.trim()), (4, "error: a user named \"alice\" already exists"));

    let (code, _, err) = bulwark(&dir, &["user", "add", "bob", "--password-stdin"], "short\n");
    assert_eq!((code, err.trim()), (3, "error: the password must have at least 10 characters"));

    let (code, out, _) = bulwark(&dir, &["user", "add", "carol", "--role", "approver"], "");
    assert_eq!(code, 0);
    assert!(out.contains("Added carol with the approver role."), "{out}");
    assert!(out.contains("http://127.0.0.1:3000/setup?token=bws_"), "{out}");

    let (code, _, err) = bulwark(&dir, &["user", "add", "dave", "--role", "root"], "");
    assert_eq!(code, 2, "usage errors come from clap: {err}");

    let (code, out, _) = bulwark(&dir, &["audit", "verify"], "");
    assert_eq!((code, out.trim()), (0, "The audit chain is intact: 2 entries verified."));

    let (code, _, err) = bulwark(&dir, &["--database-url", "mysql://nope", "migrate"], "");
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("unsupported catalog URL"), "{err}");
}
