/* Raster drawing for csoverlay (see overlay_draw.h). */
#include "overlay_draw.h"

#include <math.h>
#include <string.h>

static inline guint8 clamp8(float v)
{
    return v <= 0.f ? 0 : v >= 255.f ? 255 : (guint8)(v + 0.5f);
}

/* (a·x + (255 − a)·y) / 255, rounded to nearest. */
static inline guint8 mix8(int a, int x, int y)
{
    return (guint8)((a * x + (255 - a) * y + 127) / 255);
}

gboolean ov_format_supported(GstVideoFormat f)
{
    switch (f) {
    case GST_VIDEO_FORMAT_RGB:
    case GST_VIDEO_FORMAT_BGR:
    case GST_VIDEO_FORMAT_RGBA:
    case GST_VIDEO_FORMAT_BGRA:
    case GST_VIDEO_FORMAT_RGBx:
    case GST_VIDEO_FORMAT_BGRx:
    case GST_VIDEO_FORMAT_ARGB:
    case GST_VIDEO_FORMAT_ABGR:
    case GST_VIDEO_FORMAT_xRGB:
    case GST_VIDEO_FORMAT_xBGR:
    case GST_VIDEO_FORMAT_I420:
    case GST_VIDEO_FORMAT_NV12:
        return TRUE;
    default:
        return FALSE;
    }
}

gboolean ov_canvas_init(OvCanvas *c, GstVideoFrame *frame)
{
    const GstVideoInfo *info = &frame->info;
    GstVideoFormat f = GST_VIDEO_INFO_FORMAT(info);
    memset(c, 0, sizeof *c);
    if (!ov_format_supported(f)) return FALSE;
    c->width = GST_VIDEO_INFO_WIDTH(info);
    c->height = GST_VIDEO_INFO_HEIGHT(info);
    if (f == GST_VIDEO_FORMAT_I420 || f == GST_VIDEO_FORMAT_NV12) {
        c->yuv = TRUE;
        c->nv12 = f == GST_VIDEO_FORMAT_NV12;
        for (guint i = 0; i < GST_VIDEO_FRAME_N_PLANES(frame); i++) {
            c->plane[i] = GST_VIDEO_FRAME_PLANE_DATA(frame, i);
            c->stride[i] = GST_VIDEO_FRAME_PLANE_STRIDE(frame, i);
        }
        gdouble kr = 0.299, kb = 0.114;
        if (!gst_video_color_matrix_get_Kr_Kb(info->colorimetry.matrix, &kr, &kb)) {
            kr = 0.299;
            kb = 0.114;
        }
        double kg = 1.0 - kr - kb;
        gboolean full = info->colorimetry.range == GST_VIDEO_COLOR_RANGE_0_255;
        double sy = (full ? 255.0 : 219.0) / 255.0, sc = (full ? 255.0 : 224.0) / 255.0;
        c->yoff = full ? 0.f : 16.f;
        c->ky[0] = (float)(sy * kr);
        c->ky[1] = (float)(sy * kg);
        c->ky[2] = (float)(sy * kb);
        c->ku[0] = (float)(sc * -kr / (2 * (1 - kb)));
        c->ku[1] = (float)(sc * -kg / (2 * (1 - kb)));
        c->ku[2] = (float)(sc * 0.5);
        c->kv[0] = (float)(sc * 0.5);
        c->kv[1] = (float)(sc * -kg / (2 * (1 - kr)));
        c->kv[2] = (float)(sc * -kb / (2 * (1 - kr)));
        return TRUE;
    }
    c->plane[0] = GST_VIDEO_FRAME_PLANE_DATA(frame, 0);
    c->stride[0] = GST_VIDEO_FRAME_PLANE_STRIDE(frame, 0);
    c->pstride = GST_VIDEO_FRAME_COMP_PSTRIDE(frame, 0);
    for (int i = 0; i < 3; i++) c->off[i] = GST_VIDEO_FRAME_COMP_POFFSET(frame, i);
    c->off[3] = GST_VIDEO_INFO_HAS_ALPHA(info) ? (int)GST_VIDEO_FRAME_COMP_POFFSET(frame, 3) : -1;
    return TRUE;
}

static void rgb_to_yuv(const OvCanvas *c, int r, int g, int b, guint8 out[3])
{
    out[0] = clamp8(c->ky[0] * r + c->ky[1] * g + c->ky[2] * b + c->yoff);
    out[1] = clamp8(c->ku[0] * r + c->ku[1] * g + c->ku[2] * b + 128.f);
    out[2] = clamp8(c->kv[0] * r + c->kv[1] * g + c->kv[2] * b + 128.f);
}

