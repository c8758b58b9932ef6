/* The shared derived-weights cache (wcache.h): a list under one mutex. Lookups happen only
 * at plan time (a few hundred per plan), so a list is enough. */
#include "wcache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct cs_wcache_entry {
    const void *model;
    int64_t *key;
    int n;
    void *data;
    void (*free_fn)(void *);
    int refs;
    cs_wcache_entry *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static cs_wcache_entry *head;

static cs_wcache_entry *find(const void *model, const int64_t *key, int n)
{
    for (cs_wcache_entry *e = head; e; e = e->next)
        if (e->model == model && e->n == n && !memcmp(e->key, key, sizeof *key * (size_t)n))
            return e;
    return NULL;
}

cs_wcache_entry *cs_wcache_get(const void *model, const int64_t *key, int n, void **data)
{
    pthread_mutex_lock(&lock);
    cs_wcache_entry *e = find(model, key, n);
    if (e) {
        e->refs++;
        *data = e->data;
    }
    pthread_mutex_unlock(&lock);
    return e;
}

cs_wcache_entry *cs_wcache_put(const void *model, const int64_t *key, int n, void **data,
                               void (*free_fn)(void *))
{
    pthread_mutex_lock(&lock);
    cs_wcache_entry *e = find(model, key, n);
    if (e) { /* another plan computed the same thing meanwhile: use its copy */
        e->refs++;
        free_fn(*data);
        *data = e->data;
    } else if ((e = calloc(1, sizeof *e)) && (e->key = malloc(sizeof *key * (size_t)n + 1))) {
        memcpy(e->key, key, sizeof *key * (size_t)n);
        *e = (cs_wcache_entry){model, e->key, n, *data, free_fn, 1, head};
        head = e;
    } else {
        free(e);
        e = NULL;
    }
    pthread_mutex_unlock(&lock);
    return e;
}

void cs_wcache_release(cs_wcache_entry *e)
{
    if (!e) return;
    pthread_mutex_lock(&lock);
    int left = --e->refs;
    if (!left)
        for (cs_wcache_entry **pp = &head; *pp; pp = &(*pp)->next)
            if (*pp == e) {
                *pp = e->next;
                break;
            }
    pthread_mutex_unlock(&lock);
    if (!left) { /* unlinked: free outside the lock */
        e->free_fn(e->data);
        free(e->key);
        free(e);
    }
}

int cs_wcache_count(void)
{
    pthread_mutex_lock(&lock);
    int c = 0;
    for (cs_wcache_entry *e = head; e; e = e->next) c++;
    pthread_mutex_unlock(&lock);
    return c;
}
