/*
 * f32c-conv-avx2.c - channel-last float32 convolution (f32c_conv.h) with AVX2 + FMA:
 * the dense 8-pixel x 32-channel tile as four blocks of 4 pixels x 16 channels (eight
 * accumulators, two weight vectors and a broadcast of the sixteen registers; a last
 * block of <= 8 channels as 8 pixels x 8), the
 * depthwise kernel with 8 channels per vector and eight pixel chains, and the Winograd
 * F(2x2, 3x3) transforms 8 channels per vector. The same sums in the same order as the
 * scalar twins (FMA from the bias, taps then channels; the transforms' adds), so the
 * Winograd transforms equal theirs bit for bit. Epilogue: + z, then the clamp (min then
 * max with the bounds first: a NaN stays NaN).
 */
#include <immintrin.h>

#include "kernels/f32c_conv.h"

/* Lanes below n (n <= 8) set. */
static inline __m256i mask8(size_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n < 8 ? n : 8)),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static inline __m256 clamp8(__m256 v, __m256 lo, __m256 hi) {
  return _mm256_max_ps(lo, _mm256_min_ps(hi, v));
}

/* y = clamp(a (+ z)) over the lanes of k (all 8 when full). */
static inline __attribute__((always_inline)) void put8(float *y, const float *z, __m256 a, __m256i k,
                                                       int full, __m256 lo, __m256 hi) {
  if (full) {
    if (z) a = _mm256_add_ps(a, _mm256_loadu_ps(z));
    _mm256_storeu_ps(y, clamp8(a, lo, hi));
  } else {
    if (z) a = _mm256_add_ps(a, _mm256_maskload_ps(z, k));
    _mm256_maskstore_ps(y, k, clamp8(a, lo, hi));
  }
}

/* Rows r0 .. r0 + 3 of the tile, channels j0 .. j0 + 15 of the panel (nc16 of them
 * stored). */
static inline __attribute__((always_inline)) void
blk4x16(size_t r0, size_t mr, size_t nc16, size_t ntaps, size_t kc, const void *const *ind,
        size_t step, const float *w, const float *bias, const float *z, __m256 vlo, __m256 vhi,
        float *y, size_t ldy) {
  const __m256 b0 = _mm256_loadu_ps(bias), b1 = _mm256_loadu_ps(bias + 8);
  __m256 a00 = b0, a01 = b1, a10 = b0, a11 = b1, a20 = b0, a21 = b1, a30 = b0, a31 = b1;
  for (size_t t = 0; t < ntaps; t++) {
    const float *x0, *x1, *x2, *x3;
    if (step) {
      x0 = (const float *)ind[t] + r0 * step, x1 = x0 + step, x2 = x1 + step, x3 = x2 + step;
    } else {
      const void *const *it = ind + t * NN_F32C_MR + r0;
      x0 = it[0], x1 = it[1], x2 = it[2], x3 = it[3];
    }
    const float *wt = w + t * kc * NN_F32C_NR;
    for (size_t c = 0; c < kc; c++, wt += NN_F32C_NR) {
      const __m256 w0 = _mm256_loadu_ps(wt), w1 = _mm256_loadu_ps(wt + 8);
      __m256 xb = _mm256_broadcast_ss(x0 + c);
      a00 = _mm256_fmadd_ps(xb, w0, a00);
      a01 = _mm256_fmadd_ps(xb, w1, a01);
      xb = _mm256_broadcast_ss(x1 + c);
      a10 = _mm256_fmadd_ps(xb, w0, a10);
      a11 = _mm256_fmadd_ps(xb, w1, a11);
      xb = _mm256_broadcast_ss(x2 + c);
      a20 = _mm256_fmadd_ps(xb, w0, a20);
      a21 = _mm256_fmadd_ps(xb, w1, a21);
      xb = _mm256_broadcast_ss(x3 + c);
      a30 = _mm256_fmadd_ps(xb, w0, a30);
      a31 = _mm256_fmadd_ps(xb, w1, a31);
    }
  }
  const __m256i k0 = mask8(nc16), k1 = mask8(nc16 > 8 ? nc16 - 8 : 0);
  const int f0 = nc16 >= 8, f1 = nc16 >= 16;
  const __m256 acc[8] = {a00, a01, a10, a11, a20, a21, a30, a31};
  for (size_t r = 0; r < 4 && r0 + r < mr; r++) {
    float *yr = y + (r0 + r) * ldy;
    const float *zr = z ? z + (r0 + r) * ldy : NULL;
    put8(yr, zr, acc[2 * r], k0, f0, vlo, vhi);
    if (nc16 > 8) put8(yr + 8, zr ? zr + 8 : NULL, acc[2 * r + 1], k1, f1, vlo, vhi);
  }
}

