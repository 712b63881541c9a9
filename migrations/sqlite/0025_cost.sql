-- Storage cost (issue 20): each location's prices, the requests and bytes its storage served
-- each day (counted by the storage layer, flushed here), and the seeds' daily cost rows.

ALTER TABLE backup_storage_locations ADD COLUMN cost_per_1k_requests REAL;
ALTER TABLE backup_storage_locations ADD COLUMN cost_per_gb_transfer REAL;

CREATE TABLE storage_usage (
    storage_location_id TEXT NOT NULL,
    day TEXT NOT NULL,
    requests BIGINT NOT NULL DEFAULT 0,
    bytes_in BIGINT NOT NULL DEFAULT 0,
    bytes_out BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (storage_location_id, day)
);

-- The first catalog's placeholder table (never written) gives way to the seeds' shape. One row
-- per day, location and configuration; the row without a configuration holds the location's
-- data no snapshot references (what a prune would free).
DROP TABLE backup_cost_tracking;
CREATE TABLE backup_cost_tracking (
    id TEXT PRIMARY KEY,
    tracking_period_start TEXT NOT NULL,
    tracking_period_end TEXT NOT NULL,
    storage_location_id TEXT NOT NULL,
    backup_configuration_id TEXT,
    storage_cost_usd REAL NOT NULL,
    transfer_cost_usd REAL NOT NULL,
    request_cost_usd REAL NOT NULL,
    total_cost_usd REAL NOT NULL,
    storage_usage_gb REAL NOT NULL,
    storage_bytes BIGINT NOT NULL,
    data_transfer_gb REAL NOT NULL,
    api_requests_count BIGINT NOT NULL,
    cost_per_gb_month REAL,
    cost_optimization_suggestions TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL
);
CREATE INDEX backup_cost_tracking_period ON backup_cost_tracking (tracking_period_start, tracking_period_end);
CREATE INDEX backup_cost_tracking_location ON backup_cost_tracking (storage_location_id, tracking_period_start);
