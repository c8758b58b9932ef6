/* Conv, ConvTranspose and BatchNormalization against naive direct loops, over many random
 * configurations (fixed seed): 1-D/2-D/3-D, groups, depthwise (with multiplier), dilations,
 * strides, pads, auto_pad, 1x1, batch 2, threads 1 and 2, bias or not, fused activations,
 * weights constant or not at prepare time. Plus the error messages of bad shapes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "op_harness.h"
#include "threads.h"

/* ---- runner: like h_run, plus a fused activation and non-constant weights ----------------- */

typedef struct {
    cs_status st;
    cs_error err;
    cs_tensor out;
} run_res;

static run_res run_op(cs_op op, int opset, const cs_attr *attrs, int n_attrs, cs_tensor *const *in,
                      int n_in, int threads, cs_act act, int const_w)
{
    run_res r;
    memset(&r, 0, sizeof r);
    const cs_op_def *d = cs_op_defs[op];
    cs_node n;
    memset(&n, 0, sizeof n);
    n.op = op;
    n.name = "test";
    n.op_type = d->onnx_name;
    n.opset = opset;
    n.n_in = n_in;
    n.n_out = 1;
    n.threads = threads;
    n.act = act;
    cs_attrs as = {n_attrs, attrs};
    /* At shape/prepare time only constants have data: drop it for inputs 1.. when !const_w. */
    cs_tensor shp[8];
    cs_tensor *sp[8] = {0};
    for (int i = 0; i < n_in; i++) {
        if (!in[i]) continue;
        shp[i] = *in[i];
        if (!const_w && i > 0) shp[i].data = NULL;
        if (i == 0) shp[i].data = NULL; /* the data input is never constant */
        sp[i] = &shp[i];
    }
    cs_tensor *outs[1] = {&r.out};
    r.st = d->init(&n, &as, &r.err);
    if (r.st != CS_OK) return r;
    r.st = d->shape(&n, sp, outs, &r.err);
    if (r.st == CS_OK && d->prepare) r.st = d->prepare(&n, sp, outs, &r.err);
    if (r.st == CS_OK) {
        size_t b = cs_tensor_bytes(&r.out);
        r.out.data = malloc(b ? b : 1);
        memset(r.out.data, 0x7f, b); /* garbage: forward must write every element */
        void *scratch = NULL;
        if (n.scratch_bytes && posix_memalign(&scratch, 64, n.scratch_bytes) != 0) abort();
        if (scratch) memset(scratch, 0x7f, n.scratch_bytes);
        cs_exec ex = {.threads = threads, .pool = cs_pool_new(threads), .scratch = scratch};
        cs_blas_threads(threads);
        d->forward(&n, in, outs, &ex);
        cs_pool_destroy(&ex.pool);
        free(scratch);
    }
    if (n.prep) {
        if (d->free_prep)
            d->free_prep(n.prep);
        else
            free(n.prep);
    }
    if (n.params) {
        if (d->free_params)
            d->free_params(n.params);
        else
            free(n.params);
    }
    return r;
}

/* ---- helpers ------------------------------------------------------------------------------ */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint32_t rnd_u32(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static int rnd(int n)
{
    return (int)(rnd_u32() % (uint32_t)n);
}

static float rndf(void)
{
    return (float)rnd_u32() / 4294967296.f * 2.f - 1.f;
}

static cs_tensor *rand_tensor(int ndim, const int64_t *dims)
{
    cs_tensor *t = h_f32(ndim, dims, NULL);
    float *p = t->data;
    for (int64_t i = 0; i < t->numel; i++) p[i] = rndf();
    return t;
}

static float act_ref(cs_act a, double v)
{
    switch (a.kind) {
    case CS_ACT_RELU:
        return v > 0 ? (float)v : 0.f;
    case CS_ACT_CLIP:
        return (float)(v < a.a ? a.a : v > a.b ? a.b : v);
    case CS_ACT_LEAKY_RELU:
        return (float)(v >= 0 ? v : v * a.a);
    default:
        return (float)v;
    }
}

static cs_act random_act(void)
{
    switch (rnd(4)) {
    case 1:
        return (cs_act){CS_ACT_RELU, 0, 0};
    case 2:
        return (cs_act){CS_ACT_CLIP, -0.5f, 0.75f};
    case 3:
        return (cs_act){CS_ACT_LEAKY_RELU, 0.1f, 0};
    default:
        return (cs_act){CS_ACT_NONE, 0, 0};
    }
}

/* Max relative error |got - want| / (1 + |want|); a shape mismatch is an infinite error. */
static double max_err(const cs_tensor *got, const float *want, int ndim, const int64_t *dims)
{
    if (got->ndim != ndim) return INFINITY;
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (got->dims[i] != dims[i]) return INFINITY;
        numel *= dims[i];
    }
    const float *g = got->data;
    double e = 0;
    for (int64_t i = 0; i < numel; i++) {
        double d = fabs((double)g[i] - want[i]) / (1.0 + fabs(want[i]));
        if (!(d <= e)) e = d; /* NaN propagates as the max */
    }
    return e;
}

#define TOL 1e-4

/* ---- Conv reference ----------------------------------------------------------------------- */

typedef struct {
    int nsp;
    int64_t n, c, m, group;
    int64_t in[3], k[3], s[3], d[3], pads[6];
    int autopad; /* 0 NOTSET, 1 SAME_UPPER, 2 SAME_LOWER, 3 VALID */
    int bias, give_kshape, give_attrs;
    cs_act act;
} conv_cfg;

