/* Dataset splits as tensors for the trainer, and batches with augmentation. Boxes become
 * cx, cy, w, h in 0-1 of the image and joints x, y in 0-1 (the model's units); a flip
 * mirrors both and swaps left/right joints, a translation moves them with the image. */
#include "camstream/dataset.h"
#include "camstream/train.h"
#include "train_err.h"

#include <stdlib.h>
#include <string.h>

void cs_train_set_destroy(cs_train_set **ps)
{
    if (!ps || !*ps) return;
    cs_train_set *s = *ps;
    free(s->img);
    free(s->cls);
    free(s->box);
    free(s->kp);
    free(s->kp_mask);
    free(s->feat);
    free(s);
    *ps = NULL;
}

cs_train_set *cs_train_set_load(const cs_dataset *ds, int split, const float *mean,
                                const float *std, cs_error *err)
{
    cs_train_set *s = calloc(1, sizeof *s);
    if (!s) goto nomem;
    s->n = cs_dataset_count(ds, (cs_split)split);
    s->c = 3, s->h = ds->height, s->w = ds->width, s->n_kp = ds->n_keypoints;
    int64_t per = (int64_t)s->c * s->h * s->w, j2 = 2 * (int64_t)s->n_kp;
    s->img = malloc(sizeof(float) * (size_t)(per * s->n + 1));
    s->cls = calloc((size_t)s->n + 1, sizeof *s->cls);
    s->box = calloc((size_t)(4 * s->n + 1), sizeof *s->box);
    s->kp = calloc((size_t)(j2 * s->n + 1), sizeof *s->kp);
    s->kp_mask = calloc((size_t)(j2 * s->n + 1), sizeof *s->kp_mask);
    if (!s->img || !s->cls || !s->box || !s->kp || !s->kp_mask) goto nomem;
    for (int i = 0; i < s->n; i++) {
        const cs_sample *sm = cs_dataset_get(ds, (cs_split)split, i);
        float *x = s->img + per * i;
        if (cs_dataset_image_f32(ds, sm, x, err) != CS_OK) {
            cs_train_set_destroy(&s);
            return NULL;
        }
        int64_t plane = (int64_t)s->h * s->w;
        for (int c = 0; c < s->c; c++)
            for (int64_t k = 0; k < plane; k++)
                x[c * plane + k] = (x[c * plane + k] - mean[c]) / std[c];
        s->cls[i] = sm->cls;
        float *b = s->box + 4 * i;
        b[0] = (sm->box[0] + sm->box[2] / 2) / s->w;
        b[1] = (sm->box[1] + sm->box[3] / 2) / s->h;
        b[2] = sm->box[2] / s->w;
        b[3] = sm->box[3] / s->h;
        for (int j = 0; j < s->n_kp; j++) {
            float *k = s->kp + j2 * i + 2 * j, *m = s->kp_mask + j2 * i + 2 * j;
            k[0] = sm->kp[j].x / s->w;
            k[1] = sm->kp[j].y / s->h;
            m[0] = m[1] = sm->kp[j].v > 0 ? 1.f : 0.f;
        }
    }
    return s;
nomem:
    cs_train_set_destroy(&s);
    cs_train_fail(err, CS_ERR_NOMEM, "%s: out of memory for the %s split", ds->dir,
                  cs_split_name((cs_split)split));
    return NULL;
}

/* The joint name without its side prefix and the side: 'l', 'r' or 0. */
static const char *side_of(const char *name, char *side)
{
    static const char *const pre[] = {"l_", "left_", "r_", "right_"};
    for (int i = 0; i < 4; i++) {
        size_t n = strlen(pre[i]);
        if (!strncmp(name, pre[i], n)) {
            *side = i < 2 ? 'l' : 'r';
            return name + n;
        }
    }
    *side = 0;
    return name;
}

void cs_keypoint_flip_perm(const cs_dataset *ds, int *perm)
{
    for (int j = 0; j < ds->n_keypoints; j++) {
        perm[j] = j;
        char sj, sk;
        const char *bj = side_of(ds->keypoint_names[j], &sj);
        if (!sj) continue;
        for (int k = 0; k < ds->n_keypoints; k++) {
            const char *bk = side_of(ds->keypoint_names[k], &sk);
            if (sk && sk != sj && !strcmp(bj, bk)) perm[j] = k;
        }
    }
}

