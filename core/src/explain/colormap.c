/* Colormaps and heatmap overlays (camstream/colormap.h).
 *
 * Jet is computed from its definition (three clamped triangles). Turbo, inferno and viridis are
 * continuous piecewise-linear functions on 33 uniform knots; the knot values were fitted by
 * least squares (endpoints pinned) to the published 256-entry maps, max error 2.3/255
 * (viridis), 3.5/255 (inferno) and 5.7/255 (turbo) per channel. */
#include "camstream/colormap.h"

#include <math.h>
#include <stddef.h>
#include <strings.h>

#define KNOTS 33

static const uint8_t turbo_knots[KNOTS][3] = {
    {48, 18, 59},   {57, 40, 112},  {64, 63, 160},   {68, 85, 198},  {71, 106, 227}, {71, 127, 246},
    {67, 147, 255}, {56, 167, 251}, {41, 187, 237},  {29, 205, 217}, {23, 220, 195}, {29, 232, 177},
    {48, 242, 154}, {76, 249, 127}, {107, 254, 100}, {138, 255, 76}, {163, 253, 59}, {184, 247, 52},
    {204, 237, 52}, {222, 224, 55}, {238, 208, 58},  {248, 192, 58}, {253, 173, 53}, {254, 151, 44},
    {251, 127, 33}, {245, 103, 23}, {236, 81, 14},   {224, 63, 9},   {209, 48, 5},   {192, 34, 2},
    {171, 22, 1},   {147, 12, 1},   {122, 4, 3},
};

static const uint8_t inferno_knots[KNOTS][3] = {
    {0, 0, 4},       {3, 2, 16},      {10, 7, 35},     {20, 11, 54},   {32, 12, 73},
    {46, 10, 90},    {60, 9, 101},    {73, 11, 107},   {86, 16, 110},  {99, 20, 111},
    {112, 25, 110},  {124, 30, 109},  {137, 34, 106},  {150, 39, 102}, {162, 43, 98},
    {175, 49, 92},   {187, 55, 85},   {198, 61, 77},   {209, 70, 68},  {219, 79, 59},
    {228, 89, 50},   {235, 101, 40},  {241, 114, 30},  {246, 127, 20}, {249, 141, 9},
    {251, 156, 5},   {252, 171, 15},  {251, 187, 32},  {249, 202, 51}, {245, 218, 74},
    {241, 233, 102}, {242, 246, 137}, {252, 255, 164},
};

static const uint8_t viridis_knots[KNOTS][3] = {
    {68, 1, 84},    {71, 12, 95},   {72, 24, 106},  {72, 34, 115},  {71, 44, 123},  {69, 54, 129},
    {66, 64, 134},  {63, 73, 137},  {59, 82, 139},  {55, 90, 141},  {51, 98, 141},  {48, 106, 142},
    {44, 114, 142}, {41, 122, 142}, {38, 129, 142}, {35, 137, 142}, {33, 144, 141}, {31, 152, 139},
    {30, 159, 136}, {33, 167, 133}, {39, 174, 128}, {49, 181, 123}, {62, 188, 116}, {76, 195, 108},
    {93, 201, 98},  {111, 207, 88}, {130, 212, 76}, {151, 216, 63}, {172, 220, 49}, {193, 223, 36},
    {214, 226, 25}, {235, 229, 25}, {253, 231, 37},
};

static const char *const names[CS_COLORMAP_COUNT] = {"jet", "turbo", "inferno", "viridis"};

const char *cs_colormap_name(cs_colormap c)
{
    return (unsigned)c < CS_COLORMAP_COUNT ? names[c] : NULL;
}

cs_colormap cs_colormap_from_name(const char *name)
{
    if (!name) return CS_COLORMAP_COUNT;
    for (int i = 0; i < CS_COLORMAP_COUNT; i++)
        if (strcasecmp(name, names[i]) == 0) return (cs_colormap)i;
    return CS_COLORMAP_COUNT;
}

static uint8_t to_u8(float x)
{
    if (!(x > 0.0f)) return 0;
    if (x >= 1.0f) return 255;
    return (uint8_t)(x * 255.0f + 0.5f);
}

static void knots_rgb(const uint8_t (*k)[3], float v, uint8_t rgb[3])
{
    float pos = v * (float)(KNOTS - 1);
    int i = (int)pos;
    if (i >= KNOTS - 1) i = KNOTS - 2;
    float f = pos - (float)i;
    for (int c = 0; c < 3; c++) {
        float x = (float)k[i][c] + f * (float)(k[i + 1][c] - k[i][c]);
        rgb[c] = (uint8_t)(x + 0.5f);
    }
}

void cs_colormap_rgb(cs_colormap c, float v, uint8_t rgb[3])
{
    if (isnan(v) || (unsigned)c >= CS_COLORMAP_COUNT) {
        rgb[0] = rgb[1] = rgb[2] = 0;
        return;
    }
    v = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
    switch (c) {
    case CS_COLORMAP_JET:
        /* Three triangles of width 1.5 centred at 3/4 (red), 1/2 (green), 1/4 (blue). */
        rgb[0] = to_u8(1.5f - fabsf(4.0f * v - 3.0f));
        rgb[1] = to_u8(1.5f - fabsf(4.0f * v - 2.0f));
        rgb[2] = to_u8(1.5f - fabsf(4.0f * v - 1.0f));
        break;
    case CS_COLORMAP_TURBO:
        knots_rgb(turbo_knots, v, rgb);
        break;
    case CS_COLORMAP_INFERNO:
        knots_rgb(inferno_knots, v, rgb);
        break;
    case CS_COLORMAP_VIRIDIS:
        knots_rgb(viridis_knots, v, rgb);
        break;
    default:
        rgb[0] = rgb[1] = rgb[2] = 0;
    }
}

void cs_colormap_apply(cs_colormap c, const float *map, int64_t n, uint8_t *rgb)
{
    for (int64_t i = 0; i < n; i++) cs_colormap_rgb(c, map[i], rgb + 3 * i);
}

void cs_colormap_overlay(cs_colormap c, const float *map, const uint8_t *image, int64_t n,
                         float alpha, float threshold, uint8_t *out)
{
    /* Fixed point, 8 fractional bits: exact and identical on every platform. */
    float a = isnan(alpha) ? 0.0f : alpha < 0.0f ? 0.0f : alpha > 1.0f ? 1.0f : alpha;
    unsigned wa = (unsigned)(a * 256.0f + 0.5f), wi = 256u - wa;
    for (int64_t i = 0; i < n; i++) {
        const uint8_t *px = image + 3 * i;
        uint8_t *o = out + 3 * i;
        float v = map[i];
        if (isnan(v) || v < threshold) {
            if (o != px) o[0] = px[0], o[1] = px[1], o[2] = px[2];
            continue;
        }
        uint8_t col[3];
        cs_colormap_rgb(c, v, col);
        for (int k = 0; k < 3; k++) o[k] = (uint8_t)((px[k] * wi + col[k] * wa + 128u) >> 8);
    }
}
