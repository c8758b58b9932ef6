/* camstreamd configuration parser (config.h). Every key is a row of a table (name, type,
 * bounds or allowed values, default, validator, doc); the same rows drive parsing, defaults,
 * error messages and the key tables of docs/CONFIG.md. */
#include "config.h"

#include "curve_keys.h"
#include "formats/keyfile.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* ---- parsing context and errors --------------------------------------------------------- */

typedef struct ctx {
    const char *what; /* file name for messages */
    char *dir;        /* for relative names; NULL: the working directory */
    const char *text;
    size_t len;
    kf_file kf;
    csd_config *c;
    csd_error *err;
    unsigned flags;
    const csd_config *base; /* streams only, with base's [daemon] and models */
} ctx;

/* The text of line n, trimmed, into buf. */
static const char *line_text(const ctx *x, int n, char *buf, size_t cap)
{
    const char *p = x->text, *end = x->text + x->len;
    for (int i = 1; i < n && p < end; i++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        p = nl ? nl + 1 : end;
    }
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *e = nl ? nl : end;
    while (p < e && (*p == ' ' || *p == '\t')) p++;
    while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) e--;
    size_t n_ch = (size_t)(e - p);
    if (n_ch > 160) n_ch = 160;
    snprintf(buf, cap, "%.*s%s", (int)n_ch, p, (size_t)(e - p) > n_ch ? "..." : "");
    return buf;
}

/* "FILE:LINE: [group] key: reason >>> line". group/key may be NULL; line 0 omits it. */
static int vfail_at(const ctx *x, int line, const char *group, const char *key, cs_status st,
                    const char *fmt, va_list ap)
{
    char reason[CSD_ERROR_LEN / 2], where[48] = "", echo[200] = "", lt[180];
    vsnprintf(reason, sizeof reason, fmt, ap);
    if (line > 0) {
        snprintf(where, sizeof where, ":%d", line);
        snprintf(echo, sizeof echo, " >>> %s", line_text(x, line, lt, sizeof lt));
    }
    csd_error *e = x->err;
    if (e) {
        e->status = st;
        e->line = line;
        snprintf(e->msg, sizeof e->msg, "%s%s: %s%s%s%s%s%s%s", x->what, where, group ? "[" : "",
                 group ? group : "", group ? "] " : "", key ? key : "", key ? ": " : "", reason,
                 echo);
    }
    return -1;
}

