/* Element-wise activations (Relu, LeakyRelu, Clip, Sigmoid, HardSigmoid, HardSwish, Tanh) and
 * the pass-through ops Dropout (inference) and Identity.
 *
 * An activation node's params is the cs_act it applies. Clip's bounds at opset >= 11 are inputs
 * 1 and 2 (absent: unbounded) and are read at forward time, so they need not be constants. */
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

typedef struct act_params {
    cs_act act;
} act_params;

/* Below this many elements a thread hand-off costs more than it saves. */
#define ACT_PAR_MIN 32768

static cs_status act_init(cs_node *n, cs_act_kind kind, float a, float b, cs_error *err)
{
    act_params *p = calloc(1, sizeof *p);
    if (!p) return cs_node_fail(err, CS_ERR_NOMEM, n, "out of memory");
    p->act = (cs_act){kind, a, b};
    n->params = p;
    return CS_OK;
}

static cs_status relu_init(cs_node *n, const cs_attrs *a, cs_error *err)
{
    return act_init(n, CS_ACT_RELU, 0.f, 0.f, err);
}

static cs_status leaky_relu_init(cs_node *n, const cs_attrs *a, cs_error *err)
{
    return act_init(n, CS_ACT_LEAKY_RELU, cs_attr_float(a, "alpha", 0.01f), 0.f, err);
}

static cs_status clip_init(cs_node *n, const cs_attrs *a, cs_error *err)
{
    float lo = -INFINITY, hi = INFINITY;
    if (n->opset < 11) {
        lo = cs_attr_float(a, "min", -INFINITY);
        hi = cs_attr_float(a, "max", INFINITY);
    } else if (cs_attr_find(a, "min") || cs_attr_find(a, "max")) {
        return cs_node_fail(err, CS_ERR_INVALID, n,
                            "min/max attributes are not valid at opset %d (they are inputs "
                            "since opset 11)",
                            n->opset);
    }
    return act_init(n, CS_ACT_CLIP, lo, hi, err);
}

static cs_status sigmoid_init(cs_node *n, const cs_attrs *a, cs_error *err)
{
    return act_init(n, CS_ACT_SIGMOID, 0.f, 0.f, err);
}

static cs_status hard_sigmoid_init(cs_node *n, const cs_attrs *a, cs_error *err)
{
    return act_init(n, CS_ACT_HARD_SIGMOID, cs_attr_float(a, "alpha", 0.2f),
                    cs_attr_float(a, "beta", 0.5f), err);
}

static cs_status hard_swish_init(cs_node *n, const cs_attrs *a, cs_error *err)
{
    return act_init(n, CS_ACT_HARD_SWISH, 0.f, 0.f, err);
}

static cs_status tanh_init(cs_node *n, const cs_attrs *a, cs_error *err)
{
    return act_init(n, CS_ACT_TANH, 0.f, 0.f, err);
}

static cs_status act_shape(cs_node *n, cs_tensor *const *in, cs_tensor *const *out, cs_error *err)
{
    if (!in[0]) return cs_node_fail(err, CS_ERR_INVALID, n, "missing input X");
    if (in[0]->type != CS_F32)
        return cs_node_fail(err, CS_ERR_UNSUPPORTED, n, "input X must be float32 (got type %d)",
                            (int)in[0]->type);
    for (int i = 1; i < n->n_in; i++) {
        /* Only Clip has extra inputs (min, max): float32 scalars. */
        if (!in[i]) continue;
        if (in[i]->type != CS_F32)
            return cs_node_fail(err, CS_ERR_UNSUPPORTED, n, "input %s must be float32",
                                i == 1 ? "min" : "max");
        if (in[i]->numel != 1) {
            char b[64];
            return cs_node_fail(err, CS_ERR_INVALID, n, "input %s must be a scalar (got %s)",
                                i == 1 ? "min" : "max", cs_shape_str(in[i], b, sizeof b));
        }
    }
    cs_tensor_set_shape(out[0], CS_F32, in[0]->ndim, in[0]->dims);
    return CS_OK;
}

/* tanh: an odd polynomial near 0 (where 1 - 2/(e^2x + 1) would cancel), exp beyond. */
static inline float tanh_fast(float x)
{
    float ax = x < 0.f ? -x : x, z = x * x;
    float s = ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z +
                1.33314422036e-1f) *
                   z -
               3.33332819422e-1f) *
                  z * x +
              x;
    float l = 1.f - 2.f / (exp_fast(2.f * ax) + 1.f);
    l = x < 0.f ? -l : l;
    return ax < 0.625f ? s : l;
}

