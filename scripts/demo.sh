#!/usr/bin/env bash
# demo.sh — install what is missing, build, and run the main job end to end:
# generate a dataset in parallel, describe it, load it across 4 ranks, then
# train softmax on the bundled digits data with 4 ranks and report test accuracy.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
ddp_install_missing
ddp_build
DDP="$BUILD_DIR/ddptrain"
WORK="${DEMO_DIR:-$BUILD_DIR/demo}"
mkdir -p "$WORK"

run() { echo; echo "\$ $*"; "$@"; }

run mpirun -n 4 "$DDP" gen logistic --rows 200000 --features 64 --seed 1 --out "$WORK/synthetic.h5"
run "$DDP" info "$WORK/synthetic.h5"
run mpirun -n 4 "$DDP" load --data "$WORK/synthetic.h5" --model logistic --checksum
run "$DDP" info "$REPO/data/digits.h5" --features /train/X --labels /train/y
run mpirun -n 4 "$DDP" load --data "$REPO/data/digits.h5" --features /train/X --labels /train/y --model softmax

# The main job: softmax on the bundled digits data, 4 ranks, test accuracy.
run mpirun -n 4 "$DDP" train --data "$REPO/data/digits.h5" --features /train/X --labels /train/y \
    --val-features /test/X --val-labels /test/y --model softmax --optimizer adam --lr 0.01 \
    --batch-size 64 --epochs 20 --standardize --threads 1 --metrics "$WORK/digits_metrics.jsonl" \
    --save "$WORK/digits_model.h5"
run mpirun -n 2 "$DDP" eval --checkpoint "$WORK/digits_model.h5" --data "$REPO/data/digits.h5" \
    --features /test/X --labels /test/y
echo
echo "demo: model in $WORK/digits_model.h5, metrics (JSONL, one line per epoch) in $WORK/digits_metrics.jsonl"
