/* File formats (camstream/formats.h) and preprocessing (camstream/preprocess.h).
 *
 * Model descriptions: the committed example, defaults, every kind of error with its
 * `FILE:LINE: key: reason` message, and the check against a model. Statistics files: each
 * kind, errors, and the writer's round trip (inline and sibling TensorProto files).
 * Preprocessing: hand-computed tensors for every pixel format, preset, resize mode and
 * statistics kind, the frame mapping, the previous CLI implementation as a reference on a
 * random image, and the time per 640×480 frame (printed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "camstream/formats.h"
#include "camstream/preprocess.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char src_dir[1024];
static char tmp_dir[256];

static const char *src_path(const char *rel, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", src_dir, rel);
    return buf;
}

static const char *tmp_write(const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* Parses text as a description named NAME in the temp dir; expects failure with a message
 * containing each of the given fragments. */
static void desc_fails(const char *text, const char *frag1, const char *frag2)
{
    const char *p = tmp_write("bad.model", text);
    cs_error err = {0};
    cs_model_desc *d = cs_model_desc_load(p, &err);
    if (d) fail_msg("parsed, expected an error containing '%s':\n%s", frag1, text);
    if (!strstr(err.msg, frag1) || (frag2 && !strstr(err.msg, frag2)))
        fail_msg("message '%s' lacks '%s' / '%s'", err.msg, frag1, frag2 ? frag2 : "");
}

static void stats_fails(const char *text, const char *frag1, const char *frag2)
{
    const char *p = tmp_write("bad.stats", text);
    cs_error err = {0};
    cs_statistics *st = cs_statistics_load(p, &err);
    if (st) fail_msg("parsed, expected an error containing '%s':\n%s", frag1, text);
    if (!strstr(err.msg, frag1) || (frag2 && !strstr(err.msg, frag2)))
        fail_msg("message '%s' lacks '%s' / '%s'", err.msg, frag1, frag2 ? frag2 : "");
}

/* ---- model descriptions ------------------------------------------------------------------ */

static void desc_example(void **state)
{
    (void)state;
    char p[1100];
    cs_error err = {0};
    cs_model_desc *d =
        cs_model_desc_load(src_path("tests/data/formats/gap_cnn.model", p, sizeof p), &err);
    if (!d) fail_msg("%s", err.msg);
    assert_non_null(
        strstr(d->model_file, "tests/data/formats/../../models/gap_cnn_op13/model.onnx"));
    assert_string_equal(d->name, "gap_cnn");
    assert_string_equal(d->id, "gap_cnn-op13");
    assert_string_equal(d->preset, "imagenet");
    assert_int_equal(d->pp.resize, CS_RESIZE_LETTERBOX);
    assert_int_equal(d->pp.scale, CS_SCALE_01);
    assert_true(fabsf(d->pp.mean[0] - 0.485f) < 1e-7f && fabsf(d->pp.std[2] - 0.225f) < 1e-7f);
    assert_int_equal(d->n_labels, 10);
    assert_string_equal(d->labels[3], "cat");
    assert_string_equal(d->labels[9], "truck");
    assert_string_equal(d->classes, "output");
    assert_int_equal(d->classes_activation, CS_CLASSES_SOFTMAX);
    assert_string_equal(d->explain_method, "gradcam");
    assert_non_null(d->explain_layer);
    assert_null(d->boxes);
    assert_null(d->statistics);

    cs_model *m = cs_model_load_file(d->model_file, &err);
    if (!m) fail_msg("%s", err.msg);
    if (cs_model_desc_check(d, m, &err) != CS_OK) fail_msg("%s", err.msg);
    const cs_tensor *x = cs_model_desc_input(d, m, &err);
    assert_non_null(x);
    assert_int_equal(x->dims[1], 3);
    assert_int_equal(x->dims[2], 32);

    /* A label count that does not match the model's 10 classes names the labels line. */
    cs_model_desc_destroy(&d);
    char text[2048];
    snprintf(text, sizeof text,
             "[model]\nfile = %s/tests/models/gap_cnn_op13/model.onnx\n[labels]\n"
             "names = a;b;c\n[heads]\nclasses = output\n",
             src_dir);
    d = cs_model_desc_load_data(text, strlen(text), "x.model", &err);
    if (!d) fail_msg("%s", err.msg);
    assert_int_equal(cs_model_desc_check(d, m, &err), CS_ERR_INVALID);
    assert_non_null(strstr(err.msg, "x.model:4: labels: 3 labels for 10 class scores"));
    cs_model_desc_destroy(&d);
    /* A head that is no tensor of the model. */
    snprintf(text, sizeof text,
             "[model]\nfile = %s/tests/models/gap_cnn_op13/model.onnx\n\n[heads]\nclasses = "
             "nope\n",
             src_dir);
    d = cs_model_desc_load_data(text, strlen(text), "x.model", &err);
    assert_non_null(d);
    assert_int_equal(cs_model_desc_check(d, m, &err), CS_ERR_INVALID);
    assert_non_null(strstr(err.msg, "x.model:5: classes: 'nope' is not a tensor"));
    assert_non_null(strstr(err.msg, "outputs: output"));
    cs_model_desc_destroy(&d);
    snprintf(text, sizeof text,
             "[model]\nfile = %s/tests/models/gap_cnn_op13/model.onnx\ninput = image\n", src_dir);
    d = cs_model_desc_load_data(text, strlen(text), "x.model", &err);
    assert_non_null(d);
    assert_null(cs_model_desc_input(d, m, &err));
    assert_non_null(strstr(err.msg, "x.model:3: input: 'image' is not an input"));
    cs_model_desc_destroy(&d);
    cs_model_destroy(&m);
    cs_model_desc_destroy(&d); /* safe twice */
}

