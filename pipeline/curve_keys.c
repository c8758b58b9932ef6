/* CURVE key files, authorized keys, socket options and the ZAP handler (curve_keys.h). */
#include "curve_keys.h"

#include "formats/keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

static const char z85_alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   ".-:+=^!/*?&<>()[]{}@%$#";

static int fail(csd_error *err, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(csd_error *err, int line, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->status = CS_ERR_INVALID;
        err->line = line;
    }
    return -1;
}

static int from_cs(csd_error *err, const cs_error *ce, int line)
{
    return fail(err, line, "%s", ce->msg);
}

int csd_curve_available(void)
{
    return zmq_has("curve") ? 1 : 0;
}

int csd_curve_key_check(const char *z85, char *why, size_t len)
{
    size_t n = strlen(z85);
    if (n != CSD_Z85_KEY_LEN) {
        snprintf(why, len, "a key is %d Z85 characters, this one has %zu", CSD_Z85_KEY_LEN, n);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (!z85[i] || !strchr(z85_alphabet, z85[i])) {
            snprintf(why, len, "not a Z85 key: character %zu ('%c') is not in the Z85 alphabet",
                     i + 1, z85[i] >= 0x20 && z85[i] < 0x7f ? z85[i] : '?');
            return -1;
        }
    uint8_t bin[32];
    if (!zmq_z85_decode(bin, z85)) {
        snprintf(why, len, "not a Z85 key (libzmq cannot decode it)");
        return -1;
    }
    return 0;
}

int csd_curve_keys_generate(csd_curve_keys *k, csd_error *err)
{
    memset(k, 0, sizeof *k);
    if (!csd_curve_available())
        return fail(err, 0, "this libzmq has no CURVE support (zmq_has(\"curve\") is false)");
    if (zmq_curve_keypair(k->public_key, k->secret_key))
        return fail(err, 0, "zmq_curve_keypair: %s", zmq_strerror(errno));
    return 0;
}

static const char *const curve_keys_names[] = {"public-key", "secret-key", NULL};
static const kf_group curve_groups[] = {{"curve", curve_keys_names}, {NULL, NULL}};
static const char *const curve_required[] = {"curve", NULL};

/* One key value: present, 40 Z85 characters. */
static int read_key(const kf_file *f, const char *key, char out[CSD_Z85_KEY_LEN + 1],
                    csd_error *err)
{
    cs_error ce = {0};
    char *v = NULL;
    int r = kf_string(f, "curve", key, &v, &ce);
    if (r < 0) return from_cs(err, &ce, kf_line(f, "curve", key));
    if (r == 0) return 0;
    char why[160];
    if (csd_curve_key_check(v, why, sizeof why)) {
        kf_fail(f, &ce, CS_ERR_PARSE, "curve", key, "%s", why);
        g_free(v);
        return from_cs(err, &ce, kf_line(f, "curve", key));
    }
    memcpy(out, v, CSD_Z85_KEY_LEN + 1);
    g_free(v);
    return 1;
}

int csd_curve_keys_parse(const char *text, size_t len, const char *path, int need_secret,
                         csd_curve_keys *k, csd_error *err)
{
    memset(k, 0, sizeof *k);
    kf_file f = {0};
    cs_error ce = {0};
    if (kf_open(&f, text, len, path, curve_groups, curve_required, &ce)) {
        kf_close(&f);
        return from_cs(err, &ce, 0);
    }
    int rc = -1;
    int has_pub = read_key(&f, "public-key", k->public_key, err);
    if (has_pub < 0) goto out;
    if (has_pub == 0) {
        kf_fail(&f, &ce, CS_ERR_PARSE, "curve", NULL, "public-key is missing");
        from_cs(err, &ce, kf_line(&f, "curve", NULL));
        goto out;
    }
    int has_sec = read_key(&f, "secret-key", k->secret_key, err);
    if (has_sec < 0) goto out;
    if (has_sec == 0 && need_secret) {
        kf_fail(&f, &ce, CS_ERR_PARSE, "curve", NULL,
                "secret-key is missing (a .pub file? this needs the .key file of the pair)");
        from_cs(err, &ce, kf_line(&f, "curve", NULL));
        goto out;
    }
    if (has_sec) {
        char derived[CSD_Z85_KEY_LEN + 1];
        if (zmq_curve_public(derived, k->secret_key)) {
            fail(err, 0, "%s: zmq_curve_public: %s (no CURVE support?)", path ? path : "memory",
                 zmq_strerror(errno));
            goto out;
        }
        if (strcmp(derived, k->public_key) != 0) {
            kf_fail(&f, &ce, CS_ERR_PARSE, "curve", "secret-key",
                    "does not belong to public-key (its public key is %s)", derived);
            from_cs(err, &ce, kf_line(&f, "curve", "secret-key"));
            goto out;
        }
    }
    rc = 0;
out:
    kf_close(&f);
    if (rc) memset(k, 0, sizeof *k);
    return rc;
}

int csd_curve_keys_load(const char *path, int need_secret, csd_curve_keys *k, csd_error *err)
{
    cs_error ce = {0};
    size_t len = 0;
    char *text = kf_read_file(path, &len, &ce);
    if (!text) {
        memset(k, 0, sizeof *k);
        return from_cs(err, &ce, 0);
    }
    int rc = csd_curve_keys_parse(text, len, path, need_secret, k, err);
    g_free(text);
    return rc;
}

int csd_curve_keys_save(const char *path, const csd_curve_keys *k, int with_secret, csd_error *err)
{
    char why[160];
    if (csd_curve_key_check(k->public_key, why, sizeof why))
        return fail(err, 0, "%s: public key: %s", path, why);
    if (with_secret && csd_curve_key_check(k->secret_key, why, sizeof why))
        return fail(err, 0, "%s: secret key: %s", path, why);
    char *text = g_strdup_printf("# camstream CURVE %s (camstream keygen)\n"
                                 "[curve]\n"
                                 "public-key = %s\n"
                                 "%s%s%s",
                                 with_secret ? "key pair: keep this file secret" : "public key",
                                 k->public_key, with_secret ? "secret-key = " : "",
                                 with_secret ? k->secret_key : "", with_secret ? "\n" : "");
    /* Created with its final mode so that the secret is never readable by others, even briefly;
     * an existing file is replaced (O_TRUNC) and its mode set again. */
    mode_t mode = with_secret ? 0600 : 0644;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    int rc = 0;
    if (fd < 0) {
        rc = fail(err, 0, "%s: cannot write: %s", path, g_strerror(errno));
    } else {
        size_t n = strlen(text);
        if (fchmod(fd, mode) || write(fd, text, n) != (ssize_t)n)
            rc = fail(err, 0, "%s: cannot write: %s", path, g_strerror(errno));
        if (close(fd) && rc == 0)
            rc = fail(err, 0, "%s: cannot write: %s", path, g_strerror(errno));
    }
    memset(text, 0, strlen(text));
    g_free(text);
    return rc;
}

csd_curve_authorized *csd_curve_authorized_parse(const char *text, size_t len, const char *path,
                                                 csd_error *err)
{
    const char *what = path ? path : "memory";
    csd_curve_authorized *a = g_new0(csd_curve_authorized, 1);
    char *copy = g_strndup(text, len);
    char **lines = g_strsplit(copy, "\n", -1);
    g_free(copy);
    int cap = 0, bad = 0;
    for (int i = 0; lines[i] && !bad; i++) {
        char *l = g_strstrip(lines[i]);
        if (!*l || *l == '#') continue;
        char why[160];
        if (csd_curve_key_check(l, why, sizeof why)) {
            fail(err, i + 1, "%s:%d: %s >>> %.60s", what, i + 1, why, l);
            bad = 1;
            break;
        }
        if (a->n == cap) {
            cap = cap ? 2 * cap : 8;
            a->keys = g_realloc_n(a->keys, (gsize)cap, sizeof *a->keys);
        }
        zmq_z85_decode(a->keys[a->n++], l);
    }
    g_strfreev(lines);
    if (!bad && a->n == 0) {
        fail(err, 0, "%s: no public keys (one Z85 key per line; '#' starts a comment)", what);
        bad = 1;
    }
    if (bad) csd_curve_authorized_free(&a);
    return a;
}

csd_curve_authorized *csd_curve_authorized_load(const char *path, csd_error *err)
{
    cs_error ce = {0};
    size_t len = 0;
    char *text = kf_read_file(path, &len, &ce);
    if (!text) {
        from_cs(err, &ce, 0);
        return NULL;
    }
    csd_curve_authorized *a = csd_curve_authorized_parse(text, len, path, err);
    g_free(text);
    return a;
}

void csd_curve_authorized_free(csd_curve_authorized **a)
{
    if (!a || !*a) return;
    g_free((*a)->keys);
    g_free(*a);
    *a = NULL;
}

int csd_curve_authorized_contains(const csd_curve_authorized *a, const uint8_t key[32])
{
    for (int i = 0; a && i < a->n; i++)
        if (memcmp(a->keys[i], key, 32) == 0) return 1;
    return 0;
}

int csd_curve_server_apply(void *socket, const csd_curve_keys *server, csd_error *err)
{
    if (!csd_curve_available()) return fail(err, 0, "this libzmq has no CURVE support");
    if (!server->secret_key[0])
        return fail(err, 0, "a CURVE server needs its secret key (the .key file, not the .pub)");
    int one = 1;
    if (zmq_setsockopt(socket, ZMQ_CURVE_SERVER, &one, sizeof one) ||
        zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, server->secret_key, CSD_Z85_KEY_LEN + 1))
        return fail(err, 0, "CURVE server options: %s", zmq_strerror(errno));
    return 0;
}

