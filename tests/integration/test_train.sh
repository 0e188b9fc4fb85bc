#!/usr/bin/env bash
# Training behaviour a user relies on: divergence exits 3 on every rank with
# a message naming step, epoch and parameter; --nan-policy skip stops after K
# consecutive skips; a frozen bias stays bitwise unchanged; convergence stops
# early; logs, --print-weights and --metrics JSONL show the weights updating;
# eval and predict use the saved weights (with the stored standardisation).
source "$(dirname "$0")/lib.sh"

CMP="$DDP_BUILD_DIR/h5compare"
DATA="$TMP/lin.h5"
run_ranks 2 120 -- "$DDPTRAIN" gen linear --rows 4000 --features 8 --seed 2 --noise 0.1 --out "$DATA"
check "gen linear 4000 x 8" test "$RC" -eq 0

# Open MPI's shared-memory eager limit: 64 KiB unless the user chose (the
# start-up table reads the value in effect back through MPI_T)
run_ranks 2 60 -- "$DDPTRAIN" train --data "$DATA" --model linear --batch-size 64 --epochs 1
check "start-up table: eager limit 65536 B, ddptrain's default" \
    grep -q "^  mpi  .*Open MPI.*eager limit 65536 B (ddptrain's default" "$OUT"
OMPI_MCA_btl_vader_eager_limit=8192 run_ranks 2 60 -- "$DDPTRAIN" train --data "$DATA" --model linear \
    --batch-size 64 --epochs 1
check "OMPI_MCA_btl_vader_eager_limit=8192 wins: the table says 8192 B from the environment" \
    grep -q "^  mpi  .*eager limit 8192 B (from OMPI_MCA_btl_vader_eager_limit)" "$OUT"

# --threads sets the team of every OpenMP region (the optimizer's update of
# 32768+ elements and --standardize name no team size): without
# OMP_NUM_THREADS and with no binding, OpenMP's own default would be every
# CPU of the node; the start-up table's "openmp" line reports the team
env -u OMP_NUM_THREADS OMP_PROC_BIND=close OMP_PLACES=cores timeout 60 mpirun -n 1 --bind-to none \
    "$DDPTRAIN" train --data "$DATA" --model linear --batch-size 64 --epochs 1 --threads 1 --standardize \
    </dev/null >"$TMP/omp.out" 2>&1
check "--threads 1 without OMP_NUM_THREADS ($(getconf _NPROCESSORS_ONLN) CPUs): every OpenMP region gets 1 thread" \
    grep -q "^  openmp  *1 thread in every parallel region (runtime: [^)]*); OMP_PROC_BIND=close OMP_PLACES=cores$" "$TMP/omp.out"
# the runtime the line names is the one the binary loads, and only that one
# (a GCC build links LLVM's libomp where installed: README, "OpenMP runtime")
RUNTIME=$(sed -n 's/^  openmp .*(runtime: \([^)]*\)).*/\1/p' "$TMP/omp.out")
LIBS=$(ldd "$DDPTRAIN" | awk '{ print $1 }' | grep -E '^lib(g?omp|iomp5)' | sort | tr '\n' ' ')
case "$RUNTIME" in
    "LLVM libomp") want="libomp.so.5 " ;;
    "GNU libgomp") want="libgomp.so.1 " ;;
    *) want="$LIBS" ;; # another compiler's runtime: not named here
esac
check "the start-up table's runtime ($RUNTIME) is the OpenMP library the binary loads ($LIBS)" test "$LIBS" = "$want"

# divergence: lr 1e10 -> exit 3 everywhere, message names step/epoch/parameter
run_ranks 3 60 -- "$DDPTRAIN" train --data "$DATA" --model linear --optimizer sgd --lr 1e10 --batch-size 64 --epochs 3
msg=$(grep 'ddptrain: error' "$ERR")
check "lr 1e10 diverges: exit 3 on all ranks (ranks=[$RANK_RCS]): $msg" \
    test "$RC" -eq 3 -a "$RANK_RCS" = "3" -a "$(grep -c 'ddptrain: error' "$ERR")" -eq 1
