/* Pad: constant, reflect, edge (and wrap) modes over any axes, float32 or int64. Negative pads
 * crop: the input is cropped first, then padded relative to the cropped region. */
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

const cs_op_def cs_def_pad = {
    .onnx_name = "Pad",
    .min_in = 1,
    .max_in = 4,
    .min_out = 1,
    .max_out = 1,
    .init = pad_init,
    .shape = pad_shape,
    .forward = pad_forward,
};