static int fail_at(const ctx *x, int line, const char *group, const char *key, cs_status st,
                   const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int fail_at(const ctx *x, int line, const char *group, const char *key, cs_status st,
                   const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail_at(x, line, group, key, st, fmt, ap);
    va_end(ap);
    return -1;
}

/* An error about group/key: the key's line, else the group header's. */
static int fail(const ctx *x, const char *group, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(const ctx *x, const char *group, const char *key, const char *fmt, ...)
{
    int line = key ? kf_line(&x->kf, group, key) : 0;
    if (!line) line = kf_line(&x->kf, group, NULL);
    va_list ap;
    va_start(ap, fmt);
    vfail_at(x, line, group, key, CS_ERR_PARSE, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- the key tables ---------------------------------------------------------------------- */

typedef enum {
    K_STRING,
    K_PATH, /* a file that must exist, relative to the configuration's directory */
    K_INT,
    K_BOOL,
    K_ENUM,
    K_ENDPOINT,
    K_NAME, /* a [model NAME] reference */
    K_SOURCE,
    K_CHAIN,
    K_SINK,
} ktype;

static const char *const ktype_names[] = {
    "string",   "path",       "integer", "boolean", "enum",
    "endpoint", "model name", "URI",     "chain",   "sink",
};

typedef struct key key;
/* A validator runs after the type's own parsing (value as written, the object being filled). */
typedef int (*validator)(ctx *x, const char *group, const key *k, const char *value, void *obj);

struct key {
    const char *name;
    ktype type;
    long long lo, hi;         /* K_INT bounds */
    const char *const *names; /* K_ENUM values */
    const char *def;          /* default as written in a file; NULL: none */
    int required;             /* no default: the key must be given */
    size_t off;               /* field in the object (int, char * or enum int) */
    validator check;          /* extra validation / parsing (types K_SOURCE, K_CHAIN, K_SINK) */
    const char *doc;
};

static const char *const log_names[] = {"error", "warning", "info", "debug", NULL};
static const char *const restart_names[] = {"always", "on-failure", "never", NULL};
static const char *const bool_names[] = {"true", "false", NULL};

/* videotestsrc patterns (gst-inspect-1.0 videotestsrc). */
static const char *const pattern_names[] = {"smpte",
                                            "snow",
                                            "black",
                                            "white",
                                            "red",
                                            "green",
                                            "blue",
                                            "checkers-1",
                                            "checkers-2",
                                            "checkers-4",
                                            "checkers-8",
                                            "circular",
                                            "blink",
                                            "smpte75",
                                            "zone-plate",
                                            "gamut",
                                            "chroma-zone-plate",
                                            "solid-color",
                                            "ball",
                                            "smpte100",
                                            "bar",
                                            "pinwheel",
                                            "spokes",
                                            "gradient",
                                            "colors",
                                            NULL};

static int check_source(ctx *x, const char *group, const key *k, const char *v, void *obj);
static int check_chain(ctx *x, const char *group, const key *k, const char *v, void *obj);
static int check_sink(ctx *x, const char *group, const key *k, const char *v, void *obj);
static int check_pattern(ctx *x, const char *group, const key *k, const char *v, void *obj);
static int check_loop(ctx *x, const char *group, const key *k, const char *v, void *obj);
static int check_realtime(ctx *x, const char *group, const key *k, const char *v, void *obj);
static int check_curve_key(ctx *x, const char *group, const key *k, const char *v, void *obj);
static int check_curve_authorized(ctx *x, const char *group, const key *k, const char *v,
                                  void *obj);

#define DK(f) offsetof(csd_config, f)
#define MK(f) offsetof(csd_model, f)
#define SK(f) offsetof(csd_stream, f)

static const key daemon_keys[] = {
    {"publish", K_ENDPOINT, 0, 0, NULL, "tcp://127.0.0.1:5555", 0, DK(publish), NULL,
     "ZeroMQ PUB endpoint for `frame.*` and `status.*` messages (docs/PROTOCOL.md); streams "
     "publish here unless they set their own"},
    {"control", K_ENDPOINT, 0, 0, NULL, "tcp://127.0.0.1:5556", 0, DK(control), NULL,
     "control endpoint (ZeroMQ REP): status queries, stream start/stop"},
    {"log_level", K_ENUM, 0, 0, log_names, "info", 0, DK(log_level), NULL, "messages on stderr"},
    {"threads", K_INT, 0, 256, NULL, "0", 0, DK(threads), NULL,
     "engine threads per stream (csinfer `threads`); 0: all cores"},
    {"allow_remote", K_BOOL, 0, 0, bool_names, "false", 0, DK(allow_remote), NULL,
     "allow endpoints that are not loopback (tcp://0.0.0.0:…, a LAN address, a host name)"},
    {"status_interval", K_INT, 100, 3600000, NULL, "1000", 0, DK(status_interval_ms), NULL,
     "milliseconds between `status.*` messages"},
    {"restart_delay", K_INT, 0, 3600000, NULL, "2000", 0, DK(restart_delay_ms), NULL,
     "milliseconds before a failed stream is restarted the first time; the delay doubles after "
     "each failure up to `restart_max_delay`, and is reset once a stream ran 10 s"},
    {"restart_max_delay", K_INT, 0, 3600000, NULL, "30000", 0, DK(restart_max_delay_ms), NULL,
     "longest delay between restarts, milliseconds (at least `restart_delay`)"},
    {"shutdown_timeout", K_INT, 0, 600000, NULL, "5000", 0, DK(shutdown_timeout_ms), NULL,
     "milliseconds to wait for EOS on SIGTERM (recordings are finalized) before stopping the "
     "pipelines"},
    {"curve_key", K_PATH, 0, 0, NULL, NULL, 0, DK(curve_key), check_curve_key,
     "the server's CURVE key file (`camstream keygen NAME` → `NAME.key`, with the secret key; "
     "relative to this file): the publish and control sockets then encrypt and clients need "
     "`--server-key NAME.pub` (docs/PROTOCOL.md \"CURVE\"); unset: plain TCP"},
    {"curve_authorized", K_PATH, 0, 0, NULL, NULL, 0, DK(curve_authorized), check_curve_authorized,
     "the client public keys allowed to connect, one Z85 key per line (needs `curve_key`; "
     "relative to this file); unset: any client key"},
    {NULL, 0, 0, 0, NULL, NULL, 0, 0, NULL, NULL},
};

static const key model_keys[] = {
    {"description", K_PATH, 0, 0, NULL, NULL, 1, MK(description), NULL,
     "a model description (`.model`, docs/FORMATS.md: model file, preprocessing, labels, heads, "
     "target layer) or a bare `.onnx` file; relative to this file"},
    {"layer", K_STRING, 0, 0, NULL, NULL, 0, MK(layer), NULL,
     "target layer for explanations, over the description's `[explain] layer` (csinfer "
     "`target-layer`)"},
    {"labels", K_PATH, 0, 0, NULL, NULL, 0, MK(labels), NULL,
     "labels file (one per line), over the description's `[labels]` (csinfer `labels`)"},
    {NULL, 0, 0, 0, NULL, NULL, 0, 0, NULL, NULL},
};

static const key stream_keys[] = {
    {"source", K_SOURCE, 0, 0, NULL, NULL, 1, SK(source), check_source,
     "`file:///abs/path` or `file:rel/path` (must exist), `rtsp://` / `rtsps://host[:port]/…`, "
     "`v4l2:///dev/videoN`, `http://` / `https://…`, `testsrc://` or `testsrc://PATTERN`"},
    {"pattern", K_ENUM, 0, 0, pattern_names, NULL, 0, SK(pattern), check_pattern,
     "videotestsrc pattern, `testsrc://` sources only (default smpte)"},
    {"width", K_INT, 0, 8192, NULL, "0", 0, SK(width), NULL,
     "frame width after the source (videoscale); 0: the source's"},
    {"height", K_INT, 0, 8192, NULL, "0", 0, SK(height), NULL,
     "frame height after the source (videoscale); 0: the source's"},
    {"framerate", K_INT, 0, 240, NULL, "0", 0, SK(framerate), NULL,
     "frames per second after the source (videorate); 0: the source's"},
    {"model", K_NAME, 0, 0, NULL, NULL, 0, SK(model_name), NULL,
     "a `[model NAME]` of this file; given to every element of the chain that takes a model"},
    {"chain", K_CHAIN, 0, 0, NULL, "csnormalize ! csinfer", 0, SK(chain_text), check_chain,
     "elements in order, gst-launch syntax without quotes: `csnormalize ! csinfer explain=gradcam "
     "! cslocalize ! csoverlay`; camstream elements (properties checked) and videoconvert, "
     "videoscale, videorate, videoflip, videocrop, videobalance, queue, identity, caps "
     "(`video/x-raw,…`)"},
    {"sink", K_SINK, 0, 0, NULL, "none", 0, SK(sink), check_sink,
     "`none`, `display`, `record=PATH` (the overlaid video: `.mkv` or `.webm` VP8, `.mp4` H.264 "
     "(needs x264enc, gstreamer1.0-plugins-ugly); relative to this file; missing directories are "
     "created) or `preview=ENDPOINT` (MJPEG over TCP)"},
    {"publish", K_ENDPOINT, 0, 0, NULL, NULL, 0, SK(publish), NULL,
     "this stream's PUB endpoint (default: `[daemon] publish`)"},
    {"restart", K_ENUM, 0, 0, restart_names, "on-failure", 0, SK(restart), NULL,
     "after an error: `always` and `on-failure` restart the pipeline (with backoff), `never` "
     "leaves it failed; a live source that ends counts as a failure"},
    {"loop", K_BOOL, 0, 0, bool_names, "false", 0, SK(loop), check_loop,
     "`file:` sources only: true plays the file again from the start when it ends; false: the "
     "stream stops when the file ends"},
    {"realtime", K_BOOL, 0, 0, bool_names, "false", 0, SK(realtime), check_realtime,
     "`file:` sources only: true plays the file at its own frame rate, as a camera would "
     "deliver it (frames are counted in, and their latency measured, once they are due); "
     "false: as fast as the chain runs"},
    {"enabled", K_BOOL, 0, 0, bool_names, "true", 0, SK(enabled), NULL,
     "false: checked but not started"},
    {NULL, 0, 0, 0, NULL, NULL, 0, 0, NULL, NULL},
};

typedef enum { G_DAEMON, G_MODEL, G_STREAM, G_KINDS } gkind;
static const char *const gkind_names[] = {"daemon", "model", "stream"};
static const key *const gkind_keys[] = {daemon_keys, model_keys, stream_keys};

static const key *find_key(const key *t, const char *name)
{
    for (int i = 0; t[i].name; i++)
        if (strcmp(t[i].name, name) == 0) return &t[i];
    return NULL;
}

static const char *key_names(const key *t, char *buf, size_t cap)
{
    size_t at = 0;
    buf[0] = '\0';
    for (int i = 0; t[i].name && at < cap; i++)
        at += (size_t)snprintf(buf + at, cap - at, "%s%s", i ? ", " : "", t[i].name);
    return buf;
}

/* ---- endpoints --------------------------------------------------------------------------- */

static int is_loopback(const char *host)
{
    return strcmp(host, "127.0.0.1") == 0 || strcmp(host, "localhost") == 0 ||
           strcmp(host, "[::1]") == 0 || g_str_has_prefix(host, "127.");
}

int csd_endpoint_check(const char *ep, int allow_remote, char *why, size_t len)
{
    if (g_str_has_prefix(ep, "ipc://")) {
        const char *p = ep + 6;
        if (*p != '/') {
            snprintf(why, len,
                     "'%s': an ipc:// endpoint needs an absolute path (ipc:///run/x.sock)", ep);
            return -1;
        }
        char *dir = g_path_get_dirname(p);
        int ok = g_file_test(dir, G_FILE_TEST_IS_DIR);
        if (!ok) snprintf(why, len, "'%s': directory %s does not exist", ep, dir);
        g_free(dir);
        return ok ? 0 : -1;
    }
    if (!g_str_has_prefix(ep, "tcp://")) {
        snprintf(why, len, "'%s' is not an endpoint (allowed: tcp://HOST:PORT, ipc:///PATH)", ep);
        return -1;
    }
    const char *h = ep + 6, *colon = strrchr(h, ':');
    if (!colon || colon == h || (h[0] == '[' && colon[-1] != ']')) {
        snprintf(why, len, "'%s' has no port (allowed: tcp://HOST:PORT, ipc:///PATH)", ep);
        return -1;
    }
    char *host = g_strndup(h, (size_t)(colon - h));
    const char *port = colon + 1;
    char *end = NULL;
    long long pn = g_ascii_strtoll(port, &end, 10);
    int rc = 0;
    if (!*port || *end || pn < 1 || pn > 65535 || port[0] == '+' || port[0] == '-') {
        snprintf(why, len, "'%s': port '%s' is not an integer in [1, 65535]", ep, port);
        rc = -1;
    } else if (strpbrk(host, " \t/")) {
        snprintf(why, len, "'%s': '%s' is not a host", ep, host);
        rc = -1;
    } else if (!allow_remote && !is_loopback(host)) {
        snprintf(why, len,
                 "'%s' is not a loopback address (allowed: 127.0.0.1, localhost, [::1]; set "
                 "allow_remote = true in [daemon] to listen beyond this machine)",
                 ep);
        rc = -1;
    }
    g_free(host);
    return rc;
}

/* ---- values ------------------------------------------------------------------------------ */

/* Absolute and canonical: the daemon's pipelines must not depend on its working directory. */
static char *resolve(const ctx *x, const char *name)
{
    char *p = kf_resolve(x->dir, name);
    char *abs = g_canonicalize_filename(p, NULL);
    g_free(p);
    return abs;
}

static int parse_bool(const char *v, int *out)
{
    static const char *const t[] = {"true", "yes", "on", "1"}, *const f[] = {"false", "no", "off",
                                                                             "0"};
    for (int i = 0; i < 4; i++) {
        if (g_ascii_strcasecmp(v, t[i]) == 0) return *out = 1, 0;
        if (g_ascii_strcasecmp(v, f[i]) == 0) return *out = 0, 0;
    }
    return -1;
}

static int enum_index(const char *const *names, const char *v)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], v) == 0) return i;
    return -1;
}

