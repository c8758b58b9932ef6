/* cspublish: publishes each buffer's camstream metas as a protobuf message on ZeroMQ.
 *
 * SPDX-License-Identifier: MIT
 */

/**
 * SECTION:element-cspublish
 * @title: cspublish
 *
 * Serializes what the camstream elements attached to each video buffer (classification,
 * detections, heatmaps, per-stage timing, and the frame's identity) as a
 * `camstream.v1.FrameResult` protobuf message (proto/camstream.proto) and publishes it on a
 * ZeroMQ PUB socket as two frames: the topic `frame.<stream-id>`, then the payload
 * (docs/PROTOCOL.md). The video passes through untouched.
 *
 * Publishing never blocks the video. Messages are sent with ZMQ_DONTWAIT under a send
 * high-water mark (#GstCsPublish:hwm); when a subscriber cannot keep up, the message is dropped
 * and counted (#GstCsPublish:messages-dropped). Every message, sent or dropped, takes the next
 * per-stream sequence number, so subscribers see gaps.
 *
 * The socket binds when the element goes from READY to PAUSED and closes (linger 0: unsent
 * messages are discarded) when it goes back to READY. A bind failure (port in use, bad
 * endpoint) is an element error naming the endpoint.
 *
 * With #GstCsPublish:connect the socket connects to the endpoint instead of binding it, so that
 * an application can gather several pipelines' messages behind one socket it binds itself
 * (camstreamd: an XSUB on `inproc://…` forwarding to an XPUB). `inproc://` endpoints need the
 * application's ZeroMQ context (#GstCsPublish:context, set from code only).
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 videotestsrc ! videoconvert ! csnormalize preset=imagenet ! \
 *     csinfer model=model.onnx explain=gradcam ! cspublish endpoint=tcp://127.0.0.1:5555 \
 *     stream-id=cam0 ! fakesink
 * ]| and in another terminal `examples/subscriber.py tcp://127.0.0.1:5555`.
 */

#include "gstcspublish.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include <gst/video/video.h>
#include <zmq.h>

#include "camstream.pb-c.h"
#include <gst/camstream/camstream-meta.h>

GST_DEBUG_CATEGORY_STATIC(gst_cs_publish_debug);
#define GST_CAT_DEFAULT gst_cs_publish_debug

#define DEFAULT_ENDPOINT "tcp://127.0.0.1:5555"
#define DEFAULT_STREAM_ID "default"
#define DEFAULT_HWM 16
#define DEFAULT_HEATMAPS TRUE
#define DEFAULT_HEATMAP_MAX_SIZE 64
#define MAX_STREAM_ID_LEN 64
/* Messages up to this size are packed on the stack, larger ones on the heap. */
#define STACK_PACK_SIZE 4096

enum {
    PROP_0,
    PROP_ENDPOINT,
    PROP_STREAM_ID,
    PROP_HWM,
    PROP_HEATMAPS,
    PROP_HEATMAP_MAX_SIZE,
    PROP_MESSAGES_SENT,
    PROP_MESSAGES_DROPPED,
    PROP_BOUND_ENDPOINT,
    PROP_CONNECT,
    PROP_CONTEXT,
};

struct _GstCsPublish {
    GstBaseTransform parent;

    /* Properties, under the object lock. endpoint, stream-id and hwm are read when the socket
     * opens (READY -> PAUSED); heatmaps and heatmap-max-size apply to the next buffer. */
    gchar *endpoint;
    gchar *stream_id;
    gint hwm;
    gboolean heatmaps;
    guint heatmap_max_size;
    gboolean connect;
    void *app_context; /* the application's ZeroMQ context, or NULL: ours */
    /* Counters, under the object lock (read-only properties). */
    guint64 messages_sent;
    guint64 messages_dropped;
    gchar *bound_endpoint;

    /* Streaming state: written in start/stop and on the streaming thread only. */
    void *socket;
    gboolean socket_shared_ctx; /* the socket holds a reference on our shared context */
    gchar *topic;               /* "frame.<stream-id>" */
    gchar *run_stream_id;       /* stream-id of this run */
    guint64 sequence;           /* next message's sequence number */
    guint64 buffers_seen;
    guint64 start_unix_ns; /* wall clock when the socket opened */
    guint width, height;   /* from caps */
};

/* ---- One ZeroMQ context per process, shared and refcounted -------------------------------- */

static GMutex zmq_ctx_lock;
static void *zmq_ctx;
static guint zmq_ctx_refs;

static void *cs_zmq_context_ref(void)
{
    g_mutex_lock(&zmq_ctx_lock);
    if (!zmq_ctx) {
        zmq_ctx = zmq_ctx_new();
        /* With every socket at linger 0, terminating never waits for unsent messages. */
        if (zmq_ctx) zmq_ctx_set(zmq_ctx, ZMQ_BLOCKY, 0);
    }
    if (zmq_ctx) zmq_ctx_refs++;
    void *ctx = zmq_ctx;
    g_mutex_unlock(&zmq_ctx_lock);
    return ctx;
}

static void cs_zmq_context_unref(void)
{
    g_mutex_lock(&zmq_ctx_lock);
    if (zmq_ctx_refs > 0 && --zmq_ctx_refs == 0) {
        zmq_ctx_term(zmq_ctx);
        zmq_ctx = NULL;
    }
    g_mutex_unlock(&zmq_ctx_lock);
}

