/* Add, Sub, Mul, Div (float32 and int64, numpy broadcasting) and PRelu (slope broadcast to X).
 *
 * The broadcast is reduced to a few "collapsed" dims: size-1 output dims are dropped and
 * neighbouring dims that step through both operands contiguously are merged. The common cases
 * then become one tight inner loop: same shape is one dim, a scalar operand is one dim with
 * stride 0, and a per-channel [C,1,1] operand on NxCxHxW is [N, C, H*W] with the channel
 * operand constant along the inner H*W loop. */
/* no-trapping-math lets GCC if-convert, and so vectorize, selects whose arms do float
 * arithmetic; nothing here reads floating-point exception flags (Clang's default anyway). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

#include "../graph.h"
#include "../threads.h"

#include <stdlib.h>
#include <string.h>

#define BIN_PAR_MIN 32768

/* Element strides of a and b (0 where broadcast) over the collapsed output dims. */
typedef struct bcast {
    int nd;
    int64_t dims[CS_MAX_DIMS];
    int64_t sa[CS_MAX_DIMS], sb[CS_MAX_DIMS];
} bcast;

static void operand_strides(const cs_tensor *t, int nd, const int64_t *odims, int64_t *s)
{
    int64_t step = 1;
    for (int i = nd - 1; i >= 0; i--) {
        int ti = t->ndim - nd + i;
        int64_t d = ti >= 0 ? t->dims[ti] : 1;
        s[i] = d == 1 || odims[i] == 1 ? 0 : step;
        step *= d;
    }
}

/* a and b must be broadcast-compatible (checked at shape time). */
static void bcast_plan(const cs_tensor *a, const cs_tensor *b, bcast *bc)
{
    int nd;
    int64_t od[CS_MAX_DIMS], sa[CS_MAX_DIMS], sb[CS_MAX_DIMS];
    cs_broadcast_shape(a, b, &nd, od);
    operand_strides(a, nd, od, sa);
    operand_strides(b, nd, od, sb);
    int k = 0;
    for (int i = 0; i < nd; i++) {
        if (od[i] == 1) continue;
        if (k > 0 && bc->sa[k - 1] == sa[i] * od[i] && bc->sb[k - 1] == sb[i] * od[i]) {
            /* The previous dim steps over exactly this one in both operands: merge. */
            bc->dims[k - 1] *= od[i];
            bc->sa[k - 1] = sa[i];
            bc->sb[k - 1] = sb[i];
            continue;
        }
        bc->dims[k] = od[i];
        bc->sa[k] = sa[i];
        bc->sb[k] = sb[i];
        k++;
    }
    if (k == 0) {
        bc->dims[0] = 1;
        bc->sa[0] = bc->sb[0] = 0;
        k = 1;
    }
    bc->nd = k;
}

/* ---- row kernels: y[i] = f(a[i*ia], b[i*ib]) with ia, ib in {0, 1} ------------------------ */

#define ROW_LOOPS(T, F)                                                                            \
    do {                                                                                           \
        if (ia && ib) {                                                                            \
            for (int64_t i = 0; i < n; i++) y[i] = F(a[i], b[i]);                                  \
        } else if (ia) {                                                                           \
            const T bv = b[0];                                                                     \
            for (int64_t i = 0; i < n; i++) y[i] = F(a[i], bv);                                    \
        } else if (ib) {                                                                           \
            const T av = a[0];                                                                     \
            for (int64_t i = 0; i < n; i++) y[i] = F(av, b[i]);                                    \
        } else {                                                                                   \
            const T v = F(a[0], b[0]);                                                             \
            for (int64_t i = 0; i < n; i++) y[i] = v;                                              \
        }                                                                                          \
    } while (0)

#define F_ADD(x, z) ((x) + (z))
#define F_SUB(x, z) ((x) - (z))
#define F_MUL(x, z) ((x) * (z))
#define F_DIV(x, z) ((x) / (z))
#define F_PRELU(x, z) ((x) < 0.f ? (x) * (z) : (x))
/* Wrapping int64 arithmetic: overflow is not undefined behaviour here. */
#define I_ADD(x, z) ((int64_t)((uint64_t)(x) + (uint64_t)(z)))
#define I_SUB(x, z) ((int64_t)((uint64_t)(x) - (uint64_t)(z)))
#define I_MUL(x, z) ((int64_t)((uint64_t)(x) * (uint64_t)(z)))
#define I_DIV(x, z) idiv(x, z)

