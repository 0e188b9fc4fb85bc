#!/usr/bin/env bash
# tsan.sh — the OpenMP parts under ThreadSanitizer. GCC's libgomp is not
# instrumented, so TSan would drown in false reports; this builds with clang,
# LLVM's libomp and its Archer tool, which tells TSan about OpenMP's barriers
# and reductions. It (1) requires TSan to report the deliberate race in
# tests/tsan/canary.c, then (2) runs the kernel and optimizer unit tests on 4
# threads and requires zero reports.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${TSAN_BUILD_DIR:-$REPO/build-tsan}"
source "$REPO/scripts/setup.sh"
ddp_install_missing clang-14 libomp-14-dev
mkdir -p "$OUT"
CC=clang-14
ARCHER=/usr/lib/llvm-14/lib/libarcher.so
FLAGS=(-O1 -g -fsanitize=thread -fopenmp=libomp -I"$REPO/include" $(mpicc --showme:compile)
       -I/usr/include/hdf5/openmpi -DDDP_SOURCE_DIR="\"$REPO\"")
LIBS=($(mpicc --showme:link) -lcmocka -lm -L/usr/lib/llvm-14/lib -Wl,-rpath,/usr/lib/llvm-14/lib)
export OMP_TOOL_LIBRARIES="$ARCHER" OMP_NUM_THREADS=4
export TSAN_OPTIONS="ignore_noninstrumented_modules=1 halt_on_error=0 exitcode=66"

"$CC" "${FLAGS[@]}" "$REPO/tests/tsan/canary.c" -o "$OUT/canary" "${LIBS[@]}"
if "$OUT/canary" > "$OUT/canary.log" 2>&1 || ! grep -q "WARNING: ThreadSanitizer: data race" "$OUT/canary.log"; then
    echo "tsan: FAIL: the deliberate race in tests/tsan/canary.c was not reported; the set-up cannot see races"
    exit 1
fi
echo "tsan: ok   canary race reported (the set-up detects races)"

status=0
n_pass=1 # the canary
n_fail=0
SRC=("$REPO/src/kernels.c" "$REPO/src/kernels_rowwise.c" "$REPO/src/model.c" "$REPO/src/optim.c" "$REPO/src/rng.c" "$REPO/src/common.c"
     "$REPO/src/config.c")
for t in test_kernels test_optim; do
    "$CC" "${FLAGS[@]}" "$REPO/tests/unit/$t.c" "${SRC[@]}" -o "$OUT/$t" "${LIBS[@]}"
    if "$OUT/$t" > "$OUT/$t.log" 2>&1 && ! grep -q "WARNING: ThreadSanitizer" "$OUT/$t.log"; then
        echo "tsan: ok   $t on 4 OpenMP threads: $(grep -c '\[       OK \]' "$OUT/$t.log") tests, 0 race reports"
        n_pass=$((n_pass + 1))
    else
        echo "tsan: FAIL $t: $(grep -c 'WARNING: ThreadSanitizer' "$OUT/$t.log") race report(s); see $OUT/$t.log"
        grep -A12 "WARNING: ThreadSanitizer" "$OUT/$t.log" | head -30
        status=1
        n_fail=$((n_fail + 1))
    fi
done
echo "tsan: $n_pass passed, $n_fail failed"
exit $status
