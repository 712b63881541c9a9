use axum::body::Body;
use axum::http::{Request, StatusCode};
use bulwark_core::platform::auth::Role;
use bulwark_core::platform::sessions::{self, SessionRow};
use bulwark_core::platform::time;
use chrono::{Duration, Utc};
use tower_sessions::session::Id;

use crate::{TestApp, on_both_catalogs};

on_both_catalogs!(
    health_and_metrics_answer,
    every_response_carries_the_security_headers,
    secure_cookies_are_host_only,
    one_address_cannot_guess_across_accounts,
    missing_or_bad_credentials_are_401_json,
    viewer_cannot_use_admin_endpoints,
    malformed_input_gets_a_clear_4xx,
    admin_manages_users_and_every_change_is_audited,
    tokens_are_created_once_and_revocable,
    sessions_work_until_they_expire,
    password_changes_end_sessions_and_tokens_stay_in_their_lane,
    cross_site_writes_are_refused,
    server_function_failures_carry_their_status,
    storage_locations_over_rest,
    configurations_and_executions_over_rest,
    errors_are_classified_where_they_are_decided,
    the_seeds_configuration_requests_work,
);

/// A configuration request copied from the seeds works: no location (the one primary location
/// is taken), `backupType` as what the backup holds, a schedule object, `retentionPolicy:
/// {days}`, `encryptionEnabled` and `compressionEnabled`; the answer carries `configurationId`,
/// `status: created` and `nextExecution`. Before, each of these was a 400.
async fn the_seeds_configuration_requests_work(app: TestApp) {
    let (_, admin) = app.user_with_token("root", Role::Admin).await;
    let base = "/api/admin/backups/configurations";
    let source = bulwark_testkit::temp_dir("seed-src");
    let seed = serde_json::json!({
        "name": "Seeded files", "backupType": "file_storage", "sourceType": "filesystem", "sourceIdentifier": source,
        "frequency": "daily", "schedule": { "cron": "0 2 * * *" }, "retentionPolicy": { "days": 30 },
        "encryptionEnabled": true, "compressionEnabled": false, "rtoMinutes": 60, "rpoMinutes": 1440,
    });
    let none = app.json("POST", base, &admin, &seed.to_string()).await;
    assert_eq!(none.status, StatusCode::BAD_REQUEST, "no location to default to yet: {}", none.text());
    assert!(none.json()["detail"].as_str().unwrap().starts_with("storageLocationIds: choose at least one storage location"), "{}", none.text());
    let repo = bulwark_testkit::temp_dir("seed-loc").join("repo");
    let body = serde_json::json!({ "locationName": "disk", "storageType": "primary", "provider": "local", "pathPrefix": repo }).to_string();
    let location = app.json("POST", "/api/admin/backups/storage-locations", &admin, &body).await.json()["id"].as_str().unwrap().to_string();
    assert_eq!(app.json("POST", &format!("/api/admin/backups/storage-locations/{location}/init"), &admin, "").await.status, StatusCode::CREATED);

    let created = app.json("POST", base, &admin, &seed.to_string()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let c = created.json();
    assert_eq!((c["status"].as_str(), c["configurationId"].as_str(), c["id"].as_str()), (Some("created"), c["id"].as_str(), c["configurationId"].as_str()));
    assert!(c["nextExecution"].is_string(), "{c}");
    assert_eq!(c["storageLocationIds"], serde_json::json!([location]));
    assert_eq!((c["compression"].as_str(), c["schedule"].as_str(), c["backupType"].as_str()), (Some("none"), Some("0 2 * * *"), Some("file_storage")));
    let wrong = serde_json::json!({ "name": "db", "backupType": "database", "sourceType": "filesystem", "sourceIdentifier": source });
    let wrong = app.json("POST", base, &admin, &wrong.to_string()).await;
    assert_eq!((wrong.status, wrong.json()["detail"].as_str()), (StatusCode::BAD_REQUEST, Some("backupType: database backs up a postgresql source, not filesystem")));
    let listed = app.get(base, Some(&admin)).await.json();
    assert_eq!(listed["configurations"][0]["retentionPolicy"]["days"].as_i64(), Some(30), "{listed}");

    // The seeds' partial update: only the fields given change; isActive pauses and resumes.
    let id = c["id"].as_str().unwrap();
    let paused = app.json("PUT", &format!("{base}/{id}"), &admin, r#"{"frequency":"weekly","isActive":false}"#).await;
    assert_eq!(paused.status, StatusCode::OK, "{}", paused.text());
    let p = paused.json();
    assert_eq!((p["frequency"].as_str(), p["schedule"].as_str(), p["isActive"].as_bool(), p["name"].as_str()), (Some("weekly"), None, Some(false), Some("Seeded files")));
    assert_eq!(app.get(base, Some(&admin)).await.json()["configurations"][0]["status"].as_str(), Some("inactive"));
    let (_, operator) = app.user_with_token("ops", Role::Operator).await;
    assert_eq!(app.json("POST", &format!("{base}/{id}/execute"), &operator, "").await.status, StatusCode::CONFLICT, "a paused configuration does not run");
    let resumed = app.json("PUT", &format!("{base}/{id}"), &admin, r#"{"isActive":true}"#).await;
    assert_eq!((resumed.status, resumed.json()["isActive"].as_bool(), resumed.json()["frequency"].as_str()), (StatusCode::OK, Some(true), Some("weekly")));
    let bad = app.json("PUT", &format!("{base}/{id}"), &admin, r#"{"isActive":"yes"}"#).await;
    assert_eq!((bad.status, bad.json()["detail"].as_str()), (StatusCode::BAD_REQUEST, Some("isActive: true or false")));
    let unknown = app.json("PUT", &format!("{base}/{id}"), &admin, r#"{"shell":"rm -rf /"}"#).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST, "{}", unknown.text());
}

async fn health_and_metrics_answer(app: TestApp) {
    let health = app.get("/healthz", None).await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.json()["status"], "ok");
    // Metrics are for this host or a caller with a token (a oneshot request has no peer).
    assert_eq!(app.get("/metrics", None).await.status, StatusCode::UNAUTHORIZED);
    let (_, token) = app.user_with_token("prometheus", Role::Viewer).await;
    let metrics = app.get("/metrics", Some(&token)).await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(metrics.headers["content-type"].to_str().unwrap().starts_with("application/openmetrics-text; version=1.0.0"));
    let text = metrics.text();
    for series in [
        "bulwark_catalog_up 1",
        "bulwark_jobs{state=\"queued\"}",
        "bulwark_http_responses_total{class=\"2xx\"} 1",
        "# TYPE bulwark_backup_duration_seconds histogram",
        "bulwark_backup_duration_seconds_bucket{le=\"+Inf\"} 0",
        "# TYPE bulwark_restore_duration_seconds histogram",
        "bulwark_alerts_open{severity=\"critical\"} 0",
    ] {
        assert!(text.contains(series), "{series} missing from\n{text}");
    }
    assert!(text.ends_with("# EOF\n"), "{text}");
}

async fn every_response_carries_the_security_headers(app: TestApp) {
    for path in ["/healthz", "/api/me", "/login", "/no-such-page"] {
        let reply = app.get(path, None).await;
        for (name, value) in [("x-content-type-options", "nosniff"), ("x-frame-options", "DENY"), ("referrer-policy", "same-origin"), ("cache-control", "no-store")] {
            assert_eq!(reply.headers.get(name).and_then(|v| v.to_str().ok()), Some(value), "{path}: {name}");
        }
        let policy = reply.headers["content-security-policy"].to_str().unwrap().to_string();
        assert!(policy.contains("frame-ancestors 'none'"), "{path}: {policy}");
    }
    // A page runs only the scripts that carry the nonce its policy names.
    let page = app.get("/login", None).await;
    let policy = page.headers["content-security-policy"].to_str().unwrap().to_string();
    let nonce = policy.split("'nonce-").nth(1).and_then(|rest| rest.split('\'').next()).unwrap_or_else(|| panic!("no nonce in {policy}"));
    let html = page.text();
    let scripts = html.matches("<script").count();
    assert!(scripts >= 1 && html.matches(&format!("nonce=\"{nonce}\"")).count() >= scripts, "every script carries the nonce: {html}");
    assert!(!policy.contains("unsafe-inline"), "{policy}");
}

async fn secure_cookies_are_host_only(app: TestApp) {
    use tower::ServiceExt;
    app.user_with_token("sam", Role::Viewer).await;
    let https = bulwark_server::router::router(app.state.clone(), bulwark_server::router::SessionSettings { secure: true, idle_minutes: 30 });
    let request = Request::post("/_sfn/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("username=sam&password=sam-password-123"))
        .unwrap();
    let reply = https.oneshot(request).await.unwrap();
    assert!(reply.headers().get("strict-transport-security").is_some(), "HSTS over HTTPS");
    let cookie = reply.headers().get("set-cookie").unwrap_or_else(|| panic!("no session cookie: {:?}", reply.status())).to_str().unwrap().to_string();
    assert!(cookie.starts_with("__Host-bulwark_session=") && cookie.contains("Secure") && cookie.contains("HttpOnly") && cookie.contains("Path=/"), "{cookie}");
    assert!(!cookie.contains("Domain"), "{cookie}");
}

async fn missing_or_bad_credentials_are_401_json(app: TestApp) {
    for (header, detail) in [
        (None, "log in, or send `Authorization: Bearer <token>` (create one under Account)"),
        (Some("Bearer bwk_wrong"), "the API token is unknown, expired or revoked"),
        (Some("Basic dXNlcjpwYXNz"), "the Authorization header must be `Bearer <token>`"),
    ] {
        let mut request = Request::get("/api/me");
        if let Some(h) = header {
            request = request.header("authorization", h);
        }
        let reply = app.send(request.body(Body::empty()).unwrap()).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.json(), serde_json::json!({ "error": "unauthenticated", "detail": detail }));
    }
    let unknown = app.get("/api/no/such/thing", None).await;
    assert_eq!((unknown.status, unknown.json()["error"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
}

async fn viewer_cannot_use_admin_endpoints(app: TestApp) {
    let (_, viewer) = app.user_with_token("vic", Role::Viewer).await;
    let me = app.get("/api/me", Some(&viewer)).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json()["role"], "viewer");
    for path in ["/api/admin/users", "/api/admin/audit", "/api/admin/audit/verify", "/api/tokens?all=true"] {
        let reply = app.get(path, Some(&viewer)).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(reply.json()["error"], "forbidden");
        assert_eq!(reply.json()["detail"], "this needs the admin role; you have viewer");
    }
    let create = app.json("POST", "/api/admin/users", &viewer, r#"{"username":"x","role":"admin","password":"long-enough-pw"}"#).await;
    assert_eq!(create.status, StatusCode::FORBIDDEN);
    assert_eq!(bulwark_core::platform::accounts::users::count(&app.catalog).await.unwrap(), 1, "nothing was created");
}

async fn malformed_input_gets_a_clear_4xx(app: TestApp) {
    let (_, admin) = app.user_with_token("root", Role::Admin).await;
    let cases = [
        (r#"{"username": "x", "role": "admin""#, StatusCode::BAD_REQUEST, "Failed to parse the request body as JSON"),
        (r#"{"username": "x", "role": "root"}"#, StatusCode::BAD_REQUEST, "unknown variant `root`"),
        (r#"{"username": "x", "role": "admin", "shell": "/bin/sh"}"#, StatusCode::BAD_REQUEST, "unknown field `shell`"),
        (r#"{"username": "no spaces", "role": "admin"}"#, StatusCode::BAD_REQUEST, "a username has 1 to 64 characters"),
        (r#"{"username": "x", "role": "admin", "password": "short"}"#, StatusCode::BAD_REQUEST, "at least 12 characters"),
    ];
    for (body, status, detail) in cases {
        let reply = app.json("POST", "/api/admin/users", &admin, body).await;
        assert_eq!(reply.status, status, "{body}");
        assert_eq!(reply.json()["error"], "invalid_request", "{body}");
        let text = reply.json()["detail"].as_str().unwrap().to_string();
        assert!(text.contains(detail), "{body}: {text}");
    }
    let no_type = Request::post("/api/admin/users")
        .header("authorization", format!("Bearer {admin}"))
        .body(Body::from("{}"))
        .unwrap();
    let reply = app.send(no_type).await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(reply.json()["error"], "unsupported_media_type");
    let wrong_method = app.json("PUT", "/api/me", &admin, "{}").await;
    assert_eq!((wrong_method.status, wrong_method.json()["error"].as_str()), (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed")));
    let bad_query = app.get("/api/admin/audit?limit=lots", Some(&admin)).await;
    assert_eq!(bad_query.status, StatusCode::BAD_REQUEST);
    assert_eq!(bulwark_core::platform::accounts::users::count(&app.catalog).await.unwrap(), 1, "nothing was created");
}

async fn admin_manages_users_and_every_change_is_audited(app: TestApp) {
    let (admin, token) = app.user_with_token("root", Role::Admin).await;
    let audit_rows = |reply: &crate::Reply| reply.json().as_array().unwrap().len();
    let before = audit_rows(&app.get("/api/admin/audit?limit=500", Some(&token)).await);

    let created = app.json("POST", "/api/admin/users", &token, r#"{"username":"ann","role":"approver","password":"ann-password-1"}"#).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let ann = created.json();
    assert_eq!((ann["username"].as_str(), ann["role"].as_str(), ann["disabled"].as_bool()), (Some("ann"), Some("approver"), Some(false)));
    assert!(ann["setupToken"].is_null());
    let id = ann["id"].as_str().unwrap().to_string();

    let dup = app.json("POST", "/api/admin/users", &token, r#"{"username":"ann","role":"viewer","password":"ann-password-1"}"#).await;
    assert_eq!((dup.status, dup.json()["detail"].as_str()), (StatusCode::CONFLICT, Some("a user named \"ann\" already exists")));

    let invited = app.json("POST", "/api/admin/users", &token, r#"{"username":"ben","role":"operator"}"#).await;
    assert_eq!(invited.status, StatusCode::CREATED);
    assert!(invited.json()["setupToken"].as_str().unwrap().starts_with("bws_"));

    let patched = app.json("PATCH", &format!("/api/admin/users/{id}"), &token, r#"{"role":"viewer","disabled":true}"#).await;
    assert_eq!(patched.status, StatusCode::OK);
    assert_eq!((patched.json()["role"].as_str(), patched.json()["disabled"].as_bool()), (Some("viewer"), Some(true)));
    let missing = app.json("PATCH", "/api/admin/users/nope", &token, r#"{"role":"viewer"}"#).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let own = app.send(Request::delete(format!("/api/admin/users/{}", admin.user_id)).header("authorization", format!("Bearer {token}")).body(Body::empty()).unwrap()).await;
    assert_eq!((own.status, own.json()["detail"].as_str()), (StatusCode::BAD_REQUEST, Some("you cannot delete your own account")));
    let gone = app.send(Request::delete(format!("/api/admin/users/{id}")).header("authorization", format!("Bearer {token}")).body(Body::empty()).unwrap()).await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);

    let listed = app.get("/api/admin/users", Some(&token)).await.json();
    let names: Vec<&str> = listed.as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
    assert_eq!(names, ["ben", "root"]);

    let audit = app.get("/api/admin/audit?limit=500", Some(&token)).await;
    let actions: Vec<String> = audit.json().as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap().to_string()).collect();
    assert_eq!(audit_rows(&audit) - before, 4, "{actions:?}");
    assert_eq!(&actions[..4], ["user.delete", "user.update", "user.create", "user.create"]);
    let verify = app.get("/api/admin/audit/verify", Some(&token)).await;
    assert_eq!(verify.json()["firstBrokenSeq"], serde_json::Value::Null);
}

async fn tokens_are_created_once_and_revocable(app: TestApp) {
    let (_, op) = app.user_with_token("oli", Role::Operator).await;
    let created = app.json("POST", "/api/tokens", &op, r#"{"name":"nightly","role":"viewer","expiresInDays":7}"#).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let secret = created.json()["secret"].as_str().unwrap().to_string();
    let id = created.json()["token"]["id"].as_str().unwrap().to_string();
    assert_eq!(app.get("/api/me", Some(&secret)).await.json()["role"], "viewer");

    let listed = app.get("/api/tokens", Some(&op)).await;
    assert!(!listed.text().contains(&secret), "a list never shows secrets");
    assert_eq!(listed.json().as_array().unwrap().len(), 2);

    let too_strong = app.json("POST", "/api/tokens", &op, r#"{"name":"x","role":"admin"}"#).await;
    assert_eq!(too_strong.status, StatusCode::BAD_REQUEST);
    let bad_days = app.json("POST", "/api/tokens", &op, r#"{"name":"x","expiresInDays":0}"#).await;
    assert_eq!(bad_days.status, StatusCode::BAD_REQUEST);

    let revoked = app.send(Request::delete(format!("/api/tokens/{id}")).header("authorization", format!("Bearer {op}")).body(Body::empty()).unwrap()).await;
    assert_eq!(revoked.status, StatusCode::OK);
    assert!(revoked.json()["revokedAt"].is_string());
    assert_eq!(app.get("/api/me", Some(&secret)).await.status, StatusCode::UNAUTHORIZED);
}

async fn sessions_work_until_they_expire(app: TestApp) {
    let (user, _) = app.user_with_token("sam", Role::Operator).await;
    let session_at = |hours: i64, login_hours_ago: i64| {
        let id = Id::default().to_string();
        let login_at = (Utc::now() - Duration::hours(login_hours_ago)).timestamp();
        let row = SessionRow {
            id: id.clone(),
            user_id: Some(user.user_id.clone()),
            data: serde_json::json!({ "user_id": user.user_id, "login_at": login_at }).to_string(),
            expires_at: time::to_text(Utc::now() + Duration::hours(hours)),
        };
        (id, row)
    };
    let session = |hours: i64| session_at(hours, 0);
    let with_cookie = |path: &str, id: &str| Request::get(path).header("cookie", format!("bulwark_session={id}")).body(Body::empty()).unwrap();

    let (live, row) = session(1);
    sessions::save(&app.catalog, &row).await.unwrap();
    let me = app.send(with_cookie("/api/me", &live)).await;
    assert_eq!((me.status, me.json()["username"].as_str()), (StatusCode::OK, Some("sam")));
    // The catalog holds the id's SHA-256, never the id a cookie carries.
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE id = $1").bind(&live).fetch_one(app.catalog.pool()).await.unwrap();
    assert_eq!(stored, 0, "a session id is stored in clear");

    // Active or not, a session ends 12 hours after its login.
    let (old, row) = session_at(1, 13);
    sessions::save(&app.catalog, &row).await.unwrap();
    assert_eq!(app.send(with_cookie("/api/me", &old)).await.status, StatusCode::UNAUTHORIZED);

    let (expired, row) = session(-1);
    sessions::save(&app.catalog, &row).await.unwrap();
    let me = app.send(with_cookie("/api/me", &expired)).await;
    assert_eq!((me.status, me.json()["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthenticated")));
    let page = app.send(with_cookie("/restoration", &expired)).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.headers["location"], "/login?next=/restoration");
    let garbage = app.send(with_cookie("/api/me", "not-a-session-id")).await;
    assert_eq!(garbage.status, StatusCode::UNAUTHORIZED);
}

async fn cross_site_writes_are_refused(app: TestApp) {
    let (_, admin) = app.user_with_token("root", Role::Admin).await;
    let request = Request::post("/api/tokens")
        .header("authorization", format!("Bearer {admin}"))
        .header("content-type", "application/json")
        .header("host", "127.0.0.1:3000")
        .header("origin", "http://evil.example")
        .body(Body::from(r#"{"name":"stolen"}"#))
        .unwrap();
    let reply = app.send(request).await;
    assert_eq!((reply.status, reply.json()["error"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")));
    let same = Request::post("/api/tokens")
        .header("authorization", format!("Bearer {admin}"))
        .header("content-type", "application/json")
        .header("host", "127.0.0.1:3000")
        .header("origin", "http://127.0.0.1:3000")
        .body(Body::from(r#"{"name":"fine"}"#))
        .unwrap();
    assert_eq!(app.send(same).await.status, StatusCode::CREATED);
}

async fn server_function_failures_carry_their_status(app: TestApp) {
    app.user_with_token("root", Role::Admin).await;
    let form = |path: &str, body: &str| {
        Request::post(path).header("content-type", "application/x-www-form-urlencoded").body(Body::from(body.to_string())).unwrap()
    };
    let wrong = app.send(form("/_sfn/login", "username=root&password=wrong-password")).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong.json(), serde_json::json!({ "Invalid": "wrong username or password" }));
    let no_session = app.send(form("/_sfn/list_users", "")).await;
    assert_eq!(no_session.status, StatusCode::UNAUTHORIZED);
    let ok = app.send(form("/_sfn/login", "username=root&password=root-password-123")).await;
    assert!(ok.status.is_success() || ok.status.is_redirection(), "{}", ok.status);
    assert!(ok.headers["set-cookie"].to_str().unwrap().contains("bulwark_session="));
    let cookie = ok.headers["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
}

async fn storage_locations_over_rest(app: TestApp) {
    let (_, admin) = app.user_with_token("root", Role::Admin).await;
    let (_, viewer) = app.user_with_token("vic", Role::Viewer).await;
    let base = "/api/admin/backups/storage-locations";
    let dir = bulwark_testkit::temp_dir("rest-loc").join("repo");
    let body = serde_json::json!({ "locationName": "disk", "storageType": "primary", "provider": "local", "pathPrefix": dir }).to_string();
    assert_eq!(app.json("POST", base, &viewer, &body).await.status, StatusCode::FORBIDDEN);
    let bad = app.json("POST", base, &admin, r#"{"locationName":"s3","storageType":"primary","provider":"s3","bucket":"UPPER"}"#).await;
    assert_eq!((bad.status, bad.json()["detail"].as_str()), (StatusCode::BAD_REQUEST, Some("bucket: 3 to 63 lowercase letters, digits, '-' or '.'")));
    // An endpoint at the cloud's metadata service would fetch the host's own credentials.
    let metadata = r#"{"locationName":"s3","storageType":"primary","provider":"s3","bucket":"b-1","endpoint":"http://169.254.169.254","accessKey":"a","secretKey":"s"}"#;
    let refused = app.json("POST", base, &admin, metadata).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text());
    assert!(refused.json()["detail"].as_str().unwrap().contains("link-local or cloud metadata"), "{}", refused.text());
    let created = app.json("POST", base, &admin, &body).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let id = created.json()["id"].as_str().unwrap().to_string();
    let listed = app.get(base, Some(&viewer)).await;
    assert_eq!(listed.json().as_array().unwrap().len(), 1);
    let tested = app.json("POST", &format!("{base}/{id}/test"), &admin, "").await;
    assert_eq!((tested.status, tested.json()["ok"].as_bool()), (StatusCode::OK, Some(true)));
    let init = app.json("POST", &format!("{base}/{id}/init"), &admin, "").await;
    assert_eq!(init.status, StatusCode::CREATED);
    assert_eq!(init.json()["keyFile"].as_str().unwrap().len(), 64);
    let again = app.json("POST", &format!("{base}/{id}/init"), &admin, "").await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let usage = app.get(&format!("{base}/{id}/usage"), Some(&viewer)).await;
    assert_eq!((usage.json()["packs"].as_u64(), usage.json()["snapshots"].as_u64()), (Some(0), Some(0)));
    let snaps = app.get(&format!("{base}/{id}/snapshots"), Some(&viewer)).await;
    assert_eq!(snaps.json(), serde_json::json!([]));
    assert_eq!(app.json("POST", &format!("{base}/{id}/repair-index"), &viewer, "").await.status, StatusCode::FORBIDDEN);
    let repaired = app.json("POST", &format!("{base}/{id}/repair-index"), &admin, "").await;
    assert_eq!((repaired.status, repaired.json()["packs"].as_u64()), (StatusCode::OK, Some(0)), "{}", repaired.text());
    let missing = app.get(&format!("{base}/nope"), Some(&viewer)).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let delete = app.send(Request::delete(format!("{base}/{id}")).header("authorization", format!("Bearer {admin}")).body(Body::empty()).unwrap()).await;
    assert_eq!(delete.status, StatusCode::CONFLICT, "a location with a repository keeps its key");
}

async fn configurations_and_executions_over_rest(app: TestApp) {
    let (_, admin) = app.user_with_token("root", Role::Admin).await;
    let (_, operator) = app.user_with_token("ops", Role::Operator).await;
    let (_, viewer) = app.user_with_token("vic", Role::Viewer).await;
    let locations = "/api/admin/backups/storage-locations";
    let repo = bulwark_testkit::temp_dir("rest-cfg").join("repo");
    let body = serde_json::json!({ "locationName": "disk", "storageType": "primary", "provider": "local", "pathPrefix": repo }).to_string();
    let location = app.json("POST", locations, &admin, &body).await.json()["id"].as_str().unwrap().to_string();
    assert_eq!(app.json("POST", &format!("{locations}/{location}/init"), &admin, "").await.status, StatusCode::CREATED);

    let source = bulwark_testkit::temp_dir("rest-src");
    std::fs::write(source.join("data.txt"), "restored bytes must equal these").unwrap();
    let base = "/api/admin/backups/configurations";
    let config = serde_json::json!({
        "name": "files", "sourceType": "filesystem", "sourceIdentifier": source, "frequency": "daily",
        "storageLocationIds": [location], "rtoMinutes": 30, "rpoMinutes": 1440,
    });
    assert_eq!(app.json("POST", base, &operator, &config.to_string()).await.status, StatusCode::FORBIDDEN);
    let unknown = app.json("POST", base, &admin, r#"{"name":"x","sourceType":"filesystem","sourceIdentifier":"/x","storageLocationIds":[],"shell":1}"#).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    let bad = app.json("POST", base, &admin, &serde_json::json!({ "name": "x", "sourceType": "filesystem", "sourceIdentifier": "/x", "storageLocationIds": ["nope"] }).to_string()).await;
    assert_eq!((bad.status, bad.json()["detail"].as_str()), (StatusCode::BAD_REQUEST, Some("storageLocationIds: no storage location nope")));
    let created = app.json("POST", base, &admin, &config.to_string()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let id = created.json()["id"].as_str().unwrap().to_string();
    let mut changed = config.clone();
    changed["priorityLevel"] = 2.into();
    let updated = app.json("PUT", &format!("{base}/{id}"), &admin, &changed.to_string()).await;
    assert_eq!((updated.status, updated.json()["priorityLevel"].as_i64()), (StatusCode::OK, Some(2)));

    // The seeds' list: wrapped, with their names and status vocabulary.
    let listed = app.get(base, Some(&viewer)).await.json()["configurations"].clone();
    assert_eq!((listed[0]["name"].as_str(), listed[0]["status"].as_str(), listed[0]["lastRunStatus"].as_str()), (Some("files"), Some("active"), Some("never_run")));
    assert_eq!((listed[0]["rto"].as_i64(), listed[0]["rpo"].as_i64(), listed[0]["rtoMinutes"].as_i64()), (Some(30), Some(1440), Some(30)));
    assert!(listed[0]["lastExecution"].is_null() && listed[0]["backupType"].is_string(), "{listed}");
    assert_eq!(app.json("POST", &format!("{base}/{id}/execute"), &viewer, "").await.status, StatusCode::FORBIDDEN);
    // The seeds' request and answer.
    let bad_tags = app.json("POST", &format!("{base}/{id}/execute"), &operator, r#"{"tags":["a"]}"#).await;
    assert_eq!((bad_tags.status, bad_tags.json()["detail"].as_str()), (StatusCode::BAD_REQUEST, Some("tags: an object, e.g. {\"team\": \"payments\"}")));
    let seed = r#"{"executionType":"manual","notes":"Test backup execution","tags":{"ticket":"OPS-12"}}"#;
    let started = app.json("POST", &format!("{base}/{id}/execute"), &operator, seed).await;
    assert_eq!((started.status, started.json()["status"].as_str()), (StatusCode::OK, Some("initiated")), "{}", started.text());
    assert_eq!(started.json()["executionStatus"].as_str(), Some("queued"));
    assert!(started.json()["estimatedDuration"].as_f64().unwrap() > 0.0, "{}", started.text());
    let execution = started.json()["executionId"].as_str().unwrap().to_string();
    assert_eq!(started.json()["id"].as_str(), Some(execution.as_str()));
    let shown = app.get(&format!("/api/admin/backups/executions/{execution}"), Some(&viewer)).await.json();
    assert_eq!((shown["notes"].as_str(), shown["tags"]["ticket"].as_str()), (Some("Test backup execution"), Some("OPS-12")), "{shown}");
    assert_eq!(app.json("POST", &format!("{base}/{id}/execute"), &operator, "").await.status, StatusCode::CONFLICT);

    // What a worker does with the queued job.
    bulwark_core::orchestration::backup::run(&app.catalog, &app.secrets, &execution, Default::default()).await.unwrap();
    let done = app.get(&format!("/api/admin/backups/executions/{execution}"), Some(&viewer)).await.json();
    assert_eq!((done["status"].as_str(), done["sizeBytes"].as_i64()), (Some("completed"), Some(31)));
    // The seeds' answer besides: their names, where it went, its restore tests.
    let seeds = &done["execution"];
    assert_eq!((seeds["configurationName"].as_str(), seeds["backupSize"].as_i64(), seeds["status"].as_str()), (Some("files"), Some(31), Some("completed")), "{done}");
    assert!(seeds["startTime"].is_string() && seeds["endTime"].is_string() && seeds["compressionRatio"].is_f64(), "{done}");
    assert_eq!((done["storageLocation"]["id"].as_str(), done["relatedTests"].clone()), (Some(location.as_str()), serde_json::json!([])));
    assert_eq!(done["progress"]["percent"].as_f64(), Some(100.0));
    let events = app.get(&format!("/api/admin/backups/executions/{execution}/events"), Some(&viewer)).await;
    assert_eq!(events.headers["content-type"], "text/event-stream");
    let text = events.text();
    assert!(text.starts_with("event: execution\ndata: {") && text.contains("\"status\":\"completed\""), "{text}");
    let history = app.get(&format!("{base}/{id}/executions"), Some(&viewer)).await.json();
    assert_eq!(history.as_array().map(Vec::len), Some(1));
    assert_eq!(app.get("/api/admin/backups/executions/nope", Some(&viewer)).await.status, StatusCode::NOT_FOUND);
    let restore = format!("/api/admin/backups/executions/{execution}/restore");
    let wrong = app.json("POST", &restore, &operator, r#"{"targetUrl":"postgresql://postgres@127.0.0.1:1/x"}"#).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(wrong.json()["detail"].as_str().unwrap().contains("a directory backup restores into a directory: unknown field `targetUrl`"), "{}", wrong.text());
    // A directory execution restores into a directory: one path of it.
    let target = bulwark_testkit::temp_dir("rest-restore");
    let body = serde_json::json!({ "targetPath": target, "include": ["data.txt"] }).to_string();
    let restored = app.json("POST", &restore, &operator, &body).await;
    assert_eq!((restored.status, restored.json()["files"].as_u64()), (StatusCode::OK, Some(1)), "{}", restored.text());
    assert_eq!(restored.json()["storageLocationId"].as_str(), Some(location.as_str()), "read from the backup's own location");
    assert_eq!(std::fs::read_to_string(target.join("data.txt")).unwrap(), "restored bytes must equal these");
    assert_eq!(restored.json()["unreadable"], serde_json::json!([]), "a whole restore lists nothing unreadable");
    let whole = bulwark_testkit::temp_dir("rest-restore-whole");
    let body = serde_json::json!({ "targetPath": whole, "skipUnreadable": true }).to_string();
    let restored = app.json("POST", &restore, &operator, &body).await;
    assert_eq!((restored.status, restored.json()["unreadable"].clone()), (StatusCode::OK, serde_json::json!([])), "{}", restored.text());
    assert_eq!(std::fs::read_to_string(whole.join("data.txt")).unwrap(), "restored bytes must equal these");
    let relative = app.json("POST", &restore, &operator, r#"{"targetPath":"relative"}"#).await;
    assert_eq!((relative.status, relative.json()["detail"].as_str()), (StatusCode::BAD_REQUEST, Some("targetPath: \"relative\" is not an absolute path")));
    // An operator cannot restore over the host's files: only below the restore roots.
    for outside in ["/etc/cron.d", "/root/.ssh"] {
        let body = serde_json::json!({ "targetPath": outside }).to_string();
        let refused = app.json("POST", &restore, &operator, &body).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text());
        assert!(refused.json()["detail"].as_str().unwrap().contains("is not under a restore root"), "{}", refused.text());
    }
    assert!(!std::path::Path::new("/etc/cron.d/data.txt").exists());
    assert_eq!(app.json("POST", &restore, &viewer, r#"{"targetUrl":"postgresql://postgres@127.0.0.1:1/x"}"#).await.status, StatusCode::FORBIDDEN);

    // Verification reads the backup back.
    let verify = format!("/api/admin/backups/verify/{execution}");
    assert_eq!(app.json("POST", &verify, &viewer, "").await.status, StatusCode::FORBIDDEN);
    let queued = app.json("POST", &verify, &operator, "").await;
    assert_eq!((queued.status, queued.json()["status"].as_str()), (StatusCode::OK, Some("initiated")), "{}", queued.text());
    assert!(queued.json()["estimatedDuration"].as_f64().is_some_and(|s| s >= 1.0), "{}", queued.text());
    let job = bulwark_core::platform::jobs::get(&app.catalog, queued.json()["verificationId"].as_str().unwrap()).await.unwrap();
    assert_eq!((job.kind.as_str(), job.subject_id.as_deref()), (bulwark_core::verify::JOB_KIND, Some(execution.as_str())));
    let verified = bulwark_core::verify::run(&app.catalog, &app.secrets, &execution).await.unwrap();
    assert_eq!((verified.status.as_str(), verified.files), ("verified", 1));
    let seen = app.get(&format!("/api/admin/backups/executions/{execution}"), Some(&viewer)).await.json();
    assert_eq!(seen["execution"]["verificationStatus"].as_str(), Some("verified"), "{seen}");
    assert_eq!(app.json("POST", "/api/admin/backups/verify/nope", &operator, "").await.status, StatusCode::NOT_FOUND);

    // Replication needs another location; the same one is refused beside the field.
    let replications = format!("/api/admin/backups/storage-locations/{location}/replications");
    let same = app.json("POST", &replications, &admin, &serde_json::json!({ "targetLocationId": location }).to_string()).await;
    assert_eq!((same.status, same.json()["detail"].as_str()), (StatusCode::BAD_REQUEST, Some("targetLocationId: another location than the source")));
    assert_eq!(app.json("POST", &replications, &operator, r#"{"targetLocationId":"x"}"#).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get(&replications, Some(&viewer)).await.json().as_array().map(Vec::len), Some(0));
    let rules = format!("/api/admin/backups/storage-locations/{location}/replication-rules");
    let same = app.json("POST", &rules, &admin, &serde_json::json!({ "targetLocationId": location }).to_string()).await;
    assert_eq!((same.status, same.json()["detail"].as_str()), (StatusCode::BAD_REQUEST, Some("targetLocationId: another location than the source")));
    assert_eq!(app.json("POST", &rules, &operator, r#"{"targetLocationId":"x"}"#).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get(&rules, Some(&viewer)).await.json().as_array().map(Vec::len), Some(0));
    assert_eq!(app.json("DELETE", "/api/admin/backups/replication-rules/nope", &admin, "").await.status, StatusCode::NOT_FOUND);

    // A restore test, queued over REST and run as a worker would.
    let bad_test = app.json("POST", "/api/admin/backups/testing/schedule", &operator, "{}").await;
    assert_eq!((bad_test.status, bad_test.json()["detail"].as_str()), (StatusCode::BAD_REQUEST, Some("give executionId or configurationId")));
    // The seeds' request, as written there.
    let seed = serde_json::json!({ "testType": "restoration", "testScope": "single_backup", "targetBackup": execution, "testEnvironment": "staging", "testParameters": { "checkRows": true } });
    let queued = app.json("POST", "/api/admin/backups/testing/schedule", &operator, &seed.to_string()).await;
    assert_eq!((queued.status, queued.json()["status"].as_str()), (StatusCode::OK, Some("scheduled")), "{}", queued.text());
    assert!(queued.json()["estimatedDuration"].as_f64().is_some_and(|s| s >= 1.0), "{}", queued.text());
    let test_id = queued.json()["testId"].as_str().unwrap().to_string();
    bulwark_core::orchestration::restore_test::run(&app.catalog, &app.secrets, &test_id).await.unwrap();
    let results = app.get("/api/admin/backups/testing/results?testType=restoration&status=passed&dateRange=30d", Some(&viewer)).await.json();
    assert_eq!((results["summary"]["totalTests"].as_u64(), results["summary"]["passedTests"].as_u64()), (Some(1), Some(1)), "{results}");
    let test = &results["tests"][0];
    assert_eq!((test["performanceMetrics"]["itemsRestored"].as_u64(), test["testScope"].as_str(), test["startTime"].is_string()), (Some(1), Some("single_backup"), true), "{test}");
    assert!(results["summary"]["averageRTO"].is_number(), "{results}");
    let bad_filter = app.get("/api/admin/backups/testing/results?status=sleeping", Some(&viewer)).await;
    assert_eq!(bad_filter.status, StatusCode::BAD_REQUEST);

    // Schedules, the queue and cancellation.
    let schedule = app.get(&format!("{base}/{id}/schedule"), Some(&viewer)).await;
    assert_eq!((schedule.status, schedule.json()["expression"].as_str()), (StatusCode::OK, Some("0 1 * * *")), "the daily preset");
    assert!(schedule.json()["nextExecution"].as_str().is_some_and(|t| t.ends_with("T01:00:00.000000Z")), "{}", schedule.text());
    let jobs = app.get("/api/admin/jobs?state=succeeded", Some(&viewer)).await;
    assert_eq!(jobs.status, StatusCode::OK);
    let bad_state = app.get("/api/admin/jobs?state=sleeping", Some(&viewer)).await;
    assert_eq!(bad_state.status, StatusCode::BAD_REQUEST);
    let cancel = format!("/api/admin/backups/executions/{execution}/cancel");
    assert_eq!(app.json("POST", &cancel, &viewer, "").await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.json("POST", &cancel, &operator, "").await.status, StatusCode::CONFLICT, "already finished");

    // Legal holds, the cleanup preview, deleting by hand, a location's floor.
    let holds = format!("/api/admin/backups/executions/{execution}/legal-holds");
    let (_, approver) = app.user_with_token("approver", Role::Approver).await;
    assert_eq!(app.json("POST", &holds, &operator, r#"{"title":"t","reason":"r"}"#).await.status, StatusCode::FORBIDDEN);
    let no_reason = app.json("POST", &holds, &approver, r#"{"title":"Case 7","reason":" "}"#).await;
    assert_eq!((no_reason.status, no_reason.json()["detail"].as_str()), (StatusCode::BAD_REQUEST, Some("reason: say why the backup must be kept")));
    let hold = app.json("POST", &holds, &approver, r#"{"title":"Case 7","reason":"subpoena"}"#).await;
    assert_eq!(hold.status, StatusCode::CREATED, "{}", hold.text());
    let hold_id = hold.json()["id"].as_str().unwrap().to_string();
    assert_eq!(app.get(&holds, Some(&viewer)).await.json().as_array().map(Vec::len), Some(1));
    let preview = app.json("POST", "/api/admin/backups/retention/cleanup", &operator, "{}").await;
    assert_eq!((preview.status, preview.json()["dryRun"].as_bool(), preview.json()["status"].as_str()), (StatusCode::OK, Some(true), Some("completed")), "{}", preview.text());
    assert_eq!(preview.json()["backupsToDelete"].as_u64(), Some(0), "{}", preview.text());
    assert_eq!(app.json("POST", "/api/admin/backups/retention/cleanup", &operator, r#"{"dryRun":false}"#).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.json("POST", "/api/admin/backups/retention/cleanup", &operator, r#"{"forceCleanup":true}"#).await.status, StatusCode::FORBIDDEN);
    let unknown = app.json("POST", "/api/admin/backups/retention/cleanup", &admin, r#"{"configurationIds":["nope"]}"#).await;
    assert_eq!((unknown.status, unknown.json()["detail"].as_str()), (StatusCode::BAD_REQUEST, Some("configurationIds: configuration nope not found")));
    let forced = app.json("POST", "/api/admin/backups/retention/cleanup", &admin, &serde_json::json!({ "forceCleanup": true, "configurationIds": [id] }).to_string()).await;
    assert_eq!((forced.status, forced.json()["status"].as_str(), forced.json()["backupsToDelete"].as_u64()), (StatusCode::OK, Some("initiated"), Some(0)), "{}", forced.text());
    let job = bulwark_core::platform::jobs::get(&app.catalog, forced.json()["cleanupId"].as_str().unwrap()).await.unwrap();
    assert_eq!(job.kind, bulwark_core::retention::REQUESTED_JOB_KIND);
    let execution_path = format!("/api/admin/backups/executions/{execution}");
    let held = app.json("DELETE", &execution_path, &admin, "").await;
    assert_eq!(held.status, StatusCode::FORBIDDEN, "{}", held.text());
    assert!(held.json()["detail"].as_str().unwrap().contains("legal hold \"Case 7\""), "{}", held.text());
    let released = app.json("POST", &format!("/api/admin/backups/legal-holds/{hold_id}/release"), &admin, "").await;
    assert_eq!((released.status, released.json()["releasedBy"].as_str()), (StatusCode::OK, Some("root")));
    let deleted = app.json("DELETE", &execution_path, &admin, "").await;
    assert_eq!((deleted.status, deleted.json()["snapshotsDeleted"].as_u64()), (StatusCode::OK, Some(1)), "{}", deleted.text());
    let retention = app.get(&format!("{execution_path}/retention"), Some(&viewer)).await.json();
    assert!(retention["tracking"]["deletedAt"].is_string() && retention["legalHolds"][0]["releasedAt"].is_string(), "{retention}");
    assert_eq!(app.json("POST", &restore, &operator, &body).await.status, StatusCode::CONFLICT, "a deleted backup restores nothing");
    let floor = format!("/api/admin/backups/storage-locations/{location}/retention-floor");
    let bad_floor = app.json("PUT", &floor, &admin, r#"{"minDays":30,"maxDays":7}"#).await;
    assert_eq!((bad_floor.status, bad_floor.json()["detail"].as_str()), (StatusCode::BAD_REQUEST, Some("maxDays: at least minDays")));
    let locked = app.json("PUT", &floor, &admin, r#"{"minDays":30,"lock":true,"coolingOffHours":0}"#).await;
    assert_eq!(locked.status, StatusCode::OK, "{}", locked.text());
    assert_eq!(app.json("PUT", &floor, &admin, r#"{"minDays":3}"#).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get(&floor, Some(&viewer)).await.json()["minDays"].as_i64(), Some(30));

    // A rebuild on a catalog that lost nothing adds nothing; attaching twice is refused.
    assert_eq!(app.json("POST", "/api/admin/catalog/rebuild", &operator, "").await.status, StatusCode::FORBIDDEN);
    let rebuilt = app.json("POST", "/api/admin/catalog/rebuild", &admin, "").await;
    assert_eq!((rebuilt.status, rebuilt.json()["executionsCreated"].as_u64()), (StatusCode::OK, Some(0)), "{}", rebuilt.text());
    let attach = app.json("POST", &format!("/api/admin/backups/storage-locations/{location}/attach"), &admin, &format!(r#"{{"keyFile":"{}"}}"#, "0".repeat(64))).await;
    assert_eq!(attach.status, StatusCode::CONFLICT, "{}", attach.text());
}

/// The status and message come from where the meaning is known: a restore from a repository
/// whose packs are gone is a 500 that says what is damaged (it was a generic 500 hiding it); a
/// storage location that cannot be reached is a 503 naming it (a hidden 500); a recovery key
/// that does not open a repository is the request's fault, 400 (it was 401, and the console
/// said the session had ended).
async fn errors_are_classified_where_they_are_decided(app: TestApp) {
    let (_, admin) = app.user_with_token("root", Role::Admin).await;
    let (_, operator) = app.user_with_token("ops", Role::Operator).await;
    let locations = "/api/admin/backups/storage-locations";
    let repo = bulwark_testkit::temp_dir("rest-errors").join("repo");
    let body = serde_json::json!({ "locationName": "disk", "storageType": "primary", "provider": "local", "pathPrefix": repo }).to_string();
    let location = app.json("POST", locations, &admin, &body).await.json()["id"].as_str().unwrap().to_string();
    assert_eq!(app.json("POST", &format!("{locations}/{location}/init"), &admin, "").await.status, StatusCode::CREATED);
    let source = bulwark_testkit::temp_dir("rest-errors-src");
    std::fs::write(source.join("data.txt"), "soon damaged").unwrap();
    let config = serde_json::json!({
        "name": "files", "sourceType": "filesystem", "sourceIdentifier": source, "frequency": "daily",
        "storageLocationIds": [location], "rtoMinutes": 30, "rpoMinutes": 1440,
    });
    let id = app.json("POST", "/api/admin/backups/configurations", &admin, &config.to_string()).await.json()["id"].as_str().unwrap().to_string();
    let started = app.json("POST", &format!("/api/admin/backups/configurations/{id}/execute"), &operator, "").await;
    let execution = started.json()["id"].as_str().unwrap().to_string();
    bulwark_core::orchestration::backup::run(&app.catalog, &app.secrets, &execution, Default::default()).await.unwrap();

    std::fs::remove_dir_all(repo.join("packs")).unwrap();
    let target = bulwark_testkit::temp_dir("rest-errors-dst");
    let restore = format!("/api/admin/backups/executions/{execution}/restore");
    let damaged = app.json("POST", &restore, &operator, &serde_json::json!({ "targetPath": target }).to_string()).await;
    assert_eq!((damaged.status, damaged.json()["error"].as_str()), (StatusCode::INTERNAL_SERVER_ERROR, Some("damaged")), "{}", damaged.text());
    assert!(damaged.json()["detail"].as_str().unwrap().contains("is missing or damaged"), "{}", damaged.text());

    // A repository the catalog does not know, and a key file that does not open it.
    let other = bulwark_testkit::temp_dir("rest-errors-other");
    let storage: std::sync::Arc<dyn bulwark_core::engine::storage::Storage> = std::sync::Arc::new(bulwark_core::engine::storage::local::LocalStorage::new(&other));
    bulwark_core::engine::repo::Repository::init(storage, &bulwark_core::engine::repo::keys::Secret::Passphrase("elsewhere".into())).await.unwrap();
    let body = serde_json::json!({ "locationName": "found", "storageType": "primary", "provider": "local", "pathPrefix": other }).to_string();
    let found = app.json("POST", locations, &admin, &body).await.json()["id"].as_str().unwrap().to_string();
    let attach = app.json("POST", &format!("{locations}/{found}/attach"), &admin, &format!(r#"{{"keyFile":"{}"}}"#, "1".repeat(64))).await;
    assert_eq!(attach.status, StatusCode::BAD_REQUEST, "{}", attach.text());
    assert!(attach.json()["detail"].as_str().unwrap().starts_with("keyFile: this key file does not open the repository at \"found\""), "{}", attach.text());

    // Nothing listens on port 1.
    let body = r#"{"locationName":"gone","storageType":"primary","provider":"s3","bucket":"b-1","endpoint":"http://127.0.0.1:1","accessKey":"a","secretKey":"s"}"#;
    let gone = app.json("POST", locations, &admin, body).await.json()["id"].as_str().unwrap().to_string();
    let unreachable = app.json("POST", &format!("{locations}/{gone}/init"), &admin, "").await;
    assert_eq!((unreachable.status, unreachable.json()["error"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("unavailable")), "{}", unreachable.text());
    assert!(unreachable.json()["detail"].as_str().unwrap().contains("storage"), "{}", unreachable.text());
}

async fn password_changes_end_sessions_and_tokens_stay_in_their_lane(app: TestApp) {
    use bulwark_core::platform::accounts::tokens::{self, NewToken};
    use bulwark_core::platform::accounts::users;
    let (admin, admin_token) = app.user_with_token("root", Role::Admin).await;
    let (sam, sam_token) = app.user_with_token("sam", Role::Operator).await;

    // A token changes no password, not even an admin's token.
    let user = format!("/api/admin/users/{}", sam.user_id);
    let reply = app.json("PATCH", &user, &admin_token, r#"{"password":"a brand new password"}"#).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
    assert!(users::authenticate(&app.catalog, &app.secrets, "sam", "sam-password-123", None).await.is_ok(), "the password is unchanged");

    // A token mints no token that outlives it.
    let short = tokens::create(&app.catalog, &sam, NewToken { name: "short".into(), role: None, expires_in_days: Some(5) }).await.unwrap().secret;
    for body in [r#"{"name":"forever"}"#, r#"{"name":"longer","expiresInDays":30}"#] {
        let reply = app.json("POST", "/api/tokens", &short, body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}: {}", reply.text());
    }
    assert_eq!(app.json("POST", "/api/tokens", &short, r#"{"name":"shorter","expiresInDays":2}"#).await.status, StatusCode::CREATED);

    // An admin's reset (in the console) ends every session of sam's and revokes his tokens.
    let id = Id::default().to_string();
    let row = SessionRow {
        id: id.clone(),
        user_id: Some(sam.user_id.clone()),
        data: serde_json::json!({ "user_id": sam.user_id, "login_at": Utc::now().timestamp() }).to_string(),
        expires_at: time::to_text(Utc::now() + Duration::hours(1)),
    };
    sessions::save(&app.catalog, &row).await.unwrap();
    let me = || Request::get("/api/me").header("cookie", format!("bulwark_session={id}")).body(Body::empty()).unwrap();
    assert_eq!(app.send(me()).await.status, StatusCode::OK);
    users::set_password(&app.catalog, &admin, &sam.user_id, "a brand new password").await.unwrap();
    assert_eq!(app.send(me()).await.status, StatusCode::UNAUTHORIZED, "the session outlived the reset");
    for token in [&sam_token, &short] {
        assert_eq!(app.get("/api/me", Some(token)).await.status, StatusCode::UNAUTHORIZED, "a token outlived the reset");
    }
}

async fn one_address_cannot_guess_across_accounts(app: TestApp) {
    app.user_with_token("sam", Role::Viewer).await;
    let login = |name: String, password: &str| {
        Request::post("/_sfn/login")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(format!("username={name}&password={password}")))
            .unwrap()
    };
    // Every guess names another account, so no account's own lockout is reached.
    for i in 0..bulwark_server::throttle::LIMIT {
        let reply = app.send(login(format!("guess{i}"), "wrong-password")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "guess {i}: {}", reply.text());
    }
    let held = app.send(login("sam".into(), "sam-password-123")).await;
    assert_eq!(held.status, StatusCode::TOO_MANY_REQUESTS, "{}", held.text());
    let retry: u64 = held.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= bulwark_server::throttle::WINDOW.as_secs(), "{retry}");
}
