/* The dataset format (docs/DATASETS.md): the one reader and writer of dataset.csv/labels.txt. */
#include "camstream/dataset.h"

#include "image_io.h"

#include <errno.h>
#include <glib.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC "# camstream dataset 1"

static const char *const split_names[CS_SPLIT_COUNT] = {"train", "val", "test"};

const char *cs_split_name(cs_split s)
{
    return (unsigned)s < CS_SPLIT_COUNT ? split_names[s] : "?";
}

int cs_split_parse(const char *name, cs_split *out)
{
    for (int i = 0; name && i < CS_SPLIT_COUNT; i++)
        if (strcmp(name, split_names[i]) == 0) {
            *out = (cs_split)i;
            return 0;
        }
    return -1;
}

static cs_status fail(cs_error *err, cs_status st, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->status = st;
    }
    return st;
}

void cs_dataset_destroy(cs_dataset **pds)
{
    if (!pds || !*pds) return;
    cs_dataset *ds = *pds;
    for (int i = 0; i < ds->n_samples; i++) {
        free(ds->samples[i].file);
        free(ds->samples[i].path);
        free(ds->samples[i].kp);
    }
    free(ds->samples);
    g_strfreev(ds->labels);
    g_strfreev(ds->keypoint_names);
    free(ds->skeleton);
    for (int s = 0; s < CS_SPLIT_COUNT; s++) free(ds->index[s]);
    free(ds->dir);
    free(ds->csv_path);
    free(ds);
    *pds = NULL;
}

int cs_dataset_count(const cs_dataset *ds, cs_split s)
{
    return ds && (unsigned)s < CS_SPLIT_COUNT ? ds->count[s] : 0;
}

const cs_sample *cs_dataset_get(const cs_dataset *ds, cs_split s, int i)
{
    if (!ds || (unsigned)s >= CS_SPLIT_COUNT || i < 0 || i >= ds->count[s]) return NULL;
    return &ds->samples[ds->index[s][i]];
}

/* A file that cannot be read: "PATH: no such file" or GLib's message (which names it). */
static void read_error(cs_error *err, const char *path, const GError *ge)
{
    if (ge->domain == G_FILE_ERROR && ge->code == G_FILE_ERROR_NOENT)
        fail(err, CS_ERR_IO, "%s: no such file (a dataset directory holds %s and %s)", path,
             CS_DATASET_CSV, CS_DATASET_LABELS);
    else
        fail(err, CS_ERR_IO, "%s", ge->message);
}

/* ---- parsing ---------------------------------------------------------------------------- */

typedef struct {
    cs_dataset *ds;
    const char *file; /* for messages */
    int line;
    cs_error *err;
} parser;

static int perr(parser *p, const char *fmt, ...)
{
    char msg[CS_ERROR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fail(p->err, CS_ERR_INVALID, "%s:%d: %s", p->file, p->line, msg);
    return -1;
}

/* A whole-string finite number. */
static int parse_num(parser *p, const char *col, const char *s, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = g_ascii_strtod(s, &end);
    if (!*s || *end || errno || !isfinite(v)) return perr(p, "%s: '%s' is not a number", col, s);
    *out = v;
    return 0;
}

static int parse_int(parser *p, const char *col, const char *s, long lo, long hi, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno) return perr(p, "%s: '%s' is not an integer", col, s);
    if (v < lo || v > hi) return -2;
    *out = v;
    return 0;
}

