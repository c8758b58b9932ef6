/* Shape ops that only change metadata: Flatten, Reshape, Squeeze, Unsqueeze (aliases of their
 * input), Shape, Constant and ConstantOfShape. The data-moving ones (Concat, Transpose,
 * Gather, Slice) are in shape_copy.c. The aliases' gradient is the upstream one, unchanged in
 * order: their gradient buffers are separate even when the values share memory. Shape,
 * Constant and ConstantOfShape have no float input to differentiate. */
#include "shape_util.h"

#include <stdlib.h>
#include <string.h>

/* Attributes of the small ops: an axis, or a list of ints (axes, shape), plus flags. */
typedef struct {
    int64_t axis;
    int n; /* -1: attribute absent */
    int64_t v[CS_MAX_VEC];
    int allowzero;
    int64_t start, end;
    int has_end;
} small_params;

static cs_status small_alloc(cs_node *n, small_params **p, cs_error *err)
{
    *p = calloc(1, sizeof **p);
    if (!*p) return cs_node_fail(err, CS_ERR_NOMEM, n, "out of memory");
    (*p)->n = -1;
    n->params = *p;
    return CS_OK;
}

/* Reads an optional ints attribute into p->v (p->n = -1 when absent). */
static cs_status small_ints(cs_node *n, const cs_attrs *a, const char *name, small_params *p,
                            cs_error *err)
{
    const cs_attr *at = cs_attr_find(a, name);
    if (!at) return CS_OK;
    if (at->type != CS_ATTR_INTS)
        return cs_node_fail(err, CS_ERR_INVALID, n, "attribute '%s' must be a list of ints", name);
    p->n = cs_attr_ints(a, name, p->v, CS_MAX_VEC);
    if (p->n < 0)
        return cs_node_fail(err, CS_ERR_UNSUPPORTED, n, "attribute '%s' has %d values (at most %d)",
                            name, at->n, CS_MAX_VEC);
    return CS_OK;
}

static cs_status need_in(const cs_node *n, cs_tensor *const *in, int i, const char *what,
                         cs_error *err)
{
    if (i >= n->n_in || !in[i])
        return cs_node_fail(err, CS_ERR_INVALID, n, "missing input %d (%s)", i, what);
    return CS_OK;
}

static void alias_forward(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                          const cs_exec *ex)
{
    cs_alias_copy(in[0], out[0]);
}

/* ∂in[0] += ∂out[0], element for element (same count, another shape). */
static void alias_backward(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                           cs_tensor *const *gout, cs_tensor *const *gin, const cs_exec *ex)
{
    float *gx = cs_gin_f32(gin, n->n_in, 0);
    const float *gy = cs_gout_f32(gout, 0);
    if (!gx || !gy || gin[0]->numel != gout[0]->numel) return;
    cs_add_f32_par(ex, gx, gy, gin[0]->numel);
}

/* ---- Flatten ------------------------------------------------------------------------ */

static cs_status flatten_init(cs_node *n, const cs_attrs *a, cs_error *err)
{
    small_params *p;
    cs_status st = small_alloc(n, &p, err);
    if (st == CS_OK) p->axis = cs_attr_int(a, "axis", 1);
    return st;
}

static cs_status flatten_shape(cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                               cs_error *err)
{
    const small_params *p = n->params;
    const cs_tensor *x = in[0];
    cs_status st = cs_need_data_type(n, x, "input", err);
    if (st != CS_OK) return st;
    int64_t axis = p->axis;
    char b[64];
    if (axis < -x->ndim || axis > x->ndim || (axis < 0 && n->opset < 11))
        return cs_node_fail(err, CS_ERR_INVALID, n, "axis %lld out of range for input shape %s",
                            (long long)axis, cs_shape_str(x, b, sizeof b));
    if (axis < 0) axis += x->ndim;
    int64_t d[2] = {1, 1};
    for (int i = 0; i < x->ndim; i++) d[i < axis ? 0 : 1] *= x->dims[i];
    cs_tensor_set_shape(out[0], x->type, 2, d);
    return CS_OK;
}

const cs_op_def cs_def_flatten = {
    .onnx_name = "Flatten",
    .min_in = 1,
    .max_in = 1,
    .min_out = 1,
    .max_out = 1,
    .flags = CS_OPF_ALIAS,
    .init = flatten_init,
    .shape = flatten_shape,
    .forward = alias_forward,
    .backward = alias_backward,
};

/* ---- Reshape ------------------------------------------------------------------------ */

