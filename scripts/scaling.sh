#!/usr/bin/env bash
# scaling.sh — strong- and weak-scaling sweeps of `ddptrain train` over
# ranks x threads, with the allreduce measurements the communication model
# needs. Runs under mpirun on one machine, or inside a Slurm allocation
# (salloc / sbatch), where it launches with srun --mpi=pmix.
#
#   scripts/scaling.sh [options]
#     --mode strong|weak|both   (default both)
#     --ranks "1 2 4 8"         rank counts (default "1 2 4 8")
#     --threads "1 2"           OpenMP threads per rank (default "1 2")
#     --rows N --features F --classes C    the softmax problem (default 65536 x 256, 10)
#     --batch B                 strong: the global batch (default 8192)
#     --batch-per-worker b      weak: global batch = b x ranks x threads (default 512)
#     --steps S                 timed steps per run (default 30); --repeat R rounds, best of R (default 5)
#     --out DIR                 results (default scaling-<date>)
#     --launcher auto|mpirun|srun   (auto: srun inside a Slurm allocation, else mpirun)
#     --no-plot                 skip the PNG (no matplotlib needed)
#     --max-error F             exit 1 when the model misses a measured multi-rank
#                               point by more than the fraction F (e.g. 0.25)
#
# Writes DIR/scaling.csv (one row per run: mode, ranks, threads, workers,
# global batch, rows/s, time per step split by phase, speed-up, efficiency),
# DIR/allreduce.csv (allreduce time against message size at each rank count
# >= 2), DIR/model.txt (scripts/scaling_model.py: the alpha-beta fit, the
# model beside every measured point, and the extrapolation to thousands of
# ranks) and DIR/scaling.png (speed-up and efficiency against ideal).
#
# Speed-up and efficiency are against the 1 rank x 1 thread run of the same
# mode. Strong: same global batch, so speed-up = t1 / t and efficiency =
# speed-up / workers. Weak: the batch grows with the workers, so efficiency =
# t1 / t (ideal: constant step time) and speed-up = efficiency x workers.
# Time per step is the slowest phase sum on rank 0 (data + compute +
# allreduce + optimizer) over the timed steps; the first, cold steps are not
# excluded, so use enough --steps.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
set +e

MODE=both RANKS="1 2 4 8" THREADS="1 2" ROWS=65536 FEATURES=256 CLASSES=10 BATCH=8192 BPW=512 STEPS=30
REPEAT=5 OUT="scaling-$(date +%Y%m%d-%H%M%S)" LAUNCHER=auto PLOT=1 MAX_ERROR=()
while [ $# -gt 0 ]; do
    case "$1" in
    --mode) MODE="$2"; shift 2 ;;
    --ranks) RANKS="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --rows) ROWS="$2"; shift 2 ;;
    --features) FEATURES="$2"; shift 2 ;;
    --classes) CLASSES="$2"; shift 2 ;;
    --batch) BATCH="$2"; shift 2 ;;
    --batch-per-worker) BPW="$2"; shift 2 ;;
    --steps) STEPS="$2"; shift 2 ;;
    --repeat) REPEAT="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --launcher) LAUNCHER="$2"; shift 2 ;;
    --no-plot) PLOT=0; shift ;;
    --max-error) MAX_ERROR=(--max-error "$2"); shift 2 ;;
    -h | --help) sed -n '2,34p' "$0"; exit 0 ;;
    *) echo "scaling.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$MODE" in strong) MODES=(strong) ;; weak) MODES=(weak) ;; both) MODES=(strong weak) ;;
*) echo "scaling.sh: --mode is strong, weak or both" >&2; exit 2 ;; esac

PY=/usr/bin/python3 # Debian's, with numpy (and matplotlib once installed)
DDPTRAIN="${DDPTRAIN:-$BUILD_DIR/ddptrain}"
BENCH="${DDP_ALLREDUCE_BENCH:-$(dirname "$DDPTRAIN")/allreduce_bench}"
if [ ! -x "$DDPTRAIN" ] || [ ! -x "$BENCH" ]; then
    ddp_install_missing
    ddp_build >/dev/null || { echo "scaling.sh: build failed" >&2; exit 1; }
fi
if [ "$PLOT" = 1 ] && ! "$PY" -c 'import matplotlib' 2>/dev/null; then
    ddp_install_missing python3-matplotlib python3-numpy
fi
if [ "$LAUNCHER" = auto ]; then
    LAUNCHER=mpirun
    [ -n "${SLURM_JOB_ID:-}" ] && [ -z "${SLURM_STEP_ID:-}" ] && LAUNCHER=srun
fi
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
CORES="$(getconf _NPROCESSORS_ONLN)"

# launch P T cmd...: P ranks with T CPUs each. Under mpirun the ranks are not
# bound (--bind-to none): with more threads than cores per rank, binding to a
# core would stack a rank's threads on one core. More threads in all than
# cores: OpenMP threads must sleep, not spin, while they wait (a spinning
# thread burns the time slice its rank's peers need), so OMP_WAIT_POLICY is
# passive then.
launch() {
    local p="$1" t="$2"; shift 2
    local wait=active
    [ $((p * t)) -gt "$CORES" ] && wait=passive
    export OMP_WAIT_POLICY="$wait"
    if [ "$LAUNCHER" = srun ]; then
        timeout --kill-after=5 600 srun --mpi=pmix -n "$p" -c "$t" --overcommit "$@" </dev/null
    else
        timeout --kill-after=5 600 mpirun -n "$p" --bind-to none "$@" </dev/null
    fi
}

