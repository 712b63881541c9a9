//! Core integration tests. Every catalog test runs twice: on a fresh SQLite file and on a
//! fresh database in a throw-away PostgreSQL cluster that this test process starts itself.

mod audit;
mod auth;
mod buckets;
mod config_files;
mod executions;
mod jobs;
mod locations;
mod replication;
mod repo;
mod retention;
mod schedules;
mod storage;
mod testing;
mod verify;

use bulwark_core::auth::users::{self, NewUser};
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
