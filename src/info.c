/* info.c — describe an HDF5 file: every link and dataset (shape, dtype,
 * layout, chunks, filters; unsafe ones listed with the reason they would be
 * refused), root attributes, a label summary, and optionally the data
 * checksum computed by a plain serial read, independent of the parallel
 * loader it is compared against. Links are listed, never followed. */
#include "ddptrain/info.h"
#include "ddptrain/checkpoint.h"
#include "ddptrain/common.h"
#include "ddptrain/data.h"
#include "ddptrain/h5safe.h"

#include <hdf5.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define INFO_BLOCK_ROWS_BYTES ((uint64_t)64 << 20)
#define MAX_CLASS_ID 4096

typedef struct visit_ctx {
    const char *path;
    FILE *out;
} visit_ctx;

static const char *layout_name(H5D_layout_t l)
{
    switch (l) {
    case H5D_CONTIGUOUS: return "contiguous";
    case H5D_CHUNKED: return "chunked";
    case H5D_COMPACT: return "compact";
    case H5D_VIRTUAL: return "virtual";
    default: return "unknown";
    }
}

static herr_t visit_link(hid_t group, const char *name, const H5L_info_t *linfo, void *op_data)
{
    visit_ctx *ctx = op_data;
    if (linfo->type == H5L_TYPE_SOFT || linfo->type == H5L_TYPE_EXTERNAL) {
        fprintf(ctx->out, "  /%-24s %s link (not followed; ddptrain refuses it)\n", name,
                linfo->type == H5L_TYPE_SOFT ? "soft" : "external");
        return 0;
    }
    if (linfo->type != H5L_TYPE_HARD) {
        fprintf(ctx->out, "  /%-24s user-defined link (not followed)\n", name);
        return 0;
    }
    hid_t obj = H5Oopen(group, name, H5P_DEFAULT);
    if (obj < 0) {
        fprintf(ctx->out, "  /%-24s (cannot open)\n", name);
        return -1;
    }
    if (H5Iget_type(obj) == H5I_GROUP) {
        fprintf(ctx->out, "  /%-24s group\n", name);
    } else if (H5Iget_type(obj) == H5I_DATASET) {
        ddp_h5_dsinfo di;
        char err[DDP_ERR_LEN] = "", dims[128];
        int rc = ddp_h5_check_dataset(obj, ctx->path, name, &di, err);
        ddp_h5_format_dims(&di, dims, sizeof dims);
        fprintf(ctx->out, "  /%-24s %-8s %-18s %s", name, di.dtype, dims, layout_name(di.layout));
        if (di.layout == H5D_CHUNKED && di.n_chunk_dims > 0) {
            fprintf(ctx->out, " chunks=");
            for (int d = 0; d < di.n_chunk_dims; d++)
                fprintf(ctx->out, "%s%llu", d ? "x" : "", (unsigned long long)di.chunk[d]);
        }
        if (rc == DDP_OK && strcmp(di.filters, "none") != 0) fprintf(ctx->out, " filters=%s", di.filters);
        fprintf(ctx->out, "\n");
        if (rc != DDP_OK) fprintf(ctx->out, "      refused: %s\n", err);
    } else {
        fprintf(ctx->out, "  /%-24s (named datatype or other object)\n", name);
    }
    H5Oclose(obj);
    return 0;
}

static herr_t print_attr(hid_t loc, const char *name, const H5A_info_t *ainfo, void *op_data)
{
    (void)ainfo;
    FILE *out = op_data;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0) return -1; /* damaged: stop the listing, the caller reports it */
    hid_t t = H5Aget_type(a), s = H5Aget_space(a);
    H5T_class_t c = H5Tget_class(t);
    hssize_t n = H5Sget_simple_extent_npoints(s);
    if (c == H5T_STRING && n == 1) {
        if (H5Tis_variable_str(t) > 0) {
            char *v = NULL;
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, H5T_VARIABLE);
            H5Tset_cset(mt, H5Tget_cset(t));
            if (H5Aread(a, mt, &v) >= 0 && v) {
                fprintf(out, "  @%-23s %.200s\n", name, v);
                H5free_memory(v);
            }
            H5Tclose(mt);
        } else {
            size_t len = H5Tget_size(t);
            if (len > 0 && len < 4096) {
                char *v = calloc(len + 1, 1);
                hid_t mt = H5Tcopy(H5T_C_S1);
                H5Tset_size(mt, len + 1);
                if (v && H5Aread(a, mt, v) >= 0) fprintf(out, "  @%-23s %.200s\n", name, v);
                H5Tclose(mt);
                free(v);
            }
        }
    } else if ((c == H5T_FLOAT || c == H5T_INTEGER) && n == 1) {
        double v = 0;
        if (H5Aread(a, H5T_NATIVE_DOUBLE, &v) >= 0) fprintf(out, "  @%-23s %.17g\n", name, v);
    } else {
        fprintf(out, "  @%-23s (%lld values)\n", name, (long long)n);
    }
    H5Sclose(s);
    H5Tclose(t);
    H5Aclose(a);
    return 0;
}

