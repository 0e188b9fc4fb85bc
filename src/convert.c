/* convert.c — `ddptrain convert`: CSV/TSV or LIBSVM text -> ddptrain HDF5.
 *
 * Streaming, serial, rank 0 only: lines are read with getline, parsed by
 * textparse.c into one block of rows, and each full block is appended to
 * chunked, extendible float32 datasets (H5Dset_extent + hyperslab write), so
 * memory is one block (<= 4 MiB of features) plus the longest line, whatever
 * the number of rows. CSV takes its column count from the first line; LIBSVM
 * needs two passes because the feature count (and index base) is only known
 * at the end of the file. Output goes to OUT.tmp.<pid>, is fsynced and then
 * renamed onto OUT, so a failed convert never leaves a half-written OUT.
 *
 * Not here: MPI (main.c runs this on rank 0 and shares the verdict), reading
 * compressed input, missing-value imputation, sparse HDF5 output. */
#include "ddptrain/convert.h"
#include "ddptrain/common.h"
#include "ddptrain/h5safe.h"
#include "ddptrain/textparse.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONVERT_DEFAULT_CHUNK_ROWS 4096
#define CONVERT_MAX_CHUNK_BYTES    ((uint64_t)4 << 20)
/* Wide rows make feature chunks a few rows tall; label chunks stay at least
 * this tall so a file does not hold one tiny chunk per label. */
#define CONVERT_MIN_Y_CHUNK_ROWS 1024
#define CONVERT_MAX_LINE_BYTES   ((size_t)256 << 20)
#define CONVERT_PATH_BYTES       4096

/* The input file and its current line. */
typedef struct text_input {
    FILE *fp;
    const char *path;
    char *line;      /* getline buffer, NUL-terminated current line */
    size_t line_cap; /* bytes allocated for line (getline's) */
    size_t n_bytes;  /* bytes in the current line, newline included */
    int64_t line_no; /* 1-based number of the current line */
} text_input;

/* One block of rows on its way into the HDF5 file. */
typedef struct h5_writer {
    const ddp_config *cfg;
    const char *tmp_path;
    int created; /* tmp_path exists and must be removed on failure */
    hid_t file, xd, yd;
    int64_t n_features;
    int64_t block_rows; /* rows per write; also the chunk rows */
    float *x;           /* [block_rows, n_features] */
    float *y;           /* [block_rows] */
    int64_t n_buffered; /* rows in x/y not yet written */
    int64_t n_written;  /* rows already in the file */
    float y_min, y_max;
} h5_writer;

/* What the report line says besides the writer's counts. */
typedef struct convert_summary {
    const char *format_name; /* "csv" / "libsvm" */
    char detail[256];        /* label column or index base */
} convert_summary;

/* ------------------------------------------------------------ input */

static int input_open(text_input *in, const char *path, char *err)
{
    struct stat st;
    in->path = path;
    if (stat(path, &st) != 0) {
        int e = errno;
        ddp_errf(err, "convert: %s: %s; check the input path", path,
                 e == ENOENT ? "no such file" : strerror(e));
        return e == ENOENT ? DDP_EXIT_USAGE : DDP_EXIT_IO;
    }
    if (!S_ISREG(st.st_mode)) {
        ddp_errf(err, "convert: %s is not a regular file; give a CSV or LIBSVM text file", path);
        return DDP_EXIT_USAGE;
    }
    in->fp = fopen(path, "r");
    if (!in->fp) {
        ddp_errf(err, "convert: cannot open %s: %s", path, strerror(errno));
        return DDP_EXIT_IO;
    }
    return DDP_OK;
}