/* All 8 rows, channels j0 .. j0 + 7 of the panel (n8 <= 8 of them stored): the narrow
 * end of a panel (U-Nets' 20 or 40 channels) in eight chains. */
static void blk8x8(size_t mr, size_t n8, size_t ntaps, size_t kc, const void *const *ind,
                   size_t step, const float *w, const float *bias, const float *z, __m256 vlo,
                   __m256 vhi, float *y, size_t ldy) {
  const __m256 b = _mm256_loadu_ps(bias);
  __m256 a0 = b, a1 = b, a2 = b, a3 = b, a4 = b, a5 = b, a6 = b, a7 = b;
  for (size_t t = 0; t < ntaps; t++) {
    const float *x[8];
    for (size_t r = 0; r < 8; r++)
      x[r] = step ? (const float *)ind[t] + r * step : (const float *)ind[t * NN_F32C_MR + r];
    const float *wt = w + t * kc * NN_F32C_NR;
    for (size_t c = 0; c < kc; c++, wt += NN_F32C_NR) {
      const __m256 w0 = _mm256_loadu_ps(wt);
      a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(x[0] + c), w0, a0);
      a1 = _mm256_fmadd_ps(_mm256_broadcast_ss(x[1] + c), w0, a1);
      a2 = _mm256_fmadd_ps(_mm256_broadcast_ss(x[2] + c), w0, a2);
      a3 = _mm256_fmadd_ps(_mm256_broadcast_ss(x[3] + c), w0, a3);
      a4 = _mm256_fmadd_ps(_mm256_broadcast_ss(x[4] + c), w0, a4);
      a5 = _mm256_fmadd_ps(_mm256_broadcast_ss(x[5] + c), w0, a5);
      a6 = _mm256_fmadd_ps(_mm256_broadcast_ss(x[6] + c), w0, a6);
      a7 = _mm256_fmadd_ps(_mm256_broadcast_ss(x[7] + c), w0, a7);
    }
  }
  const __m256i k = mask8(n8);
  const __m256 acc[8] = {a0, a1, a2, a3, a4, a5, a6, a7};
  for (size_t r = 0; r < mr; r++)
    put8(y + r * ldy, z ? z + r * ldy : NULL, acc[r], k, n8 == 8, vlo, vhi);
}

void nn_f32c_conv_8x32__avx2(size_t mr, size_t nc, size_t ntaps, size_t kc,
                             const void *const *ind, size_t step, const float *w,
                             const float *bias, const float *z, float lo, float hi, float *y,
                             size_t ldy) {
  const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
  for (size_t j = 0; j < nc; j += 16) {
    const size_t n16 = nc - j < 16 ? nc - j : 16;
    const float *zj = z ? z + j : NULL;
    if (n16 <= 8) {
      blk8x8(mr, n16, ntaps, kc, ind, step, w + j, bias + j, zj, vlo, vhi, y + j, ldy);
      continue;
    }
    blk4x16(0, mr, n16, ntaps, kc, ind, step, w + j, bias + j, zj, vlo, vhi, y + j, ldy);
    if (mr > 4)
      blk4x16(4, mr, n16, ntaps, kc, ind, step, w + j, bias + j, zj, vlo, vhi, y + j, ldy);
  }
}

/* Depthwise, one 8-channel block at offset cb (k: its lanes; full: all 8). */
static inline __attribute__((always_inline)) void
dw_block(size_t npix, size_t ntaps, const void *const *ind, size_t step, size_t cb, __m256i k,
         int full, const float *w, size_t ws, const float *bias, const float *z, __m256 vlo,
         __m256 vhi, float *y, size_t ldy) {
#define LD(p) (full ? _mm256_loadu_ps(p) : _mm256_maskload_ps((p), k))
  const __m256 b = LD(bias + cb);
  size_t i = 0;
  for (; i + 8 <= npix; i += 8) {
    __m256 p0 = b, p1 = b, p2 = b, p3 = b, p4 = b, p5 = b, p6 = b, p7 = b;
    const size_t off = cb + i * step;
    for (size_t t = 0; t < ntaps; t++) {
      const __m256 wv = LD(w + t * ws + cb);
      const float *x0 = (const float *)ind[t] + off, *x4 = x0 + 4 * step;
      p0 = _mm256_fmadd_ps(LD(x0), wv, p0);
      p1 = _mm256_fmadd_ps(LD(x0 + step), wv, p1);
      p2 = _mm256_fmadd_ps(LD(x0 + 2 * step), wv, p2);
      p3 = _mm256_fmadd_ps(LD(x0 + 3 * step), wv, p3);
      p4 = _mm256_fmadd_ps(LD(x4), wv, p4);
      p5 = _mm256_fmadd_ps(LD(x4 + step), wv, p5);
      p6 = _mm256_fmadd_ps(LD(x4 + 2 * step), wv, p6);
      p7 = _mm256_fmadd_ps(LD(x4 + 3 * step), wv, p7);
    }
    const __m256 pv[8] = {p0, p1, p2, p3, p4, p5, p6, p7};
    for (size_t q = 0; q < 8; q++)
      put8(y + cb + (i + q) * ldy, z ? z + cb + (i + q) * ldy : NULL, pv[q], k, full, vlo, vhi);
  }
  for (; i < npix; i++) {
    __m256 a = b;
    const size_t off = cb + i * step;
    for (size_t t = 0; t < ntaps; t++)
      a = _mm256_fmadd_ps(LD((const float *)ind[t] + off), LD(w + t * ws + cb), a);
    put8(y + cb + i * ldy, z ? z + cb + i * ldy : NULL, a, k, full, vlo, vhi);
  }
#undef LD
}

