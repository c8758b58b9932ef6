/* Shape ops that move data: Concat, Transpose, Gather, Slice. All are type-generic (float32 and
 * int64 alike: they copy elements of 4 or 8 bytes). Transpose and Slice share one kernel that
 * copies a strided view of the input into a contiguous output.
 *
 * Backward (float only): Concat splits the gradient among its inputs, Transpose adds it back
 * through the inverse permutation (the view kernel in accumulate mode), Gather scatter-adds it
 * into the gathered rows (repeated indices sum), Slice adds it into the sliced region (the
 * adjoint of the view copy). None needs scratch memory. */
#include "../threads.h"
#include "shape_util.h"

#include <stdlib.h>
#include <string.h>

/* Below this many bytes a copy runs on the calling thread. */
#define PAR_BYTES (256 * 1024)

static const cs_exec *par_exec(const cs_exec *ex, int64_t bytes)
{
    return bytes >= PAR_BYTES ? ex : NULL;
}

/* ---- strided view copy -------------------------------------------------------------- */

/* dst (contiguous, dims) <- src[off + sum_d i_d * strides[d]], strides in elements. */
typedef struct {
    size_t es;
    int ndim;
    int64_t dims[CS_MAX_DIMS];
    int64_t strides[CS_MAX_DIMS];
    int64_t off;
    const char *src;
    char *dst;
    int add; /* backward: dst += src (floats) instead of dst = src */
} view;

/* Drops size-1 dims and merges neighbours that are contiguous with each other in the strided
 * side (a contiguous side merges along with it). */
static void dims_simplify(int *ndim, int64_t *dims, int64_t *strides)
{
    int r = 0;
    for (int i = 0; i < *ndim; i++) {
        if (dims[i] == 1) continue;
        if (r > 0 && strides[r - 1] == strides[i] * dims[i]) {
            dims[r - 1] *= dims[i];
            strides[r - 1] = strides[i];
            continue;
        }
        dims[r] = dims[i];
        strides[r] = strides[i];
        r++;
    }
    if (r == 0) {
        dims[0] = 1;
        strides[0] = 1;
        r = 1;
    }
    *ndim = r;
}

static void view_simplify(view *v)
{
    dims_simplify(&v->ndim, v->dims, v->strides);
}

static void copy_strided(size_t es, char *dst, const char *src, int64_t n, int64_t stride)
{
    if (stride == 1) {
        memcpy(dst, src, (size_t)n * es);
    } else if (es == 4) {
        uint32_t *d = (uint32_t *)dst;
        const uint32_t *s = (const uint32_t *)src;
        for (int64_t i = 0; i < n; i++) d[i] = s[i * stride];
    } else {
        uint64_t *d = (uint64_t *)dst;
        const uint64_t *s = (const uint64_t *)src;
        for (int64_t i = 0; i < n; i++) d[i] = s[i * stride];
    }
}

/* dst[i] += src[i * stride]: the accumulating copy_strided of backward passes. */
static void add_strided(float *restrict dst, const float *restrict src, int64_t n, int64_t stride)
{
    if (stride == 1)
        cs_add_f32(dst, src, n);
    else
        for (int64_t i = 0; i < n; i++) dst[i] += src[i * stride];
}

/* Source offset (elements) of the first element of row `row` (rows = all dims but the last). */
static int64_t view_row_offset(const view *v, int64_t row, int64_t *idx)
{
    int64_t off = v->off;
    for (int d = v->ndim - 2; d >= 0; d--) {
        idx[d] = row % v->dims[d];
        row /= v->dims[d];
        off += idx[d] * v->strides[d];
    }
    return off;
}

static void view_rows(void *ctx, int64_t b, int64_t e)
{
    const view *v = ctx;
    int64_t idx[CS_MAX_DIMS];
    int last = v->ndim - 1;
    int64_t len = v->dims[last];
    int64_t off = view_row_offset(v, b, idx);
    for (int64_t row = b; row < e; row++) {
        if (v->add)
            add_strided((float *)v->dst + row * len, (const float *)v->src + off, len,
                        v->strides[last]);
        else
            copy_strided(v->es, v->dst + (size_t)(row * len) * v->es, v->src + off * (int64_t)v->es,
                         len, v->strides[last]);
        /* next row: bump the odometer over dims [0, last) */
        for (int d = last - 1; d >= 0; d--) {
            off += v->strides[d];
            if (++idx[d] < v->dims[d]) break;
            off -= v->strides[d] * v->dims[d];
            idx[d] = 0;
        }
    }
}

