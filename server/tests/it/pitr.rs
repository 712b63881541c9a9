//! Continuous PostgreSQL configurations end to end: a real cluster archives its WAL to the
//! server over HTTP (`archive_command` is curl), a base backup runs, rows are committed in
//! batches with times noted between them, and point-in-time restores into new data
//! directories, started by Bulwark, hold exactly the rows committed before each target.

use bulwark_core::restore_tests::TestStatus;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use bulwark_core::platform::auth::Role;
use bulwark_testkit::{PgCluster, free_port, temp_dir};

use crate::{TestApp, on_both_catalogs};

on_both_catalogs!(
    point_in_time_restores_hold_exactly_the_rows_before_the_target,
    a_consistency_group_restores_every_member_to_its_point,
    restored_clusters_run_bulwarks_settings_never_their_sources
);

/// The database clock now, in RFC 3339 UTC.
fn db_now(cluster: &PgCluster) -> String {
    cluster.psql("shop", r#"SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"#).unwrap()
}

/// Commits batch `n`: 100 rows with non-ASCII text.
fn insert_batch(cluster: &PgCluster, n: i32) {
    cluster
        .psql("shop", &format!("INSERT INTO orders (batch, note) SELECT {n}, 'Bestellung Nº ' || g || ' – ünïcödé' FROM generate_series(1, 100) g"))
        .unwrap();
}

/// Rows and a checksum of every row, in key order.
fn orders(cluster: &PgCluster, up_to_batch: i32) -> String {
    cluster.psql("shop", &format!("SELECT count(*) || ' ' || md5(string_agg(o::text, ',' ORDER BY id)) FROM orders o WHERE batch <= {up_to_batch}")).unwrap()
}

/// Waits until the source has archived everything up to its current WAL file.
async fn wait_archived(cluster: &PgCluster) {
    let current = cluster.psql("postgres", "SELECT pg_walfile_name(pg_current_wal_lsn())").unwrap();
    cluster.psql("postgres", "SELECT pg_switch_wal()").unwrap();
    let started = Instant::now();
    loop {
        let last = cluster.psql("postgres", "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver").unwrap();
        if last.as_str() >= current.as_str() {
            return;
        }
        let failed = cluster.psql("postgres", "SELECT coalesce(last_failed_wal, '') FROM pg_stat_archiver").unwrap();
        assert!(started.elapsed() < Duration::from_secs(60), "WAL {current} not archived (last {last:?}, last failed {failed:?})");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A server on a TCP port, a location, and a cluster archiving into a continuous configuration
/// that has one base backup.
struct Continuous {
    admin: String,
    operator: String,
    location: String,
    source: PgCluster,
    /// The configuration's id.
    id: String,
    /// Its base backup's execution id.
    base_backup: String,
}

const CONFIGURATIONS: &str = "/api/admin/backups/configurations";

async fn continuous(app: &TestApp) -> Continuous {
    continuous_with(app, &[]).await
}

/// [`continuous`], with `settings` set on the source (ALTER SYSTEM) before its base backup.
async fn continuous_with(app: &TestApp, settings: &[(&str, String)]) -> Continuous {
    let (_, admin) = app.user_with_token("root", Role::Admin).await;
    let (_, operator) = app.user_with_token("ops", Role::Operator).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(axum::serve(listener, app.router.clone()).into_future());

    let locations = "/api/admin/backups/storage-locations";
    let body = serde_json::json!({ "locationName": "disk", "storageType": "primary", "provider": "local", "pathPrefix": temp_dir("pitr-repo").join("repo") });
    let location = app.json("POST", locations, &admin, &body.to_string()).await.json()["id"].as_str().unwrap().to_string();
    assert_eq!(app.json("POST", &format!("{locations}/{location}/init"), &admin, "").await.status, StatusCode::CREATED);

    let source = tokio::task::spawn_blocking(|| PgCluster::start(&[("wal_level", "replica"), ("archive_mode", "on")])).await.unwrap().unwrap();
    source.psql("postgres", "CREATE DATABASE shop").unwrap();
    source.psql("shop", "CREATE TABLE orders (id serial PRIMARY KEY, batch int NOT NULL, note text NOT NULL)").unwrap();
    let base = CONFIGURATIONS;
    let config = serde_json::json!({
        "name": "shop-db", "sourceType": "postgresql", "sourceIdentifier": source.url("shop"), "frequency": "continuous",
        "storageLocationIds": [location], "rpoMinutes": 5,
    });
    let created = app.json("POST", base, &admin, &config.to_string()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let id = created.json()["id"].as_str().unwrap().to_string();
    // The cluster pushes with a token that may do nothing else.
    let created = app.json("POST", &format!("{base}/{id}/wal-token"), &operator, "").await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let narrow = created.json()["secret"].as_str().unwrap().to_string();
    assert!(created.json()["archiveCommand"].as_str().unwrap().contains(&narrow));
    for (method, path) in [("GET", format!("{base}")), ("GET", format!("{base}/{id}")), ("POST", format!("{base}/{id}/execute")), ("POST", "/api/tokens".to_string())] {
        let reply = app.json(method, &path, &narrow, "{\"name\": \"more\"}").await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{method} {path} with a WAL push token: {}", reply.text());
    }
    let elsewhere = axum::http::Request::put(format!("{base}/another-configuration/wal/000000010000000000000001"))
        .header("authorization", format!("Bearer {narrow}"))
        .body(axum::body::Body::from(vec![0u8; 16]))
        .unwrap();
    assert_eq!(app.send(elsewhere).await.status, StatusCode::FORBIDDEN, "a WAL push token pushes only its own configuration's WAL");
    let wal = format!("{server}{base}/{id}/wal");
    let archive_command = format!("curl -fsS -X PUT -H 'Authorization: Bearer {narrow}' --data-binary @%p {wal}/%f");
    source.psql("postgres", &format!("ALTER SYSTEM SET archive_command = '{}'", archive_command.replace('\'', "''"))).unwrap();
    source.psql("postgres", "SELECT pg_reload_conf()").unwrap();
    for (name, value) in settings {
        source.psql("postgres", &format!("ALTER SYSTEM SET {name} = '{}'", value.replace('\'', "''"))).unwrap();
    }

    let window = app.get(&format!("{base}/{id}/recovery-window"), Some(&operator)).await.json();
    assert_eq!((window["baseBackups"].as_i64(), window["earliest"].as_str()), (Some(0), None));
    let started = app.json("POST", &format!("{base}/{id}/execute"), &operator, "").await;
    let execution = started.json()["id"].as_str().unwrap().to_string();
    bulwark_core::orchestration::backup::run(&app.catalog, &app.secrets, &execution, Default::default()).await.unwrap();
    let done = app.get(&format!("/api/admin/backups/executions/{execution}"), Some(&operator)).await.json();
    assert_eq!(done["recoveryMetadata"]["format"].as_str(), Some("pg_basebackup tar"), "{done}");
    assert!(done["recoveryMetadata"]["wal"]["startFile"].as_str().is_some_and(|f| f.len() == 24), "{done}");
    // The source's archive_command carries the push token: it is never kept where a viewer reads.
    assert!(!done.to_string().contains(&narrow) && done["recoveryMetadata"]["postgresql"]["archiveCommandSet"] == true, "{done}");
    Continuous { admin, operator, location, source, id, base_backup: execution }
}

async fn point_in_time_restores_hold_exactly_the_rows_before_the_target(app: TestApp) {
    let Continuous { operator, source, id, base_backup: execution, location, .. } = continuous(&app).await;
    let base = CONFIGURATIONS;

    // Three batches, a time noted between each, a named restore point after the second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    insert_batch(&source, 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let after_first = db_now(&source);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    insert_batch(&source, 2);
    source.psql("postgres", "SELECT pg_create_restore_point('after_batch_2')").unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    insert_batch(&source, 3);
    wait_archived(&source).await;
    let window = app.get(&format!("{base}/{id}/recovery-window"), Some(&operator)).await.json();
    assert_eq!(window["baseBackups"].as_i64(), Some(1), "{window}");
    assert!(window["walFiles"].as_i64().unwrap() >= 2 && window["latest"].as_str() > window["earliest"].as_str(), "{window}");

    let recover = format!("{base}/{id}/recover");
    for (target, batches) in [
        (serde_json::json!({ "targetTime": after_first }), 1),
        (serde_json::json!({ "restorePoint": "after_batch_2" }), 2),
        (serde_json::json!({}), 3),
    ] {
        let data = temp_dir("pitr-restore").join("data");
        let port = free_port();
        let mut request = target.clone();
        request["targetDirectory"] = data.display().to_string().into();
        request["port"] = port.into();
        let reply = app.json("POST", &recover, &operator, &request.to_string()).await;
        assert_eq!(reply.status, StatusCode::OK, "{target}: {}", reply.text());
        bulwark_testkit::adopt_cluster(&data);
        let report = reply.json();
        assert_eq!(report["executionId"].as_str(), Some(execution.as_str()));
        assert!(report["walFiles"].as_u64().unwrap() >= 1 && report["durationSeconds"].as_f64().unwrap() > 0.0, "{report}");
        assert!(!data.join("bulwark_wal").exists(), "the staged WAL is removed once replay is over");
        let restored = PgCluster::running_at(port, &data);
        assert_eq!(orders(&restored, 3), orders(&source, batches), "{target}: rows of batches 1..={batches} exactly");
        let in_recovery = restored.psql("postgres", "SELECT pg_is_in_recovery()").unwrap();
        assert_eq!(in_recovery, "f", "promoted");
        bulwark_testkit::stop_cluster(&data).unwrap();
    }

    // A restore test of the base backup: replayed to the latest WAL, started, checked, removed.
    let queued = app.json("POST", "/api/admin/backups/testing/schedule", &operator, &serde_json::json!({ "executionId": execution }).to_string()).await;
    assert_eq!(queued.status, StatusCode::OK, "{}", queued.text());
    let test = bulwark_core::orchestration::restore_test::run(&app.catalog, &app.secrets, queued.json()["testId"].as_str().unwrap()).await.unwrap();
    assert_eq!(test.status, TestStatus::Passed, "{}", test.issues_found);
    let metrics: serde_json::Value = serde_json::from_str(&test.performance_metrics).unwrap();
    assert!(metrics["itemsRestored"].as_u64().unwrap() >= 2 && metrics["target"]["recoveredTo"].is_string(), "{metrics}");
    println!("restore test of a base backup (replayed, started, checked): {} s", metrics["restoreSeconds"]);
    let data_directory = metrics["target"]["dataDirectory"].as_str().unwrap();
    assert!(!std::path::Path::new(data_directory).exists(), "the test cluster is stopped and removed");

    // The catalog is lost. In a new one the repository is attached and the catalog rebuilt:
    // the base backup comes back with its WAL start point (read from its backup_label), its
    // configuration continuous, and it restores to the latest point with every row.
    {
        use bulwark_core::{platform::auth::Principal, platform::catalog::Catalog, locations, rebuild, platform::secrets::SecretBox};
        let system = Principal::system("test");
        let old = locations::list(&app.catalog, &system).await.unwrap().into_iter().find(|l| l.id == location).unwrap();
        let key_file = app.secrets.open(&format!("location:{location}:repository_key"), old.repository_key_encrypted.as_deref().unwrap()).unwrap();
        let catalog = Catalog::open(&bulwark_testkit::sqlite_url()).await.unwrap();
        let secrets = SecretBox::new(bulwark_core::engine::repo::crypto::Key::random());
        let again = locations::NewLocation { location_name: "disk again".into(), storage_type: "primary".into(), provider: "local".into(), path_prefix: old.path_prefix.clone(), ..Default::default() };
        let again = locations::create(&catalog, &secrets, &system, again).await.unwrap();
        rebuild::attach(&catalog, &secrets, &system, &again.id, rebuild::Attach { key_file }).await.unwrap();
        let report = rebuild::rebuild(&catalog, &secrets, &system).await.unwrap();
        assert!(report.executions_created >= 1 && report.wal_files >= 2, "{report:?}");
        let data = temp_dir("pitr-rebuilt").join("data");
        let port = free_port();
        let request = bulwark_core::sources::postgres_cluster::PhysicalRestore { target_directory: data.display().to_string(), target_time: None, restore_point: None, port: Some(port) };
        let base = bulwark_core::sources::postgres_cluster::base_backup_for(&catalog, &system, &id, &request).await.unwrap();
        let recovered = bulwark_core::sources::postgres_cluster::restore_physical(&catalog, &secrets, &crate::restore_targets(), &system, &base, request).await.unwrap();
        bulwark_testkit::adopt_cluster(&data);
        assert!(recovered.wal_files >= 1, "{recovered:?}");
        let restored = PgCluster::running_at(port, &data);
        assert_eq!(orders(&restored, 3), orders(&source, 3), "the rebuilt catalog restores every row");
        bulwark_testkit::stop_cluster(&data).unwrap();
    }

    // Bad input: nothing is restored, nothing is left behind.
    let occupied = temp_dir("pitr-occupied");
    std::fs::write(occupied.join("keep.txt"), "mine").unwrap();
    let refused = app.json("POST", &recover, &operator, &serde_json::json!({ "targetDirectory": occupied }).to_string()).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text());
    assert_eq!(std::fs::read_to_string(occupied.join("keep.txt")).unwrap(), "mine");
    let too_early = serde_json::json!({ "targetDirectory": temp_dir("pitr-early").join("data"), "targetTime": "2020-01-01T00:00:00Z" });
    let early = app.json("POST", &recover, &operator, &too_early.to_string()).await;
    assert_eq!(early.status, StatusCode::BAD_REQUEST);
    assert!(early.json()["detail"].as_str().unwrap().contains("no base backup"), "{}", early.text());
    let both = serde_json::json!({ "targetDirectory": "/tmp/x", "targetTime": after_first, "restorePoint": "p" });
    assert_eq!(app.json("POST", &recover, &operator, &both.to_string()).await.status, StatusCode::BAD_REQUEST);

    // The archive: the same file again is fine, different bytes under its name are refused.
    let last = window["lastWalFile"].as_str().unwrap().to_string();
    let bytes = app.get(&format!("{base}/{id}/wal/{last}"), Some(&operator)).await;
    assert_eq!((bytes.status, bytes.body.len()), (StatusCode::OK, 16 << 20));
    let put = |body: Vec<u8>, name: &str| {
        let request = axum::http::Request::put(format!("{base}/{id}/wal/{name}")).header("authorization", format!("Bearer {operator}")).body(axum::body::Body::from(body)).unwrap();
        app.send(request)
    };
    let again = put(bytes.body.clone(), &last).await;
    assert_eq!((again.status, again.json()["alreadyArchived"].as_bool()), (StatusCode::OK, Some(true)));
    let mut changed = bytes.body.clone();
    changed[100] ^= 1;
    let conflict = put(changed, &last).await;
    assert_eq!(conflict.status, StatusCode::CONFLICT, "{}", conflict.text());
    assert_eq!(put(b"x".to_vec(), "not-a-wal-file").await.status, StatusCode::BAD_REQUEST);
    // No more than the cluster's segment size is read: a push is held in memory whole.
    let oversized = put(vec![0u8; (16 << 20) + 1], "000000010000000000000077").await;
    assert_eq!(oversized.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", oversized.text());
    assert_eq!(app.get(&format!("{base}/{id}/wal/0000000100000000000000FF"), Some(&operator)).await.status, StatusCode::NOT_FOUND);
}

async fn a_consistency_group_restores_every_member_to_its_point(app: TestApp) {
    let Continuous { admin, operator, location, source, id: database, .. } = continuous(&app).await;
    let files = temp_dir("group-config");
    std::fs::write(files.join(".env"), "API_KEY=before\n").unwrap();
    let body = serde_json::json!({
        "name": "app config", "sourceType": "environment_vars", "sourceIdentifier": files, "storageLocationIds": [location],
    });
    let config_files = app.json("POST", CONFIGURATIONS, &admin, &body.to_string()).await.json()["id"].as_str().unwrap().to_string();
    let mut group = serde_json::json!({
        "name": "shop platform", "backupType": "full_system", "sourceType": "consistency_group", "sourceIdentifier": "database and its configuration",
        "sourceOptions": { "members": [database, config_files] }, "storageLocationIds": [location],
    });
    group["backupType"] = "full".into();
    let refused = app.json("POST", CONFIGURATIONS, &admin, &group.to_string()).await;
    assert_eq!(refused.json()["detail"].as_str(), Some("backupType: a consistency group is a full_system backup"));
    group["backupType"] = "full_system".into();
    let created = app.json("POST", CONFIGURATIONS, &admin, &group.to_string()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let group_id = created.json()["id"].as_str().unwrap().to_string();

    insert_batch(&source, 1);
    let started = app.json("POST", &format!("{CONFIGURATIONS}/{group_id}/execute"), &operator, "").await;
    let point = started.json()["id"].as_str().unwrap().to_string();
    bulwark_core::orchestration::backup::run(&app.catalog, &app.secrets, &point, Default::default()).await.unwrap();
    let done = app.get(&format!("/api/admin/backups/executions/{point}"), Some(&operator)).await.json();
    let members = done["recoveryMetadata"]["members"].as_array().unwrap().clone();
    assert_eq!(members.len(), 2, "{done}");
    assert!(members[0]["restorePoint"].as_str().is_some() && members[0]["lsn"].as_str().is_some(), "{done}");
    assert!(members[1]["executionId"].as_str().is_some() && members[1]["snapshotId"].as_str().is_some(), "{done}");

    // After the point: more rows, a changed key.
    insert_batch(&source, 2);
    std::fs::write(files.join(".env"), "API_KEY=after\n").unwrap();
    wait_archived(&source).await;

    let restore = format!("/api/admin/backups/executions/{point}/restore");
    let data = temp_dir("group-db").join("data");
    let missing = serde_json::json!({ "members": { "shop-db": { "targetDirectory": data, "port": free_port() } } });
    let refused = app.json("POST", &restore, &operator, &missing.to_string()).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.json()["detail"].as_str().unwrap().starts_with("members.app config:"), "{}", refused.text());
    assert!(!data.exists(), "nothing restored when one member has no target");

    let port = free_port();
    let restored_files = temp_dir("group-files");
    let mut targets = serde_json::Map::new();
    targets.insert("shop-db".into(), serde_json::json!({ "targetDirectory": data, "port": port }));
    targets.insert(config_files.clone(), serde_json::json!({ "targetPath": restored_files }));
    let request = serde_json::json!({ "members": targets });
    // The configuration files' values are an admin's to restore: an operator restores nothing.
    let refused = app.json("POST", &restore, &operator, &request.to_string()).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());
    assert!(!data.exists() && !restored_files.join(".env").exists(), "nothing restored when one member is refused");
    let reply = app.json("POST", &restore, &admin, &request.to_string()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    bulwark_testkit::adopt_cluster(&data);
    assert_eq!(reply.json()["members"].as_array().map(Vec::len), Some(2));
    let restored = PgCluster::running_at(port, &data);
    assert_eq!(orders(&restored, 3), orders(&source, 1), "the database at the group's point: batch 1 only");
    assert_eq!(std::fs::read_to_string(restored_files.join(".env")).unwrap(), "API_KEY=before\n");
    bulwark_testkit::stop_cluster(&data).unwrap();
}

/// A superuser of a protected database plants commands, a preload library, an include and a
/// wide-open pg_hba.conf in the cluster; a restore and a restore test of its base backup run
/// none of it, and a target directory carrying shell syntax or lying outside the restore roots
/// is refused before anything is written.
async fn restored_clusters_run_bulwarks_settings_never_their_sources(app: TestApp) {
    let marker = |what: &str| std::env::temp_dir().join(format!("bulwark-marker-{}-{}-{what}", std::process::id(), uuid::Uuid::new_v4().simple()));
    let (ran_end, ran_cleanup, ran_include) = (marker("end"), marker("cleanup"), marker("include"));
    let planted = [
        ("recovery_end_command", format!("touch {}", ran_end.display())),
        ("archive_cleanup_command", format!("touch {}", ran_cleanup.display())),
        ("ssl_passphrase_command", format!("touch {}", ran_end.display())),
        ("shared_preload_libraries", "bulwark_no_such_library".to_string()),
        ("listen_addresses", "*".to_string()),
    ];
    let Continuous { operator, source, id, base_backup, .. } = continuous_with(&app, &planted).await;
    // Files a backup carries as they are: an include of the attacker's settings, a trust-all rule.
    let evil = temp_dir("pitr-evil").join("evil.conf");
    std::fs::write(&evil, format!("recovery_end_command = 'touch {}'\n", ran_include.display())).unwrap();
    let append = |file: &str, line: String| {
        use std::io::Write;
        std::fs::OpenOptions::new().append(true).open(source.dir.join("data").join(file)).unwrap().write_all(line.as_bytes()).unwrap();
    };
    append("postgresql.conf", format!("include '{}'\n", evil.display()));
    append("pg_hba.conf", "host all all 0.0.0.0/0 trust\n".into());
    let base = CONFIGURATIONS;
    let execute = app.json("POST", &format!("{base}/{id}/execute"), &operator, "").await;
    let execution = execute.json()["id"].as_str().unwrap().to_string();
    bulwark_core::orchestration::backup::run(&app.catalog, &app.secrets, &execution, Default::default()).await.unwrap();
    assert_ne!(execution, base_backup);
    insert_batch(&source, 1);
    wait_archived(&source).await;

    // Shell syntax, quotes, newlines, and places outside the restore roots: refused, nothing made.
    let root = bulwark_testkit::process_root();
    let pwned = marker("pwned");
    let recover = format!("{base}/{id}/recover");
    for bad in [
        format!("{}/$(touch {})", root.display(), pwned.display()),
        format!("{}/`touch {}`", root.display(), pwned.display()),
        format!("{}/x'; touch {}; '", root.display(), pwned.display()),
        format!("{}/x\"", root.display()),
        format!("{}/x\nport = 1", root.display()),
        "/etc/bulwark-restore".to_string(),
        format!("{}/../escape", root.display()),
    ] {
        let request = serde_json::json!({ "targetDirectory": bad, "port": free_port() });
        let reply = app.json("POST", &recover, &operator, &request.to_string()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad:?}: {}", reply.text());
        assert!(!std::path::Path::new(&bad).exists() && !pwned.exists(), "{bad:?} made something");
    }

    // A restore started by Bulwark: its own settings, its own pg_hba.conf, no planted command.
    let data = temp_dir("pitr-safe").join("data");
    let port = free_port();
    let request = serde_json::json!({ "targetDirectory": data, "port": port });
    let reply = app.json("POST", &recover, &operator, &request.to_string()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    bulwark_testkit::adopt_cluster(&data);
    let restored = PgCluster::running_at(port, &data);
    assert_eq!(orders(&restored, 3), orders(&source, 1));
    for (setting, expected) in [
        ("recovery_end_command", ""),
        ("archive_cleanup_command", ""),
        ("ssl_passphrase_command", ""),
        ("shared_preload_libraries", ""),
        ("listen_addresses", "127.0.0.1"),
        ("archive_mode", "off"),
    ] {
        assert_eq!(restored.psql("postgres", &format!("SHOW {setting}")).unwrap(), expected, "{setting}");
    }
    let hba = std::fs::read_to_string(data.join("pg_hba.conf")).unwrap();
    assert!(hba.contains("Written by Bulwark") && !hba.contains("0.0.0.0/0"), "{hba}");
    assert!(data.join("bulwark_source_config/pg_hba.conf").exists(), "the source's files are kept aside for a person to read");
    // The postmaster's environment: nothing of this process's (cargo's variables stand in for
    // BULWARK_SECRET_KEY and DATABASE_URL).
    let pid = std::fs::read_to_string(data.join("postmaster.pid")).unwrap().lines().next().unwrap().trim().to_string();
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    let environ = String::from_utf8_lossy(&environ);
    assert!(!environ.contains("CARGO_") && !environ.contains("BULWARK_"), "the restored cluster inherited: {environ}");
    bulwark_testkit::stop_cluster(&data).unwrap();

    // The daily sweep's restore test of the same backup runs none of it either (and passes:
    // the missing preload library would stop the source's settings from starting at all).
    let queued = app.json("POST", "/api/admin/backups/testing/schedule", &operator, &serde_json::json!({ "executionId": execution }).to_string()).await;
    let test = bulwark_core::orchestration::restore_test::run(&app.catalog, &app.secrets, queued.json()["testId"].as_str().unwrap()).await.unwrap();
    assert_eq!(test.status, TestStatus::Passed, "{}", test.issues_found);
    for ran in [&ran_end, &ran_cleanup, &ran_include, &pwned] {
        assert!(!ran.exists(), "{} ran", ran.display());
    }
}
