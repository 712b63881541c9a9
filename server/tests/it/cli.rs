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
    assert_eq!((code, err.trim()), (3, "error: the password must have at least 12 characters"));

    let (code, out, _) = bulwark(&dir, &["user", "add", "carol", "--role", "approver"], "");
    assert_eq!(code, 0);
    assert!(out.contains("Added carol with the approver role."), "{out}");
    assert!(out.contains("http://127.0.0.1:3000/setup?token=bws_"), "{out}");

    let (code, _, err) = bulwark(&dir, &["user", "add", "dave", "--role", "root"], "");
    assert_eq!(code, 2, "usage errors come from clap: {err}");

    let (code, out, _) = bulwark(&dir, &["audit", "verify"], "");
    assert_eq!((code, out.trim()), (0, "The audit chain is intact: 2 entries verified, 2 of them under the audit key."));

    // A token for automation, without a browser: its secret alone on standard output.
    let (code, out, err) = bulwark(&dir, &["user", "token", "alice", "--name", "ci", "--role", "operator"], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.trim().starts_with(bulwark_core::platform::accounts::tokens::TOKEN_PREFIX) && out.trim().lines().count() == 1, "{out}");
    let (code, _, err) = bulwark(&dir, &["user", "token", "carol", "--name", "up", "--role", "admin"], "");
    assert!(code != 0 && err.contains("more power than its creator"), "a token above its user's role: {err}");
    let (code, _, err) = bulwark(&dir, &["user", "token", "nobody", "--name", "x"], "");
    assert!(code != 0 && err.contains("\"nobody\" not found"), "{err}");

    // The data directory is the server user's alone, and so is the catalog in it.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700, "the data directory");
    assert_eq!(mode(&dir.join("bulwark.db")), 0o600, "the SQLite catalog");

    let (code, _, err) = bulwark(&dir, &["--database-url", "mysql://nope", "migrate"], "");
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("unsupported catalog URL"), "{err}");
}

