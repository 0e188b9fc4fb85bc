/* train.c — `ddptrain train`, `eval` and `predict`.
 *
 * One step, on every rank:
 *   rows    = sampler: this rank's rows of global batch k
 *   grad    = kernel:  sums of d loss / d params over those rows
 *   reduce  = comm:    ONE allreduce of [grad sums | loss sum | row count | non-finite flag]
 *   mean    = sums / global count (the gradient of the global-batch mean loss)
 *   check   = decided on the reduced values, so every rank decides the same
 *   update  = optim:   the same update on every rank -> bitwise equal weights
 * plus per-epoch validation, logging on rank 0, a periodic cross-rank
 * parameter checksum, and the final save.
 * Not here: the math of losses (kernels.c), update rules (optim.c), file
 * formats (data.c, checkpoint.c). */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "ddptrain/train.h"
#include "ddptrain/checkpoint.h"
#include "ddptrain/cluster.h"
#include "ddptrain/common.h"
#include "ddptrain/data.h"
#include "ddptrain/kernels.h"
#include "ddptrain/metrics.h"
#include "ddptrain/model.h"
#include "ddptrain/optim.h"
#include "ddptrain/rng.h"
#include "ddptrain/sampler.h"
#include "ddptrain/stopsig.h"
#include "ddptrain/watchdog.h"
#include "train_internal.h"

#include <errno.h>
#include <hdf5.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* ---------------------------------------------------------------- set-up */

/* at most this many spans per rank (32 bytes each) */
#define TRACE_MAX_SPANS (INT64_C(1) << 20)

static int setup_trace(trainer *t, char *err);

/* OMP_NUM_THREADS, else the CPUs Slurm gives each task, else the affinity
 * mask (cluster.c decides; this gathers the inputs). */
static int default_threads_from(ddp_thread_source *source)
{
    int omp_threads = 0;
#ifdef _OPENMP
    if (getenv("OMP_NUM_THREADS")) omp_threads = omp_get_max_threads();
#endif
    int affinity_cpus = 0;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) affinity_cpus = CPU_COUNT(&set);
    ddp_cluster cl;
    ddp_cluster_detect(ddp_cluster_getenv, NULL, &cl);
    return ddp_cluster_default_threads(&cl, omp_threads, affinity_cpus, source);
}

int ddp_default_threads(void)
{
    return default_threads_from(NULL);
}

/* Global mean and population std per feature over all training rows (two
 * passes, each one allreduce), applied in place to train and validation. */
static void standardize(trainer *t)
{
    int64_t F = t->train.n_features;
    double *acc = calloc((size_t)F, sizeof(double));
    DDP_ASSERT(acc);
    for (int64_t i = 0; i < t->train.n_local; i++)
        for (int64_t j = 0; j < F; j++) acc[j] += t->train.x[i * F + j];
    ddp_comm_sum_f64(t->comm, acc, (size_t)F);
    for (int64_t j = 0; j < F; j++) t->std_mean[j] = (float)(acc[j] / (double)t->train.n_rows);
    memset(acc, 0, (size_t)F * sizeof(double));
    for (int64_t i = 0; i < t->train.n_local; i++)
        for (int64_t j = 0; j < F; j++) {
            double d = t->train.x[i * F + j] - (double)t->std_mean[j];
            acc[j] += d * d;
        }
    ddp_comm_sum_f64(t->comm, acc, (size_t)F);
    for (int64_t j = 0; j < F; j++) {
        double sd = sqrt(acc[j] / (double)t->train.n_rows);
        t->std_scale[j] = sd > 0 ? (float)sd : 1.0f; /* constant feature: leave it centred */
    }
    free(acc);
}

void ddp_apply_standardize(float *x, int64_t n_rows, int64_t n_features, const float *mean, const float *scale)
{
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n_rows; i++)
        for (int64_t j = 0; j < n_features; j++) x[i * n_features + j] = (x[i * n_features + j] - mean[j]) / scale[j];
}

static void join_argv(int argc, char **argv, char *out, size_t out_bytes)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < argc && used + 1 < out_bytes; i++) {
        int w = snprintf(out + used, out_bytes - used, "%s%s", i ? " " : "", argv[i]);
        if (w < 0) break;
        used += (size_t)w;
    }
}