static int parse_labels(parser *p, const char *dir)
{
    char *path = g_build_filename(dir, CS_DATASET_LABELS, NULL);
    char *text = NULL;
    GError *ge = NULL;
    int rc = -1;
    if (!g_file_get_contents(path, &text, NULL, &ge)) {
        read_error(p->err, path, ge);
        g_error_free(ge);
        g_free(path);
        return -1;
    }
    char **lines = g_strsplit(text, "\n", -1);
    int n = (int)g_strv_length(lines);
    while (n > 0 && g_strstrip(lines[n - 1])[0] == '\0') n--; /* trailing blank lines */
    parser lp = {p->ds, path, 0, p->err};
    if (n == 0) {
        fail(p->err, CS_ERR_INVALID, "%s: no class names (one per line expected)", path);
        goto out;
    }
    if (n > CS_DATASET_MAX_CLASSES) {
        fail(p->err, CS_ERR_INVALID, "%s: %d classes, at most %d", path, n, CS_DATASET_MAX_CLASSES);
        goto out;
    }
    p->ds->labels = calloc((size_t)(unsigned)n + 1, sizeof(char *));
    for (int i = 0; i < n; i++) {
        lp.line = i + 1;
        char *name = g_strstrip(lines[i]);
        if (!*name) {
            perr(&lp, "empty class name");
            goto out;
        }
        for (int j = 0; j < i; j++)
            if (strcmp(p->ds->labels[j], name) == 0) {
                perr(&lp, "class '%s' given twice (first on line %d)", name, j + 1);
                goto out;
            }
        p->ds->labels[i] = g_strdup(name);
        p->ds->n_classes = i + 1;
    }
    rc = 0;
out:
    g_strfreev(lines);
    g_free(text);
    g_free(path);
    return rc;
}

static int find_joint(const cs_dataset *ds, const char *s)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (*s && !*end) return v >= 0 && v < ds->n_keypoints ? (int)v : -1;
    for (int j = 0; j < ds->n_keypoints; j++)
        if (strcmp(ds->keypoint_names[j], s) == 0) return j;
    return -1;
}

/* `# key: value` header lines. Returns 1 when handled, 0 for a plain comment, -1 on error. */
static int parse_header(parser *p, char *line, int seen_rows)
{
    static const char *const keys[] = {"size", "keypoints", "skeleton", "columns"};
    char *body = g_strstrip(line + 1);
    char *colon = strchr(body, ':');
    if (!colon) return 0;
    *colon = '\0';
    char *key = g_strstrip(body), *val = g_strstrip(colon + 1);
    int k = -1;
    for (int i = 0; i < 4; i++)
        if (strcmp(key, keys[i]) == 0) k = i;
    if (k < 0) return 0;
    cs_dataset *ds = p->ds;
    if (seen_rows) return perr(p, "%s: header lines come before the first row", key);
    if (k == 0) {
        int w = 0, h = 0, used = 0;
        if (sscanf(val, "%dx%d%n", &w, &h, &used) != 2 || val[used] || w < 1 || h < 1 ||
            w > CS_DATASET_MAX_SIDE || h > CS_DATASET_MAX_SIDE)
            return perr(p, "size: '%s' is not WxH (1 to %d)", val, CS_DATASET_MAX_SIDE);
        if (ds->width) return perr(p, "size: given twice");
        ds->width = w, ds->height = h;
    } else if (k == 1) {
        if (ds->keypoint_names) return perr(p, "keypoints: given twice");
        char **names = g_strsplit_set(val, ";,", -1);
        int n = (int)g_strv_length(names);
        ds->keypoint_names = names;
        for (int j = 0; j < n; j++) {
            g_strstrip(names[j]);
            if (!names[j][0]) return perr(p, "keypoints: joint %d has no name", j);
            for (int i = 0; i < j; i++)
                if (strcmp(names[i], names[j]) == 0)
                    return perr(p, "keypoints: '%s' given twice", names[j]);
        }
        if (n < 1 || n > CS_DATASET_MAX_KEYPOINTS)
            return perr(p, "keypoints: %d names, 1 to %d expected", n, CS_DATASET_MAX_KEYPOINTS);
        ds->n_keypoints = n;
    } else if (k == 2) {
        if (!ds->keypoint_names) return perr(p, "skeleton: needs a keypoints line before it");
        if (ds->skeleton) return perr(p, "skeleton: given twice");
        char **pairs = g_strsplit_set(val, ",;", -1);
        int n = (int)g_strv_length(pairs), rc = 0;
        ds->skeleton = calloc((size_t)n + 1, sizeof *ds->skeleton);
        for (int i = 0; i < n && rc == 0; i++) {
            char *pr = g_strstrip(pairs[i]), *dash = strchr(pr, '-');
            if (!dash) {
                rc = perr(p, "skeleton: '%s' is not a pair A-B", pr);
                break;
            }
            *dash = '\0';
            int a = find_joint(ds, g_strstrip(pr)), b = find_joint(ds, g_strstrip(dash + 1));
            if (a < 0 || b < 0 || a == b)
                rc = perr(p, "skeleton: '%s-%s' does not name two of the %d keypoints", pr,
                          dash + 1, ds->n_keypoints);
            ds->skeleton[i][0] = a, ds->skeleton[i][1] = b;
            ds->n_skeleton = i + 1;
        }
        g_strfreev(pairs);
        if (rc) return -1;
    } else {
        GString *want = g_string_new("file,split,class,x,y,w,h");
        for (int j = 0; j < ds->n_keypoints; j++)
            g_string_append_printf(want, ",k%dx,k%dy,k%dv", j, j, j);
        char *got = g_strdelimit(g_strdup(val), " \t", ',');
        GString *norm = g_string_new(NULL);
        for (char *c = got; *c; c++)
            if (!(c[0] == ',' && (c[1] == ',' || c[1] == '\0' || c == got)))
                g_string_append_c(norm, *c);
        int ok = strcmp(norm->str, want->str) == 0;
        int rc = ok ? 0 : perr(p, "columns: '%s', expected '%s'", val, want->str);
        g_string_free(want, TRUE);
        g_string_free(norm, TRUE);
        g_free(got);
        if (rc) return -1;
    }
    return 1;
}

