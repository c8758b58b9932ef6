/**
 * SECTION:element-cslocalize
 * @title: cslocalize
 *
 * Turns what csinfer computed into boxes and keypoints (#CsDetectionsMeta), in frame pixels:
 *
 * - regression: a box-regression head (an output tensor of 4·N numbers, cx,cy,w,h or
 *   x1,y1,x2,y2, normalized to the model input or in its pixels), paired with a
 *   classification head (an output of N·K or K scores) or, without one, with csinfer's top-1
 *   class (#CsClassificationMeta).
 * - heatmap: weakly supervised boxes from each explanation map (#CsHeatmapMeta): the map is
 *   thresholded at #GstCsLocalize:threshold × its maximum, and the box of the largest
 *   4-connected component (or of every component of at least #GstCsLocalize:min-area map
 *   pixels) is reported with the heatmap's class, label and frame.
 * - keypoints: a keypoint-regression head (2·J numbers per box, normalized to the box or to
 *   the model input) or keypoint heatmaps (J maps, the maximum of each), attached to the
 *   regression box (or to a box around the keypoints), with the skeleton of
 *   #GstCsLocalize:skeleton or of the model description.
 *
 * Head outputs come from csinfer, which attaches every model output as a #CsTensorMeta of
 * role OUTPUT named as in the ONNX graph. Output names, formats, labels and the skeleton come
 * from the model description (#GstCsLocalize:model, docs/FORMATS.md [heads]); the properties
 * override it. Tensor coordinates are mapped to the frame through the model input's
 * #CsTensorMeta (its to_frame: stretch, letterbox and crop are respected); without one (csinfer
 * preprocessed the frame itself), through the to_frame csinfer gives its outputs, with the
 * model input size of the description (or, without one, of a tensor centred on the frame);
 * else through the heatmap's own mapping, or as a stretch of the model input over the frame.
 * Boxes are clipped to the frame. The frame data is never touched.
 *
 * Model, output names, formats and skeleton are read when the element starts; threshold,
 * components, min-area and max-boxes may change while playing.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 filesrc location=v.mp4 ! decodebin ! videoconvert ! csnormalize ! \
 *     csinfer model=pose.model ! cslocalize model=pose.model ! csoverlay ! autovideosink
 * gst-launch-1.0 v4l2src ! videoconvert ! csinfer model=resnet18.onnx explain=gradcam ! \
 *     cslocalize mode=heatmap threshold=0.15 components=all ! csoverlay ! autovideosink
 * ]|
 */
#include "gstcslocalize.h"

#include <math.h>
#include <string.h>

#include "camstream/explain.h"
#include "gst/camstream/camstream-meta.h"

GST_DEBUG_CATEGORY_STATIC(gst_cs_localize_debug);
#define GST_CAT_DEFAULT gst_cs_localize_debug

enum {
    PROP_0,
    PROP_MODE,
    PROP_MODEL,
    PROP_BOXES_OUTPUT,
    PROP_CLASSES_OUTPUT,
    PROP_KEYPOINTS_OUTPUT,
    PROP_KEYPOINT_HEATMAPS_OUTPUT,
    PROP_BOX_FORMAT,
    PROP_BOX_COORDS,
    PROP_CLASSES_ACTIVATION,
    PROP_KEYPOINT_COORDS,
    PROP_SKELETON,
    PROP_THRESHOLD,
    PROP_COMPONENTS,
    PROP_MIN_AREA,
    PROP_MAX_BOXES,
};

#define DEFAULT_MODE GST_CS_LOCALIZE_MODE_AUTO
#define DEFAULT_BOX_FORMAT LOC_BOX_CXCYWH
#define DEFAULT_BOX_COORDS LOC_COORDS_NORMALIZED
#define DEFAULT_CLASSES_ACTIVATION LOC_ACT_SOFTMAX
#define DEFAULT_KEYPOINT_COORDS LOC_KP_BOX
#define DEFAULT_THRESHOLD 0.2
#define DEFAULT_MIN_AREA 1
#define DEFAULT_MAX_BOXES 32
#define MAX_BOXES 256
/* Output names looked for when a mode is asked for and neither property nor description names
 * the head. */
#define FALLBACK_BOXES "boxes"
#define FALLBACK_KEYPOINTS "keypoints"

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS("video/x-raw"));
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS("video/x-raw"));

