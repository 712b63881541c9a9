#!/usr/bin/env bash
# Bulwark vs restic vs borg on one generated data set. See bench/README.md.
#
#   bench/run.sh [SCALE_MIB] [BULWARK_BINARY]
#
# Environment (arguments win over environment):
#   SCALE      data-set size in MiB (default 1024)
#   BULWARK    bulwark binary (default $CARGO_TARGET_DIR/release/bulwark, else ./target/release/bulwark)
#   BENCH_DIR  work directory: cached data sets, repositories, logs (default /tmp/bulwark-bench)
#   TOOLS      which tools to run, in order (default "bulwark restic borg")
#   SEED       data-set seed (default 1)
#   KEEP       1 keeps the repositories and restored trees after the run (default: deleted)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SCALE=${1:-${SCALE:-1024}}
BULWARK=${2:-${BULWARK:-${CARGO_TARGET_DIR:-$HERE/../target}/release/bulwark}}
BENCH_DIR=${BENCH_DIR:-/tmp/bulwark-bench}
TOOLS=${TOOLS:-bulwark restic borg}
SEED=${SEED:-1}
KEEP=${KEEP:-0}
PW=bench-password-not-secret

[[ $SCALE =~ ^[0-9]+$ && $SCALE -gt 0 ]] || { echo "SCALE must be a positive integer (MiB), got '$SCALE'" >&2; exit 2; }
case " $TOOLS " in *" bulwark "*)
    [[ -x $BULWARK ]] || { echo "bulwark binary not found: $BULWARK (pass it as the 2nd argument or BULWARK=...)" >&2; exit 2; }
    BULWARK=$(cd "$(dirname "$BULWARK")" && pwd)/$(basename "$BULWARK");;
esac

