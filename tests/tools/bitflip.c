/* bitflip.c — make one bit-flip mutant of a file, reproducibly:
 *
 *     bitflip IN OUT SEED N_FLIPS [WINDOW_BYTES]
 *
 * copies IN to OUT with N_FLIPS distinct bits flipped, chosen by a
 * splitmix64 stream started from SEED, so (IN, SEED, N_FLIPS, WINDOW) names
 * the mutant exactly. With WINDOW_BYTES the flips fall in the first
 * WINDOW_BYTES bytes only (where HDF5 keeps most of a small file's metadata);
 * without it, anywhere. Prints one line per flip: "byte OFFSET bit B".
 * Exit 0, or 2 with a message on bad arguments / I/O errors.
 *
 * Plain C on purpose: no HDF5, no MPI, no ddptrain code, so the mutator
 * cannot share a bug with what it tests. scripts/mutants.sh drives it. */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FLIPS 4096

/* splitmix64 (Steele, Lea, Flood 2014): one 64-bit state, full period. */
static uint64_t splitmix64_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* A whole decimal (or 0x hex) number into *out; -1 if it is not one. */
static int parse_u64(const char *s, uint64_t *out)
{
    if (!s[0] || s[0] == '-') return -1;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *end != '\0') return -1;
    *out = (uint64_t)v;
    return 0;
}

static unsigned char *read_all(const char *path, size_t *n_bytes)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "bitflip: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap_bytes = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap_bytes);
    while (buf) {
        n += fread(buf + n, 1, cap_bytes - n, f);
        if (n < cap_bytes) break;
        unsigned char *grown = realloc(buf, cap_bytes * 2);
        if (!grown) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = grown;
        cap_bytes *= 2;
    }
    if (!buf || ferror(f)) {
        fprintf(stderr, "bitflip: %s: cannot read\n", path);
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *n_bytes = n;
    return buf;
}

int main(int argc, char **argv)
{
    uint64_t seed = 0, n_flips = 0, window_bytes = 0;
    if ((argc != 5 && argc != 6) || parse_u64(argv[3], &seed) || parse_u64(argv[4], &n_flips) ||
        n_flips > MAX_FLIPS || (argc == 6 && (parse_u64(argv[5], &window_bytes) || !window_bytes))) {
        fprintf(stderr, "usage: bitflip IN OUT SEED N_FLIPS [WINDOW_BYTES]  (N_FLIPS <= %d)\n",
                MAX_FLIPS);
        return 2;
    }
    size_t n_bytes = 0;
    unsigned char *buf = read_all(argv[1], &n_bytes);
    if (!buf) return 2;
    uint64_t n_bits = (uint64_t)n_bytes * 8;
    if (window_bytes && window_bytes < n_bytes) n_bits = window_bytes * 8;
    if (n_flips > n_bits) {
        fprintf(stderr, "bitflip: %s: %" PRIu64 " flips asked, only %" PRIu64 " bits to flip\n",
                argv[1], n_flips, n_bits);
        free(buf);
        return 2;
    }

    uint64_t state = seed, chosen[MAX_FLIPS];
    for (uint64_t i = 0; i < n_flips; i++) {
        uint64_t bit;
        int again;
        do { /* distinct bits: a second flip of the same bit would undo the first */
            bit = splitmix64_next(&state) % n_bits;
            again = 0;
            for (uint64_t j = 0; j < i; j++)
                if (chosen[j] == bit) again = 1;
        } while (again);
        chosen[i] = bit;
        buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        printf("byte %" PRIu64 " bit %u\n", bit / 8, (unsigned)(bit % 8));
    }

    FILE *out = fopen(argv[2], "wb");
    if (!out) {
        fprintf(stderr, "bitflip: %s: %s\n", argv[2], strerror(errno));
        free(buf);
        return 2;
    }
    int bad = fwrite(buf, 1, n_bytes, out) != n_bytes;
    bad |= fclose(out) != 0;
    free(buf);
    if (bad) {
        fprintf(stderr, "bitflip: %s: write failed\n", argv[2]);
        return 2;
    }
    return 0;
}
