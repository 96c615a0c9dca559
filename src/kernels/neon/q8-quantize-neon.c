/*
 * q8-quantize-neon.c - QuantizeLinear of float32 to 8 bits for AArch64 NEON, 8 elements
 * per step: one IEEE division (as the reference), round to nearest even, NaN to the zero
 * point, clamp in float, + zero point. Contract: src/kernels/q8_eltwise.h.
 */
#include "kernels/q8_eltwise.h"
#include "kernels/q8_neon_inl.h"

void nn_q8_quantize__neon(size_t n, const float *x, float scale, int32_t zp, int32_t qmin,
                          int32_t qmax, uint8_t *y);

static inline int32x4_t quant4(float32x4_t v, float32x4_t s, float32x4_t lo, float32x4_t hi,
                               int32x4_t z) {
  v = vrndnq_f32(vdivq_f32(v, s));
  /* NaN -> 0 */
  v = vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(v), vceqq_f32(v, v)));
  v = vminq_f32(vmaxq_f32(v, lo), hi);
  return vaddq_s32(vcvtq_s32_f32(v), z);
}

void nn_q8_quantize__neon(size_t n, const float *x, float scale, int32_t zp, int32_t qmin,
                          int32_t qmax, uint8_t *y) {
  const float32x4_t s = vdupq_n_f32(scale);
  const float32x4_t lo = vdupq_n_f32((float)(qmin - zp)), hi = vdupq_n_f32((float)(qmax - zp));
  const int32x4_t z = vdupq_n_s32(zp);
  const int sgn = qmin < 0;
  for (size_t i = 0; i < n; i += 8) {
    const size_t m = n - i;
    float t[8] = {0};
    const float *src = x + i;
    if (m < 8) {
      memcpy(t, src, m * sizeof *t);
      src = t;
    }
    const int32x4_t a = quant4(vld1q_f32(src), s, lo, hi, z);
    const int32x4_t b = quant4(vld1q_f32(src + 4), s, lo, hi, z);
    q8_store8(y + i, q8_narrow8(a, b, sgn), m);
  }
}
