#!/usr/bin/env bash
# The command line under mpirun: unknown commands or flags, missing values and
# out-of-range numbers exit 2 on EVERY rank with exactly one one-line message
# (from rank 0); --help and --version exit 0 and print once.
source "$(dirname "$0")/lib.sh"

# bad_cli RANKS "pattern" args...
bad_cli() {
    local n="$1" pattern="$2"; shift 2
    run_ranks "$n" 60 -- "$DDPTRAIN" "$@"
    local n_msgs; n_msgs=$(grep -c 'ddptrain: error' "$ERR")
    if [ "$RC" -eq 2 ] && [ "$RANK_RCS" = "2" ] && [ "$n_msgs" -eq 1 ] && grep -qE -e "$pattern" "$ERR"; then
        pass "-n $n ddptrain $*: exit 2 on all ranks: $(grep 'ddptrain: error' "$ERR")"
    else
        fail "-n $n ddptrain $*: rc=$RC ranks=[$RANK_RCS] messages=$n_msgs"; sed 's/^/      /' "$ERR" | head
    fi
}

bad_cli 2 "unknown command 'trian'" trian --data x.h5
bad_cli 4 "unknown option '--bogus'" load --data x.h5 --bogus
bad_cli 2 "'--data' needs a value" load --data
bad_cli 2 "--rows: 0 is out of range" gen linear --out x.h5 --rows 0
bad_cli 2 "--gzip: 12 is out of range" gen linear --out x.h5 --gzip 12
bad_cli 2 "--features: 'many' is not an integer" gen linear --out x.h5 --features many
bad_cli 2 "--noise: 'abc' is not a number" gen linear --out x.h5 --noise abc
bad_cli 2 "'--rows' does not apply" load --data x.h5 --rows 10
bad_cli 2 "missing command" 

run_ranks 2 60 -- "$DDPTRAIN" --version
check "--version exits 0 on all ranks and prints once" \
    test "$RC" -eq 0 -a "$RANK_RCS" = "0" -a "$(grep -c '^ddptrain [0-9]' "$OUT")" -eq 1
for cmd in gen info load convert; do
    run_ranks 2 60 -- "$DDPTRAIN" "$cmd" --help
    check "$cmd --help exits 0 and prints usage once" \
        test "$RC" -eq 0 -a "$(grep -c "^usage:.*ddptrain $cmd" "$OUT")" -eq 1
done
timeout 30 "$DDPTRAIN" --help > "$TMP/help.txt"
check "top-level --help lists the commands and the exit codes" grep -q "exit codes: 0 ok" "$TMP/help.txt"
# without mpirun (singleton MPI) the exit code is the same
timeout 30 "$DDPTRAIN" load --bogus 2>/dev/null
check "singleton run: unknown flag exits 2" test $? -eq 2
check "no ddptrain process left behind" no_leftovers
finish
