# lib.sh — shared helpers for the integration tests (sourced, not run).
# Every command that could hang runs under `timeout`; every mpirun records
# each rank's own exit code so "exit 2 on every rank" is checked, not assumed.
set -uo pipefail

: "${DDPTRAIN:?set DDPTRAIN to the ddptrain binary (CTest does)}"
: "${DDP_BUILD_DIR:=$(dirname "$DDPTRAIN")}"
: "${DDP_SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
# the PML Open MPI selects here anyway, named: no 0.2 s probe of cm at each start (README, "Tests")
export OMPI_MCA_pml="${OMPI_MCA_pml:-ob1}"
# one OpenMP thread per rank unless a test says otherwise: ranks share 2 cores
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"

T_PASS=0
T_FAIL=0
T_NAME="$(basename "$0" .sh)"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/ddp-${T_NAME}.XXXXXX")"
cleanup() { rm -rf "$TMP"; }
trap cleanup EXIT

pass() { T_PASS=$((T_PASS + 1)); echo "  ok   $*"; }
fail() { T_FAIL=$((T_FAIL + 1)); echo "  FAIL $*"; }
check() { # check "description" command...
    local what="$1"; shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}

# mpirun forwards stdin to rank 0: every run reads /dev/null, so a test
# looping over `while read` lines keeps its input.
# run_ranks N SECONDS -- cmd...: runs cmd on N ranks under mpirun with a time
# limit. Sets RC (the largest per-rank code, or mpirun's own code when a rank
# did not report, e.g. 124 on timeout), RANK_RCS (sorted unique per-rank codes,
# e.g. "2"), ELAPSED (seconds), OUT/ERR (files with stdout/stderr).
# The per-rank wrapper records the code and exits 0: a non-zero exit would make
# mpirun kill the sibling ranks before they could record theirs. mpirun's own
# exit code is checked by run_mpirun below.
run_ranks() {
    local n="$1" limit="$2"; shift 3
    local rcdir="$TMP/rcs.$$.$RANDOM"
    mkdir -p "$rcdir"
    OUT="$rcdir/out"; ERR="$rcdir/err"
    local t0; t0=$(date +%s.%N)
    timeout --kill-after=5 "$limit" mpirun -n "$n" bash -c \
        '"$@"; echo $? > "'"$rcdir"'/rc.$OMPI_COMM_WORLD_RANK"' _ "$@" </dev/null >"$OUT" 2>"$ERR"
    RC=$?
    ELAPSED=$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { printf "%.2f", a - b }')
    local got; got=$(ls "$rcdir" | grep -c '^rc\.' || true)
    if [ "$got" -ne "$n" ]; then
        RANK_RCS="missing($got/$n)"
    else
        RANK_RCS=$(cat "$rcdir"/rc.* | sort -n -u | tr '\n' ' ' | sed 's/ $//')
        RC=$(cat "$rcdir"/rc.* | sort -n | tail -1)
    fi
}

# run_mpirun N SECONDS -- cmd...: plain mpirun; RC is mpirun's exit code.
run_mpirun() {
    local n="$1" limit="$2"; shift 3
    OUT="$TMP/mpirun.out"; ERR="$TMP/mpirun.err"
    timeout --kill-after=5 "$limit" mpirun -n "$n" "$@" </dev/null >"$OUT" 2>"$ERR"
    RC=$?
}

# no_leftovers: no ddptrain process of THIS test (its arguments name this
# test's $TMP) is still alive; ranks of a killed job may take a moment to be
# reaped: allow 5 s, then judge. Other jobs on the machine are not ours.
no_leftovers() {
    for _ in $(seq 50); do
        pgrep -f "$DDPTRAIN .*$TMP" >/dev/null || return 0
        sleep 0.1
    done
    pgrep -af "$DDPTRAIN .*$TMP" | sed 's/^/      left behind: /'
    return 1
}

finish() {
    echo "$T_NAME: $T_PASS passed, $T_FAIL failed"
    [ "$T_FAIL" -eq 0 ]
}
