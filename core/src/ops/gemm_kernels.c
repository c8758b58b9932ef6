/* Convolution GEMM (implicit im2col, AVX-512 / AVX2 micro-kernels) and the pool-parallel
 * sgemm wrapper: see gemm_kernels.h. */
#include "gemm_kernels.h"

#include "../threads.h"
#include "conv_kernels.h"

#include <stdatomic.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif
#include <stdlib.h>
#include <string.h>

#define MR CS_GEMM_MR
#define NR CS_GEMM_NR
/* Largest K block, and floats of one thread's packed B block (KC x NC): it stays in L2 while
 * the row panels of W stream over it. */
#define KC_MAX 512
#define BLOCK_FLOATS (128 * 1024)
#define NC_MAX 8192
/* Products below this many multiply-adds run on the calling thread alone. */
#define PAR_MIN_FMAS (1 << 17)
/* Software prefetch distance, in floats, along the packed weight stream (a prefetch past the
 * end of the buffer is harmless: prefetches never fault). */
#ifndef PF_A
#define PF_A 256
#endif

static int64_t cdiv(int64_t a, int64_t b)
{
    return (a + b - 1) / b;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* ---- blocking ----------------------------------------------------------------------------- */

static int64_t k_block(int64_t K)
{
    int64_t nk = cdiv(K, KC_MAX);
    return cdiv(K, nk < 1 ? 1 : nk);
}

static int64_t n_block(int64_t kc, int64_t N)
{
    int64_t nc = BLOCK_FLOATS / (kc < 1 ? 1 : kc) / NR * NR;
    if (nc < NR) nc = NR;
    if (nc > NC_MAX) nc = NC_MAX;
    int64_t nr = cdiv(N, NR) * NR;
    return nc < nr ? nc : (nr < NR ? NR : nr);
}

size_t cs_conv_gemm_buf_floats(int64_t K, int64_t N)
{
    int64_t kc = k_block(K);
    return (size_t)(kc * n_block(kc, N));
}

/* ---- packing B (implicit im2col) ---------------------------------------------------------- */

/* d[0..n) = s[0..n) and d[0..n) = 0 for the short runs of packing (no libc call). The last
 * n % 8 floats go one by one: masked loads and stores are slow on AMD's cores, and these runs
 * (a row of a small feature map, the padding at its edges) are often shorter than 8. */
static inline void copy_f(float *d, const float *s, int64_t n)
{
    int64_t j = 0;
#ifdef CS_HAVE_AVX2
    for (; j + 8 <= n; j += 8) _mm256_storeu_ps(d + j, _mm256_loadu_ps(s + j));
#endif
    for (; j < n; j++) d[j] = s[j];
}

static inline void zero_f(float *d, int64_t n)
{
    int64_t j = 0;
#ifdef CS_HAVE_AVX2
    for (; j + 8 <= n; j += 8) _mm256_storeu_ps(d + j, _mm256_setzero_ps());
#endif
    for (; j < n; j++) d[j] = 0.f;
}

/* d[j] = row[ix0 + j * s] for j < run where the index lies in [0, iw), 0 elsewhere. */
static inline void fill_run(float *d, const float *row, int64_t ix0, int64_t s, int64_t iw,
                            int64_t run)
{
    int64_t lo, hi;
    if (s == 1) {
        lo = ix0 >= 0 ? 0 : -ix0;
        hi = iw - ix0;
    } else {
        lo = ix0 >= 0 ? 0 : cdiv(-ix0, s);
        hi = ix0 >= iw ? 0 : cdiv(iw - ix0, s);
    }
    if (hi > run) hi = run;
    if (hi < 0) hi = 0;
    if (lo > hi) lo = hi;
    if (lo > 0) zero_f(d, lo);
    const float *sp = row + ix0;
    if (s == 1) {
        copy_f(d + lo, sp + lo, hi - lo);
    } else if (s == 2) {
        int64_t j = lo;
#ifdef CS_HAVE_AVX2
        for (; j + 8 < hi; j += 8) { /* never reads past sp[2 * (hi - 1)] */
            __m256 a = _mm256_loadu_ps(sp + 2 * j), b = _mm256_loadu_ps(sp + 2 * j + 8);
            __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
            e = _mm256_castpd_ps(
                _mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
            _mm256_storeu_ps(d + j, e);
        }
#endif
        for (; j < hi; j++) d[j] = sp[2 * j];
    } else {
        for (int64_t j = lo; j < hi; j++) d[j] = sp[j * s];
    }
    if (hi < run) zero_f(d + hi, run - hi);
}

/* Rows [k0, k1) and columns [nb0, nb1) of B into panels of NR columns: panel p holds
 * buf[p * kc * NR + (k - k0) * NR + j] = B[k][nb0 + p * NR + j], zero past nb1. */
static void pack_b(const cs_conv2d_src *s, int64_t k0, int64_t k1, int64_t nb0, int64_t nb1,
                   float *buf)
{
    const int64_t kc = k1 - k0, np = cdiv(nb1 - nb0, NR), ksz = s->kh * s->kw;
    const int64_t plane = s->ih * s->iw;
    int64_t oy0[NC_MAX / NR], ox0[NC_MAX / NR];
    for (int64_t p = 0; p < np; p++) {
        int64_t n = nb0 + p * NR;
        oy0[p] = n / s->ow;
        ox0[p] = n % s->ow;
    }
    const int simple = s->oh == 1 && s->ih == 1 && s->ow == s->iw && s->sw == 1 && s->pw == 0 &&
                       s->ph == 0 && ksz == 1;
    for (int64_t k = k0; k < k1; k++) {
        const int64_t c = k / ksz, r = k % ksz, ky = r / s->kw, kx = r % s->kw;
        const float *xc = s->x + c * plane;
        float *dst = buf + (k - k0) * NR;
        if (simple) { /* 1x1 stride-1 unpadded: B is the input itself */
            for (int64_t p = 0; p < np; p++, dst += kc * NR) {
                int64_t n = nb0 + p * NR, cnt = min64(NR, nb1 - n);
                copy_f(dst, xc + n, cnt);
                if (cnt < NR) zero_f(dst + cnt, NR - cnt);
            }
            continue;
        }
        const int64_t ixk = kx * s->dw - s->pw, iyk = ky * s->dh - s->ph;
        for (int64_t p = 0; p < np; p++, dst += kc * NR) {
            int64_t left = min64(NR, nb1 - (nb0 + p * NR)), oy = oy0[p], ox = ox0[p];
            float *d = dst;
            while (left > 0) {
                int64_t run = min64(left, s->ow - ox);
                int64_t iy = oy * s->sh + iyk;
                if (iy < 0 || iy >= s->ih)
                    zero_f(d, run);
                else
                    fill_run(d, xc + iy * s->iw, ox * s->sw + ixk, s->sw, s->iw, run);
                d += run;
                left -= run;
                ox = 0;
                oy++;
            }
            if (d < dst + NR) zero_f(d, dst + NR - d);
        }
    }
}

/* ---- micro-kernels ------------------------------------------------------------------------ *
 * C[i][j] (i < m <= MR, j < n <= NR) = sum over k < K of A[i][k] * Bp[k][j], plus C itself
 * when accum, then (when last) + bias[i] and clamped to [lo, hi] when clamp. A[i][k] is
 * a[i * lda + k] (weights as stored; rows of A past m are read from row 0, computed, never
 * stored) or, when packed, a[k * MR + i] (a panel of cs_conv_gemm_pack_w, zero-padded to MR
 * rows). Bp has ldb floats per k (NR in a packed panel; the row stride of the input itself
 * for a 1x1 conv's full panels), of which NR are read. */
typedef void (*kernel_fn)(int64_t K, const float *a, int64_t lda, int packed, const float *b,
                          int64_t ldb, float *c, int64_t ldc, int m, int n, int accum, int last,
                          const float *bias, int clamp, float lo, float hi);

#if defined(__x86_64__) && defined(__GNUC__)
#define CS_HAVE_AVX512_KERNEL 1
#define TGT512 __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq")))

TGT512 static inline void store512(float *cr, __m512 v0, __m512 v1, __mmask16 k0, __mmask16 k1,
                                   int accum, int last, float bias, int clamp, __m512 vlo,
                                   __m512 vhi)
{
    if (accum) {
        v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(k0, cr));
        v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(k1, cr + 16));
    }
    if (last) {
        __m512 vb = _mm512_set1_ps(bias);
        v0 = _mm512_add_ps(v0, vb);
        v1 = _mm512_add_ps(v1, vb);
        if (clamp) {
            v0 = _mm512_min_ps(_mm512_max_ps(v0, vlo), vhi);
            v1 = _mm512_min_ps(_mm512_max_ps(v1, vlo), vhi);
        }
    }
    _mm512_mask_storeu_ps(cr, k0, v0);
    _mm512_mask_storeu_ps(cr + 16, k1, v1);
}