/* Truncating division as in C, ONNX's reference and onnxruntime. x/0 (a crash elsewhere)
 * gives 0 here, since forward cannot fail. */
static inline int64_t idiv(int64_t x, int64_t z)
{
    if (z == 0) return 0;
    if (z == -1) return I_SUB(0, x);
    return x / z;
}

static void row_f32(cs_op op, const float *a, int64_t ia, const float *b, int64_t ib, float *y,
                    int64_t n)
{
    switch (op) {
    case CS_OP_ADD:
        ROW_LOOPS(float, F_ADD);
        break;
    case CS_OP_SUB:
        ROW_LOOPS(float, F_SUB);
        break;
    case CS_OP_MUL:
        ROW_LOOPS(float, F_MUL);
        break;
    case CS_OP_DIV:
        ROW_LOOPS(float, F_DIV);
        break;
    default:
        ROW_LOOPS(float, F_PRELU);
        break;
    }
}

static void row_i64(cs_op op, const int64_t *a, int64_t ia, const int64_t *b, int64_t ib,
                    int64_t *y, int64_t n)
{
    switch (op) {
    case CS_OP_ADD:
        ROW_LOOPS(int64_t, I_ADD);
        break;
    case CS_OP_SUB:
        ROW_LOOPS(int64_t, I_SUB);
        break;
    case CS_OP_MUL:
        ROW_LOOPS(int64_t, I_MUL);
        break;
    default:
        ROW_LOOPS(int64_t, I_DIV);
        break;
    }
}

typedef struct bin_job {
    cs_op op;
    bool i64;
    bcast bc;
    const void *a, *b;
    void *y;
} bin_job;

/* Output elements [begin, end) in row-major order of the collapsed dims. */
static void bin_range(void *ctx, int64_t begin, int64_t end)
{
    const bin_job *j = ctx;
    const bcast *bc = &j->bc;
    const int in = bc->nd - 1; /* inner dim */
    const int64_t len = bc->dims[in], ia = bc->sa[in], ib = bc->sb[in];
    int64_t idx[CS_MAX_DIMS] = {0}, oa = 0, ob = 0;
    int64_t row = begin / len, pos = begin % len;
    for (int d = in - 1; d >= 0; d--) {
        idx[d] = row % bc->dims[d];
        row /= bc->dims[d];
        oa += idx[d] * bc->sa[d];
        ob += idx[d] * bc->sb[d];
    }
    for (int64_t i = begin; i < end;) {
        int64_t cnt = len - pos < end - i ? len - pos : end - i;
        if (j->i64)
            row_i64(j->op, (const int64_t *)j->a + oa + pos * ia, ia,
                    (const int64_t *)j->b + ob + pos * ib, ib, (int64_t *)j->y + i, cnt);
        else
            row_f32(j->op, (const float *)j->a + oa + pos * ia, ia,
                    (const float *)j->b + ob + pos * ib, ib, (float *)j->y + i, cnt);
        i += cnt;
        pos = 0;
        for (int d = in - 1; d >= 0; d--) {
            oa += bc->sa[d];
            ob += bc->sb[d];
            if (++idx[d] < bc->dims[d]) break;
            oa -= bc->sa[d] * bc->dims[d];
            ob -= bc->sb[d] * bc->dims[d];
            idx[d] = 0;
        }
    }
}

static void bin_run(cs_op op, const cs_tensor *a, const cs_tensor *b, cs_tensor *y,
                    const cs_exec *ex)
{
    bin_job j = {.op = op, .i64 = y->type == CS_I64, .a = a->data, .b = b->data, .y = y->data};
    bcast_plan(a, b, &j.bc);
    if (y->numel >= BIN_PAR_MIN)
        cs_parallel_for(ex, y->numel, bin_range, &j);
    else if (y->numel > 0)
        bin_range(&j, 0, y->numel);
}

/* ---- Add, Sub, Mul, Div ------------------------------------------------------------------- */

