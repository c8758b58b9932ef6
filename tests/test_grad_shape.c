/* Backward of the shape and data-movement ops (Flatten, Reshape, Squeeze, Unsqueeze, Concat,
 * Transpose, Gather, Slice), Pad, Resize and Upsample against central finite differences
 * (gc_check), over shapes, axes, modes and opsets. All these ops are linear in their float
 * inputs, so the differences are exact up to rounding.
 *
 * Every case is also run through the backward contract: results are ADDED into gin (a
 * prefilled gin ends at prefill + gradient), a NULL gout leaves gin untouched, backward does
 * not rely on zeroed scratch (it is filled with NaN bytes), and two threads give the same bits
 * as one (the large cases cross the thresholds where the kernels split work). */
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

/* ---- tensors, freed after each case --------------------------------------------------- */

#define MAX_LIVE 64
static cs_tensor *live[MAX_LIVE];
static int n_live;
static uint32_t fill_state = 20240611u;

static cs_tensor *track(cs_tensor *t)
{
    assert_non_null(t);
    assert_true(n_live < MAX_LIVE);
    live[n_live++] = t;
    return t;
}

static void release_all(void)
{
    for (int i = 0; i < n_live; i++) cs_tensor_free(&live[i]);
    n_live = 0;
}

/* Random floats in [-1, 1). */
static cs_tensor *rnd(int ndim, const int64_t *d)
{
    cs_tensor *t = track(cs_tensor_new(CS_F32, ndim, d, NULL));
    gc_fill(t, &fill_state, -1.f, 1.f);
    return t;
}

static cs_tensor *ints(int n, const int64_t *v)
{
    int64_t d = n;
    return track(h_i64(1, &d, v));
}

static cs_tensor *flts(int n, const float *v)
{
    int64_t d = n;
    return track(h_f32(1, &d, v));
}

#define D(...) ((const int64_t[]){__VA_ARGS__})
#define NDIM(...) ((int)(sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t)))
/* A random float tensor of the given dims: T(2, 3, 4). */
#define T(...) rnd(NDIM(__VA_ARGS__), D(__VA_ARGS__))
#define I(...) ints(NDIM(__VA_ARGS__), D(__VA_ARGS__))
#define F(...)                                                                                     \
    flts((int)(sizeof((const float[]){__VA_ARGS__}) / sizeof(float)), (const float[]){__VA_ARGS__})

/* ---- the backward contract ------------------------------------------------------------ */

static uint64_t stat_cases, stat_elems;
static double stat_max_err;

/* Runs forward then backward once, as the planner would: gin[i] (input i in mask) prefilled,
 * gout[0] random (fixed seed) or NULL. Returns the gins in res (caller frees). */
