/* MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool against a naive reference that walks
 * every kernel tap, over 1-D/2-D/3-D, pads, strides, dilations, ceil_mode, auto_pad and
 * count_include_pad, with 1 and 2 threads; plus the refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "op_harness.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;

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
    for (int64_t i = 0; i < t->numel; i++) ((float *)t->data)[i] = frand();
    return t;
}

static void expect_fail(h_result *r, cs_status st, const char *needle)
{
    assert_int_equal(r->status, st);
    if (!strstr(r->err.msg, needle)) fail_msg("message '%s' lacks '%s'", r->err.msg, needle);
    assert_non_null(strstr(r->err.msg, "node 'test'"));
}

/* ---- naive reference ------------------------------------------------------------------------ */

typedef struct pcase {
    int ndim;
    int64_t x[5];
    int64_t k[3], s[3], d[3], pads[6]; /* s, d: 0 = attribute absent; pads: see has_pads */
    bool has_pads;
    const char *auto_pad;
    int ceil_mode, count_include_pad;
} pcase;

typedef struct geom {
    int nk;
    int64_t in[3], out[3], k[3], s[3], d[3], pb[3], pe[3];
} geom;

static bool ref_geom(const pcase *c, geom *g)
{
    g->nk = c->ndim - 2;
    for (int i = 0; i < g->nk; i++) {
        int64_t in = c->x[2 + i], k = c->k[i], s = c->s[i] ? c->s[i] : 1, d = c->d[i] ? c->d[i] : 1;
        int64_t eff = (k - 1) * d + 1, pb = c->has_pads ? c->pads[i] : 0,
                pe = c->has_pads ? c->pads[g->nk + i] : 0, out;
        const char *ap = c->auto_pad ? c->auto_pad : "NOTSET";
        if (!strncmp(ap, "SAME", 4)) {
            out = (in + s - 1) / s;
            int64_t total = (out - 1) * s + eff - in;
            if (total < 0) total = 0;
            pb = !strcmp(ap, "SAME_UPPER") ? total / 2 : (total + 1) / 2;
            pe = total - pb;
        } else {
            if (!strcmp(ap, "VALID")) pb = pe = 0;
            double v = (double)(in + pb + pe - eff) / (double)s;
            if (v < 0) return false;
            out = (int64_t)(c->ceil_mode ? ceil(v) : floor(v)) + 1;
            if (c->ceil_mode && (out - 1) * s >= in + pb) out--;
        }
        g->in[i] = in;
        g->out[i] = out;
        g->k[i] = k;
        g->s[i] = s;
        g->d[i] = d;
        g->pb[i] = pb;
        g->pe[i] = pe;
    }
    return true;
}

/* Reference output value at plane p, output coordinates o[]. */
static double ref_value(const geom *g, const float *x, const int64_t *o, bool max, bool cip)
{
    int64_t t[3] = {0, 0, 0}, ntaps = 1;
    for (int i = 0; i < g->nk; i++) ntaps *= g->k[i];
    double m = -INFINITY, sum = 0;
    int64_t cnt = 0, cnt_pad = 0;
    for (int64_t tap = 0; tap < ntaps; tap++) {
        int64_t r = tap, off = 0;
        bool inside = true, in_pad = true;
        for (int i = g->nk - 1; i >= 0; i--) {
            t[i] = r % g->k[i];
            r /= g->k[i];
        }
        for (int i = 0; i < g->nk; i++) {
            int64_t c = o[i] * g->s[i] - g->pb[i] + t[i] * g->d[i];
            if (c < 0 || c >= g->in[i]) inside = false;
            if (c < -g->pb[i] || c >= g->in[i] + g->pe[i]) in_pad = false;
            off = off * g->in[i] + c;
        }
        if (in_pad) cnt_pad++;
        if (!inside) continue;
        cnt++;
        m = x[off] > m ? x[off] : m;
        sum += x[off];
    }
    if (max) return m;
    return sum / (double)(cip ? cnt_pad : cnt);
}

