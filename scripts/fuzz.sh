#!/usr/bin/env bash
# fuzz.sh — coverage-guided fuzzing of the pure parsers with libFuzzer:
# the CSV and LIBSVM line parsers (src/textparse.c) and the command line
# (src/config.c), harnesses in tests/fuzz/fuzz_{csv,libsvm,cli}.c.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]     (default 60)
#   FUZZ_TARGETS="csv libsvm cli"            which harnesses to run
#   FUZZ_WORK=DIR                            builds, growing corpora and artifacts
#                                            (default ${TMPDIR:-/tmp}/ddp-fuzz; kept
#                                            between runs so the corpora keep growing)
#
# It installs clang-14 and its runtimes if missing, builds each harness with
# clang -fsanitize=fuzzer,address,undefined against the few sources it needs
# (not the whole ddpcore: no HDF5), seeds it from tests/fuzz/corpus/<target>
# and tests/fuzz/regressions/<target>, and fuzzes it for N seconds in fork
# mode, so a crash is recorded and the run goes on. Every crash, leak or
# timeout is minimised (-minimize_crash=1), de-duplicated by its report, and
# kept in tests/fuzz/regressions/<target>/ where the CTest replay
# (tests/integration/test_fuzz_regressions.sh) runs it in every build.
# Prints a table: target, runs, corpus size, crashes. Exits 1 if any target
# crashed. What it does not do: fix bugs, or fuzz HDF5 files (see
# scripts/mutants.sh).
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
set +e

SECS="${1:-60}"
case "$SECS" in '' | *[!0-9]*) echo "usage: $0 [SECONDS_PER_TARGET]" >&2; exit 2 ;; esac
TARGETS="${FUZZ_TARGETS:-csv libsvm cli}"
WORK="${FUZZ_WORK:-${TMPDIR:-/tmp}/ddp-fuzz}"
FUZZ_DIR="$REPO/tests/fuzz"

# ------------------------------------------------------------ toolchain
ddp_install_missing clang-14 libclang-rt-14-dev
CC=clang-14
command -v "$CC" >/dev/null || CC=clang
mkdir -p "$WORK"
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' \
    > "$WORK/probe.c"
if ! "$CC" -fsanitize=fuzzer,address,undefined "$WORK/probe.c" -o "$WORK/probe" 2>/dev/null; then
    echo "fuzz: $CC cannot link libFuzzer; install libclang-rt-14-dev" >&2
    exit 2
fi

# Sources per target. common.c's assertion path names MPI (MPI_Abort), so the
# harnesses link libmpi; nothing here calls MPI_Init.
sources_of() {
    case "$1" in
    csv | libsvm) echo "src/textparse.c src/common.c" ;;
    cli) echo "src/config.c src/optim.c src/common.c" ;;
    esac
}
# shellcheck disable=SC2054,SC2207 # commas inside -fsanitize=; mpicc's flags split on purpose
CFLAGS=(-std=gnu11 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
        -fno-sanitize-recover=all -DDDP_LIBFUZZER -Wall -Wextra -Wno-unknown-pragmas
        -I"$REPO/include" $(mpicc --showme:compile))
# shellcheck disable=SC2207
LDFLAGS=($(mpicc --showme:link) -lm)

build() { # build TARGET -> $WORK/fuzz_TARGET
    local t="$1" srcs
    srcs=$(sources_of "$t")
    [ -n "$srcs" ] || { echo "fuzz: unknown target '$t' (use csv, libsvm, cli)" >&2; return 1; }
    (cd "$REPO" && "$CC" "${CFLAGS[@]}" "tests/fuzz/fuzz_$t.c" $srcs "${LDFLAGS[@]}" \
        -o "$WORK/fuzz_$t")
}

# The first line of a report that tells one bug from another.
signature() { # signature BINARY INPUT
    timeout 60 "$1" "$2" 2>&1 |
        grep -a -m1 -E 'fuzz invariant failed|SUMMARY: (Address|Undefined|Leak)Sanitizer|runtime error:|ERROR: libFuzzer: timeout' |
        sed -E 's/0x[0-9a-f]+/ADDR/g; s/(fuzz invariant failed: [^ ]+).*/\1/' | cut -c1-200
}

