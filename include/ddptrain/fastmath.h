/* fastmath.h — exp, log and log1p for the kernels' per-row loss math.
 *
 * Why not libm: the fused kernel handles rows in blocks, and a libm call per
 * row stops the compiler from vectorising the block's loss math and makes it
 * save its vector registers around every call; on the logistic benchmark the
 * two calls per row cost a third of the kernel's time. These are inline,
 * branch-free (selects only) and built from adds, multiplies, divisions and
 * 64-bit integer adds and shifts, so a simd loop over a block's rows or a
 * row's classes vectorises with AVX2 or AVX-512.
 *
 * Only the argument ranges the kernels need, each within a few ulp of libm
 * (tests/unit/test_fastmath.c measures the worst case over millions of
 * arguments), NaN in gives NaN out. */
#ifndef DDPTRAIN_FASTMATH_H
#define DDPTRAIN_FASTMATH_H

#include <stdint.h>

/* Bit casts through a union (GNU C and C11 define it): memcpy would take
 * the address of a local, which stops GCC from vectorising an omp simd loop. */
typedef union ddp_fm_bits {
    double d;
    uint64_t u;
} ddp_fm_bits;

static inline double ddp_from_bits(uint64_t u)
{
    ddp_fm_bits b = {.u = u};
    return b.d;
}

static inline uint64_t ddp_to_bits(double d)
{
    ddp_fm_bits b = {.d = d};
    return b.u;
}

/* Adding 1.5 * 2^52 to a double of magnitude below 2^51 rounds it to an
 * integer held in the low mantissa bits: bits(k + SHIFT) = bits(SHIFT) + k. */
#define DDP_FM_SHIFT 0x1.8p52
/* ln 2 split so that k * LN2_HI is exact for |k| < 2^20 */
#define DDP_FM_LN2_HI 0x1.62e42feep-1
#define DDP_FM_LN2_LO 0x1.a39ef35793c76p-33

/* 2^k for an integer-valued double k in [-1022, 1023] */
static inline double ddp_pow2i(double k)
{
    uint64_t biased = ddp_to_bits(k + DDP_FM_SHIFT) - ddp_to_bits(DDP_FM_SHIFT) + 1023u;
    return ddp_from_bits(biased << 52);
}

/* c[0] x^(n-1) + c[1] x^(n-2) + ... + c[n-1], by Horner's rule */
static inline double ddp_horner(double x, const double *c, int n)
{
    double p = c[0];
    for (int i = 1; i < n; i++)
        p = p * x + c[i];
    return p;
}

/* exp's Taylor series to r^13, highest power first: for |r| <= ln2 / 2 the
 * first term left out is below 2^-57 */
static const double ddp_exp_series[14] = {
    1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0, 1.0 / 362880.0,
    1.0 / 40320.0,      1.0 / 5040.0,      1.0 / 720.0,      1.0 / 120.0,     1.0 / 24.0,
    1.0 / 6.0,          0.5,               1.0,              1.0};

/* exp(x) for x <= 0; -inf gives 0, NaN gives NaN. */
static inline double ddp_exp_nonpos(double x)
{
    x = x < -746.0 ? -746.0 : x; /* exp(-746) is below the smallest subnormal; NaN passes */
    double n = (x * 0x1.71547652b82fep0 + DDP_FM_SHIFT) - DDP_FM_SHIFT; /* round(x / ln 2) */
    double r = (x - n * DDP_FM_LN2_HI) - n * DDP_FM_LN2_LO;             /* |r| <= ln2 / 2 */
    double p = ddp_horner(r, ddp_exp_series, 14);
    /* 2^n in two factors, each a normal double even when exp(x) is subnormal */
    double a = (n * 0.5 + DDP_FM_SHIFT) - DDP_FM_SHIFT; /* about n / 2, an integer */
    return p * ddp_pow2i(a) * ddp_pow2i(n - a);
}

/* 1/35, 1/33, ..., 1/3: the series below, highest power first */
static const double ddp_atanh_series[17] = {1.0 / 35.0, 1.0 / 33.0, 1.0 / 31.0, 1.0 / 29.0, 1.0 / 27.0, 1.0 / 25.0,
                                            1.0 / 23.0, 1.0 / 21.0, 1.0 / 19.0, 1.0 / 17.0, 1.0 / 15.0, 1.0 / 13.0,
                                            1.0 / 11.0, 1.0 / 9.0,  1.0 / 7.0,  1.0 / 5.0,  1.0 / 3.0};

/* 2 atanh(s) = log((1 + s) / (1 - s)) for |s| <= 1/3 as a series in s^2:
 * 2 s (1 + s^2/3 + s^4/5 + ...), to the term whose size drops below 2^-57
 * at s = 1/3 (the largest argument any caller passes). */
static inline double ddp_log_ratio(double s)
{
    double z = s * s;
    return 2.0 * s + 2.0 * s * z * ddp_horner(z, ddp_atanh_series, 17);
}

/* log1p(u) for u in [0, 1] (u = exp(-|z|) in the logistic loss); NaN gives NaN.
 * log(1 + u) = 2 atanh(u / (2 + u)), accurate for tiny u too. */
static inline double ddp_log1p_unit(double u)
{
    return ddp_log_ratio(u / (2.0 + u));
}

/* log(x) for x >= 1 (a softmax row's sum of exp(z - max z)); +inf and NaN
 * come back unchanged. x = 2^e f with f in [sqrt(1/2), sqrt(2)), then
 * log f = 2 atanh((f - 1) / (f + 1)) with |(f - 1) / (f + 1)| < 0.172. */
static inline double ddp_log_ge1(double x)
{
    uint64_t bits = ddp_to_bits(x);
    double e = ddp_from_bits(ddp_to_bits(DDP_FM_SHIFT) + (bits >> 52)) - DDP_FM_SHIFT - 1023.0;
    double f = ddp_from_bits((bits & 0x000fffffffffffffu) | 0x3ff0000000000000u); /* [1, 2) */
    int big = f > 0x1.6a09e667f3bcdp0;                                              /* sqrt(2) */
    f = big ? 0.5 * f : f;
    e = big ? e + 1.0 : e;
    double lf = ddp_log_ratio((f - 1.0) / (f + 1.0));
    double r = e * DDP_FM_LN2_HI + (e * DDP_FM_LN2_LO + lf);
    return x < __builtin_inf() ? r : x;
}

#endif
