#!/usr/bin/env bash
# test_convert.sh — `ddptrain convert` end to end: CSV (header, label by name
# or index, quotes, CRLF, BOM), TSV, LIBSVM (one-/zero-based, sparse rows
# zero-filled, --n-features), gzip + nested dataset names; every equivalent
# input must give the same `info --checksum`. Malformed inputs must exit 2
# with "line N" for the right N and leave no output (or temp) file behind, and
# a failed convert must not touch an existing OUT. Last, a ~150 MB CSV must
# convert with peak RSS < 64 MiB (memory does not grow with rows).
# Runs the binary directly (MPI singleton); no mpirun needed.
set -uo pipefail

: "${DDPTRAIN:?set DDPTRAIN to the ddptrain binary (CTest does)}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
BIG_MB="${DDP_CONVERT_BIG_MB:-150}" # size of the bounded-memory CSV
RSS_LIMIT_MIB=64

TMP="$(mktemp -d "${TMPDIR:-/tmp}/ddp-test_convert.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
cd "$TMP" || exit 1

N_PASS=0
N_FAIL=0
pass() { N_PASS=$((N_PASS + 1)); echo "  ok   $*"; }
fail() {
    N_FAIL=$((N_FAIL + 1))
    echo "  FAIL $*"
    [ -s "$TMP/out" ] && sed 's/^/       stdout: /' "$TMP/out" | head -5
    [ -s "$TMP/err" ] && sed 's/^/       stderr: /' "$TMP/err" | head -5
    return 0
}

# run SECONDS cmd... : RC, and stdout/stderr in $TMP/out, $TMP/err
run() {
    local limit="$1"
    shift
    timeout --kill-after=5 "$limit" "$@" >"$TMP/out" 2>"$TMP/err"
    RC=$?
}

convert() { run 60 "$DDPTRAIN" convert "$@"; }

# checksum FILE [info options]: prints the hex checksum, or "none"
checksum() {
    local f="$1"
    shift
    timeout --kill-after=5 60 "$DDPTRAIN" info "$f" --checksum "$@" 2>/dev/null |
        sed -n 's/^checksum: \([0-9a-f]*\).*/\1/p' | grep . || echo none
}

# info_has FILE PATTERN...: some line of `info FILE` matches every pattern
info_has() {
    local f="$1"
    shift
    timeout --kill-after=5 60 "$DDPTRAIN" info "$f" >"$TMP/info" 2>&1 || return 1
    local lines
    lines=$(cat "$TMP/info")
    for p in "$@"; do lines=$(printf '%s\n' "$lines" | grep -F -- "$p") || return 1; done
    [ -n "$lines" ]
}

# expect_ok WHAT : last convert succeeded
expect_ok() {
    if [ "$RC" -eq 0 ]; then pass "$1"; else fail "$1 (exit $RC, expected 0)"; fi
}

# expect_bad WHAT OUTFILE NEEDLE... : exit 2, stderr has every needle, no OUTFILE
# and no OUTFILE.tmp.* left behind
expect_bad() {
    local what="$1" outfile="$2"
    shift 2
    if [ "$RC" -ne 2 ]; then
        fail "$what: exit $RC, expected 2"
        return
    fi
    for n in "$@"; do
        if ! grep -qF -- "$n" "$TMP/err"; then
            fail "$what: stderr lacks '$n'"
            return
        fi
    done
    if [ -e "$outfile" ] || compgen -G "$outfile.tmp.*" >/dev/null; then
        fail "$what: $outfile (or a temp file) exists after the failed convert"
        return
    fi
    pass "$what"
}

echo "== convert: reference data (5 rows x 3 features, sparse, one row all zero)"
# The same rows in every format; values are exact in float32 text form so all
# inputs must produce bit-identical files (same checksum).
cat >ref.csv <<'EOF'
f1,f2,target,f3
1.5,0,1,-2
0,0,0,0
0,3.25,1,0
-1,2,0,7.5
0,0,1,0.125
EOF
convert ref.csv --out ref.h5 --label-col target
expect_ok "csv: header, label by name"
if info_has ref.h5 "/X" "[5, 3]" "float32" && info_has ref.h5 "/y" "[5]" "float32"; then
    pass "csv: info shows /X [5, 3] and /y [5], float32"
else
    fail "csv: info shape"
fi
if info_has ref.h5 "@ddptrain_format" "csv" && info_has ref.h5 "@ddptrain_source" "ref.csv"; then
    pass "csv: root attributes ddptrain_format / ddptrain_source"
else
    fail "csv: root attributes"
fi
grep -q "5 rows x 3 features" "$TMP/out" && grep -q "peak RSS" "$TMP/out" &&
    pass "csv: report line" || fail "csv: report line lacks rows/features/peak RSS"
