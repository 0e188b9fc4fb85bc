/* Unit tests for optim.c. Each optimizer and option is held against a plain
 * double-precision re-implementation of torch.optim's documented formulas
 * (ref_step below, 1e-6 relative), and against trajectories recorded from
 * PyTorch 1.13 itself (tests/fixtures/optim_golden.txt, written by
 * scripts/golden_optim.py; required within 1e-5 relative or 1e-7 absolute,
 * and in fact bitwise equal, which the test reports per configuration).
 * Also: frozen ranges stay bitwise untouched with their state, only the
 * needed state is allocated, thread count does not change a bit, validate()
 * names the flag, and the LR schedules give their closed-form values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ddptrain/common.h"
#include "ddptrain/optim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#ifndef DDP_SOURCE_DIR
#define DDP_SOURCE_DIR "."
#endif
#define GOLDEN_PATH DDP_SOURCE_DIR "/tests/fixtures/optim_golden.txt"

#define N_ELEMS 16
#define N_STEPS 12

/* ---------------------------------------------------------------- reference
 * torch.optim's update rules, written from the documentation in double,
 * one element at a time, with no attention to float rounding order. */
typedef struct ref_state {
    double buf[N_ELEMS], m[N_ELEMS], v[N_ELEMS], vmax[N_ELEMS], sq[N_ELEMS], ga[N_ELEMS];
    long step;
} ref_state;

static void ref_step(ref_state *s, const ddp_optim_config *c, double *p, const float *grad,
                     double lr, int n)
{
    s->step++;
    for (int i = 0; i < n; i++) {
        double g = grad[i];
        switch (c->kind) {
        case DDP_OPT_SGD:
            g += c->weight_decay * p[i];
            if (c->momentum != 0) {
                s->buf[i] = s->step == 1 ? g : c->momentum * s->buf[i] + (1 - c->dampening) * g;
                g = c->nesterov ? g + c->momentum * s->buf[i] : s->buf[i];
            }
            p[i] -= lr * g;
            break;
        case DDP_OPT_ADAM:
        case DDP_OPT_ADAMW: {
            if (c->kind == DDP_OPT_ADAMW)
                p[i] *= 1 - lr * c->weight_decay;
            else
                g += c->weight_decay * p[i];
            s->m[i] = c->beta1 * s->m[i] + (1 - c->beta1) * g;
            s->v[i] = c->beta2 * s->v[i] + (1 - c->beta2) * g * g;
            double mhat = s->m[i] / (1 - pow(c->beta1, (double)s->step));
            double v = s->v[i];
            if (c->amsgrad) v = s->vmax[i] = fmax(s->vmax[i], v);
            double vhat = v / (1 - pow(c->beta2, (double)s->step));
            p[i] -= lr * mhat / (sqrt(vhat) + c->eps);
            break;
        }
        case DDP_OPT_RMSPROP: {
            g += c->weight_decay * p[i];
            s->sq[i] = c->alpha * s->sq[i] + (1 - c->alpha) * g * g;
            double vt = s->sq[i];
            if (c->centered) {
                s->ga[i] = c->alpha * s->ga[i] + (1 - c->alpha) * g;
                vt -= s->ga[i] * s->ga[i];
            }
            double step = g / (sqrt(vt) + c->eps);
            if (c->momentum > 0) step = s->buf[i] = c->momentum * s->buf[i] + step;
            p[i] -= lr * step;
            break;
        }
        }
    }
}

/* Deterministic, well-conditioned test gradients (float32). */
static float test_grad(int step, int i)
{
    return (float)(sin(1.7 * i + 2.3 * step + 0.4) * (0.5 + 0.25 * (i % 5)));
}
static float test_param(int i)
{
    return (float)(cos(0.9 * i + 0.2) * 1.5);
}

/* Relative error of float32 results against the double reference, 1e-6.
 * An element that passes near zero, or a running average that cancels
 * (m = 0.9 m + 0.1 g with g of both signs), cannot keep float32's relative
 * precision: its absolute error is set by the magnitudes it went through.
 * So the denominator is floored at 1/4 of the vector's largest magnitude. */
