/* train_resume.c — where training meets checkpoints: checking a file
 * against the run (model, shapes, batch sequence), picking the resume point
 * (rank 0 decides, everyone follows), restoring weights and state, and
 * writing one checkpoint of the series with rotation. The loop itself is in
 * train.c; file formats are in checkpoint.c. */
#include "ddptrain/common.h"
#include "ddptrain/watchdog.h"
#include "train_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int ddp_train_check_model(const trainer *t, const ddp_ckpt_header *hdr, const char *what, const char *path,
                               char *err)
{
    const ddp_config *cfg = t->cfg;
    int64_t F = t->train.n_features, C = t->train.n_classes;
    if (hdr->kind != cfg->task || hdr->n_features != F || (cfg->task == DDP_TASK_SOFTMAX && hdr->n_classes != C)) {
        ddp_errf(err, "%s %s holds a %s model with %lld features and %lld classes, but this run trains %s with %lld "
                 "features and %lld classes: use a matching file or start afresh", what, path,
                 ddp_task_name(hdr->kind), (long long)hdr->n_features, (long long)hdr->n_classes,
                 ddp_task_name(cfg->task), (long long)F, (long long)C);
        return DDP_EXIT_USAGE;
    }
    return DDP_OK;
}

/* Rank 0 picks the newest checkpoint that verifies and tells everyone. */
int ddp_train_find_resume(trainer *t, char *path, size_t path_bytes, char *err)
{
    const ddp_comm *comm = t->comm;
    char warn[DDP_ERR_LEN] = "";
    int rc = DDP_OK;
    if (comm->rank == 0) {
        rc = ddp_ckpt_find_latest(t->cfg->checkpoint, path, path_bytes, warn, err);
        if (warn[0]) fprintf(stderr, "ddptrain: warning: %s; falling back to an older checkpoint\n", warn);
        if (rc == 1) { /* nothing yet: one batch script serves the first run and every restart */
            path[0] = '\0';
            if (!t->cfg->quiet) printf("resume: no checkpoint at %s yet; starting from step 0\n", t->cfg->checkpoint);
            rc = DDP_OK;
        }
    }
    rc = ddp_comm_agree(comm, rc, err);
    if (rc != DDP_OK) return rc;
    ddp_comm_bcast(comm, path, path_bytes, 0);
    path[path_bytes - 1] = '\0';
    return DDP_OK;
}

int ddp_train_resume_weights(trainer *t, const char *path, char *err)
{
    ddp_ckpt_header hdr;
    int rc = ddp_ckpt_read_header(t->comm, path, &hdr, err);
    if (rc == DDP_OK) rc = ddp_train_check_model(t, &hdr, "checkpoint", path, err);
    if (rc == DDP_OK && hdr.has_standardize != t->cfg->standardize) {
        ddp_errf(err, "checkpoint %s was trained %s --standardize; resume %s it", path,
                 hdr.has_standardize ? "with" : "without", hdr.has_standardize ? "with" : "without");
        rc = DDP_EXIT_USAGE;
    }
    if (rc != DDP_OK) return rc;
    return ddp_ckpt_load_weights(t->comm, path, &t->model, t->std_mean, t->std_scale, err);
}

