/* Gradient saliency (Simonyan et al. 2014): S = max over input channels of |∂y^c/∂x|, at the
 * input resolution. SmoothGrad (Smilkov et al. 2017): the mean of the saliency maps of n
 * noisy copies x + N(0, (σ·(max − min of x))²), run in batches with one backward pass per
 * batch (each copy's seed is one-hot on class c; the copies are independent). */
#include "explain_internal.h"

#include <math.h>
#include <string.h>

/* map (+)= max_c |g_c| over the C planes of one gradient image. */
static void max_abs(const float *g, int C, int64_t HW, float *map, bool add)
{
    for (int64_t i = 0; i < HW; i++) {
        float m = 0.f;
        for (int c = 0; c < C; c++) {
            float v = fabsf(g[c * HW + i]);
            if (v > m) m = v;
        }
        map[i] = add ? map[i] + m : m;
    }
}

cs_status cs_saliency_run(cs_explainer *e, int cls, cs_error *err)
{
    cs_status st = cs_ex_backward(e, cls, err);
    if (st != CS_OK) return st;
    max_abs(cs_grad_wrt(e->g, 0)->data, e->C, (int64_t)e->H * e->W, e->map->data, false);
    return CS_OK;
}

cs_status cs_smoothgrad_run(cs_explainer *e, int cls, cs_error *err)
{
    int n = e->o.n_samples, B = e->B;
    int64_t HW = (int64_t)e->H * e->W, chw = e->x->numel;
    const float *x = e->x->data;
    float lo = x[0], hi = x[0];
    for (int64_t i = 1; i < chw; i++) {
        if (x[i] < lo) lo = x[i];
        if (x[i] > hi) hi = x[i];
    }
    float *map = e->map->data, *xb = e->xb->data;
    memset(map, 0, sizeof(float) * (size_t)HW);
    for (int i0 = 0; i0 < n; i0 += B) {
        int nb = n - i0 < B ? n - i0 : B;
        for (int b = 0; b < B; b++) {
            if (b < nb)
                cs_ex_noisy_input(e, i0 + b, lo, hi, xb + b * chw);
            else
                memcpy(xb + b * chw, x, sizeof(float) * (size_t)chw);
        }
        cs_status st = cs_plan_run(e->pb, err);
        if (st != CS_OK) return st;
        cs_ex_seed_batch(e, cls, nb);
        if ((st = cs_grad_run(e->gb, err)) != CS_OK) return st;
        const float *g = cs_grad_wrt(e->gb, 0)->data;
        for (int b = 0; b < nb; b++) max_abs(g + b * chw, e->C, HW, map, true);
    }
    for (int64_t i = 0; i < HW; i++) map[i] /= (float)n;
    return CS_OK;
}
