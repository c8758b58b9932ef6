/* Softmax, LogSoftmax and ReduceMean.
 *
 * Softmax views its input as [outer, L, inner] and normalizes over L: before opset 13 the input
 * is coerced to 2-D at `axis` (L is the whole trailing part, inner = 1); from opset 13 L is the
 * single dim `axis`. Rows are normalized after subtracting their max so exp never overflows. */
/* no-trapping-math lets GCC if-convert, and so vectorize, selects whose arms do float
 * arithmetic; nothing here reads floating-point exception flags (Clang's default anyway). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

#include "../graph.h"
#include "vmath.h"
#include "../threads.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SM_PAR_MIN 16384
/* Strided softmax handles this many inner columns at once (max and sum live on the stack). */
#define SM_COLS 64

typedef struct softmax_params {
    int64_t axis;
} softmax_params;

static cs_status softmax_init(cs_node *n, const cs_attrs *a, cs_error *err)
{
    softmax_params *p = calloc(1, sizeof *p);
    if (!p) return cs_node_fail(err, CS_ERR_NOMEM, n, "out of memory");
    n->params = p;
    p->axis = cs_attr_int(a, "axis", n->opset < 13 ? 1 : -1);
    return CS_OK;
}

typedef struct sm_layout {
    int64_t outer, len, inner;
} sm_layout;

/* false when the axis is out of range for x. */
static bool sm_layout_of(const cs_node *n, const cs_tensor *x, sm_layout *l)
{
    int64_t axis = ((const softmax_params *)n->params)->axis;
    int r = x->ndim;
    if (axis < 0) axis += r;
    /* Before opset 13 axis == rank is accepted: the trailing part is empty (L = 1). */
    if (axis < 0 || axis > r || (axis == r && (n->opset >= 13 || r == 0))) return false;
    l->outer = l->len = l->inner = 1;
    for (int i = 0; i < r; i++) {
        if (i < axis)
            l->outer *= x->dims[i];
        else if (i == axis || n->opset < 13)
            l->len *= x->dims[i];
        else
            l->inner *= x->dims[i];
    }
    return true;
}

static cs_status softmax_shape(cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                               cs_error *err)
{
    const cs_tensor *x = in[0];
    if (!x) return cs_node_fail(err, CS_ERR_INVALID, n, "missing input");
    if (x->type != CS_F32) return cs_node_fail(err, CS_ERR_UNSUPPORTED, n, "input must be float32");
    sm_layout l;
    if (!sm_layout_of(n, x, &l)) {
        char b[96];
        return cs_node_fail(err, CS_ERR_INVALID, n, "axis %lld is out of range for input %s",
                            (long long)((const softmax_params *)n->params)->axis,
                            cs_shape_str(x, b, sizeof b));
    }
    cs_tensor_set_shape(out[0], CS_F32, x->ndim, x->dims);
    return CS_OK;
}

/* Sum and max with 8 partial results: vectorizes (a plain float reduction cannot be reordered)
 * and rounds less on long rows. */
static float row_sum(const float *x, int64_t n)
{
    float acc[8] = {0}, s = 0.f;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) acc[k] += x[i + k];
    for (; i < n; i++) s += x[i];
    for (int k = 0; k < 8; k++) s += acc[k];
    return s;
}

static float row_max(const float *x, int64_t n)
{
    float acc[8], m = -INFINITY;
    for (int k = 0; k < 8; k++) acc[k] = -INFINITY;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) acc[k] = MAXF(x[i + k], acc[k]);
    for (; i < n; i++) m = MAXF(x[i], m);
    for (int k = 0; k < 8; k++) m = MAXF(acc[k], m);
    return m;
}

