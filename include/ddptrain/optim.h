/* optim.h — optimizers with PyTorch's exact update rules (torch.optim docs,
 * torch 1.13), on one contiguous float32 parameter buffer, and learning-rate
 * schedules.
 *
 *   SGD      momentum, dampening, nesterov, weight_decay (coupled);
 *            the first step sets the buffer to the gradient (buf = g)
 *   Adam     betas, eps (added after sqrt of the bias-corrected second
 *            moment), weight_decay (coupled), amsgrad
 *   AdamW    as Adam, but decoupled weight decay: p *= 1 - lr * wd
 *   RMSprop  alpha, eps (after sqrt), weight_decay, momentum, centered
 * Defaults are PyTorch's: Adam lr 1e-3, betas (0.9, 0.999), eps 1e-8;
 * AdamW weight_decay 1e-2; RMSprop lr 1e-2, alpha 0.99, eps 1e-8; SGD lr 1e-3.
 * Math in float32 like PyTorch's CPU kernels (single-tensor, foreach=False).
 * No MPI, no I/O: every rank calls step with the same inputs and gets
 * bitwise the same parameters. */
#ifndef DDPTRAIN_OPTIM_H
#define DDPTRAIN_OPTIM_H

#include <stdint.h>

typedef enum ddp_optim_kind { DDP_OPT_SGD = 0, DDP_OPT_ADAM, DDP_OPT_ADAMW, DDP_OPT_RMSPROP } ddp_optim_kind;

typedef struct ddp_optim_config {
    ddp_optim_kind kind;
    double lr;
    double momentum;     /* SGD, RMSprop */
    double dampening;    /* SGD */
    int nesterov;        /* SGD */
    double weight_decay; /* all; decoupled for AdamW */
    double beta1, beta2; /* Adam(W) */
    double eps;          /* Adam(W), RMSprop */
    int amsgrad;         /* Adam(W) */
    double alpha;        /* RMSprop smoothing constant */
    int centered;        /* RMSprop */
} ddp_optim_config;

/* PyTorch's defaults for `kind` (lr included). */
void ddp_optim_defaults(ddp_optim_kind kind, ddp_optim_config *cfg);
/* Checks PyTorch's constraints (lr >= 0, 0 <= beta < 1, eps >= 0, nesterov
 * needs momentum > 0 and dampening 0, ...); message names the option. */
int ddp_optim_validate(const ddp_optim_config *cfg, char *err);
const char *ddp_optim_name(ddp_optim_kind kind);

/* Optimizer state, one contiguous buffer per state kind, each [n_params],
 * named as in PyTorch's state_dict: */
typedef struct ddp_optim {
    ddp_optim_config cfg;
    int64_t n_params;
    int64_t step;           /* completed steps (PyTorch's state['step']) */
    float *momentum_buffer; /* SGD with momentum; RMSprop with momentum */
    float *exp_avg;         /* Adam(W) */
    float *exp_avg_sq;      /* Adam(W) */
    float *max_exp_avg_sq;  /* Adam(W) with amsgrad */
    float *square_avg;      /* RMSprop */
    float *grad_avg;        /* RMSprop centered */
    int has_momentum;       /* SGD: momentum_buffer initialised (first step done) */
} ddp_optim;

/* Allocates (zeroed) only the states the configuration needs. */
int ddp_optim_init(ddp_optim *opt, const ddp_optim_config *cfg, int64_t n_params, char *err);
void ddp_optim_free(ddp_optim *opt);
/* Copy the whole state (buffers, step) between two optimizers initialised
 * with the same configuration and size. */
void ddp_optim_copy_state(ddp_optim *dst, const ddp_optim *src);

/* One step at learning rate lr over the element ranges given (frozen
 * tensors are simply not listed, so they and their state stay bitwise
 * unchanged). grad is the mean gradient, float32. Increments opt->step. */
typedef struct ddp_range {
    int64_t offset, n_elems;
} ddp_range;
void ddp_optim_step(ddp_optim *opt, float *params, const float *grad, double lr, const ddp_range *ranges,
                    int n_ranges);
/* The same step in parts: apply to any disjoint ranges (as each gradient
 * bucket arrives; updates are elementwise, so the result is the same), then
 * finish once. ddp_optim_step = apply to all + finish. */
void ddp_optim_apply(const ddp_optim *opt, float *params, const float *grad, double lr, const ddp_range *ranges,
                     int n_ranges);
void ddp_optim_finish(ddp_optim *opt);

/* The step's vector work around the update, vectorised like it:
 * ddp_grad_mean writes dst[i] = (float)(sum[i] / count) and returns the sum
 * of dst[i]^2 in float64 (the squared gradient norm; NaN or Inf if any
 * element is). When count is a power of two it multiplies by 1 / count,
 * which gives the same bits without a division per element.
 * ddp_sq_diff returns the sum of (a[i] - b[i])^2 in float64 (the squared
 * norm of an update). */
double ddp_grad_mean(float *dst, const double *sum, int64_t n, double count);
double ddp_sq_diff(const float *a, const float *b, int64_t n);

/* Learning-rate schedules, a pure function of the step (0-based) so resume
 * needs no scheduler state:
 *   constant  lr
 *   step      lr * gamma^floor(s / step_size)          (StepLR, counted in steps)
 *   cosine    eta_min + (lr - eta_min)(1 + cos(pi s / T)) / 2 over T = total - warmup (CosineAnnealingLR)
 * with linear warm-up lr * (s + 1) / warmup for s < warmup (the schedules
 * then start at s - warmup). */
typedef enum ddp_lr_schedule { DDP_LR_CONSTANT = 0, DDP_LR_STEP, DDP_LR_COSINE } ddp_lr_schedule;
typedef struct ddp_lr_config {
    ddp_lr_schedule kind;
    double base_lr;
    int64_t warmup_steps;
    int64_t step_size; /* step */
    double gamma;      /* step */
    int64_t total_steps; /* cosine horizon including warm-up */
    double eta_min;    /* cosine */
} ddp_lr_config;
double ddp_lr_at(const ddp_lr_config *cfg, int64_t step);

#endif