# ---------------------------------------------------------------- prerequisites
missing=()
need() { [[ -x $1 ]] || command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }
need /usr/bin/time time
need zstd zstd
need openssl openssl
need jq jq
need python3 python3
case " $TOOLS " in *" restic "*) need restic restic;; esac
case " $TOOLS " in *" borg "*) need borg borgbackup;; esac
if ((${#missing[@]})); then
    echo "installing: ${missing[*]}"
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "please install: ${missing[*]}" >&2; exit 2
    fi
fi

# ---------------------------------------------------------------- data set (cached)
DATA=$BENCH_DIR/data-$SCALE
STAMP="gen=$(sha256sum "$HERE/gen_dataset.py" | cut -c1-16) seed=$SEED scale=$SCALE"
mkdir -p "$BENCH_DIR"
if [[ ! -f $DATA/stamp || $(cat "$DATA/stamp") != "$STAMP" ]]; then
    rm -rf "$DATA"
    mkdir -p "$DATA"
    echo "generating $SCALE MiB data set in $DATA ..."
    t0=$(date +%s.%N)
    python3 "$HERE/gen_dataset.py" --seed "$SEED" "$DATA/base" "$SCALE" >"$DATA/gen.json"
    t1=$(date +%s.%N)
    python3 "$HERE/gen_dataset.py" --seed "$SEED" --mutate "$DATA/base" "$DATA/mutated" >"$DATA/mutate.json"
    t2=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN {printf "generated in %.1fs, mutated copy in %.1fs\n", b - a, c - b}'
    echo "$STAMP" >"$DATA/stamp"
fi

tree_bytes() { find "$1" -type f -printf '%s\n' | awk '{s += $1} END {printf "%.0f", s}'; }
tree_files() { find "$1" -type f | wc -l; }
repo_bytes() { du -sb "$1" | cut -f1; }
BASE_BYTES=$(tree_bytes "$DATA/base")
MUT_BYTES=$(tree_bytes "$DATA/mutated")

RUN=$BENCH_DIR/run-$SCALE
rm -rf "$RUN"
mkdir -p "$RUN"

# ---------------------------------------------------------------- measurement
# measure NAME DIR CMD...: runs CMD in DIR under /usr/bin/time, followed by `sync` (so
# writes still in the page cache count against the step that made them); a `sync` also runs
# before. Output goes to $RUN/NAME.log. Sets M_WALL, M_CPU (user+sys s) and M_RSS (MiB,
# the largest process).
measure() {
    local name=$1 dir=$2; shift 2
    sync
    if ! /usr/bin/time -f '%e %U %S %M' -o "$RUN/$name.time" \
        bash -c 'cd "$0" || exit 99; "$@"; rc=$?; sync; exit $rc' "$dir" "$@" >"$RUN/$name.log" 2>&1; then
        echo "  $name FAILED; last lines of $RUN/$name.log:" >&2
        tail -n 15 "$RUN/$name.log" | sed 's/^/    /' >&2
        return 1
    fi
    local wall user sys rss
    read -r wall user sys rss < <(tail -n 1 "$RUN/$name.time")
    M_WALL=$wall
    M_CPU=$(awk -v u="$user" -v s="$sys" 'BEGIN {printf "%.2f", u + s}')
    M_RSS=$((rss / 1024))
    printf '  %-16s %8.2fs wall  %8.2fs cpu  %6d MiB peak RSS\n' "$name" "$M_WALL" "$M_CPU" "$M_RSS"
}

verify() { # verify NAME RESTORED_DIR -> sets V
    if diff -r -q "$DATA/mutated" "$2" >"$RUN/$1-verify.log" 2>&1; then V=PASS; else V=FAIL; fi
    echo "  $1 restore check: $V"
}

# Per tool: init, backup base, backup mutated, restore the mutated snapshot. Each sets
# R_* results. A step that fails returns non-zero and the tool's row says so.
tool_bulwark() {
    local repo=$RUN/repo-bulwark
    export BULWARK_PASSWORD=$PW BULWARK_DATA_DIR=$RUN/bulwark-data
    "$BULWARK" repo --repo "$repo" init >"$RUN/bulwark-init.log" 2>&1 || return 1
    R_SIZE0=$(repo_bytes "$repo")
    measure bulwark-backup1 "$DATA/base" "$BULWARK" repo --repo "$repo" backup "$DATA/base" --json || return 1
    set_b1; R_SIZE1=$(repo_bytes "$repo")
    measure bulwark-backup2 "$DATA/mutated" "$BULWARK" repo --repo "$repo" backup "$DATA/mutated" --json || return 1
    set_b2; R_SIZE2=$(repo_bytes "$repo")
    local id
    id=$("$BULWARK" repo --repo "$repo" snapshots --json |
        jq -r --arg s "$DATA/mutated" '[.[] | select(.source == $s)] | last | .id')
    [[ -n $id && $id != null ]] || { echo "  no bulwark snapshot of $DATA/mutated" >&2; return 1; }
    mkdir -p "$RUN/restore-bulwark"
    measure bulwark-restore "$RUN" "$BULWARK" repo --repo "$repo" restore "$id" --target "$RUN/restore-bulwark" || return 1
    set_r; verify bulwark "$RUN/restore-bulwark"
}

tool_restic() {
    local repo=$RUN/repo-restic
    export RESTIC_PASSWORD=$PW RESTIC_CACHE_DIR=$RUN/restic-cache
    restic -r "$repo" init >"$RUN/restic-init.log" 2>&1 || return 1
    R_SIZE0=$(repo_bytes "$repo")
    measure restic-backup1 "$DATA/base" restic -r "$repo" backup --host bench . || return 1
    set_b1; R_SIZE1=$(repo_bytes "$repo")
    measure restic-backup2 "$DATA/mutated" restic -r "$repo" backup --host bench . || return 1
    set_b2; R_SIZE2=$(repo_bytes "$repo")
    mkdir -p "$RUN/restore-restic"
    measure restic-restore "$RUN" restic -r "$repo" restore latest --path "$DATA/mutated" --target "$RUN/restore-restic" || return 1
    set_r; verify restic "$RUN/restore-restic"
}

tool_borg() {
    local repo=$RUN/repo-borg
    export BORG_PASSPHRASE=$PW BORG_BASE_DIR=$RUN/borg-home
    borg init --encryption=repokey-blake2 "$repo" >"$RUN/borg-init.log" 2>&1 || return 1
    R_SIZE0=$(repo_bytes "$repo")
    measure borg-backup1 "$DATA/base" borg create --stats --compression zstd,3 "$repo::base" . || return 1
    set_b1; R_SIZE1=$(repo_bytes "$repo")
    measure borg-backup2 "$DATA/mutated" borg create --stats --compression zstd,3 "$repo::mutated" . || return 1
    set_b2; R_SIZE2=$(repo_bytes "$repo")
    mkdir -p "$RUN/restore-borg"
    measure borg-restore "$RUN/restore-borg" borg extract "$repo::mutated" || return 1
    set_r; verify borg "$RUN/restore-borg"
}

set_b1() { B1_WALL=$M_WALL B1_CPU=$M_CPU B1_RSS=$M_RSS; }
set_b2() { B2_WALL=$M_WALL B2_CPU=$M_CPU B2_RSS=$M_RSS; }
set_r() { R_WALL=$M_WALL R_CPU=$M_CPU R_RSS=$M_RSS; }

# ---------------------------------------------------------------- physical bound
echo "== physical bound (one core)"
openssl_mbs() { # openssl_mbs ALGO -> MB/s at 16 KiB blocks
    openssl speed -evp "$1" -bytes 16384 -seconds 2 -mr 2>/dev/null |
        awk -F: '/^\+F:/ {printf "%.0f", $4 / 1e6}' || true
}
SHA_MBS=$(openssl_mbs sha256)
AES_MBS=$(openssl_mbs aes-256-gcm)
SAMPLE=$DATA/zstd-sample
if [[ ! -s $SAMPLE ]]; then
    # (head closing the pipe early makes cat/xargs fail: expected)
    { find "$DATA/base/logs" "$DATA/base/data" "$DATA/base/docs" -type f | sort | xargs cat 2>/dev/null | head -c 32M >"$SAMPLE"; } || true
fi
# zstd -b rewrites one progress line with \r ("|-name : 33554432 -> 9000000 (x3.728), 250.0 MB/s, 900.0 MB/s");
# the speeds shown are the best so far, so take the largest of the lines carrying both speeds.
ZLINES=$(zstd -b3 -i2 "$SAMPLE" 2>&1 | tr '\r' '\n' | grep 'MB/s.*MB/s' || true)
ZSTD_C=$(echo "$ZLINES" | awk -F, '{v = $(NF-1) + 0; if (v > m) m = v} END {if (m) print m}')
ZSTD_D=$(echo "$ZLINES" | awk -F, '{v = $NF + 0; if (v > m) m = v} END {if (m) print m}')
ZSTD_RATIO=$(echo "$ZLINES" | tail -n 1 | grep -o '(x[0-9.]*)' | tr -d '()' || true)
BOUND=$(awk -v a="$SHA_MBS" -v b="$ZSTD_C" -v c="$AES_MBS" 'BEGIN {if (a > 0 && b > 0 && c > 0) printf "%.0f", 1 / (1/a + 1/b + 1/c); else print "?"}')
PHYS=$(printf 'physical bound (1 core, MB/s): SHA-256 %s, AES-256-GCM %s (openssl speed -evp, 16 KiB blocks); zstd -3 compress %s, decompress %s on the text part (ratio %s); SHA-256 + zstd-3 + AES-GCM in series ~%s' \
    "${SHA_MBS:-?}" "${AES_MBS:-?}" "${ZSTD_C:-?}" "${ZSTD_D:-?}" "${ZSTD_RATIO:-?}" "$BOUND")
echo "$PHYS"

# ---------------------------------------------------------------- run
ROWS=()
for tool in $TOOLS; do
    echo "== $tool"
    B1_WALL=- B1_CPU=- B1_RSS=- B2_WALL=- B2_CPU=- B2_RSS=- R_WALL=- R_CPU=- R_RSS=- V=FAIL
    R_SIZE0=0 R_SIZE1=0 R_SIZE2=0
    if ! "tool_$tool"; then echo "  $tool: a step failed (logs in $RUN)"; V=ERROR; fi
    ROWS+=("$tool $B1_WALL $B1_CPU $B1_RSS $B2_WALL $B2_CPU $B2_RSS $R_WALL $R_CPU $R_RSS $R_SIZE1 $R_SIZE2 $V")
    if [[ $KEEP != 1 ]]; then
        [[ $V == PASS ]] && rm -rf "$RUN/restore-$tool"
        rm -rf "$RUN/repo-$tool"
    fi
done

# ---------------------------------------------------------------- report
versions=""
for tool in $TOOLS; do
    case $tool in
        bulwark) versions+="bulwark $("$BULWARK" --version 2>/dev/null | awk '{print $2}') ($BULWARK), ";;
        restic) versions+="$(restic version | awk '{print $1, $2}'), ";;
        borg) versions+="$(borg --version), ";;
    esac
