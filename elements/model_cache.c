/* The process-wide model cache (model_cache.h): a short list of entries under one mutex. The
 * file is opened once and its size and modification time taken from that open file (fstat),
 * so the key always describes the bytes that were parsed, even when the file is replaced
 * while it is being read. */
#include "model_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    gchar *path; /* canonical */
    gint64 size, mtime_ns;
    dev_t dev;
    ino_t ino;
    cs_model *model;
    unsigned users;
} entry;

static GMutex lock;
static GPtrArray *entries; /* entry *, under lock */
static unsigned long loads;

static void fail(cs_error *err, cs_status st, const char *path, const char *why)
{
    if (!err) return;
    err->status = st;
    snprintf(err->msg, sizeof err->msg, "%s: %s", path, why);
}

/* The whole open file fd into a new buffer; NULL with errno on failure. */
static void *read_all(int fd, size_t len)
{
    char *buf = malloc(len ? len : 1);
    if (!buf) return NULL;
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            if (r == 0) errno = EIO; /* shorter than fstat said: truncated meanwhile */
            free(buf);
            return NULL;
        }
        got += (size_t)r;
    }
    return buf;
}

static entry *find(cs_model *m)
{
    for (guint i = 0; entries && i < entries->len; i++) {
        entry *e = g_ptr_array_index(entries, i);
        if (e->model == m) return e;
    }
    return NULL;
}

cs_model *cs_model_cache_acquire(const char *path, cs_error *err)
{
    if (!path || !*path) {
        fail(err, CS_ERR_IO, "(none)", "no model file given");
        return NULL;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        fail(err, CS_ERR_IO, path, strerror(errno));
        if (fd >= 0) close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        fail(err, CS_ERR_IO, path, "not a regular file");
        close(fd);
        return NULL;
    }
    char *canon = realpath(path, NULL);
    gint64 mtime = (gint64)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;

    g_mutex_lock(&lock);
    if (!entries) entries = g_ptr_array_new();
    cs_model *m = NULL;
    for (guint i = 0; i < entries->len; i++) {
        entry *e = g_ptr_array_index(entries, i);
        if (e->dev == st.st_dev && e->ino == st.st_ino && e->size == (gint64)st.st_size &&
            e->mtime_ns == mtime && g_strcmp0(e->path, canon) == 0) {
            e->users++;
            m = e->model;
            break;
        }
    }
    if (!m) {
        void *buf = read_all(fd, (size_t)st.st_size);
        if (!buf) {
            fail(err, CS_ERR_IO, path, strerror(errno));
        } else {
            m = cs_model_load_memory(buf, (size_t)st.st_size, path, err);
            free(buf);
        }
        if (m) {
            entry *e = g_new0(entry, 1);
            e->path = g_strdup(canon);
            e->size = (gint64)st.st_size;
            e->mtime_ns = mtime;
            e->dev = st.st_dev;
            e->ino = st.st_ino;
            e->model = m;
            e->users = 1;
            g_ptr_array_add(entries, e);
            loads++;
        }
    }
    g_mutex_unlock(&lock);
    free(canon);
    close(fd);
    return m;
}

void cs_model_cache_release(cs_model **m)
{
    if (!m || !*m) return;
    g_mutex_lock(&lock);
    entry *e = find(*m);
    gboolean last = e && --e->users == 0;
    if (last) g_ptr_array_remove_fast(entries, e);
    if (entries && entries->len == 0) g_clear_pointer(&entries, g_ptr_array_unref);
    g_mutex_unlock(&lock);
    if (last) {
        cs_model_destroy(&e->model);
        g_free(e->path);
        g_free(e);
    } else if (!e) {
        cs_model_destroy(m); /* not from the cache: ours to free */
    }
    *m = NULL;
}

unsigned cs_model_cache_users(const cs_model *m)
{
    g_mutex_lock(&lock);
    entry *e = m ? find((cs_model *)m) : NULL;
    unsigned n = e ? e->users : 0;
    g_mutex_unlock(&lock);
    return n;
}

unsigned long cs_model_cache_loads(void)
{
    g_mutex_lock(&lock);
    unsigned long n = loads;
    g_mutex_unlock(&lock);
    return n;
}