static void bw_run(cs_op op, int opset, const cs_attr *a, int na, cs_tensor *const *in, int n_in,
                   unsigned mask, int threads, float prefill, int null_gout, cs_tensor **res,
                   const char *what)
{
    const cs_op_def *d = cs_op_defs[op];
    cs_node n;
    memset(&n, 0, sizeof n);
    n.op = op;
    n.name = "bw";
    n.op_type = d->onnx_name;
    n.opset = opset;
    n.n_in = n_in;
    n.n_out = 1;
    n.threads = threads;
    cs_attrs as = {na, a};
    cs_tensor out, *outp = &out;
    memset(&out, 0, sizeof out);
    cs_error err;
    cs_status st = d->init(&n, &as, &err);
    if (st == CS_OK) st = d->shape(&n, in, &outp, &err);
    if (st == CS_OK && d->prepare) st = d->prepare(&n, in, &outp, &err);
    if (st != CS_OK) fail_msg("%s: %s", what, err.msg);
    out.data = calloc(1, cs_tensor_bytes(&out) + 1);
    if ((d->flags & CS_OPF_ALIAS) && in[0]) memcpy(out.data, in[0]->data, cs_tensor_bytes(in[0]));
    size_t sb = n.scratch_bytes;
    if (d->backward_scratch) {
        size_t b = d->backward_scratch(&n, in, &outp);
        if (b > sb) sb = b;
    }
    size_t sbytes = (sb + 63) / 64 * 64 + 64;
    void *scratch = aligned_alloc(64, sbytes);
    memset(scratch, 0xff, sbytes); /* NaN floats, -1 ints: nothing may assume zeros */
    cs_exec ex = {.threads = threads, .pool = cs_pool_new(threads), .scratch = scratch};
    d->forward(&n, in, &outp, &ex);
    cs_tensor *g = cs_tensor_new(CS_F32, out.ndim, out.dims, NULL);
    uint32_t gs = 777u;
    gc_fill(g, &gs, -1.f, 1.f);
    cs_tensor *gin[H_MAX_IO] = {0}, *gout[1] = {null_gout ? NULL : g};
    for (int i = 0; i < n_in; i++) {
        res[i] = NULL;
        if (!(mask >> i & 1) || !in[i] || in[i]->type != CS_F32) continue;
        gin[i] = cs_tensor_new(CS_F32, in[i]->ndim, in[i]->dims, NULL);
        for (int64_t k = 0; k < gin[i]->numel; k++) ((float *)gin[i]->data)[k] = prefill;
        res[i] = gin[i];
    }
    d->backward(&n, in, &outp, gout, gin, &ex);
    cs_pool_destroy(&ex.pool);
    free(scratch);
    free(out.data);
    cs_tensor_free(&g);
    if (n.prep) {
        if (d->free_prep)
            d->free_prep(n.prep);
        else
            free(n.prep);
    }
    if (d->free_params)
        d->free_params(n.params);
    else
        free(n.params);
}

static void contract(cs_op op, int opset, const cs_attr *a, int na, cs_tensor *const *in, int n_in,
                     unsigned mask, const char *what)
{
    cs_tensor *g1[H_MAX_IO], *g2[H_MAX_IO], *gp[H_MAX_IO], *gn[H_MAX_IO];
    const float pre = 0.75f;
    bw_run(op, opset, a, na, in, n_in, mask, 1, 0.f, 0, g1, what);
    bw_run(op, opset, a, na, in, n_in, mask, 2, 0.f, 0, g2, what);
    bw_run(op, opset, a, na, in, n_in, mask, 2, pre, 0, gp, what);
    bw_run(op, opset, a, na, in, n_in, mask, 2, pre, 1, gn, what);
    for (int i = 0; i < n_in; i++) {
        if (!g1[i]) continue;
        const float *a1 = g1[i]->data, *a2 = g2[i]->data, *ap = gp[i]->data, *an = gn[i]->data;
        for (int64_t k = 0; k < g1[i]->numel; k++) {
            if (memcmp(&a1[k], &a2[k], sizeof(float)) != 0)
                fail_msg("%s: input %d element %lld: %.9g with 1 thread, %.9g with 2", what, i,
                         (long long)k, (double)a1[k], (double)a2[k]);
            if (fabs((double)ap[k] - pre - a1[k]) > 1e-5 * (1 + fabs((double)a1[k])))
                fail_msg("%s: input %d element %lld: gin prefilled with %g ends at %.9g, want "
                         "%.9g (backward must add)",
                         what, i, (long long)k, (double)pre, (double)ap[k], (double)(pre + a1[k]));
            if (an[k] != pre)
                fail_msg("%s: input %d element %lld: changed to %.9g with gout NULL", what, i,
                         (long long)k, (double)an[k]);
        }
        cs_tensor_free(&g1[i]);
        cs_tensor_free(&g2[i]);
        cs_tensor_free(&gp[i]);
        cs_tensor_free(&gn[i]);
    }
}

/* gc_check (every element up to max_elems, then a random subset) plus the contract. */
static void check_n(cs_op op, int opset, const cs_attr *a, int na, cs_tensor *const *in, int n_in,
                    unsigned mask, int max_elems, const char *what)
{
    gc_opts o;
    memset(&o, 0, sizeof o);
    o.opset = opset;
    o.attrs = a;
    o.n_attrs = na;
    o.check_mask = mask;
    o.max_elems = max_elems;
    o.seed = 1234u + (uint32_t)stat_cases;
    o.threads = 2;
    gc_result r = gc_check(op, &o, in, n_in);
    if (r.status != CS_OK) fail_msg("%s: %s", what, r.err.msg);
    if (r.n_bad)
        fail_msg("%s: %d of %d gradients off; worst input %d element %lld: finite differences "
                 "%.7g, backward %.7g",
                 what, r.n_bad, r.n_checked, r.worst_input, (long long)r.worst_index, r.worst_fd,
                 r.worst_bw);
    stat_cases++;
    stat_elems += (uint64_t)r.n_checked;
    if (r.max_abs_err > stat_max_err) stat_max_err = r.max_abs_err;
    contract(op, opset, a, na, in, n_in, mask, what);
    release_all();
}

