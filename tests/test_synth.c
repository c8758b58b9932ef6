/* camstream synth (camstream/synth.h): determinism (same seed → byte-identical files, another
 * seed → different), boxes against the rendered pixels (mask, and a plain background where
 * every changed pixel belongs to the object), every class appears with sizes in range,
 * figures' keypoints inside the image and the box and on the figure, split sizes, the
 * dataset loader reading what synth wrote, and video scenes (frames independent of call
 * order, moving objects, boxes inside the frame). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "camstream/dataset.h"
#include "camstream/synth.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *tmp_root;

static int box_contains(const float b[4], float x, float y)
{
    return x >= b[0] && y >= b[1] && x <= b[0] + b[2] && y <= b[1] + b[3];
}

/* The mask lies in the box and touches all four sides (tight). */
static void check_tight(const uint8_t *mask, int size, const float box[4])
{
    int x0 = (int)box[0], y0 = (int)box[1], x1 = (int)(box[0] + box[2]) - 1,
        y1 = (int)(box[1] + box[3]) - 1;
    int top = 0, bottom = 0, left = 0, right = 0, any = 0;
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++) {
            if (!mask[y * size + x]) continue;
            any = 1;
            if (x < x0 || x > x1 || y < y0 || y > y1)
                fail_msg("mask pixel (%d,%d) outside box %g,%g,%g,%g", x, y, box[0], box[1], box[2],
                         box[3]);
            top |= y == y0, bottom |= y == y1, left |= x == x0, right |= x == x1;
        }
    assert_true(any);
    assert_true(top && bottom && left && right);
}

static void test_shape_boxes(void **state)
{
    (void)state;
    enum { S = 64 };
    uint8_t rgb[S * S * 3], mask[S * S];
    int seen[CS_SHAPE_COUNT] = {0};
    for (int i = 0; i < 600; i++) {
        cs_rng r = cs_synth_rng_for(11, (uint64_t)i);
        cs_synth_label lab;
        assert_int_equal(cs_synth_shape_image(&r, S, CS_SHAPE_COUNT, NULL, rgb, mask, &lab), 0);
        assert_true(lab.cls >= 0 && lab.cls < CS_SHAPE_COUNT);
        seen[lab.cls]++;
        assert_int_equal(lab.n_kp, 0);
        check_tight(mask, S, lab.box);
        /* 20–60 % of the image (an occluded object can look smaller, never larger) */
        float side = fmaxf(lab.box[2], lab.box[3]);
        assert_true(side <= 0.6f * S + 1);
        assert_true(side >= 0.08f * S);
    }
    for (int k = 0; k < CS_SHAPE_COUNT; k++) {
        if (seen[k] < 60) fail_msg("class %s appears %d times in 600", cs_shape_name(k), seen[k]);
    }
    /* fewer classes: only those */
    for (int i = 0; i < 100; i++) {
        cs_rng r = cs_synth_rng_for(12, (uint64_t)i);
        cs_synth_label lab;
        assert_int_equal(cs_synth_shape_image(&r, S, 2, NULL, rgb, NULL, &lab), 0);
        assert_true(lab.cls == 0 || lab.cls == 1);
    }
    cs_rng r = cs_synth_rng_for(1, 0);
    cs_synth_label lab;
    assert_int_equal(cs_synth_shape_image(&r, S, 7, NULL, rgb, NULL, &lab), -1);
    assert_int_equal(cs_synth_shape_image(&r, 4, 6, NULL, rgb, NULL, &lab), -1);
}

/* On a flat background without noise or occluders, every pixel that differs from the
 * background is the object's. A pixel outside the box is less than half covered, so it
 * changed by less than half the largest change (a fully covered pixel); the box's first row
 * and column hold changed pixels. */
static int diff_l1(const uint8_t *a, const uint8_t *b)
{
    return abs(a[0] - b[0]) + abs(a[1] - b[1]) + abs(a[2] - b[2]);
}

