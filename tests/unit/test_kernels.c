/* Unit tests for the loss kernels: the reference gradient against central
 * finite differences of an independent double-precision loss (naive
 * formulas, no stabilisation tricks, so the two share no code); the fast
 * OpenMP kernel against the reference over 1..4 threads and row selections
 * that skip and permute rows, bitwise repeatable per thread count, within
 * its scratch; numerical stability at logits ~1e4; the 3-point regression
 * PyTorch golden numbers; evaluation metrics on hand-computed cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ddptrain/common.h"
#include "ddptrain/kernels.h"
#include "ddptrain/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_THREADS 4

/* A random problem: x [n_rows, F], labels valid for the kind, params
 * uniform in [-scale, scale]. */
typedef struct problem {
    ddp_task kind;
    int64_t n_rows, F, C; /* C = n_out */
    float *x, *y, *params;
} problem;

static problem make_problem(ddp_task kind, int64_t n_rows, int64_t F, int64_t C, uint64_t seed,
                            double scale)
{
    problem p = {kind, n_rows, F, C, NULL, NULL, NULL};
    ddp_rng rng = ddp_rng_make(seed, 17);
    p.x = malloc((size_t)(n_rows * F) * sizeof(float));
    p.y = malloc((size_t)n_rows * sizeof(float));
    p.params = malloc((size_t)(C * F + C) * sizeof(float));
    assert_non_null(p.x);
    assert_non_null(p.y);
    assert_non_null(p.params);
    for (int64_t i = 0; i < n_rows * F; i++)
        p.x[i] = (float)ddp_rng_normal(&rng);
    for (int64_t i = 0; i < n_rows; i++) {
        if (kind == DDP_TASK_LINEAR)
            p.y[i] = (float)(3.0 * ddp_rng_normal(&rng));
        else if (kind == DDP_TASK_LOGISTIC)
            p.y[i] = (float)ddp_rng_below(&rng, 2);
        else
            p.y[i] = (float)ddp_rng_below(&rng, (uint64_t)C);
    }
    for (int64_t i = 0; i < C * F + C; i++)
        p.params[i] = (float)(scale * (2.0 * ddp_rng_uniform(&rng) - 1.0));
    return p;
}

static void free_problem(problem *p)
{
    free(p->x);
    free(p->y);
    free(p->params);
}

/* Independent loss sum in double, straight from the definitions. */
static double loss_double(const problem *p, const int64_t *idx, int64_t n_idx, const double *params)
{
    const int64_t F = p->F, C = p->C;
    const double *w = params, *b = params + C * F;
    double total = 0.0;
    for (int64_t i = 0; i < n_idx; i++) {
        int64_t r = idx ? idx[i] : i;
        const float *x = p->x + r * F;
        double y = p->y[r];
        double z[16];
        assert_true(C <= 16);
        for (int64_t k = 0; k < C; k++) {
            z[k] = b[k];
            for (int64_t j = 0; j < F; j++)
                z[k] += w[k * F + j] * x[j];
        }
        if (p->kind == DDP_TASK_LINEAR) {
            total += (z[0] - y) * (z[0] - y);
        } else if (p->kind == DDP_TASK_LOGISTIC) {
            double s = 1.0 / (1.0 + exp(-z[0]));
            total += -(y * log(s) + (1.0 - y) * log(1.0 - s));
        } else {
            double se = 0.0;
            for (int64_t k = 0; k < C; k++)
                se += exp(z[k]);
            total += log(se) - z[(int64_t)y];
        }
    }
    return total;
}

