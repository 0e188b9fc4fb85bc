/* Unit tests for the text line parsers behind `ddptrain convert`: CSV
 * splitting (quotes, CRLF, whitespace, tabs), header detection, CSV rows and
 * LIBSVM lines, good and malformed. Every failure must be DDP_EXIT_USAGE with
 * a one-line message naming what is wrong and where (field / pair) and
 * quoting the token. No files, no HDF5: the parsers are pure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ddptrain/common.h"
#include "ddptrain/textparse.h"

#include <float.h>
#include <stdio.h>
#include <string.h>

static char g_err[DDP_ERR_LEN];

/* The message holds every needle (NULL-terminated list) and is one line. */
static void assert_msg_has(const char *first, ...)
{
    va_list ap;
    va_start(ap, first);
    for (const char *n = first; n; n = va_arg(ap, const char *))
        if (!strstr(g_err, n)) fail_msg("message '%s' lacks '%s'", g_err, n);
    va_end(ap);
    assert_null(strchr(g_err, '\n'));
}

/* ------------------------------------------------------------- numbers */

static void test_number_good(void **state)
{
    (void)state;
    float v = 0.0f;
    assert_int_equal(ddp_text_parse_number("1.5", &v, g_err), DDP_OK);
    assert_true(v == 1.5f);
    assert_int_equal(ddp_text_parse_number("-2e3", &v, g_err), DDP_OK);
    assert_true(v == -2000.0f);
    assert_int_equal(ddp_text_parse_number("+7", &v, g_err), DDP_OK);
    assert_true(v == 7.0f);
    assert_int_equal(ddp_text_parse_number("1e-50", &v, g_err), DDP_OK); /* underflow is fine */
    assert_true(v == 0.0f);
    assert_int_equal(ddp_text_parse_number("3.4e38", &v, g_err), DDP_OK);
}

static void test_number_bad(void **state)
{
    (void)state;
    float v = 0.0f;
    assert_int_equal(ddp_text_parse_number("", &v, g_err), DDP_EXIT_USAGE);
    assert_msg_has("empty", NULL);
    assert_int_equal(ddp_text_parse_number("abc", &v, g_err), DDP_EXIT_USAGE);
    assert_msg_has("'abc'", "not a number", NULL);
    assert_int_equal(ddp_text_parse_number("1.5x", &v, g_err), DDP_EXIT_USAGE);
    assert_msg_has("'1.5x'", "not a number", NULL);
    assert_int_equal(ddp_text_parse_number("nan", &v, g_err), DDP_EXIT_USAGE);
    assert_msg_has("'nan'", "finite", NULL);
    assert_int_equal(ddp_text_parse_number("-inf", &v, g_err), DDP_EXIT_USAGE);
    assert_msg_has("'-inf'", "finite", NULL);
    assert_int_equal(ddp_text_parse_number("1e39", &v, g_err), DDP_EXIT_USAGE);
    assert_msg_has("'1e39'", "overflows float32", NULL);
    assert_int_equal(ddp_text_parse_number("1e999", &v, g_err), DDP_EXIT_USAGE);
    assert_msg_has("overflows float32", NULL);
    assert_int_equal(ddp_text_parse_number(" 1", &v, g_err), DDP_EXIT_USAGE);
}

static void test_long_token_is_truncated(void **state)
{
    (void)state;
    char tok[300];
    memset(tok, 'z', sizeof tok - 1);
    tok[sizeof tok - 1] = '\0';
    float v = 0.0f;
    assert_int_equal(ddp_text_parse_number(tok, &v, g_err), DDP_EXIT_USAGE);
    assert_msg_has("...", "not a number", NULL);
    assert_true(strlen(g_err) < 200);
}

static void test_blank(void **state)
{
    (void)state;
    assert_true(ddp_text_is_blank(""));
    assert_true(ddp_text_is_blank(" \t\r\n"));
    assert_false(ddp_text_is_blank(" 1\n"));
}

/* ----------------------------------------------------------- CSV split */

