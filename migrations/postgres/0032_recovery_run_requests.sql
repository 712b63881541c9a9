-- Requests to run a plan, approved ahead by someone other than the requester: the approved
-- request's id is the backup seeds' `approvalCode` (POST /api/admin/backups/disaster-recovery/
-- execute), spent by the run it starts. A request is for the plan version approved when it was
-- made; `expires_at` is the deadline of its current state (decide by, then use by).
CREATE TABLE recovery_run_requests (
    id TEXT PRIMARY KEY,
    plan_id TEXT NOT NULL REFERENCES disaster_recovery_plans(id) ON DELETE CASCADE,
    plan_version BIGINT NOT NULL,
    disaster_type TEXT NOT NULL,
    reason TEXT NOT NULL,
    incident_reference TEXT,
    affected_systems TEXT NOT NULL,
    status TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requester_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    decided_by TEXT,
    decided_at TEXT,
    decision_comment TEXT,
    expires_at TEXT NOT NULL,
    execution_id TEXT REFERENCES recovery_executions(id)
);
CREATE INDEX recovery_run_requests_status ON recovery_run_requests (status, created_at);
