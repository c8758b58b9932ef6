/* The bundled architectures, built as ONNX graphs (camstream/model_builder.h) for 64×64
 * inputs and 2 CPU cores: a backbone of 6 conv-BN-ReLU blocks (strides 2, 1, 2, 1, 2, 1: 64 ->
 * 8 pixels, receptive field 43 px) whose last ReLU is the target layer `features`, then
 *   gap       GlobalAveragePool -> Gemm -> `logits` (CAM-able: one linear layer after GAP)
 *   multitask the same `logits` + Flatten(features) -> Gemm -> Sigmoid -> `box` (cx, cy, w, h)
 *   pose      Flatten(features) -> Gemm -> ReLU -> Gemm -> Sigmoid -> `pose` (x, y per joint)
 *   decoder   `features` (input) -> 3 × (ConvTranspose 4×4 stride 2 -> ReLU) -> Conv 3×3 ->
 *             `image` (the normalized input image, for Perception Visualization)
 * BatchNorm stays in inference form (training mode is a plan switch), so the trained graph
 * is exported as it is. Initial weights: He-normal convs, PyTorch's uniform for Gemm. */
#include "camstream/model_builder.h"
#include "camstream/train.h"
#include "train_err.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cs_arch_cfg cs_arch_cfg_default(cs_arch_kind kind)
{
    cs_arch_cfg c = {.kind = kind,
                     .width = 64,
                     .height = 64,
                     .channels = 3,
                     .n_classes = 2,
                     .n_keypoints = 0,
                     .width_mult = 16,
                     .seed = 1};
    return c;
}

static const char *const arch_names[] = {"gap", "multitask", "pose", "decoder"};

int cs_arch_parse(const char *name, cs_arch_kind *kind)
{
    for (int i = 0; i < 4; i++)
        if (!strcmp(name, arch_names[i])) {
            *kind = (cs_arch_kind)i;
            return 0;
        }
    return -1;
}

const char *cs_arch_name(cs_arch_kind kind)
{
    return (unsigned)kind < 4 ? arch_names[kind] : "?";
}

typedef struct {
    cs_arch *a;
    mb_model *b;
    cs_rng rng;
} builder;

static void trainable(builder *bd, const char *name)
{
    cs_arch *a = bd->a;
    char **t = realloc(a->trainable, sizeof *t * (size_t)(a->n_trainable + 1));
    if (!t) abort(); /* as the model builder: out of memory on a few names is fatal */
    a->trainable = t;
    t[a->n_trainable++] = strdup(name);
}

/* An initializer of n floats: normal(0, std) when std > 0, uniform(-u, u) when u > 0, else
 * the constant c. */
static void weight(builder *bd, const char *name, int ndim, const int64_t *dims, double std,
                   double u, float c, int train)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= dims[i];
    float *w = malloc(sizeof(float) * (size_t)n);
    if (!w) abort();
    for (int64_t i = 0; i < n; i++)
        w[i] = std > 0 ? (float)(std * cs_rng_normal(&bd->rng))
               : u > 0 ? (float)(u * (2 * cs_rng_uniform(&bd->rng) - 1))
                       : c;
    mb_init_f32(bd->b, name, ndim, dims, w);
    free(w);
    if (train) trainable(bd, name);
}

/* conv(k×k, stride, pad k/2, no bias) -> BN -> ReLU; returns the ReLU output name. */
static void block(builder *bd, int i, const char *in, int cin, int cout, int stride,
                  const char *out)
{
    char w[32], cv[32], bn[32], s[4][32];
    snprintf(w, sizeof w, "conv%d.w", i);
    snprintf(cv, sizeof cv, "conv%d", i);
    snprintf(bn, sizeof bn, "bn%d", i);
    int64_t wd[4] = {cout, cin, 3, 3}, cd[1] = {cout};
    weight(bd, w, 4, wd, sqrt(2.0 / (cin * 9)), 0, 0, 1);
    Onnx__NodeProto *n = mb_node(bd->b, "Conv", cv, MB_IN(in, w), MB_OUT(cv));
    int64_t k[2] = {3, 3}, st[2] = {stride, stride}, pads[4] = {1, 1, 1, 1};
    mb_attr_ints(bd->b, n, "kernel_shape", 2, k);
    mb_attr_ints(bd->b, n, "strides", 2, st);
    mb_attr_ints(bd->b, n, "pads", 4, pads);
    const char *suffix[4] = {"scale", "bias", "mean", "var"};
    for (int j = 0; j < 4; j++) {
        snprintf(s[j], sizeof s[j], "bn%d.%s", i, suffix[j]);
        weight(bd, s[j], 1, cd, 0, 0, j == 0 || j == 3 ? 1.f : 0.f, j < 2);
    }
    n = mb_node(bd->b, "BatchNormalization", bn, MB_IN(cv, s[0], s[1], s[2], s[3]), MB_OUT(bn));
    mb_attr_float(bd->b, n, "epsilon", 1e-5f);
    mb_attr_float(bd->b, n, "momentum", 0.9f);
    char relu[32];
    snprintf(relu, sizeof relu, "relu%d", i);
    mb_node(bd->b, "Relu", relu, MB_IN(bn), MB_OUT(out));
}

