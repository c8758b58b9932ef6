/* Visualization: receptive fields from the graph (VGG-16 and ResNet-18 shaped models built in
 * memory: pool5 = 212 / stride 32, layer4 = 435 / 32), maximally activating patches on a
 * hand-checkable model, the first-layer filter grid on known weights, and activation
 * maximization on the committed gap_cnn model. The 212 and 435 are also measured independently
 * with PyTorch gradients by tools/visualize_reference.py --rf. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "camstream/explain.h"
#include "model_builder.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define assert_msg_has(err, sub)                                                                   \
    do {                                                                                           \
        if (!strstr((err).msg, (sub)))                                                             \
            fail_msg("error message \"%s\" does not mention \"%s\"", (err).msg, (sub));            \
    } while (0)

/* ---- helpers -------------------------------------------------------------------------------- */

static void fill(float *x, int64_t n, uint32_t seed)
{
    uint32_t s = seed * 2654435761u + 1u;
    for (int64_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)(s >> 8) / (float)(1u << 23) - 1.f;
    }
}

static cs_model *load(mb_model *b)
{
    size_t len;
    uint8_t *buf = mb_pack(b, &len);
    cs_error err = {0};
    cs_model *m = cs_model_load_memory(buf, len, "test.onnx", &err);
    free(buf);
    if (!m) fail_msg("load: %s", err.msg);
    return m;
}

static cs_model *load_file(const char *name)
{
    char path[4096];
    const char *src = getenv("CS_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/tests/models/%s/model.onnx", src ? src : ".", name);
    cs_error err = {0};
    cs_model *m = cs_model_load_file(path, &err);
    if (!m) fail_msg("%s", err.msg);
    return m;
}

static int uid = 0;

/* Conv with random weights (cin -> cout, k×k, stride s, symmetric padding p). */
static void conv(mb_model *b, const char *in, const char *out, int cin, int cout, int k, int s,
                 int p)
{
    char wn[64], nn[64];
    snprintf(wn, sizeof wn, "w%d", uid);
    snprintf(nn, sizeof nn, "conv%d", uid++);
    int64_t wd[4] = {cout, cin, k, k};
    float *w = malloc(sizeof(float) * (size_t)(cout * cin * k * k));
    assert_non_null(w);
    fill(w, cout * cin * k * k, (uint32_t)uid);
    mb_init_f32(b, wn, 4, wd, w);
    free(w);
    Onnx__NodeProto *n = mb_node(b, "Conv", nn, MB_IN(in, wn), MB_OUT(out));
    int64_t ks[2] = {k, k}, st[2] = {s, s}, pads[4] = {p, p, p, p};
    mb_attr_ints(b, n, "kernel_shape", 2, ks);
    mb_attr_ints(b, n, "strides", 2, st);
    mb_attr_ints(b, n, "pads", 4, pads);
}

static void relu(mb_model *b, const char *in, const char *out)
{
    char nn[64];
    snprintf(nn, sizeof nn, "relu%d", uid++);
    mb_node(b, "Relu", nn, MB_IN(in), MB_OUT(out));
}

static void maxpool(mb_model *b, const char *in, const char *out, int k, int s, int p)
{
    char nn[64];
    snprintf(nn, sizeof nn, "pool%d", uid++);
    Onnx__NodeProto *n = mb_node(b, "MaxPool", nn, MB_IN(in), MB_OUT(out));
    int64_t ks[2] = {k, k}, st[2] = {s, s}, pads[4] = {p, p, p, p};
    mb_attr_ints(b, n, "kernel_shape", 2, ks);
    mb_attr_ints(b, n, "strides", 2, st);
    mb_attr_ints(b, n, "pads", 4, pads);
}

static void expect_rf(const cs_model *m, const char *layer, double size, double jump, double start)
{
    cs_error err = {0};
    cs_receptive_field rf;
    if (cs_receptive_field_of(m, layer, &rf, &err) != CS_OK) fail_msg("%s: %s", layer, err.msg);
    printf("receptive field of %-8s size %5.1f, jump %4.1f, start %5.2f\n", layer, rf.size, rf.jump,
           rf.start);
    if (rf.size != size || rf.jump != jump || rf.start != start)
        fail_msg("%s: size %g jump %g start %g, expected %g %g %g", layer, rf.size, rf.jump,
                 rf.start, size, jump, start);
}

