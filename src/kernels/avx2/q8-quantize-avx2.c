/*
 * q8-quantize-avx2.c - QuantizeLinear of float32 to 8 bits, 8 elements per step: one IEEE
 * division (as the reference), round to nearest even, NaN to the zero point, clamp in
 * float, + zero point. Contract: src/kernels/q8_eltwise.h.
 */
#include "kernels/q8_avx2_inl.h"
#include "kernels/q8_eltwise.h"

void nn_q8_quantize__avx2(size_t n, const float *x, float scale, int32_t zp, int32_t qmin,
                          int32_t qmax, uint8_t *y);

void nn_q8_quantize__avx2(size_t n, const float *x, float scale, int32_t zp, int32_t qmin,
                          int32_t qmax, uint8_t *y) {
  const __m256 s = _mm256_set1_ps(scale);
  const __m256 lo = _mm256_set1_ps((float)(qmin - zp)), hi = _mm256_set1_ps((float)(qmax - zp));
  const __m256i z = _mm256_set1_epi32(zp);
  const int sgn = qmin < 0;
  for (size_t i = 0; i < n; i += 8) {
    const size_t m = n - i;
    __m256 v;
    if (m >= 8) {
      v = _mm256_loadu_ps(x + i);
    } else {
      float t[8] = {0};
      memcpy(t, x + i, m * sizeof *t);
      v = _mm256_loadu_ps(t);
    }
    v = _mm256_round_ps(_mm256_div_ps(v, s), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    v = _mm256_and_ps(v, _mm256_cmp_ps(v, v, _CMP_ORD_Q)); /* NaN -> 0 */
    v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
    const __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(v), z);
    q8_store_bytes(y + i, q8_narrow8(q, sgn), m < 8 ? m : 8);
  }
}
