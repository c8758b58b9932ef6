/* camstreamd's configuration parser (pipeline/config.h): valid files, every error path with
 * its file:line and reason, edge cases, launch descriptions, docs/CONFIG.md in sync with the
 * key table, CURVE key files. GStreamer-free. */
#include "config.h"
#include "cs_config.h"
#include "curve_keys.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include <cmocka.h>

static char *tmpdir;
static const char *srcdir;

/* Writes text to TMP/name (a header with the model section prepended when model is set) and
 * returns the path (g_free). */
static char *write_conf(const char *name, const char *text)
{
    char *path = g_build_filename(tmpdir, name, NULL);
    assert_true(g_file_set_contents(path, text, -1, NULL));
    return path;
}

/* The model section every valid file uses, with an absolute path. */
static char *model_section(void)
{
    return g_strdup_printf("[model gap]\ndescription = %s/tests/models/gap_cnn_op13/model.onnx\n",
                           srcdir);
}

static csd_config *load_text(const char *text, unsigned flags, csd_error *err, char **path_out)
{
    char *path = write_conf("t.conf", text);
    csd_config *c = csd_config_load(path, flags, err);
    if (path_out)
        *path_out = path;
    else
        g_free(path);
    return c;
}

/* Loads text, expects failure at line with every substring in the message. */
static void expect_error(const char *text, int line, ...)
{
    csd_error err;
    char *path = NULL;
    csd_config *c = load_text(text, 0, &err, &path);
    if (c) fail_msg("loaded, expected an error at line %d:\n%s", line, text);
    char *prefix = line ? g_strdup_printf("%s:%d: ", path, line) : g_strdup_printf("%s: ", path);
    if (!g_str_has_prefix(err.msg, prefix))
        fail_msg("'%s' does not start with '%s'", err.msg, prefix);
    assert_int_equal(err.line, line);
    assert_null(strchr(err.msg, '\n'));
    va_list ap;
    va_start(ap, line);
    for (const char *want; (want = va_arg(ap, const char *));)
        if (!strstr(err.msg, want)) fail_msg("'%s' not in '%s'", want, err.msg);
    va_end(ap);
    g_free(prefix);
    g_free(path);
}

/* "[model gap] ... [stream NAME] ..." helpers */
static char *with_model(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *with_model(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *rest = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    char *m = model_section();
    char *all = g_strconcat(m, rest, NULL);
    g_free(m);
    g_free(rest);
    return all;
}

/* ---- valid files ------------------------------------------------------------------------- */

static void test_default_conf(void **state)
{
    char *path = g_build_filename(srcdir, "configs", "default.conf", NULL);
    csd_error err;
    csd_config *c = csd_config_load(path, CSD_LOAD_MODELS, &err);
    if (!c) fail_msg("%s", err.msg);
    assert_string_equal(c->publish, "tcp://127.0.0.1:5555");
    assert_int_equal(c->n_models, 1);
    assert_true(c->models[0].checked);
    assert_non_null(strstr(c->models[0].description, "/models/shapes_multitask.model"));
    assert_int_equal(c->n_streams, 1);
    const csd_stream *s = &c->streams[0];
    assert_int_equal(s->kind, CSD_SRC_FILE);
    assert_true(s->loop);
    assert_true(s->realtime);
    assert_ptr_equal(s->model, &c->models[0]);
    char *launch = csd_stream_launch(c, s);
    assert_non_null(strstr(launch, "filesrc location=/"));
    assert_non_null(strstr(launch, "/models/shapes_demo.mkv ! decodebin ! "));
    assert_non_null(strstr(launch, "! clocksync ! queue name=ingress "));
    assert_non_null(strstr(launch, "max-size-time=0 ! csnormalize model=/"));
    assert_non_null(strstr(launch, "! csinfer explain=gradcam explain-interval=3 top-k=3 model=/"));
    assert_non_null(strstr(launch, "! cslocalize model=/"));
    assert_non_null(strstr(launch, "! cspublish name=publish endpoint=tcp://127.0.0.1:5555 "
                                   "stream-id=shapes ! videoconvert ! vp8enc deadline=1 ! "
                                   "matroskamux ! filesink location=/"));
    assert_non_null(strstr(launch, "/recordings/default.mkv"));
    g_free(launch);
    csd_config_destroy(&c);
    csd_config_destroy(&c); /* safe twice */
    g_free(path);
}

static void test_examples(void **state)
{
    static const char *const names[] = {"two-streams.conf", "rtsp-camera.conf"};
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        char *path = g_build_filename(srcdir, "configs", "examples", names[i], NULL);
        csd_error err;
        csd_config *c = csd_config_load(path, CSD_LOAD_MODELS, &err);
        if (!c) fail_msg("%s", err.msg);
        for (int j = 0; j < c->n_streams; j++) {
            char *l = csd_stream_launch(c, &c->streams[j]);
            assert_non_null(strstr(l, "cspublish"));
            g_free(l);
        }
        if (i == 0) assert_int_equal(c->n_streams, 2);
        if (i == 1) {
            const csd_stream *s = csd_config_stream(c, "door");
            assert_non_null(s);
            assert_int_equal(s->kind, CSD_SRC_RTSP);
            assert_int_equal(s->sink, CSD_SINK_PREVIEW);
            char *l = csd_stream_launch(c, s);
            assert_non_null(strstr(l, "rtspsrc location=rtsp://192.168.1.20:554/stream1"));
            assert_non_null(strstr(l, "target-layer=/features/"));
            assert_non_null(strstr(l, "tcpserversink host=127.0.0.1 port=8090"));
            g_free(l);
        }
        csd_config_destroy(&c);
        g_free(path);
    }
}

