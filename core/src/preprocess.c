/* Preprocessing: frames to model tensors, and back (camstream/preprocess.h).
 *
 * Per output row: a vertical pass straight over the 8-bit source rows it needs (contiguous
 * vector loads, each sample converted to float once per tap) into one float row; a horizontal
 * pass over that row with the same number of taps for every output pixel (zero-padded: no
 * per-pixel trip counts), a 4-lane vector per packed pixel and four output pixels per step
 * (independent accumulation chains); then one colour-conversion / normalization step per output
 * pixel (a multiply and an add per channel, or a C×C matrix for channel whitening), branch-free
 * for packed colour with a per-channel affine normalization. The arithmetic is that of the
 * reference (vertical, then horizontal, taps in order, fused multiply-adds where the CPU has
 * them; the zero pads add exact zeros), so
 * results are bit-identical to it, and output rows are independent, so any split over threads
 * gives the same tensor. Taps and buffers live in the context and are rebuilt only when the
 * frame geometry changes. */
#include "camstream/preprocess.h"

#include "camstream/formats.h"
#include "graph.h"
#include "threads.h"

#include <errno.h>
#if defined(__AVX2__) || defined(__FMA__)
#include <immintrin.h>
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- options ----------------------------------------------------------------------------- */

static const char *const preset_names[] = {"imagenet", "caffe", "tf", "none"};

int cs_pp_preset(const char *name, cs_pp_opts *o)
{
    cs_resize_mode keep = o->resize;
    cs_pp_opts p = {.scale = CS_SCALE_01, .mean = {0, 0, 0}, .std = {1, 1, 1}, .bgr = 0};
    if (!name) return -1;
    if (strcmp(name, "imagenet") == 0) {
        const float m[3] = {0.485f, 0.456f, 0.406f}, s[3] = {0.229f, 0.224f, 0.225f};
        memcpy(p.mean, m, sizeof m);
        memcpy(p.std, s, sizeof s);
    } else if (strcmp(name, "caffe") == 0) {
        const float m[3] = {103.939f, 116.779f, 123.68f}; /* B, G, R */
        p.scale = CS_SCALE_255;
        p.bgr = 1;
        memcpy(p.mean, m, sizeof m);
    } else if (strcmp(name, "tf") == 0) {
        p.scale = CS_SCALE_11;
    } else if (strcmp(name, "none") != 0) {
        return -1;
    }
    *o = p;
    o->resize = keep;
    return 0;
}

const char *cs_pp_preset_of(const cs_pp_opts *o)
{
    for (int i = 0; i < 4; i++) {
        cs_pp_opts p = {.resize = o->resize};
        cs_pp_preset(preset_names[i], &p);
        if (p.scale == o->scale && p.bgr == o->bgr && memcmp(p.mean, o->mean, sizeof p.mean) == 0 &&
            memcmp(p.std, o->std, sizeof p.std) == 0)
            return preset_names[i];
    }
    return NULL;
}

int cs_pp_parse_resize(const char *s, cs_resize_mode *m)
{
    if (!s) return -1;
    if (strcmp(s, "stretch") == 0)
        *m = CS_RESIZE_STRETCH;
    else if (strcmp(s, "crop") == 0)
        *m = CS_RESIZE_CROP;
    else if (strcmp(s, "letterbox") == 0)
        *m = CS_RESIZE_LETTERBOX;
    else
        return -1;
    return 0;
}

const char *cs_pp_resize_name(cs_resize_mode m)
{
    return m == CS_RESIZE_CROP ? "crop" : m == CS_RESIZE_LETTERBOX ? "letterbox" : "stretch";
}

int cs_pp_parse_scale(const char *s, cs_scale *sc)
{
    if (!s) return -1;
    if (strcmp(s, "01") == 0)
        *sc = CS_SCALE_01;
    else if (strcmp(s, "11") == 0)
        *sc = CS_SCALE_11;
    else if (strcmp(s, "255") == 0)
        *sc = CS_SCALE_255;
    else
        return -1;
    return 0;
}

const char *cs_pp_scale_name(cs_scale s)
{
    return s == CS_SCALE_11 ? "11" : s == CS_SCALE_255 ? "255" : "01";
}

int cs_pp_parse_order(const char *s, int *bgr)
{
    if (!s) return -1;
    if (strcmp(s, "rgb") == 0)
        *bgr = 0;
    else if (strcmp(s, "bgr") == 0)
        *bgr = 1;
    else
        return -1;
    return 0;
}

int cs_pp_parse_triplet(const char *s, float v[3])
{
    if (!s) return -1;
    const char *p = s;
    for (int i = 0; i < 3; i++) {
        char *end;
        errno = 0;
        while (*p == ' ' || *p == '\t') p++;
        double d = strtod(p, &end);
        if (end == p || errno || !isfinite(d)) return -1;
        v[i] = (float)d;
        p = end;
        while (*p == ' ' || *p == '\t') p++;
        if (i < 2) {
            if (*p == ',' || *p == ';')
                p++;
            else if (p == end)
                return -1; /* no separator at all */
        }
    }
    return *p ? -1 : 0;
}

/* ---- geometry ------------------------------------------------------------------------------- */

void cs_pp_geometry(int iw, int ih, int W, int H, cs_resize_mode m, cs_pp_geom *g)
{
    memset(g, 0, sizeof *g);
    g->iw = iw, g->ih = ih, g->W = W, g->H = H;
    g->u1 = W, g->v1 = H;
    double rx = (double)iw / W, ry = (double)ih / H;
    if (m == CS_RESIZE_CROP) {
        double s = rx < ry ? rx : ry;
        g->sx = g->sy = s;
        g->ox = (iw - W * s) / 2;
        g->oy = (ih - H * s) / 2;
    } else if (m == CS_RESIZE_LETTERBOX) {
        double s = rx > ry ? rx : ry;
        long nw = lround(iw / s), nh = lround(ih / s);
        nw = nw < 1 ? 1 : nw > W ? W : nw;
        nh = nh < 1 ? 1 : nh > H ? H : nh;
        g->u0 = (int)(W - nw) / 2, g->v0 = (int)(H - nh) / 2;
        g->u1 = g->u0 + (int)nw, g->v1 = g->v0 + (int)nh;
        g->sx = (double)iw / nw, g->sy = (double)ih / nh;
    } else {
        g->sx = rx, g->sy = ry;
    }
}

