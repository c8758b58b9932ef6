/* MaxPool, AveragePool (1-D, 2-D, 3-D) and GlobalAveragePool, GlobalMaxPool (any rank >= 3).
 *
 * Pools work on N*C independent planes, split across threads. Every spatial geometry is held
 * as 3-D (missing leading dims have size 1) so one set of loops serves 1-D to 3-D. A window's
 * in-bounds taps come from pool_window(), which a backward pass can reuse to scatter
 * gradients to the same input elements. 2-D pools with no dilation take a path whose interior
 * windows need no bounds checks (ResNet's 3x3/2 MaxPool, VGG/SqueezeNet's 2x2/2). */
#include "../graph.h"
#include "../threads.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define POOL_DIMS 3
/* Below this many input elements the pool runs on the calling thread. */
#define POOL_PAR_MIN 16384
/* A plain compare (one maxss), not fmaxf's NaN rules. */
#define MAXF(a, b) ((a) > (b) ? (a) : (b))

typedef enum { PAD_NOTSET, PAD_SAME_UPPER, PAD_SAME_LOWER, PAD_VALID } pool_auto_pad;
typedef enum { POOL_MAX, POOL_AVG, POOL_AVG_INCL_PAD } pool_kind;

typedef struct pool_params {
    int nk; /* spatial dims given by kernel_shape */
    int64_t kernel[POOL_DIMS], strides[POOL_DIMS], dilations[POOL_DIMS];
    int64_t pads[2 * POOL_DIMS]; /* begins then ends, as in ONNX */
    pool_auto_pad auto_pad;
    bool ceil_mode;
    pool_kind kind;
} pool_params;

/* Resolved geometry for one input shape; spatial dim i of 3 (leading ones padded). */
typedef struct pool_geom {
    int64_t planes; /* N*C */
    int64_t in[POOL_DIMS], out[POOL_DIMS], k[POOL_DIMS], s[POOL_DIMS], d[POOL_DIMS];
    int64_t pb[POOL_DIMS], pe[POOL_DIMS];
    int64_t in_size, out_size; /* elements per plane */
    pool_kind kind;
} pool_geom;

static int64_t floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* Taps [*t0, *t1) of dim i's window at output o fall inside the input; returns the input
 * coordinate of tap 0. *np (if not NULL) gets the number of taps inside the padded input,
 * the AveragePool divisor with count_include_pad. */
static int64_t pool_window(const pool_geom *g, int i, int64_t o, int64_t *t0, int64_t *t1,
                           int64_t *np)
{
    int64_t s = o * g->s[i] - g->pb[i], d = g->d[i], k = g->k[i];
    int64_t a = s < 0 ? (-s + d - 1) / d : 0;
    int64_t b = floor_div(g->in[i] - 1 - s, d) + 1;
    *t0 = a;
    *t1 = b < k ? b : k;
    if (*t1 < a) *t1 = a;
    if (np) {
        int64_t c = floor_div(g->in[i] + g->pe[i] - 1 - s, d) + 1;
        *np = c < k ? c : k;
    }
    return s;
}

/* ---- attributes and shapes ------------------------------------------------------------------ */

