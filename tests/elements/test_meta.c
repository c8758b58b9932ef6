/* The camstream metas (gst/camstream/camstream-meta.h): registration once with the right tags,
 * add/get helpers, copies that keep every field (deep), video scales that move boxes, keypoints
 * and tensor->frame transforms while keeping tensor and heatmap data, other transforms that
 * drop the geometric metas, and the appendable timing meta. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <gst/gst.h>
#include <gst/video/video.h>
#include <math.h>
#include <string.h>

#include "gst/camstream/camstream-meta.h"

static void registration(void **state)
{
    (void)state;
    GType api[] = {CS_TENSOR_META_API_TYPE, CS_CLASSIFICATION_META_API_TYPE,
                   CS_HEATMAP_META_API_TYPE, CS_DETECTIONS_META_API_TYPE, CS_TIMING_META_API_TYPE};
    const GstMetaInfo *info[] = {CS_TENSOR_META_INFO, CS_CLASSIFICATION_META_INFO,
                                 CS_HEATMAP_META_INFO, CS_DETECTIONS_META_INFO,
                                 CS_TIMING_META_INFO};
    const gboolean geometric[] = {TRUE, FALSE, TRUE, TRUE, FALSE};
    for (guint i = 0; i < G_N_ELEMENTS(api); i++) {
        assert_true(api[i] != 0);
        assert_non_null(info[i]);
        assert_true(info[i]->api == api[i]);
        assert_non_null(info[i]->transform_func);
        assert_int_equal(
            gst_meta_api_type_has_tag(api[i], g_quark_from_string(GST_META_TAG_VIDEO_STR)),
            geometric[i]);
        assert_int_equal(
            gst_meta_api_type_has_tag(api[i], g_quark_from_string(GST_META_TAG_VIDEO_SIZE_STR)),
            geometric[i]);
        for (guint j = 0; j < i; j++) assert_true(api[i] != api[j]);
    }
    /* Registered once: the same type and info on every call, and by name. */
    assert_true(cs_tensor_meta_api_get_type() == CS_TENSOR_META_API_TYPE);
    assert_true(g_type_from_name("CsTensorMetaAPI") == CS_TENSOR_META_API_TYPE);
    assert_ptr_equal(gst_meta_get_info("CsHeatmapMeta"), CS_HEATMAP_META_INFO);
    assert_true(gst_meta_api_type_has_tag(CS_CLASSIFICATION_META_API_TYPE,
                                          g_quark_from_string(GST_META_TAG_VIDEO_STR)) == FALSE);
}

/* A buffer with one of each meta, known values. */
static GstBuffer *make_buffer(void)
{
    GstBuffer *buf = gst_buffer_new_allocate(NULL, 64, NULL);
    gint64 dims[4] = {1, 3, 2, 2};
    gfloat data[12];
    for (int i = 0; i < 12; i++) data[i] = (gfloat)i * 0.5f;
    CsTensorMeta *t = cs_buffer_add_tensor_meta(buf, CS_TENSOR_ROLE_INPUT, "input", 4, dims, data);
    assert_non_null(t);
    t->preprocessing.resize = CS_TENSOR_RESIZE_LETTERBOX;
    t->preprocessing.mean[0] = 0.485f;
    t->preprocessing.std[0] = 0.229f;
    cs_tensor_meta_set_description(t, "preset=imagenet resize=letterbox");
    t->to_frame = (CsTransform2D){2.0, 2.0, 0.0, -10.0};
    t->frame_width = 640;
    t->frame_height = 480;
    t->frame_index = 7;

    CsClassificationMeta *c = cs_buffer_add_classification_meta(buf, 2, 10, "gap_cnn");
    cs_classification_meta_set(c, 0, 3, "cat", 4.5f, 0.8f);
    cs_classification_meta_set(c, 1, 1, NULL, 2.0f, 0.1f);
    c->frame_index = 7;

    gfloat map[6] = {0, 1, 2, 3, 4, 5};
    CsHeatmapMeta *h =
        cs_buffer_add_heatmap_meta(buf, "gradcam", 3, "cat", 4.5f, "layer4", 3, 2, map);
    assert_non_null(h);
    h->tensor_width = 32;
    h->tensor_height = 32;
    h->to_frame = (CsTransform2D){20.0, 15.0, 0.0, 0.0};
    h->frame_index = 5;
    h->pts = 123 * GST_MSECOND;
    h->async = TRUE;
    h->stage_ns = 42;

    CsDetectionsMeta *d = cs_buffer_add_detections_meta(buf);
    for (int i = 0; i < 6; i++) /* more than the initial capacity */
        cs_detections_meta_add(d, 10.0f * i, 20.0f, 100.0f, 50.0f, i, i == 0 ? "cat" : NULL, 0.5f,
                               i % 2 ? CS_DETECTION_SOURCE_HEATMAP
                                     : CS_DETECTION_SOURCE_REGRESSION);
    CsKeypoint kp[2] = {{30.0f, 40.0f, 0.9f}, {60.0f, 80.0f, -1.0f}};
    cs_detections_meta_set_keypoints(d, 0, 2, kp);
    guint edges[2] = {0, 1};
    cs_detections_meta_set_skeleton(d, 1, edges);
    d->frame_index = 5;

    cs_buffer_add_timing(buf, "csnormalize", 1000);
    cs_buffer_add_timing(buf, "csinfer", 2000);
    return buf;
}

