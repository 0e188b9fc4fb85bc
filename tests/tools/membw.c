/* membw.c — benchmark tool: the two ceilings of a linear model's step on this
 * machine, measured with T OpenMP threads.
 *
 *   membw [THREADS] [MIB]    memory READ bandwidth: sums a float array of MIB
 *                            MiB (default 512, far larger than the 32 MiB L3),
 *                            3rd best of 20 passes (see KEEP); prints
 *                            "read_bandwidth_gbs <GB/s> ..." with the best and
 *                            the median
 *   membw --flops [THREADS]  float32 FMA peak: independent FMA chains held in
 *                            vector registers, 2nd best of 7; prints
 *                            "flops_gflops <GFLOP/s> ..."
 *   membw --rows ROW_FLOATS [THREADS] [MIB]
 *                            the same sum, but over rows of ROW_FLOATS floats
 *                            visited in a random order within each thread's
 *                            slice (as shuffled batches visit them), each row
 *                            software-prefetched into L2 16 rows ahead; prints
 *                            "shuffled_rows_gbs <GB/s> ..."
 *   membw --overlap ROW_FLOATS [THREADS] [MIB]
 *                            whether this machine overlaps arithmetic with
 *                            memory reads: the shuffled rows (ROW_FLOATS a
 *                            multiple of 16) read alone, register-only FMA
 *                            work alone (as much per row as the read takes),
 *                            and both interleaved a line at a time, each
 *                            line of the row PF_ROWS ahead requested as the
 *                            kernel does; prints "overlap_hidden_pct <P>
 *                            ... read_ns R fma_ns C both_ns B": P = the
 *                            share of the shorter part that running both
 *                            hid, (R + C - B) / min(R, C): 100 is a full
 *                            overlap, 0 times that add (the median of
 *                            each repetition's share); and the same with
 *                            the FMA work on the rows, as a kernel's
 *
 * Why it is written this way: a single `s += a[i]` is one dependent chain of
 * adds, limited by the add latency (~4.8 GB/s per thread here), not by memory.
 * Here each thread sums its own contiguous slice (first-touched by the same
 * thread, so its pages are local) into 64 independent float partial sums that
 * the compiler turns into several vector accumulators. The build compiles this
 * file alone with -O3 -march=native (CMakeLists.txt) so the probe uses the
 * machine's widest vectors whatever the project's flags.
 * It deliberately measures plain sequential reads; it is a ceiling, not a
 * model of the trainer's access pattern. Not a test: it never fails on a slow
 * machine. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define LANES 64  /* partial sums per thread (floats) */
#define REPS 20   /* timed passes over the array */
/* The figure kept is the KEEP-th fastest pass: one outlying pass cannot set
 * the limit, and it still sits near the top when other jobs share the cores
 * (a 2-thread pass is slow whenever either thread is descheduled). On a VM the
 * bandwidth also moves with the host's other tenants: 34 to 56 GB/s with 2
 * threads on this project's machine, so measure it in the same run. */
#define KEEP 3
#define CHAINS 12 /* independent FMA chains per thread (vectors) */
#define PF_ROWS 16 /* rows ahead requested: --rows the whole row, --overlap a line per line read (kernels.c) */

typedef float v16f __attribute__((vector_size(64))); /* 16 floats; split by the compiler if narrower */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int n_threads_now(void)
{
#ifdef _OPENMP
    return omp_get_num_threads();
#else
    return 1;
#endif
}

