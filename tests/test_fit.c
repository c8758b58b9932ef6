/* Fitting statistics (camstream/stats_fit.h) against numpy: tests/data/fit holds 12 synthetic
 * 16×16 images (8 train) and expected.txt, written by tools/fit_reference.py (float64, eigh).
 * Every kind, scale and feature is compared; the written file is read back with
 * cs_statistics_load and run through core's preprocessing (cs_pp), whose output on the
 * training images must then be centred with identity covariance (PCA and ZCA whitening).
 * Also: errors (no images, a singular covariance without epsilon, bad options). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "camstream/dataset.h"
#include "camstream/formats.h"
#include "camstream/preprocess.h"
#include "camstream/stats_fit.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char data_dir[1024];
static char *tmp_root;
static GHashTable *expected; /* name → double[] with the count in [0] */
static cs_dataset *ds;

static void load_expected(void)
{
    char path[1100], *text = NULL;
    snprintf(path, sizeof path, "%s/expected.txt", data_dir);
    assert_true(g_file_get_contents(path, &text, NULL, NULL));
    expected = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    char **lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
        if (!**l || **l == '#') continue;
        char *end = NULL, *p = strchr(*l, ' ');
        assert_non_null(p);
        char *name = g_strndup(*l, (gsize)(p - *l));
        long n = strtol(p, &end, 10);
        double *v = g_new(double, (gsize)n + 1);
        v[0] = (double)n;
        for (long i = 0; i < n; i++) v[i + 1] = g_ascii_strtod(end, &end);
        g_hash_table_insert(expected, name, v);
    }
    g_strfreev(lines);
    g_free(text);
}

static const double *want(const char *name, int n)
{
    const double *v = g_hash_table_lookup(expected, name);
    if (!v) fail_msg("expected.txt has no %s", name);
    assert_int_equal((int)v[0], n);
    return v + 1;
}

/* |got − want| ≤ rel · max|want| (+ a tiny absolute floor), element by element. */
static void compare(const char *name, const float *got, int n, double rel)
{
    const double *w = want(name, n);
    double big = 1e-12;
    for (int i = 0; i < n; i++) big = fmax(big, fabs(w[i]));
    for (int i = 0; i < n; i++)
        if (fabs(got[i] - w[i]) > rel * big + 1e-7)
            fail_msg("%s[%d]: %.9g, numpy %.9g (tolerance %.3g)", name, i, (double)got[i], w[i],
                     rel * big);
}

static cs_statistics *fit(cs_fit_kind k, int patch, cs_scale sc, double eps)
{
    cs_fit_opts o = {k, patch, sc, eps};
    cs_error err;
    cs_statistics *st = cs_fit_dataset(ds, CS_SPLIT_TRAIN, &o, &err);
    if (!st) fail_msg("%s", err.msg);
    assert_string_equal(st->fitted_on, "fit/train");
    assert_int_equal(st->samples, 8);
    assert_int_equal(st->channels, 3);
    assert_int_equal((int)st->scale, (int)sc);
    return st;
}

static void test_means(void **state)
{
    (void)state;
    cs_statistics *st = fit(CS_FIT_MEAN_IMAGE, 0, CS_SCALE_01, 0);
    assert_int_equal(st->kind, CS_STATS_MEAN_IMAGE);
    assert_true(st->width == 16 && st->height == 16);
    compare("mean_image_01", st->mean_image, 3 * 16 * 16, 1e-6);
    cs_statistics_destroy(&st);

    st = fit(CS_FIT_CHANNEL_MEAN, 0, CS_SCALE_01, 0);
    assert_int_equal(st->kind, CS_STATS_MEAN_STD);
    compare("channel_mean_01", st->mean, 3, 1e-6);
    for (int c = 0; c < 3; c++) assert_true(st->std[c] == 1.0f);
    cs_statistics_destroy(&st);

    st = fit(CS_FIT_CHANNEL_MEAN_STD, 0, CS_SCALE_01, 0);
    compare("channel_mean_01", st->mean, 3, 1e-6);
    compare("channel_std_01", st->std, 3, 1e-6);
    cs_statistics_destroy(&st);

    st = fit(CS_FIT_CHANNEL_MEAN, 0, CS_SCALE_255, 0);
    compare("channel_mean_255", st->mean, 3, 1e-6);
    cs_statistics_destroy(&st);
    st = fit(CS_FIT_CHANNEL_MEAN_STD, 0, CS_SCALE_11, 0);
    compare("channel_std_11", st->std, 3, 1e-6);
    cs_statistics_destroy(&st);
}