TGT512 static void kernel_avx512(int64_t K, const float *a, int64_t lda, int packed, const float *b,
                                 int64_t ldb, float *c, int64_t ldc, int m, int n, int accum,
                                 int last, const float *bias, int clamp, float lo, float hi)
{
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m512 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00;
    __m512 c61 = c00, c70 = c00, c71 = c00;
    /* One k step: row i of A times the two vectors of B. */
#define STEP(A0, A1, A2, A3, A4, A5, A6, A7)                                                       \
    do {                                                                                           \
        const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);                        \
        __m512 t = _mm512_set1_ps(A0);                                                             \
        c00 = _mm512_fmadd_ps(t, b0, c00);                                                         \
        c01 = _mm512_fmadd_ps(t, b1, c01);                                                         \
        t = _mm512_set1_ps(A1);                                                                    \
        c10 = _mm512_fmadd_ps(t, b0, c10);                                                         \
        c11 = _mm512_fmadd_ps(t, b1, c11);                                                         \
        t = _mm512_set1_ps(A2);                                                                    \
        c20 = _mm512_fmadd_ps(t, b0, c20);                                                         \
        c21 = _mm512_fmadd_ps(t, b1, c21);                                                         \
        t = _mm512_set1_ps(A3);                                                                    \
        c30 = _mm512_fmadd_ps(t, b0, c30);                                                         \
        c31 = _mm512_fmadd_ps(t, b1, c31);                                                         \
        t = _mm512_set1_ps(A4);                                                                    \
        c40 = _mm512_fmadd_ps(t, b0, c40);                                                         \
        c41 = _mm512_fmadd_ps(t, b1, c41);                                                         \
        t = _mm512_set1_ps(A5);                                                                    \
        c50 = _mm512_fmadd_ps(t, b0, c50);                                                         \
        c51 = _mm512_fmadd_ps(t, b1, c51);                                                         \
        t = _mm512_set1_ps(A6);                                                                    \
        c60 = _mm512_fmadd_ps(t, b0, c60);                                                         \
        c61 = _mm512_fmadd_ps(t, b1, c61);                                                         \
        t = _mm512_set1_ps(A7);                                                                    \
        c70 = _mm512_fmadd_ps(t, b0, c70);                                                         \
        c71 = _mm512_fmadd_ps(t, b1, c71);                                                         \
    } while (0)
    if (packed) { /* one contiguous stream of MR floats per k */
        for (int64_t k = 0; k < K; k++, b += ldb, a += MR) {
            _mm_prefetch((const char *)(a + PF_A), _MM_HINT_T0);
            STEP(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]);
        }
    } else {
        const float *a0 = a, *a1 = a + (m > 1 ? lda : 0), *a2 = a + (m > 2 ? 2 * lda : 0);
        const float *a3 = a + (m > 3 ? 3 * lda : 0), *a4 = a + (m > 4 ? 4 * lda : 0);
        const float *a5 = a + (m > 5 ? 5 * lda : 0), *a6 = a + (m > 6 ? 6 * lda : 0);
        const float *a7 = a + (m > 7 ? 7 * lda : 0);
        for (int64_t k = 0; k < K; k++, b += ldb)
            STEP(a0[k], a1[k], a2[k], a3[k], a4[k], a5[k], a6[k], a7[k]);
    }