static cs_status reshape_parse(cs_node *n, const cs_attrs *a, cs_error *err)
{
    small_params *p;
    cs_status st = small_alloc(n, &p, err);
    if (st != CS_OK) return st;
    p->allowzero = n->opset >= 14 && cs_attr_int(a, "allowzero", 0) != 0;
    if (n->opset < 5) {
        st = small_ints(n, a, "shape", p, err);
        if (st == CS_OK && p->n < 0)
            st = cs_node_fail(err, CS_ERR_INVALID, n, "missing attribute 'shape'");
    }
    return st;
}
CS_INIT_WRAP(reshape_init, reshape_parse)

/* Output dims of Reshape: 0 copies the input dim (unless allowzero), -1 is inferred. */
static cs_status reshape_dims(const cs_node *n, const cs_tensor *x, const int64_t *s, int k,
                              int allowzero, int64_t *d, cs_error *err)
{
    char b[64], c[128];
    int infer = -1, has_zero = 0;
    int64_t known = 1;
    for (int i = 0; i < k; i++) {
        int64_t v = s[i];
        if (v == -1) {
            if (infer >= 0)
                return cs_node_fail(err, CS_ERR_INVALID, n, "shape %s has more than one -1",
                                    cs_ints_str(s, k, c, sizeof c));
            infer = i;
            continue;
        }
        if (v == 0 && !allowzero) {
            if (i >= x->ndim)
                return cs_node_fail(err, CS_ERR_INVALID, n,
                                    "shape %s: 0 at position %d copies a dimension that input "
                                    "shape %s does not have",
                                    cs_ints_str(s, k, c, sizeof c), i,
                                    cs_shape_str(x, b, sizeof b));
            v = x->dims[i];
        } else if (v < 0) {
            return cs_node_fail(err, CS_ERR_INVALID, n, "shape %s has invalid dimension %lld",
                                cs_ints_str(s, k, c, sizeof c), (long long)v);
        }
        if (v == 0) has_zero = 1;
        if (v > 0 && known > INT64_MAX / v)
            return cs_node_fail(err, CS_ERR_INVALID, n,
                                "shape %s has more elements than int64 can count",
                                cs_ints_str(s, k, c, sizeof c));
        d[i] = v;
        known *= v;
    }
    if (infer >= 0) {
        if (allowzero && has_zero)
            return cs_node_fail(err, CS_ERR_INVALID, n,
                                "shape %s has both -1 and 0 with allowzero=1",
                                cs_ints_str(s, k, c, sizeof c));
        if (known == 0 || x->numel % known != 0)
            return cs_node_fail(err, CS_ERR_INVALID, n,
                                "cannot reshape input shape %s to %s: -1 cannot be inferred",
                                cs_shape_str(x, b, sizeof b), cs_ints_str(s, k, c, sizeof c));
        d[infer] = x->numel / known;
    } else if (known != x->numel) {
        return cs_node_fail(err, CS_ERR_INVALID, n,
                            "cannot reshape input shape %s (%lld elements) to %s (%lld elements)",
                            cs_shape_str(x, b, sizeof b), (long long)x->numel,
                            cs_ints_str(s, k, c, sizeof c), (long long)known);
    }
    return CS_OK;
}

static cs_status reshape_shape(cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                               cs_error *err)
{
    const small_params *p = n->params;
    int64_t s[CS_MAX_DIMS], d[CS_MAX_DIMS];
    int k = p->n;
    cs_status st = cs_need_data_type(n, in[0], "data", err);
    if (st != CS_OK) return st;
    if (n->opset < 5) {
        if (k > CS_MAX_DIMS)
            return cs_node_fail(err, CS_ERR_UNSUPPORTED, n, "shape has %d dims (at most %d)", k,
                                CS_MAX_DIMS);
        memcpy(s, p->v, sizeof(int64_t) * (size_t)k);
    } else {
        st = need_in(n, in, 1, "shape", err);
        if (st == CS_OK) st = cs_read_ints(n, in[1], "shape", s, CS_MAX_DIMS, &k, err);
        if (st != CS_OK) return st;
    }
    st = reshape_dims(n, in[0], s, k, p->allowzero, d, err);
    if (st == CS_OK) cs_tensor_set_shape(out[0], in[0]->type, k, d);
    return st;
}

const cs_op_def cs_def_reshape = {
    .onnx_name = "Reshape",
    .min_in = 1,
    .max_in = 2,
    .min_out = 1,
    .max_out = 1,
    .flags = CS_OPF_ALIAS,
    .init = reshape_init,
    .shape = reshape_shape,
    .forward = alias_forward,
    .backward = alias_backward,
};