static void desc_defaults_and_open(void **state)
{
    (void)state;
    cs_error err = {0};
    const char *text = "[model]\nfile = m.onnx\n";
    cs_model_desc *d = cs_model_desc_load_data(text, strlen(text), "/a/b/cls.model", &err);
    if (!d) fail_msg("%s", err.msg);
    assert_string_equal(d->model_file, "/a/b/m.onnx");
    assert_string_equal(d->name, "cls");
    assert_string_equal(d->id, "cls");
    assert_string_equal(d->preset, "imagenet");
    assert_int_equal(d->pp.resize, CS_RESIZE_STRETCH);
    assert_int_equal(d->box_format, CS_BOX_CXCYWH);
    assert_int_equal(d->box_coords, CS_COORDS_NORMALIZED);
    assert_int_equal(d->keypoint_coords, CS_KP_BOX);
    assert_null(d->labels);
    cs_model_desc_destroy(&d);

    /* Explicit values without a preset start from none; with one, they override it. */
    text = "[model]\nfile = m.onnx\n[preprocess]\nmean = 1, 2, 3\norder = bgr\nscale = 255\n";
    d = cs_model_desc_load_data(text, strlen(text), "m.model", &err);
    if (!d) fail_msg("%s", err.msg);
    assert_string_equal(d->preset, "none");
    assert_true(d->pp.mean[2] == 3.0f && d->pp.std[0] == 1.0f && d->pp.bgr &&
                d->pp.scale == CS_SCALE_255);
    cs_model_desc_destroy(&d);
    text = "[model]\nfile = m.onnx\n[preprocess]\npreset = caffe\nresize = crop\n";
    d = cs_model_desc_load_data(text, strlen(text), "m.model", &err);
    assert_non_null(d);
    assert_true(d->pp.bgr && d->pp.scale == CS_SCALE_255 && d->pp.resize == CS_RESIZE_CROP);
    assert_true(fabsf(d->pp.mean[0] - 103.939f) < 1e-4f);
    cs_model_desc_destroy(&d);

    /* Heads, keypoints, skeleton by index and by name, inline labels. */
    text = "[model]\nfile = m.onnx\n[labels]\nnames = a; b ;c\n[heads]\nboxes = box\n"
           "box_format = xyxy\nbox_coords = pixels\nkeypoint_heatmaps = heat\n"
           "keypoint_coords = image\nkeypoint_names = nose;eye;ear\nskeleton = 0-1, eye-ear\n";
    d = cs_model_desc_load_data(text, strlen(text), "m.model", &err);
    if (!d) fail_msg("%s", err.msg);
    assert_int_equal(d->n_labels, 3);
    assert_string_equal(d->labels[1], "b");
    assert_int_equal(d->box_format, CS_BOX_XYXY);
    assert_int_equal(d->box_coords, CS_COORDS_PIXELS);
    assert_string_equal(d->keypoint_heatmaps, "heat");
    assert_int_equal(d->keypoint_coords, CS_KP_IMAGE);
    assert_int_equal(d->n_skeleton, 2);
    assert_int_equal(d->skeleton[1][0], 1);
    assert_int_equal(d->skeleton[1][1], 2);
    cs_model_desc_destroy(&d);

    /* open: .onnx (and protobuf content) is a bare model with the defaults. */
    char p[1100];
    d = cs_model_desc_open(src_path("tests/models/gap_cnn_op13/model.onnx", p, sizeof p), &err);
    assert_non_null(d);
    assert_null(d->path);
    assert_string_equal(d->model_file, p);
    assert_string_equal(d->name, "model");
    assert_string_equal(d->preset, "imagenet");
    cs_model_desc_destroy(&d);
    d = cs_model_desc_open(src_path("tests/data/formats/gap_cnn.model", p, sizeof p), &err);
    assert_non_null(d);
    assert_non_null(d->path);
    cs_model_desc_destroy(&d);
    assert_null(cs_model_desc_open("/nonexistent/x.model", &err));
    assert_non_null(strstr(err.msg, "/nonexistent/x.model"));
}

static void desc_errors(void **state)
{
    (void)state;
    desc_fails("[model]\nfile = m.onnx\n[weird]\n", "bad.model:3: unknown group [weird]",
               "allowed: [model], [preprocess], [labels], [heads], [explain]");
    desc_fails("[model]\nfile = m.onnx\nfiel = x\n", "bad.model:3: fiel: unknown key in [model]",
               "allowed: file, name, id, input");
    desc_fails("# c\n\n[model]\nfile = m.onnx\n[preprocess]\nscale = 2\n",
               "bad.model:6: scale: '2' is not one of 01, 11, 255", NULL);
    desc_fails("[model]\nfile = m.onnx\n[preprocess]\npreset = pytorch\n",
               "bad.model:4: preset: 'pytorch' is not one of imagenet, caffe, tf, none", NULL);
    desc_fails("[model]\nfile = m.onnx\n[preprocess]\nresize = fit\n",
               "resize: 'fit' is not one of stretch, letterbox, crop", NULL);
    desc_fails("[model]\nfile = m.onnx\n[preprocess]\norder = grb\n",
               "bad.model:4: order:", "rgb, bgr");
    desc_fails("[model]\nfile = m.onnx\n[preprocess]\nmean = 1,2\n",
               "bad.model:4: mean: 2 numbers, 3 expected", NULL);
    desc_fails("[model]\nfile = m.onnx\n[preprocess]\nstd = 1,0,1\n",
               "bad.model:4: std: value 2 is 0; must be > 0", NULL);
    desc_fails("[model]\nfile = m.onnx\n[preprocess]\nmean = 1,x,3\n",
               "bad.model:4: mean: number 2 ('x') is not a finite number", NULL);
    desc_fails("[model]\nfile = m.onnx\nfile = n.onnx\n",
               "bad.model:3: file: given twice (first on line 2)", NULL);
    desc_fails("[model]\nfile = m.onnx\n[model]\n", "bad.model:3: [model] appears twice", NULL);
    desc_fails("[model]\nfile = m.onnx\nthis is not a key\n",
               "bad.model:3: 'this is not a key' is not key = value", NULL);
    desc_fails("file = m.onnx\n", "bad.model:1: a key before the first [group]", NULL);
    desc_fails("[model\n", "bad.model:1: '[model' is not a [group] header", NULL);
    desc_fails("[labels]\nnames = a\n", "bad.model: no [model] group", NULL);
    desc_fails("[model]\nname = x\n", "bad.model:1: [model]: file: missing", NULL);
    desc_fails("[model]\nfile =\n", "bad.model:2: file: empty value", NULL);
    desc_fails("[model]\nfile = m.onnx\n[labels]\nfile = l.txt\nnames = a\n",
               "bad.model:5: names: give file or names, not both", NULL);
    desc_fails("[model]\nfile = m.onnx\n[labels]\nnames = a;;b\n", "bad.model:4: names: item 2",
               NULL);
    desc_fails("[model]\nfile = m.onnx\n[labels]\nfile = missing-labels.txt\n",
               "bad.model:4: file:", "missing-labels.txt");
    desc_fails("[model]\nfile = m.onnx\n[heads]\nbox_format = xyxy\n",
               "bad.model:4: box_format: needs boxes", NULL);
    desc_fails("[model]\nfile = m.onnx\n[heads]\nboxes = b\nbox_coords = percent\n",
               "bad.model:5: box_coords: 'percent' is not one of normalized, pixels", NULL);
    desc_fails("[model]\nfile = m.onnx\n[heads]\nkeypoints = k\nskeleton = 0-1,1\n",
               "bad.model:5: skeleton: '1' is not a pair", NULL);
    desc_fails("[model]\nfile = m.onnx\n[heads]\nkeypoints = k\nkeypoint_names = a;b\n"
               "skeleton = 0-2\n",
               "bad.model:6: skeleton: joint 2 in pair 0-2: only 2 keypoint_names", NULL);
    desc_fails("[model]\nfile = m.onnx\n[heads]\nkeypoints = k\nskeleton = nose-1\n",
               "skeleton: 'nose' in 'nose-1' is neither a joint index", NULL);
    desc_fails("[model]\nfile = m.onnx\n[heads]\nkeypoints = k\nkeypoint_heatmaps = h\n",
               "bad.model:5: keypoint_heatmaps: give keypoints", NULL);
    desc_fails("[model]\nfile = m.onnx\n[explain]\nmethod = magic\n",
               "bad.model:4: method: 'magic' is not one of cam, gradcam", NULL);
    desc_fails("[model]\nfile = m.onnx\n[preprocess]\nstatistics = nope.stats\n",
               "bad.model:4: statistics:", "nope.stats");
    tmp_write("ok.stats", "[statistics]\nkind = mean-std\nchannels = 3\nmean = 0;0;0\n"
                          "std = 1;1;1\n");
    desc_fails("[model]\nfile = m.onnx\n[preprocess]\nstatistics = ok.stats\nmean = 1,2,3\n",
               "bad.model:5: mean: conflicts with statistics", NULL);
    /* The statistics file's own error, with its line, inside the description's. */
    tmp_write("broken.stats", "[statistics]\nkind = mean-std\nchannels = 3\nmean = 0;0\n");
    desc_fails("[model]\nfile = m.onnx\n[preprocess]\nstatistics = broken.stats\n",
               "bad.model:4: statistics: ", "broken.stats:4: mean: 2 numbers, 3 expected");
    /* A labels file with an empty line in the middle. */
    tmp_write("holes.txt", "a\n\nb\n");
    desc_fails("[model]\nfile = m.onnx\n[labels]\nfile = holes.txt\n", "holes.txt:2: empty label",
               NULL);
    /* Binary junk. */
    desc_fails("[model]\nfile = m\x01\x02\n\x80\x81\x82 = \xff\n", "bad.model:3:", NULL);
}

