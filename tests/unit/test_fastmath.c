/* test_fastmath.c — the kernels' inline exp / log / log1p (fastmath.h) held
 * to libm: the worst error in ulp over millions of arguments spread over
 * each function's whole range, and the special values (NaN, infinities,
 * underflow). */
#include "ddptrain/fastmath.h"

#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* The largest error allowed, in units in the last place of libm's result.
 * Measured worst cases are printed by each test (about 1 ulp). */
#define MAX_ULP 3.0
#define N_ARGS 2000000

/* |got - want| in ulps of want (want finite and normal or zero). */
static double ulp_error(double got, double want)
{
    if (got == want) return 0.0;
    double ulp = nextafter(fabs(want), INFINITY) - fabs(want);
    return fabs(got - want) / ulp;
}

/* i-th of n points spread evenly over [lo, hi], plus a deterministic jitter
 * so the points do not all share low mantissa bits */
static double spread(int64_t i, int64_t n, double lo, double hi)
{
    double t = ((double)i + 0.5 * (double)((i * 2654435761u) % 1000) / 1000.0) / (double)n;
    return lo + (hi - lo) * t;
}

static void test_exp_nonpos_matches_libm(void **state)
{
    (void)state;
    double worst = 0.0, worst_x = 0.0;
    for (int64_t i = 0; i < N_ARGS; i++) {
        /* half of the points near 0 (where the loss lives), half over the range */
        double x = i % 2 ? -spread(i, N_ARGS, 0.0, 40.0) : -spread(i, N_ARGS, 0.0, 708.0);
        double e = ulp_error(ddp_exp_nonpos(x), exp(x));
        if (e > worst) worst = e, worst_x = x;
    }
    printf("exp: worst %.2f ulp at %.17g\n", worst, worst_x);
    assert_true(worst <= MAX_ULP);
    assert_true(ddp_exp_nonpos(0.0) == 1.0);
    assert_true(ddp_exp_nonpos(-0.0) == 1.0);
    assert_true(ddp_exp_nonpos(-INFINITY) == 0.0);
    assert_true(ddp_exp_nonpos(-1e300) == 0.0);
    assert_true(isnan(ddp_exp_nonpos(NAN)));
    /* subnormal results: within a few of the smallest subnormal steps */
    for (double x = -708.5; x > -746.0; x -= 0.37) {
        double got = ddp_exp_nonpos(x), want = exp(x);
        assert_true(fabs(got - want) <= 4.0 * 0x1p-1074 + 4e-16 * want);
    }
}

static void test_log1p_unit_matches_libm(void **state)
{
    (void)state;
    double worst = 0.0, worst_u = 0.0;
    for (int64_t i = 0; i < N_ARGS; i++) {
        /* u = exp(-t): covers [0, 1] the way the logistic loss reaches it */
        double u = i % 2 ? spread(i, N_ARGS, 0.0, 1.0) : exp(-spread(i, N_ARGS, 0.0, 740.0));
        double e = ulp_error(ddp_log1p_unit(u), log1p(u));
        if (e > worst) worst = e, worst_u = u;
    }
    printf("log1p: worst %.2f ulp at %.17g\n", worst, worst_u);
    assert_true(worst <= MAX_ULP);
    assert_true(ddp_log1p_unit(0.0) == 0.0);
    assert_true(fabs(ddp_log1p_unit(0x1p-1070) - 0x1p-1070) <= 0x1p-1074); /* subnormal: halving rounds */
    assert_true(fabs(ddp_log1p_unit(1.0) - M_LN2) <= 2.0 * DBL_EPSILON * M_LN2);
    assert_true(isnan(ddp_log1p_unit(NAN)));
}

static void test_log_ge1_matches_libm(void **state)
{
    (void)state;
    double worst = 0.0, worst_x = 0.0;
    for (int64_t i = 0; i < N_ARGS; i++) {
        /* softmax sums lie in [1, classes]; also far larger values */
        double x = i % 2 ? spread(i, N_ARGS, 1.0, 1000.0) : exp(spread(i, N_ARGS, 0.0, 709.0));
        double e = ulp_error(ddp_log_ge1(x), log(x));
        if (e > worst) worst = e, worst_x = x;
    }
    printf("log: worst %.2f ulp at %.17g\n", worst, worst_x);
    assert_true(worst <= MAX_ULP);
    assert_true(ddp_log_ge1(1.0) == 0.0);
    assert_true(ddp_log_ge1(2.0) == M_LN2);
    assert_true(ddp_log_ge1(DBL_MAX) == log(DBL_MAX));
    assert_true(ddp_log_ge1(INFINITY) == INFINITY);
    assert_true(isnan(ddp_log_ge1(NAN)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exp_nonpos_matches_libm),
        cmocka_unit_test(test_log1p_unit_matches_libm),
        cmocka_unit_test(test_log_ge1_matches_libm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