/* Transposition of a view whose unit-stride axis is `ax` (not the last): copies 2-D tiles of
 * (ax, last) so that reads and writes both stay in cache. Units are (plane, ax block). */
#define TILE 32
typedef struct {
    const view *v;
    int ax;
    int64_t nblk;
    int64_t dst_ax_stride; /* in dst elements */
} tiled;

static void view_tiles(void *ctx, int64_t b, int64_t e)
{
    const tiled *t = ctx;
    const view *v = t->v;
    int last = v->ndim - 1, ax = t->ax;
    int64_t na = v->dims[ax], nb = v->dims[last], sb = v->strides[last];
    int64_t dstr[CS_MAX_DIMS];
    cs_strides(v->ndim, v->dims, dstr);
    for (int64_t u = b; u < e; u++) {
        int64_t plane = u / t->nblk, a0 = (u % t->nblk) * TILE;
        int64_t a1 = a0 + TILE < na ? a0 + TILE : na;
        int64_t so = v->off, dof = 0;
        for (int d = v->ndim - 1; d >= 0; d--) {
            if (d == ax || d == last) continue;
            int64_t i = plane % v->dims[d];
            plane /= v->dims[d];
            so += i * v->strides[d];
            dof += i * dstr[d];
        }
        for (int64_t b0 = 0; b0 < nb; b0 += TILE) {
            int64_t b1 = b0 + TILE < nb ? b0 + TILE : nb;
            if (v->add) {
                const float *s = (const float *)v->src + so;
                float *d = (float *)v->dst + dof;
                for (int64_t a = a0; a < a1; a++)
                    for (int64_t j = b0; j < b1; j++) d[a * t->dst_ax_stride + j] += s[a + j * sb];
            } else if (v->es == 4) {
                const uint32_t *s = (const uint32_t *)v->src + so;
                uint32_t *d = (uint32_t *)v->dst + dof;
                for (int64_t a = a0; a < a1; a++)
                    for (int64_t j = b0; j < b1; j++) d[a * t->dst_ax_stride + j] = s[a + j * sb];
            } else {
                const uint64_t *s = (const uint64_t *)v->src + so;
                uint64_t *d = (uint64_t *)v->dst + dof;
                for (int64_t a = a0; a < a1; a++)
                    for (int64_t j = b0; j < b1; j++) d[a * t->dst_ax_stride + j] = s[a + j * sb];
            }
        }
    }
}

/* Runs a view copy; v is simplified in place. */
static void view_copy(view *v, const cs_exec *ex)
{
    int64_t numel = 1;
    for (int i = 0; i < v->ndim; i++) numel *= v->dims[i];
    if (numel == 0) return;
    view_simplify(v);
    const cs_exec *pe = par_exec(ex, numel * (int64_t)v->es);
    int last = v->ndim - 1;
    if (v->strides[last] != 1 && v->dims[last] >= 8) {
        int ax = -1;
        for (int d = 0; d < last; d++)
            if (v->strides[d] == 1 && v->dims[d] >= 8) ax = d;
        if (ax >= 0) {
            int64_t dstr[CS_MAX_DIMS];
            cs_strides(v->ndim, v->dims, dstr);
            tiled t = {v, ax, (v->dims[ax] + TILE - 1) / TILE, dstr[ax]};
            int64_t planes = numel / (v->dims[ax] * v->dims[last]);
            cs_parallel_for(pe, planes * t.nblk, view_tiles, &t);
            return;
        }
    }
    cs_parallel_for(pe, numel / v->dims[last], view_rows, v);
}

/* ---- Concat ------------------------------------------------------------------------- */

static cs_status axis_parse(cs_node *n, const cs_attrs *a, cs_error *err)
{
    int64_t *axis = malloc(sizeof *axis);
    if (!axis) return cs_node_fail(err, CS_ERR_NOMEM, n, "out of memory");
    n->params = axis;
    const cs_attr *at = cs_attr_find(a, "axis");
    /* Concat before opset 4 defaulted to 1; later versions require the attribute. */
    *axis = cs_attr_int(a, "axis", n->op == CS_OP_CONCAT ? 1 : 0);
    if (!at && n->op == CS_OP_CONCAT && n->opset >= 4)
        return cs_node_fail(err, CS_ERR_INVALID, n, "missing attribute 'axis'");
    return CS_OK;
}
CS_INIT_WRAP(axis_init, axis_parse)

