/**
 * SECTION:element-csoverlay
 * @title: csoverlay
 *
 * Draws what the camstream elements found on the video, in place: explanation heatmaps
 * (#CsHeatmapMeta) colormapped and blended over the frame region the model saw, boxes with
 * their labels and scores (#CsDetectionsMeta, text rendered with Pango in a real font),
 * keypoints and skeletons, and the top-1 class (#CsClassificationMeta) in the bottom-left
 * corner (away from the box labels, which sit above their boxes).
 *
 * Every layer can be switched off. Buffers without anything to draw pass through untouched
 * (the frame is not even mapped); with every layer off the element is in passthrough mode.
 * RGB, BGR, RGBA, BGRA, RGBx, BGRx, ARGB, ABGR, xRGB and xBGR are drawn directly; I420 and
 * NV12 are drawn into their Y, U and V planes (colors converted with the stream's color
 * matrix; labels are rendered to a small ARGB image and blended).
 *
 * Heatmaps are min-max normalized (#CsHeatmapMeta min and max), resized bilinearly to the
 * frame rectangle the model input covered (its to_frame transform: letterbox padding falls
 * outside the frame) and blended as (1 − alpha)·frame + alpha·color where the normalized value
 * is at least #GstCsOverlay:threshold; below it the frame shows through.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 v4l2src ! videoconvert ! csnormalize preset=imagenet ! \
 *     csinfer model=resnet18.model explain=gradcam ! cslocalize ! \
 *     csoverlay colormap=turbo alpha=0.4 ! videoconvert ! autovideosink
 * ]|
 */

#include "gstcsoverlay.h"

#include <math.h>
#include <string.h>

#include "gst/camstream/camstream-meta.h"

GST_DEBUG_CATEGORY_STATIC(gst_cs_overlay_debug);
#define GST_CAT_DEFAULT gst_cs_overlay_debug

enum {
    PROP_0,
    PROP_HEATMAP,
    PROP_BOXES,
    PROP_LABELS,
    PROP_KEYPOINTS,
    PROP_SKELETON,
    PROP_COLORMAP,
    PROP_ALPHA,
    PROP_THRESHOLD,
    PROP_BOX_COLOR,
    PROP_TEXT_COLOR,
    PROP_KEYPOINT_COLOR,
    PROP_SKELETON_COLOR,
    PROP_LINE_WIDTH,
    PROP_KEYPOINT_RADIUS,
    PROP_FONT,
};

#define DEFAULT_LAYER TRUE
#define DEFAULT_COLORMAP CS_COLORMAP_JET
#define DEFAULT_ALPHA 0.5
#define DEFAULT_THRESHOLD 0.2
#define DEFAULT_BOX_COLOR 0xff00ff00u
#define DEFAULT_TEXT_COLOR 0xffffffffu
#define DEFAULT_KEYPOINT_COLOR 0xffff0000u
#define DEFAULT_SKELETON_COLOR 0xff00ffffu
#define DEFAULT_LINE_WIDTH 2
#define DEFAULT_KEYPOINT_RADIUS 3.0
#define DEFAULT_FONT "Sans 12"

