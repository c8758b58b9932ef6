/* placeholder: to be implemented */
#include "../graph.h"

const cs_op_def cs_def_concat = {.onnx_name = "Concat"};
const cs_op_def cs_def_flatten = {.onnx_name = "Flatten"};
const cs_op_def cs_def_reshape = {.onnx_name = "Reshape"};
const cs_op_def cs_def_transpose = {.onnx_name = "Transpose"};
const cs_op_def cs_def_squeeze = {.onnx_name = "Squeeze"};
const cs_op_def cs_def_unsqueeze = {.onnx_name = "Unsqueeze"};
const cs_op_def cs_def_shape = {.onnx_name = "Shape"};
const cs_op_def cs_def_gather = {.onnx_name = "Gather"};
const cs_op_def cs_def_slice = {.onnx_name = "Slice"};
const cs_op_def cs_def_constant = {.onnx_name = "Constant"};
const cs_op_def cs_def_constant_of_shape = {.onnx_name = "ConstantOfShape"};
