/* kernels.c — the hot loop: the fused forward + backward of one linear
 * layer with its loss over a selection of rows, for training.
 *
 * ddp_kernel_grad: OpenMP over contiguous static chunks of the selected
 * rows, one accumulator block per thread in the caller's scratch, blocks
 * summed in thread order (by the team after a barrier, or for small models
 * by the caller after the region), so the result is deterministic for a
 * fixed thread count. Each row is read from memory once: all n_out dot
 * products in one pass, then the gradient update while the row is in cache
 * (the row math below: blocking, precision, prefetching and SIMD). The
 * row-at-a-time kernels (the reference gradient the tests hold this one to,
 * and evaluation) are in kernels_rowwise.c; the softmax path for compilers
 * without vector extensions is in kernels_portable.h.
 *
 * Deliberately not here: MPI, HDF5, I/O, allocation, exit. Labels are
 * validated by the data loader; an out-of-range class id here only makes
 * the loss NaN, which the training loop reports as a numeric failure. */
#include "ddptrain/kernels.h"

#include "ddptrain/fastmath.h"
#include "kernels_internal.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Per-thread blocks start on their own cache line (8 doubles = 64 bytes). */
#define LINE_DOUBLES 8

/* ------------------------------------------------------------ row math */

/* Rows of a shuffled batch are scattered over the shard: the hardware
 * prefetcher cannot guess the next one, so each would cost a full memory
 * latency per cache line. Ask for the row PREFETCH_ROWS ahead, every line,
 * into L2 (locality 2, prefetcht1): shuffled 1 KiB rows read at 30 GB/s on
 * 2 threads that way against 25 GB/s with prefetcht2 8 rows ahead (a
 * standalone probe of the pattern; 8, 12, 24 and 32 rows ahead measured
 * within noise of 16 in the kernel for 1 KiB rows and 3 KiB softmax rows).
 * Rows under 1 KiB go SHORT_ROWS_AHEAD ahead instead (one-output models):
 * linear 2 M x 64 (256-byte rows), 2 threads, 56-59 M rows/s at 16 ahead,
 * 61-66 M at 32, 58-63 M at 24, 48 and 64. */
#define PREFETCH_ROWS 16
#define SHORT_ROWS_AHEAD 32
static inline void prefetch_row(const float *x, int64_t n)
{
    const char *p = (const char *)x, *end = (const char *)(x + n);
    for (; p < end; p += 64)
        __builtin_prefetch(p, 0, 2);
}

/* x[r] and y[r], r < n, of the selected rows at positions i + r (idx NULL:
 * row i + r); a short group (n_rows < n) repeats its first row, which the
 * caller gives dz = 0 */
static inline void gather_rows(const float *xs, const float *ys, const int64_t *idx, int64_t F, int64_t i,
                               int n_rows, int n, const float **x, float *y)
{
    for (int r = 0; r < n; r++) {
        int64_t sel = i + (r < n_rows ? r : 0);
        int64_t row = idx ? idx[sel] : sel;
        x[r] = xs + row * F;
        y[r] = ys[row];
    }
}

/* Rows are taken ROW_BLOCK at a time. Their logits share each load of a
 * weight row, with ROW_BLOCK independent sums in flight (one sum alone is a
 * chain of dependent adds, latency-bound); and the gradient update adds all
 * their contributions in one pass, so each accumulator is loaded and stored
 * once per block instead of once per row. A short block (a chunk's tail)
 * repeats its first row with dz = 0, which adds exactly nothing.
 *
 * The row math is float32, as in PyTorch (16 lanes per AVX-512 vector, no
 * conversions): dot products, and the gradient over up to FLUSH_ROWS rows,
 * which is then added into the thread's float64 accumulators. Sums over a
 * whole batch are therefore float64, more accurate than PyTorch's float32
 * GEMM; per-row losses and dz are computed in float64. A flush costs a
 * pass over the thread's accumulators (softmax 784 x 10: 7840 floats, as
 * much as 8 rows of arithmetic): every 256 rows rather than every 64, the
 * softmax kernel measured 3.37-3.47 against 3.00-3.34 M rows/s (2 threads,
 * rows from memory); one-output models flush F floats, and did not move. */
#define ROW_BLOCK 4
#define FLUSH_ROWS 256
/* one-output models: rows per chunk (see grad_rows_one) */
#define CHUNK_ROWS 16
/* inlined into each instruction-set clone of grad_rows (below), so that
 * the loops are vectorised for that clone's instruction set */
#if defined(__GNUC__)
#define DDP_HOT __attribute__((always_inline))
#else
#define DDP_HOT
#endif

/* Dot products in explicit 16-float vectors (GCC/clang vector extensions;
 * each instruction-set clone splits them to its width). Ending a dot product
 * means summing a vector's 16 lanes; the omp simd reduction did that through
 * the stack, one lane at a time (about 100 instructions per block of four
 * rows). sum4 folds four accumulators together instead: 8 shuffles, 4
 * vector adds and 4 scalar adds for all four sums. */
