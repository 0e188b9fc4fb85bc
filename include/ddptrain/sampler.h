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

/* ---- global batches ------------------------------------------------------
 * --batch-size B is the GLOBAL batch. An epoch is ceil(N/B) batches (floor
 * with --drop-last; the rows of the dropped tail are skipped that epoch).
 *
 * Shuffled epochs: each virtual shard v has its own order for epoch e, a
 * permutation drawn from the stream (seed, e, v). The epoch's global row
 * sequence interleaves the shards round-robin: the j-th row of every shard
 * (in shard order v = 0..V-1) comes before any shard's (j+1)-th row, so
 * each global batch takes ~B/V rows from every shard. Batch k is positions
 * [kB, (k+1)B) of that sequence. Nothing here depends on the rank count:
 * 1, 2, 4 or 8 ranks see the same global batches. A rank's part of batch k
 * is laid out shard by shard (each shard's rows in sequence order), so the
 * kernel's threads, which split it in contiguous parts, each read rows from
 * their own part of the rank's rows.
 * Unshuffled epochs (--no-shuffle): the sequence is file order, batch k is
 * rows [kB, (k+1)B) — what torch's DataLoader(shuffle=False) iterates. */
typedef struct ddp_sampler {
    ddp_shard_plan plan;
    int64_t batch_size; /* global B */
    int drop_last;
    int shuffle;
    uint64_t seed;
    int64_t epoch;           /* epoch the order below belongs to */
    uint32_t *order;         /* [n_local] (shuffled epochs) each owned shard's permutation, as offsets
                                into the shard, the shards in shard order */
    int64_t *seq;            /* [n_local] local row indices in epoch-sequence order (file order
                                when not shuffled) */
    int64_t *first;          /* [owned shards] where each owned shard starts in order */
    int64_t *shard_sizes;    /* [n_vshards] rows of every virtual shard: q or q + 1 */
    int64_t q;               /* floor(n_rows / n_vshards): rows of the smaller shards */
    int64_t *big_before;     /* [n_vshards + 1] shards of q + 1 rows before shard v */
    int n_threads;           /* set_epoch shuffles the shards on this many OpenMP threads (init: 1) */
} ddp_sampler;

int ddp_sampler_init(ddp_sampler *s, const ddp_shard_plan *plan, int64_t batch_size, int drop_last, int shuffle,
                     uint64_t seed, char *err);
void ddp_sampler_free(ddp_sampler *s);
int64_t ddp_sampler_batches_per_epoch(const ddp_sampler *s);
/* Rows in global batch k (the same on every rank). */
int64_t ddp_sampler_global_batch_rows(const ddp_sampler *s, int64_t k);
/* Largest number of local rows any batch can give this rank (to size buffers). */
int64_t ddp_sampler_max_local_rows(const ddp_sampler *s);
/* Prepare the order of epoch e (cheap when shuffle is off). Shards are
 * shuffled independently, on s->n_threads threads: the order does not
 * depend on the thread count. */
void ddp_sampler_set_epoch(ddp_sampler *s, int64_t epoch);
/* This rank's rows of global batch k of the current epoch, as local row
 * indices (0-based into the shard): *n_rows of them at the returned address,
 * valid until the next set_epoch. No copy: set_epoch lays the epoch out in
 * sequence order (seq), so every batch is a contiguous run of it (the rows
 * come round by round, each round in shard order). */
const int64_t *ddp_sampler_local_batch(const ddp_sampler *s, int64_t k, int64_t *n_rows);

#endif
