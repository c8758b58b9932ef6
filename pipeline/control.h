/* camstreamd's control endpoint (proto/control.proto, docs/PROTOCOL.md "Control"): a ZeroMQ REP
 * socket on [daemon] control, read from the GLib main loop, answering one ControlRequest frame
 * with one ControlReply frame. Every request gets a reply: a request that does not parse, names
 * no operation or an unknown stream gets ok = false and an error naming the problem, and the
 * socket stays usable.
 *
 * The requests reach the streams through csd_control_ops (the supervisor's functions, see
 * control_ops.c and supervisor.h), so the dispatch is unit-tested without GStreamer.
 *
 *     csd_control *ctl = csd_control_new(zmq_ctx, config->control, NULL,
 *                                        csd_control_supervisor_ops(), supervisor, &err);
 *     if (!ctl) { log err.msg; exit 1 }     // "control endpoint tcp://...: Address in use"
 *     ... g_main_loop_run ...
 *     csd_control_free(&ctl);               // before the supervisor, safe twice
 */
#ifndef CAMSTREAM_PIPELINE_CONTROL_H
#define CAMSTREAM_PIPELINE_CONTROL_H

#include "config.h"
#include "control.pb-c.h"
#include "curve_keys.h"

#include <stddef.h>
#include <stdint.h>

/* What the control endpoint needs from the daemon; sup is passed back to every call. Mirrors
 * supervisor.h (every call on the main-loop thread). */
typedef struct csd_control_ops {
    int (*n_streams)(void *sup);
    int (*find)(void *sup, const char *name); /* index or -1 */
    /* Fills out (initialized by the callee); strings point into sup until the next call. */
    void (*stream_status)(void *sup, int i, Camstream__V1__StreamStatus *out);
    const csd_stream *(*stream)(void *sup, int i);
    const char *(*origin)(void *sup, int i); /* "file" | "control" */
    char *(*launch)(void *sup, int i);       /* g_free'd by the caller; NULL: unknown */
    int (*add)(void *sup, const char *text, csd_error *err);
    int (*remove)(void *sup, const char *name, csd_error *err);
    int (*reload)(void *sup, char *summary, size_t len, csd_error *err);
} csd_control_ops;

/* The real supervisor's functions (control_ops.c; sup is a csd_supervisor *). */
const csd_control_ops *csd_control_supervisor_ops(void);

/* Answers one request: the packed ControlReply (g_free) and its size in *out_len. Never NULL. */
uint8_t *csd_control_handle(const csd_control_ops *ops, void *sup, const uint8_t *req, size_t len,
                            size_t *out_len);

typedef struct csd_control csd_control;

/* Binds a REP socket on endpoint in zmq_ctx (CURVE server when server is set: a ZAP handler in
 * the same context decides which clients may connect, curve_keys.h) and serves it from the
 * default GMainContext. NULL + err when the socket cannot be set up or bound. */
csd_control *csd_control_new(void *zmq_ctx, const char *endpoint, const csd_curve_keys *server,
                             const csd_control_ops *ops, void *sup, csd_error *err);
/* The bound endpoint (tcp://127.0.0.1:PORT when endpoint asked for port '*'). */
const char *csd_control_endpoint(const csd_control *c);
/* Requests answered so far. */
unsigned csd_control_requests(const csd_control *c);
void csd_control_free(csd_control **c);

#endif
