/* BatchNormalization, inference form (opsets 6-15): y = (x - mean) / sqrt(var + eps) *
 * scale + B per channel of an N x C x ... tensor of any rank >= 2. The planner usually folds
 * it into the preceding conv; this runs the ones that remain. Opsets 6-8 also have spatial=0,
 * where the statistics hold one value per element of C x D1 x ... (no batch).
 *
 * Training mode (ex->training, plans made with opts.trainable; spatial=1 only): the batch's
 * mean and biased variance normalize, the running statistics (the mean and var inputs, owned
 * by such plans) move as running = running * momentum + batch * (1 - momentum) (ONNX's
 * momentum; PyTorch's is 1 - it), with the unbiased batch variance as PyTorch does, and
 * backward goes through the batch statistics. The graph keeps the inference form, so an
 * exported model needs no rewrite. */
#include "../graph.h"
#include "../threads.h"

#include <math.h>
#include <stdlib.h>

typedef struct {
    float epsilon;
    float momentum;
    int spatial;
    int training;
    int64_t c;
    float *save; /* training mode: per channel the batch mean, then 1 / sqrt(var + eps) */
} bn_params;

static void bn_free_params(void *pp)
{
    bn_params *p = pp;
    if (p) free(p->save);
    free(p);
}

static cs_status bn_init(cs_node *n, const cs_attrs *a, cs_error *err)
{
    bn_params *p = calloc(1, sizeof *p);
    if (!p) return cs_node_fail(err, CS_ERR_NOMEM, n, "out of memory");
    p->epsilon = cs_attr_float(a, "epsilon", 1e-5f);
    p->momentum = cs_attr_float(a, "momentum", 0.9f);
    /* spatial exists in opsets 6-8 only; later opsets always normalize per channel. */
    p->spatial = n->opset <= 8 ? cs_attr_int(a, "spatial", 1) != 0 : 1;
    p->training = n->opset >= 14 && cs_attr_int(a, "training_mode", 0) != 0;
    n->params = p;
    return CS_OK;
}

static const char *const bn_names[5] = {"X", "scale", "B", "mean", "var"};

static cs_status bn_shape(cs_node *n, cs_tensor *const *in, cs_tensor *const *out, cs_error *err)
{
    bn_params *p = n->params;
    if (p->training)
        return cs_node_fail(err, CS_ERR_UNSUPPORTED, n,
                            "training_mode=1 is not supported (inference only)");
    int extra = 0;
    for (int i = 1; i < n->n_out; i++)
        if (!n->out || n->out[i] >= 0) extra++;
    if (extra)
        return cs_node_fail(err, CS_ERR_UNSUPPORTED, n,
                            "only the inference form with one output is supported, node has "
                            "%d outputs (running statistics are training outputs)",
                            n->n_out);
    if (n->n_in < 5)
        return cs_node_fail(err, CS_ERR_INVALID, n, "needs 5 inputs (X, scale, B, mean, var)");
    const cs_tensor *x = in[0];
    char xs[96];
    cs_shape_str(x, xs, sizeof xs);
    for (int i = 0; i < 5; i++) {
        if (!in[i]) return cs_node_fail(err, CS_ERR_INVALID, n, "input %s is missing", bn_names[i]);
        if (in[i]->type != CS_F32)
            return cs_node_fail(err, CS_ERR_UNSUPPORTED, n, "input %s must be float32",
                                bn_names[i]);
    }
    if (x->ndim < 2)
        return cs_node_fail(err, CS_ERR_INVALID, n, "X must be N x C x ... (at least 2-D), got %s",
                            xs);
    int64_t c = x->dims[1], per = 1;
    for (int i = 1; i < x->ndim; i++) per *= x->dims[i];
    if (p->spatial) per = c;
    for (int i = 1; i < 5; i++) {
        const cs_tensor *t = in[i];
        char ts[96];
        cs_shape_str(t, ts, sizeof ts);
        if (p->spatial && (t->ndim != 1 || t->dims[0] != c))
            return cs_node_fail(err, CS_ERR_INVALID, n,
                                "%s must be 1-D of %lld (channels of X %s), got %s", bn_names[i],
                                (long long)c, xs, ts);
        if (!p->spatial && t->numel != per)
            return cs_node_fail(err, CS_ERR_INVALID, n,
                                "with spatial=0, %s must hold %lld values (X %s without the "
                                "batch dim), got %s",
                                bn_names[i], (long long)per, xs, ts);
    }
    cs_tensor_set_shape(out[0], CS_F32, x->ndim, x->dims);
    if (p->spatial && c != p->c) { /* batch statistics of training mode: 2 floats a channel */
        free(p->save);
        p->c = c;
        p->save = calloc((size_t)(2 * c + 1), sizeof *p->save);
        if (!p->save) return cs_node_fail(err, CS_ERR_NOMEM, n, "out of memory");
    }
    return CS_OK;
}

