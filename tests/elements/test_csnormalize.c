/* csnormalize: GstHarness tests. Caps accepted and refused; known frames give known tensor
 * values for several formats and presets; letterbox padding and the to_frame mapping; a ZCA
 * statistics file; the model property (a description or a bare ONNX file) sets the size and
 * the preprocessing; bad property values are refused; missing or corrupt files stop the
 * pipeline with the parser's file:line message; the frame itself passes through unchanged;
 * the time per 640×480 frame is printed; the threads property (default 0) gives the same
 * tensor bytes for any thread count.
 *
 * The registry is isolated (tests/elements/meson.build sets GST_REGISTRY_1_0 and
 * GST_PLUGIN_PATH). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <glib/gstdio.h>
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gst/video/video.h>

#include <gst/camstream/camstream-meta.h>

static gchar *src_file(const char *rel)
{
    const char *src = g_getenv("CS_SOURCE_DIR");
    return g_build_filename(src ? src : ".", rel, NULL);
}

static GstHarness *harness(const char *fmt, int w, int h, const char *props)
{
    gchar *desc = g_strdup_printf("csnormalize %s", props ? props : "");
    GstHarness *hr = gst_harness_new_parse(desc);
    g_free(desc);
    gchar *caps =
        g_strdup_printf("video/x-raw,format=%s,width=%d,height=%d,framerate=30/1", fmt, w, h);
    gst_harness_set_src_caps_str(hr, caps);
    g_free(caps);
    return hr;
}

/* A frame of the format filled with one colour given as per-plane byte patterns. */
static GstBuffer *frame(const char *fmt, int w, int h, const guint8 *pattern, int plen,
                        const guint8 *chroma, int clen)
{
    GstVideoInfo info;
    gst_video_info_set_format(&info, gst_video_format_from_string(fmt), w, h);
    GstBuffer *b = gst_buffer_new_allocate(NULL, GST_VIDEO_INFO_SIZE(&info), NULL);
    gst_buffer_add_video_meta_full(b, GST_VIDEO_FRAME_FLAG_NONE, GST_VIDEO_INFO_FORMAT(&info), w, h,
                                   GST_VIDEO_INFO_N_PLANES(&info), info.offset, info.stride);
    GstVideoFrame f;
    assert_true(gst_video_frame_map(&f, &info, b, GST_MAP_WRITE));
    for (guint p = 0; p < GST_VIDEO_FRAME_N_PLANES(&f); p++) {
        guint8 *d = GST_VIDEO_FRAME_PLANE_DATA(&f, p);
        int stride = GST_VIDEO_FRAME_PLANE_STRIDE(&f, p);
        int rows = GST_VIDEO_FRAME_COMP_HEIGHT(&f, p == 0 ? 0 : p);
        const guint8 *pat = p == 0 ? pattern : chroma ? chroma + (p - 1) * (clen / 2) : pattern;
        int n = p == 0   ? plen
                : chroma ? (GST_VIDEO_FRAME_N_PLANES(&f) == 2 ? clen : clen / 2)
                         : plen;
        for (int y = 0; y < rows; y++)
            for (int x = 0; x < stride; x++) d[y * stride + x] = pat[x % n];
    }
    gst_video_frame_unmap(&f);
    return b;
}

/* Pushes buf and pulls the output; returns it (unref) with its tensor meta in *m. */
static GstBuffer *push_pull(GstHarness *hr, GstBuffer *buf, CsTensorMeta **m)
{
    assert_int_equal(gst_harness_push(hr, buf), GST_FLOW_OK);
    GstBuffer *out = gst_harness_pull(hr);
    assert_non_null(out);
    *m = cs_buffer_get_tensor_meta_full(out, CS_TENSOR_ROLE_INPUT, NULL);
    assert_non_null(*m);
    return out;
}

static void assert_plane(const CsTensorMeta *m, int c, float want, float tol)
{
    gsize plane = (gsize)m->dims[2] * m->dims[3];
    for (gsize i = 0; i < plane; i++)
        if (!(fabsf(m->data[c * plane + i] - want) <= tol))
            fail_msg("channel %d pixel %zu = %.7g, want %.7g", c, (size_t)i, m->data[c * plane + i],
                     want);
}

