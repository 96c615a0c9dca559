/*
 * q8-dwconv-neon.c - depthwise 3x3 on a padded uint8 plane for AArch64 NEON, 8 outputs
 * per step: inputs widen to 16 bits and each tap is a widening multiply-accumulate by
 * the weight (smlal by scalar) into int32; stride 2 deinterleaves with ld2. Exact.
 * Contract: src/kernels/q8_dwconv.h.
 */
#include "kernels/q8_dwconv.h"
#include "kernels/q8_neon_inl.h"

void nn_q8_dwconv3x3__neon(const nn_q8_dw_args *a);

static inline void tap(int32x4_t *lo, int32x4_t *hi, uint8x8_t x, int16_t w) {
  const int16x8_t v = vreinterpretq_s16_u16(vmovl_u8(x));
  *lo = vmlal_n_s16(*lo, vget_low_s16(v), w);
  *hi = vmlal_high_n_s16(*hi, v, w);
}

void nn_q8_dwconv3x3__neon(const nn_q8_dw_args *a) {
  int16_t w[9];
  for (int t = 0; t < 9; t++) w[t] = a->w[4 * (t / 3) + t % 3];
  const float32x4_t s = vdupq_n_f32(a->scale);
  const float32x4_t lo = vdupq_n_f32((float)(a->qmin - a->out_zp));
  const float32x4_t hi = vdupq_n_f32((float)(a->qmax - a->out_zp));
  const int32x4_t zp = vdupq_n_s32(a->out_zp);
  const int sgn = a->qmin < 0;
  const size_t ow = a->ow, ldx = a->ldx;
  for (size_t oy = 0; oy < a->oh; oy++) {
    const uint8_t *r = a->x + oy * a->stride * ldx;
    uint8_t *y = a->y + oy * a->ldy;
    for (size_t ox = 0; ox < ow; ox += 8) {
      int32x4_t l = vdupq_n_s32(a->bias), h = l;
      for (int ky = 0; ky < 3; ky++) {
        const uint8_t *p = r + ky * ldx;
        if (a->stride == 1) {
          tap(&l, &h, vld1_u8(p + ox), w[3 * ky]);
          tap(&l, &h, vld1_u8(p + ox + 1), w[3 * ky + 1]);
          tap(&l, &h, vld1_u8(p + ox + 2), w[3 * ky + 2]);
        } else {
          const uint8x8x2_t e = vld2_u8(p + 2 * ox), f = vld2_u8(p + 2 * ox + 2);
          tap(&l, &h, e.val[0], w[3 * ky]);
          tap(&l, &h, e.val[1], w[3 * ky + 1]);
          tap(&l, &h, f.val[0], w[3 * ky + 2]);
        }
      }
      const uint8x8_t q = q8_narrow8(q8_requant4(l, s, lo, hi, zp), q8_requant4(h, s, lo, hi, zp), sgn);
      q8_store8(y + ox, q, ow - ox);
    }
  }
}
