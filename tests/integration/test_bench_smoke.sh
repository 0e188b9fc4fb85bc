#!/usr/bin/env bash
# The benchmark and plot scripts work end to end, at a tiny scale:
#  - scripts/bench/bench.sh all (BENCH_SCALE 0.005, one run per configuration,
#    a 64 MiB bandwidth probe, io on 1 and 2 ranks; PyTorch for B1 only, when
#    Debian's python3-torch is there) exits 0 and prints the machine limits,
#    a table per benchmark with both ddptrain configurations, the PyTorch
#    rows (one pair per BLAS library, reference BLAS first, each naming the
#    library torch loaded), the two limit rows, the phase split and the target lines, and the
#    io table (warm page cache: a test does not drop the machine's cache);
#  - its CSV has the documented header and the expected rows, with positive
#    rows/s and GB/s, GB/s = rows/s x features x 4 bytes, and phase shares
#    that add up to 100 %;
#  - scripts/plot_bench.py and scripts/plot_metrics.py (on a real --metrics
#    file of a softmax and a linear run) write valid PNG files of a
#    non-trivial size; both refuse input that is not theirs;
#  - each benchmark prints the overlap probe's lines (its ns figures
#    positive, its two shares numbers);
#  - bench.sh refuses an unknown benchmark name, membw --overlap a row width
#    that is not a multiple of 16 (exit 2).
# No speed thresholds: the figures are only checked to be sane. Without
# python3-torch the PyTorch rows, and without python3-matplotlib the plots,
# are skipped (reported), not failed.
source "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3 # Debian's
BENCH="$DDP_SOURCE_DIR/scripts/bench/bench.sh"
N_SKIPPED=0
skipped() { N_SKIPPED=$((N_SKIPPED + 1)); echo "  skip $*"; }
have_torch=0
"$PY" -c 'import torch, h5py, numpy' 2>/dev/null && have_torch=1
have_mpl=0
"$PY" -c 'import matplotlib' 2>/dev/null && have_mpl=1
num_pos() { awk -v v="$1" 'BEGIN { exit !(v + 0 > 0) }'; }

# --- bench.sh ---------------------------------------------------------------
torch_arg=0
[ "$have_torch" = 1 ] && torch_arg=b1
[ "$have_torch" = 1 ] || skipped "PyTorch rows: $PY cannot import torch, h5py and numpy (apt-get install python3-torch)"
CSV="$TMP/out/bench.csv"
t0=$(date +%s)
BUILD_DIR="$DDP_BUILD_DIR" BENCH_NO_BUILD=1 BENCH_SCALE=0.005 BENCH_REPEAT=1 BENCH_MEMBW_MIB=64 \
    BENCH_IO_RANKS="1 2" BENCH_TORCH="$torch_arg" BENCH_OUT="$TMP/out" TMPDIR="$TMP" \
    BENCH_IO_CACHE=warm \
    timeout --kill-after=5 180 bash "$BENCH" all </dev/null >"$TMP/bench.out" 2>"$TMP/bench.err"
RC=$?
check "bench.sh all exits 0 (rc=$RC, $(($(date +%s) - t0)) s)" test "$RC" -eq 0
[ "$RC" -eq 0 ] || { sed 's/^/      /' "$TMP/bench.err" | tail -20; sed 's/^/      /' "$TMP/bench.out" | tail -20; }
OUTF="$TMP/bench.out"
check "bench.txt is the same output" cmp -s "$OUTF" "$TMP/out/bench.txt"

limits=$(grep '^limits ' "$OUTF")
bw=$(sed -n 's/.*2 threads \([0-9.]*\) GB\/s.*/\1/p' <<<"$limits")
fl=$(sed -n 's/.*2 threads \([0-9.]*\) GFLOP\/s.*/\1/p' <<<"$limits")
check "limits line: read bandwidth 2T ($bw GB/s) and FMA peak 2T ($fl GFLOP/s) positive" \
    eval 'num_pos "$bw" && num_pos "$fl"'

