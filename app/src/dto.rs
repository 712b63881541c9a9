//! What pages receive from server functions: plain serde types that compile for the browser.

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
