/* camstream preprocessing: a video frame or an image to the 1×C×H×W floats a model wants, and
 * back (maps and boxes onto the frame). Shared by `camstream explain`, csnormalize and csinfer.
 *
 *     cs_pp_opts o;
 *     cs_pp_preset("imagenet", &o);                         // or from a model description
 *     o.resize = CS_RESIZE_LETTERBOX;
 *     cs_pp *pp = cs_pp_new(&o, NULL, 3, 224, 224, &err);   // NULL: no statistics file
 *     ...
 *     cs_frame f = {.format = CS_PIX_NV12, .width = 640, .height = 480,
 *                   .data = {y, uv}, .stride = {640, 640}};
 *     cs_pp_geom g;                                           // where the model input sits
 *     if (cs_pp_run(pp, &f, x->data, &g, &err) != CS_OK) ...  // 3×224×224 floats
 *     cs_pp_destroy(&pp);
 *
 * One context serves a stream: the resampling tables are built when the frame geometry
 * (format, width, height) first appears or changes; frames of the same geometry then allocate
 * nothing. cs_pp_set_threads splits a frame over several threads (same output).
 *
 * Steps, in order:
 * 1. Resize (bilinear, align_corners = false, edges clamped; when shrinking the triangle
 *    filter widens to the scale factor so that every source pixel contributes, like PIL's and
 *    torchvision's antialiased bilinear). stretch: both axes scaled independently; crop:
 *    the shorter side fits, the centre is cut; letterbox: the longer side fits, the rest is
 *    padding whose value is 0 after normalization (the mean colour). YUV frames are resampled
 *    per plane (chroma sited at the centre of its 2×2 block) and converted after resampling
 *    (the conversion is affine, so this equals converting first, up to clamping).
 * 2. Scale the 8-bit value p: 01 → p/255, 11 → p/127.5 − 1, 255 → p.
 * 3. Channel order: with bgr the model's channel 0 is blue; mean, std and statistics are
 *    given in the model's channel order. A 1-channel model gets luma
 *    (0.299 R + 0.587 G + 0.114 B; Y itself for GRAY8 and YUV frames, range-expanded).
 * 4. Normalize: without statistics x_c = (s_c − mean_c) / std_c. With a statistics file
 *    (formats.h) its kind decides, and its scale and order replace the options':
 *      mean-std    x_c = (s_c − μ_c) / σ_c
 *      mean-image  x_c = (s_c − μ_c(y,x)) [/ σ_c]   (μ resampled once to H×W if sizes differ)
 *      pca, zca    x = W·(s − μ) per pixel over the channel vector (feature = channel), or over
 *                  each non-overlapping p×p patch flattened channel-major (feature = patch)
 *    Precomputed per channel as one multiply and one add: no division per pixel.
 */
#ifndef CAMSTREAM_PREPROCESS_H
#define CAMSTREAM_PREPROCESS_H

#include "camstream/core.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { CS_RESIZE_STRETCH, CS_RESIZE_LETTERBOX, CS_RESIZE_CROP } cs_resize_mode;
typedef enum { CS_SCALE_01, CS_SCALE_11, CS_SCALE_255 } cs_scale;

typedef struct cs_pp_opts {
    cs_scale scale;
    float mean[3], std[3]; /* model channel order */
    int bgr;               /* model channel 0 is blue */
    cs_resize_mode resize;
} cs_pp_opts;

/* imagenet: [0,1] RGB, mean (0.485,0.456,0.406), std (0.229,0.224,0.225)   (torchvision)
 * caffe:    BGR, 0–255 minus (103.939,116.779,123.68) (given in B,G,R order)
 * tf:       [−1,1] RGB                                                    (Keras MobileNet)
 * none:     [0,1] RGB
 * Returns 0, or -1 for an unknown name. Leaves o->resize as it was. */
int cs_pp_preset(const char *name, cs_pp_opts *o);
#define CS_PP_PRESET_NAMES "imagenet, caffe, tf, none"
/* The preset whose values o holds ("imagenet", ...), or NULL for custom values. */
const char *cs_pp_preset_of(const cs_pp_opts *o);
/* Parsers return 0, or -1 for an unknown name. */
int cs_pp_parse_resize(const char *s, cs_resize_mode *m); /* stretch, letterbox, crop */
int cs_pp_parse_scale(const char *s, cs_scale *sc);       /* 01, 11, 255 */
int cs_pp_parse_order(const char *s, int *bgr);           /* rgb, bgr */
/* "a,b,c" (commas, semicolons or blanks between) -> three finite floats; 0 or -1. */
int cs_pp_parse_triplet(const char *s, float v[3]);
const char *cs_pp_resize_name(cs_resize_mode m);
const char *cs_pp_scale_name(cs_scale s);
#define CS_PP_RESIZE_NAMES "stretch, letterbox, crop"
#define CS_PP_SCALE_NAMES "01, 11, 255"

/* ---- geometry -------------------------------------------------------------------------- */

