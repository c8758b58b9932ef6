/* Shape ops and Pad: checked against naive references written here (index by index), over
 * random shapes, axes, opsets, negative values, float32 and int64. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "op_harness.h"

/* ---- helpers ------------------------------------------------------------------------ */

static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}
static int64_t rnd_in(int64_t lo, int64_t hi) /* inclusive */
{
    return lo + (int64_t)(rnd() % (uint32_t)(hi - lo + 1));
}

static int64_t numel_of(int ndim, const int64_t *d)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= d[i];
    return n;
}

/* A tensor with distinct values: floats i + 0.5, or ints i * 3 - 7. */
static cs_tensor *mk(cs_dtype t, int ndim, const int64_t *d)
{
    cs_tensor *x = t == CS_F32 ? h_f32(ndim, d, NULL) : h_i64(ndim, d, NULL);
    assert_non_null(x);
    for (int64_t i = 0; i < x->numel; i++) {
        if (t == CS_F32)
            ((float *)x->data)[i] = (float)i + 0.5f;
        else
            ((int64_t *)x->data)[i] = i * 3 - 7;
    }
    return x;
}

static cs_tensor *ints(int n, const int64_t *v)
{
    int64_t d = n;
    return h_i64(1, &d, v);
}

/* Element i of t as a double (both types). */
static double at(const cs_tensor *t, int64_t i)
{
    return t->type == CS_F32 ? ((const float *)t->data)[i] : (double)((const int64_t *)t->data)[i];
}

static void set_at(cs_tensor *t, int64_t i, double v)
{
    if (t->type == CS_F32)
        ((float *)t->data)[i] = (float)v;
    else
        ((int64_t *)t->data)[i] = (int64_t)v;
}

/* Output 0 must have shape (ndim, d), x's type and exactly ref's elements. */
static void expect_out(const h_result *r, const cs_tensor *ref)
{
    if (r->status != CS_OK) fail_msg("status %d: %s", (int)r->status, r->err.msg);
    const cs_tensor *y = &r->out[0];
    assert_int_equal(y->type, ref->type);
    assert_int_equal(y->ndim, ref->ndim);
    for (int i = 0; i < ref->ndim; i++)
        if (y->dims[i] != ref->dims[i])
            fail_msg("dim %d: got %lld, want %lld", i, (long long)y->dims[i],
                     (long long)ref->dims[i]);
    assert_int_equal(y->numel, ref->numel);
    for (int64_t i = 0; i < ref->numel; i++) {
        if (at(y, i) != at(ref, i))
            fail_msg("element %lld: got %g, want %g", (long long)i, at(y, i), at(ref, i));
    }
}

static void expect_fail(const h_result *r, cs_status st, const char *needle)
{
    if (r->status != st) fail_msg("status %d, want %d (%s)", (int)r->status, (int)st, r->err.msg);
    if (!strstr(r->err.msg, needle)) fail_msg("message '%s' lacks '%s'", r->err.msg, needle);
    assert_non_null(strstr(r->err.msg, "node 'test'"));
}

static void unravel(int64_t i, int ndim, const int64_t *d, int64_t *idx)
{
    for (int k = ndim - 1; k >= 0; k--) {
        idx[k] = d[k] ? i % d[k] : 0;
        i = d[k] ? i / d[k] : 0;
    }
}

static int64_t ravel(int ndim, const int64_t *d, const int64_t *idx)
{
    int64_t o = 0;
    for (int k = 0; k < ndim; k++) o = o * d[k] + idx[k];
    return o;
}

/* ---- Concat ------------------------------------------------------------------------- */

static void concat_random(void **state)
{
    (void)state;
    for (int iter = 0; iter < 200; iter++) {
        cs_dtype ty = iter & 1 ? CS_I64 : CS_F32;
        int r = (int)rnd_in(1, 5), ni = (int)rnd_in(1, 4);
        int axis = (int)rnd_in(0, r - 1);
        int64_t base[CS_MAX_DIMS], od[CS_MAX_DIMS];
        for (int i = 0; i < r; i++) base[i] = rnd_in(1, 4);
        cs_tensor *in[4];
        memcpy(od, base, sizeof od);
        od[axis] = 0;
        for (int k = 0; k < ni; k++) {
            int64_t d[CS_MAX_DIMS];
            memcpy(d, base, sizeof d);
            d[axis] = rnd_in(0, 3);
            od[axis] += d[axis];
            in[k] = mk(ty, r, d);
            for (int64_t i = 0; i < in[k]->numel; i++) set_at(in[k], i, at(in[k], i) + 1000 * k);
        }
        cs_tensor *ref = mk(ty, r, od);
        for (int64_t i = 0; i < ref->numel; i++) {
            int64_t idx[CS_MAX_DIMS];
            unravel(i, r, od, idx);
            int k = 0;
            while (idx[axis] >= in[k]->dims[axis]) idx[axis] -= in[k++]->dims[axis];
            set_at(ref, i, at(in[k], ravel(r, in[k]->dims, idx)));
        }
        int64_t ax = iter & 2 ? axis - r : axis;
        cs_attr a = h_attr_int("axis", ax);
        h_result res = h_run(CS_OP_CONCAT, 13, &a, 1, in, ni, 1, iter % 3 + 1);
        expect_out(&res, ref);
        h_result_free(&res);
        cs_tensor_free(&ref);
        for (int k = 0; k < ni; k++) cs_tensor_free(&in[k]);
    }
}

static void concat_large_threads(void **state)
{
    (void)state;
    int64_t d0[4] = {3, 40, 64, 30}, d1[4] = {3, 40, 64, 50}, od[4] = {3, 40, 64, 80};
    cs_tensor *in[2] = {mk(CS_F32, 4, d0), mk(CS_F32, 4, d1)};
    cs_tensor *ref = mk(CS_F32, 4, od);
    for (int64_t i = 0; i < ref->numel; i++) {
        int64_t row = i / 80, c = i % 80;
        set_at(ref, i, c < 30 ? at(in[0], row * 30 + c) : at(in[1], row * 50 + c - 30));
    }
    cs_attr a = h_attr_int("axis", -1);
    h_result res = h_run(CS_OP_CONCAT, 11, &a, 1, in, 2, 1, 4);
    expect_out(&res, ref);
    h_result_free(&res);
    cs_tensor_free(&ref);
    cs_tensor_free(&in[0]);
    cs_tensor_free(&in[1]);
}

