/* csinfer through GstHarness on the committed gap_cnn model (3×32×32, 10 classes):
 * - classification from a tensor meta equals the engine's own run on the same tensor (what
 *   `camstream run` computes) and PyTorch's reference output;
 * - explain=gradcam attaches the library's Grad-CAM map, with frame index, PTS and geometry;
 * - an asynchronous explanation (RISE on the worker thread) reaches a later buffer carrying the
 *   explained frame's index and PTS, equal to the library's RISE map; frames due while the
 *   worker is busy are counted, not queued;
 * - batching gives the same results as single frames;
 * - self-preprocessing (no tensor meta) works on RGB and NV12;
 * - errors: no model, missing and corrupt model files, an unknown layer, a target class out of
 *   range, an unknown explain value, a tensor that does not fit the model;
 * - two instances on one model file share one loaded model (model-users) and give the same
 *   results; a rewritten file is loaded again for the instances started afterwards;
 * - QoS: after a QoS event from downstream, frames at or before its earliest time are dropped
 *   before inference (and not with qos=false). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib/gstdio.h>
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <utime.h>

#include "camstream/core.h"
#include "camstream/explain.h"
#include "gst/camstream/camstream-meta.h"

#define CAPS "video/x-raw,format=RGB,width=32,height=32,framerate=30/1"

static gchar *model_path;
static cs_tensor *input0;  /* test_data_set_0/input_0.pb: 1×3×32×32 */
static cs_tensor *output0; /* PyTorch's logits for it */

static gchar *source_path(const char *rel)
{
    const char *root = g_getenv("CS_SOURCE_DIR");
    return g_build_filename(root ? root : ".", rel, NULL);
}

static int setup(void **state)
{
    (void)state;
    model_path = source_path("tests/models/gap_cnn_op13/model.onnx");
    gchar *in = source_path("tests/models/gap_cnn_op13/test_data_set_0/input_0.pb");
    gchar *out = source_path("tests/models/gap_cnn_op13/test_data_set_0/output_0.pb");
    cs_error err;
    input0 = cs_tensorproto_read_file(in, &err);
    output0 = cs_tensorproto_read_file(out, &err);
    g_free(in);
    g_free(out);
    return input0 && output0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    cs_tensor_free(&input0);
    cs_tensor_free(&output0);
    g_free(model_path);
    return 0;
}

/* A 32×32 RGB frame carrying x (1×3×32×32) as its input tensor meta. */
static GstBuffer *frame_with_tensor(const float *x, GstClockTime pts)
{
    GstBuffer *buf = gst_buffer_new_allocate(NULL, 32 * 32 * 3, NULL);
    gst_buffer_memset(buf, 0, 0x80, 32 * 32 * 3);
    GST_BUFFER_PTS(buf) = pts;
    GST_BUFFER_DURATION(buf) = GST_SECOND / 30;
    gint64 dims[4] = {1, 3, 32, 32};
    CsTensorMeta *t = cs_buffer_add_tensor_meta(buf, CS_TENSOR_ROLE_INPUT, "input", 4, dims, x);
    t->to_frame = (CsTransform2D){2.0, 2.0, 1.0, 3.0};
    t->frame_width = 64;
    t->frame_height = 64;
    return buf;
}

/* csinfer with the given properties ("name", value, ..., NULL), in a harness. */
static GstHarness *harness(const char *first, ...)
{
    GstElement *e = gst_element_factory_make("csinfer", NULL);
    assert_non_null(e);
    g_object_set(e, "model", model_path, "threads", 1, NULL);
    va_list ap;
    va_start(ap, first);
    g_object_set_valist(G_OBJECT(e), first, ap);
    va_end(ap);
    GstHarness *h = gst_harness_new_with_element(e, "sink", "src");
    gst_object_unref(e);
    gst_harness_set_src_caps_str(h, CAPS);
    return h;
}

/* The engine itself on x: the logits, as `camstream run` computes them. */
static float *engine_logits(const float *x, int *K)
{
    cs_error err;
    cs_model *m = cs_model_load_file(model_path, &err);
    assert_non_null(m);
    cs_plan_opts o = cs_plan_opts_default();
    o.threads = 1;
    cs_plan *p = cs_plan_new(m, &o, &err);
    assert_non_null(p);
    memcpy(cs_plan_input(p, 0)->data, x, cs_tensor_bytes(cs_plan_input(p, 0)));
    assert_int_equal(cs_plan_run(p, &err), CS_OK);
    const cs_tensor *y = cs_plan_output(p, 0);
    *K = (int)y->numel;
    float *r = g_memdup2(y->data, cs_tensor_bytes(y));
    cs_plan_destroy(&p);
    cs_model_destroy(&m);
    return r;
}