static int parse_row(parser *p, char *line, GHashTable *seen)
{
    cs_dataset *ds = p->ds;
    if (!ds->width) return perr(p, "size: missing (a '# size: WxH' line before the rows)");
    char **f = g_strsplit(line, ",", -1);
    int nf = (int)g_strv_length(f), J = ds->n_keypoints, want = 7 + 3 * J, rc = -1;
    for (int i = 0; i < nf; i++) g_strstrip(f[i]);
    cs_sample s = {0};
    s.line = p->line;
    if (nf != want) {
        if (J)
            perr(p,
                 "%d columns, expected %d (file,split,class,x,y,w,h and 3 per keypoint for %d "
                 "keypoints): wrong keypoint count",
                 nf, want, J);
        else
            perr(p, "%d columns, expected 7 (file,split,class,x,y,w,h; no keypoints declared)", nf);
        goto out;
    }
    const char *file = f[0];
    if (!*file) {
        perr(p, "file: empty");
        goto out;
    }
    if (g_path_is_absolute(file) || strstr(file, "..")) {
        perr(p, "file: '%s' must be a relative path inside the dataset directory", file);
        goto out;
    }
    if (cs_split_parse(f[1], &s.split) != 0) {
        perr(p, "split: '%s' is not one of train, val, test", f[1]);
        goto out;
    }
    long cls = 0;
    int r = parse_int(p, "class", f[2], 0, ds->n_classes - 1, &cls);
    if (r == -2)
        perr(p, "class: %s is out of range (%d classes in %s)", f[2], ds->n_classes,
             CS_DATASET_LABELS);
    if (r) goto out;
    s.cls = (int)cls;
    static const char *const bc[4] = {"x", "y", "w", "h"};
    for (int i = 0; i < 4; i++) {
        double v = 0;
        if (parse_num(p, bc[i], f[3 + i], &v)) goto out;
        s.box[i] = (float)v;
    }
    const float tol = 1e-3f;
    if (s.box[2] <= 0 || s.box[3] <= 0 || s.box[0] < -tol || s.box[1] < -tol ||
        s.box[0] + s.box[2] > ds->width + tol || s.box[1] + s.box[3] > ds->height + tol) {
        perr(p, "box: x=%s y=%s w=%s h=%s is outside the %dx%d image (or empty)", f[3], f[4], f[5],
             f[6], ds->width, ds->height);
        goto out;
    }
    if (J) s.kp = calloc((size_t)J, sizeof *s.kp);
    for (int j = 0; j < J; j++) {
        char cx[32], cy[32], cv[32];
        snprintf(cx, sizeof cx, "k%dx", j);
        snprintf(cy, sizeof cy, "k%dy", j);
        snprintf(cv, sizeof cv, "k%dv", j);
        double x = 0, y = 0;
        long v = 0;
        if (parse_num(p, cx, f[7 + 3 * j], &x) || parse_num(p, cy, f[8 + 3 * j], &y)) goto out;
        r = parse_int(p, cv, f[9 + 3 * j], 0, 2, &v);
        if (r == -2) perr(p, "%s: %s is not a visibility 0, 1 or 2", cv, f[9 + 3 * j]);
        if (r) goto out;
        if (v > 0 && (x < -tol || y < -tol || x > ds->width + tol || y > ds->height + tol)) {
            perr(p, "%s,%s: (%s, %s) is outside the %dx%d image", cx, cy, f[7 + 3 * j],
                 f[8 + 3 * j], ds->width, ds->height);
            goto out;
        }
        s.kp[j].x = (float)x, s.kp[j].y = (float)y, s.kp[j].v = (int)v;
    }
    int first = GPOINTER_TO_INT(g_hash_table_lookup(seen, file));
    if (first) {
        const cs_sample *o = &ds->samples[first - 1];
        if (o->split != s.split)
            perr(p, "file: %s is in split %s and in split %s (line %d): leakage between splits",
                 file, cs_split_name(s.split), cs_split_name(o->split), o->line);
        else
            perr(p, "file: %s given twice (first on line %d)", file, o->line);
        goto out;
    }
    s.file = g_strdup(file);
    s.path = g_build_filename(ds->dir, file, NULL);
    ds->samples[ds->n_samples++] = s;
    s.kp = NULL;
    g_hash_table_insert(seen, ds->samples[ds->n_samples - 1].file, GINT_TO_POINTER(ds->n_samples));
    rc = 0;
out:
    free(s.kp);
    g_strfreev(f);
    return rc;
}