/* ---- Squeeze / Unsqueeze -------------------------------------------------------------- */

static cs_status axes_parse(cs_node *n, const cs_attrs *a, cs_error *err)
{
    small_params *p;
    cs_status st = small_alloc(n, &p, err);
    if (st == CS_OK && n->opset < 13) st = small_ints(n, a, "axes", p, err);
    return st;
}
CS_INIT_WRAP(axes_init, axes_parse)

/* The axes list: attribute before opset 13, optional input 1 from 13. k = -1: none given. */
static cs_status axes_get(const cs_node *n, cs_tensor *const *in, int64_t *axes, int *k,
                          cs_error *err)
{
    const small_params *p = n->params;
    if (n->opset < 13) {
        *k = p->n;
        if (*k > 0) memcpy(axes, p->v, sizeof(int64_t) * (size_t)*k);
        return CS_OK;
    }
    *k = -1;
    if (n->n_in < 2 || !in[1]) return CS_OK;
    return cs_read_ints(n, in[1], "axes", axes, CS_MAX_VEC, k, err);
}

/* Normalizes axes against rank r, rejecting out-of-range and repeated ones. */
static cs_status axes_norm(const cs_node *n, int64_t *axes, int k, int r, const cs_tensor *x,
                           cs_error *err)
{
    char b[64], c[128];
    for (int i = 0; i < k; i++) {
        int a = cs_axis(axes[i], r);
        if (a < 0)
            return cs_node_fail(err, CS_ERR_INVALID, n,
                                "axes %s: %lld out of range for rank %d (input shape %s)",
                                cs_ints_str(axes, k, c, sizeof c), (long long)axes[i], r,
                                cs_shape_str(x, b, sizeof b));
        for (int j = 0; j < i; j++)
            if (axes[j] == a)
                return cs_node_fail(err, CS_ERR_INVALID, n, "axes %s repeat axis %d",
                                    cs_ints_str(axes, k, c, sizeof c), a);
        axes[i] = a;
    }
    return CS_OK;
}

static cs_status squeeze_shape(cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                               cs_error *err)
{
    const cs_tensor *x = in[0];
    int64_t axes[CS_MAX_VEC], d[CS_MAX_DIMS];
    int k = -1, drop[CS_MAX_DIMS] = {0}, r = 0;
    cs_status st = cs_need_data_type(n, x, "input", err);
    if (st == CS_OK) st = axes_get(n, in, axes, &k, err);
    if (st == CS_OK) st = axes_norm(n, axes, k, x->ndim, x, err);
    if (st != CS_OK) return st;
    char b[64];
    if (k <= 0) { /* no axes, or an empty list (as onnxruntime reads it): every 1 goes */
        for (int i = 0; i < x->ndim; i++) drop[i] = x->dims[i] == 1;
    } else {
        for (int i = 0; i < k; i++) {
            if (x->dims[axes[i]] != 1)
                return cs_node_fail(err, CS_ERR_INVALID, n,
                                    "cannot squeeze axis %lld of size %lld (input shape %s)",
                                    (long long)axes[i], (long long)x->dims[axes[i]],
                                    cs_shape_str(x, b, sizeof b));
            drop[axes[i]] = 1;
        }
    }
    for (int i = 0; i < x->ndim; i++)
        if (!drop[i]) d[r++] = x->dims[i];
    cs_tensor_set_shape(out[0], x->type, r, d);
    return CS_OK;
}

static cs_status unsqueeze_shape(cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                                 cs_error *err)
{
    const cs_tensor *x = in[0];
    int64_t axes[CS_MAX_VEC], d[CS_MAX_DIMS];
    int k = -1, ins[CS_MAX_VEC] = {0};
    char b[64];
    cs_status st = cs_need_data_type(n, x, "input", err);
    if (st == CS_OK) st = axes_get(n, in, axes, &k, err);
    if (st != CS_OK) return st;
    if (k < 0) return cs_node_fail(err, CS_ERR_INVALID, n, "missing axes");
    int r = x->ndim + k;
    if (r > CS_MAX_DIMS)
        return cs_node_fail(err, CS_ERR_UNSUPPORTED, n,
                            "output rank %d from input shape %s and %d axes (at most %d)", r,
                            cs_shape_str(x, b, sizeof b), k, CS_MAX_DIMS);
    st = axes_norm(n, axes, k, r, x, err);
    if (st != CS_OK) return st;
    for (int i = 0; i < k; i++) ins[axes[i]] = 1;
    for (int i = 0, j = 0; i < r; i++) d[i] = ins[i] ? 1 : x->dims[j++];
    cs_tensor_set_shape(out[0], x->type, r, d);
    return CS_OK;
}

