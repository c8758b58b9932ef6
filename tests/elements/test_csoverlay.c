/* csoverlay: GstHarness tests. Known metas on a flat frame: pixels change where the layer is
 * drawn and nowhere else (RGB and I420), the heatmap blend follows
 * out = (1 − alpha)·frame + alpha·colormap(v) above the threshold and respects the frame
 * rectangle of the model input (letterbox), labels put text pixels down, buffers without
 * metas pass untouched, bad caps and property values are refused, and a 640×480 frame costs
 * a small fraction of a 30 fps frame period (printed).
 *
 * The registry is isolated (GST_REGISTRY in the build dir, GST_PLUGIN_PATH = build/elements,
 * no system plugins) unless the environment sets them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <gst/base/gstbasetransform.h>
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gst/video/video.h>

#include "camstream/colormap.h"
#include <gst/camstream/camstream-meta.h>

#define W 64
#define H 48
#define BG 0x40  /* RGB background */
#define BGY 0x80 /* I420 background Y, U, V */

static GstBuffer *rgb_frame(int w, int h)
{
    GstBuffer *b = gst_buffer_new_allocate(NULL, (gsize)w * h * 3, NULL);
    gst_buffer_memset(b, 0, BG, (gsize)w * h * 3);
    return b;
}

/* I420 with even sizes: strides = widths. */
static GstBuffer *i420_frame(int w, int h)
{
    gsize n = (gsize)w * h * 3 / 2;
    GstBuffer *b = gst_buffer_new_allocate(NULL, n, NULL);
    gst_buffer_memset(b, 0, BGY, n);
    return b;
}

static gchar *caps_str(const char *fmt, int w, int h)
{
    return g_strdup_printf("video/x-raw,format=%s,width=%d,height=%d,framerate=30/1", fmt, w, h);
}

static GstHarness *harness(const char *fmt, int w, int h)
{
    GstHarness *hr = gst_harness_new("csoverlay");
    gchar *c = caps_str(fmt, w, h);
    gst_harness_set_src_caps_str(hr, c);
    g_free(c);
    return hr;
}

/* Pushes buf, pulls the result and copies its bytes into a new array (g_free). */
static guint8 *run(GstHarness *hr, GstBuffer *buf, gsize *len)
{
    assert_int_equal(gst_harness_push(hr, buf), GST_FLOW_OK);
    GstBuffer *out = gst_harness_pull(hr);
    assert_non_null(out);
    GstMapInfo m;
    assert_true(gst_buffer_map(out, &m, GST_MAP_READ));
    guint8 *copy = g_memdup2(m.data, m.size);
    if (len) *len = m.size;
    gst_buffer_unmap(out, &m);
    gst_buffer_unref(out);
    return copy;
}

static const guint8 *px(const guint8 *rgb, int w, int x, int y)
{
    return rgb + ((gsize)y * w + x) * 3;
}

static void assert_rgb(const guint8 *rgb, int w, int x, int y, int r, int g, int b, int tol)
{
    const guint8 *p = px(rgb, w, x, y);
    if (abs(p[0] - r) > tol || abs(p[1] - g) > tol || abs(p[2] - b) > tol)
        fail_msg("pixel (%d,%d) = %d,%d,%d, expected %d,%d,%d (±%d)", x, y, p[0], p[1], p[2], r, g,
                 b, tol);
}

/* ---- caps and passthrough -------------------------------------------------------------- */

static void test_caps(void **state)
{
    (void)state;
    const char *ok[] = {"RGB", "BGR", "RGBA", "BGRA", "RGBx", "BGRx", "I420", "NV12"};
    GstElement *e = gst_element_factory_make("csoverlay", NULL);
    assert_non_null(e);
    GstPad *sink = gst_element_get_static_pad(e, "sink");
    for (size_t i = 0; i < G_N_ELEMENTS(ok); i++) {
        gchar *s = caps_str(ok[i], W, H);
        GstCaps *c = gst_caps_from_string(s);
        assert_true(gst_pad_query_accept_caps(sink, c));
        gst_caps_unref(c);
        g_free(s);
    }
    const char *bad[] = {"GRAY8", "YUY2", "RGB16"};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        gchar *s = caps_str(bad[i], W, H);
        GstCaps *c = gst_caps_from_string(s);
        assert_false(gst_pad_query_accept_caps(sink, c));
        gst_caps_unref(c);
        g_free(s);
    }
    gst_object_unref(sink);
    gst_object_unref(e);

    /* a stream in an unsupported format is not negotiated */
    GstHarness *hr = harness("GRAY8", W, H);
    GstBuffer *b = gst_buffer_new_allocate(NULL, W * H, NULL);
    assert_int_not_equal(gst_harness_push(hr, b), GST_FLOW_OK);
    gst_harness_teardown(hr);
}

