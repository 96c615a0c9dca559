/*
 * f32-dwconv3x3-avx512.c - depthwise 3x3 convolution of one NCHW plane, stride 1
 * and 2, 16 outputs of a row per vector. The plane is walked column strip by column
 * strip: the loads of a strip's three taps (offset, masks, lane shift) are worked out
 * once and reused for every output row, and each row sums its three kernel rows in
 * three independent accumulators, so consecutive rows overlap instead of waiting on
 * one 9-FMA dependency chain. Taps in the padding are masked off, so no element outside
 * the row is ever read: stride 1 loads each tap in place with the lanes outside the row
 * masked (masked-off lanes never fault); stride 2 loads 32 inputs from the first tap
 * inside the row and keeps every other lane, shifted into place (vpermt2ps).
 */
#include <immintrin.h>

#include "kernels/f32_conv.h"

static inline __mmask16 bits16(long long lo, long long hi) { /* lanes [lo, hi) of 16 */
  if (lo < 0) lo = 0;
  if (hi > 16) hi = 16;
  if (hi <= lo) return 0;
  return (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1));
}

/* A strip's tap column kw: lanes t in [lo, hi) read row[b0 + S * (t - lo)]; m0/m1 are
 * the load masks at row + b0 and row + b0 + 16 (stride 2), out = lanes [lo, hi) and idx
 * moves loaded lanes into place. Stride 1 loads in place instead: b0 is the column of
 * lane 0 (before the row when the tap is in the left padding) and m0 = lanes [lo, hi),
 * so the masked-off lanes outside the row are never read. A tap with no lane inside the
 * row has all masks 0. (SH is unused for stride 1.) */
#define TAP_LOAD(SH, row, b0, m0, m1, out, idx)                                          \
  (S == 1 ? _mm512_maskz_loadu_ps(m0, (row) + (b0))                                      \
          : _mm512_maskz_permutex2var_ps(out, _mm512_maskz_loadu_ps(m0, (row) + (b0)), idx, \
                                         _mm512_maskz_loadu_ps(m1, (row) + (b0) + 16)))

/* The three taps of kernel row k on input row r, summed. */
#define ROW_TERM(SH, r, k)                                                               \
  _mm512_fmadd_ps(TAP_LOAD(SH, r, b2, ma2, mb2, o2, i2), wv[k + 2],                     \
                  _mm512_fmadd_ps(TAP_LOAD(SH, r, b1, ma1, mb1, o1, i1), wv[k + 1],     \
                                  _mm512_mul_ps(TAP_LOAD(SH, r, b0, ma0, mb0, o0, i0), wv[k])))

