/* camstream synth: the generator, single labelled images (shapes, stick figures) and datasets. */
#include "camstream/synth.h"

#include "synth_draw.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PI_F 3.14159265358979f

/* ---- per-item generators ---------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

cs_rng cs_synth_rng_for(uint64_t seed, uint64_t index)
{
    uint64_t x = seed;
    uint64_t a = splitmix64(&x);
    x = a ^ (index * 0xd1b54a32d192ed03ull);
    cs_rng r;
    cs_rng_seed(&r, splitmix64(&x));
    return r;
}

/* ---- names ------------------------------------------------------------------------------ */

static const char *const shape_names[CS_SHAPE_COUNT] = {"circle", "square", "triangle",
                                                        "star",   "ring",   "cross"};

const char *cs_shape_name(cs_shape s)
{
    return (unsigned)s < CS_SHAPE_COUNT ? shape_names[s] : "?";
}

static const char *const level_names[] = {"high", "medium", "low"};

int cs_synth_level_parse(const char *name, cs_synth_level *level)
{
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, level_names[i])) {
            *level = (cs_synth_level)i;
            return 0;
        }
    return -1;
}

const char *cs_synth_level_name(cs_synth_level level)
{
    return (unsigned)level < 3 ? level_names[level] : "?";
}

const char *const cs_figure_joint_names[CS_FIGURE_JOINTS] = {
    "head",    "neck",  "l_shoulder", "r_shoulder", "l_elbow", "r_elbow", "l_wrist",
    "r_wrist", "l_hip", "r_hip",      "l_knee",     "r_knee",  "l_ankle", "r_ankle"};

const int cs_figure_skeleton[CS_FIGURE_EDGES][2] = {{0, 1},  {1, 2},   {1, 3},  {2, 4},  {4, 6},
                                                    {3, 5},  {5, 7},   {2, 8},  {3, 9},  {8, 9},
                                                    {8, 10}, {10, 12}, {9, 11}, {11, 13}};

/* ---- one image -------------------------------------------------------------------------- */

typedef struct scratch {
    canvas cv;
    float *obj, *occ, *tmp; /* w·h coverages */
} scratch;

static int scratch_new(scratch *s, int w, int h)
{
    size_t n = (size_t)w * h;
    s->cv.w = w, s->cv.h = h;
    s->cv.rgb = malloc(n * 3 * sizeof(float));
    s->obj = calloc(n, sizeof(float));
    s->occ = calloc(n, sizeof(float));
    s->tmp = calloc(n, sizeof(float));
    return s->cv.rgb && s->obj && s->occ && s->tmp ? 0 : -1;
}

static void scratch_free(scratch *s)
{
    free(s->cv.rgb);
    free(s->obj);
    free(s->occ);
    free(s->tmp);
}

static int count_visible(const float *obj, const float *occ, const float *extra, size_t n)
{
    int c = 0;
    for (size_t i = 0; i < n; i++) {
        float o = occ[i];
        if (extra && extra[i] > o) o = extra[i];
        c += obj[i] * (1 - o) >= 0.5f;
    }
    return c;
}

/* Occluding pieces over the object (HIGH: up to 2, each kept only while at least 60 % stays
 * visible; MEDIUM: up to 1, 80 %; LOW: none). */
static void occlude(scratch *s, cs_rng *r, float cx, float cy, float rad, const float avoid[3],
                    cs_synth_level level)
{
    if (level == CS_SYNTH_LOW) return;
    size_t n = (size_t)s->cv.w * s->cv.h;
    int keep = level == CS_SYNTH_HIGH ? 6 : 8;
    int full = count_visible(s->obj, s->occ, NULL, n),
        pieces = rng_int(r, level == CS_SYNTH_HIGH ? 3 : 2);
    for (int k = 0; k < pieces; k++) {
        geom g;
        paint p;
        float col[3], a = (float)rng_range(r, 0, 2 * PI_F);
        float d = rad * (float)rng_range(r, 0.5, 1.2);
        float px = cx + d * cosf(a), py = cy + d * sinf(a);
        color_far_from(r, avoid, 0.4f, col);
        if (rng_int(r, 2))
            geom_ellipse(&g, px, py, rad * (float)rng_range(r, 0.2, 0.5),
                         rad * (float)rng_range(r, 0.15, 0.35), (float)rng_range(r, 0, PI_F));
        else
            geom_line(&g, px - rad * cosf(a + 1.3f), py - rad * sinf(a + 1.3f),
                      px + rad * cosf(a + 1.3f), py + rad * sinf(a + 1.3f),
                      rad * (float)rng_range(r, 0.06, 0.15) + 0.5f);
        paint_random(r, &p, col, col, px, py, rad, 0);
        memset(s->tmp, 0, n * sizeof(float));
        draw(&s->cv, &g, NULL, s->tmp);
        if (count_visible(s->obj, s->occ, s->tmp, n) * 10 < full * keep) continue;
        draw(&s->cv, &g, &p, s->occ);
    }
}