/* Gemm y = x W^T + b, W out×in. */
static void fc(builder *bd, const char *name, const char *in, int nin, int nout, const char *out)
{
    char w[48], b[48];
    snprintf(w, sizeof w, "%s.w", name);
    snprintf(b, sizeof b, "%s.b", name);
    int64_t wd[2] = {nout, nin}, bdim[1] = {nout};
    double u = 1.0 / sqrt((double)nin);
    weight(bd, w, 2, wd, 0, u, 0, 1);
    weight(bd, b, 1, bdim, 0, u, 0, 1);
    Onnx__NodeProto *n = mb_node(bd->b, "Gemm", name, MB_IN(in, w, b), MB_OUT(out));
    mb_attr_int(bd->b, n, "transB", 1);
}

static void deconv(builder *bd, int i, const char *in, int cin, int cout, const char *out)
{
    char w[32], b[32], name[32], y[32];
    snprintf(w, sizeof w, "dec%d.w", i);
    snprintf(b, sizeof b, "dec%d.b", i);
    snprintf(name, sizeof name, "dec%d", i);
    snprintf(y, sizeof y, "dec%d.y", i);
    int64_t wd[4] = {cin, cout, 4, 4}, bdim[1] = {cout};
    weight(bd, w, 4, wd, sqrt(2.0 / (cin * 4)), 0, 0, 1);
    weight(bd, b, 1, bdim, 0, 0, 0, 1);
    Onnx__NodeProto *n = mb_node(bd->b, "ConvTranspose", name, MB_IN(in, w, b), MB_OUT(y));
    int64_t k[2] = {4, 4}, st[2] = {2, 2}, pads[4] = {1, 1, 1, 1};
    mb_attr_ints(bd->b, n, "kernel_shape", 2, k);
    mb_attr_ints(bd->b, n, "strides", 2, st);
    mb_attr_ints(bd->b, n, "pads", 4, pads);
    char r[32];
    snprintf(r, sizeof r, "dec%d.relu", i);
    mb_node(bd->b, "Relu", r, MB_IN(y), MB_OUT(out));
}

