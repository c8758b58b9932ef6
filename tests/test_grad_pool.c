/* Backward of MaxPool, AveragePool, GlobalAveragePool and GlobalMaxPool against central finite
 * differences (gc_check), with 1 and 2 threads, over 1-D, 2-D and 3-D geometries (pads,
 * strides, dilations, ceil_mode, auto_pad, count_include_pad). Max pooling inputs have no
 * near-ties: within any window values differ by more than two finite-difference steps, so the
 * argmax never moves. Every case also checks that backward adds into the gradient it is
 * given, leaves it alone without an upstream gradient, and matches across thread counts on
 * every element; plus the tie rule (first maximum) on exact ties. */
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

static uint32_t rng = 88675123u;
/* Over every gc_check of the program (set GC_VERBOSE=1 to see each case). */
static double worst_err;
static long n_checked, n_cases;

/* Values 0.03 * ((i * 7919) mod P) - offset for i along each plane: with P prime and larger
 * than a plane, all values of a plane differ by at least 0.03 (> 2 * eps). */
static cs_tensor *distinct(int ndim, const int64_t *dims)
{
    cs_tensor *t = h_f32(ndim, dims, NULL);
    int64_t plane = 1;
    for (int i = 2; i < ndim; i++) plane *= dims[i];
    static const int64_t primes[] = {257, 1031, 4099, 16411, 65537};
    int64_t p = 0;
    for (size_t i = 0; i < sizeof primes / sizeof primes[0] && !p; i++)
        if (primes[i] > plane) p = primes[i];
    assert_true(p > 0);
    float *d = t->data;
    int64_t shift = (int64_t)(rng % 97u);
    rng = rng * 1664525u + 1013904223u;
    for (int64_t i = 0; i < t->numel; i++) {
        int64_t k = (i % plane) + (i / plane) * 13 + shift;
        d[i] = 0.03f * (float)((k * 7919) % p) - 0.015f * (float)p;
    }
    return t;
}

static cs_tensor *rnd(int ndim, const int64_t *dims)
{
    cs_tensor *t = h_f32(ndim, dims, NULL);
    gc_fill(t, &rng, -2.f, 2.f);
    return t;
}

static cs_tensor *like(const cs_tensor *t, float v)
{
    cs_tensor *g = cs_tensor_new(CS_F32, t->ndim, t->dims, NULL);
    for (int64_t i = 0; i < g->numel; i++) ((float *)g->data)[i] = v;
    return g;
}

/* Forward, then backward into gx with upstream gradient gy (NULL: none). */
static void run_backward(cs_op op, const cs_attr *attrs, int n_attrs, cs_tensor *x, int threads,
                         const float *gy_data, uint32_t seed, cs_tensor *gx)
{
    const cs_op_def *d = cs_op_defs[op];
    cs_node n = {.op = op,
                 .name = "test",
                 .op_type = d->onnx_name,
                 .opset = 19,
                 .n_in = 1,
                 .n_out = 1,
                 .threads = threads};
    cs_attrs as = {n_attrs, attrs};
    cs_error err;
    cs_tensor y;
    memset(&y, 0, sizeof y);
    cs_tensor *outs[1] = {&y}, *in[1] = {x}, *gin[1] = {gx};
    assert_int_equal(d->init(&n, &as, &err), CS_OK);
    assert_int_equal(d->shape(&n, in, outs, &err), CS_OK);
    y.data = calloc(1, cs_tensor_bytes(&y) + 4);
    size_t sb = n.scratch_bytes;
    if (d->backward_scratch && d->backward_scratch(&n, in, outs) > sb)
        sb = d->backward_scratch(&n, in, outs);
    void *scratch = sb ? aligned_alloc(64, (sb + 63) / 64 * 64) : NULL;
    cs_exec ex = {.threads = threads, .pool = cs_pool_new(threads), .scratch = scratch};
    d->forward(&n, in, outs, &ex);
    cs_tensor *gy = NULL;
    if (gy_data || seed) {
        gy = cs_tensor_new(CS_F32, y.ndim, y.dims, NULL);
        if (gy_data)
            memcpy(gy->data, gy_data, cs_tensor_bytes(gy));
        else {
            uint32_t s = seed;
            gc_fill(gy, &s, -1.f, 1.f);
        }
    }
    cs_tensor *gout[1] = {gy};
    d->backward(&n, in, outs, gout, gin, &ex);
    cs_tensor_free(&gy);
    cs_pool_destroy(&ex.pool);
    free(scratch);
    free(y.data);
    free(n.params);
}

