/* fuzz_libsvm.c — fuzz harness for the LIBSVM/SVMlight line parser of
 * `ddptrain convert` (src/textparse.c): the input bytes are one line, up to
 * the first NUL.
 *
 * ddp_libsvm_parse_line runs with both index bases (0 and 1), with an open
 * upper bound and a small one (as --n-features sets), into index/value
 * buffers of exactly ddp_libsvm_max_pairs(line bytes) pairs — the capacity
 * convert.c uses, which the header promises never fails — and of exactly 0
 * and 1 pair, to drive the capacity error.
 *
 * Checked beyond "no crash": the return is DDP_OK or DDP_EXIT_USAGE with a
 * one-line message; with the promised capacity the "more than N pairs"
 * error never happens; an accepted line has a finite label and strictly
 * increasing indices inside [min_index, max_index] with finite values.
 * Not here: the two-pass feature count (convert.c). */
#include "ddptrain/common.h"
#include "ddptrain/textparse.h"

#include <math.h>

#include "fuzz_replay.h"

static void parse_once(const char *line, int64_t min_index, int64_t max_index, size_t cap_pairs,
                       int cap_is_bound, char *err)
{
    /* + 1 element: a valid block when the capacity is 0, never written. */
    int64_t *indices = malloc(cap_pairs * sizeof *indices + 1);
    float *values = malloc(cap_pairs * sizeof *values + 1);
    if (!indices || !values) goto done;
    float label = NAN;
    size_t n_pairs = (size_t)-1;
    int rc = ddp_libsvm_parse_line(line, min_index, max_index, &label, indices, values, cap_pairs,
                                   &n_pairs, err);
    FUZZ_CHECK(rc == DDP_OK || rc == DDP_EXIT_USAGE, "parse_line returned %d", rc);
    FUZZ_CHECK(n_pairs <= cap_pairs, "%zu pairs stored with capacity %zu", n_pairs, cap_pairs);
    if (rc == DDP_OK) {
        FUZZ_CHECK(isfinite(label), "accepted label %g", (double)label);
        for (size_t i = 0; i < n_pairs; i++) {
            FUZZ_CHECK(indices[i] >= min_index && indices[i] <= max_index,
                       "index %lld outside [%lld, %lld]", (long long)indices[i],
                       (long long)min_index, (long long)max_index);
            FUZZ_CHECK(i == 0 || indices[i] > indices[i - 1], "indices not increasing at %zu", i);
            FUZZ_CHECK(isfinite(values[i]), "accepted value %g", (double)values[i]);
        }
    } else {
        FUZZ_CHECK_MSG(err, "ddp_libsvm_parse_line");
        FUZZ_CHECK(!cap_is_bound || strstr(err, "more than") == NULL,
                   "capacity ddp_libsvm_max_pairs(%zu) = %zu was too small: %s", strlen(line),
                   cap_pairs, err);
    }
done:
    free(values);
    free(indices);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *err = malloc(DDP_ERR_LEN);
    char *line = fuzz_strdup(data, size);
    if (!err || !line) goto done;
    size_t bound = ddp_libsvm_max_pairs(strlen(line));
    FUZZ_CHECK(bound >= 1, "max_pairs(%zu) = 0", strlen(line));

    static const int64_t max_indices[] = {INT64_MAX, 20};
    for (int64_t base = 0; base <= 1; base++) {
        for (size_t m = 0; m < sizeof max_indices / sizeof max_indices[0]; m++) {
            parse_once(line, base, max_indices[m], bound, 1, err);
            parse_once(line, base, max_indices[m], 0, 0, err);
            parse_once(line, base, max_indices[m], 1, 0, err);
        }
    }
done:
    free(line);
    free(err);
    return 0;
}
