/* Unit tests for the command-line parser: every command's happy path, help
 * and version, and each way a command line can be wrong (unknown command or
 * flag, missing value, non-number, out of range, option of another command,
 * stray argument). Every error must be DDP_EXIT_USAGE with a one-line message
 * that names the offending option. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ddptrain/common.h"
#include "ddptrain/config.h"

#include <string.h>

static char g_err[DDP_ERR_LEN];

/* parse a NULL-terminated argument list (argv[0] = "ddptrain" added) */
static int parse(ddp_config *cfg, const char *first, ...)
{
    char *argv[64];
    int argc = 0;
    argv[argc++] = "ddptrain";
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a; a = va_arg(ap, const char *)) argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;
    g_err[0] = '\0';
    return ddp_config_parse(argc, argv, cfg, g_err);
}

static void assert_usage_error(int rc, const char *needle)
{
    assert_int_equal(rc, DDP_EXIT_USAGE);
    if (!strstr(g_err, needle)) fail_msg("message '%s' lacks '%s'", g_err, needle);
    assert_null(strchr(g_err, '\n')); /* one line */
}

static void test_gen_ok(void **state)
{
    (void)state;
    ddp_config c;
    assert_int_equal(parse(&c, "gen", "logistic", "--rows", "1000000", "--features", "256", "--seed", "42",
                           "--noise", "0.25", "--chunk-rows", "4096", "--gzip", "4", "-o", "x.h5", NULL), DDP_OK);
    assert_int_equal(c.command, DDP_CMD_GEN);
    assert_int_equal(c.task, DDP_TASK_LOGISTIC);
    assert_int_equal(c.n_rows, 1000000);
    assert_int_equal(c.n_features, 256);
    assert_int_equal(c.seed, 42);
    assert_true(c.noise == 0.25);
    assert_int_equal(c.chunk_rows, 4096);
    assert_int_equal(c.gzip_level, 4);
    assert_string_equal(c.out_path, "x.h5");
    /* options before the positional argument, and 1e6 notation */
    assert_int_equal(parse(&c, "gen", "--rows", "1e6", "--out", "y.h5", "softmax", "--classes", "7", NULL), DDP_OK);
    assert_int_equal(c.n_rows, 1000000);
    assert_int_equal(c.task, DDP_TASK_SOFTMAX);
    assert_int_equal(c.n_classes, 7);
    /* defaults: softmax gets 10 classes, gzip implies chunking */
    assert_int_equal(parse(&c, "gen", "softmax", "--gzip", "1", "--out", "z.h5", NULL), DDP_OK);
    assert_int_equal(c.n_classes, 10);
    assert_true(c.chunk_rows > 0);
}

static void test_load_info_convert_ok(void **state)
{
    (void)state;
    ddp_config c;
    assert_int_equal(parse(&c, "load", "--data", "d.h5", "--features", "/train/X", "--labels", "/train/y",
                           "--model", "softmax", "--virtual-shards", "128", "--checksum", NULL), DDP_OK);
    assert_string_equal(c.data_path, "d.h5");
    assert_string_equal(c.features_name, "/train/X");
    assert_string_equal(c.labels_name, "/train/y");
    assert_int_equal(c.n_vshards, 128);
    assert_true(c.checksum);
    assert_int_equal(parse(&c, "info", "f.h5", NULL), DDP_OK);
    assert_string_equal(c.data_path, "f.h5");
    assert_string_equal(c.features_name, "/X");
    assert_int_equal(parse(&c, "convert", "in.csv", "--out", "o.h5", "--label-col", "target", "--no-header",
                           "--delimiter", "tab", NULL), DDP_OK);
    assert_string_equal(c.in_path, "in.csv");
    assert_string_equal(c.label_col, "target");
    assert_int_equal(c.header, 0);
    assert_int_equal(c.delimiter, '\t');
    assert_int_equal(parse(&c, "convert", "in.svm", "-o", "o.h5", "--format", "libsvm", "--zero-based",
                           "--n-features", "100", NULL), DDP_OK);
    assert_int_equal(c.format, DDP_TEXT_LIBSVM);
    assert_int_equal(c.zero_based, 1);
    assert_int_equal(c.n_features, 100);
}

static void test_help_version(void **state)
{
    (void)state;
    ddp_config c;
    assert_int_equal(parse(&c, "--help", NULL), DDP_OK);
    assert_true(c.help);
    assert_int_equal(parse(&c, "--version", NULL), DDP_OK);
    assert_true(c.version);
    const char *cmds[] = {"gen", "info", "load", "convert"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(parse(&c, cmds[i], "--help", NULL), DDP_OK);
        assert_true(c.help);
        assert_string_equal(ddp_command_name(c.command), cmds[i]);
    }
    /* --help wins over missing required options */
    assert_int_equal(parse(&c, "gen", "-h", NULL), DDP_OK);
}

