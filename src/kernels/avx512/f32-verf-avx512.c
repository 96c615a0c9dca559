/*
 * f32-verf-avx512.c - erf of float32 vectors: the odd/even rational approximation of
 * Eigen's generic_fast_erf_float on [-4, 4] (erf is +-1 in float32 beyond), 7 + 5
 * terms in Horner form with FMA. |error| <= 1e-6 against double erf (f32_eltwise.h).
 */
#include <immintrin.h>

#include "kernels/f32_eltwise.h"

static inline __m512 erf_avx512(__m512 x) {
  const __m512 xc = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(4.0f)), _mm512_set1_ps(-4.0f));
  const __m512 x2 = _mm512_mul_ps(xc, xc);
  __m512 p = _mm512_fmadd_ps(x2, _mm512_set1_ps(-2.72614225801306e-10f), _mm512_set1_ps(2.77068142495902e-08f));
  p = _mm512_fmadd_ps(x2, p, _mm512_set1_ps(-2.10102402082508e-06f));
  p = _mm512_fmadd_ps(x2, p, _mm512_set1_ps(-5.69250639462346e-05f));
  p = _mm512_fmadd_ps(x2, p, _mm512_set1_ps(-7.34990630326855e-04f));
  p = _mm512_fmadd_ps(x2, p, _mm512_set1_ps(-2.95459980854025e-03f));
  p = _mm512_fmadd_ps(x2, p, _mm512_set1_ps(-1.60960333262415e-02f));
  p = _mm512_mul_ps(xc, p);
  __m512 q = _mm512_fmadd_ps(x2, _mm512_set1_ps(-1.45660718464996e-05f), _mm512_set1_ps(-2.13374055278905e-04f));
  q = _mm512_fmadd_ps(x2, q, _mm512_set1_ps(-1.68282697438203e-03f));
  q = _mm512_fmadd_ps(x2, q, _mm512_set1_ps(-7.37332916720468e-03f));
  q = _mm512_fmadd_ps(x2, q, _mm512_set1_ps(-1.42647390514189e-02f));
  __m512 r = _mm512_div_ps(p, q);
  /* min/max turned NaN into +-4: put it back */
  return _mm512_mask_mov_ps(r, _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), x);
}

void nn_f32_verf__avx512(size_t n, const float *x, float *y) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, erf_avx512(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, m, erf_avx512(_mm512_maskz_loadu_ps(m, x + i)));
  }
}

/* y = 0.5 x (1 + erf(x * 0.70710678f)): the operations of the erf form of Gelu in the
 * order of the scalar composition (f32_eltwise.h), so the result equals it bit for bit. */
static inline __m512 gelu_avx512(__m512 x) {
  const __m512 e = erf_avx512(_mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752f)));
  return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

void nn_f32_vgelu__avx512(size_t n, const float *x, float *y) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, gelu_avx512(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, m, gelu_avx512(_mm512_maskz_loadu_ps(m, x + i)));
  }
}