static const char *const autopad_names[4] = {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"};

/* Output dims and the begin pads the config implies, computed independently of the op. */
static int conv_out_dims(const conv_cfg *c, int64_t *out, int64_t *pb)
{
    for (int i = 0; i < c->nsp; i++) {
        int64_t dk = (c->k[i] - 1) * c->d[i] + 1, in = c->in[i], s = c->s[i];
        if (c->autopad == 0) {
            pb[i] = c->pads[i];
            int64_t span = in + c->pads[i] + c->pads[i + c->nsp] - dk;
            if (span < 0) return 0;
            out[i] = span / s + 1;
        } else if (c->autopad == 3) {
            pb[i] = 0;
            if (in < dk) return 0;
            out[i] = (in - dk) / s + 1;
        } else {
            out[i] = (in + s - 1) / s;
            int64_t total = (out[i] - 1) * s + dk - in;
            if (total < 0) total = 0;
            pb[i] = c->autopad == 1 ? total / 2 : total - total / 2;
        }
    }
    return 1;
}

static float *conv_ref(const conv_cfg *c, const cs_tensor *x, const cs_tensor *w,
                       const cs_tensor *b, const int64_t *out, const int64_t *pb)
{
    /* Everything padded to 3 spatial dims at the front. */
    int64_t in3[3] = {1, 1, 1}, k3[3] = {1, 1, 1}, s3[3] = {1, 1, 1}, d3[3] = {1, 1, 1};
    int64_t p3[3] = {0, 0, 0}, o3[3] = {1, 1, 1};
    for (int i = 0; i < c->nsp; i++) {
        int j = 3 - c->nsp + i;
        in3[j] = c->in[i], k3[j] = c->k[i], s3[j] = c->s[i], d3[j] = c->d[i];
        p3[j] = pb[i], o3[j] = out[i];
    }
    int64_t cg = c->c / c->group, mg = c->m / c->group, osz = o3[0] * o3[1] * o3[2];
    int64_t isz = in3[0] * in3[1] * in3[2], ksz = k3[0] * k3[1] * k3[2];
    float *y = malloc(sizeof(float) * (size_t)(c->n * c->m * osz));
    const float *xd = x->data, *wd = w->data, *bd = b ? b->data : NULL;
    for (int64_t n = 0; n < c->n; n++)
        for (int64_t m = 0; m < c->m; m++)
            for (int64_t a = 0; a < o3[0]; a++)
                for (int64_t bb = 0; bb < o3[1]; bb++)
                    for (int64_t cc = 0; cc < o3[2]; cc++) {
                        double acc = bd ? bd[m] : 0.0;
                        int64_t g = m / mg;
                        for (int64_t ci = 0; ci < cg; ci++)
                            for (int64_t ka = 0; ka < k3[0]; ka++)
                                for (int64_t kb = 0; kb < k3[1]; kb++)
                                    for (int64_t kc = 0; kc < k3[2]; kc++) {
                                        int64_t ia = a * s3[0] + ka * d3[0] - p3[0];
                                        int64_t ib = bb * s3[1] + kb * d3[1] - p3[1];
                                        int64_t ic = cc * s3[2] + kc * d3[2] - p3[2];
                                        if (ia < 0 || ia >= in3[0] || ib < 0 || ib >= in3[1] ||
                                            ic < 0 || ic >= in3[2])
                                            continue;
                                        acc += (double)xd[((n * c->c + g * cg + ci) * in3[0] + ia) *
                                                              in3[1] * in3[2] +
                                                          ib * in3[2] + ic] *
                                               wd[(m * cg + ci) * ksz + (ka * k3[1] + kb) * k3[2] +
                                                  kc];
                                    }
                        y[((n * c->m + m) * o3[0] + a) * o3[1] * o3[2] + bb * o3[2] + cc] =
                            act_ref(c->act, acc);
                    }
    (void)isz;
    return y;
}

/* Runs one conv config against the reference; returns the max error (and prints the config
 * when it is too large, so a failure says which one). */
static double conv_check(const conv_cfg *c, int threads, int const_w)
{
    int64_t out[3], pb[3];
    assert_true(conv_out_dims(c, out, pb));
    int64_t xd[5] = {c->n, c->c}, wd[5] = {c->m, c->c / c->group}, bd[1] = {c->m};
    for (int i = 0; i < c->nsp; i++) xd[2 + i] = c->in[i], wd[2 + i] = c->k[i];
    cs_tensor *x = rand_tensor(2 + c->nsp, xd), *w = rand_tensor(2 + c->nsp, wd);
    cs_tensor *b = c->bias ? rand_tensor(1, bd) : NULL;
    cs_attr at[8];
    int na = 0;
    int64_t strides[3], dil[3];
    for (int i = 0; i < c->nsp; i++) strides[i] = c->s[i], dil[i] = c->d[i];
    at[na++] = h_attr_int("group", c->group);
    if (c->give_kshape) at[na++] = h_attr_ints("kernel_shape", c->nsp, c->k);
    if (c->give_attrs || c->s[0] != 1 || c->nsp > 1)
        at[na++] = h_attr_ints("strides", c->nsp, strides);
    at[na++] = h_attr_ints("dilations", c->nsp, dil);
    if (c->autopad == 0) at[na++] = h_attr_ints("pads", 2 * c->nsp, c->pads);
    if (c->autopad != 0 || c->give_attrs)
        at[na++] = h_attr_string("auto_pad", autopad_names[c->autopad]);
    cs_tensor *in[3] = {x, w, b};
    run_res r = run_op(CS_OP_CONV, 11, at, na, in, c->bias ? 3 : 2, threads, c->act, const_w);
    if (r.st != CS_OK) fprintf(stderr, "conv failed: %s\n", r.err.msg);
    assert_int_equal(r.st, CS_OK);
    float *ref = conv_ref(c, x, w, b, out, pb);
    int64_t yd[5] = {c->n, c->m};
    for (int i = 0; i < c->nsp; i++) yd[2 + i] = out[i];
    double e = max_err(&r.out, ref, 2 + c->nsp, yd);
    if (!(e <= TOL)) {
        fprintf(stderr,
                "conv mismatch %.3g: nsp %d n %lld c %lld m %lld group %lld in %lldx%lldx%lld "
                "k %lldx%lldx%lld s %lldx%lldx%lld d %lldx%lldx%lld pads %lld,%lld,%lld,%lld,"
                "%lld,%lld autopad %d bias %d act %d threads %d const %d\n",
                e, c->nsp, (long long)c->n, (long long)c->c, (long long)c->m, (long long)c->group,
                (long long)c->in[0], (long long)c->in[1], (long long)c->in[2], (long long)c->k[0],
                (long long)c->k[1], (long long)c->k[2], (long long)c->s[0], (long long)c->s[1],
                (long long)c->s[2], (long long)c->d[0], (long long)c->d[1], (long long)c->d[2],
                (long long)c->pads[0], (long long)c->pads[1], (long long)c->pads[2],
                (long long)c->pads[3], (long long)c->pads[4], (long long)c->pads[5], c->autopad,
                c->bias, c->act.kind, threads, const_w);
    }
    free(ref);
    free(r.out.data);
    cs_tensor_free(&x);
    cs_tensor_free(&w);
    cs_tensor_free(&b);
    return e;
}

static conv_cfg conv_default(int nsp)
{
    conv_cfg c;
    memset(&c, 0, sizeof c);
    c.nsp = nsp;
    c.n = 1;
    c.c = c.m = c.group = 1;
    for (int i = 0; i < 3; i++) c.in[i] = 5, c.k[i] = 3, c.s[i] = 1, c.d[i] = 1;
    return c;
}

static void conv_random(void **state)
{
    (void)state;
    rng_state = 12345;
    int done = 0;
    while (done < 400) {
        conv_cfg c = conv_default(1 + rnd(3));
        int kind = rnd(4);
        int64_t g = 1, cg = 1 + rnd(3), mg = 1 + rnd(3);
        if (kind == 1) { /* depthwise, maybe with a multiplier */
            g = 1 + rnd(6);
            cg = 1;
            mg = 1 + rnd(2);
        } else if (kind == 2) {
            g = 2 + rnd(2);
        }
        c.group = g;
        c.c = cg * g;
        c.m = mg * g;
        c.n = 1 + rnd(2);
        int64_t maxin = c.nsp == 3 ? 6 : c.nsp == 2 ? 19 : 30;
        for (int i = 0; i < c.nsp; i++) {
            c.in[i] = 1 + rnd((int)maxin);
            c.k[i] = 1 + rnd(c.nsp == 3 ? 3 : 4);
            c.s[i] = 1 + rnd(3);
            c.d[i] = 1 + rnd(2);
            c.pads[i] = rnd(3);
            c.pads[i + c.nsp] = rnd(3);
        }
        if (rnd(5) == 0) /* a 1x1 stride-1 unpadded conv: the no-im2col path */
            for (int i = 0; i < c.nsp; i++)
                c.k[i] = 1, c.s[i] = 1, c.pads[i] = c.pads[i + c.nsp] = 0;
        c.autopad = rnd(3) == 0 ? 1 + rnd(3) : 0;
        c.bias = rnd(2);
        c.give_kshape = rnd(2);
        c.give_attrs = rnd(2);
        c.act = random_act();
        int64_t out[3], pb[3];
        if (!conv_out_dims(&c, out, pb)) continue;
        int threads = 1 + (done & 1);
        assert_true(conv_check(&c, threads, rnd(2)) <= TOL);
        done++;
    }
}

/* Shapes that take the fast paths: MobileNetV2-like depthwise 3x3 stride 1 and 2 (vector
 * body and scalar tails), a multiplier, 5x5 dilated strided depthwise, pointwise with
 * groups, and an im2col big enough to be split in several blocks. */
static void conv_fast_paths(void **state)
{
    (void)state;
    rng_state = 777;
    for (int t = 1; t <= 2; t++) {
        for (int s = 1; s <= 2; s++)
            for (int sz = 7; sz <= 23; sz += 8) {
                conv_cfg c = conv_default(2);
                c.c = c.m = c.group = 5;
                c.n = 2;
                c.in[0] = sz, c.in[1] = sz + 3;
                c.s[0] = c.s[1] = s;
                c.pads[0] = c.pads[1] = c.pads[2] = c.pads[3] = 1;
                c.bias = 1;
                c.act = (cs_act){CS_ACT_CLIP, 0.f, 6.f};
                assert_true(conv_check(&c, t, 1) <= TOL);
                c.act = (cs_act){CS_ACT_RELU, 0, 0};
                c.bias = 0;
                c.m = 10; /* multiplier 2 */
                assert_true(conv_check(&c, t, 0) <= TOL);
            }
        conv_cfg c = conv_default(2);
        c.c = c.m = c.group = 3;
        c.in[0] = 21, c.in[1] = 26;
        c.k[0] = c.k[1] = 5;
        c.s[0] = 3, c.s[1] = 2;
        c.d[0] = 1, c.d[1] = 2;
        c.pads[0] = 2, c.pads[1] = 1, c.pads[2] = 0, c.pads[3] = 3;
        c.bias = 1;
        c.act = (cs_act){CS_ACT_HARD_SIGMOID, 0.2f, 0.5f}; /* not inline: cs_act_apply */
        c.act.kind = CS_ACT_LEAKY_RELU;
        assert_true(conv_check(&c, t, 1) <= TOL);

        c = conv_default(2); /* pointwise, groups */
        c.c = 8, c.m = 6, c.group = 2, c.n = 2;
        c.in[0] = 9, c.in[1] = 11;
        c.k[0] = c.k[1] = 1;
        c.bias = 1;
        c.act = (cs_act){CS_ACT_RELU, 0, 0};
        assert_true(conv_check(&c, t, 1) <= TOL);

        c = conv_default(2); /* im2col in several row blocks (K * rows > 1 MiB) */
        c.c = 64, c.m = 17, c.n = 2;
        c.in[0] = 45, c.in[1] = 47;
        c.pads[0] = c.pads[1] = c.pads[2] = c.pads[3] = 1;
        c.bias = 1;
        assert_true(conv_check(&c, t, 1) <= TOL);

        c = conv_default(2); /* ResNet conv1-like: 7x7 stride 2, wide rows (vector gather) */
        c.c = 3, c.m = 5;
        c.in[0] = 30, c.in[1] = 45;
        c.k[0] = c.k[1] = 7;
        c.s[0] = c.s[1] = 2;
        c.pads[0] = c.pads[1] = c.pads[2] = c.pads[3] = 3;
        c.bias = 1;
        c.act = (cs_act){CS_ACT_RELU, 0, 0};
        assert_true(conv_check(&c, t, 1) <= TOL);

        c = conv_default(3); /* 3-D, groups, strides */
        c.c = 4, c.m = 6, c.group = 2, c.n = 2;
        c.in[0] = 5, c.in[1] = 6, c.in[2] = 7;
        c.k[0] = 2, c.k[1] = 3, c.k[2] = 3;
        c.s[2] = 2;
        c.pads[1] = 1, c.pads[5] = 1;
        c.bias = 1;
        assert_true(conv_check(&c, t, 1) <= TOL);

        c = conv_default(1); /* 1-D depthwise with stride and dilation */
        c.c = c.m = c.group = 4;
        c.in[0] = 40;
        c.k[0] = 5, c.s[0] = 2, c.d[0] = 2;
        c.pads[0] = 3, c.pads[1] = 1;
        assert_true(conv_check(&c, t, 1) <= TOL);

        for (int ap = 1; ap <= 3; ap++) { /* auto_pad on every path */
            c = conv_default(2);
            c.in[0] = 10, c.in[1] = 13;
            c.s[0] = 2, c.s[1] = 3;
            c.autopad = ap;
            c.c = 3, c.m = 2;
            assert_true(conv_check(&c, t, 1) <= TOL);
            c.c = c.m = c.group = 3;
            assert_true(conv_check(&c, t, 1) <= TOL);
        }
    }
}

/* The ONNX conformance case test_conv_with_strides_padding, inlined: guards against a
 * reference and an op that agree on the same wrong idea. */
static void conv_onnx_example(void **state)
{
    (void)state;
    int64_t xd[4] = {1, 1, 7, 5}, wd[4] = {1, 1, 3, 3};
    float xv[35], wv[9];
    for (int i = 0; i < 35; i++) xv[i] = (float)i;
    for (int i = 0; i < 9; i++) wv[i] = 1.f;
    cs_tensor *x = h_f32(4, xd, xv), *w = h_f32(4, wd, wv);
    int64_t k[2] = {3, 3}, p[4] = {1, 1, 1, 1}, s[2] = {2, 2};
    cs_attr at[3] = {h_attr_ints("kernel_shape", 2, k), h_attr_ints("pads", 4, p),
                     h_attr_ints("strides", 2, s)};
    cs_tensor *in[2] = {x, w};
    h_result r = h_run(CS_OP_CONV, 11, at, 3, in, 2, 1, 1);
    assert_int_equal(r.status, CS_OK);
    const float want[12] = {12, 27, 24, 63, 108, 81, 123, 198, 141, 112, 177, 124};
    int64_t yd[4] = {1, 1, 4, 3};
    assert_true(max_err(&r.out[0], want, 4, yd) < 1e-6);
    h_result_free(&r);
    cs_tensor_free(&x);
    cs_tensor_free(&w);
}

/* The comparison can fail: a perturbed reference or a wrong shape is caught. */
static void compare_can_fail(void **state)
{
    (void)state;
    int64_t d[2] = {2, 3};
    float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 2, 3, 4, 5.01f, 6};
    cs_tensor *t = h_f32(2, d, a);
    assert_true(max_err(t, a, 2, d) == 0);
    assert_false(max_err(t, b, 2, d) <= TOL);
    int64_t d2[2] = {3, 2};
    assert_false(max_err(t, a, 2, d2) <= TOL);
    cs_tensor_free(&t);
}

