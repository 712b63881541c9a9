#!/usr/bin/env bash
# Bulwark's peak memory as the data grows: one backup and one restore per scale. See bench/README.md.
#
#   bench/rss.sh [SCALE_MIB...]        (default: 1024 4096)
#
# Environment:
#   BULWARK    bulwark binary (default $CARGO_TARGET_DIR/release/bulwark, else ./target/release/bulwark)
#   BENCH_DIR  work directory; the data sets are the ones bench/run.sh caches (default /tmp/bulwark-bench)
#   SEED       data-set seed (default 1)
#   KEEP       1 keeps the repositories and restored trees after the run (default: deleted)
# shellcheck disable=SC2059 # the table format is a variable on purpose
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$HERE/lib.sh"
if (($#)); then SCALES=("$@"); else SCALES=(1024 4096); fi
BULWARK=${BULWARK:-${CARGO_TARGET_DIR:-$HERE/../target}/release/bulwark}
BENCH_DIR=${BENCH_DIR:-/tmp/bulwark-bench}
SEED=${SEED:-1}
KEEP=${KEEP:-0}
PW=bench-password-not-secret

for scale in "${SCALES[@]}"; do
    [[ $scale =~ ^[0-9]+$ && $scale -gt 0 ]] || { echo "scales must be positive integers (MiB), got '$scale'" >&2; exit 2; }
done
BULWARK=$(bench_binary "$BULWARK")
bench_require /usr/bin/time:time jq:jq python3:python3

OUT=$BENCH_DIR/rss
bench_delete "$OUT"
mkdir -p "$OUT"
bench_settle

# run_scale: fresh repository in $RD, back up $DATA/base, restore that snapshot, diff.
# Sets B_WALL B_RSS R_WALL R_RSS BLOBS BPB CHECK (left at "-" / ERROR when a step fails).
run_scale() {
    local repo=$RD/repo id
    export BULWARK_PASSWORD=$PW BULWARK_DATA_DIR=$RD/bulwark-data
    "$BULWARK" repo --repo "$repo" init >"$RD/init.log" 2>&1 || return 1
    WARM=$DATA/base measure backup "$DATA/base" "$BULWARK" repo --repo "$repo" backup "$DATA/base" --json || return 1
    B_WALL=$M_WALL B_RSS=$M_RSS
    bulwark_index_stats "$repo" "$RD/stats.json" # sets IDX_BLOBS, IDX_BPB
    BLOBS=$IDX_BLOBS BPB=$IDX_BPB
    id=$("$BULWARK" repo --repo "$repo" snapshots --json |
        jq -r --arg s "$DATA/base" '[.[] | select(.source == $s)] | last | .id')
    [[ -n $id && $id != null ]] || { echo "  no bulwark snapshot of $DATA/base" >&2; return 1; }
    mkdir -p "$RD/restore"
    WARM=$repo measure restore "$RD" "$BULWARK" repo --repo "$repo" restore "$id" --target "$RD/restore" || return 1
    R_WALL=$M_WALL R_RSS=$M_RSS
    if diff -r -q "$DATA/base" "$RD/restore" >"$RD/verify.log" 2>&1; then CHECK=PASS; else CHECK=FAIL; fi
    echo "  restore check: $CHECK"
}

ROWS=()
declare -A CHECKS=()
for scale in "${SCALES[@]}"; do
    echo "== $scale MiB"
    bench_dataset "$scale" "$SEED" # sets DATA
    RD=$OUT/scale-$scale
    LOG_DIR=$RD
    mkdir -p "$RD"
    B_WALL=- B_RSS=- R_WALL=- R_RSS=- BLOBS=- BPB=- CHECK=ERROR
    if ! run_scale; then echo "  a step failed (logs in $RD)"; CHECK=ERROR; fi
    ROWS+=("$scale $(tree_bytes "$DATA/base") $(tree_files "$DATA/base") $B_WALL $B_RSS $R_WALL $R_RSS $BLOBS $BPB $CHECK")
    CHECKS[$scale]=$CHECK
done

# Deleted only now, not between scales: see bench_settle.
if [[ $KEEP != 1 ]]; then
    for scale in "${SCALES[@]}"; do
        [[ ${CHECKS[$scale]} == PASS ]] && bench_delete "$OUT/scale-$scale/restore"
        bench_delete "$OUT/scale-$scale/repo"
    done
fi

{
echo
echo "== bulwark peak RSS by data size: one backup of base/, one restore of it, fresh repository per scale"
echo "   bulwark $("$BULWARK" --version 2>/dev/null | awk '{print $2}') ($BULWARK); peak RSS = largest process (/usr/bin/time %M);"
echo "   wall includes a final sync; blobs and index bytes per blob from \`bulwark repo stats --json\` after the backup."
echo
fmt='%6s | %9s %8s | %8s %8s | %8s %8s | %9s %7s | %s\n'
printf "$fmt" "scale" "data" "" "backup" "RSS" "restore" "RSS" "" "index" "restore"
printf "$fmt" "MiB" "MiB" "files" "s" "MiB" "s" "MiB" "blobs" "B/blob" "check"
printf -- '-------+--------------------+-------------------+-------------------+-------------------+--------\n'
for row in "${ROWS[@]}"; do
    read -r scale bytes files bw br rw rr blobs bpb check <<<"$row"
    printf "$fmt" "$scale" "$(awk -v b="$bytes" 'BEGIN {printf "%.1f", b / 1048576}')" "$files" "$bw" "$br" "$rw" "$rr" "$blobs" "$bpb" "$check"
done
if ((${#ROWS[@]} > 1)); then
    read -r _ bytes0 _ _ br0 _ rr0 _ <<<"${ROWS[0]}"
    read -r _ bytes1 _ _ br1 _ rr1 _ <<<"${ROWS[${#ROWS[@]} - 1]}"
    awk -v d0="$bytes0" -v d1="$bytes1" -v b0="$br0" -v b1="$br1" -v r0="$rr0" -v r1="$rr1" 'BEGIN {
        num = "^[0-9]+$"
        f = (d0 > 0) ? d1 / d0 : 0
        printf "\ndata x%.2f (first to last scale): backup peak RSS %s, restore peak RSS %s\n", f, \
            (b0 ~ num && b1 ~ num && b0 > 0) ? sprintf("%d -> %d MiB (x%.2f)", b0, b1, b1 / b0) : "-", \
            (r0 ~ num && r1 ~ num && r0 > 0) ? sprintf("%d -> %d MiB (x%.2f)", r0, r1, r1 / r0) : "-"
    }'
fi
echo "logs: $OUT/scale-N"
} | tee "$OUT/results.txt"
