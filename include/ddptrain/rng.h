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
uint64_t ddp_rng_next(ddp_rng *rng);
/* Uniform in [0, 1) with 53 random bits. */
double ddp_rng_uniform(ddp_rng *rng);
/* Standard normal (Box-Muller; uses two uniforms per call, no hidden cache,
 * so the stream position is a pure function of the number of calls). */
double ddp_rng_normal(ddp_rng *rng);
/* Two independent standard normals from one Box-Muller draw (both outputs). */
void ddp_rng_normal2(ddp_rng *rng, double *a, double *b);
/* Uniform integer in [0, n), unbiased; n > 0. */
uint64_t ddp_rng_below(ddp_rng *rng, uint64_t n);
/* The splitmix64 finaliser: a 64-bit bijective mix, used for hashing. */
uint64_t ddp_mix64(uint64_t x);

#endif
