/* Augmented Grad-CAM super-resolution (REFERENCE §3).
 *
 * Given L low-resolution maps g_ℓ (h×w each, e.g. Grad-CAMs of L augmented copies W_ℓ x of
 * one image) solve
 *
 *     h* = argmin_h  Σ_ℓ ‖D W_ℓ h − g_ℓ‖²  +  λ Σ (|∂x h| + |∂y h|)  +  μ ‖h‖²
 *
 * for the high-resolution map h (H×W, the input resolution), where
 *
 *   D    the AREA-AVERAGE downsampling H×W -> h×w: low pixel (i,j) is the mean of the
 *        high-resolution area [i·H/h, (i+1)·H/h) × [j·W/w, (j+1)·W/w), pixels weighted by
 *        their overlap (exact blocks when H/h and W/w are integers, e.g. 16×16 for
 *        224 -> 14). Separable; Dᵀ spreads each low value back with the same weights.
 *   W_ℓ  an affine warp of the H×W image (cs_warp below), bilinear sampling, zero outside;
 *        W_ℓᵀ is its exact adjoint (bilinear scatter with the same weights).
 *   ∂x,∂y forward differences (anisotropic TV, no term across the last row/column).
 *
 * Scale: the maps are divided by s = max|g| before solving and the result multiplied back,
 * i.e. the objective is solved with λ·s and μ on the raw maps; the result is proportional to
 * the maps (Grad-CAM's scale is arbitrary) and λ, μ mean the same for every model.
 * Like the data term, which sums L maps, λ and μ should grow with L (the reference code uses
 * λ = 0.002·L, μ = 0.0001·L: REFERENCE §3's 0.2 and 0.01 at L = 100).
 *
 * Solver: subgradient descent from h0 = bilinear upsampling of g_0 (cs_map_resize), with
 * Adam's per-pixel step normalization (β1 = 0.9, β2 = 0.999, ε = 1e-4; the reference code
 * uses Adam too) and the diminishing step α_k = 0.01 / sqrt(1 + k/10) (in units of the
 * peak-1 map). The TV subgradient uses sign(0) = 0. It returns the iterate with the lowest
 * objective seen (subgradient steps do not decrease it monotonically). Plain steps
 * 1/Lipschitz(smooth part) do not work here: the data term's curvature per pixel (L·hw/HW)
 * is tiny next to the TV subgradient (up to 4λ), so such steps oscillate by whole map
 * amplitudes. The result is not clamped or normalized.
 * Cost per iteration: L warps, L adjoint warps and L area averages at H×W (single thread);
 * about 0.75 s for L = 32, 112×112, 200 iterations, and about 9 s for the reference setting
 * (L = 100, 224×224, 200 iterations) on one core.
 *
 * Nothing here prints or keeps state; only cs_superres_solve without scratch allocates.
 */
#ifndef CS_EXPLAIN_SUPERRES_H
#define CS_EXPLAIN_SUPERRES_H

#include "camstream/core.h"

#include <stdint.h>

/* One augmentation. A point q of the source image moves to
 *     c + R(angle)·(q − c) + (tx, ty),   R(a) = [[cos a, −sin a], [sin a, cos a]],
 * in pixel-centre coordinates (x right, y down, pixel (i,j) at x = j, y = i), with
 * c = ((W−1)/2, (H−1)/2) the image centre. So the warped image is
 *     (W x)(p) = x(c + R(−angle)·(p − c − t))   sampled bilinearly, 0 outside.
 * The identity is {0, 0, 0}. Shifts are in high-resolution (input) pixels. */
typedef struct cs_warp {
    float angle; /* radians */
    float tx, ty;
} cs_warp;

/* dst = W src, for one H×W plane (call once per channel to warp a C×H×W image).
 * dst must not alias src. */
void cs_warp_apply(const cs_warp *wp, const float *src, int H, int W, float *dst);
/* dst += Wᵀ src (the adjoint: bilinear scatter). dst must not alias src. */
void cs_warp_adjoint_add(const cs_warp *wp, const float *src, int H, int W, float *dst);

/* low = D high (area average H×W -> h×w; needs 1 <= h <= H, 1 <= w <= W). */
void cs_superres_downsample(const float *high, int H, int W, float *low, int h, int w);
/* high = Dᵀ low (overwrites high). */
void cs_superres_downsample_adjoint(const float *low, int h, int w, float *high, int H, int W);

/* L warps drawn from `seed` (xorshift32; 0 is replaced by a fixed nonzero seed): warps[0] is
 * the identity (the un-augmented copy, REFERENCE §3), the others have angle ~ U(−max_rotation,
 * max_rotation) and tx, ty ~ U(−max_shift, max_shift). Deterministic for a given seed. */
void cs_superres_draw_warps(uint32_t seed, int L, float max_rotation, float max_shift,
                            cs_warp *warps);

/* Floats of scratch cs_superres_solve needs: 5·H·W + h·w. */
int64_t cs_superres_scratch_floats(int h, int w, int H, int W);

/* Solves the problem above.
 *   low      L maps, h×w each, contiguous (g_0 first: it seeds the initial guess)
 *   warps    L warps, warps[ℓ] the augmentation that produced low[ℓ]
 *   high     output, H×W
 *   scratch  cs_superres_scratch_floats(h, w, H, W) floats, or NULL to let the call
 *            allocate (and free) it itself
 * Errors (CS_ERR_INVALID, message names the argument): L < 1, h > H or w > W, sizes < 1,
 * lambda < 0, mu < 0, iterations < 0, NULL pointers. CS_ERR_NOMEM only when scratch is NULL.
 * With iterations = 0 the result is the bilinear upsampling of g_0. */
cs_status cs_superres_solve(const float *low, const cs_warp *warps, int L, int h, int w, int H,
                            int W, float lambda, float mu, int iterations, float *high,
                            float *scratch, cs_error *err);

#endif
