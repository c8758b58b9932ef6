/* camstreamd's control endpoint: request dispatch and the REP socket on the main loop
 * (control.h). */
#include "control.h"

#include <errno.h>
#include <glib-unix.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

/* Reply under construction: owns what the packed message points to. */
typedef struct reply {
    Camstream__V1__ControlReply r;
    Camstream__V1__StreamInfo *infos;
    Camstream__V1__StreamInfo **info_ptrs;
    Camstream__V1__StreamStatus *statuses;
    Camstream__V1__StreamStatus **status_ptrs;
    GPtrArray *strings; /* g_free'd after packing */
    char text[CSD_ERROR_LEN];
} reply;

static void reply_error(reply *rp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reply_error(reply *rp, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rp->text, sizeof rp->text, fmt, ap);
    va_end(ap);
    rp->r.ok = 0;
    rp->r.error = rp->text;
}

static char *nonnull(const char *s)
{
    return (char *)(s ? s : "");
}

/* Room for n streams' infos or statuses. */
static void reserve_infos(reply *rp, int n)
{
    rp->infos = g_new0(Camstream__V1__StreamInfo, n ? n : 1);
    rp->info_ptrs = g_new0(Camstream__V1__StreamInfo *, n ? n : 1);
}

static void reserve_statuses(reply *rp, int n)
{
    rp->statuses = g_new0(Camstream__V1__StreamStatus, n ? n : 1);
    rp->status_ptrs = g_new0(Camstream__V1__StreamStatus *, n ? n : 1);
}

static void add_info(reply *rp, const csd_control_ops *ops, void *sup, int i)
{
    Camstream__V1__StreamInfo *info = &rp->infos[rp->r.n_streams];
    camstream__v1__stream_info__init(info);
    const csd_stream *s = ops->stream(sup, i);
    Camstream__V1__StreamStatus st;
    ops->stream_status(sup, i, &st);
    info->state = st.state;
    info->stream_id = nonnull(s ? s->name : NULL);
    info->source = nonnull(s ? s->source : NULL);
    info->model = nonnull(s ? s->model_name : NULL);
    info->publish = nonnull(s ? s->publish : NULL);
    info->origin = nonnull(ops->origin(sup, i));
    char *launch = ops->launch(sup, i);
    if (launch) g_ptr_array_add(rp->strings, launch);
    info->launch = nonnull(launch);
    rp->info_ptrs[rp->r.n_streams++] = info;
}

static void add_status(reply *rp, const csd_control_ops *ops, void *sup, int i)
{
    Camstream__V1__StreamStatus *st = &rp->statuses[rp->r.n_statuses];
    ops->stream_status(sup, i, st);
    /* The strings point into the supervisor until its next call: copy them. */
    st->stream_id = g_strdup(nonnull(st->stream_id));
    st->last_error = g_strdup(nonnull(st->last_error));
    g_ptr_array_add(rp->strings, st->stream_id);
    g_ptr_array_add(rp->strings, st->last_error);
    rp->status_ptrs[rp->r.n_statuses++] = st;
}

static void do_list(reply *rp, const csd_control_ops *ops, void *sup)
{
    int n = ops->n_streams(sup);
    reserve_infos(rp, n);
    for (int i = 0; i < n; i++) add_info(rp, ops, sup, i);
    snprintf(rp->text, sizeof rp->text, "%d stream%s", n, n == 1 ? "" : "s");
    rp->r.message = rp->text;
}

static void do_status(reply *rp, const csd_control_ops *ops, void *sup,
                      const Camstream__V1__StatusRequest *q)
{
    const char *id = q && q->stream_id ? q->stream_id : "";
    if (*id) {
        int i = ops->find(sup, id);
        if (i < 0) {
            reply_error(rp, "status: no stream '%s'", id);
            return;
        }
        reserve_statuses(rp, 1);
        add_status(rp, ops, sup, i);
        return;
    }
    int n = ops->n_streams(sup);
    reserve_statuses(rp, n);
    for (int i = 0; i < n; i++) add_status(rp, ops, sup, i);
}

