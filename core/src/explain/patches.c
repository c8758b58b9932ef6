/* Maximally activating patches (REFERENCE §3): over a set of images, the k highest
 * activations of one channel of a layer, each with the unit's receptive field in input pixels
 * clipped to the image. Images run through one plan in batches (up to 8 when the model's
 * batch axis is symbolic). Ties keep the earlier image / position. Returns the count written,
 * or -1 with err filled. */
#include "visualize.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int clampi(long long v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : (int)v;
}

/* Inserts p into out[0..*cnt) kept sorted by value (descending), capacity k. */
static void insert_top(cs_patch *out, int *cnt, int k, const cs_patch *p)
{
    int n = *cnt;
    if (n == k && !(p->value > out[n - 1].value)) return;
    int pos = n < k ? n : k - 1;
    while (pos > 0 && p->value > out[pos - 1].value) {
        out[pos] = out[pos - 1];
        pos--;
    }
    out[pos] = *p;
    if (n < k) *cnt = n + 1;
}

int cs_top_patches(const cs_model *m, const char *layer, int unit, const float *images, int n,
                   int k, cs_patch *out, cs_error *err)
{
    if (!m || !layer || !images || !out) {
        cs_fail(err, CS_ERR_INVALID, "top patches: %s is NULL",
                !m        ? "the model"
                : !layer  ? "the layer name"
                : !images ? "images"
                          : "out");
        return -1;
    }
    if (n < 0 || k < 0) {
        cs_fail(err, CS_ERR_INVALID, "top patches: n = %d, k = %d (need >= 0)", n, k);
        return -1;
    }
    if (n == 0 || k == 0) return 0;
    if (cs_model_find(m, layer) < 0) {
        cs_fail_unknown_layer(m, "top patches: layer", layer, err);
        return -1;
    }
    cs_rf2 rf;
    if (cs_rf_of(m, layer, &rf, err) != CS_OK) return -1;
    if (cs_model_n_inputs(m) < 1) {
        cs_fail(err, CS_ERR_INVALID, "top patches: the model has no input");
        return -1;
    }
    const cs_tensor *decl = cs_model_input(m, 0);
    int batch = decl->ndim >= 1 && decl->dims[0] < 0 ? (n < 8 ? n : 8) : 1;
    cs_plan_opts o = cs_plan_opts_default();
    o.batch = batch;
    const char *const keep[1] = {layer};
    o.keep = keep;
    o.n_keep = 1;
    cs_plan *p = cs_plan_new(m, &o, err);
    if (!p) return -1;
    int ret = -1;
    cs_tensor *x = cs_plan_input(p, 0);
    const cs_tensor *a = cs_plan_tensor(p, layer, err);
    if (!a) goto done;
    if (x->type != CS_F32 || x->ndim != 4 || x->dims[0] != batch) {
        char buf[64];
        cs_fail(err, CS_ERR_UNSUPPORTED, "top patches: input '%s' is %s (need Nx C x H x W float)",
                x->name ? x->name : "0", cs_shape_str(x, buf, sizeof buf));
        goto done;
    }
    if (a->type != CS_F32 || a->ndim != 4 || a->dims[0] != batch) {
        char buf[64];
        cs_fail(err, CS_ERR_INVALID, "top patches: layer '%s' is %s, not a N x C x h x w map",
                layer, cs_shape_str(a, buf, sizeof buf));
        goto done;
    }
    if (unit < 0 || unit >= a->dims[1]) {
        cs_fail(err, CS_ERR_INVALID, "top patches: unit %d out of range [0, %lld) for '%s'", unit,
                (long long)a->dims[1], layer);
        goto done;
    }
    int64_t per = x->numel / batch;
    int H = (int)x->dims[2], W = (int)x->dims[3];
    int64_t ah = a->dims[2], aw = a->dims[3], C = a->dims[1];
    int cnt = 0;
    for (int b0 = 0; b0 < n; b0 += batch) {
        int nb = n - b0 < batch ? n - b0 : batch;
        memcpy(x->data, images + (size_t)b0 * (size_t)per, sizeof(float) * (size_t)(per * nb));
        if (nb < batch)
            memset((float *)x->data + per * nb, 0, sizeof(float) * (size_t)(per * (batch - nb)));
        if (cs_plan_run(p, err) != CS_OK) goto done;
        const float *ad = a->data;
        for (int b = 0; b < nb; b++) {
            const float *map = ad + ((int64_t)b * C + unit) * ah * aw;
            for (int64_t y = 0; y < ah; y++) {
                for (int64_t xx = 0; xx < aw; xx++) {
                    cs_patch q;
                    q.image = b0 + b;
                    q.y = (int)y;
                    q.x = (int)xx;
                    q.value = map[y * aw + xx];
                    if (isnan(q.value)) continue;
                    double cy = rf.start[0] + (double)y * rf.jump[0];
                    double cx = rf.start[1] + (double)xx * rf.jump[1];
                    long long y0 = llround(cy - rf.size[0] / 2), x0 = llround(cx - rf.size[1] / 2);
                    long long y1 = y0 + llround(rf.size[0]), x1 = x0 + llround(rf.size[1]);
                    q.y0 = clampi(y0, 0, H);
                    q.x0 = clampi(x0, 0, W);
                    q.y1 = clampi(y1, 0, H);
                    q.x1 = clampi(x1, 0, W);
                    insert_top(out, &cnt, k, &q);
                }
            }
        }
    }
    ret = cnt;
done:
    cs_plan_destroy(&p);
    return ret;
}