static void test_defaults_and_sources(void **state)
{
    char *video = write_conf("clip.mp4", "not really a video");
    char *text = with_model("# no [daemon]: every default\n"
                            "\n"
                            "   [stream a]   \n"
                            "\tsource = file:clip.mp4\t\n"
                            "model=gap\n"
                            "  # indented comment\n"
                            "[stream b]\n"
                            "source = v4l2:///dev/video2\n"
                            "chain = videoconvert ! videoflip method=clockwise\n"
                            "sink = record=out dir.mp4\n"
                            "enabled = no\n"
                            "[stream c]\n"
                            "source = https://example.com/live.mjpg\n"
                            "chain = cslocalize mode=heatmap+regression\n"
                            "publish = ipc:///tmp/cs-c.sock\n"
                            "[stream d]\n"
                            "source = testsrc://\n"
                            "chain = queue\n");
    csd_error err;
    csd_config *c = load_text(text, 0, &err, NULL);
    if (!c) fail_msg("%s", err.msg);
    assert_string_equal(c->publish, "tcp://127.0.0.1:5555");
    assert_string_equal(c->control, "tcp://127.0.0.1:5556");
    assert_int_equal(c->log_level, CSD_LOG_INFO);
    assert_int_equal(c->status_interval_ms, 1000);
    assert_false(c->allow_remote);
    const csd_stream *a = csd_config_stream(c, "a");
    assert_int_equal(a->kind, CSD_SRC_FILE);
    assert_string_equal(a->location, video);
    assert_int_equal(a->n_chain, 2); /* default chain: csnormalize ! csinfer */
    assert_int_equal(a->sink, CSD_SINK_NONE);
    assert_int_equal(a->restart, CSD_RESTART_ON_FAILURE);
    assert_true(a->enabled);
    const csd_stream *b = csd_config_stream(c, "b");
    assert_int_equal(b->kind, CSD_SRC_V4L2);
    assert_string_equal(b->location, "/dev/video2");
    assert_false(b->enabled);
    assert_int_equal(b->sink, CSD_SINK_RECORD);
    char *l = csd_stream_launch(c, b);
    assert_non_null(strstr(l, "v4l2src device=/dev/video2 ! videoconvert ! queue name=ingress "
                              "leaky=downstream max-size-buffers=2 max-size-bytes=0 "
                              "max-size-time=0 ! videoconvert ! videoflip method=clockwise ! "
                              "cspublish name=publish"));
    assert_non_null(strstr(l, "mp4mux ! filesink location=\""));
    assert_non_null(strstr(l, "out dir.mp4\""));
    g_free(l);
    const csd_stream *cc = csd_config_stream(c, "c");
    assert_int_equal(cc->kind, CSD_SRC_HTTP);
    assert_string_equal(cc->publish, "ipc:///tmp/cs-c.sock");
    assert_null(cc->model);
    const csd_stream *d = csd_config_stream(c, "d");
    assert_string_equal(d->pattern, "smpte");
    assert_null(csd_config_stream(c, "e"));
    csd_config_destroy(&c);
    g_free(text);
    g_free(video);
}

static void test_remote_allowed(void **state)
{
    char *text = with_model("[daemon]\npublish = tcp://0.0.0.0:6000\nallow_remote = true\n"
                            "[stream s]\nsource = testsrc://\nchain = queue\n"
                            "sink = preview=tcp://192.168.1.5:8090\n");
    csd_error err;
    csd_config *c = load_text(text, 0, &err, NULL);
    if (!c) fail_msg("%s", err.msg);
    assert_true(c->allow_remote);
    assert_string_equal(c->streams[0].publish, "tcp://0.0.0.0:6000");
    csd_config_destroy(&c);
    g_free(text);
}

static void test_memory(void **state)
{
    const char *text = "[stream s]\nsource = testsrc://gamut\nchain = videoconvert\n";
    csd_error err;
    csd_config *c = csd_config_load_data(text, strlen(text), NULL, 0, &err);
    if (!c) fail_msg("%s", err.msg);
    assert_string_equal(c->streams[0].pattern, "gamut");
    csd_config_destroy(&c);
    c = csd_config_load_data("[stream s]\nsource = x\n", 21, NULL, 0, &err);
    assert_null(c);
    assert_true(g_str_has_prefix(err.msg, "memory:2: [stream s] source: "));
}

/* ---- errors ------------------------------------------------------------------------------ */