/* Splits a tensor at `axis` into outer (dims before), the axis and inner (dims after). */
static void split_at(const cs_tensor *t, int axis, int64_t *outer, int64_t *inner)
{
    *outer = 1;
    *inner = 1;
    for (int i = 0; i < t->ndim; i++) {
        if (i < axis) *outer *= t->dims[i];
        if (i > axis) *inner *= t->dims[i];
    }
}

static cs_status concat_shape(cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                              cs_error *err)
{
    char b[64], c[64];
    if (n->n_in < 1 || !in[0]) return cs_node_fail(err, CS_ERR_INVALID, n, "no inputs");
    const cs_tensor *x = in[0];
    cs_status st = cs_need_data_type(n, x, "input 0", err);
    if (st != CS_OK) return st;
    int axis = cs_axis(*(const int64_t *)n->params, x->ndim);
    if (axis < 0)
        return cs_node_fail(err, CS_ERR_INVALID, n, "axis %lld out of range for input shape %s",
                            (long long)*(const int64_t *)n->params, cs_shape_str(x, b, sizeof b));
    int64_t d[CS_MAX_DIMS];
    memcpy(d, x->dims, sizeof d);
    for (int i = 1; i < n->n_in; i++) {
        const cs_tensor *y = in[i];
        if (!y) return cs_node_fail(err, CS_ERR_INVALID, n, "input %d is missing", i);
        if (y->type != x->type)
            return cs_node_fail(err, CS_ERR_INVALID, n,
                                "input %d has element type %d, input 0 has %d", i, (int)y->type,
                                (int)x->type);
        int ok = y->ndim == x->ndim;
        for (int j = 0; ok && j < x->ndim; j++) ok = j == axis || y->dims[j] == x->dims[j];
        if (!ok)
            return cs_node_fail(err, CS_ERR_INVALID, n,
                                "input %d has shape %s, incompatible with input 0 shape %s on "
                                "axis %d",
                                i, cs_shape_str(y, b, sizeof b), cs_shape_str(x, c, sizeof c),
                                axis);
        d[axis] += y->dims[axis];
    }
    cs_tensor_set_shape(out[0], x->type, x->ndim, d);
    return CS_OK;
}

typedef struct {
    cs_tensor *const *in;
    int n_in, axis;
    char *dst;
    int64_t row_bytes; /* bytes of one output row (from the axis on) */
} concat_job;

static void concat_rows(void *ctx, int64_t b, int64_t e)
{
    const concat_job *j = ctx;
    for (int64_t o = b; o < e; o++) {
        char *d = j->dst + o * j->row_bytes;
        for (int i = 0; i < j->n_in; i++) {
            const cs_tensor *x = j->in[i];
            int64_t outer, inner;
            split_at(x, j->axis, &outer, &inner);
            size_t bytes = (size_t)(x->dims[j->axis] * inner) * cs_dtype_size(x->type);
            if (bytes) memcpy(d, (const char *)x->data + (size_t)o * bytes, bytes);
            d += bytes;
        }
    }
}

static void concat_forward(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                           const cs_exec *ex)
{
    cs_tensor *y = out[0];
    int axis = cs_axis(*(const int64_t *)n->params, y->ndim);
    int64_t outer, inner;
    split_at(y, axis, &outer, &inner);
    if (y->numel == 0) return;
    concat_job j = {in, n->n_in, axis, y->data,
                    y->dims[axis] * inner * (int64_t)cs_dtype_size(y->type)};
    cs_parallel_for(outer > 1 ? par_exec(ex, (int64_t)cs_tensor_bytes(y)) : NULL, outer,
                    concat_rows, &j);
}

/* Backward: the output gradient, flattened, is a sequence of rows (one per outer index), each
 * the concatenation of every input's part. Units are elements of that sequence, so one row
 * (concatenation on the first non-unit axis, the usual N=1 case) still splits over threads. */
typedef struct {
    cs_tensor *const *in, *const *gin;
    int n_in;
    int64_t outer, row; /* outer rows; elements of one output row */
    const float *gy;
} concat_bwd;

