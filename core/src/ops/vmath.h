/* Small float helpers for element-wise kernels, written so GCC vectorizes the loops that use
 * them (libm's expf and fminf/fmaxf stay scalar library calls). */
#ifndef CS_VMATH_H
#define CS_VMATH_H

#include <stdint.h>
#include <string.h>

/* Compare-selects (one vmaxps/vminps when vectorized), not fminf/fmaxf, which GCC leaves as
 * library calls because of their NaN rules. */
#define MAXF(a, b) ((a) > (b) ? (a) : (b))
#define MINF(a, b) ((a) < (b) ? (a) : (b))

static inline float cs_as_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint32_t cs_as_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* exp(x) within ~1 ulp (Cephes' polynomial) in branch-free code GCC vectorizes. Inputs are
 * clamped to [-87.3, 88], where 2^n is a normal float. */
static inline float exp_fast(float x)
{
    x = MAXF(x, -87.3f);
    x = MINF(x, 88.f);
    const float magic = 12582912.f; /* 1.5 * 2^23: adding it rounds to an integer */
    float t = x * 1.44269504088896341f + magic;
    uint32_t n = cs_as_bits(t) - cs_as_bits(magic);
    float k = t - magic;
    float r = x - k * 0.693359375f - k * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.f;
    return p * cs_as_float((n + 127u) << 23);
}

#endif
