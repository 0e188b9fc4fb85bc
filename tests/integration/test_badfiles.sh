#!/usr/bin/env bash
# Every invalid dataset file of the foundation issue (point 6): `ddptrain load`
# must exit 2 on EVERY rank within seconds, with one message naming the file,
# the dataset and the problem, and no rank may hang. External storage, virtual
# datasets and external links point at a FIFO that must never be opened: an
# open would block, the run would hit its timeout, and the test would fail.
source "$(dirname "$0")/lib.sh"

MAKER="$DDP_BUILD_DIR/make_bad_files"
SENTINEL="$TMP/sentinel.fifo"
mkfifo "$SENTINEL"
"$MAKER" "$TMP" "$SENTINEL" || { echo "make_bad_files failed"; exit 1; }
LIMIT=30       # hard timeout per run
BOUND=10       # seconds an error exit may take (includes mpirun start-up)

# expect_error RANKS FILE "grep -E pattern" [extra ddptrain args...]
expect_error() {
    local n="$1" file="$2" pattern="$3"; shift 3
    local name; name=$(basename "$file")
    run_ranks "$n" "$LIMIT" -- "$DDPTRAIN" load --data "$file" "$@"
    local msg; msg=$(grep 'ddptrain: error' "$ERR" | head -3)
    local n_msgs; n_msgs=$(grep -c 'ddptrain: error' "$ERR")
    if [ "$RC" -eq 2 ] && [ "$RANK_RCS" = "2" ] && [ "$n_msgs" -eq 1 ] &&
        echo "$msg" | grep -qE -e "$pattern" && echo "$msg" | grep -qF "$name" &&
        awk -v e="$ELAPSED" -v b="$BOUND" 'BEGIN { exit !(e < b) }'; then
        pass "$name (-n $n $*): exit 2 on all ranks in ${ELAPSED}s: ${msg#ddptrain: error: }"
    else
        fail "$name (-n $n $*): mpirun rc=$RC ranks=[$RANK_RCS] ${ELAPSED}s messages=$n_msgs: $msg"
        sed 's/^/      /' "$ERR" | head -20
    fi
}

expect_error 2 "$TMP/does_not_exist.h5" "no such file"
expect_error 2 "$TMP/not_hdf5.h5" "not an HDF5 file"
expect_error 2 "$TMP/missing_dataset.h5" "no dataset '/y'"
expect_error 2 "$TMP/missing_dataset.h5" "no dataset '/nope/X'" --features /nope/X
expect_error 2 "$TMP/x_1d.h5" "must be 2-D.*1-D"
expect_error 2 "$TMP/x_3d.h5" "must be 2-D.*3-D"
expect_error 2 "$TMP/x_string.h5" "datatype is string, not numeric"
expect_error 2 "$TMP/x_compound.h5" "datatype is compound, not numeric"
expect_error 2 "$TMP/x_enum.h5" "datatype is enum, not numeric"
expect_error 2 "$TMP/rows_mismatch.h5" "/X has 10 rows but /y has 9"
expect_error 2 "$TMP/zero_rows.h5" "at least one row"
expect_error 2 "$TMP/zero_features.h5" "at least one row and one feature"
expect_error 4 "$TMP/two_rows.h5" "2 rows but the job has 4 ranks"
expect_error 2 "$TMP/dims_overflow.h5" "overflows"
expect_error 2 "$TMP/nan_x.h5" "NaN at row 7, column 2"
expect_error 4 "$TMP/nan_x.h5" "rank 3: .*NaN at row 7"
expect_error 2 "$TMP/inf_y.h5" "Inf label at row 5"
expect_error 2 "$TMP/label_2.h5" "label 2 at row 3.*logistic needs labels 0 or 1" --model logistic
expect_error 2 "$TMP/label_frac.h5" "label 1.5 at row 4 is not a class id" --model softmax
expect_error 2 "$TMP/label_neg.h5" "label -1 at row 6 is not a class id" --model softmax
expect_error 2 "$TMP/ok_variants.h5" "class id 2 at row 2 is not below --classes 2" --features /train/X --labels /train/y --model softmax --classes 2
expect_error 2 "$TMP/external_storage.h5" "external storage"
expect_error 2 "$TMP/virtual.h5" "virtual dataset"
expect_error 2 "$TMP/external_link.h5" "'/X' is an external link"
expect_error 2 "$TMP/soft_link.h5" "soft link"
expect_error 2 "$TMP/bad_filter.h5" "filter 32004.*not allowed"
expect_error 2 "$TMP/ok_variants.h5" "needs labels 0 or 1" --features /train/X --labels /train/y --model logistic

# a truncated file: header intact, data cut off
size=$(stat -c %s "$TMP/ok.h5")
head -c $((size / 2)) "$TMP/ok.h5" > "$TMP/truncated.h5"
expect_error 2 "$TMP/truncated.h5" "truncated|damaged"

# resource limit: a shard that does not fit the rank's memory budget is refused
# with the numbers (exit 6 on every rank) before anything is allocated
run_ranks 2 "$LIMIT" -- "$DDPTRAIN" load --data "$TMP/ok.h5" --memory-limit 99
check "shard over --memory-limit: exit 6 on all ranks (ranks=[$RANK_RCS]) with the numbers" \
    bash -c "[ '$RANK_RCS' = 6 ] && grep -q 'needs 100 B but this rank may use 99 B' '$ERR'"
run_ranks 2 "$LIMIT" -- "$DDPTRAIN" load --data "$TMP/ok.h5" --memory-limit 1K
check "a shard within --memory-limit loads (rc=$RC)" test "$RC" -eq 0

# mpirun itself exits 2 (users and schedulers see this code)
run_mpirun 4 "$LIMIT" -- "$DDPTRAIN" load --data "$TMP/nan_x.h5"
check "mpirun -n 4 on a bad file exits 2 (got $RC)" test "$RC" -eq 2

# the valid files load
run_ranks 2 "$LIMIT" -- "$DDPTRAIN" load --data "$TMP/ok.h5" --model logistic
check "ok.h5 loads on 2 ranks (rc=$RC ranks=[$RANK_RCS])" test "$RC" -eq 0 -a "$RANK_RCS" = "0"
run_ranks 2 "$LIMIT" -- "$DDPTRAIN" load --data "$TMP/ok_variants.h5" --features /train/X --labels /train/y --model softmax
check "ok_variants.h5 (float64 BE, gzip+shuffle chunks, int32 labels, nested names) loads" \
    grep -q "model softmax (3 classes)" "$OUT"

check "the FIFO sentinel was never opened (no reader left it consumed)" test -p "$SENTINEL"
check "no ddptrain process left behind" no_leftovers
finish
