/* placeholder: to be implemented */
#include "../graph.h"

const cs_op_def cs_def_add = {.onnx_name = "Add"};
const cs_op_def cs_def_sub = {.onnx_name = "Sub"};
const cs_op_def cs_def_mul = {.onnx_name = "Mul"};
const cs_op_def cs_def_div = {.onnx_name = "Div"};
const cs_op_def cs_def_prelu = {.onnx_name = "PRelu"};
