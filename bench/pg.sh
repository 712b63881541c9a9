#!/usr/bin/env bash
# PostgreSQL backups side by side on one pgbench database: Bulwark logical (pg_dump -Fc streamed
# into the repository) and physical (pg_basebackup tar streamed in), plain pg_dump -Fc /
# pg_restore to a file, and pgBackRest (full backup, process-max=2, zstd). See bench/README.md.
#
#   bench/pg.sh [SCALE]          (pgbench scale, default 50: about 750 MiB of data)
#
# Environment:
#   BULWARK    bulwark binary (default $CARGO_TARGET_DIR/release/bulwark, else ./target/release/bulwark)
#   BENCH_DIR  work directory (default /tmp/bulwark-bench)
#   PG_BIN     PostgreSQL server binaries (default /usr/lib/postgresql/15/bin)
# Restores: logical ones into a new database; physical ones into a new data directory, then
# started and waited for until they answer (the time a database is back, not just its files).
# shellcheck disable=SC2059 # the table format is a variable on purpose
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$HERE/lib.sh"
SCALE=${1:-50}
[[ $SCALE =~ ^[0-9]+$ && $SCALE -gt 0 ]] || { echo "the scale must be a positive integer, got '$SCALE'" >&2; exit 2; }
BULWARK=${BULWARK:-${CARGO_TARGET_DIR:-$HERE/../target}/release/bulwark}
BENCH_DIR=${BENCH_DIR:-/tmp/bulwark-bench}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
BULWARK=$(bench_binary "$BULWARK")
bench_require /usr/bin/time:time pgbackrest:pgbackrest "$PG_BIN/pgbench:postgresql-15" runuser:util-linux

WORK=$BENCH_DIR/pg
LOG_DIR=$WORK/logs
# Everything PostgreSQL and pgBackRest touch belongs to `postgres` (neither runs as root).
as_pg() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
stop_all() {
    for data in "$WORK"/data "$WORK"/restore-*; do
        if [[ -f $data/postmaster.pid ]]; then
            as_pg "$PG_BIN/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
        fi
    done
}
trap stop_all EXIT
stop_all
bench_delete "$WORK"
mkdir -p "$LOG_DIR"
[[ $(id -u) -eq 0 ]] && chown -R postgres: "$WORK"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=$(free_port)

echo "== a PostgreSQL 15 cluster with pgbench scale $SCALE"
as_pg "$PG_BIN/initdb" -D "$WORK/data" -U postgres -A trust -E UTF8 --locale=C >"$LOG_DIR/initdb.log"
cat >>"$WORK/data/postgresql.conf" <<EOF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$WORK'
wal_level = replica
archive_mode = on
archive_command = 'pgbackrest --config=$WORK/pgbackrest.conf --stanza=bench archive-push %p'
max_wal_size = 4GB
EOF
cat >"$WORK/pgbackrest.conf" <<EOF
[global]
repo1-path=$WORK/pgbackrest
process-max=2
compress-type=zst
compress-level=3
start-fast=y
log-level-console=warn
log-path=$LOG_DIR
lock-path=$WORK/lock

[bench]
pg1-path=$WORK/data
pg1-port=$PORT
pg1-socket-path=$WORK
EOF
[[ $(id -u) -eq 0 ]] && chown postgres: "$WORK/pgbackrest.conf"
as_pg "$PG_BIN/pg_ctl" -D "$WORK/data" -l "$LOG_DIR/postgres.log" -w start >/dev/null
URL="postgresql://postgres@127.0.0.1:$PORT"
psql -q "$URL/postgres" -c 'CREATE DATABASE bench'
t0=$(date +%s.%N)
pgbench -q -i -s "$SCALE" "$URL/bench" >"$LOG_DIR/pgbench.log" 2>&1
psql -q "$URL/bench" -c 'CHECKPOINT'
DB_BYTES=$(psql -qtA "$URL/postgres" -c "SELECT pg_database_size('bench')")
CLUSTER_BYTES=$(du -sb "$WORK/data" | cut -f1)
awk -v a="$t0" -v b="$(date +%s.%N)" -v d="$DB_BYTES" 'BEGIN {printf "  pgbench -i: %.1fs, database %.0f MiB\n", b - a, d / 1048576}'
sum_accounts() { psql -qtA "$1" -c 'SELECT count(*), sum(abalance), md5(string_agg(aid::text, $$,$$ ORDER BY aid)) FROM pgbench_accounts'; }
EXPECTED=$(sum_accounts "$URL/bench")