static void test_whitening_matches_numpy(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        cs_fit_kind kind;
        cs_scale scale;
        int patch;
        double eps;
    } cases[] = {
        {"pca_channel_01", CS_FIT_PCA, CS_SCALE_01, 0, 1e-5},
        {"zca_channel_01", CS_FIT_ZCA, CS_SCALE_01, 0, 1e-5},
        {"pca_channel_255", CS_FIT_PCA, CS_SCALE_255, 0, 1e-5},
        {"zca_patch2_01", CS_FIT_ZCA, CS_SCALE_01, 2, 1e-3},
        {"pca_patch2_01", CS_FIT_PCA, CS_SCALE_01, 2, 1e-3},
        {"zca_patch4_11", CS_FIT_ZCA, CS_SCALE_11, 4, 1e-2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cs_statistics *st = fit(cases[i].kind, cases[i].patch, cases[i].scale, cases[i].eps);
        int p = cases[i].patch ? cases[i].patch : 1, D = 3 * p * p;
        assert_int_equal(st->dim, D);
        assert_int_equal(st->kind, cases[i].kind == CS_FIT_PCA ? CS_STATS_PCA : CS_STATS_ZCA);
        assert_int_equal(st->feature, cases[i].patch ? CS_FEATURE_PATCH : CS_FEATURE_CHANNEL);
        assert_true(fabsf(st->epsilon - (float)cases[i].eps) <= 1e-6f * (float)cases[i].eps);
        char name[64];
        snprintf(name, sizeof name, "%s_mean", cases[i].name);
        compare(name, st->mean, D, 1e-6);
        snprintf(name, sizeof name, "%s_W", cases[i].name);
        compare(name, st->matrix, D * D, 2e-4);
        cs_statistics_destroy(&st);
    }
}

/* Written, read back by formats.c, applied by core preprocessing to the training images:
 * zero mean, identity covariance (up to ε). */
static void check_whitened(cs_fit_kind kind, int patch, double eps, double tol)
{
    cs_statistics *st = fit(kind, patch, CS_SCALE_01, eps);
    char *path = g_strdup_printf("%s/w%d_%d.stats", tmp_root, (int)kind, patch);
    cs_error err;
    if (cs_statistics_write(path, st, &err) != CS_OK) fail_msg("%s", err.msg);
    cs_statistics *back = cs_statistics_load(path, &err);
    if (!back) fail_msg("%s", err.msg);
    int D = st->dim, p = patch ? patch : 1;
    assert_int_equal(back->dim, D);
    assert_string_equal(back->fitted_on, "fit/train");
    assert_memory_equal(back->matrix, st->matrix, sizeof(float) * D * D);
    assert_memory_equal(back->mean, st->mean, sizeof(float) * D);
    cs_pp_opts o;
    assert_int_equal(cs_pp_preset("none", &o), 0);
    cs_pp *pp = cs_pp_new(&o, back, 3, 16, 16, &err);
    if (!pp) fail_msg("%s", err.msg);
    double *sum = calloc((size_t)D, sizeof(double)), *cov = calloc((size_t)D * D, sizeof(double));
    float out[3 * 16 * 16], v[48];
    uint8_t rgb[16 * 16 * 3];
    long n = 0;
    for (int i = 0; i < cs_dataset_count(ds, CS_SPLIT_TRAIN); i++) {
        assert_int_equal(cs_dataset_image_u8(ds, cs_dataset_get(ds, CS_SPLIT_TRAIN, i), rgb, &err),
                         CS_OK);
        cs_frame f = {
            .format = CS_PIX_RGB, .width = 16, .height = 16, .data = {rgb}, .stride = {16 * 3}};
        if (cs_pp_run(pp, &f, out, NULL, &err) != CS_OK) fail_msg("%s", err.msg);
        for (int py = 0; py < 16; py += p)
            for (int px = 0; px < 16; px += p, n++) {
                for (int c = 0; c < 3; c++)
                    for (int y = 0; y < p; y++)
                        for (int x = 0; x < p; x++)
                            v[c * p * p + y * p + x] = out[c * 256 + (py + y) * 16 + px + x];
                for (int a = 0; a < D; a++) {
                    sum[a] += v[a];
                    for (int b = 0; b < D; b++) cov[a * D + b] += (double)v[a] * v[b];
                }
            }
    }
    for (int a = 0; a < D; a++) {
        if (fabs(sum[a] / n) > 1e-3) fail_msg("component %d has mean %g", a, sum[a] / n);
        for (int b = 0; b < D; b++) {
            double c = cov[a * D + b] / n - (sum[a] / n) * (sum[b] / n);
            if (fabs(c - (a == b)) > tol)
                fail_msg("%s patch %d: covariance[%d][%d] = %g", cs_fit_kind_name(kind), patch, a,
                         b, c);
        }
    }
    free(sum);
    free(cov);
    cs_pp_destroy(&pp);
    cs_statistics_destroy(&back);
    cs_statistics_destroy(&st);
    g_free(path);
}

