/* Backward of the activations, Dropout/Identity, Add/Sub/Mul/Div (numpy broadcasting), PRelu,
 * Softmax, LogSoftmax and ReduceMean against central finite differences (gc_check), with 1 and
 * 2 threads. Every case also checks that backward adds into the gradient it is given, leaves
 * it alone when the output has no gradient, and gives the same result on every element with
 * 1 and 2 threads (large cases take the parallel paths). Inputs stay away from kinks. */
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

/* ---- helpers ----------------------------------------------------------------------------------
 */

static uint32_t rng = 2463534242u;
/* Over every gc_check of the program (set GC_VERBOSE=1 to see each case). */
static double worst_err, worst_rel;
static long n_checked, n_cases;

static cs_tensor *rnd(int ndim, const int64_t *dims, float lo, float hi)
{
    cs_tensor *t = h_f32(ndim, dims, NULL);
    gc_fill(t, &rng, lo, hi);
    return t;
}

/* Moves values within `margin` of `point` to the nearest side at that distance. */
static void keep_away(cs_tensor *t, float point, float margin)
{
    float *d = t->data;
    for (int64_t i = 0; i < t->numel; i++)
        if (fabsf(d[i] - point) < margin) d[i] = d[i] >= point ? point + margin : point - margin;
}

/* Runs forward, then backward with an upstream gradient from `seed` (none when seed is 0)
 * into gin (entries may be NULL). */
static void run_backward(cs_op op, int opset, const cs_attr *attrs, int n_attrs,
                         cs_tensor *const *in, int n_in, int threads, uint32_t seed,
                         cs_tensor *const *gin)
{
    const cs_op_def *d = cs_op_defs[op];
    cs_node n = {.op = op,
                 .name = "test",
                 .op_type = d->onnx_name,
                 .opset = opset,
                 .n_in = n_in,
                 .n_out = 1,
                 .threads = threads};
    cs_attrs as = {n_attrs, attrs};
    cs_error err;
    cs_tensor y;
    memset(&y, 0, sizeof y);
    cs_tensor *outs[1] = {&y};
    assert_int_equal(d->init(&n, &as, &err), CS_OK);
    assert_int_equal(d->shape(&n, in, outs, &err), CS_OK);
    y.data = calloc(1, cs_tensor_bytes(&y) + 4);
    size_t sb = n.scratch_bytes;
    if (d->backward_scratch && d->backward_scratch(&n, in, outs) > sb)
        sb = d->backward_scratch(&n, in, outs);
    void *scratch = sb ? aligned_alloc(64, (sb + 63) / 64 * 64) : NULL;
    cs_exec ex = {.threads = threads, .pool = cs_pool_new(threads), .scratch = scratch};
    if ((d->flags & CS_OPF_ALIAS)) memcpy(y.data, in[0]->data, cs_tensor_bytes(in[0]));
    d->forward(&n, in, outs, &ex);
    cs_tensor *gy = NULL;
    if (seed) {
        uint32_t s = seed;
        gy = cs_tensor_new(CS_F32, y.ndim, y.dims, NULL);
        gc_fill(gy, &s, -1.f, 1.f);
    }
    cs_tensor *gout[1] = {gy};
    d->backward(&n, in, outs, gout, gin, &ex);
    cs_tensor_free(&gy);
    cs_pool_destroy(&ex.pool);
    free(scratch);
    free(y.data);
    if (n.params) {
        if (d->free_params)
            d->free_params(n.params);
        else
            free(n.params);
    }
}

static cs_tensor *like(const cs_tensor *t, float v)
{
    cs_tensor *g = cs_tensor_new(CS_F32, t->ndim, t->dims, NULL);
    for (int64_t i = 0; i < g->numel; i++) ((float *)g->data)[i] = v;
    return g;
}

/* Ops whose loss is piecewise linear or quadratic in each input: central differences are
 * exact there up to float rounding, so the check is tight (a divisor off by one in 120 shows).
 * Sigmoid, Tanh, Div and the softmaxes keep gc_check's default tolerance. */