/* One contiguous row. y may be x. */
static void sm_row(const float *x, float *y, int64_t len, bool log)
{
    float m = row_max(x, len);
    if (log) {
        /* exp values go to a stack buffer: y may alias x, which is still needed. */
        float buf[256], s = 0.f;
        for (int64_t i = 0; i < len; i += 256) {
            int64_t c = len - i < 256 ? len - i : 256;
            for (int64_t j = 0; j < c; j++) buf[j] = exp_fast(x[i + j] - m);
            s += row_sum(buf, c);
        }
        /* (x - m) - log(s), not x - (m + log(s)): m + log(s) would round at m's scale. */
        float ls = logf(s);
        for (int64_t i = 0; i < len; i++) y[i] = (x[i] - m) - ls;
    } else {
        for (int64_t i = 0; i < len; i++) y[i] = exp_fast(x[i] - m);
        float inv = 1.f / row_sum(y, len);
        for (int64_t i = 0; i < len; i++) y[i] *= inv;
    }
}

/* cols (<= SM_COLS) adjacent columns of stride `inner`, each normalized over len rows. */
static void sm_cols(const float *x, float *y, int64_t len, int64_t inner, int cols, bool log)
{
    float m[SM_COLS], s[SM_COLS];
    for (int c = 0; c < cols; c++) {
        m[c] = -INFINITY;
        s[c] = 0.f;
    }
    for (int64_t l = 0; l < len; l++)
        for (int c = 0; c < cols; c++) m[c] = MAXF(x[l * inner + c], m[c]);
    for (int64_t l = 0; l < len; l++)
        for (int c = 0; c < cols; c++) {
            float e = exp_fast(x[l * inner + c] - m[c]);
            if (!log) y[l * inner + c] = e;
            s[c] += e;
        }
    if (log) {
        for (int c = 0; c < cols; c++) s[c] = logf(s[c]);
        for (int64_t l = 0; l < len; l++)
            for (int c = 0; c < cols; c++) y[l * inner + c] = (x[l * inner + c] - m[c]) - s[c];
    } else {
        for (int c = 0; c < cols; c++) s[c] = 1.f / s[c];
        for (int64_t l = 0; l < len; l++)
            for (int c = 0; c < cols; c++) y[l * inner + c] *= s[c];
    }
}

typedef struct sm_job {
    sm_layout l;
    int64_t chunks; /* column chunks per outer index */
    bool log;
    const float *x;
    float *y;
} sm_job;

/* Work unit u = outer index * chunks + column chunk. */
static void sm_range(void *ctx, int64_t b, int64_t e)
{
    const sm_job *j = ctx;
    const sm_layout *l = &j->l;
    for (int64_t u = b; u < e; u++) {
        int64_t o = u / j->chunks, c0 = (u % j->chunks) * SM_COLS;
        int64_t off = o * l->len * l->inner + c0;
        if (l->inner == 1)
            sm_row(j->x + off, j->y + off, l->len, j->log);
        else {
            int cols = (int)(l->inner - c0 < SM_COLS ? l->inner - c0 : SM_COLS);
            sm_cols(j->x + off, j->y + off, l->len, l->inner, cols, j->log);
        }
    }
}

static void softmax_forward(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                            const cs_exec *ex)
{
    sm_job j = {.log = n->op == CS_OP_LOG_SOFTMAX, .x = in[0]->data, .y = out[0]->data};
    sm_layout_of(n, in[0], &j.l);
    if (in[0]->numel == 0) return;
    j.chunks = (j.l.inner + SM_COLS - 1) / SM_COLS;
    int64_t units = j.l.outer * j.chunks;
    if (in[0]->numel >= SM_PAR_MIN)
        cs_parallel_for(ex, units, sm_range, &j);
    else
        sm_range(&j, 0, units);
}

/* ---- Softmax backward ---------------------------------------------------------------------------
 *
 * From the forward's output y along each normalized line:
 *   Softmax:     gx = y * (g - Σ g*y)
 *   LogSoftmax:  gx = g - exp(y) * Σ g
 * split into the forward's work units (rows, or SM_COLS strided columns). */

