/* config.c — command-line parsing for every ddptrain command.
 *
 * One table lists every option with the commands it belongs to; getopt_long
 * does the scanning, checked strtoll/strtoull/strtod the conversions. Errors
 * are one line naming the option and the fix. This file does no I/O beyond
 * printing usage text and never exits: main decides. */
#include "ddptrain/config.h"
#include "ddptrain/common.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CMD_BIT(c) (1u << (c))
#define ALL_CMDS 0xffffffffu
#define TRAIN CMD_BIT(DDP_CMD_TRAIN)
#define RUNS (CMD_BIT(DDP_CMD_TRAIN) | CMD_BIT(DDP_CMD_EVAL) | CMD_BIT(DDP_CMD_PREDICT))

enum opt_id {
    OPT_HELP = 'h',
    OPT_QUIET = 'q',
    OPT_OUT = 'o',
    OPT_DATA = 1000,
    OPT_FEATURES,
    OPT_LABELS,
    OPT_MODEL,
    OPT_CLASSES,
    OPT_VSHARDS,
    OPT_CHECKSUM,
    OPT_ROWS,
    OPT_SEED,
    OPT_NOISE,
    OPT_CHUNK_ROWS,
    OPT_GZIP,
    OPT_DTYPE,
    OPT_FORMAT,
    OPT_LABEL_COL,
    OPT_HEADER,
    OPT_NO_HEADER,
    OPT_DELIMITER,
    OPT_ZERO_BASED,
    OPT_ONE_BASED,
    OPT_N_FEATURES,
    OPT_X_NAME,
    OPT_Y_NAME,
    OPT_VAL_DATA,
    OPT_VAL_FEATURES,
    OPT_VAL_LABELS,
    OPT_OPTIMIZER,
    OPT_LR,
    OPT_MOMENTUM,
    OPT_DAMPENING,
    OPT_NESTEROV,
    OPT_WEIGHT_DECAY,
    OPT_BETAS,
    OPT_EPS,
    OPT_AMSGRAD,
    OPT_ALPHA,
    OPT_CENTERED,
    OPT_BATCH_SIZE,
    OPT_EPOCHS,
    OPT_MAX_STEPS,
    OPT_LR_SCHEDULE,
    OPT_WARMUP,
    OPT_LR_STEP_SIZE,
    OPT_LR_GAMMA,
    OPT_NO_SHUFFLE,
    OPT_DROP_LAST,
    OPT_THREADS,
    OPT_STANDARDIZE,
    OPT_FREEZE,
    OPT_INIT,
    OPT_TOL,
    OPT_PATIENCE,
    OPT_LOG_EVERY,
    OPT_PRINT_WEIGHTS,
    OPT_METRICS,
    OPT_TRACE,
    OPT_SAVE,
    OPT_NAN_POLICY,
    OPT_MAX_SKIPS,
    OPT_CHECK_EVERY,
    OPT_CHECKPOINT,
    OPT_PROGRESS,
    OPT_CKPT_PATH,
    OPT_CKPT_EVERY,
    OPT_KEEP,
    OPT_RESUME,
    OPT_STEP_TIMEOUT,
    OPT_BUCKET_MB,
    OPT_MEMORY_LIMIT,
};

typedef struct opt_spec {
    struct option opt;
    unsigned cmds; /* bitmask of commands that accept it */
} opt_spec;