/* ---- ConvTranspose ------------------------------------------------------------------------ */

typedef struct {
    int nsp;
    int64_t n, c, m, group;
    int64_t in[3], k[3], s[3], d[3], pads[6], outpad[3], oshape[3];
    int autopad, use_oshape, bias;
    cs_act act;
} convt_cfg;

/* ONNX's rule: output_shape or SAME_* fix the output; the total padding is split with the
 * extra cell at the end for SAME_UPPER and at the start otherwise (floor division). */
static int convt_out_dims(const convt_cfg *c, int64_t *out, int64_t *pb)
{
    for (int i = 0; i < c->nsp; i++) {
        int64_t full = c->s[i] * (c->in[i] - 1) + c->outpad[i] + (c->k[i] - 1) * c->d[i] + 1;
        if (c->use_oshape || c->autopad == 1 || c->autopad == 2) {
            out[i] = c->use_oshape ? c->oshape[i] : c->in[i] * c->s[i];
            int64_t total = full - out[i];
            int64_t half = total >= 0 ? total / 2 : -((-total + 1) / 2);
            pb[i] = c->autopad == 1 ? half : total - half;
        } else if (c->autopad == 3) {
            pb[i] = 0;
            out[i] = full;
        } else {
            pb[i] = c->pads[i];
            out[i] = full - c->pads[i] - c->pads[i + c->nsp];
        }
        if (out[i] < 1) return 0;
    }
    return 1;
}

