/* Resize (opsets 10-17) and Upsample (7, 9) on float32 tensors of any rank.
 *
 * Interpolation is separable: for each output axis a table of taps (source offsets and
 * weights) is built in scratch memory at the start of forward, then every output row (all axes
 * but the last) sums the input rows its outer taps select, each interpolated along the last
 * axis (and cached, since neighbouring output rows share input rows). Nearest is one tap per
 * axis, linear two, cubic four; taps of weight 0 are dropped, so unscaled axes cost nothing.
 * Nearest output rows that read the same input row are copied, and 2x nearest along the last
 * axis duplicates pairs directly.
 *
 * Backward is the transpose of that sum: ∂X[s] += w * ∂Y[o] for every tap (s, w) of every
 * output o (outputs outside a tf_crop_and_resize box hold a constant and pass nothing). Scratch
 * holds the same tap tables plus, for each axis but the last, the list of (output, weight)
 * reading each input index. Every input row then adds up the weighted output rows that read
 * it into one row (the transpose of forward's row cache) and scatters that row through the
 * last axis's taps, so threads own disjoint input rows. */
#include "../threads.h"
#include "shape_util.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef enum { RZ_NEAREST, RZ_LINEAR, RZ_CUBIC } rz_mode;
typedef enum {
    RZ_HALF_PIXEL,
    RZ_ASYMMETRIC,
    RZ_ALIGN_CORNERS,
    RZ_PYTORCH_HALF_PIXEL,
    RZ_TF_HALF_PIXEL_FOR_NN,
    RZ_TF_CROP_AND_RESIZE,
} rz_coord;
/* RZ_LEGACY: Upsample and Resize-10, which had no nearest_mode: floor when upsampling, ceil
 * when downsampling. */
typedef enum { RZ_PREFER_FLOOR, RZ_PREFER_CEIL, RZ_FLOOR, RZ_CEIL, RZ_LEGACY } rz_round;

typedef struct {
    rz_mode mode;
    rz_coord coord;
    rz_round round;
    float cubic_a, extrapolation;
    int exclude_outside;
    int n_scales; /* Upsample-7 attribute; -1 when absent */
    float scales[CS_MAX_DIMS];
} rz_params;

/* How one output index along one axis reads the input. */
typedef struct {
    int64_t off[4]; /* source offsets in elements (index * stride of the axis) */
    float w[4];
    int n;
    int outside; /* tf_crop_and_resize: outside the crop, the output is extrapolation_value */
} rz_tap;

/* Per-axis scale and output length, as resolved from the inputs. */
typedef struct {
    double scale[CS_MAX_DIMS];
    double out_f[CS_MAX_DIMS]; /* output length as the coordinate formulas see it */
    int64_t out[CS_MAX_DIMS];
    double roi[2 * CS_MAX_DIMS];
} rz_geom;

/* Scratch of forward: the per-axis taps, the last axis's taps again as flat arrays (K per
 * output index), then per thread a few horizontally interpolated input rows, so that the
 * output rows sharing an input row (upsampling) interpolate it along the last axis once. */
#define RZ_SLOTS 8

typedef struct {
    size_t hidx, hw, cache, part, total;
} rz_layout;

static size_t up64(size_t b)
{
    return (b + 63) / 64 * 64;
}

static rz_layout rz_scratch(int r, const int64_t *odims, int parts)
{
    rz_layout l;
    size_t taps = 0, w = (size_t)odims[r - 1];
    for (int d = 0; d < r; d++) taps += (size_t)odims[d];
    l.hidx = up64(taps * sizeof(rz_tap));
    l.hw = l.hidx + up64(w * 4 * sizeof(int32_t));
    l.cache = l.hw + up64(w * 4 * sizeof(float));
    l.part = up64(RZ_SLOTS * w * sizeof(float));
    l.total = l.cache + (size_t)parts * l.part;
    return l;
}

static int pick(const char *s, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0) return i;
    return -1;
}

