/* infer.c — `ddptrain eval` and `ddptrain predict`: saved weights applied
 * to a dataset, data-parallel. The model file's standardisation statistics
 * are applied to the features first. predict writes rows in input order,
 * every rank its own hyperslab (collective MPI-IO), to a temp file renamed
 * when all ranks succeeded. Not here: training (train.c). */
#include "ddptrain/checkpoint.h"
#include "ddptrain/common.h"
#include "ddptrain/data.h"
#include "ddptrain/kernels.h"
#include "ddptrain/model.h"
#include "ddptrain/train.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Model from a weights file, and the data it is applied to (standardised
 * with the stored statistics). */
static int load_for_inference(const ddp_comm *comm, const ddp_config *cfg, int need_labels, ddp_model *m,
                              ddp_dataset *ds, char *err)
{
    ddp_ckpt_header hdr;
    int rc = ddp_ckpt_read_header(comm, cfg->ckpt_path, &hdr, err);
    if (rc != DDP_OK) return rc;
    ddp_data_spec spec = {cfg->data_path, cfg->features_name, need_labels ? cfg->labels_name : NULL, hdr.kind,
                          hdr.kind == DDP_TASK_SOFTMAX ? hdr.n_classes : 0, cfg->n_vshards, cfg->memory_limit};
    rc = ddp_data_load(comm, &spec, ds, err);
    if (rc != DDP_OK) return rc;
    if (ds->n_features != hdr.n_features) {
        ddp_errf(err, "%s:%s has %lld features but the model in %s expects %lld", cfg->data_path, cfg->features_name,
                 (long long)ds->n_features, cfg->ckpt_path, (long long)hdr.n_features);
        return DDP_EXIT_USAGE;
    }
    rc = ddp_model_init(m, hdr.kind, hdr.n_features, hdr.n_classes, err);
    if (rc != DDP_OK) return rc;
    float *mean = calloc((size_t)hdr.n_features, sizeof(float)), *scale = calloc((size_t)hdr.n_features, sizeof(float));
    DDP_ASSERT(mean && scale);
    rc = ddp_ckpt_load_weights(comm, cfg->ckpt_path, m, mean, scale, err);
    if (rc == DDP_OK && hdr.has_standardize) ddp_apply_standardize(ds->x, ds->n_local, ds->n_features, mean, scale);
    free(scale);
    free(mean);
    return rc;
}

int ddp_eval_run(const ddp_comm *comm, const ddp_config *cfg, char *err)
{
    ddp_model m;
    ddp_dataset ds;
    memset(&m, 0, sizeof m);
    memset(&ds, 0, sizeof ds);
    int rc = load_for_inference(comm, cfg, 1, &m, &ds, err);
    if (rc == DDP_OK) {
        int n_threads = cfg->threads > 0 ? (int)cfg->threads : ddp_default_threads();
        ddp_eval_result r = ddp_evaluate(comm, m.kind, &m, &ds, n_threads);
        if (comm->rank == 0) {
            printf("eval: %s on %s %s (%lld rows)\n  loss %.6f\n", cfg->ckpt_path, cfg->data_path, cfg->features_name,
                   (long long)ds.n_rows, r.loss);
            if (m.kind == DDP_TASK_LINEAR) printf("  rmse %.6f\n  r2 %.6f\n", r.metric, r.metric2);
            else printf("  accuracy %.6f\n", r.metric);
            fflush(stdout);
        }
    }
    ddp_data_free(&ds);
    ddp_model_free(&m);
    return rc;
}

/* Write this rank's rows of a [n_rows] or [n_rows, n_cols] dataset (collective). */
static int write_rows_parallel(hid_t file, const char *name, hid_t ftype, hid_t mtype, int64_t n_rows, int64_t n_cols,
                               int64_t row0, int64_t n, const void *data)
{
    hsize_t dims[2] = {(hsize_t)n_rows, (hsize_t)n_cols};
    int n_dims = n_cols > 1 ? 2 : 1;
    hid_t space = H5Screate_simple(n_dims, dims, NULL);
    hid_t d = H5Dcreate2(file, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Sclose(space);
    if (d < 0) return -1;
    hid_t fs = H5Dget_space(d);
    hsize_t start[2] = {(hsize_t)row0, 0}, count[2] = {(hsize_t)n, (hsize_t)n_cols};
    hsize_t mdims[2] = {(hsize_t)(n > 0 ? n : 1), (hsize_t)n_cols};
    hid_t ms = H5Screate_simple(n_dims, mdims, NULL);
    if (n > 0) H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    else {
        H5Sselect_none(fs);
        H5Sselect_none(ms);
    }
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
    herr_t hr = H5Dwrite(d, mtype, ms, fs, dxpl, data);
    H5Pclose(dxpl);
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d);
    return hr < 0 ? -1 : 0;
}

