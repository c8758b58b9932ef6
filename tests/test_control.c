/* camstreamd's control endpoint (pipeline/control.h) against fake streams: every request kind,
 * every refusal (not protobuf, empty request, unknown stream, failing add/reload), and the REP
 * socket on a GLib main loop staying usable after bad requests. GStreamer-free. */
#include "control.h"

#include <glib.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include <cmocka.h>

/* Fake supervisor: a list of streams; add accepts "[stream NAME]" lines. */
typedef struct fake {
    csd_stream streams[8];
    char names[8][CSD_NAME_MAX];
    const char *origin[8];
    int n;
    int reload_fails;
    char *last_added_text;
} fake;

static void fake_push(fake *f, const char *name, const char *origin)
{
    csd_stream *s = &f->streams[f->n];
    memset(s, 0, sizeof *s);
    snprintf(f->names[f->n], CSD_NAME_MAX, "%s", name);
    s->name = f->names[f->n];
    s->source = (char *)"testsrc://ball";
    s->model_name = strcmp(name, "nomodel") == 0 ? NULL : (char *)"gap";
    s->publish = (char *)"tcp://127.0.0.1:5555";
    f->origin[f->n] = origin;
    f->n++;
}

static int f_n(void *sup)
{
    return ((fake *)sup)->n;
}

static int f_find(void *sup, const char *name)
{
    fake *f = sup;
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->names[i], name) == 0) return i;
    return -1;
}

static void f_status(void *sup, int i, Camstream__V1__StreamStatus *out)
{
    fake *f = sup;
    camstream__v1__stream_status__init(out);
    out->stream_id = f->names[i];
    out->state = CAMSTREAM__V1__STREAM_STATE__STREAM_STATE_RUNNING;
    out->frames_in = 100 + (uint64_t)i;
    out->fps = 25.0;
    out->last_error = (char *)(i == 1 ? "boom \"quoted\"" : "");
}

static const csd_stream *f_stream(void *sup, int i)
{
    return &((fake *)sup)->streams[i];
}

static const char *f_origin(void *sup, int i)
{
    return ((fake *)sup)->origin[i];
}

static char *f_launch(void *sup, int i)
{
    return g_strdup_printf("videotestsrc ! cspublish stream-id=%s", ((fake *)sup)->names[i]);
}

static int f_add(void *sup, const char *text, csd_error *err)
{
    fake *f = sup;
    g_free(f->last_added_text);
    f->last_added_text = g_strdup(text);
    char **lines = g_strsplit(text, "\n", -1);
    int rc = 0;
    fake copy = *f;
    for (int i = 0; lines[i]; i++) {
        char name[CSD_NAME_MAX];
        if (sscanf(lines[i], "[stream %63[^]]]", name) != 1) continue;
        if (f_find(&copy, name) >= 0) {
            snprintf(err->msg, sizeof err->msg, "request:%d: [stream %s]: name in use", i + 1,
                     name);
            rc = -1;
            break;
        }
        fake_push(&copy, name, "control");
    }
    g_strfreev(lines);
    if (rc == 0) {
        char *keep = f->last_added_text;
        *f = copy;
        for (int i = 0; i < f->n; i++) f->streams[i].name = f->names[i];
        f->last_added_text = keep;
    }
    return rc;
}

static int f_remove(void *sup, const char *name, csd_error *err)
{
    fake *f = sup;
    int i = f_find(f, name);
    for (int j = i; j + 1 < f->n; j++) {
        memcpy(f->names[j], f->names[j + 1], CSD_NAME_MAX);
        f->streams[j] = f->streams[j + 1];
        f->streams[j].name = f->names[j];
        f->origin[j] = f->origin[j + 1];
    }
    f->n--;
    return 0;
}

static int f_reload(void *sup, char *summary, size_t len, csd_error *err)
{
    if (((fake *)sup)->reload_fails) {
        snprintf(err->msg, sizeof err->msg, "cams.conf:7: [stream a] source: bad");
        return -1;
    }
    snprintf(summary, len, "added x; unchanged a");
    return 0;
}

static const csd_control_ops fake_ops = {f_n,      f_find, f_status, f_stream, f_origin,
                                         f_launch, f_add,  f_remove, f_reload};

static Camstream__V1__ControlReply *ask_bytes(fake *f, const uint8_t *req, size_t len)
{
    size_t n = 0;
    uint8_t *out = csd_control_handle(&fake_ops, f, req, len, &n);
    Camstream__V1__ControlReply *r = camstream__v1__control_reply__unpack(NULL, n, out);
    g_free(out);
    assert_non_null(r);
    return r;
}

