/* train_internal.h — the trainer shared by train.c (set-up and the loop)
 * and train_resume.c (checkpoints and resume). Private to src/. */
#ifndef DDPTRAIN_TRAIN_INTERNAL_H
#define DDPTRAIN_TRAIN_INTERNAL_H

#include "ddptrain/checkpoint.h"
#include "ddptrain/comm.h"
#include "ddptrain/config.h"
#include "ddptrain/data.h"
#include "ddptrain/metrics.h"
#include "ddptrain/model.h"
#include "ddptrain/optim.h"
#include "ddptrain/sampler.h"

#include <stdio.h>

/* Extra slots after the gradient in the step's allreduce buffer. */
enum { RED_LOSS = 0, RED_COUNT, RED_NONFINITE, RED_STOP, RED_EXTRA };

typedef struct trainer {
    const ddp_comm *comm;
    const ddp_config *cfg;
    ddp_dataset train, val;
    int has_val;
    ddp_model model;
    ddp_optim opt;
    ddp_sampler sampler;
    ddp_range ranges[DDP_MAX_TENSORS]; /* trainable tensors */
    int n_ranges;
    int64_t n_active;    /* trainable elements = gradient part of the allreduce */
    double *grad_sum;    /* [n_params] kernel output */
    double *reduce_buf;  /* [RED_EXTRA flags | n_active gradient sums] */
    int64_t bucket_elems, n_buckets; /* --bucket-mb: the reduction's pieces */
    ddp_comm_request *requests;      /* [n_buckets] */
    float *grad_mean;    /* [n_params] mean gradient (0 for frozen) */
    float *prev_params;  /* [n_params] before the step, for |dw| */
    double *thread_parts; /* [3 * n_threads]: each thread's share of the step's norms and first bad element */
    double *scratch;     /* kernel per-thread accumulators */
    float *std_mean;     /* [n_features] with --standardize */
    float *std_scale;    /* [n_features] */
    int n_threads;
    ddp_lr_config lr;    /* schedule with the run's horizon filled in */
    int bar;             /* rank 0 draws the progress bar */
    ddp_optim backup;    /* --nan-policy skip: optimizer state before the step */
    ddp_train_state start; /* where the loop begins (resume) */
    int lock_fd;         /* rank 0: the checkpoint series lock, or -1 */
    double last_loss, last_val_loss, last_val_metric;
    ddp_timers timers;
    ddp_trace trace; /* --trace: this rank's spans */
    FILE *metrics;
    char command_line[2048];
} trainer;


/* train_step.c: one step (see there). */
typedef struct ddp_step_result {
    double loss;      /* mean over the global batch */
    double grad_norm; /* ||mean gradient|| over trainable parameters */
    double update_norm;
    int64_t rows;     /* global batch rows */
    int skipped;      /* non-finite loss/gradient and --nan-policy skip */
    int stop;         /* some rank received a stop signal: finish here */
} ddp_step_result;
int ddp_train_step(trainer *t, int64_t epoch, int64_t k, int64_t step, ddp_step_result *res, char *err);
/* Before the loop's clock starts: the step's kernel on no rows (the OpenMP
 * team starts, each thread touches its scratch block) and its reduction
 * twice on zeros (MPI's first calls set up their paths). Changes nothing a
 * step reads; every rank must call it. */
void ddp_train_warm_up(trainer *t);
/* Buckets of at most bucket_mb MiB (bucket 0 also holds the flags) for a
 * reduction of n_active gradient sums; *bucket_elems gets their size. */
int64_t ddp_train_bucket_count(int64_t n_active, double bucket_mb, int64_t *bucket_elems);

/* train_resume.c: model compatibility, the resume point, and saving. */
int ddp_train_check_model(const trainer *t, const ddp_ckpt_header *hdr, const char *what, const char *path,
                          char *err);
int ddp_train_find_resume(trainer *t, char *path, size_t path_bytes, char *err);
int ddp_train_resume_weights(trainer *t, const char *path, char *err);
int ddp_train_resume_state(trainer *t, const char *path, char *err);
/* train.c: --trace FILE, gathered and written by rank 0 at the end. */
int ddp_train_write_trace(trainer *t, char *err);

int ddp_train_save_checkpoint(trainer *t, int64_t step, int64_t next_epoch, int64_t next_batch, double best,
                              int64_t bad_epochs, int periodic, int *wrote, char *err);

#endif
