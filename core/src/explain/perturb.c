/* Perturbation methods: batched forward passes of masked copies of the input.
 *
 * Score-CAM (Wang et al. 2020): H^k = norm(Up(A^k)) (bilinear to the input size, min-max to
 * [0,1]; a constant channel gives an all-zero mask), s_k = y^c(x ⊙ H^k) (the mask multiplies
 * every input channel), L = ReLU(Σ_k softmax(s)_k A^k). A baseline y^c(0) subtracted from every
 * s_k would not change the softmax, so none is run. K forward passes, in batches.
 *
 * RISE (Petsiuk et al. 2018): N masks M_i (an s×s grid of Bernoulli(p) cells, bilinearly
 * upsampled to (s+1)·⌈H/s⌉ × (s+1)·⌈W/s⌉ and cropped to H×W at a random shift in
 * [0, ⌈H/s⌉) × [0, ⌈W/s⌉)), drawn once at creation from the seed. Per run the masked inputs
 * x ⊙ M_i give P(x ⊙ M_i) (softmax over classes), and one GEMM
 *     S = (1/(N·p)) · P (classes × N) · M (N × H·W)
 * gives the saliency of every class; the run returns class c's row. */
#include "explain_internal.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

cs_status cs_rise_draw_masks(cs_explainer *e, cs_error *err)
{
    int s = e->o.rise_grid, H = e->H, W = e->W, N = e->o.rise_masks;
    int ch = (H + s - 1) / s, cw = (W + s - 1) / s;
    int uh = (s + 1) * ch, uw = (s + 1) * cw;
    float *grid = malloc(sizeof(float) * (size_t)(s * s));
    float *up = malloc(sizeof(float) * (size_t)uh * (size_t)uw);
    if (!grid || !up) {
        free(grid);
        free(up);
        return cs_ex_fail(err, CS_ERR_NOMEM, "explain: out of memory for the RISE masks");
    }
    cs_ex_rng r;
    cs_ex_rng_init(&r, e->o.seed);
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < s * s; j++) grid[j] = cs_ex_uniform(&r) < e->o.rise_p ? 1.f : 0.f;
        cs_map_resize(grid, s, s, up, uh, uw);
        int dy = (int)(cs_ex_uniform(&r) * ch), dx = (int)(cs_ex_uniform(&r) * cw);
        float *m = e->masks_owned + (int64_t)i * H * W;
        for (int y = 0; y < H; y++)
            memcpy(m + (int64_t)y * W, up + (int64_t)(y + dy) * uw + dx, sizeof(float) * (size_t)W);
    }
    free(grid);
    free(up);
    return CS_OK;
}

/* xb[b] = x ⊙ mask for every input channel. */
static void masked_copy(const float *x, const float *mask, int C, int64_t HW, float *dst)
{
    for (int c = 0; c < C; c++)
        for (int64_t i = 0; i < HW; i++) dst[c * HW + i] = x[c * HW + i] * mask[i];
}

cs_status cs_scorecam_run(cs_explainer *e, int cls, cs_error *err)
{
    int K = e->K, B = e->B, C = e->C;
    int64_t HW = (int64_t)e->H * e->W, hw = (int64_t)e->h * e->w, chw = C * HW;
    const float *A = e->A->data, *x = e->x->data;
    float *up = e->work, *s = e->work + HW, *xb = e->xb->data;
    for (int k0 = 0; k0 < K; k0 += B) {
        int nb = K - k0 < B ? K - k0 : B;
        for (int b = 0; b < B; b++) {
            if (b < nb) {
                cs_map_resize(A + (k0 + b) * hw, e->h, e->w, up, e->H, e->W);
                cs_map_normalize(up, HW);
                masked_copy(x, up, C, HW, xb + b * chw);
            } else {
                memset(xb + b * chw, 0, sizeof(float) * (size_t)chw);
            }
        }
        cs_status st = cs_plan_run(e->pb, err);
        if (st != CS_OK) return st;
        const float *y = e->yb->data;
        for (int b = 0; b < nb; b++) s[k0 + b] = y[(int64_t)b * e->ncls + cls];
    }
    double mx = s[0], sum = 0;
    for (int k = 1; k < K; k++)
        if (s[k] > mx) mx = s[k];
    for (int k = 0; k < K; k++) sum += e->wk[k] = exp(s[k] - mx);
    float *map = e->map->data;
    for (int64_t i = 0; i < hw; i++) {
        double v = 0;
        for (int k = 0; k < K; k++) v += e->wk[k] * A[k * hw + i];
        v /= sum;
        map[i] = v > 0 ? (float)v : 0.f;
    }
    return CS_OK;
}

cs_status cs_rise_run(cs_explainer *e, int cls, cs_error *err)
{
    int N = e->o.rise_masks, B = e->B, C = e->C, nc = e->ncls;
    int64_t HW = (int64_t)e->H * e->W, chw = C * HW;
    const float *x = e->x->data;
    float *xb = e->xb->data;
    for (int i0 = 0; i0 < N; i0 += B) {
        int nb = N - i0 < B ? N - i0 : B;
        for (int b = 0; b < B; b++) {
            if (b < nb)
                masked_copy(x, e->masks + (i0 + b) * HW, C, HW, xb + b * chw);
            else
                memset(xb + b * chw, 0, sizeof(float) * (size_t)chw);
        }
        cs_status st = cs_plan_run(e->pb, err);
        if (st != CS_OK) return st;
        const float *y = e->yb->data;
        for (int b = 0; b < nb; b++) {
            const float *yy = y + (int64_t)b * nc;
            float mx = yy[0];
            for (int k = 1; k < nc; k++)
                if (yy[k] > mx) mx = yy[k];
            double sum = 0;
            for (int k = 0; k < nc; k++) sum += exp((double)yy[k] - mx);
            for (int k = 0; k < nc; k++)
                e->probs[(int64_t)k * N + i0 + b] = (float)(exp((double)yy[k] - mx) / sum);
        }
    }
    cs_blas_threads(e->o.threads > 0 ? e->o.threads : cs_cpu_count());
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nc, (int)HW, N,
                1.f / ((float)N * e->o.rise_p), e->probs, N, e->masks, (int)HW, 0.f, e->rise_maps,
                (int)HW);
    e->map_row = *e->map;
    e->map_row.data = e->rise_maps + (int64_t)cls * HW;
    return CS_OK;
}
