//! Health: a continuous configuration whose WAL archiving stops breaches its RPO at the next
//! evaluation and recovers when archiving resumes; a restore measured over the RTO raises
//! rto_breach and one within it resolves it; a storage location that goes away raises
//! location_unreachable and resolves when it is back; the seeds' health report counts what
//! ran (a bad time range is refused with a sentence).

use bulwark_core::alerts::{self, AlertStatus, AlertType, Filter};
use bulwark_core::configurations::{self, NewConfiguration};
use bulwark_core::engine::repo::crypto::Key;
use bulwark_core::error::{Classify, Kind};
use bulwark_core::health::{compliance, locations as probes, metrics};
use bulwark_core::platform::auth::Role;
use bulwark_core::platform::catalog::Catalog;
use bulwark_core::platform::secrets::SecretBox;
use bulwark_core::{executions, locations, wal_archive};
use chrono::Utc;

use crate::{on_both_catalogs, user};

on_both_catalogs!(
    rpo_and_rto_breaches_raise_and_clear,
    a_location_that_goes_away_raises_and_resolves,
    a_full_location_disk_raises_storage_full,
    a_node_samples_itself,
    the_report_counts_each_execution_once_whatever_changes_it,
);

async fn open_alerts(catalog: &Catalog, alert_type: AlertType) -> Vec<alerts::Alert> {
    let viewer = bulwark_core::platform::auth::Principal { user_id: "-".into(), username: "-".into(), role: Role::Viewer, token_id: None, scope: None };
    alerts::list(catalog, &viewer, &Filter { alert_type: Some(alert_type.as_str().into()), status: Some("active".into()), ..Default::default() }).await.unwrap()
}

async fn rpo_and_rto_breaches_raise_and_clear(catalog: Catalog) {
    let secrets = SecretBox::new(Key::random());
    let admin = user(&catalog, "admin", Role::Admin).await;
    let location = crate::executions::location(&catalog, &secrets, &admin).await;
    let new: NewConfiguration = serde_json::from_value(serde_json::json!({
        "name": "orders", "sourceType": "postgresql", "sourceIdentifier": "postgresql://postgres@127.0.0.1:5432/orders", "frequency": "continuous",
        "rpoMinutes": 5, "rtoMinutes": 10, "storageLocationIds": [location],
    }))
    .unwrap();
    let c = configurations::create(&catalog, &secrets, &admin, new).await.unwrap();

    // A base backup half an hour ago (recorded as the worker records one), so archived WAL
    // restores from it; WAL alone restores nothing.
    let ago = |minutes: i64| bulwark_core::platform::time::to_text(Utc::now() - chrono::Duration::minutes(minutes));
    sqlx::query("INSERT INTO backup_executions (id, configuration_id, execution_type, status, started_at, completed_at, created_at) VALUES ($1, $2, 'scheduled', 'completed', $3, $4, $3)")
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(&c.id)
        .bind(ago(30))
        .bind(ago(29))
        .execute(catalog.pool())
        .await
        .unwrap();

    // Archiving: the newest restorable point is the WAL file just archived.
    wal_archive::push(&catalog, &secrets, &admin, &c.id, "000000010000000000000001", b"first segment").await.unwrap();
    let now = compliance::of_all_at(&catalog, Utc::now()).await.unwrap();
    let orders = now.iter().find(|x| x.configuration_id == c.id).unwrap();
    assert_eq!((orders.newest_point.as_str(), orders.rpo_met, orders.rto_met), ("wal", Some(true), None), "{orders:?}");
    assert_eq!(compliance::evaluate_at(&catalog, Utc::now()).await.unwrap().raised, 0);

    // Archiving stops: ten minutes later the next evaluation finds the RPO breached, once.
    let later = Utc::now() + chrono::Duration::minutes(10);
    assert_eq!(compliance::evaluate_at(&catalog, later).await.unwrap().raised, 1);
    compliance::evaluate_at(&catalog, later).await.unwrap();
    let breach = open_alerts(&catalog, AlertType::RpoBreach).await;
    assert_eq!(breach.len(), 1, "a breach that lasts is one alert");
    assert_eq!(breach[0].occurrences, 1);
    assert_eq!(breach[0].backup_configuration_id.as_deref(), Some(c.id.as_str()));
    assert!(breach[0].message.starts_with("orders: the newest restorable point is 10 minutes old, over its RPO of 5 minutes (the last WAL file was archived at"), "{}", breach[0].message);

    // Archiving resumes (the clock moved on for real: the segment archived then is the newest).
    sqlx::query("UPDATE wal_archive SET archived_at = $1 WHERE configuration_id = $2").bind(bulwark_core::platform::time::to_text(Utc::now() - chrono::Duration::minutes(10))).bind(&c.id).execute(catalog.pool()).await.unwrap();
    wal_archive::push(&catalog, &secrets, &admin, &c.id, "000000010000000000000002", b"second segment").await.unwrap();
    assert_eq!(compliance::evaluate_at(&catalog, Utc::now()).await.unwrap().resolved, 1);
    let resolved = alerts::get(&catalog, &admin, &breach[0].id).await.unwrap();
    assert_eq!((resolved.status, resolved.resolution_notes.as_deref()), (AlertStatus::Resolved, Some("a restorable point within the RPO again")));

    // RTO: the latest measured restore of one of its backups decides.
    let e = executions::start(&catalog, &admin, &c.id, "manual").await.unwrap();
    let measured = async |seconds: f64, at: &str| {
        sqlx::query("INSERT INTO backup_tests (id, execution_id, test_type, status, started_at, completed_at, performance_metrics, created_at) VALUES ($1, $2, 'restoration', 'passed', $3, $3, $4, $3)")
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(&e.id)
            .bind(at)
            .bind(serde_json::json!({ "restoreSeconds": seconds }).to_string())
            .execute(catalog.pool())
            .await
            .unwrap();
    };
    let t = |minutes: i64| bulwark_core::platform::time::to_text(Utc::now() - chrono::Duration::minutes(minutes));
    measured(900.0, &t(2)).await;
    compliance::evaluate_at(&catalog, Utc::now()).await.unwrap();
    let slow = open_alerts(&catalog, AlertType::RtoBreach).await;
    assert_eq!(slow.len(), 1);
    assert_eq!(slow[0].message, "orders: the latest measured restore took 15.0 minutes, over its RTO of 10 minutes");
    measured(120.0, &t(1)).await;
    assert_eq!(compliance::evaluate_at(&catalog, Utc::now()).await.unwrap().resolved, 1);
    assert!(open_alerts(&catalog, AlertType::RtoBreach).await.is_empty());

    // The seeds' report: its compliance, and a time range it does not know refused.
    let report = metrics::report(&catalog, &admin, Some("7d")).await.unwrap();
    let mine = report.compliance.iter().find(|x| x.configuration_id == c.id).unwrap();
    assert_eq!((mine.rpo_met, mine.rto_met, mine.measured_restore_seconds), (Some(true), Some(true), Some(120.0)));
    assert_eq!((report.metrics.rpo_achievement, report.metrics.rto_achievement), (100.0, 100.0));
    let bad = metrics::report(&catalog, &admin, Some("1y")).await.unwrap_err();
    assert_eq!((bad.kind(), bad.to_string()), (Kind::Invalid, "timeRange: 24h, 7d or 30d, not \"1y\"".to_string()));
}

