/* camstream file formats shared by the CLI, the GStreamer elements and the daemon: the model
 * description and the statistics file. Both are GLib key files (INI-like: [group], key=value,
 * '#' comments); docs/FORMATS.md documents every key with examples.
 *
 *     cs_error err;
 *     cs_model_desc *d = cs_model_desc_open("models/foo.model", &err);   // or "foo.onnx"
 *     if (!d) { fprintf(stderr, "%s\n", err.msg); return 1; }  // "models/foo.model:7: scale:
 *                                                              //  '2' is not one of 01, 11, 255"
 *     cs_model *m = cs_model_load_file(d->model_file, &err);
 *     if (cs_model_desc_check(d, m, &err) != CS_OK) ...      // heads, labels vs the model
 *     cs_pp *pp = cs_pp_new(&d->pp, d->statistics, C, H, W, &err);      // preprocess.h
 *     ...
 *     cs_model_desc_destroy(&d);                                         // safe twice
 *
 * Every error message reads `FILE:LINE: key: reason` and lists the allowed values; a missing
 * key names its group's line (`FILE:LINE: [group]: key: missing (...)`), a missing group or
 * file has no line. Unknown groups and keys, duplicates and lines that are not `key = value`,
 * `[group]` or `# comment` are errors. Relative file names inside a file are relative to that file's
 * directory; the parsed structs hold them resolved.
 *
 * Model description (e.g. models/foo.model):
 *
 *     [model]
 *     file = foo.onnx             # required
 *     name = Foo classifier       # default: the description's base name
 *     id = foo-v1                 # default: the name
 *     input = input               # input tensor; default: the first graph input
 *     [preprocess]
 *     preset = imagenet           # imagenet, caffe, tf, none (default imagenet)
 *     scale = 01                  # 01, 11, 255     (each overrides the preset)
 *     mean = 0.485,0.456,0.406    # model channel order
 *     std = 0.229,0.224,0.225
 *     order = rgb                 # rgb, bgr
 *     resize = letterbox          # stretch, letterbox, crop (default stretch)
 *     statistics = foo.stats      # a statistics file (below): replaces mean/std/scale/order
 *     [labels]
 *     file = labels.txt           # one label per line; or:
 *     names = cat;dog;bird        # inline list (';'-separated); not both
 *     [heads]
 *     classes = logits            # output tensor with the class scores
 *     classes_activation = softmax  # softmax (the output is logits), sigmoid, none
 *     boxes = box                 # output with 4 numbers per box
 *     box_format = cxcywh         # cxcywh, xyxy
 *     box_coords = normalized     # normalized (0–1 of the model input), pixels (model input)
 *     keypoints = pose            # output with 2·J numbers (x, y per joint)
 *     keypoint_heatmaps = heat    # or an output with J heatmaps (1×J×h×w)
 *     keypoint_coords = box       # box (0–1 of the box), image (0–1 of the model input)
 *     keypoint_names = nose;left_eye;right_eye
 *     skeleton = 0-1,0-2          # pairs of joint indices (or names)
 *     [explain]
 *     layer = /layer4/Relu        # target layer (default: chosen by the explainer)
 *     method = gradcam            # default method
 *
 * Statistics file (written by `camstream fit` with cs_statistics_write, read by csnormalize):
 *
 *     [statistics]
 *     kind = zca                  # mean-std, mean-image, pca, zca
 *     channels = 3
 *     scale = 01                  # the scale the statistics were computed in (01, 11, 255)
 *     order = rgb                 # channel order of every vector below
 *     feature = channel           # channel (per-pixel C-vector) or patch (p×p×C patches)
 *     patch = 8                   # patch side, feature = patch only
 *     mean = 0.48;0.45;0.40       # D numbers (D = C, or C·p·p for patches)
 *     std = 0.22;0.22;0.22        # C numbers (mean-std; optional for mean-image)
 *     epsilon = 1e-5              # added to the eigenvalues when W was computed
 *     matrix = ...                # D×D whitening matrix W, row-major (pca, zca)
 *     matrix_file = foo.W.pb      # or W in a sibling ONNX TensorProto (D×D floats)
 *     size = 224x224              # mean-image: W×H of the mean image
 *     mean_image = foo.mean.pb    # mean-image: a sibling TensorProto, C×H×W (or 1×C×H×W)
 *     fitted_on = imagenet/train  # the split the statistics come from (leakage rule)
 *     samples = 50000             # how many images (informative)
 */
#ifndef CAMSTREAM_FORMATS_H
#define CAMSTREAM_FORMATS_H

#include "camstream/core.h"
#include "camstream/preprocess.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- statistics files ------------------------------------------------------------------- */

typedef enum {
    CS_STATS_MEAN_STD,
    CS_STATS_MEAN_IMAGE,
    CS_STATS_PCA,
    CS_STATS_ZCA,
} cs_stats_kind;
#define CS_STATS_KIND_NAMES "mean-std, mean-image, pca, zca"

typedef enum { CS_FEATURE_CHANNEL, CS_FEATURE_PATCH } cs_stats_feature;

struct cs_statistics {
    cs_stats_kind kind;
    int channels;             /* C: 1 or 3 */
    cs_scale scale;           /* the 8-bit values were scaled so before fitting */
    int bgr;                  /* vectors are in B,G,R order */
    cs_stats_feature feature; /* pca/zca: what one vector is */
    int patch;                /* feature = patch: the side p */
    int dim;                  /* D = C (channel) or C·p·p (patch); for mean-image C */
    float *mean;              /* D numbers (mean-image: NULL) */
    float *std;               /* C numbers or NULL */
    float epsilon;
    float *matrix;         /* D×D row-major (pca, zca), else NULL */
    int width, height;     /* mean-image size, else 0 */
    float *mean_image;     /* C×height×width (mean-image), else NULL */
    long long samples;     /* 0 when not given */
    char *fitted_on;       /* NULL when not given */
    char *path;            /* the file read (NULL when built in memory) */
    char *matrix_file;     /* as written in the file (NULL: inline) */
    char *mean_image_file; /* as written in the file */
};
typedef struct cs_statistics cs_statistics;

