/* Builds ONNX models in memory (the trainer's architectures, tests), with the protobuf-c API
 * generated from onnx.proto. Every allocation belongs to the builder and is released by mb_free;
 * the builder never fails silently (out of memory aborts the program: fine for the small graphs
 * built here, and there is no state worth saving at that point).
 *
 *     mb_model *b = mb_new(13);
 *     int64_t xd[] = {-1, 3, 8, 8};                 // -1: symbolic ("N")
 *     mb_input(b, "x", MB_F32, 4, xd);
 *     mb_init_f32(b, "w", 4, wd, w);                // raw_data; mb_init_f32_typed: float_data
 *     Onnx__NodeProto *n = mb_node(b, "Conv", "conv1", MB_IN("x", "w"), MB_OUT("y"));
 *     mb_attr_ints(b, n, "pads", 4, pads);
 *     mb_output(b, "y", MB_F32, -1, NULL);          // ndim < 0: no shape
 *     size_t len; uint8_t *bytes = mb_pack(b, &len); // malloc'd, free() it
 *     mb_free(&b);
 *
 * mb_proto() gives the ModelProto itself for what the helpers do not cover (a node domain,
 * external data, a bogus field); memory hung on it must come from mb_alloc / mb_str. */
#ifndef CAMSTREAM_MODEL_BUILDER_H
#define CAMSTREAM_MODEL_BUILDER_H

#include "onnx.pb-c.h"

#include <stddef.h>
#include <stdint.h>

enum { MB_F32 = 1, MB_I64 = 7 };

typedef struct mb_model mb_model;

/* A model with ir_version 8 and one default-domain opset import (opset <= 0: none). */
mb_model *mb_new(int opset);
void mb_free(mb_model **b);
Onnx__ModelProto *mb_proto(mb_model *b);
void mb_set_ir_version(mb_model *b, int64_t ir);
/* Adds an opset import for another domain. */
void mb_opset_import(mb_model *b, const char *domain, int64_t version);

/* Builder-owned memory (zeroed) and string copies, for direct edits of the proto. */
void *mb_alloc(mb_model *b, size_t bytes);
char *mb_str(mb_model *b, const char *s);

/* Graph inputs and outputs. ndim < 0: no shape. A dim of -1 is symbolic (dim_param "N" for
 * dim 0, "d<i>" for the others); -2 is a dimension with neither a value nor a name. */
Onnx__ValueInfoProto *mb_input(mb_model *b, const char *name, int elem_type, int ndim,
                               const int64_t *dims);
Onnx__ValueInfoProto *mb_output(mb_model *b, const char *name, int elem_type, int ndim,
                                const int64_t *dims);

/* Tensors (initializers and tensor attributes). A NULL data pointer means zeros. */
Onnx__TensorProto *mb_tensor_f32(mb_model *b, const char *name, int ndim, const int64_t *dims,
                                 const float *data);
Onnx__TensorProto *mb_tensor_i64(mb_model *b, const char *name, int ndim, const int64_t *dims,
                                 const int64_t *data);
/* Same values in the typed fields (float_data / int64_data) instead of raw_data. */
Onnx__TensorProto *mb_tensor_f32_typed(mb_model *b, const char *name, int ndim, const int64_t *dims,
                                       const float *data);
Onnx__TensorProto *mb_tensor_i64_typed(mb_model *b, const char *name, int ndim, const int64_t *dims,
                                       const int64_t *data);
/* Any data type with raw_data of any length (to build inconsistent tensors). */
Onnx__TensorProto *mb_tensor_raw(mb_model *b, const char *name, int data_type, int ndim,
                                 const int64_t *dims, const void *raw, size_t raw_len);

/* Graph initializers: the tensor helpers above, added to graph.initializer. */
Onnx__TensorProto *mb_add_initializer(mb_model *b, Onnx__TensorProto *t);
Onnx__TensorProto *mb_init_f32(mb_model *b, const char *name, int ndim, const int64_t *dims,
                               const float *data);
Onnx__TensorProto *mb_init_i64(mb_model *b, const char *name, int ndim, const int64_t *dims,
                               const int64_t *data);

/* The graph initializer with this name, or NULL. */
Onnx__TensorProto *mb_find_initializer(mb_model *b, const char *name);

/* A node; "" in inputs is an absent optional input. name may be NULL (unnamed node). */
Onnx__NodeProto *mb_node(mb_model *b, const char *op_type, const char *name, int n_in,
                         const char *const *inputs, int n_out, const char *const *outputs);
#define MB_COUNT(...) ((int)(sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *)))
#define MB_IN(...) MB_COUNT(__VA_ARGS__), ((const char *const[]){__VA_ARGS__})
#define MB_OUT(...) MB_IN(__VA_ARGS__)
#define MB_NONE 0, NULL

/* Attributes of a node. */
void mb_attr_int(mb_model *b, Onnx__NodeProto *n, const char *name, int64_t v);
void mb_attr_float(mb_model *b, Onnx__NodeProto *n, const char *name, float v);
void mb_attr_string(mb_model *b, Onnx__NodeProto *n, const char *name, const char *s);
void mb_attr_ints(mb_model *b, Onnx__NodeProto *n, const char *name, int count, const int64_t *v);
void mb_attr_floats(mb_model *b, Onnx__NodeProto *n, const char *name, int count, const float *v);
void mb_attr_tensor(mb_model *b, Onnx__NodeProto *n, const char *name, Onnx__TensorProto *t);

/* The serialized model (malloc'd; free() it). */
uint8_t *mb_pack(mb_model *b, size_t *len);
/* Serializes to a file; 0 on success. */
int mb_write(mb_model *b, const char *path);

#endif
