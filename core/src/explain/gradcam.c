/* The gradient-weighted class activation maps: a map of the target layer's activations A^k
 * (K channels of h×w) weighted by functions of g^k = ∂y^c/∂A^k (REFERENCE §3):
 *
 *   Grad-CAM    w_k = (1/Z) Σ_ij g_ij                               L = ReLU(Σ_k w_k A^k)
 *   Grad-CAM++  a_ij = g² / (2g² + S_k g³ + ε), 0 where g = 0,      L = ReLU(Σ_k w_k A^k)
 *               S_k = Σ_ab A^k_ab, w_k = Σ_ij a_ij ReLU(g_ij)
 *               (the closed form with first-order gradients, paper Eq. 19; ε = 1e-12)
 *   XGrad-CAM   w_k = Σ_ij (A_ij / S_k) g_ij  (0 when S_k = 0)     L = ReLU(Σ_k w_k A^k)
 *   LayerCAM    L = ReLU(Σ_k ReLU(g^k) ⊙ A^k)
 *
 * Smooth Grad-CAM++ averages the gradient powers g, g², g³ over n noisy copies of the input
 * and uses them in Grad-CAM++'s formula with the clean image's activations. PV returns the
 * Grad-CAM map plus a decoder's reconstruction of the features; Augmented Grad-CAM solves a
 * super-resolution problem from the Grad-CAMs of augmented copies (superres.h). */
#include "explain_internal.h"

#include <math.h>
#include <string.h>

#define PP_EPS 1e-12

/* map = ReLU(Σ_k wk[k] A^k) */
static void weighted_sum(const float *A, const double *wk, int K, int64_t hw, float *map)
{
    for (int64_t i = 0; i < hw; i++) {
        double s = 0;
        for (int k = 0; k < K; k++) s += wk[k] * A[(int64_t)k * hw + i];
        map[i] = s > 0 ? (float)s : 0.f;
    }
}

/* Grad-CAM++ weights from (averaged) gradient powers g1, g2, g3 and the activations A. */
static void gradcampp_weights(const float *A, const float *g1, const float *g2, const float *g3,
                              int K, int64_t hw, double *wk)
{
    for (int k = 0; k < K; k++) {
        const float *a = A + k * hw;
        double S = 0, w = 0;
        for (int64_t i = 0; i < hw; i++) S += a[i];
        for (int64_t i = 0; i < hw; i++) {
            int64_t j = k * hw + i;
            if (g2[j] == 0.f || g1[j] <= 0.f) continue; /* a = 0, or ReLU(g) = 0 */
            double G2 = g2[j], G3 = g3[j];
            w += G2 / (2 * G2 + S * G3 + PP_EPS) * g1[j];
        }
        wk[k] = w;
    }
}

void cs_gradcam_map(cs_method m, const float *A, const float *g, int K, int hw, double *wk,
                    float *map)
{
    switch (m) {
    case CS_METHOD_GRADCAMPP:
        for (int k = 0; k < K; k++) {
            const float *a = A + (int64_t)k * hw, *gk = g + (int64_t)k * hw;
            double S = 0, w = 0;
            for (int i = 0; i < hw; i++) S += a[i];
            for (int i = 0; i < hw; i++) {
                double G = gk[i];
                if (G <= 0) continue; /* a = 0 where g = 0; ReLU(g) = 0 where g < 0 */
                w += G * G / (2 * G * G + S * G * G * G + PP_EPS) * G;
            }
            wk[k] = w;
        }
        weighted_sum(A, wk, K, hw, map);
        break;
    case CS_METHOD_XGRADCAM:
        for (int k = 0; k < K; k++) {
            const float *a = A + (int64_t)k * hw, *gk = g + (int64_t)k * hw;
            double S = 0, w = 0;
            for (int i = 0; i < hw; i++) {
                S += a[i];
                w += (double)a[i] * gk[i];
            }
            wk[k] = S != 0 ? w / S : 0;
        }
        weighted_sum(A, wk, K, hw, map);
        break;
    case CS_METHOD_LAYERCAM:
        for (int i = 0; i < hw; i++) {
            double s = 0;
            for (int k = 0; k < K; k++) {
                float gk = g[(int64_t)k * hw + i];
                if (gk > 0) s += (double)gk * A[(int64_t)k * hw + i];
            }
            map[i] = s > 0 ? (float)s : 0.f;
        }
        break;
    default: /* Grad-CAM */
        for (int k = 0; k < K; k++) {
            const float *gk = g + (int64_t)k * hw;
            double s = 0;
            for (int i = 0; i < hw; i++) s += gk[i];
            wk[k] = s / hw;
        }
        weighted_sum(A, wk, K, hw, map);
        break;
    }
}

