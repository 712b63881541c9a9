//! What retention deletes and keeps, and the holds that keep it.

use serde::{Deserialize, Serialize};

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
