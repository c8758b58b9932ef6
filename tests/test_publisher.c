/* camstreamd's publish forwarder (pipeline/publisher.h): a subscriber on the bound endpoint gets
 * what is sent through the inproc side (subscriptions flow back to the publishers); a subscriber
 * that does not read makes the XPUB refuse messages, which are counted against the stream named
 * in their topic; a second bind of the same endpoint fails with a reason; the inproc endpoint
 * accepts cspublish-style PUB sockets; with CURVE server keys a CURVE client receives. Every
 * publisher binds tcp://127.0.0.1:* (no port clash with parallel tests). No GStreamer. */
#include "publisher.h"

#include <glib.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <zmq.h>

#include <cmocka.h>

static void *ctx;

/* Publishers bind tcp://127.0.0.1:* (ZeroMQ picks a free port, no clash with tests running in
 * parallel); subscribers connect to the endpoint it reports. */
#define ANY_PORT "tcp://127.0.0.1:*"

static const char *open_any(csd_publisher *p)
{
    char why[256] = "";
    const char *inproc = csd_publisher_open(p, ANY_PORT, why, sizeof why);
    if (!inproc) fail_msg("csd_publisher_open: %s", why);
    const char *bound = csd_publisher_bound(p, ANY_PORT);
    assert_non_null(bound);
    assert_true(g_str_has_prefix(bound, "tcp://127.0.0.1:"));
    assert_string_not_equal(bound, ANY_PORT);
    return bound;
}

/* server_public: a CURVE client of that server (a fresh client key pair). */
static void *sub_new_curve(const char *ep, int hwm, const char *server_public)
{
    void *s = zmq_socket(ctx, ZMQ_SUB);
    if (server_public) {
        csd_error e;
        if (csd_curve_client_apply(s, server_public, NULL, &e)) fail_msg("%s", e.msg);
    }
    int linger = 0, buf = 1024;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (hwm) {
        zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
        zmq_setsockopt(s, ZMQ_RCVBUF, &buf, sizeof buf);
    }
    zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
    assert_int_equal(zmq_connect(s, ep), 0);
    return s;
}

static void *sub_new(const char *ep, int hwm)
{
    return sub_new_curve(ep, hwm, NULL);
}

/* Sends until the subscriber hears one (subscriptions travel asynchronously). */
static void wait_joined(csd_publisher *p, const char *ep, void *sub)
{
    for (int i = 0; i < 500; i++) {
        csd_publisher_send(p, ep, "status.x", "hello", 5);
        zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 20) > 0) return;
    }
    fail_msg("the subscriber never joined");
}

static void test_delivery(void **state)
{
    csd_publisher *p = csd_publisher_new(ctx, NULL);
    char why[256];
    const char *ep = open_any(p);
    const char *inproc = csd_publisher_open(p, ANY_PORT, why, sizeof why);
    assert_non_null(inproc);
    assert_true(g_str_has_prefix(inproc, "inproc://camstream-publish-"));
    assert_string_equal(csd_publisher_open(p, ANY_PORT, why, sizeof why), inproc); /* once */
    assert_null(csd_publisher_bound(p, "tcp://127.0.0.1:1"));                      /* not open */
    void *sub = sub_new(ep, 0);
    wait_joined(p, ANY_PORT, sub);
    /* a cspublish-like PUB connected to the inproc side */
    void *pub = zmq_socket(ctx, ZMQ_PUB);
    assert_int_equal(zmq_connect(pub, inproc), 0);
    int got = 0;
    for (int i = 0; i < 500 && !got; i++) {
        zmq_send(pub, "frame.cam", 9, ZMQ_SNDMORE);
        zmq_send(pub, "payload", 7, 0);
        zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};
        while (zmq_poll(&it, 1, 20) > 0) {
            char t[64] = "", d[64] = "";
            int tl = zmq_recv(sub, t, sizeof t - 1, 0);
            int more = 0;
            size_t ml = sizeof more;
            zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &ml);
            assert_true(more); /* two frames, always */
            int dl = zmq_recv(sub, d, sizeof d - 1, 0);
            if (tl == 9 && memcmp(t, "frame.cam", 9) == 0) {
                assert_int_equal(dl, 7);
                assert_memory_equal(d, "payload", 7);
                got = 1;
            }
        }
    }
    assert_true(got);
    assert_int_equal(csd_publisher_dropped(p, "cam"), 0);

    /* the endpoint is taken: a second publisher cannot bind it */
    csd_publisher *q = csd_publisher_new(ctx, NULL);
    assert_null(csd_publisher_open(q, ep, why, sizeof why));
    assert_non_null(strstr(why, "in use"));
    assert_int_equal(csd_publisher_send(q, ep, "status.x", "x", 1), -1); /* not open */
    csd_publisher_free(&q);

    int linger = 0;
    zmq_setsockopt(pub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(pub);
    zmq_close(sub);
    csd_publisher_free(&p);
    csd_publisher_free(&p); /* safe twice */
}

/* A subscriber that never reads: once its queue is full, the XPUB refuses and counts. */
static void test_slow_subscriber_drops(void **state)
{
    csd_publisher *p = csd_publisher_new(ctx, NULL);
    const char *ep = ANY_PORT;
    void *sub = sub_new(open_any(p), 1);
    wait_joined(p, ep, sub);
    char *big = g_malloc0(64 * 1024);
    uint64_t slow = 0;
    for (int i = 0; i < 20000 && slow == 0; i++) {
        /* our own PUB refuses too when the forwarder lags: just try again later */
        csd_publisher_send(p, ep, "frame.slow", big, 64 * 1024);
        if (i % 100 == 99) g_usleep(1000);
        slow = csd_publisher_dropped(p, "slow");
    }
    assert_true(slow > 0);
    assert_int_equal(csd_publisher_dropped(p, "other"), 0);
    g_free(big);
    zmq_close(sub);
    csd_publisher_free(&p);
}

/* With server keys the XPUB is a CURVE server: a CURVE client (which cannot talk to a plain
 * server) that knows the server's public key gets the messages (no ZAP handler in this context: any
 * client key is accepted). Keys without the secret cannot make a server: open fails with the
 * reason. */
static void test_curve(void **state)
{
    csd_curve_keys server;
    csd_error e;
    if (csd_curve_keys_generate(&server, &e)) fail_msg("%s", e.msg);
    csd_publisher *p = csd_publisher_new(ctx, &server);
    void *sub = sub_new_curve(open_any(p), 0, server.public_key);
    wait_joined(p, ANY_PORT, sub);
    zmq_close(sub);
    csd_publisher_free(&p);

    csd_curve_keys pub_only = server;
    pub_only.secret_key[0] = '\0';
    csd_publisher *q = csd_publisher_new(ctx, &pub_only);
    char why[256] = "";
    assert_null(csd_publisher_open(q, ANY_PORT, why, sizeof why));
    assert_true(why[0] != '\0');
    csd_publisher_free(&q);
}

int main(void)
{
    ctx = zmq_ctx_new();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delivery),
        cmocka_unit_test(test_slow_subscriber_drops),
        cmocka_unit_test(test_curve),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    zmq_ctx_term(ctx);
    return rc;
}
