#!/usr/bin/env bash
# The catalog under load, and what probing costs. With 100,000 executions, 10,000 alerts and
# 1,000,000 health samples in the catalog (bench/gen_catalog.py), how fast the dashboard,
# health and cost endpoints answer, on SQLite and on PostgreSQL (p50 / p99 in ms of REQUESTS
# requests one after another, with ApacheBench); then what 200 HTTP probes every 10 s cost a
# node (CPU seconds over a minute, beside the same node idle). See bench/README.md.
#
#   bench/monitoring.sh [BULWARK_BINARY]
#
# Environment: BULWARK (default $CARGO_TARGET_DIR/release/bulwark), BENCH_DIR (default
# /tmp/bulwark-bench), REQUESTS (default 200), CATALOGS (default "sqlite postgres").
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$HERE/lib.sh"
BULWARK=${1:-${BULWARK:-${CARGO_TARGET_DIR:-$HERE/../target}/release/bulwark}}
BENCH_DIR=${BENCH_DIR:-/tmp/bulwark-bench}
REQUESTS=${REQUESTS:-200}
CATALOGS=${CATALOGS:-sqlite postgres}
BULWARK=$(bench_binary "$BULWARK")
bench_require jq:jq curl:curl python3:python3 ab:apache2-utils runuser:util-linux psql:postgresql-client

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
WORK=$BENCH_DIR/monitoring
as_pg() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
SERVER= TARGET=
stop() {
    [[ -n $SERVER ]] && kill -9 "$SERVER" 2>/dev/null || true
    [[ -n $TARGET ]] && kill -9 "$TARGET" 2>/dev/null || true
    SERVER= TARGET=
    if [[ -f $WORK/pg/postmaster.pid ]]; then as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg" -m immediate -w stop >/dev/null 2>&1 || true; fi
}
trap stop EXIT
rm -rf "$WORK"
mkdir -p "$WORK"
[[ $(id -u) -eq 0 ]] && chown postgres: "$WORK"
SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
export BULWARK_SECRET_KEY=$SECRET RUST_LOG=warn

# serve DATA_DIR WORKERS [DATABASE_URL]: an admin token in TOKEN, the server in SERVER on PORT.
serve() {
    local dir=$1 workers=$2 url=${3:-}
    PORT=$(free_port)
    TOKEN=$(DATABASE_URL=$url BULWARK_DATA_DIR=$dir "$BULWARK" user token bench --name "bench $RANDOM" | grep -o 'bwk_[A-Za-z0-9_-]*' | head -1)
    DATABASE_URL=$url BULWARK_DATA_DIR=$dir BULWARK_LISTEN=127.0.0.1:$PORT BULWARK_WORKERS=$workers "$BULWARK" serve >"$dir/server.log" 2>&1 &
    SERVER=$!
    disown "$SERVER" # its kill -9 is not news
    for _ in $(seq 1 300); do curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && return; sleep 0.1; done
    echo "the server did not start; see $dir/server.log" >&2; exit 1
}
admin() { # admin DATA_DIR [DATABASE_URL]: the bench admin (creating the catalog's tables)
    echo "bench-admin-password" | DATABASE_URL=${2:-} BULWARK_DATA_DIR=$1 "$BULWARK" user add bench --admin --password-stdin >/dev/null
}

ENDPOINTS=(
    "/api/admin/backups/dashboard"
    "/api/admin/backups/health?timeRange=30d"
    "/api/disaster-recovery/health?timeRange=1h"
    "/api/admin/backups/cost/analysis?period=30d&breakdown=true"
    "/api/admin/backups/storage/utilization?period=30d&groupBy=location"
)
declare -A P50 P99
latency() { # latency CATALOG: p50 and p99 of each endpoint
    local catalog=$1 path out=$WORK/ab.out
    for path in "${ENDPOINTS[@]}"; do
        ab -q -n 10 -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT$path" >/dev/null
        ab -q -n "$REQUESTS" -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT$path" >"$out"
        if grep -q "Non-2xx responses" "$out"; then echo "$path answered errors on $catalog:" >&2; cat "$out" >&2; exit 1; fi
        P50[$catalog,$path]=$(awk '$1 == "50%" {print $2}' "$out")
        P99[$catalog,$path]=$(awk '$1 == "99%" {print $2}' "$out")
    done
}