/* Read rows [r0, r0+n) of a dataset (1-D or 2-D) as float32, serially. */
static int read_block(hid_t d, int n_dims, int64_t r0, int64_t n, int64_t n_cols, float *out)
{
    hid_t fs = H5Dget_space(d);
    hsize_t start[2] = {(hsize_t)r0, 0}, count[2] = {(hsize_t)n, (hsize_t)n_cols};
    hid_t ms = H5Screate_simple(n_dims, count, NULL);
    herr_t hr = H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    if (hr >= 0) hr = H5Dread(d, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, out);
    H5Sclose(ms);
    H5Sclose(fs);
    return hr < 0 ? -1 : 0;
}

/* Labels summary and (optionally) the checksum, in one streaming pass. */
static int summarise(const ddp_config *cfg, hid_t file, int64_t n_rows, int64_t n_features, FILE *out, char *err)
{
    int rc = DDP_OK;
    hid_t xd = H5Dopen2(file, cfg->features_name, H5P_DEFAULT);
    hid_t yd = H5Dopen2(file, cfg->labels_name, H5P_DEFAULT);
    int64_t block = (int64_t)(INFO_BLOCK_ROWS_BYTES / ((uint64_t)n_features * sizeof(float)));
    if (block < 1) block = 1;
    if (block > n_rows) block = n_rows;
    float *x = cfg->checksum ? malloc((size_t)block * (size_t)n_features * sizeof(float)) : NULL;
    float *y = malloc((size_t)block * sizeof(float));
    int64_t *counts = calloc(MAX_CLASS_ID, sizeof(int64_t));
    if (xd < 0 || yd < 0 || !y || !counts || (cfg->checksum && !x)) {
        ddp_errf(err, "%s: cannot open datasets or allocate buffers for the summary", cfg->data_path);
        rc = DDP_EXIT_IO;
        goto done;
    }
    double lo = INFINITY, hi = -INFINITY, sum = 0;
    int64_t n_nonfinite = 0, max_class = -1;
    int integral = 1;
    uint64_t checksum = 0;
    for (int64_t r0 = 0; r0 < n_rows; r0 += block) {
        int64_t n = n_rows - r0 < block ? n_rows - r0 : block;
        if (read_block(yd, 1, r0, n, 1, y) != 0 || (x && read_block(xd, 2, r0, n, n_features, x) != 0)) {
            ddp_errf(err, "%s: reading rows %lld.. failed (truncated or damaged file?)", cfg->data_path, (long long)r0);
            rc = DDP_EXIT_USAGE;
            goto done;
        }
        for (int64_t i = 0; i < n; i++) {
            double v = y[i];
            if (!isfinite(v)) {
                n_nonfinite++;
                continue;
            }
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
            sum += v;
            if (v != floor(v) || v < 0 || v >= MAX_CLASS_ID) integral = 0;
            else {
                counts[(int64_t)v]++;
                if ((int64_t)v > max_class) max_class = (int64_t)v;
            }
        }
        if (x) checksum += ddp_data_checksum(x, y, r0, n, n_features);
    }
    int64_t n_ok = n_rows - n_nonfinite;
    fprintf(out, "labels %s: ", cfg->labels_name);
    if (n_ok == 0) {
        fprintf(out, "no finite values");
    } else if (integral && max_class < 100) {
        fprintf(out, "%lld classes:", (long long)(max_class + 1));
        for (int64_t c = 0; c <= max_class; c++) fprintf(out, " %lld:%lld", (long long)c, (long long)counts[c]);
    } else {
        fprintf(out, "min %.6g  mean %.6g  max %.6g", lo, sum / (double)n_ok, hi);
    }
    if (n_nonfinite) fprintf(out, "  (%lld NaN/Inf)", (long long)n_nonfinite);
    fprintf(out, "\n");
    if (x) fprintf(out, "checksum: %016" PRIx64 "  (%lld rows, order-independent; compare with 'ddptrain load --checksum')\n",
                   checksum, (long long)n_rows);
done:
    free(counts);
    free(y);
    free(x);
    if (yd >= 0) H5Dclose(yd);
    if (xd >= 0) H5Dclose(xd);
    return rc;
}

