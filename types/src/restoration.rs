//! The restoration workflow's vocabulary: the environments restores go into and the targets
//! named in them.

use serde::{Deserialize, Serialize};

use crate::text_enum::text_enum;

text_enum!(Environment, "environment" {
    Production => "production",
    Staging => "staging",
    Development => "development",
    DisasterRecovery => "disaster_recovery",
});

text_enum!(TargetType, "restore target type" {
    /// A PostgreSQL server (a database on it, or a new one).
    Postgresql => "postgresql",
    /// A directory files are restored into.
    Directory => "directory",
    /// A bucket (and prefix) objects are restored into.
    S3Bucket => "s3_bucket",
    /// A directory a whole PostgreSQL cluster is restored into and started from, for
    /// point-in-time restores.
    DataDirectory => "data_directory",
});

/// A restore target as the Restoration page lists it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreTargetLine {
    pub id: String,
    pub name: String,
    pub environment: Environment,
    pub target_type: TargetType,
    /// Where it is: a database URL, a directory, `s3://bucket/prefix at endpoint`.
    pub place: String,
    pub has_secret: bool,
    pub last_test_ok: Option<bool>,
    pub last_test_message: Option<String>,
}

text_enum!(RestorationType, "restoration type" {
    /// Everything the backup holds.
    Full => "full",
    /// Chosen paths of a directory, or chosen object prefixes of a bucket.
    Partial => "partial",
    /// A continuous PostgreSQL cluster replayed to a moment of its WAL.
    PointInTime => "point_in_time",
    /// Chosen tables of a PostgreSQL dump.
    TableLevel => "table_level",
});

text_enum!(RestorationStatus, "restoration status" {
    /// Waits for approvers (the environment's policy).
    ApprovalRequired => "approval_required",
    /// Queued on the worker pool.
    Initiated => "initiated",
    Running => "running",
    Completed => "completed",
    Failed => "failed",
    Cancelled => "cancelled",
    /// An approver said no.
    Rejected => "rejected",
    /// Nobody approved it in time.
    Expired => "expired",
    /// Its target holds what it would overwrite: nothing ran; request again with one of the
    /// alternatives.
    ConflictDetected => "conflict_detected",
    /// Completed, then put back as it was from its safety snapshot by a rollback.
    RolledBack => "rolled_back",
});

impl RestorationStatus {
    /// It will not change again.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            RestorationStatus::Completed | RestorationStatus::Failed | RestorationStatus::Cancelled | RestorationStatus::Rejected | RestorationStatus::Expired | RestorationStatus::ConflictDetected | RestorationStatus::RolledBack
        )
    }
}

text_enum!(ConflictResolution, "conflict resolution" {
    /// Write over what the target holds, after a safety snapshot of it: files and objects that
    /// differ are replaced, a database's tables are replaced in one transaction.
    Overwrite => "overwrite",
});

/// Another way to make a restoration whose target holds data, as the console offers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Alternative {
    pub label: String,
    pub target_environment: Environment,
    pub target_identifier: String,
    pub conflict_resolution: Option<ConflictResolution>,
}

text_enum!(ApprovalRule, "approval rule" {
    /// Every restore into the environment.
    Always => "always",
    /// Only `full` restores.
    FullOnly => "full_only",
    Never => "never",
});

/// What a restoration restores, by the backup's kind: tables of a dump, paths of a directory,
/// key prefixes of a bucket. Empty: everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct RestorationScope {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub prefixes: Vec<String>,
}

impl RestorationScope {
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty() && self.paths.is_empty() && self.prefixes.is_empty()
    }
}

/// The seeds' restoration request (`POST /api/admin/backups/restoration`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RestorationRequest {
    pub backup_execution_id: String,
    pub restoration_type: RestorationType,
    pub target_environment: Environment,
    /// A restore target's name, optionally followed by `/` and a database, directory or prefix
    /// inside it (`staging-db/orders_copy`).
    pub target_identifier: String,
    /// RFC 3339; point-in-time restores only.
    #[serde(default)]
    pub point_in_time_target: Option<String>,
    #[serde(default)]
    pub restoration_scope: Option<RestorationScope>,
    #[serde(default)]
    pub incident_reference: Option<String>,
    /// Break-glass: run without approval where the environment's policy allows it (admins, with
    /// an incident reference and `overrideReason`).
    #[serde(default)]
    pub approval_override: Option<bool>,
    #[serde(default)]
    pub override_reason: Option<String>,
    /// Restore a backup that has not been verified yet without verifying it first.
    #[serde(default)]
    pub accept_unverified: Option<bool>,
    #[serde(default)]
    pub notes: Option<String>,
    /// What to do when the target holds data; without it such a request stops at
    /// `conflict_detected`.
    #[serde(default)]
    pub conflict_resolution: Option<ConflictResolution>,
}

