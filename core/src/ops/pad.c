/* Pad: constant, reflect, edge (and wrap) modes over any axes, float32 or int64. Negative pads
 * crop: the input is cropped first, then padded relative to the cropped region.
 *
 * Backward folds each output's gradient back onto the input element it was copied from
 * (several outputs share one in the reflect, edge and wrap borders; cropped inputs get none),
 * and sums the constant positions into ∂constant_value when that is asked for. The mapping is
 * separable, so scratch holds per axis the list of outputs reading each input index; every
 * input row then gathers the output rows that read it, which keeps threads on disjoint rows. */
#include "../threads.h"
#include "shape_util.h"

#include <stdlib.h>
#include <string.h>

typedef enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE, PAD_WRAP } pad_mode;

typedef struct {
    pad_mode mode;
    int n; /* attribute pads (opset < 11); -1 when absent */
    int64_t pads[2 * CS_MAX_DIMS];
    float value;
} pad_params;

/* Per-axis geometry: `crop` input elements skipped at the start, `len` kept, then `before`
 * and `after` elements added around them (both >= 0). */
typedef struct {
    int64_t crop[CS_MAX_DIMS], len[CS_MAX_DIMS], before[CS_MAX_DIMS], after[CS_MAX_DIMS];
} pad_geom;

static cs_status pad_parse(cs_node *n, const cs_attrs *a, cs_error *err)
{
    pad_params *p = calloc(1, sizeof *p);
    if (!p) return cs_node_fail(err, CS_ERR_NOMEM, n, "out of memory");
    n->params = p;
    const char *m = cs_attr_string(a, "mode", "constant");
    if (strcmp(m, "constant") == 0)
        p->mode = PAD_CONSTANT;
    else if (strcmp(m, "reflect") == 0)
        p->mode = PAD_REFLECT;
    else if (strcmp(m, "edge") == 0)
        p->mode = PAD_EDGE;
    else if (strcmp(m, "wrap") == 0)
        p->mode = PAD_WRAP;
    else
        return cs_node_fail(err, CS_ERR_UNSUPPORTED, n, "mode '%s' is not supported", m);
    p->n = -1;
    if (n->opset < 11) {
        /* Pad-1 called the attribute "paddings". */
        const char *name = cs_attr_find(a, "pads") ? "pads" : "paddings";
        if (!cs_attr_find(a, name))
            return cs_node_fail(err, CS_ERR_INVALID, n, "missing attribute 'pads'");
        p->n = cs_attr_ints(a, name, p->pads, 2 * CS_MAX_DIMS);
        if (p->n < 0)
            return cs_node_fail(err, CS_ERR_UNSUPPORTED, n, "more than %d pads", 2 * CS_MAX_DIMS);
        p->value = cs_attr_float(a, "value", 0.f);
    }
    return CS_OK;
}
CS_INIT_WRAP(pad_init, pad_parse)

/* Source index along one axis for output index i; -1 selects the constant value. */
static int64_t pad_src(pad_mode mode, int64_t i, int64_t before, int64_t len, int64_t crop)
{
    int64_t j = i - before;
    if (j < 0 || j >= len) {
        if (mode == PAD_CONSTANT) return -1;
        if (mode == PAD_EDGE) {
            j = j < 0 ? 0 : len - 1;
        } else if (mode == PAD_WRAP) {
            j %= len;
            if (j < 0) j += len;
        } else if (len == 1) {
            j = 0;
        } else { /* reflect without repeating the border, periodic beyond one reflection */
            int64_t period = 2 * (len - 1);
            j %= period;
            if (j < 0) j += period;
            if (j >= len) j = period - j;
        }
    }
    return j + crop;
}

