/* The planner on built models: folding and fusion change nothing but speed (fused and
 * no_fuse plans agree with each other and with a naive reference), kept tensors stay
 * readable, the memory plan reuses buffers, batch and threads options work, destroy is safe
 * twice. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "camstream/core.h"
#include "model_builder.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define assert_msg_has(err, sub)                                                                   \
    do {                                                                                           \
        if (!strstr((err).msg, (sub)))                                                             \
            fail_msg("error message \"%s\" does not mention \"%s\"", (err).msg, (sub));            \
    } while (0)

/* ---- helpers ------------------------------------------------------------------------------ */

/* Deterministic values in [-1, 1). */
static void fill(float *x, int64_t n, uint32_t seed)
{
    uint32_t s = seed * 2654435761u + 1u;
    for (int64_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)(s >> 8) / (float)(1u << 23) - 1.f;
    }
}

static float *rand_vec(int64_t n, uint32_t seed)
{
    float *x = malloc(sizeof(float) * (size_t)(n ? n : 1));
    assert_non_null(x);
    fill(x, n, seed);
    return x;
}

/* Positive values in [lo, lo + 1). */
static float *pos_vec(int64_t n, uint32_t seed, float lo)
{
    float *x = rand_vec(n, seed);
    for (int64_t i = 0; i < n; i++) x[i] = lo + 0.5f * (x[i] + 1.f);
    return x;
}

static cs_model *load(mb_model *b)
{
    size_t len;
    uint8_t *buf = mb_pack(b, &len);
    cs_error err = {0};
    cs_model *m = cs_model_load_memory(buf, len, "test.onnx", &err);
    free(buf);
    if (!m) fail_msg("load: %s", err.msg);
    return m;
}

static cs_plan *plan(const cs_model *m, const cs_plan_opts *o)
{
    cs_error err = {0};
    cs_plan *p = cs_plan_new(m, o, &err);
    if (!p) fail_msg("plan: %s", err.msg);
    return p;
}

static cs_plan_opts opts(int threads)
{
    cs_plan_opts o = cs_plan_opts_default();
    o.threads = threads;
    return o;
}

/* Fills input 0 from seed, runs, returns a malloc'd copy of output 0 (*n its numel). */
static float *run(cs_plan *p, uint32_t seed, int64_t *n)
{
    cs_tensor *x = cs_plan_input(p, 0);
    assert_non_null(x);
    assert_int_equal(x->type, CS_F32);
    fill(x->data, x->numel, seed);
    cs_error err = {0};
    if (cs_plan_run(p, &err) != CS_OK) fail_msg("run: %s", err.msg);
    const cs_tensor *y = cs_plan_output(p, 0);
    assert_non_null(y);
    float *out = malloc(cs_tensor_bytes(y) ? cs_tensor_bytes(y) : 1);
    assert_non_null(out);
    memcpy(out, y->data, cs_tensor_bytes(y));
    *n = y->numel;
    return out;
}

static void assert_close(const float *a, const float *b, int64_t n, double tol)
{
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= tol * (1.0 + fabs((double)b[i]))))
            fail_msg("element %lld: %.8g vs %.8g", (long long)i, a[i], b[i]);
    }
}

/* Naive NCHW convolution, group 1, square stride and padding. */
static void ref_conv(const float *x, int64_t n, int64_t c, int64_t h, int64_t w, const float *wt,
                     const float *bias, int64_t oc, int64_t k, int64_t pad, int64_t stride,
                     float *y, int64_t *oh_out, int64_t *ow_out)
{
    int64_t oh = (h + 2 * pad - k) / stride + 1, ow = (w + 2 * pad - k) / stride + 1;
    for (int64_t b = 0; b < n; b++)
        for (int64_t o = 0; o < oc; o++)
            for (int64_t i = 0; i < oh; i++)
                for (int64_t j = 0; j < ow; j++) {
                    double s = bias ? bias[o] : 0.0;
                    for (int64_t ci = 0; ci < c; ci++)
                        for (int64_t u = 0; u < k; u++)
                            for (int64_t v = 0; v < k; v++) {
                                int64_t yy = i * stride - pad + u, xx = j * stride - pad + v;
                                if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
                                s += (double)x[((b * c + ci) * h + yy) * w + xx] *
                                     wt[((o * c + ci) * k + u) * k + v];
                            }
                    y[((b * oc + o) * oh + i) * ow + j] = (float)s;
                }
    *oh_out = oh;
    *ow_out = ow;
}

