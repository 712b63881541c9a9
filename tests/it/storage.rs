//! One conformance suite for every storage backend (the contract in src/storage/mod.rs), run
//! on a local directory and on a real S3 server (SeaweedFS) that the tests start; plus the
//! repository engine end to end on S3.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bulwark_core::engine::repo::backup::{self, BackupOptions};
use bulwark_core::engine::repo::keys::Secret;
use bulwark_core::engine::repo::{Repository, check::check, restore};
use bulwark_core::engine::storage::local::LocalStorage;
use bulwark_core::engine::storage::s3::{S3Settings, S3Storage};
use bulwark_core::engine::storage::{Storage, StorageError};
use bulwark_testkit::s3::SeaweedFs;

/// A fresh bucket (and prefix) on this process's SeaweedFS.
async fn s3(prefix: &str) -> S3Storage {
    static N: AtomicU64 = AtomicU64::new(0);
    let server = tokio::task::spawn_blocking(SeaweedFs::shared).await.expect("start SeaweedFS");
    let storage = S3Storage::new(S3Settings {
        endpoint: Some(server.endpoint.clone()),
        region: "us-east-1".into(),
        bucket: format!("test-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)),
        prefix: prefix.into(),
        access_key: server.access_key.clone(),
        secret_key: server.secret_key.clone(),
        path_style: true,
        object_lock: None,
        storage_class: None,
    });
    storage.create_bucket(false).await.expect("create bucket");
    storage
}

async fn conformance(storage: &dyn Storage) {
    assert!(matches!(storage.get("config").await, Err(StorageError::NotFound(_))));
    assert_eq!(storage.size("config").await.unwrap(), None);
    storage.put("config", b"one".to_vec()).await.unwrap();
    storage.put("config", b"two!".to_vec()).await.unwrap();
    assert_eq!(storage.get("config").await.unwrap(), b"two!", "put replaces");
    assert_eq!(storage.size("config").await.unwrap(), Some(4));

    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    storage.put("packs/ab/abcdef", big.clone()).await.unwrap();
    storage.put("packs/cd/cdef01", b"".to_vec()).await.unwrap();
    storage.put("index/0001", b"idx".to_vec()).await.unwrap();
    assert_eq!(storage.get_range("packs/ab/abcdef", 1_000_000, 10).await.unwrap(), &big[1_000_000..1_000_010]);
    assert_eq!(storage.get_range("packs/ab/abcdef", 2_999_990, 10).await.unwrap(), &big[2_999_990..]);
    assert!(matches!(storage.get_range("packs/ab/abcdef", 2_999_995, 10).await, Err(StorageError::OutOfRange { .. })));
    assert!(storage.get("packs/cd/cdef01").await.unwrap().is_empty(), "empty objects exist");

    let mut packs: Vec<(String, u64)> = storage.list("packs/").await.unwrap().into_iter().map(|o| (o.key, o.size)).collect();
    packs.sort();
    assert_eq!(packs, [("packs/ab/abcdef".to_string(), 3_000_000), ("packs/cd/cdef01".to_string(), 0)]);
    assert_eq!(storage.list("snapshots/").await.unwrap().len(), 0);
    assert_eq!(storage.list("").await.unwrap().len(), 4);

    storage.delete("index/0001").await.unwrap();
    storage.delete("index/0001").await.unwrap();
    assert!(matches!(storage.get("index/0001").await, Err(StorageError::NotFound(_))));
    for bad in ["../escape", "/abs", "a//b", "a b"] {
        assert!(matches!(storage.put(bad, b"x".to_vec()).await, Err(StorageError::InvalidKey(_))), "{bad}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_storage_meets_the_contract() {
    conformance(&LocalStorage::new(bulwark_testkit::temp_dir("local-storage"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_storage_meets_the_contract() {
    conformance(&s3("").await).await;
    conformance(&s3("nested/prefix").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_errors_are_clear() {
    let server = tokio::task::spawn_blocking(SeaweedFs::shared).await.unwrap();
    let wrong = S3Storage::new(S3Settings {
        endpoint: Some(server.endpoint.clone()),
        region: "us-east-1".into(),
        bucket: "does-not-matter".into(),
        prefix: String::new(),
        access_key: server.access_key.clone(),
        secret_key: "not-the-secret".into(),
        path_style: true,
        object_lock: None,
        storage_class: None,
    });
    let err = wrong.put("config", b"x".to_vec()).await.unwrap_err();
    assert!(matches!(err, StorageError::Remote { .. }), "{err}");
    let missing_bucket = S3Storage::new(S3Settings { secret_key: server.secret_key.clone(), bucket: "no-such-bucket-here".into(), ..settings_of(&wrong) });
    assert!(missing_bucket.get("config").await.is_err());
    let unreachable = S3Storage::new(S3Settings { endpoint: Some("http://127.0.0.1:9".into()), ..settings_of(&missing_bucket) });
    let err = unreachable.list("").await.unwrap_err();
    assert!(matches!(err, StorageError::Remote { .. }), "{err}");
}

fn settings_of(s: &S3Storage) -> S3Settings {
    s.settings().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repository_round_trips_on_s3() {
    let storage: Arc<dyn Storage> = Arc::new(s3("bulwark").await);
    let secret = Secret::Passphrase("s3 passphrase".into());
    let (repo, _) = Repository::init(storage.clone(), &secret).await.unwrap();
    let data: Vec<u8> = (0..5_000_000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    let s = backup::backup_stream(&repo, std::io::Cursor::new(data.clone()), BackupOptions::default()).await.unwrap();
    let src = bulwark_testkit::temp_dir("s3-tree");
    std::fs::create_dir_all(src.join("d")).unwrap();
    std::fs::write(src.join("d/f.txt"), b"on s3").unwrap();
    let t = bulwark_core::engine::source::filesystem::backup_tree(&repo, &src, BackupOptions::default()).await.unwrap();

    let reopened = Repository::open(storage, &secret).await.unwrap();
    let index = Arc::new(reopened.load_index().await.unwrap());
    let (restored, _) = restore::restore_stream(&reopened, index.clone(), &s, Vec::new()).await.unwrap();
    assert!(restored == data);
    let dst = bulwark_testkit::temp_dir("s3-dst");
    restore::restore_tree(&reopened, index, &t, &dst, &restore::RestoreOptions::default()).await.unwrap();
    assert_eq!(std::fs::read(dst.join("d/f.txt")).unwrap(), b"on s3");
    assert!(check(&reopened, true).await.unwrap().is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_immutable_s3_location_locks_every_repository_object() {
    let secret = Secret::Passphrase("locked".into());
    // A bucket without Object Lock cannot hold an immutable repository: a clear refusal.
    let plain = s3("").await;
    let unlockable = S3Storage::new(S3Settings { object_lock: Some(std::time::Duration::from_secs(86_400)), ..settings_of(&plain) });
    let err = Repository::init(Arc::new(unlockable), &secret).await.unwrap_err().to_string();
    assert!(err.contains("does not have Object Lock enabled"), "{err}");

    let locked = S3Storage::new(S3Settings { object_lock: Some(std::time::Duration::from_secs(86_400)), bucket: format!("{}-locked", plain.bucket()), ..settings_of(&plain) });
    locked.create_bucket(true).await.unwrap();
    let storage: Arc<dyn Storage> = Arc::new(locked.clone());
    let (repo, _) = Repository::init(storage.clone(), &secret).await.unwrap();
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i.wrapping_mul(2654435761) >> 11) as u8).collect();
    backup::backup_stream(&repo, std::io::Cursor::new(data), BackupOptions::default()).await.unwrap();

    let objects = storage.list("").await.unwrap();
    for prefix in ["config", "keyring", "keys/", "packs/", "index/", "snapshots/"] {
        assert!(objects.iter().any(|o| o.key.starts_with(prefix)), "a {prefix} object was written");
    }
    let in_a_day = aws_sdk_s3::primitives::DateTime::from(std::time::SystemTime::now() + std::time::Duration::from_secs(23 * 3600));
    let client = locked.client();
    for object in &objects {
        let retention = client.get_object_retention().bucket(locked.bucket()).key(&object.key).send().await;
        let retention = retention.unwrap_or_else(|e| panic!("{}: {e:?}", object.key));
        let retention = retention.retention().unwrap_or_else(|| panic!("{} has no retention", object.key));
        assert_eq!(retention.mode(), Some(&aws_sdk_s3::types::ObjectLockRetentionMode::Compliance), "{}", object.key);
        assert!(retention.retain_until_date().is_some_and(|d| d.secs() > in_a_day.secs()), "{} is locked for a day", object.key);
    }

    // The storage refuses to delete a locked version, and the data stays readable.
    let pack = objects.iter().find(|o| o.key.starts_with("packs/")).unwrap();
    let versions = client.list_object_versions().bucket(locked.bucket()).prefix(&pack.key).send().await.unwrap();
    let version = versions.versions()[0].version_id().unwrap().to_string();
    let deleted = client.delete_object().bucket(locked.bucket()).key(&pack.key).version_id(&version).send().await;
    assert!(deleted.is_err(), "deleting a locked pack version must fail");
    assert!(check(&repo, true).await.unwrap().is_ok());
}

/// Garbage collection on Object Lock, with a lock of seconds so it can be watched expiring:
/// nothing locked is ever deleted (a snapshot refuses to be forgotten, a pack waits), packs
/// that remaining snapshots use get their locks extended, and deleting really frees the space
/// (every version goes, not just a delete marker in front of it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_waits_for_locks_and_keeps_live_packs_locked() {
    use bulwark_core::engine::repo::{RepoError, object_lock, prune};
    use std::time::{Duration, SystemTime};
    let period = Duration::from_secs(4);
    let secret = Secret::Passphrase("gc".into());
    let plain = s3("").await;
    let locked = S3Storage::new(S3Settings { object_lock: Some(period), bucket: format!("{}-gc", plain.bucket()), ..settings_of(&plain) });
    locked.create_bucket(true).await.unwrap();
    let storage: Arc<dyn Storage> = Arc::new(locked.clone());
    let (repo, _) = Repository::init(storage.clone(), &secret).await.unwrap();
    let client = locked.client();
    let packs = || async { storage.list("packs/").await.unwrap().into_iter().map(|o| o.key).collect::<std::collections::BTreeSet<_>>() };
    let bucket = locked.bucket().to_string();
    let retained_until = async |key: String| {
        let out = client.get_object_retention().bucket(&bucket).key(&key).send().await.unwrap();
        SystemTime::try_from(*out.retention().unwrap().retain_until_date().unwrap()).unwrap()
    };
    let noise = |seed: u64| -> Vec<u8> {
        let mut x = seed | 1;
        (0..3 << 20)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    };
    let backup = async |seed: u64| {
        let before = packs().await;
        let snapshot = backup::backup_stream(&repo, std::io::Cursor::new(noise(seed)), BackupOptions::default()).await.unwrap();
        let own: Vec<String> = packs().await.difference(&before).cloned().collect();
        assert!(!own.is_empty());
        (snapshot, own, SystemTime::now())
    };
    let (a, a_packs, a_written) = backup(10).await;
    let (b, b_packs, _) = backup(20).await;

    // A fresh snapshot cannot be forgotten: the storage locks its manifest.
    let refused = prune::forget(&repo, std::slice::from_ref(&a.id)).await.unwrap_err();
    assert!(matches!(refused, RepoError::ObjectLocked { .. }) && refused.to_string().contains("Object Lock until"), "{refused}");
    assert_eq!(repo.snapshots().await.unwrap().len(), 2, "nothing was forgotten");

    // A known deletion date locks B's manifest and packs until then.
    let until = SystemTime::now() + Duration::from_secs(120);
    assert_eq!(object_lock::retain_snapshot(&repo, &b.id, until).await.unwrap(), b_packs.len() + 1);
    for key in b_packs.iter().cloned().chain([format!("snapshots/{}", b.id)]) {
        assert!(retained_until(key.clone()).await >= until - Duration::from_secs(1), "{key} is locked until B's deletion date");
    }

    // Once A's locks expire, A goes: its packs are deleted with every version.
    tokio::time::sleep((a_written + period + Duration::from_millis(500)).duration_since(SystemTime::now()).unwrap_or_default()).await;
    prune::forget(&repo, std::slice::from_ref(&a.id)).await.unwrap();
    let preview = prune::prune(&repo, true).await.unwrap();
    let report = prune::prune(&repo, false).await.unwrap();
    assert_eq!(report.packs_deleted, a_packs.len() as u64, "{report:?}");
    assert_eq!((report.packs_locked, report.bytes_freed), (0, preview.bytes_freed), "{report:?}");
    assert!(report.bytes_freed > 3_000_000, "{report:?}");
    let now = packs().await;
    assert!(a_packs.iter().all(|p| !now.contains(p)) && b_packs.iter().all(|p| now.contains(p)));
    let versions = client.list_object_versions().bucket(&bucket).prefix(&a_packs[0]).send().await.unwrap();
    assert!(versions.versions().is_empty() && versions.delete_markers().is_empty(), "no version of A's pack is left behind");

    // C's own locks expire; a prune renews them while C is kept (B's run for two minutes).
    let (c, c_packs, c_written) = backup(30).await;
    tokio::time::sleep((c_written + period + Duration::from_millis(500)).duration_since(SystemTime::now()).unwrap_or_default()).await;
    let renewed_at = SystemTime::now();
    let report = prune::prune(&repo, false).await.unwrap();
    assert_eq!(report.locks_extended, c_packs.len() as u64, "{report:?}");
    for key in &c_packs {
        assert!(retained_until(key.clone()).await >= renewed_at + period - Duration::from_secs(1), "{key} was renewed");
    }
    // Forgotten now (its manifest's lock has expired), C's packs still locked wait.
    prune::forget(&repo, std::slice::from_ref(&c.id)).await.unwrap();
    let report = prune::prune(&repo, false).await.unwrap();
    assert_eq!((report.packs_deleted, report.packs_locked), (0, c_packs.len() as u64), "{report:?}");
    assert!(packs().await.is_superset(&c_packs.iter().cloned().collect()), "locked packs are never deleted");
    // And go once their renewed locks expire.
    tokio::time::sleep((renewed_at + period + Duration::from_millis(500)).duration_since(SystemTime::now()).unwrap_or_default()).await;
    let report = prune::prune(&repo, false).await.unwrap();
    assert_eq!((report.packs_deleted, report.packs_locked), (c_packs.len() as u64, 0), "{report:?}");
    assert!(packs().await.is_disjoint(&c_packs.iter().cloned().collect()));

    // B is whole and restores byte for byte.
    assert_eq!(repo.snapshots().await.unwrap().into_iter().map(|s| s.id).collect::<Vec<_>>(), std::slice::from_ref(&b.id));
    assert!(check(&repo, true).await.unwrap().is_ok());
    let index = Arc::new(repo.load_index().await.unwrap());
    let (restored, _) = restore::restore_stream(&repo, index, &b, Vec::new()).await.unwrap();
    assert!(restored == noise(20));
}
