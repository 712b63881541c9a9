#!/usr/bin/env bash
# PostgreSQL backups side by side on one pgbench database: Bulwark logical (pg_dump -Fc streamed
# into the repository) and physical (pg_basebackup tar streamed in), plain pg_dump -Fc /
# pg_restore to a file, and pgBackRest (full backup, process-max=2, zstd). See bench/README.md.
#
#   bench/pg.sh [SCALE]          (pgbench scale, default 50: about 750 MiB of data)
#
# Environment:
#   BULWARK    bulwark binary (default $CARGO_TARGET_DIR/release/bulwark, else ./target/release/bulwark)
#   BENCH_FS   file system to run on: tmpfs, disk, or both ("tmpfs disk": one whole run on each,
#              then both results tables). tmpfs: BENCH_DIR defaults to /dev/shm/bulwark-bench,
#              disk: to /var/tmp/bulwark-bench (checked with stat -f). Unset: one run in BENCH_DIR.
#   BENCH_DIR  work directory (default /tmp/bulwark-bench, or per BENCH_FS as above; an explicit
#              one wins for a single BENCH_FS): the cluster, every repository, every restore
#   REPEAT     rounds (default 3): each round makes the four backups, then the four restores,
#              starting with the next tool each round; the tables show medians
#   KEEP       1 keeps the repositories, dumps and restored data directories (default: deleted,
#              per round on a tmpfs, at the end on a disk)
#   PG_BIN     PostgreSQL server binaries (default /usr/lib/postgresql/15/bin)
#   JSONB_ROWS rows of a jsonb documents table per pgbench scale unit (default 6000, about 2.6 MiB
#              a unit; 0: pgbench's tables alone)
# Restores: logical ones into a new database; physical ones into a new data directory, timed
# twice: unpacking alone, and until the started cluster answers (unpack + start).
# SC2059: the table format is a variable on purpose.
# shellcheck disable=SC2059
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$HERE/lib.sh"
SCALE=${1:-50}
[[ $SCALE =~ ^[0-9]+$ && $SCALE -gt 0 ]] || { echo "the scale must be a positive integer, got '$SCALE'" >&2; exit 2; }
REPEAT=${REPEAT:-3}
[[ $REPEAT =~ ^[0-9]+$ && $REPEAT -gt 0 ]] || { echo "REPEAT must be a positive integer, got '$REPEAT'" >&2; exit 2; }
KEEP=${KEEP:-0}
BULWARK=${BULWARK:-${CARGO_TARGET_DIR:-$HERE/../target}/release/bulwark}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
BULWARK=$(bench_binary "$BULWARK")
export BULWARK
# BENCH_FS with two file systems runs this script once on each and exits here.
bench_fs "pg/results.txt" "$HERE/pg.sh" "$SCALE"
echo "== file system: $BENCH_FS_SHOW (BENCH_FS=$BENCH_FS, BENCH_DIR=$BENCH_DIR)"
bench_require /usr/bin/time:time pgbackrest:pgbackrest "$PG_BIN/pgbench:postgresql-15" runuser:util-linux jq:jq

WORK=$BENCH_DIR/pg
LOG_DIR=$WORK/logs
# Everything PostgreSQL and pgBackRest touch belongs to `postgres` (neither runs as root).
as_pg() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
give_pg() { [[ $(id -u) -ne 0 ]] || chown -R postgres: "$@"; }
stop_cluster() {
    if [[ -f $1/postmaster.pid ]]; then
        as_pg "$PG_BIN/pg_ctl" -D "$1" -m "${2:-immediate}" -w stop >/dev/null 2>&1 || true
    fi
}
stop_all() {
    local data
    for data in "$WORK"/data "$WORK"/round-*/restore-*; do stop_cluster "$data"; done
}
trap stop_all EXIT
stop_all
bench_delete "$WORK"
# Space: the cluster (~16 MiB per scale unit) with its WAL and the two logical restores (~5x),
# and per round a dump, three repositories and two restored clusters (~3x): one round at a
# time on a tmpfs, every round on a disk (deleted at the end), plus 1 GiB.
kept=$REPEAT
[[ $BENCH_FS == tmpfs && $KEEP != 1 ]] && kept=1
bench_space $((16 * SCALE * (5 + 3 * kept) + 1024)) "pgbench scale $SCALE, REPEAT=$REPEAT"
mkdir -p "$LOG_DIR"
give_pg "$WORK"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=$(free_port)

