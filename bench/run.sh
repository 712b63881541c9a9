#!/usr/bin/env bash
# Bulwark vs restic vs borg on one generated data set. See bench/README.md.
#
#   bench/run.sh [SCALE_MIB] [BULWARK_BINARY]
#
# Environment (arguments win over environment):
#   SCALE      data-set size in MiB (default 1024)
#   BULWARK    bulwark binary (default $CARGO_TARGET_DIR/release/bulwark, else ./target/release/bulwark)
#   BENCH_FS   file system to run on: tmpfs, disk, or both ("tmpfs disk": one whole run on each,
#              then both results tables). tmpfs: BENCH_DIR defaults to /dev/shm/bulwark-bench,
#              disk: to /var/tmp/bulwark-bench (checked with stat -f). Unset: one run in BENCH_DIR.
#   BENCH_DIR  work directory: cached data sets, repositories, logs (default /tmp/bulwark-bench,
#              or per BENCH_FS as above; an explicit one wins for a single BENCH_FS)
#   TOOLS      which tools to run, in order (default "bulwark bulwark-z3 restic borg";
#              bulwark-z3 is Bulwark at zstd level 3)
#   REPEAT     rounds (default 3): round 1 runs every tool, then round 2 (starting with the next
#              tool), ...; the table shows medians
#   SEED       data-set seed (default 1)
#   KEEP       1 keeps the repositories and restored trees after the run (default: deleted)
#   SETTLE     seconds to wait after deleting big trees on a disk (default 300; see lib.sh)
# SC2059: the table formats are variables on purpose; SC2154: S_* are set by summarize (printf -v).
# shellcheck disable=SC2059,SC2154
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$HERE/lib.sh"
SCALE=${1:-${SCALE:-1024}}
BULWARK=${2:-${BULWARK:-${CARGO_TARGET_DIR:-$HERE/../target}/release/bulwark}}
TOOLS=${TOOLS:-bulwark bulwark-z3 restic borg}
REPEAT=${REPEAT:-3}
SEED=${SEED:-1}
KEEP=${KEEP:-0}
PW=bench-password-not-secret

[[ $SCALE =~ ^[0-9]+$ && $SCALE -gt 0 ]] || { echo "SCALE must be a positive integer (MiB), got '$SCALE'" >&2; exit 2; }
[[ $REPEAT =~ ^[0-9]+$ && $REPEAT -gt 0 ]] || { echo "REPEAT must be a positive integer, got '$REPEAT'" >&2; exit 2; }
has_tool() { case " $TOOLS " in *" $1 "*) return 0;; *) return 1;; esac; }
if has_tool bulwark || has_tool bulwark-z3; then BULWARK=$(bench_binary "$BULWARK"); fi
# BENCH_FS with two file systems runs this script once on each and exits here; otherwise it
# sets BENCH_DIR (and BENCH_FS, BENCH_FS_SHOW) for this run.
bench_fs "run-$SCALE/results.txt" "$HERE/run.sh" "$SCALE" "$BULWARK"
echo "== file system: $BENCH_FS_SHOW (BENCH_FS=$BENCH_FS, BENCH_DIR=$BENCH_DIR)"

