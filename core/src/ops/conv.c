/* Conv and ConvTranspose.
 *
 * 1-D and 2-D Convs (1-D runs as 2-D of height 1) go through camstream's own GEMM
 * (gemm_kernels.h) per image and group: weights (M x K; prepacked into the micro-kernel's
 * panels once per plan by prepare() when they are constant, else read in place) times the column
 * matrix (K x N), which is never written out whole: the GEMM packs blocks of it straight
 * from the input (implicit im2col; a 1x1 stride-1 unpadded conv reads the input itself), and
 * its micro-kernel adds the bias and applies the fused activation as it stores the NCHW
 * output. The product is split over the pool by output positions or output channels.
 * Depthwise convs (one input channel per group, any multiplier) use a direct kernel over a
 * zero-padded copy of each input plane whose rows are split into stride phases, so every tap
 * is a unit-stride FMA stream (AVX-512 when the CPU has it). 3-D (and 4-D) convs run im2col
 * + sgemm (cs_sgemm_par) with the column matrix built in blocks of output rows.
 *
 * ConvTranspose computes the columns W^T X with one sgemm per image and group, then
 * scatters them with col2im, the exact adjoint of im2col (conv's backward needs both).
 *
 * Backward (gradients w.r.t. X, W and B) uses the same pieces in adjoint roles: see the
 * backward section at the end.
 */
#include "../graph.h"
#include "../threads.h"
#include "conv_kernels.h"
#include "gemm_kernels.h"

#include <cblas.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define CONV_MAX_SP (CS_MAX_DIMS - 2)
/* Bytes of one im2col block: small enough to stay in L2 between im2col and sgemm. */
#ifndef CONV_COL_BLOCK_BYTES
#define CONV_COL_BLOCK_BYTES (1u << 20)
#endif

typedef enum { PAD_NOTSET, PAD_SAME_UPPER, PAD_SAME_LOWER, PAD_VALID } conv_autopad;

typedef struct {
    int64_t group;
    conv_autopad autopad;
    int n_kernel, n_strides, n_dil, n_pads, n_outpad, n_outshape;
    int64_t kernel[CONV_MAX_SP], strides[CONV_MAX_SP], dil[CONV_MAX_SP], pads[2 * CONV_MAX_SP];
    int64_t outpad[CONV_MAX_SP], outshape[CONV_MAX_SP + 2];
} conv_params;

/* What im2col and col2im share: per channel an image of `img` spatial dims and a grid of
 * `col` patch positions. Position o along dim i reads image index o*s + kk*d - p for kernel
 * index kk. p is the begin pad; it may be negative (ConvTranspose with output_shape). */
typedef struct {
    int nsp;
    int64_t img[CONV_MAX_SP], col[CONV_MAX_SP];
    int64_t k[CONV_MAX_SP], s[CONV_MAX_SP], d[CONV_MAX_SP], p[CONV_MAX_SP];
    int64_t img_size, col_size, k_size;
} cs_patch;

typedef struct {
    cs_patch pg; /* Conv: img = X spatial, col = Y spatial; ConvTranspose: img = Y, col = X */
    int64_t batch, cin, cout, group, cin_g, cout_g;
    int64_t kdim;  /* rows of the column matrix: cin_g (Conv) or cout_g (transpose) x k_size */
    int depthwise; /* Conv only: direct depthwise kernel */
    int pointwise; /* Conv only: 1x1, stride 1, no padding: no im2col */
    int64_t blk;   /* Conv im2col: leading output positions (rows) per block */
    int64_t dw_rows, dw_lp, dw_rs; /* depthwise padded plane: rows, phase length, row stride */
    int64_t dw_plane;              /* floats per thread, 64-byte multiple */
} conv_geom;

/* ---- attributes --------------------------------------------------------------------------- */

static cs_status conv_ints(cs_node *n, const cs_attrs *a, const char *name, int64_t *out, int max,
                           int64_t min_value, int *count, cs_error *err)
{
    int c = cs_attr_ints(a, name, out, max);
    if (c < 0)
        return cs_node_fail(err, CS_ERR_UNSUPPORTED, n,
                            "%s has more values than %d spatial dims support", name, CONV_MAX_SP);
    for (int i = 0; i < c; i++)
        if (out[i] < min_value)
            return cs_node_fail(err, CS_ERR_INVALID, n, "%s[%d] = %lld, must be >= %lld", name, i,
                                (long long)out[i], (long long)min_value);
    *count = c;
    return CS_OK;
}

static cs_status conv_init(cs_node *n, const cs_attrs *a, cs_error *err)
{
    conv_params *p = calloc(1, sizeof *p);
    if (!p) return cs_node_fail(err, CS_ERR_NOMEM, n, "out of memory");
    cs_status st = CS_OK;
    p->group = cs_attr_int(a, "group", 1);
    const char *ap = cs_attr_string(a, "auto_pad", "NOTSET");
    if (strcmp(ap, "NOTSET") == 0 || ap[0] == 0)
        p->autopad = PAD_NOTSET;
    else if (strcmp(ap, "SAME_UPPER") == 0)
        p->autopad = PAD_SAME_UPPER;
    else if (strcmp(ap, "SAME_LOWER") == 0)
        p->autopad = PAD_SAME_LOWER;
    else if (strcmp(ap, "VALID") == 0)
        p->autopad = PAD_VALID;
    else
        st = cs_node_fail(err, CS_ERR_INVALID, n,
                          "auto_pad '%s' is not NOTSET, SAME_UPPER, SAME_LOWER or VALID", ap);
    if (st == CS_OK && p->group < 1)
        st =
            cs_node_fail(err, CS_ERR_INVALID, n, "group = %lld, must be >= 1", (long long)p->group);
    if (st == CS_OK)
        st = conv_ints(n, a, "kernel_shape", p->kernel, CONV_MAX_SP, 1, &p->n_kernel, err);
    if (st == CS_OK)
        st = conv_ints(n, a, "strides", p->strides, CONV_MAX_SP, 1, &p->n_strides, err);
    if (st == CS_OK) st = conv_ints(n, a, "dilations", p->dil, CONV_MAX_SP, 1, &p->n_dil, err);
    if (st == CS_OK) st = conv_ints(n, a, "pads", p->pads, 2 * CONV_MAX_SP, 0, &p->n_pads, err);
    if (st == CS_OK && n->op == CS_OP_CONV_TRANSPOSE) {
        st = conv_ints(n, a, "output_padding", p->outpad, CONV_MAX_SP, 0, &p->n_outpad, err);
        if (st == CS_OK)
            st = conv_ints(n, a, "output_shape", p->outshape, CONV_MAX_SP + 2, 1, &p->n_outshape,
                           err);
    }
    if (st != CS_OK) {
        free(p);
        return st;
    }
    n->params = p;
    return CS_OK;
}

/* ---- geometry ----------------------------------------------------------------------------- */

static const cs_tensor *opt_in(const cs_node *n, cs_tensor *const *in, int i)
{
    return i < n->n_in ? in[i] : NULL;
}

static int64_t ceil_div(int64_t a, int64_t b)
{
    return (a + b - 1) / b;
}

/* Floor division (ONNX reference semantics for negative total padding). */
static int64_t floor_div2(int64_t a)
{
    return a >= 0 ? a / 2 : -((-a + 1) / 2);
}

static void dims_str(const int64_t *d, int n, char *buf, size_t len)
{
    cs_tensor t = {.ndim = n};
    for (int i = 0; i < n; i++) t.dims[i] = d[i];
    cs_shape_str(&t, buf, len);
}

/* Checks shared by Conv and ConvTranspose: ranks, attribute counts, kernel_shape, types. */
static cs_status conv_check_common(const cs_node *n, const conv_params *pr, const cs_tensor *x,
                                   const cs_tensor *w, cs_error *err)
{
    char xs[96] = "", ws[96] = "";
    if (err) { /* the strings are only for messages; forward and backward pass err = NULL */
        cs_shape_str(x, xs, sizeof xs);
        cs_shape_str(w, ws, sizeof ws);
    }
    if (x->type != CS_F32 || w->type != CS_F32)
        return cs_node_fail(err, CS_ERR_UNSUPPORTED, n, "input and weight must be float32");
    if (x->ndim < 3)
        return cs_node_fail(err, CS_ERR_INVALID, n,
                            "input must be N x C x spatial (at least 3-D), got %s", xs);
    int nsp = x->ndim - 2;
    if (w->ndim != x->ndim)
        return cs_node_fail(err, CS_ERR_INVALID, n,
                            "weight must be %d-D for a %d-D convolution (input %s), got %s",
                            x->ndim, nsp, xs, ws);
    if (pr->n_kernel && pr->n_kernel != nsp)
        return cs_node_fail(err, CS_ERR_INVALID, n,
                            "kernel_shape has %d values, a %d-D convolution needs %d", pr->n_kernel,
                            nsp, nsp);
    for (int i = 0; i < pr->n_kernel; i++)
        if (pr->kernel[i] != w->dims[2 + i]) {
            char ks[96];
            dims_str(pr->kernel, pr->n_kernel, ks, sizeof ks);
            return cs_node_fail(err, CS_ERR_INVALID, n, "kernel_shape %s does not match weight %s",
                                ks, ws);
        }
    if (pr->n_strides && pr->n_strides != nsp)
        return cs_node_fail(err, CS_ERR_INVALID, n,
                            "strides has %d values, a %d-D convolution needs %d", pr->n_strides,
                            nsp, nsp);
    if (pr->n_dil && pr->n_dil != nsp)
        return cs_node_fail(err, CS_ERR_INVALID, n,
                            "dilations has %d values, a %d-D convolution needs %d", pr->n_dil, nsp,
                            nsp);
    if (pr->n_pads && pr->n_pads != 2 * nsp)
        return cs_node_fail(err, CS_ERR_INVALID, n,
                            "pads has %d values, a %d-D convolution needs %d", pr->n_pads, nsp,
                            2 * nsp);
    for (int i = 0; i < x->ndim; i++)
        if (x->dims[i] < 0 || w->dims[i] < 0)
            return cs_node_fail(err, CS_ERR_INVALID, n, "unknown dims in input %s or weight %s", xs,
                                ws);
    for (int i = 2; i < w->ndim; i++)
        if (w->dims[i] < 1)
            return cs_node_fail(err, CS_ERR_INVALID, n, "weight %s has an empty kernel", ws);
    return CS_OK;
}