static cs_status pool_parse(cs_node *n, const cs_attrs *a, pool_params *p, cs_error *err)
{
    int nk = cs_attr_ints(a, "kernel_shape", p->kernel, POOL_DIMS);
    if (nk <= 0)
        return cs_node_fail(err, nk < 0 ? CS_ERR_UNSUPPORTED : CS_ERR_INVALID, n,
                            nk < 0 ? "only 1-D, 2-D and 3-D pooling is supported"
                                   : "kernel_shape attribute is required");
    p->nk = nk;
    for (int i = 0; i < POOL_DIMS; i++) p->strides[i] = p->dilations[i] = 1;
    struct {
        const char *name;
        int64_t *v;
        int len;
    } lists[] = {
        {"strides", p->strides, nk}, {"dilations", p->dilations, nk}, {"pads", p->pads, 2 * nk}};
    for (int l = 0; l < 3; l++) {
        int64_t tmp[2 * POOL_DIMS];
        int c = cs_attr_ints(a, lists[l].name, tmp, 2 * POOL_DIMS);
        if (c == 0) continue;
        if (c != lists[l].len)
            return cs_node_fail(err, CS_ERR_INVALID, n, "%s has %d values, expected %d",
                                lists[l].name, c, lists[l].len);
        memcpy(lists[l].v, tmp, sizeof(int64_t) * (size_t)c);
    }
    for (int i = 0; i < nk; i++) {
        if (p->kernel[i] < 1 || p->strides[i] < 1 || p->dilations[i] < 1)
            return cs_node_fail(err, CS_ERR_INVALID, n,
                                "kernel_shape, strides and dilations must be positive");
        if (p->pads[i] < 0 || p->pads[nk + i] < 0)
            return cs_node_fail(err, CS_ERR_INVALID, n, "pads must not be negative");
        if (p->pads[i] >= p->kernel[i] || p->pads[nk + i] >= p->kernel[i])
            return cs_node_fail(err, CS_ERR_INVALID, n,
                                "pads must be smaller than the kernel (dim %d: kernel %lld, "
                                "pads %lld/%lld)",
                                i, (long long)p->kernel[i], (long long)p->pads[i],
                                (long long)p->pads[nk + i]);
    }
    const char *ap = cs_attr_string(a, "auto_pad", "NOTSET");
    if (strcmp(ap, "NOTSET") == 0)
        p->auto_pad = PAD_NOTSET;
    else if (strcmp(ap, "SAME_UPPER") == 0)
        p->auto_pad = PAD_SAME_UPPER;
    else if (strcmp(ap, "SAME_LOWER") == 0)
        p->auto_pad = PAD_SAME_LOWER;
    else if (strcmp(ap, "VALID") == 0)
        p->auto_pad = PAD_VALID;
    else
        return cs_node_fail(err, CS_ERR_INVALID, n, "unknown auto_pad '%s'", ap);
    if (p->auto_pad != PAD_NOTSET && cs_attr_find(a, "pads")) {
        int64_t tmp[2 * POOL_DIMS];
        int c = cs_attr_ints(a, "pads", tmp, 2 * POOL_DIMS);
        for (int i = 0; i < c; i++)
            if (tmp[i] != 0)
                return cs_node_fail(err, CS_ERR_INVALID, n,
                                    "explicit pads cannot be combined with auto_pad=%s", ap);
    }
    p->ceil_mode = cs_attr_int(a, "ceil_mode", 0) != 0;
    if (p->kind == POOL_AVG && cs_attr_int(a, "count_include_pad", 0) != 0)
        p->kind = POOL_AVG_INCL_PAD;
    return CS_OK;
}

static cs_status pool_init(cs_node *n, const cs_attrs *a, pool_kind kind, cs_error *err)
{
    pool_params *p = calloc(1, sizeof *p);
    if (!p) return cs_node_fail(err, CS_ERR_NOMEM, n, "out of memory");
    p->kind = kind;
    cs_status st = pool_parse(n, a, p, err);
    if (st != CS_OK)
        free(p);
    else
        n->params = p;
    return st;
}

static cs_status maxpool_init(cs_node *n, const cs_attrs *a, cs_error *err)
{
    int64_t so = cs_attr_int(a, "storage_order", 0);
    if (so != 0 && so != 1)
        return cs_node_fail(err, CS_ERR_INVALID, n, "storage_order must be 0 or 1");
    return pool_init(n, a, POOL_MAX, err);
}

static cs_status avgpool_init(cs_node *n, const cs_attrs *a, cs_error *err)
{
    return pool_init(n, a, POOL_AVG, err);
}

