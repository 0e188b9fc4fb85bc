/* watchdog.h — a rank that stops making progress ends the job.
 *
 * Open MPI 4.1 ends a job within ~2 s when a rank DIES, but a rank that
 * HANGS (SIGSTOP, deadlock, stuck file system) blocks the others in their
 * next collective forever. The training thread marks progress at every phase
 * of every step (three relaxed atomic stores: no system call on the hot
 * path); a monitor thread, asleep between ticks of a tenth of --step-timeout
 * (50 ms to 1 s), writes one line naming the rank, the step and the phase
 * once no mark has come for the whole timeout, and _exit(DDP_EXIT_WATCHDOG);
 * mpirun then takes down the remaining ranks (a stopped rank included:
 * SIGKILL). A stopped rank cannot fire, but its peers, stuck waiting for it
 * in the allreduce, do. No MPI here. (The first version re-armed alarm() at
 * every mark: a system call of ~0.9 us, four per step, which was 6 % of a
 * 2-rank B1 step.) */
#ifndef DDPTRAIN_WATCHDOG_H
#define DDPTRAIN_WATCHDOG_H

#include <stdint.h>

/* Start the monitor thread; timeout 0 disables the watchdog. */
void ddp_watchdog_start(int rank, int64_t timeout_seconds);
/* Progress: restart the countdown, and remember where we are ("allreduce", "checkpoint", ...;
 * a string literal: the monitor thread reads it). */
void ddp_watchdog_progress(int64_t step, const char *phase);
/* Stop and join the monitor thread. */
void ddp_watchdog_stop(void);

#endif
