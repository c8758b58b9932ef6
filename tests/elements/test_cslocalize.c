/* cslocalize: GstHarness tests with synthetic metas. Heatmap boxes (a rectangle in the map →
 * its box in frame pixels through letterbox and centre-crop mappings; threshold, largest/all
 * components, min-area), regression-head decoding (cxcywh/xyxy × normalized/pixels, paired classes
 * with softmax/sigmoid, csinfer's top-1 when there is no class head), keypoints (box/image
 * coordinates, keypoint heatmaps, skeleton), the model description (tests/models/loc_tiny),
 * a missing model and bad property values.
 *
 * The registry is isolated (GST_REGISTRY in the build dir, GST_PLUGIN_PATH = build/elements,
 * no system plugins) unless the environment sets them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include <glib/gstdio.h>
#include <gst/check/gstharness.h>
#include <gst/gst.h>

#include <gst/camstream/camstream-meta.h>

/* Frame 160×120, model input 32×32. Centre crop: the model sees the central 120×120 (scale 3.75,
 * x offset 20). Letterbox: the whole frame fits in the input, padded above and below (scale 5,
 * y offset −20: the padding maps outside the frame). */
#define FW 160
#define FH 120
#define TS 32
static const CsTransform2D crop = {3.75, 3.75, 20.0, 0.0};
static const CsTransform2D letterbox = {5.0, 5.0, 0.0, -20.0};

static GstHarness *harness(const char *launch)
{
    GstHarness *h = gst_harness_new_parse(launch);
    gst_harness_set_src_caps_str(h, "video/x-raw,format=RGB,width=160,height=120,framerate=30/1");
    return h;
}

static GstBuffer *frame(void)
{
    GstBuffer *b = gst_buffer_new_allocate(NULL, FW * FH * 3, NULL);
    gst_buffer_memset(b, 0, 0, FW * FH * 3);
    return b;
}

static void add_input(GstBuffer *b)
{
    gint64 dims[4] = {1, 3, TS, TS};
    CsTensorMeta *t = cs_buffer_add_tensor_meta(b, CS_TENSOR_ROLE_INPUT, "input", 4, dims, NULL);
    assert_non_null(t);
    t->to_frame = crop;
    t->frame_width = FW;
    t->frame_height = FH;
    t->frame_index = 42;
}

static void add_output(GstBuffer *b, const char *name, guint ndim, const gint64 *dims,
                       const float *data)
{
    assert_non_null(cs_buffer_add_tensor_meta(b, CS_TENSOR_ROLE_OUTPUT, name, ndim, dims, data));
}

/* Pushes b and returns the output buffer (unref it) with its detections meta in *d. */
static GstBuffer *run(GstHarness *h, GstBuffer *b, CsDetectionsMeta **d)
{
    assert_int_equal(gst_harness_push(h, b), GST_FLOW_OK);
    GstBuffer *out = gst_harness_pull(h);
    assert_non_null(out);
    *d = cs_buffer_get_detections_meta(out);
    return out;
}

static void assert_near(double got, double want, double tol, const char *what)
{
    if (fabs(got - want) > tol) fail_msg("%s = %g, expected %g (±%g)", what, got, want, tol);
}

static void assert_box(const CsDetection *det, double x, double y, double w, double h)
{
    assert_near(det->x, x, 1e-3, "x");
    assert_near(det->y, y, 1e-3, "y");
    assert_near(det->w, w, 1e-3, "w");
    assert_near(det->h, h, 1e-3, "h");
}

/* ---- heatmap boxes ------------------------------------------------------------------------ */

/* A 16×16 map over the 32×32 input: rectangles of value v (map x0..x1, y0..y1 exclusive). */
static CsHeatmapMeta *add_map(GstBuffer *b, const int (*rects)[5], int n)
{
    float map[256] = {0};
    for (int r = 0; r < n; r++)
        for (int y = rects[r][1]; y < rects[r][3]; y++)
            for (int x = rects[r][0]; x < rects[r][2]; x++)
                map[y * 16 + x] = (float)rects[r][4] / 10.f;
    CsHeatmapMeta *h =
        cs_buffer_add_heatmap_meta(b, "gradcam", 7, "kite", 4.f, "conv", 16, 16, map);
    h->tensor_width = h->tensor_height = TS;
    h->to_frame = crop;
    h->frame_index = 17;
    return h;
}