static void concat_refusals(void **state)
{
    (void)state;
    int64_t d0[2] = {2, 3}, d1[2] = {3, 3}, d2[3] = {2, 3, 1};
    cs_tensor *a = mk(CS_F32, 2, d0), *b = mk(CS_F32, 2, d1), *c = mk(CS_F32, 3, d2),
              *e = mk(CS_I64, 2, d0);
    cs_attr ax1 = h_attr_int("axis", 1), ax5 = h_attr_int("axis", 5);
    cs_tensor *in[2] = {a, b};
    h_result r = h_run(CS_OP_CONCAT, 13, &ax1, 1, in, 2, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "input 1 has shape 3x3, incompatible with input 0 shape 2x3");
    in[1] = c;
    r = h_run(CS_OP_CONCAT, 13, &ax1, 1, in, 2, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "incompatible");
    in[1] = e;
    r = h_run(CS_OP_CONCAT, 13, &ax1, 1, in, 2, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "element type");
    r = h_run(CS_OP_CONCAT, 13, &ax5, 1, in, 1, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "axis 5 out of range for input shape 2x3");
    r = h_run(CS_OP_CONCAT, 13, NULL, 0, in, 1, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "missing attribute 'axis'");
    /* opset 1 defaulted the axis to 1 */
    in[1] = a;
    r = h_run(CS_OP_CONCAT, 1, NULL, 0, in, 2, 1, 1);
    assert_int_equal(r.status, CS_OK);
    assert_int_equal(r.out[0].dims[1], 6);
    h_result_free(&r);
    cs_tensor_free(&a);
    cs_tensor_free(&b);
    cs_tensor_free(&c);
    cs_tensor_free(&e);
}

/* ---- Flatten, Reshape, Squeeze, Unsqueeze ------------------------------------------- */

static void flatten_axes(void **state)
{
    (void)state;
    int64_t d[4] = {2, 3, 4, 5};
    cs_tensor *x = mk(CS_F32, 4, d);
    for (int axis = -4; axis <= 4; axis++) {
        cs_attr a = h_attr_int("axis", axis);
        int ax = axis < 0 ? axis + 4 : axis;
        int64_t od[2] = {numel_of(ax, d), numel_of(4 - ax, d + ax)};
        cs_tensor *ref = mk(CS_F32, 2, od);
        h_result r = h_run(CS_OP_FLATTEN, 13, &a, 1, &x, 1, 1, 1);
        expect_out(&r, ref);
        h_result_free(&r);
        cs_tensor_free(&ref);
        if (axis < 0) {
            r = h_run(CS_OP_FLATTEN, 9, &a, 1, &x, 1, 1, 1);
            expect_fail(&r, CS_ERR_INVALID, "out of range for input shape 2x3x4x5");
        }
    }
    cs_attr a5 = h_attr_int("axis", 5);
    h_result r = h_run(CS_OP_FLATTEN, 13, &a5, 1, &x, 1, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "axis 5 out of range");
    /* default axis 1, int64 */
    cs_tensor *xi = mk(CS_I64, 4, d);
    int64_t od[2] = {2, 60};
    cs_tensor *ref = mk(CS_I64, 2, od);
    r = h_run(CS_OP_FLATTEN, 13, NULL, 0, &xi, 1, 1, 1);
    expect_out(&r, ref);
    h_result_free(&r);
    assert_true(cs_op_defs[CS_OP_FLATTEN]->flags & CS_OPF_ALIAS);
    cs_tensor_free(&ref);
    cs_tensor_free(&xi);
    cs_tensor_free(&x);
}

static void reshape_case(int opset, int allowzero, int ndim, const int64_t *d, int k,
                         const int64_t *shape, int on, const int64_t *od)
{
    cs_tensor *x = mk(CS_I64, ndim, d), *s = ints(k, shape);
    cs_tensor *in[2] = {x, s};
    cs_attr a = h_attr_int("allowzero", allowzero);
    h_result r = h_run(CS_OP_RESHAPE, opset, &a, 1, in, 2, 1, 1);
    cs_tensor *ref = mk(CS_I64, on, od);
    expect_out(&r, ref);
    h_result_free(&r);
    cs_tensor_free(&ref);
    cs_tensor_free(&x);
    cs_tensor_free(&s);
}

