/* camstream synth video scenes: shapes (and a stick figure) moving over a fixed background.
 * Every frame is a pure function of (seed, t), so frames can be rendered in any order. */
#include "camstream/synth.h"

#include "synth_draw.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PI_F 3.14159265358979f

typedef struct mover {
    int cls;
    float x0, y0, vx, vy; /* pixels, pixels per frame */
    float rad, a0, omega; /* radius, angle, radians per frame */
    paint p;
    float tex_angle;
} mover;

struct cs_synth_scene {
    int w, h, n_obj, n_classes, figure;
    uint64_t seed;
    float *background; /* h·w·3 */
    mover obj[16];
    /* the figure: position and motion of the hip centre, scale, two poses it swings between */
    mover fig;
    float pose_a[FIGURE_ANGLES], pose_b[FIGURE_ANGLES], period;
    float *cov, *vis; /* (n_obj+1)·w·h coverage and visibility */
    float *rgb;
};

void cs_synth_scene_destroy(cs_synth_scene **psc)
{
    if (!psc || !*psc) return;
    cs_synth_scene *sc = *psc;
    free(sc->background);
    free(sc->cov);
    free(sc->vis);
    free(sc->rgb);
    free(sc);
    *psc = NULL;
}

/* Position in [lo, hi] moving at v from p0, reflected at the ends. */
static float bounce(float p0, float v, int t, float lo, float hi)
{
    float L = hi - lo;
    if (L <= 0) return 0.5f * (lo + hi);
    float u = fmodf(p0 - lo + v * (float)t, 2 * L);
    if (u < 0) u += 2 * L;
    return lo + (u <= L ? u : 2 * L - u);
}

cs_synth_scene *cs_synth_scene_new(int width, int height, int n_objects, int n_classes, int figure,
                                   uint64_t seed)
{
    return cs_synth_scene_new_level(width, height, n_objects, n_classes, figure, seed,
                                    CS_SYNTH_HIGH);
}

cs_synth_scene *cs_synth_scene_new_level(int width, int height, int n_objects, int n_classes,
                                         int figure, uint64_t seed, cs_synth_level level)
{
    if (width < 16 || height < 16 || width > 4096 || height > 4096 || n_objects < 0 ||
        n_objects > 16 || n_classes < 1 || n_classes > CS_SHAPE_COUNT || n_objects + !!figure < 1 ||
        (unsigned)level > CS_SYNTH_LOW)
        return NULL;
    cs_synth_scene *sc = calloc(1, sizeof *sc);
    if (!sc) return NULL;
    size_t n = (size_t)width * height;
    sc->w = width, sc->h = height, sc->n_obj = n_objects, sc->n_classes = n_classes;
    sc->figure = !!figure, sc->seed = seed;
    sc->background = malloc(n * 3 * sizeof(float));
    sc->rgb = malloc(n * 3 * sizeof(float));
    sc->cov = malloc(n * (size_t)(n_objects + 1) * sizeof(float));
    sc->vis = malloc(n * (size_t)(n_objects + 1) * sizeof(float));
    if (!sc->background || !sc->rgb || !sc->cov || !sc->vis) {
        cs_synth_scene_destroy(&sc);
        return NULL;
    }
    cs_rng r;
    cs_rng_seed(&r, seed);
    canvas cv = {width, height, sc->background};
    float base[3];
    draw_background(&cv, &r, 1, base);
    float side = (float)(width < height ? width : height);
    for (int k = 0; k < n_objects; k++) {
        mover *m = &sc->obj[k];
        float c1[3], c2[3];
        m->cls = rng_int(&r, n_classes);
        m->rad =
            0.5f * side *
            (float)(level == CS_SYNTH_HIGH ? rng_range(&r, 0.15, 0.35) : rng_range(&r, 0.3, 0.6));
        m->x0 = (float)rng_range(&r, m->rad, width - m->rad);
        m->y0 = (float)rng_range(&r, m->rad, height - m->rad);
        float sp = side * (float)rng_range(&r, 0.004, 0.015),
              dir = (float)rng_range(&r, 0, 2 * PI_F);
        m->vx = sp * cosf(dir), m->vy = sp * sinf(dir);
        m->a0 = (float)rng_range(&r, 0, 2 * PI_F);
        m->omega = (float)rng_range(&r, -0.03, 0.03);
        color_far_from(&r, base, 0.9f, c1);
        color_far_from(&r, c1, 0.5f, c2);
        paint_random(&r, &m->p, c1, c2, 0, 0, m->rad, 1);
        m->tex_angle = atan2f(m->p.sn, m->p.cs);
    }
    if (sc->figure) {
        float c1[3], c2[3];
        mover *m = &sc->fig;
        m->rad = 0.5f * height * (float)rng_range(&r, 0.15, 0.22); /* torso length */
        m->x0 = (float)rng_range(&r, 0, width);
        m->y0 = height * 0.5f;
        m->vx = side * (float)rng_range(&r, 0.003, 0.008) * (rng_int(&r, 2) ? 1 : -1);
        figure_pose_angles(&r, sc->pose_a);
        figure_pose_angles(&r, sc->pose_b);
        sc->period = (float)rng_range(&r, 30, 90);
        color_far_from(&r, base, 0.9f, c1);
        color_far_from(&r, c1, 0.5f, c2);
        paint_random(&r, &m->p, c1, c2, 0, 0, m->rad * 0.5f, 1);
    }
    return sc;
}