#undef STEP
    const __mmask16 k0 = n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
    const __mmask16 k1 = n >= 32  ? (__mmask16)0xFFFF
                         : n > 16 ? (__mmask16)((1u << (n - 16)) - 1u)
                                  : 0;
    const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
#define ST(i, v0, v1)                                                                              \
    if (m > i)                                                                                     \
        store512(c + i * ldc, v0, v1, k0, k1, accum, last, bias ? bias[i] : 0.f, clamp, vlo, vhi);
    ST(0, c00, c01)
    ST(1, c10, c11)
    ST(2, c20, c21)
    ST(3, c30, c31)
    ST(4, c40, c41)
    ST(5, c50, c51)
    ST(6, c60, c61)
    ST(7, c70, c71)
#undef ST
}
#endif

#ifdef CS_HAVE_AVX2
static inline void store256(float *cr, __m256 v0, __m256 v1, int n, int accum, int last, float bias,
                            int clamp, __m256 vlo, __m256 vhi)
{
    /* a full row takes plain loads and stores: the masked ones are slow on AMD's cores */
    const int full = n == 16;
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i k0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx);
    const __m256i k1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(n - 8), idx);
    if (accum) {
        v0 = _mm256_add_ps(v0, full ? _mm256_loadu_ps(cr) : _mm256_maskload_ps(cr, k0));
        v1 = _mm256_add_ps(v1, full ? _mm256_loadu_ps(cr + 8) : _mm256_maskload_ps(cr + 8, k1));
    }
    if (last) {
        __m256 vb = _mm256_set1_ps(bias);
        v0 = _mm256_add_ps(v0, vb);
        v1 = _mm256_add_ps(v1, vb);
        if (clamp) {
            v0 = _mm256_min_ps(_mm256_max_ps(v0, vlo), vhi);
            v1 = _mm256_min_ps(_mm256_max_ps(v1, vlo), vhi);
        }
    }
    if (full) {
        _mm256_storeu_ps(cr, v0);
        _mm256_storeu_ps(cr + 8, v1);
        return;
    }
    _mm256_maskstore_ps(cr, k0, v0);
    _mm256_maskstore_ps(cr + 8, k1, v1);
}

