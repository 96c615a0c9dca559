/*
 * q8-gemm-4x32-avx512.c - u8 x s8 -> s32 GEMM microkernel for AVX-512 without VNNI,
 * 4 rows x 32 columns. Both operands are widened to 16 bits (vpmovzxbw / vpmovsxbw) and
 * multiplied with vpmaddwd, which is exact for every 8-bit input (vpmaddubsw would
 * saturate); each accumulator lane pair holds two partial sums of one column, added at
 * the end. Contract: src/kernels/q8_gemm.h.
 */
#include "kernels/q8_avx512_inl.h"

void nn_q8_gemm_ukernel_4x32__avx512(size_t mr, size_t nc, size_t kq, const int8_t *w,
                                     const uint8_t *x, void *c, size_t ldc, int mode,
                                     const nn_q8_gemm_params *p);

/* Weight quad (w0..w3) widened and repeated over 8 column slots. */
static inline __m512i wquad16(const int8_t *w) {
  int32_t v;
  memcpy(&v, w, 4);
  return _mm512_cvtepi8_epi16(_mm256_set1_epi32(v));
}

/* Pair sums of 4 vectors of (2 partials x 8 columns) -> 32 columns in two vectors. */
static inline void fold(__m512i v0, __m512i v1, __m512i v2, __m512i v3, __m512i *lo,
                        __m512i *hi) {
  __m256i s0 = _mm512_cvtepi64_epi32(_mm512_add_epi32(v0, _mm512_srli_epi64(v0, 32)));
  __m256i s1 = _mm512_cvtepi64_epi32(_mm512_add_epi32(v1, _mm512_srli_epi64(v1, 32)));
  __m256i s2 = _mm512_cvtepi64_epi32(_mm512_add_epi32(v2, _mm512_srli_epi64(v2, 32)));
  __m256i s3 = _mm512_cvtepi64_epi32(_mm512_add_epi32(v3, _mm512_srli_epi64(v3, 32)));
  *lo = _mm512_inserti64x4(_mm512_castsi256_si512(s0), s1, 1);
  *hi = _mm512_inserti64x4(_mm512_castsi256_si512(s2), s3, 1);
}

#define MADD(r)                                                            \
  do {                                                                     \
    const __m512i wq = wquad16(w + 4 * (r));                               \
    a##r##0 = _mm512_add_epi32(a##r##0, _mm512_madd_epi16(x0, wq));        \
    a##r##1 = _mm512_add_epi32(a##r##1, _mm512_madd_epi16(x1, wq));        \
    a##r##2 = _mm512_add_epi32(a##r##2, _mm512_madd_epi16(x2, wq));        \
    a##r##3 = _mm512_add_epi32(a##r##3, _mm512_madd_epi16(x3, wq));        \
  } while (0)

void nn_q8_gemm_ukernel_4x32__avx512(size_t mr, size_t nc, size_t kq, const int8_t *w,
                                     const uint8_t *x, void *c, size_t ldc, int mode,
                                     const nn_q8_gemm_params *p) {
  __m512i a00 = _mm512_setzero_si512(), a01 = a00, a02 = a00, a03 = a00, a10 = a00,
          a11 = a00, a12 = a00, a13 = a00, a20 = a00, a21 = a00, a22 = a00, a23 = a00,
          a30 = a00, a31 = a00, a32 = a00, a33 = a00;
  for (size_t q = 0; q < kq; q++, x += 128, w += 16) {
    const __m512i x0 = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)x));
    const __m512i x1 = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(x + 32)));
    const __m512i x2 = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(x + 64)));
    const __m512i x3 = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(x + 96)));
    MADD(0);
    MADD(1);
    MADD(2);
    MADD(3);
  }
  const q8_epi512 e = q8_epi512_make(p);
  __m512i lo, hi;
  fold(a00, a01, a02, a03, &lo, &hi);
  q8_store_row32(lo, hi, 0, nc, c, ldc, mode, p, &e);
  if (mr > 1) {
    fold(a10, a11, a12, a13, &lo, &hi);
    q8_store_row32(lo, hi, 1, nc, c, ldc, mode, p, &e);
  }
  if (mr > 2) {
    fold(a20, a21, a22, a23, &lo, &hi);
    q8_store_row32(lo, hi, 2, nc, c, ldc, mode, p, &e);
  }
  if (mr > 3) {
    fold(a30, a31, a32, a33, &lo, &hi);
    q8_store_row32(lo, hi, 3, nc, c, ldc, mode, p, &e);
  }
}