/* Σ a[i]*b[i] with 8 partial sums (vectorizes). */
static float row_dot(const float *a, const float *b, int64_t n)
{
    float acc[8] = {0}, s = 0.f;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) acc[k] += a[i + k] * b[i + k];
    for (; i < n; i++) s += a[i] * b[i];
    for (int k = 0; k < 8; k++) s += acc[k];
    return s;
}

static void sm_grad_row(const float *y, const float *g, float *gx, int64_t len, bool log)
{
    if (log) {
        const float s = row_sum(g, len);
        for (int64_t i = 0; i < len; i++) gx[i] += g[i] - exp_fast(y[i]) * s;
    } else {
        const float s = row_dot(g, y, len);
        for (int64_t i = 0; i < len; i++) gx[i] += y[i] * (g[i] - s);
    }
}

static void sm_grad_cols(const float *y, const float *g, float *gx, int64_t len, int64_t inner,
                         int cols, bool log)
{
    float s[SM_COLS];
    for (int c = 0; c < cols; c++) s[c] = 0.f;
    for (int64_t l = 0; l < len; l++)
        for (int c = 0; c < cols; c++)
            s[c] += log ? g[l * inner + c] : g[l * inner + c] * y[l * inner + c];
    if (log)
        for (int64_t l = 0; l < len; l++)
            for (int c = 0; c < cols; c++)
                gx[l * inner + c] += g[l * inner + c] - exp_fast(y[l * inner + c]) * s[c];
    else
        for (int64_t l = 0; l < len; l++)
            for (int c = 0; c < cols; c++)
                gx[l * inner + c] += y[l * inner + c] * (g[l * inner + c] - s[c]);
}

typedef struct sm_grad_job {
    sm_layout l;
    int64_t chunks;
    bool log;
    const float *y, *g;
    float *gx;
} sm_grad_job;

static void sm_grad_range(void *ctx, int64_t b, int64_t e)
{
    const sm_grad_job *j = ctx;
    const sm_layout *l = &j->l;
    for (int64_t u = b; u < e; u++) {
        int64_t o = u / j->chunks, c0 = (u % j->chunks) * SM_COLS;
        int64_t off = o * l->len * l->inner + c0;
        if (l->inner == 1)
            sm_grad_row(j->y + off, j->g + off, j->gx + off, l->len, j->log);
        else {
            int cols = (int)(l->inner - c0 < SM_COLS ? l->inner - c0 : SM_COLS);
            sm_grad_cols(j->y + off, j->g + off, j->gx + off, l->len, l->inner, cols, j->log);
        }
    }
}

static void softmax_backward(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                             cs_tensor *const *gout, cs_tensor *const *gin, const cs_exec *ex)
{
    if (!gout[0] || !gin[0] || in[0]->numel == 0) return;
    sm_grad_job j = {.log = n->op == CS_OP_LOG_SOFTMAX,
                     .y = out[0]->data,
                     .g = gout[0]->data,
                     .gx = gin[0]->data};
    sm_layout_of(n, in[0], &j.l);
    j.chunks = (j.l.inner + SM_COLS - 1) / SM_COLS;
    int64_t units = j.l.outer * j.chunks;
    if (in[0]->numel >= SM_PAR_MIN)
        cs_parallel_for(ex, units, sm_grad_range, &j);
    else
        sm_grad_range(&j, 0, units);
}

/* ---- ReduceMean ------------------------------------------------------------------------------ */

typedef struct rm_params {
    int n_axes; /* from the attribute; -1: none given */
    int64_t axes[CS_MAX_DIMS];
    bool keepdims, noop_empty;
} rm_params;

