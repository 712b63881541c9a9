-- Restoration jobs (issue 19): every restore is a request with the seeds' columns, run as a job
-- on the worker pool, approved by a second person where the environment's policy says so.
-- The table of 0001 was never written to: it is replaced by the seeds' shape.
DROP TABLE restoration_jobs;
DROP TABLE approvals;

CREATE TABLE restoration_jobs (
    id TEXT PRIMARY KEY,
    backup_execution_id TEXT NOT NULL REFERENCES backup_executions(id),
    configuration_id TEXT NOT NULL,
    restoration_type TEXT NOT NULL,
    target_environment TEXT NOT NULL,
    -- A named target, optionally with a database, directory or prefix inside it; or, for the
    -- older restore doors, the place their request names.
    target_identifier TEXT NOT NULL,
    restore_target_id TEXT REFERENCES restore_targets(id),
    point_in_time_target TEXT,
    restoration_scope TEXT NOT NULL DEFAULT '{}',
    -- The request as the source's kind takes it, without its secrets (sealed below).
    request TEXT NOT NULL,
    secret_encrypted TEXT,
    -- SHA-256 of everything the restore would do: an approval holds it, any change voids it.
    request_hash TEXT NOT NULL,
    status TEXT NOT NULL,
    progress_percentage INTEGER NOT NULL DEFAULT 0,
    restored_size_bytes INTEGER NOT NULL DEFAULT 0,
    total_size_bytes INTEGER NOT NULL DEFAULT 0,
    verification_results TEXT,
    report TEXT,
    error_message TEXT,
    -- How the error classifies (invalid, forbidden, …), so a door that waits answers as if it ran it.
    error_kind TEXT,
    rollback_available INTEGER NOT NULL DEFAULT 0,
    rollback_deadline TEXT,
    initiated_by TEXT NOT NULL,
    initiated_by_name TEXT NOT NULL,
    -- The requester's role as the request came (a token's may be below its user's): the
    -- restore runs with no more than this.
    initiated_role TEXT NOT NULL,
    approved_by TEXT,
    approval_required INTEGER NOT NULL DEFAULT 0,
    approvals_needed INTEGER NOT NULL DEFAULT 0,
    require_totp INTEGER NOT NULL DEFAULT 0,
    approval_expires_at TEXT,
    approval_override INTEGER NOT NULL DEFAULT 0,
    override_reason TEXT,
    accept_unverified INTEGER NOT NULL DEFAULT 0,
    incident_reference TEXT,
    notes TEXT,
    -- What the target held (JSON: conflicts and alternatives), and what the request chose.
    conflicts TEXT,
    conflict_resolution TEXT,
    job_id TEXT,
    estimated_duration_seconds REAL NOT NULL DEFAULT 0,
    rto_minutes INTEGER,
    start_time TEXT,
    end_time TEXT,
    duration_seconds REAL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX idx_restoration_jobs_status ON restoration_jobs(status, created_at);
CREATE INDEX idx_restoration_jobs_backup ON restoration_jobs(backup_execution_id);

-- One decision per approver and request: two clicks of one person, or two people at once,
-- cannot count twice.
CREATE TABLE approvals (
    id TEXT PRIMARY KEY,
    subject_type TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    decided_by TEXT NOT NULL,
    decided_by_name TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('approved', 'rejected')),
    reason TEXT,
    request_hash TEXT NOT NULL,
    totp_confirmed INTEGER NOT NULL DEFAULT 0,
    decided_at TEXT NOT NULL,
    UNIQUE (subject_type, subject_id, decided_by)
);

-- Per environment: whether restores need approval and how.
CREATE TABLE approval_policies (
    environment TEXT PRIMARY KEY CHECK (environment IN ('production', 'staging', 'development', 'disaster_recovery')),
    require_approval TEXT NOT NULL CHECK (require_approval IN ('always', 'full_only', 'never')),
    approvers_required INTEGER NOT NULL,
    require_totp INTEGER NOT NULL,
    validity_hours INTEGER NOT NULL,
    break_glass_allowed INTEGER NOT NULL,
    rollback_hours INTEGER NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