static void do_add(reply *rp, const csd_control_ops *ops, void *sup,
                   const Camstream__V1__AddRequest *q)
{
    const char *text = q && q->config ? q->config : "";
    if (!*text) {
        reply_error(rp, "add: config is empty (one or more [stream NAME] groups, docs/CONFIG.md)");
        return;
    }
    /* The names before, to report which streams the request added. */
    int before = ops->n_streams(sup);
    GHashTable *old = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (int i = 0; i < before; i++) {
        const csd_stream *s = ops->stream(sup, i);
        if (s && s->name) g_hash_table_add(old, g_strdup(s->name));
    }
    csd_error err = {0};
    if (ops->add(sup, text, &err)) {
        reply_error(rp, "add: %s", err.msg);
    } else {
        int n = ops->n_streams(sup);
        reserve_infos(rp, n);
        for (int i = 0; i < n; i++) {
            const csd_stream *s = ops->stream(sup, i);
            if (s && s->name && !g_hash_table_contains(old, s->name)) add_info(rp, ops, sup, i);
        }
        snprintf(rp->text, sizeof rp->text, "added %zu stream%s", rp->r.n_streams,
                 rp->r.n_streams == 1 ? "" : "s");
        rp->r.message = rp->text;
    }
    g_hash_table_destroy(old);
}

static void do_remove(reply *rp, const csd_control_ops *ops, void *sup,
                      const Camstream__V1__RemoveRequest *q)
{
    const char *id = q && q->stream_id ? q->stream_id : "";
    if (!*id) {
        reply_error(rp, "remove: stream_id is empty");
        return;
    }
    if (ops->find(sup, id) < 0) {
        reply_error(rp, "remove: no stream '%s'", id);
        return;
    }
    csd_error err = {0};
    if (ops->remove(sup, id, &err)) {
        reply_error(rp, "remove: %s", err.msg);
        return;
    }
    snprintf(rp->text, sizeof rp->text, "removed %s", id);
    rp->r.message = rp->text;
}

static void do_reload(reply *rp, const csd_control_ops *ops, void *sup)
{
    csd_error err = {0};
    char summary[CSD_ERROR_LEN] = "";
    if (ops->reload(sup, summary, sizeof summary, &err)) {
        reply_error(rp, "reload: %s (the running configuration is kept)", err.msg);
        return;
    }
    snprintf(rp->text, sizeof rp->text, "%s", summary[0] ? summary : "reloaded");
    rp->r.message = rp->text;
}

uint8_t *csd_control_handle(const csd_control_ops *ops, void *sup, const uint8_t *req, size_t len,
                            size_t *out_len)
{
    reply rp = {0};
    camstream__v1__control_reply__init(&rp.r);
    rp.r.ok = 1;
    rp.strings = g_ptr_array_new_with_free_func(g_free);

    Camstream__V1__ControlRequest *q = camstream__v1__control_request__unpack(NULL, len, req);
    if (!q) {
        reply_error(&rp,
                    "not a ControlRequest: %zu bytes that do not parse as protobuf "
                    "(proto/control.proto)",
                    len);
    } else {
        switch (q->request_case) {
        case CAMSTREAM__V1__CONTROL_REQUEST__REQUEST_LIST:
            do_list(&rp, ops, sup);
            break;
        case CAMSTREAM__V1__CONTROL_REQUEST__REQUEST_STATUS:
            do_status(&rp, ops, sup, q->status);
            break;
        case CAMSTREAM__V1__CONTROL_REQUEST__REQUEST_ADD:
            do_add(&rp, ops, sup, q->add);
            break;
        case CAMSTREAM__V1__CONTROL_REQUEST__REQUEST_REMOVE:
            do_remove(&rp, ops, sup, q->remove);
            break;
        case CAMSTREAM__V1__CONTROL_REQUEST__REQUEST_RELOAD:
            do_reload(&rp, ops, sup);
            break;
        default:
            reply_error(&rp, "empty or unknown request: a ControlRequest sets one of list, "
                             "status, add, remove, reload");
        }
        camstream__v1__control_request__free_unpacked(q, NULL);
    }
    if (!rp.r.ok) {
        /* An error reply carries nothing else. */
        rp.r.n_streams = rp.r.n_statuses = 0;
        rp.r.message = (char *)"";
    }
    rp.r.streams = rp.info_ptrs;
    rp.r.statuses = rp.status_ptrs;
    size_t n = camstream__v1__control_reply__get_packed_size(&rp.r);
    uint8_t *out = g_malloc(n ? n : 1);
    camstream__v1__control_reply__pack(&rp.r, out);
    *out_len = n;
    g_free(rp.infos);
    g_free(rp.info_ptrs);
    g_free(rp.statuses);
    g_free(rp.status_ptrs);
    g_ptr_array_free(rp.strings, TRUE);
    return out;
}

/* Socket on the main loop ------------------------------------------------------------------- */

struct csd_control {
    void *sock;
    guint watch;
    const csd_control_ops *ops;
    void *sup;
    char endpoint[256];
    unsigned requests;
};

