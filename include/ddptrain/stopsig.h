/* stopsig.h — SIGTERM, SIGINT and SIGUSR1 (Slurm's --signal) as a request to
 * stop cleanly. The handler only records the signal; the trainer puts the
 * flag on the next step's allreduce, so every rank finishes that step, the
 * checkpoint is written and the job exits DDP_EXIT_SIGNAL. A second SIGINT
 * exits at once (128 + SIGINT). No MPI, no I/O in the handler. */
#ifndef DDPTRAIN_STOPSIG_H
#define DDPTRAIN_STOPSIG_H

#include <signal.h>

typedef struct ddp_stopsig_saved {
    struct sigaction act[3]; /* the handlers replaced, restored by ddp_stopsig_restore */
} ddp_stopsig_saved;

void ddp_stopsig_install(ddp_stopsig_saved *saved);
void ddp_stopsig_restore(const ddp_stopsig_saved *saved);
/* The signal received since install (0 if none). */
int ddp_stopsig_pending(void);
/* "SIGTERM", "SIGINT", "SIGUSR1" or "a signal" */
const char *ddp_stopsig_name(int sig);

#endif