void nn_f32c_dw__avx2(size_t npix, size_t c, size_t ntaps, const void *const *ind, size_t step,
                      const float *w, size_t ws, const float *bias, const float *z, float lo,
                      float hi, float *y, size_t ldy) {
  const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
  const __m256i all = _mm256_set1_epi32(-1);
  size_t cb = 0;
  for (; cb + 8 <= c; cb += 8)
    dw_block(npix, ntaps, ind, step, cb, all, 1, w, ws, bias, z, vlo, vhi, y, ldy);
  if (cb < c) dw_block(npix, ntaps, ind, step, cb, mask8(c - cb), 0, w, ws, bias, z, vlo, vhi, y, ldy);
}

void nn_f32c_wino_in__avx2(size_t c, const float *const *p, float *v, size_t vs) {
  for (size_t ch = 0; ch < c; ch += 8) {
    const __m256i k = mask8(c - ch);
    __m256 t[16];
    for (int j = 0; j < 4; j++) { /* B^T d, column by column */
      const __m256 d0 = _mm256_maskload_ps(p[j] + ch, k), d1 = _mm256_maskload_ps(p[4 + j] + ch, k);
      const __m256 d2 = _mm256_maskload_ps(p[8 + j] + ch, k), d3 = _mm256_maskload_ps(p[12 + j] + ch, k);
      t[j] = _mm256_sub_ps(d0, d2);
      t[4 + j] = _mm256_add_ps(d1, d2);
      t[8 + j] = _mm256_sub_ps(d2, d1);
      t[12 + j] = _mm256_sub_ps(d1, d3);
    }
    for (int i = 0; i < 4; i++) { /* (B^T d) B */
      const __m256 *r = t + 4 * i;
      float *o = v + 4 * i * vs + ch;
      _mm256_maskstore_ps(o, k, _mm256_sub_ps(r[0], r[2]));
      _mm256_maskstore_ps(o + vs, k, _mm256_add_ps(r[1], r[2]));
      _mm256_maskstore_ps(o + 2 * vs, k, _mm256_sub_ps(r[2], r[1]));
      _mm256_maskstore_ps(o + 3 * vs, k, _mm256_sub_ps(r[1], r[3]));
    }
  }
}

void nn_f32c_wino_out__avx2(size_t c, const float *m, size_t ms, const float *bias,
                            const float *const *z, float lo, float hi, float *const *y) {
  const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
  for (size_t ch = 0; ch < c; ch += 8) {
    const __m256i k = mask8(c - ch);
    __m256 s[8];
    for (int j = 0; j < 4; j++) { /* A^T M */
      const __m256 m0 = _mm256_maskload_ps(m + j * ms + ch, k);
      const __m256 m1 = _mm256_maskload_ps(m + (4 + j) * ms + ch, k);
      const __m256 m2 = _mm256_maskload_ps(m + (8 + j) * ms + ch, k);
      const __m256 m3 = _mm256_maskload_ps(m + (12 + j) * ms + ch, k);
      s[j] = _mm256_add_ps(_mm256_add_ps(m0, m1), m2);
      s[4 + j] = _mm256_sub_ps(_mm256_sub_ps(m1, m2), m3);
    }
    const __m256 b = _mm256_maskload_ps(bias + ch, k);
    for (int r = 0; r < 2; r++) { /* (A^T M) A */
      const __m256 *q = s + 4 * r;
      const __m256 o[2] = {_mm256_add_ps(_mm256_add_ps(q[0], q[1]), q[2]),
                           _mm256_sub_ps(_mm256_sub_ps(q[1], q[2]), q[3])};
      for (int e = 0; e < 2; e++) {
        float *yp = y[2 * r + e];
        if (!yp) continue;
        __m256 a = _mm256_add_ps(o[e], b);
        if (z) a = _mm256_add_ps(a, _mm256_maskload_ps(z[2 * r + e] + ch, k));
        _mm256_maskstore_ps(yp + ch, k, clamp8(a, vlo, vhi));
      }
    }
  }
}