static void test_csv_split_plain(void **state)
{
    (void)state;
    char line[] = "1,2.5,-3\n";
    char *f[8];
    size_t n = 0;
    assert_int_equal(ddp_csv_split(line, ',', f, 8, &n, g_err), DDP_OK);
    assert_int_equal(n, 3);
    assert_string_equal(f[0], "1");
    assert_string_equal(f[1], "2.5");
    assert_string_equal(f[2], "-3");
}

static void test_csv_split_crlf_and_spaces(void **state)
{
    (void)state;
    char line[] = "  a , b\t,c  \r\n";
    char *f[8];
    size_t n = 0;
    assert_int_equal(ddp_csv_split(line, ',', f, 8, &n, g_err), DDP_OK);
    assert_int_equal(n, 3);
    assert_string_equal(f[0], "a");
    assert_string_equal(f[1], "b");
    assert_string_equal(f[2], "c");
}

static void test_csv_split_quotes(void **state)
{
    (void)state;
    char line[] = "\"a,b\", \"say \"\"hi\"\"\" ,\"\",3\r\n";
    char *f[8];
    size_t n = 0;
    assert_int_equal(ddp_csv_split(line, ',', f, 8, &n, g_err), DDP_OK);
    assert_int_equal(n, 4);
    assert_string_equal(f[0], "a,b");
    assert_string_equal(f[1], "say \"hi\"");
    assert_string_equal(f[2], "");
    assert_string_equal(f[3], "3");
}

static void test_csv_split_empty_fields(void **state)
{
    (void)state;
    char line[] = ",x,\n";
    char *f[8];
    size_t n = 0;
    assert_int_equal(ddp_csv_split(line, ',', f, 8, &n, g_err), DDP_OK);
    assert_int_equal(n, 3);
    assert_string_equal(f[0], "");
    assert_string_equal(f[1], "x");
    assert_string_equal(f[2], "");
}

static void test_csv_split_tab(void **state)
{
    (void)state;
    char line[] = "1\t 2 \t3,5\n"; /* spaces trimmed; ',' is ordinary text with tab */
    char *f[8];
    size_t n = 0;
    assert_int_equal(ddp_csv_split(line, '\t', f, 8, &n, g_err), DDP_OK);
    assert_int_equal(n, 3);
    assert_string_equal(f[0], "1");
    assert_string_equal(f[1], "2");
    assert_string_equal(f[2], "3,5");
}

static void test_csv_split_unterminated_quote(void **state)
{
    (void)state;
    char line[] = "1,\"abc,2\n";
    char *f[8];
    size_t n = 0;
    assert_int_equal(ddp_csv_split(line, ',', f, 8, &n, g_err), DDP_EXIT_USAGE);
    assert_msg_has("field 2", "unterminated quote", "abc", NULL);
}

static void test_csv_split_text_after_quote(void **state)
{
    (void)state;
    char line[] = "1,\"ab\"cd,2\n";
    char *f[8];
    size_t n = 0;
    assert_int_equal(ddp_csv_split(line, ',', f, 8, &n, g_err), DDP_EXIT_USAGE);
    assert_msg_has("field 2", "after the closing quote", "'cd'", NULL);
}

static void test_csv_split_too_many(void **state)
{
    (void)state;
    char line[] = "1,2,3,4\n";
    char *f[2];
    size_t n = 0;
    assert_int_equal(ddp_csv_split(line, ',', f, 2, &n, g_err), DDP_EXIT_USAGE);
    assert_int_equal(n, 4); /* the true count, for "expected E, found N" */
    assert_msg_has("too many fields", "found 4", NULL);
}

/* ------------------------------------------------------------- header */

