/**
 * SECTION:element-csinfer
 * @title: csinfer
 *
 * Runs a CNN (camstream's engine, an ONNX file or a model description) on every video frame and
 * attaches what it found as metas (`gst/camstream/camstream-meta.h`); the frame itself passes
 * through unchanged:
 *
 * - #CsClassificationMeta: the top-k classes with labels, raw scores and probabilities;
 * - #CsTensorMeta (role OUTPUT): every model output, by its ONNX name, for cslocalize;
 * - #CsHeatmapMeta: with #GstCsInfer:explain, an explanation map of the explained class
 *   (#GstCsInfer:target-class, the top-1 by default) at #GstCsInfer:target-layer, every
 *   #GstCsInfer:explain-interval frames;
 * - #CsTimingMeta: the stages "csinfer" (whole element, per frame), "csinfer.forward" (the
 *   model's forward pass) and "csinfer.explain"; with #GstCsInfer:engine-rerun also
 *   "csinfer.rerun".
 *
 * The model input comes from a #CsTensorMeta (role INPUT) put on the buffer by csnormalize
 * upstream; it must have the model input's shape (at batch 1 the plan reads it in place,
 * cs_plan_bind_input, instead of copying it). Without one, csinfer preprocesses the frame
 * itself as the model description says (`[preprocess]`; a bare ONNX file gets the ImageNet
 * preset and stretch), on the formats of the pad template.
 *
 * ## Asynchronous explanations
 *
 * Score-CAM, RISE, Augmented Grad-CAM and Smooth Grad-CAM++ cost tens to thousands of forward
 * passes. With #GstCsInfer:explain-mode auto (the default) they, and with explain-mode async
 * every method, run on a worker thread with its own explainer, so that the streaming thread never
 * waits for them:
 *
 * 1. when a frame is due (#GstCsInfer:explain-interval) and the worker is idle, the frame's
 *    model input is copied into the worker's explainer, with its frame index, PTS and geometry,
 *    and the worker is woken; the frame goes on at once, without a heatmap;
 * 2. frames due while the worker is busy are not queued: they are counted
 *    (#GstCsInfer:explain-skipped) and the next due frame after the worker finishes is taken
 *    (latest wins: the heatmap is never more than one explanation behind);
 * 3. when the worker finishes, the result waits in a one-slot mailbox; the next buffer leaving
 *    csinfer carries it as a #CsHeatmapMeta with `async` TRUE and the `frame_index`, `pts` and
 *    `to_frame` of the frame it explains (an earlier one). A result not yet attached when a
 *    newer one arrives is replaced (counted in #GstCsInfer:async-replaced); at EOS a result that
 *    no buffer could carry is dropped.
 *
 * ## Batching
 *
 * With #GstCsInfer:batch B > 1 csinfer holds frames until B have arrived, runs the model once on
 * all of them (higher throughput on many-core machines) and then pushes the B frames. The first
 * frame of a batch is delayed by the arrival time of B − 1 more frames (at 30 fps and B = 4:
 * 100 ms), so batching suits recorded streams, not live ones. At EOS or a flush a partial batch
 * is run (or dropped). The model's batch dimension must be symbolic; otherwise csinfer warns and
 * uses 1. Explanations are made per frame either way.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=clip.mp4 ! decodebin ! videoconvert ! \
 *     csnormalize model=resnet18.model ! \
 *     csinfer model=resnet18.model explain=gradcam top-k=3 ! csoverlay ! \
 *     videoconvert ! autovideosink
 * ]|
 * With no csnormalize, the model description's preprocessing is used:
 * |[
 * gst-launch-1.0 v4l2src ! videoconvert ! video/x-raw,format=RGB ! \
 *     csinfer model=resnet18.model explain=scorecam ! fakesink
 * ]|
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstcsinfer.h"
#include "model_cache.h"

#include <math.h>
#include <string.h>
#include <time.h>

GST_DEBUG_CATEGORY_STATIC(gst_cs_infer_debug);
#define GST_CAT_DEFAULT gst_cs_infer_debug

enum {
    PROP_0,
    PROP_MODEL,
    PROP_THREADS,
    PROP_BATCH,
    PROP_EXPLAIN,
    PROP_EXPLAIN_MODE,
    PROP_TARGET_CLASS,
    PROP_TARGET_LAYER,
    PROP_EXPLAIN_INTERVAL,
    PROP_TOP_K,
    PROP_LABELS,
    PROP_DECODER,
    PROP_ENGINE_RERUN,
    PROP_FRAMES,
    PROP_EXPLAINED,
    PROP_EXPLAIN_SKIPPED,
    PROP_ASYNC_REPLACED,
    PROP_MODEL_USERS,
};

#define DEFAULT_THREADS 0
#define DEFAULT_BATCH 1
#define DEFAULT_EXPLAIN GST_CS_INFER_EXPLAIN_NONE
#define DEFAULT_EXPLAIN_MODE GST_CS_INFER_EXPLAIN_MODE_AUTO
#define DEFAULT_TARGET_CLASS -1
#define DEFAULT_EXPLAIN_INTERVAL 1
#define DEFAULT_TOP_K 5

#define INFER_FORMATS "{ RGB, BGR, RGBA, BGRA, RGBx, BGRx, GRAY8, I420, NV12 }"

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE(
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE(INFER_FORMATS)));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE(
    "src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE(INFER_FORMATS)));

#define gst_cs_infer_parent_class parent_class
G_DEFINE_TYPE(GstCsInfer, gst_cs_infer, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE(csinfer, "csinfer", GST_RANK_NONE, GST_TYPE_CS_INFER);

/* ---- enums ----------------------------------------------------------------------------------- */

/* Property value, method, and whether auto mode runs it on the worker. */
static const struct {
    GstCsInferExplain value;
    const char *nick, *desc;
    cs_method method;
    gboolean heavy;
} explain_table[] = {
    {GST_CS_INFER_EXPLAIN_NONE, "none", "No explanation", CS_METHOD_COUNT, FALSE},
    {GST_CS_INFER_EXPLAIN_CAM, "cam", "CAM (global pooling -> FC heads)", CS_METHOD_CAM, FALSE},
    {GST_CS_INFER_EXPLAIN_GRADCAM, "gradcam", "Grad-CAM", CS_METHOD_GRADCAM, FALSE},
    {GST_CS_INFER_EXPLAIN_GRADCAMPP, "gradcam++", "Grad-CAM++", CS_METHOD_GRADCAMPP, FALSE},
    {GST_CS_INFER_EXPLAIN_SMOOTH_GRADCAMPP, "smooth-gradcam++",
     "Smooth Grad-CAM++ (asynchronous in auto mode)", CS_METHOD_SMOOTH_GRADCAMPP, TRUE},
    {GST_CS_INFER_EXPLAIN_SCORECAM, "scorecam", "Score-CAM (asynchronous in auto mode)",
     CS_METHOD_SCORECAM, TRUE},
    {GST_CS_INFER_EXPLAIN_LAYERCAM, "layercam", "LayerCAM", CS_METHOD_LAYERCAM, FALSE},
    {GST_CS_INFER_EXPLAIN_XGRADCAM, "xgradcam", "XGrad-CAM", CS_METHOD_XGRADCAM, FALSE},
    {GST_CS_INFER_EXPLAIN_SALIENCY, "saliency", "Vanilla gradient saliency", CS_METHOD_SALIENCY,
     FALSE},
    {GST_CS_INFER_EXPLAIN_SMOOTHGRAD, "smoothgrad", "SmoothGrad (asynchronous in auto mode)",
     CS_METHOD_SMOOTHGRAD, TRUE},
    {GST_CS_INFER_EXPLAIN_RISE, "rise", "RISE (asynchronous in auto mode)", CS_METHOD_RISE, TRUE},
    {GST_CS_INFER_EXPLAIN_AUGMENTED_GRADCAM, "augmented-gradcam",
     "Augmented Grad-CAM (asynchronous in auto mode)", CS_METHOD_AUGMENTED_GRADCAM, TRUE},
    {GST_CS_INFER_EXPLAIN_PV, "pv", "Perception visualization (needs decoder)", CS_METHOD_PV,
     FALSE},
};
#define N_EXPLAIN G_N_ELEMENTS(explain_table)

