/* camstream-meta.h: the metas the camstream GStreamer elements attach to video buffers.
 *
 * GStreamer 1.22 has no analytics or tensor metas, so camstream defines its own in the spirit
 * of GstVideoRegionOfInterestMeta: an API type registered once with tags, init/free/transform
 * functions (every meta survives a copy; the ones with geometry follow a video scale), and
 * add/get helpers. Applications include this header and link the static library
 * libgstcamstreammeta-1.0.a (build/elements/; meson: csmeta_dep) to read what the elements
 * wrote. Its copy of the meta code registers nothing twice: a type the plugin registered first
 * is looked up by name and shared.
 *
 *     #include <gst/camstream/camstream-meta.h>
 *
 *     CsClassificationMeta *c = cs_buffer_get_classification_meta(buf);
 *     if (c && c->n_results > 0)
 *         g_print("%s %.3f\n", c->results[0].label, c->results[0].probability);
 *
 *     gpointer state = NULL;
 *     GstMeta *m;
 *     while ((m = gst_buffer_iterate_meta_filtered(buf, &state, CS_HEATMAP_META_API_TYPE))) {
 *         CsHeatmapMeta *h = (CsHeatmapMeta *)m;   // may explain an earlier frame:
 *         ...                                       // see h->frame_index and h->pts
 *     }
 *
 * Who writes what:
 *   CsTensorMeta          csnormalize (role INPUT: the model input) and csinfer (role OUTPUT:
 *                         every model output, by ONNX name, for cslocalize)
 *   CsClassificationMeta  csinfer (top-k)
 *   CsHeatmapMeta         csinfer (explain=...), one per explanation
 *   CsDetectionsMeta      cslocalize (boxes from a regression head or from a heatmap, keypoints)
 *   CsTimingMeta          every element appends its stage (name + nanoseconds)
 *
 * Coordinates. Frame coordinates are pixels of the buffer the meta is on, continuous (pixel
 * edges at integers, (0,0) the top-left corner of the top-left pixel). Tensor coordinates are
 * pixels of the model input (W×H). A CsTransform2D maps tensor to frame coordinates:
 *     frame_x = offset_x + tensor_x · scale_x,   frame_y = offset_y + tensor_y · scale_y
 * which covers stretch, letterbox (the padding maps outside the frame) and centre crop (parts
 * of the frame outside the mapped tensor were not seen by the model).
 *
 * Transforms. A copy (GST_META_TRANSFORM_IS_COPY) keeps every meta with all its data. A video
 * scale (GST_VIDEO_META_TRANSFORM_IS_SCALE, e.g. videoscale) keeps them too: boxes and keypoints
 * are scaled to the new frame size, tensor and heatmap data are kept as they are and only their
 * CsTransform2D follows the scale. Other transforms drop the metas tagged "video" and "size"
 * (tensor, heatmap, detections) and keep classification and timing, which have no geometry.
 *
 * Memory. Every array a meta points to belongs to the meta and is freed with it; the add
 * helpers copy what they are given. Strings are UTF-8, NULL when unknown.
 */
#ifndef GST_CAMSTREAM_META_H
#define GST_CAMSTREAM_META_H

#include <gst/gst.h>
#include <gst/video/video.h>

G_BEGIN_DECLS

#ifndef CS_META_API
#define CS_META_API extern
#endif

/* Tensor to frame coordinates (see the top of this file). The identity is {1, 1, 0, 0}. */
typedef struct {
    gdouble scale_x, scale_y;
    gdouble offset_x, offset_y;
} CsTransform2D;

/* Frame coordinates of tensor point (x, y). */
CS_META_API void cs_transform_2d_apply(const CsTransform2D *t, gdouble x, gdouble y, gdouble *fx,
                                       gdouble *fy);

/* ---- CsTensorMeta: a float tensor (the model input, or a model output) ------------------- */

#define CS_TENSOR_META_MAX_DIMS 6

typedef enum {
    CS_TENSOR_ROLE_INPUT = 0,  /* the preprocessed model input (csnormalize) */
    CS_TENSOR_ROLE_OUTPUT = 1, /* a model output (csinfer), named as in the ONNX graph */
} CsTensorRole;

/* How the frame was fitted to the model's H×W. The values equal core's cs_resize_mode,
 * cs_scale (camstream/preprocess.h), so elements may cast between them. */