static int set_value(ctx *x, const char *group, const key *k, const char *v, void *obj)
{
    char *field = (char *)obj + k->off;
    char allowed[CSD_ERROR_LEN / 4];
    switch (k->type) {
    case K_STRING:
    case K_NAME:
    case K_SOURCE:
    case K_CHAIN:
        if (k->type == K_NAME && !g_regex_match_simple("^[A-Za-z0-9_-]{1,64}$", v, 0, 0))
            return fail(x, group, k->name, "'%s' is not a name (allowed: [A-Za-z0-9_-], 1-64)", v);
        g_free(*(char **)field);
        *(char **)field = g_strdup(v);
        break;
    case K_PATH: {
        char *p = resolve(x, v);
        if (!g_file_test(p, G_FILE_TEST_IS_REGULAR)) {
            fail(x, group, k->name, "%s: no such file", p);
            g_free(p);
            return -1;
        }
        g_free(*(char **)field);
        *(char **)field = p;
        break;
    }
    case K_INT: {
        char *end = NULL;
        long long n = g_ascii_strtoll(v, &end, 10);
        if (end == v || *end)
            return fail(x, group, k->name, "'%s' is not an integer (allowed: %lld-%lld)", v, k->lo,
                        k->hi);
        if (n < k->lo || n > k->hi)
            return fail(x, group, k->name, "%lld is out of range (allowed: %lld-%lld)", n, k->lo,
                        k->hi);
        *(int *)field = (int)n;
        break;
    }
    case K_BOOL:
        if (parse_bool(v, (int *)field))
            return fail(x, group, k->name, "'%s' is not a boolean (allowed: true, false)", v);
        break;
    case K_ENUM: {
        int i = enum_index(k->names, v);
        if (i < 0)
            return fail(x, group, k->name, "'%s' is not one of the allowed values (allowed: %s)", v,
                        kf_join(k->names, allowed, sizeof allowed));
        if (k->off == SK(pattern) && k->names == pattern_names) {
            g_free(*(char **)field);
            *(char **)field = g_strdup(v);
        } else {
            *(int *)field = i;
        }
        break;
    }
    case K_ENDPOINT: {
        char why[512];
        if (csd_endpoint_check(v, x->c->allow_remote, why, sizeof why))
            return fail(x, group, k->name, "%s", why);
        g_free(*(char **)field);
        *(char **)field = g_strdup(v);
        break;
    }
    case K_SINK:
        break; /* check_sink fills it */
    }
    return k->check ? k->check(x, group, k, v, obj) : 0;
}

/* Fills obj from group with the table t: given values, else defaults; required keys. */
static int read_group(ctx *x, const char *group, const key *t, void *obj)
{
    for (int i = 0; t[i].name; i++) {
        const key *k = &t[i];
        char *v = NULL;
        cs_error ce;
        int r = kf_string(&x->kf, group, k->name, &v, &ce);
        if (r < 0) {
            /* kf's message is "FILE:LINE: key: reason": keep the reason */
            char *needle = g_strdup_printf(": %s: ", k->name);
            const char *reason = strstr(ce.msg, needle);
            reason = reason ? reason + strlen(needle) : ce.msg;
            g_free(needle);
            return fail(x, group, k->name, "%s", reason);
        }
        if (r == 0) {
            if (k->required)
                return fail(x, group, NULL, "%s: missing (%s: %s)", k->name, ktype_names[k->type],
                            k->doc);
            if (!k->def) continue;
            v = g_strdup(k->def);
        }
        int rc = set_value(x, group, k, v, obj);
        g_free(v);
        if (rc) return -1;
    }
    return 0;
}

/* ---- CURVE keys -------------------------------------------------------------------------- */

/* The key file is loaded now, so that --check and a reload find its problems (the message
 * names the key file's own line). */
static int check_curve_key(ctx *x, const char *group, const key *k, const char *v, void *obj)
{
    (void)v;
    csd_config *c = obj;
    csd_curve_keys keys;
    csd_error e;
    if (csd_curve_keys_load(c->curve_key, 1, &keys, &e)) {
        char *echo = strstr(e.msg, " >>> "); /* the key file's line may hold the secret key */
        if (echo) *echo = '\0';
        return fail(x, group, k->name, "%s", e.msg);
    }
    g_free(c->curve);
    c->curve = g_memdup2(&keys, sizeof keys);
    memset(&keys, 0, sizeof keys);
    return 0;
}

static int check_curve_authorized(ctx *x, const char *group, const key *k, const char *v, void *obj)
{
    (void)v;
    csd_config *c = obj;
    if (!c->curve)
        return fail(x, group, k->name,
                    "needs curve_key (the server's key file): client keys are checked only on "
                    "CURVE sockets");
    csd_error e;
    csd_curve_authorized *a = csd_curve_authorized_load(c->curve_authorized, &e);
    if (!a) return fail(x, group, k->name, "%s", e.msg);
    csd_curve_authorized_free(&c->authorized);
    c->authorized = a;
    return 0;
}

static csd_curve_authorized *authorized_copy(const csd_curve_authorized *a);

csd_curve_authorized *csd_config_curve_authorized_copy(const csd_config *c)
{
    return authorized_copy(c->authorized);
}

static csd_curve_authorized *authorized_copy(const csd_curve_authorized *a)
{
    if (!a) return NULL;
    csd_curve_authorized *b = g_new0(csd_curve_authorized, 1);
    b->n = a->n;
    b->keys = g_memdup2(a->keys, sizeof *a->keys * (size_t)a->n);
    return b;
}

int csd_config_curve_key_same(const csd_config *a, const csd_config *b)
{
    if (!a->curve || !b->curve) return !a->curve && !b->curve;
    return strcmp(a->curve->public_key, b->curve->public_key) == 0 &&
           strcmp(a->curve->secret_key, b->curve->secret_key) == 0;
}

int csd_config_curve_authorized_same(const csd_config *a, const csd_config *b)
{
    const csd_curve_authorized *x = a->authorized, *y = b->authorized;
    if (!x || !y) return !x && !y;
    return x->n == y->n && memcmp(x->keys, y->keys, sizeof *x->keys * (size_t)x->n) == 0;
}

/* ---- sources ----------------------------------------------------------------------------- */

static const char *const scheme_help =
    "allowed: file:///PATH, file:REL/PATH, rtsp://, rtsps://, v4l2:///dev/videoN, http://, "
    "https://, testsrc://[PATTERN]";

static int check_host_uri(ctx *x, const char *group, const key *k, const char *v, size_t skip)
{
    const char *h = v + skip;
    size_t n = strcspn(h, "/?#");
    if (n == 0) return fail(x, group, k->name, "'%s' has no host (%s)", v, scheme_help);
    if (strpbrk(v, " \t\"'"))
        return fail(x, group, k->name, "'%s' contains blanks or quotes (percent-encode them)", v);
    return 0;
}

static int check_source(ctx *x, const char *group, const key *k, const char *v, void *obj)
{
    csd_stream *s = obj;
    g_free(s->location);
    s->location = NULL;
    if (g_str_has_prefix(v, "file:")) {
        s->kind = CSD_SRC_FILE;
        const char *p = v + 5;
        if (g_str_has_prefix(p, "//")) {
            p += 2;
            if (*p != '/')
                return fail(x, group, k->name,
                            "'%s': file:// needs an absolute path (file:///abs/path, or "
                            "file:rel/path relative to this file)",
                            v);
        }
        if (!*p) return fail(x, group, k->name, "'%s' names no file", v);
        char *path = resolve(x, p);
        if (!g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
            fail(x, group, k->name, "%s: no such file", path);
            g_free(path);
            return -1;
        }
        s->location = path;
        return 0;
    }
    if (g_str_has_prefix(v, "rtsp://") || g_str_has_prefix(v, "rtsps://")) {
        s->kind = CSD_SRC_RTSP;
        if (check_host_uri(x, group, k, v, strchr(v, ':') - v + 3)) return -1;
        s->location = g_strdup(v);
        return 0;
    }
    if (g_str_has_prefix(v, "http://") || g_str_has_prefix(v, "https://")) {
        s->kind = CSD_SRC_HTTP;
        if (check_host_uri(x, group, k, v, strchr(v, ':') - v + 3)) return -1;
        s->location = g_strdup(v);
        return 0;
    }
    if (g_str_has_prefix(v, "v4l2://")) {
        s->kind = CSD_SRC_V4L2;
        const char *dev = v + 7;
        if (!g_regex_match_simple("^/dev/video[0-9]{1,3}$", dev, 0, 0))
            return fail(x, group, k->name,
                        "'%s' is not a V4L2 device (allowed: v4l2:///dev/videoN)", v);
        s->location = g_strdup(dev);
        return 0;
    }
    if (g_str_has_prefix(v, "testsrc://")) {
        s->kind = CSD_SRC_TEST;
        const char *pat = v + 10;
        char allowed[CSD_ERROR_LEN / 4];
        if (*pat && enum_index(pattern_names, pat) < 0)
            return fail(x, group, k->name, "'%s' is not a test pattern (allowed: %s)", pat,
                        kf_join(pattern_names, allowed, sizeof allowed));
        if (!s->pattern) s->pattern = g_strdup(*pat ? pat : "smpte");
        s->location = g_strdup(v);
        return 0;
    }
    return fail(x, group, k->name, "'%s': unknown scheme (%s)", v, scheme_help);
}

