/*
 * f32-verf-avx2.c - erf of float32 vectors: the odd/even rational approximation of
 * Eigen's generic_fast_erf_float on [-4, 4] (erf is +-1 in float32 beyond), 7 + 5
 * terms in Horner form with FMA. |error| <= 1e-6 against double erf (f32_eltwise.h).
 */
#include <immintrin.h>

#include "kernels/f32_eltwise.h"

static inline __m256 erf_avx2(__m256 x) {
  const __m256 xc = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(4.0f)), _mm256_set1_ps(-4.0f));
  const __m256 x2 = _mm256_mul_ps(xc, xc);
  __m256 p = _mm256_fmadd_ps(x2, _mm256_set1_ps(-2.72614225801306e-10f), _mm256_set1_ps(2.77068142495902e-08f));
  p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(-2.10102402082508e-06f));
  p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(-5.69250639462346e-05f));
  p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(-7.34990630326855e-04f));
  p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(-2.95459980854025e-03f));
  p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(-1.60960333262415e-02f));
  p = _mm256_mul_ps(xc, p);
  __m256 q = _mm256_fmadd_ps(x2, _mm256_set1_ps(-1.45660718464996e-05f), _mm256_set1_ps(-2.13374055278905e-04f));
  q = _mm256_fmadd_ps(x2, q, _mm256_set1_ps(-1.68282697438203e-03f));
  q = _mm256_fmadd_ps(x2, q, _mm256_set1_ps(-7.37332916720468e-03f));
  q = _mm256_fmadd_ps(x2, q, _mm256_set1_ps(-1.42647390514189e-02f));
  __m256 r = _mm256_div_ps(p, q);
  /* min/max turned NaN into +-4: put it back */
  return _mm256_blendv_ps(r, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

void nn_f32_verf__avx2(size_t n, const float *x, float *y) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, erf_avx2(_mm256_loadu_ps(x + i)));
  if (i < n) {
    float t[8] = {0};
    for (size_t j = 0; j < n - i; j++) t[j] = x[i + j];
    _mm256_storeu_ps(t, erf_avx2(_mm256_loadu_ps(t)));
    for (size_t j = 0; j < n - i; j++) y[i + j] = t[j];
  }
}

/* y = 0.5 x (1 + erf(x * 0.70710678f)) in the order of the scalar composition. */
static inline __m256 gelu_avx2(__m256 x) {
  const __m256 e = erf_avx2(_mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f)));
  return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

void nn_f32_vgelu__avx2(size_t n, const float *x, float *y) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, gelu_avx2(_mm256_loadu_ps(x + i)));
  if (i < n) {
    float t[8] = {0};
    for (size_t j = 0; j < n - i; j++) t[j] = x[i + j];
    _mm256_storeu_ps(t, gelu_avx2(_mm256_loadu_ps(t)));
    for (size_t j = 0; j < n - i; j++) y[i + j] = t[j];
  }
}