typedef enum {
    CS_TENSOR_RESIZE_STRETCH = 0, /* both axes scaled independently */
    CS_TENSOR_RESIZE_LETTERBOX =
        1,                     /* the longer side fits, the rest padded (0 after normalization) */
    CS_TENSOR_RESIZE_CROP = 2, /* the shorter side fits, the centre is cut out */
} CsTensorResize;

/* Pixel values before mean/std: 8-bit p scaled to [0,1] (p/255), [−1,1] (p/127.5 − 1), or
 * kept in 0..255. */
typedef enum {
    CS_TENSOR_SCALE_01 = 0,
    CS_TENSOR_SCALE_11 = 1,
    CS_TENSOR_SCALE_255 = 2,
} CsTensorScale;

typedef enum {
    CS_TENSOR_WHITEN_NONE = 0,
    CS_TENSOR_WHITEN_PCA = 1, /* x ← S^-1/2 Uᵀ (x − μ), from a statistics file */
    CS_TENSOR_WHITEN_ZCA = 2, /* x ← U S^-1/2 Uᵀ (x − μ) */
} CsTensorWhitening;

/* The preprocessing that produced an INPUT tensor, enough to invert it for display. For
 * OUTPUT tensors every field is zero except std (1). */
typedef struct {
    CsTensorResize resize;
    CsTensorScale scale;
    gboolean bgr;                /* the tensor's channels are B, G, R (Caffe) instead of R, G, B */
    guint n_channels;            /* C of the tensor: 1 (luma) or 3 */
    gfloat mean[4];              /* per tensor channel, subtracted after scaling (0: none) */
    gfloat std[4];               /* per tensor channel, divides after the mean (1: none) */
    gboolean mean_image;         /* a C×H×W mean image was subtracted (mean[] unused) */
    CsTensorWhitening whitening; /* PCA/ZCA whitening from a statistics file */
    gchar *description;          /* the same, as text ("preset=imagenet resize=letterbox"); owned */
} CsPreprocessing;

typedef struct {
    GstMeta meta;

    CsTensorRole role;
    gchar *name; /* ONNX tensor name (the model's input or output name); owned */
    guint ndim;  /* number of dims used in dims[] */
    gint64 dims[CS_TENSOR_META_MAX_DIMS]; /* row-major; images are 1×C×H×W (NCHW) */
    gsize numel;                          /* product of dims */
    gfloat *data;                         /* numel floats, owned by the meta (16-byte aligned) */

    CsPreprocessing preprocessing; /* INPUT tensors: how the frame became this tensor */

    /* Where the model input sits in this buffer's frame (model-input pixel coordinates to
     * frame pixel coordinates), and the frame size it was computed on. Follows a scale.
     * INPUT tensors (csnormalize): the resize geometry (stretch, letterbox or crop).
     * OUTPUT tensors (csinfer): never the identity, but the geometry of the model input the
     * outputs were computed from: the INPUT tensor's to_frame and frame size when one is on
     * the buffer, else those of csinfer's own preprocessing of the frame; in a batch each
     * frame's outputs carry that frame's. So cslocalize maps boxes in model-input pixels to
     * the frame through it. (Only the add helpers start from the identity.) */
    CsTransform2D to_frame;
    guint frame_width, frame_height;
    guint64 frame_index; /* the writing element's count of frames since it started (OUTPUT:
                          * csinfer's count) */
} CsTensorMeta;

CS_META_API GType cs_tensor_meta_api_get_type(void);
CS_META_API const GstMetaInfo *cs_tensor_meta_get_info(void);
#define CS_TENSOR_META_API_TYPE (cs_tensor_meta_api_get_type())
#define CS_TENSOR_META_INFO (cs_tensor_meta_get_info())

/* Adds a tensor of the given shape; data (numel floats) is copied, or zeroed when NULL (fill
 * meta->data afterwards). name may be NULL. preprocessing is zeroed (std = 1) and to_frame is
 * the identity: set them after adding. Returns NULL if ndim is 0 or too large, a dim is < 1,
 * or the size overflows. */
CS_META_API CsTensorMeta *cs_buffer_add_tensor_meta(GstBuffer *buffer, CsTensorRole role,
                                                    const gchar *name, guint ndim,
                                                    const gint64 *dims, const gfloat *data);