/* 4 rows x 16 columns of a panel (b points at the first of the 16 columns, NR apart); row i
 * of A at a_i[k * ska] (ska 1 for weights as stored, MR for packed ones). */
static void kernel_avx2_4x16(int64_t K, const float *a0, const float *a1, const float *a2,
                             const float *a3, int64_t ska, const float *b, int64_t ldb, float *c,
                             int64_t ldc, int m, int n, int accum, int last, const float *bias,
                             int clamp, float lo, float hi)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00;
    for (int64_t k = 0; k < K; k++, b += ldb, a0 += ska, a1 += ska, a2 += ska, a3 += ska) {
        const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        __m256 t = _mm256_broadcast_ss(a0);
        c00 = _mm256_fmadd_ps(t, b0, c00);
        c01 = _mm256_fmadd_ps(t, b1, c01);
        t = _mm256_broadcast_ss(a1);
        c10 = _mm256_fmadd_ps(t, b0, c10);
        c11 = _mm256_fmadd_ps(t, b1, c11);
        t = _mm256_broadcast_ss(a2);
        c20 = _mm256_fmadd_ps(t, b0, c20);
        c21 = _mm256_fmadd_ps(t, b1, c21);
        t = _mm256_broadcast_ss(a3);
        c30 = _mm256_fmadd_ps(t, b0, c30);
        c31 = _mm256_fmadd_ps(t, b1, c31);
    }
    const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    store256(c, c00, c01, n, accum, last, bias ? bias[0] : 0.f, clamp, vlo, vhi);
    if (m > 1) store256(c + ldc, c10, c11, n, accum, last, bias ? bias[1] : 0.f, clamp, vlo, vhi);
    if (m > 2)
        store256(c + 2 * ldc, c20, c21, n, accum, last, bias ? bias[2] : 0.f, clamp, vlo, vhi);
    if (m > 3)
        store256(c + 3 * ldc, c30, c31, n, accum, last, bias ? bias[3] : 0.f, clamp, vlo, vhi);
}
#endif

