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

/* Loss and metrics of a model on a dataset's local rows, reduced over all
 * ranks (collective): metric is accuracy (classifiers) or RMSE (linear),
 * metric2 is R^2 (linear). */
typedef struct ddp_eval_result {
    double loss, metric, metric2;
} ddp_eval_result;
struct ddp_model;
struct ddp_dataset;
ddp_eval_result ddp_evaluate(const ddp_comm *comm, ddp_task kind, const struct ddp_model *m,
                             const struct ddp_dataset *ds, int n_threads);

/* OpenMP threads per rank when --threads is not given: OMP_NUM_THREADS, else
 * the cores in this rank's affinity mask. */
int ddp_default_threads(void);

/* x = (x - mean) / scale per feature, in place. */
void ddp_apply_standardize(float *x, int64_t n_rows, int64_t n_features, const float *mean, const float *scale);

#endif