#define GST_TYPE_CS_INFER_EXPLAIN (gst_cs_infer_explain_get_type())
static GType gst_cs_infer_explain_get_type(void)
{
    static GType type = 0;
    static GEnumValue values[N_EXPLAIN + 1];
    if (g_once_init_enter(&type)) {
        for (guint i = 0; i < N_EXPLAIN; i++) {
            g_assert(explain_table[i].value == (GstCsInferExplain)i);
            values[i].value = explain_table[i].value;
            values[i].value_name = explain_table[i].desc;
            values[i].value_nick = explain_table[i].nick;
        }
        GType t = g_enum_register_static("GstCsInferExplain", values);
        g_once_init_leave(&type, t);
    }
    return type;
}

#define GST_TYPE_CS_INFER_EXPLAIN_MODE (gst_cs_infer_explain_mode_get_type())
static GType gst_cs_infer_explain_mode_get_type(void)
{
    static GType type = 0;
    static const GEnumValue values[] = {
        {GST_CS_INFER_EXPLAIN_MODE_AUTO,
         "Heavy methods (smooth-gradcam++, scorecam, smoothgrad, rise, augmented-gradcam) on "
         "the worker thread, the others in the streaming thread",
         "auto"},
        {GST_CS_INFER_EXPLAIN_MODE_SYNC, "Every method in the streaming thread", "sync"},
        {GST_CS_INFER_EXPLAIN_MODE_ASYNC, "Every method on the worker thread", "async"},
        {0, NULL, NULL},
    };
    if (g_once_init_enter(&type)) {
        GType t = g_enum_register_static("GstCsInferExplainMode", values);
        g_once_init_leave(&type, t);
    }
    return type;
}

/* ---- small helpers --------------------------------------------------------------------------- */

static guint64 now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (guint64)ts.tv_sec * 1000000000u + (guint64)ts.tv_nsec;
}

static void result_free(GstCsInferResult *r)
{
    if (r) {
        g_free(r->map);
        g_free(r);
    }
}

static void frame_free(gpointer data)
{
    GstCsInferFrame *f = data;
    gst_buffer_unref(f->buffer);
    g_free(f);
}

/* Labels from a file, one per line (a trailing empty line ignored). */
static gchar **read_labels(const gchar *path, int *n, GError **error)
{
    gchar *text = NULL;
    gsize len = 0;
    if (!g_file_get_contents(path, &text, &len, error)) return NULL;
    gchar **lines = g_strsplit(text, "\n", -1);
    g_free(text);
    guint count = g_strv_length(lines);
    if (count > 0 && lines[count - 1][0] == '\0') {
        g_free(lines[count - 1]);
        lines[count - 1] = NULL;
        count--;
    }
    for (guint i = 0; i < count; i++) g_strchomp(lines[i]);
    *n = (int)count;
    return lines;
}

static const gchar *label_of(GstCsInfer *self, int cls)
{
    return cls >= 0 && cls < self->n_labels ? self->labels[cls] : NULL;
}

/* GstVideoFormat -> the preprocessing's pixel format (CS_PIX_COUNT if none). */
static cs_pixfmt pixfmt_of(GstVideoFormat f)
{
    switch (f) {
    case GST_VIDEO_FORMAT_RGB:
        return CS_PIX_RGB;
    case GST_VIDEO_FORMAT_BGR:
        return CS_PIX_BGR;
    case GST_VIDEO_FORMAT_RGBA:
        return CS_PIX_RGBA;
    case GST_VIDEO_FORMAT_BGRA:
        return CS_PIX_BGRA;
    case GST_VIDEO_FORMAT_RGBx:
        return CS_PIX_RGBX;
    case GST_VIDEO_FORMAT_BGRx:
        return CS_PIX_BGRX;
    case GST_VIDEO_FORMAT_GRAY8:
        return CS_PIX_GRAY8;
    case GST_VIDEO_FORMAT_I420:
        return CS_PIX_I420;
    case GST_VIDEO_FORMAT_NV12:
        return CS_PIX_NV12;
    default:
        return CS_PIX_COUNT;
    }
}

/* ---- the asynchronous explainer -------------------------------------------------------------- */

static gpointer worker_main(gpointer data)
{
    GstCsInfer *self = data;
    g_mutex_lock(&self->lock);
    for (;;) {
        while (!self->job && !self->quit) g_cond_wait(&self->cond, &self->lock);
        if (self->quit) break;
        self->job = FALSE;
        /* busy stays TRUE: the streaming thread does not touch the explainer meanwhile. */
        gint cls = self->job_class;
        g_mutex_unlock(&self->lock);

        guint64 t0 = now_ns();
        cs_explanation r;
        cs_error err = {0};
        cs_status st = cs_explain_run(self->async_explainer, cls, &r, &err);
        GstCsInferResult *res = NULL;
        if (st == CS_OK) {
            res = g_new0(GstCsInferResult, 1);
            res->cls = r.cls;
            res->score = r.score;
            res->height = (guint)r.map->dims[r.map->ndim - 2];
            res->width = (guint)r.map->dims[r.map->ndim - 1];
            res->map = g_memdup2(r.map->data, (gsize)res->width * res->height * sizeof(float));
            res->ns = now_ns() - t0;
        }

        g_mutex_lock(&self->lock);
        if (res) {
            res->frame_index = self->job_index;
            res->pts = self->job_pts;
            res->to_frame = self->job_to_frame;
            if (self->result) {
                result_free(self->result);
                GST_OBJECT_LOCK(self);
                self->async_replaced++;
                GST_OBJECT_UNLOCK(self);
            }
            self->result = res;
        } else if (!self->async_error) {
            self->async_error = g_strdup(err.msg);
        }
        self->busy = FALSE;
    }
    g_mutex_unlock(&self->lock);
    return NULL;
}

static void worker_stop(GstCsInfer *self)
{
    if (self->worker) {
        g_mutex_lock(&self->lock);
        self->quit = TRUE;
        g_cond_signal(&self->cond);
        g_mutex_unlock(&self->lock);
        g_thread_join(self->worker);
        self->worker = NULL;
    }
    self->quit = self->job = self->busy = FALSE;
    result_free(self->result);
    self->result = NULL;
    g_clear_pointer(&self->async_error, g_free);
}