static void fd_check(ddp_task kind, int64_t C, const int64_t *idx, int64_t n_idx)
{
    problem p = make_problem(kind, 9, 5, C, 100 + (uint64_t)kind, 0.4);
    const int64_t P = C * p.F + C;
    ddp_batch batch = {p.x, p.y, idx, n_idx, p.F};
    double *grad = calloc((size_t)P, sizeof(double)), *pd = calloc((size_t)P, sizeof(double));
    double loss = 0.0;
    ddp_kernel_grad_ref(kind, &batch, C, p.params, p.params + C * p.F, grad, &loss);
    for (int64_t i = 0; i < P; i++)
        pd[i] = p.params[i];
    double l0 = loss_double(&p, idx, n_idx, pd);
    assert_true(fabs(loss - l0) <= 1e-12 * fabs(l0));
    const double h = 1e-5;
    for (int64_t i = 0; i < P; i++) {
        double keep = pd[i];
        pd[i] = keep + h;
        double lp = loss_double(&p, idx, n_idx, pd);
        pd[i] = keep - h;
        double lm = loss_double(&p, idx, n_idx, pd);
        pd[i] = keep;
        double fd = (lp - lm) / (2.0 * h);
        if (!(fabs(fd - grad[i]) <= 1e-6 * (fabs(grad[i]) + 1.0)))
            fail_msg("kind %d param %lld: analytic %.12g, finite difference %.12g", (int)kind,
                     (long long)i, grad[i], fd);
    }
    free(pd);
    free(grad);
    free_problem(&p);
}

static const int64_t SEL[] = {8, 2, 2, 5, 0, 7}; /* permuted, skips rows, one repeat */

static void test_fd_linear(void **state)
{
    (void)state;
    fd_check(DDP_TASK_LINEAR, 1, NULL, 9);
    fd_check(DDP_TASK_LINEAR, 1, SEL, 6);
}

static void test_fd_logistic(void **state)
{
    (void)state;
    fd_check(DDP_TASK_LOGISTIC, 1, NULL, 9);
    fd_check(DDP_TASK_LOGISTIC, 1, SEL, 6);
}

static void test_fd_softmax(void **state)
{
    (void)state;
    fd_check(DDP_TASK_SOFTMAX, 2, NULL, 9);
    fd_check(DDP_TASK_SOFTMAX, 4, NULL, 9);
    fd_check(DDP_TASK_SOFTMAX, 4, SEL, 6);
}

static void assert_close(double got, double want, double rel, const char *what, int64_t i)
{
    if (!(fabs(got - want) <= rel * fabs(want) + 1e-13))
        fail_msg("%s[%lld]: got %.17g, want %.17g", what, (long long)i, got, want);
}

#define GUARD  64
#define CANARY (-12345.678)

/* Fast kernel on `threads` threads with a scratch sized by
 * ddp_kernel_scratch_elems for that count, and a guard zone after it that
 * must stay untouched. */
static void run_fast(const problem *p, const ddp_batch *batch, int threads, double *grad,
                     double *loss)
{
    int64_t P = p->C * p->F + p->C;
    int64_t n_scratch = ddp_kernel_scratch_elems(P, (int)p->C, threads);
    assert_true(n_scratch >= (int64_t)threads * (P + p->C + 1));
    double *scratch = malloc((size_t)(n_scratch + GUARD) * sizeof(double));
    assert_non_null(scratch);
    for (int64_t i = 0; i < n_scratch + GUARD; i++)
        scratch[i] = CANARY;
    *loss = NAN;
    for (int64_t i = 0; i < P; i++)
        grad[i] = NAN; /* must be overwritten */
    ddp_kernel_grad(p->kind, batch, p->C, p->params, p->params + p->C * p->F, grad, loss, scratch,
                    threads);
    for (int64_t i = n_scratch; i < n_scratch + GUARD; i++)
        assert_true(scratch[i] == CANARY);
    free(scratch);
}