#define MAXE 4096
/* Large cases exist to cross the thresholds where kernels split work (checked bit for bit
 * against one thread); a random sample of their gradients is enough for the values. */
#define LARGE 64
static void check(cs_op op, int opset, const cs_attr *a, int na, cs_tensor *const *in, int n_in,
                  unsigned mask, const char *what)
{
    check_n(op, opset, a, na, in, n_in, mask, MAXE, what);
}

static void report(const char *what)
{
    print_message("%s: %llu cases, %llu gradients checked, max |fd - backward| %.3g\n", what,
                  (unsigned long long)stat_cases, (unsigned long long)stat_elems, stat_max_err);
    stat_cases = stat_elems = 0;
    stat_max_err = 0;
}

/* ---- alias ops -------------------------------------------------------------------------- */

static void grad_alias(void **state)
{
    (void)state;
    char w[128];
    static const int64_t axes[] = {0, 1, 2, 3, 4, -1, -3};
    for (size_t i = 0; i < sizeof axes / sizeof axes[0]; i++) {
        cs_attr a = h_attr_int("axis", axes[i]);
        cs_tensor *in[1] = {T(2, 3, 4, 5)};
        snprintf(w, sizeof w, "Flatten axis %lld", (long long)axes[i]);
        check(CS_OP_FLATTEN, axes[i] < 0 ? 13 : 1 + (int)i * 4, &a, 1, in, 1, 1, w);
    }
    {
        cs_tensor *in[2] = {T(2, 3, 4, 5), I(-1, 0, 5)};
        check(CS_OP_RESHAPE, 13, NULL, 0, in, 2, 3, "Reshape -1, 0");
    }
    {
        cs_attr a = h_attr_ints("shape", 2, D(6, 20));
        cs_tensor *in[1] = {T(2, 3, 4, 5)};
        check(CS_OP_RESHAPE, 4, &a, 1, in, 1, 1, "Reshape-4 attribute");
    }
    {
        cs_attr a = h_attr_int("allowzero", 1);
        cs_tensor *in[2] = {T(4, 6), I(2, 3, 2, 2)};
        check(CS_OP_RESHAPE, 14, &a, 1, in, 2, 1, "Reshape allowzero");
    }
    {
        cs_tensor *in[2] = {T(1, 64, 32, 48), I(1, -1)};
        check_n(CS_OP_RESHAPE, 13, NULL, 0, in, 2, 1, LARGE, "Reshape large");
    }
    {
        cs_attr a = h_attr_ints("axes", 2, D(0, 2));
        cs_tensor *in[1] = {T(1, 3, 1, 5)};
        check(CS_OP_SQUEEZE, 11, &a, 1, in, 1, 1, "Squeeze-11 axes");
    }
    {
        cs_tensor *in[2] = {T(1, 3, 1, 5), I(-2)};
        check(CS_OP_SQUEEZE, 13, NULL, 0, in, 2, 1, "Squeeze-13 axes input");
    }
    {
        cs_tensor *in[1] = {T(1, 3, 1, 5)};
        check(CS_OP_SQUEEZE, 13, NULL, 0, in, 1, 1, "Squeeze-13 all ones");
    }
    {
        cs_attr a = h_attr_ints("axes", 2, D(0, 3));
        cs_tensor *in[1] = {T(3, 5)};
        check(CS_OP_UNSQUEEZE, 11, &a, 1, in, 1, 1, "Unsqueeze-11");
    }
    {
        cs_tensor *in[2] = {T(3, 5), I(-1, 1)};
        check(CS_OP_UNSQUEEZE, 13, NULL, 0, in, 2, 1, "Unsqueeze-13");
    }
    report("alias ops");
}