for b in B1 B2 B3; do
    section=$(awk -v b="== $b:" 'index($0, b) == 1 { on = 1 } on && /^== / && index($0, b) != 1 { on = 0 } on' "$OUTF")
    check "$b: section printed" test -n "$section"
    for cfg in "ddptrain 1 rank(s) x 2 thread(s)" "ddptrain 2 rank(s) x 1 thread(s)"; do
        line=$(grep -F "$cfg " <<<"$section" | head -1)
        rps=$(awk '{ print $(NF - 4) }' <<<"$line")
        gbs=$(awk '{ print $(NF - 3) }' <<<"$line")
        check "$b: '$cfg' row with positive rows/s ($rps) and GB/s ($gbs)" eval 'num_pos "$rps" && num_pos "$gbs"'
        check "$b: '$cfg' in the phase split" test "$(grep -cF "$cfg" <<<"$section")" -eq 2
    done
    check "$b: both limit rows and the shuffled-row reference" \
        eval 'test "$(grep -c "^limit: " <<<"$section")" -eq 2 && grep -q "^ref: shuffled-row read" <<<"$section"'
    check "$b: the cached-kernel reference and the times-added model" \
        eval 'grep -q "^ref: kernel alone (rows in cache) 2 threads " <<<"$section" &&
              grep -q "^ref: kernel + shuffled read (times added) " <<<"$section" && grep -q "; times added: [0-9.]*%)" <<<"$section"'
    # the overlap probe: its figures (row floats, threads, read, FMA, both,
    # hidden %, on the rows, hidden %): ns positive, shares numbers (each the
    # median of per-repetition shares, so not recomputable from the ns)
    ovl=$(grep -A1 "^overlap probe (membw --overlap [0-9]* 2): shuffled read " <<<"$section" |
        grep -oE -- '-?[0-9]+(\.[0-9]+)?' | tr '\n' ' ')
    want_f=$(case $b in B1) echo 256 ;; B2) echo 784 ;; *) echo 64 ;; esac)
    check "$b: overlap probe lines for $want_f-float rows, positive ns figures and two shares ($ovl)" \
        eval 'awk -v f="$want_f" "{ exit !(NF == 8 && \$1 == f && \$3 > 0 && \$4 > 0 && \$5 > 0 && \$7 > 0) }" <<<"$ovl"'
    check "$b: time split header" grep -q '^time split.*data.*compute.*allreduce.*optimizer.*checkpoint.*eval.*other' <<<"$section"
    check "$b: target lines" grep -q '^targets: >= ' <<<"$section"
    if [ "$b" = B1 ] && [ "$have_torch" = 1 ]; then
        check "$b: PyTorch and PyTorch DDP rows with x PyTorch ratios" \
            eval 'grep -q "^PyTorch/reference-BLAS 1 process" <<<"$section" && grep -q "^PyTorch/.* DDP gloo" <<<"$section" &&
                  grep -q ">= 10x PyTorch" <<<"$section"'
        # one row pair per BLAS, each with the library torch really loaded
        n_blas=$(grep -c "^PyTorch/[^ ]* 1 process " <<<"$section")
        check "$b: as many DDP rows as 1-process rows ($n_blas), one per BLAS" \
            test "$(grep -c "^PyTorch/[^ ]* DDP gloo 2 processes x 1 thread " <<<"$section")" -eq "$n_blas"
        check "$b: torch's BLAS library named for each" \
            test "$(grep -c "^   (PyTorch, .*: torch's BLAS was /.*libblas" <<<"$section")" -eq "$n_blas"
    fi
done
check "io table: dd, cat and ddptrain load on 1 and 2 ranks" \
    eval 'grep -q "^dd bs=16M" "$OUTF" && grep -q "^cat > /dev/null" "$OUTF" &&
          test "$(grep -c "^ddptrain load -n [12] " "$OUTF")" -eq 4'

# --- the CSV ------------------------------------------------------------------
HEADER="bench,kind,config,ranks,threads,rows,features,classes,batch,seconds,rows_per_s,gb_per_s,gflops,pct_of_limit,x_torch,data_pct,compute_pct,allreduce_pct,allreduce_wait_pct,optimizer_pct,checkpoint_pct,eval_pct,other_pct,worst_rows_per_s"
check "CSV header" test "$(head -1 "$CSV" 2>/dev/null)" = "$HEADER"
count() { awk -F, -v b="$1" -v k="$2" 'NR > 1 && $1 == b && $2 == k' "$CSV" | wc -l; }
check "CSV: 2 machine bandwidth + 2 FMA rows" test "$(count machine limit_bandwidth)$(count machine limit_flops)" = 22
for b in b1 b2 b3; do
    got="$(count $b ddptrain) $(count $b limit_bandwidth) $(count $b limit_flops) $(count $b ref_shuffled)"
    got+=" $(count $b ref_kernel_cached) $(count $b ref_added) $(count $b torch) $(count $b torch_ddp)"
    want="2 1 1 1 1 1 0 0"
    [ "$b" = b1 ] && [ "$have_torch" = 1 ] && want="2 1 1 1 1 1 $n_blas $n_blas"
    check "CSV $b: ddptrain/limit_bandwidth/limit_flops/ref_shuffled/ref_kernel_cached/ref_added/torch/torch_ddp rows = $want (got $got)" \
        test "$got" = "$want"
    # times added: 1 / (1/kernel + 1/shuffled), within rounding
    model=$(awk -F, -v b="$b" 'NR > 1 && $1 == b { r[$2] = $11 }
        END { if (r["ref_kernel_cached"] > 0 && r["ref_shuffled"] > 0) {
                  m = 1 / (1 / r["ref_kernel_cached"] + 1 / r["ref_shuffled"]); d = r["ref_added"] / m - 1
                  print (d < 0.001 && d > -0.001) ? "ok" : "added " r["ref_added"] " want " m } else print "missing" }' "$CSV")
    check "CSV $b: ref_added = 1 / (1/ref_kernel_cached + 1/ref_shuffled) ($model)" test "$model" = ok
done
check "CSV io: 6 readers (got $(count io io))" test "$(count io io)" -eq 6
# every throughput row: positive rows/s and GB/s = rows/s x features x 4 / 1e9 (1%)
bad=$(awk -F, 'NR > 1 && $1 ~ /^b[123]$/ && $2 != "limit_flops" {
        if (!($11 > 0) || !($12 > 0)) { print NR": "$0; next }
        g = $11 * $7 * 4 / 1e9; if (g / $12 > 1.01 || g / $12 < 0.99) print NR": GB/s "$12" vs "g }' "$CSV")
check "CSV: positive rows/s and consistent GB/s on every benchmark row${bad:+ ($bad)}" test -z "$bad"
# ddptrain rows: phase shares add up to 100 and compute is there; the
# allreduce's waiting share (column 19) is part of the allreduce share
bad=$(awk -F, 'NR > 1 && $2 == "ddptrain" {
        s = $16 + $17 + $18 + $20 + $21 + $22 + $23
        if (s < 99.5 || s > 100.5 || !($17 > 0) || !($10 > 0)) print NR": sum "s" compute "$17
        if ($19 == "" || $19 < 0 || $19 > $18 + 1e-9 || ($4 == 1 && $19 != 0)) print NR": waiting "$19" of "$18 }' "$CSV")
check "CSV: ddptrain phase shares sum to 100% with compute > 0, waiting within the allreduce${bad:+ ($bad)}" \
    test -z "$bad"

# --- trace_summary.py on a trace with a known answer --------------------------------
# step 1: rank 0 in the allreduce 10 us, rank 1 4 us; step 2: 3 us and 7 us
cat >"$TMP/tr.json" <<'JSON'
{"traceEvents":[
{"name":"compute","ph":"X","pid":0,"tid":0,"ts":0,"dur":50,"args":{"step":1}},
{"name":"allreduce","ph":"X","pid":0,"tid":0,"ts":50,"dur":10,"args":{"step":1}},
{"name":"allreduce","ph":"X","pid":1,"tid":0,"ts":56,"dur":4,"args":{"step":1}},
{"name":"allreduce","ph":"X","pid":0,"tid":0,"ts":90,"dur":3,"args":{"step":2}},
{"name":"allreduce","ph":"X","pid":1,"tid":0,"ts":86,"dur":7,"args":{"step":2}}]}
JSON
kv0=$("$PY" "$DDP_SOURCE_DIR/scripts/trace_summary.py" --kv "$TMP/tr.json" | tr '\n' ' ')
kv1=$("$PY" "$DDP_SOURCE_DIR/scripts/trace_summary.py" --kv --rank 1 "$TMP/tr.json" | tr '\n' ' ')
check "trace_summary: rank 0 allreduce 13 us = 7 communication + 6 waiting ($kv0)" \
    eval '[[ "$kv0" == *"seconds_allreduce 0.000013 "* && "$kv0" == *"allreduce_comm_s 0.000007 "* &&
             "$kv0" == *"allreduce_wait_s 0.000006 "* && "$kv0" == *"seconds_compute 0.000050 "* ]]'
