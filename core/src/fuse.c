/* Load-time rewrites: BatchNorm folded into the Conv/Gemm before it, and activations fused
 * into the Conv/ConvTranspose/Gemm/MatMul before them. A value the caller keeps, a graph
 * output or a value with several consumers is never fused away. */
#include "plan.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int count_consumers(const cs_plan *p, int id)
{
    int c = 0;
    for (int k = 0; k < p->n_steps; k++) {
        const cs_step *s = &p->steps[k];
        if (s->dead) continue;
        for (int i = 0; i < s->node.n_in; i++) c += s->node.in[i] == id;
    }
    for (int i = 0; i < p->m->n_outputs; i++) c += p->m->outputs[i] == id;
    return c;
}

static cs_attrs model_attrs(const cs_plan *p, int k)
{
    const cs_mnode *mn = &p->m->nodes[k];
    return (cs_attrs){mn->n_attrs, mn->attrs};
}

/* A constant float vector of length c, or NULL. */
static const float *const_vec(const cs_plan *p, int id, int64_t c)
{
    if (id < 0) return NULL;
    const cs_pvalue *v = &p->v[id];
    if (!v->konst || v->t.type != CS_F32 || v->t.numel != c) return NULL;
    return v->t.data;
}

static int new_value(cs_plan *p)
{
    int id = p->n_values++;
    memset(&p->v[id], 0, sizeof p->v[id]);
    p->v[id].alias_of = -1;
    return id;
}

/* Value id as a constant read from the shared cache (not owned by the plan). */
static void shared_value(cs_plan *p, int id, int ndim, const int64_t *dims, void *data,
                         int64_t stable)
{
    cs_pvalue *v = &p->v[id];
    cs_tensor_set_shape(&v->t, CS_F32, ndim, dims);
    v->t.data = data;
    v->stable = stable;
    v->shaped = v->konst = v->readable = true;
}

static cs_status fold_one(cs_plan *p, int bn_k, cs_error *err)
{
    cs_step *bn = &p->steps[bn_k];
    int x = bn->node.in[0];
    if (bn->node.n_in != 5 || bn->node.n_out != 1 || p->v[x].keep) return CS_OK;
    int prod = p->m->values[x].producer;
    if (prod < 0 || p->steps[prod].dead) return CS_OK;
    cs_step *cs = &p->steps[prod];
    cs_node *n = &cs->node;
    if ((n->op != CS_OP_CONV && n->op != CS_OP_GEMM) || n->out[0] != x || n->n_out != 1)
        return CS_OK;
    if (count_consumers(p, x) != 1) return CS_OK;
    cs_attrs ba = model_attrs(p, bn_k);
    if (cs_attr_int(&ba, "training_mode", 0) != 0 || cs_attr_int(&ba, "spatial", 1) != 1)
        return CS_OK;
    float eps = cs_attr_float(&ba, "epsilon", 1e-5f);
    const cs_pvalue *w = n->n_in > 1 && n->in[1] >= 0 ? &p->v[n->in[1]] : NULL;
    if (!w || !w->konst || w->t.type != CS_F32) return CS_OK;

    cs_attrs na = model_attrs(p, prod);
    int64_t c; /* output channels */
    bool trans_b = false;
    float beta = 1.f;
    if (n->op == CS_OP_CONV) {
        if (w->t.ndim < 3) return CS_OK;
        c = w->t.dims[0];
    } else {
        if (w->t.ndim != 2 || cs_attr_float(&na, "alpha", 1.f) == 0.f) return CS_OK;
        trans_b = cs_attr_int(&na, "transB", 0) != 0;
        beta = cs_attr_float(&na, "beta", 1.f);
        if (beta == 0.f) return CS_OK;
        c = trans_b ? w->t.dims[0] : w->t.dims[1];
    }
    const float *gamma = const_vec(p, bn->node.in[1], c), *bbeta = const_vec(p, bn->node.in[2], c),
                *mean = const_vec(p, bn->node.in[3], c), *var = const_vec(p, bn->node.in[4], c);
    if (!gamma || !bbeta || !mean || !var) return CS_OK;
    const float *bias = NULL;
    if (n->n_in > 2 && n->in[2] >= 0) {
        const cs_pvalue *b = &p->v[n->in[2]];
        if (!b->konst || b->t.type != CS_F32) return CS_OK;
        if (b->t.numel == c)
            bias = b->t.data;
        else if (b->t.numel != 1)
            return CS_OK; /* other broadcasts: leave unfused */
    }
    float scalar_bias = 0.f;
    if (n->n_in > 2 && n->in[2] >= 0 && !bias) scalar_bias = *(const float *)p->v[n->in[2]].t.data;

    int wid = new_value(p), bid = new_value(p);
    int64_t bdims[1] = {c};
    /* Every operand read from the model: the folded pair is the same for every plan of it,
     * so plans share one copy (wcache.h). */
    int64_t key[8] = {'B', prod, bn_k};
    bool shared = p->share;
    for (int i = 0; i < 5 && shared; i++) {
        int id = i == 0 ? n->in[1] : bn->node.in[i];
        shared = (key[3 + i] = cs_plan_stable(p, id)) != 0;
    }
    if (shared && n->n_in > 2 && n->in[2] >= 0) shared = cs_plan_stable(p, n->in[2]) != 0;
    float *nw, *nb;
    void *block = NULL;
    size_t wbytes = (sizeof(float) * (size_t)w->t.numel + 63) / 64 * 64;
    bool hit = false;
    if (shared) {
        block = cs_plan_share_get(p, key, 8);
        hit = block != NULL;
        if (!block &&
            !(block = aligned_alloc(64, wbytes + (sizeof(float) * (size_t)c + 63) / 64 * 64)))
            return cs_node_fail(err, CS_ERR_NOMEM, n, "out of memory folding BatchNorm");
        nw = block;
        nb = (float *)((char *)block + wbytes);
    } else {
        nw = cs_plan_own_f32(p, wid, w->t.ndim, w->t.dims);
        nb = cs_plan_own_f32(p, bid, 1, bdims);
        if (!nw || !nb)
            return cs_node_fail(err, CS_ERR_NOMEM, n, "out of memory folding BatchNorm");
    }
    const float *ow = w->t.data;
    int64_t per = w->t.numel / c;
    for (int64_t o = 0; o < c && !hit; o++) { /* a hit is already folded */
        float s = gamma[o] / sqrtf(var[o] + eps);
        float b0 = bias ? bias[o] : scalar_bias;
        if (n->op == CS_OP_CONV || trans_b) {
            for (int64_t j = 0; j < per; j++) nw[o * per + j] = ow[o * per + j] * s;
        } else {
            for (int64_t j = 0; j < per; j++) nw[j * c + o] = ow[j * c + o] * s;
        }
        /* Gemm: Y = alpha·A·B + beta·C, so the shift enters C divided by beta. */
        nb[o] = n->op == CS_OP_CONV ? (b0 - mean[o]) * s + bbeta[o]
                                    : b0 * s + (bbeta[o] - mean[o] * s) / beta;
    }
    if (shared) {
        if (!hit && !(block = cs_plan_share_put(p, key, 8, block, free)))
            return cs_node_fail(err, CS_ERR_NOMEM, n, "out of memory sharing folded weights");
        shared_value(p, wid, w->t.ndim, w->t.dims, block, -(2 * (int64_t)prod + 1));
        shared_value(p, bid, 1, bdims, (char *)block + wbytes, -(2 * (int64_t)prod + 2));
    }
    n->in[1] = wid;
    if (n->n_in < 3) n->n_in = 3;
    n->in[2] = bid;
    n->out[0] = bn->node.out[0];
    bn->dead = true;
    return CS_OK;
}