static double clampd(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

void cs_pp_point_to_image(const cs_pp_geom *g, double u, double v, double *x, double *y)
{
    *x = g->ox + (u - g->u0) * g->sx;
    *y = g->oy + (v - g->v0) * g->sy;
}

void cs_pp_rect_to_image(const cs_pp_geom *g, double u0, double v0, double u1, double v1,
                         double out[4])
{
    out[0] = clampd(g->ox + (u0 - g->u0) * g->sx, 0, g->iw);
    out[1] = clampd(g->oy + (v0 - g->v0) * g->sy, 0, g->ih);
    out[2] = clampd(g->ox + (u1 - g->u0) * g->sx, 0, g->iw);
    out[3] = clampd(g->oy + (v1 - g->v0) * g->sy, 0, g->ih);
}

/* ---- resampling taps ------------------------------------------------------------------------ */

/* Taps of one axis: output i reads source [first, first + n) with weights w[i·maxn ...]. */
typedef struct {
    int *first, *n;
    float *w;
    int maxn, len;
} axis_taps;

static void axis_free(axis_taps *a)
{
    free(a->first);
    free(a->n);
    free(a->w);
    memset(a, 0, sizeof *a);
}

/* Output pixel i is centred at source coordinate c = origin + (i + 0.5)·step. A triangle of
 * half-width max(step, 1) over source pixel centres, renormalized at the edges; centres outside
 * [0, in_len] get no taps (filled by the caller). Zero weights at both ends are dropped. */
static int axis_build(axis_taps *a, int in_len, int out_len, double origin, double step)
{
    double support = step > 1 ? step : 1;
    a->maxn = (int)ceil(2 * support) + 2;
    a->len = out_len;
    a->first = malloc(sizeof(int) * (size_t)out_len);
    a->n = malloc(sizeof(int) * (size_t)out_len);
    a->w = malloc(sizeof(float) * (size_t)out_len * (size_t)a->maxn);
    if (!a->first || !a->n || !a->w) {
        axis_free(a);
        return -1;
    }
    for (int i = 0; i < out_len; i++) {
        double c = origin + (i + 0.5) * step;
        float *w = a->w + (size_t)i * a->maxn;
        a->first[i] = 0;
        a->n[i] = 0;
        if (!(c >= 0 && c <= in_len)) continue;
        int lo = (int)floor(c - support - 0.5), hi = (int)ceil(c + support - 0.5);
        if (lo < 0) lo = 0;
        if (hi > in_len - 1) hi = in_len - 1;
        if (hi - lo + 1 > a->maxn) hi = lo + a->maxn - 1;
        double sum = 0;
        for (int j = lo; j <= hi; j++) {
            double t = 1 - fabs(j + 0.5 - c) / support;
            w[j - lo] = (float)(t > 0 ? t : 0);
            sum += w[j - lo];
        }
        if (sum <= 0) continue;
        for (int j = lo; j <= hi; j++) w[j - lo] = (float)(w[j - lo] / sum);
        int s = 0, e = hi - lo + 1;
        while (s < e && w[s] == 0) s++;
        while (e > s && w[e - 1] == 0) e--;
        if (s > 0) memmove(w, w + s, sizeof(float) * (size_t)(e - s));
        a->first[i] = lo + s;
        a->n[i] = e - s;
    }
    return 0;
}

/* Gives every output the same number of taps (the largest), zero-padded, so that a pass runs a
 * fixed trip count per pixel: an output keeps its weights, shifted so that its window
 * [first, first + n) stays inside [0, in_len). Outputs with no taps get zero weights. */
static void axis_uniform(axis_taps *a, int in_len)
{
    int nt = 0;
    for (int i = 0; i < a->len; i++)
        if (a->n[i] > nt) nt = a->n[i];
    if (nt > in_len) nt = in_len; /* cannot happen: taps lie inside the source */
    for (int i = 0; i < a->len; i++) {
        float *w = a->w + (size_t)i * a->maxn;
        int n = a->n[i], first = a->first[i];
        if (!n) first = 0;
        int nf = first + nt > in_len ? in_len - nt : first, sh = first - nf;
        memmove(w + sh, w, sizeof(float) * (size_t)n); /* sh + n <= nt <= maxn */
        for (int k = 0; k < sh; k++) w[k] = 0;
        for (int k = sh + n; k < nt; k++) w[k] = 0;
        a->first[i] = nf;
        a->n[i] = nt;
    }
}

/* Source rows [lo, hi] the taps read (hi < lo when none). */
static void axis_span(const axis_taps *a, int *lo, int *hi)
{
    *lo = INT32_MAX, *hi = -1;
    for (int i = 0; i < a->len; i++) {
        if (!a->n[i]) continue;
        if (a->first[i] < *lo) *lo = a->first[i];
        if (a->first[i] + a->n[i] - 1 > *hi) *hi = a->first[i] + a->n[i] - 1;
    }
}

/* Generic separable resampling of an interleaved sw×sh×nc source (8-bit s8 or float sf) into
 * dw×dh×nc floats: output (x, y) is centred at source (ox + (x+0.5)·sx, oy + (y+0.5)·sy).
 * Used off the per-frame path (maps, crops, mean images). */
static int resample(const uint8_t *s8, const float *sf, int sw, int sh, int nc, double ox,
                    double oy, double sx, double sy, float *dst, int dw, int dh, float fill)
{
    axis_taps ax = {0}, ay = {0};
    if (axis_build(&ax, sw, dw, ox, sx) || axis_build(&ay, sh, dh, oy, sy)) {
        axis_free(&ax);
        axis_free(&ay);
        return -1;
    }
    int ylo, yhi;
    axis_span(&ay, &ylo, &yhi);
    float *tmp = NULL;
    if (yhi >= ylo) {
        tmp = malloc(sizeof(float) * (size_t)(yhi - ylo + 1) * dw * nc);
        if (!tmp) {
            axis_free(&ax);
            axis_free(&ay);
            return -1;
        }
        for (int r = ylo; r <= yhi; r++) {
            float *trow = tmp + (size_t)(r - ylo) * dw * nc;
            for (int x = 0; x < dw; x++) {
                const float *w = ax.w + (size_t)x * ax.maxn;
                for (int c = 0; c < nc; c++) {
                    float acc = 0;
                    for (int k = 0; k < ax.n[x]; k++) {
                        size_t at = ((size_t)r * sw + ax.first[x] + k) * nc + c;
                        acc += w[k] * (s8 ? (float)s8[at] : sf[at]);
                    }
                    trow[(size_t)x * nc + c] = acc;
                }
            }
        }
    }
    for (int y = 0; y < dh; y++) {
        const float *w = ay.w + (size_t)y * ay.maxn;
        for (int x = 0; x < dw; x++) {
            float *o = dst + ((size_t)y * dw + x) * nc;
            if (!ay.n[y] || !ax.n[x]) {
                for (int c = 0; c < nc; c++) o[c] = fill;
                continue;
            }
            for (int c = 0; c < nc; c++) {
                float acc = 0;
                for (int k = 0; k < ay.n[y]; k++)
                    acc += w[k] * tmp[((size_t)(ay.first[y] + k - ylo) * dw + x) * nc + c];
                o[c] = acc;
            }
        }
    }
    free(tmp);
    axis_free(&ax);
    axis_free(&ay);
    return 0;
}

/* ---- the context ---------------------------------------------------------------------------- */

/* The buffers of one band of output rows: with threads, the pool's threads claim the bands
 * one at a time (output rows are computed independently, so the split does not change them). */
typedef struct {
    float *vrow, *vrowc; /* vertical pass: one row of source samples (luma/packed, chroma) */
    float *acc, *accc;   /* horizontal pass: one output row (nw·nc floats; nw U, V pairs) */
} pp_band;

typedef enum { NORM_AFFINE, NORM_MEAN_IMAGE, NORM_CHANNEL_MATRIX, NORM_PATCH } norm_kind;

struct cs_pp {
    cs_pp_opts o;
    int C, H, W;
    norm_kind norm;
    /* x_c = v_src(c)·mul[c] + add[c], v the resampled 8-bit-domain value of the source channel
     * src[c] (R = 0, G = 1, B = 2); for C = 1 v is luma. */
    float mul[3], add[3];
    int src[3];
    /* NORM_MEAN_IMAGE: add plane per channel (H×W each): add[c] − μ(c,y,x)·mul_std[c]. */
    float *addimg;
    /* NORM_CHANNEL_MATRIX: x = M·v + off (M already holds the scale and the source order). */
    float M[9], off[3];
    /* NORM_PATCH: x_patch = Wp·(s − μ), s the scaled values in model order (mul/add hold the
     * scale only). */
    int patch, D;
    float *Wp, *mu, *vin, *vout;

    /* Geometry cache. */
    int have_geom;
    cs_pixfmt fmt;
    int fw, fh;
    cs_pp_geom g;
    int nw, nh;         /* the part of the model input that shows the frame */
    axis_taps ax, ay;   /* luma / packed */
    axis_taps axc, ayc; /* chroma (I420, NV12) */
    int xlo, xhi;       /* source columns the horizontal taps read (luma/packed) */
    int xloc, xhic;     /* and chroma */
    pp_band *band;      /* nband sets of row buffers */
    int nband;

    /* Threads (cs_pp_set_threads): a pool whose workers sleep between frames. */
    int threads;
    cs_pool *pool;
};

const cs_pp_opts *cs_pp_get_opts(const cs_pp *pp)
{
    return &pp->o;
}

static void geom_free(cs_pp *pp)
{
    axis_free(&pp->ax);
    axis_free(&pp->ay);
    axis_free(&pp->axc);
    axis_free(&pp->ayc);
    for (int b = 0; b < pp->nband; b++) {
        pp_band *bd = &pp->band[b];
        free(bd->vrow);
        free(bd->vrowc);
        free(bd->acc);
        free(bd->accc);
    }
    free(pp->band);
    pp->band = NULL;
    pp->nband = 0;
    pp->have_geom = 0;
}

void cs_pp_destroy(cs_pp **ppp)
{
    if (!ppp || !*ppp) return;
    cs_pp *pp = *ppp;
    geom_free(pp);
    cs_pool_destroy(&pp->pool);
    free(pp->addimg);
    free(pp->Wp);
    free(pp->mu);
    free(pp->vin);
    free(pp->vout);
    free(pp);
    *ppp = NULL;
}

int cs_pp_set_threads(cs_pp *pp, int threads)
{
    if (threads <= 0) threads = cs_cpu_count();
    if (threads == pp->threads) return 0;
    geom_free(pp); /* the bands follow the thread count */
    cs_pool_destroy(&pp->pool);
    pp->threads = 1;
    if (threads > 1) {
        /* Workers sleep right after each frame: the engine's pool runs next. */
        pp->pool = cs_pool_new_spin(threads, 0);
        if (!pp->pool) return -1;
    }
    pp->threads = threads;
    return 0;
}

int cs_pp_threads(const cs_pp *pp)
{
    return cs_pool_threads(pp->pool);
}

/* s = v·k + b for the scale. */
static void scale_coeffs(cs_scale s, float *k, float *b)
{
    if (s == CS_SCALE_01)
        *k = 1.0f / 255.0f, *b = 0.0f;
    else if (s == CS_SCALE_11)
        *k = 1.0f / 127.5f, *b = -1.0f;
    else
        *k = 1.0f, *b = 0.0f;
}

cs_pp *cs_pp_new(const cs_pp_opts *o, const cs_statistics *st, int C, int H, int W, cs_error *err)
{
    if (C != 1 && C != 3) {
        cs_fail(err, CS_ERR_INVALID,
                "the model wants %d input channels; frames give 1 (gray) or 3 (colour)", C);
        return NULL;
    }
    if (H < 1 || W < 1 || H > 16384 || W > 16384) {
        cs_fail(err, CS_ERR_INVALID, "model input size %dx%d is out of range", W, H);
        return NULL;
    }
    if (st && st->channels != C) {
        cs_fail(err, CS_ERR_INVALID, "%s: statistics for %d channels, the model takes %d",
                st->path ? st->path : "statistics", st->channels, C);
        return NULL;
    }
    cs_pp *pp = calloc(1, sizeof *pp);
    if (!pp) {
        cs_fail(err, CS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    pp->o = *o;
    pp->C = C, pp->H = H, pp->W = W;
    pp->threads = 1;
    float mean[3], std[3];
    memcpy(mean, o->mean, sizeof mean);
    memcpy(std, o->std, sizeof std);
    pp->norm = NORM_AFFINE;
    if (st) {
        pp->o.scale = st->scale;
        pp->o.bgr = st->bgr;
        for (int c = 0; c < 3; c++) mean[c] = 0, std[c] = 1;
        if (st->kind == CS_STATS_MEAN_STD || st->kind == CS_STATS_MEAN_IMAGE) {
            for (int c = 0; c < C; c++) {
                if (st->kind == CS_STATS_MEAN_STD) mean[c] = st->mean[c];
                if (st->std) std[c] = st->std[c];
            }
        }
        if (st->kind == CS_STATS_MEAN_IMAGE) pp->norm = NORM_MEAN_IMAGE;
        if (st->kind == CS_STATS_PCA || st->kind == CS_STATS_ZCA)
            pp->norm = st->feature == CS_FEATURE_PATCH ? NORM_PATCH : NORM_CHANNEL_MATRIX;
        /* The options' mean/std describe what the tensor holds now: 0 and 1 after whitening. */
        for (int c = 0; c < 3; c++) pp->o.mean[c] = mean[c], pp->o.std[c] = std[c];
    }
    for (int c = 0; c < C; c++)
        if (!(std[c] != 0.0f) || !isfinite(std[c]) || !isfinite(mean[c])) {
            cs_fail(err, CS_ERR_INVALID, "std of channel %d is %g; must be finite and non-zero", c,
                    (double)std[c]);
            cs_pp_destroy(&pp);
            return NULL;
        }
    float k, b;
    scale_coeffs(pp->o.scale, &k, &b);
    for (int c = 0; c < 3; c++) {
        int cc = c < C ? c : 0;
        pp->src[c] = C == 1 ? 0 : pp->o.bgr ? 2 - c : c;
        pp->mul[c] = k / std[cc];
        pp->add[c] = (b - mean[cc]) / std[cc];
    }
    if (pp->norm == NORM_MEAN_IMAGE) {
        size_t plane = (size_t)H * W;
        pp->addimg = malloc(sizeof(float) * plane * C);
        if (!pp->addimg) goto nomem;
        float *mimg = pp->addimg;
        if (st->width == W && st->height == H) {
            memcpy(mimg, st->mean_image, sizeof(float) * plane * C);
        } else {
            /* Resample once: interleave, resample, de-interleave. */
            size_t sp = (size_t)st->width * st->height;
            float *il = malloc(sizeof(float) * sp * C), *ol = malloc(sizeof(float) * plane * C);
            int bad = !il || !ol;
            if (!bad) {
                for (size_t i = 0; i < sp; i++)
                    for (int c = 0; c < C; c++) il[i * C + c] = st->mean_image[c * sp + i];
                bad = resample(NULL, il, st->width, st->height, C, 0, 0, (double)st->width / W,
                               (double)st->height / H, ol, W, H, 0);
            }
            if (!bad)
                for (size_t i = 0; i < plane; i++)
                    for (int c = 0; c < C; c++) mimg[c * plane + i] = ol[i * C + c];
            free(il);
            free(ol);
            if (bad) goto nomem;
        }
        for (int c = 0; c < C; c++)
            for (size_t i = 0; i < plane; i++)
                mimg[c * plane + i] = pp->add[c] - mimg[c * plane + i] / std[c];
    } else if (pp->norm == NORM_CHANNEL_MATRIX) {
        /* x = W·(v·k + b − μ): M[i][j] = W[i][src j]·k... with the source order folded in:
         * model channel j reads source src[j]. */
        const float *Wm = st->matrix;
        for (int i = 0; i < C; i++) {
            float o_i = 0;
            for (int j = 0; j < C; j++) {
                pp->M[i * 3 + j] = Wm[i * C + j] * k;
                o_i += Wm[i * C + j] * (b - st->mean[j]);
            }
            pp->off[i] = o_i;
        }
    } else if (pp->norm == NORM_PATCH) {
        int p = st->patch, D = st->dim;
        if (H % p || W % p) {
            cs_fail(err, CS_ERR_INVALID, "%s: %dx%d patches do not tile the model input %dx%d",
                    st->path ? st->path : "statistics", p, p, W, H);
            cs_pp_destroy(&pp);
            return NULL;
        }
        pp->patch = p, pp->D = D;
        pp->Wp = malloc(sizeof(float) * (size_t)D * D);
        pp->mu = malloc(sizeof(float) * (size_t)D);
        pp->vin = malloc(sizeof(float) * (size_t)D);
        pp->vout = malloc(sizeof(float) * (size_t)D);
        if (!pp->Wp || !pp->mu || !pp->vin || !pp->vout) goto nomem;
        memcpy(pp->Wp, st->matrix, sizeof(float) * (size_t)D * D);
        memcpy(pp->mu, st->mean, sizeof(float) * (size_t)D);
        for (int c = 0; c < 3; c++) pp->mul[c] = k, pp->add[c] = b;
    }
    return pp;
nomem:
    cs_fail(err, CS_ERR_NOMEM, "out of memory preparing preprocessing for %dx%d", W, H);
    cs_pp_destroy(&pp);
    return NULL;
}

static const char *const pixfmt_names[CS_PIX_COUNT] = {"RGB",  "BGR",   "RGBA", "BGRA", "RGBx",
                                                       "BGRx", "GRAY8", "I420", "NV12"};

const char *cs_pixfmt_name(cs_pixfmt f)
{
    return (unsigned)f < CS_PIX_COUNT ? pixfmt_names[f] : "?";
}

static int is_yuv(cs_pixfmt f)
{
    return f == CS_PIX_I420 || f == CS_PIX_NV12;
}

static int packed_bpp(cs_pixfmt f)
{
    return f == CS_PIX_RGB || f == CS_PIX_BGR ? 3 : f == CS_PIX_GRAY8 ? 1 : 4;
}

/* Floats after each buffered row: the packed horizontal pass loads and stores whole 4-float
 * vectors, the last ones reaching past the row. */
#define ROW_PAD 8

/* Output rows of the smallest band, and bands per thread. */
#define MIN_BAND_ROWS 8
#define BANDS_PER_THREAD 4

/* Source columns [lo, hi] that an axis reads (hi < lo when none). */
static void axis_cols(const axis_taps *a, int *lo, int *hi)
{
    axis_span(a, lo, hi);
    if (*hi < *lo) *lo = 0, *hi = -1;
}

static int geom_build(cs_pp *pp, const cs_frame *f)
{
    geom_free(pp);
    cs_pp_geometry(f->width, f->height, pp->W, pp->H, pp->o.resize, &pp->g);
    const cs_pp_geom *g = &pp->g;
    int nw = pp->nw = g->u1 - g->u0, nh = pp->nh = g->v1 - g->v0;
    int nc = f->format == CS_PIX_GRAY8 || is_yuv(f->format) ? 1 : 3;
    if (axis_build(&pp->ax, f->width, nw, g->ox, g->sx) ||
        axis_build(&pp->ay, f->height, nh, g->oy, g->sy))
        return -1;
    axis_uniform(&pp->ax, f->width);
    axis_cols(&pp->ax, &pp->xlo, &pp->xhi);
    size_t rowf = (size_t)f->width * (is_yuv(f->format) ? 1 : packed_bpp(f->format));
    size_t rowfc = 0;
    if (is_yuv(f->format)) {
        int cw = (f->width + 1) / 2, ch = (f->height + 1) / 2;
        if (axis_build(&pp->axc, cw, nw, g->ox / 2, g->sx / 2) ||
            axis_build(&pp->ayc, ch, nh, g->oy / 2, g->sy / 2))
            return -1;
        axis_uniform(&pp->axc, cw);
        axis_cols(&pp->axc, &pp->xloc, &pp->xhic);
        rowfc = (size_t)cw * 2; /* U and V, interleaved */
    }
    /* BANDS_PER_THREAD bands per thread, claimed one at a time (a worker that wakes late
     * takes fewer), of at least MIN_BAND_ROWS output rows each. */
    int nb = pp->pool ? cs_pool_threads(pp->pool) * BANDS_PER_THREAD : 1;
    if (nb > nh / MIN_BAND_ROWS) nb = nh / MIN_BAND_ROWS;
    if (nb < 1) nb = 1;
    if (!(pp->band = calloc((size_t)nb, sizeof *pp->band))) return -1;
    pp->nband = nb;
    for (int b = 0; b < nb; b++) {
        pp_band *bd = &pp->band[b];
        /* Zeroed: the pads are read (into lanes that are never used) but never written. */
        if (!(bd->vrow = calloc(rowf + ROW_PAD, sizeof(float)))) return -1;
        if (!(bd->acc = calloc((size_t)nw * nc + ROW_PAD, sizeof(float)))) return -1;
        if (rowfc) {
            if (!(bd->vrowc = calloc(rowfc + ROW_PAD, sizeof(float)))) return -1;
            if (!(bd->accc = calloc((size_t)nw * 2, sizeof(float)))) return -1;
        }
    }
    pp->fmt = f->format, pp->fw = f->width, pp->fh = f->height;
    pp->have_geom = 1;
    return 0;
}

/* Vertical pass first, on the 8-bit samples as they lie in memory: output row y's source rows
 * into one float row (the columns [lo, hi) in samples), eight samples at a time held in a
 * register over all taps. Then the horizontal pass on that row. Filtering the 8-bit rows first
 * converts each source sample once and reads it once per tap, with contiguous vector loads
 * (a horizontal-first pass needs a gather per tap). */
typedef float v8f __attribute__((vector_size(32), aligned(4))); /* unaligned loads and stores */
typedef uint8_t v8b __attribute__((vector_size(8), aligned(1)));
typedef int32_t v8i __attribute__((vector_size(32)));

/* Eight bytes to eight floats (exact). GCC compiles a generic byte-to-float vector conversion
 * one sample at a time, hence the AVX2 zero-extension where there is one. */
static inline v8f u8_to_f(const uint8_t *p)
{
#ifdef __AVX2__
    __m128i b;
    memcpy(&b, p, 8); /* the upper 8 bytes are not used */
    __m256 f = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b));
    v8f r;
    memcpy(&r, &f, sizeof r);
    return r;
#else
    return __builtin_convertvector(__builtin_convertvector(*(const v8b *)p, v8i), v8f);
#endif
}

/* a + w·x (w a float, x and a vectors or floats), rounded once where the CPU has FMA: the
 * reference rounds the same way. */
#ifdef __FMA__
#define MADD8(w, x, a) ((v8f)_mm256_fmadd_ps(_mm256_set1_ps(w), (__m256)(x), (__m256)(a)))
#define MADD4(w, x, a) ((v4f)_mm_fmadd_ps(_mm_set1_ps(w), (__m128)(x), (__m128)(a)))
#define MADD1(w, x, a) fmaf(w, x, a)
#else
#define MADD8(w, x, a) ((a) + (w) * (x))
#define MADD4(w, x, a) ((a) + (w) * (x))
#define MADD1(w, x, a) ((a) + (w) * (x))
#endif

static inline void vpass_u8(const axis_taps *ay, int y, const uint8_t *plane, size_t stride, int lo,
                            int hi, float *restrict row)
{
    const float *w = ay->w + (size_t)y * ay->maxn;
    const int first = ay->first[y], n = ay->n[y];
    const uint8_t *t[64];
    const int nk = n < 64 ? n : 64; /* filters are at most a few taps; 64 is a guard */
    for (int k = 0; k < nk; k++) t[k] = plane + (size_t)(first + k) * stride;
    int i = lo;
    for (; i + 8 <= hi; i += 8) {
        v8f a = w[0] * u8_to_f(t[0] + i);
        for (int k = 1; k < nk; k++) a = MADD8(w[k], u8_to_f(t[k] + i), a);
        *(v8f *)(row + i) = a;
    }
    for (; i < hi; i++) {
        float a = w[0] * (float)t[0][i];
        for (int k = 1; k < nk; k++) a = MADD1(w[k], (float)t[k][i], a);
        row[i] = a;
    }
}

/* Four lanes per pixel: lane-wise arithmetic in the same order as the scalar reference. */
typedef float v4f __attribute__((vector_size(16)));
typedef float v4u __attribute__((vector_size(16), aligned(4))); /* unaligned loads and stores */
typedef int v4i __attribute__((vector_size(16)));

/* Where hpass_packed puts its pixels when the model takes packed colour with a per-channel
 * affine normalization (the direct path): model channel c = lane perm[c] of the filtered pixel
 * (source order) · mul[c] + add[c], straight into the three planes. */
typedef struct {
    v4i perm;
    v4f mul, add;
    float *o0, *o1, *o2;
} direct_out;

/* Packed colour (bpp 3 or 4 floats per pixel): every output pixel is a 4-lane vector of taps
 * over whole pixels (the fourth lane, alpha or the next pixel's first sample, is dropped), four
 * output pixels per step (independent accumulation chains). Stored as R, G, B into out, or, with
 * d, normalized and transposed into the model's planes (four pixels per store). */
static inline void hpass_packed(const axis_taps *ax, const float *row, int bpp, int bgr,
                                float *restrict out, const direct_out *d)
{
    const int nt = ax->len ? ax->n[0] : 0, mn = ax->maxn;
    const v4i order = bgr ? (v4i){2, 1, 0, 3} : (v4i){0, 1, 2, 3};
#define PX(p) (*(const v4u *)(row + (size_t)(p)*bpp))
    int x = 0;
    for (; x + 3 < ax->len; x += 4) {
        const float *w = ax->w + (size_t)x * mn;
        const int f0 = ax->first[x], f1 = ax->first[x + 1], f2 = ax->first[x + 2],
                  f3 = ax->first[x + 3];
        v4f a0 = {0, 0, 0, 0}, a1 = a0, a2 = a0, a3 = a0;
        for (int k = 0; k < nt; k++) {
            a0 = MADD4(w[k], PX(f0 + k), a0);
            a1 = MADD4(w[mn + k], PX(f1 + k), a1);
            a2 = MADD4(w[2 * mn + k], PX(f2 + k), a2);
            a3 = MADD4(w[3 * mn + k], PX(f3 + k), a3);
        }
        if (d) {
            /* Lanes are model channels after the normalization; a 4×3 transpose. */
            v4f n0 = __builtin_shuffle(a0, d->perm) * d->mul + d->add;
            v4f n1 = __builtin_shuffle(a1, d->perm) * d->mul + d->add;
            v4f n2 = __builtin_shuffle(a2, d->perm) * d->mul + d->add;
            v4f n3 = __builtin_shuffle(a3, d->perm) * d->mul + d->add;
            v4f lo01 = __builtin_shuffle(n0, n1, (v4i){0, 4, 1, 5});
            v4f lo23 = __builtin_shuffle(n2, n3, (v4i){0, 4, 1, 5});
            v4f hi01 = __builtin_shuffle(n0, n1, (v4i){2, 6, 3, 7});
            v4f hi23 = __builtin_shuffle(n2, n3, (v4i){2, 6, 3, 7});
            *(v4u *)(d->o0 + x) = __builtin_shuffle(lo01, lo23, (v4i){0, 1, 4, 5});
            *(v4u *)(d->o1 + x) = __builtin_shuffle(lo01, lo23, (v4i){2, 3, 6, 7});
            *(v4u *)(d->o2 + x) = __builtin_shuffle(hi01, hi23, (v4i){0, 1, 4, 5});
            continue;
        }
        /* Whole vectors, each overwriting the previous one's fourth lane (ROW_PAD). */
        float *o = out + 3 * x;
        *(v4u *)o = __builtin_shuffle(a0, order);
        *(v4u *)(o + 3) = __builtin_shuffle(a1, order);
        *(v4u *)(o + 6) = __builtin_shuffle(a2, order);
        *(v4u *)(o + 9) = __builtin_shuffle(a3, order);
    }
    for (; x < ax->len; x++) {
        const float *w = ax->w + (size_t)x * mn;
        const int f0 = ax->first[x];
        v4f a0 = {0, 0, 0, 0};
        for (int k = 0; k < nt; k++) a0 = MADD4(w[k], PX(f0 + k), a0);
        if (d) {
            v4f n = __builtin_shuffle(a0, d->perm) * d->mul + d->add;
            d->o0[x] = n[0], d->o1[x] = n[1], d->o2[x] = n[2];
        } else {
            *(v4u *)(out + 3 * x) = __builtin_shuffle(a0, order);
        }
    }
#undef PX
}

/* One channel at float step `step` (1 for Y/GRAY8, 2 for the interleaved U and V rows). */
static inline void hpass_plane(const axis_taps *ax, const float *row, int step, float *restrict out,
                               int ostep)
{
    const int nt = ax->len ? ax->n[0] : 0;
    int x = 0;
    for (; x + 1 < ax->len; x += 2) {
        const float *w = ax->w + (size_t)x * ax->maxn, *v = w + ax->maxn;
        const float *s = row + (size_t)ax->first[x] * step,
                    *t = row + (size_t)ax->first[x + 1] * step;
        float a = 0, a1 = 0;
        for (int k = 0; k < nt; k++, s += step, t += step) {
            a = MADD1(w[k], s[0], a);
            a1 = MADD1(v[k], t[0], a1);
        }
        out[(size_t)x * ostep] = a;
        out[(size_t)(x + 1) * ostep] = a1;
    }
    for (; x < ax->len; x++) {
        const float *w = ax->w + (size_t)x * ax->maxn;
        const float *s = row + (size_t)ax->first[x] * step;
        float a = 0;
        for (int k = 0; k < nt; k++, s += step) a = MADD1(w[k], s[0], a);
        out[(size_t)x * ostep] = a;
    }
}

static inline float clamp255(float v)
{
    return v < 0 ? 0 : v > 255 ? 255 : v;
}

typedef struct {
    float ys, yoff, cs; /* Y' = (Y − yoff)·ys, U' = (U − 128)·cs */
    float rv, gu, gv, bu;
} yuv_coeffs;

static yuv_coeffs yuv_setup(const cs_frame *f)
{
    double kr = f->matrix == CS_YUV_BT709 ? 0.2126 : 0.299;
    double kb = f->matrix == CS_YUV_BT709 ? 0.0722 : 0.114;
    double kg = 1 - kr - kb;
    yuv_coeffs c;
    c.ys = f->full_range ? 1.0f : (float)(255.0 / 219.0);
    c.yoff = f->full_range ? 0.0f : 16.0f;
    c.cs = f->full_range ? 1.0f : (float)(255.0 / 224.0);
    c.rv = (float)(2 * (1 - kr));
    c.bu = (float)(2 * (1 - kb));
    c.gu = (float)(2 * kb * (1 - kb) / kg);
    c.gv = (float)(2 * kr * (1 - kr) / kg);
    return c;
}

static int frame_check(const cs_frame *f, cs_error *err)
{
    if ((unsigned)f->format >= CS_PIX_COUNT)
        return cs_fail(err, CS_ERR_INVALID, "unknown pixel format %d", (int)f->format), -1;
    if (f->width < 1 || f->height < 1 || f->width > 32768 || f->height > 32768)
        return cs_fail(err, CS_ERR_INVALID, "frame size %dx%d is out of range", f->width,
                       f->height),
               -1;
    int planes = f->format == CS_PIX_I420 ? 3 : f->format == CS_PIX_NV12 ? 2 : 1;
    for (int i = 0; i < planes; i++) {
        int w = i == 0 ? f->width : (f->width + 1) / 2;
        int need = i == 0 && !is_yuv(f->format)         ? w * packed_bpp(f->format)
                   : f->format == CS_PIX_NV12 && i == 1 ? 2 * w
                                                        : w;
        if (!f->data[i] || f->stride[i] < need)
            return cs_fail(err, CS_ERR_INVALID,
                           "%s frame %dx%d: plane %d %s (stride %d, at least %d needed)",
                           cs_pixfmt_name(f->format), f->width, f->height, i,
                           f->data[i] ? "too narrow" : "missing", f->stride[i], need),
                   -1;
    }
    return 0;
}

/* Output rows [y0, y1) of the frame into out, with the band's buffers: per output row the
 * vertical pass into a float row, the horizontal pass into the row accumulator, then
 * conversion and normalization. */
static void run_band(const cs_pp *pp, const cs_frame *f, float *out, int y0, int y1,
                     const pp_band *bd)
{
    const cs_pp_geom *g = &pp->g;
    const int C = pp->C, H = pp->H, W = pp->W, nw = pp->nw;
    const size_t plane = (size_t)H * W;
    const cs_pixfmt fmt = f->format;
    const int yuv = is_yuv(fmt), gray = fmt == CS_PIX_GRAY8;
    const int bpp = yuv ? 1 : packed_bpp(fmt);
    const int bgr = fmt == CS_PIX_BGR || fmt == CS_PIX_BGRA || fmt == CS_PIX_BGRX;
    const int chroma = yuv && C == 3; /* a 1-channel model reads Y only */
    yuv_coeffs yc = yuv_setup(f);
    const float m0 = pp->mul[0], m1 = pp->mul[1], m2 = pp->mul[2];
    const float a0 = pp->add[0], a1 = pp->add[1], a2 = pp->add[2];
    const int s0 = pp->src[0], s1 = pp->src[1], s2 = pp->src[2];
    const norm_kind norm = pp->norm == NORM_PATCH ? NORM_AFFINE : pp->norm;
    /* Packed colour to a 3-channel affine model: no per-pixel choices at all. */
    const int direct = !yuv && !gray && C == 3 && norm == NORM_AFFINE;
    const int lo = pp->xlo * bpp, hi = (pp->xhi + 1) * bpp;
    /* Lane of model channel c in a filtered pixel: source channel src[c] (R = 0), in memory
     * order. */
    direct_out dout = {.perm = {bgr ? 2 - s0 : s0, bgr ? 2 - s1 : s1, bgr ? 2 - s2 : s2, 3},
                       .mul = {m0, m1, m2, 0},
                       .add = {a0, a1, a2, 0}};
    for (int y = y0; y < y1; y++) {
        const int v = g->v0 + y;
        const size_t rowat = (size_t)v * W + g->u0;
        float *o0 = out + rowat;
        float *o1 = C == 3 ? out + plane + rowat : o0, *o2 = C == 3 ? out + 2 * plane + rowat : o0;
        if (!pp->ay.n[y] || (chroma && !pp->ayc.n[y])) { /* outside the frame: cannot happen */
            for (int c = 0; c < C; c++)
                memset(out + c * plane + rowat, 0, sizeof(float) * (size_t)nw);
            continue;
        }
        vpass_u8(&pp->ay, y, f->data[0], (size_t)f->stride[0], lo, hi, bd->vrow);
        if (direct) {
            dout.o0 = o0, dout.o1 = o1, dout.o2 = o2;
            if (bpp == 3) /* constant strides: picked at compile time */
                hpass_packed(&pp->ax, bd->vrow, 3, bgr, NULL, &dout);
            else
                hpass_packed(&pp->ax, bd->vrow, 4, bgr, NULL, &dout);
            continue;
        }
        if (bpp == 1)
            hpass_plane(&pp->ax, bd->vrow, 1, bd->acc, 1);
        else if (bpp == 3)
            hpass_packed(&pp->ax, bd->vrow, 3, bgr, bd->acc, NULL);
        else
            hpass_packed(&pp->ax, bd->vrow, 4, bgr, bd->acc, NULL);
        if (chroma) {
            float *t = bd->vrowc;
            if (fmt == CS_PIX_NV12) {
                vpass_u8(&pp->ayc, y, f->data[1], (size_t)f->stride[1], 2 * pp->xloc,
                         2 * (pp->xhic + 1), t);
                hpass_plane(&pp->axc, t, 2, bd->accc, 2);
                hpass_plane(&pp->axc, t + 1, 2, bd->accc + 1, 2);
            } else {
                /* I420: U into the row's first half, V into its second. */
                const int cw = (f->width + 1) / 2;
                vpass_u8(&pp->ayc, y, f->data[1], (size_t)f->stride[1], pp->xloc, pp->xhic + 1, t);
                vpass_u8(&pp->ayc, y, f->data[2], (size_t)f->stride[2], pp->xloc, pp->xhic + 1,
                         t + cw);
                hpass_plane(&pp->axc, t, 1, bd->accc, 2);
                hpass_plane(&pp->axc, t + cw, 1, bd->accc + 1, 2);
            }
        }
        const float *acc = bd->acc, *accc = bd->accc;
        for (int x = 0; x < nw; x++) {
            float px[3];
            if (yuv) {
                float Y = (acc[x] - yc.yoff) * yc.ys;
                if (C == 1) {
                    px[0] = clamp255(Y);
                } else {
                    float U = (accc[2 * x] - 128.0f) * yc.cs,
                          V = (accc[2 * x + 1] - 128.0f) * yc.cs;
                    px[0] = clamp255(Y + yc.rv * V);
                    px[1] = clamp255(Y - yc.gu * U - yc.gv * V);
                    px[2] = clamp255(Y + yc.bu * U);
                }
            } else if (gray) {
                px[0] = px[1] = px[2] = acc[x];
            } else {
                const float *p = acc + 3 * x;
                if (C == 1) {
                    px[0] = 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];
                } else {
                    px[0] = p[0], px[1] = p[1], px[2] = p[2];
                }
            }
            if (C == 1) {
                float val = px[0] * m0 + a0;
                if (norm == NORM_MEAN_IMAGE)
                    val = px[0] * m0 + pp->addimg[rowat + x];
                else if (norm == NORM_CHANNEL_MATRIX)
                    val = pp->M[0] * px[0] + pp->off[0];
                o0[x] = val;
                continue;
            }
            float q0 = px[s0], q1 = px[s1], q2 = px[s2];
            if (norm == NORM_AFFINE) {
                o0[x] = q0 * m0 + a0;
                o1[x] = q1 * m1 + a1;
                o2[x] = q2 * m2 + a2;
            } else if (norm == NORM_MEAN_IMAGE) {
                const float *ai = pp->addimg + rowat + x;
                o0[x] = q0 * m0 + ai[0];
                o1[x] = q1 * m1 + ai[plane];
                o2[x] = q2 * m2 + ai[2 * plane];
            } else {
                const float *M = pp->M;
                o0[x] = M[0] * q0 + M[1] * q1 + M[2] * q2 + pp->off[0];
                o1[x] = M[3] * q0 + M[4] * q1 + M[5] * q2 + pp->off[1];
                o2[x] = M[6] * q0 + M[7] * q1 + M[8] * q2 + pp->off[2];
            }
        }
    }
}

