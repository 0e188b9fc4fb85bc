/* kernel_bench.c — benchmark tool: ddp_kernel_grad alone (no MPI, no I/O)
 * on an in-memory shard, with batches drawn the way the trainer draws them
 * (a random permutation of the rows, cut into batches), best of REPS epochs.
 *   kernel_bench MODEL ROWS FEATURES CLASSES BATCH THREADS [REPS]
 * prints "kernel_rows_per_s <value> gbs <value>" (bytes = rows x features x 4). */
#include "ddptrain/common.h"
#include "ddptrain/kernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int main(int argc, char **argv)
{
    if (argc < 7) {
        fprintf(stderr, "usage: %s linear|logistic|softmax ROWS FEATURES CLASSES BATCH THREADS [REPS]\n", argv[0]);
        return 2;
    }
    ddp_task kind = strcmp(argv[1], "softmax") == 0 ? DDP_TASK_SOFTMAX
                    : strcmp(argv[1], "logistic") == 0 ? DDP_TASK_LOGISTIC
                                                       : DDP_TASK_LINEAR;
    int64_t n = atoll(argv[2]), F = atoll(argv[3]), C = atoll(argv[4]), B = atoll(argv[5]);
    int threads = atoi(argv[6]), reps = argc > 7 ? atoi(argv[7]) : 3; /* a test tool: argv is ours */
    int64_t n_out = kind == DDP_TASK_SOFTMAX ? C : 1, P = n_out * F + n_out;
    float *x = ddp_big_alloc((size_t)(n * F) * sizeof(float));
    float *y = malloc((size_t)n * sizeof(float));
    float *w = malloc((size_t)P * sizeof(float));
    int64_t *perm = malloc((size_t)n * sizeof(int64_t));
    double *grad = malloc((size_t)P * sizeof(double));
    double *scratch = calloc((size_t)ddp_kernel_scratch_elems(P, (int)n_out, threads), sizeof(double));
    if (!x || !y || !w || !perm || !grad || !scratch) return 1;
    uint64_t s = 1;
    for (int64_t i = 0; i < n * F; i++) x[i] = (float)((double)(mix(&s) >> 11) * 0x1p-53 - 0.5);
    for (int64_t i = 0; i < n; i++) y[i] = kind == DDP_TASK_SOFTMAX ? (float)(mix(&s) % (uint64_t)C)
                                         : kind == DDP_TASK_LOGISTIC ? (float)(mix(&s) & 1) : (float)i / (float)n;
    for (int64_t i = 0; i < P; i++) w[i] = 0.01f * (float)(i % 7);
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    const int kb_seq = getenv("KB_SEQ") != NULL; /* read once: not per shuffled row */
    double best = 1e30, sink = 0;
    for (int r = 0; r < reps; r++) {
        for (int64_t i = n - 1; i > 0 && !kb_seq; i--) { /* Fisher-Yates; KB_SEQ=1: file order */
            int64_t j = (int64_t)(mix(&s) % (uint64_t)(i + 1)), t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        double t0 = ddp_now();
        for (int64_t b0 = 0; b0 < n; b0 += B) {
            ddp_batch batch = {x, y, perm + b0, b0 + B <= n ? B : n - b0, F};
            double loss;
            ddp_kernel_grad(kind, &batch, n_out, w, w + n_out * F, grad, &loss, scratch, threads);
            sink += loss + grad[0];
        }
        double dt = ddp_now() - t0;
        if (dt < best) best = dt;
    }
    printf("kernel_rows_per_s %.0f gbs %.2f (%s %lld x %lld, batch %lld, %d threads; checksum %g)\n",
           (double)n / best, (double)n * (double)F * 4.0 / best / 1e9, argv[1], (long long)n, (long long)F,
           (long long)B, threads, sink);
    return 0;
}
