/* kernels_units.c — linear and logistic rows in work units that a rank's
 * threads claim in turn (dynamic scheduling, deterministic sums): the unit
 * sizes, the scratch layout, and the team's loop and reduction. The rows of
 * a unit are done by ddp_kernel_unit_rows (kernels.c, the fused one-output
 * kernel).
 *
 * Deliberately not here: the row math, MPI, HDF5, I/O, allocation, exit. */
#include "kernels_internal.h"

#include <stdint.h>

/* Linear and logistic rows are memory-bound, and the cores of a rank need
 * not read memory equally fast (a noisy neighbour, a far memory node, a
 * VM's host): on this project's VMs one vCPU read shuffled 1 KiB rows at
 * 9.2-9.7 GB/s while the other read 12.7-14.5 GB/s, and with a static half
 * of B1's rows each, one thread worked 0.059 s of an epoch and the other
 * 0.107 s, the first waiting for the second at the barrier. So their rows
 * are cut into work units (about UNITS_PER_THREAD per thread, a multiple
 * of CHUNK_ROWS and at most FLUSH_ROWS rows, so a unit's float32 sums are
 * never flushed) that the threads claim in turn: a fast core takes more of
 * them. Each unit is summed into a slot of its own; the slots are then
 * added in unit order, so which thread ran a unit does not change the
 * sums (deterministic for a fixed thread count, as before). A thread keeps
 * its slots in a pool of its own, so their lines stay in its cache from
 * step to step (slots indexed by unit, written by whichever core took the
 * unit, made B1 14 % slower than the static split: 6 alternated runs), and
 * it claims its next unit before it starts the current one, so that it
 * can ask for the next unit's rows ahead. The pools take n_threads x
 * n_units slots of F floats: above DDP_UNIT_SCRATCH_DOUBLES (many threads and
 * a wide model), the static per-thread split is used instead; so it is
 * for softmax, whose slots would be n_out times larger. */
#define UNITS_PER_THREAD 4
#ifndef DDP_UNIT_SCRATCH_DOUBLES /* test_kernels_portable sets 0: always the static split */
#define DDP_UNIT_SCRATCH_DOUBLES ((int64_t)4 << 20) /* 32 MiB */
#endif

/* rows per unit for a selection of n_idx rows on n_threads threads */
static int64_t unit_rows(int64_t n_idx, int n_threads)
{
    int64_t want = (int64_t)UNITS_PER_THREAD * n_threads;
    int64_t u = (n_idx + want - 1) / want;
    u = (u + CHUNK_ROWS - 1) / CHUNK_ROWS * CHUNK_ROWS;
    return u < CHUNK_ROWS ? CHUNK_ROWS : u > FLUSH_ROWS ? FLUSH_ROWS : u;
}

static int64_t unit_count(int64_t n_idx, int n_threads)
{
    int64_t u = unit_rows(n_idx, n_threads);
    return (n_idx + u - 1) / u;
}

/* A slot: a unit's float32 sums [F], its bias sum and its loss sum
 * (float64), on whole cache lines. */
#define UNIT_GB(slot, F)   ((slot)[((F) + 1) / 2])
#define UNIT_LOSS(slot, F) ((slot)[((F) + 1) / 2 + 1])
static int64_t unit_stride(int64_t F)
{
    int64_t n = (F + 1) / 2 + 2;
    return (n + LINE_DOUBLES - 1) / LINE_DOUBLES * LINE_DOUBLES;
}

/* per-thread logits of a chunk, on whole lines */
#define UNIT_Z_DOUBLES ((CHUNK_ROWS + LINE_DOUBLES - 1) / LINE_DOUBLES * LINE_DOUBLES)
#define ROUND_LINES(n) (((n) + LINE_DOUBLES - 1) / LINE_DOUBLES * LINE_DOUBLES)

/* doubles of the unit layout for n_units units: the threads' logits, the
 * table of which slot holds each unit, then the threads' pools */
static int64_t unit_scratch(int64_t n_units, int64_t F, int n_threads)
{
    return (int64_t)n_threads * UNIT_Z_DOUBLES + ROUND_LINES(n_units) +
           (int64_t)n_threads * n_units * unit_stride(F);
}