static const opt_spec OPTS[] = {
    {{"help", no_argument, NULL, OPT_HELP}, ALL_CMDS},
    {{"quiet", no_argument, NULL, OPT_QUIET}, ALL_CMDS},
    {{"data", required_argument, NULL, OPT_DATA}, CMD_BIT(DDP_CMD_LOAD) | CMD_BIT(DDP_CMD_INFO) | RUNS},
    {{"features", required_argument, NULL, OPT_FEATURES},
     CMD_BIT(DDP_CMD_LOAD) | CMD_BIT(DDP_CMD_INFO) | CMD_BIT(DDP_CMD_GEN) | RUNS},
    {{"labels", required_argument, NULL, OPT_LABELS}, CMD_BIT(DDP_CMD_LOAD) | CMD_BIT(DDP_CMD_INFO) | RUNS},
    {{"model", required_argument, NULL, OPT_MODEL}, CMD_BIT(DDP_CMD_LOAD) | TRAIN},
    {{"classes", required_argument, NULL, OPT_CLASSES}, CMD_BIT(DDP_CMD_LOAD) | CMD_BIT(DDP_CMD_GEN) | TRAIN},
    {{"virtual-shards", required_argument, NULL, OPT_VSHARDS}, CMD_BIT(DDP_CMD_LOAD) | RUNS},
    {{"val-data", required_argument, NULL, OPT_VAL_DATA}, TRAIN},
    {{"val-features", required_argument, NULL, OPT_VAL_FEATURES}, TRAIN},
    {{"val-labels", required_argument, NULL, OPT_VAL_LABELS}, TRAIN},
    {{"optimizer", required_argument, NULL, OPT_OPTIMIZER}, TRAIN},
    {{"lr", required_argument, NULL, OPT_LR}, TRAIN},
    {{"momentum", required_argument, NULL, OPT_MOMENTUM}, TRAIN},
    {{"dampening", required_argument, NULL, OPT_DAMPENING}, TRAIN},
    {{"nesterov", no_argument, NULL, OPT_NESTEROV}, TRAIN},
    {{"weight-decay", required_argument, NULL, OPT_WEIGHT_DECAY}, TRAIN},
    {{"betas", required_argument, NULL, OPT_BETAS}, TRAIN},
    {{"eps", required_argument, NULL, OPT_EPS}, TRAIN},
    {{"amsgrad", no_argument, NULL, OPT_AMSGRAD}, TRAIN},
    {{"alpha", required_argument, NULL, OPT_ALPHA}, TRAIN},
    {{"centered", no_argument, NULL, OPT_CENTERED}, TRAIN},
    {{"batch-size", required_argument, NULL, OPT_BATCH_SIZE}, RUNS},
    {{"epochs", required_argument, NULL, OPT_EPOCHS}, TRAIN},
    {{"max-steps", required_argument, NULL, OPT_MAX_STEPS}, TRAIN},
    {{"lr-schedule", required_argument, NULL, OPT_LR_SCHEDULE}, TRAIN},
    {{"warmup-steps", required_argument, NULL, OPT_WARMUP}, TRAIN},
    {{"lr-step-size", required_argument, NULL, OPT_LR_STEP_SIZE}, TRAIN},
    {{"lr-gamma", required_argument, NULL, OPT_LR_GAMMA}, TRAIN},
    {{"seed", required_argument, NULL, OPT_SEED}, CMD_BIT(DDP_CMD_GEN) | TRAIN},
    {{"no-shuffle", no_argument, NULL, OPT_NO_SHUFFLE}, TRAIN},
    {{"drop-last", no_argument, NULL, OPT_DROP_LAST}, TRAIN},
    {{"threads", required_argument, NULL, OPT_THREADS}, RUNS},
    {{"standardize", no_argument, NULL, OPT_STANDARDIZE}, TRAIN},
    {{"freeze", required_argument, NULL, OPT_FREEZE}, TRAIN},
    {{"init", required_argument, NULL, OPT_INIT}, TRAIN},
    {{"tol", required_argument, NULL, OPT_TOL}, TRAIN},
    {{"patience", required_argument, NULL, OPT_PATIENCE}, TRAIN},
    {{"log-every", required_argument, NULL, OPT_LOG_EVERY}, TRAIN},
    {{"print-weights", no_argument, NULL, OPT_PRINT_WEIGHTS}, TRAIN | CMD_BIT(DDP_CMD_EVAL)},
    {{"metrics", required_argument, NULL, OPT_METRICS}, TRAIN},
    {{"trace", required_argument, NULL, OPT_TRACE}, TRAIN},
    {{"save", required_argument, NULL, OPT_SAVE}, TRAIN},
    {{"nan-policy", required_argument, NULL, OPT_NAN_POLICY}, TRAIN},
    {{"max-skips", required_argument, NULL, OPT_MAX_SKIPS}, TRAIN},
    {{"check-every", required_argument, NULL, OPT_CHECK_EVERY}, TRAIN},
    {{"progress", required_argument, NULL, OPT_PROGRESS}, TRAIN},
    {{"checkpoint-every", required_argument, NULL, OPT_CKPT_EVERY}, TRAIN},
    {{"keep", required_argument, NULL, OPT_KEEP}, TRAIN},
    {{"resume", no_argument, NULL, OPT_RESUME}, TRAIN},
    {{"step-timeout", required_argument, NULL, OPT_STEP_TIMEOUT}, TRAIN},
    {{"bucket-mb", required_argument, NULL, OPT_BUCKET_MB}, TRAIN},
    {{"memory-limit", required_argument, NULL, OPT_MEMORY_LIMIT}, CMD_BIT(DDP_CMD_LOAD) | RUNS},
    {{"checkpoint", required_argument, NULL, OPT_CHECKPOINT}, RUNS},
    {{"checksum", no_argument, NULL, OPT_CHECKSUM}, CMD_BIT(DDP_CMD_LOAD) | CMD_BIT(DDP_CMD_INFO)},
    {{"out", required_argument, NULL, OPT_OUT},
     CMD_BIT(DDP_CMD_GEN) | CMD_BIT(DDP_CMD_CONVERT) | CMD_BIT(DDP_CMD_PREDICT)},
    {{"rows", required_argument, NULL, OPT_ROWS}, CMD_BIT(DDP_CMD_GEN)},
    {{"noise", required_argument, NULL, OPT_NOISE}, CMD_BIT(DDP_CMD_GEN)},
    {{"chunk-rows", required_argument, NULL, OPT_CHUNK_ROWS},
     CMD_BIT(DDP_CMD_GEN) | CMD_BIT(DDP_CMD_CONVERT)},
    {{"gzip", required_argument, NULL, OPT_GZIP}, CMD_BIT(DDP_CMD_GEN) | CMD_BIT(DDP_CMD_CONVERT)},
    {{"dtype", required_argument, NULL, OPT_DTYPE}, CMD_BIT(DDP_CMD_GEN)},
    {{"format", required_argument, NULL, OPT_FORMAT}, CMD_BIT(DDP_CMD_CONVERT)},
    {{"label-col", required_argument, NULL, OPT_LABEL_COL}, CMD_BIT(DDP_CMD_CONVERT)},
    {{"header", no_argument, NULL, OPT_HEADER}, CMD_BIT(DDP_CMD_CONVERT)},
    {{"no-header", no_argument, NULL, OPT_NO_HEADER}, CMD_BIT(DDP_CMD_CONVERT)},
    {{"delimiter", required_argument, NULL, OPT_DELIMITER}, CMD_BIT(DDP_CMD_CONVERT)},
    {{"zero-based", no_argument, NULL, OPT_ZERO_BASED}, CMD_BIT(DDP_CMD_CONVERT)},
    {{"one-based", no_argument, NULL, OPT_ONE_BASED}, CMD_BIT(DDP_CMD_CONVERT)},
    {{"n-features", required_argument, NULL, OPT_N_FEATURES}, CMD_BIT(DDP_CMD_CONVERT)},
    {{"x-name", required_argument, NULL, OPT_X_NAME}, CMD_BIT(DDP_CMD_CONVERT) | CMD_BIT(DDP_CMD_GEN)},
    {{"y-name", required_argument, NULL, OPT_Y_NAME}, CMD_BIT(DDP_CMD_CONVERT) | CMD_BIT(DDP_CMD_GEN)},
};
#define N_OPTS (sizeof OPTS / sizeof OPTS[0])

