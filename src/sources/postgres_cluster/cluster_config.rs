//! The configuration a restored cluster runs with: Bulwark's, never its source's.
//!
//! A base backup carries the source's `postgresql.conf`, `postgresql.auto.conf`, `pg_hba.conf`
//! and `pg_ident.conf`. Started as they are, `recovery_end_command`, `archive_cleanup_command`,
//! `ssl_passphrase_command`, `shared_preload_libraries`, `include` and the like would run
//! whatever a superuser of the protected database put there, on this host, and the daily
//! restore-test sweep would do it unattended. So the source's files are moved aside into
//! [`SOURCE_CONFIG_DIR`] (for a person to read) and the cluster gets files written here:
//! - `postgresql.conf`: loopback only at the chosen port (or no TCP at all), the socket in the
//!   private data directory, no archiving, no command but the fixed `restore_command`, and a
//!   few harmless settings carried over from the source with their values checked and
//!   re-quoted ([`CARRIED`]);
//! - `pg_hba.conf`: the server user over the data directory's socket (the directory is 0700),
//!   password (SCRAM) connections over loopback TCP, nothing else;
//! - an empty `pg_ident.conf` and `postgresql.auto.conf`.
//!
//! Links that lead out of the data directory (tablespaces), a `tablespace_map` (PostgreSQL
//! creates the links it lists) and a `postmaster.pid` are refused.

use std::path::{Path, PathBuf};

use crate::restores::RestoreError;

/// Where the source's configuration files are kept, inside the data directory.
pub const SOURCE_CONFIG_DIR: &str = "bulwark_source_config";

/// The staged WAL, inside the data directory so `restore_command` can name it relatively
/// (PostgreSQL runs it in the data directory).
pub const WAL_DIR: &str = "bulwark_wal";

/// The configuration files of a data directory.
const CONFIG_FILES: [&str; 4] = ["postgresql.conf", "postgresql.auto.conf", "pg_hba.conf", "pg_ident.conf"];

/// Settings carried over from the source: they change how the restored data reads (time zone,
/// date style, text search) or how much memory it uses, and none can run or load anything.
const CARRIED: [&str; 13] = [
    "max_connections",
    "shared_buffers",
    "work_mem",
    "maintenance_work_mem",
    "max_wal_size",
    "min_wal_size",
    "max_locks_per_transaction",
    "max_prepared_transactions",
    "timezone",
    "log_timezone",
    "datestyle",
    "intervalstyle",
    "default_text_search_config",
];

/// How a restored cluster listens.
pub struct Listen {
    /// TCP on 127.0.0.1 at this port; none: no TCP.
    pub port: Option<u16>,
    /// The socket directory, when the data directory's path is short enough for a socket
    /// address (108 bytes with `/.s.PGSQL.<port>`).
    pub socket_dir: Option<PathBuf>,
}

impl Listen {
    pub fn for_directory(directory: &Path, port: Option<u16>) -> Listen {
        let fits = directory.as_os_str().len() < 90;
        Listen { port, socket_dir: fits.then(|| directory.to_path_buf()) }
    }
}