static void run_case(const pcase *c, bool max, int threads)
{
    geom g;
    assert_true(ref_geom(c, &g));
    cs_attr at[8];
    int na = 0;
    int nk = c->ndim - 2;
    at[na++] = h_attr_ints("kernel_shape", nk, c->k);
    if (c->s[0]) at[na++] = h_attr_ints("strides", nk, c->s);
    if (c->d[0]) at[na++] = h_attr_ints("dilations", nk, c->d);
    if (c->has_pads) at[na++] = h_attr_ints("pads", 2 * nk, c->pads);
    if (c->auto_pad) at[na++] = h_attr_string("auto_pad", c->auto_pad);
    if (c->ceil_mode) at[na++] = h_attr_int("ceil_mode", 1);
    if (!max) at[na++] = h_attr_int("count_include_pad", c->count_include_pad);
    cs_tensor *x = rand_f32(c->ndim, c->x);
    cs_tensor *in[1] = {x};
    h_result r =
        h_run(max ? CS_OP_MAXPOOL : CS_OP_AVGPOOL, max ? 12 : 11, at, na, in, 1, 1, threads);
    if (r.status != CS_OK) fail_msg("%s", r.err.msg);
    const cs_tensor *y = &r.out[0];
    assert_int_equal(y->ndim, c->ndim);
    assert_int_equal(y->dims[0], c->x[0]);
    assert_int_equal(y->dims[1], c->x[1]);
    int64_t plane_in = 1, plane_out = 1;
    for (int i = 0; i < nk; i++) {
        if (y->dims[2 + i] != g.out[i])
            fail_msg("spatial dim %d: got %lld, want %lld", i, (long long)y->dims[2 + i],
                     (long long)g.out[i]);
        plane_in *= g.in[i];
        plane_out *= g.out[i];
    }
    const float *yd = y->data;
    for (int64_t p = 0; p < c->x[0] * c->x[1]; p++)
        for (int64_t f = 0; f < plane_out; f++) {
            int64_t o[3], rem = f;
            for (int i = nk - 1; i >= 0; i--) {
                o[i] = rem % g.out[i];
                rem /= g.out[i];
            }
            double want =
                ref_value(&g, (const float *)x->data + p * plane_in, o, max, c->count_include_pad);
            double got = yd[p * plane_out + f];
            if (fabs(got - want) > 1e-5 + 1e-5 * fabs(want))
                fail_msg("%s plane %lld elem %lld: got %.8g want %.8g", max ? "max" : "avg",
                         (long long)p, (long long)f, got, want);
        }
    h_result_free(&r);
    cs_tensor_free(&x);
}

static const pcase cases[] = {
    /* 1-D */
    {3, {2, 3, 17}, {3}, {2}, {0}, {1, 1}, true, NULL, 0, 0},
    {3, {2, 3, 17}, {3}, {2}, {0}, {1, 1}, true, NULL, 0, 1},
    {3, {1, 1, 5000}, {7}, {3}, {2}, {3, 2}, true, NULL, 0, 0},
    {3, {1, 3, 32}, {2}, {0}, {0}, {0}, false, NULL, 0, 0},
    /* 2-D: ResNet stem 3x3/2 pad 1, VGG 2x2/2 (fast paths), threaded sizes */
    {4, {1, 8, 56, 56}, {3, 3}, {2, 2}, {0}, {1, 1, 1, 1}, true, NULL, 0, 0},
    {4, {1, 8, 56, 56}, {3, 3}, {2, 2}, {0}, {1, 1, 1, 1}, true, NULL, 0, 1},
    {4, {2, 16, 28, 28}, {2, 2}, {2, 2}, {0}, {0}, false, NULL, 0, 0},
    {4, {2, 5, 13, 13}, {3, 3}, {2, 2}, {0}, {0}, false, NULL, 1, 0}, /* SqueezeNet ceil */
    {4, {1, 3, 32, 32}, {5, 5}, {3, 3}, {0}, {0}, false, NULL, 0, 0},
    /* ceil_mode with pads, divisor clipped at the padded border */
    {4, {1, 2, 7, 9}, {3, 3}, {2, 2}, {0}, {1, 0, 1, 0}, true, NULL, 1, 0},
    {4, {1, 2, 7, 9}, {3, 3}, {2, 2}, {0}, {1, 0, 1, 0}, true, NULL, 1, 1},
    {4, {1, 1, 4, 4}, {3, 3}, {2, 2}, {0}, {0}, false, NULL, 1, 1},
    {4, {1, 1, 6, 6}, {3, 3}, {2, 2}, {0}, {1, 1, 1, 1}, true, NULL, 1, 1},
    {4, {1, 1, 5, 5}, {2, 2}, {2, 2}, {0}, {1, 1, 1, 1}, true, NULL, 1, 0}, /* drops a window */
    /* asymmetric pads, non-square kernel and strides */
    {4, {2, 3, 11, 14}, {3, 5}, {1, 2}, {0}, {1, 2, 2, 4}, true, NULL, 0, 0},
    {4, {2, 3, 11, 14}, {3, 5}, {1, 2}, {0}, {1, 2, 2, 4}, true, NULL, 0, 1},
    /* dilations */
    {4, {1, 2, 9, 10}, {2, 3}, {1, 2}, {2, 3}, {1, 1, 1, 0}, true, NULL, 0, 0},
    {4, {1, 2, 9, 10}, {2, 3}, {1, 2}, {2, 3}, {1, 1, 1, 0}, true, NULL, 1, 1},
    /* auto_pad */
    {4, {1, 3, 32, 32}, {2, 2}, {0}, {0}, {0}, false, "SAME_UPPER", 0, 0},
    {4, {1, 3, 32, 32}, {2, 2}, {0}, {0}, {0}, false, "SAME_LOWER", 0, 0},
    {4, {1, 1, 5, 5}, {3, 3}, {2, 2}, {0}, {0}, false, "SAME_UPPER", 0, 0},
    {4, {1, 1, 5, 5}, {3, 3}, {2, 2}, {0}, {0}, false, "SAME_LOWER", 0, 1},
    {4, {1, 2, 7, 8}, {3, 3}, {2, 2}, {0}, {0}, false, "VALID", 0, 0},
    /* 3-D */
    {5, {1, 3, 6, 7, 5}, {2, 3, 2}, {2, 1, 2}, {0}, {1, 1, 0, 1, 1, 1}, true, NULL, 0, 0},
    {5, {1, 3, 6, 7, 5}, {2, 3, 2}, {2, 1, 2}, {0}, {1, 1, 0, 1, 1, 1}, true, NULL, 1, 1},
    {5, {2, 3, 4, 4, 4}, {3, 3, 3}, {0}, {0}, {0}, false, NULL, 0, 0},
    {5, {1, 2, 1, 9, 9}, {1, 3, 3}, {1, 2, 2}, {0}, {0, 1, 1, 0, 1, 1}, true, NULL, 0, 0},
};

