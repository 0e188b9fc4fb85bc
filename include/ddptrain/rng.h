/* rng.h — counter-based random numbers. A stream is fully determined by
 * (seed, stream id), so "row i of the dataset" or "virtual shard v in epoch e"
 * gets the same numbers whichever rank computes it and however many ranks
 * there are. splitmix64 underneath: fast, 2^64 period per stream, and good
 * enough for data generation and shuffling (not for cryptography). */
#ifndef DDPTRAIN_RNG_H
#define DDPTRAIN_RNG_H

#include <stdint.h>

typedef struct ddp_rng {
    uint64_t state;
} ddp_rng;

/* A generator for one stream of one seed. */
ddp_rng ddp_rng_make(uint64_t seed, uint64_t stream);
/* Uniform in [0, 1) with 53 random bits. */
double ddp_rng_uniform(ddp_rng *rng);
/* Standard normal (Box-Muller; uses two uniforms per call, no hidden cache,
 * so the stream position is a pure function of the number of calls). */
double ddp_rng_normal(ddp_rng *rng);
/* Two independent standard normals from one Box-Muller draw (both outputs). */
void ddp_rng_normal2(ddp_rng *rng, double *a, double *b);

/* splitmix64's increment (2^64 / golden ratio) */
#define DDP_RNG_GOLDEN UINT64_C(0x9e3779b97f4a7c15)

/* The splitmix64 finaliser: a 64-bit bijective mix, used for hashing. */
static inline uint64_t ddp_mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 27;
    x *= UINT64_C(0x94d049bb133111eb);
    x ^= x >> 31;
    return x;
}

/* The next 64 random bits of the stream. Inline, like ddp_rng_below: the
 * epoch shuffle draws once per row, and out of line its first-epoch data
 * span (shuffle and layout, 1 M rows, 2 threads) took 2.1-3.2 ms, inline
 * 1.5-2.1 ms. */
static inline uint64_t ddp_rng_next(ddp_rng *rng)
{
    rng->state += DDP_RNG_GOLDEN;
    return ddp_mix64(rng->state);
}

/* Uniform integer in [0, n), unbiased; n > 0: Lemire's multiply-shift with
 * rejection. */
static inline uint64_t ddp_rng_below(ddp_rng *rng, uint64_t n)
{
    uint64_t x = ddp_rng_next(rng);
    __uint128_t m = (__uint128_t)x * n;
    uint64_t low = (uint64_t)m;
    if (__builtin_expect(low < n, 0)) {
        uint64_t threshold = (0 - n) % n;
        while (low < threshold) {
            x = ddp_rng_next(rng);
            m = (__uint128_t)x * n;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

/* 32-bit draws, two from each 64-bit output (low half first): the epoch
 * shuffle's bounds fit 32 bits, and half a splitmix64 output per row made
 * its Fisher-Yates pass 1.4-1.5 ns a row instead of 2.2 (2 M rows). */
typedef struct ddp_rng32 {
    ddp_rng rng;
    uint64_t spare; /* the unused high half, when have_spare */
    int have_spare;
} ddp_rng32;

static inline ddp_rng32 ddp_rng32_make(uint64_t seed, uint64_t stream)
{
    ddp_rng32 r = {ddp_rng_make(seed, stream), 0, 0};
    return r;
}

static inline uint32_t ddp_rng32_next(ddp_rng32 *r)
{
    if (r->have_spare) {
        r->have_spare = 0;
        return (uint32_t)r->spare;
    }
    uint64_t x = ddp_rng_next(&r->rng);
    r->spare = x >> 32;
    r->have_spare = 1;
    return (uint32_t)x;
}

/* Uniform integer in [0, n), unbiased; 0 < n <= 2^32 - 1: Lemire's
 * multiply-shift with rejection, on 32-bit draws. */
static inline uint32_t ddp_rng32_below(ddp_rng32 *r, uint32_t n)
{
    uint64_t m = (uint64_t)ddp_rng32_next(r) * n;
    uint32_t low = (uint32_t)m;
    if (__builtin_expect(low < n, 0)) {
        uint32_t threshold = (0u - n) % n;
        while (low < threshold) {
            m = (uint64_t)ddp_rng32_next(r) * n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

#endif
