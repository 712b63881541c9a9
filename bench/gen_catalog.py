#!/usr/bin/env python3
"""A large catalog for bench/monitoring.sh: 100 configurations on 2 locations, 100,000
executions over 90 days, 10,000 alerts (500 open), 1,000,000 health samples (200 services: raw
every 20 s for a day, hourly buckets for 29 days before) and 90 days of cost rows.

    gen_catalog.py sqlite PATH      inserts into the SQLite catalog at PATH
    gen_catalog.py columns TABLE    the columns `csv TABLE` writes, comma-separated
    gen_catalog.py csv TABLE        TABLE's rows as CSV on stdout (for psql's \\copy)

Deterministic (seeded), stdlib only; times are relative to now, in the catalog's text format.
"""
import csv
import datetime as dt
import hashlib
import random
import sqlite3
import sys

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
CONFIGS = 100
EXECUTIONS = 100_000
ALERTS = 10_000
SERVICES = 200
LOCATIONS = ["bench-loc-1", "bench-loc-2"]
TYPES = ["filesystem", "postgresql", "s3_bucket", "environment_vars"]


def t(delta_seconds):
    return (NOW - dt.timedelta(seconds=delta_seconds)).strftime("%Y-%m-%dT%H:%M:%S.000000Z")


def locations():
    for n, id in enumerate(LOCATIONS):
        yield (id, f"bench location {n}", "primary", "local", f"/tmp/bulwark-bench-loc-{n}", 0.023, t(86400 * 100), t(86400 * 100))


def configurations():
    for i in range(CONFIGS):
        yield (f"bench-cfg-{i:03}", f"bench configuration {i:03}", "full", TYPES[i % len(TYPES)], f"/srv/data/{i}", "manual", 24 * 60, 60,
               f'["{LOCATIONS[i % 2]}"]', t(86400 * 100), t(86400 * 100))


def executions():
    rnd = random.Random(1)
    for i in range(EXECUTIONS):
        ago = rnd.randint(60, 90 * 86400)
        status = "failed" if rnd.random() < 0.04 else "completed"
        size = rnd.randint(1 << 20, 1 << 30)
        cfg = i % CONFIGS
        yield (f"bench-exec-{i:06}", f"bench-cfg-{cfg:03}", "scheduled", status, LOCATIONS[cfg % 2],
               None if status == "failed" else hashlib.sha256(str(i).encode()).hexdigest(),
               t(ago), t(ago - 120), 120.0, size, size // 3, "verified" if status == "completed" else None,
               "source unreachable" if status == "failed" else None, t(ago))


def alerts():
    rnd = random.Random(2)
    kinds = ["backup_failed", "rpo_breach", "service_unhealthy", "location_unreachable", "verification_failed"]
    severities = ["critical", "high", "medium", "low"]
    for i in range(ALERTS):
        ago = rnd.randint(60, 90 * 86400)
        open_ = i < 500
        kind = kinds[i % len(kinds)]
        yield (f"bench-alert-{i:05}", kind, severities[i % 4], f"bench:{i}", f"bench alert {i}", hashlib.sha256(f"alert {i}".encode()).hexdigest(),
               "open" if open_ else "resolved", 1, 1, t(ago), t(ago), f"bench-cfg-{i % CONFIGS:03}", None if open_ else t(ago - 600))


def samples():
    rnd = random.Random(3)
    for s in range(SERVICES):
        name = f"bench-service-{s:03}"
        for k in range(86400 // 20):
            status = "unhealthy" if rnd.random() < 0.01 else "healthy"
            yield (f"{name}-r{k}", t(k * 20), name, status, rnd.randint(2, 80), "raw", 1)
        for h in range(24, 24 * 30):
            yield (f"{name}-h{h}", t(h * 3600), name, "healthy", rnd.randint(2, 80), "hour", 180)


def cost_rows():
    for day in range(90):
        date = (NOW - dt.timedelta(days=day)).date().isoformat()
        for c in range(CONFIGS):
            loc = LOCATIONS[c % 2]
            bytes_ = (c + 1) * 50_000_000 + day * 1_000_000
            gb = bytes_ / 1e9
            storage = gb * 0.023 / 30
            yield (f"bench-cost-{day}-{c}", date, date, loc, f"bench-cfg-{c:03}", storage, 0.0, 0.0, storage, gb, bytes_, 0.0, 0, 0.023, "[]", t(day * 86400))


TABLES = {
    "backup_storage_locations": ("id, location_name, storage_type, provider, path_prefix, cost_per_gb_month, created_at, updated_at", locations),
    "backup_configurations": ("id, name, backup_type, source_type, source_identifier, frequency, rpo_minutes, rto_minutes, storage_location_ids, created_at, updated_at", configurations),
    "backup_executions": ("id, configuration_id, execution_type, status, storage_location_id, snapshot_id, started_at, completed_at, duration_seconds, size_bytes, compressed_size_bytes, verification_status, error_message, created_at", executions),
    "backup_monitoring_alerts": ("id, alert_type, severity, subject, message, dedup_hash, status, occurrences, escalation_level, first_seen_at, last_seen_at, backup_configuration_id, resolved_at", alerts),
    "system_health_monitoring": ("id, monitoring_timestamp, service_name, health_status, response_time_ms, resolution, sample_count", samples),
    "backup_cost_tracking": ("id, tracking_period_start, tracking_period_end, storage_location_id, backup_configuration_id, storage_cost_usd, transfer_cost_usd, request_cost_usd, total_cost_usd, storage_usage_gb, storage_bytes, data_transfer_gb, api_requests_count, cost_per_gb_month, cost_optimization_suggestions, created_at", cost_rows),
}


def main():
    what = sys.argv[1]
    if what == "sqlite":
        db = sqlite3.connect(sys.argv[2])
        for table, (columns, rows) in TABLES.items():
            marks = ", ".join("?" * len(columns.split(",")))
            db.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows())
        db.commit()
        db.execute("ANALYZE")
        # A million rows went through the write-ahead log: fold it into the database, as
        # SQLite's own checkpoints do over a server's life, or every read of the benchmark
        # searches a log of a gigabyte.
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.close()
    elif what == "columns":
        print(TABLES[sys.argv[2]][0])
    elif what == "csv":
        out = csv.writer(sys.stdout, lineterminator="\n")
        for row in TABLES[sys.argv[2]][1]():
            out.writerow(["\\N" if v is None else v for v in row])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
