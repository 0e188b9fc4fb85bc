/* h5safe.c — distrustful opening of HDF5 files. See h5safe.h for the why. */
#include "ddptrain/h5safe.h"
#include "ddptrain/common.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void ddp_h5_init(void)
{
    H5open();
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    H5PLset_loading_state(0);
}

int ddp_h5_open_ro(const char *path, hid_t *file, char *err)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT)
            ddp_errf(err, "%s: no such file; check the path (make one with 'ddptrain gen' or 'ddptrain convert')", path);
        else
            ddp_errf(err, "%s: cannot access: %s", path, strerror(errno));
        return DDP_EXIT_USAGE;
    }
    if (!S_ISREG(st.st_mode)) {
        ddp_errf(err, "%s: not a regular file; give the path of an HDF5 file", path);
        return DDP_EXIT_USAGE;
    }
    if (access(path, R_OK) != 0) {
        ddp_errf(err, "%s: not readable: %s; fix its permissions", path, strerror(errno));
        return DDP_EXIT_USAGE;
    }
    htri_t is_h5 = H5Fis_hdf5(path);
    if (is_h5 <= 0) {
        ddp_errf(err, "%s: not an HDF5 file (%lld bytes); convert text data with 'ddptrain convert'",
                 path, (long long)st.st_size);
        return DDP_EXIT_USAGE;
    }
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    if (f < 0) {
        ddp_errf(err, "%s: HDF5 cannot open it (damaged or truncated?); check with h5dump -H %s", path, path);
        return DDP_EXIT_USAGE;
    }
    *file = f;
    return DDP_OK;
}

int ddp_h5_check_links(hid_t file, const char *path, const char *name, char *err)
{
    char partial[1024];
    size_t n = strlen(name);
    if (n == 0 || n >= sizeof partial) {
        ddp_errf(err, "%s: dataset name '%s' is empty or too long", path, name);
        return DDP_EXIT_USAGE;
    }
    /* Check "/a", "/a/b", "/a/b/c" in turn: each must be a hard link. */
    size_t i = 0;
    while (i < n) {
        while (i < n && name[i] == '/') i++;
        if (i >= n) break;
        while (i < n && name[i] != '/') i++;
        memcpy(partial, name, i);
        partial[i] = '\0';
        htri_t exists = H5Lexists(file, partial, H5P_DEFAULT);
        if (exists <= 0) {
            ddp_errf(err, "%s: no dataset '%s' ('%s' does not exist); list the file with 'ddptrain info %s' "
                     "and pick one with --features/--labels", path, name, partial, path);
            return DDP_EXIT_USAGE;
        }
        H5L_info_t linfo;
        if (H5Lget_info(file, partial, &linfo, H5P_DEFAULT) < 0) {
            ddp_errf(err, "%s: cannot read link '%s'", path, partial);
            return DDP_EXIT_USAGE;
        }
        if (linfo.type != H5L_TYPE_HARD) {
            ddp_errf(err, "%s: '%s' is %s link; ddptrain follows hard links only (links can make the "
                     "library read other files): copy the data into this file (h5copy)",
                     path, partial, linfo.type == H5L_TYPE_SOFT ? "a soft" :
                     linfo.type == H5L_TYPE_EXTERNAL ? "an external" : "a user-defined");
            return DDP_EXIT_USAGE;
        }
    }
    return DDP_OK;
}

static const char *class_name(H5T_class_t c)
{
    switch (c) {
    case H5T_INTEGER: return "integer";
    case H5T_FLOAT: return "float";
    case H5T_TIME: return "time";
    case H5T_STRING: return "string";
    case H5T_BITFIELD: return "bitfield";
    case H5T_OPAQUE: return "opaque";
    case H5T_COMPOUND: return "compound";
    case H5T_REFERENCE: return "reference";
    case H5T_ENUM: return "enum";
    case H5T_VLEN: return "variable-length";
    case H5T_ARRAY: return "array";
    default: return "unknown";
    }
}