typedef struct {
    const float *x, *scale, *bias, *mean, *var;
    float *y;
    float eps;
    int64_t c, inner; /* channels; floats per (n, c) plane */
    int spatial;
} bn_job;

/* Planes [p0, p1) of the N*C planes. */
static void bn_part(void *ctx, int64_t p0, int64_t p1)
{
    const bn_job *j = ctx;
    for (int64_t pl = p0; pl < p1; pl++) {
        int64_t c = pl % j->c;
        const float *x = j->x + pl * j->inner;
        float *y = j->y + pl * j->inner;
        if (j->spatial) {
            float a = j->scale[c] / sqrtf(j->var[c] + j->eps);
            float b = j->bias[c] - j->mean[c] * a;
            for (int64_t i = 0; i < j->inner; i++) y[i] = x[i] * a + b;
        } else {
            int64_t o = c * j->inner;
            const float *s = j->scale + o, *bb = j->bias + o, *m = j->mean + o, *v = j->var + o;
            for (int64_t i = 0; i < j->inner; i++)
                y[i] = (x[i] - m[i]) * (s[i] / sqrtf(v[i] + j->eps)) + bb[i];
        }
    }
}

/* ---- training mode ------------------------------------------------------------------------ */

typedef struct {
    const float *x, *g, *scale, *bias;
    float *y, *dx, *dscale, *dbias;
    float *rmean, *rvar, *save;
    float eps, momentum;
    int64_t batch, c, inner;
} bn_train_job;

/* Channels [c0, c1): batch statistics, normalization, running statistics. Sums run in float
 * within an (image, channel) plane (vectorizable) and in double across planes. */
static void bn_train_part(void *ctx, int64_t c0, int64_t c1)
{
    const bn_train_job *j = ctx;
    const double cnt = (double)(j->batch * j->inner);
    for (int64_t c = c0; c < c1; c++) {
        double s = 0, ss = 0;
        for (int64_t img = 0; img < j->batch; img++) {
            const float *x = j->x + (img * j->c + c) * j->inner;
            float p = 0.f;
            for (int64_t i = 0; i < j->inner; i++) p += x[i];
            s += p;
        }
        const double mean = s / cnt;
        const float mf = (float)mean;
        for (int64_t img = 0; img < j->batch; img++) {
            const float *x = j->x + (img * j->c + c) * j->inner;
            float p = 0.f;
            for (int64_t i = 0; i < j->inner; i++) p += (x[i] - mf) * (x[i] - mf);
            ss += p;
        }
        double var = ss / cnt, inv = 1.0 / sqrt(var + j->eps);
        float a = (float)(j->scale[c] * inv), b = (float)(j->bias[c] - mean * j->scale[c] * inv);
        for (int64_t img = 0; img < j->batch; img++) {
            int64_t off = (img * j->c + c) * j->inner;
            const float *x = j->x + off;
            float *y = j->y + off;
            for (int64_t i = 0; i < j->inner; i++) y[i] = x[i] * a + b;
        }
        j->save[c] = mf;
        j->save[j->c + c] = (float)inv;
        double unbiased = cnt > 1 ? ss / (cnt - 1) : var;
        j->rmean[c] = (float)(j->rmean[c] * j->momentum + mean * (1.0 - j->momentum));
        j->rvar[c] = (float)(j->rvar[c] * j->momentum + unbiased * (1.0 - j->momentum));
    }
}

