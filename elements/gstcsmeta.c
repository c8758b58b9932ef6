/* The camstream metas (camstream-meta.h): API types registered once, init/free/transform, add/get
 * helpers. Built as the static library gstcamstreammeta-1.0, linked into the plugin and into
 * tests and applications. A process may hold two copies (an application's and the plugin's):
 * each registers an API type or meta implementation only if it is not registered yet (looked up
 * by name), so there is one type per meta and both copies agree on it (same struct layout, same
 * functions). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gst/camstream/camstream-meta.h"

#include <string.h>

void cs_transform_2d_apply(const CsTransform2D *t, gdouble x, gdouble y, gdouble *fx, gdouble *fy)
{
    if (fx) *fx = t->offset_x + x * t->scale_x;
    if (fy) *fy = t->offset_y + y * t->scale_y;
}

static const CsTransform2D identity_2d = {1.0, 1.0, 0.0, 0.0};

/* Scale factors of a video scale transform (out / in), FALSE if the sizes are unusable. */
static gboolean scale_factors(GstVideoMetaTransform *tr, gdouble *sx, gdouble *sy)
{
    gint iw = GST_VIDEO_INFO_WIDTH(tr->in_info), ih = GST_VIDEO_INFO_HEIGHT(tr->in_info);
    gint ow = GST_VIDEO_INFO_WIDTH(tr->out_info), oh = GST_VIDEO_INFO_HEIGHT(tr->out_info);
    if (iw <= 0 || ih <= 0 || ow <= 0 || oh <= 0) return FALSE;
    *sx = (gdouble)ow / iw;
    *sy = (gdouble)oh / ih;
    return TRUE;
}

static void scale_transform_2d(CsTransform2D *t, gdouble sx, gdouble sy)
{
    t->scale_x *= sx;
    t->offset_x *= sx;
    t->scale_y *= sy;
    t->offset_y *= sy;
}

/* Whether a transform is one we handle: a copy (always), or for geometric metas a scale. */
static gboolean is_scale(GQuark type, gpointer data, gdouble *sx, gdouble *sy)
{
    if (!GST_VIDEO_META_TRANSFORM_IS_SCALE(type)) return FALSE;
    return scale_factors((GstVideoMetaTransform *)data, sx, sy);
}

/* Registers an API type once (thread-safe) with the given tags. */
#define DEFINE_API_TYPE(fn, name, ...)                                                             \
    GType fn(void)                                                                                 \
    {                                                                                              \
        static GType type = 0;                                                                     \
        static const gchar *tags[] = {__VA_ARGS__};                                                \
        if (g_once_init_enter(&type)) {                                                            \
            GType t = g_type_from_name(name); /* registered by another copy */                     \
            if (!t) t = gst_meta_api_type_register(name, tags);                                    \
            g_once_init_leave(&type, t);                                                           \
        }                                                                                          \
        return type;                                                                               \
    }

#define DEFINE_META_INFO(fn, api_fn, impl_name, type, init, free_fn, transform)                    \
    const GstMetaInfo *fn(void)                                                                    \
    {                                                                                              \
        static const GstMetaInfo *info = NULL;                                                     \
        if (g_once_init_enter((GstMetaInfo **)&info)) {                                            \
            const GstMetaInfo *mi = gst_meta_get_info(impl_name);                                  \
            if (!mi)                                                                               \
                mi = gst_meta_register(api_fn(), impl_name, sizeof(type), init, free_fn,           \
                                       transform);                                                 \
            g_once_init_leave((GstMetaInfo **)&info, (GstMetaInfo *)mi);                           \
        }                                                                                          \
        return info;                                                                               \
    }

/* ---- CsTensorMeta --------------------------------------------------------------------------- */

/* Tensor memory is recycled: a meta's data, when the meta is freed, goes to a few slots from
 * which the next tensor of the same size is taken, so that a stream of frames reuses the same
 * few buffers instead of allocating (and page-faulting) a new one per frame. Not under
 * AddressSanitizer, whose use-after-free checks need every free to be real. */
