/* cspublish: GstHarness with a ZeroMQ SUB socket in the test. Synthetic metas go in, protobuf
 * messages come out and are unpacked and compared; a slow or absent subscriber never blocks the
 * element and drops are counted; bad endpoints and stream ids are refused.
 *
 * The registry is isolated: GST_REGISTRY_1_0 points into the build directory, GST_PLUGIN_PATH at
 * build/elements and no system plugins are scanned (set here before gst_init when the test
 * environment does not already: tests/elements/meson.build sets the first two). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <zmq.h>

#include "camstream.pb-c.h"
#include <gst/camstream/camstream-meta.h>

#define CAPS "video/x-raw,format=RGB,width=64,height=48,framerate=30/1"

static void *zctx;

/* A SUB socket connected to the element's bound endpoint, subscribed to prefix. */
static void *sub_new(GstElement *pub, const char *prefix, int rcvhwm)
{
    gchar *ep = NULL;
    g_object_get(pub, "bound-endpoint", &ep, NULL);
    assert_non_null(ep);
    void *s = zmq_socket(zctx, ZMQ_SUB);
    assert_non_null(s);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (rcvhwm > 0) {
        zmq_setsockopt(s, ZMQ_RCVHWM, &rcvhwm, sizeof rcvhwm);
        int rcvbuf = 4096;
        zmq_setsockopt(s, ZMQ_RCVBUF, &rcvbuf, sizeof rcvbuf);
    }
    zmq_setsockopt(s, ZMQ_SUBSCRIBE, prefix, strlen(prefix));
    assert_int_equal(zmq_connect(s, ep), 0);
    g_free(ep);
    return s;
}

static void sub_close(void **s)
{
    if (*s) zmq_close(*s);
    *s = NULL;
}

/* Receives one two-frame message within timeout_ms. Returns the unpacked result (NULL on
 * timeout); *topic gets the topic frame. */
static Camstream__V1__FrameResult *sub_recv(void *s, int timeout_ms, gchar **topic)
{
    zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, timeout_ms) <= 0) return NULL;
    zmq_msg_t t, p;
    zmq_msg_init(&t);
    assert_true(zmq_msg_recv(&t, s, 0) >= 0);
    assert_true(zmq_msg_more(&t));
    zmq_msg_init(&p);
    assert_true(zmq_msg_recv(&p, s, 0) >= 0);
    assert_false(zmq_msg_more(&p));
    if (topic) *topic = g_strndup(zmq_msg_data(&t), zmq_msg_size(&t));
    Camstream__V1__FrameResult *r =
        camstream__v1__frame_result__unpack(NULL, zmq_msg_size(&p), zmq_msg_data(&p));
    assert_non_null(r);
    zmq_msg_close(&t);
    zmq_msg_close(&p);
    return r;
}

static GstBuffer *blank_buffer(guint64 pts)
{
    GstBuffer *b = gst_buffer_new_allocate(NULL, 64 * 48 * 3, NULL);
    gst_buffer_memset(b, 0, 0x40, 64 * 48 * 3);
    GST_BUFFER_PTS(b) = pts;
    GST_BUFFER_DURATION(b) = GST_SECOND / 30;
    return b;
}

/* Pushes blank buffers until the subscriber receives one (ZeroMQ's slow joiner: subscriptions
 * reach the publisher asynchronously), then drains. */
static void wait_joined(GstHarness *h, void *s)
{
    for (int i = 0; i < 200; i++) {
        gst_buffer_unref(gst_harness_push_and_pull(h, blank_buffer(0)));
        Camstream__V1__FrameResult *r = sub_recv(s, 20, NULL);
        if (r) {
            camstream__v1__frame_result__free_unpacked(r, NULL);
            while ((r = sub_recv(s, 50, NULL))) camstream__v1__frame_result__free_unpacked(r, NULL);
            return;
        }
    }
    fail_msg("subscriber never joined");
}

