//! Bucket sources against a real SeaweedFS: every object with its headers and metadata round
//! trips into another bucket, unchanged objects are not read again, a prefix restore touches
//! nothing outside the prefix, a missing bucket is a clear error, and a restore over objects is
//! backed up first and rolled back exactly.

use bulwark_types::TestStatus;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_s3::primitives::ByteStream;
use bulwark_core::platform::auth::Role;
use bulwark_core::platform::catalog::Catalog;
use bulwark_core::configurations::{self, NewConfiguration};
use bulwark_core::error::Classify;
use bulwark_core::executions;
use bulwark_core::engine::repo::crypto::Key;
    use bulwark_core::sources::bucket::{self, BucketRestore};
use bulwark_core::platform::secrets::SecretBox;
use bulwark_core::engine::storage::s3::{S3Settings, S3Storage};
use bulwark_testkit::s3::SeaweedFs;

use bulwark_core::restore_tests;

use crate::executions::location;
use crate::{on_both_catalogs, user};

on_both_catalogs!(a_bucket_round_trips_into_another_bucket);

/// A new, empty bucket on this process's SeaweedFS.
pub(crate) async fn bucket(label: &str) -> S3Storage {
    static N: AtomicU64 = AtomicU64::new(0);
    let server = tokio::task::spawn_blocking(SeaweedFs::shared).await.unwrap();
    let storage = S3Storage::new(S3Settings {
        endpoint: Some(server.endpoint.clone()),
        region: "us-east-1".into(),
        bucket: format!("{label}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)),
        prefix: String::new(),
        access_key: server.access_key.clone(),
        secret_key: server.secret_key.clone(),
        path_style: true,
        object_lock: None,
        storage_class: None,
    });
    storage.create_bucket(false).await.unwrap();
    storage
}

/// An object as a reader sees it: bytes, content type, user metadata.
type Object = (Vec<u8>, Option<String>, BTreeMap<String, String>);

async fn put(s: &S3Storage, key: &str, bytes: Vec<u8>, content_type: &str, metadata: &[(&str, &str)]) {
    let mut request = s.client().put_object().bucket(s.bucket()).key(key).content_type(content_type).body(ByteStream::from(bytes));
    for (k, v) in metadata {
        request = request.metadata(*k, *v);
    }
    request.send().await.unwrap();
}

async fn objects(s: &S3Storage) -> HashMap<String, Object> {
    let mut out = HashMap::new();
    let listed = s.client().list_objects_v2().bucket(s.bucket()).send().await.unwrap();
    for o in listed.contents() {
        let key = o.key().unwrap().to_string();
        let got = s.client().get_object().bucket(s.bucket()).key(&key).send().await.unwrap();
        let (content_type, metadata) = (got.content_type().map(str::to_string), got.metadata().cloned().unwrap_or_default().into_iter().collect());
        out.insert(key, (got.body.collect().await.unwrap().into_bytes().to_vec(), content_type, metadata));
    }
    out
}

fn noise(len: usize) -> Vec<u8> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

async fn a_bucket_round_trips_into_another_bucket(catalog: Catalog) {
    let secrets = SecretBox::new(Key::random());
    let admin = user(&catalog, "admin", Role::Admin).await;
    let loc = location(&catalog, &secrets, &admin).await;
    let server = tokio::task::spawn_blocking(SeaweedFs::shared).await.unwrap();
    let source = bucket("src").await;
    put(&source, "a.txt", b"hello".to_vec(), "text/plain", &[]).await;
    put(&source, "docs/readme.md", "# Read me – ünïcödé\n".into(), "text/markdown", &[("owner", "ops"), ("reviewed", "2026-11-23")]).await;
    put(&source, "docs/deep/nested/data.json", br#"{"deep": true}"#.to_vec(), "application/json", &[]).await;
    put(&source, "empty", vec![], "application/octet-stream", &[]).await;
    put(&source, "media/big.bin", noise(20 << 20), "application/octet-stream", &[("sha", "none")]).await;
    put(&source, "notes", b"an object and".to_vec(), "text/plain", &[]).await;
    put(&source, "notes/2026.txt", b"a prefix of the same name".to_vec(), "text/plain", &[]).await;
    put(&source, "späces and ünïcode/ü.txt", b"u".to_vec(), "text/plain", &[]).await;
    let original = objects(&source).await;

    let new = |url: String| -> NewConfiguration {
        serde_json::from_value(serde_json::json!({
            "name": format!("bucket {url}"), "sourceType": "s3_bucket", "sourceIdentifier": url, "storageLocationIds": [loc],
            "sourceOptions": { "endpoint": server.endpoint, "region": "us-east-1", "accessKeyId": server.access_key },
            "sourcePassword": server.secret_key,
        }))
        .unwrap()
    };
    // Bad settings are named before anything is stored.
    let no_secret = configurations::create(&catalog, &secrets, &admin, NewConfiguration { source_password: None, ..new(format!("s3://{}", source.bucket())) }).await;
    assert!(no_secret.unwrap_err().to_string().starts_with("sourcePassword:"));
    let bad_url = configurations::create(&catalog, &secrets, &admin, new("s3://No_Such".into())).await;
    assert!(bad_url.unwrap_err().to_string().starts_with("sourceIdentifier:"));
    let no_key = NewConfiguration { source_options: Some(serde_json::json!({ "endpoint": server.endpoint })), ..new(format!("s3://{}", source.bucket())) };
    assert!(configurations::create(&catalog, &secrets, &admin, no_key).await.unwrap_err().to_string().starts_with("sourceOptions:"));

    let config = configurations::create(&catalog, &secrets, &admin, new(format!("s3://{}", source.bucket()))).await.unwrap();
    assert!(!serde_json::to_string(&config).unwrap().contains(&server.secret_key), "the secret key is never shown");
    let run = |kind: &'static str| {
        let (catalog, secrets, admin, id) = (catalog.clone(), secrets.clone(), admin.clone(), config.id.clone());
        async move {
            let e = executions::start(&catalog, &admin, &id, kind).await.unwrap();
            bulwark_core::orchestration::backup::run(&catalog, &secrets, &e.id, Default::default()).await.unwrap();
            executions::get(&catalog, &admin, &e.id).await.unwrap()
        }
    };
    let first = run("manual").await;
    let meta: serde_json::Value = serde_json::from_str(&first.recovery_metadata).unwrap();
    assert_eq!((meta["objects"].as_u64(), meta["objectsRead"].as_u64()), (Some(8), Some(8)), "{meta}");
    assert_eq!(first.size_bytes, Some(original.values().map(|o| o.0.len() as i64).sum()));
    // Unchanged objects are not read again; a changed one is.
    let second = run("manual").await;
    let meta: serde_json::Value = serde_json::from_str(&second.recovery_metadata).unwrap();
    assert_eq!((meta["objectsRead"].as_u64(), meta["objectsCarriedOver"].as_u64()), (Some(0), Some(8)), "{meta}");
    assert_eq!(second.new_bytes, Some(0));
    put(&source, "a.txt", b"hello again".to_vec(), "text/plain", &[("edited", "yes")]).await;
    let third = run("manual").await;
    let meta: serde_json::Value = serde_json::from_str(&third.recovery_metadata).unwrap();
    assert_eq!(meta["objectsRead"].as_u64(), Some(1), "{meta}");
    let now = objects(&source).await;

    // The whole bucket into another one: bytes, content types and metadata equal.
    let copy = bucket("dst").await;
    let request = BucketRestore { target_bucket: Some(copy.bucket().into()), ..Default::default() };
    let report = bucket::restore_bucket(&catalog, &secrets, &admin, &third.id, request).await.unwrap();
    assert_eq!(report.files, Some(8));
    assert_eq!(objects(&copy).await, now);
    // The first snapshot still holds the old a.txt.
    let old = bucket("old").await;
    let request = BucketRestore { target_bucket: Some(old.bucket().into()), include: vec!["a.txt".into()], ..Default::default() };
    bucket::restore_bucket(&catalog, &secrets, &admin, &first.id, request).await.unwrap();
    assert_eq!(objects(&old).await["a.txt"], original["a.txt"]);

    // A prefix restore touches nothing outside the prefix.
    let partial = bucket("part").await;
    put(&partial, "keep.txt", b"mine".to_vec(), "text/plain", &[]).await;
    let request = BucketRestore { target_bucket: Some(partial.bucket().into()), include: vec!["docs/".into()], ..Default::default() };
    bucket::restore_bucket(&catalog, &secrets, &admin, &third.id, request).await.unwrap();
    let got = objects(&partial).await;
    let mut keys: Vec<&String> = got.keys().collect();
    keys.sort();
    assert_eq!(keys, ["docs/deep/nested/data.json", "docs/readme.md", "keep.txt"]);
    assert_eq!(got["docs/readme.md"], now["docs/readme.md"]);
    let none = BucketRestore { target_bucket: Some(partial.bucket().into()), include: vec!["nope/".into()], ..Default::default() };
    assert!(bucket::restore_bucket(&catalog, &secrets, &admin, &third.id, none).await.unwrap_err().to_string().contains("no object"));
    let missing_target = BucketRestore { target_bucket: Some("no-such-bucket-here".into()), ..Default::default() };
    let err = bucket::restore_bucket(&catalog, &secrets, &admin, &third.id, missing_target).await.unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");

    // A restore test: into a scratch bucket beside the source, counted, then removed.
    let scheduled = restore_tests::ScheduleTest { execution_id: Some(third.id.clone()), ..Default::default() };
    let queued = restore_tests::schedule(&catalog, &admin, scheduled).await.unwrap().remove(0);
    let tested = bulwark_core::orchestration::restore_test::run(&catalog, &secrets, &queued.id).await.unwrap();
    assert_eq!(tested.status, TestStatus::Passed, "{:?}", tested.issues_found);
    let metrics: serde_json::Value = serde_json::from_str(&tested.performance_metrics).unwrap();
    assert_eq!(metrics["itemsRestored"].as_u64(), Some(8), "{metrics}");
    assert_eq!(metrics["bytesRestored"].as_u64(), Some(now.values().map(|o| o.0.len() as u64).sum()), "{metrics}");
    let scratch = metrics["target"]["bucket"].as_str().and_then(|t| t.strip_prefix("s3://")).and_then(|t| t.split('/').next()).unwrap().to_string();
    assert!(scratch.starts_with("bulwark-test-"), "{metrics}");
    let buckets = copy.client().list_buckets().send().await.unwrap();
    assert!(buckets.buckets().iter().all(|b| b.name() != Some(scratch.as_str())), "the scratch bucket {scratch} is gone");

    // A bucket that does not exist: the execution fails with words a person can act on.
    let gone = configurations::create(&catalog, &secrets, &admin, new("s3://no-such-bucket-anywhere/x".into())).await.unwrap();
    let e = executions::start(&catalog, &admin, &gone.id, "manual").await.unwrap();
    let err = bulwark_core::orchestration::backup::run(&catalog, &secrets, &e.id, Default::default()).await.unwrap_err();
    assert!(err.to_string().contains("the bucket \"no-such-bucket-anywhere\" does not exist"), "{err}");
    assert_eq!(err.kind(), bulwark_core::error::Kind::Invalid);
}

/// A bucket restored over a prefix that holds objects backs the prefix up first; the rollback
/// deletes what the restore added and puts every object back as it was, headers included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_restore_over_objects_is_backed_up_and_rolled_back_exactly() {
    use bulwark_core::restoration::{RestorationStatus, RollbackRequest, jobs, safety};
    let catalog = crate::open_catalog(bulwark_testkit::sqlite_url()).await;
    let secrets = SecretBox::new(Key::random());
    let admin = user(&catalog, "admin", Role::Admin).await;
    let loc = location(&catalog, &secrets, &admin).await;
    let server = tokio::task::spawn_blocking(SeaweedFs::shared).await.unwrap();
    let source = bucket("rb-src").await;
    put(&source, "a.txt", b"the backed-up a".to_vec(), "text/plain", &[]).await;
    put(&source, "b.txt", b"the backed-up b".to_vec(), "text/plain", &[]).await;
    let config: NewConfiguration = serde_json::from_value(serde_json::json!({
        "name": "rollback bucket", "sourceType": "s3_bucket", "sourceIdentifier": format!("s3://{}", source.bucket()), "storageLocationIds": [loc],
        "sourceOptions": { "endpoint": server.endpoint, "region": "us-east-1", "accessKeyId": server.access_key }, "sourcePassword": server.secret_key,
    }))
    .unwrap();
    let config = configurations::create(&catalog, &secrets, &admin, config).await.unwrap();
    let e = executions::start(&catalog, &admin, &config.id, "manual").await.unwrap();
    bulwark_core::orchestration::backup::run(&catalog, &secrets, &e.id, Default::default()).await.unwrap();

    let live = bucket("rb-live").await;
    put(&live, "a.txt", b"the live a, changed since".to_vec(), "text/markdown", &[("owner", "web")]).await;
    put(&live, "only-live.txt", b"the backup never had this".to_vec(), "text/plain", &[]).await;
    let before = objects(&live).await;
    let reach = crate::restore_targets();
    let body = serde_json::json!({ "targetBucket": live.bucket() });
    // Both live objects were written after the backup was taken.
    let run = bulwark_core::sources::RestoreRun { catalog: &catalog, secrets: &secrets, targets: &reach, actor: &admin };
    let taken = executions::find(&catalog, &e.id).await.unwrap();
    let found = bulwark_core::sources::of(&config).conflicts(&run, &config, &body, &taken).await.unwrap();
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[1].starts_with("2 objects there were written after the backup was taken (the newest, only-live.txt, at "), "{found:?}");
    let asked = jobs::request_from_door(&catalog, &secrets, &reach, &admin, &e.id, body).await.unwrap();
    crate::run_queued(&catalog, &secrets, jobs::JOB_KIND).await;
    let done = jobs::get(&catalog, &admin, &asked.id).await.unwrap();
    assert_eq!(done.status, RestorationStatus::Completed, "{:?}", done.error_message);
    assert!(done.safety_execution_id.is_some() && done.rollback_available, "{done:?}");
    assert_eq!(objects(&live).await["b.txt"].0, b"the backed-up b");

    let back = safety::request(&catalog, &secrets, &reach, &admin, &asked.id, RollbackRequest::default()).await.unwrap();
    crate::run_queued(&catalog, &secrets, jobs::JOB_KIND).await;
    let rolled = jobs::get(&catalog, &admin, &back.restoration_id).await.unwrap();
    assert_eq!(rolled.status, RestorationStatus::Completed, "{:?}", rolled.error_message);
    assert_eq!(objects(&live).await, before, "every object, its type and metadata as before; b.txt gone again");
}
