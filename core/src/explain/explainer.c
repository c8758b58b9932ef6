/* Explainers: method names and defaults, resolution of the target layer and the score tensor,
 * planning (everything a run needs is allocated here), and cs_explain_run's dispatch.
 * Formulas: docs/EXPLAIN.md. */
#include "explain_internal.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- names and defaults --------------------------------------------------------------------- */

static const char *const method_names[] = {
    [CS_METHOD_CAM] = "cam",
    [CS_METHOD_GRADCAM] = "gradcam",
    [CS_METHOD_GRADCAMPP] = "gradcampp",
    [CS_METHOD_SMOOTH_GRADCAMPP] = "smooth_gradcampp",
    [CS_METHOD_SCORECAM] = "scorecam",
    [CS_METHOD_LAYERCAM] = "layercam",
    [CS_METHOD_XGRADCAM] = "xgradcam",
    [CS_METHOD_SALIENCY] = "saliency",
    [CS_METHOD_SMOOTHGRAD] = "smoothgrad",
    [CS_METHOD_RISE] = "rise",
    [CS_METHOD_AUGMENTED_GRADCAM] = "augmented_gradcam",
    [CS_METHOD_PV] = "pv",
};
static_assert(sizeof method_names / sizeof method_names[0] == CS_METHOD_COUNT,
              "every method needs a name");

const char *cs_method_name(cs_method m)
{
    return (int)m >= 0 && m < CS_METHOD_COUNT ? method_names[m] : "unknown";
}

cs_method cs_method_from_name(const char *name)
{
    if (!name) return CS_METHOD_COUNT;
    for (int i = 0; i < CS_METHOD_COUNT; i++)
        if (!strcmp(name, method_names[i])) return (cs_method)i;
    return CS_METHOD_COUNT;
}

cs_explain_opts cs_explain_opts_default(cs_method m)
{
    cs_explain_opts o;
    memset(&o, 0, sizeof o);
    o.method = m;
    o.threads = 0;
    o.batch = 16;
    o.seed = 1;
    /* SmoothGrad paper: n = 50, noise 10-20% of the input range; Smooth Grad-CAM++: the
     * n = 25, 0.15-of-range setting of REFERENCE §3. */
    o.n_samples = m == CS_METHOD_SMOOTHGRAD ? 50 : 25;
    o.sigma = 0.15f;
    /* RISE paper (ResNet-50): s = 7, p = 0.5; N = 1000 instead of 4000 because the masks are
     * kept as one N × H·W matrix for the final GEMM (4000 masks of 224² are 800 MB). */
    o.rise_masks = 1000;
    o.rise_grid = 7;
    o.rise_p = 0.5f;
    /* Augmented Grad-CAM paper defaults (REFERENCE §3). */
    o.aug_count = 100;
    o.aug_max_rotation = 0.5f;
    o.aug_max_shift = 30.f;
    o.aug_lambda = 0.2f;
    o.aug_mu = 0.01f;
    o.aug_iterations = 200;
    return o;
}

/* ---- helpers -------------------------------------------------------------------------------- */

cs_status cs_ex_fail(cs_error *err, cs_status st, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->status = st;
    }
    return st;
}

void cs_ex_rng_init(cs_ex_rng *r, uint32_t seed)
{
    r->s = 0x9E3779B97F4A7C15ull ^ ((uint64_t)seed * 0xD1B54A32D192ED03ull);
}