static cs_status pad_geometry(const cs_node *n, cs_tensor *const *in, pad_geom *g, cs_error *err)
{
    const pad_params *p = n->params;
    const cs_tensor *x = in[0];
    int64_t pads[2 * CS_MAX_DIMS], axes[CS_MAX_DIMS];
    int k = 0, ka = -1, r = x->ndim;
    char b[64], c[128];
    cs_status st = CS_OK;
    if (n->opset < 11) {
        k = p->n;
        memcpy(pads, p->pads, sizeof pads);
    } else {
        if (n->n_in < 2 || !in[1])
            return cs_node_fail(err, CS_ERR_INVALID, n, "missing pads input");
        st = cs_read_ints(n, in[1], "pads", pads, 2 * CS_MAX_DIMS, &k, err);
        if (st == CS_OK && n->n_in > 3 && in[3] && in[3]->numel)
            st = cs_read_ints(n, in[3], "axes", axes, CS_MAX_DIMS, &ka, err);
        if (st != CS_OK) return st;
    }
    int na = ka >= 0 ? ka : r;
    if (k != 2 * na)
        return cs_node_fail(
            err, CS_ERR_INVALID, n, "pads %s has %d values, expected %d for input shape %s",
            cs_ints_str(pads, k, c, sizeof c), k, 2 * na, cs_shape_str(x, b, sizeof b));
    int64_t lo[CS_MAX_DIMS] = {0}, hi[CS_MAX_DIMS] = {0};
    int seen[CS_MAX_DIMS] = {0};
    for (int i = 0; i < na; i++) {
        int a = ka >= 0 ? cs_axis(axes[i], r) : i;
        if (a < 0 || seen[a]++)
            return cs_node_fail(err, CS_ERR_INVALID, n,
                                "axes %s out of range or repeated for rank %d",
                                cs_ints_str(axes, ka, c, sizeof c), r);
        lo[a] = pads[i];
        hi[a] = pads[i + na];
    }
    for (int d = 0; d < r; d++) {
        int64_t cl = lo[d] < 0 ? -lo[d] : 0, ch = hi[d] < 0 ? -hi[d] : 0;
        g->crop[d] = cl;
        g->len[d] = x->dims[d] - cl - ch;
        g->before[d] = lo[d] > 0 ? lo[d] : 0;
        g->after[d] = hi[d] > 0 ? hi[d] : 0;
        if (g->len[d] < 0)
            return cs_node_fail(err, CS_ERR_INVALID, n,
                                "pads %s crop more than dimension %d of input shape %s",
                                cs_ints_str(pads, k, c, sizeof c), d, cs_shape_str(x, b, sizeof b));
        if (g->len[d] == 0 && p->mode != PAD_CONSTANT && g->before[d] + g->after[d] > 0)
            return cs_node_fail(err, CS_ERR_INVALID, n,
                                "cannot pad empty axis %d of input shape %s in mode %s", d,
                                cs_shape_str(x, b, sizeof b),
                                p->mode == PAD_EDGE   ? "edge"
                                : p->mode == PAD_WRAP ? "wrap"
                                                      : "reflect");
    }
    return CS_OK;
}

static cs_status pad_shape(cs_node *n, cs_tensor *const *in, cs_tensor *const *out, cs_error *err)
{
    const cs_tensor *x = in[0];
    pad_geom g;
    cs_status st = cs_need_data_type(n, x, "data", err);
    if (st == CS_OK) st = pad_geometry(n, in, &g, err);
    if (st != CS_OK) return st;
    if (n->opset >= 11 && n->n_in > 2 && in[2]) {
        const cs_tensor *v = in[2];
        if (v->type != x->type || v->numel > 1)
            return cs_node_fail(err, CS_ERR_INVALID, n,
                                "constant_value must be one element of the data's type (type %d, "
                                "%lld elements)",
                                (int)v->type, (long long)v->numel);
    }
    int64_t d[CS_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) d[i] = g.before[i] + g.len[i] + g.after[i];
    cs_tensor_set_shape(out[0], x->type, x->ndim, d);
    return CS_OK;
}

typedef struct {
    pad_mode mode;
    const pad_geom *g;
    int ndim;
    size_t es;
    const char *src;
    char *dst;
    const int64_t *odims;
    int64_t istr[CS_MAX_DIMS];
    char value[8]; /* the constant, as one element */
} pad_job;

static void fill(char *dst, const char *v, size_t es, int64_t n)
{
    if (es == 4) {
        uint32_t x, *d = (uint32_t *)dst;
        memcpy(&x, v, 4);
        for (int64_t i = 0; i < n; i++) d[i] = x;
    } else {
        uint64_t x, *d = (uint64_t *)dst;
        memcpy(&x, v, 8);
        for (int64_t i = 0; i < n; i++) d[i] = x;
    }
}