OvColor ov_color(const OvCanvas *c, guint32 argb)
{
    OvColor col = {
        (guint8)(argb >> 16), (guint8)(argb >> 8), (guint8)argb, (guint8)(argb >> 24), 0, 0, 0};
    guint8 yuv[3];
    rgb_to_yuv(c, col.r, col.g, col.b, yuv);
    col.y = yuv[0];
    col.u = yuv[1];
    col.v = yuv[2];
    return col;
}

void ov_lut_init(OvLut *lut, const OvCanvas *c, cs_colormap map)
{
    for (int i = 0; i < 256; i++) {
        cs_colormap_rgb(map, (float)i / 255.f, lut->rgb[i]);
        rgb_to_yuv(c, lut->rgb[i][0], lut->rgb[i][1], lut->rgb[i][2], lut->yuv[i]);
    }
}

void ov_scratch_clear(OvScratch *s)
{
    g_free(s->row);
    g_free(s->x0);
    g_free(s->fx);
    g_free(s->idx);
    memset(s, 0, sizeof *s);
}

/* ---- spans ---------------------------------------------------------------------------- */

static inline guint8 *chroma_at(OvCanvas *c, int cy, int cx, int comp)
{
    if (c->nv12) return c->plane[1] + (gsize)cy * c->stride[1] + 2 * cx + comp;
    return c->plane[1 + comp] + (gsize)cy * c->stride[1 + comp] + cx;
}

/* Pixels [x0, x1) of row y. */
static void span(OvCanvas *c, int y, int x0, int x1, const OvColor *col)
{
    if (y < 0 || y >= c->height) return;
    x0 = MAX(x0, 0);
    x1 = MIN(x1, c->width);
    if (x0 >= x1 || col->a == 0) return;
    int a = col->a;
    if (c->yuv) {
        guint8 *py = c->plane[0] + (gsize)y * c->stride[0];
        int cy = y / 2, cx0 = x0 / 2, cx1 = (x1 - 1) / 2 + 1;
        if (a == 255) {
            memset(py + x0, col->y, (size_t)(x1 - x0));
            for (int cx = cx0; cx < cx1; cx++) {
                *chroma_at(c, cy, cx, 0) = col->u;
                *chroma_at(c, cy, cx, 1) = col->v;
            }
        } else {
            for (int x = x0; x < x1; x++) py[x] = mix8(a, col->y, py[x]);
            if ((y & 1) == 0) {
                for (int cx = cx0; cx < cx1; cx++) {
                    guint8 *u = chroma_at(c, cy, cx, 0), *v = chroma_at(c, cy, cx, 1);
                    *u = mix8(a, col->u, *u);
                    *v = mix8(a, col->v, *v);
                }
            }
        }
        return;
    }
    guint8 *p = c->plane[0] + (gsize)y * c->stride[0] + (gsize)x0 * c->pstride;
    const int ro = c->off[0], go = c->off[1], bo = c->off[2], ao = c->off[3], ps = c->pstride;
    for (int x = x0; x < x1; x++, p += ps) {
        if (a == 255) {
            p[ro] = col->r;
            p[go] = col->g;
            p[bo] = col->b;
        } else {
            p[ro] = mix8(a, col->r, p[ro]);
            p[go] = mix8(a, col->g, p[go]);
            p[bo] = mix8(a, col->b, p[bo]);
        }
        if (ao >= 0 && p[ao] < a) p[ao] = (guint8)a;
    }
}

void ov_fill_rect(OvCanvas *c, int x0, int y0, int x1, int y1, const OvColor *col)
{
    y0 = MAX(y0, 0);
    y1 = MIN(y1, c->height);
    for (int y = y0; y < y1; y++) span(c, y, x0, x1, col);
}

void ov_stroke_rect(OvCanvas *c, int x0, int y0, int x1, int y1, int lw, const OvColor *col)
{
    if (x1 <= x0 || y1 <= y0 || lw <= 0) return;
    if (2 * lw >= x1 - x0 || 2 * lw >= y1 - y0) {
        ov_fill_rect(c, x0, y0, x1, y1, col);
        return;
    }
    ov_fill_rect(c, x0, y0, x1, y0 + lw, col);
    ov_fill_rect(c, x0, y1 - lw, x1, y1, col);
    ov_fill_rect(c, x0, y0 + lw, x0 + lw, y1 - lw, col);
    ov_fill_rect(c, x1 - lw, y0 + lw, x1, y1 - lw, col);
}

