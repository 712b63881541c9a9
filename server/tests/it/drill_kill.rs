//! A drill killed mid-restore leaves nothing behind: a real `bulwark serve` (SQLite catalog in
//! its data directory) runs a drill of a plan that restores a real PostgreSQL database into its
//! scratch target; the process is SIGKILLed while the restore writes the scratch database, and
//! started again on the same data directory. The restore step the dead process left running is
//! not run twice: it waits `interrupted` for a person, who aborts (over REST, as a person
//! would); the drill's cleanup still runs, no scratch database remains, and the drill leaves
//! its result. The restoration the dead process ran is taken over by the restarted one and runs
//! again whatever became of the run: the cleanup waits for it to end, so it cannot make the
//! scratch database again once the drill is over.

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bulwark_testkit::PgCluster;

/// A `bulwark serve` process on `data`, killed (SIGKILL) when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(data: &std::path::Path, log: &str) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_bulwark"));
        // Its own process group, so a kill takes its pg_restore with it, as a dead host's would.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command
            .arg("serve")
            .env_remove("DATABASE_URL")
            .env_remove("BULWARK_SECRET_KEY")
            .env("BULWARK_DATA_DIR", data)
            .env("BULWARK_LISTEN", "127.0.0.1:0")
            .env("BULWARK_WORKERS", "3")
            // Short, so the restarted process takes the dead one's jobs over within seconds.
            .env("BULWARK_JOB_LEASE_SECONDS", "4")
            .env("BULWARK_SECURE_COOKIES", "false")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(data.join(log)).expect("the server's log"))
            .spawn()
            .expect("start bulwark serve");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, listening) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(port) = line.strip_prefix("Bulwark is listening on http://127.0.0.1:").and_then(|p| p.trim().parse::<u16>().ok()) {
                    let _ = tx.send(port);
                }
            }
        });
        let started = Instant::now();
        let port = loop {
            if let Ok(port) = listening.recv_timeout(Duration::from_millis(200)) {
                break port;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("bulwark serve exited ({status}) before listening:\n{}", std::fs::read_to_string(data.join(log)).unwrap_or_default());
            }
            assert!(started.elapsed() < Duration::from_secs(60), "bulwark serve did not listen within 60 s:\n{}", std::fs::read_to_string(data.join(log)).unwrap_or_default());
        };
        Server { child, port }
    }

    fn kill(&mut self) {
        // SAFETY: kill only sends a signal, to the process group this server leads.
        unsafe {
            libc::kill(-(self.child.id() as i32), libc::SIGKILL);
        }
        let _ = self.child.wait();
    }

    /// One request, its status and its body as JSON (null when empty or not JSON).
    fn call(&self, method: &str, path: &str, token: &str, body: &str) -> (u16, serde_json::Value) {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).expect("connect to bulwark serve");
        stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n{body}",
            port = self.port,
            len = body.len()
        );
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).expect("read the answer");
        let split = answer.windows(4).position(|w| w == b"\r\n\r\n").expect("an HTTP answer");
        let head = String::from_utf8_lossy(&answer[..split]).to_ascii_lowercase();
        let mut body = answer[split + 4..].to_vec();
        if head.contains("transfer-encoding: chunked") {
            let (mut plain, mut rest) = (Vec::new(), &body[..]);
            while let Some(end) = rest.windows(2).position(|w| w == b"\r\n") {
                let size = usize::from_str_radix(String::from_utf8_lossy(&rest[..end]).trim(), 16).unwrap_or(0);
                if size == 0 {
                    break;
                }
                plain.extend_from_slice(&rest[end + 2..end + 2 + size]);
                rest = &rest[end + 2 + size + 2..];
            }
            body = plain;
        }
        let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("a status line");
        (status, serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null))
    }

    /// `call`, which must answer `expect`.
    fn expect(&self, expect: u16, method: &str, path: &str, token: &str, body: &str) -> serde_json::Value {
        let (status, answer) = self.call(method, path, token, body);
        assert_eq!(status, expect, "{method} {path}: {answer}");
        answer
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The `bulwark` CLI on `data`: its standard output.
fn cli(data: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_bulwark"))
        .args(args)
        .env("BULWARK_DATA_DIR", data)
        .env_remove("DATABASE_URL")
        .env_remove("BULWARK_SECRET_KEY")
        .stdin(Stdio::null())
        .output()
        .expect("run bulwark");
    assert!(out.status.success(), "bulwark {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A user of `role` and an API token of theirs, made with the CLI as an operator would.
fn user(data: &std::path::Path, name: &str, role: &str) -> String {
    cli(data, &["user", "add", name, "--role", role]);
    cli(data, &["user", "token", name, "--name", "drill-kill"])
}

fn plan(port: u16, restored: &str) -> String {
    format!(
        r#"name: Orders drill
disasterScenario: software_corruption
disasterType: database_corruption
severity: 2
estimatedRtoMinutes: 15
estimatedRpoMinutes: 60
drill: {{ targets: {{ prod-db: scratch-db }} }}
steps:
  - name: restore orders
    type: backup_restore
    timeoutSeconds: 600
    rollback: false
    config: {{ configuration: orders db, targetEnvironment: production, targetIdentifier: "prod-db/{restored}" }}
  - name: count rows
    type: validation
    config: {{ sql: {{ host: 127.0.0.1, port: {port}, database: {restored}, query: "SELECT count(*) > 0 FROM orders", expect: "t" }} }}
  - name: clean up
    type: cleanup
"#
    )
}

fn step<'a>(run: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    run["steps"].as_array().unwrap().iter().find(|s| s["stepName"] == name).unwrap_or_else(|| panic!("no step {name}: {run}"))
}

#[test]
fn a_drill_killed_mid_restore_and_restarted_leaves_no_scratch_database() {
    let cluster = PgCluster::shared();
    let source_url = cluster.fresh_database("drill_kill");
    let source = source_url.rsplit('/').next().unwrap().to_string();
    // Big enough that its restore takes seconds: the kill lands while it writes.
    cluster
        .psql(&source, "CREATE TABLE orders (id int PRIMARY KEY, total numeric, note text); INSERT INTO orders SELECT g, g * 1.5, md5(g::text) || md5((g * 7)::text) FROM generate_series(1, 1500000) g;")
        .unwrap();
    let restored = format!("{source}_restored");
    let databases_named = |name: &str| cluster.psql("postgres", &format!("SELECT count(*) FROM pg_database WHERE datname = '{name}'")).unwrap();

    let data = bulwark_testkit::temp_dir("drill-kill-data");
    cli(&data, &["user", "add", "--admin", "root"]);
    let admin = cli(&data, &["user", "token", "root", "--name", "drill-kill"]);
    let author = user(&data, "olga", "operator");
    let approver = user(&data, "abe", "approver");

    let mut server = Server::start(&data, "serve-1.log");
    // A location, the source's configuration and a completed backup.
    let repo = bulwark_testkit::temp_dir("drill-kill-repo").join("repo");
    let location = server.expect(201, "POST", "/api/admin/backups/storage-locations", &admin, &serde_json::json!({ "locationName": "disk", "storageType": "primary", "provider": "local", "pathPrefix": repo }).to_string());
    let location = location["id"].as_str().unwrap().to_string();
    server.expect(201, "POST", &format!("/api/admin/backups/storage-locations/{location}/init"), &admin, "");
    let configuration = serde_json::json!({ "name": "orders db", "sourceType": "postgresql", "sourceIdentifier": source_url, "storageLocationIds": [location], "frequency": "manual" });
    let configuration = server.expect(201, "POST", "/api/admin/backups/configurations", &admin, &configuration.to_string());
    let configuration = configuration["id"].as_str().unwrap().to_string();
    let backup = server.expect(200, "POST", &format!("/api/admin/backups/configurations/{configuration}/execute"), &admin, "");
    let backup = backup["executionId"].as_str().unwrap().to_string();
    let started = Instant::now();
    loop {
        let e = server.expect(200, "GET", &format!("/api/admin/backups/executions/{backup}"), &admin, "");
        match e["status"].as_str() {
            Some("completed") => break,
            Some("failed" | "cancelled") => panic!("the backup failed: {e}"),
            _ => {}
        }
        assert!(started.elapsed() < Duration::from_secs(300), "the backup did not complete: {e}");
        std::thread::sleep(Duration::from_millis(250));
    }

    // The same server under two names (as `recovery_drill` does): production and its scratch.
    for (name, environment, host) in [("prod-db", "production", "127.0.0.1"), ("scratch-db", "development", "localhost")] {
        let target = serde_json::json!({ "name": name, "environment": environment, "targetType": "postgresql", "url": format!("postgresql://postgres@{host}:{}", cluster.port) });
        server.expect(201, "POST", "/api/admin/backups/restore-targets", &admin, &target.to_string());
    }
    // The plan, approved by another.
    let created = server.expect(201, "POST", "/api/disaster-recovery/plans", &author, &serde_json::json!({ "document": plan(cluster.port, &restored) }).to_string());
    let plan_id = created["summary"]["id"].as_str().unwrap().to_string();
    server.expect(200, "POST", &format!("/api/disaster-recovery/plans/{plan_id}/approve"), &approver, r#"{"version":1,"reason":"read it"}"#);

    // The drill; killed once the restore writes the scratch database.
    let execute = serde_json::json!({ "planId": plan_id, "triggerType": "manual", "reason": "quarterly drill", "executionMode": "test" });
    let run_id = server.expect(202, "POST", "/api/disaster-recovery/execute", &author, &execute.to_string())["executionId"].as_str().unwrap().to_string();
    let run_path = format!("/api/disaster-recovery/executions/{run_id}");
    let started = Instant::now();
    loop {
        if databases_named(&restored) == "1" {
            break;
        }
        let run = server.expect(200, "GET", &run_path, &author, "");
        assert!(!matches!(run["status"].as_str(), Some("completed" | "failed" | "cancelled" | "rolled_back")), "the drill ended before the kill: {run}");
        assert!(started.elapsed() < Duration::from_secs(120), "the restore never created the scratch database: {run}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let before = server.expect(200, "GET", &run_path, &author, "");
    assert_eq!(step(&before, "restore orders")["status"], "running", "the kill lands mid-restore: {before}");
    server.kill();
    assert_eq!(databases_named(&restored), "1", "the dead process left its scratch database");

    // Started again on the same data directory: the restore step is not run twice; a person
    // aborts it, and the drill cleans up all the same.
    let server = Server::start(&data, "serve-2.log");
    let started = Instant::now();
    let mut aborted = false;
    let run = loop {
        let run = server.expect(200, "GET", &run_path, &author, "");
        match run["status"].as_str() {
            Some("completed" | "failed" | "cancelled" | "rolled_back") => break run,
            _ => {}
        }
        let restore = step(&run, "restore orders");
        if restore["status"] == "interrupted" && !aborted {
            let decision = format!("{run_path}/steps/{}/decision", restore["id"].as_str().unwrap());
            server.expect(200, "POST", &decision, &author, r#"{"action":"abort"}"#);
            aborted = true;
        }
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "the drill did not end after the restart: {run}\n{}",
            std::fs::read_to_string(data.join("serve-2.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    assert!(aborted, "the restore step a dead process left is not taken as done, nor run again: {run}");
    assert_eq!(run["status"], "cancelled", "{run}");
    let cleanup = step(&run, "clean up");
    assert_eq!(cleanup["status"], "completed", "{cleanup}");
    let removed = &cleanup["outputData"]["removed"];
    assert!(removed.as_array().is_some_and(|r| r.iter().any(|r| r["place"].as_str().is_some_and(|p| p.ends_with(&format!("/{restored}"))))), "{cleanup}");
    assert_eq!(databases_named(&restored), "0", "no scratch database is left: {run}");
    // Nothing of the drill still writes once it ended: the restoration the dead process ran,
    // which the restarted one takes over and runs again whatever became of the run, ended
    // before the cleanup removed its place (ended after, it could make the place again).
    let restorations = server.expect(200, "GET", "/api/admin/backups/restoration", &admin, "");
    let restorations = restorations["restorations"].as_array().unwrap();
    assert_eq!(restorations.len(), 1, "{restorations:?}");
    assert!(!matches!(restorations[0]["status"].as_str(), Some("initiated" | "running")), "the drill ended before its restore: {:#}", restorations[0]);
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(databases_named(&restored), "0", "no scratch database reappears");
    assert_eq!(databases_named(&source), "1", "the source is untouched");

    // The drill left its result.
    let tests = server.expect(200, "GET", &format!("/api/disaster-recovery/tests?planId={plan_id}"), &author, "");
    let tests = tests["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 1, "{tests:?}");
    assert_eq!((tests[0]["executionId"].as_str(), tests[0]["status"].as_str()), (Some(run_id.as_str()), Some("cancelled")), "{tests:?}");
    drop(server);
    cluster.psql("postgres", &format!("DROP DATABASE {source} WITH (FORCE)")).unwrap();
}
