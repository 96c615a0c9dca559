/*
 * q8-add-avx512.c - QLinearAdd of same-shape (or scalar b) 8-bit tensors, 16 elements per
 * step: widen, subtract zero points, two float multiplies and an add (no FMA, as the
 * reference), round to nearest even, clamp, + zero point. Contract: q8_eltwise.h.
 */
#include "kernels/q8_avx512_inl.h"
#include "kernels/q8_eltwise.h"

void nn_q8_add__avx512(size_t n, const uint8_t *a, const uint8_t *b, const nn_q8_add_params *p,
                       uint8_t *y);

static inline __m512 load_f(const uint8_t *x, __mmask16 m, int sgn, __m512i z) {
  const __m128i v = _mm_maskz_loadu_epi8(m, x);
  const __m512i w = sgn ? _mm512_cvtepi8_epi32(v) : _mm512_cvtepu8_epi32(v);
  return _mm512_cvtepi32_ps(_mm512_sub_epi32(w, z));
}

void nn_q8_add__avx512(size_t n, const uint8_t *a, const uint8_t *b, const nn_q8_add_params *p,
                       uint8_t *y) {
  const int sgn = p->is_signed;
  const __m512 ra = _mm512_set1_ps(p->ra), rb = _mm512_set1_ps(p->rb);
  const __m512i za = _mm512_set1_epi32(p->za), zb = _mm512_set1_epi32(p->zb);
  const __m512i zc = _mm512_set1_epi32(p->zc);
  const __m512 lo = _mm512_set1_ps((float)(p->qmin - p->zc));
  const __m512 hi = _mm512_set1_ps((float)(p->qmax - p->zc));
  __m512 vbs = _mm512_setzero_ps();
  if (p->b_scalar) {
    int32_t qb = sgn ? (int32_t)(int8_t)b[0] : b[0];
    vbs = _mm512_mul_ps(_mm512_set1_ps((float)(qb - p->zb)), rb);
  }
  for (size_t i = 0; i < n; i += 16) {
    const __mmask16 m = q8_mask16(n - i);
    const __m512 va = _mm512_mul_ps(load_f(a + i, m, sgn, za), ra);
    const __m512 vb = p->b_scalar ? vbs : _mm512_mul_ps(load_f(b + i, m, sgn, zb), rb);
    __m512 f = _mm512_roundscale_ps(_mm512_add_ps(va, vb),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    f = _mm512_min_ps(_mm512_max_ps(f, lo), hi);
    const __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(f), zc);
    _mm_mask_storeu_epi8(y + i, m, _mm512_cvtepi32_epi8(q));
  }
}
