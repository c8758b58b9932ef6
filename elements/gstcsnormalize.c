/**
 * SECTION:element-csnormalize
 * @title: csnormalize
 *
 * Turns each video frame into the input tensor of a CNN and attaches it to the buffer as a
 * #CsTensorMeta (role INPUT, 1×C×H×W floats, NCHW); the frame itself passes through
 * unchanged (it is only mapped for reading). csinfer downstream runs the model on that tensor.
 *
 * The work is camstream core's preprocessing (camstream/preprocess.h), shared with
 * `camstream explain`:
 *
 * - resize to the model input (bilinear, antialiased when shrinking): stretch, letterbox (the
 *   padding is 0 after normalization) or centre crop; the meta's to_frame maps tensor pixels
 *   back to frame pixels;
 * - scale the 8-bit values to [0,1], [−1,1] or keep 0..255;
 * - subtract a per-channel mean and divide by a per-channel std (presets: torchvision
 *   ImageNet, Caffe BGR, Keras/TF MobileNet);
 * - or, from a statistics file (#GstCsNormalize:statistics, docs/FORMATS.md): per-channel
 *   mean/std, a mean image, or PCA/ZCA whitening fitted on a training split.
 *
 * Settings come from #GstCsNormalize:model when given (a model description: its
 * [preprocess] group and the model's input size; or a bare ONNX file: its input size and the
 * imagenet preset); every other property overrides one of them. Without a model,
 * #GstCsNormalize:width and #GstCsNormalize:height are required.
 *
 * With #GstCsNormalize:threads (default 0: one per core, like csinfer's) each frame's tensor
 * rows are split over a small thread pool whose workers sleep between frames; the tensor is
 * bit-identical for any thread count.
 *
 * Accepts RGB, BGR, RGBA, BGRA, RGBx, BGRx, GRAY8, I420 and NV12 (YUV is converted with the
 * stream's colour matrix and range). A missing or corrupt model, model description or
 * statistics file, or a model input that is not 1×C×H×W with C = 1 or 3, stops the pipeline
 * with an error naming the file and line.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 v4l2src ! videoconvert ! \
 *     csnormalize model=models/resnet18.model resize-mode=letterbox ! \
 *     csinfer model=models/resnet18.model ! fakesink
 * gst-launch-1.0 videotestsrc ! csnormalize width=224 height=224 preset=caffe ! fakesink
 * ]|
 */

#include "gstcsnormalize.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "gst/camstream/camstream-meta.h"
#include "model_cache.h"

/* gstcsmeta.c (not public): a tensor meta whose values are left for the caller to write; the
 * preprocessing writes every one of them. */
CsTensorMeta *cs_buffer_add_tensor_meta_unfilled(GstBuffer *buffer, CsTensorRole role,
                                                 const gchar *name, guint ndim, const gint64 *dims);

GST_DEBUG_CATEGORY_STATIC(gst_cs_normalize_debug);
#define GST_CAT_DEFAULT gst_cs_normalize_debug

enum {
    PROP_0,
    PROP_PRESET,
    PROP_MEAN,
    PROP_STD,
    PROP_SCALE,
    PROP_ORDER,
    PROP_RESIZE_MODE,
    PROP_WIDTH,
    PROP_HEIGHT,
    PROP_MODEL,
    PROP_STATISTICS,
    PROP_THREADS,
};

#define DEFAULT_PRESET GST_CS_NORMALIZE_PRESET_AUTO
#define DEFAULT_SCALE GST_CS_NORMALIZE_SCALE_AUTO
#define DEFAULT_ORDER GST_CS_NORMALIZE_ORDER_AUTO
#define DEFAULT_RESIZE GST_CS_NORMALIZE_RESIZE_AUTO
#define DEFAULT_SIZE 0
#define DEFAULT_THREADS 0
#define MAX_SIZE 8192

#define CAPS_STR GST_VIDEO_CAPS_MAKE("{ RGB, BGR, RGBA, BGRA, RGBx, BGRx, GRAY8, I420, NV12 }")

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(CAPS_STR));
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(CAPS_STR));

#define gst_cs_normalize_parent_class parent_class
G_DEFINE_TYPE(GstCsNormalize, gst_cs_normalize, GST_TYPE_VIDEO_FILTER);
GST_ELEMENT_REGISTER_DEFINE(csnormalize, "csnormalize", GST_RANK_NONE, GST_TYPE_CS_NORMALIZE);