static void concat_bwd_range(void *ctx, int64_t b, int64_t e)
{
    const concat_bwd *j = ctx;
    int64_t o = b / j->row, pos = b % j->row;
    while (b < e) {
        int i = 0;
        int64_t base = 0, rs = j->in[0]->numel / j->outer;
        while (pos >= base + rs) { /* the input holding pos (a row ends before i = n_in) */
            base += rs;
            rs = j->in[++i]->numel / j->outer;
        }
        for (; i < j->n_in && b < e; i++) {
            rs = j->in[i]->numel / j->outer;
            int64_t len = base + rs - pos;
            if (len > e - b) len = e - b;
            float *gx = cs_gin_f32(j->gin, j->n_in, i);
            if (len > 0 && gx) cs_add_f32(gx + o * rs + (pos - base), j->gy + b, len);
            if (len > 0) {
                b += len;
                pos += len;
            }
            base += rs;
        }
        o++;
        pos = 0;
    }
}

static void concat_backward(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                            cs_tensor *const *gout, cs_tensor *const *gin, const cs_exec *ex)
{
    const cs_tensor *y = out[0];
    const float *gy = cs_gout_f32(gout, 0); /* NULL when y is empty */
    if (!gy) return;
    int axis = cs_axis(*(const int64_t *)n->params, y->ndim);
    int64_t outer, inner;
    split_at(y, axis, &outer, &inner);
    concat_bwd j = {in, gin, n->n_in, outer, y->dims[axis] * inner, gy};
    cs_parallel_for(y->numel >= CS_GRAD_PAR_ELEMS ? ex : NULL, y->numel, concat_bwd_range, &j);
}

const cs_op_def cs_def_concat = {
    .onnx_name = "Concat",
    .min_in = 1,
    .max_in = -1,
    .min_out = 1,
    .max_out = 1,
    .init = axis_init,
    .shape = concat_shape,
    .forward = concat_forward,
    .backward = concat_backward,
};

/* ---- Transpose ---------------------------------------------------------------------- */

typedef struct {
    int n; /* 0: default (reversed dims) */
    int64_t perm[CS_MAX_DIMS];
} transpose_params;

static cs_status transpose_parse(cs_node *n, const cs_attrs *a, cs_error *err)
{
    transpose_params *p = calloc(1, sizeof *p);
    if (!p) return cs_node_fail(err, CS_ERR_NOMEM, n, "out of memory");
    n->params = p;
    p->n = cs_attr_ints(a, "perm", p->perm, CS_MAX_DIMS);
    if (p->n < 0)
        return cs_node_fail(err, CS_ERR_UNSUPPORTED, n, "perm has more than %d values",
                            CS_MAX_DIMS);
    return CS_OK;
}
CS_INIT_WRAP(transpose_init, transpose_parse)

static void transpose_perm(const transpose_params *p, int ndim, int64_t *perm)
{
    for (int i = 0; i < ndim; i++) perm[i] = p->n ? p->perm[i] : ndim - 1 - i;
}

static cs_status transpose_shape(cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                                 cs_error *err)
{
    const transpose_params *p = n->params;
    const cs_tensor *x = in[0];
    char b[64], c[64];
    cs_status st = cs_need_data_type(n, x, "input", err);
    if (st != CS_OK) return st;
    if (p->n && p->n != x->ndim)
        return cs_node_fail(err, CS_ERR_INVALID, n, "perm %s has %d values, input shape %s",
                            cs_ints_str(p->perm, p->n, c, sizeof c), p->n,
                            cs_shape_str(x, b, sizeof b));
    int64_t perm[CS_MAX_DIMS], d[CS_MAX_DIMS];
    int seen[CS_MAX_DIMS] = {0};
    transpose_perm(p, x->ndim, perm);
    for (int i = 0; i < x->ndim; i++) {
        if (perm[i] < 0 || perm[i] >= x->ndim || seen[perm[i]]++)
            return cs_node_fail(err, CS_ERR_INVALID, n, "perm %s is not a permutation of %d axes",
                                cs_ints_str(perm, x->ndim, c, sizeof c), x->ndim);
        d[i] = x->dims[perm[i]];
    }
    cs_tensor_set_shape(out[0], x->type, x->ndim, d);
    return CS_OK;
}

/* dst = src transposed by perm (src has ndim dims `dims`); dst += ... when add (floats). Also
 * the backward of Transpose, with the inverse permutation. */
