/* The planner: input shapes -> BatchNorm folding -> shape inference with constant folding ->
 * activation fusion -> weight prepacking -> a memory plan. cs_plan_run then executes the
 * remaining steps over one arena and allocates nothing. */
#include "plan.h"

#include <stdlib.h>
#include <string.h>

#define ALIGN 64
#define NEVER INT32_MAX

cs_plan_opts cs_plan_opts_default(void)
{
    cs_plan_opts o;
    memset(&o, 0, sizeof o);
    return o;
}

static void *alloc_aligned(size_t bytes)
{
    size_t n = (bytes + ALIGN - 1) / ALIGN * ALIGN;
    void *p = aligned_alloc(ALIGN, n ? n : ALIGN);
    if (p) memset(p, 0, n ? n : ALIGN);
    return p;
}

float *cs_plan_own_f32(cs_plan *p, int id, int ndim, const int64_t *dims)
{
    cs_pvalue *v = &p->v[id];
    cs_tensor_set_shape(&v->t, CS_F32, ndim, dims);
    free(v->owned);
    v->owned = alloc_aligned(cs_tensor_bytes(&v->t));
    v->t.data = v->owned;
    v->shaped = v->konst = v->readable = v->owned != NULL;
    return v->owned;
}

static bool hold(cs_plan *p, cs_wcache_entry *e)
{
    if (p->n_held == p->cap_held) {
        int cap = p->cap_held ? 2 * p->cap_held : 16;
        cs_wcache_entry **h = realloc(p->held, sizeof *h * (size_t)cap);
        if (!h) return false;
        p->held = h;
        p->cap_held = cap;
    }
    p->held[p->n_held++] = e;
    return true;
}

void *cs_plan_share_get(cs_plan *p, const int64_t *key, int n)
{
    void *data = NULL;
    cs_wcache_entry *e = cs_wcache_get(p->m, key, n, &data);
    if (!e) return NULL;
    if (!hold(p, e)) {
        cs_wcache_release(e);
        return NULL; /* recomputed on the miss path, where out of memory is reported */
    }
    return data;
}

void *cs_plan_share_put(cs_plan *p, const int64_t *key, int n, void *data, void (*free_fn)(void *))
{
    cs_wcache_entry *e = cs_wcache_put(p->m, key, n, &data, free_fn);
    if (!e) {
        free_fn(data);
        return NULL;
    }
    if (!hold(p, e)) {
        cs_wcache_release(e);
        return NULL;
    }
    return data;
}

int64_t cs_plan_stable(const cs_plan *p, int id)
{
    if (id < 0) return 0;
    const cs_pvalue *v = &p->v[id];
    if (v->stable) return v->stable;
    if (id < p->m->n_values && !v->param && p->m->values[id].konst &&
        v->t.data == p->m->values[id].konst->data)
        return id + 1;
    return 0;
}

static void free_node(cs_node *n)
{
    const cs_op_def *d = cs_op_defs[n->op];
    if (n->prep) {
        if (d->free_prep)
            d->free_prep(n->prep);
        else
            free(n->prep);
        n->prep = NULL;
    }
    if (n->params) {
        if (d->free_params)
            d->free_params(n->params);
        else
            free(n->params);
        n->params = NULL;
    }
}

void cs_plan_destroy(cs_plan **pp)
{
    if (!pp || !*pp) return;
    cs_plan *p = *pp;
    for (int i = 0; i < p->n_steps; i++) {
        cs_step *s = &p->steps[i];
        if (s->shared_prep) s->node.prep = NULL; /* the cache's, released below */
        free_node(&s->node);
        free(s->node.in);
        free(s->node.out);
        free(s->in);
        free(s->out);
    }
    for (int i = 0; i < p->n_values; i++) free(p->v[i].owned);
    for (int i = 0; i < p->n_held; i++) cs_wcache_release(p->held[i]);
    free(p->held);
    free(p->bound);
    free(p->bound_in_place);
    free(p->input_home);
    free(p->params);
    free(p->steps);
    free(p->v);
    free(p->arena);
    free(p->scratch);
    cs_pool_destroy(&p->pool);
    free(p);
    *pp = NULL;
}