# pgbackrest.conf points at one repository at a time: the load's WAL goes to pgbackrest-load,
# each round's backup (and the WAL archived meanwhile) to the round's own fresh repository.
pgbr_conf() {
    cat >"$WORK/pgbackrest.conf" <<EOF
[global]
repo1-path=$1
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
    give_pg "$WORK/pgbackrest.conf"
}

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
pgbr_conf "$WORK/pgbackrest-load"
as_pg "$PG_BIN/pg_ctl" -D "$WORK/data" -l "$LOG_DIR/postgres.log" -w start >/dev/null
as_pg pgbackrest --config="$WORK/pgbackrest.conf" --stanza=bench stanza-create >"$LOG_DIR/stanza-load.log" 2>&1 ||
    { echo "pgbackrest stanza-create failed: see $LOG_DIR/stanza-load.log" >&2; exit 1; }
URL="postgresql://postgres@127.0.0.1:$PORT"
psql -q "$URL/postgres" -c 'CREATE DATABASE bench'
t0=$(date +%s.%N)
pgbench -q -i -s "$SCALE" "$URL/bench" >"$LOG_DIR/pgbench.log" 2>&1
# pgbench's own rows are blank-padded and compress ~20:1; a jsonb table of documents with
# hashes, numbers and text compresses like application data does (about 2:1), as in the
# independent measurement's "pgbench + jsonb" database. JSONB_ROWS per scale unit (0: none).
JSONB_ROWS=${JSONB_ROWS:-6000}
if ((JSONB_ROWS > 0)); then
    psql -q "$URL/bench" -c "CREATE TABLE docs (id bigint PRIMARY KEY, doc jsonb NOT NULL)" -c "
        INSERT INTO docs SELECT g, jsonb_build_object(
            'id', g, 'sku', md5(g::text), 'tags', jsonb_build_array(md5((g * 7)::text), left(md5((g * 13)::text), 12)),
            'price', (g * 7919) % 100000 / 100.0, 'stock', (g * 104729) % 1000, 'created', '2026-01-01'::timestamptz + g * interval '17 seconds',
            'title', 'item ' || g || ' ' || substr('lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor', (1 + g % 40)::int, 30),
            'body', md5((g * 31)::text) || md5((g * 37)::text) || md5((g * 41)::text))
        FROM generate_series(1::bigint, $((SCALE * JSONB_ROWS))) g" >>"$LOG_DIR/pgbench.log"
fi
psql -q "$URL/bench" -c 'CHECKPOINT'
DB_BYTES=$(psql -qtA "$URL/postgres" -c "SELECT pg_database_size('bench')")
CLUSTER_BYTES=$(du -sb "$WORK/data" | cut -f1)
awk -v a="$t0" -v b="$(date +%s.%N)" -v d="$DB_BYTES" 'BEGIN {printf "  pgbench -i: %.1fs, database %.0f MiB\n", b - a, d / 1048576}'
sum_accounts() {
    local docs=()
    ((JSONB_ROWS > 0)) && docs=(-c "SELECT count(*), md5(string_agg(md5(doc::text), '' ORDER BY id)) FROM docs")
    psql -qtA "$1" -c 'SELECT count(*), sum(abalance), md5(string_agg(aid::text, $$,$$ ORDER BY aid)) FROM pgbench_accounts' "${docs[@]}"
}
EXPECTED=$(sum_accounts "$URL/bench")

# quiesce: before every timed step, a CHECKPOINT and a WAL switch, then wait until the archiver
# has pushed every finished segment (no .ready file left), so that no step pays for the
# write-back or the archiving of the one before (a logical restore writes as much WAL as data).
quiesce() {
    local i
    psql -qtA "$URL/postgres" -c 'CHECKPOINT' -c 'SELECT pg_switch_wal()' >/dev/null
    for ((i = 0; i < 1200; i++)); do
        compgen -G "$WORK/data/pg_wal/archive_status/*.ready" >/dev/null || return 0
        sleep 0.1
    done
    echo "  warning: WAL still waiting to be archived after 120 s (see $LOG_DIR)" >&2
}

# start_restored DATA PORT LOG: starts a restored cluster on PORT (its server log in LOG, which
# outlives the data directory) and waits until it answers.
start_restored() {
    local data=$1 port=$2 log=$3
    cat >>"$data/postgresql.auto.conf" <<EOF
port = $port
archive_mode = off
EOF
    as_pg "$PG_BIN/pg_ctl" -D "$data" -l "$log" -w -t 600 start >/dev/null
}

