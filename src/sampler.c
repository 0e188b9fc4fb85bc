/* sampler.c — virtual-shard row partition. See sampler.h. */
#include "ddptrain/sampler.h"
#include "ddptrain/common.h"

int64_t ddp_vshard_row_begin(int64_t n_rows, int64_t n_vshards, int64_t v)
{
    /* 128-bit product: v * n_rows can exceed 2^63 for large files. */
    return (int64_t)(((__int128)v * n_rows) / n_vshards);
}

int ddp_sampler_plan(int64_t n_rows, int64_t n_vshards_requested, int rank, int world,
                     ddp_shard_plan *plan, char *err)
{
    DDP_ASSERT(world >= 1 && rank >= 0 && rank < world && n_vshards_requested >= 1);
    if (n_rows < world) {
        ddp_errf(err, "the dataset has %lld rows but the job has %d ranks; every rank needs at least one "
                 "row: run with at most %lld ranks (mpirun -n %lld)",
                 (long long)n_rows, world, (long long)n_rows, (long long)n_rows);
        return DDP_EXIT_USAGE;
    }
    int64_t v = n_vshards_requested < n_rows ? n_vshards_requested : n_rows;
    if (world > v) {
        ddp_errf(err, "%d ranks but only %lld virtual shards; each rank needs one: raise "
                 "--virtual-shards to at least %d (a multiple of the rank count balances best)",
                 world, (long long)v, world);
        return DDP_EXIT_USAGE;
    }
    plan->n_rows = n_rows;
    plan->n_vshards = v;
    plan->vshard_begin = (int64_t)rank * v / world;
    plan->vshard_end = (int64_t)(rank + 1) * v / world;
    plan->row_begin = ddp_vshard_row_begin(n_rows, v, plan->vshard_begin);
    plan->row_end = ddp_vshard_row_begin(n_rows, v, plan->vshard_end);
    return DDP_OK;
}
