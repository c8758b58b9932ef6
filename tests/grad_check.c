#include "grad_check.h"

#include "threads.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GC_MAX_IO 8

static uint32_t next(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

void gc_fill(cs_tensor *t, uint32_t *state, float lo, float hi)
{
    float *d = t->data;
    for (int64_t i = 0; i < t->numel; i++)
        d[i] = lo + (hi - lo) * (float)(next(state) >> 8) / (float)(1u << 24);
}

typedef struct {
    cs_node n;
    const cs_op_def *d;
    cs_tensor *const *in;
    cs_tensor out[GC_MAX_IO];
    cs_tensor *outp[GC_MAX_IO];
    cs_exec ex;
} gc_ctx;

static void forward(gc_ctx *c)
{
    if ((c->d->flags & CS_OPF_ALIAS) && c->in[0])
        memcpy(c->out[0].data, c->in[0]->data, cs_tensor_bytes(c->in[0]));
    c->d->forward(&c->n, c->in, c->outp, &c->ex);
}

/* After an input changed in place: an op that prepacked constant inputs at prepare() time
 * (every input is a constant here: all have data) packs them again, so its copy stays in step. */
static void reprepare(gc_ctx *c)
{
    if (!c->d->prepare) return;
    if (c->n.prep) {
        if (c->d->free_prep)
            c->d->free_prep(c->n.prep);
        else
            free(c->n.prep);
        c->n.prep = NULL;
    }
    cs_error err;
    cs_status st = c->d->prepare(&c->n, c->in, c->outp, &err);
    (void)st; /* it succeeded on the same shapes before */
}

static double loss(gc_ctx *c, cs_tensor *const *g)
{
    reprepare(c);
    forward(c);
    double l = 0;
    for (int j = 0; j < c->n.n_out; j++) {
        const float *y = c->out[j].data, *gy = g[j]->data;
        for (int64_t k = 0; k < c->out[j].numel; k++) l += (double)y[k] * gy[k];
    }
    return l;
}

gc_result gc_check(cs_op op, const gc_opts *o, cs_tensor *const *in, int n_in)
{
    gc_result r;
    memset(&r, 0, sizeof r);
    gc_ctx c;
    memset(&c, 0, sizeof c);
    c.d = cs_op_defs[op];
    c.in = in;
    c.n.op = op;
    c.n.name = "gradcheck";
    c.n.op_type = c.d->onnx_name;
    c.n.opset = o->opset ? o->opset : 13;
    c.n.n_in = n_in;
    c.n.n_out = o->n_out ? o->n_out : 1;
    c.n.threads = o->threads > 0 ? o->threads : 1;
    c.n.act = o->act;
    double eps = o->eps > 0 ? o->eps : 1e-2, rtol = o->rtol > 0 ? o->rtol : 2e-2,
           atol = o->atol > 0 ? o->atol : 2e-3;
    int max_elems = o->max_elems > 0 ? o->max_elems : 256;
    uint32_t rng = o->seed ? o->seed : 12345u;
    cs_attrs as = {o->n_attrs, o->attrs};
    cs_tensor *g[GC_MAX_IO] = {0}, *gin[GC_MAX_IO] = {0};
    void *scratch = NULL;
    for (int j = 0; j < c.n.n_out; j++) c.outp[j] = &c.out[j];
    if (!c.d->backward) {
        r.status = cs_fail(&r.err, CS_ERR_UNSUPPORTED, "%s has no backward", c.d->onnx_name);
        return r;
    }
    r.status = c.d->init(&c.n, &as, &r.err);
    if (r.status == CS_OK) r.status = c.d->shape(&c.n, in, c.outp, &r.err);
    if (r.status == CS_OK && c.d->prepare) r.status = c.d->prepare(&c.n, in, c.outp, &r.err);
    if (r.status != CS_OK) goto done;
    size_t sb = c.n.scratch_bytes;
    if (c.d->backward_scratch) {
        size_t b = c.d->backward_scratch(&c.n, in, c.outp);
        if (b > sb) sb = b;
    }
    scratch = sb ? aligned_alloc(64, (sb + 63) / 64 * 64) : NULL;
    c.ex = (cs_exec){.threads = c.n.threads, .pool = cs_pool_new(c.n.threads), .scratch = scratch};
    cs_blas_threads(c.n.threads);
    for (int j = 0; j < c.n.n_out; j++) {
        c.out[j].data = calloc(1, cs_tensor_bytes(&c.out[j]) + 1);
        g[j] = cs_tensor_new(CS_F32, c.out[j].ndim, c.out[j].dims, NULL);
        gc_fill(g[j], &rng, -1.f, 1.f);
    }
    for (int i = 0; i < n_in; i++)
        if (in[i] && (o->check_mask >> i & 1) && in[i]->type == CS_F32)
            gin[i] = cs_tensor_new(CS_F32, in[i]->ndim, in[i]->dims, NULL);
    forward(&c);
    c.d->backward(&c.n, in, c.outp, g, gin, &c.ex);
    for (int i = 0; i < n_in; i++) {
        if (!gin[i]) continue;
        float *x = in[i]->data;
        const float *bw = gin[i]->data;
        int64_t n = in[i]->numel;
        int count = n < max_elems ? (int)n : max_elems;
        for (int t = 0; t < count; t++) {
            int64_t k = n <= max_elems ? t : (int64_t)(next(&rng) % (uint32_t)n);
            float x0 = x[k];
            x[k] = x0 + (float)eps;
            double lp = loss(&c, g);
            x[k] = x0 - (float)eps;
            double lm = loss(&c, g);
            x[k] = x0;
            reprepare(&c);
            double fd = (lp - lm) / (2 * eps), err = fabs(fd - bw[k]);
            r.n_checked++;
            if (err > atol + rtol * fabs(fd)) r.n_bad++;
            if (err > r.max_abs_err) {
                r.max_abs_err = err;
                r.worst_fd = fd;
                r.worst_bw = bw[k];
                r.worst_input = i;
                r.worst_index = k;
            }
        }
    }
done:
    cs_pool_destroy(&c.ex.pool);
    free(scratch);
    for (int j = 0; j < GC_MAX_IO; j++) {
        free(c.out[j].data);
        cs_tensor_free(&g[j]);
        cs_tensor_free(&gin[j]);
    }
    if (c.n.prep) {
        if (c.d->free_prep)
            c.d->free_prep(c.n.prep);
        else
            free(c.n.prep);
    }
    if (c.n.params) {
        if (c.d->free_params)
            c.d->free_params(c.n.params);
        else
            free(c.n.params);
    }
    return r;
}
