//! Retention against a real repository: a policy deletes what it no longer keeps (snapshot
//! forgotten, space pruned and measured), a dry run only reports it, legal holds and a
//! location's locked floor stop every deletion path.

use std::sync::Arc;

use bulwark_core::platform::auth::Role;
use bulwark_core::platform::catalog::Catalog;
use bulwark_core::configurations::{self, NewConfiguration};
use bulwark_core::error::{Classify, Kind};
use bulwark_core::executions;
use bulwark_core::locations;
use bulwark_core::engine::repo::crypto::Key;
use bulwark_core::engine::repo::restore;
    use bulwark_core::sources::filesystem::DirectoryRestore;
use bulwark_core::retention::floor::{self, NewFloor};
use bulwark_core::retention::holds::{self, NewHold};
use bulwark_core::retention::{self, RetentionError};
use bulwark_core::platform::secrets::SecretBox;

use crate::executions::location;
use crate::{on_both_catalogs, user};

on_both_catalogs!(policies_holds_and_floors_decide_what_is_deleted);
on_both_catalogs!(object_lock_keeps_backups_until_their_deletion_date);
on_both_catalogs!(a_cleanup_that_fails_raises_retention_violation);

fn hold(title: &str) -> NewHold {
    NewHold { title: title.into(), reason: "litigation 2026-17: keep the ledger".into(), expires_at: None }
}