#define gst_cs_localize_parent_class parent_class
G_DEFINE_TYPE(GstCsLocalize, gst_cs_localize, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE(cslocalize, "cslocalize", GST_RANK_NONE, GST_TYPE_CS_LOCALIZE);

/* ---- enums ------------------------------------------------------------------------------- */

GType gst_cs_localize_mode_get_type(void)
{
    static GType type = 0;
    static const GFlagsValue values[] = {
        {GST_CS_LOCALIZE_MODE_AUTO,
         "Auto: regression and keypoints for the heads the model has, else heatmap", "auto"},
        {GST_CS_LOCALIZE_MODE_REGRESSION, "Boxes from a box-regression head", "regression"},
        {GST_CS_LOCALIZE_MODE_HEATMAP, "Boxes from explanation heatmaps", "heatmap"},
        {GST_CS_LOCALIZE_MODE_KEYPOINTS, "Keypoints from a keypoint head", "keypoints"},
        {0, NULL, NULL},
    };
    if (g_once_init_enter(&type)) {
        GType t = g_flags_register_static("GstCsLocalizeMode", values);
        g_once_init_leave(&type, t);
    }
    return type;
}

#define DEFINE_ENUM(fn, name, ...)                                                                 \
    static GType fn(void)                                                                          \
    {                                                                                              \
        static GType type = 0;                                                                     \
        static const GEnumValue values[] = {__VA_ARGS__, {0, NULL, NULL}};                         \
        if (g_once_init_enter(&type)) {                                                            \
            GType t = g_enum_register_static(name, values);                                        \
            g_once_init_leave(&type, t);                                                           \
        }                                                                                          \
        return type;                                                                               \
    }

DEFINE_ENUM(box_format_get_type, "GstCsLocalizeBoxFormat",
            {LOC_BOX_CXCYWH, "Center x, center y, width, height", "cxcywh"},
            {LOC_BOX_XYXY, "Left, top, right, bottom", "xyxy"})
DEFINE_ENUM(box_coords_get_type, "GstCsLocalizeBoxCoords",
            {LOC_COORDS_NORMALIZED, "0-1 of the model input", "normalized"},
            {LOC_COORDS_PIXELS, "Pixels of the model input", "pixels"})
DEFINE_ENUM(keypoint_coords_get_type, "GstCsLocalizeKeypointCoords",
            {LOC_KP_BOX, "0-1 of the box", "box"},
            {LOC_KP_IMAGE, "0-1 of the model input", "image"})
DEFINE_ENUM(activation_get_type, "GstCsLocalizeActivation",
            {LOC_ACT_SOFTMAX, "Softmax (the head outputs logits)", "softmax"},
            {LOC_ACT_SIGMOID, "Sigmoid per class", "sigmoid"},
            {LOC_ACT_NONE, "None (the head outputs probabilities)", "none"})
DEFINE_ENUM(components_get_type, "GstCsLocalizeComponents",
            {0, "The largest connected component", "largest"},
            {1, "Every component of at least min-area pixels", "all"})

/* ---- properties -------------------------------------------------------------------------- */

static void settings_clear(GstCsLocalizeSettings *s)
{
    g_clear_pointer(&s->boxes, g_free);
    g_clear_pointer(&s->classes, g_free);
    g_clear_pointer(&s->keypoints, g_free);
    g_clear_pointer(&s->keypoint_heatmaps, g_free);
    g_clear_pointer(&s->skeleton, g_free);
    g_clear_pointer(&s->model, g_free);
}

static void set_string(gchar **dst, const GValue *value)
{
    const gchar *v = g_value_get_string(value);
    g_free(*dst);
    *dst = v && *v ? g_strdup(v) : NULL;
}

static void gst_cs_localize_set_property(GObject *object, guint prop_id, const GValue *value,
                                         GParamSpec *pspec)
{
    GstCsLocalize *self = GST_CS_LOCALIZE(object);
    GstCsLocalizeSettings *p = &self->props;

    GST_OBJECT_LOCK(self);
    switch (prop_id) {
    case PROP_MODE:
        p->mode = g_value_get_flags(value);
        break;
    case PROP_MODEL:
        set_string(&p->model, value);
        break;
    case PROP_BOXES_OUTPUT:
        set_string(&p->boxes, value);
        break;
    case PROP_CLASSES_OUTPUT:
        set_string(&p->classes, value);
        break;
    case PROP_KEYPOINTS_OUTPUT:
        set_string(&p->keypoints, value);
        break;
    case PROP_KEYPOINT_HEATMAPS_OUTPUT:
        set_string(&p->keypoint_heatmaps, value);
        break;
    case PROP_BOX_FORMAT:
        p->box_format = g_value_get_enum(value);
        break;
    case PROP_BOX_COORDS:
        p->box_coords = g_value_get_enum(value);
        break;
    case PROP_CLASSES_ACTIVATION:
        p->classes_activation = g_value_get_enum(value);
        break;
    case PROP_KEYPOINT_COORDS:
        p->keypoint_coords = g_value_get_enum(value);
        break;
    case PROP_SKELETON: {
        gchar *err = NULL;
        guint *e = NULL, n = 0;
        set_string(&p->skeleton, value);
        /* names need the model description: only indices can be checked here */
        if (p->skeleton && g_ascii_isdigit(p->skeleton[0]) &&
            !loc_parse_skeleton(p->skeleton, NULL, &e, &n, &err)) {
            GST_WARNING_OBJECT(self, "%s", err);
            g_free(err);
        }
        g_free(e);
        break;
    }
    case PROP_THRESHOLD:
        p->threshold = g_value_get_double(value);
        break;
    case PROP_COMPONENTS:
        p->all_components = g_value_get_enum(value) != 0;
        break;
    case PROP_MIN_AREA:
        p->min_area = g_value_get_uint(value);
        break;
    case PROP_MAX_BOXES:
        p->max_boxes = g_value_get_uint(value);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
        break;
    }
    GST_OBJECT_UNLOCK(self);
}

static void gst_cs_localize_get_property(GObject *object, guint prop_id, GValue *value,
                                         GParamSpec *pspec)
{
    GstCsLocalize *self = GST_CS_LOCALIZE(object);
    GstCsLocalizeSettings *p = &self->props;

    GST_OBJECT_LOCK(self);
    switch (prop_id) {
    case PROP_MODE:
        g_value_set_flags(value, p->mode);
        break;
    case PROP_MODEL:
        g_value_set_string(value, p->model);
        break;
    case PROP_BOXES_OUTPUT:
        g_value_set_string(value, p->boxes);
        break;
    case PROP_CLASSES_OUTPUT:
        g_value_set_string(value, p->classes);
        break;
    case PROP_KEYPOINTS_OUTPUT:
        g_value_set_string(value, p->keypoints);
        break;
    case PROP_KEYPOINT_HEATMAPS_OUTPUT:
        g_value_set_string(value, p->keypoint_heatmaps);
        break;
    case PROP_BOX_FORMAT:
        g_value_set_enum(value, p->box_format < 0 ? DEFAULT_BOX_FORMAT : p->box_format);
        break;
    case PROP_BOX_COORDS:
        g_value_set_enum(value, p->box_coords < 0 ? DEFAULT_BOX_COORDS : p->box_coords);
        break;
    case PROP_CLASSES_ACTIVATION:
        g_value_set_enum(value, p->classes_activation < 0 ? DEFAULT_CLASSES_ACTIVATION
                                                          : p->classes_activation);
        break;
    case PROP_KEYPOINT_COORDS:
        g_value_set_enum(value,
                         p->keypoint_coords < 0 ? DEFAULT_KEYPOINT_COORDS : p->keypoint_coords);
        break;
    case PROP_SKELETON:
        g_value_set_string(value, p->skeleton);
        break;
    case PROP_THRESHOLD:
        g_value_set_double(value, p->threshold);
        break;
    case PROP_COMPONENTS:
        g_value_set_enum(value, p->all_components ? 1 : 0);
        break;
    case PROP_MIN_AREA:
        g_value_set_uint(value, p->min_area);
        break;
    case PROP_MAX_BOXES:
        g_value_set_uint(value, p->max_boxes);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
        break;
    }
    GST_OBJECT_UNLOCK(self);
}

/* ---- start / stop ------------------------------------------------------------------------ */

static gchar *pick(const gchar *prop, const gchar *desc)
{
    return g_strdup(prop ? prop : desc);
}

static gint pick_enum(gint prop, gboolean have_desc, gint desc, gint def)
{
    return prop >= 0 ? prop : have_desc ? desc : def;
}

static gboolean gst_cs_localize_stop(GstBaseTransform *trans)
{
    GstCsLocalize *self = GST_CS_LOCALIZE(trans);
    settings_clear(&self->run);
    loc_desc_free(self->desc);
    self->desc = NULL;
    g_clear_pointer(&self->edges, g_free);
    self->n_edges = 0;
    return TRUE;
}

static gboolean gst_cs_localize_start(GstBaseTransform *trans)
{
    GstCsLocalize *self = GST_CS_LOCALIZE(trans);
    GstCsLocalizeSettings p = {0};
    gchar *err = NULL;

    gst_cs_localize_stop(trans);
    GST_OBJECT_LOCK(self);
    p = self->props;
    p.boxes = g_strdup(p.boxes);
    p.classes = g_strdup(p.classes);
    p.keypoints = g_strdup(p.keypoints);
    p.keypoint_heatmaps = g_strdup(p.keypoint_heatmaps);
    p.skeleton = g_strdup(p.skeleton);
    p.model = g_strdup(p.model);
    GST_OBJECT_UNLOCK(self);

    if (p.model) {
        self->desc = loc_desc_load(p.model, &err);
        if (!self->desc) {
            GST_ELEMENT_ERROR(self, RESOURCE, OPEN_READ,
                              ("cslocalize: cannot use model '%s': %s", p.model, err),
                              ("model description or ONNX file unreadable or invalid"));
            g_free(err);
            settings_clear(&p);
            return FALSE;
        }
    }
    const LocDesc *d = self->desc;
    GstCsLocalizeSettings *r = &self->run;
    r->model = g_strdup(p.model);
    r->boxes = pick(p.boxes, d ? d->boxes : NULL);
    r->classes = pick(p.classes, d ? d->classes : NULL);
    r->keypoints = pick(p.keypoints, d ? d->keypoints : NULL);
    r->keypoint_heatmaps = pick(p.keypoint_heatmaps, d ? d->keypoint_heatmaps : NULL);
    r->box_format =
        pick_enum(p.box_format, d != NULL, d ? (gint)d->box_format : 0, DEFAULT_BOX_FORMAT);
    r->box_coords =
        pick_enum(p.box_coords, d != NULL, d ? (gint)d->box_coords : 0, DEFAULT_BOX_COORDS);
    r->keypoint_coords = pick_enum(p.keypoint_coords, d != NULL, d ? (gint)d->keypoint_coords : 0,
                                   DEFAULT_KEYPOINT_COORDS);
    r->classes_activation =
        pick_enum(p.classes_activation, d != NULL, d ? (gint)d->classes_activation : 0,
                  DEFAULT_CLASSES_ACTIVATION);
    r->mode = p.mode;
    if (r->mode == GST_CS_LOCALIZE_MODE_AUTO) {
        if (r->boxes) r->mode |= GST_CS_LOCALIZE_MODE_REGRESSION;
        if (r->keypoints || r->keypoint_heatmaps) r->mode |= GST_CS_LOCALIZE_MODE_KEYPOINTS;
        if (!(r->mode & GST_CS_LOCALIZE_MODE_REGRESSION)) r->mode |= GST_CS_LOCALIZE_MODE_HEATMAP;
    }
    if ((r->mode & GST_CS_LOCALIZE_MODE_REGRESSION) && !r->boxes)
        r->boxes = g_strdup(FALLBACK_BOXES);
    if ((r->mode & GST_CS_LOCALIZE_MODE_KEYPOINTS) && !r->keypoints && !r->keypoint_heatmaps)
        r->keypoints = g_strdup(FALLBACK_KEYPOINTS);

    if (p.skeleton) {
        if (!loc_parse_skeleton(p.skeleton, d ? d->keypoint_names : NULL, &self->edges,
                                &self->n_edges, &err)) {
            GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("cslocalize: %s", err), (NULL));
            g_free(err);
            settings_clear(&p);
            return FALSE;
        }
    } else if (d && d->n_edges) {
        self->n_edges = d->n_edges;
        self->edges = g_memdup2(d->edges, sizeof(guint) * 2 * d->n_edges);
    }
    self->warned_shape = FALSE;
    self->frames = 0;
    GST_INFO_OBJECT(self, "mode 0x%x boxes=%s classes=%s keypoints=%s keypoint-heatmaps=%s",
                    r->mode, GST_STR_NULL(r->boxes), GST_STR_NULL(r->classes),
                    GST_STR_NULL(r->keypoints), GST_STR_NULL(r->keypoint_heatmaps));
    settings_clear(&p);
    return TRUE;
}

