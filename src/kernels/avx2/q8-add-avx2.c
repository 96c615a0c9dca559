/*
 * q8-add-avx2.c - QLinearAdd of same-shape (or scalar b) 8-bit tensors, 8 elements per
 * step, with the expression of q8_eltwise.h (raw codes, two fused multiply-adds onto the
 * zero-point constant, round to nearest even, clamp).
 * Contract: src/kernels/q8_eltwise.h.
 */
#include "kernels/q8_avx2_inl.h"
#include "kernels/q8_eltwise.h"

void nn_q8_add__avx2(size_t n, const uint8_t *a, const uint8_t *b, const nn_q8_add_params *p,
                     uint8_t *y);

static inline __m256 load_f(const uint8_t *x, size_t n, int sgn) {
  __m128i v;
  if (n >= 8) {
    v = _mm_loadl_epi64((const __m128i *)x);
  } else {
    uint8_t t[16] = {0};
    memcpy(t, x, n);
    v = _mm_loadu_si128((const __m128i *)t);
  }
  return _mm256_cvtepi32_ps(sgn ? _mm256_cvtepi8_epi32(v) : _mm256_cvtepu8_epi32(v));
}

void nn_q8_add__avx2(size_t n, const uint8_t *a, const uint8_t *b, const nn_q8_add_params *p,
                     uint8_t *y) {
  const int sgn = p->is_signed;
  const __m256 ra = _mm256_set1_ps(p->ra), rb = _mm256_set1_ps(p->rb);
  const float fx = nn_q8_add_fixed(p);
  const __m256 fixed = _mm256_set1_ps(fx);
  const __m256i zero = _mm256_setzero_si256();
  const __m256 lo = _mm256_set1_ps((float)p->qmin), hi = _mm256_set1_ps((float)p->qmax);
  __m256 bs = fixed; /* b * rb + fixed of a scalar b */
  if (p->b_scalar) {
    const int32_t qb = sgn ? (int32_t)(int8_t)b[0] : b[0];
    bs = _mm256_set1_ps(fmaf((float)qb, p->rb, fx));
  }
  for (size_t i = 0; i < n; i += 8) {
    const size_t m = n - i;
    const __m256 vb = p->b_scalar ? bs : _mm256_fmadd_ps(load_f(b + i, m, sgn), rb, fixed);
    const __m256i q = q8_round_clamp8(_mm256_fmadd_ps(load_f(a + i, m, sgn), ra, vb), lo, hi, zero);
    q8_store_bytes(y + i, q8_narrow8(q, sgn), m < 8 ? m : 8);
  }
}
