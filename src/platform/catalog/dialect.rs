//! Everything that differs between the SQLite and PostgreSQL catalogs, in one place.

/// Which database the catalog runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// What a serialised transaction protects; each topic is its own lock on PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockTopic {
    AuditChain,
    JobQueue,
    /// A day's cost rows, replaced whole (two trackings at once would both insert).
    CostTracking,
}

impl Backend {
    pub fn from_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// SQLite has one writer at a time; more connections only add lock contention.
    pub(crate) fn max_connections(self) -> u32 {
        match self {
            Backend::Sqlite => 4,
            Backend::Postgres => 10,
        }
    }

    /// Statements run on every new connection.
    pub(crate) fn session_setup(self) -> &'static [&'static str] {
        match self {
            // WAL lets readers run beside the writer; foreign keys are off by default in SQLite.
            Backend::Sqlite => &[
                "PRAGMA journal_mode = WAL",
                "PRAGMA synchronous = NORMAL",
                "PRAGMA foreign_keys = ON",
                "PRAGMA busy_timeout = 10000",
            ],
            // A node that stops between a transaction's statements (frozen, partitioned, its
            // VM paused) keeps its connection open and would hold its row and advisory locks
            // for ever, stopping every other node that needs them; the server ends such a
            // session instead. No transaction here waits on anything but SQL between its
            // statements (deliveries are sent, repositories written, before or after).
            Backend::Postgres => &["SET idle_in_transaction_session_timeout = '15s'"],
        }
    }

    /// SQLite must take the write lock at BEGIN: a deferred transaction that reads and then
    /// writes fails with SQLITE_BUSY when another writer got there first.
    pub(crate) fn begin_immediate(self) -> &'static str {
        match self {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        }
    }

    /// The statement that serialises a topic inside a transaction, across every node; with
    /// `wait` false it answers at once whether it got the lock (a boolean row).
    pub(crate) fn lock_statement(self, topic: LockTopic, wait: bool) -> Option<String> {
        let key = match topic {
            LockTopic::AuditChain => 0x4255_4c57_0001_i64,
            LockTopic::JobQueue => 0x4255_4c57_0002_i64,
            LockTopic::CostTracking => 0x4255_4c57_0003_i64,
        };
        match self {
            Backend::Sqlite => None,
            Backend::Postgres if wait => Some(format!("SELECT pg_advisory_xact_lock({key})")),
            Backend::Postgres => Some(format!("SELECT pg_try_advisory_xact_lock({key})")),
        }
    }

    /// The query reading the database server's clock in catalog format; `None` where the
    /// catalog is a file on this host (SQLite), whose clock is this host's.
    pub(crate) fn now_sql(self) -> Option<&'static str> {
        match self {
            Backend::Sqlite => None,
            Backend::Postgres => Some(r#"SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"#),
        }
    }

    /// Picks the next runnable job and marks it running, atomically. Parameters: `$1` now,
    /// `$2` lease owner, `$3` lease expiry. Returns the job's id, kind, payload and attempts.
    pub(crate) fn claim_job_sql(self) -> &'static str {
        match self {
            Backend::Postgres => {
                "UPDATE jobs SET state = 'running', lease_owner = $2, lease_expires_at = $3,
                        attempts = attempts + 1, started_at = $1, updated_at = $1
                 WHERE id = (SELECT id FROM jobs WHERE state = 'queued' AND run_at <= $1
                             ORDER BY priority, run_at, created_at
                             LIMIT 1 FOR UPDATE SKIP LOCKED)
                 RETURNING id, kind, payload, attempts, cancel_requested"
            }
            // Under SQLite's single writer the UPDATE's subquery and write are one atomic step.
            Backend::Sqlite => {
                "UPDATE jobs SET state = 'running', lease_owner = $2, lease_expires_at = $3,
                        attempts = attempts + 1, started_at = $1, updated_at = $1
                 WHERE id = (SELECT id FROM jobs WHERE state = 'queued' AND run_at <= $1
                             ORDER BY priority, run_at, created_at LIMIT 1)
                 RETURNING id, kind, payload, attempts, cancel_requested"
            }
        }
    }
}