static Camstream__V1__ControlReply *ask(fake *f, const Camstream__V1__ControlRequest *q)
{
    size_t n = camstream__v1__control_request__get_packed_size(q);
    uint8_t *buf = g_malloc(n + 1);
    camstream__v1__control_request__pack(q, buf);
    Camstream__V1__ControlReply *r = ask_bytes(f, buf, n);
    g_free(buf);
    return r;
}

static void expect_error(Camstream__V1__ControlReply *r, const char *frag)
{
    assert_false(r->ok);
    if (!strstr(r->error, frag)) fail_msg("'%s' not in error '%s'", frag, r->error);
    assert_int_equal(r->n_streams, 0);
    assert_int_equal(r->n_statuses, 0);
    camstream__v1__control_reply__free_unpacked(r, NULL);
}

static void setup_fake(fake *f)
{
    memset(f, 0, sizeof *f);
    fake_push(f, "cam0", "file");
    fake_push(f, "cam1", "file");
}

static void test_list_status(void **state)
{
    fake f;
    setup_fake(&f);
    Camstream__V1__ControlRequest q = CAMSTREAM__V1__CONTROL_REQUEST__INIT;
    Camstream__V1__ListRequest l = CAMSTREAM__V1__LIST_REQUEST__INIT;
    q.request_case = CAMSTREAM__V1__CONTROL_REQUEST__REQUEST_LIST;
    q.list = &l;
    Camstream__V1__ControlReply *r = ask(&f, &q);
    assert_true(r->ok);
    assert_string_equal(r->error, "");
    assert_int_equal(r->n_streams, 2);
    assert_string_equal(r->streams[1]->stream_id, "cam1");
    assert_string_equal(r->streams[1]->origin, "file");
    assert_string_equal(r->streams[1]->model, "gap");
    assert_string_equal(r->streams[1]->source, "testsrc://ball");
    assert_string_equal(r->streams[1]->launch, "videotestsrc ! cspublish stream-id=cam1");
    assert_int_equal(r->streams[1]->state, CAMSTREAM__V1__STREAM_STATE__STREAM_STATE_RUNNING);
    camstream__v1__control_reply__free_unpacked(r, NULL);

    Camstream__V1__StatusRequest s = CAMSTREAM__V1__STATUS_REQUEST__INIT;
    q.request_case = CAMSTREAM__V1__CONTROL_REQUEST__REQUEST_STATUS;
    q.status = &s;
    r = ask(&f, &q);
    assert_true(r->ok);
    assert_int_equal(r->n_statuses, 2);
    assert_int_equal(r->statuses[1]->frames_in, 101);
    assert_string_equal(r->statuses[1]->last_error, "boom \"quoted\"");
    camstream__v1__control_reply__free_unpacked(r, NULL);

    s.stream_id = (char *)"cam1";
    r = ask(&f, &q);
    assert_true(r->ok);
    assert_int_equal(r->n_statuses, 1);
    assert_string_equal(r->statuses[0]->stream_id, "cam1");
    camstream__v1__control_reply__free_unpacked(r, NULL);

    s.stream_id = (char *)"cam9";
    expect_error(ask(&f, &q), "no stream 'cam9'");
}