static void test_passthrough(void **state)
{
    (void)state;
    GstHarness *hr = harness("RGB", W, H);
    GstBuffer *in = rgb_frame(W, H);
    GstMapInfo m;
    gst_buffer_map(in, &m, GST_MAP_WRITE);
    for (gsize i = 0; i < m.size; i++) m.data[i] = (guint8)(i * 7);
    gst_buffer_unmap(in, &m);
    GstBuffer *ref = gst_buffer_copy_deep(in);
    gsize n;
    guint8 *out = run(hr, in, &n);
    gst_buffer_map(ref, &m, GST_MAP_READ);
    assert_int_equal(n, m.size);
    assert_memory_equal(out, m.data, n);
    gst_buffer_unmap(ref, &m);
    gst_buffer_unref(ref);
    g_free(out);

    /* every layer off: the element is in passthrough mode */
    g_object_set(hr->element, "heatmap", FALSE, "boxes", FALSE, "labels", FALSE, "keypoints", FALSE,
                 "skeleton", FALSE, NULL);
    assert_true(gst_base_transform_is_passthrough(GST_BASE_TRANSFORM(hr->element)));
    g_object_set(hr->element, "boxes", TRUE, NULL);
    assert_false(gst_base_transform_is_passthrough(GST_BASE_TRANSFORM(hr->element)));
    gst_harness_teardown(hr);
}

/* ---- boxes ------------------------------------------------------------------------------- */

static void add_box(GstBuffer *b, float x, float y, float w, float h, const char *label)
{
    CsDetectionsMeta *d = cs_buffer_get_detections_meta(b);
    if (!d) d = cs_buffer_add_detections_meta(b);
    cs_detections_meta_add(d, x, y, w, h, 1, label, 0.87f, CS_DETECTION_SOURCE_REGRESSION);
}

/* Box (10,10)-(40,30), line width 2, red: which RGB pixels are on its outline. */
static int on_outline(int x, int y)
{
    int in_outer = x >= 10 && x < 40 && y >= 10 && y < 30;
    int in_inner = x >= 12 && x < 38 && y >= 12 && y < 28;
    return in_outer && !in_inner;
}

static void test_box_rgb(void **state)
{
    (void)state;
    GstHarness *hr = harness("RGB", W, H);
    g_object_set(hr->element, "labels", FALSE, "box-color", 0xffff0000u, "line-width", 2, NULL);
    GstBuffer *b = rgb_frame(W, H);
    add_box(b, 10, 10, 30, 20, "cat");
    guint8 *out = run(hr, b, NULL);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            if (on_outline(x, y))
                assert_rgb(out, W, x, y, 255, 0, 0, 0);
            else
                assert_rgb(out, W, x, y, BG, BG, BG, 0);
        }
    g_free(out);

    /* BGR: the same box, bytes swapped */
    gst_harness_teardown(hr);
    hr = harness("BGR", W, H);
    g_object_set(hr->element, "labels", FALSE, "box-color", 0xffff0000u, NULL);
    b = rgb_frame(W, H);
    add_box(b, 10, 10, 30, 20, NULL);
    out = run(hr, b, NULL);
    assert_rgb(out, W, 10, 10, 0, 0, 255, 0);
    assert_rgb(out, W, 20, 20, BG, BG, BG, 0);
    g_free(out);

    /* A frame it drew on carries csoverlay's stage time. */
    b = rgb_frame(W, H);
    add_box(b, 10, 10, 30, 20, NULL);
    assert_int_equal(gst_harness_push(hr, b), GST_FLOW_OK);
    GstBuffer *ob = gst_harness_pull(hr);
    assert_non_null(ob);
    CsTimingMeta *tm = cs_buffer_get_timing_meta(ob);
    assert_non_null(tm);
    assert_true(cs_timing_meta_get(tm, "csoverlay") > 0);
    gst_buffer_unref(ob);
    gst_harness_teardown(hr);
}

/* BT.601 limited range, as the caps default for SD I420. */
static void yuv601(int r, int g, int b, int *y, int *u, int *v)
{
    double Y = 0.299 * r + 0.587 * g + 0.114 * b;
    *y = (int)lround(16 + Y * 219 / 255);
    *u = (int)lround(128 + (b - Y) / (2 * (1 - 0.114)) * 224 / 255);
    *v = (int)lround(128 + (r - Y) / (2 * (1 - 0.299)) * 224 / 255);
}

