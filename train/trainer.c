/* The training loop's engine: one trainable plan of the architecture's graph at the batch
 * size, one backward pass from all its heads to every trainable weight, the losses that seed
 * it and the optimizer. Evaluation runs the same plan with BatchNorm's running statistics. */
#include "camstream/model_builder.h"
#include "camstream/train.h"
#include "train_err.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cs_trainer {
    cs_arch *a;
    cs_trainer_cfg cfg;
    cs_model *m;
    cs_plan *p;
    cs_grad *g;
    cs_optim *o;
    int n_heads;
    const char *heads[2];
    int n_w;
    float **w;        /* trainable weights (plan parameters) */
    const float **gw; /* their gradients */
    float *backup;    /* the weights before a step, restored when its loss is not finite */
    int64_t n_backup;
};

void cs_trainer_destroy(cs_trainer **pt)
{
    if (!pt || !*pt) return;
    cs_trainer *t = *pt;
    cs_grad_destroy(&t->g);
    cs_plan_destroy(&t->p);
    cs_model_destroy(&t->m);
    cs_optim_destroy(&t->o);
    free(t->w);
    free(t->gw);
    free(t->backup);
    free(t);
    *pt = NULL;
}

cs_trainer *cs_trainer_new(cs_arch *a, const cs_trainer_cfg *cfg, cs_error *err)
{
    if (cfg->batch < 1) {
        cs_train_fail(err, CS_ERR_INVALID, "trainer: batch size %d (1 or more)", cfg->batch);
        return NULL;
    }
    cs_trainer *t = calloc(1, sizeof *t);
    if (!t) {
        cs_train_fail(err, CS_ERR_NOMEM, "trainer: out of memory");
        return NULL;
    }
    t->a = a;
    t->cfg = *cfg;
    size_t len;
    uint8_t *buf = cs_arch_pack(a, &len);
    t->m = cs_model_load_memory(buf, len, cs_arch_name(a->cfg.kind), err);
    free(buf);
    if (!t->m) goto fail;
    cs_plan_opts po = cs_plan_opts_default();
    po.threads = cfg->threads;
    po.batch = cfg->batch;
    po.trainable = 1;
    if (!(t->p = cs_plan_new(t->m, &po, err))) goto fail;
    const char *outs[] = {a->logits, a->box, a->pose, a->image};
    for (int i = 0; i < 4; i++)
        if (outs[i] && t->n_heads < 2) t->heads[t->n_heads++] = outs[i];
    t->n_w = a->n_trainable;
    t->w = calloc((size_t)t->n_w + 1, sizeof *t->w);
    t->gw = calloc((size_t)t->n_w + 1, sizeof *t->gw);
    int64_t *numel = calloc((size_t)t->n_w + 1, sizeof *numel);
    if (!t->w || !t->gw || !numel) {
        free(numel);
        cs_train_fail(err, CS_ERR_NOMEM, "trainer: out of memory");
        goto fail;
    }
    if (!(t->g = cs_grad_new_multi(t->p, t->heads, t->n_heads, (const char *const *)a->trainable,
                                   t->n_w, err))) {
        free(numel);
        goto fail;
    }
    for (int i = 0; i < t->n_w; i++) {
        cs_tensor *w = cs_plan_param_named(t->p, a->trainable[i]);
        t->w[i] = w->data;
        t->gw[i] = cs_grad_wrt(t->g, i)->data;
        numel[i] = w->numel;
        t->n_backup += w->numel;
    }
    t->o = cs_optim_new(&cfg->optim, t->n_w, numel, err);
    free(numel);
    if (!t->o) goto fail;
    if (!(t->backup = malloc(sizeof(float) * (size_t)(t->n_backup + 1)))) {
        cs_train_fail(err, CS_ERR_NOMEM, "trainer: out of memory");
        goto fail;
    }
    return t;
fail:
    cs_trainer_destroy(&t);
    return NULL;
}

cs_plan *cs_trainer_plan(cs_trainer *t)
{
    return t->p;
}

static const float *output(cs_trainer *t, const char *name)
{
    return name ? cs_plan_tensor(t->p, name, NULL)->data : NULL;
}

