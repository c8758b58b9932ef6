/* placeholder: to be implemented */
#include "../graph.h"

const cs_op_def cs_def_pad = {.onnx_name = "Pad"};
