#!/usr/bin/env bash
# Checkpoints and resume:
#  - exact resume: stopping after step k and resuming gives bitwise the same
#    weights and optimizer state as an uninterrupted run, for several k
#    (mid-epoch and at an epoch boundary), and after SIGTERM / SIGUSR1;
#  - resume on another rank count (8 -> 4, 4 -> 1, 1 -> 4) within 1e-5;
#  - a truncated or bit-flipped newest checkpoint is detected by its checksums
#    and resume falls back to the previous one with a warning;
#  - an incompatible configuration is refused saying what differs; a changed
#    --lr / --epochs is allowed and logged;
#  - disk full during a save: clear error, previous checkpoint intact;
#  - a second job on the same checkpoint series refuses.
source "$(dirname "$0")/lib.sh"

CMP="$DDP_BUILD_DIR/h5compare"
DATA="$TMP/d.h5"
run_ranks 2 60 -- "$DDPTRAIN" gen softmax --classes 3 --rows 3001 --features 7 --seed 4 --out "$DATA"
# 31 steps per epoch (batch 100), 3 epochs = 93 steps
A=(train --data "$DATA" --model softmax --optimizer adam --amsgrad --lr 0.01 --batch-size 100 --epochs 3 --seed 2
   --standardize)
LONG=(--epochs 200000) # runs until a signal or kill stops it
newest() { ls "$1".step*.h5 2>/dev/null | sort | tail -1; }
same() { # same A B TOL: weights and one optimizer state buffer
    "$CMP" "$1" /model/weight "$2" /model/weight "$3" "${4:-0}" >/dev/null &&
        "$CMP" "$1" /model/bias "$2" /model/bias "$3" "${4:-0}" >/dev/null &&
        "$CMP" "$1" /optimizer/state/weight/exp_avg_sq "$2" /optimizer/state/weight/exp_avg_sq "$3" "${4:-0}" >/dev/null
}

run_ranks 2 120 -- "$DDPTRAIN" "${A[@]}" --save "$TMP/full2.h5"
check "uninterrupted 2-rank run (93 steps)" test "$RC" -eq 0

# exact resume at several stop points, same rank count
for k in 1 17 31 62 80; do
    ck="$TMP/k$k/run"
    run_ranks 2 120 -- "$DDPTRAIN" "${A[@]}" --max-steps "$k" --checkpoint "$ck"
    run_ranks 2 120 -- "$DDPTRAIN" "${A[@]}" --checkpoint "$ck" --resume --save "$TMP/r$k.h5"
    check "stop after step $k, resume on 2 ranks: weights and optimizer state bitwise equal" \
        same "$TMP/r$k.h5" "$TMP/full2.h5" 0
done

# other rank counts: the same global batches, summation order differs
run_ranks 8 200 -- "$DDPTRAIN" "${A[@]}" --save "$TMP/full8.h5"
for pair in "8 4" "4 1" "1 4"; do
    set -- $pair
    ck="$TMP/p$1to$2/run"
    run_ranks "$1" 200 -- "$DDPTRAIN" "${A[@]}" --max-steps 40 --checkpoint "$ck"
    run_ranks "$2" 200 -- "$DDPTRAIN" "${A[@]}" --checkpoint "$ck" --resume --save "$TMP/p$1$2.h5"
    out=$("$CMP" "$TMP/p$1$2.h5" /model/weight "$TMP/full2.h5" /model/weight 1e-5 1e-7)
    check "stop on $1 ranks after step 40, resume on $2: final weights within 1e-5 of the uninterrupted run ($out)" \
        same "$TMP/p$1$2.h5" "$TMP/full2.h5" 1e-5 1e-7
done

# --resume with no checkpoint yet is a fresh start (one batch script for every restart)
run_ranks 2 120 -- "$DDPTRAIN" "${A[@]}" --checkpoint "$TMP/fresh/run" --resume --save "$TMP/fresh.h5"
check "--resume without a checkpoint starts from step 0 and finishes like the uninterrupted run" \
    same "$TMP/fresh.h5" "$TMP/full2.h5" 0
check "--resume without a checkpoint says so" grep -q "no checkpoint at .* yet; starting from step 0" "$OUT"