static void compare_fast_ref(ddp_task kind, int64_t n_rows, int64_t F, int64_t C)
{
    problem p = make_problem(kind, n_rows, F, C, 7 + (uint64_t)(F * C), 0.3);
    int64_t P = C * F + C;
    /* selection: every third row skipped, order reversed */
    int64_t *idx = malloc((size_t)n_rows * sizeof(int64_t)), n_idx = 0;
    for (int64_t r = n_rows - 1; r >= 0; r--)
        if (r % 3 != 1) idx[n_idx++] = r;
    double *g_ref = malloc((size_t)P * sizeof(double)), *g = malloc((size_t)P * sizeof(double));
    double *g2 = malloc((size_t)P * sizeof(double));
    for (int sel = 0; sel < 2; sel++) {
        ddp_batch batch = {p.x, p.y, sel ? idx : NULL, sel ? n_idx : n_rows, F};
        double l_ref, l, l2;
        ddp_kernel_grad_ref(kind, &batch, C, p.params, p.params + C * F, g_ref, &l_ref);
        assert_true(isfinite(l_ref));
        /* The fast kernel does the row math in float32 (as PyTorch does) and
         * the reference in float64: each gradient element is held to 1e-5 of
         * the gradient's largest element (an element that is a sum with
         * cancellation has no meaningful relative error of its own). */
        double g_scale = 0.0;
        for (int64_t i = 0; i < P; i++)
            g_scale = fmax(g_scale, fabs(g_ref[i]));
        for (int threads = 1; threads <= MAX_THREADS; threads++) {
            run_fast(&p, &batch, threads, g, &l);
            assert_close(l, l_ref, 1e-6, "loss", threads);
            for (int64_t i = 0; i < P; i++)
                if (!(fabs(g[i] - g_ref[i]) <= 1e-5 * g_scale))
                    fail_msg("grad[%lld]: got %.17g, want %.17g (scale %g)", (long long)i, g[i], g_ref[i], g_scale);
            /* bitwise repeatable for a fixed thread count */
            run_fast(&p, &batch, threads, g2, &l2);
            assert_memory_equal(g, g2, (size_t)P * sizeof(double));
            assert_memory_equal(&l, &l2, sizeof l);
        }
    }
    free(g2);
    free(g);
    free(g_ref);
    free(idx);
    free_problem(&p);
}

static void test_fast_matches_ref(void **state)
{
    (void)state;
    compare_fast_ref(DDP_TASK_LINEAR, 203, 37, 1);
    compare_fast_ref(DDP_TASK_LOGISTIC, 203, 37, 1);
    compare_fast_ref(DDP_TASK_SOFTMAX, 203, 37, 5);
    compare_fast_ref(DDP_TASK_LINEAR, 3, 1, 1); /* fewer rows than threads */
    compare_fast_ref(DDP_TASK_SOFTMAX, 2, 64, 3);
    compare_fast_ref(DDP_TASK_LOGISTIC, 1000, 256, 1);
    compare_fast_ref(DDP_TASK_LINEAR, 600, 20, 1); /* flushes every 256 rows, and a short chunk */
    /* softmax: 300 rows, a flush at 256 on one thread and a short block; classes in groups of 5
     * with every size of last group (10: 5+5, 9: 5+4, 3, 12: 5+5+2, 6:
     * 5+1); features in whole vectors of 16 with and without a tail, and
     * fewer features than one vector */
    compare_fast_ref(DDP_TASK_SOFTMAX, 300, 50, 10);
    compare_fast_ref(DDP_TASK_SOFTMAX, 150, 16, 9);
    compare_fast_ref(DDP_TASK_SOFTMAX, 90, 33, 3);
    compare_fast_ref(DDP_TASK_SOFTMAX, 70, 784, 12);
    compare_fast_ref(DDP_TASK_SOFTMAX, 100, 5, 6);
    compare_fast_ref(DDP_TASK_SOFTMAX, 100, 5, 2);
    compare_fast_ref(DDP_TASK_SOFTMAX, 150, 16, 7);
}

