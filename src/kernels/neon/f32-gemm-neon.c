/*
 * f32-gemm-neon.c - float32 GEMM microkernel 8x8 for AArch64 Advanced SIMD: 8 rows
 * of two q accumulators (16 registers), A read as two vectors per k and applied by
 * lane (fmla .4s by element), B as two vectors. Column tails are stored lane by lane.
 */
#include <arm_neon.h>

#include "kernels/f32_gemm.h"

static inline float32x4_t epilogue(float32x4_t v, const float *ci, size_t n, float32x4_t bc,
                                   float bi, unsigned flags, float32x4_t lo, float32x4_t hi) {
  if (flags & NN_F32_GEMM_ACC) {
    float t[4] = {0, 0, 0, 0};
    if (n >= 4)
      v = vaddq_f32(v, vld1q_f32(ci));
    else {
      for (size_t j = 0; j < n; j++) t[j] = ci[j];
      v = vaddq_f32(v, vld1q_f32(t));
    }
  }
  if (flags & NN_F32_GEMM_BIAS_ROW) v = vaddq_f32(v, vdupq_n_f32(bi));
  if (flags & NN_F32_GEMM_BIAS_COL) v = vaddq_f32(v, bc);
  if (flags & NN_F32_GEMM_CLAMP) v = vminq_f32(vmaxq_f32(v, lo), hi);
  return v;
}

static inline void store_n(float *ci, float32x4_t v, size_t n) {
  if (n >= 4) {
    vst1q_f32(ci, v);
  } else {
    float t[4];
    vst1q_f32(t, v);
    for (size_t j = 0; j < n; j++) ci[j] = t[j];
  }
}

void nn_f32_gemm_ukernel_8x8__neon(size_t mr, size_t nr, size_t kc, const float *a,
                                   const float *b, float *c, size_t ldc, const float *bias,
                                   unsigned flags, const float *minmax) {
  float32x4_t c00 = vdupq_n_f32(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
              c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00,
              c60 = c00, c61 = c00, c70 = c00, c71 = c00;
  for (size_t k = 0; k < kc; k++) {
    const float32x4_t a0 = vld1q_f32(a), a1 = vld1q_f32(a + 4);
    const float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4);
    c00 = vfmaq_laneq_f32(c00, b0, a0, 0);
    c01 = vfmaq_laneq_f32(c01, b1, a0, 0);
    c10 = vfmaq_laneq_f32(c10, b0, a0, 1);
    c11 = vfmaq_laneq_f32(c11, b1, a0, 1);
    c20 = vfmaq_laneq_f32(c20, b0, a0, 2);
    c21 = vfmaq_laneq_f32(c21, b1, a0, 2);
    c30 = vfmaq_laneq_f32(c30, b0, a0, 3);
    c31 = vfmaq_laneq_f32(c31, b1, a0, 3);
    c40 = vfmaq_laneq_f32(c40, b0, a1, 0);
    c41 = vfmaq_laneq_f32(c41, b1, a1, 0);
    c50 = vfmaq_laneq_f32(c50, b0, a1, 1);
    c51 = vfmaq_laneq_f32(c51, b1, a1, 1);
    c60 = vfmaq_laneq_f32(c60, b0, a1, 2);
    c61 = vfmaq_laneq_f32(c61, b1, a1, 2);
    c70 = vfmaq_laneq_f32(c70, b0, a1, 3);
    c71 = vfmaq_laneq_f32(c71, b1, a1, 3);
    a += 8;
    b += 8;
  }
  const float32x4_t acc[8][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31},
                                 {c40, c41}, {c50, c51}, {c60, c61}, {c70, c71}};
  float32x4_t bc0 = vdupq_n_f32(0), bc1 = bc0, lo = bc0, hi = bc0;
  const size_t n0 = nr < 4 ? nr : 4, n1 = nr > 4 ? nr - 4 : 0;
  if (flags & NN_F32_GEMM_BIAS_COL) {
    float t[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (size_t j = 0; j < nr; j++) t[j] = bias[j];
    bc0 = vld1q_f32(t);
    bc1 = vld1q_f32(t + 4);
  }
  if (flags & NN_F32_GEMM_CLAMP) {
    lo = vdupq_n_f32(minmax[0]);
    hi = vdupq_n_f32(minmax[1]);
  }
  for (size_t i = 0; i < mr; i++) {
    float *ci = c + i * ldc;
    const float bi = (flags & NN_F32_GEMM_BIAS_ROW) ? bias[i] : 0.0f;
    store_n(ci, epilogue(acc[i][0], ci, n0, bc0, bi, flags, lo, hi), n0);
    if (n1) store_n(ci + 4, epilogue(acc[i][1], ci + 4, n1, bc1, bi, flags, lo, hi), n1);
  }
}
