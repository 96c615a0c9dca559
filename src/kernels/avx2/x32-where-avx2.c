/*
 * x32-where-avx2.c - Where over 32-bit elements: o[i] = c[i * sc] ? x[i * sx] : y[i * sy]
 * with strides in {0, 1} (one inner run of a broadcast plan). A bitwise select, so the
 * result equals nn_where__ref exactly for every payload (NaNs included).
 */
#include <immintrin.h>
#include <string.h>

#include "kernels/f32_eltwise.h"

void nn_x32_where__avx2(int64_t n, const uint8_t *c, int sc, const void *x_, int sx,
                        const void *y_, int sy, void *o_) {
  const uint32_t *x = x_, *y = y_;
  uint32_t *o = o_;
  int64_t i = 0;
  const __m256i xb = _mm256_set1_epi32((int)x[0]), yb = _mm256_set1_epi32((int)y[0]);
  const __m256i cb = _mm256_set1_epi32(c[0] ? -1 : 0), zero = _mm256_setzero_si256();
  for (; i + 8 <= n; i += 8) {
    __m256i m = cb;
    if (sc) {
      int64_t c8;
      memcpy(&c8, c + i, 8);
      m = _mm256_cmpgt_epi32(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(c8)), zero);
    }
    const __m256i xv = sx ? _mm256_loadu_si256((const __m256i *)(x + i)) : xb;
    const __m256i yv = sy ? _mm256_loadu_si256((const __m256i *)(y + i)) : yb;
    _mm256_storeu_si256((__m256i *)(o + i), _mm256_blendv_epi8(yv, xv, m));
  }
  for (; i < n; i++) o[i] = c[i * sc] ? x[i * sx] : y[i * sy];
}