static cs_status arith_init(cs_node *n, const cs_attrs *a, cs_error *err)
{
    /* Opset < 7 limited broadcasting, steered by these attributes. */
    if (cs_attr_int(a, "broadcast", 0) != 0 || cs_attr_find(a, "axis"))
        return cs_node_fail(err, CS_ERR_UNSUPPORTED, n,
                            "legacy (opset < 7) 'broadcast'/'axis' attributes are not "
                            "supported; re-export the model with opset >= 7");
    return CS_OK;
}

static cs_status broadcast_check(cs_node *n, const cs_tensor *a, const cs_tensor *b, const char *na,
                                 const char *nb, int *nd, int64_t *dims, cs_error *err)
{
    if (!cs_broadcast_shape(a, b, nd, dims)) {
        char sa[96], sb[96];
        return cs_node_fail(err, CS_ERR_INVALID, n, "cannot broadcast %s (%s) with %s (%s)", na,
                            cs_shape_str(a, sa, sizeof sa), nb, cs_shape_str(b, sb, sizeof sb));
    }
    return CS_OK;
}

static const char *type_name(cs_dtype t)
{
    return t == CS_F32 ? "float32" : t == CS_I64 ? "int64" : "unknown";
}

static cs_status arith_shape(cs_node *n, cs_tensor *const *in, cs_tensor *const *out, cs_error *err)
{
    if (!in[0] || !in[1]) return cs_node_fail(err, CS_ERR_INVALID, n, "needs two inputs A and B");
    if (in[0]->type != in[1]->type)
        return cs_node_fail(err, CS_ERR_INVALID, n, "input types differ (A is %s, B is %s)",
                            type_name(in[0]->type), type_name(in[1]->type));
    if (in[0]->type != CS_F32 && in[0]->type != CS_I64)
        return cs_node_fail(err, CS_ERR_UNSUPPORTED, n, "type %d is not supported",
                            (int)in[0]->type);
    int nd;
    int64_t dims[CS_MAX_DIMS];
    cs_status st = broadcast_check(n, in[0], in[1], "A", "B", &nd, dims, err);
    if (st != CS_OK) return st;
    cs_tensor_set_shape(out[0], in[0]->type, nd, dims);
    return CS_OK;
}

static void arith_forward(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                          const cs_exec *ex)
{
    bin_run(n->op, in[0], in[1], out[0], ex);
}

/* ---- PRelu -------------------------------------------------------------------------------- */

static cs_status prelu_init(cs_node *n, const cs_attrs *a, cs_error *err)
{
    return CS_OK;
}

/* Before opset 7 a 1-D slope of length C applied per channel (dim 1); view it as [C,1,...]. */
static cs_tensor prelu_slope(const cs_node *n, const cs_tensor *x, const cs_tensor *slope)
{
    cs_tensor s = *slope;
    if (n->opset < 7 && s.ndim == 1 && x->ndim >= 2 && s.dims[0] == x->dims[1] && s.dims[0] > 1) {
        int64_t dims[CS_MAX_DIMS];
        dims[0] = s.dims[0];
        for (int i = 1; i < x->ndim - 1; i++) dims[i] = 1;
        cs_tensor_set_shape(&s, s.type, x->ndim - 1, dims);
    }
    return s;
}

static cs_status prelu_shape(cs_node *n, cs_tensor *const *in, cs_tensor *const *out, cs_error *err)
{
    if (!in[0] || !in[1])
        return cs_node_fail(err, CS_ERR_INVALID, n, "needs two inputs X and slope");
    if (in[0]->type != CS_F32 || in[1]->type != CS_F32)
        return cs_node_fail(err, CS_ERR_UNSUPPORTED, n, "X and slope must be float32");
    cs_tensor s = prelu_slope(n, in[0], in[1]);
    int nd;
    int64_t dims[CS_MAX_DIMS];
    cs_status st = broadcast_check(n, in[0], &s, "X", "slope", &nd, dims, err);
    if (st != CS_OK) return st;
    bool same = nd == in[0]->ndim;
    for (int i = 0; same && i < nd; i++) same = dims[i] == in[0]->dims[i];
    if (!same) {
        char sx[96], ss[96];
        return cs_node_fail(err, CS_ERR_INVALID, n,
                            "slope (%s) must broadcast to X (%s) without enlarging it",
                            cs_shape_str(in[1], ss, sizeof ss), cs_shape_str(in[0], sx, sizeof sx));
    }
    cs_tensor_set_shape(out[0], CS_F32, in[0]->ndim, in[0]->dims);
    return CS_OK;
}

