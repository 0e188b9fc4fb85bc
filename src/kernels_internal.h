/* kernels_internal.h — what kernels.c (the fused training kernel) and
 * kernels_rowwise.c (the reference gradient, evaluation) share. Private to
 * src/. */
#ifndef DDPTRAIN_KERNELS_INTERNAL_H
#define DDPTRAIN_KERNELS_INTERNAL_H

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

#endif
