/*
 * f32c-conv-avx512.c - channel-last float32 convolution (f32c_conv.h): the dense tile of
 * 8 output pixels x 32 channels in 16 accumulators, each input float broadcast straight
 * from the pixel's channel vector through the indirection against a 32-channel weight
 * row; the depthwise kernel with 16 channels per vector and eight pixels per step (eight
 * independent FMA chains); the Winograd F(2x2, 3x3) transforms. Epilogue: + z, then the
 * clamp (min then max with the bounds first, so a NaN stays NaN as in the scalar twins).
 */
#include <immintrin.h>

#include "kernels/indirect_rows_inl.h"
#include "kernels/f32c_conv.h"

static inline __mmask16 mask16(size_t n) {
  return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
}

static inline __m512 clamp16(__m512 v, __m512 lo, __m512 hi) {
  return _mm512_max_ps(lo, _mm512_min_ps(hi, v));
}

#define FMA2(r, XR)                                            \
  do {                                                         \
    const __m512 xb = _mm512_set1_ps(XR);                      \
    a##r##0 = _mm512_fmadd_ps(xb, w0, a##r##0);                \
    a##r##1 = _mm512_fmadd_ps(xb, w1, a##r##1);                \
  } while (0)

#define STORE(r)                                                               \
  do {                                                                         \
    if (r < mr) {                                                              \
      float *yr = y + (r) * ldy;                                               \
      if (z) {                                                                 \
        a##r##0 = _mm512_add_ps(a##r##0, _mm512_maskz_loadu_ps(k0, z + (r) * ldy));      \
        a##r##1 = _mm512_add_ps(a##r##1, _mm512_maskz_loadu_ps(k1, z + (r) * ldy + 16)); \
      }                                                                        \
      _mm512_mask_storeu_ps(yr, k0, clamp16(a##r##0, vlo, vhi));               \
      _mm512_mask_storeu_ps(yr + 16, k1, clamp16(a##r##1, vlo, vhi));         \
    }                                                                          \
  } while (0)

/* A panel of at most 16 channels: one weight vector, eight chains. */
static void tile16(size_t mr, size_t nc, size_t ntaps, size_t kc, const void *const *ind,
                   size_t step, const float *w, const float *bias, const float *z, float lo,
                   float hi, float *y, size_t ldy) {
  const __m512 c0 = _mm512_loadu_ps(bias);
  __m512 a0 = c0, a1 = c0, a2 = c0, a3 = c0, a4 = c0, a5 = c0, a6 = c0, a7 = c0;
  for (size_t t = 0; t < ntaps; t++, ind += step ? 1 : NN_F32C_MR) {
    NN_IND_ROWS8(float, ind, step)
    for (size_t c = 0; c < kc; c++, w += NN_F32C_NR) {
      const __m512 w0 = _mm512_loadu_ps(w);
      a0 = _mm512_fmadd_ps(_mm512_set1_ps(x0[c]), w0, a0);
      a1 = _mm512_fmadd_ps(_mm512_set1_ps(x1[c]), w0, a1);
      a2 = _mm512_fmadd_ps(_mm512_set1_ps(x2[c]), w0, a2);
      a3 = _mm512_fmadd_ps(_mm512_set1_ps(x3[c]), w0, a3);
      a4 = _mm512_fmadd_ps(_mm512_set1_ps(x4[c]), w0, a4);
      a5 = _mm512_fmadd_ps(_mm512_set1_ps(x5[c]), w0, a5);
      a6 = _mm512_fmadd_ps(_mm512_set1_ps(x6[c]), w0, a6);
      a7 = _mm512_fmadd_ps(_mm512_set1_ps(x7[c]), w0, a7);
    }
  }
  const __mmask16 k0 = mask16(nc);
  const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
  const __m512 acc[8] = {a0, a1, a2, a3, a4, a5, a6, a7};
  for (size_t r = 0; r < mr; r++) {
    __m512 v = acc[r];
    if (z) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k0, z + r * ldy));
    _mm512_mask_storeu_ps(y + r * ldy, k0, clamp16(v, vlo, vhi));
  }
}

void nn_f32c_conv_8x32__avx512(size_t mr, size_t nc, size_t ntaps, size_t kc,
                               const void *const *ind, size_t step, const float *w,
                               const float *bias, const float *z, float lo, float hi, float *y,
                               size_t ldy) {
  if (nc <= 16) {
    tile16(mr, nc, ntaps, kc, ind, step, w, bias, z, lo, hi, y, ldy);
    return;
  }
  const __m512 c0 = _mm512_loadu_ps(bias), c1 = _mm512_loadu_ps(bias + 16);
  __m512 a00 = c0, a01 = c1, a10 = c0, a11 = c1, a20 = c0, a21 = c1, a30 = c0, a31 = c1,
         a40 = c0, a41 = c1, a50 = c0, a51 = c1, a60 = c0, a61 = c1, a70 = c0, a71 = c1;
  for (size_t t = 0; t < ntaps; t++, ind += step ? 1 : NN_F32C_MR) {
    NN_IND_ROWS8(float, ind, step)
    for (size_t c = 0; c < kc; c++, w += NN_F32C_NR) {
      const __m512 w0 = _mm512_loadu_ps(w), w1 = _mm512_loadu_ps(w + 16);
      FMA2(0, x0[c]);
      FMA2(1, x1[c]);
      FMA2(2, x2[c]);
      FMA2(3, x3[c]);
      FMA2(4, x4[c]);
      FMA2(5, x5[c]);
      FMA2(6, x6[c]);
      FMA2(7, x7[c]);
    }
  }
  const __mmask16 k0 = mask16(nc), k1 = nc > 16 ? mask16(nc - 16) : 0;
  const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
  STORE(0);
  STORE(1);
  STORE(2);
  STORE(3);
  STORE(4);
  STORE(5);
  STORE(6);
  STORE(7);
}

/* Eight pixels of a 16-channel block (mask m): tap by tap, one weight vector and eight
 * inputs at a fixed stride (base pointers computed once per tap), eight FMA chains. */
static inline __attribute__((always_inline)) size_t
dw8(size_t npix, size_t ntaps, const void *const *ind, size_t step, size_t off, __mmask16 m,
    const float *wb, size_t cs, __m512 b, const float *z, __m512 vlo, __m512 vhi, float *y,
    size_t ldy) {
  size_t i = 0;
  const size_t s2 = 2 * step, s4 = 4 * step;
  for (; i + 8 <= npix; i += 8, off += 8 * step) {
    __m512 p0 = b, p1 = b, p2 = b, p3 = b, p4 = b, p5 = b, p6 = b, p7 = b;
    for (size_t t = 0; t < ntaps; t++) {
      const __m512 wv = _mm512_maskz_loadu_ps(m, wb + t * cs);
      const float *x0 = (const float *)ind[t] + off, *x4 = x0 + s4;
      p0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x0), wv, p0);
      p1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x0 + step), wv, p1);
      p2 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x0 + s2), wv, p2);
      p3 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x0 + s2 + step), wv, p3);
      p4 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x4), wv, p4);
      p5 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x4 + step), wv, p5);
      p6 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x4 + s2), wv, p6);
      p7 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x4 + s2 + step), wv, p7);
    }
