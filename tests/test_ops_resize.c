/* Resize and Upsample against a reference written the way ONNX's backend-test generator
 * computes it (per output element, nested 1-D interpolation over edge-padded neighbours),
 * plus values taken from the ONNX conformance cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "op_harness.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

/* ---- reference ---------------------------------------------------------------------- */

typedef struct {
    const char *mode, *coord, *nearest;
    double a, extrap;
    int exclude;
    const double *scale, *out_f, *roi;
    int r;
} ref_cfg;

static void coeffs(const ref_cfg *c, double ratio, int is_int, double *w, int *n)
{
    if (strcmp(c->mode, "nearest") == 0) {
        *n = 2;
        int up;
        if (is_int)
            up = 1;
        else if (strcmp(c->nearest, "round_prefer_floor") == 0)
            up = ratio > 0.5;
        else if (strcmp(c->nearest, "round_prefer_ceil") == 0)
            up = ratio >= 0.5;
        else if (strcmp(c->nearest, "floor") == 0)
            up = 0;
        else
            up = 1;
        w[0] = !up;
        w[1] = up;
    } else if (strcmp(c->mode, "linear") == 0) {
        *n = 2;
        w[0] = 1 - ratio;
        w[1] = ratio;
    } else {
        double A = c->a, t = ratio;
        *n = 4;
        w[0] = ((A * (t + 1) - 5 * A) * (t + 1) + 8 * A) * (t + 1) - 4 * A;
        w[1] = ((A + 2) * t - (A + 3)) * t * t + 1;
        w[2] = ((A + 2) * (1 - t) - (A + 3)) * (1 - t) * (1 - t) + 1;
        w[3] = ((A * ((1 - t) + 1) - 5 * A) * ((1 - t) + 1) + 8 * A) * ((1 - t) + 1) - 4 * A;
    }
}

/* Value of output coordinate o[axis..] over the sub-tensor at src (dims d[axis..]). */
static double ref_interp(const ref_cfg *c, const float *src, const int64_t *d, const int64_t *o,
                         int axis)
{
    int64_t len = d[axis], stride = 1;
    for (int k = axis + 1; k < c->r; k++) stride *= d[k];
    double s = c->scale[axis], of = c->out_f[axis], x = (double)o[axis], xo;
    if (strcmp(c->coord, "align_corners") == 0)
        xo = of == 1 ? 0 : x * (len - 1) / (of - 1);
    else if (strcmp(c->coord, "asymmetric") == 0)
        xo = x / s;
    else if (strcmp(c->coord, "pytorch_half_pixel") == 0)
        xo = of == 1 ? 0 : (x + 0.5) / s - 0.5;
    else if (strcmp(c->coord, "tf_half_pixel_for_nearest") == 0)
        xo = (x + 0.5) / s;
    else if (strcmp(c->coord, "tf_crop_and_resize") == 0) {
        double b = c->roi[axis], e = c->roi[axis + c->r];
        xo = of == 1 ? (e - b) * (len - 1) / 2 : x * (e - b) * (len - 1) / (of - 1);
        xo += b * (len - 1);
        if (xo < 0 || xo > len - 1) return c->extrap;
    } else
        xo = (x + 0.5) / s - 0.5;
    double fl = floor(xo);
    int is_int = xo == fl;
    double w[4];
    int n;
    coeffs(c, is_int ? 1.0 : xo - fl, is_int, w, &n);
    /* the n nearest indices, smaller first on ties */
    int64_t first = is_int ? (int64_t)xo - n / 2 : (int64_t)fl - n / 2 + 1;
    if (c->exclude) {
        double sum = 0;
        for (int i = 0; i < n; i++) {
            if (first + i < 0 || first + i >= len) w[i] = 0;
            sum += w[i];
        }
        for (int i = 0; i < n; i++) w[i] /= sum;
    }
    double acc = 0;
    for (int i = 0; i < n; i++) {
        int64_t j = first + i;
        j = j < 0 ? 0 : j >= len ? len - 1 : j;
        if (w[i] == 0) continue;
        const float *sub = src + j * stride;
        double v = axis == c->r - 1 ? (double)*sub : ref_interp(c, sub, d, o, axis + 1);
        acc += w[i] * v;
    }
    return acc;
}

