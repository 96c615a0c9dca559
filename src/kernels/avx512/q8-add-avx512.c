/*
 * q8-add-avx512.c - QLinearAdd of same-shape (or scalar b) 8-bit tensors, 16 elements per
 * step: widen the raw codes, two fused multiply-adds onto the zero-point constant (the
 * expression of q8_eltwise.h), round to nearest even, clamp. Contract: q8_eltwise.h.
 */
#include "kernels/q8_avx512_inl.h"
#include "kernels/q8_eltwise.h"

void nn_q8_add__avx512(size_t n, const uint8_t *a, const uint8_t *b, const nn_q8_add_params *p,
                       uint8_t *y);

static inline __m512 load_f(const uint8_t *x, __mmask16 m, int sgn) {
  const __m128i v = _mm_maskz_loadu_epi8(m, x);
  return _mm512_cvtepi32_ps(sgn ? _mm512_cvtepi8_epi32(v) : _mm512_cvtepu8_epi32(v));
}

void nn_q8_add__avx512(size_t n, const uint8_t *a, const uint8_t *b, const nn_q8_add_params *p,
                       uint8_t *y) {
  const int sgn = p->is_signed;
  const __m512 ra = _mm512_set1_ps(p->ra), rb = _mm512_set1_ps(p->rb);
  const float fx = nn_q8_add_fixed(p);
  const __m512 fixed = _mm512_set1_ps(fx);
  const __m512 lo = _mm512_set1_ps((float)p->qmin), hi = _mm512_set1_ps((float)p->qmax);
  __m512 bs = fixed; /* b * rb + fixed of a scalar b */
  if (p->b_scalar) {
    const int32_t qb = sgn ? (int32_t)(int8_t)b[0] : b[0];
    bs = _mm512_set1_ps(fmaf((float)qb, p->rb, fx));
  }
  for (size_t i = 0; i < n; i += 16) {
    const __mmask16 m = q8_mask16(n - i);
    const __m512 vb = p->b_scalar ? bs : _mm512_fmadd_ps(load_f(b + i, m, sgn), rb, fixed);
    __m512 f = _mm512_roundscale_ps(_mm512_fmadd_ps(load_f(a + i, m, sgn), ra, vb),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    f = _mm512_min_ps(_mm512_max_ps(f, lo), hi);
    _mm_mask_storeu_epi8(y + i, m, _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(f)));
  }
}
