/* Gemm and MatMul on OpenBLAS sgemm (split over the pool by cs_sgemm_par, OpenBLAS itself
 * single-threaded), ending with the fused activation.
 *
 * Gemm: Y = alpha * A' B' + beta * C, with C broadcast to M x N first and sgemm accumulating
 * onto it. MatMul: numpy semantics (1-D operands promoted and their dim dropped, batch dims
 * broadcast); when B has no batch dims and A's batch is contiguous, all of A's rows go
 * through one sgemm.
 *
 * Their backward passes are sgemms too (see below), with the fused activation's derivative
 * applied to the output gradient first.
 */
#include "../graph.h"
#include "../threads.h"
#include "conv_kernels.h"
#include "gemm_kernels.h"

#include <cblas.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static int fits_int(int64_t v)
{
    return v >= 0 && v <= INT_MAX;
}

/* ---- Gemm --------------------------------------------------------------------------------- */

typedef struct {
    float alpha, beta;
    int trans_a, trans_b;
} gemm_params;

static cs_status gemm_init(cs_node *n, const cs_attrs *a, cs_error *err)
{
    gemm_params *p = calloc(1, sizeof *p);
    if (!p) return cs_node_fail(err, CS_ERR_NOMEM, n, "out of memory");
    p->alpha = cs_attr_float(a, "alpha", 1.f);
    p->beta = cs_attr_float(a, "beta", 1.f);
    p->trans_a = cs_attr_int(a, "transA", 0) != 0;
    p->trans_b = cs_attr_int(a, "transB", 0) != 0;
    n->params = p;
    return CS_OK;
}

static const cs_tensor *gemm_c(const cs_node *n, cs_tensor *const *in)
{
    return n->n_in > 2 ? in[2] : NULL;
}

static cs_status gemm_shape(cs_node *n, cs_tensor *const *in, cs_tensor *const *out, cs_error *err)
{
    const gemm_params *p = n->params;
    const cs_tensor *a = in[0], *b = in[1], *c = gemm_c(n, in);
    char as[96], bs[96], cstr[96];
    cs_shape_str(a, as, sizeof as);
    cs_shape_str(b, bs, sizeof bs);
    if (a->type != CS_F32 || b->type != CS_F32 || (c && c->type != CS_F32))
        return cs_node_fail(err, CS_ERR_UNSUPPORTED, n, "inputs must be float32");
    if (a->ndim != 2 || b->ndim != 2)
        return cs_node_fail(err, CS_ERR_INVALID, n, "A and B must be 2-D, got A %s and B %s", as,
                            bs);
    int64_t m = p->trans_a ? a->dims[1] : a->dims[0], k = p->trans_a ? a->dims[0] : a->dims[1];
    int64_t kb = p->trans_b ? b->dims[1] : b->dims[0], nn = p->trans_b ? b->dims[0] : b->dims[1];
    if (k != kb)
        return cs_node_fail(err, CS_ERR_INVALID, n,
                            "inner dims differ: A %s%s gives K = %lld, B %s%s gives K = %lld", as,
                            p->trans_a ? " (transA)" : "", (long long)k, bs,
                            p->trans_b ? " (transB)" : "", (long long)kb);
    if (!c && n->opset < 11)
        return cs_node_fail(err, CS_ERR_INVALID, n, "input C is required before opset 11");
    if (c) {
        cs_shape_str(c, cstr, sizeof cstr);
        int ok = c->ndim <= 2;
        if (ok && c->ndim >= 1 && c->dims[c->ndim - 1] != nn && c->dims[c->ndim - 1] != 1) ok = 0;
        if (ok && c->ndim == 2 && c->dims[0] != m && c->dims[0] != 1) ok = 0;
        if (!ok)
            return cs_node_fail(err, CS_ERR_INVALID, n,
                                "C %s does not broadcast to the %lldx%lld output", cstr,
                                (long long)m, (long long)nn);
    }
    if (!fits_int(m) || !fits_int(nn) || !fits_int(k) || !fits_int(a->dims[1]) ||
        !fits_int(b->dims[1]))
        return cs_node_fail(err, CS_ERR_UNSUPPORTED, n,
                            "A %s, B %s too large for 32-bit BLAS sizes", as, bs);
    int64_t dims[2] = {m, nn};
    cs_tensor_set_shape(out[0], CS_F32, 2, dims);
    return CS_OK;
}