static cs_status conv_check_bias(const cs_node *n, const cs_tensor *b, int64_t cout, cs_error *err)
{
    if (!b) return CS_OK;
    char bs[96];
    cs_shape_str(b, bs, sizeof bs);
    if (b->type != CS_F32) return cs_node_fail(err, CS_ERR_UNSUPPORTED, n, "bias must be float32");
    if (b->ndim != 1 || b->dims[0] != cout)
        return cs_node_fail(err, CS_ERR_INVALID, n,
                            "bias must be 1-D of %lld (output channels), got %s", (long long)cout,
                            bs);
    return CS_OK;
}

static int fits_int(int64_t v)
{
    return v >= 0 && v <= INT_MAX;
}

/* 1-D geometry becomes 2-D with a leading spatial dim of 1, so it takes the 2-D paths. */
static void patch_finish(cs_patch *pg)
{
    if (pg->nsp == 1) {
        pg->img[1] = pg->img[0], pg->col[1] = pg->col[0], pg->k[1] = pg->k[0];
        pg->s[1] = pg->s[0], pg->d[1] = pg->d[0], pg->p[1] = pg->p[0];
        pg->img[0] = pg->col[0] = pg->k[0] = pg->s[0] = pg->d[0] = 1;
        pg->p[0] = 0;
        pg->nsp = 2;
    }
    pg->img_size = pg->col_size = pg->k_size = 1;
    for (int i = 0; i < pg->nsp; i++) {
        pg->img_size *= pg->img[i];
        pg->col_size *= pg->col[i];
        pg->k_size *= pg->k[i];
    }
}

/* Leading patch positions (rows of the last spatial dim) per block of a kdim-row column
 * matrix, so one block stays near CONV_COL_BLOCK_BYTES; blocks are of even size. */
static int64_t col_block(const cs_patch *pg, int64_t kdim)
{
    int64_t cl = pg->col[pg->nsp - 1], lead = cl > 0 ? pg->col_size / cl : 0;
    int64_t row_bytes = kdim * cl * (int64_t)sizeof(float);
    int64_t rows = row_bytes > 0 ? (int64_t)CONV_COL_BLOCK_BYTES / row_bytes : lead;
    if (rows < 1) rows = 1;
    if (rows > lead) rows = lead;
    int64_t nblk = lead > 0 ? ceil_div(lead, rows) : 1;
    return lead > 0 ? ceil_div(lead, nblk) : 1;
}

/* Resolves a Conv's geometry; `err` NULL in forward (shape() already accepted it). */
static cs_status conv_geometry(const cs_node *n, const cs_tensor *x, const cs_tensor *w,
                               const cs_tensor *b, conv_geom *g, cs_error *err)
{
    const conv_params *pr = n->params;
    cs_status st = conv_check_common(n, pr, x, w, err);
    if (st != CS_OK) return st;
    char xs[96] = "", ws[96] = "";
    if (err) { /* the strings are only for messages; forward and backward pass err = NULL */
        cs_shape_str(x, xs, sizeof xs);
        cs_shape_str(w, ws, sizeof ws);
    }
    memset(g, 0, sizeof *g);
    int nsp = x->ndim - 2;
    g->batch = x->dims[0];
    g->cin = x->dims[1];
    g->cout = w->dims[0];
    g->group = pr->group;
    g->cin_g = w->dims[1];
    if (g->cin_g * g->group != g->cin)
        return cs_node_fail(err, CS_ERR_INVALID, n,
                            "input has %lld channels, weight expects %lld x group %lld "
                            "(input %s, weight %s)",
                            (long long)g->cin, (long long)g->cin_g, (long long)g->group, xs, ws);
    if (g->cout % g->group != 0)
        return cs_node_fail(err, CS_ERR_INVALID, n,
                            "weight has %lld output channels, not a multiple of group %lld",
                            (long long)g->cout, (long long)g->group);
    g->cout_g = g->cout / g->group;
    st = conv_check_bias(n, b, g->cout, err);
    if (st != CS_OK) return st;

    cs_patch *pg = &g->pg;
    pg->nsp = nsp;
    int pointwise = 1;
    for (int i = 0; i < nsp; i++) {
        int64_t in = x->dims[2 + i], k = w->dims[2 + i];
        int64_t s = pr->n_strides ? pr->strides[i] : 1, d = pr->n_dil ? pr->dil[i] : 1;
        int64_t dk = (k - 1) * d + 1, pb = 0, pe = 0;
        if (pr->autopad == PAD_NOTSET && pr->n_pads) {
            pb = pr->pads[i];
            pe = pr->pads[i + nsp];
        } else if (pr->autopad == PAD_SAME_UPPER || pr->autopad == PAD_SAME_LOWER) {
            int64_t o = ceil_div(in, s), total = (o - 1) * s + dk - in;
            if (total < 0) total = 0;
            pb = pr->autopad == PAD_SAME_UPPER ? total / 2 : total - total / 2;
            pe = total - pb;
        }
        int64_t span = in + pb + pe - dk;
        if (span < 0)
            return cs_node_fail(err, CS_ERR_INVALID, n,
                                "spatial dim %d of input %s (%lld, padded %lld) is smaller "
                                "than the dilated kernel (%lld)",
                                i, xs, (long long)in, (long long)(in + pb + pe), (long long)dk);
        pg->img[i] = in;
        pg->col[i] = span / s + 1;
        pg->k[i] = k;
        pg->s[i] = s;
        pg->d[i] = d;
        pg->p[i] = pb;
        if (k != 1 || s != 1 || pb != 0 || pe != 0) pointwise = 0;
    }
    patch_finish(pg);
    g->kdim = g->cin_g * pg->k_size;
    if (!fits_int(g->kdim) || !fits_int(pg->col_size) || !fits_int(g->cout_g) ||
        !fits_int(g->cin_g * pg->img_size))
        return cs_node_fail(err, CS_ERR_UNSUPPORTED, n,
                            "input %s with weight %s is too large for 32-bit BLAS sizes", xs, ws);
    g->pointwise = pointwise;
    g->depthwise = g->cin_g == 1 && g->group == g->cin && g->group > 1 && pg->nsp == 2;
    if (g->depthwise) {
        int64_t rows = pg->p[0] + pg->img[0];
        int64_t need = (pg->col[0] - 1) * pg->s[0] + (pg->k[0] - 1) * pg->d[0] + 1;
        if (need > rows) rows = need;
        int64_t wp = pg->p[1] + pg->img[1];
        need = (pg->col[1] - 1) * pg->s[1] + (pg->k[1] - 1) * pg->d[1] + 1;
        if (need > wp) wp = need;
        g->dw_rows = rows;
        g->dw_lp = ceil_div(wp, pg->s[1]);
        g->dw_rs = g->dw_lp * pg->s[1];
        /* + 8: slack for the full-width loads of the kernels' last partial vector. */
        g->dw_plane = (rows * g->dw_rs + 8 + 15) / 16 * 16;
    } else if (!pointwise) {
        g->blk = col_block(pg, g->kdim);
    }
    return CS_OK;
}

/* ---- im2col / col2im ---------------------------------------------------------------------- */

/* Positions o in [0, n) with 0 <= o*s + off < len, as [*lo, *hi). Divides only positive
 * numerators, so negative offsets round correctly. */
static void valid_range(int64_t off, int64_t s, int64_t len, int64_t n, int64_t *lo, int64_t *hi)
{
    int64_t a = off >= 0 ? 0 : ceil_div(-off, s);
    int64_t b = len - off <= 0 ? 0 : ceil_div(len - off, s);
    if (b > n) b = n;
    if (a > b) a = b;
    *lo = a;
    *hi = b;
}

/* Per-row setup shared by im2col and col2im: image offsets of kernel row r (channel
 * r / k_size) along every dim, and the patch-position odometer started at q0. */
static void patch_row(const cs_patch *pg, int64_t r, int64_t q0, int64_t *chan, int64_t *off,
                      int64_t *o)
{
    int L = pg->nsp - 1;
    int64_t kr = r % pg->k_size;
    *chan = r / pg->k_size;
    for (int i = L; i >= 0; i--) {
        off[i] = (kr % pg->k[i]) * pg->d[i] - pg->p[i];
        kr /= pg->k[i];
    }
    for (int i = L - 1; i >= 0; i--) {
        o[i] = q0 % pg->col[i];
        q0 /= pg->col[i];
    }
}