int csd_curve_client_apply(void *socket, const char *server_public, const csd_curve_keys *client,
                           csd_error *err)
{
    if (!csd_curve_available()) return fail(err, 0, "this libzmq has no CURVE support");
    char why[160];
    if (csd_curve_key_check(server_public, why, sizeof why))
        return fail(err, 0, "server public key: %s", why);
    csd_curve_keys fresh;
    if (!client) {
        if (csd_curve_keys_generate(&fresh, err)) return -1;
        client = &fresh;
    }
    if (!client->secret_key[0])
        return fail(err, 0, "a CURVE client needs its secret key (the .key file, not the .pub)");
    if (zmq_setsockopt(socket, ZMQ_CURVE_SERVERKEY, server_public, CSD_Z85_KEY_LEN + 1) ||
        zmq_setsockopt(socket, ZMQ_CURVE_PUBLICKEY, client->public_key, CSD_Z85_KEY_LEN + 1) ||
        zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, client->secret_key, CSD_Z85_KEY_LEN + 1))
        return fail(err, 0, "CURVE client options: %s", zmq_strerror(errno));
    return 0;
}

/* ZAP handler ---------------------------------------------------------------------------- */

struct csd_zap {
    void *ctx;
    void *rep;  /* inproc://zeromq.zap.01, owned by the thread once it runs */
    void *stop; /* PAIR: the owner's end of the stop signal */
    char stop_ep[64];
    csd_curve_authorized *authorized;
    GThread *thread;
    gint refused; /* atomic: the thread counts, anyone reads */
};