static cs_status make_steps(cs_plan *p, cs_error *err)
{
    const cs_model *m = p->m;
    p->steps = calloc((size_t)m->n_nodes + 1, sizeof *p->steps);
    if (!p->steps) return cs_fail(err, CS_ERR_NOMEM, "out of memory");
    for (int i = 0; i < m->n_nodes; i++) {
        const cs_mnode *mn = &m->nodes[i];
        cs_step *s = &p->steps[i];
        cs_node *n = &s->node;
        p->n_steps = i + 1;
        n->op = mn->op;
        n->name = mn->name;
        n->op_type = mn->op_type;
        n->opset = m->opset;
        n->n_in = mn->n_in;
        n->n_out = mn->n_out;
        n->threads = p->threads;
        /* One spare input slot: BatchNorm folding may add a bias to a Conv. */
        n->in = malloc(sizeof(int) * (size_t)(mn->n_in + 1));
        n->out = malloc(sizeof(int) * (size_t)(mn->n_out + 1));
        s->in = calloc((size_t)mn->n_in + 1, sizeof(cs_tensor *));
        s->out = calloc((size_t)mn->n_out + 1, sizeof(cs_tensor *));
        if (!n->in || !n->out || !s->in || !s->out)
            return cs_fail(err, CS_ERR_NOMEM, "out of memory");
        memcpy(n->in, mn->in, sizeof(int) * (size_t)mn->n_in);
        memcpy(n->out, mn->out, sizeof(int) * (size_t)mn->n_out);
        cs_attrs as = {mn->n_attrs, mn->attrs};
        cs_status st = cs_op_defs[n->op]->init(n, &as, err);
        if (st != CS_OK) return st;
    }
    return CS_OK;
}

/* CS_OK when 0 <= ndim <= CS_MAX_DIMS, every dim >= 0 and the element count fits 2^31 (the
 * limit initializers have too), computed without overflow. */
static cs_status check_dims(int ndim, const int64_t *dims)
{
    if (ndim < 0 || ndim > CS_MAX_DIMS) return CS_ERR_INVALID;
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) {
        if (dims[d] < 0) return CS_ERR_INVALID;
        if (dims[d] > 0 && n > (INT64_C(1) << 31) / dims[d]) return CS_ERR_INVALID;
        n *= dims[d];
    }
    return CS_OK;
}

/* Input shapes come from the model or the caller: refuse negative dims, more than
 * CS_MAX_DIMS dims and sizes whose element count would overflow (2^31 elements at most, the
 * limit initializers have too). */
static cs_status check_input_dims(const char *name, int ndim, const int64_t *dims, cs_error *err)
{
    if (ndim < 0 || ndim > CS_MAX_DIMS)
        return cs_fail(err, CS_ERR_INVALID, "input '%s': %d dimensions (0 to %d supported)", name,
                       ndim, CS_MAX_DIMS);
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) {
        if (dims[d] < 0)
            return cs_fail(err, CS_ERR_INVALID, "input '%s': dimension %d is negative (%lld)", name,
                           d, (long long)dims[d]);
        if (dims[d] > 0 && n > (INT64_C(1) << 31) / dims[d])
            return cs_fail(err, CS_ERR_INVALID,
                           "input '%s': dimension %d (%lld) makes the input too large (more "
                           "than 2^31 elements)",
                           name, d, (long long)dims[d]);
        n *= dims[d];
    }
    return CS_OK;
}