static void test_box_i420(void **state)
{
    (void)state;
    GstHarness *hr = harness("I420", W, H);
    g_object_set(hr->element, "labels", FALSE, "box-color", 0xffff0000u, "line-width", 2, NULL);
    GstBuffer *b = i420_frame(W, H);
    add_box(b, 10, 10, 30, 20, NULL);
    guint8 *out = run(hr, b, NULL);
    int ey, eu, ev;
    yuv601(255, 0, 0, &ey, &eu, &ev);
    const guint8 *Y = out, *U = out + W * H, *V = U + W * H / 4;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int want = on_outline(x, y) ? ey : BGY;
            if (abs(Y[y * W + x] - want) > 1)
                fail_msg("Y(%d,%d) = %d, expected %d", x, y, Y[y * W + x], want);
        }
    /* chroma: on the outline's 2×2 blocks red, far from it untouched */
    assert_true(abs(U[5 * (W / 2) + 5] - eu) <= 1 && abs(V[5 * (W / 2) + 5] - ev) <= 1);
    for (int cy = 0; cy < H / 2; cy++)
        for (int cx = 0; cx < W / 2; cx++) {
            int near = cx >= 4 && cx <= 20 && cy >= 4 && cy <= 15;
            int inner = cx >= 7 && cx <= 17 && cy >= 7 && cy <= 12;
            if (!near || inner) {
                assert_int_equal(U[cy * (W / 2) + cx], BGY);
                assert_int_equal(V[cy * (W / 2) + cx], BGY);
            }
        }
    g_free(out);
    gst_harness_teardown(hr);
}

/* ---- heatmaps ----------------------------------------------------------------------------- */

/* An 8×8 map (rows 0–3: 0, rows 4–7: 1) over a 8×8 model input placed at x 8..40, y 0..32
 * (scale 4, offset 8: a model input that covers part of the frame). */
static CsHeatmapMeta *add_heatmap(GstBuffer *b)
{
    float map[64];
    for (int i = 0; i < 64; i++) map[i] = i >= 32 ? 1.f : 0.f;
    CsHeatmapMeta *h =
        cs_buffer_add_heatmap_meta(b, "gradcam", 3, "dog", 2.5f, "layer4", 8, 8, map);
    assert_non_null(h);
    h->tensor_width = h->tensor_height = 8;
    h->to_frame = (CsTransform2D){4, 4, 8, 0};
    return h;
}

static void test_heatmap_rgb(void **state)
{
    (void)state;
    const double alpha = 0.3;
    GstHarness *hr = harness("RGB", W, H);
    g_object_set(hr->element, "alpha", alpha, "threshold", 0.2, "colormap", CS_COLORMAP_TURBO,
                 NULL);
    GstBuffer *b = rgb_frame(W, H);
    add_heatmap(b);
    guint8 *out = run(hr, b, NULL);
    guint8 col[3];
    cs_colormap_rgb(CS_COLORMAP_TURBO, 1.f, col);
    int e[3];
    for (int c = 0; c < 3; c++) e[c] = (int)lround((1 - alpha) * BG + alpha * col[c]);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int inside = x >= 8 && x < 40 && y < 32;
            if (inside && y >= 20)
                assert_rgb(out, W, x, y, e[0], e[1], e[2], 1); /* v = 1 */
            else if (!inside || y < 12)
                assert_rgb(out, W, x, y, BG, BG, BG, 0); /* outside, or v < threshold */
        }
    g_free(out);

    /* alpha 0: nothing changes; threshold 0 colors the v = 0 rows too */
    g_object_set(hr->element, "alpha", 0.0, NULL);
    b = rgb_frame(W, H);
    add_heatmap(b);
    out = run(hr, b, NULL);
    for (int i = 0; i < W * H; i++) assert_rgb(out, W, i % W, i / W, BG, BG, BG, 0);
    g_free(out);
    g_object_set(hr->element, "alpha", 1.0, "threshold", 0.0, NULL);
    b = rgb_frame(W, H);
    add_heatmap(b);
    out = run(hr, b, NULL);
    cs_colormap_rgb(CS_COLORMAP_TURBO, 0.f, col);
    assert_rgb(out, W, 20, 4, col[0], col[1], col[2], 0);
    assert_rgb(out, W, 50, 4, BG, BG, BG, 0);
    g_free(out);

    /* letterbox: the 64×48 frame fits the 8×8 input at scale 8, padded above and below (y offset
     * −8): map rows 4–7 cover frame rows 24..56, rows 0–3 rows −8..24 */
    g_object_set(hr->element, "alpha", alpha, "threshold", 0.2, NULL);
    b = rgb_frame(W, H);
    add_heatmap(b)->to_frame = (CsTransform2D){8, 8, 0, -8};
    out = run(hr, b, NULL);
    cs_colormap_rgb(CS_COLORMAP_TURBO, 1.f, col);
    for (int x = 0; x < W; x++) {
        assert_rgb(out, W, x, 47, e[0], e[1], e[2], 1);
        assert_rgb(out, W, x, 28, e[0], e[1], e[2], 1);
        assert_rgb(out, W, x, 0, BG, BG, BG, 0);
        assert_rgb(out, W, x, 18, BG, BG, BG, 0);
    }
    g_free(out);

    /* heatmap layer off: the frame passes untouched */
    g_object_set(hr->element, "heatmap", FALSE, NULL);
    b = rgb_frame(W, H);
    add_heatmap(b);
    out = run(hr, b, NULL);
    assert_rgb(out, W, 20, 25, BG, BG, BG, 0);
    g_free(out);
    gst_harness_teardown(hr);
}