static bool exact_fd(cs_op op)
{
    return op != CS_OP_SIGMOID && op != CS_OP_TANH && op != CS_OP_DIV && op != CS_OP_SOFTMAX &&
           op != CS_OP_LOG_SOFTMAX;
}

/* gc_check with 1 and 2 threads on the inputs in `mask`, then: the gradient with 2 threads
 * equals the one with 1 thread everywhere, backward adds (gin pre-filled with 1), and a NULL
 * upstream gradient changes nothing. */
static void check(const char *what, cs_op op, int opset, const cs_attr *attrs, int n_attrs,
                  cs_tensor *const *in, int n_in, unsigned mask)
{
    bool big = false;
    for (int i = 0; i < n_in; i++) big |= in[i] && in[i]->numel > 8192;
    for (int t = 1; t <= 2; t++) {
        gc_opts o = {.opset = opset,
                     .attrs = attrs,
                     .n_attrs = n_attrs,
                     .check_mask = mask,
                     .threads = t,
                     /* Large inputs are here for the parallel paths, which the full
                      * comparison below covers; a sample of them is enough. */
                     .max_elems = big ? 48 : 256,
                     .rtol = exact_fd(op) ? 1e-3 : 0,
                     .atol = exact_fd(op) ? 1e-4 : 0,
                     .seed = 977u * (unsigned)t};
        gc_result r = gc_check(op, &o, in, n_in);
        if (r.status != CS_OK) fail_msg("%s: %s", what, r.err.msg);
        if (r.n_checked == 0) fail_msg("%s: nothing was checked", what);
        if (r.n_bad)
            fail_msg("%s (%d threads): %d of %d elements off; worst: input %d [%lld] finite "
                     "differences %.7g, backward %.7g",
                     what, t, r.n_bad, r.n_checked, r.worst_input, (long long)r.worst_index,
                     r.worst_fd, r.worst_bw);
        if (getenv("GC_VERBOSE"))
            print_message("%s (%d threads): max |fd - backward| %.3g (fd %.7g, backward %.7g)\n",
                          what, t, r.max_abs_err, r.worst_fd, r.worst_bw);
        if (r.max_abs_err > worst_err) worst_err = r.max_abs_err;
        double rel = r.max_abs_err / (2e-3 + fabs(r.worst_fd));
        if (rel > worst_rel) worst_rel = rel;
        n_checked += r.n_checked;
    }
    n_cases++;
    cs_tensor *g1[4] = {0}, *g2[4] = {0}, *acc[4] = {0}, *none[4] = {0};
    for (int i = 0; i < n_in; i++)
        if (mask >> i & 1) {
            g1[i] = like(in[i], 0.f);
            g2[i] = like(in[i], 0.f);
            acc[i] = like(in[i], 1.f);
            none[i] = like(in[i], 0.5f);
        }
    run_backward(op, opset, attrs, n_attrs, in, n_in, 1, 99u, g1);
    run_backward(op, opset, attrs, n_attrs, in, n_in, 2, 99u, g2);
    run_backward(op, opset, attrs, n_attrs, in, n_in, 2, 99u, acc);
    run_backward(op, opset, attrs, n_attrs, in, n_in, 2, 0u, none);
    for (int i = 0; i < n_in; i++) {
        if (!g1[i]) continue;
        const float *a = g1[i]->data, *b = g2[i]->data, *c = acc[i]->data, *z = none[i]->data;
        for (int64_t k = 0; k < in[i]->numel; k++) {
            /* Sums split into per-thread partials round differently. */
            if (fabsf(a[k] - b[k]) > 1e-5f + 1e-4f * fabsf(a[k]))
                fail_msg("%s: input %d [%lld]: %.9g with 1 thread, %.9g with 2", what, i,
                         (long long)k, (double)a[k], (double)b[k]);
            if (fabsf(c[k] - 1.f - b[k]) > 1e-5f + 1e-5f * fabsf(b[k]))
                fail_msg("%s: input %d [%lld]: backward does not add (1 + %.9g gave %.9g)", what, i,
                         (long long)k, (double)b[k], (double)c[k]);
            if (z[k] != 0.5f)
                fail_msg("%s: input %d [%lld]: changed without an upstream gradient", what, i,
                         (long long)k);
        }
        cs_tensor_free(&g1[i]);
        cs_tensor_free(&g2[i]);
        cs_tensor_free(&acc[i]);
        cs_tensor_free(&none[i]);
    }
}