/* One unit = one output row (all dims but the last). */
static void pad_rows(void *ctx, int64_t b, int64_t e)
{
    const pad_job *j = ctx;
    const pad_geom *g = j->g;
    int last = j->ndim - 1;
    int64_t w = j->odims[last];
    size_t es = j->es;
    for (int64_t row = b; row < e; row++) {
        char *d = j->dst + (size_t)(row * w) * es;
        int64_t off = 0, rem = row;
        int outside = 0;
        for (int k = last - 1; k >= 0 && !outside; k--) {
            int64_t i = rem % j->odims[k];
            rem /= j->odims[k];
            int64_t s = pad_src(j->mode, i, g->before[k], g->len[k], g->crop[k]);
            if (s < 0)
                outside = 1;
            else
                off += s * j->istr[k];
        }
        if (outside) {
            fill(d, j->value, es, w);
            continue;
        }
        const char *s = j->src + (size_t)(off + g->crop[last]) * es;
        int64_t bl = g->before[last], len = g->len[last];
        for (int64_t i = 0; i < w; i++) {
            if (i == bl && len > 0) { /* the kept middle in one copy */
                memcpy(d + (size_t)i * es, s, (size_t)len * es);
                i += len - 1;
                continue;
            }
            int64_t si = pad_src(j->mode, i, bl, len, g->crop[last]);
            if (si < 0)
                memcpy(d + (size_t)i * es, j->value, es);
            else
                memcpy(d + (size_t)i * es, j->src + (size_t)(off + si) * es, es);
        }
    }
}

static void pad_forward(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                        const cs_exec *ex)
{
    const pad_params *p = n->params;
    const cs_tensor *x = in[0];
    cs_tensor *y = out[0];
    pad_geom g;
    if (y->numel == 0 || pad_geometry(n, in, &g, NULL) != CS_OK) return;
    pad_job j = {.mode = p->mode,
                 .g = &g,
                 .ndim = x->ndim,
                 .es = cs_dtype_size(x->type),
                 .src = x->data,
                 .dst = y->data,
                 .odims = y->dims};
    cs_strides(x->ndim, x->dims, j.istr);
    float vf = p->value;
    int64_t vi = (int64_t)p->value;
    if (n->opset >= 11) {
        const cs_tensor *v = n->n_in > 2 ? in[2] : NULL;
        vf = 0.f;
        vi = 0;
        if (v && v->numel && x->type == CS_F32) vf = *(const float *)v->data;
        if (v && v->numel && x->type == CS_I64) vi = *(const int64_t *)v->data;
    }
    if (x->type == CS_F32)
        memcpy(j.value, &vf, 4);
    else
        memcpy(j.value, &vi, 8);
    if (x->ndim == 0) {
        memcpy(y->data, x->data, j.es);
        return;
    }
    int64_t rows = y->numel / y->dims[x->ndim - 1];
    cs_parallel_for(cs_tensor_bytes(y) >= 256 * 1024 ? ex : NULL, rows, pad_rows, &j);
}

/* ---- backward ------------------------------------------------------------------------ */

/* Per axis d < ndim: first[d][s] .. first[d][s + 1] index outs[d], the output indices whose
 * source along d is s (ascending). Laid out in scratch as first (in + 1), then outs (out). */
typedef struct {
    const int64_t *first[CS_MAX_DIMS], *outs[CS_MAX_DIMS];
} pad_pre;

static size_t pad_bwd_scratch(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out)
{
    size_t k = 0;
    for (int d = 0; d < in[0]->ndim; d++) k += (size_t)(in[0]->dims[d] + 1 + out[0]->dims[d]);
    return k * sizeof(int64_t);
}

static void pad_pre_build(pad_mode mode, const pad_geom *g, int ndim, const int64_t *idims,
                          const int64_t *odims, int64_t *mem, pad_pre *pp)
{
    for (int d = 0; d < ndim; d++) {
        int64_t *first = mem, *outs = mem + idims[d] + 1;
        mem = outs + odims[d];
        memset(first, 0, sizeof(int64_t) * (size_t)(idims[d] + 1));
        for (int64_t i = 0; i < odims[d]; i++) {
            int64_t s = pad_src(mode, i, g->before[d], g->len[d], g->crop[d]);
            if (s >= 0) first[s + 1]++;
        }
        for (int64_t s = 0; s < idims[d]; s++) first[s + 1] += first[s];
        /* fill by bumping first[s] (the start of the next list), then shift back */
        for (int64_t i = 0; i < odims[d]; i++) {
            int64_t s = pad_src(mode, i, g->before[d], g->len[d], g->crop[d]);
            if (s >= 0) outs[first[s]++] = i;
        }
        for (int64_t s = idims[d]; s > 0; s--) first[s] = first[s - 1];
        first[0] = 0;
        pp->first[d] = first;
        pp->outs[d] = outs;
    }
}

typedef struct {
    pad_mode mode;
    const pad_geom *g;
    const pad_pre *pp;
    int ndim;
    const int64_t *idims, *odims;
    float *gx;
    const float *gy;
} pad_bwd;