/* Read the next line into in->line; *eof is set at end of file. */
static int input_next(text_input *in, int *eof, char *err)
{
    errno = 0;
    ssize_t n = getline(&in->line, &in->line_cap, in->fp);
    if (n < 0) {
        if (ferror(in->fp)) {
            ddp_errf(err, "convert: reading %s after line %lld failed: %s", in->path,
                     (long long)in->line_no, strerror(errno ? errno : EIO));
            return DDP_EXIT_IO;
        }
        *eof = 1;
        return DDP_OK;
    }
    *eof = 0;
    in->line_no++;
    in->n_bytes = (size_t)n;
    if (in->line_no == 1 && n >= 2 && (unsigned char)in->line[0] == 0x1f &&
        (unsigned char)in->line[1] == 0x8b) {
        ddp_errf(err, "convert: %s is gzip-compressed; decompress it first (gunzip -k %s)",
                 in->path, in->path);
        return DDP_EXIT_USAGE;
    }
    if (strlen(in->line) != in->n_bytes) {
        ddp_errf(err,
                 "convert: %s: line %lld contains a NUL byte; is it a binary or UTF-16 file? "
                 "convert it to UTF-8 text",
                 in->path, (long long)in->line_no);
        return DDP_EXIT_USAGE;
    }
    if (in->n_bytes > CONVERT_MAX_LINE_BYTES) {
        ddp_errf(err, "convert: %s: line %lld is %zu bytes, more than the %zu MiB limit", in->path,
                 (long long)in->line_no, in->n_bytes, CONVERT_MAX_LINE_BYTES >> 20);
        return DDP_EXIT_USAGE;
    }
    if (in->line_no == 1 && in->n_bytes >= 3 && memcmp(in->line, "\xef\xbb\xbf", 3) == 0) {
        /* UTF-8 byte-order mark, as spreadsheets write it */
        memmove(in->line, in->line + 3, in->n_bytes - 3 + 1);
        in->n_bytes -= 3;
    }
    return DDP_OK;
}

/* ----------------------------------------------------------- writer */

static int set_root_attr(hid_t file, const char *name, const char *value)
{
    int rc = -1;
    hid_t type = H5Tcopy(H5T_C_S1), space = H5Screate(H5S_SCALAR), attr = -1;
    if (type < 0 || space < 0 || H5Tset_size(type, strlen(value) + 1) < 0) goto done;
    attr = H5Acreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (attr < 0 || H5Awrite(attr, type, value) < 0) goto done;
    rc = 0;
done:
    if (attr >= 0) H5Aclose(attr);
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    return rc;
}

/* Empty [0 (, n_cols)] float32 dataset, extendible along rows. */
static hid_t create_extendible(hid_t file, const char *name, int n_dims, int64_t n_cols,
                               int64_t chunk_rows, int64_t gzip_level)
{
    hsize_t dims[2] = {0, (hsize_t)n_cols};
    hsize_t max_dims[2] = {H5S_UNLIMITED, (hsize_t)n_cols};
    hsize_t chunk[2] = {(hsize_t)chunk_rows, (hsize_t)n_cols};
    hid_t d = -1;
    hid_t space = H5Screate_simple(n_dims, dims, max_dims);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (space < 0 || lcpl < 0 || dcpl < 0) goto done;
    if (H5Pset_create_intermediate_group(lcpl, 1) < 0 || H5Pset_chunk(dcpl, n_dims, chunk) < 0 ||
        H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) < 0)
        goto done;
    if (gzip_level > 0 &&
        (H5Pset_shuffle(dcpl) < 0 || H5Pset_deflate(dcpl, (unsigned)gzip_level) < 0))
        goto done;
    d = H5Dcreate2(file, name, H5T_IEEE_F32LE, space, lcpl, dcpl, H5P_DEFAULT);
done:
    if (dcpl >= 0) H5Pclose(dcpl);
    if (lcpl >= 0) H5Pclose(lcpl);
    if (space >= 0) H5Sclose(space);
    return d;
}

/* Grow d to row0 + n_rows rows and write buf into rows [row0, row0 + n_rows). */
static int append_rows(hid_t d, int n_dims, int64_t row0, int64_t n_rows, int64_t n_cols,
                       const float *buf)
{
    hsize_t new_dims[2] = {(hsize_t)(row0 + n_rows), (hsize_t)n_cols};
    hsize_t start[2] = {(hsize_t)row0, 0}, count[2] = {(hsize_t)n_rows, (hsize_t)n_cols};
    herr_t hr = -1;
    hid_t fspace = -1, mspace = -1;
    if (H5Dset_extent(d, new_dims) < 0) goto done;
    fspace = H5Dget_space(d);
    mspace = H5Screate_simple(n_dims, count, NULL);
    if (fspace < 0 || mspace < 0) goto done;
    hr = H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL);
    if (hr >= 0) hr = H5Dwrite(d, H5T_NATIVE_FLOAT, mspace, fspace, H5P_DEFAULT, buf);
