#!/usr/bin/env bash
# The fault suite of RELIABILITY.md in its short form: scripts/faults.sh --short
# runs every row (kills, SIGSTOP, signals, bad inputs on one rank, malformed
# files, mutants, NaN/Inf, disk full, damaged checkpoints, exact resume, two
# writers) and prints one table; it exits non-zero when a row misses its
# expectation or a process is left behind. This test checks that, under a
# time limit, and prints the table.
source "$(dirname "$0")/lib.sh"

LIMIT="${DDP_FAULTS_LIMIT:-300}" # --short takes ~50 s on 2 cores; more under ASan
# All 12 rows; DDP_FAULTS_ROWS="1 5" runs a subset.
ROWS="${DDP_FAULTS_ROWS:-1 2 3 4 5 6 7 8 9 10 11 12}"
N_ROWS=$(echo "$ROWS" | wc -w)
t0=$(date +%s.%N)
DDPTRAIN="$DDPTRAIN" DDP_BUILD_DIR="$DDP_BUILD_DIR" TMPDIR="$TMP" DDP_FAULTS_ROWS="$ROWS" \
    timeout --kill-after=10 "$LIMIT" bash "$DDP_SOURCE_DIR/scripts/faults.sh" --short </dev/null \
    >"$TMP/table.txt" 2>"$TMP/log.txt"
rc=$?
dt=$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { printf "%.1f", a - b }')
sed 's/^/  /' "$TMP/table.txt"
if [ "$rc" -ne 0 ]; then
    echo "  faults.sh log (rows that failed say why):"
    grep -vE '^\[faults|^    mutants: ' "$TMP/log.txt" | sed 's/^/    /' | head -60
fi
check "scripts/faults.sh --short: every row meets its expectation (exit $rc after ${dt}s)" test "$rc" -eq 0
check "the table has the $N_ROWS rows asked for" \
    test "$(grep -cE '^\| +[0-9]+ +\|' "$TMP/table.txt")" -eq "$N_ROWS"
check "no ddptrain process left behind" no_leftovers
finish
