/* Small inline kernels shared by conv.c and gemm.c: bias + fused activation over a row.
 * The engine is built for x86-64-v3 (AVX2/FMA); the scalar loops are the portable fallback. */
#ifndef CS_CONV_KERNELS_H
#define CS_CONV_KERNELS_H

#include "../graph.h"

#include <math.h>
#include <stdint.h>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define CS_HAVE_AVX2 1
#endif

/* True when the activation is one of the cheap kinds the kernels apply in registers. */
static inline int cs_act_is_inline(const cs_act *act)
{
    return act->kind == CS_ACT_NONE || act->kind == CS_ACT_RELU || act->kind == CS_ACT_CLIP;
}

/* Clamp bounds of an inline activation (NONE / RELU / CLIP) as [lo, hi]. */
static inline void cs_act_bounds(const cs_act *act, float *lo, float *hi)
{
    *lo = -INFINITY;
    *hi = INFINITY;
    if (act->kind == CS_ACT_RELU) *lo = 0.f;
    if (act->kind == CS_ACT_CLIP) {
        *lo = act->a;
        *hi = act->b;
    }
}

/* x[i] = act(x[i] + bias) for i < n. NaN inputs map like cs_act_apply (max/min pick the
 * bound), so the fused and unfused paths agree. */
static inline void cs_bias_act_row(float *x, int64_t n, float bias, const cs_act *act)
{
    if (!cs_act_is_inline(act)) {
        if (bias != 0.f)
            for (int64_t i = 0; i < n; i++) x[i] += bias;
        cs_act_apply(act, x, n);
        return;
    }
    if (act->kind == CS_ACT_NONE) {
        if (bias != 0.f)
            for (int64_t i = 0; i < n; i++) x[i] += bias;
        return;
    }
    float lo, hi;
    cs_act_bounds(act, &lo, &hi);
    int64_t i = 0;
#ifdef CS_HAVE_AVX2
    const __m256 vb = _mm256_set1_ps(bias), vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_add_ps(_mm256_loadu_ps(x + i), vb);
        v = _mm256_min_ps(_mm256_max_ps(v, vlo), vhi);
        _mm256_storeu_ps(x + i, v);
    }
#endif
    for (; i < n; i++) {
        float v = x[i] + bias;
        v = v > lo ? v : lo;
        x[i] = v < hi ? v : hi;
    }
}

#endif
