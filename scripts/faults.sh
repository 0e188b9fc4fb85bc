#!/usr/bin/env bash
# faults.sh — the fault suite of /work/shared/RELIABILITY.md ("The fault suite"),
# run against the real binary under mpirun, printed as ONE table:
#   fault | trials | outcome | max time to exit (s) | data lost | result
#
# Usage: scripts/faults.sh [--short]
#   --short   fewer trials per row (CI: under 90 s on 2 cores); the full run
#             takes several minutes.
#   DDPTRAIN=path/to/ddptrain (default build/ddptrain), DDP_BUILD_DIR (default:
#   the binary's directory; holds make_bad_files and h5compare).
#   DDP_FAULTS_KEEP=1 keeps the work directory; DDP_FAULTS_ROWS="1 5" runs
#   only those rows (for debugging; the table then has only those rows).
# Exit status: 0 when every row meets its expectation (a row that cannot run
# here, e.g. no tmpfs mount, is marked "skip" and does not fail), 1 otherwise.
#
# Every mpirun runs under `timeout` with a bound; each row is one function; at
# the end no ddptrain/mpirun process of this run may be left (only processes
# whose command line names this run's work directory are looked at, so other
# jobs on the machine do not count, and only those are killed, by pid).
# Per-rank exit codes are recorded by a wrapper (as tests/integration/lib.sh's
# run_ranks) wherever "every rank exits N" is claimed; kill/stop trials use a
# plain mpirun, whose own exit code is what a scheduler sees.
set -uo pipefail

SHORT=0
case "${1:-}" in
--short) SHORT=1 ;;
"") ;;
-h | --help)
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
*)
    echo "usage: $0 [--short]" >&2
    exit 2
    ;;
esac

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DDPTRAIN="${DDPTRAIN:-$REPO/build/ddptrain}"
DDPTRAIN="$(cd "$(dirname "$DDPTRAIN")" && pwd)/$(basename "$DDPTRAIN")"
DDP_BUILD_DIR="${DDP_BUILD_DIR:-$(dirname "$DDPTRAIN")}"
CMP="$DDP_BUILD_DIR/h5compare"
DDP_COMM=$(basename "$DDPTRAIN" | cut -c1-15) # the process name pgrep sees
MAKER="$DDP_BUILD_DIR/make_bad_files"
for tool in "$DDPTRAIN" "$CMP" "$MAKER"; do
    [ -x "$tool" ] || { echo "faults.sh: $tool not found; build first (cmake --build build)" >&2; exit 2; }
done
for tool in mpirun timeout h5dump h5ls pgrep; do
    command -v "$tool" >/dev/null || { echo "faults.sh: '$tool' is not installed" >&2; exit 2; }
done
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
# the PML Open MPI selects here anyway, named: no 0.2 s probe of cm at each start (README, "Tests")
export OMPI_MCA_pml="${OMPI_MCA_pml:-ob1}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" # ranks share the cores
export LC_ALL=C                                 # '.' in $EPOCHREALTIME and awk numbers

WORK="$(mktemp -d "${TMPDIR:-/tmp}/ddp-faults.XXXXXX")"
MUT_PID=""
T_START=$EPOCHREALTIME

# ------------------------------------------------------------------ helpers
now() { echo "$EPOCHREALTIME"; }
since() { awk -v a="$EPOCHREALTIME" -v b="$1" 'BEGIN { printf "%.2f", a - b }'; }
fmax() { awk -v a="$1" -v b="$2" 'BEGIN { print (b + 0 > a + 0 ? b : a) }'; }
fle() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 <= b + 0) }'; }
rand_delay() { awk -v s="$RANDOM" -v lo="$1" -v hi="$2" 'BEGIN { printf "%.2f", lo + (s % 1000) / 1000.0 * (hi - lo) }'; }
say() { echo "[faults $(since "$T_START")s] $*" >&2; }
note() { echo "    $*" >&2; }

# our_procs [PATTERN]: pids of ddptrain / mpirun / orted processes whose command
# line contains PATTERN (a fixed string; default: this run's work directory)
our_procs() {
    local pat="${1:-$WORK}" p
    for p in $(pgrep -x "$DDP_COMM"; pgrep -x mpirun; pgrep -x orterun; pgrep -x orted); do
        tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -qF -- "$pat" && echo "$p"
    done
}
# rank_pids PATTERN: the ddptrain processes (ranks) of one job
rank_pids() {
    local p
    for p in $(pgrep -x "$DDP_COMM"); do
        tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -qF -- "$1" && echo "$p"
    done
}
rank_of() { tr '\0' '\n' 2>/dev/null <"/proc/$1/environ" | sed -n 's/^OMPI_COMM_WORLD_RANK=//p'; }
# wait_ranks PATTERN N: fills PIDS with the job's N ranks (waits up to 15 s)
wait_ranks() {
    local i
    PIDS=()
    for i in $(seq 300); do
        mapfile -t PIDS < <(rank_pids "$1")
        [ "${#PIDS[@]}" -ge "$2" ] && return 0
        sleep 0.05
    done
    return 1
}
# gone PATTERN: every process of that job has ended within 5 s; otherwise kill
# what is left (by pid) and return 1
gone() {
    local i left
    for i in $(seq 50); do
        [ -z "$(our_procs "$1")" ] && return 0
        sleep 0.1
    done
    left=$(our_procs "$1")
    [ -z "$left" ] && return 0
    note "left behind: $(for p in $left; do tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | cut -c1-120; echo; done)"
    kill -KILL $left 2>/dev/null
    return 1
}

# run_ranks N SECONDS -- cmd...: cmd on N ranks under mpirun with a time limit.
# Sets RC (largest per-rank code, or mpirun's own code, e.g. 124 on timeout,
# when a rank did not report), RANK_RCS ("2", "0 3", "missing(1/2)"),
# ELAPSED, OUT, ERR. The wrapper exits 0 so that mpirun does not kill the
# sibling ranks before they record their own code.
run_ranks() {
    local n="$1" limit="$2"; shift 3
    local rcdir; rcdir=$(mktemp -d "$WORK/run.XXXXXX")
    OUT="$rcdir/out"; ERR="$rcdir/err"
    local t0; t0=$(now)
    # TMPDIR per run: Open MPI jobs started at once in one TMPDIR can race to
    # create its session directory (seen in scripts/mutants.sh)
    TMPDIR="$rcdir" timeout --kill-after=5 "$limit" mpirun -n "$n" bash -c \
        '"$@"; echo $? > "'"$rcdir"'/rc.$OMPI_COMM_WORLD_RANK"' _ "$@" </dev/null >"$OUT" 2>"$ERR"
    RC=$?
    ELAPSED=$(since "$t0")
    collect_rcs "$rcdir" "$n"
}
collect_rcs() {
    local got; got=$(find "$1" -maxdepth 1 -name 'rc.*' | wc -l)
    if [ "$got" -ne "$2" ]; then
        RANK_RCS="missing($got/$2)"
    else
        RANK_RCS=$(cat "$1"/rc.* | sort -n -u | tr '\n' ' ' | sed 's/ $//')
        RC=$(cat "$1"/rc.* | sort -n | tail -1)
    fi
}
# bg_start plain|ranks N SECONDS -- cmd...: the same in the background (BG_PID).
# plain: mpirun's own exit code only (kills and stops: a killed rank must be
# seen by mpirun). bg_wait sets RC, RANK_RCS (ranks mode), OUT, ERR.
bg_start() {
    local mode="$1" n="$2" limit="$3"; shift 4
    BG_DIR=$(mktemp -d "$WORK/bg.XXXXXX")
    BG_N="$n"; BG_MODE="$mode"
    if [ "$mode" = plain ]; then
        (timeout --kill-after=5 "$limit" mpirun -n "$n" "$@" </dev/null >"$BG_DIR/out" 2>"$BG_DIR/err"
            echo $? >"$BG_DIR/rc") &
    else
        (timeout --kill-after=5 "$limit" mpirun -n "$n" bash -c \
            '"$@"; echo $? > "'"$BG_DIR"'/rc.$OMPI_COMM_WORLD_RANK"' _ "$@" </dev/null >"$BG_DIR/out" 2>"$BG_DIR/err"
            echo $? >"$BG_DIR/rc") &
    fi
    BG_PID=$!
}
bg_wait() {
    wait "$BG_PID" 2>/dev/null
    RC=$(cat "$BG_DIR/rc" 2>/dev/null || echo 255)
    OUT="$BG_DIR/out"; ERR="$BG_DIR/err"
    RANK_RCS=""
    [ "$BG_MODE" = ranks ] && collect_rcs "$BG_DIR" "$BG_N"
}

