/* Gemm and MatMul against naive loops: transposes, alpha/beta, every broadcast form of C,
 * numpy MatMul (1-D operands, broadcast batch dims, the single-sgemm fold), fused
 * activations, threads 1 and 2; and the error messages of bad shapes. */
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

typedef struct {
    cs_status st;
    cs_error err;
    cs_tensor out;
} run_res;

/* h_run plus a fused activation (the planner's job, which the harness cannot set). */
static run_res run_op(cs_op op, int opset, const cs_attr *attrs, int n_attrs, cs_tensor *const *in,
                      int n_in, int threads, cs_act act)
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
    cs_tensor shp[4];
    cs_tensor *sp[4] = {0};
    for (int i = 0; i < n_in; i++) {
        if (!in[i]) continue;
        shp[i] = *in[i];
        shp[i].data = NULL; /* nothing is constant */
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
        memset(r.out.data, 0x7f, b);
        void *scratch = NULL;
        if (n.scratch_bytes && posix_memalign(&scratch, 64, n.scratch_bytes) != 0) abort();
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

static uint64_t rng_state = 1;

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

static cs_tensor *rand_tensor(int ndim, const int64_t *dims)
{
    cs_tensor *t = h_f32(ndim, dims, NULL);
    float *p = t->data;
    for (int64_t i = 0; i < t->numel; i++) p[i] = (float)rnd_u32() / 4294967296.f * 2.f - 1.f;
    return t;
}

static float act_ref(cs_act a, double v)
{
    if (a.kind == CS_ACT_RELU) return v > 0 ? (float)v : 0.f;
    if (a.kind == CS_ACT_CLIP) return (float)(v < a.a ? a.a : v > a.b ? a.b : v);
    if (a.kind == CS_ACT_TANH) return (float)tanh(v);
    return (float)v;
}

static cs_act random_act(void)
{
    switch (rnd(4)) {
    case 1:
        return (cs_act){CS_ACT_RELU, 0, 0};
    case 2:
        return (cs_act){CS_ACT_CLIP, -0.3f, 0.4f};
    case 3:
        return (cs_act){CS_ACT_TANH, 0, 0};
    default:
        return (cs_act){CS_ACT_NONE, 0, 0};
    }
}

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
        if (!(d <= e)) e = d;
    }
    return e;
}

#define TOL 1e-4

/* ---- Gemm --------------------------------------------------------------------------------- */

static void gemm_random(void **state)
{
    (void)state;
    rng_state = 2024;
    for (int it = 0; it < 300; it++) {
        int64_t m = 1 + rnd(40), n = 1 + rnd(40), k = 1 + rnd(70);
        if (it % 50 == 0) m = 130, n = 150, k = 200; /* big enough for OpenBLAS threads */
        int ta = rnd(2), tb = rnd(2);
        float alpha = rnd(3) ? 1.f : 0.5f - (float)rnd(3), beta = rnd(3) ? 1.f : 0.25f * rnd(4);
        int cform = rnd(8); /* 0 none, 1 scalar, 2 [N], 3 [1], 4 [1,N], 5 [M,1], 6 [M,N], 7 [1,1] */
        int opset = cform == 0 ? 13 : (rnd(2) ? 13 : 7);
        int threads = 1 + (it & 1);
        cs_act act = random_act();
        int64_t ad[2] = {ta ? k : m, ta ? m : k}, bd[2] = {tb ? n : k, tb ? k : n};
        cs_tensor *a = rand_tensor(2, ad), *b = rand_tensor(2, bd), *c = NULL;
        int64_t cd[2];
        int cn = 0;
        switch (cform) {
        case 1:
            cn = 0;
            break;
        case 2:
            cn = 1, cd[0] = n;
            break;
        case 3:
            cn = 1, cd[0] = 1;
            break;
        case 4:
            cn = 2, cd[0] = 1, cd[1] = n;
            break;
        case 5:
            cn = 2, cd[0] = m, cd[1] = 1;
            break;
        case 6:
            cn = 2, cd[0] = m, cd[1] = n;
            break;
        case 7:
            cn = 2, cd[0] = 1, cd[1] = 1;
            break;
        }
        if (cform) c = rand_tensor(cn, cd);
        cs_attr at[4] = {h_attr_float("alpha", alpha), h_attr_float("beta", beta),
                         h_attr_int("transA", ta), h_attr_int("transB", tb)};
        cs_tensor *in[3] = {a, b, c};
        run_res r = run_op(CS_OP_GEMM, opset, at, 4, in, c ? 3 : 2, threads, act);
        if (r.st != CS_OK) fprintf(stderr, "%s\n", r.err.msg);
        assert_int_equal(r.st, CS_OK);
        float *want = malloc(sizeof(float) * (size_t)(m * n));
        const float *av = a->data, *bv = b->data, *cv = c ? c->data : NULL;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double s = 0;
                for (int64_t q = 0; q < k; q++)
                    s += (double)(ta ? av[q * m + i] : av[i * k + q]) *
                         (tb ? bv[j * k + q] : bv[q * n + j]);
                s *= alpha;
                if (cv) {
                    int64_t ci = 0;
                    if (cn == 1) ci = cd[0] == 1 ? 0 : j;
                    if (cn == 2) ci = (cd[0] == 1 ? 0 : i) * cd[1] + (cd[1] == 1 ? 0 : j);
                    s += beta * cv[ci];
                }
                want[i * n + j] = act_ref(act, s);
            }
        int64_t yd[2] = {m, n};
        double e = max_err(&r.out, want, 2, yd);
        if (!(e <= TOL))
            fprintf(stderr, "gemm mismatch %.3g: m %lld n %lld k %lld ta %d tb %d cform %d\n", e,
                    (long long)m, (long long)n, (long long)k, ta, tb, cform);
        assert_true(e <= TOL);
        free(want);
        free(r.out.data);
        cs_tensor_free(&a);
        cs_tensor_free(&b);
        cs_tensor_free(&c);
    }
}