static void test_plain_background(void **state)
{
    (void)state;
    enum { S = 48 };
    uint8_t rgb[S * S * 3];
    const cs_synth_opts plain = {0, 0, CS_SYNTH_HIGH};
    for (int i = 0; i < 300; i++) {
        cs_rng r = cs_synth_rng_for(21, (uint64_t)i);
        cs_synth_label lab;
        assert_int_equal(cs_synth_shape_image(&r, S, CS_SHAPE_COUNT, &plain, rgb, NULL, &lab), 0);
        const uint8_t *bg = rgb; /* the corners are background: objects stay inside */
        assert_memory_equal(bg, rgb + (S * S - 1) * 3, 3);
        int x0 = (int)lab.box[0], y0 = (int)lab.box[1];
        int x1 = x0 + (int)lab.box[2] - 1, y1 = y0 + (int)lab.box[3] - 1, top = 0, left = 0;
        int maxd = 0;
        for (int p = 0; p < S * S; p++)
            if (diff_l1(rgb + p * 3, bg) > maxd) maxd = diff_l1(rgb + p * 3, bg);
        assert_true(maxd > 100);
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) {
                int d = diff_l1(rgb + (y * S + x) * 3, bg);
                if (x < x0 || x > x1 || y < y0 || y > y1) {
                    if (2 * d > maxd + 6)
                        fail_msg("image %d: pixel (%d,%d) changed by %d (max %d) outside box "
                                 "%d,%d..%d,%d",
                                 i, x, y, d, maxd, x0, y0, x1, y1);
                } else if (d > 0) {
                    top |= y == y0, left |= x == x0;
                }
            }
        assert_true(top && left);
    }
}

/* Difficulty levels: HIGH is what NULL options give (byte for byte); MEDIUM and LOW draw larger
 * objects (LOW never occluded: the mask is the whole shape), and the names parse both ways. */
static void test_levels(void **state)
{
    (void)state;
    enum { S = 64 };
    uint8_t a[S * S * 3], b[S * S * 3], mask[S * S];
    const cs_synth_opts high = {1, 1, CS_SYNTH_HIGH}, med = {1, 1, CS_SYNTH_MEDIUM},
                        low = {1, 1, CS_SYNTH_LOW}, bad = {1, 1, (cs_synth_level)7};
    int differ = 0;
    float min_med = S, min_low = S;
    for (int i = 0; i < 300; i++) {
        cs_synth_label la, lb;
        cs_rng r = cs_synth_rng_for(41, (uint64_t)i), q = r;
        assert_int_equal(cs_synth_shape_image(&r, S, CS_SHAPE_COUNT, NULL, a, NULL, &la), 0);
        assert_int_equal(cs_synth_shape_image(&q, S, CS_SHAPE_COUNT, &high, b, NULL, &lb), 0);
        assert_memory_equal(a, b, sizeof a);
        r = cs_synth_rng_for(41, (uint64_t)i);
        assert_int_equal(cs_synth_shape_image(&r, S, CS_SHAPE_COUNT, &med, b, mask, &lb), 0);
        check_tight(mask, S, lb.box);
        differ += memcmp(a, b, sizeof a) != 0;
        min_med = fminf(min_med, fmaxf(lb.box[2], lb.box[3]));
        r = cs_synth_rng_for(41, (uint64_t)i);
        assert_int_equal(cs_synth_shape_image(&r, S, CS_SHAPE_COUNT, &low, b, mask, &lb), 0);
        min_low = fminf(min_low, fmaxf(lb.box[2], lb.box[3]));
    }
    assert_true(differ > 250);
    /* the smallest shape (a square, 1.44 r wide at r = 0.3·S/2) less 20 % occluded */
    assert_true(min_med >= 0.17f * S);
    assert_true(min_low >= 0.25f * S); /* r ≥ 0.35·S/2, nothing hidden */
    cs_rng r = cs_synth_rng_for(41, 0);
    cs_synth_label lab;
    assert_int_equal(cs_synth_shape_image(&r, S, 3, &bad, a, NULL, &lab), -1);
    assert_int_equal(cs_synth_figure_image(&r, S, &bad, a, NULL, &lab), -1);
    assert_null(cs_synth_scene_new_level(64, 64, 1, 3, 0, 1, (cs_synth_level)3));
    for (int k = 0; k < 3; k++) {
        cs_synth_level l;
        assert_int_equal(cs_synth_level_parse(cs_synth_level_name((cs_synth_level)k), &l), 0);
        assert_int_equal(l, k);
    }
    cs_synth_level l;
    assert_int_equal(cs_synth_level_parse("hard", &l), -1);
}