/* Receives one multipart request into frames (at most 8 kept), returns the count or -1. */
static int recv_frames(void *s, zmq_msg_t *frames, int max)
{
    int n = 0, more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, s, 0) < 0) {
            zmq_msg_close(&m);
            for (int i = 0; i < n; i++) zmq_msg_close(&frames[i]);
            return -1;
        }
        more = zmq_msg_more(&m);
        if (n < max)
            frames[n++] = m;
        else
            zmq_msg_close(&m);
    }
    return n;
}

static int frame_is(zmq_msg_t *m, const char *s)
{
    size_t n = strlen(s);
    return zmq_msg_size(m) == n && memcmp(zmq_msg_data(m), s, n) == 0;
}

static void zap_answer(csd_zap *z)
{
    zmq_msg_t f[8];
    int n = recv_frames(z->rep, f, 8);
    if (n < 0) return;
    /* version, request id, domain, address, routing id, mechanism, credentials... */
    const char *code = "400", *text = "malformed ZAP request";
    if (n >= 6 && frame_is(&f[0], "1.0")) {
        if (frame_is(&f[5], "CURVE") && n >= 7 && zmq_msg_size(&f[6]) == 32) {
            if (!z->authorized ||
                csd_curve_authorized_contains(z->authorized, zmq_msg_data(&f[6]))) {
                code = "200";
                text = "OK";
            } else {
                text = "client key not authorized";
            }
        } else if (!frame_is(&f[5], "CURVE")) {
            /* Another mechanism's socket in the same context (ZAP domain set): the list
             * concerns CURVE client keys only. */
            code = "200";
            text = "OK";
        }
    }
    if (code[0] != '2') g_atomic_int_inc(&z->refused);
    zmq_send(z->rep, "1.0", 3, ZMQ_SNDMORE);
    if (n >= 2)
        zmq_send(z->rep, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]), ZMQ_SNDMORE);
    else
        zmq_send(z->rep, "", 0, ZMQ_SNDMORE);
    zmq_send(z->rep, code, 3, ZMQ_SNDMORE);
    zmq_send(z->rep, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(z->rep, "", 0, ZMQ_SNDMORE); /* user id */
    zmq_send(z->rep, "", 0, 0);           /* metadata */
    for (int i = 0; i < n; i++) zmq_msg_close(&f[i]);
}