static void add_and_get(void **state)
{
    (void)state;
    GstBuffer *buf = make_buffer();
    CsTensorMeta *t = cs_buffer_get_tensor_meta(buf);
    assert_non_null(t);
    assert_int_equal(t->numel, 12);
    assert_int_equal(t->ndim, 4);
    assert_true(t->data[11] == 5.5f);
    assert_string_equal(t->name, "input");
    assert_ptr_equal(cs_buffer_get_tensor_meta_full(buf, CS_TENSOR_ROLE_INPUT, "input"), t);
    assert_null(cs_buffer_get_tensor_meta_full(buf, CS_TENSOR_ROLE_OUTPUT, NULL));
    assert_null(cs_buffer_get_tensor_meta_full(buf, CS_TENSOR_ROLE_INPUT, "other"));
    gdouble fx, fy;
    cs_transform_2d_apply(&t->to_frame, 16.0, 16.0, &fx, &fy);
    assert_true(fx == 32.0 && fy == 22.0);

    CsClassificationMeta *c = cs_buffer_get_classification_meta(buf);
    assert_int_equal(c->n_results, 2);
    assert_int_equal(c->results[0].class_id, 3);
    assert_string_equal(c->results[0].label, "cat");
    assert_null(c->results[1].label);
    assert_string_equal(c->model, "gap_cnn");

    CsHeatmapMeta *h = cs_buffer_get_heatmap_meta(buf);
    assert_true(h->min == 0.0f && h->max == 5.0f);
    assert_int_equal(h->width, 3);
    assert_int_equal(h->height, 2);

    CsDetectionsMeta *d = cs_buffer_get_detections_meta(buf);
    assert_int_equal(d->n_detections, 6);
    assert_true(d->detections[5].x == 50.0f);
    assert_int_equal(d->detections[0].n_keypoints, 2);
    assert_int_equal(d->n_edges, 1);

    CsTimingMeta *tm = cs_buffer_get_timing_meta(buf);
    assert_int_equal(tm->n_stages, 2);
    assert_int_equal(cs_timing_meta_get(tm, "csinfer"), 2000);
    assert_int_equal(cs_timing_meta_get(tm, "cslocalize"), 0);

    /* Bad shapes are refused. */
    gint64 bad[2] = {3, 0};
    assert_null(cs_buffer_add_tensor_meta(buf, CS_TENSOR_ROLE_INPUT, NULL, 2, bad, NULL));
    assert_null(cs_buffer_add_tensor_meta(buf, CS_TENSOR_ROLE_INPUT, NULL, 0, bad, NULL));
    gint64 huge[3] = {G_MAXINT64 / 2, G_MAXINT64 / 2, 4};
    assert_null(cs_buffer_add_tensor_meta(buf, CS_TENSOR_ROLE_INPUT, NULL, 3, huge, NULL));
    gst_buffer_unref(buf);
}

