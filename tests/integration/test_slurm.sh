#!/usr/bin/env bash
# ddptrain under a real single-node Slurm cluster (Debian's slurmctld and
# slurmd, started under this test's temp dir by scripts/slurm/local_cluster.sh):
#  - the batch template scripts/slurm/ddptrain.sbatch, submitted with sbatch
#    for 4 ranks (srun --mpi=pmix), completes; its checkpoint passes
#    `ddptrain info` (checksums verified); the metrics and the start-up table
#    carry the Slurm job id, nodes and tasks;
#  - preemption: the same job signalled with `scancel --batch --signal=USR1`
#    checkpoints, exits 7, requeues itself, resumes and ends with bitwise the
#    same weights and optimizer state as the uninterrupted job;
#  - the mpirun launcher inside the allocation completes too;
#  - threads default to SLURM_CPUS_PER_TASK, and threads x ranks above the
#    cores is warned about once, with the numbers;
#  - the daemons are stopped by their PIDs, also when a check fails.
# Slurm is installed with apt when missing; when that is impossible the test
# exits 77, which CTest reports as skipped.
source "$(dirname "$0")/lib.sh"

SRC="$DDP_SOURCE_DIR"
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null; then
    (source "$SRC/scripts/setup.sh" && set +e && ddp_install_slurm) || {
        echo "SKIP: Slurm (slurmctld slurmd slurm-client) is not installed and cannot be installed"
        exit 77
    }
fi