static void test_bad_requests(void **state)
{
    fake f;
    setup_fake(&f);
    /* Not protobuf at all (a truncated varint). */
    const uint8_t junk[] = {0x0a, 0xff, 0xff, 0xff};
    expect_error(ask_bytes(&f, junk, sizeof junk), "not a ControlRequest");
    /* Text is not a request either. */
    expect_error(ask_bytes(&f, (const uint8_t *)"list", 4), "not a ControlRequest");
    /* Valid protobuf, no operation: empty message, and an unknown field (a newer client). */
    expect_error(ask_bytes(&f, (const uint8_t *)"", 0), "empty or unknown request");
    const uint8_t future[] = {0x78, 0x01}; /* field 15, varint 1 */
    expect_error(ask_bytes(&f, future, sizeof future), "empty or unknown request");

    Camstream__V1__ControlRequest q = CAMSTREAM__V1__CONTROL_REQUEST__INIT;
    Camstream__V1__RemoveRequest rm = CAMSTREAM__V1__REMOVE_REQUEST__INIT;
    q.request_case = CAMSTREAM__V1__CONTROL_REQUEST__REQUEST_REMOVE;
    q.remove = &rm;
    expect_error(ask(&f, &q), "stream_id is empty");
    rm.stream_id = (char *)"nope";
    expect_error(ask(&f, &q), "remove: no stream 'nope'");
    assert_int_equal(f.n, 2);

    Camstream__V1__AddRequest add = CAMSTREAM__V1__ADD_REQUEST__INIT;
    q.request_case = CAMSTREAM__V1__CONTROL_REQUEST__REQUEST_ADD;
    q.add = &add;
    expect_error(ask(&f, &q), "config is empty");
    add.config = (char *)"[stream cam7]\nsource = testsrc://\n[stream cam0]\n";
    expect_error(ask(&f, &q), "add: request:3: [stream cam0]: name in use");
    assert_int_equal(f.n, 2);

    Camstream__V1__ReloadRequest rl = CAMSTREAM__V1__RELOAD_REQUEST__INIT;
    q.request_case = CAMSTREAM__V1__CONTROL_REQUEST__REQUEST_RELOAD;
    q.reload = &rl;
    f.reload_fails = 1;
    expect_error(ask(&f, &q), "reload: cams.conf:7: [stream a] source: bad (the running "
                              "configuration is kept)");
    g_free(f.last_added_text);
}

static void test_add_remove_reload(void **state)
{
    fake f;
    setup_fake(&f);
    Camstream__V1__ControlRequest q = CAMSTREAM__V1__CONTROL_REQUEST__INIT;
    Camstream__V1__AddRequest add = CAMSTREAM__V1__ADD_REQUEST__INIT;
    q.request_case = CAMSTREAM__V1__CONTROL_REQUEST__REQUEST_ADD;
    q.add = &add;
    add.config = (char *)"[stream cam7]\nsource = testsrc://\n\n[stream nomodel]\n";
    Camstream__V1__ControlReply *r = ask(&f, &q);
    assert_true(r->ok);
    assert_string_equal(f.last_added_text, add.config); /* passed on untouched */
    assert_int_equal(f.n, 4);
    /* The reply lists exactly the added streams. */
    assert_int_equal(r->n_streams, 2);
    assert_string_equal(r->streams[0]->stream_id, "cam7");
    assert_string_equal(r->streams[0]->origin, "control");
    assert_string_equal(r->streams[1]->stream_id, "nomodel");
    assert_string_equal(r->streams[1]->model, "");
    assert_string_equal(r->message, "added 2 streams");
    camstream__v1__control_reply__free_unpacked(r, NULL);

    Camstream__V1__RemoveRequest rm = CAMSTREAM__V1__REMOVE_REQUEST__INIT;
    q.request_case = CAMSTREAM__V1__CONTROL_REQUEST__REQUEST_REMOVE;
    q.remove = &rm;
    rm.stream_id = (char *)"cam0";
    r = ask(&f, &q);
    assert_true(r->ok);
    assert_string_equal(r->message, "removed cam0");
    assert_int_equal(f.n, 3);
    assert_int_equal(f_find(&f, "cam0"), -1);
    camstream__v1__control_reply__free_unpacked(r, NULL);

    Camstream__V1__ReloadRequest rl = CAMSTREAM__V1__RELOAD_REQUEST__INIT;
    q.request_case = CAMSTREAM__V1__CONTROL_REQUEST__REQUEST_RELOAD;
    q.reload = &rl;
    r = ask(&f, &q);
    assert_true(r->ok);
    assert_string_equal(r->message, "added x; unchanged a");
    camstream__v1__control_reply__free_unpacked(r, NULL);
    g_free(f.last_added_text);
}

/* One request over the socket: the main loop runs until the reply is there. */
static Camstream__V1__ControlReply *roundtrip(void *req_sock, const void *data, size_t len,
                                              int more_frames)
{
    for (int i = 0; i < more_frames; i++) assert_true(zmq_send(req_sock, "x", 1, ZMQ_SNDMORE) == 1);
    assert_int_equal(zmq_send(req_sock, data, len, 0), (int)len);
    zmq_pollitem_t it = {req_sock, 0, ZMQ_POLLIN, 0};
    /* Client and server share this thread: the client's socket needs zmq_poll calls too (its
     * handshake commands), so neither side may block. */
    while (zmq_poll(&it, 1, 10) == 0) g_main_context_iteration(NULL, FALSE);
    zmq_msg_t m;
    zmq_msg_init(&m);
    assert_true(zmq_msg_recv(&m, req_sock, 0) >= 0);
    assert_false(zmq_msg_more(&m));
    Camstream__V1__ControlReply *r =
        camstream__v1__control_reply__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
    zmq_msg_close(&m);
    assert_non_null(r);
    return r;
}

