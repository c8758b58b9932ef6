/* placeholder: to be implemented */
#include "../graph.h"

const cs_op_def cs_def_softmax = {.onnx_name = "Softmax"};
const cs_op_def cs_def_log_softmax = {.onnx_name = "LogSoftmax"};
const cs_op_def cs_def_reduce_mean = {.onnx_name = "ReduceMean"};