/* Runs the forward pass on b (padded to the batch with zeros) in the given mode. */
static cs_status forward(cs_trainer *t, const cs_batch *b, int training, cs_error *err)
{
    cs_tensor *x = cs_plan_input(t->p, 0);
    int64_t per = x->numel / x->dims[0];
    if (b->n < 1 || b->n > x->dims[0])
        return cs_train_fail(err, CS_ERR_INVALID, "trainer: %d images for a batch of %lld", b->n,
                             (long long)x->dims[0]);
    memcpy(x->data, b->x, sizeof(float) * (size_t)(per * b->n));
    memset((float *)x->data + per * b->n, 0, sizeof(float) * (size_t)(per * (x->dims[0] - b->n)));
    cs_status st = cs_plan_set_training(t->p, training, err);
    if (st != CS_OK) return st;
    return cs_plan_run(t->p, err);
}

/* Losses of the first n images; with seed, the head gradients go into the grad seeds. */
static void losses(cs_trainer *t, const cs_batch *b, int n, int seed, cs_losses *l)
{
    const cs_arch *a = t->a;
    memset(l, 0, sizeof *l);
    int h = 0;
    if (a->logits) {
        int k = a->cfg.n_classes;
        float *g = seed ? cs_grad_seed_at(t->g, h)->data : NULL;
        l->cls = cs_loss_softmax_ce(output(t, a->logits), b->cls, n, k, 1.f, g);
        h++;
    }
    if (a->box) {
        float *g = seed ? cs_grad_seed_at(t->g, h)->data : NULL;
        l->box = cs_loss_l1(output(t, a->box), b->box, NULL, 4 * (int64_t)n, t->cfg.alpha, g);
        h++;
    }
    if (a->pose) {
        float *g = seed ? cs_grad_seed_at(t->g, h)->data : NULL;
        l->pose = cs_loss_mse(output(t, a->pose), b->kp, b->kp_mask,
                              2 * (int64_t)a->cfg.n_keypoints * n, t->cfg.beta, g);
        h++;
    }
    if (a->image) {
        float *g = seed ? cs_grad_seed_at(t->g, h)->data : NULL;
        int64_t per = (int64_t)a->cfg.channels * a->cfg.height * a->cfg.width;
        l->rec = cs_loss_mse(output(t, a->image), b->image, NULL, per * n, 1.f, g);
    }
    l->total = l->cls + t->cfg.alpha * l->box + t->cfg.beta * l->pose + l->rec;
}

cs_status cs_trainer_step(cs_trainer *t, const cs_batch *b, cs_losses *l, cs_error *err)
{
    if (b->n != t->cfg.batch)
        return cs_train_fail(err, CS_ERR_INVALID,
                             "trainer: a training step takes %d images (the batch), got %d",
                             t->cfg.batch, b->n);
    cs_status st = forward(t, b, 1, err);
    if (st != CS_OK) return st;
    losses(t, b, b->n, 1, l);
    if (!isfinite(l->total))
        return cs_train_fail(err, CS_ERR_INVALID,
                             "training diverged: the loss is %g (cls %g box %g pose %g rec %g); "
                             "lower the learning rate",
                             l->total, l->cls, l->box, l->pose, l->rec);
    if ((st = cs_grad_run(t->g, err)) != CS_OK) return st;
    int64_t off = 0;
    for (int i = 0; i < t->n_w; i++) {
        int64_t n = cs_grad_wrt(t->g, i)->numel;
        memcpy(t->backup + off, t->w[i], sizeof(float) * (size_t)n);
        off += n;
    }
    cs_optim_step(t->o, t->w, t->gw);
    /* a weight that is not finite would poison every later step: undo and report it */
    for (int i = 0; i < t->n_w; i++) {
        int64_t n = cs_grad_wrt(t->g, i)->numel;
        for (int64_t k = 0; k < n; k++) {
            if (isfinite(t->w[i][k])) continue;
            off = 0;
            for (int j = 0; j < t->n_w; j++) {
                int64_t nj = cs_grad_wrt(t->g, j)->numel;
                memcpy(t->w[j], t->backup + off, sizeof(float) * (size_t)nj);
                off += nj;
            }
            return cs_train_fail(err, CS_ERR_INVALID,
                                 "training diverged: weight '%s' is not finite after a step; "
                                 "lower the learning rate",
                                 t->a->trainable[i]);
        }
    }
    return CS_OK;
}

