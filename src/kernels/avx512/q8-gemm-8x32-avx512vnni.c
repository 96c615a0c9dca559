/*
 * q8-gemm-8x32-avx512vnni.c - u8 x s8 -> s32 GEMM microkernel, 8 rows x 32 columns, with
 * vpdpbusd: per depth quad, two 64-byte activation vectors (32 columns x 4 bytes) and one
 * broadcast weight quad per row; 16 zmm accumulators. Contract: src/kernels/q8_gemm.h.
 */
#include "kernels/q8_avx512_inl.h"

void nn_q8_gemm_ukernel_8x32__avx512vnni(size_t mr, size_t nc, size_t kq, const int8_t *w,
                                         const uint8_t *x, void *c, size_t ldc, int mode,
                                         const nn_q8_gemm_params *p);

#define DP(r)                                                 \
  do {                                                        \
    const __m512i wq = q8_bcst_quad(w + 4 * (r));             \
    a##r##0 = _mm512_dpbusd_epi32(a##r##0, x0, wq);           \
    a##r##1 = _mm512_dpbusd_epi32(a##r##1, x1, wq);           \
  } while (0)

void nn_q8_gemm_ukernel_8x32__avx512vnni(size_t mr, size_t nc, size_t kq, const int8_t *w,
                                         const uint8_t *x, void *c, size_t ldc, int mode,
                                         const nn_q8_gemm_params *p) {
  __m512i a00 = _mm512_setzero_si512(), a01 = a00, a10 = a00, a11 = a00, a20 = a00,
          a21 = a00, a30 = a00, a31 = a00, a40 = a00, a41 = a00, a50 = a00, a51 = a00,
          a60 = a00, a61 = a00, a70 = a00, a71 = a00;
  for (size_t q = 0; q < kq; q++, x += 128, w += 32) {
    const __m512i x0 = _mm512_loadu_si512(x), x1 = _mm512_loadu_si512(x + 64);
    DP(0);
    DP(1);
    DP(2);
    DP(3);
    DP(4);
    DP(5);
    DP(6);
    DP(7);
  }
  const q8_epi512 e = q8_epi512_make(p);
  q8_store_row32(a00, a01, 0, nc, c, ldc, mode, p, &e);
  if (mr > 1) q8_store_row32(a10, a11, 1, nc, c, ldc, mode, p, &e);
  if (mr > 2) q8_store_row32(a20, a21, 2, nc, c, ldc, mode, p, &e);
  if (mr > 3) q8_store_row32(a30, a31, 3, nc, c, ldc, mode, p, &e);
  if (mr > 4) q8_store_row32(a40, a41, 4, nc, c, ldc, mode, p, &e);
  if (mr > 5) q8_store_row32(a50, a51, 5, nc, c, ldc, mode, p, &e);
  if (mr > 6) q8_store_row32(a60, a61, 6, nc, c, ldc, mode, p, &e);
  if (mr > 7) q8_store_row32(a70, a71, 7, nc, c, ldc, mode, p, &e);
}