check "trace_summary: rank 1 allreduce 11 us = 7 communication + 4 waiting ($kv1)" \
    eval '[[ "$kv1" == *"allreduce_comm_s 0.000007 "* && "$kv1" == *"allreduce_wait_s 0.000004 "* ]]'
echo '{"traceEvents": 3}' >"$TMP/bad.json"
"$PY" "$DDP_SOURCE_DIR/scripts/trace_summary.py" "$TMP/bad.json" >/dev/null 2>&1
check "trace_summary: a file that is not a trace exits 2" test $? -eq 2
bad=$(awk -F, 'NR > 1 && $1 == "io" && (!($10 > 0) || !($12 > 0)) { print NR }' "$CSV")
check "CSV: io rows have positive seconds and GB/s${bad:+ (lines $bad)}" test -z "$bad"

# --- bad arguments --------------------------------------------------------------
BENCH_NO_BUILD=1 BUILD_DIR="$DDP_BUILD_DIR" timeout 30 bash "$BENCH" b9 </dev/null >/dev/null 2>"$TMP/bad.err"
RC=$?
check "bench.sh b9: exit 2 (rc=$RC) naming the argument" eval 'test "$RC" -eq 2 && grep -q "b9" "$TMP/bad.err"'
timeout 30 "$DDP_BUILD_DIR/membw" --overlap 100 1 16 >/dev/null 2>"$TMP/membw.err"
RC=$?
check "membw --overlap 100 (not a multiple of 16): exit 2 (rc=$RC) with its usage" \
    eval 'test "$RC" -eq 2 && grep -q "overlap ROW_FLOATS(a multiple of 16)" "$TMP/membw.err"'

