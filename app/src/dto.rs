//! What pages receive from server functions: plain serde types that compile for the browser.

use bulwark_types::ExecutionStatus;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub username: String,
    pub role: String,
}

impl Me {
    pub fn is_admin(&self) -> bool {
        self.role == "admin"
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overview {
    pub configurations: i64,
    pub storage_locations: i64,
    pub executions: i64,
    pub restorations: i64,
    pub restore_targets: i64,
    pub approvals_pending: i64,
    pub backup_tests: i64,
    pub procedures: i64,
    pub plans: i64,
    pub recovery_executions: i64,
    pub alerts_open: i64,
    pub cost_rows: i64,
    pub users: i64,
    pub audit_rows: i64,
    pub jobs_queued: i64,
    pub jobs_running: i64,
    /// When the figures were read (server time).
    pub as_of: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRow {
    pub id: String,
    pub username: String,
    pub role: String,
    pub disabled: bool,
    pub has_password: bool,
    pub has_second_factor: bool,
    pub last_login_at: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRow {
    pub id: String,
    pub username: String,
    pub name: String,
    pub prefix: String,
    pub role: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub revoked: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRow {
    pub seq: i64,
    pub occurred_at: String,
    pub actor_name: String,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocationRow {
    pub id: String,
    pub name: String,
    pub tier: String,
    pub provider: String,
    /// Where the data goes: a directory, or s3://bucket/prefix at an endpoint.
    pub place: String,
    pub cost_per_gb_month: Option<f64>,
    pub repository_id: Option<String>,
    pub last_test_ok: Option<bool>,
    pub last_test_message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestOutcome {
    pub location: String,
    pub ok: bool,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryKitView {
    pub repository_id: String,
    pub location: String,
    pub key_file: String,
    pub instructions: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotView {
    pub id: String,
    pub time: String,
    pub source: String,
    pub kind: String,
    pub bytes: u64,
    pub files: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryView {
    pub name: String,
    pub path: String,
    pub kind: String,
    pub size: u64,
    pub mode: String,
}

/// A backup configuration as the Configurations page lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigurationRow {
    pub id: String,
    pub name: String,
    pub source_type: bulwark_types::SourceKind,
    pub source_identifier: String,
    pub frequency: String,
    pub priority_level: i64,
    pub rto_minutes: Option<i64>,
    pub rpo_minutes: Option<i64>,
    /// The latest execution's status, or `never_run`.
    pub status: String,
    pub last_execution_id: Option<String>,
    /// When it next runs by itself; `None` for manual or paused ones.
    pub next_execution: Option<String>,
}

/// One execution as its page shows it; built from the execution's JSON, both on the server
/// and in the browser from each server-sent event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExecutionView {
    pub id: String,
    pub configuration_id: String,
    /// The configuration's name, for the page to name it (not in the pushed events).
    pub configuration_name: Option<String>,
    pub execution_type: String,
    pub status: ExecutionStatus,
    pub percent: f64,
    pub bytes_read: u64,
    pub bytes_new: u64,
    pub bytes_total: Option<u64>,
    pub bytes_per_second: f64,
    pub eta_seconds: Option<f64>,
    pub size_bytes: Option<u64>,
    pub stored_bytes: Option<u64>,
    pub new_bytes: Option<u64>,
    pub duration_seconds: Option<f64>,
    pub checksum: Option<String>,
    pub snapshot_id: Option<String>,
    pub error_message: Option<String>,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    /// What was backed up, from the recovery metadata.
    pub source_type: Option<bulwark_types::SourceKind>,
    /// How the source was read (`pg_dump custom`, `pg_basebackup tar`), from the metadata.
    pub format: String,
    /// Recovery metadata, pretty-printed.
    pub metadata: String,
    /// `verified` or `failed` once read back; `None` before.
    pub verification_status: Option<String>,
    pub verified_at: Option<String>,
}

impl ExecutionView {
    /// The page's view of an execution (from the server function, or from each server-sent
    /// event in the browser): typed on both sides by `bulwark_types::Execution`.
    pub fn of(e: &bulwark_types::Execution) -> ExecutionView {
        let progress = e.progress();
        let metadata = e.recovery_metadata();
        ExecutionView {
            id: e.id.clone(),
            configuration_id: e.configuration_id.clone(),
            configuration_name: None,
            execution_type: e.execution_type.clone(),
            status: e.status,
            percent: progress.percent,
            bytes_read: progress.bytes_read,
            bytes_new: progress.bytes_new,
            bytes_total: progress.bytes_total,
            bytes_per_second: progress.bytes_per_second,
            eta_seconds: progress.eta_seconds,
            size_bytes: e.size_bytes.and_then(|b| u64::try_from(b).ok()),
            stored_bytes: e.compressed_size_bytes.and_then(|b| u64::try_from(b).ok()),
            new_bytes: e.new_bytes.and_then(|b| u64::try_from(b).ok()),
            duration_seconds: e.duration_seconds,
            checksum: e.checksum.clone(),
            snapshot_id: e.snapshot_id.clone(),
            error_message: e.error_message.clone(),
            started_at: e.started_at.clone(),
            completed_at: e.completed_at.clone(),
            source_type: metadata["sourceType"].as_str().and_then(bulwark_types::SourceKind::parse),
            format: metadata["format"].as_str().unwrap_or_default().to_string(),
            metadata: serde_json::to_string_pretty(&metadata).unwrap_or_default(),
            verification_status: e.verification_status.clone(),
            verified_at: e.verified_at.clone(),
        }
    }

    pub fn is_finished(&self) -> bool {
        self.status.is_finished()
    }
}

/// One configuration, with what its page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigurationDetail {
    pub id: String,
    pub name: String,
    pub source_type: bulwark_types::SourceKind,
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

/// One job of the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobLine {
    pub id: String,
    pub kind: String,
    pub state: String,
    pub subject_id: Option<String>,
    pub lease_owner: Option<String>,
    pub priority: i64,
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_at: String,
    pub last_error: Option<String>,
    pub created_at: String,
    pub finished_at: Option<String>,
}

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

/// One file of a configuration-file diff: names only, never values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDiffRow {
    pub path: String,
    pub status: String,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
}

/// 1536 → "1.5 KiB".
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

/// A backup the retention cleanup deletes, or keeps against its policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CandidateLine {
    pub execution_id: String,
    pub configuration_name: String,
    pub completed_at: String,
    pub size_bytes: Option<u64>,
    pub reason: String,
}

/// What a retention cleanup did or, in a dry run, would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanupView {
    pub dry_run: bool,
    pub deleted: Vec<CandidateLine>,
    pub held: Vec<CandidateLine>,
    pub bytes_freed: u64,
    /// Unused data the storage still locks (S3 Object Lock); a later cleanup frees it.
    pub bytes_locked: u64,
}

/// A legal hold as the execution page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldLine {
    pub id: String,
    pub title: String,
    pub reason: String,
    pub expires_at: Option<String>,
    pub created_by: String,
    pub created_at: String,
    pub released_at: Option<String>,
    pub released_by: Option<String>,
    pub active: bool,
}

/// An execution's retention: its planned deletion, its deletion, its holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionInfo {
    pub scheduled_deletion_date: Option<String>,
    pub deleted_at: Option<String>,
    pub size_freed_bytes: Option<u64>,
    pub holds: Vec<HoldLine>,
}

/// A storage location's retention floor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FloorView {
    pub min_days: Option<i64>,
    pub max_days: Option<i64>,
    pub locks_at: Option<String>,
    pub locked: bool,
}

/// One restore test as the Testing Results page lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestLine {
    pub id: String,
    pub execution_id: String,
    pub status: String,
    pub created_at: String,
    pub restore_seconds: Option<f64>,
    pub data_age_seconds: Option<i64>,
    pub rto_met: Option<bool>,
    pub rpo_met: Option<bool>,
    pub issues: Vec<String>,
    pub recommendations: Vec<String>,
}

/// The Testing Results page: the summary and the tests, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestResultsView {
    pub total: usize,
    pub passed: usize,
    pub failed: usize,
    pub average_rto_seconds: Option<f64>,
    pub average_rpo_seconds: Option<f64>,
    pub tests: Vec<TestLine>,
}

/// One copy of a repository to another location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicationLine {
    pub id: String,
    pub source_location_id: String,
    pub target_location_id: String,
    pub status: String,
    pub objects_copied: i64,
    pub bytes_copied: u64,
    pub objects_skipped: i64,
    pub snapshots_verified: i64,
    /// Objects the source no longer has, removed from the target (and their bytes), and such
    /// objects the target's Object Lock keeps.
    pub objects_deleted: i64,
    pub bytes_deleted: u64,
    pub objects_locked: i64,
    pub error: Option<String>,
    pub created_at: String,
}

/// A standing copy rule: this location is copied to the target after every backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicationRuleLine {
    pub id: String,
    pub target_location_id: String,
    pub target_name: String,
    pub created_by: String,
    pub created_at: String,
}
