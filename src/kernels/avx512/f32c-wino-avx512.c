/*
 * f32c-wino-avx512.c - the transforms of Winograd F(2x2, 3x3) on channel-last tiles
 * (f32c_conv.h), 16 channels per vector (masked tails): the same sums in the same order
 * as the scalar twins, so the results are equal to theirs bit for bit.
 */
#include <immintrin.h>

#include "kernels/f32c_conv.h"

static inline __mmask16 mask16(size_t n) {
  return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
}

void nn_f32c_wino_in__avx512(size_t c, const float *const *p, float *v, size_t vs) {
  for (size_t ch = 0; ch < c; ch += 16) {
    const __mmask16 k = mask16(c - ch);
    __m512 t[16];
    for (int j = 0; j < 4; j++) { /* B^T d, column by column */
      const __m512 d0 = _mm512_maskz_loadu_ps(k, p[j] + ch), d1 = _mm512_maskz_loadu_ps(k, p[4 + j] + ch);
      const __m512 d2 = _mm512_maskz_loadu_ps(k, p[8 + j] + ch), d3 = _mm512_maskz_loadu_ps(k, p[12 + j] + ch);
      t[j] = _mm512_sub_ps(d0, d2);
      t[4 + j] = _mm512_add_ps(d1, d2);
      t[8 + j] = _mm512_sub_ps(d2, d1);
      t[12 + j] = _mm512_sub_ps(d1, d3);
    }
    for (int i = 0; i < 4; i++) { /* (B^T d) B */
      const __m512 *r = t + 4 * i;
      float *o = v + 4 * i * vs + ch;
      _mm512_mask_storeu_ps(o, k, _mm512_sub_ps(r[0], r[2]));
      _mm512_mask_storeu_ps(o + vs, k, _mm512_add_ps(r[1], r[2]));
      _mm512_mask_storeu_ps(o + 2 * vs, k, _mm512_sub_ps(r[2], r[1]));
      _mm512_mask_storeu_ps(o + 3 * vs, k, _mm512_sub_ps(r[1], r[3]));
    }
  }
}

void nn_f32c_wino_out__avx512(size_t c, const float *m, size_t ms, const float *bias,
                              const float *const *z, float lo, float hi, float *const *y) {
  const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
  for (size_t ch = 0; ch < c; ch += 16) {
    const __mmask16 k = mask16(c - ch);
    __m512 s[8];
    for (int j = 0; j < 4; j++) { /* A^T M */
      const __m512 m0 = _mm512_maskz_loadu_ps(k, m + j * ms + ch);
      const __m512 m1 = _mm512_maskz_loadu_ps(k, m + (4 + j) * ms + ch);
      const __m512 m2 = _mm512_maskz_loadu_ps(k, m + (8 + j) * ms + ch);
      const __m512 m3 = _mm512_maskz_loadu_ps(k, m + (12 + j) * ms + ch);
      s[j] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
      s[4 + j] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
    }
    const __m512 b = _mm512_maskz_loadu_ps(k, bias + ch);
    for (int r = 0; r < 2; r++) { /* (A^T M) A */
      const __m512 *q = s + 4 * r;
      const __m512 o[2] = {_mm512_add_ps(_mm512_add_ps(q[0], q[1]), q[2]),
                           _mm512_sub_ps(_mm512_sub_ps(q[1], q[2]), q[3])};
      for (int e = 0; e < 2; e++) {
        float *yp = y[2 * r + e];
        if (!yp) continue;
        __m512 a = _mm512_add_ps(o[e], b);
        if (z) a = _mm512_add_ps(a, _mm512_maskz_loadu_ps(k, z[2 * r + e] + ch));
        _mm512_mask_storeu_ps(yp + ch, k, _mm512_max_ps(vlo, _mm512_min_ps(vhi, a)));
      }
    }
  }
}