/* A description naming a statistics file loads it; pp then describes the file's data. */
static void desc_with_statistics(void **state)
{
    (void)state;
    cs_error err = {0};
    char stats[1100];
    src_path("tests/data/formats/zca.stats", stats, sizeof stats);
    char text[1400];
    snprintf(text, sizeof text,
             "[model]\nfile = m.onnx\n[preprocess]\nresize = crop\nstatistics = %s\n", stats);
    cs_model_desc *d = cs_model_desc_load_data(text, strlen(text), "s.model", &err);
    if (!d) fail_msg("%s", err.msg);
    assert_non_null(d->statistics);
    assert_int_equal(d->statistics->kind, CS_STATS_ZCA);
    assert_string_equal(d->statistics_file, stats);
    assert_int_equal(d->pp.resize, CS_RESIZE_CROP);
    assert_true(d->pp.mean[0] == 0.0f && d->pp.std[2] == 1.0f);
    cs_model_desc_destroy(&d);
    src_path("tests/data/formats/imagenet.stats", stats, sizeof stats);
    snprintf(text, sizeof text, "[model]\nfile = m.onnx\n[preprocess]\nstatistics = %s\n", stats);
    d = cs_model_desc_load_data(text, strlen(text), "s.model", &err);
    if (!d) fail_msg("%s", err.msg);
    assert_true(d->pp.mean[1] == 0.456f && d->pp.std[1] == 0.224f);
    cs_model_desc_destroy(&d);
}

/* ---- statistics files -------------------------------------------------------------------- */

static void stats_parse(void **state)
{
    (void)state;
    char p[1100];
    cs_error err = {0};
    cs_statistics *st =
        cs_statistics_load(src_path("tests/data/formats/zca.stats", p, sizeof p), &err);
    if (!st) fail_msg("%s", err.msg);
    assert_int_equal(st->kind, CS_STATS_ZCA);
    assert_int_equal(st->channels, 3);
    assert_int_equal(st->dim, 3);
    assert_int_equal(st->feature, CS_FEATURE_CHANNEL);
    assert_true(st->mean[1] == 0.4f);
    assert_true(st->matrix[4] == 5.0f && st->matrix[5] == -1.0f);
    assert_string_equal(st->fitted_on, "example/train");
    assert_int_equal(st->samples, 1000);
    assert_true(fabsf(st->epsilon - 1e-5f) < 1e-12f);
    cs_statistics_destroy(&st);
    cs_statistics_destroy(&st);
    st = cs_statistics_load(src_path("tests/data/formats/imagenet.stats", p, sizeof p), &err);
    if (!st) fail_msg("%s", err.msg);
    assert_int_equal(st->kind, CS_STATS_MEAN_STD);
    assert_true(st->std[2] == 0.225f);
    assert_null(st->matrix);
    cs_statistics_destroy(&st);

    stats_fails("[statistics]\nkind = whiten\n",
                "bad.stats:2: kind: 'whiten' is not one of "
                "mean-std, mean-image, pca, zca",
                NULL);
    stats_fails("[statistics]\nkind = zca\nchannels = 3\nmean = 0;0;0\n",
                "bad.stats:1: [statistics]: matrix: missing (3x3 numbers", NULL);
    stats_fails("[statistics]\nkind = zca\nchannels = 3\nmean = 0;0;0\nmatrix = 1;2;3\n",
                "bad.stats:5: matrix: 3 numbers, 9 expected", NULL);
    stats_fails("[statistics]\nkind = pca\nchannels = 2\n",
                "bad.stats:3: channels: 2 is not 1 or 3", NULL);
    stats_fails("[statistics]\nkind = pca\nchannels = 3\nfeature = patch\n",
                "bad.stats:4: feature: patch needs the key patch", NULL);
    stats_fails("[statistics]\nkind = mean-std\nchannels = 3\nmean = 0;0;0\nstd = 1;-1;1\n",
                "bad.stats:5: std: value 2 is -1; must be > 0", NULL);
    stats_fails("[statistics]\nkind = mean-std\nchannels = 3\nmean = 0;0;0\nstd = 1;1;1\n"
                "matrix = 1\n",
                "bad.stats:6: matrix: only for kind = pca or zca", NULL);
    stats_fails("[statistics]\nkind = mean-image\nchannels = 3\nsize = 4x4\nmean_image = no.pb\n",
                "bad.stats:5: mean_image:", "no.pb");
    stats_fails("[statistics]\nkind = mean-image\nchannels = 3\nsize = 4\n",
                "bad.stats:4: size: '4' is not WxH", NULL);
    stats_fails("[statistics]\nkind = zca\nchannels = 3\nmean = 0;0;0\nepsilon = -1\n"
                "matrix = 1;0;0;0;1;0;0;0;1\n",
                "bad.stats:5: epsilon: -1 is negative", NULL);
    stats_fails("[statistics]\nkind = zca\nchannels = 3\nmean = 0;0;0\ncolour = 1\n",
                "bad.stats:5: colour: unknown key in [statistics]", NULL);
    stats_fails("[stats]\n", "bad.stats:1: unknown group [stats] (allowed: [statistics])", NULL);
    stats_fails("# empty\n", "bad.stats: no [statistics] group", NULL);
    assert_null(cs_statistics_load("/nonexistent.stats", &err));
    assert_non_null(strstr(err.msg, "/nonexistent.stats"));
}

