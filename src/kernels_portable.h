/* kernels_portable.h — the softmax path of kernels.c for compilers without
 * GCC/clang vector extensions (DDP_VEC16 undefined; test_kernels_portable
 * builds it with -DDDP_NO_VEC16): 4 rows at a time, two classes per pass for
 * the logits and four for the gradient (grad_block), and grad_blocks, the
 * loop over a thread's rows. With vector extensions the softmax rows go in
 * 16-row panels instead (grad_panels in kernels.c).
 *
 * Not a standalone header: kernels.c includes it once, after its row math
 * (dots_block, block_softmax, prefetch_row, gather_rows, flush and the
 * blocking constants), which it uses. */
#ifndef DDPTRAIN_KERNELS_PORTABLE_H
#define DDPTRAIN_KERNELS_PORTABLE_H

/* gf += sum_r d[r] x_r */
DDP_HOT static inline void axpy_block(float *restrict gf, const double *d, const float *const *x, int64_t n)
{
    const float *restrict x0 = x[0], *restrict x1 = x[1], *restrict x2 = x[2], *restrict x3 = x[3];
    const float d0 = (float)d[0], d1 = (float)d[1], d2 = (float)d[2], d3 = (float)d[3];
    DDP_OMP(omp simd)
    for (int64_t j = 0; j < n; j++)
        gf[j] += d0 * x0[j] + d1 * x1[j] + d2 * x2[j] + d3 * x3[j];
}

/* Two classes at once (softmax): 8 independent sums; each load of a row
 * serves two weight rows and each load of a weight row four rows.
 * pf, if not NULL, is a row wanted soon: one of its lines is requested per
 * vector step, spread over the arithmetic. (Softmax rows are long: asked
 * for in one burst, a block's 4 rows of 784 floats are 196 lines, which fill
 * the core's queue of outstanding misses and stall it; perf put a fifth of
 * the kernel's time on those prefetch instructions. Spread out, the kernel
 * measured 3-9 % faster; the queue is still often full of the weight and
 * gradient lines, which do not fit L1 together.) */
#define DOT_CLASSES 2
DDP_HOT static inline void dots_block2(const float *restrict w, int64_t F, const float *const *x, int64_t n,
                                       double *out /* [DOT_CLASSES][ROW_BLOCK] */, const float *pf)
{
    const float *restrict x0 = x[0], *restrict x1 = x[1], *restrict x2 = x[2], *restrict x3 = x[3];
    const float *restrict w0 = w, *restrict w1 = w + F;
    float a00 = 0, a01 = 0, a02 = 0, a03 = 0, a10 = 0, a11 = 0, a12 = 0, a13 = 0;
    int64_t j = 0;
    if (pf) prefetch_row(pf + j, n - j);
    for (; j < n; j++) {
        float v0 = x0[j], v1 = x1[j], v2 = x2[j], v3 = x3[j], u0 = w0[j], u1 = w1[j];
        a00 += u0 * v0, a01 += u0 * v1, a02 += u0 * v2, a03 += u0 * v3;
        a10 += u1 * v0, a11 += u1 * v1, a12 += u1 * v2, a13 += u1 * v3;
    }
    out[0] = a00, out[1] = a01, out[2] = a02, out[3] = a03, out[4] = a10, out[5] = a11, out[6] = a12, out[7] = a13;
}

/* the gradient pass takes four classes at once (the loads and stores of the
 * accumulators bound it, not the FMAs) */
#define CLASS_BLOCK 4
/* gf_c += sum_r d[c][r] x_r for four consecutive classes c (rows of gf F apart) */
DDP_HOT static inline void axpy_block4(float *restrict gf, int64_t F, const double *d /* [4][ROW_BLOCK] */,
                                       const float *const *x, int64_t n)
{
    const float *restrict x0 = x[0], *restrict x1 = x[1], *restrict x2 = x[2], *restrict x3 = x[3];
    float *restrict g0 = gf, *restrict g1 = gf + F, *restrict g2 = gf + 2 * F, *restrict g3 = gf + 3 * F;
    float e[16];
    for (int i = 0; i < 16; i++)
        e[i] = (float)d[i];
    DDP_OMP(omp simd)
    for (int64_t j = 0; j < n; j++) {
        float v0 = x0[j], v1 = x1[j], v2 = x2[j], v3 = x3[j];
        g0[j] += e[0] * v0 + e[1] * v1 + e[2] * v2 + e[3] * v3;
        g1[j] += e[4] * v0 + e[5] * v1 + e[6] * v2 + e[7] * v3;
        g2[j] += e[8] * v0 + e[9] * v1 + e[10] * v2 + e[11] * v3;
        g3[j] += e[12] * v0 + e[13] * v1 + e[14] * v2 + e[15] * v3;
    }
}

