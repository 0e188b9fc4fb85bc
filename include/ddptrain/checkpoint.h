/* checkpoint.h — checkpoints and model files in HDF5, readable with h5py,
 * mapping 1:1 onto torch state_dicts (format_version 2):
 *   /model/weight            [n_out, n_features] float32   (model.state_dict())
 *   /model/bias              [n_out]             float32
 *   /optimizer/state/<param>/<buffer>   PyTorch names: momentum_buffer, exp_avg,
 *                            exp_avg_sq, max_exp_avg_sq, square_avg, grad_avg;
 *                            /optimizer attributes: name, step, hyper-parameters
 *   /standardize/mean, /std  [n_features] float32   (only with --standardize)
 *   /train attributes: step, epoch, batch_in_epoch (position inside the epoch),
 *                      seed, n_vshards, batch_size, shuffle, drop_last (the
 *                      sampler state: epoch orders are pure functions of these),
 *                      last loss and validation metrics
 *   root attributes: format "ddptrain-checkpoint", format_version, ddptrain_version,
 *                    model, n_features, n_classes, step, epoch, command_line
 *   every dataset: attribute "fnv1a64", a checksum of its float32 bytes
 * Written to PATH.tmp.<pid>, flushed, fsync'd, renamed onto PATH, and the
 * directory fsync'd: a kill at any moment leaves the previous file intact.
 * format_version 1 files (weights only, no checksums) are still read. */
#ifndef DDPTRAIN_CHECKPOINT_H
#define DDPTRAIN_CHECKPOINT_H

#include "ddptrain/comm.h"
#include "ddptrain/model.h"

#include <stdint.h>

#define DDP_CKPT_FORMAT_VERSION 2

#include "ddptrain/optim.h"

/* Where training stands: enough, with the model and optimizer, to continue
 * bitwise as if never stopped. */
typedef struct ddp_train_state {
    int64_t step;           /* optimizer steps completed */
    int64_t epoch;          /* epoch of the next step */
    int64_t batch_in_epoch; /* index of the next global batch in that epoch */
    uint64_t seed;
    int64_t n_vshards, batch_size;
    int shuffle, drop_last;
    double last_loss, last_val_loss, last_val_metric; /* NaN when unknown */
    double best_loss;       /* --patience state: best watched loss so far */
    int64_t bad_epochs;     /* --patience state: epochs without improvement */
    double lr;              /* base --lr of the run that wrote it (changes are logged) */
    int64_t epochs;         /* --epochs of that run */
} ddp_train_state;

typedef struct ddp_ckpt_meta {
    const ddp_train_state *train;      /* NULL: weights only */
    const ddp_optim *optim;            /* NULL: no optimizer state */
    const float *std_mean, *std_scale; /* [n_features] or NULL */
    const char *command_line;
} ddp_ckpt_meta;

/* Collective: rank 0 writes, everyone learns the outcome. */
int ddp_ckpt_save(const ddp_comm *comm, const char *path, const ddp_model *model, const ddp_ckpt_meta *meta,
                  char *err);

/* Not collective: does the file open, declare the format, and pass every
 * dataset checksum? DDP_OK or DDP_EXIT_USAGE with the reason. */
int ddp_ckpt_verify(const char *path, char *err);

/* Collective: restore optimizer state and train state saved in `path` into
 * an optimizer initialised with the same configuration and a zeroed ts. */
int ddp_ckpt_load_state(const ddp_comm *comm, const char *path, const ddp_model *model, ddp_optim *optim,
                        ddp_train_state *ts, char *err);

/* What a weights file declares, read before the model exists. */
typedef struct ddp_ckpt_header {
    ddp_task kind;
    int64_t n_features, n_classes;
    int has_standardize;
    int64_t format_version;
} ddp_ckpt_header;

/* Collective (every rank reads the small file; the ranks agree). */
int ddp_ckpt_read_header(const ddp_comm *comm, const char *path, ddp_ckpt_header *hdr, char *err);
/* Fill model->params (and std_mean/std_scale [n_features] when non-NULL and
 * present) after checking shapes against the model. Collective. */
int ddp_ckpt_load_weights(const ddp_comm *comm, const char *path, ddp_model *model, float *std_mean,
                          float *std_scale, char *err);

/* ---- rotation --------------------------------------------------------
 * --checkpoint PATH names a series: PATH.step<12 digits>.h5 (a trailing ".h5"
 * of PATH is dropped first). None of these is collective: rank 0 does the
 * file-system work and broadcasts what it found. */
int ddp_ckpt_step_path(const char *base, int64_t step, char *out, size_t out_bytes);
/* Steps of the series' files present, newest first (at most max_steps). */
int ddp_ckpt_list(const char *base, int64_t *steps, int max_steps);
/* Newest file of the series that verifies into path_out: DDP_OK; 1 when the
 * series is empty; DDP_EXIT_USAGE when files exist but none verifies. Each
 * file skipped is reported in `warn` (appended, DDP_ERR_LEN). */
int ddp_ckpt_find_latest(const char *base, char *path_out, size_t out_bytes, char *warn, char *err);
/* Delete all but the `keep` newest files of the series, and stale temp files. */
void ddp_ckpt_rotate(const char *base, int64_t keep);
/* Exclusive advisory lock PATH.lock for the life of the run: a second job on
 * the same series refuses instead of interleaving. fd_out stays open. */
int ddp_ckpt_lock(const char *base, int *fd_out, char *err);

#endif
