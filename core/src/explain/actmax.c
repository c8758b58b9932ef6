/* Activation maximization (REFERENCE §3): gradient ascent on the input image of
 *
 *     J(x) = y(x) − λ·‖x‖²/n − β·TV(x)/n,
 *     TV(x) = Σ |x[c,i,j+1] − x[c,i,j]| + |x[c,i+1,j] − x[c,i,j]|   (anisotropic)
 *
 * with n = C·H·W (the penalties are per input value, so λ and β do not depend on the image
 * size) and y the target: a class score (a 2-D N×K tensor, e.g. the logits before softmax:
 * y = score[unit]) or a feature map's channel (4-D N×C×h×w: y = mean of channel `unit`).
 * Each step:
 *   1. jitter: roll x circularly by (dy, dx) ~ U{−jitter..jitter}² (drawn from the seed);
 *   2. forward the rolled image, record y in trace, backward ∂y/∂x (cs_grad), roll it back;
 *   3. G = ∂y/∂x − 2λx/n − β·∂TV(x)/n (TV subgradient with sign(0) = 0);
 *   4. x += lr_k · G / RMS(G), a normalized ascent step (lr is in input units per step, so
 *      one lr works for models whose scores have very different scales), with lr_k decaying
 *      linearly from lr to lr/10 over the run; then clip to [lo, hi].
 * Defaults: 200 steps, lr 0.1, λ 1e-3, β (tv) 1.0, jitter 4 px, range [−2.5, 2.5] (about
 * that of ImageNet-normalized images), seed 1. On small inputs scale the jitter down (4 px
 * is 12% of a 32-px image).
 * The start image is mid-range (lo + hi)/2 plus uniform noise of ±1% of (hi − lo).
 * With target NULL the target is graph output 0, or the input of the Softmax/LogSoftmax that
 * produces it (scores before softmax). */
#include "visualize.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cs_actmax_opts cs_actmax_opts_default(void)
{
    cs_actmax_opts o;
    memset(&o, 0, sizeof o);
    o.target = NULL;
    o.unit = 0;
    o.steps = 200;
    o.lr = 0.1f;
    o.l2 = 1e-3f;
    o.tv = 1.0f;
    o.jitter = 4;
    o.lo = -2.5f; /* about the range of ImageNet-normalized images */
    o.hi = 2.5f;
    o.seed = 1;
    o.threads = 0;
    return o;
}

static uint32_t next_u32(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x;
    return x;
}

static float uniform01(uint32_t *s)
{
    return (float)(next_u32(s) >> 8) / (float)(1u << 24);
}

/* dst[c, i, j] = src[c, (i − dy) mod H, (j − dx) mod W] (torch.roll by (dy, dx)). */
static void roll(const float *src, float *dst, int64_t C, int64_t H, int64_t W, int64_t dy,
                 int64_t dx)
{
    dy = ((dy % H) + H) % H;
    dx = ((dx % W) + W) % W;
    for (int64_t c = 0; c < C; c++) {
        const float *s = src + c * H * W;
        float *d = dst + c * H * W;
        for (int64_t i = 0; i < H; i++) {
            const float *sr = s + ((i - dy + H) % H) * W;
            float *dr = d + i * W;
            for (int64_t j = 0; j < W; j++) dr[j] = sr[(j - dx + W) % W];
        }
    }
}

static const char *default_target(const cs_model *m)
{
    if (m->n_outputs < 1) return NULL;
    int id = m->outputs[0];
    int prod = m->values[id].producer;
    if (prod >= 0) {
        const cs_mnode *nd = &m->nodes[prod];
        if ((nd->op == CS_OP_SOFTMAX || nd->op == CS_OP_LOG_SOFTMAX) && nd->n_in > 0 &&
            nd->in[0] >= 0)
            return m->values[nd->in[0]].name;
    }
    return m->values[id].name;
}