/* The library's explanation map of method on x (class -1), as a new array; *w, *h its size. */
static float *engine_map(cs_method method, const float *x, int *w, int *h, int *cls)
{
    cs_error err;
    cs_model *m = cs_model_load_file(model_path, &err);
    assert_non_null(m);
    cs_explain_opts o = cs_explain_opts_default(method);
    o.threads = 1;
    cs_explainer *e = cs_explainer_new(m, &o, &err);
    assert_non_null(e);
    memcpy(cs_explainer_input(e)->data, x, cs_tensor_bytes(cs_explainer_input(e)));
    cs_explanation r;
    assert_int_equal(cs_explain_run(e, -1, &r, &err), CS_OK);
    *h = (int)r.map->dims[r.map->ndim - 2];
    *w = (int)r.map->dims[r.map->ndim - 1];
    *cls = r.cls;
    float *map = g_memdup2(r.map->data, cs_tensor_bytes(r.map));
    cs_explainer_destroy(&e);
    cs_model_destroy(&m);
    return map;
}

static void check_classification(GstBuffer *out, const float *x)
{
    int K;
    float *logits = engine_logits(x, &K);
    assert_int_equal(K, 10);
    int best = 0;
    for (int i = 1; i < K; i++)
        if (logits[i] > logits[best]) best = i;
    CsClassificationMeta *c = cs_buffer_get_classification_meta(out);
    assert_non_null(c);
    assert_int_equal(c->n_classes, 10);
    assert_int_equal(c->results[0].class_id, best);
    assert_true(c->results[0].score == logits[best]); /* the same engine: bit for bit */
    /* probabilities: softmax of the logits, descending */
    double sum = 0;
    float mx = logits[best];
    for (int i = 0; i < K; i++) sum += exp(logits[i] - mx);
    assert_true(fabs(c->results[0].probability - 1.0 / sum) < 1e-6);
    for (guint i = 1; i < c->n_results; i++)
        assert_true(c->results[i].score <= c->results[i - 1].score);
    /* The model outputs travel too, with the input's geometry. */
    CsTensorMeta *o = cs_buffer_get_tensor_meta_full(out, CS_TENSOR_ROLE_OUTPUT, NULL);
    assert_non_null(o);
    assert_int_equal(o->numel, 10);
    assert_memory_equal(o->data, logits, 10 * sizeof(float));
    assert_true(o->to_frame.scale_x == 2.0 && o->to_frame.offset_y == 3.0);
    g_free(logits);
}

static void classification_matches_engine(void **state)
{
    (void)state;
    GstHarness *h = harness("top-k", 3, NULL);
    GstBuffer *out = gst_harness_push_and_pull(h, frame_with_tensor(input0->data, 0));
    assert_non_null(out);
    check_classification(out, input0->data);
    CsClassificationMeta *c = cs_buffer_get_classification_meta(out);
    assert_int_equal(c->n_results, 3);
    assert_int_equal(c->frame_index, 0);
    assert_null(c->results[0].label); /* a bare ONNX file has no labels */
    /* PyTorch's reference: same top-1, score within 1e-4 of the output range. */
    const float *ref = output0->data;
    int best = 0;
    float lo = ref[0], hi = ref[0];
    for (int i = 1; i < 10; i++) {
        if (ref[i] > ref[best]) best = i;
        lo = fminf(lo, ref[i]);
        hi = fmaxf(hi, ref[i]);
    }
    assert_int_equal(c->results[0].class_id, best);
    assert_true(fabsf(c->results[0].score - ref[best]) <= 1e-4f * (hi - lo));
    assert_null(cs_buffer_get_heatmap_meta(out)); /* explain=none */
    CsTimingMeta *tm = cs_buffer_get_timing_meta(out);
    assert_non_null(tm);
    assert_true(cs_timing_meta_get(tm, "csinfer") > 0);
    /* The forward pass is part of the element's time. */
    assert_true(cs_timing_meta_get(tm, "csinfer.forward") > 0);
    assert_true(cs_timing_meta_get(tm, "csinfer.forward") <= cs_timing_meta_get(tm, "csinfer"));
    gst_buffer_unref(out);
    gst_harness_teardown(h);
}