REF=$(checksum ref.h5)
[ "$REF" != none ] && pass "csv: checksum $REF" || fail "csv: no checksum from info"

# Values, independently of ddptrain: h5dump the features and labels.
if command -v h5dump >/dev/null; then
    timeout 30 h5dump -y -w 0 -d /X -o x.txt ref.h5 >/dev/null 2>&1
    timeout 30 h5dump -y -w 0 -d /y -o y.txt ref.h5 >/dev/null 2>&1
    got_x=$(tr -d ' \n' <x.txt)
    got_y=$(tr -d ' \n' <y.txt)
    if [ "$got_x" = "1.5,0,-2,0,0,0,0,3.25,0,-1,2,7.5,0,0,0.125" ] && [ "$got_y" = "1,0,1,0,1" ]; then
        pass "csv: h5dump values (label column removed, order kept)"
    else
        fail "csv: h5dump values X='$got_x' y='$got_y'"
    fi
fi

printf '1,1.5,0,-2\n0,0,0,0\n1,0,3.25,0\n0,-1,2,7.5\n1,0,0,0.125\n' >nohdr.csv
convert nohdr.csv --out nohdr.h5 --label-col 0
expect_ok "csv: no header, label index 0"
[ "$(checksum nohdr.h5)" = "$REF" ] && pass "csv: no header = reference" ||
    fail "csv: no header checksum differs"

printf 'f1\tf2\tf3\ty\n1.5\t0\t-2\t1\n0\t0\t0\t0\n0\t3.25\t0\t1\n-1\t2\t7.5\t0\n0\t0\t0.125\t1\n' >ref.tsv
convert ref.tsv --out tsv.h5
expect_ok "tsv: tab from the extension, label = last column"
[ "$(checksum tsv.h5)" = "$REF" ] && pass "tsv: = reference" || fail "tsv: checksum differs"

# BOM, quoted names and values, CRLF, spaces, a blank line
printf '\xef\xbb\xbf"f1", "f2" ,"target","f3"\r\n 1.5 ,"0",1,-2\r\n0,0,0,0\r\n\r\n0,"3.25",1,0\r\n-1,2,0,7.5\r\n0,0,1,1.25e-1\r\n' >quoted.csv
convert quoted.csv --out quoted.h5 --label-col target
expect_ok "csv: BOM, quotes, CRLF, spaces, blank line"
[ "$(checksum quoted.h5)" = "$REF" ] && pass "csv: quoted/CRLF = reference" ||
    fail "csv: quoted/CRLF checksum differs"

printf '1 1:1.5 3:-2\n0\n1 2:3.25\n# a comment line\n0 1:-1 2:2 3:7.5\n1 3:0.125 # trailing comment\n' >one.svm
convert one.svm --out one.h5
expect_ok "libsvm: one-based (detected)"
[ "$(checksum one.h5)" = "$REF" ] && pass "libsvm one-based: zero-filled rows = reference" ||
    fail "libsvm one-based: checksum differs"

printf '1 0:1.5 2:-2\n0\n1 qid:3 1:3.25\n0 0:-1 1:2 2:7.5\r\n1 2:0.125\n' >zero.libsvm
convert zero.libsvm --out zero.h5
expect_ok "libsvm: zero-based (detected), qid, CRLF"
[ "$(checksum zero.h5)" = "$REF" ] && pass "libsvm zero-based: = reference" ||
    fail "libsvm zero-based: checksum differs"

convert one.svm --out wide.h5 --n-features 5 --one-based
expect_ok "libsvm: --n-features 5"
info_has wide.h5 "/X" "[5, 5]" "float32" && pass "libsvm: --n-features widens to [5, 5]" ||
    fail "libsvm: --n-features shape"

convert one.svm --out nested.h5 --gzip 4 --chunk-rows 2 --x-name /train/X --y-name /train/y
expect_ok "libsvm: gzip, chunk rows, nested names"
if info_has nested.h5 "/train/X" "[5, 3]" "gzip" &&
    [ "$(checksum nested.h5 --features /train/X --labels /train/y)" = "$REF" ]; then
    pass "libsvm: /train/X gzip, = reference"
else
    fail "libsvm: nested gzip file"
fi

echo "== convert: malformed input exits 2 with the line number, leaves no file"
printf 'a,b,c\n1,2,3\n4,5,6\n7,x,9\n' >bad_num.csv
convert bad_num.csv --out bad1.h5
expect_bad "csv: non-numeric field" bad1.h5 "line 4" "field 2 of 3" "'x'"

printf 'a,b,c\n1,2,3\n4,5\n' >bad_count.csv
convert bad_count.csv --out bad2.h5
expect_bad "csv: wrong field count" bad2.h5 "line 3" "expected 3 fields, found 2"