static cs_tensor *iota(int r, const int64_t *d)
{
    cs_tensor *x = h_f32(r, d, NULL);
    for (int64_t i = 0; i < x->numel; i++)
        ((float *)x->data)[i] = (float)((i * 37) % 101) * 0.25f - 3.f;
    return x;
}

static void expect_close(const h_result *r, const cs_tensor *ref, double tol, const char *what)
{
    if (r->status != CS_OK) fail_msg("%s: status %d: %s", what, (int)r->status, r->err.msg);
    const cs_tensor *y = &r->out[0];
    assert_int_equal(y->ndim, ref->ndim);
    for (int i = 0; i < ref->ndim; i++)
        if (y->dims[i] != ref->dims[i])
            fail_msg("%s: dim %d is %lld, want %lld", what, i, (long long)y->dims[i],
                     (long long)ref->dims[i]);
    for (int64_t i = 0; i < ref->numel; i++) {
        double a = ((const float *)y->data)[i], b = ((const float *)ref->data)[i];
        if (fabs(a - b) > tol * (1 + fabs(b)))
            fail_msg("%s: element %lld is %.7g, want %.7g", what, (long long)i, a, b);
    }
}

static void expect_fail(const h_result *r, cs_status st, const char *needle)
{
    if (r->status != st) fail_msg("status %d, want %d (%s)", (int)r->status, (int)st, r->err.msg);
    if (!strstr(r->err.msg, needle)) fail_msg("message '%s' lacks '%s'", r->err.msg, needle);
}

/* Runs Resize-13 with scales (sizes == NULL) or sizes and compares with the reference. */
static void check_resize(int r, const int64_t *d, const float *scales, const int64_t *sizes,
                         const float *roi, const ref_cfg *cfg0, int threads, const char *what)
{
    ref_cfg c = *cfg0;
    double sc[6], of[6], rd[12];
    int64_t od[6];
    for (int k = 0; k < r; k++) {
        if (sizes) {
            od[k] = sizes[k];
            sc[k] = (double)sizes[k] / (double)d[k];
            of[k] = (double)sizes[k];
        } else {
            sc[k] = scales[k];
            of[k] = (double)scales[k] * (double)d[k];
            od[k] = (int64_t)floor(of[k]);
        }
    }
    for (int k = 0; roi && k < 2 * r; k++) rd[k] = roi[k];
    c.scale = sc;
    c.out_f = of;
    c.roi = rd;
    c.r = r;
    cs_tensor *x = iota(r, d), *ref = h_f32(r, od, NULL);
    for (int64_t i = 0; i < ref->numel; i++) {
        int64_t o[6], rem = i;
        for (int k = r - 1; k >= 0; k--) {
            o[k] = rem % od[k];
            rem /= od[k];
        }
        ((float *)ref->data)[i] = (float)ref_interp(&c, x->data, d, o, 0);
    }
    int64_t rn = r, rn2 = 2 * r;
    cs_tensor *st = sizes ? NULL : h_f32(1, &rn, scales);
    cs_tensor *sz = sizes ? h_i64(1, &rn, sizes) : NULL;
    cs_tensor *rt = roi ? h_f32(1, &rn2, roi) : NULL;
    cs_tensor *in[4] = {x, rt, st, sz};
    cs_attr a[7] = {h_attr_string("mode", c.mode),
                    h_attr_string("coordinate_transformation_mode", c.coord),
                    h_attr_string("nearest_mode", c.nearest),
                    h_attr_float("cubic_coeff_a", (float)c.a),
                    h_attr_int("exclude_outside", c.exclude),
                    h_attr_float("extrapolation_value", (float)c.extrap)};
    h_result res = h_run(CS_OP_RESIZE, 13, a, 6, in, sizes ? 4 : 3, 1, threads);
    expect_close(&res, ref, 2e-5, what);
    h_result_free(&res);
    cs_tensor_free(&st);
    cs_tensor_free(&sz);
    cs_tensor_free(&rt);
    cs_tensor_free(&ref);
    cs_tensor_free(&x);
}

/* ---- tests -------------------------------------------------------------------------- */