static void test_heatmap_i420(void **state)
{
    (void)state;
    const double alpha = 0.5;
    GstHarness *hr = harness("I420", W, H);
    g_object_set(hr->element, "alpha", alpha, "colormap", CS_COLORMAP_JET, NULL);
    GstBuffer *b = i420_frame(W, H);
    add_heatmap(b);
    guint8 *out = run(hr, b, NULL);
    guint8 col[3];
    cs_colormap_rgb(CS_COLORMAP_JET, 1.f, col);
    int cy, cu, cv;
    yuv601(col[0], col[1], col[2], &cy, &cu, &cv);
    const guint8 *Y = out, *U = out + W * H, *V = U + W * H / 4;
    int ey = (int)lround((1 - alpha) * BGY + alpha * cy);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int inside = x >= 8 && x < 40 && y < 32;
            if (inside && y >= 20)
                assert_true(abs(Y[y * W + x] - ey) <= 1);
            else if (!inside || y < 12)
                assert_int_equal(Y[y * W + x], BGY);
        }
    /* chroma of a block well inside the v = 1 region, and of one outside */
    assert_true(abs(U[12 * (W / 2) + 10] - (int)lround((1 - alpha) * BGY + alpha * cu)) <= 1);
    assert_true(abs(V[12 * (W / 2) + 10] - (int)lround((1 - alpha) * BGY + alpha * cv)) <= 1);
    assert_int_equal(U[12 * (W / 2) + 25], BGY);
    assert_int_equal(V[20 * (W / 2) + 10], BGY);
    g_free(out);
    gst_harness_teardown(hr);
}

/* ---- labels (text) ------------------------------------------------------------------------ */

static int changed_rgb(const guint8 *out, int w, int x0, int y0, int x1, int y1)
{
    int n = 0;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) {
            const guint8 *p = px(out, w, x, y);
            n += p[0] != BG || p[1] != BG || p[2] != BG;
        }
    return n;
}

/* The vector loops (8 RGB or BGRx pixels, 16 Y samples at a time) and the scalar ones (the
 * row's tail) must put down the same bytes. The map (5×7, values beyond [0,1] and a NaN) covers
 * x 2..70 of a frame 60 or 44 wide: each width clips it differently, so columns 34..43 are
 * drawn by the tail loop at width 44 and by the vector loop at width 60; and RGB (3-byte
 * pixels) must equal BGRx (4-byte pixels) byte for byte. */
static guint8 pattern(int x, int y, int c)
{
    return (guint8)((x * 37 + y * 91 + c * 53) & 255);
}

/* The frame's first plane after csoverlay, as an array of w·h·bytes-per-pixel (R,G,B order for
 * packed formats, Y for I420). */
