/* camstream explanations: why a CNN decided what it decided.
 *
 *     cs_explain_opts o = cs_explain_opts_default(CS_METHOD_GRADCAM);
 *     o.layer = "layer4.1.relu_1";                // NULL: the last feature map before pooling
 *     cs_explainer *e = cs_explainer_new(model, &o, &err);
 *     memcpy(cs_explainer_input(e)->data, x, ...); // one preprocessed image, 1×C×H×W
 *     cs_explanation r;
 *     cs_explain_run(e, -1, &r, &err);            // -1: explain the top-1 class
 *     // r.cls, r.score, r.map (h×w floats), r.scores (all classes)
 *     cs_explainer_destroy(&e);
 *
 * An explainer plans its model once (forward, backward and, for the perturbation methods, a
 * batched forward) and reuses everything frame after frame: RISE masks are drawn once from
 * the seed, noise too. Formulas and defaults: docs/EXPLAIN.md and REFERENCE §3.
 * Maps are raw (not normalized, not upsampled) unless a method says otherwise; cs_map_*
 * helpers normalize, upsample and threshold them.
 */
#ifndef CAMSTREAM_EXPLAIN_H
#define CAMSTREAM_EXPLAIN_H

#include "camstream/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    CS_METHOD_CAM,               /* GAP/GMP -> FC heads: M = Σ_k w^c_k A^k */
    CS_METHOD_GRADCAM,           /* ReLU(Σ_k mean(g^k) A^k) */
    CS_METHOD_GRADCAMPP,         /* Grad-CAM++, closed form with first-order gradients */
    CS_METHOD_SMOOTH_GRADCAMPP,  /* Grad-CAM++ averaged over noisy copies */
    CS_METHOD_SCORECAM,          /* softmax of scores of masked inputs, batched */
    CS_METHOD_LAYERCAM,          /* ReLU(Σ_k ReLU(g^k) ⊙ A^k) */
    CS_METHOD_XGRADCAM,          /* w_k = Σ (A^k / Σ A^k) g^k */
    CS_METHOD_SALIENCY,          /* max_c |∂y/∂x| at input resolution */
    CS_METHOD_SMOOTHGRAD,        /* saliency averaged over noisy copies */
    CS_METHOD_RISE,              /* randomized input sampling, every class from one GEMM */
    CS_METHOD_AUGMENTED_GRADCAM, /* super-resolved Grad-CAM from augmented copies */
    CS_METHOD_PV,                /* perception visualization through a feature decoder */
    CS_METHOD_COUNT
} cs_method;

/* "gradcam" <-> CS_METHOD_GRADCAM ...; cs_method_from_name returns CS_METHOD_COUNT if unknown. */
const char *cs_method_name(cs_method m);
cs_method cs_method_from_name(const char *name);

typedef struct cs_explain_opts {
    cs_method method;
    const char *layer; /* target feature map (ONNX name); NULL: last 4-D map before pooling */
    const char *score; /* class scores before softmax; NULL: found from the graph */
    int threads;       /* 0: all cores */
    int batch;         /* batch of the perturbation passes (Score-CAM, RISE, smooth methods) */
    uint32_t seed;     /* for noise, masks and augmentations */
    /* Smooth Grad-CAM++ and SmoothGrad: n noisy copies x + N(0, (sigma·(max−min of x))²).
     * noise, when given, holds n_samples × (C·H·W) values used instead of drawing them. */
    int n_samples;
    float sigma;
    const float *noise;
    /* RISE: n masks of a grid×grid Bernoulli(p) pattern, upsampled and shifted.
     * masks, when given, holds rise_masks × (H·W) values used instead of drawing them. */
    int rise_masks;
    int rise_grid;
    float rise_p;
    const float *masks;
    /* Augmented Grad-CAM (REFERENCE §3 defaults). */
    int aug_count;
    float aug_max_rotation; /* radians */
    float aug_max_shift;    /* pixels */
    float aug_lambda, aug_mu;
    int aug_iterations;
    /* Perception Visualization: a decoder model from the layer's features to an image. */
    const cs_model *decoder;
} cs_explain_opts;

cs_explain_opts cs_explain_opts_default(cs_method m);

typedef struct cs_explainer cs_explainer;