/// Runs `bulwark repo …` against `repo` with BULWARK_PASSWORD=`password`.
fn repo_cmd(repo: &std::path::Path, password: &str, args: &[&str], stdin: &[u8]) -> (i32, Vec<u8>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bulwark"))
        .arg("repo")
        .args(args)
        .env("BULWARK_REPOSITORY", repo)
        .env("BULWARK_PASSWORD", password)
        .env_remove("BULWARK_PASSWORD_FILE")
        .env_remove("BULWARK_KEY_FILE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run bulwark");
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    (out.status.code().unwrap_or(-1), out.stdout, String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn repo_commands_round_trip_and_exit_codes() {
    let repo = bulwark_testkit::temp_dir("cli-repo").join("repo");
    let pw = "cli passphrase 123";
    let (code, _, err) = repo_cmd(&repo, pw, &["snapshots"], b"");
    assert_eq!(code, 10, "no repository yet: {err}");
    let (code, out, _) = repo_cmd(&repo, pw, &["init", "--json"], b"");
    assert_eq!(code, 0);
    let kit: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert!(kit["repositoryId"].as_str().unwrap().len() == 64);
    let (code, _, _) = repo_cmd(&repo, pw, &["init"], b"");
    assert_eq!(code, 4, "init twice is a conflict");
    // Every object and directory of a local repository is its owner's alone.
    use std::os::unix::fs::PermissionsExt;
    let mut stack = vec![repo.clone()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::metadata(&path).unwrap();
        let expected = if meta.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(meta.permissions().mode() & 0o777, expected, "{}", path.display());
        if meta.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        }
    }
    let (code, _, err) = repo_cmd(&repo, pw, &["verify", "latest"], b"");
    assert_eq!(code, 3, "no snapshot yet: {err}");
    assert!(err.contains("latest (the repository has no snapshot)"), "{err}");
    let (code, _, err) = repo_cmd(&repo, "wrong", &["snapshots"], b"");
    assert_eq!(code, 11, "{err}");

    // A tree and a stream.
    let src = bulwark_testkit::temp_dir("cli-src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("sub/a.txt"), "alpha\n").unwrap();
    std::fs::write(src.join("b.bin"), vec![7u8; 300_000]).unwrap();
    let (code, out, err) = repo_cmd(&repo, pw, &["backup", src.to_str().unwrap(), "--json"], b"");
    assert_eq!(code, 0, "{err}");
    let tree_id = serde_json::from_slice::<serde_json::Value>(&out).unwrap()["id"].as_str().unwrap().to_string();
    let stream: Vec<u8> = (0..2_000_000u32).map(|i| (i * 31 % 251) as u8).collect();
    let (code, out, err) = repo_cmd(&repo, pw, &["backup", "--stdin", "--name", "dump.sql", "--json", "--compression", "gzip"], &stream);
    assert_eq!(code, 0, "{err}");
    let stream_id = serde_json::from_slice::<serde_json::Value>(&out).unwrap()["id"].as_str().unwrap().to_string();

    let (code, out, _) = repo_cmd(&repo, pw, &["snapshots", "--json"], b"");
    assert_eq!(code, 0);
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&out).unwrap().as_array().unwrap().len(), 2);

    let (code, out, err) = repo_cmd(&repo, pw, &["restore", &stream_id[..8], "--stdout"], b"");
    assert_eq!(code, 0, "{err}");
    assert!(out == stream, "the restored stream equals the original");
    let (code, out, err) = repo_cmd(&repo, pw, &["restore", "latest", "--stdout"], b"");
    assert_eq!(code, 0, "{err}");
    assert!(out == stream, "latest is the newest snapshot, as in restic");
    let dst = bulwark_testkit::temp_dir("cli-dst");
    let (code, _, err) = repo_cmd(&repo, pw, &["restore", &tree_id, "--target", dst.to_str().unwrap()], b"");
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read(dst.join("sub/a.txt")).unwrap(), b"alpha\n");
    assert_eq!(std::fs::read(dst.join("b.bin")).unwrap(), vec![7u8; 300_000]);
    let (code, _, err) = repo_cmd(&repo, pw, &["restore", &tree_id, "--stdout"], b"");
    assert_eq!(code, 3, "a tree needs --target: {err}");
    // A target that cannot be written has its own exit code (5 meant "storage unreachable").
    let in_the_way = dst.join("b.bin").join("below-a-file");
    let (code, _, err) = repo_cmd(&repo, pw, &["restore", &tree_id, "--target", in_the_way.to_str().unwrap()], b"");
    assert_eq!(code, 14, "{err}");
    assert!(err.contains("b.bin"), "names the path: {err}");
    let (code, _, _) = repo_cmd(&repo, pw, &["restore", "ffffffffffff"], b"");
    assert_eq!(code, 3, "unknown snapshot");

    let (code, out, _) = repo_cmd(&repo, pw, &["check", "--read-data"], b"");
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&out));
    let (code, out, err) = repo_cmd(&repo, pw, &["verify", &tree_id, "--json"], b"");
    assert_eq!(code, 0, "{err}");
    let verified: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!((verified["files"].as_u64(), verified["bytes"].as_u64()), (Some(2), Some(300_006)));
    // The index lost: rebuilt from the packs, and the tree restores again.
    for file in std::fs::read_dir(repo.join("index")).unwrap() {
        std::fs::remove_file(file.unwrap().path()).unwrap();
    }
    let (code, out, err) = repo_cmd(&repo, pw, &["repair", "index", "--json"], b"");
    assert_eq!(code, 0, "{err}");
    let repaired: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert!(repaired["packs"].as_u64().unwrap() >= 2 && repaired["unreadablePacks"] == serde_json::json!([]), "{repaired}");
    let again = bulwark_testkit::temp_dir("cli-dst-again");
    let (code, _, err) = repo_cmd(&repo, pw, &["restore", &tree_id, "--target", again.to_str().unwrap()], b"");
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read(again.join("b.bin")).unwrap(), vec![7u8; 300_000]);

    // A second passphrase works; damage makes check fail with 13.
    let pwfile = bulwark_testkit::temp_dir("cli-pw").join("pw");
    std::fs::write(&pwfile, "second passphrase\n").unwrap();
    let (code, _, err) = repo_cmd(&repo, pw, &["key", "add", "--new-password-file", pwfile.to_str().unwrap()], b"");
    assert_eq!(code, 0, "{err}");
    let (code, _, _) = repo_cmd(&repo, "second passphrase", &["snapshots"], b"");
    assert_eq!(code, 0);
    let pack_dir = std::fs::read_dir(repo.join("packs")).unwrap().next().unwrap().unwrap().path();
    let pack = std::fs::read_dir(pack_dir).unwrap().next().unwrap().unwrap().path();
    let mut bytes = std::fs::read(&pack).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(&pack, bytes).unwrap();
    let (code, out, _) = repo_cmd(&repo, pw, &["check", "--read-data"], b"");
    assert_eq!(code, 13);
    assert!(String::from_utf8_lossy(&out).contains("affected snapshot:"));
    let (verify_tree, _, _) = repo_cmd(&repo, pw, &["verify", &tree_id], b"");
    let (verify_stream, _, _) = repo_cmd(&repo, pw, &["verify", &stream_id], b"");
    assert!([verify_tree, verify_stream].contains(&13) && [verify_tree, verify_stream].iter().all(|c| [0, 13].contains(c)), "the damaged snapshot fails verify: {verify_tree} {verify_stream}");
}