static double check_close(const char *what, const char *field, int step, const float *got,
                          const double *ref)
{
    double scale = 0, max_rel = 0;
    for (int i = 0; i < N_ELEMS; i++)
        scale = fmax(scale, fabs(ref[i]));
    for (int i = 0; i < N_ELEMS; i++) {
        double rel = fabs((double)got[i] - ref[i]) / fmax(fabs(ref[i]), scale / 4);
        if (scale == 0) rel = fabs((double)got[i]);
        if (!(rel <= 1e-6))
            fail_msg("%s: %s[%d] after step %d: optim.c %.9g, reference %.9g (rel %.3g)", what,
                     field, i, step, (double)got[i], ref[i], rel);
        max_rel = fmax(max_rel, rel);
    }
    return max_rel;
}

/* Run N_STEPS of optim.c and of the reference on the same gradients; the
 * lr changes per step to exercise the lr argument. Returns max rel error. */
static double run_vs_reference(const ddp_optim_config *cfg, const char *what)
{
    char err[DDP_ERR_LEN];
    ddp_optim opt;
    assert_int_equal(ddp_optim_init(&opt, cfg, N_ELEMS, err), DDP_OK);
    float p[N_ELEMS], g[N_ELEMS];
    double pr[N_ELEMS];
    ref_state rs;
    memset(&rs, 0, sizeof rs);
    for (int i = 0; i < N_ELEMS; i++)
        pr[i] = p[i] = test_param(i);
    ddp_range all = {0, N_ELEMS};
    double max_rel = 0;
    for (int t = 0; t < N_STEPS; t++) {
        double lr = cfg->lr * (1.0 - 0.03 * t);
        for (int i = 0; i < N_ELEMS; i++)
            g[i] = test_grad(t, i);
        ddp_optim_step(&opt, p, g, lr, &all, 1);
        ref_step(&rs, cfg, pr, g, lr, N_ELEMS);
        assert_int_equal(opt.step, t + 1);
        max_rel = fmax(max_rel, check_close(what, "param", t + 1, p, pr));
    }
    /* the states too, under PyTorch's names */
    if (opt.momentum_buffer)
        max_rel = fmax(max_rel,
                       check_close(what, "momentum_buffer", N_STEPS, opt.momentum_buffer, rs.buf));
    if (opt.exp_avg)
        max_rel = fmax(max_rel, check_close(what, "exp_avg", N_STEPS, opt.exp_avg, rs.m));
    if (opt.exp_avg_sq)
        max_rel = fmax(max_rel, check_close(what, "exp_avg_sq", N_STEPS, opt.exp_avg_sq, rs.v));
    if (opt.max_exp_avg_sq)
        max_rel = fmax(max_rel,
                       check_close(what, "max_exp_avg_sq", N_STEPS, opt.max_exp_avg_sq, rs.vmax));
    if (opt.square_avg)
        max_rel = fmax(max_rel, check_close(what, "square_avg", N_STEPS, opt.square_avg, rs.sq));
    if (opt.grad_avg)
        max_rel = fmax(max_rel, check_close(what, "grad_avg", N_STEPS, opt.grad_avg, rs.ga));
    print_message("reference %-40s max rel err %.3e\n", what, max_rel);
    ddp_optim_free(&opt);
    return max_rel;
}

static ddp_optim_config make_cfg(ddp_optim_kind kind, double lr)
{
    ddp_optim_config c;
    ddp_optim_defaults(kind, &c);
    c.lr = lr;
    return c;
}

static void test_sgd_vs_reference(void **state)
{
    (void)state;
    ddp_optim_config c = make_cfg(DDP_OPT_SGD, 0.05);
    run_vs_reference(&c, "sgd");
    c.momentum = 0.9;
    run_vs_reference(&c, "sgd momentum");
    c.dampening = 0.3;
    run_vs_reference(&c, "sgd momentum dampening");
    c.dampening = 0;
    c.nesterov = 1;
    run_vs_reference(&c, "sgd nesterov");
    c.weight_decay = 0.2;
    run_vs_reference(&c, "sgd nesterov weight_decay");
    c.nesterov = 0;
    c.momentum = 0;
    run_vs_reference(&c, "sgd weight_decay");
}

static void test_adam_vs_reference(void **state)
{
    (void)state;
    ddp_optim_config c = make_cfg(DDP_OPT_ADAM, 0.02);
    run_vs_reference(&c, "adam");
    c.amsgrad = 1;
    run_vs_reference(&c, "adam amsgrad");
    c.weight_decay = 0.1;
    c.beta1 = 0.8;
    c.beta2 = 0.9;
    c.eps = 1e-3;
    run_vs_reference(&c, "adam amsgrad weight_decay betas eps");
    c.amsgrad = 0;
    run_vs_reference(&c, "adam weight_decay");
}