typedef struct {
    const cs_pp *pp;
    const cs_frame *f;
    float *out;
} band_job;

/* Bands [b0, b1) of the output rows (one per part of cs_parallel_for_parts). */
static void run_bands(void *ctx, int64_t b0, int64_t b1)
{
    const band_job *j = ctx;
    const int nh = j->pp->nh, nb = j->pp->nband;
    for (int64_t b = b0; b < b1; b++)
        run_band(j->pp, j->f, j->out, (int)(b * nh / nb), (int)((b + 1) * nh / nb),
                 &j->pp->band[b]);
}

cs_status cs_pp_run(cs_pp *pp, const cs_frame *f, float *out, cs_pp_geom *gout, cs_error *err)
{
    if (frame_check(f, err)) return CS_ERR_INVALID;
    if (!pp->have_geom || pp->fmt != f->format || pp->fw != f->width || pp->fh != f->height) {
        if (geom_build(pp, f)) {
            geom_free(pp);
            return cs_fail(err, CS_ERR_NOMEM, "out of memory resizing %dx%d to %dx%d", f->width,
                           f->height, pp->W, pp->H);
        }
    }
    const cs_pp_geom *g = &pp->g;
    if (gout) *gout = *g;
    const int C = pp->C, H = pp->H, W = pp->W;
    const size_t plane = (size_t)H * W;

    /* Letterbox padding: 0 after normalization. */
    if (g->u0 > 0 || g->v0 > 0 || g->u1 < W || g->v1 < H)
        for (int c = 0; c < C; c++) {
            float *o = out + c * plane;
            for (int v = 0; v < H; v++) {
                if (v < g->v0 || v >= g->v1) {
                    memset(o + (size_t)v * W, 0, sizeof(float) * W);
                    continue;
                }
                for (int u = 0; u < g->u0; u++) o[(size_t)v * W + u] = 0;
                for (int u = g->u1; u < W; u++) o[(size_t)v * W + u] = 0;
            }
        }

    band_job job = {pp, f, out};
    cs_exec ex = {.threads = cs_pool_threads(pp->pool), .pool = pp->pool};
    if (pp->nband > 1)
        cs_parallel_for_parts(&ex, pp->nband, pp->nband, run_bands, &job);
    else
        run_bands(&job, 0, 1);

    if (pp->norm == NORM_PATCH) {
        /* out holds s (scaled values, model order) inside the frame, 0 in the padding: padding
         * takes the mean (so it centres to 0), each p×p patch is whitened, padding is zeroed. */
        const int p = pp->patch, D = pp->D;
        const int pad = g->u0 > 0 || g->v0 > 0 || g->u1 < W || g->v1 < H;
        for (int py = 0; py < H; py += p)
            for (int px0 = 0; px0 < W; px0 += p) {
                int i = 0;
                for (int c = 0; c < C; c++)
                    for (int dy = 0; dy < p; dy++)
                        for (int dx = 0; dx < p; dx++, i++) {
                            int v = py + dy, u = px0 + dx;
                            int inside = u >= g->u0 && u < g->u1 && v >= g->v0 && v < g->v1;
                            pp->vin[i] =
                                inside ? out[c * plane + (size_t)v * W + u] - pp->mu[i] : 0.0f;
                        }
                for (int r = 0; r < D; r++) {
                    const float *wr = pp->Wp + (size_t)r * D;
                    float a = 0;
                    for (int j = 0; j < D; j++) a += wr[j] * pp->vin[j];
                    pp->vout[r] = a;
                }
                i = 0;
                for (int c = 0; c < C; c++)
                    for (int dy = 0; dy < p; dy++)
                        for (int dx = 0; dx < p; dx++, i++) {
                            int v = py + dy, u = px0 + dx;
                            int inside =
                                !pad || (u >= g->u0 && u < g->u1 && v >= g->v0 && v < g->v1);
                            out[c * plane + (size_t)v * W + u] = inside ? pp->vout[i] : 0.0f;
                        }
            }
    }
    return CS_OK;
}

