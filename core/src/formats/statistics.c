/* Statistics files: read, build, write (formats.h, docs/FORMATS.md). */
#include "camstream/formats.h"

#include "graph.h"
#include "keyfile.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {"mean-std", "mean-image", "pca", "zca", NULL};
static const char *const feature_names[] = {"channel", "patch", NULL};
static const char *const scale_names[] = {"01", "11", "255", NULL};
static const char *const order_names[] = {"rgb", "bgr", NULL};

static const char *const stats_keys[] = {
    "kind",    "channels", "scale",       "order", "feature",    "patch",     "mean",    "std",
    "epsilon", "matrix",   "matrix_file", "size",  "mean_image", "fitted_on", "samples", NULL};
static const kf_group stats_groups[] = {{"statistics", stats_keys}, {NULL, NULL}};
static const char *const stats_required[] = {"statistics", NULL};

#define G "statistics"
/* Largest D accepted: 3 channels of 16×16 patches. */
#define MAX_DIM 768

const char *cs_stats_kind_name(cs_stats_kind k)
{
    return k <= CS_STATS_ZCA ? kind_names[k] : "?";
}

void cs_statistics_destroy(cs_statistics **pst)
{
    if (!pst || !*pst) return;
    cs_statistics *st = *pst;
    free(st->mean);
    free(st->std);
    free(st->matrix);
    free(st->mean_image);
    free(st->fitted_on);
    free(st->path);
    free(st->matrix_file);
    free(st->mean_image_file);
    free(st);
    *pst = NULL;
}