/* y = f(x) over n floats; y may equal x. */
static void act_eval(const cs_act *act, const float *x, float *y, int64_t n)
{
    const float a = act->a, b = act->b;
    switch (act->kind) {
    case CS_ACT_NONE:
        if (x != y) memcpy(y, x, (size_t)n * sizeof *y);
        return;
    case CS_ACT_RELU:
        for (int64_t i = 0; i < n; i++) y[i] = MAXF(x[i], 0.f);
        return;
    case CS_ACT_LEAKY_RELU:
        for (int64_t i = 0; i < n; i++) y[i] = x[i] >= 0.f ? x[i] : x[i] * a;
        return;
    case CS_ACT_CLIP:
        /* Compares that are false for NaN keep x: NaN passes through, as in onnxruntime. */
        for (int64_t i = 0; i < n; i++) {
            float v = x[i] < a ? a : x[i];
            y[i] = v > b ? b : v;
        }
        return;
    case CS_ACT_SIGMOID:
        for (int64_t i = 0; i < n; i++) y[i] = 1.f / (1.f + exp_fast(-x[i]));
        return;
    case CS_ACT_HARD_SIGMOID:
        for (int64_t i = 0; i < n; i++) y[i] = MINF(MAXF(a * x[i] + b, 0.f), 1.f);
        return;
    case CS_ACT_HARD_SWISH:
        for (int64_t i = 0; i < n; i++)
            y[i] = x[i] * MINF(MAXF(x[i] * (1.f / 6.f) + 0.5f, 0.f), 1.f);
        return;
    case CS_ACT_TANH:
        for (int64_t i = 0; i < n; i++) y[i] = tanh_fast(x[i]);
        return;
    }
}

typedef struct act_job {
    cs_act act;
    const float *x;
    float *y;
} act_job;

static void act_range(void *ctx, int64_t b, int64_t e)
{
    const act_job *j = ctx;
    act_eval(&j->act, j->x + b, j->y + b, e - b);
}

static void act_forward(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                        const cs_exec *ex)
{
    act_job j = {((const act_params *)n->params)->act, in[0]->data, out[0]->data};
    if (j.act.kind == CS_ACT_CLIP) {
        /* Bounds given as inputs are read here: they need not be constants. */
        if (n->n_in > 1 && in[1]) j.act.a = *(const float *)in[1]->data;
        if (n->n_in > 2 && in[2]) j.act.b = *(const float *)in[2]->data;
    }
    int64_t cnt = in[0]->numel;
    if (cnt >= ACT_PAR_MIN)
        cs_parallel_for(ex, cnt, act_range, &j);
    else
        act_range(&j, 0, cnt);
}

/* ---- backward ------------------------------------------------------------------------------ */

/* gx[i] += gy[i] * f'(x_i) over n floats. The derivative comes from x where a kink is
 * involved (a step at a bound is taken as 0, as cs_act_backward does for fused activations)
 * and from y = f(x) for Sigmoid and Tanh. */
static void act_grad(const cs_act *act, const float *x, const float *y, const float *gy, float *gx,
                     int64_t n)
{
    const float a = act->a, b = act->b;
    switch (act->kind) {
    case CS_ACT_NONE:
        for (int64_t i = 0; i < n; i++) gx[i] += gy[i];
        return;
    case CS_ACT_RELU:
        for (int64_t i = 0; i < n; i++) gx[i] += x[i] > 0.f ? gy[i] : 0.f;
        return;
    case CS_ACT_LEAKY_RELU:
        for (int64_t i = 0; i < n; i++) gx[i] += x[i] >= 0.f ? gy[i] : gy[i] * a;
        return;
    case CS_ACT_CLIP:
        for (int64_t i = 0; i < n; i++) gx[i] += x[i] > a && x[i] < b ? gy[i] : 0.f;
        return;
    case CS_ACT_SIGMOID:
        for (int64_t i = 0; i < n; i++) gx[i] += gy[i] * y[i] * (1.f - y[i]);
        return;
    case CS_ACT_HARD_SIGMOID:
        for (int64_t i = 0; i < n; i++) {
            float v = a * x[i] + b;
            gx[i] += v > 0.f && v < 1.f ? gy[i] * a : 0.f;
        }
        return;
    case CS_ACT_HARD_SWISH:
        /* x * clamp(x/6 + 1/2, 0, 1): 0 below -3, 1 above 3, x/3 + 1/2 between. */
        for (int64_t i = 0; i < n; i++) {
            float d = x[i] * (1.f / 3.f) + 0.5f;
            d = x[i] < -3.f ? 0.f : d;
            d = x[i] > 3.f ? 1.f : d;
            gx[i] += gy[i] * d;
        }
        return;
    case CS_ACT_TANH:
        for (int64_t i = 0; i < n; i++) gx[i] += gy[i] * (1.f - y[i] * y[i]);
        return;
    }
}

typedef struct act_grad_job {
    cs_act act;
    const float *x, *y, *gy;
    float *gx;
} act_grad_job;

static void act_grad_range(void *ctx, int64_t b, int64_t e)
{
    const act_grad_job *j = ctx;
    act_grad(&j->act, j->x + b, j->y + b, j->gy + b, j->gx + b, e - b);
}

static void act_grad_run(const cs_act *act, const cs_tensor *x, const cs_tensor *y,
                         const cs_tensor *gy, const cs_tensor *gx, const cs_exec *ex)
{
    act_grad_job j = {*act, x->data, y->data, gy->data, gx->data};
    int64_t cnt = x->numel;
    if (cnt >= ACT_PAR_MIN)
        cs_parallel_for(ex, cnt, act_grad_range, &j);
    else if (cnt > 0)
        act_grad_range(&j, 0, cnt);
}

