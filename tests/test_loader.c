/* The ONNX loader on models built in memory: what it reports (inputs, outputs, opset), how it
 * decodes initializers and Constant nodes, and what it refuses, with which message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "model.h"
#include "model_builder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define assert_msg_has(err, sub)                                                                   \
    do {                                                                                           \
        if (!strstr((err).msg, (sub)))                                                             \
            fail_msg("error message \"%s\" does not mention \"%s\"", (err).msg, (sub));            \
    } while (0)

static cs_model *load(mb_model *b, const char *what, cs_error *err)
{
    size_t len;
    uint8_t *buf = mb_pack(b, &len);
    memset(err, 0, sizeof *err);
    cs_model *m = cs_model_load_memory(buf, len, what, err);
    free(buf);
    return m;
}

/* Loads a model that must fail; returns its status. */
static cs_status load_fails(mb_model *b, const char *what, cs_error *err)
{
    cs_model *m = load(b, what, err);
    if (m) {
        cs_model_destroy(&m);
        fail_msg("%s: loaded, but must be refused", what);
    }
    assert_int_not_equal(err->status, CS_OK);
    assert_true(strlen(err->msg) > 0);
    assert_null(strchr(err->msg, '\n')); /* one line */
    return err->status;
}

static const cs_tensor *konst(const cs_model *m, const char *name)
{
    int id = cs_model_find(m, name);
    assert_true(id >= 0);
    assert_non_null(m->values[id].konst);
    return m->values[id].konst;
}

/* x[1,3,4,4] -> Relu -> y */
static mb_model *relu_model(int opset)
{
    mb_model *b = mb_new(opset);
    int64_t d[] = {1, 3, 4, 4};
    mb_input(b, "x", MB_F32, 4, d);
    mb_node(b, "Relu", "relu1", MB_IN("x"), MB_OUT("y"));
    mb_output(b, "y", MB_F32, 4, d);
    return b;
}

static void check_relu_model(const cs_model *m)
{
    assert_int_equal(cs_model_n_inputs(m), 1);
    assert_int_equal(cs_model_n_outputs(m), 1);
    assert_int_equal(cs_model_n_nodes(m), 1);
    const cs_tensor *x = cs_model_input(m, 0), *y = cs_model_output(m, 0);
    assert_string_equal(x->name, "x");
    assert_int_equal(x->type, CS_F32);
    assert_int_equal(x->ndim, 4);
    assert_int_equal(x->dims[0], 1);
    assert_int_equal(x->dims[1], 3);
    assert_int_equal(x->dims[2], 4);
    assert_int_equal(x->dims[3], 4);
    assert_string_equal(y->name, "y");
    assert_int_equal(y->ndim, 4);
    assert_null(cs_model_input(m, 1));
    assert_null(cs_model_input(m, -1));
    assert_null(cs_model_output(m, 1));
}

static void load_from_memory(void **state)
{
    (void)state;
    mb_model *b = relu_model(13);
    cs_error err;
    cs_model *m = load(b, "relu.onnx", &err);
    assert_non_null(m);
    check_relu_model(m);
    assert_int_equal(cs_model_opset(m), 13);
    cs_model_destroy(&m);
    assert_null(m);
    cs_model_destroy(&m); /* safe twice */
    mb_free(&b);
}

static void load_from_file(void **state)
{
    (void)state;
    char path[] = "/tmp/cs_test_loader_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    mb_model *b = relu_model(11);
    assert_int_equal(mb_write(b, path), 0);
    mb_free(&b);
    cs_error err = {0};
    cs_model *m = cs_model_load_file(path, &err);
    if (!m) fail_msg("%s", err.msg);
    check_relu_model(m);
    assert_int_equal(cs_model_opset(m), 11);
    cs_model_destroy(&m);
    unlink(path);

    /* The file is gone now: an I/O error naming it. */
    m = cs_model_load_file(path, &err);
    assert_null(m);
    assert_int_equal(err.status, CS_ERR_IO);
    assert_msg_has(err, path);
}