/// `restore --skip-unreadable` restores every file it can read, lists the others and exits 13;
/// `check --read-data-subset` reads a share of the packs and refuses a subset it cannot parse.
#[test]
fn a_damaged_file_is_skipped_and_named() {
    let repo = bulwark_testkit::temp_dir("cli-skip").join("repo");
    let pw = "cli passphrase 123";
    assert_eq!(repo_cmd(&repo, pw, &["init"], b"").0, 0);
    let src = bulwark_testkit::temp_dir("cli-skip-src");
    std::fs::write(src.join("good.txt"), "still here\n").unwrap();
    std::fs::write(src.join("bad.bin"), bulwark_testkit::noise(0x9e37_79b9_7f4a_7c15, 400_000)).unwrap();
    let (code, out, err) = repo_cmd(&repo, pw, &["backup", src.to_str().unwrap(), "--json"], b"");
    assert_eq!(code, 0, "{err}");
    let tree_id = serde_json::from_slice::<serde_json::Value>(&out).unwrap()["id"].as_str().unwrap().to_string();
    let (code, out, _) = repo_cmd(&repo, pw, &["check", "--read-data-subset", "1/1"], b"");
    let out = String::from_utf8_lossy(&out);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("2 of 2 packs read"), "a data pack and a tree pack: {out}");
    let (code, _, err) = repo_cmd(&repo, pw, &["check", "--read-data-subset", "3/2"], b"");
    assert_eq!(code, 3, "{err}");
    // The data pack is almost all bad.bin: its middle is in that file's data.
    let packs = std::fs::read_dir(repo.join("packs")).unwrap().flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap().map(|p| p.unwrap().path()));
    let pack = packs.max_by_key(|p| std::fs::metadata(p).unwrap().len()).unwrap();
    let mut bytes = std::fs::read(&pack).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&pack, bytes).unwrap();

    let dst = bulwark_testkit::temp_dir("cli-skip-dst");
    let (code, _, err) = repo_cmd(&repo, pw, &["restore", &tree_id, "--target", dst.to_str().unwrap()], b"");
    assert_eq!(code, 13, "{err}");
    let (code, out, err) = repo_cmd(&repo, pw, &["restore", &tree_id, "--target", dst.to_str().unwrap(), "--skip-unreadable"], b"");
    let out = String::from_utf8_lossy(&out);
    assert_eq!(code, 13, "{out} {err}");
    assert!(out.contains("not restored: bad.bin: "), "{out}");
    assert!(err.contains("1 files or directories"), "{err}");
    assert_eq!(std::fs::read(dst.join("good.txt")).unwrap(), b"still here\n");
    assert!(!dst.join("bad.bin").exists());
}