static void transpose_run(size_t es, int ndim, const int64_t *dims, const int64_t *perm,
                          const void *src, void *dst, int add, const cs_exec *ex)
{
    int64_t s[CS_MAX_DIMS];
    cs_strides(ndim, dims, s);
    view v = {.es = es, .ndim = ndim, .src = src, .dst = dst, .add = add};
    for (int i = 0; i < ndim; i++) {
        v.dims[i] = dims[perm[i]];
        v.strides[i] = s[perm[i]];
    }
    view_copy(&v, ex);
}

static void transpose_forward(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                              const cs_exec *ex)
{
    int64_t perm[CS_MAX_DIMS];
    transpose_perm(n->params, in[0]->ndim, perm);
    transpose_run(cs_dtype_size(in[0]->type), in[0]->ndim, in[0]->dims, perm, in[0]->data,
                  out[0]->data, 0, ex);
}

/* ∂x = ∂y transposed back: x's axis perm[k] is y's axis k. */
static void transpose_backward(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                               cs_tensor *const *gout, cs_tensor *const *gin, const cs_exec *ex)
{
    float *gx = cs_gin_f32(gin, n->n_in, 0);
    const float *gy = cs_gout_f32(gout, 0);
    if (!gx || !gy) return;
    int r = out[0]->ndim;
    int64_t perm[CS_MAX_DIMS], inv[CS_MAX_DIMS];
    transpose_perm(n->params, r, perm);
    for (int k = 0; k < r; k++) inv[perm[k]] = k;
    transpose_run(sizeof(float), r, out[0]->dims, inv, gy, gx, 1, ex);
}

const cs_op_def cs_def_transpose = {
    .onnx_name = "Transpose",
    .min_in = 1,
    .max_in = 1,
    .min_out = 1,
    .max_out = 1,
    .init = transpose_init,
    .shape = transpose_shape,
    .forward = transpose_forward,
    .backward = transpose_backward,
};

/* ---- Gather ------------------------------------------------------------------------- */

static cs_status gather_shape(cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                              cs_error *err)
{
    const cs_tensor *x = in[0], *ind = in[1];
    char b[64], c[64];
    cs_status st = cs_need_data_type(n, x, "data", err);
    if (st != CS_OK) return st;
    if (ind->type != CS_I64)
        return cs_node_fail(err, CS_ERR_UNSUPPORTED, n, "indices must be int64 (element type %d)",
                            (int)ind->type);
    int axis = cs_axis(*(const int64_t *)n->params, x->ndim);
    if (axis < 0)
        return cs_node_fail(err, CS_ERR_INVALID, n, "axis %lld out of range for data shape %s",
                            (long long)*(const int64_t *)n->params, cs_shape_str(x, b, sizeof b));
    int r = x->ndim - 1 + ind->ndim;
    if (r > CS_MAX_DIMS)
        return cs_node_fail(err, CS_ERR_UNSUPPORTED, n,
                            "output rank %d from data shape %s and indices shape %s (at most %d)",
                            r, cs_shape_str(x, b, sizeof b), cs_shape_str(ind, c, sizeof c),
                            CS_MAX_DIMS);
    if (ind->data) {
        const int64_t *iv = ind->data;
        int64_t m = x->dims[axis];
        for (int64_t i = 0; i < ind->numel; i++)
            if (iv[i] < -m || iv[i] >= m)
                return cs_node_fail(err, CS_ERR_INVALID, n,
                                    "index %lld out of range for axis %d of data shape %s",
                                    (long long)iv[i], axis, cs_shape_str(x, b, sizeof b));
    }
    int64_t d[CS_MAX_DIMS];
    int k = 0;
    for (int i = 0; i < axis; i++) d[k++] = x->dims[i];
    for (int i = 0; i < ind->ndim; i++) d[k++] = ind->dims[i];
    for (int i = axis + 1; i < x->ndim; i++) d[k++] = x->dims[i];
    cs_tensor_set_shape(out[0], x->type, r, d);
    return CS_OK;
}

typedef struct {
    const char *src;
    char *dst;
    const int64_t *ind;
    int64_t nind, m; /* index count, size of the gathered axis */
    size_t block;    /* bytes below the axis */
} gather_job;

/* Unit u = (outer, index) pair. Out-of-range runtime indices (shape() checked constant ones)
 * give zeros rather than reading outside the input. */
static void gather_rows(void *ctx, int64_t b, int64_t e)
{
    const gather_job *j = ctx;
    for (int64_t u = b; u < e; u++) {
        int64_t o = u / j->nind, k = j->ind[u % j->nind];
        if (k < 0) k += j->m;
        char *d = j->dst + (size_t)u * j->block;
        if (k < 0 || k >= j->m)
            memset(d, 0, j->block);
        else
            memcpy(d, j->src + (size_t)(o * j->m + k) * j->block, j->block);
    }
}