static cs_status rz_parse(cs_node *n, const cs_attrs *a, cs_error *err)
{
    rz_params *p = calloc(1, sizeof *p);
    if (!p) return cs_node_fail(err, CS_ERR_NOMEM, n, "out of memory");
    n->params = p;
    int legacy = n->op == CS_OP_UPSAMPLE || n->opset < 11;
    static const char *const modes[] = {"nearest", "linear", "cubic", "bilinear"};
    const char *m = cs_attr_string(a, "mode", "nearest");
    int mi = pick(m, modes, legacy ? 2 : 3);
    if (mi < 0 && n->op == CS_OP_UPSAMPLE && strcmp(m, "bilinear") == 0) mi = RZ_LINEAR;
    if (mi < 0) return cs_node_fail(err, CS_ERR_UNSUPPORTED, n, "mode '%s' is not supported", m);
    p->mode = (rz_mode)mi;
    p->n_scales = -1;
    if (legacy) {
        p->coord = RZ_ASYMMETRIC;
        p->round = RZ_LEGACY;
        if (n->op == CS_OP_UPSAMPLE && n->opset < 9) {
            if (!cs_attr_find(a, "scales"))
                return cs_node_fail(err, CS_ERR_INVALID, n, "missing attribute 'scales'");
            p->n_scales = cs_attr_floats(a, "scales", p->scales, CS_MAX_DIMS);
            if (p->n_scales < 0)
                return cs_node_fail(err, CS_ERR_UNSUPPORTED, n, "more than %d scales", CS_MAX_DIMS);
        }
        return CS_OK;
    }
    static const char *const coords[] = {"half_pixel",
                                         "asymmetric",
                                         "align_corners",
                                         "pytorch_half_pixel",
                                         "tf_half_pixel_for_nearest",
                                         "tf_crop_and_resize"};
    const char *c = cs_attr_string(a, "coordinate_transformation_mode", "half_pixel");
    int ci = pick(c, coords, 6);
    if (ci < 0 && strcmp(c, "tf_half_pixel_for_nn") == 0) ci = RZ_TF_HALF_PIXEL_FOR_NN;
    if (ci < 0)
        return cs_node_fail(err, CS_ERR_UNSUPPORTED, n,
                            "coordinate_transformation_mode '%s' is not supported", c);
    p->coord = (rz_coord)ci;
    static const char *const rounds[] = {"round_prefer_floor", "round_prefer_ceil", "floor",
                                         "ceil"};
    const char *r = cs_attr_string(a, "nearest_mode", "round_prefer_floor");
    int ri = pick(r, rounds, 4);
    if (ri < 0)
        return cs_node_fail(err, CS_ERR_UNSUPPORTED, n, "nearest_mode '%s' is not supported", r);
    p->round = (rz_round)ri;
    p->cubic_a = cs_attr_float(a, "cubic_coeff_a", -0.75f);
    p->exclude_outside = cs_attr_int(a, "exclude_outside", 0) != 0;
    p->extrapolation = cs_attr_float(a, "extrapolation_value", 0.f);
    /* Opset 18 additions. */
    if (cs_attr_int(a, "antialias", 0) != 0 || cs_attr_find(a, "axes") ||
        strcmp(cs_attr_string(a, "keep_aspect_ratio_policy", "stretch"), "stretch") != 0)
        return cs_node_fail(err, CS_ERR_UNSUPPORTED, n,
                            "antialias, axes and keep_aspect_ratio_policy are not supported");
    return CS_OK;
}
CS_INIT_WRAP(rz_init, rz_parse)

static int absent(cs_tensor *const *in, int n_in, int i)
{
    return i >= n_in || !in[i] || in[i]->numel == 0;
}