static float *convt_ref(const convt_cfg *c, const cs_tensor *x, const cs_tensor *w,
                        const cs_tensor *b, const int64_t *out, const int64_t *pb)
{
    int64_t in3[3] = {1, 1, 1}, k3[3] = {1, 1, 1}, s3[3] = {1, 1, 1}, d3[3] = {1, 1, 1};
    int64_t p3[3] = {0, 0, 0}, o3[3] = {1, 1, 1};
    for (int i = 0; i < c->nsp; i++) {
        int j = 3 - c->nsp + i;
        in3[j] = c->in[i], k3[j] = c->k[i], s3[j] = c->s[i], d3[j] = c->d[i];
        p3[j] = pb[i], o3[j] = out[i];
    }
    int64_t cg = c->c / c->group, mg = c->m / c->group, osz = o3[0] * o3[1] * o3[2];
    int64_t isz = in3[0] * in3[1] * in3[2], ksz = k3[0] * k3[1] * k3[2];
    double *acc = calloc((size_t)(c->n * c->m * osz), sizeof(double));
    const float *xd = x->data, *wd = w->data, *bd = b ? b->data : NULL;
    for (int64_t n = 0; n < c->n; n++)
        for (int64_t ci = 0; ci < c->c; ci++)
            for (int64_t ia = 0; ia < in3[0]; ia++)
                for (int64_t ib = 0; ib < in3[1]; ib++)
                    for (int64_t ic = 0; ic < in3[2]; ic++) {
                        double xv = xd[(n * c->c + ci) * isz + (ia * in3[1] + ib) * in3[2] + ic];
                        int64_t g = ci / cg;
                        for (int64_t ml = 0; ml < mg; ml++)
                            for (int64_t ka = 0; ka < k3[0]; ka++)
                                for (int64_t kb = 0; kb < k3[1]; kb++)
                                    for (int64_t kc = 0; kc < k3[2]; kc++) {
                                        int64_t oa = ia * s3[0] + ka * d3[0] - p3[0];
                                        int64_t ob = ib * s3[1] + kb * d3[1] - p3[1];
                                        int64_t oc = ic * s3[2] + kc * d3[2] - p3[2];
                                        if (oa < 0 || oa >= o3[0] || ob < 0 || ob >= o3[1] ||
                                            oc < 0 || oc >= o3[2])
                                            continue;
                                        int64_t m = g * mg + ml;
                                        acc[(n * c->m + m) * osz + (oa * o3[1] + ob) * o3[2] +
                                            oc] += xv * wd[(ci * mg + ml) * ksz +
                                                           (ka * k3[1] + kb) * k3[2] + kc];
                                    }
                    }
    float *y = malloc(sizeof(float) * (size_t)(c->n * c->m * osz));
    for (int64_t i = 0; i < c->n * c->m * osz; i++)
        y[i] = act_ref(c->act, acc[i] + (bd ? bd[(i / osz) % c->m] : 0.0));
    free(acc);
    return y;
}