int ddp_info_run(const ddp_config *cfg, FILE *out, char *err)
{
    hid_t file = -1;
    int rc = ddp_h5_open_ro(cfg->data_path, &file, err);
    if (rc != DDP_OK) return rc;
    fprintf(out, "%s\n", cfg->data_path);
    visit_ctx ctx = {cfg->data_path, out};
    if (H5Lvisit(file, H5_INDEX_NAME, H5_ITER_INC, visit_link, &ctx) < 0 ||
        H5Aiterate2(file, H5_INDEX_NAME, H5_ITER_INC, NULL, print_attr, out) < 0) {
        /* a listing that silently stops short would pass for a smaller file */
        ddp_errf(err, "%s: HDF5 cannot list the file's objects or attributes (damaged file: a metadata checksum "
                 "or structure check failed); check with h5dump -H %s", cfg->data_path, cfg->data_path);
        H5Fclose(file);
        return DDP_EXIT_USAGE;
    }

    /* A ddptrain checkpoint: training state, and the verdict of its checksums. */
    /* either mark is enough: a damaged checkpoint must be verified (and refused), not shrugged off */
    if (H5Aexists(file, "format") > 0 || H5Lexists(file, "/model", H5P_DEFAULT) > 0) {
        for (const char *grp = "/train"; grp; grp = strcmp(grp, "/train") == 0 ? "/optimizer" : NULL) {
            if (H5Lexists(file, grp, H5P_DEFAULT) <= 0) continue;
            hid_t g = H5Gopen2(file, grp, H5P_DEFAULT);
            fprintf(out, "%s:\n", grp);
            H5Aiterate2(g, H5_INDEX_NAME, H5_ITER_INC, NULL, print_attr, out);
            H5Gclose(g);
        }
        char why[DDP_ERR_LEN] = "";
        H5Fclose(file);
        if (ddp_ckpt_verify(cfg->data_path, why) == DDP_OK) {
            fprintf(out, "checkpoint: valid (every dataset passes its checksum)\n");
            return DDP_OK;
        }
        fprintf(out, "checkpoint: INVALID: %s\n", why);
        ddp_errf(err, "%s", why);
        return DDP_EXIT_USAGE;
    }

    /* The label summary and checksum need a dataset pair that passes the loader's checks. */
    ddp_data_spec spec = {cfg->data_path, cfg->features_name, cfg->labels_name, DDP_TASK_LINEAR, 0, 1, 0};
    int64_t n_rows = 0, n_features = 0;
    char why[DDP_ERR_LEN] = "";
    int have_pair = H5Lexists(file, cfg->features_name, H5P_DEFAULT) > 0 &&
                    H5Lexists(file, cfg->labels_name, H5P_DEFAULT) > 0;
    if (have_pair && ddp_data_inspect(&spec, &n_rows, &n_features, why) == DDP_OK) {
        fprintf(out, "dataset pair %s [%lld, %lld] + %s: loadable\n", cfg->features_name, (long long)n_rows,
                (long long)n_features, cfg->labels_name);
        rc = summarise(cfg, file, n_rows, n_features, out, err);
    } else if (have_pair) {
        fprintf(out, "dataset pair %s + %s: NOT loadable: %s\n", cfg->features_name, cfg->labels_name, why);
        if (cfg->checksum) {
            ddp_errf(err, "%s", why);
            rc = DDP_EXIT_USAGE;
        }
    } else if (cfg->checksum) {
        ddp_errf(err, "%s: no %s + %s pair to checksum; name them with --features/--labels", cfg->data_path,
                 cfg->features_name, cfg->labels_name);
        rc = DDP_EXIT_USAGE;
    }
    H5Fclose(file);
    return rc;
}