static void prelu_forward(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                          const cs_exec *ex)
{
    cs_tensor s = prelu_slope(n, in[0], in[1]);
    bin_run(CS_OP_PRELU, in[0], &s, out[0], ex);
}

/* ---- backward ---------------------------------------------------------------------------------
 *
 * The gradient w.r.t. an operand T is Σ h(g, t, u) over the output elements that read each
 * element of T, where g is the output's gradient, t the element of T and u the element of the
 * other operand U. Over the collapsed dims T has stride 0 (broadcast: a sum) or not (one term
 * per element). The work splits along T's first non-broadcast dim f: outputs with different
 * indices in f never touch the same element of T, so threads write disjoint parts of the
 * gradient without atomics. Same shape is one dim (an element-wise pass); a per-channel
 * [C,1,1] operand on NxCxHxW is [N, C, H*W] split along C, each row a vectorized sum. A
 * scalar T (no such dim) sums per-thread partials from scratch. */

typedef enum { G_ADD, G_SUB, G_MUL_A, G_MUL_B, G_DIV_A, G_DIV_B, G_PRELU_X, G_PRELU_S } grad_kind;

/* h(g, t, u) for each kind. */
#define H_ADD(gv, tv, uv) (gv)
#define H_SUB(gv, tv, uv) (-(gv))
#define H_MUL(gv, tv, uv) ((gv) * (uv))
#define H_DIV_A(gv, tv, uv) ((gv) / (uv))
#define H_DIV_B(gv, tv, uv) (-((gv) * (uv) / (tv)) / (tv))
#define H_PRELU_X(gv, tv, uv) ((tv) < 0.f ? (gv) * (uv) : (gv))
#define H_PRELU_S(gv, tv, uv) ((uv) < 0.f ? (gv) * (uv) : 0.f)

/* One row of n outputs: gt[i*it] += H(g[i], t[i*it], u[i*iu]) with it, iu in {0, 1}. With
 * it == 0 the row is a sum, kept in 8 partial sums so that it vectorizes. */
#define GRAD_ROW(H)                                                                                \
    do {                                                                                           \
        if (it) {                                                                                  \
            if (iu)                                                                                \
                for (int64_t i = 0; i < n; i++) gt[i] += H(g[i], t[i], u[i]);                      \
            else {                                                                                 \
                const float uv = u[0];                                                             \
                (void)uv;                                                                          \
                for (int64_t i = 0; i < n; i++) gt[i] += H(g[i], t[i], uv);                        \
            }                                                                                      \
        } else {                                                                                   \
            const float tv = t[0];                                                                 \
            (void)tv;                                                                              \
            float acc[8] = {0}, s = 0.f;                                                           \
            int64_t i = 0;                                                                         \
            if (iu) {                                                                              \
                for (; i + 8 <= n; i += 8)                                                         \
                    for (int k = 0; k < 8; k++) acc[k] += H(g[i + k], tv, u[i + k]);               \
                for (; i < n; i++) s += H(g[i], tv, u[i]);                                         \
            } else {                                                                               \
                const float uv = u[0];                                                             \
                (void)uv;                                                                          \
                for (; i + 8 <= n; i += 8)                                                         \
                    for (int k = 0; k < 8; k++) acc[k] += H(g[i + k], tv, uv);                     \
                for (; i < n; i++) s += H(g[i], tv, uv);                                           \
            }                                                                                      \
            for (int k = 0; k < 8; k++) s += acc[k];                                               \
            gt[0] += s;                                                                            \
        }                                                                                          \
    } while (0)