/* ---- Concat ------------------------------------------------------------------------------ */

static void grad_concat(void **state)
{
    (void)state;
    char w[128];
    for (int axis = -1; axis < 4; axis++) {
        int ax = axis < 0 ? 3 : axis;
        int64_t d0[4] = {2, 3, 4, 5}, d1[4] = {2, 3, 4, 5}, d2[4] = {2, 3, 4, 5};
        d0[ax] = 1;
        d1[ax] = 3;
        d2[ax] = 2;
        cs_tensor *in[3] = {rnd(4, d0), rnd(4, d1), rnd(4, d2)};
        cs_attr a = h_attr_int("axis", axis);
        snprintf(w, sizeof w, "Concat axis %d", axis);
        check(CS_OP_CONCAT, 13, &a, 1, in, 3, 7, w);
    }
    {
        cs_tensor *in[3] = {T(2, 3, 4), T(2, 1, 4), T(2, 2, 4)};
        check(CS_OP_CONCAT, 1, NULL, 0, in, 3, 5, "Concat-1 default axis, middle input unwanted");
    }
    {
        cs_attr a = h_attr_int("axis", 1);
        cs_tensor *in[3] = {T(2, 0, 4), T(2, 3, 4), T(2, 0, 4)};
        check(CS_OP_CONCAT, 13, &a, 1, in, 3, 7, "Concat with empty inputs");
    }
    {
        cs_attr a = h_attr_int("axis", 0);
        cs_tensor *in[2] = {T(7), T(4)};
        check(CS_OP_CONCAT, 13, &a, 1, in, 2, 3, "Concat 1-D");
    }
    {
        cs_attr a = h_attr_int("axis", 1);
        cs_tensor *in[3] = {T(1, 16, 64, 64), T(1, 8, 64, 64), T(1, 24, 64, 64)};
        check_n(CS_OP_CONCAT, 13, &a, 1, in, 3, 7, LARGE, "Concat large, one row");
    }
    {
        cs_attr a = h_attr_int("axis", 3);
        cs_tensor *in[2] = {T(2, 8, 64, 33), T(2, 8, 64, 31)};
        check_n(CS_OP_CONCAT, 13, &a, 1, in, 2, 2, LARGE, "Concat large, last axis, input 1 only");
    }
    report("Concat");
}

/* ---- Transpose ------------------------------------------------------------------------- */

static void grad_transpose(void **state)
{
    (void)state;
    char w[128];
    static const int64_t perms[][4] = {{0, 1, 2, 3}, {0, 2, 3, 1}, {0, 3, 1, 2},
                                       {3, 2, 1, 0}, {1, 0, 3, 2}, {2, 0, 3, 1}};
    for (size_t i = 0; i < sizeof perms / sizeof perms[0]; i++) {
        cs_attr a = h_attr_ints("perm", 4, perms[i]);
        cs_tensor *in[1] = {T(2, 3, 4, 5)};
        snprintf(w, sizeof w, "Transpose perm %lld%lld%lld%lld", (long long)perms[i][0],
                 (long long)perms[i][1], (long long)perms[i][2], (long long)perms[i][3]);
        check(CS_OP_TRANSPOSE, 13, &a, 1, in, 1, 1, w);
    }
    {
        cs_tensor *in[1] = {T(7, 9)};
        check(CS_OP_TRANSPOSE, 1, NULL, 0, in, 1, 1, "Transpose default perm 2-D");
    }
    {
        cs_tensor *in[1] = {T(2, 3, 4)};
        check(CS_OP_TRANSPOSE, 13, NULL, 0, in, 1, 1, "Transpose default perm 3-D");
    }
    {
        cs_attr a = h_attr_ints("perm", 5, D(4, 2, 0, 3, 1));
        cs_tensor *in[1] = {T(2, 1, 3, 2, 4)};
        check(CS_OP_TRANSPOSE, 13, &a, 1, in, 1, 1, "Transpose 5-D");
    }
    {
        cs_attr a = h_attr_ints("perm", 4, D(0, 2, 3, 1));
        cs_tensor *in[1] = {T(1, 64, 40, 48)};
        check_n(CS_OP_TRANSPOSE, 13, &a, 1, in, 1, 1, LARGE, "Transpose large NCHW->NHWC");
    }
    {
        cs_attr a = h_attr_ints("perm", 4, D(0, 3, 1, 2));
        cs_tensor *in[1] = {T(1, 40, 48, 64)};
        check_n(CS_OP_TRANSPOSE, 13, &a, 1, in, 1, 1, LARGE, "Transpose large NHWC->NCHW");
    }
    {
        cs_attr a = h_attr_ints("perm", 5, D(0, 2, 1, 3, 4));
        cs_tensor *in[1] = {T(1, 4, 29, 32, 32)};
        check_n(CS_OP_TRANSPOSE, 13, &a, 1, in, 1, 1, LARGE, "Transpose large channel shuffle");
    }
    report("Transpose");
}

