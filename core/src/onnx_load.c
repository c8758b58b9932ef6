/* The ONNX loader: ModelProto (protobuf-c, generated from Debian's onnx.proto) -> cs_model.
 * Checks everything a plan relies on: names resolve, nodes are in topological order, ops
 * and types are supported. Errors name the source, the node, the op and the reason. */
#include "model.h"
#include "onnx_tensor.h"

#include <stdlib.h>
#include <string.h>

#define CS_MIN_OPSET 1 /* ops refuse legacy attributes they do not implement */
#define CS_MAX_OPSET 17

static uint32_t hash_name(const char *s)
{
    uint32_t h = 2166136261u;
    while (*s) h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

int cs_model_find(const cs_model *m, const char *name)
{
    if (!m->n_slots) return -1;
    uint32_t mask = (uint32_t)m->n_slots - 1;
    for (uint32_t i = hash_name(name) & mask;; i = (i + 1) & mask) {
        int id = m->slots[i];
        if (id < 0) return -1;
        if (strcmp(m->values[id].name, name) == 0) return id;
    }
}

static int grow_slots(cs_model *m)
{
    int n = m->n_slots ? m->n_slots * 2 : 256;
    int *slots = malloc(sizeof(int) * (size_t)n);
    if (!slots) return -1;
    for (int i = 0; i < n; i++) slots[i] = -1;
    uint32_t mask = (uint32_t)n - 1;
    for (int id = 0; id < m->n_values; id++) {
        uint32_t i = hash_name(m->values[id].name) & mask;
        while (slots[i] >= 0) i = (i + 1) & mask;
        slots[i] = id;
    }
    free(m->slots);
    m->slots = slots;
    m->n_slots = n;
    return 0;
}

/* Adds a value; returns its id, or -1 when out of memory. The name must be new. */
static int add_value(cs_model *m, const char *name)
{
    if (m->n_values == m->cap_values) {
        int cap = m->cap_values ? m->cap_values * 2 : 128;
        cs_mvalue *v = realloc(m->values, sizeof *v * (size_t)cap);
        if (!v) return -1;
        m->values = v;
        m->cap_values = cap;
    }
    if ((m->n_values + 1) * 2 > m->n_slots && grow_slots(m) < 0) return -1;
    int id = m->n_values;
    cs_mvalue *v = &m->values[id];
    memset(v, 0, sizeof *v);
    v->name = strdup(name);
    if (!v->name) return -1;
    v->producer = -1;
    m->n_values++;
    uint32_t mask = (uint32_t)m->n_slots - 1;
    uint32_t i = hash_name(name) & mask;
    while (m->slots[i] >= 0) i = (i + 1) & mask;
    m->slots[i] = id;
    return id;
}

static void free_attrs(cs_attr *as, int n)
{
    for (int i = 0; i < n; i++) {
        free((void *)as[i].name);
        free((void *)as[i].s);
        free((void *)as[i].floats);
        free((void *)as[i].ints);
        cs_tensor_free(&as[i].t);
    }
    free(as);
}

void cs_model_destroy(cs_model **pm)
{
    if (!pm || !*pm) return;
    cs_model *m = *pm;
    for (int i = 0; i < m->n_values; i++) {
        free(m->values[i].name);
        cs_tensor_free(&m->values[i].konst);
    }
    for (int i = 0; i < m->n_nodes; i++) {
        cs_mnode *n = &m->nodes[i];
        free(n->name);
        free(n->op_type);
        free(n->in);
        free(n->out);
        free_attrs(n->attrs, n->n_attrs);
    }
    free(m->values);
    free(m->nodes);
    free(m->inputs);
    free(m->outputs);
    free(m->input_decl);
    free(m->output_decl);
    free(m->slots);
    free(m->source);
    free(m);
    *pm = NULL;
}

static cs_status decode_attr(const Onnx__AttributeProto *ap, cs_attr *a, const cs_mnode *n,
                             const char *src, cs_error *err)
{
    a->name = strdup(ap->name ? ap->name : "");
    if (!a->name) return cs_fail(err, CS_ERR_NOMEM, "%s: out of memory", src);
    int type = ap->has_type ? (int)ap->type : 0;
    if (!type) {
        if (ap->n_ints)
            type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
        else if (ap->n_floats)
            type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS;
        else if (ap->has_i)
            type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
        else if (ap->has_f)
            type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
        else if (ap->has_s)
            type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
        else if (ap->t)
            type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
    }
    switch (type) {
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT:
        a->type = CS_ATTR_FLOAT;
        a->f = ap->f;
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT:
        a->type = CS_ATTR_INT;
        a->i = ap->i;
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING: {
        a->type = CS_ATTR_STRING;
        char *s = malloc(ap->s.len + 1);
        if (!s) return cs_fail(err, CS_ERR_NOMEM, "%s: out of memory", src);
        if (ap->s.len) memcpy(s, ap->s.data, ap->s.len);
        s[ap->s.len] = 0;
        a->s = s;
        break;
    }
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS: {
        a->type = CS_ATTR_FLOATS;
        float *f = malloc(sizeof(float) * (ap->n_floats + 1));
        if (!f) return cs_fail(err, CS_ERR_NOMEM, "%s: out of memory", src);
        if (ap->n_floats) memcpy(f, ap->floats, sizeof(float) * ap->n_floats);
        a->floats = f;
        a->n = (int)ap->n_floats;
        break;
    }
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS: {
        a->type = CS_ATTR_INTS;
        int64_t *v = malloc(sizeof(int64_t) * (ap->n_ints + 1));
        if (!v) return cs_fail(err, CS_ERR_NOMEM, "%s: out of memory", src);
        if (ap->n_ints) memcpy(v, ap->ints, sizeof(int64_t) * ap->n_ints);
        a->ints = v;
        a->n = (int)ap->n_ints;
        break;
    }
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR: {
        a->type = CS_ATTR_TENSOR;
        if (!ap->t)
            return cs_fail(err, CS_ERR_PARSE, "%s: node '%s' (%s): attribute '%s' has no tensor",
                           src, n->name, n->op_type, a->name);
        char what[300];
        snprintf(what, sizeof what, "%s: node '%s' (%s): attribute '%s'", src, n->name, n->op_type,
                 a->name);
        a->t = cs_tensor_from_proto(ap->t, what, err);
        if (!a->t) return err ? err->status : CS_ERR_PARSE;
        break;
    }
    default:
        a->type = CS_ATTR_OTHER; /* graphs, sparse tensors...: ops that need them refuse */
        break;
    }
    return CS_OK;
}

static cs_status decl_from_valueinfo(const Onnx__ValueInfoProto *vi, cs_tensor *t, const char *src,
                                     const char *kind, cs_error *err)
{
    memset(t, 0, sizeof *t);
    t->name = vi->name;
    t->type = CS_F32;
    t->ndim = -1; /* unknown rank */
    if (!vi->type || vi->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ||
        !vi->type->tensor_type)
        return cs_fail(err, CS_ERR_UNSUPPORTED, "%s: graph %s '%s' is not a tensor", src, kind,
                       vi->name);
    const Onnx__TypeProto__Tensor *tt = vi->type->tensor_type;
    int32_t et = tt->has_elem_type ? tt->elem_type : 0;
    if (et != CS_F32 && et != CS_I64)
        return cs_fail(err, CS_ERR_UNSUPPORTED,
                       "%s: graph %s '%s' has element type %s (float32 and int64 only)", src, kind,
                       vi->name, cs_onnx_type_name(et));
    t->type = (cs_dtype)et;
    if (!tt->shape) return CS_OK;
    if (tt->shape->n_dim > CS_MAX_DIMS)
        return cs_fail(err, CS_ERR_UNSUPPORTED, "%s: graph %s '%s' has %zu dimensions (max %d)",
                       src, kind, vi->name, tt->shape->n_dim, CS_MAX_DIMS);
    t->ndim = (int)tt->shape->n_dim;
    for (int i = 0; i < t->ndim; i++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
        t->dims[i] = d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
                             d->dim_value >= 0
                         ? d->dim_value
                         : -1;
    }
    return CS_OK;
}

static cs_status load_graph(cs_model *m, const Onnx__GraphProto *g, cs_error *err)
{
    const char *src = m->source;
    if (g->n_sparse_initializer)
        return cs_fail(err, CS_ERR_UNSUPPORTED, "%s: sparse initializers are not supported", src);
    for (size_t i = 0; i < g->n_initializer; i++) {
        const Onnx__TensorProto *tp = g->initializer[i];
        const char *name = tp->name ? tp->name : "";
        char what[300];
        snprintf(what, sizeof what, "%s: initializer '%s'", src, name);
        if (!*name) return cs_fail(err, CS_ERR_PARSE, "%s: an initializer has no name", src);
        if (cs_model_find(m, name) >= 0)
            return cs_fail(err, CS_ERR_PARSE, "%s: two initializers are named '%s'", src, name);
        int id = add_value(m, name);
        if (id < 0) return cs_fail(err, CS_ERR_NOMEM, "%s: out of memory", src);
        m->values[id].konst = cs_tensor_from_proto(tp, what, err);
        if (!m->values[id].konst) return err ? err->status : CS_ERR_PARSE;
    }
    /* Graph inputs that are not initializers (IR < 4 lists initializers as inputs too). */
    m->inputs = calloc(g->n_input + 1, sizeof(int));
    m->input_decl = calloc(g->n_input + 1, sizeof(cs_tensor));
    if (!m->inputs || !m->input_decl) return cs_fail(err, CS_ERR_NOMEM, "%s: out of memory", src);
    for (size_t i = 0; i < g->n_input; i++) {
        const Onnx__ValueInfoProto *vi = g->input[i];
        const char *name = vi->name ? vi->name : "";
        int id = cs_model_find(m, name);
        if (id >= 0 && m->values[id].konst) continue;
        if (id >= 0)
            return cs_fail(err, CS_ERR_PARSE, "%s: graph input '%s' is listed twice", src, name);
        cs_tensor decl;
        cs_status st = decl_from_valueinfo(vi, &decl, src, "input", err);
        if (st != CS_OK) return st;
        id = add_value(m, name);
        if (id < 0) return cs_fail(err, CS_ERR_NOMEM, "%s: out of memory", src);
        decl.name = m->values[id].name;
        m->input_decl[m->n_inputs] = decl;
        m->inputs[m->n_inputs++] = id;
    }
    m->nodes = calloc(g->n_node + 1, sizeof(cs_mnode));
    if (!m->nodes) return cs_fail(err, CS_ERR_NOMEM, "%s: out of memory", src);
    for (size_t k = 0; k < g->n_node; k++) {
        const Onnx__NodeProto *np = g->node[k];
        cs_mnode *n = &m->nodes[m->n_nodes++];
        n->op_type = strdup(np->op_type ? np->op_type : "");
        if (np->name && *np->name) {
            n->name = strdup(np->name);
        } else {
            char buf[96];
            snprintf(buf, sizeof buf, "%s#%zu", n->op_type ? n->op_type : "node", k);
            n->name = strdup(buf);
        }
        if (!n->name || !n->op_type) return cs_fail(err, CS_ERR_NOMEM, "%s: out of memory", src);
        if (np->domain && *np->domain && strcmp(np->domain, "ai.onnx") != 0)
            return cs_fail(err, CS_ERR_UNSUPPORTED,
                           "%s: node '%s' (%s): operators of domain '%s' are not supported", src,
                           n->name, n->op_type, np->domain);
        n->op = cs_op_lookup(n->op_type);
        if (n->op == CS_OP_COUNT || !cs_op_defs[n->op]->init)
            return cs_fail(err, CS_ERR_UNSUPPORTED,
                           "%s: node '%s' (%s): operator %s is not supported (docs/OPERATORS.md "
                           "lists the supported ones)",
                           src, n->name, n->op_type, n->op_type);
        /* Trailing empty names are absent optional inputs: drop them. */
        size_t n_in = np->n_input;
        while (n_in > 0 && (!np->input[n_in - 1] || !*np->input[n_in - 1])) n_in--;
        n->in = malloc(sizeof(int) * (n_in + 1));
        n->out = malloc(sizeof(int) * (np->n_output + 1));
        n->attrs = calloc(np->n_attribute + 1, sizeof(cs_attr));
        if (!n->in || !n->out || !n->attrs)
            return cs_fail(err, CS_ERR_NOMEM, "%s: out of memory", src);
        n->n_in = (int)n_in;
        for (size_t i = 0; i < n_in; i++) {
            const char *name = np->input[i];
            if (!name || !*name) {
                n->in[i] = -1;
                continue;
            }
            int id = cs_model_find(m, name);
            if (id < 0)
                return cs_fail(err, CS_ERR_INVALID,
                               "%s: node '%s' (%s): input '%s' is not an initializer, a graph "
                               "input or the output of an earlier node",
                               src, n->name, n->op_type, name);
            n->in[i] = id;
            m->values[id].n_consumers++;
        }
        const cs_op_def *d = cs_op_defs[n->op];
        if (d->max_in != 0 && (n->n_in < d->min_in || (d->max_in > 0 && n->n_in > d->max_in)))
            return cs_fail(err, CS_ERR_INVALID, "%s: node '%s' (%s): %d inputs, expected %d to %d",
                           src, n->name, n->op_type, n->n_in, d->min_in, d->max_in);
        /* The first min_in inputs are required: an empty name there is not "absent". */
        for (int i = 0; i < d->min_in && i < n->n_in; i++)
            if (n->in[i] < 0)
                return cs_fail(err, CS_ERR_INVALID,
                               "%s: node '%s' (%s): input %d is required but its name is empty",
                               src, n->name, n->op_type, i);
        for (size_t i = 0; i < np->n_output; i++) {
            const char *name = np->output[i] ? np->output[i] : "";
            if (!*name) {
                n->out[n->n_out++] = -1;
                continue;
            }
            if (cs_model_find(m, name) >= 0)
                return cs_fail(err, CS_ERR_INVALID,
                               "%s: node '%s' (%s): output '%s' is already defined", src, n->name,
                               n->op_type, name);
            int id = add_value(m, name);
            if (id < 0) return cs_fail(err, CS_ERR_NOMEM, "%s: out of memory", src);
            m->values[id].producer = m->n_nodes - 1;
            n->out[n->n_out++] = id;
        }
        while (n->n_out > 0 && n->out[n->n_out - 1] < 0) n->n_out--;
        if (n->n_out == 0)
            return cs_fail(err, CS_ERR_INVALID, "%s: node '%s' (%s): no outputs", src, n->name,
                           n->op_type);
        if (d->max_out != 0 && (n->n_out < d->min_out || n->n_out > d->max_out))
            return cs_fail(err, CS_ERR_INVALID, "%s: node '%s' (%s): %d outputs, expected %d to %d",
                           src, n->name, n->op_type, n->n_out, d->min_out, d->max_out);
        for (size_t i = 0; i < np->n_attribute; i++) {
            cs_status st = decode_attr(np->attribute[i], &n->attrs[i], n, src, err);
            n->n_attrs = (int)i + 1;
            if (st != CS_OK) return st;
        }
    }
    m->outputs = calloc(g->n_output + 1, sizeof(int));
    m->output_decl = calloc(g->n_output + 1, sizeof(cs_tensor));
    if (!m->outputs || !m->output_decl) return cs_fail(err, CS_ERR_NOMEM, "%s: out of memory", src);
    for (size_t i = 0; i < g->n_output; i++) {
        const Onnx__ValueInfoProto *vi = g->output[i];
        const char *name = vi->name ? vi->name : "";
        int id = cs_model_find(m, name);
        if (id < 0)
            return cs_fail(err, CS_ERR_INVALID, "%s: graph output '%s' is produced by no node", src,
                           name);
        cs_tensor decl;
        cs_status st = decl_from_valueinfo(vi, &decl, src, "output", err);
        if (st != CS_OK) return st;
        decl.name = m->values[id].name;
        m->output_decl[m->n_outputs] = decl;
        m->outputs[m->n_outputs++] = id;
        m->values[id].n_consumers++;
    }
    if (m->n_outputs == 0) return cs_fail(err, CS_ERR_INVALID, "%s: the graph has no outputs", src);
    return CS_OK;
}

cs_model *cs_model_load_memory(const void *buf, size_t len, const char *what, cs_error *err)
{
    if (!what) what = "memory";
    if (!buf || len == 0) {
        cs_fail(err, CS_ERR_PARSE, "%s: empty, not an ONNX model", what);
        return NULL;
    }
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, buf);
    if (!mp) {
        cs_fail(err, CS_ERR_PARSE,
                "%s: not an ONNX model (protobuf parse failed: truncated or corrupt)", what);
        return NULL;
    }
    cs_model *m = calloc(1, sizeof *m);
    cs_status st = CS_OK;
    if (!m || !(m->source = strdup(what))) {
        st = cs_fail(err, CS_ERR_NOMEM, "%s: out of memory", what);
        goto done;
    }
    if (!mp->graph || mp->graph->n_node == 0) {
        st = cs_fail(err, CS_ERR_PARSE, "%s: not an ONNX model (no graph or no nodes)", what);
        goto done;
    }
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = mp->opset_import[i];
        if (!o->domain || !*o->domain || strcmp(o->domain, "ai.onnx") == 0)
            m->opset = o->has_version ? (int)o->version : 1;
    }
    if (m->opset == 0 && mp->n_opset_import == 0) m->opset = 1;
    if (m->opset < CS_MIN_OPSET || m->opset > CS_MAX_OPSET) {
        st = cs_fail(err, CS_ERR_UNSUPPORTED, "%s: opset %d is not supported (opsets %d to %d)",
                     what, m->opset, CS_MIN_OPSET, CS_MAX_OPSET);
        goto done;
    }
    st = load_graph(m, mp->graph, err);
done:
    onnx__model_proto__free_unpacked(mp, NULL);
    if (st != CS_OK) cs_model_destroy(&m);
    return m;
}

cs_model *cs_model_load_file(const char *path, cs_error *err)
{
    size_t len = 0;
    void *buf = cs_read_file(path, &len, err);
    if (!buf) return NULL;
    cs_model *m = cs_model_load_memory(buf, len, path, err);
    free(buf);
    return m;
}

int cs_model_n_inputs(const cs_model *m)
{
    return m->n_inputs;
}

const cs_tensor *cs_model_input(const cs_model *m, int i)
{
    return i >= 0 && i < m->n_inputs ? &m->input_decl[i] : NULL;
}

int cs_model_n_outputs(const cs_model *m)
{
    return m->n_outputs;
}

const cs_tensor *cs_model_output(const cs_model *m, int i)
{
    return i >= 0 && i < m->n_outputs ? &m->output_decl[i] : NULL;
}

int cs_model_n_nodes(const cs_model *m)
{
    return m->n_nodes;
}

int cs_model_opset(const cs_model *m)
{
    return m->opset;
}
