//! Core integration tests. Every catalog test runs twice: on a fresh SQLite file and on a
//! fresh database in a throw-away PostgreSQL cluster that this test process starts itself.

mod alerts;
mod audit;
mod auth;
mod buckets;
mod catalog;
mod config_files;
mod cost;
mod executions;
mod health;
mod jobs;
mod layers;
mod locations;
mod monitoring;
mod notifications;
mod recovery;
mod recovery_dns;
mod recovery_drill;
mod recovery_failover;
mod recovery_load_balancer;
mod recovery_plan;
mod recovery_service;
mod replication;
mod repo;
mod retention;
mod schedules;
mod storage;
mod restoration;
mod restore_targets;
mod restore_tests;
mod verify;

use bulwark_core::platform::accounts::users::{self, NewUser};
use bulwark_core::platform::auth::{Principal, Role};
use bulwark_core::platform::catalog::Catalog;

/// A catalog at `url`, migrated.
pub async fn open_catalog(url: String) -> Catalog {
    Catalog::open(&url).await.expect("open the catalog")
}

/// Each `async fn case(catalog: Catalog)` on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! on_both_catalogs {
    ($($case:ident),* $(,)?) => {
        bulwark_testkit::on_both_catalogs!(open = $crate::open_catalog; $($case),*);
    };
}

/// Creates a user from the CLI path and returns it as a principal.
pub async fn user(catalog: &Catalog, name: &str, role: Role) -> Principal {
    let u = users::create_from_cli(
        catalog,
        NewUser { username: name.into(), password: Some(format!("{name}-password-123")), role },
    )
    .await
    .expect("create user");
    Principal { user_id: u.id, username: u.username, role, token_id: None, scope: None }
}

/// Where the tests' restores may write: below this process's scratch root, and to the test
/// clusters on loopback.
pub fn restore_targets() -> bulwark_core::restores::Targets {
    bulwark_core::restores::Targets::new(&[bulwark_testkit::process_root().to_path_buf()], &["127.0.0.1".into(), "localhost".into()]).unwrap()
}

/// Delivers what the events outbox queued for retention tracking and copies, as the worker
/// pool would (these tests run none). Verification jobs stay queued, as the tests that count
/// them expect.
pub async fn deliver_events(catalog: &Catalog, secrets: &bulwark_core::platform::secrets::SecretBox) {
    for kind in [bulwark_core::platform::events::TRACK_RETENTION, bulwark_core::platform::events::QUEUE_COPIES] {
        run_queued(catalog, secrets, kind).await;
    }
}

/// Runs each queued job of `kind` once with its registered handler and marks it done.
pub async fn run_queued(catalog: &Catalog, secrets: &bulwark_core::platform::secrets::SecretBox, kind: &str) {
    run_jobs(catalog, secrets, kind, None).await;
}

/// [`run_queued`] for the jobs whose time has come (as the pool claims them); returns how many ran.
pub async fn run_due(catalog: &Catalog, secrets: &bulwark_core::platform::secrets::SecretBox, kind: &str) -> usize {
    run_jobs(catalog, secrets, kind, Some(bulwark_core::platform::time::now_text())).await
}

async fn run_jobs(catalog: &Catalog, secrets: &bulwark_core::platform::secrets::SecretBox, kind: &str, due_by: Option<String>) -> usize {
    use bulwark_core::platform::jobs::ClaimedJob;
    use bulwark_core::orchestration::{handlers, pool::Pool};
    let mut pool = Pool::new(catalog.clone(), "test".into());
    handlers::register_all(&mut pool, secrets, &std::sync::Arc::new(restore_targets()), &std::sync::Arc::from([]));
    let handler = pool.handler(kind).unwrap_or_else(|| panic!("no handler for {kind}"));
    let queued: Vec<(String, String, String, i64)> =
        sqlx::query_as("SELECT id, kind, payload, cancel_requested FROM jobs WHERE state = 'queued' AND kind = $1 AND ($2 IS NULL OR run_at <= $2) ORDER BY created_at, id")
            .bind(kind)
            .bind(due_by)
            .fetch_all(catalog.pool())
            .await
            .unwrap();
    let ran = queued.len();
    for (id, kind, payload, cancel_requested) in queued {
        // Held as a worker holds it, so handlers that check their lease find it.
        sqlx::query("UPDATE jobs SET state = 'running', lease_owner = 'test', lease_expires_at = '9999-12-31T00:00:00.000000Z' WHERE id = $1").bind(&id).execute(catalog.pool()).await.unwrap();
        let job = ClaimedJob { id: id.clone(), kind, payload, attempts: 1, cancel_requested, owner: "test".into(), liveness: Default::default() };
        // As the pool does: a stop asked for before it began is set from the start.
        let cancel = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(cancel_requested != 0));
        let state = match handler.run(catalog, &job, cancel.clone()).await {
            Ok(()) => "succeeded",
            Err(_) if cancel.load(std::sync::atomic::Ordering::SeqCst) => "cancelled",
            Err(e) => panic!("job {id} failed: {}", e.message()),
        };
        sqlx::query("UPDATE jobs SET state = $1 WHERE id = $2").bind(state).bind(&id).execute(catalog.pool()).await.unwrap();
    }
    ran
}

/// An authenticator app's code for `unix_time`, computed here from RFC 6238 rather than with
/// the code under test.
pub fn app_code(secret_base32: &str, unix_time: i64) -> String {
    use hmac::{KeyInit, Mac};
    let secret = data_encoding::BASE32_NOPAD.decode(secret_base32.as_bytes()).unwrap();
    let mut mac = <hmac::Hmac<sha1::Sha1> as KeyInit>::new_from_slice(&secret).unwrap();
    mac.update(&(unix_time / 30).to_be_bytes());
    let d = mac.finalize().into_bytes();
    let at = (d[19] & 15) as usize;
    format!("{:06}", (u32::from_be_bytes([d[at] & 0x7f, d[at + 1], d[at + 2], d[at + 3]])) % 1_000_000)
}
