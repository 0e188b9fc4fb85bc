/* gen.c — `ddptrain gen`: synthetic linear / logistic / softmax data.
 *
 * Every rank generates and writes its own contiguous block of rows with
 * collective parallel-HDF5 writes (collective so that gzip-filtered chunked
 * datasets work too). Output goes to OUT.tmp and is renamed by rank 0 once all
 * ranks agree the write succeeded, so a failed run leaves no half file.
 * Not here: reading or validating data (data.c). */
#include "ddptrain/gen.h"
#include "ddptrain/common.h"
#include "ddptrain/h5safe.h"
#include "ddptrain/rng.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WRITE_BLOCK_BYTES ((uint64_t)64 << 20)
/* Stream ids above 2^62 are reserved for parameters; rows use their index. */
#define PLANTED_STREAM (UINT64_C(1) << 62)

void ddp_gen_planted(uint64_t seed, int64_t n_features, int64_t n_out, double *w, double *b)
{
    ddp_rng rng = ddp_rng_make(seed, PLANTED_STREAM);
    double scale = 2.0 / sqrt((double)n_features); /* logits of std ~2 */
    for (int64_t i = 0; i < n_out * n_features; i++) w[i] = scale * ddp_rng_normal(&rng);
    for (int64_t k = 0; k < n_out; k++) b[k] = 0.5 * ddp_rng_normal(&rng);
}

void ddp_gen_row(uint64_t seed, int64_t row, ddp_task task, double noise, int64_t n_features, int64_t n_out,
                 const double *w, const double *b, double *x, double *y)
{
    ddp_rng rng = ddp_rng_make(seed, (uint64_t)row);
    int64_t k = 0;
    for (; k + 1 < n_features; k += 2) ddp_rng_normal2(&rng, &x[k], &x[k + 1]);
    if (k < n_features) x[k] = ddp_rng_normal(&rng);
    if (task == DDP_TASK_SOFTMAX) {
        /* Gumbel-max: argmax_c (z_c + g_c) is a draw from softmax(z). */
        int64_t best = 0;
        double best_score = -INFINITY;
        for (int64_t c = 0; c < n_out; c++) {
            double z = b[c];
            const double *wc = w + c * n_features;
            for (int64_t j = 0; j < n_features; j++) z += wc[j] * x[j];
            double u = ddp_rng_uniform(&rng);
            if (u < 1e-300) u = 1e-300;
            double score = z + noise * ddp_rng_normal(&rng) - log(-log(u) + 1e-300);
            if (score > best_score) {
                best_score = score;
                best = c;
            }
        }
        *y = (double)best;
        return;
    }
    double z = b[0];
    for (int64_t j = 0; j < n_features; j++) z += w[j] * x[j];
    z += noise * ddp_rng_normal(&rng);
    if (task == DDP_TASK_LINEAR) {
        *y = z;
    } else { /* logistic: Bernoulli(sigmoid(z)) */
        double p = 1.0 / (1.0 + exp(-z));
        *y = ddp_rng_uniform(&rng) < p ? 1.0 : 0.0;
    }
}