static void gather_forward(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                           const cs_exec *ex)
{
    const cs_tensor *x = in[0];
    int axis = cs_axis(*(const int64_t *)n->params, x->ndim);
    int64_t outer, inner;
    split_at(x, axis, &outer, &inner);
    gather_job j = {x->data,      out[0]->data,  in[1]->data,
                    in[1]->numel, x->dims[axis], (size_t)inner * cs_dtype_size(x->type)};
    if (out[0]->numel == 0 || j.block == 0) return;
    cs_parallel_for(par_exec(ex, (int64_t)cs_tensor_bytes(out[0])), outer * j.nind, gather_rows,
                    &j);
}

/* Backward: ∂data[o, k, :] += ∂y[o, u, :] for every u with index k. Repeated indices add
 * into the same row, so units own disjoint destinations: (outer, column block) pairs, each
 * walking every index; the column blocks split one outer slice (axis 0) across threads. */
typedef struct {
    float *gx;
    const float *gy;
    const int64_t *ind;
    int64_t nind, m, inner, block, nblk;
} gather_bwd;

static void gather_bwd_units(void *ctx, int64_t b, int64_t e)
{
    const gather_bwd *j = ctx;
    for (int64_t u = b; u < e; u++) {
        int64_t o = u / j->nblk, c0 = (u % j->nblk) * j->block;
        int64_t len = c0 + j->block < j->inner ? j->block : j->inner - c0;
        for (int64_t t = 0; t < j->nind; t++) {
            int64_t k = j->ind[t];
            if (k < 0) k += j->m;
            if (k < 0 || k >= j->m) continue; /* forward wrote zeros there */
            cs_add_f32(j->gx + (o * j->m + k) * j->inner + c0,
                       j->gy + (o * j->nind + t) * j->inner + c0, len);
        }
    }
}

static void gather_backward(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                            cs_tensor *const *gout, cs_tensor *const *gin, const cs_exec *ex)
{
    const cs_tensor *x = in[0];
    float *gx = cs_gin_f32(gin, n->n_in, 0);
    const float *gy = cs_gout_f32(gout, 0);
    if (!gx || !gy) return; /* also when data or y is empty */
    int axis = cs_axis(*(const int64_t *)n->params, x->ndim);
    int64_t outer, inner;
    split_at(x, axis, &outer, &inner);
    const cs_exec *pe = out[0]->numel >= CS_GRAD_PAR_ELEMS ? ex : NULL;
    int64_t want = pe ? 4 * (int64_t)ex->threads : 1, nblk = 1;
    if (outer < want) { /* split columns too, in blocks of at least 64 floats */
        nblk = (want + outer - 1) / outer;
        if (nblk > (inner + 63) / 64) nblk = (inner + 63) / 64;
        if (nblk < 1) nblk = 1;
    }
    gather_bwd j = {gx, gy, in[1]->data, in[1]->numel, x->dims[axis], inner, 0, nblk};
    j.block = (inner + nblk - 1) / nblk;
    j.nblk = (inner + j.block - 1) / j.block;
    cs_parallel_for(pe, outer * j.nblk, gather_bwd_units, &j);
}

const cs_op_def cs_def_gather = {
    .onnx_name = "Gather",
    .min_in = 2,
    .max_in = 2,
    .min_out = 1,
    .max_out = 1,
    .init = axis_init,
    .shape = gather_shape,
    .forward = gather_forward,
    .backward = gather_backward,
};

/* ---- Slice -------------------------------------------------------------------------- */

typedef struct {
    int n; /* attribute form (opset < 10): number of starts */
    int n_axes;
    int64_t starts[CS_MAX_DIMS], ends[CS_MAX_DIMS], axes[CS_MAX_DIMS];
} slice_params;

/* Per-axis start, step and count of a Slice over a tensor of rank ndim. */
typedef struct {
    int64_t start[CS_MAX_DIMS], step[CS_MAX_DIMS], count[CS_MAX_DIMS];
} slice_geom;

