/* The dataset format (camstream/dataset.h): a good dataset with keypoints and skeleton,
 * one test per error kind (each message names dataset.csv:LINE and the column), images as
 * u8/f32 (wrong size, missing file), the leakage checks (same file in two splits, same bytes
 * across datasets) and the writer's round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "camstream/dataset.h"
#include "image_io.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *tmp_root;
static int n_dirs;

/* A fresh dataset directory with dataset.csv and labels.txt (NULL: not written). */
static char *make_ds(const char *csv, const char *labels)
{
    char *dir = g_strdup_printf("%s/ds%d", tmp_root, n_dirs++);
    g_mkdir_with_parents(dir, 0755);
    if (csv) {
        char *p = g_build_filename(dir, "dataset.csv", NULL);
        assert_true(g_file_set_contents(p, csv, -1, NULL));
        g_free(p);
    }
    if (labels) {
        char *p = g_build_filename(dir, "labels.txt", NULL);
        assert_true(g_file_set_contents(p, labels, -1, NULL));
        g_free(p);
    }
    return dir;
}

/* Loading must fail with a message containing every fragment given (NULL-terminated). */
static void expect_error(const char *csv, const char *labels, ...)
{
    char *dir = make_ds(csv, labels);
    cs_error err = {0};
    cs_dataset *ds = cs_dataset_load(dir, &err);
    if (ds) fail_msg("loaded a bad dataset:\n%s", csv);
    va_list ap;
    va_start(ap, labels);
    for (const char *frag; (frag = va_arg(ap, const char *));)
        if (!strstr(err.msg, frag)) fail_msg("'%s' not in the message '%s'", frag, err.msg);
    va_end(ap);
    g_free(dir);
}

#define HEAD "# camstream dataset 1\n# size: 32x24\n"
#define LABELS "circle\nsquare\ntriangle\n"

static void test_good(void **state)
{
    (void)state;
    const char *csv = HEAD "# keypoints: a;b\n# skeleton: 0-1,a-b\n"
                           "# columns: file,split,class,x,y,w,h,k0x,k0y,k0v,k1x,k1y,k1v\n"
                           "# a comment\n\n"
                           "images/0.png,train,2,1.5,2,10,12,3,4,2,5,6,1\n"
                           "images/1.png,val,0,0,0,32,24,0,0,0,31.5,23,2\n"
                           "images/2.png , test , 1 , 4 , 4 , 8 , 8 , 5 , 5 , 2 , 6 , 6 , 2\n"
                           "images/3.png,train,1,4,4,8,8,5,5,2,6,6,2\n";
    char *dir = make_ds(csv, LABELS "\n\n");
    cs_error err;
    cs_dataset *ds = cs_dataset_load(dir, &err);
    if (!ds) fail_msg("%s", err.msg);
    assert_int_equal(ds->width, 32);
    assert_int_equal(ds->height, 24);
    assert_int_equal(ds->n_classes, 3);
    assert_string_equal(ds->labels[2], "triangle");
    assert_int_equal(ds->n_keypoints, 2);
    assert_string_equal(ds->keypoint_names[1], "b");
    assert_int_equal(ds->n_skeleton, 2);
    assert_int_equal(ds->skeleton[1][0], 0);
    assert_int_equal(ds->skeleton[1][1], 1);
    assert_int_equal(ds->n_samples, 4);
    assert_int_equal(cs_dataset_count(ds, CS_SPLIT_TRAIN), 2);
    assert_int_equal(cs_dataset_count(ds, CS_SPLIT_VAL), 1);
    assert_int_equal(cs_dataset_count(ds, CS_SPLIT_TEST), 1);
    const cs_sample *s = cs_dataset_get(ds, CS_SPLIT_TRAIN, 1);
    assert_string_equal(s->file, "images/3.png");
    assert_int_equal(s->line, 11);
    s = cs_dataset_get(ds, CS_SPLIT_TRAIN, 0);
    assert_int_equal(s->cls, 2);
    assert_true(s->box[0] == 1.5f && s->box[1] == 2 && s->box[2] == 10 && s->box[3] == 12);
    assert_true(s->kp[1].x == 5 && s->kp[1].y == 6 && s->kp[1].v == 1);
    s = cs_dataset_get(ds, CS_SPLIT_TEST, 0);
    assert_string_equal(s->file, "images/2.png");
    assert_int_equal(s->cls, 1);
    assert_null(cs_dataset_get(ds, CS_SPLIT_TEST, 1));
    assert_null(cs_dataset_get(ds, CS_SPLIT_VAL, -1));
    cs_dataset_destroy(&ds);
    cs_dataset_destroy(&ds); /* safe twice */
    g_free(dir);
}