check "the divergence message names the step, the epoch and a parameter" \
    grep -qE "at step [0-9]+ \(epoch [0-9]+\).*'(weight|bias)'" "$ERR"
run_mpirun 3 60 -- "$DDPTRAIN" train --data "$DATA" --model linear --optimizer sgd --lr 1e10 --batch-size 64 --epochs 3
check "mpirun itself exits 3 on divergence (got $RC)" test "$RC" -eq 3
check "no weights saved on divergence" test ! -e "$TMP/diverged.h5"

# --nan-policy skip: skipped steps are counted, K consecutive ones stop the run with 3
run_ranks 2 60 -- "$DDPTRAIN" train --data "$DATA" --model linear --optimizer sgd --lr 1e10 --batch-size 64 \
    --epochs 3 --nan-policy skip --max-skips 4 --save "$TMP/diverged.h5"
check "--nan-policy skip --max-skips 4: exit 3 after 4 consecutive skips" \
    grep -q "4 consecutive steps skipped" "$ERR"
check "--nan-policy skip: still nothing saved" test ! -e "$TMP/diverged.h5"

# frozen bias: bitwise unchanged (h5compare with zero tolerance) while the weight moves
run_ranks 2 60 -- "$DDPTRAIN" train --data "$DATA" --model linear --optimizer adam --lr 0.01 --batch-size 64 \
    --epochs 1 --seed 9 --quiet --max-steps 1 --save "$TMP/init.h5"
# one-step file as the --init, then a long run with the bias frozen
sleep 0
run_ranks 2 60 -- "$DDPTRAIN" train --data "$DATA" --model linear --optimizer adam --lr 0.01 --batch-size 64 \
    --epochs 2 --init "$TMP/init.h5" --freeze bias --quiet --save "$TMP/frozen.h5"
check "--freeze bias: bias bitwise unchanged ($("$CMP" "$TMP/frozen.h5" /model/bias "$TMP/init.h5" /model/bias 0 0))" \
    "$CMP" "$TMP/frozen.h5" /model/bias "$TMP/init.h5" /model/bias 0 0
check "--freeze bias: the weight did change" bash -c "! '$CMP' '$TMP/frozen.h5' /model/weight '$TMP/init.h5' /model/weight 0 0 >/dev/null"
run_ranks 2 60 -- "$DDPTRAIN" train --data "$DATA" --model linear --freeze gamma
check "--freeze of an unknown parameter: exit 2 naming the valid ones" grep -q "this model has: weight, bias" "$ERR"

# logs, weights and metrics: loss goes down, |g| and |dw| are printed, JSONL parses line by line
run_ranks 2 120 -- "$DDPTRAIN" train --data "$DATA" --model linear --optimizer sgd --lr 0.05 --momentum 0.9 \
    --batch-size 100 --epochs 3 --log-every 10 --print-weights --metrics "$TMP/m.jsonl" \
    --val-data "$DATA" --standardize --save "$TMP/lin_model.h5"
