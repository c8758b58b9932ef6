/* Map helpers (normalize, bilinear resize against PyTorch, boxes) and the Augmented Grad-CAM
 * super-resolution solver: operator adjoints, warp geometry, and a synthetic case whose true
 * high-resolution map is known, where the solver must beat bilinear upsampling of g_0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "camstream/explain.h"
#include "explain/superres.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static float *fvec(size_t n)
{
    float *x = calloc(n ? n : 1, sizeof(float));
    assert_non_null(x);
    return x;
}

/* Deterministic values in [-1, 1). */
static void fill(float *x, size_t n, uint32_t seed)
{
    uint32_t s = seed * 2654435761u + 1u;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)(s >> 8) / (float)(1u << 23) - 1.f;
    }
}

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* ---- normalize ------------------------------------------------------------------------------ */

static void test_normalize(void **state)
{
    (void)state;
    float a[5] = {2.f, -1.f, 5.f, 0.5f, -1.f};
    cs_map_normalize(a, 5);
    const float want[5] = {0.5f, 0.f, 1.f, 0.25f, 0.f};
    for (int i = 0; i < 5; i++) assert_float_equal(a[i], want[i], 1e-6);
    float c[3] = {7.f, 7.f, 7.f};
    cs_map_normalize(c, 3);
    for (int i = 0; i < 3; i++) assert_float_equal(c[i], 0.f, 0);
    cs_map_normalize(NULL, 3); /* no crash */
    cs_map_normalize(c, 0);
}

/* ---- resize: PyTorch values (tools/visualize_reference.py --resize) ------------------------- */

static const float resize_src[15] = {0.5f, -1.0f, 2.0f, 3.5f, 0.25f, 1.5f,   4.0f, -2.0f,
                                     0.0f, 1.0f,  2.0f, 0.5f, 1.25f, -0.75f, 3.0f};
/* F.interpolate(x.reshape(1,1,3,5), size=(H,W), mode='bilinear', align_corners=False) */
static const float torch_7x4[28] = {
    0.31250000f,  0.12500000f,  2.93750000f, 0.65625000f, 0.52678573f,  0.35714287f, 2.41071415f,
    0.68750000f,  1.16964281f,  1.05357146f, 0.83035707f, 0.78125000f,  1.81250000f, 1.75000000f,
    -0.75000000f, 0.87500006f,  1.81250000f, 1.33482134f, -0.42857140f, 1.58482146f, 1.81250000f,
    0.91964281f,  -0.10714284f, 2.29464293f, 1.81250000f, 0.78125000f,  0.00000001f, 2.53125000f};
static const float torch_2x3[6] = {0.58333331f, 0.99999994f, 1.16666687f,
                                   1.70833325f, 0.43750003f, 1.47916639f};
static const float torch_3x11[33] = {
    0.50000000f, 0.22727270f,  -0.45454553f, -0.72727263f, 0.63636386f,  2.00000024f, 2.68181825f,
    3.36363649f, 2.31818151f,  0.84090871f,  0.25000000f,  1.50000000f,  1.95454550f, 3.09090924f,
    3.45454526f, 0.72727227f,  -1.99999988f, -1.09090889f, -0.18181801f, 0.36363649f, 0.81818193f,
    1.00000000f, 2.00000000f,  1.72727275f,  1.04545450f,  0.56818187f,  0.90909100f, 1.24999988f,
    0.34090889f, -0.56818199f, 0.61363685f,  2.31818223f,  3.00000000f};

static void check_resize(int H, int W, const float *want)
{
    float out[64];
    cs_map_resize(resize_src, 3, 5, out, H, W);
    for (int i = 0; i < H * W; i++)
        if (fabsf(out[i] - want[i]) > 1e-5f)
            fail_msg("resize 3x5 -> %dx%d: [%d] = %.8f, torch %.8f", H, W, i, (double)out[i],
                     (double)want[i]);
}