static void test_heatmap_box(void **state)
{
    /* letterbox: map x 4..8 → input 8..16 → frame 40..80; y 2..6 → 4..12 → 0..40 */
    {
        GstHarness *h = harness("cslocalize mode=heatmap");
        GstBuffer *b = frame();
        const int rect[1][5] = {{4, 2, 8, 6, 10}};
        add_map(b, rect, 1)->to_frame = letterbox;
        CsDetectionsMeta *d;
        GstBuffer *out = run(h, b, &d);
        assert_int_equal(d->n_detections, 1);
        assert_box(&d->detections[0], 40, 0, 40, 40);
        gst_buffer_unref(out);
        /* a component partly in the padding is clipped to the frame: y 0..3 → −20..10 */
        b = frame();
        const int top[1][5] = {{4, 0, 8, 3, 10}};
        add_map(b, top, 1)->to_frame = letterbox;
        out = run(h, b, &d);
        assert_box(&d->detections[0], 40, 0, 40, 10);
        gst_buffer_unref(out);
        /* one entirely in the padding gives no box */
        b = frame();
        const int pad[1][5] = {{4, 0, 8, 1, 10}};
        add_map(b, pad, 1)->to_frame = letterbox;
        out = run(h, b, &d);
        assert_true(d == NULL || d->n_detections == 0);
        gst_buffer_unref(out);
        gst_harness_teardown(h);
    }

    (void)state;
    GstHarness *h = harness("cslocalize mode=heatmap");
    GstBuffer *b = frame();
    const int rect[1][5] = {{4, 2, 8, 6, 10}};
    add_map(b, rect, 1);
    CsDetectionsMeta *d;
    GstBuffer *out = run(h, b, &d);
    assert_non_null(d);
    assert_int_equal(d->n_detections, 1);
    /* centre crop: map x 4..8 → input 8..16 → frame 20 + 3.75·(8..16) = 50..80;
     * y 2..6 → 4..12 → 15..45 */
    assert_box(&d->detections[0], 50, 15, 30, 30);
    assert_int_equal(d->detections[0].source, CS_DETECTION_SOURCE_HEATMAP);
    assert_int_equal(d->detections[0].class_id, 7);
    assert_string_equal(d->detections[0].label, "kite");
    assert_near(d->detections[0].score, 1.0, 1e-6, "score");
    assert_int_equal(d->frame_index, 17);
    assert_non_null(cs_buffer_get_timing_meta(out));
    assert_true(cs_timing_meta_get(cs_buffer_get_timing_meta(out), "cslocalize") > 0);
    gst_buffer_unref(out);

    /* no heatmap: no detections meta */
    out = run(h, frame(), &d);
    assert_null(d);
    gst_buffer_unref(out);
    gst_harness_teardown(h);
}

