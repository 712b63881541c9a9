//! Replication between two regions (two SeaweedFS servers): the target becomes a replica that
//! restores on its own, byte for byte; the next run copies only what is new.

use bulwark_types::ReplicationStatus;
use std::sync::{Arc, OnceLock};

use bulwark_core::platform::auth::Role;
use bulwark_core::platform::catalog::Catalog;
use bulwark_core::error::{Classify, Kind};
use bulwark_core::locations::{self, NewLocation};
use bulwark_core::replicate::{self, NewReplication};
use bulwark_core::engine::repo::backup::{self, BackupOptions};
use bulwark_core::engine::repo::crypto::Key;
use bulwark_core::engine::repo::restore;
use bulwark_core::platform::secrets::SecretBox;
use bulwark_testkit::s3::SeaweedFs;

use crate::{on_both_catalogs, user};

on_both_catalogs!(a_repository_is_copied_to_another_region_and_restores_there);
on_both_catalogs!(copy_rules_follow_backups_mirror_deletions_and_serve_restores_in_an_outage);

/// The second region: a SeaweedFS of its own, shared by this file's tests.
fn region_b() -> &'static SeaweedFs {
    static SERVER: OnceLock<SeaweedFs> = OnceLock::new();
    SERVER.get_or_init(|| SeaweedFs::start().unwrap_or_else(|e| panic!("cannot start the second SeaweedFS: {e}")))
}

async fn s3_location(catalog: &Catalog, secrets: &SecretBox, admin: &bulwark_core::platform::auth::Principal, server: &SeaweedFs, name: &str) -> String {
    s3_location_in(catalog, secrets, admin, server, name, None).await
}

/// An S3 location whose repository objects get `storage_class`.
async fn s3_location_in(catalog: &Catalog, secrets: &SecretBox, admin: &bulwark_core::platform::auth::Principal, server: &SeaweedFs, name: &str, storage_class: Option<&str>) -> String {
    let bucket = format!("repl-{}-{}-{}", name, std::process::id(), catalog.backend().name());
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
    let new = NewLocation {
        location_name: format!("{name} {}", catalog.backend().name()),
        storage_type: if name == "east" { "primary".into() } else { "secondary".into() },
        provider: "s3".into(),
        region: Some(name.into()),
        endpoint: Some(server.endpoint.clone()),
        bucket: Some(bucket),
        access_key: Some(server.access_key.clone()),
        secret_key: Some(server.secret_key.clone()),
        storage_class: storage_class.map(str::to_string),
        ..Default::default()
    };
    locations::create(catalog, secrets, admin, new).await.unwrap().id
}

fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