async fn a_location_that_goes_away_raises_and_resolves(catalog: Catalog) {
    let secrets = SecretBox::new(Key::random());
    let admin = user(&catalog, "admin", Role::Admin).await;
    let location = crate::executions::location(&catalog, &secrets, &admin).await;
    let path = std::path::PathBuf::from(locations::get(&catalog, &admin, &location).await.unwrap().path_prefix.unwrap());
    assert_eq!(probes::evaluate(&catalog, &secrets).await.unwrap(), 0);

    // Taken down: its directory is gone and a file stands where it was.
    let away = path.with_extension("away");
    std::fs::rename(&path, &away).unwrap();
    std::fs::write(&path, "not a directory").unwrap();
    assert_eq!(probes::evaluate(&catalog, &secrets).await.unwrap(), 1);
    assert!(open_alerts(&catalog, AlertType::LocationUnreachable).await.is_empty(), "one failed probe is not an outage yet");
    assert_eq!(probes::evaluate(&catalog, &secrets).await.unwrap(), 1);
    assert_eq!(probes::evaluate(&catalog, &secrets).await.unwrap(), 1);
    let down = open_alerts(&catalog, AlertType::LocationUnreachable).await;
    assert_eq!(down.len(), 1, "one alert while it stays down");
    assert!(down[0].message.contains("does not answer"), "{}", down[0].message);

    // Back: the next probe resolves it.
    std::fs::remove_file(&path).unwrap();
    std::fs::rename(&away, &path).unwrap();
    assert_eq!(probes::evaluate(&catalog, &secrets).await.unwrap(), 0);
    let back = alerts::get(&catalog, &admin, &down[0].id).await.unwrap();
    assert_eq!((back.status, back.resolution_notes.as_deref()), (AlertStatus::Resolved, Some("the location answered a probe again")));

    // Each probe is a health sample of the location, with its disk's use.
    let name = locations::get(&catalog, &admin, &location).await.unwrap().location_name;
    let report = bulwark_core::monitoring::samples::report(&catalog, &admin, Some("1h"), &[format!("location:{name}")]).await.unwrap();
    let statuses: Vec<&str> = report.health_data.iter().rev().map(|s| s.health_status.as_str()).collect();
    assert_eq!(statuses, ["healthy", "unhealthy", "unhealthy", "unhealthy", "healthy"]);
    assert!(report.health_data[0].disk_usage.is_some_and(|d| d > 0.0 && d < 100.0), "{:?}", report.health_data[0]);
}