#if defined(__SANITIZE_ADDRESS__)
#define TENSOR_RECYCLE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TENSOR_RECYCLE 0
#endif
#endif
#ifndef TENSOR_RECYCLE
#define TENSOR_RECYCLE 1
#endif
#if TENSOR_RECYCLE
#define TENSOR_SLOTS 8
static GMutex tensor_slots_lock;
static struct {
    gfloat *data;
    gsize numel;
} tensor_slots[TENSOR_SLOTS];
#endif

/* numel floats, 16-byte aligned, contents undefined. */
static gfloat *tensor_data_take(gsize numel)
{
#if TENSOR_RECYCLE
    gfloat *p = NULL;
    g_mutex_lock(&tensor_slots_lock);
    for (int i = 0; i < TENSOR_SLOTS; i++)
        if (tensor_slots[i].data && tensor_slots[i].numel == numel) {
            p = tensor_slots[i].data;
            tensor_slots[i].data = NULL;
            break;
        }
    g_mutex_unlock(&tensor_slots_lock);
    if (p) return p;
#endif
    /* g_malloc is 16-byte aligned on the platforms GLib supports. */
    return g_try_malloc(numel * sizeof(gfloat));
}

static void tensor_data_give(gfloat *data, gsize numel)
{
    if (!data) return;
#if TENSOR_RECYCLE
    g_mutex_lock(&tensor_slots_lock);
    int free_slot = -1;
    for (int i = 0; i < TENSOR_SLOTS && free_slot < 0; i++)
        if (!tensor_slots[i].data) free_slot = i;
    if (free_slot < 0) { /* all taken: replace the first (sizes change rarely) */
        g_free(tensor_slots[0].data);
        free_slot = 0;
    }
    tensor_slots[free_slot].data = data;
    tensor_slots[free_slot].numel = numel;
    g_mutex_unlock(&tensor_slots_lock);
#else
    (void)numel;
    g_free(data);
#endif
}

DEFINE_API_TYPE(cs_tensor_meta_api_get_type, "CsTensorMetaAPI", GST_META_TAG_VIDEO_STR,
                GST_META_TAG_VIDEO_SIZE_STR, NULL)

static gboolean tensor_meta_init(GstMeta *meta, gpointer params, GstBuffer *buffer)
{
    CsTensorMeta *m = (CsTensorMeta *)meta;
    m->role = CS_TENSOR_ROLE_INPUT;
    m->name = NULL;
    m->ndim = 0;
    memset(m->dims, 0, sizeof m->dims);
    m->numel = 0;
    m->data = NULL;
    memset(&m->preprocessing, 0, sizeof m->preprocessing);
    for (int c = 0; c < 4; c++) m->preprocessing.std[c] = 1.0f;
    m->to_frame = identity_2d;
    m->frame_width = m->frame_height = 0;
    m->frame_index = 0;
    return TRUE;
}

static void tensor_meta_free(GstMeta *meta, GstBuffer *buffer)
{
    CsTensorMeta *m = (CsTensorMeta *)meta;
    g_free(m->name);
    tensor_data_give(m->data, m->numel);
    g_free(m->preprocessing.description);
    m->name = NULL;
    m->data = NULL;
    m->preprocessing.description = NULL;
}

static gboolean tensor_meta_transform(GstBuffer *dest, GstMeta *meta, GstBuffer *buffer,
                                      GQuark type, gpointer data)
{
    CsTensorMeta *src = (CsTensorMeta *)meta;
    gdouble sx = 1.0, sy = 1.0;
    gboolean scale = is_scale(type, data, &sx, &sy);
    if (!GST_META_TRANSFORM_IS_COPY(type) && !scale)
        return FALSE; /* anything else: the meta is not copied */

    CsTensorMeta *d =
        cs_buffer_add_tensor_meta(dest, src->role, src->name, src->ndim, src->dims, src->data);
    if (!d) return FALSE;
    gchar *desc = d->preprocessing.description; /* NULL after add */
    d->preprocessing = src->preprocessing;
    d->preprocessing.description = desc;
    cs_tensor_meta_set_description(d, src->preprocessing.description);
    d->to_frame = src->to_frame;
    d->frame_width = src->frame_width;
    d->frame_height = src->frame_height;
    d->frame_index = src->frame_index;
    if (scale) {
        scale_transform_2d(&d->to_frame, sx, sy);
        GstVideoMetaTransform *tr = data;
        d->frame_width = GST_VIDEO_INFO_WIDTH(tr->out_info);
        d->frame_height = GST_VIDEO_INFO_HEIGHT(tr->out_info);
    }
    return TRUE;
}

