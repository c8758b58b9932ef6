/* Backward passes over a plan: the steps on a path from the requested tensors to the output
 * run their ops' backward() in reverse order, accumulating into one gradient arena sized
 * when the cs_grad is made. */
#include "plan.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    int step;
    cs_tensor **gin, **gout;
} cs_grad_step;

struct cs_grad {
    cs_plan *p;
    int n_of;
    int *of; /* the outputs whose seeds start the pass */
    int n_wrt;
    int *wrt;
    cs_tensor *g; /* per plan value; data NULL when not on a path */
    int n_steps;
    cs_grad_step *steps; /* in backward order */
    void *arena;
    void *scratch;
    size_t scratch_bytes;
};

void cs_grad_destroy(cs_grad **pg)
{
    if (!pg || !*pg) return;
    cs_grad *g = *pg;
    for (int i = 0; i < g->n_steps; i++) {
        free(g->steps[i].gin);
        free(g->steps[i].gout);
    }
    free(g->steps);
    free(g->wrt);
    free(g->of);
    free(g->g);
    free(g->arena);
    free(g->scratch);
    free(g);
    *pg = NULL;
}

static int find_value(const cs_plan *p, const char *name, const char *what, cs_error *err)
{
    int id = cs_model_find(p->m, name);
    if (id < 0) {
        cs_fail(err, CS_ERR_INVALID, "gradient: %s '%s' is not a tensor of %s", what, name,
                p->m->source);
        return -1;
    }
    const cs_pvalue *v = &p->v[id];
    if (!v->shaped) {
        cs_fail(err, CS_ERR_INVALID,
                "gradient: %s '%s' was fused away; keep it (cs_plan_opts.keep) to use it", what,
                name);
        return -1;
    }
    if (v->t.type != CS_F32) {
        cs_fail(err, CS_ERR_INVALID, "gradient: %s '%s' is not a float tensor", what, name);
        return -1;
    }
    return id;
}

cs_grad *cs_grad_new(cs_plan *p, const char *of, const char *const *wrt, int n_wrt, cs_error *err)
{
    return cs_grad_new_multi(p, &of, 1, wrt, n_wrt, err);
}

static bool is_of(const cs_grad *g, int id)
{
    for (int i = 0; i < g->n_of; i++)
        if (g->of[i] == id) return true;
    return false;
}