/* Tight box of the pixels where vis ≥ 0.5; mask gets them. 0 when there is none. */
static int tight_box(const scratch *s, int with_occ, uint8_t *mask, float box[4])
{
    int w = s->cv.w, h = s->cv.h, x0 = w, y0 = h, x1 = -1, y1 = -1;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            int on = s->obj[i] * (with_occ ? 1 - s->occ[i] : 1) >= 0.5f;
            if (mask) mask[i] = (uint8_t)on;
            if (!on) continue;
            if (x < x0) x0 = x;
            if (x > x1) x1 = x;
            if (y < y0) y0 = y;
            if (y > y1) y1 = y;
        }
    if (x1 < 0) return 0;
    box[0] = (float)x0, box[1] = (float)y0;
    box[2] = (float)(x1 - x0 + 1), box[3] = (float)(y1 - y0 + 1);
    return 1;
}

static void object_paint(cs_rng *r, paint *p, const float base[3], float cx, float cy, float rad,
                         float c1[3])
{
    float c2[3];
    color_far_from(r, base, 0.9f, c1);
    color_far_from(r, c1, 0.5f, c2);
    paint_random(r, p, c1, c2, cx, cy, rad, 1);
}

int cs_synth_shape_image(cs_rng *r, int size, int n_classes, const cs_synth_opts *opts,
                         uint8_t *rgb, uint8_t *mask, cs_synth_label *lab)
{
    static const cs_synth_opts defaults = CS_SYNTH_OPTS_DEFAULT;
    if (!opts) opts = &defaults;
    if (size < 8 || size > CS_DATASET_MAX_SIDE || n_classes < 1 || n_classes > CS_SHAPE_COUNT ||
        (unsigned)opts->level > CS_SYNTH_LOW)
        return -1;
    scratch s;
    if (scratch_new(&s, size, size)) {
        scratch_free(&s);
        return -1;
    }
    float base[3], c1[3];
    draw_background(&s.cv, r, opts->clutter, base);
    int cls = rng_int(r, n_classes);
    double lo = opts->level == CS_SYNTH_HIGH ? 0.2 : opts->level == CS_SYNTH_MEDIUM ? 0.3 : 0.35;
    float rad = 0.5f * size * (float)rng_range(r, lo, 0.6);
    float cx = (float)rng_range(r, rad, size - rad), cy = (float)rng_range(r, rad, size - rad);
    geom g;
    paint p;
    geom_shape(&g, (cs_shape)cls, cx, cy, rad, (float)rng_range(r, 0, 2 * PI_F));
    object_paint(r, &p, base, cx, cy, rad, c1);
    draw(&s.cv, &g, &p, s.obj);
    if (opts->occlusion) occlude(&s, r, cx, cy, rad, c1, opts->level);
    memset(lab, 0, sizeof *lab);
    lab->cls = cls;
    int ok = tight_box(&s, 1, mask, lab->box);
    canvas_to_u8(&s.cv, r, opts->clutter ? 0.03f : 0.0f, rgb);
    scratch_free(&s);
    return ok ? 0 : -1;
}

/* ---- stick figures ---------------------------------------------------------------------- */

static void rot(const float v[2], float a, float out[2])
{
    float c = cosf(a), s = sinf(a);
    out[0] = v[0] * c - v[1] * s, out[1] = v[0] * s + v[1] * c;
}

static void limb(const float from[2], const float dir[2], float len, float out[2])
{
    out[0] = from[0] + dir[0] * len, out[1] = from[1] + dir[1] * len;
}

/* Pose angles: torso tilt, then per side (left, right) upper arm, elbow, thigh, knee. */
void figure_pose_angles(cs_rng *r, float ang[FIGURE_ANGLES])
{
    ang[0] = (float)rng_range(r, -0.25, 0.25);
    for (int side = 0; side < 2; side++) {
        float *a = ang + 1 + 4 * side;
        a[0] = (float)rng_range(r, -0.3, 2.6);
        a[1] = (float)rng_range(r, -0.2, 2.2);
        a[2] = (float)rng_range(r, -0.2, 0.9);
        a[3] = (float)rng_range(r, 0, 1.8) * (rng_int(r, 2) ? 1 : -0.2f);
    }
}

