/* cslocalize: boxes and keypoints (CsDetectionsMeta) from a model's regression heads or from
 * explanation heatmaps. */
#ifndef GST_CS_LOCALIZE_H
#define GST_CS_LOCALIZE_H

#include <gst/base/gstbasetransform.h>
#include <gst/gst.h>
#include <gst/video/video.h>

#include "localize_desc.h"

G_BEGIN_DECLS

#define GST_TYPE_CS_LOCALIZE (gst_cs_localize_get_type())
G_DECLARE_FINAL_TYPE(GstCsLocalize, gst_cs_localize, GST, CS_LOCALIZE, GstBaseTransform)

/* Which localizations to compute (flags); 0 = auto (from the heads the model describes). */
typedef enum {
    GST_CS_LOCALIZE_MODE_AUTO = 0,
    GST_CS_LOCALIZE_MODE_REGRESSION = 1 << 0, /* boxes from a box-regression head */
    GST_CS_LOCALIZE_MODE_HEATMAP = 1 << 1,    /* boxes from explanation heatmaps */
    GST_CS_LOCALIZE_MODE_KEYPOINTS = 1 << 2,  /* keypoints from a keypoint head */
} GstCsLocalizeMode;

#define GST_TYPE_CS_LOCALIZE_MODE (gst_cs_localize_mode_get_type())
GType gst_cs_localize_mode_get_type(void);

/* Settings as the properties hold them; a name or enum not set by the user (NULL / unset
 * flag) comes from the model description. */
typedef struct {
    guint mode;
    gchar *boxes, *classes, *keypoints, *keypoint_heatmaps;
    gint box_format, box_coords, keypoint_coords, classes_activation; /* -1: not set */
    gdouble threshold;
    gboolean all_components;
    guint min_area;
    guint max_boxes;
    gchar *skeleton;
    gchar *model;
} GstCsLocalizeSettings;

struct _GstCsLocalize {
    GstBaseTransform parent;

    GstCsLocalizeSettings props; /* object lock */

    /* streaming thread: the settings resolved against the description at start */
    GstCsLocalizeSettings run;
    LocDesc *desc;
    guint *edges;
    guint n_edges;
    gint width, height; /* frame size from the caps */
    gboolean warned_shape;
    guint64 frames;
};

GST_ELEMENT_REGISTER_DECLARE(cslocalize);

G_END_DECLS
#endif
