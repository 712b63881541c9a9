//! Alerts over REST in the seeds' words: listed with filters by any role, acknowledged with
//! the seeds' bodiless `POST …/alerts/{id}/acknowledge` by an operator (not a viewer), resolved
//! with notes; bad filters and empty notes answer 400 with a sentence.

use axum::http::StatusCode;
use bulwark_core::alerts::{self, AlertType, Condition, Severity};
use bulwark_core::platform::auth::Role;

use crate::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_are_listed_acknowledged_and_resolved_over_rest() {
    let app = TestApp::new(bulwark_testkit::sqlite_url()).await;
    let (_, operator) = app.user_with_token("ops", Role::Operator).await;
    let (_, viewer) = app.user_with_token("vic", Role::Viewer).await;
    let condition = Condition { alert_type: AlertType::LocationUnreachable, severity: Severity::Critical, subject: "storage_location:x", message: "no answer", configuration_id: None, execution_id: None };
    let id = alerts::raise_condition(&app.catalog, &condition).await.unwrap();

    let base = "/api/admin/backups/alerts";
    let listed = app.get(&format!("{base}?status=active&severity=critical"), Some(&viewer)).await.json();
    let first = &listed["alerts"][0];
    assert_eq!((first["id"].as_str(), first["alertType"].as_str(), first["acknowledged"].as_bool()), (Some(id.as_str()), Some("location_unreachable"), Some(false)), "{listed}");
    assert_eq!(first["alertMessage"].as_str(), Some("no answer"));
    assert!(first["triggeredAt"].is_string() && first["alertHash"].as_str().is_some_and(|h| h.len() == 64), "{listed}");
    let bad = app.get(&format!("{base}?type=nope"), Some(&viewer)).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.json()["detail"].as_str(), Some("type: no alert type is called \"nope\""));

    // The seeds' acknowledge: no body.
    assert_eq!(app.json("POST", &format!("{base}/{id}/acknowledge"), &viewer, "").await.status, StatusCode::FORBIDDEN);
    let taken = app.json("POST", &format!("{base}/{id}/acknowledge"), &operator, "").await;
    assert_eq!(taken.status, StatusCode::OK, "{}", taken.text());
    assert_eq!((taken.json()["status"].as_str(), taken.json()["acknowledgedBy"].as_str()), (Some("acknowledged"), Some("ops")));
    assert_eq!(app.json("POST", &format!("{base}/{id}/acknowledge"), &operator, "").await.status, StatusCode::CONFLICT);

    let empty = app.json("POST", &format!("{base}/{id}/resolve"), &operator, r#"{"resolutionNotes":"  "}"#).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    let done = app.json("POST", &format!("{base}/{id}/resolve"), &operator, r#"{"resolutionNotes":"the disk is back"}"#).await.json();
    assert_eq!((done["status"].as_str(), done["resolutionNotes"].as_str()), (Some("resolved"), Some("the disk is back")));
    assert_eq!(app.get(&format!("{base}/{id}"), Some(&viewer)).await.json()["resolvedBy"].as_str(), Some("ops"));
    assert_eq!(app.get(&format!("{base}/nope"), Some(&viewer)).await.status, StatusCode::NOT_FOUND);
}

