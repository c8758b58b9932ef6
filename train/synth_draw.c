/* Rasterizer of camstream synth: point tests per geometry, 4×4 supersampled coverage. */
#include "synth_draw.h"

#include <math.h>
#include <string.h>

#define SS 4
#define PI_F 3.14159265358979f

static float clampf(float v, float lo, float hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* ---- geometry --------------------------------------------------------------------------- */

static void set_bbox(geom *g, float x0, float y0, float x1, float y1)
{
    g->bbox[0] = floorf(x0) - 1, g->bbox[1] = floorf(y0) - 1;
    g->bbox[2] = ceilf(x1) + 1, g->bbox[3] = ceilf(y1) + 1;
}

void geom_shape(geom *g, cs_shape s, float cx, float cy, float r, float angle)
{
    memset(g, 0, sizeof *g);
    g->kind = GEOM_SHAPE, g->shape = s, g->cx = cx, g->cy = cy, g->r = r, g->angle = angle;
    g->cs = cosf(angle), g->sn = sinf(angle);
    set_bbox(g, cx - r, cy - r, cx + r, cy + r);
}

void geom_ellipse(geom *g, float cx, float cy, float a, float b, float angle)
{
    memset(g, 0, sizeof *g);
    g->kind = GEOM_ELLIPSE, g->cx = cx, g->cy = cy, g->a = a, g->b = b, g->angle = angle;
    g->cs = cosf(angle), g->sn = sinf(angle);
    float m = a > b ? a : b;
    set_bbox(g, cx - m, cy - m, cx + m, cy + m);
}

static void capsules_bbox(geom *g)
{
    float x0 = 1e30f, y0 = 1e30f, x1 = -1e30f, y1 = -1e30f;
    for (int i = 0; i < g->n_seg; i++)
        for (int e = 0; e < 2; e++) {
            float x = g->seg[i][2 * e], y = g->seg[i][2 * e + 1];
            x0 = fminf(x0, x - g->thick), x1 = fmaxf(x1, x + g->thick);
            y0 = fminf(y0, y - g->thick), y1 = fmaxf(y1, y + g->thick);
        }
    if (g->head[2] > 0) {
        x0 = fminf(x0, g->head[0] - g->head[2]), x1 = fmaxf(x1, g->head[0] + g->head[2]);
        y0 = fminf(y0, g->head[1] - g->head[2]), y1 = fmaxf(y1, g->head[1] + g->head[2]);
    }
    set_bbox(g, x0, y0, x1, y1);
}

void geom_line(geom *g, float x0, float y0, float x1, float y1, float half_width)
{
    memset(g, 0, sizeof *g);
    g->kind = GEOM_CAPSULES, g->n_seg = 1, g->thick = half_width;
    g->seg[0][0] = x0, g->seg[0][1] = y0, g->seg[0][2] = x1, g->seg[0][3] = y1;
    capsules_bbox(g);
}

void geom_figure(geom *g, const float j[CS_FIGURE_JOINTS][2], float half_width, float head_r)
{
    memset(g, 0, sizeof *g);
    g->kind = GEOM_CAPSULES, g->thick = half_width;
    for (int e = 0; e < CS_FIGURE_EDGES; e++) {
        const int *p = cs_figure_skeleton[e];
        g->seg[e][0] = j[p[0]][0], g->seg[e][1] = j[p[0]][1];
        g->seg[e][2] = j[p[1]][0], g->seg[e][3] = j[p[1]][1];
    }
    g->n_seg = CS_FIGURE_EDGES;
    g->head[0] = j[0][0], g->head[1] = j[0][1], g->head[2] = head_r;
    capsules_bbox(g);
}

/* Point in polygon (even-odd). */
static int in_poly(const float (*v)[2], int n, float u, float w)
{
    int in = 0;
    for (int i = 0, k = n - 1; i < n; k = i++)
        if ((v[i][1] > w) != (v[k][1] > w) &&
            u < (v[k][0] - v[i][0]) * (w - v[i][1]) / (v[k][1] - v[i][1]) + v[i][0])
            in = !in;
    return in;
}

/* The unit shapes (radius 1 around the origin, y down). */
static int unit_inside(cs_shape s, float u, float w)
{
    static const float tri[3][2] = {{0.0f, -1.0f}, {0.8660254f, 0.5f}, {-0.8660254f, 0.5f}};
    static const float star[10][2] = {{0.0000000f, -1.0000000f},  {0.2468698f, -0.3397871f},
                                      {0.9510565f, -0.3090170f},  {0.3994437f, 0.1297871f},
                                      {0.5877853f, 0.8090170f},   {0.0000000f, 0.4200000f},
                                      {-0.5877853f, 0.8090170f},  {-0.3994437f, 0.1297871f},
                                      {-0.9510565f, -0.3090170f}, {-0.2468698f, -0.3397871f}};
    float r2 = u * u + w * w;
    switch (s) {
    case CS_SHAPE_CIRCLE:
        return r2 <= 1.0f;
    case CS_SHAPE_SQUARE:
        return fabsf(u) <= 0.72f && fabsf(w) <= 0.72f;
    case CS_SHAPE_TRIANGLE:
        return in_poly(tri, 3, u, w);
    case CS_SHAPE_STAR:
        return in_poly(star, 10, u, w);
    case CS_SHAPE_RING:
        return r2 <= 1.0f && r2 >= 0.3f;
    case CS_SHAPE_CROSS:
        return (fabsf(u) <= 0.3f && fabsf(w) <= 0.95f) || (fabsf(w) <= 0.3f && fabsf(u) <= 0.95f);
    default:
        return 0;
    }
}

static float seg_dist2(const float *s, float x, float y)
{
    float dx = s[2] - s[0], dy = s[3] - s[1], px = x - s[0], py = y - s[1];
    float l2 = dx * dx + dy * dy, t = l2 > 0 ? clampf((px * dx + py * dy) / l2, 0, 1) : 0;
    float ex = px - t * dx, ey = py - t * dy;
    return ex * ex + ey * ey;
}

int geom_inside(const geom *g, float x, float y)
{
    switch (g->kind) {
    case GEOM_SHAPE:
    case GEOM_ELLIPSE: {
        float c = g->cs, s = g->sn, dx = x - g->cx, dy = y - g->cy;
        float u = c * dx + s * dy, w = -s * dx + c * dy;
        if (g->kind == GEOM_ELLIPSE) return (u * u) / (g->a * g->a) + (w * w) / (g->b * g->b) <= 1;
        return unit_inside(g->shape, u / g->r, w / g->r);
    }
    case GEOM_CAPSULES: {
        float t2 = g->thick * g->thick;
        if (g->head[2] > 0) {
            float hx = x - g->head[0], hy = y - g->head[1];
            if (hx * hx + hy * hy <= g->head[2] * g->head[2]) return 1;
        }
        for (int i = 0; i < g->n_seg; i++)
            if (seg_dist2(g->seg[i], x, y) <= t2) return 1;
        return 0;
    }
    default:
        return 0;
    }
}

/* ---- paint ------------------------------------------------------------------------------ */

static void paint_at(const paint *p, float x, float y, float out[3])
{
    float dx = x - p->ox, dy = y - p->oy;
    float u = (p->cs * dx + p->sn * dy) / p->period, w = (-p->sn * dx + p->cs * dy) / p->period;
    int second = 0;
    switch (p->tex) {
    case TEX_STRIPES:
        second = (u - floorf(u)) < 0.5f;
        break;
    case TEX_CHECKER:
        second = (((int)floorf(u) + (int)floorf(w)) & 1) != 0;
        break;
    case TEX_DOTS: {
        float fu = u - floorf(u) - 0.5f, fw = w - floorf(w) - 0.5f;
        second = fu * fu + fw * fw < 0.09f;
        break;
    }
    default:
        break;
    }
    const float *c = second ? p->c2 : p->c1;
    out[0] = c[0], out[1] = c[1], out[2] = c[2];
}

void draw(canvas *cv, const geom *g, const paint *p, float *alpha)
{
    int x0 = (int)fmaxf(g->bbox[0], 0), y0 = (int)fmaxf(g->bbox[1], 0);
    int x1 = (int)fminf(g->bbox[2], (float)cv->w), y1 = (int)fminf(g->bbox[3], (float)cv->h);
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) {
            float acc[3] = {0, 0, 0}, col[3];
            int n = 0;
            /* Pixels whose corners and centre agree are taken as wholly outside (skipped) or,
             * for a flat colour, wholly inside; only edge pixels are supersampled. */
            int k = geom_inside(g, (float)x, (float)y) + geom_inside(g, x + 1.0f, (float)y) +
                    geom_inside(g, (float)x, y + 1.0f) + geom_inside(g, x + 1.0f, y + 1.0f) +
                    geom_inside(g, x + 0.5f, y + 0.5f);
            if (k == 0) continue;
            if (k == 5 && (!p || p->tex == TEX_SOLID)) {
                n = SS * SS;
                if (p)
                    for (int c = 0; c < 3; c++) acc[c] = p->c1[c] * (float)n;
            }
            for (int sy = 0; sy < SS && n < SS * SS; sy++)
                for (int sx = 0; sx < SS; sx++) {
                    float px = (float)x + ((float)sx + 0.5f) / SS;
                    float py = (float)y + ((float)sy + 0.5f) / SS;
                    if (!geom_inside(g, px, py)) continue;
                    n++;
                    if (!p) continue;
                    paint_at(p, px, py, col);
                    acc[0] += col[0], acc[1] += col[1], acc[2] += col[2];
                }
            if (!n) continue;
            float cov = (float)n / (SS * SS);
            if (p) {
                float a = cov * p->opacity, *d = cv->rgb + ((size_t)y * cv->w + x) * 3;
                for (int c = 0; c < 3; c++) d[c] = d[c] * (1 - a) + (acc[c] / (float)n) * a;
            }
            if (alpha) {
                float *al = alpha + (size_t)y * cv->w + x;
                if (cov > *al) *al = cov;
            }
        }
}

