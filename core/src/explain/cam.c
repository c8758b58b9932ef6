/* CAM (Zhou et al. 2016): M_c = Σ_k w^c_k A^k with w the weights of the fully-connected layer
 * that follows the global pooling of A (average: CAM; max: its GMP variant). No ReLU, no bias:
 * the map is the class score's spatial decomposition (for GAP, mean(M_c) + b_c = y^c).
 *
 * The head is found in the graph: layer -> GlobalAveragePool | GlobalMaxPool | ReduceMean over
 * H,W | whole-map AveragePool or MaxPool -> (Flatten | Reshape | Squeeze | Identity | Dropout)* ->
 * Gemm, or MatMul (+ Add) -> (Identity | Dropout | Add)* -> the score tensor. */
#include "explain_internal.h"

#include <stdio.h>
#include <string.h>

#define NO_HEAD "CAM needs a global-pooling → fully-connected head; use gradcam"

/* The first node reading value v, or -1. */
static int consumer(const cs_model *m, int v)
{
    for (int k = 0; k < m->n_nodes; k++)
        for (int i = 0; i < m->nodes[k].n_in; i++)
            if (m->nodes[k].in[i] == v) return k;
    return -1;
}

static cs_status no_head(cs_explainer *e, cs_error *err, const char *why)
{
    return cs_ex_fail(err, CS_ERR_UNSUPPORTED, "explain: " NO_HEAD " (layer '%s' of %s: %s)",
                      e->layer, e->m->source, why);
}

cs_status cs_cam_prepare(cs_explainer *e, cs_error *err)
{
    const cs_model *m = e->m;
    const cs_plan *p = e->p;
    int layer = cs_model_find(m, e->layer);
    int pool = -1;
    for (int k = 0; k < m->n_nodes && pool < 0; k++)
        if (m->nodes[k].n_in > 0 && m->nodes[k].in[0] == layer &&
            cs_ex_is_global_pool(p, &m->nodes[k]))
            pool = k;
    if (pool < 0) return no_head(e, err, "it feeds no global pooling");
    e->fc_gmp = m->nodes[pool].op == CS_OP_GLOBAL_MAXPOOL || m->nodes[pool].op == CS_OP_MAXPOOL;

    int v = m->nodes[pool].out[0], fc = -1;
    for (int guard = 0; guard < m->n_nodes && fc < 0; guard++) {
        int k = consumer(m, v);
        if (k < 0) return no_head(e, err, "nothing reads the pooled features");
        const cs_mnode *n = &m->nodes[k];
        switch (n->op) {
        case CS_OP_FLATTEN:
        case CS_OP_RESHAPE:
        case CS_OP_SQUEEZE:
        case CS_OP_IDENTITY:
        case CS_OP_DROPOUT:
            if (n->in[0] != v) return no_head(e, err, "the pooled features are reshaped oddly");
            v = n->out[0];
            break;
        case CS_OP_GEMM:
        case CS_OP_MATMUL:
            if (n->in[0] != v)
                return no_head(e, err, "the pooled features are not the fully-connected input");
            fc = k;
            break;
        default:
            return no_head(e, err, "the pooling is followed by neither Gemm nor MatMul");
        }
    }
    if (fc < 0) return no_head(e, err, "no fully-connected layer after the pooling");
    const cs_mnode *n = &m->nodes[fc];
    cs_attrs as = {n->n_attrs, n->attrs};
    bool gemm = n->op == CS_OP_GEMM;
    if (gemm && cs_attr_int(&as, "transA", 0))
        return no_head(e, err, "Gemm with transA = 1 is not a classifier head");
    int wid = n->in[1];
    const cs_pvalue *wv = wid >= 0 ? &p->v[wid] : NULL;
    if (!wv || !wv->konst || !wv->t.data || wv->t.type != CS_F32 || wv->t.ndim != 2)
        return no_head(e, err, "the fully-connected weights are not a constant matrix");
    bool trans = gemm && cs_attr_int(&as, "transB", 0);
    int64_t rows = wv->t.dims[0], cols = wv->t.dims[1];
    int64_t nk = trans ? cols : rows, nc = trans ? rows : cols;
    if (nk != e->K || nc != e->ncls) {
        char why[160];
        snprintf(why, sizeof why,
                 "the fully-connected weights are %lldx%lld, expected %d channels x %d classes",
                 (long long)rows, (long long)cols, e->K, e->ncls);
        return no_head(e, err, why);
    }
    e->fc_w = wv->t.data;
    e->fc_sc = trans ? cols : 1;
    e->fc_sk = trans ? 1 : cols;
    e->fc_alpha = gemm ? cs_attr_float(&as, "alpha", 1.f) : 1.f;

    /* The layer's output must be the score tensor (a bias Add, Identity or Dropout between). */
    int score = cs_model_find(m, e->score);
    v = n->out[0];
    for (int guard = 0; v != score && guard < m->n_nodes; guard++) {
        int k = consumer(m, v);
        if (k < 0) break;
        cs_op op = m->nodes[k].op;
        if (op != CS_OP_ADD && op != CS_OP_IDENTITY && op != CS_OP_DROPOUT) break;
        v = m->nodes[k].out[0];
    }
    if (v != score) return no_head(e, err, "the fully-connected layer does not give the score");
    return CS_OK;
}

cs_status cs_cam_run(cs_explainer *e, int cls, cs_error *err)
{
    (void)err;
    const float *A = e->A->data;
    const float *wc = e->fc_w + (int64_t)cls * e->fc_sc;
    int64_t hw = (int64_t)e->h * e->w;
    float *map = e->map->data;
    for (int64_t i = 0; i < hw; i++) {
        double s = 0;
        for (int k = 0; k < e->K; k++) s += (double)wc[k * e->fc_sk] * A[k * hw + i];
        map[i] = (float)(e->fc_alpha * s);
    }
    return CS_OK;
}