/* ---- back to the frame ------------------------------------------------------------------ */

static uint8_t to_u8(float v)
{
    if (!(v > 0)) return 0;
    if (v >= 255) return 255;
    return (uint8_t)(v + 0.5f);
}

void cs_pp_tensor_to_rgb(const float *x, int C, int H, int W, const cs_pp_opts *o, uint8_t *rgb)
{
    size_t plane = (size_t)H * W;
    int shown = C >= 3 ? 3 : 1;
    float lo = 0, hi = 0;
    if (!o) {
        lo = INFINITY, hi = -INFINITY;
        for (size_t i = 0; i < plane * shown; i++) {
            if (x[i] < lo) lo = x[i];
            if (x[i] > hi) hi = x[i];
        }
    }
    for (size_t i = 0; i < plane; i++) {
        float px[3];
        for (int c = 0; c < shown; c++) {
            float v = x[c * plane + i];
            if (!o) {
                px[c] = hi > lo ? (v - lo) / (hi - lo) * 255.0f : 0.0f;
                continue;
            }
            v = v * o->std[c] + o->mean[c];
            px[c] = o->scale == CS_SCALE_01   ? v * 255.0f
                    : o->scale == CS_SCALE_11 ? (v + 1.0f) * 127.5f
                                              : v;
        }
        if (shown == 1) px[1] = px[2] = px[0];
        int swap = o && o->bgr && shown == 3;
        for (int c = 0; c < 3; c++) rgb[3 * i + c] = to_u8(px[swap ? 2 - c : c]);
    }
}

