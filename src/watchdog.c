/* watchdog.c — hang detection by a sleeping monitor thread. See watchdog.h. */
#include "ddptrain/watchdog.h"
#include "ddptrain/common.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Written by the training thread, read by the monitor: relaxed atomics, a
 * plain store each (a progress mark is on the hot path of every step). */
static _Atomic uint64_t g_beats;
static _Atomic int64_t g_step;
static _Atomic(const char *) g_phase;

static int g_rank = 0;
static unsigned g_timeout = 0;
static int g_running = 0; /* the monitor thread exists (touched by the training thread only) */
static int g_stop = 0;    /* under g_lock */
static pthread_t g_thread;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_wake;

/* decimal into p, returns the end */
static char *put_u64(char *p, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v && n < (int)sizeof tmp);
    while (n) *p++ = tmp[--n];
    return p;
}

static char *put_str(char *p, const char *s, const char *end)
{
    while (*s && p < end) *p++ = *s++;
    return p;
}

static void fire(void)
{
    char msg[320] = ""; /* initialised: GCC 12 with ASan warns about the pointers into it otherwise */
    const char *end = msg + sizeof msg - 2;
    char *p = msg;
    p = put_str(p, "ddptrain: error: watchdog: rank ", end);
    p = put_u64(p, (uint64_t)g_rank);
    p = put_str(p, " made no progress for ", end);
    p = put_u64(p, g_timeout);
    p = put_str(p, " s at step ", end);
    p = put_u64(p, (uint64_t)atomic_load_explicit(&g_step, memory_order_relaxed));
    p = put_str(p, " in phase '", end);
    p = put_str(p, atomic_load_explicit(&g_phase, memory_order_relaxed), end);
    p = put_str(p, "' (a rank is stopped, deadlocked or on a stuck file system); ending the job. Raise "
                   "--step-timeout if steps really take this long", end);
    *p++ = '\n';
    ssize_t ignored = write(STDERR_FILENO, msg, (size_t)(p - msg));
    (void)ignored;
    _exit(DDP_EXIT_WATCHDOG);
}

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Wakes every tick (a tenth of the timeout, 50 ms to 1 s); fires once the
 * beat count has not moved for the whole timeout. */
static void *monitor(void *arg)
{
    (void)arg;
    double tick = g_timeout / 10.0;
    if (tick < 0.05) tick = 0.05;
    if (tick > 1.0) tick = 1.0;
    uint64_t seen = atomic_load_explicit(&g_beats, memory_order_relaxed);
    double last_change = mono_now(), last_wake = last_change;
    pthread_mutex_lock(&g_lock);
    while (!g_stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        long ns = until.tv_nsec + (long)(tick * 1e9);
        until.tv_sec += ns / 1000000000L;
        until.tv_nsec = ns % 1000000000L;
        int rc = 0;
        while (!g_stop && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&g_wake, &g_lock, &until);
        if (g_stop) break;
        uint64_t now_beats = atomic_load_explicit(&g_beats, memory_order_relaxed);
        double now = mono_now();
        /* A wake a whole timeout late means this process itself was stopped
         * (SIGSTOP, then SIGCONT from mpirun's teardown): fire at once, as an
         * expired alarm() would, rather than hang on in a dead collective. */
        if (now - last_wake >= (double)g_timeout) fire();
        last_wake = now;
        if (now_beats != seen) {
            seen = now_beats;
            last_change = now;
        } else if (now - last_change >= (double)g_timeout) {
            fire();
        }
    }
    pthread_mutex_unlock(&g_lock);
    return NULL;
}

void ddp_watchdog_start(int rank, int64_t timeout_seconds)
{
    g_rank = rank;
    g_timeout = timeout_seconds > 0 ? (unsigned)timeout_seconds : 0;
    if (!g_timeout || g_running) return;
    ddp_watchdog_progress(0, "start-up");
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g_wake, &ca);
    pthread_condattr_destroy(&ca);
    g_stop = 0;
    int rc = pthread_create(&g_thread, NULL, monitor, NULL);
    g_running = rc == 0;
    if (!g_running) { /* no thread, no watchdog: say so; training itself is unaffected */
        pthread_cond_destroy(&g_wake);
        fprintf(stderr, "ddptrain: warning: rank %d: the watchdog cannot start its thread (%s); --step-timeout "
                "is not enforced on this rank\n", rank, strerror(rc));
    }
}

void ddp_watchdog_progress(int64_t step, const char *phase)
{
    atomic_store_explicit(&g_step, step, memory_order_relaxed);
    atomic_store_explicit(&g_phase, phase, memory_order_relaxed);
    atomic_store_explicit(&g_beats, atomic_load_explicit(&g_beats, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

void ddp_watchdog_stop(void)
{
    if (!g_running) return;
    pthread_mutex_lock(&g_lock);
    g_stop = 1;
    pthread_cond_signal(&g_wake);
    pthread_mutex_unlock(&g_lock);
    pthread_join(g_thread, NULL);
    pthread_cond_destroy(&g_wake);
    g_running = 0;
}