static int setup(trainer *t, char *err)
{
    const ddp_config *cfg = t->cfg;
    const ddp_comm *comm = t->comm;
    ddp_data_spec spec = {cfg->data_path, cfg->features_name, cfg->labels_name, cfg->task, cfg->n_classes,
                          cfg->n_vshards, cfg->memory_limit};
    int rc = ddp_data_load(comm, &spec, &t->train, err);
    if (rc != DDP_OK) return rc;
    int64_t n_classes = t->train.n_classes;
    if (cfg->val_path) {
        ddp_data_spec vspec = {cfg->val_path, cfg->val_features, cfg->val_labels, cfg->task, n_classes,
                               cfg->n_vshards, cfg->memory_limit};
        rc = ddp_data_load(comm, &vspec, &t->val, err);
        if (rc != DDP_OK) return rc;
        if (t->val.n_features != t->train.n_features) {
            ddp_errf(err, "%s:%s has %lld features but the training data has %lld; use a matching validation set",
                     cfg->val_path, cfg->val_features, (long long)t->val.n_features, (long long)t->train.n_features);
            return DDP_EXIT_USAGE;
        }
        t->has_val = 1;
    }

    int64_t F = t->train.n_features;
    rc = ddp_model_init(&t->model, cfg->task, F, n_classes, err);
    if (rc == DDP_OK && cfg->freeze) rc = ddp_model_freeze(&t->model, cfg->freeze, err);
    if (rc != DDP_OK) return rc; /* same verdict on every rank: inputs are identical */
    t->std_mean = calloc((size_t)F, sizeof(float));
    t->std_scale = calloc((size_t)F, sizeof(float));
    DDP_ASSERT(t->std_mean && t->std_scale);

    t->lock_fd = -1;
    t->start.best_loss = INFINITY;
    char resume_path[4096] = "";
    if (cfg->checkpoint) {
        rc = comm->rank == 0 ? ddp_ckpt_lock(cfg->checkpoint, &t->lock_fd, err) : DDP_OK;
        rc = ddp_comm_agree(comm, rc, err);
        if (rc != DDP_OK) return rc;
    }
    if (cfg->resume) {
        rc = ddp_train_find_resume(t, resume_path, sizeof resume_path, err);
        if (rc != DDP_OK) return rc;
    }
    if (resume_path[0]) {
        rc = ddp_train_resume_weights(t, resume_path, err);
        if (rc != DDP_OK) return rc;
    } else if (cfg->init_path) {
        ddp_ckpt_header hdr;
        rc = ddp_ckpt_read_header(comm, cfg->init_path, &hdr, err);
        if (rc != DDP_OK) return rc;
        rc = ddp_train_check_model(t, &hdr, "--init", cfg->init_path, err);
        if (rc != DDP_OK) return rc;
        rc = ddp_ckpt_load_weights(comm, cfg->init_path, &t->model, NULL, NULL, err);
        if (rc != DDP_OK) return rc;
    } else {
        ddp_model_init_params(&t->model, cfg->seed);
    }
    if (cfg->standardize) {
        if (!resume_path[0]) standardize(t); /* resume: the stored statistics, bit for bit */
        ddp_apply_standardize(t->train.x, t->train.n_local, F, t->std_mean, t->std_scale);
        if (t->has_val) ddp_apply_standardize(t->val.x, t->val.n_local, F, t->std_mean, t->std_scale);
    }

    rc = ddp_optim_init(&t->opt, &cfg->optim, t->model.n_params, err);
    if (rc == DDP_OK && cfg->nan_skip) rc = ddp_optim_init(&t->backup, &cfg->optim, t->model.n_params, err);
    if (rc == DDP_OK)
        rc = ddp_sampler_init(&t->sampler, &t->train.plan, cfg->batch_size, cfg->drop_last, cfg->shuffle, cfg->seed,
                              err);
    if (rc != DDP_OK) return rc;
    if (resume_path[0]) {
        rc = ddp_train_resume_state(t, resume_path, err);
        if (rc != DDP_OK) return rc;
    }

    for (int k = 0; k < t->model.n_tensors; k++) {
        const ddp_tensor *tt = &t->model.tensors[k];
        if (tt->frozen) continue;
        t->ranges[t->n_ranges].offset = tt->offset;
        t->ranges[t->n_ranges].n_elems = tt->n_elems;
        t->n_ranges++;
        t->n_active += tt->n_elems;
    }
    t->n_threads = cfg->threads > 0 ? (int)cfg->threads : ddp_default_threads();
    t->sampler.n_threads = t->n_threads;
#ifdef _OPENMP
    /* The regions that name no team size (the optimizer's update of 32768
     * or more elements, --standardize) use this rank's threads too. Left to
     * OpenMP's default they took every CPU of the rank's mask: all the
     * node's cores under mpirun --bind-to none, one team per rank. */
    omp_set_num_threads(t->n_threads);
#endif
    int64_t P = t->model.n_params;
    t->grad_sum = calloc((size_t)P, sizeof(double));
    t->reduce_buf = calloc((size_t)(t->n_active + RED_EXTRA), sizeof(double));
    t->n_buckets = ddp_train_bucket_count(t->n_active, cfg->bucket_mb, &t->bucket_elems);
    t->requests = calloc((size_t)t->n_buckets, sizeof(ddp_comm_request));
    t->grad_mean = calloc((size_t)P, sizeof(float));
    t->prev_params = calloc((size_t)P, sizeof(float));
    t->thread_parts = calloc((size_t)3 * (size_t)t->n_threads, sizeof(double));
    t->scratch = calloc((size_t)ddp_kernel_scratch_elems(P, (int)t->model.n_out, t->n_threads), sizeof(double));
    rc = (t->grad_sum && t->reduce_buf && t->requests && t->grad_mean && t->prev_params && t->thread_parts &&
          t->scratch)
             ? DDP_OK
             : DDP_EXIT_MEMORY;
    if (rc != DDP_OK) ddp_errf(err, "cannot allocate the training buffers (%lld parameters)", (long long)P);
    rc = ddp_comm_agree(comm, rc, err);
    if (rc != DDP_OK) return rc;

    if (comm->rank == 0 && cfg->metrics_path) {
        t->metrics = fopen(cfg->metrics_path, "w");
        if (!t->metrics) {
            ddp_errf(err, "--metrics %s: cannot create the file", cfg->metrics_path);
            rc = DDP_EXIT_IO;
        }
    }
    rc = ddp_comm_agree(comm, rc, err);
    if (rc != DDP_OK || !cfg->trace_path) return rc;
    return setup_trace(t, err);
}

