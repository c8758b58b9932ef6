/* The PRNG of train/ (training and camstream synth): xoshiro256**, seeded through splitmix64,
 * so the same seed gives the same weights, shuffles, augmentations and synthetic images on
 * every machine and libc. */
#include "camstream/train.h"

#include <math.h>

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void cs_rng_seed(cs_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) r->s[i] = splitmix(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t cs_rng_next(cs_rng *r)
{
    uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

double cs_rng_uniform(cs_rng *r)
{
    return (double)(cs_rng_next(r) >> 11) * 0x1.0p-53;
}

uint32_t cs_rng_below(cs_rng *r, uint32_t n)
{
    return n ? (uint32_t)(((cs_rng_next(r) >> 32) * (uint64_t)n) >> 32) : 0;
}

double cs_rng_normal(cs_rng *r)
{
    /* Box-Muller; one value per call keeps the stream position simple */
    double u = cs_rng_uniform(r), v = cs_rng_uniform(r);
    return sqrt(-2.0 * log(1.0 - u)) * cos(6.283185307179586 * v);
}
