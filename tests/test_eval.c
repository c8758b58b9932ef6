/* Evaluation metrics (train/eval.c, eval_curve.c): hand-checkable cases, the independent
 * numpy/scikit-image oracle's cases (tools/eval_reference.py cases tests/data/eval/cases.txt),
 * and deletion/insertion curves of a linear model whose probabilities are known in closed
 * form. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "camstream/eval.h"
#include "camstream/explain.h"
#include "camstream/model_builder.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_hand_cases(void **state)
{
    (void)state;
    double a[4] = {0, 0, 10, 10}, b[4] = {5, 5, 15, 15}, c[4] = {20, 20, 30, 30};
    assert_true(fabs(cs_eval_iou(a, b) - 25.0 / 175.0) < 1e-12);
    assert_true(fabs(cs_eval_iou(a, a) - 1.0) < 1e-12);
    assert_true(cs_eval_iou(a, c) == 0.0);
    double empty[4] = {3, 3, 3, 8};
    assert_true(cs_eval_iou(a, empty) == 0.0);

    /* cx, cy, w, h normalized on a 64x32 input -> pixels */
    float v[4] = {0.5f, 0.25f, 0.5f, 0.5f};
    double o[4];
    cs_eval_decode_box(v, CS_BOX_CXCYWH, CS_COORDS_NORMALIZED, 64, 32, o);
    assert_true(o[0] == 16 && o[1] == 0 && o[2] == 48 && o[3] == 16);
    float p[4] = {1, 2, 3, 4};
    cs_eval_decode_box(p, CS_BOX_XYXY, CS_COORDS_PIXELS, 64, 32, o);
    assert_true(o[0] == 1 && o[1] == 2 && o[2] == 3 && o[3] == 4);
    float xywh[4] = {10, 12, 30, 28};
    cs_eval_xywh_to_xyxy(xywh, o);
    assert_true(o[0] == 10 && o[1] == 12 && o[2] == 40 && o[3] == 40);

    /* The curve y = x sampled at 5 points has area 1/2; a constant 1 has area 1. */
    double lin[5] = {0, 0.25, 0.5, 0.75, 1}, one[3] = {1, 1, 1};
    assert_true(fabs(cs_eval_auc(lin, 5) - 0.5) < 1e-12);
    assert_true(fabs(cs_eval_auc(one, 3) - 1.0) < 1e-12);
    double step[3] = {1, 0, 0}; /* drops at once: (0.5 + 0 + 0) / 2 */
    assert_true(fabs(cs_eval_auc(step, 3) - 0.25) < 1e-12);
    assert_int_equal(cs_eval_curve_points(64 * 64, 64), 65);
    assert_int_equal(cs_eval_curve_points(10, 3), 5);

    /* Pointing: the maximum at (x=2, y=1) -> centre (2.5, 1.5). */
    float map[12] = {0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 9};
    double in[4] = {2, 1, 3, 2}, near[4] = {3.5, 1, 5, 2}, far[4] = {0, 2.5, 1, 3};
    assert_int_equal(cs_eval_pointing(map, 3, 4, in, 0), 1);
    assert_int_equal(cs_eval_pointing(map, 3, 4, near, 0), 0);
    assert_int_equal(cs_eval_pointing(map, 3, 4, near, 1.0), 1); /* 1 px away */
    assert_int_equal(cs_eval_pointing(map, 3, 4, far, 1.0), 0);  /* 1.58 px away */
    float nan_map[2] = {NAN, NAN};
    assert_int_equal(cs_eval_pointing(nan_map, 1, 2, in, 0), -1);

    /* PCK: 3 joints, norm 10, alpha 0.2 -> within 2 px; the unlabelled one does not count. */
    float pred[6] = {0, 0, 10, 10, 5, 5}, gt[9] = {1, 1, 2, 10, 13, 1, 0, 0, 0};
    int ok[3];
    assert_int_equal(cs_eval_pck(pred, gt, 3, 0.2, 10, ok), 1);
    assert_int_equal(ok[0], 1);
    assert_int_equal(ok[1], 0);
    assert_int_equal(ok[2], -1);
    assert_true(fabs(cs_eval_torso(gt, 0, 1) - sqrt(81 + 144)) < 1e-9);
    assert_true(cs_eval_torso(gt, 0, 2) < 0);
}

/* ---- the oracle's cases ------------------------------------------------------------------ */