static void stats_write_round_trip(void **state)
{
    (void)state;
    cs_error err = {0};
    char path[512];
    /* ZCA on channels: inline. */
    cs_statistics *st = cs_statistics_new(CS_STATS_ZCA, 3, 0, 0, 0);
    assert_non_null(st);
    for (int i = 0; i < 9; i++) st->matrix[i] = (float)(i + 1) / 7.0f;
    st->mean[0] = 0.1f, st->mean[1] = 0.2f, st->mean[2] = 1.0f / 3;
    st->epsilon = 1e-3f;
    st->fitted_on = strdup("set/train");
    st->samples = 42;
    snprintf(path, sizeof path, "%s/w.stats", tmp_dir);
    assert_int_equal(cs_statistics_write(path, st, &err), CS_OK);
    cs_statistics *r = cs_statistics_load(path, &err);
    if (!r) fail_msg("%s", err.msg);
    assert_int_equal(r->kind, CS_STATS_ZCA);
    assert_null(r->matrix_file);
    assert_memory_equal(r->matrix, st->matrix, sizeof(float) * 9);
    assert_memory_equal(r->mean, st->mean, sizeof(float) * 3);
    assert_true(r->epsilon == st->epsilon);
    assert_string_equal(r->fitted_on, "set/train");
    assert_int_equal(r->samples, 42);
    cs_statistics_destroy(&r);
    cs_statistics_destroy(&st);

    /* PCA on 2×2 patches of 3 channels (D = 12): the matrix goes to w2.W.pb. */
    st = cs_statistics_new(CS_STATS_PCA, 3, 2, 0, 0);
    assert_non_null(st);
    assert_int_equal(st->dim, 12);
    for (int i = 0; i < 144; i++) st->matrix[i] = (float)sin(i);
    for (int i = 0; i < 12; i++) st->mean[i] = (float)i / 12;
    st->bgr = 1;
    st->scale = CS_SCALE_255;
    snprintf(path, sizeof path, "%s/w2.stats", tmp_dir);
    assert_int_equal(cs_statistics_write(path, st, &err), CS_OK);
    r = cs_statistics_load(path, &err);
    if (!r) fail_msg("%s", err.msg);
    assert_string_equal(r->matrix_file, "w2.W.pb");
    assert_int_equal(r->feature, CS_FEATURE_PATCH);
    assert_int_equal(r->patch, 2);
    assert_true(r->bgr && r->scale == CS_SCALE_255);
    assert_memory_equal(r->matrix, st->matrix, sizeof(float) * 144);
    assert_memory_equal(r->mean, st->mean, sizeof(float) * 12);
    cs_statistics_destroy(&r);
    cs_statistics_destroy(&st);

    /* A mean image: w3.mean.pb. */
    st = cs_statistics_new(CS_STATS_MEAN_IMAGE, 3, 0, 5, 4);
    assert_non_null(st);
    for (int i = 0; i < 60; i++) st->mean_image[i] = (float)i / 60;
    st->std[1] = 2;
    snprintf(path, sizeof path, "%s/w3.stats", tmp_dir);
    assert_int_equal(cs_statistics_write(path, st, &err), CS_OK);
    r = cs_statistics_load(path, &err);
    if (!r) fail_msg("%s", err.msg);
    assert_int_equal(r->width, 5);
    assert_int_equal(r->height, 4);
    assert_string_equal(r->mean_image_file, "w3.mean.pb");
    assert_memory_equal(r->mean_image, st->mean_image, sizeof(float) * 60);
    assert_true(r->std[1] == 2.0f);
    cs_statistics_destroy(&r);
    /* The mean image file has the wrong size for the statistics that name it. */
    tmp_write("w4.stats", "[statistics]\nkind = mean-image\nchannels = 3\nsize = 4x5\n"
                          "mean_image = w3.mean.pb\n");
    snprintf(path, sizeof path, "%s/w4.stats", tmp_dir);
    assert_null(cs_statistics_load(path, &err));
    assert_non_null(strstr(err.msg, "w4.stats:5: mean_image:"));
    assert_non_null(strstr(err.msg, "3x5x4 floats expected"));
    /* Writing without the data the kind needs fails. */
    free(st->mean_image);
    st->mean_image = NULL;
    assert_int_equal(cs_statistics_write(path, st, &err), CS_ERR_INVALID);
    cs_statistics_destroy(&st);
}

/* Mutated descriptions and statistics files: parsed or refused with a message, never a crash
 * (run under ASan in the sanitizer builds). */
static void parsers_survive_garbage(void **state)
{
    (void)state;
    const char *desc = "[model]\nfile = m.onnx\nname = n\n[preprocess]\npreset = caffe\n"
                       "mean = 1,2,3\nresize = crop\n[labels]\nnames = a;b\n[heads]\n"
                       "keypoints = k\nkeypoint_names = a;b\nskeleton = 0-1,a-b\n"
                       "[explain]\nmethod = cam\n";
    const char *stats = "[statistics]\nkind = zca\nchannels = 3\nfeature = channel\n"
                        "mean = 0.5;0.4;0.3\nmatrix = 1;0;0;0;1;0;0;0;1\nfitted_on = x\n";
    const char *alphabet = "[]=;,-#\n \t0123456789abcxyz.\x01\xff";
    uint32_t seed = 7;
    for (int k = 0; k < 2; k++) {
        const char *base = k ? stats : desc;
        size_t n = strlen(base);
        char *buf = malloc(n + 1);
        for (int it = 0; it < 3000; it++) {
            memcpy(buf, base, n + 1);
            int edits = 1 + it % 4;
            for (int e = 0; e < edits; e++) {
                seed = seed * 1664525u + 1013904223u;
                size_t at = (seed >> 8) % n;
                seed = seed * 1664525u + 1013904223u;
                buf[at] = alphabet[(seed >> 8) % strlen(alphabet)];
            }
            size_t len = it % 7 == 0 ? (seed >> 4) % n : n; /* sometimes truncated */
            cs_error err = {0};
            if (k) {
                cs_statistics *st = cs_statistics_load_data(buf, len, "g.stats", &err);
                if (!st) assert_true(err.msg[0] != 0);
                cs_statistics_destroy(&st);
            } else {
                cs_model_desc *d = cs_model_desc_load_data(buf, len, "g.model", &err);
                if (!d) assert_true(err.msg[0] != 0);
                cs_model_desc_destroy(&d);
            }
        }
        free(buf);
    }
}

/* ---- preprocessing ------------------------------------------------------------------------- */

static void assert_near(float got, float want, float tol, const char *what, int i)
{
    if (!(fabsf(got - want) <= tol))
        fail_msg("%s[%d] = %.7g, want %.7g (±%g)", what, i, got, want, tol);
}

/* Runs o on one frame; out must hold C·H·W floats. */
static void run_pp(const cs_pp_opts *o, const cs_statistics *st, const cs_frame *f, int C, int H,
                   int W, float *out, cs_pp_geom *g)
{
    cs_error err = {0};
    cs_pp *pp = cs_pp_new(o, st, C, H, W, &err);
    if (!pp) fail_msg("%s", err.msg);
    if (cs_pp_run(pp, f, out, g, &err) != CS_OK) fail_msg("%s", err.msg);
    cs_pp_destroy(&pp);
    cs_pp_destroy(&pp);
}

static cs_pp_opts preset(const char *name, cs_resize_mode m)
{
    cs_pp_opts o = {.resize = m};
    assert_int_equal(cs_pp_preset(name, &o), 0);
    return o;
}

static void pp_options(void **state)
{
    (void)state;
    cs_pp_opts o = {.resize = CS_RESIZE_CROP};
    assert_int_equal(cs_pp_preset("caffe", &o), 0);
    assert_int_equal(o.resize, CS_RESIZE_CROP);
    assert_string_equal(cs_pp_preset_of(&o), "caffe");
    o.mean[0] = 1;
    assert_null(cs_pp_preset_of(&o));
    assert_int_equal(cs_pp_preset("pytorch", &o), -1);
    cs_resize_mode m;
    assert_int_equal(cs_pp_parse_resize("letterbox", &m), 0);
    assert_int_equal(m, CS_RESIZE_LETTERBOX);
    assert_int_equal(cs_pp_parse_resize("fit", &m), -1);
    cs_scale s;
    assert_int_equal(cs_pp_parse_scale("11", &s), 0);
    assert_int_equal(s, CS_SCALE_11);
    assert_int_equal(cs_pp_parse_scale("1", &s), -1);
    int bgr;
    assert_int_equal(cs_pp_parse_order("bgr", &bgr), 0);
    assert_true(bgr);
    float v[3];
    assert_int_equal(cs_pp_parse_triplet("1,2.5,-3", v), 0);
    assert_true(v[1] == 2.5f && v[2] == -3.0f);
    assert_int_equal(cs_pp_parse_triplet("1; 2; 3", v), 0);
    assert_int_equal(cs_pp_parse_triplet("1,2", v), -1);
    assert_int_equal(cs_pp_parse_triplet("1,2,3,4", v), -1);
    assert_int_equal(cs_pp_parse_triplet("1,nan,3", v), -1);
    assert_int_equal(cs_pp_parse_triplet("a,b,c", v), -1);

    cs_error err = {0};
    assert_null(cs_pp_new(&o, NULL, 2, 8, 8, &err));
    assert_non_null(strstr(err.msg, "2 input channels"));
    o.std[1] = 0;
    assert_null(cs_pp_new(&o, NULL, 3, 8, 8, &err));
    assert_non_null(strstr(err.msg, "std of channel 1"));
    o = preset("none", CS_RESIZE_STRETCH);
    cs_pp *pp = cs_pp_new(&o, NULL, 3, 4, 4, &err);
    assert_non_null(pp);
    uint8_t px[12] = {0};
    float out[48];
    cs_frame f = {.format = CS_PIX_RGB, .width = 4, .height = 1, .data = {px}, .stride = {11}};
    assert_int_equal(cs_pp_run(pp, &f, out, NULL, &err), CS_ERR_INVALID);
    assert_non_null(strstr(err.msg, "stride 11, at least 12"));
    f.stride[0] = 12;
    f.format = CS_PIX_I420;
    assert_int_equal(cs_pp_run(pp, &f, out, NULL, &err), CS_ERR_INVALID);
    assert_non_null(strstr(err.msg, "plane 1 missing"));
    cs_pp_destroy(&pp);
}

