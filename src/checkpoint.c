/* checkpoint.c — saving and loading model files. See checkpoint.h.
 * Reading goes through h5safe (a model file may come from anywhere). */
#include "ddptrain/checkpoint.h"
#include "ddptrain/common.h"
#include "ddptrain/h5safe.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int write_f32(hid_t file, const char *name, int n_dims, const int64_t *shape, const float *data)
{
    hsize_t dims[2] = {(hsize_t)shape[0], n_dims > 1 ? (hsize_t)shape[1] : 1};
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t space = H5Screate_simple(n_dims, dims, NULL);
    hid_t d = H5Dcreate2(file, name, H5T_IEEE_F32LE, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    herr_t hr = d < 0 ? -1 : H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    if (d >= 0) H5Dclose(d);
    H5Sclose(space);
    H5Pclose(lcpl);
    return hr < 0 ? -1 : 0;
}

/* fsync a path (file or directory). */
static int fsync_path(const char *path, int directory)
{
    int fd = open(path, directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static int save_local(const char *path, const ddp_model *m, const ddp_ckpt_meta *meta, char *err)
{
    char tmp[4096], dir_buf[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= sizeof tmp) {
        ddp_errf(err, "%s: path too long", path);
        return DDP_EXIT_USAGE;
    }
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) {
        ddp_errf(err, "%s: cannot create %s (directory missing or not writable?)", path, tmp);
        return DDP_EXIT_IO;
    }
    int bad = 0;
    for (int t = 0; t < m->n_tensors; t++) {
        char name[96];
        snprintf(name, sizeof name, "/model/%s", m->tensors[t].name);
        bad |= write_f32(f, name, m->tensors[t].n_dims, m->tensors[t].shape, m->params + m->tensors[t].offset);
    }
    if (meta->std_mean && meta->std_scale) {
        int64_t shape[1] = {m->n_features};
        bad |= write_f32(f, "/standardize/mean", 1, shape, meta->std_mean);
        bad |= write_f32(f, "/standardize/std", 1, shape, meta->std_scale);
    }
    bad |= ddp_h5_write_attr_str(f, "format", "ddptrain-checkpoint");
    bad |= ddp_h5_write_attr_i64(f, "format_version", DDP_CKPT_FORMAT_VERSION);
    bad |= ddp_h5_write_attr_str(f, "ddptrain_version", DDP_VERSION_STRING);
    bad |= ddp_h5_write_attr_str(f, "model", ddp_task_name(m->kind));
    bad |= ddp_h5_write_attr_i64(f, "n_features", m->n_features);
    bad |= ddp_h5_write_attr_i64(f, "n_classes", m->kind == DDP_TASK_SOFTMAX ? m->n_out : (m->kind == DDP_TASK_LOGISTIC ? 2 : 0));
    bad |= ddp_h5_write_attr_i64(f, "step", meta->step);
    bad |= ddp_h5_write_attr_i64(f, "epoch", meta->epoch);
    bad |= ddp_h5_write_attr_str(f, "command_line", meta->command_line ? meta->command_line : "");
    if (H5Fflush(f, H5F_SCOPE_GLOBAL) < 0) bad = 1;
    if (H5Fclose(f) < 0) bad = 1;
    if (bad || fsync_path(tmp, 0) != 0) {
        unlink(tmp);
        ddp_errf(err, "%s: writing failed (disk full? quota?); the previous file, if any, is unchanged", path);
        return DDP_EXIT_IO;
    }
    if (rename(tmp, path) != 0) {
        ddp_errf(err, "%s: cannot rename %s onto it: %s", path, tmp, strerror(errno));
        unlink(tmp);
        return DDP_EXIT_IO;
    }
    snprintf(dir_buf, sizeof dir_buf, "%s", path);
    fsync_path(dirname(dir_buf), 1); /* durability of the rename; best effort on odd file systems */
    return DDP_OK;
}

int ddp_ckpt_save_weights(const ddp_comm *comm, const char *path, const ddp_model *model, const ddp_ckpt_meta *meta,
                          char *err)
{
    int rc = DDP_OK;
    if (comm->rank == 0) rc = save_local(path, model, meta, err);
    return ddp_comm_agree(comm, rc, err);
}

static int read_attr_i64(hid_t f, const char *name, int64_t *out)
{
    if (H5Aexists(f, name) <= 0) return -1;
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    hid_t t = H5Aget_type(a);
    hid_t s = H5Aget_space(a);
    int ok = H5Tget_class(t) == H5T_INTEGER && H5Sget_simple_extent_npoints(s) == 1 &&
             H5Aread(a, H5T_NATIVE_INT64, out) >= 0;
    H5Sclose(s);
    H5Tclose(t);
    H5Aclose(a);
    return ok ? 0 : -1;
}

static int read_attr_str(hid_t f, const char *name, char *out, size_t out_bytes)
{
    if (H5Aexists(f, name) <= 0) return -1;
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    hid_t t = H5Aget_type(a);
    int ok = 0;
    size_t n = H5Tget_size(t);
    if (H5Tget_class(t) == H5T_STRING && H5Tis_variable_str(t) == 0 && n > 0 && n < out_bytes) {
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, n + 1);
        memset(out, 0, out_bytes);
        ok = H5Aread(a, mt, out) >= 0;
        H5Tclose(mt);
    }
    H5Tclose(t);
    H5Aclose(a);
    return ok ? 0 : -1;
}

static int header_local(const char *path, ddp_ckpt_header *h, char *err)
{
    hid_t f = -1;
    int rc = ddp_h5_open_ro(path, &f, err);
    if (rc != DDP_OK) return rc;
    char format[64] = "", model[32] = "";
    int64_t version = 0;
    rc = DDP_EXIT_USAGE;
    if (read_attr_str(f, "format", format, sizeof format) != 0 || strcmp(format, "ddptrain-checkpoint") != 0) {
        ddp_errf(err, "%s: not a ddptrain model file (no format=\"ddptrain-checkpoint\" attribute); give a file "
                 "written by 'ddptrain train --save'", path);
        goto done;
    }
    if (read_attr_i64(f, "format_version", &version) != 0 || version < 1 || version > DDP_CKPT_FORMAT_VERSION) {
        ddp_errf(err, "%s: format_version %lld is not supported by ddptrain %s (reads 1..%d)", path,
                 (long long)version, DDP_VERSION_STRING, DDP_CKPT_FORMAT_VERSION);
        goto done;
    }
    if (read_attr_str(f, "model", model, sizeof model) != 0 || read_attr_i64(f, "n_features", &h->n_features) != 0 ||
        read_attr_i64(f, "n_classes", &h->n_classes) != 0 || h->n_features < 1 || h->n_features > INT32_MAX ||
        h->n_classes < 0 || h->n_classes > (1 << 20)) {
        ddp_errf(err, "%s: model attributes missing or out of range (model, n_features, n_classes)", path);
        goto done;
    }
    if (strcmp(model, "linear") == 0) h->kind = DDP_TASK_LINEAR;
    else if (strcmp(model, "logistic") == 0) h->kind = DDP_TASK_LOGISTIC;
    else if (strcmp(model, "softmax") == 0) h->kind = DDP_TASK_SOFTMAX;
    else {
        ddp_errf(err, "%s: unknown model '%s'", path, model);
        goto done;
    }
    h->has_standardize = H5Lexists(f, "/standardize", H5P_DEFAULT) > 0;
    rc = DDP_OK;
done:
    H5Fclose(f);
    return rc;
}

int ddp_ckpt_read_header(const ddp_comm *comm, const char *path, ddp_ckpt_header *hdr, char *err)
{
    memset(hdr, 0, sizeof *hdr);
    int rc = header_local(path, hdr, err);
    return ddp_comm_agree(comm, rc, err);
}

/* Read a float dataset of exactly n_elems elements with the expected dims. */
static int read_tensor(hid_t f, const char *path, const char *name, int n_dims, const int64_t *shape, float *out,
                       char *err)
{
    hid_t d = -1;
    ddp_h5_dsinfo info;
    int rc = ddp_h5_open_dataset(f, path, name, &d, &info, err);
    if (rc != DDP_OK) return rc;
    int ok = info.n_dims == n_dims;
    for (int k = 0; ok && k < n_dims; k++) ok = info.dims[k] == (hsize_t)shape[k];
    if (!ok) {
        char dims[64];
        ddp_h5_format_dims(&info, dims, sizeof dims);
        ddp_errf(err, "%s:%s: shape %s does not match the model's [%lld%s%lld]; the file is for another "
                 "model or feature count", path, name, dims, (long long)shape[0], n_dims > 1 ? ", " : "",
                 n_dims > 1 ? (long long)shape[1] : 0LL);
        H5Dclose(d);
        return DDP_EXIT_USAGE;
    }
    herr_t hr = H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out);
    H5Dclose(d);
    if (hr < 0) {
        ddp_errf(err, "%s:%s: read failed (damaged file?)", path, name);
        return DDP_EXIT_USAGE;
    }
    int64_t n = 1;
    for (int k = 0; k < n_dims; k++) n *= shape[k];
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(out[i])) {
            ddp_errf(err, "%s:%s: element %lld is not finite; refusing non-finite weights", path, name, (long long)i);
            return DDP_EXIT_USAGE;
        }
    return DDP_OK;
}

