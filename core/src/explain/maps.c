/* Map helpers: min-max normalization, bilinear resize (align_corners = false, the same
 * sampling as torch.nn.functional.interpolate(mode='bilinear', align_corners=False)) and
 * weakly-supervised boxes (threshold, 4-connected components). */
#include "camstream/explain.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void cs_map_normalize(float *map, int64_t n)
{
    if (!map || n <= 0) return;
    float lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        float v = map[i];
        if (v < lo) lo = v;
        if (v > hi) hi = v;
    }
    if (!(hi > lo) || !isfinite(hi - lo)) {
        /* constant (or empty of finite values): 0 everywhere */
        memset(map, 0, sizeof(float) * (size_t)n);
        return;
    }
    float inv = 1.f / (hi - lo);
    for (int64_t i = 0; i < n; i++) map[i] = (map[i] - lo) * inv;
}

/* Source index and weight of output index o for an in -> out resize (half-pixel centres,
 * negative source coordinates clamped to 0, as PyTorch does). */
static void bilinear_index(int o, int in, int out, int *i0, int *i1, float *frac)
{
    float scale = (float)in / (float)out;
    float s = scale * ((float)o + 0.5f) - 0.5f;
    if (s < 0.f) s = 0.f;
    int i = (int)s;
    if (i > in - 1) i = in - 1;
    *i0 = i;
    *i1 = i < in - 1 ? i + 1 : i;
    *frac = s - (float)i;
}

void cs_map_resize(const float *src, int h, int w, float *dst, int H, int W)
{
    if (!src || !dst || h <= 0 || w <= 0 || H <= 0 || W <= 0) return;
    for (int y = 0; y < H; y++) {
        int y0, y1;
        float fy;
        bilinear_index(y, h, H, &y0, &y1, &fy);
        const float *r0 = src + (size_t)y0 * (size_t)w, *r1 = src + (size_t)y1 * (size_t)w;
        float *d = dst + (size_t)y * (size_t)W;
        for (int x = 0; x < W; x++) {
            int x0, x1;
            float fx;
            bilinear_index(x, w, W, &x0, &x1, &fx);
            float top = (1.f - fx) * r0[x0] + fx * r0[x1];
            float bot = (1.f - fx) * r1[x0] + fx * r1[x1];
            d[x] = (1.f - fy) * top + fy * bot;
        }
    }
}

typedef struct {
    int x0, y0, x1, y1; /* inclusive bounds while labelling */
    int area;
    double sum;
    int order; /* discovery order (raster order of the first pixel) */
} component;

/* Larger area first; then higher mean; then earlier in raster order. */
static int comp_cmp(const void *pa, const void *pb)
{
    const component *a = pa, *b = pb;
    if (a->area != b->area) return a->area > b->area ? -1 : 1;
    double ma = a->sum / a->area, mb = b->sum / b->area;
    if (ma != mb) return ma > mb ? -1 : 1;
    return a->order < b->order ? -1 : (a->order > b->order);
}

static cs_box to_box(const component *c)
{
    cs_box b;
    b.x0 = (float)c->x0;
    b.y0 = (float)c->y0;
    b.x1 = (float)(c->x1 + 1);
    b.y1 = (float)(c->y1 + 1);
    b.score = (float)(c->sum / c->area);
    b.area = c->area;
    return b;
}

int cs_map_boxes(const float *map, int h, int w, float frac, int all, int min_area, cs_box *boxes,
                 int max_boxes)
{
    if (!map || !boxes || h <= 0 || w <= 0 || max_boxes <= 0) return 0;
    if (!(frac > 0.f)) frac = 0.2f;
    size_t n = (size_t)h * (size_t)w;
    float mx = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (map[i] > mx) mx = map[i];
    if (!(mx > 0.f)) return 0; /* nothing salient (or no finite value) */
    float thr = frac * mx;

    /* label: 0 = below threshold, -1 = above and unvisited, k >= 1 = component k */
    int *label = malloc(sizeof(int) * n);
    int *stack = malloc(sizeof(int) * n);
    component *comps = malloc(sizeof(component) * (n / 2 + 1));
    if (!label || !stack || !comps) {
        free(label);
        free(stack);
        free(comps);
        return 0;
    }
    for (size_t i = 0; i < n; i++) label[i] = map[i] >= thr ? -1 : 0;

    int nc = 0;
    for (size_t seed = 0; seed < n; seed++) {
        if (label[seed] != -1) continue;
        component *c = &comps[nc];
        int id = ++nc;
        c->x0 = c->x1 = (int)(seed % (size_t)w);
        c->y0 = c->y1 = (int)(seed / (size_t)w);
        c->area = 0;
        c->sum = 0.0;
        c->order = nc;
        size_t top = 0;
        stack[top++] = (int)seed;
        label[seed] = id;
        while (top > 0) {
            int p = stack[--top];
            int y = p / w, x = p % w;
            c->area++;
            c->sum += map[p];
            if (x < c->x0) c->x0 = x;
            if (x > c->x1) c->x1 = x;
            if (y < c->y0) c->y0 = y;
            if (y > c->y1) c->y1 = y;
            int nb[4] = {x > 0 ? p - 1 : -1, x < w - 1 ? p + 1 : -1, y > 0 ? p - w : -1,
                         y < h - 1 ? p + w : -1};
            for (int k = 0; k < 4; k++) {
                if (nb[k] >= 0 && label[nb[k]] == -1) {
                    label[nb[k]] = id;
                    stack[top++] = nb[k];
                }
            }
        }
    }
    free(label);
    free(stack);

    int out = 0;
    if (!all) {
        int best = 0;
        for (int i = 1; i < nc; i++)
            if (comp_cmp(&comps[i], &comps[best]) < 0) best = i;
        if (nc > 0) boxes[out++] = to_box(&comps[best]);
    } else {
        qsort(comps, (size_t)nc, sizeof(component), comp_cmp);
        for (int i = 0; i < nc && out < max_boxes; i++)
            if (comps[i].area >= min_area) boxes[out++] = to_box(&comps[i]);
    }
    free(comps);
    return out;
}