static gboolean gst_cs_localize_set_caps(GstBaseTransform *trans, GstCaps *incaps, GstCaps *outcaps)
{
    GstCsLocalize *self = GST_CS_LOCALIZE(trans);
    GstVideoInfo info;
    if (!gst_video_info_from_caps(&info, incaps)) {
        GST_ELEMENT_ERROR(self, STREAM, FORMAT, ("cslocalize: invalid video caps"),
                          ("%" GST_PTR_FORMAT, incaps));
        return FALSE;
    }
    self->width = GST_VIDEO_INFO_WIDTH(&info);
    self->height = GST_VIDEO_INFO_HEIGHT(&info);
    return TRUE;
}

/* ---- decoding ------------------------------------------------------------------------------ */

/* Where model-input (tensor) coordinates land on this frame. */
typedef struct {
    double tw, th; /* model input size */
    CsTransform2D t;
    guint64 frame_index;
} Geometry;

static void get_geometry(GstCsLocalize *self, GstBuffer *buf, Geometry *g)
{
    CsTensorMeta *in = cs_buffer_get_tensor_meta_full(buf, CS_TENSOR_ROLE_INPUT, NULL);
    CsTensorMeta *out = cs_buffer_get_tensor_meta_full(buf, CS_TENSOR_ROLE_OUTPUT, NULL);
    CsHeatmapMeta *h;
    const LocDesc *d = self->desc;
    memset(g, 0, sizeof *g);
    if (in && in->ndim >= 2 && in->dims[in->ndim - 1] > 0 && in->dims[in->ndim - 2] > 0) {
        g->tw = (double)in->dims[in->ndim - 1];
        g->th = (double)in->dims[in->ndim - 2];
        g->t = in->to_frame;
        g->frame_index = in->frame_index;
    } else if (out && out->to_frame.scale_x > 0 && out->to_frame.scale_y > 0 &&
               ((d && d->input_width > 0) || out->frame_width > 0)) {
        /* csinfer preprocessed the frame itself: its outputs carry the mapping; the input size
         * is the model's, or (without a description) that of a tensor centred on the frame,
         * which stretch, letterbox and centre crop all are */
        g->t = out->to_frame;
        if (d && d->input_width > 0) {
            g->tw = d->input_width;
            g->th = d->input_height;
        } else {
            g->tw = (out->frame_width - 2 * g->t.offset_x) / g->t.scale_x;
            g->th = (out->frame_height - 2 * g->t.offset_y) / g->t.scale_y;
        }
        g->frame_index = out->frame_index;
    } else if ((h = cs_buffer_get_heatmap_meta(buf)) && h->tensor_width && h->tensor_height) {
        g->tw = h->tensor_width;
        g->th = h->tensor_height;
        g->t = h->to_frame;
        g->frame_index = h->frame_index;
    } else if (d && d->input_width > 0 && self->width > 0) {
        g->tw = d->input_width;
        g->th = d->input_height;
        g->t = (CsTransform2D){self->width / g->tw, self->height / g->th, 0, 0};
        g->frame_index = self->frames;
    } else {
        /* nothing says how the model saw the frame: the input is the whole frame */
        g->tw = MAX(self->width, 1);
        g->th = MAX(self->height, 1);
        g->t = (CsTransform2D){1, 1, 0, 0};
        g->frame_index = self->frames;
    }
    if (!(g->tw > 0 && g->th > 0)) {
        g->tw = MAX(self->width, 1);
        g->th = MAX(self->height, 1);
    }
}