static void test_resize_torch(void **state)
{
    (void)state;
    check_resize(7, 4, torch_7x4);
    check_resize(2, 3, torch_2x3);
    check_resize(3, 11, torch_3x11);
    check_resize(3, 5, resize_src); /* same size: a copy */
    /* 2x2 -> 4x4 by hand: edges clamp, inner samples at 1/4 and 3/4 */
    const float s[4] = {1, 2, 3, 4};
    const float want[16] = {1,    1.25f, 1.75f, 2,    1.5f, 1.75f, 2.25f, 2.5f,
                            2.5f, 2.75f, 3.25f, 3.5f, 3,    3.25f, 3.75f, 4};
    float o[16];
    cs_map_resize(s, 2, 2, o, 4, 4);
    for (int i = 0; i < 16; i++) assert_float_equal(o[i], want[i], 1e-6);
}

/* ---- boxes ---------------------------------------------------------------------------------- */

static void test_boxes(void **state)
{
    (void)state;
    /* 6x8 map, max 10 -> threshold 2 (frac 0.2). Components (4-connected):
     *   A: 3 pixels at rows 0-1, cols 0-1 (values 10, 5, 3)
     *   B: 5 pixels, an L shape rows 3-5, cols 4-6 (values 4 each)
     *   C: 1 pixel at (5,0) = 2 (exactly the threshold: included)
     *   D: (0,6) = 3 and (1,7) = 3 touch only diagonally: two 1-pixel components
     *   1.9 at (3,0) is below the threshold. */
    float m[48] = {0};
    m[0 * 8 + 0] = 10;
    m[0 * 8 + 1] = 5;
    m[1 * 8 + 0] = 3;
    m[3 * 8 + 4] = 4;
    m[4 * 8 + 4] = 4;
    m[5 * 8 + 4] = 4;
    m[5 * 8 + 5] = 4;
    m[5 * 8 + 6] = 4;
    m[5 * 8 + 0] = 2;
    m[0 * 8 + 6] = 3;
    m[1 * 8 + 7] = 3;
    m[3 * 8 + 0] = 1.9f;
    cs_box b[8];
    int n = cs_map_boxes(m, 6, 8, 0.f, 0, 0, b, 8);
    assert_int_equal(n, 1);
    assert_int_equal(b[0].area, 5);
    assert_float_equal(b[0].x0, 4, 0);
    assert_float_equal(b[0].y0, 3, 0);
    assert_float_equal(b[0].x1, 7, 0);
    assert_float_equal(b[0].y1, 6, 0);
    assert_float_equal(b[0].score, 4, 1e-6);

    n = cs_map_boxes(m, 6, 8, 0.2f, 1, 0, b, 8);
    assert_int_equal(n, 5);
    const int areas[5] = {5, 3, 1, 1, 1};
    for (int i = 0; i < 5; i++) assert_int_equal(b[i].area, areas[i]);
    assert_float_equal(b[1].x0, 0, 0);
    assert_float_equal(b[1].y0, 0, 0);
    assert_float_equal(b[1].x1, 2, 0);
    assert_float_equal(b[1].y1, 2, 0);
    assert_float_equal(b[1].score, 6, 1e-6);
    /* equal areas: higher mean first (3, 3, then the pixel at threshold 2) */
    assert_float_equal(b[2].score, 3, 1e-6);
    assert_float_equal(b[3].score, 3, 1e-6);
    assert_float_equal(b[4].score, 2, 1e-6);
    assert_float_equal(b[4].x0, 0, 0);
    assert_float_equal(b[4].y0, 5, 0);

    /* min_area and max_boxes */
    assert_int_equal(cs_map_boxes(m, 6, 8, 0.2f, 1, 2, b, 8), 2);
    assert_int_equal(cs_map_boxes(m, 6, 8, 0.2f, 1, 0, b, 2), 2);
    assert_int_equal(b[1].area, 3);
    /* higher threshold: 0.45 * 10 = 4.5 leaves the 10 and the 5 */
    assert_int_equal(cs_map_boxes(m, 6, 8, 0.45f, 1, 0, b, 8), 1);
    assert_int_equal(b[0].area, 2);
    /* nothing salient */
    float z[4] = {0, -1, 0, 0};
    assert_int_equal(cs_map_boxes(z, 2, 2, 0.2f, 0, 0, b, 8), 0);
}

/* A 1024x1024 serpentine: one 4-connected component of over half a million pixels (a
 * recursive flood fill would overflow the stack). */