/* AVX2 (or portable) kernel over a whole MR x NR tile. */
static void kernel_avx2(int64_t K, const float *a, int64_t lda, int packed, const float *b,
                        int64_t ldb, float *c, int64_t ldc, int m, int n, int accum, int last,
                        const float *bias, int clamp, float lo, float hi)
{
    /* A[i][k] = a[i * sia + k * ska] */
    const int64_t sia = packed ? 1 : lda, ska = packed ? MR : 1;
#ifdef CS_HAVE_AVX2
    for (int r = 0; r < m; r += 4) {
        const int mm = m - r < 4 ? m - r : 4;
        const float *ar = a + r * sia;
        const float *a1 = ar + (mm > 1 ? sia : 0), *a2 = ar + (mm > 2 ? 2 * sia : 0);
        const float *a3 = ar + (mm > 3 ? 3 * sia : 0);
        for (int j = 0; j < n; j += 16)
            kernel_avx2_4x16(K, ar, a1, a2, a3, ska, b + j, ldb, c + r * ldc + j, ldc, mm,
                             n - j < 16 ? n - j : 16, accum, last, bias ? bias + r : NULL, clamp,
                             lo, hi);
    }
#else
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            float s = 0.f;
            for (int64_t k = 0; k < K; k++) s += a[i * sia + k * ska] * b[k * ldb + j];
            float *cc = c + i * ldc + j;
            if (accum) s += *cc;
            if (last) {
                s += bias ? bias[i] : 0.f;
                if (clamp) {
                    s = s > lo ? s : lo;
                    s = s < hi ? s : hi;
                }
            }
            *cc = s;
        }
#endif
}

int cs_gemm_avx512(void)
{
    static atomic_int use = -1;
    int u = atomic_load_explicit(&use, memory_order_relaxed);
    if (u < 0) {
        u = 0;
#ifdef CS_HAVE_AVX512_KERNEL
        const char *e = getenv("CAMSTREAM_NO_AVX512");
        u = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
            __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
            !(e && *e && strcmp(e, "0") != 0);
#endif
        atomic_store_explicit(&use, u, memory_order_relaxed);
    }
    return u;
}

static kernel_fn pick_kernel(void)
{
#ifdef CS_HAVE_AVX512_KERNEL
    if (cs_gemm_avx512()) return kernel_avx512;
#endif
    return kernel_avx2;
}

/* ---- packing W ---------------------------------------------------------------------------- */

size_t cs_conv_gemm_packed_floats(int64_t M, int64_t K)
{
    return (size_t)(cdiv(M, MR) * MR * K);
}

void cs_conv_gemm_pack_w(const float *w, int64_t ldw, int64_t M, int64_t K, float *dst)
{
    const int64_t mp = cdiv(M, MR) * MR, kc_max = k_block(K);
    for (int64_t k0 = 0; k0 < K; k0 += kc_max) {
        const int64_t kc = min64(kc_max, K - k0);
        for (int64_t p = 0; p < mp / MR; p++) {
            float *d = dst + k0 * mp + p * MR * kc;
            const int64_t m = min64(MR, M - p * MR);
            for (int64_t i = 0; i < m; i++) {
                const float *r = w + (p * MR + i) * ldw + k0;
                for (int64_t k = 0; k < kc; k++) d[k * MR + i] = r[k];
            }
            for (int64_t i = m; i < MR; i++)
                for (int64_t k = 0; k < kc; k++) d[k * MR + i] = 0.f;
        }
    }
}

/* ---- driver ------------------------------------------------------------------------------- */

