/* cslocalize's view of a model description (see localize_desc.h). */
#include "localize_desc.h"

#include <stdlib.h>
#include <string.h>

#include "camstream/core.h"
#include "camstream/formats.h"

G_STATIC_ASSERT((int)LOC_BOX_CXCYWH == (int)CS_BOX_CXCYWH);
G_STATIC_ASSERT((int)LOC_BOX_XYXY == (int)CS_BOX_XYXY);
G_STATIC_ASSERT((int)LOC_COORDS_NORMALIZED == (int)CS_COORDS_NORMALIZED);
G_STATIC_ASSERT((int)LOC_COORDS_PIXELS == (int)CS_COORDS_PIXELS);
G_STATIC_ASSERT((int)LOC_KP_BOX == (int)CS_KP_BOX);
G_STATIC_ASSERT((int)LOC_KP_IMAGE == (int)CS_KP_IMAGE);
G_STATIC_ASSERT((int)LOC_ACT_SOFTMAX == (int)CS_CLASSES_SOFTMAX);
G_STATIC_ASSERT((int)LOC_ACT_SIGMOID == (int)CS_CLASSES_SIGMOID);
G_STATIC_ASSERT((int)LOC_ACT_NONE == (int)CS_CLASSES_NONE);

static gchar **dup_strv(char **v, int n)
{
    if (!v || n <= 0) return NULL;
    gchar **out = g_new0(gchar *, (gsize)n + 1);
    for (int i = 0; i < n; i++) out[i] = g_strdup(v[i]);
    return out;
}

LocDesc *loc_desc_load(const gchar *path, gchar **error)
{
    cs_error err = {0};
    cs_model_desc *d = cs_model_desc_open(path, &err);
    if (!d) {
        *error = g_strdup(err.msg);
        return NULL;
    }
    cs_model *m = cs_model_load_file(d->model_file, &err);
    if (!m) {
        *error = g_strdup(err.msg);
        cs_model_desc_destroy(&d);
        return NULL;
    }
    const cs_tensor *in = NULL;
    if (cs_model_desc_check(d, m, &err) != CS_OK || !(in = cs_model_desc_input(d, m, &err))) {
        *error = g_strdup(err.msg);
        cs_model_destroy(&m);
        cs_model_desc_destroy(&d);
        return NULL;
    }

    LocDesc *l = g_new0(LocDesc, 1);
    l->path = g_strdup(path);
    l->classes = g_strdup(d->classes);
    l->boxes = g_strdup(d->boxes);
    l->keypoints = g_strdup(d->keypoints);
    l->keypoint_heatmaps = g_strdup(d->keypoint_heatmaps);
    l->classes_activation = (LocActivation)d->classes_activation;
    l->box_format = (LocBoxFormat)d->box_format;
    l->box_coords = (LocBoxCoords)d->box_coords;
    l->keypoint_coords = (LocKeypointCoords)d->keypoint_coords;
    l->labels = dup_strv(d->labels, d->n_labels);
    l->n_labels = l->labels ? (guint)d->n_labels : 0;
    l->keypoint_names = dup_strv(d->keypoint_names, d->n_keypoint_names);
    l->n_keypoint_names = l->keypoint_names ? (guint)d->n_keypoint_names : 0;
    if (d->n_skeleton > 0) {
        l->n_edges = (guint)d->n_skeleton;
        l->edges = g_new(guint, 2 * (gsize)l->n_edges);
        for (int i = 0; i < d->n_skeleton; i++) {
            l->edges[2 * i] = (guint)d->skeleton[i][0];
            l->edges[2 * i + 1] = (guint)d->skeleton[i][1];
        }
    }
    if (in->ndim == 4 && in->dims[2] > 0 && in->dims[3] > 0) {
        l->input_height = (gint)in->dims[2];
        l->input_width = (gint)in->dims[3];
    }
    cs_model_destroy(&m);
    cs_model_desc_destroy(&d);
    return l;
}

void loc_desc_free(LocDesc *d)
{
    if (!d) return;
    g_free(d->path);
    g_free(d->classes);
    g_free(d->boxes);
    g_free(d->keypoints);
    g_free(d->keypoint_heatmaps);
    g_strfreev(d->labels);
    g_strfreev(d->keypoint_names);
    g_free(d->edges);
    g_free(d);
}

static gboolean parse_joint(const gchar *s, gchar **names, guint *out)
{
    if (!*s) return FALSE;
    if (g_ascii_isdigit(*s)) {
        gchar *end = NULL;
        guint64 v = g_ascii_strtoull(s, &end, 10);
        if (*end || v > G_MAXINT) return FALSE;
        *out = (guint)v;
        return TRUE;
    }
    for (guint i = 0; names && names[i]; i++)
        if (strcmp(names[i], s) == 0) {
            *out = i;
            return TRUE;
        }
    return FALSE;
}

gboolean loc_parse_skeleton(const gchar *text, gchar **names, guint **edges, guint *n_edges,
                            gchar **error)
{
    *edges = NULL;
    *n_edges = 0;
    if (!text || !*text) return TRUE;
    gchar **pairs = g_strsplit_set(text, ",; \t", -1);
    GArray *a = g_array_new(FALSE, FALSE, sizeof(guint));
    gboolean ok = TRUE;
    for (guint i = 0; pairs[i] && ok; i++) {
        if (!*pairs[i]) continue;
        gchar **ab = g_strsplit(pairs[i], "-", -1);
        guint j0, j1;
        if (g_strv_length(ab) != 2 || !parse_joint(ab[0], names, &j0) ||
            !parse_joint(ab[1], names, &j1)) {
            *error = g_strdup_printf("skeleton: '%s' is not a pair of joints \"A-B\" (indices%s, "
                                     "pairs separated by commas, e.g. \"0-1,1-2\")",
                                     pairs[i], names ? " or keypoint names" : "");
            ok = FALSE;
        } else {
            g_array_append_val(a, j0);
            g_array_append_val(a, j1);
        }
        g_strfreev(ab);
    }
    g_strfreev(pairs);
    if (!ok || a->len == 0) {
        if (ok) {
            *error = g_strdup_printf("skeleton: '%s' has no pairs", text);
            ok = FALSE;
        }
        g_array_free(a, TRUE);
        return FALSE;
    }
    *n_edges = a->len / 2;
    *edges = (guint *)(void *)g_array_free(a, FALSE);
    return TRUE;
}