static void test_edge_cases(void **state)
{
    expect_error("", 0, "no [stream NAME] group", NULL);
    expect_error("# only comments\n\n   \n\t# more\n", 0, "no [stream NAME] group", NULL);
    expect_error("[daemon]\n", 0, "no [stream NAME] group", NULL);
    expect_error("publish = tcp://127.0.0.1:1\n", 1, "a key before the first [group]", NULL);
    expect_error("[stream s]\nsource testsrc://\n", 2, "[stream s]",
                 "not key = value, a [group] or a # comment", ">>> source testsrc://", NULL);
    expect_error("[stream s\n", 1, "not a [group] header", NULL);
    expect_error("[stream s]\n= x\n", 2, "a value without a key", NULL);
    /* CRLF line ends and trailing blanks */
    csd_error err;
    const char *crlf = "[stream s]\r\nsource = testsrc://  \r\nchain = queue\r\n";
    csd_config *c = csd_config_load_data(crlf, strlen(crlf), NULL, 0, &err);
    if (!c) fail_msg("%s", err.msg);
    csd_config_destroy(&c);
}

static void test_unknown_group_and_key(void **state)
{
    expect_error("[daemon]\n[camera x]\n", 2, "[camera x] unknown group",
                 "(allowed: [daemon], [model NAME], [stream NAME])", ">>> [camera x]", NULL);
    expect_error("[stream]\nsource = testsrc://\n", 1, "is not a stream name", NULL);
    expect_error("[stream a b]\n", 1, "'a b' is not a stream name", NULL);
    expect_error("[daemon x]\n", 1, "[daemon] takes no name", NULL);
    expect_error("[daemon]\nlog_level = info\npublsh = tcp://127.0.0.1:5555\n", 3,
                 "[daemon] publsh: unknown key (allowed: publish, control, log_level",
                 ">>> publsh = tcp://127.0.0.1:5555", NULL);
    expect_error("[stream s]\nsource = testsrc://\nsorce = x\n", 3,
                 "[stream s] sorce: unknown key (allowed: source, pattern", NULL);
    expect_error("[stream s]\nsource = testsrc://\nsource = testsrc://\n", 3,
                 "[stream s] source: given twice (first on line 2)", NULL);
}

static void test_types_and_bounds(void **state)
{
    expect_error("[daemon]\nthreads = many\n[stream s]\nsource = testsrc://\n", 2,
                 "[daemon] threads: 'many' is not an integer (allowed: 0-256)",
                 ">>> threads = many", NULL);
    expect_error("[daemon]\nthreads = 999\n[stream s]\nsource = testsrc://\n", 2,
                 "[daemon] threads: 999 is out of range (allowed: 0-256)", NULL);
    expect_error("[daemon]\nstatus_interval = 5\n[stream s]\nsource = testsrc://\n", 2,
                 "status_interval: 5 is out of range (allowed: 100-3600000)", NULL);
    expect_error("[daemon]\nallow_remote = perhaps\n[stream s]\nsource = testsrc://\n", 2,
                 "allow_remote: 'perhaps' is not a boolean (allowed: true, false)", NULL);
    expect_error("[daemon]\nlog_level = loud\n[stream s]\nsource = testsrc://\n", 2,
                 "log_level: 'loud' is not one of the allowed values (allowed: error, warning, "
                 "info, debug)",
                 NULL);
    expect_error("[stream s]\nsource = testsrc://\nwidth = -1\n", 3,
                 "[stream s] width: -1 is out of range (allowed: 0-8192)", NULL);
    expect_error("[stream s]\nsource = testsrc://\nrestart = sometimes\n", 3,
                 "(allowed: always, on-failure, never)", NULL);
    expect_error("[stream s]\nsource =\n", 2, "[stream s] source: empty value", NULL);
    expect_error("[stream s]\nchain = queue\n", 1, "[stream s] source: missing", NULL);
    expect_error("[stream s]\nsource = testsrc://\nchain = queue\nmodel = bad name\n", 4,
                 "model: 'bad name' is not a name", NULL);
}

static void test_models(void **state)
{
    expect_error("[model m]\ndescription = /nonexistent/x.model\n[stream s]\nsource = testsrc://\n",
                 2, "[model m] description: /nonexistent/x.model: no such file", NULL);
    expect_error("[model m]\nlayer = x\n[stream s]\nsource = testsrc://\n", 1,
                 "[model m] description: missing", NULL);
    /* a description whose model file is missing: the shared parser's message inside ours */
    char *bad = write_conf("bad.model", "[model]\nfile = missing.onnx\n");
    expect_error("[model m]\ndescription = bad.model\n[stream s]\nsource = testsrc://\n", 2,
                 "[model m] description: ", "missing.onnx: no such model file", NULL);
    /* a malformed description: its own file:line and key */
    g_free(bad);
    bad = write_conf("bad2.model", "[model]\nfile = x.onnx\n[preprocess]\nscale = 2\n");
    expect_error("[model m]\ndescription = bad2.model\n[stream s]\nsource = testsrc://\n", 2,
                 "bad2.model:4: scale:", NULL);
    g_free(bad);
    char *text = with_model("[stream s]\nsource = testsrc://\nmodel = other\n");
    expect_error(text, 5, "[stream s] model: no [model other] in this file (allowed: gap)", NULL);
    g_free(text);
    expect_error("[stream s]\nsource = testsrc://\nchain = csinfer\n", 3,
                 "[stream s] chain: csinfer needs a model (set model = NAME)", NULL);
    expect_error("[stream s]\nsource = testsrc://\n", 1, "csinfer needs a model", NULL);
    /* the layer checked against the model (CSD_LOAD_MODELS) */
    text = with_model("layer = /no/such/layer\n[stream s]\nsource = testsrc://\nmodel = gap\n");
    csd_error err;
    char *path = NULL;
    csd_config *c = load_text(text, CSD_LOAD_MODELS, &err, &path);
    assert_null(c);
    char *want = g_strdup_printf("%s:3: [model gap] layer: ", path);
    if (!g_str_has_prefix(err.msg, want)) fail_msg("'%s' does not start with '%s'", err.msg, want);
    assert_non_null(strstr(err.msg, "/no/such/layer"));
    g_free(want);
    g_free(path);
    /* without CSD_LOAD_MODELS the model is not loaded */
    c = load_text(text, 0, &err, NULL);
    if (!c) fail_msg("%s", err.msg);
    assert_false(c->models[0].checked);
    csd_config_destroy(&c);
    g_free(text);
    expect_error("[model m]\ndescription = x\n[model m]\n", 3,
                 "[model m] duplicate model (first on line 1)", NULL);
}

