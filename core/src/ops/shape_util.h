/* Helpers shared by the shape and data-movement ops (shape_ops.c, shape_copy.c, pad.c,
 * resize.c): constant-input checks, reading small int64 vectors, and the gradient sums of
 * their backward passes. */
#ifndef CS_OPS_SHAPE_UTIL_H
#define CS_OPS_SHAPE_UTIL_H

#include "../graph.h"
#include "../threads.h"

#include <stdlib.h>
#include <string.h>

/* Big enough for any per-axis vector (pads of a 6-D tensor, Slice starts...). */
#define CS_MAX_VEC (2 * CS_MAX_DIMS)

/* Inputs that define output shapes must be known when the plan is built. */
static inline cs_status cs_need_const(const cs_node *n, const cs_tensor *t, const char *what,
                                      cs_error *err)
{
    if (!t->data)
        return cs_node_fail(err, CS_ERR_UNSUPPORTED, n,
                            "%s must be constant (computed at load time)", what);
    return CS_OK;
}

static inline cs_status cs_need_data_type(const cs_node *n, const cs_tensor *t, const char *what,
                                          cs_error *err)
{
    if (t->type != CS_F32 && t->type != CS_I64)
        return cs_node_fail(err, CS_ERR_UNSUPPORTED, n,
                            "%s has element type %d (float or int64 only)", what, (int)t->type);
    return CS_OK;
}

/* Reads a constant int64 scalar or 1-D tensor of at most max values. */
static inline cs_status cs_read_ints(const cs_node *n, const cs_tensor *t, const char *what,
                                     int64_t *out, int max, int *count, cs_error *err)
{
    cs_status st = cs_need_const(n, t, what, err);
    if (st != CS_OK) return st;
    if (t->type != CS_I64)
        return cs_node_fail(err, CS_ERR_INVALID, n, "%s must be int64 (element type %d)", what,
                            (int)t->type);
    if (t->ndim > 1) {
        char b[64];
        return cs_node_fail(err, CS_ERR_INVALID, n, "%s must be 1-D, got shape %s", what,
                            cs_shape_str(t, b, sizeof b));
    }
    if (t->numel > max)
        return cs_node_fail(err, CS_ERR_UNSUPPORTED, n, "%s has %lld values (at most %d)", what,
                            (long long)t->numel, max);
    if (t->numel) memcpy(out, t->data, sizeof(int64_t) * (size_t)t->numel);
    *count = (int)t->numel;
    return CS_OK;
}

/* A failed init leaves no params behind, whoever calls it. */
static inline cs_status cs_init_done(cs_node *n, cs_status st)
{
    if (st != CS_OK) {
        free(n->params);
        n->params = NULL;
    }
    return st;
}

/* Defines `name` as the init that runs `parse` and cleans up after a failure. */
#define CS_INIT_WRAP(name, parse)                                                                  \
    static cs_status name(cs_node *n, const cs_attrs *a, cs_error *err)                            \
    {                                                                                              \
        return cs_init_done(n, parse(n, a, err));                                                  \
    }

/* Forward of the CS_OPF_ALIAS ops: the planner usually shares the buffer already. */
static inline void cs_alias_copy(const cs_tensor *in, cs_tensor *out)
{
    size_t b = cs_tensor_bytes(out);
    if (out->data != in->data && b) memcpy(out->data, in->data, b);
}

/* Row-major strides (in elements) of dims. */
static inline void cs_strides(int ndim, const int64_t *dims, int64_t *strides)
{
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        strides[i] = s;
        s *= dims[i];
    }
}

/* "[1, 2, 3]" for messages. */
static inline const char *cs_ints_str(const int64_t *v, int n, char *buf, size_t len)
{
    size_t o = 0;
    if (len < 3) return "";
    buf[o++] = '[';
    for (int i = 0; i < n && o + 1 < len; i++) {
        int w = snprintf(buf + o, len - o, i ? ", %lld" : "%lld", (long long)v[i]);
        if (w < 0) break;
        o += (size_t)w;
    }
    if (o + 2 <= len) {
        buf[o++] = ']';
        buf[o] = 0;
    } else {
        buf[len - 1] = 0;
    }
    return buf;
}

/* ---- backward helpers ------------------------------------------------------------------ */

/* Below this many elements a gradient sum runs on the calling thread. */
#define CS_GRAD_PAR_ELEMS (64 * 1024)

/* The gradient buffer of input i when it wants one: a float tensor (shape inputs such as
 * indices or pads never get a gradient, even when the planner hands a buffer). */
static inline float *cs_gin_f32(cs_tensor *const *gin, int n_in, int i)
{
    return i < n_in && gin[i] && gin[i]->type == CS_F32 && gin[i]->numel ? gin[i]->data : NULL;
}

/* The upstream gradient of output j as floats; NULL (all zero) when absent or not float. */
static inline const float *cs_gout_f32(cs_tensor *const *gout, int j)
{
    return gout[j] && gout[j]->type == CS_F32 && gout[j]->numel ? gout[j]->data : NULL;
}

/* d[i] += s[i] for i in [0, n). */
static inline void cs_add_f32(float *restrict d, const float *restrict s, int64_t n)
{
    for (int64_t i = 0; i < n; i++) d[i] += s[i];
}

typedef struct {
    float *d;
    const float *s;
} cs_add_job;

static inline void cs_add_range(void *ctx, int64_t b, int64_t e)
{
    const cs_add_job *j = ctx;
    cs_add_f32(j->d + b, j->s + b, e - b);
}

/* d += s over n floats, split over the pool when large. */
static inline void cs_add_f32_par(const cs_exec *ex, float *d, const float *s, int64_t n)
{
    cs_add_job j = {d, s};
    cs_parallel_for(n >= CS_GRAD_PAR_ELEMS ? ex : NULL, n, cs_add_range, &j);
}

#endif