/* Fills g from the params and x's shape; on failure returns a reason in *why. */
static bool pool_geometry(const pool_params *p, const cs_tensor *x, pool_geom *g, const char **why,
                          int *bad_dim)
{
    int nk = p->nk, off = POOL_DIMS - nk;
    memset(g, 0, sizeof *g);
    g->kind = p->kind;
    g->planes = x->dims[0] * x->dims[1];
    g->in_size = g->out_size = 1;
    for (int i = 0; i < POOL_DIMS; i++) {
        g->in[i] = g->out[i] = g->k[i] = g->s[i] = g->d[i] = 1;
        g->pb[i] = g->pe[i] = 0;
    }
    for (int j = 0; j < nk; j++) {
        int i = off + j;
        int64_t in = x->dims[2 + j], k = p->kernel[j], s = p->strides[j], d = p->dilations[j];
        int64_t eff = (k - 1) * d + 1, pb = p->pads[j], pe = p->pads[nk + j], out;
        if (p->auto_pad == PAD_SAME_UPPER || p->auto_pad == PAD_SAME_LOWER) {
            out = (in + s - 1) / s;
            int64_t total = (out - 1) * s + eff - in;
            if (total < 0) total = 0;
            pb = p->auto_pad == PAD_SAME_UPPER ? total / 2 : total - total / 2;
            pe = total - pb;
        } else {
            if (p->auto_pad == PAD_VALID) pb = pe = 0;
            int64_t span = in + pb + pe - eff;
            if (span < 0) {
                *why = "the (dilated) kernel is larger than the padded input";
                *bad_dim = j;
                return false;
            }
            out = (span + (p->ceil_mode ? s - 1 : 0)) / s + 1;
            /* As PyTorch and onnxruntime: the last window must start inside the input or
             * its begin padding, never wholly in the end padding. */
            if (p->ceil_mode && (out - 1) * s >= in + pb) out--;
        }
        if (in < 1 || out < 1) {
            *why = "empty spatial dimension";
            *bad_dim = j;
            return false;
        }
        g->in[i] = in;
        g->out[i] = out;
        g->k[i] = k;
        g->s[i] = s;
        g->d[i] = d;
        g->pb[i] = pb;
        g->pe[i] = pe;
        g->in_size *= in;
        g->out_size *= out;
    }
    return true;
}

static cs_status pool_shape(cs_node *n, cs_tensor *const *in, cs_tensor *const *out, cs_error *err)
{
    const pool_params *p = n->params;
    const cs_tensor *x = in[0];
    char b[96];
    if (!x) return cs_node_fail(err, CS_ERR_INVALID, n, "missing input X");
    if (n->n_out > 1 && out[1])
        return cs_node_fail(err, CS_ERR_UNSUPPORTED, n, "the Indices output is not supported");
    if (x->type != CS_F32)
        return cs_node_fail(err, CS_ERR_UNSUPPORTED, n, "input X must be float32");
    if (x->ndim != p->nk + 2)
        return cs_node_fail(err, CS_ERR_INVALID, n,
                            "input X (%s) must have rank %d for a %d-D kernel_shape",
                            cs_shape_str(x, b, sizeof b), p->nk + 2, p->nk);
    pool_geom g;
    const char *why = "";
    int bad = 0;
    if (!pool_geometry(p, x, &g, &why, &bad))
        return cs_node_fail(err, CS_ERR_INVALID, n, "input X (%s), spatial dim %d: %s",
                            cs_shape_str(x, b, sizeof b), bad, why);
    int64_t dims[CS_MAX_DIMS] = {x->dims[0], x->dims[1]};
    for (int j = 0; j < p->nk; j++) dims[2 + j] = g.out[POOL_DIMS - p->nk + j];
    cs_tensor_set_shape(out[0], CS_F32, x->ndim, dims);
    return CS_OK;
}

/* ---- forward -------------------------------------------------------------------------------- */