/* Resolves scales / sizes / roi into g; err may be NULL in forward (validated by shape). */
static cs_status rz_geometry(const cs_node *n, cs_tensor *const *in, rz_geom *g, cs_error *err)
{
    const rz_params *p = n->params;
    const cs_tensor *x = in[0];
    int r = x->ndim;
    char b[64];
    float sc[CS_MAX_DIMS];
    int64_t sz[CS_MAX_DIMS];
    int have_scales = 0, have_sizes = 0, k = 0;
    const cs_tensor *s = NULL;
    if (p->n_scales >= 0) { /* Upsample-7 */
        k = p->n_scales;
        memcpy(sc, p->scales, sizeof sc);
        have_scales = 1;
    } else {
        int is = n->op == CS_OP_UPSAMPLE || n->opset < 11 ? 1 : 2;
        if (!absent(in, n->n_in, is)) s = in[is];
        if (s) {
            cs_status st = cs_need_const(n, s, "scales", err);
            if (st != CS_OK) return st;
            if (s->type != CS_F32 || s->ndim != 1 || s->numel > CS_MAX_DIMS)
                return cs_node_fail(err, CS_ERR_INVALID, n,
                                    "scales must be a 1-D float tensor of %d values (type %d, "
                                    "shape %s)",
                                    r, (int)s->type, cs_shape_str(s, b, sizeof b));
            k = (int)s->numel;
            memcpy(sc, s->data, sizeof(float) * (size_t)k);
            have_scales = 1;
        }
        if (is == 2 && !absent(in, n->n_in, 3)) {
            cs_status st = cs_read_ints(n, in[3], "sizes", sz, CS_MAX_DIMS, &k, err);
            if (st != CS_OK) return st;
            have_sizes = 1;
        }
    }
    if (have_scales == have_sizes)
        return cs_node_fail(err, CS_ERR_INVALID, n,
                            have_scales ? "scales and sizes are both given"
                                        : "one of scales and sizes is required");
    if (k != r)
        return cs_node_fail(err, CS_ERR_INVALID, n, "%s has %d values for input shape %s",
                            have_scales ? "scales" : "sizes", k, cs_shape_str(x, b, sizeof b));
    for (int d = 0; d < r; d++) {
        if (have_scales) {
            if (!(sc[d] > 0.f) || !isfinite(sc[d]))
                return cs_node_fail(err, CS_ERR_INVALID, n, "scale %g on axis %d must be > 0",
                                    (double)sc[d], d);
            g->scale[d] = sc[d];
            g->out_f[d] = (double)sc[d] * (double)x->dims[d];
            g->out[d] = (int64_t)floor(g->out_f[d]);
        } else {
            if (sz[d] < 1 || x->dims[d] < 1)
                return cs_node_fail(err, CS_ERR_INVALID, n,
                                    "size %lld on axis %d of input shape %s must be >= 1",
                                    (long long)sz[d], d, cs_shape_str(x, b, sizeof b));
            g->out[d] = sz[d];
            g->out_f[d] = (double)sz[d];
            g->scale[d] = (double)sz[d] / (double)x->dims[d];
        }
    }
    if (p->coord == RZ_TF_CROP_AND_RESIZE) {
        if (absent(in, n->n_in, 1))
            return cs_node_fail(err, CS_ERR_INVALID, n, "tf_crop_and_resize needs the roi input");
        const cs_tensor *roi = in[1];
        cs_status st = cs_need_const(n, roi, "roi", err);
        if (st != CS_OK) return st;
        if (roi->type != CS_F32 || roi->numel != 2 * r)
            return cs_node_fail(err, CS_ERR_INVALID, n,
                                "roi must be %d floats (type %d, %lld values)", 2 * r,
                                (int)roi->type, (long long)roi->numel);
        for (int i = 0; i < 2 * r; i++) g->roi[i] = ((const float *)roi->data)[i];
    }
    return CS_OK;
}

static cs_status rz_shape(cs_node *n, cs_tensor *const *in, cs_tensor *const *out, cs_error *err)
{
    const cs_tensor *x = in[0];
    if (x->type != CS_F32)
        return cs_node_fail(err, CS_ERR_UNSUPPORTED, n, "input must be float (element type %d)",
                            (int)x->type);
    if (x->ndim < 1) return cs_node_fail(err, CS_ERR_INVALID, n, "input is a scalar");
    rz_geom g;
    cs_status st = rz_geometry(n, in, &g, err);
    if (st != CS_OK) return st;
    cs_tensor_set_shape(out[0], CS_F32, x->ndim, g.out);
    if (x->dims[x->ndim - 1] > INT32_MAX)
        return cs_node_fail(err, CS_ERR_UNSUPPORTED, n, "last dimension %lld is too large",
                            (long long)x->dims[x->ndim - 1]);
    n->scratch_bytes = rz_scratch(x->ndim, g.out, n->threads > 1 ? n->threads : 1).total;
    return CS_OK;
}

