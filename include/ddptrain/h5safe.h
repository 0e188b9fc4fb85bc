/* h5safe.h — opening HDF5 files that ddptrain did not write, without
 * trusting them. libhdf5 1.10 will follow soft and external links, read any
 * host file a dataset's external storage names, load filter plugins and
 * allocate whatever a header claims; so before any read we check: the path
 * is hard links only, the object is a dataset, its type is a plain number,
 * its layout is contiguous or chunked (no external storage, no virtual
 * dataset), its chunks are a sane size and its filters are on a whitelist.
 * Plugin loading is switched off at start-up.
 *
 * These functions open files with the serial (sec2) driver; data.c re-opens
 * with MPI-IO once every rank has agreed the file is sound. */
#ifndef DDPTRAIN_H5SAFE_H
#define DDPTRAIN_H5SAFE_H

#include <hdf5.h>
#include <stdint.h>

#define DDP_H5_MAX_DIMS 8
/* Largest chunk we let the library allocate for one read. */
#define DDP_H5_MAX_CHUNK_BYTES ((uint64_t)256 << 20)

typedef struct ddp_h5_dsinfo {
    int n_dims;
    hsize_t dims[DDP_H5_MAX_DIMS];
    H5T_class_t type_class; /* H5T_FLOAT or H5T_INTEGER once accepted */
    size_t type_bytes;      /* bytes per element on disk */
    int is_signed;
    char dtype[24];         /* "float32", "int64", ... or the class name */
    H5D_layout_t layout;
    int n_chunk_dims;
    hsize_t chunk[DDP_H5_MAX_DIMS];
    char filters[96];       /* "gzip(4)+shuffle" or "none" */
} ddp_h5_dsinfo;

/* Once per process, before any other HDF5 call: silence the library's own
 * error printing (we print one message) and disable plugin loading. */
void ddp_h5_init(void);

/* Open read-only after checking the file exists, is a regular readable file
 * and is HDF5. DDP_EXIT_USAGE with a message otherwise. */
int ddp_h5_open_ro(const char *path, hid_t *file, char *err);

/* Open dataset `name` of `file` (named `path` in messages) after checking
 * every component of the name is a hard link; describe it into *info and
 * refuse anything unsafe (see above). On success the caller closes *dset. */
int ddp_h5_open_dataset(hid_t file, const char *path, const char *name, hid_t *dset,
                        ddp_h5_dsinfo *info, char *err);

/* Describe and check an open dataset (used by open_dataset and by `info`,
 * which lists refused datasets with the reason instead of failing). */
int ddp_h5_check_dataset(hid_t dset, const char *path, const char *name, ddp_h5_dsinfo *info,
                         char *err);

/* Check that every component of `name` is a hard link to an existing object. */
int ddp_h5_check_links(hid_t file, const char *path, const char *name, char *err);

/* Writing helpers for the files ddptrain makes (gen, model files): scalar
 * root attributes. Return 0 or -1. */
int ddp_h5_write_attr_str(hid_t obj, const char *name, const char *value);
int ddp_h5_write_attr_i64(hid_t obj, const char *name, int64_t value);
int ddp_h5_write_attr_f64(hid_t obj, const char *name, double value);

/* "[1000, 20]" */
void ddp_h5_format_dims(const ddp_h5_dsinfo *info, char *buf, size_t buf_bytes);

#endif
