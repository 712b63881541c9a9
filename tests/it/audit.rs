use bulwark_core::platform::audit::{self, Actor, Entry};
use bulwark_core::platform::auth::Role;
use bulwark_core::platform::catalog::{Backend, Catalog};
use bulwark_core::error::{Classify, Kind};

use crate::{on_both_catalogs, user};

on_both_catalogs!(
    audit_chain_is_append_only_and_verifiable,
    concurrent_appends_keep_one_chain,
    a_keyed_chain_cannot_be_recomputed_without_the_key,
    deleting_the_newest_rows_is_caught_by_the_anchor
);

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
    assert_eq!(audit::verify(&catalog).await.unwrap(), audit::VerifyReport { rows: 5, first_broken_seq: None, keyed_rows: 0, anchored_seq: None });

    // The catalog itself refuses edits and deletes.
    assert!(sqlx::query("UPDATE audit_log SET actor_name = 'mallory' WHERE seq = 3").execute(catalog.pool()).await.is_err());
    assert!(sqlx::query("DELETE FROM audit_log WHERE seq = 3").execute(catalog.pool()).await.is_err());

    // Someone with raw database access who lifts the guard is still caught by the chain.
    past_the_guard(&catalog, "UPDATE audit_log SET actor_name = 'mallory' WHERE seq = 3").await;
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
    assert_eq!(audit::verify(&catalog).await.unwrap(), audit::VerifyReport { rows: 40, first_broken_seq: None, keyed_rows: 0, anchored_seq: None });
}

/// Runs `sql` the way someone with raw database access would: past the append-only guard
/// (SQLite: two triggers, dropped for good; PostgreSQL: one, disabled and enabled again).
async fn past_the_guard(catalog: &Catalog, sql: &str) {
    let (lift, restore): (&[&str], &[&str]) = match catalog.backend() {
        Backend::Sqlite => (&["DROP TRIGGER IF EXISTS audit_log_no_update", "DROP TRIGGER IF EXISTS audit_log_no_delete"], &[]),
        Backend::Postgres => (&["ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update"], &["ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update"]),
    };
    for statement in lift {
        sqlx::query(statement).execute(catalog.pool()).await.unwrap();
    }
    sqlx::query(sql).execute(catalog.pool()).await.unwrap();
    for statement in restore {
        sqlx::query(statement).execute(catalog.pool()).await.unwrap();
    }
}

/// Whoever can write the catalog but lacks the server's key: edits a keyed row and recomputes
/// the whole chain with plain SHA-256 (all a plain chain would need), or appends plain rows
/// after keyed ones. Both are caught; a plain chain from before the key stays valid.
async fn a_keyed_chain_cannot_be_recomputed_without_the_key(catalog: Catalog) {
    let record = |catalog: Catalog, n: i64| async move {
        let actor = Actor::system("test");
        let entry = Entry { actor: &actor, action: "test.keyed", target_type: "x", target_id: None, detail: serde_json::json!(n) };
        audit::record(&catalog, entry).await.unwrap();
    };
    // Two rows from before the key, then three with it.
    record(catalog.clone(), 1).await;
    record(catalog.clone(), 2).await;
    let keyed = catalog.clone().with_audit_key([7u8; 32]);
    for n in 3..=5 {
        record(keyed.clone(), n).await;
    }
    assert_eq!(audit::verify(&keyed).await.unwrap(), audit::VerifyReport { rows: 5, first_broken_seq: None, keyed_rows: 3, anchored_seq: None });
    // Without the key the keyed rows cannot be checked; with another key they do not match.
    assert_eq!(audit::verify(&catalog).await.unwrap().first_broken_seq, Some(3));
    assert_eq!(audit::verify(&catalog.clone().with_audit_key([8u8; 32])).await.unwrap().first_broken_seq, Some(3));

    // A plain row appended after the keyed ones (a tool run without the key, or a forger).
    record(catalog.clone(), 6).await;
    assert_eq!(audit::verify(&keyed).await.unwrap().first_broken_seq, Some(6));

    // Rewriting row 4 and recomputing every later hash the plain way, as a forger without the
    // key would: the chain no longer verifies.
    past_the_guard(&catalog, "UPDATE audit_log SET actor_name = 'mallory' WHERE seq = 4").await;
    let rows = audit::list(&keyed, &bulwark_core::platform::auth::Principal::system("test"), 100, None).await.unwrap();
    let mut prev = rows.iter().find(|r| r.seq == 3).unwrap().hash.clone();
    let mut forged = rows.into_iter().filter(|r| r.seq >= 4).collect::<Vec<_>>();
    forged.sort_by_key(|r| r.seq);
    for r in forged {
        let canonical = serde_json::json!([r.seq, r.occurred_at, r.actor_id, r.actor_name, r.action, r.target_type, r.target_id, r.detail]);
        use sha2::Digest;
        let hash = hex::encode(sha2::Sha256::digest(format!("{prev}\n{canonical}").as_bytes()));
        past_the_guard(&catalog, &format!("UPDATE audit_log SET prev_hash = '{prev}', hash = '{hash}', keyed = 0 WHERE seq = {}", r.seq)).await;
        prev = hash;
    }
    let report = audit::verify(&keyed).await.unwrap();
    assert!(report.first_broken_seq.is_some_and(|seq| seq <= 4), "{report:?}");
}

/// Deleting the newest rows leaves a shorter chain that verifies on its own; the head anchored in
/// a repository catches it.
async fn deleting_the_newest_rows_is_caught_by_the_anchor(catalog: Catalog) {
    let catalog = catalog.with_audit_key([9u8; 32]);
    let secrets = bulwark_core::platform::secrets::SecretBox::new(bulwark_core::engine::repo::crypto::Key::random());
    let admin = user(&catalog, "admin", Role::Admin).await;
    let location = crate::executions::location(&catalog, &secrets, &admin).await;
    for n in 0..3 {
        let entry = Entry { actor: &Actor::from(&admin), action: "test.anchored", target_type: "x", target_id: None, detail: serde_json::json!(n) };
        audit::record(&catalog, entry).await.unwrap();
    }
    assert_eq!(bulwark_core::audit_anchor::anchor(&catalog, &secrets).await.unwrap(), 1, "one location holds a repository");
    let whole = bulwark_core::audit_anchor::verify(&catalog, &secrets, &admin).await.unwrap();
    assert_eq!((whole.first_broken_seq, whole.anchored_seq), (None, Some(whole.rows)), "{whole:?}");
    // The anchor is an object of the location's storage, not repository data.
    let repo = bulwark_core::locations::open_repository(&catalog, &secrets, &location).await.unwrap();
    assert_eq!(repo.storage().list("audit/").await.unwrap().len(), 1);

    // The two newest rows go.
    past_the_guard(&catalog, &format!("DELETE FROM audit_log WHERE seq > {}", whole.rows - 2)).await;
    assert_eq!(audit::verify(&catalog).await.unwrap().first_broken_seq, None, "the chain alone cannot tell");
    let cut = bulwark_core::audit_anchor::verify(&catalog, &secrets, &admin).await.unwrap();
    assert_eq!(cut.first_broken_seq, Some(whole.rows - 1), "{cut:?}");
}