printf '1,2,3\n4,,6\n' >bad_empty.csv
convert bad_empty.csv --out bad3.h5
expect_bad "csv: empty field" bad3.h5 "line 2" "empty"

printf '1,2,3\n4,5,6\n7,8,nan\n' >bad_nan.csv
convert bad_nan.csv --out bad4.h5
expect_bad "csv: nan" bad4.h5 "line 3" "finite"

printf '1,2,3\n4,"5,6\n' >bad_quote.csv
convert bad_quote.csv --out bad5.h5
expect_bad "csv: unterminated quote" bad5.h5 "line 2" "unterminated quote"

printf '1,2,3\n4,5,1e39\n' >bad_big.csv
convert bad_big.csv --out bad6.h5
expect_bad "csv: float32 overflow" bad6.h5 "line 2" "overflows float32"

printf 'a,b\n' >hdr_only.csv
convert hdr_only.csv --out bad7.h5
expect_bad "csv: header only" bad7.h5 "no data rows"

convert nohdr.csv --out bad8.h5 --label-col target
expect_bad "csv: label name without header" bad8.h5 "no header"

printf '1 1:1\n0 2:1\n1 3:1 2:1\n' >bad_order.svm
convert bad_order.svm --out bad9.h5
expect_bad "libsvm: non-increasing index" bad9.h5 "line 3" "strictly increasing"

printf '1 1:1\n\n0 1:1 2\n' >bad_colon.svm
convert bad_colon.svm --out bad10.h5
expect_bad "libsvm: missing colon (after a blank line)" bad10.h5 "line 3" "missing ':'"

printf '1 1:1\n0 0:1\n' >bad_zero.svm
convert bad_zero.svm --out bad11.h5 --one-based
expect_bad "libsvm: index 0 with --one-based" bad11.h5 "line 2" "index 0"

printf '1 1:1\n0 2:1\n1 9:1\n' >bad_nf.svm
convert bad_nf.svm --out bad12.h5 --n-features 4
expect_bad "libsvm: index beyond --n-features" bad12.h5 "line 3" "index 9"

printf '1 1:1\n0 2:abc\n' >bad_val.svm
convert bad_val.svm --out bad13.h5
expect_bad "libsvm: bad value" bad13.h5 "line 2" "'abc'"

: >empty.svm
convert empty.svm --out bad14.h5
expect_bad "libsvm: empty file" bad14.h5 "no data rows"

# A failed convert must leave an existing OUT untouched.
cp ref.h5 keep.h5
convert bad_num.csv --out keep.h5
if [ "$RC" -eq 2 ] && [ "$(checksum keep.h5)" = "$REF" ] && ! compgen -G "keep.h5.tmp.*" >/dev/null; then
    pass "failed convert keeps the existing OUT"
else
    fail "failed convert damaged the existing OUT (exit $RC)"
fi

convert missing.csv --out bad15.h5
expect_bad "missing input file" bad15.h5 "no such file"

echo "== convert: bounded memory on a ~${BIG_MB} MB CSV"
# 21 columns of "%.6f"-ish text, ~196 bytes a row
ROWS=$((BIG_MB * 1000000 / 196))
timeout 300 awk -v n="$ROWS" 'BEGIN {
    srand(7)
    for (i = 0; i < n; i++) {
        line = ""
        for (j = 0; j < 20; j++) line = line sprintf("%.6f,", rand() * 2 - 1)
        print line (rand() < 0.5 ? 0 : 1)
    }
}' >big.csv
BYTES=$(stat -c %s big.csv)
convert big.csv --out big.h5
expect_ok "big csv: $((BYTES / 1000000)) MB, $ROWS rows"
cat "$TMP/out"
RSS=$(sed -n 's/.*peak RSS \([0-9.]*\) MiB.*/\1/p' "$TMP/out")
SECS=$(sed -n 's/.* in \([0-9.]*\) s, peak RSS.*/\1/p' "$TMP/out")
if [ -n "$RSS" ] && awk -v r="$RSS" -v l="$RSS_LIMIT_MIB" 'BEGIN { exit !(r < l) }'; then
    pass "big csv: peak RSS $RSS MiB < $RSS_LIMIT_MIB MiB (${SECS} s)"
else
    fail "big csv: peak RSS '${RSS}' MiB, limit $RSS_LIMIT_MIB MiB"
fi
info_has big.h5 "/X" "[$ROWS, 20]" "float32" && pass "big csv: info shows [$ROWS, 20]" ||
    fail "big csv: shape"
rm -f big.csv big.h5

echo "convert: $N_PASS passed, $N_FAIL failed"
[ "$N_FAIL" -eq 0 ]
