# Shared helpers of the bench/ scripts (sourced, not run). See bench/README.md.
# shellcheck shell=bash
# SC2034: M_*, DATA, IDX_* are results for the calling script.
# shellcheck disable=SC2034

BENCH_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# bench_require CMD:PACKAGE...: installs the Debian packages of the commands that are missing
# (as root, with apt-get), else exits asking for them.
bench_require() {
    local missing=() spec cmd
    for spec in "$@"; do
        cmd=${spec%%:*}
        [[ -x $cmd ]] || command -v "$cmd" >/dev/null 2>&1 || missing+=("${spec#*:}")
    done
    ((${#missing[@]})) || return 0
    echo "installing: ${missing[*]}"
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "please install: ${missing[*]}" >&2; exit 2
    fi
}

# bench_binary PATH: checks the bulwark binary and prints its absolute path.
bench_binary() {
    [[ -x $1 ]] || { echo "bulwark binary not found: $1 (pass it as an argument or BULWARK=...)" >&2; exit 2; }
    echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
}

# bench_dataset SCALE SEED: sets DATA=$BENCH_DIR/data-SCALE, holding base/ and mutated/, and
# generates it unless the stamp there matches (same generator, seed and scale).
bench_dataset() {
    local scale=$1 seed=$2 stamp t0 t1 t2
    DATA=$BENCH_DIR/data-$scale
    stamp="gen=$(sha256sum "$BENCH_HERE/gen_dataset.py" | cut -c1-16) seed=$seed scale=$scale"
    mkdir -p "$BENCH_DIR"
    if [[ ! -f $DATA/stamp || $(cat "$DATA/stamp") != "$stamp" ]]; then
        rm -rf "$DATA"
        mkdir -p "$DATA"
        echo "generating $scale MiB data set in $DATA ..."
        t0=$(date +%s.%N)
        python3 "$BENCH_HERE/gen_dataset.py" --seed "$seed" "$DATA/base" "$scale" >"$DATA/gen.json"
        t1=$(date +%s.%N)
        python3 "$BENCH_HERE/gen_dataset.py" --seed "$seed" --mutate "$DATA/base" "$DATA/mutated" >"$DATA/mutate.json"
        t2=$(date +%s.%N)
        awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN {printf "generated in %.1fs, mutated copy in %.1fs\n", b - a, c - b}'
        echo "$stamp" >"$DATA/stamp"
    fi
}

# bench_delete PATH...: deletes the paths that exist, noting when (for bench_settle).
bench_delete() {
    local path
    for path in "$@"; do
        [[ -e $path ]] || continue
        rm -rf "$path"
        date +%s >"$BENCH_DIR/.deleted-at"
    done
}

# bench_settle: waits until SETTLE seconds (default 300) have passed since the last
# bench_delete. ext4 does not hand out an inode freed less than 5 minutes ago while its
# inode-table block is still dirty (recently_deleted() in fs/ext4/ialloc.c): right after
# deleting a few 1 GiB trees, every tool's restore of 20k files searched past them and took
# 3-4 times as long (Bulwark 4.3 s -> 18 s, nearly all of it system time). A tmpfs has no
# inode table to search: no wait there.
bench_settle() {
    local settle=${SETTLE:-300} at now
    [[ $(bench_fs_type "$BENCH_DIR") == tmpfs ]] && return 0
    at=$(cat "$BENCH_DIR/.deleted-at" 2>/dev/null || echo 0)
    now=$(date +%s)
    if ((now - at < settle)); then
        echo "waiting $((at + settle - now)) s for the file system to settle after deleting the last run (SETTLE=0 skips)"
        sleep $((at + settle - now))
    fi
}

# bench_fs_type DIR: the file-system type of DIR (stat -f -c %T: "tmpfs", "ext2/ext3" for ext4,
# ...), or of its nearest existing parent when DIR does not exist yet.
bench_fs_type() {
    local dir=$1
    while [[ ! -e $dir ]]; do dir=$(dirname "$dir"); done
    stat -f -c %T "$dir"
}

# bench_fs_show DIR: the file-system type of DIR as df names it ("tmpfs", "ext4", ...).
bench_fs_show() {
    local dir=$1
    while [[ ! -e $dir ]]; do dir=$(dirname "$dir"); done
    df --output=fstype "$dir" 2>/dev/null | tail -n 1 || bench_fs_type "$dir"
}

# bench_fs_dir FS: the default BENCH_DIR of file system FS (tmpfs or disk).
bench_fs_dir() {
    case $1 in
        tmpfs) echo "${BENCH_DIR_TMPFS:-/dev/shm/bulwark-bench}";;
        disk) echo "${BENCH_DIR_DISK:-/var/tmp/bulwark-bench}";;
    esac
}

# bench_fs RESULTS SCRIPT ARG...: applies BENCH_FS ("tmpfs", "disk" or both, "tmpfs disk") for
# a script that writes its results table to $BENCH_DIR/RESULTS.
# - Two values: runs `BENCH_FS=<one> BENCH_DIR=<its directory> SCRIPT ARG...` once per file
#   system, one after the other (everything of a run, data set included, under its
#   BENCH_DIR), prints each run's results table headed by its file system, and exits (with
#   the first failure's status, if any).
# - One value: BENCH_DIR defaults to /dev/shm/bulwark-bench (tmpfs; BENCH_DIR_TMPFS) or
#   /var/tmp/bulwark-bench (disk; BENCH_DIR_DISK); an explicit BENCH_DIR wins, but must be
#   on that kind of file system (stat -f -c %T), else the script stops.
# - Unset: BENCH_DIR as given, else /tmp/bulwark-bench (one run, as before BENCH_FS existed);
#   BENCH_FS is set to what it is on.
# Sets BENCH_DIR, BENCH_FS and BENCH_FS_SHOW (the type as df names it, for the tables).
bench_fs() {
    local results=$1 fs dir rc=0 type i
    shift
    local -a fss=() dirs=()
    read -r -a fss <<<"${BENCH_FS:-}"
    for fs in "${fss[@]}"; do
        case $fs in
            tmpfs | disk) ;;
            *) echo "BENCH_FS must be tmpfs, disk or both (\"tmpfs disk\"), got '${BENCH_FS}'" >&2; exit 2;;
        esac
    done
    if ((${#fss[@]} > 1)); then
        if [[ -n ${BENCH_DIR:-} ]]; then
            echo "BENCH_DIR=$BENCH_DIR is one directory but BENCH_FS='$BENCH_FS' names ${#fss[@]} file systems:" \
                "unset BENCH_DIR (or set BENCH_DIR_TMPFS and BENCH_DIR_DISK)" >&2
            exit 2
        fi
        for fs in "${fss[@]}"; do
            dir=$(bench_fs_dir "$fs")
            dirs+=("$dir")
            echo "######## BENCH_FS=$fs: BENCH_DIR=$dir"
            if ! BENCH_FS=$fs BENCH_DIR=$dir "$@"; then
                echo "######## BENCH_FS=$fs: the run failed" >&2
                ((rc)) || rc=1
            fi
        done
        echo
        echo "######## results on each file system (${fss[*]})"
        for i in "${!fss[@]}"; do
            echo
            echo "======== BENCH_FS=${fss[$i]}: $(bench_fs_show "${dirs[$i]}") (${dirs[$i]})"
            cat "${dirs[$i]}/$results" 2>/dev/null || echo "(no results: the run failed)"
        done
        exit "$rc"
    fi
    if ((${#fss[@]} == 1)); then
        BENCH_FS=${fss[0]}
        BENCH_DIR=${BENCH_DIR:-$(bench_fs_dir "$BENCH_FS")}
        type=$(bench_fs_type "$BENCH_DIR")
        if [[ $BENCH_FS == tmpfs && $type != tmpfs ]]; then
            echo "BENCH_FS=tmpfs but BENCH_DIR=$BENCH_DIR is on $type, not tmpfs" >&2; exit 2
        fi
        if [[ $BENCH_FS == disk && ($type == tmpfs || $type == ramfs) ]]; then
            echo "BENCH_FS=disk but BENCH_DIR=$BENCH_DIR is on $type" >&2; exit 2
        fi
    else
        BENCH_DIR=${BENCH_DIR:-/tmp/bulwark-bench}
        type=$(bench_fs_type "$BENCH_DIR")
        BENCH_FS=disk
        [[ $type == tmpfs || $type == ramfs ]] && BENCH_FS=tmpfs
    fi
    BENCH_FS_SHOW=$(bench_fs_show "$BENCH_DIR")
    export BENCH_FS BENCH_DIR
}

# bench_space NEED_MIB WHAT: stops the script unless the file system of BENCH_DIR has NEED_MIB
# free (on a tmpfs, which lives in RAM, also unless MemAvailable has as much).
bench_space() {
    local need=$1 what=$2 dir=$BENCH_DIR free mem
    while [[ ! -e $dir ]]; do dir=$(dirname "$dir"); done
    free=$(($(df --output=avail -k "$dir" | tail -n 1) / 1024))
    if ((free < need)); then
        echo "not enough space for $what: ~$need MiB needed in $BENCH_DIR ($BENCH_FS_SHOW), $free MiB free" >&2
        exit 2
    fi
    if [[ $BENCH_FS == tmpfs ]]; then
        mem=$(awk '/^MemAvailable:/ {printf "%d", $2 / 1024}' /proc/meminfo)
        if ((mem < need)); then
            echo "not enough memory for $what on tmpfs: ~$need MiB needed, $mem MiB available (MemAvailable)" >&2
            exit 2
        fi
    fi
}

tree_bytes() { find "$1" -type f -printf '%s\n' | awk '{s += $1} END {printf "%.0f", s}'; }
tree_files() { find "$1" -type f | wc -l; }
repo_bytes() { du -sb "$1" | cut -f1; }

# bench_warm PATH...: reads every file below the paths once, so the step that follows finds
# them in the page cache. This VM pages out page cache idle for a few seconds (DAMON
# "pageout"), so without it whichever tool ran after a pause read its input from disk: 1-3 s
# more for a 1 GiB backup, in no particular round.
bench_warm() {
    find "$@" -type f -print0 | xargs -0 -r cat >/dev/null
}

# measure NAME DIR CMD...: runs CMD in DIR under /usr/bin/time, followed by `sync` (so
# writes still in the page cache count against the step that made them); a `sync` also runs
# before, and `bench_warm $WARM` when WARM names what the step reads (space-separated).
# Output goes to $LOG_DIR/NAME.log. Sets M_WALL, M_CPU (user+sys s) and M_RSS (MiB, the
# largest process).
measure() {
    local name=$1 dir=$2 warm; shift 2
    read -ra warm <<<"${WARM:-}"
    if ((${#warm[@]})); then bench_warm "${warm[@]}"; fi
    sync
    # shellcheck disable=SC2016 # $0, $@ and $rc belong to the inner bash
    if ! /usr/bin/time -f '%e %U %S %M' -o "$LOG_DIR/$name.time" \
        bash -c 'cd "$0" || exit 99; "$@"; rc=$?; sync; exit $rc' "$dir" "$@" >"$LOG_DIR/$name.log" 2>&1; then
        echo "  $name FAILED; last lines of $LOG_DIR/$name.log:" >&2
        tail -n 15 "$LOG_DIR/$name.log" | sed 's/^/    /' >&2
        return 1
    fi
    local wall user sys rss
    read -r wall user sys rss < <(tail -n 1 "$LOG_DIR/$name.time")
    M_WALL=$wall
    M_CPU=$(awk -v u="$user" -v s="$sys" 'BEGIN {printf "%.2f", u + s}')
    M_RSS=$((rss / 1024))
    printf '  %-16s %8.2fs wall  %8.2fs cpu  %6d MiB peak RSS\n' "$name" "$M_WALL" "$M_CPU" "$M_RSS"
}

# bulwark_index_stats REPO OUT_JSON: `bulwark repo stats --json` into OUT_JSON; sets
# IDX_BLOBS and IDX_BPB (index bytes per blob in memory), "-" when unavailable.
bulwark_index_stats() {
    IDX_BLOBS=- IDX_BPB=-
    if "$BULWARK" repo --repo "$1" stats --json >"$2" 2>"$2.stderr"; then
        read -r IDX_BLOBS IDX_BPB < <(jq -r '"\(.blobs // "-") \(.indexBytesPerBlob // "-")"' "$2" 2>/dev/null || echo "- -")
    else
        echo "  bulwark repo stats failed (see $2.stderr)" >&2
    fi
}

# median VALUE...: the median of the numeric arguments ("-" and other non-numbers are
# skipped; the mean of the two middle values for an even count); "-" if there are none.
median() {
    printf '%s\n' "$@" | awk '$1 ~ /^-?[0-9]+(\.[0-9]+)?$/' | sort -g | awk '
        {v[NR] = $1}
        END {
            if (NR == 0) {print "-"; exit}
            m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            s = sprintf("%.3f", m); sub(/0+$/, "", s); sub(/\.$/, "", s); print s
        }'
}

# bench_wait_restoration PORT TOKEN ID: polls restoration ID's status every 50 ms over one
# kept-alive connection (one small process, not a curl and a jq per poll, which on two cores
# would take CPU from the restore being timed) until it ends; prints the final status.
bench_wait_restoration() {
    python3 - "$@" <<'PY'
import http.client, json, sys, time
port, token, rid = sys.argv[1], sys.argv[2], sys.argv[3]
conn = http.client.HTTPConnection("127.0.0.1", int(port))
while True:
    conn.request("GET", f"/api/admin/backups/restoration/{rid}/status", headers={"Authorization": f"Bearer {token}"})
    status = json.loads(conn.getresponse().read())["status"]
    if status in ("completed", "failed", "cancelled", "rolled_back"):
        print(status)
        break
    time.sleep(0.05)
PY
}

# bench_serve WORK [ENV=VALUE...]: a `bulwark serve` (SQLite catalog and data under WORK/data,
# 2 workers) with an admin token; sets PORT, TOKEN and SERVER (kill it on exit). The extra
# variables (restore roots and hosts) go to the server.
bench_serve() {
    local work=$1
    shift
    export BULWARK_DATA_DIR=$work/data RUST_LOG=warn
    PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    echo "bench-admin-password" | "$BULWARK" user add bench --admin --password-stdin >/dev/null
    TOKEN=$("$BULWARK" user token bench --name bench | grep -o 'bwk_[A-Za-z0-9_-]*' | head -1)
    env "$@" BULWARK_LISTEN="127.0.0.1:$PORT" BULWARK_WORKERS=2 "$BULWARK" serve >"$work/server.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 1 300); do curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
}

# api METHOD PATH [JSON]: the bench server's REST API with the admin token.
api() {
    curl -sS --fail-with-body -X "$1" "http://127.0.0.1:$PORT/api$2" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' ${3:+--data "$3"}
}

# bench_backup WORK NAME SOURCE_TYPE SOURCE: a local location in WORK/repo (its key file in
# WORK/key), a configuration of SOURCE, one backup of it, completed and verified (so no timed
# restore pays for a verification); sets EXECUTION and SNAPSHOT.
bench_backup() {
    local work=$1 name=$2 type=$3 source=$4 location config
    location=$(api POST /admin/backups/storage-locations "{\"locationName\":\"bench\",\"storageType\":\"primary\",\"provider\":\"local\",\"pathPrefix\":\"$work/repo\"}" | jq -r .id)
    api POST "/admin/backups/storage-locations/$location/init" | jq -r .keyFile >"$work/key"
    config=$(api POST /admin/backups/configurations "{\"name\":\"$name\",\"sourceType\":\"$type\",\"sourceIdentifier\":\"$source\",\"storageLocationIds\":[\"$location\"]}" | jq -r .id)
    EXECUTION=$(api POST "/admin/backups/configurations/$config/execute" | jq -r .executionId)
    until [[ $(api GET "/admin/backups/executions/$EXECUTION" | jq -r .status) == completed ]]; do sleep 0.5; done
    SNAPSHOT=$(api GET "/admin/backups/executions/$EXECUTION" | jq -r .snapshotId)
    until [[ $(api GET "/admin/backups/executions/$EXECUTION" | jq -r .verificationStatus) == verified ]]; do sleep 0.5; done
}

now() { date +%s.%N; }
# since T: seconds from T to now.
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$1" "$(now)"; }
