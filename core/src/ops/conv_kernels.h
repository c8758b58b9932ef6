/* Small inline kernels shared by conv.c and gemm.c: bias + fused activation over a row, and
 * for backward passes the gradient through a fused activation plus sum / dot reductions.
 * The engine is built for x86-64-v3 (AVX2/FMA); the scalar loops are the portable fallback. */
#ifndef CS_CONV_KERNELS_H
#define CS_CONV_KERNELS_H

#include "../graph.h"
#include "../threads.h"

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

/* ---- backward helpers --------------------------------------------------------------------- */

/* Bytes of scratch cs_act_grad needs for an output y (0 without a fused activation), a
 * 64-byte multiple so what follows it in the scratch stays aligned. */
static inline size_t cs_act_grad_bytes(const cs_act *act, const cs_tensor *y)
{
    if (act->kind == CS_ACT_NONE) return 0;
    return (sizeof(float) * (size_t)y->numel + 63) / 64 * 64;
}

typedef struct {
    const cs_act *act;
    const float *y, *gy;
    float *gx;
    int64_t n, chunk;
} cs_act_grad_job;

static inline void cs_act_grad_part(void *ctx, int64_t c0, int64_t c1)
{
    const cs_act_grad_job *j = ctx;
    int64_t b = c0 * j->chunk, e = c1 * j->chunk < j->n ? c1 * j->chunk : j->n;
    if (b < e) cs_act_backward(j->act, j->y + b, j->gy + b, j->gx + b, e - b);
}

/* The gradient w.r.t. the pre-activation output of an op with a fused activation: gy itself
 * when there is none, else act'(y) * gy written into buf (cs_act_grad_bytes). */
static inline const float *cs_act_grad(const cs_exec *ex, const cs_act *act, const cs_tensor *y,
                                       const cs_tensor *gy, float *buf)
{
    if (act->kind == CS_ACT_NONE) return gy->data;
    const int64_t chunk = 16384, chunks = (y->numel + chunk - 1) / chunk;
    cs_act_grad_job j = {act, y->data, gy->data, buf, y->numel, chunk};
    if (chunks < 2)
        cs_act_grad_part(&j, 0, chunks);
    else
        cs_parallel_for(ex, chunks, cs_act_grad_part, &j);
    return buf;
}

/* Sum of x[0..n). */
static inline float cs_sum(const float *x, int64_t n)
{
    int64_t i = 0;
    float s = 0.f;
#ifdef CS_HAVE_AVX2
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_add_ps(a0, _mm256_loadu_ps(x + i));
        a1 = _mm256_add_ps(a1, _mm256_loadu_ps(x + i + 8));
    }
    for (; i + 8 <= n; i += 8) a0 = _mm256_add_ps(a0, _mm256_loadu_ps(x + i));
    a0 = _mm256_add_ps(a0, a1);
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(a0), _mm256_extractf128_ps(a0, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
    s = _mm_cvtss_f32(h);
#endif
    for (; i < n; i++) s += x[i];
    return s;
}

/* Dot product of a[0..n) and b[0..n). */
static inline float cs_dot(const float *a, const float *b, int64_t n)
{
    int64_t i = 0;
    float s = 0.f;
#ifdef CS_HAVE_AVX2
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), a1);
    }
    for (; i + 8 <= n; i += 8)
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), a0);
    a0 = _mm256_add_ps(a0, a1);
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(a0), _mm256_extractf128_ps(a0, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
    s = _mm_cvtss_f32(h);
#endif
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

#endif
