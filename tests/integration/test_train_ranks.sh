#!/usr/bin/env bash
# World-size invariance: the same seed and data trained on 1, 2, 3, 4 and 8
# ranks (oversubscribed) give final weights within 1e-5 relative of the 1-rank
# run, with shuffling on and off; the global batches are the same, only the
# floating-point summation order differs.
source "$(dirname "$0")/lib.sh"

CMP="$DDP_BUILD_DIR/h5compare"
DATA="$TMP/d.h5"
run_ranks 2 120 -- "$DDPTRAIN" gen softmax --classes 4 --rows 6001 --features 12 --seed 5 --out "$DATA"
check "gen softmax 6001 x 12" test "$RC" -eq 0

for shuffle in "" "--no-shuffle"; do
    label=${shuffle:-shuffled}
    ARGS=(train --data "$DATA" --model softmax --optimizer adam --lr 0.01 --batch-size 200 --epochs 2 --seed 3
          --quiet $shuffle)
    run_ranks 1 120 -- "$DDPTRAIN" "${ARGS[@]}" --save "$TMP/w1.h5"
    check "$label: 1 rank trains (rc=$RC)" test "$RC" -eq 0
    for P in 2 3 4 8; do
        run_ranks "$P" 300 -- "$DDPTRAIN" "${ARGS[@]}" --save "$TMP/w$P.h5"
        if [ "$RC" -ne 0 ]; then
            fail "$label: $P ranks exited $RC: $(grep 'ddptrain: error' "$ERR")"
            continue
        fi
        w=$("$CMP" "$TMP/w$P.h5" /model/weight "$TMP/w1.h5" /model/weight 1e-5 1e-7)
        w_rc=$?
        b=$("$CMP" "$TMP/w$P.h5" /model/bias "$TMP/w1.h5" /model/bias 1e-5 1e-7)
        b_rc=$?
        check "$label: $P ranks vs 1 rank: weight ${w#* }; bias ${b#* }" test "$w_rc" -eq 0 -a "$b_rc" -eq 0
    done
done
check "no ddptrain process left behind" no_leftovers
finish
