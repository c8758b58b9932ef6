/* Receptive fields from the graph (REFERENCE §3): walking the nodes in order from the graph
 * inputs (r = 1, j = 1, start = 0.5 on each spatial axis), every Conv / MaxPool / AvgPool
 * with kernel k (dilation d: k_eff = d(k − 1) + 1), stride s and leading padding p gives
 *     r_out = r_in + (k_eff − 1)·j_in,  j_out = j_in·s,  start_out = start_in + ((k_eff − 1)/2 −
 * p)·j_in Global pools see the whole map (k = its size, when the size is known from the declared
 * input shape). Pad shifts start by −p·j. Every other supported op (element-wise, Concat,
 * BatchNorm, activations, shape ops, Gemm after a global pool) takes, over its inputs that
 * carry a field, the one with the largest size ("max over branches"). Resize, Upsample and
 * ConvTranspose on the path are reported as unsupported. */
#include "visualize.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cs_status cs_fail_unknown_layer(const cs_model *m, const char *what, const char *name,
                                cs_error *err)
{
    if (!err) return CS_ERR_INVALID;
    int len = snprintf(err->msg, sizeof err->msg, "%s '%s' is not a tensor of %s; valid:", what,
                       name ? name : "(null)", m->source ? m->source : "the model");
    int shown = 0, total = 0;
    for (int k = 0; k < m->n_nodes; k++) {
        const cs_mnode *nd = &m->nodes[k];
        for (int o = 0; o < nd->n_out; o++) {
            if (nd->out[o] < 0) continue;
            total++;
            const char *nm = m->values[nd->out[o]].name;
            size_t need = strlen(nm) + 3;
            /* keep room for the " (N more)" tail */
            if (len >= 0 && (size_t)len + need + 16 < sizeof err->msg) {
                len += snprintf(err->msg + len, sizeof err->msg - (size_t)len, "%s %s",
                                shown ? "," : "", nm);
                shown++;
            }
        }
    }
    if (total > shown && len >= 0 && (size_t)len < sizeof err->msg)
        snprintf(err->msg + len, sizeof err->msg - (size_t)len, " (%d more)", total - shown);
    err->status = CS_ERR_INVALID;
    return CS_ERR_INVALID;
}

typedef struct {
    int state;   /* 0: no field (constants, unreached), 1: field, 2: blocked */
    int blocker; /* node that blocked the walk (state 2) */
    double r[2], j[2], s[2];
    int64_t n[2]; /* spatial size when known, else -1 */
} rfv;

static int ints_attr(const cs_mnode *nd, const char *name, int64_t *out, int max)
{
    cs_attrs as = {nd->n_attrs, nd->attrs};
    return cs_attr_ints(&as, name, out, max);
}

static void window(rfv *o, const rfv *in, int axis, double k, double s, double pb, double pe,
                   int ceil_mode)
{
    o->r[axis] = in->r[axis] + (k - 1) * in->j[axis];
    o->s[axis] = in->s[axis] + ((k - 1) / 2 - pb) * in->j[axis];
    o->j[axis] = in->j[axis] * s;
    if (in->n[axis] >= 0) {
        double v = ((double)in->n[axis] + pb + pe - k) / s;
        o->n[axis] = (int64_t)(ceil_mode ? ceil(v) : floor(v)) + 1;
    } else {
        o->n[axis] = -1;
    }
}