DEFINE_META_INFO(cs_tensor_meta_get_info, cs_tensor_meta_api_get_type, "CsTensorMeta", CsTensorMeta,
                 tensor_meta_init, tensor_meta_free, tensor_meta_transform)

/* Not in camstream-meta.h: for the plugin's elements (csnormalize) that write every value of
 * the tensor right after adding it. Like cs_buffer_add_tensor_meta with data NULL, but the
 * values are left undefined instead of zeroed. */
CsTensorMeta *cs_buffer_add_tensor_meta_unfilled(GstBuffer *buffer, CsTensorRole role,
                                                 const gchar *name, guint ndim, const gint64 *dims);

static CsTensorMeta *add_tensor_meta(GstBuffer *buffer, CsTensorRole role, const gchar *name,
                                     guint ndim, const gint64 *dims, const gfloat *data,
                                     gboolean zero)
{
    g_return_val_if_fail(GST_IS_BUFFER(buffer), NULL);
    if (ndim == 0 || ndim > CS_TENSOR_META_MAX_DIMS || !dims) return NULL;
    gsize numel = 1;
    for (guint i = 0; i < ndim; i++) {
        if (dims[i] < 1 || (guint64)dims[i] > G_MAXSIZE / sizeof(gfloat) / numel) return NULL;
        numel *= (gsize)dims[i];
    }
    gfloat *copy = tensor_data_take(numel);
    if (!copy) return NULL;
    if (data)
        memcpy(copy, data, numel * sizeof(gfloat));
    else if (zero)
        memset(copy, 0, numel * sizeof(gfloat));
    CsTensorMeta *m = (CsTensorMeta *)gst_buffer_add_meta(buffer, CS_TENSOR_META_INFO, NULL);
    if (!m) {
        tensor_data_give(copy, numel);
        return NULL;
    }
    m->role = role;
    m->name = g_strdup(name);
    m->ndim = ndim;
    for (guint i = 0; i < ndim; i++) m->dims[i] = dims[i];
    m->numel = numel;
    m->data = copy;
    return m;
}

CsTensorMeta *cs_buffer_add_tensor_meta(GstBuffer *buffer, CsTensorRole role, const gchar *name,
                                        guint ndim, const gint64 *dims, const gfloat *data)
{
    return add_tensor_meta(buffer, role, name, ndim, dims, data, TRUE);
}

CsTensorMeta *cs_buffer_add_tensor_meta_unfilled(GstBuffer *buffer, CsTensorRole role,
                                                 const gchar *name, guint ndim, const gint64 *dims)
{
    return add_tensor_meta(buffer, role, name, ndim, dims, NULL, FALSE);
}

CsTensorMeta *cs_buffer_get_tensor_meta(GstBuffer *buffer)
{
    return (CsTensorMeta *)gst_buffer_get_meta(buffer, CS_TENSOR_META_API_TYPE);
}

CsTensorMeta *cs_buffer_get_tensor_meta_full(GstBuffer *buffer, CsTensorRole role,
                                             const gchar *name)
{
    gpointer state = NULL;
    GstMeta *meta;
    while ((meta = gst_buffer_iterate_meta_filtered(buffer, &state, CS_TENSOR_META_API_TYPE))) {
        CsTensorMeta *m = (CsTensorMeta *)meta;
        if (m->role == role && (!name || g_strcmp0(m->name, name) == 0)) return m;
    }
    return NULL;
}