static void test_missing_files(void **state)
{
    (void)state;
    expect_error(NULL, LABELS, "dataset.csv", NULL);
    expect_error(HEAD "a.png,train,0,0,0,1,1\n", NULL, "labels.txt", NULL);
    expect_error(HEAD "a.png,train,0,0,0,1,1\n", "", "labels.txt: no class names", NULL);
    expect_error(HEAD "a.png,train,0,0,0,1,1\n", "a\n\nb\n", "labels.txt:2: empty class name",
                 NULL);
    expect_error(HEAD "a.png,train,0,0,0,1,1\n", "a\nb\na\n", "labels.txt:3:", "given twice", NULL);
}

static void test_header_errors(void **state)
{
    (void)state;
    expect_error("# camstream dataset 2\n", LABELS, "dataset.csv:1:", "not a camstream dataset",
                 NULL);
    expect_error("file,split\n", LABELS, "dataset.csv:1:", NULL);
    expect_error("# camstream dataset 1\na.png,train,0,0,0,1,1\n", LABELS,
                 "dataset.csv:2:", "size: missing", NULL);
    expect_error("# camstream dataset 1\n", LABELS, "size: missing", NULL);
    expect_error("# camstream dataset 1\n# size: 32\n", LABELS, "dataset.csv:2: size:", NULL);
    expect_error(HEAD "# size: 32x24\n", LABELS, "dataset.csv:3: size: given twice", NULL);
    expect_error(HEAD "# columns: file,split,class,x,y,w\n", LABELS,
                 "dataset.csv:3: columns:", NULL);
    expect_error(HEAD "# keypoints: a;a\n", LABELS, "dataset.csv:3: keypoints:", "twice", NULL);
    expect_error(HEAD "# skeleton: 0-1\n", LABELS, "dataset.csv:3: skeleton:", NULL);
    expect_error(HEAD "# keypoints: a;b\n# skeleton: 0-2\n", LABELS,
                 "dataset.csv:4: skeleton:", NULL);
    expect_error(HEAD "a.png,train,0,0,0,1,1\n# size: 8x8\n", LABELS,
                 "dataset.csv:4:", "before the first row", NULL);
}