static GstHarness *publisher(const char *stream_id, int hwm)
{
    /* Properties read at start are set before the harness starts the element. */
    GstElement *e = gst_element_factory_make("cspublish", NULL);
    assert_non_null(e);
    g_object_set(e, "endpoint", "tcp://127.0.0.1:*", "stream-id", stream_id, "hwm", hwm, NULL);
    GstHarness *h = gst_harness_new_with_element(e, "sink", "src");
    gst_object_unref(e);
    gst_harness_set_src_caps_str(h, CAPS);
    return h;
}

static guint64 prop_u64(GstElement *e, const char *name)
{
    guint64 v = 0;
    g_object_get(e, name, &v, NULL);
    return v;
}

/* ---- Properties ----------------------------------------------------------------------------- */

static void test_properties(void **state)
{
    GstElement *e = gst_element_factory_make("cspublish", NULL);
    assert_non_null(e);
    gchar *ep, *sid;
    gint hwm;
    gboolean heatmaps;
    guint max_size;
    g_object_get(e, "endpoint", &ep, "stream-id", &sid, "hwm", &hwm, "heatmaps", &heatmaps,
                 "heatmap-max-size", &max_size, NULL);
    assert_string_equal(ep, "tcp://127.0.0.1:5555"); /* loopback by default */
    assert_string_equal(sid, "default");
    assert_int_equal(hwm, 16);
    assert_true(heatmaps);
    assert_int_equal(max_size, 64);
    g_free(ep);
    g_free(sid);

    /* Bad stream ids are refused and the old value kept. */
    g_object_set(e, "stream-id", "cam-0_A", NULL);
    const char *bad[] = {"", "has space", "dot.ted", "slash/x",
                         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_object_set(e, "stream-id", bad[i], NULL);
        g_object_get(e, "stream-id", &sid, NULL);
        assert_string_equal(sid, "cam-0_A");
        g_free(sid);
    }
    g_object_set(e, "endpoint", "", NULL);
    g_object_get(e, "endpoint", &ep, NULL);
    assert_string_equal(ep, "tcp://127.0.0.1:5555");
    g_free(ep);

    /* Counters are read-only and zero; no endpoint bound while stopped. */
    GParamSpec *ps = g_object_class_find_property(G_OBJECT_GET_CLASS(e), "messages-dropped");
    assert_non_null(ps);
    assert_false(ps->flags & G_PARAM_WRITABLE);
    assert_int_equal(prop_u64(e, "messages-sent"), 0);
    g_object_get(e, "bound-endpoint", &ep, NULL);
    assert_null(ep);
    gst_object_unref(e);
}

/* ---- Message content ------------------------------------------------------------------------ */

static const float map_data[6 * 8] = {
    0.0f, 0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f,
    0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f, 0.9f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f, 0.9f, 1.0f,
    0.4f, 0.5f, 0.6f, 0.7f, 0.8f, 0.9f, 1.0f, 1.1f, 0.5f, 0.6f, 0.7f, 0.8f, 0.9f, 1.0f, 1.1f, 1.2f,
};

