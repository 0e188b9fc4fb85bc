#!/usr/bin/env bash
# mutants.sh — bit-flip mutants of valid HDF5 files against ddptrain: the
# fault-suite row "bit-flip mutants of a valid file (ASan build): clean error
# or an HDF5-internal failure, never a ddptrain crash".
#
#   scripts/mutants.sh [N] [FILE...]        (default N = 1000)
#
# Inputs (FILE...) are valid data files or ddptrain checkpoints; by default:
# a small dataset made by `ddptrain gen` (contiguous), the same gzip-chunked,
# data/digits.h5 and a checkpoint made by `ddptrain train --save` (Adam,
# --standardize: optimizer state and standardisation datasets). N mutants are
# spread round-robin over the inputs, each with 1-8 flipped bits
# (tests/tools/bitflip, splitmix64 from a per-mutant seed): every other
# mutant flips bits anywhere, the others only before the first raw data byte,
# where the superblock and object headers live. Each mutant runs once,
# single rank (ddptrain starts MPI as a singleton), under `timeout`:
#   data file    ddptrain load --data MUT --model M [--features F --labels L]
#   checkpoint   ddptrain info MUT
# (M, F, L: whatever the pristine file loads with; digits: /train/X /train/y).
#
# Outcomes:
#   accepted        exit 0
#   clean error     a documented exit code (2, 3, 4, 6) and a 'ddptrain: error' line
#   HDF5-internal   a sanitizer report or signal whose top frame (past the
#                   sanitizer runtime and libc) is in libhdf5 or a library it calls
#   ddptrain crash  the same, top frame in ddptrain's code; or a DDP_ASSERT
#   hang            killed by the timeout
#   other           none of these (an undocumented exit): listed, counted as a failure
# For a binary without ASan a signal is re-run under gdb for the stack
# (without gdb it cannot be placed and counts as a ddptrain crash).
# Crashing mutants (ddptrain's code only) are kept in tests/fuzz/regressions/
# mutants/ as NAME.h5 + NAME.h5.args (the ddptrain arguments, @FILE@ for the
# mutant) for tests/integration/test_fuzz_regressions.sh.
# Exits 1 if any mutant crashed in ddptrain, hung or ended as "other".
#
#   DDPTRAIN=path        binary (default: build/ddptrain, built if missing);
#                        point it at an ASan build: cmake -DDDP_SANITIZE=ON
#   BITFLIP=path         mutator (default: bitflip beside DDPTRAIN, else compiled here)
#   MUTANTS_SEED=S       base seed (default 1): same S, same mutants
#   MUTANTS_TIMEOUT=T    seconds per run (default 20)
#   MUTANTS_JOBS=J       runs in parallel (default: cores)
#   MUTANTS_INPUTS_DIR=D make the default inputs in D, or reuse them from there
#   MUTANTS_ONLY="I J"   run only mutants number I, J, ... of the N (triage)
#   MUTANTS_KEEP=DIR     where crashing mutants go (default tests/fuzz/regressions/mutants;
#                        MUTANTS_KEEP=none keeps nothing)
set -uo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
N="${1:-1000}"
[ $# -gt 0 ] && shift
case "$N" in '' | *[!0-9]*) echo "usage: $0 [N] [FILE...]" >&2; exit 2 ;; esac
SEED="${MUTANTS_SEED:-1}"
LIMIT="${MUTANTS_TIMEOUT:-20}"
JOBS="${MUTANTS_JOBS:-$(getconf _NPROCESSORS_ONLN)}"
KEEP="${MUTANTS_KEEP:-$REPO/tests/fuzz/regressions/mutants}"

if [ -z "${DDPTRAIN:-}" ]; then
    source "$REPO/scripts/setup.sh"
    set +e
    ddp_install_missing gdb
    ddp_build >/dev/null || { echo "mutants: build failed" >&2; exit 2; }
    DDPTRAIN="$BUILD_DIR/ddptrain"