static void gemm_forward(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                         const cs_exec *ex)
{
    const gemm_params *p = n->params;
    const cs_tensor *a = in[0], *b = in[1], *c = gemm_c(n, in);
    const int64_t m = out[0]->dims[0], nn = out[0]->dims[1];
    const int64_t k = p->trans_a ? a->dims[0] : a->dims[1];
    float *y = out[0]->data;
    if (m == 0 || nn == 0) return;
    float beta = 0.f;
    if (c && p->beta != 0.f) {
        /* Broadcast beta * C into Y, then let sgemm accumulate onto it. */
        const float *cd = c->data;
        int64_t cm = c->ndim == 2 ? c->dims[0] : 1, cn = c->ndim >= 1 ? c->dims[c->ndim - 1] : 1;
        for (int64_t i = 0; i < m; i++) {
            const float *cr = cd + (cm == 1 ? 0 : i) * cn;
            float *yr = y + i * nn;
            if (cn == 1)
                for (int64_t j = 0; j < nn; j++) yr[j] = p->beta * cr[0];
            else
                for (int64_t j = 0; j < nn; j++) yr[j] = p->beta * cr[j];
        }
        beta = 1.f;
    } else {
        memset(y, 0, sizeof(float) * (size_t)(m * nn));
    }
    if (k > 0 && p->alpha != 0.f)
        cs_sgemm_par(ex, p->trans_a ? CblasTrans : CblasNoTrans,
                     p->trans_b ? CblasTrans : CblasNoTrans, m, nn, k, p->alpha, a->data,
                     a->dims[1], b->data, b->dims[1], beta, y, nn);
    if (n->act.kind != CS_ACT_NONE) cs_bias_act_row(y, m * nn, 0.f, &n->act);
}

/* ---- MatMul ------------------------------------------------------------------------------- */

typedef struct {
    int nb;                                   /* broadcast batch dims */
    int64_t batch[CS_MAX_DIMS];               /* output batch dims */
    int64_t sa[CS_MAX_DIMS], sb[CS_MAX_DIMS]; /* per batch dim: matrix stride, 0 = broadcast */
    int64_t m, k, n, nbatch;
    int fold; /* B has one matrix and A's batches are contiguous: one sgemm of nbatch*m rows */
} matmul_geom;

static cs_status matmul_geometry(const cs_node *n, const cs_tensor *a, const cs_tensor *b,
                                 matmul_geom *g, int *ndim, int64_t *dims, cs_error *err)
{
    char as[96], bs[96];
    cs_shape_str(a, as, sizeof as);
    cs_shape_str(b, bs, sizeof bs);
    if (a->type != CS_F32 || b->type != CS_F32)
        return cs_node_fail(err, CS_ERR_UNSUPPORTED, n, "inputs must be float32");
    if (a->ndim < 1 || b->ndim < 1)
        return cs_node_fail(err, CS_ERR_INVALID, n, "A %s and B %s must be at least 1-D", as, bs);
    memset(g, 0, sizeof *g);
    g->m = a->ndim == 1 ? 1 : a->dims[a->ndim - 2];
    g->k = a->dims[a->ndim - 1];
    int64_t kb = b->ndim == 1 ? b->dims[0] : b->dims[b->ndim - 2];
    g->n = b->ndim == 1 ? 1 : b->dims[b->ndim - 1];
    if (g->k != kb)
        return cs_node_fail(err, CS_ERR_INVALID, n,
                            "inner dims differ: A %s has K = %lld, B %s has K = %lld", as,
                            (long long)g->k, bs, (long long)kb);
    int na = a->ndim > 2 ? a->ndim - 2 : 0, nbd = b->ndim > 2 ? b->ndim - 2 : 0;
    g->nb = na > nbd ? na : nbd;
    int64_t stra = g->m * g->k, strb = g->k * g->n;
    g->nbatch = 1;
    for (int i = g->nb - 1; i >= 0; i--) {
        int ia = na - g->nb + i, ib = nbd - g->nb + i;
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return cs_node_fail(err, CS_ERR_INVALID, n,
                                "batch dims of A %s and B %s do not broadcast", as, bs);
        g->batch[i] = da == 1 ? db : da;
        g->sa[i] = da == 1 ? 0 : stra;
        g->sb[i] = db == 1 ? 0 : strb;
        stra *= da;
        strb *= db;
        g->nbatch *= g->batch[i];
    }
    int a_full = 1, b_single = 1;
    for (int i = 0; i < g->nb; i++) {
        if (g->batch[i] != 1 && g->sa[i] == 0) a_full = 0;
        if (g->sb[i] != 0) b_single = 0;
    }
    g->fold = a_full && b_single;
    int nd = 0;
    for (int i = 0; i < g->nb; i++) dims[nd++] = g->batch[i];
    if (a->ndim > 1) dims[nd++] = g->m;
    if (b->ndim > 1) dims[nd++] = g->n;
    *ndim = nd;
    if (!fits_int(g->m * (g->fold ? g->nbatch : 1)) || !fits_int(g->n) || !fits_int(g->k))
        return cs_node_fail(err, CS_ERR_UNSUPPORTED, n,
                            "A %s, B %s too large for 32-bit BLAS sizes", as, bs);
    return CS_OK;
}

