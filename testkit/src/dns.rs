//! A real authoritative DNS server for tests: Knot (`knotd`, Debian's `knot`) on a free loopback
//! port, serving one zone from a zone file and taking RFC 2136 updates signed with a TSIG key
//! (hmac-sha256) from 127.0.0.1. `kdig` (`knot-dnsutils`) reads it back. It runs in the foreground
//! as a child of the test (a daemon is reaped slowly here), killed on drop or, should the test
//! process die first, by a watchdog.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{free_port, temp_dir, watchdog};

/// The TSIG key the server accepts updates signed with.
const KEY_NAME: &str = "drkey";

pub struct KnotServer {
    pub port: u16,
    pub dir: PathBuf,
    pub key_name: String,
    /// The key's secret, base64, as a Bulwark credential holds it.
    pub secret_b64: String,
    child: Child,
}

impl KnotServer {
    /// Serves `zone` (`dr.test.`) with its SOA and NS records and `records`, each
    /// `(name, type, value)` in zone-file syntax (`("db.dr.test.", "A", "127.0.0.1")`), at the
    /// zone's default TTL of 300 s.
    pub fn start(zone: &str, records: &[(&str, &str, &str)]) -> Result<KnotServer, String> {
        let dir = temp_dir("knot");
        let port = free_port();
        let origin = format!("{}.", zone.trim_end_matches('.'));
        let secret_b64 = tsig_secret()?;
        // Knot keeps its journal under the database storage and fails updates when it is missing.
        for sub in ["zones", "db"] {
            std::fs::create_dir_all(dir.join(sub)).map_err(|e| e.to_string())?;
        }
        std::fs::write(dir.join("zones").join("zone.db"), zone_file(&origin, records)).map_err(|e| e.to_string())?;
        std::fs::write(dir.join("knot.conf"), config(&dir, port, &origin, &secret_b64)).map_err(|e| e.to_string())?;
        let log = std::fs::File::create(dir.join("knotd.log")).map_err(|e| e.to_string())?;
        let child = Command::new("knotd")
            .arg("--config")
            .arg(dir.join("knot.conf"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot run knotd (apt-get install knot knot-dnsutils): {e}"))?;
        watchdog(Some(child.id()), &dir);
        let mut server = KnotServer { port, dir, key_name: KEY_NAME.to_string(), secret_b64, child };
        server.wait_ready(&origin, Duration::from_secs(10))?;
        Ok(server)
    }

    /// The record set `name`/`rtype` as the server answers it now (`kdig +short`), sorted; empty
    /// when there is none. TXT values come quoted, as kdig prints them.
    pub fn query(&self, name: &str, rtype: &str) -> Vec<String> {
        let mut values: Vec<String> = self.kdig(name, rtype).lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect();
        values.sort();
        values
    }

    fn kdig(&self, name: &str, rtype: &str) -> String {
        let out = Command::new("kdig")
            .args(["@127.0.0.1", "-p", &self.port.to_string(), name, rtype, "+short", "+timeout=1", "+retry=0"])
            .output()
            .expect("cannot run kdig (apt-get install knot-dnsutils)");
        if out.status.success() { String::from_utf8_lossy(&out.stdout).into_owned() } else { String::new() }
    }

    /// Ready once it answers for the zone's SOA.
    fn wait_ready(&mut self, origin: &str, limit: Duration) -> Result<(), String> {
        let started = Instant::now();
        while self.kdig(origin, "SOA").trim().is_empty() {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("knotd exited with {status}: {}", self.log()));
            }
            if started.elapsed() > limit {
                return Err(format!("knotd did not answer within {limit:?}: {}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("knotd.log")).unwrap_or_default()
    }
}

impl Drop for KnotServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh hmac-sha256 secret from `keymgr` (Knot's own key generator), base64.
fn tsig_secret() -> Result<String, String> {
    let out = Command::new("keymgr").args(["-t", KEY_NAME, "hmac-sha256"]).output().map_err(|e| format!("cannot run keymgr: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|line| line.trim().strip_prefix("secret:"))
        .map(|secret| secret.trim().to_string())
        .ok_or_else(|| format!("keymgr printed no secret: {text}"))
}

fn zone_file(origin: &str, records: &[(&str, &str, &str)]) -> String {
    let mut zone = format!(
        "$ORIGIN {origin}\n$TTL 300\n@ SOA ns.{origin} hostmaster.{origin} 1 3600 600 86400 60\n@ NS ns.{origin}\nns A 127.0.0.1\n"
    );
    for (name, rtype, value) in records {
        zone.push_str(&format!("{name} {rtype} {value}\n"));
    }
    zone
}

fn config(dir: &Path, port: u16, origin: &str, secret: &str) -> String {
    let dir = dir.display();
    format!(
        r#"server:
    rundir: "{dir}"
    pidfile: "{dir}/knot.pid"
    listen: 127.0.0.1@{port}
database:
    storage: "{dir}/db"
log:
  - target: stderr
    any: info
key:
  - id: {KEY_NAME}
    algorithm: hmac-sha256
    secret: {secret}
acl:
  - id: update
    address: 127.0.0.1
    key: {KEY_NAME}
    action: update
template:
  - id: default
    storage: "{dir}/zones"
zone:
  - domain: {origin}
    file: zone.db
    acl: update
"#
    )
}