double cs_box_iou(const float *a, const float *b)
{
    double ax0 = a[0] - a[2] / 2, ax1 = a[0] + a[2] / 2, ay0 = a[1] - a[3] / 2,
           ay1 = a[1] + a[3] / 2;
    double bx0 = b[0] - b[2] / 2, bx1 = b[0] + b[2] / 2, by0 = b[1] - b[3] / 2,
           by1 = b[1] + b[3] / 2;
    double iw = fmin(ax1, bx1) - fmax(ax0, bx0), ih = fmin(ay1, by1) - fmax(ay0, by0);
    if (iw <= 0 || ih <= 0) return 0;
    double inter = iw * ih, uni = (double)a[2] * a[3] + (double)b[2] * b[3] - inter;
    return uni > 0 ? inter / uni : 0;
}

cs_status cs_trainer_eval(cs_trainer *t, const cs_batch *b, cs_metrics *m, cs_error *err)
{
    cs_status st = forward(t, b, 0, err);
    if (st != CS_OK) return st;
    cs_losses l;
    losses(t, b, b->n, 0, &l);
    m->loss.total += l.total;
    m->loss.cls += l.cls;
    m->loss.box += l.box;
    m->loss.pose += l.pose;
    m->loss.rec += l.rec;
    const cs_arch *a = t->a;
    for (int i = 0; i < b->n; i++) {
        if (a->logits) {
            const float *z = output(t, a->logits) + (int64_t)i * a->cfg.n_classes;
            int best = 0;
            for (int k = 1; k < a->cfg.n_classes; k++) best = z[k] > z[best] ? k : best;
            m->correct += best == b->cls[i];
        }
        if (a->box) m->iou += cs_box_iou(output(t, a->box) + 4 * i, b->box + 4 * i);
        if (a->pose) {
            int j2 = 2 * a->cfg.n_keypoints;
            const float *y = output(t, a->pose) + (int64_t)i * j2;
            for (int j = 0; j < j2; j += 2) {
                if (b->kp_mask[i * j2 + j] == 0) continue;
                m->kp_err += hypot(y[j] - b->kp[i * j2 + j], y[j + 1] - b->kp[i * j2 + j + 1]);
                m->kp_n++;
            }
        }
    }
    m->n += b->n;
    return CS_OK;
}

static cs_status sync_weights(cs_trainer *t, cs_error *err)
{
    for (int i = 0; i < cs_plan_n_params(t->p); i++) {
        const cs_tensor *w = cs_plan_param(t->p, i);
        cs_status st = cs_arch_set_weight(t->a, w->name, w->data, w->numel, err);
        if (st != CS_OK) return st;
    }
    return CS_OK;
}

