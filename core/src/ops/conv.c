/* placeholder: to be implemented */
#include "../graph.h"

const cs_op_def cs_def_conv = {.onnx_name = "Conv"};
const cs_op_def cs_def_conv_transpose = {.onnx_name = "ConvTranspose"};
