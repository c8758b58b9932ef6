/* ONNX model builder (see camstream/model_builder.h). Everything hung on the ModelProto comes
 * from a list of blocks owned by the builder, so freeing never depends on how protobuf-c
 * would free an unpacked message. Repeated fields grow by copying into a new block. */
#include "camstream/model_builder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mb_model {
    Onnx__ModelProto model;
    Onnx__GraphProto graph;
    void **blocks;
    size_t n_blocks, cap_blocks;
};

static void oom(void)
{
    fprintf(stderr, "model_builder: out of memory\n");
    abort();
}

void *mb_alloc(mb_model *b, size_t bytes)
{
    if (b->n_blocks == b->cap_blocks) {
        size_t cap = b->cap_blocks ? b->cap_blocks * 2 : 64;
        void **nb = realloc(b->blocks, cap * sizeof *nb);
        if (!nb) oom();
        b->blocks = nb;
        b->cap_blocks = cap;
    }
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p) oom();
    b->blocks[b->n_blocks++] = p;
    return p;
}

char *mb_str(mb_model *b, const char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = mb_alloc(b, n);
    memcpy(d, s, n);
    return d;
}

/* Appends one pointer to a repeated field (array of pointers + count). */
static void push(mb_model *b, void ***arr, size_t *n, void *item)
{
    void **na = mb_alloc(b, (*n + 1) * sizeof *na);
    if (*n) memcpy(na, *arr, *n * sizeof *na);
    na[(*n)++] = item;
    *arr = na; /* the old block stays in the list until mb_free */
}

#define PUSH(b, field, count, item) push((b), (void ***)&(field), &(count), (item))

mb_model *mb_new(int opset)
{
    mb_model *b = calloc(1, sizeof *b);
    if (!b) oom();
    Onnx__ModelProto m = ONNX__MODEL_PROTO__INIT;
    Onnx__GraphProto g = ONNX__GRAPH_PROTO__INIT;
    b->model = m;
    b->graph = g;
    b->model.graph = &b->graph;
    b->graph.name = mb_str(b, "test");
    b->model.has_ir_version = 1;
    b->model.ir_version = 8;
    b->model.producer_name = mb_str(b, "camstream-tests");
    if (opset > 0) mb_opset_import(b, "", opset);
    return b;
}

void mb_free(mb_model **pb)
{
    if (!pb || !*pb) return;
    mb_model *b = *pb;
    for (size_t i = 0; i < b->n_blocks; i++) free(b->blocks[i]);
    free(b->blocks);
    free(b);
    *pb = NULL;
}

Onnx__ModelProto *mb_proto(mb_model *b)
{
    return &b->model;
}

void mb_set_ir_version(mb_model *b, int64_t ir)
{
    b->model.has_ir_version = 1;
    b->model.ir_version = ir;
}

void mb_opset_import(mb_model *b, const char *domain, int64_t version)
{
    Onnx__OperatorSetIdProto *o = mb_alloc(b, sizeof *o);
    Onnx__OperatorSetIdProto init = ONNX__OPERATOR_SET_ID_PROTO__INIT;
    *o = init;
    o->domain = mb_str(b, domain);
    o->has_version = 1;
    o->version = version;
    PUSH(b, b->model.opset_import, b->model.n_opset_import, o);
}

static Onnx__ValueInfoProto *value_info(mb_model *b, const char *name, int elem_type, int ndim,
                                        const int64_t *dims)
{
    Onnx__ValueInfoProto vinit = ONNX__VALUE_INFO_PROTO__INIT;
    Onnx__TypeProto tinit = ONNX__TYPE_PROTO__INIT;
    Onnx__TypeProto__Tensor ttinit = ONNX__TYPE_PROTO__TENSOR__INIT;
    Onnx__ValueInfoProto *vi = mb_alloc(b, sizeof *vi);
    Onnx__TypeProto *tp = mb_alloc(b, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = mb_alloc(b, sizeof *tt);
    *vi = vinit;
    *tp = tinit;
    *tt = ttinit;
    vi->name = mb_str(b, name);
    vi->type = tp;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    tt->has_elem_type = 1;
    tt->elem_type = elem_type;
    if (ndim < 0) return vi;
    Onnx__TensorShapeProto sinit = ONNX__TENSOR_SHAPE_PROTO__INIT;
    Onnx__TensorShapeProto *sp = mb_alloc(b, sizeof *sp);
    *sp = sinit;
    tt->shape = sp;
    for (int i = 0; i < ndim; i++) {
        Onnx__TensorShapeProto__Dimension dinit = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__INIT;
        Onnx__TensorShapeProto__Dimension *d = mb_alloc(b, sizeof *d);
        *d = dinit;
        if (dims[i] >= 0) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = dims[i];
        } else if (dims[i] == -1) {
            char buf[16];
            snprintf(buf, sizeof buf, i == 0 ? "N" : "d%d", i);
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = mb_str(b, buf);
        }
        PUSH(b, sp->dim, sp->n_dim, d);
    }
    return vi;
}

