/* Augmented Grad-CAM super-resolution: subgradient descent on
 *     Σ_ℓ ‖D W_ℓ h − g_ℓ‖² + λ TV(h) + μ ‖h‖²
 * (see superres.h for the operators and the step schedule). */
#include "superres.h"

#include "camstream/explain.h"
#include "graph.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- warps ---------------------------------------------------------------------------------- */

static int is_identity(const cs_warp *wp)
{
    return wp->angle == 0.f && wp->tx == 0.f && wp->ty == 0.f;
}

typedef struct {
    float c, s, cx, cy, tx, ty;
} warp_geom;

static warp_geom geom(const cs_warp *wp, int H, int W)
{
    warp_geom g;
    g.c = cosf(wp->angle);
    g.s = sinf(wp->angle);
    g.cx = 0.5f * (float)(W - 1);
    g.cy = 0.5f * (float)(H - 1);
    g.tx = wp->tx;
    g.ty = wp->ty;
    return g;
}

/* Source point q = c + R(−θ)(p − c − t) of destination pixel (y, 0) and its step along x:
 * q(x) = q0 + x·(c, −s). */
static inline void row_start(const warp_geom *g, int y, float *qx0, float *qy0)
{
    float dx = -g->cx - g->tx, dy = (float)y - g->cy - g->ty;
    *qx0 = g->cx + g->c * dx + g->s * dy;
    *qy0 = g->cy - g->s * dx + g->c * dy;
}

/* Bilinear corner (x0, y0) and weights of source point (qx, qy); returns 2 when all four
 * corners are inside, 1 when some are, 0 when none is. */
static inline int corner(float qx, float qy, int H, int W, int *x0, int *y0, float *ax, float *ay)
{
    float fx = floorf(qx), fy = floorf(qy);
    *ax = qx - fx;
    *ay = qy - fy;
    if (!(fx >= -1.f && fx < (float)W && fy >= -1.f && fy < (float)H)) return 0;
    *x0 = (int)fx;
    *y0 = (int)fy;
    return (*x0 >= 0 && *x0 + 1 < W && *y0 >= 0 && *y0 + 1 < H) ? 2 : 1;
}

void cs_warp_apply(const cs_warp *wp, const float *src, int H, int W, float *dst)
{
    if (is_identity(wp)) {
        memcpy(dst, src, sizeof(float) * (size_t)H * (size_t)W);
        return;
    }
    warp_geom g = geom(wp, H, W);
    for (int y = 0; y < H; y++) {
        float qx0, qy0;
        row_start(&g, y, &qx0, &qy0);
        float *d = dst + (size_t)y * (size_t)W;
        for (int x = 0; x < W; x++) {
            float qx = qx0 + (float)x * g.c, qy = qy0 - (float)x * g.s;
            int x0, y0;
            float ax, ay;
            int k = corner(qx, qy, H, W, &x0, &y0, &ax, &ay);
            float v = 0.f;
            if (k == 2) {
                const float *r = src + (size_t)y0 * (size_t)W + x0;
                float top = r[0] + ax * (r[1] - r[0]);
                float bot = r[W] + ax * (r[W + 1] - r[W]);
                v = top + ay * (bot - top);
            } else if (k == 1) {
                if (y0 >= 0) {
                    const float *r = src + (size_t)y0 * (size_t)W;
                    if (x0 >= 0) v += (1.f - ay) * (1.f - ax) * r[x0];
                    if (x0 + 1 < W) v += (1.f - ay) * ax * r[x0 + 1];
                }
                if (y0 + 1 < H) {
                    const float *r = src + (size_t)(y0 + 1) * (size_t)W;
                    if (x0 >= 0) v += ay * (1.f - ax) * r[x0];
                    if (x0 + 1 < W) v += ay * ax * r[x0 + 1];
                }
            }
            d[x] = v;
        }
    }
}