static void pools(void **state)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int th = 1; th <= 2; th++) {
            run_case(&cases[i], true, th);
            run_case(&cases[i], false, th);
        }
}

/* Expected values from the ONNX conformance cases. */
static void pool_conformance_values(void **state)
{
    float x16[16], x25[25];
    for (int i = 0; i < 16; i++) x16[i] = (float)(i + 1);
    for (int i = 0; i < 25; i++) x25[i] = (float)(i + 1);
    int64_t d4[4] = {1, 1, 4, 4}, d5[4] = {1, 1, 5, 5}, k3[2] = {3, 3}, s2[2] = {2, 2};
    cs_tensor *a = h_f32(4, d4, x16), *b = h_f32(4, d5, x25);
    cs_attr at[3] = {h_attr_ints("kernel_shape", 2, k3), h_attr_ints("strides", 2, s2),
                     h_attr_int("ceil_mode", 1)};
    cs_tensor *in[1] = {a};
    /* test_averagepool_2d_ceil / test_maxpool_2d_ceil */
    h_result r = h_run(CS_OP_AVGPOOL, 11, at, 3, in, 1, 1, 1);
    assert_int_equal(r.status, CS_OK);
    const float want_avg[4] = {6.f, 7.5f, 12.f, 13.5f};
    assert_memory_equal(r.out[0].data, want_avg, sizeof want_avg);
    h_result_free(&r);
    r = h_run(CS_OP_MAXPOOL, 12, at, 3, in, 1, 1, 1);
    assert_int_equal(r.status, CS_OK);
    const float want_max[4] = {11.f, 12.f, 15.f, 16.f};
    assert_memory_equal(r.out[0].data, want_max, sizeof want_max);
    h_result_free(&r);
    /* test_averagepool_2d_precomputed_same_upper */
    at[2] = h_attr_string("auto_pad", "SAME_UPPER");
    in[0] = b;
    r = h_run(CS_OP_AVGPOOL, 11, at, 3, in, 1, 1, 1);
    assert_int_equal(r.status, CS_OK);
    const float want_same[9] = {4.f, 5.5f, 7.f, 11.5f, 13.f, 14.5f, 19.f, 20.5f, 22.f};
    assert_memory_equal(r.out[0].data, want_same, sizeof want_same);
    h_result_free(&r);
    cs_tensor_free(&a);
    cs_tensor_free(&b);
}

