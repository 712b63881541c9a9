//! Backup configurations and their executions, against real sources: a directory tree and a
//! PostgreSQL database dumped with the real pg_dump, restored with the real pg_restore.

use bulwark_core::executions::ExecutionStatus;
use std::sync::Arc;

use bulwark_core::platform::auth::{Principal, Role};
use bulwark_core::platform::catalog::Catalog;
use bulwark_core::configurations::{self, NewConfiguration};
use bulwark_core::error::{Classify, Kind};
use bulwark_core::executions;
use bulwark_core::locations::{self, NewLocation};
use bulwark_core::engine::repo::crypto::Key;
use bulwark_core::engine::repo::restore;
    use bulwark_core::sources::postgres_dump::{self, PostgresRestore};
use bulwark_core::platform::secrets::SecretBox;
use bulwark_testkit::PgCluster;

use crate::{on_both_catalogs, user};

on_both_catalogs!(
    configurations_validate_and_keep_passwords_sealed,
    a_filesystem_backup_runs_and_restores,
    a_postgres_database_is_dumped_and_restores,
    a_backup_goes_to_the_next_location_when_the_first_does_not_answer,
    executions_whose_job_ended_are_reconciled,
    a_backup_s_outcome_is_an_event_with_its_subscribers_queued,
);

/// A backup's outcome and the reactions to it are one transaction: the completed execution,
/// its `backup.completed` event and one queued job per subscriber (retention tracking, copies,
/// verification) exist together; they used to be called one after the other after the commit,
/// so a node dying in between lost them. A failed backup records `backup.failed`.
async fn a_backup_s_outcome_is_an_event_with_its_subscribers_queued(catalog: Catalog) {
    use bulwark_core::platform::events;
    let secrets = SecretBox::new(Key::random());
    let admin = user(&catalog, "admin", Role::Admin).await;
    let loc = location(&catalog, &secrets, &admin).await;
    let source = bulwark_testkit::temp_dir("event-src");
    std::fs::write(source.join("a.txt"), "an event").unwrap();
    let c = configurations::create(&catalog, &secrets, &admin, config("evented", "filesystem", source.to_str().unwrap(), &loc)).await.unwrap();
    let e = executions::start(&catalog, &admin, &c.id, "manual").await.unwrap();
    bulwark_core::orchestration::backup::run(&catalog, &secrets, &e.id, Default::default()).await.unwrap();
    let done = executions::get(&catalog, &admin, &e.id).await.unwrap();
    let recorded = events::about(&catalog, &e.id).await.unwrap();
    assert_eq!(recorded.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), ["backup.completed"]);
    let payload: serde_json::Value = serde_json::from_str(&recorded[0].payload).unwrap();
    assert_eq!(payload["snapshotId"].as_str(), done.snapshot_id.as_deref());
    assert_eq!(payload["locationId"].as_str(), Some(loc.as_str()));
    let mut queued: Vec<(String, String)> = sqlx::query_as("SELECT kind, payload FROM jobs WHERE subject_id = $1 AND state = 'queued' AND kind <> $2").bind(&e.id).bind(executions::JOB_KIND).fetch_all(catalog.pool()).await.unwrap();
    queued.sort();
    let kinds: Vec<&str> = queued.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, [events::ALERT_BACKUPS, events::QUEUE_COPIES, events::TRACK_RETENTION, events::VERIFY_BACKUP]);
    for (_, payload) in &queued {
        let payload: serde_json::Value = serde_json::from_str(payload).unwrap();
        assert_eq!((payload["eventId"].as_str(), payload["executionId"].as_str()), (Some(recorded[0].id.as_str()), Some(e.id.as_str())));
    }

    std::fs::remove_dir_all(&source).unwrap();
    let failed = executions::start(&catalog, &admin, &c.id, "manual").await.unwrap();
    assert!(bulwark_core::orchestration::backup::run(&catalog, &secrets, &failed.id, Default::default()).await.is_err());
    let recorded = events::about(&catalog, &failed.id).await.unwrap();
    assert_eq!(recorded.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), ["backup.failed"]);
}

