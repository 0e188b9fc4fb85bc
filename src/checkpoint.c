/* checkpoint.c — saving, verifying and loading model files (the series on
 * disk: checkpoint_series.c). See checkpoint.h.
 * Reading goes through h5safe (a model file may come from anywhere). */
#include "ddptrain/checkpoint.h"
#include "ddptrain/common.h"
#include "ddptrain/h5safe.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <libgen.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* FNV-1a, 64 bit, over the float32 bytes of a dataset: a flipped bit or a
 * truncated dataset changes it. Stored as a hex string attribute. */
static uint64_t fnv1a64(const float *data, int64_t n_elems)
{
    const unsigned char *p = (const unsigned char *)data;
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (int64_t i = 0; i < n_elems * (int64_t)sizeof(float); i++) h = (h ^ p[i]) * UINT64_C(0x100000001b3);
    return h;
}

static int64_t n_elems_of(int n_dims, const int64_t *shape)
{
    int64_t n = 1;
    for (int k = 0; k < n_dims; k++) n *= shape[k];
    return n;
}

static int write_f32(hid_t file, const char *name, int n_dims, const int64_t *shape, const float *data)
{
    hsize_t dims[2] = {(hsize_t)shape[0], n_dims > 1 ? (hsize_t)shape[1] : 1};
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t space = H5Screate_simple(n_dims, dims, NULL);
    hid_t d = H5Dcreate2(file, name, H5T_IEEE_F32LE, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    herr_t hr = d < 0 ? -1 : H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    if (hr >= 0) {
        char hex[24];
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)fnv1a64(data, n_elems_of(n_dims, shape)));
        hr = ddp_h5_write_attr_str(d, "fnv1a64", hex);
    }
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

/* PyTorch's optimizer state names, and where ddp_optim keeps each buffer. */
typedef struct state_buf {
    const char *name;
    size_t offset; /* of the float * field in ddp_optim */
} state_buf;
static const state_buf STATE_BUFS[] = {
    {"momentum_buffer", offsetof(ddp_optim, momentum_buffer)}, {"exp_avg", offsetof(ddp_optim, exp_avg)},
    {"exp_avg_sq", offsetof(ddp_optim, exp_avg_sq)},           {"max_exp_avg_sq", offsetof(ddp_optim, max_exp_avg_sq)},
    {"square_avg", offsetof(ddp_optim, square_avg)},           {"grad_avg", offsetof(ddp_optim, grad_avg)},
};
#define N_STATE_BUFS (sizeof STATE_BUFS / sizeof STATE_BUFS[0])

static float *state_ptr(const ddp_optim *o, size_t k)
{
    float *p;
    memcpy(&p, (const char *)o + STATE_BUFS[k].offset, sizeof p);
    return p;
}

