/* Writes a seed corpus for fuzz_loader: small valid models that exercise the loader (raw and
 * typed initializers, Constant nodes, attributes of every kind) and the planner (BatchNorm
 * folding, activation fusion, constant folding, aliasing ops).
 *
 * usage: fuzz_seeds DIR */
#include "model_builder.h"

#include <stdio.h>
#include <string.h>

static const char *dir;
static int failures;

static void save(mb_model **b, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/seed_%s.onnx", dir, name);
    if (mb_write(*b, path) != 0) {
        fprintf(stderr, "fuzz_seeds: cannot write %s\n", path);
        failures++;
    }
    mb_free(b);
}

static const float k_vals[16] = {0.5f,   -1.f, 0.25f, 2.f,  -0.75f, 1.f,  0.f,   -2.f,
                                 0.125f, 3.f,  -0.5f, 1.5f, 0.f,    -1.f, 0.75f, 0.25f};

static void conv_bn_relu(void)
{
    mb_model *b = mb_new(13);
    int64_t xd[] = {1, 2, 4, 4}, wd[] = {2, 2, 1, 1}, cd[] = {2};
    mb_input(b, "x", MB_F32, 4, xd);
    mb_init_f32(b, "w", 4, wd, k_vals);
    mb_init_f32(b, "bias", 1, cd, k_vals + 4);
    mb_init_f32(b, "g", 1, cd, k_vals);
    mb_init_f32(b, "be", 1, cd, k_vals + 2);
    mb_init_f32(b, "mu", 1, cd, k_vals + 6);
    const float var[2] = {1.f, 0.5f};
    mb_init_f32(b, "var", 1, cd, var);
    Onnx__NodeProto *c = mb_node(b, "Conv", "conv", MB_IN("x", "w", "bias"), MB_OUT("c"));
    const int64_t k[] = {1, 1}, pads[] = {0, 0, 0, 0}, st[] = {1, 1};
    mb_attr_ints(b, c, "kernel_shape", 2, k);
    mb_attr_ints(b, c, "pads", 4, pads);
    mb_attr_ints(b, c, "strides", 2, st);
    Onnx__NodeProto *bn =
        mb_node(b, "BatchNormalization", "bn", MB_IN("c", "g", "be", "mu", "var"), MB_OUT("n"));
    mb_attr_float(b, bn, "epsilon", 1e-5f);
    mb_node(b, "Relu", "relu", MB_IN("n"), MB_OUT("y"));
    mb_output(b, "y", MB_F32, 4, xd);
    save(&b, "conv_bn_relu");
}

static void conv3x3_clip_pool(void)
{
    mb_model *b = mb_new(11);
    int64_t xd[] = {1, 1, 5, 5}, wd[] = {1, 1, 3, 3}, yd[] = {1, 1, 2, 2};
    mb_input(b, "x", MB_F32, 4, xd);
    mb_add_initializer(b, mb_tensor_f32_typed(b, "w", 4, wd, k_vals));
    mb_init_f32(b, "lo", 0, NULL, k_vals + 6);
    mb_init_f32(b, "hi", 0, NULL, k_vals + 5);
    Onnx__NodeProto *c = mb_node(b, "Conv", NULL, MB_IN("x", "w"), MB_OUT("c"));
    const int64_t pads[] = {1, 1, 1, 1}, k2[] = {2, 2};
    mb_attr_ints(b, c, "pads", 4, pads);
    mb_node(b, "Clip", NULL, MB_IN("c", "lo", "hi"), MB_OUT("r"));
    Onnx__NodeProto *p = mb_node(b, "MaxPool", NULL, MB_IN("r"), MB_OUT("y"));
    mb_attr_ints(b, p, "kernel_shape", 2, k2);
    mb_attr_ints(b, p, "strides", 2, k2);
    mb_output(b, "y", MB_F32, 4, yd);
    save(&b, "conv_clip_pool");
}

static void gemm_bn_softmax(void)
{
    mb_model *b = mb_new(13);
    int64_t xd[] = {-1, 4}, wd[] = {3, 4}, cd[] = {3}, yd[] = {-1, 3};
    mb_input(b, "x", MB_F32, 2, xd);
    mb_init_f32(b, "w", 2, wd, k_vals);
    mb_init_f32(b, "c", 1, cd, k_vals + 12);
    mb_init_f32(b, "g", 1, cd, k_vals + 1);
    mb_init_f32(b, "be", 1, cd, k_vals + 2);
    mb_init_f32(b, "mu", 1, cd, k_vals + 3);
    const float var[3] = {1.f, 2.f, 0.5f};
    mb_init_f32(b, "var", 1, cd, var);
    Onnx__NodeProto *g = mb_node(b, "Gemm", "fc", MB_IN("x", "w", "c"), MB_OUT("h"));
    mb_attr_int(b, g, "transB", 1);
    mb_attr_float(b, g, "alpha", 0.5f);
    mb_node(b, "BatchNormalization", "bn", MB_IN("h", "g", "be", "mu", "var"), MB_OUT("n"));
    Onnx__NodeProto *s = mb_node(b, "Softmax", "sm", MB_IN("n"), MB_OUT("y"));
    mb_attr_int(b, s, "axis", -1);
    mb_output(b, "y", MB_F32, 2, yd);
    save(&b, "gemm_bn_softmax");
}

