/* info.h — `ddptrain info FILE`: what is in an HDF5 file, without trusting it.
 * Runs on rank 0 only (serial HDF5 driver); under mpirun the other ranks wait
 * for the verdict. */
#ifndef DDPTRAIN_INFO_H
#define DDPTRAIN_INFO_H

#include "ddptrain/config.h"

#include <stdio.h>

/* Prints to `out`. Returns DDP_OK or an exit code with a message in err. */
int ddp_info_run(const ddp_config *cfg, FILE *out, char *err);

#endif
