/* A small fixed pool of worker threads. One place decides how many threads run: the plan's
 * `threads` setting sizes this pool and is also given to OpenBLAS (openblas_set_num_threads),
 * so the two never oversubscribe the cores. */
#ifndef CS_THREADS_H
#define CS_THREADS_H

#include "graph.h"

/* Work on [begin, end) of a range split by thread index. */
typedef void (*cs_range_fn)(void *ctx, int64_t begin, int64_t end);

cs_pool *cs_pool_new(int threads);
void cs_pool_destroy(cs_pool **p);
int cs_pool_threads(const cs_pool *p);

/* Splits [0, n) into one contiguous chunk per thread and runs fn on each; the caller's
 * thread takes chunk 0. Runs inline when ex has no pool or n is small. Not reentrant. */
void cs_parallel_for(const cs_exec *ex, int64_t n, cs_range_fn fn, void *ctx);

/* Sets OpenBLAS's thread count (and remembers it, so repeated calls cost nothing). */
void cs_blas_threads(int threads);
/* Number of online cores. */
int cs_cpu_count(void);

#endif