void cs_tensor_meta_set_description(CsTensorMeta *meta, const gchar *description)
{
    g_return_if_fail(meta != NULL);
    gchar *old = meta->preprocessing.description;
    meta->preprocessing.description = g_strdup(description);
    g_free(old);
}

/* ---- CsClassificationMeta -------------------------------------------------------------------- */

DEFINE_API_TYPE(cs_classification_meta_api_get_type, "CsClassificationMetaAPI", NULL)

static gboolean classification_meta_init(GstMeta *meta, gpointer params, GstBuffer *buffer)
{
    CsClassificationMeta *m = (CsClassificationMeta *)meta;
    m->n_results = 0;
    m->results = NULL;
    m->n_classes = 0;
    m->model = NULL;
    m->frame_index = 0;
    return TRUE;
}

static void classification_meta_free(GstMeta *meta, GstBuffer *buffer)
{
    CsClassificationMeta *m = (CsClassificationMeta *)meta;
    for (guint i = 0; i < m->n_results; i++) g_free(m->results[i].label);
    g_free(m->results);
    g_free(m->model);
    m->results = NULL;
    m->model = NULL;
    m->n_results = 0;
}

static gboolean classification_meta_transform(GstBuffer *dest, GstMeta *meta, GstBuffer *buffer,
                                              GQuark type, gpointer data)
{
    /* No geometry: kept on copies and on every video transform. */
    CsClassificationMeta *s = (CsClassificationMeta *)meta;
    CsClassificationMeta *d =
        cs_buffer_add_classification_meta(dest, s->n_results, s->n_classes, s->model);
    if (!d) return FALSE;
    for (guint i = 0; i < s->n_results; i++) {
        const CsClassification *r = &s->results[i];
        cs_classification_meta_set(d, i, r->class_id, r->label, r->score, r->probability);
    }
    d->frame_index = s->frame_index;
    return TRUE;
}

DEFINE_META_INFO(cs_classification_meta_get_info, cs_classification_meta_api_get_type,
                 "CsClassificationMeta", CsClassificationMeta, classification_meta_init,
                 classification_meta_free, classification_meta_transform)

CsClassificationMeta *cs_buffer_add_classification_meta(GstBuffer *buffer, guint n_results,
                                                        guint n_classes, const gchar *model)
{
    g_return_val_if_fail(GST_IS_BUFFER(buffer), NULL);
    CsClassificationMeta *m =
        (CsClassificationMeta *)gst_buffer_add_meta(buffer, CS_CLASSIFICATION_META_INFO, NULL);
    if (!m) return NULL;
    m->n_results = n_results;
    m->results = n_results ? g_new0(CsClassification, n_results) : NULL;
    for (guint i = 0; i < n_results; i++) m->results[i].class_id = -1;
    m->n_classes = n_classes;
    m->model = g_strdup(model);
    return m;
}

CsClassificationMeta *cs_buffer_get_classification_meta(GstBuffer *buffer)
{
    return (CsClassificationMeta *)gst_buffer_get_meta(buffer, CS_CLASSIFICATION_META_API_TYPE);
}

void cs_classification_meta_set(CsClassificationMeta *meta, guint i, gint class_id,
                                const gchar *label, gfloat score, gfloat probability)
{
    g_return_if_fail(meta != NULL && i < meta->n_results);
    CsClassification *r = &meta->results[i];
    gchar *old = r->label;
    r->class_id = class_id;
    r->label = g_strdup(label);
    g_free(old);
    r->score = score;
    r->probability = probability;
}

/* ---- CsHeatmapMeta --------------------------------------------------------------------------- */

DEFINE_API_TYPE(cs_heatmap_meta_api_get_type, "CsHeatmapMetaAPI", GST_META_TAG_VIDEO_STR,
                GST_META_TAG_VIDEO_SIZE_STR, NULL)