/* Image row (offset in floats within a channel) read by leading position o, or -1 when it
 * lies in the padding. Advances the odometer. */
static int64_t patch_next(const cs_patch *pg, const int64_t *off, int64_t *o)
{
    int L = pg->nsp - 1;
    int64_t row = 0;
    int ok = 1;
    for (int i = 0; i < L; i++) {
        int64_t ii = o[i] * pg->s[i] + off[i];
        if (ii < 0 || ii >= pg->img[i]) ok = 0;
        row = row * pg->img[i] + ii;
    }
    for (int i = L - 1; i >= 0; i--) {
        if (++o[i] < pg->col[i]) break;
        o[i] = 0;
    }
    return ok ? row * pg->img[L] : -1;
}

/* d[j] = s[2 * j] for j < n; never reads past s[2 * (n - 1)]. */
static void gather_even(float *d, const float *s, int64_t n)
{
    int64_t j = 0;
#ifdef CS_HAVE_AVX2
    for (; j + 8 < n; j += 8) {
        __m256 a = _mm256_loadu_ps(s + 2 * j), b = _mm256_loadu_ps(s + 2 * j + 8);
        __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
        e = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
        _mm256_storeu_ps(d + j, e);
    }
#endif
    for (; j < n; j++) d[j] = s[2 * j];
}

/* Rows [r0, r1) of the column matrix for the patch positions whose leading index (every
 * dim but the last, row-major) is in [q0, q1): col[r * ldc + (q - q0) * col_last + o].
 * img holds the channels the rows refer to, img_size floats apart. */
static void im2col(const cs_patch *pg, const float *img, int64_t r0, int64_t r1, int64_t q0,
                   int64_t q1, float *col, int64_t ldc)
{
    const int L = pg->nsp - 1;
    const int64_t cl = pg->col[L], sl = pg->s[L];
    for (int64_t r = r0; r < r1; r++) {
        int64_t c, off[CONV_MAX_SP], o[CONV_MAX_SP], lo, hi;
        patch_row(pg, r, q0, &c, off, o);
        valid_range(off[L], sl, pg->img[L], cl, &lo, &hi);
        const float *src = img + c * pg->img_size;
        float *dst = col + r * ldc;
        for (int64_t q = q0; q < q1; q++, dst += cl) {
            int64_t row = patch_next(pg, off, o);
            if (row < 0 || lo >= hi) {
                memset(dst, 0, sizeof(float) * (size_t)cl);
                continue;
            }
            const float *s = src + row + lo * sl + off[L];
            if (lo > 0) memset(dst, 0, sizeof(float) * (size_t)lo);
            if (sl == 1) {
                memcpy(dst + lo, s, sizeof(float) * (size_t)(hi - lo));
            } else if (sl == 2) {
                gather_even(dst + lo, s, hi - lo);
            } else {
                float *dd = dst + lo;
                int64_t cnt = hi - lo;
                for (int64_t j = 0; j < cnt; j++) dd[j] = s[j * sl];
            }
            if (hi < cl) memset(dst + hi, 0, sizeof(float) * (size_t)(cl - hi));
        }
    }
}

/* The adjoint of im2col: img[...] += col for the same rows and positions. Rows of one
 * channel touch overlapping pixels, so callers split work by channel, not by row. */
static void col2im(const cs_patch *pg, const float *col, int64_t ldc, int64_t r0, int64_t r1,
                   int64_t q0, int64_t q1, float *img)
{
    const int L = pg->nsp - 1;
    const int64_t cl = pg->col[L], sl = pg->s[L];
    for (int64_t r = r0; r < r1; r++) {
        int64_t c, off[CONV_MAX_SP], o[CONV_MAX_SP], lo, hi;
        patch_row(pg, r, q0, &c, off, o);
        valid_range(off[L], sl, pg->img[L], cl, &lo, &hi);
        float *dst_c = img + c * pg->img_size;
        const float *src = col + r * ldc;
        for (int64_t q = q0; q < q1; q++, src += cl) {
            int64_t row = patch_next(pg, off, o);
            if (row < 0 || lo >= hi) continue;
            float *d = dst_c + row + lo * sl + off[L];
            const float *s = src + lo;
            int64_t cnt = hi - lo;
            if (sl == 1)
                for (int64_t j = 0; j < cnt; j++) d[j] += s[j];
            else
                for (int64_t j = 0; j < cnt; j++) d[j * sl] += s[j];
        }
    }
}

/* ---- parallel helpers --------------------------------------------------------------------- */

typedef struct {
    const cs_patch *pg;
    const float *img;
    int64_t q0, q1, ldc;
    float *col;
} im2col_job;

static void im2col_part(void *ctx, int64_t r0, int64_t r1)
{
    const im2col_job *j = ctx;
    im2col(j->pg, j->img, r0, r1, j->q0, j->q1, j->col, j->ldc);
}

typedef struct {
    float *y;
    int64_t ld, n;
    const float *bias; /* NULL: no bias */
    const cs_act *act;
} bias_act_job;

static void bias_act_part(void *ctx, int64_t m0, int64_t m1)
{
    const bias_act_job *j = ctx;
    for (int64_t m = m0; m < m1; m++)
        cs_bias_act_row(j->y + m * j->ld, j->n, j->bias ? j->bias[m] : 0.f, j->act);
}

/* Rows [0, rows) of y (row stride ld, n columns): y = act(y + bias[row]). */
static void bias_act_rows(const cs_exec *ex, float *y, int64_t rows, int64_t ld, int64_t n,
                          const float *bias, const cs_act *act)
{
    if (!bias && act->kind == CS_ACT_NONE) return;
    bias_act_job j = {y, ld, n, bias, act};
    if (rows * n < 16384)
        bias_act_part(&j, 0, rows);
    else
        cs_parallel_for(ex, rows, bias_act_part, &j);
}

/* ---- depthwise kernel --------------------------------------------------------------------- */

typedef struct {
    const conv_geom *g;
    const float *x, *w, *b;
    float *y, *scratch;
    const cs_act *act;
    int64_t parts;
} dw_job;

/* y[o] += w * p[o] for o < n. */
static void dw_axpy(float *y, const float *p, float w, int64_t n)
{
    int64_t o = 0;
#ifdef CS_HAVE_AVX2
    const __m256 vw = _mm256_set1_ps(w);
    for (; o + 8 <= n; o += 8)
        _mm256_storeu_ps(y + o,
                         _mm256_fmadd_ps(vw, _mm256_loadu_ps(p + o), _mm256_loadu_ps(y + o)));
#endif
    for (; o < n; o++) y[o] += w * p[o];
}

#if defined(CS_HAVE_AVX2) && defined(__x86_64__) && defined(__GNUC__)
#define CS_HAVE_DW512 1
/* dw_plane_3x3 below with 16 outputs per step; the tail loads are masked, so it reads
 * nothing past the last output's taps. */
__attribute__((target("avx512f,avx512vl,avx512bw,avx512dq"))) static void
dw_plane_3x3_512(float *y, const float *plane, const int64_t *tap, int64_t rstep, const float *wk,
                 float bias, int64_t oh, int64_t ow, const cs_act *act)
{
    const int clamp = act->kind == CS_ACT_RELU || act->kind == CS_ACT_CLIP;
    float lo, hi;
    cs_act_bounds(act, &lo, &hi);
    const __m512 w0 = _mm512_set1_ps(wk[0]), w1 = _mm512_set1_ps(wk[1]), w2 = _mm512_set1_ps(wk[2]),
                 w3 = _mm512_set1_ps(wk[3]), w4 = _mm512_set1_ps(wk[4]), w5 = _mm512_set1_ps(wk[5]),
                 w6 = _mm512_set1_ps(wk[6]), w7 = _mm512_set1_ps(wk[7]), w8 = _mm512_set1_ps(wk[8]);
    const __m512 vb = _mm512_set1_ps(bias), vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
    for (int64_t oy = 0; oy < oh; oy++) {
        const float *base = plane + oy * rstep;
        const float *p0 = base + tap[0], *p1 = base + tap[1], *p2 = base + tap[2];
        const float *p3 = base + tap[3], *p4 = base + tap[4], *p5 = base + tap[5];
        const float *p6 = base + tap[6], *p7 = base + tap[7], *p8 = base + tap[8];
        float *yr = y + oy * ow;
        for (int64_t o = 0; o < ow; o += 16) {
            const __mmask16 k =
                ow - o >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (ow - o)) - 1u);
            __m512 a = _mm512_fmadd_ps(w0, _mm512_maskz_loadu_ps(k, p0 + o), vb);
            __m512 c = _mm512_mul_ps(w1, _mm512_maskz_loadu_ps(k, p1 + o));
            a = _mm512_fmadd_ps(w2, _mm512_maskz_loadu_ps(k, p2 + o), a);
            c = _mm512_fmadd_ps(w3, _mm512_maskz_loadu_ps(k, p3 + o), c);
            a = _mm512_fmadd_ps(w4, _mm512_maskz_loadu_ps(k, p4 + o), a);
            c = _mm512_fmadd_ps(w5, _mm512_maskz_loadu_ps(k, p5 + o), c);
            a = _mm512_fmadd_ps(w6, _mm512_maskz_loadu_ps(k, p6 + o), a);
            c = _mm512_fmadd_ps(w7, _mm512_maskz_loadu_ps(k, p7 + o), c);
            a = _mm512_fmadd_ps(w8, _mm512_maskz_loadu_ps(k, p8 + o), a);
            a = _mm512_add_ps(a, c);
            if (clamp) a = _mm512_min_ps(_mm512_max_ps(a, vlo), vhi);
            _mm512_mask_storeu_ps(yr + o, k, a);
        }
        if (!cs_act_is_inline(act)) cs_act_apply(act, yr, ow);
    }
}
#endif