/* pattern is read after source: only for testsrc://, and it overrides the URI's. */
static int check_pattern(ctx *x, const char *group, const key *k, const char *v, void *obj)
{
    const csd_stream *s = obj;
    if (s->kind != CSD_SRC_TEST)
        return fail(x, group, k->name, "only for testsrc:// sources (source is '%s')", s->source);
    return 0;
}

/* loop is read after source: only file sources end on their own. */
static int check_loop(ctx *x, const char *group, const key *k, const char *v, void *obj)
{
    const csd_stream *s = obj;
    if (s->loop && s->kind != CSD_SRC_FILE)
        return fail(x, group, k->name, "only for file: sources (source is '%s')", s->source);
    return 0;
}

static int check_realtime(ctx *x, const char *group, const key *k, const char *v, void *obj)
{
    const csd_stream *s = obj;
    if (s->realtime && s->kind != CSD_SRC_FILE)
        return fail(x, group, k->name,
                    "only for file: sources (source is '%s'; live sources "
                    "are real time already)",
                    s->source);
    return 0;
}

/* ---- sinks ------------------------------------------------------------------------------- */

static int check_sink(ctx *x, const char *group, const key *k, const char *v, void *obj)
{
    csd_stream *s = obj;
    g_free(s->sink_arg);
    s->sink_arg = NULL;
    if (strcmp(v, "none") == 0) {
        s->sink = CSD_SINK_NONE;
        return 0;
    }
    if (strcmp(v, "display") == 0) {
        s->sink = CSD_SINK_DISPLAY;
        return 0;
    }
    if (g_str_has_prefix(v, "record=")) {
        s->sink = CSD_SINK_RECORD;
        const char *p = v + 7;
        if (!*p) return fail(x, group, k->name, "record= needs a file name (record=out.mkv)");
        if (!g_str_has_suffix(p, ".mkv") && !g_str_has_suffix(p, ".webm") &&
            !g_str_has_suffix(p, ".mp4"))
            return fail(x, group, k->name, "'%s': the recording must end in .mkv, .webm or .mp4",
                        p);
        char *path = resolve(x, p);
        /* missing directories are created when the stream starts: the nearest existing one
         * must be a directory */
        char *dir = g_path_get_dirname(path);
        while (!g_file_test(dir, G_FILE_TEST_EXISTS)) {
            char *up = g_path_get_dirname(dir);
            g_free(dir);
            dir = up;
        }
        int ok = g_file_test(dir, G_FILE_TEST_IS_DIR);
        if (!ok) fail(x, group, k->name, "%s: %s is not a directory", p, dir);
        g_free(dir);
        if (!ok) {
            g_free(path);
            return -1;
        }
        s->sink_arg = path;
        return 0;
    }
    if (g_str_has_prefix(v, "preview=")) {
        s->sink = CSD_SINK_PREVIEW;
        const char *ep = v + 8;
        char why[512];
        if (!g_str_has_prefix(ep, "tcp://"))
            return fail(x, group, k->name, "'%s': a preview is served over tcp://HOST:PORT", ep);
        if (csd_endpoint_check(ep, x->c->allow_remote, why, sizeof why))
            return fail(x, group, k->name, "%s", why);
        s->sink_arg = g_strdup(ep);
        return 0;
    }
    return fail(x, group, k->name,
                "'%s' is not a sink (allowed: none, display, record=PATH, preview=ENDPOINT)", v);
}

/* ---- chains ------------------------------------------------------------------------------ */

typedef enum { P_STRING, P_INT, P_UINT, P_DOUBLE, P_BOOL, P_ENUM, P_FLAGS, P_DAEMON } ptype;

typedef struct prop_spec {
    const char *name;
    ptype type;
    double lo, hi;
    const char *const *names;
} prop_spec;

typedef struct element_spec {
    const char *name;
    int takes_model;
    const prop_spec *props;
} element_spec;

static const char *const explain_names[] = {
    "none",     "cam",      "gradcam",    "gradcam++", "smooth-gradcam++",  "scorecam", "layercam",
    "xgradcam", "saliency", "smoothgrad", "rise",      "augmented-gradcam", "pv",       NULL};
static const char *const explain_mode_names[] = {"auto", "sync", "async", NULL};
static const char *const preset_names[] = {"auto", "imagenet", "caffe", "tf", "none", NULL};
static const char *const scale_names[] = {"auto", "01", "11", "255", NULL};
static const char *const order_names[] = {"auto", "rgb", "bgr", NULL};
static const char *const resize_names[] = {"auto", "stretch", "letterbox", "crop", NULL};
static const char *const loc_mode_names[] = {"auto", "regression", "heatmap", "keypoints", NULL};
static const char *const box_format_names[] = {"cxcywh", "xyxy", NULL};
static const char *const box_coords_names[] = {"normalized", "pixels", NULL};
static const char *const kp_coords_names[] = {"box", "image", NULL};
static const char *const activation_names[] = {"softmax", "sigmoid", "none", NULL};
static const char *const components_names[] = {"largest", "all", NULL};
static const char *const colormap_names[] = {"jet", "turbo", "inferno", "viridis", NULL};

#define U32 4294967295.0
#define I32 2147483647.0

/* The camstream elements' writable properties (gst-inspect-1.0; docs/ELEMENTS.md). P_DAEMON:
 * set by the daemon from the stream's keys, not in a chain. */
static const prop_spec csnormalize_props[] = {
    {"preset", P_ENUM, 0, 0, preset_names},
    {"mean", P_STRING, 0, 0, NULL},
    {"std", P_STRING, 0, 0, NULL},
    {"scale", P_ENUM, 0, 0, scale_names},
    {"order", P_ENUM, 0, 0, order_names},
    {"resize-mode", P_ENUM, 0, 0, resize_names},
    {"width", P_INT, 0, I32, NULL},
    {"height", P_INT, 0, I32, NULL},
    {"statistics", P_STRING, 0, 0, NULL},
    {"model", P_DAEMON, 0, 0, NULL},
    {NULL, 0, 0, 0, NULL},
};
static const prop_spec csinfer_props[] = {
    {"threads", P_INT, 0, I32, NULL},
    {"batch", P_UINT, 1, 64, NULL},
    {"explain", P_ENUM, 0, 0, explain_names},
    {"explain-mode", P_ENUM, 0, 0, explain_mode_names},
    {"target-class", P_INT, -1, I32, NULL},
    {"target-layer", P_STRING, 0, 0, NULL},
    {"explain-interval", P_UINT, 1, U32, NULL},
    {"top-k", P_UINT, 1, 1000, NULL},
    {"labels", P_STRING, 0, 0, NULL},
    {"decoder", P_STRING, 0, 0, NULL},
    {"model", P_DAEMON, 0, 0, NULL},
    {NULL, 0, 0, 0, NULL},
};
static const prop_spec cslocalize_props[] = {
    {"mode", P_FLAGS, 0, 0, loc_mode_names},
    {"boxes-output", P_STRING, 0, 0, NULL},
    {"classes-output", P_STRING, 0, 0, NULL},
    {"keypoints-output", P_STRING, 0, 0, NULL},
    {"keypoint-heatmaps-output", P_STRING, 0, 0, NULL},
    {"box-format", P_ENUM, 0, 0, box_format_names},
    {"box-coords", P_ENUM, 0, 0, box_coords_names},
    {"classes-activation", P_ENUM, 0, 0, activation_names},
    {"keypoint-coords", P_ENUM, 0, 0, kp_coords_names},
    {"skeleton", P_STRING, 0, 0, NULL},
    {"threshold", P_DOUBLE, 0, 1, NULL},
    {"components", P_ENUM, 0, 0, components_names},
    {"min-area", P_UINT, 1, I32, NULL},
    {"max-boxes", P_UINT, 1, U32, NULL},
    {"model", P_DAEMON, 0, 0, NULL},
    {NULL, 0, 0, 0, NULL},
};
static const prop_spec csoverlay_props[] = {
    {"heatmap", P_BOOL, 0, 0, NULL},          {"boxes", P_BOOL, 0, 0, NULL},
    {"labels", P_BOOL, 0, 0, NULL},           {"keypoints", P_BOOL, 0, 0, NULL},
    {"skeleton", P_BOOL, 0, 0, NULL},         {"colormap", P_ENUM, 0, 0, colormap_names},
    {"alpha", P_DOUBLE, 0, 1, NULL},          {"threshold", P_DOUBLE, 0, 1, NULL},
    {"box-color", P_UINT, 0, U32, NULL},      {"text-color", P_UINT, 0, U32, NULL},
    {"keypoint-color", P_UINT, 0, U32, NULL}, {"skeleton-color", P_UINT, 0, U32, NULL},
    {"line-width", P_UINT, 1, 64, NULL},      {"keypoint-radius", P_DOUBLE, 0.5, 1000, NULL},
    {"font", P_STRING, 0, 0, NULL},           {NULL, 0, 0, 0, NULL},
};

