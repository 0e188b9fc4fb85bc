#!/usr/bin/env bash
# Scaling studies, the quick CI version (the full study: scripts/scaling.sh
# with its defaults, README "Scaling studies"):
#  - the communication model recovers known alpha and beta from synthetic
#    ring/tree allreduce times (exactly, up to rounding), and predicts a
#    step from its parts;
#  - scripts/scaling.sh runs a small strong + weak sweep over 1, 2, 4 ranks x
#    1, 2 threads under mpirun and writes a consistent CSV (one row per run,
#    baseline efficiency 1, phases summing to the step time, rows/s = batch /
#    step, efficiency = speed-up / workers), the allreduce CSV, the model's
#    table with the extrapolation to 4096 ranks, and a PNG.
# The model's accuracy on real runs is judged on the full study: these runs
# are too short and this machine too shared for a 25 % bound here.
source "$(dirname "$0")/lib.sh"

SRC="$DDP_SOURCE_DIR"
PY=/usr/bin/python3

# 1. the model on synthetic data: alpha 2 us, beta 0.5 ns/B, 16 cores (no oversubscription)
cat >"$TMP/synth.py" <<'EOF'
import csv, sys
sys.path.insert(0, sys.argv[1])
import scaling_model as m
alpha, beta, cores = 2e-6, 0.5e-9, 16
rows = [dict(ranks=p, bytes=n, seconds_median=m.allreduce_time(p, n, alpha, beta, 0.0, cores))
        for p in (2, 4, 8) for n in (8, 512, 32768, 2097152)]
a, b, s, med, worst = m.fit_allreduce(rows, cores)
print(f"fit alpha {a:.4g} beta {b:.4g} sigma {s:.3g} max error {worst:.2g}")
ok = abs(a - alpha) / alpha < 1e-6 and abs(b - beta) / beta < 1e-6 and s == 0 and worst < 1e-6
# a step = compute over the core pool + optimizer + allreduce
run = [dict(mode="strong", ranks=1, threads=1, global_batch=1000, compute_ms=10.0, data_ms=0.0, optimizer_ms=1.0)]
sm = m.StepModel(run, 4, 8000, alpha, beta, 0.0)
step, ar = sm.step(4, 1, 1000)
want = 0.010 / 4 + 0.001 + m.allreduce_time(4, 8000, alpha, beta, 0.0, 4)
print(f"step {step:.6g} want {want:.6g}")
sys.exit(0 if ok and abs(step - want) < 1e-12 and ar > 0 else 1)
EOF
"$PY" "$TMP/synth.py" "$SRC/scripts" >"$TMP/synth.out" 2>&1
check "model: recovers alpha and beta from synthetic ring/tree times; step = compute/pool + optimizer + allreduce ($(head -1 "$TMP/synth.out"))" \
    test $? -eq 0

# 2. a small sweep
OUTD="$TMP/study"
t0=$(date +%s)
timeout --kill-after=5 300 bash "$SRC/scripts/scaling.sh" --out "$OUTD" --ranks "1 2 4" --threads "1 2" \
    --rows 16384 --features 64 --batch 4096 --batch-per-worker 256 --steps 10 --repeat 1 </dev/null \
    >"$TMP/sweep.out" 2>&1
rc=$?
check "scaling.sh: a 12-run strong + weak sweep finished (exit $rc, $(($(date +%s) - t0)) s)" test "$rc" -eq 0
[ "$rc" -eq 0 ] || tail -20 "$TMP/sweep.out"
CSV="$OUTD/scaling.csv"
check "scaling.csv: the header and 12 rows (2 modes x 3 rank counts x 2 thread counts)" \
    test "$(head -1 "$CSV" 2>/dev/null | cut -d, -f1-3,9,10,13,16)" = "mode,ranks,threads,rows_per_s,step_ms,allreduce_ms,efficiency" \
    -a "$(sed 1d "$CSV" 2>/dev/null | wc -l)" -eq 12
consistent() { # every row: numbers agree with each other
    awk -F, 'NR > 1 {
        w = $2 * $3; sum = $11 + $12 + $13 + $14
        if ($4 != w) bad = bad " workers:" NR
        if (sum <= 0 || ($10 - sum) > 0.001 * $10 + 0.002 || (sum - $10) > 0.001 * $10 + 0.002) bad = bad " phases:" NR
        rps = $6 / ($10 / 1000); if ($9 <= 0 || ($9 - rps) > 0.01 * rps || (rps - $9) > 0.01 * rps) bad = bad " rows/s:" NR
        if ($2 == 1 && $3 == 1 && ($15 != 1 || $16 != 1)) bad = bad " baseline:" NR
        if ($1 == "strong" && ($16 * w - $15 > 0.001 || $15 - $16 * w > 0.001)) bad = bad " efficiency:" NR
        if ($1 == "weak" && $6 != 256 * w) bad = bad " weak batch:" NR
        if ($1 == "strong" && $6 != 4096) bad = bad " strong batch:" NR
    } END { if (bad != "") { print "inconsistent rows:" bad; exit 1 } }' "$CSV"
}
check "scaling.csv: phases sum to the step time, rows/s = batch / step, 1 x 1 is the baseline, strong efficiency = speed-up / workers, weak batch = 256 x workers" \
    consistent
check "allreduce.csv: message sizes at 2 and 4 ranks" \
    test "$(grep -c '^2,' "$OUTD/allreduce.csv" 2>/dev/null)" -ge 5 -a "$(grep -c '^4,' "$OUTD/allreduce.csv" 2>/dev/null)" -ge 5
check "model.txt: the fit, every measured point beside the model, the extrapolation to 4096 ranks" \
    test "$(grep -cE '^  (strong|weak) +[124] +[12] +[0-9]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +[-+][0-9.]+%' "$OUTD/model.txt" 2>/dev/null)" \
    -eq 12 -a "$(grep -cE '^ +4096 ' "$OUTD/model.txt" 2>/dev/null)" -eq 2 -a -s "$OUTD/model.csv"
grep -E "largest model error|fit error" "$OUTD/model.txt" | sed 's/^/      /'
png_ok() { [ "$(head -c 8 "$1" 2>/dev/null | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] && [ "$(stat -c %s "$1")" -gt 20000 ]; }
check "scaling.png: a PNG of speed-up and efficiency ($(stat -c %s "$OUTD/scaling.png" 2>/dev/null || echo 0) bytes)" \
    png_ok "$OUTD/scaling.png"
check "no ranks left behind" no_leftovers
finish
