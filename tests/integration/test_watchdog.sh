#!/usr/bin/env bash
# Watchdog: a rank stopped with SIGSTOP blocks the others in the next
# allreduce; with --step-timeout T the job must end with exit 5 within T + 5 s,
# with a message naming the step and the phase, no process left behind, and
# the last checkpoint intact.
source "$(dirname "$0")/lib.sh"

T=3
DATA="$TMP/d.h5"
run_ranks 2 60 -- "$DDPTRAIN" gen softmax --classes 4 --rows 2000 --features 16 --seed 8 --out "$DATA"
for P in 2 3; do
    CK="$TMP/w$P/run"
    ( timeout 120 mpirun -n "$P" "$DDPTRAIN" train --data "$DATA" --model softmax --optimizer adam --batch-size 50 \
        --epochs 1000000 --quiet --step-timeout "$T" --checkpoint "$CK" --checkpoint-every 500s </dev/null \
        >"$TMP/out" 2>"$TMP/err"; echo $? > "$TMP/rc" ) &
    bg=$!
    for _ in $(seq 200); do ls "$CK".step*.h5 >/dev/null 2>&1 && break; sleep 0.05; done
    mapfile -t pids < <(pgrep -f -- "--checkpoint $CK" | while read -r p; do
        [ "$(cat /proc/"$p"/comm 2>/dev/null)" = ddptrain ] && echo "$p"; done)
    victim=${pids[$((RANDOM % ${#pids[@]}))]}
    t0=$(date +%s.%N)
    kill -STOP "$victim"
    wait "$bg"
    dt=$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { printf "%.2f", a - b }')
    rc=$(cat "$TMP/rc")
    check "-n $P, one rank SIGSTOPped: the job ends with exit 5 (got $rc) after ${dt}s <= $T + 5 s" \
        bash -c "[ $rc -eq 5 ] && awk -v d=$dt -v t=$T 'BEGIN { exit !(d <= t + 5) }'"
    check "-n $P: the message names the step and the phase" \
        grep -qE "watchdog: rank [0-9]+ made no progress for $T s at step [0-9]+ in phase '(allreduce|checkpoint|optimizer|data|eval)'" "$TMP/err"
    newest=$(ls "$CK".step*.h5 | sort | tail -1)
    timeout 30 "$DDPTRAIN" info "$newest" >/dev/null 2>&1
    check "-n $P: the last checkpoint ($(basename "$newest")) is intact" test $? -eq 0
    check "-n $P: no process left behind (the stopped rank included)" no_leftovers
done
finish