static void pool_refusals(void **state)
{
    int64_t d4[4] = {1, 3, 8, 8}, d3[3] = {1, 3, 8}, k2[2] = {2, 2}, k9[2] = {9, 9},
            p2[4] = {2, 2, 2, 2}, s3[3] = {1, 1, 1};
    cs_tensor *x = rand_f32(4, d4), *x3 = rand_f32(3, d3), *xi = h_i64(4, d4, NULL);
    cs_tensor *in[1] = {x};
    cs_attr k = h_attr_ints("kernel_shape", 2, k2);

    h_result r = h_run(CS_OP_MAXPOOL, 12, &k, 1, in, 1, 2, 1);
    expect_fail(&r, CS_ERR_UNSUPPORTED, "Indices");
    r = h_run(CS_OP_MAXPOOL, 12, NULL, 0, in, 1, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "kernel_shape");
    in[0] = x3;
    r = h_run(CS_OP_AVGPOOL, 11, &k, 1, in, 1, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "(1x3x8) must have rank 4");
    in[0] = xi;
    r = h_run(CS_OP_AVGPOOL, 11, &k, 1, in, 1, 1, 1);
    expect_fail(&r, CS_ERR_UNSUPPORTED, "float32");
    in[0] = x;
    cs_attr big = h_attr_ints("kernel_shape", 2, k9);
    r = h_run(CS_OP_MAXPOOL, 12, &big, 1, in, 1, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "larger than the padded input");
    cs_attr bad_pads[2] = {k, h_attr_ints("pads", 4, p2)};
    r = h_run(CS_OP_MAXPOOL, 12, bad_pads, 2, in, 1, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "pads must be smaller than the kernel");
    cs_attr bad_strides[2] = {k, h_attr_ints("strides", 3, s3)};
    r = h_run(CS_OP_AVGPOOL, 11, bad_strides, 2, in, 1, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "strides has 3 values, expected 2");
    cs_attr bad_ap[2] = {k, h_attr_string("auto_pad", "SAME")};
    r = h_run(CS_OP_AVGPOOL, 11, bad_ap, 2, in, 1, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "auto_pad");

    in[0] = x3;
    h_result g = h_run(CS_OP_GLOBAL_AVGPOOL, 1, NULL, 0, in, 1, 1, 1);
    assert_int_equal(g.status, CS_OK);
    h_result_free(&g);
    int64_t d2[2] = {3, 8};
    cs_tensor *x2 = rand_f32(2, d2);
    in[0] = x2;
    r = h_run(CS_OP_GLOBAL_MAXPOOL, 1, NULL, 0, in, 1, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "(3x8) must have rank >= 3");
    cs_tensor_free(&x);
    cs_tensor_free(&x3);
    cs_tensor_free(&xi);
    cs_tensor_free(&x2);
}

static void global_pools(void **state)
{
    const struct {
        int nd;
        int64_t d[5];
    } shapes[] = {{4, {2, 3, 5, 5}},
                  {3, {2, 3, 7}},
                  {5, {1, 4, 3, 4, 5}},
                  {4, {2, 64, 28, 28}},
                  {4, {1, 7, 1, 1}}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int op = 0; op < 2; op++)
            for (int th = 1; th <= 2; th++) {
                cs_tensor *x = rand_f32(shapes[s].nd, shapes[s].d);
                cs_tensor *in[1] = {x};
                h_result r = h_run(op ? CS_OP_GLOBAL_MAXPOOL : CS_OP_GLOBAL_AVGPOOL, 1, NULL, 0, in,
                                   1, 1, th);
                assert_int_equal(r.status, CS_OK);
                const cs_tensor *y = &r.out[0];
                assert_int_equal(y->ndim, shapes[s].nd);
                assert_int_equal(y->dims[0], shapes[s].d[0]);
                assert_int_equal(y->dims[1], shapes[s].d[1]);
                for (int i = 2; i < y->ndim; i++) assert_int_equal(y->dims[i], 1);
                int64_t planes = y->numel, size = x->numel / planes;
                for (int64_t p = 0; p < planes; p++) {
                    const float *xp = (const float *)x->data + p * size;
                    double m = -INFINITY, sum = 0;
                    for (int64_t i = 0; i < size; i++) {
                        m = xp[i] > m ? xp[i] : m;
                        sum += xp[i];
                    }
                    double want = op ? m : sum / (double)size;
                    double got = ((float *)y->data)[p];
                    if (fabs(got - want) > 1e-5)
                        fail_msg("plane %lld: got %g want %g", (long long)p, got, want);
                }
                h_result_free(&r);
                cs_tensor_free(&x);
            }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pools),
        cmocka_unit_test(pool_conformance_values),
        cmocka_unit_test(pool_refusals),
        cmocka_unit_test(global_pools),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