static void test_heatmap_components(void **state)
{
    (void)state;
    /* a big strong rectangle, a small strong one, a weak one (0.3 of the max) */
    const int rects[3][5] = {{1, 1, 7, 7, 10}, {10, 10, 12, 12, 10}, {10, 1, 14, 5, 3}};
    GstHarness *h = harness("cslocalize mode=heatmap threshold=0.2");
    GstBuffer *b = frame();
    add_map(b, rects, 3);
    CsDetectionsMeta *d;
    GstBuffer *out = run(h, b, &d);
    assert_int_equal(d->n_detections, 1); /* largest only */
    assert_box(&d->detections[0], 20 + 2 * 3.75, 2 * 3.75, 12 * 3.75, 12 * 3.75);
    gst_buffer_unref(out);

    /* gst_harness_new_parse wraps the element in a bin: set properties on the element */
    GstElement *e = gst_harness_find_element(h, "cslocalize");
    gst_util_set_object_arg(G_OBJECT(e), "components", "all");
    b = frame();
    add_map(b, rects, 3);
    out = run(h, b, &d);
    assert_int_equal(d->n_detections, 3); /* largest first: 36, 16, 4 map pixels */
    assert_box(&d->detections[0], 20 + 2 * 3.75, 2 * 3.75, 12 * 3.75, 12 * 3.75);
    assert_box(&d->detections[1], 20 + 20 * 3.75, 2 * 3.75, 8 * 3.75, 8 * 3.75);
    assert_box(&d->detections[2], 20 + 20 * 3.75, 20 * 3.75, 4 * 3.75, 4 * 3.75);
    assert_near(d->detections[1].score, 0.3, 1e-5, "weak score");
    gst_buffer_unref(out);

    /* min-area drops the 4-pixel component; a higher threshold drops the weak one */
    g_object_set(e, "min-area", 5, "threshold", 0.5, NULL);
    b = frame();
    add_map(b, rects, 3);
    out = run(h, b, &d);
    assert_int_equal(d->n_detections, 1);
    gst_buffer_unref(out);
    g_object_set(e, "min-area", 1, NULL);
    b = frame();
    add_map(b, rects, 3);
    out = run(h, b, &d);
    assert_int_equal(d->n_detections, 2);
    gst_buffer_unref(out);
    gst_object_unref(e);
    gst_harness_teardown(h);
}

/* ---- regression heads ---------------------------------------------------------------------- */

/* The same box in the four encodings: input pixels 8..24 × 12..20 → frame 50..110 × 45..75. */
static void test_regression_formats(void **state)
{
    (void)state;
    const struct {
        const char *props;
        float v[4];
    } cases[] = {
        {"box-format=cxcywh box-coords=normalized", {0.5f, 0.5f, 0.5f, 0.25f}},
        {"box-format=cxcywh box-coords=pixels", {16.f, 16.f, 16.f, 8.f}},
        {"box-format=xyxy box-coords=normalized", {0.25f, 0.375f, 0.75f, 0.625f}},
        {"box-format=xyxy box-coords=pixels", {8.f, 12.f, 24.f, 20.f}},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        gchar *launch =
            g_strdup_printf("cslocalize mode=regression boxes-output=box %s", cases[i].props);
        GstHarness *h = harness(launch);
        g_free(launch);
        GstBuffer *b = frame();
        add_input(b);
        gint64 dims[2] = {1, 4};
        add_output(b, "box", 2, dims, cases[i].v);
        CsDetectionsMeta *d;
        GstBuffer *out = run(h, b, &d);
        assert_non_null(d);
        assert_int_equal(d->n_detections, 1);
        assert_box(&d->detections[0], 50, 45, 60, 30);
        assert_int_equal(d->detections[0].source, CS_DETECTION_SOURCE_REGRESSION);
        assert_int_equal(d->detections[0].class_id, -1);
        assert_int_equal(d->frame_index, 42);
        gst_buffer_unref(out);
        gst_harness_teardown(h);
    }
}