/* One output plane of a 3x3 depthwise conv: nine taps per output in registers. `tap`
 * holds the plane offsets of the taps; row oy starts at plane + oy * rstep. */
static void dw_plane_3x3(float *y, const float *plane, const int64_t *tap, int64_t rstep,
                         const float *wk, float bias, int64_t oh, int64_t ow, const cs_act *act)
{
#ifdef CS_HAVE_DW512
    if (cs_gemm_avx512()) {
        dw_plane_3x3_512(y, plane, tap, rstep, wk, bias, oh, ow, act);
        return;
    }
#endif
    const int clamp = act->kind == CS_ACT_RELU || act->kind == CS_ACT_CLIP;
    float lo, hi;
    cs_act_bounds(act, &lo, &hi);
    for (int64_t oy = 0; oy < oh; oy++) {
        const float *base = plane + oy * rstep;
        const float *p0 = base + tap[0], *p1 = base + tap[1], *p2 = base + tap[2];
        const float *p3 = base + tap[3], *p4 = base + tap[4], *p5 = base + tap[5];
        const float *p6 = base + tap[6], *p7 = base + tap[7], *p8 = base + tap[8];
        float *yr = y + oy * ow;
        int64_t o = 0;
#ifdef CS_HAVE_AVX2
        const __m256 w0 = _mm256_set1_ps(wk[0]), w1 = _mm256_set1_ps(wk[1]),
                     w2 = _mm256_set1_ps(wk[2]), w3 = _mm256_set1_ps(wk[3]),
                     w4 = _mm256_set1_ps(wk[4]), w5 = _mm256_set1_ps(wk[5]),
                     w6 = _mm256_set1_ps(wk[6]), w7 = _mm256_set1_ps(wk[7]),
                     w8 = _mm256_set1_ps(wk[8]);
        const __m256 vb = _mm256_set1_ps(bias), vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
        for (; o + 8 <= ow; o += 8) {
            __m256 a = _mm256_fmadd_ps(w0, _mm256_loadu_ps(p0 + o), vb);
            __m256 c = _mm256_mul_ps(w1, _mm256_loadu_ps(p1 + o));
            a = _mm256_fmadd_ps(w2, _mm256_loadu_ps(p2 + o), a);
            c = _mm256_fmadd_ps(w3, _mm256_loadu_ps(p3 + o), c);
            a = _mm256_fmadd_ps(w4, _mm256_loadu_ps(p4 + o), a);
            c = _mm256_fmadd_ps(w5, _mm256_loadu_ps(p5 + o), c);
            a = _mm256_fmadd_ps(w6, _mm256_loadu_ps(p6 + o), a);
            c = _mm256_fmadd_ps(w7, _mm256_loadu_ps(p7 + o), c);
            a = _mm256_fmadd_ps(w8, _mm256_loadu_ps(p8 + o), a);
            a = _mm256_add_ps(a, c);
            if (clamp) a = _mm256_min_ps(_mm256_max_ps(a, vlo), vhi);
            _mm256_storeu_ps(yr + o, a);
        }
        if (o < ow) {
            /* Tail: full-width loads (the plane has slack after its last row), masked store. */
            const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(ow - o)),
                                                    _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
            __m256 a = _mm256_fmadd_ps(w0, _mm256_loadu_ps(p0 + o), vb);
            __m256 c = _mm256_mul_ps(w1, _mm256_loadu_ps(p1 + o));
            a = _mm256_fmadd_ps(w2, _mm256_loadu_ps(p2 + o), a);
            c = _mm256_fmadd_ps(w3, _mm256_loadu_ps(p3 + o), c);
            a = _mm256_fmadd_ps(w4, _mm256_loadu_ps(p4 + o), a);
            c = _mm256_fmadd_ps(w5, _mm256_loadu_ps(p5 + o), c);
            a = _mm256_fmadd_ps(w6, _mm256_loadu_ps(p6 + o), a);
            c = _mm256_fmadd_ps(w7, _mm256_loadu_ps(p7 + o), c);
            a = _mm256_fmadd_ps(w8, _mm256_loadu_ps(p8 + o), a);
            a = _mm256_add_ps(a, c);
            if (clamp) a = _mm256_min_ps(_mm256_max_ps(a, vlo), vhi);
            _mm256_maskstore_ps(yr + o, mask, a);
            o = ow;
        }
#endif
        for (; o < ow; o++) {
            float a = bias + wk[0] * p0[o] + wk[1] * p1[o] + wk[2] * p2[o] + wk[3] * p3[o] +
                      wk[4] * p4[o] + wk[5] * p5[o] + wk[6] * p6[o] + wk[7] * p7[o] + wk[8] * p8[o];
            if (clamp) {
                a = a > lo ? a : lo;
                a = a < hi ? a : hi;
            }
            yr[o] = a;
        }
        if (!cs_act_is_inline(act)) cs_act_apply(act, yr, ow);
    }
}

/* Copies one input plane into the padded plane: row iy goes to row pt + iy, column ix to
 * padded column X = pl + ix stored at phase X % s, index X / s. Border cells stay zero. */
static void dw_fill(const conv_geom *g, const float *src, float *plane)
{
    const cs_patch *pg = &g->pg;
    const int64_t h = pg->img[0], w = pg->img[1], pt = pg->p[0], pl = pg->p[1];
    const int64_t s = pg->s[1], lp = g->dw_lp, rs = g->dw_rs;
    for (int64_t iy = 0; iy < h; iy++) {
        float *prow = plane + (pt + iy) * rs;
        const float *srow = src + iy * w;
        if (s == 1) {
            memcpy(prow + pl, srow, sizeof(float) * (size_t)w);
            continue;
        }
        if (s == 2) {
            /* Even source columns land in phase pl % 2, odd ones in the other phase. */
            float *ev = prow + (pl & 1) * lp + pl / 2;
            float *od = prow + ((pl + 1) & 1) * lp + (pl + 1) / 2;
            int64_t j = 0;
#ifdef CS_HAVE_AVX2
            for (; 2 * j + 16 <= w; j += 8) {
                __m256 a = _mm256_loadu_ps(srow + 2 * j), b = _mm256_loadu_ps(srow + 2 * j + 8);
                __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
                __m256 o = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
                /* shuffle_ps works per 128-bit lane: put the 64-bit pairs back in order. */
                e = _mm256_castpd_ps(
                    _mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
                o = _mm256_castpd_ps(
                    _mm256_permute4x64_pd(_mm256_castps_pd(o), _MM_SHUFFLE(3, 1, 2, 0)));
                _mm256_storeu_ps(ev + j, e);
                _mm256_storeu_ps(od + j, o);
            }
#endif
            for (; 2 * j < w; j++) {
                ev[j] = srow[2 * j];
                if (2 * j + 1 < w) od[j] = srow[2 * j + 1];
            }
            continue;
        }
        for (int64_t ph = 0; ph < s; ph++) {
            int64_t ix0 = ((ph - pl) % s + s) % s;
            if (ix0 >= w) continue;
            float *dst = prow + ph * lp + (pl + ix0) / s;
            int64_t cnt = ceil_div(w - ix0, s);
            const float *sp = srow + ix0;
            for (int64_t j = 0; j < cnt; j++) dst[j] = sp[j * s];
        }
    }
}

static void dw_part(void *ctx, int64_t t0, int64_t t1)
{
    const dw_job *j = ctx;
    const conv_geom *g = j->g;
    const cs_patch *pg = &g->pg;
    const int64_t kh = pg->k[0], kw = pg->k[1], oh = pg->col[0], ow = pg->col[1];
    const int64_t sh = pg->s[0], sw = pg->s[1], dh = pg->d[0], dwl = pg->d[1];
    const int64_t mult = g->cout / g->cin, items = g->batch * g->cin, rs = g->dw_rs;
    const int64_t rstep = sh * rs;
    for (int64_t t = t0; t < t1; t++) {
        int64_t i0 = items * t / j->parts, i1 = items * (t + 1) / j->parts;
        if (i0 >= i1) continue;
        float *plane = j->scratch + t * g->dw_plane;
        memset(plane, 0, sizeof(float) * (size_t)g->dw_plane);
        for (int64_t it = i0; it < i1; it++) {
            int64_t img = it / g->cin, c = it % g->cin;
            dw_fill(g, j->x + it * pg->img_size, plane);
            for (int64_t m = 0; m < mult; m++) {
                int64_t oc = c * mult + m;
                const float *wk = j->w + oc * kh * kw;
                float bias = j->b ? j->b[oc] : 0.f;
                float *y = j->y + (img * g->cout + oc) * pg->col_size;
                if (kh == 3 && kw == 3) {
                    int64_t tap[9];
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++) {
                            int64_t tx = kx * dwl;
                            tap[ky * 3 + kx] = ky * dh * rs + (tx % sw) * g->dw_lp + tx / sw;
                        }
                    dw_plane_3x3(y, plane, tap, rstep, wk, bias, oh, ow, j->act);
                    continue;
                }
                for (int64_t oy = 0; oy < oh; oy++) {
                    float *yr = y + oy * ow;
                    for (int64_t o = 0; o < ow; o++) yr[o] = bias;
                    for (int64_t ky = 0; ky < kh; ky++) {
                        const float *prow = plane + oy * rstep + ky * dh * rs;
                        for (int64_t kx = 0; kx < kw; kx++) {
                            int64_t tx = kx * dwl;
                            dw_axpy(yr, prow + (tx % sw) * g->dw_lp + tx / sw, wk[ky * kw + kx],
                                    ow);
                        }
                    }
                    cs_bias_act_row(yr, ow, 0.f, j->act);
                }
            }
        }
    }
}

