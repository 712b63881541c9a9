//! Certificates for servers a test starts, made with `openssl`.

use std::path::Path;
use std::process::Command;

/// Makes a certificate authority and, signed by it, `cert.pem` / `key.pem` for `localhost`
/// valid for `days` in `dir`; returns the authority's PEM (a server certificate must not be an
/// authority itself).
pub fn authority_and_server(dir: &Path, days: u32) -> Result<String, String> {
    let openssl = |args: &[&str]| -> Result<(), String> {
        let out = Command::new("openssl").current_dir(dir).args(args).output().map_err(|e| format!("cannot run openssl: {e}"))?;
        if out.status.success() { Ok(()) } else { Err(format!("openssl {} failed: {}", args[0], String::from_utf8_lossy(&out.stderr))) }
    };
    let days = days.to_string();
    openssl(&["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", "/CN=Bulwark test authority", "-keyout", "ca.key", "-out", "ca.pem"])?;
    openssl(&["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "key.pem", "-out", "server.csr"])?;
    std::fs::write(dir.join("server.ext"), "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n").map_err(|e| e.to_string())?;
    openssl(&["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", &days, "-extfile", "server.ext", "-out", "cert.pem"])?;
    std::fs::read_to_string(dir.join("ca.pem")).map_err(|e| e.to_string())
}
