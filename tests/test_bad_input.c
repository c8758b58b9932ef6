/* Bad input of every kind must give one clear error: a status other than CS_OK and a message
 * naming the source (file or "memory" name), the node or tensor, and the reason. Nothing may
 * crash or leak (this suite also runs under ASan + UBSan).
 *
 * Also replays the fuzzer's regression inputs (tests/fuzz/regressions/). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "camstream/core.h"
#include "cs_config.h"
#include "model_builder.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define assert_msg_has(err, sub)                                                                   \
    do {                                                                                           \
        if (!strstr((err).msg, (sub)))                                                             \
            fail_msg("error message \"%s\" does not mention \"%s\"", (err).msg, (sub));            \
    } while (0)

/* Inputs larger than this (elements) are not planned when exploring mutated models, and
 * plans needing a larger activation arena (bytes) are not run (as in tests/fuzz). */
#define MAX_INPUT_ELEMENTS 1000000
#define MAX_ARENA_BYTES (64u << 20)

/* ---- helpers ------------------------------------------------------------------------------ */

static uint64_t rng_state;

static uint64_t rng(void)
{
    /* xorshift64*: deterministic, so a failure reproduces. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * UINT64_C(2685821657736338717);
}


static void check_failure(const cs_error *err, const char *what)
{
    if (err->status == CS_OK) fail_msg("%s: failed with status CS_OK", what);
    if (err->msg[0] == 0) fail_msg("%s: failed with an empty message", what);
    /* Mutated models put newlines in names: messages must still be one line. */
    if (strchr(err->msg, '\n')) fail_msg("%s: message of several lines: %s", what, err->msg);
}

static int64_t input_elements(const cs_model *m)
{
    int64_t total = 0;
    for (int i = 0; i < cs_model_n_inputs(m); i++) {
        const cs_tensor *t = cs_model_input(m, i);
        if (t->ndim < 0) return -1;
        int64_t n = 1;
        for (int d = 0; d < t->ndim; d++) {
            int64_t v = t->dims[d] < 0 && d == 0 ? 1 : t->dims[d];
            if (v < 0) return -1;
            if (v > 0 && n > MAX_INPUT_ELEMENTS / v) return -1;
            n *= v;
        }
        total += n;
        if (total > MAX_INPUT_ELEMENTS) return -1;
    }
    return total;
}

typedef enum { R_LOAD_FAILED, R_PLAN_FAILED, R_RAN, R_SKIPPED } outcome;

/* What the fuzzer does: load; if that works, plan and run. Every failure is checked. */
static outcome exercise(const void *buf, size_t len, const char *what)
{
    cs_error err;
    memset(&err, 0, sizeof err);
    cs_model *m = cs_model_load_memory(buf, len, what, &err);
    if (!m) {
        check_failure(&err, what);
        assert_msg_has(err, what);
        return R_LOAD_FAILED;
    }
    if (input_elements(m) < 0) {
        cs_model_destroy(&m);
        return R_SKIPPED;
    }
    cs_plan_opts o = cs_plan_opts_default();
    o.threads = 1;
    cs_plan *p = cs_plan_new(m, &o, &err);
    if (!p) {
        check_failure(&err, what);
        cs_model_destroy(&m);
        return R_PLAN_FAILED;
    }
    if (cs_plan_arena_bytes(p) > MAX_ARENA_BYTES) {
        cs_plan_destroy(&p);
        cs_model_destroy(&m);
        return R_SKIPPED;
    }
    for (int i = 0; i < cs_plan_n_inputs(p); i++) {
        cs_tensor *x = cs_plan_input(p, i);
        memset(x->data, 0, cs_tensor_bytes(x));
    }
    assert_int_equal(cs_plan_run(p, &err), CS_OK);
    cs_plan_destroy(&p);
    cs_model_destroy(&m);
    return R_RAN;
}

static cs_model *load(mb_model *b, const char *what, cs_error *err)
{
    size_t len;
    uint8_t *buf = mb_pack(b, &len);
    memset(err, 0, sizeof *err);
    cs_model *m = cs_model_load_memory(buf, len, what, err);
    free(buf);
    return m;
}

static void load_must_fail(mb_model *b, const char *what, cs_status want, cs_error *err)
{
    cs_model *m = load(b, what, err);
    if (m) {
        cs_model_destroy(&m);
        fail_msg("%s: loaded, but must be refused", what);
    }
    check_failure(err, what);
    assert_msg_has(*err, what);
    if (err->status != want)
        fail_msg("%s: status %d, expected %d (%s)", what, err->status, want, err->msg);
}