/* --trace: fail now, not after training, if the file cannot be made; room
 * for every span of the run up to a cap (the total must fit one gather). */
static int setup_trace(trainer *t, char *err)
{
    const ddp_comm *comm = t->comm;
    int rc = DDP_OK;
    if (comm->rank == 0) {
        FILE *f = fopen(t->cfg->trace_path, "w");
        if (!f) {
            ddp_errf(err, "--trace %s: cannot create the file (%s); check the directory exists and is writable",
                     t->cfg->trace_path, strerror(errno));
            rc = DDP_EXIT_USAGE;
        } else {
            fclose(f);
        }
    }
    int64_t cap = (int64_t)INT_MAX / (int64_t)sizeof(ddp_trace_event) / comm->size;
    if (cap > TRACE_MAX_SPANS) cap = TRACE_MAX_SPANS;
    if (rc == DDP_OK && ddp_trace_init(&t->trace, comm->rank, cap, 0.0) != 0) {
        ddp_errf(err, "--trace: cannot allocate room for %lld spans", (long long)cap);
        rc = DDP_EXIT_MEMORY;
    }
    rc = ddp_comm_agree(comm, rc, err);
    if (rc != DDP_OK) return rc;
    ddp_comm_barrier(comm); /* a common origin for every rank's clock */
    t->trace.origin = ddp_now();
    t->timers.trace = &t->trace;
    return DDP_OK;
}

int ddp_train_write_trace(trainer *t, char *err)
{
    if (!t->cfg->trace_path) return DDP_OK;
    void *all = NULL;
    size_t bytes = 0;
    uint64_t dropped_sum = (uint64_t)t->trace.dropped;
    ddp_comm_sum_u64(t->comm, &dropped_sum, 1);
    int64_t dropped = (int64_t)dropped_sum;
    int rc = ddp_comm_gather_bytes(t->comm, t->trace.events, (size_t)t->trace.n * sizeof(ddp_trace_event), &all,
                                   &bytes, err);
    if (rc != DDP_OK) return rc;
    if (t->comm->rank == 0) {
        FILE *f = fopen(t->cfg->trace_path, "w");
        int bad = !f || ddp_trace_write_json(f, all, (int64_t)(bytes / sizeof(ddp_trace_event)), DDP_PHASE_NAMES,
                                             DDP_PHASE_COUNT, t->comm->size, dropped) != 0;
        if (f && fclose(f) != 0) bad = 1;
        if (bad) {
            ddp_errf(err, "--trace %s: writing failed (%s)", t->cfg->trace_path, strerror(errno));
            rc = DDP_EXIT_IO;
        } else if (!t->cfg->quiet) {
            printf("trace: %s (%lld spans from %d ranks%s; open it in ui.perfetto.dev)\n", t->cfg->trace_path,
                   (long long)(bytes / sizeof(ddp_trace_event)), t->comm->size, dropped ? ", some dropped" : "");
        }
    }
    free(all);
    return ddp_comm_agree(t->comm, rc, err);
}