static void test_empty_selection(void **state)
{
    (void)state;
    problem p = make_problem(DDP_TASK_SOFTMAX, 4, 3, 3, 1, 0.5);
    ddp_batch batch = {p.x, p.y, NULL, 0, 3};
    double g[12], l;
    for (int threads = 1; threads <= MAX_THREADS; threads++) {
        run_fast(&p, &batch, threads, g, &l);
        assert_true(l == 0.0);
        for (int i = 0; i < 12; i++)
            assert_true(g[i] == 0.0);
    }
    ddp_kernel_grad_ref(p.kind, &batch, 3, p.params, p.params + 9, g, &l);
    assert_true(l == 0.0);
    ddp_eval_sums s;
    ddp_kernel_eval(p.kind, &batch, 3, p.params, p.params + 9, &s, NULL, 2);
    assert_true(s.count == 0.0 && s.loss_sum == 0.0 && s.n_correct == 0.0);
    free_problem(&p);
}

/* PyTorch: nn.Linear(1,1) with w = b = 0 on x = 1,2,3, y = 2,4,6, MSE mean:
 * loss 56/3, grad_w -56/3, grad_b -8. The kernels return the sums. */
static void test_linear_3point(void **state)
{
    (void)state;
    float x[] = {1, 2, 3}, y[] = {2, 4, 6}, params[2] = {0, 0}; /* w, b */
    problem p = {DDP_TASK_LINEAR, 3, 1, 1, x, y, params};
    ddp_batch batch = {x, y, NULL, 3, 1};
    double g[2], l;
    ddp_kernel_grad_ref(DDP_TASK_LINEAR, &batch, 1, params, params + 1, g, &l);
    assert_true(l == 56.0 && g[0] == -56.0 && g[1] == -24.0);
    for (int threads = 1; threads <= MAX_THREADS; threads++) {
        run_fast(&p, &batch, threads, g, &l);
        assert_true(l == 56.0 && g[0] == -56.0 && g[1] == -24.0);
        assert_true(fabs(g[0] / 3 - (-56.0 / 3)) < 1e-15 && g[1] / 3 == -8.0);
    }
}

/* Logits of +-1e4: the naive formulas give inf/NaN; ours are exact. */
static void test_logistic_stable(void **state)
{
    (void)state;
    float x[] = {1, 1, -1, -1}, y[] = {0, 1, 0, 1};
    float params[2] = {1e4f, 0.0f};
    problem p = {DDP_TASK_LOGISTIC, 4, 1, 1, x, y, params};
    ddp_batch batch = {x, y, NULL, 4, 1};
    double g[2], l;
    /* rows: z = 1e4 y 0 (loss 1e4, dz 1); z = 1e4 y 1 (0, 0); z = -1e4 y 0 (0, 0); z = -1e4 y 1
     * (1e4, -1) */
    ddp_kernel_grad_ref(DDP_TASK_LOGISTIC, &batch, 1, params, params + 1, g, &l);
    assert_true(l == 2e4 && g[0] == 2.0 && g[1] == 0.0);
    for (int threads = 1; threads <= MAX_THREADS; threads++) {
        run_fast(&p, &batch, threads, g, &l);
        assert_true(l == 2e4 && g[0] == 2.0 && g[1] == 0.0);
    }
    ddp_eval_sums s;
    float pred[4];
    ddp_kernel_eval(DDP_TASK_LOGISTIC, &batch, 1, params, params + 1, &s, pred, 2);
    assert_true(s.loss_sum == 2e4 && s.n_correct == 2.0 && s.count == 4.0);
    assert_true(pred[0] == 1.0f && pred[1] == 1.0f && pred[2] == 0.0f && pred[3] == 0.0f);
}