cs_dataset *cs_dataset_load(const char *dir, cs_error *err)
{
    cs_dataset *ds = calloc(1, sizeof *ds);
    if (!ds) {
        fail(err, CS_ERR_NOMEM, "%s: out of memory", dir);
        return NULL;
    }
    ds->dir = g_strdup(dir);
    ds->csv_path = g_build_filename(dir, CS_DATASET_CSV, NULL);
    ds->channels = 3;
    parser p = {ds, ds->csv_path, 0, err};
    char *text = NULL;
    gsize len = 0;
    GError *ge = NULL;
    GHashTable *seen = NULL;
    char **lines = NULL;
    if (!g_file_get_contents(ds->csv_path, &text, &len, &ge)) {
        read_error(err, ds->csv_path, ge);
        g_error_free(ge);
        goto fail;
    }
    if (memchr(text, '\0', len)) {
        fail(err, CS_ERR_INVALID, "%s: not a text file (contains NUL bytes)", ds->csv_path);
        goto fail;
    }
    if (parse_labels(&p, dir)) goto fail;
    lines = g_strsplit(text, "\n", -1);
    int n = (int)g_strv_length(lines);
    ds->samples = calloc((size_t)n + 1, sizeof *ds->samples);
    seen = g_hash_table_new(g_str_hash, g_str_equal);
    for (int i = 0; i < n; i++) {
        p.line = i + 1;
        char *line = g_strstrip(lines[i]);
        if (i == 0 && strcmp(line, MAGIC) != 0) {
            perr(&p, "not a camstream dataset (the first line must be '%s')", MAGIC);
            goto fail;
        }
        if (i == 0 || !*line) continue;
        int rc = 0;
        if (line[0] == '#')
            rc = parse_header(&p, line, ds->n_samples > 0);
        else
            rc = parse_row(&p, line, seen);
        if (rc < 0) goto fail;
    }
    if (!ds->width) {
        fail(err, CS_ERR_INVALID, "%s: size: missing (a '# size: WxH' line)", ds->csv_path);
        goto fail;
    }
    for (int s = 0; s < CS_SPLIT_COUNT; s++)
        ds->index[s] = calloc((size_t)ds->n_samples + 1, sizeof(int));
    for (int i = 0; i < ds->n_samples; i++) {
        cs_split sp = ds->samples[i].split;
        ds->index[sp][ds->count[sp]++] = i;
    }
    g_hash_table_destroy(seen);
    g_strfreev(lines);
    g_free(text);
    return ds;
fail:
    if (seen) g_hash_table_destroy(seen);
    g_strfreev(lines);
    g_free(text);
    cs_dataset_destroy(&ds);
    return NULL;
}

