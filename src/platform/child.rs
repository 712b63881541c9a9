//! Child processes (pg_dump, pg_restore, pg_basebackup, postgres): every one starts from an
//! empty environment, so none inherits `BULWARK_SECRET_KEY`, `DATABASE_URL` or anything else
//! the server was given. A child gets only the variables named here and those its caller sets
//! (a `PGPASSWORD`), and runs without a shell, from an argument list.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStringExt;
use std::process::Command;

/// Variables a child may inherit: where programs are, whose home holds libpq's `.pgpass` and
/// TLS roots, the time zone. None of them carries a secret of Bulwark's.
const INHERITED: [&str; 3] = ["PATH", "HOME", "TZ"];

/// A command for `program` with an empty environment but for [`INHERITED`].
pub fn command(program: impl AsRef<OsStr>) -> Command {
    let mut command = Command::new(program);
    command.env_clear();
    for name in INHERITED {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    command
}

/// The user and group PostgreSQL server processes run as: ours, or `postgres` when we are root
/// (PostgreSQL refuses to run as root). Looked up in the user database, with no `id` process.
pub fn server_user_ids() -> Option<Option<(u32, u32)>> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some(None);
    }
    // SAFETY: the name is a valid C string; getpwnam returns null or a pointer to a static
    // record that is read at once, before any other call could overwrite it.
    let record = unsafe { libc::getpwnam(c"postgres".as_ptr()) };
    if record.is_null() {
        return None;
    }
    // SAFETY: checked non-null above.
    let (uid, gid) = unsafe { ((*record).pw_uid, (*record).pw_gid) };
    Some(Some((uid, gid)))
}

/// Creates a new directory with a random name under `parent`, readable by its owner only
/// (mkdtemp(3)): a scratch directory nobody can predict or create first.
pub fn scratch_dir(parent: &std::path::Path, prefix: &str) -> std::io::Result<std::path::PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let mut template = parent.join(format!("{prefix}XXXXXX")).into_os_string().into_vec();
    template.push(0);
    // SAFETY: the template is NUL-terminated and writable; mkdtemp replaces the X's in place.
    let made = unsafe { libc::mkdtemp(template.as_mut_ptr().cast()) };
    if made.is_null() {
        return Err(std::io::Error::last_os_error());
    }
    template.pop();
    Ok(std::path::PathBuf::from(OsStr::from_bytes(&template)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_see_only_the_inherited_variables() {
        // SAFETY: set before any child is spawned in this test; no other test reads it.
        unsafe { std::env::set_var("BULWARK_CHILD_TEST_SECRET", "hunter2") };
        let out = command("env").output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let names: Vec<&str> = text.lines().filter_map(|l| l.split_once('=').map(|(n, _)| n)).collect();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(names.iter().all(|n| INHERITED.contains(n)), "{names:?}");
    }

    /// The class of defect, not one instance: a process started anywhere but [`command`] would
    /// inherit the server's secrets again.
    #[test]
    fn every_child_process_starts_here() {
        let offenders = crate::platform::sources_containing("Command::new(", "child.rs");
        assert!(offenders.is_empty(), "start child processes with child::command: {offenders:?}");
    }

    #[test]
    fn scratch_dirs_are_new_and_private() {
        use std::os::unix::fs::PermissionsExt;
        let parent = std::env::temp_dir();
        let a = scratch_dir(&parent, "bulwark-child-").unwrap();
        let b = scratch_dir(&parent, "bulwark-child-").unwrap();
        assert_ne!(a, b);
        assert_eq!(std::fs::metadata(&a).unwrap().permissions().mode() & 0o777, 0o700);
        std::fs::remove_dir(a).unwrap();
        std::fs::remove_dir(b).unwrap();
    }
}