static cs_status matmul_init(cs_node *n, const cs_attrs *a, cs_error *err)
{
    (void)n, (void)a, (void)err;
    return CS_OK; /* no attributes */
}

static cs_status matmul_shape(cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                              cs_error *err)
{
    matmul_geom g = {0};
    int nd = 0;
    int64_t dims[CS_MAX_DIMS + 2];
    cs_status st = matmul_geometry(n, in[0], in[1], &g, &nd, dims, err);
    if (st != CS_OK) return st;
    if (nd > CS_MAX_DIMS)
        return cs_node_fail(err, CS_ERR_UNSUPPORTED, n, "output would have %d dims (max %d)", nd,
                            CS_MAX_DIMS);
    cs_tensor_set_shape(out[0], CS_F32, nd, dims);
    return CS_OK;
}

static void matmul_forward(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                           const cs_exec *ex)
{
    matmul_geom g = {0};
    int nd = 0;
    int64_t dims[CS_MAX_DIMS + 2];
    matmul_geometry(n, in[0], in[1], &g, &nd, dims, NULL);
    const float *a = in[0]->data, *b = in[1]->data;
    float *y = out[0]->data;
    const int64_t mn = g.m * g.n;
    if (out[0]->numel == 0) return;
    if (g.k == 0) {
        memset(y, 0, sizeof(float) * (size_t)out[0]->numel);
    } else if (g.fold) {
        cs_sgemm_par(ex, CblasNoTrans, CblasNoTrans, (g.nbatch * g.m), g.n, g.k, 1.f, a, g.k, b,
                     g.n, 0.f, y, g.n);
    } else {
        int64_t idx[CS_MAX_DIMS] = {0}, oa = 0, ob = 0;
        for (int64_t t = 0; t < g.nbatch; t++) {
            cs_sgemm_par(ex, CblasNoTrans, CblasNoTrans, g.m, g.n, g.k, 1.f, a + oa, g.k, b + ob,
                         g.n, 0.f, y + t * mn, g.n);
            /* Odometer over the batch dims, keeping the A and B offsets in step. */
            for (int i = g.nb - 1; i >= 0; i--) {
                oa += g.sa[i];
                ob += g.sb[i];
                if (++idx[i] < g.batch[i]) break;
                oa -= g.sa[i] * g.batch[i];
                ob -= g.sb[i] * g.batch[i];
                idx[i] = 0;
            }
        }
    }
    if (n->act.kind != CS_ACT_NONE) cs_bias_act_row(y, out[0]->numel, 0.f, &n->act);
}

/* ---- backward ----------------------------------------------------------------------------- */

/* With G the gradient w.r.t. the pre-activation output and A' = op(A), B' = op(B):
 *   dA' = alpha G B'^T,  dB' = alpha A'^T G,  dC = beta G summed over C's broadcast dims;
 * a transposed operand gets the transpose, computed directly by sgemm. */
static size_t gemm_backward_scratch(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out)
{
    (void)in;
    return cs_act_grad_bytes(&n->act, out[0]);
}

