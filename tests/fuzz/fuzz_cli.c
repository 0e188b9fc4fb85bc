/* fuzz_cli.c — fuzz harness for the command-line parser (src/config.c).
 *
 * The input is split on NUL and newline into at most 32 arguments (empty
 * ones included, as a shell passes ""), "ddptrain" is put in front, and
 * ddp_config_parse runs on it. Each argument is its own heap block of
 * exactly its length + 1 bytes and argv is a block of argc + 1 pointers, so
 * ASan sees any read past an argument or past argv[argc].
 *
 * Re-entrancy: the parser runs with getopt_long, whose state is global;
 * config.c resets it (optind = 0). So every input is parsed three times:
 * twice on the same argv, which must give the same status, message and
 * bitwise the same ddp_config (set_defaults memsets it, so padding is
 * zero), and once more on a fresh copy after the first copy was freed, so a
 * getopt pointer left into the old argv would be a use-after-free.
 *
 * Checked beyond "no crash": the status is DDP_OK or DDP_EXIT_USAGE; a
 * failure leaves a one-line message; on success every string option points
 * at a live NUL-terminated string. Not here: usage texts, the commands. */
#include "ddptrain/common.h"
#include "ddptrain/config.h"

#include "fuzz_replay.h"

#define FUZZ_MAX_ARGS 32

typedef struct fuzz_argv {
    int argc;
    char **argv; /* [argc + 1], argv[argc] == NULL */
} fuzz_argv;

static void argv_free(fuzz_argv *a)
{
    if (!a->argv) return;
    for (int i = 0; i < a->argc; i++)
        free(a->argv[i]);
    free(a->argv);
    a->argv = NULL;
}

/* "ddptrain" + the input cut at NUL / '\n'; a trailing separator does not
 * start another (empty) argument. Returns 0, or -1 when out of memory. */
static int argv_make(const uint8_t *data, size_t size, fuzz_argv *a)
{
    a->argc = 0;
    a->argv = calloc(FUZZ_MAX_ARGS + 2, sizeof *a->argv);
    if (!a->argv) return -1;
    a->argv[a->argc++] = fuzz_strdup((const uint8_t *)"ddptrain", 8);
    size_t start = 0;
    for (size_t i = 0; i <= size && a->argc < FUZZ_MAX_ARGS + 1; i++) {
        if (i < size && data[i] != '\0' && data[i] != '\n') continue;
        if (i == size && start == size) break;
        a->argv[a->argc++] = fuzz_strdup(data + start, i - start);
        start = i + 1;
    }
    for (int i = 0; i < a->argc; i++)
        if (!a->argv[i]) return -1;
    /* Shrink argv to exactly argc + 1 pointers so a read past NULL is seen. */
    char **exact = malloc((size_t)(a->argc + 1) * sizeof *exact);
    if (!exact) return -1;
    memcpy(exact, a->argv, (size_t)(a->argc + 1) * sizeof *exact);
    free(a->argv);
    a->argv = exact;
    return 0;
}

/* Touch a string option: it must be NULL or a live C string. */
static size_t touch(const char *s)
{
    return s ? strlen(s) : 0;
}

static void check_result(int rc, const ddp_config *cfg, const char *err)
{
    FUZZ_CHECK(rc == DDP_OK || rc == DDP_EXIT_USAGE, "ddp_config_parse returned %d", rc);
    if (rc != DDP_OK) {
        FUZZ_CHECK_MSG(err, "ddp_config_parse");
        return;
    }
    FUZZ_CHECK(cfg->command >= DDP_CMD_NONE && cfg->command < DDP_CMD_COUNT, "command %d",
               (int)cfg->command);
    FUZZ_CHECK(cfg->help || cfg->version || cfg->command != DDP_CMD_NONE,
               "ok without a command, --help or --version");
    size_t n = 0;
    n += touch(cfg->data_path) + touch(cfg->features_name) + touch(cfg->labels_name);
    n += touch(cfg->out_path) + touch(cfg->in_path) + touch(cfg->label_col);
    n += touch(cfg->val_path) + touch(cfg->val_features) + touch(cfg->val_labels);
    n += touch(cfg->freeze) + touch(cfg->init_path) + touch(cfg->metrics_path);
    n += touch(cfg->save_path) + touch(cfg->ckpt_path) + touch(cfg->checkpoint);
    n += touch(ddp_command_name(cfg->command)) + touch(ddp_task_name(cfg->task));
    (void)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_argv a = {0, NULL}, b = {0, NULL};
    char *err1 = malloc(DDP_ERR_LEN), *err2 = malloc(DDP_ERR_LEN);
    ddp_config *cfg1 = malloc(sizeof *cfg1), *cfg2 = malloc(sizeof *cfg2);
    if (!err1 || !err2 || !cfg1 || !cfg2) goto done;
    if (argv_make(data, size, &a) != 0) goto done;

    err1[0] = err2[0] = '\0';
    int rc1 = ddp_config_parse(a.argc, a.argv, cfg1, err1);
    check_result(rc1, cfg1, err1);
    int rc2 = ddp_config_parse(a.argc, a.argv, cfg2, err2);
    check_result(rc2, cfg2, err2);
    FUZZ_CHECK(rc1 == rc2, "second parse of the same argv returned %d, first %d", rc2, rc1);
    if (rc1 == DDP_OK)
        FUZZ_CHECK(memcmp(cfg1, cfg2, sizeof *cfg1) == 0,
                   "second parse of the same argv gave a different config");
    else
        FUZZ_CHECK(strcmp(err1, err2) == 0, "second parse: '%s', first: '%s'", err2, err1);

    /* A fresh argv after the old one is gone. */
    argv_free(&a);
    if (argv_make(data, size, &b) != 0) goto done;
    err2[0] = '\0';
    rc2 = ddp_config_parse(b.argc, b.argv, cfg2, err2);
    check_result(rc2, cfg2, err2);
    FUZZ_CHECK(rc1 == rc2, "parse of a fresh copy returned %d, first %d", rc2, rc1);
    if (rc1 != DDP_OK)
        FUZZ_CHECK(strcmp(err1, err2) == 0, "fresh copy: '%s', first: '%s'", err2, err1);
    else
        FUZZ_CHECK(cfg1->command == cfg2->command && cfg1->help == cfg2->help,
                   "fresh copy parsed to another command");
done:
    argv_free(&b);
    argv_free(&a);
    free(cfg2);
    free(cfg1);
    free(err2);
    free(err1);
    return 0;
}
