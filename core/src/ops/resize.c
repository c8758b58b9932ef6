/* placeholder: to be implemented */
#include "../graph.h"

const cs_op_def cs_def_resize = {.onnx_name = "Resize"};
const cs_op_def cs_def_upsample = {.onnx_name = "Upsample"};