static void teardown(trainer *t)
{
    if (t->lock_fd >= 0) close(t->lock_fd);
    if (t->metrics) fclose(t->metrics);
    ddp_trace_free(&t->trace);
    free(t->scratch);
    free(t->prev_params);
    free(t->thread_parts);
    free(t->grad_mean);
    free(t->reduce_buf);
    free(t->requests);
    free(t->grad_sum);
    free(t->std_scale);
    free(t->std_mean);
    ddp_sampler_free(&t->sampler);
    ddp_optim_free(&t->backup);
    ddp_optim_free(&t->opt);
    ddp_model_free(&t->model);
    ddp_data_free(&t->val);
    ddp_data_free(&t->train);
}

/* ------------------------------------------------------------- reporting */

/* Rank 0, once: the threads x ranks vs cores warning, and under Slurm a
 * {"kind":"cluster",...} record opening the metrics file. */
static void report_cluster(const trainer *t)
{
    ddp_cluster cl;
    ddp_cluster_detect(ddp_cluster_getenv, NULL, &cl);
    char line[DDP_ERR_LEN];
    if (ddp_cluster_check_fit(&cl, t->n_threads, t->comm->local_size, (int)sysconf(_SC_NPROCESSORS_ONLN), line,
                              sizeof line))
        fprintf(stderr, "ddptrain: warning: %s\n", line);
    /* mpirun binds each rank to ONE core by default for 1-2 ranks: more
     * threads than the binding allows then share that core */
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && t->n_threads > CPU_COUNT(&set))
        fprintf(stderr, "ddptrain: warning: %d threads but this rank is bound to %d CPU(s), so they share them; "
                "give each rank its cores (mpirun --bind-to none, or --map-by slot:PE=%d; srun -c %d)\n",
                t->n_threads, CPU_COUNT(&set), t->n_threads, t->n_threads);
    if (t->metrics && cl.slurm) {
        ddp_cluster_json_fields(&cl, line, sizeof line);
        fprintf(t->metrics, "{\"kind\":\"cluster\",%s,\"ranks\":%d,\"threads\":%d,\"ranks_on_node\":%d}\n", line,
                t->comm->size, t->n_threads, t->comm->local_size);
    }
}

/* the OpenMP library the build links (CMakeLists.txt, DDP_OPENMP_RUNTIME) */
#ifndef DDP_OMP_RUNTIME
#define DDP_OMP_RUNTIME "the compiler's"
#endif

/* The start-up table's "openmp" line: the team every parallel region
 * gets, its runtime, and how its threads are placed (README: Threads and
 * binding). */
static void print_openmp(void)
{
#ifdef _OPENMP
    const char *bind = getenv("OMP_PROC_BIND"), *places = getenv("OMP_PLACES");
    int team = omp_get_max_threads();
    printf("  %-14s %d thread%s in every parallel region (runtime: %s); OMP_PROC_BIND=%s OMP_PLACES=%s%s\n",
           "openmp", team, team == 1 ? "" : "s", DDP_OMP_RUNTIME, bind ? bind : "(unset)", places ? places : "(unset)",
           team > 1 && !bind ? " (threads may move between cores: OMP_PROC_BIND=close OMP_PLACES=cores)" : "");
#else
    printf("  %-14s not compiled in: 1 thread\n", "openmp");
#endif
}