/* A box of the regression head in model-input pixels (x0, y0, x1, y1). */
static void decode_box(const gfloat *v, gint format, gint coords, double tw, double th,
                       double out[4])
{
    double a = v[0], b = v[1], c = v[2], d = v[3];
    if (format == LOC_BOX_CXCYWH) {
        out[0] = a - c / 2;
        out[1] = b - d / 2;
        out[2] = a + c / 2;
        out[3] = b + d / 2;
    } else {
        out[0] = MIN(a, c);
        out[1] = MIN(b, d);
        out[2] = MAX(a, c);
        out[3] = MAX(b, d);
    }
    if (coords == LOC_COORDS_NORMALIZED) {
        out[0] *= tw;
        out[2] *= tw;
        out[1] *= th;
        out[3] *= th;
    }
}

/* The best class of K scores and its confidence after the head's activation. */
static void classify(const gfloat *s, guint k, gint act, gint *cls, gfloat *conf)
{
    guint best = 0;
    for (guint i = 1; i < k; i++)
        if (s[i] > s[best]) best = i;
    *cls = (gint)best;
    if (act == LOC_ACT_SOFTMAX) {
        double sum = 0;
        for (guint i = 0; i < k; i++) sum += exp((double)s[i] - s[best]);
        *conf = (gfloat)(1.0 / sum);
    } else if (act == LOC_ACT_SIGMOID) {
        *conf = (gfloat)(1.0 / (1.0 + exp(-(double)s[best])));
    } else {
        *conf = s[best];
    }
}

