/* stopsig.c — clean-stop signals. See stopsig.h. */
#include "ddptrain/stopsig.h"

#include <string.h>
#include <unistd.h>

static const int STOP_SIGNALS[3] = {SIGTERM, SIGINT, SIGUSR1};
static volatile sig_atomic_t g_stop_signal = 0;

static void on_stop_signal(int sig)
{
    if (sig == SIGINT && g_stop_signal == SIGINT) _exit(128 + SIGINT);
    g_stop_signal = sig;
}

void ddp_stopsig_install(ddp_stopsig_saved *saved)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    for (int i = 0; i < 3; i++) sigaction(STOP_SIGNALS[i], &sa, &saved->act[i]);
    g_stop_signal = 0;
}

void ddp_stopsig_restore(const ddp_stopsig_saved *saved)
{
    for (int i = 0; i < 3; i++) sigaction(STOP_SIGNALS[i], &saved->act[i], NULL);
}

int ddp_stopsig_pending(void)
{
    return g_stop_signal;
}

const char *ddp_stopsig_name(int sig)
{
    return sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : sig == SIGUSR1 ? "SIGUSR1" : "a signal";
}
