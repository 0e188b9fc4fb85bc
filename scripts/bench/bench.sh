#!/usr/bin/env bash
# bench.sh — the "speed of light" benchmarks: ddptrain's training throughput
# beside PyTorch and beside this machine's own limits, all measured in the
# same run on the same machine, plus shard-load I/O against a plain read.
#
#   scripts/bench/bench.sh [b1|b2|b3|io|all]... [-o CSV]      (default: all)
#
#   b1  logistic, 1,000,000 x 256 float32, global batch 1024
#   b2  softmax,    200,000 x 784, 10 classes, global batch 256
#   b3  linear,   2,000,000 x 64, global batch 4096
#   io  `ddptrain load` GB/s at 1, 2, 4 ranks beside dd and cat of the file
# Every training benchmark: 1 epoch in memory, shuffled batches, SGD lr 0.1,
# ddptrain at 1 rank x 2 threads and 2 ranks x 1 thread; PyTorch (Debian's
# python3-torch, scripts/bench/torch_ref.py: same file, batch, optimizer and
# shuffling, tensors preloaded) best of 1 and 2 threads, and PyTorch DDP (gloo,
# 2 processes x 1 thread), each with the reference BLAS and with OpenBLAS
# (Debian's libopenblas0-openmp): rows "PyTorch/<BLAS> ...", a pair per BLAS.
#
# Throughput = rows trained / the loop's "seconds" from ddptrain's summary
# line (taken after the shard is loaded, so loading is excluded; PyTorch's
# timer likewise starts after h5py has read the file). GB/s = rows/s x
# features x 4 bytes (the float32 rows each step must read once).
# The reference row "shuffled-row read" is membw --rows F: the probe reading
# F-float rows in a random order, as shuffled batches do; it is shown beside
# the limits to tell the access pattern's cost from the kernel's. Under it,
# "overlap probe" (membw --overlap F) tells whether this machine runs
# arithmetic while those rows are on their way: how much of the shorter of
# "read alone" and "as much FMA work alone" running both at once hides.
# The limit of a model is the lower of
#   read bandwidth: membw with 2 threads (GB/s), probed again just before
#                   the benchmark, / row bytes, and
#   FMA peak:       membw --flops with 2 threads / (4 x features x outputs)
#                   FLOPs per row (forward and weight-gradient multiply-adds).
# Both ddptrain configurations use the machine's 2 cores, so both are held
# against the 2-thread limits. "x PyTorch" divides by the best PyTorch
# configuration of the same benchmark (1 process or DDP, whichever is faster).
# Targets are printed as met / NOT met; figures only, nothing fails on a slow
# machine (the exit code reports only failures to run).
#
# Environment:
#   BENCH_SCALE=1        multiply the row counts (0.01 for a quick look)
#   BENCH_REPEAT=3       runs per configuration (ddptrain and PyTorch); best counts;
#                        ddptrain's two configurations alternate run by run
#   BENCH_TORCH=1        0 skips PyTorch ("-" in its columns); a list such as
#                        "b1" runs it for those benchmarks only
#   BENCH_TORCH_BLAS     the BLAS libraries for PyTorch, "NAME=DIR ..." with DIR
#                        holding a libblas.so.3 (default: reference-BLAS and
#                        OpenBLAS, those installed)
#   BENCH_MEMBW_MIB=512  probe array size in MiB (keep it well above the L3)
#   BENCH_IO_RANKS="1 2 4"  rank counts of the io benchmark
#   BENCH_IO_CACHE=cold  cold: drop the page cache before each reader when
#                        /proc/sys/vm/drop_caches is writable (root); warm:
#                        never drop it (every reader sees a warm cache)
#   BENCH_CHECKPOINT=    e.g. 1e or 200: ddptrain also writes checkpoints this
#                        often inside the timed loop (default: none, as PyTorch)
#   BENCH_PLOT=1         0: no bench.png (scripts/plot_bench.py) beside the CSV
#   BENCH_OUT=DIR        where bench.txt (this output) and bench.csv go
#                        (default $BUILD_DIR/bench); -o sets the CSV path alone
#   BUILD_DIR            the build to use and (re)build (default build/)
#   BENCH_NO_BUILD=1     use BUILD_DIR's binaries as they are: no package check,
#                        no build (the integration test runs it this way)
# CSV columns: see CSV_COLUMNS below; one row per measured configuration, per
# limit and per reader; scripts/plot_bench.py turns it into a bar chart.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/../setup.sh"

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
    exit "${1:-0}"
}

