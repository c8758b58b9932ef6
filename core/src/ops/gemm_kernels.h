/* camstream's own single-precision GEMM for convolutions, and a pool-parallel wrapper around
 * OpenBLAS's sgemm for the other products.
 *
 * Convolution GEMM: Y (M x N) = act(W (M x K) * B (K x N) + bias), where W is the weight
 * matrix, either prepacked once per plan into the micro-kernel's panel layout (constant
 * weights: cs_conv_gemm_pack_w, Conv's prepare) or read in place as the row-major matrix
 * stored in the model (weights computed at run time), and B is the column matrix
 * of a 2-D convolution, never materialized: blocks of KC x NC of it are packed straight from
 * the input planes into a per-thread buffer (implicit im2col), in panels of CS_GEMM_NR
 * columns. A register-blocked micro-kernel computes CS_GEMM_MR x CS_GEMM_NR tiles and applies
 * bias and the fused activation in its store. The micro-kernel is AVX-512 when the CPU has
 * it (checked at run time; set CAMSTREAM_NO_AVX512=1 in the environment to force the AVX2/FMA
 * kernel), else AVX2/FMA.
 *
 * Threads: cs_conv_gemm_par splits one product over the plan's pool, by columns (output
 * positions) or by rows (output channels), each thread packing its own B blocks; OpenBLAS
 * is never involved. cs_sgemm_par does the same for an arbitrary row-major sgemm, running
 * OpenBLAS single-threaded in each chunk (see threads.h: `threads` is the one knob).
 */
#ifndef CS_GEMM_KERNELS_H
#define CS_GEMM_KERNELS_H

#include "../graph.h"

#include <cblas.h>
#include <stddef.h>
#include <stdint.h>

#define CS_GEMM_MR 8
#define CS_GEMM_NR 32

/* The input of a 2-D convolution as the K x N column matrix B, K = channels * kh * kw
 * (channel-major, then kernel row, then kernel column), N = oh * ow. */
typedef struct {
    const float *x; /* `channels` planes of ih x iw floats, consecutive */
    int64_t ih, iw, oh, ow;
    int64_t kh, kw, sh, sw, dh, dw, ph, pw; /* kernel, strides, dilations, begin pads */
} cs_conv2d_src;

typedef struct {
    const float *w; /* M x K, row stride ldw; read only when wp is NULL */
    int64_t ldw;
    const float *wp; /* NULL, or the same M x K packed by cs_conv_gemm_pack_w */
    int64_t M, K, N;
    cs_conv2d_src src;
    float *y; /* M x N, row stride ldy */
    int64_t ldy;
    const float *bias; /* M values or NULL */
    const cs_act *act;
} cs_conv_gemm;

/* Floats of W (M x K) packed: M rounded up to CS_GEMM_MR, times K. */
size_t cs_conv_gemm_packed_floats(int64_t M, int64_t K);
/* Packs W (M x K, row stride ldw) into dst (cs_conv_gemm_packed_floats floats) in the order
 * the GEMM reads it: for each of its K blocks [k0, k0 + kc), the ceil(M / MR) row panels one
 * after the other, each kc x MR, K-major (dst[k0 * Mp + p * MR * kc + (k - k0) * MR + i] =
 * W[p * MR + i][k], Mp = M rounded up to MR), zero for rows past M: one sequential stream. */
void cs_conv_gemm_pack_w(const float *w, int64_t ldw, int64_t M, int64_t K, float *dst);

/* Floats of packing buffer one thread needs for a product of this K and N. */
size_t cs_conv_gemm_buf_floats(int64_t K, int64_t N);
/* Rows [m0, m1) and columns [n0, n1) of the product; buf: cs_conv_gemm_buf_floats floats,
 * 64-byte aligned. K must be >= 1; with packed weights m0 is a multiple of CS_GEMM_MR. */
void cs_conv_gemm_run(const cs_conv_gemm *g, int64_t m0, int64_t m1, int64_t n0, int64_t n1,
                      float *buf);
/* The whole product, split over ex's pool; scratch holds ex->threads buffers (64-byte
 * aligned, cs_conv_gemm_buf_floats each, rounded up to 16 floats). */
void cs_conv_gemm_par(const cs_exec *ex, const cs_conv_gemm *g, float *scratch);

/* Row-major C = alpha op(A) op(B) + beta C, like cblas_sgemm, split into one chunk per thread
 * (by columns, or by rows when C is narrow) with OpenBLAS single-threaded in each. */
void cs_sgemm_par(const cs_exec *ex, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int64_t M, int64_t N,
                  int64_t K, float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                  float beta, float *C, int64_t ldc);

/* 1 when the AVX-512 micro-kernel is in use. */
int cs_gemm_avx512(void);

#endif
