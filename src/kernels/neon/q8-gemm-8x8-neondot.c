/*
 * q8-gemm-8x8-neondot.c - 8-bit GEMM microkernel with the Armv8.2 dot product, 8 rows x
 * 8 columns. sdot multiplies int8 by int8 only, so activations are flipped to int8
 * (x ^ 0x80 = x - 128) as they are loaded and the table reports q8_x_offset = -128 (the
 * drivers add 128 * rowsum back through the row terms). Per depth quad: two activation
 * vectors (4 columns x 4 bytes each), two weight vectors (4 rows x 4 bytes each) and 16
 * sdot by element. Contract: src/kernels/q8_gemm.h.
 */
#pragma GCC target("arch=armv8.2-a+dotprod")
#include "kernels/q8_neon_tile_inl.h"

void nn_q8_gemm_ukernel_8x8__neondot(size_t mr, size_t nc, size_t kq, const int8_t *w,
                                     const uint8_t *x, void *c, size_t ldc, int mode,
                                     const nn_q8_gemm_params *p);

void nn_q8_gemm_ukernel_8x8__neondot(size_t mr, size_t nc, size_t kq, const int8_t *w,
                                     const uint8_t *x, void *c, size_t ldc, int mode,
                                     const nn_q8_gemm_params *p) {
  int32x4_t acc[8][2];
  for (int r = 0; r < 8; r++) acc[r][0] = acc[r][1] = vdupq_n_s32(0);
  const uint8x16_t flip = vdupq_n_u8(0x80);
  for (size_t q = 0; q < kq; q++, x += 32, w += 32) {
    const int8x16_t x0 = vreinterpretq_s8_u8(veorq_u8(vld1q_u8(x), flip));
    const int8x16_t x1 = vreinterpretq_s8_u8(veorq_u8(vld1q_u8(x + 16), flip));
    const int8x16_t w0 = vld1q_s8(w), w1 = vld1q_s8(w + 16);
    acc[0][0] = vdotq_laneq_s32(acc[0][0], x0, w0, 0);
    acc[0][1] = vdotq_laneq_s32(acc[0][1], x1, w0, 0);
    acc[1][0] = vdotq_laneq_s32(acc[1][0], x0, w0, 1);
    acc[1][1] = vdotq_laneq_s32(acc[1][1], x1, w0, 1);
    acc[2][0] = vdotq_laneq_s32(acc[2][0], x0, w0, 2);
    acc[2][1] = vdotq_laneq_s32(acc[2][1], x1, w0, 2);
    acc[3][0] = vdotq_laneq_s32(acc[3][0], x0, w0, 3);
    acc[3][1] = vdotq_laneq_s32(acc[3][1], x1, w0, 3);
    acc[4][0] = vdotq_laneq_s32(acc[4][0], x0, w1, 0);
    acc[4][1] = vdotq_laneq_s32(acc[4][1], x1, w1, 0);
    acc[5][0] = vdotq_laneq_s32(acc[5][0], x0, w1, 1);
    acc[5][1] = vdotq_laneq_s32(acc[5][1], x1, w1, 1);
    acc[6][0] = vdotq_laneq_s32(acc[6][0], x0, w1, 2);
    acc[6][1] = vdotq_laneq_s32(acc[6][1], x1, w1, 2);
    acc[7][0] = vdotq_laneq_s32(acc[7][0], x0, w1, 3);
    acc[7][1] = vdotq_laneq_s32(acc[7][1], x1, w1, 3);
  }
  for (size_t r = 0; r < mr; r++) q8_neon_store_row8(acc[r][0], acc[r][1], r, nc, c, ldc, mode, p);
}
