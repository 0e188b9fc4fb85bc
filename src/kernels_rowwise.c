/* kernels_rowwise.c — the row-at-a-time kernels: ddp_kernel_grad_ref, the
 * plain single-threaded gradient the tests hold the fused kernel
 * (kernels.c) to, and ddp_kernel_eval, the forward-only pass of evaluation
 * and inference. Softmax in both streams logsumexp over the classes and
 * recomputes logits instead of storing them, so they need no scratch (and
 * the reference shares no code path with the fast kernel's softmax).
 * Deliberately not here: MPI, HDF5, I/O, allocation, exit. */
#include "ddptrain/kernels.h"

#include "kernels_internal.h"

#include <math.h>
#include <string.h>

/* Evaluation has no scratch: per-thread partial sums live on the stack. */
#define EVAL_MAX_THREADS 256

/* Dot product of a float weight row and a float feature row, in double. The
 * simd reduction lets the compiler reorder the sum into vector lanes. */
static inline double dot_fast(const float *restrict w, const float *restrict x, int64_t n)
{
    double acc = 0.0;
    DDP_OMP(omp simd reduction(+ : acc))
    for (int64_t j = 0; j < n; j++)
        acc += (double)w[j] * (double)x[j];
    return acc;
}

static double dot_ref(const float *w, const float *x, int64_t n)
{
    double acc = 0.0;
    for (int64_t j = 0; j < n; j++)
        acc += (double)w[j] * (double)x[j];
    return acc;
}

/* BCE with logits: max(z,0) - z y + log1p(exp(-|z|)); never overflows. */
static inline double bce_logits(double z, double y)
{
    return (z > 0 ? z : 0.0) - z * y + log1p(exp(-fabs(z)));
}

/* 1 / (1 + exp(-z)) without overflow for large |z|. */
static inline double sigmoid(double z)
{
    if (z >= 0) return 1.0 / (1.0 + exp(-z));
    double e = exp(z);
    return e / (1.0 + e);
}

/* Streaming log-sum-exp: feed logits one by one; no storage needed. */
typedef struct lse_acc {
    double max, sum; /* sum of exp(z - max) */
} lse_acc;

static inline void lse_add(lse_acc *a, double z)
{
    if (z > a->max) {
        a->sum = a->sum * exp(a->max - z) + 1.0;
        a->max = z;
    } else {
        a->sum += exp(z - a->max); /* also propagates NaN */
    }
}

void ddp_kernel_grad_ref(ddp_task kind, const ddp_batch *batch, int64_t n_out, const float *w,
                         const float *b, double *grad, double *loss_sum)
{
    const int64_t F = batch->n_features;
    double *gb = grad + n_out * F;
    double loss = 0.0;
    memset(grad, 0, (size_t)(n_out * F + n_out) * sizeof(double));
    for (int64_t i = 0; i < batch->n_idx; i++) {
        int64_t row = batch->idx ? batch->idx[i] : i;
        const float *x = batch->x + row * F;
        double y = (double)batch->y[row];
        if (kind == DDP_TASK_SOFTMAX) {
            /* logsumexp streamed; logits recomputed for the gradient */
            int64_t c = class_of(batch->y[row], n_out);
            lse_acc a = {-INFINITY, 0.0};
            double zc = NAN;
            for (int64_t k = 0; k < n_out; k++) {
                double zk = (double)b[k] + dot_ref(w + k * F, x, F);
                lse_add(&a, zk);
                if (k == c) zc = zk;
            }
            double lse = a.max + log(a.sum);
            loss += lse - zc;
            for (int64_t k = 0; k < n_out; k++) {
                double zk = (double)b[k] + dot_ref(w + k * F, x, F);
                double dz = exp(zk - lse) - (k == c ? 1.0 : 0.0);
                for (int64_t j = 0; j < F; j++)
                    grad[k * F + j] += dz * (double)x[j];
                gb[k] += dz;
            }
        } else {
            double z = (double)b[0] + dot_ref(w, x, F), dz;
            if (kind == DDP_TASK_LINEAR) {
                loss += (z - y) * (z - y);
                dz = 2.0 * (z - y);
            } else if (kind == DDP_TASK_LOGISTIC) {
                loss += bce_logits(z, y);
                dz = sigmoid(z) - y;
            } else {
                loss = NAN;
                continue;
            }
            for (int64_t j = 0; j < F; j++)
                grad[j] += dz * (double)x[j];
            gb[0] += dz;
        }
    }
    *loss_sum = loss;
}