done
versions=${versions%, }

{
echo
echo "== results: SCALE=$SCALE MiB, base $(awk "BEGIN {printf \"%.1f\", $BASE_BYTES/1048576}") MiB in $(tree_files "$DATA/base") files," \
     "mutated $(awk "BEGIN {printf \"%.1f\", $MUT_BYTES/1048576}") MiB in $(tree_files "$DATA/mutated") files ($(jq -r '.changed_fraction * 100' "$DATA/mutate.json")% of bytes edited)"
echo "   $versions"
echo "   settings: bulwark zstd level 3 (default); restic repo v2, compression auto (default); borg repokey-blake2, --compression zstd,3"
echo "   MB = 10^6 bytes; MB/s = logical bytes of the tree / wall time (incl. a final sync); CPU-s = user+sys of the process tree;"
echo "   added = repository growth (du -sb) from the second backup; repo = size after both backups. Host: $(nproc) cores."
echo
hdr='%-8s | %8s %7s %7s %8s %6s | %8s %9s %6s | %8s %7s %6s | %8s | %s\n'
printf "$hdr" "" "backup1" "" "" "MB per" "RSS" "backup2" "added" "" "restore" "" "RSS" "repo" "restore"
printf "$hdr" tool s MB/s CPU-s CPU-s MiB s MiB "%" s MB/s MiB MiB check
printf -- '---------+------------------------------------------+----------------------------+-------------------------+----------+--------\n'
for row in "${ROWS[@]}"; do
    read -r tool b1w b1c b1r b2w b2c b2r rw rc rr s1 s2 v <<<"$row"
    awk -v t="$tool" -v b1w="$b1w" -v b1c="$b1c" -v b1r="$b1r" -v b2w="$b2w" -v b2c="$b2c" -v b2r="$b2r" \
        -v rw="$rw" -v rc="$rc" -v rr="$rr" -v s1="$s1" -v s2="$s2" -v v="$v" \
        -v base="$BASE_BYTES" -v mut="$MUT_BYTES" -v fmt="$hdr" 'BEGIN {
        num = "^[0-9.]+$"
        f1 = (b1w ~ num) ? sprintf("%.2f", b1w) : "-"
        m1 = (b1w ~ num && b1w > 0) ? sprintf("%.1f", base / b1w / 1e6) : "-"
        c1 = (b1c ~ num) ? sprintf("%.2f", b1c) : "-"
        e1 = (b1c ~ num && b1c > 0) ? sprintf("%.1f", base / b1c / 1e6) : "-"
        f2 = (b2w ~ num) ? sprintf("%.2f", b2w) : "-"
        ad = (b2w ~ num) ? sprintf("%.2f", (s2 - s1) / 1048576) : "-"
        ap = (b2w ~ num) ? sprintf("%.1f", (s2 - s1) * 100 / mut) : "-"
        fr = (rw ~ num) ? sprintf("%.2f", rw) : "-"
        mr = (rw ~ num && rw > 0) ? sprintf("%.1f", mut / rw / 1e6) : "-"
        rs = (s2 > 0) ? sprintf("%.1f", s2 / 1048576) : "-"
        printf fmt, t, f1, m1, c1, e1, b1r, f2, ad, ap, fr, mr, rr, rs, v
    }'
done
echo
echo "$PHYS"
echo
echo "per-step detail (wall s / CPU s / peak RSS MiB):"
for row in "${ROWS[@]}"; do
    read -r tool b1w b1c b1r b2w b2c b2r rw rc rr s1 s2 v <<<"$row"
    printf '  %-8s backup1 %s/%s/%s  backup2 %s/%s/%s  restore %s/%s/%s\n' "$tool" "$b1w" "$b1c" "$b1r" "$b2w" "$b2c" "$b2r" "$rw" "$rc" "$rr"
done
echo "logs: $RUN"
} | tee "$RUN/results.txt"
