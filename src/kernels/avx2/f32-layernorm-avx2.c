/*
 * f32-layernorm-avx2.c - LayerNormalization of one contiguous row: two passes in float
 * (mean, then the centred variance, as the reference does in double), then
 * y = (x - mean) * inv_std * scale + bias with FMA. Tolerance in f32_eltwise.h.
 */
#include <immintrin.h>
#include <math.h>

#include "kernels/f32_eltwise.h"

static inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

void nn_f32_layernorm__avx2(size_t n, const float *x, const float *scale, const float *bias,
                            float eps, float *y, float *mean, float *inv_std) {
  size_t i = 0;
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  for (; i + 16 <= n; i += 16) {
    s0 = _mm256_add_ps(s0, _mm256_loadu_ps(x + i));
    s1 = _mm256_add_ps(s1, _mm256_loadu_ps(x + i + 8));
  }
  for (; i + 8 <= n; i += 8) s0 = _mm256_add_ps(s0, _mm256_loadu_ps(x + i));
  float s = hsum(_mm256_add_ps(s0, s1));
  for (; i < n; i++) s += x[i];
  const float mu = n ? s / (float)n : 0.0f;
  const __m256 vmu = _mm256_set1_ps(mu);
  __m256 v0 = _mm256_setzero_ps(), v1 = _mm256_setzero_ps();
  for (i = 0; i + 16 <= n; i += 16) {
    const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(x + i), vmu);
    const __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(x + i + 8), vmu);
    v0 = _mm256_fmadd_ps(d0, d0, v0);
    v1 = _mm256_fmadd_ps(d1, d1, v1);
  }
  for (; i + 8 <= n; i += 8) {
    const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(x + i), vmu);
    v0 = _mm256_fmadd_ps(d, d, v0);
  }
  float v = hsum(_mm256_add_ps(v0, v1));
  for (; i < n; i++) v += (x[i] - mu) * (x[i] - mu);
  const float inv = 1.0f / sqrtf((n ? v / (float)n : 0.0f) + eps);
  const __m256 vinv = _mm256_set1_ps(inv);
  for (i = 0; i + 8 <= n; i += 8) {
    const __m256 t = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vmu), vinv);
    const __m256 b = bias ? _mm256_loadu_ps(bias + i) : _mm256_setzero_ps();
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(t, _mm256_loadu_ps(scale + i), b));
  }
  for (; i < n; i++) y[i] = (x[i] - mu) * inv * scale[i] + (bias ? bias[i] : 0.0f);
  if (mean) *mean = mu;
  if (inv_std) *inv_std = inv;
}
