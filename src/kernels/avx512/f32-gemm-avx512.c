/*
 * f32-gemm-avx512.c - float32 GEMM microkernels MRx32 for AVX-512F: MR rows of two
 * zmm accumulators each, B panels loaded as two vectors per k, A values broadcast.
 * Column tails use masked loads/stores, so the kernel never touches C past nr.
 */
#include <immintrin.h>
#include <stdint.h>

#include "kernels/f32_gemm.h"

/* The epilogue of a tile: (+ C) + bias, clamp, masked store of mr rows x nr columns. */
static inline __attribute__((always_inline)) void store_tile(
    const size_t MR, size_t mr, size_t nr, const __m512 *acc0, const __m512 *acc1, float *c,
    size_t ldc, const float *bias, unsigned flags, const float *minmax) {
  const __mmask16 m0 = nr >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nr) - 1);
  const __mmask16 m1 = nr >= 32 ? (__mmask16)0xffff
                       : nr > 16 ? (__mmask16)((1u << (nr - 16)) - 1)
                                 : (__mmask16)0;
  __m512 bc0 = _mm512_setzero_ps(), bc1 = _mm512_setzero_ps();
  if (flags & NN_F32_GEMM_BIAS_COL) {
    bc0 = _mm512_maskz_loadu_ps(m0, bias);
    bc1 = _mm512_maskz_loadu_ps(m1, bias + 16);
  }
  __m512 lo = _mm512_setzero_ps(), hi = _mm512_setzero_ps();
  if (flags & NN_F32_GEMM_CLAMP) {
    lo = _mm512_set1_ps(minmax[0]);
    hi = _mm512_set1_ps(minmax[1]);
  }
#pragma GCC unroll 16
  for (size_t i = 0; i < MR; i++) {
    if (i >= mr) break;
    float *ci = c + i * ldc;
    __m512 v0 = acc0[i], v1 = acc1[i];
    if (flags & NN_F32_GEMM_ACC) {
      v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, ci));
      v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, ci + 16));
    }
    if (flags & NN_F32_GEMM_BIAS_ROW) {
      const __m512 bi = _mm512_set1_ps(bias[i]);
      v0 = _mm512_add_ps(v0, bi);
      v1 = _mm512_add_ps(v1, bi);
    }
    if (flags & NN_F32_GEMM_BIAS_COL) {
      v0 = _mm512_add_ps(v0, bc0);
      v1 = _mm512_add_ps(v1, bc1);
    }
    if (flags & NN_F32_GEMM_CLAMP) {
      v0 = _mm512_min_ps(_mm512_max_ps(v0, lo), hi);
      v1 = _mm512_min_ps(_mm512_max_ps(v1, lo), hi);
    }
    _mm512_mask_storeu_ps(ci, m0, v0);
    _mm512_mask_storeu_ps(ci + 16, m1, v1);
  }
}

static inline __attribute__((always_inline)) void gemm_mrx32(
    const size_t MR, size_t mr, size_t nr, size_t kc, const float *a, const float *b,
    float *c, size_t ldc, const float *bias, unsigned flags, const float *minmax) {
  __m512 acc0[16], acc1[16];
#pragma GCC unroll 16
  for (size_t i = 0; i < MR; i++) acc0[i] = acc1[i] = _mm512_setzero_ps();
  for (size_t k = 0; k < kc; k++) {
    const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
#pragma GCC unroll 16
    for (size_t i = 0; i < MR; i++) {
      const __m512 ai = _mm512_set1_ps(a[i]);
      acc0[i] = _mm512_fmadd_ps(ai, b0, acc0[i]);
      acc1[i] = _mm512_fmadd_ps(ai, b1, acc1[i]);
    }
    a += MR;
    b += 32;
  }
  store_tile(MR, mr, nr, acc0, acc1, c, ldc, bias, flags, minmax);
}

void nn_f32_gemm_ukernel_8x32__avx512(size_t mr, size_t nr, size_t kc, const float *a,
                                      const float *b, float *c, size_t ldc,
                                      const float *bias, unsigned flags,
                                      const float *minmax) {
  gemm_mrx32(8, mr, nr, kc, a, b, c, ldc, bias, flags, minmax);
}