void cs_warp_adjoint_add(const cs_warp *wp, const float *src, int H, int W, float *dst)
{
    size_t n = (size_t)H * (size_t)W;
    if (is_identity(wp)) {
        for (size_t i = 0; i < n; i++) dst[i] += src[i];
        return;
    }
    warp_geom g = geom(wp, H, W);
    for (int y = 0; y < H; y++) {
        float qx0, qy0;
        row_start(&g, y, &qx0, &qy0);
        const float *s = src + (size_t)y * (size_t)W;
        for (int x = 0; x < W; x++) {
            float v = s[x];
            if (v == 0.f) continue;
            float qx = qx0 + (float)x * g.c, qy = qy0 - (float)x * g.s;
            int x0, y0;
            float ax, ay;
            int k = corner(qx, qy, H, W, &x0, &y0, &ax, &ay);
            if (k == 2) {
                float *r = dst + (size_t)y0 * (size_t)W + x0;
                float bv = ay * v, tv = v - bv;
                r[0] += tv - ax * tv;
                r[1] += ax * tv;
                r[W] += bv - ax * bv;
                r[W + 1] += ax * bv;
            } else if (k == 1) {
                if (y0 >= 0) {
                    float *r = dst + (size_t)y0 * (size_t)W;
                    if (x0 >= 0) r[x0] += (1.f - ay) * (1.f - ax) * v;
                    if (x0 + 1 < W) r[x0 + 1] += (1.f - ay) * ax * v;
                }
                if (y0 + 1 < H) {
                    float *r = dst + (size_t)(y0 + 1) * (size_t)W;
                    if (x0 >= 0) r[x0] += ay * (1.f - ax) * v;
                    if (x0 + 1 < W) r[x0 + 1] += ay * ax * v;
                }
            }
        }
    }
}

/* ---- area downsampling ---------------------------------------------------------------------- */

/* Low index i of an n_high -> n_low area average covers high pixels [*k0, *k1); the weight of
 * pixel k is area_weight(). */
static void area_range(int i, int n_low, int n_high, int *k0, int *k1)
{
    double s = (double)n_high / n_low;
    double a = i * s, b = (i + 1) * s;
    int lo = (int)floor(a + 1e-9), hi = (int)ceil(b - 1e-9);
    if (lo < 0) lo = 0;
    if (hi > n_high) hi = n_high;
    if (hi <= lo) hi = lo + 1;
    *k0 = lo;
    *k1 = hi;
}

static float area_weight(int i, int k, int n_low, int n_high)
{
    double s = (double)n_high / n_low;
    double a = i * s, b = (i + 1) * s;
    double lo = k > a ? k : a, hi = k + 1 < b ? k + 1 : b;
    double ov = hi - lo;
    return ov > 0 ? (float)(ov / s) : 0.f;
}

void cs_superres_downsample(const float *high, int H, int W, float *low, int h, int w)
{
    if (H % h == 0 && W % w == 0) { /* exact f×f blocks */
        int fy = H / h, fx = W / w;
        float inv = 1.f / ((float)fy * (float)fx);
        for (int i = 0; i < h; i++) {
            float *d = low + (size_t)i * (size_t)w;
            for (int j = 0; j < w; j++) d[j] = 0.f;
            for (int ky = i * fy; ky < (i + 1) * fy; ky++) {
                const float *r = high + (size_t)ky * (size_t)W;
                for (int j = 0; j < w; j++) {
                    float acc = 0.f;
                    for (int kx = j * fx; kx < (j + 1) * fx; kx++) acc += r[kx];
                    d[j] += acc;
                }
            }
            for (int j = 0; j < w; j++) d[j] *= inv;
        }
        return;
    }
    for (int i = 0; i < h; i++) {
        int ky0, ky1;
        area_range(i, h, H, &ky0, &ky1);
        for (int j = 0; j < w; j++) {
            int kx0, kx1;
            area_range(j, w, W, &kx0, &kx1);
            double acc = 0.0;
            for (int ky = ky0; ky < ky1; ky++) {
                float wy = area_weight(i, ky, h, H);
                const float *r = high + (size_t)ky * (size_t)W;
                double row = 0.0;
                for (int kx = kx0; kx < kx1; kx++) row += area_weight(j, kx, w, W) * r[kx];
                acc += wy * row;
            }
            low[(size_t)i * (size_t)w + (size_t)j] = (float)acc;
        }
    }
}

