/*
 * f32c-conv-neon.c - channel-last float32 convolution (f32c_conv.h) for AArch64 Advanced
 * SIMD: the dense 8-pixel x 32-channel tile as four blocks of 4 pixels x 16 channels
 * (sixteen q accumulators; four input channels of each pixel in one register, applied by
 * lane against four weight vectors), the depthwise kernel with 4 channels per vector and
 * eight pixel chains, and the Winograd F(2x2, 3x3) transforms 4 channels per vector
 * (channel tails one by one, or through the scalar twins). The same sums in the same
 * order as the scalar twins; the clamp is theirs too (a NaN stays NaN, -0 stays -0).
 */
#include <arm_neon.h>
#include <math.h>

#include "kernels/f32c_conv.h"

static inline float32x4_t clamp4(float32x4_t v, float32x4_t lo, float32x4_t hi) {
  v = vbslq_f32(vcltq_f32(v, lo), lo, v);
  return vbslq_f32(vcgtq_f32(v, hi), hi, v);
}

/* y[0 .. n) = clamp(a (+ z)) for n <= 4. */
static inline void put4(float *y, const float *z, float32x4_t a, size_t n, float32x4_t lo,
                        float32x4_t hi) {
  if (n >= 4) {
    if (z) a = vaddq_f32(a, vld1q_f32(z));
    vst1q_f32(y, clamp4(a, lo, hi));
    return;
  }
  float t[4] = {0, 0, 0, 0};
  if (z)
    for (size_t j = 0; j < n; j++) t[j] = z[j];
  a = clamp4(vaddq_f32(a, vld1q_f32(t)), lo, hi);
  vst1q_f32(t, a);
  for (size_t j = 0; j < n; j++) y[j] = t[j];
}

#define FMA4(r, xv, L)                                  \
  do {                                                  \
    a##r##0 = vfmaq_laneq_f32(a##r##0, w0, xv, L);      \
    a##r##1 = vfmaq_laneq_f32(a##r##1, w1, xv, L);      \
    a##r##2 = vfmaq_laneq_f32(a##r##2, w2, xv, L);      \
    a##r##3 = vfmaq_laneq_f32(a##r##3, w3, xv, L);      \
  } while (0)

#define STEP(L)                                                                          \
  do {                                                                                   \
    const float *wl = wt + (L) * NN_F32C_NR;                                             \
    const float32x4_t w0 = vld1q_f32(wl), w1 = vld1q_f32(wl + 4), w2 = vld1q_f32(wl + 8), \
                      w3 = vld1q_f32(wl + 12);                                           \
    FMA4(0, v0, L);                                                                      \
    FMA4(1, v1, L);                                                                      \
    FMA4(2, v2, L);                                                                      \
    FMA4(3, v3, L);                                                                      \
  } while (0)

/* Rows r0 .. r0 + 3, channels j .. j + 15 of the panel (n16 of them stored). */
static void blk4x16(size_t r0, size_t mr, size_t n16, size_t ntaps, size_t kc,
                    const void *const *ind, size_t step, const float *w, const float *bias,
                    const float *z, float32x4_t vlo, float32x4_t vhi, float *y, size_t ldy) {
  const float32x4_t b0 = vld1q_f32(bias), b1 = vld1q_f32(bias + 4), b2 = vld1q_f32(bias + 8),
                    b3 = vld1q_f32(bias + 12);
  float32x4_t a00 = b0, a01 = b1, a02 = b2, a03 = b3, a10 = b0, a11 = b1, a12 = b2, a13 = b3;
  float32x4_t a20 = b0, a21 = b1, a22 = b2, a23 = b3, a30 = b0, a31 = b1, a32 = b2, a33 = b3;
  for (size_t t = 0; t < ntaps; t++) {
    const float *x0, *x1, *x2, *x3;
    if (step) {
      x0 = (const float *)ind[t] + r0 * step, x1 = x0 + step, x2 = x1 + step, x3 = x2 + step;
    } else {
      const void *const *it = ind + t * NN_F32C_MR + r0;
      x0 = it[0], x1 = it[1], x2 = it[2], x3 = it[3];
    }
    const float *wt = w + t * kc * NN_F32C_NR;
    size_t c = 0;
    for (; c + 4 <= kc; c += 4, wt += 4 * NN_F32C_NR) {
      const float32x4_t v0 = vld1q_f32(x0 + c), v1 = vld1q_f32(x1 + c), v2 = vld1q_f32(x2 + c),
                        v3 = vld1q_f32(x3 + c);
      STEP(0);
      STEP(1);
      STEP(2);
      STEP(3);
    }
    for (; c < kc; c++, wt += NN_F32C_NR) { /* channel tail: one lane */
      const float32x4_t v0 = vdupq_n_f32(x0[c]), v1 = vdupq_n_f32(x1[c]), v2 = vdupq_n_f32(x2[c]),
                        v3 = vdupq_n_f32(x3[c]);
      STEP(0);
    }
  }
  const float32x4_t acc[16] = {a00, a01, a02, a03, a10, a11, a12, a13,
                               a20, a21, a22, a23, a30, a31, a32, a33};
  for (size_t r = 0; r < 4 && r0 + r < mr; r++) {
    float *yr = y + (r0 + r) * ldy;
    const float *zr = z ? z + (r0 + r) * ldy : NULL;
    for (size_t q = 0; q < 4 && 4 * q < n16; q++)
      put4(yr + 4 * q, zr ? zr + 4 * q : NULL, acc[4 * r + q], n16 - 4 * q, vlo, vhi);
  }
}