static void ref_bn(float *y, int64_t n, int64_t c, int64_t hw, const float *g, const float *be,
                   const float *mu, const float *var, float eps)
{
    for (int64_t b = 0; b < n; b++)
        for (int64_t o = 0; o < c; o++)
            for (int64_t i = 0; i < hw; i++) {
                float *v = &y[(b * c + o) * hw + i];
                *v = (*v - mu[o]) / sqrtf(var[o] + eps) * g[o] + be[o];
            }
}

/* ---- Conv -> BatchNormalization -> Relu ----------------------------------------------------- */

enum { CB_N = 1, CB_C = 3, CB_H = 7, CB_W = 6, CB_OC = 4, CB_K = 3 };

typedef struct {
    float *w, *bias, *g, *be, *mu, *var;
} conv_bn_weights;

static conv_bn_weights cb_weights(void)
{
    conv_bn_weights cw;
    cw.w = rand_vec(CB_OC * CB_C * CB_K * CB_K, 1);
    cw.bias = rand_vec(CB_OC, 2);
    cw.g = rand_vec(CB_OC, 3);
    cw.be = rand_vec(CB_OC, 4);
    cw.mu = rand_vec(CB_OC, 5);
    cw.var = pos_vec(CB_OC, 6, 0.1f);
    return cw;
}

static void cb_free(conv_bn_weights *cw)
{
    free(cw->w);
    free(cw->bias);
    free(cw->g);
    free(cw->be);
    free(cw->mu);
    free(cw->var);
}

/* x[N?,3,7,6] -> Conv 3x3 pad 1 (+bias) -> BN -> Relu -> y; batch < 0: symbolic first dim. */
static mb_model *conv_bn_relu_model(const conv_bn_weights *cw, int symbolic_batch)
{
    mb_model *b = mb_new(13);
    int64_t xd[] = {symbolic_batch ? -1 : CB_N, CB_C, CB_H, CB_W};
    int64_t wd[] = {CB_OC, CB_C, CB_K, CB_K}, cd[] = {CB_OC};
    mb_input(b, "x", MB_F32, 4, xd);
    mb_init_f32(b, "w", 4, wd, cw->w);
    mb_init_f32(b, "bias", 1, cd, cw->bias);
    mb_init_f32(b, "g", 1, cd, cw->g);
    mb_init_f32(b, "be", 1, cd, cw->be);
    mb_init_f32(b, "mu", 1, cd, cw->mu);
    mb_init_f32(b, "var", 1, cd, cw->var);
    Onnx__NodeProto *c = mb_node(b, "Conv", "conv", MB_IN("x", "w", "bias"), MB_OUT("c"));
    const int64_t pads[] = {1, 1, 1, 1}, k[] = {CB_K, CB_K};
    mb_attr_ints(b, c, "pads", 4, pads);
    mb_attr_ints(b, c, "kernel_shape", 2, k);
    Onnx__NodeProto *bn =
        mb_node(b, "BatchNormalization", "bn", MB_IN("c", "g", "be", "mu", "var"), MB_OUT("n"));
    mb_attr_float(b, bn, "epsilon", 1e-3f);
    mb_node(b, "Relu", "relu", MB_IN("n"), MB_OUT("y"));
    mb_output(b, "y", MB_F32, -1, NULL);
    return b;
}

static float *cb_reference(const conv_bn_weights *cw, const float *x, int64_t n, int relu)
{
    float *y = malloc(sizeof(float) * (size_t)(n * CB_OC * CB_H * CB_W));
    assert_non_null(y);
    int64_t oh, ow;
    ref_conv(x, n, CB_C, CB_H, CB_W, cw->w, cw->bias, CB_OC, CB_K, 1, 1, y, &oh, &ow);
    assert_int_equal(oh, CB_H);
    assert_int_equal(ow, CB_W);
    ref_bn(y, n, CB_OC, oh * ow, cw->g, cw->be, cw->mu, cw->var, 1e-3f);
    if (relu)
        for (int64_t i = 0; i < n * CB_OC * oh * ow; i++) y[i] = y[i] > 0 ? y[i] : 0;
    return y;
}