static void check(const char *what, cs_op op, const cs_attr *attrs, int n_attrs, cs_tensor *x)
{
    cs_tensor *in[1] = {x};
    for (int t = 1; t <= 2; t++) {
        gc_opts o = {.opset = 19,
                     .attrs = attrs,
                     .n_attrs = n_attrs,
                     .check_mask = 1u,
                     .threads = t,
                     /* large inputs are for the parallel paths, which the full
                      * comparison below covers */
                     .max_elems = x->numel > 8192 ? 64 : 400,
                     /* pooling is piecewise linear: central differences are exact */
                     .rtol = 1e-3,
                     .atol = 1e-4,
                     .seed = 31u * (unsigned)t};
        gc_result r = gc_check(op, &o, in, 1);
        if (r.status != CS_OK) fail_msg("%s: %s", what, r.err.msg);
        if (r.n_checked == 0) fail_msg("%s: nothing was checked", what);
        if (r.n_bad)
            fail_msg("%s (%d threads): %d of %d elements off; worst: [%lld] finite differences "
                     "%.7g, backward %.7g",
                     what, t, r.n_bad, r.n_checked, (long long)r.worst_index, r.worst_fd,
                     r.worst_bw);
        if (getenv("GC_VERBOSE"))
            print_message("%s (%d threads): max |fd - backward| %.3g\n", what, t, r.max_abs_err);
        if (r.max_abs_err > worst_err) worst_err = r.max_abs_err;
        n_checked += r.n_checked;
    }
    n_cases++;
    cs_tensor *g1 = like(x, 0.f), *g2 = like(x, 0.f), *acc = like(x, 1.f), *none = like(x, 0.5f);
    run_backward(op, attrs, n_attrs, x, 1, NULL, 7u, g1);
    run_backward(op, attrs, n_attrs, x, 2, NULL, 7u, g2);
    run_backward(op, attrs, n_attrs, x, 2, NULL, 7u, acc);
    run_backward(op, attrs, n_attrs, x, 2, NULL, 0u, none);
    const float *a = g1->data, *b = g2->data, *c = acc->data, *z = none->data;
    for (int64_t k = 0; k < x->numel; k++) {
        if (a[k] != b[k])
            fail_msg("%s: [%lld]: %.9g with 1 thread, %.9g with 2", what, (long long)k,
                     (double)a[k], (double)b[k]);
        if (fabsf(c[k] - 1.f - b[k]) > 1e-5f + 1e-5f * fabsf(b[k]))
            fail_msg("%s: [%lld]: backward does not add (1 + %.9g gave %.9g)", what, (long long)k,
                     (double)b[k], (double)c[k]);
        if (z[k] != 0.5f)
            fail_msg("%s: [%lld]: changed without an upstream gradient", what, (long long)k);
    }
    cs_tensor_free(&g1);
    cs_tensor_free(&g2);
    cs_tensor_free(&acc);
    cs_tensor_free(&none);
}

/* ---- MaxPool, AveragePool ---------------------------------------------------------------------
 */

typedef struct pcase {
    const char *name;
    int nk;
    int64_t dims[5];
    int64_t kernel[3], strides[3], dilations[3], pads[6];
    int ceil_mode;
    const char *auto_pad; /* NULL: NOTSET */
} pcase;

