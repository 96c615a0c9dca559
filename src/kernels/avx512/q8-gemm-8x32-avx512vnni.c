/*
 * q8-gemm-8x32-avx512vnni.c - u8 x s8 -> s32 GEMM microkernel, 8 rows x 32 columns, with
 * vpdpbusd: per depth quad, two 64-byte activation vectors (32 columns x 4 bytes) and one
 * broadcast weight quad per row; 16 zmm accumulators. Contract: src/kernels/q8_gemm.h.
 */
#include "kernels/q8_avx512_inl.h"
#include "kernels/ref/requant.h"

void nn_q8_gemm_ukernel_8x32__avx512vnni(size_t mr, size_t nc, size_t kq, const int8_t *w,
                                         const uint8_t *x, void *c, size_t ldc, int mode,
                                         const nn_q8_gemm_params *p);

#define DP(r)                                                 \
  do {                                                        \
    const __m512i wq = q8_bcst_quad(w + 4 * (r));             \
    a##r##0 = _mm512_dpbusd_epi32(a##r##0, x0, wq);           \
    a##r##1 = _mm512_dpbusd_epi32(a##r##1, x1, wq);           \
  } while (0)

/* One column (a classifier head: a 1x1 convolution of a 1x1 map): the 32-column tile
 * would spend 31/32 of its work on padding. Here one vpdpbusd covers two depth quads of
 * the 8 rows (the packed block is [kq][8][4], so 64 bytes hold quads q and q + 1), with
 * the column's two quads broadcast to the matching halves; the epilogue is per row. */
static void gemv_8x1(size_t mr, size_t kq, const int8_t *w, const uint8_t *x, void *c,
                     size_t ldc, int mode, const nn_q8_gemm_params *p) {
  __m512i acc = _mm512_setzero_si512();
  size_t q = 0;
  for (; q + 2 <= kq; q += 2) {
    int32_t x0, x1;
    memcpy(&x0, x + 128 * q, 4);
    memcpy(&x1, x + 128 * (q + 1), 4);
    const __m512i xv = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi32(x0)),
                                          _mm256_set1_epi32(x1), 1);
    acc = _mm512_dpbusd_epi32(acc, xv, _mm512_loadu_si512(w + 32 * q));
  }
  if (q < kq) {
    int32_t x0;
    memcpy(&x0, x + 128 * q, 4);
    const __m512i wv = _mm512_zextsi256_si512(_mm256_loadu_si256((const __m256i *)(w + 32 * q)));
    acc = _mm512_dpbusd_epi32(acc, _mm512_set1_epi32(x0), wv);
  }
  int32_t t[8];
  _mm256_storeu_si256((__m256i *)t, _mm256_add_epi32(_mm512_castsi512_si256(acc),
                                                     _mm512_extracti64x4_epi64(acc, 1)));
  for (size_t r = 0; r < mr; r++) {
    uint32_t v = (uint32_t)t[r];
    if (p->row_bias) v += (uint32_t)p->row_bias[r];
    if (p->row_mul) v += (uint32_t)p->row_mul[r] * (uint32_t)p->col_vec[0];
    switch (mode) {
      case NN_Q8_OUT_I32: ((int32_t *)c)[r * ldc] = (int32_t)v; break;
      case NN_Q8_OUT_I32_ACC:
        ((int32_t *)c)[r * ldc] = (int32_t)(v + (uint32_t)((int32_t *)c)[r * ldc]);
        break;
      default:
        ((uint8_t *)c)[r * ldc] =
            (uint8_t)nn_requantize_one((int32_t)v, p->scale[r], p->out_zp, p->qmin, p->qmax);
    }
  }
}

void nn_q8_gemm_ukernel_8x32__avx512vnni(size_t mr, size_t nc, size_t kq, const int8_t *w,
                                         const uint8_t *x, void *c, size_t ldc, int mode,
                                         const nn_q8_gemm_params *p) {
  if (nc == 1) {
    gemv_8x1(mr, kq, w, x, c, ldc, mode, p);
    return;
  }
  /* The accumulators start from the row bias: no adds in the epilogue (rows past mr
   * start from 0 and are not stored). */
  __m512i a00 = q8_acc_init(p, 0, mr), a01 = a00, a10 = q8_acc_init(p, 1, mr), a11 = a10,
          a20 = q8_acc_init(p, 2, mr), a21 = a20, a30 = q8_acc_init(p, 3, mr), a31 = a30,
          a40 = q8_acc_init(p, 4, mr), a41 = a40, a50 = q8_acc_init(p, 5, mr), a51 = a50,
          a60 = q8_acc_init(p, 6, mr), a61 = a60, a70 = q8_acc_init(p, 7, mr), a71 = a70;
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
  q8_store_row32_b(a00, a01, 0, nc, c, ldc, mode, p, &e, 1);
  if (mr > 1) q8_store_row32_b(a10, a11, 1, nc, c, ldc, mode, p, &e, 1);
  if (mr > 2) q8_store_row32_b(a20, a21, 2, nc, c, ldc, mode, p, &e, 1);
  if (mr > 3) q8_store_row32_b(a30, a31, 3, nc, c, ldc, mode, p, &e, 1);
  if (mr > 4) q8_store_row32_b(a40, a41, 4, nc, c, ldc, mode, p, &e, 1);
  if (mr > 5) q8_store_row32_b(a50, a51, 5, nc, c, ldc, mode, p, &e, 1);
  if (mr > 6) q8_store_row32_b(a60, a61, 6, nc, c, ldc, mode, p, &e, 1);
  if (mr > 7) q8_store_row32_b(a70, a71, 7, nc, c, ldc, mode, p, &e, 1);
}