static cs_status set_input_shapes(cs_plan *p, const cs_plan_opts *o, cs_error *err)
{
    const cs_model *m = p->m;
    int batch = o->batch > 0 ? o->batch : 1;
    for (int i = 0; i < m->n_inputs; i++) {
        const cs_tensor *decl = &m->input_decl[i];
        cs_pvalue *v = &p->v[m->inputs[i]];
        if (o->input_shapes && i < o->n_input_shapes) {
            const cs_tensor *given = &o->input_shapes[i];
            cs_status st = check_input_dims(decl->name, given->ndim, given->dims, err);
            if (st != CS_OK) return st;
            if (given->type != decl->type)
                return cs_fail(err, CS_ERR_INVALID, "input '%s': given type %d, model expects %d",
                               decl->name, (int)given->type, (int)decl->type);
            if (decl->ndim >= 0 && given->ndim != decl->ndim)
                return cs_fail(err, CS_ERR_INVALID,
                               "input '%s': given %d dimensions, the model declares %d", decl->name,
                               given->ndim, decl->ndim);
            for (int d = 0; decl->ndim >= 0 && d < decl->ndim; d++)
                if (decl->dims[d] >= 0 && decl->dims[d] != given->dims[d] &&
                    !(d == 0 && o->batch > 0)) {
                    char a[96], b[96];
                    return cs_fail(err, CS_ERR_INVALID,
                                   "input '%s': shape %s does not fit the model's %s", decl->name,
                                   cs_shape_str(given, a, sizeof a),
                                   cs_shape_str(decl, b, sizeof b));
                }
            cs_tensor_set_shape(&v->t, given->type, given->ndim, given->dims);
            if (i < 64 && (o->const_inputs >> i & 1)) {
                if (!given->data)
                    return cs_fail(err, CS_ERR_INVALID,
                                   "input '%s' is bound as a constant but has no data", decl->name);
                v->owned = alloc_aligned(cs_tensor_bytes(&v->t));
                if (!v->owned) return cs_fail(err, CS_ERR_NOMEM, "out of memory");
                memcpy(v->owned, given->data, cs_tensor_bytes(&v->t));
                v->t.data = v->owned;
                v->konst = v->readable = true;
            }
        } else {
            if (decl->ndim < 0)
                return cs_fail(err, CS_ERR_INVALID,
                               "input '%s' has no declared shape: give its shape explicitly",
                               decl->name);
            int64_t dims[CS_MAX_DIMS];
            for (int d = 0; d < decl->ndim; d++) {
                dims[d] = decl->dims[d];
                if (d == 0 && (dims[d] < 0 || o->batch > 0)) dims[d] = batch;
                if (dims[d] < 0)
                    return cs_fail(err, CS_ERR_INVALID,
                                   "input '%s': dimension %d is symbolic; give the input "
                                   "shape explicitly",
                                   decl->name, d);
            }
            cs_status st = check_input_dims(decl->name, decl->ndim, dims, err);
            if (st != CS_OK) return st;
            cs_tensor_set_shape(&v->t, decl->type, decl->ndim, dims);
        }
        v->shaped = true;
    }
    return CS_OK;
}

static void bind(cs_plan *p, cs_step *s)
{
    cs_node *n = &s->node;
    for (int i = 0; i < n->n_in; i++) s->in[i] = n->in[i] >= 0 ? &p->v[n->in[i]].t : NULL;
    for (int i = 0; i < n->n_out; i++) s->out[i] = n->out[i] >= 0 ? &p->v[n->out[i]].t : NULL;
}

/* Runs a step whose inputs are all constant, once, at plan time. */
static cs_status fold_step(cs_plan *p, cs_step *s, cs_error *err)
{
    cs_node *n = &s->node;
    const cs_op_def *d = cs_op_defs[n->op];
    if (d->prepare) {
        cs_status st = d->prepare(n, s->in, s->out, err);
        if (st != CS_OK) return st;
    }
    for (int i = 0; i < n->n_out; i++) {
        if (n->out[i] < 0) continue;
        cs_pvalue *v = &p->v[n->out[i]];
        if ((d->flags & CS_OPF_ALIAS) && i == 0 && s->in[0] && s->in[0]->data) {
            v->t.data = s->in[0]->data;
        } else {
            v->owned = alloc_aligned(cs_tensor_bytes(&v->t));
            if (!v->owned) return cs_node_fail(err, CS_ERR_NOMEM, n, "out of memory");
            v->t.data = v->owned;
        }
    }
    void *scratch = n->scratch_bytes ? alloc_aligned(n->scratch_bytes) : NULL;
    if (n->scratch_bytes && !scratch) return cs_node_fail(err, CS_ERR_NOMEM, n, "out of memory");
    cs_exec ex = {.threads = 1, .pool = NULL, .scratch = scratch};
    d->forward(n, s->in, s->out, &ex);
    free(scratch);
    for (int i = 0; i < n->n_out; i++)
        if (n->out[i] >= 0) p->v[n->out[i]].konst = p->v[n->out[i]].readable = true;
    free_node(n);
    s->dead = true;
    return CS_OK;
}

