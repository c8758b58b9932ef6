/* Model descriptions: parse, defaults for a bare ONNX file, check against the model
 * (formats.h, docs/FORMATS.md). */
#include "camstream/formats.h"

#include "keyfile.h"
#include "model.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const model_keys[] = {"file", "name", "id", "input", NULL};
static const char *const pp_keys[] = {"preset", "scale",  "mean",       "std",
                                      "order",  "resize", "statistics", NULL};
static const char *const label_keys[] = {"file", "names", NULL};
static const char *const head_keys[] = {
    "classes",   "classes_activation", "boxes",           "box_format",     "box_coords",
    "keypoints", "keypoint_heatmaps",  "keypoint_coords", "keypoint_names", "skeleton",
    NULL};
static const char *const explain_keys[] = {"layer", "method", NULL};
static const kf_group desc_groups[] = {{"model", model_keys},     {"preprocess", pp_keys},
                                       {"labels", label_keys},    {"heads", head_keys},
                                       {"explain", explain_keys}, {NULL, NULL}};
static const char *const desc_required[] = {"model", NULL};

static const char *const preset_names[] = {"imagenet", "caffe", "tf", "none", NULL};
static const char *const scale_names[] = {"01", "11", "255", NULL};
static const char *const order_names[] = {"rgb", "bgr", NULL};
static const char *const resize_names[] = {"stretch", "letterbox", "crop", NULL};
static const char *const box_format_names[] = {"cxcywh", "xyxy", NULL};
static const char *const box_coords_names[] = {"normalized", "pixels", NULL};
static const char *const kp_coords_names[] = {"box", "image", NULL};
static const char *const act_names[] = {"softmax", "sigmoid", "none", NULL};
static const char *const method_names[] = {
    "cam",      "gradcam",  "gradcam++", "smooth-gradcam++",  "scorecam", "layercam",
    "xgradcam", "saliency", "rise",      "augmented-gradcam", "pv",       NULL};

const char *cs_box_format_name(cs_box_format f)
{
    return f == CS_BOX_XYXY ? "xyxy" : "cxcywh";
}
const char *cs_box_coords_name(cs_box_coords c)
{
    return c == CS_COORDS_PIXELS ? "pixels" : "normalized";
}
const char *cs_keypoint_coords_name(cs_keypoint_coords c)
{
    return c == CS_KP_IMAGE ? "image" : "box";
}
const char *cs_classes_activation_name(cs_classes_activation a)
{
    return a == CS_CLASSES_SIGMOID ? "sigmoid" : a == CS_CLASSES_NONE ? "none" : "softmax";
}

static char *xstrdup(const char *s)
{
    return s ? g_strdup(s) : NULL;
}

void cs_model_desc_destroy(cs_model_desc **pd)
{
    if (!pd || !*pd) return;
    cs_model_desc *d = *pd;
    g_free(d->path);
    g_free(d->model_file);
    g_free(d->name);
    g_free(d->id);
    g_free(d->input);
    g_free(d->preset);
    g_free(d->statistics_file);
    cs_statistics_destroy(&d->statistics);
    g_strfreev(d->labels);
    g_free(d->classes);
    g_free(d->boxes);
    g_free(d->keypoints);
    g_free(d->keypoint_heatmaps);
    g_strfreev(d->keypoint_names);
    g_free(d->skeleton);
    g_free(d->explain_layer);
    g_free(d->explain_method);
    g_free(d);
    *pd = NULL;
}

static cs_model_desc *desc_new(void)
{
    cs_model_desc *d = g_new0(cs_model_desc, 1);
    cs_pp_preset("imagenet", &d->pp);
    d->pp.resize = CS_RESIZE_STRETCH;
    d->preset = g_strdup("imagenet");
    return d;
}

/* Base name without its extension. */
static char *stem(const char *path)
{
    char *b = g_path_get_basename(path);
    char *dot = strrchr(b, '.');
    if (dot && dot != b) *dot = '\0';
    return b;
}