/* ---- receptive fields ----------------------------------------------------------------------- */

/* VGG-16 features: 13 conv3x3/pad1 + ReLU in blocks of 2, 2, 3, 3, 3, each followed by
 * MaxPool 2x2/2 (channels 2 throughout). */
static cs_model *vgg16(void)
{
    mb_model *b = mb_new(13);
    int64_t xd[4] = {1, 3, 224, 224};
    mb_input(b, "x", MB_F32, 4, xd);
    const int blocks[5] = {2, 2, 3, 3, 3};
    char cur[32] = "x", nxt[32];
    int cin = 3;
    for (int bl = 0; bl < 5; bl++) {
        for (int c = 0; c < blocks[bl]; c++) {
            snprintf(nxt, sizeof nxt, "conv%d_%d", bl + 1, c + 1);
            conv(b, cur, nxt, cin, 2, 3, 1, 1);
            cin = 2;
            snprintf(cur, sizeof cur, "relu%d_%d", bl + 1, c + 1);
            relu(b, nxt, cur);
        }
        snprintf(nxt, sizeof nxt, "pool%d", bl + 1);
        maxpool(b, cur, nxt, 2, 2, 0);
        snprintf(cur, sizeof cur, "%s", nxt);
    }
    mb_output(b, "pool5", MB_F32, -1, NULL);
    cs_model *m = load(b);
    mb_free(&b);
    return m;
}

static void test_rf_vgg16(void **state)
{
    (void)state;
    cs_model *m = vgg16();
    expect_rf(m, "x", 1, 1, 0.5);
    expect_rf(m, "conv1_1", 3, 1, 0.5);
    expect_rf(m, "pool1", 6, 2, 1);
    expect_rf(m, "pool2", 16, 4, 2);
    expect_rf(m, "relu3_3", 40, 4, 2);
    expect_rf(m, "pool3", 44, 8, 4);
    expect_rf(m, "pool4", 100, 16, 8);
    expect_rf(m, "relu5_3", 196, 16, 8);
    expect_rf(m, "pool5", 212, 32, 16); /* REFERENCE §3 */
    cs_error err = {0};
    cs_receptive_field rf;
    assert_int_equal(cs_receptive_field_of(m, "pool6", &rf, &err), CS_ERR_INVALID);
    assert_msg_has(err, "'pool6'");
    assert_msg_has(err, "valid:");
    assert_msg_has(err, "conv1_1");
    /* a weight is not downstream of the input */
    assert_int_equal(cs_receptive_field_of(m, "w0", &rf, &err), CS_ERR_INVALID);
    assert_msg_has(err, "does not depend on a graph input");
    cs_model_destroy(&m);
}

/* ResNet-18: 7x7/2 stem, MaxPool 3x3/2, four stages of two BasicBlocks (3x3 convs, the first
 * of stages 2-4 with stride 2 and a 1x1/2 projection shortcut), GAP, Flatten, Gemm. */
