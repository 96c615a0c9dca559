/*
 * f32-dwconv3x3-neon.c - depthwise 3x3 convolution of one NCHW plane for AArch64,
 * stride 1 and 2, 4 outputs of a row per step where every tap is inside the row
 * (stride 2 deinterleaves with vld2q); edge outputs are computed one by one.
 */
#include <arm_neon.h>

#include "kernels/f32_conv.h"

static inline float clampf(float v, const float *mm) {
  return mm ? (v < mm[0] ? mm[0] : v > mm[1] ? mm[1] : v) : v;
}

static inline __attribute__((always_inline)) void dw3x3(
    const size_t S, size_t ih, size_t iw, size_t oh, size_t ow, size_t pad_top,
    size_t pad_left, const float *x, const float *w, float bias, float *y,
    const float *minmax) {
  const float32x4_t vb = vdupq_n_f32(bias);
  const float32x4_t lo = vdupq_n_f32(minmax ? minmax[0] : 0.0f);
  const float32x4_t hi = vdupq_n_f32(minmax ? minmax[1] : 0.0f);
  /* vectors cover outputs [ox_a, ox_b): no tap left of the row before ox_a, all loads
   * inside the row before ox_b */
  size_t ox_a = (pad_left + S - 1) / S;
  /* a vector at ox reads up to column ox*S - pad_left + E */
  const long long E = S == 1 ? 5 : 9, num = (long long)iw - 1 - E + (long long)pad_left;
  const long long b = num < 0 ? 0 : num / (long long)S + 4;
  size_t ox_b = b > (long long)ox_a ? (size_t)b : ox_a;
  if (ox_a > ow) ox_a = ow;
  if (ox_b > ow) ox_b = ow;
  for (size_t oy = 0; oy < oh; oy++) {
    float *yr = y + oy * ow;
    size_t ox = 0;
    for (; ox < ox_a; ox++)
      yr[ox] = clampf(nn_f32_dwconv3x3_point(ih, iw, S, pad_top, pad_left, x, w, bias, oy, ox),
                      minmax);
    for (; ox + 4 <= ox_b; ox += 4) {
      float32x4_t acc = vb;
      for (int kh = 0; kh < 3; kh++) {
        const long long iy = (long long)(oy * S) - (long long)pad_top + kh;
        if (iy < 0 || iy >= (long long)ih) continue;
        const float *r = x + iy * (long long)iw + (long long)(ox * S) - (long long)pad_left;
        if (S == 1) {
          acc = vfmaq_n_f32(acc, vld1q_f32(r), w[kh * 3]);
          acc = vfmaq_n_f32(acc, vld1q_f32(r + 1), w[kh * 3 + 1]);
          acc = vfmaq_n_f32(acc, vld1q_f32(r + 2), w[kh * 3 + 2]);
        } else {
          const float32x4x2_t v = vld2q_f32(r), v2 = vld2q_f32(r + 2);
          acc = vfmaq_n_f32(acc, v.val[0], w[kh * 3]);
          acc = vfmaq_n_f32(acc, v.val[1], w[kh * 3 + 1]);
          acc = vfmaq_n_f32(acc, v2.val[0], w[kh * 3 + 2]);
        }
      }
      if (minmax) acc = vminq_f32(vmaxq_f32(acc, lo), hi);
      vst1q_f32(yr + ox, acc);
    }
    for (; ox < ow; ox++)
      yr[ox] = clampf(nn_f32_dwconv3x3_point(ih, iw, S, pad_top, pad_left, x, w, bias, oy, ox),
                      minmax);
  }
}

void nn_f32_dwconv3x3s1__neon(size_t ih, size_t iw, size_t oh, size_t ow, size_t pad_top,
                              size_t pad_left, const float *x, const float *w, float bias,
                              float *y, const float *minmax) {
  dw3x3(1, ih, iw, oh, ow, pad_top, pad_left, x, w, bias, y, minmax);
}

void nn_f32_dwconv3x3s2__neon(size_t ih, size_t iw, size_t oh, size_t ow, size_t pad_top,
                              size_t pad_left, const float *x, const float *w, float bias,
                              float *y, const float *minmax) {
  dw3x3(2, ih, iw, oh, ow, pad_top, pad_left, x, w, bias, y, minmax);
}