static void labels_from_file(void **state)
{
    (void)state;
    gchar *path = g_build_filename(g_get_tmp_dir(), "csinfer-test-labels.txt", NULL);
    assert_true(g_file_set_contents(path,
                                    "zero\none\ntwo\nthree\nfour\nfive\nsix\nseven\n"
                                    "eight\nnine\n",
                                    -1, NULL));
    GstHarness *h = harness("labels", path, "top-k", 10, NULL);
    GstBuffer *out = gst_harness_push_and_pull(h, frame_with_tensor(input0->data, 0));
    CsClassificationMeta *c = cs_buffer_get_classification_meta(out);
    assert_int_equal(c->n_results, 10);
    static const char *names[] = {"zero", "one", "two",   "three", "four",
                                  "five", "six", "seven", "eight", "nine"};
    for (guint i = 0; i < c->n_results; i++)
        assert_string_equal(c->results[i].label, names[c->results[i].class_id]);
    gst_buffer_unref(out);
    gst_harness_teardown(h);
    g_unlink(path);
    g_free(path);
}

static GstHarness *harness_explain(const char *method, const char *mode, guint interval)
{
    GstElement *e = gst_element_factory_make("csinfer", NULL);
    g_object_set(e, "model", model_path, "threads", 1, "explain-interval", interval, NULL);
    gst_util_set_object_arg(G_OBJECT(e), "explain", method);
    gst_util_set_object_arg(G_OBJECT(e), "explain-mode", mode);
    GstHarness *h = gst_harness_new_with_element(e, "sink", "src");
    gst_object_unref(e);
    gst_harness_set_src_caps_str(h, CAPS);
    return h;
}

static void gradcam_matches_library(void **state)
{
    (void)state;
    int w, hh, cls;
    float *ref = engine_map(CS_METHOD_GRADCAM, input0->data, &w, &hh, &cls);
    GstHarness *h = harness_explain("gradcam", "sync", 1);

    for (int f = 0; f < 2; f++) {
        GstBuffer *out =
            gst_harness_push_and_pull(h, frame_with_tensor(input0->data, f * 33 * GST_MSECOND));
        CsHeatmapMeta *hm = cs_buffer_get_heatmap_meta(out);
        assert_non_null(hm);
        assert_string_equal(hm->method, "gradcam");
        assert_int_equal(hm->class_id, cls);
        assert_int_equal((int)hm->width, w);
        assert_int_equal((int)hm->height, hh);
        assert_memory_equal(hm->data, ref, (size_t)w * hh * sizeof(float));
        assert_non_null(hm->layer);
        assert_int_equal(hm->tensor_width, 32);
        assert_int_equal(hm->frame_index, f);
        assert_int_equal(hm->pts, f * 33 * GST_MSECOND);
        assert_false(hm->async);
        assert_true(hm->to_frame.scale_x == 2.0 && hm->to_frame.offset_x == 1.0);
        assert_true(cs_timing_meta_get(cs_buffer_get_timing_meta(out), "csinfer.explain") > 0);
        /* Explained in the streaming thread: the explainer's forward pass was the only one. */
        assert_true(cs_timing_meta_get(cs_buffer_get_timing_meta(out), "csinfer.forward") == 0);
        gst_buffer_unref(out);
    }
    g_free(ref);
    gst_harness_teardown(h);
}

/* engine-rerun: every frame gets a csinfer.rerun stage (the forward pass, or the explainer's
 * run on an explained frame, once more), outside csinfer's own stage, and the results stay
 * what they are without it. Off by default: no such stage. */
static void engine_rerun_stage(void **state)
{
    (void)state;
    int w, hh, cls;
    float *ref = engine_map(CS_METHOD_GRADCAM, input0->data, &w, &hh, &cls);
    GstHarness *h = harness_explain("gradcam", "sync", 2);
    GstBuffer *out = gst_harness_push_and_pull(h, frame_with_tensor(input0->data, 0));
    assert_true(cs_timing_meta_get(cs_buffer_get_timing_meta(out), "csinfer.rerun") == 0);
    gst_buffer_unref(out);
    g_object_set(h->element, "engine-rerun", TRUE, NULL);
    for (int f = 1; f <= 4; f++) { /* frames 2 and 4 explained, 1 and 3 only classified */
        out = gst_harness_push_and_pull(h, frame_with_tensor(input0->data, f * GST_MSECOND));
        CsTimingMeta *tm = cs_buffer_get_timing_meta(out);
        guint64 rerun = cs_timing_meta_get(tm, "csinfer.rerun");
        assert_true(rerun > 0);
        check_classification(out, input0->data);
        CsHeatmapMeta *hm = cs_buffer_get_heatmap_meta(out);
        if (f % 2 == 0) {
            assert_non_null(hm);
            assert_memory_equal(hm->data, ref, (size_t)w * hh * sizeof(float));
            assert_true(cs_timing_meta_get(tm, "csinfer.explain") > 0);
        } else {
            assert_null(hm);
            assert_true(cs_timing_meta_get(tm, "csinfer.forward") > 0);
        }
        gst_buffer_unref(out);
    }
    gboolean on = FALSE;
    g_object_get(h->element, "engine-rerun", &on, NULL);
    assert_true(on);
    g_free(ref);
    gst_harness_teardown(h);
}