static void test_csv_header_detection(void **state)
{
    (void)state;
    char *f[8];
    size_t n = 0;
    char h1[] = "age,income,label\n";
    assert_int_equal(ddp_csv_split(h1, ',', f, 8, &n, g_err), DDP_OK);
    assert_true(ddp_csv_is_header(f, n));

    char h2[] = ",x1,x2\n"; /* pandas index column: empty first name */
    assert_int_equal(ddp_csv_split(h2, ',', f, 8, &n, g_err), DDP_OK);
    assert_true(ddp_csv_is_header(f, n));

    char d1[] = "1,2.5e3,-4\r\n";
    assert_int_equal(ddp_csv_split(d1, ',', f, 8, &n, g_err), DDP_OK);
    assert_false(ddp_csv_is_header(f, n));

    char d2[] = "1,nan,\n"; /* bad data, but not a header: must fail later, not vanish */
    assert_int_equal(ddp_csv_split(d2, ',', f, 8, &n, g_err), DDP_OK);
    assert_false(ddp_csv_is_header(f, n));

    char h3[] = "\"1\",\"x\"\n";
    assert_int_equal(ddp_csv_split(h3, ',', f, 8, &n, g_err), DDP_OK);
    assert_true(ddp_csv_is_header(f, n));
}

/* ------------------------------------------------------------ CSV rows */

static void test_csv_row_good(void **state)
{
    (void)state;
    char line[] = " 1.5, \"2\" ,3,0\r\n";
    char *f[4];
    float x[3] = {0}, y = -1.0f;
    assert_int_equal(ddp_csv_parse_row(line, ',', 4, 3, f, x, &y, g_err), DDP_OK);
    assert_true(x[0] == 1.5f && x[1] == 2.0f && x[2] == 3.0f);
    assert_true(y == 0.0f);

    char line2[] = "7,1,2\n"; /* label first */
    float x2[2] = {0};
    assert_int_equal(ddp_csv_parse_row(line2, ',', 3, 0, f, x2, &y, g_err), DDP_OK);
    assert_true(y == 7.0f && x2[0] == 1.0f && x2[1] == 2.0f);
}

static void test_csv_row_wrong_count(void **state)
{
    (void)state;
    char *f[4];
    float x[3], y;
    char fewer[] = "1,2,3\n";
    assert_int_equal(ddp_csv_parse_row(fewer, ',', 4, 3, f, x, &y, g_err), DDP_EXIT_USAGE);
    assert_msg_has("expected 4 fields", "found 3", NULL);
    char more[] = "1,2,3,4,5,6\n";
    assert_int_equal(ddp_csv_parse_row(more, ',', 4, 3, f, x, &y, g_err), DDP_EXIT_USAGE);
    assert_msg_has("expected 4 fields", "found 6", NULL);
    char wrong_delim[] = "1;2;3;4\n";
    assert_int_equal(ddp_csv_parse_row(wrong_delim, ',', 4, 3, f, x, &y, g_err), DDP_EXIT_USAGE);
    assert_msg_has("expected 4 fields", "found 1", "--delimiter", NULL);
}

static void test_csv_row_non_numeric(void **state)
{
    (void)state;
    char line[] = "1,abc,3\n";
    char *f[3];
    float x[2], y;
    assert_int_equal(ddp_csv_parse_row(line, ',', 3, 2, f, x, &y, g_err), DDP_EXIT_USAGE);
    assert_msg_has("field 2 of 3", "'abc'", "not a number", NULL);
    char label[] = "1,2,yes\n";
    assert_int_equal(ddp_csv_parse_row(label, ',', 3, 2, f, x, &y, g_err), DDP_EXIT_USAGE);
    assert_msg_has("field 3 of 3", "label", "'yes'", NULL);
}

static void test_csv_row_empty_and_nan(void **state)
{
    (void)state;
    char *f[3];
    float x[2], y;
    char empty[] = "1,,3\n";
    assert_int_equal(ddp_csv_parse_row(empty, ',', 3, 2, f, x, &y, g_err), DDP_EXIT_USAGE);
    assert_msg_has("field 2 of 3", "empty", NULL);
    char nan[] = "1,NaN,3\n";
    assert_int_equal(ddp_csv_parse_row(nan, ',', 3, 2, f, x, &y, g_err), DDP_EXIT_USAGE);
    assert_msg_has("field 2 of 3", "'NaN'", "finite", NULL);
    char inf[] = "1,2,inf\n";
    assert_int_equal(ddp_csv_parse_row(inf, ',', 3, 2, f, x, &y, g_err), DDP_EXIT_USAGE);
    assert_msg_has("field 3 of 3", "'inf'", "finite", NULL);
    char big[] = "1,-5e38,3\n";
    assert_int_equal(ddp_csv_parse_row(big, ',', 3, 2, f, x, &y, g_err), DDP_EXIT_USAGE);
    assert_msg_has("field 2 of 3", "overflows float32", NULL);
}

