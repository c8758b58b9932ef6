/* First-layer filters as one image (REFERENCE §3).
 *
 * The first convolution is the first Conv node, in graph order, whose data input (input 0)
 * depends on a graph input; its weight (K × C × kh × kw) must be a constant. Each kernel is
 * min-max scaled to [0,1] over the values shown (a constant kernel becomes mid-gray 0.5):
 * C = 1 is shown gray (R = G = B), C = 2 as R and G (B = 0), C >= 3 as its first three
 * channels. Kernels are tiled row-major in a grid of cols = ceil(sqrt(K)) columns and
 * rows = ceil(K / cols) rows, each kernel pixel replicated scale × scale, with 1-pixel white
 * (1.0) gaps between tiles (none around the grid; unused cells are white too), so the image is
 * 3 × (rows·kh·scale + rows − 1) × (cols·kw·scale + cols − 1). */
#include "visualize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Does value id depend on a graph input (not a constant)? dep[] caches per value. */
static void mark_dependents(const cs_model *m, char *dep)
{
    for (int i = 0; i < m->n_inputs; i++)
        if (m->inputs[i] >= 0 && !m->values[m->inputs[i]].konst) dep[m->inputs[i]] = 1;
    for (int k = 0; k < m->n_nodes; k++) {
        const cs_mnode *nd = &m->nodes[k];
        int d = 0;
        for (int i = 0; i < nd->n_in; i++)
            if (nd->in[i] >= 0 && dep[nd->in[i]]) d = 1;
        if (d)
            for (int j = 0; j < nd->n_out; j++)
                if (nd->out[j] >= 0) dep[nd->out[j]] = 1;
    }
}

cs_tensor *cs_filter_grid(const cs_model *m, int scale, cs_error *err)
{
    if (!m) {
        cs_fail(err, CS_ERR_INVALID, "filter grid: the model is NULL");
        return NULL;
    }
    if (scale < 1 || scale > 64) {
        cs_fail(err, CS_ERR_INVALID, "filter grid: scale %d (need 1..64)", scale);
        return NULL;
    }
    char *dep = calloc((size_t)m->n_values + 1, 1);
    if (!dep) {
        cs_fail(err, CS_ERR_NOMEM, "filter grid: out of memory");
        return NULL;
    }
    mark_dependents(m, dep);
    const cs_mnode *conv = NULL;
    for (int k = 0; k < m->n_nodes && !conv; k++) {
        const cs_mnode *nd = &m->nodes[k];
        if (nd->op == CS_OP_CONV && nd->n_in >= 2 && nd->in[0] >= 0 && dep[nd->in[0]]) conv = nd;
    }
    free(dep);
    if (!conv) {
        cs_fail(err, CS_ERR_INVALID, "filter grid: %s has no Conv node on the graph input",
                m->source ? m->source : "the model");
        return NULL;
    }
    const cs_tensor *w = conv->in[1] >= 0 ? m->values[conv->in[1]].konst : NULL;
    if (!w || w->type != CS_F32 || w->ndim != 4) {
        cs_fail(err, CS_ERR_UNSUPPORTED,
                "filter grid: node '%s' (Conv): weight '%s' is not a constant 4-D float tensor",
                conv->name, conv->in[1] >= 0 ? m->values[conv->in[1]].name : "?");
        return NULL;
    }
    int64_t K = w->dims[0], C = w->dims[1], kh = w->dims[2], kw = w->dims[3];
    if (K < 1 || C < 1 || kh < 1 || kw < 1) {
        cs_fail(err, CS_ERR_INVALID, "filter grid: node '%s' (Conv): empty weight", conv->name);
        return NULL;
    }
    int64_t cols = (int64_t)ceil(sqrt((double)K));
    while (cols * cols < K) cols++;
    while ((cols - 1) * (cols - 1) >= K && cols > 1) cols--;
    int64_t rows = (K + cols - 1) / cols;
    int64_t th = kh * scale, tw = kw * scale;
    int64_t H = rows * th + rows - 1, W = cols * tw + cols - 1;
    if (H > 32768 || W > 32768) {
        cs_fail(err, CS_ERR_INVALID, "filter grid: %lldx%lld image too large (scale %d)",
                (long long)H, (long long)W, scale);
        return NULL;
    }
    int64_t dims[3] = {3, H, W};
    cs_tensor *out = cs_tensor_new(CS_F32, 3, dims, NULL);
    if (!out) {
        cs_fail(err, CS_ERR_NOMEM, "filter grid: out of memory for a %lldx%lld image", (long long)H,
                (long long)W);
        return NULL;
    }
    float *img = out->data;
    for (int64_t i = 0; i < 3 * H * W; i++) img[i] = 1.f;
    const float *wd = w->data;
    int shown = C >= 3 ? 3 : (int)C;
    int64_t ksz = kh * kw;
    for (int64_t f = 0; f < K; f++) {
        const float *kern = wd + f * C * ksz;
        float lo = INFINITY, hi = -INFINITY;
        for (int64_t i = 0; i < shown * ksz; i++) {
            if (kern[i] < lo) lo = kern[i];
            if (kern[i] > hi) hi = kern[i];
        }
        float range = hi - lo;
        int64_t oy = (f / cols) * (th + 1), ox = (f % cols) * (tw + 1);
        for (int c = 0; c < 3; c++) {
            int src = C == 1 ? 0 : c;
            for (int64_t y = 0; y < th; y++) {
                float *row = img + (c * H + oy + y) * W + ox;
                for (int64_t x = 0; x < tw; x++) {
                    float v;
                    if (src >= shown) {
                        v = 0.f;
                    } else if (!(range > 0.f) || !isfinite(range)) {
                        v = 0.5f;
                    } else {
                        v = (kern[src * ksz + (y / scale) * kw + x / scale] - lo) / range;
                    }
                    row[x] = v;
                }
            }
        }
    }
    return out;
}
