/* Activations, Dropout/Identity, Add/Sub/Mul/Div (float32 and int64 broadcasting) and PRelu,
 * each against a direct reference, with 1 and 2 threads, plus the refusals. */
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

/* ---- helpers ----------------------------------------------------------------------------------
 */

static uint64_t rng = 88172645463325252ull;

static float frand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((double)(rng >> 11) / (double)(1ull << 53) * 8.0 - 4.0);
}

static cs_tensor *rand_f32(int ndim, const int64_t *dims)
{
    cs_tensor *t = h_f32(ndim, dims, NULL);
    float *d = t->data;
    for (int64_t i = 0; i < t->numel; i++) d[i] = frand();
    return t;
}

static cs_tensor *rand_i64(int ndim, const int64_t *dims)
{
    cs_tensor *t = h_i64(ndim, dims, NULL);
    int64_t *d = t->data;
    for (int64_t i = 0; i < t->numel; i++) d[i] = (int64_t)(frand() * 50.f);
    return t;
}

static void expect_close(const float *got, const double *want, int64_t n, double rtol, double atol)
{
    for (int64_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - want[i]);
        if (!(err <= atol + rtol * fabs(want[i])) && !(isnan(got[i]) && isnan(want[i])))
            fail_msg("element %lld: got %.9g, want %.9g", (long long)i, (double)got[i], want[i]);
    }
}

static void expect_fail(h_result *r, cs_status st, const char *needle)
{
    assert_int_equal(r->status, st);
    assert_int_equal(r->err.status, st);
    if (!strstr(r->err.msg, needle)) fail_msg("message '%s' lacks '%s'", r->err.msg, needle);
    assert_non_null(strstr(r->err.msg, "node 'test'"));
}

static void expect_shape(const cs_tensor *t, int ndim, const int64_t *dims)
{
    assert_int_equal(t->ndim, ndim);
    for (int i = 0; i < ndim; i++) assert_int_equal(t->dims[i], dims[i]);
}

/* ---- activations ------------------------------------------------------------------------------
 */

typedef double (*ref_fn)(double x, double a, double b);

static double r_relu(double x, double a, double b)
{
    return x > 0 ? x : 0;
}
static double r_leaky(double x, double a, double b)
{
    return x >= 0 ? x : a * x;
}
static double r_clip(double x, double a, double b)
{
    return x < a ? a : x > b ? b : x;
}
static double r_sigmoid(double x, double a, double b)
{
    return 1.0 / (1.0 + exp(-x));
}
static double r_hsig(double x, double a, double b)
{
    double v = a * x + b;
    return v < 0 ? 0 : v > 1 ? 1 : v;
}
static double r_hswish(double x, double a, double b)
{
    return x * r_hsig(x, 1.0 / 6.0, 0.5);
}
static double r_tanh(double x, double a, double b)
{
    return tanh(x);
}

static void check_act(cs_op op, int opset, const cs_attr *attrs, int na, cs_tensor *const *extra,
                      int n_extra, ref_fn f, double a, double b)
{
    const int64_t shapes[][4] = {{3, 4, 5, 1}, {2, 64, 32, 32}, {7, 1, 1, 1}};
    for (int s = 0; s < 3; s++)
        for (int th = 1; th <= 2; th++) {
            cs_tensor *x = rand_f32(4, shapes[s]);
            cs_tensor *in[3] = {x, n_extra > 0 ? extra[0] : NULL, n_extra > 1 ? extra[1] : NULL};
            h_result r = h_run(op, opset, attrs, na, in, 1 + n_extra, 1, th);
            assert_int_equal(r.status, CS_OK);
            expect_shape(&r.out[0], 4, shapes[s]);
            double *want = malloc(sizeof(double) * (size_t)x->numel);
            for (int64_t i = 0; i < x->numel; i++) want[i] = f(((float *)x->data)[i], a, b);
            expect_close(r.out[0].data, want, x->numel, 1e-5, 1e-6);
            free(want);
            h_result_free(&r);
            cs_tensor_free(&x);
        }
}

