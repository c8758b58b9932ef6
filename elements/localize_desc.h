/* cslocalize's view of a model description (core/include/camstream/formats.h): the output
 * heads, their formats, labels, keypoint names, the skeleton and the model input size.
 *
 * Kept apart from the element so that formats.h (core) and camstream-meta.h (GStreamer) are
 * never included in one translation unit. GLib only.
 */
#ifndef CS_LOCALIZE_DESC_H
#define CS_LOCALIZE_DESC_H

#include <glib.h>

G_BEGIN_DECLS

/* Values equal the property enums of cslocalize. */
typedef enum { LOC_BOX_CXCYWH = 0, LOC_BOX_XYXY = 1 } LocBoxFormat;
typedef enum { LOC_COORDS_NORMALIZED = 0, LOC_COORDS_PIXELS = 1 } LocBoxCoords;
typedef enum { LOC_KP_BOX = 0, LOC_KP_IMAGE = 1 } LocKeypointCoords;
typedef enum { LOC_ACT_SOFTMAX = 0, LOC_ACT_SIGMOID = 1, LOC_ACT_NONE = 2 } LocActivation;

typedef struct {
    gchar *path;
    /* output names (NULL: none in the description) */
    gchar *classes, *boxes, *keypoints, *keypoint_heatmaps;
    LocActivation classes_activation;
    LocBoxFormat box_format;
    LocBoxCoords box_coords;
    LocKeypointCoords keypoint_coords;
    gchar **labels; /* NULL-terminated, or NULL */
    guint n_labels;
    gchar **keypoint_names; /* NULL-terminated, or NULL */
    guint n_keypoint_names;
    guint *edges; /* 2·n_edges joint indices */
    guint n_edges;
    gint input_width, input_height; /* of the model input (0: unknown) */
} LocDesc;

/* Reads a model description (or a bare .onnx file) and the model's input size. NULL and
 * *error (a message to show, g_free it) on failure: a missing or unreadable file, a syntax
 * error, heads that name no tensor of the model. */
LocDesc *loc_desc_load(const gchar *path, gchar **error);
void loc_desc_free(LocDesc *d);

/* Parses a skeleton "0-1,1-2" (pairs separated by commas, semicolons or blanks; a joint is an
 * index or, when names are given, a keypoint name). NULL or "" gives no edges. Returns FALSE
 * with *error set on a malformed string. */
gboolean loc_parse_skeleton(const gchar *text, gchar **names, guint **edges, guint *n_edges,
                            gchar **error);

G_END_DECLS
#endif
