/* common.c — error buffers, checked arithmetic, the job-wide assertion and
 * the clock. The assertion is the one place outside comm.c that names MPI,
 * because an invariant failure must take every rank down, not strand them. */
#include "ddptrain/common.h"

#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/mman.h>
#include <time.h>

void ddp_errf(char *err, const char *fmt, ...)
{
    if (!err) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, DDP_ERR_LEN, fmt, ap);
    va_end(ap);
    /* one line, always: names from argv or files may hold control characters */
    for (char *p = err; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
}

int ddp_mul_size(size_t a, size_t b, size_t *out)
{
    size_t r;
    if (__builtin_mul_overflow(a, b, &r)) return -1;
    *out = r;
    return 0;
}

int ddp_mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    uint64_t r;
    if (__builtin_mul_overflow(a, b, &r)) return -1;
    *out = r;
    return 0;
}

void ddp_assert_fail(const char *expr, const char *file, int line)
{
    int initialized = 0, finalized = 0;
    fprintf(stderr, "ddptrain: internal error: %s:%d: assertion '%s' failed\n", file, line, expr);
    fflush(stderr);
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (initialized && !finalized) MPI_Abort(MPI_COMM_WORLD, DDP_EXIT_INTERNAL);
    __builtin_trap();
}

double ddp_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void *ddp_big_alloc(size_t n_bytes)
{
    if (n_bytes == 0) n_bytes = 1;
    void *p = mmap(NULL, n_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
#ifdef MADV_HUGEPAGE
    if (n_bytes >= ((size_t)2 << 20)) madvise(p, n_bytes, MADV_HUGEPAGE); /* advice only */
#endif
    return p;
}

void ddp_big_free(void *p, size_t n_bytes)
{
    if (!p) return;
    if (n_bytes == 0) n_bytes = 1;
    munmap(p, n_bytes);
}