static void print_startup(const trainer *t)
{
    const ddp_config *cfg = t->cfg;
    ddp_stat3 rows = ddp_comm_stat3(t->comm, (double)t->train.n_local);
    ddp_stat3 mb = ddp_comm_stat3(t->comm, (double)t->train.bytes_read / 1e6);
    double mine = t->train.load_seconds > 0 ? (double)t->train.bytes_read / 1e9 / t->train.load_seconds : 0;
    ddp_stat3 gbps = ddp_comm_stat3(t->comm, mine);
    if (t->comm->rank != 0) return;
    report_cluster(t);
    if (cfg->quiet) return;
    const ddp_optim_config *o = &cfg->optim;
    ddp_thread_source src = DDP_THREADS_OMP;
    if (cfg->threads <= 0) default_threads_from(&src);
    char where[256];
    ddp_cluster cl;
    ddp_cluster_detect(ddp_cluster_getenv, NULL, &cl);
    ddp_cluster_describe(&cl, where, sizeof where);
    printf("ddptrain %s train\n", DDP_VERSION_STRING);
    printf("  %-14s %d ranks x %d threads (threads from %s), %d ranks on this node of %ld cores\n", "parallelism",
           t->comm->size, t->n_threads, cfg->threads > 0 ? "--threads" : ddp_cluster_thread_source_name(src),
           t->comm->local_size, sysconf(_SC_NPROCESSORS_ONLN));
    print_openmp();
    printf("  %-14s %s\n", "scheduler", where);
    ddp_comm_describe(t->comm, where, sizeof where);
    printf("  %-14s %s\n", "mpi", where);
    printf("  %-14s %s %s [%lld, %lld]  rows/rank min %.0f avg %.1f max %.0f  virtual shards %lld\n", "data",
           cfg->data_path, cfg->features_name, (long long)t->train.n_rows, (long long)t->train.n_features, rows.min,
           rows.avg, rows.max, (long long)t->train.plan.n_vshards);
    printf("  %-14s MB/rank min %.1f avg %.1f max %.1f  GB/s/rank min %.3f avg %.3f max %.3f\n", "load", mb.min,
           mb.avg, mb.max, gbps.min, gbps.avg, gbps.max);
    if (t->has_val)
        printf("  %-14s %s %s [%lld, %lld]\n", "validation", cfg->val_path, cfg->val_features,
               (long long)t->val.n_rows, (long long)t->val.n_features);
    printf("  %-14s %s (%s), %lld parameters", "model", ddp_task_name(cfg->task),
           cfg->task == DDP_TASK_LINEAR ? "MSE" : cfg->task == DDP_TASK_LOGISTIC ? "BCE with logits" : "cross-entropy",
           (long long)t->model.n_params);
    if (cfg->task == DDP_TASK_SOFTMAX) printf(", %lld classes", (long long)t->model.n_out);
    for (int k = 0; k < t->model.n_tensors; k++) {
        const ddp_tensor *tt = &t->model.tensors[k];
        printf("%s %s [%lld", k ? "," : ":", tt->name, (long long)tt->shape[0]);
        if (tt->n_dims > 1) printf(", %lld", (long long)tt->shape[1]);
        printf("]%s", tt->frozen ? " (frozen)" : "");
    }
    printf("\n  %-14s %s lr %g", "optimizer", ddp_optim_name(o->kind), o->lr);
    if (o->kind == DDP_OPT_SGD) printf(" momentum %g dampening %g nesterov %d", o->momentum, o->dampening, o->nesterov);
    if (o->kind == DDP_OPT_ADAM || o->kind == DDP_OPT_ADAMW)
        printf(" betas (%g, %g) eps %g amsgrad %d", o->beta1, o->beta2, o->eps, o->amsgrad);
    if (o->kind == DDP_OPT_RMSPROP)
        printf(" alpha %g eps %g momentum %g centered %d", o->alpha, o->eps, o->momentum, o->centered);
    printf(" weight_decay %g\n", o->weight_decay);
    printf("  %-14s global batch %lld, %lld steps/epoch, %lld epochs%s%s%s, schedule %s warmup %lld\n", "loop",
           (long long)cfg->batch_size, (long long)ddp_sampler_batches_per_epoch(&t->sampler), (long long)cfg->epochs,
           cfg->shuffle ? ", shuffled" : ", file order", cfg->drop_last ? ", drop last" : "",
           cfg->standardize ? ", standardized" : "",
           cfg->lr.kind == DDP_LR_COSINE ? "cosine" : cfg->lr.kind == DDP_LR_STEP ? "step" : "constant",
           (long long)cfg->lr.warmup_steps);
    fflush(stdout);
}

static void print_weights(const trainer *t)
{
    if (t->comm->rank != 0) return;
    const int64_t max_shown = 64;
    for (int k = 0; k < t->model.n_tensors; k++) {
        const ddp_tensor *tt = &t->model.tensors[k];
        printf("    %s =", tt->name);
        for (int64_t i = 0; i < tt->n_elems && i < max_shown; i++) printf(" %.6g", t->model.params[tt->offset + i]);
        if (tt->n_elems > max_shown) printf(" ... (%lld more)", (long long)(tt->n_elems - max_shown));
        printf("\n");
    }
}

ddp_eval_result ddp_evaluate(const ddp_comm *comm, ddp_task kind, const ddp_model *m, const ddp_dataset *ds,
                            int n_threads)
{
    ddp_batch b = {ds->x, ds->y, NULL, ds->n_local, ds->n_features};
    ddp_eval_sums s;
    memset(&s, 0, sizeof s);
    ddp_kernel_eval(kind, &b, m->n_out, m->params, m->params + m->n_out * m->n_features, &s, NULL, n_threads);
    double v[6] = {s.loss_sum, s.n_correct, s.sse, s.sum_y, s.sum_y2, s.count};
    ddp_comm_sum_f64(comm, v, 6);
    ddp_eval_result r = {NAN, NAN, NAN};
    double n = v[5];
    if (n <= 0) return r;
    r.loss = v[0] / n;
    if (kind == DDP_TASK_LINEAR) {
        double ss_tot = v[4] - v[3] * v[3] / n;
        r.metric = sqrt(v[2] / n);
        r.metric2 = ss_tot > 0 ? 1.0 - v[2] / ss_tot : NAN;
    } else {
        r.metric = v[1] / n;
    }
    return r;
}

