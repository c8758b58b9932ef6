/* Internal graph representation shared by the loader, the planner and the ops.
 *
 * A graph is a list of values (tensors, by ONNX name) and a list of nodes in topological
 * order. Every op family lives in core/src/ops/<family>.c and registers a cs_op_def in the
 * table of ops.c. Each op def gives:
 *   init     parse attributes (already decoded from protobuf) into n->params; once per load
 *   shape    set output types and dims from input shapes (constant inputs have data);
 *            may set n->scratch_bytes for temporary memory used by forward
 *   prepare  optional: repack constant weights once per plan (n->prep)
 *   forward  compute outputs; must not allocate (use ex->scratch)
 *
 * Rules every op follows:
 *   - At shape() and prepare() time in[i]->data is non-NULL exactly when input i is a
 *     constant (initializer, Constant node or folded subgraph); absent optional inputs are
 *     NULL pointers in `in`.
 *   - shape() rejects anything forward() cannot do, with cs_node_fail(): forward never fails.
 *   - CS_OPF_ALIAS ops get out[0]->data == in[0]->data from the planner; forward copies only
 *     when the two differ.
 *   - Types: CS_F32 for data, CS_I64 for shapes and indices; shape ops accept both.
 *   - Ops with a backward (gradient work) keep it next to the forward in the same file.
 */
#ifndef CS_GRAPH_H
#define CS_GRAPH_H

#include "camstream/core.h"

#include <stdbool.h>
#include <stdio.h>

typedef enum {
    CS_OP_CONV,
    CS_OP_CONV_TRANSPOSE,
    CS_OP_BATCHNORM,
    CS_OP_RELU,
    CS_OP_LEAKY_RELU,
    CS_OP_PRELU,
    CS_OP_CLIP,
    CS_OP_SIGMOID,
    CS_OP_HARD_SIGMOID,
    CS_OP_HARD_SWISH,
    CS_OP_TANH,
    CS_OP_MAXPOOL,
    CS_OP_AVGPOOL,
    CS_OP_GLOBAL_AVGPOOL,
    CS_OP_GLOBAL_MAXPOOL,
    CS_OP_GEMM,
    CS_OP_MATMUL,
    CS_OP_ADD,
    CS_OP_SUB,
    CS_OP_MUL,
    CS_OP_DIV,
    CS_OP_CONCAT,
    CS_OP_FLATTEN,
    CS_OP_RESHAPE,
    CS_OP_TRANSPOSE,
    CS_OP_SQUEEZE,
    CS_OP_UNSQUEEZE,
    CS_OP_SHAPE,
    CS_OP_GATHER,
    CS_OP_SLICE,
    CS_OP_CONSTANT,
    CS_OP_CONSTANT_OF_SHAPE,
    CS_OP_PAD,
    CS_OP_RESIZE,
    CS_OP_UPSAMPLE,
    CS_OP_SOFTMAX,
    CS_OP_LOG_SOFTMAX,
    CS_OP_REDUCE_MEAN,
    CS_OP_DROPOUT,
    CS_OP_IDENTITY,
    CS_OP_COUNT
} cs_op;

/* Activation fused into a Conv/Gemm/MatMul output (applied by the op's forward). */
typedef enum {
    CS_ACT_NONE,
    CS_ACT_RELU,
    CS_ACT_LEAKY_RELU, /* a = alpha */
    CS_ACT_CLIP,       /* a = min, b = max */
    CS_ACT_SIGMOID,
    CS_ACT_HARD_SIGMOID, /* a = alpha, b = beta */
    CS_ACT_HARD_SWISH,
    CS_ACT_TANH,
} cs_act_kind;

typedef struct cs_act {
    cs_act_kind kind;
    float a, b;
} cs_act;

/* Decoded ONNX attribute. Only the fields of its type are set. */
typedef enum {
    CS_ATTR_FLOAT,
    CS_ATTR_INT,
    CS_ATTR_STRING,
    CS_ATTR_TENSOR,
    CS_ATTR_FLOATS,
    CS_ATTR_INTS,
    CS_ATTR_OTHER,
} cs_attr_type;

typedef struct cs_attr {
    const char *name;
    cs_attr_type type;
    float f;
    int64_t i;
    const char *s;     /* NUL-terminated copy */
    cs_tensor *t;      /* owned by the model */
    int n;             /* count for floats / ints */
    const float *floats;
    const int64_t *ints;
} cs_attr;

typedef struct cs_attrs {
    int n;
    const cs_attr *a;
} cs_attrs;

const cs_attr *cs_attr_find(const cs_attrs *as, const char *name);
/* Typed getters: return the default when absent; set *bad (if not NULL) on a wrong type. */
int64_t cs_attr_int(const cs_attrs *as, const char *name, int64_t def);
float cs_attr_float(const cs_attrs *as, const char *name, float def);
const char *cs_attr_string(const cs_attrs *as, const char *name, const char *def);
/* Copies up to max ints into out; returns the count (0 when absent), -1 when more than max. */
int cs_attr_ints(const cs_attrs *as, const char *name, int64_t *out, int max);
int cs_attr_floats(const cs_attrs *as, const char *name, float *out, int max);