/* Labels from a text file: one per line, trailing blank lines ignored. */
static int read_labels(const kf_file *f, const char *path, cs_model_desc *d, cs_error *err)
{
    char *text = NULL;
    gsize len = 0;
    GError *ge = NULL;
    if (!g_file_get_contents(path, &text, &len, &ge)) {
        kf_fail(f, err, CS_ERR_IO, "labels", "file", "%s", ge->message);
        g_error_free(ge);
        return -1;
    }
    if (memchr(text, '\0', len)) {
        g_free(text);
        return kf_fail(f, err, CS_ERR_PARSE, "labels", "file", "%s is not a text file", path);
    }
    char **lines = g_strsplit(text, "\n", -1);
    g_free(text);
    int n = (int)g_strv_length(lines);
    for (int i = 0; i < n; i++) g_strchomp(lines[i]); /* \r and trailing blanks */
    while (n > 0 && !*lines[n - 1]) {
        g_free(lines[n - 1]);
        lines[--n] = NULL;
    }
    for (int i = 0; i < n; i++)
        if (!*lines[i]) {
            cs_fail(err, CS_ERR_PARSE, "%s:%d: empty label (one label per line)", path, i + 1);
            g_strfreev(lines);
            return -1;
        }
    if (n == 0) {
        g_strfreev(lines);
        return kf_fail(f, err, CS_ERR_PARSE, "labels", "file", "%s holds no labels", path);
    }
    d->labels = lines;
    d->n_labels = n;
    return 0;
}

typedef int joint_pair[2];

/* "0-1,1-2" (or joint names) into pairs. */
static int parse_skeleton(const kf_file *f, const char *v, cs_model_desc *d, cs_error *err)
{
    char **items = g_strsplit_set(v, ",; \t", -1);
    int cap = 0, n = 0;
    int(*pairs)[2] = NULL;
    for (int i = 0; items[i]; i++) {
        if (!*items[i]) continue;
        char *dash = strchr(items[i], '-');
        int ends[2];
        if (!dash) goto bad;
        *dash = '\0';
        const char *part[2] = {items[i], dash + 1};
        for (int k = 0; k < 2; k++) {
            char *end;
            gint64 j = g_ascii_strtoll(part[k], &end, 10);
            if (end != part[k] && !*end && j >= 0 && j < 100000) {
                ends[k] = (int)j;
                continue;
            }
            ends[k] = -1;
            for (int q = 0; q < d->n_keypoint_names; q++)
                if (strcmp(d->keypoint_names[q], part[k]) == 0) ends[k] = q;
            if (ends[k] < 0) {
                char *name = g_strdup(part[k]);
                *dash = '-';
                kf_fail(f, err, CS_ERR_PARSE, "heads", "skeleton",
                        "'%s' in '%s' is neither a joint index nor one of keypoint_names", name,
                        items[i]);
                g_free(name);
                goto fail;
            }
        }
        if (n == cap) pairs = g_renew(joint_pair, pairs, (size_t)(cap = cap ? 2 * cap : 16));
        pairs[n][0] = ends[0], pairs[n][1] = ends[1];
        n++;
        continue;
    bad:
        kf_fail(f, err, CS_ERR_PARSE, "heads", "skeleton",
                "'%s' is not a pair A-B (joint indices or names; pairs separated by commas)",
                items[i]);
        goto fail;
    }
    g_strfreev(items);
    if (!n) {
        g_free(pairs);
        return kf_fail(f, err, CS_ERR_PARSE, "heads", "skeleton", "no pairs");
    }
    d->skeleton = pairs;
    d->n_skeleton = n;
    return 0;
fail:
    g_strfreev(items);
    g_free(pairs);
    return -1;
}

