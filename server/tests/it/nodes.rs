//! Several `bulwark serve` processes on one PostgreSQL catalog share the work: a node killed
//! with SIGKILL mid-backup loses no job (another node runs it to completion, once) and no
//! schedule slot (the survivors fire every slot, each once); a node frozen at the commit point
//! commits nothing once it wakes (or its commit is adopted); nodes whose clocks are ten minutes
//! off neither steal live leases nor claim a job twice.

use bulwark_core::platform::jobs::JobState;
use bulwark_core::executions::ExecutionStatus;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bulwark_core::platform::auth::{Principal, Role};
use bulwark_core::platform::catalog::Catalog;
use bulwark_core::configurations::{self, NewConfiguration};
use bulwark_core::executions::{self, Execution};
use bulwark_core::locations::{self, NewLocation};
use bulwark_core::platform::secrets::SecretBox;
use bulwark_testkit::PgCluster;
use sqlx::Connection;

/// A `bulwark serve` process, killed (SIGKILL) when dropped.
struct Node {
    child: Child,
    /// The port it bound, from the line it prints once listening: it binds port 0, so no
    /// other process can take its port between choosing and binding it.
    listening: std::sync::mpsc::Receiver<u16>,
    log: std::path::PathBuf,
}

impl Node {
    fn start(catalog_url: &str, secret_key: &str) -> Node {
        Node::start_with(catalog_url, secret_key, &[], None)
    }