for catalog in $CATALOGS; do
    dir=$WORK/$catalog
    mkdir -p "$dir"
    url=
    t=$(date +%s)
    if [[ $catalog == sqlite ]]; then
        admin "$dir"
        python3 "$HERE/gen_catalog.py" sqlite "$dir/bulwark.db"
    else
        pg_port=$(free_port)
        as_pg "$PG_BIN/initdb" -D "$WORK/pg" -U postgres -A trust -E UTF8 --locale=C >"$WORK/initdb.log"
        printf "port = %s\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\nshared_buffers = 256MB\n" "$pg_port" "$WORK" >>"$WORK/pg/postgresql.conf"
        as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg" -l "$WORK/postgres.log" -w start >/dev/null
        psql -X -q -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -c 'CREATE DATABASE bulwark'
        url="postgres://postgres@127.0.0.1:$pg_port/bulwark"
        admin "$dir" "$url"
        for table in backup_storage_locations backup_configurations backup_executions backup_monitoring_alerts system_health_monitoring backup_cost_tracking; do
            python3 "$HERE/gen_catalog.py" csv "$table" |
                psql -X -q -h 127.0.0.1 -p "$pg_port" -U postgres -d bulwark -c "\\copy $table ($(python3 "$HERE/gen_catalog.py" columns "$table")) FROM STDIN WITH (FORMAT csv, NULL '\\N')"
        done
        psql -X -q -h 127.0.0.1 -p "$pg_port" -U postgres -d bulwark -c 'VACUUM ANALYZE'
    fi
    echo "$catalog: catalog generated in $(($(date +%s) - t)) s"
    serve "$dir" 0 "$url"
    latency "$catalog"
    kill -9 "$SERVER"; SERVER=
done

echo
echo "Endpoint latency, $REQUESTS requests one after another (ms), 100k executions, 10k alerts, 1M health samples:"
printf "%-66s" "endpoint"; for catalog in $CATALOGS; do printf "%18s" "$catalog p50/p99"; done; echo
for path in "${ENDPOINTS[@]}"; do
    printf "%-66s" "$path"
    for catalog in $CATALOGS; do printf "%18s" "${P50[$catalog,$path]}/${P99[$catalog,$path]}"; done
    echo
done

# Probing: 200 HTTP services every 10 s against a local server, on one node with one worker.
dir=$WORK/probes
mkdir -p "$dir/site"
admin "$dir"
target_port=$(free_port)
python3 -m http.server --bind 127.0.0.1 --directory "$dir/site" "$target_port" >/dev/null 2>&1 &
TARGET=$!
disown "$TARGET"
serve "$dir" 1
ticks() { awk '{print $14 + $15}' "/proc/$SERVER/stat"; }
HZ=$(getconf CLK_TCK)
sleep 10
t0=$(ticks); sleep 60; idle=$(( $(ticks) - t0 ))
for n in $(seq 1 200); do
    api POST /admin/monitoring/services "{\"name\":\"probe-$n\",\"kind\":\"http\",\"settings\":{\"url\":\"http://127.0.0.1:$target_port/\"},\"intervalSeconds\":10,\"timeoutSeconds\":5}" >/dev/null
done
sleep 15
before=$(sqlite3 "$dir/bulwark.db" "SELECT COUNT(*) FROM system_health_monitoring WHERE service_name LIKE 'probe-%'")
t0=$(ticks); sleep 60; busy=$(( $(ticks) - t0 ))
after=$(sqlite3 "$dir/bulwark.db" "SELECT COUNT(*) FROM system_health_monitoring WHERE service_name LIKE 'probe-%'")
echo
echo "200 HTTP probes every 10 s, one node (SQLite catalog), CPU over 60 s:"
awk -v i="$idle" -v b="$busy" -v hz="$HZ" -v n=$((after - before)) 'BEGIN {
    printf "  idle node:          %.2f CPU s (%.2f%% of a core)\n", i / hz, i / hz / 60 * 100
    printf "  with 200 probes:    %.2f CPU s (%.2f%% of a core), %d samples recorded (1,200 expected)\n", b / hz, b / hz / 60 * 100, n
    printf "  the probes alone:   %.2f%% of a core\n", (b - i) / hz / 60 * 100
}'