static cs_model *resnet18(void)
{
    mb_model *b = mb_new(13);
    int64_t xd[4] = {-1, 3, 224, 224};
    mb_input(b, "x", MB_F32, 4, xd);
    conv(b, "x", "stem", 3, 2, 7, 2, 3);
    relu(b, "stem", "stem_relu");
    maxpool(b, "stem_relu", "maxpool", 3, 2, 1);
    char cur[32] = "maxpool";
    for (int st = 1; st <= 4; st++) {
        for (int blk = 0; blk < 2; blk++) {
            int s = (st > 1 && blk == 0) ? 2 : 1;
            char a[32], ar[32], c2[32], sc[32], sum[32], out[32];
            snprintf(a, sizeof a, "l%d.%d.c1", st, blk);
            snprintf(ar, sizeof ar, "l%d.%d.r1", st, blk);
            snprintf(c2, sizeof c2, "l%d.%d.c2", st, blk);
            snprintf(sum, sizeof sum, "l%d.%d.add", st, blk);
            snprintf(out, sizeof out, "layer%d.%d", st, blk);
            conv(b, cur, a, 2, 2, 3, s, 1);
            relu(b, a, ar);
            conv(b, ar, c2, 2, 2, 3, 1, 1);
            if (s == 2) {
                snprintf(sc, sizeof sc, "l%d.%d.down", st, blk);
                conv(b, cur, sc, 2, 2, 1, 2, 0);
            } else {
                snprintf(sc, sizeof sc, "%s", cur);
            }
            /* both input orders: the field is the max over the branches either way */
            if (blk == 0)
                mb_node(b, "Add", sum, MB_IN(c2, sc), MB_OUT(sum));
            else
                mb_node(b, "Add", sum, MB_IN(sc, c2), MB_OUT(sum));
            relu(b, sum, out);
            snprintf(cur, sizeof cur, "%s", out);
        }
    }
    mb_node(b, "GlobalAveragePool", "gap", MB_IN(cur), MB_OUT("pooled"));
    mb_node(b, "Flatten", "flatten", MB_IN("pooled"), MB_OUT("flat"));
    int64_t fd[2] = {10, 2}, bd[1] = {10};
    float fw[20], fb[10];
    fill(fw, 20, 99);
    fill(fb, 10, 98);
    mb_init_f32(b, "fc.w", 2, fd, fw);
    mb_init_f32(b, "fc.b", 1, bd, fb);
    Onnx__NodeProto *g = mb_node(b, "Gemm", "fc", MB_IN("flat", "fc.w", "fc.b"), MB_OUT("logits"));
    mb_attr_int(b, g, "transB", 1);
    mb_output(b, "logits", MB_F32, -1, NULL);
    cs_model *m = load(b);
    mb_free(&b);
    return m;
}

static void test_rf_resnet18(void **state)
{
    (void)state;
    cs_model *m = resnet18();
    expect_rf(m, "stem", 7, 2, 0.5);
    expect_rf(m, "maxpool", 11, 4, 0.5);
    expect_rf(m, "layer1.1", 43, 4, 0.5);
    expect_rf(m, "l2.0.down", 43, 8, 0.5); /* the 1x1/2 projection of layer1.1 */
    expect_rf(m, "layer2.0", 67, 8, 0.5);  /* max over the two branches of the Add */
    expect_rf(m, "layer2.1", 99, 8, 0.5);
    expect_rf(m, "layer3.1", 211, 16, 0.5);
    expect_rf(m, "layer4.1", 435, 32, 0.5);
    /* GAP over the 7x7 map: 435 + 6·32; the head passes it on */
    expect_rf(m, "pooled", 627, 32, 96.5);
    expect_rf(m, "logits", 627, 32, 96.5);
    cs_model_destroy(&m);
}

/* Dilation, SAME padding, a Pad op, 1-D kernels and a Resize on the path. */
static void test_rf_rules(void **state)
{
    (void)state;
    mb_model *b = mb_new(13);
    int64_t xd[4] = {1, 1, 32, 32};
    mb_input(b, "x", MB_F32, 4, xd);
    int64_t wd[4] = {1, 1, 3, 3};
    mb_init_f32(b, "w", 4, wd, NULL);
    Onnx__NodeProto *n = mb_node(b, "Conv", "dil", MB_IN("x", "w"), MB_OUT("d"));
    int64_t dil[2] = {2, 2};
    mb_attr_ints(b, n, "dilations", 2, dil); /* k_eff 5, no padding */
    int64_t pads[8] = {0, 0, 2, 1, 0, 0, 2, 1};
    mb_init_i64(b, "pads", 1, (int64_t[]){8}, pads);
    mb_node(b, "Pad", "pad", MB_IN("d", "pads"), MB_OUT("padded"));
    n = mb_node(b, "Conv", "same", MB_IN("padded", "w"), MB_OUT("s"));
    int64_t st[2] = {2, 2};
    mb_attr_ints(b, n, "strides", 2, st);
    mb_attr_string(b, n, "auto_pad", "SAME_UPPER");
    int64_t w17[4] = {1, 1, 1, 7};
    mb_init_f32(b, "w17", 4, w17, NULL);
    n = mb_node(b, "Conv", "wide", MB_IN("s", "w17"), MB_OUT("wide"));
    int64_t p17[4] = {0, 3, 0, 3};
    mb_attr_ints(b, n, "pads", 4, p17);
    float scales[4] = {1, 1, 2, 2};
    mb_init_f32(b, "scales", 1, (int64_t[]){4}, scales);
    mb_node(b, "Resize", "up", MB_IN("wide", "", "scales"), MB_OUT("up"));
    mb_node(b, "Relu", "after", MB_IN("up"), MB_OUT("after"));
    mb_output(b, "after", MB_F32, -1, NULL);
    cs_model *m = load(b);
    mb_free(&b);
    expect_rf(m, "d", 5, 1, 2.5);
    expect_rf(m, "padded", 5, 1, 0.5); /* rows padded by 2: start − 2 */
    /* 32x30 after the dilated conv (28x28) and the Pad: SAME_UPPER stride 2 pads 1 (0 before,
     * 1 after) on each axis: r 5 + 2, jump 2 */
    cs_error err = {0};
    cs_receptive_field rf;
    assert_int_equal(cs_receptive_field_of(m, "s", &rf, &err), CS_OK);
    assert_true(rf.size == 7 && rf.jump == 2);
    /* 1x7 kernel: the wider axis (columns) is reported: 7 + 6·2 = 19 */
    assert_int_equal(cs_receptive_field_of(m, "wide", &rf, &err), CS_OK);
    assert_true(rf.size == 19 && rf.jump == 2);
    assert_int_equal(cs_receptive_field_of(m, "after", &rf, &err), CS_ERR_UNSUPPORTED);
    assert_msg_has(err, "'up' (Resize)");
    cs_model_destroy(&m);
}