static void check_copy(GstBuffer *src, GstBuffer *dst, gdouble sx, gdouble sy)
{
    CsTensorMeta *a = cs_buffer_get_tensor_meta(src), *b = cs_buffer_get_tensor_meta(dst);
    assert_non_null(b);
    assert_true(a->data != b->data);
    assert_memory_equal(a->data, b->data, a->numel * sizeof(gfloat));
    assert_memory_equal(a->dims, b->dims, sizeof a->dims);
    assert_string_equal(b->name, "input");
    assert_string_equal(b->preprocessing.description, "preset=imagenet resize=letterbox");
    assert_true(b->preprocessing.description != a->preprocessing.description);
    assert_int_equal(b->preprocessing.resize, CS_TENSOR_RESIZE_LETTERBOX);
    assert_true(b->preprocessing.std[0] == 0.229f && b->preprocessing.std[1] == 1.0f);
    assert_true(b->to_frame.scale_x == a->to_frame.scale_x * sx);
    assert_true(b->to_frame.offset_y == a->to_frame.offset_y * sy);
    assert_int_equal(b->frame_index, 7);

    CsClassificationMeta *c = cs_buffer_get_classification_meta(dst);
    assert_non_null(c);
    assert_int_equal(c->n_results, 2);
    assert_string_equal(c->results[0].label, "cat");
    assert_true(c->results[0].label != cs_buffer_get_classification_meta(src)->results[0].label);
    assert_true(c->results[0].probability == 0.8f);
    assert_int_equal(c->n_classes, 10);

    CsHeatmapMeta *h = cs_buffer_get_heatmap_meta(dst), *hs = cs_buffer_get_heatmap_meta(src);
    assert_non_null(h);
    assert_true(h->data != hs->data);
    assert_memory_equal(h->data, hs->data, 6 * sizeof(gfloat)); /* data kept as is */
    assert_int_equal(h->width, 3);
    assert_string_equal(h->method, "gradcam");
    assert_string_equal(h->layer, "layer4");
    assert_int_equal(h->frame_index, 5);
    assert_int_equal(h->pts, 123 * GST_MSECOND);
    assert_true(h->async);
    assert_int_equal(h->tensor_width, 32);
    assert_true(h->to_frame.scale_x == 20.0 * sx && h->to_frame.scale_y == 15.0 * sy);

    CsDetectionsMeta *d = cs_buffer_get_detections_meta(dst);
    CsDetectionsMeta *ds = cs_buffer_get_detections_meta(src);
    assert_non_null(d);
    assert_int_equal(d->n_detections, 6);
    for (guint i = 0; i < 6; i++) {
        const CsDetection *p = &ds->detections[i], *q = &d->detections[i];
        assert_true(fabsf(q->x - (gfloat)(p->x * sx)) < 1e-4f);
        assert_true(fabsf(q->y - (gfloat)(p->y * sy)) < 1e-4f);
        assert_true(fabsf(q->w - (gfloat)(p->w * sx)) < 1e-4f);
        assert_true(fabsf(q->h - (gfloat)(p->h * sy)) < 1e-4f);
        assert_int_equal(q->class_id, p->class_id);
        assert_int_equal(q->source, p->source);
        assert_int_equal(q->n_keypoints, p->n_keypoints);
        for (guint k = 0; k < q->n_keypoints; k++) {
            assert_true(fabsf(q->keypoints[k].x - (gfloat)(p->keypoints[k].x * sx)) < 1e-4f);
            assert_true(fabsf(q->keypoints[k].y - (gfloat)(p->keypoints[k].y * sy)) < 1e-4f);
            assert_true(q->keypoints[k].score == p->keypoints[k].score);
        }
    }
    assert_string_equal(d->detections[0].label, "cat");
    assert_int_equal(d->n_edges, 1);
    assert_int_equal(d->edges[1], 1);

    CsTimingMeta *tm = cs_buffer_get_timing_meta(dst);
    assert_int_equal(tm->n_stages, 2);
    assert_string_equal(tm->stages[0].name, "csnormalize");
}

static void copy_keeps_everything(void **state)
{
    (void)state;
    GstBuffer *src = make_buffer();
    GstBuffer *dst = gst_buffer_copy(src);
    check_copy(src, dst, 1.0, 1.0);
    gst_buffer_unref(src); /* the copy owns its data */
    CsHeatmapMeta *h = cs_buffer_get_heatmap_meta(dst);
    assert_true(h->data[5] == 5.0f);
    gst_buffer_unref(dst);
}