/* Loads (must work), then plans with o (must fail). */
static void plan_must_fail(mb_model *b, const cs_plan_opts *o, cs_status want, cs_error *err)
{
    cs_model *m = load(b, "plan.onnx", err);
    if (!m) fail_msg("load: %s", err->msg);
    cs_plan *p = cs_plan_new(m, o, err);
    if (p) {
        cs_plan_destroy(&p);
        cs_model_destroy(&m);
        fail_msg("planned, but must be refused");
    }
    check_failure(err, "plan");
    if (err->status != want)
        fail_msg("plan: status %d, expected %d (%s)", err->status, want, err->msg);
    cs_model_destroy(&m);
}

static const float k_w[] = {0.5f, -1.f,  0.25f, 2.f, -0.75f, 1.f,   0.f,   -2.f, 0.125f,
                            3.f,  -0.5f, 1.5f,  0.f, -1.f,   0.75f, 0.25f, 1.f,  2.f};

/* x[1,2,4,4] -> Conv 3x3 (pad 1, 2 -> 1 channels, bias) -> Relu -> Flatten -> y[1,16] */
static mb_model *small_model(void)
{
    mb_model *b = mb_new(13);
    int64_t xd[] = {1, 2, 4, 4}, wd[] = {1, 2, 3, 3}, bd[] = {1}, yd[] = {1, 16};
    mb_input(b, "x", MB_F32, 4, xd);
    mb_init_f32(b, "conv.weight", 4, wd, k_w);
    mb_init_f32(b, "conv.bias", 1, bd, k_w + 3);
    Onnx__NodeProto *c =
        mb_node(b, "Conv", "conv", MB_IN("x", "conv.weight", "conv.bias"), MB_OUT("c"));
    const int64_t pads[] = {1, 1, 1, 1}, k3[] = {3, 3};
    mb_attr_ints(b, c, "pads", 4, pads);
    mb_attr_ints(b, c, "kernel_shape", 2, k3);
    mb_node(b, "Relu", "relu", MB_IN("c"), MB_OUT("r"));
    Onnx__NodeProto *f = mb_node(b, "Flatten", "flatten", MB_IN("r"), MB_OUT("y"));
    mb_attr_int(b, f, "axis", 1);
    mb_output(b, "y", MB_F32, 2, yd);
    return b;
}

static char *temp_file(const void *data, size_t len)
{
    char *path = strdup("/tmp/cs_bad_input_XXXXXX");
    assert_non_null(path);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    if (len) assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    return path;
}

/* ---- tests -------------------------------------------------------------------------------- */

static void small_model_is_valid(void **state)
{
    (void)state;
    mb_model *b = small_model();
    size_t len;
    uint8_t *buf = mb_pack(b, &len);
    assert_int_equal(exercise(buf, len, "small.onnx"), R_RAN);
    free(buf);
    mb_free(&b);
}

static void truncated(void **state)
{
    (void)state;
    mb_model *b = small_model();
    size_t len;
    uint8_t *buf = mb_pack(b, &len);
    int failed = 0;
    for (size_t n = 0; n < len; n++) {
        /* A copy of exactly n bytes, so ASan sees any read past the end. */
        uint8_t *cut = malloc(n ? n : 1);
        assert_non_null(cut);
        memcpy(cut, buf, n);
        outcome r = exercise(n ? cut : NULL, n, "truncated.onnx");
        failed += r == R_LOAD_FAILED || r == R_PLAN_FAILED;
        free(cut);
    }
    /* A prefix ending at a field boundary may still be a valid protobuf message, but it then
     * lacks the graph's later parts (outputs...): almost every prefix must be refused. */
    if ((size_t)failed < len - 2) fail_msg("only %d of %zu prefixes were refused", failed, len);
    free(buf);
    mb_free(&b);
}