cs_explainer *cs_explainer_new(const cs_model *m, const cs_explain_opts *o, cs_error *err);
void cs_explainer_destroy(cs_explainer **e);
/* The input to fill before each run: one image, 1×C×H×W, preprocessed as the model wants. */
cs_tensor *cs_explainer_input(cs_explainer *e);
/* cs_plan_rest for the explainer's plans: its idle threads sleep until the next run. */
void cs_explainer_rest(cs_explainer *e);
/* The names the explainer resolved (for messages and metadata). */
const char *cs_explainer_layer(const cs_explainer *e);
const char *cs_explainer_score(const cs_explainer *e);
/* The model's graph outputs as the explainer's last run computed them: every method starts
 * with one forward pass of the input, whose outputs (in the model's order, batch 1) stay
 * readable until the next run. A caller that needs both the explanation and the model's outputs
 * (classification, detection heads) can thus run the model once. NULL when i is out of range or
 * before the first successful run. */
int cs_explainer_n_outputs(const cs_explainer *e);
const cs_tensor *cs_explainer_output(const cs_explainer *e, int i);

typedef struct cs_explanation {
    int cls;                 /* the class explained */
    float score;             /* its score before softmax */
    const cs_tensor *scores; /* every class's score, 1×K */
    const cs_tensor *map;    /* h×w: layer resolution for CAM-style methods, input resolution
                                for saliency, SmoothGrad, RISE and Augmented Grad-CAM */
    const cs_tensor *image;  /* PV only: 1×C×H×W reconstruction shown through the map */
} cs_explanation;

/* Explains class cls (-1: top-1). The result's tensors belong to the explainer and hold
 * until its next run. A class out of range is an error naming the valid range. */
cs_status cs_explain_run(cs_explainer *e, int cls, cs_explanation *out, cs_error *err);

/* ---- maps ---------------------------------------------------------------------------------- */

/* Min-max normalization to [0,1] in place (a constant map becomes 0). */
void cs_map_normalize(float *map, int64_t n);
/* Bilinear resize of an h×w map to H×W (align_corners = false, like Up in REFERENCE §3). */
void cs_map_resize(const float *src, int h, int w, float *dst, int H, int W);

typedef struct cs_box {
    float x0, y0, x1, y1; /* pixels of the map, x1/y1 exclusive */
    float score;          /* mean map value inside the component */
    int area;             /* pixels in the component */
} cs_box;

/* Boxes from a map: threshold at frac × max (default 0.2), 4-connected components; with
 * all = 0 the largest component's box, else every component of at least min_area pixels,
 * largest first. Returns the number of boxes written (at most max_boxes). */
int cs_map_boxes(const float *map, int h, int w, float frac, int all, int min_area, cs_box *boxes,
                 int max_boxes);

/* ---- visualization ------------------------------------------------------------------------- */

/* Receptive field of a tensor's units, from the graph (REFERENCE §3 recurrence). */
typedef struct cs_receptive_field {
    double size, jump, start; /* unit (i,j) sees [start + j·jump ± size/2] in input pixels */
} cs_receptive_field;
cs_status cs_receptive_field_of(const cs_model *m, const char *layer, cs_receptive_field *rf,
                                cs_error *err);

typedef struct cs_actmax_opts {
    const char *target; /* a tensor: class scores (before softmax) or a feature map */
    int unit;           /* class index, or channel of a feature map */
    int steps;          /* 200 */
    float lr;           /* gradient-ascent step */
    float l2;           /* λ of λ‖x‖² */
    float tv;           /* β of β·TV(x) (1.0) */
    int jitter;         /* pixels (4) */
    float lo, hi;       /* valid input range, clipped each step */
    uint32_t seed;
    int threads;
} cs_actmax_opts;
cs_actmax_opts cs_actmax_opts_default(void);
/* Gradient ascent on the input; image is 1×C×H×W (allocated by the call, free with
 * cs_tensor_free). trace, if not NULL, receives the target value at every step
 * (opts.steps floats). */
cs_tensor *cs_activation_maximize(const cs_model *m, const cs_actmax_opts *o, float *trace,
                                  cs_error *err);

typedef struct cs_patch {
    int image;          /* index in the set */
    int y, x;           /* unit position in the layer */
    float value;        /* activation */
    int y0, x0, y1, x1; /* receptive field in input pixels, clipped to the image */
} cs_patch;
/* The k highest activations of channel `unit` of `layer` over n images (each 1×C×H×W,
 * contiguous in images), at most one per image and position. Returns the count written. */
int cs_top_patches(const cs_model *m, const char *layer, int unit, const float *images, int n,
                   int k, cs_patch *out, cs_error *err);

/* The first convolution's kernels, each min-max scaled to [0,1] and tiled with a 1-pixel
 * gap into one 3×H×W image (channels beyond 3 are not shown; 1-channel kernels are gray). */
cs_tensor *cs_filter_grid(const cs_model *m, int scale, cs_error *err);

#ifdef __cplusplus
}
#endif
#endif
