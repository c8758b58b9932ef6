/* camstream core: a CNN engine for ONNX models on OpenBLAS.
 *
 * A short tour of the whole API:
 *
 *     cs_error err;
 *     cs_model *m = cs_model_load_file("resnet18.onnx", &err);   // parse, no planning yet
 *     if (!m) { fprintf(stderr, "%s\n", err.msg); return 1; }
 *
 *     cs_plan_opts o = cs_plan_opts_default();                     // threads, batch, kept tensors
 *     o.threads = 2;
 *     cs_plan *p = cs_plan_new(m, &o, &err);                       // shapes, folding, fusion,
 *                                                                  // memory plan: all done here
 *     cs_tensor *x = cs_plan_input(p, 0);                          // write the input in place
 *     memcpy(x->data, pixels, cs_tensor_bytes(x));
 *     if (cs_plan_run(p, &err) != CS_OK) ...                      // allocates nothing
 *     const cs_tensor *y = cs_plan_output(p, 0);
 *     const cs_tensor *f = cs_plan_tensor(p, "layer4.1.relu_1");  // any kept tensor by name
 *
 *     cs_plan_destroy(&p);                                         // safe twice
 *     cs_model_destroy(&m);
 *
 * A model is immutable once loaded and may back any number of plans (one per stream). Plans
 * of one model share its derived weights (BatchNorm-folded, prepacked) read-only through a
 * process-wide, thread-safe, refcounted cache: the first plan computes them, the last one
 * destroyed frees them. Trainable plans own their parameters and share nothing.
 * The library never prints and never exits: failures return NULL or a status and fill
 * cs_error with one message that names what failed and where (file, node, op, reason).
 */
#ifndef CAMSTREAM_CORE_H
#define CAMSTREAM_CORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CS_MAX_DIMS 6
#define CS_ERROR_LEN 512

typedef enum {
    CS_OK = 0,
    CS_ERR_IO,          /* a file could not be read or written */
    CS_ERR_PARSE,       /* not a valid ONNX / TensorProto message */
    CS_ERR_UNSUPPORTED, /* valid ONNX that this engine does not run */
    CS_ERR_INVALID,     /* inconsistent model or arguments (shapes, missing tensors) */
    CS_ERR_NOMEM,
} cs_status;

typedef struct cs_error {
    cs_status status;
    char msg[CS_ERROR_LEN];
} cs_error;

/* Element types use ONNX's TensorProto.DataType codes. */
typedef enum { CS_F32 = 1, CS_I64 = 7 } cs_dtype;

/* The one tensor type: dense, row-major (NCHW for images), up to CS_MAX_DIMS dims. */
typedef struct cs_tensor {
    cs_dtype type;
    int ndim;
    int64_t dims[CS_MAX_DIMS];
    int64_t numel;
    void *data;
    const char *name;
} cs_tensor;

size_t cs_dtype_size(cs_dtype t);
size_t cs_tensor_bytes(const cs_tensor *t);
/* "1x3x224x224" into buf; returns buf. */
const char *cs_shape_str(const cs_tensor *t, char *buf, size_t len);

/* ---- models ---------------------------------------------------------------------------- */

typedef struct cs_model cs_model;

cs_model *cs_model_load_file(const char *path, cs_error *err);
/* `what` names the source in error messages (a file name, "memory"). */
cs_model *cs_model_load_memory(const void *buf, size_t len, const char *what, cs_error *err);
void cs_model_destroy(cs_model **m);

/* Graph inputs (initializers excluded) and outputs, as declared by the model. A symbolic or
 * unknown dimension reads as -1. */
int cs_model_n_inputs(const cs_model *m);
const cs_tensor *cs_model_input(const cs_model *m, int i);
int cs_model_n_outputs(const cs_model *m);
const cs_tensor *cs_model_output(const cs_model *m, int i);
int cs_model_n_nodes(const cs_model *m);
int cs_model_opset(const cs_model *m);

/* ---- plans: a model made runnable for fixed input shapes --------------------------------- */

typedef struct cs_plan cs_plan;

typedef struct cs_plan_opts {
    int threads;             /* every thread: ours and OpenBLAS's; 0 = number of cores */
    int batch;               /* value of a symbolic first dimension; 0 = 1 */
    const char *const *keep; /* tensor names that must stay readable after a run */
    int n_keep;
    int keep_all; /* every intermediate stays readable (no buffer reuse) */
    int no_fuse;  /* skip BatchNorm folding and activation fusion */
    /* Optional explicit input shapes (e.g. from test data); NULL = from the model. */
    const cs_tensor *input_shapes;
    int n_input_shapes;
    /* Bit i set: graph input i is bound to input_shapes[i].data as a plan-time constant
     * (for inputs that define shapes, such as a Reshape's target shape or Resize's sizes). */
    uint64_t const_inputs;
    /* Plan for backward passes (cs_grad): every intermediate stays readable and no fused
     * activation hides a value its derivative needs. */
    int gradients;
    /* With gradients: the only tensors gradients will be asked w.r.t. (e.g. a Grad-CAM
     * layer). Only the values the backward passes from them need stay readable; the rest
     * reuse buffers as in a plain plan, so the forward runs as fast. NULL: every tensor. */
    const char *const *grad_from;
    int n_grad_from;
    /* Plan for training (implies gradients): every float initializer becomes a parameter
     * the plan owns (cs_plan_param), which an optimizer may change between runs. BatchNorm
     * is not folded and nothing that reads a parameter is constant-folded or prepacked.
     * Off (0), plans are made exactly as without this field. */
    int trainable;
} cs_plan_opts;

