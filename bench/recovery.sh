#!/usr/bin/env bash
# The disaster-recovery runbook engine: its own cost per step (a plan of 200 validation steps
# that do next to nothing, in 10 parallel groups of 20), and the wall time of a whole failover
# plan on real parts (a PostgreSQL primary and its streaming standby, Knot, HAProxy, a webhook),
# each step's share printed. See bench/README.md. No anchor runs runbooks; the figures stand
# alone.
#
#   bench/recovery.sh [BULWARK_BINARY]
#
# Environment:
#   BULWARK    bulwark binary (default $CARGO_TARGET_DIR/release/bulwark)
#   BENCH_DIR  work directory (default /tmp/bulwark-bench)
#   PG_BIN     PostgreSQL server binaries (default /usr/lib/postgresql/15/bin)
#   ROUNDS     runs of each plan (default 3; medians printed)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$HERE/lib.sh"
BULWARK=${1:-${BULWARK:-${CARGO_TARGET_DIR:-$HERE/../target}/release/bulwark}}
BENCH_DIR=${BENCH_DIR:-/tmp/bulwark-bench}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
ROUNDS=${ROUNDS:-3}
BULWARK=$(bench_binary "$BULWARK")
bench_require jq:jq curl:curl python3:python3 runuser:util-linux psql:postgresql-client knotd:knot kdig:knot-dnsutils keymgr:knot haproxy:haproxy

WORK=$BENCH_DIR/recovery
PIDS=()
SERVER=
as_pg() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
stop_all() {
    [[ -n $SERVER ]] && kill -9 "$SERVER" 2>/dev/null || true
    for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    for data in "$WORK/pg/primary" "$WORK/pg/standby"; do
        [[ -f $data/postmaster.pid ]] && as_pg "$PG_BIN/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
    done
}
trap stop_all EXIT
stop_all
rm -rf "$WORK"
mkdir -p "$WORK"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

bench_serve "$WORK"
echo "bench-approver-password" | "$BULWARK" user add approver --role approver --password-stdin >/dev/null
APPROVER=$("$BULWARK" user token approver --name bench | grep -o 'bwk_[A-Za-z0-9_-]*' | head -1)
as_approver() {
    curl -sS --fail-with-body -X "$1" "http://127.0.0.1:$PORT/api$2" -H "Authorization: Bearer $APPROVER" -H 'Content-Type: application/json' ${3:+--data "$3"}
}

# plan_id DOCUMENT_FILE: saves the plan, has the approver approve it, prints its id.
approved_plan() {
    local id
    id=$(api POST /disaster-recovery/plans "$(jq -Rs '{document: .}' "$1")" | jq -r .summary.id)
    as_approver POST "/disaster-recovery/plans/$id/approve" '{"version":1}' >/dev/null
    echo "$id"
}

# run_plan ID: runs it, waits for its end, prints the run's JSON.
run_plan() {
    local run status
    run=$(api POST /disaster-recovery/execute "{\"planId\":\"$1\",\"executionMode\":\"fully_automated\",\"incidentReference\":\"bench\"}" | jq -r .executionId)
    for _ in $(seq 1 1200); do
        status=$(api GET "/disaster-recovery/executions/$run" | jq -r .status)
        case $status in completed | failed | rolled_back | cancelled) break ;; esac
        sleep 0.1
    done
    api GET "/disaster-recovery/executions/$run"
}

# --- 1. The engine's own cost per step ----------------------------------------------------
python3 - "$PORT" >"$WORK/noop.json" <<'PY'
import json, sys
port = sys.argv[1]
steps = [
    {"name": f"check {g}-{i}", "type": "validation", "parallelGroup": f"group {g}", "config": {"tcp": f"127.0.0.1:{port}"}}
    for g in range(10) for i in range(20)
]
print(json.dumps({"name": "200 checks", "disasterScenario": "software_corruption", "disasterType": "database_corruption",
                  "severity": 3, "estimatedRtoMinutes": 5, "estimatedRpoMinutes": 5, "steps": steps}))