static gboolean heatmap_meta_init(GstMeta *meta, gpointer params, GstBuffer *buffer)
{
    CsHeatmapMeta *m = (CsHeatmapMeta *)meta;
    m->method = NULL;
    m->class_id = -1;
    m->label = NULL;
    m->score = 0.0f;
    m->layer = NULL;
    m->width = m->height = 0;
    m->data = NULL;
    m->min = m->max = 0.0f;
    m->tensor_width = m->tensor_height = 0;
    m->to_frame = identity_2d;
    m->frame_index = 0;
    m->pts = GST_CLOCK_TIME_NONE;
    m->async = FALSE;
    m->stage_ns = 0;
    return TRUE;
}

static void heatmap_meta_free(GstMeta *meta, GstBuffer *buffer)
{
    CsHeatmapMeta *m = (CsHeatmapMeta *)meta;
    g_free(m->method);
    g_free(m->label);
    g_free(m->layer);
    g_free(m->data);
    m->method = m->label = m->layer = NULL;
    m->data = NULL;
}

static gboolean heatmap_meta_transform(GstBuffer *dest, GstMeta *meta, GstBuffer *buffer,
                                       GQuark type, gpointer data)
{
    CsHeatmapMeta *s = (CsHeatmapMeta *)meta;
    gdouble sx = 1.0, sy = 1.0;
    gboolean scale = is_scale(type, data, &sx, &sy);
    if (!GST_META_TRANSFORM_IS_COPY(type) && !scale) return FALSE;
    CsHeatmapMeta *d = cs_buffer_add_heatmap_meta(dest, s->method, s->class_id, s->label, s->score,
                                                  s->layer, s->width, s->height, s->data);
    if (!d) return FALSE;
    d->tensor_width = s->tensor_width;
    d->tensor_height = s->tensor_height;
    d->to_frame = s->to_frame;
    d->frame_index = s->frame_index;
    d->pts = s->pts;
    d->async = s->async;
    d->stage_ns = s->stage_ns;
    if (scale) scale_transform_2d(&d->to_frame, sx, sy);
    return TRUE;
}

DEFINE_META_INFO(cs_heatmap_meta_get_info, cs_heatmap_meta_api_get_type, "CsHeatmapMeta",
                 CsHeatmapMeta, heatmap_meta_init, heatmap_meta_free, heatmap_meta_transform)

CsHeatmapMeta *cs_buffer_add_heatmap_meta(GstBuffer *buffer, const gchar *method, gint class_id,
                                          const gchar *label, gfloat score, const gchar *layer,
                                          guint width, guint height, const gfloat *data)
{
    g_return_val_if_fail(GST_IS_BUFFER(buffer), NULL);
    if (width == 0 || height == 0 || !data || (gsize)width > G_MAXSIZE / sizeof(gfloat) / height)
        return NULL;
    CsHeatmapMeta *m = (CsHeatmapMeta *)gst_buffer_add_meta(buffer, CS_HEATMAP_META_INFO, NULL);
    if (!m) return NULL;
    gsize n = (gsize)width * height;
    m->method = g_strdup(method);
    m->class_id = class_id;
    m->label = g_strdup(label);
    m->score = score;
    m->layer = g_strdup(layer);
    m->width = width;
    m->height = height;
    m->data = g_memdup2(data, n * sizeof(gfloat));
    gfloat lo = data[0], hi = data[0];
    for (gsize i = 1; i < n; i++) {
        if (data[i] < lo) lo = data[i];
        if (data[i] > hi) hi = data[i];
    }
    m->min = lo;
    m->max = hi;
    m->tensor_width = width;
    m->tensor_height = height;
    return m;
}

CsHeatmapMeta *cs_buffer_get_heatmap_meta(GstBuffer *buffer)
{
    return (CsHeatmapMeta *)gst_buffer_get_meta(buffer, CS_HEATMAP_META_API_TYPE);
}

/* ---- CsDetectionsMeta ------------------------------------------------------------------------ */