static void test_duplicate_stream(void **state)
{
    expect_error("[stream s]\nsource = testsrc://\nchain = queue\n\n[stream s]\n", 5,
                 "[stream s] duplicate stream (first on line 1)", ">>> [stream s]", NULL);
}

static void test_bad_uris(void **state)
{
    static const struct {
        const char *uri, *reason;
    } cases[] = {
        {"ftp://host/x", "unknown scheme (allowed: file:///PATH"},
        {"/dev/video0", "unknown scheme"},
        {"file:///nonexistent/clip.mp4", "/nonexistent/clip.mp4: no such file"},
        {"file://relative.mp4", "file:// needs an absolute path"},
        {"file:", "names no file"},
        {"rtsp://", "has no host"},
        {"rtsp:///path", "has no host"},
        {"http://cam host/x", "contains blanks"},
        {"v4l2:///dev/sda", "is not a V4L2 device (allowed: v4l2:///dev/videoN)"},
        {"v4l2://video0", "is not a V4L2 device"},
        {"testsrc://plaid", "'plaid' is not a test pattern (allowed: smpte, snow"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        char *text = g_strdup_printf("[stream s]\n\nsource = %s\nchain = queue\n", cases[i].uri);
        expect_error(text, 3, "[stream s] source: ", cases[i].reason, ">>> source = ", NULL);
        g_free(text);
    }
    expect_error("[stream s]\nsource = rtsp://cam/1\npattern = ball\nchain = queue\n", 3,
                 "[stream s] pattern: only for testsrc:// sources", NULL);
    expect_error("[stream s]\nsource = testsrc://\npattern = plaid\nchain = queue\n", 3,
                 "pattern: 'plaid' is not one of the allowed values (allowed: smpte", NULL);
}

static void test_bad_endpoints(void **state)
{
    static const struct {
        const char *ep, *reason;
    } cases[] = {
        {"udp://127.0.0.1:5555", "is not an endpoint (allowed: tcp://HOST:PORT, ipc:///PATH)"},
        {"tcp://127.0.0.1", "has no port"},
        {"tcp://127.0.0.1:0", "port '0' is not an integer in [1, 65535]"},
        {"tcp://127.0.0.1:70000", "port '70000'"},
        {"tcp://127.0.0.1:*", "port '*'"},
        {"tcp://:5555", "has no port"},
        {"ipc://relative.sock", "needs an absolute path"},
        {"ipc:///nonexistent/dir/x.sock", "directory /nonexistent/dir does not exist"},
        /* non-loopback without allow_remote */
        {"tcp://0.0.0.0:5555", "is not a loopback address (allowed: 127.0.0.1, localhost, [::1]; "
                               "set allow_remote = true"},
        {"tcp://192.168.1.10:5555", "is not a loopback address"},
        {"tcp://*:5555", "is not a loopback address"},
        {"tcp://eth0:5555", "is not a loopback address"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        char *text = g_strdup_printf("[daemon]\npublish = %s\n[stream s]\nsource = testsrc://\n"
                                     "chain = queue\n",
                                     cases[i].ep);
        expect_error(text, 2, "[daemon] publish: ", cases[i].reason, NULL);
        g_free(text);
    }
    expect_error("[stream s]\nsource = testsrc://\nchain = queue\npublish = tcp://10.0.0.1:7000\n",
                 4, "[stream s] publish: 'tcp://10.0.0.1:7000' is not a loopback address", NULL);
    expect_error(
        "[stream s]\nsource = testsrc://\nchain = queue\nsink = preview=tcp://0.0.0.0:8090\n", 4,
        "[stream s] sink: ", "is not a loopback address", NULL);
    /* the same port for two roles */
    expect_error("[daemon]\npublish = tcp://127.0.0.1:5555\ncontrol = tcp://localhost:5555\n"
                 "[stream s]\nsource = testsrc://\nchain = queue\n",
                 3,
                 "[daemon] control: 'tcp://localhost:5555' is already used by [daemon] publish "
                 "(line 2)",
                 NULL);
    expect_error(
        "[stream s]\nsource = testsrc://\nchain = queue\nsink = preview=tcp://127.0.0.1:5555\n", 4,
        "[stream s] sink: 'tcp://127.0.0.1:5555' is already used by [daemon] publish", NULL);
    /* loopback spellings are fine */
    const char *ok = "[daemon]\npublish = tcp://[::1]:6001\ncontrol = tcp://localhost:6002\n"
                     "[stream s]\nsource = testsrc://\nchain = queue\n";
    csd_error err;
    csd_config *c = csd_config_load_data(ok, strlen(ok), NULL, 0, &err);
    if (!c) fail_msg("%s", err.msg);
    csd_config_destroy(&c);
    char why[256];
    assert_int_equal(csd_endpoint_check("tcp://127.0.0.1:5555", 0, why, sizeof why), 0);
    assert_int_equal(csd_endpoint_check("tcp://0.0.0.0:5555", 1, why, sizeof why), 0);
    assert_int_equal(csd_endpoint_check("tcp://0.0.0.0:5555", 0, why, sizeof why), -1);
}

static void test_bad_sinks(void **state)
{
    static const struct {
        const char *sink, *reason;
    } cases[] = {
        {"tv", "'tv' is not a sink (allowed: none, display, record=PATH, preview=ENDPOINT)"},
        {"record=", "record= needs a file name"},
        {"record=out.avi", "must end in .mkv, .webm or .mp4"},
        {"record=/etc/passwd/sub/out.mkv", "/etc/passwd is not a directory"},
        {"preview=ipc:///tmp/x", "a preview is served over tcp://HOST:PORT"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        char *text = g_strdup_printf("[stream s]\nsource = testsrc://\nchain = queue\nsink = %s\n",
                                     cases[i].sink);
        expect_error(text, 4, "[stream s] sink: ", cases[i].reason, NULL);
        g_free(text);
    }
}

/* The daemon's additions: loop, restart_max_delay, the ingress queue, named cspublish, the
 * recording encoders. */
static void test_daemon_keys_and_launch(void **state)
{
    char *video = write_conf("clip.mkv", "not really a video");
    char *text =
        with_model("[daemon]\nrestart_delay = 500\nrestart_max_delay = 4000\n"
                   "[stream live]\nsource = testsrc://ball\nmodel = gap\n"
                   "sink = record=rec/sub/live.mkv\n"
                   "[stream file]\nsource = file:clip.mkv\nloop = true\nchain = queue\n"
                   "sink = record=f.webm\n"
                   "[stream paced]\nsource = file:clip.mkv\nrealtime = true\nchain = queue\n"
                   "[stream h264]\nsource = testsrc://\nchain = queue\nsink = record=x.mp4\n");
    csd_error err;
    csd_config *c = load_text(text, 0, &err, NULL);
    if (!c) fail_msg("%s", err.msg);
    assert_int_equal(c->restart_delay_ms, 500);
    assert_int_equal(c->restart_max_delay_ms, 4000);
    const csd_stream *live = csd_config_stream(c, "live"), *file = csd_config_stream(c, "file");
    assert_false(live->loop);
    assert_true(file->loop);
    assert_false(file->realtime);
    assert_true(csd_config_stream(c, "paced")->realtime);
    /* the recording's directories need not exist yet (the daemon creates them) */
    char *want = g_build_filename(tmpdir, "rec", "sub", "live.mkv", NULL);
    assert_string_equal(live->sink_arg, want);
    g_free(want);
    char *l = csd_stream_launch(c, live);
    assert_non_null(strstr(l, "videotestsrc is-live=true pattern=ball ! videoconvert ! queue "
                              "name=ingress leaky=downstream max-size-buffers=2 "
                              "max-size-bytes=0 max-size-time=0 ! csnormalize model="));
    assert_non_null(strstr(l, " ! cspublish name=publish endpoint=tcp://127.0.0.1:5555 "
                              "stream-id=live ! videoconvert ! vp8enc deadline=1 ! matroskamux "
                              "! filesink location="));
    g_free(l);
    l = csd_stream_launch(c, file);
    assert_non_null(strstr(l, "decodebin ! videoconvert ! queue name=ingress max-size-buffers=2 "
                              "max-size-bytes=0 max-size-time=0 ! queue ! cspublish"));
    assert_null(strstr(l, "leaky"));
    assert_null(strstr(l, "clocksync"));
    assert_non_null(strstr(l, "vp8enc deadline=1 ! webmmux ! filesink"));
    g_free(l);
    l = csd_stream_launch(c, csd_config_stream(c, "paced"));
    assert_non_null(strstr(l, "decodebin ! videoconvert ! clocksync ! queue name=ingress "));
    g_free(l);
    l = csd_stream_launch(c, csd_config_stream(c, "h264"));
    assert_non_null(strstr(l, "x264enc tune=zerolatency ! mp4mux ! filesink"));
    g_free(l);
    csd_config_destroy(&c);
    g_free(text);
    g_free(video);

    /* defaults */
    const char *minimal = "[stream s]\nsource = testsrc://\nchain = queue\n";
    c = csd_config_load_data(minimal, strlen(minimal), "m.conf", 0, &err);
    if (!c) fail_msg("%s", err.msg);
    assert_int_equal(c->restart_delay_ms, 2000);
    assert_int_equal(c->restart_max_delay_ms, 30000);
    assert_false(c->streams[0].loop);
    csd_config_destroy(&c);

    expect_error("[stream s]\nsource = testsrc://\nchain = queue\nloop = true\n", 4,
                 "[stream s] loop: only for file: sources (source is 'testsrc://')", NULL);
    expect_error("[stream s]\nsource = rtsp://cam/x\nchain = queue\nloop = maybe\n", 4,
                 "[stream s] loop: 'maybe' is not a boolean", NULL);
    expect_error("[stream s]\nsource = testsrc://\nchain = queue\nrealtime = true\n", 4,
                 "[stream s] realtime: only for file: sources (source is 'testsrc://'; live "
                 "sources are real time already)",
                 NULL);
    expect_error("[daemon]\nrestart_delay = 5000\nrestart_max_delay = 1000\n[stream s]\n"
                 "source = testsrc://\nchain = queue\n",
                 3,
                 "[daemon] restart_max_delay: restart_max_delay (1000) is less than "
                 "restart_delay (5000)",
                 NULL);
    expect_error("[daemon]\nrestart_delay = 50000\n[stream s]\nsource = testsrc://\n"
                 "chain = queue\n",
                 2, "[daemon] restart_delay: restart_max_delay (30000) is less than", NULL);
}

/* Streams added to a running daemon: only [stream] groups, the base's models and settings. */
static void test_load_streams(void **state)
{
    char *text = with_model("[daemon]\npublish = tcp://127.0.0.1:6000\nthreads = 3\n"
                            "[stream a]\nsource = testsrc://\nmodel = gap\n");
    csd_error err;
    csd_config *base = load_text(text, 0, &err, NULL);
    if (!base) fail_msg("%s", err.msg);
    const char *req = "# a comment\n[stream b]\nsource = testsrc://snow\nmodel = gap\n";
    csd_config *c = csd_config_load_streams(base, req, strlen(req), "request", &err);
    if (!c) fail_msg("%s", err.msg);
    assert_int_equal(c->n_streams, 1);
    assert_string_equal(c->streams[0].name, "b");
    assert_string_equal(c->streams[0].publish, "tcp://127.0.0.1:6000");
    assert_non_null(c->streams[0].model);
    assert_string_equal(c->streams[0].model->description, base->models[0].description);
    assert_ptr_not_equal(c->streams[0].model, &base->models[0]); /* a copy */
    csd_config_destroy(&base);                                   /* c stands alone */
    char *l = csd_stream_launch(c, &c->streams[0]);
    assert_non_null(strstr(l, "csinfer model="));
    assert_non_null(strstr(l, " threads=3"));
    g_free(l);

    const char *bad[][3] = {
        {"[daemon]\nthreads = 1\n", "request:1: [daemon] only [stream NAME] groups", NULL},
        {"[stream c]\nsource = testsrc://\nmodel = nope\n",
         "request:3: [stream c] model: no "
         "[model nope]",
         NULL},
        {"\n[stream c]\nsource = mms://x\n", "request:3: [stream c] source: ", NULL},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        csd_config *b = csd_config_load_streams(c, bad[i][0], strlen(bad[i][0]), "request", &err);
        assert_null(b);
        if (!g_str_has_prefix(err.msg, bad[i][1])) fail_msg("'%s' vs '%s'", err.msg, bad[i][1]);
    }
    csd_config_destroy(&c);
    g_free(text);
}

static void test_bad_chains(void **state)
{
    static const struct {
        const char *chain, *reason;
    } cases[] = {
        {"csnormalize ! ! csinfer", "element 2 is empty"},
        {"queue !", "element 2 is empty"},
        {"x264enc", "element 1: unknown element 'x264enc' (allowed: csnormalize, csinfer, "
                    "cslocalize, csoverlay, videoconvert"},
        {"queue ! cspublish", "element 2: cspublish is added by the daemon"},
        {"csoverlay alpha", "element 1 (csoverlay): 'alpha' is not property=value"},
        {"csoverlay alpha=", "'alpha=' is not property=value"},
        {"csoverlay opacity=1", "element 1 (csoverlay): unknown property 'opacity' (allowed: "
                                "heatmap, boxes"},
        {"csoverlay alpha=2", "element 1 (csoverlay): alpha: 2 is out of range (allowed: 0-1)"},
        {"csoverlay alpha=much", "alpha: 'much' is not a number"},
        {"csoverlay heatmap=maybe", "heatmap: 'maybe' is not a boolean"},
        {"csoverlay colormap=rainbow", "colormap: 'rainbow' is not allowed (allowed: jet, turbo, "
                                       "inferno, viridis)"},
        {"csoverlay alpha=0.5 alpha=0.4", "alpha is given twice"},
        {"csnormalize model=/x.onnx", "element 1 (csnormalize): model is set from the stream's "
                                      "model key"},
        {"cslocalize mode=heatmap+boxes", "mode: 'heatmap+boxes' is not allowed"},
        {"queue Max=1", "'Max' is not a property name"},
        {"video/x-raw,width=abc def", "is not a caps filter"},
        {"video/x-raw;width=3", "is not a caps filter"},
        {"csoverlay font=\"Sans 12\"", "quotes are not supported"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        char *text =
            g_strdup_printf("[stream s]\nsource = testsrc://\nchain = %s\n", cases[i].chain);
        expect_error(text, 3, "[stream s] chain: ", cases[i].reason, NULL);
        g_free(text);
    }
    char *text = with_model("[stream s]\nsource = testsrc://\nmodel = gap\n"
                            "chain = csinfer explain=gradcam++ top-k=1001\n");
    expect_error(text, 6, "element 1 (csinfer): top-k: 1001 is out of range (allowed: 1-1000)",
                 NULL);
    g_free(text);
    /* hex colors, flags, caps and a quoted value in the launch line */
    text =
        with_model("[daemon]\nthreads = 2\n[stream s]\nsource = testsrc://\nmodel = gap\n"
                   "chain = video/x-raw,format=RGB ! csnormalize resize-mode=letterbox ! csinfer "
                   "! cslocalize mode=regression+keypoints ! csoverlay box-color=0xff00ff00\n");
    csd_error err;
    csd_config *c = load_text(text, 0, &err, NULL);
    if (!c) fail_msg("%s", err.msg);
    char *l = csd_stream_launch(c, &c->streams[0]);
    assert_non_null(
        strstr(l, "! video/x-raw,format=RGB ! csnormalize resize-mode=letterbox model="));
    assert_non_null(strstr(l, " threads=2 ! cslocalize mode=regression+keypoints model="));
    assert_non_null(strstr(l, "csoverlay box-color=0xff00ff00 ! cspublish"));
    g_free(l);
    csd_config_destroy(&c);
    g_free(text);
}

static void test_unreadable(void **state)
{
    csd_error err;
    assert_null(csd_config_load("/nonexistent/camstreamd.conf", 0, &err));
    assert_non_null(strstr(err.msg, "/nonexistent/camstreamd.conf"));
    assert_int_equal(err.line, 0);
    const char nul[] = "[stream s]\nsource = test\0src://\n";
    assert_null(csd_config_load_data(nul, sizeof nul - 1, "nul.conf", 0, &err));
    assert_true(g_str_has_prefix(err.msg, "nul.conf:2: a NUL byte"));
}

/* docs/CONFIG.md holds the generated key tables verbatim. */
static void test_docs_in_sync(void **state)
{
    char *path = g_build_filename(srcdir, "docs", "CONFIG.md", NULL);
    char *doc = NULL;
    assert_true(g_file_get_contents(path, &doc, NULL, NULL));
    char *md = csd_config_keys_markdown();
    if (!strstr(doc, md))
        fail_msg("docs/CONFIG.md is out of date: paste `camstreamd --keys` between its markers");
    g_free(md);
    g_free(doc);
    g_free(path);
}

/* [daemon] curve_key / curve_authorized: loaded and checked with the configuration, relative
 * to it; copied into streams-only configurations; compared for reloads. */
static void test_curve(void **state)
{
    csd_curve_keys server, client, other;
    csd_error err;
    assert_int_equal(csd_curve_keys_generate(&server, &err), 0);
    assert_int_equal(csd_curve_keys_generate(&client, &err), 0);
    assert_int_equal(csd_curve_keys_generate(&other, &err), 0);
    char *sk = g_build_filename(tmpdir, "server.key", NULL);
    char *sp = g_build_filename(tmpdir, "server.pub", NULL);
    char *ok = g_build_filename(tmpdir, "other.key", NULL);
    assert_int_equal(csd_curve_keys_save(sk, &server, 1, &err), 0);
    assert_int_equal(csd_curve_keys_save(sp, &server, 0, &err), 0);
    assert_int_equal(csd_curve_keys_save(ok, &other, 1, &err), 0);
    char *list = g_strdup_printf("# clients\n%s\n", client.public_key);
    g_free(write_conf("authorized.txt", list));
    g_free(write_conf("bad-authorized.txt", "# clients\nnot-a-key\n"));
    g_free(write_conf("bad.key", "[curve]\npublic-key = short\n"));

    const char *stream = "[stream a]\nsource = testsrc://\nchain = videoconvert\n";
    char *text = g_strdup_printf(
        "[daemon]\ncurve_key = server.key\ncurve_authorized = authorized.txt\n%s", stream);
    csd_config *c = load_text(text, 0, &err, NULL);
    if (!c) fail_msg("%s", err.msg);
    assert_string_equal(c->curve_key, sk); /* resolved against the file's directory */
    assert_non_null(c->curve);
    assert_string_equal(c->curve->public_key, server.public_key);
    assert_string_equal(c->curve->secret_key, server.secret_key);
    assert_non_null(c->authorized);
    assert_int_equal(c->authorized->n, 1);
    uint8_t raw[32];
    assert_non_null(zmq_z85_decode(raw, client.public_key));
    assert_true(csd_curve_authorized_contains(c->authorized, raw));
    assert_non_null(zmq_z85_decode(raw, other.public_key));
    assert_false(csd_curve_authorized_contains(c->authorized, raw));
    csd_curve_authorized *copy = csd_config_curve_authorized_copy(c); /* for the ZAP handler */
    assert_non_null(copy);
    assert_ptr_not_equal(copy, c->authorized);
    assert_int_equal(copy->n, 1);
    assert_non_null(zmq_z85_decode(raw, client.public_key));
    assert_true(csd_curve_authorized_contains(copy, raw));
    csd_curve_authorized_free(&copy);

    /* a streams-only configuration carries the daemon's keys */
    csd_config *s = csd_config_load_streams(c, stream, strlen(stream), "request", &err);
    if (!s) fail_msg("%s", err.msg);
    assert_true(csd_config_curve_key_same(c, s));
    assert_true(csd_config_curve_authorized_same(c, s));
    assert_ptr_not_equal(s->curve, c->curve);

    /* reload comparisons: other keys, no list, no CURVE */
    char *t2 = g_strdup_printf("[daemon]\ncurve_key = other.key\n%s", stream);
    csd_config *c2 = load_text(t2, 0, &err, NULL);
    if (!c2) fail_msg("%s", err.msg);
    assert_false(csd_config_curve_key_same(c, c2));
    assert_false(csd_config_curve_authorized_same(c, c2));
    assert_null(c2->authorized);
    csd_config *plain = load_text(stream, 0, &err, NULL);
    if (!plain) fail_msg("%s", err.msg);
    assert_null(plain->curve);
    assert_null(plain->curve_key);
    assert_null(csd_config_curve_authorized_copy(plain));
    assert_false(csd_config_curve_key_same(c2, plain));
    assert_true(csd_config_curve_key_same(plain, plain));
    assert_true(csd_config_curve_authorized_same(c2, plain));
    csd_config_destroy(&plain);
    csd_config_destroy(&c2);
    csd_config_destroy(&s);
    csd_config_destroy(&c);

    /* errors name the configuration's line and the key file's problem */
    char *e1 = g_strdup_printf("[daemon]\ncurve_authorized = authorized.txt\n%s", stream);
    expect_error(e1, 2, "[daemon] curve_authorized: needs curve_key", NULL);
    char *e2 = g_strdup_printf("# keys\n[daemon]\ncurve_key = bad.key\n%s", stream);
    expect_error(e2, 3, "[daemon] curve_key: ", "bad.key:2", "public-key", NULL);
    char *e3 = g_strdup_printf("[daemon]\ncurve_key = server.pub\n%s", stream);
    expect_error(e3, 2, "[daemon] curve_key: ", "server.pub", "secret", NULL);
    char *e4 = g_strdup_printf("[daemon]\ncurve_key = nope.key\n%s", stream);
    expect_error(e4, 2, "[daemon] curve_key: ", "nope.key: no such file", NULL);
    char *e5 = g_strdup_printf(
        "[daemon]\ncurve_key = server.key\n\ncurve_authorized = bad-authorized.txt\n%s", stream);
    expect_error(e5, 4, "[daemon] curve_authorized: ", "bad-authorized.txt:2", NULL);
    /* the secret key never appears in a message */
    char *mixed = g_strdup_printf("[curve]\npublic-key = %s\nsecret-key = %s\n", server.public_key,
                                  other.secret_key);
    g_free(write_conf("mixed.key", mixed));
    g_free(mixed);
    char *e6 = g_strdup_printf("[daemon]\ncurve_key = mixed.key\n%s", stream);
    expect_error(e6, 2, "[daemon] curve_key: ", "mixed.key:3", NULL);
    c = load_text(e6, 0, &err, NULL);
    assert_null(c);
    assert_null(strstr(err.msg, other.secret_key));
    g_free(e1);
    g_free(e2);
    g_free(e3);
    g_free(e4);
    g_free(e5);
    g_free(e6);
    g_free(t2);
    g_free(text);
    g_free(list);
    g_free(sk);
    g_free(sp);
    g_free(ok);
}

static int setup(void **state)
{
    srcdir = getenv("CS_SOURCE_DIR");
    if (!srcdir) srcdir = CS_SOURCE_DIR;
    tmpdir = g_dir_make_tmp("cs-config-XXXXXX", NULL);
    return tmpdir ? 0 : -1;
}

static int teardown(void **state)
{
    GDir *d = g_dir_open(tmpdir, 0, NULL);
    for (const char *n; d && (n = g_dir_read_name(d));) {
        char *p = g_build_filename(tmpdir, n, NULL);
        g_unlink(p);
        g_free(p);
    }
    if (d) g_dir_close(d);
    g_rmdir(tmpdir);
    g_free(tmpdir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_conf),
        cmocka_unit_test(test_examples),
        cmocka_unit_test(test_defaults_and_sources),
        cmocka_unit_test(test_remote_allowed),
        cmocka_unit_test(test_memory),
        cmocka_unit_test(test_edge_cases),
        cmocka_unit_test(test_unknown_group_and_key),
        cmocka_unit_test(test_types_and_bounds),
        cmocka_unit_test(test_models),
        cmocka_unit_test(test_duplicate_stream),
        cmocka_unit_test(test_bad_uris),
        cmocka_unit_test(test_bad_endpoints),
        cmocka_unit_test(test_bad_sinks),
        cmocka_unit_test(test_bad_chains),
        cmocka_unit_test(test_daemon_keys_and_launch),
        cmocka_unit_test(test_load_streams),
        cmocka_unit_test(test_unreadable),
        cmocka_unit_test(test_curve),
        cmocka_unit_test(test_docs_in_sync),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