static void activations(void **state)
{
    check_act(CS_OP_RELU, 14, NULL, 0, NULL, 0, r_relu, 0, 0);
    check_act(CS_OP_LEAKY_RELU, 16, NULL, 0, NULL, 0, r_leaky, 0.01f, 0);
    cs_attr la = h_attr_float("alpha", 0.1f);
    check_act(CS_OP_LEAKY_RELU, 6, &la, 1, NULL, 0, r_leaky, 0.1f, 0);
    check_act(CS_OP_SIGMOID, 13, NULL, 0, NULL, 0, r_sigmoid, 0, 0);
    check_act(CS_OP_HARD_SIGMOID, 6, NULL, 0, NULL, 0, r_hsig, 0.2f, 0.5f);
    cs_attr ha[2] = {h_attr_float("alpha", 0.5f), h_attr_float("beta", 0.6f)};
    check_act(CS_OP_HARD_SIGMOID, 6, ha, 2, NULL, 0, r_hsig, 0.5f, 0.6f);
    check_act(CS_OP_HARD_SWISH, 14, NULL, 0, NULL, 0, r_hswish, 0, 0);
    check_act(CS_OP_TANH, 13, NULL, 0, NULL, 0, r_tanh, 0, 0);
}

static void clip(void **state)
{
    /* opset < 11: attributes, default unbounded. */
    cs_attr ca[2] = {h_attr_float("min", -0.5f), h_attr_float("max", 0.5f)};
    check_act(CS_OP_CLIP, 6, ca, 2, NULL, 0, r_clip, -0.5f, 0.5f);
    check_act(CS_OP_CLIP, 6, ca + 1, 1, NULL, 0, r_clip, -INFINITY, 0.5f);
    check_act(CS_OP_CLIP, 6, NULL, 0, NULL, 0, r_clip, -INFINITY, INFINITY);
    /* opset >= 11: optional scalar inputs. */
    float lo = -1.f, hi = 2.5f;
    cs_tensor *tlo = h_f32(0, NULL, &lo), *thi = h_f32(0, NULL, &hi);
    cs_tensor *both[2] = {tlo, thi}, *only_max[2] = {NULL, thi};
    check_act(CS_OP_CLIP, 13, NULL, 0, both, 2, r_clip, lo, hi);
    check_act(CS_OP_CLIP, 11, NULL, 0, both, 1, r_clip, lo, INFINITY);
    check_act(CS_OP_CLIP, 13, NULL, 0, only_max, 2, r_clip, -INFINITY, hi);
    check_act(CS_OP_CLIP, 12, NULL, 0, NULL, 0, r_clip, -INFINITY, INFINITY);

    /* Refusals: non-scalar bound, integer X, attributes at opset 11. */
    int64_t d3[1] = {3}, dx[2] = {2, 3};
    cs_tensor *vec = h_f32(1, d3, NULL), *x = rand_f32(2, dx), *xi = rand_i64(2, dx);
    cs_tensor *in[3] = {x, vec, NULL};
    h_result r = h_run(CS_OP_CLIP, 13, NULL, 0, in, 2, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "min must be a scalar (got 3)");
    in[0] = xi;
    in[1] = NULL;
    r = h_run(CS_OP_CLIP, 13, NULL, 0, in, 1, 1, 1);
    expect_fail(&r, CS_ERR_UNSUPPORTED, "float32");
    in[0] = x;
    r = h_run(CS_OP_CLIP, 11, ca, 2, in, 1, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "inputs since opset 11");
    cs_tensor_free(&vec);
    cs_tensor_free(&x);
    cs_tensor_free(&xi);
    cs_tensor_free(&tlo);
    cs_tensor_free(&thi);
}

