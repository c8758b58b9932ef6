/* camstream datasets: one parser (train/dataset.c) shared by `camstream synth` (writer),
 * `camstream fit`, the trainer and evaluation. docs/DATASETS.md describes the format.
 *
 * A dataset is a directory:
 *
 *     DIR/dataset.csv     the samples (below)
 *     DIR/labels.txt      one class name per line (class k = line k+1; trailing blank lines
 * ignored) DIR/images/...      8-bit PNG (or JPEG) images, all of the declared size
 *
 * dataset.csv:
 *
 *     # camstream dataset 1                       <- required first line
 *     # size: 64x64                               <- required: every image is W×H
 *     # keypoints: head;neck;l_shoulder;...       <- optional: J joint names
 *     # skeleton: 0-1,1-2,...                     <- optional: edges (joint indices)
 *     # columns: file,split,class,x,y,w,h[,k0x,k0y,k0v,...]
 *     images/000000.png,train,2,10.5,12,30,28
 *
 * One row per image: its main object's class (0..K-1), box (pixels, top-left x,y, w,h > 0,
 * inside the image) and, when `keypoints` is declared, exactly J (x, y, v) triples (pixels;
 * v = 0 not labelled, 1 labelled but occluded, 2 visible; labelled joints lie inside the
 * image). split is train, val or test. Other `#` lines are comments; blank lines are ignored.
 * A file listed twice is an error; listed in two splits it is a leakage error.
 *
 *     cs_error err;
 *     cs_dataset *ds = cs_dataset_load("data/shapes", &err);
 *     if (!ds) { fprintf(stderr, "%s\n", err.msg); return 1; }
 *         // "data/shapes/dataset.csv:7: class: 9 is out of range (6 classes in labels.txt)"
 *     int n = cs_dataset_count(ds, CS_SPLIT_TRAIN);
 *     float *x = malloc(sizeof(float) * 3 * ds->height * ds->width);
 *     for (int i = 0; i < n; i++) {
 *         const cs_sample *s = cs_dataset_get(ds, CS_SPLIT_TRAIN, i);
 *         if (cs_dataset_image_f32(ds, s, x, &err) != CS_OK) ...   // CHW, RGB, [0,1]
 *         ... s->cls, s->box[0..3], s->kp[j].x/.y/.v
 *     }
 *     cs_dataset_destroy(&ds);                                        // safe twice
 *
 * The library never prints; errors read `FILE:LINE: column: reason`.
 */
#ifndef CAMSTREAM_DATASET_H
#define CAMSTREAM_DATASET_H

#include "camstream/core.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CS_DATASET_CSV "dataset.csv"
#define CS_DATASET_LABELS "labels.txt"
#define CS_DATASET_MAX_KEYPOINTS 64
#define CS_DATASET_MAX_CLASSES 4096
#define CS_DATASET_MAX_SIDE 8192

typedef enum { CS_SPLIT_TRAIN, CS_SPLIT_VAL, CS_SPLIT_TEST, CS_SPLIT_COUNT } cs_split;

typedef struct cs_keypoint {
    float x, y; /* pixels */
    int v;      /* 0 not labelled, 1 occluded, 2 visible */
} cs_keypoint;

typedef struct cs_sample {
    char *file; /* as written in the csv (relative to the dataset directory) */
    char *path; /* resolved: DIR/file */
    cs_split split;
    int cls;         /* 0 .. n_classes-1 */
    float box[4];    /* x, y (top-left), w, h in pixels */
    cs_keypoint *kp; /* n_keypoints joints, or NULL when the dataset has none */
    int line;        /* line in dataset.csv */
} cs_sample;

typedef struct cs_dataset {
    char *dir;      /* the directory given */
    char *csv_path; /* DIR/dataset.csv */
    int width, height;
    int channels;  /* 3 (images are read as RGB) */
    char **labels; /* n_classes names from labels.txt */
    int n_classes;
    char **keypoint_names; /* n_keypoints names, or NULL */
    int n_keypoints;
    int (*skeleton)[2]; /* n_skeleton pairs of joint indices */
    int n_skeleton;
    cs_sample *samples; /* all rows in file order */
    int n_samples;
    int count[CS_SPLIT_COUNT];  /* rows per split */
    int *index[CS_SPLIT_COUNT]; /* per split, indices into samples (file order) */
} cs_dataset;

/* Loads DIR/dataset.csv and DIR/labels.txt (images are read on demand). NULL + err. */
cs_dataset *cs_dataset_load(const char *dir, cs_error *err);
void cs_dataset_destroy(cs_dataset **ds);

/* "train", "val", "test". */
const char *cs_split_name(cs_split s);
/* 0 and *out on success, -1 for anything else. */
int cs_split_parse(const char *name, cs_split *out);

int cs_dataset_count(const cs_dataset *ds, cs_split s);
/* The i-th sample (0 .. count-1) of split s, in file order; NULL when out of range. */
const cs_sample *cs_dataset_get(const cs_dataset *ds, cs_split s, int i);

/* Reads a sample's image: 8-bit RGB interleaved (H×W×3), or float planar RGB in [0,1]
 * (3×H×W). An image of another size than the declared one is an error naming the file. */
cs_status cs_dataset_image_u8(const cs_dataset *ds, const cs_sample *s, uint8_t *hwc,
                              cs_error *err);
cs_status cs_dataset_image_f32(const cs_dataset *ds, const cs_sample *s, float *chw, cs_error *err);

/* Leakage check between two datasets (or one with itself): the first sample of a's splits in
 * mask_a (bits 1<<CS_SPLIT_*) whose image is the same file, or has the same bytes, as one of
 * b's splits in mask_b. Returns 0 when there is none, 1 with err describing the pair
 * (both files and lines), -1 with err on an I/O error. */
int cs_dataset_overlap(const cs_dataset *a, unsigned mask_a, const cs_dataset *b, unsigned mask_b,
                       cs_error *err);

/* ---- writing (camstream synth; anything that makes datasets) ---------------------------- */

typedef struct cs_dataset_writer cs_dataset_writer;

/* Creates DIR (and DIR/images), writes labels.txt and the csv header. keypoint_names /
 * skeleton may be NULL/0. */
cs_dataset_writer *cs_dataset_writer_new(const char *dir, int width, int height,
                                         const char *const *labels, int n_classes,
                                         const char *const *keypoint_names, int n_keypoints,
                                         const int (*skeleton)[2], int n_skeleton, cs_error *err);
/* Writes the image (8-bit RGB H×W×3) as DIR/file (PNG) and appends its row. kp: n_keypoints
 * joints or NULL. */
cs_status cs_dataset_writer_add(cs_dataset_writer *w, const char *file, cs_split split,
                                const uint8_t *rgb, int cls, const float box[4],
                                const cs_keypoint *kp, cs_error *err);
/* Flushes and closes; frees w (safe on NULL). */
cs_status cs_dataset_writer_close(cs_dataset_writer **w, cs_error *err);

#ifdef __cplusplus
}
#endif

#endif
