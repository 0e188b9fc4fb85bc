/* checkpoint.h — model files in HDF5, readable with h5py, mapping 1:1 onto
 * a torch state_dict:
 *   /model/weight            [n_out, n_features] float32
 *   /model/bias              [n_out]             float32
 *   /standardize/mean, /std  [n_features] float32   (only with --standardize)
 *   root attributes: format "ddptrain-checkpoint", format_version, ddptrain_version,
 *                    model, n_features, n_classes, step, epoch, command_line
 * Written to PATH.tmp.<pid>, flushed, fsync'd, renamed onto PATH, and the
 * directory fsync'd: a crash leaves the previous file intact.
 * This release saves weights (--save); optimizer and sampler state come with
 * resumable checkpoints (issue 4). */
#ifndef DDPTRAIN_CHECKPOINT_H
#define DDPTRAIN_CHECKPOINT_H

#include "ddptrain/comm.h"
#include "ddptrain/model.h"

#include <stdint.h>

#define DDP_CKPT_FORMAT_VERSION 1

typedef struct ddp_ckpt_meta {
    int64_t step, epoch;
    const float *std_mean, *std_scale; /* [n_features] or NULL */
    const char *command_line;
} ddp_ckpt_meta;

/* Collective: rank 0 writes, everyone learns the outcome. */
int ddp_ckpt_save_weights(const ddp_comm *comm, const char *path, const ddp_model *model, const ddp_ckpt_meta *meta,
                          char *err);

/* What a weights file declares, read before the model exists. */
typedef struct ddp_ckpt_header {
    ddp_task kind;
    int64_t n_features, n_classes;
    int has_standardize;
} ddp_ckpt_header;

/* Collective (every rank reads the small file; the ranks agree). */
int ddp_ckpt_read_header(const ddp_comm *comm, const char *path, ddp_ckpt_header *hdr, char *err);
/* Fill model->params (and std_mean/std_scale [n_features] when non-NULL and
 * present) after checking shapes against the model. Collective. */
int ddp_ckpt_load_weights(const ddp_comm *comm, const char *path, ddp_model *model, float *std_mean,
                          float *std_scale, char *err);

#endif
