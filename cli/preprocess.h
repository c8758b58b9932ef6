/* Preprocessing for the camstream tool: an RGB8 image to the 1×C×H×W floats a model wants, and
 * back (maps and inputs onto the original image).
 *
 * Resizing is bilinear (align_corners = false, edges clamped); when shrinking, the triangle
 * filter widens to the scale factor so that every source pixel contributes (antialiasing, as
 * PIL's and torchvision's antialiased bilinear resize). Three ways to fit the model's H×W:
 * stretch (default: both axes scaled independently), crop (scale the shorter side to fit, cut
 * the centre) and letterbox (scale the longer side to fit, pad the rest with the mean color,
 * i.e. 0 after normalization).
 *
 * Normalization: x = (s(p) − mean[c]) / std[c] with p the 8-bit value and s the scale (p/255,
 * p/127.5 − 1 or p itself); c counts the model's channels, so with bgr the mean and std are
 * given in BGR order. A 1-channel model gets luma (0.299 R + 0.587 G + 0.114 B). */
#ifndef CS_CLI_PREPROCESS_H
#define CS_CLI_PREPROCESS_H

#include "image_io.h"

#include <stddef.h>
#include <stdint.h>

typedef enum { PP_STRETCH, PP_CROP, PP_LETTERBOX } pp_resize_mode;
typedef enum { PP_SCALE_01, PP_SCALE_11, PP_SCALE_255 } pp_scale;

typedef struct pp_opts {
    pp_scale scale;
    float mean[3], std[3]; /* model channel order */
    int bgr;
    pp_resize_mode resize;
} pp_opts;

/* imagenet: [0,1], mean (0.485,0.456,0.406), std (0.229,0.224,0.225)    (torchvision)
 * caffe:    BGR, 0–255 minus (103.939,116.779,123.68)
 * tf:       [−1,1]
 * none:     [0,1]
 * Returns 0, or -1 for an unknown name. Leaves o->resize as it was. */
int pp_preset(const char *name, pp_opts *o);
#define PP_PRESET_NAMES "imagenet, caffe, tf, none"
int pp_parse_resize(const char *s, pp_resize_mode *m);
int pp_parse_scale(const char *s, pp_scale *sc);
/* "a,b,c" -> three finite floats; returns 0 or -1. */
int pp_parse_triplet(const char *s, float v[3]);
const char *pp_resize_name(pp_resize_mode m);
const char *pp_scale_name(pp_scale s);

/* Where the model input sits in the image. Model coordinates u ∈ [u0,u1), v ∈ [v0,v1) show the
 * image (elsewhere: letterbox padding); continuous coordinates (pixel edges) map by
 *     x = ox + (u − u0)·sx,   y = oy + (v − v0)·sy. */
typedef struct pp_geom {
    int iw, ih, W, H;
    int u0, v0, u1, v1;
    double ox, oy, sx, sy;
} pp_geom;

void pp_geometry(int iw, int ih, int W, int H, pp_resize_mode m, pp_geom *g);
/* A rectangle in model pixels to image pixels, clipped to the image: out = x0, y0, x1, y1. */
void pp_rect_to_image(const pp_geom *g, double u0, double v0, double u1, double v1, double out[4]);

/* img -> C×H×W floats (C = 1 or 3) at out; fills g (may be NULL). Returns 0 or -1 (err). */
int pp_image_to_tensor(const cli_image *img, const pp_opts *o, int C, int H, int W, float *out,
                       pp_geom *g, char *err, size_t errlen);

/* C×H×W floats back to H×W RGB8: o inverts the normalization exactly (clamped to 0–255); with
 * o = NULL the tensor is min-max scaled as a whole. C = 1 gives gray; for C > 3 the first
 * three channels are shown. */
void pp_tensor_to_rgb(const float *x, int C, int H, int W, const pp_opts *o, uint8_t *rgb);

/* An h×w map that covers the model input, resampled onto the image (g->iw × g->ih floats at
 * out). Image pixels the model did not see (outside a centre crop) get NaN. Returns 0 or -1
 * (out of memory). */
int pp_map_to_image(const float *map, int h, int w, const pp_geom *g, float *out);

/* The region [x0,x1)×[y0,y1) (image pixels, may be fractional) of an RGB8 image resampled to
 * dw×dh RGB8. Parts of the region outside the image are filled with `fill` gray. Returns 0 or -1
 * (out of memory). */
int pp_resample_rgb8(const uint8_t *src, int sw, int sh, double x0, double y0, double x1, double y1,
                     uint8_t *dst, int dw, int dh, uint8_t fill);

/* Command-line preprocessing options as given (NULL / 0 when absent). */
typedef struct pp_cli_args {
    const char *preset, *mean, *std, *scale, *resize;
    int bgr;
} pp_cli_args;

/* Resolves the options: a preset (default `dflt`, when neither a preset nor any of mean, std,
 * scale, bgr is given; `none` under explicit mean/std/scale/bgr) then the explicit values over
 * it. *given says whether anything but --resize was given. Returns 0 or -1 with err naming the
 * bad option. */
int pp_cli_resolve(const pp_cli_args *a, const char *dflt, pp_opts *o, int *given, char *err,
                   size_t errlen);

#endif