#[test]
fn repo_commands_work_on_s3() {
    use bulwark_core::engine::storage::s3::{S3Settings, S3Storage};
    let server = bulwark_testkit::s3::SeaweedFs::shared();
    let bucket = format!("cli-{}", std::process::id());
    let storage = S3Storage::new(S3Settings {
        endpoint: Some(server.endpoint.clone()),
        region: "us-east-1".into(),
        bucket: bucket.clone(),
        prefix: String::new(),
        access_key: server.access_key.clone(),
        secret_key: server.secret_key.clone(),
        path_style: true,
        object_lock: None,
        storage_class: None,
    });
    tokio::runtime::Runtime::new().unwrap().block_on(storage.create_bucket(false)).unwrap();
    let run = |args: &[&str], stdin: &[u8], secret: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_bulwark"))
            .arg("repo")
            .args(args)
            .env("BULWARK_REPOSITORY", format!("s3://{bucket}/team/db"))
            .env("BULWARK_PASSWORD", "s3 cli passphrase")
            .env("BULWARK_S3_ENDPOINT", &server.endpoint)
            .env("AWS_ACCESS_KEY_ID", &server.access_key)
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        let out = child.wait_with_output().unwrap();
        (out.status.code().unwrap_or(-1), out.stdout, String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let secret = server.secret_key.as_str();
    let (code, _, err) = run(&["init"], b"", secret);
    assert_eq!(code, 0, "{err}");
    let data = b"pg_dump output, pretend\n".repeat(50_000);
    let (code, out, err) = run(&["backup", "--stdin", "--json"], &data, secret);
    assert_eq!(code, 0, "{err}");
    let id = serde_json::from_slice::<serde_json::Value>(&out).unwrap()["id"].as_str().unwrap().to_string();
    let (code, out, err) = run(&["restore", &id, "--stdout"], b"", secret);
    assert_eq!(code, 0, "{err}");
    assert!(out == data);
    let (code, _, err) = run(&["snapshots"], b"", "wrong-secret");
    assert_eq!(code, 5, "bad S3 credentials: {err}");
    assert!(err.contains("the storage service refused or failed"), "{err}");
}

/// A `repo backup --stdin` that keeps running (and holding its lock) while its stdin is open.
fn backup_from_open_stdin(repo: &std::path::Path, password: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_bulwark"))
        .args(["repo", "backup", "--stdin"])
        .env("BULWARK_REPOSITORY", repo)
        .env("BULWARK_PASSWORD", password)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run bulwark")
}

#[test]
fn a_killed_backup_leaves_no_snapshot_and_the_next_one_works() {
    let repo = bulwark_testkit::temp_dir("kill-repo").join("repo");
    let pw = "kill passphrase";
    assert_eq!(repo_cmd(&repo, pw, &["init"], b"").0, 0);
    let mut child = backup_from_open_stdin(&repo, pw);
    let mut stdin = child.stdin.take().unwrap();
    // Feed incompressible data until at least one pack has been uploaded, then SIGKILL.
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let packs = repo.join("packs");
    let count_packs = || std::fs::read_dir(&packs).map(|d| d.flatten().map(|s| std::fs::read_dir(s.path()).map_or(0, |p| p.count())).sum::<usize>()).unwrap_or(0);
    let started = std::time::Instant::now();
    while count_packs() == 0 {
        assert!(started.elapsed().as_secs() < 60, "no pack was uploaded within 60 s");
        seed += 1;
        let block = bulwark_testkit::noise(seed, 1 << 20);
        if stdin.write_all(&block).is_err() {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    drop(stdin);

    let (code, out, _) = repo_cmd(&repo, pw, &["snapshots", "--json"], b"");
    assert_eq!(code, 0);
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&out).unwrap(), serde_json::json!([]), "no snapshot looks whole");
    let (code, out, _) = repo_cmd(&repo, pw, &["check", "--read-data"], b"");
    assert_eq!(code, 0, "left-over packs are garbage, not damage: {}", String::from_utf8_lossy(&out));
    let data = b"after the crash\n".repeat(10_000);
    let (code, out, err) = repo_cmd(&repo, pw, &["backup", "--stdin", "--json"], &data);
    assert_eq!(code, 0, "{err}");
    let id = serde_json::from_slice::<serde_json::Value>(&out).unwrap()["id"].as_str().unwrap().to_string();
    let (code, out, _) = repo_cmd(&repo, pw, &["restore", &id, "--stdout"], b"");
    assert_eq!(code, 0);
    assert!(out == data);
}

#[test]
fn forget_prune_and_a_held_lock() {
    let repo = bulwark_testkit::temp_dir("prune-repo").join("repo");
    let pw = "prune passphrase";
    assert_eq!(repo_cmd(&repo, pw, &["init"], b"").0, 0);
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i.wrapping_mul(2654435761) >> 7) as u8).collect();
    let (_, out, _) = repo_cmd(&repo, pw, &["backup", "--stdin", "--json"], &data);
    let id = serde_json::from_slice::<serde_json::Value>(&out).unwrap()["id"].as_str().unwrap().to_string();
    let (code, out, _) = repo_cmd(&repo, pw, &["prune", "--dry-run", "--json"], b"");
    assert_eq!(code, 0);
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&out).unwrap()["blobsDropped"], 0);
    // A lock file of another live process: every writer is refused with exit code 12.
    let mut holder = backup_from_open_stdin(&repo, pw);
    let started = std::time::Instant::now();
    while std::fs::read_dir(repo.join("locks")).map_or(0, |d| d.count()) == 0 {
        assert!(started.elapsed().as_secs() < 30, "the backup never took its lock");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let (code, _, err) = repo_cmd(&repo, pw, &["prune"], b"");
    assert_eq!(code, 12, "{err}");
    assert!(err.contains("the repository is locked by a shared lock"), "{err}");
    holder.kill().unwrap();
    holder.wait().unwrap();

    let (code, out, _) = repo_cmd(&repo, pw, &["forget", &id[..8]], b"");
    assert_eq!(code, 12, "the killed backup's lock still blocks until it expires: {}", String::from_utf8_lossy(&out));
    for lock in std::fs::read_dir(repo.join("locks")).unwrap() {
        std::fs::remove_file(lock.unwrap().path()).unwrap(); // an operator clearing a dead lock
    }
    let (code, out, _) = repo_cmd(&repo, pw, &["forget", &id[..8]], b"");
    assert_eq!(code, 0);
    assert_eq!(String::from_utf8_lossy(&out).trim(), format!("forgot snapshot {id}"));
    let (code, out, _) = repo_cmd(&repo, pw, &["prune", "--json"], b"");
    assert_eq!(code, 0);
    assert!(serde_json::from_slice::<serde_json::Value>(&out).unwrap()["bytesFreed"].as_u64().unwrap() > 0);
    let packs_left: usize = std::fs::read_dir(repo.join("packs")).unwrap().flatten().map(|d| std::fs::read_dir(d.path()).unwrap().count()).sum();
    assert_eq!(packs_left, 0, "nothing is referenced any more");
}