static int load_local(const char *path, ddp_model *m, float *std_mean, float *std_scale, char *err)
{
    hid_t f = -1;
    int rc = ddp_h5_open_ro(path, &f, err);
    if (rc != DDP_OK) return rc;
    for (int t = 0; t < m->n_tensors && rc == DDP_OK; t++) {
        char name[96];
        snprintf(name, sizeof name, "/model/%s", m->tensors[t].name);
        rc = read_tensor(f, path, name, m->tensors[t].n_dims, m->tensors[t].shape, m->params + m->tensors[t].offset,
                         err);
    }
    if (rc == DDP_OK && std_mean && std_scale && H5Lexists(f, "/standardize", H5P_DEFAULT) > 0) {
        int64_t shape[1] = {m->n_features};
        rc = read_tensor(f, path, "/standardize/mean", 1, shape, std_mean, err);
        if (rc == DDP_OK) rc = read_tensor(f, path, "/standardize/std", 1, shape, std_scale, err);
    }
    H5Fclose(f);
    return rc;
}

int ddp_ckpt_load_weights(const ddp_comm *comm, const char *path, ddp_model *model, float *std_mean,
                          float *std_scale, char *err)
{
    int rc = load_local(path, model, std_mean, std_scale, err);
    return ddp_comm_agree(comm, rc, err);
}