static void conv_bn_relu_fused_matches_unfused(void **state)
{
    (void)state;
    conv_bn_weights cw = cb_weights();
    mb_model *b = conv_bn_relu_model(&cw, 0);
    cs_model *m = load(b);
    cs_plan_opts o = opts(1);
    cs_plan *fused = plan(m, &o);
    o.no_fuse = 1;
    cs_plan *plain = plan(m, &o);
    /* BatchNorm folded into the Conv, Relu fused into it: one step. */
    assert_int_equal(cs_plan_n_steps(fused), 1);
    assert_int_equal(cs_plan_n_steps(plain), 3);
    int64_t n1, n2;
    float *y1 = run(fused, 7, &n1), *y2 = run(plain, 7, &n2);
    assert_int_equal(n1, CB_N * CB_OC * CB_H * CB_W);
    assert_int_equal(n1, n2);
    assert_close(y1, y2, n1, 1e-5);
    /* And both are right. */
    float *x = rand_vec(CB_N * CB_C * CB_H * CB_W, 0);
    fill(x, CB_N * CB_C * CB_H * CB_W, 7);
    float *want = cb_reference(&cw, x, CB_N, 1);
    assert_close(y1, want, n1, 1e-4);
    assert_close(y2, want, n1, 1e-4);
    int zeros = 0, pos = 0;
    for (int64_t i = 0; i < n1; i++) zeros += y1[i] == 0.f, pos += y1[i] > 0.f;
    assert_true(zeros > 0 && pos > 0); /* the Relu matters on this data */
    /* The fused BatchNorm output is gone; asking for it says so. */
    cs_error err = {0};
    assert_null(cs_plan_tensor(fused, "n", &err));
    assert_msg_has(err, "'n'");
    free(x);
    free(want);
    free(y1);
    free(y2);
    cs_plan_destroy(&fused);
    cs_plan_destroy(&plain);
    cs_model_destroy(&m);
    mb_free(&b);
    cb_free(&cw);
}

/* ---- Gemm -> BatchNormalization ------------------------------------------------------------ */

static void gemm_bn_case(int trans_b, float alpha, float beta)
{
    enum { M = 3, K = 5, N = 4 };
    float *a_w = rand_vec(K * N, 11 + (uint32_t)trans_b), *c = rand_vec(N, 12);
    float *g = rand_vec(N, 13), *be = rand_vec(N, 14), *mu = rand_vec(N, 15);
    float *var = pos_vec(N, 16, 0.2f);
    mb_model *b = mb_new(13);
    int64_t xd[] = {M, K}, wd[] = {trans_b ? N : K, trans_b ? K : N}, cd[] = {N};
    mb_input(b, "x", MB_F32, 2, xd);
    mb_init_f32(b, "w", 2, wd, a_w);
    mb_init_f32(b, "c", 1, cd, c);
    mb_init_f32(b, "g", 1, cd, g);
    mb_init_f32(b, "be", 1, cd, be);
    mb_init_f32(b, "mu", 1, cd, mu);
    mb_init_f32(b, "var", 1, cd, var);
    Onnx__NodeProto *gm = mb_node(b, "Gemm", "fc", MB_IN("x", "w", "c"), MB_OUT("h"));
    mb_attr_int(b, gm, "transB", trans_b);
    mb_attr_float(b, gm, "alpha", alpha);
    mb_attr_float(b, gm, "beta", beta);
    mb_node(b, "BatchNormalization", "bn", MB_IN("h", "g", "be", "mu", "var"), MB_OUT("y"));
    mb_output(b, "y", MB_F32, -1, NULL);
    cs_model *m = load(b);
    cs_plan_opts o = opts(1);
    cs_plan *fused = plan(m, &o);
    o.no_fuse = 1;
    cs_plan *plain = plan(m, &o);
    assert_int_equal(cs_plan_n_steps(fused), 1);
    assert_int_equal(cs_plan_n_steps(plain), 2);
    int64_t n1, n2;
    float *y1 = run(fused, 21, &n1), *y2 = run(plain, 21, &n2);
    assert_int_equal(n1, M * N);
    assert_int_equal(n2, M * N);
    assert_close(y1, y2, n1, 1e-5);
    float x[M * K], want[M * N];
    fill(x, M * K, 21);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < K; k++)
                s += (double)x[i * K + k] * (trans_b ? a_w[j * K + k] : a_w[k * N + j]);
            float h = (float)(alpha * s + beta * c[j]);
            want[i * N + j] = (h - mu[j]) / sqrtf(var[j] + 1e-5f) * g[j] + be[j];
        }
    assert_close(y1, want, M * N, 1e-4);
    free(y1);
    free(y2);
    cs_plan_destroy(&fused);
    cs_plan_destroy(&plain);
    cs_model_destroy(&m);
    mb_free(&b);
    free(a_w);
    free(c);
    free(g);
    free(be);
    free(mu);
    free(var);
}

