/* Unit tests for the pieces of loading that need no MPI: the row checksum
 * (order-independent, sensitive to any change or move), the NaN/Inf and label
 * checks per task, checked arithmetic, the counter-based RNG and gen's
 * per-row determinism. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ddptrain/common.h"
#include "ddptrain/data.h"
#include "ddptrain/gen.h"
#include "ddptrain/h5safe.h"
#include "ddptrain/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define R 50
#define F 7

static float g_x[R * F], g_y[R];

static int setup(void **state)
{
    (void)state;
    ddp_rng rng = ddp_rng_make(1, 2);
    for (int i = 0; i < R * F; i++) g_x[i] = (float)ddp_rng_normal(&rng);
    for (int i = 0; i < R; i++) g_y[i] = (float)(i % 3);
    return 0;
}

static void test_checksum(void **state)
{
    (void)state;
    uint64_t whole = ddp_data_checksum(g_x, g_y, 0, R, F);
    /* split anywhere: the parts add up to the whole */
    for (int cut = 0; cut <= R; cut += 7) {
        uint64_t a = ddp_data_checksum(g_x, g_y, 0, cut, F);
        uint64_t b = ddp_data_checksum(g_x + cut * F, g_y + cut, cut, R - cut, F);
        assert_true(a + b == whole);
    }
    /* one flipped bit changes it */
    float x2[R * F], y2[R];
    memcpy(x2, g_x, sizeof x2);
    memcpy(y2, g_y, sizeof y2);
    uint32_t bits;
    memcpy(&bits, &x2[123], 4);
    bits ^= 1;
    memcpy(&x2[123], &bits, 4);
    assert_true(ddp_data_checksum(x2, y2, 0, R, F) != whole);
    /* swapping two rows changes it (row index is hashed) */
    memcpy(x2, g_x, sizeof x2);
    memcpy(x2, g_x + F, F * sizeof(float));
    memcpy(x2 + F, g_x, F * sizeof(float));
    y2[0] = g_y[1];
    y2[1] = g_y[0];
    assert_true(ddp_data_checksum(x2, y2, 0, R, F) != whole);
    /* a duplicated row (row 1 loaded twice, row 2 missing) changes it */
    uint64_t dup = ddp_data_checksum(g_x, g_y, 0, 2, F) + ddp_data_checksum(g_x + F, g_y + 1, 1, 1, F) +
                   ddp_data_checksum(g_x + 3 * F, g_y + 3, 3, R - 3, F);
    assert_true(dup != whole);
    /* a label change changes it */
    memcpy(x2, g_x, sizeof x2);
    memcpy(y2, g_y, sizeof y2);
    y2[10] += 1.0f;
    assert_true(ddp_data_checksum(x2, y2, 0, R, F) != whole);
}

static void test_nonfinite(void **state)
{
    (void)state;
    float x[R * F];
    memcpy(x, g_x, sizeof x);
    int64_t col = -1;
    assert_int_equal(ddp_data_first_nonfinite(x, R, F, &col), -1);
    x[20 * F + 3] = INFINITY;
    x[30 * F + 1] = NAN;
    assert_int_equal(ddp_data_first_nonfinite(x, R, F, &col), 20);
    assert_int_equal(col, 3);
    x[20 * F + 3] = -INFINITY;
    assert_int_equal(ddp_data_first_nonfinite(x, R, F, &col), 20);
    x[20 * F + 3] = 0;
    assert_int_equal(ddp_data_first_nonfinite(x, R, F, &col), 30);
    assert_int_equal(col, 1);
    /* huge but finite values are fine */
    x[30 * F + 1] = 3.0e38f;
    assert_int_equal(ddp_data_first_nonfinite(x, R, F, &col), -1);
}

static void test_labels(void **state)
{
    (void)state;
    float y[6] = {0, 1, 1, 0, 1, 0};
    double bad = 0;
    assert_int_equal(ddp_data_first_bad_label(y, 6, DDP_TASK_LOGISTIC, 0, &bad), -1);
    assert_int_equal(ddp_data_first_bad_label(y, 6, DDP_TASK_SOFTMAX, 2, &bad), -1);
    y[4] = 2;
    assert_int_equal(ddp_data_first_bad_label(y, 6, DDP_TASK_LOGISTIC, 0, &bad), 4);
    assert_true(bad == 2.0);
    assert_int_equal(ddp_data_first_bad_label(y, 6, DDP_TASK_SOFTMAX, 0, &bad), -1); /* C inferred */
    assert_int_equal(ddp_data_first_bad_label(y, 6, DDP_TASK_SOFTMAX, 2, &bad), 4);  /* C = 2 */
    y[2] = 0.5f;
    assert_int_equal(ddp_data_first_bad_label(y, 6, DDP_TASK_SOFTMAX, 0, &bad), 2);
    y[2] = -1;
    assert_int_equal(ddp_data_first_bad_label(y, 6, DDP_TASK_SOFTMAX, 0, &bad), 2);
    assert_int_equal(ddp_data_first_bad_label(y, 6, DDP_TASK_LINEAR, 0, &bad), -1); /* any finite value */
}

