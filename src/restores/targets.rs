//! Where restores may write, as the administrator who started the server allowed: directories
//! under configured roots, databases on configured hosts. Until the restoration workflow's
//! named targets exist this is the line between an operator and the host: without it a restore
//! could write over any file the server can write, or send a backup to any server.
//!
//! The policy comes from the server's settings, not the catalog, so nobody who can write the
//! catalog or use the console can widen it.

use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

use sqlx::ConnectOptions;
use sqlx::postgres::PgConnectOptions;

use super::RestoreError;

/// The roots and hosts restores may reach.
#[derive(Debug, Clone)]
pub struct Targets {
    roots: Vec<PathBuf>,
    hosts: Vec<HostRule>,
}

/// `host` (any port) or `host:port`, as the administrator wrote it.
#[derive(Debug, Clone, PartialEq)]
struct HostRule {
    host: String,
    port: Option<u16>,
}

/// Query parameters a target URL may carry. Everything else (`host`, `hostaddr`, `passfile`,
/// `password`, `sslkey`, `options`, `service`, …) could point libpq at another server, a file of
/// the host's or a server-side setting.
const URL_PARAMETERS: [&str; 3] = ["sslmode", "connect_timeout", "application_name"];

impl Targets {
    /// Roots must be absolute; each is resolved once (symbolic links followed) when it exists.
    /// Hosts are `name`, `name:port`, `[v6]:port` or a bare IPv6 address.
    pub fn new(roots: &[PathBuf], hosts: &[String]) -> Result<Targets, String> {
        let roots = roots
            .iter()
            .map(|root| {
                if !root.is_absolute() {
                    return Err(format!("restore root {} is not an absolute path", root.display()));
                }
                Ok(root.canonicalize().unwrap_or_else(|_| root.clone()))
            })
            .collect::<Result<_, _>>()?;
        let hosts = hosts.iter().map(|h| HostRule::parse(h.trim())).collect::<Result<_, _>>()?;
        Ok(Targets { roots, hosts })
    }

    /// The targets of a restore test: below its scratch directory, and the source's own server.
    pub(crate) fn scratch(directory: Option<&Path>, server_url: Option<&str>) -> Targets {
        let host = server_url.and_then(|u| url::Url::parse(u).ok()).and_then(|u| {
            let host = u.host_str()?.to_string();
            Some(HostRule { host: host.trim_start_matches('[').trim_end_matches(']').to_string(), port: Some(u.port().unwrap_or(5432)) })
        });
        Targets { roots: directory.into_iter().map(Path::to_path_buf).collect(), hosts: host.into_iter().collect() }
    }

    /// The roots, for messages and the console.
    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
    }

    /// Hosts as configured, for messages.
    pub fn hosts(&self) -> Vec<String> {
        self.hosts.iter().map(|h| h.port.map_or_else(|| h.host.clone(), |p| format!("{}:{p}", h.host))).collect()
    }

    /// Checks `path` (from field `field` of a request) names a directory under one of the roots,
    /// spelled with letters, digits and `._@+-` only, and that no symbolic link on the way
    /// leads out of the root. Returns it as given.
    pub fn directory(&self, field: &str, path: &str) -> Result<PathBuf, RestoreError> {
        let invalid = |why: String| RestoreError::Invalid(format!("{field}: {why}"));
        let candidate = Path::new(path);
        if !candidate.is_absolute() {
            return Err(invalid(format!("{path:?} is not an absolute path")));
        }
        if path.len() > 1024 {
            return Err(invalid("longer than 1024 characters".into()));
        }
        for component in candidate.components() {
            match component {
                Component::RootDir => {}
                Component::Normal(part) => {
                    let part = part.to_str().unwrap_or_default();
                    let allowed = !part.is_empty() && !part.starts_with('-') && part.bytes().all(|b| b.is_ascii_alphanumeric() || b"._@+-".contains(&b));
                    if !allowed {
                        return Err(invalid(format!("{path:?}: use letters, digits and . _ @ + - in directory names (not {part:?})")));
                    }
                }
                _ => return Err(invalid(format!("{path:?} has . or .. in it"))),
            }
        }
        let root = self.roots.iter().find(|root| candidate.starts_with(root) && candidate != root.as_path()).ok_or_else(|| {
            invalid(format!("{path} is not under a restore root; restores may write below {}", self.describe_roots()))
        })?;
        // The deepest part that exists must still be under the root once links are followed.
        let existing = candidate.ancestors().find(|a| a.exists()).unwrap_or(root);
        let resolved = existing.canonicalize().map_err(|e| invalid(format!("{}: {e}", existing.display())))?;
        if !resolved.starts_with(root) {
            return Err(invalid(format!("{} leads out of the restore root {} through a symbolic link", existing.display(), root.display())));
        }
        Ok(candidate.to_path_buf())
    }

    fn describe_roots(&self) -> String {
        match self.roots.as_slice() {
            [] => "no directory (the server was started without restore roots)".into(),
            roots => roots.iter().map(|r| r.display().to_string()).collect::<Vec<_>>().join(", "),
        }
    }

    /// Checks a target database URL: `postgresql://user@host[:port]/database`, on an allowed
    /// host, with no password (it goes in its own field) and no parameter outside
    /// [`URL_PARAMETERS`]. Returns the connection options.
    pub fn database(&self, field: &str, url: &str) -> Result<PgConnectOptions, RestoreError> {
        let options = self.server(field, url)?;
        if options.get_database().is_none_or(str::is_empty) {
            return Err(RestoreError::Invalid(format!("{field}: name the database, e.g. postgresql://user@host:5432/restored")));
        }
        Ok(options)
    }

    /// Checks a database server's URL as [`Targets::database`] does, where the database may
    /// be left out (a named restore target on a server; each restore names its database).
    pub fn server(&self, field: &str, url: &str) -> Result<PgConnectOptions, RestoreError> {
        let invalid = |why: String| RestoreError::Invalid(format!("{field}: {why}"));
        let example = "a URL such as postgresql://user@host:5432/database";
        if !(url.starts_with("postgresql://") || url.starts_with("postgres://")) || url.len() > 2048 {
            return Err(invalid(example.into()));
        }
        let parsed = url::Url::parse(url).map_err(|e| invalid(format!("{e}; {example}")))?;
        if parsed.password().is_some() {
            return Err(invalid("put the password in its own field, never in the URL".into()));
        }
        if let Some((name, _)) = parsed.query_pairs().find(|(name, _)| !URL_PARAMETERS.contains(&name.as_ref())) {
            return Err(invalid(format!("the parameter {name:?} is not accepted; allowed: {}", URL_PARAMETERS.join(", "))));
        }
        let host = parsed.host_str().unwrap_or_default();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || host.contains(['%', '/', ',']) {
            return Err(invalid("name a host (a Unix socket or several hosts are not accepted)".into()));
        }
        let port = parsed.port().unwrap_or(5432);
        if !self.hosts.iter().any(|rule| rule.host.eq_ignore_ascii_case(host) && rule.port.is_none_or(|p| p == port)) {
            let allowed = match self.hosts() {
                hosts if hosts.is_empty() => "none (the server was started without restore hosts)".to_string(),
                hosts => hosts.join(", "),
            };
            return Err(invalid(format!("{host}:{port} is not an allowed restore host; allowed: {allowed}")));
        }
        let options = PgConnectOptions::from_str(url).map_err(|e| invalid(e.to_string()))?;
        Ok(options.disable_statement_logging())
    }
}