static void test_boxes_serpentine(void **state)
{
    (void)state;
    const int n = 1024;
    float *m = fvec((size_t)n * n);
    int count = 0;
    for (int y = 0; y < n; y += 2) {
        for (int x = 0; x < n; x++) m[(size_t)y * n + x] = 1.f;
        count += n;
        /* connect to the next row pair at alternating ends */
        if (y + 1 < n) {
            int x = (y / 2) % 2 ? 0 : n - 1;
            m[(size_t)(y + 1) * n + x] = 1.f;
            count++;
        }
    }
    cs_box b[4];
    int k = cs_map_boxes(m, n, n, 0.2f, 1, 0, b, 4);
    assert_int_equal(k, 1);
    assert_int_equal(b[0].area, count);
    assert_float_equal(b[0].x0, 0, 0);
    assert_float_equal(b[0].x1, n, 0);
    assert_float_equal(b[0].y1, n, 0);
    /* cut one connector: two components, the largest first */
    m[(size_t)1 * n + (n - 1)] = 0.f;
    k = cs_map_boxes(m, n, n, 0.2f, 1, 0, b, 4);
    assert_int_equal(k, 2);
    assert_int_equal(b[0].area + b[1].area, count - 1);
    assert_int_equal(b[1].area, n);
    assert_float_equal(b[1].y0, 0, 0);
    assert_float_equal(b[1].y1, 1, 0);
    free(m);
}

/* ---- super-resolution operators ------------------------------------------------------------- */

static void test_operator_adjoints(void **state)
{
    (void)state;
    const int H = 37, W = 45;
    size_t n = (size_t)H * W;
    float *a = fvec(n), *b = fvec(n), *wa = fvec(n), *wtb = fvec(n);
    fill(a, n, 1);
    fill(b, n, 2);
    cs_warp ws[3] = {{0.3f, 2.5f, -4.25f}, {-0.5f, 20.f, 3.f}, {0.f, 0.f, 0.f}};
    for (int k = 0; k < 3; k++) {
        cs_warp_apply(&ws[k], a, H, W, wa);
        memset(wtb, 0, sizeof(float) * n);
        cs_warp_adjoint_add(&ws[k], b, H, W, wtb);
        double l = dot(wa, b, n), r = dot(a, wtb, n);
        if (fabs(l - r) > 1e-4 * (fabs(l) + 1))
            fail_msg("warp %d: <Wa,b> = %.6f, <a,W'b> = %.6f", k, l, r);
    }
    /* D and D' for an exact factor and for non-integer ones */
    const int sizes[3][2] = {{37, 45}, {12, 15}, {5, 7}};
    for (int s = 1; s < 3; s++) {
        int h = sizes[s][0], w = sizes[s][1];
        size_t nl = (size_t)h * w;
        float *la = fvec(nl), *lb = fvec(nl);
        fill(lb, nl, 3);
        cs_superres_downsample(a, H, W, la, h, w);
        cs_superres_downsample_adjoint(lb, h, w, wtb, H, W);
        double l = dot(la, lb, nl), r = dot(a, wtb, n);
        if (fabs(l - r) > 1e-4 * (fabs(l) + 1))
            fail_msg("D %dx%d: <Da,b> = %.6f, <a,D'b> = %.6f", h, w, l, r);
        /* area average keeps constants */
        for (size_t i = 0; i < n; i++) wa[i] = 3.f;
        cs_superres_downsample(wa, H, W, la, h, w);
        for (size_t i = 0; i < nl; i++) assert_float_equal(la[i], 3.f, 1e-5);
        free(la);
        free(lb);
    }
    /* exact blocks: 4x4 -> 2x2 means of 2x2 blocks */
    const float q[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    float d[4];
    cs_superres_downsample(q, 4, 4, d, 2, 2);
    assert_float_equal(d[0], 3.5f, 1e-6);
    assert_float_equal(d[1], 5.5f, 1e-6);
    assert_float_equal(d[2], 11.5f, 1e-6);
    assert_float_equal(d[3], 13.5f, 1e-6);
    free(a);
    free(b);
    free(wa);
    free(wtb);
}

static void test_warp_geometry(void **state)
{
    (void)state;
    const int H = 9, W = 9;
    float src[81] = {0}, dst[81];
    src[2 * W + 6] = 1.f; /* pixel (y=2, x=6) */
    /* translation: a point q moves to q + t */
    cs_warp t = {0.f, -3.f, 4.f};
    cs_warp_apply(&t, src, H, W, dst);
    for (int i = 0; i < 81; i++) assert_float_equal(dst[i], i == 6 * W + 3 ? 1.f : 0.f, 1e-6);
    /* rotation by +pi/2 about the centre (4,4): (x,y) -> c + R(q - c), R = [[0,-1],[1,0]]:
     * (6,2) - c = (2,-2) -> (2,2) -> (6,6) */
    cs_warp r = {(float)(M_PI / 2), 0.f, 0.f};
    cs_warp_apply(&r, src, H, W, dst);
    for (int i = 0; i < 81; i++) assert_float_equal(dst[i], i == 6 * W + 6 ? 1.f : 0.f, 1e-5);
    /* half-pixel shift splits the value */
    cs_warp h = {0.f, 0.5f, 0.f};
    cs_warp_apply(&h, src, H, W, dst);
    assert_float_equal(dst[2 * W + 6], 0.5f, 1e-6);
    assert_float_equal(dst[2 * W + 7], 0.5f, 1e-6);
    /* drawn warps: identity first, others within range, deterministic */
    cs_warp a[20], b[20];
    cs_superres_draw_warps(42, 20, 0.5f, 30.f, a);
    cs_superres_draw_warps(42, 20, 0.5f, 30.f, b);
    assert_memory_equal(a, b, sizeof a);
    assert_true(a[0].angle == 0.f && a[0].tx == 0.f && a[0].ty == 0.f);
    for (int i = 1; i < 20; i++) {
        assert_true(fabsf(a[i].angle) <= 0.5f && fabsf(a[i].tx) <= 30.f && fabsf(a[i].ty) <= 30.f);
        assert_true(a[i].angle != 0.f);
    }
}

/* ---- super-resolution: known truth ---------------------------------------------------------- */

/* Two Gaussian blobs and a rectangle on H×W, values in [0, ~1]. */
static void synthetic_truth(float *t, int H, int W)
{
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            float fy = (float)y / (float)H, fx = (float)x / (float)W;
            float v = expf(-((fx - 0.3f) * (fx - 0.3f) + (fy - 0.35f) * (fy - 0.35f)) /
                           (2 * 0.06f * 0.06f));
            v += 0.7f * expf(-((fx - 0.68f) * (fx - 0.68f) + (fy - 0.62f) * (fy - 0.62f)) /
                             (2 * 0.04f * 0.04f));
            if (fx > 0.15f && fx < 0.45f && fy > 0.7f && fy < 0.85f) v += 0.6f;
            t[(size_t)y * W + x] = v;
        }
}