done:
    if (mspace >= 0) H5Sclose(mspace);
    if (fspace >= 0) H5Sclose(fspace);
    return hr < 0 ? -1 : 0;
}

static void writer_init(h5_writer *w, const ddp_config *cfg, const char *tmp_path)
{
    memset(w, 0, sizeof *w);
    w->cfg = cfg;
    w->tmp_path = tmp_path;
    w->file = w->xd = w->yd = -1;
}

/* Size the block, allocate it and create the temporary file. n_rows_hint
 * (LIBSVM knows it after pass 1; -1 = unknown) keeps chunks of tiny files
 * small. */
static int writer_open(h5_writer *w, int64_t n_features, int64_t n_rows_hint,
                       const char *format_name, char *err)
{
    const ddp_config *cfg = w->cfg;
    uint64_t row_bytes = (uint64_t)n_features * sizeof(float);
    int64_t block = cfg->chunk_rows > 0 ? cfg->chunk_rows : CONVERT_DEFAULT_CHUNK_ROWS;
    int64_t max_block = (int64_t)(CONVERT_MAX_CHUNK_BYTES / row_bytes);
    if (block > max_block) block = max_block;
    if (n_rows_hint > 0 && block > n_rows_hint) block = n_rows_hint;
    if (block < 1) block = 1;
    w->n_features = n_features;
    w->block_rows = block;
    w->y_min = 0.0f;
    w->y_max = 0.0f;

    size_t x_bytes = 0;
    if (ddp_mul_size((size_t)block, (size_t)row_bytes, &x_bytes) != 0) {
        ddp_errf(err, "convert: a block of %lld rows x %lld features overflows size_t",
                 (long long)block, (long long)n_features);
        return DDP_EXIT_MEMORY;
    }
    w->x = malloc(x_bytes);
    w->y = malloc((size_t)block * sizeof(float));
    if (!w->x || !w->y) {
        ddp_errf(err, "convert: cannot allocate a %zu-byte row block; lower --chunk-rows", x_bytes);
        return DDP_EXIT_MEMORY;
    }

    w->file = H5Fcreate(w->tmp_path, H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
    if (w->file < 0) {
        ddp_errf(err,
                 "convert: cannot create %s (does the directory exist and is it writable? is a "
                 "stale temporary file in the way?)",
                 w->tmp_path);
        return DDP_EXIT_IO;
    }
    w->created = 1;
    if (set_root_attr(w->file, "ddptrain_source", cfg->in_path) != 0 ||
        set_root_attr(w->file, "ddptrain_format", format_name) != 0) {
        ddp_errf(err, "convert: cannot write attributes to %s (disk full?)", w->tmp_path);
        return DDP_EXIT_IO;
    }
    return DDP_OK;
}

/* Write the buffered rows. The datasets are created on the first write, so a
 * file that ends before the first block is full gets chunks of its size. */
static int writer_flush(h5_writer *w, int is_final, char *err)
{
    const ddp_config *cfg = w->cfg;
    if (w->n_buffered == 0) return DDP_OK;
    if (w->xd < 0) {
        int64_t chunk_rows = w->block_rows, y_chunk_rows = w->block_rows;
        if (is_final && w->n_written == 0)
            chunk_rows = y_chunk_rows = w->n_buffered;
        else if (y_chunk_rows < CONVERT_MIN_Y_CHUNK_ROWS)
            y_chunk_rows = CONVERT_MIN_Y_CHUNK_ROWS;
        w->xd = create_extendible(w->file, cfg->features_name, 2, w->n_features, chunk_rows,
                                  cfg->gzip_level);
        if (w->xd >= 0)
            w->yd =
                create_extendible(w->file, cfg->labels_name, 1, 1, y_chunk_rows, cfg->gzip_level);
        if (w->xd < 0 || w->yd < 0) {
            ddp_errf(err,
                     "convert: cannot create datasets '%s' and '%s' in %s; use names like /X and "
                     "/y or /train/X (--x-name, --y-name), not a path through a dataset",
                     cfg->features_name, cfg->labels_name, w->tmp_path);
            return DDP_EXIT_USAGE;
        }
    }
    if (append_rows(w->xd, 2, w->n_written, w->n_buffered, w->n_features, w->x) != 0 ||
        append_rows(w->yd, 1, w->n_written, w->n_buffered, 1, w->y) != 0) {
        ddp_errf(err, "convert: writing rows %lld..%lld to %s failed (disk full?)",
                 (long long)w->n_written, (long long)(w->n_written + w->n_buffered - 1),
                 w->tmp_path);
        return DDP_EXIT_IO;
    }
    w->n_written += w->n_buffered;
    w->n_buffered = 0;
    return DDP_OK;
}

/* Where the next row's features go: n_features floats. */
static float *writer_row(h5_writer *w)
{
    return w->x + w->n_buffered * w->n_features;
}

/* The row at writer_row() is complete: record its label, write when full. */
static int writer_commit_row(h5_writer *w, float label, char *err)
{
    if (w->n_written + w->n_buffered == 0) w->y_min = w->y_max = label;
    if (label < w->y_min) w->y_min = label;
    if (label > w->y_max) w->y_max = label;
    w->y[w->n_buffered++] = label;
    return w->n_buffered == w->block_rows ? writer_flush(w, 0, err) : DDP_OK;
}

/* Close everything; with status DDP_OK the last block is written first and
 * close failures count. Returns the (possibly worsened) status. */
static int writer_close(h5_writer *w, int status, char *err)
{
    if (status == DDP_OK && w->file >= 0) status = writer_flush(w, 1, err);
    if (w->yd >= 0) H5Dclose(w->yd);
    if (w->xd >= 0) H5Dclose(w->xd);
    if (w->file >= 0 && H5Fclose(w->file) < 0 && status == DDP_OK) {
        ddp_errf(err, "convert: closing %s failed (disk full?)", w->tmp_path);
        status = DDP_EXIT_IO;
    }
    w->yd = w->xd = w->file = -1;
    free(w->y);
    free(w->x);
    w->y = w->x = NULL;
    return status;
}

/* --------------------------------------------------------------- CSV */

/* "line N: <parser message>" with the file name, into err. */
static void line_error(char *err, const text_input *in, const char *why)
{
    ddp_errf(err, "convert: %s: line %lld: %s", in->path, (long long)in->line_no, why);
}

static int is_decimal(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= 9 && strspn(s, "0123456789") == n;
}

/* Which field is the label: cfg->label_col as a header name first, then as a
 * 0-based index; default the last column. */
static int resolve_label(const ddp_config *cfg, const text_input *in, char *const *fields,
                         size_t n_cols, int has_header, size_t *label_field, char *detail,
                         size_t detail_bytes, char *err)
{
    const char *want = cfg->label_col;
    size_t found = n_cols;
    if (!want) {
        found = n_cols - 1;
    } else if (has_header) {
        for (size_t i = 0; i < n_cols && found == n_cols; i++)
            if (strcmp(fields[i], want) == 0) found = i;
    }
    if (found == n_cols && is_decimal(want)) {
        int64_t idx = 0;
        char why[DDP_ERR_LEN];
        if (ddp_parse_i64(want, 0, (int64_t)n_cols - 1, "--label-col", &idx, why) != DDP_OK) {
            ddp_errf(err, "convert: %s: %s (the file has %zu columns, 0-based)", in->path, why,
                     n_cols);
            return DDP_EXIT_USAGE;
        }
        found = (size_t)idx;
    }
    if (found == n_cols && !has_header) {
        ddp_errf(err,
                 "convert: %s: --label-col '%s' is a column name but the file has no header "
                 "line; give a 0-based column index, or --header if line %lld is a header",
                 in->path, want, (long long)in->line_no);
        return DDP_EXIT_USAGE;
    }
    if (found == n_cols) {
        char names[200] = "";
        size_t used = 0;
        for (size_t i = 0; i < n_cols && used + 1 < sizeof names; i++) {
            int n = snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "", fields[i]);
            if (n < 0) break;
            used += (size_t)n;
        }
        if (used + 1 >= sizeof names) snprintf(names + sizeof names - 5, 5, "...");
        ddp_errf(err,
                 "convert: %s: --label-col '%s' is not a column of the header on line %lld "
                 "(columns: %s)",
                 in->path, want, (long long)in->line_no, names);
        return DDP_EXIT_USAGE;
    }
    *label_field = found;
    if (has_header)
        snprintf(detail, detail_bytes, "header, label '%.64s' = column %zu", fields[found], found);
    else
        snprintf(detail, detail_bytes, "no header, label = column %zu", found);
    return DDP_OK;
}