/* test_gemm_all_attributes style values, exact: guards the reference itself. */
static void gemm_exact(void **state)
{
    (void)state;
    int64_t ad[2] = {2, 2}, bd[2] = {2, 2}, cd[1] = {2};
    float av[4] = {1, 2, 3, 4}, bv[4] = {5, 6, 7, 8}, cv[2] = {10, 20};
    cs_tensor *a = h_f32(2, ad, av), *b = h_f32(2, bd, bv), *c = h_f32(1, cd, cv);
    cs_attr at[3] = {h_attr_float("alpha", 2.f), h_attr_float("beta", 0.5f),
                     h_attr_int("transB", 1)};
    cs_tensor *in[3] = {a, b, c};
    h_result r = h_run(CS_OP_GEMM, 13, at, 3, in, 3, 1, 1);
    assert_int_equal(r.status, CS_OK);
    /* A B^T = [[17, 23], [39, 53]]; *2 + [5, 10] */
    const float want[4] = {39, 56, 83, 116};
    const float *y = r.out[0].data;
    for (int i = 0; i < 4; i++) assert_float_equal(y[i], want[i], 1e-5);
    h_result_free(&r);
    cs_tensor_free(&a);
    cs_tensor_free(&b);
    cs_tensor_free(&c);
}

/* ---- MatMul ------------------------------------------------------------------------------- */

typedef struct {
    int na, nb;
    int64_t a[5], b[5];
} mm_case;

static void matmul_check(const mm_case *mc, int threads, cs_act act)
{
    cs_tensor *a = rand_tensor(mc->na, mc->a), *b = rand_tensor(mc->nb, mc->b);
    cs_tensor *in[2] = {a, b};
    run_res r = run_op(CS_OP_MATMUL, 13, NULL, 0, in, 2, threads, act);
    if (r.st != CS_OK) fprintf(stderr, "%s\n", r.err.msg);
    assert_int_equal(r.st, CS_OK);
    /* Reference: promote to >= 2-D, broadcast batch dims, then drop promoted dims. */
    int64_t m = mc->na == 1 ? 1 : mc->a[mc->na - 2], k = mc->a[mc->na - 1];
    int64_t n = mc->nb == 1 ? 1 : mc->b[mc->nb - 1];
    int ba = mc->na > 2 ? mc->na - 2 : 0, bb = mc->nb > 2 ? mc->nb - 2 : 0;
    int nbd = ba > bb ? ba : bb;
    int64_t bdims[4], total = 1;
    for (int i = 0; i < nbd; i++) {
        int ia = ba - nbd + i, ib = bb - nbd + i;
        int64_t da = ia >= 0 ? mc->a[ia] : 1, db = ib >= 0 ? mc->b[ib] : 1;
        bdims[i] = da > db ? da : db;
        total *= bdims[i];
    }
    float *want = malloc(sizeof(float) * (size_t)(total * m * n));
    const float *av = a->data, *bv = b->data;
    for (int64_t t = 0; t < total; t++) {
        int64_t rem = t, oa = 0, ob = 0, sa = m * k, sb = k * n;
        for (int i = nbd - 1; i >= 0; i--) {
            int64_t idx = rem % bdims[i];
            rem /= bdims[i];
            int ia = ba - nbd + i, ib = bb - nbd + i;
            int64_t da = ia >= 0 ? mc->a[ia] : 1, db = ib >= 0 ? mc->b[ib] : 1;
            oa += (da == 1 ? 0 : idx) * sa;
            ob += (db == 1 ? 0 : idx) * sb;
            sa *= da;
            sb *= db;
        }
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double s = 0;
                for (int64_t q = 0; q < k; q++)
                    s += (double)av[oa + i * k + q] * bv[ob + q * n + j];
                want[(t * m + i) * n + j] = act_ref(act, s);
            }
    }
    int64_t yd[6];
    int nd = 0;
    for (int i = 0; i < nbd; i++) yd[nd++] = bdims[i];
    if (mc->na > 1) yd[nd++] = m;
    if (mc->nb > 1) yd[nd++] = n;
    double e = max_err(&r.out, want, nd, yd);
    if (!(e <= TOL)) {
        char as[64], bs[64];
        fprintf(stderr, "matmul mismatch %.3g: A %s B %s\n", e, cs_shape_str(a, as, 64),
                cs_shape_str(b, bs, 64));
    }
    assert_true(e <= TOL);
    free(want);
    free(r.out.data);
    cs_tensor_free(&a);
    cs_tensor_free(&b);
}