static char *xstrdup(const char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

cs_statistics *cs_statistics_new(cs_stats_kind kind, int channels, int patch, int width, int height)
{
    if (channels != 1 && channels != 3) return NULL;
    if (patch < 0 || patch > 16 || width < 0 || height < 0) return NULL;
    cs_statistics *st = calloc(1, sizeof *st);
    if (!st) return NULL;
    st->kind = kind;
    st->channels = channels;
    st->scale = CS_SCALE_01;
    st->feature = patch > 0 ? CS_FEATURE_PATCH : CS_FEATURE_CHANNEL;
    st->patch = patch > 0 ? patch : 1;
    st->dim = channels * st->patch * st->patch;
    int D = st->dim, ok = 1;
    if (kind != CS_STATS_MEAN_IMAGE) ok &= !!(st->mean = calloc((size_t)D, sizeof(float)));
    if (kind == CS_STATS_MEAN_STD || kind == CS_STATS_MEAN_IMAGE) {
        ok &= !!(st->std = calloc((size_t)channels, sizeof(float)));
        for (int c = 0; ok && c < channels; c++) st->std[c] = 1.0f;
    }
    if (kind == CS_STATS_PCA || kind == CS_STATS_ZCA)
        ok &= !!(st->matrix = calloc((size_t)D * D, sizeof(float)));
    if (kind == CS_STATS_MEAN_IMAGE && width > 0 && height > 0) {
        st->width = width, st->height = height;
        ok &= !!(st->mean_image = calloc((size_t)channels * width * height, sizeof(float)));
    }
    if (!ok) cs_statistics_destroy(&st);
    return st;
}

/* A float tensor from a sibling .pb with exactly `numel` values. */
static float *read_pb(const kf_file *f, const char *key, const char *path, int64_t numel,
                      const char *want, const int64_t *dims, int nd, cs_error *err)
{
    cs_error e2;
    cs_tensor *t = cs_tensorproto_read_file(path, &e2);
    if (!t) {
        kf_fail(f, err, CS_ERR_IO, G, key, "%s", e2.msg);
        return NULL;
    }
    /* Accept the wanted dims with any leading 1s. */
    int ok = t->type == CS_F32 && t->numel == numel && t->ndim >= nd;
    for (int i = 0; ok && i < t->ndim; i++) {
        int j = i - (t->ndim - nd);
        ok = j < 0 ? t->dims[i] == 1 : t->dims[i] == dims[j];
    }
    if (!ok) {
        char shape[64];
        kf_fail(f, err, CS_ERR_INVALID, G, key, "%s holds %s %s, %s floats expected", path,
                t->type == CS_F32 ? "float" : "int64", cs_shape_str(t, shape, sizeof shape), want);
        cs_tensor_free(&t);
        return NULL;
    }
    float *x = malloc(sizeof(float) * (size_t)numel);
    if (x)
        memcpy(x, t->data, sizeof(float) * (size_t)numel);
    else
        cs_fail(err, CS_ERR_NOMEM, "%s: out of memory", path);
    cs_tensor_free(&t);
    return x;
}

cs_statistics *cs_statistics_load_data(const char *text, size_t len, const char *path,
                                       cs_error *err)
{
    kf_file f;
    cs_statistics *st = NULL;
    float *v = NULL;
    char *s = NULL;
    if (kf_open(&f, text, len, path, stats_groups, stats_required, err)) goto fail;
    int kind = -1, scale = CS_SCALE_01, bgr = 0, feature = CS_FEATURE_CHANNEL;
    long long channels = 0, patch = 0;
    if (kf_enum(&f, G, "kind", kind_names, &kind, err) < 0) goto fail;
    if (kind < 0) {
        kf_fail(&f, err, CS_ERR_PARSE, G, NULL, "kind: missing (one of %s)", CS_STATS_KIND_NAMES);
        goto fail;
    }
    int r = kf_int(&f, G, "channels", 1, 3, &channels, err);
    if (r < 0) goto fail;
    if (r == 0) {
        kf_fail(&f, err, CS_ERR_PARSE, G, NULL, "channels: missing (1 or 3)");
        goto fail;
    }
    if (channels == 2) {
        kf_fail(&f, err, CS_ERR_PARSE, G, "channels", "2 is not 1 or 3");
        goto fail;
    }
    if (kf_enum(&f, G, "scale", scale_names, &scale, err) < 0 ||
        kf_enum(&f, G, "order", order_names, &bgr, err) < 0 ||
        kf_enum(&f, G, "feature", feature_names, &feature, err) < 0)
        goto fail;
    r = kf_int(&f, G, "patch", 1, 16, &patch, err);
    if (r < 0) goto fail;
    if (feature == CS_FEATURE_PATCH && (kind == CS_STATS_PCA || kind == CS_STATS_ZCA)) {
        if (!r) {
            kf_fail(&f, err, CS_ERR_PARSE, G, "feature",
                    "patch needs the key patch (the side, 1 to 16)");
            goto fail;
        }
    } else if (feature == CS_FEATURE_PATCH) {
        kf_fail(&f, err, CS_ERR_PARSE, G, "feature", "patch applies to pca and zca only");
        goto fail;
    } else if (r) {
        kf_fail(&f, err, CS_ERR_PARSE, G, "patch", "needs feature = patch");
        goto fail;
    }
    long long w = 0, h = 0;
    if (kind == CS_STATS_MEAN_IMAGE) {
        if (kf_string(&f, G, "size", &s, err) < 0) goto fail;
        if (!s) {
            kf_fail(&f, err, CS_ERR_PARSE, G, NULL, "size: missing (WxH of the mean image)");
            goto fail;
        }
        char *end;
        w = g_ascii_strtoll(s, &end, 10);
        if (end != s && (*end == 'x' || *end == 'X')) {
            char *hs = end + 1;
            h = g_ascii_strtoll(hs, &end, 10);
            if (end == hs) h = 0;
        }
        if (*end || w < 1 || h < 1 || w > 8192 || h > 8192) {
            kf_fail(&f, err, CS_ERR_PARSE, G, "size", "'%s' is not WxH (1 to 8192 each)", s);
            goto fail;
        }
    } else if (kf_has(&f, G, "size") || kf_has(&f, G, "mean_image")) {
        kf_fail(&f, err, CS_ERR_PARSE, G, kf_has(&f, G, "size") ? "size" : "mean_image",
                "only for kind = mean-image");
        goto fail;
    }
    st = cs_statistics_new((cs_stats_kind)kind, (int)channels, (int)patch, (int)w, (int)h);
    if (!st) {
        cs_fail(err, CS_ERR_NOMEM, "%s: out of memory", path ? path : "statistics");
        goto fail;
    }
    st->scale = (cs_scale)scale;
    st->bgr = bgr;
    int C = st->channels, D = st->dim;
    if (D > MAX_DIM) {
        kf_fail(&f, err, CS_ERR_PARSE, G, "patch", "%d features; at most %d", D, MAX_DIM);
        goto fail;
    }
    /* mean */
    if (kind == CS_STATS_MEAN_IMAGE) {
        if (kf_has(&f, G, "mean")) {
            kf_fail(&f, err, CS_ERR_PARSE, G, "mean",
                    "a mean-image takes its mean from mean_image");
            goto fail;
        }
    } else {
        r = kf_floats(&f, G, "mean", D, &v, NULL, err);
        if (r < 0) goto fail;
        if (!r) {
            kf_fail(&f, err, CS_ERR_PARSE, G, NULL, "mean: missing (%d numbers)", D);
            goto fail;
        }
        memcpy(st->mean, v, sizeof(float) * (size_t)D);
    }
    /* std */
    r = kf_floats(&f, G, "std", C, &v, NULL, err);
    if (r < 0) goto fail;
    if (r && kind != CS_STATS_MEAN_STD && kind != CS_STATS_MEAN_IMAGE) {
        kf_fail(&f, err, CS_ERR_PARSE, G, "std",
                "only for mean-std and mean-image (the matrix "
                "of pca/zca already scales)");
        goto fail;
    }
    if (!r && kind == CS_STATS_MEAN_STD) {
        kf_fail(&f, err, CS_ERR_PARSE, G, NULL, "std: missing (%d numbers)", C);
        goto fail;
    }
    if (r) {
        for (int c = 0; c < C; c++)
            if (!(v[c] > 0)) {
                kf_fail(&f, err, CS_ERR_PARSE, G, "std", "value %d is %g; must be > 0", c + 1,
                        (double)v[c]);
                goto fail;
            }
        memcpy(st->std, v, sizeof(float) * (size_t)C);
    }
    /* epsilon */
    double eps = 0;
    if ((r = kf_float(&f, G, "epsilon", &eps, err)) < 0) goto fail;
    if (r && eps < 0) {
        kf_fail(&f, err, CS_ERR_PARSE, G, "epsilon", "%g is negative", eps);
        goto fail;
    }
    st->epsilon = (float)eps;
    /* matrix */
    int has_m = kf_has(&f, G, "matrix"), has_mf = kf_has(&f, G, "matrix_file");
    if (kind == CS_STATS_PCA || kind == CS_STATS_ZCA) {
        if (has_m && has_mf) {
            kf_fail(&f, err, CS_ERR_PARSE, G, "matrix_file",
                    "give matrix or matrix_file, not both");
            goto fail;
        }
        if (!has_m && !has_mf) {
            kf_fail(&f, err, CS_ERR_PARSE, G, NULL,
                    "matrix: missing (%dx%d numbers, row-major, or matrix_file)", D, D);
            goto fail;
        }
        if (has_m) {
            if (kf_floats(&f, G, "matrix", D * D, &v, NULL, err) < 0) goto fail;
            memcpy(st->matrix, v, sizeof(float) * (size_t)D * D);
        } else {
            char *rel = NULL, *full = NULL;
            if (kf_string(&f, G, "matrix_file", &rel, err) < 0) goto fail;
            full = kf_resolve(f.dir, rel);
            int64_t dims[2] = {D, D};
            char want[32];
            snprintf(want, sizeof want, "%dx%d", D, D);
            float *m = read_pb(&f, "matrix_file", full, (int64_t)D * D, want, dims, 2, err);
            st->matrix_file = xstrdup(rel);
            g_free(rel);
            g_free(full);
            if (!m) goto fail;
            memcpy(st->matrix, m, sizeof(float) * (size_t)D * D);
            free(m);
        }
    } else if (has_m || has_mf) {
        kf_fail(&f, err, CS_ERR_PARSE, G, has_m ? "matrix" : "matrix_file",
                "only for kind = pca or zca");
        goto fail;
    }
    /* mean image */
    if (kind == CS_STATS_MEAN_IMAGE) {
        char *rel = NULL;
        if (kf_string(&f, G, "mean_image", &rel, err) < 0) goto fail;
        if (!rel) {
            kf_fail(&f, err, CS_ERR_PARSE, G, NULL,
                    "mean_image: missing (a TensorProto file with the %dx%dx%d mean image)", C,
                    (int)h, (int)w);
            goto fail;
        }
        char *full = kf_resolve(f.dir, rel);
        int64_t dims[3] = {C, h, w};
        char want[48];
        snprintf(want, sizeof want, "%dx%lldx%lld", C, h, w);
        float *m = read_pb(&f, "mean_image", full, (int64_t)C * h * w, want, dims, 3, err);
        st->mean_image_file = xstrdup(rel);
        g_free(rel);
        g_free(full);
        if (!m) goto fail;
        memcpy(st->mean_image, m, sizeof(float) * (size_t)C * h * w);
        free(m);
    }
    long long samples = 0;
    if (kf_int(&f, G, "samples", 0, (long long)1 << 62, &samples, err) < 0) goto fail;
    st->samples = samples;
    char *fit = NULL;
    if (kf_string(&f, G, "fitted_on", &fit, err) < 0) goto fail;
    st->fitted_on = xstrdup(fit);
    g_free(fit);
    st->path = xstrdup(path);
    g_free(v);
    g_free(s);
    kf_close(&f);
    return st;
fail:
    g_free(v);
    g_free(s);
    cs_statistics_destroy(&st);
    kf_close(&f);
    return NULL;
}

cs_statistics *cs_statistics_load(const char *path, cs_error *err)
{
    size_t len = 0;
    char *text = kf_read_file(path, &len, err);
    if (!text) return NULL;
    cs_statistics *st = cs_statistics_load_data(text, len, path, err);
    g_free(text);
    return st;
}

/* ---- writing ----------------------------------------------------------------------------- */

static void put_floats(GString *s, const float *x, int n)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    for (int i = 0; i < n; i++) {
        /* %.9g keeps every float exactly. */
        g_ascii_formatd(buf, sizeof buf, "%.9g", (double)x[i]);
        g_string_append_printf(s, "%s%s", i ? ";" : "", buf);
    }
}

