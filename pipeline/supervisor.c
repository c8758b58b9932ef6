/* camstreamd's supervisor (supervisor.h): a GstPipeline per stream, its state machine
 * (STARTING → RUNNING → RESTARTING/STOPPED/FAILED), restarts with backoff, status messages,
 * add/remove/reload. Everything here runs on the main loop, except the pad probes and the queue
 * signal, which only touch the stream's csd_stats and post a bus message. */
#include "supervisor.h"

#include "log.h"
#include "publisher.h"
#include "stream_stats.h"

#include <errno.h>
#include <stdarg.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <stdio.h>
#include <string.h>

#define RESET_AFTER_NS (10 * GST_SECOND) /* a stream that ran this long restarts quickly again */

typedef struct cfg_ref {
    csd_config *c;
    int refs;
} cfg_ref;

typedef struct run run;
struct run {
    csd_supervisor *sup;
    char *name;
    cfg_ref *owner;
    const csd_stream *cs; /* in owner->c */
    int control;          /* added by control */
    char *launch;         /* the description its pipeline is built from */
    char *model_hash;     /* of the model's description file, for reload */
    Camstream__V1__StreamState state;
    GstElement *pipeline, *publish;
    guint bus_watch;
    guint timer; /* restart backoff or EOS wait */
    int backoff_ms;
    guint32 restarts;
    char *last_error;
    uint64_t created_ns, running_since_ns;
    uint64_t sequence;
    uint64_t loops;
    int looping; /* loop = true by segment seeks: the file's end is SEGMENT_DONE, never EOS */
    atomic_int seek_pending;   /* 1: first frame not seen, 2: seek asked, 0: frames pass */
    uint64_t pub_dropped_base; /* messages-dropped of earlier pipelines */
    uint64_t xpub_dropped_base;
    atomic_int first_seen;
    int stopping;
    void (*stopped)(run *r);
    run *successor; /* reload: starts once this one stopped */
    csd_stats stats;
};

struct csd_supervisor {
    void *zmq_ctx;
    cfg_ref *cfg;
    csd_publisher *pub;
    GPtrArray *runs;  /* visible, by index */
    GPtrArray *dying; /* stopping after remove/reload */
    guint status_timer;
    int status_interval_ms;
    int shutting_down;
    void (*done)(void *data);
    void *done_data;
};

static uint64_t mono_ns(void)
{
    return (uint64_t)g_get_monotonic_time() * 1000u;
}

static uint64_t unix_ns(void)
{
    return (uint64_t)g_get_real_time() * 1000u;
}

static cfg_ref *cfg_new(csd_config *c)
{
    cfg_ref *r = g_new0(cfg_ref, 1);
    r->c = c;
    r->refs = 1;
    return r;
}

static void cfg_unref(cfg_ref *r)
{
    if (r && --r->refs == 0) {
        csd_config_destroy(&r->c);
        g_free(r);
    }
}

/* ---- status ------------------------------------------------------------------------------- */

static uint64_t messages_dropped(const run *r)
{
    uint64_t n = r->pub_dropped_base;
    if (r->publish) {
        guint64 d = 0;
        g_object_get(r->publish, "messages-dropped", &d, NULL);
        n += d;
    }
    return n + csd_publisher_dropped(r->sup->pub, r->name) - r->xpub_dropped_base;
}

static void fill_status(run *r, Camstream__V1__StreamStatus *out)
{
    camstream__v1__stream_status__init(out);
    out->stream_id = r->name;
    out->state = r->state;
    out->fps = r->stats.fps;
    out->latency_p50_ns = r->stats.p50_ns;
    out->latency_p90_ns = r->stats.p90_ns;
    out->latency_p99_ns = r->stats.p99_ns;
    out->frames_in = atomic_load(&r->stats.frames_in);
    out->frames_out = atomic_load(&r->stats.frames_out);
    out->frames_dropped = atomic_load(&r->stats.frames_dropped);
    out->messages_dropped = messages_dropped(r);
    out->last_error = r->last_error ? r->last_error : (char *)"";
    out->restarts = r->restarts;
    out->uptime_ns = mono_ns() - r->created_ns;
    out->time_unix_ns = unix_ns();
}

static void publish_status(run *r)
{
    Camstream__V1__StreamStatus st;
    fill_status(r, &st);
    st.sequence = r->sequence++;
    size_t len = camstream__v1__stream_status__get_packed_size(&st);
    uint8_t *buf = g_malloc(len ? len : 1);
    camstream__v1__stream_status__pack(&st, buf);
    char *topic = g_strconcat("status.", r->name, NULL);
    csd_publisher_send(r->sup->pub, r->cs->publish, topic, buf, len);
    g_free(topic);
    g_free(buf);
}

static void set_state(run *r, Camstream__V1__StreamState s)
{
    r->state = s;
    publish_status(r);
}