/* ---- start / stop: the engine ---------------------------------------------------------------- */

static void engine_free(GstCsInfer *self)
{
    worker_stop(self);
    cs_explainer_destroy(&self->async_explainer);
    cs_explainer_destroy(&self->explainer);
    cs_pp_destroy(&self->pp);
    cs_plan_destroy(&self->plan);
    GST_OBJECT_LOCK(self); /* model-users reads them */
    cs_model *model = self->model, *decoder = self->decoder;
    self->model = self->decoder = NULL;
    GST_OBJECT_UNLOCK(self);
    cs_model_cache_release(&decoder);
    cs_model_cache_release(&model);
    cs_model_desc_destroy(&self->desc);
    g_clear_pointer(&self->labels, g_strfreev);
    self->n_labels = 0;
    g_clear_pointer(&self->model_name, g_free);
    g_clear_pointer(&self->layer_name, g_free);
    g_clear_pointer(&self->probs, g_free);
    g_queue_clear_full(&self->pending, frame_free);
    g_queue_clear_full(&self->ready, frame_free);
}

static gboolean gst_cs_infer_start(GstBaseTransform *trans)
{
    GstCsInfer *self = GST_CS_INFER(trans);
    cs_error err = {0};

    GST_OBJECT_LOCK(self);
    gchar *model_path = g_strdup(self->model_path);
    gchar *labels_path = g_strdup(self->labels_path);
    gchar *decoder_path = g_strdup(self->decoder_path);
    gchar *target_layer = g_strdup(self->target_layer);
    int threads = self->threads;
    int batch = (int)self->batch;
    GstCsInferExplain explain = self->explain;
    GstCsInferExplainMode mode = self->explain_mode;
    gint target_class = self->target_class;
    self->frames = self->explained = self->explain_skipped = self->async_replaced = 0;
    GST_OBJECT_UNLOCK(self);

    gboolean ok = FALSE;
    if (!model_path || !*model_path) {
        GST_ELEMENT_ERROR(self, RESOURCE, NOT_FOUND, ("No model set"),
                          ("set the model property to an ONNX file or a model description"));
        goto done;
    }
    self->desc = cs_model_desc_open(model_path, &err);
    if (!self->desc) {
        GST_ELEMENT_ERROR(self, RESOURCE, OPEN_READ, ("Could not read model %s", model_path),
                          ("%s", err.msg));
        goto done;
    }
    /* Shared with the other elements of the process on the same file (model_cache.h). */
    cs_model *model = cs_model_cache_acquire(self->desc->model_file, &err);
    GST_OBJECT_LOCK(self);
    self->model = model;
    GST_OBJECT_UNLOCK(self);
    if (!self->model) {
        GST_ELEMENT_ERROR(self, RESOURCE, OPEN_READ, ("Could not load model %s", model_path),
                          ("%s", err.msg));
        goto done;
    }
    if (cs_model_desc_check(self->desc, self->model, &err) != CS_OK) {
        GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("Model description does not fit the model"),
                          ("%s", err.msg));
        goto done;
    }
    const cs_tensor *in = cs_model_desc_input(self->desc, self->model, &err);
    if (!in) {
        GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("Model input not found"), ("%s", err.msg));
        goto done;
    }
    if (in->ndim != 4 || in->dims[1] < 1 || in->dims[2] < 1 || in->dims[3] < 1 ||
        (in->dims[1] != 1 && in->dims[1] != 3)) {
        char shape[64];
        GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("Unsupported model input"),
                          ("model input %s is %s: csinfer needs N×C×H×W with C = 1 or 3 and fixed "
                           "C, H, W",
                           in->name, cs_shape_str(in, shape, sizeof shape)));
        goto done;
    }
    self->C = (int)in->dims[1];
    self->H = (int)in->dims[2];
    self->W = (int)in->dims[3];
    if (cs_model_n_inputs(self->model) != 1) {
        GST_ELEMENT_ERROR(
            self, RESOURCE, SETTINGS, ("Unsupported model"),
            ("the model has %d inputs; csinfer feeds exactly one", cs_model_n_inputs(self->model)));
        goto done;
    }
    self->plan_batch = batch;
    if (batch > 1 && in->dims[0] != -1) {
        GST_ELEMENT_WARNING(self, RESOURCE, SETTINGS, ("Batching not possible"),
                            ("the model's batch dimension is fixed to %" G_GINT64_FORMAT
                             "; using batch=1",
                             in->dims[0]));
        self->plan_batch = 1;
    }

    cs_plan_opts po = cs_plan_opts_default();
    po.threads = threads;
    po.batch = self->plan_batch;
    self->pp_threads = threads;
    self->plan = cs_plan_new(self->model, &po, &err);
    if (!self->plan) {
        GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("Could not plan model %s", model_path),
                          ("%s", err.msg));
        goto done;
    }
    self->input_index = 0;
    self->class_output = 0;
    if (self->desc->classes) {
        self->class_output = -1;
        for (int i = 0; i < cs_plan_n_outputs(self->plan); i++)
            if (g_strcmp0(cs_plan_output(self->plan, i)->name, self->desc->classes) == 0)
                self->class_output = i;
        if (self->class_output < 0) {
            GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("Class head not found"),
                              ("classes = %s is not an output of the model", self->desc->classes));
            goto done;
        }
    }
    const cs_tensor *scores = cs_plan_output(self->plan, self->class_output);
    self->n_classes = (int)(scores->numel / self->plan_batch);
    self->probs = g_new(float, self->n_classes);
    self->model_name = g_strdup(self->desc->name ? self->desc->name : model_path);

    if (labels_path && *labels_path) {
        GError *gerr = NULL;
        self->labels = read_labels(labels_path, &self->n_labels, &gerr);
        if (!self->labels) {
            GST_ELEMENT_ERROR(self, RESOURCE, OPEN_READ, ("Could not read labels %s", labels_path),
                              ("%s", gerr->message));
            g_error_free(gerr);
            goto done;
        }
    } else if (self->desc->labels) {
        self->labels = g_new0(gchar *, self->desc->n_labels + 1);
        for (int i = 0; i < self->desc->n_labels; i++)
            self->labels[i] = g_strdup(self->desc->labels[i]);
        self->n_labels = self->desc->n_labels;
    }
    if (self->labels && self->n_labels != self->n_classes)
        GST_ELEMENT_WARNING(self, RESOURCE, SETTINGS, ("Label count does not match the model"),
                            ("%d labels for %d classes", self->n_labels, self->n_classes));
    if (target_class >= self->n_classes) {
        GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("Invalid target-class %d", target_class),
                          ("the model has %d classes: target-class must be -1 (top-1) or 0..%d",
                           self->n_classes, self->n_classes - 1));
        goto done;
    }

    /* The explainer: here or on the worker thread. */
    if (explain != GST_CS_INFER_EXPLAIN_NONE) {
        self->method = explain_table[explain].method;
        self->explain_async =
            mode == GST_CS_INFER_EXPLAIN_MODE_ASYNC ||
            (mode == GST_CS_INFER_EXPLAIN_MODE_AUTO && explain_table[explain].heavy);
        cs_explain_opts eo = cs_explain_opts_default(self->method);
        eo.layer = target_layer && *target_layer ? target_layer : self->desc->explain_layer;
        eo.score = self->desc->classes;
        eo.threads = threads;
        /* The default shift (30 px) is for 224² inputs. */
        eo.aug_max_shift *= (float)MIN(self->W, self->H) / 224.0f;
        if (self->method == CS_METHOD_PV) {
            if (!decoder_path || !*decoder_path) {
                GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("explain=pv needs a decoder"),
                                  ("set the decoder property to the feature decoder's ONNX file"));
                goto done;
            }
            cs_model *decoder = cs_model_cache_acquire(decoder_path, &err);
            GST_OBJECT_LOCK(self);
            self->decoder = decoder;
            GST_OBJECT_UNLOCK(self);
            if (!self->decoder) {
                GST_ELEMENT_ERROR(self, RESOURCE, OPEN_READ,
                                  ("Could not load decoder %s", decoder_path), ("%s", err.msg));
                goto done;
            }
            eo.decoder = self->decoder;
        }
        cs_explainer *e = cs_explainer_new(self->model, &eo, &err);
        if (!e) {
            GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS,
                              ("Could not set up explain=%s", explain_table[explain].nick),
                              ("%s", err.msg));
            goto done;
        }
        const char *layer = cs_explainer_layer(e);
        self->layer_name = layer ? g_strdup(layer) : NULL;
        if (self->explain_async) {
            self->async_explainer = e;
            self->worker = g_thread_new("csinfer-explain", worker_main, self);
        } else {
            self->explainer = e;
        }
    }
    ok = TRUE;
