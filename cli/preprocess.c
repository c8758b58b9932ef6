/* Image preprocessing: resize, scale, normalize, channel order (preprocess.h). */
#include "preprocess.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pp_preset(const char *name, pp_opts *o)
{
    pp_resize_mode keep = o->resize;
    pp_opts p = {.scale = PP_SCALE_01, .mean = {0, 0, 0}, .std = {1, 1, 1}, .bgr = 0};
    if (strcmp(name, "imagenet") == 0) {
        const float m[3] = {0.485f, 0.456f, 0.406f}, s[3] = {0.229f, 0.224f, 0.225f};
        memcpy(p.mean, m, sizeof m);
        memcpy(p.std, s, sizeof s);
    } else if (strcmp(name, "caffe") == 0) {
        const float m[3] = {103.939f, 116.779f, 123.68f}; /* B, G, R */
        p.scale = PP_SCALE_255;
        p.bgr = 1;
        memcpy(p.mean, m, sizeof m);
    } else if (strcmp(name, "tf") == 0) {
        p.scale = PP_SCALE_11;
    } else if (strcmp(name, "none") != 0) {
        return -1;
    }
    *o = p;
    o->resize = keep;
    return 0;
}

int pp_parse_resize(const char *s, pp_resize_mode *m)
{
    if (strcmp(s, "stretch") == 0)
        *m = PP_STRETCH;
    else if (strcmp(s, "crop") == 0)
        *m = PP_CROP;
    else if (strcmp(s, "letterbox") == 0)
        *m = PP_LETTERBOX;
    else
        return -1;
    return 0;
}

const char *pp_resize_name(pp_resize_mode m)
{
    return m == PP_CROP ? "crop" : m == PP_LETTERBOX ? "letterbox" : "stretch";
}

int pp_parse_scale(const char *s, pp_scale *sc)
{
    if (strcmp(s, "01") == 0)
        *sc = PP_SCALE_01;
    else if (strcmp(s, "11") == 0)
        *sc = PP_SCALE_11;
    else if (strcmp(s, "255") == 0)
        *sc = PP_SCALE_255;
    else
        return -1;
    return 0;
}

const char *pp_scale_name(pp_scale s)
{
    return s == PP_SCALE_11 ? "11" : s == PP_SCALE_255 ? "255" : "01";
}

int pp_parse_triplet(const char *s, float v[3])
{
    const char *p = s;
    for (int i = 0; i < 3; i++) {
        char *end;
        errno = 0;
        double d = strtod(p, &end);
        if (end == p || errno || !isfinite(d)) return -1;
        v[i] = (float)d;
        p = end;
        if (i < 2) {
            if (*p != ',') return -1;
            p++;
        }
    }
    return *p ? -1 : 0;
}

/* ---- geometry ------------------------------------------------------------------------------- */