static void resize_random(void **state)
{
    (void)state;
    const char *modes[] = {"nearest", "linear", "cubic"};
    const char *coords[] = {"half_pixel",
                            "asymmetric",
                            "align_corners",
                            "pytorch_half_pixel",
                            "tf_half_pixel_for_nearest",
                            "tf_crop_and_resize"};
    const char *nearest[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
    const float scale_set[] = {0.5f, 0.6f, 0.8f, 1.f, 1.f, 1.5f, 2.f, 3.f, 1.7f};
    char what[160];
    for (int iter = 0; iter < 600; iter++) {
        int r = 1 + (int)(rnd() % 4);
        int64_t d[4], sizes[4];
        float scales[4], roi[8];
        for (int k = 0; k < r; k++) {
            d[k] = 1 + rnd() % 5;
            /* outer dims of 4-D stay mostly unscaled, like NCHW images */
            scales[k] = r == 4 && k < 2 && rnd() % 4 ? 1.f : scale_set[rnd() % 9];
            sizes[k] = 1 + rnd() % 7;
            roi[k] = (float)(rnd() % 5) * 0.2f - 0.2f;
            roi[k + r] = roi[k] + (float)(rnd() % 5) * 0.3f + 0.1f;
        }
        ref_cfg c = {.mode = modes[rnd() % 3],
                     .coord = coords[rnd() % 6],
                     .nearest = nearest[rnd() % 4],
                     .a = rnd() & 1 ? -0.75 : -0.5,
                     .extrap = 7.5,
                     .exclude = (int)(rnd() & 1)};
        if (strcmp(c.mode, "cubic") != 0) c.exclude = 0;
        int use_sizes = rnd() & 1;
        /* scales giving an empty output are not interesting here */
        for (int k = 0; !use_sizes && k < r; k++)
            if ((double)scales[k] * (double)d[k] < 1) scales[k] = 1.f;
        snprintf(what, sizeof what, "iter %d: %s %s %s a=%g excl=%d rank %d %s", iter, c.mode,
                 c.coord, c.nearest, c.a, c.exclude, r, use_sizes ? "sizes" : "scales");
        check_resize(r, d, use_sizes ? NULL : scales, use_sizes ? sizes : NULL,
                     strcmp(c.coord, "tf_crop_and_resize") == 0 ? roi : NULL, &c, 1 + iter % 2,
                     what);
    }
}

static void resize_large_nchw(void **state)
{
    (void)state;
    int64_t d[4] = {2, 3, 45, 61};
    ref_cfg near = {.mode = "nearest", .coord = "asymmetric", .nearest = "floor", .a = -0.75};
    ref_cfg lin = {
        .mode = "linear", .coord = "half_pixel", .nearest = "round_prefer_floor", .a = -0.75};
    ref_cfg ac = {
        .mode = "linear", .coord = "align_corners", .nearest = "round_prefer_floor", .a = -0.75};
    ref_cfg cub = {
        .mode = "cubic", .coord = "half_pixel", .nearest = "round_prefer_floor", .a = -0.75};
    float x2[4] = {1, 1, 2, 2}, x3[4] = {1, 1, 3, 3}, dn[4] = {1, 1, 0.5f, 0.5f};
    check_resize(4, d, x2, NULL, NULL, &near, 4, "2x nearest");
    check_resize(4, d, x3, NULL, NULL, &near, 3, "3x nearest");
    check_resize(4, d, x2, NULL, NULL, &lin, 4, "2x bilinear");
    check_resize(4, d, x2, NULL, NULL, &ac, 4, "2x bilinear align_corners");
    check_resize(4, d, dn, NULL, NULL, &lin, 4, "0.5x bilinear");
    check_resize(4, d, x2, NULL, NULL, &cub, 4, "2x bicubic");
    int64_t sz[4] = {2, 3, 100, 37};
    check_resize(4, d, NULL, sz, NULL, &lin, 4, "bilinear to sizes");
}

/* Output values of ONNX conformance cases (test_resize_*), checked by hand against the
 * reference formulas. */
static void resize_conformance_values(void **state)
{
    (void)state;
    int64_t d24[4] = {1, 1, 2, 4}, d22[4] = {1, 1, 2, 2}, d44[4] = {1, 1, 4, 4}, four = 4;
    float x24[8] = {1, 2, 3, 4, 5, 6, 7, 8}, x22[4] = {1, 2, 3, 4}, x44[16];
    for (int i = 0; i < 16; i++) x44[i] = (float)(i + 1);
    struct {
        const char *name, *mode, *coord;
        const int64_t *d;
        const float *x, *scales;
        int n;
        float want[9];
    } c[] = {
        {"downsample_scales_linear_align_corners",
         "linear",
         "align_corners",
         d24,
         x24,
         (float[]){1, 1, 0.6f, 0.6f},
         2,
         {1.f, 3.142857f}},
        {"downsample_scales_linear",
         "linear",
         "half_pixel",
         d24,
         x24,
         (float[]){1, 1, 0.6f, 0.6f},
         2,
         {2.6666665f, 4.333333f}},
        {"downsample_scales_nearest",
         "nearest",
         "half_pixel",
         d24,
         x24,
         (float[]){1, 1, 0.6f, 0.6f},
         2,
         {1.f, 3.f}},
        {"upsample_scales_linear",
         "linear",
         "half_pixel",
         d22,
         x22,
         (float[]){1, 1, 2, 2},
         8,
         {1.f, 1.25f, 1.75f, 2.f, 1.5f, 1.75f, 2.25f, 2.5f}},
        {"upsample_scales_linear_align_corners",
         "linear",
         "align_corners",
         d22,
         x22,
         (float[]){1, 1, 2, 2},
         8,
         {1.f, 1.3333334f, 1.6666666f, 2.f, 1.6666666f, 2.f, 2.3333333f, 2.6666667f}},
        {"downsample_scales_cubic",
         "cubic",
         "half_pixel",
         d44,
         x44,
         (float[]){1, 1, 0.8f, 0.8f},
         8,
         {1.4711914f, 2.78125f, 4.0825195f, 6.7114258f, 8.021484f, 9.322754f, 11.916504f,
          13.226562f}},
        {"downsample_scales_cubic_align_corners",
         "cubic",
         "align_corners",
         d44,
         x44,
         (float[]){1, 1, 0.8f, 0.8f},
         8,
         {1.f, 2.3951917f, 3.790383f, 6.580766f, 7.975958f, 9.371149f, 12.161532f, 13.556724f}},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        cs_tensor *x = h_f32(4, c[i].d, c[i].x), *s = h_f32(1, &four, c[i].scales);
        cs_tensor *in[3] = {x, NULL, s};
        cs_attr a[2] = {h_attr_string("mode", c[i].mode),
                        h_attr_string("coordinate_transformation_mode", c[i].coord)};
        h_result r = h_run(CS_OP_RESIZE, 13, a, 2, in, 3, 1, 1);
        if (r.status != CS_OK) fail_msg("%s: %s", c[i].name, r.err.msg);
        for (int k = 0; k < c[i].n; k++) {
            float got = ((float *)r.out[0].data)[k];
            if (fabsf(got - c[i].want[k]) > 1e-4f * (1 + fabsf(c[i].want[k])))
                fail_msg("%s[%d]: %.7g, want %.7g", c[i].name, k, got, c[i].want[k]);
        }
        h_result_free(&r);
        cs_tensor_free(&s);
        cs_tensor_free(&x);
    }
    /* test_resize_tf_crop_and_resize: roi + sizes, extrapolation 10 */
    cs_tensor *x = h_f32(4, d44, x44);
    cs_tensor *roi = h_f32(1, (int64_t[]){8}, (float[]){0, 0, 0.4f, 0.6f, 1, 1, 1.2f, 1.7f});
    cs_tensor *sz = h_i64(1, &four, (int64_t[]){1, 1, 3, 3});
    cs_tensor *empty = h_f32(1, (int64_t[]){0}, NULL);
    cs_tensor *in[4] = {x, roi, empty, sz};
    cs_attr a[3] = {h_attr_string("mode", "linear"),
                    h_attr_string("coordinate_transformation_mode", "tf_crop_and_resize"),
                    h_attr_float("extrapolation_value", 10.f)};
    h_result r = h_run(CS_OP_RESIZE, 11, a, 3, in, 4, 1, 1);
    assert_int_equal(r.status, CS_OK);
    const float want[9] = {7.6f, 10, 10, 12.4f, 10, 10, 10, 10, 10};
    for (int k = 0; k < 9; k++) assert_true(fabsf(((float *)r.out[0].data)[k] - want[k]) < 1e-4f);
    h_result_free(&r);
    /* tf_half_pixel_for_nn (the name used by opset-11 exporters), sizes 3x2: 6 8 / 10 12 / 14 16 */
    cs_tensor *sz2 = h_i64(1, &four, (int64_t[]){1, 1, 3, 2});
    cs_tensor *in2[4] = {x, empty, empty, sz2};
    cs_attr b = h_attr_string("coordinate_transformation_mode", "tf_half_pixel_for_nn");
    r = h_run(CS_OP_RESIZE, 11, &b, 1, in2, 4, 1, 1);
    assert_int_equal(r.status, CS_OK);
    const float want2[6] = {6, 8, 10, 12, 14, 16};
    for (int k = 0; k < 6; k++) assert_true(((float *)r.out[0].data)[k] == want2[k]);
    h_result_free(&r);
    cs_tensor_free(&sz2);
    cs_tensor_free(&empty);
    cs_tensor_free(&sz);
    cs_tensor_free(&roi);
    cs_tensor_free(&x);
}

static void upsample_legacy(void **state)
{
    (void)state;
    int64_t d[4] = {1, 1, 2, 2}, four = 4;
    float xv[4] = {1, 2, 3, 4}, sv[4] = {1, 1, 2, 3};
    cs_tensor *x = h_f32(4, d, xv), *s = h_f32(1, &four, sv);
    const float want[24] = {1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4};
    cs_attr nearest = h_attr_string("mode", "nearest");
    cs_attr sa = h_attr_floats("scales", 4, sv);
    cs_tensor *in[2] = {x, s};
    h_result r[3] = {h_run(CS_OP_UPSAMPLE, 9, &nearest, 1, in, 2, 1, 1),
                     h_run(CS_OP_UPSAMPLE, 7, (cs_attr[]){nearest, sa}, 2, in, 1, 1, 1),
                     h_run(CS_OP_RESIZE, 10, &nearest, 1, in, 2, 1, 1)};
    for (int i = 0; i < 3; i++) {
        if (r[i].status != CS_OK) fail_msg("case %d: %s", i, r[i].err.msg);
        assert_int_equal(r[i].out[0].dims[2], 4);
        assert_int_equal(r[i].out[0].dims[3], 6);
        for (int k = 0; k < 24; k++) assert_true(((float *)r[i].out[0].data)[k] == want[k]);
        h_result_free(&r[i]);
    }
    /* linear, asymmetric: x = o / scale, clamped at the last input */
    cs_attr lin = h_attr_string("mode", "linear");
    float s2[4] = {1, 1, 1, 2};
    cs_tensor *t2 = h_f32(1, &four, s2);
    in[1] = t2;
    h_result l = h_run(CS_OP_UPSAMPLE, 9, &lin, 1, in, 2, 1, 1);
    assert_int_equal(l.status, CS_OK);
    const float wl[8] = {1, 1.5f, 2, 2, 3, 3.5f, 4, 4};
    for (int k = 0; k < 8; k++) assert_true(((float *)l.out[0].data)[k] == wl[k]);
    h_result_free(&l);
    /* Upsample-7 spelled linear as "bilinear" in some exporters */
    cs_attr bil = h_attr_string("mode", "bilinear");
    cs_attr sa2 = h_attr_floats("scales", 4, s2);
    l = h_run(CS_OP_UPSAMPLE, 7, (cs_attr[]){bil, sa2}, 2, in, 1, 1, 1);
    assert_int_equal(l.status, CS_OK);
    for (int k = 0; k < 8; k++) assert_true(((float *)l.out[0].data)[k] == wl[k]);
    h_result_free(&l);
    /* downsampling in Resize-10 rounds up (as onnxruntime does) */
    float s3[4] = {1, 1, 1, 0.5f};
    int64_t d5[4] = {1, 1, 1, 5};
    cs_tensor *x5 = h_f32(4, d5, (float[]){10, 11, 12, 13, 14}), *t3 = h_f32(1, &four, s3);
    cs_tensor *in3[2] = {x5, t3};
    l = h_run(CS_OP_RESIZE, 10, &nearest, 1, in3, 2, 1, 1);
    assert_int_equal(l.status, CS_OK);
    assert_int_equal(l.out[0].dims[3], 2);
    assert_true(((float *)l.out[0].data)[0] == 10 && ((float *)l.out[0].data)[1] == 12);
    h_result_free(&l);
    cs_tensor_free(&t3);
    cs_tensor_free(&x5);
    cs_tensor_free(&t2);
    cs_tensor_free(&s);
    cs_tensor_free(&x);
}

static void resize_refusals(void **state)
{
    (void)state;
    int64_t d[4] = {1, 1, 2, 2}, four = 4, three = 3;
    cs_tensor *x = h_f32(4, d, NULL), *s = h_f32(1, &four, (float[]){1, 1, 2, 2});
    cs_tensor *sz = h_i64(1, &four, (int64_t[]){1, 1, 4, 4});
    cs_tensor *s3 = h_f32(1, &three, (float[]){1, 2, 2});
    cs_tensor *neg = h_f32(1, &four, (float[]){1, 1, -2, 2});
    cs_tensor *xi = h_i64(4, d, NULL);
    h_result r;
    cs_tensor *in[4] = {x, NULL, s, sz};
    r = h_run(CS_OP_RESIZE, 13, NULL, 0, in, 4, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "scales and sizes are both given");
    in[2] = in[3] = NULL;
    r = h_run(CS_OP_RESIZE, 13, NULL, 0, in, 4, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "one of scales and sizes is required");
    in[2] = s3;
    r = h_run(CS_OP_RESIZE, 13, NULL, 0, in, 3, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "scales has 3 values for input shape 1x1x2x2");
    in[2] = neg;
    r = h_run(CS_OP_RESIZE, 13, NULL, 0, in, 3, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "scale -2 on axis 2 must be > 0");
    /* shapes computed at run time */
    in[2] = s;
    void *keep = s->data;
    s->data = NULL;
    r = h_run(CS_OP_RESIZE, 13, NULL, 0, in, 3, 1, 1);
    expect_fail(&r, CS_ERR_UNSUPPORTED, "scales must be constant (computed at load time)");
    cs_tensor *uin[2] = {x, s};
    r = h_run(CS_OP_UPSAMPLE, 9, NULL, 0, uin, 2, 1, 1);
    expect_fail(&r, CS_ERR_UNSUPPORTED, "scales must be constant");
    s->data = keep;
    in[2] = NULL;
    in[3] = sz;
    keep = sz->data;
    sz->data = NULL;
    r = h_run(CS_OP_RESIZE, 13, NULL, 0, in, 4, 1, 1);
    expect_fail(&r, CS_ERR_UNSUPPORTED, "sizes must be constant (computed at load time)");
    sz->data = keep;
    cs_attr tf = h_attr_string("coordinate_transformation_mode", "tf_crop_and_resize");
    r = h_run(CS_OP_RESIZE, 13, &tf, 1, in, 4, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "tf_crop_and_resize needs the roi input");
    cs_attr bad = h_attr_string("mode", "area");
    r = h_run(CS_OP_RESIZE, 13, &bad, 1, in, 4, 1, 1);
    expect_fail(&r, CS_ERR_UNSUPPORTED, "mode 'area' is not supported");
    cs_attr cubic10 = h_attr_string("mode", "cubic");
    r = h_run(CS_OP_RESIZE, 10, &cubic10, 1, in, 2, 1, 1);
    expect_fail(&r, CS_ERR_UNSUPPORTED, "mode 'cubic' is not supported");
    cs_attr ct = h_attr_string("coordinate_transformation_mode", "half_pixel_symmetric");
    r = h_run(CS_OP_RESIZE, 13, &ct, 1, in, 4, 1, 1);
    expect_fail(&r, CS_ERR_UNSUPPORTED, "'half_pixel_symmetric' is not supported");
    cs_attr aa = h_attr_int("antialias", 1);
    r = h_run(CS_OP_RESIZE, 18, &aa, 1, in, 4, 1, 1);
    expect_fail(&r, CS_ERR_UNSUPPORTED, "antialias");
    in[0] = xi;
    r = h_run(CS_OP_RESIZE, 13, NULL, 0, in, 4, 1, 1);
    expect_fail(&r, CS_ERR_UNSUPPORTED, "input must be float");
    r = h_run(CS_OP_UPSAMPLE, 7, NULL, 0, &x, 1, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "missing attribute 'scales'");
    cs_tensor_free(&xi);
    cs_tensor_free(&neg);
    cs_tensor_free(&s3);
    cs_tensor_free(&sz);
    cs_tensor_free(&s);
    cs_tensor_free(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(resize_random),
        cmocka_unit_test(resize_large_nchw),
        cmocka_unit_test(resize_conformance_values),
        cmocka_unit_test(upsample_legacy),
        cmocka_unit_test(resize_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