static inline __attribute__((always_inline)) void dw3x3(
    const size_t S, size_t ih, size_t iw, size_t oh, size_t ow, size_t pad_top,
    size_t pad_left, const float *x, const float *w, float bias, float *y,
    const float *minmax) {
  __m512 wv[9];
  for (int i = 0; i < 9; i++) wv[i] = _mm512_set1_ps(w[i]);
  const __m512 vb = _mm512_set1_ps(bias);
  const __m512 lo_v = _mm512_set1_ps(minmax ? minmax[0] : 0.0f);
  const __m512 hi_v = _mm512_set1_ps(minmax ? minmax[1] : 0.0f);
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const long long IW = (long long)iw, IH = (long long)ih;
  for (size_t ox0 = 0; ox0 < ow; ox0 += 16) {
    const long long n = ow - ox0 < 16 ? (long long)(ow - ox0) : 16;
    long long bb[3];
    __mmask16 ma[3], mb[3], oo[3];
    __m512i ii[3];
    int shift = S == 2;
    for (int kw = 0; kw < 3; kw++) {
      const long long base = (long long)(ox0 * S) - (long long)pad_left + kw;
      long long lo, hi;
      if (S == 1) {
        lo = base < 0 ? -base : 0;
        hi = IW - base < n ? IW - base : n;
      } else {
        lo = base < 0 ? (-base + 1) / 2 : 0;
        hi = IW - 1 - base < 0 ? 0 : (IW - 1 - base) / 2 + 1;
        if (hi > n) hi = n;
      }
      if (hi <= lo) {
        bb[kw] = 0;
        ma[kw] = mb[kw] = oo[kw] = 0;
        ii[kw] = lane;
        continue;
      }
      bb[kw] = base + (long long)S * lo;
      oo[kw] = bits16(lo, hi);
      if (S == 1) { /* in place: lane u reads row[base + u], only lanes [lo, hi) */
        bb[kw] = base;
        ma[kw] = oo[kw];
        mb[kw] = 0;
        ii[kw] = lane;
      } else {
        const long long cnt = 2 * (hi - lo) - 1; /* inputs spanned */
        ma[kw] = bits16(0, cnt);
        mb[kw] = bits16(0, cnt - 16);
        ii[kw] = _mm512_slli_epi32(_mm512_sub_epi32(lane, _mm512_set1_epi32((int)lo)), 1);
      }
    }
    const long long b0 = bb[0], b1 = bb[1], b2 = bb[2];
    const __mmask16 ma0 = ma[0], ma1 = ma[1], ma2 = ma[2], mb0 = mb[0], mb1 = mb[1],
                    mb2 = mb[2], o0 = oo[0], o1 = oo[1], o2 = oo[2];
    const __m512i i0 = ii[0], i1 = ii[1], i2 = ii[2];
    const __mmask16 store = bits16(0, n);
    float *yc = y + ox0;
    /* rows whose three input rows are all inside: oy*S - pad_top >= 0, +2 < IH */
    size_t y0 = (pad_top + S - 1) / S, y1 = 0;
    if ((long long)pad_top + IH >= 3) y1 = (size_t)((long long)pad_top + IH - 3) / S + 1;
    if (y1 > oh) y1 = oh;
    if (y0 > y1) y0 = y1;
    for (size_t oy = 0; oy < oh; oy++) {
      const long long iy = (long long)(oy * S) - (long long)pad_top;
      __m512 acc;
      if (oy >= y0 && oy < y1) { /* interior rows: no row checks */
        const float *r = x + iy * IW;
        const size_t run = y1 - oy;
        for (size_t q = 0; q < run; q++, r += S * IW) {
          __m512 a0, a1, a2;
          if (shift) {
            a0 = ROW_TERM(1, r, 0);
            a1 = ROW_TERM(1, r + IW, 3);
            a2 = ROW_TERM(1, r + 2 * IW, 6);
          } else {
            a0 = ROW_TERM(0, r, 0);
            a1 = ROW_TERM(0, r + IW, 3);
            a2 = ROW_TERM(0, r + 2 * IW, 6);
          }
          acc = _mm512_add_ps(_mm512_add_ps(a0, vb), _mm512_add_ps(a1, a2));
          if (minmax) acc = _mm512_min_ps(_mm512_max_ps(acc, lo_v), hi_v);
          _mm512_mask_storeu_ps(yc + (oy + q) * ow, store, acc);
        }
        oy = y1 - 1;
        continue;
      }
      acc = vb;
      if (iy >= 0 && iy < IH) acc = _mm512_add_ps(acc, ROW_TERM(1, x + iy * IW, 0));
      if (iy + 1 >= 0 && iy + 1 < IH) acc = _mm512_add_ps(acc, ROW_TERM(1, x + (iy + 1) * IW, 3));
      if (iy + 2 >= 0 && iy + 2 < IH) acc = _mm512_add_ps(acc, ROW_TERM(1, x + (iy + 2) * IW, 6));
      if (minmax) acc = _mm512_min_ps(_mm512_max_ps(acc, lo_v), hi_v);
      _mm512_mask_storeu_ps(yc + oy * ow, store, acc);
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