#if ((defined(__GNUC__) && __GNUC__ >= 12) || defined(__clang__)) && !defined(DDP_NO_VEC16)
#define DDP_VEC16 1
typedef float v16f __attribute__((vector_size(64)));
typedef float v16f_u __attribute__((vector_size(64), aligned(4), may_alias)); /* unaligned loads */

/* (macros, not functions: a function returning a 64-byte vector has an
 * ABI that differs between instruction sets, which GCC warns about) */
#define load16(p) (*(const v16f_u *)(p))
/* [lanes 0-7 of a + lanes 8-15 of a, the same of b] */
#define fold_halves(a, b)                                                                                      \
    (__builtin_shufflevector(a, b, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) +                   \
     __builtin_shufflevector(a, b, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31))

/* out[r] = sum of the 16 lanes of a[r], r = 0..3 */
DDP_HOT static inline void sum4(const v16f *a, float *out)
{
    v16f p = fold_halves(a[0], a[1]), q = fold_halves(a[2], a[3]); /* 8 lanes each: a0, a1 | a2, a3 */
    v16f r = __builtin_shufflevector(p, q, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27) +
             __builtin_shufflevector(p, q, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
    v16f t = __builtin_shufflevector(r, r, 0, 1, 4, 5, 8, 9, 12, 13, 0, 1, 4, 5, 8, 9, 12, 13) +
             __builtin_shufflevector(r, r, 2, 3, 6, 7, 10, 11, 14, 15, 2, 3, 6, 7, 10, 11, 14, 15);
    out[0] = t[0] + t[1], out[1] = t[2] + t[3], out[2] = t[4] + t[5], out[3] = t[6] + t[7];
}
#endif

/* out[r] = w . x[r], r < 4. pf, if not NULL, are 4 rows wanted soon: a
 * line of each is requested per vector step (see grad_rows_one), the rest
 * of them after the loop. */
DDP_HOT static inline void dots_block(const float *restrict w, const float *const *x, int64_t n, double *out,
                                      const float *const *pf)
{
    const float *restrict x0 = x[0], *restrict x1 = x[1], *restrict x2 = x[2], *restrict x3 = x[3];
    float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
    int64_t j = 0;
#ifdef DDP_VEC16
    if (n >= 16) {
        v16f v[4] = {{0}, {0}, {0}, {0}};
        for (; j + 16 <= n; j += 16) {
            if (pf) {
                __builtin_prefetch(pf[0] + j, 0, 2), __builtin_prefetch(pf[1] + j, 0, 2);
                __builtin_prefetch(pf[2] + j, 0, 2), __builtin_prefetch(pf[3] + j, 0, 2);
            }
            v16f wj = load16(w + j);
            v[0] += wj * load16(x0 + j);
            v[1] += wj * load16(x1 + j);
            v[2] += wj * load16(x2 + j);
            v[3] += wj * load16(x3 + j);
        }
        float s[4];
        sum4(v, s);
        a0 = s[0], a1 = s[1], a2 = s[2], a3 = s[3];
    }
#endif
    for (int r = 0; pf && r < ROW_BLOCK; r++)
        prefetch_row(pf[r] + j, n - j);
    for (; j < n; j++) {
        float wj = w[j];
        a0 += wj * x0[j];
        a1 += wj * x1[j];
        a2 += wj * x2[j];
        a3 += wj * x3[j];
    }
    out[0] = a0, out[1] = a1, out[2] = a2, out[3] = a3;
}

/* A chunk's losses (summed) for one output (linear: squared error;
 * logistic: BCE with logits), and dloss/dz written over z [CHUNK_ROWS]; rows
 * from n_rows on (a short chunk's padding) get dz = 0 and add no loss. All
 * rows at once in vector lanes: no libm call (fastmath.h). */
DDP_HOT static inline double loss_dz_chunk(ddp_task kind, double *restrict z, const float *restrict y, int n_rows)
{
    double l[CHUNK_ROWS]; /* per row: a reduction in the simd loop would stop GCC vectorising it */
    if (kind == DDP_TASK_LINEAR) {
        DDP_OMP(omp simd)
        for (int r = 0; r < CHUNK_ROWS; r++) {
            double res = z[r] - (double)y[r];
            l[r] = res * res;
            z[r] = 2.0 * res;
        }
    } else if (kind == DDP_TASK_LOGISTIC) {
        /* max(z,0) - z y + log1p(e) and sigmoid(z) - y, sharing e = exp(-|z|);
         * neither overflows for any z */
        DDP_OMP(omp simd)
        for (int r = 0; r < CHUNK_ROWS; r++) {
            double zr = z[r], yr = (double)y[r];
            double e = ddp_exp_nonpos(-fabs(zr));
            l[r] = (zr > 0 ? zr : 0.0) - zr * yr + ddp_log1p_unit(e);
            z[r] = (zr >= 0 ? 1.0 : e) / (1.0 + e) - yr;
        }
    } else {
        return NAN;
    }
    double loss = 0.0;
    for (int r = 0; r < CHUNK_ROWS; r++) {
        loss += r < n_rows ? l[r] : 0.0;
        z[r] = r < n_rows ? z[r] : 0.0;
    }
    return loss;
}

/* gf += sum_r d[r] x_r over 8 rows: each accumulator loaded and stored once */
DDP_HOT static inline void axpy_rows8(float *restrict gf, const double *d, const float *const *x, int64_t n)
{
    const float *restrict x0 = x[0], *restrict x1 = x[1], *restrict x2 = x[2], *restrict x3 = x[3];
    const float *restrict x4 = x[4], *restrict x5 = x[5], *restrict x6 = x[6], *restrict x7 = x[7];
    const float d0 = (float)d[0], d1 = (float)d[1], d2 = (float)d[2], d3 = (float)d[3];
    const float d4 = (float)d[4], d5 = (float)d[5], d6 = (float)d[6], d7 = (float)d[7];
    DDP_OMP(omp simd)
    for (int64_t j = 0; j < n; j++)
        gf[j] += (d0 * x0[j] + d1 * x1[j] + d2 * x2[j] + d3 * x3[j]) +
                 (d4 * x4[j] + d5 * x5[j] + d6 * x6[j] + d7 * x7[j]);
}

#ifdef DDP_VEC16
#define store16(p, v) (*(v16f_u *)(p) = (v))
/* Softmax logits: up to CLASS_GROUP classes at a time over a block's 4
 * rows, 20 dot-product sums in registers (9 loads per 20 FMAs, against 6
 * per 8 with two classes at a time). nc is a constant at every call
 * (CLASS_CASES), so the class loops unroll. Measured against two and four
 * classes at a time (784 features, 10 classes, batch 256): 1 thread, rows
 * in L3, 2.00-2.01 -> 2.22 M rows/s; from memory 1.50-1.52 -> 1.76-1.82 M
 * rows/s. (GCC keeps one row vector on the stack in the logit loop, which
 * has 25 live vectors; groups of 4 classes measured the same.) The
 * gradient goes a panel of rows at a time (panel_axpy, below).
 *
 * The rows ahead are requested during the gradient pass, a line of each
 * per vector step. Requested during the logit pass instead (as until
 * 2026-11-24), many of them did not arrive in time: from memory, one
 * thread ran at 1.8-1.9 M rows/s whatever the arithmetic cost (a faster
 * kernel in L3 was not faster from memory), about one memory latency per
 * row above its in-L3 time; asking again one block ahead during the
 * gradient pass took it to 2.1-2.3 M. With the requests in the gradient
 * pass alone (784 features, kernel_bench, 2 threads, rows from memory): 10
 * classes 3.40-3.58 -> 3.75-3.94 M rows/s, 2 classes 5.3-6.2 -> 5.9-6.7 M,
 * 20 classes and 64 features x 3 classes unchanged. (The logit pass
 * streams the weights through L1, which cannot hold them with the
 * gradient sums; we have no hardware counters on this VM to say which
 * queue dropped the requests.) */
#define CLASS_GROUP 5

/* out[c][r] = w_c . x_r for the nc weight rows w + c F */
DDP_HOT static inline void dots_group(const float *restrict w, int64_t F, int nc, const float *const *x, int64_t n,
                                      double *out /* [CLASS_GROUP][ROW_BLOCK] */)
{
    const float *restrict x0 = x[0], *restrict x1 = x[1], *restrict x2 = x[2], *restrict x3 = x[3];
    v16f acc[CLASS_GROUP][ROW_BLOCK];
    for (int c = 0; c < nc; c++)
        for (int r = 0; r < ROW_BLOCK; r++)
            acc[c][r] = (v16f){0};
    int64_t j = 0;
    for (; j + 16 <= n; j += 16) {
        v16f r0 = load16(x0 + j), r1 = load16(x1 + j), r2 = load16(x2 + j), r3 = load16(x3 + j);
        for (int c = 0; c < nc; c++) {
            v16f wc = load16(w + c * F + j);
            acc[c][0] += wc * r0, acc[c][1] += wc * r1, acc[c][2] += wc * r2, acc[c][3] += wc * r3;
        }
    }
    for (int c = 0; c < nc; c++) {
        float s[ROW_BLOCK];
        sum4(acc[c], s);
        for (int r = 0; r < ROW_BLOCK; r++) {
            for (int64_t t = j; t < n; t++)
                s[r] += w[c * F + t] * x[r][t];
            out[c * ROW_BLOCK + r] = s[r];
        }
    }
}

/* CALL(nc) with nc a constant 1..CLASS_GROUP */
#define CLASS_CASES(nc, CALL)                                                                                  \
    switch (nc) {                                                                                              \
    case 5: CALL(5); break;                                                                                    \
    case 4: CALL(4); break;                                                                                    \
    case 3: CALL(3); break;                                                                                    \
    case 2: CALL(2); break;                                                                                    \
    default: CALL(1); break;                                                                                   \
    }
#endif

#ifdef DDP_VEC16
/* Softmax rows go PANEL_ROWS at a time: the logits and dz of the panel's
 * blocks first (dots_group, block_softmax), then the gradient of the whole
 * panel, whose sums stay in registers over all its rows (panel_axpy).
 * Until 2026-12-05 the gradient went a block of 4 rows at a time, each
 * accumulator loaded and stored once per block (9 loads and 5 stores per
 * 20 multiply-adds). On a Zen 5 class VM (two 512-bit FMA pipes),
 * kernel_bench 784 x 10, batch 256, 4 alternated runs: rows in L2, 1
 * thread 3.10-3.16 -> 3.76-3.85 M rows/s, 2 threads 5.37-5.40 -> 6.18-6.45
 * M; from memory, 2 threads 3.21-3.28 -> 3.81-3.98 M. The trainer's B2, 6
 * alternated runs: 1x2 median 0.0827 -> 0.0718 s, 2x1 0.0939 -> 0.0784 s.
 * Panels of 8 and 32 rows, 2 threads, 4 alternated runs: in L2 5.68-6.17
 * and 6.21-6.36 M rows/s against 5.96-6.99 M for 16; from memory 3.48-3.65
 * and 3.35-3.57 M against 3.51-3.73 M. */
#define PANEL_ROWS 16

/* gf_c += sum_r d[r][c] x_r over a panel's rows, for the nc classes c of a
 * group (d: row r's dz of class c at d[r * ldd + c]). A stripe of 64
 * features of the nc classes is summed in 20 vectors in registers over
 * all PANEL_ROWS rows, then added to gf once: per row, 4 loads of the row,
 * nc broadcasts and 4 nc multiply-adds, and no load or store of gf. pf, if
 * not NULL, are the rows wanted next: a line of each is requested per
 * row step, spread over the work. */
DDP_HOT static inline void panel_axpy(float *restrict gf, int64_t F, int nc, const float *restrict d, int64_t ldd,
                                      const float *const *x, const float *const *pf)
{
    int64_t j = 0;
    for (; j + 64 <= F; j += 64) {
        v16f acc[CLASS_GROUP][4];
        for (int c = 0; c < nc; c++)
            for (int q = 0; q < 4; q++)
                acc[c][q] = (v16f){0};
        for (int r = 0; r < PANEL_ROWS; r++) {
            if (pf) {
                const float *p = pf[r] + j;
                __builtin_prefetch(p, 0, 2), __builtin_prefetch(p + 16, 0, 2);
                __builtin_prefetch(p + 32, 0, 2), __builtin_prefetch(p + 48, 0, 2);
            }
            const float *xr = x[r] + j;
            v16f x0 = load16(xr), x1 = load16(xr + 16), x2 = load16(xr + 32), x3 = load16(xr + 48);
            for (int c = 0; c < nc; c++) {
                v16f e = (v16f){0} + d[r * ldd + c];
                acc[c][0] += e * x0, acc[c][1] += e * x1, acc[c][2] += e * x2, acc[c][3] += e * x3;
            }
        }
        for (int c = 0; c < nc; c++)
            for (int q = 0; q < 4; q++) {
                float *g = gf + c * F + j + 16 * q;
                store16(g, load16(g) + acc[c][q]);
            }
    }
    for (; j + 16 <= F; j += 16) {
        v16f acc[CLASS_GROUP];
        for (int c = 0; c < nc; c++)
            acc[c] = (v16f){0};
        for (int r = 0; r < PANEL_ROWS; r++) {
            if (pf) __builtin_prefetch(pf[r] + j, 0, 2);
            v16f xr = load16(x[r] + j);
            for (int c = 0; c < nc; c++)
                acc[c] += ((v16f){0} + d[r * ldd + c]) * xr;
        }
        for (int c = 0; c < nc; c++)
            store16(gf + c * F + j, load16(gf + c * F + j) + acc[c]);
    }
    for (int r = 0; pf && r < PANEL_ROWS; r++)
        prefetch_row(pf[r] + j, F - j);
    for (; j < F; j++)
        for (int c = 0; c < nc; c++) {
            float s = 0.0f;
            for (int r = 0; r < PANEL_ROWS; r++)
                s += d[r * ldd + c] * x[r][j];
            gf[c * F + j] += s;
        }
}
#endif

/* Softmax cross-entropy of a block's rows [0, n_rows) (kind must be
 * DDP_TASK_SOFTMAX, else NaN): z [ROW_BLOCK][n_out] logits in, dz =
 * softmax(z) - onehot(c) out, in place; returns the sum over the rows of
 * logsumexp(z) - z_c. The padding rows from n_rows on get dz = 0.
 *
 * The exponentials of all the block's ROW_BLOCK * n_out logits go in one
 * vector loop (10 classes: 40 doubles, 5 AVX-512 vectors), not a loop per
 * row (one vector and a scalar remainder of 2 each, as until 2026-12-06):
 * kernel_bench, rows in L2, 1 thread, 3 alternated runs: softmax 784 x 10
 * 3.95-4.17 -> 4.32-4.42 M rows/s; 64 x 3 16.0 -> 23.1-23.2 M. (The
 * rows' logsumexp in one vector loop too measured 4.20-4.32 M.) */
DDP_HOT static inline double block_softmax(ddp_task kind, double *restrict z, int64_t n_out, const float *y,
                                           int n_rows)
{
    const int64_t n = ROW_BLOCK * n_out;
    double m[ROW_BLOCK], zc[ROW_BLOCK], s[ROW_BLOCK];
    int64_t c[ROW_BLOCK];
    for (int r = 0; r < ROW_BLOCK; r++) { /* per row: its max, its class's logit, then z - max (<= 0 or NaN) */
        double *zr = z + r * n_out, mr = zr[0];
        for (int64_t k = 1; k < n_out; k++)
            mr = zr[k] > mr ? zr[k] : mr;
        c[r] = class_of(y[r < n_rows ? r : 0], n_out);
        zc[r] = c[r] >= 0 ? zr[c[r]] : NAN;
        m[r] = mr;
        DDP_OMP(omp simd)
        for (int64_t k = 0; k < n_out; k++)
            zr[k] -= mr;
    }
    DDP_OMP(omp simd)
    for (int64_t e = 0; e < n; e++)
        z[e] = ddp_exp_nonpos(z[e]);
    for (int r = 0; r < ROW_BLOCK; r++) {
        const double *zr = z + r * n_out;
        double sr = 0.0;
        DDP_OMP(omp simd reduction(+ : sr))
        for (int64_t k = 0; k < n_out; k++)
            sr += zr[k];
        s[r] = sr;
    }
    double loss = 0.0;
    for (int r = 0; r < ROW_BLOCK; r++) {
        double *zr = z + r * n_out;
        if (r >= n_rows) {
            memset(zr, 0, (size_t)n_out * sizeof(double));
            continue;
        }
        const double inv = 1.0 / s[r];
        DDP_OMP(omp simd)
        for (int64_t k = 0; k < n_out; k++)
            zr[k] *= inv;
        if (c[r] >= 0) zr[c[r]] -= 1.0;
        loss += kind == DDP_TASK_SOFTMAX ? m[r] + ddp_log_ge1(s[r]) - zc[r] : NAN; /* s >= 1: the max term is 1 */
    }
    return loss;
}


/* A thread's float32 sums go into its float64 sums g every FLUSH_ROWS
 * rows: the first flush sets g = gf, later ones add; gf = 0 after each. The
 * rows after the last flush stay in gf, which the end of ddp_kernel_grad
 * adds when it sums the threads' blocks. So a thread with at most
 * FLUSH_ROWS rows (every thread of B2: 128 rows) neither clears nor writes
 * g; the sums have the same value as flushing everything into a cleared g. */
DDP_HOT static inline void flush(double *restrict g, float *restrict gf, int64_t n, int64_t *n_flushed)
{
    if (*n_flushed == 0) {
        DDP_OMP(omp simd)
        for (int64_t j = 0; j < n; j++) {
            g[j] = (double)gf[j];
            gf[j] = 0.0f;
        }
    } else {
        DDP_OMP(omp simd)
        for (int64_t j = 0; j < n; j++) {
            g[j] += (double)gf[j];
            gf[j] = 0.0f;
        }
    }
    ++*n_flushed;
}

#ifdef DDP_VEC16
/* Softmax over the selected rows [lo, hi), PANEL_ROWS at a time (above):
 * each block of ROW_BLOCK rows gets its logits (dots_group) and its loss
 * and dz (block_softmax; the bias sums take dz in float64), dz is kept in
 * float32 for the panel, then panel_axpy adds the panel's gradient, asking
 * for the next panel's rows. A short panel repeats its first row with
 * dz = 0. z: ROW_BLOCK * n_out doubles, then PANEL_ROWS * n_out floats. */
DDP_HOT static inline double grad_panels(ddp_task kind, const float *restrict xs, const float *restrict ys,
                                         const int64_t *restrict idx, int64_t lo, int64_t hi,
                                         const float *restrict w, const float *restrict b, int64_t F, int64_t n_out,
                                         double *restrict g, float *restrict gf, double *restrict gb,
                                         double *restrict z, int64_t *n_flushed)
{
    const int64_t n_w = n_out * F;
    float *restrict dz = (float *)(z + ROW_BLOCK * n_out); /* [PANEL_ROWS][n_out] */
    double loss = 0.0;
    for (int64_t i = lo; i < hi; i += PANEL_ROWS) {
        int n_rows = hi - i < PANEL_ROWS ? (int)(hi - i) : PANEL_ROWS;
        const float *x[PANEL_ROWS], *pf[PANEL_ROWS];
        float y[PANEL_ROWS];
        gather_rows(xs, ys, idx, F, i, n_rows, PANEL_ROWS, x, y);
        const int ask = idx && i + PANEL_ROWS < hi; /* the next panel's rows, and their labels now */
        for (int r = 0; ask && r < PANEL_ROWS; r++) {
            int64_t q = i + PANEL_ROWS + r < hi ? i + PANEL_ROWS + r : i + PANEL_ROWS;
            pf[r] = xs + idx[q] * F;
            __builtin_prefetch(ys + idx[q], 0, 2);
        }
        for (int r0 = 0; r0 < PANEL_ROWS; r0 += ROW_BLOCK) {
            int nb = n_rows - r0;
            if (nb <= 0) { /* past a short panel's end */
                memset(dz + r0 * n_out, 0, (size_t)(ROW_BLOCK * n_out) * sizeof(float));
                continue;
            }
            if (nb > ROW_BLOCK) nb = ROW_BLOCK;
            for (int64_t k = 0; k < n_out; k += CLASS_GROUP) {
                int nc = n_out - k < CLASS_GROUP ? (int)(n_out - k) : CLASS_GROUP;
                double part[CLASS_GROUP * ROW_BLOCK];
#define DOTS(N) dots_group(w + k * F, F, N, x + r0, F, part)
                CLASS_CASES(nc, DOTS)
#undef DOTS
                for (int c = 0; c < nc; c++)
                    for (int r = 0; r < ROW_BLOCK; r++)
                        z[r * n_out + k + c] = (double)b[k + c] + part[c * ROW_BLOCK + r];
            }
            loss += block_softmax(kind, z, n_out, y + r0, nb);
            for (int64_t c = 0; c < n_out; c++) {
                gb[c] += z[c] + z[n_out + c] + z[2 * n_out + c] + z[3 * n_out + c];
                for (int r = 0; r < ROW_BLOCK; r++)
                    dz[(r0 + r) * n_out + c] = (float)z[r * n_out + c];
            }
        }
        for (int64_t k = 0; k < n_out; k += CLASS_GROUP) {
            int nc = n_out - k < CLASS_GROUP ? (int)(n_out - k) : CLASS_GROUP;
            const float *const *p = ask && k == 0 ? pf : NULL;
#define AXPY(N) panel_axpy(gf + k * F, F, N, dz + k, n_out, x, p)
            CLASS_CASES(nc, AXPY)
#undef AXPY
        }
        if ((i - lo + PANEL_ROWS) % FLUSH_ROWS == 0 && i + PANEL_ROWS < hi) flush(g, gf, n_w, n_flushed);
    }
    return loss;
}
#endif

#ifndef DDP_VEC16
#include "kernels_portable.h" /* grad_blocks: softmax without vector extensions */
#endif

/* One thread's share of a batch: selected rows [lo, hi). Compiled for
 * several instruction sets and picked at load time (GCC's target_clones on
 * x86-64), so a portable binary still uses AVX-512 or AVX2 where the
 * machine has them; -DDDP_NATIVE=ON builds for the build machine only. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define DDP_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define DDP_SIMD_CLONES
#endif

/* every line of the selected rows [i, i + n) (those before hi) and their
 * labels: both are scattered */
static inline void prefetch_rows(const float *xs, const float *ys, const int64_t *idx, int64_t F, int64_t i,
                                 int64_t n, int64_t hi)
{
    for (int64_t q = i; q < i + n && q < hi; q++) {
        prefetch_row(xs + idx[q] * F, F);
        __builtin_prefetch(ys + idx[q], 0, 2);
    }
}

/* Linear and logistic (one output): CHUNK_ROWS rows at a time, in three
 * passes. First every row's logit: the rows come from memory, ROW_BLOCK at a
 * time sharing each weight load, and each vector step requests a line of
 * each of the ROW_BLOCK rows ahead_rows ahead. Then the chunk's losses and
 * dz, all rows in vector lanes. Then the gradient, the chunk's rows still in
 * L1, 8 rows per load and store of each accumulator. Same float32 row math
 * and float64 flushes as grad_panels.
 *
 * Until 2026-12-06 the rows ahead were requested in bursts, each row by a
 * loop over its lines (prefetch_rows) before each block's logits, and all
 * of them again before the gradient (many first requests were dropped).
 * Spread over the logit loop, once, on this Zen 5 class VM, kernel_bench
 * logistic 1 M x 256, batch 1024, alternated runs (M rows/s): 2 threads
 * 17.1-20.2 -> 21.3-22.8 (VM in a slow phase: 8.1-10.6 -> 13.4-22.1 with
 * the bursts unrolled alone), 1 thread 9.5-10.6 -> 13.5-14.3, rows in L2
 * 1 thread 40.7-43.4 -> 58.4-59.1; linear 2 M x 64, batch 4096, 2
 * threads 47.7-55.8 -> 47.9-53.2 (no change); file order (KB_SEQ=1), 2
 * threads, 27.6-29.0 -> 25.8-27.2. Requesting them again, spread over the
 * gradient pass, measured the same as once (20.9-22.3). */
DDP_HOT static inline double grad_rows_one(ddp_task kind, const float *restrict xs, const float *restrict ys,
                                           const int64_t *restrict idx, int64_t lo, int64_t hi,
                                           const float *restrict w, double b, int64_t F,
                                           double *restrict g, float *restrict gf, double *restrict z,
                                           int64_t *n_flushed)
{
    double loss = 0.0, gb = 0.0;
    const int64_t ahead_rows = F * (int64_t)sizeof(float) < 1024 ? SHORT_ROWS_AHEAD : PREFETCH_ROWS;
    memset(gf, 0, (size_t)F * sizeof(float));
    if (idx) prefetch_rows(xs, ys, idx, F, lo, ahead_rows, hi); /* the loop asks ahead_rows ahead */
    for (int64_t i = lo; i < hi; i += CHUNK_ROWS) {
        int n_rows = hi - i < CHUNK_ROWS ? (int)(hi - i) : CHUNK_ROWS;
        const float *x[CHUNK_ROWS];
        float y[CHUNK_ROWS];
        gather_rows(xs, ys, idx, F, i, n_rows, CHUNK_ROWS, x, y);
        for (int r = 0; r < CHUNK_ROWS; r += ROW_BLOCK) {
            const float *pf[ROW_BLOCK]; /* the rows ahead (past hi: the last row again) and their labels */
            for (int q = 0; idx && q < ROW_BLOCK; q++) {
                int64_t ahead = i + ahead_rows + r + q < hi ? idx[i + ahead_rows + r + q] : idx[hi - 1];
                pf[q] = xs + ahead * F;
                __builtin_prefetch(ys + ahead, 0, 2);
            }
            double part[ROW_BLOCK];
            dots_block(w, x + r, F, part, idx ? pf : NULL);
            for (int q = 0; q < ROW_BLOCK; q++)
                z[r + q] = b + part[q];
        }
        loss += loss_dz_chunk(kind, z, y, n_rows);
        for (int r = 0; r < CHUNK_ROWS; r++)
            gb += z[r];
        for (int r = 0; r < CHUNK_ROWS; r += 8)
            axpy_rows8(gf, z + r, x + r, F);
        if ((i - lo + CHUNK_ROWS) % FLUSH_ROWS == 0 && i + CHUNK_ROWS < hi) flush(g, gf, F, n_flushed);
    }
    g[F] = gb;
    return loss;
}

DDP_SIMD_CLONES
static double grad_rows(ddp_task kind, const float *restrict xs, const float *restrict ys,
                        const int64_t *restrict idx, int64_t lo, int64_t hi, const float *restrict w,
                        const float *restrict b, int64_t F, int64_t n_out, double *restrict g,
                        float *restrict gf, double *restrict z, int64_t *n_flushed)
{
    if (n_out == 1 && (kind == DDP_TASK_LINEAR || kind == DDP_TASK_LOGISTIC))
        return grad_rows_one(kind, xs, ys, idx, lo, hi, w, (double)b[0], F, g, gf, z, n_flushed);
    const int64_t n_w = n_out * F;
    memset(gf, 0, (size_t)n_w * sizeof(float));
    memset(g + n_w, 0, (size_t)n_out * sizeof(double)); /* the bias sums (float64 throughout) */
#ifdef DDP_VEC16
    return grad_panels(kind, xs, ys, idx, lo, hi, w, b, F, n_out, g, gf, g + n_w, z, n_flushed);
#else
    return grad_blocks(kind, xs, ys, idx, lo, hi, w, b, F, n_out, g, gf, z, n_flushed);
#endif
}

/* ------------------------------------------------------------- scratch */

/* per-thread logits: a block's (ROW_BLOCK rows x n_out) and a panel's dz,
 * or a chunk's */
#ifdef DDP_VEC16
#define PANEL_FLOATS(n_out) (PANEL_ROWS * (n_out))
#else
#define PANEL_FLOATS(n_out) 0
#endif
static int64_t z_elems(int64_t n_out)
{
    int64_t n = ROW_BLOCK * n_out + (PANEL_FLOATS(n_out) + 1) / 2; /* + a panel's float dz (softmax) */
    return n > CHUNK_ROWS ? n : CHUNK_ROWS;
}

/* A thread's block: its float64 sums g [n_params], a block's logits z,
 * its loss sum, its flush count, then its float32 sums gf (2 per double). */
#define BLOCK_LOSS(z, n_out) ((z)[z_elems(n_out)])
#define BLOCK_FLUSHES(z, n_out) ((z)[z_elems(n_out) + 1])
#define BLOCK_GF(z, n_out) ((float *)((z) + z_elems(n_out) + 2))
static int64_t block_stride(int64_t n_params, int64_t n_out)
{
    int64_t n = n_params + z_elems(n_out) + 2 + (n_params + 1) / 2;
    return (n + LINE_DOUBLES - 1) / LINE_DOUBLES * LINE_DOUBLES;
}

int64_t ddp_kernel_scratch_elems(int64_t n_params, int n_out, int n_threads)
{
    if (n_threads < 1) n_threads = 1;
    /* + one line of slack so the blocks can start on a 64-byte boundary */
    return (int64_t)n_threads * block_stride(n_params, n_out) + LINE_DOUBLES;
}

static double *align_line(double *p)
{
    uintptr_t a = ((uintptr_t)p + 63u) & ~(uintptr_t)63u;
    return (double *)a;
}

/* dst[p] = (first ? 0 : dst[p]) + a thread block's sum of element p, for
 * p in [lo, hi): a weight's is its float64 sum g (if the thread flushed)
 * plus its float32 rest gf; a bias's (p >= n_w) is its g. (first: 0.0 + v,
 * as the sum over threads was always started.) */
static void add_block(double *restrict dst, const double *restrict g, const float *restrict gf, int flushed,
                      int64_t lo, int64_t hi, int64_t n_w, int first)
{
    const int64_t mid = hi < n_w ? hi : n_w;
    if (flushed) {
        DDP_OMP(omp simd)
        for (int64_t p = lo; p < mid; p++)
            dst[p] = (first ? 0.0 : dst[p]) + (g[p] + (double)gf[p]);
    } else {
        DDP_OMP(omp simd)
        for (int64_t p = lo; p < mid; p++)
            dst[p] = (first ? 0.0 : dst[p]) + (double)gf[p];
    }
    for (int64_t p = mid > lo ? mid : lo; p < hi; p++)
        dst[p] = (first ? 0.0 : dst[p]) + g[p];
}

/* ----------------------------------------------------------- gradients */

/* grad[p] = the sum over the n_team blocks, in thread order (deterministic
 * for a fixed team), of element p, for p in [p0, p1) */
#define SERIAL_SUM_PARAMS 4096
static void sum_blocks(double *grad, double *base, int64_t stride, int n_team, int64_t n_out, int64_t n_params,
                       int64_t F, int64_t p0, int64_t p1)
{
    for (int u = 0; u < n_team; u++) {
        double *gu = base + (int64_t)u * stride, *zu = gu + n_params;
        add_block(grad, gu, BLOCK_GF(zu, n_out), BLOCK_FLUSHES(zu, n_out) > 0, p0, p1, n_out * F, u == 0);
    }
}

void ddp_kernel_grad(ddp_task kind, const ddp_batch *batch, int64_t n_out, const float *w,
                     const float *b, double *grad, double *loss_sum, double *scratch, int n_threads)
{
    const int64_t F = batch->n_features, n_idx = batch->n_idx;
    const int64_t n_params = n_out * F + n_out, stride = block_stride(n_params, n_out);
    const float *restrict xs = batch->x;
    const float *restrict ys = batch->y;
    const int64_t *restrict idx = batch->idx;
    double *base = align_line(scratch);
    if (n_threads < 1) n_threads = 1;
    (void)n_threads; /* unused without OpenMP */

    /* Up to SERIAL_SUM_PARAMS elements, the caller's thread sums the blocks
     * after the region (which ends with the team joined): a barrier inside
     * costs more than the sum. kernel_bench logistic 800 x 256, rows in L2,
     * 2 threads, 9 alternated runs, median: batch 128 25.9 -> 33.0 M rows/s,
     * batch 1024 57.7 -> 63.0 M; from memory (1 M rows, batch 1024) 16.5 ->
     * 16.8 M, within the noise. */
    const int serial_sum = n_params <= SERIAL_SUM_PARAMS;
    int n_used = 1; /* the team's size */
    DDP_OMP(omp parallel num_threads(n_threads))
    {
        int t = 0, n_team = 1;
        team_slot(&t, &n_team);
        double *restrict g = base + (int64_t)t * stride;
        double *restrict z = g + n_params;
        int64_t lo, hi;
        chunk(n_idx, t, n_team, &lo, &hi);
        int64_t n_flushed = 0;
        BLOCK_LOSS(z, n_out) = grad_rows(kind, xs, ys, idx, lo, hi, w, b, F, n_out, g, BLOCK_GF(z, n_out), z,
                                         &n_flushed);
        BLOCK_FLUSHES(z, n_out) = (double)n_flushed;
        if (t == 0) n_used = n_team;
        if (!serial_sum) {
            DDP_OMP(omp barrier)
            /* each thread sums its static share of the elements over the
             * blocks, which are complete at the barrier above and only
             * read; the region's end joins the team */
            int64_t p0, p1;
            chunk(n_params, t, n_team, &p0, &p1);
            sum_blocks(grad, base, stride, n_team, n_out, n_params, F, p0, p1);
        }
    }
    if (serial_sum) sum_blocks(grad, base, stride, n_used, n_out, n_params, F, 0, n_params);
    double s = 0.0;
    for (int u = 0; u < n_used; u++)
        s += BLOCK_LOSS(base + (int64_t)u * stride + n_params, n_out);
    *loss_sum = s;
}