/* ---- images ----------------------------------------------------------------------------- */

cs_status cs_dataset_image_u8(const cs_dataset *ds, const cs_sample *s, uint8_t *hwc, cs_error *err)
{
    cli_image img;
    char msg[CS_ERROR_LEN - 64];
    if (cli_image_read(s->path, &img, msg, sizeof msg) != 0)
        return fail(err, CS_ERR_IO, "%s:%d: file: %s", ds->csv_path, s->line, msg);
    cs_status rc = CS_OK;
    if (img.w != ds->width || img.h != ds->height)
        rc = fail(err, CS_ERR_INVALID, "%s:%d: file: %s is %dx%d, the dataset's size is %dx%d",
                  ds->csv_path, s->line, s->path, img.w, img.h, ds->width, ds->height);
    else
        memcpy(hwc, img.rgb, (size_t)img.w * img.h * 3);
    cli_image_free(&img);
    return rc;
}

cs_status cs_dataset_image_f32(const cs_dataset *ds, const cs_sample *s, float *chw, cs_error *err)
{
    size_t hw = (size_t)ds->width * ds->height;
    uint8_t *buf = malloc(hw * 3);
    if (!buf) return fail(err, CS_ERR_NOMEM, "%s: out of memory", s->path);
    cs_status rc = cs_dataset_image_u8(ds, s, buf, err);
    if (rc == CS_OK)
        for (size_t i = 0; i < hw; i++)
            for (int c = 0; c < 3; c++) chw[c * hw + i] = buf[i * 3 + c] * (1.0f / 255.0f);
    free(buf);
    return rc;
}

/* ---- leakage between datasets ----------------------------------------------------------- */

static uint64_t fnv1a(const uint8_t *d, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ d[i]) * 1099511628211ull;
    return h;
}

/* Identity of a file: its canonical path, and a hash of its bytes. */
static int file_id(const cs_dataset *ds, const cs_sample *s, char **canon, uint64_t *hash,
                   cs_error *err)
{
    gchar *data = NULL;
    gsize len = 0;
    GError *ge = NULL;
    if (!g_file_get_contents(s->path, &data, &len, &ge)) {
        fail(err, CS_ERR_IO, "%s:%d: file: %s", ds->csv_path, s->line, ge->message);
        g_error_free(ge);
        return -1;
    }
    *hash = fnv1a((const uint8_t *)data, len);
    g_free(data);
    *canon = realpath(s->path, NULL);
    if (!*canon) *canon = g_strdup(s->path);
    return 0;
}

static int same_bytes(const char *a, const char *b)
{
    gchar *da = NULL, *db = NULL;
    gsize la = 0, lb = 0;
    int same = g_file_get_contents(a, &da, &la, NULL) && g_file_get_contents(b, &db, &lb, NULL) &&
               la == lb && memcmp(da, db, la) == 0;
    g_free(da);
    g_free(db);
    return same;
}