static void test_regression_classes(void **state)
{
    (void)state;
    /* two boxes with per-box class scores (softmax), one clipped at the frame's left edge */
    GstHarness *h = harness("cslocalize mode=regression boxes-output=boxes classes-output=logits");
    GstBuffer *b = frame();
    add_input(b);
    const float boxes[8] = {0.5f, 0.5f, 0.5f, 0.25f, 0.0f, 0.5f, 0.5f, 0.5f};
    const float logits[6] = {0.f, 2.f, 1.f, 3.f, 0.f, 0.f};
    gint64 bd[3] = {1, 2, 4}, cd[3] = {1, 2, 3};
    add_output(b, "boxes", 3, bd, boxes);
    add_output(b, "logits", 3, cd, logits);
    CsDetectionsMeta *d;
    GstBuffer *out = run(h, b, &d);
    assert_int_equal(d->n_detections, 2);
    assert_int_equal(d->detections[0].class_id, 1);
    assert_near(d->detections[0].score, exp(2.0) / (1 + exp(2.0) + exp(1.0)), 1e-5, "softmax");
    assert_int_equal(d->detections[1].class_id, 0);
    assert_near(d->detections[1].score, exp(3.0) / (exp(3.0) + 2), 1e-5, "softmax 2");
    /* second box: input x −8..8 → frame −10..50, clipped to 0..50; y 8..24 → 30..90 */
    assert_box(&d->detections[1], 0, 30, 50, 60);
    gst_buffer_unref(out);
    gst_harness_teardown(h);

    /* sigmoid activation on one shared class vector */
    h = harness("cslocalize mode=regression classes-output=logits classes-activation=sigmoid");
    b = frame();
    add_input(b);
    gint64 d1[2] = {1, 4}, d2[2] = {1, 3};
    add_output(b, "boxes", 2, d1, boxes); /* default output name "boxes" */
    add_output(b, "logits", 2, d2, logits);
    out = run(h, b, &d);
    assert_int_equal(d->n_detections, 1);
    assert_int_equal(d->detections[0].class_id, 1);
    assert_near(d->detections[0].score, 1 / (1 + exp(-2.0)), 1e-5, "sigmoid");
    gst_buffer_unref(out);

    /* no class head: csinfer's top-1 class and label */
    gst_harness_teardown(h);
    h = harness("cslocalize mode=regression");
    b = frame();
    add_input(b);
    add_output(b, "boxes", 2, d1, boxes);
    CsClassificationMeta *c = cs_buffer_add_classification_meta(b, 1, 5, "m");
    cs_classification_meta_set(c, 0, 3, "star", 5.f, 0.75f);
    out = run(h, b, &d);
    assert_int_equal(d->detections[0].class_id, 3);
    assert_string_equal(d->detections[0].label, "star");
    assert_near(d->detections[0].score, 0.75, 1e-6, "top-1");
    gst_buffer_unref(out);

    /* a head of the wrong size is skipped with a warning, the buffer still flows */
    b = frame();
    add_input(b);
    gint64 bad[2] = {1, 3};
    add_output(b, "boxes", 2, bad, boxes);
    out = run(h, b, &d);
    assert_null(d);
    gst_buffer_unref(out);
    gst_harness_teardown(h);
}

/* Without a model-input tensor meta the normalized box covers the whole frame (stretch). */
static void test_regression_no_input_meta(void **state)
{
    (void)state;
    GstHarness *h = harness("cslocalize mode=regression");
    GstBuffer *b = frame();
    const float box[4] = {0.5f, 0.5f, 0.5f, 0.5f};
    gint64 dims[2] = {1, 4};
    add_output(b, "boxes", 2, dims, box);
    CsDetectionsMeta *d;
    GstBuffer *out = run(h, b, &d);
    assert_box(&d->detections[0], 40, 30, 80, 60);
    gst_buffer_unref(out);
    gst_harness_teardown(h);
}

/* csinfer preprocessed by itself: no input meta, its outputs carry the frame mapping. */
static void test_regression_output_mapping(void **state)
{
    (void)state;
    /* the same input box 8..24 × 12..20 under both mappings (input size inferred: 32×32) */
    const CsTransform2D *maps[2] = {&crop, &letterbox};
    const double want[2][4] = {{50, 45, 60, 30}, {40, 40, 80, 40}};
    for (int i = 0; i < 2; i++) {
        GstHarness *h = harness("cslocalize mode=regression");
        GstBuffer *b = frame();
        const float box[4] = {0.5f, 0.5f, 0.5f, 0.25f};
        gint64 dims[2] = {1, 4};
        CsTensorMeta *t =
            cs_buffer_add_tensor_meta(b, CS_TENSOR_ROLE_OUTPUT, "boxes", 2, dims, box);
        t->to_frame = *maps[i];
        t->frame_width = FW;
        t->frame_height = FH;
        CsDetectionsMeta *d;
        GstBuffer *out = run(h, b, &d);
        assert_box(&d->detections[0], want[i][0], want[i][1], want[i][2], want[i][3]);
        gst_buffer_unref(out);
        gst_harness_teardown(h);
    }
}

