/*
 * q8-add-neon.c - QLinearAdd of same-shape (or scalar b) 8-bit tensors for AArch64 NEON,
 * 8 elements per step, with the expression of q8_eltwise.h (raw codes, two fused
 * multiply-adds onto the zero-point constant, round to nearest even, clamp).
 * Contract: src/kernels/q8_eltwise.h.
 */
#include "kernels/q8_eltwise.h"
#include "kernels/q8_neon_inl.h"

void nn_q8_add__neon(size_t n, const uint8_t *a, const uint8_t *b, const nn_q8_add_params *p,
                     uint8_t *y);

static inline void load8(const uint8_t *x, size_t n, int sgn, float32x4_t *lo,
                         float32x4_t *hi) {
  uint8_t t[8] = {0};
  uint8x8_t v;
  if (n >= 8) {
    v = vld1_u8(x);
  } else {
    memcpy(t, x, n);
    v = vld1_u8(t);
  }
  const int16x8_t w = sgn ? vmovl_s8(vreinterpret_s8_u8(v)) : vreinterpretq_s16_u16(vmovl_u8(v));
  *lo = vcvtq_f32_s32(vmovl_s16(vget_low_s16(w)));
  *hi = vcvtq_f32_s32(vmovl_high_s16(w));
}

void nn_q8_add__neon(size_t n, const uint8_t *a, const uint8_t *b, const nn_q8_add_params *p,
                     uint8_t *y) {
  const int sgn = p->is_signed;
  const float32x4_t ra = vdupq_n_f32(p->ra), rb = vdupq_n_f32(p->rb);
  const float fx = nn_q8_add_fixed(p);
  const float32x4_t fixed = vdupq_n_f32(fx);
  const float32x4_t lo = vdupq_n_f32((float)p->qmin), hi = vdupq_n_f32((float)p->qmax);
  const int32x4_t zero = vdupq_n_s32(0);
  float32x4_t bs = fixed; /* b * rb + fixed of a scalar b */
  if (p->b_scalar) {
    const int32_t qb = sgn ? (int32_t)(int8_t)b[0] : b[0];
    bs = vdupq_n_f32(fmaf((float)qb, p->rb, fx));
  }
  for (size_t i = 0; i < n; i += 8) {
    const size_t m = n - i;
    float32x4_t a0, a1, b0 = bs, b1 = bs;
    load8(a + i, m, sgn, &a0, &a1);
    if (!p->b_scalar) {
      load8(b + i, m, sgn, &b0, &b1);
      b0 = vfmaq_f32(fixed, b0, rb); /* fixed + b * rb, fused */
      b1 = vfmaq_f32(fixed, b1, rb);
    }
    const int32x4_t q0 = q8_round_clamp4(vfmaq_f32(b0, a0, ra), lo, hi, zero);
    const int32x4_t q1 = q8_round_clamp4(vfmaq_f32(b1, a1, ra), lo, hi, zero);
    q8_store8(y + i, q8_narrow8(q0, q1, sgn), m);
  }
}
