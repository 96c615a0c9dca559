/*
 * q8_neon_tile_inl.h - the epilogue of the NEON GEMM microkernels: one row of an 8-column
 * tile held in two int32x4 vectors, stored per mode (src/kernels/q8_gemm.h).
 */
#ifndef NN_KERNELS_Q8_NEON_TILE_INL_H
#define NN_KERNELS_Q8_NEON_TILE_INL_H

#include "kernels/q8_gemm.h"
#include "kernels/q8_neon_inl.h"

static inline void q8_neon_store_row8(int32x4_t a, int32x4_t b, size_t r, size_t nc, void *c,
                                      size_t ldc, int mode, const nn_q8_gemm_params *p) {
  if (p->row_bias) {
    const int32x4_t rb = vdupq_n_s32(p->row_bias[r]);
    a = vaddq_s32(a, rb);
    b = vaddq_s32(b, rb);
  }
  if (p->row_mul) {
    int32x4_t c0, c1;
    q8_load_i32x8(p->col_vec, nc, &c0, &c1);
    a = vmlaq_n_s32(a, c0, p->row_mul[r]);
    b = vmlaq_n_s32(b, c1, p->row_mul[r]);
  }
  if (mode == NN_Q8_OUT_I32 || mode == NN_Q8_OUT_I32_ACC) {
    int32_t *d = (int32_t *)c + r * ldc;
    if (mode == NN_Q8_OUT_I32_ACC) {
      int32x4_t d0, d1;
      q8_load_i32x8(d, nc, &d0, &d1);
      a = vaddq_s32(a, d0);
      b = vaddq_s32(b, d1);
    }
    q8_store_i32x8(d, a, b, nc);
    return;
  }
  const float32x4_t s = vdupq_n_f32(p->scale[r]);
  const float32x4_t lo = vdupq_n_f32((float)(p->qmin - p->out_zp));
  const float32x4_t hi = vdupq_n_f32((float)(p->qmax - p->out_zp));
  const int32x4_t zp = vdupq_n_s32(p->out_zp);
  const uint8x8_t q = q8_narrow8(q8_requant4(a, s, lo, hi, zp), q8_requant4(b, s, lo, hi, zp),
                                 mode == NN_Q8_OUT_S8);
  q8_store8((uint8_t *)c + r * ldc, q, nc);
}

#endif
