/* camstream synth: labelled synthetic scenes for training and testing without downloads.
 * Everything is deterministic from a 64-bit seed (cs_rng of train.h: xoshiro256** seeded by
 * splitmix64; never rand()), so the same seed gives byte-identical images and labels on every
 * machine.
 *
 *     cs_error err;
 *     double split[3] = {0.8, 0.1, 0.1};
 *     cs_synth_dataset("data/shapes", CS_SYNTH_SHAPES, 1000, 64, 6, 42, split, &err);
 *     cs_synth_dataset("data/figures", CS_SYNTH_FIGURES, 1000, 64, 1, 42, split, &err);
 *
 *     // one image at a time (image i of a dataset uses cs_synth_rng_for(seed, i)):
 *     cs_rng r; cs_rng_seed(&r, 7);
 *     cs_synth_label lab;
 *     cs_synth_shape_image(&r, 64, 6, NULL, rgb, mask, &lab);   // lab.cls, lab.box
 *
 *     // video: objects moving over a fixed clutter background
 *     cs_synth_scene *sc = cs_synth_scene_new(320, 240, 3, 6, 1, 42);
 *     int n = cs_synth_scene_render(sc, frame, rgb, labels, 8);
 *
 * Shapes (classes in this order): circle, square, triangle, star, ring, cross; textures solid,
 * stripes, checker, dots; 20–60 % of the image; clutter: gradients, low-contrast blobs and
 * lines, noise, and occluding pieces (at most 40 % of the object hidden). Boxes are the tight
 * box of the pixels where the visible object covers at least half the pixel. Figures are stick
 * figures with 14 joints (CS_FIGURE_JOINTS); their box is the whole figure's, joints hidden by
 * an occluder have v = 1, others v = 2. */
#ifndef CAMSTREAM_SYNTH_H
#define CAMSTREAM_SYNTH_H

#include "camstream/core.h"
#include "camstream/dataset.h"
#include "camstream/train.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the generator ---------------------------------------------------------------------- */

/* cs_rng (xoshiro256** seeded by splitmix64) is the trainer's, declared in train.h. */
/* The generator of item `index` of a stream seeded with `seed` (independent of the others). */
cs_rng cs_synth_rng_for(uint64_t seed, uint64_t index);

/* ---- shapes and figures ----------------------------------------------------------------- */

typedef enum {
    CS_SHAPE_CIRCLE,
    CS_SHAPE_SQUARE,
    CS_SHAPE_TRIANGLE,
    CS_SHAPE_STAR,
    CS_SHAPE_RING,
    CS_SHAPE_CROSS,
    CS_SHAPE_COUNT
} cs_shape;
const char *cs_shape_name(cs_shape s);

#define CS_FIGURE_JOINTS 14
#define CS_FIGURE_EDGES 14
/* head, neck, l_shoulder, r_shoulder, l_elbow, r_elbow, l_wrist, r_wrist, l_hip, r_hip,
 * l_knee, r_knee, l_ankle, r_ankle */
extern const char *const cs_figure_joint_names[CS_FIGURE_JOINTS];
extern const int cs_figure_skeleton[CS_FIGURE_EDGES][2];

/* How hard the images are (--difficulty). HIGH is the original generator, byte for byte:
 * objects 20–60 % of the image, up to two occluders hiding up to 40 %. MEDIUM: objects
 * 30–60 %, at most one occluder hiding up to 20 % (the bundled models train on it: small
 * CNNs need many more images at HIGH, docs/TRAINING.md). LOW: objects 35–60 %, no occluders.
 * The clutter background is the same at every level. */
typedef enum { CS_SYNTH_HIGH, CS_SYNTH_MEDIUM, CS_SYNTH_LOW } cs_synth_level;
/* Parses "low", "medium" or "high"; -1 if it is none of them. */
int cs_synth_level_parse(const char *name, cs_synth_level *level);
const char *cs_synth_level_name(cs_synth_level level);