/// Replaces the unpacked data directory's configuration with Bulwark's; `recovery` holds the
/// recovery target lines.
pub fn take_over(directory: &Path, listen: &Listen, recovery: &str) -> Result<(), RestoreError> {
    let failed = |e: std::io::Error, p: &Path| RestoreError::Target(format!("{}: {e}", p.display()));
    refuse_links_out(directory)?;
    // pg_basebackup writes an empty tablespace_map when there are no tablespaces; a listed one
    // would make PostgreSQL create a link to wherever it names.
    let map = directory.join("tablespace_map");
    if std::fs::symlink_metadata(&map).is_ok() && !std::fs::read_to_string(&map).is_ok_and(|t| t.trim().is_empty()) {
        return Err(RestoreError::Invalid("the base backup lists tablespaces (tablespace_map): a restore never creates links out of its directory".into()));
    }
    if std::fs::symlink_metadata(directory.join("postmaster.pid")).is_ok() {
        return Err(RestoreError::Invalid("the base backup holds a postmaster.pid: it is not a base backup PostgreSQL wrote".into()));
    }
    let kept = directory.join(SOURCE_CONFIG_DIR);
    std::fs::create_dir(&kept).map_err(|e| failed(e, &kept))?;
    let mut source_settings = Vec::new();
    for name in CONFIG_FILES {
        let path = directory.join(name);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_file() => {
                if name.starts_with("postgresql") {
                    source_settings.extend(parse_settings(&std::fs::read_to_string(&path).unwrap_or_default()));
                }
                std::fs::rename(&path, kept.join(name)).map_err(|e| failed(e, &path))?;
            }
            Ok(_) => return Err(RestoreError::Invalid(format!("the base backup's {name} is not a regular file"))),
            Err(_) => {}
        }
    }
    write_new(&directory.join("postgresql.conf"), &settings(&source_settings, listen, recovery))?;
    write_new(&directory.join("postgresql.auto.conf"), "# Written by Bulwark; ALTER SYSTEM may add settings here.\n")?;
    write_new(&directory.join("pg_hba.conf"), HBA)?;
    write_new(&directory.join("pg_ident.conf"), "")?;
    Ok(())
}

const HBA: &str = "# Written by Bulwark for a restored cluster.\n\
local all all trust\n\
host all all 127.0.0.1/32 scram-sha-256\n\
host all all ::1/128 scram-sha-256\n";

fn write_new(path: &Path, text: &str) -> Result<(), RestoreError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let failed = |e: std::io::Error| RestoreError::Target(format!("{}: {e}", path.display()));
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(failed)?;
    file.write_all(text.as_bytes()).map_err(failed)
}

/// The whole `postgresql.conf` of a restored cluster.
fn settings(source: &[(String, String)], listen: &Listen, recovery: &str) -> String {
    let mut out = String::from("# Written by Bulwark for a restored cluster; the source's files are in bulwark_source_config/.\n");
    // Later lines win in PostgreSQL's files (postgresql.auto.conf after postgresql.conf): so here.
    for name in CARRIED {
        if let Some((_, value)) = source.iter().rev().find(|(n, _)| n == name) {
            out.push_str(&format!("{name} = {}\n", quote(value)));
        }
    }
    out.push_str(&format!(
        "listen_addresses = {}\nunix_socket_directories = {}\n",
        quote(if listen.port.is_some() { "127.0.0.1" } else { "" }),
        quote(&listen.socket_dir.as_ref().map(|d| d.display().to_string()).unwrap_or_default()),
    ));
    if let Some(port) = listen.port {
        out.push_str(&format!("port = {port}\n"));
    }
    out.push_str(&format!(
        "archive_mode = off\nhot_standby = off\nssl = off\nlogging_collector = off\n\
         restore_command = 'cp \"{WAL_DIR}/%f\" \"%p\"'\n{recovery}"
    ));
    out
}

/// A value as a PostgreSQL configuration string: quoted, quotes doubled, and no character
/// that could end the line.
pub fn quote(value: &str) -> String {
    let clean: String = value.chars().filter(|c| !c.is_control()).collect();
    format!("'{}'", clean.replace('\\', "\\\\").replace('\'', "''"))
}

/// `name = value` pairs of a PostgreSQL configuration file, in order, for the [`CARRIED`]
/// settings with plain values; every other line (includes, commands) is dropped unread.
fn parse_settings(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let end = line.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.')).unwrap_or(line.len());
            let name = line[..end].to_ascii_lowercase();
            if !CARRIED.contains(&name.as_str()) {
                return None;
            }
            let rest = line[end..].trim_start();
            let rest = rest.strip_prefix('=').unwrap_or(rest).trim_start();
            let value = match rest.strip_prefix('\'') {
                Some(quoted) => unquote(quoted)?,
                None => rest.split(|c: char| c.is_whitespace() || c == '#').next().unwrap_or_default().to_string(),
            };
            let plain = !value.is_empty() && value.len() <= 64 && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.:/+- ,".contains(&b));
            plain.then_some((name, value))
        })
        .collect()
}

