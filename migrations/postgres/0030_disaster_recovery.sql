-- Disaster recovery: versioned plans, their runs step by step, failovers, drills and the
-- RTO/RPO ledger. The placeholder tables of the first migration were never written; they are
-- replaced by the seeds' shapes.
DROP TABLE recovery_metrics;
DROP TABLE recovery_testing_results;
DROP TABLE failover_events;
DROP TABLE recovery_step_executions;
DROP TABLE recovery_executions;
DROP TABLE disaster_recovery_plans;
DROP TABLE disaster_recovery_procedures;

-- A plan: its identity and which of its versions runs. The content lives in its versions.
CREATE TABLE disaster_recovery_plans (
    id TEXT PRIMARY KEY,
    plan_name TEXT NOT NULL UNIQUE,
    current_version BIGINT NOT NULL,
    -- The newest approved version: what a run of the plan executes.
    approved_version BIGINT,
    is_active BIGINT NOT NULL DEFAULT 1,
    next_drill_at TEXT,
    last_tested TEXT,
    last_test_results TEXT,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Each version of a plan: the document as its author wrote it (YAML or JSON, kept for git and
-- for the diff) and the fields read from it for lists and decisions.
CREATE TABLE disaster_recovery_plan_versions (
    plan_id TEXT NOT NULL REFERENCES disaster_recovery_plans(id) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    plan_name TEXT NOT NULL,
    disaster_scenario TEXT NOT NULL,
    disaster_type TEXT NOT NULL,
    severity_level BIGINT NOT NULL,
    estimated_rto_minutes BIGINT NOT NULL,
    estimated_rpo_minutes BIGINT NOT NULL,
    document TEXT NOT NULL,
    document_format TEXT NOT NULL,
    -- The document read and checked, as JSON: what the engine runs.
    plan TEXT NOT NULL,
    approval_status TEXT NOT NULL,
    review_frequency_days BIGINT NOT NULL,
    next_review_date TEXT,
    submitted_at TEXT,
    decided_by TEXT,
    decided_at TEXT,
    decision_reason TEXT,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (plan_id, version)
);

-- The approvals of a version, one a person: a version needs the document's requiredApprovals,
-- none of them its author's.
CREATE TABLE disaster_recovery_plan_approvals (
    plan_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    approver TEXT NOT NULL,
    decided_at TEXT NOT NULL,
    PRIMARY KEY (plan_id, version, approver),
    FOREIGN KEY (plan_id, version) REFERENCES disaster_recovery_plan_versions(plan_id, version) ON DELETE CASCADE
);

CREATE TABLE recovery_executions (
    id TEXT PRIMARY KEY,
    execution_name TEXT NOT NULL,
    plan_id TEXT NOT NULL REFERENCES disaster_recovery_plans(id),
    plan_version BIGINT NOT NULL,
    trigger_type TEXT NOT NULL,
    trigger_event TEXT NOT NULL DEFAULT '{}',
    execution_mode TEXT NOT NULL,
    status TEXT NOT NULL,
    incident_reference TEXT,
    -- When the incident began (declared, or the trigger's time): where the actual RTO starts.
    incident_started_at TEXT NOT NULL,
    initiated_at TEXT NOT NULL,
    started_at TEXT,
    completed_at TEXT,
    failed_at TEXT,
    total_duration_ms BIGINT,
    actual_rto_seconds DOUBLE PRECISION,
    actual_rpo_seconds DOUBLE PRECISION,
    data_loss_amount BIGINT NOT NULL DEFAULT 0,
    affected_services TEXT NOT NULL DEFAULT '[]',
    recovery_steps_completed BIGINT NOT NULL DEFAULT 0,
    recovery_steps_total BIGINT NOT NULL DEFAULT 0,
    success_criteria_met BIGINT,
    error_details TEXT,
    rollback_initiated BIGINT NOT NULL DEFAULT 0,
    rollback_completed BIGINT NOT NULL DEFAULT 0,
    -- A person asked to stop it: the engine rolls back (a lost lease alone leaves it to a takeover).
    cancel_requested BIGINT NOT NULL DEFAULT 0,
    approved_by TEXT,
    approval_reference TEXT,
    initiated_by TEXT NOT NULL,
    job_id TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX recovery_executions_status ON recovery_executions (status);
CREATE INDEX recovery_executions_initiated_at ON recovery_executions (initiated_at);
CREATE INDEX recovery_executions_plan ON recovery_executions (plan_id, initiated_at);

CREATE TABLE recovery_step_executions (
    id TEXT PRIMARY KEY,
    execution_id TEXT NOT NULL REFERENCES recovery_executions(id) ON DELETE CASCADE,
    step_name TEXT NOT NULL,
    step_order BIGINT NOT NULL,
    step_type TEXT NOT NULL,
    step_config TEXT NOT NULL,
    status TEXT NOT NULL,
    critical BIGINT NOT NULL,
    started_at TEXT,
    completed_at TEXT,
    duration_ms BIGINT,
    retry_count BIGINT NOT NULL DEFAULT 0,
    max_retries BIGINT NOT NULL,
    next_attempt_at TEXT,
    success_criteria TEXT,
    validation_results TEXT,
    output_data TEXT,
    error_message TEXT,
    dependencies TEXT NOT NULL DEFAULT '[]',
    parallel_group TEXT,
    -- The gate the step waits at ({role, message}), and where it stands: required, waiting,
    -- confirmed, aborted, interrupted.
    gate TEXT,
    gate_status TEXT,
    gate_decided_by TEXT,
    gate_decided_at TEXT,
    rollback_status TEXT,
    rollback_output TEXT,
    rollback_error TEXT,
    rolled_back_at TEXT,
    UNIQUE (execution_id, step_name)
);
CREATE INDEX recovery_step_executions_order ON recovery_step_executions (execution_id, step_order);

-- Every attempt of a step: what it did, what the criteria said, how long the backoff was.
CREATE TABLE recovery_step_attempts (
    step_execution_id TEXT NOT NULL REFERENCES recovery_step_executions(id) ON DELETE CASCADE,
    attempt BIGINT NOT NULL,
    started_at TEXT NOT NULL,
    completed_at TEXT,
    status TEXT NOT NULL,
    output_data TEXT,
    validation_results TEXT,
    error_message TEXT,
    backoff_ms BIGINT,
    PRIMARY KEY (step_execution_id, attempt)
);

CREATE TABLE failover_events (
    id TEXT PRIMARY KEY,
    event_name TEXT NOT NULL,
    trigger_type TEXT NOT NULL,
    source_system TEXT NOT NULL,
    target_system TEXT NOT NULL,
    failover_reason TEXT NOT NULL,
    automated BIGINT NOT NULL DEFAULT 0,
    initiated_at TEXT NOT NULL,
    completed_at TEXT,
    duration_ms BIGINT,
    status TEXT NOT NULL,
    data_consistency_check BIGINT NOT NULL DEFAULT 0,
    traffic_redirected BIGINT NOT NULL DEFAULT 0,
    dns_updated BIGINT NOT NULL DEFAULT 0,
    ssl_certificates_migrated BIGINT NOT NULL DEFAULT 0,
    rollback_plan TEXT,
    success_validation TEXT,
    impact_assessment TEXT,
    notification_sent BIGINT NOT NULL DEFAULT 0,
    execution_id TEXT REFERENCES recovery_executions(id),
    created_by TEXT
);
CREATE INDEX failover_events_initiated_at ON failover_events (initiated_at);

CREATE TABLE recovery_testing_results (
    id TEXT PRIMARY KEY,
    test_name TEXT NOT NULL,
    test_type TEXT NOT NULL,
    plan_id TEXT NOT NULL REFERENCES disaster_recovery_plans(id),
    status TEXT NOT NULL,
    test_date TEXT NOT NULL,
    test_duration_ms BIGINT,
    test_scope TEXT NOT NULL DEFAULT '{}',
    objectives_met BIGINT NOT NULL DEFAULT 0,
    actual_rto_seconds DOUBLE PRECISION,
    target_rto_seconds DOUBLE PRECISION,
    actual_rpo_seconds DOUBLE PRECISION,
    target_rpo_seconds DOUBLE PRECISION,
    data_integrity_validated BIGINT NOT NULL DEFAULT 0,
    service_availability DOUBLE PRECISION,
    issues_identified TEXT NOT NULL DEFAULT '[]',
    recommendations TEXT NOT NULL DEFAULT '[]',
    test_results TEXT NOT NULL DEFAULT '{}',
    participants TEXT NOT NULL DEFAULT '[]',
    test_lead TEXT,
    execution_id TEXT REFERENCES recovery_executions(id),
    next_test_date TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX recovery_testing_results_plan ON recovery_testing_results (plan_id, test_date);

CREATE TABLE recovery_metrics (
    metric_date TEXT PRIMARY KEY,
    total_recovery_events BIGINT NOT NULL DEFAULT 0,
    successful_recoveries BIGINT NOT NULL DEFAULT 0,
    failed_recoveries BIGINT NOT NULL DEFAULT 0,
    average_rto_seconds DOUBLE PRECISION,
    average_rpo_seconds DOUBLE PRECISION,
    total_downtime_seconds DOUBLE PRECISION NOT NULL DEFAULT 0,
    data_loss_incidents BIGINT NOT NULL DEFAULT 0,
    automated_recoveries BIGINT NOT NULL DEFAULT 0,
    manual_recoveries BIGINT NOT NULL DEFAULT 0,
    backup_success_rate DOUBLE PRECISION NOT NULL DEFAULT 0,
    restore_success_rate DOUBLE PRECISION NOT NULL DEFAULT 0,
    system_availability DOUBLE PRECISION NOT NULL DEFAULT 0,
    cost_impact DOUBLE PRECISION NOT NULL DEFAULT 0,
    affected_users BIGINT NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);

-- Secrets a runbook names instead of holding (a TSIG key, a database password), sealed with
-- the server's key.
CREATE TABLE recovery_credentials (
    name TEXT PRIMARY KEY,
    sealed_value TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
