/* The ONNX model builder moved to train/ (camstream/model_builder.h), where the trainer's
 * architectures use it; tests keep including this name. */
#ifndef CS_TEST_MODEL_BUILDER_H
#define CS_TEST_MODEL_BUILDER_H

#include "camstream/model_builder.h"

#endif
