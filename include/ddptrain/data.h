/* data.h — a rank's shard of an HDF5 dataset, in memory as float32.
 *
 * Loading is collective and strict: every rank checks the file's metadata
 * (h5safe), the ranks agree, each allocates and reads only its own rows with
 * parallel HDF5 hyperslab reads (MPI-IO), then checks values (NaN/Inf, label
 * domain for the task) and the ranks agree again. On failure every rank
 * returns the same status and the same message; nothing is left allocated.
 * Standardisation and batching live elsewhere (train/sampler). */
#ifndef DDPTRAIN_DATA_H
#define DDPTRAIN_DATA_H

#include "ddptrain/comm.h"
#include "ddptrain/config.h"
#include "ddptrain/sampler.h"

#include <stddef.h>
#include <stdint.h>

typedef struct ddp_data_spec {
    const char *path;          /* HDF5 file */
    const char *features_name; /* 2-D [n_rows, n_features] */
    const char *labels_name;   /* 1-D [n_rows]; NULL = no labels (y is zeros) */
    ddp_task task;             /* decides the label checks */
    int64_t n_classes;         /* softmax: 0 = infer (max label + 1) */
    int64_t n_vshards;         /* requested virtual shards */
    uint64_t memory_limit;     /* bytes this rank may use for its shard; 0 = its share of the node's
                                  available memory (MemAvailable / cgroup limit over local ranks) */
} ddp_data_spec;

typedef struct ddp_dataset {
    int64_t n_rows;     /* rows in the whole file */
    int64_t n_features;
    int64_t n_classes;  /* softmax: C; logistic: 2; linear: 0 */
    ddp_shard_plan plan;
    int64_t n_local;    /* rows held here = plan.row_end - plan.row_begin */
    float *x;           /* [n_local, n_features], row-major */
    float *y;           /* [n_local]; class ids are exact small integers */
    size_t x_bytes;     /* allocation size of x */
    char x_dtype[24];   /* on-disk types, for reports */
    char y_dtype[24];
    uint64_t bytes_read;   /* bytes delivered into x and y on this rank */
    double load_seconds;   /* this rank: all of ddp_data_load */
    double meta_seconds;   /* metadata checks + agreement */
    double read_seconds;   /* parallel open + hyperslab reads + close */
    double check_seconds;  /* NaN/Inf and label checks */
} ddp_dataset;

/* Collective. Returns the agreed status; err (DDP_ERR_LEN) holds the agreed
 * message on every rank. */
int ddp_data_load(const ddp_comm *comm, const ddp_data_spec *spec, ddp_dataset *ds, char *err);
void ddp_data_free(ddp_dataset *ds);

/* Bytes of memory this process can still count on: the smaller of
 * MemAvailable and the cgroup (v2 or v1) limit minus usage; 0 if unknown. */
uint64_t ddp_data_available_memory(void);

/* Not collective: the metadata checks of step 1 alone (serial driver), giving
 * the shape. Used by `info` and by tests. */
int ddp_data_inspect(const ddp_data_spec *spec, int64_t *n_rows, int64_t *n_features, char *err);

/* Order-independent checksum of rows: the wrapping sum over rows of a hash of
 * (global row index, the row's float32 bytes, its label). A row missing,
 * duplicated or altered changes it; the sum of per-rank checksums equals the
 * checksum of the whole file. */
uint64_t ddp_data_checksum(const float *x, const float *y, int64_t first_row, int64_t n_rows,
                           int64_t n_features);

/* Local value checks (exposed for tests): index of the first row in
 * [0, n_rows) with a non-finite feature / label, or -1. */
int64_t ddp_data_first_nonfinite(const float *x, int64_t n_rows, int64_t n_features, int64_t *column);
/* Label domain: first offending row or -1; *bad holds its value. */
int64_t ddp_data_first_bad_label(const float *y, int64_t n_rows, ddp_task task, int64_t n_classes, double *bad);

#endif
