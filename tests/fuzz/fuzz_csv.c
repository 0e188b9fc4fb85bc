/* fuzz_csv.c — fuzz harness for the CSV line parser of `ddptrain convert`
 * (src/textparse.c): the input bytes are one line, up to the first NUL.
 *
 * For several delimiters (the common ones plus one taken from the first
 * byte, as `--delimiter C` allows any byte but '"' and newline) it runs
 * ddp_csv_split with the documented capacity (bytes + 1 fields) and with a
 * capacity of 1, ddp_csv_is_header on the result, and ddp_csv_parse_row with
 * the field count found and with 1, 2 and 3 fields, the label first, middle
 * and last. Every buffer is a heap block of exactly the size the contract
 * names, so ASan sees a write one past it; the line is re-copied before each
 * call because the parser writes into it.
 *
 * Checked beyond "no crash": the return is DDP_OK or DDP_EXIT_USAGE; a
 * failure leaves a one-line message; a split stays within bytes + 1 fields
 * and its fields point into the line; an accepted row holds finite float32
 * values. Not here: file reading and line numbering (convert.c). */
#include "ddptrain/common.h"
#include "ddptrain/textparse.h"

#include <float.h>
#include <math.h>

#include "fuzz_replay.h"

/* Run one split into a fresh copy of the line; returns the field count. */
static size_t split_once(const uint8_t *data, size_t size, char delimiter, size_t max_fields,
                         char *err)
{
    char *line = fuzz_strdup(data, size);
    char **fields = malloc((max_fields ? max_fields : 1) * sizeof *fields);
    if (!line || !fields) {
        free(line);
        free(fields);
        return 0;
    }
    size_t n_bytes = strlen(line);
    size_t n_found = (size_t)-1;
    int rc = ddp_csv_split(line, delimiter, fields, max_fields, &n_found, err);
    FUZZ_CHECK(rc == DDP_OK || rc == DDP_EXIT_USAGE, "split returned %d", rc);
    FUZZ_CHECK(n_found != (size_t)-1, "split did not set *n_fields");
    FUZZ_CHECK(n_found <= n_bytes + 1, "%zu fields on a line of %zu bytes", n_found, n_bytes);
    if (rc == DDP_OK) {
        FUZZ_CHECK(n_found >= 1 && n_found <= max_fields, "ok with %zu fields (cap %zu)", n_found,
                   max_fields);
        for (size_t i = 0; i < n_found; i++) {
            FUZZ_CHECK(fields[i] >= line && fields[i] <= line + n_bytes,
                       "field %zu points outside the line", i);
            FUZZ_CHECK(fields[i] + strlen(fields[i]) <= line + n_bytes,
                       "field %zu runs past the line", i);
        }
        int header = ddp_csv_is_header(fields, n_found);
        FUZZ_CHECK(header == 0 || header == 1, "is_header returned %d", header);
    } else {
        FUZZ_CHECK_MSG(err, "ddp_csv_split");
    }
    free(fields);
    free(line);
    return n_found;
}

/* Run one parse_row into fresh buffers of exactly n_fields / n_fields - 1. */
static void parse_row_once(const uint8_t *data, size_t size, char delimiter, size_t n_fields,
                           size_t label_field, char *err)
{
    char *line = fuzz_strdup(data, size);
    char **fields = malloc(n_fields * sizeof *fields);
    float *x = malloc((n_fields - 1) * sizeof *x + 1); /* + 1: a valid block when empty */
    if (!line || !fields || !x) goto done;
    float label = NAN;
    int rc = ddp_csv_parse_row(line, delimiter, n_fields, label_field, fields, x, &label, err);
    FUZZ_CHECK(rc == DDP_OK || rc == DDP_EXIT_USAGE, "parse_row returned %d", rc);
    if (rc == DDP_OK) {
        FUZZ_CHECK(isfinite(label) && fabsf(label) <= FLT_MAX, "accepted label %g",
                   (double)label);
        for (size_t j = 0; j + 1 < n_fields; j++)
            FUZZ_CHECK(isfinite(x[j]), "accepted value %g in column %zu", (double)x[j], j);
    } else {
        FUZZ_CHECK_MSG(err, "ddp_csv_parse_row");
    }
done:
    free(x);
    free(fields);
    free(line);
}

static void run_delimiter(const uint8_t *data, size_t size, char delimiter, char *err)
{
    size_t n_found = split_once(data, size, delimiter, size + 1, err);
    split_once(data, size, delimiter, 1, err);

    size_t counts[4] = {n_found, 1, 2, 3};
    for (int c = 0; c < 4; c++) {
        size_t n = counts[c];
        if (n == 0 || n > size + 1) continue;
        if (c > 0 && n == n_found) continue; /* already done */
        size_t labels[3] = {0, n / 2, n - 1};
        for (int l = 0; l < 3; l++) {
            if (l > 0 && labels[l] == labels[l - 1]) continue;
            parse_row_once(data, size, delimiter, n, labels[l], err);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *err = malloc(DDP_ERR_LEN);
    if (!err) return 0;

    static const char common[] = {',', '\t', ';', ' ', '|'};
    for (size_t d = 0; d < sizeof common; d++)
        run_delimiter(data, size, common[d], err);
    /* Any other delimiter `--delimiter C` accepts. */
    if (size > 0) {
        char own = (char)data[0];
        if (own != '\0' && own != '"' && own != '\n' && !memchr(common, own, sizeof common))
            run_delimiter(data, size, own, err);
    }

    /* The whole line as one number, and the blank-line test. */
    char *token = fuzz_strdup(data, size);
    if (token) {
        float v = 0.0f;
        int rc = ddp_text_parse_number(token, &v, err);
        FUZZ_CHECK(rc == DDP_OK || rc == DDP_EXIT_USAGE, "parse_number returned %d", rc);
        if (rc == DDP_OK)
            FUZZ_CHECK(isfinite(v), "accepted number %g", (double)v);
        else
            FUZZ_CHECK_MSG(err, "ddp_text_parse_number");
        int blank = ddp_text_is_blank(token);
        FUZZ_CHECK(blank == 0 || blank == 1, "is_blank returned %d", blank);
        free(token);
    }
    free(err);
    return 0;
}