/* Where the model input sits in the frame. Model coordinates u ∈ [u0,u1), v ∈ [v0,v1) show
 * the frame (elsewhere: letterbox padding); continuous coordinates (pixel edges) map by
 *     x = ox + (u − u0)·sx,   y = oy + (v − v0)·sy. */
typedef struct cs_pp_geom {
    int iw, ih, W, H; /* frame size, model input size */
    int u0, v0, u1, v1;
    double ox, oy, sx, sy;
} cs_pp_geom;

void cs_pp_geometry(int iw, int ih, int W, int H, cs_resize_mode m, cs_pp_geom *g);
/* A point in model pixels (continuous) to frame pixels (not clipped). */
void cs_pp_point_to_image(const cs_pp_geom *g, double u, double v, double *x, double *y);
/* A rectangle in model pixels to frame pixels, clipped to the frame: out = x0, y0, x1, y1. */
void cs_pp_rect_to_image(const cs_pp_geom *g, double u0, double v0, double u1, double v1,
                         double out[4]);

/* ---- frames ---------------------------------------------------------------------------- */

typedef enum {
    CS_PIX_RGB,
    CS_PIX_BGR,
    CS_PIX_RGBA,
    CS_PIX_BGRA,
    CS_PIX_RGBX,
    CS_PIX_BGRX,
    CS_PIX_GRAY8,
    CS_PIX_I420, /* planes Y, U, V; chroma w/2 × h/2 (rounded up) */
    CS_PIX_NV12, /* planes Y, UV interleaved */
    CS_PIX_COUNT
} cs_pixfmt;

const char *cs_pixfmt_name(cs_pixfmt f);

typedef enum { CS_YUV_BT601, CS_YUV_BT709 } cs_yuv_matrix;

/* An 8-bit frame: packed formats use data[0]/stride[0]; planar ones one entry per plane.
 * Strides are in bytes. YUV frames: matrix and range (full_range = 0: Y 16–235, UV 16–240). */
typedef struct cs_frame {
    cs_pixfmt format;
    int width, height;
    const uint8_t *data[3];
    int stride[3];
    cs_yuv_matrix matrix;
    int full_range;
} cs_frame;

/* ---- the preprocessing context --------------------------------------------------------- */

typedef struct cs_pp cs_pp;
typedef struct cs_statistics cs_statistics; /* formats.h */

/* A context producing C×H×W floats (C = 1 or 3). st (may be NULL) is copied as needed; it
 * must have `channels` = C. Returns NULL with err filled (bad sizes, statistics that do not
 * fit the model, out of memory). */
cs_pp *cs_pp_new(const cs_pp_opts *o, const cs_statistics *st, int C, int H, int W, cs_error *err);
void cs_pp_destroy(cs_pp **pp);
/* The options in effect (with statistics: their scale and order). */
const cs_pp_opts *cs_pp_get_opts(const cs_pp *pp);

/* Splits each frame's output rows into bands over `threads` threads (0: one per core; 1, the
 * default: the calling thread only). The context owns the pool; its workers sleep as soon as
 * a frame is done, so they do not compete with the engine's threads between frames. The
 * output is bit-identical for any thread count (every band does the same arithmetic on the
 * rows it shares with its neighbour). Returns 0, or -1 when no thread could be started (the
 * context then runs on the calling thread). Not to be called during cs_pp_run. */
int cs_pp_set_threads(cs_pp *pp, int threads);
/* Threads cs_pp_run uses (1 without a pool). */
int cs_pp_threads(const cs_pp *pp);

/* One frame into out (C·H·W floats, NCHW with N = 1); fills g (may be NULL). Allocates only
 * when the frame's format or size differs from the previous call's. Returns CS_OK, or
 * CS_ERR_INVALID (bad frame) / CS_ERR_NOMEM with err filled. */
cs_status cs_pp_run(cs_pp *pp, const cs_frame *f, float *out, cs_pp_geom *g, cs_error *err);

/* ---- back to the frame ----------------------------------------------------------------- */

/* C×H×W floats back to H×W RGB8: o inverts the normalization exactly (clamped to 0–255);
 * with o = NULL the tensor is min-max scaled as a whole. C = 1 gives gray; for C > 3 the
 * first three channels are shown. */
void cs_pp_tensor_to_rgb(const float *x, int C, int H, int W, const cs_pp_opts *o, uint8_t *rgb);

/* An h×w map that covers the model input, resampled onto the frame (g->iw × g->ih floats at
 * out). Frame pixels the model did not see (outside a centre crop) get NaN. Returns 0 or -1
 * (out of memory). */
int cs_pp_map_to_image(const float *map, int h, int w, const cs_pp_geom *g, float *out);

/* The region [x0,x1)×[y0,y1) (pixels, may be fractional) of an RGB8 image resampled to
 * dw×dh RGB8. Parts of the region outside the image are filled with `fill` gray. Returns 0
 * or -1 (out of memory). */
int cs_pp_resample_rgb8(const uint8_t *src, int sw, int sh, double x0, double y0, double x1,
                        double y1, uint8_t *dst, int dw, int dh, uint8_t fill);

#ifdef __cplusplus
}
#endif

#endif
