/*
 * q8_neon_inl.h - shared inline pieces of the NEON 8-bit kernels (included only by files
 * under neon/): exact requantization of int32 lanes (float multiply without fusing,
 * round to nearest even with frintn, clamp in float, + zero point), identical to
 * nn_requantize_one for finite scales, and partial stores.
 */
#ifndef NN_KERNELS_Q8_NEON_INL_H
#define NN_KERNELS_Q8_NEON_INL_H

#include <arm_neon.h>
#include <stdint.h>
#include <string.h>

/* round_half_even(f) clamped to [lo, hi] (= q range - zp), + zp. */
static inline int32x4_t q8_round_clamp4(float32x4_t f, float32x4_t lo, float32x4_t hi,
                                        int32x4_t zp) {
  f = vrndnq_f32(f);
  f = vminq_f32(vmaxq_f32(f, lo), hi);
  return vaddq_s32(vcvtq_s32_f32(f), zp);
}

static inline int32x4_t q8_requant4(int32x4_t v, float32x4_t scale, float32x4_t lo,
                                    float32x4_t hi, int32x4_t zp) {
  return q8_round_clamp4(vmulq_f32(vcvtq_f32_s32(v), scale), lo, hi, zp);
}

/* 8 in-range int32 lanes -> 8 bytes (codes of the signed or unsigned type). */
static inline uint8x8_t q8_narrow8(int32x4_t a, int32x4_t b, int is_signed) {
  const int16x8_t h = vcombine_s16(vqmovn_s32(a), vqmovn_s32(b));
  return is_signed ? vreinterpret_u8_s8(vqmovn_s16(h)) : vqmovun_s16(h);
}

static inline void q8_store8(uint8_t *d, uint8x8_t v, size_t n) {
  if (n >= 8) {
    vst1_u8(d, v);
  } else {
    uint8_t t[8];
    vst1_u8(t, v);
    memcpy(d, t, n);
  }
}

static inline void q8_store_i32x8(int32_t *d, int32x4_t a, int32x4_t b, size_t n) {
  if (n >= 8) {
    vst1q_s32(d, a);
    vst1q_s32(d + 4, b);
  } else {
    int32_t t[8];
    vst1q_s32(t, a);
    vst1q_s32(t + 4, b);
    memcpy(d, t, n * sizeof *d);
  }
}

static inline void q8_load_i32x8(const int32_t *s, size_t n, int32x4_t *a, int32x4_t *b) {
  int32_t t[8] = {0};
  memcpy(t, s, (n < 8 ? n : 8) * sizeof *s);
  *a = vld1q_s32(t);
  *b = vld1q_s32(t + 4);
}

#endif
