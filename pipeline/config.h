/* camstreamd configuration: the daemon's settings, the models its streams share and the streams
 * (source → chain of elements → cspublish → sink). docs/CONFIG.md documents every key; its key
 * tables are generated from the table in config.c (`camstreamd --keys`).
 *
 *     csd_error err;
 *     csd_config *c = csd_config_load("configs/default.conf", CSD_LOAD_MODELS, &err);
 *     if (!c) { fprintf(stderr, "%s\n", err.msg); return 1; }
 *         // "default.conf:14: [stream cam0] sink: 'tv' is not a sink (allowed: none, display,
 *         //  record=PATH, preview=ENDPOINT) >>> sink = tv"
 *     for (int i = 0; i < c->n_streams; i++) {
 *         char *launch = csd_stream_launch(c, &c->streams[i]);   // gst-launch-1.0 syntax
 *         ...
 *         g_free(launch);
 *     }
 *     csd_config_destroy(&c);                                     // safe twice
 *
 * The parser uses GLib (GKeyFile, through core's keyfile helpers) and core's model-description
 * parser (formats.h); never GStreamer, so it is unit-tested without it. It never prints.
 */
#ifndef CAMSTREAM_PIPELINE_CONFIG_H
#define CAMSTREAM_PIPELINE_CONFIG_H

#include "camstream/formats.h"

#include <glib.h>

struct csd_curve_keys;       /* curve_keys.h */
struct csd_curve_authorized; /* curve_keys.h */

#define CSD_ERROR_LEN 2048
#define CSD_NAME_MAX 64

typedef struct csd_error {
    cs_status status;
    int line; /* the offending line, 0 when the error has none (missing group, unreadable file) */
    char msg[CSD_ERROR_LEN];
} csd_error;

typedef enum { CSD_LOG_ERROR, CSD_LOG_WARNING, CSD_LOG_INFO, CSD_LOG_DEBUG } csd_log_level;

typedef enum {
    CSD_SRC_FILE, /* file:///abs/path or file:rel/path (relative to the configuration) */
    CSD_SRC_RTSP, /* rtsp://host[:port]/path, rtsps:// */
    CSD_SRC_V4L2, /* v4l2:///dev/videoN */
    CSD_SRC_HTTP, /* http:// https:// */
    CSD_SRC_TEST, /* testsrc:// or testsrc://PATTERN (videotestsrc) */
} csd_source_kind;

typedef enum { CSD_SINK_NONE, CSD_SINK_DISPLAY, CSD_SINK_RECORD, CSD_SINK_PREVIEW } csd_sink_kind;
typedef enum { CSD_RESTART_ALWAYS, CSD_RESTART_ON_FAILURE, CSD_RESTART_NEVER } csd_restart;

typedef struct csd_prop {
    char *name, *value;
} csd_prop;

/* One element of a chain: `name prop=value ...`, or a caps filter (`video/x-raw,...`). */
typedef struct csd_element {
    char *name; /* element name, or the caps string when caps is set */
    int caps;
    int camstream; /* one of ours (cs*) */
    csd_prop *props;
    int n_props;
} csd_element;

typedef struct csd_model {
    char *name;        /* [model NAME] */
    char *description; /* resolved path of the .model or .onnx file */
    char *layer;       /* target layer override, or NULL */
    char *labels;      /* labels file override (resolved), or NULL */
    cs_model_desc *desc;
    int checked; /* the ONNX model was loaded and checked against the description */
    int line;    /* of the group header */
} csd_model;

typedef struct csd_stream {
    char *name;   /* [stream NAME]: also the stream id on the wire */
    char *source; /* as written */
    csd_source_kind kind;
    char *location;               /* file: resolved path; v4l2: device; others: the URI */
    char *pattern;                /* testsrc: the videotestsrc pattern */
    int width, height, framerate; /* 0: the source's own */
    char *model_name;
    const csd_model *model; /* NULL when model_name is NULL */
    char *chain_text;
    csd_element *chain;
    int n_chain;
    csd_sink_kind sink;
    char *sink_arg; /* record: resolved path (its directory may not exist yet); preview: endpoint */
    char *publish;  /* the stream's publish endpoint (default: the daemon's) */
    csd_restart restart;
    int loop;     /* file sources: play again from the start at the end */
    int realtime; /* file sources: play at the file's own rate (a clocksync before ingress) */
    int enabled;
    int line;
} csd_stream;