/* ---- keypoints --------------------------------------------------------------------------------
 */

static void test_keypoints(void **state)
{
    (void)state;
    GstHarness *h = harness("cslocalize mode=regression+keypoints skeleton=0-1");
    GstBuffer *b = frame();
    add_input(b);
    const float box[4] = {0.5f, 0.5f, 0.5f, 0.25f}; /* input 8..24 × 12..20 */
    const float kp[4] = {0.5f, 0.5f, 0.f, 1.f};
    gint64 bd[2] = {1, 4}, kd[2] = {1, 4};
    add_output(b, "boxes", 2, bd, box);
    add_output(b, "keypoints", 2, kd, kp);
    CsDetectionsMeta *d;
    GstBuffer *out = run(h, b, &d);
    assert_int_equal(d->n_detections, 1);
    const CsDetection *det = &d->detections[0];
    assert_int_equal(det->n_keypoints, 2);
    /* box coordinates: centre (16,16) → (80,60); (x0, y1) = (8,20) → (50,75) */
    assert_near(det->keypoints[0].x, 80, 1e-3, "kp0.x");
    assert_near(det->keypoints[0].y, 60, 1e-3, "kp0.y");
    assert_near(det->keypoints[1].x, 50, 1e-3, "kp1.x");
    assert_near(det->keypoints[1].y, 75, 1e-3, "kp1.y");
    assert_int_equal(d->n_edges, 1);
    assert_int_equal(d->edges[0], 0);
    assert_int_equal(d->edges[1], 1);
    gst_buffer_unref(out);
    gst_harness_teardown(h);

    /* image coordinates, no box head: a detection around the keypoints */
    h = harness("cslocalize mode=keypoints keypoint-coords=image");
    b = frame();
    add_input(b);
    add_output(b, "keypoints", 2, kd, kp);
    out = run(h, b, &d);
    assert_int_equal(d->n_detections, 1);
    det = &d->detections[0];
    assert_near(det->keypoints[0].x, 20 + 16 * 3.75, 1e-3, "image kp0.x");
    assert_near(det->keypoints[0].y, 16 * 3.75, 1e-3, "image kp0.y");
    assert_near(det->keypoints[1].x, 20, 1e-3, "image kp1.x");
    assert_near(det->keypoints[1].y, 120, 1e-3, "image kp1.y");
    assert_box(det, 20, 60, 60, 60);
    assert_int_equal(d->n_edges, 0);
    gst_buffer_unref(out);
    gst_harness_teardown(h);

    /* keypoint heatmaps: 2 joints on an 8×8 grid, each at its maximum */
    h = harness("cslocalize mode=keypoints keypoint-heatmaps-output=heat");
    b = frame();
    add_input(b);
    float heat[2 * 64] = {0};
    heat[2 * 8 + 3] = 0.9f;      /* joint 0 at (3,2) → input (14,10) */
    heat[64 + 7 * 8 + 0] = 0.6f; /* joint 1 at (0,7) → input (2,30) */
    gint64 hd[4] = {1, 2, 8, 8};
    add_output(b, "heat", 4, hd, heat);
    out = run(h, b, &d);
    det = &d->detections[0];
    assert_int_equal(det->n_keypoints, 2);
    assert_near(det->keypoints[0].x, 20 + 14 * 3.75, 1e-3, "heat kp0.x");
    assert_near(det->keypoints[0].y, 10 * 3.75, 1e-3, "heat kp0.y");
    assert_near(det->keypoints[0].score, 0.9, 1e-6, "heat kp0 score");
    assert_near(det->keypoints[1].x, 20 + 2 * 3.75, 1e-3, "heat kp1.x");
    assert_near(det->keypoints[1].y, 30 * 3.75, 1e-3, "heat kp1.y");
    gst_buffer_unref(out);
    gst_harness_teardown(h);
}

