//! Core integration tests. Every catalog test runs twice: on a fresh SQLite file and on a
//! fresh database in a throw-away PostgreSQL cluster that this test process starts itself.

mod audit;
mod auth;
mod buckets;
mod config_files;
mod executions;
mod jobs;
mod layers;
mod locations;
mod replication;
mod repo;
mod retention;
mod schedules;
mod storage;
mod testing;
mod verify;

use bulwark_core::accounts::users::{self, NewUser};
use bulwark_core::auth::{Principal, Role};
use bulwark_core::catalog::Catalog;

/// Generates `sqlite` and `postgres` test functions for each named async test case
/// `async fn case(catalog: Catalog)`.
#[macro_export]
macro_rules! on_both_catalogs {
    ($($case:ident),* $(,)?) => {
        $(
            mod $case {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let catalog = bulwark_core::catalog::Catalog::open(&bulwark_testkit::sqlite_url()).await.expect("open SQLite catalog");
                    super::$case(catalog).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let url = tokio::task::spawn_blocking(bulwark_testkit::postgres_url).await.expect("start PostgreSQL");
                    let catalog = bulwark_core::catalog::Catalog::open(&url).await.expect("open PostgreSQL catalog");
                    super::$case(catalog).await;
                }
            }
        )*
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
pub async fn deliver_events(catalog: &Catalog, secrets: &bulwark_core::secrets::SecretBox) {
    for kind in [bulwark_core::events::TRACK_RETENTION, bulwark_core::events::QUEUE_COPIES] {
        run_queued(catalog, secrets, kind).await;
    }
}

/// Runs each queued job of `kind` once with its registered handler and marks it done.
pub async fn run_queued(catalog: &Catalog, secrets: &bulwark_core::secrets::SecretBox, kind: &str) {
    use bulwark_core::jobs::ClaimedJob;
    use bulwark_core::orchestration::{handlers, pool::Pool};
    let mut pool = Pool::new(catalog.clone(), "test".into());
    handlers::register_all(&mut pool, secrets);
    let handler = pool.handler(kind).unwrap_or_else(|| panic!("no handler for {kind}"));
    let queued: Vec<(String, String, String)> = sqlx::query_as("SELECT id, kind, payload FROM jobs WHERE state = 'queued' AND kind = $1 ORDER BY created_at, id")
        .bind(kind)
        .fetch_all(catalog.pool())
        .await
        .unwrap();
    for (id, kind, payload) in queued {
        let job = ClaimedJob { id: id.clone(), kind, payload, attempts: 1, owner: "test".into(), liveness: Default::default() };
        handler.run(catalog, &job, Default::default()).await.unwrap();
        sqlx::query("UPDATE jobs SET state = 'succeeded' WHERE id = $1").bind(&id).execute(catalog.pool()).await.unwrap();
    }
}