void cs_superres_downsample_adjoint(const float *low, int h, int w, float *high, int H, int W)
{
    if (H % h == 0 && W % w == 0) {
        int fy = H / h, fx = W / w;
        float inv = 1.f / ((float)fy * (float)fx);
        for (int ky = 0; ky < H; ky++) {
            const float *s = low + (size_t)(ky / fy) * (size_t)w;
            float *r = high + (size_t)ky * (size_t)W;
            for (int j = 0; j < w; j++) {
                float v = s[j] * inv;
                for (int kx = j * fx; kx < (j + 1) * fx; kx++) r[kx] = v;
            }
        }
        return;
    }
    memset(high, 0, sizeof(float) * (size_t)H * (size_t)W);
    for (int i = 0; i < h; i++) {
        int ky0, ky1;
        area_range(i, h, H, &ky0, &ky1);
        for (int j = 0; j < w; j++) {
            int kx0, kx1;
            area_range(j, w, W, &kx0, &kx1);
            float v = low[(size_t)i * (size_t)w + (size_t)j];
            for (int ky = ky0; ky < ky1; ky++) {
                float wy = area_weight(i, ky, h, H) * v;
                float *r = high + (size_t)ky * (size_t)W;
                for (int kx = kx0; kx < kx1; kx++) r[kx] += wy * area_weight(j, kx, w, W);
            }
        }
    }
}

/* ---- random warps --------------------------------------------------------------------------- */

static float uniform(uint32_t *s, float lo, float hi)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x;
    return lo + (hi - lo) * (float)((double)(x >> 8) / (double)(1u << 24));
}

void cs_superres_draw_warps(uint32_t seed, int L, float max_rotation, float max_shift,
                            cs_warp *warps)
{
    uint32_t s = seed ? seed : 0x9e3779b9u;
    for (int l = 0; l < L; l++) {
        if (l == 0) {
            warps[0] = (cs_warp){0.f, 0.f, 0.f};
            continue;
        }
        warps[l].angle = uniform(&s, -max_rotation, max_rotation);
        warps[l].tx = uniform(&s, -max_shift, max_shift);
        warps[l].ty = uniform(&s, -max_shift, max_shift);
    }
}

/* ---- solver --------------------------------------------------------------------------------- */

int64_t cs_superres_scratch_floats(int h, int w, int H, int W)
{
    return 5 * (int64_t)H * W + (int64_t)h * w;
}

static inline float sgn(float v)
{
    return (float)((v > 0.f) - (v < 0.f));
}

/* Adds λ·∂TV(x) into grad (sign(0) = 0) and returns λ·TV(x). */
static double tv_subgrad(const float *x, int H, int W, float lambda, float *grad)
{
    double tv = 0.0;
    for (int y = 0; y < H; y++) {
        const float *r = x + (size_t)y * (size_t)W;
        float *g = grad + (size_t)y * (size_t)W;
        for (int j = 0; j + 1 < W; j++) {
            float d = r[j + 1] - r[j];
            tv += fabsf(d);
            float s = lambda * sgn(d);
            g[j + 1] += s;
            g[j] -= s;
        }
        if (y + 1 < H) {
            const float *rn = r + W;
            float *gn = g + W;
            for (int j = 0; j < W; j++) {
                float d = rn[j] - r[j];
                tv += fabsf(d);
                float s = lambda * sgn(d);
                gn[j] += s;
                g[j] -= s;
            }
        }
    }
    return lambda * tv;
}

/* Objective at x (maps pre-scaled by 1/scale) and its subgradient into grad. */
static double objective(const float *low, const cs_warp *warps, int L, int h, int w, int H, int W,
                        float lambda, float mu, float inv_scale, const float *x, float *grad,
                        float *tmp, float *res)
{
    size_t n = (size_t)H * (size_t)W, nl = (size_t)h * (size_t)w;
    memset(grad, 0, sizeof(float) * n);
    double data = 0.0;
    for (int l = 0; l < L; l++) {
        cs_warp_apply(&warps[l], x, H, W, tmp);
        cs_superres_downsample(tmp, H, W, res, h, w);
        const float *g = low + (size_t)l * nl;
        for (size_t i = 0; i < nl; i++) {
            float r = res[i] - g[i] * inv_scale;
            data += (double)r * r;
            res[i] = 2.f * r;
        }
        cs_superres_downsample_adjoint(res, h, w, tmp, H, W);
        cs_warp_adjoint_add(&warps[l], tmp, H, W, grad);
    }
    double obj = data + tv_subgrad(x, H, W, lambda, grad);
    double sq = 0.0;
    for (size_t i = 0; i < n; i++) {
        sq += (double)x[i] * x[i];
        grad[i] += 2.f * mu * x[i];
    }
    return obj + mu * sq;
}