static int convert_csv(const ddp_config *cfg, text_input *in, char delimiter, h5_writer *w,
                       convert_summary *sum, char *err)
{
    char **fields = NULL;
    char *first = NULL;
    char why[DDP_ERR_LEN];
    int eof = 0, rc = DDP_OK;

    do {
        rc = input_next(in, &eof, err);
    } while (rc == DDP_OK && !eof && ddp_text_is_blank(in->line));
    if (rc != DDP_OK) goto done;
    if (eof) {
        ddp_errf(err, "convert: %s has no data rows (the file is empty)", in->path);
        rc = DDP_EXIT_USAGE;
        goto done;
    }

    /* Split a copy: the original line may still be the first data row. */
    size_t max_fields = in->n_bytes + 1, n_cols = 0;
    fields = malloc(max_fields * sizeof *fields);
    first = malloc(in->n_bytes + 1);
    if (!fields || !first) {
        ddp_errf(err, "convert: cannot allocate %zu bytes for line %lld", in->n_bytes,
                 (long long)in->line_no);
        rc = DDP_EXIT_MEMORY;
        goto done;
    }
    memcpy(first, in->line, in->n_bytes + 1);
    if (ddp_csv_split(first, delimiter, fields, max_fields, &n_cols, why) != DDP_OK) {
        line_error(err, in, why);
        rc = DDP_EXIT_USAGE;
        goto done;
    }
    int has_header = cfg->header >= 0 ? cfg->header : ddp_csv_is_header(fields, n_cols);
    if (n_cols < 2) {
        char shown[16];
        if (delimiter == '\t')
            snprintf(shown, sizeof shown, "tab");
        else
            snprintf(shown, sizeof shown, "'%c'", delimiter);
        ddp_errf(err,
                 "convert: %s: line %lld has 1 field but at least 2 are needed (features and a "
                 "label); is the delimiter (%s) right? set it with --delimiter",
                 in->path, (long long)in->line_no, shown);
        rc = DDP_EXIT_USAGE;
        goto done;
    }
    size_t label_field = 0;
    rc = resolve_label(cfg, in, fields, n_cols, has_header, &label_field, sum->detail,
                       sizeof sum->detail, err);
    if (rc != DDP_OK) goto done;
    rc = writer_open(w, (int64_t)n_cols - 1, -1, "csv", err);
    if (rc != DDP_OK) goto done;

    int64_t header_line = has_header ? in->line_no : 0;
    int have_line = !has_header; /* without a header the first line is the first row */
    for (;;) {
        if (!have_line) {
            rc = input_next(in, &eof, err);
            if (rc != DDP_OK || eof) break;
            if (ddp_text_is_blank(in->line)) continue;
        }
        have_line = 0;
        float label = 0.0f;
        if (ddp_csv_parse_row(in->line, delimiter, n_cols, label_field, fields, writer_row(w),
                              &label, why) != DDP_OK) {
            line_error(err, in, why);
            rc = DDP_EXIT_USAGE;
            break;
        }
        rc = writer_commit_row(w, label, err);
        if (rc != DDP_OK) break;
    }
    if (rc == DDP_OK && w->n_written + w->n_buffered == 0) {
        ddp_errf(err,
                 "convert: %s has no data rows (only the header on line %lld); if that line is "
                 "data, pass --no-header",
                 in->path, (long long)header_line);
        rc = DDP_EXIT_USAGE;
    }
done:
    free(first);
    free(fields);
    return rc;
}