static gboolean status_tick(gpointer data)
{
    csd_supervisor *sup = data;
    uint64_t now = mono_ns();
    for (guint i = 0; i < sup->runs->len; i++) {
        run *r = g_ptr_array_index(sup->runs, i);
        csd_stats_tick(&r->stats, now);
        publish_status(r);
    }
    return G_SOURCE_CONTINUE;
}

static void status_timer_update(csd_supervisor *sup)
{
    int ms = sup->cfg->c->status_interval_ms;
    if (sup->status_timer && ms == sup->status_interval_ms) return;
    if (sup->status_timer) g_source_remove(sup->status_timer);
    sup->status_interval_ms = ms;
    sup->status_timer = g_timeout_add((guint)ms, status_tick, sup);
}

/* ---- pipelines ---------------------------------------------------------------------------- */

static GstPadProbeReturn probe_in(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
    run *r = data;
    GstBuffer *b = GST_PAD_PROBE_INFO_BUFFER(info);
    csd_stats_frame_in(&r->stats, GST_BUFFER_PTS_IS_VALID(b) ? GST_BUFFER_PTS(b) : CSD_PTS_NONE,
                       mono_ns());
    return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn probe_out(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
    run *r = data;
    GstBuffer *b = GST_PAD_PROBE_INFO_BUFFER(info);
    csd_stats_frame_out(&r->stats, GST_BUFFER_PTS_IS_VALID(b) ? GST_BUFFER_PTS(b) : CSD_PTS_NONE,
                        mono_ns());
    if (atomic_exchange(&r->first_seen, 1) == 0) {
        /* the main loop learns it through the bus (the run outlives the pipeline) */
        GstVideoInfo vi;
        GstCaps *caps = gst_pad_get_current_caps(pad);
        int ok = caps && gst_video_info_from_caps(&vi, caps);
        GstStructure *st =
            gst_structure_new("csd-running", "width", G_TYPE_INT, ok ? vi.width : 0, "height",
                              G_TYPE_INT, ok ? vi.height : 0, "fps-n", G_TYPE_INT,
                              ok ? vi.fps_n : 0, "fps-d", G_TYPE_INT, ok ? vi.fps_d : 1, NULL);
        if (caps) gst_caps_unref(caps);
        GstElement *el = GST_ELEMENT(gst_pad_get_parent(pad));
        if (el) {
            gst_element_post_message(el, gst_message_new_application(GST_OBJECT(el), st));
            gst_object_unref(el);
        } else {
            gst_structure_free(st);
        }
    }
    return GST_PAD_PROBE_OK;
}

static void on_overrun(GstElement *queue, gpointer data)
{
    run *r = data;
    csd_stats_dropped(&r->stats, 1); /* the leaky queue drops its oldest frame */
}

static void teardown(run *r)
{
    if (r->timer) {
        g_source_remove(r->timer);
        r->timer = 0;
    }
    if (!r->pipeline) return;
    if (r->bus_watch) {
        g_source_remove(r->bus_watch);
        r->bus_watch = 0;
    }
    gst_element_set_state(r->pipeline, GST_STATE_NULL);
    if (r->publish) {
        guint64 d = 0;
        g_object_get(r->publish, "messages-dropped", &d, NULL);
        r->pub_dropped_base += d;
        gst_object_unref(r->publish);
        r->publish = NULL;
    }
    gst_object_unref(r->pipeline);
    r->pipeline = NULL;
    r->stopping = 0;
}

static void set_error(run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(run *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_free(r->last_error);
    r->last_error = g_strdup_vprintf(fmt, ap);
    va_end(ap);
}

static void run_start(run *r);
static void finish_stop(run *r);

static gboolean restart_cb(gpointer data)
{
    run *r = data;
    r->timer = 0;
    r->restarts++;
    run_start(r);
    return G_SOURCE_REMOVE;
}

/* After an error (or a live source's end): restart with backoff, or give up. */
static void failed(run *r)
{
    teardown(r);
    const csd_config *c = r->sup->cfg->c;
    if (r->cs->restart == CSD_RESTART_NEVER || r->sup->shutting_down) {
        csd_error_log("stream %s: failed (restart = never)", r->name);
        set_state(r, CAMSTREAM__V1__STREAM_STATE__STREAM_STATE_FAILED);
        return;
    }
    if (r->running_since_ns && mono_ns() - r->running_since_ns >= RESET_AFTER_NS)
        r->backoff_ms = c->restart_delay_ms;
    int delay = r->backoff_ms;
    r->backoff_ms = MIN(MAX(delay * 2, 1), c->restart_max_delay_ms);
    r->running_since_ns = 0;
    csd_warn("stream %s: restarting in %d ms (restart %u)", r->name, delay, r->restarts + 1);
    set_state(r, CAMSTREAM__V1__STREAM_STATE__STREAM_STATE_RESTARTING);
    r->timer = g_timeout_add((guint)delay, restart_cb, r);
}

static void log_loop(run *r)
{
    /* once at info level: a short file may loop many times a second */
    csd_log(r->loops++ ? CSD_LOG_DEBUG : CSD_LOG_INFO,
            "stream %s: end of file, playing it again (loop = true)", r->name);
    csd_stats_reset_ring(&r->stats);
}

/* A seek to the file's start sent upstream from the ingress queue: the pipeline's own seek
 * goes through its sinks, and muxers refuse it. */
static gboolean seek_start(run *r, GstSeekFlags flags)
{
    GstElement *q = gst_bin_get_by_name(GST_BIN(r->pipeline), "ingress");
    GstPad *pad = q ? gst_element_get_static_pad(q, "src") : NULL;
    gboolean ok =
        pad && gst_pad_send_event(
                   pad, gst_event_new_seek(1.0, GST_FORMAT_TIME, flags | GST_SEEK_FLAG_SEGMENT,
                                           GST_SEEK_TYPE_SET, 0, GST_SEEK_TYPE_NONE, -1));
    if (pad) gst_object_unref(pad);
    if (q) gst_object_unref(q);
    return ok;
}

/* loop = true: before any frame passes the ingress queue, a flushing segment seek (a flush
 * after frames reached filesink would truncate the recording); then at each SEGMENT_DONE a
 * non-flushing one, so running time keeps growing and the recording stays one file. */
static GstPadProbeReturn probe_loop(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
    run *r = data;
    if (GST_PAD_PROBE_INFO_TYPE(info) & GST_PAD_PROBE_TYPE_BUFFER) {
        int expected = 1;
        if (atomic_compare_exchange_strong(&r->seek_pending, &expected, 2)) {
            GstElement *el = GST_ELEMENT(gst_pad_get_parent(pad));
            if (el) {
                gst_element_post_message(
                    el, gst_message_new_application(GST_OBJECT(el),
                                                    gst_structure_new_empty("csd-loop-seek")));
                gst_object_unref(el);
            }
        }
        return atomic_load(&r->seek_pending) ? GST_PAD_PROBE_DROP : GST_PAD_PROBE_REMOVE;
    }
    GstEvent *ev = GST_PAD_PROBE_INFO_EVENT(info);
    /* the seek's flush (or the segment of a source that seeks without one): the start follows */
    if (ev &&
        (GST_EVENT_TYPE(ev) == GST_EVENT_FLUSH_STOP || GST_EVENT_TYPE(ev) == GST_EVENT_SEGMENT))
        atomic_compare_exchange_strong(&r->seek_pending, &(int){2}, 0);
    return GST_PAD_PROBE_OK;
}

static void on_loop_seek(run *r)
{
    r->looping = !r->stopping && seek_start(r, GST_SEEK_FLAG_FLUSH);
    if (!r->looping) {
        atomic_store(&r->seek_pending, 0);
        csd_debug("stream %s: no segment seek, the file's end will restart it", r->name);
    }
}

static void on_segment_done(run *r)
{
    if (r->stopping || !r->looping) return;
    log_loop(r);
    if (seek_start(r, 0)) return;
    csd_warn("stream %s: cannot seek to the start, restarting the pipeline", r->name);
    teardown(r);
    run_start(r);
}

static void on_eos(run *r)
{
    if (r->stopping) {
        finish_stop(r);
        return;
    }
    if (r->cs->kind != CSD_SRC_FILE) {
        set_error(r, "the live source ended");
        csd_error_log("stream %s: error: the live source ended", r->name);
        failed(r);
        return;
    }
    if (r->cs->loop) {
        /* the source refused segment seeks: the encoders and muxers downstream have ended */
        log_loop(r);
        csd_warn("stream %s: cannot seek to the start, restarting the pipeline", r->name);
        teardown(r);
        run_start(r);
        return;
    }
    teardown(r);
    csd_info("stream %s: ended (end of file)", r->name);
    set_state(r, CAMSTREAM__V1__STREAM_STATE__STREAM_STATE_STOPPED);
}

static gboolean on_bus(GstBus *bus, GstMessage *m, gpointer data)
{
    run *r = data;
    switch (GST_MESSAGE_TYPE(m)) {
    case GST_MESSAGE_ERROR: {
        GError *e = NULL;
        gchar *dbg = NULL;
        gst_message_parse_error(m, &e, &dbg);
        const char *el = GST_MESSAGE_SRC_NAME(m) ? GST_MESSAGE_SRC_NAME(m) : "?";
        set_error(r, "%s: %s", el, e ? e->message : "unknown error");
        csd_error_log("stream %s: error from %s: %s", r->name, el,
                      e ? e->message : "unknown error");
        if (dbg) csd_debug("stream %s: %s", r->name, dbg);
        g_clear_error(&e);
        g_free(dbg);
        if (r->stopping)
            finish_stop(r);
        else
            failed(r);
        break; /* teardown removed the watch (r may be gone) */
    }
    case GST_MESSAGE_WARNING: {
        GError *e = NULL;
        gst_message_parse_warning(m, &e, NULL);
        csd_warn("stream %s: warning from %s: %s", r->name,
                 GST_MESSAGE_SRC_NAME(m) ? GST_MESSAGE_SRC_NAME(m) : "?",
                 e ? e->message : "unknown");
        g_clear_error(&e);
        break;
    }
    case GST_MESSAGE_EOS:
        on_eos(r); /* may free r; a watch it removed is not called again */
        break;
    case GST_MESSAGE_SEGMENT_DONE:
        on_segment_done(r); /* may restart the pipeline */
        break;
    case GST_MESSAGE_QOS:
        csd_stats_dropped(&r->stats, 1); /* one message per frame an element dropped late */
        break;
    case GST_MESSAGE_APPLICATION: {
        const GstStructure *st = gst_message_get_structure(m);
        if (gst_structure_has_name(st, "csd-loop-seek")) on_loop_seek(r);
        if (!gst_structure_has_name(st, "csd-running") || r->stopping) break;
        int w = 0, h = 0, n = 0, d = 1;
        gst_structure_get_int(st, "width", &w);
        gst_structure_get_int(st, "height", &h);
        gst_structure_get_int(st, "fps-n", &n);
        gst_structure_get_int(st, "fps-d", &d);
        r->running_since_ns = mono_ns();
        csd_info("stream %s: running (%dx%d @ %d/%d)", r->name, w, h, n, d);
        set_state(r, CAMSTREAM__V1__STREAM_STATE__STREAM_STATE_RUNNING);
        break;
    }
    default:
        break;
    }
    return G_SOURCE_CONTINUE;
}

/* The directory of a recording is created when missing (docs/CONFIG.md). */
static int make_record_dir(run *r)
{
    if (r->cs->sink != CSD_SINK_RECORD) return 0;
    char *dir = g_path_get_dirname(r->cs->sink_arg);
    int rc = g_mkdir_with_parents(dir, 0755);
    if (rc) set_error(r, "cannot create %s: %s", dir, g_strerror(errno));
    g_free(dir);
    return rc;
}

/* Builds and plays the pipeline. Failures that a restart cannot fix (the publish endpoint,
 * the description) make the stream FAILED; the others go through the bus. */
static void run_start(run *r)
{
    csd_supervisor *sup = r->sup;
    if (!r->cs->enabled) {
        csd_info("stream %s: disabled (enabled = false)", r->name);
        set_state(r, CAMSTREAM__V1__STREAM_STATE__STREAM_STATE_STOPPED);
        return;
    }
    char why[512] = "";
    const char *inproc = csd_publisher_open(sup->pub, r->cs->publish, why, sizeof why);
    if (!inproc) {
        set_error(r, "cannot bind the publish endpoint %s: %s", r->cs->publish, why);
        csd_error_log("stream %s: failed: %s", r->name, r->last_error);
        set_state(r, CAMSTREAM__V1__STREAM_STATE__STREAM_STATE_FAILED);
        return;
    }
    if (make_record_dir(r)) {
        csd_error_log("stream %s: failed: %s", r->name, r->last_error);
        set_state(r, CAMSTREAM__V1__STREAM_STATE__STREAM_STATE_FAILED);
        return;
    }
    GError *e = NULL;
    GstElement *p = gst_parse_launch_full(r->launch, NULL, GST_PARSE_FLAG_FATAL_ERRORS, &e);
    GstElement *publish = p ? gst_bin_get_by_name(GST_BIN(p), "publish") : NULL;
    GstElement *ingress = p ? gst_bin_get_by_name(GST_BIN(p), "ingress") : NULL;
    if (!p || !publish || !ingress ||
        !g_object_class_find_property(G_OBJECT_GET_CLASS(publish), "connect")) {
        set_error(r, "cannot build the pipeline: %s",
                  e                 ? e->message
                  : !p || !publish  ? "no cspublish element"
                  : ingress == NULL ? "no ingress queue"
                                    : "cspublish is too old (no 'connect' property)");
        csd_error_log("stream %s: failed: %s", r->name, r->last_error);
        csd_debug("stream %s: pipeline: %s", r->name, r->launch);
        g_clear_error(&e);
        if (publish) gst_object_unref(publish);
        if (ingress) gst_object_unref(ingress);
        if (p) gst_object_unref(p);
        set_state(r, CAMSTREAM__V1__STREAM_STATE__STREAM_STATE_FAILED);
        return;
    }
    g_object_set(publish, "endpoint", inproc, "connect", TRUE, "context", sup->zmq_ctx, NULL);
    GstPad *pad = gst_element_get_static_pad(ingress, "sink");
    atomic_store(&r->seek_pending, r->cs->kind == CSD_SRC_FILE && r->cs->loop);
    if (atomic_load(&r->seek_pending)) /* first: the frames it drops are not counted */
        gst_pad_add_probe(pad,
                          GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_FLUSH |
                              GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
                          probe_loop, r, NULL);
    gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, probe_in, r, NULL);
    gst_object_unref(pad);
    pad = gst_element_get_static_pad(publish, "sink");
    gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, probe_out, r, NULL);
    gst_object_unref(pad);
    /* a full leaky queue drops a frame; a full plain one (files) only waits */
    if (r->cs->kind != CSD_SRC_FILE)
        g_signal_connect(ingress, "overrun", G_CALLBACK(on_overrun), r);
    gst_object_unref(ingress);
    r->pipeline = p;
    r->publish = publish;
    atomic_store(&r->first_seen, 0);
    r->looping = 0;
    csd_stats_reset_ring(&r->stats);
    GstBus *bus = gst_element_get_bus(p);
    r->bus_watch = gst_bus_add_watch(bus, on_bus, r);
    csd_info("stream %s: starting", r->name);
    csd_debug("stream %s: pipeline: %s", r->name, r->launch);
    set_state(r, CAMSTREAM__V1__STREAM_STATE__STREAM_STATE_STARTING);
    if (gst_element_set_state(p, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
        /* the reason is on the bus: handle it now */
        GstMessage *m = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
        if (m) {
            on_bus(bus, m, r);
            gst_message_unref(m);
        } else {
            set_error(r, "the pipeline did not start");
            csd_error_log("stream %s: error: %s", r->name, r->last_error);
            failed(r);
        }
    }
    gst_object_unref(bus);
}

static char *file_hash(const char *path)
{
    gchar *data = NULL;
    gsize len = 0;
    if (!g_file_get_contents(path, &data, &len, NULL)) return g_strdup("unreadable");
    char *h = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)data, len);
    g_free(data);
    return h;
}