DEFINE_API_TYPE(cs_detections_meta_api_get_type, "CsDetectionsMetaAPI", GST_META_TAG_VIDEO_STR,
                GST_META_TAG_VIDEO_SIZE_STR, NULL)

static gboolean detections_meta_init(GstMeta *meta, gpointer params, GstBuffer *buffer)
{
    CsDetectionsMeta *m = (CsDetectionsMeta *)meta;
    m->n_detections = 0;
    m->detections = NULL;
    m->n_edges = 0;
    m->edges = NULL;
    m->frame_index = 0;
    return TRUE;
}

static void detections_meta_free(GstMeta *meta, GstBuffer *buffer)
{
    CsDetectionsMeta *m = (CsDetectionsMeta *)meta;
    for (guint i = 0; i < m->n_detections; i++) {
        g_free(m->detections[i].label);
        g_free(m->detections[i].keypoints);
    }
    g_free(m->detections);
    g_free(m->edges);
    m->detections = NULL;
    m->edges = NULL;
    m->n_detections = m->n_edges = 0;
}

static gboolean detections_meta_transform(GstBuffer *dest, GstMeta *meta, GstBuffer *buffer,
                                          GQuark type, gpointer data)
{
    CsDetectionsMeta *s = (CsDetectionsMeta *)meta;
    gdouble sx = 1.0, sy = 1.0;
    gboolean scale = is_scale(type, data, &sx, &sy);
    if (!GST_META_TRANSFORM_IS_COPY(type) && !scale) return FALSE;
    CsDetectionsMeta *d = cs_buffer_add_detections_meta(dest);
    if (!d) return FALSE;
    for (guint i = 0; i < s->n_detections; i++) {
        const CsDetection *b = &s->detections[i];
        guint j =
            cs_detections_meta_add(d, (gfloat)(b->x * sx), (gfloat)(b->y * sy), (gfloat)(b->w * sx),
                                   (gfloat)(b->h * sy), b->class_id, b->label, b->score, b->source);
        if (b->n_keypoints) {
            cs_detections_meta_set_keypoints(d, j, b->n_keypoints, b->keypoints);
            CsKeypoint *k = d->detections[j].keypoints;
            for (guint p = 0; p < b->n_keypoints; p++) {
                k[p].x = (gfloat)(k[p].x * sx);
                k[p].y = (gfloat)(k[p].y * sy);
            }
        }
    }
    cs_detections_meta_set_skeleton(d, s->n_edges, s->edges);
    d->frame_index = s->frame_index;
    return TRUE;
}

DEFINE_META_INFO(cs_detections_meta_get_info, cs_detections_meta_api_get_type, "CsDetectionsMeta",
                 CsDetectionsMeta, detections_meta_init, detections_meta_free,
                 detections_meta_transform)

CsDetectionsMeta *cs_buffer_add_detections_meta(GstBuffer *buffer)
{
    g_return_val_if_fail(GST_IS_BUFFER(buffer), NULL);
    return (CsDetectionsMeta *)gst_buffer_add_meta(buffer, CS_DETECTIONS_META_INFO, NULL);
}

CsDetectionsMeta *cs_buffer_get_detections_meta(GstBuffer *buffer)
{
    return (CsDetectionsMeta *)gst_buffer_get_meta(buffer, CS_DETECTIONS_META_API_TYPE);
}

guint cs_detections_meta_add(CsDetectionsMeta *meta, gfloat x, gfloat y, gfloat w, gfloat h,
                             gint class_id, const gchar *label, gfloat score,
                             CsDetectionSource source)
{
    g_return_val_if_fail(meta != NULL, 0);
    guint i = meta->n_detections;
    /* Capacity: 4, then doubled whenever n reaches a power of two >= 4. */
    if (i == 0)
        meta->detections = g_renew(CsDetection, meta->detections, 4);
    else if (i >= 4 && (i & (i - 1)) == 0)
        meta->detections = g_renew(CsDetection, meta->detections, 2 * (gsize)i);
    CsDetection *d = &meta->detections[i];
    d->x = x;
    d->y = y;
    d->w = w;
    d->h = h;
    d->class_id = class_id;
    d->label = g_strdup(label);
    d->score = score;
    d->source = source;
    d->n_keypoints = 0;
    d->keypoints = NULL;
    meta->n_detections = i + 1;
    return i;
}