static void test_softmax_stable(void **state)
{
    (void)state;
    /* x = 1: z = (1e4, -1e4, 5e3); x = -1: z = (-1e4, 1e4, -5e3) */
    float x[] = {1, 1, 1, -1}, y[] = {0, 1, 2, 1};
    float params[6] = {1e4f, -1e4f, 5e3f, 0, 0, 0};
    problem p = {DDP_TASK_SOFTMAX, 4, 1, 3, x, y, params};
    ddp_batch batch = {x, y, NULL, 4, 1};
    double g[6], l;
    /* losses 0, 2e4, 5e3, 0; dz rows (0,0,0), (1,-1,0), (1,0,-1), (0,0,0) */
    const double want_g[6] = {2, -1, -1, 2, -1, -1};
    ddp_kernel_grad_ref(DDP_TASK_SOFTMAX, &batch, 3, params, params + 3, g, &l);
    assert_true(l == 2.5e4);
    for (int i = 0; i < 6; i++)
        assert_true(g[i] == want_g[i]);
    for (int threads = 1; threads <= MAX_THREADS; threads++) {
        run_fast(&p, &batch, threads, g, &l);
        assert_true(l == 2.5e4);
        for (int i = 0; i < 6; i++)
            assert_true(g[i] == want_g[i]);
    }
    ddp_eval_sums s;
    float pred[12];
    ddp_kernel_eval(DDP_TASK_SOFTMAX, &batch, 3, params, params + 3, &s, pred, 3);
    assert_true(s.loss_sum == 2.5e4 && s.n_correct == 2.0);
    for (int i = 0; i < 12; i++)
        assert_true(isfinite(pred[i]));
    assert_true(pred[0] == 1.0f && pred[10] == 1.0f);
}

static void test_softmax_bad_label(void **state)
{
    (void)state;
    float x[] = {1, 2}, y[] = {0, 3}; /* class 3 of 3: out of range */
    float params[6] = {0.1f, 0.2f, 0.3f, 0, 0, 0};
    problem p = {DDP_TASK_SOFTMAX, 2, 1, 3, x, y, params};
    ddp_batch batch = {x, y, NULL, 2, 1};
    double g[6], l;
    ddp_kernel_grad_ref(DDP_TASK_SOFTMAX, &batch, 3, params, params + 3, g, &l);
    assert_true(isnan(l));
    run_fast(&p, &batch, 2, g, &l);
    assert_true(isnan(l));
}

static void test_eval_linear(void **state)
{
    (void)state;
    const float x[] = {1, 2, 3, 4, 0, 0}, y[] = {0, -1, 2};
    const float w[] = {0.5f, -1.0f}, b[] = {1.0f};
    /* z = -0.5, -1.5, 1; residuals -0.5, -0.5, -1 */
    const int64_t rev[] = {2, 1, 0};
    for (int threads = 1; threads <= MAX_THREADS; threads++) {
        ddp_batch batch = {x, y, rev, 3, 2};
        ddp_eval_sums s;
        float pred[3];
        ddp_kernel_eval(DDP_TASK_LINEAR, &batch, 1, w, b, &s, pred, threads);
        assert_true(s.loss_sum == 1.5 && s.sse == 1.5 && s.sum_y == 1.0 && s.sum_y2 == 5.0);
        assert_true(s.count == 3.0 && s.n_correct == 0.0);
        /* predictions follow the selection order */
        assert_true(pred[0] == 1.0f && pred[1] == -1.5f && pred[2] == -0.5f);
    }
}

static void test_eval_logistic(void **state)
{
    (void)state;
    const float x[] = {0, 1, 2, 0.5f}, y[] = {0, 1, 0, 1};
    const float w[] = {2}, b[] = {-1};
    /* z = -1, 1, 3, 0: right, right, wrong, wrong (z = 0 predicts class 0) */
    double want_loss = 2 * log1p(exp(-1.0)) + 3 + log1p(exp(-3.0)) + log(2.0);
    const double want_pred[] = {1 / (1 + exp(1.0)), 1 / (1 + exp(-1.0)), 1 / (1 + exp(-3.0)), 0.5};
    for (int threads = 1; threads <= MAX_THREADS; threads++) {
        ddp_batch batch = {x, y, NULL, 4, 1};
        ddp_eval_sums s;
        float pred[4];
        ddp_kernel_eval(DDP_TASK_LOGISTIC, &batch, 1, w, b, &s, pred, threads);
        assert_true(fabs(s.loss_sum - want_loss) < 1e-12);
        assert_true(s.n_correct == 2.0 && s.count == 4.0);
        for (int i = 0; i < 4; i++)
            assert_true(fabs(pred[i] - want_pred[i]) < 1e-7);
    }
}

