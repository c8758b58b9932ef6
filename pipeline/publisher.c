/* camstreamd's publish sockets and forwarding threads (publisher.h). */
#include "publisher.h"

#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

typedef struct fwd {
    char *endpoint;               /* as configured */
    char *inproc;                 /* inproc://camstream-publish-N */
    char *bound;                  /* ZMQ_LAST_ENDPOINT of the XPUB */
    void *xpub, *xsub, *stop_thr; /* owned by the thread once it runs */
    void *stop_main, *status_pub; /* main thread */
    GThread *thread;
    csd_publisher *owner;
} fwd;

struct csd_publisher {
    void *ctx;
    csd_curve_keys *curve; /* NULL: plain TCP */
    GPtrArray *fwds;       /* fwd * */
    GMutex lock;           /* drops */
    GHashTable *drops;     /* stream name → guint64 * */
};

csd_publisher *csd_publisher_new(void *zmq_ctx, const csd_curve_keys *curve)
{
    csd_publisher *p = g_new0(csd_publisher, 1);
    p->ctx = zmq_ctx;
    if (curve) p->curve = g_memdup2(curve, sizeof *curve);
    p->fwds = g_ptr_array_new();
    g_mutex_init(&p->lock);
    p->drops = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    return p;
}

static void close_socket(void **s)
{
    if (!*s) return;
    int linger = 0;
    zmq_setsockopt(*s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(*s);
    *s = NULL;
}

static void count_drop(csd_publisher *p, const char *topic, size_t len)
{
    const char *dot = memchr(topic, '.', len);
    if (!dot) return;
    char *name = g_strndup(dot + 1, len - (size_t)(dot + 1 - topic));
    g_mutex_lock(&p->lock);
    guint64 *n = g_hash_table_lookup(p->drops, name);
    if (!n) {
        n = g_new0(guint64, 1);
        g_hash_table_insert(p->drops, name, n);
        name = NULL;
    }
    (*n)++;
    g_mutex_unlock(&p->lock);
    g_free(name);
}

/* Moves every complete message waiting on the XSUB to the XPUB; a message the XPUB refuses
 * (a subscriber at its high-water mark) is read to its end and counted. */
static void forward_messages(fwd *f)
{
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, f->xsub, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        int more = zmq_msg_more(&m);
        char topic[128];
        size_t tl = MIN(zmq_msg_size(&m), sizeof topic);
        memcpy(topic, zmq_msg_data(&m), tl);
        int dropped = zmq_msg_send(&m, f->xpub, ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0)) < 0;
        if (dropped) {
            zmq_msg_close(&m);
            count_drop(f->owner, topic, tl);
        }
        while (more) { /* the rest of the message; frames of a message arrive together */
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, f->xsub, 0) < 0) {
                zmq_msg_close(&m);
                return;
            }
            more = zmq_msg_more(&m);
            if (dropped || zmq_msg_send(&m, f->xpub, more ? ZMQ_SNDMORE : 0) < 0) zmq_msg_close(&m);
        }
    }
}

/* Subscriptions (and unsubscriptions) from subscribers, upstream to the publishers. */
static void forward_subscriptions(fwd *f)
{
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, f->xpub, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        if (zmq_msg_send(&m, f->xsub, ZMQ_DONTWAIT) < 0) zmq_msg_close(&m);
    }
}

