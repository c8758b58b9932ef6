/* Raster drawing for csoverlay (see overlay_draw.h). */
#include "overlay_draw.h"

#include <math.h>
#include <string.h>
#ifdef __AVX2__
#include <immintrin.h>
#endif

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
    g_free(s->h);
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

static void grow(OvScratch *s, int n_h, int n)
{
    if ((size_t)n_h > s->n_h) {
        s->h = g_renew(float, s->h, n_h);
        s->n_h = (size_t)n_h;
    }
    if ((size_t)n > s->n_x) {
        s->x0 = g_renew(int, s->x0, n);
        s->fx = g_renew(float, s->fx, n);
        s->idx = g_renew(gint32, s->idx, n);
        s->n_x = (size_t)n;
    }
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

/* The map resized along x once per frame: s->h holds, for each map row, its values at the n
 * frame columns p0, p0 + step, ... Every frame row then only interpolates two of these rows. */
static void columns(const float *map, int mh, int mw, float p0, float step, float rx, float sx,
                    int n, OvScratch *s)
{
    for (int k = 0; k < n; k++) axis(p0 + step * (float)k, rx, sx, mw, &s->x0[k], &s->fx[k]);
    for (int j = 0; j < mh; j++) {
        const float *m = map + (gsize)j * mw;
        float *h = s->h + (gsize)j * n;
        for (int k = 0; k < n; k++) {
            int i = s->x0[k];
            float b = mw > 1 ? m[i + 1] : m[i];
            h[k] = m[i] + (b - m[i]) * s->fx[k];
        }
    }
}

/* Colormap index of v (−1: below the threshold or NaN). */
static inline gint32 heat_index(float v, float threshold)
{
    float c = v < 1.f ? v : 1.f;
    c = c > -1.f ? c : -1.f; /* NaN too: the conversion is always defined */
    return v >= threshold ? (gint32)(c * 255.f + 0.5f) : -1;
}

/* Colormap indices of the n columns at frame row position y. */
static void row_index(const OvScratch *s, int mh, int n, float y, float ry, float sy,
                      float threshold, gint32 *restrict idx)
{
    int j;
    float fy;
    axis(y, ry, sy, mh, &j, &fy);
    const float *restrict a = s->h + (gsize)j * n, *restrict b = mh > 1 ? a + n : a;
    int k = 0;
#ifdef __AVX2__
    const __m256 f = _mm256_set1_ps(fy), one = _mm256_set1_ps(1.f), mone = _mm256_set1_ps(-1.f),
                 t = _mm256_set1_ps(threshold), s255 = _mm256_set1_ps(255.f),
                 h = _mm256_set1_ps(0.5f);
    for (; k + 8 <= n; k += 8) {
        __m256 va = _mm256_loadu_ps(a + k),
               v = _mm256_fmadd_ps(_mm256_sub_ps(_mm256_loadu_ps(b + k), va), f, va);
        /* min returns its second operand for NaN: an index in range, which keep then drops */
        __m256 c = _mm256_max_ps(_mm256_min_ps(v, one), mone);
        __m256i i = _mm256_cvttps_epi32(_mm256_fmadd_ps(c, s255, h));
        __m256 keep = _mm256_cmp_ps(v, t, _CMP_GE_OQ);
        _mm256_storeu_si256(
            (__m256i *)(void *)(idx + k),
            _mm256_blendv_epi8(_mm256_set1_epi32(-1), i, _mm256_castps_si256(keep)));
    }
#endif
    for (; k < n; k++) idx[k] = heat_index(a[k] + (b[k] - a[k]) * fy, threshold);
}

/* The blend of one byte: (A·color + (256 − A)·frame + 128) / 256, A = alpha in 1/256ths.
 * Every term fits 16 bits, so the vector path computes the very same bytes. */
static inline guint8 heat8(guint32 ca, guint32 na, guint8 q)
{
    return (guint8)((ca + na * q) >> 8);
}

#ifdef __AVX2__
/* heat8 on sixteen 16-bit lanes: (c·A + f·(256 − A) + 128) / 256, c and f in 0..255. */
static inline __m256i heat16_avx2(__m256i c, __m256i f, int alpha)
{
    const __m256i a16 = _mm256_set1_epi16((short)alpha),
                  na16 = _mm256_set1_epi16((short)(256 - alpha)), half = _mm256_set1_epi16(128);
    return _mm256_srli_epi16(
        _mm256_add_epi16(_mm256_add_epi16(_mm256_mullo_epi16(c, a16), _mm256_mullo_epi16(f, na16)),
                         half),
        8);
}

/* Eight 4-byte pixels f blended with their colors (the gathered table entries of idx);
 * pixels whose idx < 0 come back as they were. */
static inline __m256i blend8_avx2(__m256i f, __m256i i, const guint32 *color, int alpha)
{
    const __m256i zero = _mm256_setzero_si256();
    __m256i keep = _mm256_cmpgt_epi32(zero, i);
    __m256i col = _mm256_i32gather_epi32((const int *)color, _mm256_max_epi32(i, zero), 4);
    __m256i lo = heat16_avx2(_mm256_unpacklo_epi8(col, zero), _mm256_unpacklo_epi8(f, zero), alpha);
    __m256i hi = heat16_avx2(_mm256_unpackhi_epi8(col, zero), _mm256_unpackhi_epi8(f, zero), alpha);
    return _mm256_blendv_epi8(_mm256_packus_epi16(lo, hi), f, keep);
}

/* All eight idx < 0: nothing to draw. */
static inline int none8(__m256i i)
{
    return _mm256_movemask_ps(_mm256_castsi256_ps(i)) == 0xff;
}

/* Eight 4-byte pixels at a time. Returns how many pixels it did (a multiple of 8). */
static int blend_row4_avx2(guint8 *p, const gint32 *idx, int n, const guint32 *color, int alpha)
{
    int k = 0;
    for (; k + 8 <= n; k += 8) {
        __m256i i = _mm256_loadu_si256((const __m256i *)(const void *)(idx + k));
        if (none8(i)) continue;
        __m256i f = _mm256_loadu_si256((const __m256i *)(void *)(p + 4 * k));
        _mm256_storeu_si256((__m256i *)(void *)(p + 4 * k), blend8_avx2(f, i, color, alpha));
    }
    return k;
}

/* Eight 3-byte pixels at a time, spread to 4 bytes for the blend and packed back. The 32-byte
 * load reads 8 bytes past the eight pixels, so the loop stops 11 pixels before the end. */
static int blend_row3_avx2(guint8 *p, const gint32 *idx, int n, const guint32 *color, int alpha)
{
    const __m256i to_lanes = _mm256_setr_epi32(0, 1, 2, 0, 3, 4, 5, 0),
                  spread = _mm256_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1, 0,
                                            1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1),
                  pack = _mm256_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1, 0,
                                          1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1),
                  from_lanes = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 7, 7);
    int k = 0;
    for (; k + 11 <= n; k += 8) {
        __m256i i = _mm256_loadu_si256((const __m256i *)(const void *)(idx + k));
        if (none8(i)) continue;
        guint8 *q = p + 3 * k;
        __m256i raw = _mm256_loadu_si256((const __m256i *)(void *)q);
        __m256i f = _mm256_shuffle_epi8(_mm256_permutevar8x32_epi32(raw, to_lanes), spread);
        __m256i out = _mm256_permutevar8x32_epi32(
            _mm256_shuffle_epi8(blend8_avx2(f, i, color, alpha), pack), from_lanes);
        _mm_storeu_si128((__m128i *)(void *)q, _mm256_castsi256_si128(out));
        _mm_storel_epi64((__m128i *)(void *)(q + 16), _mm256_extracti128_si256(out, 1));
    }
    return k;
}