    /// A node with extra environment, its clock `skew` off (e.g. "+10m", by libfaketime).
    fn start_with(catalog_url: &str, secret_key: &str, env: &[(&str, &str)], skew: Option<&str>) -> Node {
        let data = bulwark_testkit::temp_dir("node-data");
        let mut command = match skew {
            Some(offset) => {
                let mut c = Command::new("faketime");
                // Timers run on the real monotonic clock; only the wall clock is off.
                c.args(["-f", offset, env!("CARGO_BIN_EXE_bulwark")]).env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_bulwark")),
        };
        command.envs(env.iter().copied());
        // Its own process group: `faketime` runs bulwark as its child, and killing only the
        // wrapper would leave that running after the test.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command
            .arg("serve")
            .env("DATABASE_URL", catalog_url)
            .env("BULWARK_SECRET_KEY", secret_key)
            .env("BULWARK_LISTEN", "127.0.0.1:0")
            .env("BULWARK_DATA_DIR", &data)
            .env("BULWARK_WORKERS", "1")
            // Short, so the test sees a dead node's job taken over within seconds.
            .env("BULWARK_JOB_LEASE_SECONDS", "4")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(data.join("node.log")).expect("the node's log"))
            .spawn()
            .expect("start bulwark serve");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, listening) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(port) = line.strip_prefix("Bulwark is listening on http://127.0.0.1:").and_then(|p| p.trim().parse().ok()) {
                    let _ = tx.send(port);
                }
            }
        });
        Node { child, listening, log: data.join("node.log") }
    }

    /// Waits until the node listens; a node that exits first fails the test with its log.
    fn wait_ready(&mut self) {
        let started = Instant::now();
        loop {
            if let Ok(port) = self.listening.recv_timeout(Duration::from_millis(200)) {
                assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(), "node says it listens on {port} but refuses connections");
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("node exited ({status}) before listening:\n{}", std::fs::read_to_string(&self.log).unwrap_or_default());
            }
            assert!(started.elapsed() < Duration::from_secs(60), "node did not listen within 60 s:\n{}", std::fs::read_to_string(&self.log).unwrap_or_default());
        }
    }

    /// True while the process is stopped (SIGSTOP): state `T` in /proc.
    fn is_stopped(&self) -> bool {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('T'))
    }

    fn resume(&self) {
        // SAFETY: kill only sends a signal to our own child.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGCONT);
        }
    }

    fn kill(&mut self) {
        // SAFETY: kill only sends a signal, to the process group this node leads.
        unsafe {
            libc::kill(-(self.child.id() as i32), libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

fn admin() -> Principal {
    Principal { user_id: String::new(), username: "test".into(), role: Role::Admin, token_id: None, scope: None }
}

fn config(name: &str, source_type: &str, source: &str, location: &str, schedule: Option<&str>) -> NewConfiguration {
    serde_json::from_value(serde_json::json!({
        "name": name, "sourceType": source_type, "sourceIdentifier": source, "storageLocationIds": [location],
        "frequency": if schedule.is_some() { "custom" } else { "manual" }, "schedule": schedule,
    }))
    .unwrap()
}

async fn wait_for(catalog: &Catalog, id: &str, what: &str, done: impl Fn(&Execution) -> bool) -> Execution {
    let started = Instant::now();
    loop {
        let e = executions::get(catalog, &admin(), id).await.unwrap();
        if done(&e) {
            return e;
        }
        assert!(started.elapsed() < Duration::from_secs(90), "execution {id} never got {what}: {e:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_share_the_work_and_survive_a_killed_one() {
    let catalog_url = tokio::task::spawn_blocking(bulwark_testkit::postgres_url).await.unwrap();
    let catalog = Catalog::open(&catalog_url).await.unwrap();
    let secret_key: String = bulwark_core::engine::repo::crypto::Key::random().0.iter().map(|b| format!("{b:02x}")).collect();
    let secrets = SecretBox::load(Some(&secret_key), std::path::Path::new("/nonexistent")).unwrap();
    let repo_dir = bulwark_testkit::temp_dir("nodes-repo");
    let new_location = NewLocation {
        location_name: "shared disk".into(),
        storage_type: "primary".into(),
        provider: "local".into(),
        path_prefix: Some(repo_dir.join("repo").display().to_string()),
        ..Default::default()
    };
    let location = locations::create(&catalog, &secrets, &admin(), new_location).await.unwrap();
    locations::init_repository(&catalog, &secrets, &admin(), &location.id).await.unwrap();

    // The backup to kill: pg_dump waits on a lock this test holds, so the backup is surely
    // under way (running, its dump started) when its node dies.
    let cluster = tokio::task::spawn_blocking(PgCluster::shared).await.unwrap();
    let source_url = cluster.fresh_database("nodes");
    let database = source_url.rsplit('/').next().unwrap().to_string();
    cluster.psql(&database, "CREATE TABLE accounts (id int PRIMARY KEY, owner text); INSERT INTO accounts SELECT g, 'owner ' || g FROM generate_series(1, 5000) g;").unwrap();
    let expected = cluster.psql(&database, "SELECT md5(string_agg(a::text, ',' ORDER BY id)) FROM accounts a").unwrap();
    let dumped = configurations::create(&catalog, &secrets, &admin(), config("accounts", "postgresql", &source_url, &location.id, None)).await.unwrap();
    // And a schedule firing every three seconds.
    let files = bulwark_testkit::temp_dir("nodes-files");
    std::fs::write(files.join("app.env"), "MODE=production\n").unwrap();
    let scheduled = configurations::create(&catalog, &secrets, &admin(), config("env", "filesystem", files.to_str().unwrap(), &location.id, Some("*/3 * * * * *")))
        .await
        .unwrap();

    let mut locker = sqlx::postgres::PgConnection::connect(&source_url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut locker).await.unwrap();
    sqlx::query("LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE").execute(&mut locker).await.unwrap();

    let mut nodes: Vec<Node> = (0..3).map(|_| Node::start(&catalog_url, &secret_key)).collect();
    for node in &mut nodes {
        node.wait_ready();
    }
    let execution = executions::start(&catalog, &admin(), &dumped.id, "manual").await.unwrap();
    wait_for(&catalog, &execution.id, "running", |e| e.status == ExecutionStatus::Running).await;
    let job = bulwark_core::platform::jobs::for_subject(&catalog, executions::JOB_KIND, &execution.id).await.unwrap().unwrap();
    let owner = job.lease_owner.clone().expect("a running job has a lease owner");
    // The owner is `<host>-<pid>/<worker>`.
    let pid: u32 = owner.rsplit_once('/').and_then(|(node, _)| node.rsplit_once('-')).and_then(|(_, pid)| pid.parse().ok()).unwrap();
    let victim = nodes.iter().position(|n| n.child.id() == pid).expect("the owner is one of the nodes");
    let killed_at = Instant::now();
    nodes[victim].kill();
    sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();

    let done = wait_for(&catalog, &execution.id, "finished", |e| e.is_finished()).await;
    let takeover = killed_at.elapsed();
    assert_eq!(done.status, ExecutionStatus::Completed, "{:?}", done.error_message);
    // The execution is marked completed by the handler; its job is marked succeeded just after.
    let job = loop {
        let job = bulwark_core::platform::jobs::get(&catalog, &job.id).await.unwrap();
        if job.state != JobState::Running || takeover + Duration::from_secs(10) < killed_at.elapsed() {
            break job;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(job.state, JobState::Succeeded);
    assert_eq!(job.attempts, 2, "run once by the dead node, once by the one that took over");
    assert!(job.last_error.as_deref().is_some_and(|e| e.contains("lease expired")), "{:?}", job.last_error);
    let repo = locations::open_repository(&catalog, &secrets, &location.id).await.unwrap();
    let tag = format!("configuration:{}", dumped.id);
    let snapshots: Vec<_> = repo.snapshots().await.unwrap().into_iter().filter(|s| s.tags.contains(&tag)).collect();
    assert_eq!(snapshots.len(), 1, "no duplicate snapshot");
    assert_eq!(snapshots[0].id, done.snapshot_id.clone().unwrap());

    // The dump restores into a new database with the same rows.
    let target = cluster.fresh_database("nodes_restored");
    let request = serde_json::json!({ "targetUrl": target });
    bulwark_core::sources::restore(&catalog, &secrets, &crate::restore_targets(), &admin(), &execution.id, request).await.unwrap();
    let target_db = target.rsplit('/').next().unwrap().to_string();
    assert_eq!(cluster.psql(&target_db, "SELECT md5(string_agg(a::text, ',' ORDER BY id)) FROM accounts a").unwrap(), expected);

    // Meanwhile every three-second slot fired exactly once. Now the node firing them dies
    // too: the last one standing takes the schedule over without losing a slot.
    let latest = executions::scheduled::schedule(&catalog, &admin(), &scheduled.id, 1).await.unwrap();
    let scheduler = latest.slots.first().expect("slots fired while the backup ran").node.clone();
    let scheduler_pid: u32 = scheduler.rsplit_once('-').and_then(|(_, pid)| pid.parse().ok()).unwrap();
    let second_victim = nodes.iter().position(|n| n.child.id() == scheduler_pid).unwrap();
    assert_ne!(second_victim, victim, "a dead node fires nothing");
    nodes[second_victim].kill();
    let second_kill = bulwark_core::platform::time::now_text();
    // Three more slots fired after the kill, by the survivor.
    let started = Instant::now();
    let view = loop {
        let view = executions::scheduled::schedule(&catalog, &admin(), &scheduled.id, 500).await.unwrap();
        if view.slots.iter().filter(|s| s.fired_at > second_kill).count() >= 3 {
            break view;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the survivor fires no slot: {:?}", view.slots);
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut slots: Vec<_> = view.slots.iter().map(|s| bulwark_core::platform::time::parse(&s.slot_at).unwrap()).collect();
    slots.reverse();
    // Every slot since the configuration was made, each once.
    for pair in slots.windows(2) {
        assert_eq!((pair[1] - pair[0]).num_seconds(), 3, "a slot was lost or doubled: {:?}", view.slots);
    }
    let after_kill: Vec<_> = view.slots.iter().filter(|s| s.fired_at > second_kill).collect();
    assert!(after_kill.iter().all(|s| s.node != scheduler), "{after_kill:?}");
    let nodes_firing: std::collections::HashSet<&str> = view.slots.iter().map(|s| s.node.as_str()).collect();
    let runs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM backup_executions WHERE configuration_id = $1 AND execution_type = 'scheduled'")
        .bind(&scheduled.id)
        .fetch_one(catalog.pool())
        .await
        .unwrap();
    let queued_slots = view.slots.iter().filter(|s| s.execution_id.is_some()).count() as i64;
    assert_eq!(runs, queued_slots, "one execution per fired slot");
    println!(
        "3 nodes: the killed node's backup finished on another {:.1} s after the kill (lease 4 s); {} schedule slots fired by {} nodes (the first of them killed too), {} ran, none lost",
        takeover.as_secs_f64(),
        slots.len(),
        nodes_firing.len(),
        queued_slots
    );
}

/// A catalog with an initialised shared location, and the secret key nodes start with.
async fn shared_catalog(label: &str) -> (Catalog, String, String, SecretBox, String) {
    let catalog_url = tokio::task::spawn_blocking(bulwark_testkit::postgres_url).await.unwrap();
    catalog_at(catalog_url, label).await
}

/// [`shared_catalog`] on the catalog at `catalog_url`.
async fn catalog_at(catalog_url: String, label: &str) -> (Catalog, String, String, SecretBox, String) {
    let catalog = Catalog::open(&catalog_url).await.unwrap();
    let secret_key: String = bulwark_core::engine::repo::crypto::Key::random().0.iter().map(|b| format!("{b:02x}")).collect();
    let secrets = SecretBox::load(Some(&secret_key), std::path::Path::new("/nonexistent")).unwrap();
    let repo_dir = bulwark_testkit::temp_dir(label).join("repo");
    let new_location = NewLocation {
        location_name: "shared disk".into(),
        storage_type: "primary".into(),
        provider: "local".into(),
        path_prefix: Some(repo_dir.display().to_string()),
        ..Default::default()
    };
    let location = locations::create(&catalog, &secrets, &admin(), new_location).await.unwrap();
    locations::init_repository(&catalog, &secrets, &admin(), &location.id).await.unwrap();
    (catalog, catalog_url, secret_key, secrets, location.id)
}

/// The snapshots in `location` made for execution `id`.
async fn snapshots_of(catalog: &Catalog, secrets: &SecretBox, location: &str, id: &str) -> Vec<String> {
    let repo = locations::open_repository(catalog, secrets, location).await.unwrap();
    let tag = format!("execution:{id}");
    repo.snapshots().await.unwrap().into_iter().filter(|s| s.tags.contains(&tag)).map(|s| s.id).collect()
}

/// A node frozen (SIGSTOP) at its backup's commit point while another node takes the job over
/// used to wake up and write a second manifest over the same execution. Frozen just before the
/// manifest, it now finds its lease gone and writes nothing; frozen just after, the node that
/// takes over adopts its snapshot instead of backing up again. Either way: one manifest, one
/// completed execution referencing it, and the first attempt's start before the completion.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_frozen_at_the_commit_leaves_one_manifest() {
    let (catalog, catalog_url, secret_key, secrets, location) = shared_catalog("frozen-repo").await;
    for point in ["before-commit", "after-commit"] {
        let files = bulwark_testkit::temp_dir("frozen-files");
        std::fs::write(files.join("data.txt"), format!("frozen at {point}\n")).unwrap();
        let configuration = configurations::create(&catalog, &secrets, &admin(), config(point, "filesystem", files.to_str().unwrap(), &location, None)).await.unwrap();
        let mut frozen = Node::start_with(&catalog_url, &secret_key, &[("BULWARK_TEST_PAUSE_AT", point)], None);
        frozen.wait_ready();
        let execution = executions::start(&catalog, &admin(), &configuration.id, "manual").await.unwrap();
        let started = Instant::now();
        while !frozen.is_stopped() {
            assert!(started.elapsed() < Duration::from_secs(60), "the node never reached {point}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let frozen_at = Instant::now();
        let mut other = Node::start(&catalog_url, &secret_key);
        other.wait_ready();
        let done = wait_for(&catalog, &execution.id, "completed by the other node", |e| e.is_finished()).await;
        let takeover = frozen_at.elapsed();
        assert_eq!(done.status, ExecutionStatus::Completed, "{point}: {:?}", done.error_message);
        frozen.resume();
        // Time for the woken node to do whatever it would: heartbeat, check, commit, record.
        tokio::time::sleep(Duration::from_secs(4)).await;
        let after = executions::get(&catalog, &admin(), &execution.id).await.unwrap();
        assert_eq!((after.status.as_str(), &after.snapshot_id), ("completed", &done.snapshot_id), "{point}: the woken node changed the execution");
        assert!(after.completed_at >= after.started_at, "{point}: {:?} before {:?}", after.completed_at, after.started_at);
        let made = snapshots_of(&catalog, &secrets, &location, &execution.id).await;
        assert_eq!(made, vec![done.snapshot_id.clone().unwrap()], "{point}: exactly one manifest, the recorded one");
        let job = bulwark_core::platform::jobs::for_subject(&catalog, executions::JOB_KIND, &execution.id).await.unwrap().unwrap();
        let attempts = bulwark_core::platform::jobs::attempts(&catalog, &job.id).await.unwrap();
        assert_eq!((job.state.as_str(), attempts.len()), ("succeeded", 2), "{point}: {attempts:?}");
        assert_eq!(attempts[0].outcome.as_deref(), Some("lease expired: the worker stopped or hung"), "{attempts:?}");
        assert_eq!(attempts[1].outcome.as_deref(), Some("succeeded"), "{attempts:?}");
        println!("frozen {point}: taken over and completed {:.1} s after the freeze (lease 4 s)", takeover.as_secs_f64());
        frozen.kill();
        other.kill();
    }
}

/// Leases and claims used each node's own clock: a node ten minutes ahead saw every other
/// node's lease as expired and took the job over at once (two nodes ran it), and one ten
/// minutes behind wrote leases already over for everyone else, so its jobs were taken from it
/// again and again. On the catalog's clock, each job is claimed once and runs where it started.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_with_skewed_clocks_neither_steal_nor_repeat() {
    let (catalog, catalog_url, secret_key, secrets, location) = shared_catalog("skew-repo").await;
    let cluster = tokio::task::spawn_blocking(PgCluster::shared).await.unwrap();
    // Three backups that run until this test lets them: each pg_dump waits on a lock.
    let mut lockers = Vec::new();
    let mut executions_started = Vec::new();
    let mut nodes = vec![
        Node::start(&catalog_url, &secret_key),
        Node::start_with(&catalog_url, &secret_key, &[], Some("+10m")),
        Node::start_with(&catalog_url, &secret_key, &[], Some("-10m")),
    ];
    for node in &mut nodes {
        node.wait_ready();
    }
    for n in 0..3 {
        let url = cluster.fresh_database(&format!("skew{n}"));
        let database = url.rsplit('/').next().unwrap().to_string();
        cluster.psql(&database, "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 100);").unwrap();
        let mut locker = sqlx::postgres::PgConnection::connect(&url).await.unwrap();
        sqlx::query("BEGIN").execute(&mut locker).await.unwrap();
        sqlx::query("LOCK TABLE t IN ACCESS EXCLUSIVE MODE").execute(&mut locker).await.unwrap();
        lockers.push(locker);
        let c = configurations::create(&catalog, &secrets, &admin(), config(&format!("skewed {n}"), "postgresql", &url, &location, None)).await.unwrap();
        executions_started.push(executions::start(&catalog, &admin(), &c.id, "manual").await.unwrap());
    }
    let mut owners = Vec::new();
    for e in &executions_started {
        wait_for(&catalog, &e.id, "running", |e| e.status == ExecutionStatus::Running).await;
        let job = bulwark_core::platform::jobs::for_subject(&catalog, executions::JOB_KIND, &e.id).await.unwrap().unwrap();
        owners.push(job.lease_owner.clone().unwrap());
    }
    let distinct: std::collections::HashSet<&String> = owners.iter().collect();
    assert_eq!(distinct.len(), 3, "each node (one worker each) runs one: {owners:?}");
    // Three leases' worth of heartbeats, requeue sweeps and idle polls on every node.
    tokio::time::sleep(Duration::from_secs(12)).await;
    for (e, owner) in executions_started.iter().zip(&owners) {
        let job = bulwark_core::platform::jobs::for_subject(&catalog, executions::JOB_KIND, &e.id).await.unwrap().unwrap();
        assert_eq!((job.attempts, job.lease_owner.as_ref()), (1, Some(owner)), "taken over: {:?}", bulwark_core::platform::jobs::attempts(&catalog, &job.id).await.unwrap());
    }
    for mut locker in lockers {
        sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();
    }
    for e in &executions_started {
        let done = wait_for(&catalog, &e.id, "finished", |e| e.is_finished()).await;
        assert_eq!(done.status, ExecutionStatus::Completed, "{:?}", done.error_message);
        assert_eq!(snapshots_of(&catalog, &secrets, &location, &e.id).await, vec![done.snapshot_id.unwrap()]);
        let job = bulwark_core::platform::jobs::for_subject(&catalog, executions::JOB_KIND, &e.id).await.unwrap().unwrap();
        assert_eq!(bulwark_core::platform::jobs::attempts(&catalog, &job.id).await.unwrap().len(), 1);
    }
    for node in &mut nodes {
        node.kill();
    }
}

/// The catalog going away for longer than the pool's timeout just as a backup records its
/// outcome used to leave the execution `running` for good (execute: 409, cancel: "already
/// finished"). Now the write waits the outage out, or the job is taken over and the committed
/// snapshot adopted; either way the execution ends, with the one snapshot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catalog_outage_at_the_final_write_wedges_nothing() {
    let cluster = tokio::task::spawn_blocking(|| PgCluster::start(&[])).await.unwrap().unwrap();
    let (catalog, catalog_url, secret_key, secrets, location) = catalog_at(cluster.fresh_database("outage"), "outage-repo").await;
    let files = bulwark_testkit::temp_dir("outage-files");
    std::fs::write(files.join("data.txt"), "kept through the outage\n").unwrap();
    let configuration = configurations::create(&catalog, &secrets, &admin(), config("outage", "filesystem", files.to_str().unwrap(), &location, None)).await.unwrap();

    // The node stops itself right after its manifest; the catalog goes down meanwhile, for
    // longer than the node's two-second pool timeout.
    let mut node = Node::start_with(&catalog_url, &secret_key, &[("BULWARK_TEST_PAUSE_AT", "after-commit"), ("BULWARK_CATALOG_TIMEOUT_SECONDS", "2")], None);
    node.wait_ready();
    let execution = executions::start(&catalog, &admin(), &configuration.id, "manual").await.unwrap();
    let started = Instant::now();
    while !node.is_stopped() {
        assert!(started.elapsed() < Duration::from_secs(60), "the node never committed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    catalog.pool().close().await;
    tokio::task::block_in_place(|| cluster.stop()).unwrap();
    node.resume();
    tokio::time::sleep(Duration::from_secs(8)).await;
    tokio::task::block_in_place(|| cluster.restart()).unwrap();
    let catalog = Catalog::open(&catalog_url).await.unwrap();
    let done = wait_for(&catalog, &execution.id, "an end after the outage", |e| e.is_finished()).await;
    assert_eq!(done.status, ExecutionStatus::Completed, "{:?}", done.error_message);
    assert_eq!(snapshots_of(&catalog, &secrets, &location, &execution.id).await, vec![done.snapshot_id.unwrap()]);
    // The configuration is free for the next backup.
    let next = executions::start(&catalog, &admin(), &configuration.id, "manual").await.unwrap();
    assert_eq!(wait_for(&catalog, &next.id, "completed", |e| e.is_finished()).await.status, ExecutionStatus::Completed);
}

/// What follows a completed backup (retention tracking, copies, verification) is queued in the
/// transaction that completes it (the events outbox), so a node killed right after that commit
/// loses none of it: another node delivers it. It used to run one step after another after
/// the commit, in the process that made it: killed there, the backup kept no retention row
/// and was never verified.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_after_a_backup_commits_loses_none_of_what_follows() {
    let (catalog, catalog_url, secret_key, secrets, location) = shared_catalog("outbox-repo").await;
    let files = bulwark_testkit::temp_dir("outbox-files");
    std::fs::write(files.join("data.txt"), "followed up by another node\n").unwrap();
    let configuration = configurations::create(&catalog, &secrets, &admin(), config("outbox", "filesystem", files.to_str().unwrap(), &location, None)).await.unwrap();
    let mut node = Node::start_with(&catalog_url, &secret_key, &[("BULWARK_TEST_PAUSE_AT", "after-complete")], None);
    node.wait_ready();
    let execution = executions::start(&catalog, &admin(), &configuration.id, "manual").await.unwrap();
    let started = Instant::now();
    while !node.is_stopped() {
        assert!(started.elapsed() < Duration::from_secs(60), "the node never completed the backup");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    node.kill();
    let done = executions::get(&catalog, &admin(), &execution.id).await.unwrap();
    assert_eq!(done.status, ExecutionStatus::Completed, "{:?}", done.error_message);
    assert!(bulwark_core::retention::tracking(&catalog, &admin(), &execution.id).await.unwrap().is_none(), "nothing followed yet");

    let mut other = Node::start(&catalog_url, &secret_key);
    other.wait_ready();
    let verified = wait_for(&catalog, &execution.id, "verified by the other node", |e| e.verification_status.as_deref() == Some("verified")).await;
    assert_eq!(verified.snapshot_id, done.snapshot_id);
    let started = Instant::now();
    while bulwark_core::retention::tracking(&catalog, &admin(), &execution.id).await.unwrap().is_none() {
        assert!(started.elapsed() < Duration::from_secs(60), "the retention row was never written");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let events = bulwark_core::platform::events::about(&catalog, &execution.id).await.unwrap();
    assert_eq!(events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), ["backup.completed"]);
    other.kill();
}