cs_status cs_superres_solve(const float *low, const cs_warp *warps, int L, int h, int w, int H,
                            int W, float lambda, float mu, int iterations, float *high,
                            float *scratch, cs_error *err)
{
    if (!low || !warps || !high)
        return cs_fail(err, CS_ERR_INVALID, "super-resolution: %s is NULL",
                       !low     ? "the low-resolution maps"
                       : !warps ? "warps"
                                : "the output");
    if (L < 1) return cs_fail(err, CS_ERR_INVALID, "super-resolution: %d maps (need >= 1)", L);
    if (h < 1 || w < 1 || H < 1 || W < 1 || h > H || w > W)
        return cs_fail(err, CS_ERR_INVALID,
                       "super-resolution: sizes %dx%d -> %dx%d (need 1 <= low <= high)", h, w, H,
                       W);
    if (!(lambda >= 0.f) || !(mu >= 0.f) || iterations < 0)
        return cs_fail(err, CS_ERR_INVALID,
                       "super-resolution: lambda %g, mu %g, iterations %d (need >= 0)",
                       (double)lambda, (double)mu, iterations);
    for (int l = 0; l < L; l++)
        if (!isfinite(warps[l].angle) || !isfinite(warps[l].tx) || !isfinite(warps[l].ty))
            return cs_fail(err, CS_ERR_INVALID, "super-resolution: warp %d is not finite", l);
    size_t n = (size_t)H * (size_t)W, nl = (size_t)h * (size_t)w;
    float scale = 0.f;
    for (size_t i = 0; i < nl * (size_t)L; i++) {
        float a = fabsf(low[i]);
        if (!isfinite(a))
            return cs_fail(err, CS_ERR_INVALID, "super-resolution: map %d has a non-finite value",
                           (int)(i / nl));
        if (a > scale) scale = a;
    }

    cs_map_resize(low, h, w, high, H, W);
    if (iterations == 0 || scale == 0.f) return CS_OK;

    float *own = NULL;
    if (!scratch) {
        own = malloc(sizeof(float) * (size_t)cs_superres_scratch_floats(h, w, H, W));
        if (!own)
            return cs_fail(err, CS_ERR_NOMEM, "super-resolution: out of memory (%dx%d map)", H, W);
        scratch = own;
    }
    float *grad = scratch, *tmp = scratch + n, *best = scratch + 2 * n, *m1 = scratch + 3 * n,
          *m2 = scratch + 4 * n, *res = scratch + 5 * n;
    memset(m1, 0, sizeof(float) * n);
    memset(m2, 0, sizeof(float) * n);

    float inv = 1.f / scale;
    for (size_t i = 0; i < n; i++) high[i] *= inv;
    const float b1 = 0.9f, b2 = 0.999f, eps = 1e-4f;
    double p1 = 1.0, p2 = 1.0, best_obj = INFINITY;
    for (int k = 0; k <= iterations; k++) {
        double obj = objective(low, warps, L, h, w, H, W, lambda, mu, inv, high, grad, tmp, res);
        if (obj < best_obj) {
            best_obj = obj;
            memcpy(best, high, sizeof(float) * n);
        }
        if (k == iterations) break;
        p1 *= b1;
        p2 *= b2;
        float a = (float)(0.01 / sqrt(1.0 + k / 10.0));
        float c1 = (float)(1.0 / (1.0 - p1)), c2 = (float)(1.0 / (1.0 - p2));
        for (size_t i = 0; i < n; i++) {
            float g = grad[i];
            m1[i] = b1 * m1[i] + (1.f - b1) * g;
            m2[i] = b2 * m2[i] + (1.f - b2) * g * g;
            high[i] -= a * (m1[i] * c1) / (sqrtf(m2[i] * c2) + eps);
        }
    }
    for (size_t i = 0; i < n; i++) high[i] = best[i] * scale;
    free(own);
    return CS_OK;
}
