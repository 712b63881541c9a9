//! The `load_balancer_config` runbook step on a real HAProxy before two real web servers: the
//! step moves the traffic from `primary` to the standby `dr` and records what the servers were,
//! and its rollback brings the traffic back with each server exactly as it was; an unknown
//! server or backend fails for good before anything changes, a socket that cannot be reached
//! is worth another try; and names that could reach the runtime API as more than one word are
//! refused when the plan is saved.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bulwark_core::recovery::steps::load_balancer::{self, Config};
use bulwark_core::recovery::steps::{self, Secrets, StepContext, StepError};
use bulwark_testkit::haproxy::{self, HaProxy, HttpBackend};
use serde_json::{Value, json};

#[tokio::test]
async fn traffic_moves_to_the_standby_and_back() {
    let site = Site::start().await;
    site.assert_reaches("primary").await;
    let before = site.servers();

    let cfg = site.config(json!([{ "name": "primary", "state": "drain" }, { "name": "dr", "state": "ready", "weight": 100 }]));
    assert!(cfg.check().is_empty(), "{:?}", cfg.check());
    let output = load_balancer::run(&cfg, &context()).await.unwrap_or_else(|e| panic!("the step failed: {e}"));
    site.assert_reaches("dr").await;
    assert_eq!(
        output,
        json!({
            "backend": "app",
            "servers": [
                { "name": "primary", "state": "drain", "weight": 100, "previous": { "state": "ready", "weight": 100 } },
                { "name": "dr", "state": "ready", "weight": 100, "previous": { "state": "maint", "weight": 100 } }
            ]
        })
    );

    let rolled_back = load_balancer::roll_back(&cfg, &output, &context()).await.unwrap_or_else(|e| panic!("the rollback failed: {e}"));
    site.assert_reaches("primary").await;
    assert_eq!(site.servers(), before, "the rollback did not put each server back exactly");
    assert_eq!(rolled_back["servers"][1]["state"], "maint");
    assert_eq!(rolled_back["servers"][1]["previous"], json!({ "state": "ready", "weight": 100 }));
}

#[tokio::test]
async fn unknown_names_fail_for_good_and_an_unreachable_socket_is_retried() {
    let site = Site::start().await;
    let before = site.servers();

    let cfg = site.config(json!([{ "name": "dr", "state": "ready" }, { "name": "standby", "state": "ready" }]));
    let error = run_failing(&cfg).await;
    assert!(!error.retryable && error.message.contains("standby"), "{error:?}");
    assert_eq!(site.servers(), before, "a step that failed left a server changed");

    let mut other_backend = cfg.clone();
    other_backend.backend = "web".into();
    let error = run_failing(&other_backend).await;
    assert!(!error.retryable && error.message.contains("web"), "{error:?}");

    let mut no_socket = cfg.clone();
    no_socket.socket = site.lb.socket.with_file_name("gone.sock");
    let error = run_failing(&no_socket).await;
    assert!(error.retryable && error.message.contains("gone.sock"), "{error:?}");
    assert_eq!(site.servers(), before);
}

#[test]
fn check_names_the_field_of_each_problem() {
    let cfg: Config = steps::parse(&json!({
        "socket": "haproxy/admin.sock",
        "backend": "app",
        "servers": [
            { "name": "primary\nset server app/dr state maint", "state": "drain" },
            { "name": "dr server", "weight": 257 },
            { "name": "standby" }
        ],
        "timeoutSeconds": 0
    }))
    .unwrap();
    let fields: Vec<String> = cfg.check().into_iter().map(|problem| problem.field).collect();
    assert_eq!(fields, ["socket", "servers.0.name", "servers.1.name", "servers.1.weight", "servers.2", "timeoutSeconds"]);

    let cfg: Config = steps::parse(&json!({ "socket": "/run/haproxy/admin.sock", "backend": "app;shutdown", "servers": [] })).unwrap();
    let fields: Vec<String> = cfg.check().into_iter().map(|problem| problem.field).collect();
    assert_eq!(fields, ["backend", "servers"]);

    let cfg: Config = steps::parse(&json!({
        "socket": "/run/haproxy/admin.sock",
        "backend": "app",
        "servers": [{ "name": "dr", "state": "ready" }, { "name": "dr", "weight": 0 }]
    }))
    .unwrap();
    let fields: Vec<String> = cfg.check().into_iter().map(|problem| problem.field).collect();
    assert_eq!(fields, ["servers.1.name"]);

    let typo = steps::parse::<Config>(&json!({ "socket": "/run/haproxy/admin.sock", "backend": "app", "servers": [{ "name": "dr", "wieght": 1 }] }));
    assert_eq!(typo.unwrap_err().field, "wieght");
}

/// HAProxy before two web servers: `primary` taking the traffic and `dr` in maintenance.
struct Site {
    lb: HaProxy,
    _primary: HttpBackend,
    _dr: HttpBackend,
}

impl Site {
    async fn start() -> Site {
        let primary = HttpBackend::start("primary").expect("start the primary web server");
        let dr = HttpBackend::start("dr").expect("start the standby web server");
        let servers = [("primary", primary.port), ("dr", dr.port)];
        let lb = tokio::task::spawn_blocking(move || HaProxy::start(&servers))
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("cannot start HAProxy: {e}"));
        Site { lb, _primary: primary, _dr: dr }
    }

    fn config(&self, servers: Value) -> Config {
        steps::parse(&json!({ "socket": self.lb.socket, "backend": "app", "servers": servers })).unwrap()
    }

    /// Waits until requests through HAProxy reach `name` (a change may take a request or two),
    /// then checks that the next few all do.
    async fn assert_reaches(&self, name: &str) {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut last = self.get().await;
        while last.as_deref() != Ok(name) {
            assert!(Instant::now() < deadline, "requests never reached {name} (last: {last:?}); HAProxy's log:\n{}", self.lb.log());
            tokio::time::sleep(Duration::from_millis(100)).await;
            last = self.get().await;
        }
        for _ in 0..4 {
            assert_eq!(self.get().await.as_deref(), Ok(name), "a request went elsewhere than {name}");
        }
    }

    async fn get(&self) -> Result<String, String> {
        let port = self.lb.port;
        tokio::task::spawn_blocking(move || haproxy::get(port)).await.unwrap()
    }

    /// Each server's name, admin state bits and weight, read from HAProxy directly.
    fn servers(&self) -> Vec<(String, String, String)> {
        let reply = self.lb.api("show servers state app").unwrap();
        let mut lines = reply.lines();
        let header: Vec<&str> = lines.find_map(|line| line.strip_prefix("# ")).expect("a header").split_whitespace().collect();
        let at = |column: &str| header.iter().position(|c| *c == column).unwrap();
        lines
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                (fields[at("srv_name")].to_string(), fields[at("srv_admin_state")].to_string(), fields[at("srv_uweight")].to_string())
            })
            .collect()
    }
}

async fn run_failing(cfg: &Config) -> StepError {
    load_balancer::run(cfg, &context()).await.expect_err("the step should have failed")
}

/// These steps need no credentials.
struct NoSecrets;

#[async_trait]
impl Secrets for NoSecrets {
    async fn secret(&self, name: &str) -> Result<String, StepError> {
        Err(StepError::permanent(format!("no secret {name} in these tests")))
    }
}

static NO_SECRETS: NoSecrets = NoSecrets;

fn context() -> StepContext<'static> {
    StepContext { secrets: &NO_SECRETS, cancel: Arc::new(AtomicBool::new(false)), timeout: Duration::from_secs(30) }
}