check "train with logs exits 0" test "$RC" -eq 0
check "start-up table shows ranks and threads" grep -qE "parallelism +2 ranks x [0-9]+ threads" "$OUT"
check "step lines show loss, |g|, |dw|, lr and samples/s" grep -qE "^step +10 .*loss .*\|g\| .*\|dw\| .*lr .*samples/s" "$OUT"
check "epoch lines show val_loss, val_rmse and val_r2" grep -qE "^epoch .*val_loss .*val_rmse .*val_r2" "$OUT"
check "step lines show the validation loss and metric too" grep -qE "^step +10 .*val_loss .*val_rmse" "$OUT"
check "start-up table shows MB and GB/s per rank (min/avg/max)" grep -qE "^  load +MB/rank min .* GB/s/rank min" "$OUT"
check "--print-weights prints the parameter values" grep -qE "^    weight = " "$OUT"
first=$(awk '/^step/ { for (i = 1; i <= NF; i++) if ($i == "loss") { print $(i + 1); exit } }' "$OUT")
last=$(awk '/^epoch/ { for (i = 1; i <= NF; i++) if ($i == "loss") v = $(i + 1) } END { print v }' "$OUT")
check "training loss decreases ($first -> $last)" awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a / 10) }'
check "metrics JSONL: one object per log line (12 step + 3 epoch lines)" test "$(wc -l < "$TMP/m.jsonl")" -eq 15
check "metrics JSONL has grad_norm and update_norm" grep -q '"grad_norm":.*"update_norm":' "$TMP/m.jsonl"
if command -v /usr/bin/python3 >/dev/null && /usr/bin/python3 -c 'import json' 2>/dev/null; then
    check "metrics JSONL parses as JSON" /usr/bin/python3 -c "
import json, sys
[json.loads(l) for l in open('$TMP/m.jsonl')]"
fi
check "summary line with phase times" grep -qE '^summary: \{"steps":120,.*"t_allreduce"' "$OUT"
check "summary line with the warm-up's time" grep -qE '^summary: \{.*"threads":[0-9]+,"t_warmup":[0-9]+\.[0-9]{6},' "$OUT"

# convergence: patience stops before the epoch budget
run_ranks 2 120 -- "$DDPTRAIN" train --data "$DATA" --model linear --optimizer adam --lr 0.05 --batch-size 200 \
    --epochs 200 --tol 1e-3 --patience 2
check "--tol/--patience stop early on convergence" grep -qE "^done: converged after [0-9]+ steps, [0-9]+ epochs" "$OUT"

# eval and predict on the saved (standardized) model
run_ranks 3 60 -- "$DDPTRAIN" eval --checkpoint "$TMP/lin_model.h5" --data "$DATA"
r2=$(awk '/^  r2/ { print $2 }' "$OUT")
check "eval on 3 ranks applies the stored standardization: R^2 $r2 > 0.99" awk -v r="$r2" 'BEGIN { exit !(r > 0.99) }'
run_ranks 3 60 -- "$DDPTRAIN" predict --checkpoint "$TMP/lin_model.h5" --data "$DATA" --out "$TMP/pred.h5"
check "predict writes /prediction [4000] in input order" \
    bash -c "h5dump -H -d /prediction '$TMP/pred.h5' | grep -q 'DATASPACE  SIMPLE { ( 4000 )'"
# rows in input order: prediction of row 0 from 3 ranks equals that from 1 rank
run_ranks 1 60 -- "$DDPTRAIN" predict --checkpoint "$TMP/lin_model.h5" --data "$DATA" --out "$TMP/pred1.h5"
check "predictions from 3 ranks equal those from 1 rank" "$CMP" "$TMP/pred.h5" /prediction "$TMP/pred1.h5" /prediction 0 0
run_ranks 2 60 -- "$DDPTRAIN" eval --checkpoint "$DATA" --data "$DATA"
check "eval of a non-model file: exit 2 saying so" grep -q "not a ddptrain model file" "$ERR"
# binding: more threads than the rank's CPUs is warned about, naming the fix
run_mpirun 1 60 -- --bind-to core "$DDPTRAIN" train --data "$DATA" --model linear --epochs 1 --threads 2 --quiet
check "--threads 2 on a rank bound to one core: a warning naming the binding fix" \
    grep -q "warning: 2 threads but this rank is bound to 1 CPU(s).*--map-by slot:PE=2" "$ERR"
run_mpirun 1 60 -- --bind-to none "$DDPTRAIN" train --data "$DATA" --model linear --epochs 1 --threads 1 --quiet
check "... and no such warning with one thread unbound" bash -c "! grep -q 'bound to' '$ERR'"
check "no ddptrain process left behind" no_leftovers
finish