static void test_errors(void **state)
{
    (void)state;
    ddp_config c;
    assert_usage_error(parse(&c, NULL), "missing command");
    assert_usage_error(parse(&c, "trian", NULL), "unknown command 'trian'");
    assert_usage_error(parse(&c, "--bogus", NULL), "unknown option '--bogus'");
    assert_usage_error(parse(&c, "load", "--data", "d.h5", "--bogus", NULL), "unknown option '--bogus'");
    assert_usage_error(parse(&c, "load", "--data", "d.h5", "-z", NULL), "unknown option '-z'");
    assert_usage_error(parse(&c, "load", "--data", NULL), "'--data' needs a value");
    assert_usage_error(parse(&c, "load", NULL), "missing --data");
    assert_usage_error(parse(&c, "load", "--data", "d.h5", "--rows", "5", NULL), "'--rows' does not apply");
    assert_usage_error(parse(&c, "load", "--data", "d.h5", "extra", NULL), "unexpected argument 'extra'");
    assert_usage_error(parse(&c, "load", "--data", "d.h5", "--model", "svm", NULL), "unknown model 'svm'");
    assert_usage_error(parse(&c, "load", "--data", "d.h5", "--virtual-shards", "0", NULL), "--virtual-shards");
    assert_usage_error(parse(&c, "gen", "--out", "x", NULL), "missing model kind");
    assert_usage_error(parse(&c, "gen", "probit", "--out", "x", NULL), "unknown model kind 'probit'");
    assert_usage_error(parse(&c, "gen", "linear", NULL), "missing --out");
    assert_usage_error(parse(&c, "gen", "linear", "--out", "x", "--rows", "12abc", NULL), "'12abc' is not an integer");
    assert_usage_error(parse(&c, "gen", "linear", "--out", "x", "--rows", "0", NULL), "out of range");
    assert_usage_error(parse(&c, "gen", "linear", "--out", "x", "--rows", "-5", NULL), "out of range");
    assert_usage_error(parse(&c, "gen", "linear", "--out", "x", "--rows", "99999999999999999999999", NULL),
                       "out of range");
    assert_usage_error(parse(&c, "gen", "linear", "--out", "x", "--rows", "1.5", NULL), "not an integer");
    assert_usage_error(parse(&c, "gen", "linear", "--out", "x", "--gzip", "10", NULL), "--gzip");
    assert_usage_error(parse(&c, "gen", "linear", "--out", "x", "--seed", "-1", NULL), "non-negative");
    assert_usage_error(parse(&c, "gen", "linear", "--out", "x", "--noise", "nan", NULL), "--noise");
    assert_usage_error(parse(&c, "gen", "linear", "--out", "x", "--noise", "1e400", NULL), "out of range");
    assert_usage_error(parse(&c, "gen", "linear", "--out", "x", "--noise", "", NULL), "not a number");
    assert_usage_error(parse(&c, "gen", "linear", "--out", "x", "--classes", "3", NULL), "softmax only");
    assert_usage_error(parse(&c, "gen", "linear", "--out", "x", "--dtype", "int8", NULL), "float32 or float64");
    assert_usage_error(parse(&c, "convert", "--out", "o.h5", NULL), "missing input file");
    assert_usage_error(parse(&c, "convert", "a.csv", NULL), "missing --out");
    assert_usage_error(parse(&c, "convert", "a.csv", "-o", "o", "--delimiter", "ab", NULL), "one character");
    assert_usage_error(parse(&c, "convert", "a.csv", "-o", "o", "--format", "json", NULL), "unknown format");
    assert_usage_error(parse(&c, "info", NULL), "missing FILE");
    /* found by fuzzing: an abbreviated long option given a value it does not take */
    assert_usage_error(parse(&c, "gen", "--am=", NULL), "option '--amsgrad' takes no value");
    assert_usage_error(parse(&c, "train", "--data", "d.h5", "--nesterov=1", NULL), "'--nesterov' takes no value");
    /* a newline in an argument never makes the message two lines */
    assert_usage_error(parse(&c, "load", "--data", "a\nb.h5", "extra\narg", NULL), "unexpected argument 'extra?arg'");
}

static void test_number_parsers(void **state)
{
    (void)state;
    int64_t v = 0;
    uint64_t u = 0;
    double d = 0;
    assert_int_equal(ddp_parse_i64("123", 0, 1000, "--n", &v, g_err), DDP_OK);
    assert_int_equal(v, 123);
    assert_int_equal(ddp_parse_i64("2.5e3", 0, 10000, "--n", &v, g_err), DDP_OK);
    assert_int_equal(v, 2500);
    assert_int_equal(ddp_parse_i64(" ", 0, 10, "--n", &v, g_err), DDP_EXIT_USAGE);
    assert_int_equal(ddp_parse_i64("1001", 0, 1000, "--n", &v, g_err), DDP_EXIT_USAGE);
    assert_non_null(strstr(g_err, "[0, 1000]"));
    assert_int_equal(ddp_parse_u64("18446744073709551615", "--seed", &u, g_err), DDP_OK);
    assert_true(u == UINT64_MAX);
    assert_int_equal(ddp_parse_u64("18446744073709551616", "--seed", &u, g_err), DDP_EXIT_USAGE);
    assert_int_equal(ddp_parse_f64("1e-3", 0, 1, "--lr", &d, g_err), DDP_OK);
    assert_true(d == 1e-3);
    assert_int_equal(ddp_parse_f64("inf", 0, 1e9, "--lr", &d, g_err), DDP_EXIT_USAGE);
    assert_int_equal(ddp_parse_f64("0.1x", 0, 1, "--lr", &d, g_err), DDP_EXIT_USAGE);
}

static void test_parse_twice(void **state)
{
    (void)state;
    ddp_config c;
    assert_usage_error(parse(&c, "load", "--bogus", NULL), "unknown option");
    /* getopt state is reset: a second parse is independent of the first */
    assert_int_equal(parse(&c, "load", "--data", "a.h5", NULL), DDP_OK);
    assert_int_equal(parse(&c, "load", "--data", "b.h5", NULL), DDP_OK);
    assert_string_equal(c.data_path, "b.h5");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gen_ok),          cmocka_unit_test(test_load_info_convert_ok),
        cmocka_unit_test(test_help_version),    cmocka_unit_test(test_errors),
        cmocka_unit_test(test_number_parsers),  cmocka_unit_test(test_parse_twice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
