/* config.h — the command line: which command, its options, parsed with
 * getopt_long and checked number conversions (never atoi), validated for
 * ranges. Parsing is pure (no MPI, no I/O), so every rank parses the same argv
 * to the same result and the same exit code, and unit tests can drive it.
 *
 * String options point into argv, which outlives the run. */
#ifndef DDPTRAIN_CONFIG_H
#define DDPTRAIN_CONFIG_H

#include "ddptrain/optim.h"

#include <stdint.h>
#include <stdio.h>

typedef enum ddp_command {
    DDP_CMD_NONE = 0,
    DDP_CMD_GEN,     /* synthetic dataset with a planted model          */
    DDP_CMD_INFO,    /* describe an HDF5 file                           */
    DDP_CMD_LOAD,    /* load + validate the shards exactly as train will */
    DDP_CMD_CONVERT, /* CSV / LIBSVM text -> HDF5                        */
    DDP_CMD_TRAIN,   /* the training loop                                */
    DDP_CMD_EVAL,    /* loss and metrics of saved weights on a dataset   */
    DDP_CMD_PREDICT, /* predictions of saved weights, to HDF5            */
    DDP_CMD_COUNT
} ddp_command;

/* The task decides how labels are validated (and, later, the loss). */
typedef enum ddp_task {
    DDP_TASK_LINEAR = 0, /* regression, MSE: any finite float label          */
    DDP_TASK_LOGISTIC,   /* binary, BCE with logits: labels in {0, 1}        */
    DDP_TASK_SOFTMAX,    /* multiclass, cross-entropy: integer ids 0..C-1    */
} ddp_task;

typedef enum ddp_text_format {
    DDP_TEXT_AUTO = 0, /* from the file name: .csv/.tsv -> csv, else libsvm */
    DDP_TEXT_CSV,
    DDP_TEXT_LIBSVM,
} ddp_text_format;

#define DDP_DEFAULT_VSHARDS 64
#define DDP_DEFAULT_STEP_TIMEOUT 300

enum { DDP_SET_LR = 1, DDP_SET_WD = 2, DDP_SET_EPS = 4, DDP_SET_BETAS = 8, DDP_SET_ALPHA = 16, DDP_SET_MOMENTUM = 32,
       DDP_SET_DAMPENING = 64 };