Onnx__ValueInfoProto *mb_input(mb_model *b, const char *name, int elem_type, int ndim,
                               const int64_t *dims)
{
    Onnx__ValueInfoProto *vi = value_info(b, name, elem_type, ndim, dims);
    PUSH(b, b->graph.input, b->graph.n_input, vi);
    return vi;
}

Onnx__ValueInfoProto *mb_output(mb_model *b, const char *name, int elem_type, int ndim,
                                const int64_t *dims)
{
    Onnx__ValueInfoProto *vi = value_info(b, name, elem_type, ndim, dims);
    PUSH(b, b->graph.output, b->graph.n_output, vi);
    return vi;
}

static Onnx__TensorProto *tensor_head(mb_model *b, const char *name, int data_type, int ndim,
                                      const int64_t *dims, size_t *numel)
{
    Onnx__TensorProto init = ONNX__TENSOR_PROTO__INIT;
    Onnx__TensorProto *t = mb_alloc(b, sizeof *t);
    *t = init;
    t->name = mb_str(b, name ? name : "");
    t->has_data_type = 1;
    t->data_type = data_type;
    t->n_dims = ndim > 0 ? (size_t)ndim : 0;
    t->dims = mb_alloc(b, sizeof(int64_t) * (t->n_dims + 1));
    size_t n = 1;
    for (size_t i = 0; i < t->n_dims; i++) {
        t->dims[i] = dims[i];
        n *= dims[i] > 0 ? (size_t)dims[i] : 0;
    }
    *numel = n;
    return t;
}

Onnx__TensorProto *mb_tensor_raw(mb_model *b, const char *name, int data_type, int ndim,
                                 const int64_t *dims, const void *raw, size_t raw_len)
{
    size_t n;
    Onnx__TensorProto *t = tensor_head(b, name, data_type, ndim, dims, &n);
    t->has_raw_data = 1;
    t->raw_data.len = raw_len;
    t->raw_data.data = mb_alloc(b, raw_len);
    if (raw && raw_len) memcpy(t->raw_data.data, raw, raw_len);
    return t;
}

Onnx__TensorProto *mb_tensor_f32(mb_model *b, const char *name, int ndim, const int64_t *dims,
                                 const float *data)
{
    size_t n;
    Onnx__TensorProto *t = tensor_head(b, name, MB_F32, ndim, dims, &n);
    t->has_raw_data = 1;
    t->raw_data.len = n * sizeof(float);
    t->raw_data.data = mb_alloc(b, t->raw_data.len);
    if (data && n) memcpy(t->raw_data.data, data, t->raw_data.len);
    return t;
}

Onnx__TensorProto *mb_tensor_i64(mb_model *b, const char *name, int ndim, const int64_t *dims,
                                 const int64_t *data)
{
    size_t n;
    Onnx__TensorProto *t = tensor_head(b, name, MB_I64, ndim, dims, &n);
    t->has_raw_data = 1;
    t->raw_data.len = n * sizeof(int64_t);
    t->raw_data.data = mb_alloc(b, t->raw_data.len);
    if (data && n) memcpy(t->raw_data.data, data, t->raw_data.len);
    return t;
}

Onnx__TensorProto *mb_tensor_f32_typed(mb_model *b, const char *name, int ndim, const int64_t *dims,
                                       const float *data)
{
    size_t n;
    Onnx__TensorProto *t = tensor_head(b, name, MB_F32, ndim, dims, &n);
    t->n_float_data = n;
    t->float_data = mb_alloc(b, n * sizeof(float));
    if (data && n) memcpy(t->float_data, data, n * sizeof(float));
    return t;
}

Onnx__TensorProto *mb_tensor_i64_typed(mb_model *b, const char *name, int ndim, const int64_t *dims,
                                       const int64_t *data)
{
    size_t n;
    Onnx__TensorProto *t = tensor_head(b, name, MB_I64, ndim, dims, &n);
    t->n_int64_data = n;
    t->int64_data = mb_alloc(b, n * sizeof(int64_t));
    if (data && n) memcpy(t->int64_data, data, n * sizeof(int64_t));
    return t;
}

Onnx__TensorProto *mb_add_initializer(mb_model *b, Onnx__TensorProto *t)
{
    PUSH(b, b->graph.initializer, b->graph.n_initializer, t);
    return t;
}