/* splitmix64 */
static uint64_t rng_next(cs_ex_rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double cs_ex_uniform(cs_ex_rng *r)
{
    return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

double cs_ex_normal(cs_ex_rng *r)
{
    double u1 = 1.0 - cs_ex_uniform(r); /* (0, 1] */
    double u2 = cs_ex_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static char *dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static bool needs_layer(cs_method m)
{
    return m != CS_METHOD_SALIENCY && m != CS_METHOD_SMOOTHGRAD && m != CS_METHOD_RISE;
}

/* Methods whose batch-1 plan runs a backward pass, and with respect to what. */
static bool main_backward(cs_method m)
{
    return m == CS_METHOD_GRADCAM || m == CS_METHOD_GRADCAMPP || m == CS_METHOD_LAYERCAM ||
           m == CS_METHOD_XGRADCAM || m == CS_METHOD_SALIENCY || m == CS_METHOD_PV;
}

static bool uses_batch(cs_method m)
{
    return m == CS_METHOD_SMOOTH_GRADCAMPP || m == CS_METHOD_SCORECAM ||
           m == CS_METHOD_SMOOTHGRAD || m == CS_METHOD_RISE || m == CS_METHOD_AUGMENTED_GRADCAM;
}

static bool batch_backward(cs_method m)
{
    return m == CS_METHOD_SMOOTH_GRADCAMPP || m == CS_METHOD_SMOOTHGRAD ||
           m == CS_METHOD_AUGMENTED_GRADCAM;
}

/* Gradient with respect to the input (else the layer). */
static bool grad_wrt_input(cs_method m)
{
    return m == CS_METHOD_SALIENCY || m == CS_METHOD_SMOOTHGRAD;
}

/* ---- resolution ----------------------------------------------------------------------------- */

/* A 4-D float tensor computed by a node (the candidates for opts.layer). */
static bool is_feature_map(const cs_plan *probe, int id)
{
    const cs_pvalue *v = &probe->v[id];
    return v->shaped && !v->konst && v->t.type == CS_F32 && v->t.ndim == 4 &&
           probe->m->values[id].producer >= 0;
}

/* "a, b, c" of the candidate names that fit in len, the ones nearest the output first. */
static void list_candidates(const cs_plan *probe, char *buf, size_t len)
{
    const cs_model *m = probe->m;
    int total = 0, shown = 0;
    size_t used = 0;
    buf[0] = '\0';
    for (int k = m->n_nodes - 1; k >= 0; k--)
        for (int j = m->nodes[k].n_out - 1; j >= 0; j--) {
            int id = m->nodes[k].out[j];
            /* 1×1 maps (pooled features) are valid but useless: not suggested */
            if (id < 0 || !is_feature_map(probe, id) ||
                probe->v[id].t.dims[2] * probe->v[id].t.dims[3] == 1)
                continue;
            total++;
            size_t n = strlen(m->values[id].name);
            if (used + n + 40 < len) {
                used += (size_t)snprintf(buf + used, len - used, "%s'%s'", shown ? ", " : "",
                                         m->values[id].name);
                shown++;
            }
        }
    if (!total)
        snprintf(buf, len, "none: the model computes no 4-D tensor");
    else if (shown < total)
        snprintf(buf + used, len - used, " and %d earlier", total - shown);
}

static bool reduce_mean_is_global(const cs_plan *probe, const cs_mnode *n)
{
    int64_t axes[8];
    cs_attrs as = {n->n_attrs, n->attrs};
    int na = cs_attr_ints(&as, "axes", axes, 8);
    if (na == 0 && n->n_in > 1 && n->in[1] >= 0) {
        const cs_pvalue *v = &probe->v[n->in[1]];
        if (!v->konst || v->t.type != CS_I64 || v->t.numel > 8) return false;
        na = (int)v->t.numel;
        memcpy(axes, v->t.data, sizeof(int64_t) * (size_t)na);
    }
    if (na != 2) return false;
    bool h = false, w = false;
    for (int i = 0; i < 2; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + 4 : axes[i];
        h |= a == 2;
        w |= a == 3;
    }
    return h && w;
}

/* An AveragePool or MaxPool whose one window is the whole map (how PyTorch exports
 * adaptive pooling to 1×1). */
static bool pool_is_global(const cs_plan *probe, const cs_mnode *n)
{
    const cs_tensor *x = &probe->v[n->in[0]].t;
    int64_t k[4], pads[8] = {0}, dil[4];
    cs_attrs as = {n->n_attrs, n->attrs};
    if (cs_attr_ints(&as, "kernel_shape", k, 4) != 2) return false;
    int np = cs_attr_ints(&as, "pads", pads, 8);
    for (int i = 0; i < np; i++)
        if (pads[i] != 0) return false;
    int nd = cs_attr_ints(&as, "dilations", dil, 4);
    for (int i = 0; i < nd; i++)
        if (dil[i] != 1) return false;
    const char *ap = cs_attr_string(&as, "auto_pad", "NOTSET");
    if (strcmp(ap, "NOTSET") && strcmp(ap, "VALID")) return false;
    return k[0] == x->dims[2] && k[1] == x->dims[3];
}

bool cs_ex_is_global_pool(const cs_plan *probe, const cs_mnode *n)
{
    if (n->n_in < 1 || n->in[0] < 0 || !is_feature_map(probe, n->in[0])) return false;
    switch (n->op) {
    case CS_OP_GLOBAL_AVGPOOL:
    case CS_OP_GLOBAL_MAXPOOL:
        return true;
    case CS_OP_REDUCE_MEAN:
        return reduce_mean_is_global(probe, n);
    case CS_OP_AVGPOOL:
    case CS_OP_MAXPOOL:
        return pool_is_global(probe, n);
    default:
        return false;
    }
}

static cs_status resolve_layer(cs_explainer *e, const cs_plan *probe, cs_error *err)
{
    const cs_model *m = e->m;
    char cands[360];
    if (e->o.layer) {
        int id = cs_model_find(m, e->o.layer);
        if (id < 0 || !is_feature_map(probe, id)) {
            list_candidates(probe, cands, sizeof cands);
            if (id < 0)
                return cs_ex_fail(err, CS_ERR_INVALID,
                                  "explain: no tensor is named '%s'; 4-D feature maps of %s: %s",
                                  e->o.layer, m->source, cands);
            return cs_ex_fail(err, CS_ERR_INVALID,
                              "explain: layer '%s' is not a computed 4-D feature map; those of "
                              "%s: %s",
                              e->o.layer, m->source, cands);
        }
        e->layer = dupstr(e->o.layer);
    } else {
        int best = -1;
        for (int k = 0; k < m->n_nodes; k++)
            if (cs_ex_is_global_pool(probe, &m->nodes[k])) best = m->nodes[k].in[0];
        if (best < 0) {
            list_candidates(probe, cands, sizeof cands);
            return cs_ex_fail(err, CS_ERR_INVALID,
                              "explain: no 4-D feature map of %s feeds a global pooling; name "
                              "the layer to explain (opts.layer), one of: %s",
                              m->source, cands);
        }
        e->layer = dupstr(m->values[best].name);
    }
    return e->layer ? CS_OK : cs_ex_fail(err, CS_ERR_NOMEM, "explain: out of memory");
}

static cs_status resolve_score(cs_explainer *e, const cs_plan *probe, cs_error *err)
{
    const cs_model *m = e->m;
    int id;
    if (e->o.score) {
        id = cs_model_find(m, e->o.score);
        if (id < 0 || !probe->v[id].shaped || probe->v[id].t.type != CS_F32)
            return cs_ex_fail(err, CS_ERR_INVALID,
                              "explain: score '%s' is not a float tensor of %s", e->o.score,
                              m->source);
    } else {
        if (m->n_outputs < 1)
            return cs_ex_fail(err, CS_ERR_INVALID, "explain: %s has no output", m->source);
        id = m->outputs[0];
        int pr = m->values[id].producer;
        if (pr >= 0 && (m->nodes[pr].op == CS_OP_SOFTMAX || m->nodes[pr].op == CS_OP_LOG_SOFTMAX) &&
            m->nodes[pr].in[0] >= 0)
            id = m->nodes[pr].in[0];
    }
    const cs_tensor *t = &probe->v[id].t;
    if (t->ndim < 1 || t->dims[0] != 1 || t->numel < 1)
        return cs_ex_fail(err, CS_ERR_INVALID,
                          "explain: score '%s' of %s should hold the class scores of one image "
                          "(1×K), not %lld values with first dimension %lld",
                          m->values[id].name, m->source, (long long)t->numel,
                          (long long)(t->ndim > 0 ? t->dims[0] : 0));
    e->ncls = (int)t->numel;
    e->score = dupstr(m->values[id].name);
    return e->score ? CS_OK : cs_ex_fail(err, CS_ERR_NOMEM, "explain: out of memory");
}

/* ---- creation ------------------------------------------------------------------------------- */

void cs_explainer_rest(cs_explainer *e)
{
    if (!e) return;
    cs_plan_rest(e->p);
    cs_plan_rest(e->pb);
    cs_plan_rest(e->pd);
}

void cs_explainer_destroy(cs_explainer **pe)
{
    if (!pe || !*pe) return;
    cs_explainer *e = *pe;
    cs_grad_destroy(&e->g);
    cs_grad_destroy(&e->gb);
    cs_plan_destroy(&e->p);
    cs_plan_destroy(&e->pb);
    cs_plan_destroy(&e->pd);
    cs_tensor_free(&e->scores);
    cs_tensor_free(&e->map);
    free(e->layer);
    free(e->score);
    free(e->work);
    free(e->wk);
    free(e->noise_owned);
    free(e->masks_owned);
    free(e->probs);
    free(e->rise_maps);
    free(e->warps);
    free(e->aug_low);
    free(e->aug_scratch);
    free(e);
    *pe = NULL;
}

static cs_status check_opts(const cs_explain_opts *o, cs_error *err)
{
    if ((int)o->method < 0 || o->method >= CS_METHOD_COUNT)
        return cs_ex_fail(err, CS_ERR_INVALID, "explain: unknown method %d", (int)o->method);
    if (o->batch < 0)
        return cs_ex_fail(err, CS_ERR_INVALID, "explain: batch %d must be >= 0", o->batch);
    cs_method m = o->method;
    if ((m == CS_METHOD_SMOOTH_GRADCAMPP || m == CS_METHOD_SMOOTHGRAD) &&
        (o->n_samples < 1 || !(o->sigma >= 0.f)))
        return cs_ex_fail(err, CS_ERR_INVALID,
                          "explain: %s needs n_samples >= 1 and sigma >= 0 (have %d, %g)",
                          cs_method_name(m), o->n_samples, (double)o->sigma);
    if (m == CS_METHOD_RISE &&
        (o->rise_masks < 1 || o->rise_grid < 1 || !(o->rise_p > 0.f && o->rise_p <= 1.f)))
        return cs_ex_fail(err, CS_ERR_INVALID,
                          "explain: rise needs rise_masks >= 1, rise_grid >= 1 and 0 < rise_p <= 1 "
                          "(have %d, %d, %g)",
                          o->rise_masks, o->rise_grid, (double)o->rise_p);
    if (m == CS_METHOD_AUGMENTED_GRADCAM &&
        (o->aug_count < 1 || o->aug_iterations < 0 || !(o->aug_lambda >= 0.f) ||
         !(o->aug_mu >= 0.f) || !(o->aug_max_rotation >= 0.f) || !(o->aug_max_shift >= 0.f)))
        return cs_ex_fail(err, CS_ERR_INVALID,
                          "explain: augmented_gradcam needs aug_count >= 1, aug_iterations >= 0 "
                          "and non-negative aug_lambda, aug_mu, aug_max_rotation, aug_max_shift");
    if (m == CS_METHOD_PV && !o->decoder)
        return cs_ex_fail(err, CS_ERR_INVALID,
                          "explain: pv needs opts.decoder, a model from the layer's features to "
                          "an image");
    return CS_OK;
}

static cs_status prefix_error(cs_error *err, cs_status st, const char *what)
{
    if (err) {
        char msg[CS_ERROR_LEN];
        snprintf(msg, sizeof msg, "%s", err->msg);
        snprintf(err->msg, sizeof err->msg, "explain: %s: %s", what, msg);
        err->status = st;
    }
    return st;
}

static cs_status make_plans(cs_explainer *e, cs_error *err)
{
    const cs_explain_opts *o = &e->o;
    cs_method m = o->method;
    const char *keep[2];
    int nk = 0;
    if (e->layer) keep[nk++] = e->layer;
    keep[nk++] = e->score;
    const char *wrt = grad_wrt_input(m) ? e->m->values[e->m->inputs[0]].name : e->layer;

    cs_plan_opts po = cs_plan_opts_default();
    po.threads = o->threads;
    po.batch = 1;
    po.keep = keep;
    po.n_keep = nk;
    po.gradients = main_backward(m);
    po.grad_from = &wrt; /* the rest of the forward reuses buffers: no slower than a plain run */
    po.n_grad_from = 1;
    if (!(e->p = cs_plan_new(e->m, &po, err))) return prefix_error(err, err->status, "plan");
    if (po.gradients && !(e->g = cs_grad_new(e->p, e->score, &wrt, 1, err)))
        return prefix_error(err, err->status, "backward plan");
    e->x = cs_plan_input(e->p, 0);
    e->y = cs_plan_tensor(e->p, e->score, err);
    if (!e->y) return prefix_error(err, CS_ERR_INVALID, "score");
    if (e->layer && !(e->A = cs_plan_tensor(e->p, e->layer, err)))
        return prefix_error(err, CS_ERR_INVALID, "layer");

    if (!uses_batch(m)) return CS_OK;
    e->B = o->batch > 0 ? o->batch : 1;
    if (cs_model_input(e->m, 0)->dims[0] != -1) e->B = 1; /* fixed batch: one at a time */
    if (m == CS_METHOD_SMOOTH_GRADCAMPP || m == CS_METHOD_SMOOTHGRAD) {
        if (e->B > o->n_samples) e->B = o->n_samples;
    } else if (m == CS_METHOD_SCORECAM) {
        if (e->B > e->K) e->B = e->K;
    } else if (m == CS_METHOD_RISE) {
        if (e->B > o->rise_masks) e->B = o->rise_masks;
    } else if (m == CS_METHOD_AUGMENTED_GRADCAM) {
        if (e->B > o->aug_count) e->B = o->aug_count;
    }
    po.batch = e->B;
    po.gradients = batch_backward(m);
    if (!(e->pb = cs_plan_new(e->m, &po, err)))
        return prefix_error(err, err->status,
                            "batched plan (set opts.batch = 1 if the model "
                            "cannot run batches)");
    if (po.gradients && !(e->gb = cs_grad_new(e->pb, e->score, &wrt, 1, err)))
        return prefix_error(err, err->status, "batched backward plan");
    e->xb = cs_plan_input(e->pb, 0);
    if (!(e->yb = cs_plan_tensor(e->pb, e->score, err)))
        return prefix_error(err, CS_ERR_INVALID, "score");
    if (e->layer && !(e->Ab = cs_plan_tensor(e->pb, e->layer, err)))
        return prefix_error(err, CS_ERR_INVALID, "layer");
    if (e->yb->numel != (int64_t)e->B * e->ncls || e->xb->numel != (int64_t)e->B * e->x->numel)
        return cs_ex_fail(err, CS_ERR_UNSUPPORTED,
                          "explain: the model's batched plan (batch %d) does not scale its input "
                          "and score with the batch; set opts.batch = 1",
                          e->B);
    return CS_OK;
}

static cs_status make_decoder(cs_explainer *e, cs_error *err)
{
    const cs_model *d = e->o.decoder;
    if (cs_model_n_inputs(d) != 1 || cs_model_n_outputs(d) < 1)
        return cs_ex_fail(err, CS_ERR_INVALID,
                          "explain: pv: the decoder should have one input (the layer's "
                          "features) and an output (the image)");
    cs_tensor shape = *e->A;
    shape.data = NULL;
    cs_plan_opts po = cs_plan_opts_default();
    po.threads = e->o.threads;
    po.input_shapes = &shape;
    po.n_input_shapes = 1;
    if (!(e->pd = cs_plan_new(d, &po, err))) return prefix_error(err, err->status, "pv decoder");
    e->pd_in = cs_plan_input(e->pd, 0);
    e->image = cs_plan_output(e->pd, 0);
    if (e->pd_in->numel != e->A->numel || e->pd_in->type != CS_F32 || e->image->type != CS_F32)
        return cs_ex_fail(err, CS_ERR_INVALID,
                          "explain: pv: the decoder's input holds %lld values, layer '%s' %lld",
                          (long long)e->pd_in->numel, e->layer, (long long)e->A->numel);
    return CS_OK;
}

static cs_status alloc_buffers(cs_explainer *e, cs_error *err)
{
    const cs_explain_opts *o = &e->o;
    cs_method m = o->method;
    int64_t chw = (int64_t)e->C * e->H * e->W, HW = (int64_t)e->H * e->W;
    int64_t khw = (int64_t)e->K * e->h * e->w;
    int64_t nwork = 3 * khw;
    if (HW + e->K > nwork) nwork = HW + e->K;
    e->work = malloc(sizeof(float) * (size_t)nwork);
    e->wk = malloc(sizeof(double) * (size_t)(e->K > 0 ? e->K : 1));
    int64_t sdims[2] = {1, e->ncls};
    e->scores = cs_tensor_new(CS_F32, 2, sdims, "scores");
    bool input_res = m == CS_METHOD_SALIENCY || m == CS_METHOD_SMOOTHGRAD || m == CS_METHOD_RISE ||
                     m == CS_METHOD_AUGMENTED_GRADCAM;
    int64_t mdims[2] = {input_res ? e->H : e->h, input_res ? e->W : e->w};
    e->map = cs_tensor_new(CS_F32, 2, mdims, "map");
    if (!e->work || !e->wk || !e->scores || !e->map) goto nomem;

    if (m == CS_METHOD_SMOOTH_GRADCAMPP || m == CS_METHOD_SMOOTHGRAD) {
        float *z = malloc(sizeof(float) * (size_t)(o->n_samples * chw));
        if (!z) goto nomem;
        e->noise = e->noise_owned = z;
        if (o->noise) { /* copied: the caller's array need not outlive this call */
            memcpy(z, o->noise, sizeof(float) * (size_t)(o->n_samples * chw));
        } else {
            cs_ex_rng r;
            cs_ex_rng_init(&r, o->seed);
            for (int64_t i = 0; i < o->n_samples * chw; i++) z[i] = (float)cs_ex_normal(&r);
        }
    }
    if (m == CS_METHOD_RISE) {
        if (!(e->masks_owned = malloc(sizeof(float) * (size_t)(o->rise_masks * HW)))) goto nomem;
        e->masks = e->masks_owned;
        if (o->masks)
            memcpy(e->masks_owned, o->masks, sizeof(float) * (size_t)(o->rise_masks * HW));
        else if (cs_rise_draw_masks(e, err) != CS_OK)
            return err->status;
        e->probs = malloc(sizeof(float) * (size_t)(e->ncls * o->rise_masks));
        e->rise_maps = malloc(sizeof(float) * (size_t)(e->ncls * HW));
        if (!e->probs || !e->rise_maps) goto nomem;
    }
    if (m == CS_METHOD_AUGMENTED_GRADCAM) {
        e->warps = malloc(sizeof(cs_warp) * (size_t)o->aug_count);
        e->aug_low = malloc(sizeof(float) * (size_t)(o->aug_count * e->h * e->w));
        e->aug_scratch =
            malloc(sizeof(float) * (size_t)cs_superres_scratch_floats(e->h, e->w, e->H, e->W));
        if (!e->warps || !e->aug_low || !e->aug_scratch) goto nomem;
        cs_superres_draw_warps(o->seed, o->aug_count, o->aug_max_rotation, o->aug_max_shift,
                               e->warps);
    }
    return CS_OK;
nomem:
    return cs_ex_fail(err, CS_ERR_NOMEM, "explain: out of memory");
}

cs_explainer *cs_explainer_new(const cs_model *m, const cs_explain_opts *o, cs_error *err)
{
    cs_error local;
    if (!err) err = &local;
    memset(err, 0, sizeof *err);
    if (!m || !o) {
        cs_ex_fail(err, CS_ERR_INVALID, "explain: no model or no options");
        return NULL;
    }
    if (check_opts(o, err) != CS_OK) return NULL;
    if (cs_model_n_inputs(m) != 1) {
        cs_ex_fail(err, CS_ERR_UNSUPPORTED,
                   "explain: %s has %d inputs; explanations need a model with one image input",
                   m->source, cs_model_n_inputs(m));
        return NULL;
    }
    cs_explainer *e = calloc(1, sizeof *e);
    if (!e) {
        cs_ex_fail(err, CS_ERR_NOMEM, "explain: out of memory");
        return NULL;
    }
    e->o = *o;
    e->m = m;
    e->o.layer = e->o.score = NULL; /* the caller's strings need not outlive this call */

    /* A throwaway unfused plan gives every tensor's shape for the resolution. */
    cs_plan_opts po = cs_plan_opts_default();
    po.threads = 1;
    po.batch = 1;
    po.no_fuse = 1;
    cs_plan *probe = cs_plan_new(m, &po, err);
    if (!probe) {
        prefix_error(err, err->status, "plan");
        goto fail;
    }
    const cs_tensor *in = cs_plan_input(probe, 0);
    if (in->ndim != 4 || in->type != CS_F32) {
        char s[64];
        cs_ex_fail(err, CS_ERR_UNSUPPORTED,
                   "explain: %s's input is %s; explanations need one float image 1×C×H×W",
                   m->source, cs_shape_str(in, s, sizeof s));
        cs_plan_destroy(&probe);
        goto fail;
    }
    e->C = (int)in->dims[1];
    e->H = (int)in->dims[2];
    e->W = (int)in->dims[3];
    cs_status st = CS_OK;
    e->o.layer = o->layer;
    e->o.score = o->score;
    if (needs_layer(o->method) || o->layer) st = resolve_layer(e, probe, err);
    if (st == CS_OK) st = resolve_score(e, probe, err);
    if (st == CS_OK && e->layer) {
        const cs_tensor *a = &probe->v[cs_model_find(m, e->layer)].t;
        e->K = (int)a->dims[1];
        e->h = (int)a->dims[2];
        e->w = (int)a->dims[3];
        if (a->dims[0] != 1)
            st = cs_ex_fail(err, CS_ERR_UNSUPPORTED,
                            "explain: layer '%s' has first dimension %lld, not the batch", e->layer,
                            (long long)a->dims[0]);
    }
    e->o.layer = e->o.score = NULL;
    cs_plan_destroy(&probe);
    if (st != CS_OK) goto fail;

    if (make_plans(e, err) != CS_OK) goto fail;
    if (o->method == CS_METHOD_CAM && cs_cam_prepare(e, err) != CS_OK) goto fail;
    if (o->method == CS_METHOD_PV && make_decoder(e, err) != CS_OK) goto fail;
    if (alloc_buffers(e, err) != CS_OK) goto fail;
    e->o.layer = e->layer;
    e->o.score = e->score;
    return e;
fail:
    cs_explainer_destroy(&e);
    return NULL;
}

cs_tensor *cs_explainer_input(cs_explainer *e)
{
    return e ? e->x : NULL;
}

const char *cs_explainer_layer(const cs_explainer *e)
{
    return e ? e->layer : NULL;
}

const char *cs_explainer_score(const cs_explainer *e)
{
    return e ? e->score : NULL;
}

int cs_explainer_n_outputs(const cs_explainer *e)
{
    return e && e->p ? cs_plan_n_outputs(e->p) : 0;
}

const cs_tensor *cs_explainer_output(const cs_explainer *e, int i)
{
    if (!e || !e->p || !e->ran || i < 0 || i >= cs_plan_n_outputs(e->p)) return NULL;
    return cs_plan_output(e->p, i);
}

/* ---- running -------------------------------------------------------------------------------- */

cs_status cs_ex_backward(cs_explainer *e, int cls, cs_error *err)
{
    cs_tensor *s = cs_grad_seed(e->g);
    memset(s->data, 0, cs_tensor_bytes(s));
    ((float *)s->data)[cls] = 1.f;
    return cs_grad_run(e->g, err);
}

void cs_ex_seed_batch(cs_explainer *e, int cls, int n)
{
    cs_tensor *s = cs_grad_seed(e->gb);
    memset(s->data, 0, cs_tensor_bytes(s));
    for (int b = 0; b < n && b < e->B; b++) ((float *)s->data)[(int64_t)b * e->ncls + cls] = 1.f;
}

void cs_ex_noisy_input(const cs_explainer *e, int i, float lo, float hi, float *dst)
{
    int64_t n = e->x->numel;
    const float *x = e->x->data, *z = e->noise + (int64_t)i * n;
    float s = e->o.sigma * (hi - lo);
    for (int64_t j = 0; j < n; j++) dst[j] = x[j] + s * z[j];
}

cs_status cs_explain_run(cs_explainer *e, int cls, cs_explanation *out, cs_error *err)
{
    cs_error local;
    if (!err) err = &local;
    if (!e || !out) return cs_ex_fail(err, CS_ERR_INVALID, "explain: no explainer or no output");
    memset(out, 0, sizeof *out);
    if (cls < -1 || cls >= e->ncls)
        return cs_ex_fail(err, CS_ERR_INVALID,
                          "explain: class %d is out of range: score '%s' has %d classes, "
                          "0..%d (or -1 for the top-1 class)",
                          cls, e->score, e->ncls, e->ncls - 1);
    e->ran = false;
    cs_status st = cs_plan_run(e->p, err);
    if (st != CS_OK) return st;
    e->ran = true;
    const float *y = e->y->data;
    memcpy(e->scores->data, y, sizeof(float) * (size_t)e->ncls);
    if (cls < 0) {
        cls = 0;
        for (int k = 1; k < e->ncls; k++)
            if (y[k] > y[cls]) cls = k;
    }
    const cs_tensor *map = e->map;
    switch (e->o.method) {
    case CS_METHOD_CAM:
        st = cs_cam_run(e, cls, err);
        break;
    case CS_METHOD_GRADCAM:
    case CS_METHOD_GRADCAMPP:
    case CS_METHOD_LAYERCAM:
    case CS_METHOD_XGRADCAM:
        st = cs_gradcam_run(e, cls, err);
        break;
    case CS_METHOD_SMOOTH_GRADCAMPP:
        st = cs_smooth_gradcampp_run(e, cls, err);
        break;
    case CS_METHOD_SCORECAM:
        st = cs_scorecam_run(e, cls, err);
        break;
    case CS_METHOD_SALIENCY:
        st = cs_saliency_run(e, cls, err);
        break;
    case CS_METHOD_SMOOTHGRAD:
        st = cs_smoothgrad_run(e, cls, err);
        break;
    case CS_METHOD_RISE:
        st = cs_rise_run(e, cls, err);
        map = &e->map_row;
        break;
    case CS_METHOD_AUGMENTED_GRADCAM:
        st = cs_augmented_run(e, cls, err);
        break;
    case CS_METHOD_PV:
        st = cs_pv_run(e, cls, err);
        out->image = e->image;
        break;
    default:
        st = cs_ex_fail(err, CS_ERR_INVALID, "explain: unknown method");
        break;
    }
    if (st != CS_OK) return st;
    out->cls = cls;
    out->score = y[cls];
    out->scores = e->scores;
    out->map = map;
    return CS_OK;
}
