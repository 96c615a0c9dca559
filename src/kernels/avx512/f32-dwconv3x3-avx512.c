/*
 * f32-dwconv3x3-avx512.c - depthwise 3x3 convolution of one NCHW plane, stride 1
 * and 2, 16 outputs of a row per step. Taps that fall in the padding are masked
 * off: masked loads for the right edge, expand-loads for the left edge, so no
 * address outside the row is ever read. Stride 2 loads 32 inputs and keeps the
 * even lanes (vpermt2ps).
 */
#include <immintrin.h>

#include "kernels/f32_conv.h"

static inline __mmask32 bits(long long lo, long long hi) { /* lanes [lo, hi) of 32 */
  if (hi <= lo) return 0;
  const unsigned long long m = (hi >= 64 ? ~0ull : (1ull << hi) - 1) & ~((1ull << lo) - 1);
  return (__mmask32)m;
}

/* Lanes [lo, hi) of 16 loaded from row[base + lane]; zero elsewhere. */
static inline __m512 load16(const float *row, long long base, long long lo, long long hi) {
  const __mmask16 m = (__mmask16)bits(lo, hi);
  if (lo > 0) return _mm512_maskz_expandloadu_ps(m, row + base + lo);
  return _mm512_maskz_loadu_ps(m, row + base);
}

static inline __attribute__((always_inline)) void dw3x3(
    const size_t S, size_t ih, size_t iw, size_t oh, size_t ow, size_t pad_top,
    size_t pad_left, const float *x, const float *w, float bias, float *y,
    const float *minmax) {
  __m512 wv[9];
  for (int i = 0; i < 9; i++) wv[i] = _mm512_set1_ps(w[i]);
  const __m512 vb = _mm512_set1_ps(bias);
  const __m512 lo_v = _mm512_set1_ps(minmax ? minmax[0] : 0.0f);
  const __m512 hi_v = _mm512_set1_ps(minmax ? minmax[1] : 0.0f);
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                         28, 30);
  const long long IW = (long long)iw;
  for (size_t oy = 0; oy < oh; oy++) {
    float *yr = y + oy * ow;
    for (size_t ox0 = 0; ox0 < ow; ox0 += 16) {
      const long long n = ow - ox0 < 16 ? (long long)(ow - ox0) : 16;
      __m512 acc = vb;
      for (int kh = 0; kh < 3; kh++) {
        const long long iy = (long long)(oy * S) - (long long)pad_top + kh;
        if (iy < 0 || iy >= (long long)ih) continue;
        const float *row = x + iy * IW;
        for (int kw = 0; kw < 3; kw++) {
          const long long base = (long long)(ox0 * S) - (long long)pad_left + kw;
          if (S == 1) {
            long long lo = -base, hi = IW - base;
            if (lo < 0) lo = 0;
            if (hi > n) hi = n;
            if (hi <= lo) continue;
            acc = _mm512_fmadd_ps(load16(row, base, lo, hi), wv[kh * 3 + kw], acc);
          } else {
            /* lanes t of 32 hold row[base + t]; outputs take t = 2j, j < n */
            long long lo = -base, hi = IW - base;
            if (lo < 0) lo = 0;
            if (hi > 2 * n - 1) hi = 2 * n - 1;
            if (hi <= lo) continue;
            const __m512 v0 = load16(row, base, lo < 16 ? lo : 16, hi < 16 ? hi : 16);
            const __m512 v1 =
                hi > 16 ? load16(row, base + 16, lo > 16 ? lo - 16 : 0, hi - 16)
                        : _mm512_setzero_ps();
            const __m512 e = _mm512_permutex2var_ps(v0, even, v1);
            acc = _mm512_fmadd_ps(e, wv[kh * 3 + kw], acc);
          }
        }
      }
      if (minmax) acc = _mm512_min_ps(_mm512_max_ps(acc, lo_v), hi_v);
      _mm512_mask_storeu_ps(yr + ox0, (__mmask16)((1u << n) - 1), acc);
    }
  }
}

void nn_f32_dwconv3x3s1__avx512(size_t ih, size_t iw, size_t oh, size_t ow, size_t pad_top,
                                size_t pad_left, const float *x, const float *w, float bias,
                                float *y, const float *minmax) {
  dw3x3(1, ih, iw, oh, ow, pad_top, pad_left, x, w, bias, y, minmax);
}

void nn_f32_dwconv3x3s2__avx512(size_t ih, size_t iw, size_t oh, size_t ow, size_t pad_top,
                                size_t pad_left, const float *x, const float *w, float bias,
                                float *y, const float *minmax) {
  dw3x3(2, ih, iw, oh, ow, pad_top, pad_left, x, w, bias, y, minmax);
}
