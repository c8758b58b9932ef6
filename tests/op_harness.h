/* Runs one op outside any graph: init -> shape -> prepare -> forward, as the planner does,
 * with every input treated as a constant. For op unit tests. */
#ifndef CS_OP_HARNESS_H
#define CS_OP_HARNESS_H

#include "graph.h"

#define H_MAX_IO 8

typedef struct h_result {
    cs_status status;
    cs_error err;
    int n_out;
    cs_tensor out[H_MAX_IO];
} h_result;

/* Inputs may contain NULL for an absent optional input. Attributes as a plain array. The
 * outputs are freed by h_result_free. opset: the default-domain opset (e.g. 13). */
h_result h_run(cs_op op, int opset, const cs_attr *attrs, int n_attrs, cs_tensor *const *in,
               int n_in, int n_out, int threads);
void h_result_free(h_result *r);

/* Tensor builders (data copied, freed with cs_tensor_free). */
cs_tensor *h_f32(int ndim, const int64_t *dims, const float *data);
cs_tensor *h_i64(int ndim, const int64_t *dims, const int64_t *data);

/* Attribute builders. */
cs_attr h_attr_int(const char *name, int64_t v);
cs_attr h_attr_float(const char *name, float v);
cs_attr h_attr_ints(const char *name, int n, const int64_t *v);
cs_attr h_attr_floats(const char *name, int n, const float *v);
cs_attr h_attr_string(const char *name, const char *s);

#endif
