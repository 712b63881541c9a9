//! The `database_failover` step on real clusters: a streaming standby promoted with its primary
//! fenced read-only (every row there, the standby taking writes, the primary refusing them until
//! the rollback) or stopped (and started again by the rollback); a primary that is down (the
//! standby promoted anyway, the loss unknown, no rollback); a "standby" that already takes writes
//! (refused, nothing changed); and configurations with a problem, named by field.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use bulwark_core::recovery::steps::database_failover::{self, Config, Fence};
use bulwark_core::recovery::steps::{self, Secrets, StepContext, StepError};
use bulwark_testkit::PgCluster;
use serde_json::{Value, json};

/// The test clusters trust loopback: no step here asks for a credential.
struct NoSecrets;

#[async_trait::async_trait]
impl Secrets for NoSecrets {
    async fn secret(&self, name: &str) -> Result<String, StepError> {
        Err(StepError::permanent(format!("no credential named {name}")))
    }
}

static SECRETS: NoSecrets = NoSecrets;

fn context() -> StepContext<'static> {
    StepContext { secrets: &SECRETS, cancel: Arc::new(AtomicBool::new(false)), timeout: Duration::from_secs(120) }
}

fn server(port: u16) -> Value {
    json!({"host": "127.0.0.1", "port": port})
}

/// The step's configuration for these two ports, with `extra` fields.
fn config(primary: u16, standby: u16, extra: Value) -> Config {
    let mut config = json!({"primary": server(primary), "standby": server(standby)});
    config.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    steps::parse(&config).unwrap()
}

/// A primary ready for pg_rewind, and its streaming standby.
fn pair() -> (PgCluster, PgCluster) {
    let primary = PgCluster::start(&[("wal_level", "replica"), ("wal_log_hints", "on")]).unwrap();
    let standby = primary.start_standby().unwrap();
    (primary, standby)
}