# Space: the data set (2 x SCALE, unless cached) and, per tool and round, a repository and a
# restored tree (each at most ~SCALE), plus 1 GiB. On a tmpfs both go right after each tool's
# round; on a disk they stay until the end (see bench_settle), so every round's count.
read -r -a tool_list <<<"$TOOLS"
kept=1
[[ $BENCH_FS == tmpfs && $KEEP != 1 ]] || kept=$((REPEAT * ${#tool_list[@]}))
need=$((2 * SCALE * kept + 1024))
[[ -f $BENCH_DIR/data-$SCALE/stamp ]] || need=$((need + 2 * SCALE))
bench_space "$need" "SCALE=$SCALE, REPEAT=$REPEAT, ${#tool_list[@]} tools"

# ---------------------------------------------------------------- prerequisites
req=(/usr/bin/time:time zstd:zstd openssl:openssl jq:jq python3:python3 b3sum:b3sum)
if has_tool restic; then req+=(restic:restic); fi
if has_tool borg; then req+=(borg:borgbackup); fi
bench_require "${req[@]}"

# ---------------------------------------------------------------- data set (cached)
bench_dataset "$SCALE" "$SEED" # sets DATA
BASE_BYTES=$(tree_bytes "$DATA/base")
MUT_BYTES=$(tree_bytes "$DATA/mutated")

RUN=$BENCH_DIR/run-$SCALE
bench_delete "$RUN"
mkdir -p "$RUN"
bench_settle

# ---------------------------------------------------------------- one round of one tool
# Everything of round N lives in RD=$RUN/round-N (logs, timings, repositories, restores);
# measure (lib.sh) writes its logs to LOG_DIR=$RD.

verify() { # verify NAME RESTORED_DIR -> sets V
    if diff -r -q "$DATA/mutated" "$2" >"$RD/$1-verify.log" 2>&1; then V=PASS; else V=FAIL; fi
    echo "  $1 restore check: $V"
}

# Per tool: init, backup base, backup mutated, restore the mutated snapshot. Each sets
# R_* results. A step that fails returns non-zero and the tool's row says so.
# bulwark_round NAME LEVEL: one round of Bulwark at zstd LEVEL, its files named after NAME.
bulwark_round() {
    local name=$1 level=$2 repo=$RD/repo-$1
    export BULWARK_PASSWORD=$PW BULWARK_DATA_DIR=$RD/$name-data
    "$BULWARK" repo --repo "$repo" init >"$RD/$name-init.log" 2>&1 || return 1
    WARM=$DATA/base measure "$name-backup1" "$DATA/base" "$BULWARK" repo --repo "$repo" backup "$DATA/base" --level "$level" --json || return 1
    set_b1; R_SIZE1=$(repo_bytes "$repo")
    WARM=$DATA/mutated measure "$name-backup2" "$DATA/mutated" "$BULWARK" repo --repo "$repo" backup "$DATA/mutated" --level "$level" --json || return 1
    set_b2; R_SIZE2=$(repo_bytes "$repo")
    bulwark_index_stats "$repo" "$RD/$name-stats.json" # sets IDX_BLOBS, IDX_BPB
    echo "  $name index: $IDX_BLOBS blobs, $IDX_BPB bytes per blob in memory"
    local id
    id=$("$BULWARK" repo --repo "$repo" snapshots --json |
        jq -r --arg s "$DATA/mutated" '[.[] | select(.source == $s)] | last | .id')
    [[ -n $id && $id != null ]] || { echo "  no $name snapshot of $DATA/mutated" >&2; return 1; }
    mkdir -p "$RD/restore-$name"
    WARM=$repo measure "$name-restore" "$RD" "$BULWARK" repo --repo "$repo" restore "$id" --target "$RD/restore-$name" || return 1
    set_r; verify "$name" "$RD/restore-$name"
    WARM=$repo measure "$name-check" "$RD" "$BULWARK" repo --repo "$repo" check --read-data || return 1
    set_c
}

# Bulwark as it comes (zstd level 1), and at level 3, as borg here.
tool_bulwark() { bulwark_round bulwark 1; }
tool_bulwark-z3() { bulwark_round bulwark-z3 3; }

tool_restic() {
    local repo=$RD/repo-restic
    export RESTIC_PASSWORD=$PW RESTIC_CACHE_DIR=$RD/restic-cache
    restic -r "$repo" init >"$RD/restic-init.log" 2>&1 || return 1
    WARM=$DATA/base measure restic-backup1 "$DATA/base" restic -r "$repo" backup --host bench . || return 1
    set_b1; R_SIZE1=$(repo_bytes "$repo")
    WARM="$DATA/mutated $RESTIC_CACHE_DIR" measure restic-backup2 "$DATA/mutated" restic -r "$repo" backup --host bench . || return 1
    set_b2; R_SIZE2=$(repo_bytes "$repo")
    mkdir -p "$RD/restore-restic"
    WARM="$repo $RESTIC_CACHE_DIR" measure restic-restore "$RD" restic -r "$repo" restore latest --path "$DATA/mutated" --target "$RD/restore-restic" || return 1
    set_r; verify restic "$RD/restore-restic"
    WARM="$repo $RESTIC_CACHE_DIR" measure restic-check "$RD" restic -r "$repo" check --read-data || return 1
    set_c
}

tool_borg() {
    local repo=$RD/repo-borg
    export BORG_PASSPHRASE=$PW BORG_BASE_DIR=$RD/borg-home
    borg init --encryption=repokey-blake2 "$repo" >"$RD/borg-init.log" 2>&1 || return 1
    WARM=$DATA/base measure borg-backup1 "$DATA/base" borg create --stats --compression zstd,3 "$repo::base" . || return 1
    set_b1; R_SIZE1=$(repo_bytes "$repo")
    WARM="$DATA/mutated $BORG_BASE_DIR" measure borg-backup2 "$DATA/mutated" borg create --stats --compression zstd,3 "$repo::mutated" . || return 1
    set_b2; R_SIZE2=$(repo_bytes "$repo")
    mkdir -p "$RD/restore-borg"
    WARM="$repo $BORG_BASE_DIR" measure borg-restore "$RD/restore-borg" borg extract "$repo::mutated" || return 1
    set_r; verify borg "$RD/restore-borg"
    WARM="$repo $BORG_BASE_DIR" measure borg-check "$RD" borg check --verify-data "$repo" || return 1
    set_c
}

set_b1() { B1_WALL=$M_WALL B1_CPU=$M_CPU B1_RSS=$M_RSS; }
set_b2() { B2_WALL=$M_WALL B2_CPU=$M_CPU B2_RSS=$M_RSS; }
set_r() { R_WALL=$M_WALL R_CPU=$M_CPU R_RSS=$M_RSS; }
set_c() { C_WALL=$M_WALL C_CPU=$M_CPU; }

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
# BLAKE3 on one thread (b3sum over the sample 32 times in one process, its user CPU time, so
# reading the file is not counted): the chunk ids of a version-2 repository are its keyed hash,
# as fast as the plain one.
b3_mbs() {
    local user files=()
    for ((i = 0; i < 32; i++)); do files+=("$SAMPLE"); done
    user=$({ /usr/bin/time -f '%U' b3sum --num-threads 1 --no-names "${files[@]}" >/dev/null; } 2>&1 | tail -n 1)
    awk -v s="$(stat -c %s "$SAMPLE")" -v u="$user" 'BEGIN {if (u > 0) printf "%.0f", s * 32 / u / 1e6; else print "?"}'
}
B3_MBS=$(b3_mbs)
# zstd -b rewrites one progress line with \r ("|-name : 33554432 -> 9000000 (x3.728), 250.0 MB/s, 900.0 MB/s");
# the speeds shown are the best so far, so take the largest of the lines carrying both speeds.
# zstd_bench LEVEL: sets Z_C, Z_D (compress, decompress MB/s), Z_RATIO and Z_BOUND: what a backup
# does to every byte, in series on one core (each file's SHA-256, each chunk's BLAKE3 id, zstd,
# AES-GCM).
zstd_bench() {
    local lines
    lines=$(zstd -b"$1" -i2 "$SAMPLE" 2>&1 | tr '\r' '\n' | grep 'MB/s.*MB/s' || true)
    Z_C=$(echo "$lines" | awk -F, '{v = $(NF-1) + 0; if (v > m) m = v} END {if (m) print m}')
    Z_D=$(echo "$lines" | awk -F, '{v = $NF + 0; if (v > m) m = v} END {if (m) print m}')
    Z_RATIO=$(echo "$lines" | tail -n 1 | grep -o '(x[0-9.]*)' | tr -d '()' || true)
    Z_BOUND=$(awk -v a="$SHA_MBS" -v b="$Z_C" -v c="$AES_MBS" -v d="$B3_MBS" 'BEGIN {if (a > 0 && b > 0 && c > 0 && d > 0) printf "%.0f", 1 / (1/a + 1/b + 1/c + 1/d); else print "?"}')
}
PHYS="physical bound (1 core, MB/s): SHA-256 ${SHA_MBS:-?}, AES-256-GCM ${AES_MBS:-?} (openssl speed -evp, 16 KiB blocks), BLAKE3 ${B3_MBS:-?} (b3sum, 1 thread)"
declare -A BOUNDS=()
for level in 1 3; do
    zstd_bench "$level"
    BOUNDS[$level]=$Z_BOUND
    PHYS+="; zstd -$level compress ${Z_C:-?}, decompress ${Z_D:-?} on the text part (ratio ${Z_RATIO:-?}), SHA-256 + BLAKE3 + zstd-$level + AES-GCM in series ~$Z_BOUND"
done
echo "$PHYS"

# ---------------------------------------------------------------- run: REPEAT interleaved rounds
# RES[tool.round] = "b1w b1c b1r b2w b2c b2r rw rc rr added repo check blobs bytes-per-blob cw cc repo1"
# (cw, cc: wall and CPU seconds of reading the whole repository back: check --read-data;
# repo1: repository bytes after the first backup, repo: after both)
# ("-" for what did not run; blobs and bytes per blob only for bulwark).
declare -A RES=()
for ((round = 1; round <= REPEAT; round++)); do
    RD=$RUN/round-$round
    LOG_DIR=$RD
    mkdir -p "$RD"
    # Each round starts with the next tool: whoever runs first after the previous round's
    # restores was measured slower (more system time), whatever the tool.
    read -r -a order <<<"$TOOLS"
    shift_by=$(((round - 1) % ${#order[@]}))
    order=("${order[@]:shift_by}" "${order[@]:0:shift_by}")
    for tool in "${order[@]}"; do
        echo "== round $round/$REPEAT: $tool"
        B1_WALL=- B1_CPU=- B1_RSS=- B2_WALL=- B2_CPU=- B2_RSS=- R_WALL=- R_CPU=- R_RSS=- V=FAIL
        R_SIZE1=0 R_SIZE2=0 IDX_BLOBS=- IDX_BPB=- C_WALL=- C_CPU=-
        if ! "tool_$tool"; then echo "  $tool: a step failed (logs in $RD)"; V=ERROR; fi
        added=- repo=- repo1=-
        if [[ $B1_WALL != - ]]; then repo1=$R_SIZE1; fi
        if [[ $B2_WALL != - ]]; then added=$((R_SIZE2 - R_SIZE1)) repo=$R_SIZE2; fi
        RES[$tool.$round]="$B1_WALL $B1_CPU $B1_RSS $B2_WALL $B2_CPU $B2_RSS $R_WALL $R_CPU $R_RSS $added $repo $V $IDX_BLOBS $IDX_BPB $C_WALL $C_CPU $repo1"
        # A tmpfs has no ext4 inode allocator to upset (see bench_settle): free the memory now.
        if [[ $BENCH_FS == tmpfs && $KEEP != 1 ]]; then
            [[ $V == PASS ]] && bench_delete "$RD/restore-$tool"
            bench_delete "$RD/repo-$tool"
        fi
    done
done

# Repositories and restored trees go only now: deleting ~20k files between steps makes ext4's
# inode allocator search past the recently deleted inodes (perf: find_inode_bit,
# recently_deleted), which tripled the system time of every tool's next restore (see
# bench_settle).
if [[ $KEEP != 1 ]]; then
    for ((round = 1; round <= REPEAT; round++)); do
        for tool in $TOOLS; do
            [[ ${RES[$tool.$round]} == *" PASS "* ]] && bench_delete "$RUN/round-$round/restore-$tool"
            bench_delete "$RUN/round-$round/repo-$tool"
        done
    done
fi

# ---------------------------------------------------------------- medians
# summarize TOOL: sets S_<field> to the median over the rounds of each RES field and S_check
# to PASS if every round passed, else "FAIL (k/N PASS)" or "ERROR (k/N PASS)".
FIELDS=(b1w b1c b1r b2w b2c b2r rw rc rr added repo check blobs bpb cw cc repo1)
summarize() {
    local tool=$1 round i f pass=0 worst=FAIL
    local -a row vals
    local -A col=()
    for ((round = 1; round <= REPEAT; round++)); do
        read -r -a row <<<"${RES[$tool.$round]}"
        for i in "${!FIELDS[@]}"; do col[${FIELDS[$i]}]+=" ${row[$i]}"; done
        case ${row[11]} in PASS) pass=$((pass + 1));; ERROR) worst=ERROR;; esac
    done
    for f in "${FIELDS[@]}"; do
        [[ $f == check ]] && continue
        read -r -a vals <<<"${col[$f]}"
        printf -v "S_$f" '%s' "$(median "${vals[@]}")"
    done
    if ((pass == REPEAT)); then S_check=PASS; else S_check="$worst ($pass/$REPEAT PASS)"; fi
}

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
NCORES=$(nproc)

{
echo
echo "== results on $BENCH_FS_SHOW ($BENCH_DIR, BENCH_FS=$BENCH_FS): SCALE=$SCALE MiB, base $(awk "BEGIN {printf \"%.1f\", $BASE_BYTES/1048576}") MiB in $(tree_files "$DATA/base") files," \
     "mutated $(awk "BEGIN {printf \"%.1f\", $MUT_BYTES/1048576}") MiB in $(tree_files "$DATA/mutated") files ($(jq -r '.changed_fraction * 100' "$DATA/mutate.json")% of bytes edited)"
echo "   $versions"
echo "   settings: bulwark zstd level 1 (default), bulwark-z3 zstd level 3; restic repo v2, compression auto (default); borg repokey-blake2, --compression zstd,3"
echo "   REPEAT=$REPEAT rounds, tools interleaved (round 1 runs every tool, then round 2 starting with the next tool, ...), each with a fresh repository;"
echo "   every figure is the median over the rounds (MB/s and MB per CPU-s from the median times); check = PASS only if every round passed."
echo "   MB = 10^6 bytes; MB/s = logical bytes of the tree / wall time (incl. a final sync); CPU-s = user+sys of the process tree;"
echo "   added = repository growth (du -sb) from the second backup; repo1 = repository size after the first backup, repo = after both."
echo "   Everything (data set, repositories, restores, caches) on $BENCH_FS_SHOW in $BENCH_DIR. Host: $NCORES cores."
echo
hdr='%-8s | %8s %7s %7s %8s %6s | %8s %9s %6s | %8s %7s %6s | %8s %8s | %s\n'
printf "$hdr" "" "backup1" "" "" "MB per" "RSS" "backup2" "added" "" "restore" "" "RSS" "repo1" "repo" "restore"
printf "$hdr" tool s MB/s CPU-s CPU-s MiB s MiB "%" s MB/s MiB MiB MiB check
printf -- '---------+------------------------------------------+----------------------------+-------------------------+-------------------+--------\n'
for tool in $TOOLS; do
    summarize "$tool"
    awk -v t="$tool" -v b1w="$S_b1w" -v b1c="$S_b1c" -v b1r="$S_b1r" -v b2w="$S_b2w" -v b2r="$S_b2r" \
        -v rw="$S_rw" -v rr="$S_rr" -v added="$S_added" -v repo="$S_repo" -v repo1="$S_repo1" -v v="$S_check" \
        -v base="$BASE_BYTES" -v mut="$MUT_BYTES" -v fmt="$hdr" 'BEGIN {
        num = "^[0-9.]+$"
        f1 = (b1w ~ num) ? sprintf("%.2f", b1w) : "-"
        m1 = (b1w ~ num && b1w > 0) ? sprintf("%.1f", base / b1w / 1e6) : "-"
        c1 = (b1c ~ num) ? sprintf("%.2f", b1c) : "-"
        e1 = (b1c ~ num && b1c > 0) ? sprintf("%.1f", base / b1c / 1e6) : "-"
        r1 = (b1r ~ num) ? sprintf("%.0f", b1r) : "-"
        f2 = (b2w ~ num) ? sprintf("%.2f", b2w) : "-"
        r2 = (b2r ~ num) ? sprintf("%.0f", b2r) : "-"
        ad = (added ~ num) ? sprintf("%.2f", added / 1048576) : "-"
        ap = (added ~ num) ? sprintf("%.1f", added * 100 / mut) : "-"
        fr = (rw ~ num) ? sprintf("%.2f", rw) : "-"
        mr = (rw ~ num && rw > 0) ? sprintf("%.1f", mut / rw / 1e6) : "-"
        r3 = (rr ~ num) ? sprintf("%.0f", rr) : "-"
        rs = (repo ~ num && repo > 0) ? sprintf("%.1f", repo / 1048576) : "-"
        s1 = (repo1 ~ num && repo1 > 0) ? sprintf("%.1f", repo1 / 1048576) : "-"
        printf fmt, t, f1, m1, c1, e1, r1, f2, ad, ap, fr, mr, r3, s1, rs, v
    }'
done

if has_tool bulwark; then
    summarize bulwark
    BW=("$S_b1w" "$S_b2w" "$S_rw" "$S_added" "$S_repo" "$S_b1r" "$S_b2r" "$S_rr" "$S_repo1")
    BW_BLOBS=$S_blobs BW_BPB=$S_bpb
    others=()
    for tool in $TOOLS; do [[ $tool == bulwark ]] || others+=("$tool"); done
    if ((${#others[@]})); then
        echo
        echo "ratios, bulwark vs each (medians). speed = their wall time / bulwark's (>1: bulwark faster);"
        echo "added, repo1 (after the first backup), repo (after both) = bulwark's bytes / theirs (<1: bulwark smaller);"
        echo "peak RSS = largest of the three steps, bulwark / theirs."
        rhdr='%-12s %9s %9s %9s %9s %9s %9s   %s\n'
        printf "$rhdr" "bulwark vs" "backup1" "backup2" "restore" "added" "repo1" "repo" "peak RSS MiB"
        printf "$rhdr" "" "speed" "speed" "speed" "bytes" "size" "size" "bulwark/theirs"
        for tool in "${others[@]}"; do
            summarize "$tool"
            awk -v t="$tool" -v fmt="$rhdr" \
                -v ob1="${BW[0]}" -v ob2="${BW[1]}" -v orw="${BW[2]}" -v oad="${BW[3]}" -v orp="${BW[4]}" \
                -v or1="${BW[5]}" -v or2="${BW[6]}" -v or3="${BW[7]}" -v os1="${BW[8]}" \
                -v tb1="$S_b1w" -v tb2="$S_b2w" -v trw="$S_rw" -v tad="$S_added" -v trp="$S_repo" -v ts1="$S_repo1" \
                -v tr1="$S_b1r" -v tr2="$S_b2r" -v tr3="$S_rr" 'BEGIN {
                num = "^[0-9.]+$"
                # ratio(a, b) = a / b as "1.23x", "-" when either is missing or b is 0
                printf fmt, t, ratio(tb1, ob1), ratio(tb2, ob2), ratio(trw, orw), ratio(oad, tad), ratio(os1, ts1), ratio(orp, trp), rss()
            }
            function ratio(a, b) { return (a ~ num && b ~ num && b > 0) ? sprintf("%.2fx", a / b) : "-" }
            function peak(a, b, c,   m) { m = -1; if (a ~ num && a > m) m = a; if (b ~ num && b > m) m = b; if (c ~ num && c > m) m = c; return m < 0 ? "-" : m }
            function rss(   o, x) {
                o = peak(or1, or2, or3); x = peak(tr1, tr2, tr3)
                return sprintf("%s / %s (%s)", o == "-" ? o : sprintf("%.0f", o), x == "-" ? x : sprintf("%.0f", x), ratio(o, x))
            }'
        done
    fi
fi

echo
echo "reading everything back: bulwark check --read-data, restic check --read-data, borg check --verify-data (medians);"
echo "check MB/s = repository bytes (after both backups) / wall; restore MB/s = logical bytes of the mutated tree / wall."
chdr='%-12s %8s %9s %8s %10s   %s\n'
printf "$chdr" tool "check s" "check MB/s" "CPU-s" "restore MB/s" "check speed: their wall / bulwark's"
summarize bulwark 2>/dev/null
BW_CW=${S_cw:--}
for tool in $TOOLS; do
    summarize "$tool"
    awk -v t="$tool" -v fmt="$chdr" -v cw="$S_cw" -v cc="$S_cc" -v repo="$S_repo" -v rw="$S_rw" -v mut="$MUT_BYTES" -v bw="$BW_CW" 'BEGIN {
        num = "^[0-9.]+$"
        s = (cw ~ num) ? sprintf("%.2f", cw) : "-"
        m = (cw ~ num && cw > 0 && repo ~ num) ? sprintf("%.1f", repo / cw / 1e6) : "-"
        c = (cc ~ num) ? sprintf("%.2f", cc) : "-"
        r = (rw ~ num && rw > 0) ? sprintf("%.1f", mut / rw / 1e6) : "-"
        x = (t != "bulwark" && cw ~ num && bw ~ num && bw > 0) ? sprintf("%.2fx", cw / bw) : ""
        printf fmt, t, s, m, c, r, x
    }'
done

echo
echo "$PHYS"
if has_tool bulwark; then
    for tool in bulwark bulwark-z3; do
        has_tool "$tool" || continue
        summarize "$tool"
        level=1; [[ $tool == bulwark-z3 ]] && level=3
        awk -v t="$tool" -v l="$level" -v b1w="$S_b1w" -v b1c="$S_b1c" -v bound="${BOUNDS[$level]}" -v n="$NCORES" -v base="$BASE_BYTES" 'BEGIN {
            num = "^[0-9.]+$"
            if (!(bound ~ num && bound > 0 && b1w ~ num && b1w > 0 && b1c ~ num && b1c > 0)) {
                print t " vs the physical bound: - (no bound or no backup1)"; exit
            }
            e = base / b1c / 1e6; s = base / b1w / 1e6
            printf "%s vs the zstd-%d bound: backup1 %.1f MB per CPU-s = %.0f%% of the 1-core bound (%d MB/s);", t, l, e, 100 * e / bound, bound
            printf " %.1f MB/s wall = %.0f%% of the %d-core bound (%d MB/s)\n", s, 100 * s / (n * bound), n, n * bound
        }'
    done
    summarize bulwark
    BW_BLOBS=$S_blobs BW_BPB=$S_bpb
    awk -v n="$BW_BLOBS" -v b="$BW_BPB" 'BEGIN {
        num = "^[0-9.]+$"
        printf "index: %s blobs, %s bytes per blob in memory (bulwark repo stats --json after the second backup; medians)\n",
            (n ~ num) ? sprintf("%.0f", n) : "-", (b ~ num) ? sprintf("%.0f", b) : "-"
    }'
fi
echo
echo "per-round detail (wall s / CPU s / peak RSS MiB; added, repo1 (after backup 1) and repo (after both) in MiB):"
mib() { awk -v b="$1" 'BEGIN {if (b ~ /^[0-9]+$/) printf "%.2f", b / 1048576; else print "-"}'; }
for tool in $TOOLS; do
    for ((round = 1; round <= REPEAT; round++)); do
        read -r b1w b1c b1r b2w b2c b2r rw rc rr added repo v blobs bpb cw cc repo1 <<<"${RES[$tool.$round]}"
        idx=""
        [[ $tool == bulwark ]] && idx="  index $blobs blobs, $bpb B/blob"
        printf '  %-8s round %d  backup1 %s/%s/%s  backup2 %s/%s/%s  restore %s/%s/%s  check %s/%s  added %s  repo1 %s  repo %s  %s%s\n' \
            "$tool" "$round" "$b1w" "$b1c" "$b1r" "$b2w" "$b2c" "$b2r" "$rw" "$rc" "$rr" "$cw" "$cc" "$(mib "$added")" "$(mib "$repo1")" "$(mib "$repo")" "$v" "$idx"
    done
done
echo "logs: $RUN/round-N"
} | tee "$RUN/results.txt"