/* ---- activations ------------------------------------------------------------------------------
 */

static const int64_t small_dims[4] = {2, 3, 4, 5};
static const int64_t big_dims[4] = {1, 8, 64, 72}; /* 36864 elements: the parallel path */

static void check_act(const char *what, cs_op op, int opset, const cs_attr *attrs, int n_attrs,
                      const float *kinks, int n_kinks, cs_tensor *lo, cs_tensor *hi)
{
    for (int big = 0; big < 2; big++) {
        cs_tensor *x = rnd(4, big ? big_dims : small_dims, -4.f, 4.f);
        for (int k = 0; k < n_kinks; k++) keep_away(x, kinks[k], 0.05f);
        cs_tensor *in[3] = {x, lo, hi};
        int n_in = hi ? 3 : lo ? 2 : 1;
        char name[128];
        snprintf(name, sizeof name, "%s %s", what, big ? "1x8x64x72" : "2x3x4x5");
        check(name, op, opset, attrs, n_attrs, in, n_in, 1u);
        cs_tensor_free(&x);
    }
}

static void activations(void **state)
{
    const float zero[1] = {0.f};
    check_act("Relu", CS_OP_RELU, 14, NULL, 0, zero, 1, NULL, NULL);
    check_act("LeakyRelu default", CS_OP_LEAKY_RELU, 16, NULL, 0, zero, 1, NULL, NULL);
    cs_attr alpha = h_attr_float("alpha", 0.3f);
    check_act("LeakyRelu 0.3", CS_OP_LEAKY_RELU, 6, &alpha, 1, zero, 1, NULL, NULL);
    check_act("Sigmoid", CS_OP_SIGMOID, 13, NULL, 0, NULL, 0, NULL, NULL);
    check_act("Tanh", CS_OP_TANH, 13, NULL, 0, NULL, 0, NULL, NULL);
    const float hs_kinks[2] = {-2.5f, 2.5f};
    check_act("HardSigmoid default", CS_OP_HARD_SIGMOID, 6, NULL, 0, hs_kinks, 2, NULL, NULL);
    cs_attr hs[2] = {h_attr_float("alpha", 0.25f), h_attr_float("beta", 0.4f)};
    const float hs2_kinks[2] = {-1.6f, 2.4f};
    check_act("HardSigmoid 0.25/0.4", CS_OP_HARD_SIGMOID, 6, hs, 2, hs2_kinks, 2, NULL, NULL);
    const float sw_kinks[2] = {-3.f, 3.f};
    check_act("HardSwish", CS_OP_HARD_SWISH, 14, NULL, 0, sw_kinks, 2, NULL, NULL);
}

static void clip(void **state)
{
    const float b1[2] = {-0.5f, 0.7f}, b0[1] = {0.f}, b6[2] = {0.f, 6.f};
    /* Attribute form (opset 6). */
    cs_attr mm[2] = {h_attr_float("min", -0.5f), h_attr_float("max", 0.7f)};
    check_act("Clip attrs", CS_OP_CLIP, 6, mm, 2, b1, 2, NULL, NULL);
    check_act("Clip attr min only", CS_OP_CLIP, 6, mm, 1, b1, 1, NULL, NULL);
    check_act("Clip no bounds", CS_OP_CLIP, 6, NULL, 0, NULL, 0, NULL, NULL);
    /* Input form (opset 11, 13): scalars; min only; max only (min absent). */
    int64_t d0[1] = {0};
    float v0 = 0.f, v6 = 6.f, vlo = -0.5f, vhi = 0.7f;
    cs_tensor *lo = h_f32(0, d0, &vlo), *hi = h_f32(0, d0, &vhi);
    check_act("Clip inputs", CS_OP_CLIP, 13, NULL, 0, b1, 2, lo, hi);
    check_act("Clip input min", CS_OP_CLIP, 11, NULL, 0, b1, 1, lo, NULL);
    check_act("Clip input max", CS_OP_CLIP, 12, NULL, 0, b1 + 1, 1, NULL, hi);
    cs_tensor_free(&lo);
    cs_tensor_free(&hi);
    int64_t d1[1] = {1};
    lo = h_f32(1, d1, &v0);
    hi = h_f32(1, d1, &v6);
    check_act("Clip relu6", CS_OP_CLIP, 13, NULL, 0, b6, 2, lo, hi);
    cs_tensor_free(&lo);
    cs_tensor_free(&hi);
    (void)b0;
}