static cs_status infer_shapes(cs_plan *p, cs_error *err)
{
    for (int k = 0; k < p->n_steps; k++) {
        cs_step *s = &p->steps[k];
        if (s->dead) continue;
        cs_node *n = &s->node;
        const cs_op_def *d = cs_op_defs[n->op];
        bool all_const = true;
        for (int i = 0; i < n->n_in; i++) {
            if (n->in[i] < 0) continue;
            cs_pvalue *v = &p->v[n->in[i]];
            if (!v->shaped)
                return cs_node_fail(err, CS_ERR_INVALID, n, "input '%s' has no shape", v->t.name);
            if (!v->konst) {
                v->t.data = NULL;
                all_const = false;
            }
            if (v->param) all_const = false; /* changes between runs: never folded */
        }
        bind(p, s);
        cs_status st = d->shape(n, s->in, s->out, err);
        if (st != CS_OK) return st;
        for (int i = 0; i < n->n_out; i++) {
            if (n->out[i] < 0) continue;
            /* Refuse absurd outputs (a Reshape or Resize asking for terabytes) before the
             * memory plan tries to allocate them. */
            const cs_tensor *t = &p->v[n->out[i]].t;
            if (t->ndim >= 0 && check_dims(t->ndim, t->dims) != CS_OK) {
                char shape[128];
                return cs_node_fail(err, CS_ERR_INVALID, n,
                                    "output '%s' of shape %s is too large (more than 2^31 "
                                    "elements) or has a negative dimension",
                                    t->name, cs_shape_str(t, shape, sizeof shape));
            }
            p->v[n->out[i]].shaped = true;
        }
        bool foldable =
            (all_const && !(d->flags & CS_OPF_NO_FOLD)) || (d->flags & CS_OPF_SHAPE_ONLY);
        if (foldable) {
            st = fold_step(p, s, err);
            if (st != CS_OK) return st;
        }
    }
    return CS_OK;
}

static int root_of(const cs_plan *p, int id)
{
    while (p->v[id].alias_of >= 0) id = p->v[id].alias_of;
    return id;
}

typedef struct {
    int id;
    size_t size;
    int begin, end;
} cs_buf;

static int by_size_desc(const void *a, const void *b)
{
    const cs_buf *x = a, *y = b;
    if (x->size != y->size) return x->size < y->size ? 1 : -1;
    return x->id - y->id;
}

/* Greedy offline assignment: largest buffers first, each at the lowest offset that does not
 * overlap a buffer alive at the same time. */