static void matmul_cases(void **state)
{
    (void)state;
    rng_state = 31337;
    const mm_case cases[] = {
        {2, 2, {3, 4}, {4, 5}},
        {1, 1, {7}, {7}},                   /* dot product: scalar output */
        {1, 2, {4}, {4, 3}},                /* [K] x [K,N] -> [N] */
        {2, 1, {3, 4}, {4}},                /* [M,K] x [K] -> [M] */
        {3, 1, {2, 3, 4}, {4}},             /* batched matrix-vector */
        {1, 3, {4}, {2, 4, 5}},             /* vector x batched */
        {3, 2, {2, 3, 4}, {4, 5}},          /* fold: one sgemm */
        {4, 2, {2, 3, 6, 4}, {4, 5}},       /* fold over two batch dims */
        {2, 3, {3, 4}, {2, 4, 5}},          /* A broadcast over B's batch */
        {4, 3, {2, 1, 3, 4}, {5, 4, 2}},    /* both broadcast */
        {4, 4, {1, 2, 3, 4}, {1, 2, 4, 3}}, /* test_matmul_4d */
        {3, 3, {1, 3, 4}, {6, 4, 2}},       /* A batch of 1 broadcast */
        {5, 3, {2, 1, 3, 3, 4}, {3, 4, 2}},
        {2, 2, {64, 300}, {300, 96}}, /* large enough for OpenBLAS threads */
        {3, 3, {2, 3, 0}, {2, 0, 4}}, /* K = 0: zeros */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int t = 1; t <= 2; t++) matmul_check(&cases[i], t, random_act());
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
    h_result_free(&r);
}

static void gemm_errors(void **state)
{
    (void)state;
    int64_t d23[2] = {2, 3}, d43[2] = {4, 3}, d3[1] = {3}, d5[1] = {5}, d33[2] = {3, 3};
    int64_t d234[3] = {2, 3, 4}, d354[3] = {3, 5, 4}, d222[3] = {2, 2, 2};
    cs_tensor *a = h_f32(2, d23, NULL), *b = h_f32(2, d43, NULL), *c3 = h_f32(1, d3, NULL);
    cs_tensor *c5 = h_f32(1, d5, NULL), *b33 = h_f32(2, d33, NULL), *a3 = h_f32(3, d234, NULL);
    cs_tensor *b3 = h_f32(3, d354, NULL), *t222 = h_f32(3, d222, NULL);
    cs_tensor *in1[2] = {a, b};
    expect_fail(CS_OP_GEMM, 13, NULL, 0, in1, 2, CS_ERR_INVALID,
                "inner dims differ: A 2x3 gives K = 3, B 4x3 gives K = 4");
    cs_attr tb = h_attr_int("transB", 1);
    cs_tensor *in2[3] = {a, b, c5};
    expect_fail(CS_OP_GEMM, 13, &tb, 1, in2, 3, CS_ERR_INVALID,
                "C 5 does not broadcast to the 2x4 output");
    cs_tensor *in3[2] = {a, b33};
    expect_fail(CS_OP_GEMM, 9, NULL, 0, in3, 2, CS_ERR_INVALID,
                "input C is required before opset 11");
    cs_tensor *in4[3] = {a3, b33, c3};
    expect_fail(CS_OP_GEMM, 13, NULL, 0, in4, 3, CS_ERR_INVALID,
                "A and B must be 2-D, got A 2x3x4 and B 3x3");
    cs_tensor *in5[2] = {a3, b3};
    expect_fail(CS_OP_MATMUL, 13, NULL, 0, in5, 2, CS_ERR_INVALID,
                "inner dims differ: A 2x3x4 has K = 4, B 3x5x4 has K = 5");
    cs_tensor *in6[2] = {t222, a3};
    expect_fail(CS_OP_MATMUL, 13, NULL, 0, in6, 2, CS_ERR_INVALID, "K = 2, B 2x3x4 has K = 3");
    int64_t d242[3] = {3, 2, 2};
    cs_tensor *t322 = h_f32(3, d242, NULL);
    cs_tensor *in7[2] = {t222, t322};
    expect_fail(CS_OP_MATMUL, 13, NULL, 0, in7, 2, CS_ERR_INVALID,
                "batch dims of A 2x2x2 and B 3x2x2 do not broadcast");
    cs_tensor_free(&a);
    cs_tensor_free(&b);
    cs_tensor_free(&c3);
    cs_tensor_free(&c5);
    cs_tensor_free(&b33);
    cs_tensor_free(&a3);
    cs_tensor_free(&b3);
    cs_tensor_free(&t222);
    cs_tensor_free(&t322);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gemm_exact),
        cmocka_unit_test(gemm_random),
        cmocka_unit_test(matmul_cases),
        cmocka_unit_test(gemm_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