/* ------------------------------------------------------------ LIBSVM */

typedef struct pair_buf {
    int64_t *indices; /* [cap_pairs] */
    float *values;    /* [cap_pairs] */
    size_t cap_pairs;
} pair_buf;

/* Make room for the pairs the current line can hold (bounded by its length). */
static int pairs_reserve(pair_buf *pb, const text_input *in, char *err)
{
    size_t need = ddp_libsvm_max_pairs(in->n_bytes);
    if (need <= pb->cap_pairs) return DDP_OK;
    int64_t *idx = realloc(pb->indices, need * sizeof *idx);
    if (idx) pb->indices = idx;
    float *val = idx ? realloc(pb->values, need * sizeof *val) : NULL;
    if (val) pb->values = val;
    if (!idx || !val) {
        ddp_errf(err, "convert: %s: cannot allocate pair buffers for line %lld (%zu bytes)",
                 in->path, (long long)in->line_no, in->n_bytes);
        return DDP_EXIT_MEMORY;
    }
    pb->cap_pairs = need;
    return DDP_OK;
}

/* Blank or comment-only lines carry no row. */
static int libsvm_skip(const char *line)
{
    line += strspn(line, " \t\r\n");
    return *line == '\0' || *line == '#';
}

/* Reads the next LIBSVM row into pb; *eof at the end. */
static int libsvm_next(const ddp_config *cfg, text_input *in, pair_buf *pb, int64_t min_index,
                       int64_t max_index, float *label, size_t *n_pairs, int *eof, char *err)
{
    char why[DDP_ERR_LEN];
    int rc;
    do {
        rc = input_next(in, eof, err);
    } while (rc == DDP_OK && !*eof && libsvm_skip(in->line));
    if (rc != DDP_OK || *eof) return rc;
    rc = pairs_reserve(pb, in, err);
    if (rc != DDP_OK) return rc;
    if (ddp_libsvm_parse_line(in->line, min_index, max_index, label, pb->indices, pb->values,
                              pb->cap_pairs, n_pairs, why) != DDP_OK) {
        if (cfg->format == DDP_TEXT_AUTO && strpbrk(in->line, ",;")) { /* looks like CSV */
            size_t len = strlen(why);
            snprintf(why + len, sizeof why - len,
                     " (read as LIBSVM because the name does not end in .csv/.tsv; use --format "
                     "csv if it is CSV)");
        }
        line_error(err, in, why);
        return DDP_EXIT_USAGE;
    }
    return DDP_OK;
}

