//! The states things are in, and the alerts they raise.

use crate::text_enum::text_enum;

text_enum!(ExecutionStatus, "execution status" {
    /// Waiting for a worker.
    Queued => "queued",
    Running => "running",
    /// A snapshot was written: the backup can be restored.
    Completed => "completed",
    Failed => "failed",
    /// Stopped on request before a snapshot was written.
    Cancelled => "cancelled",
});

/// A new execution's.
impl Default for ExecutionStatus {
    fn default() -> ExecutionStatus {
        ExecutionStatus::Queued
    }
}

impl ExecutionStatus {
    /// It will not change again.
    pub fn is_finished(self) -> bool {
        matches!(self, ExecutionStatus::Completed | ExecutionStatus::Failed | ExecutionStatus::Cancelled)
    }
}

text_enum!(AlertType, "alert type" {
    /// A backup ended without a snapshot; resolved by the configuration's next good backup.
    BackupFailed => "backup_failed",
    /// A storage location did not answer; the backup went to the next one.
    LocationUnreachable => "location_unreachable",
    /// Reading a backup back found damage.
    VerificationFailed => "verification_failed",
    /// A copy to another location failed.
    ReplicationFailed => "replication_failed",
    /// A test restore failed or found issues.
    RestoreTestFailed => "restore_test_failed",
    /// A restore ran without the approval its environment needs (break-glass).
    BreakGlassRestore => "break_glass_restore",
    /// A notification channel failed so often it was disabled; resolved when it is enabled again.
    NotificationChannelFailed => "notification_channel_failed",
    /// The newest restorable point of a configuration is older than its RPO.
    RpoBreach => "rpo_breach",
    /// The latest measured restore of a configuration took longer than its RTO.
    RtoBreach => "rto_breach",
    /// A restoration has waited too long for an approver.
    ApprovalWaiting => "approval_waiting",
    /// A monitored service (or a node) failed its probes; resolved by a healthy probe.
    ServiceUnhealthy => "service_unhealthy",
    /// A monitored service answers but needs attention (slow, a certificate expiring, a
    /// standby behind).
    ServiceDegraded => "service_degraded",
    /// A PostgreSQL primary fails to archive its WAL (`pg_stat_archiver`).
    WalArchiveStalled => "wal_archive_stalled",
    /// A storage location's disk is nearly full.
    StorageFull => "storage_full",
    /// A disaster-recovery plan's drill is past its date; resolved by the next drill.
    DrillOverdue => "drill_overdue",
    /// The retention cleanup could not delete what its policies and floors say must go.
    RetentionViolation => "retention_violation",
});

text_enum!(Severity, "severity" {
    Critical => "critical",
    High => "high",
    Medium => "medium",
    Low => "low",
});