static const gchar *label_of(GstCsLocalize *self, gint cls)
{
    if (self->desc && cls >= 0 && (guint)cls < self->desc->n_labels) return self->desc->labels[cls];
    return NULL;
}

/* A box in frame pixels from tensor pixels, clipped to the frame; FALSE when empty. */
static gboolean to_frame_box(GstCsLocalize *self, const Geometry *g, const double b[4],
                             gfloat out[4])
{
    double x0, y0, x1, y1;
    cs_transform_2d_apply(&g->t, b[0], b[1], &x0, &y0);
    cs_transform_2d_apply(&g->t, b[2], b[3], &x1, &y1);
    if (x1 < x0) {
        double t = x0;
        x0 = x1;
        x1 = t;
    }
    if (y1 < y0) {
        double t = y0;
        y0 = y1;
        y1 = t;
    }
    if (self->width > 0) {
        x0 = CLAMP(x0, 0, self->width);
        x1 = CLAMP(x1, 0, self->width);
        y0 = CLAMP(y0, 0, self->height);
        y1 = CLAMP(y1, 0, self->height);
    }
    if (!(x1 > x0 && y1 > y0)) return FALSE;
    out[0] = (gfloat)x0;
    out[1] = (gfloat)y0;
    out[2] = (gfloat)(x1 - x0);
    out[3] = (gfloat)(y1 - y0);
    return TRUE;
}

static CsDetectionsMeta *detections(GstBuffer *buf, CsDetectionsMeta **d, guint64 frame_index)
{
    if (!*d) {
        *d = cs_buffer_get_detections_meta(buf);
        if (!*d) {
            *d = cs_buffer_add_detections_meta(buf);
            (*d)->frame_index = frame_index;
        }
    }
    return *d;
}

static void warn_shape(GstCsLocalize *self, const gchar *what, const CsTensorMeta *t)
{
    if (self->warned_shape) return;
    self->warned_shape = TRUE;
    GST_ELEMENT_WARNING(self, STREAM, DECODE,
                        ("cslocalize: output '%s' has %" G_GSIZE_FORMAT " values, which do not "
                         "fit a %s head",
                         t->name ? t->name : "?", t->numel, what),
                        ("check the model description's [heads] or the *-output properties"));
}

/* The regression results of this buffer, for the keypoint head. */
typedef struct {
    guint n;                  /* boxes decoded */
    double box[MAX_BOXES][4]; /* model-input pixels */
    gint det[MAX_BOXES];      /* detection index, -1 when the box fell outside the frame */
} Regression;

static void top1(GstBuffer *buf, gint *cls, const gchar **label, gfloat *score)
{
    CsClassificationMeta *c = cs_buffer_get_classification_meta(buf);
    if (c && c->n_results > 0 && c->results[0].class_id >= 0) {
        *cls = c->results[0].class_id;
        *label = c->results[0].label;
        *score = c->results[0].probability;
    } else {
        *cls = -1;
        *label = NULL;
        *score = 1.f;
    }
}

static void do_regression(GstCsLocalize *self, GstBuffer *buf, const Geometry *g, guint max_boxes,
                          CsDetectionsMeta **d, Regression *reg)
{
    const GstCsLocalizeSettings *r = &self->run;
    CsTensorMeta *bt = cs_buffer_get_tensor_meta_full(buf, CS_TENSOR_ROLE_OUTPUT, r->boxes);
    reg->n = 0;
    if (!bt || !bt->data) {
        GST_LOG_OBJECT(self, "no output '%s' on this buffer", r->boxes);
        return;
    }
    if (bt->numel == 0 || bt->numel % 4) {
        warn_shape(self, "box (4 numbers per box)", bt);
        return;
    }
    guint n = (guint)MIN(bt->numel / 4, (gsize)max_boxes);
    CsTensorMeta *ct =
        r->classes ? cs_buffer_get_tensor_meta_full(buf, CS_TENSOR_ROLE_OUTPUT, r->classes) : NULL;
    guint k = 0, per_box = 0;
    if (ct && ct->data && ct->numel > 0) {
        gsize nb = bt->numel / 4;
        if (nb > 1 && ct->numel % nb == 0 && ct->numel / nb > 1) {
            k = (guint)(ct->numel / nb);
            per_box = 1;
        } else {
            k = (guint)ct->numel;
        }
    }
    gint cls0;
    const gchar *label0;
    gfloat score0;
    top1(buf, &cls0, &label0, &score0);
    for (guint i = 0; i < n; i++) {
        double b[4];
        gfloat f[4];
        gint cls = cls0;
        const gchar *label = label0;
        gfloat score = score0;
        decode_box(bt->data + 4 * (gsize)i, r->box_format, r->box_coords, g->tw, g->th, b);
        memcpy(reg->box[i], b, sizeof b);
        reg->det[i] = -1;
        reg->n = i + 1;
        if (k > 0) {
            classify(ct->data + (per_box ? (gsize)i * k : 0), k, r->classes_activation, &cls,
                     &score);
            label = label_of(self, cls);
        }
        if (!to_frame_box(self, g, b, f)) continue;
        reg->det[i] =
            (gint)cs_detections_meta_add(detections(buf, d, g->frame_index), f[0], f[1], f[2], f[3],
                                         cls, label, score, CS_DETECTION_SOURCE_REGRESSION);
    }
}

