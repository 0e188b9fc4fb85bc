/* fuzz_replay.h — what every harness in tests/fuzz shares: the libFuzzer
 * entry point's prototype, a helper that fails loudly when an invariant
 * breaks, and, when the harness is built WITHOUT libFuzzer (no
 * -DDDP_LIBFUZZER: gcc, CTest), a plain main() that replays inputs from
 * files so regression inputs run in every build:
 *
 *     fuzz_csv FILE|DIR...     each FILE, and every regular file in each DIR
 *                              (sorted, dot files skipped), is fed once
 *
 * It exits 0 when every input went through, 1 when a path cannot be read;
 * a bug aborts (an invariant) or is reported by the sanitizers, as under
 * libFuzzer. Deliberately no mutation here: scripts/fuzz.sh does that. */
#ifndef DDPTRAIN_FUZZ_REPLAY_H
#define DDPTRAIN_FUZZ_REPLAY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant of the code under test does not hold: say which, then abort
 * so libFuzzer keeps the input as a crash and CTest fails. */
#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz invariant failed: %s:%d: %s: ", __FILE__, __LINE__, #cond);      \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A message written by the code under test: NUL-terminated inside its
 * DDP_ERR_LEN buffer, non-empty and one line. */
#define FUZZ_CHECK_MSG(err, what)                                                                  \
    do {                                                                                           \
        FUZZ_CHECK(memchr((err), '\0', DDP_ERR_LEN) != NULL, "%s: message not terminated", what); \
        FUZZ_CHECK((err)[0] != '\0', "%s: failed without a message", what);                       \
        FUZZ_CHECK(strchr((err), '\n') == NULL, "%s: message is not one line: %s", what, err);    \
    } while (0)

/* The bytes as one C string in a heap block of exactly size + 1 bytes, so
 * ASan flags a read one past the terminator. NULL only when out of memory. */
static inline char *fuzz_strdup(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) return NULL;
    if (size) memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

#ifndef DDP_LIBFUZZER
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return 1;
    }
    size_t cap_bytes = 4096, n_bytes = 0;
    uint8_t *buf = malloc(cap_bytes);
    for (;;) {
        if (!buf) break;
        n_bytes += fread(buf + n_bytes, 1, cap_bytes - n_bytes, f);
        if (n_bytes < cap_bytes) break;
        uint8_t *grown = realloc(buf, cap_bytes * 2);
        if (!grown) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = grown;
        cap_bytes *= 2;
    }
    int bad = ferror(f) || !buf;
    fclose(f);
    if (bad) {
        fprintf(stderr, "replay: %s: cannot read\n", path);
        free(buf);
        return 1;
    }
    /* An exact-size copy, as libFuzzer passes it. */
    uint8_t *data = malloc(n_bytes ? n_bytes : 1);
    if (!data) {
        free(buf);
        return 1;
    }
    if (n_bytes) memcpy(data, buf, n_bytes);
    free(buf);
    LLVMFuzzerTestOneInput(data, n_bytes);
    free(data);
    return 0;
}

static int skip_entry(const struct dirent *e)
{
    return e->d_name[0] != '.';
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|DIR...  (replays each input through the harness)\n",
                argv[0]);
        return 2;
    }
    long n_inputs = 0;
    int rc = 0;
    for (int a = 1; a < argc; a++) {
        struct stat st;
        if (stat(argv[a], &st) != 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[a], strerror(errno));
            rc = 1;
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            rc |= replay_file(argv[a]);
            n_inputs++;
            continue;
        }
        struct dirent **names = NULL;
        int n_names = scandir(argv[a], &names, skip_entry, alphasort);
        if (n_names < 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[a], strerror(errno));
            rc = 1;
            continue;
        }
        for (int i = 0; i < n_names; i++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[a], names[i]->d_name);
            if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
                rc |= replay_file(path);
                n_inputs++;
            }
            free(names[i]);
        }
        free(names);
    }
    printf("%s: replayed %ld input(s)%s\n", argv[0], n_inputs, rc ? ", some unreadable" : "");
    return rc;
}
#endif /* DDP_LIBFUZZER */

#endif
