//! Backup configurations as their pages show them.

use serde::{Deserialize, Serialize};

use crate::{ExecutionStatus, SourceKind};

/// A backup configuration as the Configurations page lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigurationRow {
    pub id: String,
    pub name: String,
    pub source_type: SourceKind,
    pub source_identifier: String,
    pub frequency: String,
    pub priority_level: i64,
    pub rto_minutes: Option<i64>,
    pub rpo_minutes: Option<i64>,
    /// The latest execution's status; `None` before the first.
    pub status: Option<ExecutionStatus>,
    pub last_execution_id: Option<String>,
    /// When it next runs by itself; `None` for manual or paused ones.
    pub next_execution: Option<String>,
}

/// One configuration, with what its page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigurationDetail {
    pub id: String,
    pub name: String,
    pub source_type: SourceKind,
    pub source_identifier: String,
    pub frequency: String,
    /// Physical base backups plus WAL archiving (point-in-time restores).
    pub continuous: bool,
    pub window: Option<RecoveryWindowView>,
    /// The `archive_command` to give the cluster, with a placeholder for its WAL push token.
    pub archive_command: Option<String>,
    /// Where restores may write (the server's `--restore-root`s).
    pub restore_roots: Vec<String>,
    pub executions: Vec<ExecutionLine>,
    /// The cron expression in force; `None` when it runs only when asked.
    pub schedule: Option<String>,
    pub next_execution: Option<String>,
    pub slots: Vec<SlotLine>,
}

/// One schedule slot as the configuration page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotLine {
    pub slot_at: String,
    pub node: String,
    pub execution_id: Option<String>,
    /// `queued`, or `skipped: …` with the reason.
    pub outcome: String,
}

/// How far back a continuous configuration can be restored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryWindowView {
    pub earliest: Option<String>,
    pub latest: Option<String>,
    pub base_backups: i64,
    pub wal_files: i64,
    pub wal_bytes: u64,
    pub last_wal_file: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionLine {
    pub id: String,
    pub status: ExecutionStatus,
    pub created_at: String,
    pub size_bytes: Option<u64>,
    pub duration_seconds: Option<f64>,
}