/* Input coordinate of output index o along an axis of input length len. */
static double rz_coord_of(const rz_params *p, const rz_geom *g, int d, int r, int64_t o,
                          int64_t len)
{
    double s = g->scale[d], of = g->out_f[d], x = (double)o;
    switch (p->coord) {
    case RZ_HALF_PIXEL:
        return (x + 0.5) / s - 0.5;
    case RZ_ASYMMETRIC:
        return x / s;
    case RZ_ALIGN_CORNERS:
        return of == 1.0 ? 0.0 : x * (double)(len - 1) / (of - 1.0);
    case RZ_PYTORCH_HALF_PIXEL:
        return of > 1.0 ? (x + 0.5) / s - 0.5 : 0.0;
    case RZ_TF_HALF_PIXEL_FOR_NN:
        return (x + 0.5) / s;
    case RZ_TF_CROP_AND_RESIZE: {
        double a = g->roi[d], b = g->roi[d + r], l1 = (double)(len - 1);
        return of == 1.0 ? 0.5 * (a + b) * l1 : a * l1 + x * (b - a) * l1 / (of - 1.0);
    }
    }
    return x;
}

static int64_t clampi(int64_t v, int64_t len)
{
    return v < 0 ? 0 : v >= len ? len - 1 : v;
}

static void cubic_weights(double t, double a, double *w)
{
    double t1 = t + 1, t2 = 1 - t, t3 = 2 - t;
    w[0] = ((a * t1 - 5 * a) * t1 + 8 * a) * t1 - 4 * a;
    w[1] = ((a + 2) * t - (a + 3)) * t * t + 1;
    w[2] = ((a + 2) * t2 - (a + 3)) * t2 * t2 + 1;
    w[3] = ((a * t3 - 5 * a) * t3 + 8 * a) * t3 - 4 * a;
}

/* The taps of output index o along axis d (input length len, stride in elements). Shared with
 * the backward, which scatters through the same taps. */
static void rz_make_tap(const rz_params *p, const rz_geom *g, int d, int r, int64_t o, int64_t len,
                        int64_t stride, rz_tap *t)
{
    double x = rz_coord_of(p, g, d, r, o, len);
    int64_t idx[4];
    double w[4];
    int n = 0;
    memset(t, 0, sizeof *t);
    if (p->coord == RZ_TF_CROP_AND_RESIZE && (x < 0 || x > (double)(len - 1))) {
        t->outside = 1;
        t->n = 1;
        return;
    }
    double fl = floor(x), fr = x - fl;
    if (p->mode == RZ_NEAREST) {
        int up = fr > 0;
        switch (p->round) {
        case RZ_PREFER_FLOOR:
            up = fr > 0.5;
            break;
        case RZ_PREFER_CEIL:
            up = fr >= 0.5;
            break;
        case RZ_FLOOR:
            up = 0;
            break;
        case RZ_CEIL:
            break;
        case RZ_LEGACY:
            up = g->scale[d] < 1.0 && fr > 0;
            break;
        }
        idx[0] = clampi((int64_t)fl + up, len);
        w[0] = 1;
        n = 1;
    } else if (p->mode == RZ_LINEAR) {
        if (x < 0) x = 0;
        if (x > (double)(len - 1)) x = (double)(len - 1);
        fl = floor(x);
        idx[0] = (int64_t)fl;
        idx[1] = clampi(idx[0] + 1, len);
        w[1] = x - fl;
        w[0] = 1 - w[1];
        n = 2;
    } else {
        double sum = 0;
        cubic_weights(fr, p->cubic_a, w);
        for (int i = 0; i < 4; i++) {
            int64_t j = (int64_t)fl - 1 + i;
            if (p->exclude_outside && (j < 0 || j >= len)) w[i] = 0;
            sum += w[i];
            idx[i] = clampi(j, len);
        }
        if (p->exclude_outside && sum != 0)
            for (int i = 0; i < 4; i++) w[i] /= sum;
        n = 4;
    }
    for (int i = 0; i < n; i++) {
        if (w[i] == 0 && !(t->n == 0 && i == n - 1)) continue;
        t->off[t->n] = idx[i] * stride;
        t->w[t->n] = (float)w[i];
        t->n++;
    }
}

typedef struct {
    const rz_tap *tab[CS_MAX_DIMS];
    int r, K, parts;
    const float *src;
    float *dst;
    const int64_t *odims;
    int64_t rows;
    float extrap;
    const int32_t *hidx; /* last axis: K source indices and weights per output index */
    const float *hw;
    char *cache;
    size_t part_bytes;
    int gather;       /* the last axis has one tap of weight 1 everywhere */
    int double2;      /* ... and reads index o/2 (2x nearest) */
    int single;       /* every outer axis has one tap: output rows may repeat */
    int outside_last; /* some last-axis index lies outside a tf_crop_and_resize box */
} rz_job;