static char *sibling(const char *path, const char *suffix)
{
    char *base = g_path_get_basename(path);
    if (g_str_has_suffix(base, ".stats")) base[strlen(base) - 6] = '\0';
    char *r = g_strconcat(base, suffix, NULL);
    g_free(base);
    return r;
}

static cs_status write_pb(const char *dir, const char *rel, const float *x, int nd,
                          const int64_t *dims, cs_error *err)
{
    char *full = kf_resolve(dir, rel);
    cs_tensor *t = cs_tensor_new(CS_F32, nd, dims, "statistics");
    cs_status st = CS_ERR_NOMEM;
    if (t) {
        memcpy(t->data, x, cs_tensor_bytes(t));
        st = cs_tensorproto_write_file(full, t, err);
        cs_tensor_free(&t);
    } else {
        cs_fail(err, st, "%s: out of memory", full);
    }
    g_free(full);
    return st;
}

cs_status cs_statistics_write(const char *path, const cs_statistics *st, cs_error *err)
{
    if (!st || (st->channels != 1 && st->channels != 3) || st->kind > CS_STATS_ZCA)
        return cs_fail(err, CS_ERR_INVALID, "%s: invalid statistics", path);
    int C = st->channels, D = st->dim;
    int need_mean = st->kind != CS_STATS_MEAN_IMAGE, need_m = st->kind >= CS_STATS_PCA;
    if ((need_mean && !st->mean) || (need_m && !st->matrix) ||
        (st->kind == CS_STATS_MEAN_STD && !st->std) ||
        (st->kind == CS_STATS_MEAN_IMAGE && (!st->mean_image || st->width < 1 || st->height < 1)))
        return cs_fail(err, CS_ERR_INVALID, "%s: statistics of kind %s lack their data", path,
                       cs_stats_kind_name(st->kind));
    char *dir = g_path_get_dirname(path);
    GString *s = g_string_new("# camstream statistics (docs/FORMATS.md)\n[statistics]\n");
    g_string_append_printf(s, "kind = %s\nchannels = %d\nscale = %s\norder = %s\n",
                           cs_stats_kind_name(st->kind), C, cs_pp_scale_name(st->scale),
                           st->bgr ? "bgr" : "rgb");
    if (st->fitted_on) g_string_append_printf(s, "fitted_on = %s\n", st->fitted_on);
    if (st->samples > 0) g_string_append_printf(s, "samples = %lld\n", st->samples);
    if (need_m && st->feature == CS_FEATURE_PATCH)
        g_string_append_printf(s, "feature = patch\npatch = %d\n", st->patch);
    else if (need_m)
        g_string_append(s, "feature = channel\n");
    if (need_mean) {
        g_string_append(s, "mean = ");
        put_floats(s, st->mean, D);
        g_string_append_c(s, '\n');
    }
    if (st->std && st->kind <= CS_STATS_MEAN_IMAGE) {
        g_string_append(s, "std = ");
        put_floats(s, st->std, C);
        g_string_append_c(s, '\n');
    }
    cs_status rc = CS_OK;
    if (need_m) {
        char eps[G_ASCII_DTOSTR_BUF_SIZE];
        g_ascii_formatd(eps, sizeof eps, "%.9g", (double)st->epsilon);
        g_string_append_printf(s, "epsilon = %s\n", eps);
        if (D <= 3 && !st->matrix_file) {
            g_string_append(s, "matrix = ");
            put_floats(s, st->matrix, D * D);
            g_string_append_c(s, '\n');
        } else {
            char *rel = st->matrix_file ? g_strdup(st->matrix_file) : sibling(path, ".W.pb");
            int64_t dims[2] = {D, D};
            rc = write_pb(dir, rel, st->matrix, 2, dims, err);
            g_string_append_printf(s, "matrix_file = %s\n", rel);
            g_free(rel);
        }
    }
    if (rc == CS_OK && st->kind == CS_STATS_MEAN_IMAGE) {
        char *rel = st->mean_image_file ? g_strdup(st->mean_image_file) : sibling(path, ".mean.pb");
        int64_t dims[3] = {C, st->height, st->width};
        rc = write_pb(dir, rel, st->mean_image, 3, dims, err);
        g_string_append_printf(s, "size = %dx%d\nmean_image = %s\n", st->width, st->height, rel);
        g_free(rel);
    }
    if (rc == CS_OK) {
        GError *ge = NULL;
        if (!g_file_set_contents(path, s->str, (gssize)s->len, &ge)) {
            rc = cs_fail(err, CS_ERR_IO, "%s: %s", path, ge->message);
            g_error_free(ge);
        }
    }
    g_string_free(s, TRUE);
    g_free(dir);
    return rc;
}