static run *run_new(csd_supervisor *sup, cfg_ref *owner, const csd_stream *cs, int control)
{
    run *r = g_new0(run, 1);
    r->sup = sup;
    r->name = g_strdup(cs->name);
    r->owner = owner;
    owner->refs++;
    r->cs = cs;
    r->control = control;
    r->launch = csd_stream_launch(owner->c, cs);
    r->model_hash = cs->model ? file_hash(cs->model->description) : g_strdup("");
    r->state = CAMSTREAM__V1__STREAM_STATE__STREAM_STATE_STARTING;
    r->backoff_ms = owner->c->restart_delay_ms;
    r->created_ns = mono_ns();
    r->xpub_dropped_base = csd_publisher_dropped(sup->pub, r->name);
    csd_stats_init(&r->stats, r->created_ns);
    return r;
}

static void run_free(run *r)
{
    for (guint i = 0; i < r->sup->dying->len; i++) {
        run *d = g_ptr_array_index(r->sup->dying, i);
        if (d->successor == r) d->successor = NULL;
    }
    teardown(r);
    csd_stats_clear(&r->stats);
    cfg_unref(r->owner);
    g_free(r->name);
    g_free(r->launch);
    g_free(r->model_hash);
    g_free(r->last_error);
    g_free(r);
}