static void test_adamw_vs_reference(void **state)
{
    (void)state;
    ddp_optim_config c = make_cfg(DDP_OPT_ADAMW, 0.02);
    assert_true(c.weight_decay == 1e-2);
    run_vs_reference(&c, "adamw");
    c.weight_decay = 0.5;
    run_vs_reference(&c, "adamw strong decay");
    c.amsgrad = 1;
    run_vs_reference(&c, "adamw amsgrad");
}

/* AdamW's decay is decoupled: with weight_decay 0 it is Adam bitwise, and
 * with decay and zero gradients Adam's coupled decay moves the parameters
 * by ~lr per step while AdamW's shrinks them by exactly (1 - lr wd). */
static void test_adamw_decoupled(void **state)
{
    (void)state;
    char err[DDP_ERR_LEN];
    ddp_optim a, w;
    ddp_optim_config ca = make_cfg(DDP_OPT_ADAM, 0.01), cw = make_cfg(DDP_OPT_ADAMW, 0.01);
    cw.weight_decay = 0;
    assert_int_equal(ddp_optim_init(&a, &ca, N_ELEMS, err), DDP_OK);
    assert_int_equal(ddp_optim_init(&w, &cw, N_ELEMS, err), DDP_OK);
    float pa[N_ELEMS], pw[N_ELEMS], g[N_ELEMS];
    for (int i = 0; i < N_ELEMS; i++)
        pa[i] = pw[i] = test_param(i);
    ddp_range all = {0, N_ELEMS};
    for (int t = 0; t < N_STEPS; t++) {
        for (int i = 0; i < N_ELEMS; i++)
            g[i] = test_grad(t, i);
        ddp_optim_step(&a, pa, g, 0.01, &all, 1);
        ddp_optim_step(&w, pw, g, 0.01, &all, 1);
    }
    assert_memory_equal(pa, pw, sizeof pa);
    ddp_optim_free(&a);
    ddp_optim_free(&w);

    /* zero gradient, decay 0.5, lr 0.1: p <- p * 0.95 exactly once, Adam step 0/eps = 0 */
    cw.weight_decay = 0.5;
    cw.lr = 0.1;
    assert_int_equal(ddp_optim_init(&w, &cw, N_ELEMS, err), DDP_OK);
    float zero[N_ELEMS] = {0};
    for (int i = 0; i < N_ELEMS; i++)
        pw[i] = test_param(i);
    ddp_optim_step(&w, pw, zero, 0.1, &all, 1);
    for (int i = 0; i < N_ELEMS; i++)
        assert_true(pw[i] == test_param(i) * (float)(1.0 - 0.1 * 0.5));
    ddp_optim_free(&w);

    /* coupled Adam with the same decay: the decay goes through m / sqrt(v),
     * so every non-zero parameter moves by about lr on the first step */
    ca.weight_decay = 0.5;
    ca.lr = 0.1;
    assert_int_equal(ddp_optim_init(&a, &ca, N_ELEMS, err), DDP_OK);
    for (int i = 0; i < N_ELEMS; i++)
        pa[i] = test_param(i);
    ddp_optim_step(&a, pa, zero, 0.1, &all, 1);
    for (int i = 0; i < N_ELEMS; i++) {
        double moved = fabs((double)pa[i] - (double)test_param(i));
        if (fabs(test_param(i)) > 1e-3) assert_true(fabs(moved - 0.1) < 1e-3);
    }
    ddp_optim_free(&a);
}

static void test_rmsprop_vs_reference(void **state)
{
    (void)state;
    ddp_optim_config c = make_cfg(DDP_OPT_RMSPROP, 0.01);
    run_vs_reference(&c, "rmsprop");
    c.centered = 1;
    run_vs_reference(&c, "rmsprop centered");
    c.centered = 0;
    c.momentum = 0.9;
    run_vs_reference(&c, "rmsprop momentum");
    c.centered = 1;
    c.momentum = 0.5;
    c.weight_decay = 0.1;
    c.alpha = 0.9;
    c.eps = 1e-4;
    run_vs_reference(&c, "rmsprop centered momentum weight_decay");
}

