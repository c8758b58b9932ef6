/* SGD with momentum and Adam with torch.optim's exact update rules (weight decay as an L2
 * term added to the gradient, the first momentum buffer equal to the first gradient, Adam's
 * bias corrections folded as PyTorch does), so 5 steps match torch.optim to ~1e-6. */
#include "camstream/train.h"
#include "train_err.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct cs_optim {
    cs_optim_cfg cfg;
    int n;
    int64_t *numel;
    float *state; /* SGD: one buffer per float; Adam: m then v per tensor */
    int64_t n_state;
    int64_t steps;
};

cs_optim_cfg cs_optim_cfg_default(cs_optim_kind kind)
{
    cs_optim_cfg c = {.kind = kind, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f};
    c.lr = kind == CS_OPTIM_ADAM ? 1e-3f : 0.01f;
    c.momentum = kind == CS_OPTIM_SGD ? 0.9f : 0.f;
    return c;
}

int cs_optim_parse(const char *name, cs_optim_kind *kind)
{
    if (!strcmp(name, "sgd"))
        *kind = CS_OPTIM_SGD;
    else if (!strcmp(name, "adam"))
        *kind = CS_OPTIM_ADAM;
    else
        return -1;
    return 0;
}

cs_optim *cs_optim_new(const cs_optim_cfg *cfg, int n, const int64_t *numel, cs_error *err)
{
    cs_optim *o = calloc(1, sizeof *o);
    if (!o || !(o->numel = calloc((size_t)n + 1, sizeof *o->numel))) goto nomem;
    o->cfg = *cfg;
    o->n = n;
    int64_t total = 0;
    for (int i = 0; i < n; i++) total += o->numel[i] = numel[i];
    o->n_state = cfg->kind == CS_OPTIM_ADAM ? 2 * total : cfg->momentum != 0 ? total : 0;
    if (!(o->state = calloc((size_t)o->n_state + 1, sizeof *o->state))) goto nomem;
    return o;
nomem:
    cs_optim_destroy(&o);
    cs_train_fail(err, CS_ERR_NOMEM, "optimizer: out of memory");
    return NULL;
}

void cs_optim_destroy(cs_optim **po)
{
    if (!po || !*po) return;
    free((*po)->numel);
    free((*po)->state);
    free(*po);
    *po = NULL;
}

float *cs_optim_state(cs_optim *o, int64_t *n)
{
    *n = o->n_state;
    return o->state;
}

int64_t *cs_optim_steps(cs_optim *o)
{
    return &o->steps;
}

static void sgd(const cs_optim_cfg *c, int first, float *p, const float *g, float *buf, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        float d = g[i] + c->weight_decay * p[i];
        if (buf) {
            buf[i] = first ? d : c->momentum * buf[i] + d;
            d = buf[i];
        }
        p[i] -= c->lr * d;
    }
}

static void adam(const cs_optim_cfg *c, int64_t t, float *p, const float *g, float *m, float *v,
                 int64_t n)
{
    double bc1 = 1.0 - pow(c->beta1, (double)t), bc2 = 1.0 - pow(c->beta2, (double)t);
    double step = c->lr / bc1, sq = sqrt(bc2);
    for (int64_t i = 0; i < n; i++) {
        float d = g[i] + c->weight_decay * p[i];
        m[i] = c->beta1 * m[i] + (1.f - c->beta1) * d;
        v[i] = c->beta2 * v[i] + (1.f - c->beta2) * d * d;
        p[i] -= (float)(step * m[i] / (sqrt((double)v[i]) / sq + c->eps));
    }
}

void cs_optim_step(cs_optim *o, float *const *params, const float *const *grads)
{
    o->steps++;
    int64_t off = 0, total = o->cfg.kind == CS_OPTIM_ADAM ? o->n_state / 2 : 0;
    for (int i = 0; i < o->n; i++) {
        if (o->cfg.kind == CS_OPTIM_ADAM)
            adam(&o->cfg, o->steps, params[i], grads[i], o->state + off, o->state + total + off,
                 o->numel[i]);
        else
            sgd(&o->cfg, o->steps == 1, params[i], grads[i], o->n_state ? o->state + off : NULL,
                o->numel[i]);
        off += o->numel[i];
    }
}