/* Conv / MaxPool / AvgPool. */
static cs_status conv_like(const cs_model *m, int k, const rfv *in, rfv *o, cs_error *err)
{
    const cs_mnode *nd = &m->nodes[k];
    int64_t ks[2] = {1, 1}, st[2] = {1, 1}, di[2] = {1, 1}, pads[4] = {0, 0, 0, 0};
    int nk = ints_attr(nd, "kernel_shape", ks, 2);
    if (nk <= 0 && nd->op == CS_OP_CONV && nd->n_in > 1 && nd->in[1] >= 0) {
        const cs_tensor *w = m->values[nd->in[1]].konst;
        if (w && w->ndim >= 3 && w->ndim <= 4) {
            nk = w->ndim - 2;
            for (int a = 0; a < nk; a++) ks[a] = w->dims[2 + a];
        }
    }
    if (nk <= 0 || nk > 2)
        return cs_fail(err, CS_ERR_UNSUPPORTED,
                       "receptive field: node '%s' (%s): kernel shape unknown or not 1-D/2-D",
                       nd->name, nd->op_type);
    int ns = ints_attr(nd, "strides", st, 2);
    int nd_ = ints_attr(nd, "dilations", di, 2);
    int np = ints_attr(nd, "pads", pads, 4);
    if (ns < 0 || nd_ < 0 || np < 0)
        return cs_fail(err, CS_ERR_UNSUPPORTED,
                       "receptive field: node '%s' (%s): more than 2 spatial axes", nd->name,
                       nd->op_type);
    cs_attrs as = {nd->n_attrs, nd->attrs};
    const char *ap = cs_attr_string(&as, "auto_pad", "NOTSET");
    int ceil_mode = (int)cs_attr_int(&as, "ceil_mode", 0);
    *o = *in;
    /* a 1-D kernel acts on the last axis */
    int first = nk == 2 ? 0 : 1;
    for (int a = 0; a < nk; a++) {
        int axis = first + a;
        double kk = (double)(di[a] * (ks[a] - 1) + 1), s = (double)st[a];
        double pb = (double)pads[a], pe = (double)pads[a + nk];
        if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
            double total;
            if (in->n[axis] >= 0) {
                double outn = ceil((double)in->n[axis] / s);
                total = fmax((outn - 1) * s + kk - (double)in->n[axis], 0);
            } else {
                total = kk - 1; /* exact for stride 1 */
            }
            pb = !strcmp(ap, "SAME_UPPER") ? floor(total / 2) : ceil(total / 2);
            pe = total - pb;
        } else if (!strcmp(ap, "VALID")) {
            pb = pe = 0;
        }
        window(o, in, axis, kk, s, pb, pe, ceil_mode);
    }
    return CS_OK;
}

static cs_status walk(const cs_model *m, rfv *v, cs_error *err)
{
    for (int i = 0; i < m->n_inputs; i++) {
        int id = m->inputs[i];
        if (id < 0 || m->values[id].konst) continue;
        rfv *x = &v[id];
        x->state = 1;
        const cs_tensor *d = &m->input_decl[i];
        for (int a = 0; a < 2; a++) {
            x->r[a] = 1;
            x->j[a] = 1;
            x->s[a] = 0.5;
            x->n[a] = d->ndim >= 3 ? d->dims[d->ndim - 2 + a] : -1;
            if (x->n[a] <= 0) x->n[a] = -1;
        }
    }
    for (int k = 0; k < m->n_nodes; k++) {
        const cs_mnode *nd = &m->nodes[k];
        /* the carrying input with the largest field; blocked inputs block the output */
        const rfv *best = NULL;
        int blocked = -1;
        for (int i = 0; i < nd->n_in; i++) {
            if (nd->in[i] < 0) continue;
            const rfv *x = &v[nd->in[i]];
            if (x->state == 2 && blocked < 0) blocked = x->blocker;
            if (x->state != 1) continue;
            if (!best || x->r[0] + x->r[1] > best->r[0] + best->r[1]) best = x;
        }
        rfv o;
        memset(&o, 0, sizeof o);
        if (blocked >= 0) {
            o.state = 2;
            o.blocker = blocked;
        } else if (best) {
            const rfv *in0 = nd->n_in > 0 && nd->in[0] >= 0 ? &v[nd->in[0]] : NULL;
            switch (nd->op) {
            case CS_OP_CONV:
            case CS_OP_MAXPOOL:
            case CS_OP_AVGPOOL:
                if (!in0 || in0->state != 1) {
                    o = *best; /* field through the weights only: not a path from the image */
                    break;
                }
                {
                    cs_status st = conv_like(m, k, in0, &o, err);
                    if (st != CS_OK) return st;
                }
                break;
            case CS_OP_GLOBAL_AVGPOOL:
            case CS_OP_GLOBAL_MAXPOOL:
                o = *best;
                for (int a = 0; a < 2; a++) {
                    if (best->n[a] < 0) {
                        o.state = 2;
                        o.blocker = k;
                        break;
                    }
                    window(&o, best, a, (double)best->n[a], 1, 0, 0, 0);
                }
                break;
            case CS_OP_PAD: {
                o = *best;
                int64_t pads[8] = {0};
                int np = ints_attr(nd, "pads", pads, 8);
                if (np <= 0 && nd->n_in > 1 && nd->in[1] >= 0) {
                    const cs_tensor *t = m->values[nd->in[1]].konst;
                    if (t && t->type == CS_I64 && t->numel <= 8) {
                        np = (int)t->numel;
                        memcpy(pads, t->data, sizeof(int64_t) * (size_t)np);
                    }
                }
                if (np >= 4 && np % 2 == 0) {
                    int nax = np / 2;
                    for (int a = 0; a < 2; a++) {
                        int64_t pb = pads[nax - 2 + a], pe = pads[2 * nax - 2 + a];
                        o.s[a] -= (double)pb * o.j[a];
                        if (o.n[a] >= 0) o.n[a] += pb + pe;
                    }
                }
                break;
            }
            case CS_OP_RESIZE:
            case CS_OP_UPSAMPLE:
            case CS_OP_CONV_TRANSPOSE:
                o.state = 2;
                o.blocker = k;
                break;
            default:
                o = *best;
                break;
            }
            if (o.state != 2) o.state = 1;
        }
        for (int j = 0; j < nd->n_out; j++)
            if (nd->out[j] >= 0) v[nd->out[j]] = o;
    }
    return CS_OK;
}

