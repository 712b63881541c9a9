//! Disaster recovery over REST in the seeds' words: a plan saved and approved by another, the
//! backup seeds' procedures and their execute door (an approver's authenticator code, or a run
//! request approved ahead), the
//! DR seeds' execute, status, failovers (initiated against a real HAProxy) and tests; bad input
//! answers 400 with a sentence.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use axum::http::StatusCode;
use bulwark_core::platform::auth::Role;
use bulwark_core::recovery::engine;
use bulwark_testkit::haproxy::{self, HaProxy, HttpBackend};

use crate::TestApp;

fn plan(proxy: &HaProxy, name: &str) -> String {
    let document = format!(
        "name: {name}\ndisasterScenario: hardware_failure\ndisasterType: region_outage\nseverity: 2\nestimatedRtoMinutes: 10\nestimatedRpoMinutes: 5\naffectedSystems: [orders-web]\nsteps:\n\
         \x20 - name: switch web\n    type: load_balancer_config\n    config: {{ socket: {socket}, backend: app, servers: [{{ name: dr, state: ready, weight: 100 }}, {{ name: primary, state: drain }}] }}\n\
         \x20 - name: web answers\n    type: validation\n    maxRetries: 5\n    backoff: {{ baseSeconds: 0.2 }}\n    config: {{ http: {{ url: \"http://127.0.0.1:{port}/\", contains: dr }} }}\n",
        socket = proxy.socket.display(),
        port = proxy.port,
    );
    serde_json::json!({ "document": document }).to_string()
}