cs_model_desc *cs_model_desc_load_data(const char *text, size_t len, const char *path,
                                       cs_error *err)
{
    kf_file f;
    cs_model_desc *d = desc_new();
    float *v = NULL;
    char *s = NULL;
    if (kf_open(&f, text, len, path, desc_groups, desc_required, err)) goto fail;
    d->path = xstrdup(path);

    /* [model] */
    int r = kf_path(&f, "model", "file", &d->model_file, err);
    if (r < 0) goto fail;
    if (!r) {
        kf_fail(&f, err, CS_ERR_PARSE, "model", NULL,
                "file: missing (the ONNX model, relative "
                "to this description)");
        goto fail;
    }
    if (kf_string(&f, "model", "name", &d->name, err) < 0 ||
        kf_string(&f, "model", "id", &d->id, err) < 0 ||
        kf_string(&f, "model", "input", &d->input, err) < 0)
        goto fail;
    if (!d->name) d->name = path ? stem(path) : g_strdup("model");
    if (!d->id) d->id = g_strdup(d->name);

    /* [preprocess]: preset first, then the keys over it */
    int preset = 0, scale = 0, bgr = 0, resize = 0;
    if ((r = kf_enum(&f, "preprocess", "preset", preset_names, &preset, err)) < 0) goto fail;
    if (r) {
        cs_pp_preset(preset_names[preset], &d->pp);
        g_free(d->preset);
        d->preset = g_strdup(preset_names[preset]);
    } else if (kf_has(&f, "preprocess", "scale") || kf_has(&f, "preprocess", "mean") ||
               kf_has(&f, "preprocess", "std") || kf_has(&f, "preprocess", "order")) {
        /* Explicit values without a preset start from none, as on the command line. */
        cs_pp_preset("none", &d->pp);
        g_free(d->preset);
        d->preset = g_strdup("none");
    }
    if ((r = kf_enum(&f, "preprocess", "scale", scale_names, &scale, err)) < 0) goto fail;
    if (r) d->pp.scale = (cs_scale)scale;
    if ((r = kf_enum(&f, "preprocess", "order", order_names, &bgr, err)) < 0) goto fail;
    if (r) d->pp.bgr = bgr;
    if ((r = kf_enum(&f, "preprocess", "resize", resize_names, &resize, err)) < 0) goto fail;
    if (r) d->pp.resize = (cs_resize_mode)resize;
    if ((r = kf_floats(&f, "preprocess", "mean", 3, &v, NULL, err)) < 0) goto fail;
    if (r) memcpy(d->pp.mean, v, sizeof d->pp.mean);
    if ((r = kf_floats(&f, "preprocess", "std", 3, &v, NULL, err)) < 0) goto fail;
    if (r) {
        for (int c = 0; c < 3; c++)
            if (!(v[c] > 0)) {
                kf_fail(&f, err, CS_ERR_PARSE, "preprocess", "std", "value %d is %g; must be > 0",
                        c + 1, (double)v[c]);
                goto fail;
            }
        memcpy(d->pp.std, v, sizeof d->pp.std);
    }
    if ((r = kf_path(&f, "preprocess", "statistics", &d->statistics_file, err)) < 0) goto fail;
    if (r) {
        static const char *const clash[] = {"mean", "std", "scale", "order", "preset", NULL};
        for (int i = 0; clash[i]; i++)
            if (kf_has(&f, "preprocess", clash[i])) {
                kf_fail(&f, err, CS_ERR_PARSE, "preprocess", clash[i],
                        "conflicts with statistics (the statistics file sets mean, std, scale "
                        "and order)");
                goto fail;
            }
        cs_error e2;
        if (!(d->statistics = cs_statistics_load(d->statistics_file, &e2))) {
            /* The statistics file's own file:line message, prefixed by where it was named. */
            char where[CS_ERROR_LEN];
            snprintf(where, sizeof where, "%s", e2.msg);
            kf_fail(&f, err, e2.status, "preprocess", "statistics", "%s", where);
            goto fail;
        }
        /* pp describes what the tensor then holds: the file's mean/std, or centred data. */
        const cs_statistics *st = d->statistics;
        d->pp.scale = st->scale;
        d->pp.bgr = st->bgr;
        for (int c = 0; c < 3; c++) {
            int kc = c < st->channels ? c : 0;
            d->pp.mean[c] = st->kind == CS_STATS_MEAN_STD ? st->mean[kc] : 0.0f;
            d->pp.std[c] = st->kind == CS_STATS_MEAN_STD ? st->std[kc] : 1.0f;
        }
        g_free(d->preset);
        d->preset = g_strdup("none");
    }

    /* [labels] */
    if (kf_has(&f, "labels", "file") && kf_has(&f, "labels", "names")) {
        kf_fail(&f, err, CS_ERR_PARSE, "labels", "names", "give file or names, not both");
        goto fail;
    }
    if ((r = kf_path(&f, "labels", "file", &s, err)) < 0) goto fail;
    if (r && read_labels(&f, s, d, err)) goto fail;
    if (kf_strings(&f, "labels", "names", &d->labels, &d->n_labels, err) < 0) goto fail;
    d->line.labels = kf_line(&f, "labels", kf_has(&f, "labels", "file") ? "file" : "names");

    /* [heads] */
    int e = 0;
    if (kf_string(&f, "heads", "classes", &d->classes, err) < 0 ||
        kf_string(&f, "heads", "boxes", &d->boxes, err) < 0 ||
        kf_string(&f, "heads", "keypoints", &d->keypoints, err) < 0 ||
        kf_string(&f, "heads", "keypoint_heatmaps", &d->keypoint_heatmaps, err) < 0)
        goto fail;
    if ((r = kf_enum(&f, "heads", "classes_activation", act_names, &e, err)) < 0) goto fail;
    if (r) d->classes_activation = (cs_classes_activation)e;
    if ((r = kf_enum(&f, "heads", "box_format", box_format_names, &e, err)) < 0) goto fail;
    if (r) d->box_format = (cs_box_format)e;
    if ((r = kf_enum(&f, "heads", "box_coords", box_coords_names, &e, err)) < 0) goto fail;
    if (r) d->box_coords = (cs_box_coords)e;
    if ((r = kf_enum(&f, "heads", "keypoint_coords", kp_coords_names, &e, err)) < 0) goto fail;
    if (r) d->keypoint_coords = (cs_keypoint_coords)e;
    if (kf_strings(&f, "heads", "keypoint_names", &d->keypoint_names, &d->n_keypoint_names, err) <
        0)
        goto fail;
    if (d->keypoints && d->keypoint_heatmaps) {
        kf_fail(&f, err, CS_ERR_PARSE, "heads", "keypoint_heatmaps",
                "give keypoints (a regression output) or keypoint_heatmaps, not both");
        goto fail;
    }
    static const char *const box_only[] = {"box_format", "box_coords", NULL};
    for (int i = 0; box_only[i]; i++)
        if (!d->boxes && kf_has(&f, "heads", box_only[i])) {
            kf_fail(&f, err, CS_ERR_PARSE, "heads", box_only[i], "needs boxes (the output name)");
            goto fail;
        }
    static const char *const kp_only[] = {"keypoint_coords", "keypoint_names", "skeleton", NULL};
    for (int i = 0; kp_only[i]; i++)
        if (!d->keypoints && !d->keypoint_heatmaps && kf_has(&f, "heads", kp_only[i])) {
            kf_fail(&f, err, CS_ERR_PARSE, "heads", kp_only[i],
                    "needs keypoints or keypoint_heatmaps (the output name)");
            goto fail;
        }
    if (kf_has(&f, "heads", "classes_activation") && !d->classes) {
        kf_fail(&f, err, CS_ERR_PARSE, "heads", "classes_activation",
                "needs classes (the output name)");
        goto fail;
    }
    if ((r = kf_string(&f, "heads", "skeleton", &s, err)) < 0) goto fail;
    if (r && parse_skeleton(&f, s, d, err)) goto fail;
    if (d->n_keypoint_names)
        for (int i = 0; i < d->n_skeleton; i++)
            for (int k = 0; k < 2; k++)
                if (d->skeleton[i][k] >= d->n_keypoint_names) {
                    kf_fail(&f, err, CS_ERR_PARSE, "heads", "skeleton",
                            "joint %d in pair %d-%d: only %d keypoint_names (0 to %d)",
                            d->skeleton[i][k], d->skeleton[i][0], d->skeleton[i][1],
                            d->n_keypoint_names, d->n_keypoint_names - 1);
                    goto fail;
                }

    /* [explain] */
    if (kf_string(&f, "explain", "layer", &d->explain_layer, err) < 0) goto fail;
    if ((r = kf_enum(&f, "explain", "method", method_names, &e, err)) < 0) goto fail;
    if (r) d->explain_method = g_strdup(method_names[e]);

    d->line.input = kf_line(&f, "model", "input");
    d->line.classes = kf_line(&f, "heads", "classes");
    d->line.boxes = kf_line(&f, "heads", "boxes");
    d->line.keypoints = kf_line(&f, "heads", "keypoints");
    d->line.keypoint_heatmaps = kf_line(&f, "heads", "keypoint_heatmaps");
    d->line.skeleton = kf_line(&f, "heads", "skeleton");
    d->line.layer = kf_line(&f, "explain", "layer");
    g_free(v);
    g_free(s);
    kf_close(&f);
    return d;
fail:
    g_free(v);
    g_free(s);
    kf_close(&f);
    cs_model_desc_destroy(&d);
    return NULL;
}

