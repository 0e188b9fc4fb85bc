/* membw.c — benchmark tool: the machine's memory READ bandwidth, the ceiling
 * for linear models (one step reads each batch row once). Sums a 1 GiB float
 * array with T OpenMP threads (first-touched by the same threads), best of 5.
 *   membw [THREADS] [MIB]      prints "read_bandwidth_gbs <value>" */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1; /* a test tool: argv is ours */
    size_t mib = argc > 2 ? (size_t)atol(argv[2]) : 1024;
    size_t n = mib * 1024 * 1024 / sizeof(float);
    float *a = malloc(n * sizeof(float));
    if (!a) return 1;
#ifdef _OPENMP
    omp_set_num_threads(threads);
#endif
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) a[i] = (float)(i & 7);
    double best = 1e30, sink = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now(), s = 0;
#pragma omp parallel for schedule(static) reduction(+ : s)
        for (size_t i = 0; i < n; i++) s += a[i];
        double dt = now() - t0;
        sink += s;
        if (dt < best) best = dt;
    }
    printf("read_bandwidth_gbs %.2f threads %d (checksum %.0f)\n", (double)(n * sizeof(float)) / best / 1e9, threads,
           sink);
    free(a);
    return 0;
}
