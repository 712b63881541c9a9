-- Bulwark catalog, SQLite. Keep in step with migrations/postgres (same tables and meaning).
-- Identity and access ---------------------------------------------------------------------

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'approver', 'admin')),
    disabled INTEGER NOT NULL DEFAULT 0,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT,
    last_login_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT REFERENCES users(id) ON DELETE CASCADE,
    data TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'approver', 'admin')),
    created_at TEXT NOT NULL,
    expires_at TEXT,
    last_used_at TEXT,
    revoked_at TEXT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- One-time links that let a person set a password: the first admin at first start, or a
-- user created by `bulwark user add` without a password.
CREATE TABLE setup_tokens (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    username TEXT,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'approver', 'admin')),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT
);

-- Append-only, hash-chained: hash = SHA-256(prev_hash || canonical row), see src/audit.rs.
CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    occurred_at TEXT NOT NULL,
    actor_id TEXT,
    actor_name TEXT NOT NULL,
    action TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id TEXT,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);

-- Work queue -----------------------------------------------------------------------------

CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    priority INTEGER NOT NULL DEFAULT 5,
    configuration_id TEXT,
    run_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 5,
    lease_owner TEXT,
    lease_expires_at TEXT,
    last_error TEXT,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    updated_at TEXT NOT NULL
);
CREATE INDEX jobs_runnable ON jobs (state, priority, run_at);