static void test_figures(void **state)
{
    (void)state;
    enum { S = 64 };
    uint8_t rgb[S * S * 3], mask[S * S];
    int occluded = 0;
    for (int i = 0; i < 300; i++) {
        cs_rng r = cs_synth_rng_for(31, (uint64_t)i);
        cs_synth_label lab;
        assert_int_equal(cs_synth_figure_image(&r, S, NULL, rgb, mask, &lab), 0);
        assert_int_equal(lab.cls, 0);
        assert_int_equal(lab.n_kp, CS_FIGURE_JOINTS);
        assert_true(lab.box[0] >= 0 && lab.box[1] >= 0 && lab.box[0] + lab.box[2] <= S &&
                    lab.box[1] + lab.box[3] <= S);
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++)
                if (mask[y * S + x]) assert_true(box_contains(lab.box, x + 0.5f, y + 0.5f));
        for (int j = 0; j < CS_FIGURE_JOINTS; j++) {
            const cs_keypoint *k = &lab.kp[j];
            assert_true(k->v == 1 || k->v == 2);
            occluded += k->v == 1;
            assert_true(k->x >= 0 && k->y >= 0 && k->x <= S && k->y <= S);
            assert_true(box_contains(lab.box, k->x, k->y));
            /* a joint is on the figure: a figure pixel within 1.5 px */
            int near = 0;
            for (int dy = -2; dy <= 2 && !near; dy++)
                for (int dx = -2; dx <= 2 && !near; dx++) {
                    int x = (int)k->x + dx, y = (int)k->y + dy;
                    if (x < 0 || y < 0 || x >= S || y >= S || !mask[y * S + x]) continue;
                    float ex = x + 0.5f - k->x, ey = y + 0.5f - k->y;
                    near = ex * ex + ey * ey <= 1.5f * 1.5f + 0.5f;
                }
            if (!near)
                fail_msg("figure %d: joint %s (%g,%g) is not on the figure", i,
                         cs_figure_joint_names[j], k->x, k->y);
        }
        /* the figure's joints are not all collapsed: its box has some extent */
        assert_true(fmaxf(lab.box[2], lab.box[3]) >= 0.3f * S);
    }
    assert_true(occluded > 0); /* occluders do hide joints sometimes */
    for (int e = 0; e < CS_FIGURE_EDGES; e++) {
        assert_true(cs_figure_skeleton[e][0] >= 0 && cs_figure_skeleton[e][0] < CS_FIGURE_JOINTS);
        assert_true(cs_figure_skeleton[e][1] >= 0 && cs_figure_skeleton[e][1] < CS_FIGURE_JOINTS);
    }
}

static char *slurp(const char *dir, const char *name, gsize *len)
{
    char *p = g_build_filename(dir, name, NULL), *data = NULL;
    if (!g_file_get_contents(p, &data, len, NULL)) fail_msg("cannot read %s", p);
    g_free(p);
    return data;
}

static void test_determinism(void **state)
{
    (void)state;
    const double split[3] = {0.8, 0.1, 0.1};
    char *a = g_build_filename(tmp_root, "a", NULL), *b = g_build_filename(tmp_root, "b", NULL),
         *c = g_build_filename(tmp_root, "c", NULL);
    cs_error err;
    for (int kind = 0; kind < 2; kind++) {
        assert_int_equal(cs_synth_dataset(a, (cs_synth_kind)kind, 20, 32, 6, 5, split, &err),
                         CS_OK);
        assert_int_equal(cs_synth_dataset(b, (cs_synth_kind)kind, 20, 32, 6, 5, split, &err),
                         CS_OK);
        assert_int_equal(cs_synth_dataset(c, (cs_synth_kind)kind, 20, 32, 6, 6, split, &err),
                         CS_OK);
        gsize la, lb, lc;
        char *ca = slurp(a, "dataset.csv", &la), *cb = slurp(b, "dataset.csv", &lb),
             *cc = slurp(c, "dataset.csv", &lc);
        assert_int_equal(la, lb);
        assert_memory_equal(ca, cb, la);
        assert_true(la != lc || memcmp(ca, cc, la) != 0);
        int differ = 0;
        for (int i = 0; i < 20; i++) {
            char name[64];
            snprintf(name, sizeof name, "images/%06d.png", i);
            char *ia = slurp(a, name, &la), *ib = slurp(b, name, &lb), *ic = slurp(c, name, &lc);
            assert_int_equal(la, lb);
            assert_memory_equal(ia, ib, la);
            differ += la != lc || memcmp(ia, ic, la) != 0;
            g_free(ia);
            g_free(ib);
            g_free(ic);
        }
        assert_int_equal(differ, 20);
        g_free(ca);
        g_free(cb);
        g_free(cc);
    }
    g_free(a);
    g_free(b);
    g_free(c);
    /* different items of one seed differ, the same item repeats */
    cs_rng r1 = cs_synth_rng_for(9, 0), r2 = cs_synth_rng_for(9, 1), r3 = cs_synth_rng_for(9, 0);
    uint64_t v1 = cs_rng_next(&r1);
    assert_true(v1 != cs_rng_next(&r2));
    assert_true(v1 == cs_rng_next(&r3));
}

