#!/usr/bin/env bash
# --bucket-mb: a gradient reduction larger than the bucket is split into
# non-blocking allreduces whose optimizer updates run as each arrives. The
# result must be bitwise the one-allreduce result (updates are elementwise),
# and the non-finite checks must behave the same (first bad element named;
# --nan-policy skip undoes the buckets already applied).
source "$(dirname "$0")/lib.sh"

CMP="$DDP_BUILD_DIR/h5compare"
D="$DDP_SOURCE_DIR/data/digits.h5"
A=(train --data "$D" --features /train/X --labels /train/y --model softmax --optimizer adam --lr 0.01
   --batch-size 64 --epochs 3 --seed 5 --quiet)
# digits: 64 x 10 weight + 10 bias = 650 elements; 0.0005 MiB = 65 doubles -> 11 buckets
for n in 1 2 3; do
    run_ranks "$n" 120 -- "$DDPTRAIN" "${A[@]}" --save "$TMP/one$n.h5"
    r1=$RC
    run_ranks "$n" 120 -- "$DDPTRAIN" "${A[@]}" --bucket-mb 0.0005 --save "$TMP/buck$n.h5"
    check "$n ranks: both runs exit 0 ($r1, $RC)" test "$r1" -eq 0 -a "$RC" -eq 0
    for ds in /model/weight /model/bias /optimizer/state/weight/exp_avg_sq; do
        check "$n ranks: 11 buckets give bitwise the single allreduce's $ds" \
            "$CMP" "$TMP/one$n.h5" "$ds" "$TMP/buck$n.h5" "$ds" 0 0
    done
done

# divergence with buckets (linear, 8 features: 9 elements + 4 flags; 0.00005
# MiB = 6 doubles -> 3 buckets): the gradient overflows float32 while the
# loss (float64) is still finite, so the bad element is found in a bucket
run_ranks 2 120 -- "$DDPTRAIN" gen linear --rows 4000 --features 8 --seed 2 --noise 0.1 --out "$TMP/lin.h5"
L=(train --data "$TMP/lin.h5" --model linear --optimizer sgd --lr 1e6 --batch-size 64 --epochs 3 --quiet)
run_ranks 2 60 -- "$DDPTRAIN" "${L[@]}" --bucket-mb 0.00005
check "diverging with buckets: exit 3 on all ranks (ranks=[$RANK_RCS])" test "$RC" -eq 3 -a "$RANK_RCS" = "3"
msg_b=$(grep -oE "(non-finite|diverged).*element [0-9]*" "$ERR")
run_ranks 2 60 -- "$DDPTRAIN" "${L[@]}"
msg_1=$(grep -oE "(non-finite|diverged).*element [0-9]*" "$ERR")
check "... naming the same step and element as one allreduce ($msg_b)" test -n "$msg_b" -a "$msg_b" = "$msg_1"
# --nan-policy skip: every step after the divergence is skipped and undone
# (with buckets: the buckets applied before the bad one too)
run_ranks 2 60 -- "$DDPTRAIN" "${L[@]}" --nan-policy skip --max-skips 1000 --save "$TMP/skip1.h5"
r1=$RC
run_ranks 2 60 -- "$DDPTRAIN" "${L[@]}" --nan-policy skip --max-skips 1000 --bucket-mb 0.00005 --save "$TMP/skip2.h5"
check "--nan-policy skip: both runs finish ($r1, $RC)" test "$r1" -eq 0 -a "$RC" -eq 0
check "--nan-policy skip: with and without buckets bitwise the same weights" \
    "$CMP" "$TMP/skip1.h5" /model/weight "$TMP/skip2.h5" /model/weight 0 0

# The optimizer phase on the rank's threads (one bucket, 4096+ trainable
# elements, more than one thread) against the serial bucket-by-bucket path:
# softmax 512 x 10 = 5130 elements, 2 threads; 0.01 MiB = 1310 doubles -> 4
# buckets. Bitwise the same weights and optimizer state; the same
# divergence message; the same --nan-policy skip result.
run_ranks 1 120 -- "$DDPTRAIN" gen softmax --rows 3000 --features 512 --classes 10 --seed 4 --out "$TMP/sm.h5"
S=(train --data "$TMP/sm.h5" --model softmax --optimizer adam --lr 0.01 --batch-size 128 --epochs 2 --seed 5
   --threads 2 --quiet)
for n in 1 2; do
    run_ranks "$n" 120 -- "$DDPTRAIN" "${S[@]}" --save "$TMP/par$n.h5"
    r1=$RC
    run_ranks "$n" 120 -- "$DDPTRAIN" "${S[@]}" --bucket-mb 0.01 --save "$TMP/ser$n.h5"
    check "$n rank(s) x 2 threads, 5130 elements: both runs exit 0 ($r1, $RC)" test "$r1" -eq 0 -a "$RC" -eq 0
    for ds in /model/weight /model/bias /optimizer/state/weight/exp_avg; do
        check "$n rank(s) x 2 threads: the threads' optimizer phase gives bitwise the buckets' $ds" \
            "$CMP" "$TMP/par$n.h5" "$ds" "$TMP/ser$n.h5" "$ds" 0 0
    done
done
# divergence: linear, 4200 features = 4201 elements; 0.01 MiB -> 4 buckets
run_ranks 1 120 -- "$DDPTRAIN" gen linear --rows 1000 --features 4200 --seed 2 --noise 0.1 --out "$TMP/wide.h5"
P=(train --data "$TMP/wide.h5" --model linear --optimizer sgd --lr 1e6 --batch-size 64 --epochs 3 --threads 2
   --quiet)
run_ranks 1 60 -- "$DDPTRAIN" "${P[@]}"
msg_p=$(grep -oE "(non-finite|diverged).*element [0-9]*" "$ERR")
check "diverging on 2 threads (4201 elements): exit 3 ($RC)" test "$RC" -eq 3
run_ranks 1 60 -- "$DDPTRAIN" "${P[@]}" --bucket-mb 0.01
msg_s=$(grep -oE "(non-finite|diverged).*element [0-9]*" "$ERR")
check "... naming the same step and element as the buckets ($msg_p)" test -n "$msg_p" -a "$msg_p" = "$msg_s"
run_ranks 1 60 -- "$DDPTRAIN" "${P[@]}" --nan-policy skip --max-skips 1000 --save "$TMP/pskip.h5"
r1=$RC
run_ranks 1 60 -- "$DDPTRAIN" "${P[@]}" --nan-policy skip --max-skips 1000 --bucket-mb 0.01 --save "$TMP/sskip.h5"
check "--nan-policy skip on 2 threads: both runs finish ($r1, $RC)" test "$r1" -eq 0 -a "$RC" -eq 0
check "--nan-policy skip on 2 threads: bitwise the buckets' weights" \
    "$CMP" "$TMP/pskip.h5" /model/weight "$TMP/sskip.h5" /model/weight 0 0

run_ranks 2 60 -- "$DDPTRAIN" "${A[@]}" --bucket-mb 0
check "--bucket-mb 0: exit 2 naming the option" grep -q -- "--bucket-mb" "$ERR"
check "no ddptrain process left behind" no_leftovers
finish