typedef struct cs_synth_opts {
    int clutter;          /* background blobs, lines, gradient and noise (0: one flat colour) */
    int occlusion;        /* occluding pieces over the object */
    cs_synth_level level; /* 0 (HIGH) unless set */
} cs_synth_opts;
#define CS_SYNTH_OPTS_DEFAULT                                                                      \
    {                                                                                              \
        1, 1, CS_SYNTH_HIGH                                                                        \
    }

typedef struct cs_synth_label {
    int id;       /* object index in a scene (0 for single images) */
    int cls;      /* shape class, or the figure class */
    float box[4]; /* x, y, w, h in pixels (top-left) */
    int n_kp;     /* CS_FIGURE_JOINTS for figures, else 0 */
    cs_keypoint kp[CS_FIGURE_JOINTS];
} cs_synth_label;

/* One size×size 8-bit RGB image (rgb: size·size·3) with one shape of a random class among
 * the first n_classes (1..CS_SHAPE_COUNT). mask (optional, size·size bytes) gets 1 where the
 * visible object covers at least half the pixel. opts NULL: defaults. 0, or -1 on bad args. */
int cs_synth_shape_image(cs_rng *r, int size, int n_classes, const cs_synth_opts *opts,
                         uint8_t *rgb, uint8_t *mask, cs_synth_label *lab);
/* The same with one stick figure (class 0); mask: the whole figure. */
int cs_synth_figure_image(cs_rng *r, int size, const cs_synth_opts *opts, uint8_t *rgb,
                          uint8_t *mask, cs_synth_label *lab);

/* ---- datasets (dataset.h format) -------------------------------------------------------- */

typedef enum { CS_SYNTH_SHAPES, CS_SYNTH_FIGURES } cs_synth_kind;

/* Writes `count` images to DIR/images/NNNNNN.png with DIR/dataset.csv and labels.txt. The
 * first round(count·split[0]) images are train, the next round(count·split[1]) val, the rest
 * test. n_classes: shapes 1..6 (figures: ignored, one class "person"). */
cs_status cs_synth_dataset(const char *dir, cs_synth_kind kind, int count, int size, int n_classes,
                           uint64_t seed, const double split[3], cs_error *err);
/* The same with options (opts NULL: CS_SYNTH_OPTS_DEFAULT). */
cs_status cs_synth_dataset_opts(const char *dir, cs_synth_kind kind, int count, int size,
                                int n_classes, uint64_t seed, const double split[3],
                                const cs_synth_opts *opts, cs_error *err);
/* How many images of `count` go to each split (the rule above). */
void cs_synth_split_counts(int count, const double split[3], int out[CS_SPLIT_COUNT]);

/* ---- moving scenes (video) -------------------------------------------------------------- */

typedef struct cs_synth_scene cs_synth_scene;

/* n_objects shapes (classes among the first n_classes) and, with figure, one stick figure
 * (class n_classes), moving linearly with bounces and rotating slowly over a fixed clutter
 * background. NULL on bad arguments. */
cs_synth_scene *cs_synth_scene_new(int width, int height, int n_objects, int n_classes, int figure,
                                   uint64_t seed);
/* The same with a difficulty level: MEDIUM and LOW draw shapes of 30–60 % of the frame's
 * shorter side, as the images of that level (HIGH, the default: 15–35 %). */
cs_synth_scene *cs_synth_scene_new_level(int width, int height, int n_objects, int n_classes,
                                         int figure, uint64_t seed, cs_synth_level level);
/* Renders frame t (any t ≥ 0, independent of earlier calls) into rgb (w·h·3) and writes up
 * to max_labels labels (objects whose visible part is at least 1 pixel; id = object index,
 * the figure last). Returns the number of labels. */
int cs_synth_scene_render(cs_synth_scene *sc, int t, uint8_t *rgb, cs_synth_label *labels,
                          int max_labels);
void cs_synth_scene_destroy(cs_synth_scene **sc);

#ifdef __cplusplus
}
#endif

#endif
