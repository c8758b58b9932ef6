/* Colormaps (camstream/colormap.h): names, endpoints, clamping, monotone luminance of the
 * perceptual maps, and the overlay blend's arithmetic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "camstream/colormap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void assert_rgb_near(const uint8_t got[3], int r, int g, int b, int tol)
{
    int want[3] = {r, g, b};
    for (int k = 0; k < 3; k++)
        if (abs((int)got[k] - want[k]) > tol)
            fail_msg("got (%d,%d,%d), want (%d,%d,%d) +- %d", got[0], got[1], got[2], r, g, b, tol);
}

static void names_round_trip(void **state)
{
    (void)state;
    for (int c = 0; c < CS_COLORMAP_COUNT; c++) {
        const char *n = cs_colormap_name((cs_colormap)c);
        assert_non_null(n);
        assert_int_equal(cs_colormap_from_name(n), c);
    }
    assert_string_equal(cs_colormap_name(CS_COLORMAP_JET), "jet");
    assert_string_equal(cs_colormap_name(CS_COLORMAP_TURBO), "turbo");
    assert_string_equal(cs_colormap_name(CS_COLORMAP_INFERNO), "inferno");
    assert_string_equal(cs_colormap_name(CS_COLORMAP_VIRIDIS), "viridis");
    assert_int_equal(cs_colormap_from_name("Viridis"), CS_COLORMAP_VIRIDIS);
    assert_int_equal(cs_colormap_from_name("TURBO"), CS_COLORMAP_TURBO);
    assert_int_equal(cs_colormap_from_name("hot"), CS_COLORMAP_COUNT);
    assert_int_equal(cs_colormap_from_name(""), CS_COLORMAP_COUNT);
    assert_int_equal(cs_colormap_from_name(NULL), CS_COLORMAP_COUNT);
    assert_null(cs_colormap_name(CS_COLORMAP_COUNT));
}

static void endpoints(void **state)
{
    (void)state;
    uint8_t rgb[3];
    /* Published endpoints of the perceptual maps. */
    cs_colormap_rgb(CS_COLORMAP_INFERNO, 0.0f, rgb);
    assert_rgb_near(rgb, 0, 0, 4, 2);
    cs_colormap_rgb(CS_COLORMAP_INFERNO, 1.0f, rgb);
    assert_rgb_near(rgb, 252, 255, 164, 2);
    cs_colormap_rgb(CS_COLORMAP_VIRIDIS, 0.0f, rgb);
    assert_rgb_near(rgb, 68, 1, 84, 2);
    cs_colormap_rgb(CS_COLORMAP_VIRIDIS, 1.0f, rgb);
    assert_rgb_near(rgb, 253, 231, 37, 2);
    cs_colormap_rgb(CS_COLORMAP_VIRIDIS, 0.5f, rgb); /* the teal middle */
    assert_rgb_near(rgb, 33, 145, 140, 4);
    cs_colormap_rgb(CS_COLORMAP_TURBO, 0.0f, rgb);
    assert_rgb_near(rgb, 48, 18, 59, 2);
    cs_colormap_rgb(CS_COLORMAP_TURBO, 1.0f, rgb);
    assert_rgb_near(rgb, 122, 4, 3, 2);
    /* Jet: dark blue, blue, green-ish middle, dark red. */
    cs_colormap_rgb(CS_COLORMAP_JET, 0.0f, rgb);
    assert_rgb_near(rgb, 0, 0, 128, 1);
    cs_colormap_rgb(CS_COLORMAP_JET, 0.125f, rgb);
    assert_rgb_near(rgb, 0, 0, 255, 1);
    cs_colormap_rgb(CS_COLORMAP_JET, 0.5f, rgb);
    assert_rgb_near(rgb, 128, 255, 128, 1);
    cs_colormap_rgb(CS_COLORMAP_JET, 1.0f, rgb);
    assert_rgb_near(rgb, 128, 0, 0, 1);
}

static void clamping_and_nan(void **state)
{
    (void)state;
    for (int c = 0; c < CS_COLORMAP_COUNT; c++) {
        uint8_t lo[3], lo2[3], hi[3], hi2[3], nan_rgb[3];
        cs_colormap_rgb((cs_colormap)c, 0.0f, lo);
        cs_colormap_rgb((cs_colormap)c, -3.0f, lo2);
        cs_colormap_rgb((cs_colormap)c, 1.0f, hi);
        cs_colormap_rgb((cs_colormap)c, 7.5f, hi2);
        cs_colormap_rgb((cs_colormap)c, INFINITY, hi2);
        assert_memory_equal(lo, lo2, 3);
        assert_memory_equal(hi, hi2, 3);
        cs_colormap_rgb((cs_colormap)c, NAN, nan_rgb);
        assert_rgb_near(nan_rgb, 0, 0, 0, 0);
    }
}

/* Relative luminance in linear light (sRGB decoding, Rec. 709 weights). */
static double luminance(const uint8_t rgb[3])
{
    double y = 0, w[3] = {0.2126, 0.7152, 0.0722};
    for (int k = 0; k < 3; k++) {
        double c = rgb[k] / 255.0;
        c = c <= 0.04045 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4);
        y += w[k] * c;
    }
    return y;
}

