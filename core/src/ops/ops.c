/* The op table: one entry per cs_op. A unit test checks that no entry is missing, so an op
 * cannot be half-added. */
#include "../graph.h"

#include <string.h>

const cs_op_def *const cs_op_defs[CS_OP_COUNT] = {
    [CS_OP_CONV] = &cs_def_conv,
    [CS_OP_CONV_TRANSPOSE] = &cs_def_conv_transpose,
    [CS_OP_BATCHNORM] = &cs_def_batchnorm,
    [CS_OP_RELU] = &cs_def_relu,
    [CS_OP_LEAKY_RELU] = &cs_def_leaky_relu,
    [CS_OP_PRELU] = &cs_def_prelu,
    [CS_OP_CLIP] = &cs_def_clip,
    [CS_OP_SIGMOID] = &cs_def_sigmoid,
    [CS_OP_HARD_SIGMOID] = &cs_def_hard_sigmoid,
    [CS_OP_HARD_SWISH] = &cs_def_hard_swish,
    [CS_OP_TANH] = &cs_def_tanh,
    [CS_OP_MAXPOOL] = &cs_def_maxpool,
    [CS_OP_AVGPOOL] = &cs_def_avgpool,
    [CS_OP_GLOBAL_AVGPOOL] = &cs_def_global_avgpool,
    [CS_OP_GLOBAL_MAXPOOL] = &cs_def_global_maxpool,
    [CS_OP_GEMM] = &cs_def_gemm,
    [CS_OP_MATMUL] = &cs_def_matmul,
    [CS_OP_ADD] = &cs_def_add,
    [CS_OP_SUB] = &cs_def_sub,
    [CS_OP_MUL] = &cs_def_mul,
    [CS_OP_DIV] = &cs_def_div,
    [CS_OP_CONCAT] = &cs_def_concat,
    [CS_OP_FLATTEN] = &cs_def_flatten,
    [CS_OP_RESHAPE] = &cs_def_reshape,
    [CS_OP_TRANSPOSE] = &cs_def_transpose,
    [CS_OP_SQUEEZE] = &cs_def_squeeze,
    [CS_OP_UNSQUEEZE] = &cs_def_unsqueeze,
    [CS_OP_SHAPE] = &cs_def_shape,
    [CS_OP_GATHER] = &cs_def_gather,
    [CS_OP_SLICE] = &cs_def_slice,
    [CS_OP_CONSTANT] = &cs_def_constant,
    [CS_OP_CONSTANT_OF_SHAPE] = &cs_def_constant_of_shape,
    [CS_OP_PAD] = &cs_def_pad,
    [CS_OP_RESIZE] = &cs_def_resize,
    [CS_OP_UPSAMPLE] = &cs_def_upsample,
    [CS_OP_SOFTMAX] = &cs_def_softmax,
    [CS_OP_LOG_SOFTMAX] = &cs_def_log_softmax,
    [CS_OP_REDUCE_MEAN] = &cs_def_reduce_mean,
    [CS_OP_DROPOUT] = &cs_def_dropout,
    [CS_OP_IDENTITY] = &cs_def_identity,
};

cs_op cs_op_lookup(const char *onnx_name)
{
    for (int i = 0; i < CS_OP_COUNT; i++)
        if (cs_op_defs[i] && strcmp(cs_op_defs[i]->onnx_name, onnx_name) == 0) return (cs_op)i;
    return CS_OP_COUNT;
}