/* One unit = one input row: gathers the gradient of every output row copied from it. */
static void pad_bwd_rows(void *ctx, int64_t b, int64_t e)
{
    const pad_bwd *j = ctx;
    const pad_geom *g = j->g;
    int last = j->ndim - 1;
    int64_t iw = j->idims[last], ow = j->odims[last], bl = g->before[last], len = g->len[last];
    int64_t ostr[CS_MAX_DIMS]; /* output row strides over the axes before the last */
    int64_t s = 1;
    for (int d = last - 1; d >= 0; d--) {
        ostr[d] = s;
        s *= j->odims[d];
    }
    for (int64_t row = b; row < e; row++) {
        int64_t lo[CS_MAX_DIMS], hi[CS_MAX_DIMS], at[CS_MAX_DIMS], rem = row;
        int empty = 0;
        for (int d = last - 1; d >= 0; d--) {
            int64_t si = rem % j->idims[d];
            rem /= j->idims[d];
            lo[d] = at[d] = j->pp->first[d][si];
            hi[d] = j->pp->first[d][si + 1];
            empty |= lo[d] == hi[d];
        }
        if (empty) continue;
        float *restrict gx = j->gx + row * iw;
        for (;;) {
            int64_t orow = 0;
            for (int d = 0; d < last; d++) orow += j->pp->outs[d][at[d]] * ostr[d];
            const float *restrict gy = j->gy + orow * ow;
            if (len > 0) cs_add_f32(gx + g->crop[last], gy + bl, len);
            for (int64_t i = 0; i < ow; i++) {
                if (i == bl) i += len;
                if (i >= ow) break;
                int64_t si = pad_src(j->mode, i, bl, len, g->crop[last]);
                if (si >= 0) gx[si] += gy[i];
            }
            int d = last - 1;
            for (; d >= 0; d--) {
                if (++at[d] < hi[d]) break;
                at[d] = lo[d];
            }
            if (d < 0) break;
        }
    }
}

/* Σ ∂y over the positions that hold the constant (constant mode only). */
static double pad_const_grad(const pad_geom *g, int ndim, const int64_t *odims, const float *gy)
{
    int last = ndim - 1;
    int64_t ow = odims[last], bl = g->before[last], len = g->len[last];
    double sum = 0;
    int64_t rows = 1;
    for (int d = 0; d < last; d++) rows *= odims[d];
    for (int64_t row = 0; row < rows; row++) {
        int64_t rem = row;
        int outside = 0;
        for (int d = last - 1; d >= 0; d--) {
            int64_t i = rem % odims[d];
            rem /= odims[d];
            outside |= pad_src(PAD_CONSTANT, i, g->before[d], g->len[d], g->crop[d]) < 0;
        }
        const float *y = gy + row * ow;
        for (int64_t i = 0; i < ow; i++)
            if (outside || i < bl || i >= bl + len) sum += y[i];
    }
    return sum;
}

static void pad_backward(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                         cs_tensor *const *gout, cs_tensor *const *gin, const cs_exec *ex)
{
    const pad_params *p = n->params;
    const cs_tensor *x = in[0];
    const float *gy = cs_gout_f32(gout, 0);
    float *gx = cs_gin_f32(gin, n->n_in, 0);
    float *gv = n->opset >= 11 ? cs_gin_f32(gin, n->n_in, 2) : NULL;
    pad_geom g;
    if (!gy || pad_geometry(n, in, &g, NULL) != CS_OK) return;
    if (x->ndim == 0) {
        if (gx) gx[0] += gy[0];
        return;
    }
    if (gv && p->mode == PAD_CONSTANT)
        gv[0] += (float)pad_const_grad(&g, x->ndim, out[0]->dims, gy);
    if (!gx) return;
    pad_pre pp;
    pad_pre_build(p->mode, &g, x->ndim, x->dims, out[0]->dims, ex->scratch, &pp);
    pad_bwd j = {p->mode, &g, &pp, x->ndim, x->dims, out[0]->dims, gx, gy};
    int64_t rows = x->numel / x->dims[x->ndim - 1];
    cs_parallel_for(out[0]->numel >= CS_GRAD_PAR_ELEMS ? ex : NULL, rows, pad_bwd_rows, &j);
}

const cs_op_def cs_def_pad = {
    .onnx_name = "Pad",
    .min_in = 1,
    .max_in = 4,
    .min_out = 1,
    .max_out = 1,
    .init = pad_init,
    .shape = pad_shape,
    .forward = pad_forward,
    .backward = pad_backward,
    .backward_scratch = pad_bwd_scratch,
};
