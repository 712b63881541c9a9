use bulwark_core::platform::auth::Role;
use bulwark_core::platform::catalog::Catalog;
use bulwark_core::error::{Classify, Kind};
use bulwark_core::locations::{self, NewLocation};
use bulwark_core::engine::repo::backup::{self, BackupOptions};
use bulwark_core::engine::repo::crypto::Key;
use bulwark_core::platform::secrets::SecretBox;
use bulwark_testkit::s3::SeaweedFs;

use crate::{on_both_catalogs, user};

on_both_catalogs!(local_locations_test_init_and_list, s3_locations_keep_credentials_sealed);

fn local(name: &str, path: &str) -> NewLocation {
    NewLocation { location_name: name.into(), storage_type: "primary".into(), provider: "local".into(), path_prefix: Some(path.into()), ..Default::default() }
}

async fn local_locations_test_init_and_list(catalog: Catalog) {
    let secrets = SecretBox::new(Key::random());
    let admin = user(&catalog, "admin", Role::Admin).await;
    let viewer = user(&catalog, "viewer", Role::Viewer).await;
    let dir = bulwark_testkit::temp_dir("loc");
    let denied = locations::create(&catalog, &secrets, &viewer, local("x", "/tmp/x")).await.unwrap_err();
    assert_eq!(denied.kind(), Kind::Forbidden);
    for (bad, field) in [
        (local("", "/tmp/x"), "locationName"),
        (local("rel", "relative/path"), "pathPrefix"),
        (NewLocation { storage_type: "hot".into(), ..local("t", "/tmp/t") }, "storageType"),
        (NewLocation { cost_per_gb_month: Some(-1.0), ..local("c", "/tmp/c") }, "costPerGbMonth"),
        (NewLocation { provider: "ftp".into(), ..local("p", "/tmp/p") }, "provider"),
        (NewLocation { immutability: true, object_lock_days: Some(30), ..local("i", "/tmp/i") }, "immutability"),
        (NewLocation { storage_class: Some("STANDARD_IA".into()), ..local("s", "/tmp/s") }, "storageClass"),
    ] {
        let err = locations::create(&catalog, &secrets, &admin, bad).await.unwrap_err();
        assert!(err.to_string().starts_with(field), "{err}");
    }
    let loc = locations::create(&catalog, &secrets, &admin, local("Primary disk", dir.join("repo").to_str().unwrap())).await.unwrap();
    assert_eq!(locations::create(&catalog, &secrets, &admin, local("Primary disk", "/tmp/y")).await.unwrap_err().kind(), Kind::Conflict);

    let ok = locations::test_connection(&catalog, &secrets, &admin, &loc.id).await.unwrap();
    assert!(ok.ok, "{}", ok.message);
    // A path under a regular file can never be written.
    std::fs::write(dir.join("file"), b"x").unwrap();
    let blocked = locations::create(&catalog, &secrets, &admin, local("Blocked", dir.join("file/sub").to_str().unwrap())).await.unwrap();
    let failed = locations::test_connection(&catalog, &secrets, &admin, &blocked.id).await.unwrap();
    assert!(!failed.ok && failed.message.starts_with("writing failed"), "{}", failed.message);
    let listed = locations::list(&catalog, &viewer).await.unwrap();
    assert_eq!(listed.iter().map(|l| (l.location_name.as_str(), l.last_test_ok)).collect::<Vec<_>>(), [("Blocked", Some(0)), ("Primary disk", Some(1))]);

    let init = locations::init_repository(&catalog, &secrets, &admin, &loc.id).await.unwrap();
    assert_eq!(init.key_file.len(), 64);
    assert_eq!(locations::init_repository(&catalog, &secrets, &admin, &loc.id).await.unwrap_err().kind(), Kind::Conflict);
    let repo = locations::open_repository(&catalog, &secrets, &loc.id).await.unwrap();
    assert_eq!(repo.config().id, init.recovery_kit.repository_id);
    backup::backup_stream(&repo, std::io::Cursor::new(vec![1u8; 100_000]), BackupOptions { source: "test".into(), ..Default::default() }).await.unwrap();
    let snaps = locations::snapshots(&catalog, &secrets, &viewer, &loc.id).await.unwrap();
    assert_eq!((snaps.len(), snaps[0].source.as_str(), snaps[0].bytes), (1, "test", 100_000));
    let usage = locations::usage(&catalog, &secrets, &viewer, &loc.id).await.unwrap();
    assert_eq!((usage.packs, usage.snapshots), (1, 1));
    assert!(usage.bytes_stored > 0);
    assert_eq!(locations::delete(&catalog, &admin, &loc.id).await.unwrap_err().kind(), Kind::Conflict);
    locations::delete(&catalog, &admin, &blocked.id).await.unwrap();
}