static int convert_libsvm(const ddp_config *cfg, text_input *in, h5_writer *w, convert_summary *sum,
                          char *err)
{
    pair_buf pb = {NULL, NULL, 0};
    float label = 0.0f;
    size_t n_pairs = 0;
    int eof = 0, rc = DDP_OK;

    /* Pass 1: validate every line, count rows, find the largest index and
     * whether index 0 occurs. */
    int64_t min_index = cfg->zero_based == 0 ? 1 : 0;
    int64_t max_index = INT32_MAX;
    if (cfg->n_features > 0)
        max_index = cfg->zero_based == 1 ? cfg->n_features - 1 : cfg->n_features;
    int64_t n_rows = 0, max_seen = -1, max_seen_line = 0, zero_line = 0;
    for (;;) {
        rc = libsvm_next(cfg, in, &pb, min_index, max_index, &label, &n_pairs, &eof, err);
        if (rc != DDP_OK || eof) break;
        n_rows++;
        if (n_pairs > 0 && pb.indices[n_pairs - 1] > max_seen) {
            max_seen = pb.indices[n_pairs - 1];
            max_seen_line = in->line_no;
        }
        if (n_pairs > 0 && pb.indices[0] == 0 && zero_line == 0) zero_line = in->line_no;
    }
    if (rc != DDP_OK) goto done;
    if (n_rows == 0) {
        ddp_errf(err, "convert: %s has no data rows (empty, or only blank and comment lines)",
                 in->path);
        rc = DDP_EXIT_USAGE;
        goto done;
    }

    int zero_based = cfg->zero_based >= 0 ? cfg->zero_based : zero_line > 0;
    int64_t n_features = 0;
    if (cfg->n_features > 0) {
        n_features = cfg->n_features;
        if (zero_based && max_seen >= n_features) {
            ddp_errf(err,
                     "convert: %s: line %lld: index %lld is beyond --n-features %lld (index 0 on "
                     "line %lld makes the file zero-based: indices 0..%lld); raise --n-features",
                     in->path, (long long)max_seen_line, (long long)max_seen, (long long)n_features,
                     (long long)zero_line, (long long)(n_features - 1));
            rc = DDP_EXIT_USAGE;
            goto done;
        }
    } else {
        if (max_seen < 0) {
            ddp_errf(err,
                     "convert: %s: no line has an idx:val pair, so the number of features is "
                     "unknown; give --n-features N",
                     in->path);
            rc = DDP_EXIT_USAGE;
            goto done;
        }
        n_features = zero_based ? max_seen + 1 : max_seen;
        if (n_features > INT32_MAX) {
            ddp_errf(err, "convert: %s: line %lld: index %lld gives more than %d features",
                     in->path, (long long)max_seen_line, (long long)max_seen, INT32_MAX);
            rc = DDP_EXIT_USAGE;
            goto done;
        }
    }
    snprintf(sum->detail, sizeof sum->detail, "%s indices%s",
             zero_based ? "zero-based" : "one-based",
             cfg->zero_based >= 0 ? ""
             : zero_based         ? ", detected: index 0 occurs"
                                  : ", detected: no index 0");

    /* Pass 2: the same lines again, scattered into dense zero-filled rows. */
    if (fseek(in->fp, 0, SEEK_SET) != 0) {
        ddp_errf(err, "convert: cannot rewind %s for the second pass: %s", in->path,
                 strerror(errno));
        rc = DDP_EXIT_IO;
        goto done;
    }
    clearerr(in->fp);
    in->line_no = 0;
    min_index = zero_based ? 0 : 1;
    max_index = zero_based ? n_features - 1 : n_features;
    rc = writer_open(w, n_features, n_rows, "libsvm", err);
    if (rc != DDP_OK) goto done;
    int64_t n_rows_again = 0;
    for (;;) {
        rc = libsvm_next(cfg, in, &pb, min_index, max_index, &label, &n_pairs, &eof, err);
        if (rc != DDP_OK || eof) break;
        float *row = writer_row(w);
        memset(row, 0, (size_t)n_features * sizeof *row);
        for (size_t k = 0; k < n_pairs; k++)
            row[pb.indices[k] - min_index] = pb.values[k];
        rc = writer_commit_row(w, label, err);
        if (rc != DDP_OK) break;
        n_rows_again++;
    }
    if (rc == DDP_OK && n_rows_again != n_rows) {
        ddp_errf(err, "convert: %s changed while it was read (%lld rows, then %lld); retry",
                 in->path, (long long)n_rows, (long long)n_rows_again);
        rc = DDP_EXIT_IO;
    }
done:
    free(pb.values);
    free(pb.indices);
    return rc;
}