/* One output value, any geometry. */
static float pool_one(const pool_geom *g, const float *x, int64_t o0, int64_t o1, int64_t o2)
{
    int64_t a0, b0, a1, b1, a2, b2, n0, n1, n2;
    int64_t s0 = pool_window(g, 0, o0, &a0, &b0, &n0);
    int64_t s1 = pool_window(g, 1, o1, &a1, &b1, &n1);
    int64_t s2 = pool_window(g, 2, o2, &a2, &b2, &n2);
    const int64_t d0 = g->d[0], d1 = g->d[1], d2 = g->d[2], H = g->in[1], W = g->in[2];
    if (g->kind == POOL_MAX) {
        float m = -INFINITY;
        for (int64_t t0 = a0; t0 < b0; t0++)
            for (int64_t t1 = a1; t1 < b1; t1++) {
                const float *r = x + ((s0 + t0 * d0) * H + s1 + t1 * d1) * W + s2;
                for (int64_t t2 = a2; t2 < b2; t2++) m = MAXF(r[t2 * d2], m);
            }
        return m;
    }
    float sum = 0.f;
    for (int64_t t0 = a0; t0 < b0; t0++)
        for (int64_t t1 = a1; t1 < b1; t1++) {
            const float *r = x + ((s0 + t0 * d0) * H + s1 + t1 * d1) * W + s2;
            for (int64_t t2 = a2; t2 < b2; t2++) sum += r[t2 * d2];
        }
    int64_t cnt = g->kind == POOL_AVG_INCL_PAD ? n0 * n1 * n2 : (b0 - a0) * (b1 - a1) * (b2 - a2);
    return cnt > 0 ? sum / (float)cnt : 0.f;
}

static void pool_plane_generic(const pool_geom *g, const float *x, float *y)
{
    for (int64_t o0 = 0; o0 < g->out[0]; o0++)
        for (int64_t o1 = 0; o1 < g->out[1]; o1++)
            for (int64_t o2 = 0; o2 < g->out[2]; o2++) *y++ = pool_one(g, x, o0, o1, o2);
}

/* 2-D (or 1-D) pooling without dilation, done separably one output row at a time: the rows
 * of the vertical window are reduced into a padded row buffer (contiguous: vectorizes), then
 * each output reduces kw neighbours of that buffer. The padding cells hold the reduction's
 * identity, so no window needs bounds checks; an average's divisor counts the taps inside the
 * input (or inside the padded input with count_include_pad). */
#define POOL_ROW_MAX 4096

static bool pool_2d_fits(const pool_geom *g)
{
    return g->in[0] == 1 && g->k[0] == 1 && g->d[1] == 1 && g->d[2] == 1 &&
           (g->out[2] - 1) * g->s[2] + g->k[2] <= POOL_ROW_MAX;
}