static const char *const CMD_NAMES[DDP_CMD_COUNT] = {"", "gen", "info", "load", "convert", "train", "eval",
                                                      "predict"};

const char *ddp_command_name(ddp_command cmd)
{
    return (cmd > DDP_CMD_NONE && cmd < DDP_CMD_COUNT) ? CMD_NAMES[cmd] : "";
}

const char *ddp_task_name(ddp_task task)
{
    switch (task) {
    case DDP_TASK_LINEAR: return "linear";
    case DDP_TASK_LOGISTIC: return "logistic";
    case DDP_TASK_SOFTMAX: return "softmax";
    }
    return "?";
}

static int parse_task(const char *s, ddp_task *out)
{
    if (strcmp(s, "linear") == 0) *out = DDP_TASK_LINEAR;
    else if (strcmp(s, "logistic") == 0) *out = DDP_TASK_LOGISTIC;
    else if (strcmp(s, "softmax") == 0) *out = DDP_TASK_SOFTMAX;
    else return -1;
    return 0;
}

int ddp_parse_i64(const char *s, int64_t lo, int64_t hi, const char *what, int64_t *out, char *err)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end != s && (*end == 'e' || *end == 'E' || *end == '.')) {
        /* "1e6" or "1000000.0": accept when the value is an exact integer in range */
        errno = 0;
        double d = strtod(s, &end);
        if (*end == '\0' && errno == 0 && d == floor(d) && d >= (double)lo && d <= (double)hi) {
            *out = (int64_t)d;
            return DDP_OK;
        }
        end = (char *)s; /* force the error below */
    }
    if (end == s || *end != '\0') {
        ddp_errf(err, "%s: '%s' is not an integer", what, s);
        return DDP_EXIT_USAGE;
    }
    if (errno == ERANGE || v < lo || v > hi) {
        ddp_errf(err, "%s: %s is out of range; use a value in [%lld, %lld]", what, s, (long long)lo,
                 (long long)hi);
        return DDP_EXIT_USAGE;
    }
    *out = (int64_t)v;
    return DDP_OK;
}

int ddp_parse_u64(const char *s, const char *what, uint64_t *out, char *err)
{
    const char *p = s;
    while (*p == ' ' || *p == '\t') p++;
    if (*p == '-' || *p == '\0') {
        ddp_errf(err, "%s: '%s' is not a non-negative integer", what, s);
        return DDP_EXIT_USAGE;
    }
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(p, &end, 10);
    if (end == p || *end != '\0') {
        ddp_errf(err, "%s: '%s' is not a non-negative integer", what, s);
        return DDP_EXIT_USAGE;
    }
    if (errno == ERANGE) {
        ddp_errf(err, "%s: %s is out of range; use a value in [0, %llu]", what, s, (unsigned long long)UINT64_MAX);
        return DDP_EXIT_USAGE;
    }
    *out = (uint64_t)v;
    return DDP_OK;
}

int ddp_parse_f64(const char *s, double lo, double hi, const char *what, double *out, char *err)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0') {
        ddp_errf(err, "%s: '%s' is not a number", what, s);
        return DDP_EXIT_USAGE;
    }
    if (errno == ERANGE || !isfinite(v) || v < lo || v > hi) {
        ddp_errf(err, "%s: %s is out of range; use a value in [%g, %g]", what, s, lo, hi);
        return DDP_EXIT_USAGE;
    }
    *out = v;
    return DDP_OK;
}