static void dropout_identity(void **state)
{
    int64_t d[3] = {3, 4, 5};
    cs_tensor *x = rand_f32(3, d), *xi = rand_i64(3, d);
    float ratio = 0.3f;
    int64_t on = 1, off = 0;
    cs_tensor *tr = h_f32(0, NULL, &ratio), *ton = h_i64(0, NULL, &on),
              *toff = h_i64(0, NULL, &off);

    assert_true(cs_op_defs[CS_OP_DROPOUT]->flags & CS_OPF_ALIAS);
    assert_true(cs_op_defs[CS_OP_IDENTITY]->flags & CS_OPF_ALIAS);

    cs_attr ra = h_attr_float("ratio", 0.2f);
    cs_tensor *in[3] = {x, NULL, NULL};
    h_result r = h_run(CS_OP_DROPOUT, 10, &ra, 1, in, 1, 1, 1);
    assert_int_equal(r.status, CS_OK);
    expect_shape(&r.out[0], 3, d);
    assert_memory_equal(r.out[0].data, x->data, cs_tensor_bytes(x));
    h_result_free(&r);

    in[1] = tr;
    in[2] = toff;
    r = h_run(CS_OP_DROPOUT, 13, NULL, 0, in, 3, 1, 2);
    assert_int_equal(r.status, CS_OK);
    assert_memory_equal(r.out[0].data, x->data, cs_tensor_bytes(x));
    h_result_free(&r);

    in[2] = ton;
    r = h_run(CS_OP_DROPOUT, 13, NULL, 0, in, 3, 1, 1);
    expect_fail(&r, CS_ERR_UNSUPPORTED, "training_mode");
    in[2] = NULL;
    r = h_run(CS_OP_DROPOUT, 13, NULL, 0, in, 2, 2, 1);
    expect_fail(&r, CS_ERR_UNSUPPORTED, "mask");

    cs_tensor *iin[1] = {xi};
    r = h_run(CS_OP_IDENTITY, 16, NULL, 0, iin, 1, 1, 1);
    assert_int_equal(r.status, CS_OK);
    assert_int_equal(r.out[0].type, CS_I64);
    expect_shape(&r.out[0], 3, d);
    assert_memory_equal(r.out[0].data, xi->data, cs_tensor_bytes(xi));
    h_result_free(&r);

    /* forward copies when the planner did not alias the buffers, and not otherwise */
    cs_node n = {.op = CS_OP_IDENTITY, .name = "t", .n_in = 1, .n_out = 1};
    cs_tensor y = *x;
    y.data = calloc(1, cs_tensor_bytes(x));
    cs_tensor *ins[1] = {x}, *outs[1] = {&y};
    cs_exec ex = {.threads = 1};
    cs_op_defs[CS_OP_IDENTITY]->forward(&n, ins, outs, &ex);
    assert_memory_equal(y.data, x->data, cs_tensor_bytes(x));
    free(y.data);
    y.data = x->data;
    cs_op_defs[CS_OP_IDENTITY]->forward(&n, ins, outs, &ex);

    cs_tensor_free(&x);
    cs_tensor_free(&xi);
    cs_tensor_free(&tr);
    cs_tensor_free(&ton);
    cs_tensor_free(&toff);
}

/* ---- binary -----------------------------------------------------------------------------------
 */

/* Element of t at output multi-index idx (of rank nd) under numpy broadcasting. */
static int64_t bidx(const cs_tensor *t, int nd, const int64_t *idx)
{
    int64_t off = 0;
    for (int i = 0; i < t->ndim; i++) {
        int64_t d = t->dims[i], k = idx[nd - t->ndim + i];
        off = off * d + (d == 1 ? 0 : k);
    }
    return off;
}

static double ref_f(cs_op op, double a, double b)
{
    switch (op) {
    case CS_OP_ADD:
        return a + b;
    case CS_OP_SUB:
        return a - b;
    case CS_OP_MUL:
        return a * b;
    case CS_OP_DIV:
        return a / b;
    default:
        return a < 0 ? a * b : a;
    }
}

static int64_t ref_i(cs_op op, int64_t a, int64_t b)
{
    switch (op) {
    case CS_OP_ADD:
        return a + b;
    case CS_OP_SUB:
        return a - b;
    case CS_OP_MUL:
        return a * b;
    default:
        return b == 0 ? 0 : a / b; /* C and ONNX truncate toward zero */
    }
}