static void test_whitened_by_core(void **state)
{
    (void)state;
    check_whitened(CS_FIT_ZCA, 0, 1e-9, 1e-3);
    check_whitened(CS_FIT_PCA, 0, 1e-9, 1e-3);
    check_whitened(CS_FIT_ZCA, 2, 1e-9, 2e-3);
    check_whitened(CS_FIT_PCA, 4, 1e-9, 5e-3);
    /* with ε the whitened variance shrinks, never grows */
    check_whitened(CS_FIT_ZCA, 0, 1e-5, 5e-2);
}

static void test_mean_image_file(void **state)
{
    (void)state;
    cs_statistics *st = fit(CS_FIT_MEAN_IMAGE, 0, CS_SCALE_01, 0);
    char *path = g_strdup_printf("%s/m.stats", tmp_root);
    cs_error err;
    assert_int_equal(cs_statistics_write(path, st, &err), CS_OK);
    cs_statistics *back = cs_statistics_load(path, &err);
    if (!back) fail_msg("%s", err.msg);
    assert_int_equal(back->kind, CS_STATS_MEAN_IMAGE);
    assert_true(back->width == 16 && back->height == 16);
    assert_memory_equal(back->mean_image, st->mean_image, sizeof(float) * 3 * 256);
    cs_statistics_destroy(&back);
    cs_statistics_destroy(&st);
    g_free(path);
}

static void test_errors(void **state)
{
    (void)state;
    cs_error err;
    cs_fit_opts bad = {CS_FIT_CHANNEL_MEAN, 2, CS_SCALE_01, 0};
    assert_null(cs_fit_new(&bad, &err));
    assert_non_null(strstr(err.msg, "patch"));
    cs_fit_opts o = {CS_FIT_ZCA, 0, CS_SCALE_01, 0};
    cs_fit *f = cs_fit_new(&o, &err);
    assert_null(cs_fit_finish(f, NULL, &err));
    assert_non_null(strstr(err.msg, "no images"));
    /* one flat colour: no variance in any direction */
    uint8_t flat[8 * 8 * 3];
    memset(flat, 90, sizeof flat);
    assert_int_equal(cs_fit_add(f, flat, 8, 8, &err), CS_OK);
    assert_null(cs_fit_finish(f, NULL, &err));
    assert_non_null(strstr(err.msg, "--epsilon"));
    cs_fit_destroy(&f);
    cs_fit_destroy(&f);
    cs_fit_opts s = {CS_FIT_CHANNEL_MEAN_STD, 0, CS_SCALE_01, 0};
    f = cs_fit_new(&s, &err);
    assert_int_equal(cs_fit_add(f, flat, 8, 8, &err), CS_OK);
    assert_null(cs_fit_finish(f, NULL, &err));
    assert_non_null(strstr(err.msg, "no variance"));
    cs_fit_destroy(&f);
    cs_fit_opts m = {CS_FIT_MEAN_IMAGE, 0, CS_SCALE_01, 0};
    f = cs_fit_new(&m, &err);
    assert_int_equal(cs_fit_add(f, flat, 8, 8, &err), CS_OK);
    assert_int_not_equal(cs_fit_add(f, flat, 4, 16, &err), CS_OK);
    assert_non_null(strstr(err.msg, "one size"));
    cs_fit_destroy(&f);
    cs_fit_opts pz = {CS_FIT_ZCA, 16, CS_SCALE_01, 1e-5};
    f = cs_fit_new(&pz, &err);
    assert_int_not_equal(cs_fit_add(f, flat, 8, 8, &err), CS_OK);
    cs_fit_destroy(&f);
    /* an empty split */
    assert_null(cs_fit_dataset(ds, CS_SPLIT_COUNT, &o, &err));
    cs_fit_kind k;
    assert_int_equal(cs_fit_kind_parse("channel-mean-std", &k), 0);
    assert_int_equal(k, CS_FIT_CHANNEL_MEAN_STD);
    assert_int_equal(cs_fit_kind_parse("mean-std", &k), -1);
}

static void rm_rf(const char *path)
{
    GDir *d = g_dir_open(path, 0, NULL);
    if (d) {
        for (const char *n; (n = g_dir_read_name(d));) {
            char *p = g_build_filename(path, n, NULL);
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
    const char *src = getenv("CS_SOURCE_DIR");
    snprintf(data_dir, sizeof data_dir, "%s/tests/data/fit", src ? src : ".");
    load_expected();
    cs_error err;
    ds = cs_dataset_load(data_dir, &err);
    if (!ds) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    tmp_root = g_dir_make_tmp("cs_fit_XXXXXX", NULL);
    return tmp_root ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    rm_rf(tmp_root);
    g_free(tmp_root);
    cs_dataset_destroy(&ds);
    g_hash_table_destroy(expected);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_means),
        cmocka_unit_test(test_whitening_matches_numpy),
        cmocka_unit_test(test_whitened_by_core),
        cmocka_unit_test(test_mean_image_file),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