/* One input row interpolated along the last axis into h. */
static void rz_hrow(const rz_job *j, const float *restrict s, float *restrict h)
{
    int64_t w = j->odims[j->r - 1];
    const int32_t *restrict ix = j->hidx;
    const float *restrict wt = j->hw;
    if (j->double2) {
        for (int64_t x = 0; x < w / 2; x++) h[2 * x] = h[2 * x + 1] = s[x];
        if (w & 1) h[w - 1] = s[ix[w - 1]];
    } else if (j->gather) {
        for (int64_t x = 0; x < w; x++) h[x] = s[ix[x]];
    } else if (j->K == 1) {
        for (int64_t x = 0; x < w; x++) h[x] = wt[x] * s[ix[x]];
    } else if (j->K == 2) {
        for (int64_t x = 0; x < w; x++)
            h[x] = wt[2 * x] * s[ix[2 * x]] + wt[2 * x + 1] * s[ix[2 * x + 1]];
    } else {
        for (int64_t x = 0; x < w; x++) {
            const int32_t *i4 = ix + 4 * x;
            const float *w4 = wt + 4 * x;
            h[x] = w4[0] * s[i4[0]] + w4[1] * s[i4[1]] + w4[2] * s[i4[2]] + w4[3] * s[i4[3]];
        }
    }
}

static void rz_accumulate(float *restrict y, const float *restrict h, float wgt, int64_t w,
                          int first)
{
    if (first)
        for (int64_t x = 0; x < w; x++) y[x] = wgt * h[x];
    else
        for (int64_t x = 0; x < w; x++) y[x] += wgt * h[x];
}

/* Unit = one contiguous block of output rows, with its own row cache. */
static void rz_part(void *ctx, int64_t pb, int64_t pe)
{
    const rz_job *j = ctx;
    int last = j->r - 1;
    int64_t w = j->odims[last];
    for (int64_t part = pb; part < pe; part++) {
        int64_t b = j->rows * part / j->parts, e = j->rows * (part + 1) / j->parts;
        float *cache = (float *)(j->cache + (size_t)part * j->part_bytes);
        int64_t keys[RZ_SLOTS];
        int next = 0;
        for (int i = 0; i < RZ_SLOTS; i++) keys[i] = -1;
        int64_t prev_off = -1;
        for (int64_t row = b; row < e; row++) {
            float *y = j->dst + row * w;
            const rz_tap *t[CS_MAX_DIMS];
            int64_t rem = row;
            int outside = 0;
            for (int d = last - 1; d >= 0; d--) {
                t[d] = &j->tab[d][rem % j->odims[d]];
                rem /= j->odims[d];
                outside |= t[d]->outside;
            }
            if (outside) {
                for (int64_t x = 0; x < w; x++) y[x] = j->extrap;
                prev_off = -1;
                continue;
            }
            if (j->single) {
                int64_t off = 0;
                for (int d = 0; d < last; d++) off += t[d]->off[0];
                if (off == prev_off) {
                    memcpy(y, y - w, sizeof(float) * (size_t)w);
                    continue;
                }
                prev_off = off;
                rz_hrow(j, j->src + off, y);
            } else {
                int cnt[CS_MAX_DIMS] = {0}, first = 1;
                for (;;) {
                    int64_t off = 0;
                    float wgt = 1.f;
                    for (int d = 0; d < last; d++) {
                        off += t[d]->off[cnt[d]];
                        wgt *= t[d]->w[cnt[d]];
                    }
                    /* each cached row is used right away, so any slot may be reused */
                    int slot = -1;
                    for (int i = 0; i < RZ_SLOTS && slot < 0; i++)
                        if (keys[i] == off) slot = i;
                    if (slot < 0) {
                        slot = next;
                        next = (next + 1) % RZ_SLOTS;
                        keys[slot] = off;
                        rz_hrow(j, j->src + off, cache + (size_t)slot * (size_t)w);
                    }
                    rz_accumulate(y, cache + (size_t)slot * (size_t)w, wgt, w, first);
                    first = 0;
                    int d = last - 1;
                    for (; d >= 0; d--) {
                        if (++cnt[d] < t[d]->n) break;
                        cnt[d] = 0;
                    }
                    if (d < 0) break;
                }
            }
            if (j->outside_last) {
                const rz_tap *tl = j->tab[last];
                for (int64_t x = 0; x < w; x++)
                    if (tl[x].outside) y[x] = j->extrap;
            }
        }
    }
}