/* A buffer carrying every kind of meta with known values. */
static GstBuffer *meta_buffer(guint64 frame_index, guint64 pts)
{
    GstBuffer *b = blank_buffer(pts);
    CsClassificationMeta *c = cs_buffer_add_classification_meta(b, 3, 10, "gap_cnn_op13");
    cs_classification_meta_set(c, 0, 7, "horse", 4.0f, 0.60f);
    cs_classification_meta_set(c, 1, 2, "bird", 3.5f, 0.25f);
    cs_classification_meta_set(c, 2, 5, NULL, 1.0f, 0.05f);
    c->frame_index = frame_index;

    CsDetectionsMeta *d = cs_buffer_add_detections_meta(b);
    cs_detections_meta_add(d, 10.0f, 5.0f, 20.0f, 30.0f, 7, "horse", 0.9f,
                           CS_DETECTION_SOURCE_REGRESSION);
    guint i = cs_detections_meta_add(d, 1.0f, 2.0f, 3.0f, 4.0f, -1, NULL, 0.5f,
                                     CS_DETECTION_SOURCE_HEATMAP);
    CsKeypoint kp[3] = {{12.0f, 6.0f, 0.8f}, {20.0f, 15.0f, 0.7f}, {25.0f, 30.0f, -1.0f}};
    cs_detections_meta_set_keypoints(d, i, 3, kp);
    guint edges[4] = {0, 1, 1, 2};
    cs_detections_meta_set_skeleton(d, 2, edges);
    d->frame_index = frame_index;

    CsHeatmapMeta *hm =
        cs_buffer_add_heatmap_meta(b, "gradcampp", 7, "horse", 4.0f, "layer3", 8, 6, map_data);
    hm->tensor_width = 32;
    hm->tensor_height = 32;
    hm->to_frame = (CsTransform2D){2.0, 1.5, 0.0, 0.0}; /* stretched 32×32 -> 64×48 */
    hm->frame_index = frame_index > 2 ? frame_index - 2 : 0;
    hm->stage_ns = 1234;

    cs_buffer_add_timing(b, "csnormalize", 1000);
    cs_buffer_add_timing(b, "csinfer.explain", 5000); /* part of csinfer's time */
    cs_buffer_add_timing(b, "csinfer", 20000);
    return b;
}