/* Writes len bytes to PATH.tmp and renames it to PATH. */
static cs_status write_atomic(const char *path, const void *buf, size_t len, cs_error *err)
{
    size_t n = strlen(path) + 5;
    char *tmp = malloc(n);
    if (!tmp) return cs_train_fail(err, CS_ERR_NOMEM, "out of memory");
    snprintf(tmp, n, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    cs_status st = CS_OK;
    if (!f) {
        st = cs_train_fail(err, CS_ERR_IO, "%s: cannot write: %m", tmp);
    } else {
        size_t w = fwrite(buf, 1, len, f);
        if ((fclose(f) != 0) | (w != len))
            st = cs_train_fail(err, CS_ERR_IO, "%s: write failed", tmp);
        if (st == CS_OK && rename(tmp, path) != 0)
            st = cs_train_fail(err, CS_ERR_IO, "%s: cannot rename to %s: %m", tmp, path);
        if (st != CS_OK) remove(tmp);
    }
    free(tmp);
    return st;
}

cs_status cs_trainer_export(cs_trainer *t, const char *path, cs_error *err)
{
    cs_status st = sync_weights(t, err);
    if (st != CS_OK) return st;
    size_t len;
    uint8_t *buf = cs_arch_pack(t->a, &len);
    st = write_atomic(path, buf, len, err);
    free(buf);
    return st;
}

/* ---- checkpoints ---------------------------------------------------------------------------
 * "CSTRAIN1", then little-endian: u32 epoch, u64 rng[4], i64 optimizer steps, u32 parameter
 * count, per parameter u32 name length, name, i64 numel, floats; i64 optimizer state floats,
 * floats. Names and sizes must match the trainer loading it. */

#define CKPT_MAGIC "CSTRAIN1"

cs_status cs_trainer_save(cs_trainer *t, const char *path, int epoch, const cs_rng *rng,
                          cs_error *err)
{
    int64_t n_state;
    float *state = cs_optim_state(t->o, &n_state);
    size_t len = 8 + 4 + 32 + 8 + 4 + 8 + sizeof(float) * (size_t)n_state;
    for (int i = 0; i < cs_plan_n_params(t->p); i++) {
        const cs_tensor *w = cs_plan_param(t->p, i);
        len += 4 + strlen(w->name) + 8 + cs_tensor_bytes(w);
    }
    uint8_t *buf = malloc(len), *q = buf;
    if (!buf) return cs_train_fail(err, CS_ERR_NOMEM, "checkpoint: out of memory");
#define PUT(ptr, n) (memcpy(q, (ptr), (n)), q += (n))
    uint32_t e = (uint32_t)epoch, np = (uint32_t)cs_plan_n_params(t->p);
    PUT(CKPT_MAGIC, 8);
    PUT(&e, 4);
    PUT(rng->s, 32);
    PUT(cs_optim_steps(t->o), 8);
    PUT(&np, 4);
    for (uint32_t i = 0; i < np; i++) {
        const cs_tensor *w = cs_plan_param(t->p, (int)i);
        uint32_t nl = (uint32_t)strlen(w->name);
        PUT(&nl, 4);
        PUT(w->name, nl);
        PUT(&w->numel, 8);
        PUT(w->data, cs_tensor_bytes(w));
    }
    PUT(&n_state, 8);
    PUT(state, sizeof(float) * (size_t)n_state);
#undef PUT
    cs_status st = write_atomic(path, buf, len, err);
    free(buf);
    return st;
}

cs_status cs_trainer_load(cs_trainer *t, const char *path, int *epoch, cs_rng *rng, cs_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return cs_train_fail(err, CS_ERR_IO, "%s: cannot open: %m", path);
    cs_status st = CS_ERR_PARSE;
    const char *why = "truncated";
    char magic[8], name[256];
    uint32_t e, np;
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, CKPT_MAGIC, 8) != 0) {
        why = "not a camstream checkpoint (bad magic)";
        goto done;
    }
    if (fread(&e, 4, 1, f) != 1 || fread(rng->s, 8, 4, f) != 4 ||
        fread(cs_optim_steps(t->o), 8, 1, f) != 1 || fread(&np, 4, 1, f) != 1)
        goto done;
    if (np != (uint32_t)cs_plan_n_params(t->p)) {
        snprintf(name, sizeof name, "%u parameters, this architecture has %d", np,
                 cs_plan_n_params(t->p));
        why = name;
        goto done;
    }
    for (uint32_t i = 0; i < np; i++) {
        cs_tensor *w = cs_plan_param(t->p, (int)i);
        uint32_t nl;
        int64_t numel;
        if (fread(&nl, 4, 1, f) != 1 || nl >= sizeof name || fread(name, 1, nl, f) != nl) goto done;
        name[nl] = 0;
        if (fread(&numel, 8, 1, f) != 1) goto done;
        if (strcmp(name, w->name) != 0 || numel != w->numel) {
            cs_train_fail(err, CS_ERR_INVALID,
                          "%s: parameter %u is '%s' of %lld floats, this architecture has '%s' "
                          "of %lld (another --arch or width?)",
                          path, i, name, (long long)numel, w->name, (long long)w->numel);
            fclose(f);
            return CS_ERR_INVALID;
        }
        if (fread(w->data, sizeof(float), (size_t)numel, f) != (size_t)numel) goto done;
    }
    int64_t n_state, have;
    float *state = cs_optim_state(t->o, &have);
    if (fread(&n_state, 8, 1, f) != 1) goto done;
    if (n_state != have) {
        why = "optimizer state of another size (another --optimizer?)";
        goto done;
    }
    if (fread(state, sizeof(float), (size_t)n_state, f) != (size_t)n_state) goto done;
    *epoch = (int)e;
    st = CS_OK;
done:
    fclose(f);
    if (st != CS_OK) cs_train_fail(err, st, "%s: %s", path, why);
    return st;
}
