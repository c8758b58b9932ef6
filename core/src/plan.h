/* A plan: a model made runnable for fixed input shapes (see core.h). */
#ifndef CS_PLAN_H
#define CS_PLAN_H

#include "model.h"
#include "threads.h"
#include "wcache.h"

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
    int64_t stable;  /* != 0: data is a fixed function of the model (shared weights key) */
} cs_pvalue;

typedef struct cs_step {
    cs_node node;
    cs_tensor **in;
    cs_tensor **out;
    bool dead;        /* folded or fused away */
    bool shared_prep; /* node.prep belongs to the shared weights cache (wcache.h) */
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
    bool share;  /* derived weights come from / go to the shared cache (not trainable) */
    int n_held, cap_held;
    cs_wcache_entry **held; /* cache references this plan releases on destroy */
    /* cs_plan_bind_input, per graph input: the caller's data (NULL: unbound), whether the
     * plan reads it in place, and the input's own arena buffer. */
    const float **bound;
    bool *bound_in_place;
    void **input_home;
};

/* fuse.c: BatchNorm folding (before shapes) and activation fusion (after). */
cs_status cs_fold_batchnorm(cs_plan *p, cs_error *err);
void cs_fuse_activations(cs_plan *p);
/* Shared derived data (wcache.h) of this plan's model under key[0..n), held by the plan
 * until it is destroyed: the cached block, or NULL on a miss. */
void *cs_plan_share_get(cs_plan *p, const int64_t *key, int n);
/* After a miss: hands data (computed by this plan) to the cache and returns the block to
 * use (data, or an identical one another plan inserted first, data then freed). NULL when
 * out of memory; data is then freed too. */
void *cs_plan_share_put(cs_plan *p, const int64_t *key, int n, void *data, void (*free_fn)(void *));
/* The stable key word of value id (cs_pvalue.stable, or id + 1 for an initializer still read
 * from the model), 0 when its data depends on this plan (explicit constant inputs, folding). */
int64_t cs_plan_stable(const cs_plan *p, int id);
/* Creates a plan-owned constant value data for value id (used by folding). */
float *cs_plan_own_f32(cs_plan *p, int id, int ndim, const int64_t *dims);

#endif