typedef struct csd_config {
    char *path;
    /* [daemon] */
    char *publish, *control;
    csd_log_level log_level;
    int threads;
    int allow_remote;
    int status_interval_ms;
    int restart_delay_ms;
    int restart_max_delay_ms;
    int shutdown_timeout_ms;
    /* CURVE (docs/PROTOCOL.md): resolved paths, NULL when not set (plain TCP), and what they
     * hold, loaded and checked with the configuration */
    char *curve_key, *curve_authorized;
    struct csd_curve_keys *curve;            /* server keys; NULL: no CURVE */
    struct csd_curve_authorized *authorized; /* NULL: any client key */

    csd_model *models;
    int n_models;
    csd_stream *streams;
    int n_streams;
} csd_config;

typedef enum {
    CSD_LOAD_MODELS = 1 << 0, /* also load each ONNX model and check its description against it */
} csd_load_flags;

/* Parses a configuration file. NULL + err (`FILE:LINE: [group] key: reason (allowed: ...)
 * >>> offending line`) on failure. */
csd_config *csd_config_load(const char *path, unsigned flags, csd_error *err);
/* The same from text; path names it in messages and anchors relative names (NULL: "memory",
 * relative to the working directory). */
csd_config *csd_config_load_data(const char *text, size_t len, const char *path, unsigned flags,
                                 csd_error *err);
/* Streams for a running daemon (camstreamd's control `add`): text holds only [stream NAME] groups;
 * the [daemon] settings and models are base's (copied: the result does not point into base).
 * what names the text in messages ("request:3: [stream x] ..."); relative names are relative
 * to the working directory. NULL + err on failure. */
csd_config *csd_config_load_streams(const csd_config *base, const char *text, size_t len,
                                    const char *what, csd_error *err);
void csd_config_destroy(csd_config **c);

const csd_model *csd_config_model(const csd_config *c, const char *name);
const csd_stream *csd_config_stream(const csd_config *c, const char *name);

/* The stream's pipeline in gst-launch-1.0 syntax: source ! queue name=ingress ! chain (the
 * stream's model filled in where an element takes one) ! cspublish name=publish ! sink. The
 * ingress queue is leaky for live sources (rtsp, http, v4l2, testsrc: a slow chain drops frames
 * instead of accumulating latency). g_free the result. */
char *csd_stream_launch(const csd_config *c, const csd_stream *s);

/* Validates an endpoint: tcp://HOST:PORT (HOST 127.0.0.1, localhost or [::1] unless
 * allow_remote; PORT 1-65535) or ipc://PATH. 0 or -1 with a reason in why. */
int csd_endpoint_check(const char *ep, int allow_remote, char *why, size_t len);

/* The CURVE server keys (resp. the authorized client keys) of a and b are the same: for a reload,
 * whose sockets keep the keys they were started with. */
int csd_config_curve_key_same(const csd_config *a, const csd_config *b);
int csd_config_curve_authorized_same(const csd_config *a, const csd_config *b);
/* A copy of c's authorized client keys for the ZAP handler (csd_curve_authorized_free), NULL
 * when c has none. */
struct csd_curve_authorized *csd_config_curve_authorized_copy(const csd_config *c);

/* Markdown tables of every key (name, type, default, bounds, doc), as in docs/CONFIG.md. */
char *csd_config_keys_markdown(void);

const char *csd_source_kind_name(csd_source_kind k);
const char *csd_sink_kind_name(csd_sink_kind k);
const char *csd_log_level_name(csd_log_level l);

#endif
