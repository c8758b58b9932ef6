/* CURVE key files, authorized keys and the ZAP handler (pipeline/curve_keys.h): round trips,
 * every error with its file:line, file modes, and a real CURVE handshake over loopback TCP where
 * an authorized client gets an answer and another client is refused by the ZAP handler. */
#include "curve_keys.h"

#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

#include <cmocka.h>

static char *tmpdir;

static char *tmp_path(const char *name)
{
    return g_build_filename(tmpdir, name, NULL);
}

static char *write_file(const char *name, const char *text)
{
    char *path = tmp_path(name);
    assert_true(g_file_set_contents(path, text, -1, NULL));
    return path;
}

/* Loads text written to a file; expects failure with every fragment in the message. */
static void expect_load_error(const char *text, int need_secret, int line, ...)
{
    char *path = write_file("bad.key", text);
    csd_curve_keys k;
    csd_error err = {0};
    assert_int_equal(csd_curve_keys_load(path, need_secret, &k, &err), -1);
    va_list ap;
    va_start(ap, line);
    for (const char *frag; (frag = va_arg(ap, const char *));) {
        if (!strstr(err.msg, frag)) fail_msg("'%s' not in error '%s'", frag, err.msg);
    }
    va_end(ap);
    if (line > 0) {
        char where[32];
        snprintf(where, sizeof where, "bad.key:%d:", line);
        if (!strstr(err.msg, where)) fail_msg("'%s' not in error '%s'", where, err.msg);
    }
    assert_string_equal(k.public_key, "");
    g_free(path);
}

static void test_available(void **state)
{
    assert_int_equal(csd_curve_available(), 1); /* the tests below need it */
}