newest() { ls "$1".step*.h5 2>/dev/null | sort | tail -1; }
step_of() { basename "$1" | sed 's/.*step0*\([0-9][0-9]*\)\.h5$/\1/'; }
ckpt_name() { printf '%s.step%012d.h5' "$1" "$2"; }
info_ok() { timeout 30 "$DDPTRAIN" info "$1" >/dev/null 2>&1; }
# same A B: weights, bias and every optimizer state buffer bitwise equal
same() {
    local d
    for d in $(h5ls -r "$2" 2>/dev/null | awk '$2 == "Dataset" && ($1 ~ /^\/model\// || $1 ~ /^\/optimizer\//) { print $1 }'); do
        timeout 30 "$CMP" "$1" "$d" "$2" "$d" 0 0 >/dev/null 2>&1 || return 1
    done
    timeout 30 "$CMP" "$1" /model/weight "$2" /model/weight 0 0 >/dev/null 2>&1
}
# check_saved_one F (run by xargs -P: `ddptrain info` costs ~0.3 s, mostly
# MPI_Init): prints F and why, unless it passes `ddptrain info` (checksums)
# and every dataset value is finite (h5dump without attributes shows no
# nan/inf)
check_saved_one() {
    local dump out rc bad
    out=$(timeout 60 "$DDPTRAIN" info "$1" 2>&1 >/dev/null)
    rc=$?
    if [ "$rc" -ne 0 ]; then
        echo "$1 (ddptrain info exit $rc$([ "$rc" -eq 124 ] && echo ', timed out'): $(echo "$out" | grep -m1 . | cut -c1-200))"
    elif ! dump=$(timeout 60 h5dump -A 0 "$1" 2>/dev/null); then
        echo "$1 (h5dump failed: $(timeout 60 h5dump -A 0 "$1" 2>&1 >/dev/null | grep -m1 . | cut -c1-200))"
    elif bad=$(echo "$dump" | grep -m1 -iwE 'nan|inf'); then
        echo "$1 (holds a non-finite value: $(echo "$bad" | cut -c1-200))"
    fi
}
export -f check_saved_one
# flip_one DIR POS (run by xargs -P): DIR/orig.h5 with byte POS XOR 0xa5; prints
# "detected" (info refuses it), "harmless" (info output and every dataset value
# unchanged) or "altered POS: what info shows differently"
flip_one() {
    local w="$1/flip.$2" b
    mkdir -p "$w" && cp "$1/orig.h5" "$w/orig.h5"
    b=$(od -An -tu1 -j"$2" -N1 "$1/orig.h5" | tr -d ' ')
    printf "\\x$(printf %02x $((b ^ 0xa5)))" | dd of="$w/orig.h5" bs=1 seek="$2" conv=notrunc status=none
    local rc
    (cd "$w" && timeout 30 "$DDPTRAIN" info orig.h5 >info 2>/dev/null; echo $? >rc) 2>/dev/null
    rc=$(cat "$w/rc")
    if [ "$rc" -gt 128 ] && [ "$rc" -ne 124 ]; then
        echo "detected crash $2: info died with signal $((rc - 128))" # a crash (inside libhdf5 so far)
    elif [ "$rc" -ne 0 ]; then
        echo detected
    elif cmp -s "$w/info" "$1/orig.info" && (cd "$w" && timeout 30 h5dump -A 0 orig.h5 2>&1 | cmp -s - "$1/orig.dump"); then
        echo harmless
    elif cmp -s "$w/info" "$1/orig.info" && same "$w/orig.h5" "$1/orig.h5"; then
        echo harmless # h5dump is stricter than the library reads ddptrain does; the values are equal
    else
        echo "altered $2: $(diff "$1/orig.info" "$w/info" | grep '^[<>]' | head -2 | tr -s ' ' | tr '\n' ' ')"
    fi
    rm -rf "$w"
}
export -f check_saved_one flip_one same
export DDPTRAIN CMP
# poke FILE DATASET ROW COL BYTES: overwrite one float32 element of a
# contiguous 2-D dataset in place (BYTES as printf escapes, little-endian)
poke() {
    local off cols
    off=$(h5dump -p -H -d "$2" "$1" | awk '/OFFSET/ { print $2; exit }')
    cols=$(h5dump -H -d "$2" "$1" | sed -n 's/.*DATASPACE  SIMPLE { ( [0-9]*, \([0-9]*\) ).*/\1/p')
    printf "$5" | dd of="$1" bs=1 seek=$((off + ($3 * cols + $4) * 4)) conv=notrunc status=none
}

# rows of the table: one file per row (rows may run in parallel lanes)
FAILED=0
add_row() { # add_row "fault" trials "outcome" max_s "data lost" ok|FAIL|skip
    mkdir -p "$WORK/rows"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$ROW_NO" "$1" "$2" "$3" "$4" "$5" "$6" >"$WORK/rows/$(printf %02d "$ROW_NO")"
    say "row done: $1 -> $6 ($3; $5)"
}
verdict() { [ "$1" -eq 0 ] && echo ok || echo FAIL; }

