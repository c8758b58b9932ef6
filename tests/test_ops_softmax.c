/* Softmax, LogSoftmax (opset < 13 coerced-2-D and opset >= 13 single-axis semantics) and
 * ReduceMean (axes attribute or input, keepdims, noop_with_empty_axes) against double-precision
 * references, with 1 and 2 threads; plus the refusals. */
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

static uint64_t rng = 0x2545F4914F6CDD1Dull;

static float frand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((double)(rng >> 11) / (double)(1ull << 53) * 8.0 - 4.0);
}

static cs_tensor *rand_f32(int ndim, const int64_t *dims, float scale)
{
    cs_tensor *t = h_f32(ndim, dims, NULL);
    for (int64_t i = 0; i < t->numel; i++) ((float *)t->data)[i] = frand() * scale;
    return t;
}

static void expect_fail(h_result *r, cs_status st, const char *needle)
{
    assert_int_equal(r->status, st);
    if (!strstr(r->err.msg, needle)) fail_msg("message '%s' lacks '%s'", r->err.msg, needle);
    assert_non_null(strstr(r->err.msg, "node 'test'"));
}

static void expect_close(const float *got, const double *want, int64_t n, double rtol, double atol)
{
    for (int64_t i = 0; i < n; i++)
        if (!(fabs((double)got[i] - want[i]) <= atol + rtol * fabs(want[i])))
            fail_msg("element %lld: got %.9g, want %.9g", (long long)i, (double)got[i], want[i]);
}

/* ---- Softmax ----------------------------------------------------------------------------------
 */

/* Reference over [outer, len, inner] in double. */
static void ref_softmax(const float *x, double *y, int64_t outer, int64_t len, int64_t inner,
                        bool log_)
{
    for (int64_t o = 0; o < outer; o++)
        for (int64_t c = 0; c < inner; c++) {
            const float *xp = x + o * len * inner + c;
            double *yp = y + o * len * inner + c;
            double m = -INFINITY, s = 0;
            for (int64_t l = 0; l < len; l++) m = fmax(m, xp[l * inner]);
            for (int64_t l = 0; l < len; l++) s += exp(xp[l * inner] - m);
            for (int64_t l = 0; l < len; l++)
                yp[l * inner] = log_ ? xp[l * inner] - m - log(s) : exp(xp[l * inner] - m) / s;
        }
}

static void check_softmax(bool log_, int opset, int ndim, const int64_t *dims, int64_t axis,
                          bool give_axis, float scale, int threads)
{
    cs_tensor *x = rand_f32(ndim, dims, scale);
    cs_attr at = h_attr_int("axis", axis);
    cs_tensor *in[1] = {x};
    h_result r = h_run(log_ ? CS_OP_LOG_SOFTMAX : CS_OP_SOFTMAX, opset, &at, give_axis ? 1 : 0, in,
                       1, 1, threads);
    if (r.status != CS_OK) fail_msg("%s", r.err.msg);
    assert_int_equal(r.out[0].ndim, ndim);
    for (int i = 0; i < ndim; i++) assert_int_equal(r.out[0].dims[i], dims[i]);
    int64_t a = give_axis ? axis : opset < 13 ? 1 : -1;
    if (a < 0) a += ndim;
    int64_t outer = 1, len = 1, inner = 1;
    for (int i = 0; i < ndim; i++) {
        if (i < a)
            outer *= dims[i];
        else if (i == a || opset < 13)
            len *= dims[i];
        else
            inner *= dims[i];
    }
    double *want = malloc(sizeof(double) * (size_t)x->numel);
    ref_softmax(x->data, want, outer, len, inner, log_);
    expect_close(r.out[0].data, want, x->numel, 1e-5, 1e-7);
    free(want);
    h_result_free(&r);
    cs_tensor_free(&x);
}