/* ---- Element boilerplate -------------------------------------------------------------------- */

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE(
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS("video/x-raw(ANY)"));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE(
    "src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS("video/x-raw(ANY)"));

#define gst_cs_publish_parent_class parent_class
G_DEFINE_TYPE(GstCsPublish, gst_cs_publish, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE(cspublish, "cspublish", GST_RANK_NONE, GST_TYPE_CS_PUBLISH);

static void gst_cs_publish_set_property(GObject *object, guint prop_id, const GValue *value,
                                        GParamSpec *pspec);
static void gst_cs_publish_get_property(GObject *object, guint prop_id, GValue *value,
                                        GParamSpec *pspec);
static void gst_cs_publish_finalize(GObject *object);
static gboolean gst_cs_publish_start(GstBaseTransform *trans);
static gboolean gst_cs_publish_stop(GstBaseTransform *trans);
static gboolean gst_cs_publish_set_caps(GstBaseTransform *trans, GstCaps *incaps, GstCaps *outcaps);
static GstFlowReturn gst_cs_publish_transform_ip(GstBaseTransform *trans, GstBuffer *buf);

static void gst_cs_publish_class_init(GstCsPublishClass *klass)
{
    GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
    GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
    GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS(klass);

    GST_DEBUG_CATEGORY_INIT(gst_cs_publish_debug, "cspublish", 0,
                            "camstream ZeroMQ/protobuf publisher");

    gobject_class->set_property = gst_cs_publish_set_property;
    gobject_class->get_property = gst_cs_publish_get_property;
    gobject_class->finalize = gst_cs_publish_finalize;

    /**
     * GstCsPublish:endpoint:
     *
     * ZeroMQ endpoint the PUB socket binds to: `tcp://host:port` (`tcp://127.0.0.1:*` for any
     * free port, see #GstCsPublish:bound-endpoint) or `ipc:///path`. Loopback by default; bind
     * to `tcp://0.0.0.0:port` deliberately to publish on the network. Read when the element
     * starts.
     */
    g_object_class_install_property(
        gobject_class, PROP_ENDPOINT,
        g_param_spec_string("endpoint", "Endpoint",
                            "ZeroMQ endpoint to bind the PUB socket to (tcp://host:port, "
                            "ipc:///path); read at start",
                            DEFAULT_ENDPOINT,
                            G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
    /**
     * GstCsPublish:stream-id:
     *
     * Name of the stream: the topic is `frame.<stream-id>`. 1 to 64 characters from
     * `[A-Za-z0-9_-]`; other values are refused (the property keeps its value). Read when the
     * element starts.
     */
    g_object_class_install_property(
        gobject_class, PROP_STREAM_ID,
        g_param_spec_string("stream-id", "Stream id",
                            "Stream name used in the topic frame.<stream-id> and in every "
                            "message ([A-Za-z0-9_-], at most 64 characters); read at start",
                            DEFAULT_STREAM_ID,
                            G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
    /**
     * GstCsPublish:hwm:
     *
     * Send high-water mark: messages queued per subscriber before new ones are dropped
     * (ZMQ_SNDHWM). 0 means no limit (memory then grows with a stalled subscriber). Read when
     * the element starts.
     */
    g_object_class_install_property(
        gobject_class, PROP_HWM,
        g_param_spec_int("hwm", "High-water mark",
                         "Messages queued per subscriber before new ones are dropped "
                         "(ZMQ_SNDHWM, 0 = unlimited); read at start",
                         0, G_MAXINT, DEFAULT_HWM,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
    /**
     * GstCsPublish:heatmaps:
     *
     * Include explanation heatmaps in the messages (8-bit, see
     * #GstCsPublish:heatmap-max-size). They dominate the message size.
     */
    g_object_class_install_property(
        gobject_class, PROP_HEATMAPS,
        g_param_spec_boolean(
            "heatmaps", "Heatmaps", "Include explanation heatmaps (8-bit) in the messages",
            DEFAULT_HEATMAPS,
            G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
    /**
     * GstCsPublish:heatmap-max-size:
     *
     * Heatmaps wider or taller than this are downsampled (box filter, aspect ratio kept) so
     * that neither side exceeds it. 0: send them at their own size.
     */
    g_object_class_install_property(
        gobject_class, PROP_HEATMAP_MAX_SIZE,
        g_param_spec_uint("heatmap-max-size", "Heatmap maximum size",
                          "Downsample heatmaps so that neither side exceeds this (0 = never)", 0,
                          4096, DEFAULT_HEATMAP_MAX_SIZE,
                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
    /**
     * GstCsPublish:messages-sent:
     *
     * Messages ZeroMQ accepted since the element started (delivered to every subscriber
     * connected at the time; with no subscriber they go nowhere).
     */
    g_object_class_install_property(
        gobject_class, PROP_MESSAGES_SENT,
        g_param_spec_uint64("messages-sent", "Messages sent",
                            "Messages accepted by ZeroMQ since the element started", 0, G_MAXUINT64,
                            0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
    /**
     * GstCsPublish:messages-dropped:
     *
     * Messages dropped since the element started because a subscriber had reached the
     * high-water mark (or could not be serialized).
     */
    g_object_class_install_property(
        gobject_class, PROP_MESSAGES_DROPPED,
        g_param_spec_uint64("messages-dropped", "Messages dropped",
                            "Messages dropped (slow subscribers) since the element started", 0,
                            G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
    /**
     * GstCsPublish:bound-endpoint:
     *
     * The endpoint actually bound (ZMQ_LAST_ENDPOINT: the port chosen for `tcp://…:*`); NULL
     * while the element is stopped.
     */
    g_object_class_install_property(
        gobject_class, PROP_BOUND_ENDPOINT,
        g_param_spec_string("bound-endpoint", "Bound endpoint",
                            "Endpoint actually bound (resolves tcp://host:*); NULL when stopped",
                            NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

    /**
     * GstCsPublish:connect:
     *
     * FALSE (default): bind #GstCsPublish:endpoint. TRUE: connect to it (a forwarder the
     * application binds, e.g. an XSUB socket). Read when the element starts.
     */
    g_object_class_install_property(
        gobject_class, PROP_CONNECT,
        g_param_spec_boolean("connect", "Connect",
                             "Connect the PUB socket to the endpoint instead of binding it; "
                             "read at start",
                             FALSE,
                             G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
    /**
     * GstCsPublish:context:
     *
     * A ZeroMQ context (`void *` from zmq_ctx_new) of the application to create the socket in,
     * needed to reach its `inproc://` endpoints; NULL (default): the plugin's own context,
     * shared by every cspublish of the process. The application keeps it alive until the
     * element is back in READY. A pointer: settable from code only, not from gst-launch-1.0.
     */
    g_object_class_install_property(
        gobject_class, PROP_CONTEXT,
        g_param_spec_pointer("context", "ZeroMQ context",
                             "Application's ZeroMQ context (for inproc:// endpoints); NULL: the "
                             "plugin's own; read at start",
                             G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));

    gst_element_class_set_static_metadata(
        element_class, "camstream publisher", "Filter/Video/Analyzer",
        "Publishes camstream analysis metas as protobuf messages on a ZeroMQ PUB socket",
        "camstream developers");
    gst_element_class_add_static_pad_template(element_class, &sink_template);
    gst_element_class_add_static_pad_template(element_class, &src_template);

    trans_class->start = GST_DEBUG_FUNCPTR(gst_cs_publish_start);
    trans_class->stop = GST_DEBUG_FUNCPTR(gst_cs_publish_stop);
    trans_class->set_caps = GST_DEBUG_FUNCPTR(gst_cs_publish_set_caps);
    trans_class->transform_ip = GST_DEBUG_FUNCPTR(gst_cs_publish_transform_ip);
    trans_class->transform_ip_on_passthrough = TRUE;
    trans_class->passthrough_on_same_caps = TRUE;
}

static void gst_cs_publish_init(GstCsPublish *self)
{
    self->endpoint = g_strdup(DEFAULT_ENDPOINT);
    self->stream_id = g_strdup(DEFAULT_STREAM_ID);
    self->hwm = DEFAULT_HWM;
    self->heatmaps = DEFAULT_HEATMAPS;
    self->heatmap_max_size = DEFAULT_HEATMAP_MAX_SIZE;
    /* Reads metas only: the buffer is never written, so it never needs to be made writable. */
    gst_base_transform_set_passthrough(GST_BASE_TRANSFORM(self), TRUE);
    gst_base_transform_set_in_place(GST_BASE_TRANSFORM(self), TRUE);
}

static void gst_cs_publish_finalize(GObject *object)
{
    GstCsPublish *self = GST_CS_PUBLISH(object);
    g_free(self->endpoint);
    g_free(self->stream_id);
    g_free(self->bound_endpoint);
    g_free(self->topic);
    g_free(self->run_stream_id);
    G_OBJECT_CLASS(parent_class)->finalize(object);
}

static gboolean stream_id_valid(const gchar *s)
{
    if (!s || !*s || strlen(s) > MAX_STREAM_ID_LEN) return FALSE;
    for (const gchar *p = s; *p; p++)
        if (!g_ascii_isalnum(*p) && *p != '_' && *p != '-') return FALSE;
    return TRUE;
}

static void gst_cs_publish_set_property(GObject *object, guint prop_id, const GValue *value,
                                        GParamSpec *pspec)
{
    GstCsPublish *self = GST_CS_PUBLISH(object);

    GST_OBJECT_LOCK(self);
    switch (prop_id) {
    case PROP_ENDPOINT: {
        const gchar *s = g_value_get_string(value);
        if (!s || !*s) {
            GST_WARNING_OBJECT(self, "empty endpoint refused, keeping '%s'", self->endpoint);
            break;
        }
        g_free(self->endpoint);
        self->endpoint = g_strdup(s);
        break;
    }
    case PROP_STREAM_ID: {
        const gchar *s = g_value_get_string(value);
        if (!stream_id_valid(s)) {
            GST_WARNING_OBJECT(self,
                               "stream-id '%s' refused (1-%d characters from [A-Za-z0-9_-]), "
                               "keeping '%s'",
                               s ? s : "(null)", MAX_STREAM_ID_LEN, self->stream_id);
            break;
        }
        g_free(self->stream_id);
        self->stream_id = g_strdup(s);
        break;
    }
    case PROP_HWM:
        self->hwm = g_value_get_int(value);
        break;
    case PROP_HEATMAPS:
        self->heatmaps = g_value_get_boolean(value);
        break;
    case PROP_HEATMAP_MAX_SIZE:
        self->heatmap_max_size = g_value_get_uint(value);
        break;
    case PROP_CONNECT:
        self->connect = g_value_get_boolean(value);
        break;
    case PROP_CONTEXT:
        self->app_context = g_value_get_pointer(value);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
        break;
    }
    GST_OBJECT_UNLOCK(self);
}

static void gst_cs_publish_get_property(GObject *object, guint prop_id, GValue *value,
                                        GParamSpec *pspec)
{
    GstCsPublish *self = GST_CS_PUBLISH(object);

    GST_OBJECT_LOCK(self);
    switch (prop_id) {
    case PROP_ENDPOINT:
        g_value_set_string(value, self->endpoint);
        break;
    case PROP_STREAM_ID:
        g_value_set_string(value, self->stream_id);
        break;
    case PROP_HWM:
        g_value_set_int(value, self->hwm);
        break;
    case PROP_HEATMAPS:
        g_value_set_boolean(value, self->heatmaps);
        break;
    case PROP_HEATMAP_MAX_SIZE:
        g_value_set_uint(value, self->heatmap_max_size);
        break;
    case PROP_MESSAGES_SENT:
        g_value_set_uint64(value, self->messages_sent);
        break;
    case PROP_MESSAGES_DROPPED:
        g_value_set_uint64(value, self->messages_dropped);
        break;
    case PROP_BOUND_ENDPOINT:
        g_value_set_string(value, self->bound_endpoint);
        break;
    case PROP_CONNECT:
        g_value_set_boolean(value, self->connect);
        break;
    case PROP_CONTEXT:
        g_value_set_pointer(value, self->app_context);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
        break;
    }
    GST_OBJECT_UNLOCK(self);
}

/* ---- Socket --------------------------------------------------------------------------------- */

static guint64 unix_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (guint64)ts.tv_sec * 1000000000u + (guint64)ts.tv_nsec;
}

static void close_socket(GstCsPublish *self)
{
    if (!self->socket) return;
    int linger = 0;
    zmq_setsockopt(self->socket, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(self->socket);
    self->socket = NULL;
    if (self->socket_shared_ctx) cs_zmq_context_unref();
    self->socket_shared_ctx = FALSE;
}

/* Creates and binds (or connects) the PUB socket. On failure posts an element error and returns
 * FALSE. */
static gboolean open_socket(GstCsPublish *self, const gchar *endpoint, int hwm)
{
    GST_OBJECT_LOCK(self);
    gboolean connect = self->connect;
    void *ctx = self->app_context;
    GST_OBJECT_UNLOCK(self);
    gboolean shared = ctx == NULL;
    if (shared) ctx = cs_zmq_context_ref();
    if (!ctx) {
        GST_ELEMENT_ERROR(self, RESOURCE, FAILED, ("Could not create a ZeroMQ context"),
                          ("zmq_ctx_new: %s", zmq_strerror(errno)));
        return FALSE;
    }
    self->socket = zmq_socket(ctx, ZMQ_PUB);
    if (!self->socket) {
        GST_ELEMENT_ERROR(self, RESOURCE, FAILED, ("Could not create a ZeroMQ PUB socket"),
                          ("zmq_socket: %s", zmq_strerror(errno)));
        if (shared) cs_zmq_context_unref();
        return FALSE;
    }
    self->socket_shared_ctx = shared;
    /* linger 0: closing discards unsent messages at once. NODROP: a full subscriber queue
     * makes zmq_send fail with EAGAIN (which we count) instead of dropping silently. */
    int linger = 0, nodrop = 1;
    zmq_setsockopt(self->socket, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(self->socket, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(self->socket, ZMQ_XPUB_NODROP, &nodrop, sizeof nodrop);

    if ((connect ? zmq_connect(self->socket, endpoint) : zmq_bind(self->socket, endpoint)) != 0) {
        int e = errno;
        GST_ELEMENT_ERROR(
            self, RESOURCE, OPEN_WRITE,
            ("Could not %s the ZeroMQ endpoint \"%s\": %s", connect ? "connect to" : "bind",
             endpoint, zmq_strerror(e)),
            ("zmq_%s(\"%s\") failed with errno %d", connect ? "connect" : "bind", endpoint, e));
        close_socket(self);
        return FALSE;
    }
    char bound[256];
    size_t len = sizeof bound;
    if (connect || zmq_getsockopt(self->socket, ZMQ_LAST_ENDPOINT, bound, &len) != 0) len = 0;
    bound[len < sizeof bound ? len : sizeof bound - 1] = '\0';
    GST_OBJECT_LOCK(self);
    g_free(self->bound_endpoint);
    self->bound_endpoint = g_strdup(len > 0 ? bound : endpoint);
    GST_OBJECT_UNLOCK(self);
    GST_INFO_OBJECT(self, "publishing on %s", len > 0 ? bound : endpoint);
    return TRUE;
}

static gboolean gst_cs_publish_start(GstBaseTransform *trans)
{
    GstCsPublish *self = GST_CS_PUBLISH(trans);

    GST_OBJECT_LOCK(self);
    gchar *endpoint = g_strdup(self->endpoint);
    int hwm = self->hwm;
    g_free(self->run_stream_id);
    self->run_stream_id = g_strdup(self->stream_id);
    self->messages_sent = 0;
    self->messages_dropped = 0;
    GST_OBJECT_UNLOCK(self);

    g_free(self->topic);
    self->topic = g_strconcat("frame.", self->run_stream_id, NULL);
    self->sequence = 0;
    self->buffers_seen = 0;
    self->start_unix_ns = unix_now_ns();

    gboolean ok = open_socket(self, endpoint, hwm);
    g_free(endpoint);
    return ok;
}

static gboolean gst_cs_publish_stop(GstBaseTransform *trans)
{
    GstCsPublish *self = GST_CS_PUBLISH(trans);
    close_socket(self);
    GST_OBJECT_LOCK(self);
    g_clear_pointer(&self->bound_endpoint, g_free);
    GST_OBJECT_UNLOCK(self);
    return TRUE;
}

static gboolean gst_cs_publish_set_caps(GstBaseTransform *trans, GstCaps *incaps, GstCaps *outcaps)
{
    GstCsPublish *self = GST_CS_PUBLISH(trans);
    GstVideoInfo info;
    /* Any video/x-raw is accepted; the frame size is all we take from the caps. */
    if (gst_video_info_from_caps(&info, incaps)) {
        self->width = GST_VIDEO_INFO_WIDTH(&info);
        self->height = GST_VIDEO_INFO_HEIGHT(&info);
    } else {
        GstStructure *s = gst_caps_get_structure(incaps, 0);
        gint w = 0, h = 0;
        gst_structure_get_int(s, "width", &w);
        gst_structure_get_int(s, "height", &h);
        self->width = (guint)MAX(w, 0);
        self->height = (guint)MAX(h, 0);
    }
    return TRUE;
}

/* ---- Serialization -------------------------------------------------------------------------- */

static char *str_or_empty(const gchar *s)
{
    return (char *)(s ? s : "");
}

/* "gradcam++", "gradcampp", "smooth_gradcampp", "Smooth-GradCAM++" ... -> the enum: compared
 * without case, '-' and '_', with "++" read as "pp" (the engine's cs_method_name and the
 * csinfer explain property spell some methods differently). */
static Camstream__V1__ExplainMethod method_enum(const gchar *name)
{
    static const struct {
        const char *name;
        Camstream__V1__ExplainMethod m;
    } table[] = {
        {"cam", CAMSTREAM__V1__EXPLAIN_METHOD__EXPLAIN_METHOD_CAM},
        {"gradcam", CAMSTREAM__V1__EXPLAIN_METHOD__EXPLAIN_METHOD_GRADCAM},
        {"gradcampp", CAMSTREAM__V1__EXPLAIN_METHOD__EXPLAIN_METHOD_GRADCAM_PP},
        {"smoothgradcampp", CAMSTREAM__V1__EXPLAIN_METHOD__EXPLAIN_METHOD_SMOOTH_GRADCAM_PP},
        {"scorecam", CAMSTREAM__V1__EXPLAIN_METHOD__EXPLAIN_METHOD_SCORECAM},
        {"layercam", CAMSTREAM__V1__EXPLAIN_METHOD__EXPLAIN_METHOD_LAYERCAM},
        {"xgradcam", CAMSTREAM__V1__EXPLAIN_METHOD__EXPLAIN_METHOD_XGRADCAM},
        {"saliency", CAMSTREAM__V1__EXPLAIN_METHOD__EXPLAIN_METHOD_SALIENCY},
        {"smoothgrad", CAMSTREAM__V1__EXPLAIN_METHOD__EXPLAIN_METHOD_SMOOTHGRAD},
        {"rise", CAMSTREAM__V1__EXPLAIN_METHOD__EXPLAIN_METHOD_RISE},
        {"augmentedgradcam", CAMSTREAM__V1__EXPLAIN_METHOD__EXPLAIN_METHOD_AUGMENTED_GRADCAM},
        {"pv", CAMSTREAM__V1__EXPLAIN_METHOD__EXPLAIN_METHOD_PV},
    };
    char key[32];
    gsize n = 0;
    if (!name) return CAMSTREAM__V1__EXPLAIN_METHOD__EXPLAIN_METHOD_UNSPECIFIED;
    for (const gchar *p = name; *p && n + 2 < sizeof key; p++) {
        if (*p == '-' || *p == '_') continue;
        key[n++] = *p == '+' ? 'p' : g_ascii_tolower(*p);
    }
    key[n] = '\0';
    for (gsize i = 0; i < G_N_ELEMENTS(table); i++)
        if (strcmp(key, table[i].name) == 0) return table[i].m;
    return CAMSTREAM__V1__EXPLAIN_METHOD__EXPLAIN_METHOD_UNSPECIFIED;
}

/* Quantizes an h×w float map to 8 bits, box-filtered down so that neither side exceeds
 * max_size (0: no limit). Returns the bytes (g_malloc) and the output size; value = offset +
 * scale·byte. */
static guint8 *quantize_map(const gfloat *data, guint w, guint h, gfloat lo, gfloat hi,
                            guint max_size, guint *ow, guint *oh, gfloat *scale, gfloat *offset)
{
    guint tw = w, th = h;
    if (max_size > 0 && (w > max_size || h > max_size)) {
        if (w >= h) {
            tw = max_size;
            th = MAX(1u, (guint)((guint64)h * max_size / w));
        } else {
            th = max_size;
            tw = MAX(1u, (guint)((guint64)w * max_size / h));
        }
    }
    if (!isfinite(lo) || !isfinite(hi) || hi < lo) lo = hi = 0.0f;
    gfloat range = hi - lo;
    gfloat inv = range > 0.0f ? 255.0f / range : 0.0f;
    guint8 *out = g_malloc((gsize)tw * th);
    for (guint y = 0; y < th; y++) {
        guint y0 = (guint)((guint64)y * h / th), y1 = (guint)((guint64)(y + 1) * h / th);
        if (y1 <= y0) y1 = y0 + 1;
        for (guint x = 0; x < tw; x++) {
            guint x0 = (guint)((guint64)x * w / tw), x1 = (guint)((guint64)(x + 1) * w / tw);
            if (x1 <= x0) x1 = x0 + 1;
            double sum = 0.0;
            for (guint yy = y0; yy < y1; yy++)
                for (guint xx = x0; xx < x1; xx++) sum += data[(gsize)yy * w + xx];
            double v = sum / ((double)(y1 - y0) * (x1 - x0));
            double q = (v - lo) * inv + 0.5;
            if (!(q > 0.0)) q = 0.0; /* also NaN */
            if (q > 255.0) q = 255.0;
            out[(gsize)y * tw + x] = (guint8)q;
        }
    }
    *ow = tw;
    *oh = th;
    *scale = range > 0.0f ? range / 255.0f : 0.0f;
    *offset = lo;
    return out;
}

/* Wall clock of capture from a reference timestamp meta (x-unix or x-ntp), 0 if none. */
static guint64 reference_unix_ns(GstBuffer *buf)
{
    static GstCaps *unix_caps, *ntp_caps;
    if (g_once_init_enter(&unix_caps)) {
        ntp_caps = gst_caps_new_empty_simple("timestamp/x-ntp");
        GST_MINI_OBJECT_FLAG_SET(ntp_caps, GST_MINI_OBJECT_FLAG_MAY_BE_LEAKED);
        GstCaps *c = gst_caps_new_empty_simple("timestamp/x-unix");
        GST_MINI_OBJECT_FLAG_SET(c, GST_MINI_OBJECT_FLAG_MAY_BE_LEAKED);
        g_once_init_leave(&unix_caps, c);
    }
    GstReferenceTimestampMeta *r = gst_buffer_get_reference_timestamp_meta(buf, unix_caps);
    if (r && GST_CLOCK_TIME_IS_VALID(r->timestamp)) return r->timestamp;
    r = gst_buffer_get_reference_timestamp_meta(buf, ntp_caps);
    /* NTP epoch (1900) to Unix epoch (1970): 2208988800 s. */
    const guint64 ntp_to_unix = G_GUINT64_CONSTANT(2208988800) * GST_SECOND;
    if (r && GST_CLOCK_TIME_IS_VALID(r->timestamp) && r->timestamp > ntp_to_unix)
        return r->timestamp - ntp_to_unix;
    return 0;
}

/* Everything allocated to build one message, freed together. */
typedef struct {
    Camstream__V1__Classification *cls;
    Camstream__V1__Classification **cls_p;
    Camstream__V1__Detection *det;
    Camstream__V1__Detection **det_p;
    Camstream__V1__Keypoint *kp;
    Camstream__V1__Keypoint **kp_p;
    Camstream__V1__SkeletonEdge *edge;
    Camstream__V1__SkeletonEdge **edge_p;
    Camstream__V1__Heatmap *hm;
    Camstream__V1__Heatmap **hm_p;
    guint8 **hm_data;
    guint n_hm;
    Camstream__V1__StageTiming *tm;
    Camstream__V1__StageTiming **tm_p;
} MessageParts;

static void message_parts_free(MessageParts *p)
{
    g_free(p->cls);
    g_free(p->cls_p);
    g_free(p->det);
    g_free(p->det_p);
    g_free(p->kp);
    g_free(p->kp_p);
    g_free(p->edge);
    g_free(p->edge_p);
    for (guint i = 0; i < p->n_hm; i++) g_free(p->hm_data[i]);
    g_free(p->hm_data);
    g_free(p->hm);
    g_free(p->hm_p);
    g_free(p->tm);
    g_free(p->tm_p);
}

static void fill_classification(Camstream__V1__FrameResult *msg, MessageParts *parts,
                                const CsClassificationMeta *c)
{
    if (c->model) msg->model_id = c->model;
    if (c->n_results == 0) return;
    parts->cls = g_new(Camstream__V1__Classification, c->n_results);
    parts->cls_p = g_new(Camstream__V1__Classification *, c->n_results);
    for (guint i = 0; i < c->n_results; i++) {
        Camstream__V1__Classification *m = &parts->cls[i];
        camstream__v1__classification__init(m);
        m->class_id = c->results[i].class_id;
        m->label = str_or_empty(c->results[i].label);
        m->score = c->results[i].score;
        m->probability = c->results[i].probability;
        parts->cls_p[i] = m;
    }
    msg->n_top_k = c->n_results;
    msg->top_k = parts->cls_p;
}

static void fill_detections(Camstream__V1__FrameResult *msg, MessageParts *parts,
                            const CsDetectionsMeta *d)
{
    if (d->n_detections == 0) return;
    gsize n_kp = 0;
    for (guint i = 0; i < d->n_detections; i++) n_kp += d->detections[i].n_keypoints;
    guint n_edges = d->edges ? d->n_edges : 0;

    parts->det = g_new(Camstream__V1__Detection, d->n_detections);
    parts->det_p = g_new(Camstream__V1__Detection *, d->n_detections);
    if (n_kp > 0) {
        parts->kp = g_new(Camstream__V1__Keypoint, n_kp);
        parts->kp_p = g_new(Camstream__V1__Keypoint *, n_kp);
    }
    if (n_edges > 0) {
        parts->edge = g_new(Camstream__V1__SkeletonEdge, n_edges);
        parts->edge_p = g_new(Camstream__V1__SkeletonEdge *, n_edges);
        for (guint e = 0; e < n_edges; e++) {
            camstream__v1__skeleton_edge__init(&parts->edge[e]);
            parts->edge[e].from_index = d->edges[2 * e];
            parts->edge[e].to_index = d->edges[2 * e + 1];
            parts->edge_p[e] = &parts->edge[e];
        }
    }
    gsize k = 0;
    for (guint i = 0; i < d->n_detections; i++) {
        const CsDetection *s = &d->detections[i];
        Camstream__V1__Detection *m = &parts->det[i];
        camstream__v1__detection__init(m);
        m->x = s->x;
        m->y = s->y;
        m->w = s->w;
        m->h = s->h;
        m->class_id = s->class_id;
        m->label = str_or_empty(s->label);
        m->score = s->score;
        m->source = s->source == CS_DETECTION_SOURCE_HEATMAP
                        ? CAMSTREAM__V1__DETECTION_SOURCE__DETECTION_SOURCE_HEATMAP
                        : CAMSTREAM__V1__DETECTION_SOURCE__DETECTION_SOURCE_REGRESSION;
        m->frame_index = d->frame_index;
        if (s->n_keypoints > 0 && s->keypoints) {
            m->n_keypoints = s->n_keypoints;
            m->keypoints = &parts->kp_p[k];
            for (guint j = 0; j < s->n_keypoints; j++, k++) {
                camstream__v1__keypoint__init(&parts->kp[k]);
                parts->kp[k].x = s->keypoints[j].x;
                parts->kp[k].y = s->keypoints[j].y;
                parts->kp[k].score = s->keypoints[j].score;
                parts->kp_p[k] = &parts->kp[k];
            }
            /* The skeleton is shared by the meta's detections: repeated on those with keypoints. */
            m->n_skeleton = n_edges;
            m->skeleton = parts->edge_p;
        }
        parts->det_p[i] = m;
    }
    msg->n_detections = d->n_detections;
    msg->detections = parts->det_p;
}

static void fill_heatmaps(Camstream__V1__FrameResult *msg, MessageParts *parts, GstBuffer *buf,
                          guint max_size)
{
    guint n = 0;
    gpointer state = NULL;
    while (gst_buffer_iterate_meta_filtered(buf, &state, CS_HEATMAP_META_API_TYPE)) n++;
    if (n == 0) return;
    parts->hm = g_new(Camstream__V1__Heatmap, n);
    parts->hm_p = g_new(Camstream__V1__Heatmap *, n);
    parts->hm_data = g_new0(guint8 *, n);
    state = NULL;
    GstMeta *meta;
    guint i = 0;
    while (i < n &&
           (meta = gst_buffer_iterate_meta_filtered(buf, &state, CS_HEATMAP_META_API_TYPE))) {
        const CsHeatmapMeta *h = (const CsHeatmapMeta *)meta;
        if (!h->data || h->width == 0 || h->height == 0) continue;
        Camstream__V1__Heatmap *m = &parts->hm[i];
        camstream__v1__heatmap__init(m);
        m->method = method_enum(h->method);
        m->method_name = str_or_empty(h->method);
        m->class_id = h->class_id;
        m->class_label = str_or_empty(h->label);
        m->class_score = h->score;
        m->layer = str_or_empty(h->layer);
        guint ow, oh;
        parts->hm_data[i] = quantize_map(h->data, h->width, h->height, h->min, h->max, max_size,
                                         &ow, &oh, &m->scale, &m->offset);
        m->width = ow;
        m->height = oh;
        m->data.data = parts->hm_data[i];
        m->data.len = (gsize)ow * oh;
        m->frame_index = h->frame_index;
        m->compute_ns = h->stage_ns;
        /* The map covers the model input; its rectangle in frame pixels. */
        guint tw = h->tensor_width ? h->tensor_width : h->width;
        guint th = h->tensor_height ? h->tensor_height : h->height;
        gdouble x0, y0, x1, y1;
        cs_transform_2d_apply(&h->to_frame, 0.0, 0.0, &x0, &y0);
        cs_transform_2d_apply(&h->to_frame, tw, th, &x1, &y1);
        m->frame_x = (float)x0;
        m->frame_y = (float)y0;
        m->frame_w = (float)(x1 - x0);
        m->frame_h = (float)(y1 - y0);
        parts->hm_p[i] = m;
        i++;
        parts->n_hm = i;
    }
    msg->n_heatmaps = i;
    msg->heatmaps = parts->hm_p;
}

/* Returns the sum of the element stage times, for the capture-time estimate. */
static guint64 fill_timings(Camstream__V1__FrameResult *msg, MessageParts *parts,
                            const CsTimingMeta *t)
{
    guint n = MIN(t->n_stages, (guint)CS_TIMING_MAX_STAGES);
    guint64 total = 0;
    if (n == 0) return 0;
    parts->tm = g_new(Camstream__V1__StageTiming, n);
    parts->tm_p = g_new(Camstream__V1__StageTiming *, n);
    for (guint i = 0; i < n; i++) {
        camstream__v1__stage_timing__init(&parts->tm[i]);
        parts->tm[i].name = (char *)t->stages[i].name;
        parts->tm[i].ns = t->stages[i].ns;
        parts->tm_p[i] = &parts->tm[i];
        /* Sub-stages ("csinfer.explain") are part of their element's time. */
        if (!strchr(t->stages[i].name, '.')) total += t->stages[i].ns;
    }
    msg->n_timings = n;
    msg->timings = parts->tm_p;
    return total;
}

/* Sends topic + payload without blocking. Returns TRUE if ZeroMQ took the message. */
static gboolean send_message(GstCsPublish *self, const guint8 *payload, gsize len)
{
    if (zmq_send(self->socket, self->topic, strlen(self->topic), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        if (errno != EAGAIN) GST_WARNING_OBJECT(self, "zmq_send: %s", zmq_strerror(errno));
        return FALSE;
    }
    if (zmq_send(self->socket, payload, len, ZMQ_DONTWAIT) >= 0) return TRUE;
    /* Cannot happen in practice (the high-water mark is checked per message, and the topic
     * frame passed); if it does, the half-sent message would corrupt the next one, so start
     * over with a new socket. */
    GST_WARNING_OBJECT(self, "payload frame refused after the topic frame (%s): reopening",
                       zmq_strerror(errno));
    GST_OBJECT_LOCK(self);
    gchar *endpoint = g_strdup(self->bound_endpoint ? self->bound_endpoint : self->endpoint);
    int hwm = self->hwm;
    GST_OBJECT_UNLOCK(self);
    close_socket(self);
    open_socket(self, endpoint, hwm);
    g_free(endpoint);
    return FALSE;
}

static GstFlowReturn gst_cs_publish_transform_ip(GstBaseTransform *trans, GstBuffer *buf)
{
    GstCsPublish *self = GST_CS_PUBLISH(trans);
    if (!self->socket) {
        GST_ELEMENT_ERROR(self, RESOURCE, FAILED, ("No ZeroMQ socket to publish on"), (NULL));
        return GST_FLOW_ERROR;
    }

    GST_OBJECT_LOCK(self);
    gboolean heatmaps = self->heatmaps;
    guint max_size = self->heatmap_max_size;
    GST_OBJECT_UNLOCK(self);

    Camstream__V1__FrameResult msg = CAMSTREAM__V1__FRAME_RESULT__INIT;
    MessageParts parts = {0};
    msg.stream_id = self->run_stream_id;
    msg.sequence = self->sequence++;
    msg.width = self->width;
    msg.height = self->height;
    msg.pts_ns = GST_BUFFER_PTS_IS_VALID(buf) ? (int64_t)GST_BUFFER_PTS(buf) : -1;
    msg.duration_ns = GST_BUFFER_DURATION_IS_VALID(buf) ? GST_BUFFER_DURATION(buf) : 0;
    msg.publisher_start_unix_ns = self->start_unix_ns;

    /* Frame index: csinfer's counter (the numbering heatmaps and detections use), else the
     * buffer offset, else our own count. */
    CsClassificationMeta *cls = cs_buffer_get_classification_meta(buf);
    CsTensorMeta *tensor = cs_buffer_get_tensor_meta_full(buf, CS_TENSOR_ROLE_INPUT, NULL);
    if (cls)
        msg.frame_index = cls->frame_index;
    else if (tensor)
        msg.frame_index = tensor->frame_index;
    else if (GST_BUFFER_OFFSET_IS_VALID(buf))
        msg.frame_index = GST_BUFFER_OFFSET(buf);
    else
        msg.frame_index = self->buffers_seen;
    self->buffers_seen++;

    if (cls) fill_classification(&msg, &parts, cls);
    CsDetectionsMeta *det = cs_buffer_get_detections_meta(buf);
    if (det) fill_detections(&msg, &parts, det);
    if (heatmaps) fill_heatmaps(&msg, &parts, buf, max_size);
    CsTimingMeta *tm = cs_buffer_get_timing_meta(buf);
    guint64 stages_ns = tm ? fill_timings(&msg, &parts, tm) : 0;

    guint64 now = unix_now_ns();
    msg.publish_unix_ns = now;
    msg.capture_unix_ns = reference_unix_ns(buf);
    if (msg.capture_unix_ns == 0) msg.capture_unix_ns = now - MIN(now, stages_ns);

    /* Pack on the stack when it fits, else on the heap; check the packed size. */
    guint8 stack_buf[STACK_PACK_SIZE];
    gsize size = camstream__v1__frame_result__get_packed_size(&msg);
    guint8 *out = size <= sizeof stack_buf ? stack_buf : g_malloc(size);
    gsize packed = camstream__v1__frame_result__pack(&msg, out);
    gboolean sent = FALSE;
    if (packed != size)
        GST_WARNING_OBJECT(self, "packed %" G_GSIZE_FORMAT " bytes, expected %" G_GSIZE_FORMAT,
                           packed, size);
    else
        sent = send_message(self, out, packed);
    if (out != stack_buf) g_free(out);
    message_parts_free(&parts);

    GST_OBJECT_LOCK(self);
    if (sent)
        self->messages_sent++;
    else
        self->messages_dropped++;
    GST_OBJECT_UNLOCK(self);
    if (!sent)
        GST_LOG_OBJECT(self, "dropped message %" G_GUINT64_FORMAT " (subscriber too slow)",
                       msg.sequence);
    return GST_FLOW_OK;
}
