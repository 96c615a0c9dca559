/*
 * f32-gemm-avx2.c - float32 GEMM microkernel 6x16 for AVX2+FMA: 6 rows of two ymm
 * accumulators (12 registers), B panel loaded as two vectors per k, A broadcast.
 * Column tails go through vmaskmovps, so C is never touched past nr.
 */
#include <immintrin.h>

#include "kernels/f32_gemm.h"

static inline __m256i tail_mask(size_t n) { /* lanes < n (n may exceed 8) */
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n > 8 ? 8 : n)), idx);
}

void nn_f32_gemm_ukernel_6x16__avx2(size_t mr, size_t nr, size_t kc, const float *a,
                                    const float *b, float *c, size_t ldc, const float *bias,
                                    unsigned flags, const float *minmax) {
  enum { MR = 6 };
  __m256 acc0[MR], acc1[MR];
#pragma GCC unroll 6
  for (int i = 0; i < MR; i++) acc0[i] = acc1[i] = _mm256_setzero_ps();
  for (size_t k = 0; k < kc; k++) {
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
      const __m256 ai = _mm256_broadcast_ss(a + i);
      acc0[i] = _mm256_fmadd_ps(ai, b0, acc0[i]);
      acc1[i] = _mm256_fmadd_ps(ai, b1, acc1[i]);
    }
    a += MR;
    b += 16;
  }
  const int full = nr >= 16;
  const __m256i k0 = tail_mask(nr), k1 = tail_mask(nr > 8 ? nr - 8 : 0);
  __m256 bc0 = _mm256_setzero_ps(), bc1 = _mm256_setzero_ps();
  if (flags & NN_F32_GEMM_BIAS_COL) {
    bc0 = _mm256_maskload_ps(bias, k0);
    bc1 = _mm256_maskload_ps(bias + 8, k1);
  }
  __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
  if (flags & NN_F32_GEMM_CLAMP) {
    lo = _mm256_set1_ps(minmax[0]);
    hi = _mm256_set1_ps(minmax[1]);
  }
#pragma GCC unroll 6
  for (int i = 0; i < MR; i++) {
    if ((size_t)i >= mr) break;
    float *ci = c + i * ldc;
    __m256 v0 = acc0[i], v1 = acc1[i];
    if (flags & NN_F32_GEMM_ACC) {
      v0 = _mm256_add_ps(v0, full ? _mm256_loadu_ps(ci) : _mm256_maskload_ps(ci, k0));
      v1 = _mm256_add_ps(v1, full ? _mm256_loadu_ps(ci + 8) : _mm256_maskload_ps(ci + 8, k1));
    }
    if (flags & NN_F32_GEMM_BIAS_ROW) {
      const __m256 bi = _mm256_broadcast_ss(bias + i);
      v0 = _mm256_add_ps(v0, bi);
      v1 = _mm256_add_ps(v1, bi);
    }
    if (flags & NN_F32_GEMM_BIAS_COL) {
      v0 = _mm256_add_ps(v0, bc0);
      v1 = _mm256_add_ps(v1, bc1);
    }
    if (flags & NN_F32_GEMM_CLAMP) {
      v0 = _mm256_min_ps(_mm256_max_ps(v0, lo), hi);
      v1 = _mm256_min_ps(_mm256_max_ps(v1, lo), hi);
    }
    if (full) {
      _mm256_storeu_ps(ci, v0);
      _mm256_storeu_ps(ci + 8, v1);
    } else {
      _mm256_maskstore_ps(ci, k0, v0);
      _mm256_maskstore_ps(ci + 8, k1, v1);
    }
  }
}