static void test_dataset_and_splits(void **state)
{
    (void)state;
    int per[3];
    const double s1[3] = {0.8, 0.1, 0.1}, s2[3] = {0.5, 0.25, 0.25}, s3[3] = {1, 0, 0};
    cs_synth_split_counts(1000, s1, per);
    assert_true(per[0] == 800 && per[1] == 100 && per[2] == 100);
    cs_synth_split_counts(7, s2, per);
    assert_int_equal(per[0] + per[1] + per[2], 7);
    assert_true(per[0] == 4 && per[1] == 2 && per[2] == 1);
    cs_synth_split_counts(5, s3, per);
    assert_true(per[0] == 5 && per[1] == 0 && per[2] == 0);

    char *dir = g_build_filename(tmp_root, "shapes", NULL);
    cs_error err;
    assert_int_equal(cs_synth_dataset(dir, CS_SYNTH_SHAPES, 50, 40, 3, 77, s2, &err), CS_OK);
    cs_dataset *ds = cs_dataset_load(dir, &err);
    if (!ds) fail_msg("%s", err.msg);
    cs_synth_split_counts(50, s2, per);
    for (int s = 0; s < CS_SPLIT_COUNT; s++)
        assert_int_equal(cs_dataset_count(ds, (cs_split)s), per[s]);
    assert_int_equal(ds->n_classes, 3);
    assert_string_equal(ds->labels[2], "triangle");
    assert_int_equal(ds->width, 40);
    /* rows equal what the generator gives for each index */
    uint8_t rgb[40 * 40 * 3], back[40 * 40 * 3];
    for (int i = 0; i < ds->n_samples; i++) {
        const cs_sample *s = &ds->samples[i];
        cs_rng r = cs_synth_rng_for(77, (uint64_t)i);
        cs_synth_label lab;
        assert_int_equal(cs_synth_shape_image(&r, 40, 3, NULL, rgb, NULL, &lab), 0);
        assert_int_equal(s->cls, lab.cls);
        for (int k = 0; k < 4; k++) assert_true(s->box[k] == lab.box[k]);
        assert_int_equal(cs_dataset_image_u8(ds, s, back, &err), CS_OK);
        assert_memory_equal(back, rgb, sizeof rgb);
    }
    cs_dataset_destroy(&ds);
    g_free(dir);

    dir = g_build_filename(tmp_root, "figures", NULL);
    assert_int_equal(cs_synth_dataset(dir, CS_SYNTH_FIGURES, 10, 48, 0, 3, s1, &err), CS_OK);
    ds = cs_dataset_load(dir, &err);
    if (!ds) fail_msg("%s", err.msg);
    assert_int_equal(ds->n_keypoints, CS_FIGURE_JOINTS);
    assert_int_equal(ds->n_skeleton, CS_FIGURE_EDGES);
    assert_string_equal(ds->keypoint_names[13], "r_ankle");
    assert_string_equal(ds->labels[0], "person");
    for (int i = 0; i < ds->n_samples; i++)
        for (int j = 0; j < CS_FIGURE_JOINTS; j++)
            assert_true(
                box_contains(ds->samples[i].box, ds->samples[i].kp[j].x, ds->samples[i].kp[j].y));
    cs_dataset_destroy(&ds);
    g_free(dir);
    assert_int_not_equal(cs_synth_dataset("/proc/nope", CS_SYNTH_SHAPES, 5, 32, 6, 1, s1, &err),
                         CS_OK);
    assert_int_not_equal(cs_synth_dataset(tmp_root, CS_SYNTH_SHAPES, 5, 32, 9, 1, s1, &err), CS_OK);
}