WHICH=()
CSV=""
while (($#)); do
    case "$1" in
    b1 | b2 | b3 | io) WHICH+=("$1") ;;
    all) WHICH+=(b1 b2 b3 io) ;;
    -o | --csv)
        [ $# -ge 2 ] || usage 2
        CSV="$2"
        shift
        ;;
    -h | --help) usage 0 ;;
    *)
        echo "bench.sh: unknown argument '$1' (expected b1, b2, b3, io, all, -o CSV)" >&2
        exit 2
        ;;
    esac
    shift
done
((${#WHICH[@]})) || WHICH=(b1 b2 b3 io)

SCALE="${BENCH_SCALE:-1}"
REPEAT="${BENCH_REPEAT:-3}"
TORCH="${BENCH_TORCH:-1}"
MEMBW_MIB="${BENCH_MEMBW_MIB:-512}"
IO_RANKS="${BENCH_IO_RANKS:-1 2 4}"
CKPT_EVERY="${BENCH_CHECKPOINT:-}"
OUT_DIR="${BENCH_OUT:-$BUILD_DIR/bench}"
CSV="${CSV:-$OUT_DIR/bench.csv}"
PY=/usr/bin/python3 # Debian's: python3-torch, python3-h5py
LR=0.1

if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
    ddp_install_missing
    [ "$TORCH" = 0 ] || ddp_bench_packages
    ddp_build >/dev/null
fi
DDP="$BUILD_DIR/ddptrain"
MEMBW="$BUILD_DIR/membw"
KBENCH="$BUILD_DIR/kernel_bench"
for f in "$DDP" "$MEMBW" "$KBENCH"; do
    [ -x "$f" ] || { echo "bench.sh: $f is missing: build first (scripts/setup.sh's ddp_build)" >&2; exit 2; }
done
want_torch() { [ "$TORCH" = 1 ] || [[ " $TORCH " == *" $1 "* ]]; }
# The BLAS libraries PyTorch is measured with, as "name=directory holding
# libblas.so.3" (selected per run through LD_LIBRARY_PATH, whatever the
# system's libblas.so.3 alternative is). Debian's torch calls libblas.so.3:
# with the reference BLAS that python3-torch pulls in, nn.Linear is several
# times slower than with OpenBLAS (B2 0.10 against 0.67 M rows/s), so both
# are measured and the faster counts. BENCH_TORCH_BLAS overrides the list.
ARCH_LIB="/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)"
TORCH_BLAS=()
if [ -n "${BENCH_TORCH_BLAS:-}" ]; then
    read -r -a TORCH_BLAS <<<"$BENCH_TORCH_BLAS"
else
    for b in "reference-BLAS=$ARCH_LIB/blas" "OpenBLAS=$ARCH_LIB/openblas-openmp" "OpenBLAS=$ARCH_LIB/openblas-pthread"; do
        [ -e "${b#*=}/libblas.so.3" ] || continue
        [[ " ${TORCH_BLAS[*]:-} " == *" ${b%%=*}="* ]] || TORCH_BLAS+=("$b")
    done
    ((${#TORCH_BLAS[@]})) || TORCH_BLAS=("system-BLAS=") # whatever libblas.so.3 resolves to
fi
mkdir -p "$OUT_DIR" "$(dirname "$CSV")"
ddp_workdir bench

CSV_COLUMNS=(bench kind config ranks threads rows features classes batch seconds rows_per_s gb_per_s gflops
             pct_of_limit x_torch data_pct compute_pct allreduce_pct allreduce_wait_pct optimizer_pct checkpoint_pct
             eval_pct other_pct worst_rows_per_s)
declare -A R
csv_emit() { # writes the row in R (missing fields empty), then clears R
    local line="" c
    for c in "${CSV_COLUMNS[@]}"; do line+="${R[$c]:-},"; done
    echo "${line%,}" >>"$CSV"
    R=()
}
calc() { awk "BEGIN { printf \"%.6g\", $1 }"; }           # calc 'EXPR' (awk arithmetic)
fmt() { awk -v v="$1" -v f="$2" 'BEGIN { if (v == "") printf "%s", "-"; else printf f, v }'; }
jget() { sed -n "s/.*\"$1\":\([-0-9.eE+]*\).*/\1/p" <<<"$2"; } # jget KEY SUMMARY_LINE (empty if absent)
rows_of() { awk -v n="$1" -v s="$SCALE" -v b="$2" 'BEGIN { r = int(n * s + 0.5); if (r < 2 * b) r = 2 * b; print r }'; }

# ------------------------------------------------------------------ limits
BW1="" BW2="" FL1="" FL2=""
probe_limits() {
    [ -z "$BW2" ] || return 0
    BW1=$(timeout 300 "$MEMBW" 1 "$MEMBW_MIB" | awk '{ print $2 }')
    BW2=$(timeout 300 "$MEMBW" 2 "$MEMBW_MIB" | awk '{ print $2 }')
    FL1=$(timeout 300 "$MEMBW" --flops 1 | awk '{ print $2 }')
    FL2=$(timeout 300 "$MEMBW" --flops 2 | awk '{ print $2 }')
    if [ -z "$BW1" ] || [ -z "$BW2" ] || [ -z "$FL1" ] || [ -z "$FL2" ]; then
        echo "bench.sh: $MEMBW did not report the limits (bandwidth '$BW1' '$BW2', FMA '$FL1' '$FL2')" >&2
        exit 1
    fi
    echo "limits (tests/tools/membw.c, -O3 -march=native): read bandwidth 1 thread $BW1 GB/s, 2 threads $BW2 GB/s" \
        "(${MEMBW_MIB} MiB, 3rd fastest of 20 passes); float32 FMA peak 1 thread $FL1 GFLOP/s, 2 threads $FL2 GFLOP/s"
    for t in 1 2; do
        local bw fl
        bw=$([ $t = 1 ] && echo "$BW1" || echo "$BW2")
        fl=$([ $t = 1 ] && echo "$FL1" || echo "$FL2")
        R=([bench]=machine [kind]=limit_bandwidth [config]="read bandwidth ${t}T" [threads]=$t [gb_per_s]=$bw)
        csv_emit
        R=([bench]=machine [kind]=limit_flops [config]="FMA peak ${t}T" [threads]=$t [gflops]=$fl)
        csv_emit
    done
}

# ------------------------------------------------------------------ data
gen_data() { # model rows features classes file
    local cls=()
    [ "$1" = softmax ] && cls=(--classes "$4")
    OMP_NUM_THREADS=1 timeout 1800 mpirun -n 2 --bind-to none "$DDP" gen "$1" --rows "$2" --features "$3" \
        "${cls[@]}" --seed 1 --out "$5" </dev/null >"$WORK/gen.out" 2>&1 || {
        cat "$WORK/gen.out" >&2
        echo "bench.sh: ddptrain gen $1 failed" >&2
        exit 1
    }
}

# ddp_run file model batch ranks threads: one training run of the
# configuration "ranks threads" (cfg). Keeps, per cfg, in the caller's
# arrays: D_BEST (the shortest loop seconds), D_SUM (that run's summary
# line), D_WORST (the longest loop seconds), and that run's --trace as
# $WORK/trace_<ranks>x<threads>.json. (--trace only stores spans in memory
# during the loop; they are written after it.) bench_model alternates the
# configurations run by run (1x2, 2x1, 1x2, ...), not REPEAT runs of one
# then REPEAT of the other: on a VM the same binary's loop moved by 50 %
# between minutes (README, "Measured on 2026-12-05"), which would fall on
# one configuration and not the other.
ddp_run() {
    local cfg="$4 $5" line s ck=()
    [ -z "$CKPT_EVERY" ] || { rm -rf "$WORK/ckpt"; mkdir -p "$WORK/ckpt"; ck=(--checkpoint "$WORK/ckpt/run" --checkpoint-every "$CKPT_EVERY"); }
    if ! OMP_NUM_THREADS="$5" timeout 1800 mpirun -n "$4" --bind-to none "$DDP" train --data "$1" --model "$2" \
        --optimizer sgd --lr "$LR" --batch-size "$3" --epochs 1 --seed 1 --threads "$5" "${ck[@]}" \
        --trace "$WORK/trace.json" </dev/null >"$WORK/train.out" 2>&1; then
        cat "$WORK/train.out" >&2
        echo "bench.sh: ddptrain train ($4 ranks x $5 threads) failed" >&2
        exit 1
    fi
    line=$(grep '^summary: ' "$WORK/train.out" || true)
    s=$(jget seconds "$line")
    if [ -z "$s" ]; then
        cat "$WORK/train.out" >&2
        echo "bench.sh: no summary line with \"seconds\" in ddptrain's output" >&2
        exit 1
    fi
    if [ -z "${D_BEST[$cfg]:-}" ] || awk -v a="$s" -v b="${D_BEST[$cfg]}" 'BEGIN { exit !(a < b) }'; then
        D_BEST[$cfg]="$s"
        D_SUM[$cfg]="$line"
        mv "$WORK/trace.json" "$WORK/trace_${4}x${5}.json"
    fi
    if [ -z "${D_WORST[$cfg]:-}" ] || awk -v a="$s" -v b="${D_WORST[$cfg]}" 'BEGIN { exit !(a > b) }'; then
        D_WORST[$cfg]="$s"
    fi
}

# allreduce_wait ranks threads: the seconds of rank 0's allreduce spent
# waiting for the slower rank in the best run of that configuration
# (scripts/trace_summary.py on its --trace; the rest of t_allreduce is
# communication)
allreduce_wait() {
    "$PY" "$HERE/../trace_summary.py" --kv "$WORK/trace_${1}x${2}.json" >"$WORK/split.out" || {
        echo "bench.sh: scripts/trace_summary.py could not read the trace" >&2
        exit 1
    }
    awk '$1 == "allreduce_wait_s" { print $2 }' "$WORK/split.out"
}

# ------------------------------------------------------------------ training benchmarks
bench_model() { # name model base_rows features classes batch
    local name="$1" model="$2" features="$4" classes="$5" batch="$6" rows n_out file
    rows=$(rows_of "$3" "$batch")
    n_out=$([ "$model" = softmax ] && echo "$classes" || echo 1)
    file="$WORK/$name.h5"
    probe_limits
    local row_bytes=$((features * 4))
    local desc="$model, $(printf "%'d" "$rows") x $features float32"
    [ "$model" = softmax ] && desc+=", $classes classes"
    echo
    echo "== ${name^^}: $desc ($(calc "$rows * $row_bytes / 1e9") GB), global batch $batch, SGD lr $LR, 1 epoch, shuffled"
    gen_data "$model" "$rows" "$features" "$classes" "$file"

    # limits in rows/s. The read bandwidth is probed again now, just before
    # this benchmark's runs: on a VM it moves with the host's other tenants
    # (34 to 56 GB/s with 2 threads here), so the start-of-run figure can be stale.
    local flops_row=$((4 * features * n_out)) bw_now bw_rows fl_rows limit limit_kind
    bw_now=$(timeout 300 "$MEMBW" 2 "$MEMBW_MIB" | awk '{ print $2 }')
    [ -n "$bw_now" ] || { echo "bench.sh: $MEMBW 2 reported nothing" >&2; exit 1; }
    bw_rows=$(calc "$bw_now * 1e9 / $row_bytes")
    fl_rows=$(calc "$FL2 * 1e9 / $flops_row")
    if awk -v a="$bw_rows" -v b="$fl_rows" 'BEGIN { exit !(a <= b) }'; then
        limit=$bw_rows limit_kind=bandwidth
    else
        limit=$fl_rows limit_kind=flops
    fi

    # reference, not a limit: the probe reading rows of this width in shuffled order
    local shuf_gbs shuf_rows
    shuf_gbs=$(timeout 300 "$MEMBW" --rows "$features" 2 "$MEMBW_MIB" | awk '{ print $2 }')
    shuf_rows=$(calc "$shuf_gbs * 1e9 / $row_bytes")
    # the kernel alone on one batch whose rows are in cache (each thread's
    # half in its core's L2), 2 threads, the best of many calls; and the
    # model "its time and the shuffled read's time add", which is what this
    # VM showed (README, "Measured on 2026-12-06"): 1 / (1/cached + 1/shuffled)
    local kc_rows add_rows kc_reps
    kc_reps=$(calc "2e9 / ($batch * $features * $n_out)" | xargs printf "%.0f")
    [ "$kc_reps" -ge 100 ] || kc_reps=100
    kc_rows=$(timeout 300 "$KBENCH" "$model" "$batch" "$features" "$n_out" "$batch" 2 "$kc_reps" |
        awk '$1 == "kernel_rows_per_s" { print $2 }')
    [ -n "$kc_rows" ] || { echo "bench.sh: $KBENCH reported nothing" >&2; exit 1; }
    add_rows=$(calc "1 / (1 / $kc_rows + 1 / $shuf_rows)")
    # whether this machine overlaps arithmetic with reading shuffled rows of
    # this width at all (membw --overlap: read alone, as much register FMA
    # work alone, both; the work independent of the rows, and on the rows)
    local ovl
    ovl=$(timeout 300 "$MEMBW" --overlap "$features" 2 "$MEMBW_MIB")
    [ -n "$ovl" ] || { echo "bench.sh: $MEMBW --overlap reported nothing" >&2; exit 1; }

    # ddptrain: REPEAT runs of each configuration, alternated (see ddp_run)
    local -A D_RPS=() D_SUM=() D_BEST=() D_WORST=() D_WORST_RPS=() D_WAIT=()
    local cfg
    for _ in $(seq "$REPEAT"); do
        for cfg in "1 2" "2 1"; do
            set -- $cfg
            ddp_run "$file" "$model" "$batch" "$1" "$2"
        done
    done
    for cfg in "1 2" "2 1"; do
        set -- $cfg
        D_WAIT[$cfg]=$(allreduce_wait "$1" "$2")
        local epochs
        epochs=$(jget epochs "${D_SUM[$cfg]}")
        D_RPS[$cfg]=$(calc "$rows * ${epochs:-1} / ${D_BEST[$cfg]}")
        D_WORST_RPS[$cfg]=$(calc "$rows * ${epochs:-1} / ${D_WORST[$cfg]}")
    done

    # PyTorch, once per BLAS library; t_ref: the fastest configuration of all
    local t_ref="" torch_on=0 blas
    local -A T_BEST=() T_THREADS=() T_DDP=() T_LIB=()
    want_torch "$name" && torch_on=1
    if [ "$torch_on" = 1 ]; then
        for blas in "${TORCH_BLAS[@]}"; do
            if ! LD_LIBRARY_PATH="${blas#*=}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" timeout 3600 "$PY" \
                "$HERE/torch_ref.py" --data "$file" --model "$model" --batch-size "$batch" --lr "$LR" \
                --threads 1,2 --ddp 2 --repeat "$REPEAT" </dev/null >"$WORK/torch.out" 2>&1; then
                cat "$WORK/torch.out" >&2
                echo "bench.sh: scripts/bench/torch_ref.py failed (BLAS: $blas)" >&2
                exit 1
            fi
            cp "$WORK/torch.out" "$WORK/torch_${blas%%=*}.out"
            T_BEST[$blas]=$(awk '$1 == "torch_best_rows_per_s" { print $2 }' "$WORK/torch.out")
            T_THREADS[$blas]=$(awk '$1 == "torch_best_rows_per_s" { print $4 }' "$WORK/torch.out")
            T_DDP[$blas]=$(awk '$1 == "torch_ddp_rows_per_s" { print $2 }' "$WORK/torch.out")
            local lib
            lib=$(awk '$1 == "torch_blas" { print $2 }' "$WORK/torch.out")
            T_LIB[$blas]="${lib:-unknown}"
            t_ref=$(calc "(${t_ref:-0} > ${T_BEST[$blas]}) ? ${t_ref:-0} : ${T_BEST[$blas]}")
            t_ref=$(calc "($t_ref > ${T_DDP[$blas]}) ? $t_ref : ${T_DDP[$blas]}")
        done
    fi
    if [ "$name" = b1 ] && [[ " ${WHICH[*]} " == *" io "* ]]; then
        mv "$file" "$WORK/io.h5" # the io benchmark reads the same 1 M x 256 logistic file
    else
        rm -f "$file"
    fi

    local hdr="%-55s %12s %8s %11s %10s %13s\n"
    printf "$hdr" "config" "rows/s" "GB/s" "% of limit" "x PyTorch" "worst rows/s"
    row() { # label rows_per_s kind ranks threads [worst_rows_per_s]
        local gbs pct x=""
        gbs=$(calc "$2 * $row_bytes / 1e9")
        pct=$(calc "100 * $2 / $limit")
        [ -n "$t_ref" ] && x=$(calc "$2 / $t_ref")
        printf "$hdr" "$1" "$(fmt "$2" "%.0f")" "$(fmt "$gbs" "%.2f")" "$(fmt "$pct" "%.1f%%")" "$(fmt "$x" "%.2f")" \
            "$(fmt "${6:-}" "%.0f")"
        R=([bench]=$name [kind]=$3 [config]="$1" [ranks]=$4 [threads]=$5 [rows]=$rows [features]=$features
           [classes]=$n_out [batch]=$batch [rows_per_s]=$2 [gb_per_s]=$gbs [pct_of_limit]=$pct [x_torch]=$x
           [worst_rows_per_s]=${6:-})
    }
    for cfg in "1 2" "2 1"; do
        set -- $cfg
        row "ddptrain $1 rank(s) x $2 thread(s)" "${D_RPS[$cfg]}" ddptrain "$1" "$2" "${D_WORST_RPS[$cfg]}"
        local sum="${D_SUM[$cfg]}" secs p v other
        secs=$(jget seconds "$sum")
        R[seconds]=$secs
        other=$secs
        for p in data compute allreduce optimizer checkpoint eval; do
            v=$(jget "t_$p" "$sum")
            [ -n "$v" ] || continue
            R[${p}_pct]=$(calc "100 * $v / $secs")
            other=$(calc "$other - $v")
        done
        R[other_pct]=$(calc "100 * $other / $secs")
        R[allreduce_wait_pct]=$(calc "100 * ${D_WAIT[$cfg]} / $secs")
        csv_emit
    done
    if [ "$torch_on" = 1 ]; then
        for blas in "${TORCH_BLAS[@]}"; do
            local bn="${blas%%=*}" tt="${T_THREADS[$blas]}"
            row "PyTorch/$bn 1 process (best: $tt thread(s))" "${T_BEST[$blas]}" torch 1 "$tt"
            R[seconds]=$(awk -v t="$tt" '$1 == "torch_rows_per_s" && $4 == t { print $6 }' "$WORK/torch_$bn.out")
            csv_emit
            row "PyTorch/$bn DDP gloo 2 processes x 1 thread" "${T_DDP[$blas]}" torch_ddp 2 1
            R[seconds]=$(awk '$1 == "torch_ddp_rows_per_s" { print $6 }' "$WORK/torch_$bn.out")
            csv_emit
        done
    else
        printf "$hdr" "PyTorch (skipped: BENCH_TORCH=$TORCH)" - - - - -
    fi
    row "limit: read bandwidth 2 threads" "$bw_rows" limit_bandwidth 1 2
    R[gb_per_s]=$bw_now
    csv_emit
    row "limit: FMA peak 2 threads ($flops_row FLOP/row)" "$fl_rows" limit_flops 1 2
    R[gflops]=$FL2
    csv_emit
    row "ref: shuffled-row read 2 threads" "$shuf_rows" ref_shuffled 1 2
    csv_emit
    row "ref: kernel alone (rows in cache) 2 threads" "$kc_rows" ref_kernel_cached 1 2
    csv_emit
    row "ref: kernel + shuffled read (times added)" "$add_rows" ref_added 1 2
    csv_emit
    echo "   (% of limit: of the lower limit, $limit_kind; x PyTorch: over the best PyTorch configuration;"
    echo "    rows/s is the best of $REPEAT runs, worst rows/s the slowest: a wide gap means a busy machine;"
    echo "    ref: membw --rows $features, the same sum over rows in shuffled order, L2-prefetched: not a limit;"
    echo "    kernel alone: kernel_bench on one batch of $batch rows in cache, best of $kc_reps calls;"
    echo "    times added: 1 / (1/kernel + 1/shuffled read), what a kernel whose compute does not overlap"
    echo "    its memory reads can reach)"
    if [ "$torch_on" = 1 ]; then
        for blas in "${TORCH_BLAS[@]}"; do echo "   (PyTorch, ${blas%%=*}: torch's BLAS was ${T_LIB[$blas]})"; done
    fi
    awk '{ for (i = 1; i < NF; i++) v[$i] = $(i + 1)
           printf "overlap probe (membw --overlap %s 2): shuffled read %s ns/row, FMA work %s ns/row, both %s ns/row:\n", \
               v["row_floats"], v["read_ns"], v["fma_ns"], v["both_ns"]
           printf "   %s%% of the shorter hidden; with the FMA work on the rows (as a kernel'"'"'s) %s ns/row, %s%% hidden\n", \
               v["overlap_hidden_pct"], v["dependent_ns"], v["dependent_hidden_pct"]
           print "   (100% = a full overlap, the longer part alone; 0% = the times add, as in the model above)" }' <<<"$ovl"

    # phase split
    local phdr="%-40s %6s %8s %10s %9s %10s %11s %6s %6s\n"
    echo
    printf "$phdr" "time split, % of loop seconds (rank 0)" data compute allreduce "(waiting)" optimizer checkpoint \
        eval other
    for cfg in "1 2" "2 1"; do
        set -- $cfg
        local sum="${D_SUM[$cfg]}" secs vals=() p v other
        secs=$(jget seconds "$sum")
        other=$secs
        for p in data compute allreduce optimizer checkpoint eval; do
            v=$(jget "t_$p" "$sum")
            if [ -n "$v" ]; then
                vals+=("$(calc "100 * $v / $secs" | xargs printf "%.1f")")
                other=$(calc "$other - $v")
            else
                vals+=("n/a")
            fi
            [ "$p" = allreduce ] && vals+=("$(calc "100 * ${D_WAIT[$cfg]} / $secs" | xargs printf "(%.1f)")")
        done
        vals+=("$(calc "100 * $other / $secs" | xargs printf "%.1f")")
        printf "$phdr" "ddptrain $1 rank(s) x $2 thread(s)" "${vals[@]}"
    done

    # targets (issue 6): reported, never enforced
    local pct_min x_min ar ok_l ok_x gap
    local need_pct need_x
    if [ "$name" = b2 ]; then need_pct=50 need_x=4; else need_pct=60 need_x=10; fi
    pct_min=$(calc "100 * (${D_RPS["1 2"]} < ${D_RPS["2 1"]} ? ${D_RPS["1 2"]} : ${D_RPS["2 1"]}) / $limit")
    gap=$(calc "${D_RPS["2 1"]} / ${D_RPS["1 2"]}")
    met() { awk "BEGIN { print (($1) ? \"met\" : \"NOT met\") }"; }
    echo
    echo "targets: >= $need_pct% of limit: $(met "$pct_min >= $need_pct") ($(printf %.1f "$pct_min")% for the slower config;" \
        "times added: $(calc "100 * $add_rows / $limit" | xargs printf %.1f)%)"
    if [ -n "$t_ref" ]; then
        x_min=$(calc "(${D_RPS["1 2"]} < ${D_RPS["2 1"]} ? ${D_RPS["1 2"]} : ${D_RPS["2 1"]}) / $t_ref")
        echo "         >= ${need_x}x PyTorch: $(met "$x_min >= $need_x") ($(printf %.2f "$x_min")x for the slower config)"
    fi
    echo "         2x1 within 10% of 1x2: $(met "$gap >= 0.9 && $gap <= 1.1") (rows/s of 2x1 / 1x2 = $(printf %.3f "$gap"))"
    if [ "$name" = b1 ]; then
        local ar_wait ar_comm secs21
        secs21=$(jget seconds "${D_SUM["2 1"]}")
        ar=$(calc "100 * $(jget t_allreduce "${D_SUM["2 1"]}") / $secs21")
        ar_wait=$(calc "100 * ${D_WAIT["2 1"]} / $secs21")
        ar_comm=$(calc "$ar - $ar_wait")
        echo "         allreduce < 5% of step time (2 ranks): $(met "$ar < 5") ($(printf %.1f "$ar")% in the call, of which" \
            "$(printf %.1f "$ar_wait")% waiting for the slower rank and $(printf %.1f "$ar_comm")% communication)"
    fi
}

# ------------------------------------------------------------------ I/O
bench_io() {
    local rows file bytes
    rows=$(rows_of 1000000 1024)
    file="$WORK/io.h5"
    echo
    echo "== IO: shard load of a logistic $(printf "%'d" "$rows") x 256 float32 file vs a plain sequential read"
    [ -s "$file" ] || gen_data logistic "$rows" 256 0 "$file"
    bytes=$(stat -c %s "$file")
    local cache=warm
    drop() { :; }
    if [ "${BENCH_IO_CACHE:-cold}" = cold ] && [ -w /proc/sys/vm/drop_caches ] && sync && echo 3 >/proc/sys/vm/drop_caches 2>/dev/null; then
        cache=cold
        drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
    else
        cat "$file" >/dev/null # warm for every reader
    fi
    now() { date +%s.%N; }
    timed() { drop; local t0; t0=$(now); "$@"; calc "$(now) - $t0"; }
    best() { tr ' ' '\n' | grep -v '^$' | sort -g | head -1; }
    worst() { tr ' ' '\n' | grep -v '^$' | sort -g | tail -1; }
    local dd_all="" cat_all=""
    for _ in $(seq "$REPEAT"); do
        dd_all+=" $(timed dd if="$file" of=/dev/null bs=16M status=none)"
        cat_all+=" $(timed sh -c "cat '$file' > /dev/null")"
    done
    local dd_s
    dd_s=$(echo "$dd_all" | best)
    echo "   $(calc "$bytes / 1e9") GB file, page cache $cache before each reader, best of $REPEAT"
    local hdr="%-40s %9s %8s %10s %10s\n"
    printf "$hdr" "reader" "seconds" "GB/s" "% of dd" "worst (s)"
    io_row() { # label best worst ranks
        local gbs pct
        gbs=$(calc "$bytes / 1e9 / $2")
        pct=$(calc "100 * $dd_s / $2")
        printf "$hdr" "$1" "$(printf %.4f "$2")" "$(printf %.2f "$gbs")" "$(printf %.1f%% "$pct")" "$(printf %.4f "$3")"
        R=([bench]=io [kind]=io [config]="$1" [ranks]=$4 [rows]=$rows [features]=256 [seconds]=$2 [gb_per_s]=$gbs
           [pct_of_limit]=$pct)
        csv_emit
    }
    io_row "dd bs=16M > /dev/null" "$dd_s" "$(echo "$dd_all" | worst)" ""
    io_row "cat > /dev/null" "$(echo "$cat_all" | best)" "$(echo "$cat_all" | worst)" ""
    local P out total_all read_all
    for P in $IO_RANKS; do
        total_all="" read_all=""
        for _ in $(seq "$REPEAT"); do
            drop
            if ! out=$(OMP_NUM_THREADS=1 timeout 600 mpirun -n "$P" --bind-to none "$DDP" load --data "$file" </dev/null 2>&1); then
                echo "$out" >&2
                echo "bench.sh: ddptrain load -n $P failed" >&2
                exit 1
            fi
            # whole load (metadata checks + parallel read + value checks), slowest rank
            total_all+=" $(echo "$out" | awk '/aggregate/ { for (i = 1; i <= NF; i++) if ($i == "in") print $(i + 1) }')"
            read_all+=" $(echo "$out" | awk '$1 == "s" && $2 == "read" { print $5 }')"
        done
        io_row "ddptrain load -n $P (all phases)" "$(echo "$total_all" | best)" "$(echo "$total_all" | worst)" "$P"
        io_row "ddptrain load -n $P (read phase)" "$(echo "$read_all" | best)" "$(echo "$read_all" | worst)" "$P"
    done
    rm -f "$file"
}

# ------------------------------------------------------------------ main
main() {
    local IFS_SAVE="$IFS" b
    (IFS=,; echo "${CSV_COLUMNS[*]}") >"$CSV"
    IFS="$IFS_SAVE"
    echo "bench.sh: $(date -u +%Y-%m-%dT%H:%M:%SZ), ddptrain $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')," \
        "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(getconf _NPROCESSORS_ONLN) cores," \
        "scale $SCALE, best of $REPEAT"
    # the OpenMP library ddptrain loads (README, "OpenMP runtime")
    echo "OpenMP runtime: $(ldd "$DDP" 2>/dev/null | awk '$1 ~ /^lib(g?omp|iomp5)/ { print $1 }' | tr '\n' ' ')"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (a shared machine makes every figure noisier)"
    for b in "${WHICH[@]}"; do
        case "$b" in
        b1) bench_model b1 logistic 1000000 256 0 1024 ;;
        b2) bench_model b2 softmax 200000 784 10 256 ;;
        b3) bench_model b3 linear 2000000 64 0 4096 ;;
        io) bench_io ;;
        esac
    done
    echo
    echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "csv: $CSV"
    if [ "${BENCH_PLOT:-1}" != 0 ] && "$PY" -c 'import matplotlib' 2>/dev/null; then
        local png="${CSV%.csv}.png"
        if timeout 120 "$PY" "$REPO/scripts/plot_bench.py" "$CSV" -o "$png" >/dev/null 2>"$WORK/plot.err"; then
            echo "plot: $png"
        else
            echo "plot: scripts/plot_bench.py failed: $(tail -1 "$WORK/plot.err")"
        fi
    fi
}

main 2>&1 | tee "$OUT_DIR/bench.txt"
exit "${PIPESTATUS[0]}"
