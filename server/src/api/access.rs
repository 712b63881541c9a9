//! Who may call each REST route: the role matrix, checked at the door before a request body
//! is read (the core checks again). A route missing here answers 500 to everyone, and the
//! role-matrix test fails on it: every new route is classified on purpose.

use axum::http::Method;
use bulwark_core::monitoring::RECORD_SCOPE;
use bulwark_core::platform::accounts::tokens::WAL_PUSH_SCOPE;
use bulwark_core::platform::auth::Role;

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// At least this role; narrow tokens are refused.
    Role(Role),
    /// An operator, or a narrow token of this scope (`wal-push` for `wal-push:<configuration>`;
    /// the core checks the rest of the scope).
    Scoped(&'static str),
}

use Access::Role as R;
use Role::{Admin, Approver, Operator, Viewer};

/// `(method, path under /api, access)` of every route of [`super::router`].
pub const ROUTES: &[(&str, &str, Access)] = &[
    ("GET", "/me", R(Viewer)),
    ("GET", "/overview", R(Viewer)),
    ("GET", "/tokens", R(Viewer)),
    ("POST", "/tokens", R(Viewer)),
    ("DELETE", "/tokens/{id}", R(Viewer)),
    ("GET", "/admin/users", R(Admin)),
    ("POST", "/admin/users", R(Admin)),
    ("GET", "/admin/users/{id}", R(Admin)),
    ("PATCH", "/admin/users/{id}", R(Admin)),
    ("DELETE", "/admin/users/{id}", R(Admin)),
    ("GET", "/admin/backups/restore-targets", R(Viewer)),
    ("POST", "/admin/backups/restore-targets", R(Admin)),
    ("GET", "/admin/backups/restore-targets/{id}", R(Viewer)),
    ("PUT", "/admin/backups/restore-targets/{id}", R(Admin)),
    ("DELETE", "/admin/backups/restore-targets/{id}", R(Admin)),
    ("POST", "/admin/backups/restore-targets/{id}/test", R(Operator)),
    ("GET", "/admin/backups/alerts", R(Viewer)),
    ("GET", "/admin/backups/alerts/{id}", R(Viewer)),
    ("POST", "/admin/backups/alerts/{id}/acknowledge", R(Operator)),
    ("POST", "/admin/backups/alerts/{id}/resolve", R(Operator)),
    ("GET", "/admin/backups/health", R(Viewer)),
    ("GET", "/admin/backups/dashboard", R(Viewer)),
    ("GET", "/admin/backups/alerts/{id}/history", R(Viewer)),
    ("GET", "/admin/backups/alerts/silences", R(Viewer)),
    ("POST", "/admin/backups/alerts/silences", R(Operator)),
    ("DELETE", "/admin/backups/alerts/silences/{id}", R(Operator)),
    ("GET", "/admin/backups/alerts/escalation", R(Viewer)),
    ("PUT", "/admin/backups/alerts/escalation/{severity}", R(Admin)),
    ("GET", "/admin/backups/dashboard/events", R(Viewer)),
    ("GET", "/admin/backups/storage/utilization", R(Viewer)),
    ("GET", "/admin/backups/cost/analysis", R(Viewer)),
    ("POST", "/admin/backups/cost/track", R(Operator)),
    ("GET", "/admin/backups/storage-locations/{id}/prices", R(Viewer)),
    ("PUT", "/admin/backups/storage-locations/{id}/prices", R(Admin)),
    ("POST", "/admin/backups/storage-locations/{id}/prune", R(Admin)),
    ("GET", "/admin/monitoring/services", R(Viewer)),
    ("POST", "/admin/monitoring/services", R(Admin)),
    ("GET", "/admin/monitoring/services/{id}", R(Viewer)),
    ("PUT", "/admin/monitoring/services/{id}", R(Admin)),
    ("DELETE", "/admin/monitoring/services/{id}", R(Admin)),
    ("POST", "/admin/monitoring/services/{id}/check", R(Operator)),
    ("POST", "/admin/monitoring/record-token", R(Operator)),
    ("GET", "/disaster-recovery/health", R(Viewer)),
    ("POST", "/disaster-recovery/health/record", Access::Scoped(RECORD_SCOPE)),
    ("GET", "/admin/notifications/channels", R(Admin)),
    ("POST", "/admin/notifications/channels", R(Admin)),
    ("GET", "/admin/notifications/channels/{id}", R(Admin)),
    ("PUT", "/admin/notifications/channels/{id}", R(Admin)),
    ("DELETE", "/admin/notifications/channels/{id}", R(Admin)),
    ("POST", "/admin/notifications/channels/{id}/test", R(Admin)),
    ("GET", "/admin/notifications/deliveries", R(Admin)),
    ("GET", "/admin/backups/restoration", R(Viewer)),
    ("POST", "/admin/backups/restoration", R(Operator)),
    ("GET", "/admin/backups/restoration/available", R(Viewer)),
    ("GET", "/admin/backups/restoration/active", R(Viewer)),
    ("GET", "/admin/backups/restoration/{id}", R(Viewer)),
    ("PUT", "/admin/backups/restoration/{id}", R(Operator)),
    ("GET", "/admin/backups/restoration/{id}/status", R(Viewer)),
    ("GET", "/admin/backups/restoration/{id}/events", R(Viewer)),
    ("POST", "/admin/backups/restoration/{id}/cancel", R(Operator)),
    ("POST", "/admin/backups/restoration/{id}/rollback", R(Operator)),
    ("POST", "/admin/backups/restoration/{id}/approve", R(Approver)),
    ("POST", "/admin/backups/restoration/{id}/reject", R(Approver)),
    ("POST", "/disaster-recovery/backups/{backupId}/restore", R(Operator)),
    ("GET", "/admin/backups/approval-policies", R(Viewer)),
    ("PUT", "/admin/backups/approval-policies/{environment}", R(Admin)),
    ("GET", "/admin/backups/storage-locations", R(Viewer)),
    ("POST", "/admin/backups/storage-locations", R(Admin)),
    ("GET", "/admin/backups/storage-locations/{id}", R(Viewer)),
    ("DELETE", "/admin/backups/storage-locations/{id}", R(Admin)),
    ("POST", "/admin/backups/storage-locations/{id}/test", R(Operator)),
    ("POST", "/admin/backups/storage-locations/{id}/init", R(Admin)),
    ("GET", "/admin/backups/storage-locations/{id}/usage", R(Viewer)),
    ("POST", "/admin/backups/storage-locations/{id}/repair-index", R(Admin)),
    ("GET", "/admin/backups/storage-locations/{id}/retention-floor", R(Viewer)),
    ("PUT", "/admin/backups/storage-locations/{id}/retention-floor", R(Admin)),
    ("GET", "/admin/backups/storage-locations/{id}/replications", R(Viewer)),
    ("POST", "/admin/backups/storage-locations/{id}/replications", R(Admin)),
    ("GET", "/admin/backups/storage-locations/{id}/replication-rules", R(Viewer)),
    ("POST", "/admin/backups/storage-locations/{id}/replication-rules", R(Admin)),
    ("DELETE", "/admin/backups/replication-rules/{id}", R(Admin)),
    ("POST", "/admin/backups/storage-locations/{id}/attach", R(Admin)),
    ("POST", "/admin/catalog/rebuild", R(Admin)),
    ("GET", "/admin/backups/storage-locations/{id}/snapshots", R(Viewer)),
    ("GET", "/admin/backups/storage-locations/{id}/snapshots/{snapshot}/file", R(Operator)),
    ("GET", "/admin/backups/configurations", R(Viewer)),
    ("POST", "/admin/backups/configurations", R(Admin)),
    ("GET", "/admin/backups/configurations/{id}", R(Viewer)),
    ("PUT", "/admin/backups/configurations/{id}", R(Admin)),
    ("POST", "/admin/backups/configurations/{id}/execute", R(Operator)),
    ("GET", "/admin/backups/configurations/{id}/executions", R(Viewer)),
    ("POST", "/admin/backups/configurations/{id}/recover", R(Operator)),
    ("GET", "/admin/backups/configurations/{id}/recovery-window", R(Viewer)),
    ("POST", "/admin/backups/configurations/{id}/wal-token", R(Operator)),
    ("GET", "/admin/backups/configurations/{id}/wal/{name}", R(Operator)),
    ("PUT", "/admin/backups/configurations/{id}/wal/{name}", Access::Scoped(WAL_PUSH_SCOPE)),
    ("GET", "/admin/backups/configurations/{id}/schedule", R(Viewer)),
    ("GET", "/admin/backups/executions/{id}", R(Viewer)),
    ("DELETE", "/admin/backups/executions/{id}", R(Admin)),
    ("GET", "/admin/backups/executions/{id}/retention", R(Viewer)),
    ("GET", "/admin/backups/executions/{id}/legal-holds", R(Viewer)),
    ("POST", "/admin/backups/executions/{id}/legal-holds", R(Approver)),
    ("POST", "/admin/backups/legal-holds/{id}/release", R(Admin)),
    ("POST", "/admin/backups/retention/cleanup", R(Operator)),
    ("POST", "/admin/backups/verify/{id}", R(Operator)),
    ("POST", "/admin/backups/testing/schedule", R(Operator)),
    ("GET", "/admin/backups/testing/results", R(Viewer)),
    ("GET", "/admin/backups/executions/{id}/events", R(Viewer)),
    ("POST", "/admin/backups/executions/{id}/restore", R(Operator)),
    ("GET", "/admin/backups/executions/{id}/diff", R(Operator)),
    ("POST", "/admin/backups/executions/{id}/cancel", R(Operator)),
    ("GET", "/admin/jobs", R(Viewer)),
    ("GET", "/admin/audit", R(Admin)),
    ("GET", "/admin/audit/verify", R(Admin)),
];

/// What `method` on the route template `path` (as matched, under `/api`) needs.
pub fn required(method: &Method, path: &str) -> Option<Access> {
    let path = path.strip_prefix("/api").unwrap_or(path);
    ROUTES.iter().find(|(m, p, _)| *m == method.as_str() && *p == path).map(|(_, _, access)| *access)
}