/* ---- enums ------------------------------------------------------------------------------- */

#define DEFINE_ENUM(fn, name, ...)                                                                 \
    GType fn(void)                                                                                 \
    {                                                                                              \
        static gsize type = 0;                                                                     \
        static const GEnumValue values[] = {__VA_ARGS__, {0, NULL, NULL}};                         \
        if (g_once_init_enter(&type)) {                                                            \
            GType t = g_enum_register_static(name, values);                                        \
            g_once_init_leave(&type, t);                                                           \
        }                                                                                          \
        return (GType)type;                                                                        \
    }

DEFINE_ENUM(gst_cs_normalize_preset_get_type, "GstCsNormalizePreset",
            {GST_CS_NORMALIZE_PRESET_AUTO, "From the model description (else imagenet)", "auto"},
            {GST_CS_NORMALIZE_PRESET_IMAGENET,
             "torchvision ImageNet: [0,1] RGB, mean (0.485,0.456,0.406), std (0.229,0.224,0.225)",
             "imagenet"},
            {GST_CS_NORMALIZE_PRESET_CAFFE, "Caffe: BGR 0..255 minus (103.939,116.779,123.68)",
             "caffe"},
            {GST_CS_NORMALIZE_PRESET_TF, "Keras/TF MobileNet: [-1,1] RGB", "tf"},
            {GST_CS_NORMALIZE_PRESET_NONE, "[0,1] RGB, no mean or std", "none"})
DEFINE_ENUM(gst_cs_normalize_scale_get_type, "GstCsNormalizeScale",
            {GST_CS_NORMALIZE_SCALE_AUTO, "From the preset or model description", "auto"},
            {GST_CS_NORMALIZE_SCALE_01, "p/255: [0,1]", "01"},
            {GST_CS_NORMALIZE_SCALE_11, "p/127.5 - 1: [-1,1]", "11"},
            {GST_CS_NORMALIZE_SCALE_255, "p: 0..255", "255"})
DEFINE_ENUM(gst_cs_normalize_order_get_type, "GstCsNormalizeOrder",
            {GST_CS_NORMALIZE_ORDER_AUTO, "From the preset or model description", "auto"},
            {GST_CS_NORMALIZE_ORDER_RGB, "Tensor channels R, G, B", "rgb"},
            {GST_CS_NORMALIZE_ORDER_BGR, "Tensor channels B, G, R", "bgr"})
DEFINE_ENUM(gst_cs_normalize_resize_get_type, "GstCsNormalizeResize",
            {GST_CS_NORMALIZE_RESIZE_AUTO, "From the model description (else stretch)", "auto"},
            {GST_CS_NORMALIZE_RESIZE_STRETCH, "Scale both axes independently", "stretch"},
            {GST_CS_NORMALIZE_RESIZE_LETTERBOX,
             "Fit the longer side, pad the rest (0 after normalization)", "letterbox"},
            {GST_CS_NORMALIZE_RESIZE_CROP, "Fit the shorter side, cut the centre", "crop"})

/* ---- files and settings ------------------------------------------------------------------ */

static void clear_files(GstCsNormalize *self)
{
    cs_model_desc_destroy(&self->desc);
    cs_statistics_destroy(&self->stats);
    g_clear_pointer(&self->input_name, g_free);
    self->model_c = self->model_h = self->model_w = 0;
}