void ov_fill_disc(OvCanvas *c, float cx, float cy, float r, const OvColor *col)
{
    if (!(r > 0.f)) return;
    int y0 = ov_floor(cy - r), y1 = ov_ceil(cy + r);
    for (int y = y0; y <= y1; y++) {
        float dy = (float)y + 0.5f - cy, d2 = r * r - dy * dy;
        if (d2 < 0.f) continue;
        float dx = sqrtf(d2);
        /* pixel centers x + 0.5 in [cx − dx, cx + dx] */
        span(c, y, ov_ceil(cx - dx - 0.5f), ov_floor(cx + dx - 0.5f) + 1, col);
    }
}

/* A convex polygon: each row's pixels whose centers lie inside. */
static void fill_convex(OvCanvas *c, const float *px, const float *py, int n, const OvColor *col)
{
    float ymin = py[0], ymax = py[0];
    for (int i = 1; i < n; i++) {
        ymin = MIN(ymin, py[i]);
        ymax = MAX(ymax, py[i]);
    }
    int y0 = MAX(ov_floor(ymin), 0), y1 = MIN(ov_ceil(ymax), c->height - 1);
    for (int y = y0; y <= y1; y++) {
        float sy = (float)y + 0.5f, lo = INFINITY, hi = -INFINITY;
        for (int i = 0; i < n; i++) {
            int j = (i + 1) % n;
            float ya = py[i], yb = py[j];
            if ((sy < ya && sy < yb) || (sy > ya && sy > yb) || ya == yb) continue;
            float x = px[i] + (sy - ya) / (yb - ya) * (px[j] - px[i]);
            lo = MIN(lo, x);
            hi = MAX(hi, x);
        }
        if (lo > hi) continue;
        span(c, y, ov_ceil(lo - 0.5f), ov_floor(hi - 0.5f) + 1, col);
    }
}

void ov_line(OvCanvas *c, float x0, float y0, float x1, float y1, float lw, const OvColor *col)
{
    float dx = x1 - x0, dy = y1 - y0, len = sqrtf(dx * dx + dy * dy);
    if (!(lw > 0.f) || !isfinite(len)) return;
    if (len < 1e-3f) {
        ov_fill_disc(c, x0, y0, lw / 2, col);
        return;
    }
    /* half-width normal, widened to at least one pixel so thin lines do not vanish */
    float h = MAX(lw, 1.f) / 2, nx = -dy / len * h, ny = dx / len * h;
    float px[4] = {x0 + nx, x1 + nx, x1 - nx, x0 - nx};
    float py[4] = {y0 + ny, y1 + ny, y1 - ny, y0 - ny};
    fill_convex(c, px, py, 4, col);
}

/* ---- heatmap -------------------------------------------------------------------------- */

static gboolean grow(OvScratch *s, int mw, int n)
{
    if ((size_t)mw > s->n_row) {
        s->row = g_renew(float, s->row, mw);
        s->n_row = (size_t)mw;
    }
    if ((size_t)n > s->n_x) {
        s->x0 = g_renew(int, s->x0, n);
        s->fx = g_renew(float, s->fx, n);
        s->idx = g_renew(gint16, s->idx, n);
        s->n_x = (size_t)n;
    }
    return TRUE;
}

/* Map coordinate of a frame position p (align_corners = false), split into index and weight. */
static inline void axis(float p, float r0, float scale, int m, int *i0, float *f)
{
    float u = (p - r0) * scale - 0.5f;
    if (u < 0.f) u = 0.f;
    if (u > (float)(m - 1)) u = (float)(m - 1);
    int i = (int)u;
    if (i > m - 2) i = MAX(m - 2, 0);
    *i0 = i;
    *f = m > 1 ? u - (float)i : 0.f;
}

/* Row of the map at frame y (interpolated between two map rows) into s->row. */
static void map_row(const float *map, int mh, int mw, float ry, float sy, float y, float *row)
{
    int j;
    float fy;
    axis(y, ry, sy, mh, &j, &fy);
    const float *a = map + (gsize)j * mw, *b = mh > 1 ? a + mw : a;
    for (int i = 0; i < mw; i++) row[i] = a[i] + (b[i] - a[i]) * fy;
    row[mw] = row[mw - 1];
}

static inline float sample(const float *row, int i0, float fx)
{
    return row[i0] + (row[i0 + 1] - row[i0]) * fx; /* row[mw] repeats row[mw − 1] */
}

static inline int lut_index(float v)
{
    return (int)((v < 1.f ? v : 1.f) * 255.f + 0.5f);
}