static void opset_reported(void **state)
{
    (void)state;
    cs_error err;
    /* "ai.onnx" is the default domain spelled out; other domains do not set the opset. */
    mb_model *b = relu_model(0);
    mb_opset_import(b, "ai.onnx.ml", 3);
    mb_opset_import(b, "ai.onnx", 9);
    cs_model *m = load(b, "m", &err);
    assert_non_null(m);
    assert_int_equal(cs_model_opset(m), 9);
    cs_model_destroy(&m);
    mb_free(&b);

    for (int v = 1; v <= 17; v += 2) {
        b = relu_model(v);
        m = load(b, "m", &err);
        assert_non_null(m);
        assert_int_equal(cs_model_opset(m), v);
        cs_model_destroy(&m);
        mb_free(&b);
    }

    /* Out of the supported range: refused, naming the opset. */
    b = relu_model(0);
    mb_opset_import(b, "", 0);
    assert_int_equal(load_fails(b, "old.onnx", &err), CS_ERR_UNSUPPORTED);
    assert_msg_has(err, "old.onnx");
    assert_msg_has(err, "opset 0");
    mb_free(&b);
    b = relu_model(99);
    assert_int_equal(load_fails(b, "new.onnx", &err), CS_ERR_UNSUPPORTED);
    assert_msg_has(err, "opset 99");
    mb_free(&b);
}

static void initializers_raw_and_typed(void **state)
{
    (void)state;
    const float fv[6] = {1.5f, -2.f, 3.25f, 0.f, -0.5f, 1e-3f};
    const int64_t iv[3] = {2, -1, INT64_C(1) << 40};
    int64_t fd[] = {2, 3}, id[] = {3}, xd[] = {2, 3};
    mb_model *b = mb_new(13);
    mb_input(b, "x", MB_F32, 2, xd);
    mb_init_f32(b, "f_raw", 2, fd, fv);
    mb_add_initializer(b, mb_tensor_f32_typed(b, "f_typed", 2, fd, fv));
    mb_init_i64(b, "i_raw", 1, id, iv);
    mb_add_initializer(b, mb_tensor_i64_typed(b, "i_typed", 1, id, iv));
    mb_init_f32(b, "scalar", 0, NULL, fv);
    mb_node(b, "Add", "add1", MB_IN("x", "f_raw"), MB_OUT("s1"));
    mb_node(b, "Add", "add2", MB_IN("s1", "f_typed"), MB_OUT("y"));
    mb_output(b, "y", MB_F32, 2, xd);
    cs_error err;
    cs_model *m = load(b, "inits", &err);
    if (!m) fail_msg("%s", err.msg);
    /* Initializers are not graph inputs. */
    assert_int_equal(cs_model_n_inputs(m), 1);
    const char *fnames[] = {"f_raw", "f_typed"};
    for (int k = 0; k < 2; k++) {
        const cs_tensor *t = konst(m, fnames[k]);
        assert_int_equal(t->type, CS_F32);
        assert_int_equal(t->ndim, 2);
        assert_int_equal(t->dims[0], 2);
        assert_int_equal(t->dims[1], 3);
        assert_int_equal(t->numel, 6);
        assert_memory_equal(t->data, fv, sizeof fv);
    }
    const char *inames[] = {"i_raw", "i_typed"};
    for (int k = 0; k < 2; k++) {
        const cs_tensor *t = konst(m, inames[k]);
        assert_int_equal(t->type, CS_I64);
        assert_int_equal(t->ndim, 1);
        assert_int_equal(t->numel, 3);
        assert_memory_equal(t->data, iv, sizeof iv);
    }
    const cs_tensor *s = konst(m, "scalar");
    assert_int_equal(s->ndim, 0);
    assert_int_equal(s->numel, 1);
    assert_true(((const float *)s->data)[0] == fv[0]);

    /* And they reach the computation: y = x + 2 f. */
    cs_plan_opts o = cs_plan_opts_default();
    o.threads = 1;
    cs_plan *p = cs_plan_new(m, &o, &err);
    if (!p) fail_msg("%s", err.msg);
    float *x = cs_plan_input(p, 0)->data;
    for (int i = 0; i < 6; i++) x[i] = (float)i;
    assert_int_equal(cs_plan_run(p, &err), CS_OK);
    const float *y = cs_plan_output(p, 0)->data;
    for (int i = 0; i < 6; i++) assert_float_equal(y[i], (float)i + 2 * fv[i], 1e-6);
    cs_plan_destroy(&p);
    cs_model_destroy(&m);
    mb_free(&b);
}

