/*
 * f32-dwconv3x3c16-avx512.c - depthwise 3x3 convolution of up to 16 small NCHW planes at
 * once with the channels in the vector lanes (as a blocked NCHW16c layout would hold
 * them): the planes are transposed 16 positions at a time into a [position][16] copy,
 * spread onto a zero-padded hp x wp grid, every output is 9 FMAs of 16-channel vectors
 * (four outputs in flight), and the [position][16] result is transposed back into the
 * planes with the fused sum and clamp. On planes narrower than a vector (7x7, 14x14) the
 * per-plane kernels (f32-dwconv3x3-avx512.c) fill few lanes and pay their border work
 * per plane; here each of those costs is shared by 16 channels.
 */
#include <immintrin.h>
#include <string.h>

#include "kernels/f32_conv.h"

/* r[i] (row i of a 16 x 16 block) becomes column i. */
static inline __attribute__((always_inline)) void transpose16(__m512 r[16]) {
  __m512 t[16];
#pragma GCC unroll 8
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
#pragma GCC unroll 4
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
    r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
    r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
#pragma GCC unroll 4
  for (int i = 0; i < 4; i++) {
    t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
    t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xDD);
    t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xDD);
  }
#pragma GCC unroll 4
  for (int i = 0; i < 4; i++) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD);
    r[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);
    r[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xDD);
  }
}

static inline __mmask16 first_lanes(size_t n) {
  return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1);
}

void nn_f32_dwconv3x3c16__avx512(const nn_f32_dwconv3x3c16_args *a, const float *x,
                                 const float *w, const float *bias, const float *z, float *y,
                                 size_t nc, float *scratch) {
  const size_t ih = a->ih, iw = a->iw, oh = a->oh, ow = a->ow, S = a->stride;
  const size_t hp = (oh - 1) * S + 3, wp = (ow - 1) * S + 3;
  const size_t in_sz = ih * iw, out_sz = oh * ow;
  float *grid = scratch, *flat = scratch + hp * wp * 16; /* flat: the input, then the output */
  const __mmask16 cm = first_lanes(nc);

  /* planes -> flat [position][16], 16 positions per transpose (missing channels 0) */
  for (size_t p0 = 0; p0 < in_sz; p0 += 16) {
    const __mmask16 pm = first_lanes(in_sz - p0);
    __m512 r[16];
#pragma GCC unroll 16
    for (size_t c = 0; c < 16; c++)
      r[c] = _mm512_maskz_loadu_ps(c < nc ? pm : 0, x + (c < nc ? c : 0) * in_sz + p0);
    transpose16(r);
    const size_t n = in_sz - p0 < 16 ? in_sz - p0 : 16;
#pragma GCC unroll 16
    for (size_t i = 0; i < 16; i++)
      if (i < n) _mm512_storeu_ps(flat + (p0 + i) * 16, r[i]);
  }
  /* flat -> zero-padded grid: rows [pad_top, pad_top + ih), columns [pad_left, ...) */
  const __m512 zero = _mm512_setzero_ps();
  for (size_t r = 0; r < hp; r++) {
    float *g = grid + r * wp * 16;
    const long long iy = (long long)r - (long long)a->pad_top;
    if (iy < 0 || iy >= (long long)ih) {
      for (size_t q = 0; q < wp; q++) _mm512_storeu_ps(g + q * 16, zero);
      continue;
    }
    for (size_t q = 0; q < wp; q++) {
      const long long ix = (long long)q - (long long)a->pad_left;
      _mm512_storeu_ps(g + q * 16, ix >= 0 && ix < (long long)iw
                                      ? _mm512_loadu_ps(flat + ((size_t)iy * iw + (size_t)ix) * 16)
                                      : zero);
    }
  }

  /* weights and bias per lane */
  __m512 wv[9];
  const __m512i idx9 = _mm512_mullo_epi32(
      _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), _mm512_set1_epi32(9));
#pragma GCC unroll 9
  for (int t = 0; t < 9; t++)
    wv[t] = _mm512_mask_i32gather_ps(zero, cm, idx9, w + t, 4);
  const __m512 vb = bias ? _mm512_maskz_loadu_ps(cm, bias) : zero;

  /* outputs -> flat [position][16], four independent chains per step */
  float *out = flat;
  for (size_t oy = 0; oy < oh; oy++) {
    const float *g0 = grid + oy * S * wp * 16;
    float *o = out + oy * ow * 16;
    size_t ox = 0;
    for (; ox + 4 <= ow; ox += 4) {
      __m512 a0 = vb, a1 = vb, a2 = vb, a3 = vb;
#pragma GCC unroll 9
      for (int t = 0; t < 9; t++) {
        const float *gp = g0 + ((size_t)(t / 3) * wp + ox * S + (size_t)(t % 3)) * 16;
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(gp), wv[t], a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(gp + S * 16), wv[t], a1);
        a2 = _mm512_fmadd_ps(_mm512_loadu_ps(gp + 2 * S * 16), wv[t], a2);
        a3 = _mm512_fmadd_ps(_mm512_loadu_ps(gp + 3 * S * 16), wv[t], a3);
      }
      _mm512_storeu_ps(o + ox * 16, a0);
      _mm512_storeu_ps(o + (ox + 1) * 16, a1);
      _mm512_storeu_ps(o + (ox + 2) * 16, a2);
      _mm512_storeu_ps(o + (ox + 3) * 16, a3);
    }
    for (; ox < ow; ox++) {
      __m512 acc = vb;
#pragma GCC unroll 9
      for (int t = 0; t < 9; t++)
        acc = _mm512_fmadd_ps(
            _mm512_loadu_ps(g0 + ((size_t)(t / 3) * wp + ox * S + (size_t)(t % 3)) * 16), wv[t],
            acc);
      _mm512_storeu_ps(o + ox * 16, acc);
    }
  }

  /* flat -> planes, with the fused sum and the clamp */
  const __m512 lo = _mm512_set1_ps(a->minmax ? a->minmax[0] : 0.0f);
  const __m512 hi = _mm512_set1_ps(a->minmax ? a->minmax[1] : 0.0f);
  for (size_t p0 = 0; p0 < out_sz; p0 += 16) {
    const size_t n = out_sz - p0 < 16 ? out_sz - p0 : 16;
    const __mmask16 pm = first_lanes(n);
    __m512 r[16];
#pragma GCC unroll 16
    for (size_t i = 0; i < 16; i++)
      r[i] = _mm512_maskz_loadu_ps(i < n ? 0xffff : 0, out + (p0 + (i < n ? i : 0)) * 16);
    transpose16(r);
#pragma GCC unroll 16
    for (size_t c = 0; c < 16; c++) {
      if (c >= nc) break;
      __m512 v = r[c];
      if (z) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(pm, z + c * out_sz + p0));
      if (a->minmax) v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
      _mm512_mask_storeu_ps(y + c * out_sz + p0, pm, v);
    }
  }
}