/// An initialised local location.
pub(crate) async fn location(catalog: &Catalog, secrets: &SecretBox, admin: &Principal) -> String {
    let dir = bulwark_testkit::temp_dir("exec-loc");
    let new = NewLocation {
        location_name: format!("disk {}", uuid::Uuid::new_v4()),
        storage_type: "primary".into(),
        provider: "local".into(),
        path_prefix: Some(dir.join("repo").display().to_string()),
        ..Default::default()
    };
    let loc = locations::create(catalog, secrets, admin, new).await.unwrap();
    locations::init_repository(catalog, secrets, admin, &loc.id).await.unwrap();
    loc.id
}

fn config(name: &str, source_type: &str, source: &str, location: &str) -> NewConfiguration {
    serde_json::from_value(serde_json::json!({
        "name": name, "sourceType": source_type, "sourceIdentifier": source, "storageLocationIds": [location],
    }))
    .unwrap()
}

async fn configurations_validate_and_keep_passwords_sealed(catalog: Catalog) {
    let secrets = SecretBox::new(Key::random());
    let admin = user(&catalog, "admin", Role::Admin).await;
    let viewer = user(&catalog, "viewer", Role::Viewer).await;
    let loc = location(&catalog, &secrets, &admin).await;
    let base = config("db", "postgresql", "postgresql://app@db.internal:5432/app", &loc);
    assert_eq!(configurations::create(&catalog, &secrets, &viewer, base.clone()).await.unwrap_err().kind(), Kind::Forbidden);
    for (bad, field) in [
        (NewConfiguration { name: " ".into(), ..base.clone() }, "name"),
        (NewConfiguration { source_type: "ftp".into(), ..base.clone() }, "sourceType"),
        (NewConfiguration { source_identifier: "postgresql://app:hunter2@db/app".into(), ..base.clone() }, "sourceIdentifier"),
        (NewConfiguration { source_identifier: "postgresql://app@db".into(), ..base.clone() }, "sourceIdentifier"),
        (NewConfiguration { source_identifier: "postgresql://app:hunter2@db/app".into(), ..base.clone() }, "sourceIdentifier: put the password"),
        (NewConfiguration { source_identifier: "postgresql://app@db/app?sslmode=require&password=hunter2".into(), ..base.clone() }, "sourceIdentifier: put the password"),
        (NewConfiguration { source_identifier: "postgresql://app@db/app?passfile=/root/.pgpass".into(), ..base.clone() }, "sourceIdentifier: put the password"),
        (NewConfiguration { source_type: "filesystem".into(), source_identifier: "relative/dir".into(), ..base.clone() }, "sourceIdentifier"),
        (NewConfiguration { frequency: "sometimes".into(), ..base.clone() }, "frequency"),
        (NewConfiguration { frequency: "custom".into(), ..base.clone() }, "schedule"),
        (NewConfiguration { encryption: false, ..base.clone() }, "encryption"),
        (NewConfiguration { priority_level: 0, ..base.clone() }, "priorityLevel"),
        (NewConfiguration { rpo_minutes: Some(-5), ..base.clone() }, "rpoMinutes"),
        (NewConfiguration { storage_location_ids: vec!["nope".into()], ..base.clone() }, "storageLocationIds"),
    ] {
        let err = configurations::create(&catalog, &secrets, &admin, bad).await.unwrap_err();
        assert!(err.to_string().starts_with(field), "{field}: {err}");
    }
    let with_password = NewConfiguration { source_password: Some("s3cret-pass".into()), rpo_minutes: Some(60), ..base.clone() };
    let created = configurations::create(&catalog, &secrets, &admin, with_password).await.unwrap();
    assert_eq!(configurations::create(&catalog, &secrets, &admin, base.clone()).await.unwrap_err().kind(), Kind::Conflict);
    assert_eq!(created.source_password(&secrets).unwrap().as_deref(), Some("s3cret-pass"));
    // Updating without a password keeps the stored one.
    let updated = configurations::update(&catalog, &secrets, &admin, &created.id, NewConfiguration { priority_level: 2, ..base.clone() }).await.unwrap();
    assert_eq!((updated.priority_level, updated.source_password(&secrets).unwrap().as_deref()), (2, Some("s3cret-pass")));
    let listed = configurations::list(&catalog, &viewer).await.unwrap();
    assert_eq!((listed.len(), listed[0].last_run_status.as_str(), listed[0].status.as_str()), (1, "never_run", "active"));
    let json = serde_json::to_string(&listed).unwrap();
    let audit: Vec<String> = sqlx::query_scalar("SELECT detail FROM audit_log").fetch_all(catalog.pool()).await.unwrap();
    let stored: String = sqlx::query_scalar("SELECT source_credentials_encrypted FROM backup_configurations").fetch_one(catalog.pool()).await.unwrap();
    for text in [json.as_str(), stored.as_str()].into_iter().chain(audit.iter().map(String::as_str)) {
        assert!(!text.contains("s3cret-pass"), "the password leaked: {text}");
    }
    assert!(json.contains("\"encryption\":true") && json.contains("\"storageLocationIds\":["), "{json}");
}