/* ---- model description -------------------------------------------------------------------- */

static gchar *model_path(const char *file)
{
    const char *src = g_getenv("CS_SOURCE_DIR");
    return g_build_filename(src ? src : "..", "tests", "models", "loc_tiny", file, NULL);
}

static void test_model_description(void **state)
{
    (void)state;
    gchar *path = model_path("loc_tiny.model");
    gchar *launch = g_strdup_printf("cslocalize model=\"%s\"", path);
    GstHarness *h = harness(launch);
    g_free(launch);
    g_free(path);
    GstBuffer *b = frame();
    add_input(b);
    const float logits[5] = {0.f, 0.f, 4.f, 0.f, 0.f};
    const float box[4] = {0.5f, 0.5f, 0.5f, 0.25f};
    float kp[10];
    for (int i = 0; i < 10; i++) kp[i] = 0.1f * (float)i;
    gint64 cd[2] = {1, 5}, bd[2] = {1, 4}, kd[2] = {1, 10};
    add_output(b, "logits", 2, cd, logits);
    add_output(b, "boxes", 2, bd, box);
    add_output(b, "keypoints", 2, kd, kp);
    CsDetectionsMeta *d;
    GstBuffer *out = run(h, b, &d);
    /* auto mode from the description: regression + keypoints, labels and skeleton from it */
    assert_int_equal(d->n_detections, 1);
    const CsDetection *det = &d->detections[0];
    assert_box(det, 50, 45, 60, 30);
    assert_int_equal(det->class_id, 2);
    assert_string_equal(det->label, "triangle");
    assert_int_equal(det->n_keypoints, 5);
    assert_near(det->keypoints[1].x, 20 + (8 + 0.2 * 16) * 3.75, 1e-3, "kp1.x");
    assert_near(det->keypoints[1].y, (12 + 0.3 * 8) * 3.75, 1e-3, "kp1.y");
    assert_int_equal(d->n_edges, 4);
    assert_int_equal(d->edges[6], 3);
    assert_int_equal(d->edges[7], 4);
    gst_buffer_unref(out);
    gst_harness_teardown(h);

    /* a skeleton property by keypoint names overrides the description's */
    path = model_path("loc_tiny.model");
    launch = g_strdup_printf("cslocalize model=\"%s\" skeleton=top-center,left-right", path);
    h = harness(launch);
    g_free(launch);
    g_free(path);
    b = frame();
    add_input(b);
    add_output(b, "boxes", 2, bd, box);
    add_output(b, "keypoints", 2, kd, kp);
    out = run(h, b, &d);
    assert_int_equal(d->n_edges, 2);
    assert_int_equal(d->edges[1], 4);
    assert_int_equal(d->edges[2], 1);
    assert_int_equal(d->edges[3], 2);
    gst_buffer_unref(out);
    gst_harness_teardown(h);
}

/* With csinfer running loc_tiny (preprocessing by itself, letterbox from the description): one box
 * with a label of the description and five keypoints inside the frame, the skeleton, and the box
 * equal to the decoding of csinfer's "boxes" output. */