static cs_status slice_parse(cs_node *n, const cs_attrs *a, cs_error *err)
{
    slice_params *p = calloc(1, sizeof *p);
    if (!p) return cs_node_fail(err, CS_ERR_NOMEM, n, "out of memory");
    n->params = p;
    if (n->opset >= 10) return CS_OK;
    p->n = cs_attr_ints(a, "starts", p->starts, CS_MAX_DIMS);
    int ne = cs_attr_ints(a, "ends", p->ends, CS_MAX_DIMS);
    p->n_axes = cs_attr_ints(a, "axes", p->axes, CS_MAX_DIMS);
    if (p->n < 0 || ne < 0 || p->n_axes < 0)
        return cs_node_fail(err, CS_ERR_UNSUPPORTED, n, "more than %d starts, ends or axes",
                            CS_MAX_DIMS);
    if (!cs_attr_find(a, "starts") || !cs_attr_find(a, "ends"))
        return cs_node_fail(err, CS_ERR_INVALID, n, "missing attribute 'starts' or 'ends'");
    if (ne != p->n || (cs_attr_find(a, "axes") && p->n_axes != p->n))
        return cs_node_fail(err, CS_ERR_INVALID, n,
                            "starts (%d values), ends (%d) and axes (%d) differ in length", p->n,
                            ne, p->n_axes);
    if (!cs_attr_find(a, "axes")) p->n_axes = -1;
    return CS_OK;
}
CS_INIT_WRAP(slice_init, slice_parse)

/* Computes the geometry from the attributes or the constant inputs; err may be NULL when
 * shape() validated the node already (forward). */
static cs_status slice_geometry(const cs_node *n, cs_tensor *const *in, slice_geom *g,
                                cs_error *err)
{
    const slice_params *p = n->params;
    const cs_tensor *x = in[0];
    int64_t starts[CS_MAX_DIMS], ends[CS_MAX_DIMS], axes[CS_MAX_DIMS], steps[CS_MAX_DIMS];
    int k = 0, ke = 0, ka = -1, ks = -1;
    char c[128];
    cs_status st = CS_OK;
    if (n->opset < 10) {
        k = ke = p->n;
        memcpy(starts, p->starts, sizeof starts);
        memcpy(ends, p->ends, sizeof ends);
        if (p->n_axes >= 0) {
            ka = p->n_axes;
            memcpy(axes, p->axes, sizeof axes);
        }
    } else {
        if (n->n_in < 3 || !in[1] || !in[2])
            return cs_node_fail(err, CS_ERR_INVALID, n, "missing starts or ends input");
        st = cs_read_ints(n, in[1], "starts", starts, CS_MAX_DIMS, &k, err);
        if (st == CS_OK) st = cs_read_ints(n, in[2], "ends", ends, CS_MAX_DIMS, &ke, err);
        if (st == CS_OK && n->n_in > 3 && in[3] && in[3]->numel)
            st = cs_read_ints(n, in[3], "axes", axes, CS_MAX_DIMS, &ka, err);
        if (st == CS_OK && n->n_in > 4 && in[4] && in[4]->numel)
            st = cs_read_ints(n, in[4], "steps", steps, CS_MAX_DIMS, &ks, err);
        if (st != CS_OK) return st;
    }
    if (ke != k || (ka >= 0 && ka != k) || (ks >= 0 && ks != k))
        return cs_node_fail(err, CS_ERR_INVALID, n,
                            "starts (%d values), ends (%d), axes (%d) and steps (%d) differ in "
                            "length",
                            k, ke, ka, ks);
    for (int d = 0; d < x->ndim; d++) {
        g->start[d] = 0;
        g->step[d] = 1;
        g->count[d] = x->dims[d];
    }
    int done[CS_MAX_DIMS] = {0};
    for (int i = 0; i < k; i++) {
        int64_t ax = ka >= 0 ? axes[i] : i;
        int a = cs_axis(ax, x->ndim);
        if (a < 0 || done[a]++) {
            char b[64];
            return cs_node_fail(err, CS_ERR_INVALID, n,
                                "axis %lld out of range or repeated (axes %s, input shape %s)",
                                (long long)ax, cs_ints_str(ka >= 0 ? axes : starts, k, c, sizeof c),
                                cs_shape_str(x, b, sizeof b));
        }
        int64_t dim = x->dims[a], step = ks >= 0 ? steps[i] : 1, s = starts[i], e = ends[i];
        if (step == 0) return cs_node_fail(err, CS_ERR_INVALID, n, "step 0 on axis %d", a);
        if (s < 0) s += dim;
        if (e < 0) e += dim;
        int64_t cnt;
        if (step > 0) {
            s = s < 0 ? 0 : s > dim ? dim : s;
            e = e < 0 ? 0 : e > dim ? dim : e;
            cnt = e > s ? (e - s + step - 1) / step : 0;
        } else {
            s = s < 0 ? 0 : s > dim - 1 ? dim - 1 : s;
            e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
            cnt = s > e ? (s - e - step - 1) / -step : 0;
        }
        g->start[a] = cnt ? s : 0;
        g->step[a] = step;
        g->count[a] = cnt;
    }
    return CS_OK;
}