#[test]
fn wal_push_and_fetch_are_idempotent_and_refuse_a_different_segment() {
    let dir = bulwark_testkit::temp_dir("cli-wal");
    let repo = dir.join("repo");
    assert_eq!(repo_cmd(&repo, "wal pass", &["init"], b"").0, 0);
    let segment: Vec<u8> = (0..16u32 << 20).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    let name = "000000010000000000000003";
    std::fs::create_dir_all(dir.join("pg_wal")).unwrap();
    let path = dir.join("pg_wal").join(name);
    std::fs::write(&path, &segment).unwrap();
    let push = |p: &std::path::Path| repo_cmd(&repo, "wal pass", &["wal-push", p.to_str().unwrap()], b"");
    assert_eq!(push(&path).0, 0);
    assert_eq!(push(&path).0, 0, "PostgreSQL may push a segment again");
    // Different bytes under the same name: refused (exit 4), the archived segment kept.
    let other = dir.join("other");
    std::fs::create_dir_all(&other).unwrap();
    let mut changed = segment.clone();
    changed[1000] ^= 1;
    std::fs::write(other.join(name), &changed).unwrap();
    let (code, _, err) = push(&other.join(name));
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("a different WAL file 000000010000000000000003 is already archived"), "{err}");

    let restored = dir.join("restored");
    let (code, _, err) = repo_cmd(&repo, "wal pass", &["wal-fetch", name, restored.to_str().unwrap()], b"");
    assert_eq!(code, 0, "{err}");
    assert!(std::fs::read(&restored).unwrap() == segment, "the fetched segment equals the pushed one");
    // The end of the archive: a non-zero exit and nothing written, as restore_command expects.
    let missing = dir.join("missing");
    let (code, _, err) = repo_cmd(&repo, "wal-pass", &["wal-fetch", "000000010000000000000004", missing.to_str().unwrap()], b"");
    assert_ne!(code, 0);
    assert!(!missing.exists(), "{err}");
    let (code, _, err) = repo_cmd(&repo, "wal pass", &["wal-fetch", "000000010000000000000004", missing.to_str().unwrap()], b"");
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("not in the archive") && !missing.exists(), "{err}");
    let (code, _, err) = repo_cmd(&repo, "wal pass", &["wal-fetch", "../../etc/passwd", missing.to_str().unwrap()], b"");
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("is not a WAL file name"), "{err}");
}

