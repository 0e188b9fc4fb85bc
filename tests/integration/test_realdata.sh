#!/usr/bin/env bash
# Bundled real data, test split, against scikit-learn's numbers on the same
# split (tests/fixtures/sklearn_reference.txt, made by
# scripts/sklearn_reference.py): digits softmax and breast-cancer logistic
# (--standardize) within 2 accuracy points; diabetes linear R^2 within 0.03.
source "$(dirname "$0")/lib.sh"

REF="$DDP_SOURCE_DIR/tests/fixtures/sklearn_reference.txt"
ref() { awk -v k="$1" '$1 == k { print $2 }' "$REF"; }
D="$DDP_SOURCE_DIR/data"
COMMON=(--features /train/X --labels /train/y --val-features /test/X --val-labels /test/y --quiet)

run_ranks 4 300 -- "$DDPTRAIN" train --data "$D/digits.h5" "${COMMON[@]}" --model softmax --optimizer adam \
    --lr 0.01 --batch-size 64 --epochs 40 --standardize --seed 1 --save "$TMP/digits.h5"
run_ranks 2 60 -- "$DDPTRAIN" eval --checkpoint "$TMP/digits.h5" --data "$D/digits.h5" --features /test/X --labels /test/y
acc=$(awk '/^  accuracy/ { print $2 }' "$OUT"); want=$(ref digits_accuracy)
check "digits softmax (4 ranks): test accuracy $acc vs sklearn $want (within 0.02)" \
    awk -v a="$acc" -v w="$want" 'BEGIN { exit !(a != "" && a >= w - 0.02) }'

run_ranks 4 300 -- "$DDPTRAIN" train --data "$D/breast_cancer.h5" "${COMMON[@]}" --model logistic --optimizer adam \
    --lr 0.01 --batch-size 32 --epochs 60 --standardize --seed 1 --save "$TMP/bc.h5"
run_ranks 2 60 -- "$DDPTRAIN" eval --checkpoint "$TMP/bc.h5" --data "$D/breast_cancer.h5" --features /test/X --labels /test/y
acc=$(awk '/^  accuracy/ { print $2 }' "$OUT"); want=$(ref breast_cancer_accuracy)
check "breast cancer logistic --standardize (4 ranks): test accuracy $acc vs sklearn $want (within 0.02)" \
    awk -v a="$acc" -v w="$want" 'BEGIN { exit !(a != "" && a >= w - 0.02) }'

run_ranks 2 300 -- "$DDPTRAIN" train --data "$D/diabetes.h5" "${COMMON[@]}" --model linear --optimizer sgd \
    --lr 0.1 --momentum 0.9 --batch-size 354 --epochs 500 --standardize --seed 1 --save "$TMP/diab.h5"
run_ranks 2 60 -- "$DDPTRAIN" eval --checkpoint "$TMP/diab.h5" --data "$D/diabetes.h5" --features /test/X --labels /test/y
r2=$(awk '/^  r2/ { print $2 }' "$OUT"); want=$(ref diabetes_r2)
check "diabetes linear --standardize (2 ranks): test R^2 $r2 vs sklearn $want (within 0.03)" \
    awk -v a="$r2" -v w="$want" 'BEGIN { exit !(a != "" && a >= w - 0.03 && a <= w + 0.03) }'
check "no ddptrain process left behind" no_leftovers
finish