# start_restored DATA PORT: starts a restored cluster on PORT and waits until it answers.
start_restored() {
    local data=$1 port=$2
    cat >>"$data/postgresql.auto.conf" <<EOF
port = $port
archive_mode = off
EOF
    as_pg "$PG_BIN/pg_ctl" -D "$data" -l "$data/restore.log" -w -t 600 start >/dev/null
}

# The steps below run in child shells (measure): they need these too.
export -f as_pg start_restored
export PG_BIN
declare -A WALL CPU RSS SIZE CHECK
row() { WALL[$1]=$M_WALL CPU[$1]=$M_CPU RSS[$1]=$M_RSS; }

bench_settle
echo "== backups"
export BULWARK_PASSWORD=bench-password-not-secret BULWARK_DATA_DIR=$WORK/bulwark-data
"$BULWARK" repo --repo "$WORK/bulwark" init >"$LOG_DIR/bulwark-init.log" 2>&1
# The server opens repositories with a key file (no passphrase KDF per run): so does the bench.
"$BULWARK" repo --repo "$WORK/bulwark" key add --new-key-file "$WORK/bench.key" >>"$LOG_DIR/bulwark-init.log" 2>&1
BW="'$BULWARK' repo --repo '$WORK/bulwark' --key-file '$WORK/bench.key'"
WARM=$WORK/data measure pg_dump "$WORK" pg_dump -Fc -f "$WORK/bench.dump" "$URL/bench"
row pg_dump; SIZE[pg_dump]=$(stat -c %s "$WORK/bench.dump")
WARM=$WORK/data measure bulwark-logical "$WORK" bash -c "pg_dump -Fc '$URL/bench' | $BW backup --stdin --name logical"
row bulwark-logical
before=$(repo_bytes "$WORK/bulwark")
SIZE[bulwark-logical]=$before
WARM=$WORK/data measure bulwark-physical "$WORK" bash -c "$PG_BIN/pg_basebackup -d '$URL' -D - -Ft -X fetch -c fast | $BW backup --stdin --name physical"
row bulwark-physical; SIZE[bulwark-physical]=$(($(repo_bytes "$WORK/bulwark") - before))
as_pg pgbackrest --config="$WORK/pgbackrest.conf" --stanza=bench stanza-create >"$LOG_DIR/stanza.log" 2>&1
WARM=$WORK/data measure pgbackrest "$WORK" as_pg pgbackrest --config="$WORK/pgbackrest.conf" --stanza=bench --type=full backup
row pgbackrest; SIZE[pgbackrest]=$(repo_bytes "$WORK/pgbackrest")

echo "== restores"
snapshot() { "$BULWARK" repo --repo "$WORK/bulwark" snapshots --json | jq -r --arg s "$1" '[.[] | select(.source == $s)] | last | .id'; }
psql -q "$URL/postgres" -c 'CREATE DATABASE r_pg_restore' -c 'CREATE DATABASE r_bulwark'
WARM=$WORK/bench.dump measure pg_restore "$WORK" pg_restore -d "$URL/r_pg_restore" -j 2 "$WORK/bench.dump"
row pg_restore; CHECK[pg_restore]=$([[ $(sum_accounts "$URL/r_pg_restore") == "$EXPECTED" ]] && echo PASS || echo FAIL)
LOGICAL=$(snapshot logical)
WARM=$WORK/bulwark measure bulwark-logical-r "$WORK" bash -c "$BW restore '$LOGICAL' --stdout | pg_restore -d '$URL/r_bulwark'"
row bulwark-logical-r; CHECK[bulwark-logical-r]=$([[ $(sum_accounts "$URL/r_bulwark") == "$EXPECTED" ]] && echo PASS || echo FAIL)

