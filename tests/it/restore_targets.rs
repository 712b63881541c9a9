//! Named restore targets: kept inside what the server allows, their secrets sealed, and a
//! connection test that really reaches a PostgreSQL server, a directory and a bucket.

use std::sync::OnceLock;

use bulwark_core::engine::repo::crypto::Key;
use bulwark_core::error::{Classify, Kind};
use bulwark_core::platform::auth::Role;
use bulwark_core::platform::catalog::Catalog;
use bulwark_core::platform::secrets::SecretBox;
use bulwark_core::restoration::targets::{self, NewTarget};
use bulwark_testkit::PgCluster;
use bulwark_testkit::s3::SeaweedFs;

use crate::{on_both_catalogs, restore_targets, user};

on_both_catalogs!(restore_targets_are_checked_sealed_and_really_tested);

const PASSWORD: &str = "target-password-42";

/// A cluster that asks for a password, so a wrong one can be told from a right one.
fn guarded_cluster() -> &'static PgCluster {
    static CLUSTER: OnceLock<PgCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| PgCluster::start_with_password(PASSWORD).unwrap())
}

fn target(body: serde_json::Value) -> NewTarget {
    serde_json::from_value(body).unwrap()
}

async fn restore_targets_are_checked_sealed_and_really_tested(catalog: Catalog) {
    let secrets = SecretBox::new(Key::random());
    let reach = restore_targets();
    let admin = user(&catalog, "admin", Role::Admin).await;
    let operator = user(&catalog, "operator", Role::Operator).await;
    let viewer = user(&catalog, "viewer", Role::Viewer).await;
    let root = bulwark_testkit::temp_dir("targets");
    let dir = root.join("staging-files");

    // Only administrators add targets; every problem names its field.
    let files = target(serde_json::json!({ "name": "staging files", "environment": "staging", "targetType": "directory", "path": dir }));
    assert_eq!(targets::create(&catalog, &secrets, &reach, &operator, files.clone()).await.unwrap_err().kind(), Kind::Forbidden);
    let refused = [
        (serde_json::json!({ "name": "x", "environment": "staging", "targetType": "directory", "path": "/etc/bulwark-restored" }), "path: "),
        (serde_json::json!({ "name": "x", "environment": "staging", "targetType": "directory", "path": dir, "url": "postgresql://u@127.0.0.1" }), "url: a directory target takes path, not url"),
        (serde_json::json!({ "name": "x", "environment": "production", "targetType": "postgresql", "url": "postgresql://u@10.9.8.7:5432" }), "url: "),
        (serde_json::json!({ "name": "x", "environment": "production", "targetType": "postgresql", "url": "postgresql://u:pw@127.0.0.1:5432" }), "url: put the password in its own field"),
        (serde_json::json!({ "name": "x", "environment": "staging", "targetType": "directory", "path": dir, "secret": "s" }), "secret: a directory target has no secret"),
        (serde_json::json!({ "name": "x", "environment": "development", "targetType": "data_directory", "path": dir, "port": 80 }), "port: "),
        (serde_json::json!({ "name": "x", "environment": "development", "targetType": "s3_bucket", "bucket": "ok-bucket", "accessKey": "k" }), "secret: "),
        (serde_json::json!({ "name": " ", "environment": "staging", "targetType": "directory", "path": dir }), "name: "),
        (serde_json::json!({ "name": "x", "environment": "staging", "targetType": "s3_bucket", "bucket": "ok-bucket/../x", "accessKey": "k", "secret": "s" }), "bucket: "),
    ];
    for (body, message) in refused {
        let e = targets::create(&catalog, &secrets, &reach, &admin, target(body.clone())).await.unwrap_err();
        assert_eq!(e.kind(), Kind::Invalid, "{body}: {e}");
        assert!(e.to_string().starts_with(message), "{body}: {e}");
    }
    let files = targets::create(&catalog, &secrets, &reach, &admin, files).await.unwrap();
    let again = targets::create(&catalog, &secrets, &reach, &admin, target(serde_json::json!({ "name": "staging files", "environment": "staging", "targetType": "directory", "path": dir }))).await;
    assert_eq!(again.unwrap_err().kind(), Kind::Conflict);

    // A directory: the nearest existing one is written to; then what is inside is counted.
    assert_eq!(targets::test(&catalog, &secrets, &reach, &viewer, &files.id).await.unwrap_err().kind(), Kind::Forbidden);
    let t = targets::test(&catalog, &secrets, &reach, &operator, &files.id).await.unwrap();
    assert!(t.ok && t.message.contains("does not exist yet"), "{t:?}");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("kept.txt"), b"x").unwrap();
    let t = targets::test(&catalog, &secrets, &reach, &operator, &files.id).await.unwrap();
    assert!(t.ok && t.message.ends_with("holds 1 entries"), "{t:?}");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "the probe file is removed");

    // A PostgreSQL server: the password is sealed, never shown, and really used.
    let cluster = tokio::task::spawn_blocking(guarded_cluster).await.unwrap();
    let url = format!("postgresql://postgres@127.0.0.1:{}/orders_restored", cluster.port);
    let body = serde_json::json!({ "name": "production db", "environment": "production", "targetType": "postgresql", "url": url, "secret": PASSWORD });
    let db = targets::create(&catalog, &secrets, &reach, &admin, target(body)).await.unwrap();
    let shown = serde_json::to_string(&targets::get(&catalog, &viewer, &db.id).await.unwrap()).unwrap();
    assert!(!shown.contains(PASSWORD) && !shown.contains("connectionEncrypted"), "{shown}");
    let stored: String = sqlx::query_scalar("SELECT connection_encrypted FROM restore_targets WHERE id = $1").bind(&db.id).fetch_one(catalog.pool()).await.unwrap();
    assert!(!stored.contains(PASSWORD));
    let t = targets::test(&catalog, &secrets, &reach, &operator, &db.id).await.unwrap();
    assert!(t.ok && t.message.starts_with("connected to PostgreSQL 15") && t.message.contains("\"orders_restored\" does not exist yet"), "{t:?}");

    // An update without a secret keeps it; a wrong one fails the test with the server's words.
    let renamed = serde_json::json!({ "name": "production orders", "environment": "production", "targetType": "postgresql", "url": url });
    targets::update(&catalog, &secrets, &reach, &admin, &db.id, target(renamed)).await.unwrap();
    assert!(targets::test(&catalog, &secrets, &reach, &operator, &db.id).await.unwrap().ok);
    let wrong = serde_json::json!({ "name": "production orders", "environment": "production", "targetType": "postgresql", "url": url, "secret": "not-it" });
    targets::update(&catalog, &secrets, &reach, &admin, &db.id, target(wrong)).await.unwrap();
    let t = targets::test(&catalog, &secrets, &reach, &operator, &db.id).await.unwrap();
    assert!(!t.ok && t.message.contains("password authentication failed"), "{t:?}");
    let row = targets::get(&catalog, &viewer, &db.id).await.unwrap();
    assert_eq!((row.last_test_ok, row.last_test_message.as_deref()), (Some(0), Some(t.message.as_str())));
    // Moved to another server without a new secret: the old one is not sent there.
    let moved = serde_json::json!({ "name": "production orders", "environment": "production", "targetType": "postgresql", "url": "postgresql://postgres@localhost:5432/orders" });
    assert!(targets::update(&catalog, &secrets, &reach, &admin, &db.id, target(moved)).await.unwrap().secret(&secrets).unwrap().is_none());

    // A server without a database: each restore names its own.
    let server_url = format!("postgresql://postgres@127.0.0.1:{}", cluster.port);
    let body = serde_json::json!({ "name": "staging server", "environment": "staging", "targetType": "postgresql", "url": server_url, "secret": PASSWORD });
    let server = targets::create(&catalog, &secrets, &reach, &admin, target(body)).await.unwrap();
    let t = targets::test(&catalog, &secrets, &reach, &operator, &server.id).await.unwrap();
    assert!(t.ok && t.message.ends_with("each restore names its database"), "{t:?}");

    // A bucket: listed with the target's own keys.
    let bucket = crate::buckets::bucket("target").await;
    let server = tokio::task::spawn_blocking(SeaweedFs::shared).await.unwrap();
    let s3 = |secret: &str| {
        target(serde_json::json!({
            "name": "dr bucket", "environment": "disaster_recovery", "targetType": "s3_bucket", "endpoint": server.endpoint,
            "bucket": bucket.bucket(), "prefix": "/restored/", "accessKey": server.access_key, "secret": secret,
        }))
    };
    let dr = targets::create(&catalog, &secrets, &reach, &admin, s3(&server.secret_key)).await.unwrap();
    assert_eq!(dr.settings().prefix.as_deref(), Some("restored"));
    let t = targets::test(&catalog, &secrets, &reach, &operator, &dr.id).await.unwrap();
    assert!(t.ok && t.message.contains("nothing under the prefix"), "{t:?}");
    targets::update(&catalog, &secrets, &reach, &admin, &dr.id, s3("wrong-secret")).await.unwrap();
    assert!(!targets::test(&catalog, &secrets, &reach, &operator, &dr.id).await.unwrap().ok);

    // Listed production first; removed, and every change audited.
    let names: Vec<String> = targets::list(&catalog, &viewer).await.unwrap().into_iter().map(|t| t.name).collect();
    assert_eq!(names, ["production orders", "dr bucket", "staging files", "staging server"]);
    assert_eq!(targets::delete(&catalog, &operator, &files.id).await.unwrap_err().kind(), Kind::Forbidden);
    targets::delete(&catalog, &admin, &files.id).await.unwrap();
    assert_eq!(targets::get(&catalog, &viewer, &files.id).await.unwrap_err().kind(), Kind::NotFound);
    let audited: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action LIKE 'restore_target.%'").fetch_one(catalog.pool()).await.unwrap();
    assert_eq!(audited, 4 + 4 + 1, "four created, four updated, one deleted");
}