static void async_result_on_later_buffer(void **state)
{
    (void)state;
    int w, hh, cls;
    float *ref = engine_map(CS_METHOD_RISE, input0->data, &w, &hh, &cls);
    /* Only frame 0 is due: RISE (1000 masks) runs on the worker while frames flow. */
    GstHarness *h = harness_explain("rise", "auto", 1000000);
    const GstClockTime pts0 = 5 * GST_SECOND;
    GstBuffer *out = gst_harness_push_and_pull(h, frame_with_tensor(input0->data, pts0));
    assert_null(cs_buffer_get_heatmap_meta(out)); /* the streaming thread did not wait */
    check_classification(out, input0->data);
    gst_buffer_unref(out);

    CsHeatmapMeta *hm = NULL;
    guint64 f;
    for (f = 1; f < 2000 && !hm; f++) {
        g_usleep(5000);
        out = gst_harness_push_and_pull(h, frame_with_tensor(input0->data, pts0 + f * GST_MSECOND));
        hm = cs_buffer_get_heatmap_meta(out);
        if (!hm) gst_buffer_unref(out);
    }
    assert_non_null(hm);
    assert_true(hm->async);
    assert_int_equal(hm->frame_index, 0); /* it explains frame 0 ... */
    assert_int_equal(hm->pts, pts0);
    assert_true(GST_BUFFER_PTS(out) > pts0); /* ... and rides on a later buffer */
    assert_string_equal(hm->method, "rise");
    assert_null(hm->layer);
    assert_int_equal(hm->class_id, cls);
    assert_int_equal((int)hm->width, w);
    assert_int_equal((int)hm->height, hh);
    float maxd = 0;
    for (int i = 0; i < w * hh; i++) maxd = fmaxf(maxd, fabsf(hm->data[i] - ref[i]));
    assert_true(maxd < 1e-5f);
    assert_true(hm->stage_ns > 0);
    assert_true(hm->to_frame.scale_x == 2.0);
    gst_buffer_unref(out);
    /* Attached once only. */
    out = gst_harness_push_and_pull(h, frame_with_tensor(input0->data, pts0 + GST_SECOND));
    assert_null(cs_buffer_get_heatmap_meta(out));
    gst_buffer_unref(out);
    guint64 explained, skipped;
    g_object_get(h->element, "explained", &explained, "explain-skipped", &skipped, NULL);
    assert_int_equal(explained, 1);
    assert_int_equal(skipped, 0);
    g_free(ref);
    gst_harness_teardown(h);
}

static void async_busy_frames_are_skipped(void **state)
{
    (void)state;
    GstHarness *h = harness_explain("rise", "async", 1);
    /* Frame 0 occupies the worker (RISE: 1000 passes); the next 4 arrive at once. */
    for (int f = 0; f < 5; f++) {
        GstBuffer *out = gst_harness_push_and_pull(h, frame_with_tensor(input0->data, f));
        gst_buffer_unref(out);
    }
    guint64 explained, skipped, frames;
    g_object_get(h->element, "explained", &explained, "explain-skipped", &skipped, "frames",
                 &frames, NULL);
    assert_int_equal(frames, 5);
    assert_true(explained >= 1);
    assert_int_equal(explained + skipped, 5);
    assert_true(skipped >= 1);
    /* Every heatmap that arrives names a frame that was handed to the worker. */
    gst_harness_teardown(h); /* joins the worker */
}

static void gradcam_async_equals_sync(void **state)
{
    (void)state;
    int w, hh, cls;
    float *ref = engine_map(CS_METHOD_GRADCAM, input0->data, &w, &hh, &cls);
    GstHarness *h = harness_explain("gradcam", "async", 1000000);
    CsHeatmapMeta *hm = NULL;
    GstBuffer *out = NULL;
    for (int f = 0; f < 2000 && !hm; f++) {
        out = gst_harness_push_and_pull(h, frame_with_tensor(input0->data, f * GST_MSECOND));
        hm = cs_buffer_get_heatmap_meta(out);
        if (!hm) {
            gst_buffer_unref(out);
            g_usleep(2000);
        }
    }
    assert_non_null(hm);
    assert_int_equal(hm->frame_index, 0);
    assert_memory_equal(hm->data, ref, (size_t)w * hh * sizeof(float));
    gst_buffer_unref(out);
    g_free(ref);
    gst_harness_teardown(h);
}