int ddp_predict_run(const ddp_comm *comm, const ddp_config *cfg, char *err)
{
    ddp_model m;
    ddp_dataset ds;
    memset(&m, 0, sizeof m);
    memset(&ds, 0, sizeof ds);
    float *pred = NULL;
    int32_t *cls = NULL;
    int rc = load_for_inference(comm, cfg, 0, &m, &ds, err);
    if (rc != DDP_OK) goto done;
    int64_t n_pred = m.kind == DDP_TASK_SOFTMAX ? m.n_out : 1;
    pred = malloc((size_t)(ds.n_local > 0 ? ds.n_local : 1) * (size_t)n_pred * sizeof(float));
    cls = malloc((size_t)(ds.n_local > 0 ? ds.n_local : 1) * sizeof(int32_t));
    rc = pred && cls ? DDP_OK : DDP_EXIT_MEMORY;
    if (rc != DDP_OK) ddp_errf(err, "cannot allocate predictions for %lld rows", (long long)ds.n_local);
    rc = ddp_comm_agree(comm, rc, err);
    if (rc != DDP_OK) goto done;
    ddp_batch b = {ds.x, ds.y, NULL, ds.n_local, ds.n_features};
    ddp_eval_sums s;
    int n_threads = cfg->threads > 0 ? (int)cfg->threads : ddp_default_threads();
    ddp_kernel_eval(m.kind, &b, m.n_out, m.params, m.params + m.n_out * m.n_features, &s, pred, n_threads);
    for (int64_t i = 0; i < ds.n_local; i++) {
        if (m.kind == DDP_TASK_SOFTMAX) {
            int64_t best = 0;
            for (int64_t c = 1; c < n_pred; c++)
                if (pred[i * n_pred + c] > pred[i * n_pred + best]) best = c;
            cls[i] = (int32_t)best;
        } else {
            cls[i] = pred[i] > 0.5f;
        }
    }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", cfg->out_path);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_mpio(fapl, comm->world, MPI_INFO_NULL);
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    rc = f < 0 ? DDP_EXIT_IO : DDP_OK;
    if (rc != DDP_OK) ddp_errf(err, "predict: cannot create %s", tmp);
    rc = ddp_comm_agree(comm, rc, err);
    if (rc != DDP_OK) goto done;
    int bad = 0;
    int64_t r0 = ds.plan.row_begin;
    if (m.kind == DDP_TASK_LINEAR) {
        bad |= write_rows_parallel(f, "prediction", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, ds.n_rows, 1, r0, ds.n_local, pred);
    } else {
        bad |= write_rows_parallel(f, "prediction", H5T_STD_I32LE, H5T_NATIVE_INT32, ds.n_rows, 1, r0, ds.n_local, cls);
        bad |= write_rows_parallel(f, "probability", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, ds.n_rows, n_pred, r0, ds.n_local,
                                   pred);
    }
    if (H5Fclose(f) < 0) bad = 1;
    rc = bad ? DDP_EXIT_IO : DDP_OK;
    if (rc != DDP_OK) ddp_errf(err, "predict: writing %s failed (disk full?)", tmp);
    rc = ddp_comm_agree(comm, rc, err);
    if (rc == DDP_OK && comm->rank == 0 && rename(tmp, cfg->out_path) != 0) {
        ddp_errf(err, "predict: cannot rename %s to %s", tmp, cfg->out_path);
        rc = DDP_EXIT_IO;
    }
    rc = ddp_comm_agree(comm, rc, err);
    if (rc == DDP_OK && comm->rank == 0 && !cfg->quiet)
        printf("predict: %lld rows -> %s (/prediction%s)\n", (long long)ds.n_rows, cfg->out_path,
               m.kind == DDP_TASK_LINEAR ? "" : ", /probability");
    if (rc != DDP_OK && comm->rank == 0) unlink(tmp);
done:
    free(cls);
    free(pred);
    ddp_data_free(&ds);
    ddp_model_free(&m);
    return rc;
}
