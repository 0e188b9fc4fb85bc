/* kernels_internal.h — what kernels.c (the fused training kernel) and
 * kernels_rowwise.c (the reference gradient, evaluation) share. Private to
 * src/. */
#ifndef DDPTRAIN_KERNELS_INTERNAL_H
#define DDPTRAIN_KERNELS_INTERNAL_H

#include "ddptrain/kernels.h"

#include <math.h>
#include <stdint.h>

#ifdef _OPENMP
#include <omp.h>
#define DDP_OMP(directive) _Pragma(#directive)
#else
#define DDP_OMP(directive)
#endif

/* Class id of a softmax label, or -1 if it is not an integer in [0, C). */
static inline int64_t class_of(float y, int64_t n_classes)
{
    if (!(y >= 0.0f && y < (float)n_classes) || y != floorf(y)) return -1;
    return (int64_t)y;
}

/* This thread's number and the team size (0 of 1 without OpenMP). */
static inline void team_slot(int *t, int *n_team)
{
#ifdef _OPENMP
    *t = omp_get_thread_num();
    *n_team = omp_get_num_threads();
#else
    *t = 0;
    *n_team = 1;
#endif
}

/* Rows [lo, hi) of n split into n_parts contiguous chunks, part t. */
static inline void chunk(int64_t n, int t, int n_parts, int64_t *lo, int64_t *hi)
{
    int64_t q = n / n_parts, r = n % n_parts;
    *lo = q * t + (t < r ? t : r);
    *hi = *lo + q + (t < r ? 1 : 0);
}

/* Per-thread blocks and slots start on their own cache line (8 doubles =
 * 64 bytes). */
#define LINE_DOUBLES 8
/* Float32 sums go into float64 every FLUSH_ROWS rows (kernels.c, above
 * ROW_BLOCK); one-output models take CHUNK_ROWS rows at a time
 * (grad_rows_one). */
#define FLUSH_ROWS 256
#define CHUNK_ROWS 16

/* The selected positions a thread walks, for its requests ahead: [.., hi)
 * of idx, then the positions [next_lo, next_hi) of the work unit it has
 * claimed next (none: next_lo = next_hi). */
typedef struct row_seq {
    const int64_t *idx;
    int64_t hi, next_lo, next_hi;
} row_seq;

/* The rows at selected positions [lo, hi) of a one-output model (linear,
 * logistic): at most FLUSH_ROWS rows, so their float32 sums gf [F] are
 * never flushed; the bias sum into *gb, the loss sum returned; z is the
 * thread's CHUNK_ROWS doubles. Requests ahead run into the positions of
 * `ahead`; burst: request the first rows now (a thread's first unit; the
 * later ones were requested during the unit before). kernels.c. */
double ddp_kernel_unit_rows(ddp_task kind, const float *restrict xs, const float *restrict ys,
                            const int64_t *restrict idx, int64_t lo, int64_t hi, const row_seq *ahead, int burst,
                            const float *restrict w, double b, int64_t F, float *restrict gf, double *gb,
                            double *restrict z);

/* Work units (kernels_units.c): whether a selection of n_idx rows goes in
 * units; the doubles their layout needs for up to max_rows rows (capped:
 * beyond the cap, units are not used); the gradient over units, in the
 * scratch from `base` (64-byte aligned). */
int ddp_kernel_units_use(ddp_task kind, int64_t n_out, int64_t F, int64_t n_idx, int n_threads);
int64_t ddp_kernel_units_scratch(int64_t F, int n_threads, int64_t max_rows);
void ddp_kernel_units_grad(ddp_task kind, const ddp_batch *batch, const float *w, double b, double *grad,
                           double *loss_sum, double *base, int n_threads);

#endif
