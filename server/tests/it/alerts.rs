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
