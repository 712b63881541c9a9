//! A real SMTP server for tests: Debian's aiosmtpd (`python3-aiosmtpd`, which `make test`
//! installs) on a free loopback port, delivering every message into a maildir the test reads.
//! With a certificate it offers STARTTLS and requires it. Killed by a watchdog once the test
//! process has gone.

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{free_port, temp_dir, watchdog};

/// Debian's interpreter: the one `python3-aiosmtpd` installs into (a `python3` earlier in
/// PATH, such as pyenv's, may not have it).
const PYTHON: &str = "/usr/bin/python3";

pub struct SmtpServer {
    pub port: u16,
    /// Where messages arrive: one file each under `new/`.
    pub maildir: PathBuf,
    /// With STARTTLS: the PEM certificate of the authority that signed the server's (made for
    /// this server, trusted nowhere else).
    pub certificate: Option<String>,
    pid: u32,
}

impl SmtpServer {
    /// A plain SMTP server.
    pub fn start() -> Result<SmtpServer, String> {
        SmtpServer::launch(false)
    }

    /// A server that offers and requires STARTTLS, with a certificate for `localhost` signed by
    /// a new authority (made with `openssl`).
    pub fn start_tls() -> Result<SmtpServer, String> {
        SmtpServer::launch(true)
    }

    fn launch(tls: bool) -> Result<SmtpServer, String> {
        let dir = temp_dir("smtp");
        let maildir = dir.join("maildir");
        let port = free_port();
        let mut cmd = Command::new(PYTHON);
        cmd.args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"]);
        let mut certificate = None;
        if tls {
            let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
            let authority = crate::tls::authority_and_server(&dir, 2)?;
            cmd.arg("--tlscert").arg(&cert).arg("--tlskey").arg(&key);
            certificate = Some(authority);
        }
        // The handler's argument: the maildir (after the options, as aiosmtpd wants it).
        cmd.arg(&maildir);
        let log = std::fs::File::create(dir.join("smtpd.log")).map_err(|e| e.to_string())?;
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot run {PYTHON} -m aiosmtpd (apt-get install python3-aiosmtpd): {e}"))?;
        watchdog(Some(child.id()), &dir);
        let started = Instant::now();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                let log = std::fs::read_to_string(dir.join("smtpd.log")).unwrap_or_default();
                return Err(format!("aiosmtpd exited with {status}: {log}"));
            }
            if started.elapsed() > Duration::from_secs(20) {
                return Err("aiosmtpd did not listen within 20 s".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(SmtpServer { port, maildir, certificate, pid: child.id() })
    }

    /// Every message received so far, as raw text.
    pub fn messages(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else { return Vec::new() };
        entries.filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok()).collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-9", &self.pid.to_string()]).status();
    }
}