static cs_status rm_init(cs_node *n, const cs_attrs *a, cs_error *err)
{
    rm_params *p = calloc(1, sizeof *p);
    if (!p) return cs_node_fail(err, CS_ERR_NOMEM, n, "out of memory");
    p->n_axes = -1;
    if (cs_attr_find(a, "axes")) {
        p->n_axes = cs_attr_ints(a, "axes", p->axes, CS_MAX_DIMS);
        if (p->n_axes < 0) {
            free(p);
            return cs_node_fail(err, CS_ERR_INVALID, n, "more than %d axes", CS_MAX_DIMS);
        }
    }
    n->params = p;
    p->keepdims = cs_attr_int(a, "keepdims", 1) != 0;
    p->noop_empty = cs_attr_int(a, "noop_with_empty_axes", 0) != 0;
    return CS_OK;
}

/* Which dims of x are reduced. */
static cs_status rm_mask(const cs_node *n, cs_tensor *const *in, bool *mask, cs_error *err)
{
    const rm_params *p = n->params;
    const cs_tensor *x = in[0];
    int na = p->n_axes;
    int64_t axes[CS_MAX_DIMS];
    if (na > 0) memcpy(axes, p->axes, sizeof(int64_t) * (size_t)na);
    if (n->n_in > 1 && in[1]) {
        const cs_tensor *t = in[1];
        if (t->type != CS_I64 || t->ndim > 1)
            return cs_node_fail(err, CS_ERR_INVALID, n, "axes input must be a 1-D int64 tensor");
        if (!t->data)
            return cs_node_fail(err, CS_ERR_UNSUPPORTED, n, "axes input must be a constant");
        if (t->numel > CS_MAX_DIMS)
            return cs_node_fail(err, CS_ERR_INVALID, n, "more than %d axes", CS_MAX_DIMS);
        na = (int)t->numel;
        memcpy(axes, t->data, sizeof(int64_t) * (size_t)na);
    }
    for (int i = 0; i < x->ndim; i++) mask[i] = na <= 0 && !p->noop_empty;
    for (int k = 0; k < na; k++) {
        int ax = cs_axis(axes[k], x->ndim);
        if (ax < 0 || mask[ax]) {
            char b[96];
            return cs_node_fail(err, CS_ERR_INVALID, n, "axis %lld is %s for input %s",
                                (long long)axes[k], ax < 0 ? "out of range" : "repeated",
                                cs_shape_str(x, b, sizeof b));
        }
        mask[ax] = true;
    }
    return CS_OK;
}

static cs_status rm_shape(cs_node *n, cs_tensor *const *in, cs_tensor *const *out, cs_error *err)
{
    const rm_params *p = n->params;
    const cs_tensor *x = in[0];
    if (!x) return cs_node_fail(err, CS_ERR_INVALID, n, "missing input data");
    if (x->type != CS_F32) return cs_node_fail(err, CS_ERR_UNSUPPORTED, n, "input must be float32");
    bool mask[CS_MAX_DIMS];
    cs_status st = rm_mask(n, in, mask, err);
    if (st != CS_OK) return st;
    int nd = 0;
    int64_t dims[CS_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++)
        if (!mask[i])
            dims[nd++] = x->dims[i];
        else if (p->keepdims)
            dims[nd++] = 1;
    cs_tensor_set_shape(out[0], CS_F32, nd, dims);
    return CS_OK;
}

/* The input as alternating groups of kept and reduced dims (size-1 dims dropped). */
typedef struct rm_job {
    int m;
    int64_t size[CS_MAX_DIMS], xs[CS_MAX_DIMS], ys[CS_MAX_DIMS];
    bool red[CS_MAX_DIMS];
    const float *x;
    float *y;
} rm_job;