static void rz_forward(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                       const cs_exec *ex)
{
    const rz_params *p = n->params;
    const cs_tensor *x = in[0];
    cs_tensor *yt = out[0];
    rz_geom g;
    if (yt->numel == 0 || rz_geometry(n, in, &g, NULL) != CS_OK) return;
    int r = x->ndim, last = r - 1;
    int64_t str[CS_MAX_DIMS], w = yt->dims[last];
    cs_strides(r, x->dims, str);
    int parts = ex->threads < n->threads ? ex->threads : n->threads;
    if (parts < 1 || yt->numel < 16384) parts = 1;
    rz_layout l = rz_scratch(r, yt->dims, parts);
    char *scratch = ex->scratch;
    rz_job j = {.r = r,
                .parts = parts,
                .src = x->data,
                .dst = yt->data,
                .odims = yt->dims,
                .rows = yt->numel / w,
                .extrap = p->extrapolation,
                .hidx = (const int32_t *)(scratch + l.hidx),
                .hw = (const float *)(scratch + l.hw),
                .cache = scratch + l.cache,
                .part_bytes = l.part,
                .gather = 1,
                .single = 1};
    rz_tap *tab = (rz_tap *)scratch;
    for (int d = 0; d < r; d++) {
        j.tab[d] = tab;
        for (int64_t o = 0; o < yt->dims[d]; o++) {
            rz_make_tap(p, &g, d, r, o, x->dims[d], str[d], &tab[o]);
            if (d == last) {
                j.gather &= tab[o].n == 1 && tab[o].w[0] == 1.f;
                j.outside_last |= tab[o].outside;
                if (tab[o].n > j.K) j.K = tab[o].n;
            } else {
                j.single &= tab[o].n == 1;
            }
        }
        tab += yt->dims[d];
    }
    /* the last axis as flat arrays of K taps (stride 1: offsets are indices) */
    const rz_tap *tl = j.tab[last];
    int32_t *hidx = (int32_t *)(scratch + l.hidx);
    float *hw = (float *)(scratch + l.hw);
    if (j.K == 3) j.K = 4;
    for (int64_t o = 0; o < w; o++)
        for (int k = 0; k < j.K; k++) {
            hidx[o * j.K + k] = k < tl[o].n ? (int32_t)tl[o].off[k] : 0;
            hw[o * j.K + k] = k < tl[o].n ? tl[o].w[k] : 0.f;
        }
    j.double2 = j.gather;
    for (int64_t o = 0; j.double2 && o < w - (w & 1); o++) j.double2 = tl[o].off[0] == o / 2;
    cs_parallel_for(parts > 1 ? ex : NULL, parts, rz_part, &j);
}

/* ---- backward ------------------------------------------------------------------------ */

/* One (output index, weight) reading an input index along an axis. */
typedef struct {
    int64_t o;
    float w;
} rz_ent;

typedef struct {
    size_t hidx, hw, first, ents, temp, part, total;
} rz_bwd_layout;

/* Tap tables of every axis, the last axis's taps as flat arrays (as in forward), per axis but
 * the last the index lists (first: in + 1 offsets, ents: up to 4 per output), then one
 * output-width row per part. */
static rz_bwd_layout rz_bwd_scratch_layout(int r, const int64_t *idims, const int64_t *odims,
                                           int parts)
{
    rz_bwd_layout l;
    size_t taps = 0, firsts = 0, ents = 0;
    for (int d = 0; d < r; d++) {
        taps += (size_t)odims[d];
        if (d == r - 1) continue;
        firsts += (size_t)idims[d] + 1;
        ents += 4 * (size_t)odims[d];
    }
    size_t w = (size_t)odims[r - 1];
    l.hidx = up64(taps * sizeof(rz_tap));
    l.hw = l.hidx + up64(w * 4 * sizeof(int32_t));
    l.first = l.hw + up64(w * 4 * sizeof(float));
    l.ents = l.first + up64(firsts * sizeof(int64_t));
    l.temp = l.ents + up64(ents * sizeof(rz_ent));
    l.part = up64((size_t)odims[r - 1] * sizeof(float));
    l.total = l.temp + (size_t)parts * l.part;
    return l;
}