int cs_pp_map_to_image(const float *map, int h, int w, const cs_pp_geom *g, float *out)
{
    /* Frame x -> model u = (x − ox)/sx + u0 -> map coordinate u·w/W. */
    double kx = (double)w / g->W, ky = (double)h / g->H;
    double origin_x = (g->u0 - g->ox / g->sx) * kx, origin_y = (g->v0 - g->oy / g->sy) * ky;
    return resample(NULL, map, w, h, 1, origin_x, origin_y, kx / g->sx, ky / g->sy, out, g->iw,
                    g->ih, NAN);
}

int cs_pp_resample_rgb8(const uint8_t *src, int sw, int sh, double x0, double y0, double x1,
                        double y1, uint8_t *dst, int dw, int dh, uint8_t fill)
{
    float *tmp = malloc(sizeof(float) * (size_t)dw * dh * 3);
    if (!tmp) return -1;
    if (resample(src, NULL, sw, sh, 3, x0, y0, (x1 - x0) / dw, (y1 - y0) / dh, tmp, dw, dh,
                 (float)fill)) {
        free(tmp);
        return -1;
    }
    for (size_t i = 0; i < (size_t)dw * dh * 3; i++) dst[i] = to_u8(tmp[i]);
    free(tmp);
    return 0;
}