static void gemm_bn_fused_matches_unfused(void **state)
{
    (void)state;
    gemm_bn_case(1, 1.f, 1.f);
    gemm_bn_case(0, 0.7f, 0.5f);
    gemm_bn_case(1, 1.3f, 2.f);
}

/* ---- Conv -> Clip ------------------------------------------------------------------------- */

static void conv_clip_case(int opset)
{
    enum { C = 2, H = 5, W = 5, OC = 3, K = 3 };
    float *w = rand_vec(OC * C * K * K, 31);
    mb_model *b = mb_new(opset);
    int64_t xd[] = {1, C, H, W}, wd[] = {OC, C, K, K};
    mb_input(b, "x", MB_F32, 4, xd);
    mb_init_f32(b, "w", 4, wd, w);
    Onnx__NodeProto *c = mb_node(b, "Conv", "conv", MB_IN("x", "w"), MB_OUT("c"));
    const int64_t strides[] = {2, 2}, pads[] = {1, 1, 1, 1};
    mb_attr_ints(b, c, "strides", 2, strides);
    mb_attr_ints(b, c, "pads", 4, pads);
    const float lo = -0.3f, hi = 0.4f;
    if (opset >= 11) {
        mb_init_f32(b, "lo", 0, NULL, &lo);
        mb_init_f32(b, "hi", 0, NULL, &hi);
        mb_node(b, "Clip", "clip", MB_IN("c", "lo", "hi"), MB_OUT("y"));
    } else {
        Onnx__NodeProto *cl = mb_node(b, "Clip", "clip", MB_IN("c"), MB_OUT("y"));
        mb_attr_float(b, cl, "min", lo);
        mb_attr_float(b, cl, "max", hi);
    }
    mb_output(b, "y", MB_F32, -1, NULL);
    cs_model *m = load(b);
    cs_plan_opts o = opts(1);
    cs_plan *fused = plan(m, &o);
    o.no_fuse = 1;
    cs_plan *plain = plan(m, &o);
    assert_int_equal(cs_plan_n_steps(fused), 1);
    assert_int_equal(cs_plan_n_steps(plain), 2);
    int64_t n1, n2;
    float *y1 = run(fused, 33, &n1), *y2 = run(plain, 33, &n2);
    assert_int_equal(n1, OC * 3 * 3);
    assert_int_equal(n1, n2);
    assert_close(y1, y2, n1, 1e-5);
    float x[C * H * W], want[OC * 3 * 3];
    fill(x, C * H * W, 33);
    int64_t oh, ow;
    ref_conv(x, 1, C, H, W, w, NULL, OC, K, 1, 2, want, &oh, &ow);
    int clipped = 0;
    for (int i = 0; i < OC * 9; i++) {
        float v = want[i] < lo ? lo : want[i] > hi ? hi : want[i];
        clipped += v != want[i];
        want[i] = v;
    }
    assert_true(clipped > 0);
    assert_close(y1, want, n1, 1e-5);
    free(y1);
    free(y2);
    free(w);
    cs_plan_destroy(&fused);
    cs_plan_destroy(&plain);
    cs_model_destroy(&m);
    mb_free(&b);
}

static void conv_clip_fused_matches_unfused(void **state)
{
    (void)state;
    conv_clip_case(13); /* min and max as inputs */
    conv_clip_case(9);  /* min and max as attributes */
}

/* ---- kept tensors --------------------------------------------------------------------------- */

