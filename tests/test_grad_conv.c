/* Backward passes of Conv, ConvTranspose, Gemm, MatMul and BatchNormalization against
 * central finite differences (gc_check), over many random configurations from a fixed seed:
 * 1-D/2-D/3-D, groups, depthwise (with multiplier), dilations, strides, pads, every auto_pad,
 * 1x1, output_padding / output_shape, batch 2, threads 1 and 2, bias or not, fused
 * Relu/Clip/Sigmoid, gradients w.r.t. every input (and subsets of them). Gemm with every
 * transA/transB and C broadcast, MatMul with 1-D operands and batch broadcasting,
 * BatchNormalization at ranks 2-5 (and spatial = 0).
 *
 * Piecewise-linear activations have kinks where finite differences lie: those cases use
 * inputs and weights on a grid of 1/4 and a bias on the odd multiples of 1/32 (Clip bounds
 * on multiples of 1/8), so every pre-activation output is an odd multiple of 1/32, at least
 * 1/32 from a kink, while one step of eps = 1e-2 moves it by at most 1e-2.
 *
 * Besides: backward ADDS into its gradients (twice = double), runs on garbage scratch of
 * exactly backward_scratch bytes (ASan catches overruns), and a NULL output gradient adds
 * nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grad_check.h"
#include "op_harness.h"
#include "threads.h"

/* ---- random numbers, fills, bookkeeping ---------------------------------------------------- */

static uint32_t rng = 0x2545f491u;

