//! The seeds' restoration API over REST: a request copied from the seeds works; a production
//! restore of a database waits for an approver other than the requester (their token refused),
//! then runs on a worker; the restored table equals the backed-up one; replacing a changed
//! database's tables backs it up first and an approved rollback brings back its rows exactly;
//! status, active, history, available, the live events and the approval policies answer in the
//! seeds' words.

use axum::http::StatusCode;
use bulwark_core::platform::auth::Role;
use bulwark_testkit::PgCluster;

use crate::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_production_database_restore_over_rest() {
    let app = TestApp::new(bulwark_testkit::sqlite_url()).await;
    let (_, admin) = app.user_with_token("root", Role::Admin).await;
    let (_, operator) = app.user_with_token("ops", Role::Operator).await;
    let (_, approver) = app.user_with_token("appr", Role::Approver).await;
    let (_, viewer) = app.user_with_token("vic", Role::Viewer).await;

    let locations = "/api/admin/backups/storage-locations";
    let repo = bulwark_testkit::temp_dir("rest-restoration").join("repo");
    let body = serde_json::json!({ "locationName": "disk", "storageType": "primary", "provider": "local", "pathPrefix": repo }).to_string();
    let location = app.json("POST", locations, &admin, &body).await.json()["id"].as_str().unwrap().to_string();
    assert_eq!(app.json("POST", &format!("{locations}/{location}/init"), &admin, "").await.status, StatusCode::CREATED);
    let cluster = tokio::task::spawn_blocking(PgCluster::shared).await.unwrap();
    let source = cluster.fresh_database("restoration_src");
    let database = source.rsplit('/').next().unwrap().to_string();
    cluster.psql(&database, "CREATE TABLE orders (id int PRIMARY KEY, total numeric); INSERT INTO orders SELECT g, g * 1.5 FROM generate_series(1, 2000) g;").unwrap();
    let checksum = "SELECT md5(string_agg(o::text, ',' ORDER BY id)) FROM orders o";
    let expected = cluster.psql(&database, checksum).unwrap();
    let config = serde_json::json!({ "name": "orders db", "sourceType": "postgresql", "sourceIdentifier": source, "storageLocationIds": [location], "rtoMinutes": 15 });
    let config = app.json("POST", "/api/admin/backups/configurations", &admin, &config.to_string()).await.json()["id"].as_str().unwrap().to_string();
    let started = app.json("POST", &format!("/api/admin/backups/configurations/{config}/execute"), &operator, "").await.json();
    let execution = started["executionId"].as_str().unwrap().to_string();
    bulwark_core::orchestration::backup::run(&app.catalog, &app.secrets, &execution, Default::default()).await.unwrap();

    let target = serde_json::json!({ "name": "prod-db", "environment": "production", "targetType": "postgresql", "url": format!("postgresql://postgres@127.0.0.1:{}", cluster.port) });
    assert_eq!(app.json("POST", "/api/admin/backups/restore-targets", &admin, &target.to_string()).await.status, StatusCode::CREATED);

    let available = app.get("/api/admin/backups/restoration/available?dateRange=24h", Some(&viewer)).await.json();
    let backup = &available["availableBackups"][0];
    assert_eq!((backup["executionId"].as_str(), backup["configurationName"].as_str(), backup["pointInTimeCapable"].as_bool()), (Some(execution.as_str()), Some("orders db"), Some(false)), "{available}");
    assert_eq!(app.get("/api/admin/backups/restoration/available?dateRange=1y", Some(&viewer)).await.status, StatusCode::BAD_REQUEST);

    // Over the backed-up database itself: its tables are there, and once it is written after
    // the backup, it is newer than the backup.
    let base = "/api/admin/backups/restoration";
    let over_source = serde_json::json!({ "backupExecutionId": execution, "restorationType": "full", "targetEnvironment": "production", "targetIdentifier": format!("prod-db/{database}") });
    let found = app.json("POST", base, &operator, &over_source.to_string()).await.json();
    assert_eq!((found["status"].as_str(), found["conflicts"].as_array().map(Vec::len)), (Some("conflict_detected"), Some(1)), "{found}");
    cluster.psql(&database, "INSERT INTO orders VALUES (5000, 1); UPDATE orders SET total = 2 WHERE id = 1; CREATE TABLE later (x int);").unwrap();
    let found = app.json("POST", base, &operator, &over_source.to_string()).await.json();
    assert_eq!(
        found["conflicts"][1].as_str(),
        Some(format!("{database} is newer than the backup: since it was taken 2 rows were inserted, updated or deleted; tables created: public.later; restoring over it loses those changes").as_str()),
        "{found}"
    );

    // The seeds' body, as written there.
    let restored_db = format!("{database}_restored");
    let seeds = serde_json::json!({
        "backupExecutionId": execution, "restorationType": "full", "targetEnvironment": "production",
        "targetIdentifier": format!("prod-db/{restored_db}"), "incidentReference": "INC-42", "approvalOverride": false,
    });
    assert_eq!(app.json("POST", base, &viewer, &seeds.to_string()).await.status, StatusCode::FORBIDDEN);
    let mut missing = seeds.clone();
    missing["restorationType"] = "table_level".into();
    missing["restorationScope"] = serde_json::json!({ "tables": ["public.invoices"] });
    let refused = app.json("POST", base, &operator, &missing.to_string()).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text());
    assert!(refused.json()["detail"].as_str().unwrap().starts_with("restorationScope.tables: the backup has no table public.invoices (it has public.orders)"), "{}", refused.text());
    let asked = app.json("POST", base, &admin, &seeds.to_string()).await;
    assert_eq!(asked.status, StatusCode::CREATED, "{}", asked.text());
    let asked = asked.json();
    assert_eq!((asked["status"].as_str(), asked["approvalRequired"].as_bool()), (Some("approval_required"), Some(true)), "{asked}");
    assert!(asked["estimatedDuration"].as_f64().unwrap() > 0.0);
    let id = asked["restorationId"].as_str().unwrap().to_string();
    let active = app.get(&format!("{base}/active"), Some(&viewer)).await.json();
    assert_eq!(active["restorations"][0]["id"].as_str(), Some(id.as_str()));

    // The requester's own token cannot approve; an operator's neither; an approver's can.
    let own = app.json("POST", &format!("{base}/{id}/approve"), &admin, "{}").await;
    assert_eq!(own.status, StatusCode::FORBIDDEN, "{}", own.text());
    assert!(own.json()["detail"].as_str().unwrap().contains("another approver"), "{}", own.text());
    assert_eq!(app.json("POST", &format!("{base}/{id}/approve"), &operator, "{}").await.status, StatusCode::FORBIDDEN);
    let approved = app.json("POST", &format!("{base}/{id}/approve"), &approver, r#"{"comment":"INC-42 checked"}"#).await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text());
    assert_eq!(approved.json()["approvals"][0]["decidedBy"].as_str(), Some("appr"));

    // A worker runs it; the live events end with the completed status.
    let events = app.get(&format!("{base}/{id}/events"), Some(&viewer)).await.text();
    assert!(events.starts_with("event: restoration\ndata: {") && events.contains("\"status\":\"completed\""), "{events}");
    let status = app.get(&format!("{base}/{id}/status"), Some(&viewer)).await.json();
    assert_eq!((status["status"].as_str(), status["progressPercentage"].as_i64()), (Some("completed"), Some(100)), "{status}");
    assert!(status["restoredSize"].as_i64().unwrap() > 0 && status["estimatedCompletion"].is_string(), "{status}");
    assert_eq!(status["verificationResults"]["rtoMet"].as_bool(), Some(true), "{status}");
    assert_eq!(cluster.psql(&restored_db, checksum).unwrap(), expected, "the restored table equals the backed-up one");
    // The same database again: it holds the tables now; nothing runs, a new database is offered.
    let again = app.json("POST", base, &operator, &seeds.to_string()).await.json();
    assert_eq!(again["status"].as_str(), Some("conflict_detected"), "{again}");
    assert!(again["conflicts"][0].as_str().unwrap().contains(&format!("database {restored_db} already has 1 tables")), "{again}");
    let offered = again["alternatives"].as_array().unwrap();
    assert!(offered.iter().any(|a| a["targetIdentifier"].as_str().unwrap().starts_with(&format!("prod-db/{restored_db}_restored_"))), "{again}");
    let replace = offered.iter().find(|a| a["conflictResolution"] == "overwrite").expect("replacing the tables is offered");
    assert!(replace["label"].as_str().unwrap().contains("after a safety snapshot"), "{again}");

    // Someone changed the restored database since; replacing its tables backs it up first, and
    // the rollback (approved like the restore) brings back exactly the rows it had.
    cluster.psql(&restored_db, "UPDATE orders SET total = 0 WHERE id <= 10; DELETE FROM orders WHERE id > 1990; CREATE TABLE notes (t text); INSERT INTO notes VALUES ('kept');").unwrap();
    let notes = "SELECT string_agg(t, ',') FROM notes";
    let changed = (cluster.psql(&restored_db, checksum).unwrap(), cluster.psql(&restored_db, notes).unwrap());
    // What a dump does not hold of a database: its privileges (CONNECT revoked from PUBLIC),
    // connection limit, comment and settings. The rollback's swapped-in database has them too.
    let role = format!("{database}_reader");
    cluster.psql("postgres", &format!("CREATE ROLE {role}")).unwrap();
    cluster
        .psql(
            "postgres",
            &format!(
                "REVOKE CONNECT, TEMPORARY ON DATABASE {restored_db} FROM PUBLIC; GRANT CONNECT ON DATABASE {restored_db} TO {role} WITH GRANT OPTION;
                 ALTER DATABASE {restored_db} CONNECTION LIMIT 40; COMMENT ON DATABASE {restored_db} IS 'orders, it''s production';
                 ALTER DATABASE {restored_db} SET search_path = \"$user\", public, \"Odd, name\"; ALTER DATABASE {restored_db} SET work_mem = '8MB';
                 ALTER ROLE {role} IN DATABASE {restored_db} SET statement_timeout = '5s';"
            ),
        )
        .unwrap();
    let properties = format!(
        "SELECT d.datacl::text, d.datconnlimit, shobj_description(d.oid, 'pg_database'),
                (SELECT string_agg(coalesce(pg_get_userbyid(nullif(s.setrole, 0))::text, '-') || ':' || array_to_string(s.setconfig, ';'), ' ' ORDER BY s.setrole)
                   FROM pg_db_role_setting s WHERE s.setdatabase = d.oid)
           FROM pg_database d WHERE d.datname = '{restored_db}'"
    );
    let kept = cluster.psql("postgres", &properties).unwrap();
    let mut over = seeds.clone();
    over["conflictResolution"] = "overwrite".into();
    let over = app.json("POST", base, &operator, &over.to_string()).await.json();
    assert_eq!(over["status"].as_str(), Some("approval_required"), "{over}");
    let over_id = over["restorationId"].as_str().unwrap().to_string();
    assert_eq!(app.json("POST", &format!("{base}/{over_id}/approve"), &approver, "{}").await.status, StatusCode::OK);
    let events = app.get(&format!("{base}/{over_id}/events"), Some(&viewer)).await.text();
    assert!(events.contains("\"status\":\"completed\""), "{events}");
    assert_eq!(cluster.psql(&restored_db, checksum).unwrap(), expected, "the backup's table replaced the changed one");
    let replaced = app.get(&format!("{base}/{over_id}"), Some(&viewer)).await.json();
    assert!(replaced["safetyExecutionId"].is_string() && replaced["rollbackAvailable"] == true, "{replaced}");
    let rollback = app.json("POST", &format!("{base}/{over_id}/rollback"), &operator, r#"{"reason":"the changed rows were right"}"#).await;
    assert_eq!(rollback.status, StatusCode::CREATED, "{}", rollback.text());
    let rollback = rollback.json();
    assert_eq!(rollback["status"].as_str(), Some("approval_required"), "{rollback}");
    let rollback_id = rollback["restorationId"].as_str().unwrap().to_string();
    assert_eq!(app.json("POST", &format!("{base}/{rollback_id}/approve"), &approver, "{}").await.status, StatusCode::OK);
    let events = app.get(&format!("{base}/{rollback_id}/events"), Some(&viewer)).await.text();
    assert!(events.contains("\"status\":\"completed\""), "{events}");
    assert_eq!((cluster.psql(&restored_db, checksum).unwrap(), cluster.psql(&restored_db, notes).unwrap()), changed, "the database is back as it was");
    assert_eq!(cluster.psql("postgres", &properties).unwrap(), kept, "with its privileges, limit, comment and settings");
    assert_eq!(app.get(&format!("{base}/{over_id}"), Some(&viewer)).await.json()["status"].as_str(), Some("rolled_back"));
    let history = app.get(&format!("{base}?status=completed&targetEnvironment=production"), Some(&viewer)).await.json();
    assert_eq!(history["restorations"].as_array().map(Vec::len), Some(2), "the first restore and the rollback: {history}");
    assert_eq!(app.get(&format!("{base}?status=nope"), Some(&viewer)).await.status, StatusCode::BAD_REQUEST);

    // The older door asks the same approval for the same place.
    let door = serde_json::json!({ "targetUrl": format!("postgresql://postgres@127.0.0.1:{}/{database}_again", cluster.port) });
    let waiting = app.json("POST", &format!("/api/admin/backups/executions/{execution}/restore"), &operator, &door.to_string()).await;
    assert_eq!((waiting.status, waiting.json()["status"].as_str()), (StatusCode::ACCEPTED, Some("approval_required")), "{}", waiting.text());

    // Policies: listed for every environment, changed by administrators only.
    let policies = app.get("/api/admin/backups/approval-policies", Some(&viewer)).await.json();
    assert_eq!(policies["policies"].as_array().map(Vec::len), Some(4));
    let staging = serde_json::json!({ "environment": "staging", "requireApproval": "always", "approversRequired": 2, "requireTotp": false, "validityHours": 8, "breakGlassAllowed": false, "rollbackHours": 24 });
    let path = "/api/admin/backups/approval-policies/staging";
    assert_eq!(app.json("PUT", path, &operator, &staging.to_string()).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.json("PUT", path, &admin, &staging.to_string()).await.status, StatusCode::OK);
    assert_eq!(app.json("PUT", "/api/admin/backups/approval-policies/production", &admin, &staging.to_string()).await.status, StatusCode::BAD_REQUEST);
}

/// The disaster-recovery seeds' door: `{targetEnvironment, restoreOptions}` in, `{success,
/// restore, message}` out, the same restoration and the same rules.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_disaster_recovery_seeds_restore_door() {
    let app = TestApp::new(bulwark_testkit::sqlite_url()).await;
    let (_, admin) = app.user_with_token("root", Role::Admin).await;
    let (_, operator) = app.user_with_token("ops", Role::Operator).await;
    let repo = bulwark_testkit::temp_dir("rest-dr-restore").join("repo");
    let body = serde_json::json!({ "locationName": "disk", "storageType": "primary", "provider": "local", "pathPrefix": repo }).to_string();
    let location = app.json("POST", "/api/admin/backups/storage-locations", &admin, &body).await.json()["id"].as_str().unwrap().to_string();
    app.json("POST", &format!("/api/admin/backups/storage-locations/{location}/init"), &admin, "").await;
    let source = bulwark_testkit::temp_dir("rest-dr-src");
    std::fs::write(source.join("site.conf"), "listen 443").unwrap();
    let config = serde_json::json!({ "name": "site", "sourceType": "filesystem", "sourceIdentifier": source, "storageLocationIds": [location] });
    let config = app.json("POST", "/api/admin/backups/configurations", &admin, &config.to_string()).await.json()["id"].as_str().unwrap().to_string();
    let execution = app.json("POST", &format!("/api/admin/backups/configurations/{config}/execute"), &operator, "").await.json()["executionId"].as_str().unwrap().to_string();
    bulwark_core::orchestration::backup::run(&app.catalog, &app.secrets, &execution, Default::default()).await.unwrap();
    let dr = bulwark_testkit::temp_dir("rest-dr-target");
    let target = serde_json::json!({ "name": "dr-site", "environment": "disaster_recovery", "targetType": "directory", "path": dr });
    app.json("POST", "/api/admin/backups/restore-targets", &admin, &target.to_string()).await;

    let path = format!("/api/disaster-recovery/backups/{execution}/restore");
    let full = serde_json::json!({ "targetEnvironment": "disaster_recovery", "restoreOptions": { "targetIdentifier": "dr-site/full" } });
    let answer = app.json("POST", &path, &operator, &full.to_string()).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text());
    let answer = answer.json();
    assert_eq!((answer["success"].as_bool(), answer["restore"]["status"].as_str()), (Some(true), Some("approval_required")), "full into DR waits: {answer}");
    let partial = serde_json::json!({ "targetEnvironment": "disaster_recovery", "restoreOptions": { "targetIdentifier": "dr-site/part", "restorationType": "partial", "restorationScope": { "paths": ["site.conf"] } } });
    let answer = app.json("POST", &path, &operator, &partial.to_string()).await.json();
    assert_eq!((answer["restore"]["status"].as_str(), answer["message"].as_str()), (Some("initiated"), Some("Restore initiated successfully")), "{answer}");
    let id = answer["restore"]["restorationId"].as_str().unwrap().to_string();
    for _ in 0..100 {
        if app.get(&format!("/api/admin/backups/restoration/{id}/status"), Some(&operator)).await.json()["status"] == "completed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(std::fs::read_to_string(dr.join("part/site.conf")).unwrap(), "listen 443");
    let bad = app.json("POST", &path, &operator, r#"{"targetEnvironment":"disaster_recovery","restoreOptions":{}}"#).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text());
}