# The steps below run in child shells (measure): they need these too.
export -f as_pg give_pg start_restored
export PG_BIN
# Results per step and round: WALL[step.round], CPU, RSS (measure), SIZE (bytes stored, backups),
# CHECK (restores: PASS / FAIL / ERROR). Physical restores have two timed steps each:
# NAME (unpack) and NAME-start (start until it answers).
declare -A WALL=() CPU=() RSS=() SIZE=() CHECK=()
row() { WALL[$1.$round]=$M_WALL CPU[$1.$round]=$M_CPU RSS[$1.$round]=$M_RSS; }
check() { # check STEP URL: compares pgbench_accounts with the original's
    if [[ $(sum_accounts "$2" 2>>"$RD/$1.check.log") == "$EXPECTED" ]]; then CHECK[$1.$round]=PASS; else CHECK[$1.$round]=FAIL; fi
    echo "  $1 check: ${CHECK[$1.$round]}"
}
snapshot() { "$BULWARK" repo --repo "$1" snapshots --json | jq -r --arg s "$2" '[.[] | select(.source == $s)] | last | .id'; }
# bw REPO ARG...: bulwark repo on REPO with its key file (the server opens repositories with a
# key file, no passphrase KDF per run: so does the bench).
bw() { local repo=$1; shift; "$BULWARK" repo --repo "$repo" --key-file "$repo.key" "$@"; }
export -f bw

# The backups of one round (RD = the round's directory). Each returns non-zero when it fails.
backup_pg_dump() {
    quiesce
    WARM=$WORK/data measure pg_dump "$RD" pg_dump -Fc -f "$RD/bench.dump" "$URL/bench" || return 1
    row pg_dump; SIZE[pg_dump.$round]=$(stat -c %s "$RD/bench.dump")
}
backup_bulwark-logical() {
    quiesce
    WARM=$WORK/data measure bulwark-logical "$RD" bash -c "set -o pipefail; pg_dump -Fc '$URL/bench' | bw '$RD/bulwark-logical' backup --stdin --name logical" || return 1
    row bulwark-logical; SIZE[bulwark-logical.$round]=$(repo_bytes "$RD/bulwark-logical")
}
backup_bulwark-physical() {
    quiesce
    WARM=$WORK/data measure bulwark-physical "$RD" bash -c "set -o pipefail; '$PG_BIN/pg_basebackup' -d '$URL' -D - -Ft -X fetch -c fast | bw '$RD/bulwark-physical' backup --stdin --name physical" || return 1
    row bulwark-physical; SIZE[bulwark-physical.$round]=$(repo_bytes "$RD/bulwark-physical")
}
backup_pgbackrest() {
    local before
    quiesce
    before=$(repo_bytes "$RD/pgbackrest")
    WARM=$WORK/data measure pgbackrest "$RD" as_pg pgbackrest --config="$WORK/pgbackrest.conf" --stanza=bench --type=full backup || return 1
    # What the backup added: its files and the WAL archived while it ran (the stanza's few
    # metadata files, and WAL switched out before it, stay out).
    row pgbackrest; SIZE[pgbackrest.$round]=$(($(repo_bytes "$RD/pgbackrest") - before))
}