#define OUT8(q)                                                                       \
  do {                                                                                \
    __m512 v = p##q;                                                                  \
    if (z) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, z + (i + (q)) * ldy));       \
    _mm512_mask_storeu_ps(y + (i + (q)) * ldy, m, clamp16(v, vlo, vhi));              \
  } while (0)
    OUT8(0);
    OUT8(1);
    OUT8(2);
    OUT8(3);
    OUT8(4);
    OUT8(5);
    OUT8(6);
    OUT8(7);
#undef OUT8
  }
  return i;
}

void nn_f32c_dw__avx512(size_t npix, size_t c, size_t ntaps, const void *const *ind,
                        size_t step, const float *w, size_t ws, const float *bias, const float *z,
                        float lo, float hi, float *y, size_t ldy) {
  const size_t cs = ws;
  const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
  for (size_t cb = 0; cb < c; cb += 16) {
    const __mmask16 m = mask16(c - cb);
    const __m512 b = _mm512_maskz_loadu_ps(m, bias + cb);
    const float *zb = z ? z + cb : NULL;
    size_t i = dw8(npix, ntaps, ind, step, cb, m, w + cb, cs, b, zb, vlo, vhi, y + cb, ldy);
    if (i + 4 <= npix) { /* four chains for the rest, then one by one */
      const size_t off = cb + i * step;
      __m512 p0 = b, p1 = b, p2 = b, p3 = b;
      for (size_t t = 0; t < ntaps; t++) {
        const __m512 wv = _mm512_maskz_loadu_ps(m, w + t * cs + cb);
        const float *x0 = (const float *)ind[t] + off;
        p0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x0), wv, p0);
        p1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x0 + step), wv, p1);
        p2 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x0 + 2 * step), wv, p2);
        p3 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x0 + 3 * step), wv, p3);
      }
      const __m512 pv[4] = {p0, p1, p2, p3};
      for (size_t q = 0; q < 4; q++, i++) {
        __m512 v = pv[q];
        if (zb) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, zb + i * ldy));
        _mm512_mask_storeu_ps(y + cb + i * ldy, m, clamp16(v, vlo, vhi));
      }
    }
    for (size_t off = cb + i * step; i < npix; i++, off += step) {
      __m512 a = b;
      for (size_t t = 0; t < ntaps; t++)
        a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, (const float *)ind[t] + off),
                            _mm512_maskz_loadu_ps(m, w + t * cs + cb), a);
      if (zb) a = _mm512_add_ps(a, _mm512_maskz_loadu_ps(m, zb + i * ldy));
      _mm512_mask_storeu_ps(y + cb + i * ldy, m, clamp16(a, vlo, vhi));
    }
  }
}