static guint8 *heat_plane(const char *fmt, int w, int h)
{
    GstHarness *hr = harness(fmt, w, h);
    g_object_set(hr->element, "alpha", 0.45, "threshold", 0.3, "colormap", CS_COLORMAP_TURBO,
                 "boxes", FALSE, "labels", FALSE, "keypoints", FALSE, NULL);
    GstVideoInfo info;
    gst_video_info_set_format(&info, gst_video_format_from_string(fmt), (guint)w, (guint)h);
    GstBuffer *b = gst_buffer_new_allocate(NULL, GST_VIDEO_INFO_SIZE(&info), NULL);
    GstVideoFrame f;
    assert_true(gst_video_frame_map(&f, &info, b, GST_MAP_WRITE));
    gboolean yuv = GST_VIDEO_INFO_IS_YUV(&info);
    for (guint pl = 0; pl < GST_VIDEO_FRAME_N_PLANES(&f); pl++) {
        guint8 *d = GST_VIDEO_FRAME_PLANE_DATA(&f, pl);
        int st = GST_VIDEO_FRAME_PLANE_STRIDE(&f, pl);
        for (int y = 0; y < (int)GST_VIDEO_FRAME_COMP_HEIGHT(&f, pl); y++)
            for (int i = 0; i < st; i++) d[y * st + i] = pattern(i, y, (int)pl);
    }
    if (!yuv) { /* packed: the same R, G, B at (x, y) whatever the byte order */
        guint8 *d = GST_VIDEO_FRAME_PLANE_DATA(&f, 0);
        int st = GST_VIDEO_FRAME_PLANE_STRIDE(&f, 0), ps = GST_VIDEO_FRAME_COMP_PSTRIDE(&f, 0);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int c = 0; c < 3; c++)
                    d[y * st + x * ps + GST_VIDEO_FRAME_COMP_POFFSET(&f, c)] = pattern(x, y, c);
    }
    gst_video_frame_unmap(&f);
    float map[35];
    for (int i = 0; i < 35; i++) map[i] = -0.2f + 1.5f * (float)((i * 17) % 35) / 34.f;
    map[12] = NAN;
    CsHeatmapMeta *hm = cs_buffer_add_heatmap_meta(b, "gradcam", 1, "cat", 1.f, NULL, 5, 7, map);
    hm->tensor_width = 68;
    hm->tensor_height = 36;
    hm->to_frame = (CsTransform2D){1, 1, 2, 0};
    assert_int_equal(gst_harness_push(hr, b), GST_FLOW_OK);
    GstBuffer *out = gst_harness_pull(hr);
    assert_true(gst_video_frame_map(&f, &info, out, GST_MAP_READ));
    int bpp = yuv ? 1 : 3;
    guint8 *r = g_malloc((gsize)w * h * bpp);
    const guint8 *d = GST_VIDEO_FRAME_PLANE_DATA(&f, 0);
    int st = GST_VIDEO_FRAME_PLANE_STRIDE(&f, 0), ps = GST_VIDEO_FRAME_COMP_PSTRIDE(&f, 0);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < bpp; c++)
                r[(y * w + x) * bpp + c] = d[y * st + x * ps + GST_VIDEO_FRAME_COMP_POFFSET(&f, c)];
    gst_video_frame_unmap(&f);
    gst_buffer_unref(out);
    gst_harness_teardown(hr);
    return r;
}

static void test_heatmap_paths(void **state)
{
    (void)state;
    const int wide = 60, narrow = 44, h = 36;
    const char *fmts[] = {"RGB", "BGRx", "I420"};
    guint8 *p[3][2];
    for (int f = 0; f < 3; f++) {
        p[f][0] = heat_plane(fmts[f], wide, h);
        p[f][1] = heat_plane(fmts[f], narrow, h);
    }
    for (int f = 0; f < 3; f++) {
        int bpp = f == 2 ? 1 : 3, changed = 0, kept = 0;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < narrow; x++)
                for (int c = 0; c < bpp; c++) {
                    guint8 a = p[f][0][(y * wide + x) * bpp + c],
                           b = p[f][1][(y * narrow + x) * bpp + c];
                    if (a != b)
                        fail_msg("%s (%d,%d)[%d]: %d at width %d, %d at width %d", fmts[f], x, y, c,
                                 a, wide, b, narrow);
                    guint8 orig = f == 2 ? pattern(x, y, 0) : pattern(x, y, c);
                    if (a != orig)
                        changed++;
                    else
                        kept++;
                }
        /* both the blend and the threshold (and the NaN) were at work */
        assert_true(changed > 100);
        assert_true(kept > 20);
    }
    assert_memory_equal(p[0][0], p[1][0], (size_t)wide * h * 3); /* RGB = BGRx */
    for (int f = 0; f < 3; f++) {
        g_free(p[f][0]);
        g_free(p[f][1]);
    }
}