/* ---- writing (the trainer's descriptions) ------------------------------------------------- */

static int bad_name(const char *s)
{
    return !s || strpbrk(s, ";\n\r") != NULL || !*s;
}

static void write_list(FILE *f, const char *key, char *const *v, int n)
{
    fprintf(f, "%s = ", key);
    for (int i = 0; i < n; i++) fprintf(f, "%s%s", i ? ";" : "", v[i]);
    fputc('\n', f);
}

cs_status cs_model_desc_write(const char *path, const cs_model_desc *d, cs_error *err)
{
    for (int i = 0; i < d->n_labels; i++)
        if (bad_name(d->labels[i]))
            return cs_fail(err, CS_ERR_INVALID,
                           "%s: label %d ('%s') is empty or holds ';' or a line break", path, i + 1,
                           d->labels[i] ? d->labels[i] : "");
    for (int i = 0; i < d->n_keypoint_names; i++)
        if (bad_name(d->keypoint_names[i]))
            return cs_fail(err, CS_ERR_INVALID,
                           "%s: keypoint name %d is empty or holds ';' or a line break", path,
                           i + 1);
    if (!d->model_file) return cs_fail(err, CS_ERR_INVALID, "%s: no model file to name", path);
    char *tmp = g_strdup_printf("%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        cs_fail(err, CS_ERR_IO, "%s: cannot write: %s", tmp, strerror(errno));
        g_free(tmp);
        return CS_ERR_IO;
    }
    fprintf(f, "# camstream model description (docs/FORMATS.md)\n[model]\nfile = %s\n",
            d->model_file);
    if (d->name) fprintf(f, "name = %s\n", d->name);
    if (d->id) fprintf(f, "id = %s\n", d->id);
    if (d->input) fprintf(f, "input = %s\n", d->input);
    fprintf(f, "\n[preprocess]\n");
    if (d->statistics_file) {
        fprintf(f, "statistics = %s\n", d->statistics_file);
    } else {
        fprintf(f, "preset = none\nscale = %s\norder = %s\n", scale_names[d->pp.scale],
                order_names[d->pp.bgr ? 1 : 0]);
        fprintf(f, "mean = %.9g;%.9g;%.9g\nstd = %.9g;%.9g;%.9g\n", (double)d->pp.mean[0],
                (double)d->pp.mean[1], (double)d->pp.mean[2], (double)d->pp.std[0],
                (double)d->pp.std[1], (double)d->pp.std[2]);
    }
    fprintf(f, "resize = %s\n", resize_names[d->pp.resize]);
    if (d->n_labels) {
        fprintf(f, "\n[labels]\n");
        write_list(f, "names", d->labels, d->n_labels);
    }
    if (d->classes || d->boxes || d->keypoints || d->keypoint_heatmaps) fprintf(f, "\n[heads]\n");
    if (d->classes)
        fprintf(f, "classes = %s\nclasses_activation = %s\n", d->classes,
                act_names[d->classes_activation]);
    if (d->boxes)
        fprintf(f, "boxes = %s\nbox_format = %s\nbox_coords = %s\n", d->boxes,
                box_format_names[d->box_format], box_coords_names[d->box_coords]);
    if (d->keypoints) fprintf(f, "keypoints = %s\n", d->keypoints);
    if (d->keypoint_heatmaps) fprintf(f, "keypoint_heatmaps = %s\n", d->keypoint_heatmaps);
    if (d->keypoints || d->keypoint_heatmaps) {
        fprintf(f, "keypoint_coords = %s\n", kp_coords_names[d->keypoint_coords]);
        if (d->n_keypoint_names)
            write_list(f, "keypoint_names", d->keypoint_names, d->n_keypoint_names);
        if (d->n_skeleton) {
            fprintf(f, "skeleton = ");
            for (int i = 0; i < d->n_skeleton; i++)
                fprintf(f, "%s%d-%d", i ? "," : "", d->skeleton[i][0], d->skeleton[i][1]);
            fputc('\n', f);
        }
    }
    if (d->explain_layer || d->explain_method) {
        fprintf(f, "\n[explain]\n");
        if (d->explain_layer) fprintf(f, "layer = %s\n", d->explain_layer);
        if (d->explain_method) fprintf(f, "method = %s\n", d->explain_method);
    }
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    cs_status st = CS_OK;
    if (bad)
        st = cs_fail(err, CS_ERR_IO, "%s: write failed", tmp);
    else if (rename(tmp, path) != 0)
        st = cs_fail(err, CS_ERR_IO, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
    if (st != CS_OK) remove(tmp);
    g_free(tmp);
    return st;
}

cs_model_desc *cs_model_desc_load(const char *path, cs_error *err)
{
    size_t len = 0;
    char *text = kf_read_file(path, &len, err);
    if (!text) return NULL;
    cs_model_desc *d = cs_model_desc_load_data(text, len, path, err);
    g_free(text);
    return d;
}

cs_model_desc *cs_model_desc_for_onnx(const char *path, cs_error *err)
{
    if (!path || !*path) {
        cs_fail(err, CS_ERR_INVALID, "no model file given");
        return NULL;
    }
    cs_model_desc *d = desc_new();
    d->model_file = g_strdup(path);
    d->name = stem(path);
    d->id = g_strdup(d->name);
    return d;
}

cs_model_desc *cs_model_desc_open(const char *path, cs_error *err)
{
    if (!path || !*path) {
        cs_fail(err, CS_ERR_INVALID, "no model file given");
        return NULL;
    }
    if (g_str_has_suffix(path, ".onnx")) return cs_model_desc_for_onnx(path, err);
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        char *msg = g_strdup_printf("%s: %s", path, g_strerror(errno));
        cs_fail(err, CS_ERR_IO, "%s", msg);
        g_free(msg);
        return NULL;
    }
    int c = fgetc(fp);
    fclose(fp);
    /* An ONNX ModelProto starts with field 1 (ir_version, varint): byte 0x08. */
    if (c == 0x08) return cs_model_desc_for_onnx(path, err);
    return cs_model_desc_load(path, err);
}