/* ------------------------------------------------------------ commit */

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* fsync a file or directory by path; -1 if it cannot be opened or synced. */
static int fsync_path(const char *path, int is_dir)
{
    int fd = open(path, O_RDONLY | (is_dir ? O_DIRECTORY : 0));
    if (fd < 0) return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

/* Make the finished temporary file OUT: fsync, rename, fsync the directory. */
static int commit_output(const char *tmp_path, const char *out_path, char *err)
{
    if (fsync_path(tmp_path, 0) != 0) {
        ddp_errf(err, "convert: cannot sync %s: %s (disk full?)", tmp_path, strerror(errno));
        return DDP_EXIT_IO;
    }
    if (rename(tmp_path, out_path) != 0) {
        ddp_errf(err, "convert: cannot rename %s to %s: %s", tmp_path, out_path, strerror(errno));
        return DDP_EXIT_IO;
    }
    char dir[CONVERT_PATH_BYTES];
    const char *slash = strrchr(out_path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == out_path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - out_path), out_path);
    (void)fsync_path(dir, 1); /* best effort: some file systems refuse directory fsync */
    return DDP_OK;
}

static void format_bytes(uint64_t n_bytes, char *out, size_t out_bytes)
{
    if (n_bytes >= 1000000000u)
        snprintf(out, out_bytes, "%.2f GB", (double)n_bytes / 1e9);
    else if (n_bytes >= 1000000u)
        snprintf(out, out_bytes, "%.1f MB", (double)n_bytes / 1e6);
    else
        snprintf(out, out_bytes, "%.1f kB", (double)n_bytes / 1e3);
}

static double peak_rss_mib(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0.0;
    return (double)ru.ru_maxrss / 1024.0; /* Linux reports KiB */
}

/* Options that belong to the other format are mistakes worth reporting
 * (they usually mean the format was guessed wrong). */
