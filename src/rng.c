/* rng.c — splitmix64 streams keyed by (seed, stream). See rng.h. */
#include "ddptrain/rng.h"

#include <math.h>

#define GOLDEN UINT64_C(0x9e3779b97f4a7c15)

uint64_t ddp_mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 27;
    x *= UINT64_C(0x94d049bb133111eb);
    x ^= x >> 31;
    return x;
}

ddp_rng ddp_rng_make(uint64_t seed, uint64_t stream)
{
    ddp_rng r = {ddp_mix64(seed + GOLDEN) ^ ddp_mix64(stream * GOLDEN + UINT64_C(0x632be59bd9b4e019))};
    return r;
}

uint64_t ddp_rng_next(ddp_rng *rng)
{
    rng->state += GOLDEN;
    return ddp_mix64(rng->state);
}

double ddp_rng_uniform(ddp_rng *rng)
{
    return (double)(ddp_rng_next(rng) >> 11) * 0x1.0p-53;
}

double ddp_rng_normal(ddp_rng *rng)
{
    double u1 = ddp_rng_uniform(rng);
    double u2 = ddp_rng_uniform(rng);
    if (u1 < 0x1.0p-60) u1 = 0x1.0p-60; /* log(0) guard */
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2);
}

void ddp_rng_normal2(ddp_rng *rng, double *a, double *b)
{
    double u1 = ddp_rng_uniform(rng);
    double u2 = ddp_rng_uniform(rng);
    if (u1 < 0x1.0p-60) u1 = 0x1.0p-60;
    double r = sqrt(-2.0 * log(u1)), t = 6.283185307179586476925 * u2;
    *a = r * cos(t);
    *b = r * sin(t);
}

uint64_t ddp_rng_below(ddp_rng *rng, uint64_t n)
{
    /* Lemire's multiply-shift with rejection: unbiased for every n. */
    uint64_t x = ddp_rng_next(rng);
    __uint128_t m = (__uint128_t)x * n;
    uint64_t low = (uint64_t)m;
    if (low < n) {
        uint64_t threshold = (0 - n) % n;
        while (low < threshold) {
            x = ddp_rng_next(rng);
            m = (__uint128_t)x * n;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}
