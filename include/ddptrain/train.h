/* train.h — the training loop and the two commands that use saved weights.
 * All three are collective and return the agreed exit status with the
 * message in err on every rank. */
#ifndef DDPTRAIN_TRAIN_H
#define DDPTRAIN_TRAIN_H

#include "ddptrain/comm.h"
#include "ddptrain/config.h"

#include <stdint.h>

/* argc/argv are recorded in the saved model file. */
int ddp_train_run(const ddp_comm *comm, const ddp_config *cfg, int argc, char **argv, char *err);
int ddp_eval_run(const ddp_comm *comm, const ddp_config *cfg, char *err);
int ddp_predict_run(const ddp_comm *comm, const ddp_config *cfg, char *err);

/* x = (x - mean) / scale per feature, in place. */
void ddp_apply_standardize(float *x, int64_t n_rows, int64_t n_features, const float *mean, const float *scale);

#endif