static void monotone_luminance(void **state)
{
    (void)state;
    const cs_colormap maps[] = {CS_COLORMAP_INFERNO, CS_COLORMAP_VIRIDIS};
    for (size_t m = 0; m < sizeof maps / sizeof maps[0]; m++) {
        uint8_t rgb[3];
        cs_colormap_rgb(maps[m], 0.0f, rgb);
        double prev = luminance(rgb), coarse_prev = prev;
        for (int i = 1; i <= 1000; i++) {
            cs_colormap_rgb(maps[m], (float)i / 1000.0f, rgb);
            double y = luminance(rgb);
            /* Output rounding to 8 bits can let a falling channel tick down one code before a
             * rising one ticks up: allow that much, never more. */
            if (y < prev - 2.5e-3)
                fail_msg("%s: luminance falls at %.3f (%.5f -> %.5f)", cs_colormap_name(maps[m]),
                         i / 1000.0, prev, y);
            prev = y;
            if (i % 10 == 0) { /* strictly rising over every 1/100 of the range */
                if (!(y > coarse_prev))
                    fail_msg("%s: luminance not rising up to %.2f", cs_colormap_name(maps[m]),
                             i / 1000.0);
                coarse_prev = y;
            }
        }
    }
}

static void apply_matches_rgb(void **state)
{
    (void)state;
    float map[5] = {0.0f, 0.25f, 0.5f, 0.9f, 1.0f};
    uint8_t out[15], one[3];
    for (int c = 0; c < CS_COLORMAP_COUNT; c++) {
        cs_colormap_apply((cs_colormap)c, map, 5, out);
        for (int i = 0; i < 5; i++) {
            cs_colormap_rgb((cs_colormap)c, map[i], one);
            assert_memory_equal(out + 3 * i, one, 3);
        }
    }
}

static void blend_arithmetic(void **state)
{
    (void)state;
    enum { N = 6 };
    const float map[N] = {0.0f, 0.1f, 0.3f, 0.8f, 1.0f, NAN};
    uint8_t image[3 * N], out[3 * N], col[3];
    for (int i = 0; i < 3 * N; i++) image[i] = (uint8_t)(17 + 41 * i);
    const cs_colormap c = CS_COLORMAP_TURBO;

    /* alpha 0: the image everywhere. */
    cs_colormap_overlay(c, map, image, N, 0.0f, 0.0f, out);
    assert_memory_equal(out, image, sizeof image);

    /* alpha 1, threshold 0: the colors, the image under NaN. */
    cs_colormap_overlay(c, map, image, N, 1.0f, 0.0f, out);
    for (int i = 0; i < N - 1; i++) {
        cs_colormap_rgb(c, map[i], col);
        assert_memory_equal(out + 3 * i, col, 3);
    }
    assert_memory_equal(out + 3 * (N - 1), image + 3 * (N - 1), 3);

    /* alpha 0.5: the rounded mean; below the threshold 0.25 the image shows through. */
    cs_colormap_overlay(c, map, image, N, 0.5f, 0.25f, out);
    for (int i = 0; i < N; i++) {
        int below = isnan(map[i]) || map[i] < 0.25f;
        cs_colormap_rgb(c, map[i], col);
        for (int k = 0; k < 3; k++) {
            int img = image[3 * i + k];
            int want = below ? img : (img + col[k] + 1) / 2;
            assert_int_equal(out[3 * i + k], want);
        }
    }

    /* alpha 0.25 against the exact formula (within rounding), and in place. */
    uint8_t inplace[3 * N];
    memcpy(inplace, image, sizeof image);
    cs_colormap_overlay(c, map, inplace, N, 0.25f, 0.0f, inplace);
    for (int i = 0; i < N - 1; i++) {
        cs_colormap_rgb(c, map[i], col);
        for (int k = 0; k < 3; k++) {
            double want = 0.75 * image[3 * i + k] + 0.25 * col[k];
            if (fabs(inplace[3 * i + k] - want) > 0.51)
                fail_msg("pixel %d channel %d: %d, want %.2f", i, k, inplace[3 * i + k], want);
        }
    }
    assert_memory_equal(inplace + 3 * (N - 1), image + 3 * (N - 1), 3);

    /* alpha beyond [0,1] is clamped. */
    uint8_t out1[3 * N];
    cs_colormap_overlay(c, map, image, N, 1.0f, 0.0f, out1);
    cs_colormap_overlay(c, map, image, N, 3.0f, 0.0f, out);
    assert_memory_equal(out, out1, sizeof out);
    cs_colormap_overlay(c, map, image, N, -1.0f, 0.0f, out);
    assert_memory_equal(out, image, sizeof out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_round_trip),  cmocka_unit_test(endpoints),
        cmocka_unit_test(clamping_and_nan),  cmocka_unit_test(monotone_luminance),
        cmocka_unit_test(apply_matches_rgb), cmocka_unit_test(blend_arithmetic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
