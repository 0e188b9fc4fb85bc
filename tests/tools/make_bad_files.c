/* make_bad_files.c — test tool: writes one HDF5 file per way a dataset file
 * can be wrong (foundation issue, point 6), plus a few valid variants, into a
 * directory. tests/integration/test_badfiles.sh runs `ddptrain load` on each
 * and checks the exit code and message.
 *
 * usage: make_bad_files DIR SENTINEL
 *   SENTINEL: a path that external storage / links point at and that must
 *   never be opened (the test makes it a FIFO, so an open would hang). */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 10
#define F 4

static char g_dir[2048];

static hid_t create(const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) {
        fprintf(stderr, "make_bad_files: cannot create %s\n", path);
        exit(1);
    }
    return f;
}

static void put(hid_t loc, const char *name, hid_t ftype, hid_t mtype, int rank, const hsize_t *dims,
                hid_t dcpl, const void *data)
{
    hid_t s = H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(loc, name, ftype, s, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (d < 0) {
        fprintf(stderr, "make_bad_files: cannot create dataset %s\n", name);
        exit(1);
    }
    if (data && H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
        fprintf(stderr, "make_bad_files: cannot write dataset %s\n", name);
        exit(1);
    }
    H5Dclose(d);
    H5Sclose(s);
}

static float g_x[N * F], g_y[N];

static void put_x(hid_t f, const float *x, int rows)
{
    hsize_t d[2] = {(hsize_t)rows, F};
    put(f, "X", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, d, H5P_DEFAULT, x);
}
static void put_y(hid_t f, const float *y, int rows)
{
    hsize_t d[1] = {(hsize_t)rows};
    put(f, "y", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, d, H5P_DEFAULT, y);
}

/* A valid file with X and y, after `mutate` edits copies of the data. */
static void valid_with(const char *name, void (*mutate)(float *x, float *y))
{
    float x[N * F], y[N];
    memcpy(x, g_x, sizeof x);
    memcpy(y, g_y, sizeof y);
    if (mutate) mutate(x, y);
    hid_t f = create(name);
    put_x(f, x, N);
    put_y(f, y, N);
    H5Fclose(f);
}

static void m_nan_x(float *x, float *y) { (void)y; x[7 * F + 2] = NAN; }
static void m_inf_y(float *x, float *y) { (void)x; y[5] = INFINITY; }
static void m_label2(float *x, float *y) { (void)x; y[3] = 2.0f; }
static void m_label_frac(float *x, float *y) { (void)x; y[4] = 1.5f; }
static void m_label_neg(float *x, float *y) { (void)x; y[6] = -1.0f; }

/* A pass-through filter registered under LZ4's id, standing in for any
 * filter ddptrain does not whitelist. */
static size_t passthrough(unsigned flags, size_t cd_nelmts, const unsigned cd_values[], size_t nbytes,
                          size_t *buf_size, void **buf)
{
    (void)flags; (void)cd_nelmts; (void)cd_values; (void)buf_size; (void)buf;
    return nbytes;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: make_bad_files DIR SENTINEL\n");
        return 2;
    }
    snprintf(g_dir, sizeof g_dir, "%s", argv[1]);
    const char *sentinel = argv[2];
    for (int i = 0; i < N * F; i++) g_x[i] = (float)(i % 7) - 3.0f;
    for (int i = 0; i < N; i++) g_y[i] = (float)(i % 2);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);

    char path[4096];
    snprintf(path, sizeof path, "%s/not_hdf5.h5", g_dir);
    FILE *t = fopen(path, "w");
    fputs("a,b,label\n1,2,0\n", t);
    fclose(t);

    valid_with("ok.h5", NULL);
    valid_with("nan_x.h5", m_nan_x);
    valid_with("inf_y.h5", m_inf_y);
    valid_with("label_2.h5", m_label2);
    valid_with("label_frac.h5", m_label_frac);
    valid_with("label_neg.h5", m_label_neg);

    hid_t f = create("missing_dataset.h5");
    put_x(f, g_x, N);
    H5Fclose(f);

    f = create("x_1d.h5");
    { hsize_t d[1] = {N}; put(f, "X", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, d, H5P_DEFAULT, g_y); }
    put_y(f, g_y, N);
    H5Fclose(f);

    f = create("x_3d.h5");
    { hsize_t d[3] = {N, 2, 2}; put(f, "X", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, d, H5P_DEFAULT, g_x); }
    put_y(f, g_y, N);
    H5Fclose(f);

    f = create("x_string.h5");
    {
        hid_t st = H5Tcopy(H5T_C_S1);
        H5Tset_size(st, 8);
        char buf[N * F][8];
        memset(buf, 0, sizeof buf);
        for (int i = 0; i < N * F; i++) snprintf(buf[i], 8, "%d", i);
        hsize_t d[2] = {N, F};
        put(f, "X", st, st, 2, d, H5P_DEFAULT, buf);
        H5Tclose(st);
    }
    put_y(f, g_y, N);
    H5Fclose(f);

    f = create("x_compound.h5");
    {
        typedef struct { float a; int b; } rec;
        hid_t ct = H5Tcreate(H5T_COMPOUND, sizeof(rec));
        H5Tinsert(ct, "a", HOFFSET(rec, a), H5T_NATIVE_FLOAT);
        H5Tinsert(ct, "b", HOFFSET(rec, b), H5T_NATIVE_INT);
        rec buf[N * F];
        memset(buf, 0, sizeof buf);
        hsize_t d[2] = {N, F};
        put(f, "X", ct, ct, 2, d, H5P_DEFAULT, buf);
        H5Tclose(ct);
    }
    put_y(f, g_y, N);
    H5Fclose(f);

    f = create("x_enum.h5");
    {
        hid_t et = H5Tenum_create(H5T_NATIVE_INT);
        int v0 = 0, v1 = 1;
        H5Tenum_insert(et, "RED", &v0);
        H5Tenum_insert(et, "BLUE", &v1);
        int buf[N * F] = {0};
        hsize_t d[2] = {N, F};
        put(f, "X", et, et, 2, d, H5P_DEFAULT, buf);
        H5Tclose(et);
    }
    put_y(f, g_y, N);
    H5Fclose(f);

    f = create("rows_mismatch.h5");
    put_x(f, g_x, N);
    put_y(f, g_y, N - 1);
    H5Fclose(f);

    f = create("zero_rows.h5");
    put_x(f, g_x, 0);
    put_y(f, g_y, 0);
    H5Fclose(f);

    f = create("zero_features.h5");
    { hsize_t d[2] = {N, 0}; put(f, "X", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, d, H5P_DEFAULT, NULL); }
    put_y(f, g_y, N);
    H5Fclose(f);

    f = create("two_rows.h5");
    put_x(f, g_x, 2);
    put_y(f, g_y, 2);
    H5Fclose(f);

    /* dims whose byte count overflows 64 bits: chunked, nothing allocated */
    f = create("dims_overflow.h5");
    {
        hsize_t d[2] = {(hsize_t)1 << 40, (hsize_t)1 << 23}, chunk[2] = {1, 1024};
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        H5Pset_chunk(dcpl, 2, chunk);
        put(f, "X", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, d, dcpl, NULL);
        hsize_t dy[1] = {(hsize_t)1 << 40}, cy[1] = {1024};
        H5Pset_chunk(dcpl, 1, cy);
        put(f, "y", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, dy, dcpl, NULL);
        H5Pclose(dcpl);
    }
    H5Fclose(f);

    /* external storage naming the sentinel */
    f = create("external_storage.h5");
    {
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        H5Pset_external(dcpl, sentinel, 0, (hsize_t)N * F * 4);
        put(f, "X", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, (hsize_t[]){N, F}, dcpl, NULL);
        H5Pclose(dcpl);
    }
    put_y(f, g_y, N);
    H5Fclose(f);

    /* virtual dataset mapping the sentinel file's /X */
    f = create("virtual.h5");
    {
        hsize_t d[2] = {N, F};
        hid_t vspace = H5Screate_simple(2, d, NULL), sspace = H5Screate_simple(2, d, NULL);
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        H5Pset_virtual(dcpl, vspace, sentinel, "/X", sspace);
        hid_t dd = H5Dcreate2(f, "X", H5T_IEEE_F32LE, vspace, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        H5Dclose(dd);
        H5Pclose(dcpl);
        H5Sclose(sspace);
        H5Sclose(vspace);
    }
    put_y(f, g_y, N);
    H5Fclose(f);

    f = create("external_link.h5");
    H5Lcreate_external(sentinel, "/X", f, "X", H5P_DEFAULT, H5P_DEFAULT);
    put_y(f, g_y, N);
    H5Fclose(f);

    f = create("soft_link.h5");
    {
        hid_t g = H5Gcreate2(f, "data", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        put_x(g, g_x, N);
        H5Gclose(g);
        H5Lcreate_soft("/data/X", f, "X", H5P_DEFAULT, H5P_DEFAULT);
    }
    put_y(f, g_y, N);
    H5Fclose(f);

    f = create("bad_filter.h5");
    {
        H5Z_class2_t cls = {H5Z_CLASS_T_VERS, (H5Z_filter_t)32004, 1, 1, "lz4-standin", NULL, NULL, passthrough};
        H5Zregister(&cls);
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        hsize_t chunk[2] = {5, F};
        H5Pset_chunk(dcpl, 2, chunk);
        H5Pset_filter(dcpl, (H5Z_filter_t)32004, H5Z_FLAG_MANDATORY, 0, NULL);
        put(f, "X", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, (hsize_t[]){N, F}, dcpl, g_x);
        H5Pclose(dcpl);
    }
    put_y(f, g_y, N);
    H5Fclose(f);

    /* valid variants: float64 big-endian X, chunked+gzip+shuffle, int32 labels, nested names */
    f = create("ok_variants.h5");
    {
        double xd[N * F];
        int yi[N];
        for (int i = 0; i < N * F; i++) xd[i] = g_x[i];
        for (int i = 0; i < N; i++) yi[i] = i % 3;
        hid_t g = H5Gcreate2(f, "train", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        hsize_t chunk[2] = {3, F};
        H5Pset_chunk(dcpl, 2, chunk);
        H5Pset_shuffle(dcpl);
        H5Pset_deflate(dcpl, 6);
        put(g, "X", H5T_IEEE_F64BE, H5T_NATIVE_DOUBLE, 2, (hsize_t[]){N, F}, dcpl, xd);
        put(g, "y", H5T_STD_I32LE, H5T_NATIVE_INT, 1, (hsize_t[]){N}, H5P_DEFAULT, yi);
        H5Pclose(dcpl);
        H5Gclose(g);
    }
    H5Fclose(f);
    return 0;
}