/* ---- checking against the model ------------------------------------------------------- */

static int desc_fail(const cs_model_desc *d, cs_error *err, int line, const char *key,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int desc_fail(const cs_model_desc *d, cs_error *err, int line, const char *key,
                     const char *fmt, ...)
{
    char reason[CS_ERROR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    const char *what = d->path ? d->path : d->model_file;
    if (line > 0)
        cs_fail(err, CS_ERR_INVALID, "%s:%d: %s: %s", what, line, key, reason);
    else
        cs_fail(err, CS_ERR_INVALID, "%s: %s: %s", what, key, reason);
    return -1;
}

const cs_tensor *cs_model_desc_input(const cs_model_desc *d, const cs_model *m, cs_error *err)
{
    int n = cs_model_n_inputs(m);
    if (!d->input) {
        if (n > 0) return cs_model_input(m, 0);
        desc_fail(d, err, 0, "input", "%s has no graph input", d->model_file);
        return NULL;
    }
    char names[256] = "";
    size_t at = 0;
    for (int i = 0; i < n; i++) {
        const cs_tensor *t = cs_model_input(m, i);
        if (t->name && strcmp(t->name, d->input) == 0) return t;
        if (at < sizeof names)
            at += (size_t)snprintf(names + at, sizeof names - at, "%s%s", i ? ", " : "",
                                   t->name ? t->name : "?");
    }
    desc_fail(d, err, d->line.input, "input", "'%s' is not an input of %s (inputs: %s)", d->input,
              d->model_file, names);
    return NULL;
}

/* Product of the dims after the first (the batch); -1 when unknown. */
static int64_t per_item(const cs_tensor *t)
{
    int64_t n = 1;
    for (int i = 1; i < t->ndim; i++) {
        if (t->dims[i] < 0) return -1;
        n *= t->dims[i];
    }
    return t->ndim >= 1 ? n : -1;
}

static const cs_tensor *find_output(const cs_model *m, const char *name)
{
    for (int i = 0; i < cs_model_n_outputs(m); i++) {
        const cs_tensor *t = cs_model_output(m, i);
        if (t->name && strcmp(t->name, name) == 0) return t;
    }
    return NULL;
}

static int check_tensor(const cs_model_desc *d, const cs_model *m, const char *name, int line,
                        const char *key, cs_error *err)
{
    if (!name || find_output(m, name) || cs_model_find(m, name) >= 0) return 0;
    char names[256] = "";
    size_t at = 0;
    for (int i = 0; i < cs_model_n_outputs(m) && at < sizeof names; i++)
        at += (size_t)snprintf(names + at, sizeof names - at, "%s%s", i ? ", " : "",
                               cs_model_output(m, i)->name);
    return desc_fail(d, err, line, key, "'%s' is not a tensor of %s (outputs: %s)", name,
                     d->model_file, names);
}

cs_status cs_model_desc_check(const cs_model_desc *d, const cs_model *m, cs_error *err)
{
    const cs_tensor *x = cs_model_desc_input(d, m, err);
    if (!x) return CS_ERR_INVALID;
    char shape[64];
    if (x->ndim != 4 || (x->dims[1] != 1 && x->dims[1] != 3) || x->dims[2] < 1 || x->dims[3] < 1) {
        desc_fail(d, err, d->line.input, "input",
                  "%s input '%s' is %s; an image model takes 1xCxHxW with C = 1 or 3 and fixed "
                  "H, W",
                  d->model_file, x->name, cs_shape_str(x, shape, sizeof shape));
        return CS_ERR_INVALID;
    }
    if (d->statistics && d->statistics->channels != x->dims[1]) {
        desc_fail(d, err, 0, "statistics", "%s has %d channels, the model input %lld",
                  d->statistics_file, d->statistics->channels, (long long)x->dims[1]);
        return CS_ERR_INVALID;
    }
    if (check_tensor(d, m, d->classes, d->line.classes, "classes", err) ||
        check_tensor(d, m, d->boxes, d->line.boxes, "boxes", err) ||
        check_tensor(d, m, d->keypoints, d->line.keypoints, "keypoints", err) ||
        check_tensor(d, m, d->keypoint_heatmaps, d->line.keypoint_heatmaps, "keypoint_heatmaps",
                     err) ||
        check_tensor(d, m, d->explain_layer, d->line.layer, "layer", err))
        return CS_ERR_INVALID;
    const cs_tensor *cls = d->classes ? find_output(m, d->classes) : NULL;
    if (!cls && !d->classes && cs_model_n_outputs(m) > 0) cls = cs_model_output(m, 0);
    if (cls && d->n_labels) {
        int64_t k = per_item(cls);
        if (k > 0 && k != d->n_labels) {
            desc_fail(d, err, d->line.labels, "labels",
                      "%d labels for %lld class scores (output '%s' is %s)", d->n_labels,
                      (long long)k, cls->name, cs_shape_str(cls, shape, sizeof shape));
            return CS_ERR_INVALID;
        }
    }
    const cs_tensor *bx = d->boxes ? find_output(m, d->boxes) : NULL;
    if (bx) {
        int64_t k = per_item(bx);
        if (k > 0 && k % 4) {
            desc_fail(d, err, d->line.boxes, "boxes",
                      "output '%s' is %s: not a multiple of 4 numbers per item", bx->name,
                      cs_shape_str(bx, shape, sizeof shape));
            return CS_ERR_INVALID;
        }
    }
    /* Joints: 2·J regression numbers, or J heatmaps (dim 1 of 1×J×h×w). */
    int64_t joints = -1;
    const cs_tensor *kp = d->keypoints ? find_output(m, d->keypoints) : NULL;
    if (kp) {
        int64_t k = per_item(kp);
        if (k > 0 && k % 2) {
            desc_fail(d, err, d->line.keypoints, "keypoints",
                      "output '%s' is %s: not 2 numbers (x, y) per joint", kp->name,
                      cs_shape_str(kp, shape, sizeof shape));
            return CS_ERR_INVALID;
        }
        if (k > 0) joints = k / 2;
    }
    const cs_tensor *kh = d->keypoint_heatmaps ? find_output(m, d->keypoint_heatmaps) : NULL;
    if (kh && kh->ndim == 4 && kh->dims[1] > 0) joints = kh->dims[1];
    if (joints > 0 && d->n_keypoint_names && d->n_keypoint_names != joints) {
        desc_fail(d, err, 0, "keypoint_names", "%d names for %lld joints", d->n_keypoint_names,
                  (long long)joints);
        return CS_ERR_INVALID;
    }
    for (int i = 0; joints > 0 && i < d->n_skeleton; i++)
        if (d->skeleton[i][0] >= joints || d->skeleton[i][1] >= joints) {
            desc_fail(d, err, d->line.skeleton, "skeleton", "pair %d-%d: the model has %lld joints",
                      d->skeleton[i][0], d->skeleton[i][1], (long long)joints);
            return CS_ERR_INVALID;
        }
    return CS_OK;
}