static gpointer zap_thread(gpointer data)
{
    csd_zap *z = data;
    void *stop = zmq_socket(z->ctx, ZMQ_PAIR);
    zmq_connect(stop, z->stop_ep);
    zmq_send(stop, "", 0, 0); /* ready: the owner may return */
    for (;;) {
        zmq_pollitem_t items[2] = {{z->rep, 0, ZMQ_POLLIN, 0}, {stop, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(items, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (items[1].revents & ZMQ_POLLIN) break;
        if (items[0].revents & ZMQ_POLLIN) zap_answer(z);
    }
    int zero = 0;
    zmq_setsockopt(stop, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(z->rep, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close(stop);
    zmq_close(z->rep);
    z->rep = NULL;
    return NULL;
}

csd_zap *csd_zap_start(void *ctx, csd_curve_authorized *authorized, csd_error *err)
{
    csd_zap *z = g_new0(csd_zap, 1);
    z->ctx = ctx;
    z->authorized = authorized;
    int zero = 0;
    z->rep = zmq_socket(ctx, ZMQ_REP);
    z->stop = zmq_socket(ctx, ZMQ_PAIR);
    snprintf(z->stop_ep, sizeof z->stop_ep, "inproc://csd-zap-stop-%p", (void *)z);
    if (!z->rep || !z->stop || zmq_bind(z->rep, "inproc://zeromq.zap.01") ||
        zmq_bind(z->stop, z->stop_ep)) {
        fail(err, 0, "ZAP handler: cannot bind inproc://zeromq.zap.01: %s%s", zmq_strerror(errno),
             errno == EADDRINUSE ? " (one handler per ZeroMQ context)" : "");
        if (z->rep) zmq_setsockopt(z->rep, ZMQ_LINGER, &zero, sizeof zero), zmq_close(z->rep);
        if (z->stop) zmq_setsockopt(z->stop, ZMQ_LINGER, &zero, sizeof zero), zmq_close(z->stop);
        csd_curve_authorized_free(&z->authorized);
        g_free(z);
        return NULL;
    }
    zmq_setsockopt(z->stop, ZMQ_LINGER, &zero, sizeof zero);
    z->thread = g_thread_new("csd-zap", zap_thread, z);
    char ready;
    zmq_recv(z->stop, &ready, 0, 0);
    return z;
}

unsigned csd_zap_refused(const csd_zap *z)
{
    return z ? (unsigned)g_atomic_int_get(&((csd_zap *)z)->refused) : 0;
}

void csd_zap_stop(csd_zap **zp)
{
    if (!zp || !*zp) return;
    csd_zap *z = *zp;
    zmq_send(z->stop, "", 0, 0);
    g_thread_join(z->thread);
    zmq_close(z->stop);
    csd_curve_authorized_free(&z->authorized);
    g_free(z);
    *zp = NULL;
}