static void test_socket(void **state)
{
    fake f;
    setup_fake(&f);
    void *ctx = zmq_ctx_new();
    csd_error err = {0};
    csd_control *c = csd_control_new(ctx, "tcp://127.0.0.1:*", NULL, &fake_ops, &f, &err);
    assert_non_null(c);
    assert_non_null(strstr(csd_control_endpoint(c), "tcp://127.0.0.1:"));
    /* The same endpoint twice: a clear error. */
    csd_control *c2 = csd_control_new(ctx, csd_control_endpoint(c), NULL, &fake_ops, &f, &err);
    assert_null(c2);
    assert_non_null(strstr(err.msg, "control endpoint tcp://127.0.0.1:"));
    assert_non_null(strstr(err.msg, "in use"));

    void *req = zmq_socket(ctx, ZMQ_REQ);
    int zero = 0;
    zmq_setsockopt(req, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_connect(req, csd_control_endpoint(c)), 0);

    /* Garbage, then a multi-frame request, then valid requests: each gets its answer. */
    Camstream__V1__ControlReply *r = roundtrip(req, "\xff\xff\xff", 3, 0);
    expect_error(r, "not a ControlRequest");
    r = roundtrip(req, "", 0, 2);
    expect_error(r, "one ZMQ frame, this one has 3");
    Camstream__V1__ControlRequest q = CAMSTREAM__V1__CONTROL_REQUEST__INIT;
    Camstream__V1__ListRequest l = CAMSTREAM__V1__LIST_REQUEST__INIT;
    q.request_case = CAMSTREAM__V1__CONTROL_REQUEST__REQUEST_LIST;
    q.list = &l;
    uint8_t buf[64];
    size_t n = camstream__v1__control_request__pack(&q, buf);
    for (int i = 0; i < 3; i++) {
        r = roundtrip(req, buf, n, 0);
        assert_true(r->ok);
        assert_int_equal(r->n_streams, 2);
        camstream__v1__control_reply__free_unpacked(r, NULL);
    }
    assert_int_equal(csd_control_requests(c), 5);

    zmq_close(req);
    csd_control_free(&c);
    csd_control_free(&c); /* safe twice */
    zmq_ctx_term(ctx);
}

/* CURVE: the control socket with server keys answers a client that knows its public key. */
static void test_socket_curve(void **state)
{
    fake f;
    setup_fake(&f);
    void *ctx = zmq_ctx_new();
    csd_error err = {0};
    csd_curve_keys server;
    assert_int_equal(csd_curve_keys_generate(&server, &err), 0);
    csd_control *c = csd_control_new(ctx, "tcp://127.0.0.1:*", &server, &fake_ops, &f, &err);
    assert_non_null(c);
    void *req = zmq_socket(ctx, ZMQ_REQ);
    int zero = 0;
    zmq_setsockopt(req, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(csd_curve_client_apply(req, server.public_key, NULL, &err), 0);
    assert_int_equal(zmq_connect(req, csd_control_endpoint(c)), 0);
    Camstream__V1__ControlRequest q = CAMSTREAM__V1__CONTROL_REQUEST__INIT;
    Camstream__V1__ListRequest l = CAMSTREAM__V1__LIST_REQUEST__INIT;
    q.request_case = CAMSTREAM__V1__CONTROL_REQUEST__REQUEST_LIST;
    q.list = &l;
    uint8_t buf[64];
    size_t n = camstream__v1__control_request__pack(&q, buf);
    Camstream__V1__ControlReply *r = roundtrip(req, buf, n, 0);
    assert_true(r->ok);
    camstream__v1__control_reply__free_unpacked(r, NULL);
    /* A public-only key cannot make a server. */
    csd_curve_keys pub = server;
    pub.secret_key[0] = '\0';
    assert_null(csd_control_new(ctx, "tcp://127.0.0.1:*", &pub, &fake_ops, &f, &err));
    assert_non_null(strstr(err.msg, "secret key"));
    zmq_close(req);
    csd_control_free(&c);
    zmq_ctx_term(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_status),       cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_add_remove_reload), cmocka_unit_test(test_socket),
        cmocka_unit_test(test_socket_curve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