static void test_row_errors(void **state)
{
    (void)state;
    /* bad number */
    expect_error(HEAD "a.png,train,0,zero,0,1,1\n", LABELS, "dataset.csv:3: x: 'zero'", NULL);
    expect_error(HEAD "a.png,train,0,0,0,1,nan\n", LABELS, "dataset.csv:3: h: 'nan'", NULL);
    expect_error(HEAD "a.png,train,one,0,0,1,1\n", LABELS, "dataset.csv:3: class: 'one'", NULL);
    /* class out of range */
    expect_error(HEAD "a.png,train,3,0,0,1,1\n", LABELS, "dataset.csv:3: class: 3 is out of range",
                 "3 classes", NULL);
    expect_error(HEAD "a.png,train,-1,0,0,1,1\n", LABELS, "dataset.csv:3: class:", NULL);
    /* box outside the image, empty box */
    expect_error(HEAD "a.png,train,0,30,0,5,5\n", LABELS, "dataset.csv:3: box:", "32x24", NULL);
    expect_error(HEAD "a.png,train,0,0,20,5,5\n", LABELS, "dataset.csv:3: box:", NULL);
    expect_error(HEAD "a.png,train,0,-1,0,5,5\n", LABELS, "dataset.csv:3: box:", NULL);
    expect_error(HEAD "a.png,train,0,1,1,0,5\n", LABELS, "dataset.csv:3: box:", NULL);
    /* wrong keypoint count (or column count without keypoints) */
    expect_error(HEAD "# keypoints: a;b\na.png,train,0,0,0,1,1,1,1,2\n", LABELS,
                 "dataset.csv:4:", "wrong keypoint count", NULL);
    expect_error(HEAD "a.png,train,0,0,0,1,1,5\n", LABELS, "dataset.csv:3: 8 columns, expected 7",
                 NULL);
    expect_error(HEAD "a.png,train,0,0,0,1\n", LABELS, "dataset.csv:3: 6 columns", NULL);
    /* keypoints: visibility, position */
    expect_error(HEAD "# keypoints: a\na.png,train,0,0,0,1,1,1,1,3\n", LABELS,
                 "dataset.csv:4: k0v: 3", NULL);
    expect_error(HEAD "# keypoints: a\na.png,train,0,0,0,1,1,40,1,2\n", LABELS,
                 "dataset.csv:4: k0x,k0y:", "outside", NULL);
    expect_error(HEAD "# keypoints: a\na.png,train,0,0,0,1,1,1,y,2\n", LABELS,
                 "dataset.csv:4: k0y: 'y'", NULL);
    /* unknown split */
    expect_error(HEAD "a.png,training,0,0,0,1,1\n", LABELS,
                 "dataset.csv:3: split: 'training' is not one of train, val, test", NULL);
    /* file names */
    expect_error(HEAD ",train,0,0,0,1,1\n", LABELS, "dataset.csv:3: file: empty", NULL);
    expect_error(HEAD "/etc/passwd,train,0,0,0,1,1\n", LABELS, "dataset.csv:3: file:", "relative",
                 NULL);
    expect_error(HEAD "../x.png,train,0,0,0,1,1\n", LABELS, "dataset.csv:3: file:", NULL);
    expect_error(HEAD "a.png,train,0,0,0,1,1\nb.png,train,0,0,0,1,1\na.png,train,1,0,0,1,1\n",
                 LABELS, "dataset.csv:5: file: a.png given twice (first on line 3)", NULL);
}

static void test_leakage_in_file(void **state)
{
    (void)state;
    expect_error(HEAD "a.png,train,0,0,0,1,1\nb.png,val,0,0,0,1,1\na.png,test,0,0,0,1,1\n", LABELS,
                 "dataset.csv:5: file: a.png is in split test and in split train (line 3)",
                 "leakage", NULL);
}

static void write_png(const char *dir, const char *name, int w, int h, int seed)
{
    uint8_t *rgb = malloc((size_t)w * h * 3);
    for (int i = 0; i < w * h * 3; i++) rgb[i] = (uint8_t)(i * 7 + seed * 31);
    char *p = g_build_filename(dir, name, NULL);
    char *parent = g_path_get_dirname(p);
    g_mkdir_with_parents(parent, 0755);
    char err[256];
    assert_int_equal(cli_image_write_png(p, rgb, w, h, err, sizeof err), 0);
    g_free(parent);
    g_free(p);
    free(rgb);
}