static int describe_type(hid_t dset, const char *path, const char *name, ddp_h5_dsinfo *info, char *err)
{
    hid_t t = H5Dget_type(dset);
    if (t < 0) {
        ddp_errf(err, "%s:%s: cannot read the datatype", path, name);
        return DDP_EXIT_USAGE;
    }
    int rc = DDP_OK;
    info->type_class = H5Tget_class(t);
    info->type_bytes = H5Tget_size(t);
    snprintf(info->dtype, sizeof info->dtype, "%s", class_name(info->type_class));
    if (info->type_class == H5T_FLOAT) {
        size_t prec = H5Tget_precision(t);
        if ((info->type_bytes == 4 && prec == 32) || (info->type_bytes == 8 && prec == 64)) {
            snprintf(info->dtype, sizeof info->dtype, "float%zu", info->type_bytes * 8);
        } else {
            snprintf(info->dtype, sizeof info->dtype, "float(%zu bytes)", info->type_bytes);
            ddp_errf(err, "%s:%s: %zu-byte floating point with %zu-bit precision is not supported; store "
                     "float32 or float64", path, name, info->type_bytes, prec);
            rc = DDP_EXIT_USAGE;
        }
    } else if (info->type_class == H5T_INTEGER) {
        info->is_signed = H5Tget_sign(t) == H5T_SGN_2;
        size_t b = info->type_bytes;
        if (b == 1 || b == 2 || b == 4 || b == 8) {
            snprintf(info->dtype, sizeof info->dtype, "%sint%zu", info->is_signed ? "" : "u", b * 8);
        } else {
            ddp_errf(err, "%s:%s: %zu-byte integers are not supported; store int32 or float32", path, name, b);
            rc = DDP_EXIT_USAGE;
        }
    } else {
        ddp_errf(err, "%s:%s: datatype is %s, not numeric; ddptrain reads float32/float64 (or integer) "
                 "datasets: convert it (e.g. with numpy: f['%s'] = arr.astype('float32'))",
                 path, name, info->dtype, name);
        rc = DDP_EXIT_USAGE;
    }
    H5Tclose(t);
    return rc;
}

static int describe_space(hid_t dset, const char *path, const char *name, ddp_h5_dsinfo *info, char *err)
{
    hid_t s = H5Dget_space(dset);
    if (s < 0) {
        ddp_errf(err, "%s:%s: cannot read the dataspace", path, name);
        return DDP_EXIT_USAGE;
    }
    int rc = DDP_OK;
    H5S_class_t sc = H5Sget_simple_extent_type(s);
    int nd = H5Sget_simple_extent_ndims(s);
    if (sc != H5S_SIMPLE || nd < 1 || nd > DDP_H5_MAX_DIMS) {
        info->n_dims = nd < 0 ? 0 : nd;
        ddp_errf(err, "%s:%s: is a %s dataset; ddptrain needs an array (1-D labels, 2-D features)", path,
                 name, sc == H5S_SCALAR ? "scalar" : sc == H5S_NULL ? "empty (null)" : "high-rank");
        rc = DDP_EXIT_USAGE;
    } else {
        info->n_dims = nd;
        hsize_t maxdims[DDP_H5_MAX_DIMS];
        H5Sget_simple_extent_dims(s, info->dims, maxdims);
        /* A current size above a fixed maximum is impossible in a file the
         * library wrote: the dataspace message is damaged (HDF5 1.10 does
         * not check it, and reads whatever the header claims). */
        for (int d = 0; d < nd; d++) {
            if (maxdims[d] != H5S_UNLIMITED && info->dims[d] > maxdims[d]) {
                ddp_errf(err, "%s:%s: damaged dataspace: dimension %d is %llu but its maximum is %llu",
                         path, name, d, (unsigned long long)info->dims[d], (unsigned long long)maxdims[d]);
                rc = DDP_EXIT_USAGE;
                break;
            }
        }
    }
    H5Sclose(s);
    return rc;
}