done:
    if (!ok) engine_free(self);
    g_free(model_path);
    g_free(labels_path);
    g_free(decoder_path);
    g_free(target_layer);
    return ok;
}

static gboolean gst_cs_infer_stop(GstBaseTransform *trans)
{
    engine_free(GST_CS_INFER(trans));
    return TRUE;
}

static gboolean gst_cs_infer_set_caps(GstBaseTransform *trans, GstCaps *incaps, GstCaps *outcaps)
{
    GstCsInfer *self = GST_CS_INFER(trans);
    if (!gst_video_info_from_caps(&self->vinfo, incaps)) return FALSE;
    self->have_info = TRUE;
    return TRUE;
}

/* ---- per frame ------------------------------------------------------------------------------- */

/* The frame's input tensor meta in *out (NULL when it has none); FALSE, with an element error
 * posted, when its shape does not fit the model input. Its geometry goes to f. */
static gboolean input_meta(GstCsInfer *self, GstCsInferFrame *f, CsTensorMeta **out)
{
    CsTensorMeta *tm = cs_buffer_get_tensor_meta_full(f->buffer, CS_TENSOR_ROLE_INPUT, NULL);
    *out = tm;
    if (tm) {
        const gint64 *d = tm->dims;
        gboolean fits =
            (tm->ndim == 4 && d[0] == 1 && d[1] == self->C && d[2] == self->H && d[3] == self->W) ||
            (tm->ndim == 3 && d[0] == self->C && d[1] == self->H && d[2] == self->W);
        if (!fits) {
            GString *s = g_string_new(NULL);
            for (guint i = 0; i < tm->ndim; i++)
                g_string_append_printf(s, "%s%" G_GINT64_FORMAT, i ? "x" : "", d[i]);
            GST_ELEMENT_ERROR(self, STREAM, FORMAT, ("Model input does not fit the tensor"),
                              ("the tensor from upstream is %s but model %s wants 1x%dx%dx%d: "
                               "give csnormalize the model's input size",
                               s->str, self->model_name, self->C, self->H, self->W));
            g_string_free(s, TRUE);
            return FALSE;
        }
        f->to_frame = tm->to_frame;
        f->frame_width = tm->frame_width;
        f->frame_height = tm->frame_height;
    }
    return TRUE;
}

/* Fills slot b of the plan input from the frame's tensor meta, or by preprocessing the frame. */
static gboolean fill_input(GstCsInfer *self, GstCsInferFrame *f, float *dst)
{
    gsize chw = (gsize)self->C * self->H * self->W;
    CsTensorMeta *tm;
    if (!input_meta(self, f, &tm)) return FALSE;
    if (tm) {
        memcpy(dst, tm->data, chw * sizeof(float));
        return TRUE;
    }

    /* No tensor upstream: preprocess as the model description says. */
    if (!self->have_info) {
        GST_ELEMENT_ERROR(self, CORE, NEGOTIATION, ("No caps before the first buffer"), (NULL));
        return FALSE;
    }
    cs_error err = {0};
    if (!self->pp) {
        self->pp =
            cs_pp_new(&self->desc->pp, self->desc->statistics, self->C, self->H, self->W, &err);
        if (!self->pp) {
            GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("Could not set up preprocessing"),
                              ("%s", err.msg));
            return FALSE;
        }
        /* The engine's thread count; the pool sleeps while the engine runs. */
        if (self->pp_threads != 1 && cs_pp_set_threads(self->pp, self->pp_threads) != 0)
            GST_WARNING_OBJECT(self, "could not start preprocessing threads; using one");
    }
    GstVideoFrame vf;
    if (!gst_video_frame_map(&vf, &self->vinfo, f->buffer, GST_MAP_READ)) {
        GST_ELEMENT_ERROR(self, STREAM, FAILED, ("Could not map the frame"), (NULL));
        return FALSE;
    }
    cs_frame cf = {0};
    cf.format = pixfmt_of(GST_VIDEO_FRAME_FORMAT(&vf));
    cf.width = GST_VIDEO_FRAME_WIDTH(&vf);
    cf.height = GST_VIDEO_FRAME_HEIGHT(&vf);
    for (guint p = 0; p < GST_VIDEO_FRAME_N_PLANES(&vf) && p < 3; p++) {
        cf.data[p] = GST_VIDEO_FRAME_PLANE_DATA(&vf, p);
        cf.stride[p] = GST_VIDEO_FRAME_PLANE_STRIDE(&vf, p);
    }
    const GstVideoColorimetry *cm = &GST_VIDEO_INFO_COLORIMETRY(&self->vinfo);
    cf.matrix = cm->matrix == GST_VIDEO_COLOR_MATRIX_BT709 ? CS_YUV_BT709 : CS_YUV_BT601;
    cf.full_range = cm->range == GST_VIDEO_COLOR_RANGE_0_255;
    cs_pp_geom g;
    cs_status st = cs_pp_run(self->pp, &cf, dst, &g, &err);
    gst_video_frame_unmap(&vf);
    if (st != CS_OK) {
        GST_ELEMENT_ERROR(self, STREAM, FAILED, ("Preprocessing failed"), ("%s", err.msg));
        return FALSE;
    }
    /* x = ox + (u − u0)·sx */
    f->to_frame.scale_x = g.sx;
    f->to_frame.scale_y = g.sy;
    f->to_frame.offset_x = g.ox - g.u0 * g.sx;
    f->to_frame.offset_y = g.oy - g.v0 * g.sy;
    f->frame_width = (guint)g.iw;
    f->frame_height = (guint)g.ih;
    return TRUE;
}