cleanup() {
    local left
    [ -n "$MUT_PID" ] && kill "$MUT_PID" 2>/dev/null # the timeout around mutants.sh, if still running
    left=$(our_procs)
    [ -n "$left" ] && kill -KILL $left 2>/dev/null
    mountpoint -q "$WORK/r9" 2>/dev/null && umount "$WORK/r9" 2>/dev/null # row 9's tmpfs (maybe set in a lane)
    if [ "${DDP_FAULTS_KEEP:-0}" = 1 ]; then echo "work directory kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pick() { [ "$SHORT" = 1 ] && echo "$2" || echo "$1"; } # pick FULL SHORT

# ------------------------------------------------------------------ data
say "mode: $([ $SHORT = 1 ] && echo short || echo full); binary: $DDPTRAIN; work: $WORK"
D="$WORK/d.h5"   # softmax, 2000 x 16: 40 steps per epoch at batch 50
G="$WORK/lin.h5" # linear, 1000 x 8 (row 900 lies in the last rank's shard for 2 and 3 ranks)
run_ranks 2 60 -- "$DDPTRAIN" gen softmax --classes 4 --rows 2000 --features 16 --seed 8 --out "$D"
[ "$RC" -eq 0 ] || { echo "faults.sh: gen failed: $(cat "$ERR")" >&2; exit 1; }
run_ranks 2 60 -- "$DDPTRAIN" gen linear --rows 1000 --features 8 --seed 1 --out "$G"
[ "$RC" -eq 0 ] || { echo "faults.sh: gen failed: $(cat "$ERR")" >&2; exit 1; }
# runs until a kill or signal stops it (--epochs is allowed to change on resume)
LONG=(train --data "$D" --model softmax --optimizer adam --lr 0.01 --batch-size 50 --epochs 100000 --seed 1)

# ============================================================ 1. kill -9 random
fault_kill_random() {
    local trials; trials=$(pick 50 5)
    local CK="$WORK/r1/run" t n i victim rank t0 dt nw
    local nonzero=0 hangs=0 late=0 invalid=0 left=0 maxt=0 r0=0 rother=0 codes=""
    mkdir -p "$WORK/r1"
    run_ranks 2 60 -- "$DDPTRAIN" "${LONG[@]}" --quiet --max-steps 5 --checkpoint "$CK" # a first checkpoint
    for t in $(seq "$trials"); do
        n=$((2 + (t % 2))) # 2 and 3 ranks alternately
        bg_start plain "$n" 60 -- "$DDPTRAIN" "${LONG[@]}" --quiet --checkpoint "$CK" --checkpoint-every 5s \
            --keep 2 --resume
        if ! wait_ranks "$CK" "$n"; then note "trial $t: ranks did not start"; fi
        sleep "$(rand_delay 0.05 "$(pick 1.5 1.0)")"
        mapfile -t PIDS < <(rank_pids "$CK")
        victim=${PIDS[$((RANDOM % ${#PIDS[@]}))]:-}
        rank=$(rank_of "$victim")
        [ "$rank" = 0 ] && r0=$((r0 + 1)) || rother=$((rother + 1))
        t0=$(now)
        [ -n "$victim" ] && kill -KILL "$victim"
        bg_wait
        dt=$(since "$t0")
        maxt=$(fmax "$maxt" "$dt")
        codes="$codes $RC"
        # a hang: timeout (60 s) ended the job, not the kill
        if [ "$RC" -eq 124 ] || ! fle "$dt" 55; then hangs=$((hangs + 1)); fi
        [ "$RC" -ne 0 ] && [ "$RC" -ne 124 ] && nonzero=$((nonzero + 1))
        fle "$dt" 10 || late=$((late + 1))
        nw=$(newest "$CK")
        if [ -z "$nw" ] || ! info_ok "$nw"; then
            invalid=$((invalid + 1)); note "trial $t: newest checkpoint '${nw:-none}' does not load"
        fi
        gone "$CK" || left=$((left + 1))
    done
    codes=$(echo "$codes" | tr ' ' '\n' | grep . | sort -n | uniq -c | awk '{ printf "%s%s x%s", (NR > 1 ? ", " : ""), $2, $1 }')
    add_row "kill -9 a random rank at a random time (2-3 ranks)" "$trials" \
        "$nonzero/$trials exit non-zero (mpirun $codes), $hangs hangs, $late over 10 s, $left left behind; victim rank 0 ${r0}x, other ${rother}x" "$maxt" \
        "newest checkpoint not loading: $invalid/$trials" \
        "$(verdict $((trials - nonzero + hangs + late + invalid + left)))"
}

# ======================================================= 2. kill -9 inside a write
fault_kill_in_write() {
    local trials; trials=$(pick 20 3)
    local CK="$WORK/r2/run" t i r0 t0 dt before after prev_tmp tmp rc
    local nonzero=0 hangs=0 late=0 inwrite=0 intact=0 ignored=0 stale=0 left=0 maxt=0
    mkdir -p "$WORK/r2"
    run_ranks 2 60 -- "$DDPTRAIN" "${LONG[@]}" --quiet --max-steps 3 --checkpoint "$CK"
    for t in $(seq "$trials"); do
        prev_tmp=$(ls "$CK".step*.h5.tmp.* 2>/dev/null)
        before=$(newest "$CK")
        bg_start plain 2 60 -- "$DDPTRAIN" "${LONG[@]}" --progress off --checkpoint "$CK" --checkpoint-every 1s \
            --keep 2 --resume
        wait_ranks "$CK" 2 || note "trial $t: ranks did not start"
        r0=""
        for p in "${PIDS[@]}"; do [ "$(rank_of "$p")" = 0 ] && r0=$p; done
        # rank 0 writes PATH.stepN.h5.tmp.<its pid>: kill it while that file exists
        for ((i = 0; i < 400000; i++)); do compgen -G "$CK.step*.h5.tmp.$r0" >/dev/null && break; done
        t0=$EPOCHREALTIME
        [ -n "$r0" ] && kill -KILL "$r0"
        bg_wait
        dt=$(since "$t0")
        maxt=$(fmax "$maxt" "$dt")
        [ "$RC" -eq 124 ] && hangs=$((hangs + 1))
        [ "$RC" -ne 0 ] && [ "$RC" -ne 124 ] && nonzero=$((nonzero + 1))
        fle "$dt" 10 || late=$((late + 1))
        tmp=$(ls "$CK".step*.h5.tmp."$r0" 2>/dev/null)
        [ -n "$tmp" ] && inwrite=$((inwrite + 1))
        after=$(newest "$CK")
        if [ -n "$after" ] && info_ok "$after"; then intact=$((intact + 1)); else
            note "trial $t: newest checkpoint '${after:-none}' does not load"; fi
        # the job resumed from the newest complete checkpoint, not from a leftover temp file
        if grep -qF "resume: $before (step" "$OUT"; then ignored=$((ignored + 1)); else
            note "trial $t: did not resume from $before: $(grep '^resume' "$OUT" | head -1)"; fi
        # earlier temp files must be gone once a save has completed AND been followed by its clean-up
        # (the rotation after each save; the kill may land between a rename and the rotation): i.e. once
        # this job has got 2 saves beyond where it started
        if [ -n "$after" ] && [ "$(step_of "$after")" -ge $(($(step_of "$before") + 2)) ]; then
            for f in $prev_tmp; do [ -e "$f" ] && { stale=$((stale + 1)); note "trial $t: stale $f survived a save"; }; done
        fi
        gone "$CK" || left=$((left + 1))
    done
    # a final resume ignores the leftover and its save removes it
    local last; last=$(step_of "$(newest "$CK")")
    run_ranks 2 60 -- "$DDPTRAIN" "${LONG[@]}" --progress off --checkpoint "$CK" --resume --max-steps $((last + 2))
    rc=$RC
    local resumed_ok=0
    if [ "$rc" -eq 0 ] && grep -qF "resume: $(ckpt_name "$CK" "$last") (step" "$OUT" &&
        ! ls "$CK".step*.h5.tmp.* >/dev/null 2>&1 && info_ok "$(ckpt_name "$CK" $((last + 2)))"; then
        resumed_ok=1
    else
        note "final resume: rc=$rc, temp files: $(ls "$CK".step*.h5.tmp.* 2>/dev/null | wc -l)"
    fi
    local bad=$((trials - nonzero + hangs + late + (trials - intact) + (trials - ignored) + stale + left + 1 - resumed_ok))
    # at least half of the kills must really land inside a write, or the row proves nothing
    [ "$inwrite" -lt $(((trials + 1) / 2)) ] && bad=$((bad + 1))
    add_row "kill -9 during checkpoint write (rank 0, temp file open)" "$trials" \
        "$nonzero/$trials exit non-zero, $hangs hangs; $inwrite/$trials kills inside a write; leftover temp ignored by --resume $ignored/$trials, removed by the next save ($((1 - resumed_ok + stale)) stale)" \
        "$maxt" "previous checkpoint corrupted or lost: $((trials - intact))/$trials" "$(verdict $bad)"
}

# ========================================================= 3. SIGSTOP one rank
fault_sigstop() {
    local trials; trials=$(pick 5 1)
    local T=3 t n CK victim t0 dt ok=0 named=0 intact=0 left=0 maxt=0 codes=""
    for t in $(seq "$trials"); do
        n=$((2 + (t + 1) % 2)) # 2, 3, 2, ...
        CK="$WORK/r3/t$t/run"
        mkdir -p "$(dirname "$CK")"
        bg_start plain "$n" 60 -- "$DDPTRAIN" "${LONG[@]}" --quiet --step-timeout "$T" --checkpoint "$CK" \
            --checkpoint-every 500s
        for _ in $(seq 200); do [ -n "$(newest "$CK")" ] && break; sleep 0.05; done
        wait_ranks "$CK" "$n" || note "trial $t: ranks did not start"
        sleep "$(rand_delay 0 0.5)"
        victim=${PIDS[$((RANDOM % ${#PIDS[@]}))]}
        t0=$(now)
        kill -STOP "$victim"
        bg_wait
        dt=$(since "$t0")
        maxt=$(fmax "$maxt" "$dt")
        codes="$codes $RC"
        if [ "$RC" -eq 5 ] && fle "$dt" $((T + 5)); then ok=$((ok + 1)); else
            note "trial $t: rc=$RC after ${dt}s"; fi
        if grep -qE "watchdog: rank [0-9]+ made no progress for $T s at step [0-9]+ in phase '[a-z]+'" "$ERR"; then
            named=$((named + 1)); else note "trial $t: message: $(grep -m1 watchdog "$ERR")"; fi
        info_ok "$(newest "$CK")" && intact=$((intact + 1))
        gone "$CK" || left=$((left + 1))
    done
    add_row "one rank stops (SIGSTOP), --step-timeout $T (2-3 ranks)" "$trials" \
        "$ok/$trials exit 5 within $T+5 s, step and phase named $named/$trials, $left left behind (stopped rank incl.)" \
        "$maxt" "last checkpoint corrupted: $((trials - intact))/$trials" \
        "$(verdict $((trials - ok + trials - named + trials - intact + left)))"
}

# ================================================= 4. SIGTERM / SIGUSR1 (walltime)
fault_signal() {
    local reps; reps=$(pick 3 1)
    local t=0 sig CK victim t0 dt S done_steps end lost=0 ok7=0 eq=0 maxt=0 trials=0 left=0
    for _ in $(seq "$reps"); do for sig in TERM USR1; do
        t=$((t + 1)); trials=$((trials + 1))
        CK="$WORK/r4/t$t/run"
        mkdir -p "$(dirname "$CK")"
        bg_start ranks 2 60 -- "$DDPTRAIN" "${LONG[@]}" --progress off --checkpoint "$CK"
        for _ in $(seq 200); do [ -e "$CK.lock" ] && break; sleep 0.05; done
        wait_ranks "$CK" 2 || note "trial $t: ranks did not start"
        sleep "$(rand_delay 0.2 0.8)"
        victim=${PIDS[$((RANDOM % ${#PIDS[@]}))]}
        t0=$(now)
        kill -"$sig" "$victim"
        bg_wait
        dt=$(since "$t0")
        maxt=$(fmax "$maxt" "$dt")
        if [ "$RANK_RCS" = 7 ]; then ok7=$((ok7 + 1)); else note "trial $t SIG$sig: ranks [$RANK_RCS]"; fi
        S=$(step_of "$(newest "$CK")")
        done_steps=$(sed -n 's/^done: stopped by a signal after \([0-9]*\) steps.*/\1/p' "$OUT")
        if [ -z "$S" ] || [ -z "$done_steps" ]; then
            lost=$((lost + 1)); note "trial $t: checkpoint step '${S}' / steps done '${done_steps}'"; S=0
        else
            lost=$((lost + done_steps - S))
        fi
        gone "$CK" || left=$((left + 1))
        # continue to a fixed end and compare with an uninterrupted run to that end
        end=$((S + 20))
        run_ranks 2 120 -- "$DDPTRAIN" "${LONG[@]}" --progress off --checkpoint "$CK" --resume --max-steps "$end" \
            --save "$WORK/r4/t$t/resumed.h5"
        run_ranks 2 120 -- "$DDPTRAIN" "${LONG[@]}" --progress off --max-steps "$end" --save "$WORK/r4/t$t/full.h5"
        if same "$WORK/r4/t$t/resumed.h5" "$WORK/r4/t$t/full.h5"; then eq=$((eq + 1)); else
            note "trial $t: resumed weights differ from the uninterrupted run's"; fi
    done; done
    add_row "SIGTERM / SIGUSR1 to one rank before walltime" "$trials" \
        "$ok7/$trials all ranks exit 7 after the step + checkpoint; resumed = uninterrupted bitwise $eq/$trials" \
        "$maxt" "steps lost: $lost" "$(verdict $((trials - ok7 + trials - eq + lost + left)))"
}

# ============================================ 5. bad input seen by rank 1 only
fault_rank1_input() {
    local dir="$WORK/r5" cmd v bad pat msg n_msgs t=0 ok=0 maxt=0 fails=""
    mkdir -p "$dir"
    cp "$G" "$dir/good.h5"
    head -c $(($(stat -c %s "$G") / 2)) "$G" >"$dir/truncated.h5"
    printf 'x,y\n1,2\n' >"$dir/not_hdf5.h5"
    run_ranks 2 60 -- "$DDPTRAIN" gen linear --rows 1000 --features 5 --seed 1 --out "$dir/other_cols.h5"
    run_ranks 2 60 -- "$DDPTRAIN" gen linear --rows 900 --features 8 --seed 1 --out "$dir/other_rows.h5"
    for cmd in load train; do
        # variant:file:extra pattern the one message must contain (besides the path and "rank 1")
        for v in "missing:missing.h5:" "truncated:truncated.h5:" "wrong shape (5 columns):other_cols.h5:/X" \
            "wrong shape (900 rows):other_rows.h5:/X" "not HDF5:not_hdf5.h5:"; do
            t=$((t + 1))
            bad="${v#*:}"; pat="${bad#*:}"; bad="${bad%%:*}"
            run_ranks 2 30 -- bash -c 'if [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then D="$1"; else D="$2"; fi; shift 2
                exec "$@" --data "$D"' _ "$dir/$bad" "$dir/good.h5" "$DDPTRAIN" "$cmd" --model linear --quiet
            maxt=$(fmax "$maxt" "$ELAPSED")
            msg=$(grep 'ddptrain: error' "$ERR" | head -3)
            n_msgs=$(grep -c 'ddptrain: error' "$ERR")
            if [ "$RANK_RCS" = 2 ] && fle "$ELAPSED" 5 && [ "$n_msgs" -eq 1 ] && echo "$msg" | grep -qF "$bad" &&
                echo "$msg" | grep -qE "rank 1\b" && { [ -z "$pat" ] || echo "$msg" | grep -qF "$pat"; }; then
                ok=$((ok + 1))
            else
                fails="$fails; $cmd ${v%%:*}"
                note "$cmd, rank 1 sees ${v%%:*}: ranks [$RANK_RCS] ${ELAPSED}s, $n_msgs message(s): ${msg:-none}"
            fi
        done
    done
    add_row "rank 1's input missing / truncated / wrong shape / not HDF5 (load, train)" \
        "$t" "$ok/$t all ranks exit 2 within 5 s, one message naming path, rank 1 (and /X for shapes)${fails:+; failed:${fails#;}}" \
        "$maxt" "none (nothing written)" "$(verdict $((t - ok)))"
}

# ====================================================== 6. malformed HDF5 corpus
fault_corpus() {
    local dir="$WORK/r6" fifo="$WORK/r6/sentinel.fifo" f name n args t=0 accepted=0 hangs=0 other=0 maxt=0 cmd
    mkdir -p "$dir"
    mkfifo "$fifo"
    timeout 60 "$MAKER" "$dir" "$fifo" >/dev/null || { add_row "malformed HDF5 corpus" 0 "make_bad_files failed" - - FAIL; return; }
    head -c $(($(stat -c %s "$dir/ok.h5") / 2)) "$dir/ok.h5" >"$dir/truncated.h5"
    local list=("$dir/does_not_exist.h5")
    for f in "$dir"/*.h5; do list+=("$f"); done
    for f in "${list[@]}"; do
        name=$(basename "$f"); n=2; args=()
        case "$name" in
        ok.h5) continue ;; # the valid control, below
        ok_variants.h5) args=(--features /train/X --labels /train/y --model softmax --classes 2) ;;
        label_2.h5) args=(--model logistic) ;;
        label_frac.h5 | label_neg.h5) args=(--model softmax) ;;
        two_rows.h5) n=3 ;;
        esac
        # the files that name another file (pointed at a FIFO): train as well as load
        local cmds=(load)
        case "$name" in external_storage.h5 | virtual.h5 | external_link.h5 | soft_link.h5) cmds=(load train) ;; esac
        for cmd in "${cmds[@]}"; do
            t=$((t + 1))
            # three runs at a time (each is mostly mpirun start-up); each writes its own result line
            while [ "$(jobs -rp | wc -l)" -ge 3 ]; do wait -n; done # (no other job of this shell runs now)
            (run_ranks "$n" 15 -- "$DDPTRAIN" "$cmd" --data "$f" --quiet "${args[@]}"
                printf '%s\t%s\t%s\t%s\t%s\n' "$cmd $name" "$RANK_RCS" "$RC" "$ELAPSED" \
                    "$(head -c 300 "$ERR" | tr '\n' ' ')" >"$dir/result.$t") &
        done
    done
    wait
    local what rcs rc el msg
    for f in "$dir"/result.*; do
        IFS=$'\t' read -r what rcs rc el msg <"$f"
        maxt=$(fmax "$maxt" "$el")
        if [ "$rcs" = 2 ]; then :
        elif [ "$rcs" = 0 ]; then accepted=$((accepted + 1)); note "$what: ACCEPTED"
        elif [ "$rc" -eq 124 ] || [[ "$rcs" == missing* ]]; then hangs=$((hangs + 1)); note "$what: hang (${el}s)"
        else other=$((other + 1)); note "$what: ranks [$rcs]: $msg"; fi
    done
    [ "$(ls "$dir"/result.* | wc -l)" -eq "$t" ] || { other=$((other + 1)); note "some corpus runs reported nothing"; }
    # control: the valid file loads (the corpus is refused for its faults, not for nothing)
    run_ranks 2 15 -- "$DDPTRAIN" load --data "$dir/ok.h5" --quiet
    local control=$RC
    local fifo_ok=0; [ -p "$fifo" ] && fifo_ok=1
    add_row "malformed HDF5 corpus (make_bad_files, links/storage at a FIFO)" \
        "$t" "$((t - accepted - hangs - other))/$t exit 2 on every rank, $accepted accepted, $hangs hangs, $other other codes; FIFO never opened: $([ $fifo_ok = 1 ] && echo yes || echo NO); valid control loads: $([ "$control" -eq 0 ] && echo yes || echo NO)" \
        "$maxt" "none (read-only)" "$(verdict $((accepted + hangs + other + 1 - fifo_ok + (control != 0))))"
}

# ============================================================ 7. bit-flip mutants
# mutants_start: scripts/mutants.sh N in the background (--short: it overlaps
# the other rows, to stay within the CI budget; full: run inline at row 7)
mutants_start() {
    MUT_OUT="$WORK/mutants.out"
    MUT_N=$(pick 1000 100)
    MUT_T0=$(now)
    DDPTRAIN="$DDPTRAIN" timeout --kill-after=10 "$(pick 3000 300)" bash "$REPO/scripts/mutants.sh" "$MUT_N" \
        </dev/null >"$MUT_OUT" 2>&1 &
    MUT_PID=$!
}
fault_mutants() {
    if [ ! -f "$REPO/scripts/mutants.sh" ]; then
        add_row "bit-flip mutants of a valid file" 0 "not run (scripts/mutants.sh missing)" - - skip
        return
    fi
    [ -n "$MUT_PID" ] || mutants_start
    wait "$MUT_PID"
    local rc=$? fig
    sed 's/^/    mutants: /' "$MUT_OUT" >&2
    # its table: "input mutants accepted clean hdf5 crash hang other", then the "all" row
    fig=$(awk '$1 == "input" && $2 == "mutants" { for (i = 2; i <= NF; i++) h[i] = $i; hn = NF }
               hn && $1 == "all" { s = ""; for (i = 3; i <= hn; i++) s = s (i > 3 ? ", " : "") $i " " h[i]; print s; exit }' \
        "$MUT_OUT")
    [ -n "$fig" ] || fig=$(grep -v '^\s*$' "$MUT_OUT" | tail -1 | cut -c1-150)
    local asan="binary: ?"
    grep -aq 'no ASan binary' "$MUT_OUT" && asan="no ASan binary"
    grep -aqE 'in [0-9]+s, ASan' "$MUT_OUT" && asan="ASan binary"
    add_row "bit-flip mutants of a valid file (scripts/mutants.sh $MUT_N, $asan)" "$MUT_N" "mutants.sh exit $rc: $fig" \
        "$(since "$MUT_T0") (whole script$([ $SHORT = 1 ] && echo ', overlapping'))" "crashes in ddptrain: $(echo "$fig" |
            awk -v RS=', ' '$2 == "crash" { print $1 }' | head -1)" "$(verdict "$rc")"
}

# ======================================================== 8. NaN / Inf on one rank
fault_nan() {
    local dir="$WORK/r8" t=0 agree=0 saved=0 nonfinite=0 maxt=0 opt n k f rank
    mkdir -p "$dir"
    cp "$G" "$dir/nan.h5"; poke "$dir/nan.h5" /X 900 3 '\x00\x00\xc0\x7f'  # NaN (0x7fc00000)
    cp "$G" "$dir/huge.h5"; poke "$dir/huge.h5" /X 900 3 '\xca\xf2\x49\x71' # 1e30: finite data, Inf gradient
    local saved_files=()
    check_saved() { for f in "$@"; do [ -e "$f" ] && saved_files+=("$f"); done; }
    # (a) NaN in the last rank's shard: every rank exits 2, naming that rank
    for n in $(pick "2 3" 2); do for k in load train; do
        t=$((t + 1)); rank=$((n - 1))
        run_ranks "$n" 30 -- "$DDPTRAIN" "$k" --data "$dir/nan.h5" --model linear --quiet
        maxt=$(fmax "$maxt" "$ELAPSED")
        if [ "$RANK_RCS" = 2 ] && grep -q "rank $rank: .*NaN at row 900, column 3" "$ERR"; then agree=$((agree + 1)); else
            note "NaN data, $k -n $n: ranks [$RANK_RCS]: $(grep -m1 error "$ERR")"; fi
    done; done
    # (b) gradient/weight overflow on every rank (--lr 1e30), (c) an Inf gradient on ONE rank only
    # (a finite 1e30 in its shard): every rank exits 3, no non-finite value saved
    for opt in $(pick "sgd adam" sgd); do
        for k in lr shard; do
            t=$((t + 1))
            local ck="$dir/$opt-$k/run" a=()
            if [ "$k" = lr ]; then a=(--data "$G" --lr 1e30); else a=(--data "$dir/huge.h5"); fi
            run_ranks 2 60 -- "$DDPTRAIN" train "${a[@]}" --model linear --optimizer "$opt" --batch-size 50 --epochs 5 \
                --quiet --checkpoint "$ck" --checkpoint-every 1s --keep "$(pick 1000 5)" --save "$dir/$opt-$k/final.h5"
            maxt=$(fmax "$maxt" "$ELAPSED")
            if [ "$RANK_RCS" = 3 ] && grep -qE "non-finite|diverged" "$ERR"; then agree=$((agree + 1)); else
                note "$opt $k: ranks [$RANK_RCS]: $(grep -m1 error "$ERR")"; fi
            check_saved "$ck".step*.h5 "$dir/$opt-$k/final.h5"
        done
    done
    # (d) --nan-policy skip: every rank skips the same steps (the cross-rank weight checksum at the end
    # would fail otherwise) and finishes; nothing non-finite is saved
    t=$((t + 1))
    run_ranks 2 60 -- "$DDPTRAIN" train --data "$dir/huge.h5" --model linear --batch-size 50 --epochs 3 --progress off \
        --nan-policy skip --checkpoint "$dir/skip/run" --checkpoint-every 1s --keep "$(pick 1000 5)" --save "$dir/skip.h5"
    maxt=$(fmax "$maxt" "$ELAPSED")
    if [ "$RANK_RCS" = 0 ] && grep -q "skipped 1" "$OUT"; then agree=$((agree + 1)); else
        note "nan-policy skip: ranks [$RANK_RCS]: $(grep -m1 error "$ERR")"; fi
    check_saved "$dir/skip/run".step*.h5 "$dir/skip.h5"
    # every file written: passes `ddptrain info` (checksums) and holds no NaN/Inf in any dataset
    saved=${#saved_files[@]}
    local badf
    badf=$(printf '%s\n' "${saved_files[@]}" | xargs -P 3 -I{} bash -c 'check_saved_one "$1"' _ {})
    nonfinite=$(echo "$badf" | grep -c . || true)
    [ -n "$badf" ] && note "non-finite or invalid: $badf"
    add_row "NaN/Inf in data or gradient on one rank" "$t" \
        "ranks agreeing $agree/$t (NaN in last rank's shard: all exit 2 naming it; --lr 1e30 / Inf gradient on one rank: all exit 3; --nan-policy skip: all skip, exit 0)" \
        "$maxt" "non-finite or invalid among $saved files written: $nonfinite" "$(verdict $((t - agree + nonfinite)))"
}

# ======================================================== 9. disk full on save
fault_disk_full() {
    local mnt="$WORK/r9"
    mkdir -p "$mnt"
    if ! mount -t tmpfs -o size=512k tmpfs "$mnt" 2>/dev/null; then
        add_row "disk full during a checkpoint (tmpfs 512k)" 0 "not run: cannot mount a tmpfs here (needs root)" - - skip
        return
    fi
    local CK="$mnt/run" A=(train --data "$D" --model softmax --optimizer adam --batch-size 50 --epochs 3 --seed 2)
    local trials=0 ok=0 intact=0 notmp=0 maxt=0 v free every
    run_ranks 2 60 -- "$DDPTRAIN" "${A[@]}" --quiet --max-steps 5 --checkpoint "$CK"
    local first; first=$(ckpt_name "$CK" 5)
    cp "$first" "$WORK/r9-first.h5"
    # free space left on the device x when the saves happen (final only / periodic + final)
    local fails=""
    for v in $(pick "0:final 0:periodic 4096:final 4096:periodic 8192:final 12288:periodic" "0:final 0:periodic 8192:final"); do
        trials=$((trials + 1))
        free=${v%%:*}; every=(); [ "${v#*:}" = periodic ] && every=(--checkpoint-every 1s)
        rm -f "$mnt/filler"
        dd if=/dev/zero of="$mnt/filler" bs=4k status=none 2>/dev/null
        [ "$free" -gt 0 ] && truncate -s -"$free" "$mnt/filler"
        run_ranks 2 60 -- "$DDPTRAIN" "${A[@]}" --progress off --max-steps 10 --checkpoint "$CK" --resume "${every[@]}"
        maxt=$(fmax "$maxt" "$ELAPSED")
        if [ "$RANK_RCS" = 4 ] && grep -qE "(No space left on device|disk full)" "$ERR"; then ok=$((ok + 1)); else
            fails="$fails, ${free} B free + ${v#*:} save: ranks [$RANK_RCS]"
            note "disk full ($v): ranks [$RANK_RCS]: $(grep -m1 -E 'error|Signal:' "$ERR")"; fi
        if info_ok "$first" && same "$first" "$WORK/r9-first.h5"; then intact=$((intact + 1)); else
            note "disk full ($v): the step-5 checkpoint is damaged or gone"; fi
        compgen -G "$mnt/*.tmp.*" >/dev/null || notmp=$((notmp + 1))
        # whatever else got written must be complete
        for f in "$CK".step*.h5; do [ "$f" = "$first" ] || info_ok "$f" || { intact=$((intact - 1)); note "incomplete $f"; }; done
    done
    umount "$mnt"
    add_row "disk full during checkpoint (tmpfs 512k, 0-12 KB left)" "$trials" \
        "$ok/$trials all ranks exit 4 saying 'No space left on device' (final and periodic saves)${fails:+; failed: ${fails#, }}; temp file removed $notmp/$trials" "$maxt" \
        "previous checkpoint corrupted or lost: $((trials - intact))/$trials" \
        "$(verdict $((trials - ok + trials - intact + trials - notmp)))"
}

# ================================================ 10. flipped byte / truncated ckpt
fault_corrupt_ckpt() {
    local dir="$WORK/r10" CK="$WORK/r10/run" A=(train --data "$D" --model softmax --optimizer adam --batch-size 50
        --epochs 3 --seed 2 --standardize)
    mkdir -p "$dir"
    run_ranks 2 60 -- "$DDPTRAIN" "${A[@]}" --quiet --max-steps 40 --checkpoint "$CK" --checkpoint-every 10s --keep 3
    local new; new=$(ckpt_name "$CK" 40)
    cp "$new" "$dir/orig.h5"
    local size; size=$(stat -c %s "$new")
    (cd "$dir" && timeout 30 "$DDPTRAIN" info orig.h5 >"$dir/orig.info" 2>&1)
    local tried=0 detected=0 harmless=0 altered=0 fb=0 fbtried=0 maxt=0 t0 i frac
    # truncations: always detected
    for frac in $(pick "1 2 3 4 5 6 7" "2 6"); do
        tried=$((tried + 1))
        head -c $((size * frac / 8)) "$dir/orig.h5" >"$dir/t.h5"
        if ! info_ok "$dir/t.h5"; then detected=$((detected + 1)); else altered=$((altered + 1)); note "truncated to $frac/8 accepted"; fi
    done
    tried=$((tried + 1)); head -c $((size - 1)) "$dir/orig.h5" >"$dir/t.h5"
    if ! info_ok "$dir/t.h5"; then detected=$((detected + 1)); else altered=$((altered + 1)); note "truncated by 1 byte accepted"; fi
    # single-byte flips (XOR 0xa5) at evenly spread positions over the whole file (deterministic, so a
    # result is reproducible): detected, or harmless (everything info shows and every dataset value unchanged)
    local nflips res; nflips=$(pick 200 24)
    (cd "$dir" && h5dump -A 0 orig.h5 >"$dir/orig.dump" 2>&1)
    res=$(for ((i = 0; i < nflips; i++)); do echo $(((2 * i + 1) * size / (2 * nflips))); done |
        xargs -P 3 -I{} bash -c 'flip_one "$1" "$2"' _ "$dir" {})
    tried=$((tried + nflips))
    detected=$((detected + $(echo "$res" | grep -c '^detected' || true)))
    harmless=$(echo "$res" | grep -c '^harmless' || true)
    altered=$((altered + $(echo "$res" | grep -c '^altered' || true)))
    echo "$res" | grep -E '^(altered|detected crash)' | sort -t' ' -k2n | sed 's/^/    /' >&2
    local crashes; crashes=$(echo "$res" | grep -c '^detected crash' || true)
    # rotation: a damaged newest -> --resume falls back to the previous one with a warning
    local how prev; prev=$(ckpt_name "$CK" 30)
    mkdir -p "$dir/series"; cp "$CK".step*.h5 "$dir/series/"
    cp "$prev" "$dir/prev.bak"
    for how in $(pick "truncate flip both" "truncate flip"); do
        fbtried=$((fbtried + 1))
        rm -f "$CK".step*.h5; cp "$dir/series/"*.h5 "$(dirname "$CK")/"
        local expect=30
        case "$how" in
        truncate) head -c $((size / 2)) "$dir/orig.h5" >"$new" ;;
        flip | both)
            local off; off=$(h5dump -p -H -d /model/weight "$new" | awk '/OFFSET/ { print $2; exit }')
            printf '\x7f' | dd of="$new" bs=1 seek=$((off + 5)) conv=notrunc status=none
            if [ "$how" = both ]; then
                head -c $(($(stat -c %s "$prev") / 2)) "$dir/prev.bak" >"$prev"; expect=20
            fi ;;
        esac
        t0=$(now)
        run_ranks 2 60 -- "$DDPTRAIN" "${A[@]}" --progress off --checkpoint "$CK" --resume --max-steps 41 --keep 3 \
            --save "$dir/fb.h5"
        maxt=$(fmax "$maxt" "$ELAPSED")
        if [ "$RC" -eq 0 ] && grep -q "warning: skipped .*step000000000040.h5" "$ERR" &&
            grep -q "resume: .*step0*$expect.h5 (step $expect" "$OUT"; then fb=$((fb + 1)); else
            note "fallback ($how): rc=$RC; $(grep -m1 -E 'warning|error' "$ERR"); $(grep -m1 '^resume' "$OUT")"; fi
    done
    add_row "flipped byte / truncated checkpoint" "$((tried + fbtried))" \
        "detected $detected/$tried ($nflips byte flips: $harmless harmless; info crashed on $crashes); fallback to the previous checkpoint with a warning $fb/$fbtried" \
        "$maxt" "accepted with altered content: $altered" "$(verdict $((altered + fbtried - fb)))"
}

# ============================================== 11. 2N steps vs N + stop + resume
fault_exact_resume() {
    local dir="$WORK/r11" A=(train --data "$D" --model softmax --optimizer adam --amsgrad --lr 0.01 --batch-size 50
        --epochs 3 --seed 2 --standardize --quiet) # 40 steps per epoch, 2N = 120
    mkdir -p "$dir"
    run_ranks 2 60 -- "$DDPTRAIN" "${A[@]}" --save "$dir/full.h5"
    local k eq=0 tried=0 maxt=0 points=""
    for k in $(pick "1 17 40 60 99" "17 60"); do
        tried=$((tried + 1))
        run_ranks 2 60 -- "$DDPTRAIN" "${A[@]}" --max-steps "$k" --checkpoint "$dir/k$k/run"
        run_ranks 2 60 -- "$DDPTRAIN" "${A[@]}" --checkpoint "$dir/k$k/run" --resume --save "$dir/k$k.h5"
        maxt=$(fmax "$maxt" "$ELAPSED")
        if [ "$RC" -eq 0 ] && same "$dir/k$k.h5" "$dir/full.h5"; then eq=$((eq + 1)); else note "stop at $k: differs (rc=$RC)"; fi
        points="$points $k"
    done
    # SIGKILL points: a long run killed at a random moment, resumed to S + 40, vs uninterrupted to S + 40
    local j CK S t0 dt kills=0
    for j in $(seq "$(pick 3 1)"); do
        tried=$((tried + 1)); kills=$((kills + 1))
        CK="$dir/kill$j/run"
        bg_start plain 2 60 -- "$DDPTRAIN" "${LONG[@]}" --quiet --checkpoint "$CK" --checkpoint-every 1s
        wait_ranks "$CK" 2
        for _ in $(seq 200); do [ -n "$(newest "$CK")" ] && break; sleep 0.02; done
        sleep "$(rand_delay 0.1 0.6)"
        t0=$(now)
        kill -KILL "${PIDS[$((RANDOM % ${#PIDS[@]}))]}"
        bg_wait
        maxt=$(fmax "$maxt" "$(since "$t0")")
        gone "$CK" >/dev/null
        S=$(step_of "$(newest "$CK")")
        run_ranks 2 60 -- "$DDPTRAIN" "${LONG[@]}" --quiet --checkpoint "$CK" --resume --max-steps $((S + 40)) \
            --save "$dir/kill$j.h5"
        run_ranks 2 60 -- "$DDPTRAIN" "${LONG[@]}" --quiet --max-steps $((S + 40)) --save "$dir/kill$j-full.h5"
        if same "$dir/kill$j.h5" "$dir/kill$j-full.h5"; then eq=$((eq + 1)); else note "SIGKILL at step $S: differs"; fi
        points="$points kill@$S"
    done
    add_row "train 2N steps vs N + stop/kill + resume" "$tried" \
        "bitwise equal weights + optimizer state $eq/$tried (points:$points)" "$maxt" "-" "$(verdict $((tried - eq)))"
}

# ================================================ 12. two jobs on one checkpoint path
fault_two_writers() {
    local dir="$WORK/r12" CK="$WORK/r12/run"
    mkdir -p "$dir"
    bg_start ranks 2 120 -- "$DDPTRAIN" "${LONG[@]}" --quiet --checkpoint "$CK" --checkpoint-every 1s --keep 3
    local a_dir="$BG_DIR" a_pid="$BG_PID"
    for _ in $(seq 200); do [ -e "$CK.lock" ] && [ -n "$(newest "$CK")" ] && break; sleep 0.05; done
    wait_ranks "$CK" 2
    local a_pids=("${PIDS[@]}")
    local tried=0 refused=0 maxt=0 v n p extra variants
    # second job: 1 or 2 ranks, with/without --resume, the same series spelled PATH.h5 or relative
    variants=$(pick "1:plain 2:resume 2:dot-h5 1:relative" "1:plain 2:resume")
    for v in $variants; do
        tried=$((tried + 1)); n=${v%%:*}; p="$CK"; extra=()
        case "${v#*:}" in
        resume) extra=(--resume) ;;
        dot-h5) p="$CK.h5" ;;
        relative) p="r12/../r12/run" ;;
        esac
        run_ranks "$n" 30 -- bash -c 'cd "$1" && shift && exec "$@"' _ "$WORK" "$DDPTRAIN" "${LONG[@]}" --quiet \
            --lr 0.02 --checkpoint "$p" "${extra[@]}"
        maxt=$(fmax "$maxt" "$ELAPSED")
        if [ "$RANK_RCS" = 2 ] && grep -q "another job is writing this checkpoint series" "$ERR"; then
            refused=$((refused + 1)); else note "second job ($v): ranks [$RANK_RCS]: $(grep -m1 error "$ERR")"; fi
    done
    # stop the first job cleanly; every checkpoint it left must be valid and its own
    kill -TERM "${a_pids[0]}" 2>/dev/null
    BG_DIR="$a_dir"; BG_PID="$a_pid"; BG_N=2; BG_MODE=ranks
    bg_wait
    local a_rcs="$RANK_RCS" interleaved=0 f
    for f in "$CK".step*.h5; do
        if ! info_ok "$f" || timeout 30 "$DDPTRAIN" info "$f" 2>/dev/null | grep -q -- "--lr 0.02"; then
            interleaved=$((interleaved + 1)); note "checkpoint $f is invalid or written by the second job"; fi
    done
    gone "$CK" || interleaved=$((interleaved + 1))
    # the lock is free once the first job has ended
    run_ranks 1 30 -- "$DDPTRAIN" "${LONG[@]}" --quiet --checkpoint "$CK" --resume \
        --max-steps $(($(step_of "$(newest "$CK")") + 1))
    local after=$RC a_bad=0
    [ "$a_rcs" = 7 ] || a_bad=1
    add_row "two jobs writing one checkpoint path" "$tried" \
        "$refused/$tried second jobs refused (all ranks exit 2, 'another job is writing'; ranks:variant $(echo $variants | tr ' ' ,)); first job exit [$a_rcs] on SIGTERM; lock free afterwards: $([ "$after" -eq 0 ] && echo yes || echo NO)" \
        "$maxt" "interleaved or invalid checkpoints: $interleaved" \
        "$(verdict $((tried - refused + interleaved + (after != 0) + a_bad)))"
}

# ------------------------------------------------------------------ run
FAULTS=(fault_kill_random fault_kill_in_write fault_sigstop fault_signal fault_rank1_input fault_corpus
    fault_mutants fault_nan fault_disk_full fault_corrupt_ckpt fault_exact_resume fault_two_writers)
ROWS_TO_RUN=${DDP_FAULTS_ROWS:-$(seq ${#FAULTS[@]})}
if [ "$SHORT" = 1 ] && [ -f "$REPO/scripts/mutants.sh" ] && echo " $ROWS_TO_RUN " | tr '\n' ' ' | grep -q ' 7 '; then
    mutants_start
fi
run_rows() {
    local i f
    for i in "$@"; do
        f=${FAULTS[$((i - 1))]:-}
        [ -n "$f" ] || { echo "faults.sh: no row $i" >&2; exit 2; }
        ROW_NO=$i
        say "start: row $i ($f)"
        "$f"
    done
}
if [ "$SHORT" = 1 ]; then
    # two lanes on the 2 cores: the kill/stop/signal rows mostly wait (a killed job takes
    # ~2 s to end), the input/corruption rows mostly compute; mutants.sh runs beside them
    LANE_A=() LANE_B=() LAST=()
    for i in $ROWS_TO_RUN; do
        case "$i" in 1 | 2 | 3 | 4 | 11 | 12) LANE_A+=("$i") ;; 7) LAST+=("$i") ;; *) LANE_B+=("$i") ;; esac
    done
    (run_rows "${LANE_A[@]}") &
    PA=$!
    (run_rows "${LANE_B[@]}") &
    PB=$!
    wait "$PA"
    wait "$PB"
    run_rows "${LAST[@]}"
else
    run_rows $ROWS_TO_RUN
fi

# no process of this run may be left behind
LEFT=""
for _ in $(seq 50); do
    LEFT=$(our_procs)
    [ -z "$LEFT" ] && break
    sleep 0.1
done
N_LEFT=$(echo "$LEFT" | grep -c . || true)
[ "$N_LEFT" -gt 0 ] && FAILED=1
N_ROWS=$(echo $ROWS_TO_RUN | wc -w)
[ "$(cat "$WORK"/rows/* 2>/dev/null | wc -l)" -eq "$N_ROWS" ] || { FAILED=1; echo "faults.sh: some rows did not report" >&2; }
cut -f7 "$WORK"/rows/* 2>/dev/null | grep -qx FAIL && FAILED=1
TOTAL=$(since "$T_START")

# ------------------------------------------------------------------ the table
{
    printf '#\tfault\ttrials\toutcome\tmax time to exit (s)\tdata lost\tresult\n'
    cat "$WORK"/rows/* 2>/dev/null
} | awk -F'\t' '
    { for (i = 1; i <= NF; i++) { cell[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } n = NR; nf = NF }
    END {
        for (r = 1; r <= n; r++) {
            line = "|"
            for (i = 1; i <= nf; i++) line = line sprintf(" %-" w[i] "s |", cell[r, i])
            print line
            if (r == 1) {
                line = "|"
                for (i = 1; i <= nf; i++) { s = ""; for (k = 0; k < w[i] + 2; k++) s = s "-"; line = line s "|" }
                print line
            }
        }
    }'
echo "mode: $([ $SHORT = 1 ] && echo short || echo full); total ${TOTAL}s; ddptrain processes left behind: $N_LEFT;" \
    "result: $([ $FAILED = 0 ] && echo PASS || echo FAIL)"
exit "$FAILED"