-- Backup side (the seeds' vocabulary) -------------------------------------------------------

CREATE TABLE backup_storage_locations (
    id TEXT PRIMARY KEY,
    location_name TEXT NOT NULL UNIQUE,
    storage_type TEXT NOT NULL CHECK (storage_type IN ('primary', 'secondary', 'tertiary', 'archive')),
    provider TEXT NOT NULL,
    region TEXT,
    endpoint TEXT,
    bucket TEXT,
    path_prefix TEXT,
    storage_class TEXT,
    cost_per_gb_month REAL,
    availability_sla REAL,
    immutability INTEGER NOT NULL DEFAULT 0,
    credentials_encrypted TEXT,
    is_active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE backup_configurations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    backup_type TEXT NOT NULL,
    source_type TEXT NOT NULL,
    source_identifier TEXT NOT NULL,
    frequency TEXT NOT NULL,
    schedule TEXT,
    retention_policy TEXT NOT NULL DEFAULT '{}',
    encryption_enabled INTEGER NOT NULL DEFAULT 1,
    compression TEXT NOT NULL DEFAULT 'zstd',
    priority_level INTEGER NOT NULL DEFAULT 5,
    rto_minutes INTEGER,
    rpo_minutes INTEGER,
    storage_location_ids TEXT NOT NULL DEFAULT '[]',
    source_credentials_encrypted TEXT,
    is_active INTEGER NOT NULL DEFAULT 1,
    created_by TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE backup_executions (
    id TEXT PRIMARY KEY,
    configuration_id TEXT NOT NULL REFERENCES backup_configurations(id),
    execution_type TEXT NOT NULL,
    status TEXT NOT NULL,
    storage_location_id TEXT REFERENCES backup_storage_locations(id),
    snapshot_id TEXT,
    started_at TEXT,
    completed_at TEXT,
    duration_seconds REAL,
    size_bytes INTEGER,
    compressed_size_bytes INTEGER,
    new_bytes INTEGER,
    checksum TEXT,
    error_message TEXT,
    verification_status TEXT,
    verified_at TEXT,
    recovery_metadata TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL
);
CREATE INDEX backup_executions_configuration ON backup_executions (configuration_id, created_at);

CREATE TABLE backup_tests (
    id TEXT PRIMARY KEY,
    execution_id TEXT NOT NULL REFERENCES backup_executions(id),
    test_type TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at TEXT,
    completed_at TEXT,
    performance_metrics TEXT NOT NULL DEFAULT '{}',
    issues_found TEXT NOT NULL DEFAULT '[]',
    recommendations TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL
);

CREATE TABLE backup_retention_tracking (
    id TEXT PRIMARY KEY,
    execution_id TEXT NOT NULL REFERENCES backup_executions(id),
    retention_policy TEXT NOT NULL,
    scheduled_deletion_date TEXT,
    deleted_at TEXT,
    size_freed_bytes INTEGER,
    created_at TEXT NOT NULL
);

CREATE TABLE backup_monitoring_alerts (
    id TEXT PRIMARY KEY,
    alert_type TEXT NOT NULL,
    severity TEXT NOT NULL,
    subject TEXT NOT NULL,
    message TEXT NOT NULL,
    dedup_hash TEXT NOT NULL,
    status TEXT NOT NULL,
    occurrences INTEGER NOT NULL DEFAULT 1,
    escalation_level INTEGER NOT NULL DEFAULT 0,
    acknowledged_by TEXT,
    acknowledged_at TEXT,
    resolved_at TEXT,
    first_seen_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL
);
CREATE INDEX backup_monitoring_alerts_dedup ON backup_monitoring_alerts (dedup_hash, status);

CREATE TABLE backup_cost_tracking (
    id TEXT PRIMARY KEY,
    storage_location_id TEXT REFERENCES backup_storage_locations(id),
    configuration_id TEXT REFERENCES backup_configurations(id),
    day TEXT NOT NULL,
    bytes_stored INTEGER NOT NULL DEFAULT 0,
    requests INTEGER NOT NULL DEFAULT 0,
    transfer_bytes INTEGER NOT NULL DEFAULT 0,
    cost REAL NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);

-- Recovery side --------------------------------------------------------------------------

CREATE TABLE restore_targets (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    environment TEXT NOT NULL CHECK (environment IN ('production', 'staging', 'development', 'disaster_recovery')),
    target_type TEXT NOT NULL,
    connection_encrypted TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE restoration_jobs (
    id TEXT PRIMARY KEY,
    execution_id TEXT NOT NULL REFERENCES backup_executions(id),
    restore_type TEXT NOT NULL,
    target_environment TEXT NOT NULL,
    restore_target_id TEXT REFERENCES restore_targets(id),
    status TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    approved_by TEXT,
    progress REAL NOT NULL DEFAULT 0,
    started_at TEXT,
    completed_at TEXT,
    duration_seconds REAL,
    rollback_deadline TEXT,
    error_message TEXT,
    created_at TEXT NOT NULL
);

CREATE TABLE approvals (
    id TEXT PRIMARY KEY,
    subject_type TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    decided_by TEXT,
    decision TEXT,
    reason TEXT,
    created_at TEXT NOT NULL,
    decided_at TEXT
);

CREATE TABLE disaster_recovery_procedures (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    procedure_type TEXT NOT NULL,
    steps TEXT NOT NULL DEFAULT '[]',
    rto_minutes INTEGER,
    rpo_minutes INTEGER,
    is_active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE disaster_recovery_plans (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    procedure_ids TEXT NOT NULL DEFAULT '[]',
    priority INTEGER NOT NULL DEFAULT 5,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE recovery_executions (
    id TEXT PRIMARY KEY,
    procedure_id TEXT REFERENCES disaster_recovery_procedures(id),
    plan_id TEXT REFERENCES disaster_recovery_plans(id),
    mode TEXT NOT NULL,
    status TEXT NOT NULL,
    triggered_by TEXT NOT NULL,
    approved_by TEXT,
    started_at TEXT,
    completed_at TEXT,
    actual_rto_minutes REAL,
    actual_rpo_minutes REAL,
    error_message TEXT,
    created_at TEXT NOT NULL
);

CREATE TABLE recovery_step_executions (
    id TEXT PRIMARY KEY,
    recovery_execution_id TEXT NOT NULL REFERENCES recovery_executions(id),
    step_name TEXT NOT NULL,
    step_kind TEXT NOT NULL,
    status TEXT NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 1,
    started_at TEXT,
    completed_at TEXT,
    output TEXT,
    error_message TEXT
);

CREATE TABLE failover_events (
    id TEXT PRIMARY KEY,
    recovery_execution_id TEXT REFERENCES recovery_executions(id),
    event_type TEXT NOT NULL,
    from_target TEXT,
    to_target TEXT,
    reason TEXT,
    occurred_at TEXT NOT NULL
);

CREATE TABLE recovery_testing_results (
    id TEXT PRIMARY KEY,
    procedure_id TEXT REFERENCES disaster_recovery_procedures(id),
    recovery_execution_id TEXT REFERENCES recovery_executions(id),
    test_type TEXT NOT NULL,
    status TEXT NOT NULL,
    rto_achieved_minutes REAL,
    rpo_achieved_minutes REAL,
    report TEXT NOT NULL DEFAULT '{}',
    tested_at TEXT NOT NULL
);

CREATE TABLE recovery_metrics (
    id TEXT PRIMARY KEY,
    configuration_id TEXT REFERENCES backup_configurations(id),
    metric_type TEXT NOT NULL,
    value REAL NOT NULL,
    measured_at TEXT NOT NULL
);

CREATE TABLE system_health_monitoring (
    id TEXT PRIMARY KEY,
    component TEXT NOT NULL,
    check_type TEXT NOT NULL,
    status TEXT NOT NULL,
    response_time_ms REAL,
    details TEXT NOT NULL DEFAULT '{}',
    checked_at TEXT NOT NULL
);
CREATE INDEX system_health_monitoring_component ON system_health_monitoring (component, checked_at);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