static int check_options(const ddp_config *cfg, ddp_text_format format, char *err)
{
    if (format == DDP_TEXT_LIBSVM && (cfg->label_col || cfg->header >= 0 || cfg->delimiter)) {
        ddp_errf(err,
                 "convert: --label-col, --header/--no-header and --delimiter apply to CSV "
                 "input; %s is read as LIBSVM (use --format csv if it is CSV)",
                 cfg->in_path);
        return DDP_EXIT_USAGE;
    }
    if (format == DDP_TEXT_CSV && (cfg->zero_based >= 0 || cfg->n_features > 0)) {
        ddp_errf(err,
                 "convert: --zero-based/--one-based and --n-features apply to LIBSVM input; "
                 "%s is read as CSV (use --format libsvm if it is LIBSVM)",
                 cfg->in_path);
        return DDP_EXIT_USAGE;
    }
    if (strcmp(cfg->features_name, cfg->labels_name) == 0) {
        ddp_errf(err,
                 "convert: features and labels cannot both be '%s'; give --x-name and "
                 "--y-name different names",
                 cfg->features_name);
        return DDP_EXIT_USAGE;
    }
    struct stat in_st, out_st;
    if (stat(cfg->in_path, &in_st) == 0 && stat(cfg->out_path, &out_st) == 0 &&
        in_st.st_dev == out_st.st_dev && in_st.st_ino == out_st.st_ino) {
        ddp_errf(err, "convert: --out %s is the input file; choose another output name",
                 cfg->out_path);
        return DDP_EXIT_USAGE;
    }
    return DDP_OK;
}

int ddp_convert_run(const ddp_config *cfg, char *err)
{
    double t0 = ddp_now();
    char tmp_path[CONVERT_PATH_BYTES];
    text_input in = {0};
    h5_writer w;
    convert_summary sum = {"", ""};
    writer_init(&w, cfg, tmp_path);
    int rc = DDP_OK;

    ddp_text_format format = cfg->format;
    if (format == DDP_TEXT_AUTO)
        format = has_suffix(cfg->in_path, ".csv") || has_suffix(cfg->in_path, ".tsv")
                     ? DDP_TEXT_CSV
                     : DDP_TEXT_LIBSVM;
    char delimiter = cfg->delimiter                     ? cfg->delimiter
                     : has_suffix(cfg->in_path, ".tsv") ? '\t'
                                                        : ',';
    sum.format_name = format == DDP_TEXT_CSV ? "csv" : "libsvm";

    rc = check_options(cfg, format, err);
    if (rc != DDP_OK) goto out;
    if ((size_t)snprintf(tmp_path, sizeof tmp_path, "%s.tmp.%ld", cfg->out_path, (long)getpid()) >=
        sizeof tmp_path) {
        ddp_errf(err, "convert: output path is longer than %d bytes", CONVERT_PATH_BYTES - 32);
        rc = DDP_EXIT_USAGE;
        goto out;
    }
    ddp_h5_init(); /* idempotent: HDF5's own error printing off (we print one message) */
    rc = input_open(&in, cfg->in_path, err);
    if (rc != DDP_OK) goto out;

    if (format == DDP_TEXT_CSV)
        rc = convert_csv(cfg, &in, delimiter, &w, &sum, err);
    else
        rc = convert_libsvm(cfg, &in, &w, &sum, err);
    int64_t n_rows = w.n_written + w.n_buffered;
    float y_min = w.y_min, y_max = w.y_max;
    int64_t n_features = w.n_features;
    rc = writer_close(&w, rc, err);
    if (rc == DDP_OK) rc = commit_output(tmp_path, cfg->out_path, err);
    if (rc == DDP_OK && !cfg->quiet) {
        struct stat st;
        char size_text[32];
        format_bytes(stat(cfg->out_path, &st) == 0 ? (uint64_t)st.st_size : 0, size_text,
                     sizeof size_text);
        printf("convert: %s %s [%s]: %lld rows x %lld features, labels min %g max %g -> %s (%s) "
               "in %.2f s, peak RSS %.1f MiB\n",
               sum.format_name, cfg->in_path, sum.detail, (long long)n_rows, (long long)n_features,
               (double)y_min, (double)y_max, cfg->out_path, size_text, ddp_now() - t0,
               peak_rss_mib());
        fflush(stdout);
    }
out:
    if (rc != DDP_OK && w.created) unlink(tmp_path);
    if (in.fp) fclose(in.fp);
    free(in.line);
    return rc;
}