/// A small disk of its own (tmpfs) for a local location: filled to 96% it raises storage_full,
/// emptied it resolves.
async fn a_full_location_disk_raises_storage_full(catalog: Catalog) {
    let secrets = SecretBox::new(Key::random());
    let admin = user(&catalog, "admin", Role::Admin).await;
    let disk = bulwark_testkit::temp_dir("small-disk");
    let mounted = std::process::Command::new("mount").args(["-t", "tmpfs", "-o", "size=4M", "tmpfs"]).arg(&disk).status().unwrap();
    assert!(mounted.success(), "mounting a tmpfs (tests run as root)");
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(disk.clone());
    let new = locations::NewLocation { location_name: "small".into(), storage_type: "primary".into(), provider: "local".into(), path_prefix: Some(disk.join("repo").display().to_string()), ..Default::default() };
    let location = locations::create(&catalog, &secrets, &admin, new).await.unwrap();
    locations::init_repository(&catalog, &secrets, &admin, &location.id).await.unwrap();
    assert_eq!(probes::evaluate(&catalog, &secrets).await.unwrap(), 0);
    assert!(open_alerts(&catalog, AlertType::StorageFull).await.is_empty());

    let free = bulwark_core::monitoring::node::disk_usage(&disk).unwrap().1;
    let filler = disk.join("filler");
    std::fs::write(&filler, vec![7u8; (free as usize).saturating_sub(100 * 1024)]).unwrap();
    assert_eq!(probes::evaluate(&catalog, &secrets).await.unwrap(), 0, "a full disk still answers");
    let full = open_alerts(&catalog, AlertType::StorageFull).await;
    assert_eq!(full.len(), 1);
    assert!(full[0].message.starts_with("storage location \"small\" is 9"), "{}", full[0].message);
    probes::evaluate(&catalog, &secrets).await.unwrap();
    assert_eq!(open_alerts(&catalog, AlertType::StorageFull).await[0].occurrences, 1, "one alert while it stays full");

    std::fs::remove_file(&filler).unwrap();
    probes::evaluate(&catalog, &secrets).await.unwrap();
    let back = alerts::get(&catalog, &admin, &full[0].id).await.unwrap();
    assert_eq!((back.status, back.resolution_notes.as_deref()), (AlertStatus::Resolved, Some("the location's disk has room again")));
}

/// A node's own sample: CPU, memory and its data directory's disk in percent, the queue.
async fn a_node_samples_itself(catalog: Catalog) {
    let dir = bulwark_testkit::temp_dir("node-data");
    let mut node = bulwark_core::monitoring::node::NodeSampler::new("node-a", &dir);
    let admin = user(&catalog, "admin", Role::Admin).await;
    bulwark_core::platform::jobs::enqueue(&catalog, bulwark_core::platform::jobs::NewJob::new("nothing.here", serde_json::json!({}))).await.unwrap();
    let sample = node.sample(&catalog).await.unwrap();
    assert_eq!(sample.service_name, "node:node-a");
    for figure in [sample.cpu_usage, sample.memory_usage, sample.disk_usage] {
        assert!(figure.is_some_and(|p| (0.0..=100.0).contains(&p)), "{sample:?}");
    }
    assert!(sample.memory_usage.unwrap() > 0.0);
    assert_eq!(sample.custom_metrics["queuedJobs"].as_i64(), Some(1), "{sample:?}");
    let report = bulwark_core::monitoring::samples::report(&catalog, &admin, None, &[]).await.unwrap();
    assert_eq!(report.summary.services.iter().map(|s| s.service_name.as_str()).collect::<Vec<_>>(), ["node:node-a"]);
}