cs_plan_opts cs_plan_opts_default(void);
cs_plan *cs_plan_new(const cs_model *m, const cs_plan_opts *o, cs_error *err);
/* Like cs_plan_new with input_shapes carrying data, for test-data layouts where a graph
 * input defines a shape (Reshape's shape, Resize's sizes): when planning needs such an input
 * constant, plans again with inputs 1.. (then all inputs) bound as constants. The mask used
 * is left in o->const_inputs; bound inputs need no copying before a run. */
cs_plan *cs_plan_new_binding(const cs_model *m, cs_plan_opts *o, cs_error *err);
void cs_plan_destroy(cs_plan **p);

int cs_plan_n_inputs(const cs_plan *p);
cs_tensor *cs_plan_input(cs_plan *p, int i);
int cs_plan_n_outputs(const cs_plan *p);
const cs_tensor *cs_plan_output(const cs_plan *p, int i);

cs_status cs_plan_run(cs_plan *p, cs_error *err);
/* After a run, when the next one is a while away (a video element between frames): lets the
 * plan's idle worker threads sleep at once instead of spinning for the next op, so that the
 * cores are free for other work meanwhile. The next run wakes them. */
void cs_plan_rest(cs_plan *p);

/* Zero-copy input: until the next bind of input i (NULL restores the plan's own buffer),
 * every cs_plan_run reads input i from the caller's `data` (cs_tensor_bytes of
 * cs_plan_input(p, i), unchanged by the run) instead of cs_plan_input(p, i)->data, which then
 * points at `data` too (do not write through it). Returns 1 when the plan reads data in place,
 * 0 when data is NULL or not float-aligned (then each run copies it into the plan's buffer),
 * -1 when i is not a float input the plan can bind (err filled). Plans of any kind, gradient
 * ones included: the backward passes read the bound data as well. */
int cs_plan_bind_input(cs_plan *p, int i, const float *data, cs_error *err);

/* Every named tensor of the planned graph (inputs, intermediates, outputs, constants),
 * with its shape. `readable` says whether its data holds this tensor after a run. */
int cs_plan_n_tensors(const cs_plan *p);
const cs_tensor *cs_plan_tensor_at(const cs_plan *p, int i, int *readable);
/* A tensor by its ONNX name; NULL (and err filled, if given) when the name is unknown or
 * its buffer was reused (ask for it in cs_plan_opts.keep). */
const cs_tensor *cs_plan_tensor(const cs_plan *p, const char *name, cs_error *err);

/* Parameters of a plan made with opts.trainable (float initializers, in model order):
 * writable in place between runs; 0 / NULL otherwise. */
int cs_plan_n_params(const cs_plan *p);
cs_tensor *cs_plan_param(cs_plan *p, int i);
/* The parameter with this name, or NULL. */
cs_tensor *cs_plan_param_named(cs_plan *p, const char *name);
/* Training mode (opts.trainable plans only; off after cs_plan_new): BatchNorm normalizes
 * with the statistics of the batch, updates its running mean and variance (ONNX momentum
 * convention, unbiased variance as PyTorch) and backward passes go through the batch
 * statistics. Off: running statistics, as in inference. */
cs_status cs_plan_set_training(cs_plan *p, int on, cs_error *err);

/* Size of the activation arena and the number of executed nodes after fusion. */
size_t cs_plan_arena_bytes(const cs_plan *p);
int cs_plan_n_steps(const cs_plan *p);

/* ---- gradients (vector-Jacobian products) ------------------------------------------------ */

typedef struct cs_grad cs_grad;

/* Prepares backward passes from tensor `of` (e.g. the class logits) to each tensor named in
 * wrt (an intermediate, the graph input, or a weight). The plan must have been made with
 * opts.gradients = 1. Only the steps on a path from a wrt tensor to `of` run, so a gradient
 * at the last feature map only runs the head. */
cs_grad *cs_grad_new(cs_plan *p, const char *of, const char *const *wrt, int n_wrt, cs_error *err);
/* Backward passes from several outputs at once (e.g. the heads of a multitask model, for a
 * loss summing theirs): the gradient is the sum of each output's seed contribution. No
 * output may be upstream of another (their seeds are kept between runs). */
cs_grad *cs_grad_new_multi(cs_plan *p, const char *const *of, int n_of, const char *const *wrt,
                           int n_wrt, cs_error *err);
/* Seed of output i of cs_grad_new_multi (cs_grad_seed is output 0). */
cs_tensor *cs_grad_seed_at(cs_grad *g, int i);
void cs_grad_destroy(cs_grad **g);
/* ∂L/∂of, to fill before cs_grad_run (e.g. one-hot on a class); same shape as `of`,
 * zero after cs_grad_new and left as the caller wrote it. */
cs_tensor *cs_grad_seed(cs_grad *g);
/* Backward over the values of the last cs_plan_run; allocates nothing. */
cs_status cs_grad_run(cs_grad *g, cs_error *err);
/* ∂L/∂wrt[i] after cs_grad_run (same shape as that tensor). */
const cs_tensor *cs_grad_wrt(const cs_grad *g, int i);
/* Number of steps a backward pass runs (it stops as early as the request allows). */
int cs_grad_n_steps(const cs_grad *g);

/* ---- ONNX TensorProto files (the layout of the ONNX backend test data) ------------------ */

/* Reads a TensorProto (float or int64; other numeric types are converted where exact).
 * The result owns its data; free it with cs_tensor_free. */
cs_tensor *cs_tensorproto_read_file(const char *path, cs_error *err);
cs_tensor *cs_tensorproto_read_memory(const void *buf, size_t len, const char *what, cs_error *err);
cs_status cs_tensorproto_write_file(const char *path, const cs_tensor *t, cs_error *err);
cs_tensor *cs_tensor_new(cs_dtype type, int ndim, const int64_t *dims, const char *name);
void cs_tensor_free(cs_tensor **t);

#ifdef __cplusplus
}
#endif
#endif