/* x[1,2,6,6] -> Conv(c1) -> Relu(r1) -> Conv(c2) -> Relu(y) */
static mb_model *two_convs(float **w1, float **w2)
{
    *w1 = rand_vec(3 * 2 * 9, 41);
    *w2 = rand_vec(2 * 3 * 9, 42);
    mb_model *b = mb_new(13);
    int64_t xd[] = {1, 2, 6, 6}, w1d[] = {3, 2, 3, 3}, w2d[] = {2, 3, 3, 3};
    const int64_t pads[] = {1, 1, 1, 1};
    mb_input(b, "x", MB_F32, 4, xd);
    mb_init_f32(b, "w1", 4, w1d, *w1);
    mb_init_f32(b, "w2", 4, w2d, *w2);
    Onnx__NodeProto *c = mb_node(b, "Conv", "conv1", MB_IN("x", "w1"), MB_OUT("c1"));
    mb_attr_ints(b, c, "pads", 4, pads);
    mb_node(b, "Relu", "relu1", MB_IN("c1"), MB_OUT("r1"));
    c = mb_node(b, "Conv", "conv2", MB_IN("r1", "w2"), MB_OUT("c2"));
    mb_attr_ints(b, c, "pads", 4, pads);
    mb_node(b, "Relu", "relu2", MB_IN("c2"), MB_OUT("y"));
    mb_output(b, "y", MB_F32, -1, NULL);
    return b;
}

static void keep_named_intermediate(void **state)
{
    (void)state;
    float *w1, *w2;
    mb_model *b = two_convs(&w1, &w2);
    cs_model *m = load(b);
    float x[2 * 36], c1[3 * 36];
    fill(x, 2 * 36, 5);
    int64_t oh, ow;
    ref_conv(x, 1, 2, 6, 6, w1, NULL, 3, 3, 1, 1, c1, &oh, &ow);
    cs_error err;

    /* Without keep: the intermediates are not readable, with a clear error. */
    cs_plan_opts o = opts(1);
    cs_plan *p = plan(m, &o);
    int64_t n;
    float *y_ref = run(p, 5, &n);
    memset(&err, 0, sizeof err);
    assert_null(cs_plan_tensor(p, "r1", &err));
    assert_int_equal(err.status, CS_ERR_INVALID);
    assert_msg_has(err, "'r1'");
    assert_msg_has(err, "keep");
    memset(&err, 0, sizeof err);
    assert_null(cs_plan_tensor(p, "no_such_tensor", &err));
    assert_int_equal(err.status, CS_ERR_INVALID);
    assert_msg_has(err, "no tensor is named 'no_such_tensor'");
    assert_null(cs_plan_tensor(p, "no_such_tensor", NULL)); /* err is optional */
    /* Inputs and outputs are always readable. */
    assert_non_null(cs_plan_tensor(p, "x", NULL));
    assert_non_null(cs_plan_tensor(p, "y", NULL));
    cs_plan_destroy(&p);

    /* keep r1 (a Relu output) and c1 (a Conv output the Relu would otherwise absorb). */
    const char *keep[] = {"r1", "c1"};
    o.keep = keep;
    o.n_keep = 2;
    p = plan(m, &o);
    float *y = run(p, 5, &n);
    assert_close(y, y_ref, n, 1e-6); /* keeping changes nothing else */
    memset(&err, 0, sizeof err);
    const cs_tensor *t = cs_plan_tensor(p, "c1", &err);
    if (!t) fail_msg("%s", err.msg);
    assert_int_equal(t->numel, 3 * 36);
    assert_close(t->data, c1, 3 * 36, 1e-5);
    int neg = 0;
    for (int i = 0; i < 3 * 36; i++) neg += ((const float *)t->data)[i] < 0;
    assert_true(neg > 0); /* pre-activation values: the Relu was not fused into conv1 */
    t = cs_plan_tensor(p, "r1", &err);
    if (!t) fail_msg("%s", err.msg);
    for (int i = 0; i < 3 * 36; i++)
        assert_float_equal(((const float *)t->data)[i], c1[i] > 0 ? c1[i] : 0, 1e-5);
    /* Still not kept: c2. */
    assert_null(cs_plan_tensor(p, "c2", &err));
    assert_msg_has(err, "'c2'");
    free(y);
    cs_plan_destroy(&p);

    /* keep of an unknown name: refused at plan time. */
    const char *bad[] = {"r1", "typo"};
    o.keep = bad;
    o.n_keep = 2;
    memset(&err, 0, sizeof err);
    assert_null(cs_plan_new(m, &o, &err));
    assert_int_equal(err.status, CS_ERR_INVALID);
    assert_msg_has(err, "'typo'");

    free(y_ref);
    free(w1);
    free(w2);
    cs_model_destroy(&m);
    mb_free(&b);
}