static void batching_equals_single(void **state)
{
    (void)state;
    /* Three different inputs: the reference image, scaled by 0.5, and negated. */
    float *x[3];
    size_t n = (size_t)input0->numel;
    for (int k = 0; k < 3; k++) {
        x[k] = g_new(float, n);
        for (size_t i = 0; i < n; i++)
            x[k][i] = k == 0   ? ((float *)input0->data)[i]
                      : k == 1 ? 0.5f * ((float *)input0->data)[i]
                               : -((float *)input0->data)[i];
    }
    GstHarness *h = harness("batch", 2, NULL);
    assert_int_equal(gst_harness_push(h, frame_with_tensor(x[0], 0)), GST_FLOW_OK);
    assert_null(gst_harness_try_pull(h)); /* held until the batch is full */
    assert_int_equal(gst_harness_push(h, frame_with_tensor(x[1], 1)), GST_FLOW_OK);
    assert_int_equal(gst_harness_push(h, frame_with_tensor(x[2], 2)), GST_FLOW_OK);
    assert_true(gst_harness_push_event(h, gst_event_new_eos())); /* runs the partial batch */
    for (int k = 0; k < 3; k++) {
        GstBuffer *out = gst_harness_pull(h);
        assert_non_null(out);
        assert_int_equal(GST_BUFFER_PTS(out), k);
        int K;
        float *logits = engine_logits(x[k], &K);
        CsClassificationMeta *c = cs_buffer_get_classification_meta(out);
        int best = 0;
        for (int i = 1; i < K; i++)
            if (logits[i] > logits[best]) best = i;
        assert_int_equal(c->results[0].class_id, best);
        assert_true(fabsf(c->results[0].score - logits[best]) < 1e-4f);
        assert_int_equal(c->frame_index, k);
        g_free(logits);
        gst_buffer_unref(out);
    }
    for (int k = 0; k < 3; k++) g_free(x[k]);
    gst_harness_teardown(h);
}

static void preprocesses_without_tensor(void **state)
{
    (void)state;
    const char *formats[] = {"RGB", "NV12", "GRAY8", "BGRx"};
    for (guint i = 0; i < G_N_ELEMENTS(formats); i++) {
        GstElement *e = gst_element_factory_make("csinfer", NULL);
        g_object_set(e, "model", model_path, "threads", 1, NULL);
        gst_util_set_object_arg(G_OBJECT(e), "explain", "gradcam");
        GstHarness *h = gst_harness_new_with_element(e, "sink", "src");
        gst_object_unref(e);
        gchar *caps =
            g_strdup_printf("video/x-raw,format=%s,width=64,height=48,framerate=30/1", formats[i]);
        gst_harness_set_src_caps_str(h, caps);
        g_free(caps);
        GstVideoInfo vi;
        gst_video_info_set_format(&vi, gst_video_format_from_string(formats[i]), 64, 48);
        GstBuffer *buf = gst_buffer_new_allocate(NULL, GST_VIDEO_INFO_SIZE(&vi), NULL);
        GstMapInfo map;
        gst_buffer_map(buf, &map, GST_MAP_WRITE);
        for (gsize b = 0; b < map.size; b++) map.data[b] = (guint8)(b * 7 % 251);
        gst_buffer_unmap(buf, &map);
        GstBuffer *out = gst_harness_push_and_pull(h, buf);
        CsClassificationMeta *c = cs_buffer_get_classification_meta(out);
        assert_non_null(c);
        assert_true(c->results[0].probability > 0.0f && c->results[0].probability <= 1.0f);
        CsHeatmapMeta *hm = cs_buffer_get_heatmap_meta(out);
        assert_non_null(hm);
        /* stretch: 32 model pixels cover 64 × 48 frame pixels */
        assert_true(fabs(hm->to_frame.scale_x - 2.0) < 1e-9);
        assert_true(fabs(hm->to_frame.scale_y - 1.5) < 1e-9);
        gst_buffer_unref(out);
        gst_harness_teardown(h);
    }
}