/* ∂ only w.r.t. X: Clip's bounds get none (they are constants in every model we run). */
static void act_backward(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                         cs_tensor *const *gout, cs_tensor *const *gin, const cs_exec *ex)
{
    if (!gout[0] || !gin[0]) return;
    cs_act act = ((const act_params *)n->params)->act;
    if (act.kind == CS_ACT_CLIP) {
        if (n->n_in > 1 && in[1]) act.a = *(const float *)in[1]->data;
        if (n->n_in > 2 && in[2]) act.b = *(const float *)in[2]->data;
    }
    act_grad_run(&act, in[0], out[0], gout[0], gin[0], ex);
}

/* ---- Identity and Dropout: the output is the input ---------------------------------------- */

static cs_status identity_init(cs_node *n, const cs_attrs *a, cs_error *err)
{
    return CS_OK;
}

static cs_status pass_shape(cs_node *n, cs_tensor *const *in, cs_tensor *const *out, cs_error *err)
{
    if (!in[0]) return cs_node_fail(err, CS_ERR_INVALID, n, "missing input");
    cs_tensor_set_shape(out[0], in[0]->type, in[0]->ndim, in[0]->dims);
    return CS_OK;
}

static cs_status dropout_shape(cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                               cs_error *err)
{
    if (n->n_out > 1 && out[1])
        return cs_node_fail(err, CS_ERR_UNSUPPORTED, n,
                            "the mask output is not supported (no bool tensors)");
    if (n->n_in > 1 && in[1]) {
        if (in[1]->type != CS_F32 || in[1]->numel != 1)
            return cs_node_fail(err, CS_ERR_INVALID, n, "ratio must be a float32 scalar");
    }
    if (n->n_in > 2 && in[2]) {
        /* The loader has no bool type: a bool training_mode arrives converted to int64. */
        if (!in[2]->data)
            return cs_node_fail(err, CS_ERR_UNSUPPORTED, n,
                                "training_mode must be a constant (inference only)");
        if (in[2]->numel != 1)
            return cs_node_fail(err, CS_ERR_INVALID, n, "training_mode must be a scalar");
        int train = in[2]->type == CS_I64 ? *(const int64_t *)in[2]->data != 0
                                          : *(const float *)in[2]->data != 0.f;
        if (train)
            return cs_node_fail(err, CS_ERR_UNSUPPORTED, n,
                                "training_mode=true is not supported (inference only)");
    }
    return pass_shape(n, in, out, err);
}

static void pass_forward(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                         const cs_exec *ex)
{
    if (out[0]->data != in[0]->data) memcpy(out[0]->data, in[0]->data, cs_tensor_bytes(in[0]));
}

/* gx += gy. In plans the output aliases the input, but their gradients are separate buffers.
 * Dropout's ratio and training_mode get no gradient. */
static void pass_backward(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                          cs_tensor *const *gout, cs_tensor *const *gin, const cs_exec *ex)
{
    if (!gout[0] || !gin[0] || in[0]->type != CS_F32) return;
    const cs_act none = {CS_ACT_NONE, 0.f, 0.f};
    act_grad_run(&none, in[0], out[0], gout[0], gin[0], ex);
}

#define ACT_DEF(var, name, nin, initfn)                                                            \
    const cs_op_def var = {.onnx_name = name,                                                      \
                           .min_in = 1,                                                            \
                           .max_in = nin,                                                          \
                           .min_out = 1,                                                           \
                           .max_out = 1,                                                           \
                           .init = initfn,                                                         \
                           .shape = act_shape,                                                     \
                           .forward = act_forward,                                                 \
                           .backward = act_backward}

ACT_DEF(cs_def_relu, "Relu", 1, relu_init);
ACT_DEF(cs_def_leaky_relu, "LeakyRelu", 1, leaky_relu_init);
ACT_DEF(cs_def_clip, "Clip", 3, clip_init);
ACT_DEF(cs_def_sigmoid, "Sigmoid", 1, sigmoid_init);
ACT_DEF(cs_def_hard_sigmoid, "HardSigmoid", 1, hard_sigmoid_init);
ACT_DEF(cs_def_hard_swish, "HardSwish", 1, hard_swish_init);
ACT_DEF(cs_def_tanh, "Tanh", 1, tanh_init);

const cs_op_def cs_def_dropout = {.onnx_name = "Dropout",
                                  .min_in = 1,
                                  .max_in = 3,
                                  .min_out = 1,
                                  .max_out = 2,
                                  .flags = CS_OPF_ALIAS,
                                  .init = identity_init,
                                  .shape = dropout_shape,
                                  .forward = pass_forward,
                                  .backward = pass_backward};

const cs_op_def cs_def_identity = {.onnx_name = "Identity",
                                   .min_in = 1,
                                   .max_in = 1,
                                   .min_out = 1,
                                   .max_out = 1,
                                   .flags = CS_OPF_ALIAS,
                                   .init = identity_init,
                                   .shape = pass_shape,
                                   .forward = pass_forward,
                                   .backward = pass_backward};