static double rmse(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return sqrt(s / (double)n);
}

static void test_superres_beats_bilinear(void **state)
{
    (void)state;
    /* 112x112 truth seen at 7x7 (x16, as 14 -> 224), L = 32 warps: rotation U(-0.5, 0.5) rad,
     * shift U(-15, 15) px (REFERENCE's 30 px at half the resolution), λ and μ scaled with L as
     * the reference code does (0.002·L and 0.0001·L). */
    const int H = 112, W = 112, h = 7, w = 7, L = 32;
    size_t n = (size_t)H * W, nl = (size_t)h * w;
    float *truth = fvec(n), *tmp = fvec(n), *low = fvec(nl * L), *bil = fvec(n), *sr = fvec(n);
    float *scratch = fvec((size_t)cs_superres_scratch_floats(h, w, H, W));
    cs_warp warps[32];
    cs_superres_draw_warps(7, L, 0.5f, 15.f, warps);
    synthetic_truth(truth, H, W);
    for (int l = 0; l < L; l++) {
        cs_warp_apply(&warps[l], truth, H, W, tmp);
        cs_superres_downsample(tmp, H, W, low + (size_t)l * nl, h, w);
    }
    cs_map_resize(low, h, w, bil, H, W); /* bilinear upsampling of the un-augmented g_0 */
    cs_error err = {0};
    cs_status st = cs_superres_solve(low, warps, L, h, w, H, W, 0.002f * L, 0.0001f * L, 200, sr,
                                     scratch, &err);
    if (st != CS_OK) fail_msg("solve: %s", err.msg);
    double eb = rmse(bil, truth, n), es = rmse(sr, truth, n);
    printf("super-resolution 7x7 -> 112x112, L = %d: RMSE vs truth: bilinear(g_0) %.4f, "
           "super-resolved %.4f (%.0f%% lower)\n",
           L, eb, es, 100.0 * (1.0 - es / eb));
    if (!(es < 0.85 * eb)) fail_msg("super-resolved RMSE %.4f not < 0.85 x bilinear %.4f", es, eb);

    /* a weaker TV (λ = 0.01) lets more detail through */
    st = cs_superres_solve(low, warps, L, h, w, H, W, 0.01f, 0.0001f * L, 200, sr, NULL, &err);
    assert_int_equal(st, CS_OK);
    double es2 = rmse(sr, truth, n);
    printf("  with lambda = 0.01: super-resolved %.4f\n", es2);
    if (!(es2 < 0.75 * eb)) fail_msg("λ = 0.01: RMSE %.4f not < 0.75 x bilinear %.4f", es2, eb);

    /* the result scales with the maps (λ acts on peak-1 maps) */
    for (size_t i = 0; i < nl * L; i++) low[i] *= 40.f;
    float *sr40 = fvec(n);
    st = cs_superres_solve(low, warps, L, h, w, H, W, 0.01f, 0.0001f * L, 200, sr40, scratch, &err);
    assert_int_equal(st, CS_OK);
    /* up to float rounding, which can flip a TV sign where neighbours are equal (Adam then
     * follows it): within 2% of the peak everywhere, 0.1% in RMS */
    float peak = 0;
    for (size_t i = 0; i < n; i++) peak = fmaxf(peak, sr[i]);
    double d2 = 0, dmax = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(sr40[i] / 40.0 - sr[i]);
        d2 += d * d;
        dmax = fmax(dmax, d);
    }
    if (dmax > 0.02 * peak || sqrt(d2 / (double)n) > 1e-3 * peak)
        fail_msg("maps x40: result differs from 40x by max %.5f, rms %.6f (peak %.3f)", dmax,
                 sqrt(d2 / (double)n), (double)peak);
    free(sr40);
    free(truth);
    free(tmp);
    free(low);
    free(bil);
    free(sr);
    free(scratch);
}