/* The first SGD momentum step sets buf = g (not (1 - dampening) g). */
static void test_sgd_first_step_buffer(void **state)
{
    (void)state;
    char err[DDP_ERR_LEN];
    ddp_optim_config c = make_cfg(DDP_OPT_SGD, 0.5);
    c.momentum = 0.9;
    c.dampening = 0.75;
    ddp_optim o;
    assert_int_equal(ddp_optim_init(&o, &c, 2, err), DDP_OK);
    assert_int_equal(o.has_momentum, 0);
    float p[2] = {1.0f, -2.0f}, g[2] = {0.25f, 4.0f};
    ddp_range all = {0, 2};
    ddp_optim_step(&o, p, g, 0.5, &all, 1);
    assert_int_equal(o.has_momentum, 1);
    assert_true(o.momentum_buffer[0] == 0.25f && o.momentum_buffer[1] == 4.0f);
    assert_true(p[0] == 0.875f && p[1] == -4.0f);
    ddp_optim_step(&o, p, g, 0.5, &all, 1); /* buf = 0.9 * 0.25 + 0.25 * 0.25 */
    assert_true(fabsf(o.momentum_buffer[0] - 0.2875f) < 1e-7f);
    ddp_optim_free(&o);
}

/* ---------------------------------------------------------------- state, ranges, threads */

static void test_state_allocation(void **state)
{
    (void)state;
    char err[DDP_ERR_LEN];
    ddp_optim o;
    ddp_optim_config c = make_cfg(DDP_OPT_SGD, 0.1);
    assert_int_equal(ddp_optim_init(&o, &c, 10, err), DDP_OK);
    assert_null(o.momentum_buffer);
    assert_null(o.exp_avg);
    assert_null(o.square_avg);
    assert_int_equal(o.step, 0);
    assert_int_equal(o.n_params, 10);
    ddp_optim_free(&o);

    c.momentum = 0.9;
    assert_int_equal(ddp_optim_init(&o, &c, 10, err), DDP_OK);
    assert_non_null(o.momentum_buffer);
    for (int i = 0; i < 10; i++)
        assert_true(o.momentum_buffer[i] == 0.0f);
    ddp_optim_free(&o);
    assert_null(o.momentum_buffer);
    ddp_optim_free(&o); /* idempotent */

    c = make_cfg(DDP_OPT_ADAM, 0.1);
    assert_int_equal(ddp_optim_init(&o, &c, 10, err), DDP_OK);
    assert_non_null(o.exp_avg);
    assert_non_null(o.exp_avg_sq);
    assert_null(o.max_exp_avg_sq);
    assert_null(o.momentum_buffer);
    assert_null(o.square_avg);
    ddp_optim_free(&o);
    c.amsgrad = 1;
    c.kind = DDP_OPT_ADAMW;
    assert_int_equal(ddp_optim_init(&o, &c, 10, err), DDP_OK);
    assert_non_null(o.max_exp_avg_sq);
    for (int i = 0; i < 10; i++)
        assert_true(o.exp_avg[i] == 0 && o.exp_avg_sq[i] == 0 && o.max_exp_avg_sq[i] == 0);
    ddp_optim_free(&o);

    c = make_cfg(DDP_OPT_RMSPROP, 0.1);
    assert_int_equal(ddp_optim_init(&o, &c, 10, err), DDP_OK);
    assert_non_null(o.square_avg);
    assert_null(o.grad_avg);
    assert_null(o.momentum_buffer);
    assert_null(o.exp_avg);
    ddp_optim_free(&o);
    c.centered = 1;
    c.momentum = 0.5;
    assert_int_equal(ddp_optim_init(&o, &c, 10, err), DDP_OK);
    assert_non_null(o.grad_avg);
    assert_non_null(o.momentum_buffer);
    ddp_optim_free(&o);

    /* zero parameters is legal (a model whose tensors are all frozen) */
    assert_int_equal(ddp_optim_init(&o, &c, 0, err), DDP_OK);
    ddp_optim_step(&o, NULL, NULL, 0.1, NULL, 0);
    assert_int_equal(o.step, 1);
    ddp_optim_free(&o);

    /* invalid config: refused, nothing allocated */
    c.lr = -1;
    assert_int_equal(ddp_optim_init(&o, &c, 10, err), DDP_EXIT_USAGE);
    assert_null(o.square_avg);
    ddp_optim_free(&o);
}

/* Only listed ranges move; unlisted elements and their state stay bitwise
 * as they were, and listed ones equal a whole-vector update bitwise. */
