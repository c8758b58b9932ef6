/* camstreamd's supervisor: one GstPipeline per enabled stream of a configuration, restarted after
 * errors with backoff, publishing through the daemon's ZeroMQ sockets (publisher.h) and reporting
 * a StreamStatus per stream (docs/CONFIG.md "Running"). Every function runs on the GLib main-loop
 * thread (the one that runs the default GMainContext); none of them blocks for long.
 *
 *     csd_error err;
 *     csd_supervisor *s = csd_supervisor_new(config, zmq_ctx, &err);   // starts the streams
 *     if (!s) { log err.msg; exit 1 }                                  // nothing could run
 *     ... g_main_loop_run ...
 *     csd_supervisor_stop(s, on_stopped, loop);    // EOS to every pipeline, then NULL
 *     csd_supervisor_free(&s);                     // safe twice
 *
 * Streams are identified by index 0..n-1 (order: file streams in file order, then streams added
 * by control) or by name; indexes change after add/remove/reload.
 */
#ifndef CAMSTREAM_PIPELINE_SUPERVISOR_H
#define CAMSTREAM_PIPELINE_SUPERVISOR_H

#include "camstream.pb-c.h"
#include "config.h"

#include <stddef.h>

typedef struct csd_supervisor csd_supervisor;

/* Builds and starts a pipeline for every enabled stream of c (takes ownership of c, also on
 * failure). zmq_ctx is the daemon's ZeroMQ context (publish sockets are bound in it). NULL + err
 * only when nothing can run (every publish endpoint failed to bind, or no stream could be built);
 * a single stream that cannot start is logged and reported FAILED, the others run. */
csd_supervisor *csd_supervisor_new(csd_config *c, void *zmq_ctx, csd_error *err);
void csd_supervisor_free(csd_supervisor **s);

/* The running configuration (its [daemon] settings and models; streams added by control are not
 * in it: use csd_supervisor_stream). */
const csd_config *csd_supervisor_config(const csd_supervisor *s);

int csd_supervisor_n_streams(const csd_supervisor *s);
/* The index of the stream called name, or -1. */
int csd_supervisor_find(const csd_supervisor *s, const char *name);

/* Fills a StreamStatus for stream i (out is initialized by this function); strings point into the
 * supervisor and stay valid until the next main-loop iteration. Nothing to free. */
void csd_supervisor_stream_status(csd_supervisor *s, int i, Camstream__V1__StreamStatus *out);
/* Stream i's configuration. */
const csd_stream *csd_supervisor_stream(const csd_supervisor *s, int i);
/* "file" (from the configuration file) or "control" (added by csd_supervisor_add). */
const char *csd_supervisor_stream_origin(const csd_supervisor *s, int i);

/* Adds and starts the [stream NAME] groups in text (key-file syntax; models are those of the
 * running configuration, [daemon]/[model] groups are refused). The text is called "request" in
 * messages, with line numbers: "request:3: [stream cam9] source: ...". Fails (nothing added) when
 * a name is already in use. 0 or -1 + err. */
int csd_supervisor_add(csd_supervisor *s, const char *text, csd_error *err);
/* Stops (EOS, then NULL after shutdown_timeout at most) and forgets stream name. 0 or -1 + err
 * ("no stream 'x'"). */
int csd_supervisor_remove(csd_supervisor *s, const char *name, csd_error *err);
/* Re-reads the configuration file and applies the difference: new streams start, streams no
 * longer in the file stop, changed streams (launch description or model description file
 * contents) restart, unchanged ones keep running untouched; streams added by control survive
 * unless the file now defines the same name. [daemon] changes other than restart/status settings
 * need a restart of the daemon (said in the summary). summary gets e.g.
 * "added a; removed b; changed c; unchanged d". On error (-1 + err, "FILE:LINE: ...") the old
 * configuration keeps running. */
int csd_supervisor_reload(csd_supervisor *s, char *summary, size_t len, csd_error *err);

/* Graceful stop: EOS to every pipeline, waits (on the main loop) up to [daemon] shutdown_timeout
 * for them, sets them to NULL, publishes a final STOPPED status per stream, then calls
 * done(data) from the main loop. Further calls are ignored. */
void csd_supervisor_stop(csd_supervisor *s, void (*done)(void *data), void *data);

#endif