static void constant_nodes(void **state)
{
    (void)state;
    const float cv[4] = {10.f, 20.f, 30.f, 40.f};
    int64_t d[] = {1, 4};
    mb_model *b = mb_new(13);
    mb_input(b, "x", MB_F32, 2, d);
    Onnx__NodeProto *c = mb_node(b, "Constant", "const1", MB_NONE, MB_OUT("c"));
    mb_attr_tensor(b, c, "value", mb_tensor_f32_typed(b, "", 2, d, cv));
    /* A Constant holding an int64 shape, consumed by Reshape. */
    const int64_t shp[2] = {2, 2};
    int64_t sd[] = {2};
    Onnx__NodeProto *cs = mb_node(b, "Constant", NULL, MB_NONE, MB_OUT("shape"));
    mb_attr_tensor(b, cs, "value", mb_tensor_i64(b, "", 1, sd, shp));
    mb_node(b, "Add", "add", MB_IN("x", "c"), MB_OUT("s"));
    mb_node(b, "Reshape", "reshape", MB_IN("s", "shape"), MB_OUT("y"));
    int64_t yd[] = {2, 2};
    mb_output(b, "y", MB_F32, 2, yd);
    cs_error err;
    cs_model *m = load(b, "const", &err);
    if (!m) fail_msg("%s", err.msg);
    assert_int_equal(cs_model_n_nodes(m), 4);
    assert_int_equal(cs_model_n_inputs(m), 1);
    assert_int_equal(m->nodes[0].op, CS_OP_CONSTANT);
    assert_string_equal(m->nodes[0].name, "const1");
    /* An unnamed node gets "<op>#<index>". */
    assert_string_equal(m->nodes[1].name, "Constant#1");
    const cs_attr *a = NULL;
    for (int i = 0; i < m->nodes[0].n_attrs; i++)
        if (strcmp(m->nodes[0].attrs[i].name, "value") == 0) a = &m->nodes[0].attrs[i];
    assert_non_null(a);
    assert_int_equal(a->type, CS_ATTR_TENSOR);
    assert_non_null(a->t);
    assert_int_equal(a->t->numel, 4);
    assert_memory_equal(a->t->data, cv, sizeof cv);

    cs_plan_opts o = cs_plan_opts_default();
    o.threads = 1;
    cs_plan *p = cs_plan_new(m, &o, &err);
    if (!p) fail_msg("%s", err.msg);
    /* Both Constants fold away at plan time: Add and Reshape remain. */
    assert_int_equal(cs_plan_n_steps(p), 2);
    float *x = cs_plan_input(p, 0)->data;
    for (int i = 0; i < 4; i++) x[i] = (float)i;
    assert_int_equal(cs_plan_run(p, &err), CS_OK);
    const cs_tensor *y = cs_plan_output(p, 0);
    assert_int_equal(y->ndim, 2);
    assert_int_equal(y->dims[0], 2);
    assert_int_equal(y->dims[1], 2);
    for (int i = 0; i < 4; i++) assert_float_equal(((float *)y->data)[i], cv[i] + (float)i, 0);
    cs_plan_destroy(&p);
    cs_model_destroy(&m);
    mb_free(&b);
}