cs_arch *cs_arch_build(const cs_arch_cfg *cfg, cs_error *err)
{
    if (cfg->width != 64 || cfg->height != 64) {
        cs_train_fail(err, CS_ERR_INVALID,
                      "architecture %s: input must be 64x64 (the backbone's strides are made "
                      "for it), got %dx%d",
                      cs_arch_name(cfg->kind), cfg->width, cfg->height);
        return NULL;
    }
    if (cfg->channels != 3 && cfg->channels != 1) {
        cs_train_fail(err, CS_ERR_INVALID, "architecture: %d image channels (1 or 3)",
                      cfg->channels);
        return NULL;
    }
    if ((cfg->kind == CS_ARCH_GAP || cfg->kind == CS_ARCH_MULTITASK) && cfg->n_classes < 2) {
        cs_train_fail(err, CS_ERR_INVALID, "architecture %s: needs 2 classes or more, got %d",
                      cs_arch_name(cfg->kind), cfg->n_classes);
        return NULL;
    }
    if (cfg->kind == CS_ARCH_POSE && cfg->n_keypoints < 1) {
        cs_train_fail(err, CS_ERR_INVALID,
                      "architecture pose: the dataset has no keypoints (declare them with "
                      "'# keypoints:')");
        return NULL;
    }
    if (cfg->width_mult < 2 || cfg->width_mult > 256) {
        cs_train_fail(err, CS_ERR_INVALID, "architecture: width %d (2 to 256)", cfg->width_mult);
        return NULL;
    }
    cs_arch *a = calloc(1, sizeof *a);
    if (!a) {
        cs_train_fail(err, CS_ERR_NOMEM, "architecture: out of memory");
        return NULL;
    }
    a->cfg = *cfg;
    builder bd = {a, mb_new(13), {{0}}};
    cs_rng_seed(&bd.rng, cfg->seed);
    a->graph = bd.b;
    int w = cfg->width_mult, fc_ = 4 * w;
    a->feat_c = fc_;
    a->feat_h = cfg->height / 8;
    a->feat_w = cfg->width / 8;
    int64_t feat_flat = (int64_t)fc_ * a->feat_h * a->feat_w;
    if (cfg->kind == CS_ARCH_DECODER) {
        a->input = "features";
        int64_t xd[4] = {-1, fc_, a->feat_h, a->feat_w};
        mb_input(bd.b, "features", MB_F32, 4, xd);
        deconv(&bd, 1, "features", fc_, 2 * w, "dec1.out");
        deconv(&bd, 2, "dec1.out", 2 * w, w, "dec2.out");
        deconv(&bd, 3, "dec2.out", w, w, "dec3.out");
        int64_t wd[4] = {cfg->channels, w, 3, 3}, bdim[1] = {cfg->channels};
        weight(&bd, "out.w", 4, wd, sqrt(1.0 / (w * 9)), 0, 0, 1);
        weight(&bd, "out.b", 1, bdim, 0, 0, 0, 1);
        Onnx__NodeProto *n =
            mb_node(bd.b, "Conv", "out", MB_IN("dec3.out", "out.w", "out.b"), MB_OUT("image"));
        int64_t k[2] = {3, 3}, pads[4] = {1, 1, 1, 1};
        mb_attr_ints(bd.b, n, "kernel_shape", 2, k);
        mb_attr_ints(bd.b, n, "pads", 4, pads);
        a->image = "image";
        int64_t od[4] = {-1, cfg->channels, cfg->height, cfg->width};
        mb_output(bd.b, "image", MB_F32, 4, od);
        return a;
    }
    a->input = "input";
    a->target_layer = "features";
    int64_t xd[4] = {-1, cfg->channels, cfg->height, cfg->width};
    mb_input(bd.b, "input", MB_F32, 4, xd);
    /* The original 4 blocks (strides 2, 1, 2, 2) see 19 px: too little of a 20–38 px shape
     * to tell its outline, and `synth images` classes stayed near chance (docs/TRAINING.md).
     * One 3×3 stride-1 block after each downsampling one doubles it at about the same cost. */
    block(&bd, 1, "input", cfg->channels, w, 2, "relu1");
    block(&bd, 2, "relu1", w, w, 1, "relu2");
    block(&bd, 3, "relu2", w, 2 * w, 2, "relu3");
    block(&bd, 4, "relu3", 2 * w, 2 * w, 1, "relu4");
    block(&bd, 5, "relu4", 2 * w, fc_, 2, "relu5");
    block(&bd, 6, "relu5", fc_, fc_, 1, "features");
    if (cfg->kind == CS_ARCH_GAP || cfg->kind == CS_ARCH_MULTITASK) {
        mb_node(bd.b, "GlobalAveragePool", "gap", MB_IN("features"), MB_OUT("gap"));
        Onnx__NodeProto *n = mb_node(bd.b, "Flatten", "gap_flat", MB_IN("gap"), MB_OUT("gap_flat"));
        mb_attr_int(bd.b, n, "axis", 1);
        fc(&bd, "fc", "gap_flat", fc_, cfg->n_classes, "logits");
        a->logits = "logits";
        int64_t od[2] = {-1, cfg->n_classes};
        mb_output(bd.b, "logits", MB_F32, 2, od);
    }
    if (cfg->kind == CS_ARCH_MULTITASK || cfg->kind == CS_ARCH_POSE) {
        Onnx__NodeProto *n = mb_node(bd.b, "Flatten", "flat", MB_IN("features"), MB_OUT("flat"));
        mb_attr_int(bd.b, n, "axis", 1);
    }
    if (cfg->kind == CS_ARCH_MULTITASK) {
        fc(&bd, "boxfc", "flat", (int)feat_flat, 4, "box_raw");
        mb_node(bd.b, "Sigmoid", "box_sigmoid", MB_IN("box_raw"), MB_OUT("box"));
        a->box = "box";
        int64_t od[2] = {-1, 4};
        mb_output(bd.b, "box", MB_F32, 2, od);
    }
    if (cfg->kind == CS_ARCH_POSE) {
        fc(&bd, "pose1", "flat", (int)feat_flat, 128, "pose1.y");
        mb_node(bd.b, "Relu", "pose1.relu", MB_IN("pose1.y"), MB_OUT("pose1.out"));
        fc(&bd, "pose2", "pose1.out", 128, 2 * cfg->n_keypoints, "pose_raw");
        mb_node(bd.b, "Sigmoid", "pose_sigmoid", MB_IN("pose_raw"), MB_OUT("pose"));
        a->pose = "pose";
        int64_t od[2] = {-1, 2 * cfg->n_keypoints};
        mb_output(bd.b, "pose", MB_F32, 2, od);
    }
    return a;
}

void cs_arch_destroy(cs_arch **pa)
{
    if (!pa || !*pa) return;
    cs_arch *a = *pa;
    mb_free(&a->graph);
    for (int i = 0; i < a->n_trainable; i++) free(a->trainable[i]);
    free(a->trainable);
    free(a);
    *pa = NULL;
}

uint8_t *cs_arch_pack(cs_arch *a, size_t *len)
{
    return mb_pack(a->graph, len);
}

cs_status cs_arch_set_weight(cs_arch *a, const char *name, const float *data, int64_t numel,
                             cs_error *err)
{
    Onnx__TensorProto *t = mb_find_initializer(a->graph, name);
    if (!t || !t->has_raw_data)
        return cs_train_fail(err, CS_ERR_INVALID, "architecture: no weight is named '%s'", name);
    if (t->raw_data.len != sizeof(float) * (size_t)numel)
        return cs_train_fail(err, CS_ERR_INVALID,
                             "architecture: weight '%s' holds %zu floats, %lld given", name,
                             t->raw_data.len / sizeof(float), (long long)numel);
    memcpy(t->raw_data.data, data, t->raw_data.len);
    return CS_OK;
}
