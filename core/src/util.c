/* Errors, attributes and shape helpers shared by every op. */
#include "graph.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Model-supplied names go into messages: control characters (a newline in a node name) would
 * break the one-line error contract, so they become '?'. */
static void sanitize(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) *s = '?';
}

cs_status cs_fail(cs_error *err, cs_status st, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        sanitize(err->msg);
        err->status = st;
    }
    return st;
}

cs_status cs_node_fail(cs_error *err, cs_status st, const cs_node *n, const char *fmt, ...)
{
    if (err) {
        char reason[CS_ERROR_LEN];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(reason, sizeof reason, fmt, ap);
        va_end(ap);
        snprintf(err->msg, sizeof err->msg, "node '%s' (%s): %s", n->name ? n->name : "?",
                 n->op_type ? n->op_type : "?", reason);
        sanitize(err->msg);
        err->status = st;
    }
    return st;
}

size_t cs_dtype_size(cs_dtype t)
{
    return t == CS_I64 ? 8 : 4;
}

size_t cs_tensor_bytes(const cs_tensor *t)
{
    return (size_t)t->numel * cs_dtype_size(t->type);
}

const char *cs_shape_str(const cs_tensor *t, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = 0;
    if (t->ndim == 0) {
        snprintf(buf, len, "scalar");
        return buf;
    }
    for (int i = 0; i < t->ndim && o < len; i++) {
        int w = snprintf(buf + o, len - o, i ? "x%lld" : "%lld", (long long)t->dims[i]);
        if (w < 0) break;
        o += (size_t)w;
    }
    return buf;
}

void cs_tensor_set_shape(cs_tensor *t, cs_dtype type, int ndim, const int64_t *dims)
{
    t->type = type;
    t->ndim = ndim;
    t->numel = 1;
    for (int i = 0; i < ndim; i++) {
        t->dims[i] = dims[i];
        /* Saturate instead of overflowing: the planner refuses anything past 2^31 elements. */
        if (dims[i] < 0 || __builtin_mul_overflow(t->numel, dims[i], &t->numel))
            t->numel = INT64_MAX;
    }
    for (int i = ndim; i < CS_MAX_DIMS; i++) t->dims[i] = 0;
}

int cs_axis(int64_t axis, int ndim)
{
    if (axis < 0) axis += ndim;
    if (axis < 0 || axis >= ndim) return -1;
    return (int)axis;
}

bool cs_broadcast_shape(const cs_tensor *a, const cs_tensor *b, int *ndim, int64_t *dims)
{
    int n = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int i = 0; i < n; i++) {
        int ia = a->ndim - n + i, ib = b->ndim - n + i;
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da != db && da != 1 && db != 1) return false;
        dims[i] = da == 1 ? db : da;
    }
    *ndim = n;
    return true;
}

const cs_attr *cs_attr_find(const cs_attrs *as, const char *name)
{
    for (int i = 0; as && i < as->n; i++)
        if (strcmp(as->a[i].name, name) == 0) return &as->a[i];
    return NULL;
}

int64_t cs_attr_int(const cs_attrs *as, const char *name, int64_t def)
{
    const cs_attr *a = cs_attr_find(as, name);
    return a && a->type == CS_ATTR_INT ? a->i : def;
}

float cs_attr_float(const cs_attrs *as, const char *name, float def)
{
    const cs_attr *a = cs_attr_find(as, name);
    if (!a) return def;
    if (a->type == CS_ATTR_FLOAT) return a->f;
    if (a->type == CS_ATTR_INT) return (float)a->i;
    return def;
}

const char *cs_attr_string(const cs_attrs *as, const char *name, const char *def)
{
    const cs_attr *a = cs_attr_find(as, name);
    return a && a->type == CS_ATTR_STRING ? a->s : def;
}

