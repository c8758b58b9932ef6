/* placeholder: to be implemented */
#include "../graph.h"

const cs_op_def cs_def_gemm = {.onnx_name = "Gemm"};
const cs_op_def cs_def_matmul = {.onnx_name = "MatMul"};