static void keep_all(void **state)
{
    (void)state;
    float *w1, *w2;
    mb_model *b = two_convs(&w1, &w2);
    cs_model *m = load(b);
    cs_plan_opts o = opts(1);
    cs_plan *reuse = plan(m, &o);
    o.keep_all = 1;
    cs_plan *all = plan(m, &o);
    int64_t n1, n2;
    float *y1 = run(reuse, 9, &n1), *y2 = run(all, 9, &n2);
    assert_close(y2, y1, n1, 1e-6);
    const char *names[] = {"x", "c1", "r1", "c2", "y"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        cs_error err = {0};
        const cs_tensor *t = cs_plan_tensor(all, names[i], &err);
        if (!t) fail_msg("%s: %s", names[i], err.msg);
        assert_non_null(t->data);
    }
    /* Every shaped tensor is readable; none share memory (no reuse). */
    int readable_count = 0;
    for (int i = 0; i < cs_plan_n_tensors(all); i++) {
        int readable = 0;
        const cs_tensor *t = cs_plan_tensor_at(all, i, &readable);
        assert_non_null(t);
        assert_true(readable);
        readable_count++;
    }
    assert_true(readable_count >= 5);
    const cs_tensor *c1 = cs_plan_tensor(all, "c1", NULL), *c2 = cs_plan_tensor(all, "c2", NULL);
    const cs_tensor *r1 = cs_plan_tensor(all, "r1", NULL);
    assert_ptr_not_equal(c1->data, r1->data);
    assert_ptr_not_equal(c1->data, c2->data);
    float x[72], want[108];
    fill(x, 72, 9);
    int64_t oh, ow;
    ref_conv(x, 1, 2, 6, 6, w1, NULL, 3, 3, 1, 1, want, &oh, &ow);
    assert_close(c1->data, want, 108, 1e-5);
    /* Keeping everything costs memory. */
    assert_true(cs_plan_arena_bytes(all) > cs_plan_arena_bytes(reuse));
    /* Out-of-range indices. */
    assert_null(cs_plan_tensor_at(all, -1, NULL));
    assert_null(cs_plan_tensor_at(all, cs_plan_n_tensors(all), NULL));
    free(y1);
    free(y2);
    free(w1);
    free(w2);
    cs_plan_destroy(&reuse);
    cs_plan_destroy(&all);
    cs_model_destroy(&m);
    mb_free(&b);
}

/* ---- memory plan ---------------------------------------------------------------------------- */

static void arena_reuses_buffers(void **state)
{
    (void)state;
    /* A chain of 8 ops on 1x4x16x16 (4 KiB each): Relu / Add with a constant, alternating. */
    enum { CHAIN = 8, NUMEL = 4 * 16 * 16 };
    mb_model *b = mb_new(13);
    int64_t xd[] = {1, 4, 16, 16}, cd[] = {1};
    const float one = 1.f;
    mb_input(b, "x", MB_F32, 4, xd);
    mb_init_f32(b, "one", 1, cd, &one);
    char prev[16] = "x", cur[16];
    for (int i = 0; i < CHAIN; i++) {
        snprintf(cur, sizeof cur, i == CHAIN - 1 ? "y" : "t%d", i);
        if (i % 2)
            mb_node(b, "Relu", NULL, MB_IN(prev), MB_OUT(cur));
        else
            mb_node(b, "Add", NULL, MB_IN(prev, "one"), MB_OUT(cur));
        memcpy(prev, cur, sizeof prev);
    }
    mb_output(b, "y", MB_F32, 4, xd);
    cs_model *m = load(b);
    cs_plan_opts o = opts(1);
    cs_plan *p = plan(m, &o);
    assert_int_equal(cs_plan_n_steps(p), CHAIN);
    size_t all_bytes = (size_t)(CHAIN + 1) * NUMEL * sizeof(float); /* input + every output */
    size_t arena = cs_plan_arena_bytes(p);
    print_message("chain of %d: arena %zu bytes, all tensors %zu bytes\n", CHAIN, arena, all_bytes);
    /* Input and output stay; the intermediates share at most two more buffers. */
    assert_true(arena < all_bytes);
    assert_true(arena <= 4 * NUMEL * sizeof(float));
    assert_true(arena >= 2 * NUMEL * sizeof(float));
    int64_t n;
    float *y = run(p, 3, &n);
    float x[NUMEL];
    fill(x, NUMEL, 3);
    for (int i = 0; i < NUMEL; i++) {
        float v = x[i];
        for (int k = 0; k < CHAIN; k++) v = k % 2 ? (v > 0 ? v : 0) : v + 1.f;
        assert_float_equal(y[i], v, 1e-6);
    }
    /* A second run on the same plan gives the same result (nothing is left over). */
    float *y2 = run(p, 3, &n);
    assert_memory_equal(y, y2, sizeof(float) * NUMEL);
    free(y2);
    free(y);
    cs_plan_destroy(&p);
    o.keep_all = 1;
    p = plan(m, &o);
    assert_true(cs_plan_arena_bytes(p) >= all_bytes);
    cs_plan_destroy(&p);
    cs_model_destroy(&m);
    mb_free(&b);
}

