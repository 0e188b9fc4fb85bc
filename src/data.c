/* data.c — collective, validated loading of a rank's shard. See data.h.
 *
 * Order of work (each step ends in an agreement, so no rank is ever left
 * waiting in a collective another rank skipped):
 *   1. metadata: open with the serial driver, check links, types, layout,
 *      filters, ranks and shapes, and the byte count with checked products;
 *   2. plan: rows of this rank from the virtual-shard partition;
 *   3. allocate x and y;
 *   4. read: reopen with MPI-IO, hyperslab of our rows, in blocks;
 *   5. values: NaN/Inf in X or y, label domain for the task.
 * This module does not standardise, shuffle or batch. */
#include "ddptrain/data.h"
#include "ddptrain/common.h"
#include "ddptrain/h5safe.h"
#include "ddptrain/rng.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rows per read call: keeps each MPI-IO request well under 2 GiB. */
#define READ_BLOCK_BYTES ((uint64_t)128 << 20)

typedef struct file_meta {
    int64_t n_rows, n_features;
    ddp_h5_dsinfo x_info, y_info;
} file_meta;

static int check_metadata(const ddp_data_spec *spec, file_meta *m, char *err);

int ddp_data_inspect(const ddp_data_spec *spec, int64_t *n_rows, int64_t *n_features, char *err)
{
    file_meta m;
    memset(&m, 0, sizeof m);
    int rc = check_metadata(spec, &m, err);
    *n_rows = m.n_rows;
    *n_features = m.n_features;
    return rc;
}

static int check_metadata(const ddp_data_spec *spec, file_meta *m, char *err)
{
    hid_t file = -1, xd = -1, yd = -1;
    int rc = ddp_h5_open_ro(spec->path, &file, err);
    if (rc != DDP_OK) return rc;
    rc = ddp_h5_open_dataset(file, spec->path, spec->features_name, &xd, &m->x_info, err);
    if (rc != DDP_OK) goto done;
    if (spec->labels_name) {
        rc = ddp_h5_open_dataset(file, spec->path, spec->labels_name, &yd, &m->y_info, err);
        if (rc != DDP_OK) goto done;
    } else { /* no labels (predict): y is all zeros */
        m->y_info.n_dims = 1;
        m->y_info.dims[0] = m->x_info.n_dims > 0 ? m->x_info.dims[0] : 0;
        snprintf(m->y_info.dtype, sizeof m->y_info.dtype, "none");
    }
    rc = DDP_EXIT_USAGE;
    if (m->x_info.n_dims != 2) {
        ddp_errf(err, "%s:%s: features must be 2-D [n_rows, n_features] but the dataset is %d-D; reshape it "
                 "(one row per sample) or pick another with --features", spec->path, spec->features_name,
                 m->x_info.n_dims);
        goto done;
    }
    if (m->y_info.n_dims != 1) {
        ddp_errf(err, "%s:%s: labels must be 1-D [n_rows] but the dataset is %d-D; store one label per row "
                 "or pick another with --labels", spec->path, spec->labels_name, m->y_info.n_dims);
        goto done;
    }
    hsize_t rows = m->x_info.dims[0], cols = m->x_info.dims[1];
    if (rows != m->y_info.dims[0]) {
        ddp_errf(err, "%s: %s has %llu rows but %s has %llu; features and labels must have the same "
                 "number of rows", spec->path, spec->features_name, (unsigned long long)rows, spec->labels_name,
                 (unsigned long long)m->y_info.dims[0]);
        goto done;
    }
    if (rows == 0 || cols == 0) {
        ddp_errf(err, "%s:%s: has shape [%llu, %llu]; a dataset needs at least one row and one feature",
                 spec->path, spec->features_name, (unsigned long long)rows, (unsigned long long)cols);
        goto done;
    }
    uint64_t x_disk = 0, x_mem = 0;
    if (rows > (hsize_t)INT64_MAX || cols > (hsize_t)INT32_MAX ||
        ddp_mul_u64(rows, cols, &x_mem) != 0 || ddp_mul_u64(x_mem, m->x_info.type_bytes, &x_disk) != 0 ||
        ddp_mul_u64(x_mem, sizeof(float), &x_mem) != 0 || x_disk > (UINT64_MAX >> 1)) {
        ddp_errf(err, "%s:%s: shape [%llu, %llu] is impossibly large (its byte count overflows 64 bits); "
                 "the file is damaged or crafted", spec->path, spec->features_name,
                 (unsigned long long)rows, (unsigned long long)cols);
        goto done;
    }
    m->n_rows = (int64_t)rows;
    m->n_features = (int64_t)cols;
    rc = DDP_OK;
done:
    if (yd >= 0) H5Dclose(yd);
    if (xd >= 0) H5Dclose(xd);
    if (file >= 0) H5Fclose(file);
    return rc;
}