/* Colormap index of n pixels of one row (−1: below the threshold or NaN). */
static void row_index(const float *row, const int *i0, const float *fx, int n, float threshold,
                      gint16 *idx)
{
    for (int k = 0; k < n; k++) {
        float v = sample(row, i0[k], fx[k]);
        idx[k] = (gint16)(v >= threshold ? lut_index(v) : -1);
    }
}

/* out = (a·color + 127 + (255 − a)·frame) / 255 per byte, ca[i] = a·color[i] + 127. */
#define BLEND_ROW(PS)                                                                              \
    for (int k = 0; k < n; k++) {                                                                  \
        int i = idx[k];                                                                            \
        if (i < 0) continue;                                                                       \
        guint8 *q = p + (gsize)k * (PS);                                                           \
        for (int j = 0; j < (PS); j++) q[j] = (guint8)(((guint32)ca[i][j] + na * q[j]) / 255u);    \
    }

static void blend_row(guint8 *p, int ps, const gint16 *idx, int n, guint16 (*ca)[4], guint32 na)
{
    switch (ps) {
    case 1:
        BLEND_ROW(1)
        break;
    case 3:
        BLEND_ROW(3)
        break;
    default:
        BLEND_ROW(4)
        break;
    }
}

void ov_heatmap(OvCanvas *c, const OvLut *lut, const float *map, int mh, int mw, float rx, float ry,
                float rw, float rh, float alpha, float threshold, OvScratch *s)
{
    if (!map || mh <= 0 || mw <= 0 || !(rw > 0.f) || !(rh > 0.f)) return;
    int a = (int)(CLAMP(alpha, 0.f, 1.f) * 255.f + 0.5f);
    if (a == 0) return;
    float sx = (float)mw / rw, sy = (float)mh / rh;
    /* pixels whose centers lie in [rx, rx + rw) × [ry, ry + rh) */
    int x0 = MAX(ov_ceil(rx - 0.5f), 0), x1 = MIN(ov_ceil(rx + rw - 0.5f), c->width);
    int y0 = MAX(ov_ceil(ry - 0.5f), 0), y1 = MIN(ov_ceil(ry + rh - 0.5f), c->height);
    if (x0 >= x1 || y0 >= y1) return;
    int n = x1 - x0;
    grow(s, mw + 1, n + 1);
    for (int x = x0; x < x1; x++) axis((float)x + 0.5f, rx, sx, mw, &s->x0[x - x0], &s->fx[x - x0]);

    /* the colors premultiplied by alpha, in the frame's byte order (packed RGB) or Y */
    guint16 ca[256][4];
    const int ps = c->yuv ? 1 : c->pstride;
    for (int i = 0; i < 256; i++) {
        if (c->yuv) {
            ca[i][0] = (guint16)(a * lut->yuv[i][0] + 127);
            continue;
        }
        for (int j = 0; j < ps; j++)
            ca[i][j] = (guint16)(255 * a + 127); /* alpha / padding bytes go opaque */
        for (int ch = 0; ch < 3; ch++) ca[i][c->off[ch]] = (guint16)(a * lut->rgb[i][ch] + 127);
    }
    for (int y = y0; y < y1; y++) {
        map_row(map, mh, mw, ry, sy, (float)y + 0.5f, s->row);
        row_index(s->row, s->x0, s->fx, n, threshold, s->idx);
        blend_row(c->plane[0] + (gsize)y * c->stride[0] + (gsize)x0 * ps, ps, s->idx, n, ca,
                  (guint32)(255 - a));
    }
    if (!c->yuv) return;

    /* chroma samples whose 2×2 block center (2cx + 1, 2cy + 1) lies in the rectangle */
    int cw = (c->width + 1) / 2, ch = (c->height + 1) / 2;
    int cx0 = MAX(ov_ceil((rx - 1.f) / 2.f), 0), cx1 = MIN(ov_ceil((rx + rw - 1.f) / 2.f), cw);
    int cy0 = MAX(ov_ceil((ry - 1.f) / 2.f), 0), cy1 = MIN(ov_ceil((ry + rh - 1.f) / 2.f), ch);
    if (cx0 >= cx1 || cy0 >= cy1) return;
    for (int cx = cx0; cx < cx1; cx++)
        axis((float)(2 * cx + 1), rx, sx, mw, &s->x0[cx - cx0], &s->fx[cx - cx0]);
    for (int cy = cy0; cy < cy1; cy++) {
        map_row(map, mh, mw, ry, sy, (float)(2 * cy + 1), s->row);
        row_index(s->row, s->x0, s->fx, cx1 - cx0, threshold, s->idx);
        for (int k = 0; k < cx1 - cx0; k++) {
            int i = s->idx[k];
            if (i < 0) continue;
            const guint8 *col = lut->yuv[i];
            guint8 *u = chroma_at(c, cy, cx0 + k, 0), *w = chroma_at(c, cy, cx0 + k, 1);
            *u = mix8(a, col[1], *u);
            *w = mix8(a, col[2], *w);
        }
    }
}

