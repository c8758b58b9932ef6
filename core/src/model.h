/* A loaded model: values by name, constants, and nodes with their decoded attributes.
 * Immutable after load; every plan makes its own node copies (params, prep) from it. */
#ifndef CS_MODEL_H
#define CS_MODEL_H

#include "graph.h"

typedef struct cs_mvalue {
    char *name;
    cs_tensor *konst; /* initializer or Constant-free constant; NULL for computed values */
    int producer;     /* node index, or -1 (graph input or initializer) */
    int n_consumers;
} cs_mvalue;

typedef struct cs_mnode {
    cs_op op;
    char *name;
    char *op_type;
    int n_in, n_out;
    int *in, *out;
    int n_attrs;
    cs_attr *attrs;
} cs_mnode;

struct cs_model {
    char *source;
    int opset;
    int n_values, cap_values;
    cs_mvalue *values;
    int n_nodes;
    cs_mnode *nodes;
    int n_inputs, n_outputs;
    int *inputs, *outputs;       /* value ids */
    cs_tensor *input_decl;       /* declared type and shape; -1 for symbolic dims */
    cs_tensor *output_decl;
    /* name -> value id, open addressing */
    int *slots;
    int n_slots;
};

/* Value id for a name, or -1. */
int cs_model_find(const cs_model *m, const char *name);

#endif