#define OVERLAY_FORMATS "{ RGB, BGR, RGBA, BGRA, RGBx, BGRx, ARGB, ABGR, xRGB, xBGR, I420, NV12 }"

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE(
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE(OVERLAY_FORMATS)));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE(
    "src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE(OVERLAY_FORMATS)));

#define gst_cs_overlay_parent_class parent_class
G_DEFINE_TYPE(GstCsOverlay, gst_cs_overlay, GST_TYPE_VIDEO_FILTER);
GST_ELEMENT_REGISTER_DEFINE(csoverlay, "csoverlay", GST_RANK_NONE, GST_TYPE_CS_OVERLAY);

GType gst_cs_overlay_colormap_get_type(void)
{
    static GType type = 0;
    static const GEnumValue values[] = {
        {CS_COLORMAP_JET, "Jet (blue-cyan-yellow-red)", "jet"},
        {CS_COLORMAP_TURBO, "Turbo (Google's improved rainbow)", "turbo"},
        {CS_COLORMAP_INFERNO, "Inferno (perceptually uniform, black-red-yellow)", "inferno"},
        {CS_COLORMAP_VIRIDIS, "Viridis (perceptually uniform, blue-green-yellow)", "viridis"},
        {0, NULL, NULL},
    };
    if (g_once_init_enter(&type)) {
        GType t = g_enum_register_static("GstCsOverlayColormap", values);
        g_once_init_leave(&type, t);
    }
    return type;
}

/* With every layer off there is nothing to draw on any buffer. */
static void update_passthrough(GstCsOverlay *self)
{
    gboolean any;
    GST_OBJECT_LOCK(self);
    any = self->draw_heatmap || self->draw_boxes || self->draw_labels || self->draw_keypoints ||
          self->draw_skeleton;
    GST_OBJECT_UNLOCK(self);
    gst_base_transform_set_passthrough(GST_BASE_TRANSFORM(self), !any);
}

static void gst_cs_overlay_set_property(GObject *object, guint prop_id, const GValue *value,
                                        GParamSpec *pspec)
{
    GstCsOverlay *self = GST_CS_OVERLAY(object);
    gboolean layers = FALSE;

    GST_OBJECT_LOCK(self);
    switch (prop_id) {
    case PROP_HEATMAP:
        self->draw_heatmap = g_value_get_boolean(value);
        layers = TRUE;
        break;
    case PROP_BOXES:
        self->draw_boxes = g_value_get_boolean(value);
        layers = TRUE;
        break;
    case PROP_LABELS:
        self->draw_labels = g_value_get_boolean(value);
        layers = TRUE;
        break;
    case PROP_KEYPOINTS:
        self->draw_keypoints = g_value_get_boolean(value);
        layers = TRUE;
        break;
    case PROP_SKELETON:
        self->draw_skeleton = g_value_get_boolean(value);
        layers = TRUE;
        break;
    case PROP_COLORMAP:
        self->colormap = (cs_colormap)g_value_get_enum(value);
        break;
    case PROP_ALPHA:
        self->alpha = g_value_get_double(value);
        break;
    case PROP_THRESHOLD:
        self->threshold = g_value_get_double(value);
        break;
    case PROP_BOX_COLOR:
        self->box_color = g_value_get_uint(value);
        break;
    case PROP_TEXT_COLOR:
        self->text_color = g_value_get_uint(value);
        break;
    case PROP_KEYPOINT_COLOR:
        self->keypoint_color = g_value_get_uint(value);
        break;
    case PROP_SKELETON_COLOR:
        self->skeleton_color = g_value_get_uint(value);
        break;
    case PROP_LINE_WIDTH:
        self->line_width = g_value_get_uint(value);
        break;
    case PROP_KEYPOINT_RADIUS:
        self->keypoint_radius = g_value_get_double(value);
        break;
    case PROP_FONT: {
        const gchar *f = g_value_get_string(value);
        g_free(self->font);
        self->font = g_strdup(f && *f ? f : DEFAULT_FONT);
        self->font_changed = TRUE;
        break;
    }
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
        break;
    }
    GST_OBJECT_UNLOCK(self);
    if (layers) update_passthrough(self);
}

static void gst_cs_overlay_get_property(GObject *object, guint prop_id, GValue *value,
                                        GParamSpec *pspec)
{
    GstCsOverlay *self = GST_CS_OVERLAY(object);

    GST_OBJECT_LOCK(self);
    switch (prop_id) {
    case PROP_HEATMAP:
        g_value_set_boolean(value, self->draw_heatmap);
        break;
    case PROP_BOXES:
        g_value_set_boolean(value, self->draw_boxes);
        break;
    case PROP_LABELS:
        g_value_set_boolean(value, self->draw_labels);
        break;
    case PROP_KEYPOINTS:
        g_value_set_boolean(value, self->draw_keypoints);
        break;
    case PROP_SKELETON:
        g_value_set_boolean(value, self->draw_skeleton);
        break;
    case PROP_COLORMAP:
        g_value_set_enum(value, (gint)self->colormap);
        break;
    case PROP_ALPHA:
        g_value_set_double(value, self->alpha);
        break;
    case PROP_THRESHOLD:
        g_value_set_double(value, self->threshold);
        break;
    case PROP_BOX_COLOR:
        g_value_set_uint(value, self->box_color);
        break;
    case PROP_TEXT_COLOR:
        g_value_set_uint(value, self->text_color);
        break;
    case PROP_KEYPOINT_COLOR:
        g_value_set_uint(value, self->keypoint_color);
        break;
    case PROP_SKELETON_COLOR:
        g_value_set_uint(value, self->skeleton_color);
        break;
    case PROP_LINE_WIDTH:
        g_value_set_uint(value, self->line_width);
        break;
    case PROP_KEYPOINT_RADIUS:
        g_value_set_double(value, self->keypoint_radius);
        break;
    case PROP_FONT:
        g_value_set_string(value, self->font);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
        break;
    }
    GST_OBJECT_UNLOCK(self);
}

static void free_text(GstCsOverlay *self)
{
    g_clear_object(&self->layout);
    g_clear_object(&self->pango);
    g_clear_object(&self->fontmap);
    g_clear_pointer(&self->text_buf, g_free);
    self->n_text_buf = 0;
}

static gboolean gst_cs_overlay_stop(GstBaseTransform *trans)
{
    GstCsOverlay *self = GST_CS_OVERLAY(trans);
    free_text(self);
    ov_scratch_clear(&self->scratch);
    g_clear_pointer(&self->norm, g_free);
    self->n_norm = 0;
    self->lut_valid = FALSE;
    return TRUE;
}

static void gst_cs_overlay_finalize(GObject *object)
{
    GstCsOverlay *self = GST_CS_OVERLAY(object);
    gst_cs_overlay_stop(GST_BASE_TRANSFORM(self));
    g_free(self->font);
    G_OBJECT_CLASS(parent_class)->finalize(object);
}

static gboolean gst_cs_overlay_set_info(GstVideoFilter *filter, GstCaps *incaps,
                                        GstVideoInfo *in_info, GstCaps *outcaps,
                                        GstVideoInfo *out_info)
{
    GstCsOverlay *self = GST_CS_OVERLAY(filter);
    if (!ov_format_supported(GST_VIDEO_INFO_FORMAT(in_info))) {
        GST_ELEMENT_ERROR(self, STREAM, FORMAT,
                          ("csoverlay: unsupported video format %s", GST_VIDEO_INFO_NAME(in_info)),
                          (NULL));
        return FALSE;
    }
    /* YUV colors depend on the color matrix: rebuild the colormap table for the new caps. */
    self->lut_valid = FALSE;
    return TRUE;
}

/* ---- what a buffer carries -------------------------------------------------------------- */

typedef struct {
    gboolean heatmap, boxes, labels, keypoints, skeleton;
    cs_colormap colormap;
    float alpha, threshold;
    guint box_color, text_color, keypoint_color, skeleton_color;
    int line_width;
    float keypoint_radius;
} Settings;

static void read_settings(GstCsOverlay *self, Settings *s, gchar **font, gboolean *font_changed)
{
    GST_OBJECT_LOCK(self);
    s->heatmap = self->draw_heatmap;
    s->boxes = self->draw_boxes;
    s->labels = self->draw_labels;
    s->keypoints = self->draw_keypoints;
    s->skeleton = self->draw_skeleton;
    s->colormap = self->colormap;
    s->alpha = (float)self->alpha;
    s->threshold = (float)self->threshold;
    s->box_color = self->box_color;
    s->text_color = self->text_color;
    s->keypoint_color = self->keypoint_color;
    s->skeleton_color = self->skeleton_color;
    s->line_width = (int)self->line_width;
    s->keypoint_radius = (float)self->keypoint_radius;
    if (font) {
        *font = g_strdup(self->font);
        *font_changed = self->font_changed;
        self->font_changed = FALSE;
    }
    GST_OBJECT_UNLOCK(self);
}

static gboolean has_work(GstBuffer *buf, const Settings *s)
{
    if (s->heatmap && cs_buffer_get_heatmap_meta(buf)) return TRUE;
    if ((s->boxes || s->labels || s->keypoints || s->skeleton) &&
        cs_buffer_get_detections_meta(buf))
        return TRUE;
    if (s->labels && cs_buffer_get_classification_meta(buf)) return TRUE;
    return FALSE;
}

/* Skips the frame mapping (and any copy a writable mapping would make) when nothing is drawn. */
static GstFlowReturn gst_cs_overlay_transform_ip(GstBaseTransform *trans, GstBuffer *buf)
{
    GstCsOverlay *self = GST_CS_OVERLAY(trans);
    Settings s;
    read_settings(self, &s, NULL, NULL);
    if (!has_work(buf, &s)) return GST_FLOW_OK;
    return GST_BASE_TRANSFORM_CLASS(parent_class)->transform_ip(trans, buf);
}

/* ---- layers ----------------------------------------------------------------------------- */

static void draw_heatmaps(GstCsOverlay *self, OvCanvas *c, GstBuffer *buf, const Settings *s)
{
    if (!self->lut_valid || self->lut_map != s->colormap) {
        ov_lut_init(&self->lut, c, s->colormap);
        self->lut_map = s->colormap;
        self->lut_valid = TRUE;
    }
    gpointer state = NULL;
    GstMeta *m;
    while ((m = gst_buffer_iterate_meta_filtered(buf, &state, CS_HEATMAP_META_API_TYPE))) {
        CsHeatmapMeta *h = (CsHeatmapMeta *)m;
        gsize n = (gsize)h->width * h->height;
        if (!h->data || n == 0) continue;
        if (n > self->n_norm) {
            self->norm = g_renew(float, self->norm, n);
            self->n_norm = n;
        }
        float lo = h->min, range = h->max - h->min, inv = range > 0.f ? 1.f / range : 0.f;
        for (gsize i = 0; i < n; i++) self->norm[i] = (h->data[i] - lo) * inv;
        /* the map covers the whole model input; to_frame places it on this frame */
        const CsTransform2D *t = &h->to_frame;
        double tw = h->tensor_width ? h->tensor_width : h->width;
        double th = h->tensor_height ? h->tensor_height : h->height;
        float rx = (float)t->offset_x, ry = (float)t->offset_y;
        float rw = (float)(tw * t->scale_x), rh = (float)(th * t->scale_y);
        ov_heatmap(c, &self->lut, self->norm, (int)h->height, (int)h->width, rx, ry, rw, rh,
                   s->alpha, s->threshold, &self->scratch);
    }
}

static void ensure_layout(GstCsOverlay *self, const gchar *font, gboolean font_changed)
{
    if (!self->fontmap) {
        self->fontmap = pango_cairo_font_map_new();
        self->pango = pango_font_map_create_context(self->fontmap);
        self->layout = pango_layout_new(self->pango);
        font_changed = TRUE;
    }
    if (font_changed) {
        PangoFontDescription *d = pango_font_description_from_string(font);
        pango_layout_set_font_description(self->layout, d);
        pango_font_description_free(d);
    }
}

static void set_source_argb(cairo_t *cr, guint argb)
{
    cairo_set_source_rgba(cr, ((argb >> 16) & 255) / 255.0, ((argb >> 8) & 255) / 255.0,
                          (argb & 255) / 255.0, ((argb >> 24) & 255) / 255.0);
}

/* A label (text on a background box) rendered into an ARGB32 image and blended at (x, y) (its
 * bottom-left corner when above, else top-left), kept inside the frame. */
static void draw_label(GstCsOverlay *self, OvCanvas *c, const gchar *text, int x, int y,
                       gboolean above, guint bg, guint fg)
{
    PangoRectangle ink, logical;
    const int pad = 2;
    pango_layout_set_text(self->layout, text, -1);
    pango_layout_get_pixel_extents(self->layout, &ink, &logical);
    int w = logical.width + 2 * pad, h = logical.height + 2 * pad;
    if (w <= 2 * pad || h <= 2 * pad) return;
    int stride = cairo_format_stride_for_width(CAIRO_FORMAT_ARGB32, w);
    gsize need = (gsize)stride * h;
    if (need > self->n_text_buf) {
        self->text_buf = g_realloc(self->text_buf, need);
        self->n_text_buf = need;
    }
    memset(self->text_buf, 0, need);
    cairo_surface_t *surf =
        cairo_image_surface_create_for_data(self->text_buf, CAIRO_FORMAT_ARGB32, w, h, stride);
    cairo_t *cr = cairo_create(surf);
    set_source_argb(cr, bg);
    cairo_paint(cr);
    set_source_argb(cr, fg);
    cairo_move_to(cr, pad - logical.x, pad - logical.y);
    pango_cairo_show_layout(cr, self->layout);
    cairo_destroy(cr);
    cairo_surface_flush(surf);
    cairo_surface_destroy(surf);

    int ty = above ? y - h : y;
    if (ty < 0) ty = above ? y : 0; /* no room above: inside the box */
    if (ty + h > c->height) ty = c->height - h;
    int tx = CLAMP(x, 0, MAX(c->width - w, 0));
    ov_blend_argb(c, self->text_buf, stride, w, h, tx, MAX(ty, 0));
}

static void draw_detections(GstCsOverlay *self, OvCanvas *c, CsDetectionsMeta *d, const Settings *s)
{
    OvColor box = ov_color(c, s->box_color), kp = ov_color(c, s->keypoint_color);
    OvColor sk = ov_color(c, s->skeleton_color);
    float lw = (float)s->line_width;
    for (guint i = 0; i < d->n_detections; i++) {
        const CsDetection *det = &d->detections[i];
        if (s->boxes) {
            int x0 = ov_px(rintf(det->x)), y0 = ov_px(rintf(det->y));
            int x1 = ov_px(rintf(det->x + det->w)), y1 = ov_px(rintf(det->y + det->h));
            ov_stroke_rect(c, x0, y0, x1, y1, s->line_width, &box);
        }
        if (s->skeleton && det->keypoints) {
            for (guint e = 0; e < d->n_edges; e++) {
                guint a = d->edges[2 * e], b = d->edges[2 * e + 1];
                if (a >= det->n_keypoints || b >= det->n_keypoints) continue;
                const CsKeypoint *ka = &det->keypoints[a], *kb = &det->keypoints[b];
                ov_line(c, ka->x, ka->y, kb->x, kb->y, lw, &sk);
            }
        }
        if (s->keypoints && det->keypoints) {
            for (guint k = 0; k < det->n_keypoints; k++)
                ov_fill_disc(c, det->keypoints[k].x, det->keypoints[k].y, s->keypoint_radius, &kp);
        }
    }
    if (!s->labels) return;
    for (guint i = 0; i < d->n_detections; i++) {
        const CsDetection *det = &d->detections[i];
        gchar text[160];
        /* no label for a box that does not touch the frame (or has no finite corner) */
        if (!(det->x < c->width && det->y < c->height && det->x + det->w > 0 &&
              det->y + det->h > 0))
            continue;
        if (det->label)
            g_snprintf(text, sizeof text, "%s %.2f", det->label, det->score);
        else if (det->class_id >= 0)
            g_snprintf(text, sizeof text, "class %d %.2f", det->class_id, det->score);
        else
            g_snprintf(text, sizeof text, "%.2f", det->score);
        draw_label(self, c, text, ov_px(rintf(det->x)), ov_px(rintf(det->y)), TRUE, s->box_color,
                   s->text_color);
    }
}

static GstFlowReturn gst_cs_overlay_transform_frame_ip(GstVideoFilter *filter, GstVideoFrame *frame)
{
    GstCsOverlay *self = GST_CS_OVERLAY(filter);
    GstBuffer *buf = frame->buffer;
    Settings s;
    gchar *font = NULL;
    gboolean font_changed = FALSE;
    OvCanvas c;
    GstClockTime t0 = gst_util_get_timestamp();

    read_settings(self, &s, &font, &font_changed);
    if (!ov_canvas_init(&c, frame)) {
        g_free(font);
        GST_ELEMENT_ERROR(self, STREAM, FORMAT, ("csoverlay: unsupported video format"), (NULL));
        return GST_FLOW_NOT_NEGOTIATED;
    }
    if (s.labels)
        ensure_layout(self, font, font_changed);
    else if (font_changed) {
        GST_OBJECT_LOCK(self);
        self->font_changed = TRUE; /* apply when labels come back */
        GST_OBJECT_UNLOCK(self);
    }
    g_free(font);

    if (s.heatmap) draw_heatmaps(self, &c, buf, &s);
    CsDetectionsMeta *d = cs_buffer_get_detections_meta(buf);
    if (d) draw_detections(self, &c, d, &s);
    CsClassificationMeta *cls = cs_buffer_get_classification_meta(buf);
    if (s.labels && cls && cls->n_results > 0 && cls->results[0].class_id >= 0) {
        const CsClassification *r = &cls->results[0];
        gchar text[160];
        if (r->label)
            g_snprintf(text, sizeof text, "%s %.2f", r->label, r->probability);
        else
            g_snprintf(text, sizeof text, "class %d %.2f", r->class_id, r->probability);
        draw_label(self, &c, text, 0, c.height, TRUE, 0xa0000000u, s.text_color);
    }
    /* The buffer is writable here (in-place transform), so the stage time can be appended. */
    cs_buffer_add_timing(buf, "csoverlay", gst_util_get_timestamp() - t0);
    return GST_FLOW_OK;
}

/* ---- class ------------------------------------------------------------------------------ */

static void gst_cs_overlay_class_init(GstCsOverlayClass *klass)
{
    GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
    GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
    GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS(klass);
    GstVideoFilterClass *filter_class = GST_VIDEO_FILTER_CLASS(klass);
    const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_CONTROLLABLE;

    GST_DEBUG_CATEGORY_INIT(gst_cs_overlay_debug, "csoverlay", 0,
                            "camstream heatmap/box/keypoint overlay");

    gobject_class->set_property = gst_cs_overlay_set_property;
    gobject_class->get_property = gst_cs_overlay_get_property;
    gobject_class->finalize = gst_cs_overlay_finalize;

    g_object_class_install_property(
        gobject_class, PROP_HEATMAP,
        g_param_spec_boolean("heatmap", "Heatmap", "Draw explanation heatmaps (CsHeatmapMeta)",
                             DEFAULT_LAYER, rw));
    g_object_class_install_property(gobject_class, PROP_BOXES,
                                    g_param_spec_boolean("boxes", "Boxes",
                                                         "Draw detection boxes (CsDetectionsMeta)",
                                                         DEFAULT_LAYER, rw));
    g_object_class_install_property(
        gobject_class, PROP_LABELS,
        g_param_spec_boolean("labels", "Labels",
                             "Draw labels with scores above the boxes, and the top-1 class "
                             "(CsClassificationMeta) in the bottom-left corner",
                             DEFAULT_LAYER, rw));
    g_object_class_install_property(gobject_class, PROP_KEYPOINTS,
                                    g_param_spec_boolean("keypoints", "Keypoints",
                                                         "Draw keypoints as discs", DEFAULT_LAYER,
                                                         rw));
    g_object_class_install_property(
        gobject_class, PROP_SKELETON,
        g_param_spec_boolean("skeleton", "Skeleton", "Draw the skeleton edges between keypoints",
                             DEFAULT_LAYER, rw));
    g_object_class_install_property(
        gobject_class, PROP_COLORMAP,
        g_param_spec_enum("colormap", "Colormap", "Colormap of the heatmaps",
                          GST_TYPE_CS_OVERLAY_COLORMAP, DEFAULT_COLORMAP, rw));
    g_object_class_install_property(
        gobject_class, PROP_ALPHA,
        g_param_spec_double("alpha", "Alpha",
                            "Opacity of the heatmap: out = (1 - alpha) * frame + alpha * color",
                            0.0, 1.0, DEFAULT_ALPHA, rw));
    g_object_class_install_property(
        gobject_class, PROP_THRESHOLD,
        g_param_spec_double("threshold", "Threshold",
                            "Normalized heatmap value below which the frame shows through", 0.0,
                            1.0, DEFAULT_THRESHOLD, rw));
    g_object_class_install_property(
        gobject_class, PROP_BOX_COLOR,
        g_param_spec_uint("box-color", "Box color",
                          "Color of boxes and label backgrounds, ARGB (0xAARRGGBB)", 0, G_MAXUINT32,
                          DEFAULT_BOX_COLOR, rw));
    g_object_class_install_property(gobject_class, PROP_TEXT_COLOR,
                                    g_param_spec_uint("text-color", "Text color",
                                                      "Color of label text, ARGB", 0, G_MAXUINT32,
                                                      DEFAULT_TEXT_COLOR, rw));
    g_object_class_install_property(gobject_class, PROP_KEYPOINT_COLOR,
                                    g_param_spec_uint("keypoint-color", "Keypoint color",
                                                      "Color of keypoints, ARGB", 0, G_MAXUINT32,
                                                      DEFAULT_KEYPOINT_COLOR, rw));
    g_object_class_install_property(gobject_class, PROP_SKELETON_COLOR,
                                    g_param_spec_uint("skeleton-color", "Skeleton color",
                                                      "Color of skeleton edges, ARGB", 0,
                                                      G_MAXUINT32, DEFAULT_SKELETON_COLOR, rw));
    g_object_class_install_property(
        gobject_class, PROP_LINE_WIDTH,
        g_param_spec_uint("line-width", "Line width",
                          "Width of box outlines and skeleton edges in pixels", 1, 64,
                          DEFAULT_LINE_WIDTH, rw));
    g_object_class_install_property(gobject_class, PROP_KEYPOINT_RADIUS,
                                    g_param_spec_double("keypoint-radius", "Keypoint radius",
                                                        "Radius of keypoint discs in pixels", 0.5,
                                                        64.0, DEFAULT_KEYPOINT_RADIUS, rw));
    g_object_class_install_property(
        gobject_class, PROP_FONT,
        g_param_spec_string("font", "Font",
                            "Pango font description of the labels (e.g. \"Sans Bold 14\")",
                            DEFAULT_FONT, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));

    gst_element_class_set_static_metadata(
        element_class, "camstream overlay", "Filter/Effect/Video",
        "Draws camstream heatmaps, boxes, labels, keypoints and skeletons onto the video",
        "camstream");
    gst_element_class_add_static_pad_template(element_class, &sink_template);
    gst_element_class_add_static_pad_template(element_class, &src_template);

    trans_class->transform_ip = GST_DEBUG_FUNCPTR(gst_cs_overlay_transform_ip);
    trans_class->stop = GST_DEBUG_FUNCPTR(gst_cs_overlay_stop);
    trans_class->transform_ip_on_passthrough = FALSE;
    filter_class->set_info = GST_DEBUG_FUNCPTR(gst_cs_overlay_set_info);
    filter_class->transform_frame_ip = GST_DEBUG_FUNCPTR(gst_cs_overlay_transform_frame_ip);

    gst_type_mark_as_plugin_api(GST_TYPE_CS_OVERLAY_COLORMAP, 0);
}

static void gst_cs_overlay_init(GstCsOverlay *self)
{
    self->draw_heatmap = self->draw_boxes = self->draw_labels = DEFAULT_LAYER;
    self->draw_keypoints = self->draw_skeleton = DEFAULT_LAYER;
    self->colormap = DEFAULT_COLORMAP;
    self->alpha = DEFAULT_ALPHA;
    self->threshold = DEFAULT_THRESHOLD;
    self->box_color = DEFAULT_BOX_COLOR;
    self->text_color = DEFAULT_TEXT_COLOR;
    self->keypoint_color = DEFAULT_KEYPOINT_COLOR;
    self->skeleton_color = DEFAULT_SKELETON_COLOR;
    self->line_width = DEFAULT_LINE_WIDTH;
    self->keypoint_radius = DEFAULT_KEYPOINT_RADIUS;
    self->font = g_strdup(DEFAULT_FONT);
    self->font_changed = TRUE;
}
