//! The `service_start` runbook step: a program the server allows starts a service (really run,
//! from an empty environment) and the step waits for its health check; a program the server
//! does not allow never runs; a failing program, one past the step's timeout and a health
//! check that never passes are worth another try, a cancelled run stops its program; an orchestrator's HTTP API starts a service
//! and its rollback request stops it; and a plan naming a program by anything but its absolute
//! path is refused when it is saved.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bulwark_core::recovery::steps::service_start::{self, Config};
use bulwark_core::recovery::steps::{self, Secrets, StepContext, StepError};
use bulwark_types::StepType;
use serde_json::{Value, json};

#[tokio::test]
async fn an_allowed_program_starts_the_service_and_the_health_check_passes() {
    let dir = scratch();
    let marker = dir.join("started");
    let service = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let cfg = config(json!({
        "command": ["/usr/bin/touch", marker.to_str().unwrap()],
        "healthCheck": { "tcp": service.local_addr().unwrap().to_string() },
    }));
    let output = service_start::run(&cfg, &context(Duration::from_secs(30)), &allowed(&["/usr/bin/touch"])).await.unwrap();
    assert!(marker.exists(), "the program did not run: {output}");
    assert_eq!(output["exitStatus"], 0, "{output}");
    assert_eq!(output["health"]["passed"], true, "{output}");
    // Without a rollback, undoing says so and touches nothing.
    let undone = service_start::roll_back(&cfg, &output, &context(Duration::from_secs(30)), &allowed(&["/usr/bin/touch"])).await.unwrap();
    assert!(undone["undone"].as_str().unwrap().starts_with("nothing"), "{undone}");
}

#[tokio::test]
async fn the_program_sees_none_of_the_servers_environment_and_its_output_is_kept() {
    // SAFETY: set before this test's child starts; no other test reads it.
    unsafe { std::env::set_var("BULWARK_SERVICE_TEST_SECRET", "hunter2") };
    let service = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let cfg = config(json!({ "command": ["/usr/bin/env"], "healthCheck": { "tcp": service.local_addr().unwrap().to_string() } }));
    let output = service_start::run(&cfg, &context(Duration::from_secs(30)), &allowed(&["/usr/bin/env"])).await.unwrap();
    let stdout = output["stdout"].as_str().unwrap();
    let names: Vec<&str> = stdout.lines().filter_map(|l| l.split_once('=').map(|(n, _)| n)).collect();
    assert!(!stdout.contains("hunter2"), "{stdout}");
    assert!(names.contains(&"PATH") && names.iter().all(|n| ["PATH", "HOME", "TZ"].contains(n)), "{names:?}");
}

#[tokio::test]
async fn a_program_the_server_does_not_allow_never_runs() {
    let dir = scratch();
    let marker = dir.join("started");
    let cfg = config(json!({ "command": ["/usr/bin/touch", marker.to_str().unwrap()], "healthCheck": { "tcp": "127.0.0.1:1" } }));
    for list in [allowed(&[]), allowed(&["/usr/bin/true"])] {
        let err = service_start::run(&cfg, &context(Duration::from_secs(30)), &list).await.unwrap_err();
        assert!(!err.retryable, "{err}");
        assert!(err.message.contains("/usr/bin/touch") && err.message.contains("--recovery-command"), "{err}");
        assert!(!marker.exists());
    }
    // Nor does a rollback's.
    let cfg = config(json!({ "command": ["/usr/bin/true"], "healthCheck": { "tcp": "127.0.0.1:1" }, "rollbackCommand": ["/usr/bin/touch", marker.to_str().unwrap()] }));
    let err = service_start::roll_back(&cfg, &json!({}), &context(Duration::from_secs(30)), &allowed(&["/usr/bin/true"])).await.unwrap_err();
    assert!(!err.retryable && err.message.contains("/usr/bin/touch"), "{err}");
    assert!(!marker.exists());
}

#[tokio::test]
async fn a_failing_program_is_worth_another_try_and_names_its_exit_status() {
    let service = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let cfg = config(json!({ "command": ["/usr/bin/false"], "healthCheck": { "tcp": service.local_addr().unwrap().to_string() } }));
    let err = service_start::run(&cfg, &context(Duration::from_secs(30)), &allowed(&["/usr/bin/false"])).await.unwrap_err();
    assert!(err.retryable, "{err}");
    assert!(err.message.contains("/usr/bin/false") && err.message.contains("exit status: 1"), "{err}");
}

