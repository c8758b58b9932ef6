/* Owned tensors (test data, TensorProto files, constants). Plan tensors live in the arena. */
#include "graph.h"

#include <stdlib.h>
#include <string.h>

cs_tensor *cs_tensor_new(cs_dtype type, int ndim, const int64_t *dims, const char *name)
{
    if (ndim < 0 || ndim > CS_MAX_DIMS) return NULL;
    cs_tensor *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    for (int i = 0; i < ndim; i++)
        if (dims[i] < 0) {
            free(t);
            return NULL;
        }
    cs_tensor_set_shape(t, type, ndim, dims);
    size_t bytes = cs_tensor_bytes(t);
    /* 64-byte aligned so kernels may use aligned loads on weights. */
    t->data = aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);
    if (!t->data) {
        free(t);
        return NULL;
    }
    memset(t->data, 0, bytes);
    if (name) {
        t->name = strdup(name);
        if (!t->name) {
            free(t->data);
            free(t);
            return NULL;
        }
    }
    return t;
}

void cs_tensor_free(cs_tensor **pt)
{
    if (!pt || !*pt) return;
    free((void *)(*pt)->name);
    free((*pt)->data);
    free(*pt);
    *pt = NULL;
}