cs_tensor *cs_activation_maximize(const cs_model *m, const cs_actmax_opts *opts, float *trace,
                                  cs_error *err)
{
    if (!m) {
        cs_fail(err, CS_ERR_INVALID, "activation maximization: the model is NULL");
        return NULL;
    }
    cs_actmax_opts o = opts ? *opts : cs_actmax_opts_default();
    if (o.steps < 0 || o.jitter < 0 || !(o.lr >= 0.f) || !(o.l2 >= 0.f) || !(o.tv >= 0.f) ||
        !(o.hi > o.lo)) {
        cs_fail(err, CS_ERR_INVALID,
                "activation maximization: steps %d, jitter %d, lr %g, l2 %g, tv %g, range "
                "[%g, %g] (need steps, jitter, lr, l2, tv >= 0 and lo < hi)",
                o.steps, o.jitter, (double)o.lr, (double)o.l2, (double)o.tv, (double)o.lo,
                (double)o.hi);
        return NULL;
    }
    const char *target = o.target ? o.target : default_target(m);
    if (!target) {
        cs_fail(err, CS_ERR_INVALID, "activation maximization: the model has no output");
        return NULL;
    }
    if (cs_model_find(m, target) < 0) {
        cs_fail_unknown_layer(m, "activation maximization: target", target, err);
        return NULL;
    }
    if (m->n_inputs < 1) {
        cs_fail(err, CS_ERR_INVALID, "activation maximization: the model has no input");
        return NULL;
    }
    cs_plan_opts po = cs_plan_opts_default();
    po.gradients = 1;
    po.threads = o.threads;
    po.batch = 1;
    const char *const keep[1] = {target};
    po.keep = keep;
    po.n_keep = 1;
    cs_plan *p = cs_plan_new(m, &po, err);
    if (!p) return NULL;
    cs_tensor *result = NULL;
    cs_grad *g = NULL;
    float *grad = NULL;

    cs_tensor *in = cs_plan_input(p, 0);
    const char *in_name = m->values[m->inputs[0]].name;
    if (in->type != CS_F32 || in->ndim != 4 || in->dims[0] != 1) {
        char buf[64];
        cs_fail(err, CS_ERR_UNSUPPORTED,
                "activation maximization: input '%s' is %s (need a 1xCxHxW float image)", in_name,
                cs_shape_str(in, buf, sizeof buf));
        goto done;
    }
    const cs_tensor *t = cs_plan_tensor(p, target, err);
    if (!t) goto done;
    int64_t per_unit = 1, units;
    if (t->type == CS_F32 && t->ndim == 2 && t->dims[0] == 1) {
        units = t->dims[1];
    } else if (t->type == CS_F32 && t->ndim == 4 && t->dims[0] == 1) {
        units = t->dims[1];
        per_unit = t->dims[2] * t->dims[3];
    } else {
        char buf[64];
        cs_fail(err, CS_ERR_UNSUPPORTED,
                "activation maximization: target '%s' is %s (need 1xK scores or a 1xCxhxw map)",
                target, cs_shape_str(t, buf, sizeof buf));
        goto done;
    }
    if (o.unit < 0 || o.unit >= units || per_unit < 1) {
        char buf[64];
        cs_fail(err, CS_ERR_INVALID,
                "activation maximization: unit %d out of range [0, %lld) for '%s' (%s)", o.unit,
                (long long)units, target, cs_shape_str(t, buf, sizeof buf));
        goto done;
    }
    const char *const wrt[1] = {in_name};
    g = cs_grad_new(p, target, wrt, 1, err);
    if (!g) {
        if (err) {
            char msg[CS_ERROR_LEN];
            snprintf(msg, sizeof msg, "%s", err->msg);
            cs_fail(err, err->status, "activation maximization of '%s': %s", target, msg);
        }
        goto done;
    }
    cs_tensor *seed = cs_grad_seed(g);
    memset(seed->data, 0, cs_tensor_bytes(seed));
    float *sd = (float *)seed->data + (int64_t)o.unit * per_unit;
    for (int64_t i = 0; i < per_unit; i++) sd[i] = 1.f / (float)per_unit;

    int64_t C = in->dims[1], H = in->dims[2], W = in->dims[3], n = in->numel;
    result = cs_tensor_new(CS_F32, 4, in->dims, NULL);
    grad = malloc(sizeof(float) * (size_t)n);
    if (!result || !grad) {
        cs_fail(err, CS_ERR_NOMEM, "activation maximization: out of memory");
        cs_tensor_free(&result);
        goto done;
    }
    float *x = result->data;
    uint32_t rs = o.seed * 2654435761u + 0x9e3779b9u;
    if (!rs) rs = 1;
    float mid = 0.5f * (o.lo + o.hi), amp = 0.01f * (o.hi - o.lo);
    for (int64_t i = 0; i < n; i++) x[i] = mid + amp * (2.f * uniform01(&rs) - 1.f);

    const float *tv_data = t->data;
    float inv_n = 1.f / (float)n;
    for (int s = 0; s < o.steps; s++) {
        int64_t dy = 0, dx = 0;
        if (o.jitter > 0) {
            dy = (int64_t)(next_u32(&rs) % (uint32_t)(2 * o.jitter + 1)) - o.jitter;
            dx = (int64_t)(next_u32(&rs) % (uint32_t)(2 * o.jitter + 1)) - o.jitter;
        }
        roll(x, in->data, C, H, W, dy, dx);
        if (cs_plan_run(p, err) != CS_OK || cs_grad_run(g, err) != CS_OK) {
            cs_tensor_free(&result);
            goto done;
        }
        if (trace) {
            double acc = 0.0;
            const float *tu = tv_data + (int64_t)o.unit * per_unit;
            for (int64_t i = 0; i < per_unit; i++) acc += tu[i];
            trace[s] = (float)(acc / (double)per_unit);
        }
        /* un-roll the gradient to x's frame */
        roll(cs_grad_wrt(g, 0)->data, grad, C, H, W, -dy, -dx);
        /* penalties */
        for (int64_t i = 0; i < n; i++) grad[i] -= 2.f * o.l2 * inv_n * x[i];
        if (o.tv > 0.f) {
            float b = o.tv * inv_n;
            for (int64_t c = 0; c < C; c++) {
                const float *xc = x + c * H * W;
                float *gc = grad + c * H * W;
                for (int64_t i = 0; i < H; i++) {
                    for (int64_t j = 0; j < W; j++) {
                        int64_t q = i * W + j;
                        if (j + 1 < W) {
                            float d = xc[q + 1] - xc[q];
                            float sg = (float)((d > 0.f) - (d < 0.f)) * b;
                            gc[q + 1] -= sg;
                            gc[q] += sg;
                        }
                        if (i + 1 < H) {
                            float d = xc[q + W] - xc[q];
                            float sg = (float)((d > 0.f) - (d < 0.f)) * b;
                            gc[q + W] -= sg;
                            gc[q] += sg;
                        }
                    }
                }
            }
        }
        double ss = 0.0;
        for (int64_t i = 0; i < n; i++) ss += (double)grad[i] * grad[i];
        double rms = sqrt(ss / (double)n);
        if (!(rms > 0.0) || !isfinite(rms)) continue; /* flat: nothing to follow */
        /* linear decay to 10% of lr over the run, for a settled final image */
        double lr = o.lr * (1.0 - 0.9 * (double)s / (double)(o.steps > 1 ? o.steps - 1 : 1));
        float step = (float)(lr / rms);
        for (int64_t i = 0; i < n; i++) {
            float v = x[i] + step * grad[i];
            x[i] = v < o.lo ? o.lo : v > o.hi ? o.hi : v;
        }
    }
done:
    free(grad);
    cs_grad_destroy(&g);
    cs_plan_destroy(&p);
    return result;
}