static void check_binary(cs_op op, int opset, cs_dtype type, int na, const int64_t *da, int nb,
                         const int64_t *db, int threads)
{
    cs_tensor *a = type == CS_F32 ? rand_f32(na, da) : rand_i64(na, da);
    cs_tensor *b = type == CS_F32 ? rand_f32(nb, db) : rand_i64(nb, db);
    if (op == CS_OP_DIV && type == CS_F32)
        for (int64_t i = 0; i < b->numel; i++) ((float *)b->data)[i] += 5.f; /* away from 0 */
    cs_tensor *in[2] = {a, b};
    h_result r = h_run(op, opset, NULL, 0, in, 2, 1, threads);
    if (r.status != CS_OK) fail_msg("%s", r.err.msg);
    const cs_tensor *y = &r.out[0];
    int nd = na > nb ? na : nb;
    assert_int_equal(y->ndim, nd);
    assert_int_equal(y->type, type);
    int64_t idx[CS_MAX_DIMS];
    for (int i = 0; i < nd; i++) {
        int64_t x = i - (nd - na) >= 0 ? da[i - (nd - na)] : 1;
        int64_t z = i - (nd - nb) >= 0 ? db[i - (nd - nb)] : 1;
        assert_int_equal(y->dims[i], x == 1 ? z : x);
    }
    double *want = malloc(sizeof(double) * (size_t)(y->numel ? y->numel : 1));
    for (int64_t f = 0; f < y->numel; f++) {
        int64_t rem = f;
        for (int i = nd - 1; i >= 0; i--) {
            idx[i] = rem % y->dims[i];
            rem /= y->dims[i];
        }
        int64_t ia = bidx(a, nd, idx), ib = bidx(b, nd, idx);
        if (type == CS_F32) {
            want[f] = ref_f(op, ((float *)a->data)[ia], ((float *)b->data)[ib]);
        } else {
            int64_t w = ref_i(op, ((int64_t *)a->data)[ia], ((int64_t *)b->data)[ib]);
            if (((int64_t *)y->data)[f] != w)
                fail_msg("int64 element %lld: got %lld want %lld", (long long)f,
                         (long long)((int64_t *)y->data)[f], (long long)w);
        }
    }
    if (type == CS_F32) expect_close(y->data, want, y->numel, 1e-6, 1e-6);
    free(want);
    h_result_free(&r);
    cs_tensor_free(&a);
    cs_tensor_free(&b);
}

static const struct {
    int na;
    int64_t a[5];
    int nb;
    int64_t b[5];
} bcast_cases[] = {
    {4, {2, 3, 4, 5}, 4, {2, 3, 4, 5}}, /* same shape */
    {3, {3, 4, 5}, 0, {0}},             /* scalar B */
    {0, {0}, 3, {3, 4, 5}},             /* scalar A */
    {3, {3, 4, 5}, 1, {1}},             /* [1] */
    {4, {2, 3, 8, 8}, 3, {3, 1, 1}},    /* per-channel */
    {3, {3, 1, 1}, 4, {2, 3, 8, 8}},    /* per-channel, other side */
    {3, {3, 4, 5}, 1, {5}},             /* trailing vector */
    {2, {4, 1}, 3, {3, 1, 5}},          /* both operands broadcast */
    {4, {1, 3, 1, 5}, 4, {2, 1, 4, 1}}, /* alternating */
    {5, {2, 1, 3, 1, 2}, 5, {1, 4, 3, 2, 1}},
    {4, {1, 64, 56, 56}, 3, {64, 1, 1}},      /* large per-channel: threaded */
    {4, {2, 16, 40, 40}, 4, {2, 16, 40, 40}}, /* large same shape */
    {4, {2, 16, 40, 40}, 4, {2, 1, 40, 40}},  /* large, broadcast in the middle */
    {2, {1, 1}, 2, {1, 1}},
    {2, {0, 3}, 1, {3}}, /* empty */
};

static void binary_float(void **state)
{
    const cs_op ops[4] = {CS_OP_ADD, CS_OP_SUB, CS_OP_MUL, CS_OP_DIV};
    for (size_t c = 0; c < sizeof bcast_cases / sizeof bcast_cases[0]; c++)
        for (int o = 0; o < 4; o++)
            for (int th = 1; th <= 2; th++)
                check_binary(ops[o], 14, CS_F32, bcast_cases[c].na, bcast_cases[c].a,
                             bcast_cases[c].nb, bcast_cases[c].b, th);
}