static void test_csv_row_unterminated_quote(void **state)
{
    (void)state;
    char line[] = "1,\"2,3\n";
    char *f[3];
    float x[2], y;
    assert_int_equal(ddp_csv_parse_row(line, ',', 3, 2, f, x, &y, g_err), DDP_EXIT_USAGE);
    assert_msg_has("field 2", "unterminated quote", NULL);
}

/* ------------------------------------------------------------- LIBSVM */

static void test_libsvm_good(void **state)
{
    (void)state;
    int64_t idx[8];
    float val[8], y = 0.0f;
    size_t n = 0;
    assert_int_equal(
        ddp_libsvm_parse_line("+1 1:0.5 3:-2 10:1e2\n", 1, INT32_MAX, &y, idx, val, 8, &n, g_err),
        DDP_OK);
    assert_true(y == 1.0f);
    assert_int_equal(n, 3);
    assert_int_equal(idx[0], 1);
    assert_int_equal(idx[1], 3);
    assert_int_equal(idx[2], 10);
    assert_true(val[0] == 0.5f && val[1] == -2.0f && val[2] == 100.0f);
}

static void test_libsvm_qid_comment_crlf_tabs(void **state)
{
    (void)state;
    int64_t idx[8];
    float val[8], y = 0.0f;
    size_t n = 0;
    assert_int_equal(ddp_libsvm_parse_line("-1\tqid:7  2:1\t4:2 # doc 12: x:y\r\n", 1, INT32_MAX,
                                           &y, idx, val, 8, &n, g_err),
                     DDP_OK);
    assert_true(y == -1.0f);
    assert_int_equal(n, 2);
    assert_int_equal(idx[0], 2);
    assert_int_equal(idx[1], 4);
    assert_true(val[1] == 2.0f);

    /* only a label: an all-zero row */
    assert_int_equal(ddp_libsvm_parse_line("3\n", 1, INT32_MAX, &y, idx, val, 8, &n, g_err),
                     DDP_OK);
    assert_int_equal(n, 0);
    assert_true(y == 3.0f);

    /* comment glued to a value */
    assert_int_equal(ddp_libsvm_parse_line("0 1:2#c\n", 1, INT32_MAX, &y, idx, val, 8, &n, g_err),
                     DDP_OK);
    assert_int_equal(n, 1);
    assert_true(val[0] == 2.0f);
}

static void test_libsvm_zero_based(void **state)
{
    (void)state;
    int64_t idx[8];
    float val[8], y;
    size_t n = 0;
    assert_int_equal(ddp_libsvm_parse_line("0 0:1 2:3\n", 0, INT32_MAX, &y, idx, val, 8, &n, g_err),
                     DDP_OK);
    assert_int_equal(n, 2);
    assert_int_equal(idx[0], 0);
    /* the same line in one-based mode */
    assert_int_equal(ddp_libsvm_parse_line("0 0:1 2:3\n", 1, INT32_MAX, &y, idx, val, 8, &n, g_err),
                     DDP_EXIT_USAGE);
    assert_msg_has("pair 1", "'0:1'", "index 0", "one-based", "--zero-based", NULL);
}

static void test_libsvm_missing_colon(void **state)
{
    (void)state;
    int64_t idx[8];
    float val[8], y;
    size_t n = 0;
    assert_int_equal(
        ddp_libsvm_parse_line("1 1:2 3 4:5\n", 1, INT32_MAX, &y, idx, val, 8, &n, g_err),
        DDP_EXIT_USAGE);
    assert_msg_has("pair 2", "missing ':'", "'3'", NULL);
}