static void dropout_identity(void **state)
{
    check_act("Identity", CS_OP_IDENTITY, 16, NULL, 0, NULL, 0, NULL, NULL);
    cs_attr ratio = h_attr_float("ratio", 0.3f);
    check_act("Dropout opset 10", CS_OP_DROPOUT, 10, &ratio, 1, NULL, 0, NULL, NULL);
    int64_t d0[1] = {0};
    float r = 0.2f;
    int64_t train = 0;
    cs_tensor *rt = h_f32(0, d0, &r), *tm = h_i64(0, d0, &train);
    check_act("Dropout opset 13 ratio", CS_OP_DROPOUT, 13, NULL, 0, NULL, 0, rt, NULL);
    check_act("Dropout opset 13 ratio+mode", CS_OP_DROPOUT, 13, NULL, 0, NULL, 0, rt, tm);
    cs_tensor_free(&rt);
    cs_tensor_free(&tm);
}

/* ---- Add, Sub, Mul, Div, PRelu ----------------------------------------------------------------
 */

typedef struct bshape {
    int na;
    int64_t a[CS_MAX_DIMS];
    int nb;
    int64_t b[CS_MAX_DIMS];
} bshape;

static const bshape shapes[] = {
    {4, {2, 3, 4, 5}, 4, {2, 3, 4, 5}}, /* same shape */
    {4, {2, 3, 4, 5}, 0, {0}},          /* rank-0 scalar */
    {1, {1}, 4, {2, 3, 4, 5}},          /* scalar A */
    {1, {1}, 0, {0}},                   /* scalar with scalar */
    {2, {1, 1}, 3, {1, 1, 1}},
    {4, {2, 3, 4, 5}, 3, {3, 1, 1}},          /* per channel */
    {4, {2, 3, 4, 5}, 4, {1, 3, 1, 1}},       /* per channel, same rank */
    {4, {1, 3, 4, 5}, 3, {3, 1, 1}},          /* per channel, N = 1 */
    {4, {2, 3, 4, 5}, 1, {5}},                /* last dim */
    {4, {2, 1, 4, 1}, 3, {3, 1, 5}},          /* both broadcast */
    {2, {4, 1}, 2, {1, 5}},                   /* outer product */
    {4, {1, 1, 4, 5}, 4, {2, 3, 4, 5}},       /* A repeated over N, C */
    {3, {3, 1, 5}, 4, {2, 3, 4, 5}},          /* A over N and H */
    {4, {2, 16, 32, 32}, 4, {2, 16, 32, 32}}, /* large: parallel paths */
    {4, {2, 16, 32, 32}, 3, {16, 1, 1}},
    {4, {2, 16, 32, 32}, 1, {1}},
    {4, {2, 16, 32, 32}, 1, {32}},
    {4, {2, 16, 1, 32}, 4, {1, 1, 33, 1}},
    {2, {3, 1}, 3, {2, 3, 12000}}, /* a dim of 3 split over 2 threads */
};