/* ---- Gather ------------------------------------------------------------------------------ */

static void grad_gather(void **state)
{
    (void)state;
    {
        cs_attr a = h_attr_int("axis", 0);
        cs_tensor *in[2] = {T(5, 4, 3), I(4, -1, 0, 4, 2)};
        check(CS_OP_GATHER, 13, &a, 1, in, 2, 3, "Gather axis 0, repeated and negative");
    }
    {
        cs_attr a = h_attr_int("axis", 1);
        cs_tensor *in[2] = {T(3, 4, 5), track(h_i64(2, D(2, 2), D(3, 0, 0, -4)))};
        check(CS_OP_GATHER, 11, &a, 1, in, 2, 1, "Gather axis 1, 2-D indices");
    }
    {
        cs_attr a = h_attr_int("axis", -1);
        cs_tensor *in[2] = {T(3, 4, 5), track(h_i64(0, NULL, D(1)))};
        check(CS_OP_GATHER, 13, &a, 1, in, 2, 1, "Gather last axis, scalar index");
    }
    {
        cs_tensor *in[2] = {T(6, 2), I(5, 5, 5)};
        check(CS_OP_GATHER, 1, NULL, 0, in, 2, 1, "Gather-1 default axis");
    }
    {
        int64_t idx[96];
        for (int i = 0; i < 96; i++) idx[i] = (i * 37) % 100 - 50;
        cs_attr a = h_attr_int("axis", 0);
        cs_tensor *in[2] = {T(50, 4096), ints(96, idx)};
        check_n(CS_OP_GATHER, 13, &a, 1, in, 2, 1, LARGE, "Gather large axis 0 (column blocks)");
    }
    {
        int64_t idx[40];
        for (int i = 0; i < 40; i++) idx[i] = (i * 7) % 33;
        cs_attr a = h_attr_int("axis", 1);
        cs_tensor *in[2] = {T(64, 33, 64), ints(40, idx)};
        check_n(CS_OP_GATHER, 13, &a, 1, in, 2, 1, LARGE, "Gather large axis 1");
    }
    report("Gather");
}

/* ---- Slice -------------------------------------------------------------------------------- */