static void test_images(void **state)
{
    (void)state;
    char *dir = make_ds(HEAD "i/a.png,train,0,0,0,1,1\ni/b.png,train,0,0,0,1,1\n"
                             "i/c.png,val,0,0,0,1,1\n",
                        LABELS);
    write_png(dir, "i/a.png", 32, 24, 1);
    write_png(dir, "i/b.png", 16, 24, 2); /* wrong size */
    cs_error err;
    cs_dataset *ds = cs_dataset_load(dir, &err);
    if (!ds) fail_msg("%s", err.msg);
    uint8_t u8[32 * 24 * 3];
    float f[3 * 32 * 24];
    const cs_sample *s = cs_dataset_get(ds, CS_SPLIT_TRAIN, 0);
    assert_int_equal(cs_dataset_image_u8(ds, s, u8, &err), CS_OK);
    assert_int_equal(cs_dataset_image_f32(ds, s, f, &err), CS_OK);
    for (int i = 0; i < 32 * 24 * 3; i++) assert_int_equal(u8[i], (uint8_t)(i * 7 + 31));
    /* planar: channel c of pixel p is byte p·3 + c */
    for (int p = 0; p < 32 * 24; p++)
        for (int c = 0; c < 3; c++)
            assert_true(fabsf(f[c * 32 * 24 + p] - u8[p * 3 + c] / 255.0f) < 1e-7f);
    s = cs_dataset_get(ds, CS_SPLIT_TRAIN, 1);
    assert_int_not_equal(cs_dataset_image_u8(ds, s, u8, &err), CS_OK);
    assert_non_null(strstr(err.msg, "dataset.csv:4: file:"));
    assert_non_null(strstr(err.msg, "is 16x24, the dataset's size is 32x24"));
    s = cs_dataset_get(ds, CS_SPLIT_VAL, 0);
    assert_int_not_equal(cs_dataset_image_f32(ds, s, f, &err), CS_OK);
    assert_non_null(strstr(err.msg, "dataset.csv:5: file:"));
    assert_non_null(strstr(err.msg, "i/c.png"));
    cs_dataset_destroy(&ds);
    g_free(dir);
}

static void test_overlap(void **state)
{
    (void)state;
    /* a: train x.png, test y.png; b: test z.png = the bytes of a's x.png */
    char *a = make_ds(HEAD "x.png,train,0,0,0,1,1\ny.png,test,0,0,0,1,1\n", LABELS);
    char *b = make_ds(HEAD "w.png,train,0,0,0,1,1\nz.png,test,0,0,0,1,1\n", LABELS);
    write_png(a, "x.png", 32, 24, 1);
    write_png(a, "y.png", 32, 24, 2);
    write_png(b, "w.png", 32, 24, 3);
    write_png(b, "z.png", 32, 24, 1);
    cs_error err;
    cs_dataset *da = cs_dataset_load(a, &err), *db = cs_dataset_load(b, &err);
    assert_non_null(da);
    assert_non_null(db);
    unsigned tr = 1u << CS_SPLIT_TRAIN, ev = (1u << CS_SPLIT_VAL) | (1u << CS_SPLIT_TEST);
    assert_int_equal(cs_dataset_overlap(da, tr, da, ev, &err), 0);
    assert_int_equal(cs_dataset_overlap(db, tr, db, ev, &err), 0);
    assert_int_equal(cs_dataset_overlap(da, tr, db, ev, &err), 1);
    assert_non_null(strstr(err.msg, "x.png (train) has the same bytes as"));
    assert_non_null(strstr(err.msg, "dataset.csv:4: z.png (test)"));
    assert_int_equal(cs_dataset_overlap(da, tr, db, tr, &err), 0);
    /* the same file reached through two datasets */
    cs_dataset_destroy(&db);
    /* (names with ".." are refused by the loader: reach it through a symlink) */
    char *d = make_ds(HEAD "link.png,test,0,0,0,1,1\n", LABELS);
    char *target = g_build_filename(a, "x.png", NULL),
         *link = g_build_filename(d, "link.png", NULL);
    assert_int_equal(symlink(target, link), 0);
    cs_dataset *dd = cs_dataset_load(d, &err);
    assert_non_null(dd);
    assert_int_equal(cs_dataset_overlap(da, tr, dd, ev, &err), 1);
    assert_non_null(strstr(err.msg, "is the same file as"));
    /* an I/O error is -1 */
    g_unlink(link);
    assert_int_equal(cs_dataset_overlap(da, tr, dd, ev, &err), -1);
    assert_non_null(strstr(err.msg, "link.png"));
    g_free(target);
    g_free(link);
    cs_dataset_destroy(&dd);
    cs_dataset_destroy(&da);
    g_free(a);
    g_free(b);
    g_free(d);
}