/* Reads the model (description) and the statistics file. FALSE after posting an error. */
static gboolean load_files(GstCsNormalize *self)
{
    GST_OBJECT_LOCK(self);
    gchar *model = g_strdup(self->model), *stats = g_strdup(self->statistics);
    self->files_dirty = FALSE;
    GST_OBJECT_UNLOCK(self);
    clear_files(self);
    cs_error err = {0};
    gboolean ok = FALSE;
    if (model) {
        if (!(self->desc = cs_model_desc_open(model, &err))) {
            GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("model: %s", err.msg),
                              ("model=%s", model));
            goto done;
        }
        /* Only the input is read; the model cache shares csinfer's copy when it has one. */
        cs_model *m = cs_model_cache_acquire(self->desc->model_file, &err);
        if (!m) {
            GST_ELEMENT_ERROR(self, RESOURCE, NOT_FOUND, ("model: %s", err.msg),
                              ("model=%s", model));
            goto done;
        }
        const cs_tensor *x = cs_model_desc_input(self->desc, m, &err);
        char shape[64];
        if (x && (x->ndim != 4 || (x->dims[1] != 1 && x->dims[1] != 3) || x->dims[2] < 1 ||
                  x->dims[3] < 1 || x->dims[2] > MAX_SIZE || x->dims[3] > MAX_SIZE)) {
            cs_shape_str(x, shape, sizeof shape);
            snprintf(err.msg, sizeof err.msg,
                     "%s: input '%s' is %s; csnormalize makes 1xCxHxW images with C = 1 or 3",
                     self->desc->model_file, x->name ? x->name : "?", shape);
            x = NULL;
        }
        if (!x) {
            cs_model_cache_release(&m);
            GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("model: %s", err.msg),
                              ("model=%s", model));
            goto done;
        }
        self->model_c = (gint)x->dims[1];
        self->model_h = (gint)x->dims[2];
        self->model_w = (gint)x->dims[3];
        self->input_name = g_strdup(x->name);
        cs_model_cache_release(&m);
    }
    if (stats && !(self->stats = cs_statistics_load(stats, &err))) {
        GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("statistics: %s", err.msg),
                          ("statistics=%s", stats));
        goto done;
    }
    ok = TRUE;
done:
    if (!ok) clear_files(self);
    g_free(model);
    g_free(stats);
    return ok;
}

static void format_triplet(GString *s, const char *name, const float v[3], int n)
{
    g_string_append_printf(s, " %s=", name);
    for (int i = 0; i < n; i++) g_string_append_printf(s, "%s%g", i ? "," : "", (double)v[i]);
}

/* Builds the preprocessing context for the negotiated format from the files and properties.
 * FALSE after posting an error. */