cs_status cs_rf_of(const cs_model *m, const char *layer, cs_rf2 *rf, cs_error *err)
{
    if (!m || !layer || !rf)
        return cs_fail(err, CS_ERR_INVALID, "receptive field: %s is NULL",
                       !m       ? "the model"
                       : !layer ? "the layer name"
                                : "the result");
    int id = cs_model_find(m, layer);
    if (id < 0) return cs_fail_unknown_layer(m, "receptive field: layer", layer, err);
    rfv *v = calloc((size_t)m->n_values, sizeof(rfv));
    if (!v) return cs_fail(err, CS_ERR_NOMEM, "receptive field: out of memory");
    cs_status st = walk(m, v, err);
    if (st == CS_OK) {
        const rfv *x = &v[id];
        if (x->state == 2) {
            const cs_mnode *b = &m->nodes[x->blocker];
            st = cs_fail(err, CS_ERR_UNSUPPORTED,
                         "receptive field of '%s': node '%s' (%s) on the path has no fixed "
                         "receptive-field rule%s",
                         layer, b->name, b->op_type,
                         (b->op == CS_OP_GLOBAL_AVGPOOL || b->op == CS_OP_GLOBAL_MAXPOOL)
                             ? " (its input size is not known from the declared input shape)"
                             : "");
        } else if (x->state != 1) {
            st = cs_fail(err, CS_ERR_INVALID,
                         "receptive field: '%s' does not depend on a graph input of %s", layer,
                         m->source ? m->source : "the model");
        } else {
            for (int a = 0; a < 2; a++) {
                rf->size[a] = x->r[a];
                rf->jump[a] = x->j[a];
                rf->start[a] = x->s[a];
            }
        }
    }
    free(v);
    return st;
}

cs_status cs_receptive_field_of(const cs_model *m, const char *layer, cs_receptive_field *rf,
                                cs_error *err)
{
    cs_rf2 r;
    cs_status st = cs_rf_of(m, layer, &r, err);
    if (st != CS_OK) return st;
    /* the public struct has one value per quantity: the axis with the larger field */
    int a = r.size[1] > r.size[0] ? 1 : 0;
    rf->size = r.size[a];
    rf->jump = r.jump[a];
    rf->start = r.start[a];
    return CS_OK;
}