/* ---- Conv --------------------------------------------------------------------------------- */

/* n->prep of a 2-D GEMM Conv with constant weights: per group, the M x K weight matrix packed
 * into the micro-kernel's panels (cs_conv_gemm_pack_w), `per_group` floats apart. */
typedef struct {
    int64_t M, K, group;
    size_t per_group;
    float *w; /* 64-byte aligned */
} conv_prep;

static void conv_free_prep(void *p)
{
    conv_prep *cp = p;
    if (cp) free(cp->w);
    free(cp);
}

static cs_status conv_prepare(cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                              cs_error *err)
{
    (void)out;
    conv_free_prep(n->prep);
    n->prep = NULL;
    if (!in[1]->data) return CS_OK; /* weights computed at run time: read as stored */
    conv_geom g = {0};
    cs_status st = conv_geometry(n, in[0], in[1], opt_in(n, in, 2), &g, err);
    if (st != CS_OK) return st;
    if (g.depthwise || g.pg.nsp != 2 || g.kdim == 0 || g.cout == 0) return CS_OK;
    const int64_t M = g.cout_g, K = g.kdim;
    const size_t per = (cs_conv_gemm_packed_floats(M, K) + 15) / 16 * 16;
    const size_t bytes = sizeof(float) * per * (size_t)g.group;
    conv_prep *cp = calloc(1, sizeof *cp);
    float *w = cp ? aligned_alloc(64, (bytes + 63) / 64 * 64) : NULL;
    if (!w) {
        free(cp);
        return cs_node_fail(err, CS_ERR_NOMEM, n, "out of memory for %zu bytes of packed weights",
                            bytes);
    }
    const float *src = in[1]->data;
    for (int64_t grp = 0; grp < g.group; grp++)
        cs_conv_gemm_pack_w(src + grp * M * K, K, M, K, w + (size_t)grp * per);
    *cp = (conv_prep){M, K, g.group, per, w};
    n->prep = cp;
    return CS_OK;
}

static cs_status conv_shape(cs_node *n, cs_tensor *const *in, cs_tensor *const *out, cs_error *err)
{
    conv_geom g = {0};
    const cs_tensor *b = opt_in(n, in, 2);
    cs_status st = conv_geometry(n, in[0], in[1], b, &g, err);
    if (st != CS_OK) return st;
    int64_t dims[CS_MAX_DIMS];
    dims[0] = g.batch;
    dims[1] = g.cout;
    int nsp = in[0]->ndim - 2;
    /* patch_finish put a leading 1 in front of 1-D geometry: take the last nsp dims. */
    for (int i = 0; i < nsp; i++) dims[2 + i] = g.pg.col[g.pg.nsp - nsp + i];
    cs_tensor_set_shape(out[0], CS_F32, in[0]->ndim, dims);
    int threads = n->threads < 1 ? 1 : n->threads;
    if (g.depthwise)
        n->scratch_bytes = sizeof(float) * (size_t)(g.dw_plane * threads);
    else if (g.pg.nsp == 2) /* conv_gemm: one packing buffer per thread */
        n->scratch_bytes = sizeof(float) * (size_t)threads *
                           ((cs_conv_gemm_buf_floats(g.kdim, g.pg.col_size) + 15) / 16 * 16);
    else if (g.pointwise)
        n->scratch_bytes = 0;
    else
        n->scratch_bytes = sizeof(float) * (size_t)(g.kdim * g.blk * g.pg.col[g.pg.nsp - 1]);
    return CS_OK;
}

static void conv_forward(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                         const cs_exec *ex)
{
    conv_geom g = {0};
    const cs_tensor *bt = opt_in(n, in, 2);
    conv_geometry(n, in[0], in[1], bt, &g, NULL);
    const float *x = in[0]->data, *w = in[1]->data, *b = bt ? bt->data : NULL;
    float *y = out[0]->data;
    const cs_patch *pg = &g.pg;
    if (g.batch == 0 || g.cout == 0 || pg->col_size == 0) return;

    if (g.depthwise) {
        int64_t parts = ex->threads < n->threads ? ex->threads : n->threads;
        if (parts < 1) parts = 1;
        if (parts > g.batch * g.cin) parts = g.batch * g.cin;
        dw_job j = {&g, x, w, b, y, ex->scratch, &n->act, parts};
        cs_parallel_for(ex, parts, dw_part, &j);
        return;
    }

    const int64_t N = pg->col_size, M = g.cout_g, K = g.kdim;
    const int64_t cl = pg->col[pg->nsp - 1], lead = N / cl;
    const conv_prep *cp = n->prep;
    if (cp && (cp->M != M || cp->K != K || cp->group != g.group)) cp = NULL;
    for (int64_t img = 0; img < g.batch; img++)
        for (int64_t grp = 0; grp < g.group; grp++) {
            const float *xg = x + (img * g.cin + grp * g.cin_g) * pg->img_size;
            const float *wg = w + grp * M * K;
            const float *wpg = cp ? cp->w + (size_t)grp * cp->per_group : NULL;
            float *yg = y + (img * g.cout + grp * M) * N;
            const float *bg = b ? b + grp * M : NULL;
            if (K == 0) {
                memset(yg, 0, sizeof(float) * (size_t)(M * N));
                bias_act_rows(ex, yg, M, N, N, bg, &n->act);
                continue;
            }
            if (pg->nsp == 2) {
                /* Implicit im2col into our own GEMM, bias and activation in its store. */
                cs_conv_gemm cg = {.w = wg,
                                   .ldw = K,
                                   .wp = wpg,
                                   .M = M,
                                   .K = K,
                                   .N = N,
                                   .y = yg,
                                   .ldy = N,
                                   .bias = bg,
                                   .act = &n->act};
                cs_conv2d_src *s = &cg.src;
                s->x = xg;
                if (g.pointwise) { /* B is the input itself: one row of N positions */
                    s->ih = s->oh = 1;
                    s->iw = s->ow = N;
                    s->kh = s->kw = s->sh = s->sw = s->dh = s->dw = 1;
                } else {
                    s->ih = pg->img[0], s->iw = pg->img[1], s->oh = pg->col[0], s->ow = pg->col[1];
                    s->kh = pg->k[0], s->kw = pg->k[1], s->sh = pg->s[0], s->sw = pg->s[1];
                    s->dh = pg->d[0], s->dw = pg->d[1], s->ph = pg->p[0], s->pw = pg->p[1];
                }
                cs_conv_gemm_par(ex, &cg, ex->scratch);
                continue;
            }
            if (g.pointwise) {
                cs_sgemm_par(ex, CblasNoTrans, CblasNoTrans, M, N, K, 1.f, wg, K, xg, N, 0.f, yg,
                             N);
                bias_act_rows(ex, yg, M, N, N, bg, &n->act);
                continue;
            }
            for (int64_t q0 = 0; q0 < lead; q0 += g.blk) {
                int64_t q1 = q0 + g.blk < lead ? q0 + g.blk : lead, nb = (q1 - q0) * cl;
                im2col_job j = {pg, xg, q0, q1, nb, ex->scratch};
                if (K * nb < 32768)
                    im2col_part(&j, 0, K);
                else
                    cs_parallel_for(ex, K, im2col_part, &j);
                cs_sgemm_par(ex, CblasNoTrans, CblasNoTrans, M, nb, K, 1.f, wg, K, ex->scratch, nb,
                             0.f, yg + q0 * cl, N);
                bias_act_rows(ex, yg + q0 * cl, M, N, nb, bg, &n->act);
            }
        }
}

/* ---- ConvTranspose ------------------------------------------------------------------------ */