/// Channels, silences, escalation and an alert's history over REST: a webhook channel is
/// created by an admin (not an operator; a `javascript:` address answers 400 and saves
/// nothing), shown without its secret after its creation, and its test message reaches a
/// receiver and is logged; an operator silences a type and lifts it; a bad escalation schedule
/// answers 400; the history lists the alert's steps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_silences_and_history_over_rest() {
    let app = TestApp::new(bulwark_testkit::sqlite_url()).await;
    let (_, admin) = app.user_with_token("ada", Role::Admin).await;
    let (_, operator) = app.user_with_token("ops", Role::Operator).await;
    let (_, viewer) = app.user_with_token("vic", Role::Viewer).await;
    // A receiver that keeps the bodies it is sent.
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let kept = got.clone();
    let receiver = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: String| {
            let kept = kept.clone();
            async move {
                kept.lock().unwrap().push(body);
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, receiver).await.unwrap() });

    let channels = "/api/admin/notifications/channels";
    let bad = app.json("POST", channels, &admin, r#"{"name":"x","kind":"webhook","settings":{"url":"javascript:alert(1)"}}"#).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text());
    assert!(bad.json()["detail"].as_str().unwrap().starts_with("settings.url: a webhook is called over http:// or https://"), "{}", bad.text());
    let body = format!(r#"{{"name":"ops hook","kind":"webhook","settings":{{"url":"{url}"}},"routing":{{"severities":["critical"]}}}}"#);
    assert_eq!(app.json("POST", channels, &operator, &body).await.status, StatusCode::FORBIDDEN);
    let created = app.json("POST", channels, &admin, &body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let created = created.json();
    let secret = created["signingSecret"].as_str().unwrap().to_string();
    let id = created["channel"]["id"].as_str().unwrap().to_string();
    let listed = app.get(channels, Some(&admin)).await;
    assert_eq!(listed.json()["channels"][0]["routing"]["severities"][0].as_str(), Some("critical"));
    assert!(!listed.text().contains(&secret), "the secret is shown once");
    assert_eq!(app.get(channels, Some(&viewer)).await.status, StatusCode::FORBIDDEN);

    let tested = app.json("POST", &format!("{channels}/{id}/test"), &admin, "").await;
    assert_eq!(tested.status, StatusCode::OK, "{}", tested.text());
    assert_eq!((tested.json()["status"].as_str(), tested.json()["attemptLog"][0]["responseStatus"].as_i64()), (Some("delivered"), Some(204)));
    assert!(got.lock().unwrap()[0].contains("\"event\":\"test\""));
    let log = app.get(&format!("/api/admin/notifications/deliveries?channelId={id}"), Some(&admin)).await.json();
    assert_eq!(log["deliveries"].as_array().unwrap().len(), 1, "{log}");

    // Silences: an operator's, for a type; lifted.
    let silences = "/api/admin/backups/alerts/silences";
    let everything = app.json("POST", silences, &operator, r#"{"reason":"quiet please","durationMinutes":60}"#).await;
    assert_eq!(everything.status, StatusCode::BAD_REQUEST);
    let made = app.json("POST", silences, &operator, r#"{"alertType":"replication_failed","reason":"moving the replica","durationMinutes":30}"#).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
    let silence = made.json()["id"].as_str().unwrap().to_string();
    assert_eq!(app.get(silences, Some(&viewer)).await.json()["silences"][0]["active"].as_bool(), Some(true));
    let lifted = app.json("DELETE", &format!("{silences}/{silence}"), &operator, "").await.json();
    assert_eq!((lifted["active"].as_bool(), lifted["liftedBy"].as_str()), (Some(false), Some("ops")));

    // Escalation schedules: read by anyone, set by admins, checked.
    let schedules = app.get("/api/admin/backups/alerts/escalation", Some(&viewer)).await.json();
    assert_eq!(schedules["schedules"][0]["severity"].as_str(), Some("critical"));
    assert_eq!(schedules["schedules"][0]["steps"][1]["afterMinutes"].as_i64(), Some(15));
    let backwards = app.json("PUT", "/api/admin/backups/alerts/escalation/critical", &admin, r#"{"steps":[{"level":1,"afterMinutes":0},{"level":2,"afterMinutes":0}]}"#).await;
    assert_eq!(backwards.status, StatusCode::BAD_REQUEST);
    assert_eq!(backwards.json()["detail"].as_str(), Some("steps: level 2 must come later than level 1"));
    let set = app.json("PUT", "/api/admin/backups/alerts/escalation/critical", &admin, r#"{"steps":[{"level":1,"afterMinutes":0},{"level":2,"afterMinutes":5}]}"#).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text());

    // An alert raised now is told through the channel; its history says so.
    let condition = Condition { alert_type: AlertType::BackupFailed, severity: Severity::Critical, subject: "configuration:y", message: "the dump failed", configuration_id: None, execution_id: None };
    let alert = alerts::raise_condition(&app.catalog, &condition).await.unwrap();
    let history = app.get(&format!("/api/admin/backups/alerts/{alert}/history"), Some(&viewer)).await.json();
    let kinds: Vec<&str> = history["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["raised", "notified"], "{history}");
    assert_eq!(history["deliveries"][0]["channelName"].as_str(), Some("ops hook"));
    assert_eq!(history["events"][1]["detail"].as_str(), Some("1 channel told"));

    // The seeds' health report; a time range it does not know answers 400.
    let health = app.get("/api/admin/backups/health?timeRange=7d", Some(&viewer)).await;
    assert_eq!(health.status, StatusCode::OK, "{}", health.text());
    let health = health.json();
    assert_eq!((health["timeRange"].as_str(), health["metrics"]["successRate"].as_f64()), (Some("7d"), Some(100.0)), "{health}");
    assert!(health["trends"]["dailyBackups"].is_array() && health["trends"]["failuresByType"].is_object(), "{health}");
    // The seeds' dashboard: the alert just raised among the active ones.
    let dashboard = app.get("/api/admin/backups/dashboard", Some(&viewer)).await.json();
    assert_eq!(dashboard["overview"]["totalConfigurations"].as_i64(), Some(0), "{dashboard}");
    assert_eq!(dashboard["systemHealth"]["successRate"].as_f64(), Some(100.0));
    assert!(dashboard["activeAlerts"].as_array().unwrap().iter().any(|a| a["id"].as_str() == Some(alert.as_str())), "{dashboard}");
    let bad = app.get("/api/admin/backups/health?timeRange=1y", Some(&viewer)).await;
    assert_eq!((bad.status, bad.json()["detail"].as_str()), (StatusCode::BAD_REQUEST, Some("timeRange: 24h, 7d or 30d, not \"1y\"")));
}