/* Joints in torso units (hip centre at the origin, y down; left joints on +perp). */
void figure_pose_build(const float ang[FIGURE_ANGLES], float j[CS_FIGURE_JOINTS][2])
{
    float t = ang[0];
    float up[2] = {sinf(t), -cosf(t)}, down[2] = {-up[0], -up[1]}, perp[2] = {cosf(t), sinf(t)};
    float hip[2] = {0, 0};
    limb(hip, up, 1.0f, j[1]);
    limb(j[1], up, 0.42f, j[0]);
    limb(j[1], perp, 0.3f, j[2]);
    limb(j[1], perp, -0.3f, j[3]);
    limb(hip, perp, 0.18f, j[8]);
    limb(hip, perp, -0.18f, j[9]);
    for (int side = 0; side < 2; side++) {
        const float *a = ang + 1 + 4 * side;
        float sg = side ? 1.0f : -1.0f, d1[2], d2[2];
        rot(down, sg * a[0], d1);
        rot(d1, sg * a[1], d2);
        limb(j[2 + side], d1, 0.5f, j[4 + side]);
        limb(j[4 + side], d2, 0.42f, j[6 + side]);
        rot(down, sg * a[2], d1);
        rot(d1, -sg * a[3], d2);
        limb(j[8 + side], d1, 0.6f, j[10 + side]);
        limb(j[10 + side], d2, 0.55f, j[12 + side]);
    }
}

int cs_synth_figure_image(cs_rng *r, int size, const cs_synth_opts *opts, uint8_t *rgb,
                          uint8_t *mask, cs_synth_label *lab)
{
    static const cs_synth_opts defaults = CS_SYNTH_OPTS_DEFAULT;
    if (!opts) opts = &defaults;
    if (size < 16 || size > CS_DATASET_MAX_SIDE || (unsigned)opts->level > CS_SYNTH_LOW) return -1;
    scratch s;
    if (scratch_new(&s, size, size)) {
        scratch_free(&s);
        return -1;
    }
    float base[3], c1[3], j[CS_FIGURE_JOINTS][2];
    draw_background(&s.cv, r, opts->clutter, base);
    float ang[FIGURE_ANGLES];
    figure_pose_angles(r, ang);
    figure_pose_build(ang, j);
    const float thick = FIGURE_THICK, head_r = FIGURE_HEAD;
    float x0 = 1e30f, y0 = 1e30f, x1 = -1e30f, y1 = -1e30f;
    for (int k = 0; k < CS_FIGURE_JOINTS; k++) {
        float e = k == 0 ? head_r : thick;
        x0 = fminf(x0, j[k][0] - e), x1 = fmaxf(x1, j[k][0] + e);
        y0 = fminf(y0, j[k][1] - e), y1 = fmaxf(y1, j[k][1] + e);
    }
    float ext = fmaxf(x1 - x0, y1 - y0), sc = (float)rng_range(r, 0.45, 0.9) * size / ext;
    if (thick * sc < 1.2f) sc = 1.2f / thick; /* limbs at least ~2.4 px wide */
    float margin = 1.0f;
    float lox = margin - x0 * sc, hix = size - margin - x1 * sc;
    float loy = margin - y0 * sc, hiy = size - margin - y1 * sc;
    float tx = hix > lox ? (float)rng_range(r, lox, hix) : 0.5f * (lox + hix);
    float ty = hiy > loy ? (float)rng_range(r, loy, hiy) : 0.5f * (loy + hiy);
    for (int k = 0; k < CS_FIGURE_JOINTS; k++) {
        j[k][0] = fminf(fmaxf(j[k][0] * sc + tx, 0), (float)size);
        j[k][1] = fminf(fmaxf(j[k][1] * sc + ty, 0), (float)size);
    }
    geom g;
    paint p;
    float cx = (j[1][0] + j[8][0]) / 2, cy = (j[1][1] + j[8][1]) / 2, rad = 0.5f * ext * sc;
    geom_figure(&g, j, thick * sc, head_r * sc);
    object_paint(r, &p, base, cx, cy, rad * 0.5f, c1);
    draw(&s.cv, &g, &p, s.obj);
    if (opts->occlusion) occlude(&s, r, cx, cy, rad * 0.6f, c1, opts->level);
    memset(lab, 0, sizeof *lab);
    lab->cls = 0;
    lab->n_kp = CS_FIGURE_JOINTS;
    int ok = tight_box(&s, 0, mask, lab->box);
    /* The figure's box: its pixels and its joints. */
    float bx1 = lab->box[0] + lab->box[2], by1 = lab->box[1] + lab->box[3];
    for (int k = 0; k < CS_FIGURE_JOINTS && ok; k++) {
        lab->box[0] = fminf(lab->box[0], floorf(j[k][0]));
        lab->box[1] = fminf(lab->box[1], floorf(j[k][1]));
        bx1 = fmaxf(bx1, fminf(floorf(j[k][0]) + 1, (float)size));
        by1 = fmaxf(by1, fminf(floorf(j[k][1]) + 1, (float)size));
        int px = (int)fminf(j[k][0], size - 1.0f), py = (int)fminf(j[k][1], size - 1.0f);
        lab->kp[k].x = j[k][0], lab->kp[k].y = j[k][1];
        lab->kp[k].v = s.occ[(size_t)py * size + px] >= 0.5f ? 1 : 2;
    }
    lab->box[2] = bx1 - lab->box[0], lab->box[3] = by1 - lab->box[1];
    canvas_to_u8(&s.cv, r, opts->clutter ? 0.03f : 0.0f, rgb);
    scratch_free(&s);
    return ok ? 0 : -1;
}