/* Cross-rank check that parameters are bitwise identical. */
static int check_identical(const trainer *t, int64_t step, char *err)
{
    uint64_t h = UINT64_C(0x9e3779b97f4a7c15);
    for (int64_t i = 0; i < t->model.n_params; i++) {
        uint32_t bits;
        memcpy(&bits, &t->model.params[i], sizeof bits);
        h = ddp_mix64(h ^ bits);
    }
    int64_t lo = (int64_t)(h >> 1), hi = lo;
    ddp_comm_min_i64(t->comm, &lo, 1);
    ddp_comm_max_i64(t->comm, &hi, 1);
    if (lo != hi) {
        ddp_errf(err, "parameters differ across ranks after step %lld (checksum mismatch); this is a bug or a "
                 "hardware fault — please report it", (long long)step);
        return DDP_EXIT_INTERNAL;
    }
    return DDP_OK;
}

/* ----------------------------------------------------------------- train */

typedef struct window {
    double loss_sum; /* sum over steps of the batch mean loss x rows */
    double rows;
    double grad_norm, update_norm; /* last step's */
    int64_t steps, skipped;
    double t0;
    ddp_timers timers_at_start;
} window;

static void window_reset(window *w, const ddp_timers *timers)
{
    memset(w, 0, sizeof *w);
    w->t0 = ddp_now();
    w->timers_at_start = *timers;
}

static void emit_log(trainer *t, const char *kind, int64_t step, int64_t epoch, window *w, double lr,
                     const ddp_eval_result *val)
{
    ddp_log_record r;
    memset(&r, 0, sizeof r);
    r.kind = kind;
    r.step = step;
    r.epoch = epoch;
    r.loss = w->rows > 0 ? w->loss_sum / w->rows : NAN;
    r.val_loss = val ? val->loss : NAN;
    r.val_metric = val ? val->metric : NAN;
    r.val_metric2 = val && t->cfg->task == DDP_TASK_LINEAR ? val->metric2 : NAN;
    r.metric_name = t->cfg->task == DDP_TASK_LINEAR ? "val_rmse" : "val_accuracy";
    r.metric2_name = t->cfg->task == DDP_TASK_LINEAR ? "val_r2" : NULL;
    r.grad_norm = w->grad_norm;
    r.update_norm = w->update_norm;
    r.lr = lr;
    double dt = ddp_now() - w->t0;
    r.samples_per_s = dt > 0 ? w->rows / dt : 0;
    r.skipped_steps = w->skipped;
    t->last_loss = r.loss;
    if (val) {
        t->last_val_loss = val->loss;
        t->last_val_metric = val->metric;
    }
    for (int p = 0; p < DDP_PHASE_COUNT; p++) {
        double mine = t->timers.total[p] - w->timers_at_start.total[p];
        r.phase_seconds[p] = ddp_comm_stat3(t->comm, mine).max; /* slowest rank */
    }
    if (t->comm->rank != 0) return;
    if (!t->cfg->quiet) {
        if (t->bar) printf("\r%*s\r", 100, "");
        ddp_log_print(stdout, &r);
        if (t->cfg->print_weights) print_weights(t);
        fflush(stdout);
    }
    if (t->metrics) ddp_log_json(t->metrics, &r);
}