static void grad_slice(void **state)
{
    (void)state;
    {
        cs_attr a[3] = {h_attr_ints("starts", 2, D(1, -5)), h_attr_ints("ends", 2, D(4, 100)),
                        h_attr_ints("axes", 2, D(0, 2))};
        cs_tensor *in[1] = {T(5, 6, 7)};
        check(CS_OP_SLICE, 1, a, 3, in, 1, 1, "Slice-1 axes");
    }
    {
        cs_attr a[2] = {h_attr_ints("starts", 3, D(0, 1, 2)), h_attr_ints("ends", 3, D(5, 5, -1))};
        cs_tensor *in[1] = {T(5, 6, 7)};
        check(CS_OP_SLICE, 1, a, 2, in, 1, 1, "Slice-1 no axes");
    }
    {
        cs_tensor *in[4] = {T(5, 6, 7), I(2, 0), I(-1, 3), I(1, -3)};
        check(CS_OP_SLICE, 10, NULL, 0, in, 4, 1, "Slice-10 inputs");
    }
    {
        cs_tensor *in[5] = {T(5, 6, 7), I(4, -1), I(-100, 0), I(0, 2), I(-2, -3)};
        check(CS_OP_SLICE, 13, NULL, 0, in, 5, 1, "Slice-13 negative steps");
    }
    {
        cs_tensor *in[5] = {T(5, 6, 7), I(1, 0), I(INT64_MAX, 6), I(-1, 1), I(3, 2)};
        check(CS_OP_SLICE, 13, NULL, 0, in, 5, 1, "Slice-13 positive steps");
    }
    {
        cs_tensor *in[5] = {T(4, 5), I(-1, 4), I(INT64_MIN, INT64_MIN), I(0, 1), I(-1, -1)};
        check(CS_OP_SLICE, 13, NULL, 0, in, 5, 1, "Slice-13 full reversal");
    }
    {
        cs_tensor *in[3] = {T(5, 6), I(3), I(3)};
        check(CS_OP_SLICE, 13, NULL, 0, in, 3, 1, "Slice-13 empty");
    }
    {
        cs_tensor *in[5] = {T(1, 64, 64, 64), I(1, -1), I(63, -65), I(2, 3), I(1, -2)};
        check_n(CS_OP_SLICE, 13, NULL, 0, in, 5, 1, LARGE, "Slice large, reversed stride 2");
    }
    report("Slice");
}

/* ---- Pad ---------------------------------------------------------------------------------- */

static const char *const pad_modes[] = {"constant", "reflect", "edge", "wrap"};

static void grad_pad(void **state)
{
    (void)state;
    char w[128];
    for (int m = 0; m < 4; m++) {
        cs_attr a = h_attr_string("mode", pad_modes[m]);
        {
            cs_tensor *in[3] = {T(2, 3, 4, 5), I(0, 1, 2, 3, 0, 2, 1, 3), F(0.5f)};
            snprintf(w, sizeof w, "Pad-11 %s", pad_modes[m]);
            check(CS_OP_PAD, 11, &a, 1, in, 3, 5, w);
        }
        {
            cs_tensor *in[2] = {T(2, 3, 4, 5), I(0, -1, 2, -2, 0, 1, -1, 3)};
            snprintf(w, sizeof w, "Pad-13 %s negative pads", pad_modes[m]);
            check(CS_OP_PAD, 13, &a, 1, in, 2, 1, w);
        }
        {
            cs_tensor *in[2] = {T(3, 4), I(5, 7, 6, 9)};
            snprintf(w, sizeof w, "Pad-13 %s pads beyond the size", pad_modes[m]);
            check(CS_OP_PAD, 13, &a, 1, in, 2, 1, w);
        }
        {
            cs_tensor *in[2] = {T(6), I(2, 3)};
            snprintf(w, sizeof w, "Pad-13 %s 1-D", pad_modes[m]);
            check(CS_OP_PAD, 13, &a, 1, in, 2, 1, w);
        }
        {
            cs_tensor *in[4] = {T(2, 3, 4, 5), I(1, 2, 3, 1), NULL, I(1, -1)};
            snprintf(w, sizeof w, "Pad-18 %s axes", pad_modes[m]);
            check(CS_OP_PAD, 18, &a, 1, in, 4, 1, w);
        }
        {
            cs_tensor *in[2] = {T(2, 1, 3, 1), I(1, 2, 0, 3, 2, 0, 1, 2)};
            snprintf(w, sizeof w, "Pad-13 %s unit axes", pad_modes[m]);
            check(CS_OP_PAD, 13, &a, 1, in, 2, 1, w);
        }
        if (m < 3) {
            cs_attr b[3] = {a, h_attr_ints("pads", 6, D(1, 0, 2, 0, 2, 1)),
                            h_attr_float("value", -2.f)};
            cs_tensor *in[1] = {T(3, 4, 5)};
            snprintf(w, sizeof w, "Pad-2 %s attributes", pad_modes[m]);
            check(CS_OP_PAD, 2, b, 3, in, 1, 1, w);
        }
        {
            cs_tensor *in[2] = {T(1, 16, 64, 64), I(0, 0, 2, 3, 0, 0, 3, 2)};
            snprintf(w, sizeof w, "Pad-13 %s large", pad_modes[m]);
            check_n(CS_OP_PAD, 13, &a, 1, in, 2, 1, LARGE, w);
        }
    }
    {
        cs_attr a = h_attr_string("mode", "constant");
        cs_tensor *in[3] = {T(2, 3), I(0, -3, 0, 2), F(1.5f)};
        check(CS_OP_PAD, 13, &a, 1, in, 3, 5, "Pad crop to empty axis, constant value");
    }
    report("Pad");
}