static hid_t make_dataset(hid_t file, const char *name, hid_t ftype, int n_dims, const hsize_t *dims,
                          const ddp_config *cfg)
{
    hid_t space = H5Screate_simple(n_dims, dims, NULL);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
    if (cfg->chunk_rows > 0) {
        hsize_t chunk[2] = {(hsize_t)cfg->chunk_rows, n_dims > 1 ? dims[1] : 1};
        if (chunk[0] > dims[0]) chunk[0] = dims[0];
        H5Pset_chunk(dcpl, n_dims, chunk);
        if (cfg->gzip_level > 0) {
            H5Pset_shuffle(dcpl);
            H5Pset_deflate(dcpl, (unsigned)cfg->gzip_level);
        }
    }
    hid_t d = H5Dcreate2(file, name, ftype, space, lcpl, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    H5Pclose(lcpl);
    H5Sclose(space);
    return d;
}

static int write_small(hid_t file, const char *name, int n_dims, const hsize_t *dims, const double *v, int is_writer)
{
    hid_t space = H5Screate_simple(n_dims, dims, NULL);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t d = H5Dcreate2(file, name, H5T_IEEE_F64LE, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    herr_t hr = d < 0 ? -1 : 0;
    if (hr >= 0) {
        /* every rank calls write (collective metadata), only rank 0 selects data */
        hid_t fspace = H5Dget_space(d);
        hid_t mspace = H5Screate_simple(n_dims, dims, NULL);
        if (!is_writer) {
            H5Sselect_none(fspace);
            H5Sselect_none(mspace);
        }
        hr = H5Dwrite(d, H5T_NATIVE_DOUBLE, mspace, fspace, H5P_DEFAULT, v);
        H5Sclose(mspace);
        H5Sclose(fspace);
        H5Dclose(d);
    }
    H5Pclose(lcpl);
    H5Sclose(space);
    return hr < 0 ? -1 : 0;
}

/* Generate and write this rank's rows [row0, row0 + n) in blocks. With
 * `collective`, every rank makes the same number of collective write calls
 * (MPI-IO); otherwise this rank writes alone through the serial driver. */
static int write_rows(const ddp_comm *comm, int collective, const ddp_config *cfg, hid_t xd, hid_t yd,
                      int64_t row0, int64_t n, int64_t n_out, const double *w, const double *b, char *err)
{
    int64_t F = cfg->n_features;
    uint64_t row_bytes = (uint64_t)F * (cfg->float64 ? 8 : 4);
    int64_t block = (int64_t)(WRITE_BLOCK_BYTES / row_bytes);
    if (block < 1) block = 1;
    if (cfg->chunk_rows > 0 && block > cfg->chunk_rows) block -= block % cfg->chunk_rows;
    int64_t n_blocks = (n + block - 1) / block;
    if (collective) ddp_comm_max_i64(comm, &n_blocks, 1);

    int64_t cap = n < block ? n : block;
    if (cap < 1) cap = 1;
    double *xbuf = malloc((size_t)cap * (size_t)F * sizeof(double));
    float *xf = cfg->float64 ? NULL : malloc((size_t)cap * (size_t)F * sizeof(float));
    double *ybuf = malloc((size_t)cap * sizeof(double));
    int rc = (xbuf && ybuf && (cfg->float64 || xf)) ? DDP_OK : DDP_EXIT_MEMORY;
    if (rc != DDP_OK) ddp_errf(err, "gen: cannot allocate a %lld-row write buffer", (long long)cap);
    /* An allocation failure on one rank must not leave the others in a collective write. */
    if (collective) rc = ddp_comm_agree(comm, rc, err);
    if (rc != DDP_OK) goto done;

    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    if (collective) H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
    hid_t xspace = H5Dget_space(xd), yspace = H5Dget_space(yd);
    for (int64_t k = 0; k < n_blocks; k++) {
        int64_t start = k * block;
        int64_t cnt = start >= n ? 0 : (n - start < block ? n - start : block);
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < cnt; i++)
            ddp_gen_row(cfg->seed, row0 + start + i, cfg->task, cfg->noise, F, n_out, w, b,
                        xbuf + i * F, ybuf + i);
        hsize_t fstart[2] = {(hsize_t)(row0 + start), 0}, fcount[2] = {(hsize_t)cnt, (hsize_t)F};
        hsize_t mdims[2] = {(hsize_t)(cnt > 0 ? cnt : 1), (hsize_t)F};
        hid_t xm = H5Screate_simple(2, mdims, NULL), ym = H5Screate_simple(1, mdims, NULL);
        if (cnt > 0) {
            H5Sselect_hyperslab(xspace, H5S_SELECT_SET, fstart, NULL, fcount, NULL);
            H5Sselect_hyperslab(yspace, H5S_SELECT_SET, fstart, NULL, fcount, NULL);
        } else {
            H5Sselect_none(xspace);
            H5Sselect_none(yspace);
            H5Sselect_none(xm);
            H5Sselect_none(ym);
        }
        herr_t hr;
        if (cfg->float64) {
            hr = H5Dwrite(xd, H5T_NATIVE_DOUBLE, xm, xspace, dxpl, xbuf);
        } else {
            for (int64_t i = 0; i < cnt * F; i++) xf[i] = (float)xbuf[i];
            hr = H5Dwrite(xd, H5T_NATIVE_FLOAT, xm, xspace, dxpl, xf);
        }
        if (hr >= 0) hr = H5Dwrite(yd, H5T_NATIVE_DOUBLE, ym, yspace, dxpl, ybuf);
        H5Sclose(ym);
        H5Sclose(xm);
        if (hr < 0 && rc == DDP_OK) {
            ddp_errf(err, "gen: writing rows %lld.. of %s failed (disk full? quota?)", (long long)(row0 + start),
                     cfg->out_path);
            rc = DDP_EXIT_IO; /* keep making the collective calls so no rank is stranded */
            if (!collective) break;
        }
    }
    H5Sclose(yspace);
    H5Sclose(xspace);
    H5Pclose(dxpl);
done:
    free(ybuf);
    free(xf);
    free(xbuf);
    return rc;
}

typedef struct gen_job {
    const ddp_comm *comm;
    const ddp_config *cfg;
    const char *tmp_path;
    int64_t n_out;
    const double *w, *b;
} gen_job;

/* Datasets, planted parameters and attributes; `writer` is the rank whose
 * data selections are non-empty for the small writes. */
static int create_contents(const gen_job *job, hid_t file, int writer, hid_t *xd, hid_t *yd, char *err)
{
    const ddp_config *cfg = job->cfg;
    hsize_t xdims[2] = {(hsize_t)cfg->n_rows, (hsize_t)cfg->n_features};
    *xd = make_dataset(file, cfg->features_name, cfg->float64 ? H5T_IEEE_F64LE : H5T_IEEE_F32LE, 2, xdims, cfg);
    *yd = make_dataset(file, cfg->labels_name, cfg->task == DDP_TASK_SOFTMAX ? H5T_STD_I32LE : H5T_IEEE_F32LE, 1,
                       xdims, cfg);
    if (*xd < 0 || *yd < 0) {
        ddp_errf(err, "gen: cannot create datasets %s / %s in %s (check the names)", cfg->features_name,
                 cfg->labels_name, job->tmp_path);
        return DDP_EXIT_USAGE;
    }
    hsize_t wdims[2] = {(hsize_t)job->n_out, (hsize_t)cfg->n_features};
    if (write_small(file, "/planted/weight", 2, wdims, job->w, writer) != 0 ||
        write_small(file, "/planted/bias", 1, wdims, job->b, writer) != 0) {
        ddp_errf(err, "gen: writing /planted to %s failed", job->tmp_path);
        return DDP_EXIT_IO;
    }
    if (ddp_h5_write_attr_str(file, "generator", "ddptrain gen " DDP_VERSION_STRING) != 0 ||
        ddp_h5_write_attr_str(file, "task", ddp_task_name(cfg->task)) != 0 ||
        ddp_h5_write_attr_f64(file, "seed", (double)cfg->seed) != 0 ||
        ddp_h5_write_attr_f64(file, "noise", cfg->noise) != 0) {
        ddp_errf(err, "gen: writing the root attributes of %s failed", job->tmp_path);
        return DDP_EXIT_IO;
    }
    return DDP_OK;
}

static void my_rows(const ddp_comm *comm, int64_t n_rows, int64_t *row0, int64_t *n)
{
    int64_t a = (int64_t)(((__int128)comm->rank * n_rows) / comm->size);
    int64_t z = (int64_t)(((__int128)(comm->rank + 1) * n_rows) / comm->size);
    *row0 = a;
    *n = z - a;
}

/* All ranks write at once through MPI-IO (unfiltered datasets). */
static int gen_parallel(const gen_job *job, char *err)
{
    const ddp_comm *comm = job->comm;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_mpio(fapl, comm->world, MPI_INFO_NULL);
    hid_t file = H5Fcreate(job->tmp_path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    int rc = file < 0 ? DDP_EXIT_IO : DDP_OK;
    if (rc != DDP_OK) ddp_errf(err, "gen: cannot create %s (directory missing or not writable?)", job->tmp_path);
    rc = ddp_comm_agree(comm, rc, err);
    if (rc != DDP_OK) return rc;
    hid_t xd = -1, yd = -1;
    rc = create_contents(job, file, comm->rank == 0, &xd, &yd, err); /* collective metadata: same on all ranks */
    if (rc == DDP_OK) {
        int64_t row0, n;
        my_rows(comm, job->cfg->n_rows, &row0, &n);
        rc = write_rows(comm, 1, job->cfg, xd, yd, row0, n, job->n_out, job->w, job->b, err);
    }
    if (xd >= 0) H5Dclose(xd);
    if (yd >= 0) H5Dclose(yd);
    if (H5Fclose(file) < 0 && rc == DDP_OK) {
        ddp_errf(err, "gen: closing %s failed (disk full?)", job->tmp_path);
        rc = DDP_EXIT_IO;
    }
    return ddp_comm_agree(comm, rc, err);
}

/* Filtered (gzip) datasets: Debian's HDF5 1.10 has no parallel filtered
 * writes, so ranks take turns appending their rows through the serial
 * driver; generation is still per rank, the file is the same. */
static int gen_rank_by_rank(const gen_job *job, char *err)
{
    const ddp_comm *comm = job->comm;
    int rc = DDP_OK;
    for (int turn = 0; turn < comm->size; turn++) {
        if (comm->rank == turn) {
            hid_t file = turn == 0 ? H5Fcreate(job->tmp_path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT)
                                   : H5Fopen(job->tmp_path, H5F_ACC_RDWR, H5P_DEFAULT);
            hid_t xd = -1, yd = -1;
            if (file < 0) {
                ddp_errf(err, "gen: cannot %s %s (directory missing or not writable?)", turn ? "open" : "create",
                         job->tmp_path);
                rc = DDP_EXIT_IO;
            } else if (turn == 0) {
                rc = create_contents(job, file, 1, &xd, &yd, err);
            } else {
                xd = H5Dopen2(file, job->cfg->features_name, H5P_DEFAULT);
                yd = H5Dopen2(file, job->cfg->labels_name, H5P_DEFAULT);
                if (xd < 0 || yd < 0) {
                    ddp_errf(err, "gen: cannot reopen the datasets of %s", job->tmp_path);
                    rc = DDP_EXIT_IO;
                }
            }
            if (rc == DDP_OK) {
                int64_t row0, n;
                my_rows(comm, job->cfg->n_rows, &row0, &n);
                rc = write_rows(comm, 0, job->cfg, xd, yd, row0, n, job->n_out, job->w, job->b, err);
            }
            if (xd >= 0) H5Dclose(xd);
            if (yd >= 0) H5Dclose(yd);
            if (file >= 0 && H5Fclose(file) < 0 && rc == DDP_OK) {
                ddp_errf(err, "gen: closing %s failed (disk full?)", job->tmp_path);
                rc = DDP_EXIT_IO;
            }
        }
        rc = ddp_comm_agree(comm, rc, err); /* also the token: the next rank goes after this */
        if (rc != DDP_OK) break;
    }
    return rc;
}

int ddp_gen_run(const ddp_comm *comm, const ddp_config *cfg, char *err)
{
    const int64_t F = cfg->n_features, N = cfg->n_rows;
    const int64_t n_out = cfg->task == DDP_TASK_SOFTMAX ? cfg->n_classes : 1;
    char tmp_path[4096];
    double t0 = ddp_now();
    if ((size_t)snprintf(tmp_path, sizeof tmp_path, "%s.tmp", cfg->out_path) >= sizeof tmp_path) {
        ddp_errf(err, "gen: output path too long");
        return DDP_EXIT_USAGE;
    }
    uint64_t total_bytes = 0;
    if (ddp_mul_u64((uint64_t)N, (uint64_t)F * (cfg->float64 ? 8 : 4), &total_bytes) != 0) {
        ddp_errf(err, "gen: %lld rows x %lld features overflows 64-bit byte counts", (long long)N, (long long)F);
        return DDP_EXIT_USAGE;
    }
    double *w = malloc((size_t)(n_out * F) * sizeof(double));
    double *b = malloc((size_t)n_out * sizeof(double));
    DDP_ASSERT(w && b);
    ddp_gen_planted(cfg->seed, F, n_out, w, b);

    gen_job job = {comm, cfg, tmp_path, n_out, w, b};
    int rc = cfg->gzip_level > 0 ? gen_rank_by_rank(&job, err) : gen_parallel(&job, err);
    if (rc == DDP_OK && comm->rank == 0 && rename(tmp_path, cfg->out_path) != 0) {
        ddp_errf(err, "gen: cannot rename %s to %s", tmp_path, cfg->out_path);
        rc = DDP_EXIT_IO;
    }
    rc = ddp_comm_agree(comm, rc, err);
    if (rc != DDP_OK && comm->rank == 0) unlink(tmp_path);
    if (rc == DDP_OK && comm->rank == 0 && !cfg->quiet) {
        double dt = ddp_now() - t0;
        printf("gen: %s, %lld rows x %lld features%s%s -> %s (%.2f GB of features) in %.2f s (%.2f GB/s) on "
               "%d rank(s)%s\n",
               ddp_task_name(cfg->task), (long long)N, (long long)F, cfg->float64 ? ", float64" : ", float32",
               cfg->gzip_level ? ", gzip" : "", cfg->out_path, (double)total_bytes / 1e9, dt,
               (double)total_bytes / 1e9 / dt, comm->size, cfg->gzip_level ? ", written rank by rank" : "");
    }
    free(b);
    free(w);
    return rc;
}