#[tokio::test]
async fn a_program_past_the_steps_timeout_is_stopped() {
    let cfg = config(json!({ "command": ["/usr/bin/sleep", "30"], "healthCheck": { "tcp": "127.0.0.1:1" } }));
    let started = Instant::now();
    let err = service_start::run(&cfg, &context(Duration::from_secs(1)), &allowed(&["/usr/bin/sleep"])).await.unwrap_err();
    assert!(err.retryable && err.message.contains("timeout"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_cancelled_run_stops_the_program() {
    let cfg = config(json!({ "command": ["/usr/bin/sleep", "30"], "healthCheck": { "tcp": "127.0.0.1:1" } }));
    let ctx = context(Duration::from_secs(30));
    let cancel = ctx.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        cancel.store(true, Ordering::Relaxed);
    });
    let started = Instant::now();
    let err = service_start::run(&cfg, &ctx, &allowed(&["/usr/bin/sleep"])).await.unwrap_err();
    assert!(!err.retryable && err.message.contains("cancelled"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_health_check_that_never_passes_times_out() {
    let closed = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().to_string()
    };
    let cfg = config(json!({ "command": ["/usr/bin/true"], "healthCheck": { "tcp": closed }, "healthTimeoutSeconds": 1 }));
    let started = Instant::now();
    let err = service_start::run(&cfg, &context(Duration::from_secs(30)), &allowed(&["/usr/bin/true"])).await.unwrap_err();
    assert!(err.retryable, "{err}");
    assert!(err.message.contains("health check did not pass within 1 s"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}

#[tokio::test]
async fn an_orchestrators_api_starts_the_service_and_the_rollback_request_stops_it() {
    let api = Orchestrator::start().await;
    let cfg = config(json!({
        "request": { "url": format!("{}/start", api.base) },
        "healthCheck": { "http": format!("{}/health", api.base), "contains": "up" },
        "healthIntervalSeconds": 1,
        "rollbackRequest": { "url": format!("{}/stop", api.base), "method": "PUT", "expectStatus": 202 },
    }));
    let output = service_start::run(&cfg, &context(Duration::from_secs(30)), &allowed(&[])).await.unwrap();
    assert_eq!(output["status"], 201, "{output}");
    assert_eq!(output["health"]["passed"], true, "{output}");
    assert_eq!(api.starts.load(Ordering::SeqCst), 1);
    assert!(api.up.load(Ordering::SeqCst));

    let undone = service_start::roll_back(&cfg, &output, &context(Duration::from_secs(30)), &allowed(&[])).await.unwrap();
    assert_eq!(undone["status"], 202, "{undone}");
    assert!(!api.up.load(Ordering::SeqCst));

    // A status other than the one expected is a failed attempt.
    let wrong = config(json!({ "request": { "url": format!("{}/start", api.base), "expectStatus": 200 }, "healthCheck": { "http": format!("{}/health", api.base) } }));
    let err = service_start::run(&wrong, &context(Duration::from_secs(30)), &allowed(&[])).await.unwrap_err();
    assert!(err.retryable && err.message.contains("answered 201, expected 200"), "{err}");
}

#[test]
fn a_plan_names_each_wrong_field_when_it_is_saved() {
    let fields = |config: Value| -> Vec<String> { steps::check(StepType::ServiceStart, &config).into_iter().map(|p| p.field).collect() };
    let health = json!({ "tcp": "127.0.0.1:8080" });
    assert_eq!(fields(json!({ "command": ["/usr/local/bin/start-orders"], "healthCheck": health })), Vec::<String>::new());
    assert_eq!(fields(json!({ "request": { "url": "http://orchestrator:8080/services/orders/start" }, "healthCheck": { "http": "http://orders:8080/health", "contains": "ok" } })), Vec::<String>::new());
    // A shell line is a program's name only when it is an absolute path, and then it names no
    // program the server allows.
    assert_eq!(fields(json!({ "command": ["systemctl restart orders"], "healthCheck": health })), ["command.0"]);
    assert_eq!(fields(json!({ "command": ["start-orders", "--now"], "healthCheck": health })), ["command.0"]);
    assert_eq!(fields(json!({ "command": ["/usr/bin/../../tmp/x"], "healthCheck": health })), ["command.0"]);
    assert_eq!(fields(json!({ "command": [], "healthCheck": health })), ["command"]);
    assert_eq!(fields(json!({ "command": ["/usr/bin/true", ""], "healthCheck": health })), ["command.1"]);
    assert_eq!(fields(json!({ "command": ["/usr/bin/true", "a\u{0}b"], "healthCheck": health })), ["command.1"]);
    assert_eq!(fields(json!({ "command": ["/usr/bin/true", "x".repeat(4097)], "healthCheck": health })), ["command.1"]);
    let many: Vec<String> = std::iter::once("/usr/bin/true".to_string()).chain((0..64).map(|i| i.to_string())).collect();
    assert_eq!(fields(json!({ "command": many, "healthCheck": health })), ["command"]);
    let said = |config: Value| -> String { steps::check(StepType::ServiceStart, &config).into_iter().map(|p| p.message).collect::<Vec<_>>().join("; ") };
    assert!(said(json!({ "command": "/usr/bin/true", "healthCheck": health })).contains("expected a sequence"), "a string, not an argument list");
    assert_eq!(fields(json!({ "shell": "systemctl restart orders", "healthCheck": health })), ["shell"]);
    assert_eq!(fields(json!({ "healthCheck": health })), [""]);
    assert_eq!(fields(json!({ "command": ["/usr/bin/true"], "request": { "url": "http://o/start" }, "healthCheck": health })), [""]);
    assert_eq!(fields(json!({ "command": ["/usr/bin/true"] })), ["healthCheck"]);
    assert_eq!(fields(json!({ "command": ["/usr/bin/true"], "healthCheck": {} })), ["healthCheck"]);
    assert_eq!(fields(json!({ "command": ["/usr/bin/true"], "healthCheck": { "tcp": "orders" } })), ["healthCheck.tcp"]);
    assert_eq!(fields(json!({ "command": ["/usr/bin/true"], "healthCheck": { "tcp": "orders:80", "contains": "ok" } })), ["healthCheck.contains"]);
    assert_eq!(fields(json!({ "command": ["/usr/bin/true"], "healthCheck": { "http": "ftp://orders/" } })), ["healthCheck.http"]);
    assert_eq!(fields(json!({ "request": { "url": "http://u:p@o/start" }, "healthCheck": health })), ["request.url"]);
    assert!(said(json!({ "request": { "url": "http://o/start", "method": "DELETE" }, "healthCheck": health })).contains("DELETE"));
    assert_eq!(fields(json!({ "request": { "url": "http://o/start", "expectStatus": 700 }, "healthCheck": health })), ["request.expectStatus"]);
    assert_eq!(fields(json!({ "command": ["/usr/bin/true"], "healthCheck": health, "healthIntervalSeconds": 0, "healthTimeoutSeconds": 0 })), ["healthIntervalSeconds", "healthTimeoutSeconds"]);
    assert_eq!(fields(json!({ "command": ["/usr/bin/true"], "healthCheck": health, "rollbackCommand": ["stop-orders"] })), ["rollbackCommand.0"]);
    assert_eq!(fields(json!({ "command": ["/usr/bin/true"], "healthCheck": health, "rollbackCommand": ["/usr/bin/true"], "rollbackRequest": { "url": "http://o/stop" } })), ["rollbackCommand"]);
    assert_eq!(fields(json!({ "command": ["/usr/bin/true"], "healthCheck": health, "rollbackRequest": { "url": "file:///stop" } })), ["rollbackRequest.url"]);
    // Starting a service twice may start two: a run taken over waits for a person.
    assert!(!steps::idempotent(StepType::ServiceStart));
}

/// A stand-in for an orchestrator's API: `POST /start` (201) brings the service up, `PUT /stop`
/// (202) down; `GET /health` answers 200 "up" only while it is up.
struct Orchestrator {
    base: String,
    starts: Arc<AtomicUsize>,
    up: Arc<AtomicBool>,
}

impl Orchestrator {
    async fn start() -> Orchestrator {
        use axum::http::StatusCode;
        let (starts, up) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicBool::new(false)));
        let (s, u1, u2, u3) = (starts.clone(), up.clone(), up.clone(), up.clone());
        let app = axum::Router::new()
            .route(
                "/start",
                axum::routing::post(move || async move {
                    s.fetch_add(1, Ordering::SeqCst);
                    u1.store(true, Ordering::SeqCst);
                    (StatusCode::CREATED, "starting")
                }),
            )
            .route(
                "/stop",
                axum::routing::put(move || async move {
                    u2.store(false, Ordering::SeqCst);
                    (StatusCode::ACCEPTED, "stopping")
                }),
            )
            .route(
                "/health",
                axum::routing::get(move || async move { if u3.load(Ordering::SeqCst) { (StatusCode::OK, "up") } else { (StatusCode::SERVICE_UNAVAILABLE, "down") } }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Orchestrator { base, starts, up }
    }
}

fn config(value: Value) -> Config {
    let cfg: Config = steps::parse(&value).unwrap();
    assert_eq!(cfg.check(), Vec::new(), "{value}");
    cfg
}

fn allowed(programs: &[&str]) -> Vec<PathBuf> {
    programs.iter().map(PathBuf::from).collect()
}

fn scratch() -> PathBuf {
    bulwark_core::platform::child::scratch_dir(bulwark_testkit::process_root(), "service-start-").unwrap()
}

struct NoSecrets;

#[async_trait]
impl Secrets for NoSecrets {
    async fn secret(&self, name: &str) -> Result<String, StepError> {
        Err(StepError::permanent(format!("no secret {name} in these tests")))
    }
}

static NO_SECRETS: NoSecrets = NoSecrets;

fn context(timeout: Duration) -> StepContext<'static> {
    StepContext { secrets: &NO_SECRETS, cancel: Arc::new(AtomicBool::new(false)), timeout }
}
