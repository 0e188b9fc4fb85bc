#!/usr/bin/env bash
# --bucket-mb: a gradient reduction larger than the bucket is split into
# non-blocking allreduces whose optimizer updates run as each arrives. The
# result must be bitwise the one-allreduce result (updates are elementwise),
# and the non-finite checks must behave the same (first bad element named;
# --nan-policy skip undoes the buckets already applied). The optimizer phase
# on the rank's threads (one bucket, 4096+ elements, 2 threads) is held to
# the serial bucket-by-bucket path the same way.
source "$(dirname "$0")/lib.sh"

CMP="$DDP_BUILD_DIR/h5compare"
D="$DDP_SOURCE_DIR/data/digits.h5"
A=(train --data "$D" --features /train/X --labels /train/y --model softmax --optimizer adam --lr 0.01
   --batch-size 64 --epochs 3 --seed 5 --quiet)
# same_as_buckets N MB TAG WHAT DATASET... -- ARGS...: ARGS on N ranks as
# they are and with --bucket-mb MB; both exit 0 and save bitwise the same
# DATASETs (WHAT describes the comparison, TAG names the files)
same_as_buckets() {
    local n="$1" mb="$2" tag="$3" what="$4" ds=()
    shift 4
    while [ "$1" != "--" ]; do ds+=("$1"); shift; done
    shift
    run_ranks "$n" 120 -- "$DDPTRAIN" "$@" --save "$TMP/$tag.one$n.h5"
    local r1=$RC
    run_ranks "$n" 120 -- "$DDPTRAIN" "$@" --bucket-mb "$mb" --save "$TMP/$tag.buck$n.h5"
    check "$n rank(s), $tag: both runs exit 0 ($r1, $RC)" test "$r1" -eq 0 -a "$RC" -eq 0
    for d in "${ds[@]}"; do
        check "$n rank(s): $what give bitwise the same $d" "$CMP" "$TMP/$tag.one$n.h5" "$d" "$TMP/$tag.buck$n.h5" "$d" 0 0
    done
}

# diverges_as_buckets N MB WHAT -- ARGS...: ARGS, which diverge, exit 3 on
# all N ranks and name the same step and element as with --bucket-mb MB;
# with --nan-policy skip both runs finish with bitwise the same weights
# (every step after the divergence is skipped and undone; with buckets, the
# buckets applied before the bad one too)
diverges_as_buckets() {
    local n="$1" mb="$2" what="$3" one bucks r1
    shift 4
    run_ranks "$n" 60 -- "$DDPTRAIN" "$@" --bucket-mb "$mb"
    check "$what, diverging with buckets: exit 3 on all ranks (ranks=[$RANK_RCS])" \
        test "$RC" -eq 3 -a "$RANK_RCS" = "3"
    bucks=$(grep -oE "(non-finite|diverged).*element [0-9]*" "$ERR")
    run_ranks "$n" 60 -- "$DDPTRAIN" "$@"
    one=$(grep -oE "(non-finite|diverged).*element [0-9]*" "$ERR")
    check "$what: exit 3 ($RC), naming the same step and element as the buckets ($one)" \
        test "$RC" -eq 3 -a -n "$one" -a "$one" = "$bucks"
    run_ranks "$n" 60 -- "$DDPTRAIN" "$@" --nan-policy skip --max-skips 1000 --save "$TMP/skip1.h5"
    r1=$RC
    run_ranks "$n" 60 -- "$DDPTRAIN" "$@" --nan-policy skip --max-skips 1000 --bucket-mb "$mb" --save "$TMP/skip2.h5"
    check "$what, --nan-policy skip: both runs finish ($r1, $RC)" test "$r1" -eq 0 -a "$RC" -eq 0
    check "$what, --nan-policy skip: with and without buckets bitwise the same weights" \
        "$CMP" "$TMP/skip1.h5" /model/weight "$TMP/skip2.h5" /model/weight 0 0
}

# digits: 64 x 10 weight + 10 bias = 650 elements; 0.0005 MiB = 65 doubles -> 11 buckets
for n in 1 2 3; do
    same_as_buckets "$n" 0.0005 digits "one allreduce and 11 buckets" \
        /model/weight /model/bias /optimizer/state/weight/exp_avg_sq -- "${A[@]}"
done

# divergence with buckets (linear, 8 features: 9 elements + 4 flags; 0.00005
# MiB = 6 doubles -> 3 buckets): the gradient overflows float32 while the
# loss (float64) is still finite, so the bad element is found in a bucket
run_ranks 2 120 -- "$DDPTRAIN" gen linear --rows 4000 --features 8 --seed 2 --noise 0.1 --out "$TMP/lin.h5"
L=(train --data "$TMP/lin.h5" --model linear --optimizer sgd --lr 1e6 --batch-size 64 --epochs 3 --quiet)
diverges_as_buckets 2 0.00005 "linear, 9 elements" -- "${L[@]}"

# The optimizer phase on the rank's threads (one bucket, 4096+ trainable
# elements, more than one thread) against the serial bucket-by-bucket path:
# softmax 512 x 10 = 5130 elements, 2 threads; 0.01 MiB = 1310 doubles -> 4
# buckets. Bitwise the same weights and optimizer state; the same
# divergence message; the same --nan-policy skip result.
run_ranks 1 120 -- "$DDPTRAIN" gen softmax --rows 3000 --features 512 --classes 10 --seed 4 --out "$TMP/sm.h5"
S=(train --data "$TMP/sm.h5" --model softmax --optimizer adam --lr 0.01 --batch-size 128 --epochs 2 --seed 5
   --threads 2 --quiet)
for n in 1 2; do
    same_as_buckets "$n" 0.01 softmax5130 "x 2 threads, the threads' optimizer phase and 4 serial buckets" \
        /model/weight /model/bias /optimizer/state/weight/exp_avg -- "${S[@]}"
done
# divergence: linear, 4200 features = 4201 elements; 0.01 MiB -> 4 buckets
run_ranks 1 120 -- "$DDPTRAIN" gen linear --rows 1000 --features 4200 --seed 2 --noise 0.1 --out "$TMP/wide.h5"
diverges_as_buckets 1 0.01 "linear, 4201 elements, 2 threads" -- train --data "$TMP/wide.h5" --model linear \
    --optimizer sgd --lr 1e6 --batch-size 64 --epochs 3 --threads 2 --quiet

run_ranks 2 60 -- "$DDPTRAIN" "${A[@]}" --bucket-mb 0
check "--bucket-mb 0: exit 2 naming the option" grep -q -- "--bucket-mb" "$ERR"
check "no ddptrain process left behind" no_leftovers
finish