/* A model description: labels, the [explain] layer, the classes head among several outputs. */
static void model_description(void **state)
{
    (void)state;
    const char *layer = "/features/features.2/features.2.2/Relu_output_0";
    gchar *desc = g_build_filename(g_get_tmp_dir(), "csinfer-test.model", NULL);
    gchar *text = g_strdup_printf("[model]\nfile = %s\nname = gap\n[labels]\n"
                                  "names = c0;c1;c2;c3;c4;c5;c6;c7;c8;c9\n[explain]\nlayer = %s\n",
                                  model_path, layer);
    assert_true(g_file_set_contents(desc, text, -1, NULL));
    g_free(text);
    GstElement *e = gst_element_factory_make("csinfer", NULL);
    g_object_set(e, "model", desc, "threads", 1, NULL);
    gst_util_set_object_arg(G_OBJECT(e), "explain", "gradcam");
    GstHarness *h = gst_harness_new_with_element(e, "sink", "src");
    gst_object_unref(e);
    gst_harness_set_src_caps_str(h, CAPS);
    GstBuffer *out = gst_harness_push_and_pull(h, frame_with_tensor(input0->data, 0));
    CsClassificationMeta *c = cs_buffer_get_classification_meta(out);
    gchar *want = g_strdup_printf("c%d", c->results[0].class_id);
    assert_string_equal(c->results[0].label, want);
    g_free(want);
    assert_string_equal(c->model, "gap");
    CsHeatmapMeta *hm = cs_buffer_get_heatmap_meta(out);
    assert_string_equal(hm->layer, layer);
    assert_string_equal(hm->label, c->results[0].label);
    assert_int_equal(hm->width, 8); /* the features.2 map */
    gst_buffer_unref(out);
    gst_harness_teardown(h);
    g_unlink(desc);
    g_free(desc);

    /* loc_tiny: three heads; the classes head is named by the description. */
    gchar *loc = source_path("tests/models/loc_tiny/loc_tiny.model");
    e = gst_element_factory_make("csinfer", NULL);
    g_object_set(e, "model", loc, "threads", 1, NULL);
    h = gst_harness_new_with_element(e, "sink", "src");
    gst_object_unref(e);
    gst_harness_set_src_caps_str(h, "video/x-raw,format=RGB,width=80,height=60,framerate=30/1");
    GstBuffer *buf = gst_buffer_new_allocate(NULL, 80 * 60 * 3, NULL);
    gst_buffer_memset(buf, 0, 0x40, 80 * 60 * 3);
    out = gst_harness_push_and_pull(h, buf);
    c = cs_buffer_get_classification_meta(out);
    assert_int_equal(c->n_classes, 5);
    assert_non_null(c->results[0].label);
    CsTensorMeta *logits = cs_buffer_get_tensor_meta_full(out, CS_TENSOR_ROLE_OUTPUT, "logits");
    assert_non_null(logits);
    assert_true(c->results[0].score == logits->data[c->results[0].class_id]);
    CsTensorMeta *boxes = cs_buffer_get_tensor_meta_full(out, CS_TENSOR_ROLE_OUTPUT, "boxes");
    assert_non_null(boxes);
    assert_non_null(cs_buffer_get_tensor_meta_full(out, CS_TENSOR_ROLE_OUTPUT, "keypoints"));
    /* letterbox of 80×60 into the square input: the tensor maps to a wider-than-tall frame */
    assert_true(boxes->to_frame.offset_y < 0.0 && boxes->to_frame.offset_x == 0.0);
    assert_int_equal(boxes->frame_width, 80);
    gst_buffer_unref(out);
    gst_harness_teardown(h);
    g_free(loc);
}

/* ---- errors ---------------------------------------------------------------------------------- */

/* Sets csinfer (with the given property strings, "name=value" pairs) to PAUSED in a pipeline;
 * it must fail with an error whose debug text contains `expect`. */
static void expect_start_error(const char *props, const char *expect)
{
    GError *gerr = NULL;
    gchar *line = g_strdup_printf("fakesrc ! csinfer %s ! fakesink", props);
    GstElement *pipe = gst_parse_launch(line, &gerr);
    g_free(line);
    assert_non_null(pipe);
    assert_null(gerr);
    GstStateChangeReturn r = gst_element_set_state(pipe, GST_STATE_PAUSED);
    assert_int_equal(r, GST_STATE_CHANGE_FAILURE);
    GstBus *bus = gst_element_get_bus(pipe);
    GstMessage *msg = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
    assert_non_null(msg);
    GError *e = NULL;
    gchar *dbg = NULL;
    gst_message_parse_error(msg, &e, &dbg);
    gchar *all = g_strdup_printf("%s | %s", e->message, dbg ? dbg : "");
    if (!strstr(all, expect)) fail_msg("error '%s' does not contain '%s'", all, expect);
    g_free(all);
    g_error_free(e);
    g_free(dbg);
    gst_message_unref(msg);
    gst_object_unref(bus);
    gst_element_set_state(pipe, GST_STATE_NULL);
    gst_object_unref(pipe);
}

