//! Replication between two regions (two SeaweedFS servers): the target becomes a replica that
//! restores on its own, byte for byte; the next run copies only what is new.

use std::sync::{Arc, OnceLock};

use bulwark_core::auth::Role;
use bulwark_core::catalog::Catalog;
use bulwark_core::error::{Classify, Kind};
use bulwark_core::locations::{self, NewLocation};
use bulwark_core::replicate::{self, NewReplication};
use bulwark_core::repo::backup::{self, BackupOptions};
use bulwark_core::repo::crypto::Key;
use bulwark_core::repo::restore;
use bulwark_core::secrets::SecretBox;
use bulwark_testkit::s3::SeaweedFs;

use crate::{on_both_catalogs, user};

on_both_catalogs!(a_repository_is_copied_to_another_region_and_restores_there);

/// The second region: a SeaweedFS of its own, shared by this file's tests.
fn region_b() -> &'static SeaweedFs {
    static SERVER: OnceLock<SeaweedFs> = OnceLock::new();
    SERVER.get_or_init(|| SeaweedFs::start().unwrap_or_else(|e| panic!("cannot start the second SeaweedFS: {e}")))
}

async fn s3_location(catalog: &Catalog, secrets: &SecretBox, admin: &bulwark_core::auth::Principal, server: &SeaweedFs, name: &str) -> String {
    let bucket = format!("repl-{}-{}-{}", name, std::process::id(), catalog.backend().name());
    let s3 = bulwark_core::storage::s3::S3Storage::new(bulwark_core::storage::s3::S3Settings {
        endpoint: Some(server.endpoint.clone()),
        region: "us-east-1".into(),
        bucket: bucket.clone(),
        prefix: String::new(),
        access_key: server.access_key.clone(),
        secret_key: server.secret_key.clone(),
        path_style: true,
        object_lock: None,
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
    assert_eq!(run.status, "queued");
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