static void test_libsvm_non_increasing(void **state)
{
    (void)state;
    int64_t idx[8];
    float val[8], y;
    size_t n = 0;
    assert_int_equal(ddp_libsvm_parse_line("1 5:1 3:2\n", 1, INT32_MAX, &y, idx, val, 8, &n, g_err),
                     DDP_EXIT_USAGE);
    assert_msg_has("pair 2", "'3:2'", "strictly increasing", "previous index 5", NULL);
    assert_int_equal(ddp_libsvm_parse_line("1 2:1 2:2\n", 1, INT32_MAX, &y, idx, val, 8, &n, g_err),
                     DDP_EXIT_USAGE);
    assert_msg_has("pair 2", "strictly increasing", NULL);
}

static void test_libsvm_bad_index(void **state)
{
    (void)state;
    int64_t idx[8];
    float val[8], y;
    size_t n = 0;
    assert_int_equal(ddp_libsvm_parse_line("1 -2:1\n", 1, INT32_MAX, &y, idx, val, 8, &n, g_err),
                     DDP_EXIT_USAGE);
    assert_msg_has("pair 1", "negative index", NULL);
    assert_int_equal(ddp_libsvm_parse_line("1 a:1\n", 1, INT32_MAX, &y, idx, val, 8, &n, g_err),
                     DDP_EXIT_USAGE);
    assert_msg_has("pair 1", "'a'", "not a non-negative integer", NULL);
    assert_int_equal(ddp_libsvm_parse_line("1 :1\n", 1, INT32_MAX, &y, idx, val, 8, &n, g_err),
                     DDP_EXIT_USAGE);
    assert_msg_has("pair 1", "missing index", NULL);
    assert_int_equal(ddp_libsvm_parse_line("1 3:1 21:1\n", 1, 20, &y, idx, val, 8, &n, g_err),
                     DDP_EXIT_USAGE);
    assert_msg_has("pair 2", "index 21", "above", "--n-features", NULL);
    assert_int_equal(ddp_libsvm_parse_line("1 99999999999999999999:1\n", 1, INT32_MAX, &y, idx, val,
                                           8, &n, g_err),
                     DDP_EXIT_USAGE);
    assert_msg_has("pair 1", "too large", NULL);
}

static void test_libsvm_bad_value(void **state)
{
    (void)state;
    int64_t idx[8];
    float val[8], y;
    size_t n = 0;
    assert_int_equal(ddp_libsvm_parse_line("1 1:abc\n", 1, INT32_MAX, &y, idx, val, 8, &n, g_err),
                     DDP_EXIT_USAGE);
    assert_msg_has("pair 1", "'1:abc'", "value", "not a number", NULL);
    assert_int_equal(ddp_libsvm_parse_line("1 1:\n", 1, INT32_MAX, &y, idx, val, 8, &n, g_err),
                     DDP_EXIT_USAGE);
    assert_msg_has("pair 1", "empty", NULL);
    assert_int_equal(ddp_libsvm_parse_line("1 1:nan\n", 1, INT32_MAX, &y, idx, val, 8, &n, g_err),
                     DDP_EXIT_USAGE);
    assert_msg_has("pair 1", "finite", NULL);
    assert_int_equal(
        ddp_libsvm_parse_line("1 1:1 2:4e38\n", 1, INT32_MAX, &y, idx, val, 8, &n, g_err),
        DDP_EXIT_USAGE);
    assert_msg_has("pair 2", "overflows float32", NULL);
}

static void test_libsvm_garbage_after_value(void **state)
{
    (void)state;
    int64_t idx[8];
    float val[8], y;
    size_t n = 0;
    assert_int_equal(
        ddp_libsvm_parse_line("1 1:2.5abc\n", 1, INT32_MAX, &y, idx, val, 8, &n, g_err),
        DDP_EXIT_USAGE);
    assert_msg_has("pair 1", "'2.5abc'", "not a number", NULL);
    assert_int_equal(ddp_libsvm_parse_line("1 1:2:3\n", 1, INT32_MAX, &y, idx, val, 8, &n, g_err),
                     DDP_EXIT_USAGE);
    assert_msg_has("pair 1", "'2:3'", "not a number", NULL);
}

