/* train_step.c — one training step: this rank's rows of the global batch,
 * the fused kernel, the reduction over ranks, the mean gradient and its
 * checks, the optimizer update and its checks.
 *
 * The reduction buffer is [loss | row count | non-finite flag | stop flag |
 * trainable gradient sums], contiguous. Up to --bucket-mb (default 25 MiB,
 * PyTorch DDP's bucket_cap_mb) it is ONE MPI_Allreduce. A larger buffer is
 * cut into buckets that are all started at once as non-blocking
 * allreduces; then, bucket by bucket as each arrives, its mean gradient is
 * checked and the optimizer is applied to its elements while the later
 * buckets are still on the wire (updates are elementwise: the same result
 * as one update of everything). A linear layer's gradient is complete only
 * after the batch's last row, so the optimizer is the compute that can
 * overlap the reduction. With one bucket, the optimizer phase of a model of
 * PAR_OPTIM_ELEMS or more trainable elements runs on the rank's threads
 * (optimize_parallel). */
#include "ddptrain/comm.h"
#include "ddptrain/common.h"
#include "ddptrain/kernels.h"
#include "ddptrain/stopsig.h"
#include "ddptrain/watchdog.h"
#include "train_internal.h"

#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <string.h>

/* Name of the tensor holding parameter element i, and the index inside it. */
static const char *tensor_of(const ddp_model *m, int64_t i, int64_t *inner)
{
    for (int k = 0; k < m->n_tensors; k++)
        if (i >= m->tensors[k].offset && i < m->tensors[k].offset + m->tensors[k].n_elems) {
            *inner = i - m->tensors[k].offset;
            return m->tensors[k].name;
        }
    *inner = i;
    return "?";
}

int64_t ddp_train_bucket_count(int64_t n_active, double bucket_mb, int64_t *bucket_elems)
{
    int64_t total = n_active + RED_EXTRA;
    double cap = bucket_mb * 1048576.0 / (double)sizeof(double);
    int64_t per = cap >= (double)total ? total : (int64_t)cap;
    if (per < RED_EXTRA + 1) per = RED_EXTRA + 1; /* bucket 0 holds the flags and at least one element */
    *bucket_elems = per;
    return (total + per - 1) / per;
}

/* The parameter ranges behind packed gradient positions [p0, p1) (positions
 * count trainable elements in range order). Returns the number written. */
static int slice_ranges(const trainer *t, int64_t p0, int64_t p1, ddp_range *out)
{
    int n = 0;
    int64_t pos = 0;
    for (int r = 0; r < t->n_ranges && pos < p1; r++) {
        int64_t lo = pos > p0 ? pos : p0, hi = pos + t->ranges[r].n_elems < p1 ? pos + t->ranges[r].n_elems : p1;
        if (lo < hi) out[n++] = (ddp_range){t->ranges[r].offset + (lo - pos), hi - lo};
        pos += t->ranges[r].n_elems;
    }
    return n;
}

/* Mean gradient of packed positions [p0, p1) into grad_mean; adds to *gn the
 * squared norm; returns the parameter index of the first non-finite
 * element, or -1. */
static int64_t mean_slice(trainer *t, const double *grads, int64_t p0, int64_t p1, double count, double *gn)
{
    ddp_range rs[DDP_MAX_TENSORS];
    int n = slice_ranges(t, p0, p1, rs);
    int64_t bad = -1, pos = p0;
    for (int r = 0; r < n; r++) {
        float *dst = t->grad_mean + rs[r].offset;
        double sq = ddp_grad_mean(dst, grads + pos, rs[r].n_elems, count);
        if (!isfinite(sq)) /* a non-finite element (or an overflow): find the first */
            for (int64_t i = 0; i < rs[r].n_elems && bad < 0; i++)
                if (!isfinite(dst[i])) bad = rs[r].offset + i;
        *gn += sq;
        pos += rs[r].n_elems;
    }
    return bad;
}

static void apply_slice(trainer *t, int64_t p0, int64_t p1, double lr)
{
    ddp_range rs[DDP_MAX_TENSORS];
    int n = slice_ranges(t, p0, p1, rs);
    ddp_optim_apply(&t->opt, t->model.params, t->grad_mean, lr, rs, n);
}

