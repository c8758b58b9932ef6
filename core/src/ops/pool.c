/* placeholder: to be implemented */
#include "../graph.h"

const cs_op_def cs_def_maxpool = {.onnx_name = "MaxPool"};
const cs_op_def cs_def_avgpool = {.onnx_name = "AveragePool"};
const cs_op_def cs_def_global_avgpool = {.onnx_name = "GlobalAveragePool"};
const cs_op_def cs_def_global_maxpool = {.onnx_name = "GlobalMaxPool"};
