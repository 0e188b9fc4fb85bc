#!/usr/bin/env bash
# Shard loading across rank counts. `gen` writes 1,000,000 x 256 float32 on 4
# ranks; `load` on P = 1, 2, 3, 4, 8 ranks must load every row exactly once
# (the checksum of all loaded rows equals the checksum of a plain serial read
# by `info --checksum`, and the per-rank row ranges tile [0, N)), and shard
# sizes may differ by at most one virtual-shard quantum (+1 row of rounding).
# Also: `gen` output does not depend on the number of writing ranks.
# DDP_LOAD_ROWS / DDP_LOAD_FEATURES shrink the big case for quick local runs.
source "$(dirname "$0")/lib.sh"

ROWS="${DDP_LOAD_ROWS:-1000000}"
FEATURES="${DDP_LOAD_FEATURES:-256}"
BIG="$TMP/big.h5"

run_ranks 4 300 -- "$DDPTRAIN" gen logistic --rows "$ROWS" --features "$FEATURES" --seed 7 --out "$BIG"
check "gen -n 4: ${ROWS} x ${FEATURES} written (rc=$RC, ${ELAPSED}s)" test "$RC" -eq 0 -a "$RANK_RCS" = "0"
grep '^gen:' "$OUT" | sed 's/^/      /'

timeout 300 "$DDPTRAIN" info "$BIG" --checksum > "$TMP/info.txt"
FILE_SUM=$(awk '/^checksum:/ { print $2 }' "$TMP/info.txt")
check "info --checksum reads the file serially ($FILE_SUM)" test -n "$FILE_SUM"
check "info shows /X float32 [$ROWS, $FEATURES]" grep -qE "/X +float32 +\[$ROWS, $FEATURES\]" "$TMP/info.txt"

QUANTUM=$(((ROWS + 63) / 64 + 1)) # ceil(N/V) + 1 row of rounding (see sampler.h)
for P in 1 2 3 4 8; do
    run_ranks "$P" 300 -- "$DDPTRAIN" load --data "$BIG" --model logistic --checksum
    if [ "$RC" -ne 0 ]; then
        fail "load -n $P exited $RC"; sed 's/^/      /' "$ERR" | head; continue
    fi
    sum=$(awk '/^checksum:/ { print $2 }' "$OUT")
    check "load -n $P: checksum of loaded rows $sum equals the file's" test "$sum" = "$FILE_SUM"
    check "load -n $P: rows loaded $ROWS of $ROWS" grep -q "rows loaded $ROWS of $ROWS" "$OUT"
    # per-rank ranges: "rank R rows A..B (N rows, K virtual shards)"
    tiles=$(awk -v n="$ROWS" '
        /^  rank / { split($4, ab, /\.\./); a = ab[1]; b = ab[2]
                     if (a != next_row) bad = 1; next_row = b + 1; k++ }
        END { print (bad || next_row != n) ? "no" : "yes" }' next_row=0 "$OUT")
    check "load -n $P: rank row ranges tile [0, $ROWS) in order" test "$tiles" = yes
    spread=$(awk '/^  rank / { gsub(/\(/, "", $5); v = $5 + 0; if (min == "" || v < min) min = v; if (v > max) max = v }
                  END { print max - min }' "$OUT")
    check "load -n $P: shard sizes differ by $spread rows <= one virtual-shard quantum ($QUANTUM)" \
        test "$spread" -le "$QUANTUM"
    grep -E "aggregate" "$OUT" | sed "s/^/      -n $P /"
done

# gen is independent of the number of writing ranks, also chunked + gzip and float64
for variant in "--chunk-rows 1000" "--chunk-rows 1000 --gzip 4" "--dtype float64"; do
    SMALL_ARGS=(linear --rows 30011 --features 17 --seed 11 --noise 0.5 $variant)
    run_ranks 1 120 -- "$DDPTRAIN" gen "${SMALL_ARGS[@]}" --out "$TMP/g1.h5"
    run_ranks 3 120 -- "$DDPTRAIN" gen "${SMALL_ARGS[@]}" --out "$TMP/g3.h5"
    s1=$(timeout 60 "$DDPTRAIN" info "$TMP/g1.h5" --checksum | awk '/^checksum:/ { print $2 }')
    s3=$(timeout 60 "$DDPTRAIN" info "$TMP/g3.h5" --checksum | awk '/^checksum:/ { print $2 }')
    check "gen $variant: same data written by 1 and 3 ranks ($s1 = $s3)" test -n "$s1" -a "$s1" = "$s3"
    if command -v h5diff >/dev/null; then
        check "gen $variant: h5diff finds no difference between the 1- and 3-rank files" \
            timeout 60 h5diff "$TMP/g1.h5" "$TMP/g3.h5"
    fi
done
timeout 60 "$DDPTRAIN" info "$TMP/g3.h5" > "$TMP/g3.txt"
check "float64 file reports float64 features" grep -qE "/X +float64" "$TMP/g3.txt"
# gzip variant leaves its filters visible in info
run_ranks 2 120 -- "$DDPTRAIN" gen softmax --classes 5 --rows 5000 --features 8 --gzip 6 --chunk-rows 512 --out "$TMP/gz.h5"
timeout 60 "$DDPTRAIN" info "$TMP/gz.h5" > "$TMP/gz.txt"
check "gzip file: info shows chunks=512x8 filters=shuffle+gzip(6)" grep -qE "chunks=512x8 filters=shuffle\+gzip\(6\)" "$TMP/gz.txt"
check "softmax file: 5 classes in the label summary" grep -q "labels /y: 5 classes" "$TMP/gz.txt"
check "no ddptrain process left behind" no_leftovers
finish
