/* Conversion between ONNX TensorProto messages and cs_tensor (shared by the loader and the
 * TensorProto file reader). */
#ifndef CS_ONNX_TENSOR_H
#define CS_ONNX_TENSOR_H

#include "graph.h"
#include "onnx.pb-c.h"

/* `what` names the tensor's place in errors ("initializer 'fc.weight'"). */
cs_tensor *cs_tensor_from_proto(const Onnx__TensorProto *tp, const char *what, cs_error *err);
const char *cs_onnx_type_name(int32_t data_type);
/* Whole file into a malloc'd buffer; errors name the path. */
void *cs_read_file(const char *path, size_t *len, cs_error *err);

#endif