void cs_conv_gemm_run(const cs_conv_gemm *g, int64_t m0, int64_t m1, int64_t n0, int64_t n1,
                      float *buf)
{
    if (m0 >= m1 || n0 >= n1 || g->K < 1) return;
    const kernel_fn kern = pick_kernel();
    const int64_t K = g->K, kc_max = k_block(K), nc = n_block(kc_max, g->N);
    const int64_t mp = cdiv(g->M, MR) * MR; /* rows of the packed weights */
    const int inl = cs_act_is_inline(g->act);
    const int clamp = g->act->kind == CS_ACT_RELU || g->act->kind == CS_ACT_CLIP;
    float lo, hi;
    cs_act_bounds(g->act, &lo, &hi);
    /* 1x1 stride-1 unpadded: B is the input itself, read in place (full panels only). */
    const cs_conv2d_src *s = &g->src;
    const int direct = s->oh == 1 && s->ih == 1 && s->ow == s->iw && s->sw == 1 && s->pw == 0 &&
                       s->ph == 0 && s->kh == 1 && s->kw == 1;
    for (int64_t nb0 = n0; nb0 < n1; nb0 += nc) {
        const int64_t nb1 = min64(n1, nb0 + nc), np = cdiv(nb1 - nb0, NR);
        const int64_t tail = nb0 + (np - 1) * NR; /* start of the last panel */
        for (int64_t k0 = 0; k0 < K; k0 += kc_max) {
            const int64_t k1 = min64(K, k0 + kc_max), kc = k1 - k0;
            const int first = k0 == 0, last = k1 == K;
            if (!direct)
                pack_b(s, k0, k1, nb0, nb1, buf);
            else if (nb1 - tail < NR)
                pack_b(s, k0, k1, tail, nb1, buf);
            for (int64_t mr = m0; mr < m1; mr += MR) {
                const int m = (int)min64(MR, m1 - mr);
                const float *a =
                    g->wp ? g->wp + k0 * mp + mr * kc : g->w + mr * g->ldw + k0; /* mr % MR == 0 */
                const float *bias = g->bias ? g->bias + mr : NULL;
                float *yr = g->y + mr * g->ldy;
                for (int64_t p = 0; p < np; p++) {
                    const int64_t n = nb0 + p * NR;
                    const int cnt = (int)min64(NR, nb1 - n);
                    const float *b = buf + p * kc * NR;
                    int64_t ldb = NR;
                    if (direct && cnt == NR) {
                        b = s->x + k0 * s->iw + n;
                        ldb = s->iw;
                    } else if (direct) {
                        b = buf;
                    }
                    kern(kc, a, g->ldw, g->wp != NULL, b, ldb, yr + n, g->ldy, m, cnt, !first, last,
                         bias, inl && clamp, lo, hi);
                    if (last && !inl)
                        for (int i = 0; i < m; i++) cs_act_apply(g->act, yr + i * g->ldy + n, cnt);
                }
            }
        }
    }
}

typedef struct {
    const cs_conv_gemm *g;
    float *scratch;
    size_t buf;
    int64_t parts, units;
    int by_rows;
} conv_gemm_job;

static void conv_gemm_part(void *ctx, int64_t t0, int64_t t1)
{
    const conv_gemm_job *j = ctx;
    const cs_conv_gemm *g = j->g;
    for (int64_t t = t0; t < t1; t++) {
        int64_t u0 = j->units * t / j->parts, u1 = j->units * (t + 1) / j->parts;
        if (u0 >= u1) continue;
        float *buf = j->scratch + (size_t)t * j->buf;
        if (j->by_rows)
            cs_conv_gemm_run(g, u0 * MR, min64(g->M, u1 * MR), 0, g->N, buf);
        else
            cs_conv_gemm_run(g, 0, g->M, u0 * NR, min64(g->N, u1 * NR), buf);
    }
}

void cs_conv_gemm_par(const cs_exec *ex, const cs_conv_gemm *g, float *scratch)
{
    const size_t buf = (cs_conv_gemm_buf_floats(g->K, g->N) + 15) / 16 * 16;
    int64_t parts = ex && ex->pool ? ex->threads : 1;
    const int64_t pm = cdiv(g->M, MR), pn = cdiv(g->N, NR);
    if ((double)g->M * (double)g->N * (double)g->K < PAR_MIN_FMAS) parts = 1;
    if (parts <= 1) {
        cs_conv_gemm_run(g, 0, g->M, 0, g->N, scratch);
        return;
    }
    conv_gemm_job j = {g, scratch, buf, parts, pn, 0};
    /* Columns when there are enough panels to share; else rows (every thread packs all B). */
    if (pn < 2 * parts && pm > pn) {
        j.by_rows = 1;
        j.units = pm;
    }
    if (j.units < parts) j.parts = j.units;
    cs_parallel_for(ex, j.parts, conv_gemm_part, &j);
}