static double convt_check(const convt_cfg *c, int threads, int const_w)
{
    int64_t out[3], pb[3];
    assert_true(convt_out_dims(c, out, pb));
    int64_t xd[5] = {c->n, c->c}, wd[5] = {c->c, c->m / c->group}, bd[1] = {c->m};
    for (int i = 0; i < c->nsp; i++) xd[2 + i] = c->in[i], wd[2 + i] = c->k[i];
    cs_tensor *x = rand_tensor(2 + c->nsp, xd), *w = rand_tensor(2 + c->nsp, wd);
    cs_tensor *b = c->bias ? rand_tensor(1, bd) : NULL;
    cs_attr at[8];
    int na = 0;
    at[na++] = h_attr_int("group", c->group);
    at[na++] = h_attr_ints("strides", c->nsp, c->s);
    at[na++] = h_attr_ints("dilations", c->nsp, c->d);
    at[na++] = h_attr_ints("output_padding", c->nsp, c->outpad);
    if (c->autopad == 0 && !c->use_oshape) at[na++] = h_attr_ints("pads", 2 * c->nsp, c->pads);
    if (c->use_oshape) at[na++] = h_attr_ints("output_shape", c->nsp, c->oshape);
    if (c->autopad) at[na++] = h_attr_string("auto_pad", autopad_names[c->autopad]);
    cs_tensor *in[3] = {x, w, b};
    run_res r =
        run_op(CS_OP_CONV_TRANSPOSE, 11, at, na, in, c->bias ? 3 : 2, threads, c->act, const_w);
    if (r.st != CS_OK) fprintf(stderr, "convtranspose failed: %s\n", r.err.msg);
    assert_int_equal(r.st, CS_OK);
    float *ref = convt_ref(c, x, w, b, out, pb);
    int64_t yd[5] = {c->n, c->m};
    for (int i = 0; i < c->nsp; i++) yd[2 + i] = out[i];
    double e = max_err(&r.out, ref, 2 + c->nsp, yd);
    if (!(e <= TOL))
        fprintf(stderr,
                "convtranspose mismatch %.3g: nsp %d c %lld m %lld group %lld in %lldx%lldx%lld "
                "k %lldx%lldx%lld s %lldx%lldx%lld autopad %d oshape %d\n",
                e, c->nsp, (long long)c->c, (long long)c->m, (long long)c->group,
                (long long)c->in[0], (long long)c->in[1], (long long)c->in[2], (long long)c->k[0],
                (long long)c->k[1], (long long)c->k[2], (long long)c->s[0], (long long)c->s[1],
                (long long)c->s[2], c->autopad, c->use_oshape);
    free(ref);
    free(r.out.data);
    cs_tensor_free(&x);
    cs_tensor_free(&w);
    cs_tensor_free(&b);
    return e;
}