static void gemm_backward(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                          cs_tensor *const *gout, cs_tensor *const *gin, const cs_exec *ex)
{
    if (!gout[0]) return;
    const gemm_params *p = n->params;
    const cs_tensor *a = in[0], *b = in[1], *c = gemm_c(n, in);
    const int64_t m = out[0]->dims[0], nn = out[0]->dims[1];
    const int64_t k = p->trans_a ? a->dims[0] : a->dims[1];
    float *da = gin[0] ? gin[0]->data : NULL, *dbm = gin[1] ? gin[1]->data : NULL;
    float *dc = c && gin[2] ? gin[2]->data : NULL;
    if (m == 0 || nn == 0 || (!da && !dbm && !dc)) return;
    const float *g = cs_act_grad(ex, &n->act, out[0], gout[0], ex->scratch);
    const int lda = (int)a->dims[1], ldb = (int)b->dims[1];
    const CBLAS_TRANSPOSE T = CblasTrans, N = CblasNoTrans;
    if (k > 0 && p->alpha != 0.f) {
        if (da && !p->trans_a) /* m x k */
            cs_sgemm_par(ex, N, p->trans_b ? N : T, m, k, nn, p->alpha, g, nn, b->data, ldb, 1.f,
                         da, lda);
        else if (da) /* k x m: B' G^T */
            cs_sgemm_par(ex, p->trans_b ? T : N, T, k, m, nn, p->alpha, b->data, ldb, g, nn, 1.f,
                         da, lda);
        if (dbm && !p->trans_b) /* k x nn */
            cs_sgemm_par(ex, p->trans_a ? N : T, N, k, nn, m, p->alpha, a->data, lda, g, nn, 1.f,
                         dbm, ldb);
        else if (dbm) /* nn x k: G^T A' */
            cs_sgemm_par(ex, T, p->trans_a ? T : N, nn, k, m, p->alpha, g, nn, a->data, lda, 1.f,
                         dbm, ldb);
    }
    if (dc && p->beta != 0.f) {
        int64_t cm = c->ndim == 2 ? c->dims[0] : 1, cn = c->ndim >= 1 ? c->dims[c->ndim - 1] : 1;
        for (int64_t i = 0; i < m; i++) {
            const float *gr = g + i * nn;
            float *dr = dc + (cm == 1 ? 0 : i) * cn;
            if (cn == 1)
                dr[0] += p->beta * cs_sum(gr, nn);
            else
                for (int64_t j = 0; j < nn; j++) dr[j] += p->beta * gr[j];
        }
    }
}

/* dA_t += G_t B_t^T and dB_t += A_t^T G_t over the broadcast batch; a broadcast operand's
 * matrix collects the sum of its batches, as sgemm accumulates (beta = 1). */
static size_t matmul_backward_scratch(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out)
{
    (void)in;
    return cs_act_grad_bytes(&n->act, out[0]);
}

static void matmul_backward(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                            cs_tensor *const *gout, cs_tensor *const *gin, const cs_exec *ex)
{
    if (!gout[0]) return;
    matmul_geom g = {0};
    int nd = 0;
    int64_t dims[CS_MAX_DIMS + 2];
    matmul_geometry(n, in[0], in[1], &g, &nd, dims, NULL);
    const float *a = in[0]->data, *b = in[1]->data;
    float *da = gin[0] ? gin[0]->data : NULL, *db = gin[1] ? gin[1]->data : NULL;
    if (out[0]->numel == 0 || g.k == 0 || (!da && !db)) return;
    const float *gy = cs_act_grad(ex, &n->act, out[0], gout[0], ex->scratch);
    const CBLAS_TRANSPOSE T = CblasTrans, N = CblasNoTrans;
    const int m = (int)g.m, k = (int)g.k, nn = (int)g.n;
    if (g.fold) {
        const int rows = (int)(g.nbatch * g.m);
        if (da) cs_sgemm_par(ex, N, T, rows, k, nn, 1.f, gy, nn, b, nn, 1.f, da, k);
        if (db) cs_sgemm_par(ex, T, N, k, nn, rows, 1.f, a, k, gy, nn, 1.f, db, nn);
        return;
    }
    const int64_t mn = g.m * g.n;
    int64_t idx[CS_MAX_DIMS] = {0}, oa = 0, ob = 0;
    for (int64_t t = 0; t < g.nbatch; t++) {
        if (da) cs_sgemm_par(ex, N, T, m, k, nn, 1.f, gy + t * mn, nn, b + ob, nn, 1.f, da + oa, k);
        if (db) cs_sgemm_par(ex, T, N, k, nn, m, 1.f, a + oa, k, gy + t * mn, nn, 1.f, db + ob, nn);
        for (int i = g.nb - 1; i >= 0; i--) {
            oa += g.sa[i];
            ob += g.sb[i];
            if (++idx[i] < g.batch[i]) break;
            oa -= g.sa[i] * g.batch[i];
            ob -= g.sb[i] * g.batch[i];
            idx[i] = 0;
        }
    }
}

const cs_op_def cs_def_gemm = {
    .onnx_name = "Gemm",
    .min_in = 2,
    .max_in = 3,
    .min_out = 1,
    .max_out = 1,
    .init = gemm_init,
    .shape = gemm_shape,
    .forward = gemm_forward,
    .backward = gemm_backward,
    .backward_scratch = gemm_backward_scratch,
};

const cs_op_def cs_def_matmul = {
    .onnx_name = "MatMul",
    .min_in = 2,
    .max_in = 2,
    .min_out = 1,
    .max_out = 1,
    .init = matmul_init,
    .shape = matmul_shape,
    .forward = matmul_forward,
    .backward = matmul_backward,
    .backward_scratch = matmul_backward_scratch,
};