static gboolean configure(GstCsNormalize *self)
{
    GST_OBJECT_LOCK(self);
    GstCsNormalizePreset preset = self->preset;
    GstCsNormalizeScale scale = self->scale;
    GstCsNormalizeOrder order = self->order;
    GstCsNormalizeResize resize = self->resize;
    gboolean have_mean = self->have_mean, have_std = self->have_std;
    float mean[3], std[3];
    memcpy(mean, self->mean, sizeof mean);
    memcpy(std, self->std, sizeof std);
    gint width = self->width, height = self->height;
    gint threads = self->threads;
    self->dirty = FALSE;
    GST_OBJECT_UNLOCK(self);

    cs_pp_opts o = {0};
    const char *preset_name = "imagenet";
    if (self->desc) {
        o = self->desc->pp;
        preset_name = self->desc->statistics ? NULL : self->desc->preset;
    } else {
        cs_pp_preset("imagenet", &o);
        o.resize = CS_RESIZE_STRETCH;
    }
    static const char *const presets[] = {NULL, "imagenet", "caffe", "tf", "none"};
    if (preset != GST_CS_NORMALIZE_PRESET_AUTO) {
        cs_pp_preset(presets[preset], &o);
        preset_name = presets[preset];
    }
    if (scale != GST_CS_NORMALIZE_SCALE_AUTO) o.scale = (cs_scale)(scale - 1);
    if (order != GST_CS_NORMALIZE_ORDER_AUTO) o.bgr = order == GST_CS_NORMALIZE_ORDER_BGR;
    if (have_mean) memcpy(o.mean, mean, sizeof mean);
    if (have_std) memcpy(o.std, std, sizeof std);
    if (resize != GST_CS_NORMALIZE_RESIZE_AUTO) o.resize = (cs_resize_mode)(resize - 1);
    if (scale || order || have_mean || have_std) preset_name = cs_pp_preset_of(&o);

    const cs_statistics *st = self->stats  ? self->stats
                              : self->desc ? self->desc->statistics
                                           : NULL;
    if (st && (preset || scale || order || have_mean || have_std))
        GST_WARNING_OBJECT(self, "the statistics file sets scale, order, mean and std: the "
                                 "preset, scale, order, mean and std properties are ignored");

    gint C = self->model_c ? self->model_c : st ? st->channels : 3;
    gint H = height ? height : self->model_h, W = width ? width : self->model_w;
    if (!H || !W) {
        GST_ELEMENT_ERROR(self, LIBRARY, SETTINGS,
                          ("no model input size: set the model property, or width and height"),
                          (NULL));
        return FALSE;
    }
    if (self->model_h && (H != self->model_h || W != self->model_w)) {
        GST_ELEMENT_ERROR(self, LIBRARY, SETTINGS,
                          ("width x height %dx%d does not fit the model input %dx%d (%s)", W, H,
                           self->model_w, self->model_h, self->desc->model_file),
                          (NULL));
        return FALSE;
    }
    cs_error err = {0};
    cs_pp *pp = cs_pp_new(&o, st, C, H, W, &err);
    if (!pp) {
        GST_ELEMENT_ERROR(self, LIBRARY, SETTINGS, ("%s", err.msg), (NULL));
        return FALSE;
    }
    if (threads != 1 && cs_pp_set_threads(pp, threads) != 0)
        GST_WARNING_OBJECT(self, "could not start %d preprocessing threads; using one", threads);
    cs_pp_destroy(&self->pp);
    self->pp = pp;
    self->C = C, self->H = H, self->W = W;

    const cs_pp_opts *e = cs_pp_get_opts(pp);
    GString *s = g_string_new(NULL);
    if (st) {
        g_string_append_printf(s, "statistics=%s kind=%s", st->path ? st->path : "?",
                               cs_stats_kind_name(st->kind));
        if (st->fitted_on) g_string_append_printf(s, " fitted_on=%s", st->fitted_on);
    } else if (preset_name) {
        g_string_append_printf(s, "preset=%s", preset_name);
    } else {
        g_string_append(s, "preset=custom");
    }
    g_string_append_printf(s, " scale=%s order=%s", cs_pp_scale_name(e->scale),
                           e->bgr ? "bgr" : "rgb");
    if (!st || st->kind == CS_STATS_MEAN_STD) {
        format_triplet(s, "mean", e->mean, C);
        format_triplet(s, "std", e->std, C);
    }
    g_string_append_printf(s, " resize=%s size=%dx%d", cs_pp_resize_name(e->resize), W, H);
    g_free(self->description);
    self->description = g_string_free(s, FALSE);
    GST_INFO_OBJECT(self, "%s", self->description);
    return TRUE;
}

static gboolean pixfmt_of(GstVideoFormat f, cs_pixfmt *out)
{
    switch (f) {
    case GST_VIDEO_FORMAT_RGB:
        *out = CS_PIX_RGB;
        return TRUE;
    case GST_VIDEO_FORMAT_BGR:
        *out = CS_PIX_BGR;
        return TRUE;
    case GST_VIDEO_FORMAT_RGBA:
        *out = CS_PIX_RGBA;
        return TRUE;
    case GST_VIDEO_FORMAT_BGRA:
        *out = CS_PIX_BGRA;
        return TRUE;
    case GST_VIDEO_FORMAT_RGBx:
        *out = CS_PIX_RGBX;
        return TRUE;
    case GST_VIDEO_FORMAT_BGRx:
        *out = CS_PIX_BGRX;
        return TRUE;
    case GST_VIDEO_FORMAT_GRAY8:
        *out = CS_PIX_GRAY8;
        return TRUE;
    case GST_VIDEO_FORMAT_I420:
        *out = CS_PIX_I420;
        return TRUE;
    case GST_VIDEO_FORMAT_NV12:
        *out = CS_PIX_NV12;
        return TRUE;
    default:
        return FALSE;
    }
}

/* ---- GstBaseTransform / GstVideoFilter --------------------------------------------------- */

static gboolean gst_cs_normalize_start(GstBaseTransform *bt)
{
    GstCsNormalize *self = GST_CS_NORMALIZE(bt);
    self->frame_index = 0;
    return load_files(self);
}

static gboolean gst_cs_normalize_stop(GstBaseTransform *bt)
{
    GstCsNormalize *self = GST_CS_NORMALIZE(bt);
    cs_pp_destroy(&self->pp);
    clear_files(self);
    g_clear_pointer(&self->description, g_free);
    return TRUE;
}