static const element_spec cs_elements[] = {
    {"csnormalize", 1, csnormalize_props},
    {"csinfer", 1, csinfer_props},
    {"cslocalize", 1, cslocalize_props},
    {"csoverlay", 0, csoverlay_props},
    {NULL, 0, NULL},
};

/* GStreamer elements allowed in a chain (properties checked for syntax only). */
static const char *const gst_elements[] = {"videoconvert", "videoscale", "videorate",
                                           "videoflip",    "videocrop",  "videobalance",
                                           "queue",        "identity",   NULL};

static const element_spec *find_element(const char *name)
{
    for (int i = 0; cs_elements[i].name; i++)
        if (strcmp(cs_elements[i].name, name) == 0) return &cs_elements[i];
    return NULL;
}

static const char *prop_names(const prop_spec *p, char *buf, size_t cap)
{
    size_t at = 0;
    buf[0] = '\0';
    for (int i = 0; p[i].name && at < cap; i++)
        if (p[i].type != P_DAEMON)
            at += (size_t)snprintf(buf + at, cap - at, "%s%s", at ? ", " : "", p[i].name);
    return buf;
}

static int check_prop(ctx *x, const char *group, const key *k, int idx, const char *elem,
                      const prop_spec *ps, const char *value)
{
    char allowed[CSD_ERROR_LEN / 4];
    const char *kn = k->name;
    switch (ps->type) {
    case P_DAEMON:
        return fail(x, group, kn, "element %d (%s): %s is set from the stream's model key", idx,
                    elem, ps->name);
    case P_STRING:
        return 0;
    case P_BOOL: {
        int b;
        if (parse_bool(value, &b))
            return fail(x, group, kn,
                        "element %d (%s): %s: '%s' is not a boolean (allowed: true, "
                        "false)",
                        idx, elem, ps->name, value);
        return 0;
    }
    case P_ENUM:
        if (enum_index(ps->names, value) < 0)
            return fail(x, group, kn, "element %d (%s): %s: '%s' is not allowed (allowed: %s)", idx,
                        elem, ps->name, value, kf_join(ps->names, allowed, sizeof allowed));
        return 0;
    case P_FLAGS: {
        char **parts = g_strsplit(value, "+", -1);
        int bad = -1;
        for (int i = 0; parts[i]; i++)
            if (enum_index(ps->names, parts[i]) < 0) bad = i;
        int rc = 0;
        if (bad >= 0 || !parts[0])
            rc = fail(x, group, kn,
                      "element %d (%s): %s: '%s' is not allowed (allowed: %s, joined with +)", idx,
                      elem, ps->name, value, kf_join(ps->names, allowed, sizeof allowed));
        g_strfreev(parts);
        return rc;
    }
    case P_INT:
    case P_UINT:
    case P_DOUBLE: {
        char *end = NULL;
        double d;
        if (ps->type == P_DOUBLE) {
            d = g_ascii_strtod(value, &end);
        } else {
            long long n = g_ascii_strtoll(value, &end, 0);
            d = (double)n;
        }
        if (end == value || *end || !isfinite(d))
            return fail(x, group, kn, "element %d (%s): %s: '%s' is not %s (allowed: %g-%g)", idx,
                        elem, ps->name, value, ps->type == P_DOUBLE ? "a number" : "an integer",
                        ps->lo, ps->hi);
        if (d < ps->lo || d > ps->hi)
            return fail(x, group, kn, "element %d (%s): %s: %s is out of range (allowed: %g-%g)",
                        idx, elem, ps->name, value, ps->lo, ps->hi);
        return 0;
    }
    }
    return 0;
}

static void free_chain(csd_stream *s)
{
    for (int i = 0; i < s->n_chain; i++) {
        csd_element *e = &s->chain[i];
        g_free(e->name);
        for (int j = 0; j < e->n_props; j++) {
            g_free(e->props[j].name);
            g_free(e->props[j].value);
        }
        g_free(e->props);
    }
    g_free(s->chain);
    s->chain = NULL;
    s->n_chain = 0;
}

static int check_chain(ctx *x, const char *group, const key *k, const char *v, void *obj)
{
    csd_stream *s = obj;
    free_chain(s);
    if (strpbrk(v, "\"'"))
        return fail(x, group, k->name,
                    "quotes are not supported in a chain (values have no blanks)");
    char **segs = g_strsplit(v, "!", -1);
    int n = (int)g_strv_length(segs);
    s->chain = g_new0(csd_element, (size_t)n);
    int rc = 0;
    char allowed[CSD_ERROR_LEN / 4];
    for (int i = 0; i < n && !rc; i++) {
        char *seg = g_strstrip(segs[i]);
        int idx = i + 1;
        if (!*seg) {
            if (n == 1) break; /* "chain =" is rejected as empty by kf_string */
            rc = fail(x, group, k->name, "element %d is empty ('!' twice, or at an end)", idx);
            break;
        }
        csd_element *e = &s->chain[s->n_chain++];
        if (g_str_has_prefix(seg, "video/x-raw")) {
            if (!g_regex_match_simple(
                    "^video/x-raw(\\([A-Za-z:]+\\))?(,[a-z-]+=[A-Za-z0-9_/.:-]+)*$", seg, 0, 0))
                rc = fail(x, group, k->name,
                          "element %d: '%s' is not a caps filter (video/x-raw,field=value,...)",
                          idx, seg);
            e->name = g_strdup(seg);
            e->caps = 1;
            continue;
        }
        char **tok = g_regex_split_simple("[ \t]+", seg, 0, 0);
        e->name = g_strdup(tok[0]);
        const element_spec *es = find_element(tok[0]);
        e->camstream = es != NULL;
        if (!es && enum_index(gst_elements, tok[0]) < 0) {
            if (strcmp(tok[0], "cspublish") == 0)
                rc = fail(x, group, k->name,
                          "element %d: cspublish is added by the daemon (set publish = ENDPOINT)",
                          idx);
            else {
                char cs_names[128];
                const char *csn[8];
                int m = 0;
                for (int j = 0; cs_elements[j].name; j++) csn[m++] = cs_elements[j].name;
                csn[m] = NULL;
                rc = fail(x, group, k->name, "element %d: unknown element '%s' (allowed: %s, %s)",
                          idx, tok[0], kf_join(csn, cs_names, sizeof cs_names),
                          kf_join(gst_elements, allowed, sizeof allowed));
            }
        }
        int nt = (int)g_strv_length(tok);
        e->props = g_new0(csd_prop, (size_t)(nt > 1 ? nt - 1 : 1));
        for (int t = 1; t < nt && !rc; t++) {
            const char *eq = strchr(tok[t], '=');
            if (!eq || eq == tok[t] || !eq[1]) {
                rc = fail(x, group, k->name, "element %d (%s): '%s' is not property=value", idx,
                          tok[0], tok[t]);
                break;
            }
            char *pn = g_strndup(tok[t], (size_t)(eq - tok[t]));
            e->props[e->n_props++] = (csd_prop){pn, g_strdup(eq + 1)};
            for (int q = 0; q < e->n_props - 1; q++)
                if (strcmp(e->props[q].name, pn) == 0)
                    rc = fail(x, group, k->name, "element %d (%s): %s is given twice", idx, tok[0],
                              pn);
            if (rc) break;
            if (!g_regex_match_simple("^[a-z][a-z0-9-]*$", pn, 0, 0)) {
                rc = fail(x, group, k->name, "element %d (%s): '%s' is not a property name", idx,
                          tok[0], pn);
                break;
            }
            if (!es) continue;
            const prop_spec *ps = NULL;
            for (int j = 0; es->props[j].name; j++)
                if (strcmp(es->props[j].name, pn) == 0) ps = &es->props[j];
            if (!ps)
                rc = fail(x, group, k->name, "element %d (%s): unknown property '%s' (allowed: %s)",
                          idx, tok[0], pn, prop_names(es->props, allowed, sizeof allowed));
            else
                rc = check_prop(x, group, k, idx, tok[0], ps, eq + 1);
        }
        g_strfreev(tok);
    }
    g_strfreev(segs);
    return rc;
}

/* ---- groups ------------------------------------------------------------------------------ */

typedef struct ghead {
    gkind kind;
    char *name; /* the part after "model " / "stream " */
    char *full; /* as in the file */
    int line;
} ghead;