/* Identity size: every preset on known pixels, exact up to float rounding. */
static void pp_presets_identity(void **state)
{
    (void)state;
    const uint8_t rgb[2 * 2 * 3] = {0, 128, 255, 10, 20, 30, 200, 100, 50, 255, 255, 255};
    cs_frame f = {.format = CS_PIX_RGB, .width = 2, .height = 2, .data = {rgb}, .stride = {6}};
    float out[12];
    const char *names[] = {"imagenet", "caffe", "tf", "none"};
    for (int k = 0; k < 4; k++) {
        cs_pp_opts o = preset(names[k], CS_RESIZE_STRETCH);
        run_pp(&o, NULL, &f, 3, 2, 2, out, NULL);
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < 4; i++) {
                float p = rgb[i * 3 + (o.bgr ? 2 - c : c)];
                float s = o.scale == CS_SCALE_01   ? p / 255.0f
                          : o.scale == CS_SCALE_11 ? p / 127.5f - 1.0f
                                                   : p;
                assert_near(out[c * 4 + i], (s - o.mean[c]) / o.std[c], 2e-5f * (1 + fabsf(s)),
                            names[k], c * 4 + i);
            }
    }
    /* Hand-computed: imagenet, pixel (0,128,255) channel 0: (0 - .485)/.229. */
    cs_pp_opts o = preset("imagenet", CS_RESIZE_STRETCH);
    run_pp(&o, NULL, &f, 3, 2, 2, out, NULL);
    assert_near(out[0], -2.1179039f, 1e-5f, "imagenet", 0);
    assert_near(out[4], (128 / 255.0f - 0.456f) / 0.224f, 1e-5f, "imagenet", 4);
    assert_near(out[8], 2.64f, 1e-4f, "imagenet", 8);
    /* caffe: channel 0 is blue minus 103.939. */
    o = preset("caffe", CS_RESIZE_STRETCH);
    run_pp(&o, NULL, &f, 3, 2, 2, out, NULL);
    assert_near(out[0], 255 - 103.939f, 1e-4f, "caffe", 0);
    assert_near(out[8], 0 - 123.68f, 1e-4f, "caffe", 8);
    /* tf: [-1, 1]. */
    o = preset("tf", CS_RESIZE_STRETCH);
    run_pp(&o, NULL, &f, 3, 2, 2, out, NULL);
    assert_near(out[0], -1.0f, 1e-6f, "tf", 0);
    assert_near(out[8], 1.0f, 1e-6f, "tf", 8);
    assert_near(out[3], 1.0f, 1e-6f, "tf", 3);
    /* One channel: luma. */
    o = preset("none", CS_RESIZE_STRETCH);
    run_pp(&o, NULL, &f, 1, 2, 2, out, NULL);
    assert_near(out[1], (0.299f * 10 + 0.587f * 20 + 0.114f * 30) / 255, 1e-6f, "luma", 1);
}

/* The same colour in every packed format, with padded strides, and in GRAY8. */
static void pp_packed_formats(void **state)
{
    (void)state;
    const int w = 3, h = 2, stride = 16;
    const uint8_t R = 200, G = 60, B = 9;
    struct {
        cs_pixfmt f;
        int bpp, r, g, b;
    } t[] = {{CS_PIX_RGB, 3, 0, 1, 2},  {CS_PIX_BGR, 3, 2, 1, 0},  {CS_PIX_RGBA, 4, 0, 1, 2},
             {CS_PIX_BGRA, 4, 2, 1, 0}, {CS_PIX_RGBX, 4, 0, 1, 2}, {CS_PIX_BGRX, 4, 2, 1, 0}};
    cs_pp_opts o = preset("none", CS_RESIZE_STRETCH);
    float out[3 * 4 * 5];
    for (size_t k = 0; k < sizeof t / sizeof t[0]; k++) {
        uint8_t buf[2 * 16];
        memset(buf, 0xEE, sizeof buf); /* stride padding holds junk */
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                uint8_t *p = buf + y * stride + x * t[k].bpp;
                p[t[k].r] = R, p[t[k].g] = G, p[t[k].b] = B;
                if (t[k].bpp == 4) p[3] = 77;
            }
        cs_frame f = {.format = t[k].f, .width = w, .height = h, .data = {buf}, .stride = {stride}};
        run_pp(&o, NULL, &f, 3, 4, 5, out, NULL); /* upscaled: still uniform */
        for (int i = 0; i < 20; i++) {
            assert_near(out[i], R / 255.0f, 1e-5f, cs_pixfmt_name(t[k].f), i);
            assert_near(out[20 + i], G / 255.0f, 1e-5f, cs_pixfmt_name(t[k].f), 20 + i);
            assert_near(out[40 + i], B / 255.0f, 1e-5f, cs_pixfmt_name(t[k].f), 40 + i);
        }
    }
    uint8_t gray[2 * 8] = {0, 100, 200, 1, 1, 1, 1, 1, 50, 150, 250};
    cs_frame f = {.format = CS_PIX_GRAY8, .width = 3, .height = 2, .data = {gray}, .stride = {8}};
    run_pp(&o, NULL, &f, 3, 2, 3, out, NULL);
    for (int c = 0; c < 3; c++) {
        assert_near(out[c * 6 + 1], 100 / 255.0f, 1e-6f, "gray", c * 6 + 1);
        assert_near(out[c * 6 + 5], 250 / 255.0f, 1e-6f, "gray", c * 6 + 5);
    }
    run_pp(&o, NULL, &f, 1, 2, 3, out, NULL);
    assert_near(out[3], 50 / 255.0f, 1e-6f, "gray1", 3);
}