void nn_f32_gemm_ukernel_12x32__avx512(size_t mr, size_t nr, size_t kc, const float *a,
                                       const float *b, float *c, size_t ldc,
                                       const float *bias, unsigned flags,
                                       const float *minmax) {
  gemm_mrx32(12, mr, nr, kc, a, b, c, ldc, bias, flags, minmax);
}

/*
 * Direct-A variant (f32_gemm.h, nn_f32_gemm_direct_a_ukernel_fn): A[i][k] = a[koff[k] + i],
 * mr consecutive values of a convolution's input grid (mr output positions of one row),
 * B a packed panel (weights), so a convolution with positions as rows packs nothing.
 */
static inline __attribute__((always_inline)) void gemm_mrx32_direct_a(
    const size_t MR, size_t mr, size_t nr, size_t kc, const float *a, const int32_t *koff,
    const float *b, float *c, size_t ldc, const float *bias, unsigned flags,
    const float *minmax) {
  __m512 acc0[16], acc1[16];
#pragma GCC unroll 16
  for (size_t i = 0; i < MR; i++) acc0[i] = acc1[i] = _mm512_setzero_ps();
  if (mr == MR) {
    for (size_t k = 0; k < kc; k++, b += 32) {
      const float *ak = a + koff[k];
      const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
#pragma GCC unroll 16
      for (size_t i = 0; i < MR; i++) {
        const __m512 ai = _mm512_set1_ps(ak[i]);
        acc0[i] = _mm512_fmadd_ps(ai, b0, acc0[i]);
        acc1[i] = _mm512_fmadd_ps(ai, b1, acc1[i]);
      }
    }
  } else { /* the last rows: never read past row mr - 1 */
    for (size_t k = 0; k < kc; k++, b += 32) {
      const float *ak = a + koff[k];
      const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
#pragma GCC unroll 16
      for (size_t i = 0; i < MR; i++) {
        if (i >= mr) break;
        const __m512 ai = _mm512_set1_ps(ak[i]);
        acc0[i] = _mm512_fmadd_ps(ai, b0, acc0[i]);
        acc1[i] = _mm512_fmadd_ps(ai, b1, acc1[i]);
      }
    }
  }
  store_tile(MR, mr, nr, acc0, acc1, c, ldc, bias, flags, minmax);
}

void nn_f32_gemm_direct_a_ukernel_7x32__avx512(size_t mr, size_t nr, size_t kc, const float *a,
                                               const int32_t *koff, const float *b, float *c,
                                               size_t ldc, const float *bias, unsigned flags,
                                               const float *minmax) {
  gemm_mrx32_direct_a(7, mr, nr, kc, a, koff, b, c, ldc, bias, flags, minmax);
}

/*
 * One row times a packed B (f32_gemm.h, nn_f32_gemv_fn): c[j] (op)= alpha * sum_k
 * a[k * a_inc] * panel[k * 32 + j] for j < n <= 32. Four k in flight, each with its own
 * pair of accumulators, so the FMA latency is hidden with a single output row.
 */