/* ---- sgemm through the pool --------------------------------------------------------------- */

/* One OpenBLAS call; a single-row product as sgemv (sgemm would pack all of B for it). */
static void blas_call(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int64_t M, int64_t N, int64_t K,
                      float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                      float beta, float *C, int64_t ldc)
{
    if (M == 1 && K > 0) {
        /* C[0][j] = alpha sum_k a_k op(B)[k][j] + beta C[0][j]; a_k = A[k] or A[k * lda]. */
        if (beta == 0.f) memset(C, 0, sizeof(float) * (size_t)N); /* no 0 * NaN from C */
        const int inca = ta == CblasNoTrans ? 1 : (int)lda;
        if (tb == CblasNoTrans) /* B is K x N: C = B^T a */
            cblas_sgemv(CblasRowMajor, CblasTrans, (int)K, (int)N, alpha, B, (int)ldb, A, inca,
                        beta, C, 1);
        else /* B is N x K: C = B a */
            cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)N, (int)K, alpha, B, (int)ldb, A, inca,
                        beta, C, 1);
        return;
    }
    cblas_sgemm(CblasRowMajor, ta, tb, (int)M, (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb,
                beta, C, (int)ldc);
}

typedef struct {
    CBLAS_TRANSPOSE ta, tb;
    int64_t M, N, K, lda, ldb, ldc, parts, units, unit;
    float alpha, beta;
    const float *A, *B;
    float *C;
    int by_rows;
} sgemm_job;

static void sgemm_part(void *ctx, int64_t t0, int64_t t1)
{
    const sgemm_job *j = ctx;
    for (int64_t t = t0; t < t1; t++) {
        int64_t u0 = j->units * t / j->parts, u1 = j->units * (t + 1) / j->parts;
        if (u0 >= u1) continue;
        if (j->by_rows) {
            int64_t i0 = u0 * j->unit, i1 = min64(j->M, u1 * j->unit);
            const float *a = j->A + (j->ta == CblasNoTrans ? i0 * j->lda : i0);
            blas_call(j->ta, j->tb, (i1 - i0), j->N, j->K, j->alpha, a, j->lda, j->B, j->ldb,
                      j->beta, j->C + i0 * j->ldc, j->ldc);
        } else {
            int64_t c0 = u0 * j->unit, c1 = min64(j->N, u1 * j->unit);
            const float *b = j->B + (j->tb == CblasNoTrans ? c0 : c0 * j->ldb);
            blas_call(j->ta, j->tb, j->M, (c1 - c0), j->K, j->alpha, j->A, j->lda, b, j->ldb,
                      j->beta, j->C + c0, j->ldc);
        }
    }
}

void cs_sgemm_par(const cs_exec *ex, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int64_t M, int64_t N,
                  int64_t K, float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                  float beta, float *C, int64_t ldc)
{
    if (M <= 0 || N <= 0) return;
    cs_blas_threads(1);
    int64_t parts = ex && ex->pool ? ex->threads : 1;
    if ((double)M * (double)N * (double)(K > 0 ? K : 1) < PAR_MIN_FMAS) parts = 1;
    sgemm_job j = {ta, tb, M, N, K, lda, ldb, ldc, parts, 0, 16, alpha, beta, A, B, C, 0};
    /* Columns in units of 16 when C is wide enough; else rows in units of 8. */
    if (N >= 32 * parts || N >= M) {
        j.units = cdiv(N, 16);
    } else {
        j.by_rows = 1;
        j.unit = 8;
        j.units = cdiv(M, 8);
    }
    if (j.units < j.parts) j.parts = j.units;
    if (j.parts <= 1) {
        blas_call(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    cs_parallel_for(ex, j.parts, sgemm_part, &j);
}