static void check_content(const Camstream__V1__FrameResult *r, guint64 frame_index, guint64 pts,
                          gboolean with_heatmap, guint map_w, guint map_h)
{
    assert_string_equal(r->stream_id, "cam7");
    assert_int_equal(r->frame_index, frame_index);
    assert_int_equal(r->pts_ns, (int64_t)pts);
    assert_int_equal(r->duration_ns, GST_SECOND / 30);
    assert_int_equal(r->width, 64);
    assert_int_equal(r->height, 48);
    assert_string_equal(r->model_id, "gap_cnn_op13");
    assert_true(r->publish_unix_ns >= r->capture_unix_ns);
    assert_int_equal(r->publish_unix_ns - r->capture_unix_ns, 21000); /* Σ element stages */
    assert_true(r->publisher_start_unix_ns > 0);

    assert_int_equal(r->n_top_k, 3);
    assert_int_equal(r->top_k[0]->class_id, 7);
    assert_string_equal(r->top_k[0]->label, "horse");
    assert_float_equal(r->top_k[0]->score, 4.0f, 1e-6);
    assert_float_equal(r->top_k[0]->probability, 0.60f, 1e-6);
    assert_int_equal(r->top_k[1]->class_id, 2);
    assert_string_equal(r->top_k[2]->label, "");

    assert_int_equal(r->n_detections, 2);
    const Camstream__V1__Detection *d0 = r->detections[0], *d1 = r->detections[1];
    assert_float_equal(d0->x, 10.0f, 0);
    assert_float_equal(d0->y, 5.0f, 0);
    assert_float_equal(d0->w, 20.0f, 0);
    assert_float_equal(d0->h, 30.0f, 0);
    assert_int_equal(d0->class_id, 7);
    assert_string_equal(d0->label, "horse");
    assert_float_equal(d0->score, 0.9f, 1e-6);
    assert_int_equal(d0->source, CAMSTREAM__V1__DETECTION_SOURCE__DETECTION_SOURCE_REGRESSION);
    assert_int_equal(d0->n_keypoints, 0);
    assert_int_equal(d0->frame_index, frame_index);
    assert_int_equal(d1->class_id, -1);
    assert_int_equal(d1->source, CAMSTREAM__V1__DETECTION_SOURCE__DETECTION_SOURCE_HEATMAP);
    assert_int_equal(d1->n_keypoints, 3);
    assert_float_equal(d1->keypoints[1]->x, 20.0f, 0);
    assert_float_equal(d1->keypoints[1]->y, 15.0f, 0);
    assert_float_equal(d1->keypoints[1]->score, 0.7f, 1e-6);
    assert_true(d1->keypoints[2]->score < 0.0f);
    assert_int_equal(d1->n_skeleton, 2);
    assert_int_equal(d1->skeleton[1]->from_index, 1);
    assert_int_equal(d1->skeleton[1]->to_index, 2);

    assert_int_equal(r->n_timings, 3);
    assert_string_equal(r->timings[0]->name, "csnormalize");
    assert_int_equal(r->timings[0]->ns, 1000);
    assert_string_equal(r->timings[1]->name, "csinfer.explain");
    assert_int_equal(r->timings[1]->ns, 5000);
    assert_string_equal(r->timings[2]->name, "csinfer");
    assert_int_equal(r->timings[2]->ns, 20000);

    if (!with_heatmap) {
        assert_int_equal(r->n_heatmaps, 0);
        return;
    }
    assert_int_equal(r->n_heatmaps, 1);
    const Camstream__V1__Heatmap *h = r->heatmaps[0];
    assert_int_equal(h->method, CAMSTREAM__V1__EXPLAIN_METHOD__EXPLAIN_METHOD_GRADCAM_PP);
    assert_string_equal(h->method_name, "gradcampp");
    assert_int_equal(h->class_id, 7);
    assert_string_equal(h->class_label, "horse");
    assert_float_equal(h->class_score, 4.0f, 1e-6);
    assert_string_equal(h->layer, "layer3");
    assert_int_equal(h->frame_index, frame_index > 2 ? frame_index - 2 : 0);
    assert_int_equal(h->compute_ns, 1234);
    assert_int_equal(h->width, map_w);
    assert_int_equal(h->height, map_h);
    assert_int_equal(h->data.len, map_w * map_h);
    assert_float_equal(h->frame_x, 0.0f, 1e-6);
    assert_float_equal(h->frame_y, 0.0f, 1e-6);
    assert_float_equal(h->frame_w, 64.0f, 1e-4);
    assert_float_equal(h->frame_h, 48.0f, 1e-4);
    assert_float_equal(h->offset, 0.0f, 1e-6);
    assert_float_equal(h->scale, 1.2f / 255.0f, 1e-6);
    /* Recovered values: within half a quantization step of the (box-filtered) map. */
    guint fx = 8 / map_w, fy = 6 / map_h;
    for (guint y = 0; y < map_h; y++)
        for (guint x = 0; x < map_w; x++) {
            double want = 0.0;
            for (guint yy = 0; yy < fy; yy++)
                for (guint xx = 0; xx < fx; xx++) want += map_data[(y * fy + yy) * 8 + x * fx + xx];
            want /= fx * fy;
            double got = h->offset + h->scale * h->data.data[y * map_w + x];
            assert_float_equal(got, want, h->scale * 0.5 + 1e-6);
        }
}