static void set_defaults(ddp_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->features_name = "/X";
    cfg->labels_name = "/y";
    cfg->n_vshards = DDP_DEFAULT_VSHARDS;
    cfg->n_rows = 1000;
    cfg->n_features = 0;
    cfg->seed = 0;
    cfg->noise = 0.1;
    cfg->header = -1;
    cfg->delimiter = 0;
    cfg->zero_based = -1;
    cfg->optim.kind = DDP_OPT_SGD;
    cfg->lr.kind = DDP_LR_CONSTANT;
    cfg->lr.gamma = 0.1;
    cfg->lr.step_size = 0;
    cfg->batch_size = 32;
    cfg->epochs = 1;
    cfg->shuffle = 1;
    cfg->log_every = 0;
    cfg->max_skips = 10;
    cfg->check_every = 100;
    cfg->progress = -1;
    cfg->keep = 2;
    cfg->step_timeout = DDP_DEFAULT_STEP_TIMEOUT;
    cfg->bucket_mb = 25.0; /* PyTorch DDP's bucket_cap_mb */
}

/* After parsing: fill the optimizer defaults the user did not override,
 * then check the combination. */
static int finish_train(ddp_config *cfg, char *err)
{
    ddp_optim_config d;
    ddp_optim_defaults(cfg->optim.kind, &d);
    unsigned set = cfg->optim_set;
    if (!(set & DDP_SET_LR)) cfg->optim.lr = d.lr;
    if (!(set & DDP_SET_WD)) cfg->optim.weight_decay = d.weight_decay;
    if (!(set & DDP_SET_EPS)) cfg->optim.eps = d.eps;
    if (!(set & DDP_SET_BETAS)) {
        cfg->optim.beta1 = d.beta1;
        cfg->optim.beta2 = d.beta2;
    }
    if (!(set & DDP_SET_ALPHA)) cfg->optim.alpha = d.alpha;
    if (!(set & DDP_SET_MOMENTUM)) cfg->optim.momentum = d.momentum;
    if (!(set & DDP_SET_DAMPENING)) cfg->optim.dampening = d.dampening;
    int rc = ddp_optim_validate(&cfg->optim, err);
    if (rc != DDP_OK) return rc;
    cfg->lr.base_lr = cfg->optim.lr;
    if (cfg->lr.kind == DDP_LR_STEP && cfg->lr.step_size == 0) {
        ddp_errf(err, "--lr-schedule step needs --lr-step-size N (steps between decays by --lr-gamma)");
        return DDP_EXIT_USAGE;
    }
    if (cfg->val_features && !cfg->val_labels) cfg->val_labels = cfg->labels_name;
    if (cfg->val_path && !cfg->val_features) cfg->val_features = cfg->features_name;
    if (cfg->val_path && !cfg->val_labels) cfg->val_labels = cfg->labels_name;
    if (cfg->val_features && !cfg->val_path) cfg->val_path = cfg->data_path;
    if (cfg->patience > 0 && cfg->tol == 0) cfg->tol = 1e-4;
    if ((cfg->resume || cfg->ckpt_every_steps || cfg->ckpt_every_epochs) && !cfg->checkpoint) {
        ddp_errf(err, "--resume and --checkpoint-every need --checkpoint PATH (where checkpoints are written)");
        return DDP_EXIT_USAGE;
    }
    return DDP_OK;
}

static ddp_command lookup_command(const char *s)
{
    for (int c = DDP_CMD_NONE + 1; c < DDP_CMD_COUNT; c++)
        if (strcmp(s, CMD_NAMES[c]) == 0) return (ddp_command)c;
    return DDP_CMD_NONE;
}

/* Name of the option behind getopt's optopt/longindex, for messages. */
static const char *opt_name_of(int id)
{
    for (size_t i = 0; i < N_OPTS; i++)
        if (OPTS[i].opt.val == id) return OPTS[i].opt.name;
    return "?";
}

