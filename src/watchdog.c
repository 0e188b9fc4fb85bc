/* watchdog.c — alarm()-based hang detection. See watchdog.h. */
#include "ddptrain/watchdog.h"
#include "ddptrain/common.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t g_armed = 0;
static int g_rank = 0;
static unsigned g_timeout = 0;
static volatile int64_t g_step = 0;
static const char *volatile g_phase = "start-up";
static struct sigaction g_saved;

/* async-signal-safe: decimal into buf, returns the end */
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

static void on_alarm(int sig)
{
    (void)sig;
    if (!g_armed) return;
    static char msg[256]; /* static: no stack use in the handler, and fully initialised */
    const char *end = msg + sizeof msg - 2;
    char *p = msg;
    p = put_str(p, "ddptrain: error: watchdog: rank ", end);
    p = put_u64(p, (uint64_t)g_rank);
    p = put_str(p, " made no progress for ", end);
    p = put_u64(p, g_timeout);
    p = put_str(p, " s at step ", end);
    p = put_u64(p, (uint64_t)g_step);
    p = put_str(p, " in phase '", end);
    p = put_str(p, g_phase, end);
    p = put_str(p, "' (a rank is stopped, deadlocked or on a stuck file system); ending the job. Raise "
                   "--step-timeout if steps really take this long", end);
    *p++ = '\n';
    ssize_t ignored = write(STDERR_FILENO, msg, (size_t)(p - msg));
    (void)ignored;
    _exit(DDP_EXIT_WATCHDOG);
}

void ddp_watchdog_start(int rank, int64_t timeout_seconds)
{
    g_rank = rank;
    g_timeout = timeout_seconds > 0 ? (unsigned)timeout_seconds : 0;
    if (!g_timeout) return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, &g_saved);
    g_armed = 1;
    ddp_watchdog_progress(0, "start-up");
}

void ddp_watchdog_progress(int64_t step, const char *phase)
{
    if (!g_armed) return;
    g_step = step;
    g_phase = phase;
    alarm(g_timeout);
}

void ddp_watchdog_stop(void)
{
    if (!g_armed) return;
    g_armed = 0;
    alarm(0);
    sigaction(SIGALRM, &g_saved, NULL);
}