static gpointer run(gpointer data)
{
    fwd *f = data;
    zmq_pollitem_t items[3] = {
        {f->xsub, 0, ZMQ_POLLIN, 0},
        {f->xpub, 0, ZMQ_POLLIN, 0},
        {f->stop_thr, 0, ZMQ_POLLIN, 0},
    };
    for (;;) {
        if (zmq_poll(items, 3, -1) < 0) {
            if (errno == EINTR) continue;
            break; /* ETERM: the context is going away */
        }
        if (items[2].revents & ZMQ_POLLIN) {
            forward_messages(f); /* the final statuses, sent just before the stop */
            break;
        }
        if (items[1].revents & ZMQ_POLLIN) forward_subscriptions(f);
        if (items[0].revents & ZMQ_POLLIN) forward_messages(f);
    }
    /* up to a second for subscribers to receive what was sent (zmq_ctx_term waits) */
    int linger = 1000;
    zmq_setsockopt(f->xpub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(f->xpub);
    f->xpub = NULL;
    close_socket(&f->xsub);
    close_socket(&f->stop_thr);
    return NULL;
}

static void fwd_free(fwd *f)
{
    if (f->thread) {
        zmq_send(f->stop_main, "", 0, 0);
        g_thread_join(f->thread);
    }
    close_socket(&f->xpub);
    close_socket(&f->xsub);
    close_socket(&f->stop_thr);
    close_socket(&f->stop_main);
    close_socket(&f->status_pub);
    g_free(f->endpoint);
    g_free(f->inproc);
    g_free(f->bound);
    g_free(f);
}

void csd_publisher_free(csd_publisher **pp)
{
    if (!pp || !*pp) return;
    csd_publisher *p = *pp;
    for (guint i = 0; i < p->fwds->len; i++) fwd_free(g_ptr_array_index(p->fwds, i));
    g_ptr_array_free(p->fwds, TRUE);
    g_hash_table_destroy(p->drops);
    g_mutex_clear(&p->lock);
    if (p->curve) memset(p->curve, 0, sizeof *p->curve); /* the secret key */
    g_free(p->curve);
    g_free(p);
    *pp = NULL;
}

static fwd *find(csd_publisher *p, const char *ep)
{
    for (guint i = 0; i < p->fwds->len; i++) {
        fwd *f = g_ptr_array_index(p->fwds, i);
        if (strcmp(f->endpoint, ep) == 0) return f;
    }
    return NULL;
}

static void *make(csd_publisher *p, int type)
{
    void *s = zmq_socket(p->ctx, type);
    if (s) {
        int linger = 0;
        zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    }
    return s;
}

const char *csd_publisher_open(csd_publisher *p, const char *ep, char *why, size_t len)
{
    fwd *f = find(p, ep);
    if (f) return f->inproc;
    f = g_new0(fwd, 1);
    f->owner = p;
    f->endpoint = g_strdup(ep);
    /* inproc names are per ZeroMQ context, and a closed socket's name is released only later
     * (zmq_close is asynchronous): never reuse one in this process */
    static gint next_id;
    int id = g_atomic_int_add(&next_id, 1);
    f->inproc = g_strdup_printf("inproc://camstream-publish-%d", id);
    char *stop = g_strdup_printf("inproc://camstream-publish-%d-stop", id);
    f->xpub = make(p, ZMQ_XPUB);
    f->xsub = make(p, ZMQ_XSUB);
    f->stop_thr = make(p, ZMQ_PAIR);
    f->stop_main = make(p, ZMQ_PAIR);
    f->status_pub = make(p, ZMQ_PUB);
    int nodrop = 1, ok = f->xpub && f->xsub && f->stop_thr && f->stop_main && f->status_pub;
    if (!ok) {
        snprintf(why, len, "cannot create ZeroMQ sockets: %s", zmq_strerror(errno));
    } else {
        zmq_setsockopt(f->xpub, ZMQ_XPUB_NODROP, &nodrop, sizeof nodrop);
        zmq_setsockopt(f->status_pub, ZMQ_XPUB_NODROP, &nodrop, sizeof nodrop);
        csd_error e;
        if (p->curve && csd_curve_server_apply(f->xpub, p->curve, &e) != 0) {
            snprintf(why, len, "%s", e.msg);
            ok = 0;
        } else if (zmq_bind(f->xpub, ep) != 0) {
            snprintf(why, len, "%s", zmq_strerror(errno));
            ok = 0;
        } else if (zmq_bind(f->xsub, f->inproc) != 0 || zmq_bind(f->stop_thr, stop) != 0 ||
                   zmq_connect(f->stop_main, stop) != 0 ||
                   zmq_connect(f->status_pub, f->inproc) != 0) {
            snprintf(why, len, "inproc sockets: %s", zmq_strerror(errno));
            ok = 0;
        }
    }
    g_free(stop);
    if (!ok) {
        fwd_free(f);
        return NULL;
    }
    char last[512] = "";
    size_t n = sizeof last;
    zmq_getsockopt(f->xpub, ZMQ_LAST_ENDPOINT, last, &n);
    f->bound = g_strdup(last[0] ? last : ep);
    /* the sockets move to the thread (thread creation is a full memory barrier) */
    f->thread = g_thread_new("csd-publish", run, f);
    g_ptr_array_add(p->fwds, f);
    return f->inproc;
}

int csd_publisher_send(csd_publisher *p, const char *ep, const char *topic, const void *data,
                       size_t len)
{
    fwd *f = find(p, ep);
    if (!f) return -1;
    if (zmq_send(f->status_pub, topic, strlen(topic), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) return -1;
    return zmq_send(f->status_pub, data, len, ZMQ_DONTWAIT) < 0 ? -1 : 0;
}

uint64_t csd_publisher_dropped(csd_publisher *p, const char *name)
{
    g_mutex_lock(&p->lock);
    guint64 *n = g_hash_table_lookup(p->drops, name);
    uint64_t v = n ? *n : 0;
    g_mutex_unlock(&p->lock);
    return v;
}

const char *csd_publisher_bound(csd_publisher *p, const char *ep)
{
    fwd *f = find(p, ep);
    return f ? f->bound : NULL;
}