static int apply_option(ddp_config *cfg, int id, const char *arg, char *err)
{
    char what[64];
    snprintf(what, sizeof what, "--%s", opt_name_of(id));
    int64_t v = 0;
    int rc = DDP_OK;
    switch (id) {
    case OPT_HELP: cfg->help = 1; break;
    case OPT_QUIET: cfg->quiet = 1; break;
    case OPT_DATA: cfg->data_path = arg; break;
    case OPT_FEATURES:
        if (cfg->command == DDP_CMD_GEN)
            rc = ddp_parse_i64(arg, 1, INT32_MAX, what, &cfg->n_features, err);
        else
            cfg->features_name = arg;
        break;
    case OPT_LABELS: cfg->labels_name = arg; break;
    case OPT_X_NAME: cfg->features_name = arg; break;
    case OPT_Y_NAME: cfg->labels_name = arg; break;
    case OPT_MODEL:
        if (parse_task(arg, &cfg->task) != 0) {
            ddp_errf(err, "--model: unknown model '%s'; use linear, logistic or softmax", arg);
            return DDP_EXIT_USAGE;
        }
        cfg->task_set = 1;
        break;
    case OPT_CLASSES: rc = ddp_parse_i64(arg, 2, 1 << 20, what, &cfg->n_classes, err); break;
    case OPT_VSHARDS: rc = ddp_parse_i64(arg, 1, 1 << 20, what, &cfg->n_vshards, err); break;
    case OPT_CHECKSUM: cfg->checksum = 1; break;
    case OPT_OUT: cfg->out_path = arg; break;
    case OPT_ROWS: rc = ddp_parse_i64(arg, 1, INT64_C(1) << 40, what, &cfg->n_rows, err); break;
    case OPT_SEED: rc = ddp_parse_u64(arg, what, &cfg->seed, err); break;
    case OPT_NOISE: rc = ddp_parse_f64(arg, 0.0, 1e6, what, &cfg->noise, err); break;
    case OPT_CHUNK_ROWS: rc = ddp_parse_i64(arg, 0, INT32_MAX, what, &cfg->chunk_rows, err); break;
    case OPT_GZIP: rc = ddp_parse_i64(arg, 0, 9, what, &cfg->gzip_level, err); break;
    case OPT_DTYPE:
        if (strcmp(arg, "float32") == 0) cfg->float64 = 0;
        else if (strcmp(arg, "float64") == 0) cfg->float64 = 1;
        else {
            ddp_errf(err, "--dtype: unknown type '%s'; use float32 or float64", arg);
            return DDP_EXIT_USAGE;
        }
        break;
    case OPT_FORMAT:
        if (strcmp(arg, "csv") == 0) cfg->format = DDP_TEXT_CSV;
        else if (strcmp(arg, "libsvm") == 0 || strcmp(arg, "svmlight") == 0) cfg->format = DDP_TEXT_LIBSVM;
        else {
            ddp_errf(err, "--format: unknown format '%s'; use csv or libsvm", arg);
            return DDP_EXIT_USAGE;
        }
        break;
    case OPT_LABEL_COL: cfg->label_col = arg; break;
    case OPT_HEADER: cfg->header = 1; break;
    case OPT_NO_HEADER: cfg->header = 0; break;
    case OPT_DELIMITER:
        if (strcmp(arg, "\\t") == 0 || strcmp(arg, "tab") == 0) cfg->delimiter = '\t';
        else if (strlen(arg) == 1 && arg[0] != '"' && arg[0] != '\n') cfg->delimiter = arg[0];
        else {
            ddp_errf(err, "--delimiter: '%s' must be one character (or 'tab')", arg);
            return DDP_EXIT_USAGE;
        }
        break;
    case OPT_ZERO_BASED: cfg->zero_based = 1; break;
    case OPT_ONE_BASED: cfg->zero_based = 0; break;
    case OPT_N_FEATURES: rc = ddp_parse_i64(arg, 1, INT32_MAX, what, &cfg->n_features, err); break;
    case OPT_VAL_DATA: cfg->val_path = arg; break;
    case OPT_VAL_FEATURES: cfg->val_features = arg; break;
    case OPT_VAL_LABELS: cfg->val_labels = arg; break;
    case OPT_OPTIMIZER: {
        ddp_optim_kind k;
        if (strcmp(arg, "sgd") == 0) k = DDP_OPT_SGD;
        else if (strcmp(arg, "adam") == 0) k = DDP_OPT_ADAM;
        else if (strcmp(arg, "adamw") == 0) k = DDP_OPT_ADAMW;
        else if (strcmp(arg, "rmsprop") == 0) k = DDP_OPT_RMSPROP;
        else {
            ddp_errf(err, "--optimizer: unknown optimizer '%s'; use sgd, adam, adamw or rmsprop", arg);
            return DDP_EXIT_USAGE;
        }
        cfg->optim.kind = k;
        break;
    }
    case OPT_LR:
        rc = ddp_parse_f64(arg, 0.0, 1e30, what, &cfg->optim.lr, err);
        cfg->optim_set |= DDP_SET_LR;
        break;
    case OPT_MOMENTUM:
        rc = ddp_parse_f64(arg, 0.0, 1e6, what, &cfg->optim.momentum, err);
        cfg->optim_set |= DDP_SET_MOMENTUM;
        break;
    case OPT_DAMPENING:
        rc = ddp_parse_f64(arg, -1e6, 1e6, what, &cfg->optim.dampening, err);
        cfg->optim_set |= DDP_SET_DAMPENING;
        break;
    case OPT_NESTEROV: cfg->optim.nesterov = 1; break;
    case OPT_WEIGHT_DECAY:
        rc = ddp_parse_f64(arg, 0.0, 1e6, what, &cfg->optim.weight_decay, err);
        cfg->optim_set |= DDP_SET_WD;
        break;
    case OPT_BETAS: {
        char b1[64], b2[64];
        const char *comma = strchr(arg, ',');
        size_t n1 = comma ? (size_t)(comma - arg) : 0;
        if (!comma || n1 == 0 || n1 >= sizeof b1 || strlen(comma + 1) >= sizeof b2) {
            ddp_errf(err, "--betas: '%s' must be two numbers 'BETA1,BETA2', e.g. 0.9,0.999", arg);
            return DDP_EXIT_USAGE;
        }
        memcpy(b1, arg, n1);
        b1[n1] = '\0';
        snprintf(b2, sizeof b2, "%s", comma + 1);
        rc = ddp_parse_f64(b1, 0.0, 0.999999999999, "--betas (beta1)", &cfg->optim.beta1, err);
        if (rc == DDP_OK) rc = ddp_parse_f64(b2, 0.0, 0.999999999999, "--betas (beta2)", &cfg->optim.beta2, err);
        cfg->optim_set |= DDP_SET_BETAS;
        break;
    }
    case OPT_EPS:
        rc = ddp_parse_f64(arg, 0.0, 1e6, what, &cfg->optim.eps, err);
        cfg->optim_set |= DDP_SET_EPS;
        break;
    case OPT_AMSGRAD: cfg->optim.amsgrad = 1; break;
    case OPT_ALPHA:
        rc = ddp_parse_f64(arg, 0.0, 1.0, what, &cfg->optim.alpha, err);
        cfg->optim_set |= DDP_SET_ALPHA;
        break;
    case OPT_CENTERED: cfg->optim.centered = 1; break;
    case OPT_BATCH_SIZE: rc = ddp_parse_i64(arg, 1, INT64_C(1) << 40, what, &cfg->batch_size, err); break;
    case OPT_EPOCHS: rc = ddp_parse_i64(arg, 1, INT64_C(1) << 40, what, &cfg->epochs, err); break;
    case OPT_MAX_STEPS: rc = ddp_parse_i64(arg, 1, INT64_C(1) << 50, what, &cfg->max_steps, err); break;
    case OPT_LR_SCHEDULE:
        if (strcmp(arg, "constant") == 0) cfg->lr.kind = DDP_LR_CONSTANT;
        else if (strcmp(arg, "step") == 0) cfg->lr.kind = DDP_LR_STEP;
        else if (strcmp(arg, "cosine") == 0) cfg->lr.kind = DDP_LR_COSINE;
        else {
            ddp_errf(err, "--lr-schedule: unknown schedule '%s'; use constant, step or cosine", arg);
            return DDP_EXIT_USAGE;
        }
        break;
    case OPT_WARMUP: rc = ddp_parse_i64(arg, 0, INT64_C(1) << 50, what, &cfg->lr.warmup_steps, err); break;
    case OPT_LR_STEP_SIZE: rc = ddp_parse_i64(arg, 1, INT64_C(1) << 50, what, &cfg->lr.step_size, err); break;
    case OPT_LR_GAMMA: rc = ddp_parse_f64(arg, 0.0, 1e6, what, &cfg->lr.gamma, err); break;
    case OPT_NO_SHUFFLE: cfg->shuffle = 0; break;
    case OPT_DROP_LAST: cfg->drop_last = 1; break;
    case OPT_THREADS: rc = ddp_parse_i64(arg, 1, 4096, what, &cfg->threads, err); break;
    case OPT_STANDARDIZE: cfg->standardize = 1; break;
    case OPT_FREEZE: cfg->freeze = arg; break;
    case OPT_INIT: cfg->init_path = arg; break;
    case OPT_TOL: rc = ddp_parse_f64(arg, 0.0, 1e30, what, &cfg->tol, err); break;
    case OPT_PATIENCE: rc = ddp_parse_i64(arg, 0, INT64_C(1) << 40, what, &cfg->patience, err); break;
    case OPT_LOG_EVERY: rc = ddp_parse_i64(arg, 0, INT64_C(1) << 50, what, &cfg->log_every, err); break;
    case OPT_PRINT_WEIGHTS: cfg->print_weights = 1; break;
    case OPT_METRICS: cfg->metrics_path = arg; break;
    case OPT_TRACE: cfg->trace_path = arg; break;
    case OPT_SAVE: cfg->save_path = arg; break;
    case OPT_NAN_POLICY:
        if (strcmp(arg, "abort") == 0) cfg->nan_skip = 0;
        else if (strcmp(arg, "skip") == 0) cfg->nan_skip = 1;
        else {
            ddp_errf(err, "--nan-policy: unknown policy '%s'; use abort or skip", arg);
            return DDP_EXIT_USAGE;
        }
        break;
    case OPT_MAX_SKIPS: rc = ddp_parse_i64(arg, 1, INT64_C(1) << 40, what, &cfg->max_skips, err); break;
    case OPT_CHECK_EVERY: rc = ddp_parse_i64(arg, 0, INT64_C(1) << 50, what, &cfg->check_every, err); break;
    case OPT_CHECKPOINT:
        if (cfg->command == DDP_CMD_TRAIN) cfg->checkpoint = arg;
        else cfg->ckpt_path = arg;
        break;
    case OPT_CKPT_EVERY: {
        /* "500s" / "500" steps, "1e" epochs */
        char num[32];
        size_t n = strlen(arg);
        char unit = n > 0 ? arg[n - 1] : 0;
        int has_unit = unit == 's' || unit == 'e';
        if (n == 0 || n >= sizeof num) {
            ddp_errf(err, "--checkpoint-every: '%s' must be N steps ('500s' or '500') or N epochs ('1e')", arg);
            return DDP_EXIT_USAGE;
        }
        memcpy(num, arg, n - (size_t)has_unit);
        num[n - (size_t)has_unit] = '\0';
        int64_t every = 0;
        rc = ddp_parse_i64(num, 1, INT64_C(1) << 50, what, &every, err);
        if (rc == DDP_OK && unit == 'e') cfg->ckpt_every_epochs = every, cfg->ckpt_every_steps = 0;
        else if (rc == DDP_OK) cfg->ckpt_every_steps = every, cfg->ckpt_every_epochs = 0;
        break;
    }
    case OPT_KEEP: rc = ddp_parse_i64(arg, 1, 1000000, what, &cfg->keep, err); break;
    case OPT_RESUME: cfg->resume = 1; break;
    case OPT_MEMORY_LIMIT: {
        /* 512M, 2G, 1048576 */
        char num[32];
        size_t n = strlen(arg);
        uint64_t scale = 1;
        char unit = n > 0 ? arg[n - 1] : 0;
        if (unit == 'K' || unit == 'k') scale = UINT64_C(1) << 10;
        else if (unit == 'M' || unit == 'm') scale = UINT64_C(1) << 20;
        else if (unit == 'G' || unit == 'g') scale = UINT64_C(1) << 30;
        size_t digits = n - (scale > 1);
        if (n == 0 || digits == 0 || digits >= sizeof num) {
            ddp_errf(err, "--memory-limit: '%s' must be bytes with an optional K, M or G suffix, e.g. 4G", arg);
            return DDP_EXIT_USAGE;
        }
        memcpy(num, arg, digits);
        num[digits] = '\0';
        int64_t amount = 0;
        rc = ddp_parse_i64(num, 1, INT64_C(1) << 50, what, &amount, err);
        if (rc == DDP_OK) cfg->memory_limit = (uint64_t)amount * scale;
        break;
    }
    case OPT_STEP_TIMEOUT: rc = ddp_parse_i64(arg, 0, 86400 * 7, what, &cfg->step_timeout, err); break;
    case OPT_BUCKET_MB: rc = ddp_parse_f64(arg, 1e-6, 1e6, what, &cfg->bucket_mb, err); break;
    case OPT_PROGRESS:
        if (strcmp(arg, "auto") == 0) cfg->progress = -1;
        else if (strcmp(arg, "on") == 0) cfg->progress = 1;
        else if (strcmp(arg, "off") == 0) cfg->progress = 0;
        else {
            ddp_errf(err, "--progress: '%s' must be auto, on or off", arg);
            return DDP_EXIT_USAGE;
        }
        break;
    default: DDP_ASSERT(0 && "option in table without handler");
    }
    (void)v;
    return rc;
}