static int save_optim(hid_t f, const ddp_model *m, const ddp_optim *o)
{
    int bad = 0;
    for (size_t k = 0; k < N_STATE_BUFS; k++) {
        float *buf = state_ptr(o, k);
        if (!buf) continue;
        for (int t = 0; t < m->n_tensors; t++) {
            char name[160];
            snprintf(name, sizeof name, "/optimizer/state/%s/%s", m->tensors[t].name, STATE_BUFS[k].name);
            bad |= write_f32(f, name, m->tensors[t].n_dims, m->tensors[t].shape, buf + m->tensors[t].offset);
        }
    }
    hid_t g = H5Gopen2(f, "/optimizer", H5P_DEFAULT);
    if (g < 0) { /* no state buffers (plain SGD): make the group for the attributes */
        g = H5Gcreate2(f, "/optimizer", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (g < 0) return 1;
    }
    const ddp_optim_config *c = &o->cfg;
    bad |= ddp_h5_write_attr_str(g, "name", ddp_optim_name(c->kind));
    bad |= ddp_h5_write_attr_i64(g, "step", o->step);
    bad |= ddp_h5_write_attr_i64(g, "has_momentum", o->has_momentum);
    bad |= ddp_h5_write_attr_f64(g, "lr", c->lr);
    bad |= ddp_h5_write_attr_f64(g, "momentum", c->momentum);
    bad |= ddp_h5_write_attr_f64(g, "dampening", c->dampening);
    bad |= ddp_h5_write_attr_i64(g, "nesterov", c->nesterov);
    bad |= ddp_h5_write_attr_f64(g, "weight_decay", c->weight_decay);
    bad |= ddp_h5_write_attr_f64(g, "beta1", c->beta1);
    bad |= ddp_h5_write_attr_f64(g, "beta2", c->beta2);
    bad |= ddp_h5_write_attr_f64(g, "eps", c->eps);
    bad |= ddp_h5_write_attr_i64(g, "amsgrad", c->amsgrad);
    bad |= ddp_h5_write_attr_f64(g, "alpha", c->alpha);
    bad |= ddp_h5_write_attr_i64(g, "centered", c->centered);
    H5Gclose(g);
    return bad;
}

static int save_train_state(hid_t f, const ddp_train_state *ts)
{
    hid_t g = H5Gcreate2(f, "/train", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return 1;
    int bad = 0;
    bad |= ddp_h5_write_attr_i64(g, "step", ts->step);
    bad |= ddp_h5_write_attr_i64(g, "epoch", ts->epoch);
    bad |= ddp_h5_write_attr_i64(g, "batch_in_epoch", ts->batch_in_epoch);
    bad |= ddp_h5_write_attr_i64(g, "seed", (int64_t)ts->seed); /* the bits of the uint64 */
    bad |= ddp_h5_write_attr_i64(g, "n_vshards", ts->n_vshards);
    bad |= ddp_h5_write_attr_i64(g, "batch_size", ts->batch_size);
    bad |= ddp_h5_write_attr_i64(g, "shuffle", ts->shuffle);
    bad |= ddp_h5_write_attr_i64(g, "drop_last", ts->drop_last);
    bad |= ddp_h5_write_attr_f64(g, "last_loss", ts->last_loss);
    bad |= ddp_h5_write_attr_f64(g, "last_val_loss", ts->last_val_loss);
    bad |= ddp_h5_write_attr_f64(g, "last_val_metric", ts->last_val_metric);
    bad |= ddp_h5_write_attr_f64(g, "best_loss", ts->best_loss);
    bad |= ddp_h5_write_attr_i64(g, "bad_epochs", ts->bad_epochs);
    bad |= ddp_h5_write_attr_f64(g, "lr", ts->lr);
    bad |= ddp_h5_write_attr_i64(g, "epochs", ts->epochs);
    H5Gclose(g);
    return bad;
}

/* Write n bytes to a new file `tmp` and fsync it; 0 or -1 with errno set. */
static int write_file_durably(const char *tmp, const void *buf, size_t n_bytes)
{
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    const char *p = buf;
    size_t left = n_bytes;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int e = w < 0 ? errno : ENOSPC;
            close(fd);
            errno = e;
            return -1;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return close(fd);
}

/* The in-memory file's buffer is kept when HDF5 closes it, so that the image
 * written is the one HDF5 finalised on close: H5Fget_file_image on an open
 * file returns a superblock whose checksum is stale (HDF5 1.10.8, 1.8 file
 * format), which no reader accepts. */
typedef struct image_keeper {
    void *mem;
} image_keeper;

static void *image_malloc(size_t n, H5FD_file_image_op_t op, void *u)
{
    (void)op, (void)u;
    return malloc(n);
}
static void *image_memcpy(void *dst, const void *src, size_t n, H5FD_file_image_op_t op, void *u)
{
    (void)op, (void)u;
    return memcpy(dst, src, n);
}
static void *image_realloc(void *p, size_t n, H5FD_file_image_op_t op, void *u)
{
    (void)op, (void)u;
    return realloc(p, n);
}
static herr_t image_free(void *p, H5FD_file_image_op_t op, void *u)
{
    if (op == H5FD_FILE_IMAGE_OP_FILE_CLOSE) ((image_keeper *)u)->mem = p; /* ours now */
    else free(p);
    return 0;
}
static void *image_udata_copy(void *u) { return u; }
static herr_t image_udata_free(void *u)
{
    (void)u;
    return 0;
}

/* Open the finished image read-only: it must be a readable HDF5 file, and
 * its end-of-file address (which closing may lower below the size before
 * closing) is the number of bytes to write. -1 if it does not open. */
static ssize_t image_end(void *image, size_t bytes)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_core(fapl, (size_t)1 << 20, 0);
    ssize_t end = -1;
    if (H5Pset_file_image(fapl, image, bytes) >= 0) {
        hid_t f = H5Fopen("checkpoint image", H5F_ACC_RDONLY, fapl);
        if (f >= 0) {
            end = H5Fget_file_image(f, NULL, 0);
            H5Fclose(f);
        }
    }
    H5Pclose(fapl);
    return end > 0 && (size_t)end <= bytes ? end : -1;
}

/* The checkpoint is built in memory (HDF5's core driver, no backing store)
 * and its image written with plain write + fsync: a full disk is then an
 * ordinary syscall error, never an HDF5 file left half-closed (which 1.10.8
 * crashes on at exit). Then rename onto PATH and fsync the directory. */
static int save_local(const char *path, const ddp_model *m, const ddp_ckpt_meta *meta, char *err)
{
    char tmp[4096], dir_buf[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= sizeof tmp) {
        ddp_errf(err, "%s: path too long", path);
        return DDP_EXIT_USAGE;
    }
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_core(fapl, (size_t)1 << 20, 0);
    image_keeper keeper = {NULL};
    H5FD_file_image_callbacks_t callbacks = {image_malloc,    image_memcpy,     image_realloc, image_free,
                                             image_udata_copy, image_udata_free, &keeper};
    H5Pset_file_image_callbacks(fapl, &callbacks);
    /* The 1.8 file format checksums every piece of metadata (superblock,
     * object headers with their attributes, B-trees, heaps), so a flipped
     * byte in an attribute such as /train@step is detected on open like one
     * in a dataset (fnv1a64). h5py and any HDF5 >= 1.8 read it. */
    H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18);
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl); /* in memory only */
    H5Pclose(fapl);
    if (f < 0) {
        ddp_errf(err, "%s: cannot build the checkpoint in memory (out of memory?)", path);
        return DDP_EXIT_IO;
    }
    int bad = 0;
    for (int t = 0; t < m->n_tensors; t++) {
        char name[128];
        snprintf(name, sizeof name, "/model/%s", m->tensors[t].name);
        bad |= write_f32(f, name, m->tensors[t].n_dims, m->tensors[t].shape, m->params + m->tensors[t].offset);
    }
    if (meta->optim) bad |= save_optim(f, m, meta->optim);
    if (meta->train) bad |= save_train_state(f, meta->train);
    if (meta->std_mean && meta->std_scale) {
        int64_t shape[1] = {m->n_features};
        bad |= write_f32(f, "/standardize/mean", 1, shape, meta->std_mean);
        bad |= write_f32(f, "/standardize/std", 1, shape, meta->std_scale);
    }
    const ddp_train_state *ts = meta->train;
    bad |= ddp_h5_write_attr_str(f, "format", "ddptrain-checkpoint");
    bad |= ddp_h5_write_attr_i64(f, "format_version", DDP_CKPT_FORMAT_VERSION);
    bad |= ddp_h5_write_attr_str(f, "ddptrain_version", DDP_VERSION_STRING);
    bad |= ddp_h5_write_attr_str(f, "model", ddp_task_name(m->kind));
    bad |= ddp_h5_write_attr_i64(f, "n_features", m->n_features);
    bad |= ddp_h5_write_attr_i64(f, "n_classes",
                                 m->kind == DDP_TASK_SOFTMAX ? m->n_out : (m->kind == DDP_TASK_LOGISTIC ? 2 : 0));
    bad |= ddp_h5_write_attr_i64(f, "step", ts ? ts->step : 0);
    bad |= ddp_h5_write_attr_i64(f, "epoch", ts ? ts->epoch : 0);
    bad |= ddp_h5_write_attr_str(f, "command_line", meta->command_line ? meta->command_line : "");
    if (H5Fflush(f, H5F_SCOPE_GLOBAL) < 0) bad = 1;
    ssize_t image_bytes = bad ? -1 : H5Fget_file_image(f, NULL, 0); /* end of file after the flush */
    if (H5Fclose(f) < 0 || image_bytes <= 0) bad = 1;
    void *image = keeper.mem;
    if (!image || (image_bytes = image_end(image, (size_t)image_bytes)) < 0) bad = 1;
    if (bad) {
        free(image);
        ddp_errf(err, "%s: building the checkpoint image failed (out of memory?)", path);
        return DDP_EXIT_IO;
    }
    int rc = write_file_durably(tmp, image, (size_t)image_bytes);
    int e = errno;
    free(image);
    if (rc != 0) {
        unlink(tmp);
        ddp_errf(err, "%s: writing failed: %s: %s (disk full? quota? directory not writable?); the previous "
                 "checkpoint, if any, is unchanged", path, tmp, strerror(e));
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

int ddp_ckpt_save(const ddp_comm *comm, const char *path, const ddp_model *model, const ddp_ckpt_meta *meta,
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

static int read_attr_f64(hid_t obj, const char *name, double *out)
{
    if (H5Aexists(obj, name) <= 0) return -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t t = H5Aget_type(a);
    hid_t sp = H5Aget_space(a);
    int ok = (H5Tget_class(t) == H5T_FLOAT || H5Tget_class(t) == H5T_INTEGER) &&
             H5Sget_simple_extent_npoints(sp) == 1 && H5Aread(a, H5T_NATIVE_DOUBLE, out) >= 0;
    H5Sclose(sp);
    H5Tclose(t);
    H5Aclose(a);
    return ok ? 0 : -1;
}

/* Every object is a hard-linked group or float dataset whose fnv1a64
 * attribute matches its data. */
typedef struct verify_ctx {
    const char *path;
    char *err;
    int rc;
    int n_datasets;
} verify_ctx;

#define MAX_CKPT_ELEMS (INT64_C(1) << 28)

/* Each attribute is scalar and readable: HDF5 checks the metadata checksums
 * of the 1.8 format on the way, so a flipped byte in an attribute (say
 * /train@step) makes the file fail verification like one in a dataset. */
static herr_t verify_attr(hid_t loc, const char *name, const H5A_info_t *ainfo, void *op_data)
{
    (void)ainfo;
    int *n_read = op_data;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t t = a >= 0 ? H5Aget_type(a) : -1;
    hid_t sp = a >= 0 ? H5Aget_space(a) : -1;
    H5T_class_t c = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS;
    size_t size = t >= 0 ? H5Tget_size(t) : 0;
    int ok = sp >= 0 && H5Sget_simple_extent_npoints(sp) == 1;
    if (ok && c == H5T_STRING && size > 0 && size <= 65536 && H5Tis_variable_str(t) == 0) {
        char *v = malloc(size);
        ok = v && H5Aread(a, t, v) >= 0;
        free(v);
    } else if (ok && (c == H5T_INTEGER || c == H5T_FLOAT)) {
        double v;
        ok = H5Aread(a, H5T_NATIVE_DOUBLE, &v) >= 0;
    } else {
        ok = 0;
    }
    if (sp >= 0) H5Sclose(sp);
    if (t >= 0) H5Tclose(t);
    if (a >= 0) H5Aclose(a);
    if (!ok) return -1;
    (*n_read)++;
    return 0;
}

static int verify_attrs(hid_t obj, const char *path, const char *name, char *err)
{
    H5O_info_t oi;
    int n_read = 0;
    if (H5Oget_info2(obj, &oi, H5O_INFO_NUM_ATTRS) < 0 ||
        H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, NULL, verify_attr, &n_read) < 0 ||
        (hsize_t)n_read != oi.num_attrs) {
        ddp_errf(err, "%s:%s: attributes cannot be read back (%d of them read): the file is corrupted", path, name,
                 n_read);
        return DDP_EXIT_USAGE;
    }
    return DDP_OK;
}

static herr_t verify_link(hid_t group, const char *name, const H5L_info_t *linfo, void *op_data)
{
    verify_ctx *v = op_data;
    if (linfo->type != H5L_TYPE_HARD) {
        ddp_errf(v->err, "%s: '%s' is not a hard link; not a file ddptrain wrote", v->path, name);
        v->rc = DDP_EXIT_USAGE;
        return 1;
    }
    hid_t obj = H5Oopen(group, name, H5P_DEFAULT);
    if (obj < 0) {
        ddp_errf(v->err, "%s: object '%s' cannot be opened (damaged file)", v->path, name);
        v->rc = DDP_EXIT_USAGE;
        return 1;
    }
    if (H5Iget_type(obj) == H5I_DATASET) {
        ddp_h5_dsinfo info;
        int rc = ddp_h5_check_dataset(obj, v->path, name, &info, v->err);
        int64_t n = 1;
        for (int d = 0; rc == DDP_OK && d < info.n_dims; d++) n *= (int64_t)info.dims[d];
        char want[32] = "";
        if (rc == DDP_OK && (n > MAX_CKPT_ELEMS || read_attr_str(obj, "fnv1a64", want, sizeof want) != 0)) {
            ddp_errf(v->err, "%s:%s: no checksum attribute (or too large); the file is damaged or not a ddptrain "
                     "checkpoint", v->path, name);
            rc = DDP_EXIT_USAGE;
        }
        if (rc == DDP_OK) {
            float *buf = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
            char got[24] = "";
            if (buf && H5Dread(obj, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0)
                snprintf(got, sizeof got, "%016llx", (unsigned long long)fnv1a64(buf, n));
            free(buf);
            if (strcmp(got, want) != 0) {
                ddp_errf(v->err, "%s:%s: checksum mismatch (stored %s, computed %s): the file is corrupted", v->path,
                         name, want, got[0] ? got : "unreadable");
                rc = DDP_EXIT_USAGE;
            }
        }
        v->n_datasets++;
        v->rc = rc;
    }
    if (v->rc == DDP_OK) v->rc = verify_attrs(obj, v->path, name, v->err);
    H5Oclose(obj);
    return v->rc == DDP_OK ? 0 : 1;
}

static int verify_open(hid_t f, const char *path, char *err)
{
    verify_ctx v = {path, err, verify_attrs(f, path, "/", err), 0};
    if (v.rc == DDP_OK && H5Lvisit(f, H5_INDEX_NAME, H5_ITER_INC, verify_link, &v) < 0 && v.rc == DDP_OK) {
        ddp_errf(err, "%s: cannot walk the file's objects (damaged file)", path);
        v.rc = DDP_EXIT_USAGE;
    }
    if (v.rc == DDP_OK && v.n_datasets == 0) {
        ddp_errf(err, "%s: holds no datasets", path);
        v.rc = DDP_EXIT_USAGE;
    }
    return v.rc;
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
    h->format_version = version;
    rc = version >= 2 ? verify_open(f, path, err) : DDP_OK;
done:
    H5Fclose(f);
    return rc;
}

int ddp_ckpt_verify(const char *path, char *err)
{
    ddp_ckpt_header h;
    memset(&h, 0, sizeof h);
    return header_local(path, &h, err);
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

static int load_state_local(const char *path, const ddp_model *m, ddp_optim *o, ddp_train_state *ts, char *err)
{
    hid_t f = -1;
    int rc = ddp_h5_open_ro(path, &f, err);
    if (rc != DDP_OK) return rc;
    rc = DDP_EXIT_USAGE;
    char name[32] = "";
    hid_t g = H5Lexists(f, "/optimizer", H5P_DEFAULT) > 0 ? H5Gopen2(f, "/optimizer", H5P_DEFAULT) : -1;
    if (g < 0 || read_attr_str(g, "name", name, sizeof name) != 0) {
        ddp_errf(err, "%s: holds no optimizer state (a weights-only file?); start from it with --init instead of "
                 "--resume", path);
        goto done;
    }
    if (strcmp(name, ddp_optim_name(o->cfg.kind)) != 0) {
        ddp_errf(err, "%s: was trained with --optimizer %s, this run uses %s; resume with --optimizer %s", path, name,
                 ddp_optim_name(o->cfg.kind), name);
        goto done;
    }
    int64_t step = 0, has_momentum = 0;
    if (read_attr_i64(g, "step", &step) != 0 || read_attr_i64(g, "has_momentum", &has_momentum) != 0 || step < 0) {
        ddp_errf(err, "%s: optimizer attributes step/has_momentum missing", path);
        goto done;
    }
    for (size_t k = 0; k < N_STATE_BUFS; k++) {
        float *buf = state_ptr(o, k);
        if (!buf) continue;
        for (int t = 0; t < m->n_tensors; t++) {
            char dname[160];
            snprintf(dname, sizeof dname, "/optimizer/state/%s/%s", m->tensors[t].name, STATE_BUFS[k].name);
            if (H5Lexists(f, "/optimizer/state", H5P_DEFAULT) <= 0 || H5Lexists(f, dname, H5P_DEFAULT) <= 0) {
                ddp_errf(err, "%s: no optimizer state '%s' for '%s'; resume with the optimizer options of the run "
                         "that wrote it (e.g. --momentum, --amsgrad, --centered)", path, STATE_BUFS[k].name,
                         m->tensors[t].name);
                goto done;
            }
            if (read_tensor(f, path, dname, m->tensors[t].n_dims, m->tensors[t].shape, buf + m->tensors[t].offset,
                            err) != DDP_OK)
                goto done;
        }
    }
    o->step = step;
    o->has_momentum = (int)has_momentum;
    hid_t tg = H5Lexists(f, "/train", H5P_DEFAULT) > 0 ? H5Gopen2(f, "/train", H5P_DEFAULT) : -1;
    int64_t seed = 0, shuffle = 0, drop_last = 0;
    int ok = tg >= 0 && read_attr_i64(tg, "step", &ts->step) == 0 && read_attr_i64(tg, "epoch", &ts->epoch) == 0 &&
             read_attr_i64(tg, "batch_in_epoch", &ts->batch_in_epoch) == 0 && read_attr_i64(tg, "seed", &seed) == 0 &&
             read_attr_i64(tg, "n_vshards", &ts->n_vshards) == 0 &&
             read_attr_i64(tg, "batch_size", &ts->batch_size) == 0 && read_attr_i64(tg, "shuffle", &shuffle) == 0 &&
             read_attr_i64(tg, "drop_last", &drop_last) == 0;
    if (ok) {
        read_attr_f64(tg, "last_loss", &ts->last_loss);
        read_attr_f64(tg, "last_val_loss", &ts->last_val_loss);
        read_attr_f64(tg, "last_val_metric", &ts->last_val_metric);
        read_attr_f64(tg, "best_loss", &ts->best_loss);
        read_attr_i64(tg, "bad_epochs", &ts->bad_epochs);
        read_attr_f64(tg, "lr", &ts->lr);
        read_attr_i64(tg, "epochs", &ts->epochs);
    }
    if (tg >= 0) H5Gclose(tg);
    if (!ok || ts->step != step || ts->epoch < 0 || ts->batch_in_epoch < 0) {
        ddp_errf(err, "%s: /train state missing or inconsistent with the optimizer step", path);
        goto done;
    }
    ts->seed = (uint64_t)seed;
    ts->shuffle = (int)shuffle;
    ts->drop_last = (int)drop_last;
    rc = DDP_OK;
done:
    if (g >= 0) H5Gclose(g);
    H5Fclose(f);
    return rc;
}

int ddp_ckpt_load_state(const ddp_comm *comm, const char *path, const ddp_model *model, ddp_optim *optim,
                        ddp_train_state *ts, char *err)
{
    int rc = load_state_local(path, model, optim, ts, err);
    return ddp_comm_agree(comm, rc, err);
}