static double *read_nums(char *s, int *n)
{
    int cap = 256;
    double *v = malloc(sizeof(double) * (size_t)cap);
    *n = 0;
    for (char *save = NULL, *t = strtok_r(s, " \n", &save); t; t = strtok_r(NULL, " \n", &save)) {
        if (*n == cap) v = realloc(v, sizeof(double) * (size_t)(cap *= 2));
        v[(*n)++] = strtod(t, NULL);
    }
    return v;
}

static void test_oracle_cases(void **state)
{
    (void)state;
    const char *src = getenv("CS_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/data/eval/cases.txt", src ? src : ".");
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char line[1 << 20];
    int counts[7] = {0};
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        char kind[16];
        if (sscanf(line, "%15s", kind) != 1) continue;
        int n;
        double *v = read_nums(line + strlen(kind), &n);
        if (!strcmp(kind, "iou")) {
            assert_int_equal(n, 9);
            assert_true(fabs(cs_eval_iou(v, v + 4) - v[8]) < 1e-7);
            counts[0]++;
        } else if (!strcmp(kind, "box")) {
            int h = (int)v[0], w = (int)v[1];
            assert_int_equal(n, 7 + h * w);
            float *m = malloc(sizeof(float) * (size_t)h * w);
            for (int i = 0; i < h * w; i++) m[i] = (float)v[7 + i];
            cs_box b;
            assert_int_equal(cs_map_boxes(m, h, w, (float)v[2], 0, 1, &b, 1), 1);
            if (b.x0 != v[3] || b.y0 != v[4] || b.x1 != v[5] || b.y1 != v[6])
                fail_msg("box case %d: camstream %g %g %g %g, oracle %g %g %g %g", counts[1], b.x0,
                         b.y0, b.x1, b.y1, v[3], v[4], v[5], v[6]);
            free(m);
            counts[1]++;
        } else if (!strcmp(kind, "point")) {
            int h = (int)v[0], w = (int)v[1];
            assert_int_equal(n, 8 + h * w);
            float *m = malloc(sizeof(float) * (size_t)h * w);
            for (int i = 0; i < h * w; i++) m[i] = (float)v[8 + i];
            assert_int_equal(cs_eval_pointing(m, h, w, v + 3, v[2]), (int)v[7]);
            free(m);
            counts[2]++;
        } else if (!strcmp(kind, "auc")) {
            int k = (int)v[0];
            assert_int_equal(n, 2 + k);
            assert_true(fabs(cs_eval_auc(v + 2, k) - v[1]) < 1e-7);
            counts[3]++;
        } else if (!strcmp(kind, "order")) {
            int k = (int)v[0];
            assert_int_equal(n, 1 + 2 * k);
            float *m = malloc(sizeof(float) * (size_t)k);
            int *o = malloc(sizeof(int) * (size_t)k);
            for (int i = 0; i < k; i++) m[i] = (float)v[1 + i];
            cs_eval_order(m, k, o);
            for (int i = 0; i < k; i++) assert_int_equal(o[i], (int)v[1 + k + i]);
            free(m);
            free(o);
            counts[4]++;
        } else if (!strcmp(kind, "pck")) {
            int J = (int)v[0];
            assert_int_equal(n, 3 + 6 * J);
            float pred[128], gt[192];
            int ok[64], want = 0;
            for (int j = 0; j < 2 * J; j++) pred[j] = (float)v[3 + J + j];
            for (int j = 0; j < 3 * J; j++) gt[j] = (float)v[3 + 3 * J + j];
            int got = cs_eval_pck(pred, gt, J, v[1], v[2], ok);
            for (int j = 0; j < J; j++) {
                assert_int_equal(ok[j], (int)v[3 + j]);
                want += v[3 + j] > 0;
            }
            assert_int_equal(got, want);
            counts[5]++;
        } else if (!strcmp(kind, "blur")) {
            int C = (int)v[0], H = (int)v[1], W = (int)v[2], N = C * H * W;
            assert_int_equal(n, 5 + 2 * N);
            float *x = malloc(sizeof(float) * (size_t)N), *y = malloc(sizeof(float) * (size_t)N);
            for (int i = 0; i < N; i++) x[i] = (float)v[5 + i];
            cs_eval_blur(x, C, H, W, (int)v[3], (float)v[4], y);
            for (int i = 0; i < N; i++) assert_true(fabs(y[i] - v[5 + N + i]) < 1e-5);
            free(x);
            free(y);
            counts[6]++;
        } else {
            fail_msg("unknown case '%s'", kind);
        }
        free(v);
    }
    fclose(f);
    for (int i = 0; i < 7; i++) assert_true(counts[i] >= 4);
}