/* IR < 4: every initializer is listed as a graph input too; only the others are inputs. */
static void ir3_initializers_as_inputs(void **state)
{
    (void)state;
    const float bv[3] = {1.f, 2.f, 3.f};
    int64_t bd[] = {3}, xd[] = {1, 3};
    mb_model *b = mb_new(8);
    mb_set_ir_version(b, 3);
    mb_input(b, "bias", MB_F32, 1, bd); /* listed first, before the real input */
    mb_input(b, "x", MB_F32, 2, xd);
    mb_input(b, "bias2", MB_F32, 1, bd);
    mb_init_f32(b, "bias", 1, bd, bv);
    mb_init_f32(b, "bias2", 1, bd, bv);
    mb_node(b, "Add", "a1", MB_IN("x", "bias"), MB_OUT("t"));
    mb_node(b, "Add", "a2", MB_IN("t", "bias2"), MB_OUT("y"));
    mb_output(b, "y", MB_F32, 2, xd);
    cs_error err;
    cs_model *m = load(b, "ir3", &err);
    if (!m) fail_msg("%s", err.msg);
    assert_int_equal(cs_model_n_inputs(m), 1);
    assert_string_equal(cs_model_input(m, 0)->name, "x");
    assert_int_equal(cs_model_opset(m), 8);

    cs_plan_opts o = cs_plan_opts_default();
    o.threads = 1;
    cs_plan *p = cs_plan_new(m, &o, &err);
    if (!p) fail_msg("%s", err.msg);
    assert_int_equal(cs_plan_n_inputs(p), 1);
    float *x = cs_plan_input(p, 0)->data;
    for (int i = 0; i < 3; i++) x[i] = 0.5f;
    assert_int_equal(cs_plan_run(p, &err), CS_OK);
    const float *y = cs_plan_output(p, 0)->data;
    for (int i = 0; i < 3; i++) assert_float_equal(y[i], 0.5f + 2 * bv[i], 0);
    cs_plan_destroy(&p);
    cs_model_destroy(&m);
    mb_free(&b);
}

static void symbolic_dims(void **state)
{
    (void)state;
    int64_t xd[] = {-1, 3, -1, -2}; /* "N", 3, "d2", neither value nor name */
    mb_model *b = mb_new(13);
    mb_input(b, "images", MB_F32, 4, xd);
    int64_t sd[] = {-1};
    mb_input(b, "ids", MB_I64, 1, sd);
    mb_node(b, "Relu", "r", MB_IN("images"), MB_OUT("y"));
    mb_node(b, "Identity", "i", MB_IN("ids"), MB_OUT("ids_out"));
    mb_output(b, "y", MB_F32, -1, NULL); /* no shape at all */
    mb_output(b, "ids_out", MB_I64, 1, sd);
    cs_error err;
    cs_model *m = load(b, "sym", &err);
    if (!m) fail_msg("%s", err.msg);
    assert_int_equal(cs_model_n_inputs(m), 2);
    const cs_tensor *x = cs_model_input(m, 0);
    assert_string_equal(x->name, "images");
    assert_int_equal(x->ndim, 4);
    assert_int_equal(x->dims[0], -1);
    assert_int_equal(x->dims[1], 3);
    assert_int_equal(x->dims[2], -1);
    assert_int_equal(x->dims[3], -1);
    const cs_tensor *ids = cs_model_input(m, 1);
    assert_int_equal(ids->type, CS_I64);
    assert_int_equal(ids->dims[0], -1);
    assert_int_equal(cs_model_n_outputs(m), 2);
    assert_int_equal(cs_model_output(m, 0)->ndim, -1);
    assert_int_equal(cs_model_output(m, 1)->type, CS_I64);

    /* Planning without explicit shapes names the input and the symbolic dimension. */
    cs_plan_opts o = cs_plan_opts_default();
    o.threads = 1;
    cs_plan *p = cs_plan_new(m, &o, &err);
    assert_null(p);
    assert_int_equal(err.status, CS_ERR_INVALID);
    assert_msg_has(err, "images");
    assert_msg_has(err, "symbolic");
    cs_model_destroy(&m);
    mb_free(&b);
}

static void external_data_refused(void **state)
{
    (void)state;
    int64_t wd[] = {4}, xd[] = {4};
    mb_model *b = mb_new(13);
    mb_input(b, "x", MB_F32, 1, xd);
    Onnx__TensorProto *w = mb_init_f32(b, "fc.weight", 1, wd, NULL);
    /* As an exporter writes it: no data inside, a location and where to find it. */
    w->has_raw_data = 0;
    w->raw_data.len = 0;
    w->raw_data.data = NULL;
    w->has_data_location = 1;
    w->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    Onnx__StringStringEntryProto init = ONNX__STRING_STRING_ENTRY_PROTO__INIT;
    Onnx__StringStringEntryProto *loc = mb_alloc(b, sizeof *loc);
    *loc = init;
    loc->key = mb_str(b, "location");
    loc->value = mb_str(b, "weights.bin");
    w->n_external_data = 1;
    w->external_data = mb_alloc(b, sizeof *w->external_data);
    w->external_data[0] = loc;
    mb_node(b, "Add", "add", MB_IN("x", "fc.weight"), MB_OUT("y"));
    mb_output(b, "y", MB_F32, 1, xd);
    cs_error err;
    assert_int_equal(load_fails(b, "big.onnx", &err), CS_ERR_UNSUPPORTED);
    assert_msg_has(err, "big.onnx");
    assert_msg_has(err, "fc.weight");
    assert_msg_has(err, "external data");
    mb_free(&b);
}