/* Graceful stop: EOS when frames flow (recordings get finalized), then NULL; r->stopped(r)
 * at the end (possibly at once). */
static gboolean stop_timeout(gpointer data)
{
    run *r = data;
    r->timer = 0;
    csd_warn("stream %s: no end of stream after %d ms, stopping it anyway", r->name,
             r->sup->cfg->c->shutdown_timeout_ms);
    finish_stop(r);
    return G_SOURCE_REMOVE;
}

/* A looping file's source (pull mode) ignores an EOS event: it goes in at the ingress queue. */
static void send_eos(run *r)
{
    GstElement *q = r->looping ? gst_bin_get_by_name(GST_BIN(r->pipeline), "ingress") : NULL;
    GstPad *pad = q ? gst_element_get_static_pad(q, "sink") : NULL;
    if (pad)
        gst_pad_send_event(pad, gst_event_new_eos());
    else
        gst_element_send_event(r->pipeline, gst_event_new_eos());
    if (pad) gst_object_unref(pad);
    if (q) gst_object_unref(q);
}

static void run_stop(run *r, void (*stopped)(run *r))
{
    r->stopped = stopped;
    if (r->pipeline && r->state == CAMSTREAM__V1__STREAM_STATE__STREAM_STATE_RUNNING &&
        !r->stopping) {
        r->stopping = 1;
        csd_info("stream %s: stopping (end of stream sent)", r->name);
        send_eos(r);
        r->timer = g_timeout_add((guint)r->sup->cfg->c->shutdown_timeout_ms, stop_timeout, r);
        return;
    }
    if (!r->stopping) finish_stop(r);
}

