use bulwark_core::audit::{self, Actor, Entry};
use bulwark_core::auth::Role;
use bulwark_core::catalog::{Backend, Catalog};
use bulwark_core::error::{Classify, Kind};

use crate::{on_both_catalogs, user};

on_both_catalogs!(audit_chain_is_append_only_and_verifiable, concurrent_appends_keep_one_chain);

async fn audit_chain_is_append_only_and_verifiable(catalog: Catalog) {
    let admin = user(&catalog, "admin", Role::Admin).await;
    let viewer = user(&catalog, "viewer", Role::Viewer).await;
    for n in 0..3 {
        let entry = Entry {
            actor: &Actor::from(&admin),
            action: "test.action",
            target_type: "thing",
            target_id: Some("t1"),
            detail: serde_json::json!({ "n": n, "text": "ünïcode" }),
        };
        audit::record(&catalog, entry).await.unwrap();
    }
    let rows = audit::list(&catalog, &admin, 100, None).await.unwrap();
    assert_eq!(rows.len(), 5, "two user.create rows and three test rows");
    assert_eq!(rows[0].action, "test.action");
    assert_eq!(rows[4].action, "user.create");
    assert_eq!(audit::list(&catalog, &viewer, 10, None).await.unwrap_err().kind(), Kind::Forbidden);
    assert_eq!(audit::verify(&catalog).await.unwrap(), audit::VerifyReport { rows: 5, first_broken_seq: None });

    // The catalog itself refuses edits and deletes.
    assert!(sqlx::query("UPDATE audit_log SET actor_name = 'mallory' WHERE seq = 3").execute(catalog.pool()).await.is_err());
    assert!(sqlx::query("DELETE FROM audit_log WHERE seq = 3").execute(catalog.pool()).await.is_err());

    // Someone with raw database access who lifts the guard is still caught by the chain.
    let (lift, restore) = match catalog.backend() {
        Backend::Sqlite => ("DROP TRIGGER audit_log_no_update", None),
        Backend::Postgres => (
            "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update",
            Some("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update"),
        ),
    };
    sqlx::query(lift).execute(catalog.pool()).await.unwrap();
    sqlx::query("UPDATE audit_log SET actor_name = 'mallory' WHERE seq = 3").execute(catalog.pool()).await.unwrap();
    if let Some(restore) = restore {
        sqlx::query(restore).execute(catalog.pool()).await.unwrap();
    }
    assert_eq!(audit::verify(&catalog).await.unwrap().first_broken_seq, Some(3));
}

async fn concurrent_appends_keep_one_chain(catalog: Catalog) {
    let mut tasks = Vec::new();
    for n in 0..40 {
        let catalog = catalog.clone();
        tasks.push(tokio::spawn(async move {
            let actor = Actor::system("test");
            let entry = Entry { actor: &actor, action: "test.concurrent", target_type: "x", target_id: None, detail: serde_json::json!(n) };
            audit::record(&catalog, entry).await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(audit::verify(&catalog).await.unwrap(), audit::VerifyReport { rows: 40, first_broken_seq: None });
}