static int thread_id(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* Sum of a[0, n_floats) with LANES independent accumulators; n_floats % LANES == 0. */
static float sum_slice(const float *restrict a, size_t n_floats)
{
    float acc[LANES];
    memset(acc, 0, sizeof acc);
    for (size_t i = 0; i < n_floats; i += LANES)
#pragma omp simd
        for (int j = 0; j < LANES; j++) acc[j] += a[i + j];
    float s = 0;
    for (int j = 0; j < LANES; j++) s += acc[j];
    return s;
}

/* Sum of the rows order[0, n_rows) of `a` (row_floats floats each), in that order. */
static float sum_rows(const float *restrict a, const uint32_t *order, size_t n_rows, size_t row_floats)
{
    float acc[LANES];
    memset(acc, 0, sizeof acc);
    /* into L2 (locality 2: prefetcht1), not L1: L1's few miss buffers would
     * cap the rows in flight; measured here 16 vs 9 GB/s on one thread */
    const size_t line_floats = 16;
    for (size_t r = 0; r < n_rows; r++) {
        if (r + PF_ROWS < n_rows) {
            const float *next = a + (size_t)order[r + PF_ROWS] * row_floats;
            for (size_t j = 0; j < row_floats; j += line_floats) __builtin_prefetch(next + j, 0, 2);
        }
        const float *row = a + (size_t)order[r] * row_floats;
        size_t j = 0;
        for (; j + LANES <= row_floats; j += LANES)
#pragma omp simd
            for (int l = 0; l < LANES; l++) acc[l] += row[j + l];
        for (; j < row_floats; j++) acc[j % LANES] += row[j];
    }
    float s = 0;
    for (int j = 0; j < LANES; j++) s += acc[j];
    return s;
}

/* --overlap: one pass over the rows order[0, n_rows), a line (16 floats) at
 * a time. With `read`, each line is added into a vector sum, and the same
 * line of the row PF_ROWS ahead is requested (into L2, as kernels.c does).
 * Then `rounds` steps of 8 FMA chains held in registers. Without `dep` their
 * values never depend on the rows: arithmetic the core could run while the
 * lines are on their way. With `dep` each step's multiplier is taken from
 * the line (times 1e-30, so the values stay those of the other passes'): a
 * kernel's arithmetic, which waits for its row. Returns a value of every
 * sum (nothing elided). */
static float overlap_pass(const float *restrict a, const uint32_t *order, size_t n_rows, size_t row_floats, int read,
                          int rounds, int dep)
{
    v16f sum = {0}, c[8], mul, add;
    for (int l = 0; l < 16; l++) {
        mul[l] = 0.999999f;
        add[l] = 1e-6f * (float)(l + 1);
    }
    for (int q = 0; q < 8; q++) c[q] = add * (float)(q + 1);
    for (size_t r = 0; r < n_rows; r++) {
        const float *row = a + (size_t)order[r] * row_floats;
        const float *next = a + (size_t)order[r + PF_ROWS < n_rows ? r + PF_ROWS : r] * row_floats;
        for (size_t j = 0; j < row_floats; j += 16) {
            v16f m = mul;
            if (read) {
                __builtin_prefetch(next + j, 0, 2);
                v16f x = *(const v16f *)(row + j); /* aligned: 2 MiB base, rows of 16k floats */
                sum += x;
                if (dep) m = x * 1e-30f + mul;
            }
            for (int k = 0; k < rounds; k++)
                for (int q = 0; q < 8; q++) c[q] = c[q] * m + add;
        }
    }
    float s = 0;
    for (int l = 0; l < 16; l++) {
        s += sum[l];
        for (int q = 0; q < 8; q++) s += c[q][l];
    }
    return s;
}

/* A random permutation of [0, n) (xorshift64 + Fisher-Yates; quality is not the point). */
static void shuffle(uint32_t *order, size_t n, uint64_t seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) order[i] = (uint32_t)i;
    for (size_t i = n; i > 1; i--) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t k = (size_t)(x % i);
        uint32_t t = order[i - 1];
        order[i - 1] = order[k];
        order[k] = t;
    }
}

/* Each thread's pass of the probe: `variant` 0 the sequential sum (rows 0)
 * or the shuffled rows' (--rows); with --overlap 1 the rows read alone, 2
 * the FMA work alone, 3 both, 4 both with the FMA work on the rows. */
static float probe_pass(const float *mine, size_t per_thread, const uint32_t *order, size_t n_rows,
                        size_t row_floats, int variant, int rounds)
{
    if (variant == 0) return row_floats ? sum_rows(mine, order, n_rows, row_floats) : sum_slice(mine, per_thread);
    return overlap_pass(mine, order, n_rows, row_floats, variant != 2, variant == 1 ? 0 : rounds, variant == 4);
}

/* FMA rounds per line for --overlap: as many as make the FMA work alone
 * take as long as the read alone, from one pass of each (all threads at
 * once, thread 0's times) with CAL_ROUNDS rounds */
#define CAL_ROUNDS 4
static float cal_sink; /* the calibration passes' sums, so that none is elided */
static int calibrate_rounds(const float *mine, const uint32_t *order, size_t n_rows, size_t row_floats)
{
    static int rounds; /* shared: thread 0 sets it */
    double t[3] = {0, 0, 0};
    for (int v = 1; v <= 2; v++) {
        float s = overlap_pass(mine, order, n_rows, row_floats, v == 1, v == 1 ? 0 : CAL_ROUNDS, 0); /* warm */
#pragma omp barrier
        double t0 = now();
        s += overlap_pass(mine, order, n_rows, row_floats, v == 1, v == 1 ? 0 : CAL_ROUNDS, 0);
        t[v] = now() - t0;
#pragma omp atomic
        cal_sink += s;
#pragma omp barrier
    }
    const double t_read = t[1], t_fma = t[2];
    if (thread_id() == 0) {
        double r = CAL_ROUNDS * t_read / (t_fma > 0 ? t_fma : 1e-9);
        rounds = r < 1 ? 1 : r > 4096 ? 4096 : (int)(r + 0.5);
    }
#pragma omp barrier
    return rounds;
}