/* Per-command positional arguments and required options. */
static int check_command(ddp_config *cfg, int n_pos, char **pos, char *err)
{
    const char *name = ddp_command_name(cfg->command);
    int max_pos = 0;
    switch (cfg->command) {
    case DDP_CMD_GEN:
        max_pos = 1;
        if (n_pos < 1) {
            ddp_errf(err, "gen: missing model kind; use 'ddptrain gen linear|logistic|softmax --out FILE'");
            return DDP_EXIT_USAGE;
        }
        if (parse_task(pos[0], &cfg->task) != 0) {
            ddp_errf(err, "gen: unknown model kind '%s'; use linear, logistic or softmax", pos[0]);
            return DDP_EXIT_USAGE;
        }
        cfg->task_set = 1;
        if (!cfg->out_path) {
            ddp_errf(err, "gen: missing --out FILE");
            return DDP_EXIT_USAGE;
        }
        if (cfg->n_features == 0) cfg->n_features = 16;
        if (cfg->task == DDP_TASK_SOFTMAX && cfg->n_classes == 0) cfg->n_classes = 10;
        if (cfg->task != DDP_TASK_SOFTMAX && cfg->n_classes != 0) {
            ddp_errf(err, "gen: --classes applies to softmax only");
            return DDP_EXIT_USAGE;
        }
        if (cfg->gzip_level > 0 && cfg->chunk_rows == 0) cfg->chunk_rows = 4096;
        break;
    case DDP_CMD_INFO:
        max_pos = 1;
        if (n_pos == 1 && !cfg->data_path) cfg->data_path = pos[0];
        if (!cfg->data_path) {
            ddp_errf(err, "info: missing FILE; use 'ddptrain info FILE'");
            return DDP_EXIT_USAGE;
        }
        break;
    case DDP_CMD_LOAD:
        max_pos = 0;
        if (!cfg->data_path) {
            ddp_errf(err, "load: missing --data FILE");
            return DDP_EXIT_USAGE;
        }
        break;
    case DDP_CMD_TRAIN:
        max_pos = 0;
        if (!cfg->data_path) {
            ddp_errf(err, "train: missing --data FILE");
            return DDP_EXIT_USAGE;
        }
        {
            int rc = finish_train(cfg, err);
            if (rc != DDP_OK) return rc;
        }
        break;
    case DDP_CMD_EVAL:
    case DDP_CMD_PREDICT:
        max_pos = 0;
        if (!cfg->ckpt_path || !cfg->data_path) {
            ddp_errf(err, "%s: needs --checkpoint FILE (weights saved by 'ddptrain train --save') and --data FILE",
                     name);
            return DDP_EXIT_USAGE;
        }
        if (cfg->command == DDP_CMD_PREDICT && !cfg->out_path) {
            ddp_errf(err, "predict: missing --out FILE for the predictions");
            return DDP_EXIT_USAGE;
        }
        break;
    case DDP_CMD_CONVERT:
        max_pos = 1;
        if (n_pos < 1) {
            ddp_errf(err, "convert: missing input file; use 'ddptrain convert IN.csv --out OUT.h5'");
            return DDP_EXIT_USAGE;
        }
        cfg->in_path = pos[0];
        if (!cfg->out_path) {
            ddp_errf(err, "convert: missing --out FILE");
            return DDP_EXIT_USAGE;
        }
        break;
    default: DDP_ASSERT(0);
    }
    if (n_pos > max_pos) {
        ddp_errf(err, "%s: unexpected argument '%s'; see 'ddptrain %s --help'", name, pos[max_pos], name);
        return DDP_EXIT_USAGE;
    }
    return DDP_OK;
}