static void test_writer_round_trip(void **state)
{
    (void)state;
    char *dir = g_strdup_printf("%s/written", tmp_root);
    const char *labels[2] = {"cat", "dog"}, *kn[2] = {"nose", "tail"};
    const int sk[1][2] = {{0, 1}};
    cs_error err;
    cs_dataset_writer *w = cs_dataset_writer_new(dir, 8, 6, labels, 2, kn, 2, sk, 1, &err);
    if (!w) fail_msg("%s", err.msg);
    uint8_t rgb[8 * 6 * 3];
    for (int i = 0; i < (int)sizeof rgb; i++) rgb[i] = (uint8_t)(i * 5);
    const float box[4] = {1.25f, 0.5f, 6, 5};
    const cs_keypoint kp[2] = {{2.5f, 3.125f, 2}, {0, 0, 0}};
    assert_int_equal(cs_dataset_writer_add(w, "im/a.png", CS_SPLIT_TRAIN, rgb, 1, box, kp, &err),
                     CS_OK);
    assert_int_equal(cs_dataset_writer_add(w, "im/b.png", CS_SPLIT_TEST, rgb, 0, box, kp, &err),
                     CS_OK);
    assert_int_not_equal(cs_dataset_writer_add(w, "im/c.png", CS_SPLIT_TEST, rgb, 2, box, kp, &err),
                         CS_OK);
    assert_int_equal(cs_dataset_writer_close(&w, &err), CS_OK);
    assert_null(w);
    cs_dataset *ds = cs_dataset_load(dir, &err);
    if (!ds) fail_msg("%s", err.msg);
    assert_int_equal(ds->n_samples, 2);
    assert_string_equal(ds->labels[1], "dog");
    assert_string_equal(ds->keypoint_names[0], "nose");
    assert_int_equal(ds->n_skeleton, 1);
    const cs_sample *s = cs_dataset_get(ds, CS_SPLIT_TRAIN, 0);
    assert_int_equal(s->cls, 1);
    for (int i = 0; i < 4; i++) assert_true(s->box[i] == box[i]);
    assert_true(s->kp[0].x == 2.5f && s->kp[0].y == 3.125f && s->kp[0].v == 2);
    uint8_t back[sizeof rgb];
    assert_int_equal(cs_dataset_image_u8(ds, s, back, &err), CS_OK);
    assert_memory_equal(back, rgb, sizeof rgb);
    cs_dataset_destroy(&ds);
    g_free(dir);
}

static void test_splits(void **state)
{
    (void)state;
    cs_split s;
    assert_int_equal(cs_split_parse("val", &s), 0);
    assert_int_equal(s, CS_SPLIT_VAL);
    assert_int_equal(cs_split_parse("Val", &s), -1);
    assert_int_equal(cs_split_parse(NULL, &s), -1);
    assert_string_equal(cs_split_name(CS_SPLIT_TEST), "test");
}

static int setup(void **state)
{
    (void)state;
    tmp_root = g_dir_make_tmp("cs_dataset_XXXXXX", NULL);
    return tmp_root ? 0 : -1;
}

static void rm_rf(const char *path)
{
    GDir *d = g_dir_open(path, 0, NULL);
    if (d) {
        for (const char *n; (n = g_dir_read_name(d));) {
            char *p = g_build_filename(path, n, NULL);
            if (g_file_test(p, G_FILE_TEST_IS_DIR) && !g_file_test(p, G_FILE_TEST_IS_SYMLINK))
                rm_rf(p);
            else
                g_unlink(p);
            g_free(p);
        }
        g_dir_close(d);
    }
    g_rmdir(path);
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
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_missing_files),
        cmocka_unit_test(test_header_errors),
        cmocka_unit_test(test_row_errors),
        cmocka_unit_test(test_leakage_in_file),
        cmocka_unit_test(test_images),
        cmocka_unit_test(test_overlap),
        cmocka_unit_test(test_writer_round_trip),
        cmocka_unit_test(test_splits),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
