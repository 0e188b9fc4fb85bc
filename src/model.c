/* model.c — parameter layout, allocation, default initialisation and
 * freezing for the one-layer models (linear / logistic / softmax), named like
 * torch.nn so a checkpoint maps 1:1 onto a state_dict.
 *
 * Deliberately not here: the forward/backward math (kernels.c), the update
 * rule (optim.c), reading or writing weights (checkpoint.c). */
#include "ddptrain/model.h"
#include "ddptrain/common.h"
#include "ddptrain/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Random stream of the parameter initialisation. Stream ids at and above
 * 2^62 are reserved for parameters (gen.c's planted weights use 2^62 itself);
 * rows of generated data use their row index, far below. */
#define INIT_STREAM ((UINT64_C(1) << 62) + 1)

static void add_tensor(ddp_model *m, const char *name, int64_t offset, int n_dims, int64_t d0,
                       int64_t d1)
{
    DDP_ASSERT(m->n_tensors < DDP_MAX_TENSORS);
    ddp_tensor *t = &m->tensors[m->n_tensors++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->offset = offset;
    t->n_dims = n_dims;
    t->shape[0] = d0;
    t->shape[1] = n_dims > 1 ? d1 : 0;
    t->n_elems = n_dims > 1 ? d0 * d1 : d0;
}

int ddp_model_init(ddp_model *m, ddp_task kind, int64_t n_features, int64_t n_classes, char *err)
{
    memset(m, 0, sizeof *m);
    if (kind != DDP_TASK_LINEAR && kind != DDP_TASK_LOGISTIC && kind != DDP_TASK_SOFTMAX) {
        ddp_errf(err, "unknown model kind %d; use --model linear, logistic or softmax", (int)kind);
        return DDP_EXIT_USAGE;
    }
    if (n_features < 1) {
        ddp_errf(err,
                 "a %s model needs at least 1 feature, but the data has %lld; "
                 "check the features dataset",
                 ddp_task_name(kind), (long long)n_features);
        return DDP_EXIT_USAGE;
    }
    int64_t n_out = 1;
    if (kind == DDP_TASK_SOFTMAX) {
        if (n_classes < 2) {
            ddp_errf(err,
                     "a softmax model needs at least 2 classes, but got %lld; use "
                     "--model logistic for two, or check the labels / --classes",
                     (long long)n_classes);
            return DDP_EXIT_USAGE;
        }
        n_out = n_classes;
    }
    /* n_params = n_out * (F + 1); the kernels take n_out as an int and the
     * byte count must fit a size_t. */
    size_t n_params = 0, n_bytes = 0;
    if (n_out > INT32_MAX || ddp_mul_size((size_t)n_out, (size_t)n_features + 1, &n_params) != 0 ||
        n_params > (size_t)INT64_MAX || ddp_mul_size(n_params, sizeof(float), &n_bytes) != 0) {
        ddp_errf(err,
                 "a %s model with %lld features and %lld outputs has too many "
                 "parameters to address",
                 ddp_task_name(kind), (long long)n_features, (long long)n_out);
        return DDP_EXIT_USAGE;
    }
    m->params = calloc(n_params, sizeof(float));
    if (!m->params) {
        ddp_errf(err, "cannot allocate %zu bytes for the %s model's %zu parameters", n_bytes,
                 ddp_task_name(kind), n_params);
        return DDP_EXIT_MEMORY;
    }
    m->kind = kind;
    m->n_features = n_features;
    m->n_out = n_out;
    m->n_params = (int64_t)n_params;
    add_tensor(m, "weight", 0, 2, n_out, n_features);
    add_tensor(m, "bias", n_out * n_features, 1, n_out, 0);
    return DDP_OK;
}

void ddp_model_free(ddp_model *m)
{
    if (!m) return;
    free(m->params);
    memset(m, 0, sizeof *m);
}

void ddp_model_init_params(ddp_model *m, uint64_t seed)
{
    /* nn.Linear.reset_parameters: kaiming_uniform_(a = sqrt(5)) on the weight
     * has gain sqrt(2 / (1 + 5)) and bound gain * sqrt(3 / fan_in) =
     * 1 / sqrt(fan_in); the bias bound is 1 / sqrt(fan_in) too. Drawn in
     * state_dict order (weight row-major, then bias) as torch's
     * uniform_(-b, b) = -b + 2b u. */
    ddp_rng rng = ddp_rng_make(seed, INIT_STREAM);
    double bound = 1.0 / sqrt((double)m->n_features);
    for (int k = 0; k < m->n_tensors; k++) {
        float *p = m->params + m->tensors[k].offset;
        for (int64_t i = 0; i < m->tensors[k].n_elems; i++)
            p[i] = (float)(-bound + 2.0 * bound * ddp_rng_uniform(&rng));
    }
}

ddp_tensor *ddp_model_find(ddp_model *m, const char *name)
{
    for (int k = 0; k < m->n_tensors; k++)
        if (strcmp(m->tensors[k].name, name) == 0) return &m->tensors[k];
    return NULL;
}

/* Tensor whose name is exactly s[0..len), or NULL. */
static ddp_tensor *find_n(ddp_model *m, const char *s, size_t len)
{
    for (int k = 0; k < m->n_tensors; k++)
        if (strlen(m->tensors[k].name) == len && memcmp(m->tensors[k].name, s, len) == 0)
            return &m->tensors[k];
    return NULL;
}

/* One pass over "a, b,c": validate only (mark == 0) or mark frozen. Spaces
 * around names are ignored; an empty name is an error. */
static int freeze_pass(ddp_model *m, const char *names, int mark, char *err)
{
    const char *s = names;
    for (;;) {
        const char *end = strchr(s, ',');
        if (!end) end = s + strlen(s);
        const char *a = s, *b = end;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        ddp_tensor *t = find_n(m, a, (size_t)(b - a));
        if (!t) {
            char have[DDP_MAX_TENSORS * (DDP_TENSOR_NAME_LEN + 2)] = "";
            for (int k = 0; k < m->n_tensors; k++) {
                if (k) strcat(have, ", ");
                strcat(have, m->tensors[k].name);
            }
            if (a == b)
                ddp_errf(err, "empty parameter name in --freeze '%s'; this model has: %s", names,
                         have);
            else
                ddp_errf(err, "unknown parameter '%.*s' in --freeze; this model has: %s",
                         (int)(b - a), a, have);
            return DDP_EXIT_USAGE;
        }
        if (mark) t->frozen = 1;
        if (*end == '\0') return DDP_OK;
        s = end + 1;
    }
}

int ddp_model_freeze(ddp_model *m, const char *names, char *err)
{
    if (!names) return DDP_OK;
    /* validate every name first, so an error leaves nothing half frozen */
    int rc = freeze_pass(m, names, 0, err);
    if (rc == DDP_OK) rc = freeze_pass(m, names, 1, err);
    return rc;
}