/* The first error on the bus of `launch` set to PLAYING (NULL when none within 5 s). */
static gchar *pipeline_error(const char *launch)
{
    GError *gerr = NULL;
    GstElement *pipe = gst_parse_launch(launch, &gerr);
    assert_null(gerr);
    GstBus *bus = gst_element_get_bus(pipe);
    gst_element_set_state(pipe, GST_STATE_PLAYING);
    GstMessage *msg =
        gst_bus_timed_pop_filtered(bus, 5 * GST_SECOND, GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
    gchar *text = NULL;
    if (msg && GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
        GError *e = NULL;
        gchar *dbg = NULL;
        gst_message_parse_error(msg, &e, &dbg);
        text = g_strdup_printf("%s | %s", e->message, dbg ? dbg : "");
        g_error_free(e);
        g_free(dbg);
    }
    if (msg) gst_message_unref(msg);
    gst_element_set_state(pipe, GST_STATE_NULL);
    gst_object_unref(bus);
    gst_object_unref(pipe);
    return text;
}

/* ---- tests ------------------------------------------------------------------------------- */

static void caps_accepted_and_refused(void **state)
{
    (void)state;
    const char *ok[] = {"RGB", "BGR", "RGBA", "BGRA", "RGBx", "BGRx", "GRAY8", "I420", "NV12"};
    const guint8 px[4] = {10, 20, 30, 40}, uv[2] = {128, 128};
    for (size_t i = 0; i < G_N_ELEMENTS(ok); i++) {
        GstHarness *hr = harness(ok[i], 16, 12, "width=8 height=8");
        CsTensorMeta *m;
        GstBuffer *out = push_pull(hr, frame(ok[i], 16, 12, px, 4, uv, 2), &m);
        assert_int_equal(m->ndim, 4);
        assert_int_equal(m->dims[1], 3);
        assert_int_equal(m->dims[2], 8);
        assert_int_equal(m->dims[3], 8);
        gst_buffer_unref(out);
        gst_harness_teardown(hr);
    }
    const char *refused[] = {"YUY2", "ARGB", "GRAY16_LE", "RGB16"};
    for (size_t i = 0; i < G_N_ELEMENTS(refused); i++) {
        GstHarness *hr = harness(refused[i], 16, 12, "width=8 height=8");
        GstBuffer *b = gst_buffer_new_allocate(NULL, 16 * 12 * 4, NULL);
        assert_int_equal(gst_harness_push(hr, b), GST_FLOW_NOT_NEGOTIATED);
        gst_harness_teardown(hr);
    }
    /* The template lists exactly the nine formats. */
    GstElementFactory *f = gst_element_factory_find("csnormalize");
    assert_non_null(f);
    GstCaps *tmpl = NULL;
    for (const GList *l = gst_element_factory_get_static_pad_templates(f); l; l = l->next) {
        GstStaticPadTemplate *t = l->data;
        if (t->direction == GST_PAD_SINK) tmpl = gst_static_caps_get(&t->static_caps);
    }
    assert_non_null(tmpl);
    const GValue *formats = gst_structure_get_value(gst_caps_get_structure(tmpl, 0), "format");
    assert_int_equal(gst_value_list_get_size(formats), 9);
    gst_caps_unref(tmpl);
    gst_object_unref(f);
}

static void known_values_packed(void **state)
{
    (void)state;
    /* RGB (200, 100, 50), imagenet: (p/255 − mean)/std per channel. */
    const guint8 rgb[3] = {200, 100, 50};
    GstHarness *hr = harness("RGB", 20, 10, "width=6 height=4 preset=imagenet");
    CsTensorMeta *m;
    GstBuffer *out = push_pull(hr, frame("RGB", 20, 10, rgb, 3, NULL, 0), &m);
    assert_plane(m, 0, (200 / 255.0f - 0.485f) / 0.229f, 1e-5f);
    assert_plane(m, 1, (100 / 255.0f - 0.456f) / 0.224f, 1e-5f);
    assert_plane(m, 2, (50 / 255.0f - 0.406f) / 0.225f, 1e-5f);
    assert_int_equal(m->preprocessing.scale, CS_TENSOR_SCALE_01);
    assert_false(m->preprocessing.bgr);
    assert_int_equal(m->preprocessing.n_channels, 3);
    assert_true(fabsf(m->preprocessing.std[1] - 0.224f) < 1e-7f);
    assert_non_null(strstr(m->preprocessing.description, "preset=imagenet"));
    assert_string_equal(m->name, "input");
    assert_non_null(cs_buffer_get_timing_meta(out));
    assert_true(cs_timing_meta_get(cs_buffer_get_timing_meta(out), "csnormalize") > 0);
    gst_buffer_unref(out);
    gst_harness_teardown(hr);

    /* BGRx bytes (50, 100, 200, x) are R=200 G=100 B=50; caffe: B − 103.939, G − 116.779,
     * R − 123.68. */
    const guint8 bgrx[4] = {50, 100, 200, 0};
    hr = harness("BGRx", 20, 10, "width=6 height=4 preset=caffe");
    out = push_pull(hr, frame("BGRx", 20, 10, bgrx, 4, NULL, 0), &m);
    assert_plane(m, 0, 50 - 103.939f, 1e-4f);
    assert_plane(m, 1, 100 - 116.779f, 1e-4f);
    assert_plane(m, 2, 200 - 123.68f, 1e-4f);
    assert_true(m->preprocessing.bgr);
    assert_int_equal(m->preprocessing.scale, CS_TENSOR_SCALE_255);
    gst_buffer_unref(out);
    gst_harness_teardown(hr);

    /* GRAY8 with tf: p/127.5 − 1 in all three channels. Custom mean/std override the preset. */
    const guint8 g[1] = {51};
    hr = harness("GRAY8", 9, 9, "width=3 height=3 preset=tf");
    out = push_pull(hr, frame("GRAY8", 9, 9, g, 1, NULL, 0), &m);
    for (int c = 0; c < 3; c++) assert_plane(m, c, 51 / 127.5f - 1, 1e-5f);
    gst_buffer_unref(out);
    gst_harness_teardown(hr);
    hr = harness("RGBA", 8, 8,
                 "width=4 height=4 preset=none mean=0.5,0.5,0.5 std=0.5,0.25,1 "
                 "order=bgr");
    const guint8 rgba[4] = {255, 0, 51, 7};
    out = push_pull(hr, frame("RGBA", 8, 8, rgba, 4, NULL, 0), &m);
    assert_plane(m, 0, (51 / 255.0f - 0.5f) / 0.5f, 1e-5f); /* B */
    assert_plane(m, 1, (0 - 0.5f) / 0.25f, 1e-5f);
    assert_plane(m, 2, (1 - 0.5f) / 1, 1e-5f);
    assert_non_null(strstr(m->preprocessing.description, "preset=custom"));
    gst_buffer_unref(out);
    gst_harness_teardown(hr);
}

static void known_values_yuv(void **state)
{
    (void)state;
    /* Y = 120, U = 90, V = 200 in BT.601 limited range (the default colorimetry of these
     * caps). */
    double y = (120 - 16) * 255.0 / 219, u = (90 - 128) * 255.0 / 224,
           v = (200 - 128) * 255.0 / 224;
    double kr = 0.299, kb = 0.114, kg = 1 - kr - kb;
    double want[3] = {y + 2 * (1 - kr) * v,
                      y - 2 * kb * (1 - kb) / kg * u - 2 * kr * (1 - kr) / kg * v,
                      y + 2 * (1 - kb) * u};
    const guint8 Y[1] = {120}, i420_uv[2] = {90, 200}, nv12_uv[2] = {90, 200};
    const char *fmts[] = {"I420", "NV12"};
    for (int k = 0; k < 2; k++) {
        GstHarness *hr = harness(fmts[k], 32, 24, "width=8 height=6 preset=none");
        gchar *caps = g_strdup_printf("video/x-raw,format=%s,width=32,height=24,framerate=30/1,"
                                      "colorimetry=bt601",
                                      fmts[k]);
        gst_harness_set_src_caps_str(hr, caps);
        g_free(caps);
        CsTensorMeta *m;
        GstBuffer *out = push_pull(hr, frame(fmts[k], 32, 24, Y, 1, k ? nv12_uv : i420_uv, 2), &m);
        for (int c = 0; c < 3; c++) {
            double w = want[c] < 0 ? 0 : want[c] > 255 ? 255 : want[c];
            assert_plane(m, c, (float)(w / 255), 2e-4f);
        }
        gst_buffer_unref(out);
        gst_harness_teardown(hr);
    }
}

static void letterbox_mapping(void **state)
{
    (void)state;
    /* 64×48 into 32×32 letterbox: scale 2, image rows 4–27, padding 0 above and below. */
    const guint8 rgb[3] = {255, 255, 255};
    GstHarness *hr = harness("RGB", 64, 48, "width=32 height=32 resize-mode=letterbox");
    CsTensorMeta *m;
    GstBuffer *out = push_pull(hr, frame("RGB", 64, 48, rgb, 3, NULL, 0), &m);
    assert_int_equal(m->preprocessing.resize, CS_TENSOR_RESIZE_LETTERBOX);
    assert_true(m->to_frame.scale_x == 2 && m->to_frame.scale_y == 2);
    assert_true(m->to_frame.offset_x == 0 && m->to_frame.offset_y == -8);
    assert_int_equal(m->frame_width, 64);
    assert_int_equal(m->frame_height, 48);
    gdouble fx, fy;
    cs_transform_2d_apply(&m->to_frame, 32, 28, &fx, &fy);
    assert_true(fx == 64 && fy == 48);
    for (int c = 0; c < 3; c++)
        for (int v = 0; v < 32; v++)
            for (int x = 0; x < 32; x++) {
                float val = m->data[(c * 32 + v) * 32 + x];
                float want = v < 4 || v >= 28 ? 0.0f
                                              : (1 - (c == 0   ? 0.485f
                                                      : c == 1 ? 0.456f
                                                               : 0.406f)) /
                                                    (c == 0   ? 0.229f
                                                     : c == 1 ? 0.224f
                                                              : 0.225f);
                if (fabsf(val - want) > 1e-5f)
                    fail_msg("c %d (%d,%d) = %g, want %g", c, x, v, val, want);
            }
    assert_int_equal(m->frame_index, 0);
    gst_buffer_unref(out);
    out = push_pull(hr, frame("RGB", 64, 48, rgb, 3, NULL, 0), &m);
    assert_int_equal(m->frame_index, 1);
    gst_buffer_unref(out);
    gst_harness_teardown(hr);

    /* Crop of 64×48 into 16×16: scale 3, centre 48×48 from x = 8. */
    hr = harness("RGB", 64, 48, "width=16 height=16 resize-mode=crop");
    out = push_pull(hr, frame("RGB", 64, 48, rgb, 3, NULL, 0), &m);
    assert_true(m->to_frame.scale_x == 3 && m->to_frame.offset_x == 8 && m->to_frame.offset_y == 0);
    gst_buffer_unref(out);
    gst_harness_teardown(hr);
}

static void frame_passes_unchanged(void **state)
{
    (void)state;
    const guint8 pat[7] = {1, 2, 3, 4, 5, 6, 250};
    GstHarness *hr = harness("RGB", 30, 20, "width=10 height=10");
    GstBuffer *in = frame("RGB", 30, 20, pat, 7, NULL, 0);
    GstMapInfo a;
    gst_buffer_map(in, &a, GST_MAP_READ);
    guint8 *copy = g_memdup2(a.data, a.size);
    gsize size = a.size;
    gst_buffer_unmap(in, &a);
    CsTensorMeta *m;
    GstBuffer *out = push_pull(hr, in, &m);
    GstMapInfo b;
    gst_buffer_map(out, &b, GST_MAP_READ);
    assert_int_equal(b.size, size);
    assert_memory_equal(b.data, copy, size);
    gst_buffer_unmap(out, &b);
    gst_buffer_unref(out);
    g_free(copy);
    gst_harness_teardown(hr);
}

static void zca_statistics(void **state)
{
    (void)state;
    gchar *stats = src_file("tests/data/formats/zca.stats");
    gchar *props = g_strdup_printf("width=4 height=4 statistics=%s", stats);
    GstHarness *hr = harness("RGB", 8, 8, props);
    const guint8 rgb[3] = {0, 128, 255};
    CsTensorMeta *m;
    GstBuffer *out = push_pull(hr, frame("RGB", 8, 8, rgb, 3, NULL, 0), &m);
    /* x = W (s − μ), W = [[4,−1,0],[−1,5,−1],[0,−1,6]], μ = (0.5, 0.4, 0.3). */
    double d[3] = {0 - 0.5, 128 / 255.0 - 0.4, 1 - 0.3};
    assert_plane(m, 0, (float)(4 * d[0] - d[1]), 1e-4f);
    assert_plane(m, 1, (float)(-d[0] + 5 * d[1] - d[2]), 1e-4f);
    assert_plane(m, 2, (float)(-d[1] + 6 * d[2]), 1e-4f);
    assert_int_equal(m->preprocessing.whitening, CS_TENSOR_WHITEN_ZCA);
    assert_non_null(strstr(m->preprocessing.description, "kind=zca"));
    assert_non_null(strstr(m->preprocessing.description, "fitted_on=example/train"));
    gst_buffer_unref(out);
    gst_harness_teardown(hr);
    g_free(props);
    g_free(stats);
}

static void model_property(void **state)
{
    (void)state;
    /* The description: 3×32×32, imagenet, letterbox. */
    gchar *desc = src_file("tests/data/formats/gap_cnn.model");
    gchar *props = g_strdup_printf("model=%s", desc);
    GstHarness *hr = harness("RGB", 64, 32, props);
    const guint8 rgb[3] = {128, 128, 128};
    CsTensorMeta *m;
    GstBuffer *out = push_pull(hr, frame("RGB", 64, 32, rgb, 3, NULL, 0), &m);
    assert_int_equal(m->dims[2], 32);
    assert_int_equal(m->dims[3], 32);
    assert_string_equal(m->name, "input");
    assert_int_equal(m->preprocessing.resize, CS_TENSOR_RESIZE_LETTERBOX);
    assert_true(m->to_frame.offset_y == -16);
    /* A property overrides the description. */
    GstElement *e = gst_harness_find_element(hr, "csnormalize");
    gst_util_set_object_arg(G_OBJECT(e), "resize-mode", "stretch");
    gst_object_unref(e);
    gst_buffer_unref(out);
    out = push_pull(hr, frame("RGB", 64, 32, rgb, 3, NULL, 0), &m);
    assert_int_equal(m->preprocessing.resize, CS_TENSOR_RESIZE_STRETCH);
    gst_buffer_unref(out);
    gst_harness_teardown(hr);
    g_free(props);
    g_free(desc);

    /* A bare ONNX file: its size, imagenet, stretch. */
    gchar *onnx = src_file("tests/models/gap_cnn_op13/model.onnx");
    props = g_strdup_printf("model=%s", onnx);
    hr = harness("NV12", 64, 32, props);
    const guint8 y[1] = {128}, uv[2] = {128, 128};
    out = push_pull(hr, frame("NV12", 64, 32, y, 1, uv, 2), &m);
    assert_int_equal(m->dims[2], 32);
    assert_int_equal(m->preprocessing.resize, CS_TENSOR_RESIZE_STRETCH);
    gst_buffer_unref(out);
    gst_harness_teardown(hr);
    g_free(props);
    g_free(onnx);
}

static void bad_property_values(void **state)
{
    (void)state;
    GstElement *e = gst_element_factory_make("csnormalize", NULL);
    assert_non_null(e);
    gchar *s = NULL;
    g_object_set(e, "mean", "0.1,0.2,0.3", NULL);
    g_object_get(e, "mean", &s, NULL);
    assert_string_equal(s, "0.1,0.2,0.3");
    g_free(s);
    g_object_set(e, "mean", "abc", NULL); /* refused: the previous value stays */
    g_object_get(e, "mean", &s, NULL);
    assert_string_equal(s, "0.1,0.2,0.3");
    g_free(s);
    g_object_set(e, "mean", "1,2", NULL);
    g_object_get(e, "mean", &s, NULL);
    assert_string_equal(s, "0.1,0.2,0.3");
    g_free(s);
    g_object_set(e, "mean", NULL, NULL); /* back to the preset */
    g_object_get(e, "mean", &s, NULL);
    assert_null(s);
    g_object_set(e, "std", "1,0,1", NULL); /* zero std refused */
    g_object_get(e, "std", &s, NULL);
    assert_null(s);
    /* Enums by nick; an unknown nick leaves the value. */
    gst_util_set_object_arg(G_OBJECT(e), "resize-mode", "letterbox");
    gint mode = 0;
    g_object_get(e, "resize-mode", &mode, NULL);
    assert_int_equal(mode, 2);
    gst_util_set_object_arg(G_OBJECT(e), "preset", "caffe");
    g_object_get(e, "preset", &mode, NULL);
    assert_int_equal(mode, 2);
    /* Ranges are in the param specs. */
    GParamSpec *ps = g_object_class_find_property(G_OBJECT_GET_CLASS(e), "width");
    assert_int_equal(G_PARAM_SPEC_INT(ps)->minimum, 0);
    assert_int_equal(G_PARAM_SPEC_INT(ps)->maximum, 8192);
    gst_object_unref(e);
    /* gst-launch refuses an unknown enum value. */
    GError *gerr = NULL;
    GstElement *pipe = gst_parse_launch("fakesrc ! csnormalize resize-mode=fit ! fakesink", &gerr);
    assert_non_null(gerr);
    g_clear_error(&gerr);
    if (pipe) gst_object_unref(pipe);
}

static void errors_name_the_file(void **state)
{
    (void)state;
    gchar *text = pipeline_error("videotestsrc num-buffers=1 ! csnormalize ! fakesink");
    assert_non_null(text);
    assert_non_null(strstr(text, "no model input size"));
    g_free(text);
    text = pipeline_error(
        "videotestsrc num-buffers=1 ! csnormalize model=/nonexistent/x.model ! fakesink");
    assert_non_null(text);
    assert_non_null(strstr(text, "/nonexistent/x.model"));
    g_free(text);
    text = pipeline_error(
        "videotestsrc num-buffers=1 ! csnormalize model=/nonexistent/x.onnx ! fakesink");
    assert_non_null(text);
    assert_non_null(strstr(text, "/nonexistent/x.onnx"));
    g_free(text);

    /* A corrupt statistics file: its file:line: key: reason. */
    gchar *dir = g_dir_make_tmp("cs-norm-XXXXXX", NULL);
    gchar *bad = g_build_filename(dir, "bad.stats", NULL);
    g_file_set_contents(bad,
                        "[statistics]\nkind = zca\nchannels = 3\nmean = 0;0;0\n"
                        "matrix = 1;2;x;4;5;6;7;8;9\n",
                        -1, NULL);
    gchar *launch = g_strdup_printf(
        "videotestsrc num-buffers=1 ! csnormalize width=8 height=8 statistics=%s ! fakesink", bad);
    text = pipeline_error(launch);
    assert_non_null(text);
    gchar *want = g_strdup_printf("%s:5: matrix: number 3 ('x') is not a finite number", bad);
    if (!strstr(text, want)) fail_msg("'%s' lacks '%s'", text, want);
    g_free(want);
    g_free(text);
    g_free(launch);
    /* A corrupt model description. */
    gchar *badm = g_build_filename(dir, "bad.model", NULL);
    g_file_set_contents(badm, "[model]\nfile = m.onnx\n[preprocess]\nresize = fit\n", -1, NULL);
    launch = g_strdup_printf("videotestsrc num-buffers=1 ! csnormalize model=%s ! fakesink", badm);
    text = pipeline_error(launch);
    assert_non_null(text);
    want = g_strdup_printf("%s:4: resize: 'fit' is not one of stretch, letterbox, crop", badm);
    if (!strstr(text, want)) fail_msg("'%s' lacks '%s'", text, want);
    g_free(want);
    g_free(text);
    g_free(launch);
    /* A size that does not fit the model. */
    gchar *onnx = src_file("tests/models/gap_cnn_op13/model.onnx");
    launch = g_strdup_printf(
        "videotestsrc num-buffers=1 ! csnormalize model=%s width=64 height=64 ! fakesink", onnx);
    text = pipeline_error(launch);
    assert_non_null(text);
    assert_non_null(strstr(text, "64x64 does not fit the model input 32x32"));
    g_free(text);
    g_free(launch);
    /* Statistics for 1 channel with a 3-channel model. */
    gchar *one = g_build_filename(dir, "one.stats", NULL);
    g_file_set_contents(one, "[statistics]\nkind = mean-std\nchannels = 1\nmean = 0.5\nstd = 0.2\n",
                        -1, NULL);
    launch = g_strdup_printf(
        "videotestsrc num-buffers=1 ! csnormalize model=%s statistics=%s ! fakesink", onnx, one);
    text = pipeline_error(launch);
    assert_non_null(text);
    assert_non_null(strstr(text, "statistics for 1 channels, the model takes 3"));
    g_free(text);
    g_free(launch);
    g_free(onnx);
    g_unlink(bad);
    g_unlink(badm);
    g_unlink(one);
    g_rmdir(dir);
    g_free(bad);
    g_free(badm);
    g_free(one);
    g_free(dir);
}

static void speed_640x480(void **state)
{
    (void)state;
    const char *fmts[] = {"NV12", "RGB"};
    for (int k = 0; k < 2; k++) {
        GstHarness *hr = harness(fmts[k], 640, 480, "width=224 height=224 resize-mode=letterbox");
        const guint8 p[3] = {10, 128, 200};
        GstBuffer *f = frame(fmts[k], 640, 480, p, 3, p, 2);
        CsTensorMeta *m;
        gst_buffer_unref(push_pull(hr, gst_buffer_copy(f), &m)); /* warm up */
        const int n = 30;
        gint64 t0 = g_get_monotonic_time();
        for (int i = 0; i < n; i++) gst_buffer_unref(push_pull(hr, gst_buffer_copy(f), &m));
        double ms = (g_get_monotonic_time() - t0) / 1000.0 / n;
        printf("# csnormalize 640x480 %s -> 3x224x224 letterbox: %.3f ms/frame\n", fmts[k], ms);
        gst_buffer_unref(f);
        gst_harness_teardown(hr);
        /* printed, not asserted: speed belongs in benchmarks */
    }
}

/* The same frame through threads=1, 2, 3 and the default (0: all cores): equal tensors. */
static void threads_same_tensor(void **state)
{
    (void)state;
    GstElement *e = gst_element_factory_make("csnormalize", NULL);
    GParamSpec *ps = g_object_class_find_property(G_OBJECT_GET_CLASS(e), "threads");
    assert_non_null(ps);
    assert_int_equal(G_PARAM_SPEC_INT(ps)->default_value, 0);
    gst_object_unref(e);
    const char *fmts[] = {"BGRA", "RGB", "NV12", "I420", "GRAY8"};
    guint8 px[29], uv[14];
    for (int i = 0; i < 29; i++) px[i] = (guint8)(i * 37 + 11);
    for (int i = 0; i < 14; i++) uv[i] = (guint8)(i * 53 + 7);
    const char *props[] = {"threads=1", "threads=2", "threads=3", ""};
    for (size_t fi = 0; fi < G_N_ELEMENTS(fmts); fi++) {
        float *ref = NULL;
        gsize n = 0;
        for (size_t t = 0; t < G_N_ELEMENTS(props); t++) {
            gchar *p = g_strdup_printf("width=224 height=160 resize-mode=letterbox %s", props[t]);
            GstHarness *hr = harness(fmts[fi], 640, 480, p);
            g_free(p);
            CsTensorMeta *m;
            GstBuffer *out = push_pull(hr, frame(fmts[fi], 640, 480, px, 29, uv, 14), &m);
            if (!ref) {
                n = m->numel;
                ref = g_memdup2(m->data, n * sizeof(float));
            } else {
                assert_int_equal(m->numel, n);
                if (memcmp(ref, m->data, n * sizeof(float)) != 0)
                    fail_msg("%s: the tensor with '%s' differs from threads=1", fmts[fi], props[t]);
            }
            gst_buffer_unref(out);
            gst_harness_teardown(hr);
        }
        g_free(ref);
    }
}

int main(void)
{
    gst_init(NULL, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(caps_accepted_and_refused),
        cmocka_unit_test(known_values_packed),
        cmocka_unit_test(known_values_yuv),
        cmocka_unit_test(letterbox_mapping),
        cmocka_unit_test(frame_passes_unchanged),
        cmocka_unit_test(zca_statistics),
        cmocka_unit_test(model_property),
        cmocka_unit_test(bad_property_values),
        cmocka_unit_test(errors_name_the_file),
        cmocka_unit_test(speed_640x480),
        cmocka_unit_test(threads_same_tensor),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    gst_deinit();
    return rc;
}