async fn s3_locations_keep_credentials_sealed(catalog: Catalog) {
    let secrets = SecretBox::new(Key::random());
    let admin = user(&catalog, "admin", Role::Admin).await;
    let server = tokio::task::spawn_blocking(SeaweedFs::shared).await.unwrap();
    let bucket = format!("loc-{}-{}", std::process::id(), catalog.backend().name());
    let new = |name: &str, secret: &str| NewLocation {
        location_name: name.into(),
        storage_type: "secondary".into(),
        provider: "s3".into(),
        endpoint: Some(server.endpoint.clone()),
        bucket: Some(bucket.clone()),
        path_prefix: Some("/bulwark/".into()),
        access_key: Some(server.access_key.clone()),
        secret_key: Some(secret.into()),
        cost_per_gb_month: Some(0.023),
        ..Default::default()
    };
    let loc = locations::create(&catalog, &secrets, &admin, new("S3", &server.secret_key)).await.unwrap();
    let json = serde_json::to_string(&loc).unwrap();
    assert!(!json.contains(&server.secret_key) && !json.contains("credentials"), "{json}");
    let stored: String = sqlx::query_scalar("SELECT credentials_encrypted FROM backup_storage_locations WHERE id = $1")
        .bind(&loc.id)
        .fetch_one(catalog.pool())
        .await
        .unwrap();
    assert!(!stored.contains(&server.secret_key), "sealed at rest");
    let storage = locations::storage(&loc, &secrets).unwrap();
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
    drop(storage);
    assert!(locations::test_connection(&catalog, &secrets, &admin, &loc.id).await.unwrap().ok);
    let wrong = locations::create(&catalog, &secrets, &admin, new("Wrong key", "not-the-secret")).await.unwrap();
    let failed = locations::test_connection(&catalog, &secrets, &admin, &wrong.id).await.unwrap();
    assert!(!failed.ok && failed.message.contains("writing failed"), "{}", failed.message);
    let missing = locations::create(&catalog, &secrets, &admin, NewLocation { access_key: None, ..new("No key", "x") }).await.unwrap_err();
    assert_eq!(missing.kind(), Kind::Invalid);
    for (days, immutability) in [(None, true), (Some(0), true), (Some(30), false)] {
        let bad = NewLocation { immutability, object_lock_days: days, ..new("Lock", &server.secret_key) };
        let err = locations::create(&catalog, &secrets, &admin, bad).await.unwrap_err();
        assert!(err.to_string().starts_with("objectLockDays"), "{err}");
    }
    // Immutable on a bucket created without Object Lock: the test says so and init refuses.
    let frozen = NewLocation { storage_class: Some("GLACIER".into()), ..new("Frozen", &server.secret_key) };
    let err = locations::create(&catalog, &secrets, &admin, frozen).await.unwrap_err().to_string();
    assert!(err.starts_with("storageClass:") && err.contains("cannot serve restores"), "{err}");
    let immutable = NewLocation { immutability: true, object_lock_days: Some(7), ..new("Immutable", &server.secret_key) };
    let immutable = locations::create(&catalog, &secrets, &admin, immutable).await.unwrap();
    let refused = locations::test_connection(&catalog, &secrets, &admin, &immutable.id).await.unwrap();
    assert!(!refused.ok && refused.message.contains("does not have Object Lock enabled"), "{}", refused.message);
    let err = locations::init_repository(&catalog, &secrets, &admin, &immutable.id).await.unwrap_err();
    assert!(err.to_string().contains("Object Lock"), "{err}");
    // A server with another secret key cannot use the stored credentials.
    let other = SecretBox::new(Key::random());
    assert!(locations::storage(&loc, &other).is_err());
    let init = locations::init_repository(&catalog, &secrets, &admin, &loc.id).await.unwrap();
    assert!(init.recovery_kit.location.starts_with(&format!("s3://{bucket}/bulwark")));
}