# signals: SIGTERM / SIGUSR1 to one rank -> every rank finishes the step, checkpoints, exits 7
for sig in TERM USR1; do
    ck="$TMP/sig$sig/run"
    rm -f "$TMP/sigrc"
    ( timeout 120 mpirun -n 2 "$DDPTRAIN" "${A[@]}" "${LONG[@]}" --checkpoint "$ck" </dev/null >"$TMP/sig.out" \
        2>"$TMP/sig.err"; echo $? > "$TMP/sigrc" ) &
    bg=$!
    for _ in $(seq 200); do [ -e "$ck.lock" ] && break; sleep 0.05; done
    sleep 0.3
    victim=$(pgrep -f -- "--checkpoint $ck" | grep -v "^$bg\$" | while read -r p; do
        [ "$(cat /proc/"$p"/comm 2>/dev/null)" = ddptrain ] && echo "$p"; done | tail -1)
    kill -"$sig" "$victim"
    wait "$bg"
    rc=$(cat "$TMP/sigrc")
    ckf=$(newest "$ck")
    check "SIG$sig to one rank: exit 7 (got $rc) with a checkpoint ($(basename "${ckf:-none}"))" \
        test "$rc" -eq 7 -a -n "$ckf"
    check "SIG$sig: the message says how to continue" grep -q "stopped by .* continue with --resume" "$TMP/sig.err"
    step=$(basename "$ckf" | sed 's/.*step0*\([0-9]*\)\.h5/\1/')
    # continue that run to a fixed end, and compare with one uninterrupted run to the same end
    if [ -n "$step" ]; then
        end=$((step + 50))
        run_ranks 2 120 -- "$DDPTRAIN" "${A[@]}" "${LONG[@]}" --max-steps "$end" --checkpoint "$ck" --resume \
            --save "$TMP/sig$sig.h5"
        run_ranks 2 300 -- "$DDPTRAIN" "${A[@]}" "${LONG[@]}" --max-steps "$end" --save "$TMP/sigfull$sig.h5"
        check "SIG$sig at step $step, resumed to step $end: bitwise equal to an uninterrupted run to $end" \
            same "$TMP/sig$sig.h5" "$TMP/sigfull$sig.h5" 0
    fi
done

# a second SIGINT exits at once (no waiting for the step or the save). Two
# SIGINTs sent back to back can merge into one pending signal, so the second
# is sent only once the first has been delivered (SigPnd/ShdPnd clear), to a
# model whose step + save take long enough (~20 ms) to leave a window.
BIG="$TMP/big.h5"
run_ranks 2 60 -- "$DDPTRAIN" gen softmax --classes 200 --rows 4000 --features 128 --seed 3 --out "$BIG"
( timeout 60 mpirun -n 2 "$DDPTRAIN" train --data "$BIG" --model softmax --optimizer adam --batch-size 1000 \
    "${LONG[@]}" --quiet --checkpoint "$TMP/int2/run" </dev/null >/dev/null 2>"$TMP/int2.err"
  echo $? > "$TMP/int2rc" ) &
bg=$!
for _ in $(seq 200); do [ -e "$TMP/int2/run.lock" ] && break; sleep 0.05; done
sleep 0.3
victim=$(pgrep -f -- "--checkpoint $TMP/int2/run" | while read -r p; do
    [ "$(cat /proc/"$p"/comm 2>/dev/null)" = ddptrain ] && echo "$p"; done | tail -1)
sigint_pending() { # bit 1 (SIGINT) of the thread or process pending mask
    local key val
    while read -r key val; do
        case "$key" in SigPnd: | ShdPnd:) (((0x$val & 2) != 0)) && return 0 ;; esac
    done < /proc/"$1"/status
    return 1
}
kill -INT "$victim"
for _ in $(seq 1000); do sigint_pending "$victim" || break; done
kill -INT "$victim" 2>/dev/null
wait "$bg"
check "two SIGINTs: the rank exits at once with 130 (128 + SIGINT); mpirun exits $(cat "$TMP/int2rc")" \
    test "$(cat "$TMP/int2rc")" -eq 130

# corruption: truncated newest -> fallback with a warning; flipped data byte -> detected
ck="$TMP/corrupt/run"
run_ranks 2 120 -- "$DDPTRAIN" "${A[@]}" --max-steps 40 --checkpoint "$ck" --checkpoint-every 10s --keep 3
files=$(ls "$ck".step*.h5 | wc -l)
check "--keep 3 leaves 3 checkpoints (found $files)" test "$files" -eq 3
new=$(newest "$ck")
cp "$new" "$TMP/newest.bak"
head -c $(($(stat -c %s "$new") / 2)) "$TMP/newest.bak" > "$new"
timeout 30 "$DDPTRAIN" info "$new" >/dev/null 2>&1
check "truncated checkpoint: info refuses it (exit $?)" test $? -eq 2
run_ranks 2 120 -- "$DDPTRAIN" "${A[@]}" --checkpoint "$ck" --resume --max-steps 41
check "truncated newest: resume falls back to step 30 with a warning" \
    grep -q "warning: skipped .*step000000000040.h5" "$ERR"