# The restores of one round: logical ones into a new database, physical ones into a new data
# directory (unpack, then a second timed step starting it until it answers, then checked and
# stopped).
restore_pg_restore() {
    psql -q "$URL/postgres" -c "CREATE DATABASE r_pg_restore_$round" || return 1
    quiesce
    WARM=$RD/bench.dump measure pg_restore "$RD" pg_restore -d "$URL/r_pg_restore_$round" -j 2 "$RD/bench.dump" || return 1
    row pg_restore; check pg_restore "$URL/r_pg_restore_$round"
}
restore_bulwark-logical() {
    local id
    id=$(snapshot "$RD/bulwark-logical" logical) && [[ -n $id && $id != null ]] || return 1
    psql -q "$URL/postgres" -c "CREATE DATABASE r_bulwark_$round" || return 1
    quiesce
    WARM=$RD/bulwark-logical measure bulwark-logical-r "$RD" bash -c "set -o pipefail; bw '$RD/bulwark-logical' restore '$id' --stdout | pg_restore -d '$URL/r_bulwark_$round'" || return 1
    row bulwark-logical-r; check bulwark-logical-r "$URL/r_bulwark_$round"
}
# new_datadir DIR: an empty data directory for a restore, owned by postgres.
new_datadir() { mkdir -p "$1" && chmod 700 "$1" && give_pg "$1"; }
restore_bulwark-physical() {
    local id dir=$RD/restore-bulwark port
    id=$(snapshot "$RD/bulwark-physical" physical) && [[ -n $id && $id != null ]] || return 1
    new_datadir "$dir" || return 1
    port=$(free_port)
    quiesce
    # --untar unpacks in-process (as the server's point-in-time restore does); as root the
    # files then go to postgres (as the server does too), in the start step.
    WARM=$RD/bulwark-physical measure bulwark-physical-r "$RD" bw "$RD/bulwark-physical" restore "$id" --untar "$dir" || return 1
    row bulwark-physical-r
    measure bulwark-physical-r-start "$RD" bash -c "give_pg '$dir' && start_restored '$dir' $port '$RD/bulwark-physical-r.postgres.log'" || return 1
    row bulwark-physical-r-start
    check bulwark-physical-r "postgresql://postgres@127.0.0.1:$port/bench"
    stop_cluster "$dir" fast
}
restore_pgbackrest() {
    local dir=$RD/restore-pgbackrest port
    new_datadir "$dir" || return 1
    port=$(free_port)
    quiesce
    WARM=$RD/pgbackrest measure pgbackrest-r "$RD" as_pg pgbackrest --config="$WORK/pgbackrest.conf" --stanza=bench --pg1-path="$dir" --type=immediate --target-action=promote restore || return 1
    row pgbackrest-r
    measure pgbackrest-r-start "$RD" start_restored "$dir" "$port" "$RD/pgbackrest-r.postgres.log" || return 1
    row pgbackrest-r-start
    check pgbackrest-r "postgresql://postgres@127.0.0.1:$port/bench"
    stop_cluster "$dir" fast
}

# round_files RD: what a round leaves besides its logs.
round_files() { echo "$1/bench.dump $1/bulwark-logical $1/bulwark-physical $1/pgbackrest $1/restore-bulwark $1/restore-pgbackrest"; }

bench_settle
export BULWARK_PASSWORD=bench-password-not-secret BULWARK_DATA_DIR=$WORK/bulwark-data
BACKUPS=(pg_dump bulwark-logical bulwark-physical pgbackrest)
RESTORES=(pg_restore bulwark-logical-r bulwark-physical-r pgbackrest-r)
for ((round = 1; round <= REPEAT; round++)); do
    RD=$WORK/round-$round
    LOG_DIR=$RD
    mkdir -p "$RD"
    give_pg "$RD"
    # Untimed: a fresh pgBackRest stanza repository and two fresh Bulwark repositories (with
    # key files), after the archiver has pushed everything to the previous repository.
    quiesce
    pgbr_conf "$RD/pgbackrest"
    as_pg pgbackrest --config="$WORK/pgbackrest.conf" --stanza=bench stanza-create >"$RD/stanza.log" 2>&1 ||
        { echo "pgbackrest stanza-create failed: see $RD/stanza.log" >&2; exit 1; }
    for repo in "$RD/bulwark-logical" "$RD/bulwark-physical"; do
        { "$BULWARK" repo --repo "$repo" init && "$BULWARK" repo --repo "$repo" key add --new-key-file "$repo.key"; } >>"$RD/bulwark-init.log" 2>&1 ||
            { echo "bulwark repo init failed: see $RD/bulwark-init.log" >&2; exit 1; }
    done
    # Each round starts with the next tool, for the backups and for the restores.
    shift_by=$(((round - 1) % 4))
    order=("${BACKUPS[@]:shift_by}" "${BACKUPS[@]:0:shift_by}")
    echo "== round $round/$REPEAT: backups (${order[*]})"
    for k in "${order[@]}"; do
        "backup_$k" || echo "  $k: the backup failed (logs in $RD)"
    done
    order=("${RESTORES[@]:shift_by}" "${RESTORES[@]:0:shift_by}")
    echo "== round $round/$REPEAT: restores (${order[*]})"
    for k in "${order[@]}"; do
        if ! "restore_${k%-r}"; then
            echo "  $k: the restore failed (logs in $RD)"
            CHECK[$k.$round]=ERROR
        fi
    done
    stop_cluster "$RD/restore-bulwark" fast
    stop_cluster "$RD/restore-pgbackrest" fast
    psql -q "$URL/postgres" -c "DROP DATABASE IF EXISTS r_pg_restore_$round" -c "DROP DATABASE IF EXISTS r_bulwark_$round"
    # The round's WAL goes to the round's repository; later WAL (until the next round's
    # switch) to pgbackrest-load, so that the round's repository can go.
    quiesce
    pgbr_conf "$WORK/pgbackrest-load"
    # A tmpfs has no ext4 inode allocator to upset (see bench_settle): free the memory now.
    if [[ $BENCH_FS == tmpfs && $KEEP != 1 ]]; then
        read -r -a files <<<"$(round_files "$RD")"
        bench_delete "${files[@]}"
    fi