/* Channels [c0, c1) of the full backward: with x^ = (x - mean) inv and m values a channel,
 * dx = scale inv / m (m G - sum G - x^ sum G x^), dscale = sum G x^, dB = sum G; dx is
 * evaluated as A G + B x + C per channel. */
static void bn_train_bwd_part(void *ctx, int64_t c0, int64_t c1)
{
    const bn_train_job *j = ctx;
    const double cnt = (double)(j->batch * j->inner);
    for (int64_t c = c0; c < c1; c++) {
        const float mean = j->save[c];
        const double inv = j->save[j->c + c];
        double sg = 0, sgxm = 0; /* sum G, sum G (x - mean) */
        for (int64_t img = 0; img < j->batch; img++) {
            int64_t off = (img * j->c + c) * j->inner;
            const float *x = j->x + off, *g = j->g + off;
            float p = 0.f, q = 0.f;
            for (int64_t i = 0; i < j->inner; i++) {
                p += g[i];
                q += g[i] * (x[i] - mean);
            }
            sg += p;
            sgxm += q;
        }
        double sgx = sgxm * inv;
        if (j->dscale) j->dscale[c] += (float)sgx;
        if (j->dbias) j->dbias[c] += (float)sg;
        if (!j->dx) continue;
        double k = j->scale[c] * inv / cnt;
        const float A = (float)(k * cnt), B = (float)(-k * sgx * inv),
                    C = (float)(-k * sg + k * sgx * inv * mean);
        for (int64_t img = 0; img < j->batch; img++) {
            int64_t off = (img * j->c + c) * j->inner;
            const float *x = j->x + off, *g = j->g + off;
            float *dx = j->dx + off;
            for (int64_t i = 0; i < j->inner; i++) dx[i] += A * g[i] + B * x[i] + C;
        }
    }
}

static bn_train_job bn_train_setup(const bn_params *p, cs_tensor *const *in)
{
    const cs_tensor *x = in[0];
    int64_t c = x->dims[1];
    return (bn_train_job){.x = x->data,
                          .scale = in[1]->data,
                          .bias = in[2]->data,
                          .rmean = in[3]->data,
                          .rvar = in[4]->data,
                          .save = p->save,
                          .eps = p->epsilon,
                          .momentum = p->momentum,
                          .batch = x->dims[0],
                          .c = c,
                          .inner = x->numel / (x->dims[0] * c)};
}

static void bn_forward(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                       const cs_exec *ex)
{
    const bn_params *p = n->params;
    const cs_tensor *x = in[0];
    int64_t c = x->dims[1];
    if (x->numel == 0) return;
    if (ex->training && p->spatial) {
        bn_train_job j = bn_train_setup(p, in);
        j.y = out[0]->data;
        if (x->numel < 32768)
            bn_train_part(&j, 0, c);
        else
            cs_parallel_for(ex, c, bn_train_part, &j);
        return;
    }
    bn_job j = {x->data,     in[1]->data, in[2]->data,
                in[3]->data, in[4]->data, out[0]->data,
                p->epsilon,  c,           x->numel / (x->dims[0] * c),
                p->spatial};
    int64_t planes = x->dims[0] * c;
    if (x->numel < 32768)
        bn_part(&j, 0, planes);
    else
        cs_parallel_for(ex, planes, bn_part, &j);
}

/* ---- backward ----------------------------------------------------------------------------- *
 *
 * With a = scale / sqrt(var + eps) and G the output gradient, per statistic (channel, or
 * element of C x D1 x ... when spatial = 0):
 *   dX = G a,  dscale = sum G (x - mean) / sqrt(var + eps),  dB = sum G,
 *   dmean = -a sum G,  dvar = -scale / 2 (var + eps)^(-3/2) sum G (x - mean).
 * Split by channel, so every statistic's sums stay on one thread. */

typedef struct {
    const float *x, *g, *scale, *mean, *var;
    float *dx, *dscale, *dbias, *dmean, *dvar;
    float eps;
    int64_t batch, c, inner;
    int spatial;
} bn_bwd_job;

/* Adds the parameter gradients of one statistic from its sums sg = sum G and
 * sgx = sum G (x - mean). */