static const pcase cases[] = {
    {"3x3/2 pad 1 (ResNet stem)", 2, {2, 3, 11, 12}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, 0, NULL},
    {"2x2/2", 2, {1, 2, 8, 10}, {2, 2}, {2, 2}, {1, 1}, {0}, 0, NULL},
    {"3x3/1 pad 1", 2, {1, 2, 7, 6}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, 0, NULL},
    {"3x2/2x1 asymmetric pads", 2, {2, 2, 9, 7}, {3, 2}, {2, 1}, {1, 1}, {0, 1, 2, 0}, 0, NULL},
    {"3x3/2 ceil_mode", 2, {1, 3, 10, 9}, {3, 3}, {2, 2}, {1, 1}, {0}, 1, NULL},
    {"3x3/2 ceil_mode pad 1", 2, {1, 2, 8, 8}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, 1, NULL},
    {"2x2/3 ceil_mode", 2, {1, 2, 8, 7}, {2, 2}, {3, 3}, {1, 1}, {0}, 1, NULL},
    {"3x3 dilation 2", 2, {1, 2, 11, 10}, {3, 3}, {1, 2}, {2, 2}, {1, 2, 1, 2}, 0, NULL},
    {"5x5/3 SAME_UPPER", 2, {1, 2, 11, 13}, {5, 5}, {3, 3}, {1, 1}, {0}, 0, "SAME_UPPER"},
    {"4x4/2 SAME_LOWER", 2, {1, 2, 9, 8}, {4, 4}, {2, 2}, {1, 1}, {0}, 0, "SAME_LOWER"},
    {"3x3/2 VALID", 2, {1, 2, 9, 8}, {3, 3}, {2, 2}, {1, 1}, {0}, 0, "VALID"},
    {"1-D 3/2 pad 1", 1, {2, 3, 17}, {3}, {2}, {1}, {1, 1}, 0, NULL},
    {"1-D 4/1 dilation 2 ceil", 1, {1, 2, 20}, {4}, {3}, {2}, {0, 2}, 1, NULL},
    {"3-D 2x3x3/1x2x2 pad",
     3,
     {1, 2, 5, 6, 7},
     {2, 3, 3},
     {1, 2, 2},
     {1, 1, 1},
     {1, 1, 0, 0, 1, 1},
     0,
     NULL},
    {"3-D 3x3x3/2 ceil", 3, {1, 1, 7, 6, 5}, {3, 3, 3}, {2, 2, 2}, {1, 1, 1}, {0}, 1, NULL},
    {"large 3x3/2 pad 1", 2, {2, 8, 40, 40}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, 0, NULL},
    {"large 2x2/2", 2, {1, 16, 36, 36}, {2, 2}, {2, 2}, {1, 1}, {0}, 0, NULL},
    {"large 3x3/1 dilation 2", 2, {1, 9, 48, 48}, {3, 3}, {1, 1}, {2, 2}, {2, 2, 2, 2}, 0, NULL},
};

static int pool_attrs(const pcase *c, cs_attr *a, int count_include_pad)
{
    int n = 0, nk = c->nk;
    a[n++] = h_attr_ints("kernel_shape", nk, c->kernel);
    a[n++] = h_attr_ints("strides", nk, c->strides);
    a[n++] = h_attr_ints("dilations", nk, c->dilations);
    if (c->auto_pad)
        a[n++] = h_attr_string("auto_pad", c->auto_pad);
    else
        a[n++] = h_attr_ints("pads", 2 * nk, c->pads);
    a[n++] = h_attr_int("ceil_mode", c->ceil_mode);
    if (count_include_pad >= 0) a[n++] = h_attr_int("count_include_pad", count_include_pad);
    return n;
}

static void maxpool(void **state)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cs_attr a[8];
        int na = pool_attrs(&cases[i], a, -1);
        cs_tensor *x = distinct(cases[i].nk + 2, cases[i].dims);
        char name[160];
        snprintf(name, sizeof name, "MaxPool %s", cases[i].name);
        check(name, CS_OP_MAXPOOL, a, na, x);
        cs_tensor_free(&x);
    }
}

static void avgpool(void **state)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int incl = 0; incl < 2; incl++) {
            cs_attr a[8];
            int na = pool_attrs(&cases[i], a, incl);
            cs_tensor *x = rnd(cases[i].nk + 2, cases[i].dims);
            char name[160];
            snprintf(name, sizeof name, "AveragePool %s count_include_pad %d", cases[i].name, incl);
            check(name, CS_OP_AVGPOOL, a, na, x);
            cs_tensor_free(&x);
        }
}