static int valid_name(const char *s)
{
    return g_regex_match_simple("^[A-Za-z0-9_-]{1,64}$", s, 0, 0);
}

/* The line scan: group headers classified, keys checked against their group's table, names
 * and duplicates; kf's own scan (kf_open) then sees only what we accept. */
static int prescan(ctx *x, GArray *heads)
{
    const char *p = x->text, *end = x->text + x->len;
    int line = 0;
    const ghead *cur = NULL;
    GHashTable *keys = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    char allowed[CSD_ERROR_LEN / 4];
    int rc = 0;
    while (p < end && !rc) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        line++;
        const char *s = p;
        while (s < le && (*s == ' ' || *s == '\t')) s++;
        const char *e = le;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) e--;
        p = nl ? nl + 1 : end;
        if (s == e || *s == '#') continue;
        if (memchr(s, '\0', (size_t)(e - s))) {
            rc = fail_at(x, line, NULL, NULL, CS_ERR_PARSE, "a NUL byte: not a text file");
            break;
        }
        if (*s == '[') {
            if (e[-1] != ']' || e - s < 3) {
                rc = fail_at(x, line, NULL, NULL, CS_ERR_PARSE, "not a [group] header");
                break;
            }
            char *full = g_strndup(s + 1, (size_t)(e - s - 2));
            ghead h = {G_KINDS, NULL, full, line};
            char *sp = strchr(full, ' ');
            char *kindw = sp ? g_strndup(full, (size_t)(sp - full)) : g_strdup(full);
            for (int k = 0; k < G_KINDS; k++)
                if (strcmp(kindw, gkind_names[k]) == 0) h.kind = (gkind)k;
            g_free(kindw);
            if (h.kind == G_KINDS) {
                rc = fail_at(x, line, full, NULL, CS_ERR_PARSE,
                             "unknown group (allowed: [daemon], [model NAME], [stream NAME])");
            } else if (x->base && h.kind != G_STREAM) {
                rc = fail_at(x, line, full, NULL, CS_ERR_PARSE,
                             "only [stream NAME] groups can be added to a running daemon");
            } else if (h.kind == G_DAEMON && sp) {
                rc = fail_at(x, line, full, NULL, CS_ERR_PARSE, "[daemon] takes no name");
            } else if (h.kind != G_DAEMON && (!sp || !valid_name(sp + 1))) {
                rc = fail_at(x, line, full, NULL, CS_ERR_PARSE,
                             "'%s' is not a %s name (allowed: one blank, then 1-64 of "
                             "[A-Za-z0-9_-])",
                             sp ? sp + 1 : "", gkind_names[h.kind]);
            }
            if (!rc) {
                h.name = g_strdup(sp ? sp + 1 : full);
                for (guint i = 0; i < heads->len; i++) {
                    const ghead *o = &g_array_index(heads, ghead, i);
                    if (strcmp(o->full, full) == 0) {
                        rc = fail_at(x, line, full, NULL, CS_ERR_PARSE,
                                     "duplicate %s (first on line %d)", gkind_names[h.kind],
                                     o->line);
                        break;
                    }
                }
            }
            if (rc) {
                g_free(h.name);
                g_free(full);
                break;
            }
            g_array_append_val(heads, h);
            cur = &g_array_index(heads, ghead, heads->len - 1);
            g_hash_table_remove_all(keys);
            continue;
        }
        const char *eq = memchr(s, '=', (size_t)(e - s));
        if (!eq) {
            rc = fail_at(x, line, cur ? cur->full : NULL, NULL, CS_ERR_PARSE,
                         "not key = value, a [group] or a # comment");
            break;
        }
        const char *ke = eq;
        while (ke > s && (ke[-1] == ' ' || ke[-1] == '\t')) ke--;
        if (ke == s) {
            rc = fail_at(x, line, cur ? cur->full : NULL, NULL, CS_ERR_PARSE,
                         "a value without a key");
            break;
        }
        if (!cur) {
            rc = fail_at(x, line, NULL, NULL, CS_ERR_PARSE, "a key before the first [group]");
            break;
        }
        char *kname = g_strndup(s, (size_t)(ke - s));
        const key *t = gkind_keys[cur->kind];
        if (!find_key(t, kname)) {
            rc = fail_at(x, line, cur->full, kname, CS_ERR_PARSE, "unknown key (allowed: %s)",
                         key_names(t, allowed, sizeof allowed));
            g_free(kname);
        } else if (g_hash_table_contains(keys, kname)) {
            rc = fail_at(x, line, cur->full, kname, CS_ERR_PARSE, "given twice (first on line %d)",
                         GPOINTER_TO_INT(g_hash_table_lookup(keys, kname)));
            g_free(kname);
        } else {
            g_hash_table_insert(keys, kname, GINT_TO_POINTER(line));
        }
    }
    g_hash_table_destroy(keys);
    return rc;
}

/* Endpoints that would be bound twice: same tcp port or same ipc path, different roles. */
typedef struct ep_use {
    const char *ep, *group, *key;
} ep_use;

static char *ep_id(const char *ep)
{
    if (g_str_has_prefix(ep, "tcp://")) return g_strdup(strrchr(ep, ':') + 1);
    return g_strdup(ep);
}

static int check_endpoint_clashes(ctx *x)
{
    csd_config *c = x->c;
    int n = 2 + 2 * c->n_streams, m = 0;
    ep_use *u = g_new0(ep_use, (size_t)n);
    u[m++] = (ep_use){c->publish, "daemon", "publish"};
    u[m++] = (ep_use){c->control, "daemon", "control"};
    char **groups = g_new0(char *, (size_t)c->n_streams + 1);
    for (int i = 0; i < c->n_streams; i++) {
        const csd_stream *s = &c->streams[i];
        groups[i] = g_strdup_printf("stream %s", s->name);
        if (kf_has(&x->kf, groups[i], "publish"))
            u[m++] = (ep_use){s->publish, groups[i], "publish"};
        if (s->sink == CSD_SINK_PREVIEW) u[m++] = (ep_use){s->sink_arg, groups[i], "sink"};
    }
    int rc = 0;
    for (int i = 1; i < m && !rc; i++) {
        char *a = ep_id(u[i].ep);
        for (int j = 0; j < i && !rc; j++) {
            /* streams share the daemon's publish endpoint, or each other's */
            int both_publish = strcmp(u[i].key, "publish") == 0 &&
                               strcmp(u[j].key, "publish") == 0 && strcmp(u[i].ep, u[j].ep) == 0;
            char *b = ep_id(u[j].ep);
            if (!both_publish && strcmp(a, b) == 0)
                rc = fail(x, u[i].group, u[i].key, "'%s' is already used by [%s] %s (line %d)",
                          u[i].ep, u[j].group, u[j].key,
                          kf_line(&x->kf, u[j].group, u[j].key)
                              ? kf_line(&x->kf, u[j].group, u[j].key)
                              : kf_line(&x->kf, u[j].group, NULL));
            g_free(b);
        }
        g_free(a);
    }
    g_strfreev(groups);
    g_free(u);
    return rc;
}

static int load_model(ctx *x, const char *group, csd_model *m)
{
    cs_error ce;
    m->desc = cs_model_desc_open(m->description, &ce);
    if (!m->desc) return fail(x, group, "description", "%s", ce.msg);
    if (!g_file_test(m->desc->model_file, G_FILE_TEST_IS_REGULAR))
        return fail(x, group, "description", "%s: no such model file", m->desc->model_file);
    if (m->layer) {
        g_free(m->desc->explain_layer);
        m->desc->explain_layer = g_strdup(m->layer);
    }
    if (!(x->flags & CSD_LOAD_MODELS)) return 0;
    cs_model *model = cs_model_load_file(m->desc->model_file, &ce);
    if (!model) return fail(x, group, "description", "%s", ce.msg);
    int rc = 0;
    if (cs_model_desc_check(m->desc, model, &ce) != CS_OK)
        rc = fail(x, group, m->layer && strstr(ce.msg, m->layer) ? "layer" : "description", "%s",
                  ce.msg);
    cs_model_destroy(&model);
    m->checked = rc == 0;
    return rc;
}

static int finish_stream(ctx *x, const char *group, csd_stream *s)
{
    if (!s->publish) s->publish = g_strdup(x->c->publish);
    if (s->model_name) {
        s->model = csd_config_model(x->c, s->model_name);
        if (!s->model) {
            GString *names = g_string_new(NULL);
            for (int i = 0; i < x->c->n_models; i++)
                g_string_append_printf(names, "%s%s", i ? ", " : "", x->c->models[i].name);
            fail(x, group, "model", "no [model %s] in this file (allowed: %s)", s->model_name,
                 names->len ? names->str : "none defined");
            g_string_free(names, TRUE);
            return -1;
        }
    }
    for (int i = 0; i < s->n_chain; i++)
        if (!s->model && strcmp(s->chain[i].name, "csinfer") == 0)
            return fail(x, group, kf_has(&x->kf, group, "chain") ? "chain" : NULL,
                        "csinfer needs a model (set model = NAME)");
    return 0;
}