int cs_dataset_overlap(const cs_dataset *a, unsigned mask_a, const cs_dataset *b, unsigned mask_b,
                       cs_error *err)
{
    GHashTable *by_path = g_hash_table_new_full(g_str_hash, g_str_equal, free, NULL);
    GHashTable *by_hash = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    int rc = 0;
    for (int i = 0; i < b->n_samples && rc == 0; i++) {
        const cs_sample *s = &b->samples[i];
        if (!(mask_b & (1u << s->split))) continue;
        char *canon;
        uint64_t h;
        if (file_id(b, s, &canon, &h, err)) {
            rc = -1;
            break;
        }
        g_hash_table_insert(by_path, canon, GINT_TO_POINTER(i + 1));
        if (!g_hash_table_contains(by_hash, &h))
            g_hash_table_insert(by_hash, g_memdup2(&h, sizeof h), GINT_TO_POINTER(i + 1));
    }
    for (int i = 0; i < a->n_samples && rc == 0; i++) {
        const cs_sample *s = &a->samples[i];
        if (!(mask_a & (1u << s->split))) continue;
        char *canon;
        uint64_t h;
        if (file_id(a, s, &canon, &h, err)) {
            rc = -1;
            break;
        }
        int j = GPOINTER_TO_INT(g_hash_table_lookup(by_path, canon));
        const char *how = "is the same file as";
        if (!j || (a == b && j == i + 1)) {
            j = GPOINTER_TO_INT(g_hash_table_lookup(by_hash, &h));
            how = "has the same bytes as";
            if (j && ((a == b && j == i + 1) || !same_bytes(s->path, b->samples[j - 1].path)))
                j = 0;
        }
        free(canon);
        if (j) {
            const cs_sample *o = &b->samples[j - 1];
            fail(err, CS_ERR_INVALID, "%s:%d: %s (%s) %s %s:%d: %s (%s)", a->csv_path, s->line,
                 s->file, cs_split_name(s->split), how, b->csv_path, o->line, o->file,
                 cs_split_name(o->split));
            rc = 1;
        }
    }
    g_hash_table_destroy(by_path);
    g_hash_table_destroy(by_hash);
    return rc;
}

/* ---- writing ---------------------------------------------------------------------------- */

struct cs_dataset_writer {
    char *dir, *csv_path;
    FILE *csv;
    int width, height, n_classes, n_keypoints;
};