void cs_detections_meta_set_keypoints(CsDetectionsMeta *meta, guint i, guint n,
                                      const CsKeypoint *keypoints)
{
    g_return_if_fail(meta != NULL && i < meta->n_detections);
    CsDetection *d = &meta->detections[i];
    g_free(d->keypoints);
    d->keypoints = n && keypoints ? g_memdup2(keypoints, (gsize)n * sizeof(CsKeypoint)) : NULL;
    d->n_keypoints = d->keypoints ? n : 0;
}

void cs_detections_meta_set_skeleton(CsDetectionsMeta *meta, guint n_edges, const guint *edges)
{
    g_return_if_fail(meta != NULL);
    g_free(meta->edges);
    meta->edges = n_edges && edges ? g_memdup2(edges, (gsize)n_edges * 2 * sizeof(guint)) : NULL;
    meta->n_edges = meta->edges ? n_edges : 0;
}

/* ---- CsTimingMeta ---------------------------------------------------------------------------- */

DEFINE_API_TYPE(cs_timing_meta_api_get_type, "CsTimingMetaAPI", NULL)

static gboolean timing_meta_init(GstMeta *meta, gpointer params, GstBuffer *buffer)
{
    CsTimingMeta *m = (CsTimingMeta *)meta;
    m->n_stages = 0;
    m->dropped = 0;
    memset(m->stages, 0, sizeof m->stages);
    return TRUE;
}

static void timing_meta_free(GstMeta *meta, GstBuffer *buffer) {}

static gboolean timing_meta_transform(GstBuffer *dest, GstMeta *meta, GstBuffer *buffer,
                                      GQuark type, gpointer data)
{
    CsTimingMeta *s = (CsTimingMeta *)meta;
    CsTimingMeta *d = cs_buffer_get_timing_meta(dest);
    if (!d) d = (CsTimingMeta *)gst_buffer_add_meta(dest, CS_TIMING_META_INFO, NULL);
    if (!d) return FALSE;
    for (guint i = 0; i < s->n_stages; i++) {
        if (d->n_stages < CS_TIMING_MAX_STAGES)
            d->stages[d->n_stages++] = s->stages[i];
        else
            d->dropped++;
    }
    d->dropped += s->dropped;
    return TRUE;
}

DEFINE_META_INFO(cs_timing_meta_get_info, cs_timing_meta_api_get_type, "CsTimingMeta", CsTimingMeta,
                 timing_meta_init, timing_meta_free, timing_meta_transform)

CsTimingMeta *cs_buffer_add_timing(GstBuffer *buffer, const gchar *name, guint64 ns)
{
    g_return_val_if_fail(GST_IS_BUFFER(buffer), NULL);
    CsTimingMeta *m = cs_buffer_get_timing_meta(buffer);
    if (!m) m = (CsTimingMeta *)gst_buffer_add_meta(buffer, CS_TIMING_META_INFO, NULL);
    if (!m) return NULL;
    if (m->n_stages >= CS_TIMING_MAX_STAGES) {
        m->dropped++;
        return m;
    }
    CsTimingStage *s = &m->stages[m->n_stages++];
    g_strlcpy(s->name, name ? name : "", sizeof s->name);
    s->ns = ns;
    return m;
}

CsTimingMeta *cs_buffer_get_timing_meta(GstBuffer *buffer)
{
    return (CsTimingMeta *)gst_buffer_get_meta(buffer, CS_TIMING_META_API_TYPE);
}

guint64 cs_timing_meta_get(const CsTimingMeta *meta, const gchar *name)
{
    if (!meta || !name) return 0;
    for (guint i = 0; i < meta->n_stages; i++)
        if (strcmp(meta->stages[i].name, name) == 0) return meta->stages[i].ns;
    return 0;
}
