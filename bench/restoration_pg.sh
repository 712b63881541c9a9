#!/usr/bin/env bash
# What the restoration workflow costs on top of the engine for a database: the same pgbench
# backup restored directly (`createdb`, then `bulwark repo restore --stdout | pg_restore` with
# the flags the server's restore uses) and through a restoration job into a new database
# (`POST /api/admin/backups/restoration`, its status polled every 50 ms until it completed),
# in interleaved rounds (alternating which goes first, each after a checkpoint and a sync),
# medians side by side; then what a database's safety snapshot costs (a
# restore that replaces the tables of a database changed since, with `conflictResolution:
# overwrite`) and the rollback that puts the changed database back. See bench/README.md.
#
#   bench/restoration_pg.sh [SCALE]        (pgbench scale, default 50: about 750 MiB of data)
#
# Environment: BULWARK (default $CARGO_TARGET_DIR/release/bulwark), BENCH_DIR (default
# /tmp/bulwark-bench), REPEAT (rounds, default 3), PG_BIN (default /usr/lib/postgresql/15/bin).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$HERE/lib.sh"
SCALE=${1:-50}
[[ $SCALE =~ ^[0-9]+$ && $SCALE -gt 0 ]] || { echo "the scale must be a positive integer, got '$SCALE'" >&2; exit 2; }
BULWARK=${BULWARK:-${CARGO_TARGET_DIR:-$HERE/../target}/release/bulwark}
BENCH_DIR=${BENCH_DIR:-/tmp/bulwark-bench}
REPEAT=${REPEAT:-3}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
BULWARK=$(bench_binary "$BULWARK")
bench_require jq:jq curl:curl python3:python3 "$PG_BIN/pgbench:postgresql-15" runuser:util-linux

WORK=$BENCH_DIR/restoration-pg
SERVER=
as_pg() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
stop() {
    [[ -n $SERVER ]] && kill -9 "$SERVER" 2>/dev/null || true
    [[ -f $WORK/pg/postmaster.pid ]] && as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg" -m immediate -w stop >/dev/null 2>&1 || true
}
trap stop EXIT
stop
bench_delete "$WORK"
mkdir -p "$WORK"
[[ $(id -u) -eq 0 ]] && chown postgres: "$WORK"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PG_PORT=$(free_port)
echo "== a PostgreSQL 15 cluster with pgbench scale $SCALE"
as_pg "$PG_BIN/initdb" -D "$WORK/pg" -U postgres -A trust -E UTF8 --locale=C >"$WORK/initdb.log"
cat >>"$WORK/pg/postgresql.conf" <<EOF
port = $PG_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$WORK'
max_wal_size = 4GB
EOF
as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg" -l "$WORK/postgres.log" -w start >/dev/null
URL="postgresql://postgres@127.0.0.1:$PG_PORT"
psql -q "$URL/postgres" -c 'CREATE DATABASE bench'
"$PG_BIN/pgbench" -q -i -s "$SCALE" "$URL/bench" >"$WORK/pgbench.log" 2>&1
psql -q "$URL/bench" -c 'CHECKPOINT'
DB_BYTES=$(psql -qtA "$URL/postgres" -c "SELECT pg_database_size('bench')")
sum_accounts() { psql -qtA "$URL/$1" -c 'SELECT count(*), sum(abalance), md5(string_agg(aid::text || $$:$$ || abalance::text, $$,$$ ORDER BY aid)) FROM pgbench_accounts'; }
EXPECTED=$(sum_accounts bench)

bench_serve "$WORK" BULWARK_RESTORE_ROOTS="$WORK" BULWARK_RESTORE_HOSTS=127.0.0.1
wait_for() { bench_wait_restoration "$PORT" "$TOKEN" "$1"; } # wait_for ID: prints how it ended
echo "backing up the pgbench database ($((DB_BYTES >> 20)) MiB) ..."
bench_backup "$WORK" pgbench postgresql "$URL/bench"
api POST /admin/backups/restore-targets "{\"name\":\"pg\",\"environment\":\"development\",\"targetType\":\"postgresql\",\"url\":\"$URL\"}" | jq -r .name >/dev/null
check() { if [[ $(sum_accounts "$1") == "$EXPECTED" ]]; then echo PASS; else echo FAIL; fi; }

