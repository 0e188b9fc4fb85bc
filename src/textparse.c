/* textparse.c — CSV/TSV and LIBSVM line parsers for `ddptrain convert`.
 *
 * Every function works on one line the caller already read and owns; nothing
 * here reads files, allocates or knows about HDF5/MPI, so the unit tests can
 * drive each malformed-line case directly. Messages name the field or pair
 * (1-based) and quote the token; the caller prefixes file name and line
 * number. Deliberately not supported: quoted fields spanning lines, missing
 * values (an empty field is an error, not a NaN), locales with ',' decimals. */
#include "ddptrain/textparse.h"
#include "ddptrain/common.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h> /* snprintf only */
#include <stdlib.h>
#include <string.h>

/* Why a token is not a usable training value. */
typedef enum num_status {
    NUM_OK = 0,
    NUM_EMPTY,
    NUM_NOT_NUMBER,
    NUM_NONFINITE,
    NUM_OVERFLOW,
} num_status;

/* Quote at most DDP_TEXT_TOKEN_SHOW bytes of tok[0, n_bytes) into out,
 * control bytes shown as '?', "..." when cut. */
static void show_token(const char *tok, size_t n_bytes, char *out, size_t out_bytes)
{
    size_t n_show = n_bytes < DDP_TEXT_TOKEN_SHOW ? n_bytes : DDP_TEXT_TOKEN_SHOW;
    size_t w = 0;
    for (size_t i = 0; i < n_show && w + 1 < out_bytes; i++) {
        unsigned char c = (unsigned char)tok[i];
        out[w++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (n_show < n_bytes) {
        for (int i = 0; i < 3 && w + 1 < out_bytes; i++)
            out[w++] = '.';
    }
    out[w] = '\0';
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Spaces trimmed around CSV fields, unless they are the delimiter. */
static int is_trim(char c, char delimiter)
{
    return (c == ' ' || c == '\t') && c != delimiter;
}

/* tok[0, n_bytes) as a finite float32. strtod stops at whitespace, ':', '#'
 * and NUL, so it never runs past a token the callers delimit that way. */
static num_status parse_float(const char *tok, size_t n_bytes, float *out)
{
    if (n_bytes == 0) return NUM_EMPTY;
    if (is_space(tok[0])) return NUM_NOT_NUMBER; /* strtod would skip it */
    char *end = NULL;
    errno = 0;
    double v = strtod(tok, &end);
    if (end == tok || end != tok + n_bytes) return NUM_NOT_NUMBER;
    if (isinf(v) && errno == ERANGE) return NUM_OVERFLOW; /* "1e999" */
    if (!isfinite(v)) return NUM_NONFINITE;               /* "nan", "inf" */
    if (fabs(v) > (double)FLT_MAX) return NUM_OVERFLOW;
    *out = (float)v; /* underflow (ERANGE with a tiny v) rounds towards 0: fine */
    return NUM_OK;
}

/* One-line reason for a failed parse_float, quoting the token. */
static void describe_number(num_status st, const char *tok, size_t n_bytes, char *out,
                            size_t out_bytes)
{
    char shown[DDP_TEXT_TOKEN_SHOW + 8];
    show_token(tok, n_bytes, shown, sizeof shown);
    switch (st) {
    case NUM_EMPTY:
        snprintf(out, out_bytes,
                 "empty (no number); training data needs a value here (fill it in or drop the "
                 "row)");
        break;
    case NUM_NOT_NUMBER:
        snprintf(out, out_bytes, "'%s' is not a number", shown);
        break;
    case NUM_NONFINITE:
        snprintf(out, out_bytes,
                 "'%s' is not a finite number; training data must be finite (impute or drop the "
                 "row)",
                 shown);
        break;
    case NUM_OVERFLOW:
        snprintf(out, out_bytes, "'%s' overflows float32 (|v| > %.3g); rescale the column", shown,
                 (double)FLT_MAX);
        break;
    case NUM_OK:
        snprintf(out, out_bytes, "ok");
        break;
    }
}

int ddp_text_parse_number(const char *token, float *out, char *err)
{
    size_t n_bytes = strlen(token);
    num_status st = parse_float(token, n_bytes, out);
    if (st == NUM_OK) return DDP_OK;
    char why[DDP_ERR_LEN];
    describe_number(st, token, n_bytes, why, sizeof why);
    ddp_errf(err, "%s", why);
    return DDP_EXIT_USAGE;
}

int ddp_text_is_blank(const char *line)
{
    for (const char *p = line; *p; p++)
        if (!is_space(*p)) return 0;
    return 1;
}

int ddp_csv_split(char *line, char delimiter, char **fields, size_t max_fields, size_t *n_fields,
                  char *err)
{
    size_t n_bytes = strlen(line);
    while (n_bytes > 0 && (line[n_bytes - 1] == '\n' || line[n_bytes - 1] == '\r'))
        line[--n_bytes] = '\0';
    char *const end = line + n_bytes;
    char *p = line;
    size_t n = 0;
    char shown[DDP_TEXT_TOKEN_SHOW + 8];
    int rc = DDP_OK;

    for (;;) {
        while (p < end && is_trim(*p, delimiter))
            p++;
        char *start = p; /* the field's text begins here (after unquoting too) */
        char *stop = NULL;
        if (p < end && *p == '"') {
            /* Unquote in place: the text only shrinks, so the write cursor w
             * never overtakes the read cursor q. */
            char *w = p, *q = p + 1;
            int closed = 0;
            while (q < end) {
                if (*q == '"') {
                    if (q + 1 < end && q[1] == '"') {
                        *w++ = '"';
                        q += 2;
                        continue;
                    }
                    closed = 1;
                    q++;
                    break;
                }
                *w++ = *q++;
            }
            if (!closed) {
                show_token(start, (size_t)(w - start), shown, sizeof shown);
                ddp_errf(err,
                         "field %zu: unterminated quote (text after it: '%s'); close it with '\"' "
                         "(quoted fields cannot span lines)",
                         n + 1, shown);
                rc = DDP_EXIT_USAGE;
                goto done;
            }
            while (q < end && is_trim(*q, delimiter))
                q++;
            if (q < end && *q != delimiter) {
                size_t n_rest = strcspn(q, (char[]){delimiter, '\0'});
                show_token(q, n_rest, shown, sizeof shown);
                ddp_errf(err,
                         "field %zu: unexpected text '%s' after the closing quote; quote the whole "
                         "field and write quotes inside it as \"\"",
                         n + 1, shown);
                rc = DDP_EXIT_USAGE;
                goto done;
            }
            stop = w;
            p = q;
        } else {
            while (p < end && *p != delimiter)
                p++;
            stop = p;
            while (stop > start && is_trim(stop[-1], delimiter))
                stop--;
        }
        int at_delimiter = p < end; /* decided before the NUL below may overwrite it */
        if (n < max_fields) fields[n] = start;
        n++;
        *stop = '\0';
        if (!at_delimiter) break;
        p++;
    }
    if (n > max_fields) {
        ddp_errf(err, "too many fields: found %zu, at most %zu expected", n, max_fields);
        rc = DDP_EXIT_USAGE;
    }
done:
    *n_fields = n;
    return rc;
}

int ddp_csv_is_header(char *const *fields, size_t n_fields)
{
    for (size_t i = 0; i < n_fields; i++) {
        float v = 0.0f;
        if (parse_float(fields[i], strlen(fields[i]), &v) == NUM_NOT_NUMBER) return 1;
    }
    return 0;
}

int ddp_csv_parse_row(char *line, char delimiter, size_t n_fields, size_t label_field,
                      char **fields, float *x, float *label, char *err)
{
    DDP_ASSERT(label_field < n_fields);
    char why[DDP_ERR_LEN];
    size_t n_found = 0;
    int rc = ddp_csv_split(line, delimiter, fields, n_fields, &n_found, why);
    if (rc == DDP_OK && n_found != n_fields) rc = DDP_EXIT_USAGE;
    if (rc != DDP_OK && n_found != n_fields && strstr(why, "quote") == NULL) {
        char hint[96] = "";
        if (n_found == 1 && delimiter == '\t')
            snprintf(hint, sizeof hint, " (the delimiter is tab; is that right? see --delimiter)");
        else if (n_found == 1)
            snprintf(hint, sizeof hint, " (the delimiter is '%c'; is that right? see --delimiter)",
                     delimiter);
        ddp_errf(err,
                 "expected %zu fields, found %zu; every row needs as many fields as the first "
                 "line%s",
                 n_fields, n_found, hint);
        return DDP_EXIT_USAGE;
    }
    if (rc != DDP_OK) {
        ddp_errf(err, "%s", why);
        return rc;
    }
    size_t j = 0;
    for (size_t i = 0; i < n_fields; i++) {
        float v = 0.0f;
        size_t n_bytes = strlen(fields[i]);
        num_status st = parse_float(fields[i], n_bytes, &v);
        if (st != NUM_OK) {
            describe_number(st, fields[i], n_bytes, why, sizeof why);
            ddp_errf(err, "field %zu of %zu%s: %s", i + 1, n_fields,
                     i == label_field ? " (the label)" : "", why);
            return DDP_EXIT_USAGE;
        }
        if (i == label_field)
            *label = v;
        else
            x[j++] = v;
    }
    return DDP_OK;
}

size_t ddp_libsvm_max_pairs(size_t line_bytes)
{
    /* label (>= 1 byte), then each pair takes >= 4 bytes: a separator + "i:v" */
    return line_bytes / 4 + 1;
}

/* Decimal index digits tok[0, n_bytes): DDP_OK, or a message in why. */
static int parse_index(const char *tok, size_t n_bytes, int64_t *out, char *why, size_t why_bytes)
{
    char shown[DDP_TEXT_TOKEN_SHOW + 8];
    show_token(tok, n_bytes, shown, sizeof shown);
    if (n_bytes == 0) {
        snprintf(why, why_bytes, "missing index before ':'");
        return DDP_EXIT_USAGE;
    }
    if (tok[0] == '-') {
        snprintf(why, why_bytes, "negative index '%s'; indices count features from 0 or 1", shown);
        return DDP_EXIT_USAGE;
    }
    int64_t v = 0;
    for (size_t i = 0; i < n_bytes; i++) {
        if (tok[i] < '0' || tok[i] > '9') {
            snprintf(why, why_bytes, "index '%s' is not a non-negative integer", shown);
            return DDP_EXIT_USAGE;
        }
        if (v > (INT64_MAX - 9) / 10) {
            snprintf(why, why_bytes, "index '%s' is too large", shown);
            return DDP_EXIT_USAGE;
        }
        v = v * 10 + (tok[i] - '0');
    }
    *out = v;
    return DDP_OK;
}

int ddp_libsvm_parse_line(const char *line, int64_t min_index, int64_t max_index, float *label,
                          int64_t *indices, float *values, size_t cap_pairs, size_t *n_pairs,
                          char *err)
{
    char shown[DDP_TEXT_TOKEN_SHOW + 8], why[DDP_ERR_LEN];
    const char *const end = line + strcspn(line, "#"); /* a comment runs to the end */
    const char *p = line;
    size_t n = 0;
    int64_t prev = min_index - 1;
    int rc = DDP_EXIT_USAGE;

    while (p < end && is_space(*p))
        p++;
    const char *tok = p;
    while (p < end && !is_space(*p))
        p++;
    size_t tok_bytes = (size_t)(p - tok);
    if (tok_bytes == 0) {
        ddp_errf(err, "missing label: a LIBSVM line is 'label idx:val idx:val ...'");
        goto done;
    }
    num_status st = parse_float(tok, tok_bytes, label);
    if (st != NUM_OK) {
        describe_number(st, tok, tok_bytes, why, sizeof why);
        ddp_errf(err, "label: %s%s", why,
                 memchr(tok, ':', tok_bytes) ? " (the line must start with the label: 'label "
                                               "idx:val ...')"
                                             : "");
        goto done;
    }

    for (;;) {
        while (p < end && is_space(*p))
            p++;
        if (p == end) break;
        tok = p;
        while (p < end && !is_space(*p))
            p++;
        tok_bytes = (size_t)(p - tok);
        show_token(tok, tok_bytes, shown, sizeof shown);
        if (tok_bytes >= 4 && memcmp(tok, "qid:", 4) == 0) continue; /* SVMlight query id */
        const char *colon = memchr(tok, ':', tok_bytes);
        if (!colon) {
            ddp_errf(err, "pair %zu: missing ':' in '%s'; pairs are written idx:val", n + 1, shown);
            goto done;
        }
        int64_t idx = 0;
        if (parse_index(tok, (size_t)(colon - tok), &idx, why, sizeof why) != DDP_OK) {
            ddp_errf(err, "pair %zu ('%s'): %s", n + 1, shown, why);
            goto done;
        }
        if (idx < min_index) {
            ddp_errf(err,
                     "pair %zu ('%s'): index %lld in a one-based file; indices start at 1 (use "
                     "--zero-based if the file counts features from 0)",
                     n + 1, shown, (long long)idx);
            goto done;
        }
        if (idx > max_index) {
            ddp_errf(err,
                     "pair %zu ('%s'): index %lld is above the largest allowed index %lld (raise "
                     "--n-features or check the file's indexing)",
                     n + 1, shown, (long long)idx, (long long)max_index);
            goto done;
        }
        if (idx <= prev) {
            ddp_errf(err,
                     "pair %zu ('%s'): index %lld is not greater than the previous index %lld; "
                     "indices must be strictly increasing (sort each line's pairs, no duplicates)",
                     n + 1, shown, (long long)idx, (long long)prev);
            goto done;
        }
        float v = 0.0f;
        const char *val = colon + 1;
        size_t val_bytes = (size_t)(tok + tok_bytes - val);
        st = parse_float(val, val_bytes, &v);
        if (st != NUM_OK) {
            describe_number(st, val, val_bytes, why, sizeof why);
            ddp_errf(err, "pair %zu ('%s'): value %s", n + 1, shown, why);
            goto done;
        }
        if (n >= cap_pairs) {
            ddp_errf(err,
                     "more than %zu index:value pairs on one line; raise the pair capacity (the "
                     "caller sizes it from ddp_libsvm_max_pairs) or check for joined lines",
                     cap_pairs);
            goto done;
        }
        indices[n] = idx;
        values[n] = v;
        n++;
        prev = idx;
    }
    rc = DDP_OK;
done:
    *n_pairs = n;
    return rc;
}
