//! `/api/admin/backups/restore-targets`: the list is `{targets: […]}`, a bad field answers 400
//! naming it, the secret never comes back, and the test endpoint really looks.

use axum::http::StatusCode;
use bulwark_core::platform::auth::Role;

use crate::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_targets_over_rest() {
    let app = TestApp::new(bulwark_testkit::sqlite_url()).await;
    let (_, admin) = app.user_with_token("root", Role::Admin).await;
    let (_, operator) = app.user_with_token("ops", Role::Operator).await;
    let base = "/api/admin/backups/restore-targets";
    let dir = bulwark_testkit::temp_dir("rest-target").join("dr-files");

    let outside = serde_json::json!({ "name": "dr files", "environment": "disaster_recovery", "targetType": "directory", "path": "/var/lib/elsewhere" });
    let refused = app.json("POST", base, &admin, &outside.to_string()).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.json()["detail"].as_str().unwrap().starts_with("path: /var/lib/elsewhere is not under a restore root"), "{}", refused.text());
    let unknown = serde_json::json!({ "name": "x", "environment": "moon", "targetType": "directory", "path": dir });
    assert_eq!(app.json("POST", base, &admin, &unknown.to_string()).await.status, StatusCode::BAD_REQUEST);

    let body = serde_json::json!({ "name": "dr files", "environment": "disaster_recovery", "targetType": "directory", "path": dir });
    assert_eq!(app.json("POST", base, &operator, &body.to_string()).await.status, StatusCode::FORBIDDEN);
    let created = app.json("POST", base, &admin, &body.to_string()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let id = created.json()["id"].as_str().unwrap().to_string();

    let list = app.get(base, Some(&operator)).await.json();
    let target = &list["targets"][0];
    assert_eq!((target["name"].as_str(), target["environment"].as_str(), target["targetType"].as_str()), (Some("dr files"), Some("disaster_recovery"), Some("directory")));
    assert_eq!(target["settings"]["path"].as_str(), dir.to_str());

    let tested = app.json("POST", &format!("{base}/{id}/test"), &operator, "").await.json();
    assert_eq!(tested["ok"], true, "{tested}");
    assert_eq!(app.get(&format!("{base}/{id}"), Some(&operator)).await.json()["lastTestOk"], true);
    assert_eq!(app.json("DELETE", &format!("{base}/{id}"), &admin, "").await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&format!("{base}/{id}"), Some(&operator)).await.status, StatusCode::NOT_FOUND);
}
