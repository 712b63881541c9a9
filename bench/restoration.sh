#!/usr/bin/env bash
# What the restoration workflow costs on top of the engine: the same backup of the generated
# tree restored by the engine directly (`bulwark repo restore`, no server, no catalog) and
# through a restoration job (`POST /api/admin/backups/restoration`, then its status polled
# every 50 ms over one connection until it completed: the request, the queue, the worker, the records), in
# interleaved rounds, medians side by side; then what a safety snapshot costs (a restore over
# a target holding the mutated tree) and the rollback that puts that tree back. See
# bench/README.md.
#
#   bench/restoration.sh [SCALE_MIB]        (default 1024)
#
# Environment: BULWARK (default $CARGO_TARGET_DIR/release/bulwark), BENCH_DIR (default
# /tmp/bulwark-bench), REPEAT (rounds, default 3), SEED (data set, default 1).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$HERE/lib.sh"
SCALE=${1:-${SCALE:-1024}}
BULWARK=${BULWARK:-${CARGO_TARGET_DIR:-$HERE/../target}/release/bulwark}
BENCH_DIR=${BENCH_DIR:-/tmp/bulwark-bench}
REPEAT=${REPEAT:-3}
SEED=${SEED:-1}
[[ $SCALE =~ ^[0-9]+$ && $SCALE -gt 0 ]] || { echo "SCALE must be a positive integer (MiB), got '$SCALE'" >&2; exit 2; }
BULWARK=$(bench_binary "$BULWARK")
bench_require jq:jq curl:curl python3:python3
bench_dataset "$SCALE" "$SEED" # sets DATA

WORK=$BENCH_DIR/restoration
SERVER=
stop() { [[ -n $SERVER ]] && kill -9 "$SERVER" 2>/dev/null || true; }
trap stop EXIT
rm -rf "$WORK"
mkdir -p "$WORK/restores"
bench_serve "$WORK" BULWARK_RESTORE_ROOTS="$WORK/restores"
echo "backing up $DATA/base ($SCALE MiB) ..."
bench_backup "$WORK" tree filesystem "$DATA/base"
api POST /admin/backups/restore-targets "{\"name\":\"bench\",\"environment\":\"development\",\"targetType\":\"directory\",\"path\":\"$WORK/restores/bench\"}" | jq -r .name >/dev/null

check() { # check DIR: the restored tree equals the original
    if diff -r -q "$DATA/base" "$1" >/dev/null; then echo PASS; else echo FAIL; fi
}
# The restored trees stay until the end: deleting a GiB between steps keeps the disk busy
# writing back, and the next step would pay for it.
declare -a DIRECT WORKFLOW ENGINE OWN EMPTY
bench_settle
for round in $(seq 1 "$REPEAT"); do
    sync
    t=$(now)
    "$BULWARK" repo restore --repo "$WORK/repo" --key-file "$WORK/key" "$SNAPSHOT" --target "$WORK/restores/direct-$round" >/dev/null
    DIRECT+=("$(since "$t")")
    echo "round $round: direct ${DIRECT[-1]} s, $(check "$WORK/restores/direct-$round")"
    sync
    t=$(now)
    ID=$(api POST /admin/backups/restoration "{\"backupExecutionId\":\"$EXECUTION\",\"restorationType\":\"full\",\"targetEnvironment\":\"development\",\"targetIdentifier\":\"bench/workflow-$round\"}" | jq -r .restorationId)
    bench_wait_restoration "$PORT" "$TOKEN" "$ID" >/dev/null
    WORKFLOW+=("$(since "$t")")
    ENGINE+=("$(api GET "/admin/backups/restoration/$ID/status" | jq -r .durationSeconds)")
    EMPTY+=("$(api GET "/admin/backups/restoration/$ID" | jq -r .safetySeconds)")
    OWN+=("$(python3 -c "import sys; print(f'{float(sys.argv[1]) - float(sys.argv[2]):.3f}')" "${WORKFLOW[-1]}" "${ENGINE[-1]}")")
    echo "round $round: workflow ${WORKFLOW[-1]} s (of which the restore itself ${ENGINE[-1]} s), $(check "$WORK/restores/bench/workflow-$round")"
done

# The safety snapshot: a restore over a target holding the mutated tree backs that tree up
# first (into the backup's repository, so what it shares with the backup is stored once), then
# writes what differs; the rollback puts the mutated tree back exactly.
OCCUPIED=$WORK/restores/bench/occupied
cp -a "$DATA/mutated" "$OCCUPIED"
sync
wait_for() { bench_wait_restoration "$PORT" "$TOKEN" "$1"; } # wait_for ID: prints how it ended
t=$(now)
ID=$(api POST /admin/backups/restoration "{\"backupExecutionId\":\"$EXECUTION\",\"restorationType\":\"full\",\"targetEnvironment\":\"development\",\"targetIdentifier\":\"bench/occupied\",\"conflictResolution\":\"overwrite\"}" | jq -r .restorationId)
OVER_STATUS=$(wait_for "$ID")
OVER=$(since "$t")
SAFETY=$(api GET "/admin/backups/restoration/$ID" | jq -r .safetySeconds)
# A delta restore leaves what only the target had: every file of the backup must be there.
if diff -r -q "$DATA/base" "$OCCUPIED" | grep -v "^Only in $OCCUPIED" | grep -q .; then OVER_CHECK=FAIL; else OVER_CHECK=PASS; fi
echo "over the mutated tree: $OVER s ($OVER_STATUS, of which the safety snapshot $SAFETY s), $OVER_CHECK"
sync
t=$(now)
RB=$(api POST "/admin/backups/restoration/$ID/rollback" '{}' | jq -r .restorationId)
RB_STATUS=$(wait_for "$RB")
ROLLBACK=$(since "$t")
if diff -r -q "$DATA/mutated" "$OCCUPIED" >/dev/null; then RB_CHECK=PASS; else RB_CHECK=FAIL; fi
echo "rollback: $ROLLBACK s ($RB_STATUS), the mutated tree again: $RB_CHECK"
rm -rf "$WORK/restores"
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
D=$(median "${DIRECT[@]}")
W=$(median "${WORKFLOW[@]}")
E=$(median "${ENGINE[@]}")
O=$(median "${OWN[@]}")
S=$(median "${EMPTY[@]}")
echo
echo "| $SCALE MiB tree, $REPEAT rounds (medians) | seconds |"
echo "|---|---|"
echo "| engine, direct (\`bulwark repo restore\`) | $D |"
echo "| restoration workflow, request to completed | $W |"
echo "| of which the restore inside the job | $E |"
echo "| of which the safety snapshot of the new, empty directory | $S |"
python3 -c "import sys; d, w, o = map(float, sys.argv[1:]); print(f'| workflow over direct | {100 * (w - d) / d:+.1f}% |'); print(f'| the workflow\'s own time (request to completed, less the restore; per round) | {o:.3f} s, {100 * o / w:.1f}% |')" "$D" "$W" "$O"
echo "| restore over a target holding the mutated tree (one run), safety snapshot first | $OVER ($OVER_CHECK) |"
python3 -c "import sys; o, s = map(float, sys.argv[1:]); print(f'| of which the safety snapshot of that tree | {s:.3f} s, {100 * s / o:.1f}% |')" "$OVER" "$SAFETY"
echo "| rollback to the mutated tree (one run) | $ROLLBACK ($RB_CHECK) |"