/* A step whose reduction is one bucket, with at least PAR_OPTIM_ELEMS
 * trainable elements and more than one thread, runs its optimizer phase on
 * the rank's threads, each on its own share (below). B2 (7850 elements),
 * 1 rank x 2 threads, 8 alternated runs: best 0.0669 -> 0.0603 s, the
 * optimizer phase 5.5-5.9 -> 3.9-4.9 ms; the kernel phase fell too, as
 * each core now finds its half of the updated weights in its own cache. Below this size a parallel region
 * costs more than it saves (B1: 257 elements). */
#define PAR_OPTIM_ELEMS 4096

#ifdef _OPENMP
/* The single-bucket optimizer phase on the rank's threads: each copies its
 * share of the parameters to prev_params, takes the mean of its share of
 * the gradient and its squared norm, updates its share and sums the
 * squared change (unless the loss is not finite: then it only takes the
 * mean). A share is updated without waiting to learn whether the others
 * are finite: when one is not, the caller undoes the whole step
 * (--nan-policy skip) or ends the run without saving, as for the serial
 * path, so no barrier is needed between the mean and the update (each
 * barrier cost B2 1.6-2.0 us of its ~95 us steps on this project's VM).
 * When a frozen tensor makes the parameter shares differ from the
 * gradient's, one barrier separates the update from the squared change.
 * The shares are contiguous and summed in thread order, so the result is
 * deterministic for a fixed thread count; the weights are bitwise those of
 * the serial path (every update is elementwise). Sets *gn; *un only when
 * the update was applied; returns the first non-finite gradient element's
 * parameter index, or -1. */
static int64_t optimize_parallel(trainer *t, const double *grads, double count, double lr, int loss_bad, double *gn,
                                 double *un)
{
    ddp_model *m = &t->model;
    double *g_part = t->thread_parts, *u_part = g_part + t->n_threads, *bad_part = u_part + t->n_threads;
    const int same_shares = t->n_active == m->n_params; /* one range: parameter shares = gradient shares */
    int n_team = 1;
#pragma omp parallel num_threads(t->n_threads)
    {
        int u = omp_get_thread_num(), n = omp_get_num_threads();
        if (u == 0) n_team = n;
        int64_t a = m->n_params * u / n, b = m->n_params * (u + 1) / n; /* parameters */
        int64_t q0 = t->n_active * u / n, q1 = t->n_active * (u + 1) / n; /* packed gradient positions */
        if (!loss_bad) memcpy(t->prev_params + a, m->params + a, (size_t)(b - a) * sizeof(float));
        g_part[u] = 0.0;
        bad_part[u] = (double)mean_slice(t, grads, q0, q1, count, &g_part[u]);
        if (!loss_bad) apply_slice(t, q0, q1, lr);
        if (!same_shares) {
#pragma omp barrier /* every share updated before the squared change of other shares */
        }
        u_part[u] = !loss_bad ? ddp_sq_diff(m->params + a, t->prev_params + a, b - a) : 0.0;
    }
    int64_t bad = -1;
    *gn = 0.0;
    *un = 0.0;
    for (int v = 0; v < n_team; v++) {
        *gn += g_part[v];
        *un += u_part[v];
        if (bad < 0 && bad_part[v] >= 0) bad = (int64_t)bad_part[v];
    }
    return bad;
}
#endif

/* Undo everything the step changed: weights and optimizer state. */
static void undo_step(trainer *t)
{
    memcpy(t->model.params, t->prev_params, (size_t)t->model.n_params * sizeof(float));
    ddp_optim_copy_state(&t->opt, &t->backup);
}

/* Start the reduction of red's total elements: one blocking MPI_Allreduce,
 * or with buckets one non-blocking reduction each (t->requests), of which
 * the caller waits for what it needs. */
static void reduction_start(trainer *t, double *red, int64_t total)
{
    const int64_t per = t->bucket_elems;
    if (t->n_buckets == 1) {
        ddp_comm_sum_f64(t->comm, red, (size_t)total);
        return;
    }
    for (int i = 0; i < (int)t->n_buckets; i++) {
        int64_t lo = (int64_t)i * per, n = total - lo < per ? total - lo : per;
        ddp_comm_isum_f64(t->comm, red + lo, (size_t)n, &t->requests[i]);
    }
}