/* Read rows [row0, row0+n) of a 1-D or 2-D dataset into float32 `out`, in
 * blocks, independent MPI-IO transfers (so ranks may issue different numbers
 * of reads). HDF5 converts the on-disk type to float32. */
static int read_rows(hid_t dset, int n_dims, int64_t row0, int64_t n, int64_t n_cols, float *out,
                     const char *path, const char *name, char *err)
{
    hid_t fspace = H5Dget_space(dset), dxpl = H5Pcreate(H5P_DATASET_XFER);
    int rc = DDP_OK;
    H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_INDEPENDENT);
    uint64_t row_bytes = (uint64_t)n_cols * sizeof(float);
    int64_t block = (int64_t)(READ_BLOCK_BYTES / row_bytes);
    if (block < 1) block = 1;
    for (int64_t done = 0; done < n; done += block) {
        int64_t cnt = n - done < block ? n - done : block;
        hsize_t start[2] = {(hsize_t)(row0 + done), 0}, count[2] = {(hsize_t)cnt, (hsize_t)n_cols};
        hid_t mspace = H5Screate_simple(n_dims, count, NULL);
        herr_t hr = H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL);
        if (hr >= 0) hr = H5Dread(dset, H5T_NATIVE_FLOAT, mspace, fspace, dxpl, out + done * n_cols);
        H5Sclose(mspace);
        if (hr < 0) {
            ddp_errf(err, "%s:%s: read of rows %lld..%lld failed (truncated or damaged file?); check it "
                     "with h5dump -d %s %s", path, name, (long long)(row0 + done),
                     (long long)(row0 + done + cnt - 1), name, path);
            rc = DDP_EXIT_USAGE;
            break;
        }
    }
    H5Pclose(dxpl);
    H5Sclose(fspace);
    return rc;
}

static int read_shard(const ddp_comm *comm, const ddp_data_spec *spec, ddp_dataset *ds, char *err)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_mpio(fapl, comm->world, MPI_INFO_NULL);
    H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
    hid_t file = H5Fopen(spec->path, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    if (file < 0) {
        ddp_errf(err, "%s: parallel open (MPI-IO) failed; is the file on a file system every rank can read?",
                 spec->path);
        return DDP_EXIT_IO;
    }
    int rc = DDP_EXIT_IO;
    hid_t xd = H5Dopen2(file, spec->features_name, H5P_DEFAULT);
    hid_t yd = spec->labels_name ? H5Dopen2(file, spec->labels_name, H5P_DEFAULT) : -1;
    if (xd < 0 || (spec->labels_name && yd < 0)) {
        ddp_errf(err, "%s: the datasets changed between validation and reading", spec->path);
        goto done;
    }
    rc = read_rows(xd, 2, ds->plan.row_begin, ds->n_local, ds->n_features, ds->x, spec->path,
                   spec->features_name, err);
    if (rc == DDP_OK && yd >= 0)
        rc = read_rows(yd, 1, ds->plan.row_begin, ds->n_local, 1, ds->y, spec->path, spec->labels_name, err);
done:
    if (yd >= 0) H5Dclose(yd);
    if (xd >= 0) H5Dclose(xd);
    H5Fclose(file); /* collective with the MPI-IO driver: every rank reaches it */
    return rc;
}

