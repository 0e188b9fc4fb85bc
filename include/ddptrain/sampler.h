/* sampler.h — which rows belong to which rank, and (later) which rows form
 * each global batch.
 *
 * Rows are split into V *virtual shards*, contiguous row ranges fixed by
 * (n_rows, V) alone: shard v holds rows [v*N/V, (v+1)*N/V). Rank r of P owns
 * the contiguous shard range [r*V/P, (r+1)*V/P), so its rows are one
 * contiguous hyperslab, shard sizes across ranks differ by at most one
 * virtual-shard quantum ceil(N/V) plus one row of rounding (at most one row
 * when P divides V), and everything keyed by virtual shard (epoch order,
 * batch composition) is independent of P. Pure arithmetic: no MPI, no I/O. */
#ifndef DDPTRAIN_SAMPLER_H
#define DDPTRAIN_SAMPLER_H

#include <stdint.h>

typedef struct ddp_shard_plan {
    int64_t n_rows;       /* rows in the whole dataset */
    int64_t n_vshards;    /* virtual shards actually used: min(requested, n_rows) */
    int64_t vshard_begin; /* this rank's virtual shards [begin, end) */
    int64_t vshard_end;
    int64_t row_begin; /* this rank's global rows [begin, end) */
    int64_t row_end;
} ddp_shard_plan;

/* First global row of virtual shard v (v may equal n_vshards: returns n_rows). */
int64_t ddp_vshard_row_begin(int64_t n_rows, int64_t n_vshards, int64_t v);

/* Plan for `rank` of `world`. Fails (DDP_EXIT_USAGE, message with the fix)
 * when there are fewer rows than ranks or more ranks than virtual shards. */
int ddp_sampler_plan(int64_t n_rows, int64_t n_vshards_requested, int rank, int world,
                     ddp_shard_plan *plan, char *err);

#endif
