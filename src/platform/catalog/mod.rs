//! The catalog: the database behind the console (users, sessions, audit, jobs, and the
//! backup/DR tables).
//!
//! One code path serves both backends through sqlx's `Any` driver: every query is written once
//! in portable SQL with `$1`-style placeholders (SQLite accepts them too), ids are text UUIDs,
//! times are fixed-width UTC text (see [`crate::platform::time`]), flags and counters are 64-bit
//! integers and JSON is text. The few statements that must differ (transaction start,
//! serialising writers, job claiming) live in [`dialect`], and nowhere else. The schema is
//! kept twice, `migrations/sqlite` and `migrations/postgres`, with the same tables and meaning.

pub mod dialect;

use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

use crate::error::{Classify, Kind};

pub use dialect::Backend;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("unsupported catalog URL {0:?}: use sqlite://PATH or postgres://USER@HOST:PORT/DB")]
    UnsupportedUrl(String),
    #[error("cannot connect to the catalog: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("catalog migration failed: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error("catalog query failed: {0}")]
    Query(#[from] sqlx::Error),
}

impl Classify for CatalogError {
    fn kind(&self) -> Kind {
        match self {
            CatalogError::UnsupportedUrl(_) => Kind::Invalid,
            _ => Kind::Internal,
        }
    }
}

/// A connection pool to the catalog, SQLite or PostgreSQL. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Catalog {
    pool: AnyPool,
    backend: Backend,
    /// Serialises writers that read-then-write on SQLite (single node only); unused on
    /// PostgreSQL, where advisory locks do this across nodes.
    write_lock: Arc<tokio::sync::Mutex<()>>,
    /// Keys the audit chain (HMAC) when set; it comes from the server secret key, never from
    /// the catalog, so whoever can write the catalog cannot recompute the chain.
    audit_key: Option<Arc<AuditKey>>,
}

/// The audit chain's key; `Debug` never shows it.
pub(crate) struct AuditKey(pub(crate) [u8; 32]);

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(…)")
    }
}

/// How long a query waits for a catalog connection by default (sqlx's own default).
pub const DEFAULT_ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

impl Catalog {
    /// Connects to `url` (`sqlite://…` or `postgres://…`) and applies pending migrations.
    pub async fn open(url: &str) -> Result<Catalog, CatalogError> {
        Catalog::open_with(url, DEFAULT_ACQUIRE_TIMEOUT).await
    }

    /// [`Catalog::open`], waiting at most `acquire_timeout` for a connection before a query
    /// fails with "pool timed out" (the catalog is down or every connection is busy).
    pub async fn open_with(url: &str, acquire_timeout: std::time::Duration) -> Result<Catalog, CatalogError> {
        let catalog = Catalog::connect_with(url, acquire_timeout).await?;
        catalog.migrate().await?;
        Ok(catalog)
    }

    /// Connects without migrating.
    pub async fn connect(url: &str) -> Result<Catalog, CatalogError> {
        Catalog::connect_with(url, DEFAULT_ACQUIRE_TIMEOUT).await
    }

    async fn connect_with(url: &str, acquire_timeout: std::time::Duration) -> Result<Catalog, CatalogError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url).ok_or_else(|| CatalogError::UnsupportedUrl(url.into()))?;
        let options = AnyConnectOptions::from_str(url).map_err(CatalogError::Connect)?;
        let pool = AnyPoolOptions::new()
            .max_connections(backend.max_connections())
            .acquire_timeout(acquire_timeout)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    for statement in backend.session_setup() {
                        conn.execute(*statement).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(CatalogError::Connect)?;
        Ok(Catalog { pool, backend, write_lock: Arc::default(), audit_key: None })
    }

    /// This catalog with its audit chain keyed by `key` from now on (see [`crate::platform::audit`]).
    pub fn with_audit_key(mut self, key: [u8; 32]) -> Catalog {
        self.audit_key = Some(Arc::new(AuditKey(key)));
        self
    }

    pub(crate) fn audit_key(&self) -> Option<&[u8; 32]> {
        self.audit_key.as_deref().map(|k| &k.0)
    }

    pub async fn migrate(&self) -> Result<(), CatalogError> {
        let migrator = match self.backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
        };
        migrator.run(&self.pool).await.map_err(CatalogError::Migrate)
    }

    /// The catalog's clock: every lease, claim, retry time and schedule slot is set and compared
    /// on it, so nodes whose own clocks disagree still agree on who holds what. SQLite runs on
    /// this host, so its clock is this host's.
    pub async fn now(&self) -> Result<DateTime<Utc>, sqlx::Error> {
        match self.backend.now_sql() {
            None => Ok(Utc::now()),
            Some(sql) => clock_answer(sqlx::query_scalar(sql).fetch_one(&self.pool).await?),
        }
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Starts a transaction in which a read followed by a write is serialised against other
    /// writers of the same `topic` (the audit chain, the job queue), on either backend.
    pub async fn begin_serialized(&self, topic: dialect::LockTopic) -> Result<SerializedTx<'_>, sqlx::Error> {
        let guard = match self.backend {
            Backend::Sqlite => Some(self.write_lock.lock().await),
            Backend::Postgres => None,
        };
        let mut tx = self.pool.begin_with(self.backend.begin_immediate()).await?;
        if let Some(statement) = self.backend.lock_statement(topic, true) {
            tx.execute(statement.as_str()).await?;
        }
        Ok(SerializedTx { tx, _guard: guard, audit_key: self.audit_key.clone() })
    }

    /// [`Catalog::begin_serialized`] for work that any holder of the topic does as well (queueing
    /// periodic jobs): on PostgreSQL `None` at once, rather than a wait, while another node
    /// holds it (a node frozen holding it would stop everyone's queueing until its session
    /// ends). SQLite's lock is this process's own, shared by every topic: it waits as before.
    pub async fn try_begin_serialized(&self, topic: dialect::LockTopic) -> Result<Option<SerializedTx<'_>>, sqlx::Error> {
        let guard = match self.backend {
            Backend::Sqlite => Some(self.write_lock.lock().await),
            Backend::Postgres => None,
        };
        let mut tx = self.pool.begin_with(self.backend.begin_immediate()).await?;
        if let Some(statement) = self.backend.lock_statement(topic, false) {
            let got: bool = sqlx::query_scalar(statement.as_str()).fetch_one(&mut *tx).await?;
            if !got {
                return Ok(None);
            }
        }
        Ok(Some(SerializedTx { tx, _guard: guard, audit_key: self.audit_key.clone() }))
    }

    /// Counts rows of one of the catalog's own tables (for dashboards and empty states).
    pub async fn count(&self, table: Table) -> Result<i64, CatalogError> {
        let sql = format!("SELECT COUNT(*) FROM {}", table.name());
        Ok(sqlx::query_scalar::<_, i64>(&sql).fetch_one(&self.pool).await?)
    }
}