static void pool_plane_2d(const pool_geom *g, const float *x, float *y)
{
    const int64_t W = g->in[2], OH = g->out[1], OW = g->out[2];
    const int64_t kw = g->k[2], sw = g->s[2], pw = g->pb[2], pe = g->pe[2];
    const bool max = g->kind == POOL_MAX, incl = g->kind == POOL_AVG_INCL_PAD;
    const float fill = max ? -INFINITY : 0.f;
    float t[POOL_ROW_MAX];
    /* t[j] holds input column j - pw; the last window ends at tl. */
    const int64_t tl = (OW - 1) * sw + kw, n = W < tl - pw ? W : tl - pw;
    for (int64_t j = 0; j < pw; j++) t[j] = fill;
    for (int64_t j = pw + n; j < tl; j++) t[j] = fill;
    float *tt = t + pw;
    /* An average's taps per column window, clipped to the input or the padded input. Dividing
     * (not multiplying by inverses) keeps results exact where the reference's are. */
    float ncol[POOL_ROW_MAX];
    if (!max)
        for (int64_t ow = 0; ow < OW; ow++) {
            int64_t w0 = ow * sw - pw, w1 = w0 + kw;
            int64_t cols =
                incl ? (w1 < W + pe ? w1 : W + pe) - w0 : (w1 < W ? w1 : W) - (w0 > 0 ? w0 : 0);
            ncol[ow] = (float)cols;
        }
    for (int64_t oh = 0; oh < OH; oh++, y += OW) {
        int64_t a, b, np;
        int64_t h = pool_window(g, 1, oh, &a, &b, &np);
        if (b > a) {
            const float *r = x + (h + a) * W;
            memcpy(tt, r, sizeof(float) * (size_t)n);
            for (int64_t i = a + 1; i < b; i++) {
                r += W;
                if (max)
                    for (int64_t j = 0; j < n; j++) tt[j] = MAXF(r[j], tt[j]);
                else
                    for (int64_t j = 0; j < n; j++) tt[j] += r[j];
            }
        } else {
            for (int64_t j = 0; j < n; j++) tt[j] = fill;
        }
        if (max && kw == 3 && sw == 2) {
            for (int64_t ow = 0; ow < OW; ow++)
                y[ow] = MAXF(MAXF(t[2 * ow], t[2 * ow + 1]), t[2 * ow + 2]);
        } else if (max && kw == 2 && sw == 2) {
            for (int64_t ow = 0; ow < OW; ow++) y[ow] = MAXF(t[2 * ow], t[2 * ow + 1]);
        } else if (max) {
            for (int64_t ow = 0; ow < OW; ow++) {
                const float *p = t + ow * sw;
                float m = p[0];
                for (int64_t j = 1; j < kw; j++) m = MAXF(p[j], m);
                y[ow] = m;
            }
        } else {
            const int64_t rows = incl ? np : b - a;
            /* Never 0 here: pads < kernel and every window starts before the input ends. */
            const float nr = (float)rows;
            if (kw == 2)
                for (int64_t ow = 0; ow < OW; ow++)
                    y[ow] = (t[ow * sw] + t[ow * sw + 1]) / (ncol[ow] * nr);
            else if (kw == 3)
                for (int64_t ow = 0; ow < OW; ow++)
                    y[ow] = (t[ow * sw] + t[ow * sw + 1] + t[ow * sw + 2]) / (ncol[ow] * nr);
            else
                for (int64_t ow = 0; ow < OW; ow++) {
                    const float *p = t + ow * sw;
                    float sum = 0.f;
                    for (int64_t j = 0; j < kw; j++) sum += p[j];
                    y[ow] = sum / (ncol[ow] * nr);
                }
        }
    }
}

typedef struct pool_job {
    pool_geom g;
    const float *x;
    float *y;
} pool_job;

static void pool_range(void *ctx, int64_t b, int64_t e)
{
    const pool_job *j = ctx;
    const pool_geom *g = &j->g;
    bool fast = pool_2d_fits(g);
    for (int64_t p = b; p < e; p++) {
        const float *x = j->x + p * g->in_size;
        float *y = j->y + p * g->out_size;
        if (fast)
            pool_plane_2d(g, x, y);
        else
            pool_plane_generic(g, x, y);
    }
}

static void pool_forward(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                         const cs_exec *ex)
{
    pool_job j = {.x = in[0]->data, .y = out[0]->data};
    const char *why;
    int bad;
    pool_geometry(n->params, in[0], &j.g, &why, &bad);
    if (in[0]->numel >= POOL_PAR_MIN)
        cs_parallel_for(ex, j.g.planes, pool_range, &j);
    else
        pool_range(&j, 0, j.g.planes);
}

/* ---- backward -------------------------------------------------------------------------------
 *
 * Each output's gradient goes back through the taps of its window, found again with
 * pool_window(): MaxPool routes it to the window's argmax (recomputed from the input; on ties
 * the first maximum in scan order, as PyTorch), AveragePool spreads it over the taps with the
 * forward's divisor. Planes are independent, so threads split them and never share a
 * gradient element. */

/* Windows along the innermost dim, the same for every output row and plane: computed once per
 * backward when they fit this table (else per output). */
#define POOL_GRAD_COLS 1024