cs_dataset_writer *cs_dataset_writer_new(const char *dir, int width, int height,
                                         const char *const *labels, int n_classes,
                                         const char *const *keypoint_names, int n_keypoints,
                                         const int (*skeleton)[2], int n_skeleton, cs_error *err)
{
    if (width < 1 || height < 1 || width > CS_DATASET_MAX_SIDE || height > CS_DATASET_MAX_SIDE ||
        n_classes < 1 || n_keypoints < 0 || n_keypoints > CS_DATASET_MAX_KEYPOINTS) {
        fail(err, CS_ERR_INVALID, "%s: invalid dataset geometry", dir);
        return NULL;
    }
    if (g_mkdir_with_parents(dir, 0755) != 0) {
        fail(err, CS_ERR_IO, "%s: cannot create the directory: %s", dir, strerror(errno));
        return NULL;
    }
    cs_dataset_writer *w = calloc(1, sizeof *w);
    w->dir = g_strdup(dir);
    w->csv_path = g_build_filename(dir, CS_DATASET_CSV, NULL);
    w->width = width, w->height = height, w->n_classes = n_classes, w->n_keypoints = n_keypoints;
    GString *lab = g_string_new(NULL);
    for (int i = 0; i < n_classes; i++) g_string_append_printf(lab, "%s\n", labels[i]);
    char *lpath = g_build_filename(dir, CS_DATASET_LABELS, NULL);
    GError *ge = NULL;
    int ok = g_file_set_contents(lpath, lab->str, (gssize)lab->len, &ge);
    g_string_free(lab, TRUE);
    if (!ok) {
        fail(err, CS_ERR_IO, "%s: %s", lpath, ge->message);
        g_error_free(ge);
        g_free(lpath);
        cs_dataset_writer_close(&w, NULL);
        return NULL;
    }
    g_free(lpath);
    w->csv = fopen(w->csv_path, "w");
    if (!w->csv) {
        fail(err, CS_ERR_IO, "%s: %s", w->csv_path, strerror(errno));
        cs_dataset_writer_close(&w, NULL);
        return NULL;
    }
    fprintf(w->csv, MAGIC "\n# size: %dx%d\n", width, height);
    if (n_keypoints) {
        fprintf(w->csv, "# keypoints: ");
        for (int j = 0; j < n_keypoints; j++)
            fprintf(w->csv, "%s%s", j ? ";" : "", keypoint_names[j]);
        fprintf(w->csv, "\n");
        if (n_skeleton) {
            fprintf(w->csv, "# skeleton: ");
            for (int e = 0; e < n_skeleton; e++)
                fprintf(w->csv, "%s%d-%d", e ? "," : "", skeleton[e][0], skeleton[e][1]);
            fprintf(w->csv, "\n");
        }
    }
    fprintf(w->csv, "# columns: file,split,class,x,y,w,h");
    for (int j = 0; j < n_keypoints; j++) fprintf(w->csv, ",k%dx,k%dy,k%dv", j, j, j);
    fprintf(w->csv, "\n");
    return w;
}

static void put_num(FILE *f, float v)
{
    char b[G_ASCII_DTOSTR_BUF_SIZE];
    fprintf(f, ",%s", g_ascii_formatd(b, sizeof b, "%.6g", (double)v));
}

cs_status cs_dataset_writer_add(cs_dataset_writer *w, const char *file, cs_split split,
                                const uint8_t *rgb, int cls, const float box[4],
                                const cs_keypoint *kp, cs_error *err)
{
    if (cls < 0 || cls >= w->n_classes || (unsigned)split >= CS_SPLIT_COUNT || strchr(file, ',') ||
        (w->n_keypoints && !kp))
        return fail(err, CS_ERR_INVALID, "%s: invalid row for %s", w->csv_path, file);
    char *path = g_build_filename(w->dir, file, NULL);
    char *parent = g_path_get_dirname(path);
    int mk = g_mkdir_with_parents(parent, 0755);
    g_free(parent);
    char msg[CS_ERROR_LEN];
    if (mk != 0 || cli_image_write_png(path, rgb, w->width, w->height, msg, sizeof msg) != 0) {
        if (mk != 0) snprintf(msg, sizeof msg, "%s: cannot create its directory", path);
        g_free(path);
        return fail(err, CS_ERR_IO, "%s", msg);
    }
    g_free(path);
    fprintf(w->csv, "%s,%s,%d", file, cs_split_name(split), cls);
    for (int i = 0; i < 4; i++) put_num(w->csv, box[i]);
    for (int j = 0; j < w->n_keypoints; j++) {
        put_num(w->csv, kp[j].x);
        put_num(w->csv, kp[j].y);
        fprintf(w->csv, ",%d", kp[j].v);
    }
    fprintf(w->csv, "\n");
    return CS_OK;
}

cs_status cs_dataset_writer_close(cs_dataset_writer **pw, cs_error *err)
{
    if (!pw || !*pw) return CS_OK;
    cs_dataset_writer *w = *pw;
    cs_status rc = CS_OK;
    if (w->csv && (ferror(w->csv) | fclose(w->csv)))
        rc = fail(err, CS_ERR_IO, "%s: write error", w->csv_path);
    g_free(w->dir);
    g_free(w->csv_path);
    free(w);
    *pw = NULL;
    return rc;
}
