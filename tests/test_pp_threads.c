/* Preprocessing on several threads (cs_pp_set_threads): the output is bit-identical to the
 * single-thread path for every pixel format, resize mode, channel count and normalization
 * kind, for shrinking and enlarging, padded strides, and thread counts that do and do not
 * divide the rows; changing the thread count between frames keeps it so. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "camstream/formats.h"
#include "camstream/preprocess.h"

#include <stdlib.h>
#include <string.h>

static uint32_t rng = 12345;
static uint8_t rnd8(void)
{
    rng = rng * 1664525u + 1013904223u;
    return (uint8_t)(rng >> 24);
}

/* A random frame with padded strides; buf owns all planes. */
static cs_frame make_frame(cs_pixfmt fmt, int w, int h, uint8_t **buf)
{
    cs_frame f = {.format = fmt, .width = w, .height = h, .matrix = CS_YUV_BT709};
    int bpp = fmt == CS_PIX_RGB || fmt == CS_PIX_BGR                            ? 3
              : fmt == CS_PIX_GRAY8 || fmt == CS_PIX_I420 || fmt == CS_PIX_NV12 ? 1
                                                                                : 4;
    int cw = (w + 1) / 2, ch = (h + 1) / 2;
    f.stride[0] = w * bpp + 7;
    size_t total = (size_t)f.stride[0] * h;
    if (fmt == CS_PIX_I420) {
        f.stride[1] = f.stride[2] = cw + 3;
        total += 2 * (size_t)f.stride[1] * ch;
    } else if (fmt == CS_PIX_NV12) {
        f.stride[1] = 2 * cw + 5;
        total += (size_t)f.stride[1] * ch;
    }
    *buf = malloc(total);
    assert_non_null(*buf);
    for (size_t i = 0; i < total; i++) (*buf)[i] = rnd8();
    f.data[0] = *buf;
    if (fmt == CS_PIX_I420) {
        f.data[1] = *buf + (size_t)f.stride[0] * h;
        f.data[2] = f.data[1] + (size_t)f.stride[1] * ch;
    } else if (fmt == CS_PIX_NV12) {
        f.data[1] = *buf + (size_t)f.stride[0] * h;
    }
    return f;
}

/* The frame through a context on 1 thread and on each of several thread counts: equal bytes. */
static void check_same(const cs_pp_opts *o, const cs_statistics *st, int C, int H, int W,
                       const cs_frame *f)
{
    cs_error err = {0};
    size_t n = (size_t)C * H * W;
    float *ref = malloc(n * sizeof(float)), *got = malloc(n * sizeof(float));
    assert_non_null(ref);
    assert_non_null(got);
    cs_pp *pp = cs_pp_new(o, st, C, H, W, &err);
    if (!pp) fail_msg("%s", err.msg);
    assert_int_equal(cs_pp_threads(pp), 1);
    assert_int_equal(cs_pp_run(pp, f, ref, NULL, &err), CS_OK);
    const int counts[] = {2, 3, 4, 7, 1, 2};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        assert_int_equal(cs_pp_set_threads(pp, counts[i]), 0);
        assert_int_equal(cs_pp_threads(pp), counts[i]);
        for (int rep = 0; rep < 2; rep++) { /* the second frame reuses the bands */
            memset(got, 0xA5, n * sizeof(float));
            cs_pp_geom g;
            assert_int_equal(cs_pp_run(pp, f, got, &g, &err), CS_OK);
            if (memcmp(ref, got, n * sizeof(float)) != 0) {
                size_t k = 0;
                while (k < n && memcmp(ref + k, got + k, sizeof(float)) == 0) k++;
                fail_msg("%s %dx%d -> %dx%dx%d %s, %d threads: value %zu is %.9g, 1 thread %.9g",
                         cs_pixfmt_name(f->format), f->width, f->height, C, H, W,
                         cs_pp_resize_name(o->resize), counts[i], k, (double)got[k],
                         (double)ref[k]);
            }
        }
    }
    cs_pp_destroy(&pp);
    free(ref);
    free(got);
}

static void formats_and_modes(void **state)
{
    (void)state;
    const cs_pixfmt fmts[] = {CS_PIX_RGB,  CS_PIX_BGR,   CS_PIX_RGBA, CS_PIX_BGRA, CS_PIX_RGBX,
                              CS_PIX_BGRX, CS_PIX_GRAY8, CS_PIX_I420, CS_PIX_NV12};
    const cs_resize_mode modes[] = {CS_RESIZE_STRETCH, CS_RESIZE_LETTERBOX, CS_RESIZE_CROP};
    /* frame size, model size: shrink (the bench's 640×480 -> 224²), enlarge, odd sizes */
    const int sizes[][4] = {{640, 480, 224, 224}, {37, 29, 64, 48}, {101, 203, 33, 57}};
    for (size_t fi = 0; fi < sizeof fmts / sizeof fmts[0]; fi++)
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            uint8_t *buf;
            cs_frame f = make_frame(fmts[fi], sizes[s][0], sizes[s][1], &buf);
            for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++)
                for (int C = 1; C <= 3; C += 2) {
                    cs_pp_opts o = {.resize = modes[m]};
                    cs_pp_preset(C == 3 && m == 1 ? "caffe" : "imagenet", &o);
                    check_same(&o, NULL, C, sizes[s][3], sizes[s][2], &f);
                }
            free(buf);
        }
}

static void statistics_kinds(void **state)
{
    (void)state;
    uint8_t *buf;
    cs_frame f = make_frame(CS_PIX_NV12, 320, 240, &buf);
    cs_pp_opts o = {.resize = CS_RESIZE_LETTERBOX};
    cs_pp_preset("imagenet", &o);

    cs_statistics *mi = cs_statistics_new(CS_STATS_MEAN_IMAGE, 3, 0, 20, 10);
    assert_non_null(mi);
    for (int i = 0; i < 3 * 20 * 10; i++) mi->mean_image[i] = (float)(rnd8() / 255.0);
    check_same(&o, mi, 3, 48, 64, &f);
    cs_statistics_destroy(&mi);

    cs_statistics *zca = cs_statistics_new(CS_STATS_ZCA, 3, 0, 0, 0);
    assert_non_null(zca);
    for (int i = 0; i < 9; i++) zca->matrix[i] = (float)(rnd8() / 64.0 - 2.0);
    for (int i = 0; i < 3; i++) zca->mean[i] = 0.4f + 0.1f * i;
    check_same(&o, zca, 3, 48, 64, &f);
    cs_statistics_destroy(&zca);

    cs_statistics *patch = cs_statistics_new(CS_STATS_PCA, 3, 2, 0, 0);
    assert_non_null(patch);
    for (int i = 0; i < patch->dim * patch->dim; i++) patch->matrix[i] = (float)(rnd8() / 512.0);
    for (int i = 0; i < patch->dim; i++) patch->mean[i] = 0.5f;
    check_same(&o, patch, 3, 48, 64, &f);
    cs_statistics_destroy(&patch);
    free(buf);
}

/* A model input of a few rows: fewer bands than threads, still the same output. */
static void few_rows(void **state)
{
    (void)state;
    uint8_t *buf;
    cs_frame f = make_frame(CS_PIX_BGRX, 64, 64, &buf);
    cs_pp_opts o = {.resize = CS_RESIZE_STRETCH};
    cs_pp_preset("tf", &o);
    for (int H = 1; H <= 17; H += 4) check_same(&o, NULL, 3, H, 5, &f);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(formats_and_modes),
        cmocka_unit_test(statistics_kinds),
        cmocka_unit_test(few_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