const cs_op_def cs_def_squeeze = {
    .onnx_name = "Squeeze",
    .min_in = 1,
    .max_in = 2,
    .min_out = 1,
    .max_out = 1,
    .flags = CS_OPF_ALIAS,
    .init = axes_init,
    .shape = squeeze_shape,
    .forward = alias_forward,
    .backward = alias_backward,
};

const cs_op_def cs_def_unsqueeze = {
    .onnx_name = "Unsqueeze",
    .min_in = 1,
    .max_in = 2,
    .min_out = 1,
    .max_out = 1,
    .flags = CS_OPF_ALIAS,
    .init = axes_init,
    .shape = unsqueeze_shape,
    .forward = alias_forward,
    .backward = alias_backward,
};

/* ---- Shape -------------------------------------------------------------------------- */

static cs_status shape_init(cs_node *n, const cs_attrs *a, cs_error *err)
{
    small_params *p;
    cs_status st = small_alloc(n, &p, err);
    if (st != CS_OK) return st;
    p->start = cs_attr_int(a, "start", 0);
    p->has_end = cs_attr_find(a, "end") != NULL;
    p->end = cs_attr_int(a, "end", 0);
    return CS_OK;
}

/* [start, end) of the dims Shape reports, clamped like the spec. */
static void shape_range(const small_params *p, int r, int64_t *start, int64_t *end)
{
    int64_t s = p->start, e = p->has_end ? p->end : r;
    if (s < 0) s += r;
    if (e < 0) e += r;
    s = s < 0 ? 0 : s > r ? r : s;
    e = e < 0 ? 0 : e > r ? r : e;
    *start = s;
    *end = e < s ? s : e;
}

static cs_status shape_shape(cs_node *n, cs_tensor *const *in, cs_tensor *const *out, cs_error *err)
{
    int64_t s, e;
    shape_range(n->params, in[0]->ndim, &s, &e);
    int64_t len = e - s;
    cs_tensor_set_shape(out[0], CS_I64, 1, &len);
    return CS_OK;
}

/* Reads only in[0]'s dims: at plan time its data may not exist yet. */
static void shape_forward(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                          const cs_exec *ex)
{
    int64_t s, e;
    shape_range(n->params, in[0]->ndim, &s, &e);
    int64_t *y = out[0]->data;
    for (int64_t i = s; i < e; i++) y[i - s] = in[0]->dims[i];
}

const cs_op_def cs_def_shape = {
    .onnx_name = "Shape",
    .min_in = 1,
    .max_in = 1,
    .min_out = 1,
    .max_out = 1,
    .flags = CS_OPF_SHAPE_ONLY,
    .init = shape_init,
    .shape = shape_shape,
    .forward = shape_forward,
};

/* ---- Constant ----------------------------------------------------------------------- */

/* The value: t.data points into the model's attribute tensor or into buf. */
typedef struct {
    cs_tensor t;
    int64_t buf[];
} const_params;