static size_t rz_bwd_scratch(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out)
{
    if (out[0]->numel == 0) return 0;
    return rz_bwd_scratch_layout(in[0]->ndim, in[0]->dims, out[0]->dims,
                                 n->threads > 1 ? n->threads : 1)
        .total;
}

typedef struct {
    const rz_tap *tab[CS_MAX_DIMS];    /* per axis, per output index; offsets are indices */
    const int64_t *first[CS_MAX_DIMS]; /* axes but the last: ents of input index s are */
    const rz_ent *ents[CS_MAX_DIMS];   /* ents[first[s]] .. ents[first[s + 1]] */
    int r, parts;
    int K;       /* taps per last-axis output in hidx / hw (weight 0 pads; outside: all 0) */
    int double2; /* the last axis is 2x nearest: output x reads input x / 2 */
    const int32_t *hidx;
    const float *hw;
    const int64_t *idims, *odims;
    int64_t rows; /* input rows */
    float *gx;
    const float *gy;
    char *temp;
    size_t part_bytes;
} rz_bwd;

/* gx_row[s] += wgt * w * t[x] for each tap (s, w) of each output x along the last axis (the
 * transpose of rz_hrow). */
static void rz_bwd_fold(const rz_bwd *j, float *restrict gx, const float *restrict t, float wgt)
{
    int64_t w = j->odims[j->r - 1];
    const int32_t *restrict ix = j->hidx;
    const float *restrict wt = j->hw;
    if (j->double2) {
        for (int64_t x = 0; x < w / 2; x++) gx[x] += wgt * (t[2 * x] + t[2 * x + 1]);
        if (w & 1) gx[ix[w - 1]] += wgt * wt[w - 1] * t[w - 1];
    } else if (j->K == 1) {
        for (int64_t x = 0; x < w; x++) gx[ix[x]] += wt[x] * (wgt * t[x]);
    } else if (j->K == 2) {
        for (int64_t x = 0; x < w; x++) {
            float v = wgt * t[x];
            gx[ix[2 * x]] += wt[2 * x] * v;
            gx[ix[2 * x + 1]] += wt[2 * x + 1] * v;
        }
    } else {
        for (int64_t x = 0; x < w; x++) {
            float v = wgt * t[x];
            const int32_t *i4 = ix + 4 * x;
            const float *w4 = wt + 4 * x;
            for (int k = 0; k < 4; k++) gx[i4[k]] += w4[k] * v;
        }
    }
}

static void rz_bwd_part(void *ctx, int64_t pb, int64_t pe)
{
    const rz_bwd *j = ctx;
    int last = j->r - 1;
    int64_t iw = j->idims[last], ow = j->odims[last];
    int64_t ostr[CS_MAX_DIMS], s = 1; /* output row strides over the axes before the last */
    for (int d = last - 1; d >= 0; d--) {
        ostr[d] = s;
        s *= j->odims[d];
    }
    for (int64_t part = pb; part < pe; part++) {
        int64_t b = j->rows * part / j->parts, e = j->rows * (part + 1) / j->parts;
        float *t = (float *)(j->temp + (size_t)part * j->part_bytes);
        for (int64_t row = b; row < e; row++) {
            int64_t lo[CS_MAX_DIMS], hi[CS_MAX_DIMS], at[CS_MAX_DIMS], rem = row, combos = 1;
            for (int d = last - 1; d >= 0; d--) {
                int64_t si = rem % j->idims[d];
                rem /= j->idims[d];
                lo[d] = at[d] = j->first[d][si];
                hi[d] = j->first[d][si + 1];
                combos *= hi[d] - lo[d];
            }
            if (combos == 0) continue;
            float *gx = j->gx + row * iw;
            for (int first = 1;; first = 0) {
                int64_t orow = 0;
                float wgt = 1.f;
                for (int d = 0; d < last; d++) {
                    orow += j->ents[d][at[d]].o * ostr[d];
                    wgt *= j->ents[d][at[d]].w;
                }
                const float *gy = j->gy + orow * ow;
                if (combos == 1) {
                    rz_bwd_fold(j, gx, gy, wgt);
                    break;
                }
                rz_accumulate(t, gy, wgt, ow, first);
                int d = last - 1;
                for (; d >= 0; d--) {
                    if (++at[d] < hi[d]) break;
                    at[d] = lo[d];
                }
                if (d < 0) break;
            }
            if (combos > 1) rz_bwd_fold(j, gx, t, 1.f);
        }
    }
}