static void test_with_csinfer(void **state)
{
    (void)state;
    GstElementFactory *f = gst_element_factory_find("csinfer");
    if (!f) {
        skip();
        return;
    }
    gst_object_unref(f);
    gchar *path = model_path("loc_tiny.model");
    gchar *launch =
        g_strdup_printf("csinfer model=\"%s\" threads=1 ! cslocalize model=\"%s\"", path, path);
    GstHarness *h = harness(launch);
    g_free(launch);
    g_free(path);
    GstBuffer *b = frame();
    GstMapInfo m;
    gst_buffer_map(b, &m, GST_MAP_WRITE);
    for (gsize i = 0; i < m.size; i++) m.data[i] = (guint8)((i * 31) % 251);
    gst_buffer_unmap(b, &m);
    CsDetectionsMeta *d;
    GstBuffer *out = run(h, b, &d);
    assert_non_null(d);
    assert_int_equal(d->n_detections, 1);
    const CsDetection *det = &d->detections[0];
    assert_non_null(det->label);
    assert_int_equal(det->n_keypoints, 5);
    assert_int_equal(d->n_edges, 4);
    assert_true(det->x >= 0 && det->y >= 0 && det->x + det->w <= FW + 1e-3 &&
                det->y + det->h <= FH + 1e-3);
    /* the box decoded by hand from csinfer's output and mapping (64×64 input) */
    CsTensorMeta *bt = cs_buffer_get_tensor_meta_full(out, CS_TENSOR_ROLE_OUTPUT, "boxes");
    assert_non_null(bt);
    const CsTransform2D *t = &bt->to_frame;
    double x0 = t->offset_x + (bt->data[0] - bt->data[2] / 2) * 64 * t->scale_x;
    double y0 = t->offset_y + (bt->data[1] - bt->data[3] / 2) * 64 * t->scale_y;
    assert_near(det->x, MAX(x0, 0), 1e-3, "x from csinfer");
    assert_near(det->y, MAX(y0, 0), 1e-3, "y from csinfer");
    /* letterbox: 160 frame pixels over the 64 input pixels, 16 padding rows (8 above) */
    assert_near(t->scale_x, 160.0 / 64, 1e-6, "letterbox scale");
    assert_near(t->offset_y, -8 * 2.5, 1e-6, "letterbox offset");
    gst_buffer_unref(out);
    gst_harness_teardown(h);
}