/// The seeds' answer to a restoration request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RestorationInitiated {
    pub restoration_id: String,
    pub status: RestorationStatus,
    /// Seconds, from the backup's size and the restores measured so far.
    pub estimated_duration: f64,
    pub approval_required: bool,
    pub rollback_deadline: Option<String>,
    /// What the target holds that the restore would overwrite (status `conflict_detected`).
    pub conflicts: Vec<String>,
    pub alternatives: Vec<Alternative>,
}

/// One approver's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ApprovalLine {
    pub decided_by: String,
    /// `approved` or `rejected`.
    pub decision: String,
    pub reason: Option<String>,
    pub totp_confirmed: bool,
    pub decided_at: String,
}

/// A restoration job as the API and the console show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Restoration {
    pub id: String,
    pub backup_execution_id: String,
    pub configuration_id: String,
    pub configuration_name: String,
    pub restoration_type: RestorationType,
    pub target_environment: Environment,
    pub target_identifier: String,
    pub point_in_time_target: Option<String>,
    pub restoration_scope: RestorationScope,
    pub status: RestorationStatus,
    pub progress_percentage: i64,
    pub restored_size_bytes: i64,
    pub total_size_bytes: i64,
    /// What was checked after the restore.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub verification_results: Option<serde_json::Value>,
    pub error_message: Option<String>,
    pub rollback_available: bool,
    pub rollback_deadline: Option<String>,
    /// Seconds until the rollback deadline, while a rollback is possible (the console's countdown).
    pub rollback_seconds_left: Option<i64>,
    /// The requester's user name.
    pub initiated_by: String,
    /// The approvers' user names, comma-separated, once approved.
    pub approved_by: Option<String>,
    pub approval_required: bool,
    pub approvals_needed: i64,
    pub require_totp: bool,
    pub approval_expires_at: Option<String>,
    pub approval_override: bool,
    pub override_reason: Option<String>,
    pub accept_unverified: bool,
    pub incident_reference: Option<String>,
    pub notes: Option<String>,
    pub estimated_duration_seconds: f64,
    pub rto_minutes: Option<i64>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub duration_seconds: Option<f64>,
    pub created_at: String,
    pub approvals: Vec<ApprovalLine>,
    pub conflicts: Vec<String>,
    pub alternatives: Vec<Alternative>,
    pub conflict_resolution: Option<ConflictResolution>,
    /// The backup of what the target held before this restore wrote over it (an execution of
    /// type `safety`), and the seconds it took.
    pub safety_execution_id: Option<String>,
    pub safety_seconds: Option<f64>,
    /// The restoration this one rolls back.
    pub rollback_of: Option<String>,
    /// The latest rollback requested of this restoration.
    pub rolled_back_by: Option<String>,
}

/// A request to put a restoration's target back as it was (`POST …/restoration/{id}/rollback`);
/// it needs the approvals a restore into the same environment needs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RollbackRequest {
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub incident_reference: Option<String>,
    #[serde(default)]
    pub approval_override: Option<bool>,
    #[serde(default)]
    pub override_reason: Option<String>,
}

/// The seeds' status answer (`GET …/restoration/{id}/status`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RestorationProgress {
    pub restoration_id: String,
    pub status: RestorationStatus,
    pub progress_percentage: i64,
    /// Bytes written so far.
    pub restored_size: i64,
    pub total_size: i64,
    /// Bytes a second since the restore started.
    pub rate_bytes_per_second: f64,
    pub estimated_completion: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub verification_results: Option<serde_json::Value>,
    pub error_message: Option<String>,
    pub duration_seconds: Option<f64>,
    pub rto_minutes: Option<i64>,
}

/// A backup a restoration can start from (`GET …/restoration/available`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AvailableBackup {
    pub execution_id: String,
    pub configuration_id: String,
    pub configuration_name: String,
    pub source_type: crate::SourceKind,
    pub backup_type: String,
    pub backup_date: String,
    pub backup_size: i64,
    /// `verified`, `failed` or `pending`.
    pub verification_status: String,
    pub retention_expiry: Option<String>,
    pub point_in_time_capable: bool,
}

/// An environment's approval policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApprovalPolicy {
    pub environment: Environment,
    pub require_approval: ApprovalRule,
    /// Distinct approvers, none of them the requester.
    pub approvers_required: i64,
    /// Approvers confirm with a fresh second-factor code.
    pub require_totp: bool,
    /// Hours a request waits for approval before it expires.
    pub validity_hours: i64,
    /// Admins may skip approval with an incident reference and a reason (loudly).
    pub break_glass_allowed: bool,
    /// Hours a completed restore can be rolled back.
    pub rollback_hours: i64,
}