/* Exact ties go to the first maximum in window order (row-major), as PyTorch. */
static void maxpool_ties(void **state)
{
    int64_t dims[4] = {1, 1, 4, 4}, k[2] = {2, 2}, s[2] = {2, 2}, k3[2] = {3, 3}, s1[2] = {1, 1};
    float xv[16] = {1, 5, 5, 2, 5, 5, 2, 2, 0, 0, 3, 7, 0, 0, 7, 7};
    cs_tensor *x = h_f32(4, dims, xv), *gx = like(x, 0.f);
    cs_attr a[2] = {h_attr_ints("kernel_shape", 2, k), h_attr_ints("strides", 2, s)};
    const float gy[4] = {1.f, 10.f, 100.f, 1000.f};
    run_backward(CS_OP_MAXPOOL, a, 2, x, 1, gy, 0, gx);
    const float want[16] = {0, 1, 10, 0, 0, 0, 0, 0, 100, 0, 0, 1000, 0, 0, 0, 0};
    for (int i = 0; i < 16; i++)
        if (((float *)gx->data)[i] != want[i])
            fail_msg("tie [%d]: got %g, want %g", i, (double)((float *)gx->data)[i],
                     (double)want[i]);
    cs_tensor_free(&gx);
    /* Overlapping windows: each routes to its own first maximum; a shared argmax collects. */
    gx = like(x, 0.f);
    cs_attr b[2] = {h_attr_ints("kernel_shape", 2, k3), h_attr_ints("strides", 2, s1)};
    run_backward(CS_OP_MAXPOOL, b, 2, x, 1, gy, 0, gx);
    /* Windows (0,0): the first 5, [1]; (0,1): 7 at [11]; (1,0): 7 at [14]; (1,1): the first
     * 7, [11]. */
    const float want2[16] = {0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1010, 0, 0, 100, 0};
    for (int i = 0; i < 16; i++)
        if (((float *)gx->data)[i] != want2[i])
            fail_msg("overlapping tie [%d]: got %g, want %g", i, (double)((float *)gx->data)[i],
                     (double)want2[i]);
    cs_tensor_free(&gx);
    /* GlobalMaxPool: the first of equal maxima. */
    gx = like(x, 0.f);
    run_backward(CS_OP_GLOBAL_MAXPOOL, NULL, 0, x, 1, gy, 0, gx);
    for (int i = 0; i < 16; i++)
        if (((float *)gx->data)[i] != (i == 11 ? 1.f : 0.f))
            fail_msg("global tie [%d]: got %g", i, (double)((float *)gx->data)[i]);
    cs_tensor_free(&gx);
    cs_tensor_free(&x);
}

/* ---- global pools -----------------------------------------------------------------------------
 */

static void global_pools(void **state)
{
    const struct {
        int nd;
        int64_t dims[5];
    } g[] = {
        {3, {2, 3, 7}},       {4, {2, 3, 4, 5}},   {5, {1, 2, 3, 4, 5}},  {4, {1, 4, 1, 1}},
        {4, {2, 16, 32, 32}}, {4, {1, 512, 7, 7}}, {4, {1, 3, 100, 100}},
    };
    for (size_t i = 0; i < sizeof g / sizeof g[0]; i++) {
        char name[128], b[64];
        cs_tensor *x = rnd(g[i].nd, g[i].dims);
        snprintf(name, sizeof name, "GlobalAveragePool %s", cs_shape_str(x, b, sizeof b));
        check(name, CS_OP_GLOBAL_AVGPOOL, NULL, 0, x);
        cs_tensor_free(&x);
        x = distinct(g[i].nd, g[i].dims);
        snprintf(name, sizeof name, "GlobalMaxPool %s", cs_shape_str(x, b, sizeof b));
        check(name, CS_OP_GLOBAL_MAXPOOL, NULL, 0, x);
        cs_tensor_free(&x);
    }
}

static void summary(void **state)
{
    print_message("grad pool: %ld cases, %ld elements checked, max |fd - backward| %.3g\n", n_cases,
                  n_checked, worst_err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(maxpool),      cmocka_unit_test(avgpool), cmocka_unit_test(maxpool_ties),
        cmocka_unit_test(global_pools), cmocka_unit_test(summary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