static void binary(void **state)
{
    const cs_op ops[] = {CS_OP_ADD, CS_OP_SUB, CS_OP_MUL, CS_OP_DIV};
    const char *names[] = {"Add", "Sub", "Mul", "Div"};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int o = 0; o < 4; o++) {
            const bshape *sh = &shapes[s];
            cs_tensor *a = rnd(sh->na, sh->a, -2.f, 2.f), *b = rnd(sh->nb, sh->b, -2.f, 2.f);
            if (ops[o] == CS_OP_DIV) keep_away(b, 0.f, 0.5f);
            cs_tensor *in[2] = {a, b};
            char name[128], ba[64], bb[64];
            snprintf(name, sizeof name, "%s %s with %s", names[o], cs_shape_str(a, ba, sizeof ba),
                     cs_shape_str(b, bb, sizeof bb));
            check(name, ops[o], 14, NULL, 0, in, 2, 3u);
            cs_tensor_free(&a);
            cs_tensor_free(&b);
        }
}

/* Only one operand's gradient asked for (the other's gin is NULL). */
static void binary_one_side(void **state)
{
    int64_t da[4] = {2, 3, 4, 5}, db[3] = {3, 1, 1};
    cs_tensor *a = rnd(4, da, -2.f, 2.f), *b = rnd(3, db, 0.5f, 2.f);
    cs_tensor *in[2] = {a, b};
    check("Mul A only", CS_OP_MUL, 14, NULL, 0, in, 2, 1u);
    check("Div B only", CS_OP_DIV, 14, NULL, 0, in, 2, 2u);
    cs_tensor_free(&a);
    cs_tensor_free(&b);
}

static void prelu(void **state)
{
    const struct {
        int opset;
        bshape s;
    } cases[] = {
        {9, {4, {2, 3, 4, 5}, 3, {3, 1, 1}}},
        {9, {4, {2, 3, 4, 5}, 1, {1}}},
        {9, {4, {2, 3, 4, 5}, 4, {2, 3, 4, 5}}},
        {9, {4, {2, 3, 4, 5}, 1, {5}}},
        {6, {4, {2, 3, 4, 5}, 1, {3}}}, /* legacy: a 1-D slope is per channel */
        {16, {2, {6, 7}, 1, {7}}},
        {16, {4, {2, 16, 32, 32}, 3, {16, 1, 1}}},
        {16, {4, {2, 16, 32, 32}, 4, {2, 16, 32, 32}}},
        {16, {4, {2, 16, 32, 32}, 0, {0}}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const bshape *sh = &cases[c].s;
        cs_tensor *x = rnd(sh->na, sh->a, -2.f, 2.f), *s = rnd(sh->nb, sh->b, -1.f, 1.f);
        keep_away(x, 0.f, 0.05f);
        cs_tensor *in[2] = {x, s};
        char name[128], bx[64], bs[64];
        snprintf(name, sizeof name, "PRelu opset %d X %s slope %s", cases[c].opset,
                 cs_shape_str(x, bx, sizeof bx), cs_shape_str(s, bs, sizeof bs));
        check(name, CS_OP_PRELU, cases[c].opset, NULL, 0, in, 2, 3u);
        cs_tensor_free(&x);
        cs_tensor_free(&s);
    }
}

/* ---- Softmax, LogSoftmax ----------------------------------------------------------------------
 */

static void softmax(void **state)
{
    const struct {
        int opset;
        int64_t axis; /* INT64_MIN: the default */
        int nd;
        int64_t dims[4];
    } cases[] = {
        {11, INT64_MIN, 3, {2, 3, 4}}, /* coerced to 2-D at axis 1: rows of 12 */
        {11, 0, 3, {2, 3, 4}},
        {11, 2, 3, {2, 3, 4}},
        {11, -1, 3, {2, 3, 4}},
        {11, 3, 3, {2, 3, 4}}, /* axis == rank before opset 13: rows of 1 */
        {13, INT64_MIN, 3, {2, 3, 4}},
        {13, 1, 3, {2, 3, 4}}, /* strided columns */
        {13, 0, 4, {3, 2, 3, 5}},
        {13, -3, 4, {2, 5, 3, 30}},
        {13, 1, 3, {4, 100, 70}}, /* large, two column chunks */
        {13, -1, 2, {40, 1000}},  /* large rows */
        {11, 1, 3, {4, 50, 100}},
    };
    for (int log = 0; log < 2; log++)
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            cs_tensor *x = rnd(cases[c].nd, cases[c].dims, -3.f, 3.f);
            cs_attr ax = h_attr_int("axis", cases[c].axis);
            int na = cases[c].axis == INT64_MIN ? 0 : 1;
            cs_tensor *in[1] = {x};
            char name[128], b[64];
            snprintf(name, sizeof name, "%s opset %d axis %lld %s", log ? "LogSoftmax" : "Softmax",
                     cases[c].opset, (long long)(na ? cases[c].axis : 99),
                     cs_shape_str(x, b, sizeof b));
            check(name, log ? CS_OP_LOG_SOFTMAX : CS_OP_SOFTMAX, cases[c].opset, &ax, na, in, 1,
                  1u);
            cs_tensor_free(&x);
        }
}

