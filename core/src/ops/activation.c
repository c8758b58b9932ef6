/* placeholder: to be implemented */
#include "../graph.h"

const cs_op_def cs_def_relu = {.onnx_name = "Relu"};
const cs_op_def cs_def_leaky_relu = {.onnx_name = "LeakyRelu"};
const cs_op_def cs_def_clip = {.onnx_name = "Clip"};
const cs_op_def cs_def_sigmoid = {.onnx_name = "Sigmoid"};
const cs_op_def cs_def_hard_sigmoid = {.onnx_name = "HardSigmoid"};
const cs_op_def cs_def_hard_swish = {.onnx_name = "HardSwish"};
const cs_op_def cs_def_tanh = {.onnx_name = "Tanh"};
const cs_op_def cs_def_dropout = {.onnx_name = "Dropout"};
const cs_op_def cs_def_identity = {.onnx_name = "Identity"};