# --- plots ------------------------------------------------------------------------
is_png() { # file min_bytes
    [ -f "$1" ] && [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] &&
        [ "$(stat -c %s "$1")" -ge "$2" ]
}
if [ "$have_mpl" = 1 ]; then
    check "bench.sh drew bench.png beside the CSV" is_png "$TMP/out/bench.png" 20000
    timeout 60 "$PY" "$DDP_SOURCE_DIR/scripts/plot_bench.py" "$CSV" -o "$TMP/bench.png" >/dev/null 2>"$TMP/plot.err"
    RC=$?
    check "plot_bench.py: exit 0 (rc=$RC), a PNG of >= 20 kB ($(stat -c %s "$TMP/bench.png" 2>/dev/null) bytes)" \
        eval 'test "$RC" -eq 0 && is_png "$TMP/bench.png" 20000'
    printf 'a,b\n1,2\n' >"$TMP/other.csv"
    timeout 60 "$PY" "$DDP_SOURCE_DIR/scripts/plot_bench.py" "$TMP/other.csv" -o "$TMP/other.png" >/dev/null 2>&1
    RC=$?
    check "plot_bench.py refuses a CSV that is not bench.sh's (rc=$RC)" eval 'test "$RC" -ne 0 && ! test -e "$TMP/other.png"'

    run_ranks 2 60 -- "$DDPTRAIN" train --data "$DDP_SOURCE_DIR/data/digits.h5" --features /train/X --labels /train/y \
        --val-features /test/X --val-labels /test/y --model softmax --optimizer adam --lr 0.01 --standardize \
        --epochs 3 --batch-size 64 --log-every 5 --quiet --metrics "$TMP/sm.jsonl"
    check "softmax run with --metrics (rc=$RC)" test "$RC" -eq 0 -a -s "$TMP/sm.jsonl"
    run_ranks 2 60 -- "$DDPTRAIN" train --data "$DDP_SOURCE_DIR/data/diabetes.h5" --features /train/X \
        --labels /train/y --val-features /test/X --val-labels /test/y --model linear --standardize --lr 0.05 \
        --epochs 3 --batch-size 32 --quiet --metrics "$TMP/lin.jsonl"
    check "linear run with --metrics, epoch records only (rc=$RC)" test "$RC" -eq 0 -a -s "$TMP/lin.jsonl"
    for m in sm lin; do
        timeout 60 "$PY" "$DDP_SOURCE_DIR/scripts/plot_metrics.py" "$TMP/$m.jsonl" >"$TMP/pm.out" 2>&1
        RC=$?
        panels=$(sed -n 's/.*panels: \(.*\))$/\1/p' "$TMP/pm.out")
        check "plot_metrics.py $m.jsonl: exit 0 (rc=$RC), $m.png >= 20 kB, panels: $panels" \
            eval 'test "$RC" -eq 0 && is_png "$TMP/$m.png" 20000'
    done
    check "plot_metrics.py: accuracy panel for softmax, RMSE/R² panel for linear" \
        eval 'timeout 60 "$PY" "$DDP_SOURCE_DIR/scripts/plot_metrics.py" "$TMP/sm.jsonl" -o "$TMP/x.png" | grep -q "panels: loss, metric" &&
              grep -q "\"val_r2\"" "$TMP/lin.jsonl" && timeout 60 "$PY" "$DDP_SOURCE_DIR/scripts/plot_metrics.py" "$TMP/lin.jsonl" -o "$TMP/y.png" | grep -q "panels: loss, metric"'
    echo "not json" >"$TMP/empty.jsonl"
    timeout 60 "$PY" "$DDP_SOURCE_DIR/scripts/plot_metrics.py" "$TMP/empty.jsonl" -o "$TMP/empty.png" >/dev/null 2>&1
    RC=$?
    check "plot_metrics.py: a file without records exits 2 (rc=$RC), no PNG" eval 'test "$RC" -eq 2 && ! test -e "$TMP/empty.png"'
else
    skipped "plots: $PY cannot import matplotlib (apt-get install python3-matplotlib)"
fi
check "no ddptrain process left behind" no_leftovers
[ "$N_SKIPPED" -eq 0 ] || echo "$T_NAME: $N_SKIPPED part(s) skipped"
finish