/* The step's kernel over the local rows idx [n_local]: the gradient sums
 * go straight into the reduction buffer when every parameter is trainable
 * (B2's 63 KB copy was 1.4 us a step), otherwise into grad_sum, whose
 * trainable ranges the step packs; returns the rows' loss sum. */
static double run_kernel(trainer *t, const int64_t *idx, int64_t n_local)
{
    const ddp_model *m = &t->model;
    const int64_t F = m->n_features, n_out = m->n_out;
    ddp_batch b = {t->train.x, t->train.y, idx, n_local, F};
    double loss_sum = 0;
    ddp_kernel_grad(t->cfg->task, &b, n_out, m->params, m->params + n_out * F,
                    t->n_active == m->n_params ? t->reduce_buf + RED_EXTRA : t->grad_sum, &loss_sum, t->scratch,
                    t->n_threads);
    return loss_sum;
}

void ddp_train_warm_up(trainer *t)
{
    double *red = t->reduce_buf;
    ddp_watchdog_progress(t->start.step, "warmup");
    run_kernel(t, NULL, 0);
    const int64_t total = t->n_active + RED_EXTRA;
    for (int rep = 0; rep < 2; rep++) {
        memset(red, 0, (size_t)total * sizeof(double));
        reduction_start(t, red, total);
        if (t->n_buckets > 1)
            for (int i = 0; i < (int)t->n_buckets; i++)
                ddp_comm_wait(&t->requests[i]);
    }
}

