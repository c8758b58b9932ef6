/* camstream colormaps: [0,1] values to RGB8, and heatmap overlays on RGB8 images.
 *
 *     uint8_t rgb[3];
 *     cs_colormap_rgb(CS_COLORMAP_TURBO, 0.8f, rgb);
 *     // a [0,1] map already resized to the image (w×h), blended at 50% where map ≥ 0.2:
 *     cs_colormap_overlay(CS_COLORMAP_JET, map, image, w * h, 0.5f, 0.2f, out);
 *
 * Values are clamped to [0,1]; NaN counts as "no value" (black in a heatmap, the image in an
 * overlay). Jet is the classic piecewise-linear blue-cyan-yellow-red ramp; turbo, inferno and
 * viridis are continuous piecewise-linear fits (33 knots) to the published maps, within about
 * 2% of them. Inferno and viridis have monotone luminance; jet and turbo do not.
 * Pure functions, no allocation, safe from any thread.
 */
#ifndef CAMSTREAM_COLORMAP_H
#define CAMSTREAM_COLORMAP_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    CS_COLORMAP_JET,
    CS_COLORMAP_TURBO,
    CS_COLORMAP_INFERNO,
    CS_COLORMAP_VIRIDIS,
    CS_COLORMAP_COUNT
} cs_colormap;

/* "jet" <-> CS_COLORMAP_JET ...; cs_colormap_from_name is case-insensitive and returns
 * CS_COLORMAP_COUNT for an unknown name; cs_colormap_name returns NULL for an invalid value. */
const char *cs_colormap_name(cs_colormap c);
cs_colormap cs_colormap_from_name(const char *name);

/* The color of v (clamped to [0,1]; NaN gives black). */
void cs_colormap_rgb(cs_colormap c, float v, uint8_t rgb[3]);

/* n values to n RGB8 pixels (interleaved). */
void cs_colormap_apply(cs_colormap c, const float *map, int64_t n, uint8_t *rgb);

/* Blends the colormapped map onto an RGB8 image of n pixels:
 *     out = (1 − alpha)·image + alpha·color(v)   where v ≥ threshold,
 *     out = image                                 where v < threshold or v is NaN,
 * rounded to nearest. alpha is clamped to [0,1]; a threshold of 0 colors every pixel of a
 * [0,1] map.
 * out may be image (in place). */
void cs_colormap_overlay(cs_colormap c, const float *map, const uint8_t *image, int64_t n,
                         float alpha, float threshold, uint8_t *out);

#ifdef __cplusplus
}
#endif
#endif
