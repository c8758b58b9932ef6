#include "op_harness.h"

#include "threads.h"

#include <stdlib.h>
#include <string.h>

h_result h_run(cs_op op, int opset, const cs_attr *attrs, int n_attrs, cs_tensor *const *in,
               int n_in, int n_out, int threads)
{
    h_result r;
    memset(&r, 0, sizeof r);
    const cs_op_def *d = cs_op_defs[op];
    cs_node n;
    memset(&n, 0, sizeof n);
    n.op = op;
    n.name = "test";
    n.op_type = d->onnx_name;
    n.opset = opset;
    n.n_in = n_in;
    n.n_out = n_out;
    n.threads = threads < 1 ? 1 : threads;
    cs_attrs as = {n_attrs, attrs};
    cs_tensor *outs[H_MAX_IO];
    for (int i = 0; i < n_out; i++) outs[i] = &r.out[i];
    r.n_out = n_out;
    r.status = d->init ? d->init(&n, &as, &r.err) : CS_ERR_UNSUPPORTED;
    if (r.status != CS_OK) return r;
    r.status = d->shape(&n, in, outs, &r.err);
    if (r.status == CS_OK && d->prepare) r.status = d->prepare(&n, in, outs, &r.err);
    if (r.status == CS_OK) {
        for (int i = 0; i < n_out; i++) {
            size_t b = cs_tensor_bytes(&r.out[i]);
            r.out[i].data = calloc(1, b ? b : 1);
        }
        if ((d->flags & CS_OPF_ALIAS) && in[0])
            memcpy(r.out[0].data, in[0]->data, cs_tensor_bytes(in[0]));
        void *scratch =
            n.scratch_bytes ? aligned_alloc(64, (n.scratch_bytes + 63) / 64 * 64) : NULL;
        cs_exec ex = {.threads = n.threads, .pool = cs_pool_new(n.threads), .scratch = scratch};
        cs_blas_threads(n.threads);
        d->forward(&n, in, outs, &ex);
        cs_pool_destroy(&ex.pool);
        free(scratch);
    }
    if (n.prep) {
        if (d->free_prep)
            d->free_prep(n.prep);
        else
            free(n.prep);
    }
    if (n.params) {
        if (d->free_params)
            d->free_params(n.params);
        else
            free(n.params);
    }
    return r;
}

void h_result_free(h_result *r)
{
    for (int i = 0; i < r->n_out; i++) {
        free(r->out[i].data);
        r->out[i].data = NULL;
    }
}

static cs_tensor *h_make(cs_dtype t, int ndim, const int64_t *dims, const void *data)
{
    cs_tensor *x = cs_tensor_new(t, ndim, dims, NULL);
    if (x && data) memcpy(x->data, data, cs_tensor_bytes(x));
    return x;
}

cs_tensor *h_f32(int ndim, const int64_t *dims, const float *data)
{
    return h_make(CS_F32, ndim, dims, data);
}

cs_tensor *h_i64(int ndim, const int64_t *dims, const int64_t *data)
{
    return h_make(CS_I64, ndim, dims, data);
}

cs_attr h_attr_int(const char *name, int64_t v)
{
    return (cs_attr){.name = name, .type = CS_ATTR_INT, .i = v};
}

cs_attr h_attr_float(const char *name, float v)
{
    return (cs_attr){.name = name, .type = CS_ATTR_FLOAT, .f = v};
}

cs_attr h_attr_ints(const char *name, int n, const int64_t *v)
{
    return (cs_attr){.name = name, .type = CS_ATTR_INTS, .n = n, .ints = v};
}

cs_attr h_attr_floats(const char *name, int n, const float *v)
{
    return (cs_attr){.name = name, .type = CS_ATTR_FLOATS, .n = n, .floats = v};
}

cs_attr h_attr_string(const char *name, const char *s)
{
    return (cs_attr){.name = name, .type = CS_ATTR_STRING, .s = s};
}