void nn_f32_gemv_1x32__avx512(size_t n, size_t K, const float *a, size_t a_inc, float alpha,
                              const float *b, size_t panel, float *c, const float *bias,
                              unsigned flags, const float *minmax) {
  (void)panel; /* 32 */
  __m512 s0[4], s1[4];
  for (int u = 0; u < 4; u++) s0[u] = s1[u] = _mm512_setzero_ps();
  size_t k = 0;
  for (; k + 4 <= K; k += 4, b += 128) {
#pragma GCC unroll 4
    for (int u = 0; u < 4; u++) {
      const __m512 av = _mm512_set1_ps(a[(k + (size_t)u) * a_inc]);
      s0[u] = _mm512_fmadd_ps(av, _mm512_loadu_ps(b + u * 32), s0[u]);
      s1[u] = _mm512_fmadd_ps(av, _mm512_loadu_ps(b + u * 32 + 16), s1[u]);
    }
  }
  for (; k < K; k++, b += 32) {
    const __m512 av = _mm512_set1_ps(a[k * a_inc]);
    s0[0] = _mm512_fmadd_ps(av, _mm512_loadu_ps(b), s0[0]);
    s1[0] = _mm512_fmadd_ps(av, _mm512_loadu_ps(b + 16), s1[0]);
  }
  __m512 acc[2] = {_mm512_add_ps(_mm512_add_ps(s0[0], s0[1]), _mm512_add_ps(s0[2], s0[3])),
                   _mm512_add_ps(_mm512_add_ps(s1[0], s1[1]), _mm512_add_ps(s1[2], s1[3]))};
  if (alpha != 1.0f) {
    acc[0] = _mm512_mul_ps(acc[0], _mm512_set1_ps(alpha));
    acc[1] = _mm512_mul_ps(acc[1], _mm512_set1_ps(alpha));
  }
  store_tile(1, 1, n, acc, acc + 1, c, 0, bias, flags, minmax);
}

/*
 * Direct-B tile (f32_gemm.h, nn_f32_gemm_direct_ukernel_fn), 8 x 48: row k of B is read in
 * place at b + koff[k] (a convolution's padded input grid), so B is never packed; 24
 * accumulators, three B vectors and eight broadcasts per k (on a 256x256 input 8 x 32
 * reached 78% of the FMA peak, this 85%). Columns past nr are masked: never read.
 */
void nn_f32_gemm_direct_ukernel_8x48__avx512(size_t mr, size_t nr, size_t kc, const float *a,
                                             const float *b, const int32_t *koff, float *c,
                                             size_t ldc, const float *bias, unsigned flags,
                                             const float *minmax) {
  __m512 acc[3][8];
#pragma GCC unroll 8
  for (size_t i = 0; i < 8; i++) acc[0][i] = acc[1][i] = acc[2][i] = _mm512_setzero_ps();
  __mmask16 m[3];
  for (int v = 0; v < 3; v++) {
    const long long left = (long long)nr - 16 * v;
    m[v] = left >= 16 ? (__mmask16)0xffff : left > 0 ? (__mmask16)((1u << left) - 1) : 0;
  }
  for (size_t k = 0; k < kc; k++, a += 8) {
    const float *bk = b + koff[k];
    const __m512 b0 = _mm512_maskz_loadu_ps(m[0], bk), b1 = _mm512_maskz_loadu_ps(m[1], bk + 16),
                 b2 = _mm512_maskz_loadu_ps(m[2], bk + 32);
#pragma GCC unroll 8
    for (size_t i = 0; i < 8; i++) {
      const __m512 ai = _mm512_set1_ps(a[i]);
      acc[0][i] = _mm512_fmadd_ps(ai, b0, acc[0][i]);
      acc[1][i] = _mm512_fmadd_ps(ai, b1, acc[1][i]);
      acc[2][i] = _mm512_fmadd_ps(ai, b2, acc[2][i]);
    }
  }
  const __m512 lo = _mm512_set1_ps(flags & NN_F32_GEMM_CLAMP ? minmax[0] : 0.0f);
  const __m512 hi = _mm512_set1_ps(flags & NN_F32_GEMM_CLAMP ? minmax[1] : 0.0f);
#pragma GCC unroll 8
  for (size_t i = 0; i < 8; i++) {
    if (i >= mr) break;
    float *ci = c + i * ldc;
#pragma GCC unroll 3
    for (int v = 0; v < 3; v++) {
      __m512 x = acc[v][i];
      if (flags & NN_F32_GEMM_ACC) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m[v], ci + 16 * v));
      if (flags & NN_F32_GEMM_BIAS_ROW) x = _mm512_add_ps(x, _mm512_set1_ps(bias[i]));
      if (flags & NN_F32_GEMM_BIAS_COL) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m[v], bias + 16 * v));
      if (flags & NN_F32_GEMM_CLAMP) x = _mm512_min_ps(_mm512_max_ps(x, lo), hi);
      _mm512_mask_storeu_ps(ci + 16 * v, m[v], x);
    }
  }
}