/* ---- Resize / Upsample -------------------------------------------------------------------- */

static const char *const rz_modes[] = {"nearest", "linear", "cubic"};
static const char *const rz_coords[] = {"half_pixel",
                                        "asymmetric",
                                        "align_corners",
                                        "pytorch_half_pixel",
                                        "tf_half_pixel_for_nearest",
                                        "tf_crop_and_resize"};
static const char *const rz_rounds[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};

/* Resize-13 of x by scales (sizes NULL) or sizes, with roi for tf_crop_and_resize. */
static void resize13(cs_tensor *x, const float *scales, const int64_t *sizes, const char *mode,
                     const char *coord, int variant, int max_elems, const char *what)
{
    int r = x->ndim;
    static const float roi8[8] = {0.f, 0.1f, 0.1f, 0.2f, 1.f, 0.9f, 0.8f, 0.9f};
    float roi[2 * CS_MAX_DIMS];
    for (int k = 0; k < r; k++) {
        roi[k] = roi8[k % 4];
        roi[k + r] = roi8[4 + k % 4];
    }
    int crop = strcmp(coord, "tf_crop_and_resize") == 0;
    cs_tensor *in[4] = {x, crop ? flts(2 * r, roi) : NULL, sizes ? NULL : flts(r, scales),
                        sizes ? ints(r, sizes) : NULL};
    cs_attr a[6] = {h_attr_string("mode", mode),
                    h_attr_string("coordinate_transformation_mode", coord),
                    h_attr_string("nearest_mode", rz_rounds[variant % 4]),
                    h_attr_float("cubic_coeff_a", variant & 1 ? -0.5f : -0.75f),
                    h_attr_int("exclude_outside", variant >> 1 & 1),
                    h_attr_float("extrapolation_value", 0.25f)};
    check_n(CS_OP_RESIZE, 13, a, 6, in, sizes ? 4 : 3, 1, max_elems, what);
}