/* YUV: uniform colours through BT.601 limited range, BT.709 and full range; odd sizes. */
static void pp_yuv(void **state)
{
    (void)state;
    cs_pp_opts o = preset("none", CS_RESIZE_STRETCH);
    const int w = 5, h = 3, cw = 3, ch = 2;
    uint8_t Y[3 * 8], U[2 * 4], V[2 * 4], UV[2 * 8];
    memset(Y, 120, sizeof Y);
    memset(U, 90, sizeof U);
    memset(V, 200, sizeof V);
    for (int i = 0; i < 8; i++) UV[2 * i] = 90, UV[2 * i + 1] = 200;
    (void)cw, (void)ch;
    /* BT.601 limited: R = 1.164(Y−16) + 1.596(V−128), G = 1.164(Y−16) − 0.392(U−128) −
     * 0.813(V−128), B = 1.164(Y−16) + 2.017(U−128). */
    double y = (120 - 16) * 255.0 / 219, u = (90 - 128) * 255.0 / 224,
           v = (200 - 128) * 255.0 / 224;
    double kr = 0.299, kb = 0.114, kg = 1 - kr - kb;
    double want601[3] = {y + 2 * (1 - kr) * v,
                         y - 2 * kb * (1 - kb) / kg * u - 2 * kr * (1 - kr) / kg * v,
                         y + 2 * (1 - kb) * u};
    assert_true(fabs(want601[0] - (1.164 * 104 + 1.596 * 72)) < 0.5);
    assert_true(fabs(want601[1] - (1.164 * 104 + 0.392 * 38 - 0.813 * 72)) < 0.5);
    float out[3 * 4 * 4];
    for (int nv = 0; nv < 2; nv++) {
        cs_frame f = {.format = nv ? CS_PIX_NV12 : CS_PIX_I420, .width = w, .height = h};
        f.data[0] = Y, f.stride[0] = 8;
        if (nv)
            f.data[1] = UV, f.stride[1] = 8;
        else
            f.data[1] = U, f.data[2] = V, f.stride[1] = f.stride[2] = 4;
        run_pp(&o, NULL, &f, 3, 4, 4, out, NULL);
        for (int c = 0; c < 3; c++) {
            double want = want601[c] < 0 ? 0 : want601[c] > 255 ? 255 : want601[c];
            for (int i = 0; i < 16; i++)
                assert_near(out[c * 16 + i], (float)(want / 255), 1e-4f, nv ? "nv12" : "i420",
                            c * 16 + i);
        }
        /* One channel: the range-expanded Y. */
        run_pp(&o, NULL, &f, 1, 4, 4, out, NULL);
        assert_near(out[5], (float)(y / 255), 1e-5f, "yuv luma", 5);
        /* BT.709 full range. */
        f.matrix = CS_YUV_BT709;
        f.full_range = 1;
        run_pp(&o, NULL, &f, 3, 4, 4, out, NULL);
        kr = 0.2126, kb = 0.0722, kg = 1 - kr - kb;
        double Yf = 120, Uf = 90 - 128, Vf = 200 - 128;
        double w709[3] = {Yf + 2 * (1 - kr) * Vf,
                          Yf - 2 * kb * (1 - kb) / kg * Uf - 2 * kr * (1 - kr) / kg * Vf,
                          Yf + 2 * (1 - kb) * Uf};
        for (int c = 0; c < 3; c++) {
            double want = w709[c] < 0 ? 0 : w709[c] > 255 ? 255 : w709[c];
            assert_near(out[c * 16 + 7], (float)(want / 255), 1e-4f, "709", c);
        }
        kr = 0.299, kb = 0.114;
    }
    /* A chroma edge: left half U=V=128 (gray), right half strong red; red grows to the right. */
    uint8_t Y2[8 * 2], U2[4], V2[4];
    memset(Y2, 100, sizeof Y2);
    memset(U2, 128, sizeof U2);
    V2[0] = V2[1] = 128, V2[2] = V2[3] = 240;
    cs_frame f = {.format = CS_PIX_I420,
                  .width = 8,
                  .height = 2,
                  .data = {Y2, U2, V2},
                  .stride = {8, 4, 4},
                  .full_range = 1};
    float o8[3 * 2 * 8];
    run_pp(&o, NULL, &f, 3, 2, 8, o8, NULL);
    assert_near(o8[0], 100 / 255.0f, 1e-5f, "edge left", 0);
    assert_true(o8[7] > o8[4] && o8[4] >= o8[3] && o8[3] >= o8[0]);
    assert_near(o8[7], (float)fmin(255, 100 + 1.402 * 112) / 255, 1e-3f, "edge right", 7);
}

/* Letterbox and crop geometry, padding, and the mapping back. */
static void pp_geometry_modes(void **state)
{
    (void)state;
    /* An 8×4 frame into 4×4: letterbox scales by 2 → 4×2 at rows 1–2. */
    uint8_t rgb[8 * 4 * 3];
    for (int i = 0; i < 8 * 4; i++) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = (uint8_t)(i * 7);
    cs_frame f = {.format = CS_PIX_RGB, .width = 8, .height = 4, .data = {rgb}, .stride = {24}};
    cs_pp_opts o = preset("imagenet", CS_RESIZE_LETTERBOX);
    float out[3 * 16];
    cs_pp_geom g;
    run_pp(&o, NULL, &f, 3, 4, 4, out, &g);
    assert_int_equal(g.u0, 0);
    assert_int_equal(g.v0, 1);
    assert_int_equal(g.u1, 4);
    assert_int_equal(g.v1, 3);
    assert_true(g.sx == 2 && g.sy == 2 && g.ox == 0 && g.oy == 0);
    for (int c = 0; c < 3; c++)
        for (int u = 0; u < 4; u++) {
            assert_true(out[c * 16 + u] == 0.0f);      /* row 0: padding */
            assert_true(out[c * 16 + 12 + u] == 0.0f); /* row 3 */
            assert_true(out[c * 16 + 4 + u] != 0.0f);
        }
    /* Output (u=1, v=1) averages the 2×2 block at frame x 2–3, y 0–1 (a triangle of half-width
     * 2 centred at (3, 1): weights 1/4, 3/4, 3/4, 1/4 per axis, renormalized at the edge). */
    double x, y;
    cs_pp_point_to_image(&g, 1, 1, &x, &y);
    assert_true(x == 2 && y == 0);
    double r[4];
    cs_pp_rect_to_image(&g, 0, 0, 4, 4, r);
    assert_true(r[0] == 0 && r[1] == 0 && r[2] == 8 && r[3] == 4); /* clipped to the frame */
    /* Stretch of a uniform frame: exactly the colour. Crop 8×4 → 2×2: centre 4×4. */
    cs_pp_geometry(8, 4, 2, 2, CS_RESIZE_CROP, &g);
    assert_true(g.ox == 2 && g.oy == 0 && g.sx == 2 && g.sy == 2);
    assert_true(g.u0 == 0 && g.u1 == 2);
    cs_pp_geometry(640, 480, 224, 224, CS_RESIZE_LETTERBOX, &g);
    assert_int_equal(g.v0, 28);
    assert_int_equal(g.v1, 196);
    cs_pp_point_to_image(&g, 0, 28, &x, &y);
    assert_true(fabs(x) < 1e-9 && fabs(y) < 1e-9);
    cs_pp_point_to_image(&g, 224, 196, &x, &y);
    assert_true(fabs(x - 640) < 1e-9 && fabs(y - 480) < 1e-9);
    /* Crop: 2×1 blocks of a 4×2 frame with left half 0 and right half 255 → into 2×2 the
     * centre 2×2 is [0 | 255] at scale 1. */
    uint8_t half[4 * 2 * 3];
    for (int yy = 0; yy < 2; yy++)
        for (int xx = 0; xx < 4; xx++)
            for (int c = 0; c < 3; c++) half[(yy * 4 + xx) * 3 + c] = xx < 2 ? 0 : 255;
    cs_frame fh = {.format = CS_PIX_RGB, .width = 4, .height = 2, .data = {half}, .stride = {12}};
    o = preset("none", CS_RESIZE_CROP);
    float oc[3 * 4];
    run_pp(&o, NULL, &fh, 3, 2, 2, oc, &g);
    assert_true(oc[0] == 0.0f && oc[1] == 1.0f && oc[2] == 0.0f && oc[3] == 1.0f);
}

