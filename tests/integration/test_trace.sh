#!/usr/bin/env bash
# --trace FILE.json: every rank's phase spans in Chrome trace format, on 1, 2
# and 4 ranks: one named process per rank, one span per phase per step (plus
# eval and checkpoint spans), spans of a rank in time order and not
# overlapping, the compute spans adding up to the summary's t_compute, and a
# bad --trace path refused before training on every rank.
source "$(dirname "$0")/lib.sh"

DATA="$TMP/d.h5"
run_ranks 2 120 -- "$DDPTRAIN" gen softmax --rows 3000 --features 16 --classes 3 --seed 4 --out "$DATA"
check "gen softmax 3000 x 16" test "$RC" -eq 0

# spans_of FILE PID NAME: number of complete ("X") spans of that rank and phase
spans_of() { grep -c "\"name\":\"$3\",\"cat\":\"$3\",\"ph\":\"X\",\"pid\":$2," "$1" || true; }

for n in 1 2 4; do
    T="$TMP/trace$n.json"
    run_ranks "$n" 120 -- "$DDPTRAIN" train --data "$DATA" --model softmax --optimizer adam --batch-size 100 \
        --epochs 2 --val-data "$DATA" --checkpoint "$TMP/ck$n" --checkpoint-every 20 --trace "$T"
    check "$n ranks: train with --trace exits 0 (rc $RC)" test "$RC" -eq 0
    check "$n ranks: the run names the trace file" grep -q "^trace: $T (" "$OUT"
    steps=60 # 3000 rows / batch 100 x 2 epochs
    ok=1
    for ((r = 0; r < n; r++)); do
        grep -q "\"process_name\",\"ph\":\"M\",\"pid\":$r,.*\"rank $r\"" "$T" || ok=0
        for phase in compute allreduce optimizer; do
            [ "$(spans_of "$T" "$r" "$phase")" -eq "$steps" ] || ok=0
        done
        [ "$(spans_of "$T" "$r" data)" -eq $((steps + 2)) ] || ok=0 # + each epoch's shuffle
        [ "$(spans_of "$T" "$r" eval)" -eq 2 ] || ok=0        # one validation pass per epoch
        [ "$(spans_of "$T" "$r" checkpoint)" -ge 3 ] || ok=0  # steps 20, 40, 60
    done
    check "$n ranks: per rank a named process, $steps spans of each step phase (+2 data: the epoch orders), 2 eval, >= 3 checkpoint" test "$ok" -eq 1
    # per rank: spans in time order, none overlapping the previous one, none negative
    check "$n ranks: spans of each rank are ordered and do not overlap" awk -F'[:,]' '
        /"ph":"X"/ { for (i = 1; i < NF; i++) { if ($i == "\"pid\"") p = $(i + 1); if ($i == "\"ts\"") ts = $(i + 1);
                                               if ($i == "\"dur\"") d = $(i + 1) }
                     if (d < 0 || (p in end && ts < end[p] - 0.002)) bad++
                     end[p] = ts + d }
        END { exit bad > 0 }' "$T"
    tc=$(sed -n 's/^summary: .*"t_compute":\([0-9.]*\).*/\1/p' "$OUT")
    sum=$(awk -F'"dur":' '/"name":"compute","cat":"compute","ph":"X","pid":0,/ { split($2, a, ","); s += a[1] } END { printf "%.6f", s / 1e6 }' "$T")
    check "$n ranks: rank 0's compute spans add up to the summary's t_compute ($sum vs $tc s)" \
        awk -v a="$sum" -v b="$tc" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 1e-4 + 1e-3 * b) }'
    if /usr/bin/python3 -c 'import json' 2>/dev/null; then
        check "$n ranks: the trace parses as JSON with traceEvents" /usr/bin/python3 -c "
import json, sys
d = json.load(open('$T'))
sys.exit(0 if isinstance(d['traceEvents'], list) and d['otherData']['ranks'] == $n else 1)"
    fi
done

run_ranks 2 60 -- "$DDPTRAIN" train --data "$DATA" --model softmax --epochs 1 --trace "$TMP/no/such/dir/t.json"
check "--trace into a missing directory: exit 2 on every rank before training (ranks=[$RANK_RCS])" \
    test "$RC" -eq 2 -a "$RANK_RCS" = "2"
check "... with one message naming --trace" test "$(grep -c 'ddptrain: error: .*--trace' "$ERR")" -eq 1
check "... and no training step ran" bash -c "! grep -q '^epoch' '$OUT'"
check "no ddptrain process left behind" no_leftovers
finish