/// Waits until `sql` answers `expected` on `cluster`.
fn wait_for(cluster: &PgCluster, sql: &str, expected: &str) {
    let start = Instant::now();
    while cluster.psql("postgres", sql).ok().as_deref() != Some(expected) {
        assert!(start.elapsed() < Duration::from_secs(30), "{sql} never answered {expected}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_is_promoted_with_its_primary_read_only() {
    let (primary, standby) = pair();
    primary.psql("postgres", "CREATE TABLE orders (id int PRIMARY KEY); INSERT INTO orders SELECT generate_series(1, 1000)").unwrap();
    let cfg = config(primary.port, standby.port, json!({}));
    assert!(cfg.check().is_empty(), "{:?}", cfg.check());

    let output = database_failover::run(&cfg, &context()).await.unwrap();
    assert_eq!(output["primaryReachable"], json!(true), "{output}");
    assert_eq!(output["fence"], json!("read_only"), "{output}");
    assert_eq!(output["promoted"], json!(true), "{output}");
    assert!(output["lagBytes"].as_i64().unwrap() < 16 << 20, "{output}");
    assert!(output["timeline"].as_i64().unwrap() > output["previousTimeline"].as_i64().unwrap(), "{output}");
    assert_eq!(output["dataLossBytes"], json!(0), "{output}");
    assert_eq!(output["dataConsistent"], json!(true), "{output}");

    // Every committed row is on the promoted standby, which takes writes; the old primary
    // refuses them.
    assert_eq!(standby.psql("postgres", "INSERT INTO orders VALUES (1001); SELECT count(*) FROM orders").unwrap(), "1001");
    let refused = primary.psql("postgres", "INSERT INTO orders VALUES (1001)").unwrap_err();
    assert!(refused.contains("read-only transaction"), "{refused}");

    let back = database_failover::roll_back(&cfg, &output, &context()).await.unwrap();
    assert_eq!(back["oldPrimaryWritable"], json!(true), "{back}");
    assert_eq!(back["promotedStandby"], json!(format!("127.0.0.1:{} diverged; rejoin it with pg_rewind", standby.port)));
    assert_eq!(primary.psql("postgres", "INSERT INTO orders VALUES (1001); SELECT count(*) FROM orders").unwrap(), "1001");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_stopped_as_its_fence_is_started_again_by_the_rollback() {
    let (primary, standby) = pair();
    // The test started the primary with command-line settings; pg_ctl start reads the cluster's
    // own configuration, so it has to hold them.
    let data = primary.dir.join("data");
    let settings = format!("port = {}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n", primary.port, primary.dir.display());
    let mut conf = std::fs::OpenOptions::new().append(true).open(data.join("postgresql.conf")).unwrap();
    std::io::Write::write_all(&mut conf, settings.as_bytes()).unwrap();
    primary.psql("postgres", "CREATE TABLE orders (id int PRIMARY KEY); INSERT INTO orders SELECT generate_series(1, 1000)").unwrap();
    let cfg = config(primary.port, standby.port, json!({"fence": "stop", "dataDirectory": data.display().to_string()}));
    assert!(cfg.check().is_empty(), "{:?}", cfg.check());

    let output = database_failover::run(&cfg, &context()).await.unwrap();
    assert_eq!(output["fence"], json!("stop"), "{output}");
    assert_eq!(output["dataLossBytes"], json!(0), "{output}");
    assert_eq!(output["dataConsistent"], json!(true), "{output}");
    assert!(primary.psql("postgres", "SELECT 1").is_err(), "the old primary still answers");
    assert_eq!(standby.psql("postgres", "INSERT INTO orders VALUES (1001); SELECT count(*) FROM orders").unwrap(), "1001");

    database_failover::roll_back(&cfg, &output, &context()).await.unwrap();
    bulwark_testkit::adopt_cluster(&data);
    assert_eq!(primary.psql("postgres", "INSERT INTO orders VALUES (1001); SELECT count(*) FROM orders").unwrap(), "1001");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_that_is_down_leaves_the_loss_unknown() {
    let (primary, standby) = pair();
    primary.psql("postgres", "CREATE TABLE orders (id int); INSERT INTO orders VALUES (1)").unwrap();
    wait_for(&standby, "SELECT count(*) FROM orders", "1");
    primary.stop().unwrap();
    let cfg = config(primary.port, standby.port, json!({}));

    let output = database_failover::run(&cfg, &context()).await.unwrap();
    assert_eq!(output["primaryReachable"], json!(false), "{output}");
    assert_eq!(output["fence"], json!("unreachable"), "{output}");
    assert_eq!(output["lagBytes"], Value::Null, "{output}");
    assert_eq!(output["dataLossBytes"], Value::Null, "{output}");
    assert_eq!(output["dataConsistent"], json!(false), "{output}");
    assert!(output["timeline"].as_i64().unwrap() > output["previousTimeline"].as_i64().unwrap(), "{output}");
    assert_eq!(standby.psql("postgres", "INSERT INTO orders VALUES (2); SELECT count(*) FROM orders").unwrap(), "2");

    let e = database_failover::roll_back(&cfg, &output, &context()).await.unwrap_err();
    assert!(!e.retryable, "{e}");
    assert!(e.message.contains("unreachable"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_already_takes_writes_is_not_promoted() {
    // Nothing listens where the primary is said to be: the step must stop at the standby.
    let writable = PgCluster::shared();
    let cfg = config(bulwark_testkit::free_port(), writable.port, json!({}));
    let e = database_failover::run(&cfg, &context()).await.unwrap_err();
    assert!(!e.retryable, "{e}");
    assert!(e.message.contains("already takes writes"), "{e}");
}

#[test]
fn configurations_with_a_problem_name_the_field() {
    let fields = |extra: Value| -> Vec<String> { config(5432, 5433, extra).check().into_iter().map(|p| p.field).collect() };
    let defaults = config(5432, 5433, json!({}));
    assert_eq!(defaults.fence, Fence::ReadOnly);
    assert_eq!(defaults.max_lag_bytes, 16 << 20);
    assert_eq!(defaults.promote_timeout_seconds, 60);
    assert_eq!((defaults.primary.user.as_str(), defaults.primary.database.as_str()), ("postgres", "postgres"));
    assert!(defaults.check().is_empty());

    assert_eq!(fields(json!({"fence": "stop"})), ["dataDirectory"]);
    assert_eq!(fields(json!({"fence": "stop", "dataDirectory": "relative/data"})), ["dataDirectory"]);
    assert_eq!(fields(json!({"dataDirectory": "/var/lib/postgresql/15/main"})), ["dataDirectory"]);
    assert_eq!(fields(json!({"primary": server(0)})), ["primary.port"]);
    assert_eq!(fields(json!({"standby": {"host": "127.0.0.1", "port": 5433, "sslMode": "sometimes"}})), ["standby.sslMode"]);
    assert_eq!(fields(json!({"standby": server(5432)})), ["standby"]);
    assert_eq!(fields(json!({"promoteTimeoutSeconds": 0})), ["promoteTimeoutSeconds"]);

    let unknown = json!({"primary": server(5432), "standby": server(5433), "maxLag": 1});
    assert_eq!(steps::parse::<Config>(&unknown).unwrap_err().field, "maxLag");
}
