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

/* ---- global batches ---------------------------------------------------- */

#include "ddptrain/rng.h"

#include <stdlib.h>
#include <string.h>

/* bytes of an array of one `elem`-byte entry per local row */
static size_t local_bytes(const ddp_shard_plan *plan, size_t elem)
{
    int64_t n_local = plan->row_end - plan->row_begin;
    return (size_t)(n_local > 0 ? n_local : 1) * elem;
}

int ddp_sampler_init(ddp_sampler *s, const ddp_shard_plan *plan, int64_t batch_size, int drop_last, int shuffle,
                     uint64_t seed, char *err)
{
    memset(s, 0, sizeof *s);
    if (batch_size < 1) {
        ddp_errf(err, "--batch-size must be at least 1");
        return DDP_EXIT_USAGE;
    }
    if (drop_last && batch_size > plan->n_rows) {
        ddp_errf(err, "--batch-size %lld with --drop-last leaves no batch for %lld rows; lower --batch-size or "
                 "drop --drop-last", (long long)batch_size, (long long)plan->n_rows);
        return DDP_EXIT_USAGE;
    }
    /* shuffled shards hold 32-bit offsets (half the bytes to shuffle and lay out) */
    int64_t max_shard = (plan->n_rows + plan->n_vshards - 1) / plan->n_vshards;
    if (shuffle && max_shard > (int64_t)UINT32_MAX) {
        int64_t need = (plan->n_rows + (int64_t)UINT32_MAX - 1) / (int64_t)UINT32_MAX;
        ddp_errf(err, "virtual shards of up to %lld rows are too large to shuffle (at most %lld rows each): raise "
                 "--virtual-shards to at least %lld, or use --no-shuffle",
                 (long long)max_shard, (long long)UINT32_MAX, (long long)need);
        return DDP_EXIT_USAGE;
    }
    s->plan = *plan;
    s->batch_size = batch_size;
    s->drop_last = drop_last;
    s->shuffle = shuffle;
    s->seed = seed;
    s->epoch = -1;
    s->n_threads = 1;
    int64_t n_local = plan->row_end - plan->row_begin;
    /* order and seq: huge pages where the kernel grants them (the epoch's
     * batch layout reads each shard's order as one run per batch) */
    s->order = shuffle ? ddp_big_alloc(local_bytes(plan, sizeof(uint32_t))) : NULL;
    s->seq = ddp_big_alloc(local_bytes(plan, sizeof(int64_t)));
    s->first = malloc((size_t)(plan->vshard_end - plan->vshard_begin) * sizeof(int64_t));
    s->shard_sizes = malloc((size_t)plan->n_vshards * sizeof(int64_t));
    s->big_before = malloc((size_t)(plan->n_vshards + 1) * sizeof(int64_t));
    if ((shuffle && !s->order) || !s->seq || !s->first || !s->shard_sizes || !s->big_before) {
        ddp_sampler_free(s);
        ddp_errf(err, "cannot allocate the sampler's row order (%lld rows)", (long long)n_local);
        return DDP_EXIT_MEMORY;
    }
    s->q = plan->n_rows / plan->n_vshards;
    s->big_before[0] = 0;
    for (int64_t v = 0; v < plan->n_vshards; v++) {
        s->shard_sizes[v] = ddp_vshard_row_begin(plan->n_rows, plan->n_vshards, v + 1) -
                            ddp_vshard_row_begin(plan->n_rows, plan->n_vshards, v);
        DDP_ASSERT(s->shard_sizes[v] == s->q || s->shard_sizes[v] == s->q + 1); /* floor partition */
        s->big_before[v + 1] = s->big_before[v] + (s->shard_sizes[v] == s->q + 1);
    }
    for (int64_t v = plan->vshard_begin; v < plan->vshard_end; v++)
        s->first[v - plan->vshard_begin] = ddp_vshard_row_begin(plan->n_rows, plan->n_vshards, v) - plan->row_begin;
    /* the identity (file order); and first touch now, not in the first
     * epoch's passes (measured: their page faults made the layout 2.4-2.8 ms
     * for 1 M rows instead of 0.6) */
    for (int64_t i = 0; i < n_local; i++) s->seq[i] = i;
    if (s->order) memset(s->order, 0, local_bytes(plan, sizeof(uint32_t)));
    return DDP_OK;
}

void ddp_sampler_free(ddp_sampler *s)
{
    ddp_big_free(s->order, local_bytes(&s->plan, sizeof(uint32_t)));
    ddp_big_free(s->seq, local_bytes(&s->plan, sizeof(int64_t)));
    free(s->first);
    free(s->shard_sizes);
    free(s->big_before);
    s->order = NULL;
    s->seq = s->first = s->shard_sizes = s->big_before = NULL;
}

int64_t ddp_sampler_batches_per_epoch(const ddp_sampler *s)
{
    int64_t n = s->plan.n_rows, b = s->batch_size;
    return s->drop_last ? n / b : (n + b - 1) / b;
}

int64_t ddp_sampler_global_batch_rows(const ddp_sampler *s, int64_t k)
{
    int64_t left = s->plan.n_rows - k * s->batch_size;
    return left < s->batch_size ? left : s->batch_size;
}