/* The first tensor meta (any role), or NULL. */
CS_META_API CsTensorMeta *cs_buffer_get_tensor_meta(GstBuffer *buffer);
/* The first tensor meta of this role, and if name is not NULL, of this name. */
CS_META_API CsTensorMeta *cs_buffer_get_tensor_meta_full(GstBuffer *buffer, CsTensorRole role,
                                                         const gchar *name);
/* Replaces preprocessing.description (copied). */
CS_META_API void cs_tensor_meta_set_description(CsTensorMeta *meta, const gchar *description);

/* ---- CsClassificationMeta: top-k classes -------------------------------------------------- */

typedef struct {
    gint class_id;      /* index in the model's output */
    gchar *label;       /* from the labels file / model description; NULL when none */
    gfloat score;       /* raw score (logit) before softmax */
    gfloat probability; /* softmax over all classes (the score itself if the model ends in one) */
} CsClassification;

typedef struct {
    GstMeta meta;

    guint n_results;           /* k (at most the number of classes) */
    CsClassification *results; /* best first; owned */
    guint n_classes;           /* classes the model scores */
    gchar *model;              /* model name (file base name or description's name); owned */
    guint64 frame_index;       /* csinfer's frame counter for this buffer */
} CsClassificationMeta;

CS_META_API GType cs_classification_meta_api_get_type(void);
CS_META_API const GstMetaInfo *cs_classification_meta_get_info(void);
#define CS_CLASSIFICATION_META_API_TYPE (cs_classification_meta_api_get_type())
#define CS_CLASSIFICATION_META_INFO (cs_classification_meta_get_info())

/* n_results zeroed entries (class_id = -1): fill them with cs_classification_meta_set. */
CS_META_API CsClassificationMeta *cs_buffer_add_classification_meta(GstBuffer *buffer,
                                                                    guint n_results,
                                                                    guint n_classes,
                                                                    const gchar *model);
CS_META_API CsClassificationMeta *cs_buffer_get_classification_meta(GstBuffer *buffer);
/* Entry i (< n_results); label is copied (may be NULL). */
CS_META_API void cs_classification_meta_set(CsClassificationMeta *meta, guint i, gint class_id,
                                            const gchar *label, gfloat score, gfloat probability);

/* ---- CsHeatmapMeta: an explanation map ------------------------------------------------------ */

typedef struct {
    GstMeta meta;

    gchar *method; /* "gradcam", "scorecam", ... (cs_method_name); owned */
    gint class_id; /* the class explained */
    gchar *label;  /* its label, NULL when none; owned */
    gfloat score;  /* its raw score on the explained frame */
    gchar *layer;  /* the feature map explained (ONNX name); NULL for input-level methods
                      (saliency, RISE); owned */

    guint width, height; /* of the map */
    gfloat *data;        /* height×width floats, row-major, raw (not normalized); owned */
    gfloat min, max;     /* of data, for normalization */

    /* The map covers the model input (tensor_width × tensor_height); to_frame maps tensor
     * coordinates to this buffer's frame (map pixel (i, j) covers tensor
     * [j·tw/w, (j+1)·tw/w) × [i·th/h, (i+1)·th/h)). */
    guint tensor_width, tensor_height;
    CsTransform2D to_frame;

    /* The frame explained. Slow methods run asynchronously (docs/ELEMENTS.md): their result is
     * attached to a later buffer, so frame_index/pts may be those of an earlier frame. */
    guint64 frame_index; /* csinfer's frame counter of the explained frame */
    GstClockTime pts;    /* its PTS (GST_CLOCK_TIME_NONE if it had none) */
    gboolean async;      /* computed on the worker thread */
    guint64 stage_ns;    /* time the explanation took (wall clock, ns) */
} CsHeatmapMeta;

CS_META_API GType cs_heatmap_meta_api_get_type(void);
CS_META_API const GstMetaInfo *cs_heatmap_meta_get_info(void);
#define CS_HEATMAP_META_API_TYPE (cs_heatmap_meta_api_get_type())
#define CS_HEATMAP_META_INFO (cs_heatmap_meta_get_info())

/* Adds a width×height map (copied; min/max computed). Strings are copied (label, layer may be
 * NULL). tensor size defaults to the map size and to_frame to the identity: set them after. */
CS_META_API CsHeatmapMeta *cs_buffer_add_heatmap_meta(GstBuffer *buffer, const gchar *method,
                                                      gint class_id, const gchar *label,
                                                      gfloat score, const gchar *layer, guint width,
                                                      guint height, const gfloat *data);