/* ---- patches -------------------------------------------------------------------------------- */

/* x (N×1×8×8) -> Conv 3x3 (no padding) with two kernels: channel 0 copies the centre pixel,
 * channel 1 its negative -> "id" (N×2×6×6); then a 3x3/2 conv with padding 1 summing channel 0
 * -> "down" (N×1×3×3). */
static cs_model *patch_model(int symbolic)
{
    mb_model *b = mb_new(13);
    int64_t xd[4] = {symbolic ? -1 : 1, 1, 8, 8};
    mb_input(b, "x", MB_F32, 4, xd);
    float w[18] = {0};
    w[4] = 1.f;
    w[9 + 4] = -1.f;
    int64_t wd[4] = {2, 1, 3, 3};
    mb_init_f32(b, "w", 4, wd, w);
    mb_node(b, "Conv", "id", MB_IN("x", "w"), MB_OUT("id"));
    float w2[18] = {0};
    for (int i = 0; i < 9; i++) w2[i] = 1.f; /* sums channel 0 over 3x3 */
    int64_t w2d[4] = {1, 2, 3, 3};
    mb_init_f32(b, "w2", 4, w2d, w2);
    Onnx__NodeProto *n = mb_node(b, "Conv", "down", MB_IN("id", "w2"), MB_OUT("down"));
    int64_t st[2] = {2, 2}, pads[4] = {1, 1, 1, 1};
    mb_attr_ints(b, n, "strides", 2, st);
    mb_attr_ints(b, n, "pads", 4, pads);
    mb_output(b, "down", MB_F32, -1, NULL);
    cs_model *m = load(b);
    mb_free(&b);
    return m;
}