static void reshape_cases(void **state)
{
    (void)state;
    int64_t d[3] = {2, 3, 4};
    reshape_case(13, 0, 3, d, 4, (int64_t[]){2, 0, 1, -1}, 4, (int64_t[]){2, 3, 1, 4});
    reshape_case(13, 0, 3, d, 4, (int64_t[]){-1, 2, 3, 4}, 4, (int64_t[]){1, 2, 3, 4});
    reshape_case(13, 0, 3, d, 3, (int64_t[]){2, -1, 2}, 3, (int64_t[]){2, 6, 2});
    reshape_case(13, 0, 3, d, 1, (int64_t[]){24}, 1, (int64_t[]){24});
    reshape_case(13, 0, 3, d, 1, (int64_t[]){-1}, 1, (int64_t[]){24});
    reshape_case(14, 1, 3, (int64_t[]){0, 3, 4}, 3, (int64_t[]){3, 4, 0}, 3, (int64_t[]){3, 4, 0});
    reshape_case(14, 0, 3, (int64_t[]){0, 3, 4}, 3, (int64_t[]){0, 4, 3}, 3, (int64_t[]){0, 4, 3});
    reshape_case(13, 0, 1, (int64_t[]){1}, 0, NULL, 0, NULL); /* to a scalar */
    /* allowzero is ignored before opset 14: 0 copies */
    reshape_case(13, 1, 3, d, 3, (int64_t[]){0, 0, 4}, 3, (int64_t[]){2, 3, 4});

    /* opset 1: the shape attribute */
    cs_tensor *x = mk(CS_F32, 3, d);
    int64_t sv[2] = {6, -1};
    cs_attr a = h_attr_ints("shape", 2, sv);
    h_result r = h_run(CS_OP_RESHAPE, 1, &a, 1, &x, 1, 1, 1);
    cs_tensor *ref = mk(CS_F32, 2, (int64_t[]){6, 4});
    expect_out(&r, ref);
    h_result_free(&r);
    cs_tensor_free(&ref);
    r = h_run(CS_OP_RESHAPE, 1, NULL, 0, &x, 1, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "missing attribute 'shape'");

    struct {
        int k;
        int64_t s[4];
        int allowzero;
        const char *msg;
    } bad[] = {
        {2, {-1, -1}, 0, "more than one -1"},
        {2, {5, 5}, 0, "cannot reshape input shape 2x3x4 (24 elements) to [5, 5]"},
        {2, {-1, 5}, 0, "-1 cannot be inferred"},
        {2, {2, -3}, 0, "invalid dimension -3"},
        {4, {1, 1, 1, 0}, 0, "copies a dimension"},
        {3, {0, -1, 4}, 1, "both -1 and 0"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cs_tensor *s = ints(bad[i].k, bad[i].s);
        cs_tensor *in[2] = {x, s};
        cs_attr az = h_attr_int("allowzero", bad[i].allowzero);
        r = h_run(CS_OP_RESHAPE, 14, &az, 1, in, 2, 1, 1);
        expect_fail(&r, CS_ERR_INVALID, bad[i].msg);
        cs_tensor_free(&s);
    }
    /* a shape computed at run time is refused */
    cs_tensor *s = ints(1, (int64_t[]){24});
    void *keep = s->data;
    s->data = NULL;
    cs_tensor *in[2] = {x, s};
    r = h_run(CS_OP_RESHAPE, 13, NULL, 0, in, 2, 1, 1);
    expect_fail(&r, CS_ERR_UNSUPPORTED, "shape must be constant (computed at load time)");
    s->data = keep;
    cs_tensor_free(&s);
    cs_tensor_free(&x);
}

static void squeeze_unsqueeze(void **state)
{
    (void)state;
    int64_t d[4] = {1, 3, 1, 5};
    cs_tensor *x = mk(CS_F32, 4, d);
    struct {
        int k;
        int64_t axes[3];
        int on;
        int64_t od[4];
    } sq[] = {
        {-1, {0}, 2, {3, 5}},   {1, {0}, 3, {3, 1, 5}}, {1, {-2}, 3, {1, 3, 5}},
        {2, {2, 0}, 2, {3, 5}}, {0, {0}, 2, {3, 5}},
    };
    for (size_t i = 0; i < sizeof sq / sizeof sq[0]; i++) {
        cs_tensor *ref = mk(CS_F32, sq[i].on, sq[i].od);
        /* opset 11: attribute */
        cs_attr a = h_attr_ints("axes", sq[i].k, sq[i].axes);
        h_result r = h_run(CS_OP_SQUEEZE, 11, &a, sq[i].k >= 0, &x, 1, 1, 1);
        expect_out(&r, ref);
        h_result_free(&r);
        /* opset 13: input */
        cs_tensor *ax = sq[i].k >= 0 ? ints(sq[i].k, sq[i].axes) : NULL;
        cs_tensor *in[2] = {x, ax};
        r = h_run(CS_OP_SQUEEZE, 13, NULL, 0, in, 2, 1, 1);
        expect_out(&r, ref);
        h_result_free(&r);
        cs_tensor_free(&ax);
        cs_tensor_free(&ref);
    }
    cs_attr bad = h_attr_ints("axes", 1, (int64_t[]){1});
    h_result r = h_run(CS_OP_SQUEEZE, 11, &bad, 1, &x, 1, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "cannot squeeze axis 1 of size 3 (input shape 1x3x1x5)");
    cs_attr dup = h_attr_ints("axes", 2, (int64_t[]){0, -4});
    r = h_run(CS_OP_SQUEEZE, 11, &dup, 1, &x, 1, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "repeat axis 0");
    cs_attr oor = h_attr_ints("axes", 1, (int64_t[]){4});
    r = h_run(CS_OP_SQUEEZE, 11, &oor, 1, &x, 1, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "4 out of range for rank 4");

    int64_t d3[3] = {3, 4, 5};
    cs_tensor *y = mk(CS_I64, 3, d3);
    struct {
        int k;
        int64_t axes[3];
        int on;
        int64_t od[6];
    } us[] = {
        {1, {0}, 4, {1, 3, 4, 5}},
        {1, {3}, 4, {3, 4, 5, 1}},
        {1, {-2}, 4, {3, 4, 1, 5}},
        {2, {1, 4}, 5, {3, 1, 4, 5, 1}},
        {3, {5, 4, 2}, 6, {3, 4, 1, 5, 1, 1}},
        {3, {0, 4, 2}, 6, {1, 3, 1, 4, 1, 5}},
    };
    for (size_t i = 0; i < sizeof us / sizeof us[0]; i++) {
        cs_tensor *ref = mk(CS_I64, us[i].on, us[i].od);
        cs_attr a = h_attr_ints("axes", us[i].k, us[i].axes);
        r = h_run(CS_OP_UNSQUEEZE, 11, &a, 1, &y, 1, 1, 1);
        expect_out(&r, ref);
        h_result_free(&r);
        cs_tensor *ax = ints(us[i].k, us[i].axes);
        cs_tensor *in[2] = {y, ax};
        r = h_run(CS_OP_UNSQUEEZE, 13, NULL, 0, in, 2, 1, 1);
        expect_out(&r, ref);
        h_result_free(&r);
        cs_tensor_free(&ax);
        cs_tensor_free(&ref);
    }
    r = h_run(CS_OP_UNSQUEEZE, 11, NULL, 0, &y, 1, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "missing axes");
    cs_attr many = h_attr_ints("axes", 4, (int64_t[]){0, 1, 2, 3});
    r = h_run(CS_OP_UNSQUEEZE, 11, &many, 1, &y, 1, 1, 1);
    expect_fail(&r, CS_ERR_UNSUPPORTED, "output rank 7");
    cs_attr dup2 = h_attr_ints("axes", 2, (int64_t[]){1, -4});
    r = h_run(CS_OP_UNSQUEEZE, 11, &dup2, 1, &y, 1, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "repeat axis 1");
    /* axes computed at run time */
    cs_tensor *ax = ints(1, (int64_t[]){0});
    void *keep = ax->data;
    ax->data = NULL;
    cs_tensor *in[2] = {y, ax};
    r = h_run(CS_OP_UNSQUEEZE, 13, NULL, 0, in, 2, 1, 1);
    expect_fail(&r, CS_ERR_UNSUPPORTED, "axes must be constant");
    r = h_run(CS_OP_SQUEEZE, 13, NULL, 0, in, 2, 1, 1);
    expect_fail(&r, CS_ERR_UNSUPPORTED, "axes must be constant");
    ax->data = keep;
    cs_tensor_free(&ax);
    cs_tensor_free(&y);
    cs_tensor_free(&x);
}

/* ---- Transpose ---------------------------------------------------------------------- */

static void ref_transpose(const cs_tensor *x, const int64_t *perm, cs_tensor *y)
{
    for (int64_t i = 0; i < y->numel; i++) {
        int64_t oi[CS_MAX_DIMS], ii[CS_MAX_DIMS];
        unravel(i, y->ndim, y->dims, oi);
        for (int k = 0; k < x->ndim; k++) ii[perm[k]] = oi[k];
        set_at(y, i, at(x, ravel(x->ndim, x->dims, ii)));
    }
}

static int next_perm(int64_t *p, int n)
{
    int i = n - 2;
    while (i >= 0 && p[i] > p[i + 1]) i--;
    if (i < 0) return 0;
    int j = n - 1;
    while (p[j] < p[i]) j--;
    int64_t t = p[i];
    p[i] = p[j];
    p[j] = t;
    for (int a = i + 1, b = n - 1; a < b; a++, b--) {
        t = p[a];
        p[a] = p[b];
        p[b] = t;
    }
    return 1;
}

static void transpose_check(cs_dtype ty, int r, const int64_t *d, const int64_t *perm, int threads)
{
    cs_tensor *x = mk(ty, r, d);
    int64_t od[CS_MAX_DIMS];
    for (int k = 0; k < r; k++) od[k] = d[perm[k]];
    cs_tensor *ref = mk(ty, r, od);
    ref_transpose(x, perm, ref);
    cs_attr a = h_attr_ints("perm", r, perm);
    h_result res = h_run(CS_OP_TRANSPOSE, 13, &a, 1, &x, 1, 1, threads);
    expect_out(&res, ref);
    h_result_free(&res);
    cs_tensor_free(&ref);
    cs_tensor_free(&x);
}

static void transpose_all_perms(void **state)
{
    (void)state;
    for (int r = 1; r <= 5; r++) {
        for (int iter = 0; iter < 3; iter++) {
            int64_t d[CS_MAX_DIMS], perm[CS_MAX_DIMS];
            for (int k = 0; k < r; k++) {
                /* mix of size 1, small and tile-sized dims */
                int64_t choices[] = {1, 2, 3, 9, 33};
                d[k] = choices[rnd() % (r <= 3 ? 5 : r == 4 ? 4 : 3)];
                perm[k] = k;
            }
            do {
                transpose_check(iter & 1 ? CS_I64 : CS_F32, r, d, perm, 1);
            } while (next_perm(perm, r));
        }
    }
    /* 6-D, PixelShuffle */
    transpose_check(CS_F32, 6, (int64_t[]){1, 1, 3, 3, 4, 4}, (int64_t[]){0, 1, 4, 2, 5, 3}, 1);
    transpose_check(CS_F32, 6, (int64_t[]){2, 3, 2, 5, 4, 3}, (int64_t[]){5, 4, 3, 2, 1, 0}, 2);
}

static void transpose_large_threads(void **state)
{
    (void)state;
    /* NCHW <-> NHWC and a channel shuffle, big enough to split across threads */
    transpose_check(CS_F32, 4, (int64_t[]){2, 67, 45, 41}, (int64_t[]){0, 2, 3, 1}, 4);
    transpose_check(CS_F32, 4, (int64_t[]){2, 45, 41, 67}, (int64_t[]){0, 3, 1, 2}, 4);
    transpose_check(CS_I64, 5, (int64_t[]){1, 4, 29, 33, 35}, (int64_t[]){0, 2, 1, 3, 4}, 3);
    transpose_check(CS_F32, 2, (int64_t[]){513, 257}, (int64_t[]){1, 0}, 4);
}

static void transpose_default_and_refusals(void **state)
{
    (void)state;
    int64_t d[3] = {2, 3, 4};
    cs_tensor *x = mk(CS_F32, 3, d);
    cs_tensor *ref = mk(CS_F32, 3, (int64_t[]){4, 3, 2});
    ref_transpose(x, (int64_t[]){2, 1, 0}, ref);
    h_result r = h_run(CS_OP_TRANSPOSE, 13, NULL, 0, &x, 1, 1, 1);
    expect_out(&r, ref);
    h_result_free(&r);
    cs_attr p2 = h_attr_ints("perm", 2, (int64_t[]){1, 0});
    r = h_run(CS_OP_TRANSPOSE, 13, &p2, 1, &x, 1, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "perm [1, 0] has 2 values, input shape 2x3x4");
    cs_attr p3 = h_attr_ints("perm", 3, (int64_t[]){0, 0, 1});
    r = h_run(CS_OP_TRANSPOSE, 13, &p3, 1, &x, 1, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "is not a permutation");
    cs_tensor_free(&ref);
    cs_tensor_free(&x);
}

/* ---- Shape -------------------------------------------------------------------------- */

static void shape_ranges(void **state)
{
    (void)state;
    int64_t d[3] = {3, 4, 5};
    cs_tensor *x = mk(CS_F32, 3, d);
    /* Shape reads only dims: its input's data may not exist at plan time. */
    void *keep = x->data;
    x->data = NULL;
    struct {
        int has_s, has_e;
        int64_t s, e;
        int n;
        int64_t v[3];
    } c[] = {
        {0, 0, 0, 0, 3, {3, 4, 5}}, {0, 1, 0, 10, 3, {3, 4, 5}}, {1, 0, -10, 0, 3, {3, 4, 5}},
        {0, 1, 0, 1, 1, {3}},       {0, 1, 0, -1, 2, {3, 4}},    {1, 0, 1, 0, 2, {4, 5}},
        {1, 1, 1, 2, 1, {4}},       {1, 1, 1, -1, 1, {4}},       {1, 0, -1, 0, 1, {5}},
        {1, 1, 2, 1, 0, {0}},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        cs_attr a[2];
        int na = 0;
        if (c[i].has_s) a[na++] = h_attr_int("start", c[i].s);
        if (c[i].has_e) a[na++] = h_attr_int("end", c[i].e);
        h_result r = h_run(CS_OP_SHAPE, 15, a, na, &x, 1, 1, 1);
        cs_tensor *ref = ints(c[i].n, c[i].v);
        expect_out(&r, ref);
        h_result_free(&r);
        cs_tensor_free(&ref);
    }
    x->data = keep;
    assert_true(cs_op_defs[CS_OP_SHAPE]->flags & CS_OPF_SHAPE_ONLY);
    /* a scalar has an empty shape */
    cs_tensor *s = mk(CS_I64, 0, NULL);
    h_result r = h_run(CS_OP_SHAPE, 13, NULL, 0, &s, 1, 1, 1);
    assert_int_equal(r.status, CS_OK);
    assert_int_equal(r.out[0].ndim, 1);
    assert_int_equal(r.out[0].dims[0], 0);
    h_result_free(&r);
    cs_tensor_free(&s);
    cs_tensor_free(&x);
}

/* ---- Gather ------------------------------------------------------------------------- */

static void gather_random(void **state)
{
    (void)state;
    for (int iter = 0; iter < 150; iter++) {
        cs_dtype ty = iter & 1 ? CS_I64 : CS_F32;
        int r = (int)rnd_in(1, 4), axis = (int)rnd_in(0, r - 1);
        int ir = (int)rnd_in(0, CS_MAX_DIMS - r + 1 > 2 ? 2 : CS_MAX_DIMS - r + 1);
        int64_t d[CS_MAX_DIMS], id[CS_MAX_DIMS], od[CS_MAX_DIMS];
        for (int k = 0; k < r; k++) d[k] = rnd_in(1, 5);
        for (int k = 0; k < ir; k++) id[k] = rnd_in(0, 3);
        cs_tensor *x = mk(ty, r, d), *ind = h_i64(ir, id, NULL);
        int64_t *iv = ind->data;
        for (int64_t i = 0; i < ind->numel; i++) iv[i] = rnd_in(-d[axis], d[axis] - 1);
        int on = 0;
        for (int k = 0; k < axis; k++) od[on++] = d[k];
        for (int k = 0; k < ir; k++) od[on++] = id[k];
        for (int k = axis + 1; k < r; k++) od[on++] = d[k];
        cs_tensor *ref = mk(ty, on, od);
        for (int64_t i = 0; i < ref->numel; i++) {
            int64_t oi[CS_MAX_DIMS], xi[CS_MAX_DIMS], ii[CS_MAX_DIMS];
            unravel(i, on, od, oi);
            for (int k = 0; k < axis; k++) xi[k] = oi[k];
            for (int k = 0; k < ir; k++) ii[k] = oi[axis + k];
            int64_t v = iv[ravel(ir, id, ii)];
            xi[axis] = v < 0 ? v + d[axis] : v;
            for (int k = axis + 1; k < r; k++) xi[k] = oi[k - 1 + ir];
            set_at(ref, i, at(x, ravel(r, d, xi)));
        }
        cs_attr a = h_attr_int("axis", iter & 2 ? axis - r : axis);
        cs_tensor *in[2] = {x, ind};
        h_result res = h_run(CS_OP_GATHER, 13, &a, 1, in, 2, 1, iter % 2 + 1);
        expect_out(&res, ref);
        h_result_free(&res);
        cs_tensor_free(&ref);
        cs_tensor_free(&ind);
        cs_tensor_free(&x);
    }
}

static void gather_cases(void **state)
{
    (void)state;
    /* test_gather_negative_indices */
    int64_t d = 10;
    cs_tensor *x = mk(CS_F32, 1, &d), *ind = ints(3, (int64_t[]){0, -9, -10});
    cs_tensor *in[2] = {x, ind};
    h_result r = h_run(CS_OP_GATHER, 13, NULL, 0, in, 2, 1, 1);
    assert_int_equal(r.status, CS_OK);
    const float *y = r.out[0].data;
    assert_true(y[0] == 0.5f && y[1] == 1.5f && y[2] == 0.5f);
    h_result_free(&r);
    /* a scalar index drops the axis (shape computations: Shape -> Gather) */
    int64_t one = 2;
    cs_tensor *sc = h_i64(0, NULL, &one);
    in[1] = sc;
    r = h_run(CS_OP_GATHER, 13, NULL, 0, in, 2, 1, 1);
    assert_int_equal(r.status, CS_OK);
    assert_int_equal(r.out[0].ndim, 0);
    assert_true(((float *)r.out[0].data)[0] == 2.5f);
    h_result_free(&r);
    cs_tensor *bad = ints(2, (int64_t[]){3, 10});
    in[1] = bad;
    r = h_run(CS_OP_GATHER, 13, NULL, 0, in, 2, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "index 10 out of range for axis 0 of data shape 10");
    cs_attr a1 = h_attr_int("axis", 1);
    r = h_run(CS_OP_GATHER, 13, &a1, 1, in, 2, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "axis 1 out of range for data shape 10");
    cs_tensor_free(&bad);
    cs_tensor_free(&sc);
    cs_tensor_free(&ind);
    cs_tensor_free(&x);
}

/* ---- Slice -------------------------------------------------------------------------- */

/* Reference clamping written from the spec's description, independently of the op. */
static void ref_slice_axis(int64_t dim, int64_t s, int64_t e, int64_t step, int64_t *start,
                           int64_t *count)
{
    int64_t n = 0, first = 0;
    if (s < 0) s = s + dim;
    if (e < 0) e = e + dim;
    /* the spec clamps starts to [0, dim] (positive steps) or [0, dim - 1] (negative) */
    if (step > 0) {
        if (s < 0) s = 0;
        if (e > dim) e = dim;
        for (int64_t i = s; i < e; i += step) {
            if (!n) first = i;
            n++;
        }
    } else {
        if (s > dim - 1) s = dim - 1;
        if (s < 0) s = 0;
        if (e < -1) e = -1;
        for (int64_t i = s; i > e; i += step) {
            if (!n) first = i;
            n++;
        }
    }
    *start = first;
    *count = n;
}

static void slice_random(void **state)
{
    (void)state;
    const int64_t specials[] = {INT64_MAX, INT64_MIN, 1000, -1000};
    for (int iter = 0; iter < 300; iter++) {
        cs_dtype ty = iter & 1 ? CS_I64 : CS_F32;
        int r = (int)rnd_in(1, 4);
        int64_t d[CS_MAX_DIMS];
        for (int k = 0; k < r; k++) d[k] = rnd_in(1, 7);
        cs_tensor *x = mk(ty, r, d);
        int na = (int)rnd_in(1, r), use_axes = iter % 3 != 0 || na < r, use_steps = iter % 4 != 0;
        if (!use_axes) na = r;
        int64_t axes[CS_MAX_DIMS], starts[CS_MAX_DIMS], ends[CS_MAX_DIMS], steps[CS_MAX_DIMS];
        int64_t perm[CS_MAX_DIMS];
        for (int k = 0; k < r; k++) perm[k] = k;
        for (int k = r - 1; k > 0; k--) {
            int j = (int)rnd_in(0, k);
            int64_t t = perm[k];
            perm[k] = perm[j];
            perm[j] = t;
        }
        int64_t st[CS_MAX_DIMS], cnt[CS_MAX_DIMS], step_of[CS_MAX_DIMS];
        for (int k = 0; k < r; k++) {
            st[k] = 0;
            cnt[k] = d[k];
            step_of[k] = 1;
        }
        for (int i = 0; i < na; i++) {
            int a = use_axes ? (int)perm[i] : i;
            axes[i] = rnd() & 1 ? a - r : a;
            steps[i] = use_steps ? rnd_in(-3, 3) : 1;
            if (steps[i] == 0) steps[i] = 2;
            starts[i] = rnd() % 6 ? rnd_in(-d[a] - 2, d[a] + 2) : specials[rnd() % 4];
            ends[i] = rnd() % 6 ? rnd_in(-d[a] - 2, d[a] + 2) : specials[rnd() % 4];
            ref_slice_axis(d[a], starts[i], ends[i], steps[i], &st[a], &cnt[a]);
            step_of[a] = steps[i];
        }
        cs_tensor *ref = mk(ty, r, cnt);
        for (int64_t i = 0; i < ref->numel; i++) {
            int64_t oi[CS_MAX_DIMS];
            unravel(i, r, cnt, oi);
            for (int k = 0; k < r; k++) oi[k] = st[k] + oi[k] * step_of[k];
            set_at(ref, i, at(x, ravel(r, d, oi)));
        }
        cs_tensor *ts = ints(na, starts), *te = ints(na, ends), *ta = ints(na, axes),
                  *tp = ints(na, steps);
        cs_tensor *in[5] = {x, ts, te, use_axes ? ta : NULL, use_steps ? tp : NULL};
        h_result res = h_run(CS_OP_SLICE, 13, NULL, 0, in, 5, 1, iter % 2 + 1);
        expect_out(&res, ref);
        h_result_free(&res);
        if (!use_steps) { /* the same through opset-1 attributes */
            cs_attr a[3] = {h_attr_ints("starts", na, starts), h_attr_ints("ends", na, ends),
                            h_attr_ints("axes", na, axes)};
            res = h_run(CS_OP_SLICE, 9, a, use_axes ? 3 : 2, &x, 1, 1, 1);
            expect_out(&res, ref);
            h_result_free(&res);
        }
        cs_tensor_free(&ts);
        cs_tensor_free(&te);
        cs_tensor_free(&ta);
        cs_tensor_free(&tp);
        cs_tensor_free(&ref);
        cs_tensor_free(&x);
    }
}

static void slice_cases(void **state)
{
    (void)state;
    int64_t d[3] = {20, 10, 5};
    cs_tensor *x = mk(CS_F32, 3, d);
    /* test_slice_neg_steps: starts [20,10,4] ends [0,0,1] axes [0,1,2] steps [-1,-3,-2] */
    cs_tensor *s = ints(3, (int64_t[]){20, 10, 4}), *e = ints(3, (int64_t[]){0, 0, 1}),
              *a = ints(3, (int64_t[]){0, 1, 2}), *p = ints(3, (int64_t[]){-1, -3, -2});
    cs_tensor *in[5] = {x, s, e, a, p};
    h_result r = h_run(CS_OP_SLICE, 13, NULL, 0, in, 5, 1, 1);
    assert_int_equal(r.status, CS_OK);
    assert_int_equal(r.out[0].dims[0], 19);
    assert_int_equal(r.out[0].dims[1], 3);
    assert_int_equal(r.out[0].dims[2], 2);
    /* first element: x[19][9][4] */
    assert_true(((float *)r.out[0].data)[0] == (float)(19 * 50 + 9 * 5 + 4) + 0.5f);
    h_result_free(&r);
    cs_tensor *z = ints(3, (int64_t[]){1, 0, 1});
    in[4] = z;
    r = h_run(CS_OP_SLICE, 13, NULL, 0, in, 5, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "step 0 on axis 1");
    cs_tensor *two = ints(2, (int64_t[]){1, 1});
    in[4] = two;
    r = h_run(CS_OP_SLICE, 13, NULL, 0, in, 5, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "differ in length");
    in[4] = NULL;
    cs_tensor *rep = ints(3, (int64_t[]){0, 1, -3});
    in[3] = rep;
    r = h_run(CS_OP_SLICE, 13, NULL, 0, in, 5, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "axis -3 out of range or repeated");
    in[3] = a;
    void *keep = e->data;
    e->data = NULL;
    r = h_run(CS_OP_SLICE, 13, NULL, 0, in, 5, 1, 1);
    expect_fail(&r, CS_ERR_UNSUPPORTED, "ends must be constant (computed at load time)");
    e->data = keep;
    cs_tensor_free(&rep);
    cs_tensor_free(&two);
    cs_tensor_free(&z);
    cs_tensor_free(&s);
    cs_tensor_free(&e);
    cs_tensor_free(&a);
    cs_tensor_free(&p);
    cs_tensor_free(&x);
}

/* ---- Constant, ConstantOfShape ------------------------------------------------------ */

static void constant_values(void **state)
{
    (void)state;
    int64_t d[2] = {2, 3};
    cs_tensor *v = mk(CS_F32, 2, d);
    cs_attr a = {.name = "value", .type = CS_ATTR_TENSOR, .t = v};
    h_result r = h_run(CS_OP_CONSTANT, 13, &a, 1, NULL, 0, 1, 1);
    expect_out(&r, v);
    h_result_free(&r);

    cs_attr f = h_attr_float("value_float", 2.5f);
    r = h_run(CS_OP_CONSTANT, 13, &f, 1, NULL, 0, 1, 1);
    assert_int_equal(r.status, CS_OK);
    assert_int_equal(r.out[0].ndim, 0);
    assert_int_equal(r.out[0].type, CS_F32);
    assert_true(((float *)r.out[0].data)[0] == 2.5f);
    h_result_free(&r);

    cs_attr i = h_attr_int("value_int", -4);
    r = h_run(CS_OP_CONSTANT, 13, &i, 1, NULL, 0, 1, 1);
    assert_int_equal(r.status, CS_OK);
    assert_int_equal(r.out[0].type, CS_I64);
    assert_int_equal(((int64_t *)r.out[0].data)[0], -4);
    h_result_free(&r);

    float fv[3] = {1, -2, 3};
    cs_attr fs = h_attr_floats("value_floats", 3, fv);
    r = h_run(CS_OP_CONSTANT, 13, &fs, 1, NULL, 0, 1, 1);
    cs_tensor *ref = h_f32(1, (int64_t[]){3}, fv);
    expect_out(&r, ref);
    h_result_free(&r);
    cs_tensor_free(&ref);

    int64_t iv[4] = {1, 0, -1, 7};
    cs_attr is = h_attr_ints("value_ints", 4, iv);
    r = h_run(CS_OP_CONSTANT, 13, &is, 1, NULL, 0, 1, 1);
    ref = ints(4, iv);
    expect_out(&r, ref);
    h_result_free(&r);
    cs_tensor_free(&ref);

    cs_attr sp = {.name = "sparse_value", .type = CS_ATTR_OTHER};
    r = h_run(CS_OP_CONSTANT, 13, &sp, 1, NULL, 0, 1, 1);
    expect_fail(&r, CS_ERR_UNSUPPORTED, "'sparse_value' is not supported");
    cs_attr ss = h_attr_string("value_string", "x");
    r = h_run(CS_OP_CONSTANT, 13, &ss, 1, NULL, 0, 1, 1);
    expect_fail(&r, CS_ERR_UNSUPPORTED, "'value_string' is not supported");
    r = h_run(CS_OP_CONSTANT, 13, NULL, 0, NULL, 0, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "no value attribute");
    cs_tensor_free(&v);
}

static void constant_of_shape(void **state)
{
    (void)state;
    cs_tensor *s = ints(3, (int64_t[]){4, 3, 2});
    h_result r = h_run(CS_OP_CONSTANT_OF_SHAPE, 9, NULL, 0, &s, 1, 1, 1);
    assert_int_equal(r.status, CS_OK);
    assert_int_equal(r.out[0].type, CS_F32);
    assert_int_equal(r.out[0].numel, 24);
    for (int i = 0; i < 24; i++) assert_true(((float *)r.out[0].data)[i] == 0.f);
    h_result_free(&r);

    cs_tensor *one = h_f32(1, (int64_t[]){1}, (float[]){1.5f});
    cs_attr a = {.name = "value", .type = CS_ATTR_TENSOR, .t = one};
    r = h_run(CS_OP_CONSTANT_OF_SHAPE, 9, &a, 1, &s, 1, 1, 1);
    assert_int_equal(r.status, CS_OK);
    for (int i = 0; i < 24; i++) assert_true(((float *)r.out[0].data)[i] == 1.5f);
    h_result_free(&r);

    cs_tensor *seven = ints(1, (int64_t[]){7});
    cs_attr b = {.name = "value", .type = CS_ATTR_TENSOR, .t = seven};
    cs_tensor *e = ints(0, NULL);
    r = h_run(CS_OP_CONSTANT_OF_SHAPE, 9, &b, 1, &e, 1, 1, 1);
    assert_int_equal(r.status, CS_OK); /* empty shape: a scalar */
    assert_int_equal(r.out[0].ndim, 0);
    assert_int_equal(r.out[0].type, CS_I64);
    assert_int_equal(((int64_t *)r.out[0].data)[0], 7);
    h_result_free(&r);
    cs_tensor *z = ints(1, (int64_t[]){0});
    r = h_run(CS_OP_CONSTANT_OF_SHAPE, 9, &b, 1, &z, 1, 1, 1);
    assert_int_equal(r.status, CS_OK);
    assert_int_equal(r.out[0].numel, 0);
    h_result_free(&r);

    cs_tensor *neg = ints(2, (int64_t[]){2, -1});
    r = h_run(CS_OP_CONSTANT_OF_SHAPE, 9, NULL, 0, &neg, 1, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "negative dimension in shape [2, -1]");
    cs_tensor *two = h_f32(1, (int64_t[]){2}, (float[]){1, 2});
    cs_attr c = {.name = "value", .type = CS_ATTR_TENSOR, .t = two};
    r = h_run(CS_OP_CONSTANT_OF_SHAPE, 9, &c, 1, &s, 1, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "one-element tensor");
    void *keep = s->data;
    s->data = NULL;
    r = h_run(CS_OP_CONSTANT_OF_SHAPE, 9, NULL, 0, &s, 1, 1, 1);
    expect_fail(&r, CS_ERR_UNSUPPORTED, "must be constant (computed at load time)");
    s->data = keep;
    cs_tensor_free(&two);
    cs_tensor_free(&neg);
    cs_tensor_free(&z);
    cs_tensor_free(&e);
    cs_tensor_free(&seven);
    cs_tensor_free(&one);
    cs_tensor_free(&s);
}

/* ---- Pad ---------------------------------------------------------------------------- */

/* numpy.pad semantics, by repeated reflection rather than a period. */
static int64_t ref_pad_index(const char *mode, int64_t j, int64_t len)
{
    if (j >= 0 && j < len) return j;
    if (strcmp(mode, "constant") == 0) return -1;
    if (strcmp(mode, "edge") == 0) return j < 0 ? 0 : len - 1;
    if (len == 1) return 0;
    while (j < 0 || j >= len) j = j < 0 ? -j : 2 * (len - 1) - j;
    return j;
}

static void ref_pad(const cs_tensor *x, const int64_t *pads, const char *mode, double value,
                    cs_tensor *y)
{
    int r = x->ndim;
    for (int64_t i = 0; i < y->numel; i++) {
        int64_t oi[CS_MAX_DIMS];
        unravel(i, r, y->dims, oi);
        int out = 0;
        for (int k = 0; k < r && !out; k++) {
            oi[k] = ref_pad_index(mode, oi[k] - pads[k], x->dims[k]);
            out = oi[k] < 0;
        }
        set_at(y, i, out ? value : at(x, ravel(r, x->dims, oi)));
    }
}

static void pad_random(void **state)
{
    (void)state;
    const char *modes[] = {"constant", "reflect", "edge"};
    for (int iter = 0; iter < 200; iter++) {
        cs_dtype ty = iter & 1 ? CS_I64 : CS_F32;
        const char *mode = modes[iter % 3];
        int r = (int)rnd_in(1, 4);
        int64_t d[CS_MAX_DIMS], od[CS_MAX_DIMS], pads[2 * CS_MAX_DIMS];
        for (int k = 0; k < r; k++) {
            d[k] = rnd_in(1, 5);
            pads[k] = rnd_in(0, 6);
            pads[k + r] = rnd_in(0, 6);
            od[k] = d[k] + pads[k] + pads[k + r];
        }
        cs_tensor *x = mk(ty, r, d), *ref = mk(ty, r, od);
        double value = iter % 5 ? -3.0 : 0.0;
        ref_pad(x, pads, mode, strcmp(mode, "constant") ? 0 : value, ref);
        cs_tensor *pt = ints(2 * r, pads);
        cs_tensor *vt = ty == CS_F32 ? h_f32(0, NULL, (float[]){(float)value})
                                     : h_i64(0, NULL, (int64_t[]){(int64_t)value});
        cs_attr m = h_attr_string("mode", mode);
        /* opset 13: inputs */
        cs_tensor *in[3] = {x, pt, vt};
        h_result res = h_run(CS_OP_PAD, 13, &m, 1, in, 3, 1, iter % 3 + 1);
        expect_out(&res, ref);
        h_result_free(&res);
        /* opset 2: attributes */
        cs_attr a[3] = {m, h_attr_ints("pads", 2 * r, pads), h_attr_float("value", (float)value)};
        res = h_run(CS_OP_PAD, 2, a, 3, &x, 1, 1, 1);
        expect_out(&res, ref);
        h_result_free(&res);
        cs_tensor_free(&vt);
        cs_tensor_free(&pt);
        cs_tensor_free(&ref);
        cs_tensor_free(&x);
    }
}

static void pad_large_threads(void **state)
{
    (void)state;
    const char *modes[] = {"constant", "reflect", "edge"};
    int64_t d[4] = {2, 16, 56, 56}, pads[8] = {0, 0, 3, 2, 0, 0, 1, 4};
    int64_t od[4] = {2, 16, 60, 62};
    for (int m = 0; m < 3; m++) {
        cs_tensor *x = mk(CS_F32, 4, d), *ref = mk(CS_F32, 4, od), *pt = ints(8, pads);
        ref_pad(x, pads, modes[m], 0, ref);
        cs_attr a = h_attr_string("mode", modes[m]);
        cs_tensor *in[2] = {x, pt};
        h_result res = h_run(CS_OP_PAD, 11, &a, 1, in, 2, 1, 4);
        expect_out(&res, ref);
        h_result_free(&res);
        cs_tensor_free(&pt);
        cs_tensor_free(&ref);
        cs_tensor_free(&x);
    }
}

static void pad_negative_axes_refusals(void **state)
{
    (void)state;
    /* 1x4: pads [0, -1, 0, 2] crops the first column and adds two */
    int64_t d[2] = {2, 4};
    cs_tensor *x = mk(CS_F32, 2, d); /* rows 0.5 1.5 2.5 3.5 / 4.5 5.5 6.5 7.5 */
    cs_tensor *p = ints(4, (int64_t[]){0, -1, 0, 2});
    cs_attr edge = h_attr_string("mode", "edge"), refl = h_attr_string("mode", "reflect");
    cs_tensor *in[4] = {x, p, NULL, NULL};
    h_result r = h_run(CS_OP_PAD, 13, &edge, 1, in, 2, 1, 1);
    cs_tensor *ref = h_f32(2, (int64_t[]){2, 5},
                           (float[]){1.5f, 2.5f, 3.5f, 3.5f, 3.5f, 5.5f, 6.5f, 7.5f, 7.5f, 7.5f});
    expect_out(&r, ref);
    h_result_free(&r);
    cs_tensor_free(&ref);
    /* reflect relative to the cropped region */
    r = h_run(CS_OP_PAD, 13, &refl, 1, in, 2, 1, 1);
    ref = h_f32(2, (int64_t[]){2, 5},
                (float[]){1.5f, 2.5f, 3.5f, 2.5f, 1.5f, 5.5f, 6.5f, 7.5f, 6.5f, 5.5f});
    expect_out(&r, ref);
    h_result_free(&r);
    cs_tensor_free(&ref);
    /* opset 18 axes: pad only axis -1 by (1, 0) with constant 9 */
    cs_tensor *p2 = ints(2, (int64_t[]){1, 0}), *ax = ints(1, (int64_t[]){-1});
    cs_tensor *nine = h_f32(1, (int64_t[]){1}, (float[]){9.f});
    cs_tensor *in2[4] = {x, p2, nine, ax};
    r = h_run(CS_OP_PAD, 18, NULL, 0, in2, 4, 1, 1);
    ref = h_f32(2, (int64_t[]){2, 5},
                (float[]){9.f, 0.5f, 1.5f, 2.5f, 3.5f, 9.f, 4.5f, 5.5f, 6.5f, 7.5f});
    expect_out(&r, ref);
    h_result_free(&r);
    cs_tensor_free(&ref);

    cs_tensor *p3 = ints(3, (int64_t[]){0, 1, 0});
    in[1] = p3;
    r = h_run(CS_OP_PAD, 13, NULL, 0, in, 2, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "pads [0, 1, 0] has 3 values, expected 4 for input shape 2x4");
    cs_tensor *p4 = ints(4, (int64_t[]){0, -3, 0, -2});
    in[1] = p4;
    r = h_run(CS_OP_PAD, 13, NULL, 0, in, 2, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "crop more than dimension 1 of input shape 2x4");
    cs_tensor *p5 = ints(4, (int64_t[]){0, -4, 0, 1});
    in[1] = p5;
    r = h_run(CS_OP_PAD, 13, &edge, 1, in, 2, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "cannot pad empty axis 1");
    cs_attr wrong = h_attr_string("mode", "mirror");
    r = h_run(CS_OP_PAD, 13, &wrong, 1, in, 2, 1, 1);
    expect_fail(&r, CS_ERR_UNSUPPORTED, "mode 'mirror' is not supported");
    in[1] = p;
    void *keep = p->data;
    p->data = NULL;
    r = h_run(CS_OP_PAD, 13, NULL, 0, in, 2, 1, 1);
    expect_fail(&r, CS_ERR_UNSUPPORTED, "pads must be constant (computed at load time)");
    p->data = keep;
    r = h_run(CS_OP_PAD, 2, NULL, 0, &x, 1, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "missing attribute 'pads'");
    cs_tensor_free(&p5);
    cs_tensor_free(&p4);
    cs_tensor_free(&p3);
    cs_tensor_free(&nine);
    cs_tensor_free(&ax);
    cs_tensor_free(&p2);
    cs_tensor_free(&p);
    cs_tensor_free(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(concat_random),
        cmocka_unit_test(concat_large_threads),
        cmocka_unit_test(concat_refusals),
        cmocka_unit_test(flatten_axes),
        cmocka_unit_test(reshape_cases),
        cmocka_unit_test(squeeze_unsqueeze),
        cmocka_unit_test(transpose_all_perms),
        cmocka_unit_test(transpose_large_threads),
        cmocka_unit_test(transpose_default_and_refusals),
        cmocka_unit_test(shape_ranges),
        cmocka_unit_test(gather_random),
        cmocka_unit_test(gather_cases),
        cmocka_unit_test(slice_random),
        cmocka_unit_test(slice_cases),
        cmocka_unit_test(constant_values),
        cmocka_unit_test(constant_of_shape),
        cmocka_unit_test(pad_random),
        cmocka_unit_test(pad_large_threads),
        cmocka_unit_test(pad_negative_axes_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