void paint_random(cs_rng *r, paint *p, const float c1[3], const float c2[3], float cx, float cy,
                  float scale, int textured)
{
    memset(p, 0, sizeof *p);
    p->tex = textured ? (texture)rng_int(r, TEX_COUNT) : TEX_SOLID;
    memcpy(p->c1, c1, sizeof p->c1);
    memcpy(p->c2, c2, sizeof p->c2);
    float a = (float)rng_range(r, 0, PI_F);
    p->cs = cosf(a), p->sn = sinf(a), p->ox = cx, p->oy = cy;
    p->period = scale * (float)rng_range(r, 0.25, 0.5);
    if (p->period < 3) p->period = 3;
    p->opacity = 1;
}

/* ---- background ------------------------------------------------------------------------- */

static void rand_color(cs_rng *r, float out[3])
{
    for (int c = 0; c < 3; c++) out[c] = (float)cs_rng_uniform(r);
}

void color_far_from(cs_rng *r, const float avoid[3], float dist, float out[3])
{
    for (int tries = 0; tries < 32; tries++) {
        rand_color(r, out);
        float d = fabsf(out[0] - avoid[0]) + fabsf(out[1] - avoid[1]) + fabsf(out[2] - avoid[2]);
        if (d >= dist) return;
    }
    for (int c = 0; c < 3; c++) out[c] = avoid[c] < 0.5f ? 0.95f : 0.05f; /* always far */
}