static void other_domain_refused(void **state)
{
    (void)state;
    mb_model *b = relu_model(13);
    mb_opset_import(b, "com.microsoft", 1);
    Onnx__NodeProto *n = mb_proto(b)->graph->node[0];
    n->domain = mb_str(b, "com.microsoft");
    cs_error err;
    assert_int_equal(load_fails(b, "ms.onnx", &err), CS_ERR_UNSUPPORTED);
    assert_msg_has(err, "ms.onnx");
    assert_msg_has(err, "relu1");
    assert_msg_has(err, "com.microsoft");
    mb_free(&b);

    /* The default domain spelled "ai.onnx" is fine. */
    b = relu_model(13);
    mb_proto(b)->graph->node[0]->domain = mb_str(b, "ai.onnx");
    cs_model *m = load(b, "m", &err);
    assert_non_null(m);
    cs_model_destroy(&m);
    mb_free(&b);
}

static void unknown_op_refused(void **state)
{
    (void)state;
    int64_t d[] = {1, 4};
    mb_model *b = mb_new(13);
    mb_input(b, "x", MB_F32, 2, d);
    mb_node(b, "Relu", "first", MB_IN("x"), MB_OUT("t"));
    mb_node(b, "FrobnicateV2", "frob_node", MB_IN("t"), MB_OUT("y"));
    mb_output(b, "y", MB_F32, 2, d);
    cs_error err;
    assert_int_equal(load_fails(b, "frob.onnx", &err), CS_ERR_UNSUPPORTED);
    assert_msg_has(err, "frob.onnx");
    assert_msg_has(err, "frob_node");
    assert_msg_has(err, "FrobnicateV2");
    assert_msg_has(err, "not supported");
    mb_free(&b);

    /* An unnamed node is named by op and index. */
    b = mb_new(13);
    mb_input(b, "x", MB_F32, 2, d);
    mb_node(b, "Relu", NULL, MB_IN("x"), MB_OUT("t"));
    mb_node(b, "NonMaxSuppression", NULL, MB_IN("t"), MB_OUT("y"));
    mb_output(b, "y", MB_F32, 2, d);
    assert_int_equal(load_fails(b, "nms.onnx", &err), CS_ERR_UNSUPPORTED);
    assert_msg_has(err, "NonMaxSuppression#1");
    mb_free(&b);
}

/* Attributes without a type field (old exporters) are typed by their content. */
static void untyped_attributes(void **state)
{
    (void)state;
    mb_model *b = relu_model(13);
    Onnx__NodeProto *n = mb_proto(b)->graph->node[0];
    const int64_t iv[] = {1, 2, 3};
    mb_attr_ints(b, n, "some_ints", 3, iv);
    mb_attr_float(b, n, "some_float", 0.25f);
    mb_attr_string(b, n, "some_string", "hello");
    mb_attr_int(b, n, "some_int", -7);
    for (size_t i = 0; i < n->n_attribute; i++) n->attribute[i]->has_type = 0;
    cs_error err;
    cs_model *m = load(b, "attrs", &err);
    if (!m) fail_msg("%s", err.msg);
    cs_attrs as = {m->nodes[0].n_attrs, m->nodes[0].attrs};
    int64_t got[4];
    assert_int_equal(cs_attr_ints(&as, "some_ints", got, 4), 3);
    assert_memory_equal(got, iv, sizeof iv);
    assert_true(cs_attr_float(&as, "some_float", 0.f) == 0.25f);
    assert_string_equal(cs_attr_string(&as, "some_string", ""), "hello");
    assert_int_equal(cs_attr_int(&as, "some_int", 0), -7);
    cs_model_destroy(&m);
    mb_free(&b);
}