/* Keypoints to a regression box (or a new detection around them). */
static void attach_keypoints(GstCsLocalize *self, GstBuffer *buf, const Geometry *g,
                             CsDetectionsMeta **d, gint det, CsKeypoint *kp, guint j)
{
    if (det < 0) {
        double b[4] = {G_MAXDOUBLE, G_MAXDOUBLE, -G_MAXDOUBLE, -G_MAXDOUBLE};
        for (guint i = 0; i < j; i++) {
            b[0] = MIN(b[0], kp[i].x);
            b[1] = MIN(b[1], kp[i].y);
            b[2] = MAX(b[2], kp[i].x);
            b[3] = MAX(b[3], kp[i].y);
        }
        gint cls;
        const gchar *label;
        gfloat score;
        top1(buf, &cls, &label, &score);
        /* the keypoints are already in frame pixels: an identity geometry */
        Geometry id = *g;
        id.t = (CsTransform2D){1, 1, 0, 0};
        gfloat f[4];
        if (!to_frame_box(self, &id, b, f)) {
            /* a single point (or no finite keypoint): a one-pixel box, inside the frame */
            f[0] = isfinite(b[0]) ? (gfloat)CLAMP(b[0], 0, MAX(self->width, 1) - 1) : 0.f;
            f[1] = isfinite(b[1]) ? (gfloat)CLAMP(b[1], 0, MAX(self->height, 1) - 1) : 0.f;
            f[2] = f[3] = 1.f;
        }
        det = (gint)cs_detections_meta_add(detections(buf, d, g->frame_index), f[0], f[1], f[2],
                                           f[3], cls, label, score, CS_DETECTION_SOURCE_REGRESSION);
    }
    cs_detections_meta_set_keypoints(*d, (guint)det, j, kp);
}

static void do_keypoints(GstCsLocalize *self, GstBuffer *buf, const Geometry *g,
                         CsDetectionsMeta **d, const Regression *reg)
{
    const GstCsLocalizeSettings *r = &self->run;
    CsTensorMeta *kt =
        r->keypoints ? cs_buffer_get_tensor_meta_full(buf, CS_TENSOR_ROLE_OUTPUT, r->keypoints)
                     : NULL;
    gboolean any = FALSE;
    if (kt && kt->data) {
        guint groups = reg->n > 0 ? reg->n : 1;
        if (kt->numel == 0 || kt->numel % (2 * (gsize)groups)) {
            warn_shape(self, "keypoint (2 numbers per joint)", kt);
        } else {
            guint j = (guint)(kt->numel / (2 * (gsize)groups));
            CsKeypoint *kp = g_new(CsKeypoint, j);
            for (guint gi = 0; gi < groups; gi++) {
                double b[4] = {0, 0, g->tw, g->th};
                if (r->keypoint_coords == LOC_KP_BOX && reg->n > 0)
                    memcpy(b, reg->box[gi], sizeof b);
                if (reg->n > 0 && reg->det[gi] < 0) continue; /* its box is outside the frame */
                const gfloat *v = kt->data + (gsize)gi * 2 * j;
                for (guint i = 0; i < j; i++) {
                    double x, y;
                    cs_transform_2d_apply(&g->t, b[0] + v[2 * i] * (b[2] - b[0]),
                                          b[1] + v[2 * i + 1] * (b[3] - b[1]), &x, &y);
                    kp[i] = (CsKeypoint){(gfloat)x, (gfloat)y, -1.f};
                }
                attach_keypoints(self, buf, g, d, reg->n > 0 ? reg->det[gi] : -1, kp, j);
                any = TRUE;
            }
            g_free(kp);
        }
    }
    CsTensorMeta *ht =
        r->keypoint_heatmaps
            ? cs_buffer_get_tensor_meta_full(buf, CS_TENSOR_ROLE_OUTPUT, r->keypoint_heatmaps)
            : NULL;
    if (ht && ht->data && !any) {
        if (ht->ndim < 3 || ht->dims[ht->ndim - 1] < 1 || ht->dims[ht->ndim - 2] < 1) {
            warn_shape(self, "keypoint heatmap (J×h×w)", ht);
        } else {
            gsize w = (gsize)ht->dims[ht->ndim - 1], h = (gsize)ht->dims[ht->ndim - 2];
            guint j = (guint)(ht->numel / (w * h));
            CsKeypoint *kp = g_new(CsKeypoint, j);
            for (guint i = 0; i < j; i++) {
                const gfloat *m = ht->data + (gsize)i * w * h;
                gsize best = 0;
                for (gsize q = 1; q < w * h; q++)
                    if (m[q] > m[best]) best = q;
                double x, y;
                cs_transform_2d_apply(&g->t, ((double)(best % w) + 0.5) * g->tw / (double)w,
                                      ((double)(best / w) + 0.5) * g->th / (double)h, &x, &y);
                kp[i] = (CsKeypoint){(gfloat)x, (gfloat)y, m[best]};
            }
            attach_keypoints(self, buf, g, d, reg->n == 1 ? reg->det[0] : -1, kp, j);
            any = TRUE;
            g_free(kp);
        }
    }
    if (any && self->n_edges && *d && (*d)->n_edges == 0)
        cs_detections_meta_set_skeleton(*d, self->n_edges, self->edges);
}

