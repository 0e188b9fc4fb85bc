#!/usr/bin/env bash
# Golden tests against PyTorch: every fixture in tests/fixtures/golden (made
# by scripts/golden_train.py with torch 1.13; see index.txt) is trained by
# ddptrain from the same initial weights on the same batches, on 2 ranks, and
# the final weight and bias must match torch's within 1e-5 relative.
source "$(dirname "$0")/lib.sh"

GOLDEN="$DDP_SOURCE_DIR/tests/fixtures/golden"
CMP="$DDP_BUILD_DIR/h5compare"
RTOL=1e-5
ATOL=1e-7 # for elements that are ~0 (|b| < 1e-2 makes this the binding bound)

N_CASES=0
while IFS=$'\t' read -r name args; do
    case "$name" in '#'* | '') continue ;; esac
    N_CASES=$((N_CASES + 1))
    fx="$GOLDEN/$name.h5"
    out="$TMP/$name.out.h5"
    # shellcheck disable=SC2086
    run_ranks 2 120 -- "$DDPTRAIN" train --data "$fx" --init "$fx" --save "$out" --quiet $args
    if [ "$RC" -ne 0 ]; then
        fail "$name: ddptrain exited $RC: $(grep 'ddptrain: error' "$ERR")"
        continue
    fi
    w=$("$CMP" "$out" /model/weight "$fx" /expected/weight "$RTOL" "$ATOL")
    w_rc=$?
    b=$("$CMP" "$out" /model/bias "$fx" /expected/bias "$RTOL" "$ATOL")
    b_rc=$?
    if [ "$w_rc" -eq 0 ] && [ "$b_rc" -eq 0 ]; then
        pass "$name: weight ${w#equal }; bias ${b#equal }"
    else
        fail "$name ($args): weight: $w; bias: $b"
    fi
done < "$GOLDEN/index.txt"

N_INDEX=$(grep -cv '^#' "$GOLDEN/index.txt")
check "every fixture in index.txt was run ($N_CASES of $N_INDEX, at least 20)" test "$N_CASES" -eq "$N_INDEX" -a "$N_CASES" -ge 20

# The 3-point case by hand as well: x = 1,2,3; y = 2,4,6; w0 = 0.5, b0 = 0.1;
# one SGD step with lr 0.01 on the MSE gives w = 0.636, b = 0.158.
out="$TMP/linear_3point_sgd.out.h5"
if [ -f "$out" ]; then
    vals=$(h5dump -d /model/weight -d /model/bias "$out" 2>/dev/null | awk '/\(0(,0)?\):/ && $NF ~ /^-?[0-9.]+$/ { print $NF }' | tr '\n' ' ')
    check "3-point regression after one SGD step: weight, bias = $vals (PyTorch: 0.636 0.158)" \
        awk -v s="$vals" 'BEGIN { split(s, v, " "); exit !(v[1] > 0.63599 && v[1] < 0.63601 && v[2] > 0.15799 && v[2] < 0.15801) }'
fi
check "no ddptrain process left behind" no_leftovers
finish