static void test_frozen_ranges(void **state)
{
    (void)state;
    enum { N = 24 };
    char err[DDP_ERR_LEN];
    ddp_optim_config cfgs[4];
    cfgs[0] = make_cfg(DDP_OPT_SGD, 0.1);
    cfgs[0].momentum = 0.9;
    cfgs[0].nesterov = 1;
    cfgs[0].weight_decay = 0.01;
    cfgs[1] = make_cfg(DDP_OPT_ADAM, 0.01);
    cfgs[1].amsgrad = 1;
    cfgs[1].weight_decay = 0.1;
    cfgs[2] = make_cfg(DDP_OPT_ADAMW, 0.01);
    cfgs[2].amsgrad = 1;
    cfgs[3] = make_cfg(DDP_OPT_RMSPROP, 0.01);
    cfgs[3].centered = 1;
    cfgs[3].momentum = 0.5;
    cfgs[3].weight_decay = 0.1;
    const ddp_range ranges[3] = {{0, 5}, {12, 8}, {20, 0}}; /* [5,12) and [20,24) frozen */
    for (int k = 0; k < 4; k++) {
        ddp_optim part, full;
        assert_int_equal(ddp_optim_init(&part, &cfgs[k], N, err), DDP_OK);
        assert_int_equal(ddp_optim_init(&full, &cfgs[k], N, err), DDP_OK);
        float p[N], pf[N], p0[N], g[N];
        for (int i = 0; i < N; i++)
            p0[i] = pf[i] = p[i] = test_param(i);
        ddp_range all = {0, N};
        for (int t = 0; t < 6; t++) {
            for (int i = 0; i < N; i++)
                g[i] = test_grad(t, i);
            ddp_optim_step(&part, p, g, cfgs[k].lr, ranges, 3);
            ddp_optim_step(&full, pf, g, cfgs[k].lr, &all, 1);
        }
        float *states[] = {part.momentum_buffer, part.exp_avg,    part.exp_avg_sq,
                           part.max_exp_avg_sq,  part.square_avg, part.grad_avg};
        for (int i = 0; i < N; i++) {
            int frozen = (i >= 5 && i < 12) || i >= 20;
            if (frozen) {
                assert_memory_equal(&p[i], &p0[i], sizeof(float));
                for (size_t s = 0; s < sizeof states / sizeof states[0]; s++)
                    if (states[s]) assert_true(states[s][i] == 0.0f && !signbit(states[s][i]));
            } else {
                assert_memory_equal(&p[i], &pf[i], sizeof(float));
                assert_true(p[i] != p0[i]);
            }
        }
        assert_int_equal(part.step, 6);
        ddp_optim_free(&part);
        ddp_optim_free(&full);
    }
}

/* Element-wise updates: the same bits for 1 thread and for many. */
static void test_thread_invariance(void **state)
{
    (void)state;
#ifdef _OPENMP
    enum { N = 200003 };
    char err[DDP_ERR_LEN];
    float *g = malloc(N * sizeof(float)), *p1 = malloc(N * sizeof(float)),
          *p2 = malloc(N * sizeof(float));
    assert_non_null(g);
    assert_non_null(p1);
    assert_non_null(p2);
    const ddp_optim_kind kinds[] = {DDP_OPT_SGD, DDP_OPT_ADAM, DDP_OPT_ADAMW, DDP_OPT_RMSPROP};
    int saved = omp_get_max_threads();
    for (int k = 0; k < 4; k++) {
        ddp_optim_config c = make_cfg(kinds[k], 0.01);
        c.momentum = kinds[k] == DDP_OPT_ADAM || kinds[k] == DDP_OPT_ADAMW ? 0 : 0.9;
        c.centered = 1;
        c.amsgrad = 1;
        ddp_optim o1, o2;
        assert_int_equal(ddp_optim_init(&o1, &c, N, err), DDP_OK);
        assert_int_equal(ddp_optim_init(&o2, &c, N, err), DDP_OK);
        for (int i = 0; i < N; i++)
            p1[i] = p2[i] = test_param(i);
        ddp_range r = {0, N};
        for (int t = 0; t < 3; t++) {
            for (int i = 0; i < N; i++)
                g[i] = test_grad(t, i);
            omp_set_num_threads(1);
            ddp_optim_step(&o1, p1, g, 0.01, &r, 1);
            omp_set_num_threads(4);
            ddp_optim_step(&o2, p2, g, 0.01, &r, 1);
        }
        assert_memory_equal(p1, p2, N * sizeof(float));
        ddp_optim_free(&o1);
        ddp_optim_free(&o2);
    }
    omp_set_num_threads(saved);
    free(g);
    free(p1);
    free(p2);
#else
    skip();
#endif
}