/* Accumulates the sums for group-0 indices [b, e) into y (zeroed by the caller). */
static void rm_range(void *ctx, int64_t b, int64_t e)
{
    const rm_job *j = ctx;
    const int last = j->m - 1;
    const int64_t len = j->size[last];
    int64_t idx[CS_MAX_DIMS] = {0};
    idx[0] = b;
    int64_t xo = b * j->xs[0], yo = b * j->ys[0];
    for (;;) {
        const float *x = j->x + xo;
        float *y = j->y + yo;
        if (j->red[last])
            *y += row_sum(x, len);
        else
            for (int64_t i = 0; i < len; i++) y[i] += x[i];
        int d = last - 1;
        for (; d >= 0; d--) {
            xo += j->xs[d];
            yo += j->ys[d];
            if (++idx[d] < (d == 0 ? e : j->size[d])) break;
            xo -= j->xs[d] * j->size[d];
            yo -= j->ys[d] * j->size[d];
            idx[d] = 0;
        }
        if (d < 0) return;
    }
}

static void rm_forward(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                       const cs_exec *ex)
{
    const cs_tensor *x = in[0];
    float *y = out[0]->data;
    bool mask[CS_MAX_DIMS];
    rm_mask(n, in, mask, NULL);
    int64_t count = 1;
    for (int i = 0; i < x->ndim; i++)
        if (mask[i]) count *= x->dims[i];
    if (x->numel == 0) {
        for (int64_t i = 0; i < out[0]->numel; i++) y[i] = NAN; /* mean of nothing */
        return;
    }
    rm_job j = {.m = 0, .x = x->data, .y = y};
    for (int i = 0; i < x->ndim; i++) {
        if (x->dims[i] == 1) continue;
        if (j.m > 0 && j.red[j.m - 1] == mask[i])
            j.size[j.m - 1] *= x->dims[i];
        else {
            j.size[j.m] = x->dims[i];
            j.red[j.m] = mask[i];
            j.m++;
        }
    }
    if (j.m == 0) {
        y[0] = *(const float *)x->data;
        return;
    }
    /* Contiguous strides: input over all groups, output over kept groups only. */
    int64_t xs = 1, ys = 1;
    for (int g = j.m - 1; g >= 0; g--) {
        j.xs[g] = xs;
        xs *= j.size[g];
        j.ys[g] = j.red[g] ? 0 : ys;
        if (!j.red[g]) ys *= j.size[g];
    }
    memset(y, 0, sizeof(float) * (size_t)out[0]->numel);
    if (j.m == 1) {
        /* One group: all reduced (one output) or none (a copy). */
        rm_range(&j, 0, 1);
    } else if (!j.red[0] && x->numel >= SM_PAR_MIN) {
        /* Outputs split along the first (kept) group: threads never share an output. */
        cs_parallel_for(ex, j.size[0], rm_range, &j);
    } else {
        rm_range(&j, 0, j.size[0]);
    }
    float inv = 1.f / (float)count;
    if (count != 1)
        for (int64_t i = 0; i < out[0]->numel; i++) y[i] *= inv;
}

/* ---- ReduceMean backward: gx = g / count, g broadcast over the reduced dims ------------------ */

typedef struct rm_grad_job {
    rm_job r; /* groups and strides as in forward; x is the gradient written */
    float inv;
    const float *g;
    float *gx;
} rm_grad_job;

/* Input (and gradient) elements of group-0 indices [b, e): every element is written once. */
static void rm_grad_range(void *ctx, int64_t b, int64_t e)
{
    const rm_grad_job *jg = ctx;
    const rm_job *j = &jg->r;
    const int last = j->m - 1;
    const int64_t len = j->size[last];
    const float inv = jg->inv;
    int64_t idx[CS_MAX_DIMS] = {0};
    idx[0] = b;
    int64_t xo = b * j->xs[0], yo = b * j->ys[0];
    for (;;) {
        float *gx = jg->gx + xo;
        const float *g = jg->g + yo;
        if (j->red[last]) {
            const float v = g[0] * inv;
            for (int64_t i = 0; i < len; i++) gx[i] += v;
        } else {
            for (int64_t i = 0; i < len; i++) gx[i] += g[i] * inv;
        }
        int d = last - 1;
        for (; d >= 0; d--) {
            xo += j->xs[d];
            yo += j->ys[d];
            if (++idx[d] < (d == 0 ? e : j->size[d])) break;
            xo -= j->xs[d] * j->size[d];
            yo -= j->ys[d] * j->size[d];
            idx[d] = 0;
        }
        if (d < 0) return;
    }
}

