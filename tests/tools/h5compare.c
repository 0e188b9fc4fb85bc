/* h5compare.c — test tool: compare two float datasets element-wise.
 *   h5compare FILE_A DSET_A FILE_B DSET_B RTOL [ATOL]
 * Passes (exit 0) when every |a - b| <= RTOL * |b| + ATOL (ATOL default 0);
 * prints the element count, max abs and max relative difference either way.
 * Exit 1 on a mismatch, 2 on a read problem. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static double *read_all(const char *file, const char *name, hssize_t *n)
{
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return NULL;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    double *v = NULL;
    if (d >= 0) {
        hid_t s = H5Dget_space(d);
        *n = H5Sget_simple_extent_npoints(s);
        v = malloc((size_t)(*n > 0 ? *n : 1) * sizeof(double));
        if (v && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) {
            free(v);
            v = NULL;
        }
        H5Sclose(s);
        H5Dclose(d);
    }
    H5Fclose(f);
    return v;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: h5compare FILE_A DSET_A FILE_B DSET_B RTOL [ATOL]\n");
        return 2;
    }
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    double rtol = strtod(argv[5], NULL), atol = argc > 6 ? strtod(argv[6], NULL) : 0.0;
    hssize_t na = 0, nb = 0;
    double *a = read_all(argv[1], argv[2], &na), *b = read_all(argv[3], argv[4], &nb);
    if (!a || !b || na != nb) {
        fprintf(stderr, "h5compare: cannot read %s:%s and %s:%s as equal-sized float datasets\n", argv[1], argv[2],
                argv[3], argv[4]);
        return 2;
    }
    double max_abs = 0, max_rel = 0;
    int ok = 1;
    for (hssize_t i = 0; i < na; i++) {
        double d = fabs(a[i] - b[i]);
        double rel = b[i] != 0 ? d / fabs(b[i]) : (d == 0 ? 0 : INFINITY);
        if (d > max_abs) max_abs = d;
        if (rel > max_rel) max_rel = rel;
        if (!(d <= rtol * fabs(b[i]) + atol)) ok = 0;
    }
    printf("%s %lld elements, max abs diff %.3e, max rel diff %.3e (rtol %g, atol %g)\n", ok ? "equal" : "DIFFERENT",
           (long long)na, max_abs, max_rel, rtol, atol);
    free(a);
    free(b);
    return ok ? 0 : 1;
}