static void do_heatmaps(GstCsLocalize *self, GstBuffer *buf, const Geometry *g, float frac,
                        gboolean all, guint min_area, guint max_boxes, CsDetectionsMeta **d)
{
    cs_box boxes[MAX_BOXES];
    gpointer state = NULL;
    GstMeta *m;
    while ((m = gst_buffer_iterate_meta_filtered(buf, &state, CS_HEATMAP_META_API_TYPE))) {
        CsHeatmapMeta *h = (CsHeatmapMeta *)m;
        if (!h->data || h->width == 0 || h->height == 0 || !(h->max > 0.f)) continue;
        int n = cs_map_boxes(h->data, (int)h->height, (int)h->width, frac, all ? 1 : 0,
                             (int)min_area, boxes, (int)max_boxes);
        /* map pixels -> model input pixels -> this frame, with the heatmap's own mapping (an
         * asynchronous heatmap may come from an earlier frame of another geometry) */
        Geometry hg = *g;
        hg.tw = h->tensor_width ? h->tensor_width : h->width;
        hg.th = h->tensor_height ? h->tensor_height : h->height;
        hg.t = h->to_frame;
        double sx = hg.tw / h->width, sy = hg.th / h->height;
        for (int i = 0; i < n; i++) {
            double b[4] = {boxes[i].x0 * sx, boxes[i].y0 * sy, boxes[i].x1 * sx, boxes[i].y1 * sy};
            gfloat f[4];
            if (!to_frame_box(self, &hg, b, f)) continue;
            CsDetectionsMeta *dm = detections(buf, d, h->frame_index);
            cs_detections_meta_add(dm, f[0], f[1], f[2], f[3], h->class_id, h->label,
                                   boxes[i].score / h->max, CS_DETECTION_SOURCE_HEATMAP);
        }
    }
}

static GstFlowReturn gst_cs_localize_transform_ip(GstBaseTransform *trans, GstBuffer *buf)
{
    GstCsLocalize *self = GST_CS_LOCALIZE(trans);
    GstClockTime t0 = gst_util_get_timestamp();
    float frac;
    gboolean all;
    guint min_area, max_boxes;

    GST_OBJECT_LOCK(self);
    frac = (float)self->props.threshold;
    all = self->props.all_components;
    min_area = self->props.min_area;
    max_boxes = MIN(self->props.max_boxes, MAX_BOXES);
    GST_OBJECT_UNLOCK(self);

    Geometry g;
    get_geometry(self, buf, &g);
    CsDetectionsMeta *d = NULL;
    Regression *reg = g_new(Regression, 1);
    reg->n = 0;
    guint mode = self->run.mode;
    if (mode & GST_CS_LOCALIZE_MODE_REGRESSION) do_regression(self, buf, &g, max_boxes, &d, reg);
    if (mode & GST_CS_LOCALIZE_MODE_KEYPOINTS) do_keypoints(self, buf, &g, &d, reg);
    if (mode & GST_CS_LOCALIZE_MODE_HEATMAP)
        do_heatmaps(self, buf, &g, frac, all, min_area, max_boxes, &d);
    g_free(reg);
    self->frames++;
    cs_buffer_add_timing(buf, "cslocalize", gst_util_get_timestamp() - t0);
    return GST_FLOW_OK;
}

/* ---- class --------------------------------------------------------------------------------- */

static void gst_cs_localize_finalize(GObject *object)
{
    GstCsLocalize *self = GST_CS_LOCALIZE(object);
    gst_cs_localize_stop(GST_BASE_TRANSFORM(self));
    settings_clear(&self->props);
    G_OBJECT_CLASS(parent_class)->finalize(object);
}

