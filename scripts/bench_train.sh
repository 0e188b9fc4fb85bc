#!/usr/bin/env bash
# bench_train.sh — training throughput of logistic regression on
# 1,000,000 x 256 float32, global batch 1024, one epoch in memory, for
# 1 rank x 2 threads and 2 ranks x 1 thread, beside the machine's measured
# memory read bandwidth (tests/tools/membw.c) and the fraction of it achieved
# (rows x row bytes / time). Figures only: nothing here fails on a slow machine.
#   scripts/bench_train.sh [ROWS] [FEATURES] [BATCH]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
ddp_install_missing
ddp_build >/dev/null
DDP="$BUILD_DIR/ddptrain"
ROWS="${1:-1000000}"
FEATURES="${2:-256}"
BATCH="${3:-1024}"
ddp_workdir bench-train
FILE="$WORK/bench.h5"
OMP_NUM_THREADS=1 mpirun -n 2 "$DDP" gen logistic --rows "$ROWS" --features "$FEATURES" --seed 1 --out "$FILE" >/dev/null

BW1=$("$BUILD_DIR/membw" 1 | awk '{ print $2 }')
BW2=$("$BUILD_DIR/membw" 2 | awk '{ print $2 }')
ROW_BYTES=$((FEATURES * 4))

run() { # ranks threads -> seconds of the training loop (from the summary line)
    OMP_NUM_THREADS="$2" mpirun -n "$1" --bind-to none "$DDP" train --data "$FILE" --model logistic \
        --optimizer sgd --lr 0.1 --batch-size "$BATCH" --epochs 1 --threads "$2" 2>/dev/null |
        sed -n 's/^summary: .*"seconds":\([0-9.]*\).*/\1/p'
}

echo "bench_train: logistic, $ROWS x $FEATURES float32 ($((ROWS * ROW_BYTES / 1000000)) MB), global batch $BATCH, 1 epoch"
echo "memory read bandwidth (membw): 1 thread $BW1 GB/s, 2 threads $BW2 GB/s"
printf "%-22s %10s %12s %9s %14s\n" "config" "seconds" "rows/s" "GB/s" "of bandwidth"
for cfg in "1 2" "2 1"; do
    set -- $cfg
    s=$(run "$1" "$2")
    awk -v r="$ROWS" -v b="$ROW_BYTES" -v s="$s" -v bw="$BW2" -v name="$1 rank x $2 thread" 'BEGIN {
        gbs = r * b / s / 1e9
        printf "%-22s %10.3f %12.0f %9.2f %13.1f%%\n", name, s, r / s, gbs, 100 * gbs / bw }'
done