/* ---------------------------------------------------------------- defaults, validation */

static void test_defaults_and_names(void **state)
{
    (void)state;
    char err[DDP_ERR_LEN];
    ddp_optim_config c;
    ddp_optim_defaults(DDP_OPT_SGD, &c);
    assert_true(c.kind == DDP_OPT_SGD && c.lr == 1e-3 && c.momentum == 0 && c.dampening == 0 &&
                !c.nesterov && c.weight_decay == 0);
    assert_int_equal(ddp_optim_validate(&c, err), DDP_OK);
    ddp_optim_defaults(DDP_OPT_ADAM, &c);
    assert_true(c.lr == 1e-3 && c.beta1 == 0.9 && c.beta2 == 0.999 && c.eps == 1e-8 &&
                c.weight_decay == 0 && !c.amsgrad);
    assert_int_equal(ddp_optim_validate(&c, err), DDP_OK);
    ddp_optim_defaults(DDP_OPT_ADAMW, &c);
    assert_true(c.lr == 1e-3 && c.beta1 == 0.9 && c.beta2 == 0.999 && c.eps == 1e-8 &&
                c.weight_decay == 1e-2);
    assert_int_equal(ddp_optim_validate(&c, err), DDP_OK);
    ddp_optim_defaults(DDP_OPT_RMSPROP, &c);
    assert_true(c.lr == 1e-2 && c.alpha == 0.99 && c.eps == 1e-8 && c.momentum == 0 &&
                !c.centered && c.weight_decay == 0);
    assert_int_equal(ddp_optim_validate(&c, err), DDP_OK);
    assert_string_equal(ddp_optim_name(DDP_OPT_SGD), "sgd");
    assert_string_equal(ddp_optim_name(DDP_OPT_ADAM), "adam");
    assert_string_equal(ddp_optim_name(DDP_OPT_ADAMW), "adamw");
    assert_string_equal(ddp_optim_name(DDP_OPT_RMSPROP), "rmsprop");
}

static void expect_invalid(const ddp_optim_config *c, const char *flag)
{
    char err[DDP_ERR_LEN] = "";
    assert_int_equal(ddp_optim_validate(c, err), DDP_EXIT_USAGE);
    if (!strstr(err, flag)) fail_msg("message '%s' lacks '%s'", err, flag);
    assert_null(strchr(err, '\n'));
}

static void test_validate(void **state)
{
    (void)state;
    char err[DDP_ERR_LEN];
    const ddp_optim_kind kinds[] = {DDP_OPT_SGD, DDP_OPT_ADAM, DDP_OPT_ADAMW, DDP_OPT_RMSPROP};
    for (int k = 0; k < 4; k++) {
        ddp_optim_config c = make_cfg(kinds[k], -0.1);
        expect_invalid(&c, "--lr");
        c.lr = NAN;
        expect_invalid(&c, "--lr");
        c.lr = 0; /* lr 0 is legal, as in PyTorch */
        assert_int_equal(ddp_optim_validate(&c, err), DDP_OK);
        c.weight_decay = -1e-4;
        expect_invalid(&c, "--weight-decay");
    }
    ddp_optim_config c = make_cfg(DDP_OPT_SGD, 0.1);
    c.momentum = -0.5;
    expect_invalid(&c, "--momentum");
    c.momentum = 0;
    c.nesterov = 1;
    expect_invalid(&c, "--nesterov");
    expect_invalid(&c, "--momentum"); /* and says how to fix it */
    c.momentum = 0.9;
    c.dampening = 0.1;
    expect_invalid(&c, "--dampening");
    c.dampening = 0;
    assert_int_equal(ddp_optim_validate(&c, err), DDP_OK);
    c.nesterov = 0;
    c.dampening = 0.1; /* dampening without nesterov is fine */
    assert_int_equal(ddp_optim_validate(&c, err), DDP_OK);

    for (int k = 1; k <= 2; k++) {
        c = make_cfg(kinds[k], 0.1);
        c.eps = -1e-8;
        expect_invalid(&c, "--eps");
        c.eps = 0;
        assert_int_equal(ddp_optim_validate(&c, err), DDP_OK);
        c.beta1 = 1.0;
        expect_invalid(&c, "--betas");
        c.beta1 = -0.1;
        expect_invalid(&c, "--betas");
        c.beta1 = 0.0; /* [0, 1) */
        assert_int_equal(ddp_optim_validate(&c, err), DDP_OK);
        c.beta2 = 1.0;
        expect_invalid(&c, "--betas");
        c.beta2 = NAN;
        expect_invalid(&c, "--betas");
    }

    c = make_cfg(DDP_OPT_RMSPROP, 0.1);
    c.alpha = -0.01;
    expect_invalid(&c, "--alpha");
    c.alpha = 0.99;
    c.eps = -1;
    expect_invalid(&c, "--eps");
    c.eps = 1e-8;
    c.momentum = -1;
    expect_invalid(&c, "--momentum");
    c.momentum = 0.9;
    c.centered = 1;
    assert_int_equal(ddp_optim_validate(&c, err), DDP_OK);
}