cs_status cs_fold_batchnorm(cs_plan *p, cs_error *err)
{
    for (int k = 0; k < p->n_steps; k++) {
        if (p->steps[k].dead || p->steps[k].node.op != CS_OP_BATCHNORM) continue;
        cs_status st = fold_one(p, k, err);
        if (st != CS_OK) return st;
    }
    return CS_OK;
}

static bool is_fusable_producer(cs_op op)
{
    return op == CS_OP_CONV || op == CS_OP_CONV_TRANSPOSE || op == CS_OP_GEMM || op == CS_OP_MATMUL;
}

/* The activation of step c as a cs_act, or false when it cannot be fused. */
static bool act_of(const cs_plan *p, int k, cs_act *act)
{
    const cs_node *n = &p->steps[k].node;
    cs_attrs a = model_attrs(p, k);
    memset(act, 0, sizeof *act);
    switch (n->op) {
    case CS_OP_RELU:
        act->kind = CS_ACT_RELU;
        return true;
    case CS_OP_LEAKY_RELU:
        act->kind = CS_ACT_LEAKY_RELU;
        act->a = cs_attr_float(&a, "alpha", 0.01f);
        return true;
    case CS_OP_SIGMOID:
        act->kind = CS_ACT_SIGMOID;
        return true;
    case CS_OP_HARD_SIGMOID:
        act->kind = CS_ACT_HARD_SIGMOID;
        act->a = cs_attr_float(&a, "alpha", 0.2f);
        act->b = cs_attr_float(&a, "beta", 0.5f);
        return true;
    case CS_OP_HARD_SWISH:
        act->kind = CS_ACT_HARD_SWISH;
        return true;
    case CS_OP_TANH:
        act->kind = CS_ACT_TANH;
        return true;
    case CS_OP_CLIP:
        act->kind = CS_ACT_CLIP;
        act->a = -INFINITY;
        act->b = INFINITY;
        if (n->opset < 11) {
            act->a = cs_attr_float(&a, "min", -INFINITY);
            act->b = cs_attr_float(&a, "max", INFINITY);
            return true;
        }
        for (int i = 1; i < n->n_in && i < 3; i++) {
            if (n->in[i] < 0) continue;
            const cs_pvalue *v = &p->v[n->in[i]];
            if (!v->konst || v->t.type != CS_F32 || v->t.numel != 1) return false;
            float x = *(const float *)v->t.data;
            if (i == 1)
                act->a = x;
            else
                act->b = x;
        }
        return true;
    default:
        return false;
    }
}

void cs_fuse_activations(cs_plan *p)
{
    for (int k = 0; k < p->n_steps; k++) {
        cs_step *s = &p->steps[k];
        if (s->dead || !is_fusable_producer(s->node.op) || s->node.act.kind != CS_ACT_NONE)
            continue;
        int y = s->node.out[0];
        if (y < 0 || p->v[y].keep || p->v[y].t.type != CS_F32 || count_consumers(p, y) != 1)
            continue;
        int c = -1;
        for (int j = k + 1; j < p->n_steps && c < 0; j++) {
            if (p->steps[j].dead) continue;
            for (int i = 0; i < p->steps[j].node.n_in; i++)
                if (p->steps[j].node.in[i] == y) c = j;
        }
        if (c < 0) continue;
        cs_node *an = &p->steps[c].node;
        cs_act act;
        if (an->in[0] != y || an->n_out != 1 || an->out[0] < 0 || !act_of(p, c, &act)) continue;
        if (p->gradients && act.kind == CS_ACT_HARD_SWISH) continue; /* cs_act_backward */
        s->node.act = act;
        s->node.out[0] = an->out[0];
        s->out[0] = &p->v[an->out[0]].t;
        p->steps[c].dead = true;
    }
}