async fn a_filesystem_backup_runs_and_restores(catalog: Catalog) {
    let secrets = SecretBox::new(Key::random());
    let admin = user(&catalog, "admin", Role::Admin).await;
    let operator = user(&catalog, "operator", Role::Operator).await;
    let loc = location(&catalog, &secrets, &admin).await;
    let source = bulwark_testkit::temp_dir("exec-src");
    std::fs::create_dir_all(source.join("etc/app")).unwrap();
    std::fs::write(source.join("etc/app/config.yaml"), "port: 8080\nnamé: ünïcode\n").unwrap();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i.wrapping_mul(2654435761) >> 9) as u8).collect();
    std::fs::write(source.join("big.bin"), &big).unwrap();
    std::fs::write(source.join("empty"), b"").unwrap();
    let c = configurations::create(&catalog, &secrets, &admin, config("files", "filesystem", source.to_str().unwrap(), &loc)).await.unwrap();

    let viewer = user(&catalog, "viewer", Role::Viewer).await;
    assert_eq!(executions::start(&catalog, &viewer, &c.id, "manual").await.unwrap_err().kind(), Kind::Forbidden);
    let queued = executions::start(&catalog, &operator, &c.id, "manual").await.unwrap();
    assert_eq!(queued.status, ExecutionStatus::Queued);
    let twice = executions::start(&catalog, &operator, &c.id, "manual").await.unwrap_err();
    assert_eq!(twice.kind(), Kind::Conflict, "one backup per configuration at a time");
    let job: String = sqlx::query_scalar("SELECT kind FROM jobs WHERE configuration_id = $1").bind(&c.id).fetch_one(catalog.pool()).await.unwrap();
    assert_eq!(job, executions::JOB_KIND);

    bulwark_core::orchestration::backup::run(&catalog, &secrets, &queued.id, Default::default()).await.unwrap();
    let done = executions::get(&catalog, &viewer, &queued.id).await.unwrap();
    assert_eq!(done.status, ExecutionStatus::Completed, "{:?}", done.error_message);
    let total = big.len() as i64 + "port: 8080\nnamé: ünïcode\n".len() as i64;
    assert_eq!(done.size_bytes, Some(total));
    assert!(done.compressed_size_bytes.unwrap() > 0 && done.new_bytes.unwrap() > 0, "{done:?}");
    assert_eq!(done.checksum.as_ref().map(String::len), Some(64));
    let progress: serde_json::Value = serde_json::from_str(&done.progress).unwrap();
    assert_eq!((progress["percent"].as_f64(), progress["bytesRead"].as_i64(), progress["bytesTotal"].as_i64()), (Some(100.0), Some(total), Some(total)));
    let listed = configurations::list(&catalog, &viewer).await.unwrap();
    assert_eq!((listed[0].last_run_status.as_str(), listed[0].status.as_str()), ("completed", "active"));
    assert_eq!(listed[0].last_execution, done.started_at, "the seeds' lastExecution: when it started");

    // The snapshot restores byte for byte.
    let repo = locations::open_repository(&catalog, &secrets, &loc).await.unwrap();
    let snapshot = repo.load_snapshot(done.snapshot_id.as_deref().unwrap()).await.unwrap();
    let target = bulwark_testkit::temp_dir("exec-dst");
    restore::restore_tree(&repo, Arc::new(repo.load_index().await.unwrap()), &snapshot, &target, &restore::RestoreOptions::default()).await.unwrap();
    assert_eq!(std::fs::read(target.join("big.bin")).unwrap(), big);
    assert_eq!(std::fs::read_to_string(target.join("etc/app/config.yaml")).unwrap(), "port: 8080\nnamé: ünïcode\n");
    assert!(std::fs::read(target.join("empty")).unwrap().is_empty());

    // A source that vanished fails the execution with the path in the message.
    std::fs::remove_dir_all(&source).unwrap();
    let again = executions::start(&catalog, &operator, &c.id, "emergency").await.unwrap();
    assert!(bulwark_core::orchestration::backup::run(&catalog, &secrets, &again.id, Default::default()).await.is_err());
    let failed = executions::get(&catalog, &viewer, &again.id).await.unwrap();
    assert_eq!(failed.status, ExecutionStatus::Failed);
    assert!(failed.error_message.as_deref().is_some_and(|m| m.contains(source.to_str().unwrap())), "{:?}", failed.error_message);
}

