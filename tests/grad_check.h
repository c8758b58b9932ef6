/* Finite-difference check of an op's backward(): for a random upstream gradient g, the
 * gradient backward() gives w.r.t. an input must match central differences of
 * L(x) = Σ_j <g_j, out_j(x)>. For op unit tests. */
#ifndef CS_GRAD_CHECK_H
#define CS_GRAD_CHECK_H

#include "graph.h"

typedef struct gc_result {
    cs_status status; /* CS_OK when the op ran; else err holds why */
    cs_error err;
    int n_checked;    /* elements compared */
    int n_bad;        /* elements outside tolerance */
    double max_abs_err;
    double worst_fd, worst_bw; /* the worst pair, for messages */
    int worst_input;
    int64_t worst_index;
} gc_result;

typedef struct gc_opts {
    int opset;
    const cs_attr *attrs;
    int n_attrs;
    int n_out;
    unsigned check_mask; /* bit i: check the gradient w.r.t. input i */
    cs_act act;          /* fused activation, as the planner would set */
    double eps;          /* finite-difference step (default 1e-2) */
    double rtol, atol;   /* tolerance (defaults 2e-2, 2e-3) */
    int max_elems;       /* per input, a random subset when larger (default 256) */
    uint32_t seed;
    int threads;
} gc_opts;

gc_result gc_check(cs_op op, const gc_opts *o, cs_tensor *const *in, int n_in);

/* Fills a tensor with uniform values in [lo, hi) from a seeded generator. */
void gc_fill(cs_tensor *t, uint32_t *state, float lo, float hi);

#endif
