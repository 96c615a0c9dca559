/*
 * q8-mmstore-avx2.c - the float epilogue of the q8 MatMul adapter (q8_matmul.h): an
 * int32 tile of mc features x nc rows, stored transposed as float
 * y[j][i] = (float)t[i][j] * mult[i] + bias[i]. Full 8- and 4-feature tiles transpose
 * in registers; a multiply then an add (no FMA), so results equal the scalar twin
 * nn_q8_mmstore_f32__scalar bit for bit.
 */
#include <immintrin.h>

#include "kernels/q8_matmul.h"

static inline void transpose8(__m256 r[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
  r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
  r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
  r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
  r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
  r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
  r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
  r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

void nn_q8_mmstore_f32__avx2(size_t mc, size_t nc, const int32_t *tile, size_t ldt, float *y,
                             size_t ldy, const float *mult, const float *bias) {
  size_t j = 0;
  if (mc == 8) {
    const __m256 vm = _mm256_loadu_ps(mult);
    const __m256 vb = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
    for (; j + 8 <= nc; j += 8) {
      __m256 r[8];
      for (int i = 0; i < 8; i++)
        r[i] = _mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)(tile + i * ldt + j)));
      transpose8(r);
      for (int c = 0; c < 8; c++)
        _mm256_storeu_ps(y + (j + c) * ldy, _mm256_add_ps(_mm256_mul_ps(r[c], vm), vb));
    }
  } else if (mc == 4) {
    const __m128 vm = _mm_loadu_ps(mult), vb = bias ? _mm_loadu_ps(bias) : _mm_setzero_ps();
    for (; j + 4 <= nc; j += 4) {
      __m128 r0 = _mm_cvtepi32_ps(_mm_loadu_si128((const __m128i *)(tile + j)));
      __m128 r1 = _mm_cvtepi32_ps(_mm_loadu_si128((const __m128i *)(tile + ldt + j)));
      __m128 r2 = _mm_cvtepi32_ps(_mm_loadu_si128((const __m128i *)(tile + 2 * ldt + j)));
      __m128 r3 = _mm_cvtepi32_ps(_mm_loadu_si128((const __m128i *)(tile + 3 * ldt + j)));
      _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
      _mm_storeu_ps(y + j * ldy, _mm_add_ps(_mm_mul_ps(r0, vm), vb));
      _mm_storeu_ps(y + (j + 1) * ldy, _mm_add_ps(_mm_mul_ps(r1, vm), vb));
      _mm_storeu_ps(y + (j + 2) * ldy, _mm_add_ps(_mm_mul_ps(r2, vm), vb));
      _mm_storeu_ps(y + (j + 3) * ldy, _mm_add_ps(_mm_mul_ps(r3, vm), vb));
    }
  }
  if (j < nc) nn_q8_mmstore_f32__scalar(mc, nc - j, tile + j, ldt, y + j * ldy, ldy, mult, bias);
}