/* ---------------------------------------------------------------- schedules */

static void assert_close(double a, double b)
{
    if (!(fabs(a - b) <= 1e-12 * fmax(fabs(b), 1e-300)))
        fail_msg("got %.17g, expected %.17g", a, b);
}

static void test_lr_schedules(void **state)
{
    (void)state;
    ddp_lr_config c = {.kind = DDP_LR_CONSTANT, .base_lr = 0.1};
    assert_close(ddp_lr_at(&c, 0), 0.1);
    assert_close(ddp_lr_at(&c, 1000000), 0.1);

    c.warmup_steps = 4; /* 0.025 0.05 0.075 0.1, then constant */
    assert_close(ddp_lr_at(&c, 0), 0.025);
    assert_close(ddp_lr_at(&c, 1), 0.05);
    assert_close(ddp_lr_at(&c, 3), 0.1);
    assert_close(ddp_lr_at(&c, 4), 0.1);
    assert_close(ddp_lr_at(&c, 50), 0.1);

    c = (ddp_lr_config){.kind = DDP_LR_STEP, .base_lr = 1.0, .step_size = 10, .gamma = 0.5};
    assert_close(ddp_lr_at(&c, 0), 1.0);
    assert_close(ddp_lr_at(&c, 9), 1.0);
    assert_close(ddp_lr_at(&c, 10), 0.5);
    assert_close(ddp_lr_at(&c, 29), 0.25);
    assert_close(ddp_lr_at(&c, 30), 0.125);
    c.warmup_steps = 5; /* decays count from the end of warm-up */
    assert_close(ddp_lr_at(&c, 0), 0.2);
    assert_close(ddp_lr_at(&c, 4), 1.0);
    assert_close(ddp_lr_at(&c, 14), 1.0);
    assert_close(ddp_lr_at(&c, 15), 0.5);
    assert_close(ddp_lr_at(&c, 35), 0.125);

    c = (ddp_lr_config){.kind = DDP_LR_COSINE, .base_lr = 0.1, .total_steps = 100};
    assert_close(ddp_lr_at(&c, 0), 0.1);
    assert_close(ddp_lr_at(&c, 25), 0.1 * (1 + cos(M_PI / 4)) / 2);
    assert_close(ddp_lr_at(&c, 50), 0.05);
    assert_true(fabs(ddp_lr_at(&c, 100)) < 1e-17);
    c.eta_min = 0.01;
    assert_close(ddp_lr_at(&c, 50), 0.055);
    assert_close(ddp_lr_at(&c, 100), 0.01);
    c.warmup_steps = 10; /* T = 90 after warm-up */
    assert_close(ddp_lr_at(&c, 0), 0.01);
    assert_close(ddp_lr_at(&c, 9), 0.1);
    assert_close(ddp_lr_at(&c, 10), 0.1);
    assert_close(ddp_lr_at(&c, 55), 0.055);
    assert_close(ddp_lr_at(&c, 40), 0.01 + 0.09 * (1 + cos(M_PI / 3)) / 2);
    assert_close(ddp_lr_at(&c, 100), 0.01);
    /* monotone non-increasing over the horizon */
    for (int64_t s = 10; s < 100; s++)
        assert_true(ddp_lr_at(&c, s + 1) <= ddp_lr_at(&c, s));
}

/* ---------------------------------------------------------------- PyTorch golden */