/* Top-k of the class scores (slot b) as a classification meta. */
static void attach_classification(GstCsInfer *self, GstCsInferFrame *f, const float *s, guint k)
{
    int K = self->n_classes;
    cs_classes_activation act = self->desc->classes_activation;
    if (act == CS_CLASSES_SOFTMAX) {
        float mx = s[0];
        for (int i = 1; i < K; i++) mx = MAX(mx, s[i]);
        double sum = 0;
        for (int i = 0; i < K; i++) sum += self->probs[i] = expf(s[i] - mx);
        for (int i = 0; i < K; i++) self->probs[i] = (float)(self->probs[i] / sum);
    } else if (act == CS_CLASSES_SIGMOID) {
        for (int i = 0; i < K; i++) self->probs[i] = 1.0f / (1.0f + expf(-s[i]));
    } else {
        memcpy(self->probs, s, (gsize)K * sizeof(float));
    }
    k = MIN(k, (guint)K);
    CsClassificationMeta *m =
        cs_buffer_add_classification_meta(f->buffer, k, (guint)K, self->model_name);
    m->frame_index = f->index;
    /* Selection by repeated scans: k is small. Ties: the lower index first. */
    int last = -1;
    float last_s = INFINITY;
    for (guint j = 0; j < k; j++) {
        int best = -1;
        for (int i = 0; i < K; i++) {
            if (s[i] > last_s || (s[i] == last_s && i <= last)) continue;
            if (best < 0 || s[i] > s[best]) best = i;
        }
        if (best < 0) break;
        cs_classification_meta_set(m, j, best, label_of(self, best), s[best], self->probs[best]);
        last = best;
        last_s = s[best];
    }
}

/* The model outputs of slot b as tensor metas: from the plan, or (e not NULL) from the forward
 * pass of the explainer's last run (batch 1). */
static void attach_outputs(GstCsInfer *self, GstCsInferFrame *f, int b, const cs_explainer *e)
{
    int n = e ? cs_explainer_n_outputs(e) : cs_plan_n_outputs(self->plan);
    int batch = e ? 1 : self->plan_batch;
    for (int o = 0; o < n; o++) {
        const cs_tensor *t = e ? cs_explainer_output(e, o) : cs_plan_output(self->plan, o);
        if (!t || t->type != CS_F32 || t->ndim < 1 || t->ndim > CS_TENSOR_META_MAX_DIMS) continue;
        gint64 dims[CS_TENSOR_META_MAX_DIMS];
        for (int i = 0; i < t->ndim; i++) dims[i] = t->dims[i];
        gsize per = (gsize)(t->numel / batch);
        if (batch > 1) dims[0] = 1;
        CsTensorMeta *m =
            cs_buffer_add_tensor_meta(f->buffer, CS_TENSOR_ROLE_OUTPUT, t->name, (guint)t->ndim,
                                      dims, (const float *)t->data + (gsize)b * per);
        if (m) {
            m->to_frame = f->to_frame;
            m->frame_width = f->frame_width;
            m->frame_height = f->frame_height;
            m->frame_index = f->index;
        }
    }
}

static CsHeatmapMeta *attach_heatmap(GstCsInfer *self, GstBuffer *buf, gint cls, gfloat score,
                                     guint w, guint h, const float *map)
{
    CsHeatmapMeta *hm =
        cs_buffer_add_heatmap_meta(buf, cs_method_name(self->method), cls, label_of(self, cls),
                                   score, self->layer_name, w, h, map);
    if (hm) {
        hm->tensor_width = (guint)self->W;
        hm->tensor_height = (guint)self->H;
    }
    return hm;
}

/* The explanation of frame f (model input at x), here or on the worker. With fused (synchronous
 * only), the model has not run on this frame: the explainer's forward pass gives the
 * classification and the output metas too. */
static gboolean explain_frame(GstCsInfer *self, GstCsInferFrame *f, const float *x, gint cls,
                              guint top_k, gboolean fused)
{
    gsize chw = (gsize)self->C * self->H * self->W;
    if (self->explain_async) {
        g_mutex_lock(&self->lock);
        gboolean idle = !self->busy;
        if (idle) {
            memcpy(cs_explainer_input(self->async_explainer)->data, x, chw * sizeof(float));
            self->job_index = f->index;
            self->job_pts = GST_BUFFER_PTS(f->buffer);
            self->job_to_frame = f->to_frame;
            self->job_class = cls;
            self->job = self->busy = TRUE;
            g_cond_signal(&self->cond);
        }
        g_mutex_unlock(&self->lock);
        GST_OBJECT_LOCK(self);
        if (idle)
            self->explained++;
        else
            self->explain_skipped++;
        GST_OBJECT_UNLOCK(self);
        return TRUE;
    }

    guint64 t0 = now_ns();
    float *in = cs_explainer_input(self->explainer)->data;
    if (x != in) memcpy(in, x, chw * sizeof(float));
    cs_explanation r;
    cs_error err = {0};
    if (cs_explain_run(self->explainer, cls, &r, &err) != CS_OK) {
        GST_ELEMENT_ERROR(self, STREAM, FAILED, ("Explanation failed"), ("%s", err.msg));
        return FALSE;
    }
    if (fused) {
        const cs_tensor *scores = cs_explainer_output(self->explainer, self->class_output);
        if (!scores || scores->type != CS_F32 || scores->numel != self->n_classes) {
            GST_ELEMENT_ERROR(self, STREAM, FAILED, ("Explanation failed"),
                              ("the explainer's forward pass gave no class scores"));
            return FALSE;
        }
        attach_classification(self, f, scores->data, top_k);
        attach_outputs(self, f, 0, self->explainer);
    }
    guint h = (guint)r.map->dims[r.map->ndim - 2], w = (guint)r.map->dims[r.map->ndim - 1];
    CsHeatmapMeta *hm = attach_heatmap(self, f->buffer, r.cls, r.score, w, h, r.map->data);
    guint64 ns = now_ns() - t0;
    if (hm) {
        hm->to_frame = f->to_frame;
        hm->frame_index = f->index;
        hm->pts = GST_BUFFER_PTS(f->buffer);
        hm->async = FALSE;
        hm->stage_ns = ns;
    }
    cs_buffer_add_timing(f->buffer, "csinfer.explain", ns);
    GST_OBJECT_LOCK(self);
    self->explained++;
    GST_OBJECT_UNLOCK(self);
    return TRUE;
}

/* The next run is a frame away: the engine's idle threads sleep now instead of spinning, so
 * the other elements' threads (csnormalize's, videoconvert's...) get the cores meanwhile. */
static void rest_threads(GstCsInfer *self)
{
    cs_plan_rest(self->plan);
    cs_explainer_rest(self->explainer);
}

/* engine-rerun: the frame's engine work once more, on the same input (its results are the
 * same and go nowhere), timed as csinfer.rerun. Measured in the same frames as the chain, it
 * pairs every in-chain run with a back-to-back one, so a benchmark on a machine whose speed
 * drifts compares like with like (bench/pipeline.sh). */