static void test_message_content(void **state)
{
    GstHarness *h = publisher("cam7", 16);
    void *s = sub_new(h->element, "frame.", 0);
    wait_joined(h, s);
    guint64 seq0 = prop_u64(h->element, "messages-sent");

    /* Full size heatmap (8×6 ≤ 64). */
    gst_buffer_unref(gst_harness_push_and_pull(h, meta_buffer(41, 41 * GST_SECOND / 30)));
    gchar *topic = NULL;
    Camstream__V1__FrameResult *r = sub_recv(s, 2000, &topic);
    assert_non_null(r);
    assert_string_equal(topic, "frame.cam7");
    assert_int_equal(r->sequence, seq0);
    check_content(r, 41, 41 * GST_SECOND / 30, TRUE, 8, 6);
    camstream__v1__frame_result__free_unpacked(r, NULL);
    g_free(topic);

    /* Downsampled: heatmap-max-size 4 -> 4×3 (2×2 boxes). */
    g_object_set(h->element, "heatmap-max-size", 4, NULL);
    gst_buffer_unref(gst_harness_push_and_pull(h, meta_buffer(42, 42 * GST_SECOND / 30)));
    r = sub_recv(s, 2000, NULL);
    assert_non_null(r);
    assert_int_equal(r->sequence, seq0 + 1);
    check_content(r, 42, 42 * GST_SECOND / 30, TRUE, 4, 3);
    camstream__v1__frame_result__free_unpacked(r, NULL);

    /* Without heatmaps. */
    g_object_set(h->element, "heatmaps", FALSE, NULL);
    gst_buffer_unref(gst_harness_push_and_pull(h, meta_buffer(43, 43 * GST_SECOND / 30)));
    r = sub_recv(s, 2000, NULL);
    assert_non_null(r);
    assert_int_equal(r->sequence, seq0 + 2);
    check_content(r, 43, 43 * GST_SECOND / 30, FALSE, 0, 0);
    camstream__v1__frame_result__free_unpacked(r, NULL);

    /* A buffer without metas and without timestamp: frame_index falls back to the offset. */
    GstBuffer *b = blank_buffer(0);
    GST_BUFFER_PTS(b) = GST_CLOCK_TIME_NONE;
    GST_BUFFER_OFFSET(b) = 99;
    GstBuffer *out = gst_harness_push_and_pull(h, b);
    assert_ptr_equal(out, b); /* passthrough, in place: the same buffer comes out */
    gst_buffer_unref(out);
    r = sub_recv(s, 2000, NULL);
    assert_non_null(r);
    assert_int_equal(r->sequence, seq0 + 3);
    assert_int_equal(r->frame_index, 99);
    assert_int_equal(r->pts_ns, -1);
    assert_int_equal(r->n_top_k, 0);
    assert_int_equal(r->n_detections, 0);
    assert_string_equal(r->model_id, "");
    camstream__v1__frame_result__free_unpacked(r, NULL);

    assert_int_equal(prop_u64(h->element, "messages-dropped"), 0);
    sub_close(&s);
    gst_harness_teardown(h);
}

/* Big heatmaps (100×100 sent whole) make messages of ~10 kB. */
static GstBuffer *big_buffer(guint64 i)
{
    static float big[100 * 100];
    for (int k = 0; k < 100 * 100; k++) big[k] = (float)((k * 7919 + i) % 251);
    GstBuffer *b = blank_buffer(i * GST_SECOND / 30);
    CsClassificationMeta *c = cs_buffer_add_classification_meta(b, 1, 10, "m");
    cs_classification_meta_set(c, 0, 1, "x", 1.0f, 0.5f);
    c->frame_index = i;
    cs_buffer_add_heatmap_meta(b, "gradcam", 1, "x", 1.0f, NULL, 100, 100, big);
    return b;
}

/* A subscriber that stops reading: the element keeps going at full speed, drops and counts;
 * what the subscriber eventually reads has sequence gaps matching the drops. */
static void test_slow_subscriber(void **state)
{
    GstHarness *h = publisher("slow", 4);
    g_object_set(h->element, "heatmap-max-size", 0, NULL);
    void *s = sub_new(h->element, "frame.slow", 1);
    wait_joined(h, s);
    guint64 sent0 = prop_u64(h->element, "messages-sent");
    const guint n = 2000;

    gint64 t0 = g_get_monotonic_time();
    gint64 worst = 0;
    for (guint i = 0; i < n; i++) {
        gint64 a = g_get_monotonic_time();
        gst_buffer_unref(gst_harness_push_and_pull(h, big_buffer(1000 + i)));
        worst = MAX(worst, g_get_monotonic_time() - a);
    }
    gint64 elapsed = g_get_monotonic_time() - t0;
    guint64 sent = prop_u64(h->element, "messages-sent") - sent0;
    guint64 dropped = prop_u64(h->element, "messages-dropped");
    print_message("slow subscriber: %u buffers in %.1f ms (worst %.2f ms): %" G_GUINT64_FORMAT
                  " sent, %" G_GUINT64_FORMAT " dropped\n",
                  n, elapsed / 1e3, worst / 1e3, sent, dropped);
    assert_int_equal(sent + dropped, n);
    assert_true(dropped > 0);
    assert_true(worst < 500 * 1000); /* never blocks: no push waits for the subscriber */

    /* Now read: sequence numbers increase, and their gaps add up to the drops. */
    guint64 prev = 0, received = 0, gaps = 0;
    Camstream__V1__FrameResult *r;
    while ((r = sub_recv(s, 300, NULL))) {
        if (r->frame_index >= 1000) {
            if (received > 0) {
                assert_true(r->sequence > prev);
                gaps += r->sequence - prev - 1;
            }
            prev = r->sequence;
            received++;
        }
        camstream__v1__frame_result__free_unpacked(r, NULL);
    }
    print_message("subscriber read %" G_GUINT64_FORMAT " messages, %" G_GUINT64_FORMAT
                  " lost in gaps\n",
                  received, gaps);
    assert_true(received > 0);
    assert_true(received < n);
    assert_true(gaps <= dropped); /* drops after the last message read show as no gap */
    sub_close(&s);
    gst_harness_teardown(h);
}