static void grad_resize(void **state)
{
    (void)state;
    char w[160];
    static const float up[4] = {1.f, 1.f, 2.f, 1.5f}, down[4] = {1.f, 1.f, 0.5f, 0.6f};
    static const int64_t sizes[4] = {1, 2, 8, 3};
    int variant = 0;
    for (int m = 0; m < 3; m++)
        for (int c = 0; c < 6; c++)
            for (int s = 0; s < 3; s++, variant++) {
                snprintf(w, sizeof w, "Resize-13 %s %s %s (variant %d)", rz_modes[m], rz_coords[c],
                         s == 0   ? "up"
                         : s == 1 ? "down"
                                  : "sizes",
                         variant);
                resize13(T(1, 2, 5, 7),
                         s == 0   ? up
                         : s == 1 ? down
                                  : NULL,
                         s == 2 ? sizes : NULL, rz_modes[m], rz_coords[c], variant, MAXE, w);
            }
    for (int m = 0; m < 3; m++) {
        static const float sc[4] = {2.f, 0.67f, 1.5f, 1.f};
        snprintf(w, sizeof w, "Resize-13 %s on every axis", rz_modes[m]);
        resize13(T(2, 3, 4, 5), sc, NULL, rz_modes[m], "half_pixel", m, MAXE, w);
        snprintf(w, sizeof w, "Resize-13 %s 3-D align_corners", rz_modes[m]);
        resize13(T(3, 5, 6), NULL, D(4, 9, 3), rz_modes[m], "align_corners", m + 1, MAXE, w);
        static const float s1[1] = {1.7f};
        snprintf(w, sizeof w, "Resize-13 %s 1-D", rz_modes[m]);
        resize13(T(7), s1, NULL, rz_modes[m], "asymmetric", m + 2, MAXE, w);
        snprintf(w, sizeof w, "Resize-13 %s 5-D crop", rz_modes[m]);
        resize13(T(1, 2, 3, 4, 5), NULL, D(1, 3, 5, 2, 6), rz_modes[m], "tf_crop_and_resize", m,
                 MAXE, w);
    }
    for (int m = 0; m < 2; m++) { /* legacy rounding */
        cs_attr a = h_attr_string("mode", rz_modes[m]);
        cs_tensor *in[2] = {T(1, 2, 5, 7), F(1.f, 1.f, 2.5f, 0.6f)};
        snprintf(w, sizeof w, "Resize-10 %s", rz_modes[m]);
        check(CS_OP_RESIZE, 10, &a, 1, in, 2, 1, w);
        cs_attr b[2] = {a, h_attr_string("coordinate_transformation_mode", "asymmetric")};
        cs_tensor *in11[3] = {T(1, 2, 5, 7), track(h_f32(1, D(0), NULL)), F(1.f, 2.f, 0.7f, 1.6f)};
        snprintf(w, sizeof w, "Resize-11 %s empty roi", rz_modes[m]);
        check(CS_OP_RESIZE, 11, b, 2, in11, 3, 1, w);
    }
    {
        static const float s2[4] = {1.f, 1.f, 2.f, 2.f};
        resize13(T(1, 8, 64, 64), s2, NULL, "linear", "half_pixel", 0, LARGE,
                 "Resize large linear");
        resize13(T(1, 8, 64, 64), s2, NULL, "nearest", "asymmetric", 0, LARGE,
                 "Resize large nearest");
        static const float s3[4] = {1.f, 1.f, 0.5f, 0.5f};
        resize13(T(1, 4, 128, 128), s3, NULL, "cubic", "pytorch_half_pixel", 2, LARGE,
                 "Resize large cubic down");
        resize13(T(1, 4, 64, 64), NULL, D(1, 4, 150, 130), "linear", "tf_crop_and_resize", 0, LARGE,
                 "Resize large crop");
    }
    report("Resize");
}

static void grad_upsample(void **state)
{
    (void)state;
    static const char *const modes[] = {"nearest", "linear", "bilinear"};
    char w[128];
    for (int m = 0; m < 3; m++) {
        cs_attr a[2] = {h_attr_string("mode", modes[m]),
                        h_attr_floats("scales", 4, (const float[]){1.f, 1.f, 2.f, 3.f})};
        cs_tensor *in[1] = {T(1, 2, 4, 5)};
        snprintf(w, sizeof w, "Upsample-7 %s", modes[m]);
        check(CS_OP_UPSAMPLE, 7, a, 2, in, 1, 1, w);
        cs_tensor *in9[2] = {T(2, 3, 4, 5), F(1.f, 2.f, 1.5f, 2.f)};
        snprintf(w, sizeof w, "Upsample-9 %s", modes[m]);
        check(CS_OP_UPSAMPLE, 9, a, 1, in9, 2, 1, w);
    }
    {
        cs_attr a = h_attr_string("mode", "nearest");
        cs_tensor *in[2] = {T(1, 16, 40, 40), F(1.f, 1.f, 2.f, 2.f)};
        check_n(CS_OP_UPSAMPLE, 9, &a, 1, in, 2, 1, LARGE, "Upsample-9 large");
    }
    report("Upsample");
}

/* Ops with no float input to differentiate keep backward NULL: the planner reports them. */
static void grad_none(void **state)
{
    (void)state;
    assert_null(cs_op_defs[CS_OP_SHAPE]->backward);
    assert_null(cs_op_defs[CS_OP_CONSTANT]->backward);
    assert_null(cs_op_defs[CS_OP_CONSTANT_OF_SHAPE]->backward);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(grad_alias),     cmocka_unit_test(grad_concat),
        cmocka_unit_test(grad_transpose), cmocka_unit_test(grad_gather),
        cmocka_unit_test(grad_slice),     cmocka_unit_test(grad_pad),
        cmocka_unit_test(grad_resize),    cmocka_unit_test(grad_upsample),
        cmocka_unit_test(grad_none),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