static void finish_stop(run *r)
{
    teardown(r);
    uint64_t now = mono_ns();
    csd_stats_tick(&r->stats, now);
    if (r->state != CAMSTREAM__V1__STREAM_STATE__STREAM_STATE_STOPPED)
        csd_info("stream %s: stopped", r->name);
    set_state(r, CAMSTREAM__V1__STREAM_STATE__STREAM_STATE_STOPPED);
    void (*cb)(run *) = r->stopped;
    r->stopped = NULL;
    if (cb) cb(r);
}

/* ---- shutdown, removal -------------------------------------------------------------------- */

static void check_all_stopped(csd_supervisor *sup)
{
    if (!sup->shutting_down || !sup->done || sup->dying->len) return;
    for (guint i = 0; i < sup->runs->len; i++) {
        run *r = g_ptr_array_index(sup->runs, i);
        if (r->pipeline || r->timer) return;
    }
    void (*done)(void *) = sup->done;
    sup->done = NULL;
    done(sup->done_data);
}

static void dying_stopped(run *r)
{
    csd_supervisor *sup = r->sup;
    run *next = r->successor;
    g_ptr_array_remove(sup->dying, r);
    run_free(r);
    if (next && !sup->shutting_down) run_start(next);
    check_all_stopped(sup);
}