/// A transaction holding the serialisation for its topic until commit or drop.
pub struct SerializedTx<'a> {
    pub tx: sqlx::Transaction<'static, sqlx::Any>,
    _guard: Option<tokio::sync::MutexGuard<'a, ()>>,
    pub(crate) audit_key: Option<Arc<AuditKey>>,
}

impl SerializedTx<'_> {
    /// Commits and lets the serialisation go. (Committing `tx.tx` alone would keep holding it
    /// until the rest of the struct is dropped at the end of the caller's scope: any later
    /// serialised step there would wait for ever on SQLite.)
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        let SerializedTx { tx, _guard, .. } = self;
        let committed = tx.commit().await;
        drop(_guard);
        committed
    }
}

/// The tables whose size the console shows; a closed list, so no caller builds SQL from input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    BackupConfigurations,
    BackupStorageLocations,
    BackupExecutions,
    RestorationJobs,
    RestoreTargets,
    Approvals,
    BackupTests,
    DisasterRecoveryPlans,
    RecoveryExecutions,
    BackupMonitoringAlerts,
    BackupCostTracking,
    Users,
    AuditLog,
    Jobs,
}

impl Table {
    pub fn name(self) -> &'static str {
        match self {
            Table::BackupConfigurations => "backup_configurations",
            Table::BackupStorageLocations => "backup_storage_locations",
            Table::BackupExecutions => "backup_executions",
            Table::RestorationJobs => "restoration_jobs",
            Table::RestoreTargets => "restore_targets",
            Table::Approvals => "approvals",
            Table::BackupTests => "backup_tests",
            Table::DisasterRecoveryPlans => "disaster_recovery_plans",
            Table::RecoveryExecutions => "recovery_executions",
            Table::BackupMonitoringAlerts => "backup_monitoring_alerts",
            Table::BackupCostTracking => "backup_cost_tracking",
            Table::Users => "users",
            Table::AuditLog => "audit_log",
            Table::Jobs => "jobs",
        }
    }
}

/// Serialises a stored 0/1 flag as a JSON boolean.
/// [`Catalog::now`] on a connection the caller holds (inside its transaction).
pub async fn now_on(conn: &mut sqlx::AnyConnection) -> Result<DateTime<Utc>, sqlx::Error> {
    let backend = if conn.backend_name().eq_ignore_ascii_case("sqlite") { Backend::Sqlite } else { Backend::Postgres };
    match backend.now_sql() {
        None => Ok(Utc::now()),
        Some(sql) => clock_answer(sqlx::query_scalar(sql).fetch_one(&mut *conn).await?),
    }
}

fn clock_answer(text: String) -> Result<DateTime<Utc>, sqlx::Error> {
    crate::platform::time::parse(&text).ok_or_else(|| sqlx::Error::Decode(format!("the catalog's clock answered {text:?}").into()))
}

/// True for errors that say the catalog could not be reached (no connection within the pool's
/// timeout, a broken connection, the server shutting down), which a later try may not meet.
pub fn unreachable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(d) => d.code().is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
        _ => false,
    }
}

pub fn serialize_flag<S: serde::Serializer>(flag: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_bool(*flag != 0)
}


#[cfg(test)]
mod tests {
    use super::*;

    /// Committed, the serialisation is free again at once, in the same scope.
    #[tokio::test]
    async fn a_committed_serialised_transaction_lets_the_next_one_in() {
        let dir = std::env::temp_dir().join(format!("bulwark-serialized-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let catalog = Catalog::open(&format!("sqlite://{}?mode=rwc", dir.join("c.db").display())).await.unwrap();
        let tx = catalog.begin_serialized(dialect::LockTopic::AuditChain).await.unwrap();
        tx.commit().await.unwrap();
        let next = tokio::time::timeout(std::time::Duration::from_secs(5), catalog.begin_serialized(dialect::LockTopic::AuditChain)).await;
        assert!(next.is_ok(), "the first transaction's serialisation outlived its commit");
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// The class of defect, not one instance: committing the inner transaction keeps the
    /// serialisation until the end of the caller's scope (`SerializedTx::commit` lets it go).
    #[test]
    fn serialised_transactions_commit_through_their_own_method() {
        let offenders = crate::platform::sources_containing(".tx.commit()", "catalog/mod.rs");
        assert!(offenders.is_empty(), "commit a SerializedTx with its own commit(): {offenders:?}");
    }
}