/* Start must fail with an error message on the bus naming the problem. */
static void expect_start_error(GstElement *e, const char *needle)
{
    GstBus *bus = gst_bus_new();
    gst_element_set_bus(e, bus);
    assert_int_equal(gst_element_set_state(e, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
    GstMessage *m = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
    assert_non_null(m);
    GError *err = NULL;
    gst_message_parse_error(m, &err, NULL);
    if (!strstr(err->message, needle))
        fail_msg("error '%s' does not mention '%s'", err->message, needle);
    g_error_free(err);
    gst_message_unref(m);
    gst_element_set_state(e, GST_STATE_NULL);
    gst_element_set_bus(e, NULL);
    gst_object_unref(bus);
    gst_object_unref(e);
}

static void test_bad_model(void **state)
{
    (void)state;
    GstElement *e = gst_element_factory_make("cslocalize", NULL);
    g_object_set(e, "model", "/nonexistent/none.model", NULL);
    expect_start_error(e, "none.model");

    /* a corrupt ONNX file */
    gchar *tmp = g_build_filename(g_get_tmp_dir(), "cslocalize-corrupt.onnx", NULL);
    g_file_set_contents(tmp, "\x08\x07garbage", 9, NULL);
    e = gst_element_factory_make("cslocalize", NULL);
    g_object_set(e, "model", tmp, NULL);
    expect_start_error(e, "cslocalize-corrupt.onnx");
    g_unlink(tmp);
    g_free(tmp);

    /* a description whose heads name no tensor of the model */
    gchar *onnx = model_path("model.onnx");
    gchar *text = g_strdup_printf("[model]\nfile = %s\n[heads]\nboxes = nope\n", onnx);
    tmp = g_build_filename(g_get_tmp_dir(), "cslocalize-bad-head.model", NULL);
    g_file_set_contents(tmp, text, -1, NULL);
    e = gst_element_factory_make("cslocalize", NULL);
    g_object_set(e, "model", tmp, NULL);
    expect_start_error(e, "nope");
    g_unlink(tmp);
    g_free(tmp);
    g_free(text);
    g_free(onnx);
}

static void test_properties(void **state)
{
    (void)state;
    GstElement *e = gst_element_factory_make("cslocalize", NULL);
    guint mode, min_area;
    gdouble thr;
    gint fmt;
    g_object_get(e, "mode", &mode, "threshold", &thr, "min-area", &min_area, "box-format", &fmt,
                 NULL);
    assert_int_equal(mode, 0);
    assert_near(thr, 0.2, 1e-9, "threshold");
    assert_int_equal(min_area, 1);
    assert_int_equal(fmt, 0);
    gst_util_set_object_arg(G_OBJECT(e), "mode", "heatmap+keypoints");
    g_object_get(e, "mode", &mode, NULL);
    assert_int_equal(mode, 6);

    /* a malformed skeleton refuses to start */
    g_object_set(e, "skeleton", "0-1,2", NULL);
    expect_start_error(e, "skeleton");
    e = gst_element_factory_make("cslocalize", NULL);
    g_object_set(e, "skeleton", "0-1,nose-2", NULL); /* names without a description */
    expect_start_error(e, "nose-2");

    /* values the launch syntax refuses */
    const char *bad[] = {"cslocalize box-format=yxyx",
                         "cslocalize box-coords=inches",
                         "cslocalize mode=boxes",
                         "cslocalize components=some",
                         "cslocalize keypoint-coords=world",
                         "cslocalize classes-activation=relu"};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        GError *err = NULL;
        GstElement *p = gst_parse_launch(bad[i], &err);
        if (!err) fail_msg("'%s' was accepted", bad[i]);
        g_clear_error(&err);
        if (p) gst_object_unref(p);
    }

    /* numbers out of range are refused by the param specs */
    e = gst_element_factory_make("cslocalize", NULL);
    const struct {
        const char *name;
        GType type;
        double bad;
    } ranges[] = {{"threshold", G_TYPE_DOUBLE, 1.5},
                  {"threshold", G_TYPE_DOUBLE, -0.1},
                  {"max-boxes", G_TYPE_UINT, 0},
                  {"max-boxes", G_TYPE_UINT, 1000},
                  {"min-area", G_TYPE_UINT, 0}};
    for (size_t i = 0; i < G_N_ELEMENTS(ranges); i++) {
        GParamSpec *ps = g_object_class_find_property(G_OBJECT_GET_CLASS(e), ranges[i].name);
        GValue v = G_VALUE_INIT;
        g_value_init(&v, ranges[i].type);
        if (ranges[i].type == G_TYPE_DOUBLE)
            g_value_set_double(&v, ranges[i].bad);
        else
            g_value_set_uint(&v, (guint)ranges[i].bad);
        if (!g_param_value_validate(ps, &v))
            fail_msg("%s = %g accepted", ranges[i].name, ranges[i].bad);
        g_value_unset(&v);
    }
    gst_object_unref(e);

    /* caps: raw video only */
    e = gst_element_factory_make("cslocalize", NULL);
    GstPad *sink = gst_element_get_static_pad(e, "sink");
    GstCaps *c = gst_caps_from_string("audio/x-raw,format=S16LE,rate=8000,channels=1");
    assert_false(gst_pad_query_accept_caps(sink, c));
    gst_caps_unref(c);
    c = gst_caps_from_string("video/x-raw,format=NV12,width=64,height=48");
    assert_true(gst_pad_query_accept_caps(sink, c));
    gst_caps_unref(c);
    gst_object_unref(sink);
    gst_object_unref(e);
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
        gchar *p = g_build_filename(build, "tests", "elements", "registry-cslocalize.bin", NULL);
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
        cmocka_unit_test(test_heatmap_box),
        cmocka_unit_test(test_heatmap_components),
        cmocka_unit_test(test_regression_formats),
        cmocka_unit_test(test_regression_classes),
        cmocka_unit_test(test_regression_no_input_meta),
        cmocka_unit_test(test_regression_output_mapping),
        cmocka_unit_test(test_keypoints),
        cmocka_unit_test(test_model_description),
        cmocka_unit_test(test_with_csinfer),
        cmocka_unit_test(test_bad_model),
        cmocka_unit_test(test_properties),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    gst_deinit();
    return rc;
}