static void free_model(csd_model *m)
{
    g_free(m->name);
    g_free(m->description);
    g_free(m->layer);
    g_free(m->labels);
    cs_model_desc_destroy(&m->desc);
}

static void free_stream(csd_stream *s)
{
    g_free(s->name);
    g_free(s->source);
    g_free(s->location);
    g_free(s->pattern);
    g_free(s->model_name);
    g_free(s->chain_text);
    free_chain(s);
    g_free(s->sink_arg);
    g_free(s->publish);
}

void csd_config_destroy(csd_config **cp)
{
    if (!cp || !*cp) return;
    csd_config *c = *cp;
    for (int i = 0; i < c->n_models; i++) free_model(&c->models[i]);
    for (int i = 0; i < c->n_streams; i++) free_stream(&c->streams[i]);
    g_free(c->models);
    g_free(c->streams);
    g_free(c->publish);
    g_free(c->control);
    g_free(c->curve_key);
    g_free(c->curve_authorized);
    if (c->curve) memset(c->curve, 0, sizeof *c->curve); /* the secret key */
    g_free(c->curve);
    csd_curve_authorized_free(&c->authorized);
    g_free(c->path);
    g_free(c);
    *cp = NULL;
}

/* A copy of base's model m (its description re-read; it was checked when base was loaded). */
static int copy_model(ctx *x, const csd_model *m, csd_model *out)
{
    out->name = g_strdup(m->name);
    out->description = g_strdup(m->description);
    out->layer = g_strdup(m->layer);
    out->labels = g_strdup(m->labels);
    out->line = m->line;
    out->checked = m->checked;
    cs_error ce;
    out->desc = cs_model_desc_open(out->description, &ce);
    if (!out->desc)
        return fail_at(x, 0, NULL, NULL, CS_ERR_PARSE, "[model %s] description: %s", m->name,
                       ce.msg);
    if (out->layer) {
        g_free(out->desc->explain_layer);
        out->desc->explain_layer = g_strdup(out->layer);
    }
    return 0;
}

static void copy_daemon(csd_config *c, const csd_config *b)
{
    c->publish = g_strdup(b->publish);
    c->control = g_strdup(b->control);
    c->log_level = b->log_level;
    c->threads = b->threads;
    c->allow_remote = b->allow_remote;
    c->status_interval_ms = b->status_interval_ms;
    c->restart_delay_ms = b->restart_delay_ms;
    c->restart_max_delay_ms = b->restart_max_delay_ms;
    c->shutdown_timeout_ms = b->shutdown_timeout_ms;
    c->curve_key = g_strdup(b->curve_key);
    c->curve_authorized = g_strdup(b->curve_authorized);
    c->curve = b->curve ? g_memdup2(b->curve, sizeof *b->curve) : NULL;
    c->authorized = authorized_copy(b->authorized);
}

static csd_config *load(const char *text, size_t len, const char *path, const char *what,
                        unsigned flags, const csd_config *base, csd_error *err)
{
    csd_error dummy;
    if (!err) err = &dummy;
    memset(err, 0, sizeof *err);
    ctx x = {.what = what, .text = text, .len = len, .err = err, .flags = flags, .base = base};
    if (path) x.dir = g_path_get_dirname(path);
    csd_config *c = g_new0(csd_config, 1);
    c->path = g_strdup(path);
    x.c = c;
    GArray *heads = g_array_new(FALSE, TRUE, sizeof(ghead));
    kf_group *kg = NULL;
    const char **keynames[G_KINDS] = {NULL};
    int rc = prescan(&x, heads);
    if (!rc) {
        /* kf's tables from ours: every group found, with its kind's keys */
        for (int k = 0; k < G_KINDS; k++) {
            int n = 0;
            while (gkind_keys[k][n].name) n++;
            keynames[k] = g_new0(const char *, (size_t)n + 1);
            for (int i = 0; i < n; i++) keynames[k][i] = gkind_keys[k][i].name;
        }
        kg = g_new0(kf_group, heads->len + 1);
        for (guint i = 0; i < heads->len; i++) {
            const ghead *h = &g_array_index(heads, ghead, i);
            kg[i] = (kf_group){h->full, keynames[h->kind]};
        }
        cs_error ce;
        if (kf_open(&x.kf, text, len, path, kg, NULL, &ce)) {
            err->status = ce.status;
            snprintf(err->msg, sizeof err->msg, "%s", ce.msg);
            rc = -1;
        }
    }
    int n_streams = 0, n_models = 0;
    for (guint i = 0; i < heads->len; i++) {
        gkind k = g_array_index(heads, ghead, i).kind;
        n_streams += k == G_STREAM;
        n_models += k == G_MODEL;
    }
    if (!rc && n_streams == 0)
        rc = fail_at(&x, 0, NULL, NULL, CS_ERR_PARSE,
                     "no [stream NAME] group (a configuration runs at least one stream)");
    /* [daemon] first (allow_remote decides the endpoints), then models, then streams */
    if (!rc && base) {
        copy_daemon(c, base);
        n_models = base->n_models;
    } else if (!rc) {
        /* without a [daemon] group every key takes its default */
        const key *ar = find_key(daemon_keys, "allow_remote");
        rc = set_value(&x, "daemon", ar, ar->def, c);
        char *v = NULL;
        cs_error ce;
        if (!rc && kf_string(&x.kf, "daemon", "allow_remote", &v, &ce) > 0)
            rc = set_value(&x, "daemon", ar, v, c);
        g_free(v);
        if (!rc) rc = read_group(&x, "daemon", daemon_keys, c);
        if (!rc && c->restart_max_delay_ms < c->restart_delay_ms)
            rc = fail(&x, "daemon",
                      kf_has(&x.kf, "daemon", "restart_max_delay") ? "restart_max_delay"
                                                                   : "restart_delay",
                      "restart_max_delay (%d) is less than restart_delay (%d)",
                      c->restart_max_delay_ms, c->restart_delay_ms);
    }
    c->models = g_new0(csd_model, (size_t)n_models + 1);
    c->streams = g_new0(csd_stream, (size_t)n_streams + 1);
    for (int i = 0; base && !rc && i < base->n_models; i++)
        rc = copy_model(&x, &base->models[i], &c->models[c->n_models++]);
    for (guint i = 0; i < heads->len && !rc; i++) {
        const ghead *h = &g_array_index(heads, ghead, i);
        if (h->kind != G_MODEL) continue;
        csd_model *m = &c->models[c->n_models++];
        m->name = g_strdup(h->name);
        m->line = h->line;
        rc = read_group(&x, h->full, model_keys, m);
        if (!rc) rc = load_model(&x, h->full, m);
    }
    for (guint i = 0; i < heads->len && !rc; i++) {
        const ghead *h = &g_array_index(heads, ghead, i);
        if (h->kind != G_STREAM) continue;
        csd_stream *s = &c->streams[c->n_streams++];
        s->name = g_strdup(h->name);
        s->line = h->line;
        rc = read_group(&x, h->full, stream_keys, s);
        if (!rc) rc = finish_stream(&x, h->full, s);
    }
    if (!rc) rc = check_endpoint_clashes(&x);

    for (guint i = 0; i < heads->len; i++) {
        ghead *h = &g_array_index(heads, ghead, i);
        g_free(h->name);
        g_free(h->full);
    }
    g_array_free(heads, TRUE);
    g_free(kg);
    for (int k = 0; k < G_KINDS; k++) g_free(keynames[k]);
    kf_close(&x.kf);
    g_free(x.dir);
    if (rc) csd_config_destroy(&c);
    return c;
}

csd_config *csd_config_load_data(const char *text, size_t len, const char *path, unsigned flags,
                                 csd_error *err)
{
    return load(text, len, path, path ? path : "memory", flags, NULL, err);
}

csd_config *csd_config_load_streams(const csd_config *base, const char *text, size_t len,
                                    const char *what, csd_error *err)
{
    return load(text, len, NULL, what ? what : "request", 0, base, err);
}