static void convt_random(void **state)
{
    (void)state;
    rng_state = 4242;
    int done = 0;
    while (done < 250) {
        convt_cfg c;
        memset(&c, 0, sizeof c);
        c.nsp = 1 + rnd(3);
        c.group = rnd(3) == 0 ? 2 + rnd(2) : 1;
        c.c = c.group * (1 + rnd(3));
        c.m = c.group * (1 + rnd(3));
        c.n = 1 + rnd(2);
        int64_t maxin = c.nsp == 3 ? 4 : c.nsp == 2 ? 9 : 15;
        for (int i = 0; i < 3; i++) c.in[i] = c.k[i] = c.s[i] = c.d[i] = 1;
        for (int i = 0; i < c.nsp; i++) {
            c.in[i] = 1 + rnd((int)maxin);
            c.k[i] = 1 + rnd(3);
            c.s[i] = 1 + rnd(3);
            c.d[i] = 1 + rnd(2);
            c.outpad[i] = rnd((int)c.s[i]);
            c.pads[i] = rnd(3);
            c.pads[i + c.nsp] = rnd(3);
        }
        c.autopad = rnd(3) == 0 ? 1 + rnd(3) : 0;
        c.use_oshape = rnd(4) == 0;
        if (c.use_oshape) {
            if (c.autopad == 3) c.autopad = 0;
            for (int i = 0; i < c.nsp; i++)
                c.oshape[i] =
                    c.s[i] * (c.in[i] - 1) + c.outpad[i] + (c.k[i] - 1) * c.d[i] + 1 + rnd(5) - 2;
        }
        c.bias = rnd(2);
        c.act = random_act();
        int64_t out[3], pb[3];
        if (!convt_out_dims(&c, out, pb)) continue;
        assert_true(convt_check(&c, 1 + (done & 1), rnd(2)) <= TOL);
        done++;
    }
}

/* test_convtranspose_autopad_same and _output_shape from the ONNX suite, inlined: they fix
 * which side gets the odd padding cell. */
static void convt_onnx_examples(void **state)
{
    (void)state;
    int64_t xd[4] = {1, 1, 3, 3}, wd[4] = {1, 2, 3, 3};
    float xv[9], wv[18];
    for (int i = 0; i < 9; i++) xv[i] = (float)i;
    for (int i = 0; i < 18; i++) wv[i] = 1.f;
    cs_tensor *x = h_f32(4, xd, xv), *w = h_f32(4, wd, wv);
    cs_tensor *in[2] = {x, w};
    int64_t s[2] = {2, 2};
    cs_attr at[2] = {h_attr_string("auto_pad", "SAME_UPPER"), h_attr_ints("strides", 2, s)};
    h_result r = h_run(CS_OP_CONV_TRANSPOSE, 11, at, 2, in, 2, 1, 1);
    assert_int_equal(r.status, CS_OK);
    const float want_row0[6] = {0, 0, 1, 1, 3, 2}, want_row1[6] = {0, 0, 1, 1, 3, 2};
    int64_t yd[4] = {1, 2, 6, 6};
    assert_int_equal(r.out[0].ndim, 4);
    for (int i = 0; i < 4; i++) assert_int_equal(r.out[0].dims[i], yd[i]);
    const float *y = r.out[0].data;
    for (int i = 0; i < 6; i++) {
        assert_float_equal(y[i], want_row0[i], 1e-6);
        assert_float_equal(y[6 + i], want_row1[i], 1e-6);
    }
    h_result_free(&r);

    int64_t s2[2] = {3, 2}, os[2] = {10, 8};
    cs_attr at2[2] = {h_attr_ints("strides", 2, s2), h_attr_ints("output_shape", 2, os)};
    r = h_run(CS_OP_CONV_TRANSPOSE, 11, at2, 2, in, 2, 1, 1);
    assert_int_equal(r.status, CS_OK);
    y = r.out[0].data;
    /* First row: 0 0 1 1 3 2 2 0; the last row (index 9) and column are the extra zeros. */
    const float want[8] = {0, 0, 1, 1, 3, 2, 2, 0};
    for (int i = 0; i < 8; i++) assert_float_equal(y[i], want[i], 1e-6);
    for (int i = 0; i < 8; i++) assert_float_equal(y[9 * 8 + i], 0.f, 1e-6);
    h_result_free(&r);
    cs_tensor_free(&x);
    cs_tensor_free(&w);
}