static int describe_layout(hid_t dset, const char *path, const char *name, ddp_h5_dsinfo *info, char *err)
{
    hid_t dcpl = H5Dget_create_plist(dset);
    if (dcpl < 0) {
        ddp_errf(err, "%s:%s: cannot read the creation properties", path, name);
        return DDP_EXIT_USAGE;
    }
    int rc = DDP_OK;
    snprintf(info->filters, sizeof info->filters, "none");
    info->layout = H5Pget_layout(dcpl);
    int n_external = H5Pget_external_count(dcpl);
    if (info->layout == H5D_VIRTUAL) {
        ddp_errf(err, "%s:%s: is a virtual dataset (it maps other files); refused: materialise it into "
                 "one file (h5repack -l CONTI)", path, name);
        rc = DDP_EXIT_USAGE;
        goto done;
    }
    if (n_external != 0) {
        ddp_errf(err, "%s:%s: uses external storage (its bytes live in %d other file(s)); refused, since "
                 "that can make the library read any host file: rewrite it with h5repack -l CONTI",
                 path, name, n_external);
        rc = DDP_EXIT_USAGE;
        goto done;
    }
    if (info->layout != H5D_CONTIGUOUS && info->layout != H5D_CHUNKED) {
        ddp_errf(err, "%s:%s: layout %s is not supported; use contiguous or chunked (h5repack -l CONTI)",
                 path, name, info->layout == H5D_COMPACT ? "compact" : "unknown");
        rc = DDP_EXIT_USAGE;
        goto done;
    }
    if (info->layout == H5D_CHUNKED) {
        int nc = H5Pget_chunk(dcpl, DDP_H5_MAX_DIMS, info->chunk);
        info->n_chunk_dims = nc < 0 ? 0 : nc;
        uint64_t chunk_bytes = info->type_bytes ? info->type_bytes : 1;
        for (int d = 0; d < info->n_chunk_dims; d++) {
            if (info->chunk[d] == 0 || ddp_mul_u64(chunk_bytes, info->chunk[d], &chunk_bytes) != 0) {
                chunk_bytes = UINT64_MAX;
                break;
            }
        }
        /* HDF5 refuses to create a chunk larger than a fixed maximum
         * dimension, and 1.10.8 overreads its chunk buffer when a damaged
         * header claims one (H5VM_memcpyvv): refuse it here. */
        hid_t sp = H5Dget_space(dset);
        hsize_t maxdims[DDP_H5_MAX_DIMS];
        int nd = sp < 0 ? -1 : H5Sget_simple_extent_dims(sp, NULL, maxdims);
        if (sp >= 0) H5Sclose(sp);
        int bad_chunk = nc >= 1 && nd != nc;
        for (int d = 0; !bad_chunk && d < nc && d < nd; d++)
            bad_chunk = maxdims[d] != H5S_UNLIMITED && info->chunk[d] > maxdims[d];
        if (bad_chunk) {
            ddp_errf(err, "%s:%s: damaged chunk layout: chunks of rank %d or larger than the dataset's "
                     "fixed maximum size", path, name, nc);
            rc = DDP_EXIT_USAGE;
            goto done;
        }
        if (nc < 1 || chunk_bytes > DDP_H5_MAX_CHUNK_BYTES) {
            ddp_errf(err, "%s:%s: chunk size is %s; ddptrain accepts chunks up to %llu MiB: rechunk "
                     "(h5repack -l CHUNK=...)", path, name, nc < 1 ? "unreadable" : "too large",
                     (unsigned long long)(DDP_H5_MAX_CHUNK_BYTES >> 20));
            rc = DDP_EXIT_USAGE;
            goto done;
        }
    }
    int n_filters = H5Pget_nfilters(dcpl);
    size_t used = 0;
    for (int i = 0; i < n_filters; i++) {
        unsigned flags = 0, cd[8] = {0}, config = 0;
        size_t n_cd = 8;
        char fname[64] = "";
        H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &flags, &n_cd, cd, sizeof fname, fname, &config);
        const char *label = NULL;
        char level[16] = "";
        if (id == H5Z_FILTER_DEFLATE) {
            label = "gzip";
            snprintf(level, sizeof level, "(%u)", n_cd > 0 ? cd[0] : 0);
        } else if (id == H5Z_FILTER_SHUFFLE) {
            label = "shuffle";
        } else if (id == H5Z_FILTER_FLETCHER32) {
            label = "fletcher32";
        } else {
            ddp_errf(err, "%s:%s: filter %d ('%s') is not allowed; ddptrain decodes only gzip, shuffle and "
                     "fletcher32 (plugins are disabled): rewrite with h5repack -f GZIP=4",
                     path, name, (int)id, fname);
            rc = DDP_EXIT_USAGE;
            goto done;
        }
        if (H5Zfilter_avail(id) <= 0) {
            ddp_errf(err, "%s:%s: filter %s is not available in this HDF5 build; rewrite with h5repack -f NONE",
                     path, name, label);
            rc = DDP_EXIT_USAGE;
            goto done;
        }
        int w = snprintf(info->filters + used, sizeof info->filters - used, "%s%s%s", i ? "+" : "", label, level);
        if (w > 0 && (size_t)w < sizeof info->filters - used) used += (size_t)w;
    }