static void test_libsvm_bad_label(void **state)
{
    (void)state;
    int64_t idx[8];
    float val[8], y;
    size_t n = 0;
    assert_int_equal(ddp_libsvm_parse_line("1:2 3:4\n", 1, INT32_MAX, &y, idx, val, 8, &n, g_err),
                     DDP_EXIT_USAGE);
    assert_msg_has("label", "'1:2'", "start with the label", NULL);
    assert_int_equal(ddp_libsvm_parse_line("cat 1:1\n", 1, INT32_MAX, &y, idx, val, 8, &n, g_err),
                     DDP_EXIT_USAGE);
    assert_msg_has("label", "'cat'", "not a number", NULL);
    assert_int_equal(
        ddp_libsvm_parse_line("  # only a comment\n", 1, INT32_MAX, &y, idx, val, 8, &n, g_err),
        DDP_EXIT_USAGE);
    assert_msg_has("missing label", NULL);
}

static void test_libsvm_too_many_pairs(void **state)
{
    (void)state;
    int64_t idx[2];
    float val[2], y;
    size_t n = 0;
    assert_int_equal(
        ddp_libsvm_parse_line("1 1:1 2:2 3:3\n", 1, INT32_MAX, &y, idx, val, 2, &n, g_err),
        DDP_EXIT_USAGE);
    assert_msg_has("more than 2", "pairs", "capacity", NULL);
}

static void test_libsvm_max_pairs_bound(void **state)
{
    (void)state;
    /* the densest possible line must fit the bound */
    char line[4096];
    size_t used = (size_t)snprintf(line, sizeof line, "1");
    for (int i = 1; i <= 9; i++)
        used += (size_t)snprintf(line + used, sizeof line - used, " %d:1", i);
    int64_t idx[64];
    float val[64], y;
    size_t n = 0;
    size_t cap = ddp_libsvm_max_pairs(strlen(line));
    assert_true(cap >= 9 && cap <= 64);
    assert_int_equal(ddp_libsvm_parse_line(line, 1, INT32_MAX, &y, idx, val, cap, &n, g_err),
                     DDP_OK);
    assert_int_equal(n, 9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_number_good),
        cmocka_unit_test(test_number_bad),
        cmocka_unit_test(test_long_token_is_truncated),
        cmocka_unit_test(test_blank),
        cmocka_unit_test(test_csv_split_plain),
        cmocka_unit_test(test_csv_split_crlf_and_spaces),
        cmocka_unit_test(test_csv_split_quotes),
        cmocka_unit_test(test_csv_split_empty_fields),
        cmocka_unit_test(test_csv_split_tab),
        cmocka_unit_test(test_csv_split_unterminated_quote),
        cmocka_unit_test(test_csv_split_text_after_quote),
        cmocka_unit_test(test_csv_split_too_many),
        cmocka_unit_test(test_csv_header_detection),
        cmocka_unit_test(test_csv_row_good),
        cmocka_unit_test(test_csv_row_wrong_count),
        cmocka_unit_test(test_csv_row_non_numeric),
        cmocka_unit_test(test_csv_row_empty_and_nan),
        cmocka_unit_test(test_csv_row_unterminated_quote),
        cmocka_unit_test(test_libsvm_good),
        cmocka_unit_test(test_libsvm_qid_comment_crlf_tabs),
        cmocka_unit_test(test_libsvm_zero_based),
        cmocka_unit_test(test_libsvm_missing_colon),
        cmocka_unit_test(test_libsvm_non_increasing),
        cmocka_unit_test(test_libsvm_bad_index),
        cmocka_unit_test(test_libsvm_bad_value),
        cmocka_unit_test(test_libsvm_garbage_after_value),
        cmocka_unit_test(test_libsvm_bad_label),
        cmocka_unit_test(test_libsvm_too_many_pairs),
        cmocka_unit_test(test_libsvm_max_pairs_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