#undef STEP
#undef FMA4

void nn_f32c_conv_8x32__neon(size_t mr, size_t nc, size_t ntaps, size_t kc,
                             const void *const *ind, size_t step, const float *w,
                             const float *bias, const float *z, float lo, float hi, float *y,
                             size_t ldy) {
  const float32x4_t vlo = vdupq_n_f32(lo), vhi = vdupq_n_f32(hi);
  for (size_t j = 0; j < nc; j += 16) {
    const size_t n16 = nc - j < 16 ? nc - j : 16;
    const float *zj = z ? z + j : NULL;
    blk4x16(0, mr, n16, ntaps, kc, ind, step, w + j, bias + j, zj, vlo, vhi, y + j, ldy);
    if (mr > 4)
      blk4x16(4, mr, n16, ntaps, kc, ind, step, w + j, bias + j, zj, vlo, vhi, y + j, ldy);
  }
}

void nn_f32c_dw__neon(size_t npix, size_t c, size_t ntaps, const void *const *ind, size_t step,
                      const float *w, size_t ws, const float *bias, const float *z, float lo,
                      float hi, float *y, size_t ldy) {
  const float32x4_t vlo = vdupq_n_f32(lo), vhi = vdupq_n_f32(hi);
  size_t cb = 0;
  for (; cb + 4 <= c; cb += 4) {
    const float32x4_t b = vld1q_f32(bias + cb);
    size_t i = 0;
    for (; i + 8 <= npix; i += 8) {
      float32x4_t p0 = b, p1 = b, p2 = b, p3 = b, p4 = b, p5 = b, p6 = b, p7 = b;
      const size_t off = cb + i * step;
      for (size_t t = 0; t < ntaps; t++) {
        const float32x4_t wv = vld1q_f32(w + t * ws + cb);
        const float *x0 = (const float *)ind[t] + off, *x4 = x0 + 4 * step;
        p0 = vfmaq_f32(p0, vld1q_f32(x0), wv);
        p1 = vfmaq_f32(p1, vld1q_f32(x0 + step), wv);
        p2 = vfmaq_f32(p2, vld1q_f32(x0 + 2 * step), wv);
        p3 = vfmaq_f32(p3, vld1q_f32(x0 + 3 * step), wv);
        p4 = vfmaq_f32(p4, vld1q_f32(x4), wv);
        p5 = vfmaq_f32(p5, vld1q_f32(x4 + step), wv);
        p6 = vfmaq_f32(p6, vld1q_f32(x4 + 2 * step), wv);
        p7 = vfmaq_f32(p7, vld1q_f32(x4 + 3 * step), wv);
      }
      const float32x4_t pv[8] = {p0, p1, p2, p3, p4, p5, p6, p7};
      for (size_t q = 0; q < 8; q++)
        put4(y + cb + (i + q) * ldy, z ? z + cb + (i + q) * ldy : NULL, pv[q], 4, vlo, vhi);
    }
    for (; i < npix; i++) {
      float32x4_t a = b;
      const size_t off = cb + i * step;
      for (size_t t = 0; t < ntaps; t++)
        a = vfmaq_f32(a, vld1q_f32((const float *)ind[t] + off), vld1q_f32(w + t * ws + cb));
      put4(y + cb + i * ldy, z ? z + cb + i * ldy : NULL, a, 4, vlo, vhi);
    }
  }
  for (; cb < c; cb++) /* channels past the last vector: as the scalar twin */
    for (size_t i = 0; i < npix; i++) {
      float acc = bias[cb];
      for (size_t t = 0; t < ntaps; t++)
        acc = fmaf(((const float *)ind[t])[i * step + cb], w[t * ws + cb], acc);
      if (z) acc += z[i * ldy + cb];
      y[i * ldy + cb] = acc < lo ? lo : acc > hi ? hi : acc;
    }
}