async fn a_repository_is_copied_to_another_region_and_restores_there(catalog: Catalog) {
    let secrets = SecretBox::new(Key::random());
    let admin = user(&catalog, "admin", Role::Admin).await;
    let operator = user(&catalog, "operator", Role::Operator).await;
    let (a, b) = tokio::task::spawn_blocking(|| (SeaweedFs::shared(), region_b())).await.unwrap();
    let east = s3_location(&catalog, &secrets, &admin, a, "east").await;
    let west = s3_location(&catalog, &secrets, &admin, b, "west").await;
    locations::init_repository(&catalog, &secrets, &admin, &east).await.unwrap();
    let repo = locations::open_repository(&catalog, &secrets, &east).await.unwrap();
    let first = noise(1, 3 << 20);
    let options = |source: &str| BackupOptions { source: source.into(), ..Default::default() };
    let s1 = backup::backup_stream(&repo, std::io::Cursor::new(first.clone()), options("day 1")).await.unwrap();

    assert_eq!(replicate::schedule(&catalog, &operator, &east, NewReplication { target_location_id: west.clone() }).await.unwrap_err().kind(), Kind::Forbidden);
    assert_eq!(replicate::schedule(&catalog, &admin, &east, NewReplication { target_location_id: east.clone() }).await.unwrap_err().kind(), Kind::Invalid);
    let run = replicate::schedule(&catalog, &admin, &east, NewReplication { target_location_id: west.clone() }).await.unwrap();
    assert_eq!(run.status, ReplicationStatus::Queued);
    let done = replicate::run(&catalog, &secrets, &run.id).await.unwrap();
    assert_eq!((done.status.as_str(), done.snapshots_verified), ("completed", 1));
    assert!(done.bytes_copied > 3 << 20, "{done:?}");

    // The replica restores by itself, with the same key Bulwark now keeps for it.
    let replica = locations::open_repository(&catalog, &secrets, &west).await.unwrap();
    assert_eq!(replica.config().id, repo.config().id);
    let snapshot = replica.load_snapshot(&s1.id).await.unwrap();
    let (restored, _) = restore::restore_stream(&replica, Arc::new(replica.load_index().await.unwrap()), &snapshot, Vec::new()).await.unwrap();
    assert!(restored == first, "restored bytes equal the originals");

    // A second backup, half of it the same: the next run copies only the new objects.
    let mut second = first[..3 << 19].to_vec();
    second.extend(noise(2, 1 << 20));
    let s2 = backup::backup_stream(&repo, std::io::Cursor::new(second.clone()), options("day 2")).await.unwrap();
    let run = replicate::schedule(&catalog, &admin, &east, NewReplication { target_location_id: west.clone() }).await.unwrap();
    let again = replicate::run(&catalog, &secrets, &run.id).await.unwrap();
    assert_eq!(again.snapshots_verified, 1);
    assert!(again.objects_skipped > 0 && again.bytes_copied < done.bytes_copied, "only what is new: {again:?}");
    let snapshot = replica.load_snapshot(&s2.id).await.unwrap();
    let (restored, _) = restore::restore_stream(&replica, Arc::new(replica.load_index().await.unwrap()), &snapshot, Vec::new()).await.unwrap();
    assert!(restored == second);

    // A location holding another repository is never overwritten.
    let other = s3_location(&catalog, &secrets, &admin, b, "north").await;
    locations::init_repository(&catalog, &secrets, &admin, &other).await.unwrap();
    let refused = replicate::schedule(&catalog, &admin, &east, NewReplication { target_location_id: other }).await.unwrap_err();
    assert_eq!(refused.kind(), Kind::Conflict, "{refused}");
    assert_eq!(replicate::list(&catalog, &operator, &west).await.unwrap().len(), 2);
}