/* One group (all reduced, or none): flat elements [b, e). */
static void rm_grad_flat(void *ctx, int64_t b, int64_t e)
{
    const rm_grad_job *jg = ctx;
    const float inv = jg->inv;
    if (jg->r.red[0]) {
        const float v = jg->g[0] * inv;
        for (int64_t i = b; i < e; i++) jg->gx[i] += v;
    } else {
        for (int64_t i = b; i < e; i++) jg->gx[i] += jg->g[i] * inv;
    }
}

static void rm_backward(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                        cs_tensor *const *gout, cs_tensor *const *gin, const cs_exec *ex)
{
    const cs_tensor *x = in[0];
    if (!gout[0] || !gin[0] || x->numel == 0) return;
    bool mask[CS_MAX_DIMS];
    rm_mask(n, in, mask, NULL);
    int64_t count = 1;
    for (int i = 0; i < x->ndim; i++)
        if (mask[i]) count *= x->dims[i];
    rm_grad_job jg = {.inv = 1.f / (float)count, .g = gout[0]->data, .gx = gin[0]->data};
    rm_job *j = &jg.r;
    for (int i = 0; i < x->ndim; i++) {
        if (x->dims[i] == 1) continue;
        if (j->m > 0 && j->red[j->m - 1] == mask[i])
            j->size[j->m - 1] *= x->dims[i];
        else {
            j->size[j->m] = x->dims[i];
            j->red[j->m] = mask[i];
            j->m++;
        }
    }
    if (j->m == 0) {
        /* One element: a mean over size-1 dims. */
        *(float *)gin[0]->data += *(const float *)gout[0]->data;
        return;
    }
    int64_t xs = 1, ys = 1;
    for (int gi = j->m - 1; gi >= 0; gi--) {
        j->xs[gi] = xs;
        xs *= j->size[gi];
        j->ys[gi] = j->red[gi] ? 0 : ys;
        if (!j->red[gi]) ys *= j->size[gi];
    }
    /* Any split of the input is race-free here: each gradient element is written once. */
    if (j->m == 1) {
        if (x->numel >= SM_PAR_MIN)
            cs_parallel_for(ex, x->numel, rm_grad_flat, &jg);
        else
            rm_grad_flat(&jg, 0, x->numel);
    } else if (x->numel >= SM_PAR_MIN)
        cs_parallel_for(ex, j->size[0], rm_grad_range, &jg);
    else
        rm_grad_range(&jg, 0, j->size[0]);
}

const cs_op_def cs_def_softmax = {.onnx_name = "Softmax",
                                  .min_in = 1,
                                  .max_in = 1,
                                  .min_out = 1,
                                  .max_out = 1,
                                  .init = softmax_init,
                                  .shape = softmax_shape,
                                  .forward = softmax_forward,
                                  .backward = softmax_backward};

const cs_op_def cs_def_log_softmax = {.onnx_name = "LogSoftmax",
                                      .min_in = 1,
                                      .max_in = 1,
                                      .min_out = 1,
                                      .max_out = 1,
                                      .init = softmax_init,
                                      .shape = softmax_shape,
                                      .forward = softmax_forward,
                                      .backward = softmax_backward};

const cs_op_def cs_def_reduce_mean = {.onnx_name = "ReduceMean",
                                      .min_in = 1,
                                      .max_in = 2,
                                      .min_out = 1,
                                      .max_out = 1,
                                      .init = rm_init,
                                      .shape = rm_shape,
                                      .forward = rm_forward,
                                      .backward = rm_backward};