CS_META_API CsHeatmapMeta *cs_buffer_get_heatmap_meta(GstBuffer *buffer);

/* ---- CsDetectionsMeta: boxes, classes, keypoints -------------------------------------------- */

typedef enum {
    CS_DETECTION_SOURCE_REGRESSION = 0, /* a box-regression head of the model */
    CS_DETECTION_SOURCE_HEATMAP = 1,    /* thresholded explanation map (weakly supervised) */
} CsDetectionSource;

typedef struct {
    gfloat x, y;  /* frame pixels */
    gfloat score; /* confidence; < 0 when the model gives none */
} CsKeypoint;

typedef struct {
    gfloat x, y, w, h; /* the box in frame pixels: top-left corner and size */
    gint class_id;     /* -1 when unknown */
    gchar *label;      /* owned; NULL when none */
    gfloat score;      /* confidence of the box/class */
    CsDetectionSource source;
    guint n_keypoints;     /* 0 or the model's joint count */
    CsKeypoint *keypoints; /* n_keypoints, owned */
} CsDetection;

typedef struct {
    GstMeta meta;

    guint n_detections;
    CsDetection *detections; /* owned */
    /* Skeleton shared by every detection: n_edges pairs of keypoint indices
     * (edges[2e], edges[2e+1]). */
    guint n_edges;
    guint *edges;        /* 2·n_edges, owned */
    guint64 frame_index; /* frame the detections were computed from (for heatmap-derived
                            boxes: the heatmap's frame_index) */
} CsDetectionsMeta;

CS_META_API GType cs_detections_meta_api_get_type(void);
CS_META_API const GstMetaInfo *cs_detections_meta_get_info(void);
#define CS_DETECTIONS_META_API_TYPE (cs_detections_meta_api_get_type())
#define CS_DETECTIONS_META_INFO (cs_detections_meta_get_info())

CS_META_API CsDetectionsMeta *cs_buffer_add_detections_meta(GstBuffer *buffer);
CS_META_API CsDetectionsMeta *cs_buffer_get_detections_meta(GstBuffer *buffer);
/* Appends a box (label copied); returns its index. */
CS_META_API guint cs_detections_meta_add(CsDetectionsMeta *meta, gfloat x, gfloat y, gfloat w,
                                         gfloat h, gint class_id, const gchar *label, gfloat score,
                                         CsDetectionSource source);
/* Sets detection i's keypoints (copied; replaces any). */
CS_META_API void cs_detections_meta_set_keypoints(CsDetectionsMeta *meta, guint i, guint n,
                                                  const CsKeypoint *keypoints);
/* Sets the skeleton (2·n_edges indices, copied; replaces any). */
CS_META_API void cs_detections_meta_set_skeleton(CsDetectionsMeta *meta, guint n_edges,
                                                 const guint *edges);

/* ---- CsTimingMeta: per-stage time ----------------------------------------------------------- */

#define CS_TIMING_MAX_STAGES 16
#define CS_TIMING_NAME_LEN 32

typedef struct {
    gchar name[CS_TIMING_NAME_LEN]; /* element or stage: "csnormalize", "csinfer.explain" */
    guint64 ns;                     /* wall-clock time spent on this buffer */
} CsTimingStage;

typedef struct {
    GstMeta meta;

    guint n_stages; /* in pipeline order */
    CsTimingStage stages[CS_TIMING_MAX_STAGES];
    guint dropped; /* stages not recorded (more than the maximum) */
} CsTimingMeta;

CS_META_API GType cs_timing_meta_api_get_type(void);
CS_META_API const GstMetaInfo *cs_timing_meta_get_info(void);
#define CS_TIMING_META_API_TYPE (cs_timing_meta_api_get_type())
#define CS_TIMING_META_INFO (cs_timing_meta_get_info())

/* Appends a stage to the buffer's timing meta, adding the meta if there is none (the buffer
 * must be writable). The name is truncated to CS_TIMING_NAME_LEN − 1 bytes. */
CS_META_API CsTimingMeta *cs_buffer_add_timing(GstBuffer *buffer, const gchar *name, guint64 ns);
CS_META_API CsTimingMeta *cs_buffer_get_timing_meta(GstBuffer *buffer);
/* The time of the stage named name, or 0 when absent. */
CS_META_API guint64 cs_timing_meta_get(const CsTimingMeta *meta, const gchar *name);

G_END_DECLS

#endif /* GST_CAMSTREAM_META_H */