/* ---- premultiplied ARGB blits (text) ---------------------------------------------------- */

static inline guint8 over8(int src_premul, int a, int dst)
{
    int v = src_premul + ((255 - a) * dst + 127) / 255;
    return (guint8)MIN(v, 255);
}

void ov_blend_argb(OvCanvas *c, const guint8 *src, int stride, int w, int h, int x, int y)
{
    int xs = MAX(x, 0), xe = MIN(x + w, c->width), ys = MAX(y, 0), ye = MIN(y + h, c->height);
    if (xs >= xe || ys >= ye) return;
    if (!c->yuv) {
        const int ro = c->off[0], go = c->off[1], bo = c->off[2], ao = c->off[3], ps = c->pstride;
        for (int j = ys; j < ye; j++) {
            const guint32 *s = (const guint32 *)(const void *)(src + (gsize)(j - y) * stride);
            guint8 *p = c->plane[0] + (gsize)j * c->stride[0] + (gsize)xs * ps;
            for (int i = xs; i < xe; i++, p += ps) {
                guint32 v = s[i - x];
                int a = (int)(v >> 24);
                if (a == 0) continue;
                p[ro] = over8((int)(v >> 16) & 255, a, p[ro]);
                p[go] = over8((int)(v >> 8) & 255, a, p[go]);
                p[bo] = over8((int)v & 255, a, p[bo]);
                if (ao >= 0) p[ao] = over8(a, a, p[ao]);
            }
        }
        return;
    }
    for (int j = ys; j < ye; j++) {
        const guint32 *s = (const guint32 *)(const void *)(src + (gsize)(j - y) * stride);
        guint8 *p = c->plane[0] + (gsize)j * c->stride[0];
        for (int i = xs; i < xe; i++) {
            guint32 v = s[i - x];
            int a = (int)(v >> 24);
            if (a == 0) continue;
            float r = (float)((v >> 16) & 255), g = (float)((v >> 8) & 255), b = (float)(v & 255);
            int ysrc = (int)(c->ky[0] * r + c->ky[1] * g + c->ky[2] * b +
                             c->yoff * (float)a / 255.f + 0.5f);
            p[i] = over8(ysrc, a, p[i]);
        }
    }
    /* chroma: the premultiplied source averaged over each 2×2 block */
    int cw = (c->width + 1) / 2, ch = (c->height + 1) / 2;
    int cx0 = xs / 2, cx1 = MIN((xe + 1) / 2, cw), cy0 = ys / 2, cy1 = MIN((ye + 1) / 2, ch);
    for (int cy = cy0; cy < cy1; cy++) {
        for (int cx = cx0; cx < cx1; cx++) {
            float sa = 0.f, sr = 0.f, sg = 0.f, sb = 0.f;
            for (int dy = 0; dy < 2; dy++) {
                int j = 2 * cy + dy - y;
                if (j < 0 || j >= h) continue;
                const guint32 *s = (const guint32 *)(const void *)(src + (gsize)j * stride);
                for (int dx = 0; dx < 2; dx++) {
                    int i = 2 * cx + dx - x;
                    if (i < 0 || i >= w) continue;
                    guint32 v = s[i];
                    sa += (float)(v >> 24);
                    sr += (float)((v >> 16) & 255);
                    sg += (float)((v >> 8) & 255);
                    sb += (float)(v & 255);
                }
            }
            if (sa <= 0.f) continue;
            int a = (int)(sa / 4.f + 0.5f);
            sr /= 4.f;
            sg /= 4.f;
            sb /= 4.f;
            float ua = (float)a / 255.f;
            int us = (int)(c->ku[0] * sr + c->ku[1] * sg + c->ku[2] * sb + 128.f * ua + 0.5f);
            int vs = (int)(c->kv[0] * sr + c->kv[1] * sg + c->kv[2] * sb + 128.f * ua + 0.5f);
            guint8 *u = chroma_at(c, cy, cx, 0), *vv = chroma_at(c, cy, cx, 1);
            *u = over8(CLAMP(us, 0, 255), a, *u);
            *vv = over8(CLAMP(vs, 0, 255), a, *vv);
        }
    }
}