static void test_patches(void **state)
{
    (void)state;
    for (int symbolic = 0; symbolic < 2; symbolic++) {
        cs_model *m = patch_model(symbolic);
        /* 3 images, small values except a few planted ones (inside the 6x6 centre region) */
        float img[3 * 64];
        fill(img, 3 * 64, 5);
        for (int i = 0; i < 3 * 64; i++) img[i] *= 0.1f;
        img[0 * 64 + 3 * 8 + 4] = 5.f;  /* image 0, pixel (3,4) -> unit (2,3) */
        img[2 * 64 + 1 * 8 + 1] = 7.f;  /* image 2, pixel (1,1) -> unit (0,0) */
        img[2 * 64 + 6 * 8 + 6] = 6.f;  /* image 2, pixel (6,6) -> unit (5,5) */
        img[1 * 64 + 0 * 8 + 0] = 9.f;  /* image 1, pixel (0,0): outside every unit's centre */
        img[1 * 64 + 4 * 8 + 2] = -8.f; /* image 1, pixel (4,2) -> unit (3,1), channel 1: 8 */
        cs_patch p[4];
        cs_error err = {0};
        int n = cs_top_patches(m, "id", 0, img, 3, 3, p, &err);
        if (n < 0) fail_msg("%s", err.msg);
        assert_int_equal(n, 3);
        assert_int_equal(p[0].image, 2);
        assert_int_equal(p[0].y, 0);
        assert_int_equal(p[0].x, 0);
        assert_float_equal(p[0].value, 7.f, 1e-5);
        /* receptive field 3, jump 1, start 1.5: unit (y,x) sees rows y..y+2, cols x..x+2 */
        assert_int_equal(p[0].y0, 0);
        assert_int_equal(p[0].x0, 0);
        assert_int_equal(p[0].y1, 3);
        assert_int_equal(p[0].x1, 3);
        assert_int_equal(p[1].image, 2);
        assert_int_equal(p[1].y, 5);
        assert_int_equal(p[1].x, 5);
        assert_int_equal(p[1].y1, 8);
        assert_int_equal(p[1].x1, 8);
        assert_int_equal(p[2].image, 0);
        assert_int_equal(p[2].y, 2);
        assert_int_equal(p[2].x, 3);
        assert_int_equal(p[2].y0, 2);
        assert_int_equal(p[2].x0, 3);
        /* channel 1 (negated) */
        n = cs_top_patches(m, "id", 1, img, 3, 1, p, &err);
        assert_int_equal(n, 1);
        assert_int_equal(p[0].image, 1);
        assert_int_equal(p[0].y, 3);
        assert_int_equal(p[0].x, 1);
        assert_float_equal(p[0].value, 8.f, 1e-5);
        /* more than exist: all 3·36 units, sorted */
        cs_patch *all = malloc(sizeof(cs_patch) * 200);
        assert_non_null(all);
        n = cs_top_patches(m, "id", 0, img, 3, 200, all, &err);
        assert_int_equal(n, 108);
        for (int i = 1; i < n; i++) assert_true(all[i - 1].value >= all[i].value);
        free(all);
        /* stride-2 layer with padding: RF 5 (3 + 2·1), jump 2, start 1.5; unit (0,0) sees
         * [-1, 4) -> clipped to [0, 4) (id units -1..1, pixels -1..3) */
        n = cs_top_patches(m, "down", 0, img, 3, 1, p, &err);
        assert_int_equal(n, 1);
        assert_int_equal(p[0].image, 2);
        assert_int_equal(p[0].y, 0);
        assert_int_equal(p[0].x, 0);
        assert_true(p[0].value > 6.5f);
        assert_int_equal(p[0].y0, 0);
        assert_int_equal(p[0].y1, 4);
        assert_int_equal(p[0].x0, 0);
        assert_int_equal(p[0].x1, 4);
        /* errors */
        assert_int_equal(cs_top_patches(m, "idd", 0, img, 3, 1, p, &err), -1);
        assert_msg_has(err, "'idd'");
        assert_msg_has(err, "valid:");
        assert_int_equal(cs_top_patches(m, "id", 2, img, 3, 1, p, &err), -1);
        assert_msg_has(err, "unit 2 out of range [0, 2)");
        assert_int_equal(cs_top_patches(m, "id", 0, img, 0, 1, p, &err), 0);
        cs_model_destroy(&m);
    }
}

/* ---- filter grid ---------------------------------------------------------------------------- */