static void gst_cs_localize_class_init(GstCsLocalizeClass *klass)
{
    GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
    GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
    GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS(klass);
    const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
    const GParamFlags rw_ready = rw | GST_PARAM_MUTABLE_READY;
    const GParamFlags rw_play = rw | GST_PARAM_MUTABLE_PLAYING;

    GST_DEBUG_CATEGORY_INIT(gst_cs_localize_debug, "cslocalize", 0,
                            "camstream boxes and keypoints from model heads and heatmaps");

    gobject_class->set_property = gst_cs_localize_set_property;
    gobject_class->get_property = gst_cs_localize_get_property;
    gobject_class->finalize = gst_cs_localize_finalize;

    g_object_class_install_property(
        gobject_class, PROP_MODE,
        g_param_spec_flags("mode", "Mode",
                           "What to localize (flags, e.g. \"regression+keypoints\"); auto: the "
                           "heads the model description names, else heatmap boxes",
                           GST_TYPE_CS_LOCALIZE_MODE, DEFAULT_MODE, rw_ready));
    g_object_class_install_property(
        gobject_class, PROP_MODEL,
        g_param_spec_string("model", "Model",
                            "Model description (docs/FORMATS.md) giving the heads, their "
                            "formats, labels and skeleton; an .onnx file gives the input size "
                            "only",
                            NULL, rw_ready));
    g_object_class_install_property(
        gobject_class, PROP_BOXES_OUTPUT,
        g_param_spec_string("boxes-output", "Boxes output",
                            "Output tensor of the box-regression head (4 numbers per box); "
                            "default: the description's, else \"" FALLBACK_BOXES "\"",
                            NULL, rw_ready));
    g_object_class_install_property(
        gobject_class, PROP_CLASSES_OUTPUT,
        g_param_spec_string("classes-output", "Classes output",
                            "Output tensor of the classification head paired with the boxes "
                            "(K or N*K scores); default: the description's, else csinfer's "
                            "top-1 class",
                            NULL, rw_ready));
    g_object_class_install_property(
        gobject_class, PROP_KEYPOINTS_OUTPUT,
        g_param_spec_string("keypoints-output", "Keypoints output",
                            "Output tensor of the keypoint-regression head (2*J numbers per "
                            "box); default: the description's, else \"" FALLBACK_KEYPOINTS "\"",
                            NULL, rw_ready));
    g_object_class_install_property(
        gobject_class, PROP_KEYPOINT_HEATMAPS_OUTPUT,
        g_param_spec_string("keypoint-heatmaps-output", "Keypoint heatmaps output",
                            "Output tensor of J keypoint heatmaps (1xJxhxw): each joint at its "
                            "map's maximum; default: the description's",
                            NULL, rw_ready));
    g_object_class_install_property(
        gobject_class, PROP_BOX_FORMAT,
        g_param_spec_enum("box-format", "Box format",
                          "Numbers of a box (default: the description's, else cxcywh)",
                          box_format_get_type(), DEFAULT_BOX_FORMAT, rw_ready));
    g_object_class_install_property(
        gobject_class, PROP_BOX_COORDS,
        g_param_spec_enum("box-coords", "Box coordinates",
                          "Units of the box numbers (default: the description's, else "
                          "normalized)",
                          box_coords_get_type(), DEFAULT_BOX_COORDS, rw_ready));
    g_object_class_install_property(
        gobject_class, PROP_CLASSES_ACTIVATION,
        g_param_spec_enum("classes-activation", "Classes activation",
                          "How class scores become confidences (default: the description's, "
                          "else softmax)",
                          activation_get_type(), DEFAULT_CLASSES_ACTIVATION, rw_ready));
    g_object_class_install_property(
        gobject_class, PROP_KEYPOINT_COORDS,
        g_param_spec_enum("keypoint-coords", "Keypoint coordinates",
                          "Keypoints normalized to their box or to the model input (default: "
                          "the description's, else box)",
                          keypoint_coords_get_type(), DEFAULT_KEYPOINT_COORDS, rw_ready));
    g_object_class_install_property(
        gobject_class, PROP_SKELETON,
        g_param_spec_string("skeleton", "Skeleton",
                            "Keypoint pairs joined by edges, e.g. \"0-1,1-2\" (indices, or "
                            "keypoint names of the description); default: the description's",
                            NULL, rw_ready));
    g_object_class_install_property(
        gobject_class, PROP_THRESHOLD,
        g_param_spec_double("threshold", "Threshold",
                            "Heatmap boxes: fraction of the map's maximum a pixel must reach", 0.0,
                            1.0, DEFAULT_THRESHOLD, rw_play));
    g_object_class_install_property(
        gobject_class, PROP_COMPONENTS,
        g_param_spec_enum("components", "Components",
                          "Heatmap boxes: the largest connected component, or all",
                          components_get_type(), 0, rw_play));
    g_object_class_install_property(
        gobject_class, PROP_MIN_AREA,
        g_param_spec_uint("min-area", "Minimum area",
                          "Heatmap boxes with components=all: smallest component, in map "
                          "pixels",
                          1, G_MAXINT, DEFAULT_MIN_AREA, rw_play));
    g_object_class_install_property(gobject_class, PROP_MAX_BOXES,
                                    g_param_spec_uint("max-boxes", "Maximum boxes",
                                                      "Most boxes per head or heatmap and buffer",
                                                      1, MAX_BOXES, DEFAULT_MAX_BOXES, rw_play));

    gst_element_class_set_static_metadata(
        element_class, "camstream localization", "Filter/Analyzer/Video",
        "Boxes and keypoints from a model's regression heads or from explanation heatmaps",
        "camstream");
    gst_element_class_add_static_pad_template(element_class, &sink_template);
    gst_element_class_add_static_pad_template(element_class, &src_template);

    trans_class->start = GST_DEBUG_FUNCPTR(gst_cs_localize_start);
    trans_class->stop = GST_DEBUG_FUNCPTR(gst_cs_localize_stop);
    trans_class->set_caps = GST_DEBUG_FUNCPTR(gst_cs_localize_set_caps);
    trans_class->transform_ip = GST_DEBUG_FUNCPTR(gst_cs_localize_transform_ip);
    trans_class->passthrough_on_same_caps = FALSE;
    trans_class->transform_ip_on_passthrough = FALSE;

    gst_type_mark_as_plugin_api(GST_TYPE_CS_LOCALIZE_MODE, 0);
    gst_type_mark_as_plugin_api(box_format_get_type(), 0);
    gst_type_mark_as_plugin_api(box_coords_get_type(), 0);
    gst_type_mark_as_plugin_api(keypoint_coords_get_type(), 0);
    gst_type_mark_as_plugin_api(activation_get_type(), 0);
    gst_type_mark_as_plugin_api(components_get_type(), 0);
}

static void gst_cs_localize_init(GstCsLocalize *self)
{
    GstCsLocalizeSettings *p = &self->props;
    p->mode = DEFAULT_MODE;
    p->box_format = p->box_coords = p->keypoint_coords = p->classes_activation = -1;
    p->threshold = DEFAULT_THRESHOLD;
    p->min_area = DEFAULT_MIN_AREA;
    p->max_boxes = DEFAULT_MAX_BOXES;
    gst_base_transform_set_in_place(GST_BASE_TRANSFORM(self), TRUE);
}