static void errors_at_start(void **state)
{
    (void)state;
    expect_start_error("", "No model set");
    expect_start_error("model=/nonexistent/model.onnx", "/nonexistent/model.onnx");

    gchar *corrupt = g_build_filename(g_get_tmp_dir(), "csinfer-corrupt.onnx", NULL);
    assert_true(g_file_set_contents(corrupt, "\x0a\xff\xff\xff\x0fnot an onnx model", -1, NULL));
    gchar *props = g_strdup_printf("model=%s", corrupt);
    expect_start_error(props, "Could not load model");
    g_free(props);
    g_unlink(corrupt);
    g_free(corrupt);

    props = g_strdup_printf("model=%s explain=gradcam target-layer=no_such_layer", model_path);
    expect_start_error(props, "no_such_layer");
    g_free(props);
    props = g_strdup_printf("model=%s target-class=10", model_path);
    expect_start_error(props, "0..9");
    g_free(props);
    props = g_strdup_printf("model=%s explain=cam target-layer=/features/features.0/features.0.0/"
                            "Conv_output_0",
                            model_path);
    expect_start_error(props, "explain=cam");
    g_free(props);
    props = g_strdup_printf("model=%s explain=pv", model_path);
    expect_start_error(props, "decoder");
    g_free(props);
    props = g_strdup_printf("model=%s labels=/nonexistent/labels.txt", model_path);
    expect_start_error(props, "labels");
    g_free(props);
}

static void bad_property_values(void **state)
{
    (void)state;
    GError *gerr = NULL;
    GstElement *pipe = gst_parse_launch("fakesrc ! csinfer explain=nonsense ! fakesink", &gerr);
    assert_non_null(gerr); /* an unknown enum value cannot be set */
    g_clear_error(&gerr);
    if (pipe) gst_object_unref(pipe);
    pipe = gst_parse_launch("fakesrc ! csinfer explain-mode=later ! fakesink", &gerr);
    assert_non_null(gerr);
    g_clear_error(&gerr);
    if (pipe) gst_object_unref(pipe);
    /* Ranges are in the param specs (gst-inspect shows them). */
    GstElement *e = gst_element_factory_make("csinfer", NULL);
    GParamSpec *ps = g_object_class_find_property(G_OBJECT_GET_CLASS(e), "batch");
    assert_int_equal(G_PARAM_SPEC_UINT(ps)->minimum, 1);
    ps = g_object_class_find_property(G_OBJECT_GET_CLASS(e), "target-class");
    assert_int_equal(G_PARAM_SPEC_INT(ps)->minimum, -1);
    gst_object_unref(e);
}

static void tensor_that_does_not_fit(void **state)
{
    (void)state;
    GstHarness *h = harness(NULL, NULL);
    GstBus *bus = gst_bus_new();
    gst_element_set_bus(h->element, bus);
    GstBuffer *buf = gst_buffer_new_allocate(NULL, 16, NULL);
    gint64 dims[4] = {1, 3, 16, 16};
    cs_buffer_add_tensor_meta(buf, CS_TENSOR_ROLE_INPUT, "input", 4, dims, NULL);
    assert_int_equal(gst_harness_push(h, buf), GST_FLOW_ERROR);
    GstMessage *msg = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
    assert_non_null(msg);
    GError *e = NULL;
    gchar *dbg = NULL;
    gst_message_parse_error(msg, &e, &dbg);
    assert_non_null(strstr(dbg, "1x3x16x16"));
    assert_non_null(strstr(dbg, "1x3x32x32"));
    g_error_free(e);
    g_free(dbg);
    gst_message_unref(msg);
    gst_element_set_bus(h->element, NULL);
    gst_object_unref(bus);
    gst_harness_teardown(h);
}

static guint model_users(GstHarness *h)
{
    guint n = 0;
    g_object_get(h->element, "model-users", &n, NULL);
    return n;
}

/* Copies src to dst (a model file we may rewrite). */
static void copy_file(const char *src, const char *dst)
{
    gchar *data = NULL;
    gsize len = 0;
    assert_true(g_file_get_contents(src, &data, &len, NULL));
    assert_true(g_file_set_contents(dst, data, (gssize)len, NULL));
    g_free(data);
}