static cs_status convt_geometry(const cs_node *n, const cs_tensor *x, const cs_tensor *w,
                                const cs_tensor *b, conv_geom *g, cs_error *err)
{
    const conv_params *pr = n->params;
    cs_status st = conv_check_common(n, pr, x, w, err);
    if (st != CS_OK) return st;
    char xs[96] = "", ws[96] = "";
    if (err) { /* the strings are only for messages; forward and backward pass err = NULL */
        cs_shape_str(x, xs, sizeof xs);
        cs_shape_str(w, ws, sizeof ws);
    }
    memset(g, 0, sizeof *g);
    int nsp = x->ndim - 2;
    g->batch = x->dims[0];
    g->cin = x->dims[1];
    g->group = pr->group;
    if (w->dims[0] != g->cin)
        return cs_node_fail(err, CS_ERR_INVALID, n,
                            "input has %lld channels, weight %s expects %lld (weight is "
                            "C_in x C_out/group x kernel)",
                            (long long)g->cin, ws, (long long)w->dims[0]);
    if (g->cin % g->group != 0)
        return cs_node_fail(err, CS_ERR_INVALID, n,
                            "input has %lld channels, not a multiple of group %lld",
                            (long long)g->cin, (long long)g->group);
    g->cin_g = g->cin / g->group;
    g->cout_g = w->dims[1];
    g->cout = g->cout_g * g->group;
    st = conv_check_bias(n, b, g->cout, err);
    if (st != CS_OK) return st;
    if (pr->n_outpad && pr->n_outpad != nsp)
        return cs_node_fail(err, CS_ERR_INVALID, n,
                            "output_padding has %d values, a %d-D convolution needs %d",
                            pr->n_outpad, nsp, nsp);
    const int64_t *oshape = NULL;
    if (pr->n_outshape == nsp)
        oshape = pr->outshape;
    else if (pr->n_outshape == nsp + 2)
        oshape = pr->outshape + 2; /* full N x C x ... form */
    else if (pr->n_outshape)
        return cs_node_fail(err, CS_ERR_INVALID, n,
                            "output_shape has %d values, a %d-D convolution needs %d",
                            pr->n_outshape, nsp, nsp);

    cs_patch *pg = &g->pg;
    pg->nsp = nsp;
    for (int i = 0; i < nsp; i++) {
        int64_t in = x->dims[2 + i], k = w->dims[2 + i];
        int64_t s = pr->n_strides ? pr->strides[i] : 1, d = pr->n_dil ? pr->dil[i] : 1;
        int64_t op = pr->n_outpad ? pr->outpad[i] : 0;
        int64_t full = s * (in - 1) + op + (k - 1) * d + 1, pb = 0, pe = 0, o;
        if (oshape || pr->autopad == PAD_SAME_UPPER || pr->autopad == PAD_SAME_LOWER) {
            /* ONNX: total padding split with the extra cell at the end for SAME_UPPER and
             * at the start otherwise; floor division keeps negative totals exact. */
            o = oshape ? oshape[i] : in * s;
            int64_t total = full - o;
            if (pr->autopad == PAD_SAME_UPPER) {
                pb = floor_div2(total);
                pe = total - pb;
            } else {
                pe = floor_div2(total);
                pb = total - pe;
            }
        } else {
            if (pr->autopad == PAD_NOTSET && pr->n_pads) {
                pb = pr->pads[i];
                pe = pr->pads[i + nsp];
            }
            o = full - pb - pe;
        }
        if (in < 1)
            return cs_node_fail(err, CS_ERR_INVALID, n, "input %s has an empty spatial dim", xs);
        if (o < 1)
            return cs_node_fail(err, CS_ERR_INVALID, n,
                                "spatial dim %d of the output would be %lld (input %s, weight "
                                "%s, pads %lld+%lld)",
                                i, (long long)o, xs, ws, (long long)pb, (long long)pe);
        pg->img[i] = o;
        pg->col[i] = in;
        pg->k[i] = k;
        pg->s[i] = s;
        pg->d[i] = d;
        pg->p[i] = pb;
    }
    patch_finish(pg);
    g->kdim = g->cout_g * pg->k_size;
    if (!fits_int(g->kdim) || !fits_int(pg->col_size) || !fits_int(g->cin_g))
        return cs_node_fail(err, CS_ERR_UNSUPPORTED, n,
                            "input %s with weight %s is too large for 32-bit BLAS sizes", xs, ws);
    return CS_OK;
}

static cs_status convt_shape(cs_node *n, cs_tensor *const *in, cs_tensor *const *out, cs_error *err)
{
    conv_geom g = {0};
    cs_status st = convt_geometry(n, in[0], in[1], opt_in(n, in, 2), &g, err);
    if (st != CS_OK) return st;
    int64_t dims[CS_MAX_DIMS];
    dims[0] = g.batch;
    dims[1] = g.cout;
    int nsp = in[0]->ndim - 2;
    for (int i = 0; i < nsp; i++) dims[2 + i] = g.pg.img[g.pg.nsp - nsp + i];
    cs_tensor_set_shape(out[0], CS_F32, in[0]->ndim, dims);
    n->scratch_bytes = sizeof(float) * (size_t)(g.kdim * g.pg.col_size);
    return CS_OK;
}

typedef struct {
    const cs_patch *pg;
    const float *col;
    int64_t k_size;
    float *img;
} col2im_job;

static void col2im_part(void *ctx, int64_t c0, int64_t c1)
{
    const col2im_job *j = ctx;
    col2im(j->pg, j->col, j->pg->col_size, c0 * j->k_size, c1 * j->k_size, 0,
           j->pg->col_size / j->pg->col[j->pg->nsp - 1], j->img);
}

static void convt_forward(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                          const cs_exec *ex)
{
    conv_geom g = {0};
    const cs_tensor *bt = opt_in(n, in, 2);
    convt_geometry(n, in[0], in[1], bt, &g, NULL);
    const float *x = in[0]->data, *w = in[1]->data, *b = bt ? bt->data : NULL;
    float *y = out[0]->data, *col = ex->scratch;
    const cs_patch *pg = &g.pg;
    const int64_t nin = pg->col_size, nout = pg->img_size, K = g.kdim;
    if (g.batch == 0 || g.cout == 0 || nout == 0) return;
    for (int64_t img = 0; img < g.batch; img++) {
        float *yi = y + img * g.cout * nout;
        for (int64_t c = 0; c < g.cout; c++) {
            float v = b ? b[c] : 0.f;
            float *yc = yi + c * nout;
            for (int64_t i = 0; i < nout; i++) yc[i] = v;
        }
        if (nin == 0 || g.cin_g == 0) continue;
        for (int64_t grp = 0; grp < g.group; grp++) {
            const float *xg = x + (img * g.cin + grp * g.cin_g) * nin;
            const float *wg = w + grp * g.cin_g * K;
            cs_sgemm_par(ex, CblasTrans, CblasNoTrans, K, nin, g.cin_g, 1.f, wg, K, xg, nin, 0.f,
                         col, nin);
            col2im_job j = {pg, col, pg->k_size, yi + grp * g.cout_g * nout};
            if (K * nin < 32768)
                col2im_part(&j, 0, g.cout_g);
            else
                cs_parallel_for(ex, g.cout_g, col2im_part, &j);
        }
    }
    bias_act_rows(ex, y, g.batch * g.cout, nout, nout, NULL, &n->act);
}

/* ---- backward ----------------------------------------------------------------------------- *
 *
 * With G the gradient w.r.t. the pre-activation output (cs_act_grad), per image and group:
 *   Conv:           dX += col2im(W^T G)     dW += G im2col(X)^T     dB += sum of G
 *   ConvTranspose:  dX += W im2col(G)       dW += X im2col(G)^T     dB += sum of G
 * The column matrices go through scratch in blocks of output rows, like the forward. 1x1
 * stride-1 convs need no columns. Depthwise convs have direct kernels, parallel over
 * channels (so no two threads share a weight): dW in one pass over the forward's padded
 * phase plane of X; dX gathered for stride 1 (a depthwise conv of the zero-bordered G with
 * the flipped kernel, through the forward's 3x3 kernel) and scattered tap by tap into a
 * padded plane otherwise. */

typedef struct {
    const cs_patch *pg;
    const float *col;
    int64_t ldc, q0, q1, k_size;
    float *img;
} col2im_blk_job;

/* Channels [c0, c1): their rows never touch another channel's pixels. */
static void col2im_blk_part(void *ctx, int64_t c0, int64_t c1)
{
    const col2im_blk_job *j = ctx;
    col2im(j->pg, j->col, j->ldc, c0 * j->k_size, c1 * j->k_size, j->q0, j->q1, j->img);
}

typedef struct {
    const float *gy;
    float *db;
    int64_t batch, cout, plane;
} bias_grad_job;

static void bias_grad_part(void *ctx, int64_t c0, int64_t c1)
{
    const bias_grad_job *j = ctx;
    for (int64_t c = c0; c < c1; c++) {
        float s = 0.f;
        for (int64_t img = 0; img < j->batch; img++)
            s += cs_sum(j->gy + (img * j->cout + c) * j->plane, j->plane);
        j->db[c] += s;
    }
}

/* db[c] += the sum of channel c of gy (batch x cout x plane) over images and positions. */
static void bias_grad(const cs_exec *ex, const float *gy, float *db, int64_t batch, int64_t cout,
                      int64_t plane)
{
    bias_grad_job j = {gy, db, batch, cout, plane};
    if (batch * cout * plane < 32768)
        bias_grad_part(&j, 0, cout);
    else
        cs_parallel_for(ex, cout, bias_grad_part, &j);
}