/* Without vector extensions (with them: grad_panels), the fused forward +
 * backward of the first n_rows (1..ROW_BLOCK) rows x[r], labels y[r]:
 * weight gradient into gf [n_out*F] (float), bias gradient into gb [n_out]
 * (double). z is per-thread space of ROW_BLOCK * n_out doubles. Returns
 * the rows' loss sum. */
DDP_HOT static inline double grad_block(ddp_task kind, const float *const *x, const float *const *pf,
                                        const float *y, int n_rows,
                                        const float *restrict w, const float *restrict b, int64_t F,
                                        int64_t n_out, float *restrict gf, double *restrict gb,
                                        double *restrict z)
{
    /* two classes per pass for the logits, four for the gradient */
    double part[DOT_CLASSES * ROW_BLOCK];
    int64_t k = 0;
    int c_pf = 0; /* the next of the pf rows to request: one per pair of classes */
    for (; k + DOT_CLASSES <= n_out; k += DOT_CLASSES) { /* pass 1 over the rows: every logit */
        dots_block2(w + k * F, F, x, F, part, pf && c_pf < ROW_BLOCK ? pf[c_pf] : NULL);
        c_pf++;
        for (int c = 0; c < DOT_CLASSES; c++)
            for (int r = 0; r < ROW_BLOCK; r++)
                z[r * n_out + k + c] = (double)b[k + c] + part[c * ROW_BLOCK + r];
    }
    for (; pf && c_pf < ROW_BLOCK; c_pf++) /* fewer than 2 x ROW_BLOCK classes: the rest at once */
        prefetch_row(pf[c_pf], F);
    for (; k < n_out; k++) {
        dots_block(w + k * F, x, F, part, NULL);
        for (int r = 0; r < ROW_BLOCK; r++)
            z[r * n_out + k] = (double)b[k] + part[r];
    }
    double loss = block_softmax(kind, z, n_out, y, n_rows);
    for (k = 0; k + CLASS_BLOCK <= n_out; k += CLASS_BLOCK) { /* pass 2, rows in cache: the gradient */
        double d[CLASS_BLOCK * ROW_BLOCK];
        for (int c = 0; c < CLASS_BLOCK; c++) {
            for (int r = 0; r < ROW_BLOCK; r++)
                d[c * ROW_BLOCK + r] = z[r * n_out + k + c];
            gb[k + c] += d[c * ROW_BLOCK] + d[c * ROW_BLOCK + 1] + d[c * ROW_BLOCK + 2] + d[c * ROW_BLOCK + 3];
        }
        axpy_block4(gf + k * F, F, d, x, F);
    }
    for (; k < n_out; k++) {
        double d[ROW_BLOCK];
        for (int r = 0; r < ROW_BLOCK; r++)
            d[r] = z[r * n_out + k];
        axpy_block(gf + k * F, d, x, F);
        gb[k] += d[0] + d[1] + d[2] + d[3];
    }
    return loss;
}

/* Softmax over the selected rows [lo, hi), ROW_BLOCK at a time, with the
 * float64 flushes of grad_panels; gf and the bias sums g + n_out F are
 * cleared by the caller (grad_rows). */
DDP_HOT static inline double grad_blocks(ddp_task kind, const float *restrict xs, const float *restrict ys,
                                         const int64_t *restrict idx, int64_t lo, int64_t hi,
                                         const float *restrict w, const float *restrict b, int64_t F, int64_t n_out,
                                         double *restrict g, float *restrict gf, double *restrict z,
                                         int64_t *n_flushed)
{
    const int64_t n_w = n_out * F;
    double loss = 0.0;
    for (int64_t i = lo; i < hi; i += ROW_BLOCK) {
        int n_rows = hi - i < ROW_BLOCK ? (int)(hi - i) : ROW_BLOCK;
        const float *x[ROW_BLOCK];
        float y[ROW_BLOCK];
        gather_rows(xs, ys, idx, F, i, n_rows, ROW_BLOCK, x, y);
        /* the rows PREFETCH_ROWS ahead (grad_block spreads their requests
         * over its work) and their labels (one line each: now) */
        const float *pf[ROW_BLOCK];
        int n_pf = 0;
        for (int r = 0; r < ROW_BLOCK && idx && i + PREFETCH_ROWS + r < hi; r++, n_pf++) {
            int64_t ahead = idx[i + PREFETCH_ROWS + r];
            pf[r] = xs + ahead * F;
            __builtin_prefetch(ys + ahead, 0, 2);
        }
        for (int r = n_pf; r < ROW_BLOCK; r++)
            pf[r] = n_pf ? pf[0] : NULL;
        loss += grad_block(kind, x, n_pf ? pf : NULL, y, n_rows, w, b, F, n_out, gf, g + n_w, z);
        if ((i - lo + ROW_BLOCK) % FLUSH_ROWS == 0 && i + ROW_BLOCK < hi) flush(g, gf, n_w, n_flushed);
    }
    return loss;
}

#endif