int ddp_train_step(trainer *t, int64_t epoch, int64_t k, int64_t step, ddp_step_result *res, char *err)
{
    const ddp_config *cfg = t->cfg;
    ddp_model *m = &t->model;
    memset(res, 0, sizeof *res);

    ddp_watchdog_progress(step + 1, "data");
    t->timers.step = step + 1;
    ddp_timer_start(&t->timers, ddp_now());
    int64_t n_local = 0;
    const int64_t *idx = ddp_sampler_local_batch(&t->sampler, k, &n_local);
    ddp_timer_stop(&t->timers, DDP_PHASE_DATA, ddp_now());

    double *red = t->reduce_buf, *grads = red + RED_EXTRA;
    const int all_trainable = t->n_active == m->n_params; /* else the trainable ranges are packed below */
    double loss_sum = run_kernel(t, idx, n_local);
    ddp_timer_stop(&t->timers, DDP_PHASE_COMPUTE, ddp_now());

    /* pack [flags | trainable gradient sums]; start the reduction */
    red[RED_LOSS] = loss_sum;
    red[RED_COUNT] = (double)n_local;
    red[RED_NONFINITE] = isfinite(loss_sum) ? 0.0 : 1.0;
    red[RED_STOP] = ddp_stopsig_pending() ? 1.0 : 0.0;
    int64_t pos = 0;
    for (int r = 0; r < t->n_ranges && !all_trainable; r++) {
        memcpy(grads + pos, t->grad_sum + t->ranges[r].offset, (size_t)t->ranges[r].n_elems * sizeof(double));
        pos += t->ranges[r].n_elems;
    }
    ddp_watchdog_progress(step + 1, "allreduce");
    const int64_t total = t->n_active + RED_EXTRA, per = t->bucket_elems;
    const int n_buckets = (int)t->n_buckets;
    reduction_start(t, red, total);
    if (n_buckets > 1) ddp_comm_wait(&t->requests[0]);
    ddp_timer_stop(&t->timers, DDP_PHASE_ALLREDUCE, ddp_now());
    ddp_watchdog_progress(step + 1, "optimizer");

    /* bucket 0 has arrived: the flags, and the loss */
    double count = red[RED_COUNT];
    res->stop = red[RED_STOP] > 0;
    res->rows = (int64_t)count;
    DDP_ASSERT(count == (double)ddp_sampler_global_batch_rows(&t->sampler, k));
    res->loss = red[RED_LOSS] / count;
    int loss_bad = !isfinite(res->loss) || red[RED_NONFINITE] > 0;
    double lr = ddp_lr_at(&t->lr, step), gn = 0, un = 0;
#ifdef _OPENMP
    const int parallel = n_buckets == 1 && t->n_threads > 1 && t->n_active >= PAR_OPTIM_ELEMS;
#else
    const int parallel = 0;
#endif
    if (!loss_bad && cfg->nan_skip) ddp_optim_copy_state(&t->backup, &t->opt);
    if (!loss_bad && !parallel) memcpy(t->prev_params, m->params, (size_t)m->n_params * sizeof(float));
    int64_t bad = -1;
#ifdef _OPENMP
    if (parallel) bad = optimize_parallel(t, grads, count, lr, loss_bad, &gn, &un);
#endif
    /* bucket by bucket: mean gradient and its check, then the update of its
     * elements; after a non-finite element nothing more is applied */
    for (int i = 0; i < n_buckets && !parallel; i++) {
        if (i > 0) { /* waiting is reduction time (and the watchdog's phase); the rest is the optimizer's */
            ddp_timer_stop(&t->timers, DDP_PHASE_OPTIM, ddp_now());
            ddp_watchdog_progress(step + 1, "allreduce");
            ddp_comm_wait(&t->requests[i]);
            ddp_watchdog_progress(step + 1, "optimizer");
            ddp_timer_stop(&t->timers, DDP_PHASE_ALLREDUCE, ddp_now());
        }
        int64_t p0 = i == 0 ? 0 : (int64_t)i * per - RED_EXTRA;
        int64_t p1 = (int64_t)(i + 1) * per - RED_EXTRA;
        if (p1 > t->n_active) p1 = t->n_active;
        int64_t bad_here = mean_slice(t, grads, p0, p1, count, &gn);
        if (bad < 0) bad = bad_here;
        if (!loss_bad && bad < 0) apply_slice(t, p0, p1, lr);
        if (i + 1 < n_buckets) ddp_comm_progress(t->requests + i + 1, n_buckets - i - 1);
    }
    res->grad_norm = sqrt(gn);
    if (bad >= 0 || loss_bad) {
        /* buckets before the bad one (on the threads: every share) were
         * applied: undo them (--nan-policy skip goes on; otherwise the run
         * ends without saving) */
        if (!loss_bad && cfg->nan_skip) undo_step(t);
        if (cfg->nan_skip) {
            res->skipped = 1;
            ddp_timer_stop(&t->timers, DDP_PHASE_OPTIM, ddp_now());
            return DDP_OK;
        }
        int64_t inner = 0;
        const char *name = bad >= 0 ? tensor_of(m, bad, &inner) : "loss";
        ddp_errf(err, "non-finite %s at step %lld (epoch %lld): loss %g, gradient of '%s' element %lld is %g; lower "
                 "--lr, use --standardize, or --nan-policy skip", bad >= 0 ? "gradient" : "loss",
                 (long long)step + 1, (long long)epoch, res->loss, name, (long long)inner,
                 bad >= 0 ? (double)t->grad_mean[bad] : NAN);
        return DDP_EXIT_NUMERIC;
    }
    ddp_optim_finish(&t->opt);

    if (!parallel) un = ddp_sq_diff(m->params, t->prev_params, m->n_params);
    bad = -1;
    if (!isfinite(un)) /* a non-finite weight (or an overflow): find the first */
        for (int64_t i = 0; i < m->n_params && bad < 0; i++)
            if (!isfinite(m->params[i])) bad = i;
    res->update_norm = sqrt(un);
    ddp_timer_stop(&t->timers, DDP_PHASE_OPTIM, ddp_now());
    if (bad >= 0 && cfg->nan_skip) {
        undo_step(t);
        res->skipped = 1;
        return DDP_OK;
    }
    if (bad >= 0) {
        int64_t inner = 0;
        const char *name = tensor_of(m, bad, &inner);
        ddp_errf(err, "weights diverged at step %lld (epoch %lld): '%s' element %lld became %g after the update "
                 "(lr %g); lower --lr", (long long)step + 1, (long long)epoch, name, (long long)inner,
                 (double)m->params[bad], lr);
        return DDP_EXIT_NUMERIC;
    }
    return DDP_OK;
}