static void box_of(const float *vis, int w, int h, float box[4], int *any)
{
    int x0 = w, y0 = h, x1 = -1, y1 = -1;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            if (vis[(size_t)y * w + x] < 0.5f) continue;
            if (x < x0) x0 = x;
            if (x > x1) x1 = x;
            if (y < y0) y0 = y;
            if (y > y1) y1 = y;
        }
    *any = x1 >= 0;
    if (*any)
        box[0] = (float)x0, box[1] = (float)y0, box[2] = (float)(x1 - x0 + 1),
        box[3] = (float)(y1 - y0 + 1);
}

int cs_synth_scene_render(cs_synth_scene *sc, int t, uint8_t *rgb, cs_synth_label *labels,
                          int max_labels)
{
    if (!sc || t < 0) return 0;
    size_t n = (size_t)sc->w * sc->h;
    int layers = sc->n_obj + sc->figure, fig = sc->n_obj; /* the figure's layer */
    memcpy(sc->rgb, sc->background, n * 3 * sizeof(float));
    memset(sc->cov, 0, n * (size_t)layers * sizeof(float));
    canvas cv = {sc->w, sc->h, sc->rgb};
    float j[CS_FIGURE_JOINTS][2];
    /* The figure walks behind the shapes, so shapes can hide its joints. */
    if (sc->figure) {
        const mover *m = &sc->fig;
        float ang[FIGURE_ANGLES], wgt = 0.5f - 0.5f * cosf(2 * PI_F * (float)t / sc->period);
        for (int i = 0; i < FIGURE_ANGLES; i++)
            ang[i] = sc->pose_a[i] + (sc->pose_b[i] - sc->pose_a[i]) * wgt;
        figure_pose_build(ang, j);
        float L = m->rad, reach = 2.2f * L;
        float cx = bounce(m->x0, m->vx, t, reach, sc->w - reach);
        for (int k = 0; k < CS_FIGURE_JOINTS; k++) {
            j[k][0] = fminf(fmaxf(j[k][0] * L + cx, 0), (float)sc->w);
            j[k][1] = fminf(fmaxf(j[k][1] * L + m->y0, 0), (float)sc->h);
        }
        geom g;
        paint p = m->p;
        p.ox = cx, p.oy = m->y0;
        geom_figure(&g, j, fmaxf(FIGURE_THICK * L, 1.2f), FIGURE_HEAD * L);
        draw(&cv, &g, &p, sc->cov + (size_t)fig * n);
    }
    for (int k = 0; k < sc->n_obj; k++) {
        const mover *m = &sc->obj[k];
        float cx = bounce(m->x0, m->vx, t, m->rad, sc->w - m->rad);
        float cy = bounce(m->y0, m->vy, t, m->rad, sc->h - m->rad);
        float a = m->a0 + m->omega * (float)t;
        geom g;
        paint p = m->p;
        p.ox = cx, p.oy = cy, p.cs = cosf(m->tex_angle + a), p.sn = sinf(m->tex_angle + a);
        geom_shape(&g, (cs_shape)m->cls, cx, cy, m->rad, a);
        draw(&cv, &g, &p, sc->cov + (size_t)k * n);
    }
    /* Visibility: a layer is hidden by the layers drawn after it (the figure first). */
    int order[17], no = 0;
    if (sc->figure) order[no++] = fig;
    for (int k = 0; k < sc->n_obj; k++) order[no++] = k;
    for (int a = 0; a < no; a++) {
        float *v = sc->vis + (size_t)order[a] * n;
        memcpy(v, sc->cov + (size_t)order[a] * n, n * sizeof(float));
        for (int b = a + 1; b < no; b++) {
            const float *c = sc->cov + (size_t)order[b] * n;
            for (size_t i = 0; i < n; i++) v[i] *= 1 - c[i];
        }
    }
    int nl = 0;
    for (int k = 0; k < layers && nl < max_labels; k++) {
        cs_synth_label *lab = &labels[nl];
        int any = 0;
        memset(lab, 0, sizeof *lab);
        lab->id = k;
        if (k == fig && sc->figure) {
            lab->cls = sc->n_classes;
            box_of(sc->cov + (size_t)k * n, sc->w, sc->h, lab->box, &any);
            if (!any) continue;
            lab->n_kp = CS_FIGURE_JOINTS;
            float x1 = lab->box[0] + lab->box[2], y1 = lab->box[1] + lab->box[3];
            for (int q = 0; q < CS_FIGURE_JOINTS; q++) {
                int px = (int)fminf(j[q][0], sc->w - 1.0f), py = (int)fminf(j[q][1], sc->h - 1.0f);
                lab->kp[q].x = j[q][0], lab->kp[q].y = j[q][1];
                lab->kp[q].v = sc->vis[(size_t)k * n + (size_t)py * sc->w + px] >= 0.5f ? 2 : 1;
                lab->box[0] = fminf(lab->box[0], floorf(j[q][0]));
                lab->box[1] = fminf(lab->box[1], floorf(j[q][1]));
                x1 = fmaxf(x1, fminf(floorf(j[q][0]) + 1, (float)sc->w));
                y1 = fmaxf(y1, fminf(floorf(j[q][1]) + 1, (float)sc->h));
            }
            lab->box[2] = x1 - lab->box[0], lab->box[3] = y1 - lab->box[1];
        } else {
            lab->cls = sc->obj[k].cls;
            box_of(sc->vis + (size_t)k * n, sc->w, sc->h, lab->box, &any);
            if (!any) continue;
        }
        nl++;
    }
    cs_rng r = cs_synth_rng_for(sc->seed ^ 0x5ca1ab1eull, (uint64_t)t);
    canvas_to_u8(&cv, &r, 0.02f, rgb);
    return nl;
}