/* Adds the padded plane's interior back into an input plane: the adjoint of dw_fill. */
static void dw_unfill(const conv_geom *g, const float *plane, float *dst)
{
    const cs_patch *pg = &g->pg;
    const int64_t h = pg->img[0], w = pg->img[1], pt = pg->p[0], pl = pg->p[1];
    const int64_t s = pg->s[1], lp = g->dw_lp, rs = g->dw_rs;
    for (int64_t iy = 0; iy < h; iy++) {
        const float *prow = plane + (pt + iy) * rs;
        float *drow = dst + iy * w;
        if (s == 1) {
            const float *sp = prow + pl;
            for (int64_t ix = 0; ix < w; ix++) drow[ix] += sp[ix];
            continue;
        }
        for (int64_t ph = 0; ph < s; ph++) {
            int64_t ix0 = ((ph - pl) % s + s) % s;
            if (ix0 >= w) continue;
            const float *sp = prow + ph * lp + (pl + ix0) / s;
            int64_t cnt = ceil_div(w - ix0, s);
            float *dp = drow + ix0;
            for (int64_t j = 0; j < cnt; j++) dp[j * s] += sp[j];
        }
    }
}

/* Per-thread scratch of the depthwise backward, in floats from the part's start: the padded
 * input plane (for dW) at 0; for dX of a strided conv, the padded input-gradient plane of
 * the scatter form; for dX of a stride-1 conv, the gather form's plane holding G inside a
 * zero border of the dilated kernel's extent, and one input plane for its result. */
typedef struct {
    int gather;
    int64_t gp_rows, gp_rs, gp_ot, gp_ol; /* gather plane: rows, row stride, G's offsets */
    int64_t dp, gp, tmp, total;
} dw_bwd_layout;

static dw_bwd_layout dw_bwd_plan(const conv_geom *g)
{
    const cs_patch *pg = &g->pg;
    dw_bwd_layout l;
    memset(&l, 0, sizeof l);
    l.gather = pg->s[0] == 1 && pg->s[1] == 1;
    int64_t off = g->dw_plane;
    if (l.gather) {
        l.gp_ot = (pg->k[0] - 1) * pg->d[0];
        l.gp_ol = (pg->k[1] - 1) * pg->d[1];
        l.gp_rows = pg->img[0] + pg->p[0] + l.gp_ot;
        l.gp_rs = pg->img[1] + pg->p[1] + l.gp_ol;
        l.gp = off;
        off += (l.gp_rows * l.gp_rs + 8 + 15) / 16 * 16; /* + 8: slack for full-width loads */
        l.tmp = off;
        off += (pg->img_size + 15) / 16 * 16;
    } else {
        l.dp = off;
        off += g->dw_plane;
    }
    l.total = off;
    return l;
}

#ifdef CS_HAVE_AVX2
static inline float hsum256(__m256 v)
{
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
    return _mm_cvtss_f32(h);
}
#endif

/* dwk[t] += sum over the output plane of G times the padded input under tap t, for the nine
 * taps of a 3x3 kernel in one pass (the plane has slack for the full-width tail loads). */
static void dw_grad_w_3x3(const float *gr, const float *plane, const int64_t *tap, int64_t rstep,
                          int64_t oh, int64_t ow, float *dwk)
{
#ifdef CS_HAVE_AVX2
    __m256 a[9];
    for (int t = 0; t < 9; t++) a[t] = _mm256_setzero_ps();
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(ow % 8)),
                                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    for (int64_t oy = 0; oy < oh; oy++) {
        const float *base = plane + oy * rstep, *grow = gr + oy * ow;
        for (int64_t o = 0; o < ow; o += 8) {
            __m256 v = o + 8 <= ow ? _mm256_loadu_ps(grow + o) : _mm256_maskload_ps(grow + o, mask);
            for (int t = 0; t < 9; t++)
                a[t] = _mm256_fmadd_ps(v, _mm256_loadu_ps(base + tap[t] + o), a[t]);
        }
    }
    for (int t = 0; t < 9; t++) dwk[t] += hsum256(a[t]);
#else
    for (int t = 0; t < 9; t++) {
        float s = 0.f;
        for (int64_t oy = 0; oy < oh; oy++)
            s += cs_dot(gr + oy * ow, plane + oy * rstep + tap[t], ow);
        dwk[t] += s;
    }
#endif
}

/* dX of one (image, channel) for one output channel of a stride-1 depthwise conv, gathered:
 * dx[iy][ix] += sum over taps of w[kh-1-ky][kw-1-kx] * Gp[iy + pt + ky*dh][ix + pl + kx*dw],
 * where Gp is G shifted by the dilated kernel's extent inside a zero border. */
static void dw_gather_dx(const conv_geom *g, const dw_bwd_layout *l, const float *gr,
                         const float *wk, float *gpl, float *tmp, float *dx)
{
    const cs_patch *pg = &g->pg;
    const int64_t kh = pg->k[0], kw = pg->k[1], oh = pg->col[0], ow = pg->col[1];
    const int64_t dh = pg->d[0], dwl = pg->d[1], h = pg->img[0], w = pg->img[1];
    const int64_t rs = l->gp_rs;
    int64_t ncol = rs - l->gp_ol < ow ? rs - l->gp_ol : ow;
    for (int64_t oy = 0; oy < oh && l->gp_ot + oy < l->gp_rows; oy++)
        memcpy(gpl + (l->gp_ot + oy) * rs + l->gp_ol, gr + oy * ow, sizeof(float) * (size_t)ncol);
    const float *origin = gpl + pg->p[0] * rs + pg->p[1];
    if (kh == 3 && kw == 3) {
        static const cs_act none = {CS_ACT_NONE, 0.f, 0.f};
        int64_t tap[9];
        float wf[9];
        for (int ky = 0; ky < 3; ky++)
            for (int kx = 0; kx < 3; kx++) {
                tap[ky * 3 + kx] = ky * dh * rs + kx * dwl;
                wf[ky * 3 + kx] = wk[(2 - ky) * 3 + (2 - kx)];
            }
        dw_plane_3x3(tmp, origin, tap, rs, wf, 0.f, h, w, &none);
        for (int64_t i = 0; i < h * w; i++) dx[i] += tmp[i];
        return;
    }
    for (int64_t iy = 0; iy < h; iy++)
        for (int64_t ky = 0; ky < kh; ky++)
            for (int64_t kx = 0; kx < kw; kx++)
                dw_axpy(dx + iy * w, origin + (iy + ky * dh) * rs + kx * dwl,
                        wk[(kh - 1 - ky) * kw + (kw - 1 - kx)], w);
}

typedef struct {
    const conv_geom *g;
    const dw_bwd_layout *l;
    const float *x, *w, *gy;
    float *dx, *dw, *scratch;
    int64_t parts;
} dw_bwd_job;

/* Parts [t0, t1) of the channels, each with its own scratch (dw_bwd_layout). */
static void dw_bwd_part(void *ctx, int64_t t0, int64_t t1)
{
    const dw_bwd_job *j = ctx;
    const conv_geom *g = j->g;
    const dw_bwd_layout *l = j->l;
    const cs_patch *pg = &g->pg;
    const int64_t kh = pg->k[0], kw = pg->k[1], oh = pg->col[0], ow = pg->col[1];
    const int64_t dh = pg->d[0], dwl = pg->d[1], sw = pg->s[1];
    const int64_t mult = g->cout / g->cin, rs = g->dw_rs, rstep = pg->s[0] * rs;
    const int k33 = kh == 3 && kw == 3;
    for (int64_t t = t0; t < t1; t++) {
        int64_t c0 = g->cin * t / j->parts, c1 = g->cin * (t + 1) / j->parts;
        if (c0 >= c1) continue;
        float *xp = j->scratch + t * l->total, *dp = xp + l->dp, *gpl = xp + l->gp;
        float *tmp = xp + l->tmp;
        if (j->dw) memset(xp, 0, sizeof(float) * (size_t)g->dw_plane);
        if (j->dx && l->gather) memset(gpl, 0, sizeof(float) * (size_t)(l->tmp - l->gp));
        for (int64_t c = c0; c < c1; c++)
            for (int64_t img = 0; img < g->batch; img++) {
                int64_t it = img * g->cin + c;
                float *dxp = j->dx ? j->dx + it * pg->img_size : NULL;
                if (j->dw) dw_fill(g, j->x + it * pg->img_size, xp);
                if (dxp && !l->gather) memset(dp, 0, sizeof(float) * (size_t)g->dw_plane);
                for (int64_t m = 0; m < mult; m++) {
                    int64_t oc = c * mult + m;
                    const float *gr = j->gy + (img * g->cout + oc) * pg->col_size;
                    const float *wk = j->w + oc * kh * kw;
                    float *dwk = j->dw ? j->dw + oc * kh * kw : NULL;
                    if (dxp && l->gather) dw_gather_dx(g, l, gr, wk, gpl, tmp, dxp);
                    if (dwk && k33) {
                        int64_t tap[9];
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++) {
                                int64_t tx = kx * dwl;
                                tap[ky * 3 + kx] = ky * dh * rs + (tx % sw) * g->dw_lp + tx / sw;
                            }
                        dw_grad_w_3x3(gr, xp, tap, rstep, oh, ow, dwk);
                    }
                    /* Tap by tap: dW of other kernels, dX of strided convs (scattered). */
                    const int tap_dw = dwk && !k33, tap_dx = dxp && !l->gather;
                    if (!tap_dw && !tap_dx) continue;
                    for (int64_t ky = 0; ky < kh; ky++)
                        for (int64_t kx = 0; kx < kw; kx++) {
                            int64_t tx = kx * dwl;
                            int64_t tap = ky * dh * rs + (tx % sw) * g->dw_lp + tx / sw;
                            if (tap_dw) {
                                float s = 0.f;
                                for (int64_t oy = 0; oy < oh; oy++)
                                    s += cs_dot(gr + oy * ow, xp + oy * rstep + tap, ow);
                                dwk[ky * kw + kx] += s;
                            }
                            if (tap_dx)
                                for (int64_t oy = 0; oy < oh; oy++)
                                    dw_axpy(dp + oy * rstep + tap, gr + oy * ow, wk[ky * kw + kx],
                                            ow);
                        }
                }
                if (dxp && !l->gather) dw_unfill(g, dp, dxp);
            }
    }
}