void pp_geometry(int iw, int ih, int W, int H, pp_resize_mode m, pp_geom *g)
{
    memset(g, 0, sizeof *g);
    g->iw = iw, g->ih = ih, g->W = W, g->H = H;
    g->u1 = W, g->v1 = H;
    double rx = (double)iw / W, ry = (double)ih / H;
    if (m == PP_CROP) {
        double s = rx < ry ? rx : ry;
        g->sx = g->sy = s;
        g->ox = (iw - W * s) / 2;
        g->oy = (ih - H * s) / 2;
    } else if (m == PP_LETTERBOX) {
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

void pp_rect_to_image(const pp_geom *g, double u0, double v0, double u1, double v1, double out[4])
{
    out[0] = clampd(g->ox + (u0 - g->u0) * g->sx, 0, g->iw);
    out[1] = clampd(g->oy + (v0 - g->v0) * g->sy, 0, g->ih);
    out[2] = clampd(g->ox + (u1 - g->u0) * g->sx, 0, g->iw);
    out[3] = clampd(g->oy + (v1 - g->v0) * g->sy, 0, g->ih);
}

/* ---- resampling ----------------------------------------------------------------------------- */

/* Taps of one axis: output i reads source [first, first + n) with weights w[i·maxn ...]. */
typedef struct {
    int *first, *n;
    float *w;
    int maxn;
} axis_taps;

static void axis_free(axis_taps *a)
{
    free(a->first);
    free(a->n);
    free(a->w);
}

/* Output pixel i is centred at source coordinate c = origin + (i + 0.5)·step. A triangle of
 * half-width max(step, 1) over source pixel centres, renormalized at the edges; centres outside
 * [0, in_len] get no taps (filled by the caller). */
static int axis_build(axis_taps *a, int in_len, int out_len, double origin, double step)
{
    double support = step > 1 ? step : 1;
    a->maxn = (int)ceil(2 * support) + 2;
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
        a->first[i] = lo;
        a->n[i] = hi - lo + 1;
    }
    return 0;
}

/* Separable resampling of an interleaved sw×sh×nc source (8-bit s8 or float sf) into dw×dh×nc
 * floats: output (x, y) is centred at source (ox + (x+0.5)·sx, oy + (y+0.5)·sy). */
static int resample(const uint8_t *s8, const float *sf, int sw, int sh, int nc, double ox,
                    double oy, double sx, double sy, float *dst, int dw, int dh, float fill)
{
    axis_taps ax = {0}, ay = {0};
    if (axis_build(&ax, sw, dw, ox, sx) || axis_build(&ay, sh, dh, oy, sy)) {
        axis_free(&ax);
        axis_free(&ay);
        return -1;
    }
    /* Horizontal pass over the source rows the vertical taps need. */
    int ylo = sh, yhi = -1;
    for (int y = 0; y < dh; y++) {
        if (!ay.n[y]) continue;
        if (ay.first[y] < ylo) ylo = ay.first[y];
        if (ay.first[y] + ay.n[y] - 1 > yhi) yhi = ay.first[y] + ay.n[y] - 1;
    }
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

static float scale_pixel(pp_scale s, float p)
{
    return s == PP_SCALE_01 ? p / 255.0f : s == PP_SCALE_11 ? p / 127.5f - 1.0f : p;
}

int pp_image_to_tensor(const cli_image *img, const pp_opts *o, int C, int H, int W, float *out,
                       pp_geom *gout, char *err, size_t errlen)
{
    if (C != 1 && C != 3) {
        snprintf(err, errlen, "the model wants %d input channels; images give 1 (gray) or 3 (RGB)",
                 C);
        return -1;
    }
    pp_geom g;
    pp_geometry(img->w, img->h, W, H, o->resize, &g);
    if (gout) *gout = g;
    int nw = g.u1 - g.u0, nh = g.v1 - g.v0;
    float *tmp = malloc(sizeof(float) * (size_t)nw * nh * 3);
    if (!tmp ||
        resample(img->rgb, NULL, img->w, img->h, 3, g.ox, g.oy, g.sx, g.sy, tmp, nw, nh, 0.0f)) {
        free(tmp);
        snprintf(err, errlen, "out of memory resizing a %dx%d image to %dx%d", img->w, img->h, W,
                 H);
        return -1;
    }
    size_t plane = (size_t)H * W;
    for (int v = 0; v < H; v++) {
        for (int u = 0; u < W; u++) {
            size_t at = (size_t)v * W + u;
            if (u < g.u0 || u >= g.u1 || v < g.v0 || v >= g.v1) { /* letterbox padding */
                for (int c = 0; c < C; c++) out[c * plane + at] = 0.0f;
                continue;
            }
            const float *p = tmp + ((size_t)(v - g.v0) * nw + (u - g.u0)) * 3;
            if (C == 1) {
                float y = 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];
                out[at] = (scale_pixel(o->scale, y) - o->mean[0]) / o->std[0];
                continue;
            }
            for (int c = 0; c < 3; c++) {
                float s = scale_pixel(o->scale, p[o->bgr ? 2 - c : c]);
                out[c * plane + at] = (s - o->mean[c]) / o->std[c];
            }
        }
    }
    free(tmp);
    return 0;
}

static uint8_t to_u8(float v)
{
    if (!(v > 0)) return 0;
    if (v >= 255) return 255;
    return (uint8_t)(v + 0.5f);
}

void pp_tensor_to_rgb(const float *x, int C, int H, int W, const pp_opts *o, uint8_t *rgb)
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
            px[c] = o->scale == PP_SCALE_01   ? v * 255.0f
                    : o->scale == PP_SCALE_11 ? (v + 1.0f) * 127.5f
                                              : v;
        }
        if (shown == 1) px[1] = px[2] = px[0];
        int swap = o && o->bgr && shown == 3;
        for (int c = 0; c < 3; c++) rgb[3 * i + c] = to_u8(px[swap ? 2 - c : c]);
    }
}

int pp_map_to_image(const float *map, int h, int w, const pp_geom *g, float *out)
{
    /* Image x -> model u = (x − ox)/sx + u0 -> map coordinate u·w/W. */
    double kx = (double)w / g->W, ky = (double)h / g->H;
    double origin_x = (g->u0 - g->ox / g->sx) * kx, origin_y = (g->v0 - g->oy / g->sy) * ky;
    return resample(NULL, map, w, h, 1, origin_x, origin_y, kx / g->sx, ky / g->sy, out, g->iw,
                    g->ih, NAN);
}

int pp_resample_rgb8(const uint8_t *src, int sw, int sh, double x0, double y0, double x1, double y1,
                     uint8_t *dst, int dw, int dh, uint8_t fill)
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

int pp_cli_resolve(const pp_cli_args *a, const char *dflt, pp_opts *o, int *given, char *err,
                   size_t errlen)
{
    int custom = a->mean || a->std || a->scale || a->bgr;
    if (given) *given = custom || a->preset;
    memset(o, 0, sizeof *o);
    o->resize = PP_STRETCH;
    if (a->resize && pp_parse_resize(a->resize, &o->resize)) {
        snprintf(err, errlen, "--resize: '%s' is not stretch, crop or letterbox", a->resize);
        return -1;
    }
    const char *preset = a->preset ? a->preset : custom ? "none" : dflt;
    if (pp_preset(preset, o)) {
        snprintf(err, errlen, "--preset: unknown preset '%s' (known: %s)", preset, PP_PRESET_NAMES);
        return -1;
    }
    if (a->scale && pp_parse_scale(a->scale, &o->scale)) {
        snprintf(err, errlen, "--scale: '%s' is not 01, 11 or 255", a->scale);
        return -1;
    }
    if (a->mean && pp_parse_triplet(a->mean, o->mean)) {
        snprintf(err, errlen, "--mean: '%s' is not three comma-separated numbers", a->mean);
        return -1;
    }
    if (a->std && pp_parse_triplet(a->std, o->std)) {
        snprintf(err, errlen, "--std: '%s' is not three comma-separated numbers", a->std);
        return -1;
    }
    for (int c = 0; c < 3; c++)
        if (!(o->std[c] != 0.0f)) {
            snprintf(err, errlen, "--std: channel %d is zero", c);
            return -1;
        }
    if (a->bgr) o->bgr = 1;
    return 0;
}