static int parse_kind(const char *s, ddp_optim_kind *k)
{
    for (int i = DDP_OPT_SGD; i <= DDP_OPT_RMSPROP; i++)
        if (strcmp(s, ddp_optim_name((ddp_optim_kind)i)) == 0) {
            *k = (ddp_optim_kind)i;
            return 0;
        }
    return -1;
}

static int read_floats(FILE *f, const char *tag, float *v, int n)
{
    char word[32];
    if (fscanf(f, "%31s", word) != 1 || strcmp(word, tag) != 0) return -1;
    for (int i = 0; i < n; i++)
        if (fscanf(f, "%f", &v[i]) != 1) return -1;
    return 0;
}

static void test_pytorch_golden(void **state)
{
    (void)state;
    FILE *f = fopen(GOLDEN_PATH, "r");
    if (!f)
        fail_msg("cannot open %s (regenerate with /usr/bin/python3 scripts/golden_optim.py)",
                 GOLDEN_PATH);
    int n_configs = 0;
    assert_int_equal(fscanf(f, " n_configs %d", &n_configs), 1);
    assert_true(n_configs >= 14);
    char err[DDP_ERR_LEN];
    for (int k = 0; k < n_configs; k++) {
        char name[64], kind[16];
        ddp_optim_config c;
        memset(&c, 0, sizeof c);
        int nesterov, amsgrad, centered, n, n_steps;
        int got = fscanf(f, " config %63s %15s %lf %lf %lf %d %lf %lf %lf %lf %d %lf %d", name,
                         kind, &c.lr, &c.momentum, &c.dampening, &nesterov, &c.weight_decay,
                         &c.beta1, &c.beta2, &c.eps, &amsgrad, &c.alpha, &centered);
        assert_int_equal(got, 13);
        assert_int_equal(parse_kind(kind, &c.kind), 0);
        c.nesterov = nesterov;
        c.amsgrad = amsgrad;
        c.centered = centered;
        assert_int_equal(fscanf(f, " size %d %d", &n, &n_steps), 2);
        assert_true(n > 0 && n <= 64 && n_steps >= 20);
        float p[64], g[64], expect[64];
        assert_int_equal(read_floats(f, "init", p, n), 0);
        ddp_optim o;
        assert_int_equal(ddp_optim_init(&o, &c, n, err), DDP_OK);
        ddp_range all = {0, n};
        for (int t = 0; t < n_steps; t++) {
            int tt;
            assert_int_equal(fscanf(f, " grad %d", &tt), 1);
            assert_int_equal(tt, t);
            for (int i = 0; i < n; i++)
                assert_int_equal(fscanf(f, "%f", &g[i]), 1);
            ddp_optim_step(&o, p, g, c.lr, &all, 1);
        }
        assert_int_equal(read_floats(f, "final", expect, n), 0);
        double max_rel = 0, max_abs_small = 0;
        int bitwise = 0;
        for (int i = 0; i < n; i++) {
            double d = fabs((double)p[i] - (double)expect[i]);
            double a = fabs((double)expect[i]);
            bitwise +=
                memcmp(&p[i], &expect[i], sizeof(float)) == 0 || (p[i] == 0 && expect[i] == 0);
            if (a > 0 && d / a > max_rel) max_rel = d / a;
            if (a == 0 && d > max_abs_small) max_abs_small = d;
            if (!(d <= 1e-5 * a || d <= 1e-7))
                fail_msg("%s: element %d after %d steps: optim.c %.9g, PyTorch %.9g (rel %.3g)",
                         name, i, n_steps, (double)p[i], (double)expect[i], a > 0 ? d / a : d);
        }
        print_message("golden %-30s max rel err %.3e  (%d/%d bitwise equal)%s\n", name, max_rel,
                      bitwise, n, max_abs_small > 0 ? "  [abs err at zero]" : "");
        ddp_optim_free(&o);
    }
    fclose(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgd_vs_reference),
        cmocka_unit_test(test_adam_vs_reference),
        cmocka_unit_test(test_adamw_vs_reference),
        cmocka_unit_test(test_adamw_decoupled),
        cmocka_unit_test(test_rmsprop_vs_reference),
        cmocka_unit_test(test_sgd_first_step_buffer),
        cmocka_unit_test(test_state_allocation),
        cmocka_unit_test(test_frozen_ranges),
        cmocka_unit_test(test_thread_invariance),
        cmocka_unit_test(test_defaults_and_names),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_lr_schedules),
        cmocka_unit_test(test_pytorch_golden),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