static void test_superres_args(void **state)
{
    (void)state;
    float low[4] = {0, 1, 2, 3}, high[16], bil[16];
    cs_warp w0 = {0, 0, 0};
    cs_error err = {0};
    /* zero iterations: bilinear upsampling of g_0 */
    assert_int_equal(cs_superres_solve(low, &w0, 1, 2, 2, 4, 4, 0.2f, 0.01f, 0, high, NULL, &err),
                     CS_OK);
    cs_map_resize(low, 2, 2, bil, 4, 4);
    assert_memory_equal(high, bil, sizeof high);
    assert_int_equal(cs_superres_solve(low, &w0, 0, 2, 2, 4, 4, 0.2f, 0.01f, 5, high, NULL, &err),
                     CS_ERR_INVALID);
    assert_non_null(strstr(err.msg, "maps"));
    assert_int_equal(cs_superres_solve(low, &w0, 1, 8, 8, 4, 4, 0.2f, 0.01f, 5, high, NULL, &err),
                     CS_ERR_INVALID);
    assert_non_null(strstr(err.msg, "8x8 -> 4x4"));
    assert_int_equal(cs_superres_solve(low, &w0, 1, 2, 2, 4, 4, -1.f, 0.01f, 5, high, NULL, &err),
                     CS_ERR_INVALID);
    assert_non_null(strstr(err.msg, "lambda"));
    cs_warp bad = {NAN, 0, 0};
    assert_int_equal(cs_superres_solve(low, &bad, 1, 2, 2, 4, 4, 0.2f, 0.01f, 5, high, NULL, &err),
                     CS_ERR_INVALID);
    assert_non_null(strstr(err.msg, "warp 0"));
    /* an all-zero map stays zero */
    float z[4] = {0};
    assert_int_equal(cs_superres_solve(z, &w0, 1, 2, 2, 4, 4, 0.2f, 0.01f, 5, high, NULL, &err),
                     CS_OK);
    for (int i = 0; i < 16; i++) assert_float_equal(high[i], 0.f, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_resize_torch),
        cmocka_unit_test(test_boxes),
        cmocka_unit_test(test_boxes_serpentine),
        cmocka_unit_test(test_operator_adjoints),
        cmocka_unit_test(test_warp_geometry),
        cmocka_unit_test(test_superres_beats_bilinear),
        cmocka_unit_test(test_superres_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