# ------------------------------------------------------------ fuzz
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
ROWS=()
TOTAL_CRASHES=0
for t in $TARGETS; do
    echo "== fuzz_$t: building"
    build "$t" || { ROWS+=("$t|build failed|-|-|-|-"); TOTAL_CRASHES=$((TOTAL_CRASHES + 1)); continue; }
    bin="$WORK/fuzz_$t"
    corpus="$WORK/corpus/$t"
    art="$WORK/artifacts/$t"
    regr="$FUZZ_DIR/regressions/$t"
    mkdir -p "$corpus" "$art" "$regr"
    rm -f "$art"/crash-* "$art"/leak-* "$art"/timeout-* "$art"/oom-*
    seeds=("$FUZZ_DIR/corpus/$t")
    [ -n "$(ls -A "$regr" 2>/dev/null)" ] && seeds+=("$regr")

    echo "== fuzz_$t: fuzzing for ${SECS}s (log: $WORK/fuzz_$t.log)"
    "$bin" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
        -max_total_time="$SECS" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$art/" "$corpus" "${seeds[@]}" >"$WORK/fuzz_$t.log" 2>&1
    last=$(grep -a -E '^#[0-9]+: cov:' "$WORK/fuzz_$t.log" | tail -1)
    runs=$(echo "$last" | sed -nE 's/^#([0-9]+):.*/\1/p')
    n_corpus=$(ls "$corpus" | wc -l)

    # minimise, de-duplicate (also against the regression inputs already
    # kept: a bug not yet fixed is found again, counted, not stored twice)
    declare -A seen=()
    for f in "$regr"/*; do
        [ -f "$f" ] || continue
        sig=$(signature "$bin" "$f")
        [ -n "$sig" ] && seen[$sig]=known
    done
    n_raw=0 n_unique=0 n_new=0
    for a in "$art"/crash-* "$art"/leak-* "$art"/timeout-* "$art"/oom-*; do
        [ -e "$a" ] || continue
        n_raw=$((n_raw + 1))
        min="$a.min"
        "$bin" -minimize_crash=1 -runs=100000 -max_total_time=30 -timeout=10 \
            -exact_artifact_path="$min" "$a" >"$a.minlog" 2>&1
        [ -s "$min" ] || cp "$a" "$min"
        sig=$(signature "$bin" "$min")
        [ -n "$sig" ] || sig="unknown: $(basename "$a")"
        case "${seen[$sig]:-}" in
        counted) continue ;;
        known)
            seen[$sig]=counted
            n_unique=$((n_unique + 1))
            echo "   $t: $sig"
            echo "      found again: already in tests/fuzz/regressions/$t/ (not fixed yet)"
            continue ;;
        esac
        seen[$sig]=counted
        n_unique=$((n_unique + 1))
        n_new=$((n_new + 1))
        kind=$(basename "$a" | cut -d- -f1)
        name="$kind-$(sha1sum "$min" | cut -c1-12)"
        cp "$min" "$regr/$name"
        echo "   $t: $sig"
        echo "      kept as tests/fuzz/regressions/$t/$name ($(stat -c %s "$min") bytes)"
    done
    unset seen
    TOTAL_CRASHES=$((TOTAL_CRASHES + n_unique))
    ROWS+=("$t|${runs:-?}|$n_corpus|$n_unique|$n_new|$n_raw")
done

echo
echo "fuzz: ${SECS}s per target, ASan+UBSan, $(basename "$CC"), work dir $WORK"
printf '  %-8s %14s %8s %9s %5s %10s\n' target runs corpus crashes new artifacts
for r in "${ROWS[@]}"; do
    IFS='|' read -r t runs n_corpus n_unique n_new n_raw <<<"$r"
    printf '  %-8s %14s %8s %9s %5s %10s\n' "$t" "$runs" "$n_corpus" "$n_unique" "$n_new" "$n_raw"
done
echo "  crashes: distinct reports after minimisation (a known regression input found again counts);"
echo "  new: kept in tests/fuzz/regressions/<target>/; artifacts: raw crash/leak/timeout/oom files"
[ "$TOTAL_CRASHES" -eq 0 ]