static void softmax(void **state)
{
    const int64_t d345[3] = {3, 4, 5}, d2x5x100[3] = {2, 5, 100}, big[2] = {8, 1000},
                  big3[3] = {4, 130, 70}, d4[4] = {2, 3, 4, 5}, d1[1] = {7};
    for (int lg = 0; lg < 2; lg++)
        for (int th = 1; th <= 2; th++) {
            for (int opset = 11; opset <= 13; opset += 2) {
                for (int ax = -3; ax < 3; ax++)
                    check_softmax(lg, opset, 3, d345, ax, true, 1.f, th);
                check_softmax(lg, opset, 3, d345, 0, false, 1.f, th); /* default axis */
                check_softmax(lg, opset, 4, d4, 0, false, 1.f, th);
                check_softmax(lg, opset, 3, d2x5x100, 1, true, 1.f, th);
                check_softmax(lg, opset, 2, big, 1, true, 1.f, th);
                check_softmax(lg, opset, 3, big3, 1, true, 1.f, th);
                check_softmax(lg, opset, 3, big3, -1, true, 1.f, th);
                check_softmax(lg, opset, 1, d1, 0, true, 1.f, th);
                /* large values: stable only when the max is subtracted */
                check_softmax(lg, opset, 3, d345, -1, true, 300.f, th);
                check_softmax(lg, opset, 3, d2x5x100, 1, true, 300.f, th);
            }
            check_softmax(lg, 9, 3, d345, 3, true, 1.f, th); /* old: axis == rank */
        }

    /* opset 12 vs 13 differ for axis 1 of a rank-3 input */
    float xv[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    int64_t d222[3] = {1, 2, 4};
    cs_tensor *x = h_f32(3, d222, xv);
    cs_tensor *in[1] = {x};
    cs_attr a1 = h_attr_int("axis", 1);
    h_result r12 = h_run(CS_OP_SOFTMAX, 12, &a1, 1, in, 1, 1, 1);
    h_result r13 = h_run(CS_OP_SOFTMAX, 13, &a1, 1, in, 1, 1, 1);
    assert_int_equal(r12.status, CS_OK);
    assert_int_equal(r13.status, CS_OK);
    double s12 = 0, s13 = 0;
    for (int i = 0; i < 8; i++) s12 += ((float *)r12.out[0].data)[i];
    s13 = ((float *)r13.out[0].data)[0] + ((float *)r13.out[0].data)[4];
    assert_true(fabs(s12 - 1.0) < 1e-6); /* all 8 values are one distribution */
    assert_true(fabs(s13 - 1.0) < 1e-6); /* columns are distributions */
    h_result_free(&r12);
    h_result_free(&r13);
    cs_tensor_free(&x);
}

static void softmax_refusals(void **state)
{
    int64_t d[3] = {3, 4, 5};
    cs_tensor *x = rand_f32(3, d, 1.f), *xi = h_i64(3, d, NULL);
    cs_tensor *in[1] = {x};
    cs_attr a3 = h_attr_int("axis", 3), am4 = h_attr_int("axis", -4);
    h_result r = h_run(CS_OP_SOFTMAX, 13, &a3, 1, in, 1, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "axis 3 is out of range for input 3x4x5");
    r = h_run(CS_OP_LOG_SOFTMAX, 11, &am4, 1, in, 1, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "axis -4 is out of range");
    in[0] = xi;
    r = h_run(CS_OP_SOFTMAX, 13, NULL, 0, in, 1, 1, 1);
    expect_fail(&r, CS_ERR_UNSUPPORTED, "float32");
    cs_tensor_free(&x);
    cs_tensor_free(&xi);
}

/* ---- ReduceMean ------------------------------------------------------------------------------ */

static void check_reduce(int opset, int ndim, const int64_t *dims, int n_axes, const int64_t *axes,
                         bool axes_as_input, int keepdims, int noop, int threads)
{
    cs_tensor *x = rand_f32(ndim, dims, 1.f);
    cs_attr at[3];
    int na = 0;
    cs_tensor *ax = NULL;
    if (n_axes >= 0) {
        if (axes_as_input) {
            int64_t d1[1] = {n_axes};
            ax = h_i64(1, d1, axes);
        } else {
            at[na++] = h_attr_ints("axes", n_axes, axes);
        }
    }
    if (keepdims >= 0) at[na++] = h_attr_int("keepdims", keepdims);
    if (noop) at[na++] = h_attr_int("noop_with_empty_axes", 1);
    cs_tensor *in[2] = {x, ax};
    h_result r = h_run(CS_OP_REDUCE_MEAN, opset, at, na, in, ax ? 2 : 1, 1, threads);
    if (r.status != CS_OK) fail_msg("%s", r.err.msg);

    bool red[CS_MAX_DIMS];
    for (int i = 0; i < ndim; i++) red[i] = n_axes <= 0 && !noop;
    for (int k = 0; k < n_axes; k++) red[(axes[k] + ndim) % ndim] = true;
    int on = 0;
    int64_t od[CS_MAX_DIMS], count = 1;
    for (int i = 0; i < ndim; i++) {
        if (red[i]) count *= dims[i];
        if (!red[i])
            od[on++] = dims[i];
        else if (keepdims != 0)
            od[on++] = 1;
    }
    assert_int_equal(r.out[0].ndim, on);
    for (int i = 0; i < on; i++) assert_int_equal(r.out[0].dims[i], od[i]);

    /* Sum each input element into its output slot. */
    double *want = calloc((size_t)r.out[0].numel, sizeof(double));
    for (int64_t f = 0; f < x->numel; f++) {
        int64_t rem = f, idx[CS_MAX_DIMS], o = 0;
        for (int i = ndim - 1; i >= 0; i--) {
            idx[i] = rem % dims[i];
            rem /= dims[i];
        }
        for (int i = 0; i < ndim; i++)
            if (!red[i]) o = o * dims[i] + idx[i];
        want[o] += ((float *)x->data)[f];
    }
    for (int64_t i = 0; i < r.out[0].numel; i++) want[i] /= (double)count;
    expect_close(r.out[0].data, want, r.out[0].numel, 1e-5, 1e-6);
    free(want);
    h_result_free(&r);
    cs_tensor_free(&x);
    cs_tensor_free(&ax);
}

static void reduce_mean(void **state)
{
    const int64_t d322[3] = {3, 2, 2}, d4[4] = {2, 3, 4, 5}, big[4] = {2, 64, 28, 28},
                  one[4] = {1, 1, 1, 1};
    const int64_t a1[1] = {1}, am2[1] = {-2}, a23[2] = {2, 3}, a02[2] = {0, 2}, a13[2] = {1, 3},
                  a0[1] = {0}, a123[3] = {1, 2, 3}, a30[2] = {3, 0};
    for (int th = 1; th <= 2; th++)
        for (int kd = 0; kd <= 1; kd++) {
            check_reduce(13, 3, d322, 1, a1, false, kd, 0, th);
            check_reduce(13, 3, d322, 1, am2, false, kd, 0, th);
            check_reduce(13, 3, d322, -1, NULL, false, kd, 0, th); /* all */
            check_reduce(13, 4, d4, 2, a23, false, kd, 0, th);
            check_reduce(13, 4, d4, 2, a02, false, kd, 0, th);
            check_reduce(13, 4, d4, 2, a13, false, kd, 0, th);
            check_reduce(13, 4, d4, 1, a0, false, kd, 0, th);
            check_reduce(13, 4, d4, 2, a30, false, kd, 0, th);
            check_reduce(13, 4, big, 2, a23, false, kd, 0, th);
            check_reduce(13, 4, big, 1, a1, false, kd, 0, th);
            check_reduce(13, 4, big, 3, a123, false, kd, 0, th);
            check_reduce(13, 4, big, 1, a0, false, kd, 0, th);
            check_reduce(13, 4, one, 2, a23, false, kd, 0, th);
            /* opset 18: axes as a constant input */
            check_reduce(18, 4, d4, 2, a23, true, kd, 0, th);
            check_reduce(18, 4, d4, 0, NULL, true, kd, 0, th);   /* empty: all */
            check_reduce(18, 4, d4, 0, NULL, true, kd, 1, th);   /* empty + noop: copy */
            check_reduce(18, 4, d4, -1, NULL, false, kd, 1, th); /* absent + noop: copy */
        }
    check_reduce(13, 3, d322, 1, a1, false, -1, 0, 1); /* keepdims defaults to 1 */
}

static void reduce_refusals(void **state)
{
    int64_t d[3] = {3, 4, 5}, dup[2] = {1, -2}, out3[1] = {3}, one[1] = {1};
    cs_tensor *x = rand_f32(3, d, 1.f);
    cs_tensor *in[2] = {x, NULL};
    cs_attr a = h_attr_ints("axes", 2, dup);
    h_result r = h_run(CS_OP_REDUCE_MEAN, 13, &a, 1, in, 1, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "axis -2 is repeated for input 3x4x5");
    a = h_attr_ints("axes", 1, out3);
    r = h_run(CS_OP_REDUCE_MEAN, 13, &a, 1, in, 1, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "axis 3 is out of range");
    /* A float axes input is malformed. */
    cs_tensor *fa = h_f32(1, one, NULL);
    in[1] = fa;
    r = h_run(CS_OP_REDUCE_MEAN, 18, NULL, 0, in, 2, 1, 1);
    expect_fail(&r, CS_ERR_INVALID, "1-D int64");
    cs_tensor_free(&x);
    cs_tensor_free(&fa);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(softmax),
        cmocka_unit_test(softmax_refusals),
        cmocka_unit_test(reduce_mean),
        cmocka_unit_test(reduce_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
