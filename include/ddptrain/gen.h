/* gen.h — synthetic datasets with a planted model, written in parallel.
 * Row i is drawn from the random stream (seed, i) alone, so the file's data
 * do not depend on the number of ranks that wrote it. The planted weights are
 * stored in /planted (weight [out, in], bias [out]) so tests can check that
 * training recovers them. */
#ifndef DDPTRAIN_GEN_H
#define DDPTRAIN_GEN_H

#include "ddptrain/comm.h"
#include "ddptrain/config.h"

#include <stdint.h>

/* Collective. Returns the agreed status, message in err on every rank. */
int ddp_gen_run(const ddp_comm *comm, const ddp_config *cfg, char *err);

/* One row's features and label (exposed for tests): x has n_features slots;
 * w is [n_out, n_features], b is [n_out] (n_out = 1, or C for softmax). */
void ddp_gen_row(uint64_t seed, int64_t row, ddp_task task, double noise, int64_t n_features, int64_t n_out,
                 const double *w, const double *b, double *x, double *y);
/* The planted parameters for (seed, task, n_features, n_out). */
void ddp_gen_planted(uint64_t seed, int64_t n_features, int64_t n_out, double *w, double *b);

#endif
