-- Telling people (issue 20): each alert's history, the escalation schedule of each severity,
-- silences, notification channels with their routing, and every delivery and attempt.

-- What happened to each alert, in order: raised, occurred again, escalated, notified (or not),
-- silenced, acknowledged, resolved.
CREATE TABLE alert_events (
    id TEXT PRIMARY KEY,
    alert_id TEXT NOT NULL,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    escalation_level BIGINT,
    actor TEXT,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX alert_events_alert ON alert_events (alert_id, at);

-- Level 1 is told when the alert is raised; each later level after its minutes unacknowledged.
CREATE TABLE escalation_steps (
    severity TEXT NOT NULL,
    level BIGINT NOT NULL,
    after_minutes BIGINT NOT NULL,
    PRIMARY KEY (severity, level)
);
INSERT INTO escalation_steps (severity, level, after_minutes) VALUES
    ('critical', 1, 0), ('critical', 2, 15), ('critical', 3, 60),
    ('high', 1, 0), ('high', 2, 60),
    ('medium', 1, 0), ('medium', 2, 240),
    ('low', 1, 0);

-- While a silence lasts, the alerts it matches are recorded but neither told nor escalated.
CREATE TABLE alert_silences (
    id TEXT PRIMARY KEY,
    backup_configuration_id TEXT,
    alert_type TEXT,
    subject TEXT,
    reason TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    ends_at TEXT NOT NULL,
    lifted_at TEXT,
    lifted_by TEXT
);
CREATE INDEX alert_silences_ends ON alert_silences (ends_at);

CREATE TABLE notification_channels (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    settings TEXT NOT NULL,
    sealed_secret TEXT,
    severities TEXT NOT NULL DEFAULT '',
    alert_types TEXT NOT NULL DEFAULT '',
    escalation_levels TEXT NOT NULL DEFAULT '',
    approval_requests BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL DEFAULT 6,
    retry_base_seconds BIGINT NOT NULL DEFAULT 30,
    enabled BIGINT NOT NULL DEFAULT 1,
    consecutive_failures BIGINT NOT NULL DEFAULT 0,
    disabled_reason TEXT,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE notification_deliveries (
    id TEXT PRIMARY KEY,
    channel_id TEXT NOT NULL REFERENCES notification_channels(id) ON DELETE CASCADE,
    alert_id TEXT,
    event TEXT NOT NULL,
    escalation_level BIGINT,
    title TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    last_error TEXT,
    created_at TEXT NOT NULL,
    delivered_at TEXT
);
CREATE INDEX notification_deliveries_channel ON notification_deliveries (channel_id, created_at);
CREATE INDEX notification_deliveries_alert ON notification_deliveries (alert_id);

CREATE TABLE notification_attempts (
    delivery_id TEXT NOT NULL REFERENCES notification_deliveries(id) ON DELETE CASCADE,
    attempt BIGINT NOT NULL,
    at TEXT NOT NULL,
    ok BIGINT NOT NULL,
    response_status BIGINT,
    error TEXT,
    duration_ms BIGINT NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);