static void test_scene(void **state)
{
    (void)state;
    enum { W = 96, H = 64 };
    cs_synth_scene *sc = cs_synth_scene_new(W, H, 3, 6, 1, 42);
    assert_non_null(sc);
    static uint8_t f0[W * H * 3], f5[W * H * 3], again[W * H * 3];
    cs_synth_label l0[8], l5[8], la[8];
    int n5 = cs_synth_scene_render(sc, 5, f5, l5, 8);
    int n0 = cs_synth_scene_render(sc, 0, f0, l0, 8);
    assert_true(n0 >= 2 && n0 <= 4);
    /* a fresh scene renders frame 5 the same without frames before it */
    cs_synth_scene *sc2 = cs_synth_scene_new(W, H, 3, 6, 1, 42);
    int na = cs_synth_scene_render(sc2, 5, again, la, 8);
    assert_int_equal(na, n5);
    assert_memory_equal(again, f5, sizeof f5);
    assert_memory_equal(la, l5, sizeof(cs_synth_label) * (size_t)n5);
    assert_true(memcmp(f0, f5, sizeof f0) != 0);
    /* things move: over 40 frames every object's box changes */
    int moved[4] = {0};
    for (int t = 1; t <= 40; t++) {
        cs_synth_label lt[8];
        int nt = cs_synth_scene_render(sc, t, f5, lt, 8);
        for (int i = 0; i < nt; i++) {
            const cs_synth_label *L = &lt[i];
            assert_true(L->box[0] >= 0 && L->box[1] >= 0 && L->box[0] + L->box[2] <= W &&
                        L->box[1] + L->box[3] <= H);
            for (int k = 0; k < n0; k++)
                if (l0[k].id == L->id && memcmp(l0[k].box, L->box, sizeof L->box)) moved[L->id] = 1;
            if (L->id == 3) {
                assert_int_equal(L->cls, 6); /* the figure: class after the shapes */
                assert_int_equal(L->n_kp, CS_FIGURE_JOINTS);
                for (int j = 0; j < CS_FIGURE_JOINTS; j++)
                    assert_true(box_contains(L->box, L->kp[j].x, L->kp[j].y));
            } else {
                assert_true(L->cls >= 0 && L->cls < 6);
            }
        }
    }
    for (int k = 0; k < n0; k++) assert_true(moved[l0[k].id]);
    cs_synth_scene_destroy(&sc);
    cs_synth_scene_destroy(&sc);
    cs_synth_scene_destroy(&sc2);
    assert_null(cs_synth_scene_new(8, 8, 1, 6, 0, 1));
    assert_null(cs_synth_scene_new(64, 64, 0, 6, 0, 1));
    assert_null(cs_synth_scene_new(64, 64, 1, 7, 0, 1));
}

static void rm_rf(const char *path)
{
    GDir *d = g_dir_open(path, 0, NULL);
    if (d) {
        for (const char *n; (n = g_dir_read_name(d));) {
            char *p = g_build_filename(path, n, NULL);
            if (g_file_test(p, G_FILE_TEST_IS_DIR))
                rm_rf(p);
            else
                g_unlink(p);
            g_free(p);
        }
        g_dir_close(d);
    }
    g_rmdir(path);
}

static int setup(void **state)
{
    (void)state;
    tmp_root = g_dir_make_tmp("cs_synth_XXXXXX", NULL);
    return tmp_root ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    rm_rf(tmp_root);
    g_free(tmp_root);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shape_boxes), cmocka_unit_test(test_plain_background),
        cmocka_unit_test(test_levels),      cmocka_unit_test(test_figures),
        cmocka_unit_test(test_determinism), cmocka_unit_test(test_dataset_and_splits),
        cmocka_unit_test(test_scene),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
