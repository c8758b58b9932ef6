/* camstream evaluation: how well a model classifies and localizes, and how well its
 * explanations point at the object (`camstream eval`, docs/QUALITY.md). GStreamer-free.
 *
 *     double gt[4] = {10, 12, 40, 42};                      // x0, y0, x1, y1 (pixels, x1 excl.)
 *     double iou = cs_eval_iou(gt, box);
 *     int hit = cs_eval_pointing(map, H, W, gt, tol);       // max of the map inside gt ± tol
 *     cs_eval_scorer *s = cs_eval_scorer_new(model, "logits", CS_CLASSES_SOFTMAX, 16, 0, &err);
 *     double del[CS_EVAL_MAX_STEPS + 1], ins[...];
 *     int n = cs_eval_curves(s, x, map_in, cls, step, del, ins, &err);   // RISE metrics
 *     double auc_del = cs_eval_auc(del, n), auc_ins = cs_eval_auc(ins, n);
 *
 * Definitions (docs/QUALITY.md states them with the figures):
 * - boxes are x0, y0, x1, y1 in continuous pixel coordinates (a pixel i covers [i, i+1));
 * - pointing game: the first maximum of the map in raster order, at pixel centre (x+.5, y+.5),
 *   is a hit when its distance to the box is at most tol pixels (0: strictly inside);
 * - deletion / insertion (Petsiuk et al., RISE): pixels in decreasing map order (ties: lower
 *   index first), `step` pixels per step; deletion starts from the input and sets pixels to 0
 *   (all channels; 0 is the training mean after normalization), insertion starts from a
 *   Gaussian blur of the input (11×11, σ = 5, zero padding, as the RISE code) and copies the
 *   input's pixels back; each curve holds n = ceil(H·W/step) + 1 probabilities of the class;
 * - AUC: trapezoid rule over x = 0, 1/(n−1), ..., 1, so it lies in [0,1] for probabilities;
 * - PCK: a labelled joint (v > 0) is correct when its distance to the prediction is at most
 *   alpha × norm (norm: the larger side of the ground-truth box, or the torso diameter). */
#ifndef CAMSTREAM_EVAL_H
#define CAMSTREAM_EVAL_H

#include "camstream/core.h"
#include "camstream/formats.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- boxes and points ------------------------------------------------------------------ */

/* Intersection over union of two x0,y0,x1,y1 boxes; 0 when either is empty. */
double cs_eval_iou(const double a[4], const double b[4]);
/* x, y, w, h (dataset rows) -> x0, y0, x1, y1. */
void cs_eval_xywh_to_xyxy(const float xywh[4], double out[4]);
/* A box head's 4 numbers in the model's format and coordinates -> x0,y0,x1,y1 in model-input
 * pixels (W×H). */
void cs_eval_decode_box(const float v[4], cs_box_format f, cs_box_coords c, int W, int H,
                        double out[4]);
/* Euclidean distance from (x, y) to the box (0 inside or on its edge). */
double cs_eval_point_box_distance(double x, double y, const double box[4]);
/* Index (y·w + x) of the first maximum in raster order; -1 when there is no finite value. */
int64_t cs_eval_argmax(const float *map, int64_t n);
/* Pointing game on an h×w map whose pixels are box coordinates: 1 hit, 0 miss, -1 no
 * finite value in the map. */
int cs_eval_pointing(const float *map, int h, int w, const double box[4], double tol);

/* ---- curves ---------------------------------------------------------------------------- */

#define CS_EVAL_MAX_STEPS 65536
/* Area under y[0..n-1] sampled at x = i/(n-1), trapezoid rule; 0 when n < 2. */
double cs_eval_auc(const double *y, int n);
/* The n pixel indices of map in decreasing value order, ties by increasing index. */
void cs_eval_order(const float *map, int n, int *order);
/* Gaussian blur of C×H×W planes: klen×klen kernel (odd), sigma, zero padding (RISE's
 * substrate for insertion). */
void cs_eval_blur(const float *x, int C, int H, int W, int klen, float sigma, float *out);
/* Points of a deletion/insertion curve for H·W pixels and `step` pixels a step. */
int cs_eval_curve_points(int hw, int step);

/* A batched forward pass returning one class's probability for each input of a batch: the
 * model's class output through its activation (softmax, sigmoid or none). */
typedef struct cs_eval_scorer cs_eval_scorer;
/* output: the classes tensor (NULL: the first graph output). batch: inputs per pass (a model
 * with a fixed batch of 1 runs one at a time). threads: 0 = all cores. */
cs_eval_scorer *cs_eval_scorer_new(const cs_model *m, const char *output, cs_classes_activation act,
                                   int batch, int threads, cs_error *err);
void cs_eval_scorer_destroy(cs_eval_scorer **s);
/* The probability of class cls for each of n inputs (C×H×W each, contiguous). */
cs_status cs_eval_scorer_run(cs_eval_scorer *s, const float *x, int n, int cls, double *prob,
                             cs_error *err);
/* Input size the scorer expects. */
void cs_eval_scorer_shape(const cs_eval_scorer *s, int *C, int *H, int *W);
/* Deletion and insertion curves of class cls for input x (C×H×W) ordered by map (H×W, at
 * the input's resolution). del and ins hold cs_eval_curve_points(H·W, step) values each
 * (either may be NULL). Returns that count, or -1 with err. */
int cs_eval_curves(cs_eval_scorer *s, const float *x, const float *map, int cls, int step,
                   double *del, double *ins, cs_error *err);

/* ---- keypoints ------------------------------------------------------------------------- */

/* Per joint: 1 correct, 0 wrong, -1 not labelled (v = 0) or norm <= 0. pred: J (x, y) pairs,
 * gt: J (x, y, v) triples as floats, both in pixels. Returns the number of correct joints. */
int cs_eval_pck(const float *pred, const float *gt, int J, double alpha, double norm, int *correct);
/* Torso diameter: the distance between joints a and b when both are labelled, else -1. */
double cs_eval_torso(const float *gt, int a, int b);

#ifdef __cplusplus
}
#endif
#endif
