/* Worker pool. A job is split into `parts` chunks that the caller and the workers claim one
 * at a time from a shared word (job id, part count and next part), so the
 * caller runs a part itself when a worker is late (asleep, or descheduled because other
 * processes hold the cores) instead of waiting for it. Idle workers spin for a while
 * (CS_SPIN_NS of wall time, with the pause instruction), then sleep on a condition variable,
 * so the back-to-back parallel ops of a run pay no wake-up latency and idle pools do not hold
 * the cores. The caller only takes the mutex to wake workers that went to sleep, and yields
 * its core while it waits for parts still running elsewhere. */
#include "threads.h"

#include <cblas.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

/* How long an idle worker spins before it sleeps: longer than the gaps between the parallel
 * parts of one run (a few microseconds to a few hundred for a serial op), short enough not
 * to hold a core long after a run ends. */
#ifndef CS_SPIN_NS
#define CS_SPIN_NS 300000
#endif
/* How long the caller spins on parts running elsewhere before it yields between checks. */
#ifndef CS_WAIT_SPIN_NS
#define CS_WAIT_SPIN_NS 30000
#endif

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct cs_pool {
    int threads;
    pthread_t *tids;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    _Atomic uint64_t claim; /* job id << 32 | parts << 16 | next part to claim */
    atomic_int done;        /* parts of the current job finished */
    atomic_int stop;
    atomic_int sleepers; /* workers on (or about to wait on) cv */
    atomic_int rest;     /* cs_pool_rest: idle workers sleep now (cleared by the next job) */
    uint32_t job;        /* id of the current job (caller only) */
    cs_range_fn fn;
    void *ctx;
    int64_t n;
    int parts;
    int64_t spin_ns; /* how long idle workers spin before they sleep */
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

/* Claims and runs parts of job `job` until none is left (or another job is current). */
static void run_claims(cs_pool *p, uint32_t job)
{
    uint64_t v = atomic_load_explicit(&p->claim, memory_order_acquire);
    for (;;) {
        /* Everything read here comes from the word: p->parts may already be the next
         * job's once this one has no part left. */
        if ((uint32_t)(v >> 32) != job || (v & 0xFFFF) >= (v >> 16 & 0xFFFF)) return;
        if (!atomic_compare_exchange_weak_explicit(&p->claim, &v, v + 1, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue;
        run_part(p, (int)(v & 0xFFFF));
        atomic_fetch_add_explicit(&p->done, 1, memory_order_acq_rel);
        v = atomic_load_explicit(&p->claim, memory_order_acquire);
    }
}

static void *worker(void *arg)
{
    cs_worker_arg *wa = arg;
    cs_pool *p = wa->p;
    free(wa);
    uint32_t seen = 0;
    for (;;) {
        uint32_t job;
        int64_t t0 = now_ns();
        unsigned spins = 0;
        while ((job = (uint32_t)(atomic_load_explicit(&p->claim, memory_order_acquire) >> 32)) ==
                   seen &&
               !atomic_load_explicit(&p->stop, memory_order_relaxed)) {
            cpu_relax();
            if ((++spins & 63) == 0 && (atomic_load_explicit(&p->rest, memory_order_relaxed) ||
                                        now_ns() - t0 > p->spin_ns)) {
                pthread_mutex_lock(&p->mu);
                atomic_fetch_add(&p->sleepers, 1);
                while ((uint32_t)(atomic_load(&p->claim) >> 32) == seen && !atomic_load(&p->stop))
                    pthread_cond_wait(&p->cv, &p->mu);
                atomic_fetch_sub(&p->sleepers, 1);
                pthread_mutex_unlock(&p->mu);
                t0 = now_ns();
            }
        }
        if (atomic_load(&p->stop)) return NULL;
        seen = job;
        run_claims(p, job);
    }
}

cs_pool *cs_pool_new(int threads)
{
    return cs_pool_new_spin(threads, CS_SPIN_NS);
}

cs_pool *cs_pool_new_spin(int threads, int64_t spin_ns)
{
    if (threads < 2) return NULL;
    if (threads > 4096) threads = 4096; /* parts count in 16 bits of the claim word */
    cs_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->threads = threads;
    p->spin_ns = spin_ns < 0 ? 0 : spin_ns;
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

void cs_pool_rest(cs_pool *p)
{
    if (p) atomic_store_explicit(&p->rest, 1, memory_order_relaxed);
}

int cs_pool_threads(const cs_pool *p)
{
    return p ? p->threads : 1;
}

void cs_parallel_for(const cs_exec *ex, int64_t n, cs_range_fn fn, void *ctx)
{
    cs_parallel_for_parts(ex, n, ex && ex->pool ? ex->pool->threads : 1, fn, ctx);
}

void cs_parallel_for_parts(const cs_exec *ex, int64_t n, int parts, cs_range_fn fn, void *ctx)
{
    cs_pool *p = ex ? ex->pool : NULL;
    if (!p || n < 2) {
        if (n > 0) fn(ctx, 0, n);
        return;
    }
    if (parts > 0xFFFF) parts = 0xFFFF; /* 16 bits of the claim word */
    if (parts < 1) parts = 1;
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    p->parts = n < parts ? (int)n : parts;
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    if (++p->job == 0) p->job = 1; /* 0 is the id workers start from */
    atomic_store_explicit(&p->rest, 0, memory_order_relaxed);
    /* Publishing the job (seq_cst), then the sleepers check: a worker going to sleep either
     * sees the new job or is counted (it registers under the mutex before re-checking). */
    atomic_store(&p->claim, (uint64_t)p->job << 32 | (uint64_t)p->parts << 16);
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    run_claims(p, p->job);
    int64_t t0 = 0;
    unsigned spins = 0;
    while (atomic_load_explicit(&p->done, memory_order_acquire) < p->parts) {
        cpu_relax();
        if ((++spins & 63) == 0) {
            int64_t t = now_ns();
            if (!t0)
                t0 = t;
            else if (t - t0 > CS_WAIT_SPIN_NS)
                sched_yield();
        }
    }
}

void cs_blas_threads(int threads)
{
    static atomic_int current = -1;
    if (threads < 1) threads = 1;
    if (atomic_exchange(&current, threads) != threads) openblas_set_num_threads(threads);
}

int cs_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}