static void visible_stopped(run *r)
{
    check_all_stopped(r->sup);
}

void csd_supervisor_stop(csd_supervisor *sup, void (*done)(void *data), void *data)
{
    if (sup->shutting_down) return;
    sup->shutting_down = 1;
    sup->done = done;
    sup->done_data = data;
    if (sup->status_timer) g_source_remove(sup->status_timer);
    sup->status_timer = 0;
    for (guint i = 0; i < sup->runs->len; i++)
        run_stop(g_ptr_array_index(sup->runs, i), visible_stopped);
    check_all_stopped(sup);
}

/* ---- creation ----------------------------------------------------------------------------- */

/* Binds each distinct publish endpoint of the runs from..n once, one log line per failure. */
static void open_endpoints(csd_supervisor *sup, GPtrArray *runs)
{
    GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; i < runs->len; i++) {
        run *r = g_ptr_array_index(runs, i);
        if (!r->cs->enabled || g_hash_table_contains(seen, r->cs->publish)) continue;
        g_hash_table_add(seen, r->cs->publish);
        char why[512] = "";
        if (!csd_publisher_open(sup->pub, r->cs->publish, why, sizeof why))
            csd_error_log("cannot bind the publish endpoint %s: %s (its streams fail)",
                          r->cs->publish, why);
    }
    g_hash_table_destroy(seen);
}

csd_supervisor *csd_supervisor_new(csd_config *c, void *zmq_ctx, csd_error *err)
{
    csd_error dummy;
    if (!err) err = &dummy;
    memset(err, 0, sizeof *err);
    csd_supervisor *sup = g_new0(csd_supervisor, 1);
    sup->zmq_ctx = zmq_ctx;
    sup->cfg = cfg_new(c);
    sup->pub = csd_publisher_new(zmq_ctx, c->curve);
    sup->runs = g_ptr_array_new();
    sup->dying = g_ptr_array_new();
    for (int i = 0; i < c->n_streams; i++)
        g_ptr_array_add(sup->runs, run_new(sup, sup->cfg, &c->streams[i], 0));
    open_endpoints(sup, sup->runs);
    int enabled = 0, alive = 0;
    for (guint i = 0; i < sup->runs->len; i++) {
        run *r = g_ptr_array_index(sup->runs, i);
        run_start(r);
        enabled += r->cs->enabled;
        alive += r->pipeline != NULL || r->timer != 0;
    }
    if (enabled && !alive) {
        err->status = CS_ERR_IO;
        snprintf(err->msg, sizeof err->msg, "no stream can run (%d enabled, all failed to start)",
                 enabled);
        csd_supervisor_free(&sup);
        return NULL;
    }
    status_timer_update(sup);
    return sup;
}

void csd_supervisor_free(csd_supervisor **sp)
{
    if (!sp || !*sp) return;
    csd_supervisor *sup = *sp;
    if (sup->status_timer) g_source_remove(sup->status_timer);
    while (sup->runs->len) {
        run *r = g_ptr_array_index(sup->runs, 0);
        g_ptr_array_remove_index(sup->runs, 0);
        run_free(r);
    }
    while (sup->dying->len) {
        run *r = g_ptr_array_index(sup->dying, 0);
        g_ptr_array_remove_index(sup->dying, 0);
        run_free(r);
    }
    g_ptr_array_free(sup->runs, TRUE);
    g_ptr_array_free(sup->dying, TRUE);
    csd_publisher_free(&sup->pub);
    cfg_unref(sup->cfg);
    g_free(sup);
    *sp = NULL;
}