static void near_color(cs_rng *r, const float base[3], float amp, float out[3])
{
    for (int c = 0; c < 3; c++) out[c] = clampf(base[c] + (float)rng_range(r, -amp, amp), 0, 1);
}

void draw_background(canvas *cv, cs_rng *r, int clutter, float base[3])
{
    float c0[3], c1[3];
    rand_color(r, c0);
    near_color(r, c0, clutter ? 0.25f : 0.0f, c1);
    float a = (float)rng_range(r, 0, 2 * PI_F), gx = cosf(a), gy = sinf(a);
    float span = (float)(fabsf(gx) * cv->w + fabsf(gy) * cv->h) + 1;
    float ox = gx < 0 ? (float)cv->w : 0, oy = gy < 0 ? (float)cv->h : 0;
    for (int y = 0; y < cv->h; y++)
        for (int x = 0; x < cv->w; x++) {
            float t = ((x - ox) * gx + (y - oy) * gy) / span;
            float *d = cv->rgb + ((size_t)y * cv->w + x) * 3;
            for (int c = 0; c < 3; c++) d[c] = c0[c] + (c1[c] - c0[c]) * t;
        }
    for (int c = 0; c < 3; c++) base[c] = 0.5f * (c0[c] + c1[c]);
    if (!clutter) return;
    float side = (float)(cv->w > cv->h ? cv->w : cv->h);
    int n_blobs = 3 + rng_int(r, 6), n_lines = 1 + rng_int(r, 4);
    for (int i = 0; i < n_blobs; i++) {
        geom g;
        paint p;
        float col[3], col2[3];
        near_color(r, base, 0.2f, col);
        near_color(r, col, 0.1f, col2);
        float cx = (float)rng_range(r, 0, cv->w), cy = (float)rng_range(r, 0, cv->h);
        geom_ellipse(&g, cx, cy, side * (float)rng_range(r, 0.05, 0.3),
                     side * (float)rng_range(r, 0.05, 0.2), (float)rng_range(r, 0, PI_F));
        paint_random(r, &p, col, col2, cx, cy, side * 0.2f, rng_int(r, 2));
        p.opacity = (float)rng_range(r, 0.3, 0.8);
        draw(cv, &g, &p, NULL);
    }
    for (int i = 0; i < n_lines; i++) {
        geom g;
        paint p;
        float col[3];
        near_color(r, base, 0.2f, col);
        geom_line(&g, (float)rng_range(r, 0, cv->w), (float)rng_range(r, 0, cv->h),
                  (float)rng_range(r, 0, cv->w), (float)rng_range(r, 0, cv->h),
                  side * (float)rng_range(r, 0.005, 0.02) + 0.3f);
        paint_random(r, &p, col, col, 0, 0, side, 0);
        p.opacity = (float)rng_range(r, 0.4, 0.9);
        draw(cv, &g, &p, NULL);
    }
}

void canvas_to_u8(const canvas *cv, cs_rng *r, float a, uint8_t *rgb)
{
    size_t n = (size_t)cv->w * cv->h * 3;
    for (size_t i = 0; i < n; i++) {
        float v = cv->rgb[i];
        if (a > 0) v += a * (float)(2 * cs_rng_uniform(r) - 1);
        rgb[i] = (uint8_t)lrintf(clampf(v, 0, 1) * 255.0f);
    }
}
