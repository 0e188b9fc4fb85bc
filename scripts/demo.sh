#!/usr/bin/env bash
# demo.sh — install what is missing, build, and run the data path end to end:
# generate a dataset in parallel, describe it, load it across 4 ranks, and
# load the bundled real data.
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