static void bit_flips(void **state)
{
    (void)state;
    mb_model *b = small_model();
    size_t len;
    uint8_t *buf = mb_pack(b, &len);
    uint8_t *mut = malloc(len);
    assert_non_null(mut);
    int counts[4] = {0};
    rng_state = UINT64_C(0x9e3779b97f4a7c15);
    for (int iter = 0; iter < 3000; iter++) {
        memcpy(mut, buf, len);
        int flips = 1 + (int)(rng() % 4);
        for (int k = 0; k < flips; k++) {
            size_t at = (size_t)(rng() % len);
            if (rng() % 2)
                mut[at] ^= (uint8_t)(1u << (rng() % 8));
            else
                mut[at] = (uint8_t)rng(); /* a whole random byte */
        }
        counts[exercise(mut, len, "flipped.onnx")]++;
    }
    /* Both outcomes must occur; otherwise the mutation does not reach the loader. */
    assert_true(counts[R_LOAD_FAILED] > 0);
    assert_true(counts[R_RAN] > 0);
    print_message("bit flips: %d refused at load, %d at plan, %d ran, %d skipped\n",
                  counts[R_LOAD_FAILED], counts[R_PLAN_FAILED], counts[R_RAN], counts[R_SKIPPED]);
    free(mut);
    free(buf);
    mb_free(&b);
}

static void empty(void **state)
{
    (void)state;
    cs_error err = {0};
    assert_null(cs_model_load_memory(NULL, 0, "nothing.onnx", &err));
    check_failure(&err, "empty");
    assert_int_equal(err.status, CS_ERR_PARSE);
    assert_msg_has(err, "nothing.onnx");
    assert_msg_has(err, "empty");
    const char byte = 0;
    assert_null(cs_model_load_memory(&byte, 0, NULL, &err));
    assert_msg_has(err, "memory"); /* the default source name */

    char *path = temp_file(NULL, 0);
    assert_null(cs_model_load_file(path, &err));
    check_failure(&err, "empty file");
    assert_msg_has(err, path);
    assert_msg_has(err, "empty");
    unlink(path);
    free(path);

    /* A directory is not a model either. */
    assert_null(cs_model_load_file("/", &err));
    check_failure(&err, "directory");
    assert_msg_has(err, "/");
}

static void not_onnx(void **state)
{
    (void)state;
    static const uint8_t png[] = {0x89, 'P',  'N',  'G',  0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00,
                                  0x0d, 'I',  'H',  'D',  'R',  0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
                                  0x01, 0x00, 0x08, 0x06, 0x00, 0x00, 0x00, 0x5c, 0x72, 0xa8, 0x66};
    static const char *texts[] = {
        "hello, world\n", "{\"model\": \"resnet18\", \"opset\": 13}\n",
        "#!/bin/sh\necho not a model\n",
        "ir_version: 8\ngraph { node { op_type: \"Relu\" } }\n", /* ONNX text format */
    };
    cs_error err;
    char *path = temp_file(png, sizeof png);
    assert_null(cs_model_load_file(path, &err));
    check_failure(&err, "png");
    assert_int_equal(err.status, CS_ERR_PARSE);
    assert_msg_has(err, path);
    assert_msg_has(err, "not an ONNX model");
    unlink(path);
    free(path);
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        memset(&err, 0, sizeof err);
        assert_null(cs_model_load_memory(texts[i], strlen(texts[i]), "text.onnx", &err));
        check_failure(&err, texts[i]);
        assert_int_equal(err.status, CS_ERR_PARSE);
        assert_msg_has(err, "text.onnx");
        assert_msg_has(err, "not an ONNX model");
    }
    /* A TensorProto is valid protobuf, but not a model. */
    int64_t d[] = {2};
    mb_model *b = mb_new(13);
    Onnx__TensorProto *t = mb_tensor_f32(b, "t", 1, d, k_w);
    size_t n = onnx__tensor_proto__get_packed_size(t);
    uint8_t *tbuf = malloc(n);
    assert_non_null(tbuf);
    onnx__tensor_proto__pack(t, tbuf);
    assert_null(cs_model_load_memory(tbuf, n, "tensor.pb", &err));
    check_failure(&err, "tensor");
    assert_msg_has(err, "tensor.pb");
    assert_msg_has(err, "not an ONNX model");
    free(tbuf);
    mb_free(&b);
}

static void unknown_ops(void **state)
{
    (void)state;
    const char *ops[] = {"LSTM", "Einsum", "relu" /* case matters */, ""};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        mb_model *b = small_model();
        int64_t d[] = {1, 16};
        mb_node(b, ops[i], "head", MB_IN("y"), MB_OUT("z"));
        mb_output(b, "z", MB_F32, 2, d);
        cs_error err;
        load_must_fail(b, "ops.onnx", CS_ERR_UNSUPPORTED, &err);
        assert_msg_has(err, "'head'");
        char quoted[64];
        snprintf(quoted, sizeof quoted, "(%s)", ops[i]);
        assert_msg_has(err, quoted);
        assert_msg_has(err, "not supported");
        mb_free(&b);
    }
}

