#!/usr/bin/env bash
# local_cluster.sh — a real single-node Slurm cluster (Debian's slurmctld and
# slurmd) living entirely under one directory, for the tests and for trying
# the batch template on a laptop. Not for production: no authentication
# (auth/none), no cgroups, root daemons.
#
#   scripts/slurm/local_cluster.sh start DIR [CPUS]   writes DIR/slurm.conf, starts both
#                                                   daemons, waits until the node is idle
#   scripts/slurm/local_cluster.sh stop DIR           stops them by their recorded PIDs
#   export SLURM_CONF=DIR/slurm.conf                  then sbatch/srun/squeue/scontrol use it
#
# CPUS (default 4) is what the node advertises. It may exceed the real cores
# (SlurmdParameters=config_overrides): a 2-core machine can then run a 4-task
# job instead of leaving it PENDING forever. Exit codes: 0 ok, 1 failure (the
# daemons' logs are printed), 77 Slurm is not installed.
set -uo pipefail

usage() { sed -n '2,16p' "$0" >&2; exit 2; }
[ $# -ge 2 ] || usage
CMD="$1"
DIR="$(mkdir -p "$2" && cd "$2" && pwd)"
CPUS="${3:-4}"
HOST="$(hostname -s)"
CONF="$DIR/slurm.conf"

# Two free TCP ports next to each other; the defaults 6817/6818 may be taken
# by a real Slurm or by another test cluster.
free_ports() {
    local used base
    used="$(ss -Htan 2>/dev/null | awk '{ print $4 }' | sed 's/.*://' | sort -u)"
    for base in $(seq $((20000 + ($$ % 200) * 10)) 10 $((20000 + ($$ % 200) * 10 + 400))); do
        if ! grep -qx "$base" <<<"$used" && ! grep -qx "$((base + 1))" <<<"$used"; then
            echo "$base"
            return 0
        fi
    done
    echo 6817
}

write_conf() {
    local port; port="$(free_ports)"
    mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log"
    cat >"$CONF" <<EOF
# written by scripts/slurm/local_cluster.sh; everything lives under $DIR
ClusterName=ddplocal
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/none
CredType=cred/none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
MpiDefault=none
SchedulerType=sched/builtin
SchedulerParameters=sched_min_interval=0,batch_sched_delay=0
MessageTimeout=5
MailProg=/bin/true
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
EOF
}

show_logs() {
    for f in "$DIR"/log/*.log; do
        [ -f "$f" ] && { echo "--- $f (last 15 lines)"; tail -15 "$f"; }
    done >&2
}

start() {
    command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null || {
        echo "local_cluster: slurmctld/slurmd/sbatch not installed (apt-get install slurmctld slurmd slurm-client)" >&2
        exit 77
    }
    write_conf
    export SLURM_CONF="$CONF"
    # -D: stay in the foreground so $! is the daemon itself; -i: ignore stale state
    slurmctld -D -i -f "$CONF" </dev/null >"$DIR/log/slurmctld.out" 2>&1 &
    echo $! >"$DIR/ctld.pidrec"
    slurmd -D -f "$CONF" -N "$HOST" </dev/null >"$DIR/log/slurmd.out" 2>&1 &
    echo $! >"$DIR/d.pidrec"
    local state=""
    for _ in $(seq 150); do # 15 s
        state="$(timeout 5 sinfo -h -N -o %t 2>/dev/null | head -1)"
        [ "$state" = idle ] && break
        sleep 0.1
    done
    if [ "$state" != idle ]; then
        echo "local_cluster: the node did not become idle within 15 s (state '${state:-none}')" >&2
        show_logs
        stop
        exit 1
    fi
    echo "local_cluster: up (node $HOST, $CPUS CPUs, port $(awk -F= '/^SlurmctldPort/ { print $2 }' "$CONF")):" \
        "export SLURM_CONF=$CONF"
}

# Stops the daemons recorded by start, newest first, by PID only; waits up to
# 10 s for each, then SIGKILL. Jobs' processes die with slurmd's stepds.
stop() {
    local rec pid
    # jobs first, while slurmctld can still cancel them: slurmd's steps outlive it
    if [ -f "$CONF" ] && [ -f "$DIR/ctld.pidrec" ]; then
        export SLURM_CONF="$CONF"
        local jobs; jobs="$(timeout 5 squeue -h -o %i 2>/dev/null)"
        if [ -n "$jobs" ]; then
            timeout 5 scancel --full $jobs 2>/dev/null
            for _ in $(seq 50); do [ -z "$(timeout 5 squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.1; done
        fi
    fi
    for rec in "$DIR/d.pidrec" "$DIR/ctld.pidrec"; do
        [ -f "$rec" ] || continue
        pid="$(cat "$rec")"
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null
            for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
        fi
        rm -f "$rec"
    done
    # a slurmstepd of a job still running would outlive slurmd: its PID is in the spool
    for pid in $(pgrep -x slurmstepd 2>/dev/null); do
        grep -qs -- "$CONF" "/proc/$pid/environ" && kill -KILL "$pid" 2>/dev/null
    done
    return 0
}

case "$CMD" in
start) start ;;
stop) stop ;;
*) usage ;;
esac
