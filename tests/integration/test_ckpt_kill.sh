#!/usr/bin/env bash
# SIGKILL at random moments, including inside checkpoint writes: a 2-rank job
# writes a checkpoint after EVERY step (so a large share of its time is spent
# in writes); a random rank is killed with SIGKILL after a random delay. Every
# time: the job ends (non-zero, within 10 s), and the newest checkpoint on
# disk loads and passes its checksums. Leftover temp files count the kills
# that landed inside a write. Odd trials kill at a random moment; even trials
# wait until the writer (rank 0) has a temp file open and kill rank 0 then,
# so kills inside writes are certain, not left to chance.
# Finally --resume continues from the survivor.
# DDP_KILL_TRIALS (default 20) sets the number of trials.
source "$(dirname "$0")/lib.sh"

TRIALS="${DDP_KILL_TRIALS:-20}"
DATA="$TMP/d.h5"
run_ranks 2 60 -- "$DDPTRAIN" gen softmax --classes 4 --rows 2000 --features 16 --seed 8 --out "$DATA"
BASE=(train --data "$DATA" --model softmax --optimizer adam --lr 0.01 --batch-size 50 --epochs 100000 --seed 1
      --quiet)
A=("${BASE[@]}" --checkpoint-every 1s --keep 2)
CK="$TMP/ck/run"
newest_step() { ls "$CK".step*.h5 2>/dev/null | sort | tail -1; }
rank_pids() { pgrep -f -- "--checkpoint $CK" | while read -r p; do
    [ "$(cat /proc/"$p"/comm 2>/dev/null)" = ddptrain ] && echo "$p"; done; }
valid=0; hangs=0; in_write=0; max_exit=0; no_ckpt=0
for trial in $(seq "$TRIALS"); do
    before=$(newest_step)
    ( timeout 60 mpirun -n 2 "$DDPTRAIN" "${A[@]}" --checkpoint "$CK" --resume </dev/null >/dev/null 2>&1
      echo $? > "$TMP/rc" ) &
    bg=$!
    # ready = both ranks of THIS job run and it has written a checkpoint of its own
    pids=()
    for _ in $(seq 600); do
        mapfile -t pids < <(rank_pids)
        [ "${#pids[@]}" -eq 2 ] && [ "$(newest_step)" != "$before" ] && break
        sleep 0.05
    done
    if [ "${#pids[@]}" -ne 2 ]; then
        fail "trial $trial: the job did not start within 30 s"
        pkill -KILL -f -- "--checkpoint $CK" 2>/dev/null
        wait "$bg"
        continue
    fi
    sleep "$(awk -v s="$RANDOM" 'BEGIN { printf "%.2f", 0.05 + (s % 100) / 100.0 }')"
    victim=${pids[$((RANDOM % ${#pids[@]}))]}
    if [ $((trial % 2)) -eq 0 ]; then # targeted: the writer, while its temp file exists
        for p in "${pids[@]}"; do
            tr '\0' '\n' < /proc/"$p"/environ 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=0' && victim=$p
        done
        deadline=$((SECONDS + 10)) # a write happens every step: this catches one within milliseconds
        until compgen -G "$CK.step*.h5.tmp.*" >/dev/null || [ "$SECONDS" -ge "$deadline" ]; do :; done
    fi
    t0=$EPOCHREALTIME # a builtin: a forked `date` here gave the write ~1 ms to finish first
    [ -n "$victim" ] && kill -KILL "$victim"
    wait "$bg"
    dt=$(awk -v a="$EPOCHREALTIME" -v b="$t0" 'BEGIN { printf "%.2f", a - b }')
    rc=$(cat "$TMP/rc")
    [ "$rc" -eq 124 ] && hangs=$((hangs + 1))
    max_exit=$(awk -v a="$max_exit" -v b="$dt" 'BEGIN { print (b > a ? b : a) }')
    ls "$CK".step*.h5.tmp.* >/dev/null 2>&1 && in_write=$((in_write + 1))
    newest=$(ls "$CK".step*.h5 2>/dev/null | sort | tail -1)
    if [ -z "$newest" ]; then
        no_ckpt=$((no_ckpt + 1))
    elif timeout 30 "$DDPTRAIN" info "$newest" >/dev/null 2>&1; then
        valid=$((valid + 1))
    else
        echo "  trial $trial: newest checkpoint $newest does not verify"
    fi
    pkill -KILL -f -- "--checkpoint $CK" 2>/dev/null
done
echo "  kill -9 trials: $TRIALS, newest checkpoint valid: $valid, kills inside a write (temp file left): $in_write," \
     "hangs: $hangs, max time from kill to job exit: ${max_exit}s"
check "every trial left a newest checkpoint that loads and passes its checksums ($valid of $TRIALS)" \
    test "$valid" -eq "$TRIALS"
check "no hang: every killed job ended by itself" test "$hangs" -eq 0
check "every killed job ended within 10 s of the kill (max ${max_exit}s)" \
    awk -v m="$max_exit" 'BEGIN { exit !(m <= 10) }'
# targeted trials catch a write in progress; the kill could lose the race to
# the rename, so the bound is "some", and the count is printed. (When a forked
# `date` stood between seeing the temp file and the kill, a CI run under ASan
# caught 0 of 3 targeted trials; without it, 3-4 of 6 trials, idle or under
# ASan or beside a 2-thread benchmark, i.e. every targeted one.)
check "kills landed inside checkpoint writes ($in_write of $TRIALS)" test "$in_write" -ge 1
# the survivor resumes, and the resumed run cleans up stale temp files
last=$(ls "$CK".step*.h5 | sort | tail -1 | sed 's/.*step0*\([0-9]*\)\.h5/\1/')
run_ranks 2 60 -- "$DDPTRAIN" "${A[@]}" --checkpoint "$CK" --resume --max-steps $((last + 3))
check "--resume continues from the survivor (step $last) to step $((last + 3))" \
    test "$RC" -eq 0 -a -e "$(printf '%s.step%012d.h5' "$CK" $((last + 3)))"
# the resumed run equals one that was never killed (same rank count: bitwise)
run_ranks 2 120 -- "$DDPTRAIN" "${BASE[@]}" --max-steps $((last + 3)) --save "$TMP/never_killed.h5"
check "after $TRIALS kills, the resumed weights equal an uninterrupted run's bitwise" \
    "$DDP_BUILD_DIR/h5compare" "$(printf '%s.step%012d.h5' "$CK" $((last + 3)))" /model/weight \
    "$TMP/never_killed.h5" /model/weight 0 0
check "stale temp files of killed writers are removed" bash -c "! ls '$CK'.step*.h5.tmp.* >/dev/null 2>&1"
check "no ddptrain process left behind" no_leftovers
finish