async fn policies_holds_and_floors_decide_what_is_deleted(catalog: Catalog) {
    let secrets = SecretBox::new(Key::random());
    let admin = user(&catalog, "admin", Role::Admin).await;
    let approver = user(&catalog, "approver", Role::Approver).await;
    let operator = user(&catalog, "operator", Role::Operator).await;
    let viewer = user(&catalog, "viewer", Role::Viewer).await;
    let loc = location(&catalog, &secrets, &admin).await;
    let source = bulwark_testkit::temp_dir("retention-src");
    let new = |policy: serde_json::Value| -> NewConfiguration {
        serde_json::from_value(serde_json::json!({
            "name": "ledger", "sourceType": "filesystem", "sourceIdentifier": source.to_str().unwrap(),
            "storageLocationIds": [loc], "retentionPolicy": policy,
        }))
        .unwrap()
    };
    let bad = configurations::create(&catalog, &secrets, &admin, new(serde_json::json!({"keepDaily": 7, "keepForever": true}))).await.unwrap_err();
    assert!(bad.to_string().starts_with("retentionPolicy:"), "{bad}");
    let c = configurations::create(&catalog, &secrets, &admin, new(serde_json::json!({"keepLast": 2}))).await.unwrap();

    // Four backups of a file that changes whole between them: each has 1 MiB of its own.
    let mut runs = Vec::new();
    let mut contents = Vec::new();
    for n in 0..4u32 {
        let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ u64::from(n + 1);
        let unique: Vec<u8> = (0..1 << 20)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect();
        std::fs::write(source.join("ledger.bin"), &unique).unwrap();
        contents.push(unique);
        let e = executions::start(&catalog, &operator, &c.id, "manual").await.unwrap();
        bulwark_core::orchestration::backup::run(&catalog, &secrets, &e.id, Default::default()).await.unwrap();
        crate::deliver_events(&catalog, &secrets).await;
        runs.push(e.id);
    }
    let repo = locations::open_repository(&catalog, &secrets, &loc).await.unwrap();
    assert_eq!(repo.snapshots().await.unwrap().len(), 4);
    let tracked = retention::tracking(&catalog, &viewer, &runs[0]).await.unwrap().unwrap();
    assert_eq!((tracked.retention_policy.as_str(), tracked.scheduled_deletion_date), (r#"{"keepLast":2}"#, None));

    // The oldest is on hold; only approvers and admins place holds, with a title and reason.
    assert_eq!(holds::add(&catalog, &operator, &runs[0], hold("ledger case")).await.unwrap_err().kind(), Kind::Forbidden);
    assert_eq!(holds::add(&catalog, &approver, &runs[0], hold(" ")).await.unwrap_err().kind(), Kind::Invalid);
    let past = NewHold { expires_at: Some("2020-01-01T00:00:00Z".into()), ..hold("late") };
    assert!(holds::add(&catalog, &approver, &runs[0], past).await.unwrap_err().to_string().starts_with("expiresAt"));
    let placed = holds::add(&catalog, &approver, &runs[0], hold("ledger case")).await.unwrap();
    // A second hold that expires in a year: several at once.
    let year = (chrono::Utc::now() + chrono::Duration::days(365)).to_rfc3339();
    holds::add(&catalog, &approver, &runs[0], NewHold { expires_at: Some(year), ..hold("audit 2027") }).await.unwrap();
    assert_eq!(holds::list(&catalog, &viewer, &runs[0]).await.unwrap().len(), 2);

    // Dry run: the second backup goes, the first is held, nothing changes.
    assert_eq!(retention::cleanup(&catalog, &secrets, &viewer, true).await.unwrap_err().kind(), Kind::Forbidden);
    assert_eq!(retention::cleanup(&catalog, &secrets, &operator, false).await.unwrap_err().kind(), Kind::Forbidden);
    let preview = retention::cleanup(&catalog, &secrets, &operator, true).await.unwrap();
    assert_eq!(preview.deleted.iter().map(|d| d.execution_id.as_str()).collect::<Vec<_>>(), [runs[1].as_str()]);
    assert_eq!(preview.deleted[0].reason, "no keep rule selects it");
    assert_eq!(preview.held.len(), 1);
    assert!(preview.held[0].reason.starts_with("legal hold \"ledger case\""), "{:?}", preview.held);
    assert!(preview.bytes_freed > 1_000_000, "a unique MiB, compressed little: {}", preview.bytes_freed);
    assert_eq!(repo.snapshots().await.unwrap().len(), 4, "a dry run deletes nothing");

    // The real run, asked for (the seeds' forced cleanup) and run by a worker, deletes exactly
    // that and frees what the dry run said, within the new pack's framing.
    assert_eq!(retention::request_cleanup(&catalog, &secrets, &operator, &[]).await.unwrap_err().kind(), Kind::Forbidden);
    let requested = retention::request_cleanup(&catalog, &secrets, &admin, &[]).await.unwrap();
    assert_eq!((requested.status, requested.backups_to_delete, requested.preview.deleted.clone()), ("initiated", 1, preview.deleted.clone()));
    assert_eq!(repo.snapshots().await.unwrap().len(), 4, "asking deletes nothing yet");
    crate::run_queued(&catalog, &secrets, retention::REQUESTED_JOB_KIND).await;
    assert_eq!(repo.snapshots().await.unwrap().len(), 3);
    let gone = executions::get(&catalog, &viewer, &runs[1]).await.unwrap();
    assert!(gone.deleted_at.is_some());
    let tracked = retention::tracking(&catalog, &viewer, &runs[1]).await.unwrap().unwrap();
    let freed = tracked.size_freed_bytes.unwrap_or_default() as u64;
    assert!(tracked.deleted_at.is_some() && freed.abs_diff(requested.estimated_space_freed) < 4096, "{tracked:?} vs {}", requested.estimated_space_freed);
    let target = bulwark_testkit::temp_dir("retention-dst");
    let refused = bulwark_core::sources::filesystem::restore_directory(&catalog, &secrets, &crate::restore_targets(), &admin, &runs[1], DirectoryRestore { target_path: target.display().to_string(), include: vec![], skip_unreadable: false }).await.unwrap_err();
    assert_eq!(refused.kind(), Kind::Conflict, "{refused}");
    // What is left still restores byte for byte.
    for n in [0, 2, 3] {
        let kept = executions::get(&catalog, &viewer, &runs[n]).await.unwrap();
        let snapshot = repo.load_snapshot(kept.snapshot_id.as_deref().unwrap()).await.unwrap();
        let into = target.join(n.to_string());
        restore::restore_tree(&repo, Arc::new(repo.load_index().await.unwrap()), &snapshot, &into, &restore::RestoreOptions::default()).await.unwrap();
        assert!(std::fs::read(into.join("ledger.bin")).unwrap() == contents[n], "backup {n}");
    }

    // By hand: refused under a hold, whoever asks; allowed once every hold is released.
    let held = retention::delete_execution(&catalog, &secrets, &admin, &runs[0]).await.unwrap_err();
    assert!(matches!(held, RetentionError::Locked(_)) && held.kind() == Kind::Forbidden, "{held}");
    assert_eq!(holds::release(&catalog, &approver, &placed.id).await.unwrap_err().kind(), Kind::Forbidden);
    for h in holds::list(&catalog, &viewer, &runs[0]).await.unwrap() {
        holds::release(&catalog, &admin, &h.id).await.unwrap();
    }
    assert_eq!(holds::release(&catalog, &admin, &placed.id).await.unwrap_err().kind(), Kind::Conflict);
    retention::delete_execution(&catalog, &secrets, &admin, &runs[0]).await.unwrap();
    assert_eq!(repo.snapshots().await.unwrap().len(), 2);
    assert_eq!(retention::delete_execution(&catalog, &secrets, &admin, &runs[0]).await.unwrap_err().kind(), Kind::Conflict);

    // A locked floor: nothing younger than 30 days goes, and the floor can only grow.
    let floor30 = NewFloor { min_days: Some(30), max_days: Some(60), lock: true, cooling_off_hours: Some(0) };
    assert_eq!(floor::set(&catalog, &operator, &loc, floor30.clone()).await.unwrap_err().kind(), Kind::Forbidden);
    let set = floor::set(&catalog, &admin, &loc, floor30).await.unwrap();
    assert!(set.is_locked());
    let young = retention::delete_execution(&catalog, &secrets, &admin, &runs[2]).await.unwrap_err();
    assert!(young.to_string().contains("younger than the location's minimum of 30 days"), "{young}");
    for shrink in [
        NewFloor { min_days: Some(10), max_days: Some(60), lock: true, cooling_off_hours: None },
        NewFloor { min_days: Some(30), max_days: Some(45), lock: true, cooling_off_hours: None },
        NewFloor { min_days: Some(30), max_days: None, lock: true, cooling_off_hours: None },
        NewFloor { min_days: None, max_days: None, lock: false, cooling_off_hours: None },
    ] {
        let refused = floor::set(&catalog, &admin, &loc, shrink).await.unwrap_err();
        assert!(matches!(refused, RetentionError::Locked(_)), "{refused}");
    }
    let grown = floor::set(&catalog, &admin, &loc, NewFloor { min_days: Some(40), max_days: Some(90), lock: false, cooling_off_hours: None }).await.unwrap();
    assert!(grown.is_locked() && grown.min_days == Some(40), "the lock stays: {grown:?}");

    // Past the location's maximum (90 days) a backup goes although keepLast would keep it.
    sqlx::query("UPDATE backup_executions SET completed_at = $1 WHERE id = $2")
        .bind(bulwark_core::platform::time::to_text(chrono::Utc::now() - chrono::Duration::days(100)))
        .bind(&runs[2])
        .execute(catalog.pool())
        .await
        .unwrap();
    let aged = retention::cleanup(&catalog, &secrets, &admin, false).await.unwrap();
    assert_eq!(aged.deleted.len(), 1);
    assert_eq!((aged.deleted[0].execution_id.as_str(), aged.deleted[0].reason.as_str()), (runs[2].as_str(), "older than the location's maximum of 90 days"));
    assert_eq!(repo.snapshots().await.unwrap().len(), 1);
    let actions: Vec<String> = sqlx::query_scalar("SELECT action FROM audit_log WHERE action LIKE 'legal_hold.%' OR action LIKE 'retention.%' OR action = 'backup_execution.delete' ORDER BY seq")
        .fetch_all(catalog.pool())
        .await
        .unwrap();
    assert_eq!(actions.iter().filter(|a| *a == "legal_hold.add").count(), 2);
    assert_eq!(actions.iter().filter(|a| *a == "backup_execution.delete").count(), 3);
}

/// On an immutable S3 location (Object Lock, one day) a backup's objects are locked until its
/// scheduled deletion date, and retention reports, rather than tries, what the storage refuses.
async fn object_lock_keeps_backups_until_their_deletion_date(catalog: Catalog) {
    use bulwark_core::engine::storage::s3::{S3Settings, S3Storage};
    let secrets = SecretBox::new(Key::random());
    let admin = user(&catalog, "admin", Role::Admin).await;
    let server = tokio::task::spawn_blocking(bulwark_testkit::s3::SeaweedFs::shared).await.unwrap();
    let bucket = format!("locked-{}-{}", std::process::id(), catalog.backend().name());
    let s3 = S3Storage::new(S3Settings {
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
    s3.create_bucket(true).await.unwrap();
    let new_location = locations::NewLocation {
        location_name: "vault".into(),
        storage_type: "archive".into(),
        provider: "s3".into(),
        endpoint: Some(server.endpoint.clone()),
        bucket: Some(bucket.clone()),
        access_key: Some(server.access_key.clone()),
        secret_key: Some(server.secret_key.clone()),
        immutability: true,
        object_lock_days: Some(1),
        ..Default::default()
    };
    let loc = locations::create(&catalog, &secrets, &admin, new_location).await.unwrap().id;
    locations::init_repository(&catalog, &secrets, &admin, &loc).await.unwrap();
    let source = bulwark_testkit::temp_dir("locked-src");
    let c: NewConfiguration = serde_json::from_value(serde_json::json!({
        "name": "vaulted", "sourceType": "filesystem", "sourceIdentifier": source.to_str().unwrap(),
        "storageLocationIds": [loc], "retentionPolicy": {"keepLast": 1, "maxAgeDays": 3},
    }))
    .unwrap();
    let c = configurations::create(&catalog, &secrets, &admin, c).await.unwrap();
    let mut runs = Vec::new();
    for n in 0..2u8 {
        std::fs::write(source.join("ledger.txt"), vec![b'a' + n; 4096]).unwrap();
        let e = executions::start(&catalog, &admin, &c.id, "manual").await.unwrap();
        bulwark_core::orchestration::backup::run(&catalog, &secrets, &e.id, Default::default()).await.unwrap();
        crate::deliver_events(&catalog, &secrets).await;
        runs.push(executions::get(&catalog, &admin, &e.id).await.unwrap());
    }

    // The first backup's manifest is locked until its deletion date (3 days), past the
    // location's one-day lock.
    let tracked = retention::tracking(&catalog, &admin, &runs[0].id).await.unwrap().unwrap();
    let deletion = bulwark_core::platform::time::parse(tracked.scheduled_deletion_date.as_deref().unwrap()).unwrap();
    let suffix = format!("snapshots/{}", runs[0].snapshot_id.as_deref().unwrap());
    let manifest = bulwark_core::engine::storage::Storage::list(&s3, "").await.unwrap().into_iter().map(|o| o.key).find(|k| k.ends_with(&suffix)).expect("the manifest is stored");
    let retention = s3.client().get_object_retention().bucket(&bucket).key(&manifest).send().await.unwrap();
    let until = retention.retention().unwrap().retain_until_date().unwrap().secs();
    assert!((until - deletion.timestamp()).abs() <= 1, "locked until {until}, deletion {deletion}");

    // keepLast 1 lets the first go, but the storage still locks it: held, with the reason.
    let preview = retention::cleanup(&catalog, &secrets, &admin, false).await.unwrap();
    assert!(preview.deleted.is_empty(), "{preview:?}");
    assert_eq!(preview.held.len(), 1);
    assert!(preview.held[0].reason.starts_with("under S3 Object Lock until"), "{:?}", preview.held);
    let refused = retention::delete_execution(&catalog, &secrets, &admin, &runs[0].id).await.unwrap_err();
    assert!(matches!(refused, RetentionError::Locked(_)) && refused.to_string().contains("Object Lock"), "{refused}");
    let repo = locations::open_repository(&catalog, &secrets, &loc).await.unwrap();
    assert_eq!(repo.snapshots().await.unwrap().len(), 2, "nothing was deleted");
    assert!(executions::get(&catalog, &admin, &runs[0].id).await.unwrap().deleted_at.is_none());
}

/// The periodic cleanup cannot reach a repository holding backups its policy deletes:
/// retention_violation (they are kept past their deletion date), resolved by the next cleanup
/// that runs through.
async fn a_cleanup_that_fails_raises_retention_violation(catalog: Catalog) {
    use bulwark_core::alerts::{self, AlertStatus, AlertType, Filter};
    use bulwark_core::orchestration::pool::JobHandler;
    let secrets = SecretBox::new(Key::random());
    let admin = user(&catalog, "admin", Role::Admin).await;
    let loc = location(&catalog, &secrets, &admin).await;
    let source = bulwark_testkit::temp_dir("violation-src");
    std::fs::write(source.join("a.txt"), b"kept too long").unwrap();
    let new: NewConfiguration = serde_json::from_value(serde_json::json!({
        "name": "ledger", "sourceType": "filesystem", "sourceIdentifier": source.to_str().unwrap(), "storageLocationIds": [loc], "retentionPolicy": {"keepLast": 1},
    }))
    .unwrap();
    let c = configurations::create(&catalog, &secrets, &admin, new).await.unwrap();
    for _ in 0..2 {
        let e = executions::start(&catalog, &admin, &c.id, "manual").await.unwrap();
        bulwark_core::orchestration::backup::run(&catalog, &secrets, &e.id, Default::default()).await.unwrap();
    }
    let handler = bulwark_core::orchestration::handlers::RetentionHandler { secrets: secrets.clone() };
    let job = bulwark_core::platform::jobs::ClaimedJob { id: "j".into(), kind: retention::JOB_KIND.into(), payload: "{}".into(), attempts: 1, cancel_requested: 0, owner: "test".into(), liveness: Default::default() };
    let cancel = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let open = async || alerts::list(&catalog, &admin, &Filter { alert_type: Some("retention_violation".into()), status: Some("active".into()), ..Default::default() }).await.unwrap();

    // The repository's directory is gone: the cleanup fails.
    let path = std::path::PathBuf::from(locations::get(&catalog, &admin, &loc).await.unwrap().path_prefix.unwrap());
    let away = path.with_extension("away");
    std::fs::rename(&path, &away).unwrap();
    assert!(handler.run(&catalog, &job, cancel.clone()).await.is_err());
    let violation = open().await;
    assert_eq!(violation.len(), 1);
    assert_eq!(violation[0].alert_type, AlertType::RetentionViolation);
    assert!(violation[0].message.starts_with("the retention cleanup failed, so backups past their deletion date are kept: "), "{}", violation[0].message);

    // Back: the cleanup deletes the older backup and resolves the alert.
    std::fs::rename(&away, &path).unwrap();
    handler.run(&catalog, &job, cancel).await.unwrap();
    let resolved = alerts::get(&catalog, &admin, &violation[0].id).await.unwrap();
    assert_eq!((resolved.status, resolved.resolution_notes.as_deref()), (AlertStatus::Resolved, Some("the retention cleanup ran through")));
    let repo = locations::open_repository(&catalog, &secrets, &loc).await.unwrap();
    assert_eq!(repo.snapshots().await.unwrap().len(), 1);
}