static cs_status plan_memory(cs_plan *p, bool keep_all, cs_error *err)
{
    const cs_model *m = p->m;
    for (int i = 0; i < p->n_values; i++) {
        p->v[i].alias_of = -1;
        p->v[i].last_use = -1;
        p->v[i].first_def = -1;
    }
    for (int k = 0; k < p->n_steps; k++) {
        cs_step *s = &p->steps[k];
        if (s->dead) continue;
        const cs_node *n = &s->node;
        for (int i = 0; i < n->n_in; i++) {
            if (n->in[i] < 0 || p->v[n->in[i]].konst) continue;
            int r = root_of(p, n->in[i]);
            if (p->v[r].last_use < k) p->v[r].last_use = k;
        }
        for (int i = 0; i < n->n_out; i++) {
            if (n->out[i] < 0) continue;
            cs_pvalue *v = &p->v[n->out[i]];
            v->first_def = k;
            if ((cs_op_defs[n->op]->flags & CS_OPF_ALIAS) && i == 0 && n->in[0] >= 0 &&
                !p->v[n->in[0]].konst)
                v->alias_of = n->in[0];
        }
    }
    for (int i = 0; i < p->n_values; i++) {
        cs_pvalue *v = &p->v[i];
        if (v->konst || !v->shaped) continue;
        if (v->keep || keep_all) p->v[root_of(p, i)].last_use = NEVER;
    }
    for (int i = 0; i < m->n_inputs; i++) p->v[m->inputs[i]].last_use = NEVER;
    /* Backward passes from opts.grad_from read the inputs and outputs of every step
     * downstream of those tensors: keep exactly these. */
    for (int k = 0; k < p->n_steps; k++) {
        const cs_step *s = &p->steps[k];
        if (s->dead) continue;
        bool on_path = false;
        for (int i = 0; i < s->node.n_in; i++)
            on_path |= s->node.in[i] >= 0 && p->v[s->node.in[i]].grad_ok;
        if (!on_path) continue;
        for (int j = 0; j < s->node.n_out; j++)
            if (s->node.out[j] >= 0) p->v[s->node.out[j]].grad_ok = true;
        for (int i = 0; i < s->node.n_in; i++)
            if (s->node.in[i] >= 0 && !p->v[s->node.in[i]].konst)
                p->v[root_of(p, s->node.in[i])].last_use = NEVER;
        for (int j = 0; j < s->node.n_out; j++)
            if (s->node.out[j] >= 0) p->v[root_of(p, s->node.out[j])].last_use = NEVER;
    }

    cs_buf *bufs = calloc((size_t)p->n_values + 1, sizeof *bufs);
    if (!bufs) return cs_fail(err, CS_ERR_NOMEM, "out of memory");
    int nb = 0;
    for (int i = 0; i < p->n_values; i++) {
        cs_pvalue *v = &p->v[i];
        if (v->konst || !v->shaped || v->alias_of >= 0) continue;
        bool is_input = false;
        for (int j = 0; j < m->n_inputs; j++) is_input |= m->inputs[j] == i;
        if (v->first_def < 0 && !is_input) continue; /* fused away */
        int end = v->last_use < v->first_def ? v->first_def : v->last_use;
        bufs[nb++] =
            (cs_buf){i, (cs_tensor_bytes(&v->t) + ALIGN - 1) / ALIGN * ALIGN, v->first_def, end};
    }
    qsort(bufs, (size_t)nb, sizeof *bufs, by_size_desc);
    size_t total = 0;
    for (int i = 0; i < nb; i++) {
        size_t off = 0;
        bool moved = true;
        while (moved) { /* bump past every placed, overlapping-in-time buffer */
            moved = false;
            for (int j = 0; j < i; j++) {
                if (bufs[j].end < bufs[i].begin || bufs[i].end < bufs[j].begin) continue;
                size_t jo = p->v[bufs[j].id].offset;
                if (off < jo + bufs[j].size && jo < off + bufs[i].size) {
                    off = jo + bufs[j].size;
                    moved = true;
                }
            }
        }
        p->v[bufs[i].id].offset = off;
        if (off + bufs[i].size > total) total = off + bufs[i].size;
    }
    p->arena_bytes = total;
    p->arena = alloc_aligned(total);
    if (!p->arena) {
        free(bufs);
        return cs_fail(err, CS_ERR_NOMEM, "out of memory for a %zu-byte activation arena", total);
    }
    for (int i = 0; i < nb; i++) {
        cs_pvalue *v = &p->v[bufs[i].id];
        v->t.data = (char *)p->arena + v->offset;
        v->readable = v->last_use == NEVER;
    }
    free(bufs);
    for (int i = 0; i < p->n_values; i++) {
        cs_pvalue *v = &p->v[i];
        if (v->alias_of < 0) continue;
        int r = root_of(p, i);
        v->t.data = p->v[r].t.data;
        v->readable = p->v[r].last_use == NEVER;
    }
    return CS_OK;
}

/* opts.trainable: every float initializer becomes a plan-owned copy an optimizer may change
 * (the model stays immutable and shareable). */
static cs_status make_params(cs_plan *p, cs_error *err)
{
    const cs_model *m = p->m;
    p->trainable = true;
    p->params = calloc((size_t)m->n_values + 1, sizeof *p->params);
    if (!p->params) return cs_fail(err, CS_ERR_NOMEM, "out of memory");
    for (int i = 0; i < m->n_values; i++) {
        const cs_tensor *k = m->values[i].konst;
        if (!k || k->type != CS_F32) continue;
        cs_pvalue *v = &p->v[i];
        v->owned = alloc_aligned(cs_tensor_bytes(k));
        if (!v->owned) return cs_fail(err, CS_ERR_NOMEM, "out of memory for parameters");
        memcpy(v->owned, k->data, cs_tensor_bytes(k));
        v->t.data = v->owned;
        v->param = true;
        p->params[p->n_params++] = i;
    }
    return CS_OK;
}