static void test_eval_softmax(void **state)
{
    (void)state;
    /* w rows (1,0), (0,1), (1,1), b = 0 */
    const float x[] = {1, 0, 1, 0, 0, 0, 0, 2}, y[] = {2, 0, 1, 1};
    const float w[] = {1, 0, 0, 1, 1, 1}, b[] = {0, 0, 0};
    /* z = (1,0,1) tie -> 0, wrong; (1,0,1) -> 0 right; (0,0,0) -> 0 wrong; (0,2,2) tie -> 1 right
     */
    const double e = exp(1.0);
    double want_loss = 2 * (log(2 * e + 1) - 1) + log(3.0) + log(1 + 2 * exp(2.0)) - 2;
    for (int threads = 1; threads <= MAX_THREADS; threads++) {
        ddp_batch batch = {x, y, NULL, 4, 2};
        ddp_eval_sums s;
        float pred[12];
        ddp_kernel_eval(DDP_TASK_SOFTMAX, &batch, 3, w, b, &s, pred, threads);
        assert_true(fabs(s.loss_sum - want_loss) < 1e-12);
        assert_true(s.n_correct == 2.0 && s.count == 4.0);
        assert_true(fabs(pred[0] - e / (2 * e + 1)) < 1e-7 &&
                    fabs(pred[1] - 1 / (2 * e + 1)) < 1e-7);
        for (int k = 0; k < 3; k++)
            assert_true(fabsf(pred[6 + k] - 1.0f / 3.0f) < 1e-7f);
        for (int r = 0; r < 4; r++)
            assert_true(fabsf(pred[3 * r] + pred[3 * r + 1] + pred[3 * r + 2] - 1) < 1e-6f);
    }
}

/* Eval's loss is the training loss, on random data and any thread count. */
static void test_eval_matches_grad_loss(void **state)
{
    (void)state;
    const ddp_task kinds[] = {DDP_TASK_LINEAR, DDP_TASK_LOGISTIC, DDP_TASK_SOFTMAX};
    for (int k = 0; k < 3; k++) {
        int64_t C = kinds[k] == DDP_TASK_SOFTMAX ? 4 : 1;
        problem p = make_problem(kinds[k], 101, 13, C, 55, 0.5);
        int64_t idx[50];
        for (int i = 0; i < 50; i++)
            idx[i] = (i * 37) % 101;
        ddp_batch batch = {p.x, p.y, idx, 50, 13};
        double g[13 * 4 + 4], l_ref;
        ddp_kernel_grad_ref(p.kind, &batch, C, p.params, p.params + C * 13, g, &l_ref);
        for (int threads = 1; threads <= MAX_THREADS; threads++) {
            ddp_eval_sums s;
            ddp_kernel_eval(p.kind, &batch, C, p.params, p.params + C * 13, &s, NULL, threads);
            assert_close(s.loss_sum, l_ref, 1e-12, "eval loss", threads);
            assert_true(s.count == 50.0);
            assert_true(s.n_correct >= 0 && s.n_correct <= 50);
        }
        free_problem(&p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fd_linear),
        cmocka_unit_test(test_fd_logistic),
        cmocka_unit_test(test_fd_softmax),
        cmocka_unit_test(test_fast_matches_ref),
        cmocka_unit_test(test_empty_selection),
        cmocka_unit_test(test_linear_3point),
        cmocka_unit_test(test_logistic_stable),
        cmocka_unit_test(test_softmax_stable),
        cmocka_unit_test(test_softmax_bad_label),
        cmocka_unit_test(test_eval_linear),
        cmocka_unit_test(test_eval_logistic),
        cmocka_unit_test(test_eval_softmax),
        cmocka_unit_test(test_eval_matches_grad_loss),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