static void binary_int64(void **state)
{
    const cs_op ops[4] = {CS_OP_ADD, CS_OP_SUB, CS_OP_MUL, CS_OP_DIV};
    for (size_t c = 0; c < sizeof bcast_cases / sizeof bcast_cases[0]; c++)
        for (int o = 0; o < 4; o++)
            check_binary(ops[o], 13, CS_I64, bcast_cases[c].na, bcast_cases[c].a, bcast_cases[c].nb,
                         bcast_cases[c].b, 2);

    /* Integer division truncates toward zero; x/0 gives 0 instead of trapping. */
    int64_t d[1] = {6};
    int64_t av[6] = {7, -7, 7, -7, 5, INT64_MIN}, bv[6] = {2, 2, -2, -2, 0, -1};
    int64_t want[6] = {3, -3, -3, 3, 0, INT64_MIN};
    cs_tensor *a = h_i64(1, d, av), *b = h_i64(1, d, bv);
    cs_tensor *in[2] = {a, b};
    h_result r = h_run(CS_OP_DIV, 14, NULL, 0, in, 2, 1, 1);
    assert_int_equal(r.status, CS_OK);
    assert_memory_equal(r.out[0].data, want, sizeof want);
    h_result_free(&r);

    /* Shape arithmetic: [1,3,224,224] dims / 2 and * 2 */
    int64_t sv[4] = {1, 3, 224, 224}, two = 2, s4[1] = {4};
    cs_tensor *s = h_i64(1, s4, sv), *t = h_i64(0, NULL, &two);
    cs_tensor *in2[2] = {s, t};
    r = h_run(CS_OP_DIV, 14, NULL, 0, in2, 2, 1, 1);
    assert_int_equal(r.status, CS_OK);
    int64_t half[4] = {0, 1, 112, 112};
    assert_memory_equal(r.out[0].data, half, sizeof half);
    h_result_free(&r);
    cs_tensor_free(&a);
    cs_tensor_free(&b);
    cs_tensor_free(&s);
    cs_tensor_free(&t);
}

static void binary_refusals(void **state)
{
    int64_t d34[2] = {3, 4}, d5[1] = {5}, d4[1] = {4};
    cs_tensor *a = rand_f32(2, d34), *b = rand_f32(1, d5), *bi = rand_i64(1, d4);
    cs_tensor *in[2] = {a, b};
    h_result r = h_run(CS_OP_ADD, 14, NULL, 0, in, 2, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "cannot broadcast A (3x4) with B (5)");
    in[1] = bi;
    r = h_run(CS_OP_MUL, 14, NULL, 0, in, 2, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "types differ");
    cs_attr legacy[2] = {h_attr_int("broadcast", 1), h_attr_int("axis", 1)};
    r = h_run(CS_OP_SUB, 6, legacy, 2, in, 2, 1, 1);
    expect_fail(&r, CS_ERR_UNSUPPORTED, "broadcast");
    r = h_run(CS_OP_SUB, 6, legacy + 1, 1, in, 2, 1, 1);
    expect_fail(&r, CS_ERR_UNSUPPORTED, "axis");
    in[1] = NULL;
    r = h_run(CS_OP_DIV, 14, NULL, 0, in, 2, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "two inputs");
    cs_tensor_free(&a);
    cs_tensor_free(&b);
    cs_tensor_free(&bi);
}