static void test_filter_grid(void **state)
{
    (void)state;
    /* x -> Sub(mean) -> conv1 (5 kernels 3x2x3) -> conv2 (ignored) */
    mb_model *b = mb_new(13);
    int64_t xd[4] = {1, 3, 6, 6};
    mb_input(b, "x", MB_F32, 4, xd);
    float mean[3] = {0.1f, 0.2f, 0.3f};
    mb_init_f32(b, "mean", 4, (int64_t[]){1, 3, 1, 1}, mean);
    mb_node(b, "Sub", "norm", MB_IN("x", "mean"), MB_OUT("xn"));
    enum { K = 5, C = 3, KH = 2, KW = 3 };
    float w[K * C * KH * KW];
    for (int i = 0; i < K * C * KH * KW; i++) w[i] = (float)((i * 7) % 11) - 3.f;
    for (int i = 0; i < C * KH * KW; i++) w[3 * C * KH * KW + i] = 0.25f; /* kernel 3 constant */
    mb_init_f32(b, "w1", 4, (int64_t[]){K, C, KH, KW}, w);
    mb_node(b, "Conv", "conv1", MB_IN("xn", "w1"), MB_OUT("c1"));
    mb_init_f32(b, "w2", 4, (int64_t[]){1, K, 1, 1}, NULL);
    mb_node(b, "Conv", "conv2", MB_IN("c1", "w2"), MB_OUT("c2"));
    mb_output(b, "c2", MB_F32, -1, NULL);
    cs_model *m = load(b);
    mb_free(&b);

    cs_error err = {0};
    const int scale = 2;
    cs_tensor *g = cs_filter_grid(m, scale, &err);
    if (!g) fail_msg("%s", err.msg);
    /* 5 kernels: 3 columns, 2 rows of (2·2)x(3·2) tiles with 1-px gaps */
    const int H = 2 * KH * scale + 1, W = 3 * KW * scale + 2;
    assert_int_equal(g->ndim, 3);
    assert_int_equal(g->dims[0], 3);
    assert_int_equal(g->dims[1], H);
    assert_int_equal(g->dims[2], W);
    const float *d = g->data;
    for (int f = 0; f < 6; f++) {
        const float *k = w + f * C * KH * KW;
        float lo = 1e9f, hi = -1e9f;
        for (int i = 0; f < K && i < C * KH * KW; i++) {
            lo = fminf(lo, k[i]);
            hi = fmaxf(hi, k[i]);
        }
        int oy = (f / 3) * (KH * scale + 1), ox = (f % 3) * (KW * scale + 1);
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < KH * scale; y++)
                for (int x = 0; x < KW * scale; x++) {
                    float want = f >= K ? 1.f
                                 : hi > lo
                                     ? (k[(c * KH + y / scale) * KW + x / scale] - lo) / (hi - lo)
                                     : 0.5f;
                    float got = d[((size_t)c * H + oy + y) * W + ox + x];
                    if (fabsf(got - want) > 1e-6f)
                        fail_msg("kernel %d ch %d (%d,%d): %g, want %g", f, c, y, x, (double)got,
                                 (double)want);
                }
    }
    /* gaps are white */
    for (int c = 0; c < 3; c++) {
        for (int x = 0; x < W; x++)
            assert_float_equal(d[((size_t)c * H + KH * scale) * W + x], 1, 0);
        for (int y = 0; y < H; y++)
            assert_float_equal(d[((size_t)c * H + y) * W + KW * scale], 1, 0);
    }
    cs_tensor_free(&g);
    assert_null(cs_filter_grid(m, 0, &err));
    assert_msg_has(err, "scale 0");
    cs_model_destroy(&m);

    /* one input channel: gray */
    b = mb_new(13);
    int64_t x1[4] = {1, 1, 4, 4};
    mb_input(b, "x", MB_F32, 4, x1);
    float w1[2 * 1 * 1 * 2] = {1, 3, -2, 2};
    mb_init_f32(b, "w", 4, (int64_t[]){2, 1, 1, 2}, w1);
    mb_node(b, "Conv", "c", MB_IN("x", "w"), MB_OUT("y"));
    mb_output(b, "y", MB_F32, -1, NULL);
    m = load(b);
    mb_free(&b);
    g = cs_filter_grid(m, 1, &err);
    if (!g) fail_msg("%s", err.msg);
    assert_int_equal(g->dims[1], 1);
    assert_int_equal(g->dims[2], 5);
    const float want[5] = {0, 1, 1, 0, 1};
    for (int c = 0; c < 3; c++)
        for (int x = 0; x < 5; x++)
            assert_float_equal(((float *)g->data)[c * 5 + x], want[x], 1e-6);
    cs_tensor_free(&g);
    cs_model_destroy(&m);

    /* no conv */
    b = mb_new(13);
    mb_input(b, "x", MB_F32, 4, x1);
    mb_node(b, "Relu", "r", MB_IN("x"), MB_OUT("y"));
    mb_output(b, "y", MB_F32, -1, NULL);
    m = load(b);
    mb_free(&b);
    assert_null(cs_filter_grid(m, 1, &err));
    assert_msg_has(err, "no Conv");
    cs_model_destroy(&m);
}

/* ---- activation maximization ---------------------------------------------------------------- */

