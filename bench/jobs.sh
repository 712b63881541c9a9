#!/usr/bin/env bash
# The job queue with several nodes on one PostgreSQL catalog: throughput (jobs/s) and claim
# latency (from a job becoming runnable to a worker holding it), with 1 and 3 `bulwark serve`
# nodes of 2 workers each, and the time another node needs to take over a killed node's job.
# See bench/README.md. No anchor has a shared job queue; the figures stand alone.
#
#   bench/jobs.sh [JOBS]          (jobs per run, default 2000)
#
# Environment:
#   BULWARK    bulwark binary (default $CARGO_TARGET_DIR/release/bulwark, else ./target/release/bulwark)
#   BENCH_DIR  work directory (default /tmp/bulwark-bench)
#   PG_BIN     PostgreSQL server binaries (default /usr/lib/postgresql/15/bin)
# The jobs are `maintenance.cleanup` (one small DELETE each): the figures are the queue's own
# cost, not a backup's.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$HERE/lib.sh"
JOBS=${1:-2000}
[[ $JOBS =~ ^[0-9]+$ && $JOBS -gt 0 ]] || { echo "the job count must be a positive integer, got '$JOBS'" >&2; exit 2; }
BULWARK=${BULWARK:-${CARGO_TARGET_DIR:-$HERE/../target}/release/bulwark}
BENCH_DIR=${BENCH_DIR:-/tmp/bulwark-bench}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
BULWARK=$(bench_binary "$BULWARK")
bench_require runuser:util-linux psql:postgresql-client

WORK=$BENCH_DIR/jobs
as_pg() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
NODES=()
stop_nodes() {
    for pid in "${NODES[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    NODES=()
}
stop_all() {
    stop_nodes
    if [[ -f $WORK/data/postmaster.pid ]]; then
        as_pg "$PG_BIN/pg_ctl" -D "$WORK/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
}
trap stop_all EXIT
stop_all
rm -rf "$WORK"
mkdir -p "$WORK"
[[ $(id -u) -eq 0 ]] && chown -R postgres: "$WORK"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
as_pg "$PG_BIN/initdb" -D "$WORK/data" -U postgres -A trust -E UTF8 --locale=C >"$WORK/initdb.log"
cat >>"$WORK/data/postgresql.conf" <<EOF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$WORK'
max_connections = 200
EOF
as_pg "$PG_BIN/pg_ctl" -D "$WORK/data" -l "$WORK/postgres.log" -w start >/dev/null
sql() { psql -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres -d bulwark -c "$1"; }
psql -X -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -c 'CREATE DATABASE bulwark'
CATALOG="postgres://postgres@127.0.0.1:$PORT/bulwark"
SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(32))')

# Starts N nodes with `workers` workers each; waits until each answers.
start_nodes() {
    local n=$1 workers=$2 lease=${3:-60}
    for i in $(seq 1 "$n"); do
        local port
        port=$(free_port)
        DATABASE_URL=$CATALOG BULWARK_SECRET_KEY=$SECRET BULWARK_LISTEN=127.0.0.1:$port BULWARK_DATA_DIR=$WORK/node-$i \
            BULWARK_WORKERS=$workers BULWARK_JOB_LEASE_SECONDS=$lease RUST_LOG=warn "$BULWARK" serve >"$WORK/node-$i.log" 2>&1 &
        NODES+=("$!")
        disown "$!"
        for _ in $(seq 1 300); do
            curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
            sleep 0.1
        done
    done
}

# Queues $JOBS jobs at once, runnable now; prints the seconds until all succeeded.
burst() {
    sql "DELETE FROM jobs"
    local start
    start=$(date +%s.%N)
    sql "INSERT INTO jobs (id, kind, payload, state, priority, run_at, attempts, max_attempts, created_at, updated_at)
         SELECT gen_random_uuid()::text, 'maintenance.cleanup', '{}', 'queued', 5,
                to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), 0, 1,
                to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),
                to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')
         FROM generate_series(1, $JOBS)"
    while [[ $(sql "SELECT COUNT(*) FROM jobs WHERE state <> 'succeeded'") -gt 0 ]]; do sleep 0.05; done
    python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$start" "$(date +%s.%N)"
}

# One job at a time on idle nodes: the median and p95 of claim latency, in ms.
idle_latency() {
    sql "DELETE FROM jobs"
    for _ in $(seq 1 40); do
        sql "INSERT INTO jobs (id, kind, payload, state, priority, run_at, attempts, max_attempts, created_at, updated_at)
             VALUES (gen_random_uuid()::text, 'maintenance.cleanup', '{}', 'queued', 5,
                     to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), 0, 1,
                     to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),
                     to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'))"
        sleep 0.3
    done
    while [[ $(sql "SELECT COUNT(*) FROM jobs WHERE state <> 'succeeded'") -gt 0 ]]; do sleep 0.05; done
    sql "SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 0) || ' / ' || round(percentile_cont(0.95) WITHIN GROUP (ORDER BY ms)::numeric, 0)
         FROM (SELECT extract(epoch FROM (started_at::timestamptz - run_at::timestamptz)) * 1000 AS ms FROM jobs) t"
}

declare -A RATE LATENCY
for n in 1 3; do
    echo "== $n node(s), 2 workers each"
    start_nodes "$n" 2
    sleep 1
    seconds=$(burst)
    RATE[$n]=$(python3 -c "import sys; print(f'{int(sys.argv[1]) / float(sys.argv[2]):.0f}')" "$JOBS" "$seconds")
    LATENCY[$n]=$(idle_latency)
    stop_nodes
done

echo "== takeover: a node killed while it holds a job (default lease, 60 s)"
sql "DELETE FROM jobs"
start_nodes 2 1
# A job that waits: a backup of a configuration does not exist here, so hold a cleanup job's
# lease by hand as a dead node would have left it (claimed, never heartbeaten).
sql "INSERT INTO jobs (id, kind, payload, state, priority, run_at, attempts, max_attempts, lease_owner, lease_expires_at, created_at, updated_at, started_at)
     VALUES ('dead-node-job', 'maintenance.cleanup', '{}', 'running', 5,
             to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), 1, 3, 'dead-node/0',
             to_char((clock_timestamp() + interval '60 seconds') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),
             to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),
             to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),
             to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'))"
t0=$(date +%s.%N)
while [[ $(sql "SELECT state FROM jobs WHERE id = 'dead-node-job'") != succeeded ]]; do sleep 0.2; done
TAKEOVER=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$t0" "$(date +%s.%N)")
stop_nodes

echo
echo "Job queue on one PostgreSQL 15 catalog, $JOBS jobs queued at once ($(nproc) cores):"
printf '%-22s %12s %28s\n' "nodes (2 workers each)" "jobs/s" "idle claim latency p50 / p95"
for n in 1 3; do
    printf '%-22s %12s %25s ms\n' "$n" "${RATE[$n]}" "${LATENCY[$n]}"
done
echo "A dead node's job re-run by another node after ${TAKEOVER} s (lease 60 s; re-queued within a sixth of a lease of expiring)."