impl HostRule {
    fn parse(text: &str) -> Result<HostRule, String> {
        let bad = || format!("restore host {text:?}: give host or host:port");
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (host, after) = rest.split_once(']').ok_or_else(bad)?;
            (host, after.strip_prefix(':'))
        } else if text.matches(':').count() > 1 {
            (text, None) // a bare IPv6 address
        } else {
            match text.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (text, None),
            }
        };
        if host.is_empty() || host.contains(['/', '%', ',', ' ']) {
            return Err(bad());
        }
        let port = port.map(|p| p.parse::<u16>().map_err(|_| bad())).transpose()?;
        Ok(HostRule { host: host.to_string(), port })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets() -> Targets {
        let root = std::env::temp_dir().join(format!("bulwark-targets-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        Targets::new(&[root], &["localhost".into(), "10.0.0.5:6432".into(), "[::1]:5433".into()]).unwrap()
    }

    #[test]
    fn directories_stay_under_a_root_and_carry_no_syntax() {
        let t = targets();
        let root = t.roots()[0].clone();
        assert!(t.directory("targetPath", &root.join("restored/data").display().to_string()).is_ok());
        for bad in ["$(touch x)", "`touch x`", "a'b", "a\"b", "a\nb", "a b", "a;b", "-rf", "..", "a$b"] {
            let path = format!("{}/{bad}", root.display());
            assert!(t.directory("targetPath", &path).is_err(), "{path:?} was accepted");
        }
        assert!(t.directory("targetPath", "/etc/cron.d").unwrap_err().to_string().contains("not under a restore root"));
        assert!(t.directory("targetPath", &root.display().to_string()).is_err(), "the root itself");
        assert!(t.directory("targetPath", "relative/dir").is_err());
        // A link inside the root that leads out is refused.
        let link = root.join("out");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink("/etc", &link).unwrap();
        assert!(t.directory("targetPath", &link.join("x").display().to_string()).unwrap_err().to_string().contains("symbolic link"));
    }

    #[test]
    fn databases_only_on_allowed_hosts_without_secrets() {
        let t = targets();
        assert!(t.database("targetUrl", "postgresql://app@localhost/restored").is_ok());
        assert!(t.database("targetUrl", "postgresql://app@localhost:7777/restored").is_ok());
        assert!(t.database("targetUrl", "postgresql://app@10.0.0.5:6432/restored?sslmode=require").is_ok());
        assert!(t.database("targetUrl", "postgresql://app@[::1]:5433/restored").is_ok());
        for bad in [
            "postgresql://app:secret@localhost/restored",
            "postgresql://app@evil.example/restored",
            "postgresql://app@10.0.0.5/restored",
            "postgresql://app@localhost/restored?host=/var/run/postgresql",
            "postgresql://app@localhost/restored?passfile=/root/.pgpass",
            "postgresql://app@localhost/restored?options=-c%20log_statement%3Dall",
            "postgresql://app@localhost/restored?sslkey=/etc/ssl/private/key.pem",
            "postgresql://app@%2Fvar%2Frun/restored",
            "postgresql://app@localhost/",
            "mysql://app@localhost/restored",
        ] {
            assert!(t.database("targetUrl", bad).is_err(), "{bad} was accepted");
        }
        let refused = t.database("targetUrl", "postgresql://app:hunter2@localhost/r").unwrap_err().to_string();
        assert!(!refused.contains("hunter2"), "{refused}");
    }
}