typedef struct pool_grad_job {
    pool_geom g;
    const float *x, *gy;
    float *gx;
    bool cols; /* the table below holds every window of dim 2 */
    int64_t c_start[POOL_GRAD_COLS], c_a[POOL_GRAD_COLS], c_b[POOL_GRAD_COLS];
    float c_n[POOL_GRAD_COLS]; /* taps in the padded input (count_include_pad) */
} pool_grad_job;

static void pool_grad_plane(const pool_grad_job *j, const float *x, const float *gy, float *gx)
{
    const pool_geom *g = &j->g;
    const int64_t d0 = g->d[0], d1 = g->d[1], d2 = g->d[2], H = g->in[1], W = g->in[2];
    const int64_t OW = g->out[2];
    for (int64_t o0 = 0; o0 < g->out[0]; o0++) {
        int64_t a0, b0, n0;
        int64_t s0 = pool_window(g, 0, o0, &a0, &b0, &n0);
        for (int64_t o1 = 0; o1 < g->out[1]; o1++, gy += OW) {
            int64_t a1, b1, n1;
            int64_t s1 = pool_window(g, 1, o1, &a1, &b1, &n1);
            if (b0 <= a0 || b1 <= a1) continue;
            for (int64_t o2 = 0; o2 < OW; o2++) {
                int64_t a2, b2, n2, s2;
                if (j->cols) {
                    s2 = j->c_start[o2];
                    a2 = j->c_a[o2];
                    b2 = j->c_b[o2];
                    n2 = (int64_t)j->c_n[o2];
                } else {
                    s2 = pool_window(g, 2, o2, &a2, &b2, &n2);
                }
                if (b2 <= a2) continue;
                if (g->kind == POOL_MAX) {
                    /* First maximum in scan order: only a strictly larger value moves it. */
                    int64_t best = ((s0 + a0 * d0) * H + s1 + a1 * d1) * W + s2 + a2 * d2;
                    float m = x[best];
                    for (int64_t t0 = a0; t0 < b0; t0++)
                        for (int64_t t1 = a1; t1 < b1; t1++) {
                            const int64_t r = ((s0 + t0 * d0) * H + s1 + t1 * d1) * W + s2;
                            for (int64_t t2 = a2; t2 < b2; t2++) {
                                const float v = x[r + t2 * d2];
                                best = v > m ? r + t2 * d2 : best;
                                m = v > m ? v : m;
                            }
                        }
                    gx[best] += gy[o2];
                    continue;
                }
                int64_t cnt =
                    g->kind == POOL_AVG_INCL_PAD ? n0 * n1 * n2 : (b0 - a0) * (b1 - a1) * (b2 - a2);
                const float v = gy[o2] / (float)cnt;
                for (int64_t t0 = a0; t0 < b0; t0++)
                    for (int64_t t1 = a1; t1 < b1; t1++) {
                        float *r = gx + ((s0 + t0 * d0) * H + s1 + t1 * d1) * W + s2;
                        for (int64_t t2 = a2; t2 < b2; t2++) r[t2 * d2] += v;
                    }
            }
        }
    }
}

/* AveragePool in 2-D (or 1-D) without dilation, separably: each output row spreads its
 * gradients over a padded row buffer (one window of kw columns per output), and the buffer is
 * added to every input row of the vertical window. The divisor factors into rows x columns, as
 * in the forward. */