/* ---- errors ------------------------------------------------------------------------------- */

static void expect_fail(cs_op op, int opset, const cs_attr *at, int na, cs_tensor *const *in,
                        int n_in, cs_status st, const char *needle)
{
    h_result r = h_run(op, opset, at, na, in, n_in, 1, 1);
    if (r.status != st || !strstr(r.err.msg, needle))
        fprintf(stderr, "expected status %d with '%s', got %d: '%s'\n", st, needle, r.status,
                r.err.msg);
    assert_int_equal(r.status, st);
    assert_non_null(strstr(r.err.msg, needle));
    assert_non_null(strstr(r.err.msg, "node 'test'"));
    h_result_free(&r);
}

static void conv_errors(void **state)
{
    (void)state;
    int64_t xd[4] = {1, 3, 8, 8}, w3[3] = {3, 3, 3}, w4[4] = {2, 3, 3, 3}, w4c[4] = {2, 4, 3, 3};
    int64_t big[4] = {2, 3, 9, 9}, b3[1] = {3}, x2[2] = {3, 8};
    cs_tensor *x = h_f32(4, xd, NULL), *wbad = h_f32(3, w3, NULL), *w = h_f32(4, w4, NULL);
    cs_tensor *wc = h_f32(4, w4c, NULL), *wbig = h_f32(4, big, NULL), *b = h_f32(1, b3, NULL);
    cs_tensor *xs = h_f32(2, x2, NULL);

    cs_tensor *in1[2] = {x, wbad};
    expect_fail(CS_OP_CONV, 11, NULL, 0, in1, 2, CS_ERR_INVALID,
                "weight must be 4-D for a 2-D convolution (input 1x3x8x8), got 3x3x3");
    cs_tensor *in2[2] = {x, wc};
    expect_fail(CS_OP_CONV, 11, NULL, 0, in2, 2, CS_ERR_INVALID,
                "input has 3 channels, weight expects 4 x group 1");
    cs_tensor *in3[3] = {x, w, b};
    expect_fail(CS_OP_CONV, 11, NULL, 0, in3, 3, CS_ERR_INVALID,
                "bias must be 1-D of 2 (output channels), got 3");
    cs_tensor *in4[2] = {x, wbig};
    expect_fail(CS_OP_CONV, 11, NULL, 0, in4, 2, CS_ERR_INVALID,
                "smaller than the dilated kernel (9)");
    cs_tensor *in5[2] = {xs, w};
    expect_fail(CS_OP_CONV, 11, NULL, 0, in5, 2, CS_ERR_INVALID, "at least 3-D), got 3x8");
    cs_tensor *in6[2] = {x, w};
    int64_t k[2] = {5, 5}, p3[3] = {1, 1, 1}, s1[1] = {2};
    cs_attr ak = h_attr_ints("kernel_shape", 2, k);
    expect_fail(CS_OP_CONV, 11, &ak, 1, in6, 2, CS_ERR_INVALID,
                "kernel_shape 5x5 does not match weight 2x3x3x3");
    cs_attr ap = h_attr_ints("pads", 3, p3);
    expect_fail(CS_OP_CONV, 11, &ap, 1, in6, 2, CS_ERR_INVALID,
                "pads has 3 values, a 2-D convolution needs 4");
    cs_attr as = h_attr_ints("strides", 1, s1);
    expect_fail(CS_OP_CONV, 11, &as, 1, in6, 2, CS_ERR_INVALID, "strides has 1 values");
    cs_attr aa = h_attr_string("auto_pad", "SAME");
    expect_fail(CS_OP_CONV, 11, &aa, 1, in6, 2, CS_ERR_INVALID, "auto_pad 'SAME' is not");
    cs_attr ag = h_attr_int("group", 2);
    expect_fail(CS_OP_CONV, 11, &ag, 1, in6, 2, CS_ERR_INVALID,
                "input has 3 channels, weight expects 3 x group 2");
    int64_t s0[2] = {0, 1};
    cs_attr az = h_attr_ints("strides", 2, s0);
    expect_fail(CS_OP_CONV, 11, &az, 1, in6, 2, CS_ERR_INVALID, "strides[0] = 0, must be >= 1");

    /* ConvTranspose: weight is C_in x C_out/group x k. */
    cs_tensor *t1[2] = {x, wc};
    expect_fail(CS_OP_CONV_TRANSPOSE, 11, NULL, 0, t1, 2, CS_ERR_INVALID,
                "input has 3 channels, weight 2x4x3x3 expects 2");
    int64_t os[3] = {4, 4, 4};
    cs_attr ao = h_attr_ints("output_shape", 3, os);
    cs_tensor *t2[2] = {x, wbig};
    (void)t2;
    int64_t w5[4] = {3, 2, 3, 3};
    cs_tensor *wt = h_f32(4, w5, NULL);
    cs_tensor *t3[2] = {x, wt};
    expect_fail(CS_OP_CONV_TRANSPOSE, 11, &ao, 1, t3, 2, CS_ERR_INVALID,
                "output_shape has 3 values");
    int64_t bigp[4] = {9, 9, 9, 9};
    cs_attr abp = h_attr_ints("pads", 4, bigp);
    expect_fail(CS_OP_CONV_TRANSPOSE, 11, &abp, 1, t3, 2, CS_ERR_INVALID,
                "spatial dim 0 of the output would be");
    cs_tensor *t4[3] = {x, wt, b};
    expect_fail(CS_OP_CONV_TRANSPOSE, 11, NULL, 0, t4, 3, CS_ERR_INVALID, "bias must be 1-D of 2");

    cs_tensor_free(&x);
    cs_tensor_free(&wbad);
    cs_tensor_free(&w);
    cs_tensor_free(&wc);
    cs_tensor_free(&wbig);
    cs_tensor_free(&b);
    cs_tensor_free(&xs);
    cs_tensor_free(&wt);
}