void nn_f32c_wino_in__neon(size_t c, const float *const *p, float *v, size_t vs) {
  size_t ch = 0;
  for (; ch + 4 <= c; ch += 4) {
    float32x4_t t[16];
    for (int j = 0; j < 4; j++) { /* B^T d, column by column */
      const float32x4_t d0 = vld1q_f32(p[j] + ch), d1 = vld1q_f32(p[4 + j] + ch);
      const float32x4_t d2 = vld1q_f32(p[8 + j] + ch), d3 = vld1q_f32(p[12 + j] + ch);
      t[j] = vsubq_f32(d0, d2);
      t[4 + j] = vaddq_f32(d1, d2);
      t[8 + j] = vsubq_f32(d2, d1);
      t[12 + j] = vsubq_f32(d1, d3);
    }
    for (int i = 0; i < 4; i++) { /* (B^T d) B */
      const float32x4_t *r = t + 4 * i;
      float *o = v + 4 * i * vs + ch;
      vst1q_f32(o, vsubq_f32(r[0], r[2]));
      vst1q_f32(o + vs, vaddq_f32(r[1], r[2]));
      vst1q_f32(o + 2 * vs, vsubq_f32(r[2], r[1]));
      vst1q_f32(o + 3 * vs, vsubq_f32(r[1], r[3]));
    }
  }
  if (ch < c) {
    const float *q[16];
    for (int i = 0; i < 16; i++) q[i] = p[i] + ch;
    nn_f32c_wino_in__scalar(c - ch, q, v + ch, vs);
  }
}

void nn_f32c_wino_out__neon(size_t c, const float *m, size_t ms, const float *bias,
                            const float *const *z, float lo, float hi, float *const *y) {
  const float32x4_t vlo = vdupq_n_f32(lo), vhi = vdupq_n_f32(hi);
  size_t ch = 0;
  for (; ch + 4 <= c; ch += 4) {
    float32x4_t s[8];
    for (int j = 0; j < 4; j++) { /* A^T M */
      const float32x4_t m0 = vld1q_f32(m + j * ms + ch), m1 = vld1q_f32(m + (4 + j) * ms + ch);
      const float32x4_t m2 = vld1q_f32(m + (8 + j) * ms + ch), m3 = vld1q_f32(m + (12 + j) * ms + ch);
      s[j] = vaddq_f32(vaddq_f32(m0, m1), m2);
      s[4 + j] = vsubq_f32(vsubq_f32(m1, m2), m3);
    }
    const float32x4_t b = vld1q_f32(bias + ch);
    for (int r = 0; r < 2; r++) { /* (A^T M) A */
      const float32x4_t *q = s + 4 * r;
      const float32x4_t o[2] = {vaddq_f32(vaddq_f32(q[0], q[1]), q[2]),
                                vsubq_f32(vsubq_f32(q[1], q[2]), q[3])};
      for (int e = 0; e < 2; e++) {
        float *yp = y[2 * r + e];
        if (!yp) continue;
        float32x4_t a = vaddq_f32(o[e], b);
        if (z) a = vaddq_f32(a, vld1q_f32(z[2 * r + e] + ch));
        vst1q_f32(yp + ch, clamp4(a, vlo, vhi));
      }
    }
  }
  if (ch < c) {
    float *yt[4];
    const float *zt[4];
    for (int k = 0; k < 4; k++) {
      yt[k] = y[k] ? y[k] + ch : NULL;
      zt[k] = z && z[k] ? z[k] + ch : NULL;
    }
    nn_f32c_wino_out__scalar(c - ch, m + ch, ms, bias + ch, z ? zt : NULL, lo, hi, yt);
  }
}