static void test_checked_mul(void **state)
{
    (void)state;
    size_t s = 0;
    uint64_t u = 0;
    assert_int_equal(ddp_mul_size(1u << 20, 1u << 20, &s), 0);
    assert_true(s == ((size_t)1 << 40));
    assert_int_equal(ddp_mul_size(SIZE_MAX / 2 + 1, 2, &s), -1);
    assert_int_equal(ddp_mul_u64(UINT64_C(1) << 40, UINT64_C(1) << 23, &u), 0);
    assert_int_equal(ddp_mul_u64(UINT64_C(1) << 40, UINT64_C(1) << 24, &u), -1);
}

static void test_rng(void **state)
{
    (void)state;
    ddp_rng a = ddp_rng_make(5, 9), b = ddp_rng_make(5, 9), c = ddp_rng_make(5, 10), d = ddp_rng_make(6, 9);
    uint64_t xa = ddp_rng_next(&a);
    assert_true(xa == ddp_rng_next(&b));
    assert_true(xa != ddp_rng_next(&c));
    assert_true(xa != ddp_rng_next(&d));
    double sum = 0, sq = 0;
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        double u = ddp_rng_uniform(&a);
        assert_true(u >= 0.0 && u < 1.0);
        double z = ddp_rng_normal(&a);
        sum += z;
        sq += z * z;
        assert_true(ddp_rng_below(&a, 7) < 7);
    }
    assert_true(fabs(sum / n) < 0.01);
    assert_true(fabs(sq / n - 1.0) < 0.02);
}

/* The 32-bit stream is the 64-bit one cut in halves, low half first, and
 * its bounded draws are in range and unbiased, including bounds where about
 * half the draws are rejected. */
static void test_rng32(void **state)
{
    (void)state;
    ddp_rng a = ddp_rng_make(5, 9);
    ddp_rng32 h = ddp_rng32_make(5, 9);
    for (int i = 0; i < 4; i++) {
        uint64_t x = ddp_rng_next(&a);
        assert_true(ddp_rng32_next(&h) == (uint32_t)x);
        assert_true(ddp_rng32_next(&h) == (uint32_t)(x >> 32));
    }
    enum { DRAWS = 300000 };
    int64_t count[3] = {0, 0, 0};
    for (int i = 0; i < DRAWS; i++) {
        uint32_t k = ddp_rng32_below(&h, 3);
        assert_true(k < 3);
        count[k]++;
    }
    for (int k = 0; k < 3; k++) /* 6 standard deviations: sqrt(DRAWS * 1/3 * 2/3) ~ 258 */
        assert_true(llabs(count[k] - DRAWS / 3) < 1550);
    /* n = 3 * 2^30: a quarter of the draws are redrawn. Without that, every
     * k divisible by 3 would have two 32-bit preimages and the others one,
     * so they would come up half of the time instead of a third. */
    const uint32_t n = UINT32_C(0xC0000000);
    int64_t thirds = 0;
    for (int i = 0; i < DRAWS; i++) {
        uint32_t k = ddp_rng32_below(&h, n);
        assert_true(k < n);
        thirds += k % 3 == 0;
    }
    assert_true(llabs(thirds - DRAWS / 3) < 1550);
    assert_true(ddp_rng32_below(&h, 1) == 0);
}

static void test_gen_rows_deterministic(void **state)
{
    (void)state;
    double w[3 * F], b[3], x1[F], x2[F], y1, y2;
    ddp_gen_planted(3, F, 3, w, b);
    /* row 17 is the same whether computed first or after other rows */
    ddp_gen_row(3, 17, DDP_TASK_SOFTMAX, 0.1, F, 3, w, b, x1, &y1);
    ddp_gen_row(3, 16, DDP_TASK_SOFTMAX, 0.1, F, 3, w, b, x2, &y2);
    ddp_gen_row(3, 17, DDP_TASK_SOFTMAX, 0.1, F, 3, w, b, x2, &y2);
    assert_memory_equal(x1, x2, sizeof x1);
    assert_true(y1 == y2 && y1 >= 0 && y1 < 3 && y1 == floor(y1));
    /* logistic labels are 0/1 and follow the planted model (noise-free: agree with sign of logit mostly) */
    int agree = 0;
    for (int64_t r = 0; r < 2000; r++) {
        ddp_gen_row(3, r, DDP_TASK_LOGISTIC, 0.0, F, 1, w, b, x1, &y1);
        double z = b[0];
        for (int j = 0; j < F; j++) z += w[j] * x1[j];
        assert_true(y1 == 0.0 || y1 == 1.0);
        agree += (z > 0) == (y1 == 1.0);
    }
    assert_true(agree > 1400); /* Bernoulli(sigmoid(z)) with |z| ~ 2: ~80% agreement */
}

static void test_plugins_disabled(void **state)
{
    (void)state;
    unsigned int mask = 0xffffffffu;
    ddp_h5_init();
    assert_true(H5PLget_loading_state(&mask) >= 0);
    assert_int_equal(mask, 0); /* no filter plugin can be loaded from HDF5_PLUGIN_PATH */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checksum),     cmocka_unit_test(test_nonfinite),
        cmocka_unit_test(test_labels),       cmocka_unit_test(test_checked_mul),
        cmocka_unit_test(test_rng),          cmocka_unit_test(test_rng32),
        cmocka_unit_test(test_gen_rows_deterministic),
        cmocka_unit_test(test_plugins_disabled),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