int ddp_kernel_units_use(ddp_task kind, int64_t n_out, int64_t F, int64_t n_idx, int n_threads)
{
    return n_out == 1 && (kind == DDP_TASK_LINEAR || kind == DDP_TASK_LOGISTIC) &&
           unit_scratch(unit_count(n_idx, n_threads), F, n_threads) <= DDP_UNIT_SCRATCH_DOUBLES;
}

/* the next unit number, shared by the team */
static inline int64_t claim_unit(int64_t *next)
{
    int64_t u;
    DDP_OMP(omp atomic capture)
    u = (*next)++;
    return u;
}

int64_t ddp_kernel_units_scratch(int64_t F, int n_threads, int64_t max_rows)
{
    /* unit_count(r, T) <= max(UNITS_PER_THREAD T, ceil(r / FLUSH_ROWS)) for every r */
    int64_t max_units = (max_rows + FLUSH_ROWS - 1) / FLUSH_ROWS;
    if (max_units < (int64_t)UNITS_PER_THREAD * n_threads)
        max_units = (int64_t)UNITS_PER_THREAD * n_threads;
    int64_t n = unit_scratch(max_units, F, n_threads);
    return n < DDP_UNIT_SCRATCH_DOUBLES ? n : DDP_UNIT_SCRATCH_DOUBLES; /* more never uses units */
}

/* One-output models over work units (above): the threads claim units in
 * turn, each into its own pool, then each adds its static share of the
 * elements over the slots in unit order. */
void ddp_kernel_units_grad(ddp_task kind, const ddp_batch *batch, const float *w, double b,
                           double *grad, double *loss_sum, double *base, int n_threads)
{
    const int64_t F = batch->n_features, n_idx = batch->n_idx;
    const int64_t U = unit_rows(n_idx, n_threads), n_units = unit_count(n_idx, n_threads);
    const int64_t stride = unit_stride(F);
    double *table = base + (int64_t)n_threads * UNIT_Z_DOUBLES; /* [n_units]: unit -> slot number */
    double *pools = table + ROUND_LINES(n_units);               /* [n_threads][n_units] slots */
    int64_t next = 0;                                           /* the next unit to claim */

    DDP_OMP(omp parallel num_threads(n_threads))
    {
        int t = 0, n_team = 1;
        team_slot(&t, &n_team);
        double *restrict z = base + (int64_t)t * UNIT_Z_DOUBLES;
        int64_t cur = claim_unit(&next), slot_no = (int64_t)t * n_units;
        for (int burst = 1; cur < n_units; burst = 0, slot_no++) {
            int64_t nxt = claim_unit(&next);
            int64_t lo = cur * U, hi = lo + U < n_idx ? lo + U : n_idx;
            int64_t nlo = nxt < n_units ? nxt * U : hi, nhi = nlo + U < n_idx ? nlo + U : n_idx;
            row_seq ahead = {batch->idx, hi, nlo, nxt < n_units ? nhi : nlo};
            double *slot = pools + slot_no * stride;
            table[cur] = (double)slot_no; /* exact: slot numbers are far below 2^53 */
            UNIT_LOSS(slot, F) =
                ddp_kernel_unit_rows(kind, batch->x, batch->y, batch->idx, lo, hi, &ahead, burst, w,
                                     b, F, (float *)slot, &UNIT_GB(slot, F), z);
            cur = nxt;
        }
        DDP_OMP(omp barrier)
        /* each thread its share of the weights (and the bias, element F),
         * over the slots in unit order: the same sums whoever ran a unit */
        int64_t p0, p1;
        chunk(F + 1, t, n_team, &p0, &p1);
        const int64_t mid = p1 < F ? p1 : F;
        for (int64_t p = p0; p < p1; p++)
            grad[p] = 0.0;
        for (int64_t u = 0; u < n_units; u++) {
            const double *slot = pools + (int64_t)table[u] * stride;
            const float *restrict gf = (const float *)slot;
            DDP_OMP(omp simd)
            for (int64_t p = p0; p < mid; p++)
                grad[p] += (double)gf[p];
            if (p0 <= F && F < p1) grad[F] += UNIT_GB(slot, F);
        }
        DDP_OMP(omp single nowait)
        {
            double s = 0.0;
            for (int64_t u = 0; u < n_units; u++)
                s += UNIT_LOSS(pools + (int64_t)table[u] * stride, F);
            *loss_sum = s;
        }
    }
}