/* Receives one request (all its frames), answers it. 0, or -1 when nothing was there. */
static int serve_one(csd_control *c)
{
    zmq_msg_t first;
    zmq_msg_init(&first);
    if (zmq_msg_recv(&first, c->sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&first);
        return -1;
    }
    int frames = 1;
    while (zmq_msg_more(&first) || frames > 1) {
        /* Extra frames: read and drop them, the request is refused below. */
        zmq_msg_t m;
        zmq_msg_init(&m);
        int r = zmq_msg_recv(&m, c->sock, ZMQ_DONTWAIT);
        int more = r >= 0 && zmq_msg_more(&m);
        zmq_msg_close(&m);
        if (r < 0) break;
        frames++;
        if (!more) break;
    }
    size_t out_len = 0;
    uint8_t *out;
    if (frames != 1) {
        Camstream__V1__ControlReply r = CAMSTREAM__V1__CONTROL_REPLY__INIT;
        char msg[128];
        snprintf(msg, sizeof msg, "a control request is one ZMQ frame, this one has %d", frames);
        r.error = msg;
        out_len = camstream__v1__control_reply__get_packed_size(&r);
        out = g_malloc(out_len ? out_len : 1);
        camstream__v1__control_reply__pack(&r, out);
    } else {
        out = csd_control_handle(c->ops, c->sup, zmq_msg_data(&first), zmq_msg_size(&first),
                                 &out_len);
    }
    zmq_msg_close(&first);
    if (zmq_send(c->sock, out, out_len, ZMQ_DONTWAIT) < 0)
        g_warning("control: reply not sent: %s", zmq_strerror(errno));
    g_free(out);
    c->requests++;
    return 0;
}

/* ZMQ_FD is edge-triggered: serve until ZMQ_EVENTS shows no more input. */
static gboolean on_readable(gint fd, GIOCondition cond, gpointer data)
{
    csd_control *c = data;
    for (;;) {
        int events = 0;
        size_t sz = sizeof events;
        if (zmq_getsockopt(c->sock, ZMQ_EVENTS, &events, &sz) < 0) break;
        if (!(events & ZMQ_POLLIN)) break;
        if (serve_one(c) < 0) break;
    }
    return G_SOURCE_CONTINUE;
}

csd_control *csd_control_new(void *zmq_ctx, const char *endpoint, const csd_curve_keys *server,
                             const csd_control_ops *ops, void *sup, csd_error *err)
{
    csd_control *c = g_new0(csd_control, 1);
    c->ops = ops;
    c->sup = sup;
    c->sock = zmq_socket(zmq_ctx, ZMQ_REP);
    int zero = 0, fd = -1;
    size_t sz = sizeof fd;
    if (!c->sock) goto fail;
    zmq_setsockopt(c->sock, ZMQ_LINGER, &zero, sizeof zero);
    if (server && csd_curve_server_apply(c->sock, server, err)) {
        char why[CSD_ERROR_LEN];
        snprintf(why, sizeof why, "control endpoint %s: %s", endpoint, err->msg);
        snprintf(err->msg, sizeof err->msg, "%s", why);
        zmq_close(c->sock);
        g_free(c);
        return NULL;
    }
    if (zmq_bind(c->sock, endpoint) < 0) goto fail;
    sz = sizeof c->endpoint;
    if (zmq_getsockopt(c->sock, ZMQ_LAST_ENDPOINT, c->endpoint, &sz) < 0)
        snprintf(c->endpoint, sizeof c->endpoint, "%s", endpoint);
    sz = sizeof fd;
    if (zmq_getsockopt(c->sock, ZMQ_FD, &fd, &sz) < 0) goto fail;
    c->watch = g_unix_fd_add(fd, G_IO_IN, on_readable, c);
    return c;
fail:
    err->status = CS_ERR_IO;
    err->line = 0;
    snprintf(err->msg, sizeof err->msg, "control endpoint %s: %s", endpoint, zmq_strerror(errno));
    if (c->sock) zmq_close(c->sock);
    g_free(c);
    return NULL;
}

const char *csd_control_endpoint(const csd_control *c)
{
    return c->endpoint;
}

unsigned csd_control_requests(const csd_control *c)
{
    return c->requests;
}

void csd_control_free(csd_control **cp)
{
    if (!cp || !*cp) return;
    csd_control *c = *cp;
    if (c->watch) g_source_remove(c->watch);
    zmq_close(c->sock);
    g_free(c);
    *cp = NULL;
}
