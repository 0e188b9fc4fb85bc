/* Unit tests for the model layout: torch.nn names, shapes and offsets in one
 * contiguous buffer; refusals of impossible models; nn.Linear's default
 * initialisation bounds, deterministic per seed; lookup by name; --freeze
 * by names, with unknown names refused without freezing anything. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ddptrain/common.h"
#include "ddptrain/model.h"

#include <math.h>
#include <string.h>

static void check_layout(ddp_task kind, int64_t F, int64_t n_classes, int64_t want_out)
{
    char err[DDP_ERR_LEN];
    ddp_model m;
    assert_int_equal(ddp_model_init(&m, kind, F, n_classes, err), DDP_OK);
    assert_int_equal(m.kind, kind);
    assert_int_equal(m.n_features, F);
    assert_int_equal(m.n_out, want_out);
    assert_int_equal(m.n_params, want_out * F + want_out);
    assert_int_equal(m.n_tensors, 2);
    const ddp_tensor *w = &m.tensors[0], *b = &m.tensors[1];
    assert_string_equal(w->name, "weight");
    assert_int_equal(w->offset, 0);
    assert_int_equal(w->n_dims, 2);
    assert_int_equal(w->shape[0], want_out);
    assert_int_equal(w->shape[1], F);
    assert_int_equal(w->n_elems, want_out * F);
    assert_false(w->frozen);
    assert_string_equal(b->name, "bias");
    assert_int_equal(b->offset, want_out * F);
    assert_int_equal(b->n_dims, 1);
    assert_int_equal(b->shape[0], want_out);
    assert_int_equal(b->n_elems, want_out);
    assert_false(b->frozen);
    assert_non_null(m.params);
    for (int64_t i = 0; i < m.n_params; i++)
        assert_true(m.params[i] == 0.0f); /* zeroed */
    ddp_model_free(&m);
    assert_null(m.params);
    ddp_model_free(&m); /* freeing twice is harmless */
}

static void test_layout(void **state)
{
    (void)state;
    check_layout(DDP_TASK_LINEAR, 3, 0, 1);
    check_layout(DDP_TASK_LOGISTIC, 1, 2, 1); /* n_classes ignored: one logit */
    check_layout(DDP_TASK_SOFTMAX, 5, 4, 4);
    check_layout(DDP_TASK_SOFTMAX, 1, 2, 2);
}

static void test_refusals(void **state)
{
    (void)state;
    char err[DDP_ERR_LEN];
    ddp_model m;
    assert_int_equal(ddp_model_init(&m, DDP_TASK_LINEAR, 0, 0, err), DDP_EXIT_USAGE);
    assert_non_null(strstr(err, "at least 1 feature"));
    assert_null(m.params);
    assert_int_equal(ddp_model_init(&m, DDP_TASK_LOGISTIC, -3, 0, err), DDP_EXIT_USAGE);
    assert_int_equal(ddp_model_init(&m, DDP_TASK_SOFTMAX, 4, 1, err), DDP_EXIT_USAGE);
    assert_non_null(strstr(err, "at least 2 classes"));
    assert_int_equal(ddp_model_init(&m, DDP_TASK_SOFTMAX, 4, 0, err), DDP_EXIT_USAGE);
    assert_int_equal(ddp_model_init(&m, DDP_TASK_SOFTMAX, INT64_MAX / 2, 1000, err),
                     DDP_EXIT_USAGE);
    assert_non_null(strstr(err, "too many parameters"));
    assert_int_equal(ddp_model_init(&m, (ddp_task)42, 4, 0, err), DDP_EXIT_USAGE);
    assert_null(m.params);
}