static gboolean gst_cs_normalize_set_info(GstVideoFilter *vf, GstCaps *incaps,
                                          GstVideoInfo *in_info, GstCaps *outcaps,
                                          GstVideoInfo *out_info)
{
    GstCsNormalize *self = GST_CS_NORMALIZE(vf);
    cs_pixfmt fmt;
    if (!pixfmt_of(GST_VIDEO_INFO_FORMAT(in_info), &fmt)) {
        GST_ELEMENT_ERROR(self, STREAM, FORMAT,
                          ("unsupported format %s (RGB, BGR, RGBA, BGRA, RGBx, BGRx, GRAY8, I420, "
                           "NV12)",
                           gst_video_format_to_string(GST_VIDEO_INFO_FORMAT(in_info))),
                          (NULL));
        return FALSE;
    }
    memset(&self->frame, 0, sizeof self->frame);
    self->frame.format = fmt;
    self->frame.matrix =
        in_info->colorimetry.matrix == GST_VIDEO_COLOR_MATRIX_BT709 ? CS_YUV_BT709 : CS_YUV_BT601;
    self->frame.full_range = in_info->colorimetry.range == GST_VIDEO_COLOR_RANGE_0_255;
    gst_base_transform_set_in_place(GST_BASE_TRANSFORM(vf), TRUE);
    return configure(self);
}

/* GstVideoFilter maps in-place frames for writing; the frame is only read here, so map it
 * read-only (no copy of shared memory), then do the work of transform_frame_ip. */
static GstFlowReturn gst_cs_normalize_transform_frame_ip(GstVideoFilter *vf, GstVideoFrame *vframe);

static GstFlowReturn gst_cs_normalize_transform_ip(GstBaseTransform *bt, GstBuffer *buf)
{
    GstVideoFilter *vf = GST_VIDEO_FILTER(bt);
    if (!vf->negotiated) {
        GST_ELEMENT_ERROR(bt, CORE, NEGOTIATION, (NULL), ("unknown format"));
        return GST_FLOW_NOT_NEGOTIATED;
    }
    GstVideoFrame frame;
    if (!gst_video_frame_map(&frame, &vf->in_info, buf,
                             GST_MAP_READ | GST_VIDEO_FRAME_MAP_FLAG_NO_REF)) {
        GST_ELEMENT_ERROR(bt, STREAM, FAILED, ("could not map the frame"), (NULL));
        return GST_FLOW_ERROR;
    }
    GstFlowReturn ret = gst_cs_normalize_transform_frame_ip(vf, &frame);
    gst_video_frame_unmap(&frame);
    return ret;
}