static uint32_t rnext(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

/* Uniform in [0, n). */
static int rnd(int n)
{
    return (int)(rnext() % (uint32_t)n);
}

/* Multiples of 1/4 in [-1, 1]. */
static void fill_grid(cs_tensor *t)
{
    float *d = t->data;
    for (int64_t i = 0; i < t->numel; i++) d[i] = (float)(rnd(9) - 4) / 4.f;
}

/* Odd multiples of 1/den in (-1, 1). */
static void fill_odd(cs_tensor *t, int den)
{
    float *d = t->data;
    for (int64_t i = 0; i < t->numel; i++) d[i] = (float)(2 * rnd(den) - den + 1) / (float)den;
}

static void fill_uniform(cs_tensor *t, float lo, float hi)
{
    gc_fill(t, &rng, lo, hi);
}

typedef struct {
    const char *name;
    int configs, checked;
    double max_err; /* largest |fd - backward| */
    double max_rel; /* largest |fd - backward| / max(|fd|, 1) */
} stats;

static void stats_print(const stats *s)
{
    print_message("%-18s %4d configs, %6d elements checked, max abs err %.3g, max rel err %.3g\n",
                  s->name, s->configs, s->checked, s->max_err, s->max_rel);
}

/* Asserts the check passed; `what` describes the configuration for the message. */
static void expect_ok(const gc_result *r, const char *what, stats *st)
{
    if (r->status != CS_OK || r->n_bad != 0 || r->n_checked == 0)
        print_message("FAILED %s: %s; %d of %d elements out of tolerance, worst: input %d "
                      "[%lld] finite difference %.6g, backward %.6g\n",
                      what, r->status != CS_OK ? r->err.msg : "ran", r->n_bad, r->n_checked,
                      r->worst_input, (long long)r->worst_index, r->worst_fd, r->worst_bw);
    assert_int_equal(r->status, CS_OK);
    assert_int_equal(r->n_bad, 0);
    assert_true(r->n_checked > 0);
    st->configs++;
    st->checked += r->n_checked;
    if (r->max_abs_err > st->max_err) st->max_err = r->max_abs_err;
    double rel = r->max_abs_err / fmax(fabs(r->worst_fd), 1.0);
    if (rel > st->max_rel) st->max_rel = rel;
}

static const char *act_name(cs_act_kind k)
{
    switch (k) {
    case CS_ACT_NONE:
        return "none";
    case CS_ACT_RELU:
        return "relu";
    case CS_ACT_CLIP:
        return "clip";
    case CS_ACT_SIGMOID:
        return "sigmoid";
    default:
        return "other";
    }
}

/* A random fused activation; kinked ones (Relu, Clip) only when `kinks_ok`. */
static cs_act random_act(int kinks_ok)
{
    cs_act a = {CS_ACT_NONE, 0.f, 0.f};
    int r = rnd(kinks_ok ? 5 : 3);
    if (r == 1) a.kind = CS_ACT_SIGMOID;
    if (r == 3) a.kind = CS_ACT_RELU;
    if (r == 4) {
        a.kind = CS_ACT_CLIP;
        a.a = -(float)(1 + rnd(8)) / 8.f;
        a.b = (float)(1 + rnd(8)) / 8.f;
    }
    return a;
}

static int is_kinked(cs_act a)
{
    return a.kind == CS_ACT_RELU || a.kind == CS_ACT_CLIP;
}

/* ---- backward run by hand: ADD semantics, exact garbage scratch, NULL gout --------------- */

static void check_accumulates(cs_op op, int opset, const cs_attr *attrs, int n_attrs,
                              cs_tensor *const *in, int n_in, cs_act act, int threads,
                              const char *what)
{
    const cs_op_def *d = cs_op_defs[op];
    cs_node n;
    memset(&n, 0, sizeof n);
    n.op = op;
    n.name = "accumulate";
    n.op_type = d->onnx_name;
    n.opset = opset;
    n.n_in = n_in;
    n.n_out = 1;
    n.threads = threads;
    n.act = act;
    cs_attrs as = {n_attrs, attrs};
    cs_tensor out;
    memset(&out, 0, sizeof out);
    cs_tensor *outs[1] = {&out};
    cs_error err;
    assert_int_equal(d->init(&n, &as, &err), CS_OK);
    assert_int_equal(d->shape(&n, in, outs, &err), CS_OK);
    assert_non_null(d->backward);
    out.data = malloc(cs_tensor_bytes(&out) + 4);
    void *fs = NULL, *bs = NULL;
    size_t bbytes = d->backward_scratch ? d->backward_scratch(&n, in, outs) : 0;
    if (n.scratch_bytes && posix_memalign(&fs, 64, n.scratch_bytes) != 0) fail();
    if (bbytes && posix_memalign(&bs, 64, bbytes) != 0) fail(); /* exact size, no rounding */
    if (bs) memset(bs, 0xff, bbytes);                           /* NaN garbage */
    cs_exec ex = {.threads = threads, .pool = cs_pool_new(threads), .scratch = fs};
    cs_blas_threads(threads);
    d->forward(&n, in, outs, &ex);
    ex.scratch = bs;

    cs_tensor *gy = cs_tensor_new(CS_F32, out.ndim, out.dims, NULL);
    fill_uniform(gy, -1.f, 1.f);
    cs_tensor *gin[8] = {0}, *once[8] = {0};
    for (int i = 0; i < n_in; i++)
        if (in[i]) {
            gin[i] = cs_tensor_new(CS_F32, in[i]->ndim, in[i]->dims, NULL);
            once[i] = cs_tensor_new(CS_F32, in[i]->ndim, in[i]->dims, NULL);
        }
    cs_tensor *gout[1] = {gy}, *gnull[1] = {NULL};
    d->backward(&n, in, outs, gout, gin, &ex);
    for (int i = 0; i < n_in; i++)
        if (gin[i]) memcpy(once[i]->data, gin[i]->data, cs_tensor_bytes(gin[i]));
    d->backward(&n, in, outs, gnull, gin, &ex); /* adds nothing */
    if (bs) memset(bs, 0xff, bbytes);
    d->backward(&n, in, outs, gout, gin, &ex);
    for (int i = 0; i < n_in; i++) {
        if (!gin[i]) continue;
        const float *a = once[i]->data, *b = gin[i]->data;
        for (int64_t e = 0; e < gin[i]->numel; e++) {
            int ok = isfinite(a[e]) && fabsf(b[e] - 2.f * a[e]) <= 1e-5f * (1.f + fabsf(a[e]));
            if (!ok) {
                print_message("FAILED %s: input %d [%lld]: once %g, twice %g\n", what, i,
                              (long long)e, (double)a[e], (double)b[e]);
                fail();
            }
        }
    }
    for (int i = 0; i < 8; i++) {
        cs_tensor_free(&gin[i]);
        cs_tensor_free(&once[i]);
    }
    cs_tensor_free(&gy);
    cs_pool_destroy(&ex.pool);
    free(fs);
    free(bs);
    free(out.data);
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
}

/* ---- Conv and ConvTranspose ---------------------------------------------------------------- */

enum { PM_NONE, PM_PADS, PM_SAME_UPPER, PM_SAME_LOWER, PM_VALID, PM_OUTSHAPE, PM_COUNT };
static const char *const pm_names[PM_COUNT] = {"none",       "pads",  "SAME_UPPER",
                                               "SAME_LOWER", "VALID", "output_shape"};

typedef struct {
    int transpose;
    int nsp, batch, cin, cout, group;
    int64_t in[3], k[3], s[3], d[3], pads[6], outpad[3], outshape[3];
    int pad_mode, has_outpad, bias, threads, kernel_attr;
    cs_act act;
    unsigned mask;
    int max_elems;
} conv_cfg;

static void conv_describe(const conv_cfg *c, char *buf, size_t len)
{
    size_t o = 0;
    o += (size_t)snprintf(buf + o, len - o, "%s N%d C%d->%d g%d in",
                          c->transpose ? "ConvT" : "Conv", c->batch, c->cin, c->cout, c->group);
    for (int i = 0; i < c->nsp; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%lld", i ? "x" : " ", (long long)c->in[i]);
    for (int i = 0; i < c->nsp; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%lld", i ? "x" : " k", (long long)c->k[i]);
    for (int i = 0; i < c->nsp; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%lld", i ? "x" : " s", (long long)c->s[i]);
    for (int i = 0; i < c->nsp; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%lld", i ? "x" : " d", (long long)c->d[i]);
    o += (size_t)snprintf(buf + o, len - o, " pad %s", pm_names[c->pad_mode]);
    if (c->pad_mode == PM_PADS)
        for (int i = 0; i < 2 * c->nsp; i++)
            o += (size_t)snprintf(buf + o, len - o, "%s%lld", i ? "," : " ", (long long)c->pads[i]);
    if (c->has_outpad)
        for (int i = 0; i < c->nsp; i++)
            o += (size_t)snprintf(buf + o, len - o, "%s%lld", i ? "," : " outpad ",
                                  (long long)c->outpad[i]);
    snprintf(buf + o, len - o, " bias %d act %s threads %d mask %x", c->bias, act_name(c->act.kind),
             c->threads, c->mask);
}

/* Runs gc_check (and check_accumulates) on one configuration. */
static void conv_run(const conv_cfg *c, stats *st)
{
    char what[512];
    conv_describe(c, what, sizeof what);
    int64_t xd[5], wd[5], bd[1] = {c->cout};
    xd[0] = c->batch;
    xd[1] = c->cin;
    wd[0] = c->transpose ? c->cin : c->cout;
    wd[1] = c->transpose ? c->cout / c->group : c->cin / c->group;
    for (int i = 0; i < c->nsp; i++) {
        xd[2 + i] = c->in[i];
        wd[2 + i] = c->k[i];
    }
    cs_tensor *x = cs_tensor_new(CS_F32, 2 + c->nsp, xd, NULL);
    cs_tensor *w = cs_tensor_new(CS_F32, 2 + c->nsp, wd, NULL);
    cs_tensor *b = c->bias ? cs_tensor_new(CS_F32, 1, bd, NULL) : NULL;
    if (is_kinked(c->act)) {
        fill_grid(x);
        fill_grid(w);
        fill_odd(b, 32);
    } else {
        fill_uniform(x, -1.f, 1.f);
        fill_uniform(w, -1.f, 1.f);
        if (b) fill_uniform(b, -1.f, 1.f);
    }

    cs_attr at[10];
    int na = 0;
    at[na++] = h_attr_int("group", c->group);
    if (c->kernel_attr) at[na++] = h_attr_ints("kernel_shape", c->nsp, c->k);
    at[na++] = h_attr_ints("strides", c->nsp, c->s);
    at[na++] = h_attr_ints("dilations", c->nsp, c->d);
    if (c->pad_mode == PM_PADS) at[na++] = h_attr_ints("pads", 2 * c->nsp, c->pads);
    if (c->pad_mode == PM_SAME_UPPER) at[na++] = h_attr_string("auto_pad", "SAME_UPPER");
    if (c->pad_mode == PM_SAME_LOWER) at[na++] = h_attr_string("auto_pad", "SAME_LOWER");
    if (c->pad_mode == PM_VALID) at[na++] = h_attr_string("auto_pad", "VALID");
    if (c->pad_mode == PM_OUTSHAPE) at[na++] = h_attr_ints("output_shape", c->nsp, c->outshape);
    if (c->has_outpad) at[na++] = h_attr_ints("output_padding", c->nsp, c->outpad);

    cs_tensor *in[3] = {x, w, b};
    int n_in = b ? 3 : 2;
    cs_op op = c->transpose ? CS_OP_CONV_TRANSPOSE : CS_OP_CONV;
    gc_opts o = {.opset = 13,
                 .attrs = at,
                 .n_attrs = na,
                 .check_mask = c->mask,
                 .act = c->act,
                 .eps = 1e-2,
                 .max_elems = c->max_elems,
                 .seed = rnext() | 1u,
                 .threads = c->threads};
    /* Piecewise-linear cases are exact up to float rounding: a tighter tolerance holds. */
    if (c->act.kind != CS_ACT_SIGMOID) o.rtol = o.atol = 1e-3;
    gc_result r = gc_check(op, &o, in, n_in);
    expect_ok(&r, what, st);
    check_accumulates(op, 13, at, na, in, n_in, c->act, c->threads, what);
    cs_tensor_free(&x);
    cs_tensor_free(&w);
    cs_tensor_free(&b);
}

/* Dilated kernel extent along dim i. */
static int64_t dk_of(const conv_cfg *c, int i)
{
    return (c->k[i] - 1) * c->d[i] + 1;
}

static unsigned random_mask(int bias)
{
    unsigned all = bias ? 7u : 3u;
    int r = rnd(6);
    if (r == 0) return 1u;         /* X only (Grad-CAM) */
    if (r == 1) return 2u;         /* W only */
    if (r == 2 && bias) return 4u; /* B only */
    if (r == 3) return all & 6u;   /* parameters only */
    return all;
}

static conv_cfg random_conv(int transpose)
{
    conv_cfg c;
    memset(&c, 0, sizeof c);
    c.transpose = transpose;
    int r = rnd(8);
    c.nsp = r < 2 ? 1 : r < 6 ? 2 : 3;
    c.batch = 1 + rnd(2);
    c.threads = 1 + rnd(2);
    /* 0: group 1, 1: grouped, 2: depthwise, 3: depthwise with multiplier */
    int kind = rnd(4);
    if (kind == 0) {
        c.group = 1;
        c.cin = 1 + rnd(4);
        c.cout = 1 + rnd(4);
    } else if (kind == 1) {
        c.group = 2 + rnd(2);
        c.cin = c.group * (1 + rnd(2));
        c.cout = c.group * (1 + rnd(2));
    } else {
        c.group = c.cin = 2 + rnd(4);
        c.cout = c.cin * (kind == 2 ? 1 : 2 + rnd(2));
    }
    int pointwise = !transpose && rnd(6) == 0;
    int kmax = c.nsp == 3 ? 2 : 3;
    for (int i = 0; i < c.nsp; i++) {
        c.k[i] = pointwise ? 1 : 1 + rnd(kmax);
        c.s[i] = pointwise ? 1 : 1 + rnd(3);
        c.d[i] = pointwise ? 1 : 1 + rnd(2);
    }
    if (!transpose && kind >= 2 && c.nsp == 2 && rnd(2)) /* the direct 3x3 kernels */
        for (int i = 0; i < 2; i++) {
            c.k[i] = 3;
            c.s[i] = rnd(3) ? 1 : 2;
        }
    c.pad_mode =
        pointwise ? (rnd(2) ? PM_NONE : PM_VALID) : rnd(transpose ? PM_COUNT : PM_OUTSHAPE);
    for (int i = 0; i < c.nsp; i++) {
        int64_t dk = dk_of(&c, i);
        int64_t extra = c.nsp == 3 ? rnd(3) : rnd(5);
        if (!transpose) {
            c.in[i] = dk + extra; /* even VALID fits */
            if (c.pad_mode == PM_PADS) {
                c.pads[i] = rnd(3);
                c.pads[i + c.nsp] = rnd(3);
            }
        } else {
            c.in[i] = 1 + extra;
            if (c.pad_mode == PM_PADS) { /* pads[i] + pads[i + nsp] < dk: output not empty */
                c.pads[i] = rnd((int)(dk / 2) + 1);
                c.pads[i + c.nsp] = rnd((int)((dk - 1) / 2) + 1);
            }
        }
    }
    if (transpose && rnd(3) == 0) {
        c.has_outpad = 1;
        for (int i = 0; i < c.nsp; i++) {
            int64_t lim = c.s[i] > c.d[i] ? c.s[i] : c.d[i];
            c.outpad[i] = rnd((int)lim);
        }
    }
    if (c.pad_mode == PM_OUTSHAPE)
        for (int i = 0; i < c.nsp; i++) {
            int64_t full = c.s[i] * (c.in[i] - 1) + (c.has_outpad ? c.outpad[i] : 0) + dk_of(&c, i);
            /* up to 2 below the full size, or 1 above it (negative padding) */
            c.outshape[i] = full - rnd(3) + (rnd(4) == 0);
            if (c.outshape[i] < 1) c.outshape[i] = 1;
        }
    c.kernel_attr = rnd(2);
    c.bias = rnd(3) != 0;
    c.act = random_act(c.bias);
    c.mask = random_mask(c.bias);
    c.max_elems = 256;
    return c;
}

static void test_conv_random(void **state)
{
    (void)state;
    stats st = {"Conv random", 0, 0, 0, 0};
    for (int t = 0; t < 300; t++) {
        conv_cfg c = random_conv(0);
        conv_run(&c, &st);
    }
    stats_print(&st);
}

static void test_convt_random(void **state)
{
    (void)state;
    stats st = {"ConvT random", 0, 0, 0, 0};
    for (int t = 0; t < 200; t++) {
        conv_cfg c = random_conv(1);
        conv_run(&c, &st);
    }
    stats_print(&st);
}

static conv_cfg conv_2d(int transpose, int batch, int cin, int cout, int group, int64_t h,
                        int64_t w, int64_t k, int64_t s, int64_t p, int threads)
{
    conv_cfg c;
    memset(&c, 0, sizeof c);
    c.transpose = transpose;
    c.nsp = 2;
    c.batch = batch;
    c.cin = cin;
    c.cout = cout;
    c.group = group;
    c.in[0] = h;
    c.in[1] = w;
    for (int i = 0; i < 2; i++) {
        c.k[i] = k;
        c.s[i] = s;
        c.d[i] = 1;
        c.pads[i] = c.pads[i + 2] = p;
    }
    c.pad_mode = p ? PM_PADS : PM_NONE;
    c.kernel_attr = 1;
    c.bias = 1;
    c.threads = threads;
    c.mask = 7;
    c.max_elems = 48;
    return c;
}

/* Sizes that take the multi-threaded and multi-block paths: im2col / col2im split across
 * threads, several column blocks per image, the parallel activation gradient and bias sums. */
static void test_conv_large(void **state)
{
    (void)state;
    stats st = {"Conv large", 0, 0, 0, 0};
    cs_act relu = {CS_ACT_RELU, 0.f, 0.f}, sig = {CS_ACT_SIGMOID, 0.f, 0.f};
    conv_cfg c = conv_2d(0, 1, 16, 16, 1, 48, 48, 3, 1, 1, 2); /* 2 column blocks */
    c.act = relu;
    conv_run(&c, &st);
    c = conv_2d(0, 2, 16, 8, 2, 40, 50, 3, 2, 1, 2); /* grouped, strided */
    c.act = sig;
    conv_run(&c, &st);
    c = conv_2d(0, 2, 32, 16, 1, 24, 24, 1, 1, 0, 2); /* pointwise */
    c.act = relu;
    conv_run(&c, &st);
    c = conv_2d(0, 2, 8, 16, 8, 33, 31, 3, 2, 1, 2); /* depthwise x2, stride 2 */
    c.act = relu;
    conv_run(&c, &st);
    c = conv_2d(0, 1, 6, 6, 6, 20, 37, 5, 1, 2, 2); /* depthwise 5x5 */
    conv_run(&c, &st);
    c = conv_2d(0, 2, 4, 8, 4, 13, 19, 3, 1, 1, 2); /* depthwise x2 3x3 stride 1 */
    c.act = sig;
    conv_run(&c, &st);
    c = conv_2d(0, 1, 3, 3, 3, 9, 12, 3, 1, 0, 1); /* depthwise 3x3 dilated, SAME_LOWER */
    c.d[0] = c.d[1] = 2;
    c.pad_mode = PM_SAME_LOWER;
    conv_run(&c, &st);
    c = conv_2d(0, 1, 3, 3, 3, 9, 12, 3, 2, 0, 1); /* depthwise 3x3 stride 2, SAME_UPPER */
    c.pad_mode = PM_SAME_UPPER;
    c.d[1] = 2;
    conv_run(&c, &st);
    c = conv_2d(1, 1, 4, 16, 1, 48, 48, 3, 1, 1, 2); /* transpose, 2 blocks */
    c.act = relu;
    conv_run(&c, &st);
    c = conv_2d(1, 2, 8, 8, 2, 20, 20, 4, 2, 1, 2); /* transpose, grouped, stride 2 */
    conv_run(&c, &st);
    stats_print(&st);
}

/* ---- Gemm ------------------------------------------------------------------------------------ */

static void test_gemm(void **state)
{
    (void)state;
    stats st = {"Gemm", 0, 0, 0, 0};
    static const float alphas[] = {1.f, 0.5f, -1.5f, 2.f}, betas[] = {1.f, 0.5f, -2.f, 0.f};
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (int ck = 0; ck < 8; ck++) /* 0: no C, then scalar, 1, n, 1xn, mx1, mxn, 1x1 */
                for (int rep = 0; rep < 4; rep++) {
                    int64_t m = 1 + rnd(6), k = 1 + rnd(6), n = 1 + rnd(6);
                    int64_t ad[2] = {ta ? k : m, ta ? m : k}, bd[2] = {tb ? n : k, tb ? k : n};
                    int64_t cd[2] = {0, 0};
                    int cnd = 0;
                    switch (ck) {
                    case 1:
                        cnd = 0;
                        break;
                    case 2:
                        cnd = 1, cd[0] = 1;
                        break;
                    case 3:
                        cnd = 1, cd[0] = n;
                        break;
                    case 4:
                        cnd = 2, cd[0] = 1, cd[1] = n;
                        break;
                    case 5:
                        cnd = 2, cd[0] = m, cd[1] = 1;
                        break;
                    case 6:
                        cnd = 2, cd[0] = m, cd[1] = n;
                        break;
                    case 7:
                        cnd = 2, cd[0] = 1, cd[1] = 1;
                        break;
                    default:
                        break;
                    }
                    cs_tensor *a = cs_tensor_new(CS_F32, 2, ad, NULL);
                    cs_tensor *b = cs_tensor_new(CS_F32, 2, bd, NULL);
                    cs_tensor *c = ck ? cs_tensor_new(CS_F32, cnd, cd, NULL) : NULL;
                    float alpha = alphas[rnd(4)], beta = betas[rnd(4)];
                    cs_act act = random_act(c != NULL);
                    if (is_kinked(act)) { /* alpha A B on 1/16, beta C odd on 1/32 */
                        alpha = 1.f;
                        beta = 1.f;
                        fill_grid(a);
                        fill_grid(b);
                        fill_odd(c, 32);
                    } else {
                        fill_uniform(a, -1.f, 1.f);
                        fill_uniform(b, -1.f, 1.f);
                        if (c) fill_uniform(c, -1.f, 1.f);
                    }
                    cs_attr at[4] = {h_attr_float("alpha", alpha), h_attr_float("beta", beta),
                                     h_attr_int("transA", ta), h_attr_int("transB", tb)};
                    cs_tensor *in[3] = {a, b, c};
                    int n_in = c ? 3 : 2, threads = 1 + rnd(2);
                    gc_opts o = {.opset = 13,
                                 .attrs = at,
                                 .n_attrs = 4,
                                 .check_mask = 7,
                                 .act = act,
                                 .seed = rnext() | 1u,
                                 .threads = threads};
                    if (act.kind != CS_ACT_SIGMOID) o.rtol = o.atol = 1e-3;
                    char what[256];
                    snprintf(what, sizeof what,
                             "Gemm m%lld k%lld n%lld transA %d transB %d C kind %d alpha %g "
                             "beta %g act %s threads %d",
                             (long long)m, (long long)k, (long long)n, ta, tb, ck, (double)alpha,
                             (double)beta, act_name(act.kind), threads);
                    gc_result r = gc_check(CS_OP_GEMM, &o, in, n_in);
                    expect_ok(&r, what, &st);
                    check_accumulates(CS_OP_GEMM, 13, at, 4, in, n_in, act, threads, what);
                    cs_tensor_free(&a);
                    cs_tensor_free(&b);
                    cs_tensor_free(&c);
                }
    /* A larger one through the parallel activation gradient. */
    {
        int64_t ad[2] = {64, 300}, bd[2] = {600, 300}, cd[1] = {600};
        cs_tensor *a = cs_tensor_new(CS_F32, 2, ad, NULL), *b = cs_tensor_new(CS_F32, 2, bd, NULL);
        cs_tensor *c = cs_tensor_new(CS_F32, 1, cd, NULL);
        fill_grid(a);
        fill_grid(b);
        fill_odd(c, 32);
        cs_attr at[1] = {h_attr_int("transB", 1)};
        cs_tensor *in[3] = {a, b, c};
        gc_opts o = {.opset = 13,
                     .attrs = at,
                     .n_attrs = 1,
                     .check_mask = 7,
                     .act = {CS_ACT_RELU, 0.f, 0.f},
                     .max_elems = 64,
                     .rtol = 1e-3,
                     .atol = 1e-3,
                     .threads = 2};
        gc_result r = gc_check(CS_OP_GEMM, &o, in, 3);
        expect_ok(&r, "Gemm 64x300 * (600x300)^T + C[600], relu, 2 threads", &st);
        cs_tensor_free(&a);
        cs_tensor_free(&b);
        cs_tensor_free(&c);
    }
    stats_print(&st);
}

/* ---- MatMul ---------------------------------------------------------------------------------- */

static void test_matmul(void **state)
{
    (void)state;
    stats st = {"MatMul", 0, 0, 0, 0};
    static const struct {
        int na, nb;
        int64_t a[5], b[5];
    } cases[] = {
        {1, 1, {3}, {3}},                   /* vector . vector */
        {1, 2, {3}, {3, 4}},                /* 1-D A */
        {2, 1, {2, 3}, {3}},                /* 1-D B */
        {2, 2, {2, 3}, {3, 4}},             /* plain */
        {3, 2, {2, 2, 3}, {3, 4}},          /* batched A, one B: folded */
        {4, 2, {2, 1, 2, 3}, {3, 4}},       /* folded with a unit batch dim */
        {2, 3, {2, 3}, {2, 3, 4}},          /* A broadcast over B's batch */
        {3, 3, {2, 2, 3}, {2, 3, 4}},       /* same batch */
        {4, 3, {2, 1, 2, 3}, {3, 3, 4}},    /* both broadcast */
        {3, 3, {1, 2, 3}, {3, 3, 2}},       /* A's batch of 1 */
        {1, 3, {3}, {2, 3, 4}},             /* 1-D A, batched B */
        {3, 1, {2, 2, 3}, {3}},             /* batched A, 1-D B */
        {4, 4, {2, 3, 2, 3}, {2, 1, 3, 2}}, /* 4-D broadcast */
        {5, 3, {2, 1, 3, 1, 3}, {3, 3, 2}}, /* 5-D */
        {3, 3, {2, 3, 1}, {2, 1, 4}},       /* k = 1 */
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++)
        for (int rep = 0; rep < 4; rep++) {
            cs_tensor *a = cs_tensor_new(CS_F32, cases[ci].na, cases[ci].a, NULL);
            cs_tensor *b = cs_tensor_new(CS_F32, cases[ci].nb, cases[ci].b, NULL);
            fill_uniform(a, -1.f, 1.f);
            fill_uniform(b, -1.f, 1.f);
            cs_act act = random_act(0);
            int threads = 1 + rep % 2;
            unsigned mask = rep == 3 ? 1u + (unsigned)rnd(2) : 3u;
            cs_tensor *in[2] = {a, b};
            gc_opts o = {.opset = 13,
                         .check_mask = mask,
                         .act = act,
                         .seed = rnext() | 1u,
                         .threads = threads};
            if (act.kind != CS_ACT_SIGMOID) o.rtol = o.atol = 1e-3;
            char as[64], bs[64], what[256];
            snprintf(what, sizeof what, "MatMul %s x %s act %s threads %d mask %x",
                     cs_shape_str(a, as, sizeof as), cs_shape_str(b, bs, sizeof bs),
                     act_name(act.kind), threads, mask);
            gc_result r = gc_check(CS_OP_MATMUL, &o, in, 2);
            expect_ok(&r, what, &st);
            check_accumulates(CS_OP_MATMUL, 13, NULL, 0, in, 2, act, threads, what);
            cs_tensor_free(&a);
            cs_tensor_free(&b);
        }
    stats_print(&st);
}

/* ---- BatchNormalization ---------------------------------------------------------------------- */

static void bn_case(int rank, int opset, int spatial, int64_t big, stats *st)
{
    int64_t xd[5];
    xd[0] = big ? 2 : 1 + rnd(2);
    xd[1] = big ? big : 1 + rnd(4);
    for (int i = 2; i < rank; i++) xd[i] = big ? 32 : 1 + rnd(3);
    int64_t per = xd[1];
    if (!spatial)
        for (int i = 2; i < rank; i++) per *= xd[i];
    cs_tensor *x = cs_tensor_new(CS_F32, rank, xd, NULL);
    cs_tensor *p[4];
    for (int i = 0; i < 4; i++) p[i] = cs_tensor_new(CS_F32, 1, &per, NULL);
    fill_uniform(x, -2.f, 2.f);
    fill_uniform(p[0], -1.5f, 1.5f); /* scale */
    fill_uniform(p[1], -1.f, 1.f);   /* B */
    fill_uniform(p[2], -1.f, 1.f);   /* mean */
    fill_uniform(p[3], 0.3f, 1.5f);  /* var */
    float eps = rnd(2) ? 1e-5f : 1e-3f;
    cs_attr at[2] = {h_attr_float("epsilon", eps), h_attr_int("spatial", spatial)};
    int na = opset <= 8 ? 2 : 1;
    cs_tensor *in[5] = {x, p[0], p[1], p[2], p[3]};
    int threads = big ? 2 : 1 + rnd(2);
    unsigned mask = rnd(3) == 0 && !big ? 1u : 31u;
    gc_opts o = {.opset = opset,
                 .attrs = at,
                 .n_attrs = na,
                 .check_mask = mask,
                 .seed = rnext() | 1u,
                 .max_elems = big ? 64 : 256,
                 .threads = threads};
    /* Linear in all but var; central differences in var (>= 0.3) err by < 1e-3 relative. */
    o.rtol = 3e-3;
    o.atol = 1e-3;
    char xs[64], what[256];
    snprintf(what, sizeof what, "BatchNormalization X %s opset %d spatial %d threads %d mask %x",
             cs_shape_str(x, xs, sizeof xs), opset, spatial, threads, mask);
    gc_result r = gc_check(CS_OP_BATCHNORM, &o, in, 5);
    expect_ok(&r, what, st);
    check_accumulates(CS_OP_BATCHNORM, opset, at, na, in, 5, (cs_act){CS_ACT_NONE, 0.f, 0.f},
                      threads, what);
    cs_tensor_free(&x);
    for (int i = 0; i < 4; i++) cs_tensor_free(&p[i]);
}

static void test_batchnorm(void **state)
{
    (void)state;
    stats st = {"BatchNormalization", 0, 0, 0, 0};
    for (int rank = 2; rank <= 5; rank++)
        for (int rep = 0; rep < 6; rep++) {
            bn_case(rank, rep % 2 ? 9 : 15, 1, 0, &st);
            if (rank <= 4) bn_case(rank, 7, 0, 0, &st); /* spatial = 0: per-element stats */
        }
    bn_case(4, 15, 1, 24, &st); /* 2 x 24 x 32 x 32: the parallel path */
    stats_print(&st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_random), cmocka_unit_test(test_convt_random),
        cmocka_unit_test(test_conv_large),  cmocka_unit_test(test_gemm),
        cmocka_unit_test(test_matmul),      cmocka_unit_test(test_batchnorm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