csd_config *csd_config_load(const char *path, unsigned flags, csd_error *err)
{
    csd_error dummy;
    if (!err) err = &dummy;
    memset(err, 0, sizeof *err);
    size_t len = 0;
    cs_error ce;
    char *text = kf_read_file(path, &len, &ce);
    if (!text) {
        err->status = ce.status;
        snprintf(err->msg, sizeof err->msg, "%s", ce.msg);
        return NULL;
    }
    csd_config *c = csd_config_load_data(text, len, path, flags, err);
    g_free(text);
    return c;
}

const csd_model *csd_config_model(const csd_config *c, const char *name)
{
    for (int i = 0; i < c->n_models; i++)
        if (strcmp(c->models[i].name, name) == 0) return &c->models[i];
    return NULL;
}

const csd_stream *csd_config_stream(const csd_config *c, const char *name)
{
    for (int i = 0; i < c->n_streams; i++)
        if (strcmp(c->streams[i].name, name) == 0) return &c->streams[i];
    return NULL;
}

/* ---- launch descriptions ----------------------------------------------------------------- */

/* A gst-launch value: bare when safe, else double-quoted with \" and \\ escaped. */
static void append_value(GString *g, const char *v)
{
    if (*v && !strpbrk(v, " \t\"\\!'=,;()[]{}<>|&#")) {
        g_string_append(g, v);
        return;
    }
    g_string_append_c(g, '"');
    for (const char *p = v; *p; p++) {
        if (*p == '"' || *p == '\\') g_string_append_c(g, '\\');
        g_string_append_c(g, *p);
    }
    g_string_append_c(g, '"');
}

static void append_prop(GString *g, const char *name, const char *v)
{
    g_string_append_printf(g, " %s=", name);
    append_value(g, v);
}

static int has_prop(const csd_element *e, const char *name)
{
    for (int i = 0; i < e->n_props; i++)
        if (strcmp(e->props[i].name, name) == 0) return 1;
    return 0;
}

char *csd_stream_launch(const csd_config *c, const csd_stream *s)
{
    GString *g = g_string_new(NULL);
    switch (s->kind) {
    case CSD_SRC_FILE:
        g_string_append(g, "filesrc");
        append_prop(g, "location", s->location);
        g_string_append(g, " ! decodebin ! videoconvert");
        break;
    case CSD_SRC_RTSP:
        g_string_append(g, "rtspsrc");
        append_prop(g, "location", s->location);
        g_string_append(g, " latency=200 ! decodebin ! videoconvert");
        break;
    case CSD_SRC_HTTP:
        g_string_append(g, "souphttpsrc");
        append_prop(g, "location", s->location);
        g_string_append(g, " is-live=true ! decodebin ! videoconvert");
        break;
    case CSD_SRC_V4L2:
        g_string_append(g, "v4l2src");
        append_prop(g, "device", s->location);
        g_string_append(g, " ! videoconvert");
        break;
    case CSD_SRC_TEST:
        g_string_append(g, "videotestsrc is-live=true");
        append_prop(g, "pattern", s->pattern ? s->pattern : "smpte");
        g_string_append(g, " ! videoconvert");
        break;
    }
    if (s->width || s->height || s->framerate) {
        g_string_append(g, s->framerate ? " ! videoscale ! videorate ! video/x-raw"
                                        : " ! videoscale ! video/x-raw");
        if (s->width) g_string_append_printf(g, ",width=%d", s->width);
        if (s->height) g_string_append_printf(g, ",height=%d", s->height);
        if (s->framerate) g_string_append_printf(g, ",framerate=%d/1", s->framerate);
    }
    /* A real-time file is paced before the ingress queue, so that a frame counts as in (and
     * its latency starts) when it is due, not when the decoder got ahead of the clock. */
    if (s->kind == CSD_SRC_FILE && s->realtime) g_string_append(g, " ! clocksync");
    /* The daemon counts frames in at the ingress queue. Live sources do not wait for a slow
     * chain: the queue keeps the newest two frames and drops older ones. */
    if (s->kind == CSD_SRC_FILE)
        g_string_append(g, " ! queue name=ingress max-size-buffers=2 max-size-bytes=0 "
                           "max-size-time=0");
    else
        g_string_append(g, " ! queue name=ingress leaky=downstream max-size-buffers=2 "
                           "max-size-bytes=0 max-size-time=0");
    for (int i = 0; i < s->n_chain; i++) {
        const csd_element *e = &s->chain[i];
        g_string_append(g, " ! ");
        g_string_append(g, e->name);
        for (int j = 0; j < e->n_props; j++) append_prop(g, e->props[j].name, e->props[j].value);
        const element_spec *es = e->camstream ? find_element(e->name) : NULL;
        if (es && es->takes_model && s->model) append_prop(g, "model", s->model->description);
        if (strcmp(e->name, "csinfer") == 0 && s->model) {
            if (s->model->layer && !has_prop(e, "target-layer"))
                append_prop(g, "target-layer", s->model->layer);
            if (s->model->labels && !has_prop(e, "labels"))
                append_prop(g, "labels", s->model->labels);
            if (c->threads && !has_prop(e, "threads"))
                g_string_append_printf(g, " threads=%d", c->threads);
        }
    }
    g_string_append(g, " ! cspublish name=publish");
    append_prop(g, "endpoint", s->publish);
    append_prop(g, "stream-id", s->name);
    switch (s->sink) {
    case CSD_SINK_NONE:
        g_string_append(g, " ! fakesink sync=false");
        break;
    case CSD_SINK_DISPLAY:
        g_string_append(g, " ! videoconvert ! autovideosink");
        break;
    case CSD_SINK_RECORD:
        /* VP8 from plugins-good (installed by scripts/install-deps.sh); H.264 for .mp4 */
        if (g_str_has_suffix(s->sink_arg, ".mp4"))
            g_string_append(g, " ! videoconvert ! x264enc tune=zerolatency ! mp4mux");
        else
            g_string_append_printf(g, " ! videoconvert ! vp8enc deadline=1 ! %s",
                                   g_str_has_suffix(s->sink_arg, ".webm") ? "webmmux"
                                                                          : "matroskamux");
        g_string_append(g, " ! filesink");
        append_prop(g, "location", s->sink_arg);
        break;
    case CSD_SINK_PREVIEW: {
        const char *h = s->sink_arg + 6, *colon = strrchr(h, ':');
        char *host = g_strndup(h, (size_t)(colon - h));
        if (host[0] == '[') { /* [::1] → ::1 */
            memmove(host, host + 1, strlen(host));
            host[strlen(host) - 1] = '\0';
        }
        g_string_append(g, " ! videoconvert ! jpegenc ! multipartmux ! tcpserversink");
        append_prop(g, "host", host);
        g_string_append_printf(g, " port=%s", colon + 1);
        g_free(host);
        break;
    }
    }
    return g_string_free(g, FALSE);
}

/* ---- names and documentation ------------------------------------------------------------- */

const char *csd_source_kind_name(csd_source_kind k)
{
    static const char *const n[] = {"file", "rtsp", "v4l2", "http", "testsrc"};
    return (unsigned)k < G_N_ELEMENTS(n) ? n[k] : "?";
}

const char *csd_sink_kind_name(csd_sink_kind k)
{
    static const char *const n[] = {"none", "display", "record", "preview"};
    return (unsigned)k < G_N_ELEMENTS(n) ? n[k] : "?";
}

const char *csd_log_level_name(csd_log_level l)
{
    return (unsigned)l < G_N_ELEMENTS(log_names) - 1 ? log_names[l] : "?";
}

char *csd_config_keys_markdown(void)
{
    static const char *const titles[] = {"[daemon]", "[model NAME]", "[stream NAME]"};
    GString *g = g_string_new(NULL);
    char buf[CSD_ERROR_LEN / 2];
    for (int k = 0; k < G_KINDS; k++) {
        g_string_append_printf(g,
                               "### `%s`\n\n| key | type | default | allowed | meaning |\n"
                               "| --- | --- | --- | --- | --- |\n",
                               titles[k]);
        for (const key *t = gkind_keys[k]; t->name; t++) {
            const char *allowed = "";
            if (t->type == K_INT) {
                snprintf(buf, sizeof buf, "%lld–%lld", t->lo, t->hi);
                allowed = buf;
            } else if (t->type == K_ENUM || t->type == K_BOOL) {
                allowed = kf_join(t->names, buf, sizeof buf);
            } else if (t->type == K_ENDPOINT) {
                allowed = "tcp://HOST:PORT, ipc:///PATH";
            }
            g_string_append_printf(g, "| `%s` | %s | %s%s%s | %s | %s |\n", t->name,
                                   ktype_names[t->type], t->def ? "`" : "",
                                   t->def ? t->def : (t->required ? "required" : "—"),
                                   t->def ? "`" : "", allowed, t->doc);
        }
        g_string_append(g, "\n");
    }
    return g_string_free(g, FALSE);
}