static void avg_grad_plane_2d(const pool_grad_job *j, const float *gy, float *gx)
{
    const pool_geom *g = &j->g;
    const int64_t W = g->in[2], OH = g->out[1], OW = g->out[2];
    const int64_t kw = g->k[2], sw = g->s[2], pw = g->pb[2];
    const bool incl = g->kind == POOL_AVG_INCL_PAD;
    float t[POOL_ROW_MAX];
    const int64_t tl = (OW - 1) * sw + kw, n = W < tl - pw ? W : tl - pw;
    const float *tt = t + pw;
    for (int64_t oh = 0; oh < OH; oh++, gy += OW) {
        int64_t a, b, np;
        int64_t h = pool_window(g, 1, oh, &a, &b, &np);
        if (b <= a) continue;
        const float nr = (float)(incl ? np : b - a);
        for (int64_t c = 0; c < tl; c++) t[c] = 0.f;
        for (int64_t ow = 0; ow < OW; ow++) {
            /* Columns of this window inside the input (or the padded input). */
            const float ncol = incl ? j->c_n[ow] : (float)(j->c_b[ow] - j->c_a[ow]);
            const float v = gy[ow] / (ncol * nr);
            float *p = t + ow * sw;
            for (int64_t c = 0; c < kw; c++) p[c] += v;
        }
        for (int64_t i = a; i < b; i++) {
            float *r = gx + (h + i) * W;
            for (int64_t c = 0; c < n; c++) r[c] += tt[c];
        }
    }
}

static void pool_grad_range(void *ctx, int64_t b, int64_t e)
{
    const pool_grad_job *j = ctx;
    const pool_geom *g = &j->g;
    const bool sep = g->kind != POOL_MAX && j->cols && pool_2d_fits(g);
    for (int64_t p = b; p < e; p++) {
        if (sep)
            avg_grad_plane_2d(j, j->gy + p * g->out_size, j->gx + p * g->in_size);
        else
            pool_grad_plane(j, j->x + p * g->in_size, j->gy + p * g->out_size,
                            j->gx + p * g->in_size);
    }
}

static void pool_backward(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                          cs_tensor *const *gout, cs_tensor *const *gin, const cs_exec *ex)
{
    if (!gout[0] || !gin[0]) return;
    pool_grad_job j = {.x = in[0]->data, .gy = gout[0]->data, .gx = gin[0]->data};
    const char *why;
    int bad;
    pool_geometry(n->params, in[0], &j.g, &why, &bad);
    j.cols = j.g.out[2] <= POOL_GRAD_COLS;
    for (int64_t o = 0; j.cols && o < j.g.out[2]; o++) {
        int64_t np;
        j.c_start[o] = pool_window(&j.g, 2, o, &j.c_a[o], &j.c_b[o], &np);
        j.c_n[o] = (float)np;
    }
    if (in[0]->numel >= POOL_PAR_MIN)
        cs_parallel_for(ex, j.g.planes, pool_grad_range, &j);
    else
        pool_grad_range(&j, 0, j.g.planes);
}

/* ---- global pools -----------------------------------------------------------------------------
 */

static cs_status global_init(cs_node *n, const cs_attrs *a, cs_error *err)
{
    return CS_OK;
}

static cs_status global_shape(cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                              cs_error *err)
{
    const cs_tensor *x = in[0];
    if (!x) return cs_node_fail(err, CS_ERR_INVALID, n, "missing input X");
    if (x->type != CS_F32)
        return cs_node_fail(err, CS_ERR_UNSUPPORTED, n, "input X must be float32");
    if (x->ndim < 3) {
        char b[96];
        return cs_node_fail(err, CS_ERR_INVALID, n,
                            "input X (%s) must have rank >= 3 (N x C x spatial...)",
                            cs_shape_str(x, b, sizeof b));
    }
    int64_t dims[CS_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) dims[i] = i < 2 ? x->dims[i] : 1;
    cs_tensor_set_shape(out[0], CS_F32, x->ndim, dims);
    return CS_OK;
}

typedef struct global_job {
    const float *x;
    float *y;
    int64_t size; /* elements per plane */
    bool max;
} global_job;

/* Sum and max with 8 partial results: vectorizes (a plain float reduction cannot be
 * reordered) and rounds less over large planes. */
static float plane_sum(const float *x, int64_t n)
{
    float acc[8] = {0}, s = 0.f;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) acc[k] += x[i + k];
    for (; i < n; i++) s += x[i];
    for (int k = 0; k < 8; k++) s += acc[k];
    return s;
}