static void wrong_input_shapes(void **state)
{
    (void)state;
    cs_error err;
    mb_model *b = small_model();
    cs_tensor given;
    memset(&given, 0, sizeof given);
    cs_plan_opts o = cs_plan_opts_default();
    o.threads = 1;
    o.input_shapes = &given;
    o.n_input_shapes = 1;

    /* Channel count differs from the declared 2. */
    int64_t d1[] = {1, 3, 4, 4};
    given.type = CS_F32;
    given.ndim = 4;
    memcpy(given.dims, d1, sizeof d1);
    given.numel = 48;
    plan_must_fail(b, &o, CS_ERR_INVALID, &err);
    assert_msg_has(err, "'x'");
    assert_msg_has(err, "1x3x4x4");
    assert_msg_has(err, "1x2x4x4");

    /* Rank differs. */
    given.ndim = 3;
    plan_must_fail(b, &o, CS_ERR_INVALID, &err);
    assert_msg_has(err, "'x'");
    assert_msg_has(err, "dimensions");

    /* Type differs. */
    given.ndim = 4;
    given.dims[1] = 2;
    given.type = CS_I64;
    plan_must_fail(b, &o, CS_ERR_INVALID, &err);
    assert_msg_has(err, "'x'");
    assert_msg_has(err, "type");
    mb_free(&b);

    /* A fully symbolic input accepts any 4-D shape; the Conv then refuses 3 channels. */
    b = mb_new(13);
    int64_t xd[] = {-1, -1, -1, -1}, wd[] = {1, 2, 3, 3};
    mb_input(b, "x", MB_F32, 4, xd);
    mb_init_f32(b, "w", 4, wd, k_w);
    mb_node(b, "Conv", "conv_sym", MB_IN("x", "w"), MB_OUT("y"));
    mb_output(b, "y", MB_F32, -1, NULL);
    given.type = CS_F32;
    given.ndim = 4;
    memcpy(given.dims, d1, sizeof d1);
    plan_must_fail(b, &o, CS_ERR_INVALID, &err);
    assert_msg_has(err, "conv_sym");
    assert_msg_has(err, "Conv");
    /* Spatial size smaller than the kernel (no padding): refused too. */
    int64_t d2[] = {1, 2, 2, 2};
    memcpy(given.dims, d2, sizeof d2);
    plan_must_fail(b, &o, CS_ERR_INVALID, &err);
    assert_msg_has(err, "conv_sym");
    /* Without explicit shapes the symbolic dims are named. */
    plan_must_fail(b, NULL, CS_ERR_INVALID, &err);
    assert_msg_has(err, "'x'");
    assert_msg_has(err, "symbolic");
    mb_free(&b);
}

static void missing_initializer(void **state)
{
    (void)state;
    mb_model *b = mb_new(13);
    int64_t xd[] = {1, 2, 4, 4};
    mb_input(b, "x", MB_F32, 4, xd);
    /* "conv.weight" is neither an initializer, an input nor a node output. */
    mb_node(b, "Conv", "conv", MB_IN("x", "conv.weight"), MB_OUT("y"));
    mb_output(b, "y", MB_F32, -1, NULL);
    cs_error err;
    load_must_fail(b, "missing.onnx", CS_ERR_INVALID, &err);
    assert_msg_has(err, "'conv'");
    assert_msg_has(err, "Conv");
    assert_msg_has(err, "'conv.weight'");
    mb_free(&b);

    /* Required input given as "" (the fuzzer's first find: Resize with an empty X). */
    b = mb_new(13);
    mb_input(b, "x", MB_F32, 4, xd);
    mb_node(b, "Add", "add", MB_IN("", "x"), MB_OUT("y"));
    mb_output(b, "y", MB_F32, 4, xd);
    load_must_fail(b, "empty_in.onnx", CS_ERR_INVALID, &err);
    assert_msg_has(err, "'add'");
    assert_msg_has(err, "required");
    mb_free(&b);
}