static GstFlowReturn gst_cs_normalize_transform_frame_ip(GstVideoFilter *vf, GstVideoFrame *vframe)
{
    GstCsNormalize *self = GST_CS_NORMALIZE(vf);
    guint64 t0 = gst_util_get_timestamp();
    GST_OBJECT_LOCK(self);
    gboolean files = self->files_dirty, dirty = self->dirty;
    GST_OBJECT_UNLOCK(self);
    if (files && !load_files(self)) return GST_FLOW_ERROR;
    if ((files || dirty || !self->pp) && !configure(self)) return GST_FLOW_ERROR;

    cs_frame f = self->frame;
    f.width = GST_VIDEO_FRAME_WIDTH(vframe);
    f.height = GST_VIDEO_FRAME_HEIGHT(vframe);
    for (guint i = 0; i < GST_VIDEO_FRAME_N_PLANES(vframe) && i < 3; i++) {
        f.data[i] = GST_VIDEO_FRAME_PLANE_DATA(vframe, i);
        f.stride[i] = GST_VIDEO_FRAME_PLANE_STRIDE(vframe, i);
    }
    gint64 dims[4] = {1, self->C, self->H, self->W};
    CsTensorMeta *meta =
        cs_buffer_add_tensor_meta_unfilled(vframe->buffer, CS_TENSOR_ROLE_INPUT,
                                           self->input_name ? self->input_name : "input", 4, dims);
    if (!meta) {
        GST_ELEMENT_ERROR(self, CORE, FAILED, ("could not add the tensor meta"), (NULL));
        return GST_FLOW_ERROR;
    }
    cs_error err = {0};
    cs_pp_geom g;
    if (cs_pp_run(self->pp, &f, meta->data, &g, &err) != CS_OK) {
        gst_buffer_remove_meta(vframe->buffer, &meta->meta);
        GST_ELEMENT_ERROR(self, STREAM, FAILED, ("%s", err.msg), (NULL));
        return GST_FLOW_ERROR;
    }
    const cs_pp_opts *o = cs_pp_get_opts(self->pp);
    const cs_statistics *st = self->stats  ? self->stats
                              : self->desc ? self->desc->statistics
                                           : NULL;
    CsPreprocessing *p = &meta->preprocessing;
    p->resize = (CsTensorResize)o->resize;
    p->scale = (CsTensorScale)o->scale;
    p->bgr = o->bgr;
    p->n_channels = (guint)self->C;
    for (int c = 0; c < 4; c++) {
        p->mean[c] = c < self->C ? o->mean[c] : 0.0f;
        p->std[c] = c < self->C ? o->std[c] : 1.0f;
    }
    p->mean_image = st && st->kind == CS_STATS_MEAN_IMAGE;
    p->whitening = !st                        ? CS_TENSOR_WHITEN_NONE
                   : st->kind == CS_STATS_PCA ? CS_TENSOR_WHITEN_PCA
                   : st->kind == CS_STATS_ZCA ? CS_TENSOR_WHITEN_ZCA
                                              : CS_TENSOR_WHITEN_NONE;
    cs_tensor_meta_set_description(meta, self->description);
    meta->to_frame.scale_x = g.sx;
    meta->to_frame.scale_y = g.sy;
    meta->to_frame.offset_x = g.ox - g.u0 * g.sx;
    meta->to_frame.offset_y = g.oy - g.v0 * g.sy;
    meta->frame_width = (guint)f.width;
    meta->frame_height = (guint)f.height;
    meta->frame_index = self->frame_index++;
    cs_buffer_add_timing(vframe->buffer, "csnormalize", gst_util_get_timestamp() - t0);
    return GST_FLOW_OK;
}

/* ---- properties -------------------------------------------------------------------------- */

/* "a,b,c" -> three floats (non-zero for std). Parsed outside the object lock so that a bad
 * value can be reported on the bus; the previous value is kept. Returns 0 (set), 1 (cleared:
 * NULL or empty) or -1 (refused). */
static int parse_triplet(GstCsNormalize *self, const char *name, const GValue *value,
                         gboolean nonzero, float out[3])
{
    const char *s = g_value_get_string(value);
    if (!s || !*s) return 1;
    if (cs_pp_parse_triplet(s, out) ||
        (nonzero && (!(out[0] != 0) || !(out[1] != 0) || !(out[2] != 0)))) {
        GST_ELEMENT_WARNING(self, LIBRARY, SETTINGS,
                            ("%s: '%s' is not three comma-separated %snumbers; the previous value "
                             "is kept",
                             name, s, nonzero ? "non-zero " : ""),
                            (NULL));
        return -1;
    }
    return 0;
}

static void gst_cs_normalize_set_property(GObject *object, guint prop_id, const GValue *value,
                                          GParamSpec *pspec)
{
    GstCsNormalize *self = GST_CS_NORMALIZE(object);
    float v[3];
    int r = 0;
    if (prop_id == PROP_MEAN || prop_id == PROP_STD)
        r = parse_triplet(self, prop_id == PROP_MEAN ? "mean" : "std", value, prop_id == PROP_STD,
                          v);
    GST_OBJECT_LOCK(self);
    switch (prop_id) {
    case PROP_PRESET:
        self->preset = g_value_get_enum(value);
        break;
    case PROP_MEAN:
        if (r >= 0) self->have_mean = r == 0;
        if (r == 0) memcpy(self->mean, v, sizeof v);
        break;
    case PROP_STD:
        if (r >= 0) self->have_std = r == 0;
        if (r == 0) memcpy(self->std, v, sizeof v);
        break;
    case PROP_SCALE:
        self->scale = g_value_get_enum(value);
        break;
    case PROP_ORDER:
        self->order = g_value_get_enum(value);
        break;
    case PROP_RESIZE_MODE:
        self->resize = g_value_get_enum(value);
        break;
    case PROP_WIDTH:
        self->width = g_value_get_int(value);
        break;
    case PROP_HEIGHT:
        self->height = g_value_get_int(value);
        break;
    case PROP_MODEL:
        g_free(self->model);
        self->model = g_value_dup_string(value);
        if (self->model && !*self->model) g_clear_pointer(&self->model, g_free);
        self->files_dirty = TRUE;
        break;
    case PROP_STATISTICS:
        g_free(self->statistics);
        self->statistics = g_value_dup_string(value);
        if (self->statistics && !*self->statistics) g_clear_pointer(&self->statistics, g_free);
        self->files_dirty = TRUE;
        break;
    case PROP_THREADS:
        self->threads = g_value_get_int(value);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
        break;
    }
    self->dirty = TRUE;
    GST_OBJECT_UNLOCK(self);
}