/// md5 of every row of every table, in key order: equal sums mean equal data.
fn table_sums(cluster: &PgCluster, database: &str) -> Vec<String> {
    let tables = cluster.psql(database, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1").unwrap();
    tables
        .lines()
        .map(|t| {
            let sum = cluster.psql(database, &format!("SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) FROM {t} t")).unwrap();
            format!("{t}={sum}")
        })
        .collect()
}

async fn a_postgres_database_is_dumped_and_restores(catalog: Catalog) {
    let secrets = SecretBox::new(Key::random());
    let admin = user(&catalog, "admin", Role::Admin).await;
    let loc = location(&catalog, &secrets, &admin).await;
    let cluster = tokio::task::spawn_blocking(PgCluster::shared).await.unwrap();
    let url = cluster.fresh_database("source");
    let database = url.rsplit('/').next().unwrap().to_string();
    cluster
        .psql(
            &database,
            "CREATE TABLE customers (id int PRIMARY KEY, name text, city text);
             INSERT INTO customers VALUES (1, 'Zoë Ångström', 'Malmö'), (2, '山田 太郎', '東京'), (3, 'O''Brien', NULL);
             CREATE TABLE events (id bigint PRIMARY KEY, payload jsonb, at timestamptz);
             INSERT INTO events SELECT g, jsonb_build_object('n', g, 'text', repeat(md5(g::text), 20)), now() - g * interval '1 minute'
                 FROM generate_series(1, 60000) g;
             CREATE TABLE empty_table (id int PRIMARY KEY);
             ANALYZE;",
        )
        .unwrap();
    let c = configurations::create(&catalog, &secrets, &admin, config("pg", "postgresql", &url, &loc)).await.unwrap();
    let execution = executions::start(&catalog, &admin, &c.id, "manual").await.unwrap();
    bulwark_core::orchestration::backup::run(&catalog, &secrets, &execution.id, Default::default()).await.unwrap();
    let done = executions::get(&catalog, &admin, &execution.id).await.unwrap();
    assert_eq!(done.status, ExecutionStatus::Completed, "{:?}", done.error_message);
    let metadata: serde_json::Value = serde_json::from_str(&done.recovery_metadata).unwrap();
    assert!(metadata["postgresql"]["serverVersion"].as_str().is_some_and(|v| v.starts_with("15")), "{metadata}");
    let tables: Vec<&str> = metadata["postgresql"]["tables"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(tables, ["customers", "empty_table", "events"]);
    assert!(metadata["postgresql"]["tables"][2]["rowEstimate"].as_i64().unwrap() > 50_000);

    // The dump restores with the real pg_restore into a new database, table for table equal.
    let repo = locations::open_repository(&catalog, &secrets, &loc).await.unwrap();
    let snapshot = repo.load_snapshot(done.snapshot_id.as_deref().unwrap()).await.unwrap();
    let dump = bulwark_testkit::temp_dir("exec-dump").join("db.dump");
    restore::restore_stream_to_file(&repo, Arc::new(repo.load_index().await.unwrap()), &snapshot, &dump).await.unwrap();
    let copy = cluster.fresh_database("copy");
    let copy_db = copy.rsplit('/').next().unwrap().to_string();
    let status = std::process::Command::new("pg_restore").args(["--no-owner", "--exit-on-error", "--dbname", &copy]).arg(&dump).status().unwrap();
    assert!(status.success());
    assert_eq!(table_sums(cluster, &copy_db), table_sums(cluster, &database));

    // The same through Bulwark: into a database it creates, streamed into pg_restore.
    let restored_db = format!("restored_{}_{}", std::process::id(), catalog.backend().name());
    let whole = PostgresRestore { target_url: cluster.url(&restored_db), target_password: None, tables: vec![], replace_existing: false };
    let report = postgres_dump::restore_postgres(&catalog, &secrets, &crate::restore_targets(), &admin, &execution.id, whole.clone()).await.unwrap();
    assert!(report.bytes > 0 && report.duration_seconds > 0.0);
    assert_eq!(table_sums(cluster, &restored_db), table_sums(cluster, &database));
    let again = postgres_dump::restore_postgres(&catalog, &secrets, &crate::restore_targets(), &admin, &execution.id, whole.clone()).await.unwrap_err();
    assert_eq!(again.kind(), Kind::Conflict, "{again}");
    // Table level: exactly the dropped table comes back, the others are untouched.
    cluster.psql(&restored_db, "DROP TABLE customers; INSERT INTO empty_table VALUES (42)").unwrap();
    let one = PostgresRestore { tables: vec!["public.customers".into()], ..whole.clone() };
    postgres_dump::restore_postgres(&catalog, &secrets, &crate::restore_targets(), &admin, &execution.id, one.clone()).await.unwrap();
    let sums = table_sums(cluster, &restored_db);
    let original = table_sums(cluster, &database);
    assert_eq!((&sums[0], &sums[2]), (&original[0], &original[2]), "customers and events as backed up");
    assert_ne!(sums[1], original[1], "empty_table keeps the row added after the restore");
    let exists = postgres_dump::restore_postgres(&catalog, &secrets, &crate::restore_targets(), &admin, &execution.id, one).await.unwrap_err();
    assert!(exists.kind() == Kind::Conflict && exists.to_string().contains("public.customers already exists"), "{exists}");
    let viewer = user(&catalog, "viewer", Role::Viewer).await;
    assert_eq!(postgres_dump::restore_postgres(&catalog, &secrets, &crate::restore_targets(), &viewer, &execution.id, whole).await.unwrap_err().kind(), Kind::Forbidden);

    // An unreachable server: the execution fails and says where it could not connect.
    let port = bulwark_testkit::free_port();
    let gone = config("gone", "postgresql", &format!("postgresql://postgres@127.0.0.1:{port}/nothing"), &loc);
    let gone = configurations::create(&catalog, &secrets, &admin, gone).await.unwrap();
    let execution = executions::start(&catalog, &admin, &gone.id, "manual").await.unwrap();
    assert!(bulwark_core::orchestration::backup::run(&catalog, &secrets, &execution.id, Default::default()).await.is_err());
    let failed = executions::get(&catalog, &admin, &execution.id).await.unwrap();
    assert_eq!(failed.status, ExecutionStatus::Failed);
    let message = failed.error_message.unwrap_or_default();
    assert!(message.contains(&format!("127.0.0.1:{port}")) && message.contains("PostgreSQL"), "{message}");
    // A database that does not exist: the server's own words.
    let missing = config("missing", "postgresql", &cluster.url("no_such_database"), &loc);
    let missing = configurations::create(&catalog, &secrets, &admin, missing).await.unwrap();
    let execution = executions::start(&catalog, &admin, &missing.id, "manual").await.unwrap();
    assert!(bulwark_core::orchestration::backup::run(&catalog, &secrets, &execution.id, Default::default()).await.is_err());
    let message = executions::get(&catalog, &admin, &execution.id).await.unwrap().error_message.unwrap_or_default();
    assert!(message.contains("no_such_database") && message.contains("does not exist"), "{message}");

    // Password authentication: the wrong password fails with the server's words, the right one
    // (stored sealed) works, and neither appears in the execution.
    let guarded = tokio::task::spawn_blocking(|| PgCluster::start_with_password("right-horse-battery")).await.unwrap().unwrap();
    let url = guarded.url("postgres");
    for (name, password, ok) in [("wrong password", "wrong-horse", false), ("right password", "right-horse-battery", true)] {
        let new = NewConfiguration { source_password: Some(password.into()), ..config(name, "postgresql", &url, &loc) };
        let c = configurations::create(&catalog, &secrets, &admin, new).await.unwrap();
        let execution = executions::start(&catalog, &admin, &c.id, "manual").await.unwrap();
        assert_eq!(bulwark_core::orchestration::backup::run(&catalog, &secrets, &execution.id, Default::default()).await.is_ok(), ok);
        let done = executions::get(&catalog, &admin, &execution.id).await.unwrap();
        let json = serde_json::to_string(&done).unwrap();
        assert!(!json.contains(password), "{json}");
        if ok {
            assert_eq!(done.status, ExecutionStatus::Completed);
        } else {
            let message = done.error_message.unwrap_or_default();
            assert!(message.contains("password authentication failed for user \"postgres\""), "{message}");
        }
    }
}

/// The first location of the list does not answer: the backup goes to the next one, the
/// execution says where and why, and an alert stays open until the first answers again.
async fn a_backup_goes_to_the_next_location_when_the_first_does_not_answer(catalog: Catalog) {
    use bulwark_testkit::s3::SeaweedFs;
    let secrets = SecretBox::new(Key::random());
    let admin = user(&catalog, "admin", Role::Admin).await;
    let server = tokio::task::spawn_blocking(SeaweedFs::shared).await.unwrap();
    let bucket = format!("failover-{}-{}", std::process::id(), catalog.backend().name());
    let s3 = bulwark_core::engine::storage::s3::S3Storage::new(bulwark_core::engine::storage::s3::S3Settings {
        endpoint: Some(server.endpoint.clone()),
        region: "us-east-1".into(),
        bucket: bucket.clone(),
        prefix: String::new(),
        access_key: server.access_key.clone(),
        secret_key: server.secret_key.clone(),
        path_style: true,
        object_lock: None,
        storage_class: None,
    });
    s3.create_bucket(false).await.unwrap();
    let remote = locations::create(
        &catalog,
        &secrets,
        &admin,
        NewLocation {
            location_name: "primary region".into(),
            storage_type: "primary".into(),
            provider: "s3".into(),
            endpoint: Some(server.endpoint.clone()),
            bucket: Some(bucket),
            access_key: Some(server.access_key.clone()),
            secret_key: Some(server.secret_key.clone()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    locations::init_repository(&catalog, &secrets, &admin, &remote.id).await.unwrap();
    let local = location(&catalog, &secrets, &admin).await;
    let source = bulwark_testkit::temp_dir("failover-src");
    std::fs::write(source.join("orders.csv"), "1,widget\n2,gadget\n").unwrap();
    let new: NewConfiguration = serde_json::from_value(serde_json::json!({
        "name": "orders", "sourceType": "filesystem", "sourceIdentifier": source.to_str().unwrap(), "storageLocationIds": [remote.id, local],
    }))
    .unwrap();
    let c = configurations::create(&catalog, &secrets, &admin, new).await.unwrap();

    // The region goes dark: nothing listens at its endpoint any more.
    let dead = format!("http://127.0.0.1:{}", bulwark_testkit::free_port());
    sqlx::query("UPDATE backup_storage_locations SET endpoint = $1 WHERE id = $2").bind(&dead).bind(&remote.id).execute(catalog.pool()).await.unwrap();
    let e = executions::start(&catalog, &admin, &c.id, "manual").await.unwrap();
    bulwark_core::orchestration::backup::run(&catalog, &secrets, &e.id, Default::default()).await.unwrap();
    let done = executions::get(&catalog, &admin, &e.id).await.unwrap();
    assert_eq!((done.status.as_str(), done.storage_location_id.as_deref()), ("completed", Some(local.as_str())));
    let metadata: serde_json::Value = serde_json::from_str(&done.recovery_metadata).unwrap();
    assert_eq!(metadata["skippedLocations"][0]["storageLocationId"].as_str(), Some(remote.id.as_str()), "{metadata}");
    let open: Vec<(String, String)> = sqlx::query_as("SELECT alert_type, subject FROM backup_monitoring_alerts WHERE status = 'open'").fetch_all(catalog.pool()).await.unwrap();
    assert_eq!(open, [(bulwark_core::orchestration::backup::LOCATION_ALERT.to_string(), format!("storage_location:{}", remote.id))]);

    // Back: the next backup goes to the first location again and the alert resolves.
    sqlx::query("UPDATE backup_storage_locations SET endpoint = $1 WHERE id = $2").bind(&server.endpoint).bind(&remote.id).execute(catalog.pool()).await.unwrap();
    let e = executions::start(&catalog, &admin, &c.id, "manual").await.unwrap();
    bulwark_core::orchestration::backup::run(&catalog, &secrets, &e.id, Default::default()).await.unwrap();
    assert_eq!(executions::get(&catalog, &admin, &e.id).await.unwrap().storage_location_id.as_deref(), Some(remote.id.as_str()));
    let open: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM backup_monitoring_alerts WHERE status = 'open'").fetch_one(catalog.pool()).await.unwrap();
    assert_eq!(open, 0);
}

/// A job that ended without its execution's outcome (the final write lost in a catalog outage)
/// used to leave the configuration "under way" for good; reconciliation gives it its end.
async fn executions_whose_job_ended_are_reconciled(catalog: Catalog) {
    let secrets = SecretBox::new(Key::random());
    let admin = user(&catalog, "admin", Role::Admin).await;
    let loc = location(&catalog, &secrets, &admin).await;
    let source = bulwark_testkit::temp_dir("reconcile-src");
    let c = configurations::create(&catalog, &secrets, &admin, config("files", "filesystem", source.to_str().unwrap(), &loc)).await.unwrap();
    let other = configurations::create(&catalog, &secrets, &admin, config("others", "filesystem", source.to_str().unwrap(), &loc)).await.unwrap();

    // Wedged: the job failed with the outage, the execution still says running.
    let wedged = executions::start(&catalog, &admin, &c.id, "manual").await.unwrap();
    sqlx::query("UPDATE jobs SET state = 'failed', last_error = 'pool timed out while waiting for an open connection' WHERE subject_id = $1")
        .bind(&wedged.id)
        .execute(catalog.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE backup_executions SET status = 'running' WHERE id = $1").bind(&wedged.id).execute(catalog.pool()).await.unwrap();
    assert_eq!(executions::start(&catalog, &admin, &c.id, "manual").await.unwrap_err().kind(), Kind::Conflict);
    assert_eq!(executions::cancel(&catalog, &admin, &wedged.id).await.unwrap_err().kind(), Kind::Conflict);
    // A live one beside it: its job still runs.
    let live = executions::start(&catalog, &admin, &other.id, "manual").await.unwrap();
    sqlx::query("UPDATE jobs SET state = 'running', lease_owner = 'n/0' WHERE subject_id = $1").bind(&live.id).execute(catalog.pool()).await.unwrap();
    sqlx::query("UPDATE backup_executions SET status = 'running' WHERE id = $1").bind(&live.id).execute(catalog.pool()).await.unwrap();

    assert_eq!(executions::reconcile::reconcile(&catalog).await.unwrap(), 1);
    let ended = executions::get(&catalog, &admin, &wedged.id).await.unwrap();
    assert_eq!(ended.status, ExecutionStatus::Failed);
    let message = ended.error_message.unwrap();
    assert!(message.starts_with("ended by reconciliation: its job failed") && message.contains("pool timed out"), "{message}");
    assert!(ended.completed_at.is_some());
    assert_eq!(executions::get(&catalog, &admin, &live.id).await.unwrap().status, ExecutionStatus::Running, "a live job's execution is left alone");
    assert_eq!(executions::reconcile::reconcile(&catalog).await.unwrap(), 0, "once");
    // The configuration is free again.
    let next = executions::start(&catalog, &admin, &c.id, "manual").await.unwrap();
    bulwark_core::orchestration::backup::run(&catalog, &secrets, &next.id, Default::default()).await.unwrap();
    assert_eq!(executions::get(&catalog, &admin, &next.id).await.unwrap().status, ExecutionStatus::Completed);
}
