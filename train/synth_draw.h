/* Internal rasterizer of camstream synth: shapes and capsules drawn with 4×4 supersampled
 * coverage onto a float RGB canvas, textures in the object's own frame. */
#ifndef CS_TRAIN_SYNTH_DRAW_H
#define CS_TRAIN_SYNTH_DRAW_H

#include "camstream/synth.h"

static inline double rng_range(cs_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * cs_rng_uniform(r);
}

static inline int rng_int(cs_rng *r, int n) /* 0 .. n-1 */
{
    return n <= 1 ? 0 : (int)cs_rng_below(r, (uint32_t)n);
}

typedef struct canvas {
    int w, h;
    float *rgb; /* h·w·3, [0,1] */
} canvas;

typedef enum { TEX_SOLID, TEX_STRIPES, TEX_CHECKER, TEX_DOTS, TEX_COUNT } texture;

typedef struct paint {
    texture tex;
    float c1[3], c2[3];
    float ox, oy, cs, sn; /* texture frame: origin and rotation (cos, sin) */
    float period;         /* pixels */
    float opacity;        /* 0..1 */
} paint;

/* Something drawable: a point test in pixel coordinates and a bounding box. */
typedef struct geom {
    int kind; /* GEOM_* */
    cs_shape shape;
    float cx, cy, r, angle; /* shapes and ellipses (r: radius; ellipse: rx, ry in a, b) */
    float cs, sn;           /* cos, sin of angle */
    float a, b;             /* ellipse radii / ring */
    int n_seg;              /* capsules: segments (figure) */
    float seg[CS_FIGURE_EDGES + 1][4]; /* x0, y0, x1, y1 */
    float thick;                       /* capsule half-width */
    float head[3];                     /* figure head disc x, y, r (r 0: none) */
    float bbox[4];                     /* x0, y0, x1, y1 (pixels, inclusive-exclusive) */
} geom;
enum { GEOM_SHAPE, GEOM_ELLIPSE, GEOM_CAPSULES };

void geom_shape(geom *g, cs_shape s, float cx, float cy, float r, float angle);
void geom_ellipse(geom *g, float cx, float cy, float a, float b, float angle);
void geom_line(geom *g, float x0, float y0, float x1, float y1, float half_width);
void geom_figure(geom *g, const float joints[CS_FIGURE_JOINTS][2], float half_width, float head_r);
int geom_inside(const geom *g, float x, float y);

/* Draws g with p, blending by coverage (p NULL: only alpha). alpha (optional, w·h) receives the
 * coverage of each pixel g touches (max with what is there). */
void draw(canvas *cv, const geom *g, const paint *p, float *alpha);

/* A random paint for an object or a clutter piece (colours given). */
void paint_random(cs_rng *r, paint *p, const float c1[3], const float c2[3], float cx, float cy,
                  float scale, int textured);
/* Background: gradient, low-contrast blobs and lines (clutter = 0: flat). base gets the
 * mean colour. */
void draw_background(canvas *cv, cs_rng *r, int clutter, float base[3]);
/* A colour at least `dist` (L1 over RGB) from `avoid`. */
void color_far_from(cs_rng *r, const float avoid[3], float dist, float out[3]);
/* Adds uniform noise of amplitude a and converts to 8 bits. */
void canvas_to_u8(const canvas *cv, cs_rng *r, float a, uint8_t *rgb);

/* Stick-figure poses (synth.c), in torso units: angles, then joints. */
#define FIGURE_ANGLES 9
#define FIGURE_THICK 0.07f /* limb half-width */
#define FIGURE_HEAD 0.2f   /* head radius */
void figure_pose_angles(cs_rng *r, float ang[FIGURE_ANGLES]);
void figure_pose_build(const float ang[FIGURE_ANGLES], float j[CS_FIGURE_JOINTS][2]);

#endif