typedef struct ddp_config {
    ddp_command command;
    int help;    /* --help was given: print the command's usage, exit 0 */
    int version; /* --version */
    int quiet;   /* -q: only errors */

    /* data selection (load, info) */
    const char *data_path;     /* --data FILE (info also takes it positionally) */
    const char *features_name; /* --features NAME, default "/X" (gen/convert: --x-name) */
    const char *labels_name;   /* --labels NAME, default "/y" */
    ddp_task task;             /* --model linear|logistic|softmax */
    int task_set;              /* --model was given */
    int64_t n_classes;         /* --classes C; 0 = infer from labels */
    int64_t n_vshards;         /* --virtual-shards V */
    uint64_t memory_limit;     /* --memory-limit BYTES[K|M|G] per rank for the shard (0 = automatic) */
    int checksum;              /* --checksum: print an order-independent data checksum */

    /* gen */
    const char *out_path; /* --out FILE (gen, convert) */
    int64_t n_rows;       /* --rows N */
    int64_t n_features;   /* --features N (gen), --n-features N (convert, LIBSVM) */
    uint64_t seed;        /* --seed S */
    double noise;         /* --noise SIGMA (linear: std of label noise; logistic/softmax: logit noise) */
    int64_t chunk_rows;   /* --chunk-rows R: 0 = contiguous layout */
    int64_t gzip_level;   /* --gzip L (0..9, 0 = off); implies chunking */
    int64_t float64;      /* --dtype float64 instead of float32 (gen) */

    /* convert */
    const char *in_path;    /* positional input file */
    ddp_text_format format; /* --format csv|libsvm */
    const char *label_col;  /* --label-col NAME|INDEX (csv), default: last column */
    int header;             /* --header / --no-header; -1 = detect */
    char delimiter;         /* --delimiter C, default ',' ('\t' for .tsv) */
    int zero_based;         /* --zero-based / --one-based (libsvm); -1 = detect */

    /* train / eval / predict */
    const char *val_path;     /* --val-data FILE (default: --data when --val-features is given) */
    const char *val_features; /* --val-features NAME */
    const char *val_labels;   /* --val-labels NAME */
    ddp_optim_config optim;   /* --optimizer and its hyper-parameters (PyTorch defaults) */
    unsigned optim_set;       /* DDP_SET_* bits: options given (others take the optimizer's default) */
    ddp_lr_config lr;         /* --lr-schedule, --warmup-steps, --lr-step-size, --lr-gamma */
    int64_t batch_size;       /* --batch-size B (global) */
    int64_t epochs;           /* --epochs */
    int64_t max_steps;        /* --max-steps (0 = no limit) */
    int shuffle;              /* 1 unless --no-shuffle */
    int drop_last;            /* --drop-last */
    int64_t threads;          /* --threads (0 = cores available to the rank) */
    int standardize;          /* --standardize */
    const char *freeze;       /* --freeze NAME[,NAME] */
    const char *init_path;    /* --init FILE (weights in the checkpoint layout) */
    double tol;               /* --tol: minimum improvement that counts */
    int64_t patience;         /* --patience: epochs without improvement before stopping (0 = off) */
    int64_t log_every;        /* --log-every N steps (0 = per epoch only) */
    int print_weights;        /* --print-weights */
    const char *metrics_path; /* --metrics FILE.jsonl */
    const char *trace_path;   /* --trace FILE.json (Chrome trace events) */
    const char *save_path;    /* --save FILE */
    int nan_skip;             /* --nan-policy skip (default abort) */
    int64_t max_skips;        /* --max-skips K consecutive skipped steps before stopping */
    int64_t check_every;      /* --check-every N: cross-rank parameter checksum period */
    const char *ckpt_path;    /* --checkpoint FILE (eval, predict) */
    int progress;             /* --progress: -1 auto (terminal and not under mpirun), 0 off, 1 on */
    const char *checkpoint;   /* --checkpoint PATH: files PATH.step<N>.h5 (a trailing .h5 is dropped) */
    int64_t ckpt_every_steps; /* --checkpoint-every Ns (0 = off) */
    int64_t ckpt_every_epochs; /* --checkpoint-every Ne (0 = off) */
    int64_t keep;             /* --keep K newest checkpoints (default 2) */
    int resume;               /* --resume: continue from the newest valid checkpoint, if any */
    int64_t step_timeout;     /* --step-timeout S: watchdog, seconds without progress (0 = off) */
    double bucket_mb;         /* --bucket-mb: gradient reductions above this many MiB go in buckets */
} ddp_config;

/* Fills cfg with defaults, then parses argv. Returns DDP_OK or
 * DDP_EXIT_USAGE with a one-line message in err. When cfg->help or
 * cfg->version is set the caller prints and exits 0. */
int ddp_config_parse(int argc, char **argv, ddp_config *cfg, char *err);

/* Usage text of one command (DDP_CMD_NONE: the overview). */
void ddp_config_usage(ddp_command cmd, FILE *out);

const char *ddp_command_name(ddp_command cmd);
const char *ddp_task_name(ddp_task task);

/* Checked conversions used by the parser (exposed for tests). The whole string
 * must be a number in [lo, hi]; "1e6"-style integers are accepted when exact.
 * On error the message names `what` and the accepted range. */
int ddp_parse_i64(const char *s, int64_t lo, int64_t hi, const char *what, int64_t *out, char *err);
int ddp_parse_u64(const char *s, const char *what, uint64_t *out, char *err);
int ddp_parse_f64(const char *s, double lo, double hi, const char *what, double *out, char *err);

#endif