static gboolean rerun_engine(GstCsInfer *self, GstBuffer *buf, gboolean explainer, gint cls)
{
    cs_error err = {0};
    cs_explanation r;
    guint64 t0 = now_ns();
    cs_status st =
        explainer ? cs_explain_run(self->explainer, cls, &r, &err) : cs_plan_run(self->plan, &err);
    if (st != CS_OK) {
        GST_ELEMENT_ERROR(self, STREAM, FAILED, ("Inference failed"), ("%s", err.msg));
        return FALSE;
    }
    cs_buffer_add_timing(buf, "csinfer.rerun", now_ns() - t0);
    return TRUE;
}

/* Runs the model on the n pending frames and moves them to the ready queue. */
static GstFlowReturn process_pending(GstCsInfer *self)
{
    guint n = g_queue_get_length(&self->pending);
    if (n == 0) return GST_FLOW_OK;
    guint64 t0 = now_ns();
    GST_OBJECT_LOCK(self);
    gint target_class = self->target_class;
    guint interval = MAX(self->explain_interval, 1u);
    guint top_k = self->top_k;
    gboolean rerun = self->engine_rerun;
    GST_OBJECT_UNLOCK(self);

    /* A frame explained in the streaming thread: the explainer's own forward pass serves for
     * the classification and the outputs too, so the model runs once (batch 1 only; a batch
     * runs the plan and then explains its frames one by one). */
    GstCsInferFrame *head = g_queue_peek_head(&self->pending);
    if (self->explainer && n == 1 && self->plan_batch == 1 && head->index % interval == 0) {
        if (!fill_input(self, head, cs_explainer_input(self->explainer)->data))
            return GST_FLOW_ERROR;
        g_queue_push_tail(&self->ready, g_queue_pop_head(&self->pending));
        if (!explain_frame(self, head, cs_explainer_input(self->explainer)->data, target_class,
                           top_k, TRUE))
            return GST_FLOW_ERROR;
        cs_buffer_add_timing(head->buffer, "csinfer", now_ns() - t0);
        if (rerun && !rerun_engine(self, head->buffer, TRUE, target_class)) return GST_FLOW_ERROR;
        rest_threads(self);
        return GST_FLOW_OK;
    }

    cs_tensor *x = cs_plan_input(self->plan, self->input_index);
    gsize chw = (gsize)self->C * self->H * self->W;
    const float *xd = x->data;
    /* Batch 1 with an upstream tensor: the plan reads the tensor meta in place (its buffer is
     * held until the frame leaves), saving a copy of the input per frame. */
    CsTensorMeta *tm = NULL;
    gboolean bound = FALSE;
    if (self->plan_batch == 1 && n == 1) {
        if (!input_meta(self, head, &tm)) return GST_FLOW_ERROR;
        /* 0: not float-aligned, and the plan copies it at the run instead. */
        bound = tm && cs_plan_bind_input(self->plan, self->input_index, tm->data, NULL) >= 0;
        if (bound) xd = tm->data;
    }
    guint b = 0;
    for (GList *l = self->pending.head; !bound && l; l = l->next, b++)
        if (!fill_input(self, l->data, (float *)x->data + b * chw)) return GST_FLOW_ERROR;
    if (!bound && n < (guint)self->plan_batch) /* partial batch (EOS): unused slots are zero */
        memset((float *)x->data + (gsize)n * chw, 0,
               ((gsize)self->plan_batch - n) * chw * sizeof(float));

    cs_error err = {0};
    GstFlowReturn ret = GST_FLOW_OK;
    guint64 t_run = now_ns();
    if (cs_plan_run(self->plan, &err) != CS_OK) {
        GST_ELEMENT_ERROR(self, STREAM, FAILED, ("Inference failed"), ("%s", err.msg));
        ret = GST_FLOW_ERROR;
        goto done;
    }
    guint64 run_ns = now_ns() - t0;
    /* The model's own time, apart from the element's work around it (per frame of a batch). */
    guint64 forward_ns = (now_ns() - t_run) / n;
    const float *scores = cs_plan_output(self->plan, self->class_output)->data;

    GstCsInferFrame *f;
    b = 0;
    while ((f = g_queue_pop_head(&self->pending))) {
        guint64 f0 = now_ns();
        g_queue_push_tail(&self->ready, f);
        const float *s = scores + (gsize)b * self->n_classes;
        attach_classification(self, f, s, top_k);
        attach_outputs(self, f, (int)b, NULL);
        cs_buffer_add_timing(f->buffer, "csinfer.forward", forward_ns);
        if ((self->explainer || self->async_explainer) && f->index % interval == 0 &&
            !explain_frame(self, f, xd + b * chw, target_class, top_k, FALSE)) {
            ret = GST_FLOW_ERROR;
            goto done;
        }
        /* Per frame: its share of the batch run plus its own work. */
        cs_buffer_add_timing(f->buffer, "csinfer", run_ns / n + (now_ns() - f0));
        b++;
    }
    /* the frame's forward pass again (batch 1: a batch has no per-frame run to repeat) */
    if (rerun && n == 1 && !rerun_engine(self, head->buffer, FALSE, target_class))
        ret = GST_FLOW_ERROR;
done:
    /* The plan's own buffer again before the frame (and its tensor) can go. */
    if (bound) cs_plan_bind_input(self->plan, self->input_index, NULL, NULL);
    rest_threads(self);
    return ret;
}

/* Takes the buffers in; csinfer holds them itself (batches), so GstBaseTransform's default
 * generate_output is not used. The parent's submit_input_buffer runs first: it does the
 * base class's QoS (with the qos property, on by default: a buffer whose running time is at
 * or before the earliest time of downstream's last QoS event is dropped before the model
 * runs, with a QoS message on the bus) and leaves a buffer it keeps in queued_buf. */
static GstFlowReturn gst_cs_infer_submit_input_buffer(GstBaseTransform *trans, gboolean is_discont,
                                                      GstBuffer *input)
{
    GstCsInfer *self = GST_CS_INFER(trans);
    GstFlowReturn ret =
        GST_BASE_TRANSFORM_CLASS(parent_class)->submit_input_buffer(trans, is_discont, input);
    if (ret != GST_FLOW_OK) return ret; /* dropped late (GST_BASE_TRANSFORM_FLOW_DROPPED) */
    input = trans->queued_buf;
    trans->queued_buf = NULL;
    if (!input) return GST_FLOW_OK;
    GstCsInferFrame *f = g_new0(GstCsInferFrame, 1);
    f->buffer = gst_buffer_make_writable(input);
    f->to_frame = (CsTransform2D){1.0, 1.0, 0.0, 0.0};
    GST_OBJECT_LOCK(self);
    f->index = self->frames++;
    GST_OBJECT_UNLOCK(self);
    g_queue_push_tail(&self->pending, f);
    if (g_queue_get_length(&self->pending) < (guint)self->plan_batch) return GST_FLOW_OK;
    return process_pending(self);
}

