/* Raster drawing for csoverlay: spans, rectangles, thick lines, discs, colormapped heatmaps
 * and premultiplied-ARGB blits (text), drawn in place into one mapped video frame.
 *
 *     OvCanvas c;
 *     ov_canvas_init(&c, &frame);                  // packed RGB family, I420 or NV12
 *     OvColor red = ov_color(&c, 0xffff0000);      // ARGB, converted once for the format
 *     ov_stroke_rect(&c, 10, 10, 100, 80, 2, &red);
 *     ov_heatmap(&c, &lut, map, mh, mw, x, y, w, h, 0.5f, 0.2f, &scratch);
 *
 * Coordinates are frame pixels (x1/y1 exclusive); everything is clipped to the frame.
 * YUV formats take colors through the frame's color matrix and range (BT.601 when unknown);
 * 4:2:0 chroma is written for every chroma sample whose top-left luma sample is drawn.
 * No GStreamer state is kept: one canvas per frame, one scratch per element.
 */
#ifndef CS_OVERLAY_DRAW_H
#define CS_OVERLAY_DRAW_H

#include <gst/video/video.h>
#include <math.h>

#include "camstream/colormap.h"

G_BEGIN_DECLS

typedef struct {
    int width, height;
    gboolean yuv;  /* I420 / NV12 */
    gboolean nv12; /* interleaved UV plane */
    guint8 *plane[3];
    int stride[3];
    int pstride; /* packed RGB: bytes per pixel */
    int off[4];  /* packed RGB: byte offset of R, G, B and A (-1: none) */
    /* YUV: Y = ky·rgb + yoff, U = ku·rgb + 128, V = kv·rgb + 128 (rgb in 0..255). */
    float ky[3], ku[3], kv[3], yoff;
} OvCanvas;

typedef struct {
    guint8 r, g, b, a;
    guint8 y, u, v;
} OvColor;

/* 256 colors of a colormap, in RGB and in the canvas's YUV. */
typedef struct {
    guint8 rgb[256][3];
    guint8 yuv[256][3];
} OvLut;

/* Buffers reused from frame to frame (grown when needed, freed with ov_scratch_clear). */
typedef struct {
    float *h; /* the map resized along x: one row per map row */
    int *x0;
    float *fx;
    gint32 *idx;
    size_t n_h, n_x;
} OvScratch;

/* A float coordinate to int pixels, clamped to ±2^24 (NaN: far off the frame), so that any
 * value a meta carries converts without overflow. */
static inline int ov_px(float v)
{
    if (!(v > -16777216.f)) return -16777216;
    return v < 16777216.f ? (int)v : 16777216;
}
static inline int ov_floor(float v)
{
    return ov_px(floorf(v));
}
static inline int ov_ceil(float v)
{
    return ov_px(ceilf(v));
}

/* FALSE for an unsupported format. */
gboolean ov_canvas_init(OvCanvas *c, GstVideoFrame *frame);
gboolean ov_format_supported(GstVideoFormat f);
OvColor ov_color(const OvCanvas *c, guint32 argb);
void ov_lut_init(OvLut *lut, const OvCanvas *c, cs_colormap map);
void ov_scratch_clear(OvScratch *s);

void ov_fill_rect(OvCanvas *c, int x0, int y0, int x1, int y1, const OvColor *col);
/* An outline of width lw drawn inside [x0,x1)×[y0,y1). */
void ov_stroke_rect(OvCanvas *c, int x0, int y0, int x1, int y1, int lw, const OvColor *col);
void ov_fill_disc(OvCanvas *c, float cx, float cy, float r, const OvColor *col);
void ov_line(OvCanvas *c, float x0, float y0, float x1, float y1, float lw, const OvColor *col);

/* Blends the colormapped map (mh×mw, values in [0,1], NaN = none), bilinearly resized to the
 * frame rectangle (rx, ry, rw, rh), onto the frame:
 *     out = (1 − alpha)·frame + alpha·color(v)   where v ≥ threshold, else the frame,
 * with alpha in 1/256ths and the result rounded to nearest. */
void ov_heatmap(OvCanvas *c, const OvLut *lut, const float *map, int mh, int mw, float rx, float ry,
                float rw, float rh, float alpha, float threshold, OvScratch *s);

/* Blends a premultiplied ARGB32 image (cairo's CAIRO_FORMAT_ARGB32, native endian) with its
 * top-left corner at (x, y). */
void ov_blend_argb(OvCanvas *c, const guint8 *src, int stride, int w, int h, int x, int y);

G_END_DECLS
#endif