static gchar *triplet_string(const float v[3])
{
    char b[3][G_ASCII_DTOSTR_BUF_SIZE];
    for (int i = 0; i < 3; i++) g_ascii_formatd(b[i], sizeof b[i], "%g", (double)v[i]);
    return g_strdup_printf("%s,%s,%s", b[0], b[1], b[2]);
}

static void gst_cs_normalize_get_property(GObject *object, guint prop_id, GValue *value,
                                          GParamSpec *pspec)
{
    GstCsNormalize *self = GST_CS_NORMALIZE(object);
    GST_OBJECT_LOCK(self);
    switch (prop_id) {
    case PROP_PRESET:
        g_value_set_enum(value, self->preset);
        break;
    case PROP_MEAN:
        g_value_take_string(value, self->have_mean ? triplet_string(self->mean) : NULL);
        break;
    case PROP_STD:
        g_value_take_string(value, self->have_std ? triplet_string(self->std) : NULL);
        break;
    case PROP_SCALE:
        g_value_set_enum(value, self->scale);
        break;
    case PROP_ORDER:
        g_value_set_enum(value, self->order);
        break;
    case PROP_RESIZE_MODE:
        g_value_set_enum(value, self->resize);
        break;
    case PROP_WIDTH:
        g_value_set_int(value, self->width);
        break;
    case PROP_HEIGHT:
        g_value_set_int(value, self->height);
        break;
    case PROP_MODEL:
        g_value_set_string(value, self->model);
        break;
    case PROP_STATISTICS:
        g_value_set_string(value, self->statistics);
        break;
    case PROP_THREADS:
        g_value_set_int(value, self->threads);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
        break;
    }
    GST_OBJECT_UNLOCK(self);
}

static void gst_cs_normalize_finalize(GObject *object)
{
    GstCsNormalize *self = GST_CS_NORMALIZE(object);
    cs_pp_destroy(&self->pp);
    clear_files(self);
    g_free(self->description);
    g_free(self->model);
    g_free(self->statistics);
    G_OBJECT_CLASS(parent_class)->finalize(object);
}