/* Sixteen Y samples at a time (I420, NV12), as blend_row4_avx2. */
static int blend_row1_avx2(guint8 *p, const gint32 *idx, int n, const guint32 *color, int alpha)
{
    const __m256i zero = _mm256_setzero_si256();
    int k = 0;
    for (; k + 16 <= n; k += 16) {
        __m256i i0 = _mm256_loadu_si256((const __m256i *)(const void *)(idx + k));
        __m256i i1 = _mm256_loadu_si256((const __m256i *)(const void *)(idx + k + 8));
        /* packs interleaves the 128-bit halves; the permute puts the 16 lanes back in order */
        __m256i keep = _mm256_permute4x64_epi64(
            _mm256_packs_epi32(_mm256_cmpgt_epi32(zero, i0), _mm256_cmpgt_epi32(zero, i1)), 0xd8);
        if (_mm256_movemask_epi8(keep) == -1) continue;
        __m256i y0 = _mm256_i32gather_epi32((const int *)color, _mm256_max_epi32(i0, zero), 4);
        __m256i y1 = _mm256_i32gather_epi32((const int *)color, _mm256_max_epi32(i1, zero), 4);
        __m256i y = _mm256_permute4x64_epi64(
            _mm256_packus_epi32(_mm256_and_si256(y0, _mm256_set1_epi32(255)),
                                _mm256_and_si256(y1, _mm256_set1_epi32(255))),
            0xd8);
        __m256i f = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(void *)(p + k)));
        __m256i v = _mm256_blendv_epi8(heat16_avx2(y, f, alpha), f, keep);
        __m256i b = _mm256_permute4x64_epi64(_mm256_packus_epi16(v, v), 0xd8);
        _mm_storeu_si128((__m128i *)(void *)(p + k), _mm256_castsi256_si128(b));
    }
    return k;
}
#endif