int64_t ddp_data_first_nonfinite(const float *x, int64_t n_rows, int64_t n_features, int64_t *column)
{
    for (int64_t i = 0; i < n_rows; i++) {
        const float *row = x + i * n_features;
        float acc = 0.0f;
        for (int64_t j = 0; j < n_features; j++) acc += row[j] * 0.0f; /* NaN iff any is NaN/Inf */
        if (acc != acc) {
            for (int64_t j = 0; j < n_features; j++)
                if (!isfinite(row[j])) {
                    if (column) *column = j;
                    return i;
                }
        }
    }
    return -1;
}

int64_t ddp_data_first_bad_label(const float *y, int64_t n_rows, ddp_task task, int64_t n_classes, double *bad)
{
    for (int64_t i = 0; i < n_rows; i++) {
        float v = y[i];
        int ok = 1;
        if (task == DDP_TASK_LOGISTIC) ok = (v == 0.0f || v == 1.0f);
        else if (task == DDP_TASK_SOFTMAX)
            ok = v >= 0.0f && v == floorf(v) && (n_classes == 0 || v < (float)n_classes);
        if (!ok) {
            if (bad) *bad = v;
            return i;
        }
    }
    return -1;
}

static int check_values(const ddp_data_spec *spec, ddp_dataset *ds, char *err)
{
    int64_t col = 0;
    int64_t r = ddp_data_first_nonfinite(ds->x, ds->n_local, ds->n_features, &col);
    if (r >= 0) {
        float v = ds->x[r * ds->n_features + col];
        ddp_errf(err, "%s:%s: %s at row %lld, column %lld (first bad row); clean or impute the data%s",
                 spec->path, spec->features_name, isnan(v) ? "NaN" : "Inf", (long long)(ds->plan.row_begin + r),
                 (long long)col, ds->x_dtype[5] == '6' ? " (a float64 beyond float32 range reads as Inf)" : "");
        return DDP_EXIT_USAGE;
    }
    if (!spec->labels_name) return DDP_OK;
    r = ddp_data_first_nonfinite(ds->y, ds->n_local, 1, NULL);
    if (r >= 0) {
        ddp_errf(err, "%s:%s: %s label at row %lld (first bad row); clean the labels", spec->path,
                 spec->labels_name, isnan(ds->y[r]) ? "NaN" : "Inf", (long long)(ds->plan.row_begin + r));
        return DDP_EXIT_USAGE;
    }
    double bad = 0;
    r = ddp_data_first_bad_label(ds->y, ds->n_local, spec->task, spec->n_classes, &bad);
    if (r >= 0) {
        long long row = (long long)(ds->plan.row_begin + r);
        if (spec->task == DDP_TASK_LOGISTIC)
            ddp_errf(err, "%s:%s: label %g at row %lld; --model logistic needs labels 0 or 1 (for more classes "
                     "use --model softmax)", spec->path, spec->labels_name, bad, row);
        else if (bad < 0 || bad != floor(bad))
            ddp_errf(err, "%s:%s: label %g at row %lld is not a class id; --model softmax needs integer "
                     "labels 0..C-1 (for real-valued targets use --model linear)", spec->path,
                     spec->labels_name, bad, row);
        else
            ddp_errf(err, "%s:%s: class id %g at row %lld is not below --classes %lld; raise --classes or "
                     "omit it to infer", spec->path, spec->labels_name, bad, row, (long long)spec->n_classes);
        return DDP_EXIT_USAGE;
    }
    return DDP_OK;
}

/* "1.50 GB", "68.0 KB" */
static void format_bytes(uint64_t n, char *out, size_t out_bytes)
{
    const char *units[] = {"B", "KB", "MB", "GB", "TB"};
    double v = (double)n;
    int u = 0;
    while (v >= 1000.0 && u < 4) {
        v /= 1000.0;
        u++;
    }
    snprintf(out, out_bytes, u ? "%.2f %s" : "%.0f %s", v, units[u]);
}

void ddp_data_free(ddp_dataset *ds)
{
    ddp_big_free(ds->x, ds->x_bytes);
    ddp_big_free(ds->y, (size_t)ds->n_local * sizeof(float));
    ds->x = ds->y = NULL;
}