/* ----------------------------------------------------------- evaluation */

typedef struct eval_part {
    double loss_sum, n_correct, sse, sum_y, sum_y2;
    double pad[3]; /* one cache line per thread */
} eval_part;

/* Forward of one row: updates the partial sums, writes n_pred predictions
 * to pred if non-NULL. */
static inline void row_eval(ddp_task kind, const float *restrict x, float yf,
                            const float *restrict w, const float *restrict b, int64_t F,
                            int64_t n_out, eval_part *s, float *restrict pred)
{
    double y = (double)yf;
    if (kind == DDP_TASK_SOFTMAX) {
        int64_t c = class_of(yf, n_out), best = 0;
        lse_acc a = {-INFINITY, 0.0};
        double zc = NAN;
        for (int64_t k = 0; k < n_out; k++) {
            double zk = (double)b[k] + dot_fast(w + k * F, x, F);
            if (zk > a.max) best = k; /* strict: the first max wins ties */
            lse_add(&a, zk);
            if (k == c) zc = zk;
        }
        double lse = a.max + log(a.sum);
        s->loss_sum += lse - zc;
        s->n_correct += (c >= 0 && best == c) ? 1.0 : 0.0;
        if (pred)
            for (int64_t k = 0; k < n_out; k++)
                pred[k] = (float)exp((double)b[k] + dot_fast(w + k * F, x, F) - lse);
        return;
    }
    double z = (double)b[0] + dot_fast(w, x, F);
    if (kind == DDP_TASK_LINEAR) {
        double r = z - y;
        s->loss_sum += r * r;
        s->sse += r * r;
        s->sum_y += y;
        s->sum_y2 += y * y;
        if (pred) pred[0] = (float)z;
    } else if (kind == DDP_TASK_LOGISTIC) {
        s->loss_sum += bce_logits(z, y);
        s->n_correct += ((z > 0) == (y == 1.0)) ? 1.0 : 0.0;
        if (pred) pred[0] = (float)sigmoid(z);
    } else {
        s->loss_sum = NAN;
    }
}

void ddp_kernel_eval(ddp_task kind, const ddp_batch *batch, int64_t n_out, const float *w,
                     const float *b, ddp_eval_sums *sums, float *out_pred, int n_threads)
{
    const int64_t F = batch->n_features, n_idx = batch->n_idx;
    const int64_t n_pred = kind == DDP_TASK_SOFTMAX ? n_out : 1;
    const float *restrict xs = batch->x;
    const float *restrict ys = batch->y;
    const int64_t *restrict idx = batch->idx;
    eval_part parts[EVAL_MAX_THREADS];
    int n_used = 1;
    if (n_threads < 1) n_threads = 1;
    if (n_threads > EVAL_MAX_THREADS) n_threads = EVAL_MAX_THREADS;
    (void)n_threads;

    DDP_OMP(omp parallel num_threads(n_threads))
    {
        int t = 0, n_team = 1;
        team_slot(&t, &n_team);
        eval_part s;
        memset(&s, 0, sizeof s);
        int64_t lo, hi;
        chunk(n_idx, t, n_team, &lo, &hi);
        for (int64_t i = lo; i < hi; i++) {
            int64_t row = idx ? idx[i] : i;
            row_eval(kind, xs + row * F, ys[row], w, b, F, n_out, &s,
                     out_pred ? out_pred + i * n_pred : NULL);
        }
        parts[t] = s;
        if (t == 0) n_used = n_team;
    }

    memset(sums, 0, sizeof *sums);
    for (int u = 0; u < n_used; u++) { /* thread order: deterministic */
        sums->loss_sum += parts[u].loss_sum;
        sums->n_correct += parts[u].n_correct;
        sums->sse += parts[u].sse;
        sums->sum_y += parts[u].sum_y;
        sums->sum_y2 += parts[u].sum_y2;
    }
    sums->count = (double)n_idx;
}