static void rz_backward(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                        cs_tensor *const *gout, cs_tensor *const *gin, const cs_exec *ex)
{
    const rz_params *p = n->params;
    const cs_tensor *x = in[0];
    float *gx = cs_gin_f32(gin, n->n_in, 0);
    const float *gy = cs_gout_f32(gout, 0);
    rz_geom g;
    if (!gx || !gy || rz_geometry(n, in, &g, NULL) != CS_OK) return;
    int r = x->ndim, last = r - 1;
    const int64_t *od = out[0]->dims;
    int parts = ex->threads < n->threads ? ex->threads : n->threads;
    if (parts < 1 || out[0]->numel < 16384) parts = 1;
    rz_bwd_layout l = rz_bwd_scratch_layout(r, x->dims, od, parts);
    char *scratch = ex->scratch;
    rz_bwd j = {.r = r,
                .parts = parts,
                .idims = x->dims,
                .odims = od,
                .rows = x->numel / x->dims[last],
                .gx = gx,
                .gy = gy,
                .temp = scratch + l.temp,
                .part_bytes = l.part};
    rz_tap *tab = (rz_tap *)scratch;
    int64_t *first = (int64_t *)(scratch + l.first);
    rz_ent *ents = (rz_ent *)(scratch + l.ents);
    for (int d = 0; d < r; d++) {
        j.tab[d] = tab;
        for (int64_t o = 0; o < od[d]; o++) rz_make_tap(p, &g, d, r, o, x->dims[d], 1, &tab[o]);
        if (d < last) { /* counting sort of the taps by input index */
            int64_t m = x->dims[d];
            memset(first, 0, sizeof(int64_t) * (size_t)(m + 1));
            for (int64_t o = 0; o < od[d]; o++)
                for (int k = 0; !tab[o].outside && k < tab[o].n; k++) first[tab[o].off[k] + 1]++;
            for (int64_t i = 0; i < m; i++) first[i + 1] += first[i];
            for (int64_t o = 0; o < od[d]; o++)
                for (int k = 0; !tab[o].outside && k < tab[o].n; k++)
                    ents[first[tab[o].off[k]]++] = (rz_ent){o, tab[o].w[k]};
            for (int64_t i = m; i > 0; i--) first[i] = first[i - 1];
            first[0] = 0;
            j.first[d] = first;
            j.ents[d] = ents;
            ents += first[m];
            first += m + 1;
        }
        tab += od[d];
    }
    /* the last axis as flat arrays of K taps; outputs outside the crop box pass nothing */
    const rz_tap *tl = j.tab[last];
    int64_t w = od[last];
    int32_t *hidx = (int32_t *)(scratch + l.hidx);
    float *hw = (float *)(scratch + l.hw);
    for (int64_t o = 0; o < w; o++)
        if (tl[o].n > j.K) j.K = tl[o].n;
    if (j.K == 3) j.K = 4;
    j.double2 = j.K == 1;
    for (int64_t o = 0; o < w; o++) {
        for (int k = 0; k < j.K; k++) {
            int on = !tl[o].outside && k < tl[o].n;
            hidx[o * j.K + k] = on ? (int32_t)tl[o].off[k] : 0;
            hw[o * j.K + k] = on ? tl[o].w[k] : 0.f;
        }
        if (o < w - (w & 1))
            j.double2 &= !tl[o].outside && tl[o].w[0] == 1.f && tl[o].off[0] == o / 2;
    }
    j.hidx = hidx;
    j.hw = hw;
    cs_parallel_for(parts > 1 ? ex : NULL, parts, rz_bwd_part, &j);
}

const cs_op_def cs_def_resize = {
    .onnx_name = "Resize",
    .min_in = 1,
    .max_in = 4,
    .min_out = 1,
    .max_out = 1,
    .init = rz_init,
    .shape = rz_shape,
    .forward = rz_forward,
    .backward = rz_backward,
    .backward_scratch = rz_bwd_scratch,
};

const cs_op_def cs_def_upsample = {
    .onnx_name = "Upsample",
    .min_in = 1,
    .max_in = 2,
    .min_out = 1,
    .max_out = 1,
    .init = rz_init,
    .shape = rz_shape,
    .forward = rz_forward,
    .backward = rz_backward,
    .backward_scratch = rz_bwd_scratch,
};
