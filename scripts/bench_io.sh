#!/usr/bin/env bash
# bench_io.sh — shard-load throughput of `ddptrain load` beside a plain
# sequential read of the same file (dd and cat to /dev/null), measured in the
# same run, printed as a table with the ratio to dd.
#
#   scripts/bench_io.sh [ROWS] [FEATURES]     (default 1000000 x 256 float32 = 1.0 GB)
#   BENCH_FILE=path   reuse an existing file instead of generating one
#   BENCH_RANKS="1 2 4"  rank counts for ddptrain
#   BENCH_REPEAT=3    runs per reader; the table shows the best and the worst
# The page cache is dropped before each reader when /proc/sys/vm/drop_caches
# is writable (cold reads); otherwise every reader sees a warm cache, which the
# table says.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
ddp_install_missing
ddp_build >/dev/null
DDP="$BUILD_DIR/ddptrain"
ROWS="${1:-1000000}"
FEATURES="${2:-256}"
RANKS="${BENCH_RANKS:-1 2 4}"
REPEAT="${BENCH_REPEAT:-3}"
ddp_workdir bench-io
FILE="${BENCH_FILE:-$WORK/bench.h5}"
export OMP_NUM_THREADS=1

if [ -z "${BENCH_FILE:-}" ]; then
    mpirun -n 2 "$DDP" gen logistic --rows "$ROWS" --features "$FEATURES" --seed 1 --out "$FILE"
fi
BYTES=$(stat -c %s "$FILE")

cache=warm
drop() { :; }
if [ -w /proc/sys/vm/drop_caches ] && sync && echo 3 > /proc/sys/vm/drop_caches 2>/dev/null; then
    cache=cold
    drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }
fi
# warm-up read so "warm" means warm for every reader
[ "$cache" = warm ] && cat "$FILE" > /dev/null

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", b - a }'; }

gbps() { awk -v b="$BYTES" -v s="$1" 'BEGIN { printf "%.2f", b / 1e9 / s }'; }
ratio() { awk -v s="$1" -v d="$DD_S" 'BEGIN { printf "%.2f", d / s }'; }
best() { tr ' ' '\n' | grep -v '^$' | sort -g | head -1; }
worst() { tr ' ' '\n' | grep -v '^$' | sort -g | tail -1; }

timed() { # command... -> seconds
    drop; local t0 t1; t0=$(now); "$@"; t1=$(now); secs "$t0" "$t1"
}
DD_ALL=""; CAT_ALL=""
for _ in $(seq "$REPEAT"); do
    DD_ALL+=" $(timed dd if="$FILE" of=/dev/null bs=16M status=none)"
    CAT_ALL+=" $(timed sh -c "cat '$FILE' > /dev/null")"
done
DD_S=$(echo "$DD_ALL" | best)

echo
echo "bench_io: $FILE, $(awk -v b="$BYTES" 'BEGIN { printf "%.2f", b / 1e9 }') GB, page cache $cache, $(getconf _NPROCESSORS_ONLN) cores, best of $REPEAT"
printf "%-34s %9s %8s %12s %11s\n" "reader" "seconds" "GB/s" "ratio to dd" "worst (s)"
row() { printf "%-34s %9s %8s %12s %11s\n" "$1" "$2" "$(gbps "$2")" "$(ratio "$2")" "$3"; }
row "dd bs=16M > /dev/null" "$DD_S" "$(echo "$DD_ALL" | worst)"
row "cat > /dev/null" "$(echo "$CAT_ALL" | best)" "$(echo "$CAT_ALL" | worst)"
for P in $RANKS; do
    TOTAL_ALL=""; READ_ALL=""
    for _ in $(seq "$REPEAT"); do
        drop
        out=$(mpirun -n "$P" "$DDP" load --data "$FILE")
        # whole load (metadata checks + parallel read + value checks), slowest rank
        TOTAL_ALL+=" $(echo "$out" | awk '/aggregate/ { for (i = 1; i <= NF; i++) if ($i == "in") print $(i + 1) }')"
        READ_ALL+=" $(echo "$out" | awk '$1 == "s" && $2 == "read" { print $5 }')"
    done
    row "ddptrain load -n $P (all phases)" "$(echo "$TOTAL_ALL" | best)" "$(echo "$TOTAL_ALL" | worst)"
    row "ddptrain load -n $P (read phase)" "$(echo "$READ_ALL" | best)" "$(echo "$READ_ALL" | worst)"
done
