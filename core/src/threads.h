/* A small fixed pool of worker threads. One knob decides how many threads run: the plan's
 * `threads` setting (cs_plan_opts.threads) sizes this pool, and every op parallelizes through
 * it with cs_parallel_for, one chunk per thread. OpenBLAS runs single-threaded inside ops:
 * convolutions use our own GEMM (ops/gemm_kernels.h), and the other sgemms go through
 * cs_sgemm_par, which splits them into one single-threaded OpenBLAS call per pool thread
 * (cs_plan_run sets OpenBLAS to 1 thread). So OpenBLAS's own thread pool never spins against
 * ours. Code outside the ops that makes one large sgemm of its own may hand OpenBLAS the
 * plan's thread count with cs_blas_threads(threads) for that call; the next op sets it back
 * to 1.
 *
 * Idle workers spin for a short while (CS_SPIN_NS, threads.c) before they sleep, so the
 * back-to-back parallel ops of a run do not pay a wake-up each. The preprocessing
 * (cs_pp_set_threads) has a pool of its own whose workers sleep at once (cs_pool_new_spin):
 * it runs one job per video frame, right before the engine's pool needs the cores. */
#ifndef CS_THREADS_H
#define CS_THREADS_H

#include "graph.h"

/* Work on [begin, end) of a range split by thread index. */
typedef void (*cs_range_fn)(void *ctx, int64_t begin, int64_t end);

cs_pool *cs_pool_new(int threads);
/* A pool whose idle workers spin spin_ns (instead of CS_SPIN_NS) before they sleep: 0 for
 * code that runs one parallel job now and then (e.g. one per video frame), so that its
 * workers do not hold a core the next stage (the engine's own pool) needs. */
cs_pool *cs_pool_new_spin(int threads, int64_t spin_ns);
void cs_pool_destroy(cs_pool **p);
/* Lets the idle workers sleep at once instead of spinning until CS_SPIN_NS: for a caller that
 * knows its next job is a while away (a video element between frames), so that the cores are
 * free for other threads meanwhile. The next job wakes them (and spinning resumes). */
void cs_pool_rest(cs_pool *p);
int cs_pool_threads(const cs_pool *p);

/* Splits [0, n) into one contiguous chunk per thread and runs fn on each; the caller's
 * thread takes chunk 0. Runs inline when ex has no pool or n is small. Not reentrant. */
void cs_parallel_for(const cs_exec *ex, int64_t n, cs_range_fn fn, void *ctx);
/* The same with `parts` chunks (more than the threads: whoever is free claims the next one, so
 * a worker that wakes late costs less; fewer: only that many threads work). */
void cs_parallel_for_parts(const cs_exec *ex, int64_t n, int parts, cs_range_fn fn, void *ctx);

/* Sets OpenBLAS's thread count, process-wide (and remembers it, so repeated calls cost
 * nothing). The ops keep it at 1 (see above). */
void cs_blas_threads(int threads);
/* Number of online cores. */
int cs_cpu_count(void);

#endif
