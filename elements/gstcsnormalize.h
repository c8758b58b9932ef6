/* csnormalize: the model input tensor of each frame, attached as a CsTensorMeta; the frame
 * passes through unchanged. */
#ifndef GST_CS_NORMALIZE_H
#define GST_CS_NORMALIZE_H

#include <gst/gst.h>
#include <gst/video/gstvideofilter.h>
#include <gst/video/video.h>

#include "camstream/formats.h"
#include "camstream/preprocess.h"

G_BEGIN_DECLS

#define GST_TYPE_CS_NORMALIZE (gst_cs_normalize_get_type())
G_DECLARE_FINAL_TYPE(GstCsNormalize, gst_cs_normalize, GST, CS_NORMALIZE, GstVideoFilter)

/* Property enums; each has "auto" (0): the model description's value, or the default. */
typedef enum {
    GST_CS_NORMALIZE_PRESET_AUTO,
    GST_CS_NORMALIZE_PRESET_IMAGENET,
    GST_CS_NORMALIZE_PRESET_CAFFE,
    GST_CS_NORMALIZE_PRESET_TF,
    GST_CS_NORMALIZE_PRESET_NONE,
} GstCsNormalizePreset;
typedef enum {
    GST_CS_NORMALIZE_SCALE_AUTO,
    GST_CS_NORMALIZE_SCALE_01,
    GST_CS_NORMALIZE_SCALE_11,
    GST_CS_NORMALIZE_SCALE_255,
} GstCsNormalizeScale;
typedef enum {
    GST_CS_NORMALIZE_ORDER_AUTO,
    GST_CS_NORMALIZE_ORDER_RGB,
    GST_CS_NORMALIZE_ORDER_BGR,
} GstCsNormalizeOrder;
typedef enum {
    GST_CS_NORMALIZE_RESIZE_AUTO,
    GST_CS_NORMALIZE_RESIZE_STRETCH,
    GST_CS_NORMALIZE_RESIZE_LETTERBOX,
    GST_CS_NORMALIZE_RESIZE_CROP,
} GstCsNormalizeResize;

#define GST_TYPE_CS_NORMALIZE_PRESET (gst_cs_normalize_preset_get_type())
#define GST_TYPE_CS_NORMALIZE_SCALE (gst_cs_normalize_scale_get_type())
#define GST_TYPE_CS_NORMALIZE_ORDER (gst_cs_normalize_order_get_type())
#define GST_TYPE_CS_NORMALIZE_RESIZE (gst_cs_normalize_resize_get_type())
GType gst_cs_normalize_preset_get_type(void);
GType gst_cs_normalize_scale_get_type(void);
GType gst_cs_normalize_order_get_type(void);
GType gst_cs_normalize_resize_get_type(void);

struct _GstCsNormalize {
    GstVideoFilter parent;

    /* properties (object lock) */
    GstCsNormalizePreset preset;
    GstCsNormalizeScale scale;
    GstCsNormalizeOrder order;
    GstCsNormalizeResize resize;
    gboolean have_mean, have_std;
    gfloat mean[3], std[3];
    gint width, height; /* 0: from the model */
    gint threads;       /* 0: one per core */
    gchar *model, *statistics;
    gboolean dirty;       /* a property changed: rebuild before the next frame */
    gboolean files_dirty; /* model or statistics changed: read them again */

    /* streaming thread only */
    cs_model_desc *desc;  /* the model description (or the defaults of a bare ONNX file) */
    cs_statistics *stats; /* the statistics property's file, when given */
    gchar *input_name;    /* the model's input tensor name */
    gint model_c, model_h, model_w; /* from the model (0: none) */
    cs_pp *pp;
    gint C, H, W;
    cs_frame frame;     /* format and colorimetry of the negotiated caps */
    gchar *description; /* text for CsPreprocessing.description */
    guint64 frame_index;
};

GST_ELEMENT_REGISTER_DECLARE(csnormalize);

G_END_DECLS
#endif