int ddp_data_load(const ddp_comm *comm, const ddp_data_spec *spec, ddp_dataset *ds, char *err)
{
    memset(ds, 0, sizeof *ds);
    file_meta m;
    memset(&m, 0, sizeof m);
    double t0 = ddp_now();

    /* 1. metadata, checked by every rank on its own view of the file */
    int rc = check_metadata(spec, &m, err);
    rc = ddp_comm_agree(comm, rc, err);
    if (rc != DDP_OK) return rc;
    /* every rank must see the same file: compare with rank 0's shape, and let
     * a rank that differs say so with its own path */
    int64_t shape0[2] = {m.n_rows, m.n_features};
    ddp_comm_bcast(comm, shape0, sizeof shape0, 0);
    rc = DDP_OK;
    if (shape0[0] != m.n_rows || shape0[1] != m.n_features) {
        ddp_errf(err, "%s:%s is [%lld, %lld] on this rank but [%lld, %lld] on rank 0; every rank must read the "
                 "same file (a shared file system, not node-local copies that differ)", spec->path,
                 spec->features_name, (long long)m.n_rows, (long long)m.n_features, (long long)shape0[0],
                 (long long)shape0[1]);
        rc = DDP_EXIT_USAGE;
    }
    rc = ddp_comm_agree(comm, rc, err);
    if (rc != DDP_OK) return rc;
    ds->n_rows = m.n_rows;
    ds->n_features = m.n_features;
    snprintf(ds->x_dtype, sizeof ds->x_dtype, "%s", m.x_info.dtype);
    snprintf(ds->y_dtype, sizeof ds->y_dtype, "%s", m.y_info.dtype);

    /* 2. plan: the same arithmetic on every rank, so the same verdict */
    rc = ddp_sampler_plan(ds->n_rows, spec->n_vshards, comm->rank, comm->size, &ds->plan, err);
    if (rc != DDP_OK) {
        char tmp[DDP_ERR_LEN];
        snprintf(tmp, sizeof tmp, "%s", err);
        ddp_errf(err, "%s:%s: %s", spec->path, spec->features_name, tmp);
    }
    rc = ddp_comm_agree(comm, rc, err);
    if (rc != DDP_OK) return rc;
    ds->n_local = ds->plan.row_end - ds->plan.row_begin;

    /* 3. allocate (sizes checked in step 1 for the whole file), after checking
     * the shard fits this rank's share of memory: being refused with the
     * numbers beats being killed by the OOM killer half-way through a read. */
    size_t x_bytes = 0;
    {
        uint64_t need = ((uint64_t)ds->n_local * (uint64_t)ds->n_features + (uint64_t)ds->n_local) * sizeof(float);
        uint64_t avail = spec->memory_limit;
        int local = comm->local_size > 0 ? comm->local_size : 1;
        if (avail == 0) avail = ddp_data_available_memory() / (uint64_t)local;
        rc = DDP_OK;
        if (avail > 0 && need > avail) {
            char need_s[32], avail_s[32];
            format_bytes(need, need_s, sizeof need_s);
            format_bytes(avail, avail_s, sizeof avail_s);
            ddp_errf(err, "%s: the shard of %lld rows x %lld features needs %s but this rank may use %s (%s); use "
                     "more ranks or nodes so each shard is smaller%s", spec->path, (long long)ds->n_local,
                     (long long)ds->n_features, need_s, avail_s,
                     spec->memory_limit ? "--memory-limit" : "available memory on the node divided by its ranks",
                     spec->memory_limit ? ", or raise --memory-limit" : "");
            rc = DDP_EXIT_MEMORY;
        }
        rc = ddp_comm_agree(comm, rc, err);
        if (rc != DDP_OK) return rc;
    }
    if (ddp_mul_size((size_t)ds->n_local, (size_t)ds->n_features * sizeof(float), &x_bytes) == 0) {
        ds->x = ddp_big_alloc(x_bytes);
        ds->x_bytes = x_bytes;
        ds->y = ddp_big_alloc((size_t)ds->n_local * sizeof(float));
    }
    rc = (ds->x && ds->y) ? DDP_OK : DDP_EXIT_MEMORY;
    if (rc != DDP_OK)
        ddp_errf(err, "%s: cannot allocate %.2f GB for %lld rows x %lld features; use more ranks (or nodes) "
                 "so each shard fits", spec->path, (double)x_bytes / 1e9, (long long)ds->n_local,
                 (long long)ds->n_features);
    rc = ddp_comm_agree(comm, rc, err);
    if (rc != DDP_OK) goto fail;

    /* 4. read our rows; the parallel open and close are collective */
    double t_read = ddp_now();
    ds->meta_seconds = t_read - t0;
    rc = read_shard(comm, spec, ds, err);
    ds->read_seconds = ddp_now() - t_read;
    ds->bytes_read = (uint64_t)x_bytes + (uint64_t)ds->n_local * sizeof(float);
    rc = ddp_comm_agree(comm, rc, err);
    if (rc != DDP_OK) goto fail;

    /* 5. values; softmax without --classes infers C = max label + 1 over all ranks */
    double t_check = ddp_now();
    rc = check_values(spec, ds, err);
    ds->check_seconds = ddp_now() - t_check;
    rc = ddp_comm_agree(comm, rc, err);
    if (rc != DDP_OK) goto fail;
    if (spec->task == DDP_TASK_SOFTMAX) {
        int64_t max_label = 0;
        for (int64_t i = 0; i < ds->n_local; i++)
            if ((int64_t)ds->y[i] > max_label) max_label = (int64_t)ds->y[i];
        ddp_comm_max_i64(comm, &max_label, 1);
        ds->n_classes = spec->n_classes ? spec->n_classes : max_label + 1;
        if (ds->n_classes < 2) ds->n_classes = 2;
    } else if (spec->task == DDP_TASK_LOGISTIC) {
        ds->n_classes = 2;
    }
    ds->load_seconds = ddp_now() - t0;
    return DDP_OK;
fail:
    ddp_data_free(ds);
    return rc;
}