static void test_init_bounds(void **state)
{
    (void)state;
    char err[DDP_ERR_LEN];
    ddp_model m;
    assert_int_equal(ddp_model_init(&m, DDP_TASK_SOFTMAX, 10, 7, err), DDP_OK);
    ddp_model_init_params(&m, 42);
    const float bound = (float)(1.0 / sqrt(10.0));
    for (int t = 0; t < m.n_tensors; t++) {
        const ddp_tensor *tt = &m.tensors[t];
        float lo = 1, hi = -1;
        for (int64_t i = 0; i < tt->n_elems; i++) {
            float v = m.params[tt->offset + i];
            assert_true(fabsf(v) <= bound);
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        /* spread over the whole interval, both signs (7 biases, 70 weights) */
        assert_true(lo < -0.3f * bound && hi > 0.3f * bound);
    }
    ddp_model_free(&m);

    /* many draws: mean ~ 0, variance ~ bound^2 / 3 */
    assert_int_equal(ddp_model_init(&m, DDP_TASK_LINEAR, 10000, 0, err), DDP_OK);
    ddp_model_init_params(&m, 7);
    double b2 = 1.0 / 10000.0, sum = 0, sum2 = 0;
    for (int64_t i = 0; i < m.n_params; i++) {
        assert_true(fabsf(m.params[i]) <= 0.01f);
        sum += m.params[i];
        sum2 += (double)m.params[i] * m.params[i];
    }
    double mean = sum / (double)m.n_params, var = sum2 / (double)m.n_params - mean * mean;
    assert_true(fabs(mean) < 0.05 * sqrt(b2));
    assert_true(fabs(var - b2 / 3) < 0.05 * b2 / 3);
    ddp_model_free(&m);
}

static void test_init_deterministic(void **state)
{
    (void)state;
    char err[DDP_ERR_LEN];
    ddp_model a, b, c;
    assert_int_equal(ddp_model_init(&a, DDP_TASK_SOFTMAX, 20, 3, err), DDP_OK);
    assert_int_equal(ddp_model_init(&b, DDP_TASK_SOFTMAX, 20, 3, err), DDP_OK);
    assert_int_equal(ddp_model_init(&c, DDP_TASK_SOFTMAX, 20, 3, err), DDP_OK);
    ddp_model_init_params(&a, 1234);
    ddp_model_init_params(&b, 1234);
    ddp_model_init_params(&c, 1235);
    assert_memory_equal(a.params, b.params, (size_t)a.n_params * sizeof(float));
    int64_t n_diff = 0;
    for (int64_t i = 0; i < a.n_params; i++)
        n_diff += a.params[i] != c.params[i];
    assert_true(n_diff > a.n_params * 9 / 10);
    /* re-initialising overwrites with the same values */
    ddp_model_init_params(&b, 1234);
    assert_memory_equal(a.params, b.params, (size_t)a.n_params * sizeof(float));
    ddp_model_free(&c);
    ddp_model_free(&b);
    ddp_model_free(&a);
}

static void test_find(void **state)
{
    (void)state;
    char err[DDP_ERR_LEN];
    ddp_model m;
    assert_int_equal(ddp_model_init(&m, DDP_TASK_SOFTMAX, 4, 3, err), DDP_OK);
    assert_ptr_equal(ddp_model_find(&m, "weight"), &m.tensors[0]);
    assert_ptr_equal(ddp_model_find(&m, "bias"), &m.tensors[1]);
    assert_null(ddp_model_find(&m, "weights"));
    assert_null(ddp_model_find(&m, ""));
    assert_null(ddp_model_find(&m, "layers.0.weight"));
    ddp_model_free(&m);
}

static void freeze_case(const char *names, int want_rc, int want_w, int want_b,
                        const char *want_err)
{
    char err[DDP_ERR_LEN] = "";
    ddp_model m;
    assert_int_equal(ddp_model_init(&m, DDP_TASK_LOGISTIC, 4, 0, err), DDP_OK);
    assert_int_equal(ddp_model_freeze(&m, names, err), want_rc);
    assert_int_equal(ddp_model_find(&m, "weight")->frozen, want_w);
    assert_int_equal(ddp_model_find(&m, "bias")->frozen, want_b);
    if (want_err) assert_string_equal(err, want_err);
    ddp_model_free(&m);
}

static void test_freeze(void **state)
{
    (void)state;
    freeze_case("bias", DDP_OK, 0, 1, NULL);
    freeze_case("weight", DDP_OK, 1, 0, NULL);
    freeze_case("weight,bias", DDP_OK, 1, 1, NULL);
    freeze_case(" bias , weight ", DDP_OK, 1, 1, NULL);
    freeze_case("bias,bias", DDP_OK, 0, 1, NULL);
    freeze_case("x", DDP_EXIT_USAGE, 0, 0,
                "unknown parameter 'x' in --freeze; this model has: weight, bias");
    freeze_case("weights", DDP_EXIT_USAGE, 0, 0,
                "unknown parameter 'weights' in --freeze; this model has: weight, bias");
    /* an error anywhere leaves nothing frozen */
    freeze_case("bias,nope", DDP_EXIT_USAGE, 0, 0,
                "unknown parameter 'nope' in --freeze; this model has: weight, bias");
    freeze_case("bias,", DDP_EXIT_USAGE, 0, 0, NULL);
    freeze_case("", DDP_EXIT_USAGE, 0, 0, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),      cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_init_bounds), cmocka_unit_test(test_init_deterministic),
        cmocka_unit_test(test_find),        cmocka_unit_test(test_freeze),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