cs_status cs_gradcam_run(cs_explainer *e, int cls, cs_error *err)
{
    cs_status st = cs_ex_backward(e, cls, err);
    if (st != CS_OK) return st;
    cs_gradcam_map(e->o.method, e->A->data, cs_grad_wrt(e->g, 0)->data, e->K, e->h * e->w, e->wk,
                   e->map->data);
    return CS_OK;
}

static void min_max(const float *x, int64_t n, float *lo, float *hi)
{
    float a = x[0], b = x[0];
    for (int64_t i = 1; i < n; i++) {
        if (x[i] < a) a = x[i];
        if (x[i] > b) b = x[i];
    }
    *lo = a;
    *hi = b;
}

cs_status cs_smooth_gradcampp_run(cs_explainer *e, int cls, cs_error *err)
{
    int n = e->o.n_samples, B = e->B, K = e->K;
    int64_t hw = (int64_t)e->h * e->w, khw = K * hw, chw = e->x->numel;
    float *g1 = e->work, *g2 = g1 + khw, *g3 = g2 + khw;
    memset(e->work, 0, sizeof(float) * (size_t)(3 * khw));
    float lo, hi;
    min_max(e->x->data, chw, &lo, &hi);
    float *xb = e->xb->data;
    for (int i0 = 0; i0 < n; i0 += B) {
        int nb = n - i0 < B ? n - i0 : B;
        for (int b = 0; b < B; b++) {
            if (b < nb)
                cs_ex_noisy_input(e, i0 + b, lo, hi, xb + b * chw);
            else
                memcpy(xb + b * chw, e->x->data, sizeof(float) * (size_t)chw);
        }
        cs_status st = cs_plan_run(e->pb, err);
        if (st != CS_OK) return st;
        cs_ex_seed_batch(e, cls, nb);
        if ((st = cs_grad_run(e->gb, err)) != CS_OK) return st;
        const float *g = cs_grad_wrt(e->gb, 0)->data;
        for (int b = 0; b < nb; b++)
            for (int64_t j = 0; j < khw; j++) {
                float v = g[b * khw + j];
                g1[j] += v;
                g2[j] += v * v;
                g3[j] += v * v * v;
            }
    }
    for (int64_t j = 0; j < 3 * khw; j++) e->work[j] /= (float)n;
    gradcampp_weights(e->A->data, g1, g2, g3, K, hw, e->wk);
    weighted_sum(e->A->data, e->wk, K, hw, e->map->data);
    return CS_OK;
}

cs_status cs_pv_run(cs_explainer *e, int cls, cs_error *err)
{
    cs_status st = cs_ex_backward(e, cls, err);
    if (st != CS_OK) return st;
    cs_gradcam_map(CS_METHOD_GRADCAM, e->A->data, cs_grad_wrt(e->g, 0)->data, e->K, e->h * e->w,
                   e->wk, e->map->data);
    memcpy(e->pd_in->data, e->A->data, cs_tensor_bytes(e->A));
    return cs_plan_run(e->pd, err);
}

cs_status cs_augmented_run(cs_explainer *e, int cls, cs_error *err)
{
    int L = e->o.aug_count, B = e->B, C = e->C, H = e->H, W = e->W;
    int64_t HW = (int64_t)H * W, chw = C * HW, hw = (int64_t)e->h * e->w;
    const float *x = e->x->data;
    float *xb = e->xb->data;
    for (int l0 = 0; l0 < L; l0 += B) {
        int nb = L - l0 < B ? L - l0 : B;
        for (int b = 0; b < B; b++) {
            if (b < nb)
                for (int c = 0; c < C; c++)
                    cs_warp_apply(&e->warps[l0 + b], x + c * HW, H, W, xb + b * chw + c * HW);
            else
                memcpy(xb + b * chw, x, sizeof(float) * (size_t)chw);
        }
        cs_status st = cs_plan_run(e->pb, err);
        if (st != CS_OK) return st;
        cs_ex_seed_batch(e, cls, nb);
        if ((st = cs_grad_run(e->gb, err)) != CS_OK) return st;
        const float *A = e->Ab->data, *g = cs_grad_wrt(e->gb, 0)->data;
        for (int b = 0; b < nb; b++)
            cs_gradcam_map(CS_METHOD_GRADCAM, A + b * e->K * hw, g + b * e->K * hw, e->K, (int)hw,
                           e->wk, e->aug_low + (l0 + b) * hw);
    }
    return cs_superres_solve(e->aug_low, e->warps, L, e->h, e->w, H, W, e->o.aug_lambda,
                             e->o.aug_mu, e->o.aug_iterations, e->map->data, e->aug_scratch, err);
}