static void prelu(void **state)
{
    /* opset >= 7: slope broadcast to X */
    const int64_t x3[3] = {3, 4, 5}, s5[1] = {5}, s1[1] = {1}, x4[4] = {2, 8, 6, 6},
                  c11[3] = {8, 1, 1}, big[4] = {1, 32, 48, 48}, bc[3] = {32, 1, 1};
    for (int th = 1; th <= 2; th++) {
        check_binary(CS_OP_PRELU, 16, CS_F32, 3, x3, 1, s5, th);
        check_binary(CS_OP_PRELU, 16, CS_F32, 3, x3, 3, x3, th);
        check_binary(CS_OP_PRELU, 9, CS_F32, 3, x3, 1, s1, th);
        check_binary(CS_OP_PRELU, 9, CS_F32, 4, x4, 3, c11, th);
        check_binary(CS_OP_PRELU, 9, CS_F32, 4, big, 3, bc, th);
    }

    /* opset 6: a 1-D slope of length C is per channel (dim 1), as PyTorch exported it. */
    int64_t xd[3] = {2, 3, 4}, sd[1] = {3};
    cs_tensor *x = rand_f32(3, xd), *s = rand_f32(1, sd);
    cs_tensor *in[2] = {x, s};
    h_result r = h_run(CS_OP_PRELU, 6, NULL, 0, in, 2, 1, 1);
    assert_int_equal(r.status, CS_OK);
    expect_shape(&r.out[0], 3, xd);
    double want[24];
    for (int i = 0; i < 24; i++) {
        double v = ((float *)x->data)[i];
        want[i] = v < 0 ? v * ((float *)s->data)[(i / 4) % 3] : v;
    }
    expect_close(r.out[0].data, want, 24, 1e-6, 1e-7);
    h_result_free(&r);

    /* The same slope at opset 9 does not broadcast to 2x3x4. */
    r = h_run(CS_OP_PRELU, 9, NULL, 0, in, 2, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "cannot broadcast X (2x3x4) with slope (3)");

    /* A slope that would enlarge X. */
    int64_t sbig[4] = {2, 2, 3, 4};
    cs_tensor *s2 = rand_f32(4, sbig);
    in[1] = s2;
    r = h_run(CS_OP_PRELU, 9, NULL, 0, in, 2, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "slope (2x2x3x4) must broadcast to X (2x3x4)");
    cs_tensor_free(&x);
    cs_tensor_free(&s);
    cs_tensor_free(&s2);
}

/* Forward with the output buffer equal to an input buffer (a planner may reuse it). */
static void run_in_place(cs_op op, int opset, cs_tensor *const *in, int n_in, int alias)
{
    const cs_op_def *d = cs_op_defs[op];
    cs_node n = {.op = op,
                 .name = "t",
                 .op_type = d->onnx_name,
                 .opset = opset,
                 .n_in = n_in,
                 .n_out = 1,
                 .threads = 2};
    cs_error err;
    cs_tensor ref, y;
    memset(&ref, 0, sizeof ref);
    cs_tensor *outs[1] = {&ref};
    cs_attrs as = {0, NULL};
    assert_int_equal(d->init(&n, &as, &err), CS_OK);
    assert_int_equal(d->shape(&n, in, outs, &err), CS_OK);
    ref.data = malloc(cs_tensor_bytes(&ref));
    cs_exec ex = {.threads = 1};
    d->forward(&n, in, outs, &ex);
    y = ref;
    y.data = in[alias]->data; /* overwrite the input */
    outs[0] = &y;
    d->forward(&n, in, outs, &ex);
    assert_memory_equal(y.data, ref.data, cs_tensor_bytes(&ref));
    free(ref.data);
    free(n.params);
}

static void in_place(void **state)
{
    int64_t d[4] = {2, 8, 20, 20}, c[3] = {8, 1, 1};
    const cs_op acts[] = {CS_OP_RELU, CS_OP_SIGMOID, CS_OP_TANH, CS_OP_HARD_SWISH};
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++) {
        cs_tensor *x = rand_f32(4, d);
        cs_tensor *in[1] = {x};
        run_in_place(acts[i], 14, in, 1, 0);
        cs_tensor_free(&x);
    }
    const cs_op bins[] = {CS_OP_ADD, CS_OP_SUB, CS_OP_MUL, CS_OP_DIV, CS_OP_PRELU};
    for (size_t i = 0; i < sizeof bins / sizeof bins[0]; i++)
        for (int same = 0; same < 2; same++) {
            cs_tensor *a = rand_f32(4, d), *b = same ? rand_f32(4, d) : rand_f32(3, c);
            cs_tensor *in[2] = {a, b};
            run_in_place(bins[i], 14, in, 2, 0);
            if (same) run_in_place(bins[i], 14, in, 2, 1);
            cs_tensor_free(&a);
            cs_tensor_free(&b);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(activations),
        cmocka_unit_test(clip),
        cmocka_unit_test(dropout_identity),
        cmocka_unit_test(binary_float),
        cmocka_unit_test(binary_int64),
        cmocka_unit_test(binary_refusals),
        cmocka_unit_test(prelu),
        cmocka_unit_test(in_place),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