done
LOG_DIR=$WORK/logs

# ---------------------------------------------------------------- medians
# med ARRAY STEP: the median over the rounds of ARRAY[STEP.round] ("-" if none).
med() {
    local -n arr=$1
    local r
    local -a vals=()
    for ((r = 1; r <= REPEAT; r++)); do vals+=("${arr[$2.$r]:--}"); done
    median "${vals[@]}"
}
# checks STEP: PASS if every round passed, else "FAIL (k/N PASS)" or "ERROR (k/N PASS)".
checks() {
    local r pass=0 worst=FAIL
    for ((r = 1; r <= REPEAT; r++)); do
        case ${CHECK[$1.$r]:-ERROR} in PASS) pass=$((pass + 1));; ERROR) worst=ERROR;; esac
    done
    if ((pass == REPEAT)); then echo PASS; else echo "$worst ($pass/$REPEAT PASS)"; fi
}
# The physical restores until the cluster answers: unpack + start in each round (wall and CPU
# summed, the larger peak RSS), as STEP-answer.
for k in bulwark-physical-r pgbackrest-r; do
    for ((r = 1; r <= REPEAT; r++)); do
        [[ -n ${WALL[$k.$r]:-} && -n ${WALL[$k-start.$r]:-} ]] || continue
        WALL[$k-answer.$r]=$(awk -v a="${WALL[$k.$r]}" -v b="${WALL[$k-start.$r]}" 'BEGIN {printf "%.2f", a + b}')
        CPU[$k-answer.$r]=$(awk -v a="${CPU[$k.$r]}" -v b="${CPU[$k-start.$r]}" 'BEGIN {printf "%.2f", a + b}')
        a=${RSS[$k.$r]} b=${RSS[$k-start.$r]}
        RSS[$k-answer.$r]=$((a > b ? a : b))
    done
done