done:
    H5Pclose(dcpl);
    return rc;
}

int ddp_h5_check_dataset(hid_t dset, const char *path, const char *name, ddp_h5_dsinfo *info, char *err)
{
    memset(info, 0, sizeof *info);
    int rc = describe_type(dset, path, name, info, err);
    if (rc == DDP_OK) rc = describe_space(dset, path, name, info, err);
    if (rc == DDP_OK) rc = describe_layout(dset, path, name, info, err);
    return rc;
}

int ddp_h5_open_dataset(hid_t file, const char *path, const char *name, hid_t *dset,
                        ddp_h5_dsinfo *info, char *err)
{
    int rc = ddp_h5_check_links(file, path, name, err);
    if (rc != DDP_OK) return rc;
    hid_t obj = H5Oopen(file, name, H5P_DEFAULT);
    if (obj < 0) {
        ddp_errf(err, "%s: cannot open '%s' (damaged file?)", path, name);
        return DDP_EXIT_USAGE;
    }
    if (H5Iget_type(obj) != H5I_DATASET) {
        ddp_errf(err, "%s: '%s' is a group, not a dataset; list the file with 'ddptrain info %s'", path, name, path);
        H5Oclose(obj);
        return DDP_EXIT_USAGE;
    }
    rc = ddp_h5_check_dataset(obj, path, name, info, err);
    if (rc != DDP_OK) {
        H5Oclose(obj);
        return rc;
    }
    *dset = obj;
    return DDP_OK;
}

void ddp_h5_format_dims(const ddp_h5_dsinfo *info, char *buf, size_t buf_bytes)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int d = 0; d < info->n_dims && used < buf_bytes; d++) {
        int w = snprintf(buf + used, buf_bytes - used, "%s%llu", d ? ", " : "[", (unsigned long long)info->dims[d]);
        if (w < 0) break;
        used += (size_t)w;
    }
    if (used < buf_bytes) snprintf(buf + used, buf_bytes - used, info->n_dims ? "]" : "[]");
}

static int write_scalar_attr(hid_t obj, const char *name, hid_t file_type, hid_t mem_type, const void *value)
{
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t hr = a < 0 ? -1 : H5Awrite(a, mem_type, value);
    if (a >= 0) H5Aclose(a);
    H5Sclose(space);
    return hr < 0 ? -1 : 0;
}

int ddp_h5_write_attr_str(hid_t obj, const char *name, const char *value)
{
    hid_t t = H5Tcopy(H5T_C_S1); /* fixed-length: h5py reads it as bytes, C without freeing */
    H5Tset_size(t, strlen(value) + 1);
    int rc = write_scalar_attr(obj, name, t, t, value);
    H5Tclose(t);
    return rc;
}

int ddp_h5_write_attr_i64(hid_t obj, const char *name, int64_t value)
{
    return write_scalar_attr(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value);
}

int ddp_h5_write_attr_f64(hid_t obj, const char *name, double value)
{
    return write_scalar_attr(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value);
}