# Each restore leaves hundreds of MiB for PostgreSQL's checkpointer and the kernel to write
# back: both are made to finish before every timed step, so no step pays for the one before.
settle() { psql -q "$URL/postgres" -c CHECKPOINT; sync; }
declare -a DIRECT WORKFLOW ENGINE OWN
direct() {
    settle
    local t
    t=$(now)
    psql -q "$URL/postgres" -c "CREATE DATABASE direct_$1"
    "$BULWARK" repo restore --repo "$WORK/repo" --key-file "$WORK/key" "$SNAPSHOT" --stdout |
        pg_restore --no-owner --exit-on-error --single-transaction --no-password --dbname "$URL/direct_$1"
    DIRECT+=("$(since "$t")")
    echo "round $1: direct ${DIRECT[-1]} s, $(check "direct_$1")"
}
workflow() {
    settle
    local t id status
    t=$(now)
    id=$(api POST /admin/backups/restoration "{\"backupExecutionId\":\"$EXECUTION\",\"restorationType\":\"full\",\"targetEnvironment\":\"development\",\"targetIdentifier\":\"pg/workflow_$1\"}" | jq -r .restorationId)
    status=$(wait_for "$id")
    WORKFLOW+=("$(since "$t")")
    ENGINE+=("$(api GET "/admin/backups/restoration/$id/status" | jq -r .durationSeconds)")
    OWN+=("$(python3 -c "import sys; print(f'{float(sys.argv[1]) - float(sys.argv[2]):.3f}')" "${WORKFLOW[-1]}" "${ENGINE[-1]}")")
    echo "round $1: workflow ${WORKFLOW[-1]} s ($status; the restore itself ${ENGINE[-1]} s), $(check "workflow_$1")"
}
bench_settle
for round in $(seq 1 "$REPEAT"); do
    # Alternating which goes first.
    if ((round % 2)); then direct "$round"; workflow "$round"; else workflow "$round"; direct "$round"; fi
    psql -q "$URL/postgres" -c "DROP DATABASE direct_$round" -c "DROP DATABASE workflow_$round"
done

# The safety snapshot: the workflow's first database, changed by a pgbench run, has its tables
# replaced by the backup's after a whole dump of it; the rollback puts the changed one back.
ID=$(api POST /admin/backups/restoration "{\"backupExecutionId\":\"$EXECUTION\",\"restorationType\":\"full\",\"targetEnvironment\":\"development\",\"targetIdentifier\":\"pg/occupied\"}" | jq -r .restorationId)
wait_for "$ID" >/dev/null
"$PG_BIN/pgbench" -n -c 2 -t 2000 "$URL/occupied" >"$WORK/pgbench-run.log" 2>&1
CHANGED=$(sum_accounts occupied)
settle
t=$(now)
ID=$(api POST /admin/backups/restoration "{\"backupExecutionId\":\"$EXECUTION\",\"restorationType\":\"full\",\"targetEnvironment\":\"development\",\"targetIdentifier\":\"pg/occupied\",\"conflictResolution\":\"overwrite\"}" | jq -r .restorationId)
OVER_STATUS=$(wait_for "$ID")
OVER=$(since "$t")
SAFETY=$(api GET "/admin/backups/restoration/$ID" | jq -r .safetySeconds)
OVER_CHECK=$(check occupied)
echo "over the changed database: $OVER s ($OVER_STATUS, of which the safety snapshot $SAFETY s), $OVER_CHECK"
settle
t=$(now)
RB=$(api POST "/admin/backups/restoration/$ID/rollback" '{}' | jq -r .restorationId)
RB_STATUS=$(wait_for "$RB")
ROLLBACK=$(since "$t")
if [[ $(sum_accounts occupied) == "$CHANGED" ]]; then RB_CHECK=PASS; else RB_CHECK=FAIL; fi
echo "rollback: $ROLLBACK s ($RB_STATUS), the changed database again: $RB_CHECK"

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
D=$(median "${DIRECT[@]}")
W=$(median "${WORKFLOW[@]}")
E=$(median "${ENGINE[@]}")
O=$(median "${OWN[@]}")
echo
echo "| pgbench scale $SCALE ($((DB_BYTES >> 20)) MiB), $REPEAT rounds (medians) | seconds |"
echo "|---|---|"
echo "| engine, direct (\`createdb\`, \`bulwark repo restore --stdout | pg_restore\`) | $D |"
echo "| restoration workflow, request to completed | $W |"
echo "| of which the restore inside the job | $E |"
python3 -c "import sys; d, w, o = map(float, sys.argv[1:]); print(f'| workflow over direct | {100 * (w - d) / d:+.1f}% |'); print(f'| the workflow\'s own time (request to completed, less the restore; per round) | {o:.3f} s, {100 * o / w:.1f}% |')" "$D" "$W" "$O"
echo "| replacing the tables of the changed database (one run), safety snapshot first | $OVER ($OVER_CHECK) |"
python3 -c "import sys; o, s = map(float, sys.argv[1:]); print(f'| of which the safety snapshot (a whole dump of it) | {s:.3f} s, {100 * s / o:.1f}% |')" "$OVER" "$SAFETY"
echo "| rollback to the changed database (one run) | $ROLLBACK ($RB_CHECK) |"
