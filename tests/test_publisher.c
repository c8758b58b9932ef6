/* camstreamd's publish forwarder (pipeline/publisher.h): a subscriber on the bound endpoint gets
 * what is sent through the inproc side (subscriptions flow back to the publishers); a subscriber
 * that does not read makes the XPUB refuse messages, which are counted against the stream named
 * in their topic; a second bind of the same endpoint fails with a reason; the inproc endpoint
 * accepts cspublish-style PUB sockets. No GStreamer. */
#include "publisher.h"

#include <arpa/inet.h>
#include <glib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <zmq.h>

#include <cmocka.h>

static void *ctx;

static char *free_endpoint(void)
{
    /* a plain socket learns a free port and releases it at once (zmq_close is asynchronous) */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return g_strdup_printf("tcp://127.0.0.1:%d", ntohs(a.sin_port));
}

static void *sub_new(const char *ep, int hwm)
{
    void *s = zmq_socket(ctx, ZMQ_SUB);
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
    char *ep = free_endpoint();
    csd_publisher *p = csd_publisher_new(ctx);
    char why[256];
    const char *inproc = csd_publisher_open(p, ep, why, sizeof why);
    assert_non_null(inproc);
    assert_true(g_str_has_prefix(inproc, "inproc://camstream-publish-"));
    assert_string_equal(csd_publisher_open(p, ep, why, sizeof why), inproc); /* once */
    void *sub = sub_new(ep, 0);
    wait_joined(p, ep, sub);
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
    csd_publisher *q = csd_publisher_new(ctx);
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
    g_free(ep);
}

/* A subscriber that never reads: once its queue is full, the XPUB refuses and counts. */
static void test_slow_subscriber_drops(void **state)
{
    char *ep = free_endpoint();
    csd_publisher *p = csd_publisher_new(ctx);
    char why[256];
    assert_non_null(csd_publisher_open(p, ep, why, sizeof why));
    void *sub = sub_new(ep, 1);
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
    g_free(ep);
}

int main(void)
{
    ctx = zmq_ctx_new();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delivery),
        cmocka_unit_test(test_slow_subscriber_drops),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    zmq_ctx_term(ctx);
    return rc;
}
