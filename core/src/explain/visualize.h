/* Internal helpers shared by the visualization files (receptive.c, patches.c, actmax.c,
 * filters.c). */
#ifndef CS_EXPLAIN_VISUALIZE_H
#define CS_EXPLAIN_VISUALIZE_H

#include "camstream/explain.h"
#include "model.h"

/* Receptive field per spatial axis: [0] rows (y), [1] columns (x). A unit at (i, j) sees the
 * input pixels [start[0] + i·jump[0] ± size[0]/2) × [start[1] + j·jump[1] ± size[1]/2), in
 * pixel-edge coordinates (pixel k spans [k, k+1)). */
typedef struct cs_rf2 {
    double size[2], jump[2], start[2];
} cs_rf2;

/* The receptive field of value `layer` (see receptive.c for the rules); errors name the
 * layer, list valid names when it is unknown, and name the node that stops the walk. */
cs_status cs_rf_of(const cs_model *m, const char *layer, cs_rf2 *rf, cs_error *err);

/* Fills err with "<what> '<name>' is not a tensor of <model>; valid: a, b, c, ..." listing
 * the outputs of the model's nodes that look like feature maps (as many as fit). */
cs_status cs_fail_unknown_layer(const cs_model *m, const char *what, const char *name,
                                cs_error *err);

#endif
