/*
 * q8-gemm-4x8-neon.c - 8-bit GEMM microkernel for plain AArch64 NEON (no dot product),
 * 4 rows x 8 columns. Activations widen to 16 bits (uxtl) and weights too (sxtl); smull
 * gives the four products of one column quad, addp folds them to pairs and the
 * accumulators hold (column, pair) partial sums, folded once at the end. Exact for
 * every input. Contract: src/kernels/q8_gemm.h.
 */
#include "kernels/q8_neon_tile_inl.h"

void nn_q8_gemm_ukernel_4x8__neon(size_t mr, size_t nc, size_t kq, const int8_t *w,
                                  const uint8_t *x, void *c, size_t ldc, int mode,
                                  const nn_q8_gemm_params *p);

void nn_q8_gemm_ukernel_4x8__neon(size_t mr, size_t nc, size_t kq, const int8_t *w,
                                  const uint8_t *x, void *c, size_t ldc, int mode,
                                  const nn_q8_gemm_params *p) {
  /* acc[r][j]: columns 2j, 2j + 1 as [c2j k01, c2j k23, c2j+1 k01, c2j+1 k23] */
  int32x4_t acc[4][4];
  for (int r = 0; r < 4; r++)
    for (int j = 0; j < 4; j++) acc[r][j] = vdupq_n_s32(0);
  for (size_t q = 0; q < kq; q++, x += 32, w += 16) {
    const uint8x16_t xa = vld1q_u8(x), xb = vld1q_u8(x + 16);
    int16x8_t xv[4];
    xv[0] = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(xa)));
    xv[1] = vreinterpretq_s16_u16(vmovl_high_u8(xa));
    xv[2] = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(xb)));
    xv[3] = vreinterpretq_s16_u16(vmovl_high_u8(xb));
    const int8x16_t wv = vld1q_s8(w);
    const int16x8_t w01 = vmovl_s8(vget_low_s8(wv)), w23 = vmovl_high_s8(wv);
    int16x8_t wr[4];
    wr[0] = vcombine_s16(vget_low_s16(w01), vget_low_s16(w01));
    wr[1] = vcombine_s16(vget_high_s16(w01), vget_high_s16(w01));
    wr[2] = vcombine_s16(vget_low_s16(w23), vget_low_s16(w23));
    wr[3] = vcombine_s16(vget_high_s16(w23), vget_high_s16(w23));
    for (int r = 0; r < 4; r++)
      for (int j = 0; j < 4; j++) {
        const int32x4_t lo = vmull_s16(vget_low_s16(xv[j]), vget_low_s16(wr[r]));
        const int32x4_t hi = vmull_high_s16(xv[j], wr[r]);
        acc[r][j] = vaddq_s32(acc[r][j], vpaddq_s32(lo, hi));
      }
  }
  for (size_t r = 0; r < mr; r++) {
    const int32x4_t a = vpaddq_s32(acc[r][0], acc[r][1]);
    const int32x4_t b = vpaddq_s32(acc[r][2], acc[r][3]);
    q8_neon_store_row8(a, b, r, nc, c, ldc, mode, p);
  }
}