static void bn_param_grads(const bn_bwd_job *j, int64_t o, double sg, double sgx)
{
    double inv = 1.0 / sqrt((double)j->var[o] + j->eps);
    if (j->dscale) j->dscale[o] += (float)(sgx * inv);
    if (j->dbias) j->dbias[o] += (float)sg;
    if (j->dmean) j->dmean[o] += (float)(-j->scale[o] * inv * sg);
    if (j->dvar) j->dvar[o] += (float)(-0.5 * j->scale[o] * inv * inv * inv * sgx);
}

static void bn_bwd_part(void *ctx, int64_t c0, int64_t c1)
{
    const bn_bwd_job *j = ctx;
    const int stats = j->dscale || j->dbias || j->dmean || j->dvar;
    for (int64_t c = c0; c < c1; c++) {
        if (j->spatial) {
            float a = j->scale[c] / sqrtf(j->var[c] + j->eps), mu = j->mean[c];
            double sg = 0, sgx = 0;
            for (int64_t img = 0; img < j->batch; img++) {
                int64_t off = (img * j->c + c) * j->inner;
                const float *x = j->x + off, *g = j->g + off;
                if (j->dx) {
                    float *dx = j->dx + off;
                    for (int64_t i = 0; i < j->inner; i++) dx[i] += g[i] * a;
                }
                if (stats) {
                    float s = 0.f, sx = 0.f;
                    for (int64_t i = 0; i < j->inner; i++) {
                        s += g[i];
                        sx += g[i] * (x[i] - mu);
                    }
                    sg += s;
                    sgx += sx;
                }
            }
            if (stats) bn_param_grads(j, c, sg, sgx);
            continue;
        }
        for (int64_t i = 0; i < j->inner; i++) {
            int64_t o = c * j->inner + i;
            float a = j->scale[o] / sqrtf(j->var[o] + j->eps);
            double sg = 0, sgx = 0;
            for (int64_t img = 0; img < j->batch; img++) {
                int64_t e = (img * j->c + c) * j->inner + i;
                if (j->dx) j->dx[e] += j->g[e] * a;
                sg += j->g[e];
                sgx += (double)j->g[e] * (j->x[e] - j->mean[o]);
            }
            if (stats) bn_param_grads(j, o, sg, sgx);
        }
    }
}

static void bn_backward(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                        cs_tensor *const *gout, cs_tensor *const *gin, const cs_exec *ex)
{
    (void)out;
    if (!gout[0]) return;
    const bn_params *p = n->params;
    const cs_tensor *x = in[0];
    int64_t c = x->dims[1];
    if (x->numel == 0) return;
    if (ex->training && p->spatial) {
        bn_train_job j = bn_train_setup(p, in);
        j.g = gout[0]->data;
        j.dx = gin[0] ? gin[0]->data : NULL;
        j.dscale = gin[1] ? gin[1]->data : NULL;
        j.dbias = gin[2] ? gin[2]->data : NULL;
        if (x->numel < 32768)
            bn_train_bwd_part(&j, 0, c);
        else
            cs_parallel_for(ex, c, bn_train_bwd_part, &j);
        return;
    }
    float *d[5];
    for (int i = 0; i < 5; i++) d[i] = gin[i] ? gin[i]->data : NULL;
    bn_bwd_job j = {.x = x->data,
                    .g = gout[0]->data,
                    .scale = in[1]->data,
                    .mean = in[3]->data,
                    .var = in[4]->data,
                    .dx = d[0],
                    .dscale = d[1],
                    .dbias = d[2],
                    .dmean = d[3],
                    .dvar = d[4],
                    .eps = p->epsilon,
                    .batch = x->dims[0],
                    .c = c,
                    .inner = x->numel / (x->dims[0] * c),
                    .spatial = p->spatial};
    if (x->numel < 32768)
        bn_bwd_part(&j, 0, c);
    else
        cs_parallel_for(ex, c, bn_bwd_part, &j);
}

const cs_op_def cs_def_batchnorm = {
    .onnx_name = "BatchNormalization",
    .min_in = 5,
    .max_in = 5,
    .min_out = 1,
    .max_out = 5,
    .init = bn_init,
    .shape = bn_shape,
    .forward = bn_forward,
    .free_params = bn_free_params,
    .backward = bn_backward,
};