/* --overlap's line. A VM's speed moves between seconds, and a share
 * taken from passes of different moments is meaningless (one 512 MiB run
 * printed -162 %), so each repetition's four passes, run back to back, give
 * that repetition's shares; the medians over the repetitions are printed,
 * with the median ns of each pass. */
static void overlap_report(double secs[][REPS], size_t rows_per_thread, int used, size_t mib, size_t row_floats,
                           int rounds, double sink)
{
    double hid[2][REPS];
    for (int rep = 0; rep < REPS; rep++) {
        double r = secs[1][rep], c = secs[2][rep], shorter = r < c ? r : c;
        for (int k = 0; k < 2; k++) hid[k][rep] = 100.0 * (r + c - secs[3 + k][rep]) / shorter;
    }
    double ns[5];
    for (int v = 1; v <= 4; v++) {
        qsort(secs[v], REPS, sizeof secs[v][0], by_value);
        ns[v] = 1e9 * secs[v][REPS / 2] / (double)rows_per_thread;
    }
    for (int k = 0; k < 2; k++) qsort(hid[k], REPS, sizeof hid[k][0], by_value);
    printf("overlap_hidden_pct %.1f dependent_hidden_pct %.1f threads %d mib %zu row_floats %zu read_ns %.1f"
           " fma_ns %.1f both_ns %.1f dependent_ns %.1f (medians of %d repetitions of the four passes, ns per row"
           " per thread; shares from each repetition's own passes; %d FMA rounds of 8 vectors per line;"
           " checksum %.0f)\n",
           hid[0][REPS / 2], hid[1][REPS / 2], used, mib, row_floats, ns[1], ns[2], ns[3], ns[4], REPS, rounds,
           sink + cal_sink);
}

/* row_floats 0: one sequential pass per thread; otherwise shuffled rows,
 * and with `overlap` the four passes of --overlap */
static int read_bandwidth(int threads, size_t mib, size_t row_floats, int overlap)
{
    (void)threads; /* only the OpenMP build uses it */
    size_t n_floats = mib * 1024 * 1024 / sizeof(float);
    float *a = NULL;
    if (posix_memalign((void **)&a, 2u << 20, n_floats * sizeof(float)) != 0) {
        fprintf(stderr, "membw: cannot allocate %zu MiB\n", mib);
        return 1;
    }
    /* huge pages, as ddptrain's shard buffers request: shuffled rows would
     * otherwise pay a TLB miss per row */
    madvise(a, n_floats * sizeof(float), MADV_HUGEPAGE);
    const int first = overlap ? 1 : 0, last = overlap ? 4 : 0;
    double secs[5][REPS], sink = 0;
    size_t n_read = 0, rows_per_thread = 0; /* floats summed per repetition, over all threads */
    int failed = 0, used = 1, rounds = 0;
#pragma omp parallel num_threads(threads)
    {
        size_t unit = row_floats ? row_floats * LANES : LANES;
        size_t per_thread = n_floats / (size_t)n_threads_now();
        per_thread -= per_thread % unit;
        float *mine = a + (size_t)thread_id() * per_thread;
        for (size_t i = 0; i < per_thread; i++) mine[i] = (float)(i & 7); /* first touch by the reader */
        size_t n_rows = row_floats ? per_thread / row_floats : 0;
        uint32_t *order = n_rows ? malloc(n_rows * sizeof *order) : NULL;
        if (n_rows && !order) {
#pragma omp atomic write
            failed = 1;
        }
        if (order) shuffle(order, n_rows, (uint64_t)thread_id() + 1);
        if (thread_id() == 0) {
            n_read = per_thread * (size_t)n_threads_now();
            rows_per_thread = n_rows;
            used = n_threads_now();
        }
#pragma omp barrier
        int my_rounds = overlap && !failed ? calibrate_rounds(mine, order, n_rows, row_floats) : 0;
        if (thread_id() == 0) rounds = my_rounds;
        for (int rep = 0; rep < REPS; rep++) {
            for (int v = first; v <= last; v++) { /* --overlap: the four passes alternate */
#pragma omp barrier
                double t0 = now();
                float s = 0;
                if (!row_floats || order) s = probe_pass(mine, per_thread, order, n_rows, row_floats, v, my_rounds);
#pragma omp barrier
                double dt = now() - t0; /* thread 0's window spans every thread's pass */
#pragma omp critical
                {
                    sink += s;
                    if (thread_id() == 0) secs[v][rep] = dt;
                }
            }
        }
        free(order);
    }
    if (failed || n_read == 0) {
        fprintf(stderr, "membw: cannot allocate the row order, or %zu MiB holds no row per thread\n", mib);
        free(a);
        return 1;
    }
    if (overlap) {
        overlap_report(secs, rows_per_thread, used, mib, row_floats, rounds, sink);
        free(a);
        return 0;
    }
    qsort(secs[0], REPS, sizeof secs[0][0], by_value);
    double gb = (double)(n_read * sizeof(float)) / 1e9;
    printf("%s %.2f threads %d mib %zu", row_floats ? "shuffled_rows_gbs" : "read_bandwidth_gbs",
           gb / secs[0][KEEP - 1], used, mib);
    if (row_floats) printf(" row_floats %zu", row_floats);
    printf(" (pass %d fastest of %d; fastest %.2f, median %.2f GB/s; checksum %.0f)\n", KEEP, REPS,
           gb / secs[0][0], gb / secs[0][REPS / 2], sink);
    free(a);
    return 0;
}

