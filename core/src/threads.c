/* Worker pool: workers spin briefly on a generation counter, then sleep on a condition
 * variable, so a chain of small ops (depthwise convs, pools) pays no wake-up latency. */
#include "threads.h"

#include <cblas.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#define CS_SPIN_ITERS 20000

struct cs_pool {
    int threads;
    pthread_t *tids;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_uint gen;    /* bumped for every job */
    atomic_int pending; /* workers still running the current job */
    atomic_int stop;
    cs_range_fn fn;
    void *ctx;
    int64_t n;
    int parts;
};

typedef struct {
    cs_pool *p;
    int index;
} cs_worker_arg;

static void run_part(cs_pool *p, int part)
{
    int64_t per = p->n / p->parts, rem = p->n % p->parts;
    int64_t b = part * per + (part < rem ? part : rem);
    int64_t e = b + per + (part < rem ? 1 : 0);
    if (b < e) p->fn(p->ctx, b, e);
}

static void *worker(void *arg)
{
    cs_worker_arg *wa = arg;
    cs_pool *p = wa->p;
    int index = wa->index;
    free(wa);
    unsigned seen = 0;
    for (;;) {
        unsigned g;
        int spins = 0;
        while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen &&
               !atomic_load(&p->stop)) {
            if (++spins > CS_SPIN_ITERS) {
                pthread_mutex_lock(&p->mu);
                while (atomic_load(&p->gen) == seen && !atomic_load(&p->stop))
                    pthread_cond_wait(&p->cv, &p->mu);
                pthread_mutex_unlock(&p->mu);
                spins = 0;
            }
        }
        if (atomic_load(&p->stop)) return NULL;
        seen = g;
        if (index < p->parts) run_part(p, index);
        atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel);
    }
}

cs_pool *cs_pool_new(int threads)
{
    if (threads < 2) return NULL;
    cs_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->threads = threads;
    p->tids = calloc((size_t)threads, sizeof *p->tids);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (!p->tids) {
        free(p);
        return NULL;
    }
    for (int i = 1; i < threads; i++) {
        cs_worker_arg *wa = malloc(sizeof *wa);
        if (!wa) break;
        wa->p = p;
        wa->index = i;
        if (pthread_create(&p->tids[i], NULL, worker, wa) != 0) {
            free(wa);
            p->threads = i; /* fewer workers than asked; still correct */
            break;
        }
    }
    return p;
}

void cs_pool_destroy(cs_pool **pp)
{
    if (!pp || !*pp) return;
    cs_pool *p = *pp;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->threads; i++) pthread_join(p->tids[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->tids);
    free(p);
    *pp = NULL;
}

int cs_pool_threads(const cs_pool *p)
{
    return p ? p->threads : 1;
}

void cs_parallel_for(const cs_exec *ex, int64_t n, cs_range_fn fn, void *ctx)
{
    cs_pool *p = ex ? ex->pool : NULL;
    if (!p || n < 2) {
        if (n > 0) fn(ctx, 0, n);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    p->parts = n < p->threads ? (int)n : p->threads;
    atomic_store(&p->pending, p->threads - 1);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    run_part(p, 0);
    while (atomic_load_explicit(&p->pending, memory_order_acquire) > 0) {
    }
}

void cs_blas_threads(int threads)
{
    static _Thread_local int current = -1;
    if (threads < 1) threads = 1;
    if (threads != current) {
        openblas_set_num_threads(threads);
        current = threads;
    }
}

int cs_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}