/* Winograd F(2x2, 3x3) transforms, 16 channels per vector (masked tails): the same sums in
 * the same order as the scalar twins, equal to them bit for bit. */
void nn_f32c_wino_in__avx512(size_t c, const float *const *p, float *v, size_t vs) {
  for (size_t ch = 0; ch < c; ch += 16) {
    const __mmask16 k = mask16(c - ch);
    __m512 t[16];
    for (int j = 0; j < 4; j++) { /* B^T d, column by column */
      const __m512 d0 = _mm512_maskz_loadu_ps(k, p[j] + ch), d1 = _mm512_maskz_loadu_ps(k, p[4 + j] + ch);
      const __m512 d2 = _mm512_maskz_loadu_ps(k, p[8 + j] + ch), d3 = _mm512_maskz_loadu_ps(k, p[12 + j] + ch);
      t[j] = _mm512_sub_ps(d0, d2);
      t[4 + j] = _mm512_add_ps(d1, d2);
      t[8 + j] = _mm512_sub_ps(d2, d1);
      t[12 + j] = _mm512_sub_ps(d1, d3);
    }
    for (int i = 0; i < 4; i++) { /* (B^T d) B */
      const __m512 *r = t + 4 * i;
      float *o = v + 4 * i * vs + ch;
      _mm512_mask_storeu_ps(o, k, _mm512_sub_ps(r[0], r[2]));
      _mm512_mask_storeu_ps(o + vs, k, _mm512_add_ps(r[1], r[2]));
      _mm512_mask_storeu_ps(o + 2 * vs, k, _mm512_sub_ps(r[2], r[1]));
      _mm512_mask_storeu_ps(o + 3 * vs, k, _mm512_sub_ps(r[1], r[3]));
    }
  }
}

void nn_f32c_wino_out__avx512(size_t c, const float *m, size_t ms, const float *bias,
                              const float *const *z, float lo, float hi, float *const *y) {
  const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
  for (size_t ch = 0; ch < c; ch += 16) {
    const __mmask16 k = mask16(c - ch);
    __m512 s[8];
    for (int j = 0; j < 4; j++) { /* A^T M */
      const __m512 m0 = _mm512_maskz_loadu_ps(k, m + j * ms + ch);
      const __m512 m1 = _mm512_maskz_loadu_ps(k, m + (4 + j) * ms + ch);
      const __m512 m2 = _mm512_maskz_loadu_ps(k, m + (8 + j) * ms + ch);
      const __m512 m3 = _mm512_maskz_loadu_ps(k, m + (12 + j) * ms + ch);
      s[j] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
      s[4 + j] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
    }
    const __m512 b = _mm512_maskz_loadu_ps(k, bias + ch);
    for (int r = 0; r < 2; r++) { /* (A^T M) A */
      const __m512 *q = s + 4 * r;
      const __m512 o[2] = {_mm512_add_ps(_mm512_add_ps(q[0], q[1]), q[2]),
                           _mm512_sub_ps(_mm512_sub_ps(q[1], q[2]), q[3])};
      for (int e = 0; e < 2; e++) {
        float *yp = y[2 * r + e];
        if (!yp) continue;
        __m512 a = _mm512_add_ps(o[e], b);
        if (z) a = _mm512_add_ps(a, _mm512_maskz_loadu_ps(k, z[2 * r + e] + ch));
        _mm512_mask_storeu_ps(yp + ch, k, clamp16(a, vlo, vhi));
      }
    }
  }
}