/* Attaches a finished asynchronous explanation to buf, if one is waiting. */
static gboolean attach_async_result(GstCsInfer *self, GstBuffer *buf)
{
    if (!self->async_explainer) return TRUE;
    g_mutex_lock(&self->lock);
    GstCsInferResult *r = self->result;
    self->result = NULL;
    gchar *error = self->async_error;
    self->async_error = NULL;
    g_mutex_unlock(&self->lock);
    if (error) {
        GST_ELEMENT_ERROR(self, STREAM, FAILED, ("Explanation failed"), ("%s", error));
        g_free(error);
        result_free(r);
        return FALSE;
    }
    if (!r) return TRUE;
    CsHeatmapMeta *hm = attach_heatmap(self, buf, r->cls, r->score, r->width, r->height, r->map);
    if (hm) {
        hm->to_frame = r->to_frame;
        hm->frame_index = r->frame_index;
        hm->pts = r->pts;
        hm->async = TRUE;
        hm->stage_ns = r->ns;
    }
    result_free(r);
    return TRUE;
}

static GstFlowReturn gst_cs_infer_generate_output(GstBaseTransform *trans, GstBuffer **outbuf)
{
    GstCsInfer *self = GST_CS_INFER(trans);
    *outbuf = NULL;
    GstCsInferFrame *f = g_queue_pop_head(&self->ready);
    if (!f) return GST_FLOW_OK;
    GstBuffer *buf = f->buffer;
    f->buffer = NULL;
    g_free(f);
    if (!attach_async_result(self, buf)) {
        gst_buffer_unref(buf);
        return GST_FLOW_ERROR;
    }
    *outbuf = buf;
    return GST_FLOW_OK;
}

static gboolean gst_cs_infer_sink_event(GstBaseTransform *trans, GstEvent *event)
{
    GstCsInfer *self = GST_CS_INFER(trans);
    switch (GST_EVENT_TYPE(event)) {
    case GST_EVENT_EOS:
        /* A partial batch runs now; its frames go out before EOS. */
        if (self->plan && process_pending(self) == GST_FLOW_OK) {
            GstBuffer *buf;
            while (gst_cs_infer_generate_output(trans, &buf) == GST_FLOW_OK && buf)
                if (gst_pad_push(GST_BASE_TRANSFORM_SRC_PAD(trans), buf) != GST_FLOW_OK) break;
        }
        g_queue_clear_full(&self->pending, frame_free);
        g_queue_clear_full(&self->ready, frame_free);
        break;
    case GST_EVENT_FLUSH_STOP:
        g_queue_clear_full(&self->pending, frame_free);
        g_queue_clear_full(&self->ready, frame_free);
        break;
    default:
        break;
    }
    return GST_BASE_TRANSFORM_CLASS(parent_class)->sink_event(trans, event);
}

/* ---- GObject --------------------------------------------------------------------------------- */

static void gst_cs_infer_set_property(GObject *object, guint prop_id, const GValue *value,
                                      GParamSpec *pspec)
{
    GstCsInfer *self = GST_CS_INFER(object);
    GST_OBJECT_LOCK(self);
    switch (prop_id) {
    case PROP_MODEL:
        g_free(self->model_path);
        self->model_path = g_value_dup_string(value);
        break;
    case PROP_THREADS:
        self->threads = g_value_get_int(value);
        break;
    case PROP_BATCH:
        self->batch = g_value_get_uint(value);
        break;
    case PROP_EXPLAIN:
        self->explain = g_value_get_enum(value);
        break;
    case PROP_EXPLAIN_MODE:
        self->explain_mode = g_value_get_enum(value);
        break;
    case PROP_TARGET_CLASS:
        /* Checked against the model in start(); while running an out-of-range class is an
         * error of the explanation. */
        self->target_class = g_value_get_int(value);
        break;
    case PROP_TARGET_LAYER:
        g_free(self->target_layer);
        self->target_layer = g_value_dup_string(value);
        break;
    case PROP_EXPLAIN_INTERVAL:
        self->explain_interval = g_value_get_uint(value);
        break;
    case PROP_TOP_K:
        self->top_k = g_value_get_uint(value);
        break;
    case PROP_LABELS:
        g_free(self->labels_path);
        self->labels_path = g_value_dup_string(value);
        break;
    case PROP_DECODER:
        g_free(self->decoder_path);
        self->decoder_path = g_value_dup_string(value);
        break;
    case PROP_ENGINE_RERUN:
        self->engine_rerun = g_value_get_boolean(value);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
        break;
    }
    GST_OBJECT_UNLOCK(self);
}

static void gst_cs_infer_get_property(GObject *object, guint prop_id, GValue *value,
                                      GParamSpec *pspec)
{
    GstCsInfer *self = GST_CS_INFER(object);
    GST_OBJECT_LOCK(self);
    switch (prop_id) {
    case PROP_MODEL:
        g_value_set_string(value, self->model_path);
        break;
    case PROP_THREADS:
        g_value_set_int(value, self->threads);
        break;
    case PROP_BATCH:
        g_value_set_uint(value, self->batch);
        break;
    case PROP_EXPLAIN:
        g_value_set_enum(value, self->explain);
        break;
    case PROP_EXPLAIN_MODE:
        g_value_set_enum(value, self->explain_mode);
        break;
    case PROP_TARGET_CLASS:
        g_value_set_int(value, self->target_class);
        break;
    case PROP_TARGET_LAYER:
        g_value_set_string(value, self->target_layer);
        break;
    case PROP_EXPLAIN_INTERVAL:
        g_value_set_uint(value, self->explain_interval);
        break;
    case PROP_TOP_K:
        g_value_set_uint(value, self->top_k);
        break;
    case PROP_LABELS:
        g_value_set_string(value, self->labels_path);
        break;
    case PROP_DECODER:
        g_value_set_string(value, self->decoder_path);
        break;
    case PROP_ENGINE_RERUN:
        g_value_set_boolean(value, self->engine_rerun);
        break;
    case PROP_FRAMES:
        g_value_set_uint64(value, self->frames);
        break;
    case PROP_EXPLAINED:
        g_value_set_uint64(value, self->explained);
        break;
    case PROP_EXPLAIN_SKIPPED:
        g_value_set_uint64(value, self->explain_skipped);
        break;
    case PROP_ASYNC_REPLACED:
        g_value_set_uint64(value, self->async_replaced);
        break;
    case PROP_MODEL_USERS:
        g_value_set_uint(value, cs_model_cache_users(self->model));
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
        break;
    }
    GST_OBJECT_UNLOCK(self);
}

static void gst_cs_infer_finalize(GObject *object)
{
    GstCsInfer *self = GST_CS_INFER(object);
    engine_free(self);
    g_free(self->model_path);
    g_free(self->target_layer);
    g_free(self->labels_path);
    g_free(self->decoder_path);
    g_mutex_clear(&self->lock);
    g_cond_clear(&self->cond);
    G_OBJECT_CLASS(parent_class)->finalize(object);
}