Onnx__TensorProto *mb_init_f32(mb_model *b, const char *name, int ndim, const int64_t *dims,
                               const float *data)
{
    return mb_add_initializer(b, mb_tensor_f32(b, name, ndim, dims, data));
}

Onnx__TensorProto *mb_init_i64(mb_model *b, const char *name, int ndim, const int64_t *dims,
                               const int64_t *data)
{
    return mb_add_initializer(b, mb_tensor_i64(b, name, ndim, dims, data));
}

Onnx__NodeProto *mb_node(mb_model *b, const char *op_type, const char *name, int n_in,
                         const char *const *inputs, int n_out, const char *const *outputs)
{
    Onnx__NodeProto init = ONNX__NODE_PROTO__INIT;
    Onnx__NodeProto *n = mb_alloc(b, sizeof *n);
    *n = init;
    n->op_type = mb_str(b, op_type);
    n->name = mb_str(b, name);
    n->n_input = (size_t)n_in;
    n->input = mb_alloc(b, sizeof(char *) * ((size_t)n_in + 1));
    for (int i = 0; i < n_in; i++) n->input[i] = mb_str(b, inputs[i]);
    n->n_output = (size_t)n_out;
    n->output = mb_alloc(b, sizeof(char *) * ((size_t)n_out + 1));
    for (int i = 0; i < n_out; i++) n->output[i] = mb_str(b, outputs[i]);
    PUSH(b, b->graph.node, b->graph.n_node, n);
    return n;
}

static Onnx__AttributeProto *attr(mb_model *b, Onnx__NodeProto *n, const char *name,
                                  Onnx__AttributeProto__AttributeType type)
{
    Onnx__AttributeProto init = ONNX__ATTRIBUTE_PROTO__INIT;
    Onnx__AttributeProto *a = mb_alloc(b, sizeof *a);
    *a = init;
    a->name = mb_str(b, name);
    a->has_type = 1;
    a->type = type;
    PUSH(b, n->attribute, n->n_attribute, a);
    return a;
}

void mb_attr_int(mb_model *b, Onnx__NodeProto *n, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    a->has_i = 1;
    a->i = v;
}

void mb_attr_float(mb_model *b, Onnx__NodeProto *n, const char *name, float v)
{
    Onnx__AttributeProto *a = attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    a->has_f = 1;
    a->f = v;
}

void mb_attr_string(mb_model *b, Onnx__NodeProto *n, const char *name, const char *s)
{
    Onnx__AttributeProto *a = attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    a->has_s = 1;
    a->s.len = strlen(s);
    a->s.data = (uint8_t *)mb_str(b, s);
}

void mb_attr_ints(mb_model *b, Onnx__NodeProto *n, const char *name, int count, const int64_t *v)
{
    Onnx__AttributeProto *a = attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    a->n_ints = (size_t)count;
    a->ints = mb_alloc(b, sizeof(int64_t) * ((size_t)count + 1));
    if (count) memcpy(a->ints, v, sizeof(int64_t) * (size_t)count);
}

void mb_attr_floats(mb_model *b, Onnx__NodeProto *n, const char *name, int count, const float *v)
{
    Onnx__AttributeProto *a = attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS);
    a->n_floats = (size_t)count;
    a->floats = mb_alloc(b, sizeof(float) * ((size_t)count + 1));
    if (count) memcpy(a->floats, v, sizeof(float) * (size_t)count);
}

void mb_attr_tensor(mb_model *b, Onnx__NodeProto *n, const char *name, Onnx__TensorProto *t)
{
    Onnx__AttributeProto *a = attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR);
    a->t = t;
}

Onnx__TensorProto *mb_find_initializer(mb_model *b, const char *name)
{
    for (size_t i = 0; i < b->graph.n_initializer; i++)
        if (b->graph.initializer[i]->name && !strcmp(b->graph.initializer[i]->name, name))
            return b->graph.initializer[i];
    return NULL;
}

uint8_t *mb_pack(mb_model *b, size_t *len)
{
    size_t n = onnx__model_proto__get_packed_size(&b->model);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) oom();
    size_t packed = onnx__model_proto__pack(&b->model, buf);
    if (packed != n) {
        fprintf(stderr, "model_builder: packed %zu bytes, expected %zu\n", packed, n);
        abort();
    }
    *len = n;
    return buf;
}

int mb_write(mb_model *b, const char *path)
{
    size_t len;
    uint8_t *buf = mb_pack(b, &len);
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(buf);
        return -1;
    }
    size_t w = fwrite(buf, 1, len, f);
    int rc = (fclose(f) != 0 || w != len) ? -1 : 0;
    free(buf);
    return rc;
}