static void graph_structure_errors(void **state)
{
    (void)state;
    int64_t d[] = {1, 4};
    cs_error err;

    /* A node reading a value defined later (not topologically sorted). */
    mb_model *b = mb_new(13);
    mb_input(b, "x", MB_F32, 2, d);
    mb_node(b, "Relu", "late", MB_IN("t"), MB_OUT("y"));
    mb_node(b, "Relu", "early", MB_IN("x"), MB_OUT("t"));
    mb_output(b, "y", MB_F32, 2, d);
    assert_int_equal(load_fails(b, "order.onnx", &err), CS_ERR_INVALID);
    assert_msg_has(err, "late");
    assert_msg_has(err, "'t'");
    mb_free(&b);

    /* Two nodes writing the same value. */
    b = mb_new(13);
    mb_input(b, "x", MB_F32, 2, d);
    mb_node(b, "Relu", "r1", MB_IN("x"), MB_OUT("y"));
    mb_node(b, "Relu", "r2", MB_IN("x"), MB_OUT("y"));
    mb_output(b, "y", MB_F32, 2, d);
    assert_int_equal(load_fails(b, "dup.onnx", &err), CS_ERR_INVALID);
    assert_msg_has(err, "r2");
    assert_msg_has(err, "already defined");
    mb_free(&b);

    /* A graph output nothing produces. */
    b = relu_model(13);
    mb_output(b, "ghost", MB_F32, 2, d);
    assert_int_equal(load_fails(b, "ghost.onnx", &err), CS_ERR_INVALID);
    assert_msg_has(err, "ghost");
    mb_free(&b);

    /* No outputs at all. */
    b = mb_new(13);
    mb_input(b, "x", MB_F32, 2, d);
    mb_node(b, "Relu", "r", MB_IN("x"), MB_OUT("y"));
    assert_int_equal(load_fails(b, "noout.onnx", &err), CS_ERR_INVALID);
    assert_msg_has(err, "no outputs");
    mb_free(&b);

    /* Wrong input count for the op. */
    b = mb_new(13);
    mb_input(b, "x", MB_F32, 2, d);
    mb_node(b, "Add", "add_one", MB_IN("x"), MB_OUT("y"));
    mb_output(b, "y", MB_F32, 2, d);
    assert_int_equal(load_fails(b, "arity.onnx", &err), CS_ERR_INVALID);
    assert_msg_has(err, "add_one");
    assert_msg_has(err, "1 inputs");
    mb_free(&b);

    /* Unsupported input element type (uint8 images). */
    b = mb_new(13);
    mb_input(b, "x", 2 /* UINT8 */, 2, d);
    mb_node(b, "Relu", "r", MB_IN("x"), MB_OUT("y"));
    mb_output(b, "y", MB_F32, 2, d);
    assert_int_equal(load_fails(b, "u8.onnx", &err), CS_ERR_UNSUPPORTED);
    assert_msg_has(err, "UINT8");
    assert_msg_has(err, "'x'");
    mb_free(&b);

    /* Duplicate initializer names. */
    b = relu_model(13);
    int64_t od[] = {1};
    mb_init_f32(b, "w", 1, od, NULL);
    mb_init_f32(b, "w", 1, od, NULL);
    assert_int_equal(load_fails(b, "twice.onnx", &err), CS_ERR_PARSE);
    assert_msg_has(err, "'w'");
    mb_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(load_from_memory),     cmocka_unit_test(load_from_file),
        cmocka_unit_test(opset_reported),       cmocka_unit_test(initializers_raw_and_typed),
        cmocka_unit_test(constant_nodes),       cmocka_unit_test(ir3_initializers_as_inputs),
        cmocka_unit_test(symbolic_dims),        cmocka_unit_test(external_data_refused),
        cmocka_unit_test(other_domain_refused), cmocka_unit_test(unknown_op_refused),
        cmocka_unit_test(untyped_attributes),   cmocka_unit_test(graph_structure_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