int ddp_train_resume_state(trainer *t, const char *path, char *err)
{
    const ddp_config *cfg = t->cfg;
    ddp_train_state *ts = &t->start;
    int rc = ddp_ckpt_load_state(t->comm, path, &t->model, &t->opt, ts, err);
    if (rc != DDP_OK) return rc;
    const char *what = NULL;
    char had[64] = "", now[64] = "";
    if (ts->seed != cfg->seed) {
        what = "--seed";
        snprintf(had, sizeof had, "%llu", (unsigned long long)ts->seed);
        snprintf(now, sizeof now, "%llu", (unsigned long long)cfg->seed);
    } else if (ts->n_vshards != t->train.plan.n_vshards) {
        what = "--virtual-shards";
        snprintf(had, sizeof had, "%lld", (long long)ts->n_vshards);
        snprintf(now, sizeof now, "%lld", (long long)t->train.plan.n_vshards);
    } else if (ts->batch_size != cfg->batch_size) {
        what = "--batch-size";
        snprintf(had, sizeof had, "%lld", (long long)ts->batch_size);
        snprintf(now, sizeof now, "%lld", (long long)cfg->batch_size);
    } else if (ts->shuffle != cfg->shuffle || ts->drop_last != cfg->drop_last) {
        what = "--no-shuffle/--drop-last";
        snprintf(had, sizeof had, "shuffle %d drop_last %d", ts->shuffle, ts->drop_last);
        snprintf(now, sizeof now, "shuffle %d drop_last %d", cfg->shuffle, cfg->drop_last);
    }
    if (what) {
        ddp_errf(err, "checkpoint %s was written with %s %s, this run has %s: the batch sequence would differ; resume "
                 "with the same value", path, what, had, now);
        return DDP_EXIT_USAGE;
    }
    if (ts->batch_in_epoch >= ddp_sampler_batches_per_epoch(&t->sampler)) { /* saved after an epoch's last batch */
        ts->epoch++;
        ts->batch_in_epoch = 0;
    }
    if (t->comm->rank == 0 && !cfg->quiet) {
        printf("resume: %s (step %lld, epoch %lld, batch %lld of the epoch)\n", path, (long long)ts->step,
               (long long)ts->epoch, (long long)ts->batch_in_epoch);
        if (ts->lr != cfg->optim.lr) printf("resume: --lr %g (the checkpoint's run used %g)\n", cfg->optim.lr, ts->lr);
        if (ts->epochs != cfg->epochs)
            printf("resume: --epochs %lld (the checkpoint's run planned %lld)\n", (long long)cfg->epochs,
                   (long long)ts->epochs);
    }
    return DDP_OK;
}

/* Write checkpoint `step` of the series with the position of the next batch;
 * rank 0 then drops the files beyond --keep. A failed periodic save is
 * reported and training goes on: the previous checkpoint stays the valid one. */
int ddp_train_save_checkpoint(trainer *t, int64_t step, int64_t next_epoch, int64_t next_batch, double best,
                           int64_t bad_epochs, int periodic, int *wrote, char *err)
{
    *wrote = 0;
    const ddp_config *cfg = t->cfg;
    char path[4096];
    if (ddp_ckpt_step_path(cfg->checkpoint, step, path, sizeof path) != 0) {
        ddp_errf(err, "--checkpoint %s: path too long", cfg->checkpoint);
        return DDP_EXIT_USAGE;
    }
    ddp_train_state ts = {step, next_epoch, next_batch, cfg->seed, t->train.plan.n_vshards, cfg->batch_size,
                          cfg->shuffle, cfg->drop_last, t->last_loss, t->last_val_loss, t->last_val_metric, best,
                          bad_epochs, cfg->optim.lr, cfg->epochs};
    ddp_ckpt_meta meta = {&ts, &t->opt, cfg->standardize ? t->std_mean : NULL, cfg->standardize ? t->std_scale : NULL,
                          t->command_line};
    ddp_watchdog_progress(step, "checkpoint");
    double t0 = ddp_now();
    int rc = ddp_ckpt_save(t->comm, path, &t->model, &meta, err);
    ddp_timer_add(&t->timers, DDP_PHASE_CHECKPOINT, t0, ddp_now());
    if (rc == DDP_OK) {
        if (t->comm->rank == 0) ddp_ckpt_rotate(cfg->checkpoint, cfg->keep);
        if (t->comm->rank == 0 && !cfg->quiet && !periodic) printf("checkpoint: %s\n", path);
        *wrote = 1;
        return DDP_OK;
    }
    if (periodic) {
        if (t->comm->rank == 0)
            fprintf(stderr, "ddptrain: warning: checkpoint at step %lld failed: %s; the previous checkpoint stays "
                    "the valid one\n", (long long)step, err);
        return DDP_OK;
    }
    return rc;
}