/* Runs every meta's transform as a video scale from 640×480 to out_w×out_h. */
static GstBuffer *scale_copy(GstBuffer *src, int out_w, int out_h)
{
    GstVideoInfo in, out;
    gst_video_info_set_format(&in, GST_VIDEO_FORMAT_RGB, 640, 480);
    gst_video_info_set_format(&out, GST_VIDEO_FORMAT_RGB, out_w, out_h);
    GstVideoMetaTransform tr = {&in, &out};
    GQuark scale = gst_video_meta_transform_scale_get_quark();
    GstBuffer *dst = gst_buffer_new();
    gpointer it = NULL;
    GstMeta *m;
    while ((m = gst_buffer_iterate_meta(src, &it)))
        assert_true(m->info->transform_func(dst, m, src, scale, &tr));
    return dst;
}

static void scale_moves_geometry(void **state)
{
    (void)state;
    GstBuffer *src = make_buffer();
    GstBuffer *dst = scale_copy(src, 320, 960); /* x halves, y doubles */
    check_copy(src, dst, 0.5, 2.0);
    CsTensorMeta *t = cs_buffer_get_tensor_meta(dst);
    assert_int_equal(t->frame_width, 320);
    assert_int_equal(t->frame_height, 960);
    /* A tensor point lands on the same content: frame point scaled. */
    gdouble fx0, fy0, fx1, fy1;
    cs_transform_2d_apply(&cs_buffer_get_tensor_meta(src)->to_frame, 8, 8, &fx0, &fy0);
    cs_transform_2d_apply(&t->to_frame, 8, 8, &fx1, &fy1);
    assert_true(fabs(fx1 - fx0 * 0.5) < 1e-9 && fabs(fy1 - fy0 * 2.0) < 1e-9);
    CsDetectionsMeta *d = cs_buffer_get_detections_meta(dst);
    assert_true(d->detections[1].x == 5.0f && d->detections[1].y == 40.0f);
    assert_true(d->detections[1].w == 50.0f && d->detections[1].h == 100.0f);
    assert_true(d->detections[0].keypoints[1].x == 30.0f &&
                d->detections[0].keypoints[1].y == 160.0f);
    gst_buffer_unref(dst);
    gst_buffer_unref(src);
}

static void other_transforms_drop_geometry(void **state)
{
    (void)state;
    GstBuffer *src = make_buffer();
    GstBuffer *dst = gst_buffer_new();
    GQuark other = g_quark_from_static_string("gst-some-other-transform");
    gpointer it = NULL;
    GstMeta *m;
    while ((m = gst_buffer_iterate_meta(src, &it))) {
        gboolean geometric =
            gst_meta_api_type_has_tag(m->info->api, g_quark_from_string(GST_META_TAG_VIDEO_STR));
        assert_int_equal(m->info->transform_func(dst, m, src, other, NULL), !geometric);
    }
    assert_null(cs_buffer_get_tensor_meta(dst));
    assert_null(cs_buffer_get_heatmap_meta(dst));
    assert_null(cs_buffer_get_detections_meta(dst));
    assert_non_null(cs_buffer_get_classification_meta(dst));
    assert_non_null(cs_buffer_get_timing_meta(dst));
    gst_buffer_unref(dst);
    gst_buffer_unref(src);
}

static void timing_appends(void **state)
{
    (void)state;
    GstBuffer *buf = gst_buffer_new();
    char name[64];
    for (int i = 0; i < CS_TIMING_MAX_STAGES + 3; i++) {
        g_snprintf(name, sizeof name, "stage-%d-with-a-name-longer-than-the-field", i);
        assert_non_null(cs_buffer_add_timing(buf, name, (guint64)i));
    }
    CsTimingMeta *tm = cs_buffer_get_timing_meta(buf);
    assert_int_equal(tm->n_stages, CS_TIMING_MAX_STAGES);
    assert_int_equal(tm->dropped, 3);
    assert_int_equal(strlen(tm->stages[0].name), CS_TIMING_NAME_LEN - 1);
    /* Only one timing meta per buffer. */
    gpointer it = NULL;
    int n = 0;
    while (gst_buffer_iterate_meta_filtered(buf, &it, CS_TIMING_META_API_TYPE)) n++;
    assert_int_equal(n, 1);
    gst_buffer_unref(buf);
}

int main(void)
{
    gst_init(NULL, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(registration),
        cmocka_unit_test(add_and_get),
        cmocka_unit_test(copy_keeps_everything),
        cmocka_unit_test(scale_moves_geometry),
        cmocka_unit_test(other_transforms_drop_geometry),
        cmocka_unit_test(timing_appends),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    gst_deinit();
    return rc;
}