static cs_status constant_parse(cs_node *n, const cs_attrs *a, cs_error *err)
{
    static const char *const refused[] = {"sparse_value", "value_string", "value_strings"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        if (cs_attr_find(a, refused[i]))
            return cs_node_fail(err, CS_ERR_UNSUPPORTED, n, "attribute '%s' is not supported",
                                refused[i]);
    const cs_attr *v = cs_attr_find(a, "value");
    const cs_attr *vf = cs_attr_find(a, "value_float"), *vfs = cs_attr_find(a, "value_floats");
    const cs_attr *vi = cs_attr_find(a, "value_int"), *vis = cs_attr_find(a, "value_ints");
    size_t extra = 0;
    if (vfs && vfs->type == CS_ATTR_FLOATS)
        extra = sizeof(int64_t) * (size_t)vfs->n;
    else if (vis && vis->type == CS_ATTR_INTS)
        extra = sizeof(int64_t) * (size_t)vis->n;
    const_params *p = calloc(1, sizeof *p + extra + sizeof(int64_t));
    if (!p) return cs_node_fail(err, CS_ERR_NOMEM, n, "out of memory");
    n->params = p;
    p->t.data = p->buf;
    if (v && v->type == CS_ATTR_TENSOR && v->t) {
        cs_status st = cs_need_data_type(n, v->t, "attribute 'value'", err);
        if (st != CS_OK) return st;
        p->t = *v->t;
        p->t.name = NULL;
    } else if (vf && vf->type == CS_ATTR_FLOAT) {
        cs_tensor_set_shape(&p->t, CS_F32, 0, NULL);
        memcpy(p->buf, &vf->f, sizeof(float));
    } else if (vi && vi->type == CS_ATTR_INT) {
        cs_tensor_set_shape(&p->t, CS_I64, 0, NULL);
        p->buf[0] = vi->i;
    } else if (vfs && vfs->type == CS_ATTR_FLOATS) {
        int64_t d = vfs->n;
        cs_tensor_set_shape(&p->t, CS_F32, 1, &d);
        if (d) memcpy(p->buf, vfs->floats, sizeof(float) * (size_t)d);
    } else if (vis && vis->type == CS_ATTR_INTS) {
        int64_t d = vis->n;
        cs_tensor_set_shape(&p->t, CS_I64, 1, &d);
        if (d) memcpy(p->buf, vis->ints, sizeof(int64_t) * (size_t)d);
    } else {
        return cs_node_fail(err, CS_ERR_INVALID, n, "no value attribute");
    }
    return CS_OK;
}
CS_INIT_WRAP(constant_init, constant_parse)

static cs_status constant_shape(cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                                cs_error *err)
{
    const const_params *p = n->params;
    cs_tensor_set_shape(out[0], p->t.type, p->t.ndim, p->t.dims);
    return CS_OK;
}

static void constant_forward(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                             const cs_exec *ex)
{
    const const_params *p = n->params;
    size_t b = cs_tensor_bytes(out[0]);
    if (b) memcpy(out[0]->data, p->t.data, b);
}

const cs_op_def cs_def_constant = {
    .onnx_name = "Constant",
    .min_in = 0,
    .max_in = 0,
    .min_out = 1,
    .max_out = 1,
    .init = constant_init,
    .shape = constant_shape,
    .forward = constant_forward,
};

/* ---- ConstantOfShape ------------------------------------------------------------------ */

typedef struct {
    cs_dtype type;
    float f;
    int64_t i;
} cos_params;

static cs_status cos_parse(cs_node *n, const cs_attrs *a, cs_error *err)
{
    cos_params *p = calloc(1, sizeof *p);
    if (!p) return cs_node_fail(err, CS_ERR_NOMEM, n, "out of memory");
    n->params = p;
    p->type = CS_F32;
    const cs_attr *v = cs_attr_find(a, "value");
    if (!v) return CS_OK;
    if (v->type != CS_ATTR_TENSOR || !v->t || v->t->numel != 1)
        return cs_node_fail(err, CS_ERR_INVALID, n,
                            "attribute 'value' must be a one-element tensor");
    cs_status st = cs_need_data_type(n, v->t, "attribute 'value'", err);
    if (st != CS_OK) return st;
    p->type = v->t->type;
    if (p->type == CS_F32)
        p->f = *(const float *)v->t->data;
    else
        p->i = *(const int64_t *)v->t->data;
    return CS_OK;
}
CS_INIT_WRAP(cos_init, cos_parse)

static cs_status cos_shape(cs_node *n, cs_tensor *const *in, cs_tensor *const *out, cs_error *err)
{
    const cos_params *p = n->params;
    int64_t d[CS_MAX_DIMS];
    int k = 0;
    char c[128];
    cs_status st = cs_read_ints(n, in[0], "input shape", d, CS_MAX_DIMS, &k, err);
    if (st != CS_OK) return st;
    for (int i = 0; i < k; i++)
        if (d[i] < 0)
            return cs_node_fail(err, CS_ERR_INVALID, n, "negative dimension in shape %s",
                                cs_ints_str(d, k, c, sizeof c));
    cs_tensor_set_shape(out[0], p->type, k, d);
    return CS_OK;
}

static void cos_forward(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                        const cs_exec *ex)
{
    const cos_params *p = n->params;
    int64_t m = out[0]->numel;
    if (p->type == CS_F32) {
        float *y = out[0]->data;
        for (int64_t i = 0; i < m; i++) y[i] = p->f;
    } else {
        int64_t *y = out[0]->data;
        for (int64_t i = 0; i < m; i++) y[i] = p->i;
    }
}

const cs_op_def cs_def_constant_of_shape = {
    .onnx_name = "ConstantOfShape",
    .min_in = 1,
    .max_in = 1,
    .min_out = 1,
    .max_out = 1,
    .init = cos_init,
    .shape = cos_shape,
    .forward = cos_forward,
};
