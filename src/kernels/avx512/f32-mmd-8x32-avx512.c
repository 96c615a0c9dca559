/*
 * f32-mmd-8x32-avx512.c - the direct float32 matmul microkernel (f32_mm_direct.h):
 * 8 rows x 32 columns in 16 zmm accumulators; per depth step two (masked) loads of a B
 * row and one broadcast of each A row's element, one FMA per term in increasing depth,
 * equal to nn_f32_mmd_ukernel_8x32__scalar bit for bit.
 */
#include <immintrin.h>

#include "kernels/f32_mm_direct.h"

static inline __mmask16 mask16(size_t n) {
  return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
}

#define FMA_ROW(r)                                               \
  do {                                                           \
    const __m512 av = _mm512_set1_ps(a##r[kk]);                  \
    c##r##0 = _mm512_fmadd_ps(av, b0, c##r##0);                  \
    c##r##1 = _mm512_fmadd_ps(av, b1, c##r##1);                  \
  } while (0)

#define STORE_ROW(r)                                             \
  do {                                                           \
    if (r < mr) {                                                \
      _mm512_mask_storeu_ps(c + (r) * ldc, k0, c##r##0);         \
      _mm512_mask_storeu_ps(c + (r) * ldc + 16, k1, c##r##1);    \
    }                                                            \
  } while (0)

void nn_f32_mmd_ukernel_8x32__avx512(size_t mr, size_t nc, size_t k, const float *a,
                                     size_t lda, const float *b, size_t ldb, float *c,
                                     size_t ldc) {
  const __mmask16 k0 = mask16(nc), k1 = mask16(nc > 16 ? nc - 16 : 0);
  /* Rows past mr repeat row 0 (computed, not stored): no branch in the loop. */
  const float *a0 = a, *a1 = mr > 1 ? a + lda : a, *a2 = mr > 2 ? a + 2 * lda : a,
              *a3 = mr > 3 ? a + 3 * lda : a, *a4 = mr > 4 ? a + 4 * lda : a,
              *a5 = mr > 5 ? a + 5 * lda : a, *a6 = mr > 6 ? a + 6 * lda : a,
              *a7 = mr > 7 ? a + 7 * lda : a;
  __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
         c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00,
         c61 = c00, c70 = c00, c71 = c00;
  if (nc > 16) {
    for (size_t kk = 0; kk < k; kk++, b += ldb) {
      const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_maskz_loadu_ps(k1, b + 16);
      FMA_ROW(0);
      FMA_ROW(1);
      FMA_ROW(2);
      FMA_ROW(3);
      FMA_ROW(4);
      FMA_ROW(5);
      FMA_ROW(6);
      FMA_ROW(7);
    }
  } else {
    /* One vector of columns: the second half stays 0 and is not stored. */
    const __m512 b1 = _mm512_setzero_ps();
    for (size_t kk = 0; kk < k; kk++, b += ldb) {
      const __m512 b0 = _mm512_maskz_loadu_ps(k0, b);
      const __m512 av0 = _mm512_set1_ps(a0[kk]), av1 = _mm512_set1_ps(a1[kk]);
      const __m512 av2 = _mm512_set1_ps(a2[kk]), av3 = _mm512_set1_ps(a3[kk]);
      const __m512 av4 = _mm512_set1_ps(a4[kk]), av5 = _mm512_set1_ps(a5[kk]);
      const __m512 av6 = _mm512_set1_ps(a6[kk]), av7 = _mm512_set1_ps(a7[kk]);
      c00 = _mm512_fmadd_ps(av0, b0, c00);
      c10 = _mm512_fmadd_ps(av1, b0, c10);
      c20 = _mm512_fmadd_ps(av2, b0, c20);
      c30 = _mm512_fmadd_ps(av3, b0, c30);
      c40 = _mm512_fmadd_ps(av4, b0, c40);
      c50 = _mm512_fmadd_ps(av5, b0, c50);
      c60 = _mm512_fmadd_ps(av6, b0, c60);
      c70 = _mm512_fmadd_ps(av7, b0, c70);
    }
    (void)b1;
  }
  STORE_ROW(0);
  STORE_ROW(1);
  STORE_ROW(2);
  STORE_ROW(3);
  STORE_ROW(4);
  STORE_ROW(5);
  STORE_ROW(6);
  STORE_ROW(7);
}
