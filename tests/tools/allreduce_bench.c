/* allreduce_bench.c — benchmark tool: MPI_Allreduce (sum of doubles, in
 * place, as the trainer's one allreduce per step) time against message size
 * at the current rank count, for the communication model of
 * scripts/scaling_model.py.
 *
 *   mpirun -n P allreduce_bench [MAX_BYTES] [REPS]
 *
 * Sizes go from 8 B to MAX_BYTES (default 4 MiB) by factors of 4. Each size
 * is timed REPS times (default 50, fewer for large sizes) after a barrier and
 * a warm-up call, and rank 0 prints one CSV line per size:
 *   ranks,bytes,seconds_median,seconds_min
 * where a time is the slowest rank's for that repetition (what a step waits
 * for). The median, not the mean: a shared machine's descheduling hiccups are
 * outliers, not the cost of the operation. Not a test: it never fails on a
 * slow machine. */
#include "ddptrain/comm.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Slowest rank's time of REPS allreduces of n_elems doubles. */
static void time_size(double *buf, int n_elems, int reps, double *times)
{
    MPI_Allreduce(MPI_IN_PLACE, buf, n_elems, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD); /* warm-up */
    for (int r = 0; r < reps; r++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        MPI_Allreduce(MPI_IN_PLACE, buf, n_elems, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
        double dt = MPI_Wtime() - t0;
        MPI_Allreduce(MPI_IN_PLACE, &dt, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        times[r] = dt;
    }
}

int main(int argc, char **argv)
{
    ddp_comm_mpi_defaults(); /* the trainer's MPI parameters (comm.c), so its allreduce is what is measured */
    MPI_Init(&argc, &argv);
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    long max_bytes = argc > 1 ? strtol(argv[1], NULL, 10) : 4L << 20;
    int reps = argc > 2 ? atoi(argv[2]) : 50;
    if (max_bytes < 8 || max_bytes > (1L << 30) || reps < 1 || reps > 100000) {
        if (rank == 0)
            fprintf(stderr, "usage: allreduce_bench [MAX_BYTES 8..1G] [REPS 1..100000]\n");
        MPI_Finalize();
        return 2;
    }
    double *buf = calloc((size_t)max_bytes / sizeof(double), sizeof(double));
    double *times = malloc((size_t)reps * sizeof(double));
    if (!buf || !times) MPI_Abort(MPI_COMM_WORLD, 6);
    if (rank == 0) printf("ranks,bytes,seconds_median,seconds_min\n");
    for (long n_bytes = 8; n_bytes <= max_bytes; n_bytes *= 4) {
        /* large messages: fewer repetitions, about the same total time */
        int r = n_bytes >= (1L << 20) ? (reps + 4) / 5 : reps;
        time_size(buf, (int)(n_bytes / (long)sizeof(double)), r, times);
        qsort(times, (size_t)r, sizeof(double), cmp_double);
        if (rank == 0) printf("%d,%ld,%.9f,%.9f\n", size, n_bytes, times[r / 2], times[0]);
    }
    free(times);
    free(buf);
    MPI_Finalize();
    return 0;
}