static bool reads_param(const cs_plan *p, const cs_step *s)
{
    for (int i = 0; i < s->node.n_in; i++)
        if (s->node.in[i] >= 0 && p->v[s->node.in[i]].param) return true;
    return false;
}

/* Key of a step's prepared data: the node, its fused activation and each input's stable key
 * (constants) or shape (the rest). prepare() depends on nothing else (not on threads), so
 * equal keys give identical prep. 0 when a constant input depends on this plan. */
static int prep_key(const cs_plan *p, int k, int64_t *key, int cap)
{
    const cs_node *n = &p->steps[k].node;
    int len = 0;
    if (cap < 5) return 0;
    key[len++] = 'P';
    key[len++] = k;
    key[len++] = n->op;
    key[len++] = n->act.kind;
    key[len++] = n->n_in;
    for (int i = 0; i < n->n_in; i++) {
        const cs_tensor *t = p->steps[k].in[i];
        if (len + 2 + CS_MAX_DIMS > cap) return 0;
        if (!t) {
            key[len++] = -1;
        } else if (t->data) {
            if (!(key[len++] = cs_plan_stable(p, n->in[i]))) return 0;
        } else {
            key[len++] = t->ndim;
            for (int d = 0; d < t->ndim; d++) key[len++] = t->dims[d];
        }
    }
    return len;
}

/* d->prepare for step k, through the shared cache when the plan shares derived weights. */
static cs_status prepare_step(cs_plan *p, int k, cs_error *err)
{
    cs_step *s = &p->steps[k];
    const cs_op_def *d = cs_op_defs[s->node.op];
    int64_t key[256];
    int n = p->share ? prep_key(p, k, key, 256) : 0;
    void *prep = n ? cs_plan_share_get(p, key, n) : NULL;
    if (prep) {
        s->node.prep = prep;
        s->shared_prep = true;
        return CS_OK;
    }
    cs_status st = d->prepare(&s->node, s->in, s->out, err);
    if (st != CS_OK || !n || !s->node.prep) return st;
    prep = s->node.prep;
    s->node.prep = NULL;
    prep = cs_plan_share_put(p, key, n, prep, d->free_prep ? d->free_prep : free);
    if (!prep) return cs_node_fail(err, CS_ERR_NOMEM, &s->node, "out of memory sharing weights");
    s->node.prep = prep;
    s->shared_prep = true;
    return CS_OK;
}