PY
NOOP=$(approved_plan "$WORK/noop.json")
declare -a WALL PATH_MS OVERHEAD
for round in $(seq 1 "$ROUNDS"); do
    run_plan "$NOOP" >"$WORK/noop-run-$round.json"
    read -r wall critical per_step < <(python3 - "$WORK/noop-run-$round.json" <<'PY'
import json, sys
from datetime import datetime
run = json.load(open(sys.argv[1]))
assert run["status"] == "completed", run["status"]
t = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
wall = (t(run["completedAt"]) - t(run["startedAt"])) * 1000
groups = {}
for s in run["steps"]:
    groups[s["parallelGroup"]] = max(groups.get(s["parallelGroup"], 0), s["durationMs"])
critical = sum(groups.values())
print(f"{wall:.0f} {critical:.0f} {(wall - critical) / len(run['steps']):.2f}")
PY
)
    WALL+=("$wall"); PATH_MS+=("$critical"); OVERHEAD+=("$per_step")
    echo "round $round: 200 steps in ${wall} ms (the checks themselves, group after group: ${critical} ms): ${per_step} ms of engine a step"
done

# --- 2. A failover plan on real parts -----------------------------------------------------
echo "starting a PostgreSQL primary and its standby, Knot, HAProxy, two web servers and a webhook ..."
mkdir -p "$WORK/pg" "$WORK/knot/zones" "$WORK/knot/db" "$WORK/web/primary" "$WORK/web/dr"
[[ $(id -u) -eq 0 ]] && chown -R postgres: "$WORK/pg"
P_PORT=$(free_port)
S_PORT=$(free_port)
as_pg "$PG_BIN/initdb" -D "$WORK/pg/primary" -U postgres -A trust -E UTF8 --locale=C >"$WORK/initdb.log"
cat >>"$WORK/pg/primary/postgresql.conf" <<EOF
port = $P_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$WORK/pg'
wal_level = replica
wal_log_hints = on
EOF
as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg/primary" -l "$WORK/pg/primary.log" -w start >/dev/null
psql -X -q -h 127.0.0.1 -p "$P_PORT" -U postgres -d postgres -c 'CREATE TABLE orders (id int PRIMARY KEY); INSERT INTO orders SELECT generate_series(1, 1000)'
as_pg "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$P_PORT" -U postgres -X stream -R -D "$WORK/pg/standby"
cat >>"$WORK/pg/standby/postgresql.conf" <<EOF
port = $S_PORT
EOF
as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg/standby" -l "$WORK/pg/standby.log" -w start >/dev/null

K_PORT=$(free_port)
SECRET=$(keymgr -t drkey hmac-sha256 | awk '/secret:/ {print $2}')
cat >"$WORK/knot/zones/dr.test.zone" <<EOF
\$ORIGIN dr.test.
\$TTL 300
@ SOA ns.dr.test. admin.dr.test. 1 3600 600 86400 300
@ NS ns.dr.test.
ns A 127.0.0.1
db A 127.0.0.1
EOF
cat >"$WORK/knot/knot.conf" <<EOF
server:
    rundir: $WORK/knot
    pidfile: $WORK/knot/knot.pid
    listen: 127.0.0.1@$K_PORT
database:
    storage: $WORK/knot/db
key:
  - id: drkey
    algorithm: hmac-sha256
    secret: $SECRET
acl:
  - id: upd
    address: 127.0.0.1
    key: drkey
    action: update
template:
  - id: default
    storage: $WORK/knot/zones
zone:
  - domain: dr.test.
    file: dr.test.zone
    acl: upd
EOF
knotd -c "$WORK/knot/knot.conf" >"$WORK/knot/knotd.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do [[ -n $(kdig @127.0.0.1 -p "$K_PORT" dr.test. SOA +short 2>/dev/null) ]] && break; sleep 0.05; done

echo primary >"$WORK/web/primary/index.html"
echo dr >"$WORK/web/dr/index.html"
W1=$(free_port)
W2=$(free_port)
python3 -m http.server "$W1" --bind 127.0.0.1 --directory "$WORK/web/primary" >/dev/null 2>&1 &
PIDS+=($!)
python3 -m http.server "$W2" --bind 127.0.0.1 --directory "$WORK/web/dr" >/dev/null 2>&1 &
PIDS+=($!)
HOOK=$(free_port)
python3 - "$HOOK" >/dev/null 2>&1 <<'PY' &
import http.server, sys
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *args): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Hook).serve_forever()
PY
PIDS+=($!)