/// A copy rule queues a run after every backup (one at a time per pair); a run removes from
/// the replica what retention deleted at the source; and when the source's region is down, a
/// restore reads the replica.
async fn copy_rules_follow_backups_mirror_deletions_and_serve_restores_in_an_outage(catalog: Catalog) {
    use bulwark_core::configurations::{self, NewConfiguration};
    use bulwark_core::executions;
    
    use bulwark_core::sources::filesystem::DirectoryRestore;
    let secrets = SecretBox::new(Key::random());
    let admin = user(&catalog, "admin", Role::Admin).await;
    let (a, b) = tokio::task::spawn_blocking(|| (SeaweedFs::shared(), region_b())).await.unwrap();
    let east = s3_location(&catalog, &secrets, &admin, a, "rule-east").await;
    let west = s3_location_in(&catalog, &secrets, &admin, b, "rule-west", Some("STANDARD_IA")).await;
    locations::init_repository(&catalog, &secrets, &admin, &east).await.unwrap();
    let source = bulwark_testkit::temp_dir("copy-rule-src");
    let c: NewConfiguration = serde_json::from_value(serde_json::json!({
        "name": "orders", "sourceType": "filesystem", "sourceIdentifier": source.to_str().unwrap(), "storageLocationIds": [east],
    }))
    .unwrap();
    let c = configurations::create(&catalog, &secrets, &admin, c).await.unwrap();
    let queued = async || -> Vec<String> {
        let runs = replicate::list(&catalog, &admin, &west).await.unwrap();
        runs.into_iter().filter(|r| r.status == ReplicationStatus::Queued).map(|r| r.id).collect()
    };
    let run_queued = async || {
        for id in queued().await {
            replicate::run(&catalog, &secrets, &id).await.unwrap();
        }
    };

    let rule = replicate::link(&catalog, &admin, &east, NewReplication { target_location_id: west.clone() }).await.unwrap();
    let twice = replicate::link(&catalog, &admin, &east, NewReplication { target_location_id: west.clone() }).await.unwrap_err();
    assert_eq!(twice.kind(), Kind::Conflict);
    assert_eq!(replicate::links(&catalog, &admin, &east).await.unwrap(), std::slice::from_ref(&rule));
    assert_eq!(queued().await.len(), 1, "a new rule catches the replica up");
    run_queued().await;

    let mut runs = Vec::new();
    let mut contents = Vec::new();
    for n in 0..3u64 {
        let data = noise(100 * (n + 1), 1 << 20);
        std::fs::write(source.join("orders.bin"), &data).unwrap();
        contents.push(data);
        let e = executions::start(&catalog, &admin, &c.id, "manual").await.unwrap();
        bulwark_core::orchestration::backup::run(&catalog, &secrets, &e.id, Default::default()).await.unwrap();
        crate::deliver_events(&catalog, &secrets).await;
        runs.push(executions::get(&catalog, &admin, &e.id).await.unwrap());
        assert_eq!(queued().await.len(), 1, "one queued run per pair, whatever the backups");
    }
    run_queued().await;
    let replica = locations::open_repository(&catalog, &secrets, &west).await.unwrap();
    let origin = locations::open_repository(&catalog, &secrets, &east).await.unwrap();
    let ids = |list: Vec<bulwark_core::engine::repo::snapshot::Snapshot>| list.into_iter().map(|s| s.id).collect::<std::collections::BTreeSet<_>>();
    assert_eq!(ids(replica.snapshots().await.unwrap()).len(), 3);
    // The colder tier: every pack on the replica is in its storage class.
    let cold = bulwark_core::engine::storage::s3::S3Storage::new(bulwark_core::engine::storage::s3::S3Settings {
        endpoint: Some(b.endpoint.clone()),
        region: "us-east-1".into(),
        bucket: format!("repl-rule-west-{}-{}", std::process::id(), catalog.backend().name()),
        prefix: String::new(),
        access_key: b.access_key.clone(),
        secret_key: b.secret_key.clone(),
        path_style: true,
        object_lock: None,
        storage_class: None,
    });
    let listed = cold.client().list_objects_v2().bucket(cold.bucket()).send().await.unwrap();
    let packs: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).filter(|k| k.contains("packs/")).collect();
    assert!(!packs.is_empty());
    for pack in packs {
        let head = cold.client().head_object().bucket(cold.bucket()).key(pack).send().await.unwrap();
        assert_eq!(head.storage_class(), Some(&aws_sdk_s3::types::StorageClass::StandardIa), "{pack}");
    }

    // Retention deletes the first backup at the source; the next run removes it from the replica.
    bulwark_core::retention::delete_execution(&catalog, &secrets, &admin, &runs[0].id).await.unwrap();
    let run = replicate::schedule(&catalog, &admin, &east, NewReplication { target_location_id: west.clone() }).await.unwrap();
    let mirrored = replicate::run(&catalog, &secrets, &run.id).await.unwrap();
    assert!(mirrored.objects_deleted >= 2 && mirrored.bytes_deleted > 1 << 20, "the snapshot and its pack: {mirrored:?}");
    assert_eq!(mirrored.objects_locked, 0);
    assert_eq!(ids(replica.snapshots().await.unwrap()), ids(origin.snapshots().await.unwrap()));
    assert!(bulwark_core::engine::repo::check::check(&replica, true).await.unwrap().is_ok());

    // The source's region goes down: a restore reads the replica, byte for byte.
    sqlx::query("UPDATE backup_storage_locations SET endpoint = 'http://127.0.0.1:9' WHERE id = $1").bind(&east).execute(catalog.pool()).await.unwrap();
    let target = bulwark_testkit::temp_dir("copy-rule-dst");
    let request = DirectoryRestore { target_path: target.display().to_string(), include: vec![], skip_unreadable: false };
    let report = bulwark_core::sources::filesystem::restore_directory(&catalog, &secrets, &crate::restore_targets(), &admin, &runs[2].id, request).await.unwrap();
    assert_eq!(report.storage_location_id, west);
    assert!(std::fs::read(target.join("orders.bin")).unwrap() == contents[2]);

    // Without the rule, backups queue nothing more.
    replicate::unlink(&catalog, &admin, &rule.id).await.unwrap();
    assert_eq!(replicate::unlink(&catalog, &admin, &rule.id).await.unwrap_err().kind(), Kind::NotFound);
    assert_eq!(replicate::after_backup(&catalog, &east).await.unwrap(), 0);
}