check "truncated newest: resumed from step 30" grep -q "resume: .*step000000000030.h5 (step 30" "$OUT"
cp "$TMP/newest.bak" "$new"
off=$(h5dump -p -H -d /model/weight "$new" | awk '/OFFSET/ { print $2 }')
printf '\x7f' | dd of="$new" bs=1 seek=$((off + 5)) conv=notrunc status=none
timeout 30 "$DDPTRAIN" info "$new" > "$TMP/flip.txt" 2>&1
check "flipped byte in /model/weight: checksum mismatch detected" grep -q "checksum mismatch" "$TMP/flip.txt"
# flip bytes at 40 positions across the whole file: every flip is either detected or harmless
n_det=0; n_ok=0; n_bad=0
size=$(stat -c %s "$TMP/newest.bak")
for i in $(seq 0 39); do
    cp "$TMP/newest.bak" "$TMP/flip.h5"
    pos=$(( (i * 7919 + 13) % size ))
    printf '\xa5' | dd of="$TMP/flip.h5" bs=1 seek="$pos" conv=notrunc status=none
    if timeout 30 "$DDPTRAIN" info "$TMP/flip.h5" >/dev/null 2>&1; then
        # accepted: the weights it would load must equal the original's (the flip hit unused bytes)
        if "$CMP" "$TMP/flip.h5" /model/weight "$TMP/newest.bak" /model/weight 0 0 >/dev/null 2>&1; then
            n_ok=$((n_ok + 1)); else n_bad=$((n_bad + 1)); fi
    else
        n_det=$((n_det + 1))
    fi
done
check "40 single-byte flips: $n_det detected, $n_ok harmless, $n_bad accepted with altered weights (must be 0)" \
    test "$n_bad" -eq 0
cp "$TMP/newest.bak" "$new"

# incompatible configurations are refused saying what differs; lr/epochs changes are logged
run_ranks 2 60 -- "$DDPTRAIN" "${A[@]}" --classes 4 --checkpoint "$ck" --resume
check "resume with another class count: refused saying what differs" \
    grep -q "holds a softmax model with 7 features and 3 classes, but this run trains softmax with 7 features and 4" "$ERR"
run_ranks 2 60 -- "$DDPTRAIN" "${A[@]}" --batch-size 50 --checkpoint "$ck" --resume
check "resume with another --batch-size: refused naming it" grep -q "written with --batch-size 100, this run has 50" "$ERR"
run_ranks 2 60 -- "$DDPTRAIN" "${A[@]}" --optimizer sgd --checkpoint "$ck" --resume
check "resume with another optimizer: refused" grep -q "was trained with --optimizer adam" "$ERR"
run_ranks 2 60 -- "$DDPTRAIN" "${A[@]}" --lr 0.02 --epochs 4 --checkpoint "$ck" --resume --max-steps 41
check "resume with a new --lr and --epochs: allowed and logged" \
    test "$RC" -eq 0 -a "$(grep -cE '^resume: --(lr|epochs)' "$OUT")" -eq 2

# a second job on the same series refuses
( timeout 60 mpirun -n 1 "$DDPTRAIN" "${A[@]}" "${LONG[@]}" --checkpoint "$TMP/lock/run" </dev/null >/dev/null 2>&1 ) &
bg=$!
for _ in $(seq 100); do [ -e "$TMP/lock/run.lock" ] && break; sleep 0.1; done
sleep 0.5
run_ranks 1 30 -- "$DDPTRAIN" "${A[@]}" --checkpoint "$TMP/lock/run"
check "a second job on the same --checkpoint refuses (exit $RC)" \
    bash -c "[ $RC -eq 2 ] && grep -q 'another job is writing this checkpoint series' '$ERR'"
pkill -KILL -f -- "--checkpoint $TMP/lock/run" 2>/dev/null
wait "$bg" 2>/dev/null

# disk full: a tiny tmpfs holds one checkpoint; filling it makes the next save fail cleanly
mkdir -p "$TMP/full"
if mount -t tmpfs -o size=512k tmpfs "$TMP/full" 2>/dev/null; then
    run_ranks 2 60 -- "$DDPTRAIN" "${A[@]}" --max-steps 5 --checkpoint "$TMP/full/run"
    dd if=/dev/zero of="$TMP/full/filler" bs=4k status=none 2>/dev/null
    run_ranks 2 60 -- "$DDPTRAIN" "${A[@]}" --max-steps 10 --checkpoint "$TMP/full/run" --resume
    check "disk full: exit 4 on all ranks (rc=$RC ranks=[$RANK_RCS])" test "$RC" -eq 4 -a "$RANK_RCS" = "4"
    check "disk full: the message says what failed" grep -qE "writing failed.*(No space left on device|disk full)" "$ERR"
    timeout 30 "$DDPTRAIN" info "$TMP/full/run.step000000000005.h5" >/dev/null 2>&1
    check "disk full: the previous checkpoint (step 5) is intact and valid" test $? -eq 0
    check "disk full: no temp file left behind" bash -c "! ls '$TMP/full/' | grep -q '\.tmp\.'"
    umount "$TMP/full"
else
    echo "  skip disk full: cannot mount a tmpfs here (not root?)"
fi
check "no ddptrain process left behind" no_leftovers
finish