/* ---- batch ------------------------------------------------------------------------------------
 */

static void batch_from_opts(void **state)
{
    (void)state;
    conv_bn_weights cw = cb_weights();
    mb_model *b = conv_bn_relu_model(&cw, 1);
    cs_model *m = load(b);
    assert_int_equal(cs_model_input(m, 0)->dims[0], -1);
    /* One model, several plans: batch 1 (the default) and batch 3 at once. */
    cs_plan_opts o = opts(1);
    cs_plan *p1 = plan(m, &o);
    o.batch = 3;
    cs_plan *p3 = plan(m, &o);
    assert_int_equal(cs_plan_input(p1, 0)->dims[0], 1);
    const cs_tensor *x3 = cs_plan_input(p3, 0);
    assert_int_equal(x3->dims[0], 3);
    assert_int_equal(x3->numel, 3 * CB_C * CB_H * CB_W);
    int64_t n3;
    float *y3 = run(p3, 77, &n3);
    const cs_tensor *yt = cs_plan_output(p3, 0);
    assert_int_equal(yt->ndim, 4);
    assert_int_equal(yt->dims[0], 3);
    assert_int_equal(n3, 3 * CB_OC * CB_H * CB_W);
    float *x = rand_vec(3 * CB_C * CB_H * CB_W, 0);
    fill(x, 3 * CB_C * CB_H * CB_W, 77);
    float *want = cb_reference(&cw, x, 3, 1);
    assert_close(y3, want, n3, 1e-4);
    /* Each batch item alone through the batch-1 plan gives the same slice. */
    for (int i = 0; i < 3; i++) {
        cs_tensor *x1 = cs_plan_input(p1, 0);
        memcpy(x1->data, x + i * CB_C * CB_H * CB_W, cs_tensor_bytes(x1));
        cs_error err = {0};
        assert_int_equal(cs_plan_run(p1, &err), CS_OK);
        assert_close(cs_plan_output(p1, 0)->data, y3 + i * CB_OC * CB_H * CB_W, CB_OC * CB_H * CB_W,
                     1e-5);
    }
    free(x);
    free(want);
    free(y3);
    cs_plan_destroy(&p1);
    cs_plan_destroy(&p3);
    cs_model_destroy(&m);
    mb_free(&b);
    cb_free(&cw);
}

/* Batch through a Flatten and a Gemm: shapes downstream follow the batch too. */
static void batch_through_flatten_gemm(void **state)
{
    (void)state;
    float *w = rand_vec(10 * 12, 51);
    mb_model *b = mb_new(13);
    int64_t xd[] = {-1, 3, 2, 2}, wd[] = {10, 12};
    mb_input(b, "x", MB_F32, 4, xd);
    mb_init_f32(b, "w", 2, wd, w);
    mb_node(b, "Flatten", "flat", MB_IN("x"), MB_OUT("f"));
    Onnx__NodeProto *g = mb_node(b, "Gemm", "fc", MB_IN("f", "w"), MB_OUT("y"));
    mb_attr_int(b, g, "transB", 1);
    mb_output(b, "y", MB_F32, -1, NULL);
    cs_model *m = load(b);
    cs_plan_opts o = opts(1);
    o.batch = 5;
    cs_plan *p = plan(m, &o);
    int64_t n;
    float *y = run(p, 8, &n);
    const cs_tensor *yt = cs_plan_output(p, 0);
    assert_int_equal(yt->ndim, 2);
    assert_int_equal(yt->dims[0], 5);
    assert_int_equal(yt->dims[1], 10);
    float x[5 * 12];
    fill(x, 60, 8);
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 10; j++) {
            double s = 0;
            for (int k = 0; k < 12; k++) s += (double)x[i * 12 + k] * w[j * 12 + k];
            assert_float_equal(y[i * 10 + j], (float)s, 1e-4);
        }
    free(y);
    free(w);
    cs_plan_destroy(&p);
    cs_model_destroy(&m);
    mb_free(&b);
}