/* Statistics in preprocessing: mean-std, mean image, channel ZCA, patch whitening. */
static void pp_statistics(void **state)
{
    (void)state;
    const uint8_t rgb[2 * 2 * 3] = {0, 128, 255, 10, 20, 30, 200, 100, 50, 255, 255, 255};
    cs_frame f = {.format = CS_PIX_RGB, .width = 2, .height = 2, .data = {rgb}, .stride = {6}};
    cs_pp_opts o = preset("caffe", CS_RESIZE_STRETCH); /* overridden by the statistics */
    float out[12];
    cs_error err = {0};
    char p[1100];

    cs_statistics *st =
        cs_statistics_load(src_path("tests/data/formats/zca.stats", p, sizeof p), &err);
    assert_non_null(st);
    run_pp(&o, st, &f, 3, 2, 2, out, NULL);
    for (int i = 0; i < 4; i++) {
        double d[3];
        for (int c = 0; c < 3; c++) d[c] = rgb[i * 3 + c] / 255.0 - st->mean[c];
        for (int r = 0; r < 3; r++) {
            double want = 0;
            for (int c = 0; c < 3; c++) want += st->matrix[r * 3 + c] * d[c];
            assert_near(out[r * 4 + i], (float)want, 1e-5f, "zca", r * 4 + i);
        }
    }
    /* Hand-computed, pixel 0: d = (−0.5, 0.1019608, 0.6); row 0 of W = (4, −1, 0). */
    assert_near(out[0], 4 * -0.5f - (128 / 255.0f - 0.4f), 1e-5f, "zca hand", 0);
    /* In BGR order the vectors are B, G, R. */
    st->bgr = 1;
    run_pp(&o, st, &f, 3, 2, 2, out, NULL);
    assert_near(out[0], 4 * (255 / 255.0f - 0.5f) - (128 / 255.0f - 0.4f), 1e-5f, "zca bgr", 0);
    cs_statistics_destroy(&st);

    /* mean-std from a file equals the preset. */
    st = cs_statistics_load(src_path("tests/data/formats/imagenet.stats", p, sizeof p), &err);
    assert_non_null(st);
    float ref[12];
    cs_pp_opts in = preset("imagenet", CS_RESIZE_STRETCH);
    run_pp(&in, NULL, &f, 3, 2, 2, ref, NULL);
    run_pp(&o, st, &f, 3, 2, 2, out, NULL);
    for (int i = 0; i < 12; i++) assert_near(out[i], ref[i], 1e-6f, "mean-std", i);
    cs_statistics_destroy(&st);

    /* Mean image at the model size, with a std; and at another size (resampled once). */
    st = cs_statistics_new(CS_STATS_MEAN_IMAGE, 3, 0, 2, 2);
    for (int i = 0; i < 12; i++) st->mean_image[i] = (float)i / 24;
    st->std[0] = 0.5f;
    run_pp(&o, st, &f, 3, 2, 2, out, NULL);
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 4; i++)
            assert_near(out[c * 4 + i],
                        (rgb[i * 3 + c] / 255.0f - st->mean_image[c * 4 + i]) / st->std[c], 1e-5f,
                        "mean-image", c * 4 + i);
    cs_statistics_destroy(&st);
    st = cs_statistics_new(CS_STATS_MEAN_IMAGE, 3, 0, 1, 1);
    st->mean_image[0] = 0.25f, st->mean_image[1] = 0.5f, st->mean_image[2] = 0.75f;
    run_pp(&o, st, &f, 3, 2, 2, out, NULL);
    assert_near(out[4 + 3], 1.0f - 0.5f, 1e-5f, "mean-image 1x1", 7);
    cs_statistics_destroy(&st);

    /* Patch whitening: 2×2 patches, W = 2·I, μ = 0.5: x = 2(s − 0.5); padding stays 0. */
    st = cs_statistics_new(CS_STATS_ZCA, 3, 2, 0, 0);
    for (int i = 0; i < 12; i++) {
        st->matrix[i * 12 + i] = 2;
        st->mean[i] = 0.5f;
    }
    run_pp(&o, st, &f, 3, 2, 2, out, NULL);
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 4; i++)
            assert_near(out[c * 4 + i], 2 * (rgb[i * 3 + c] / 255.0f - 0.5f), 1e-5f, "patch",
                        c * 4 + i);
    /* A permutation matrix moves values inside the patch: out[j] = s[perm j]. */
    memset(st->matrix, 0, sizeof(float) * 144);
    for (int i = 0; i < 12; i++) st->matrix[i * 12 + (11 - i)] = 1, st->mean[i] = 0;
    run_pp(&o, st, &f, 3, 2, 2, out, NULL);
    assert_near(out[0], 255 / 255.0f, 1e-6f, "patch perm", 0); /* s[11] = B of pixel 3 */
    /* Patches must tile the input. */
    assert_null(cs_pp_new(&o, st, 3, 3, 4, &err));
    assert_non_null(strstr(err.msg, "2x2 patches do not tile the model input 4x3"));
    /* Channels must match. */
    assert_null(cs_pp_new(&o, st, 1, 2, 2, &err));
    assert_non_null(strstr(err.msg, "statistics for 3 channels, the model takes 1"));
    cs_statistics_destroy(&st);
}

/* ---- the previous CLI implementation, as a reference ------------------------------------- */

typedef struct {
    int *first, *n;
    float *w;
    int maxn;
} ref_taps;

static void ref_build(ref_taps *a, int in_len, int out_len, double origin, double step)
{
    double support = step > 1 ? step : 1;
    a->maxn = (int)ceil(2 * support) + 2;
    a->first = calloc((size_t)out_len, sizeof(int));
    a->n = calloc((size_t)out_len, sizeof(int));
    a->w = calloc((size_t)out_len * a->maxn, sizeof(float));
    for (int i = 0; i < out_len; i++) {
        double c = origin + (i + 0.5) * step;
        float *w = a->w + (size_t)i * a->maxn;
        if (!(c >= 0 && c <= in_len)) continue;
        int lo = (int)floor(c - support - 0.5), hi = (int)ceil(c + support - 0.5);
        if (lo < 0) lo = 0;
        if (hi > in_len - 1) hi = in_len - 1;
        if (hi - lo + 1 > a->maxn) hi = lo + a->maxn - 1;
        double sum = 0;
        for (int j = lo; j <= hi; j++) {
            double t = 1 - fabs(j + 0.5 - c) / support;
            w[j - lo] = (float)(t > 0 ? t : 0);
            sum += w[j - lo];
        }
        if (sum <= 0) continue;
        for (int j = lo; j <= hi; j++) w[j - lo] = (float)(w[j - lo] / sum);
        a->first[i] = lo;
        a->n[i] = hi - lo + 1;
    }
}

/* acc + w·x rounded as core rounds it: once where the CPU has FMA. */
static float ref_madd(float w, float x, float acc)
{
#ifdef __FMA__
    return fmaf(w, x, acc);
#else
    return acc + w * x;
#endif
}

/* cli/preprocess.c's pp_image_to_tensor before the move to core (RGB8 in), scalar, with the
 * two passes in core's order (vertical, then horizontal: float sums depend on the order). */