static float plane_max(const float *x, int64_t n)
{
    float acc[8], m = -INFINITY;
    for (int k = 0; k < 8; k++) acc[k] = -INFINITY;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) acc[k] = MAXF(x[i + k], acc[k]);
    for (; i < n; i++) m = MAXF(x[i], m);
    for (int k = 0; k < 8; k++) m = MAXF(acc[k], m);
    return m;
}

static void global_range(void *ctx, int64_t b, int64_t e)
{
    const global_job *j = ctx;
    for (int64_t p = b; p < e; p++) {
        const float *x = j->x + p * j->size;
        if (j->max)
            j->y[p] = plane_max(x, j->size);
        else
            j->y[p] = j->size > 0 ? plane_sum(x, j->size) / (float)j->size : 0.f;
    }
}

static void global_forward(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                           const cs_exec *ex)
{
    const cs_tensor *x = in[0];
    int64_t planes = x->dims[0] * x->dims[1];
    global_job j = {x->data, out[0]->data, planes ? x->numel / planes : 0,
                    n->op == CS_OP_GLOBAL_MAXPOOL};
    if (x->numel >= POOL_PAR_MIN)
        cs_parallel_for(ex, planes, global_range, &j);
    else
        global_range(&j, 0, planes);
}

typedef struct global_grad_job {
    const float *x, *gy;
    float *gx;
    int64_t size;
    bool max;
} global_grad_job;

static void global_grad_range(void *ctx, int64_t b, int64_t e)
{
    const global_grad_job *j = ctx;
    for (int64_t p = b; p < e; p++) {
        const float *x = j->x + p * j->size;
        float *gx = j->gx + p * j->size;
        if (j->max) {
            /* The first maximum, as PyTorch: the forward's value, found again. */
            const float m = plane_max(x, j->size);
            int64_t i = 0;
            while (i < j->size - 1 && !(x[i] == m)) i++;
            gx[i] += j->gy[p];
        } else {
            const float v = j->gy[p] / (float)j->size;
            for (int64_t i = 0; i < j->size; i++) gx[i] += v;
        }
    }
}

static void global_backward(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                            cs_tensor *const *gout, cs_tensor *const *gin, const cs_exec *ex)
{
    const cs_tensor *x = in[0];
    if (!gout[0] || !gin[0] || x->numel == 0) return;
    int64_t planes = x->dims[0] * x->dims[1];
    global_grad_job j = {x->data, gout[0]->data, gin[0]->data, x->numel / planes,
                         n->op == CS_OP_GLOBAL_MAXPOOL};
    if (x->numel >= POOL_PAR_MIN)
        cs_parallel_for(ex, planes, global_grad_range, &j);
    else
        global_grad_range(&j, 0, planes);
}

const cs_op_def cs_def_maxpool = {.onnx_name = "MaxPool",
                                  .min_in = 1,
                                  .max_in = 1,
                                  .min_out = 1,
                                  .max_out = 2,
                                  .init = maxpool_init,
                                  .shape = pool_shape,
                                  .forward = pool_forward,
                                  .backward = pool_backward};

const cs_op_def cs_def_avgpool = {.onnx_name = "AveragePool",
                                  .min_in = 1,
                                  .max_in = 1,
                                  .min_out = 1,
                                  .max_out = 1,
                                  .init = avgpool_init,
                                  .shape = pool_shape,
                                  .forward = pool_forward,
                                  .backward = pool_backward};

const cs_op_def cs_def_global_avgpool = {.onnx_name = "GlobalAveragePool",
                                         .min_in = 1,
                                         .max_in = 1,
                                         .min_out = 1,
                                         .max_out = 1,
                                         .init = global_init,
                                         .shape = global_shape,
                                         .forward = global_forward,
                                         .backward = global_backward};

const cs_op_def cs_def_global_maxpool = {.onnx_name = "GlobalMaxPool",
                                         .min_in = 1,
                                         .max_in = 1,
                                         .min_out = 1,
                                         .max_out = 1,
                                         .init = global_init,
                                         .shape = global_shape,
                                         .forward = global_forward,
                                         .backward = global_backward};