static void wrong_raw_data_length(void **state)
{
    (void)state;
    const size_t lens[] = {0, 4, 20, 23, 28, 64};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        mb_model *b = small_model();
        int64_t d[] = {2, 3}; /* needs 24 bytes */
        uint8_t raw[64] = {0};
        mb_add_initializer(b, mb_tensor_raw(b, "bad.weight", MB_F32, 2, d, raw, lens[i]));
        cs_error err;
        load_must_fail(b, "raw.onnx", CS_ERR_PARSE, &err);
        assert_msg_has(err, "'bad.weight'");
        assert_msg_has(err, "6"); /* elements its shape needs */
        mb_free(&b);
    }
    /* Typed data of the wrong count, and int64 raw data of a float-sized length. */
    mb_model *b = small_model();
    int64_t d[] = {4};
    Onnx__TensorProto *t = mb_tensor_f32_typed(b, "typed.weight", 1, d, k_w);
    t->n_float_data = 3;
    mb_add_initializer(b, t);
    cs_error err;
    load_must_fail(b, "typed.onnx", CS_ERR_PARSE, &err);
    assert_msg_has(err, "'typed.weight'");
    assert_msg_has(err, "typed");
    mb_free(&b);
    b = small_model();
    uint8_t raw[32] = {0};
    mb_add_initializer(b, mb_tensor_raw(b, "shape", MB_I64, 1, d, raw, 16));
    load_must_fail(b, "i64.onnx", CS_ERR_PARSE, &err);
    assert_msg_has(err, "'shape'");
    mb_free(&b);
    /* An unsupported element type. */
    b = small_model();
    mb_add_initializer(b, mb_tensor_raw(b, "dbl", 11 /* DOUBLE */, 1, d, raw, 32));
    load_must_fail(b, "double.onnx", CS_ERR_UNSUPPORTED, &err);
    assert_msg_has(err, "'dbl'");
    assert_msg_has(err, "DOUBLE");
    mb_free(&b);
}

static void negative_dims(void **state)
{
    (void)state;
    mb_model *b = small_model();
    int64_t d[] = {-2, 3};
    mb_add_initializer(b, mb_tensor_raw(b, "neg", MB_F32, 2, d, NULL, 0));
    cs_error err;
    load_must_fail(b, "neg.onnx", CS_ERR_PARSE, &err);
    assert_msg_has(err, "'neg'");
    assert_msg_has(err, "negative dimension -2");
    mb_free(&b);

    /* A negative dim_value in an input declaration reads as unknown: planning names it. */
    b = small_model();
    Onnx__TensorShapeProto *shape = mb_proto(b)->graph->input[0]->type->tensor_type->shape;
    shape->dim[2]->dim_value = -4;
    cs_model *m = load(b, "negin.onnx", &err);
    if (!m) fail_msg("%s", err.msg);
    assert_int_equal(cs_model_input(m, 0)->dims[2], -1);
    cs_plan *p = cs_plan_new(m, NULL, &err);
    assert_null(p);
    check_failure(&err, "negative input dim");
    assert_msg_has(err, "'x'");
    assert_msg_has(err, "dimension 2");
    cs_model_destroy(&m);
    mb_free(&b);
}