cs_status cs_batch_alloc(cs_batch *b, const cs_train_set *s, int n, cs_error *err)
{
    memset(b, 0, sizeof *b);
    int64_t per = (int64_t)s->c * s->h * s->w, j2 = 2 * (int64_t)s->n_kp;
    int64_t xin = s->feat ? s->feat_per : per;
    b->n = n;
    b->x = malloc(sizeof(float) * (size_t)(xin * n + 1));
    b->cls = calloc((size_t)n + 1, sizeof *b->cls);
    b->box = calloc((size_t)(4 * n + 1), sizeof *b->box);
    b->kp = calloc((size_t)(j2 * n + 1), sizeof *b->kp);
    b->kp_mask = calloc((size_t)(j2 * n + 1), sizeof *b->kp_mask);
    b->image = s->feat ? malloc(sizeof(float) * (size_t)(per * n + 1)) : NULL;
    if (!b->x || !b->cls || !b->box || !b->kp || !b->kp_mask || (s->feat && !b->image)) {
        cs_batch_free(b);
        return cs_train_fail(err, CS_ERR_NOMEM, "out of memory for a batch of %d", n);
    }
    return CS_OK;
}

void cs_batch_free(cs_batch *b)
{
    free(b->x);
    free(b->cls);
    free(b->box);
    free(b->kp);
    free(b->kp_mask);
    free(b->image);
    memset(b, 0, sizeof *b);
}

/* dst = src shifted by (dx, dy) pixels and mirrored when flip; uncovered pixels 0. */
static void warp(const float *src, float *dst, int c, int h, int w, int flip, int dx, int dy)
{
    for (int ch = 0; ch < c; ch++)
        for (int y = 0; y < h; y++) {
            float *d = dst + ((int64_t)ch * h + y) * w;
            int sy = y - dy;
            if (sy < 0 || sy >= h) {
                memset(d, 0, sizeof(float) * (size_t)w);
                continue;
            }
            const float *s = src + ((int64_t)ch * h + sy) * w;
            for (int x = 0; x < w; x++) {
                int sx = x - dx;
                if (flip) sx = w - 1 - sx;
                d[x] = sx >= 0 && sx < w ? s[sx] : 0.f;
            }
        }
}

void cs_train_set_fill(const cs_train_set *s, const int *idx, int n, unsigned aug, const int *perm,
                       cs_rng *r, cs_batch *b)
{
    int64_t per = (int64_t)s->c * s->h * s->w, j2 = 2 * (int64_t)s->n_kp;
    for (int i = 0; i < n; i++) {
        int k = idx[i];
        b->cls[i] = s->cls[k];
        if (s->feat) { /* decoder: backbone features in, the image out; no augmentation */
            memcpy(b->x + s->feat_per * i, s->feat + s->feat_per * k,
                   sizeof(float) * (size_t)s->feat_per);
            memcpy(b->image + per * i, s->img + per * k, sizeof(float) * (size_t)per);
            continue;
        }
        int flip = (aug & CS_AUG_FLIP) && cs_rng_below(r, 2);
        int dx = 0, dy = 0;
        if (aug & CS_AUG_TRANSLATE) {
            int mx = s->w / 16, my = s->h / 16;
            dx = (int)cs_rng_below(r, (uint32_t)(2 * mx + 1)) - mx;
            dy = (int)cs_rng_below(r, (uint32_t)(2 * my + 1)) - my;
        }
        warp(s->img + per * k, b->x + per * i, s->c, s->h, s->w, flip, dx, dy);
        const float *sb = s->box + 4 * k;
        float *db = b->box + 4 * i;
        /* pixel x maps to w-1-x: a continuous coordinate u (0-1) maps to 1-u */
        db[0] = (flip ? 1.f - sb[0] : sb[0]) + (float)dx / s->w;
        db[1] = sb[1] + (float)dy / s->h;
        db[2] = sb[2];
        db[3] = sb[3];
        for (int j = 0; j < s->n_kp; j++) {
            int src = flip && perm ? perm[j] : j;
            const float *sk = s->kp + j2 * k + 2 * src, *sm = s->kp_mask + j2 * k + 2 * src;
            float *dk = b->kp + j2 * i + 2 * j, *dm = b->kp_mask + j2 * i + 2 * j;
            dk[0] = (flip ? 1.f - sk[0] : sk[0]) + (float)dx / s->w;
            dk[1] = sk[1] + (float)dy / s->h;
            int in = dk[0] >= 0 && dk[0] <= 1 && dk[1] >= 0 && dk[1] <= 1;
            dm[0] = dm[1] = in ? sm[0] : 0.f;
        }
    }
    b->n = n;
}