static int flop_peak(int threads)
{
    (void)threads; /* only the OpenMP build uses it */
    const long iters = 1L << 24;
    double secs[7], sink = 0;
    int used = 1;
#pragma omp parallel num_threads(threads)
    {
        v16f acc[CHAINS];
        v16f mul, add;
        for (int l = 0; l < 16; l++) {
            mul[l] = 0.999999f;
            add[l] = 1e-6f * (float)(l + 1);
        }
        for (int c = 0; c < CHAINS; c++) acc[c] = add * (float)(c + 1);
        for (int rep = 0; rep < 7; rep++) {
#pragma omp barrier
            double t0 = now();
            for (long it = 0; it < iters; it++)
                for (int c = 0; c < CHAINS; c++) acc[c] = acc[c] * mul + add; /* contracted to one FMA */
#pragma omp barrier
            double dt = now() - t0;
#pragma omp critical
            if (thread_id() == 0) {
                secs[rep] = dt;
                used = n_threads_now();
            }
        }
        float s = 0;
        for (int c = 0; c < CHAINS; c++)
            for (int l = 0; l < 16; l++) s += acc[c][l];
#pragma omp critical
        sink += s;
    }
    double flops = 2.0 * 16 * CHAINS * (double)iters * used;
    qsort(secs, 7, sizeof secs[0], by_value);
    printf("flops_gflops %.1f threads %d (float32 FMA, 2nd fastest of 7 passes; fastest %.1f; checksum %.3f)\n",
           flops / secs[1] / 1e9, used, flops / secs[0] / 1e9, sink);
    return 0;
}

static int positive(const char *s, long *out)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || v <= 0 || v > 1L << 20) return 0;
    *out = v;
    return 1;
}

int main(int argc, char **argv)
{
    long threads = 1, mib = 512, row_floats = 0;
    int flops = argc > 1 && strcmp(argv[1], "--flops") == 0;
    int overlap = argc > 1 && strcmp(argv[1], "--overlap") == 0;
    int rows = overlap || (argc > 1 && strcmp(argv[1], "--rows") == 0);
    int first = flops ? 2 : rows ? 3 : 1; /* index of THREADS */
    int max_args = flops ? 3 : first + 2;
    if ((rows && (argc < 3 || !positive(argv[2], &row_floats))) ||
        (argc > first && !positive(argv[first], &threads)) ||
        (!flops && argc > first + 1 && !positive(argv[first + 1], &mib)) || argc > max_args ||
        (overlap && row_floats % 16 != 0)) {
        fprintf(stderr, "usage: membw [THREADS] [MIB]  |  membw --rows ROW_FLOATS [THREADS] [MIB]  |  "
                        "membw --overlap ROW_FLOATS(a multiple of 16) [THREADS] [MIB]  |  membw --flops [THREADS]\n");
        return 2;
    }
    if (flops) return flop_peak((int)threads);
    return read_bandwidth((int)threads, (size_t)mib, (size_t)row_floats, overlap);
}