/* ---- queries ------------------------------------------------------------------------------ */

const csd_config *csd_supervisor_config(const csd_supervisor *s)
{
    return s->cfg->c;
}

int csd_supervisor_n_streams(const csd_supervisor *s)
{
    return (int)s->runs->len;
}

int csd_supervisor_find(const csd_supervisor *s, const char *name)
{
    for (guint i = 0; i < s->runs->len; i++)
        if (strcmp(((run *)g_ptr_array_index(s->runs, i))->name, name) == 0) return (int)i;
    return -1;
}

static run *at(const csd_supervisor *s, int i)
{
    return i >= 0 && (guint)i < s->runs->len ? g_ptr_array_index(s->runs, i) : NULL;
}

void csd_supervisor_stream_status(csd_supervisor *s, int i, Camstream__V1__StreamStatus *out)
{
    run *r = at(s, i);
    if (!r) {
        camstream__v1__stream_status__init(out);
        return;
    }
    fill_status(r, out);
    out->sequence = r->sequence;
}

const csd_stream *csd_supervisor_stream(const csd_supervisor *s, int i)
{
    run *r = at(s, i);
    return r ? r->cs : NULL;
}

const char *csd_supervisor_stream_origin(const csd_supervisor *s, int i)
{
    run *r = at(s, i);
    return !r ? NULL : r->control ? "control" : "file";
}

/* ---- add, remove, reload ------------------------------------------------------------------ */

int csd_supervisor_add(csd_supervisor *s, const char *text, csd_error *err)
{
    csd_error dummy;
    if (!err) err = &dummy;
    memset(err, 0, sizeof *err);
    if (s->shutting_down) {
        snprintf(err->msg, sizeof err->msg, "the daemon is shutting down");
        err->status = CS_ERR_INVALID;
        return -1;
    }
    csd_config *c = csd_config_load_streams(s->cfg->c, text, strlen(text), "request", err);
    if (!c) return -1;
    for (int i = 0; i < c->n_streams; i++) {
        if (csd_supervisor_find(s, c->streams[i].name) < 0) continue;
        err->status = CS_ERR_INVALID;
        err->line = c->streams[i].line;
        snprintf(err->msg, sizeof err->msg,
                 "request:%d: [stream %s] a stream with this name exists (remove it first)",
                 c->streams[i].line, c->streams[i].name);
        csd_config_destroy(&c);
        return -1;
    }
    cfg_ref *ref = cfg_new(c);
    GPtrArray *added = g_ptr_array_new();
    for (int i = 0; i < c->n_streams; i++) {
        run *r = run_new(s, ref, &c->streams[i], 1);
        g_ptr_array_add(s->runs, r);
        g_ptr_array_add(added, r);
        csd_info("stream %s: added by control", r->name);
    }
    cfg_unref(ref);
    open_endpoints(s, added);
    for (guint i = 0; i < added->len; i++) run_start(g_ptr_array_index(added, i));
    g_ptr_array_free(added, TRUE);
    return 0;
}

static GString *names_of(const csd_supervisor *s)
{
    GString *g = g_string_new(NULL);
    for (guint i = 0; i < s->runs->len; i++)
        g_string_append_printf(g, "%s%s", i ? ", " : "",
                               ((run *)g_ptr_array_index(s->runs, i))->name);
    if (!g->len) g_string_append(g, "none");
    return g;
}

/* Moves r from the visible streams to the dying ones and stops it. */
static void retire(csd_supervisor *s, run *r, run *successor)
{
    g_ptr_array_remove(s->runs, r);
    g_ptr_array_add(s->dying, r);
    r->successor = successor;
    run_stop(r, dying_stopped);
}

int csd_supervisor_remove(csd_supervisor *s, const char *name, csd_error *err)
{
    csd_error dummy;
    if (!err) err = &dummy;
    memset(err, 0, sizeof *err);
    int i = csd_supervisor_find(s, name);
    if (i < 0) {
        GString *n = names_of(s);
        err->status = CS_ERR_INVALID;
        snprintf(err->msg, sizeof err->msg, "no stream '%s' (streams: %s)", name, n->str);
        g_string_free(n, TRUE);
        return -1;
    }
    run *r = at(s, i);
    csd_info("stream %s: removed", r->name);
    retire(s, r, NULL);
    return 0;
}

static void append_name(GString *g, const char *name)
{
    g_string_append_printf(g, "%s%s", g->len ? ", " : "", name);
}

