/* csoverlay: draws camstream metas (heatmaps, boxes, labels, keypoints, skeletons) in place. */
#ifndef GST_CS_OVERLAY_H
#define GST_CS_OVERLAY_H

#include <gst/gst.h>
#include <gst/video/gstvideofilter.h>
#include <gst/video/video.h>
#include <pango/pangocairo.h>

#include "overlay_draw.h"

G_BEGIN_DECLS

#define GST_TYPE_CS_OVERLAY (gst_cs_overlay_get_type())
G_DECLARE_FINAL_TYPE(GstCsOverlay, gst_cs_overlay, GST, CS_OVERLAY, GstVideoFilter)

/* The colormap of the heatmap layer (values as cs_colormap). */
#define GST_TYPE_CS_OVERLAY_COLORMAP (gst_cs_overlay_colormap_get_type())
GType gst_cs_overlay_colormap_get_type(void);

struct _GstCsOverlay {
    GstVideoFilter parent;

    /* properties (object lock) */
    gboolean draw_heatmap, draw_boxes, draw_labels, draw_keypoints, draw_skeleton;
    cs_colormap colormap;
    gdouble alpha, threshold;
    guint box_color, text_color, keypoint_color, skeleton_color;
    guint line_width;
    gdouble keypoint_radius;
    gchar *font;
    gboolean font_changed;

    /* streaming thread only */
    OvLut lut;
    cs_colormap lut_map;
    gboolean lut_valid;
    OvScratch scratch;
    float *norm; /* normalized heatmap */
    gsize n_norm;
    PangoFontMap *fontmap;
    PangoContext *pango;
    PangoLayout *layout;
    guint8 *text_buf; /* ARGB32 label image */
    gsize n_text_buf;
};

GST_ELEMENT_REGISTER_DECLARE(csoverlay);

G_END_DECLS
#endif