# A Slurm job around this test (CI under Slurm) must not leak into ours.
for v in $(env | sed -n 's/^\(SLURM_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done

CL="$TMP/cluster"
stop_cluster() { bash "$SRC/scripts/slurm/local_cluster.sh" stop "$CL" >/dev/null 2>&1; }
trap 'stop_cluster; cleanup' EXIT
trap 'exit 1' INT TERM
T0=$(date +%s.%N)
since() { awk -v a="$(date +%s.%N)" -v b="$1" 'BEGIN { printf "%.1f", a - b }'; }

bash "$SRC/scripts/slurm/local_cluster.sh" start "$CL" 4 >"$TMP/cluster.out" 2>&1
rc=$?
[ "$rc" -eq 77 ] && { echo "SKIP: Slurm is not installed"; exit 77; }
check "a single-node Slurm cluster starts and its node is idle ($(since "$T0") s)" test "$rc" -eq 0
[ "$rc" -eq 0 ] || { cat "$TMP/cluster.out"; finish; exit 1; }
export SLURM_CONF="$CL/slurm.conf"
CTLD_PID=$(cat "$CL/ctld.pidrec")
SLURMD_PID=$(cat "$CL/d.pidrec")

DATA="$TMP/d.h5"
run_ranks 2 60 -- "$DDPTRAIN" gen softmax --classes 10 --rows 4000 --features 32 --seed 5 --out "$DATA"
N=6000 # steps, 20 per epoch: ~1 s, long enough to be signalled mid-run
# 4 ranks on fewer cores: ranks waiting in MPI must yield their core (mpirun
# knows it oversubscribes and does this itself; srun-launched ranks do not)
export OMPI_MCA_mpi_yield_when_idle=1
export DDPTRAIN DDP_ARGS="--data $DATA --model softmax --optimizer adam --lr 0.01 --batch-size 200 --epochs 1000 \
--max-steps $N --log-every 500 --seed 3"
TEMPLATE="$SRC/scripts/slurm/ddptrain.sbatch"

field() { scontrol -o show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p"; }
# wait_job ID SECONDS: polls (0.2 s) until the job ended; sets STATE and JOB_RC
wait_job() {
    local end=$(($(date +%s) + $2))
    while [ "$(date +%s)" -lt "$end" ]; do
        STATE=$(field "$1" JobState)
        case "$STATE" in COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY) break ;; esac
        sleep 0.2
    done
    JOB_RC=$(field "$1" ExitCode)
}
submit() { # submit NAME [sbatch options]: prints the job id
    local name="$1"; shift
    DDP_RUN_DIR="$TMP/$name" timeout 30 sbatch --parsable -J "$name" -D "$TMP" -o "$TMP/$name.out" "$@" "$TEMPLATE"
}
newest() { ls "$1"/ckpt.step*.h5 2>/dev/null | sort | tail -1; }
same() {
    "$DDP_BUILD_DIR/h5compare" "$1" /model/weight "$2" /model/weight 0 0 >/dev/null &&
        "$DDP_BUILD_DIR/h5compare" "$1" /model/bias "$2" /model/bias 0 0 >/dev/null &&
        "$DDP_BUILD_DIR/h5compare" "$1" /optimizer/state/weight/exp_avg_sq "$2" \
            /optimizer/state/weight/exp_avg_sq 0 0 >/dev/null
}

# 1. the template, uninterrupted, 4 ranks under srun
t=$(date +%s.%N)
A=$(submit full)
wait_job "$A" 90
check "sbatch ddptrain.sbatch (4 ranks, srun --mpi=pmix): job $A COMPLETED with 0:0 (got $STATE $JOB_RC, $(since "$t") s)" \
    test "$STATE" = COMPLETED -a "$JOB_RC" = 0:0
CK_A=$(newest "$TMP/full")
check "final checkpoint at step $N ($(basename "${CK_A:-none}"))" test "$(basename "${CK_A:-x}")" = "ckpt.step$(printf %012d $N).h5"
timeout 30 "$DDPTRAIN" info "$CK_A" >"$TMP/info.txt" 2>&1
check "ddptrain info accepts it: checksums verified (exit $?), step $N" \
    grep -qE "^ +@step +$N$" "$TMP/info.txt"
check "start-up table names the Slurm job, 1 node, 4 tasks, srun" \
    grep -qE "scheduler +slurm job $A \(full\), 1 node, 4 tasks, .*srun" "$TMP/full.out"
check "summary line carries the Slurm job id and task count" \
    grep -qE "^summary: .*\"slurm_job_id\":\"$A\".*\"slurm_tasks\":4" "$TMP/full.out"
M="$TMP/full/metrics.$A.0.jsonl"
check "metrics: a cluster record first (job $A, 4 ranks), then $((N / 500)) step records" \
    test "$(head -1 "$M" 2>/dev/null | grep -c "\"kind\":\"cluster\",\"scheduler\":\"slurm\",\"slurm_job_id\":\"$A\".*\"ranks\":4")" \
    -eq 1 -a "$(grep -c '"kind":"step"' "$M" 2>/dev/null)" -eq $((N / 500))

# 2. preemption: USR1 to the batch shell, forwarded to the ranks -> checkpoint,
# exit 7, requeue, resume. Slurm holds a requeued job for ~2 minutes
# (Reason=BeginTime); the test releases it sooner, as an operator could, but
# not within the same second: slurmd still refuses the job's old credential
# then ("Job credential revoked") and the job would fail.
t=$(date +%s.%N)
B=$(submit preempt)
# the start-up table's last line: set-up is done, the signal handlers are in place
for _ in $(seq 300); do grep -q '^  loop ' "$TMP/preempt.out" 2>/dev/null && break; sleep 0.05; done
timeout 10 scancel --batch --signal=USR1 "$B"
requeued=0
for _ in $(seq 300); do
    if [ "$(field "$B" Restarts)" = 1 ] && [ "$(field "$B" JobState)" = PENDING ]; then
        requeued=1
        # the old attempt's step (same id, $B.0, as the new one's) must be gone
        # from slurmd first, or the new srun's launch is aborted
        for _ in $(seq 100); do
            [ -z "$(timeout 5 squeue -h -s -j "$B" 2>/dev/null)" ] && break
            sleep 0.1
        done
        sleep 3
        timeout 10 scontrol update JobId="$B" StartTime=now
        break
    fi
    sleep 0.1
