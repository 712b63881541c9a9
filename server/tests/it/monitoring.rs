//! Monitoring over REST in the seeds' words: an outside agent records samples with the seeds'
//! snake_case body through a token that may do nothing else; `GET /api/disaster-recovery/health`
//! answers the samples, the summary and the alerts; services are managed by admins, probed on
//! demand by operators, and bad ones answer 400 with a sentence.

use axum::http::StatusCode;
use bulwark_core::platform::auth::Role;

use crate::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_record_samples_and_services_are_managed_over_rest() {
    let app = TestApp::new(bulwark_testkit::sqlite_url()).await;
    let (_, admin) = app.user_with_token("ada", Role::Admin).await;
    let (_, operator) = app.user_with_token("ops", Role::Operator).await;
    let (_, viewer) = app.user_with_token("vic", Role::Viewer).await;

    // A token that may only record.
    let made = app.json("POST", "/api/admin/monitoring/record-token", &operator, r#"{"name":"edge agent"}"#).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
    let agent = made.json()["secret"].as_str().unwrap().to_string();
    assert_eq!(app.json("POST", "/api/admin/monitoring/record-token", &viewer, r#"{"name":"x"}"#).await.status, StatusCode::FORBIDDEN);

    // The seeds' body, as the table's columns.
    let body = r#"{"service_name":"payments-api","health_status":"unhealthy","response_time_ms":950,"cpu_usage":91.5,"memory_usage":40,"error_rate":12.5,"custom_metrics":{"queue":7},"geographical_region":"eu-west-1"}"#;
    let recorded = app.json("POST", "/api/disaster-recovery/health/record", &agent, body).await;
    assert_eq!(recorded.status, StatusCode::OK, "{}", recorded.text());
    assert_eq!(recorded.json()["success"].as_bool(), Some(true));
    assert_eq!(recorded.json()["sample"]["alertsTriggered"][0].as_str(), Some("service_unhealthy"));
    // The token does nothing else.
    assert_eq!(app.get("/api/disaster-recovery/health", Some(&agent)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get("/api/admin/monitoring/services", Some(&agent)).await.status, StatusCode::FORBIDDEN);
    let bad = app.json("POST", "/api/disaster-recovery/health/record", &agent, r#"{"service_name":"payments-api","health_status":"on fire"}"#).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.json()["detail"].as_str(), Some("health_status: \"on fire\" is not one of healthy, degraded, unhealthy, unknown"));

    let health = app.get("/api/disaster-recovery/health?timeRange=24h&services=payments-api", Some(&viewer)).await;
    assert_eq!(health.status, StatusCode::OK, "{}", health.text());
    let h = health.json();
    assert_eq!((h["success"].as_bool(), h["healthData"].as_array().map(Vec::len)), (Some(true), Some(1)), "{h}");
    let sample = &h["healthData"][0];
    assert_eq!((sample["serviceName"].as_str(), sample["cpuUsage"].as_f64(), sample["customMetrics"]["queue"].as_i64()), (Some("payments-api"), Some(91.5), Some(7)));
    assert_eq!((h["summary"]["overallStatus"].as_str(), h["summary"]["unhealthy"].as_i64()), (Some("unhealthy"), Some(1)));
    assert_eq!(h["alerts"][0]["alertType"].as_str(), Some("service_unhealthy"), "{h}");
    // Recovered: the alert resolves.
    app.json("POST", "/api/disaster-recovery/health/record", &agent, r#"{"serviceName":"payments-api","healthStatus":"healthy"}"#).await;
    assert_eq!(app.get("/api/disaster-recovery/health", Some(&viewer)).await.json()["alerts"].as_array().map(Vec::len), Some(0));
    assert_eq!(app.get("/api/disaster-recovery/health?timeRange=1y", Some(&viewer)).await.status, StatusCode::BAD_REQUEST);

    // Services: admins create (a zero interval is a sentence, nothing saved), operators probe.
    let zero = app.json("POST", "/api/admin/monitoring/services", &admin, r#"{"name":"api","kind":"tcp","settings":{"host":"127.0.0.1","port":9},"intervalSeconds":0}"#).await;
    assert_eq!((zero.status, zero.json()["detail"].as_str()), (StatusCode::BAD_REQUEST, Some("intervalSeconds: from 5 to 86,400 seconds")));
    assert_eq!(app.json("POST", "/api/admin/monitoring/services", &operator, r#"{"name":"api","kind":"tcp","settings":{"host":"127.0.0.1","port":9}}"#).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get("/api/admin/monitoring/services", Some(&viewer)).await.json()["services"].as_array().map(Vec::len), Some(0));
    let port = bulwark_testkit::free_port();
    let created = app.json("POST", "/api/admin/monitoring/services", &admin, &format!(r#"{{"name":"api","kind":"tcp","settings":{{"host":"127.0.0.1","port":{port}}},"intervalSeconds":30}}"#)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let id = created.json()["id"].as_str().unwrap().to_string();
    let checked = app.json("POST", &format!("/api/admin/monitoring/services/{id}/check"), &operator, "").await;
    assert_eq!((checked.status, checked.json()["healthStatus"].as_str()), (StatusCode::OK, Some("unhealthy")), "{}", checked.text());
    let listed = app.get("/api/admin/monitoring/services", Some(&viewer)).await.json();
    assert_eq!((listed["services"][0]["lastStatus"].as_str(), listed["services"][0]["consecutiveFailures"].as_i64()), (Some("unhealthy"), Some(1)));
    let changed = app.json("PUT", &format!("/api/admin/monitoring/services/{id}"), &admin, &format!(r#"{{"name":"api","settings":{{"host":"127.0.0.1","port":{port}}},"enabled":false}}"#)).await;
    assert_eq!((changed.status, changed.json()["enabled"].as_bool(), changed.json()["intervalSeconds"].as_i64()), (StatusCode::OK, Some(false), Some(30)), "{}", changed.text());
    assert_eq!(app.json("DELETE", &format!("/api/admin/monitoring/services/{id}"), &admin, "").await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&format!("/api/admin/monitoring/services/{id}"), Some(&viewer)).await.status, StatusCode::NOT_FOUND);
}

/// The live dashboard's stream: its first event at once, with what the dashboard's figures
/// stand on; a viewer may follow it, a caller without credentials not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_stream_sends_its_first_event_at_once() {
    use axum::body::Body;
    use axum::http::Request;
    let app = TestApp::new(bulwark_testkit::sqlite_url()).await;
    let (_, viewer) = app.user_with_token("vic", Role::Viewer).await;
    let request = Request::get("/api/admin/backups/dashboard/events").header("authorization", format!("Bearer {viewer}")).body(Body::empty()).unwrap();
    let reply = app.send_to_first_event(request).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers.get("content-type").and_then(|v| v.to_str().ok()), Some("text/event-stream"));
    let text = reply.text();
    assert!(text.starts_with("event: dashboard\ndata: {\"fingerprint\":\"0/0/0/0/0/0/\"}"), "{text}");
    let anonymous = app.send_to_first_event(Request::get("/api/admin/backups/dashboard/events").body(Body::empty()).unwrap()).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

/// An event stream authenticated once used to stream on after its token was revoked or its
/// session ended: the caller is looked at again as the stream goes, and the stream ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_stream_ends_with_its_token_or_session() {
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let app = TestApp::new(bulwark_testkit::sqlite_url()).await;
    let (owner, secret) = app.user_with_token("vic", Role::Viewer).await;
    let request = Request::get("/api/admin/backups/dashboard/events").header("authorization", format!("Bearer {secret}")).body(Body::empty()).unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    assert!(first.starts_with(b"event: dashboard"), "{first:?}");

    let token = bulwark_core::platform::accounts::tokens::authenticate(&app.catalog, &secret).await.unwrap().token_id.unwrap();
    bulwark_core::platform::accounts::tokens::revoke(&app.catalog, &owner, &token).await.unwrap();
    let ended = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        // Keep-alive comments may come first; the stream then ends.
        while let Some(frame) = body.frame().await {
            let data = frame.unwrap().into_data().unwrap_or_default();
            assert!(!data.starts_with(b"event:"), "no event after the revocation: {data:?}");
        }
    })
    .await;
    assert!(ended.is_ok(), "the stream went on after its token was revoked");

    // A browser's stream ends with its session (logged out, expired, or dropped by a new
    // password).
    use bulwark_core::platform::sessions::{self, SessionRow};
    let id = tower_sessions::session::Id::default().to_string();
    let row = SessionRow {
        id: id.clone(),
        user_id: Some(owner.user_id.clone()),
        data: serde_json::json!({ "user_id": owner.user_id, "login_at": chrono::Utc::now().timestamp() }).to_string(),
        expires_at: bulwark_core::platform::time::to_text(chrono::Utc::now() + chrono::Duration::hours(1)),
    };
    sessions::save(&app.catalog, &row).await.unwrap();
    let request = Request::get("/api/admin/backups/dashboard/events").header("cookie", format!("bulwark_session={id}")).body(Body::empty()).unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    assert!(body.frame().await.unwrap().unwrap().into_data().unwrap().starts_with(b"event: dashboard"));
    sqlx::query("DELETE FROM sessions").execute(app.catalog.pool()).await.unwrap();
    let ended = tokio::time::timeout(std::time::Duration::from_secs(30), async { while body.frame().await.is_some() {} }).await;
    assert!(ended.is_ok(), "the stream went on after its session ended");
}