static void huge_dims(void **state)
{
    (void)state;
    cs_error err;
    /* An initializer claiming 2^62 elements (and holding none). */
    mb_model *b = small_model();
    int64_t d[] = {INT64_C(1) << 31, INT64_C(1) << 31};
    mb_add_initializer(b, mb_tensor_raw(b, "huge", MB_F32, 2, d, NULL, 0));
    load_must_fail(b, "huge.onnx", CS_ERR_PARSE, &err);
    assert_msg_has(err, "'huge'");
    assert_msg_has(err, "2^31");
    mb_free(&b);
    /* Dims whose product overflows int64. */
    b = small_model();
    int64_t d2[] = {INT64_MAX, INT64_MAX, 2};
    mb_add_initializer(b, mb_tensor_raw(b, "overflow", MB_F32, 3, d2, NULL, 0));
    load_must_fail(b, "overflow.onnx", CS_ERR_PARSE, &err);
    assert_msg_has(err, "'overflow'");
    mb_free(&b);

    /* An input declared with huge dims: the plan refuses it, with no overflow on the way. */
    const int64_t sizes[][4] = {
        {1, 2, INT64_C(1) << 40, INT64_C(1) << 40}, /* product overflows int64 */
        {1, 2, INT64_C(1) << 20, INT64_C(1) << 20}, /* 2^41 elements */
        {INT64_MAX, 2, 4, 4},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        b = mb_new(13);
        mb_input(b, "x", MB_F32, 4, sizes[i]);
        mb_node(b, "Relu", "relu", MB_IN("x"), MB_OUT("y"));
        mb_output(b, "y", MB_F32, -1, NULL);
        cs_plan_opts o = cs_plan_opts_default();
        o.threads = 1;
        plan_must_fail(b, &o, CS_ERR_INVALID, &err);
        assert_msg_has(err, "'x'");
        assert_msg_has(err, "too large");
        mb_free(&b);
    }

    /* An intermediate asking for 2^40 elements (4 TiB): refused before any allocation. */
    b = mb_new(13);
    int64_t xd[] = {1, 4}, sd[] = {2};
    const int64_t big[] = {INT64_C(1) << 20, INT64_C(1) << 20};
    mb_input(b, "x", MB_F32, 2, xd);
    mb_init_i64(b, "big_shape", 1, sd, big);
    mb_node(b, "ConstantOfShape", "fill", MB_IN("big_shape"), MB_OUT("z"));
    mb_node(b, "Add", "add", MB_IN("x", "z"), MB_OUT("y"));
    mb_output(b, "y", MB_F32, -1, NULL);
    plan_must_fail(b, NULL, CS_ERR_INVALID, &err);
    assert_msg_has(err, "'fill'");
    assert_msg_has(err, "ConstantOfShape");
    assert_msg_has(err, "too large");
    mb_free(&b);

    /* The same through explicit input shapes. */
    b = mb_new(13);
    int64_t sym[] = {-1, -1};
    mb_input(b, "x", MB_F32, 2, sym);
    mb_node(b, "Relu", "relu", MB_IN("x"), MB_OUT("y"));
    mb_output(b, "y", MB_F32, -1, NULL);
    cs_tensor given;
    memset(&given, 0, sizeof given);
    given.type = CS_F32;
    given.ndim = 2;
    given.dims[0] = INT64_C(1) << 40;
    given.dims[1] = INT64_C(1) << 40;
    cs_plan_opts o = cs_plan_opts_default();
    o.threads = 1;
    o.input_shapes = &given;
    o.n_input_shapes = 1;
    plan_must_fail(b, &o, CS_ERR_INVALID, &err);
    assert_msg_has(err, "'x'");
    assert_msg_has(err, "too large");
    /* Negative given dims are refused too. */
    given.dims[0] = -3;
    given.dims[1] = 4;
    plan_must_fail(b, &o, CS_ERR_INVALID, &err);
    assert_msg_has(err, "'x'");
    mb_free(&b);
}

static void corrupt_tensorproto(void **state)
{
    (void)state;
    int64_t d[] = {2, 3};
    cs_tensor *t = cs_tensor_new(CS_F32, 2, d, "input_0");
    assert_non_null(t);
    memcpy(t->data, k_w, 6 * sizeof(float));
    char *path = temp_file(NULL, 0);
    cs_error err = {0};
    assert_int_equal(cs_tensorproto_write_file(path, t, &err), CS_OK);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t buf[256];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    assert_true(len > 24 && len < sizeof buf);

    /* The untouched file reads back. */
    cs_tensor *r = cs_tensorproto_read_file(path, &err);
    if (!r) fail_msg("%s", err.msg);
    assert_int_equal(r->numel, 6);
    assert_memory_equal(r->data, k_w, 6 * sizeof(float));
    cs_tensor_free(&r);
    assert_null(r);
    cs_tensor_free(&r); /* safe twice */

    /* Every prefix: refused with the name, or (at field boundaries) read consistently. */
    int refused = 0;
    for (size_t n = 0; n < len; n++) {
        uint8_t *cut = malloc(n ? n : 1);
        memcpy(cut, buf, n);
        memset(&err, 0, sizeof err);
        r = cs_tensorproto_read_memory(cut, n, "input_0.pb", &err);
        if (r) {
            assert_int_equal(cs_tensor_bytes(r), (size_t)r->numel * 4);
            cs_tensor_free(&r);
        } else {
            check_failure(&err, "truncated tensor");
            assert_msg_has(err, "input_0.pb");
            refused++;
        }
        free(cut);
    }
    assert_true(refused >= (int)len - 2);

    /* Random corruption. */
    rng_state = 12345;
    uint8_t mut[256];
    for (int iter = 0; iter < 2000; iter++) {
        memcpy(mut, buf, len);
        for (int k = 0; k < 3; k++) mut[rng() % len] = (uint8_t)rng();
        memset(&err, 0, sizeof err);
        r = cs_tensorproto_read_memory(mut, len, "input_0.pb", &err);
        if (r) {
            int64_t n = 1;
            for (int i = 0; i < r->ndim; i++) n *= r->dims[i];
            assert_int_equal(n, r->numel);
            cs_tensor_free(&r);
        } else {
            check_failure(&err, "corrupt tensor");
            assert_msg_has(err, "input_0.pb");
        }
    }

    /* A corrupt file on disk: the path is named. */
    f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(buf, 1, len / 2, f);
    fclose(f);
    r = cs_tensorproto_read_file(path, &err);
    assert_null(r);
    check_failure(&err, "half file");
    assert_msg_has(err, path);
    /* Text and empty files. */
    f = fopen(path, "wb");
    fputs("not a tensor\n", f);
    fclose(f);
    assert_null(cs_tensorproto_read_file(path, &err));
    assert_msg_has(err, path);
    f = fopen(path, "wb");
    fclose(f);
    assert_null(cs_tensorproto_read_file(path, &err));
    assert_msg_has(err, path);
    assert_msg_has(err, "empty");
    unlink(path);
    assert_null(cs_tensorproto_read_file(path, &err));
    assert_int_equal(err.status, CS_ERR_IO);
    assert_msg_has(err, path);
    free(path);
    cs_tensor_free(&t);
}