/// The text of a quoted value up to its closing quote (`''` and `\'` are quotes inside it).
fn unquote(text: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' if chars.peek() == Some(&'\'') => {
                chars.next();
                out.push('\'');
            }
            '\'' => return Some(out),
            '\\' => out.push(chars.next()?),
            c => out.push(c),
        }
    }
    None
}

/// Refuses any symbolic link whose target lies outside `root` (a tablespace elsewhere, or a
/// planted link a started cluster would write through).
fn refuse_links_out(root: &Path) -> Result<(), RestoreError> {
    let failed = |e: std::io::Error, p: &Path| RestoreError::Target(format!("{}: {e}", p.display()));
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|e| failed(e, &dir))? {
            let path = entry.map_err(|e| failed(e, &dir))?.path();
            let meta = std::fs::symlink_metadata(&path).map_err(|e| failed(e, &path))?;
            if meta.is_dir() {
                stack.push(path);
            } else if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&path).map_err(|e| failed(e, &path))?;
                if !stays_inside(root, &path, &target) {
                    let relative = path.strip_prefix(root).unwrap_or(&path).display().to_string();
                    return Err(RestoreError::Invalid(format!(
                        "the base backup's {relative} links to {} outside the restore: tablespaces are not restored",
                        target.display()
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Whether link `link` (below `root`) pointing at `target` resolves inside `root`, judged on
/// the names alone (the target need not exist).
fn stays_inside(root: &Path, link: &Path, target: &Path) -> bool {
    use std::path::Component;
    if target.is_absolute() {
        return false;
    }
    let mut at: Vec<_> = link.parent().unwrap_or(root).strip_prefix(root).map(|p| p.components().collect()).unwrap_or_default();
    for component in target.components() {
        match component {
            Component::Normal(_) => at.push(component),
            Component::CurDir => {}
            Component::ParentDir => {
                if at.pop().is_none() {
                    return false;
                }
            }
            _ => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_carried_plain_settings_survive() {
        let text = "max_connections = 50\t# comment\n\
                    shared_preload_libraries = 'evil'\n\
                    include '/etc/evil.conf'\n\
                    timezone = 'Europe/Berlin'\n\
                    recovery_end_command = 'touch /tmp/x'\n\
                    datestyle='iso, mdy'\n\
                    work_mem = '4MB''; archive_command=x'\n\
                    TimeZone = 'UTC'\n";
        let parsed = parse_settings(text);
        assert_eq!(
            parsed,
            vec![
                ("max_connections".into(), "50".into()),
                ("timezone".into(), "Europe/Berlin".into()),
                ("datestyle".into(), "iso, mdy".into()),
                ("timezone".into(), "UTC".into()),
            ]
        );
        let conf = settings(&parsed, &Listen { port: Some(5555), socket_dir: None }, "recovery_target_name = 'x'\n");
        assert!(conf.contains("timezone = 'UTC'\n") && !conf.contains("Europe"), "{conf}");
        assert!(!conf.contains("evil") && !conf.contains("touch"), "{conf}");
        assert!(conf.contains("listen_addresses = '127.0.0.1'\nunix_socket_directories = ''\nport = 5555\n"), "{conf}");
    }

    #[test]
    fn quoting_cannot_end_a_value_or_a_line() {
        assert_eq!(quote("a'b\\c\nd"), "'a''b\\\\cd'");
    }

    #[test]
    fn links_are_judged_by_where_they_lead() {
        let root = Path::new("/restore/data");
        assert!(stays_inside(root, &root.join("pg_wal"), Path::new("base/1")));
        assert!(stays_inside(root, &root.join("a/b"), Path::new("../c")));
        assert!(!stays_inside(root, &root.join("pg_tblspc/16384"), Path::new("/srv/tablespace")));
        assert!(!stays_inside(root, &root.join("a"), Path::new("../../etc")));
    }
}