int csd_supervisor_reload(csd_supervisor *s, char *summary, size_t len, csd_error *err)
{
    csd_error dummy;
    if (!err) err = &dummy;
    memset(err, 0, sizeof *err);
    if (s->shutting_down) {
        snprintf(err->msg, sizeof err->msg, "the daemon is shutting down");
        err->status = CS_ERR_INVALID;
        return -1;
    }
    csd_config *nc = csd_config_load(s->cfg->c->path, CSD_LOAD_MODELS, err);
    if (!nc) return -1;
    cfg_ref *ref = cfg_new(nc);
    const csd_config *oc = s->cfg->c;
    GString *added = g_string_new(NULL), *removed = g_string_new(NULL),
            *changed = g_string_new(NULL), *same = g_string_new(NULL);
    GPtrArray *next = g_ptr_array_new(), *start = g_ptr_array_new(), *stop = g_ptr_array_new();
    GPtrArray *old = g_ptr_array_copy(s->runs, NULL, NULL);
    for (int i = 0; i < nc->n_streams; i++) {
        const csd_stream *ns = &nc->streams[i];
        run *o = NULL;
        for (guint j = 0; j < old->len && !o; j++)
            if (strcmp(((run *)g_ptr_array_index(old, j))->name, ns->name) == 0)
                o = g_ptr_array_index(old, j);
        run *n = run_new(s, ref, ns, 0);
        if (o && !o->control && strcmp(o->launch, n->launch) == 0 &&
            strcmp(o->model_hash, n->model_hash) == 0 && o->cs->enabled == ns->enabled) {
            /* unchanged: the running pipeline stays; its keys now come from the new file */
            run_free(n);
            ref->refs++;
            cfg_unref(o->owner);
            o->owner = ref;
            o->cs = ns;
            g_ptr_array_remove(old, o);
            g_ptr_array_add(next, o);
            append_name(same, ns->name);
            continue;
        }
        g_ptr_array_add(next, n);
        if (o) {
            g_ptr_array_remove(old, o);
            append_name(changed, ns->name);
            o->successor = n; /* starts when o has stopped */
            g_ptr_array_add(s->dying, o);
            g_ptr_array_add(stop, o);
            csd_info("stream %s: changed (%s), restarting it", ns->name,
                     o->control ? "the file now defines it" : "new pipeline or model");
        } else {
            append_name(added, ns->name);
            g_ptr_array_add(start, n);
        }
    }
    /* streams added by control survive; file streams no longer in the file go */
    for (guint j = 0; j < old->len; j++) {
        run *o = g_ptr_array_index(old, j);
        if (o->control) {
            g_ptr_array_add(next, o);
        } else {
            append_name(removed, o->name);
            g_ptr_array_add(s->dying, o);
            g_ptr_array_add(stop, o);
            csd_info("stream %s: removed from the file", o->name);
        }
    }
    g_ptr_array_free(old, TRUE);
    g_ptr_array_free(s->runs, TRUE);
    s->runs = next;
    GString *daemon = g_string_new(NULL);
    /* a new publish endpoint changes the streams' descriptions (they restart on it) */
    if (strcmp(oc->control, nc->control) != 0) append_name(daemon, "control");
    if (oc->allow_remote != nc->allow_remote) append_name(daemon, "allow_remote");
    /* the sockets keep the CURVE keys (and the ZAP handler its list) they started with */
    if (!csd_config_curve_key_same(oc, nc)) append_name(daemon, "curve_key");
    if (!csd_config_curve_authorized_same(oc, nc)) append_name(daemon, "curve_authorized");
    snprintf(summary, len, "added %s; removed %s; changed %s; unchanged %s%s%s%s",
             added->len ? added->str : "none", removed->len ? removed->str : "none",
             changed->len ? changed->str : "none", same->len ? same->str : "none",
             daemon->len ? "; restart camstreamd to apply [daemon] " : "", daemon->str,
             daemon->len ? " (changed)" : "");
    cfg_unref(s->cfg); /* oc may be gone from here on */
    s->cfg = ref;      /* cfg_new's reference */
    csd_log_set_config_level(nc->log_level);
    status_timer_update(s);
    /* stop what went (a successor starts when its predecessor stopped), start what is new */
    for (guint j = 0; j < stop->len; j++) run_stop(g_ptr_array_index(stop, j), dying_stopped);
    g_ptr_array_free(stop, TRUE);
    open_endpoints(s, start);
    for (guint j = 0; j < start->len; j++) run_start(g_ptr_array_index(start, j));
    g_ptr_array_free(start, TRUE);
    g_string_free(added, TRUE);
    g_string_free(removed, TRUE);
    g_string_free(changed, TRUE);
    g_string_free(same, TRUE);
    g_string_free(daemon, TRUE);
    return 0;
}
