/*
 * f32-dwconv3x3-avx2.c - depthwise 3x3 convolution of one NCHW plane, stride 1 and
 * 2, 8 outputs of a row per step. The few leftmost outputs whose taps reach into
 * the left padding are computed one by one; the right edge uses vmaskmovps, so no
 * address outside the row is read. Stride 2 loads 16 inputs and keeps the even ones.
 */
#include <immintrin.h>

#include "kernels/f32_conv.h"

/* row[base + lane] for lanes < hi (hi may exceed 8), zero elsewhere; base >= 0. */
static inline __m256 load8(const float *row, long long base, long long hi) {
  if (hi >= 8) return _mm256_loadu_ps(row + base);
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(hi > 0 ? hi : 0)), idx);
  return _mm256_maskload_ps(row + base, m);
}

static inline __attribute__((always_inline)) void dw3x3(
    const size_t S, size_t ih, size_t iw, size_t oh, size_t ow, size_t pad_top,
    size_t pad_left, const float *x, const float *w, float bias, float *y,
    const float *minmax) {
  __m256 wv[9];
  for (int i = 0; i < 9; i++) wv[i] = _mm256_set1_ps(w[i]);
  const __m256 vb = _mm256_set1_ps(bias);
  const __m256 lo_v = _mm256_set1_ps(minmax ? minmax[0] : 0.0f);
  const __m256 hi_v = _mm256_set1_ps(minmax ? minmax[1] : 0.0f);
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const long long IW = (long long)iw;
  size_t ox_start = (pad_left + S - 1) / S; /* first output with no tap left of the row */
  if (ox_start > ow) ox_start = ow;
  for (size_t oy = 0; oy < oh; oy++) {
    float *yr = y + oy * ow;
    for (size_t ox = 0; ox < ox_start; ox++) {
      float v = nn_f32_dwconv3x3_point(ih, iw, S, pad_top, pad_left, x, w, bias, oy, ox);
      if (minmax) v = v < minmax[0] ? minmax[0] : v > minmax[1] ? minmax[1] : v;
      yr[ox] = v;
    }
    for (size_t ox0 = ox_start; ox0 < ow; ox0 += 8) {
      const long long n = ow - ox0 < 8 ? (long long)(ow - ox0) : 8;
      __m256 acc = vb;
      for (int kh = 0; kh < 3; kh++) {
        const long long iy = (long long)(oy * S) - (long long)pad_top + kh;
        if (iy < 0 || iy >= (long long)ih) continue;
        const float *row = x + iy * IW;
        for (int kw = 0; kw < 3; kw++) {
          const long long base = (long long)(ox0 * S) - (long long)pad_left + kw; /* >= 0 */
          long long hi = IW - base;
          if (S == 1) {
            if (hi > n) hi = n;
            if (hi <= 0) continue;
            acc = _mm256_fmadd_ps(load8(row, base, hi), wv[kh * 3 + kw], acc);
          } else {
            if (hi > 2 * n - 1) hi = 2 * n - 1;
            if (hi <= 0) continue;
            const __m256 v0 = load8(row, base, hi);
            const __m256 v1 = hi > 8 ? load8(row, base + 8, hi - 8) : _mm256_setzero_ps();
            const __m256 sh = _mm256_shuffle_ps(v0, v1, 0x88);
            const __m256 e =
                _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(sh), 0xD8));
            acc = _mm256_fmadd_ps(e, wv[kh * 3 + kw], acc);
          }
        }
      }
      if (minmax) acc = _mm256_min_ps(_mm256_max_ps(acc, lo_v), hi_v);
      if (n == 8)
        _mm256_storeu_ps(yr + ox0, acc);
      else
        _mm256_maskstore_ps(yr + ox0, _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), idx), acc);
    }
  }
}

void nn_f32_dwconv3x3s1__avx2(size_t ih, size_t iw, size_t oh, size_t ow, size_t pad_top,
                              size_t pad_left, const float *x, const float *w, float bias,
                              float *y, const float *minmax) {
  dw3x3(1, ih, iw, oh, ow, pad_top, pad_left, x, w, bias, y, minmax);
}

void nn_f32_dwconv3x3s2__avx2(size_t ih, size_t iw, size_t oh, size_t ow, size_t pad_top,
                              size_t pad_left, const float *x, const float *w, float bias,
                              float *y, const float *minmax) {
  dw3x3(2, ih, iw, oh, ow, pad_top, pad_left, x, w, bias, y, minmax);
}
