/* model.h — parameter layout of each model kind, named like torch.nn.
 *
 * All parameters live in ONE contiguous float32 buffer (so the gradient
 * allreduce is one call); tensors are named views into it, in state_dict
 * order. linear / logistic / softmax are one nn.Linear(n_features, n_out):
 *   weight  [n_out, n_features]   offset 0
 *   bias    [n_out]               offset n_out * n_features
 * with n_out = 1 for linear and logistic, C for softmax.
 * Not here: the math (kernels.c), the update (optim.c), files (checkpoint). */
#ifndef DDPTRAIN_MODEL_H
#define DDPTRAIN_MODEL_H

#include "ddptrain/config.h"

#include <stdint.h>

#define DDP_MAX_TENSORS 8
#define DDP_TENSOR_NAME_LEN 48

typedef struct ddp_tensor {
    char name[DDP_TENSOR_NAME_LEN]; /* "weight", "bias" (torch.nn names) */
    int64_t offset;                 /* first element in the parameter buffer */
    int n_dims;
    int64_t shape[2];
    int64_t n_elems;
    int frozen; /* --freeze: never updated, left out of the allreduce */
} ddp_tensor;

typedef struct ddp_model {
    ddp_task kind;
    int64_t n_features;
    int64_t n_out;    /* 1, or C for softmax */
    int64_t n_params; /* total elements in params */
    int n_tensors;
    ddp_tensor tensors[DDP_MAX_TENSORS];
    float *params; /* [n_params]: weight [n_out, n_features] then bias [n_out] */
} ddp_model;

/* Lay out and allocate (zeroed). DDP_EXIT_USAGE / DDP_EXIT_MEMORY with a message. */
int ddp_model_init(ddp_model *m, ddp_task kind, int64_t n_features, int64_t n_classes, char *err);
void ddp_model_free(ddp_model *m);

/* nn.Linear's default initialisation: weight and bias ~ U(-1/sqrt(fan_in),
 * 1/sqrt(fan_in)), drawn from the counter-based stream (seed, "init"), so
 * every rank computes the same values without communication. */
void ddp_model_init_params(ddp_model *m, uint64_t seed);

/* Tensor by name, or NULL. */
ddp_tensor *ddp_model_find(ddp_model *m, const char *name);

/* Mark a comma-separated list of tensor names frozen ("bias", "weight,bias").
 * Unknown names are DDP_EXIT_USAGE listing the valid ones. */
int ddp_model_freeze(ddp_model *m, const char *names, char *err);

#endif