/* Reads a statistics file (and the TensorProto files it names). NULL + err on failure. */
cs_statistics *cs_statistics_load(const char *path, cs_error *err);
/* The same from text in memory; `path` names it in messages and anchors relative names
 * (may be NULL: then sibling files cannot be named). */
cs_statistics *cs_statistics_load_data(const char *text, size_t len, const char *path,
                                       cs_error *err);
/* An empty struct of the given kind with its arrays allocated (zeroed; matrix for pca/zca,
 * mean_image for mean-image when width/height > 0; std for mean-std), for writers.
 * patch = 0 for feature = channel. */
cs_statistics *cs_statistics_new(cs_stats_kind kind, int channels, int patch, int width,
                                 int height);
void cs_statistics_destroy(cs_statistics **st);
/* Writes st as a statistics file at path. A mean image and matrices with D > 3 go to sibling
 * TensorProto files (st->mean_image_file / st->matrix_file, relative to path; default
 * "<path without .stats>.mean.pb" / ".W.pb"). Returns CS_OK or an error status with err. */
cs_status cs_statistics_write(const char *path, const cs_statistics *st, cs_error *err);
const char *cs_stats_kind_name(cs_stats_kind k);

/* ---- model descriptions ----------------------------------------------------------------- */

typedef enum { CS_BOX_CXCYWH, CS_BOX_XYXY } cs_box_format;
typedef enum { CS_COORDS_NORMALIZED, CS_COORDS_PIXELS } cs_box_coords;
typedef enum { CS_KP_BOX, CS_KP_IMAGE } cs_keypoint_coords;
typedef enum { CS_CLASSES_SOFTMAX, CS_CLASSES_SIGMOID, CS_CLASSES_NONE } cs_classes_activation;

typedef struct cs_model_desc {
    char *path;       /* the description read (NULL for a bare ONNX file) */
    char *model_file; /* [model] file, resolved */
    char *name, *id;
    char *input; /* NULL: the first graph input */

    /* [preprocess]: the preset, then the explicit keys over it */
    cs_pp_opts pp;
    char *preset;              /* the preset named (default "imagenet") */
    char *statistics_file;     /* resolved, or NULL */
    cs_statistics *statistics; /* loaded with the description, or NULL */

    /* [labels] */
    char **labels; /* n_labels strings, or NULL */
    int n_labels;

    /* [heads]: output tensor names or NULL */
    char *classes;
    cs_classes_activation classes_activation;
    char *boxes;
    cs_box_format box_format;
    cs_box_coords box_coords;
    char *keypoints, *keypoint_heatmaps;
    cs_keypoint_coords keypoint_coords;
    char **keypoint_names; /* n_keypoint_names, or NULL */
    int n_keypoint_names;
    int (*skeleton)[2]; /* n_skeleton pairs of joint indices */
    int n_skeleton;

    /* [explain] */
    char *explain_layer, *explain_method; /* NULL: not given */

    /* Lines of some keys for later messages (cs_model_desc_check); 0 = not given. */
    struct {
        int input, classes, boxes, keypoints, keypoint_heatmaps, layer, labels, skeleton;
    } line;
} cs_model_desc;

/* Parses a model description; loads the statistics file and the labels file it names (not
 * the model). NULL + err (`FILE:LINE: key: reason`) on failure. */
cs_model_desc *cs_model_desc_load(const char *path, cs_error *err);
cs_model_desc *cs_model_desc_load_data(const char *text, size_t len, const char *path,
                                       cs_error *err);
/* A description for a bare ONNX file: model_file = path, the imagenet preset, stretch,
 * nothing else. */
cs_model_desc *cs_model_desc_for_onnx(const char *path, cs_error *err);
/* Either: an ONNX file (ends in .onnx, or starts like a protobuf) gets
 * cs_model_desc_for_onnx, anything else cs_model_desc_load. */
cs_model_desc *cs_model_desc_open(const char *path, cs_error *err);
void cs_model_desc_destroy(cs_model_desc **d);

/* Writes d as a model description at path (through PATH.tmp, renamed when complete). File
 * names (model_file, statistics_file) are written as given: relative to the description.
 * Written: [model] file, name, input; [preprocess] statistics (else preset/scale/mean/std/
 * order) and resize; [labels] names; [heads] what is set; [explain] layer and method.
 * Labels and joint names must not contain ';' or a line break. */
cs_status cs_model_desc_write(const char *path, const cs_model_desc *d, cs_error *err);

/* Checks the description against the loaded model: the input exists and is 1×C×H×W with C = 1
 * or 3 (and matches the statistics' channels), head outputs and the explain layer name
 * tensors of the model (outputs or intermediates), the class count equals the label count,
 * keypoint names/skeleton fit the joint count where known. Messages name the description's
 * line. Returns CS_OK or CS_ERR_INVALID. */
cs_status cs_model_desc_check(const cs_model_desc *d, const cs_model *m, cs_error *err);
/* The model input chosen by d (by name, or the first); NULL + err when missing. */
const cs_tensor *cs_model_desc_input(const cs_model_desc *d, const cs_model *m, cs_error *err);

const char *cs_box_format_name(cs_box_format f);
const char *cs_box_coords_name(cs_box_coords c);
const char *cs_keypoint_coords_name(cs_keypoint_coords c);
const char *cs_classes_activation_name(cs_classes_activation a);

#ifdef __cplusplus
}
#endif

#endif