# ---------------------------------------------------------------- report
mbs() { awk -v b="$1" -v s="$2" 'BEGIN {if (s ~ /^[0-9.]+$/ && s > 0) printf "%.1f", b / 1e6 / s; else print "-"}'; }
mib() { awk -v b="$1" 'BEGIN {if (b ~ /^-?[0-9.]+$/) printf "%.2f", b / 1048576; else print "-"}'; }
f2() { awk -v v="$1" 'BEGIN {if (v ~ /^-?[0-9.]+$/) printf "%.2f", v; else print "-"}'; }
f0() { awk -v v="$1" 'BEGIN {if (v ~ /^-?[0-9.]+$/) printf "%.0f", v; else print "-"}'; }
{
echo
echo "== results on $BENCH_FS_SHOW ($BENCH_DIR, BENCH_FS=$BENCH_FS): PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}'), pgbench scale $SCALE:" \
     "database $((DB_BYTES >> 20)) MiB, cluster $((CLUSTER_BYTES >> 20)) MiB"
echo "   bulwark $("$BULWARK" --version 2>/dev/null | awk '{print $2}'), $(pgbackrest version) (process-max=2, zstd level 3)"
echo "   REPEAT=$REPEAT rounds: the four backups, then the four restores, each round starting with the next tool, with fresh"
echo "   repositories (Bulwark's and pgBackRest's stanza) and restore targets; every figure is the median over the rounds"
echo "   (MB/s from the median wall time); check = PASS only if every round's restore passed (count, sum, md5 of pgbench_accounts)."
echo "   MB/s is over the database size for logical rows and over the cluster's size on disk for physical ones."
echo "   Physical restores: \"unpack only\" = bulwark repo restore --untar / pgbackrest restore alone (no start);"
echo "   \"until it answers\" = that, then the cluster started (pg_ctl start -w) until it accepts connections."
echo "   Everything (cluster, repositories, restores) on $BENCH_FS_SHOW in $BENCH_DIR. Host: $(nproc) cores."
echo
fmt='%-36s | %9s | %8s | %8s | %7s | %10s | %s\n'
printf "$fmt" "" "backup s" "MB/s" "CPU-s" "RSS MiB" "stored MiB" ""
printf "$fmt" "------------------------------------" "---------" "--------" "--------" "-------" "----------" "-----"
for k in "${BACKUPS[@]}"; do
    bytes=$DB_BYTES; [[ $k == bulwark-physical || $k == pgbackrest ]] && bytes=$CLUSTER_BYTES
    w=$(med WALL "$k")
    printf "$fmt" "$k" "$(f2 "$w")" "$(mbs "$bytes" "$w")" "$(f2 "$(med CPU "$k")")" "$(f0 "$(med RSS "$k")")" "$(mib "$(med SIZE "$k")")" ""
done
echo
printf "$fmt" "" "restore s" "MB/s" "CPU-s" "RSS MiB" "" "check"
printf "$fmt" "------------------------------------" "---------" "--------" "--------" "-------" "----------" "-----"
for k in pg_restore bulwark-logical-r bulwark-physical-r-answer pgbackrest-r-answer bulwark-physical-r pgbackrest-r; do
    bytes=$DB_BYTES label=$k
    case $k in
        *-answer) bytes=$CLUSTER_BYTES label="${k%-answer} until it answers";;
        *physical-r | pgbackrest-r) bytes=$CLUSTER_BYTES label="$k unpack only";;
    esac
    w=$(med WALL "$k")
    printf "$fmt" "$label" "$(f2 "$w")" "$(mbs "$bytes" "$w")" "$(f2 "$(med CPU "$k")")" "$(f0 "$(med RSS "$k")")" "" "$(checks "${k%-answer}")"
done
awk -v b="$(med WALL bulwark-physical)" -v p="$(med WALL pgbackrest)" \
    -v rb="$(med WALL bulwark-physical-r-answer)" -v rp="$(med WALL pgbackrest-r-answer)" \
    -v ub="$(med WALL bulwark-physical-r)" -v up="$(med WALL pgbackrest-r)" 'BEGIN {
    num = "^[0-9.]+$"
    printf "\nphysical vs pgBackRest: backup %s its speed, restore %s (target >= 1)\n", ratio(p, b), ratio(rp, rb)
    printf "physical vs pgBackRest, unpack only (no start): restore %s\n", ratio(up, ub)
}
function ratio(a, b) { return (a ~ num && b ~ num && b > 0) ? sprintf("%.2fx", a / b) : "-" }'
echo
echo "per-round detail (wall s / CPU s / peak RSS MiB; stored MiB; physical restores: unpack + start):"
for ((r = 1; r <= REPEAT; r++)); do
    line="  round $r "
    for k in "${BACKUPS[@]}"; do
        line+=" $k ${WALL[$k.$r]:--}/${CPU[$k.$r]:--}/${RSS[$k.$r]:--} $(mib "${SIZE[$k.$r]:--}");"
    done
    echo "${line%;}"
    line="  round $r "
    for k in "${RESTORES[@]}"; do
        line+=" $k ${WALL[$k.$r]:--}/${CPU[$k.$r]:--}/${RSS[$k.$r]:--}"
        [[ $k == *physical-r || $k == pgbackrest-r ]] && line+=" + ${WALL[$k-start.$r]:--}/${CPU[$k-start.$r]:--}/${RSS[$k-start.$r]:--}"
        line+=" ${CHECK[$k.$r]:-ERROR};"
    done
    echo "${line%;}"
done
echo "logs: $WORK/round-N, $LOG_DIR"
} | tee "$WORK/results.txt"

# Repositories, dumps and restored clusters go now on a disk (not between rounds: see
# bench_settle), and the cluster itself (its logs stay), unless KEEP=1.
if [[ $KEEP != 1 ]]; then
    stop_all
    for ((r = 1; r <= REPEAT; r++)); do
        read -r -a files <<<"$(round_files "$WORK/round-$r")"
        bench_delete "${files[@]}"
    done
    bench_delete "$WORK/data" "$WORK/pgbackrest-load" "$WORK/bulwark-data"
fi