cs_plan *cs_plan_new(const cs_model *m, const cs_plan_opts *o, cs_error *err)
{
    cs_plan_opts def = cs_plan_opts_default();
    if (!o) o = &def;
    cs_plan *p = calloc(1, sizeof *p);
    if (!p) {
        cs_fail(err, CS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    cs_status st = CS_OK;
    p->m = m;
    p->threads = o->threads > 0 ? o->threads : cs_cpu_count();
    p->pool = cs_pool_new(p->threads);
    /* Room for the constants BatchNorm folding creates (two per folded node). */
    p->v = calloc((size_t)m->n_values + 2 * (size_t)m->n_nodes + 1, sizeof *p->v);
    if (!p->v) {
        st = cs_fail(err, CS_ERR_NOMEM, "out of memory");
        goto fail;
    }
    p->n_values = m->n_values;
    for (int i = 0; i < m->n_values; i++) {
        cs_pvalue *v = &p->v[i];
        v->t.name = m->values[i].name;
        v->t.ndim = -1;
        v->alias_of = -1;
        if (m->values[i].konst) {
            v->t = *m->values[i].konst;
            v->t.name = m->values[i].name;
            v->shaped = v->konst = v->readable = true;
        }
    }
    for (int i = 0; i < o->n_keep; i++) {
        int id = cs_model_find(m, o->keep[i]);
        if (id < 0) {
            st = cs_fail(err, CS_ERR_INVALID, "%s: keep: no tensor is named '%s'", m->source,
                         o->keep[i]);
            goto fail;
        }
        p->v[id].keep = true;
    }
    for (int i = 0; i < m->n_outputs; i++) p->v[m->outputs[i]].keep = true;
    for (int i = 0; i < m->n_inputs; i++) p->v[m->inputs[i]].keep = true;
    p->gradients = o->gradients != 0 || o->trainable != 0;
    /* Trainable plans own writable parameters: nothing derived from them is shared. */
    p->share = !o->trainable;
    if (o->trainable && (st = make_params(p, err)) != CS_OK) goto fail;
    if (o->keep_all)
        for (int i = 0; i < m->n_values; i++) p->v[i].keep = true;

    if ((st = make_steps(p, err)) != CS_OK) goto fail;
    if ((st = set_input_shapes(p, o, err)) != CS_OK) goto fail;
    if (!o->no_fuse && !o->trainable && (st = cs_fold_batchnorm(p, err)) != CS_OK) goto fail;
    if ((st = infer_shapes(p, err)) != CS_OK) goto fail;
    if (!o->no_fuse) cs_fuse_activations(p);
    for (int k = 0; k < p->n_steps; k++) {
        cs_step *s = &p->steps[k];
        if (s->dead) continue;
        bind(p, s);
        const cs_op_def *d = cs_op_defs[s->node.op];
        /* Prepacked weights would go stale when a parameter changes: read them as stored. */
        if (d->prepare && !reads_param(p, s) && (st = prepare_step(p, k, err)) != CS_OK) goto fail;
        if (s->node.scratch_bytes > p->scratch_bytes) p->scratch_bytes = s->node.scratch_bytes;
        p->n_live_steps++;
    }
    if (p->gradients) {
        for (int i = 0; i < o->n_grad_from; i++) {
            int id = cs_model_find(m, o->grad_from[i]);
            if (id < 0) {
                st = cs_fail(err, CS_ERR_INVALID, "%s: grad_from: no tensor is named '%s'",
                             m->source, o->grad_from[i]);
                goto fail;
            }
            p->v[id].grad_ok = true;
        }
        if (!o->grad_from)
            for (int i = 0; i < p->n_values; i++) p->v[i].grad_ok = true;
    }
    bool keep_every = o->keep_all || (p->gradients && !o->grad_from);
    if ((st = plan_memory(p, keep_every, err)) != CS_OK) goto fail;
    if (p->scratch_bytes && !(p->scratch = alloc_aligned(p->scratch_bytes))) {
        st = cs_fail(err, CS_ERR_NOMEM, "out of memory for %zu bytes of scratch", p->scratch_bytes);
        goto fail;
    }
    p->n_inputs = m->n_inputs;
    p->n_outputs = m->n_outputs;
    p->bound = calloc((size_t)m->n_inputs + 1, sizeof *p->bound);
    p->bound_in_place = calloc((size_t)m->n_inputs + 1, sizeof *p->bound_in_place);
    p->input_home = calloc((size_t)m->n_inputs + 1, sizeof *p->input_home);
    if (!p->bound || !p->bound_in_place || !p->input_home) {
        st = cs_fail(err, CS_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < m->n_inputs; i++) p->input_home[i] = p->v[m->inputs[i]].t.data;
    return p;
fail:
    (void)st;
    cs_plan_destroy(&p);
    return NULL;
}

cs_plan *cs_plan_new_binding(const cs_model *m, cs_plan_opts *o, cs_error *err)
{
    static const uint64_t masks[] = {0, ~(uint64_t)1, ~(uint64_t)0};
    cs_plan *p = NULL;
    for (size_t i = 0; i < sizeof masks / sizeof masks[0] && !p; i++) {
        o->const_inputs = masks[i];
        if (err) memset(err, 0, sizeof *err);
        p = cs_plan_new(m, o, err);
        if (!p && (!err || !strstr(err->msg, "must be constant"))) break;
    }
    return p;
}

cs_status cs_plan_run(cs_plan *p, cs_error *err)
{
    (void)err;
    /* Ops parallelize through p->pool themselves (threads.h): OpenBLAS single-threaded. */
    cs_blas_threads(1);
    cs_exec ex = {
        .threads = p->threads, .pool = p->pool, .scratch = p->scratch, .training = p->training};
    for (int i = 0; i < p->n_inputs; i++) /* bound but misaligned: copied */
        if (p->bound[i] && !p->bound_in_place[i])
            memcpy(p->input_home[i], p->bound[i], cs_tensor_bytes(&p->v[p->m->inputs[i]].t));
    for (int k = 0; k < p->n_steps; k++) {
        cs_step *s = &p->steps[k];
        if (!s->dead) cs_op_defs[s->node.op]->forward(&s->node, s->in, s->out, &ex);
    }
    return CS_OK;
}

void cs_plan_rest(cs_plan *p)
{
    if (p) cs_pool_rest(p->pool);
}

/* Points the input's buffer, and every value aliasing it (Reshape of the input...), at data. */
static void set_input_data(cs_plan *p, int id, void *data)
{
    for (int j = 0; j < p->n_values; j++)
        if (j == id || (p->v[j].alias_of >= 0 && root_of(p, j) == id)) p->v[j].t.data = data;
}

int cs_plan_bind_input(cs_plan *p, int i, const float *data, cs_error *err)
{
    if (i < 0 || i >= p->n_inputs) {
        cs_fail(err, CS_ERR_INVALID, "%s: bind: no input %d (the plan has %d)", p->m->source, i,
                p->n_inputs);
        return -1;
    }
    int id = p->m->inputs[i];
    const cs_pvalue *v = &p->v[id];
    if (v->konst || v->t.type != CS_F32) {
        cs_fail(err, CS_ERR_INVALID, "%s: bind: input '%s' is %s", p->m->source, v->t.name,
                v->konst ? "a plan-time constant" : "not float");
        return -1;
    }
    /* The kernels read inputs with unaligned loads: float alignment is all they need. The
     * memory plan keeps every input readable (never reused), so the planner writes nothing
     * into the caller's memory; aliases of the input (Reshape...) follow it. */
    bool in_place = data && (uintptr_t)data % _Alignof(float) == 0;
    p->bound[i] = data;
    p->bound_in_place[i] = in_place;
    set_input_data(p, id, in_place ? (void *)data : p->input_home[i]);
    return in_place ? 1 : 0;
}

int cs_plan_n_params(const cs_plan *p)
{
    return p->n_params;
}

cs_tensor *cs_plan_param(cs_plan *p, int i)
{
    return i >= 0 && i < p->n_params ? &p->v[p->params[i]].t : NULL;
}

cs_tensor *cs_plan_param_named(cs_plan *p, const char *name)
{
    int id = cs_model_find(p->m, name);
    return id >= 0 && p->v[id].param ? &p->v[id].t : NULL;
}

cs_status cs_plan_set_training(cs_plan *p, int on, cs_error *err)
{
    if (on && !p->trainable)
        return cs_fail(err, CS_ERR_INVALID,
                       "%s: training mode needs a plan made with opts.trainable = 1", p->m->source);
    p->training = on != 0;
    return CS_OK;
}

int cs_plan_n_inputs(const cs_plan *p)
{
    return p->n_inputs;
}

cs_tensor *cs_plan_input(cs_plan *p, int i)
{
    return i >= 0 && i < p->n_inputs ? &p->v[p->m->inputs[i]].t : NULL;
}

int cs_plan_n_outputs(const cs_plan *p)
{
    return p->n_outputs;
}

const cs_tensor *cs_plan_output(const cs_plan *p, int i)
{
    return i >= 0 && i < p->n_outputs ? &p->v[p->m->outputs[i]].t : NULL;
}

int cs_plan_n_tensors(const cs_plan *p)
{
    return p->m->n_values;
}

const cs_tensor *cs_plan_tensor_at(const cs_plan *p, int i, int *readable)
{
    if (i < 0 || i >= p->m->n_values) return NULL;
    if (readable) *readable = p->v[i].readable && p->v[i].shaped;
    return &p->v[i].t;
}

const cs_tensor *cs_plan_tensor(const cs_plan *p, const char *name, cs_error *err)
{
    int id = cs_model_find(p->m, name);
    if (id < 0) {
        cs_fail(err, CS_ERR_INVALID, "no tensor is named '%s' ('camstream run --list' shows them)",
                name);
        return NULL;
    }
    if (!p->v[id].readable || !p->v[id].shaped) {
        cs_fail(err, CS_ERR_INVALID,
                "tensor '%s' is not kept after a run (its buffer is reused or it was fused "
                "away); list it in the plan's keep option",
                name);
        return NULL;
    }
    return &p->v[id].t;
}

size_t cs_plan_arena_bytes(const cs_plan *p)
{
    return p->arena_bytes;
}

int cs_plan_n_steps(const cs_plan *p)
{
    return p->n_live_steps;
}
