/* watchdog.h — a rank that stops making progress ends the job.
 *
 * Open MPI 4.1 ends a job within ~2 s when a rank DIES, but a rank that
 * HANGS (SIGSTOP, deadlock, stuck file system) blocks the others in their
 * next collective forever. Each rank arms alarm(--step-timeout) and re-arms
 * it whenever it makes progress (every phase of every step). If the alarm
 * fires, the async-signal-safe handler writes one line naming the rank, the
 * step and the phase it was stuck in, and _exit(DDP_EXIT_WATCHDOG); mpirun
 * then takes down the remaining ranks (a stopped rank included: SIGKILL).
 * A rank that is itself stopped cannot fire, but its peers, stuck waiting for
 * it in the allreduce, do. No MPI here, no allocation in the handler. */
#ifndef DDPTRAIN_WATCHDOG_H
#define DDPTRAIN_WATCHDOG_H

#include <stdint.h>

/* Install the SIGALRM handler; timeout 0 disables the watchdog. */
void ddp_watchdog_start(int rank, int64_t timeout_seconds);
/* Progress: re-arm, and remember where we are ("allreduce", "checkpoint", ...;
 * a string literal: it is read from the signal handler). */
void ddp_watchdog_progress(int64_t step, const char *phase);
/* Disarm and restore the previous handler. */
void ddp_watchdog_stop(void);

#endif