static void test_roundtrip(void **state)
{
    csd_curve_keys k, a, b;
    csd_error err = {0};
    assert_int_equal(csd_curve_keys_generate(&k, &err), 0);
    assert_int_equal(strlen(k.public_key), 40);
    assert_int_equal(strlen(k.secret_key), 40);
    char *key = tmp_path("pair.key"), *pub = tmp_path("pair.pub");
    assert_int_equal(csd_curve_keys_save(key, &k, 1, &err), 0);
    assert_int_equal(csd_curve_keys_save(pub, &k, 0, &err), 0);

    struct stat st;
    assert_int_equal(stat(key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(pub, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);

    assert_int_equal(csd_curve_keys_load(key, 1, &a, &err), 0);
    assert_string_equal(a.public_key, k.public_key);
    assert_string_equal(a.secret_key, k.secret_key);
    assert_int_equal(csd_curve_keys_load(pub, 0, &b, &err), 0);
    assert_string_equal(b.public_key, k.public_key);
    assert_string_equal(b.secret_key, "");
    /* The .pub file holds no secret at all. */
    char *text = NULL;
    assert_true(g_file_get_contents(pub, &text, NULL, NULL));
    assert_null(strstr(text, k.secret_key));
    assert_null(strstr(text, "secret"));
    g_free(text);
    /* A .pub where a secret is needed. */
    assert_int_equal(csd_curve_keys_load(pub, 1, &b, &err), -1);
    assert_non_null(strstr(err.msg, "secret-key is missing"));
    assert_non_null(strstr(err.msg, "pair.pub:"));
    /* A pub file cannot make a server. */
    assert_int_equal(csd_curve_keys_save(key, &b, 1, &err), -1);
    g_free(key);
    g_free(pub);
}

static void test_errors(void **state)
{
    csd_curve_keys k1, k2;
    csd_error err = {0};
    assert_int_equal(csd_curve_keys_generate(&k1, &err), 0);
    assert_int_equal(csd_curve_keys_generate(&k2, &err), 0);
    char *t;

    /* Wrong length, on line 3. */
    expect_load_error("# c\n[curve]\npublic-key = abc\n", 0, 3, "public-key", "40 Z85", "has 3",
                      NULL);
    /* Not Z85: a quote and a comma are not in the alphabet. */
    t = g_strdup_printf("[curve]\n\npublic-key = %.38s\",\n", k1.public_key);
    expect_load_error(t, 0, 3, "not a Z85 key", "character 39", NULL);
    g_free(t);
    /* Missing public key. */
    t = g_strdup_printf("[curve]\nsecret-key = %s\n", k1.secret_key);
    expect_load_error(t, 0, 1, "public-key is missing", NULL);
    g_free(t);
    /* A secret key of another pair. */
    t = g_strdup_printf("[curve]\npublic-key = %s\nsecret-key = %s\n", k1.public_key,
                        k2.secret_key);
    expect_load_error(t, 1, 3, "secret-key", "does not belong to public-key", k2.public_key, NULL);
    g_free(t);
    /* Unknown key, missing group, not a key file at all. */
    t = g_strdup_printf("[curve]\npublic-key = %s\nsecrte-key = x\n", k1.public_key);
    expect_load_error(t, 0, 3, "secrte-key", NULL);
    g_free(t);
    expect_load_error("[keys]\n", 0, 0, "curve", NULL);
    expect_load_error("public-key = x\n", 0, 0, "bad.key", NULL);
    expect_load_error("", 0, 0, "curve", NULL);

    /* Unreadable file. */
    char *missing = tmp_path("nope.key");
    assert_int_equal(csd_curve_keys_load(missing, 0, &k1, &err), -1);
    assert_non_null(strstr(err.msg, "nope.key"));
    g_free(missing);
    /* Unwritable location. */
    assert_int_equal(csd_curve_keys_generate(&k1, &err), 0);
    assert_int_equal(csd_curve_keys_save("/nonexistent-dir/x.key", &k1, 1, &err), -1);
    assert_non_null(strstr(err.msg, "/nonexistent-dir/x.key"));

    char why[160];
    assert_int_equal(csd_curve_key_check(k1.public_key, why, sizeof why), 0);
    assert_int_equal(csd_curve_key_check("", why, sizeof why), -1);
}

static void test_authorized(void **state)
{
    csd_curve_keys k1, k2, k3;
    csd_error err = {0};
    assert_int_equal(csd_curve_keys_generate(&k1, &err), 0);
    assert_int_equal(csd_curve_keys_generate(&k2, &err), 0);
    assert_int_equal(csd_curve_keys_generate(&k3, &err), 0);
    char *t = g_strdup_printf("# clients\n\n%s\n  %s  \n# end\n", k1.public_key, k2.public_key);
    char *path = write_file("authorized", t);
    csd_curve_authorized *a = csd_curve_authorized_load(path, &err);
    assert_non_null(a);
    assert_int_equal(a->n, 2);
    uint8_t bin[32];
    assert_non_null(zmq_z85_decode(bin, k2.public_key));
    assert_int_equal(csd_curve_authorized_contains(a, bin), 1);
    assert_non_null(zmq_z85_decode(bin, k3.public_key));
    assert_int_equal(csd_curve_authorized_contains(a, bin), 0);
    csd_curve_authorized_free(&a);
    csd_curve_authorized_free(&a); /* safe twice */
    g_free(t);
    g_free(path);

    /* A bad line is named. */
    t = g_strdup_printf("%s\n# ok\npublic-key = %s\n", k1.public_key, k2.public_key);
    assert_null(csd_curve_authorized_parse(t, strlen(t), "auth.txt", &err));
    assert_non_null(strstr(err.msg, "auth.txt:3:"));
    assert_non_null(strstr(err.msg, "40 Z85"));
    g_free(t);
    /* Nothing authorized is an error, not "everybody". */
    assert_null(csd_curve_authorized_parse("# none\n\n", 8, "auth.txt", &err));
    assert_non_null(strstr(err.msg, "no public keys"));
    assert_null(csd_curve_authorized_load("/nonexistent/auth", &err));
    assert_non_null(strstr(err.msg, "/nonexistent/auth"));
}

/* A REQ socket, CURVE client of server with keys c (NULL: a fresh pair), connected to ep. */
static void *client_socket(void *ctx, const char *ep, const csd_curve_keys *server,
                           const csd_curve_keys *c)
{
    csd_error err = {0};
    void *s = zmq_socket(ctx, ZMQ_REQ);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(csd_curve_client_apply(s, server->public_key, c, &err), 0);
    assert_int_equal(zmq_connect(s, ep), 0);
    return s;
}

static void test_zap_handshake(void **state)
{
    void *ctx = zmq_ctx_new();
    csd_curve_keys server, good, bad, pubonly;
    csd_error err = {0};
    assert_int_equal(csd_curve_keys_generate(&server, &err), 0);
    assert_int_equal(csd_curve_keys_generate(&good, &err), 0);
    assert_int_equal(csd_curve_keys_generate(&bad, &err), 0);
    char *t = g_strdup_printf("%s\n", good.public_key);
    csd_curve_authorized *a = csd_curve_authorized_parse(t, strlen(t), "auth", &err);
    g_free(t);
    assert_non_null(a);
    csd_zap *zap = csd_zap_start(ctx, a, &err);
    assert_non_null(zap);
    /* One handler per context. */
    assert_null(csd_zap_start(ctx, NULL, &err));
    assert_non_null(strstr(err.msg, "one handler per ZeroMQ context"));

    void *rep = zmq_socket(ctx, ZMQ_REP);
    int zero = 0;
    zmq_setsockopt(rep, ZMQ_LINGER, &zero, sizeof zero);
    pubonly = server;
    pubonly.secret_key[0] = '\0';
    assert_int_equal(csd_curve_server_apply(rep, &pubonly, &err), -1);
    assert_non_null(strstr(err.msg, "secret key"));
    assert_int_equal(csd_curve_server_apply(rep, &server, &err), 0);
    assert_int_equal(zmq_bind(rep, "tcp://127.0.0.1:*"), 0);
    char ep[256];
    size_t eplen = sizeof ep;
    zmq_getsockopt(rep, ZMQ_LAST_ENDPOINT, ep, &eplen);

    /* The refused client first: its handshake ends at the ZAP handler, the server never sees
     * its request. Wait (no time limit assertion) until the handler has refused it. */
    void *c_bad = client_socket(ctx, ep, &server, &bad);
    assert_int_equal(zmq_send(c_bad, "hi", 2, ZMQ_DONTWAIT) == 2 || errno == EAGAIN, 1);
    while (csd_zap_refused(zap) == 0) g_usleep(1000);

    /* The authorized client gets its answer. */
    void *c_good = client_socket(ctx, ep, &server, &good);
    assert_int_equal(zmq_send(c_good, "ping", 4, 0), 4);
    char buf[16];
    assert_int_equal(zmq_recv(rep, buf, sizeof buf, 0), 4);
    assert_memory_equal(buf, "ping", 4);
    assert_int_equal(zmq_send(rep, "pong", 4, 0), 4);
    assert_int_equal(zmq_recv(c_good, buf, sizeof buf, 0), 4);
    assert_memory_equal(buf, "pong", 4);
    /* Nothing else arrived at the server: the refused client's request never got through. */
    assert_int_equal(zmq_recv(rep, buf, sizeof buf, ZMQ_DONTWAIT), -1);
    assert_int_equal(errno, EAGAIN);
    assert_true(csd_zap_refused(zap) >= 1);

    /* A bad server key is refused before connecting. */
    assert_int_equal(csd_curve_client_apply(c_good, "short", NULL, &err), -1);
    assert_non_null(strstr(err.msg, "server public key"));

    /* A plain (NULL mechanism) pair in the same context is not affected by the list. */
    void *prep = zmq_socket(ctx, ZMQ_REP);
    zmq_setsockopt(prep, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_bind(prep, "tcp://127.0.0.1:*"), 0);
    eplen = sizeof ep;
    zmq_getsockopt(prep, ZMQ_LAST_ENDPOINT, ep, &eplen);
    void *preq = zmq_socket(ctx, ZMQ_REQ);
    zmq_setsockopt(preq, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_connect(preq, ep), 0);
    assert_int_equal(zmq_send(preq, "plain", 5, 0), 5);
    assert_int_equal(zmq_recv(prep, buf, sizeof buf, 0), 5);

    zmq_close(preq);
    zmq_close(prep);
    zmq_close(c_bad);
    zmq_close(c_good);
    zmq_close(rep);
    csd_zap_stop(&zap);
    csd_zap_stop(&zap); /* safe twice */
    zmq_ctx_term(ctx);
}

/* Without a list, the handler accepts any client key (CURVE still encrypts). */
static void test_zap_any(void **state)
{
    void *ctx = zmq_ctx_new();
    csd_curve_keys server;
    csd_error err = {0};
    assert_int_equal(csd_curve_keys_generate(&server, &err), 0);
    csd_zap *zap = csd_zap_start(ctx, NULL, &err);
    assert_non_null(zap);
    void *rep = zmq_socket(ctx, ZMQ_REP);
    int zero = 0;
    zmq_setsockopt(rep, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(csd_curve_server_apply(rep, &server, &err), 0);
    assert_int_equal(zmq_bind(rep, "tcp://127.0.0.1:*"), 0);
    char ep[256], buf[16];
    size_t eplen = sizeof ep;
    zmq_getsockopt(rep, ZMQ_LAST_ENDPOINT, ep, &eplen);
    void *c = client_socket(ctx, ep, &server, NULL); /* a fresh pair */
    assert_int_equal(zmq_send(c, "any", 3, 0), 3);
    assert_int_equal(zmq_recv(rep, buf, sizeof buf, 0), 3);
    assert_int_equal(csd_zap_refused(zap), 0);
    zmq_close(c);
    zmq_close(rep);
    csd_zap_stop(&zap);
    zmq_ctx_term(ctx);
}

int main(void)
{
    tmpdir = g_dir_make_tmp("csd-curve-XXXXXX", NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_available),     cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_errors),        cmocka_unit_test(test_authorized),
        cmocka_unit_test(test_zap_handshake), cmocka_unit_test(test_zap_any),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char *cmd = g_strdup_printf("rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) rc = 1;
    g_free(cmd);
    g_free(tmpdir);
    return rc;
}