int cs_attr_ints(const cs_attrs *as, const char *name, int64_t *out, int max)
{
    const cs_attr *a = cs_attr_find(as, name);
    if (!a || a->type != CS_ATTR_INTS) return 0;
    if (a->n > max) return -1;
    memcpy(out, a->ints, sizeof(int64_t) * (size_t)a->n);
    return a->n;
}

int cs_attr_floats(const cs_attrs *as, const char *name, float *out, int max)
{
    const cs_attr *a = cs_attr_find(as, name);
    if (!a || a->type != CS_ATTR_FLOATS) return 0;
    if (a->n > max) return -1;
    memcpy(out, a->floats, sizeof(float) * (size_t)a->n);
    return a->n;
}

/* Plain comparisons instead of fminf/fmaxf: GCC keeps those as library calls and the loops
 * would not vectorize. */
static inline float clampf(float v, float lo, float hi)
{
    v = v < lo ? lo : v;
    return v > hi ? hi : v;
}

void cs_act_apply(const cs_act *act, float *x, int64_t n)
{
    switch (act->kind) {
    case CS_ACT_NONE:
        return;
    case CS_ACT_RELU:
        for (int64_t i = 0; i < n; i++) x[i] = x[i] > 0.f ? x[i] : 0.f;
        return;
    case CS_ACT_LEAKY_RELU:
        for (int64_t i = 0; i < n; i++) x[i] = x[i] >= 0.f ? x[i] : x[i] * act->a;
        return;
    case CS_ACT_CLIP:
        for (int64_t i = 0; i < n; i++) x[i] = clampf(x[i], act->a, act->b);
        return;
    case CS_ACT_SIGMOID:
        for (int64_t i = 0; i < n; i++) x[i] = 1.f / (1.f + expf(-x[i]));
        return;
    case CS_ACT_HARD_SIGMOID:
        for (int64_t i = 0; i < n; i++) x[i] = clampf(act->a * x[i] + act->b, 0.f, 1.f);
        return;
    case CS_ACT_HARD_SWISH:
        for (int64_t i = 0; i < n; i++) x[i] = x[i] * clampf(x[i] / 6.f + 0.5f, 0.f, 1.f);
        return;
    case CS_ACT_TANH:
        for (int64_t i = 0; i < n; i++) x[i] = tanhf(x[i]);
        return;
    }
}

void cs_act_backward(const cs_act *act, const float *y, const float *gy, float *gx, int64_t n)
{
    switch (act->kind) {
    case CS_ACT_NONE:
        if (gx != gy)
            for (int64_t i = 0; i < n; i++) gx[i] = gy[i];
        return;
    case CS_ACT_RELU:
        for (int64_t i = 0; i < n; i++) gx[i] = y[i] > 0.f ? gy[i] : 0.f;
        return;
    case CS_ACT_LEAKY_RELU: /* y >= 0 exactly where x >= 0 for a positive alpha */
        for (int64_t i = 0; i < n; i++) gx[i] = y[i] >= 0.f ? gy[i] : gy[i] * act->a;
        return;
    case CS_ACT_CLIP:
        for (int64_t i = 0; i < n; i++) gx[i] = y[i] > act->a && y[i] < act->b ? gy[i] : 0.f;
        return;
    case CS_ACT_SIGMOID:
        for (int64_t i = 0; i < n; i++) gx[i] = gy[i] * y[i] * (1.f - y[i]);
        return;
    case CS_ACT_HARD_SIGMOID:
        for (int64_t i = 0; i < n; i++) gx[i] = y[i] > 0.f && y[i] < 1.f ? gy[i] * act->a : 0.f;
        return;
    case CS_ACT_TANH:
        for (int64_t i = 0; i < n; i++) gx[i] = gy[i] * (1.f - y[i] * y[i]);
        return;
    case CS_ACT_HARD_SWISH: /* not recoverable from y; never fused in gradient plans */
        for (int64_t i = 0; i < n; i++) gx[i] = 0.f;
        return;
    }
}