/* ---- datasets --------------------------------------------------------------------------- */

void cs_synth_split_counts(int count, const double split[3], int out[CS_SPLIT_COUNT])
{
    double tot = split[0] + split[1] + split[2];
    if (tot <= 0) tot = 1;
    out[0] = (int)lround(count * split[0] / tot);
    out[1] = (int)lround(count * split[1] / tot);
    if (out[0] + out[1] > count) out[1] = count - out[0];
    out[2] = count - out[0] - out[1];
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

cs_status cs_synth_dataset(const char *dir, cs_synth_kind kind, int count, int size, int n_classes,
                           uint64_t seed, const double split[3], cs_error *err)
{
    return cs_synth_dataset_opts(dir, kind, count, size, n_classes, seed, split, NULL, err);
}

cs_status cs_synth_dataset_opts(const char *dir, cs_synth_kind kind, int count, int size,
                                int n_classes, uint64_t seed, const double split[3],
                                const cs_synth_opts *opts, cs_error *err)
{
    if (count < 1 || size < 16 || size > 4096 ||
        (kind == CS_SYNTH_SHAPES && (n_classes < 1 || n_classes > CS_SHAPE_COUNT)))
        return fail(err, CS_ERR_INVALID, "%s: invalid synth arguments", dir);
    for (int i = 0; i < 3; i++)
        if (!(split[i] >= 0) || split[i] > 1)
            return fail(err, CS_ERR_INVALID, "%s: split fractions must be within 0..1", dir);
    const char *person[1] = {"person"};
    cs_dataset_writer *w =
        kind == CS_SYNTH_SHAPES
            ? cs_dataset_writer_new(dir, size, size, shape_names, n_classes, NULL, 0, NULL, 0, err)
            : cs_dataset_writer_new(dir, size, size, person, 1, cs_figure_joint_names,
                                    CS_FIGURE_JOINTS, cs_figure_skeleton, CS_FIGURE_EDGES, err);
    if (!w) return err ? err->status : CS_ERR_IO;
    int per[CS_SPLIT_COUNT];
    cs_synth_split_counts(count, split, per);
    uint8_t *rgb = malloc((size_t)size * size * 3);
    cs_status rc = rgb ? CS_OK : fail(err, CS_ERR_NOMEM, "%s: out of memory", dir);
    for (int i = 0; i < count && rc == CS_OK; i++) {
        cs_rng r = cs_synth_rng_for(seed, (uint64_t)i);
        cs_synth_label lab;
        int ok = kind == CS_SYNTH_SHAPES
                     ? cs_synth_shape_image(&r, size, n_classes, opts, rgb, NULL, &lab)
                     : cs_synth_figure_image(&r, size, opts, rgb, NULL, &lab);
        if (ok != 0) {
            rc = fail(err, CS_ERR_INVALID, "%s: image %d could not be rendered", dir, i);
            break;
        }
        char file[64];
        snprintf(file, sizeof file, "images/%06d.png", i);
        cs_split sp = i < per[0]            ? CS_SPLIT_TRAIN
                      : i < per[0] + per[1] ? CS_SPLIT_VAL
                                            : CS_SPLIT_TEST;
        rc = cs_dataset_writer_add(w, file, sp, rgb, lab.cls, lab.box, lab.n_kp ? lab.kp : NULL,
                                   err);
    }
    free(rgb);
    cs_status rc2 = cs_dataset_writer_close(&w, rc == CS_OK ? err : NULL);
    return rc != CS_OK ? rc : rc2;
}