H_PORT=$(free_port)
H_DB=$(free_port)
cat >"$WORK/haproxy.cfg" <<EOF
global
    stats socket $WORK/haproxy.sock mode 600 level admin
defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
frontend web
    bind 127.0.0.1:$H_PORT
    default_backend app
backend app
    balance roundrobin
    server primary 127.0.0.1:$W1 weight 100 check inter 500ms
    server dr 127.0.0.1:$W2 weight 100 check inter 500ms disabled
frontend db
    mode tcp
    bind 127.0.0.1:$H_DB
    default_backend pg
backend pg
    mode tcp
    balance roundrobin
    server primary 127.0.0.1:$P_PORT weight 100 check inter 500ms
    server standby 127.0.0.1:$S_PORT weight 100 check inter 500ms disabled
EOF
haproxy -db -f "$WORK/haproxy.cfg" >"$WORK/haproxy.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do [[ -S $WORK/haproxy.sock ]] && curl -fsS "http://127.0.0.1:$H_PORT/" >/dev/null 2>&1 && break; sleep 0.05; done

api PUT /disaster-recovery/credentials "{\"name\":\"dr-tsig\",\"value\":\"$SECRET\"}" >/dev/null
api POST /admin/notifications/channels "{\"name\":\"ops\",\"kind\":\"webhook\",\"settings\":{\"url\":\"http://127.0.0.1:$HOOK/\"}}" >/dev/null
cat >"$WORK/failover.yaml" <<EOF
name: Orders region loss
disasterScenario: data_center_outage
disasterType: region_outage
severity: 1
estimatedRtoMinutes: 5
estimatedRpoMinutes: 1
steps:
  - name: promote standby
    type: database_failover
    config: { primary: { host: 127.0.0.1, port: $P_PORT }, standby: { host: 127.0.0.1, port: $S_PORT } }
  - name: move dns
    type: dns_update
    parallelGroup: traffic
    config: { server: "127.0.0.1:$K_PORT", zone: dr.test., keyName: drkey, secret: dr-tsig, records: [{ name: db.dr.test., type: A, ttl: 60, values: [127.0.0.2] }] }
  - name: switch web
    type: load_balancer_config
    parallelGroup: traffic
    config: { socket: $WORK/haproxy.sock, backend: app, servers: [{ name: dr, state: ready, weight: 100 }, { name: primary, state: drain }] }
  - name: switch database
    type: load_balancer_config
    parallelGroup: traffic
    config: { socket: $WORK/haproxy.sock, backend: pg, servers: [{ name: standby, state: ready }, { name: primary, state: maint }] }
  - name: orders through haproxy
    type: validation
    parallelGroup: checks
    maxRetries: 20
    backoff: { baseSeconds: 0.1, capSeconds: 0.25 }
    config: { sql: { host: 127.0.0.1, port: $H_DB, query: "SELECT count(*) FROM orders WHERE NOT pg_is_in_recovery()", expect: "1000" } }
  - name: web through haproxy
    type: validation
    parallelGroup: checks
    maxRetries: 20
    backoff: { baseSeconds: 0.1, capSeconds: 0.25 }
    config: { http: { url: "http://127.0.0.1:$H_PORT/", contains: dr } }
  - name: tell the team
    type: notification
    config: { channels: [ops], title: Orders failed over }
EOF
FAILOVER=$(approved_plan "$WORK/failover.yaml")
run_plan "$FAILOVER" >"$WORK/failover-run.json"
python3 - "$WORK/failover-run.json" <<'PY'
import json, sys
from datetime import datetime
run = json.load(open(sys.argv[1]))
t = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
wall = (t(run["completedAt"]) - t(run["startedAt"])) * 1000
print(f"failover plan: {run['status']}, {wall:.0f} ms from start to end; actual RTO {run['actualRtoSeconds']} s, RPO {run['actualRpoSeconds']} s")
print(f"  {'step':28} {'ms':>7} {'share':>6} attempts")
for s in run["steps"]:
    ms = s["durationMs"] or 0
    print(f"  {s['stepName']:28} {ms:7d} {100 * ms / wall:5.1f}% {len(s['attempts'])}")
PY

echo
echo "engine cost a step (median of $ROUNDS): $(median "${OVERHEAD[@]}") ms; 200 steps: $(median "${WALL[@]}") ms wall, $(median "${PATH_MS[@]}") ms in the checks"