/// Runs the run's job as a worker would, and reads the run as `token` sees it.
async fn advance(app: &TestApp, id: &str, token: &str) -> serde_json::Value {
    engine::advance(&app.catalog, &app.secrets, &app.state.targets, &Arc::from([]), id, Arc::new(AtomicBool::new(false)), None).await.unwrap();
    app.get(&format!("/api/disaster-recovery/executions/{id}"), Some(token)).await.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeds_disaster_recovery_doors_work_as_written() {
    let app = TestApp::new(bulwark_testkit::sqlite_url()).await;
    let (_, author) = app.user_with_token("olga", Role::Operator).await;
    let (_, approver) = app.user_with_token("abe", Role::Approver).await;
    let (_, viewer) = app.user_with_token("vic", Role::Viewer).await;
    let web = (HttpBackend::start("primary").unwrap(), HttpBackend::start("dr").unwrap());
    let proxy = HaProxy::start(&[("primary", web.0.port), ("dr", web.1.port)]).unwrap();

    // A plan with a mistake is a sentence naming the step and field; nothing is saved.
    let bad = app.json("POST", "/api/disaster-recovery/plans", &author, &plan(&proxy, "Web").replace("maxRetries: 5", "maxRetries: 500")).await;
    assert_eq!((bad.status, bad.json()["detail"].as_str()), (StatusCode::BAD_REQUEST, Some("step `web answers`, maxRetries: 0 to 20")));
    assert_eq!(app.json("POST", "/api/disaster-recovery/plans", &viewer, &plan(&proxy, "Web")).await.status, StatusCode::FORBIDDEN);
    let created = app.json("POST", "/api/disaster-recovery/plans", &author, &plan(&proxy, "Web")).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let id = created.json()["summary"]["id"].as_str().unwrap().to_string();

    // Not approved: it does not run; its author cannot approve it.
    let execute = format!(r#"{{"planId":"{id}","triggerType":"manual","reason":"web region lost","executionMode":"manual"}}"#);
    assert_eq!(app.json("POST", "/api/disaster-recovery/execute", &author, &execute).await.status, StatusCode::CONFLICT);
    assert_eq!(app.json("POST", &format!("/api/disaster-recovery/plans/{id}/approve"), &author, r#"{"version":1}"#).await.status, StatusCode::FORBIDDEN);
    let approved = app.json("POST", &format!("/api/disaster-recovery/plans/{id}/approve"), &approver, r#"{"version":1,"reason":"read it"}"#).await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text());

    // The backup seeds' procedures.
    let procedures = app.get("/api/admin/backups/disaster-recovery/procedures", Some(&viewer)).await.json();
    let p = &procedures["procedures"][0];
    assert_eq!(
        (p["procedureName"].as_str(), p["disasterType"].as_str(), p["severityLevel"].as_i64(), p["estimatedRTO"].as_i64(), p["estimatedRPO"].as_i64(), p["isActive"].as_bool()),
        (Some("Web"), Some("region_outage"), Some(2), Some(10), Some(5), Some(true))
    );

    // The DR seeds' execute, as written there.
    let started = app.json("POST", "/api/disaster-recovery/execute", &author, &execute).await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.text());
    let s = started.json();
    assert_eq!((s["success"].as_bool(), s["execution"]["status"].as_str(), s["estimatedRTO"].as_i64()), (Some(true), Some("initiated"), Some(10)));
    let run_id = s["executionId"].as_str().unwrap().to_string();
    let status = app.get("/api/disaster-recovery/status", Some(&viewer)).await.json();
    assert_eq!((status["success"].as_bool(), status["status"].as_str()), (Some(true), Some("degraded")), "{status}");
    assert_eq!(status["activeExecutions"][0]["id"].as_str(), Some(run_id.as_str()));
    let run = advance(&app, &run_id, &author).await;
    assert_eq!(run["status"].as_str(), Some("completed"), "{run}");
    assert_eq!(haproxy::get(proxy.port).unwrap(), "dr");
    // Viewers see the steps, not what they read.
    assert!(app.get(&format!("/api/disaster-recovery/executions/{run_id}"), Some(&viewer)).await.json()["steps"][1]["outputData"].is_null());
    let failovers = app.get("/api/disaster-recovery/failovers?timeRange=24h", Some(&viewer)).await.json();
    assert_eq!((failovers["success"].as_bool(), failovers["failovers"][0]["trafficRedirected"].as_bool()), (Some(true), Some(true)), "{failovers}");
    assert_eq!(app.get("/api/disaster-recovery/failovers?timeRange=1y", Some(&viewer)).await.status, StatusCode::BAD_REQUEST);

    // The seeds' failover door runs the plan that names the system; back to primary first.
    haproxy_reset(&proxy);
    let initiate = r#"{"sourceSystem":"orders-web","targetSystem":"dr","reason":"primary site dark","automated":false}"#;
    let initiated = app.json("POST", "/api/disaster-recovery/failovers/initiate", &author, initiate).await;
    assert_eq!(initiated.status, StatusCode::ACCEPTED, "{}", initiated.text());
    let f = initiated.json();
    assert_eq!((f["success"].as_bool(), f["failover"]["sourceSystem"].as_str(), f["failover"]["planId"].as_str()), (Some(true), Some("orders-web"), Some(id.as_str())));
    let run = advance(&app, f["failover"]["executionId"].as_str().unwrap(), &author).await;
    assert_eq!(run["status"].as_str(), Some("completed"), "{run}");
    let unknown = app.json("POST", "/api/disaster-recovery/failovers/initiate", &author, &initiate.replace("orders-web", "billing")).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.text());

    // The backup seeds' procedure door needs an approver's code; a wrong one is refused.
    let procedure = format!(r#"{{"procedureId":"{id}","disasterType":"region_outage","affectedSystems":["orders-web"],"incidentReference":"INC-7","approvalCode":"abe:000000"}}"#);
    let refused = app.json("POST", "/api/admin/backups/disaster-recovery/execute", &author, &procedure).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());
    let wrong_type = app.json("POST", "/api/admin/backups/disaster-recovery/execute", &author, &procedure.replace("region_outage", "storage_failure")).await;
    assert_eq!(wrong_type.status, StatusCode::BAD_REQUEST, "{}", wrong_type.text());
    // …or the id of a run request another person approved ahead, spent by the run it starts.
    haproxy_reset(&proxy);
    let asked = app.json("POST", "/api/disaster-recovery/requests", &author, &format!(r#"{{"planId":"{id}","reason":"web region lost","incidentReference":"INC-7"}}"#)).await;
    assert_eq!(asked.status, StatusCode::CREATED, "{}", asked.text());
    let request_id = asked.json()["id"].as_str().unwrap().to_string();
    let pending = app.get("/api/disaster-recovery/requests?status=pending", Some(&viewer)).await.json();
    assert_eq!(pending["requests"][0]["id"].as_str(), Some(request_id.as_str()), "{pending}");
    assert_eq!(app.get("/api/disaster-recovery/requests?status=later", Some(&viewer)).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.json("POST", &format!("/api/disaster-recovery/requests/{request_id}/approve"), &author, "{}").await.status, StatusCode::FORBIDDEN);
    let decided = app.json("POST", &format!("/api/disaster-recovery/requests/{request_id}/approve"), &approver, r#"{"comment":"go"}"#).await;
    assert_eq!((decided.status, decided.json()["status"].as_str()), (StatusCode::OK, Some("approved")), "{}", decided.text());
    let with_request = procedure.replace("abe:000000", &request_id);
    let executed = app.json("POST", "/api/admin/backups/disaster-recovery/execute", &author, &with_request).await;
    assert_eq!(executed.status, StatusCode::ACCEPTED, "{}", executed.text());
    let e = executed.json();
    assert_eq!((e["estimatedRTO"].as_i64(), e["status"].as_str()), (Some(10), Some("initiated")), "{e}");
    let run = advance(&app, e["executionId"].as_str().unwrap(), &author).await;
    assert_eq!((run["status"].as_str(), run["approvedBy"].as_str()), (Some("completed"), Some("abe")), "{run}");
    assert_eq!(app.json("POST", "/api/admin/backups/disaster-recovery/execute", &author, &with_request).await.status, StatusCode::CONFLICT, "spent");

    // The seeds' backup doors: the inventory (nothing backed up here yet), a data source and a
    // backup that do not exist are named.
    let inventory = app.get("/api/disaster-recovery/backups?limit=10", Some(&viewer)).await;
    assert_eq!(inventory.status, StatusCode::OK, "{}", inventory.text());
    assert_eq!((inventory.json()["success"].as_bool(), inventory.json()["summary"]["count"].as_i64()), (Some(true), Some(0)));
    let create = app.json("POST", "/api/disaster-recovery/backups/create", &author, r#"{"dataSource":"billing-db","backupType":"full","retentionDays":30}"#).await;
    assert_eq!(create.status, StatusCode::NOT_FOUND, "{}", create.text());
    assert!(create.json()["detail"].as_str().unwrap().contains("billing-db"));
    assert_eq!(app.json("POST", "/api/disaster-recovery/backups/nope/verify", &author, "").await.status, StatusCode::NOT_FOUND);

    // Drill results, as the seeds list them.
    let tests = app.get(&format!("/api/disaster-recovery/tests?planId={id}"), Some(&viewer)).await;
    assert_eq!((tests.status, tests.json()["success"].as_bool()), (StatusCode::OK, Some(true)), "{}", tests.text());
}

/// Puts the web backend back on the primary, as an operator would after the drill of it.
fn haproxy_reset(proxy: &HaProxy) {
    for command in ["set server app/primary state ready", "set server app/dr state maint"] {
        assert_eq!(proxy.api(command).unwrap().trim(), "", "{command}");
    }
    assert_eq!(haproxy::get(proxy.port).unwrap(), "primary");
}