static void grad_row(grad_kind kind, const float *g, const float *t, int64_t it, const float *u,
                     int64_t iu, float *gt, int64_t n)
{
    switch (kind) {
    case G_ADD:
        GRAD_ROW(H_ADD);
        break;
    case G_SUB:
        GRAD_ROW(H_SUB);
        break;
    case G_MUL_A:
    case G_MUL_B:
        GRAD_ROW(H_MUL);
        break;
    case G_DIV_A:
        GRAD_ROW(H_DIV_A);
        break;
    case G_DIV_B:
        GRAD_ROW(H_DIV_B);
        break;
    case G_PRELU_X:
        GRAD_ROW(H_PRELU_X);
        break;
    case G_PRELU_S:
        GRAD_ROW(H_PRELU_S);
        break;
    }
}

typedef struct grad_job {
    grad_kind kind;
    bcast bc;     /* sa: strides of T, sb: strides of U */
    int f;        /* first dim where T has a non-zero stride; nd when none */
    int64_t rest; /* outputs per index of dim f (product of the dims after it) */
    const float *g, *t, *u;
    float *gt;
    float *partial; /* scalar T: one cache line per chunk */
    int64_t chunks;
} grad_job;

/* Outputs [begin, end) in row-major order of dims f.. of the collapsed shape, from base
 * offsets (output, T, U) fixed by the indices of dims before f. */
static void grad_rows(const grad_job *j, float *gt, int64_t og, int64_t ot, int64_t ou,
                      int64_t begin, int64_t end)
{
    const bcast *bc = &j->bc;
    const int in = bc->nd - 1;
    const int64_t len = bc->dims[in], it = bc->sa[in], iu = bc->sb[in];
    int64_t idx[CS_MAX_DIMS] = {0};
    int64_t row = begin / len, pos = begin % len;
    for (int d = in - 1; d >= j->f; d--) {
        idx[d] = row % bc->dims[d];
        row /= bc->dims[d];
        ot += idx[d] * bc->sa[d];
        ou += idx[d] * bc->sb[d];
    }
    for (int64_t i = begin; i < end;) {
        int64_t cnt = len - pos < end - i ? len - pos : end - i;
        grad_row(j->kind, j->g + og + i, j->t + ot + pos * it, it, j->u + ou + pos * iu, iu,
                 gt + ot + pos * it, cnt);
        i += cnt;
        pos = 0;
        for (int d = in - 1; d >= j->f; d--) {
            ot += bc->sa[d];
            ou += bc->sb[d];
            if (++idx[d] < bc->dims[d]) break;
            ot -= bc->sa[d] * bc->dims[d];
            ou -= bc->sb[d] * bc->dims[d];
            idx[d] = 0;
        }
    }
}

/* Indices [b, e) of dim f, for every index of the (broadcast) dims before it. */
static void grad_range(void *ctx, int64_t b, int64_t e)
{
    const grad_job *j = ctx;
    const bcast *bc = &j->bc;
    const int f = j->f;
    int64_t idx[CS_MAX_DIMS] = {0}, ou = 0, og = 0;
    const int64_t block = bc->dims[f] * j->rest; /* outputs per index of the dims before f */
    for (;;) {
        grad_rows(j, j->gt, og, 0, ou, b * j->rest, e * j->rest);
        int d = f - 1;
        for (; d >= 0; d--) {
            ou += bc->sb[d];
            if (++idx[d] < bc->dims[d]) break;
            ou -= bc->sb[d] * bc->dims[d];
            idx[d] = 0;
        }
        if (d < 0) return;
        og += block;
    }
}

/* Scalar T: chunk c of the flat output sums into its own partial. */
static void grad_scalar_range(void *ctx, int64_t b, int64_t e)
{
    const grad_job *j = ctx;
    int64_t total = j->rest;
    for (int64_t c = b; c < e; c++) {
        float *acc = j->partial + c * 16;
        acc[0] = 0.f;
        grad_rows(j, acc, 0, 0, 0, total * c / j->chunks, total * (c + 1) / j->chunks);
    }
}

/* Chunks of a scalar operand's sum; backward_scratch gives each a 64-byte line. */
static int64_t grad_chunks(const cs_node *n)
{
    return n->threads > 1 ? n->threads : 1;
}