/* ---- ReduceMean -------------------------------------------------------------------------------
 */

static void reduce_mean(void **state)
{
    const struct {
        int n_axes; /* -1: no axes attribute */
        int64_t axes[4];
        int keepdims;
        int nd;
        int64_t dims[4];
    } cases[] = {
        {-1, {0}, 1, 4, {2, 3, 4, 5}},
        {-1, {0}, 0, 4, {2, 3, 4, 5}},
        {1, {1}, 1, 4, {2, 3, 4, 5}},
        {2, {2, 3}, 1, 4, {2, 3, 4, 5}},
        {2, {2, 3}, 0, 4, {2, 3, 4, 5}},
        {2, {0, 2}, 0, 4, {2, 3, 4, 5}},
        {2, {-1, -3}, 1, 4, {2, 3, 4, 5}},
        {1, {0}, 1, 3, {1, 4, 5}},          /* over a size-1 dim */
        {1, {1}, 1, 2, {1, 7}},             /* one group, all reduced */
        {2, {2, 3}, 1, 4, {2, 16, 32, 32}}, /* large: as GlobalAveragePool */
        {1, {1}, 0, 4, {2, 16, 32, 32}},
        {1, {0}, 1, 4, {3, 16, 32, 32}},
        {-1, {0}, 1, 4, {2, 16, 32, 32}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        cs_tensor *x = rnd(cases[c].nd, cases[c].dims, -2.f, 2.f);
        cs_attr at[2] = {h_attr_int("keepdims", cases[c].keepdims),
                         h_attr_ints("axes", cases[c].n_axes, cases[c].axes)};
        int na = cases[c].n_axes < 0 ? 1 : 2;
        cs_tensor *in[1] = {x};
        char name[128], b[64];
        snprintf(name, sizeof name, "ReduceMean %s case %zu", cs_shape_str(x, b, sizeof b), c);
        check(name, CS_OP_REDUCE_MEAN, 13, at, na, in, 1, 1u);
        /* Opset 18: axes as an input. */
        if (cases[c].n_axes > 0) {
            int64_t da[1] = {cases[c].n_axes};
            cs_tensor *axes = h_i64(1, da, cases[c].axes);
            cs_tensor *in2[2] = {x, axes};
            check(name, CS_OP_REDUCE_MEAN, 18, at, 1, in2, 2, 1u);
            cs_tensor_free(&axes);
        }
        cs_tensor_free(&x);
    }
    /* noop_with_empty_axes: no reduction, a copy. */
    int64_t d[3] = {2, 3, 4};
    cs_tensor *x = rnd(3, d, -2.f, 2.f);
    cs_attr noop = h_attr_int("noop_with_empty_axes", 1);
    cs_tensor *in[1] = {x};
    check("ReduceMean noop", CS_OP_REDUCE_MEAN, 18, &noop, 1, in, 1, 1u);
    cs_tensor_free(&x);
}

static void summary(void **state)
{
    print_message("grad elementwise: %ld cases, %ld elements checked, max |fd - backward| %.3g, "
                  "max relative %.3g\n",
                  n_cases, n_checked, worst_err, worst_rel);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(activations),      cmocka_unit_test(clip),
        cmocka_unit_test(dropout_identity), cmocka_unit_test(binary),
        cmocka_unit_test(binary_one_side),  cmocka_unit_test(prelu),
        cmocka_unit_test(softmax),          cmocka_unit_test(reduce_mean),
        cmocka_unit_test(summary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