uint64_t ddp_data_checksum(const float *x, const float *y, int64_t first_row, int64_t n_rows, int64_t n_features)
{
    uint64_t total = 0;
    for (int64_t i = 0; i < n_rows; i++) {
        const float *row = x + i * n_features;
        uint64_t h = ddp_mix64((uint64_t)(first_row + i) + UINT64_C(0x5bd1e995));
        for (int64_t j = 0; j < n_features; j++) {
            uint32_t bits;
            memcpy(&bits, &row[j], sizeof bits);
            h = (h ^ bits) * UINT64_C(0x100000001b3) + (uint64_t)j;
        }
        uint32_t ybits;
        memcpy(&ybits, &y[i], sizeof ybits);
        total += ddp_mix64(h ^ ((uint64_t)ybits << 32));
    }
    return total;
}

/* "MemAvailable:  123456 kB" from /proc/meminfo, in bytes; 0 if absent. */
static uint64_t meminfo_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[256];
    unsigned long long kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) break;
    fclose(f);
    return (uint64_t)kb * 1024;
}

/* A number from a cgroup file ("max" or missing: 0 = no limit). */
static uint64_t read_u64_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    unsigned long long v = 0;
    int ok = fscanf(f, "%llu", &v) == 1;
    fclose(f);
    return ok ? (uint64_t)v : 0;
}

uint64_t ddp_data_available_memory(void)
{
    uint64_t avail = meminfo_available();
    uint64_t limit = read_u64_file("/sys/fs/cgroup/memory.max"); /* cgroup v2 */
    uint64_t usage = read_u64_file("/sys/fs/cgroup/memory.current");
    if (limit == 0) { /* cgroup v1 */
        limit = read_u64_file("/sys/fs/cgroup/memory/memory.limit_in_bytes");
        usage = read_u64_file("/sys/fs/cgroup/memory/memory.usage_in_bytes");
        if (limit >= (UINT64_C(1) << 60)) limit = 0; /* "unlimited" */
    }
    if (limit > 0) {
        uint64_t left = limit > usage ? limit - usage : 0;
        if (avail == 0 || left < avail) avail = left;
    }
    return avail;
}