/// The Bulwark server is lost: a new catalog gets the location back, its repository attached
/// with the recovery kit's key file, `bulwark catalog rebuild`, and the backup restores.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_catalog_is_rebuilt_from_the_repository() {
    use bulwark_core::platform::auth::Principal;
    use bulwark_core::platform::catalog::Catalog;
    use bulwark_core::platform::secrets::SecretBox;
    use bulwark_core::{configurations, executions, locations, rebuild};
    let admin = Principal::system("test");
    let repo_dir = bulwark_testkit::temp_dir("rebuild-repo").join("repo");
    let location = |name: &str| locations::NewLocation {
        location_name: name.into(),
        storage_type: "primary".into(),
        provider: "local".into(),
        path_prefix: Some(repo_dir.display().to_string()),
        ..Default::default()
    };
    let source = bulwark_testkit::temp_dir("rebuild-src");
    std::fs::write(source.join("ledger.csv"), "1,paid\n2,open\n").unwrap();

    // The old server: a backup, and the recovery kit's key file.
    let old = Catalog::open(&bulwark_testkit::sqlite_url()).await.unwrap();
    let old_secrets = SecretBox::new(bulwark_core::engine::repo::crypto::Key::random());
    let loc = locations::create(&old, &old_secrets, &admin, location("disk")).await.unwrap();
    let kit = locations::init_repository(&old, &old_secrets, &admin, &loc.id).await.unwrap();
    let new_config: configurations::NewConfiguration = serde_json::from_value(serde_json::json!({
        "name": "ledger", "sourceType": "filesystem", "sourceIdentifier": source.to_str().unwrap(), "storageLocationIds": [loc.id],
    }))
    .unwrap();
    let c = configurations::create(&old, &old_secrets, &admin, new_config).await.unwrap();
    let e = executions::start(&old, &admin, &c.id, "manual").await.unwrap();
    bulwark_core::orchestration::backup::run(&old, &old_secrets, &e.id, Default::default()).await.unwrap();
    let snapshot = executions::get(&old, &admin, &e.id).await.unwrap().snapshot_id.unwrap();
    drop(old);

    // The new server: an empty catalog, the location added again and its repository attached.
    let data = bulwark_testkit::temp_dir("rebuild-data");
    let url = format!("sqlite://{}?mode=rwc", data.join("bulwark.db").display());
    let secret_key = "5a".repeat(32);
    let catalog = Catalog::open(&url).await.unwrap();
    let secrets = SecretBox::load(Some(&secret_key), &data).unwrap();
    let back = locations::create(&catalog, &secrets, &admin, location("disk again")).await.unwrap();
    let wrong = rebuild::attach(&catalog, &secrets, &admin, &back.id, rebuild::Attach { key_file: "00".repeat(32) }).await.unwrap_err();
    assert!(wrong.to_string().contains("wrong passphrase or key file"), "{wrong}");
    rebuild::attach(&catalog, &secrets, &admin, &back.id, rebuild::Attach { key_file: kit.key_file.clone() }).await.unwrap();

    let run = || {
        let out = Command::new(env!("CARGO_BIN_EXE_bulwark"))
            .args(["catalog", "rebuild"])
            .env("DATABASE_URL", &url)
            .env("BULWARK_SECRET_KEY", &secret_key)
            .env("BULWARK_DATA_DIR", &data)
            .output()
            .unwrap();
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, out, err) = run();
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1 executions and 1 configurations added"), "{out}");
    let (_, again, _) = run();
    assert!(again.contains("0 executions and 0 configurations added"), "running it twice adds nothing: {again}");

    let rebuilt = configurations::get(&catalog, &admin, &c.id).await.unwrap();
    assert_eq!((rebuilt.name.as_str(), rebuilt.source_type.as_str(), rebuilt.frequency.as_str()), ("ledger", "filesystem", "manual"));
    let list = executions::list(&catalog, &admin, &c.id, 10).await.unwrap();
    assert_eq!((list.len(), list[0].snapshot_id.as_deref(), list[0].status.as_str()), (1, Some(snapshot.as_str()), "completed"));
    let target = bulwark_testkit::temp_dir("rebuild-restored");
    let request = bulwark_core::sources::filesystem::DirectoryRestore { target_path: target.display().to_string(), include: vec![], skip_unreadable: false };
    bulwark_core::sources::filesystem::restore_directory(&catalog, &secrets, &crate::restore_targets(), &admin, &list[0].id, request).await.unwrap();
    assert_eq!(std::fs::read_to_string(target.join("ledger.csv")).unwrap(), "1,paid\n2,open\n");
}
