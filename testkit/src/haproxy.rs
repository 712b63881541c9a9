//! A real HAProxy for tests (Debian's `haproxy`, 2.6): an HTTP frontend on a free loopback port
//! before one backend, `app`, with the admin socket of its runtime API. Plus the web servers it
//! balances and a client, std only, so a test sees where requests land.
//!
//! HAProxy runs in the foreground as a child (`-db`: a daemon is reaped slowly on this machine
//! kind), killed on drop and by a watchdog once the test process has gone.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::{free_port, temp_dir, watchdog};

/// Debian's binary, in `/usr/sbin`, which a non-root PATH may lack.
const HAPROXY: &str = "/usr/sbin/haproxy";

pub struct HaProxy {
    /// The HTTP frontend's port on 127.0.0.1.
    pub port: u16,
    /// The TCP frontend's port before backend `pg`, when it has one.
    pub tcp_port: Option<u16>,
    /// The runtime API's socket (`level admin`).
    pub socket: PathBuf,
    dir: PathBuf,
    child: Child,
}

impl HaProxy {
    /// Starts HAProxy balancing backend `app` (round robin) over `servers`, each a name and a
    /// port on 127.0.0.1 with weight 100 and a health check every 500 ms. The first server takes
    /// the traffic; the others start in maintenance, as a disaster-recovery standby waits.
    pub fn start(servers: &[(&str, u16)]) -> Result<HaProxy, String> {
        HaProxy::start_with_tcp(servers, &[])
    }

    /// [`HaProxy::start`], plus (when `tcp` names servers) a TCP frontend before backend `pg`
    /// over them, the first taking the connections (PostgreSQL servers, as a database's clients
    /// reach them through the balancer).
    pub fn start_with_tcp(servers: &[(&str, u16)], tcp: &[(&str, u16)]) -> Result<HaProxy, String> {
        let dir = temp_dir("haproxy");
        let socket = dir.join("admin.sock");
        let port = free_port();
        let tcp_port = (!tcp.is_empty()).then(free_port);
        let config = dir.join("haproxy.cfg");
        let mut text = config_text(port, &socket, servers);
        if let Some(tcp_port) = tcp_port {
            text.push_str(&format!("\nfrontend db\n    mode tcp\n    bind 127.0.0.1:{tcp_port}\n    default_backend pg\n\nbackend pg\n    mode tcp\n    balance roundrobin\n"));
            text.push_str(&server_lines(tcp));
        }
        std::fs::write(&config, text).map_err(|e| e.to_string())?;
        let log = std::fs::File::create(dir.join("haproxy.log")).map_err(|e| e.to_string())?;
        let child = Command::new(HAPROXY)
            .arg("-db")
            .arg("-f")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot run {HAPROXY} (apt-get install haproxy): {e}"))?;
        watchdog(Some(child.id()), &dir);
        // Built before it answers, so that a failed wait drops it and kills the process.
        let mut proxy = HaProxy { port, tcp_port, socket, dir, child };
        proxy.wait_ready(Duration::from_secs(10))?;
        Ok(proxy)
    }

    fn wait_ready(&mut self, limit: Duration) -> Result<(), String> {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let started = Instant::now();
        while !self.socket.exists() || TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("haproxy exited with {status}: {}", self.log()));
            }
            if started.elapsed() > limit {
                return Err(format!("haproxy did not listen on {addr} within {limit:?}: {}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// Sends one runtime API command and returns HAProxy's reply, as an operator's `socat` would:
    /// for tests to look at HAProxy without the code under test.
    pub fn api(&self, command: &str) -> Result<String, String> {
        let fail = |e: std::io::Error| format!("`{command}` on {}: {e}", self.socket.display());
        let mut stream = UnixStream::connect(&self.socket).map_err(fail)?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).map_err(fail)?;
        stream.write_all(format!("{command}\n").as_bytes()).map_err(fail)?;
        let mut reply = String::new();
        stream.read_to_string(&mut reply).map_err(fail)?;
        Ok(reply)
    }

    /// What HAProxy has written so far (its alerts and warnings), for a failing test's message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("haproxy.log")).unwrap_or_default()
    }
}

impl Drop for HaProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config_text(port: u16, socket: &Path, servers: &[(&str, u16)]) -> String {
    let mut text = format!(
        "global
    stats socket {socket} mode 600 level admin

defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s

frontend web
    bind 127.0.0.1:{port}
    default_backend app

backend app
    balance roundrobin
",
        socket = socket.display()
    );
    text.push_str(&server_lines(servers));
    text
}

/// A backend's servers: the first takes the traffic, the others wait in maintenance.
fn server_lines(servers: &[(&str, u16)]) -> String {
    let mut text = String::new();
    for (i, (name, server_port)) in servers.iter().enumerate() {
        // An explicit weight: HAProxy's default is 1, and `get weight` reports against it.
        let standby = if i == 0 { "" } else { " disabled" };
        text.push_str(&format!("    server {name} 127.0.0.1:{server_port} weight 100 check inter 500ms{standby}\n"));
    }
    text
}

/// A web server on a free loopback port that answers every request with 200 and its own name,
/// so a test reads which server HAProxy chose. Stops on drop.
pub struct HttpBackend {
    pub port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl HttpBackend {
    pub fn start(name: &str) -> Result<HttpBackend, String> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot listen: {e}"))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let (name, stopping) = (name.to_string(), stop.clone());
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    let _ = answer(stream, &name);
                }
            }
        });
        Ok(HttpBackend { port, stop, thread: Some(thread) })
    }
}

impl Drop for HttpBackend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Only a connection wakes the accept loop to see the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads one request's head and answers it. HAProxy's health checks connect and close without
/// a request: those end here with nothing to answer.
fn answer(mut stream: TcpStream, name: &str) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut head: Vec<u8> = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    write!(stream, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{name}", name.len())
}

/// `GET /` over HTTP/1.0 to 127.0.0.1:`port`: the body of a 200 answer; any other answer's status
/// line is the error.
pub fn get(port: u16) -> Result<String, String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let fail = |e: std::io::Error| format!("GET http://{addr}/: {e}");
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).map_err(fail)?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).map_err(fail)?;
    stream.write_all(format!("GET / HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes()).map_err(fail)?;
    let mut response = String::new();
    stream.read_to_string(&mut response).map_err(fail)?;
    let (head, body) = response.split_once("\r\n\r\n").ok_or_else(|| format!("GET http://{addr}/: not HTTP: {response:?}"))?;
    let status = head.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) == Some("200") { Ok(body.to_string()) } else { Err(status.to_string()) }
}