/* ---- BatchNormalization ------------------------------------------------------------------- */

static void bn_cases(void **state)
{
    (void)state;
    rng_state = 99;
    for (int rank = 2; rank <= 5; rank++)
        for (int spatial = 1; spatial >= 0; spatial--)
            for (int threads = 1; threads <= 2; threads++) {
                int64_t xd[5] = {2, 3, 4, 5, 6};
                if (rank == 4) xd[2] = 40, xd[3] = 41; /* large enough to run in parallel */
                int64_t sd[4] = {3};
                int sn = 1;
                if (!spatial) {
                    sn = rank - 1;
                    for (int i = 1; i < rank; i++) sd[i - 1] = xd[i];
                }
                cs_tensor *x = rand_tensor(rank, xd), *st[4];
                for (int i = 0; i < 4; i++) st[i] = rand_tensor(sn, sd);
                float *var = st[3]->data;
                for (int64_t i = 0; i < st[3]->numel; i++) var[i] = fabsf(var[i]) + 0.1f;
                cs_attr at[2] = {h_attr_float("epsilon", 1e-3f), h_attr_int("spatial", spatial)};
                cs_tensor *in[5] = {x, st[0], st[1], st[2], st[3]};
                h_result r = h_run(CS_OP_BATCHNORM, spatial ? 15 : 7, at, spatial ? 1 : 2, in, 5, 1,
                                   threads);
                assert_int_equal(r.status, CS_OK);
                int64_t inner = 1;
                for (int i = 2; i < rank; i++) inner *= xd[i];
                float *want = malloc(sizeof(float) * (size_t)x->numel);
                const float *xv = x->data, *sc = st[0]->data, *bb = st[1]->data, *mu = st[2]->data;
                for (int64_t i = 0; i < x->numel; i++) {
                    int64_t c = (i / inner) % 3;
                    int64_t j = spatial ? c : c * inner + i % inner;
                    want[i] =
                        (float)((xv[i] - mu[j]) / sqrt((double)var[j] + 1e-3) * sc[j] + bb[j]);
                }
                assert_true(max_err(&r.out[0], want, rank, xd) <= TOL);
                free(want);
                h_result_free(&r);
                cs_tensor_free(&x);
                for (int i = 0; i < 4; i++) cs_tensor_free(&st[i]);
            }
}

static void bn_errors(void **state)
{
    (void)state;
    int64_t xd[4] = {1, 3, 2, 2}, sd[1] = {3}, s4[1] = {4}, x1[1] = {3};
    cs_tensor *x = h_f32(4, xd, NULL), *s = h_f32(1, sd, NULL), *bad = h_f32(1, s4, NULL);
    cs_tensor *xv = h_f32(1, x1, NULL);
    cs_tensor *in[5] = {x, s, s, s, s};
    cs_attr tm = h_attr_int("training_mode", 1);
    expect_fail(CS_OP_BATCHNORM, 15, &tm, 1, in, 5, CS_ERR_UNSUPPORTED, "training_mode=1");
    cs_tensor *in2[5] = {x, s, s, bad, s};
    expect_fail(CS_OP_BATCHNORM, 15, NULL, 0, in2, 5, CS_ERR_INVALID,
                "mean must be 1-D of 3 (channels of X 1x3x2x2), got 4");
    cs_tensor *in3[5] = {xv, s, s, s, s};
    expect_fail(CS_OP_BATCHNORM, 15, NULL, 0, in3, 5, CS_ERR_INVALID, "at least 2-D), got 3");
    cs_attr sp = h_attr_int("spatial", 0);
    expect_fail(CS_OP_BATCHNORM, 7, &sp, 1, in, 5, CS_ERR_INVALID,
                "with spatial=0, scale must hold 12 values");
    /* More than one output (the training outputs) is refused. */
    h_result r = h_run(CS_OP_BATCHNORM, 9, NULL, 0, in, 5, 3, 1);
    assert_int_equal(r.status, CS_ERR_UNSUPPORTED);
    assert_non_null(strstr(r.err.msg, "only the inference form with one output"));
    h_result_free(&r);
    cs_tensor_free(&x);
    cs_tensor_free(&s);
    cs_tensor_free(&bad);
    cs_tensor_free(&xv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(compare_can_fail),    cmocka_unit_test(conv_onnx_example),
        cmocka_unit_test(conv_random),         cmocka_unit_test(conv_fast_paths),
        cmocka_unit_test(convt_onnx_examples), cmocka_unit_test(convt_random),
        cmocka_unit_test(conv_errors),         cmocka_unit_test(bn_cases),
        cmocka_unit_test(bn_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
