//! Storage locations, what their repositories hold, and their copies elsewhere.

use serde::{Deserialize, Serialize};

use crate::text_enum::text_enum;

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

/// What reaching a location found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestOutcome {
    pub location: String,
    pub ok: bool,
    pub message: String,
}

/// What an administrator keeps to open a repository without Bulwark's catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryKitView {
    pub repository_id: String,
    pub location: String,
    pub key_file: String,
    pub instructions: String,
}

/// A storage location's retention floor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FloorView {
    pub min_days: Option<i64>,
    pub max_days: Option<i64>,
    pub locks_at: Option<String>,
    pub locked: bool,
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

/// One entry of a snapshot's tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryView {
    pub name: String,
    pub path: String,
    pub kind: String,
    pub size: u64,
    pub mode: String,
}

text_enum!(ReplicationStatus, "replication status" {
    Queued => "queued",
    Running => "running",
    /// Every object copied and every snapshot read back at the target.
    Completed => "completed",
    Failed => "failed",
});

/// One copy of a repository to another location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicationLine {
    pub id: String,
    pub source_location_id: String,
    pub target_location_id: String,
    pub status: ReplicationStatus,
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