int ddp_train_run(const ddp_comm *comm, const ddp_config *cfg, int argc, char **argv, char *err)
{
    trainer t;
    memset(&t, 0, sizeof t);
    t.comm = comm;
    t.cfg = cfg;
    t.last_loss = t.last_val_loss = t.last_val_metric = NAN;
    join_argv(argc, argv, t.command_line, sizeof t.command_line);
    ddp_stopsig_saved saved_signals;
    ddp_stopsig_install(&saved_signals);
    int rc = setup(&t, err);
    if (rc != DDP_OK) goto done;
    print_startup(&t);
    ddp_timers_reset(&t.timers);
    ddp_watchdog_start(comm->rank, cfg->step_timeout);

    int64_t per_epoch = ddp_sampler_batches_per_epoch(&t.sampler);
    int64_t total = per_epoch * cfg->epochs;
    if (cfg->max_steps > 0 && cfg->max_steps < total) total = cfg->max_steps;
    t.lr = cfg->lr;
    if (t.lr.total_steps == 0) t.lr.total_steps = total; /* cosine's horizon is the run's length */

    /* Open MPI hands every rank a pseudo-terminal for stdout, so isatty() is
     * true under mpirun even when the output goes to a file: auto draws the
     * bar only for a direct (singleton) run on a terminal. */
    int want_bar = cfg->progress == 1 ||
                   (cfg->progress == -1 && isatty(STDOUT_FILENO) && !getenv("OMPI_COMM_WORLD_SIZE"));
    t.bar = comm->rank == 0 && !cfg->quiet && want_bar;
    double t_warm = ddp_now();
    ddp_train_warm_up(&t);
    t_warm = ddp_now() - t_warm;
    double best = t.start.best_loss, t_start = ddp_now(), last_bar = 0;
    int64_t step = t.start.step, bad_epochs = t.start.bad_epochs, consecutive_skips = 0;
    int64_t epoch = t.start.epoch, next_epoch = t.start.epoch, next_batch = t.start.batch_in_epoch;
    int64_t last_saved = -1;
    const char *stop_reason = "finished";
    int stopped = 0;
    window log_w, epoch_w;
    window_reset(&log_w, &t.timers);
    for (epoch = t.start.epoch; epoch < cfg->epochs && step < total && !stopped; epoch++) {
        double t_order = ddp_now();
        ddp_sampler_set_epoch(&t.sampler, epoch); /* the epoch's row order: data time */
        ddp_timer_add(&t.timers, DDP_PHASE_DATA, t_order, ddp_now());
        window_reset(&epoch_w, &t.timers);
        for (int64_t k = (epoch == t.start.epoch ? t.start.batch_in_epoch : 0); k < per_epoch && step < total; k++) {
            ddp_step_result s;
            rc = ddp_train_step(&t, epoch, k, step, &s, err);
            if (rc != DDP_OK) goto done;
            if (s.skipped) {
                log_w.skipped++;
                epoch_w.skipped++;
                if (++consecutive_skips >= cfg->max_skips) {
                    ddp_errf(err, "%lld consecutive steps skipped for non-finite loss or gradient (last: step %lld, "
                             "epoch %lld); training is diverging: lower --lr", (long long)consecutive_skips,
                             (long long)step + 1, (long long)epoch);
                    rc = DDP_EXIT_NUMERIC;
                    goto done;
                }
            } else {
                consecutive_skips = 0;
                for (window *w = &log_w; w; w = (w == &log_w ? &epoch_w : NULL)) {
                    w->loss_sum += s.loss * (double)s.rows;
                    w->rows += (double)s.rows;
                    w->grad_norm = s.grad_norm;
                    w->update_norm = s.update_norm;
                    w->steps++;
                }
            }
            step++;
            next_epoch = k + 1 < per_epoch ? epoch : epoch + 1;
            next_batch = k + 1 < per_epoch ? k + 1 : 0;
            if (cfg->check_every > 0 && step % cfg->check_every == 0) {
                rc = check_identical(&t, step, err);
                if (rc != DDP_OK) goto done;
            }
            if (cfg->log_every > 0 && step % cfg->log_every == 0) {
                ddp_eval_result sval = {NAN, NAN, NAN};
                if (t.has_val) {
                    double t_eval = ddp_now();
                    sval = ddp_evaluate(comm, cfg->task, &t.model, &t.val, t.n_threads);
                    ddp_timer_add(&t.timers, DDP_PHASE_EVAL, t_eval, ddp_now());
                }
                emit_log(&t, "step", step, epoch, &log_w, ddp_lr_at(&t.lr, step - 1), t.has_val ? &sval : NULL);
                window_reset(&log_w, &t.timers);
            }
            if (s.stop) { /* every rank saw the flag in the same allreduce */
                stopped = 1;
                break;
            }
            if (cfg->checkpoint && cfg->ckpt_every_steps > 0 && step % cfg->ckpt_every_steps == 0) {
                int wrote = 0;
                rc = ddp_train_save_checkpoint(&t, step, next_epoch, next_batch, best, bad_epochs, 1, &wrote, err);
                if (rc != DDP_OK) goto done;
                if (wrote) last_saved = step; /* a failed periodic save leaves the final save to do */
            }
            if (t.bar && ddp_now() - last_bar > 0.1) {
                last_bar = ddp_now();
                ddp_progress(stdout, step, total, s.loss, last_bar - t_start);
            }
        }
        if (stopped) break;
        /* end of epoch: validation, log, convergence, epoch checkpoints */
        ddp_watchdog_progress(step, "eval");
        double t_eval = ddp_now();
        ddp_eval_result val = {NAN, NAN, NAN};
        if (t.has_val) val = ddp_evaluate(comm, cfg->task, &t.model, &t.val, t.n_threads);
        ddp_timer_add(&t.timers, DDP_PHASE_EVAL, t_eval, ddp_now());
        emit_log(&t, "epoch", step, epoch, &epoch_w, ddp_lr_at(&t.lr, step > 0 ? step - 1 : 0),
                 t.has_val ? &val : NULL);
        double watched = t.has_val ? val.loss : (epoch_w.rows > 0 ? epoch_w.loss_sum / epoch_w.rows : NAN);
        int converged = 0;
        if (cfg->patience > 0 && isfinite(watched)) {
            if (watched < best - cfg->tol) {
                best = watched;
                bad_epochs = 0;
            } else if (++bad_epochs >= cfg->patience) {
                converged = 1;
                stop_reason = "converged";
                if (comm->rank == 0 && !cfg->quiet)
                    printf("converged: %s loss %.6f has not improved by --tol %g for %lld epochs (best %.6f)\n",
                           t.has_val ? "validation" : "training", watched, cfg->tol, (long long)bad_epochs, best);
            }
        }
        if (cfg->checkpoint && cfg->ckpt_every_epochs > 0 && (epoch + 1) % cfg->ckpt_every_epochs == 0 &&
            last_saved != step && next_batch == 0) {
            int wrote = 0;
            rc = ddp_train_save_checkpoint(&t, step, next_epoch, 0, best, bad_epochs, 1, &wrote, err);
            if (rc != DDP_OK) goto done;
            if (wrote) last_saved = step;
        }
        if (converged) {
            epoch++;
            break;
        }
    }
    rc = check_identical(&t, step, err);
    if (rc != DDP_OK) goto done;
    if (comm->rank == 0 && !cfg->quiet) {
        double dt = ddp_now() - t_start;
        printf("done: %s after %lld steps, %lld epochs in %.3f s\n", stopped ? "stopped by a signal" : stop_reason,
               (long long)step, (long long)(stopped ? next_epoch : epoch), dt);
        printf("summary: {\"steps\":%lld,\"epochs\":%lld,\"seconds\":%.6f,\"ranks\":%d,\"threads\":%d,"
               "\"t_warmup\":%.6f",
               (long long)step, (long long)(stopped ? next_epoch : epoch), dt, comm->size, t.n_threads, t_warm);
        for (int p = 0; p < DDP_PHASE_COUNT; p++) printf(",\"t_%s\":%.6f", DDP_PHASE_NAMES[p], t.timers.total[p]);
        ddp_cluster cl;
        char fields[512];
        ddp_cluster_detect(ddp_cluster_getenv, NULL, &cl);
        ddp_cluster_json_fields(&cl, fields, sizeof fields);
        if (cl.slurm) printf(",%s", fields);
        printf("}\n");
    }
    if (cfg->checkpoint && last_saved != step) {
        int wrote = 0;
        rc = ddp_train_save_checkpoint(&t, step, next_epoch, next_batch, best, bad_epochs, 0, &wrote, err);
        if (rc != DDP_OK) goto done;
    }
    if (cfg->save_path && !stopped) {
        ddp_train_state ts = {step, next_epoch, next_batch, cfg->seed, t.train.plan.n_vshards, cfg->batch_size,
                              cfg->shuffle, cfg->drop_last, t.last_loss, t.last_val_loss, t.last_val_metric, best,
                              bad_epochs, cfg->optim.lr, cfg->epochs};
        ddp_ckpt_meta meta = {&ts, &t.opt, cfg->standardize ? t.std_mean : NULL, cfg->standardize ? t.std_scale : NULL,
                              t.command_line};
        double t_save = ddp_now();
        rc = ddp_ckpt_save(comm, cfg->save_path, &t.model, &meta, err);
        ddp_timer_add(&t.timers, DDP_PHASE_CHECKPOINT, t_save, ddp_now());
        if (rc == DDP_OK && comm->rank == 0 && !cfg->quiet) printf("saved: %s\n", cfg->save_path);
        if (rc != DDP_OK) goto done;
    }
    rc = ddp_train_write_trace(&t, err);
    if (rc != DDP_OK) goto done;
    if (stopped) {
        int sig = ddp_stopsig_pending();
        if (cfg->checkpoint)
            ddp_errf(err, "stopped by %s after step %lld; checkpoint written to the series %s: continue with --resume",
                     sig ? ddp_stopsig_name(sig) : "a signal on another rank", (long long)step, cfg->checkpoint);
        else
            ddp_errf(err, "stopped by %s after step %lld; nothing saved (no --checkpoint)",
                     sig ? ddp_stopsig_name(sig) : "a signal on another rank", (long long)step);
        rc = DDP_EXIT_SIGNAL;
    }
done:
    ddp_watchdog_stop();
    ddp_stopsig_restore(&saved_signals);
    teardown(&t);
    return rc;
}
