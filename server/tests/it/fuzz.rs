//! Request bodies from a generator (JSON of every shape, with the API's own field names and
//! hostile strings) sent to every route that takes one, as an admin: none may answer 5xx (a
//! panic answers 500 too), and the catalog must still answer afterwards.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use bulwark_core::platform::auth::Role;
use bulwark_server::api::access::ROUTES;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::Value;

use crate::TestApp;

/// Field names the API reads, so generated objects reach past "unknown field".
const KEYS: &[&str] = &[
    "name", "sourceType", "sourceIdentifier", "storageLocationIds", "frequency", "backupType", "locationName", "storageType", "provider",
    "pathPrefix", "endpoint", "bucket", "region", "accessKeyId", "secretAccessKey", "targetPath", "targetUrl", "targetPassword",
    "targetDirectory", "targetTime", "restorePoint", "port", "tables", "include", "username", "password", "role", "expiresInDays",
    "keepLast", "reason", "title", "dryRun", "executionId", "configurationId", "targetBucket", "targetPrefix", "members", "rpoMinutes",
    "rtoMinutes", "schedule", "sourceOptions", "minimumAgeDays", "targetLocationId", "keyFile", "disabled", "expiresAt",
];

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,24}",
        Just(String::new()),
        Just("$(touch /tmp/bulwark-fuzz)".to_string()),
        Just("../../../../etc/passwd".to_string()),
        Just("postgresql://u:p@169.254.169.254:5432/x?host=/tmp".to_string()),
        Just("x".repeat(70_000)),
        Just("\u{0}\n\r'\"\\".to_string()),
        Just("2026-13-45T99:99:99Z".to_string()),
        "[a-z0-9-]{1,12}",
    ]
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::json!(f)),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 32, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..8)
                .prop_map(|pairs| Value::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_body_gives_a_server_error() {
    let app = TestApp::new(bulwark_testkit::sqlite_url()).await;
    let (_, admin) = app.user_with_token("root", Role::Admin).await;
    let mut runner = TestRunner::deterministic();
    let strategy = json();
    let mut failures = Vec::new();
    for (method, path, _) in ROUTES.iter().filter(|(m, ..)| *m != "GET") {
        for _ in 0..24 {
            let body = strategy.new_tree(&mut runner).unwrap().current();
            let uri = format!("/api{path}").replace("{id}", "00000000-0000-4000-8000-000000000000").replace("{name}", "000000010000000000000001");
            let request = Request::builder()
                .method(*method)
                .uri(&uri)
                .header("authorization", format!("Bearer {admin}"))
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .unwrap();
            let reply = app.send(request).await;
            if reply.status.is_server_error() {
                let shown: String = body.to_string().chars().take(300).collect();
                failures.push(format!("{method} {path} {shown}: {} {}", reply.status, reply.text()));
            }
        }
    }
    assert!(failures.is_empty(), "{} bodies gave a server error:\n{}", failures.len(), failures.join("\n"));
    assert!(!std::path::Path::new("/tmp/bulwark-fuzz").exists(), "a generated value ran as a command");
    assert_eq!(app.get("/api/me", Some(&admin)).await.status, StatusCode::OK);
}
