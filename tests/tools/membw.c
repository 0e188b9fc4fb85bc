/* membw.c — benchmark tool: the two ceilings of a linear model's step on this
 * machine, measured with T OpenMP threads.
 *
 *   membw [THREADS] [MIB]    memory READ bandwidth: sums a float array of MIB
 *                            MiB (default 512, far larger than the 32 MiB L3),
 *                            best of 20; prints "read_bandwidth_gbs <GB/s> ..."
 *   membw --flops [THREADS]  float32 FMA peak: independent FMA chains held in
 *                            vector registers, best of 5; prints
 *                            "flops_gflops <GFLOP/s> ..."
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define LANES 64  /* partial sums per thread (floats) */
#define CHAINS 12 /* independent FMA chains per thread (vectors) */

typedef float v16f __attribute__((vector_size(64))); /* 16 floats; split by the compiler if narrower */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
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

static int read_bandwidth(int threads, size_t mib)
{
    size_t n_floats = mib * 1024 * 1024 / sizeof(float);
    float *a = NULL;
    if (posix_memalign((void **)&a, 2u << 20, n_floats * sizeof(float)) != 0) {
        fprintf(stderr, "membw: cannot allocate %zu MiB\n", mib);
        return 1;
    }
    double best = 1e30, sink = 0;
    size_t n_read = 0; /* floats summed per repetition, over all threads */
#pragma omp parallel num_threads(threads)
    {
        size_t per_thread = n_floats / (size_t)n_threads_now();
        per_thread -= per_thread % LANES;
        float *mine = a + (size_t)thread_id() * per_thread;
        for (size_t i = 0; i < per_thread; i++) mine[i] = (float)(i & 7); /* first touch by the reader */
        if (thread_id() == 0) n_read = per_thread * (size_t)n_threads_now();
        for (int rep = 0; rep < 20; rep++) {
#pragma omp barrier
            double t0 = now();
            float s = sum_slice(mine, per_thread);
#pragma omp barrier
            double dt = now() - t0; /* thread 0's window spans every thread's sum */
#pragma omp critical
            {
                sink += s;
                if (thread_id() == 0 && dt < best) best = dt;
            }
        }
    }
    printf("read_bandwidth_gbs %.2f threads %d mib %zu (checksum %.0f)\n", (double)(n_read * sizeof(float)) / best / 1e9,
           threads, mib, sink);
    free(a);
    return 0;
}

static int flop_peak(int threads)
{
    const long iters = 1L << 24;
    double best = 1e30, sink = 0;
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
        for (int rep = 0; rep < 5; rep++) {
#pragma omp barrier
            double t0 = now();
            for (long it = 0; it < iters; it++)
                for (int c = 0; c < CHAINS; c++) acc[c] = acc[c] * mul + add; /* contracted to one FMA */
#pragma omp barrier
            double dt = now() - t0;
#pragma omp critical
            if (thread_id() == 0) {
                if (dt < best) best = dt;
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
    printf("flops_gflops %.1f threads %d (float32 FMA, checksum %.3f)\n", flops / best / 1e9, used, sink);
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
    long threads = 1, mib = 512;
    int flops = argc > 1 && strcmp(argv[1], "--flops") == 0;
    int first = flops ? 2 : 1;
    if ((argc > first && !positive(argv[first], &threads)) ||
        (!flops && argc > first + 1 && !positive(argv[first + 1], &mib)) || argc > first + 2 - flops) {
        fprintf(stderr, "usage: membw [THREADS] [MIB]   |   membw --flops [THREADS]\n");
        return 2;
    }
    return flops ? flop_peak((int)threads) : read_bandwidth((int)threads, (size_t)mib);
}
