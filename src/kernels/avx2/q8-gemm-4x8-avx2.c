/*
 * q8-gemm-4x8-avx2.c - u8 x s8 -> s32 GEMM microkernel for AVX2, 4 rows x 8 columns.
 * Both operands are widened to 16 bits and multiplied with vpmaddwd: exact for every
 * 8-bit input, where vpmaddubsw would saturate (255 * -128 * 2 < -32768) unless the
 * weights were reduced to 7 bits. Each accumulator holds two partial sums per column,
 * folded with vphaddd at the end. Contract: src/kernels/q8_gemm.h.
 */
#include <immintrin.h>
#include <string.h>

#include "kernels/q8_gemm.h"

void nn_q8_gemm_ukernel_4x8__avx2(size_t mr, size_t nc, size_t kq, const int8_t *w,
                                  const uint8_t *x, void *c, size_t ldc, int mode,
                                  const nn_q8_gemm_params *p);

static inline __m256i wquad16(const int8_t *w) {
  int32_t v;
  memcpy(&v, w, 4);
  return _mm256_cvtepi8_epi16(_mm_set1_epi32(v));
}

static inline __m256i mask8(size_t n) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), idx);
}

static void store_row(__m256i v, size_t r, size_t nc, void *c, size_t ldc, int mode,
                      const nn_q8_gemm_params *p) {
  const __m256i m = mask8(nc);
  if (p->row_bias) v = _mm256_add_epi32(v, _mm256_set1_epi32(p->row_bias[r]));
  if (p->row_mul)
    v = _mm256_add_epi32(v, _mm256_mullo_epi32(_mm256_set1_epi32(p->row_mul[r]),
                                               _mm256_maskload_epi32(p->col_vec, m)));
  if (mode == NN_Q8_OUT_I32 || mode == NN_Q8_OUT_I32_ACC) {
    int *d = (int *)c + r * ldc;
    if (mode == NN_Q8_OUT_I32_ACC) v = _mm256_add_epi32(v, _mm256_maskload_epi32(d, m));
    _mm256_maskstore_epi32(d, m, v);
    return;
  }
  const int32_t zp = p->out_zp;
  __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(v), _mm256_set1_ps(p->scale[r]));
  f = _mm256_round_ps(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  f = _mm256_min_ps(_mm256_max_ps(f, _mm256_set1_ps((float)(p->qmin - zp))),
                    _mm256_set1_ps((float)(p->qmax - zp)));
  const __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(f), _mm256_set1_epi32(zp));
  /* Values are in range, so the saturating packs are plain narrowing. */
  const __m128i h = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
  const __m128i b = mode == NN_Q8_OUT_U8 ? _mm_packus_epi16(h, h) : _mm_packs_epi16(h, h);
  uint8_t *d = (uint8_t *)c + r * ldc;
  if (nc >= 8) {
    _mm_storel_epi64((__m128i *)d, b);
  } else {
    uint8_t tmp[16];
    _mm_storeu_si128((__m128i *)tmp, b);
    memcpy(d, tmp, nc);
  }
}

/* (c0a c0b c1a c1b | c2a c2b c3a c3b), (c4.. | c6..) -> c0 .. c7 */
static inline __m256i fold(__m256i v0, __m256i v1) {
  return _mm256_permute4x64_epi64(_mm256_hadd_epi32(v0, v1), 0xD8);
}

#define MADD(r)                                                      \
  do {                                                               \
    const __m256i wq = wquad16(w + 4 * (r));                         \
    a##r##0 = _mm256_add_epi32(a##r##0, _mm256_madd_epi16(x0, wq));  \
    a##r##1 = _mm256_add_epi32(a##r##1, _mm256_madd_epi16(x1, wq));  \
  } while (0)

void nn_q8_gemm_ukernel_4x8__avx2(size_t mr, size_t nc, size_t kq, const int8_t *w,
                                  const uint8_t *x, void *c, size_t ldc, int mode,
                                  const nn_q8_gemm_params *p) {
  __m256i a00 = _mm256_setzero_si256(), a01 = a00, a10 = a00, a11 = a00, a20 = a00,
          a21 = a00, a30 = a00, a31 = a00;
  for (size_t q = 0; q < kq; q++, x += 32, w += 16) {
    const __m256i x0 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)x));
    const __m256i x1 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(x + 16)));
    MADD(0);
    MADD(1);
    MADD(2);
    MADD(3);
  }
  store_row(fold(a00, a01), 0, nc, c, ldc, mode, p);
  if (mr > 1) store_row(fold(a10, a11), 1, nc, c, ldc, mode, p);
  if (mr > 2) store_row(fold(a20, a21), 2, nc, c, ldc, mode, p);
  if (mr > 3) store_row(fold(a30, a31), 3, nc, c, ldc, mode, p);
}
