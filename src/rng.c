/* rng.c — splitmix64 streams keyed by (seed, stream). See rng.h. */
#include "ddptrain/rng.h"

#include <math.h>

ddp_rng ddp_rng_make(uint64_t seed, uint64_t stream)
{
    ddp_rng r = {ddp_mix64(seed + DDP_RNG_GOLDEN) ^
                 ddp_mix64(stream * DDP_RNG_GOLDEN + UINT64_C(0x632be59bd9b4e019))};
    return r;
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
