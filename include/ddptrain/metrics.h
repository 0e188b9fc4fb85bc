/* metrics.h — where the time goes, and what a person reads while training:
 * per-phase timers (named, never magic indices), rank 0's log lines, the
 * JSONL metrics file, and a live progress line when stdout is a terminal.
 * No MPI here: train.c reduces across ranks and hands the numbers over. */
#ifndef DDPTRAIN_METRICS_H
#define DDPTRAIN_METRICS_H

#include "ddptrain/trace.h"

#include <stdint.h>
#include <stdio.h>

typedef enum ddp_phase {
    DDP_PHASE_DATA = 0,  /* building this rank's rows of the batch      */
    DDP_PHASE_COMPUTE,   /* fused forward + backward kernel             */
    DDP_PHASE_ALLREDUCE, /* the one allreduce of the step               */
    DDP_PHASE_OPTIM,     /* optimizer update + finite checks            */
    DDP_PHASE_EVAL,      /* validation passes                           */
    DDP_PHASE_CHECKPOINT, /* writing a checkpoint (and agreeing on it)  */
    DDP_PHASE_COUNT
} ddp_phase;

extern const char *const DDP_PHASE_NAMES[DDP_PHASE_COUNT];

typedef struct ddp_timers {
    double total[DDP_PHASE_COUNT]; /* seconds accumulated */
    double started;                /* ddp_now() when the current phase began */
    ddp_trace *trace;              /* --trace: every span is also recorded here */
    int64_t step;                  /* the step the spans belong to (1-based) */
} ddp_timers;

/* Zero the totals; the trace pointer is kept. */
void ddp_timers_reset(ddp_timers *t);
static inline void ddp_timer_start(ddp_timers *t, double now) { t->started = now; }
/* Adds [begin, end) to phase p (and to the trace). */
static inline void ddp_timer_add(ddp_timers *t, ddp_phase p, double begin, double end)
{
    t->total[p] += end - begin;
    if (t->trace) ddp_trace_span(t->trace, (int)p, t->step, begin, end);
}
/* Adds now - started to phase p and restarts the clock at now. */
static inline void ddp_timer_stop(ddp_timers *t, ddp_phase p, double now)
{
    ddp_timer_add(t, p, t->started, now);
    t->started = now;
}

/* One log record: what rank 0 prints and writes as a JSON line. Fields that
 * do not apply are NaN and left out. */
typedef struct ddp_log_record {
    const char *kind; /* "step" or "epoch" */
    int64_t step, epoch;
    double loss, val_loss, val_metric, val_metric2; /* metric: accuracy or RMSE; metric2: R^2 */
    const char *metric_name, *metric2_name;
    double grad_norm, update_norm, lr, samples_per_s;
    double phase_seconds[DDP_PHASE_COUNT]; /* slowest rank, over the window */
    int64_t skipped_steps;
} ddp_log_record;

void ddp_log_print(FILE *out, const ddp_log_record *r);
void ddp_log_json(FILE *out, const ddp_log_record *r);

/* "\r[=====>    ] 45% step 450/1000  loss 0.3412  ETA 12s" on a terminal. */
void ddp_progress(FILE *out, int64_t done, int64_t total, double loss, double elapsed_s);

#endif