static void gst_cs_infer_class_init(GstCsInferClass *klass)
{
    GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
    GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
    GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS(klass);

    GST_DEBUG_CATEGORY_INIT(gst_cs_infer_debug, "csinfer", 0, "camstream inference");

    gobject_class->set_property = gst_cs_infer_set_property;
    gobject_class->get_property = gst_cs_infer_get_property;
    gobject_class->finalize = gst_cs_infer_finalize;

    const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
    const GParamFlags ready = rw | GST_PARAM_MUTABLE_READY;
    const GParamFlags playing = rw | GST_PARAM_MUTABLE_PLAYING;
    const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

    g_object_class_install_property(
        gobject_class, PROP_MODEL,
        g_param_spec_string("model", "Model",
                            "An ONNX file (ImageNet preprocessing, stretch) or a model description "
                            "(model, preprocessing, labels, output heads, target layer; "
                            "docs/FORMATS.md)",
                            NULL, ready));
    g_object_class_install_property(
        gobject_class, PROP_THREADS,
        g_param_spec_int("threads", "Threads",
                         "Threads of the engine (inference and each explainer); 0: all cores", 0,
                         256, DEFAULT_THREADS, ready));
    g_object_class_install_property(
        gobject_class, PROP_BATCH,
        g_param_spec_uint("batch", "Batch",
                          "Frames per model run. B > 1 holds frames until B have arrived "
                          "(latency: B - 1 frame intervals) for throughput; needs a symbolic "
                          "batch dimension",
                          1, 64, DEFAULT_BATCH, ready));
    g_object_class_install_property(
        gobject_class, PROP_EXPLAIN,
        g_param_spec_enum("explain", "Explain", "Explanation method attached as a heatmap meta",
                          GST_TYPE_CS_INFER_EXPLAIN, DEFAULT_EXPLAIN, ready));
    g_object_class_install_property(
        gobject_class, PROP_EXPLAIN_MODE,
        g_param_spec_enum("explain-mode", "Explain mode",
                          "Where explanations run: the streaming thread (sync) or a worker "
                          "thread whose results reach a later buffer (async)",
                          GST_TYPE_CS_INFER_EXPLAIN_MODE, DEFAULT_EXPLAIN_MODE, ready));
    g_object_class_install_property(
        gobject_class, PROP_TARGET_CLASS,
        g_param_spec_int("target-class", "Target class",
                         "Class to explain; -1: the top-1 class of each frame", -1, G_MAXINT,
                         DEFAULT_TARGET_CLASS, playing));
    g_object_class_install_property(
        gobject_class, PROP_TARGET_LAYER,
        g_param_spec_string("target-layer", "Target layer",
                            "Feature map to explain (ONNX tensor name); default: the model "
                            "description's [explain] layer, else the last feature map before "
                            "global pooling",
                            NULL, ready));
    g_object_class_install_property(
        gobject_class, PROP_EXPLAIN_INTERVAL,
        g_param_spec_uint("explain-interval", "Explain interval",
                          "Explain every Nth frame (frame index divisible by N)", 1, G_MAXUINT,
                          DEFAULT_EXPLAIN_INTERVAL, playing));
    g_object_class_install_property(gobject_class, PROP_TOP_K,
                                    g_param_spec_uint("top-k", "Top k",
                                                      "Classes in the classification meta", 1, 1000,
                                                      DEFAULT_TOP_K, playing));
    g_object_class_install_property(
        gobject_class, PROP_LABELS,
        g_param_spec_string("labels", "Labels",
                            "Labels file, one per line (overrides the model description's)", NULL,
                            ready));
    g_object_class_install_property(
        gobject_class, PROP_DECODER,
        g_param_spec_string("decoder", "Decoder",
                            "explain=pv: ONNX feature decoder from the target layer to an image",
                            NULL, ready));
    g_object_class_install_property(
        gobject_class, PROP_ENGINE_RERUN,
        g_param_spec_boolean(
            "engine-rerun", "Engine rerun",
            "Benchmarking aid: right after each frame's engine work (its forward pass, or the "
            "explainer's run on an explained frame) run it once more on the same input and record "
            "that time as the CsTimingMeta stage csinfer.rerun: the engine alone, back to back, "
            "measured in the same frames as the chain. Results are unchanged; csinfer's own cost "
            "doubles (the rerun is not in its csinfer stage)",
            FALSE, playing));
    g_object_class_install_property(gobject_class, PROP_FRAMES,
                                    g_param_spec_uint64("frames", "Frames",
                                                        "Frames received since start", 0,
                                                        G_MAXUINT64, 0, ro));
    g_object_class_install_property(
        gobject_class, PROP_EXPLAINED,
        g_param_spec_uint64("explained", "Explained",
                            "Frames explained (asynchronous: handed to the worker)", 0, G_MAXUINT64,
                            0, ro));
    g_object_class_install_property(
        gobject_class, PROP_EXPLAIN_SKIPPED,
        g_param_spec_uint64("explain-skipped", "Explanations skipped",
                            "Frames due for an explanation while the worker was busy", 0,
                            G_MAXUINT64, 0, ro));
    g_object_class_install_property(
        gobject_class, PROP_ASYNC_REPLACED,
        g_param_spec_uint64("async-replaced", "Asynchronous results replaced",
                            "Worker results replaced by a newer one before a buffer carried them",
                            0, G_MAXUINT64, 0, ro));

    g_object_class_install_property(
        gobject_class, PROP_MODEL_USERS,
        g_param_spec_uint("model-users", "Model users",
                          "Elements in this process that share this element's loaded model (the "
                          "same file, size and modification time: loaded once); 0 when stopped",
                          0, G_MAXUINT, 0, ro));

    gst_element_class_set_static_metadata(
        element_class, "camstream inference", "Filter/Analyzer/Video",
        "Runs a CNN on video frames: classification, explanation heatmaps and model outputs as "
        "metas",
        "camstream");
    gst_element_class_add_static_pad_template(element_class, &sink_template);
    gst_element_class_add_static_pad_template(element_class, &src_template);

    trans_class->start = GST_DEBUG_FUNCPTR(gst_cs_infer_start);
    trans_class->stop = GST_DEBUG_FUNCPTR(gst_cs_infer_stop);
    trans_class->set_caps = GST_DEBUG_FUNCPTR(gst_cs_infer_set_caps);
    trans_class->submit_input_buffer = GST_DEBUG_FUNCPTR(gst_cs_infer_submit_input_buffer);
    trans_class->generate_output = GST_DEBUG_FUNCPTR(gst_cs_infer_generate_output);
    trans_class->sink_event = GST_DEBUG_FUNCPTR(gst_cs_infer_sink_event);
    trans_class->passthrough_on_same_caps = FALSE;

    gst_type_mark_as_plugin_api(GST_TYPE_CS_INFER_EXPLAIN, 0);
    gst_type_mark_as_plugin_api(GST_TYPE_CS_INFER_EXPLAIN_MODE, 0);
}

static void gst_cs_infer_init(GstCsInfer *self)
{
    self->threads = DEFAULT_THREADS;
    self->batch = DEFAULT_BATCH;
    self->explain = DEFAULT_EXPLAIN;
    self->explain_mode = DEFAULT_EXPLAIN_MODE;
    self->target_class = DEFAULT_TARGET_CLASS;
    self->explain_interval = DEFAULT_EXPLAIN_INTERVAL;
    self->top_k = DEFAULT_TOP_K;
    self->plan_batch = 1;
    g_queue_init(&self->pending);
    g_queue_init(&self->ready);
    g_mutex_init(&self->lock);
    g_cond_init(&self->cond);
    gst_base_transform_set_in_place(GST_BASE_TRANSFORM(self), TRUE);
    /* Late frames are dropped before inference (submit_input_buffer), as GstVideoFilter does. */
    gst_base_transform_set_qos_enabled(GST_BASE_TRANSFORM(self), TRUE);
}
