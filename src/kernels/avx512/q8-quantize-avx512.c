/*
 * q8-quantize-avx512.c - QuantizeLinear of float32 to 8 bits, 16 elements per step: one
 * IEEE division (as the reference), round to nearest even, NaN to the zero point, clamp
 * in float, + zero point. Contract: src/kernels/q8_eltwise.h.
 */
#include "kernels/q8_avx512_inl.h"
#include "kernels/q8_eltwise.h"

void nn_q8_quantize__avx512(size_t n, const float *x, float scale, int32_t zp, int32_t qmin,
                            int32_t qmax, uint8_t *y);

void nn_q8_quantize__avx512(size_t n, const float *x, float scale, int32_t zp, int32_t qmin,
                            int32_t qmax, uint8_t *y) {
  const __m512 s = _mm512_set1_ps(scale);
  const __m512 lo = _mm512_set1_ps((float)(qmin - zp)), hi = _mm512_set1_ps((float)(qmax - zp));
  const __m512i z = _mm512_set1_epi32(zp);
  for (size_t i = 0; i < n; i += 16) {
    const __mmask16 m = q8_mask16(n - i);
    __m512 v = _mm512_div_ps(_mm512_maskz_loadu_ps(m, x + i), s);
    v = _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    /* NaN -> 0 (the zero point after the offset); the clamp then keeps it */
    v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, v, _CMP_ORD_Q), v);
    v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
    const __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(v), z);
    _mm_mask_storeu_epi8(y + i, m, _mm512_cvtepi32_epi8(q));
  }
}