static void model_shared_between_instances(void **state)
{
    (void)state;
    gchar *dir = g_dir_make_tmp("csinfer-share-XXXXXX", NULL);
    assert_non_null(dir);
    gchar *path = g_build_filename(dir, "model.onnx", NULL);
    copy_file(model_path, path);

    GstHarness *h[3];
    GstBuffer *out[3];
    for (int i = 0; i < 2; i++) {
        GstElement *e = gst_element_factory_make("csinfer", NULL);
        g_object_set(e, "model", path, "threads", 1, NULL);
        h[i] = gst_harness_new_with_element(e, "sink", "src");
        gst_object_unref(e);
        gst_harness_set_src_caps_str(h[i], CAPS);
    }
    for (int i = 0; i < 2; i++) {
        out[i] = gst_harness_push_and_pull(h[i], frame_with_tensor(input0->data, 0));
        assert_non_null(out[i]);
        check_classification(out[i], input0->data);
    }
    /* One load serves both; the results are those of separate loads (check_classification
     * compares with a model loaded apart) and equal to each other bit for bit. */
    assert_int_equal(model_users(h[0]), 2);
    assert_int_equal(model_users(h[1]), 2);
    CsTensorMeta *o0 = cs_buffer_get_tensor_meta_full(out[0], CS_TENSOR_ROLE_OUTPUT, NULL);
    CsTensorMeta *o1 = cs_buffer_get_tensor_meta_full(out[1], CS_TENSOR_ROLE_OUTPUT, NULL);
    assert_int_equal(o0->numel, o1->numel);
    assert_memory_equal(o0->data, o1->data, o0->numel * sizeof(float));

    /* The file is rewritten (new modification time): a third instance loads it again; the
     * running two keep sharing theirs. */
    copy_file(model_path, path);
    GStatBuf sb;
    assert_int_equal(g_stat(path, &sb), 0);
    struct utimbuf ut = {.actime = sb.st_atime, .modtime = sb.st_mtime + 10};
    assert_int_equal(g_utime(path, &ut), 0);
    GstElement *e = gst_element_factory_make("csinfer", NULL);
    g_object_set(e, "model", path, "threads", 1, NULL);
    h[2] = gst_harness_new_with_element(e, "sink", "src");
    gst_object_unref(e);
    gst_harness_set_src_caps_str(h[2], CAPS);
    out[2] = gst_harness_push_and_pull(h[2], frame_with_tensor(input0->data, 0));
    check_classification(out[2], input0->data);
    assert_int_equal(model_users(h[2]), 1);
    assert_int_equal(model_users(h[0]), 2);

    /* Stopping one instance drops one use; a stopped element has none. */
    gst_harness_teardown(h[0]);
    assert_int_equal(model_users(h[1]), 1);
    gst_element_set_state(h[1]->element, GST_STATE_NULL);
    assert_int_equal(model_users(h[1]), 0);
    gst_harness_teardown(h[1]);
    gst_harness_teardown(h[2]);
    for (int i = 0; i < 3; i++) gst_buffer_unref(out[i]);
    g_unlink(path);
    g_rmdir(dir);
    g_free(path);
    g_free(dir);
}

/* Frames with PTS 0, 100, ..., 900 ms after a QoS event saying that downstream needs frames
 * after 450 ms; returns how many came out. */
static guint frames_after_qos(gboolean qos)
{
    GstHarness *h = harness("qos", qos, NULL);
    GstBuffer *first = gst_harness_push_and_pull(h, frame_with_tensor(input0->data, 0));
    assert_non_null(first);
    gst_buffer_unref(first);
    /* earliest time = timestamp + diff = 400 + 50 ms */
    assert_true(gst_harness_push_upstream_event(
        h, gst_event_new_qos(GST_QOS_TYPE_UNDERFLOW, 1.5, 50 * GST_MSECOND, 400 * GST_MSECOND)));
    for (int i = 1; i < 10; i++)
        assert_int_equal(
            gst_harness_push(h, frame_with_tensor(input0->data, i * 100 * GST_MSECOND)),
            GST_FLOW_OK);
    guint n = 0;
    GstBuffer *b;
    while ((b = gst_harness_try_pull(h))) {
        /* the frames that pass are the late-enough ones, in order */
        if (qos) assert_true(GST_BUFFER_PTS(b) > 450 * GST_MSECOND);
        assert_non_null(cs_buffer_get_classification_meta(b));
        gst_buffer_unref(b);
        n++;
    }
    guint64 frames = 0;
    g_object_get(h->element, "frames", &frames, NULL);
    assert_int_equal(frames, n + 1); /* dropped frames never reach the model */
    gst_harness_teardown(h);
    return n;
}

static void qos_drops_late_frames(void **state)
{
    (void)state;
    assert_int_equal(frames_after_qos(TRUE), 5); /* 500 ... 900 ms */
    assert_int_equal(frames_after_qos(FALSE), 9);
}

int main(void)
{
    gst_init(NULL, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(classification_matches_engine),
        cmocka_unit_test(labels_from_file),
        cmocka_unit_test(gradcam_matches_library),
        cmocka_unit_test(engine_rerun_stage),
        cmocka_unit_test(async_result_on_later_buffer),
        cmocka_unit_test(async_busy_frames_are_skipped),
        cmocka_unit_test(gradcam_async_equals_sync),
        cmocka_unit_test(batching_equals_single),
        cmocka_unit_test(preprocesses_without_tensor),
        cmocka_unit_test(model_description),
        cmocka_unit_test(errors_at_start),
        cmocka_unit_test(bad_property_values),
        cmocka_unit_test(tensor_that_does_not_fit),
        cmocka_unit_test(model_shared_between_instances),
        cmocka_unit_test(qos_drops_late_frames),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    gst_deinit();
    return rc;
}