static void test_labels(void **state)
{
    (void)state;
    const int w = 160, h = 120;
    GstHarness *hr = harness("RGB", w, h);
    g_object_set(hr->element, "boxes", FALSE, "font", "Sans 10", "box-color", 0xff000080u,
                 "text-color", 0xffffff00u, NULL);
    GstBuffer *b = rgb_frame(w, h);
    add_box(b, 40, 60, 50, 30, "person");
    guint8 *out = run(hr, b, NULL);
    /* the label sits above the box: its background and glyphs change pixels there */
    int above = changed_rgb(out, w, 40, 30, 120, 60);
    assert_true(above > 200);
    /* text pixels: yellow-ish glyphs on the navy background */
    int text = 0;
    for (int y = 30; y < 60; y++)
        for (int x = 40; x < 120; x++) {
            const guint8 *p = px(out, w, x, y);
            text += p[0] > 200 && p[1] > 200 && p[2] < 100;
        }
    assert_true(text > 10);
    /* nothing below the label (no boxes layer) or left of it */
    assert_int_equal(changed_rgb(out, w, 0, 61, w, h), 0);
    assert_int_equal(changed_rgb(out, w, 0, 0, 40, h), 0);
    g_free(out);

    /* the top-1 class in the bottom-left corner */
    b = rgb_frame(w, h);
    CsClassificationMeta *c = cs_buffer_add_classification_meta(b, 1, 10, "test");
    cs_classification_meta_set(c, 0, 4, "cat", 3.f, 0.9f);
    out = run(hr, b, NULL);
    assert_true(changed_rgb(out, w, 0, h - 20, 60, h) > 100);
    assert_int_equal(changed_rgb(out, w, 0, 0, w, h - 40), 0);
    g_free(out);

    /* I420: label pixels change Y above the box, nothing below */
    gst_harness_teardown(hr);
    hr = harness("I420", w, h);
    g_object_set(hr->element, "boxes", FALSE, NULL);
    b = i420_frame(w, h);
    add_box(b, 40, 60, 50, 30, "person");
    out = run(hr, b, NULL);
    int n = 0, below = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int d = out[y * w + x] != BGY;
            if (y >= 30 && y < 60) n += d;
            if (y >= 62) below += d;
        }
    assert_true(n > 200);
    assert_int_equal(below, 0);
    g_free(out);
    gst_harness_teardown(hr);
}

/* ---- keypoints and skeleton ----------------------------------------------------------------- */

static void test_keypoints(void **state)
{
    (void)state;
    for (int fmt = 0; fmt < 2; fmt++) {
        GstHarness *hr = harness(fmt ? "I420" : "RGB", W, H);
        g_object_set(hr->element, "boxes", FALSE, "labels", FALSE, "keypoint-color", 0xff0000ffu,
                     "skeleton-color", 0xff00ff00u, "keypoint-radius", 3.0, "line-width", 2, NULL);
        GstBuffer *b = fmt ? i420_frame(W, H) : rgb_frame(W, H);
        CsDetectionsMeta *d = cs_buffer_add_detections_meta(b);
        guint i =
            cs_detections_meta_add(d, 5, 5, 50, 20, -1, NULL, 1.f, CS_DETECTION_SOURCE_REGRESSION);
        CsKeypoint kp[2] = {{10.f, 10.f, -1.f}, {50.f, 10.f, -1.f}};
        cs_detections_meta_set_keypoints(d, i, 2, kp);
        guint edges[2] = {0, 1};
        cs_detections_meta_set_skeleton(d, 1, edges);
        guint8 *out = run(hr, b, NULL);
        if (!fmt) {
            assert_rgb(out, W, 10, 10, 0, 0, 255, 0); /* keypoint */
            assert_rgb(out, W, 8, 9, 0, 0, 255, 0);   /* inside its disc (r = 3) */
            assert_rgb(out, W, 30, 9, 0, 255, 0, 0);  /* edge between the keypoints */
            assert_rgb(out, W, 30, 10, 0, 255, 0, 0);
            assert_rgb(out, W, 30, 14, BG, BG, BG, 0); /* beside the edge */
            assert_rgb(out, W, 10, 20, BG, BG, BG, 0);
            assert_int_equal(changed_rgb(out, W, 0, 16, W, H), 0);
        } else {
            int ey, eu, ev;
            yuv601(0, 0, 255, &ey, &eu, &ev);
            assert_true(abs(out[10 * W + 10] - ey) <= 1);
            yuv601(0, 255, 0, &ey, &eu, &ev);
            assert_true(abs(out[10 * W + 30] - ey) <= 1);
            assert_int_equal(out[20 * W + 30], BGY);
        }
        g_free(out);
        gst_harness_teardown(hr);
    }
}