static void ref_image_to_tensor(const uint8_t *img, int iw, int ih, const cs_pp_opts *o, int C,
                                int H, int W, float *out)
{
    cs_pp_geom g;
    cs_pp_geometry(iw, ih, W, H, o->resize, &g);
    int nw = g.u1 - g.u0, nh = g.v1 - g.v0;
    ref_taps ax, ay;
    ref_build(&ax, iw, nw, g.ox, g.sx);
    ref_build(&ay, ih, nh, g.oy, g.sy);
    float *tmp = calloc((size_t)nh * iw * 3, sizeof(float));
    float *rs = calloc((size_t)nw * nh * 3, sizeof(float));
    for (int y = 0; y < nh; y++)
        for (int x = 0; x < iw; x++)
            for (int c = 0; c < 3; c++) {
                float acc = 0;
                for (int k = 0; k < ay.n[y]; k++)
                    acc = ref_madd(ay.w[(size_t)y * ay.maxn + k],
                                   img[((size_t)(ay.first[y] + k) * iw + x) * 3 + c], acc);
                tmp[((size_t)y * iw + x) * 3 + c] = acc;
            }
    for (int y = 0; y < nh; y++)
        for (int x = 0; x < nw; x++)
            for (int c = 0; c < 3; c++) {
                float acc = 0;
                for (int k = 0; k < ax.n[x]; k++)
                    acc = ref_madd(ax.w[(size_t)x * ax.maxn + k],
                                   tmp[((size_t)y * iw + ax.first[x] + k) * 3 + c], acc);
                rs[((size_t)y * nw + x) * 3 + c] = acc;
            }
    size_t plane = (size_t)H * W;
    for (int v = 0; v < H; v++)
        for (int u = 0; u < W; u++) {
            size_t at = (size_t)v * W + u;
            if (u < g.u0 || u >= g.u1 || v < g.v0 || v >= g.v1) {
                for (int c = 0; c < C; c++) out[c * plane + at] = 0;
                continue;
            }
            const float *p = rs + ((size_t)(v - g.v0) * nw + (u - g.u0)) * 3;
            for (int c = 0; c < C; c++) {
                float pv =
                    C == 1 ? 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2] : p[o->bgr ? 2 - c : c];
                float s = o->scale == CS_SCALE_01   ? pv / 255.0f
                          : o->scale == CS_SCALE_11 ? pv / 127.5f - 1.0f
                                                    : pv;
                out[c * plane + at] = (s - o->mean[c]) / o->std[c];
            }
        }
    free(ax.first), free(ax.n), free(ax.w), free(ay.first), free(ay.n), free(ay.w);
    free(tmp), free(rs);
}

static void pp_matches_cli_reference(void **state)
{
    (void)state;
    const int iw = 37, ih = 29;
    uint8_t *img = malloc((size_t)iw * ih * 3);
    uint32_t seed = 12345;
    for (int i = 0; i < iw * ih * 3; i++) {
        seed = seed * 1664525u + 1013904223u;
        img[i] = (uint8_t)(seed >> 24);
    }
    cs_frame f = {
        .format = CS_PIX_RGB, .width = iw, .height = ih, .data = {img}, .stride = {iw * 3}};
    const int sizes[][2] = {{16, 12}, {12, 16}, {64, 48}, {37, 29}, {5, 40}};
    const char *presets[] = {"imagenet", "caffe", "tf"};
    for (int m = 0; m < 3; m++)
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
            for (int pr = 0; pr < 3; pr++)
                for (int C = 1; C <= 3; C += 2) {
                    int W = sizes[s][0], H = sizes[s][1];
                    cs_pp_opts o = preset(presets[pr], (cs_resize_mode)m);
                    float *a = malloc(sizeof(float) * C * H * W),
                          *b = malloc(sizeof(float) * C * H * W);
                    ref_image_to_tensor(img, iw, ih, &o, C, H, W, a);
                    run_pp(&o, NULL, &f, C, H, W, b, NULL);
                    for (int i = 0; i < C * H * W; i++)
                        assert_near(b[i], a[i], 1e-5f * (1 + fabsf(a[i])), "cli reference", i);
                    free(a);
                    free(b);
                }
    free(img);
}

/* ---- speed ------------------------------------------------------------------------------- */

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void pp_speed(void **state)
{
    (void)state;
    const int w = 640, h = 480;
    uint8_t *buf = malloc((size_t)w * h * 4);
    for (int i = 0; i < w * h * 4; i++) buf[i] = (uint8_t)(i * 31 + (i >> 9));
    const cs_pixfmt fmts[] = {CS_PIX_RGB, CS_PIX_BGRX, CS_PIX_NV12, CS_PIX_I420};
    float *out = malloc(sizeof(float) * 3 * 224 * 224);
    for (size_t k = 0; k < sizeof fmts / sizeof fmts[0]; k++) {
        cs_frame f = {.format = fmts[k], .width = w, .height = h};
        f.data[0] = buf;
        f.stride[0] = fmts[k] == CS_PIX_RGB ? w * 3 : fmts[k] == CS_PIX_BGRX ? w * 4 : w;
        if (fmts[k] == CS_PIX_NV12) f.data[1] = buf + w * h, f.stride[1] = w;
        if (fmts[k] == CS_PIX_I420)
            f.data[1] = buf + w * h, f.data[2] = buf + w * h * 5 / 4,
            f.stride[1] = f.stride[2] = w / 2;
        for (int m = 0; m < 2; m++) {
            cs_pp_opts o = preset("imagenet", m ? CS_RESIZE_LETTERBOX : CS_RESIZE_STRETCH);
            cs_error err = {0};
            cs_pp *pp = cs_pp_new(&o, NULL, 3, 224, 224, &err);
            assert_non_null(pp);
            assert_int_equal(cs_pp_run(pp, &f, out, NULL, &err), CS_OK); /* builds the tables */
            const int n = 50;
            double t0 = now_ms();
            for (int i = 0; i < n; i++) cs_pp_run(pp, &f, out, NULL, &err);
            double ms = (now_ms() - t0) / n;
            printf("# preprocess 640x480 %s -> 3x224x224 %s: %.3f ms/frame\n",
                   cs_pixfmt_name(fmts[k]), m ? "letterbox" : "stretch", ms);
            cs_pp_destroy(&pp);
            /* printed, not asserted: speed belongs in benchmarks */
        }
    }
    free(out);
    free(buf);
}

static int setup(void **state)
{
    (void)state;
    const char *s = getenv("CS_SOURCE_DIR");
    snprintf(src_dir, sizeof src_dir, "%s", s ? s : ".");
    snprintf(tmp_dir, sizeof tmp_dir, "%s/cs-test-formats.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmp_dir)) return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(desc_example),
        cmocka_unit_test(desc_defaults_and_open),
        cmocka_unit_test(desc_errors),
        cmocka_unit_test(desc_with_statistics),
        cmocka_unit_test(stats_parse),
        cmocka_unit_test(stats_write_round_trip),
        cmocka_unit_test(parsers_survive_garbage),
        cmocka_unit_test(pp_options),
        cmocka_unit_test(pp_presets_identity),
        cmocka_unit_test(pp_packed_formats),
        cmocka_unit_test(pp_yuv),
        cmocka_unit_test(pp_geometry_modes),
        cmocka_unit_test(pp_statistics),
        cmocka_unit_test(pp_matches_cli_reference),
        cmocka_unit_test(pp_speed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