static void shapes_and_constants(void)
{
    mb_model *b = mb_new(13);
    int64_t xd[] = {1, 2, 2, 3}, sd[] = {2}, yd[] = {3, 4};
    mb_input(b, "x", MB_F32, 4, xd);
    const int64_t shape[2] = {-1, 4};
    Onnx__NodeProto *c = mb_node(b, "Constant", "shape_const", MB_NONE, MB_OUT("shape"));
    mb_attr_tensor(b, c, "value", mb_tensor_i64_typed(b, "", 1, sd, shape));
    mb_node(b, "Shape", "shp", MB_IN("x"), MB_OUT("s"));
    const int64_t perm[] = {0, 1, 3, 2};
    Onnx__NodeProto *t = mb_node(b, "Transpose", "tr", MB_IN("x"), MB_OUT("t"));
    mb_attr_ints(b, t, "perm", 4, perm);
    mb_node(b, "Reshape", "rs", MB_IN("t", "shape"), MB_OUT("r"));
    Onnx__NodeProto *f = mb_node(b, "Flatten", "fl", MB_IN("r"), MB_OUT("f"));
    mb_attr_int(b, f, "axis", 1);
    Onnx__NodeProto *cc = mb_node(b, "Concat", "cat", MB_IN("f", "f", "f"), MB_OUT("cat"));
    mb_attr_int(b, cc, "axis", 0);
    mb_node(b, "Identity", "id", MB_IN("s"), MB_OUT("s_out"));
    Onnx__NodeProto *sl = mb_node(b, "Slice", "sl", MB_IN("cat", "st", "en", "ax"), MB_OUT("y"));
    (void)sl;
    const int64_t st[] = {0}, en[] = {3}, ax[] = {0};
    int64_t one[] = {1};
    mb_init_i64(b, "st", 1, one, st);
    mb_init_i64(b, "en", 1, one, en);
    mb_init_i64(b, "ax", 1, one, ax);
    mb_output(b, "y", MB_F32, 2, yd);
    int64_t s4[] = {4};
    mb_output(b, "s_out", MB_I64, 1, s4);
    save(&b, "shapes_constants");
}

static void binary_broadcast(void)
{
    mb_model *b = mb_new(9);
    int64_t xd[] = {2, 3, 1}, zd[] = {1, 4}, yd[] = {2, 3, 4};
    mb_input(b, "x", MB_F32, 3, xd);
    mb_input(b, "z", MB_F32, 2, zd);
    mb_node(b, "Add", NULL, MB_IN("x", "z"), MB_OUT("a"));
    mb_node(b, "Mul", NULL, MB_IN("a", "z"), MB_OUT("m"));
    mb_node(b, "Sub", NULL, MB_IN("m", "x"), MB_OUT("s"));
    Onnx__NodeProto *l = mb_node(b, "LeakyRelu", NULL, MB_IN("s"), MB_OUT("l"));
    mb_attr_float(b, l, "alpha", 0.1f);
    mb_node(b, "Sigmoid", NULL, MB_IN("l"), MB_OUT("g"));
    mb_node(b, "Tanh", NULL, MB_IN("g"), MB_OUT("y"));
    mb_output(b, "y", MB_F32, 3, yd);
    save(&b, "binary_broadcast");
}

static void gap_head(void)
{
    mb_model *b = mb_new(7);
    mb_set_ir_version(b, 3);
    int64_t xd[] = {1, 2, 3, 3}, wd[] = {2, 2}, yd[] = {1, 2};
    mb_input(b, "x", MB_F32, 4, xd);
    mb_input(b, "w", MB_F32, 2, wd); /* IR 3: initializers are inputs too */
    mb_init_f32(b, "w", 2, wd, k_vals);
    mb_node(b, "GlobalAveragePool", NULL, MB_IN("x"), MB_OUT("g"));
    mb_node(b, "Flatten", NULL, MB_IN("g"), MB_OUT("f"));
    mb_node(b, "MatMul", NULL, MB_IN("f", "w"), MB_OUT("m"));
    Onnx__NodeProto *d = mb_node(b, "Dropout", NULL, MB_IN("m"), MB_OUT("y"));
    mb_attr_float(b, d, "ratio", 0.5f);
    mb_output(b, "y", MB_F32, 2, yd);
    save(&b, "gap_head");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_seeds DIR\n");
        return 2;
    }
    dir = argv[1];
    conv_bn_relu();
    conv3x3_clip_pool();
    gemm_bn_softmax();
    shapes_and_constants();
    binary_broadcast();
    gap_head();
    return failures ? 1 : 0;
}