/// The report's range figures come from executions summed per day (kept by a trigger) plus the
/// partial days at the range's ends read from the executions: each execution is counted once
/// and only inside its range, whatever inserts, changes or deletes it afterwards.
async fn the_report_counts_each_execution_once_whatever_changes_it(catalog: Catalog) {
    let secrets = SecretBox::new(Key::random());
    let admin = user(&catalog, "admin", Role::Admin).await;
    let location = crate::executions::location(&catalog, &secrets, &admin).await;
    let new: NewConfiguration = serde_json::from_value(serde_json::json!({
        "name": "files", "sourceType": "filesystem", "sourceIdentifier": "/srv/files", "storageLocationIds": [location],
    }))
    .unwrap();
    let c = configurations::create(&catalog, &secrets, &admin, new).await.unwrap();
    let ago = |hours: i64| bulwark_core::platform::time::to_text(Utc::now() - chrono::Duration::hours(hours));
    // (hours ago, kind, status, compressed bytes): outside the 24 h range, inside it (on
    // either side of a midnight as the clock goes), a failure, and a safety snapshot.
    let made = [(30, "scheduled", "completed", 1000), (20, "scheduled", "completed", 200), (2, "scheduled", "completed", 30), (1, "scheduled", "failed", 0), (3, "safety", "completed", 5)];
    let mut ids = Vec::new();
    for (hours, kind, status, bytes) in made {
        let id = uuid::Uuid::new_v4().to_string();
        sqlx::query(
            "INSERT INTO backup_executions (id, configuration_id, execution_type, status, storage_location_id, started_at, completed_at, created_at, duration_seconds, size_bytes, compressed_size_bytes)
             VALUES ($1, $2, $3, $4, $5, $6, $6, $6, 10.0, $7, $7)",
        )
        .bind(&id)
        .bind(&c.id)
        .bind(kind)
        .bind(status)
        .bind(&location)
        .bind(ago(hours))
        .bind(bytes as i64)
        .execute(catalog.pool())
        .await
        .unwrap();
        ids.push(id);
    }
    // One running (not finished: in no figure) that then completes, like a worker's.
    let running = uuid::Uuid::new_v4().to_string();
    sqlx::query("INSERT INTO backup_executions (id, configuration_id, execution_type, status, started_at, created_at) VALUES ($1, $2, 'manual', 'running', $3, $3)")
        .bind(&running)
        .bind(&c.id)
        .bind(ago(0))
        .execute(catalog.pool())
        .await
        .unwrap();
    let report = metrics::report(&catalog, &admin, Some("24h")).await.unwrap();
    assert_eq!(report.metrics.success_rate, 66.7, "two completed, one failed in the range: {report:?}");
    let growth: Vec<i64> = report.trends.storage_growth.iter().map(|g| g.total_size).collect();
    assert_eq!(growth.last(), Some(&1230), "what was there before the range, then what each day added: {growth:?}");
    assert_eq!(report.trends.daily_backups.iter().map(|d| d.count).sum::<i64>(), 2);
    assert_eq!(report.trends.failures_by_type.get("filesystem"), Some(&1));

    sqlx::query("UPDATE backup_executions SET status = 'completed', completed_at = $1, compressed_size_bytes = 4, size_bytes = 4, duration_seconds = 1 WHERE id = $2")
        .bind(ago(0))
        .bind(&running)
        .execute(catalog.pool())
        .await
        .unwrap();
    // Retention marks one deleted (still a backup that ran: counted), a purge removes another.
    sqlx::query("UPDATE backup_executions SET deleted_at = $1 WHERE id = $2").bind(ago(0)).bind(&ids[2]).execute(catalog.pool()).await.unwrap();
    sqlx::query("DELETE FROM backup_executions WHERE id = $1").bind(&ids[1]).execute(catalog.pool()).await.unwrap();
    let report = metrics::report(&catalog, &admin, Some("24h")).await.unwrap();
    assert_eq!(report.metrics.success_rate, 66.7, "the purged one is gone, the new one counts: {report:?}");
    assert_eq!(report.trends.storage_growth.last().map(|g| g.total_size), Some(1034));
    assert_eq!(report.metrics.average_backup_time, 5.5);

    // Every figure the table of days holds equals the same sum over the executions.
    let by_days: Vec<(String, String, i64, i64, i64)> = sqlx::query_as(
        "SELECT storage_location_id, status, CAST(SUM(executions) AS BIGINT), CAST(SUM(compressed_bytes) AS BIGINT), CAST(SUM(kept * executions) AS BIGINT)
           FROM backup_execution_days GROUP BY storage_location_id, status HAVING SUM(executions) > 0 ORDER BY 1, 2",
    )
    .fetch_all(catalog.pool())
    .await
    .unwrap();
    let direct: Vec<(String, String, i64, i64, i64)> = sqlx::query_as(
        "SELECT COALESCE(storage_location_id, ''), status, CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(compressed_size_bytes), 0) AS BIGINT),
                CAST(SUM(CASE WHEN deleted_at IS NULL THEN 1 ELSE 0 END) AS BIGINT)
           FROM backup_executions WHERE completed_at IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .fetch_all(catalog.pool())
    .await
    .unwrap();
    assert_eq!(by_days, direct);
}
