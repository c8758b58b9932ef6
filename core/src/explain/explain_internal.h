/* Internal view of an explainer, shared by the method files of core/src/explain/.
 *
 * explainer.c  names, defaults, layer/score resolution, planning, cs_explain_run's dispatch
 * cam.c        CAM (global pooling -> fully-connected head)
 * gradcam.c    Grad-CAM, Grad-CAM++, LayerCAM, XGrad-CAM, Smooth Grad-CAM++, PV, Augmented
 *              Grad-CAM: every map made of channel weights (or per-pixel weights) times A
 * saliency.c   vanilla gradient saliency and SmoothGrad
 * perturb.c    Score-CAM and RISE: batched forward passes of masked inputs
 *
 * Everything a run touches is allocated by cs_explainer_new; the method functions only
 * compute. Formulas and their sources: docs/EXPLAIN.md.
 */
#ifndef CS_EXPLAIN_INTERNAL_H
#define CS_EXPLAIN_INTERNAL_H

#include "../plan.h"
#include "camstream/explain.h"
#include "superres.h"

#include <stdbool.h>

struct cs_explainer {
    cs_explain_opts o;
    const cs_model *m;
    char *layer; /* resolved names (owned); layer NULL when the method needs none */
    char *score;

    int C, H, W; /* input */
    int K, h, w; /* target layer */
    int ncls;    /* classes at the score tensor (per batch element) */
    int B;       /* batch of the batched plan (1 when the model's batch is fixed) */

    /* Batch-1 plan: the explained forward pass (and backward for the gradient methods). */
    cs_plan *p;
    cs_grad *g;         /* ∂score/∂layer (Grad-CAM family) or ∂score/∂input (saliency) */
    cs_tensor *x;       /* p's input, written by the caller */
    const cs_tensor *A; /* p's layer */
    const cs_tensor *y; /* p's score */
    bool ran;           /* p has run (its outputs are readable) */

    /* Batched plan (Score-CAM, RISE, the smooth methods, Augmented Grad-CAM). */
    cs_plan *pb;
    cs_grad *gb; /* ∂score/∂layer or ∂score/∂input per batch element */
    cs_tensor *xb;
    const cs_tensor *Ab;
    const cs_tensor *yb;

    /* Results (owned). */
    cs_tensor *scores;      /* 1×ncls */
    cs_tensor *map;         /* h×w or H×W */
    cs_tensor map_row;      /* RISE: a view of one class's row of rise_maps */
    const cs_tensor *image; /* PV: the decoder's output */

    /* Work memory, sized at creation. */
    float *work;        /* max(K·h·w·3, H·W, K + C·H·W, ...) floats: see explainer.c */
    double *wk;         /* K doubles: channel weights */
    const float *noise; /* n_samples × C·H·W standard-normal draws (smooth methods) */
    const float *masks; /* rise_masks × H·W (RISE) */
    float *noise_owned, *masks_owned; /* when drawn here rather than given in the options */
    float *probs;                     /* ncls × rise_masks softmax probabilities (RISE) */
    float *rise_maps;                 /* ncls × H·W (RISE) */

    /* CAM head. */
    const float *fc_w; /* class c's weight for channel k: fc_w[c·fc_sc + k·fc_sk] */
    int64_t fc_sc, fc_sk;
    float fc_alpha;
    bool fc_gmp; /* the pooling is a max (CAM's GMP variant) */

    /* Augmented Grad-CAM. */
    cs_warp *warps;
    float *aug_low;     /* aug_count × h·w */
    float *aug_scratch; /* cs_superres_scratch_floats */

    /* Perception Visualization. */
    cs_plan *pd;
    cs_tensor *pd_in;
};

/* Status helper: fills err (may be NULL) and returns st. */
cs_status cs_ex_fail(cs_error *err, cs_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Runs the batch-1 backward with a one-hot seed on class cls (batch element 0). */
cs_status cs_ex_backward(cs_explainer *e, int cls, cs_error *err);
/* Seeds the batched backward: one-hot on cls for the first n batch elements, zero for the
 * rest (unused slots then contribute nothing). */
void cs_ex_seed_batch(cs_explainer *e, int cls, int n);

/* Node n of the plan's model pools its 4-D input globally: GlobalAveragePool,
 * GlobalMaxPool, ReduceMean over axes {2, 3}, or an AveragePool or MaxPool whose kernel
 * covers the map without padding. */
bool cs_ex_is_global_pool(const cs_plan *p, const cs_mnode *n);

/* splitmix64 generator used for noise and masks (deterministic for a seed). */
typedef struct cs_ex_rng {
    uint64_t s;
} cs_ex_rng;
void cs_ex_rng_init(cs_ex_rng *r, uint32_t seed);
double cs_ex_uniform(cs_ex_rng *r); /* [0, 1) */
double cs_ex_normal(cs_ex_rng *r);

/* cam.c */
cs_status cs_cam_prepare(cs_explainer *e, cs_error *err);
cs_status cs_cam_run(cs_explainer *e, int cls, cs_error *err);

/* gradcam.c: map = ReLU(Σ_k w_k A^k) etc. from one activation and one gradient (K×h×w). */
void cs_gradcam_map(cs_method m, const float *A, const float *g, int K, int hw, double *wk,
                    float *map);
cs_status cs_gradcam_run(cs_explainer *e, int cls, cs_error *err);
cs_status cs_smooth_gradcampp_run(cs_explainer *e, int cls, cs_error *err);
cs_status cs_pv_run(cs_explainer *e, int cls, cs_error *err);
cs_status cs_augmented_run(cs_explainer *e, int cls, cs_error *err);

/* saliency.c */
cs_status cs_saliency_run(cs_explainer *e, int cls, cs_error *err);
cs_status cs_smoothgrad_run(cs_explainer *e, int cls, cs_error *err);

/* perturb.c */
cs_status cs_rise_draw_masks(cs_explainer *e, cs_error *err);
cs_status cs_scorecam_run(cs_explainer *e, int cls, cs_error *err);
cs_status cs_rise_run(cs_explainer *e, int cls, cs_error *err);

/* Noisy copy i of the input into dst: x + sigma·(max − min of x)·noise_i. */
void cs_ex_noisy_input(const cs_explainer *e, int i, float lo, float hi, float *dst);

#endif