done
check "scancel --batch --signal=USR1: the job requeued itself" test "$requeued" -eq 1
wait_job "$B" 90
stopped_at=$(sed -n 's/.*stopped by SIGUSR1 after step \([0-9]*\);.*/\1/p' "$TMP/preempt.out" | head -1)
check "the ranks got SIGUSR1, finished step ${stopped_at:-?} < $N, checkpointed and exited 7" \
    grep -q "ddptrain exited 7" "$TMP/preempt.out"
check "attempt 1 resumed from that checkpoint" \
    grep -qE "^resume: .*ckpt.step$(printf %012d "${stopped_at:-0}").h5 \(step ${stopped_at:-x}," "$TMP/preempt.out"
check "the requeued job COMPLETED with 0:0 (got $STATE $JOB_RC, $(since "$t") s with the requeue)" \
    test "$STATE" = COMPLETED -a "$JOB_RC" = 0:0 -a "${stopped_at:-$N}" -lt "$N"
CK_B=$(newest "$TMP/preempt")
check "preempted + requeued run: final weights and optimizer state bitwise equal to the uninterrupted job" \
    same "$CK_B" "$CK_A"
check "the requeued attempt's metrics say restart 1" \
    grep -q '"slurm_restart_count":1' "$TMP/preempt/metrics.$B.1.jsonl"

# 3. the mpirun launcher inside the allocation (2 ranks, 2 CPUs each)
t=$(date +%s.%N)
C=$(DDP_LAUNCHER=mpirun DDP_ARGS="$DDP_ARGS --max-steps 200" submit viampirun --ntasks-per-node=2 --cpus-per-task=2)
wait_job "$C" 60
check "DDP_LAUNCHER=mpirun: job $C COMPLETED with 0:0 (got $STATE $JOB_RC, $(since "$t") s)" \
    test "$STATE" = COMPLETED -a "$JOB_RC" = 0:0 -a -n "$(newest "$TMP/viampirun")"
check "mpirun job: 2 ranks x 2 threads, from --cpus-per-task" \
    grep -qE "parallelism +2 ranks x 2 threads" "$TMP/viampirun.out"

# 4. threads from SLURM_CPUS_PER_TASK when OMP_NUM_THREADS is unset, and the fit warning
timeout 60 env -u OMP_NUM_THREADS srun --mpi=pmix -n 2 -c 2 "$DDPTRAIN" train --data "$DATA" --model softmax \
    --max-steps 5 </dev/null >"$TMP/srun.out" 2>"$TMP/srun.err"
check "srun -n 2 -c 2: 2 ranks x 2 threads (threads from SLURM_CPUS_PER_TASK)" \
    grep -qE "parallelism +2 ranks x 2 threads \(threads from SLURM_CPUS_PER_TASK\)" "$TMP/srun.out"
cores=$(getconf _NPROCESSORS_ONLN)
if [ "$cores" -lt 4 ]; then
    check "2 threads x 2 ranks > $cores cores: warned once, naming the numbers and --cpus-per-task" \
        test "$(grep -c "warning: 2 threads x 2 ranks on this node = 4 > $cores cores.*--cpus-per-task=" \
            "$TMP/srun.err")" -eq 1
else
    check "2 threads x 2 ranks fit $cores cores: no warning" test "$(grep -c 'warning: .* threads x' "$TMP/srun.err")" -eq 0
fi

# 5. the daemons stop, by PID
stop_cluster
gone=1
for p in "$CTLD_PID" "$SLURMD_PID"; do kill -0 "$p" 2>/dev/null && gone=0; done
check "slurmctld ($CTLD_PID) and slurmd ($SLURMD_PID) stopped" test "$gone" -eq 1
check "no ranks left behind" no_leftovers
echo "test_slurm: $(since "$T0") s in all"
finish