/* No subscriber at all: nothing blocks, nothing is dropped (messages go nowhere). */
static void test_no_subscriber(void **state)
{
    GstHarness *h = publisher("alone", 1);
    gint64 t0 = g_get_monotonic_time();
    for (guint i = 0; i < 500; i++) gst_buffer_unref(gst_harness_push_and_pull(h, big_buffer(i)));
    assert_true(g_get_monotonic_time() - t0 < 20 * G_USEC_PER_SEC);
    assert_int_equal(prop_u64(h->element, "messages-sent"), 500);
    assert_int_equal(prop_u64(h->element, "messages-dropped"), 0);
    gst_harness_teardown(h);
}

/* Stop/start cycles rebind the same fixed endpoint (linger 0 frees it at once). */
static void test_restart(void **state)
{
    GstElement *e = gst_element_factory_make("cspublish", NULL);
    /* A free port from a plain socket: close() releases it synchronously, unlike zmq_close,
     * whose listener goes away later on ZeroMQ's I/O thread. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    close(fd);
    char ep[256];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
    g_object_set(e, "endpoint", ep, NULL);
    for (int run = 0; run < 3; run++) {
        assert_int_equal(gst_element_set_state(e, GST_STATE_PAUSED), GST_STATE_CHANGE_SUCCESS);
        gchar *bound = NULL;
        g_object_get(e, "bound-endpoint", &bound, NULL);
        assert_string_equal(bound, ep);
        g_free(bound);
        assert_int_equal(gst_element_set_state(e, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
    }
    gst_object_unref(e);
}

/* Bind errors are element errors naming the endpoint; the state change fails. */
static void expect_bind_error(const char *endpoint)
{
    GstElement *pipe = gst_pipeline_new(NULL);
    GstElement *e = gst_element_factory_make("cspublish", NULL);
    gst_bin_add(GST_BIN(pipe), e);
    g_object_set(e, "endpoint", endpoint, NULL);
    assert_int_equal(gst_element_set_state(pipe, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
    GstBus *bus = gst_element_get_bus(pipe);
    GstMessage *m = gst_bus_timed_pop_filtered(bus, GST_SECOND, GST_MESSAGE_ERROR);
    assert_non_null(m);
    GError *err = NULL;
    gst_message_parse_error(m, &err, NULL);
    print_message("%s -> %s\n", endpoint, err->message);
    assert_non_null(strstr(err->message, endpoint));
    assert_true(g_error_matches(err, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_WRITE));
    g_error_free(err);
    gst_message_unref(m);
    gst_object_unref(bus);
    gst_element_set_state(pipe, GST_STATE_NULL);
    gst_object_unref(pipe);
}

static void test_bad_endpoint(void **state)
{
    expect_bind_error("tcp://127.0.0.1:notaport");
    expect_bind_error("nonsense");
    expect_bind_error("carrier-pigeon://coop");

    /* Port in use. */
    void *other = zmq_socket(zctx, ZMQ_PUB);
    assert_int_equal(zmq_bind(other, "tcp://127.0.0.1:*"), 0);
    char ep[256];
    size_t len = sizeof ep;
    zmq_getsockopt(other, ZMQ_LAST_ENDPOINT, ep, &len);
    expect_bind_error(ep);
    int linger = 0;
    zmq_setsockopt(other, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(other);
}

/* connect=true, context=ours: two elements publish into one socket the application bound on an
 * inproc:// endpoint of its own context (camstreamd's layout). */
static void test_connect_mode(void **state)
{
    GstElement *probe = gst_element_factory_make("cspublish", NULL);
    gboolean connect = TRUE;
    gpointer ctx = &connect;
    g_object_get(probe, "connect", &connect, "context", &ctx, NULL);
    assert_false(connect);
    assert_null(ctx);
    gst_object_unref(probe);

    const char *ep = "inproc://cspublish-connect-test";
    void *s = zmq_socket(zctx, ZMQ_SUB);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_SUBSCRIBE, "frame.", 6);
    assert_int_equal(zmq_bind(s, ep), 0);
    GstHarness *h[2];
    const char *ids[2] = {"left", "right"};
    for (int i = 0; i < 2; i++) {
        GstElement *e = gst_element_factory_make("cspublish", NULL);
        g_object_set(e, "endpoint", ep, "connect", TRUE, "context", zctx, "stream-id", ids[i],
                     NULL);
        h[i] = gst_harness_new_with_element(e, "sink", "src");
        gst_object_unref(e);
        gst_harness_set_src_caps_str(h[i], CAPS);
        gchar *bound = NULL;
        g_object_get(h[i]->element, "bound-endpoint", &bound, NULL);
        assert_string_equal(bound, ep); /* nothing bound: the endpoint connected to */
        g_free(bound);
    }
    /* the subscription reaches the publishers asynchronously: push until both were heard */
    int seen[2] = {0, 0};
    for (int round = 0; round < 200 && !(seen[0] && seen[1]); round++) {
        for (int i = 0; i < 2; i++)
            gst_buffer_unref(gst_harness_push_and_pull(h[i], blank_buffer(0)));
        gchar *topic = NULL;
        Camstream__V1__FrameResult *r;
        while ((r = sub_recv(s, 20, &topic))) {
            for (int i = 0; i < 2; i++)
                if (strcmp(r->stream_id, ids[i]) == 0) {
                    gchar *want = g_strconcat("frame.", ids[i], NULL);
                    assert_string_equal(topic, want);
                    g_free(want);
                    seen[i] = 1;
                }
            camstream__v1__frame_result__free_unpacked(r, NULL);
            g_free(topic);
            topic = NULL;
        }
    }
    assert_true(seen[0] && seen[1]);
    for (int i = 0; i < 2; i++) gst_harness_teardown(h[i]);
    /* stopping the elements left our context alone */
    void *again = zmq_socket(zctx, ZMQ_PUB);
    assert_non_null(again);
    zmq_close(again);
    zmq_close(s);
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
    if (!g_getenv("GST_REGISTRY_1_0") && !g_getenv("GST_REGISTRY")) {
        gchar *p = g_build_filename(build, "tests", "elements", "registry-cspublish.bin", NULL);
        g_setenv("GST_REGISTRY", p, TRUE);
        g_free(p);
    }
    g_setenv("GST_PLUGIN_SYSTEM_PATH_1_0", "", FALSE);
}

int main(void)
{
    setup_env();
    gst_init(NULL, NULL);
    zctx = zmq_ctx_new();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_properties),      cmocka_unit_test(test_message_content),
        cmocka_unit_test(test_slow_subscriber), cmocka_unit_test(test_no_subscriber),
        cmocka_unit_test(test_restart),         cmocka_unit_test(test_bad_endpoint),
        cmocka_unit_test(test_connect_mode),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    zmq_ctx_term(zctx);
    gst_deinit();
    return rc;
}