static void gst_cs_normalize_class_init(GstCsNormalizeClass *klass)
{
    GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
    GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
    GstBaseTransformClass *bt_class = GST_BASE_TRANSFORM_CLASS(klass);
    GstVideoFilterClass *vf_class = GST_VIDEO_FILTER_CLASS(klass);

    GST_DEBUG_CATEGORY_INIT(gst_cs_normalize_debug, "csnormalize", 0,
                            "camstream frame to model input tensor");

    gobject_class->set_property = gst_cs_normalize_set_property;
    gobject_class->get_property = gst_cs_normalize_get_property;
    gobject_class->finalize = gst_cs_normalize_finalize;
    const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING;

    g_object_class_install_property(
        gobject_class, PROP_PRESET,
        g_param_spec_enum("preset", "Preset",
                          "Normalization preset (auto: the model description's [preprocess], "
                          "else imagenet); scale, order, mean and std override it",
                          GST_TYPE_CS_NORMALIZE_PRESET, DEFAULT_PRESET, rw));
    g_object_class_install_property(
        gobject_class, PROP_MEAN,
        g_param_spec_string("mean", "Mean",
                            "Per-channel mean \"a,b,c\" in tensor channel order, subtracted after "
                            "scaling (NULL: from the preset)",
                            NULL, rw));
    g_object_class_install_property(
        gobject_class, PROP_STD,
        g_param_spec_string("std", "Std",
                            "Per-channel standard deviation \"a,b,c\" (non-zero) in tensor "
                            "channel order (NULL: from the preset)",
                            NULL, rw));
    g_object_class_install_property(
        gobject_class, PROP_SCALE,
        g_param_spec_enum("scale", "Scale", "Scaling of the 8-bit values before mean and std",
                          GST_TYPE_CS_NORMALIZE_SCALE, DEFAULT_SCALE, rw));
    g_object_class_install_property(
        gobject_class, PROP_ORDER,
        g_param_spec_enum("order", "Order", "Channel order of the tensor",
                          GST_TYPE_CS_NORMALIZE_ORDER, DEFAULT_ORDER, rw));
    g_object_class_install_property(
        gobject_class, PROP_RESIZE_MODE,
        g_param_spec_enum("resize-mode", "Resize mode",
                          "How the frame fits the model input (bilinear, antialiased)",
                          GST_TYPE_CS_NORMALIZE_RESIZE, DEFAULT_RESIZE, rw));
    g_object_class_install_property(
        gobject_class, PROP_WIDTH,
        g_param_spec_int("width", "Width",
                         "Tensor width (0: the model's input width; must match it when a model "
                         "is set)",
                         0, MAX_SIZE, DEFAULT_SIZE, rw));
    g_object_class_install_property(
        gobject_class, PROP_HEIGHT,
        g_param_spec_int("height", "Height",
                         "Tensor height (0: the model's input height; must match it when a model "
                         "is set)",
                         0, MAX_SIZE, DEFAULT_SIZE, rw));
    g_object_class_install_property(
        gobject_class, PROP_MODEL,
        g_param_spec_string("model", "Model",
                            "A model description (.model, docs/FORMATS.md) or an ONNX file: the "
                            "input size, channels and preprocessing come from it",
                            NULL, rw));
    g_object_class_install_property(
        gobject_class, PROP_STATISTICS,
        g_param_spec_string("statistics", "Statistics",
                            "A statistics file (mean-std, mean-image, pca, zca; docs/FORMATS.md) "
                            "fitted on the training split; replaces mean, std, scale and order",
                            NULL, rw));
    g_object_class_install_property(
        gobject_class, PROP_THREADS,
        g_param_spec_int("threads", "Threads",
                         "Threads that share each frame's rows (0: all cores, like csinfer's "
                         "threads); the tensor is the same for any value",
                         0, 256, DEFAULT_THREADS, rw));

    gst_element_class_set_static_metadata(
        element_class, "camstream normalize", "Filter/Video",
        "Resizes and normalizes each frame into a CNN input tensor (CsTensorMeta); the frame "
        "passes through unchanged",
        "camstream developers");
    gst_element_class_add_static_pad_template(element_class, &sink_template);
    gst_element_class_add_static_pad_template(element_class, &src_template);

    bt_class->start = GST_DEBUG_FUNCPTR(gst_cs_normalize_start);
    bt_class->stop = GST_DEBUG_FUNCPTR(gst_cs_normalize_stop);
    bt_class->transform_ip = GST_DEBUG_FUNCPTR(gst_cs_normalize_transform_ip);
    bt_class->transform_ip_on_passthrough = FALSE;
    vf_class->set_info = GST_DEBUG_FUNCPTR(gst_cs_normalize_set_info);
    vf_class->transform_frame_ip = GST_DEBUG_FUNCPTR(gst_cs_normalize_transform_frame_ip);

    gst_type_mark_as_plugin_api(GST_TYPE_CS_NORMALIZE_PRESET, 0);
    gst_type_mark_as_plugin_api(GST_TYPE_CS_NORMALIZE_SCALE, 0);
    gst_type_mark_as_plugin_api(GST_TYPE_CS_NORMALIZE_ORDER, 0);
    gst_type_mark_as_plugin_api(GST_TYPE_CS_NORMALIZE_RESIZE, 0);
}

static void gst_cs_normalize_init(GstCsNormalize *self)
{
    self->preset = DEFAULT_PRESET;
    self->scale = DEFAULT_SCALE;
    self->order = DEFAULT_ORDER;
    self->resize = DEFAULT_RESIZE;
    self->threads = DEFAULT_THREADS;
    self->std[0] = self->std[1] = self->std[2] = 1.0f;
    gst_base_transform_set_in_place(GST_BASE_TRANSFORM(self), TRUE);
}