fi
DDPTRAIN="$(cd "$(dirname "$DDPTRAIN")" && pwd)/$(basename "$DDPTRAIN")"
[ -x "$DDPTRAIN" ] || { echo "mutants: $DDPTRAIN is not executable" >&2; exit 2; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/ddp-mutants.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

BITFLIP="${BITFLIP:-$(dirname "$DDPTRAIN")/bitflip}"
if [ ! -x "$BITFLIP" ]; then
    BITFLIP="$WORK/bitflip"
    cc -std=gnu11 -O2 -o "$BITFLIP" "$REPO/tests/tools/bitflip.c" ||
        { echo "mutants: cannot build tests/tools/bitflip.c" >&2; exit 2; }
fi

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
# the PML Open MPI selects here anyway, named: no 0.2 s probe of cm at each start (README, "Tests")
export OMPI_MCA_pml="${OMPI_MCA_pml:-ob1}"
export OMP_NUM_THREADS=1
# Leaks inside HDF5 on error paths are not what this looks for; abort at the
# first report so the exit status says it. These two win over the caller's.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
HAVE_GDB=0
command -v gdb >/dev/null && HAVE_GDB=1

# ------------------------------------------------------------ inputs
INPUTS=("$@")
if [ ${#INPUTS[@]} -eq 0 ]; then
    # Made in MUTANTS_INPUTS_DIR when given (and reused from there when they
    # exist, so two binaries can be compared on the very same inputs), with
    # relative paths so the command line stored in the checkpoint does not
    # depend on where they were made. HDF5 still stamps object times.
    IN="${MUTANTS_INPUTS_DIR:-$WORK/inputs}"
    mkdir -p "$IN"
    IN="$(cd "$IN" && pwd)"
    if [ ! -f "$IN/checkpoint.h5" ]; then
        echo "mutants: making the default inputs in $IN"
        ln -sf "$DDPTRAIN" "$IN/ddptrain"
        run_quiet() { (cd "$IN" && "$@") >"$WORK/setup.log" 2>&1 || { cat "$WORK/setup.log" >&2; exit 2; }; }
        run_quiet ./ddptrain gen softmax --rows 300 --features 8 --classes 3 --seed 5 --out gen.h5
        run_quiet ./ddptrain gen softmax --rows 300 --features 8 --classes 3 --seed 6 \
            --chunk-rows 64 --gzip 4 --out gen_gzip.h5
        run_quiet ./ddptrain train --data gen.h5 --model softmax --optimizer adam --standardize \
            --epochs 2 --batch-size 64 -q --save checkpoint.h5
        rm -f "$IN/ddptrain"
    fi
    INPUTS=("$IN/gen.h5" "$IN/gen_gzip.h5" "$REPO/data/digits.h5" "$IN/checkpoint.h5")
fi

# Per input: how to run it (ARGS, @FILE@ for the mutant) and the flip window.
declare -a ARGS WINDOW STEM
for k in "${!INPUTS[@]}"; do
    f="${INPUTS[$k]}"
    [ -f "$f" ] || { echo "mutants: $f: no such file" >&2; exit 2; }
    STEM[k]="$(basename "$f" .h5)"
    "$DDPTRAIN" info "$f" >"$WORK/info.out" 2>&1
    if grep -q '^checkpoint: valid' "$WORK/info.out"; then
        ARGS[k]="info @FILE@"
    else
        names=""
        grep -q '^  /train/X ' "$WORK/info.out" && names="--features /train/X --labels /train/y"
        ARGS[k]=""
        for model in softmax logistic linear; do
            # shellcheck disable=SC2086 # $names is two option pairs, or nothing
            if "$DDPTRAIN" load --data "$f" --model "$model" $names >/dev/null 2>&1; then
                ARGS[k]="load --data @FILE@ --model $model${names:+ $names}"
                break
            fi
        done
        [ -n "${ARGS[$k]}" ] || { echo "mutants: $f does not load as it is; give valid files" >&2; exit 2; }
    fi
    # the first raw data byte (h5dump -p), so the windowed flips hit metadata
    first=$(h5dump -H -p "$f" 2>/dev/null | awk '$1 == "OFFSET" && $2 > 0 { if (!m || $2 < m) m = $2 } END { print m + 0 }')
    [ "$first" -ge 512 ] 2>/dev/null || first=4096
    WINDOW[k]="$first"
    echo "  input $k: $f ($(stat -c %s "$f") B, metadata window ${first} B): ddptrain ${ARGS[$k]}"
done

# ------------------------------------------------------------ attribution
# where STDERR_FILE: the top frame of the first stack in a sanitizer report or
# gdb backtrace that is not the sanitizer runtime or libc. Prints
# "ddptrain <frame>", "hdf5 <frame>", "lib:<name> <frame>" or "unknown".
where() {
    awk -v bin="$DDPTRAIN" -v repo="$REPO" '
        !started && /ERROR: AddressSanitizer|AddressSanitizer:DEADLYSIGNAL|runtime error:|received signal|Program terminated with signal|ERROR: LeakSanitizer/ {
            started = 1
            # UBSan names the faulting source line on the report line itself
            if ($0 ~ /runtime error:/ && index($0, repo "/") == 1) { print "ddptrain " $1; done = 1; exit }
            next
        }
        !started || done { next }
        /^ *#[0-9]+ / {
            seen = 1
            f = $0
            if (f ~ /libsanitizer|compiler-rt|libasan|libubsan|__interceptor_|__asan|__ubsan|__sanitizer/) next
            if (f ~ /libc\.so|libc-|ld-linux|libpthread|libgcc_s| in raise |__assert_fail|__libc_start|abort \(/) next
            if (f ~ /[ (]\.\.\//) next                   # libc or runtime built elsewhere: relative paths
            sub(/^ *#[0-9]+ +(0x[0-9a-f]+ +)?(in )?/, "", f)
            if (index(f, repo "/") || index(f, bin) || f ~ /^ddp_/) { print "ddptrain " f; done = 1; exit }
            if (f ~ /libhdf5/) { print "hdf5 " f; done = 1; exit }
            if (match(f, /\/lib[^\/ ]*\.so[.0-9]*/)) { print "lib:" substr(f, RSTART + 1, RLENGTH - 1) " " f; done = 1; exit }
            if (f !~ / from \//) { print "ddptrain " f; done = 1; exit } # gdb: no "from" = the executable
            print "unknown " f; done = 1; exit
        }
        seen && /^$/ { print "unknown"; done = 1; exit }
        END { if (!done) print "unknown" }
    ' "$1" | cut -c1-240
}

# run_one I: make mutant I, run it, write one result line to $WORK/res/I:
# class|input|seed|flips|window|rc|detail
run_one() {
    local i="$1" k=$(($1 % ${#INPUTS[@]}))
    local seed=$((SEED * 1000003 + i))
    local flips=$(((i * 2654435761 >> 7) % 8 + 1))
    local win="" tag=anywhere
    if [ $(((i / ${#INPUTS[@]}) % 2)) -eq 1 ]; then win="${WINDOW[$k]}"; tag="first${win}B"; fi
    local mut="$WORK/m$i.h5" out="$WORK/m$i.out" err="$WORK/m$i.err"
    # shellcheck disable=SC2086 # $win is the optional last argument
    "$BITFLIP" "${INPUTS[$k]}" "$mut" "$seed" "$flips" $win >"$WORK/m$i.flips" ||
        { echo "other|$k|$seed|$flips|$tag|-|bitflip failed" >"$WORK/res/$i"; return; }
    local args="${ARGS[$k]//@FILE@/$mut}"
    # each run its own TMPDIR: Open MPI singletons started at once in one
    # TMPDIR race to create its session directory ("mkdir ... File exists",
    # exit 1: seen once in 60 mutants of a CI run)
    local tmp="$WORK/t$i"
    mkdir -p "$tmp"
    # shellcheck disable=SC2086 # ARGS holds no spaces inside arguments
    TMPDIR="$tmp" timeout --kill-after=5 "$LIMIT" "$DDPTRAIN" $args </dev/null >"$out" 2>"$err"
    local rc=$? class detail=""
    if grep -qa 'ddptrain: internal error' "$err"; then
        class=crash
        detail=$(grep -a -m1 'ddptrain: internal error' "$err")
    elif grep -qaE 'ERROR: AddressSanitizer|AddressSanitizer:DEADLYSIGNAL|runtime error:' "$err"; then
        detail=$(where "$err")
        case "$detail" in ddptrain*) class=crash ;; unknown*) class=crash ;; *) class=hdf5 ;; esac
        detail="$(grep -a -m1 -oE 'SUMMARY: [A-Za-z]+Sanitizer: [A-Za-z-]+|runtime error: .{0,80}' "$err" |
            sed 's/^SUMMARY: //'): $detail"
    elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        class=hang
        detail="no exit within ${LIMIT}s"
    elif [ "$rc" -gt 128 ] && [[ ! "$((rc - 128))" =~ ^(4|5|6|7|8|11)$ ]]; then
        class=other # SIGTERM/SIGINT/...: stopped from outside, not a crash
        detail="killed by signal $((rc - 128)) from outside"
    elif [ "$rc" -gt 128 ]; then
        detail="signal $((rc - 128))"
        if [ "$HAVE_GDB" -eq 1 ]; then
            # shellcheck disable=SC2086
            TMPDIR="$tmp" timeout 120 gdb -q -batch -ex run -ex bt --args "$DDPTRAIN" $args </dev/null >"$err.gdb" 2>&1
            detail="$detail: $(where "$err.gdb")"
        else
            detail="$detail: no stack to tell where (install gdb, or use an ASan build)"
        fi
        case "$detail" in *": hdf5 "* | *": lib:"*) class=hdf5 ;; *) class=crash ;; esac
    elif [ "$rc" -eq 0 ]; then
        class=accepted
    elif grep -qa 'ddptrain: error' "$err" && [[ "$rc" =~ ^(2|3|4|6)$ ]]; then
        class=clean
        detail=$(grep -a -m1 'ddptrain: error' "$err" | sed "s|$mut|MUT|g" | cut -c1-160)
    else
        class=other
        detail="exit $rc: $(head -c 300 "$err" | tr '\n' ' ')"
    fi
    # keep only what is placed in ddptrain's code (not "unknown": no stack)
    if [ "$class" = crash ] && [ "$KEEP" != none ] &&
        [[ "$detail" == *"internal error"* || "$detail" == *": ddptrain "* || "$detail" == "ddptrain "* ]]; then
        mkdir -p "$KEEP"
        local name="${STEM[$k]}-s$seed-f$flips"
        cp "$mut" "$KEEP/$name.h5"
        echo "${ARGS[$k]}" >"$KEEP/$name.h5.args"
        detail="$detail [kept as $name.h5]"
        cp "$err" "$WORK/keep-$i.err"
    fi
    echo "$class|$k|$seed|$flips|$tag|$rc|$detail" >"$WORK/res/$i"
    rm -f "$mut" "$out"
}

# ------------------------------------------------------------ run
mkdir -p "$WORK/res"
trap 'echo "mutants: interrupted" >&2; exit 130' INT TERM
echo "mutants: $N mutants of ${#INPUTS[@]} input(s), seed $SEED, $JOBS at a time, timeout ${LIMIT}s, binary $DDPTRAIN"
t0=$(date +%s)
running=0
for i in ${MUTANTS_ONLY:-$(seq 0 $((N - 1)))}; do
    run_one "$i" 2>/dev/null & # (the shell's "Aborted" notices: the report says it all)
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then
        wait -n
        running=$((running - 1))
    fi
    if [ $(((i + 1) % 100)) -eq 0 ]; then echo "  $((i + 1))/$N started ($(($(date +%s) - t0)) s)"; fi
done
wait
elapsed=$(($(date +%s) - t0))

# ------------------------------------------------------------ report
cat "$WORK"/res/* 2>/dev/null >"$WORK/all" || true
count() { awk -F'|' -v c="$1" -v k="${2:-}" '$1 == c && (k == "" || $2 == k)' "$WORK/all" | wc -l; }
echo
sanitized="no ASan"
grep -qa '__asan_init' "$DDPTRAIN" && sanitized=ASan
echo "mutants: $(wc -l <"$WORK/all") in ${elapsed}s, $sanitized binary"
printf '  %-16s %8s %8s %8s %8s %8s %8s %8s\n' input mutants accepted clean hdf5 crash hang other
for k in "${!INPUTS[@]}" all; do
    kk="$k" label=all
    if [ "$k" = all ]; then kk=""; else label="${STEM[$k]}"; fi
    total=$(awk -F'|' -v k="$kk" 'k == "" || $2 == k' "$WORK/all" | wc -l)
    printf '  %-16s %8s %8s %8s %8s %8s %8s %8s\n' "$label" "$total" "$(count accepted "$kk")" \
        "$(count clean "$kk")" "$(count hdf5 "$kk")" "$(count crash "$kk")" "$(count hang "$kk")" \
        "$(count other "$kk")"
done
echo "  accepted: exit 0; clean: exit 2/3/4/6 with 'ddptrain: error'; hdf5: a failure inside libhdf5 (or a"
echo "  library under it); crash: in ddptrain's code; hang: killed after ${LIMIT}s; other: anything else"

echo "  clean errors by message (top 12):"
awk -F'|' '$1 == "clean" { m = $7; sub(/^ddptrain: error: /, "", m); sub(/^MUT: /, "", m); gsub(/[0-9]+/, "N", m); print substr(m, 1, 90) }' \
    "$WORK/all" | sort | uniq -c | sort -rn | head -12 | sed 's/^/    /'
for c in hdf5 crash hang other; do
    if [ "$(count "$c")" -gt 0 ]; then
        echo "  $c:"
        awk -F'|' -v c="$c" '$1 == c { printf "    input %s seed %s flips %s (%s) exit %s: %s\n", $2, $3, $4, $5, $6, $7 }' \
            "$WORK/all" | head -40
    fi
done
for e in "$WORK"/keep-*.err; do
    [ -e "$e" ] || continue
    echo "  --- report of $(basename "$e" .err):"
    grep -v '^ *$' "$e" | head -30 | sed 's/^/    /'
done
bad=$(($(count crash) + $(count hang) + $(count other)))
[ "$bad" -eq 0 ]
