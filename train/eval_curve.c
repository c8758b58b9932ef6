/* Deletion and insertion curves (RISE, Petsiuk et al. 2018): a batched class-probability
 * scorer over a model, and the perturbed inputs fed to it in saliency order. */
#include "camstream/eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cs_eval_scorer {
    cs_plan *p;
    cs_tensor *x;
    const cs_tensor *y;
    cs_classes_activation act;
    int B, C, H, W, K;
    /* curves: the order, the current image, the substrate */
    int *order;
    float *cur, *blur;
};

static void fail(cs_error *err, cs_status st, const char *fmt, const char *a, long long b)
{
    if (!err) return;
    err->status = st;
    snprintf(err->msg, sizeof err->msg, fmt, a, b);
}

cs_eval_scorer *cs_eval_scorer_new(const cs_model *m, const char *output, cs_classes_activation act,
                                   int batch, int threads, cs_error *err)
{
    cs_eval_scorer *s = calloc(1, sizeof *s);
    if (!s) {
        fail(err, CS_ERR_NOMEM, "eval: %sout of memory%lld", "", 0);
        return NULL;
    }
    const cs_tensor *in = cs_model_input(m, 0);
    s->B = batch > 0 ? batch : 1;
    if (!in || in->ndim != 4) {
        fail(err, CS_ERR_INVALID, "eval: the model's input %s is not 1xCxHxW%lld",
             in && in->name ? in->name : "", 0);
        goto bad;
    }
    if (in->dims[0] != -1) s->B = 1; /* fixed batch: one at a time */
    cs_plan_opts po = cs_plan_opts_default();
    po.batch = s->B;
    po.threads = threads;
    const char *keep[1] = {output};
    if (output) po.keep = keep, po.n_keep = 1;
    if (!(s->p = cs_plan_new(m, &po, err))) goto bad;
    s->x = cs_plan_input(s->p, 0);
    s->y = output ? cs_plan_tensor(s->p, output, err) : cs_plan_output(s->p, 0);
    if (!s->y) goto bad;
    s->C = (int)s->x->dims[1], s->H = (int)s->x->dims[2], s->W = (int)s->x->dims[3];
    s->K = (int)(s->y->numel / s->B);
    if (s->x->type != CS_F32 || s->y->type != CS_F32 || s->K < 1 ||
        (int64_t)s->K * s->B != s->y->numel) {
        fail(err, CS_ERR_UNSUPPORTED,
             "eval: class output '%s' does not hold one float vector per input (batch %lld)",
             output ? output : "(first output)", s->B);
        goto bad;
    }
    s->act = act;
    int64_t hw = (int64_t)s->H * s->W, chw = hw * s->C;
    s->order = malloc(sizeof(int) * (size_t)hw);
    s->cur = malloc(sizeof(float) * (size_t)chw);
    s->blur = malloc(sizeof(float) * (size_t)chw);
    if (!s->order || !s->cur || !s->blur) {
        fail(err, CS_ERR_NOMEM, "eval: %sout of memory%lld", "", 0);
        goto bad;
    }
    return s;
bad:
    cs_eval_scorer_destroy(&s);
    return NULL;
}

void cs_eval_scorer_destroy(cs_eval_scorer **ps)
{
    if (!ps || !*ps) return;
    cs_eval_scorer *s = *ps;
    cs_plan_destroy(&s->p);
    free(s->order);
    free(s->cur);
    free(s->blur);
    free(s);
    *ps = NULL;
}

void cs_eval_scorer_shape(const cs_eval_scorer *s, int *C, int *H, int *W)
{
    *C = s->C, *H = s->H, *W = s->W;
}

/* Runs the first n (<= B) inputs already in the plan's input. */
static cs_status run_loaded(cs_eval_scorer *s, int n, int cls, double *prob, cs_error *err)
{
    if (cs_plan_run(s->p, err) != CS_OK) return err ? err->status : CS_ERR_INVALID;
    const float *y = s->y->data;
    for (int b = 0; b < n; b++) {
        const float *r = y + (size_t)b * s->K;
        if (s->act == CS_CLASSES_SOFTMAX) {
            double mx = -INFINITY, sum = 0;
            for (int k = 0; k < s->K; k++) mx = r[k] > mx ? r[k] : mx;
            for (int k = 0; k < s->K; k++) sum += exp(r[k] - mx);
            prob[b] = exp(r[cls] - mx) / sum;
        } else if (s->act == CS_CLASSES_SIGMOID) {
            prob[b] = 1.0 / (1.0 + exp(-(double)r[cls]));
        } else {
            prob[b] = r[cls];
        }
    }
    return CS_OK;
}

cs_status cs_eval_scorer_run(cs_eval_scorer *s, const float *x, int n, int cls, double *prob,
                             cs_error *err)
{
    if (cls < 0 || cls >= s->K) {
        fail(err, CS_ERR_INVALID, "eval: class %s%lld is out of range", "", cls);
        return CS_ERR_INVALID;
    }
    size_t chw = (size_t)s->C * s->H * s->W;
    for (int i = 0; i < n; i += s->B) {
        int nb = n - i < s->B ? n - i : s->B;
        memcpy(s->x->data, x + (size_t)i * chw, sizeof(float) * chw * (size_t)nb);
        cs_status st = run_loaded(s, nb, cls, prob + i, err);
        if (st != CS_OK) return st;
    }
    return CS_OK;
}

/* One curve: start from `from`, replace pixels in order by `to`'s, step pixels a point. */
static int curve(cs_eval_scorer *s, const float *from, const float *to, int cls, int step,
                 double *out, cs_error *err)
{
    int hw = s->H * s->W, chw = hw * s->C;
    int npts = cs_eval_curve_points(hw, step);
    memcpy(s->cur, from, sizeof(float) * (size_t)chw);
    float *xb = s->x->data;
    int filled = 0, done = 0;
    for (int i = 0; i < npts; i++) {
        memcpy(xb + (size_t)filled * chw, s->cur, sizeof(float) * (size_t)chw);
        if (++filled == s->B || i == npts - 1) {
            if (run_loaded(s, filled, cls, out + done, err) != CS_OK) return -1;
            done += filled;
            filled = 0;
        }
        int lo = i * step, hi = lo + step < hw ? lo + step : hw;
        for (int k = lo; k < hi; k++)
            for (int c = 0; c < s->C; c++) {
                size_t p = (size_t)c * hw + (size_t)s->order[k];
                s->cur[p] = to[p];
            }
    }
    return npts;
}

int cs_eval_curves(cs_eval_scorer *s, const float *x, const float *map, int cls, int step,
                   double *del, double *ins, cs_error *err)
{
    int hw = s->H * s->W, chw = hw * s->C;
    if (cls < 0 || cls >= s->K) {
        fail(err, CS_ERR_INVALID, "eval: class %s%lld is out of range", "", cls);
        return -1;
    }
    if (step < 1 || cs_eval_curve_points(hw, step) > CS_EVAL_MAX_STEPS + 1) {
        fail(err, CS_ERR_INVALID, "eval: step %s%lld gives too many curve points", "", step);
        return -1;
    }
    cs_eval_order(map, hw, s->order);
    int n = cs_eval_curve_points(hw, step);
    if (del) {
        memset(s->blur, 0, sizeof(float) * (size_t)chw); /* deletion's substrate: zeros */
        if (curve(s, x, s->blur, cls, step, del, err) < 0) return -1;
    }
    if (ins) {
        cs_eval_blur(x, s->C, s->H, s->W, 11, 5.0f, s->blur);
        if (curve(s, s->blur, x, cls, step, ins, err) < 0) return -1;
    }
    return n;
}
