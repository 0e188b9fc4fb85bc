/* kernels.h — the hot loops: fused forward + backward of a linear layer with
 * its loss, over a selection of rows, multi-threaded with OpenMP.
 *
 * Each kernel reads every selected row ONCE for all outputs, and returns
 *   *loss_sum  = sum over the selected rows of the per-row loss,
 *   grad[]     = sum over the selected rows of d loss_row / d params
 * in the model's parameter layout (weight [n_out, F] then bias [n_out]);
 * the mean over the global batch is taken by the caller after the allreduce.
 * The fast kernel does dot products and up to 64 rows of gradient in
 * float32 (like PyTorch), then accumulates in double; losses and dz are
 * double; the *_ref versions are double throughout. Per-row losses
 * (PyTorch's definitions):
 *   linear    MSE               (z - y)^2                      dz = 2 (z - y)
 *   logistic  BCE with logits   max(z,0) - z y + log1p(exp(-|z|))  dz = sigmoid(z) - y
 *   softmax   cross-entropy     logsumexp(z) - z_y             dz = softmax(z) - onehot(y)
 * No MPI, no HDF5, no I/O, no allocation, no exit: the caller sizes the
 * scratch once at set-up. Each kernel has a plain single-threaded reference
 * version (*_ref) kept beside it; tests hold the fast one to the reference
 * and both to finite differences. */
#ifndef DDPTRAIN_KERNELS_H
#define DDPTRAIN_KERNELS_H

#include "ddptrain/config.h"

#include <stdint.h>

typedef struct ddp_batch {
    const float *x;     /* [n_rows_local, n_features] row-major */
    const float *y;     /* [n_rows_local] labels (class ids as exact floats) */
    const int64_t *idx; /* [n_idx] local row indices of the selected rows; NULL = rows 0..n_idx-1 */
    int64_t n_idx;
    int64_t n_features;
} ddp_batch;

/* Per-thread accumulators: ddp_kernel_scratch_elems(n_params, n_threads)
 * doubles, allocated once by the caller. */
int64_t ddp_kernel_scratch_elems(int64_t n_params, int n_out, int n_threads);

/* Fused forward+backward for model `kind` (w: [n_out, F], b: [n_out]).
 * grad: [n_out * F + n_out] doubles, overwritten. n_threads <= the count the
 * scratch was sized for. */
void ddp_kernel_grad(ddp_task kind, const ddp_batch *batch, int64_t n_out, const float *w, const float *b,
                     double *grad, double *loss_sum, double *scratch, int n_threads);
void ddp_kernel_grad_ref(ddp_task kind, const ddp_batch *batch, int64_t n_out, const float *w, const float *b,
                         double *grad, double *loss_sum);

/* Forward only, for evaluation: loss sum and metric sums over the rows.
 *   linear:   sse = sum (z - y)^2, sum_y, sum_y2 (for RMSE and R^2)
 *   logistic/softmax: n_correct (argmax / z > 0 matches the label)
 * out_pred (optional, may be NULL): [n_idx * n_pred] per-row predictions:
 *   linear z; logistic sigmoid(z); softmax the C probabilities. */
typedef struct ddp_eval_sums {
    double loss_sum;
    double n_correct;
    double sse, sum_y, sum_y2;
    double count;
} ddp_eval_sums;
void ddp_kernel_eval(ddp_task kind, const ddp_batch *batch, int64_t n_out, const float *w, const float *b,
                     ddp_eval_sums *sums, float *out_pred, int n_threads);

#endif
