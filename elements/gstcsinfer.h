/* csinfer: runs a CNN on video frames; attaches classification, explanation heatmaps, model
 * outputs and timing as metas (camstream-meta.h). */
#ifndef GST_CS_INFER_H
#define GST_CS_INFER_H

#include <gst/base/gstbasetransform.h>
#include <gst/gst.h>
#include <gst/video/video.h>

#include "camstream/core.h"
#include "camstream/explain.h"
#include "camstream/formats.h"
#include "camstream/preprocess.h"
#include "gst/camstream/camstream-meta.h"

G_BEGIN_DECLS

#define GST_TYPE_CS_INFER (gst_cs_infer_get_type())
G_DECLARE_FINAL_TYPE(GstCsInfer, gst_cs_infer, GST, CS_INFER, GstBaseTransform)

/* The explanation method (nicks are the property values). */
typedef enum {
    GST_CS_INFER_EXPLAIN_NONE,
    GST_CS_INFER_EXPLAIN_CAM,
    GST_CS_INFER_EXPLAIN_GRADCAM,
    GST_CS_INFER_EXPLAIN_GRADCAMPP,
    GST_CS_INFER_EXPLAIN_SMOOTH_GRADCAMPP,
    GST_CS_INFER_EXPLAIN_SCORECAM,
    GST_CS_INFER_EXPLAIN_LAYERCAM,
    GST_CS_INFER_EXPLAIN_XGRADCAM,
    GST_CS_INFER_EXPLAIN_SALIENCY,
    GST_CS_INFER_EXPLAIN_SMOOTHGRAD,
    GST_CS_INFER_EXPLAIN_RISE,
    GST_CS_INFER_EXPLAIN_AUGMENTED_GRADCAM,
    GST_CS_INFER_EXPLAIN_PV,
} GstCsInferExplain;

/* Where an explanation runs: auto (heavy methods on the worker thread), sync, async. */
typedef enum {
    GST_CS_INFER_EXPLAIN_MODE_AUTO,
    GST_CS_INFER_EXPLAIN_MODE_SYNC,
    GST_CS_INFER_EXPLAIN_MODE_ASYNC,
} GstCsInferExplainMode;

/* One frame waiting in a batch (or on its way out). */
typedef struct {
    GstBuffer *buffer;
    guint64 index;          /* csinfer's frame counter */
    CsTransform2D to_frame; /* model input -> this frame */
    guint frame_width, frame_height;
} GstCsInferFrame;

/* An explanation computed on the worker thread, waiting for the next outgoing buffer. */
typedef struct {
    gint cls;
    gfloat score;
    guint width, height;
    gfloat *map;
    guint64 frame_index;
    GstClockTime pts;
    CsTransform2D to_frame;
    guint64 ns;
} GstCsInferResult;

struct _GstCsInfer {
    GstBaseTransform parent;

    /* properties (object lock) */
    gchar *model_path;
    gint threads;
    guint batch;
    GstCsInferExplain explain;
    GstCsInferExplainMode explain_mode;
    gint target_class;
    gchar *target_layer;
    guint explain_interval;
    guint top_k;
    gchar *labels_path;
    gchar *decoder_path;
    gboolean engine_rerun;

    /* counters (object lock) */
    guint64 frames, explained, explain_skipped, async_replaced;

    /* engine: created in start(), used by the streaming thread, destroyed in stop() */
    cs_model_desc *desc;
    cs_model *model;   /* from the model cache (model_cache.h); set under the object lock */
    cs_model *decoder; /* likewise */
    cs_plan *plan;
    int plan_batch;   /* frames per plan run */
    int input_index;  /* the plan input the frames go to */
    int C, H, W;      /* model input */
    int class_output; /* plan output with the class scores */
    int n_classes;
    gchar **labels; /* n_labels, owned (from the labels file or the description) */
    int n_labels;
    gchar *model_name;
    cs_method method;
    gboolean explain_async;
    cs_explainer *explainer; /* synchronous explanations */
    gchar *layer_name;       /* the layer the explainer resolved (NULL: input-level method) */
    float *probs;            /* n_classes scratch */
    cs_pp *pp;               /* self-preprocessing (no tensor meta upstream), made lazily */
    int pp_threads;          /* its threads: the engine's */
    GstVideoInfo vinfo;
    gboolean have_info;
    gboolean warned_batch;

    /* frames: pending (waiting for a batch to fill), ready (processed, to push) */
    GQueue pending, ready;

    /* asynchronous explanations */
    GThread *worker;
    GMutex lock;
    GCond cond;
    gboolean quit, job, busy;
    cs_explainer *async_explainer; /* touched by the worker only while busy */
    guint64 job_index;
    GstClockTime job_pts;
    CsTransform2D job_to_frame;
    gint job_class;
    GstCsInferResult *result; /* done, not attached yet (lock) */
    gchar *async_error;       /* lock */
};

GST_ELEMENT_REGISTER_DECLARE(csinfer);

G_END_DECLS
#endif