typedef struct cs_node {
    cs_op op;
    const char *name;    /* ONNX node name, or "<op>#<index>" when the model gives none */
    const char *op_type; /* ONNX op_type as written */
    int opset;           /* opset version of the default domain */
    int n_in, n_out;
    int *in;             /* value ids; -1 for an absent optional input */
    int *out;
    void *params;        /* op-specific, from init(); freed with free() or def->free_params */
    void *prep;          /* per-plan prepacked data, from prepare(); freed with def->free_prep */
    size_t scratch_bytes; /* set by shape(): temporary memory forward may use */
    int threads;         /* set by the planner before shape(): size scratch per thread */
    cs_act act;          /* fused activation (Conv, ConvTranspose, Gemm, MatMul only) */
} cs_node;

/* Execution context handed to forward(). */
typedef struct cs_pool cs_pool;
typedef struct cs_exec {
    int threads;
    cs_pool *pool;   /* NULL or a pool with `threads` workers (see threads.h) */
    void *scratch;   /* at least n->scratch_bytes, 64-byte aligned */
    int training;    /* plan in training mode (cs_plan_set_training): BatchNorm uses batch
                      * statistics and updates its running ones */
} cs_exec;

typedef struct cs_op_def {
    const char *onnx_name;
    int min_in, max_in; /* max_in < 0: unbounded (Concat) */
    int min_out, max_out;
    unsigned flags;
    cs_status (*init)(cs_node *n, const cs_attrs *a, cs_error *err);
    cs_status (*shape)(cs_node *n, cs_tensor *const *in, cs_tensor *const *out, cs_error *err);
    cs_status (*prepare)(cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                         cs_error *err);
    void (*forward)(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                    const cs_exec *ex);
    void (*free_params)(void *params);
    void (*free_prep)(void *prep);
    /* Vector-Jacobian product. After forward() ran (in/out hold its values), ADDS the
     * gradient w.r.t. input i into gin[i] for every gin[i] != NULL (same shape as in[i]).
     * gout[j] is the gradient w.r.t. output j, NULL when nothing downstream needs it (treat
     * as zero). A fused activation (n->act) is part of the op: gout is w.r.t. the activated
     * output, whose derivative cs_act_backward computes from out[0]. Temporary memory only
     * from ex->scratch, sized by backward_scratch. NULL: the op has no gradient. */
    void (*backward)(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                     cs_tensor *const *gout, cs_tensor *const *gin, const cs_exec *ex);
    /* Scratch bytes backward() needs (per plan, after shape()); NULL = none. */
    size_t (*backward_scratch)(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out);
} cs_op_def;

/* flags */
#define CS_OPF_SHAPE_ONLY 1u /* outputs depend on input shapes only (Shape): foldable early */
#define CS_OPF_ALIAS 2u      /* output 0 is input 0's data with another shape (Reshape...) */
#define CS_OPF_NO_FOLD 4u    /* never evaluate at load time */

extern const cs_op_def *const cs_op_defs[CS_OP_COUNT];
/* The op for an ONNX op_type in the default domain; CS_OP_COUNT when unsupported. */
cs_op cs_op_lookup(const char *onnx_name);

/* Per-family tables, defined in ops/<family>.c and gathered in ops.c. */
extern const cs_op_def cs_def_conv, cs_def_conv_transpose, cs_def_batchnorm;
extern const cs_op_def cs_def_relu, cs_def_leaky_relu, cs_def_prelu, cs_def_clip, cs_def_sigmoid,
    cs_def_hard_sigmoid, cs_def_hard_swish, cs_def_tanh;
extern const cs_op_def cs_def_maxpool, cs_def_avgpool, cs_def_global_avgpool,
    cs_def_global_maxpool;
extern const cs_op_def cs_def_gemm, cs_def_matmul;
extern const cs_op_def cs_def_add, cs_def_sub, cs_def_mul, cs_def_div;
extern const cs_op_def cs_def_concat, cs_def_flatten, cs_def_reshape, cs_def_transpose,
    cs_def_squeeze, cs_def_unsqueeze, cs_def_shape, cs_def_gather, cs_def_slice, cs_def_constant,
    cs_def_constant_of_shape, cs_def_pad;
extern const cs_op_def cs_def_resize, cs_def_upsample;
extern const cs_op_def cs_def_softmax, cs_def_log_softmax, cs_def_reduce_mean;
extern const cs_op_def cs_def_dropout, cs_def_identity;

/* Applies a fused activation to n floats in place. */
void cs_act_apply(const cs_act *act, float *x, int64_t n);
/* gx[i] = gy[i] * act'(x_i), with the derivative computed from the activated value y
 * (every fusable activation but HardSwish allows it; the planner does not fuse HardSwish
 * in plans made for gradients). gx may equal gy. */
void cs_act_backward(const cs_act *act, const float *y, const float *gy, float *gx, int64_t n);

/* Error helper: formats "node 'NAME' (OP): reason" into err and returns status. */
cs_status cs_node_fail(cs_error *err, cs_status st, const cs_node *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
cs_status cs_fail(cs_error *err, cs_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Shape helpers. */
void cs_tensor_set_shape(cs_tensor *t, cs_dtype type, int ndim, const int64_t *dims);
/* Normalizes a possibly negative axis against ndim; returns -1 when out of range. */
int cs_axis(int64_t axis, int ndim);
/* Numpy-style broadcast of a and b into out dims; returns false when incompatible. */
bool cs_broadcast_shape(const cs_tensor *a, const cs_tensor *b, int *ndim, int64_t *dims);

#endif