PHYSICAL=$(snapshot physical)
R1=$WORK/restore-bulwark R2=$WORK/restore-pgbackrest
P1=$(free_port) P2=$(free_port)
mkdir -p "$R1"; chmod 700 "$R1"; [[ $(id -u) -eq 0 ]] && chown postgres: "$R1"
# --untar unpacks in-process (as the server's point-in-time restore does); as root the files
# then go to postgres, as the server does too.
WARM=$WORK/bulwark measure bulwark-physical-r "$WORK" bash -c "$BW restore '$PHYSICAL' --untar '$R1' && { [[ \$(id -u) -ne 0 ]] || chown -R postgres: '$R1'; } && start_restored '$R1' $P1"
row bulwark-physical-r; CHECK[bulwark-physical-r]=$([[ $(sum_accounts "postgresql://postgres@127.0.0.1:$P1/bench") == "$EXPECTED" ]] && echo PASS || echo FAIL)
mkdir -p "$R2"; chmod 700 "$R2"; [[ $(id -u) -eq 0 ]] && chown postgres: "$R2"
WARM=$WORK/pgbackrest measure pgbackrest-r "$WORK" bash -c "as_pg pgbackrest --config='$WORK/pgbackrest.conf' --stanza=bench --pg1-path='$R2' --type=immediate --target-action=promote restore && start_restored '$R2' $P2"
row pgbackrest-r; CHECK[pgbackrest-r]=$([[ $(sum_accounts "postgresql://postgres@127.0.0.1:$P2/bench") == "$EXPECTED" ]] && echo PASS || echo FAIL)

echo
echo "== PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}'), pgbench scale $SCALE: database $((DB_BYTES >> 20)) MiB, cluster $((CLUSTER_BYTES >> 20)) MiB"
echo "   bulwark $("$BULWARK" --version 2>/dev/null | awk '{print $2}'), $(pgbackrest version); restores of physical backups include starting the cluster"
echo
fmt='%-20s | %9s | %8s | %8s | %7s | %10s | %5s\n'
printf "$fmt" "" "backup s" "MB/s" "CPU-s" "RSS MiB" "stored MiB" ""
printf "$fmt" "--------------------" "---------" "--------" "--------" "-------" "----------" "-----"
mbs() { awk -v b="$1" -v s="$2" 'BEGIN {printf "%.1f", b / 1e6 / s}'; }
for k in pg_dump bulwark-logical bulwark-physical pgbackrest; do
    bytes=$DB_BYTES; [[ $k == bulwark-physical || $k == pgbackrest ]] && bytes=$CLUSTER_BYTES
    printf "$fmt" "$k" "${WALL[$k]}" "$(mbs "$bytes" "${WALL[$k]}")" "${CPU[$k]}" "${RSS[$k]}" "$((SIZE[$k] >> 20))" ""
done
echo
printf "$fmt" "" "restore s" "MB/s" "CPU-s" "RSS MiB" "" "check"
printf "$fmt" "--------------------" "---------" "--------" "--------" "-------" "----------" "-----"
for k in pg_restore bulwark-logical-r bulwark-physical-r pgbackrest-r; do
    bytes=$DB_BYTES; [[ $k == bulwark-physical-r || $k == pgbackrest-r ]] && bytes=$CLUSTER_BYTES
    printf "$fmt" "$k" "${WALL[$k]}" "$(mbs "$bytes" "${WALL[$k]}")" "${CPU[$k]}" "${RSS[$k]}" "" "${CHECK[$k]}"
done
awk -v b="${WALL[bulwark-physical]}" -v p="${WALL[pgbackrest]}" -v rb="${WALL[bulwark-physical-r]}" -v rp="${WALL[pgbackrest-r]}" \
    'BEGIN {printf "\nphysical vs pgBackRest: backup %.2fx its speed, restore %.2fx (target >= 1)\n", p / b, rp / rb}'
echo "logs: $LOG_DIR"