/* Metas with NaN, infinite and huge values draw nothing outside the frame and do not crash. */
static void test_garbage_metas(void **state)
{
    (void)state;
    const char *fmts[] = {"RGB", "I420"};
    for (size_t f = 0; f < G_N_ELEMENTS(fmts); f++) {
        GstHarness *hr = harness(fmts[f], W, H);
        GstBuffer *b = f ? i420_frame(W, H) : rgb_frame(W, H);
        CsDetectionsMeta *d = cs_buffer_add_detections_meta(b);
        cs_detections_meta_add(d, NAN, 3, 10, 10, 0, "nan", 1.f, CS_DETECTION_SOURCE_REGRESSION);
        cs_detections_meta_add(d, -1e30f, -1e30f, 1e30f, 1e30f, 0, "huge", 1.f,
                               CS_DETECTION_SOURCE_REGRESSION);
        cs_detections_meta_add(d, 1e9f, 1e9f, 5, 5, 0, "far", 1.f, CS_DETECTION_SOURCE_REGRESSION);
        guint i = cs_detections_meta_add(d, 1e9f, 1e9f, 5, 5, 0, NULL, 1.f,
                                         CS_DETECTION_SOURCE_REGRESSION);
        CsKeypoint kp[3] = {{NAN, 1.f, 0.f}, {INFINITY, -INFINITY, 0.f}, {1e20f, -1e20f, 0.f}};
        cs_detections_meta_set_keypoints(d, i, 3, kp);
        guint edges[6] = {0, 1, 1, 2, 2, 7};
        cs_detections_meta_set_skeleton(d, 3, edges);
        float map[4] = {0, 1, NAN, 0.5f};
        CsHeatmapMeta *h = cs_buffer_add_heatmap_meta(b, "gradcam", 0, NULL, 0.f, NULL, 2, 2, map);
        h->to_frame = (CsTransform2D){1e12, 1e12, -1e13, 5e12};
        guint8 *out = run(hr, b, NULL);
        g_free(out);
        gst_harness_teardown(hr);
    }
}

/* ---- properties ---------------------------------------------------------------------------- */

static void test_properties(void **state)
{
    (void)state;
    GstElement *e = gst_element_factory_make("csoverlay", NULL);
    gdouble alpha, thr;
    gint cmap;
    guint lw, bc;
    gchar *font;
    gboolean hm;
    g_object_get(e, "alpha", &alpha, "threshold", &thr, "colormap", &cmap, "line-width", &lw,
                 "box-color", &bc, "font", &font, "heatmap", &hm, NULL);
    assert_true(fabs(alpha - 0.5) < 1e-9 && fabs(thr - 0.2) < 1e-9);
    assert_int_equal(cmap, CS_COLORMAP_JET);
    assert_int_equal(lw, 2);
    assert_int_equal(bc, 0xff00ff00u);
    assert_string_equal(font, "Sans 12");
    assert_true(hm);
    g_free(font);
    gst_util_set_object_arg(G_OBJECT(e), "colormap", "viridis");
    g_object_get(e, "colormap", &cmap, NULL);
    assert_int_equal(cmap, CS_COLORMAP_VIRIDIS);
    gst_util_set_object_arg(G_OBJECT(e), "colormap", "inferno");
    g_object_get(e, "colormap", &cmap, NULL);
    assert_int_equal(cmap, CS_COLORMAP_INFERNO);

    /* out-of-range values are refused by the param specs */
    const char *names[] = {"alpha", "threshold", "keypoint-radius"};
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        GParamSpec *ps = g_object_class_find_property(G_OBJECT_GET_CLASS(e), names[i]);
        GValue v = G_VALUE_INIT;
        g_value_init(&v, G_TYPE_DOUBLE);
        g_value_set_double(&v, 100.0);
        assert_true(g_param_value_validate(ps, &v)); /* TRUE: the value had to be changed */
        g_value_unset(&v);
    }
    GParamSpec *ps = g_object_class_find_property(G_OBJECT_GET_CLASS(e), "line-width");
    GValue v = G_VALUE_INIT;
    g_value_init(&v, G_TYPE_UINT);
    g_value_set_uint(&v, 0);
    assert_true(g_param_value_validate(ps, &v));
    g_value_unset(&v);
    gst_object_unref(e);

    /* an unknown colormap in a launch line is an error */
    GError *err = NULL;
    GstElement *p = gst_parse_launch("csoverlay colormap=rainbow", &err);
    assert_non_null(err);
    g_clear_error(&err);
    if (p) gst_object_unref(p);
    p = gst_parse_launch("csoverlay heatmap=maybe", &err);
    assert_non_null(err);
    g_clear_error(&err);
    if (p) gst_object_unref(p);
}

/* ---- speed ---------------------------------------------------------------------------------- */

