/* textparse.h — line parsers for the text formats `ddptrain convert` reads:
 * CSV/TSV (RFC-4180 quoting on a single line) and LIBSVM/SVMlight.
 *
 * Pure functions: no I/O, no HDF5, no MPI, and no allocation; the caller
 * provides every buffer. Messages written into `err` (DDP_ERR_LEN bytes) say
 * what is wrong, which field or pair (1-based) and quote the offending token
 * (truncated); they do NOT name the file or the line — the caller knows those
 * and prefixes them ("data.csv: line 17: ...").
 *
 * Numbers are parsed with strtod in the C locale and must consume the whole
 * token. Training data must be finite and fit float32, so empty fields,
 * "nan"/"inf" and |v| > FLT_MAX are errors, not silently stored values.
 * Not here: multi-line quoted fields, missing-value imputation, type
 * inference beyond "is it a number". */
#ifndef DDPTRAIN_TEXTPARSE_H
#define DDPTRAIN_TEXTPARSE_H

#include <stddef.h>
#include <stdint.h>

/* Bytes of an offending token quoted in a message before it is cut with "...". */
#define DDP_TEXT_TOKEN_SHOW 40

/* Parse one whole token as a finite number that fits float32. Leading and
 * trailing spaces are not allowed here (the CSV splitter trims them).
 * Returns DDP_OK or DDP_EXIT_USAGE with a message quoting the token. */
int ddp_text_parse_number(const char *token, float *out, char *err);

/* Is the line blank (only spaces, tabs, '\r', '\n')? Blank lines are skipped
 * by the converter in both formats. */
int ddp_text_is_blank(const char *line);

/* Split one CSV line IN PLACE: a trailing "\n" / "\r\n" is dropped, fields
 * are separated by `delimiter`, surrounding spaces/tabs are trimmed (except
 * the delimiter itself), and a field that starts with '"' is unquoted ("" is
 * a literal quote; the delimiter is literal inside quotes). On return
 * fields[i] points at NUL-terminated text inside `line`.
 *
 * *n_fields receives the number of fields on the line even when it exceeds
 * `max_fields` (then only the first max_fields are stored and the call fails),
 * so the caller can report "expected E, found N". A line of n_bytes bytes has
 * at most n_bytes + 1 fields. Errors: unterminated quote, text after a
 * closing quote, too many fields. */
int ddp_csv_split(char *line, char delimiter, char **fields, size_t max_fields, size_t *n_fields,
                  char *err);

/* Header detection for an already split first line: 1 if some field is
 * non-empty and not a number (e.g. "age"; "nan" and "inf" count as numbers
 * so a data row holding them is not mistaken for a header), else 0. */
int ddp_csv_is_header(char *const *fields, size_t n_fields);

/* Split and parse one CSV data row of exactly n_fields fields, field
 * `label_field` (0-based) being the label: x receives the other
 * n_fields - 1 values in file order, *label the label. `fields` is scratch of
 * n_fields entries. Errors: wrong field count ("expected 5 fields, found 4"),
 * empty field, non-numeric field, nan/inf, float32 overflow, quoting errors. */
int ddp_csv_parse_row(char *line, char delimiter, size_t n_fields, size_t label_field,
                      char **fields, float *x, float *label, char *err);

/* Parse one LIBSVM/SVMlight line: `label idx:val idx:val ... [# comment]`,
 * separated by spaces or tabs. A `qid:N` token is skipped; everything from
 * '#' on is ignored. Indices are decimal integers in [min_index, max_index]
 * (min_index 1 for one-based files, 0 for zero-based) and strictly
 * increasing. Up to cap_pairs pairs go to indices[] / values[]; more is an
 * error. A line of n_bytes bytes has at most ddp_libsvm_max_pairs(n_bytes)
 * pairs, so a capacity from that bound never fails. */
int ddp_libsvm_parse_line(const char *line, int64_t min_index, int64_t max_index, float *label,
                          int64_t *indices, float *values, size_t cap_pairs, size_t *n_pairs,
                          char *err);

/* Upper bound on the idx:val pairs a LIBSVM line of line_bytes bytes can hold. */
size_t ddp_libsvm_max_pairs(size_t line_bytes);

#endif