/* ---- deletion / insertion on a linear model ---------------------------------------------- */

/* logits = [w · x, 0] for a 1×1×2×2 input (Flatten -> Gemm), batch symbolic. */
static cs_model *linear_model(const float *w4)
{
    mb_model *b = mb_new(13);
    int64_t xd[] = {-1, 1, 2, 2}, wd[] = {2, 4}, bd[] = {2};
    float w[8] = {w4[0], w4[1], w4[2], w4[3], 0, 0, 0, 0}, bias[2] = {0, 0};
    mb_input(b, "x", MB_F32, 4, xd);
    mb_init_f32(b, "w", 2, wd, w);
    mb_init_f32(b, "b", 1, bd, bias);
    mb_node(b, "Flatten", "flat", MB_IN("x"), MB_OUT("f"));
    Onnx__NodeProto *g = mb_node(b, "Gemm", "fc", MB_IN("f", "w", "b"), MB_OUT("logits"));
    mb_attr_int(b, g, "transB", 1);
    mb_output(b, "logits", MB_F32, -1, NULL);
    size_t len;
    uint8_t *buf = mb_pack(b, &len);
    cs_error err = {0};
    cs_model *m = cs_model_load_memory(buf, len, "linear.onnx", &err);
    free(buf);
    mb_free(&b);
    if (!m) fail_msg("%s", err.msg);
    return m;
}

static double sigm(double l)
{
    return 1.0 / (1.0 + exp(-l));
}

static void check_curves(int batch)
{
    const float w[4] = {0.1f, 0.2f, 0.3f, 0.4f};
    cs_model *m = linear_model(w);
    cs_error err = {0};
    cs_eval_scorer *s = cs_eval_scorer_new(m, "logits", CS_CLASSES_SOFTMAX, batch, 1, &err);
    if (!s) fail_msg("%s", err.msg);
    float x[4] = {1, 1, 1, 1}, map[4] = {0.1f, 0.9f, 0.5f, 0.3f}; /* order 1, 2, 3, 0 */
    double del[5], ins[5];
    assert_int_equal(cs_eval_curves(s, x, map, 0, 1, del, ins, &err), 5);
    /* softmax([l, 0])[0] = sigmoid(l) */
    double want_del[5] = {sigm(1.0), sigm(0.8), sigm(0.5), sigm(0.1), sigm(0.0)};
    for (int i = 0; i < 5; i++) assert_true(fabs(del[i] - want_del[i]) < 1e-6);
    float bl[4];
    cs_eval_blur(x, 1, 2, 2, 11, 5.0f, bl);
    double cur[4] = {bl[0], bl[1], bl[2], bl[3]};
    const int order[4] = {1, 2, 3, 0};
    for (int i = 0; i < 5; i++) {
        double l = 0;
        for (int k = 0; k < 4; k++) l += w[k] * cur[k];
        assert_true(fabs(ins[i] - sigm(l)) < 1e-6);
        if (i < 4) cur[order[i]] = x[order[i]];
    }
    assert_true(fabs(ins[4] - sigm(1.0)) < 1e-6);
    /* Step 3: the first three pixels, then the last. Class 1 = 1 - class 0. */
    double d3[3];
    assert_int_equal(cs_eval_curves(s, x, map, 1, 3, d3, NULL, &err), 3);
    assert_true(fabs(d3[0] - (1 - sigm(1.0))) < 1e-6);
    assert_true(fabs(d3[1] - (1 - sigm(0.1))) < 1e-6);
    assert_true(fabs(d3[2] - 0.5) < 1e-6);
    assert_int_equal(cs_eval_curves(s, x, map, 2, 1, del, ins, &err), -1);
    assert_non_null(strstr(err.msg, "out of range"));
    cs_eval_scorer_destroy(&s);
    cs_eval_scorer_destroy(&s);
    cs_model_destroy(&m);
}

static void test_curves_batch1(void **state)
{
    (void)state;
    check_curves(1);
}

static void test_curves_batch2(void **state)
{
    (void)state;
    check_curves(2); /* 5 points in batches of 2: the last batch is partial */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_cases),
        cmocka_unit_test(test_oracle_cases),
        cmocka_unit_test(test_curves_batch1),
        cmocka_unit_test(test_curves_batch2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