static void fill_scene(GstBuffer *b)
{
    float map[7 * 7];
    for (int i = 0; i < 49; i++) map[i] = (float)((i * 37) % 49) / 48.f;
    CsHeatmapMeta *h = cs_buffer_add_heatmap_meta(b, "gradcam", 1, "cat", 1.f, NULL, 7, 7, map);
    h->tensor_width = h->tensor_height = 224;
    h->to_frame = (CsTransform2D){640.0 / 224, 480.0 / 224, 0, 0};
    CsDetectionsMeta *d = cs_buffer_add_detections_meta(b);
    CsKeypoint kp[17];
    guint edges[32];
    for (int k = 0; k < 17; k++)
        kp[k] = (CsKeypoint){(float)(100 + 20 * k), (float)(150 + 7 * k), 0.5f};
    for (int e = 0; e < 16; e++) {
        edges[2 * e] = (guint)e;
        edges[2 * e + 1] = (guint)e + 1;
    }
    for (int i = 0; i < 5; i++) {
        guint k = cs_detections_meta_add(d, 30.f + 110 * i, 60.f + 20 * i, 90, 160, i, "person",
                                         0.9f, CS_DETECTION_SOURCE_REGRESSION);
        if (i == 0) cs_detections_meta_set_keypoints(d, k, 17, kp);
    }
    cs_detections_meta_set_skeleton(d, 16, edges);
    CsClassificationMeta *c = cs_buffer_add_classification_meta(b, 1, 1000, "bench");
    cs_classification_meta_set(c, 0, 281, "tabby cat", 7.f, 0.93f);
}

static double thread_cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* The element runs in this thread (harness push → chain → transform): its CPU time is
 * measured without the noise of other processes on a busy machine; the wall-clock best is
 * printed too. */
static void test_speed(void **state)
{
    (void)state;
    const char *fmts[] = {"RGB", "BGRx", "I420", "NV12"};
    const int n = 100;
    for (size_t f = 0; f < G_N_ELEMENTS(fmts); f++) {
        GstHarness *hr = harness(fmts[f], 640, 480);
        GstVideoInfo info;
        gst_video_info_set_format(&info, gst_video_format_from_string(fmts[f]), 640, 480);
        double best = 1e9, cpu = 0;
        for (int i = 0; i < n + 5; i++) {
            GstBuffer *b = gst_buffer_new_allocate(NULL, GST_VIDEO_INFO_SIZE(&info), NULL);
            gst_buffer_memset(b, 0, 0x50, GST_VIDEO_INFO_SIZE(&info));
            fill_scene(b);
            gint64 t0 = g_get_monotonic_time();
            double c0 = thread_cpu_us();
            assert_int_equal(gst_harness_push(hr, b), GST_FLOW_OK);
            GstBuffer *out = gst_harness_pull(hr);
            double dc = thread_cpu_us() - c0;
            gint64 dt = g_get_monotonic_time() - t0;
            gst_buffer_unref(out);
            if (i >= 5) { /* warm-up: fonts, tables */
                cpu += dc;
                best = MIN(best, (double)dt);
            }
        }
        double mean_ms = cpu / n / 1000.0;
        printf("csoverlay 640x480 %-4s heatmap + 5 boxes + 6 labels + 17 keypoints: CPU %.3f ms "
               "per frame (%.1f%% of 33.3 ms), wall best %.3f ms\n",
               fmts[f], mean_ms, 100.0 * mean_ms / 33.333, best / 1000.0);
        /* Printed, not asserted: speed belongs in benchmarks (bench/pipeline.sh). */
        gst_harness_teardown(hr);
    }
}

static void setup_env(void)
{
    const char *build = g_getenv("CS_BUILD_DIR");
    if (!build) build = ".";
    if (!g_getenv("GST_PLUGIN_PATH")) {
        gchar *p = g_build_filename(build, "elements", NULL);
        g_setenv("GST_PLUGIN_PATH", p, TRUE);
        g_free(p);
    }
    if (!g_getenv("GST_REGISTRY")) {
        gchar *p = g_build_filename(build, "tests", "elements", "registry-csoverlay.bin", NULL);
        g_setenv("GST_REGISTRY", p, TRUE);
        g_free(p);
    }
    g_setenv("GST_PLUGIN_SYSTEM_PATH_1_0", "", FALSE);
}

int main(void)
{
    setup_env();
    gst_init(NULL, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_caps),          cmocka_unit_test(test_passthrough),
        cmocka_unit_test(test_box_rgb),       cmocka_unit_test(test_box_i420),
        cmocka_unit_test(test_heatmap_rgb),   cmocka_unit_test(test_heatmap_i420),
        cmocka_unit_test(test_heatmap_paths), cmocka_unit_test(test_labels),
        cmocka_unit_test(test_keypoints),     cmocka_unit_test(test_garbage_metas),
        cmocka_unit_test(test_properties),    cmocka_unit_test(test_speed),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    gst_deinit();
    return rc;
}