/* Fuzzer find: Reshape to a shape whose element count overflows int64 (signed overflow in
 * the Reshape shape function, core/src/ops/shape_ops.c). Must be refused. */
static void reshape_shape_overflow(void **state)
{
    (void)state;
    const int64_t shapes[][2] = {{INT64_MAX, 4}, {INT64_C(1) << 40, INT64_C(1) << 40}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        mb_model *b = mb_new(13);
        int64_t xd[] = {1, 4}, sd[] = {2};
        mb_input(b, "x", MB_F32, 2, xd);
        mb_init_i64(b, "shape", 1, sd, shapes[i]);
        mb_node(b, "Reshape", "reshape", MB_IN("x", "shape"), MB_OUT("y"));
        mb_output(b, "y", MB_F32, -1, NULL);
        cs_error err;
        plan_must_fail(b, NULL, CS_ERR_INVALID, &err);
        assert_msg_has(err, "'reshape'");
        assert_msg_has(err, "Reshape");
        mb_free(&b);
    }
}

/* Models that once crashed the fuzzer (tests/fuzz/regressions/): one clear error or a run. */
static void fuzz_regressions(void **state)
{
    (void)state;
    const char *src = getenv("CS_SOURCE_DIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tests/fuzz/regressions", src ? src : CS_SOURCE_DIR);
    DIR *dp = opendir(dir);
    if (!dp) fail_msg("cannot open %s", dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dp))) {
        if (e->d_name[0] == '.') continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        cs_error err;
        size_t len = 0;
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        uint8_t *buf = malloc(1 << 20);
        assert_non_null(buf);
        len = fread(buf, 1, 1 << 20, f);
        fclose(f);
        outcome r = exercise(buf, len, e->d_name);
        print_message("%s: %s\n", e->d_name,
                      r == R_LOAD_FAILED   ? "refused at load"
                      : r == R_PLAN_FAILED ? "refused at plan"
                      : r == R_RAN         ? "ran"
                                           : "skipped");
        (void)err;
        free(buf);
        n++;
    }
    closedir(dp);
    assert_true(n > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(small_model_is_valid),
        cmocka_unit_test(truncated),
        cmocka_unit_test(bit_flips),
        cmocka_unit_test(empty),
        cmocka_unit_test(not_onnx),
        cmocka_unit_test(unknown_ops),
        cmocka_unit_test(wrong_input_shapes),
        cmocka_unit_test(missing_initializer),
        cmocka_unit_test(wrong_raw_data_length),
        cmocka_unit_test(negative_dims),
        cmocka_unit_test(huge_dims),
        cmocka_unit_test(corrupt_tensorproto),
        cmocka_unit_test(reshape_shape_overflow),
        cmocka_unit_test(fuzz_regressions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