/* ---- lifetime and threads ---------------------------------------------------------------------
 */

static void destroy_twice(void **state)
{
    (void)state;
    float *w1, *w2;
    mb_model *b = two_convs(&w1, &w2);
    cs_model *m = load(b);
    cs_plan_opts o = opts(2);
    cs_plan *p = plan(m, &o);
    cs_plan_destroy(&p);
    assert_null(p);
    cs_plan_destroy(&p);
    cs_plan_destroy(NULL);
    /* A plan that was never run. */
    p = plan(m, NULL); /* NULL opts: the defaults */
    cs_plan_destroy(&p);
    cs_model_destroy(&m);
    cs_model_destroy(&m);
    cs_model_destroy(NULL);
    free(w1);
    free(w2);
    mb_free(&b);
}

static void threads_agree(void **state)
{
    (void)state;
    /* Big enough that kernels split work: 1x8x24x24 -> Conv 16 3x3 -> Relu -> GAP -> Gemm. */
    enum { C = 8, H = 24, OC = 16, CLS = 10 };
    float *w = rand_vec(OC * C * 9, 61), *bias = rand_vec(OC, 62), *fw = rand_vec(CLS * OC, 63);
    mb_model *b = mb_new(13);
    int64_t xd[] = {2, C, H, H}, wd[] = {OC, C, 3, 3}, bd[] = {OC}, fd[] = {CLS, OC};
    mb_input(b, "x", MB_F32, 4, xd);
    mb_init_f32(b, "w", 4, wd, w);
    mb_init_f32(b, "b", 1, bd, bias);
    mb_init_f32(b, "fw", 2, fd, fw);
    Onnx__NodeProto *c = mb_node(b, "Conv", "conv", MB_IN("x", "w", "b"), MB_OUT("c"));
    const int64_t pads[] = {1, 1, 1, 1};
    mb_attr_ints(b, c, "pads", 4, pads);
    mb_node(b, "Relu", "relu", MB_IN("c"), MB_OUT("r"));
    mb_node(b, "GlobalAveragePool", "gap", MB_IN("r"), MB_OUT("g"));
    mb_node(b, "Flatten", "flat", MB_IN("g"), MB_OUT("f"));
    Onnx__NodeProto *g = mb_node(b, "Gemm", "fc", MB_IN("f", "fw"), MB_OUT("y"));
    mb_attr_int(b, g, "transB", 1);
    const char *keep[] = {"r"};
    mb_output(b, "y", MB_F32, -1, NULL);
    cs_model *m = load(b);
    cs_plan_opts o = opts(1);
    o.keep = keep;
    o.n_keep = 1;
    cs_plan *p1 = plan(m, &o);
    o.threads = 2;
    cs_plan *p2 = plan(m, &o);
    int64_t n1, n2;
    float *y1 = run(p1, 99, &n1), *y2 = run(p2, 99, &n2);
    assert_int_equal(n1, 2 * CLS);
    assert_int_equal(n1, n2);
    assert_close(y2, y1, n1, 1e-5);
    const cs_tensor *r1 = cs_plan_tensor(p1, "r", NULL), *r2 = cs_plan_tensor(p2, "r", NULL);
    assert_non_null(r1);
    assert_non_null(r2);
    assert_close(r2->data, r1->data, r1->numel, 1e-5);
    free(y1);
    free(y2);
    free(w);
    free(bias);
    free(fw);
    cs_plan_destroy(&p1);
    cs_plan_destroy(&p2);
    cs_model_destroy(&m);
    mb_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conv_bn_relu_fused_matches_unfused),
        cmocka_unit_test(gemm_bn_fused_matches_unfused),
        cmocka_unit_test(conv_clip_fused_matches_unfused),
        cmocka_unit_test(keep_named_intermediate),
        cmocka_unit_test(keep_all),
        cmocka_unit_test(arena_reuses_buffers),
        cmocka_unit_test(batch_from_opts),
        cmocka_unit_test(batch_through_flatten_gemm),
        cmocka_unit_test(destroy_twice),
        cmocka_unit_test(threads_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