/* gt += Σ h over the outputs, t and u the operands as broadcast into y's shape. */
static void grad_run(const cs_node *n, grad_kind kind, const cs_tensor *t, const cs_tensor *u,
                     const cs_tensor *y, const cs_tensor *g, const cs_tensor *gt, const cs_exec *ex)
{
    if (y->numel == 0) return;
    grad_job j = {.kind = kind, .g = g->data, .t = t->data, .u = u->data, .gt = gt->data};
    bcast_plan(t, u, &j.bc);
    const bcast *bc = &j.bc;
    j.f = 0;
    while (j.f < bc->nd && bc->sa[j.f] == 0) j.f++;
    const bool par = y->numel >= BIN_PAR_MIN;
    if (j.f == bc->nd) {
        /* T is a scalar: every output adds to its one element. */
        j.f = 0;
        j.rest = y->numel;
        j.chunks = par ? grad_chunks(n) : 1;
        j.partial = ex->scratch;
        float one[16];
        if (j.chunks == 1) j.partial = one;
        if (j.chunks > 1)
            cs_parallel_for(ex, j.chunks, grad_scalar_range, &j);
        else
            grad_scalar_range(&j, 0, 1);
        float s = 0.f;
        for (int64_t c = 0; c < j.chunks; c++) s += j.partial[c * 16];
        j.gt[0] += s;
        return;
    }
    j.rest = 1;
    for (int d = j.f + 1; d < bc->nd; d++) j.rest *= bc->dims[d];
    if (par)
        cs_parallel_for(ex, bc->dims[j.f], grad_range, &j);
    else
        grad_range(&j, 0, bc->dims[j.f]);
}

static void arith_backward(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                           cs_tensor *const *gout, cs_tensor *const *gin, const cs_exec *ex)
{
    if (!gout[0] || out[0]->type != CS_F32) return;
    static const grad_kind ka[] = {
        [CS_OP_ADD] = G_ADD, [CS_OP_SUB] = G_ADD, [CS_OP_MUL] = G_MUL_A, [CS_OP_DIV] = G_DIV_A};
    static const grad_kind kb[] = {
        [CS_OP_ADD] = G_ADD, [CS_OP_SUB] = G_SUB, [CS_OP_MUL] = G_MUL_B, [CS_OP_DIV] = G_DIV_B};
    if (gin[0]) grad_run(n, ka[n->op], in[0], in[1], out[0], gout[0], gin[0], ex);
    if (gin[1]) grad_run(n, kb[n->op], in[1], in[0], out[0], gout[0], gin[1], ex);
}

static void prelu_backward(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                           cs_tensor *const *gout, cs_tensor *const *gin, const cs_exec *ex)
{
    if (!gout[0]) return;
    cs_tensor s = prelu_slope(n, in[0], in[1]);
    if (gin[0]) grad_run(n, G_PRELU_X, in[0], &s, out[0], gout[0], gin[0], ex);
    if (gin[1]) {
        /* The gradient has the slope's layout; view it with the same shape as s. */
        cs_tensor gs = s;
        gs.data = gin[1]->data;
        grad_run(n, G_PRELU_S, &s, in[0], out[0], gout[0], &gs, ex);
    }
}

static size_t bin_backward_scratch(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out)
{
    return (size_t)grad_chunks(n) * 64;
}

#define ARITH_DEF(var, name)                                                                       \
    const cs_op_def var = {.onnx_name = name,                                                      \
                           .min_in = 2,                                                            \
                           .max_in = 2,                                                            \
                           .min_out = 1,                                                           \
                           .max_out = 1,                                                           \
                           .init = arith_init,                                                     \
                           .shape = arith_shape,                                                   \
                           .forward = arith_forward,                                               \
                           .backward = arith_backward,                                             \
                           .backward_scratch = bin_backward_scratch}

ARITH_DEF(cs_def_add, "Add");
ARITH_DEF(cs_def_sub, "Sub");
ARITH_DEF(cs_def_mul, "Mul");
ARITH_DEF(cs_def_div, "Div");

const cs_op_def cs_def_prelu = {.onnx_name = "PRelu",
                                .min_in = 2,
                                .max_in = 2,
                                .min_out = 1,
                                .max_out = 1,
                                .init = prelu_init,
                                .shape = prelu_shape,
                                .forward = prelu_forward,
                                .backward = prelu_backward,
                                .backward_scratch = bin_backward_scratch};