cs_grad *cs_grad_new_multi(cs_plan *p, const char *const *of, int n_of, const char *const *wrt,
                           int n_wrt, cs_error *err)
{
    if (!p->gradients) {
        cs_fail(err, CS_ERR_INVALID, "gradient: the plan was not made with opts.gradients = 1");
        return NULL;
    }
    if (n_of < 1) {
        cs_fail(err, CS_ERR_INVALID, "gradient: no output to differentiate");
        return NULL;
    }
    if (n_wrt < 1) {
        cs_fail(err, CS_ERR_INVALID, "gradient: no tensor to differentiate with respect to");
        return NULL;
    }
    cs_grad *g = calloc(1, sizeof *g);
    bool *fwd = calloc((size_t)p->n_values, sizeof *fwd);
    bool *bwd = calloc((size_t)p->n_values, sizeof *bwd);
    if (!g || !fwd || !bwd) goto nomem;
    g->p = p;
    g->wrt = calloc((size_t)n_wrt, sizeof *g->wrt);
    g->of = calloc((size_t)n_of, sizeof *g->of);
    g->g = calloc((size_t)p->n_values, sizeof *g->g);
    g->steps = calloc((size_t)p->n_steps + 1, sizeof *g->steps);
    if (!g->wrt || !g->of || !g->g || !g->steps) goto nomem;
    for (int i = 0; i < n_of; i++) {
        if ((g->of[i] = find_value(p, of[i], "output", err)) < 0) goto fail;
        g->n_of = i + 1;
    }
    g->n_wrt = n_wrt;
    for (int i = 0; i < n_wrt; i++) {
        if ((g->wrt[i] = find_value(p, wrt[i], "tensor", err)) < 0) goto fail;
        if (!p->v[g->wrt[i]].grad_ok && !p->v[g->wrt[i]].konst) {
            cs_fail(err, CS_ERR_INVALID,
                    "gradient: '%s' is not downstream of the plan's opts.grad_from tensors",
                    wrt[i]);
            goto fail;
        }
        fwd[g->wrt[i]] = true;
    }
    for (int k = 0; k < p->n_steps; k++) {
        const cs_step *s = &p->steps[k];
        if (s->dead) continue;
        bool any = false;
        for (int i = 0; i < s->node.n_in; i++) any |= s->node.in[i] >= 0 && fwd[s->node.in[i]];
        for (int j = 0; any && j < s->node.n_out; j++)
            if (s->node.out[j] >= 0) fwd[s->node.out[j]] = true;
    }
    for (int i = 0; i < g->n_of; i++) bwd[g->of[i]] = true;
    for (int k = p->n_steps - 1; k >= 0; k--) {
        const cs_step *s = &p->steps[k];
        if (s->dead) continue;
        bool any = false;
        for (int j = 0; j < s->node.n_out; j++) any |= s->node.out[j] >= 0 && bwd[s->node.out[j]];
        for (int i = 0; any && i < s->node.n_in; i++)
            if (s->node.in[i] >= 0) bwd[s->node.in[i]] = true;
    }
    for (int i = 0; i < n_wrt; i++)
        if (!bwd[g->wrt[i]] && !is_of(g, g->wrt[i])) {
            cs_fail(err, CS_ERR_INVALID, "gradient: '%s' does not influence '%s'", wrt[i], of[0]);
            goto fail;
        }
    /* One arena for every gradient on a path. */
    size_t total = 0;
    for (int i = 0; i < p->n_values; i++)
        if (fwd[i] && bwd[i]) total += (cs_tensor_bytes(&p->v[i].t) + 63) / 64 * 64;
    g->arena = aligned_alloc(64, total ? total : 64);
    if (!g->arena) goto nomem;
    memset(g->arena, 0, total);
    size_t off = 0;
    for (int i = 0; i < p->n_values; i++) {
        if (!(fwd[i] && bwd[i])) continue;
        g->g[i] = p->v[i].t;
        g->g[i].data = (char *)g->arena + off;
        off += (cs_tensor_bytes(&p->v[i].t) + 63) / 64 * 64;
    }
    for (int k = p->n_steps - 1; k >= 0; k--) {
        const cs_step *s = &p->steps[k];
        if (s->dead) continue;
        bool in_need = false, out_need = false;
        for (int i = 0; i < s->node.n_in; i++)
            in_need |= s->node.in[i] >= 0 && g->g[s->node.in[i]].data != NULL;
        for (int j = 0; j < s->node.n_out; j++)
            out_need |= s->node.out[j] >= 0 && g->g[s->node.out[j]].data != NULL;
        if (!in_need || !out_need) continue;
        const cs_op_def *d = cs_op_defs[s->node.op];
        if (!d->backward) {
            cs_node_fail(err, CS_ERR_UNSUPPORTED, &s->node, "no gradient for this operator");
            goto fail;
        }
        cs_grad_step *gs = &g->steps[g->n_steps++];
        gs->step = k;
        gs->gin = calloc((size_t)s->node.n_in + 1, sizeof *gs->gin);
        gs->gout = calloc((size_t)s->node.n_out + 1, sizeof *gs->gout);
        if (!gs->gin || !gs->gout) goto nomem;
        for (int i = 0; i < s->node.n_in; i++) {
            int id = s->node.in[i];
            gs->gin[i] = id >= 0 && g->g[id].data && !p->v[id].konst ? &g->g[id] : NULL;
            /* constants (weights) get a gradient only when asked for */
            for (int w = 0; id >= 0 && w < n_wrt; w++)
                if (g->wrt[w] == id) gs->gin[i] = &g->g[id];
        }
        for (int j = 0; j < s->node.n_out; j++) {
            int id = s->node.out[j];
            gs->gout[j] = id >= 0 && g->g[id].data ? &g->g[id] : NULL;
        }
        if (d->backward_scratch) {
            size_t b = d->backward_scratch(&s->node, s->in, s->out);
            if (b > g->scratch_bytes) g->scratch_bytes = b;
        }
    }
    if (g->scratch_bytes && !(g->scratch = aligned_alloc(64, (g->scratch_bytes + 63) / 64 * 64)))
        goto nomem;
    free(fwd);
    free(bwd);
    return g;
nomem:
    cs_fail(err, CS_ERR_NOMEM, "gradient: out of memory");
fail:
    free(fwd);
    free(bwd);
    cs_grad_destroy(&g);
    return NULL;
}

int cs_grad_n_steps(const cs_grad *g)
{
    return g->n_steps;
}

cs_tensor *cs_grad_seed(cs_grad *g)
{
    return &g->g[g->of[0]];
}

cs_tensor *cs_grad_seed_at(cs_grad *g, int i)
{
    return i >= 0 && i < g->n_of ? &g->g[g->of[i]] : NULL;
}

const cs_tensor *cs_grad_wrt(const cs_grad *g, int i)
{
    return i >= 0 && i < g->n_wrt ? &g->g[g->wrt[i]] : NULL;
}

cs_status cs_grad_run(cs_grad *g, cs_error *err)
{
    (void)err;
    cs_plan *p = g->p;
    for (int i = 0; i < p->n_values; i++)
        if (g->g[i].data && !is_of(g, i)) memset(g->g[i].data, 0, cs_tensor_bytes(&g->g[i]));
    cs_blas_threads(p->threads);
    cs_exec ex = {
        .threads = p->threads, .pool = p->pool, .scratch = g->scratch, .training = p->training};
    for (int k = 0; k < g->n_steps; k++) {
        const cs_grad_step *gs = &g->steps[k];
        cs_step *s = &p->steps[gs->step];
        cs_op_defs[s->node.op]->backward(&s->node, s->in, s->out, gs->gout, gs->gin, &ex);
    }
    return CS_OK;
}