DATA="$OUT/data.h5"
if [ ! -s "$DATA" ]; then
    echo "scaling.sh: generating $ROWS x $FEATURES softmax data ($CLASSES classes)"
    launch 1 1 "$DDPTRAIN" gen softmax --classes "$CLASSES" --rows "$ROWS" --features "$FEATURES" --seed 1 \
        --out "$DATA" >/dev/null || { echo "scaling.sh: gen failed" >&2; exit 1; }
fi

# run_once P T B: prints "steps seconds t_data t_compute t_allreduce t_optimizer"
# from ddptrain's summary line, or nothing when the run failed.
run_once() {
    launch "$1" "$2" "$DDPTRAIN" train --data "$DATA" --model softmax --classes "$CLASSES" --batch-size "$3" \
        --epochs 1000000 --max-steps "$STEPS" --threads "$2" --check-every 0 --step-timeout 0 2>/dev/null |
        sed -n 's/^summary: //p' | "$PY" -c 'import json,sys; d=json.loads(sys.stdin.read())
print(d["steps"], d["seconds"], d["t_data"], d["t_compute"], d["t_allreduce"], d["t_optimizer"])' 2>/dev/null
}

# Every configuration once per round, REPEAT rounds, and the fastest run of
# each is kept: on a shared machine noise only ever adds time, and
# interleaving spreads a slow spell over all configurations instead of one.
CONFIGS=()
for mode in "${MODES[@]}"; do
    for p in $RANKS; do
        for t in $THREADS; do
            b=$BATCH
            [ "$mode" = weak ] && b=$((BPW * p * t))
            CONFIGS+=("$mode $p $t $b")
        done
    done
done
declare -A BEST
for r in $(seq "$REPEAT"); do
    echo "scaling.sh: round $r of $REPEAT (${#CONFIGS[@]} runs)"
    for c in "${CONFIGS[@]}"; do
        read -r mode p t b <<<"$c"
        line=$(run_once "$p" "$t" "$b")
        [ -n "$line" ] || { echo "scaling.sh: run failed: $p ranks x $t threads, batch $b" >&2; continue; }
        if [ -z "${BEST[$c]:-}" ] || awk -v a="$line" -v b="${BEST[$c]}" 'BEGIN { split(a, x, " ");
                split(b, y, " "); exit !((x[3]+x[4]+x[5]+x[6]) < (y[3]+y[4]+y[5]+y[6])) }'; then BEST[$c]="$line"; fi
    done
done

CSV="$OUT/scaling.csv"
echo "mode,ranks,threads,workers,cores,global_batch,steps,seconds,rows_per_s,step_ms,data_ms,compute_ms,allreduce_ms,optimizer_ms,speedup,efficiency" >"$CSV"
base_ms="" last_mode=""
for c in "${CONFIGS[@]}"; do
    read -r mode p t b <<<"$c"
    [ "$mode" = "$last_mode" ] || base_ms=""
    last_mode="$mode"
    [ -n "${BEST[$c]:-}" ] || continue
    read -r steps secs td tc ta to <<<"${BEST[$c]}"
    row=$(awk -v m="$mode" -v p="$p" -v t="$t" -v c="$CORES" -v b="$b" -v s="$steps" -v secs="$secs" \
        -v td="$td" -v tc="$tc" -v ta="$ta" -v to="$to" -v base="$base_ms" 'BEGIN {
        w = p * t; step = (td + tc + ta + to) / s * 1000
        if (base == "") base = step
        if (m == "strong") { sp = base / step; eff = sp / w } else { eff = base / step; sp = eff * w }
        printf "%s,%d,%d,%d,%d,%d,%d,%.4f,%.1f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f", m, p, t, w, c, b, s,
            secs, b / (step / 1000), step, td / s * 1000, tc / s * 1000, ta / s * 1000, to / s * 1000, sp, eff }')
    # the mode's first configuration (1 rank x 1 thread: RANKS and THREADS start at 1) is its baseline
    [ -z "$base_ms" ] && base_ms=$(cut -d, -f10 <<<"$row")
    echo "$row" >>"$CSV"
done
column -s, -t <"$CSV" | sed 's/^/  /'
echo "scaling.sh: wrote $CSV"

# allreduce time against message size at every rank count >= 2 (the model's input)
AR="$OUT/allreduce.csv"
echo "ranks,bytes,seconds_median,seconds_min" >"$AR"
msg_bytes=$(( (CLASSES * FEATURES + CLASSES + 4) * 8 )) # the trainer's allreduce: gradient sums + 4, doubles
max_bytes=$((msg_bytes * 16 > 4194304 ? msg_bytes * 16 : 4194304))
for p in $RANKS; do
    [ "$p" -ge 2 ] || continue
    launch "$p" 1 "$BENCH" "$max_bytes" 40 | sed 1d >>"$AR" # 40 repetitions per size, median
done
echo "scaling.sh: wrote $AR"

"$PY" "$(dirname "$0")/scaling_model.py" --scaling "$CSV" --allreduce "$AR" --features "$FEATURES" \
    --classes "$CLASSES" --cores "$CORES" "${MAX_ERROR[@]}" | tee "$OUT/model.txt"
model_rc=${PIPESTATUS[0]}
if [ "$PLOT" = 1 ]; then
    "$PY" "$(dirname "$0")/plot_scaling.py" --scaling "$CSV" --model "$OUT/model.csv" --out "$OUT/scaling.png" &&
        echo "scaling.sh: wrote $OUT/scaling.png"
fi
exit "$model_rc"