/* How many of shard v's rows sit at positions < end of the interleaved
 * epoch sequence. Every shard has q or q + 1 rows, so round j < q holds one
 * row of every shard, at position j*V + v, and the last round (j = q) holds
 * one row of each larger shard, at q*V + (larger shards before v). */
static int64_t rows_before(const ddp_sampler *s, int64_t v, int64_t end)
{
    const int64_t V = s->plan.n_vshards, q = s->q;
    int64_t n = 0;
    if (end > v) n = (end - v + V - 1) / V; /* j with j*V + v < end */
    if (n > q) n = q;
    if (s->shard_sizes[v] == q + 1 && q * V + s->big_before[v] < end) n++;
    return n;
}

/* Entries of seq before sequence position end: this rank's rows there. */
static int64_t local_before(const ddp_sampler *s, int64_t end)
{
    int64_t n = 0;
    for (int64_t v = s->plan.vshard_begin; v < s->plan.vshard_end; v++) n += rows_before(s, v, end);
    return n;
}

/* seq = this rank's part of the epoch sequence, batch by batch: batch k's
 * rows are those this rank owns among sequence positions [kB, (k+1)B),
 * grouped by shard in shard order, each shard's rows in its shuffled order
 * (a contiguous run of that shard's order). The set of rows of each batch
 * is the interleaved sequence's; grouping by shard puts the rows of the
 * batch's first threads in the first shards, i.e. the first part of the
 * shard in memory: each thread reads rows from its own part, as each rank
 * of 2 does, instead of from all of it (kernel_bench linear 2 M x 64, 2
 * threads: 52-70 -> 71-77 M rows/s; README, "Same batches on any number of
 * ranks"). Parallel over batches; each reads nv forward runs of order. */
static void lay_out_batches(ddp_sampler *s, int n_threads)
{
    const int64_t vb = s->plan.vshard_begin, ve = s->plan.vshard_end;
    const int64_t n_batches = ddp_sampler_batches_per_epoch(s);
    (void)n_threads; /* unused without OpenMP */
#pragma omp parallel for schedule(static) num_threads(n_threads)
    for (int64_t k = 0; k < n_batches; k++) {
        const int64_t begin = k * s->batch_size, end = begin + ddp_sampler_global_batch_rows(s, k);
        int64_t *out = s->seq + local_before(s, begin);
        for (int64_t v = vb; v < ve; v++) {
            const int64_t j0 = rows_before(s, v, begin), j1 = rows_before(s, v, end);
            const int64_t f = s->first[v - vb];
            for (int64_t j = j0; j < j1; j++) *out++ = f + s->order[f + j];
        }
    }
    /* the batches tile the rank's rows (all of them unless --drop-last) */
    DDP_ASSERT(s->drop_last || local_before(s, s->plan.n_rows) == s->plan.row_end - s->plan.row_begin);
}

void ddp_sampler_set_epoch(ddp_sampler *s, int64_t epoch)
{
    if (s->epoch == epoch) return;
    s->epoch = epoch;
    if (!s->shuffle) return; /* identity order, set at init */
    int n_threads = s->n_threads > 0 ? s->n_threads : 1;
    (void)n_threads; /* unused without OpenMP */
#pragma omp parallel for schedule(dynamic) num_threads(n_threads)
    for (int64_t v = s->plan.vshard_begin; v < s->plan.vshard_end; v++) {
        uint32_t *seg = s->order + s->first[v - s->plan.vshard_begin];
        uint32_t n = (uint32_t)s->shard_sizes[v]; /* < 2^32: checked at init */
        for (uint32_t i = 0; i < n; i++) seg[i] = i;
        /* Fisher-Yates from the stream (seed, epoch, shard): rank-count independent */
        ddp_rng32 rng = ddp_rng32_make(s->seed, ddp_mix64((uint64_t)epoch * UINT64_C(0x100000001b3) + (uint64_t)v));
        for (int64_t i = (int64_t)n - 1; i > 0; i--) {
            uint32_t j = ddp_rng32_below(&rng, (uint32_t)i + 1);
            uint32_t t = seg[i];
            seg[i] = seg[j];
            seg[j] = t;
        }
    }
    lay_out_batches(s, n_threads);
}

const int64_t *ddp_sampler_local_batch(const ddp_sampler *s, int64_t k, int64_t *n_rows)
{
    int64_t begin = k * s->batch_size;
    int64_t end = begin + ddp_sampler_global_batch_rows(s, k);
    if (!s->shuffle) { /* file order: rows [begin, end) intersected with ours; seq is the identity */
        int64_t a = begin > s->plan.row_begin ? begin : s->plan.row_begin;
        int64_t z = end < s->plan.row_end ? end : s->plan.row_end;
        *n_rows = z > a ? z - a : 0;
        return s->seq + (z > a ? a - s->plan.row_begin : 0);
    }
    /* seq is in sequence order, so the batch is one contiguous run of it */
    int64_t lo = local_before(s, begin);
    *n_rows = local_before(s, end) - lo;
    return s->seq + lo;
}

int64_t ddp_sampler_max_local_rows(const ddp_sampler *s)
{
    int64_t n_local = s->plan.row_end - s->plan.row_begin;
    return s->batch_size < n_local ? s->batch_size : n_local;
}