/* The pixels left after the vector loop, PS bytes each. */
#define BLEND_TAIL(PS)                                                                             \
    for (; k < n; k++) {                                                                           \
        if (idx[k] < 0) continue;                                                                  \
        guint32 col = color[idx[k]];                                                               \
        guint8 *q = p + (gsize)k * (PS);                                                           \
        for (int j = 0; j < (PS); j++)                                                             \
            q[j] = heat8((guint32)alpha * ((col >> (8 * j)) & 255u) + 128u, na, q[j]);             \
    }

/* Pixels [0, n) of one row of ps-byte pixels (ps = 1: a Y plane). color[i] holds the ps bytes
 * of colormap entry i in the frame's order (alpha or padding bytes 255: they go opaque). */
static void blend_row(guint8 *p, int ps, const gint32 *idx, int n, const guint32 *color, int alpha)
{
    int k = 0;
    const guint32 na = (guint32)(256 - alpha);
    switch (ps) {
    case 1:
#ifdef __AVX2__
        k = blend_row1_avx2(p, idx, n, color, alpha);
#endif
        BLEND_TAIL(1)
        break;
    case 3:
#ifdef __AVX2__
        k = blend_row3_avx2(p, idx, n, color, alpha);
#endif
        BLEND_TAIL(3)
        break;
    default:
#ifdef __AVX2__
        k = blend_row4_avx2(p, idx, n, color, alpha);
#endif
        BLEND_TAIL(4)
        break;
    }
}

void ov_heatmap(OvCanvas *c, const OvLut *lut, const float *map, int mh, int mw, float rx, float ry,
                float rw, float rh, float alpha, float threshold, OvScratch *s)
{
    if (!map || mh <= 0 || mw <= 0 || !(rw > 0.f) || !(rh > 0.f)) return;
    int a = (int)(CLAMP(alpha, 0.f, 1.f) * 256.f + 0.5f);
    if (a == 0) return;
    float sx = (float)mw / rw, sy = (float)mh / rh;
    /* pixels whose centers lie in [rx, rx + rw) × [ry, ry + rh) */
    int x0 = MAX(ov_ceil(rx - 0.5f), 0), x1 = MIN(ov_ceil(rx + rw - 0.5f), c->width);
    int y0 = MAX(ov_ceil(ry - 0.5f), 0), y1 = MIN(ov_ceil(ry + rh - 0.5f), c->height);
    if (x0 >= x1 || y0 >= y1) return;
    int n = x1 - x0;
    grow(s, mh * n, n);
    columns(map, mh, mw, (float)x0 + 0.5f, 1.f, rx, sx, n, s);

    /* the colormap's colors as the frame's bytes (packed RGB) or Y values */
    guint32 color[256];
    const int ps = c->yuv ? 1 : c->pstride;
    for (int i = 0; i < 256; i++) {
        guint8 b[4] = {255, 255, 255, 255};
        if (c->yuv) {
            b[0] = lut->yuv[i][0];
        } else {
            for (int ch = 0; ch < 3; ch++) b[c->off[ch]] = lut->rgb[i][ch];
        }
        color[i] = b[0] | (guint32)b[1] << 8 | (guint32)b[2] << 16 | (guint32)b[3] << 24;
    }
    for (int y = y0; y < y1; y++) {
        row_index(s, mh, n, (float)y + 0.5f, ry, sy, threshold, s->idx);
        blend_row(c->plane[0] + (gsize)y * c->stride[0] + (gsize)x0 * ps, ps, s->idx, n, color, a);
    }
    if (!c->yuv) return;

    /* chroma samples whose 2×2 block center (2cx + 1, 2cy + 1) lies in the rectangle */
    int cw = (c->width + 1) / 2, ch = (c->height + 1) / 2;
    int cx0 = MAX(ov_ceil((rx - 1.f) / 2.f), 0), cx1 = MIN(ov_ceil((rx + rw - 1.f) / 2.f), cw);
    int cy0 = MAX(ov_ceil((ry - 1.f) / 2.f), 0), cy1 = MIN(ov_ceil((ry + rh - 1.f) / 2.f), ch);
    if (cx0 >= cx1 || cy0 >= cy1) return;
    int nc = cx1 - cx0;
    columns(map, mh, mw, (float)(2 * cx0 + 1), 2.f, rx, sx, nc, s);
    const guint32 na = (guint32)(256 - a);
    for (int cy = cy0; cy < cy1; cy++) {
        row_index(s, mh, nc, (float)(2 * cy + 1), ry, sy, threshold, s->idx);
        for (int k = 0; k < nc; k++) {
            int i = s->idx[k];
            if (i < 0) continue;
            const guint8 *col = lut->yuv[i];
            guint8 *u = chroma_at(c, cy, cx0 + k, 0), *w = chroma_at(c, cy, cx0 + k, 1);
            *u = heat8((guint32)a * col[1] + 128u, na, *u);
            *w = heat8((guint32)a * col[2] + 128u, na, *w);
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