static int64_t bwd_parts(const cs_node *n, const cs_exec *ex, int64_t items)
{
    int64_t parts = ex->threads < n->threads ? ex->threads : n->threads;
    if (parts > items) parts = items;
    return parts < 1 ? 1 : parts;
}

static size_t conv_backward_scratch(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out)
{
    conv_geom g = {0};
    if (conv_geometry(n, in[0], in[1], opt_in(n, in, 2), &g, NULL) != CS_OK) return 0;
    size_t b = cs_act_grad_bytes(&n->act, out[0]);
    int64_t threads = n->threads < 1 ? 1 : n->threads;
    if (g.depthwise)
        b += sizeof(float) * (size_t)(dw_bwd_plan(&g).total * threads);
    else if (!g.pointwise)
        b += sizeof(float) * (size_t)(g.kdim * g.blk * g.pg.col[g.pg.nsp - 1]);
    return b;
}

static void conv_backward(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                          cs_tensor *const *gout, cs_tensor *const *gin, const cs_exec *ex)
{
    if (!gout[0]) return;
    conv_geom g = {0};
    const cs_tensor *bt = opt_in(n, in, 2);
    conv_geometry(n, in[0], in[1], bt, &g, NULL);
    const cs_patch *pg = &g.pg;
    if (g.batch == 0 || g.cout == 0 || pg->col_size == 0) return;
    float *dx = gin[0] ? gin[0]->data : NULL;
    float *dw = gin[1] ? gin[1]->data : NULL;
    float *db = bt && gin[2] ? gin[2]->data : NULL;
    if (!dx && !dw && !db) return;
    float *scratch = ex->scratch;
    const float *gy = cs_act_grad(ex, &n->act, out[0], gout[0], scratch);
    scratch += cs_act_grad_bytes(&n->act, out[0]) / sizeof(float);
    const float *x = in[0]->data, *w = in[1]->data;
    if (db) bias_grad(ex, gy, db, g.batch, g.cout, pg->col_size);
    if (!dx && !dw) return;

    if (g.depthwise) {
        dw_bwd_layout l = dw_bwd_plan(&g);
        dw_bwd_job j = {&g, &l, x, w, gy, dx, dw, scratch, bwd_parts(n, ex, g.cin)};
        cs_parallel_for(ex, j.parts, dw_bwd_part, &j);
        return;
    }

    const int64_t N = pg->col_size, M = g.cout_g, K = g.kdim;
    const int64_t cl = pg->col[pg->nsp - 1], lead = N / cl;
    if (K == 0 || M == 0) return;
    for (int64_t img = 0; img < g.batch; img++)
        for (int64_t grp = 0; grp < g.group; grp++) {
            const float *xg = x + (img * g.cin + grp * g.cin_g) * pg->img_size;
            const float *wg = w + grp * M * K;
            const float *gg = gy + (img * g.cout + grp * M) * N;
            float *dxg = dx ? dx + (img * g.cin + grp * g.cin_g) * pg->img_size : NULL;
            float *dwg = dw ? dw + grp * M * K : NULL;
            if (g.pointwise) {
                if (dxg)
                    cs_sgemm_par(ex, CblasTrans, CblasNoTrans, K, N, M, 1.f, wg, K, gg, N, 1.f, dxg,
                                 N);
                if (dwg)
                    cs_sgemm_par(ex, CblasNoTrans, CblasTrans, M, K, N, 1.f, gg, N, xg, N, 1.f, dwg,
                                 K);
                continue;
            }
            for (int64_t q0 = 0; q0 < lead; q0 += g.blk) {
                int64_t q1 = q0 + g.blk < lead ? q0 + g.blk : lead, nb = (q1 - q0) * cl;
                if (dwg) {
                    im2col_job j = {pg, xg, q0, q1, nb, scratch};
                    if (K * nb < 32768)
                        im2col_part(&j, 0, K);
                    else
                        cs_parallel_for(ex, K, im2col_part, &j);
                    cs_sgemm_par(ex, CblasNoTrans, CblasTrans, M, K, nb, 1.f, gg + q0 * cl, N,
                                 scratch, nb, 1.f, dwg, K);
                }
                if (dxg) {
                    cs_sgemm_par(ex, CblasTrans, CblasNoTrans, K, nb, M, 1.f, wg, K, gg + q0 * cl,
                                 N, 0.f, scratch, nb);
                    col2im_blk_job j = {pg, scratch, nb, q0, q1, pg->k_size, dxg};
                    if (K * nb < 32768)
                        col2im_blk_part(&j, 0, g.cin_g);
                    else
                        cs_parallel_for(ex, g.cin_g, col2im_blk_part, &j);
                }
            }
        }
}

static size_t convt_backward_scratch(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out)
{
    conv_geom g = {0};
    if (convt_geometry(n, in[0], in[1], opt_in(n, in, 2), &g, NULL) != CS_OK) return 0;
    return cs_act_grad_bytes(&n->act, out[0]) +
           sizeof(float) * (size_t)(g.kdim * col_block(&g.pg, g.kdim) * g.pg.col[g.pg.nsp - 1]);
}

static void convt_backward(const cs_node *n, cs_tensor *const *in, cs_tensor *const *out,
                           cs_tensor *const *gout, cs_tensor *const *gin, const cs_exec *ex)
{
    if (!gout[0]) return;
    conv_geom g = {0};
    const cs_tensor *bt = opt_in(n, in, 2);
    convt_geometry(n, in[0], in[1], bt, &g, NULL);
    const cs_patch *pg = &g.pg;
    const int64_t nin = pg->col_size, nout = pg->img_size, K = g.kdim;
    if (g.batch == 0 || g.cout == 0 || nout == 0) return;
    float *dx = gin[0] ? gin[0]->data : NULL;
    float *dw = gin[1] ? gin[1]->data : NULL;
    float *db = bt && gin[2] ? gin[2]->data : NULL;
    if (!dx && !dw && !db) return;
    float *scratch = ex->scratch;
    const float *gy = cs_act_grad(ex, &n->act, out[0], gout[0], scratch);
    scratch += cs_act_grad_bytes(&n->act, out[0]) / sizeof(float);
    if (db) bias_grad(ex, gy, db, g.batch, g.cout, nout);
    if ((!dx && !dw) || nin == 0 || g.cin_g == 0 || K == 0) return;
    const float *x = in[0]->data, *w = in[1]->data;
    const int64_t cl = pg->col[pg->nsp - 1], lead = nin / cl, blk = col_block(pg, K);
    const int64_t M = g.cin_g;
    for (int64_t img = 0; img < g.batch; img++)
        for (int64_t grp = 0; grp < g.group; grp++) {
            const float *gg = gy + (img * g.cout + grp * g.cout_g) * nout;
            const float *xg = x + (img * g.cin + grp * M) * nin;
            const float *wg = w + grp * M * K;
            float *dxg = dx ? dx + (img * g.cin + grp * M) * nin : NULL;
            float *dwg = dw ? dw + grp * M * K : NULL;
            for (int64_t q0 = 0; q0 < lead; q0 += blk) {
                int64_t q1 = q0 + blk < lead ? q0 + blk : lead, nb = (q1 - q0) * cl;
                im2col_job j = {pg, gg, q0, q1, nb, scratch};
                if (K * nb < 32768)
                    im2col_part(&j, 0, K);
                else
                    cs_parallel_for(ex, K, im2col_part, &j);
                if (dxg)
                    cs_sgemm_par(ex, CblasNoTrans, CblasNoTrans, M, nb, K, 1.f, wg, K, scratch, nb,
                                 1.f, dxg + q0 * cl, nin);
                if (dwg)
                    cs_sgemm_par(ex, CblasNoTrans, CblasTrans, M, K, nb, 1.f, xg + q0 * cl, nin,
                                 scratch, nb, 1.f, dwg, K);
            }
        }
}

const cs_op_def cs_def_conv = {
    .onnx_name = "Conv",
    .min_in = 2,
    .max_in = 3,
    .min_out = 1,
    .max_out = 1,
    .init = conv_init,
    .shape = conv_shape,
    .prepare = conv_prepare,
    .forward = conv_forward,
    .free_prep = conv_free_prep,
    .backward = conv_backward,
    .backward_scratch = conv_backward_scratch,
};

const cs_op_def cs_def_conv_transpose = {
    .onnx_name = "ConvTranspose",
    .min_in = 2,
    .max_in = 3,
    .min_out = 1,
    .max_out = 1,
    .init = conv_init,
    .shape = convt_shape,
    .forward = convt_forward,
    .backward = convt_backward,
    .backward_scratch = convt_backward_scratch,
};