int ddp_config_parse(int argc, char **argv, ddp_config *cfg, char *err)
{
    set_defaults(cfg);
    if (argc < 2) {
        ddp_errf(err, "missing command; see 'ddptrain --help'");
        return DDP_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        cfg->help = 1;
        if (argc > 2 && strcmp(cmd, "help") == 0) cfg->command = lookup_command(argv[2]);
        return DDP_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        cfg->version = 1;
        return DDP_OK;
    }
    cfg->command = lookup_command(cmd);
    if (cfg->command == DDP_CMD_NONE) {
        if (cmd[0] == '-')
            ddp_errf(err, "unknown option '%s' before the command; see 'ddptrain --help'", cmd);
        else
            ddp_errf(err, "unknown command '%s'; use train, eval, predict, gen, info, load or convert (see "
                     "'ddptrain --help')", cmd);
        return DDP_EXIT_USAGE;
    }

    struct option longopts[N_OPTS + 1];
    for (size_t i = 0; i < N_OPTS; i++) longopts[i] = OPTS[i].opt;
    memset(&longopts[N_OPTS], 0, sizeof longopts[N_OPTS]);

    /* getopt sees argv[1..] so the command acts as argv[0]. */
    int sub_argc = argc - 1;
    char **sub_argv = argv + 1;
    char *pos[8];
    int n_pos = 0;
    optind = 0; /* full re-initialisation (glibc), so parse can run twice */
    opterr = 0;
    for (;;) {
        int longindex = -1;
        int c = getopt_long(sub_argc, sub_argv, "-:hqo:", longopts, &longindex);
        if (c == -1) break;
        if (c == 1) { /* positional, kept in order thanks to the leading '-' */
            if (n_pos < (int)(sizeof pos / sizeof pos[0])) pos[n_pos++] = optarg;
            else {
                ddp_errf(err, "%s: too many arguments", cmd);
                return DDP_EXIT_USAGE;
            }
            continue;
        }
        if (c == '?') {
            const char *bad = sub_argv[optind - 1];
            if (optopt >= OPT_DATA) /* a known long option given a value it does not take */
                ddp_errf(err, "%s: option '--%s' takes no value (got '%s')", cmd, opt_name_of(optopt), bad);
            else if (optopt > 0 && optopt < 128 && isprint(optopt))
                ddp_errf(err, "%s: unknown option '-%c'; see 'ddptrain %s --help'", cmd, optopt, cmd);
            else
                ddp_errf(err, "%s: unknown option '%s'; see 'ddptrain %s --help'", cmd, bad, cmd);
            return DDP_EXIT_USAGE;
        }
        if (c == ':') {
            const char *bad = sub_argv[optind - 1];
            ddp_errf(err, "%s: option '%s' needs a value", cmd, bad);
            return DDP_EXIT_USAGE;
        }
        /* Known somewhere, but does this command take it? */
        unsigned cmds = 0;
        for (size_t i = 0; i < N_OPTS; i++)
            if (OPTS[i].opt.val == c) cmds = OPTS[i].cmds;
        if (!(cmds & CMD_BIT(cfg->command))) {
            ddp_errf(err, "%s: option '--%s' does not apply to this command; see 'ddptrain %s --help'", cmd,
                     opt_name_of(c), cmd);
            return DDP_EXIT_USAGE;
        }
        int rc = apply_option(cfg, c, optarg, err);
        if (rc != DDP_OK) return rc;
    }
    if (cfg->help) return DDP_OK;
    return check_command(cfg, n_pos, pos, err);
}