static cs_status slice_shape(cs_node *n, cs_tensor *const *in, cs_tensor *const *out, cs_error *err)
{
    slice_geom g;
    cs_status st = cs_need_data_type(n, in[0], "data", err);
    if (st == CS_OK) st = slice_geometry(n, in, &g, err);
    if (st == CS_OK) cs_tensor_set_shape(out[0], in[0]->type, in[0]->ndim, g.count);
    return st;
}

static void slice_forward(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                          const cs_exec *ex)
{
    const cs_tensor *x = in[0];
    slice_geom g;
    if (slice_geometry(n, in, &g, NULL) != CS_OK) return;
    int64_t s[CS_MAX_DIMS];
    cs_strides(x->ndim, x->dims, s);
    view v = {.es = cs_dtype_size(x->type), .ndim = x->ndim, .src = x->data, .dst = out[0]->data};
    for (int d = 0; d < x->ndim; d++) {
        v.dims[d] = g.count[d];
        v.strides[d] = s[d] * g.step[d];
        v.off += g.start[d] * s[d];
    }
    if (x->ndim == 0) {
        v.ndim = 1;
        v.dims[0] = v.strides[0] = 1;
    }
    view_copy(&v, ex);
}

/* Backward: the adjoint of the view copy, ∂x[off + Σ i_d·stride_d] += ∂y[i] (strides may be
 * negative). Distinct output elements read distinct input elements, so rows run in parallel. */
typedef struct {
    int ndim;
    int64_t dims[CS_MAX_DIMS], strides[CS_MAX_DIMS], off;
    float *gx;
    const float *gy;
} slice_bwd;

static void slice_bwd_rows(void *ctx, int64_t b, int64_t e)
{
    const slice_bwd *j = ctx;
    int last = j->ndim - 1;
    int64_t len = j->dims[last], st = j->strides[last];
    for (int64_t row = b; row < e; row++) {
        int64_t off = j->off, rem = row;
        for (int d = last - 1; d >= 0; d--) {
            off += (rem % j->dims[d]) * j->strides[d];
            rem /= j->dims[d];
        }
        float *restrict dst = j->gx + off;
        const float *restrict src = j->gy + row * len;
        if (st == 1)
            cs_add_f32(dst, src, len);
        else
            for (int64_t i = 0; i < len; i++) dst[i * st] += src[i];
    }
}

static void slice_backward(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                           cs_tensor *const *gout, cs_tensor *const *gin, const cs_exec *ex)
{
    const cs_tensor *x = in[0];
    float *gx = cs_gin_f32(gin, n->n_in, 0);
    const float *gy = cs_gout_f32(gout, 0);
    slice_geom g;
    if (!gx || !gy || slice_geometry(n, in, &g, NULL) != CS_OK) return; /* empty: NULL */
    int64_t s[CS_MAX_DIMS];
    cs_strides(x->ndim, x->dims, s);
    slice_bwd j = {.ndim = x->ndim, .gx = gx, .gy = gy};
    for (int d = 0; d < x->ndim; d++) {
        j.dims[d] = g.count[d];
        j.strides[d] = s[d] * g.step[d];
        j.off += g.start[d] * s[d];
    }
    if (x->ndim == 0) {
        j.ndim = 1;
        j.dims[0] = j.strides[0] = 1;
    }
    dims_simplify(&j.ndim, j.dims, j.strides);
    cs_parallel_for(out[0]->numel >= CS_GRAD_PAR_ELEMS ? ex : NULL,
                    out[0]->numel / j.dims[j.ndim - 1], slice_bwd_rows, &j);
}

const cs_op_def cs_def_slice = {
    .onnx_name = "Slice",
    .min_in = 1,
    .max_in = 5,
    .min_out = 1,
    .max_out = 1,
    .init = slice_init,
    .shape = slice_shape,
    .forward = slice_forward,
    .backward = slice_backward,
};
