/* A plan: a model made runnable for fixed input shapes (see core.h). */
#ifndef CS_PLAN_H
#define CS_PLAN_H

#include "model.h"
#include "threads.h"

/* Per-value state of a plan. */
typedef struct cs_pvalue {
    cs_tensor t;     /* shape, type, data (arena, constant or owned) */
    bool shaped;     /* shape known (false for values fused away) */
    bool konst;      /* data fixed at plan time */
    bool keep;       /* must stay readable after a run */
    bool readable;   /* data holds this value after a run */
    bool grad_ok;    /* gradients may be asked w.r.t. it (downstream of opts.grad_from) */
    bool param;      /* opts.trainable: a float initializer the plan owns and may change */
    void *owned;     /* data owned by the plan (folded constants) */
    int alias_of;    /* value whose buffer this one shares, or -1 */
    int last_use;    /* last step reading it (INT32_MAX: never released) */
    int first_def;   /* step producing it (-1: before the first step) */
    size_t offset;   /* arena offset */
    int n_consumers; /* steps reading it */
} cs_pvalue;

typedef struct cs_step {
    cs_node node;
    cs_tensor **in;
    cs_tensor **out;
    bool dead; /* folded or fused away */
} cs_step;

struct cs_plan {
    const cs_model *m;
    int threads;
    cs_pool *pool;
    int n_values;
    cs_pvalue *v;
    int n_steps;
    cs_step *steps;
    int n_inputs, n_outputs;
    void *arena;
    size_t arena_bytes;
    void *scratch;
    size_t scratch_bytes;
    int n_live_steps;
    bool gradients; /* made for cs_grad: everything kept, HardSwish not fused */
    bool trainable; /* opts.trainable: initializers are parameters (param) */
    bool training;  /* cs_plan_set_training: BatchNorm in training mode */
    int n_params;
    int *params; /* value ids of the parameters, in model order */
};

/* fuse.c: BatchNorm folding (before shapes) and activation fusion (after). */
cs_status cs_fold_batchnorm(cs_plan *p, cs_error *err);
void cs_fuse_activations(cs_plan *p);
/* Creates a plan-owned constant value data for value id (used by folding). */
float *cs_plan_own_f32(cs_plan *p, int id, int ndim, const int64_t *dims);

#endif