static void check_ascent(const float *trace, int steps, const char *what)
{
    /* monotone within noise: every 20 steps, the mean of the last 5 values is at least that of
     * 20 steps earlier minus a tolerance (jitter makes single values noisy) */
    float range = 0;
    for (int i = 0; i < steps; i++) range = fmaxf(range, fabsf(trace[i] - trace[0]));
    float tol = 0.05f * range;
    float prev = 0;
    for (int s = 20; s <= steps; s += 20) {
        float cur = 0;
        for (int i = s - 5; i < s; i++) cur += trace[i] / 5.f;
        if (s > 20 && cur < prev - tol)
            fail_msg("%s: mean value at step %d is %.4f, below %.4f at step %d", what, s,
                     (double)cur, (double)prev, s - 20);
        prev = cur;
    }
    printf("%s: %.4f at step 0, %.4f at step 20, %.4f at step %d\n", what, (double)trace[0],
           (double)trace[19], (double)trace[steps - 1], steps);
}

static void test_actmax(void **state)
{
    (void)state;
    cs_model *m = load_file("gap_cnn_op13");
    cs_actmax_opts o = cs_actmax_opts_default();
    assert_int_equal(o.steps, 200);
    assert_float_equal(o.tv, 1.0f, 0);
    assert_int_equal(o.jitter, 4);
    o.unit = 3;
    o.lo = -1.5f;
    o.hi = 1.5f;
    o.threads = 1;
    float trace[200];
    cs_error err = {0};
    cs_tensor *img = cs_activation_maximize(m, &o, trace, &err);
    if (!img) {
        /* until every op on the path has a backward, report instead of failing obscurely */
        fail_msg("activation maximization: %s", err.msg);
    }
    assert_int_equal(img->ndim, 4);
    assert_int_equal(img->dims[1], 3);
    assert_int_equal(img->dims[2], 32);
    const float *x = img->data;
    for (int64_t i = 0; i < img->numel; i++) assert_true(x[i] >= o.lo && x[i] <= o.hi);
    check_ascent(trace, 200, "class 3 score");
    /* the score starts near 0 from a mid-gray image; this random-weight model reaches about 3.5
     * without regularization or jitter */
    if (!(trace[199] > trace[0] + 0.5f))
        fail_msg("class score %.3f -> %.3f: no real rise", (double)trace[0], (double)trace[199]);
    /* the image really scores high (no jitter): run it through a plan */
    cs_plan_opts po = cs_plan_opts_default();
    po.threads = 1;
    cs_plan *p = cs_plan_new(m, &po, &err);
    assert_non_null(p);
    memcpy(cs_plan_input(p, 0)->data, x, cs_tensor_bytes(img));
    assert_int_equal(cs_plan_run(p, &err), CS_OK);
    const float *y = cs_plan_output(p, 0)->data;
    int best = 0;
    for (int i = 1; i < 10; i++)
        if (y[i] > y[best]) best = i;
    assert_int_equal(best, 3);
    cs_plan_destroy(&p);
    cs_tensor_free(&img);

    /* a feature-map channel: its mean activation rises (before the ReLU: a channel that is all
     * zero after it has no gradient to follow) */
    o.target = "/features/features.3/features.3.1/BatchNormalization_output_0"; /* pre-ReLU */
    o.unit = 0;
    o.steps = 100;
    img = cs_activation_maximize(m, &o, trace, &err);
    if (!img) fail_msg("channel target: %s", err.msg);
    check_ascent(trace, 100, "channel 0 mean (pre-ReLU)");
    if (!(trace[99] > trace[0] + 0.25f))
        fail_msg("channel mean %.3f -> %.3f: no real rise", (double)trace[0], (double)trace[99]);
    cs_tensor_free(&img);

    /* errors */
    o.target = "nope";
    assert_null(cs_activation_maximize(m, &o, NULL, &err));
    assert_msg_has(err, "'nope'");
    assert_msg_has(err, "valid:");
    o.target = NULL;
    o.unit = 10;
    assert_null(cs_activation_maximize(m, &o, NULL, &err));
    assert_msg_has(err, "unit 10 out of range [0, 10)");
    cs_model_destroy(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rf_vgg16),    cmocka_unit_test(test_rf_resnet18),
        cmocka_unit_test(test_rf_rules),    cmocka_unit_test(test_patches),
        cmocka_unit_test(test_filter_grid), cmocka_unit_test(test_actmax),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
