/*
 * q8-packxt-avx2.c - the activation panel of the q8 MatMul adapter from rows of x^T
 * (the contract of nn_q8_pack_xt in q8_gemm.h, without column sums): 8 rows x 8 quads
 * at a time through an 8x8 transpose of 32-bit words; tails as the portable packer.
 * Byte moves and XOR only, so the panel equals nn_q8_pack_xt's exactly.
 */
#include <immintrin.h>
#include <string.h>

#include "kernels/q8_matmul.h"

static inline void transpose8(__m256i r[8]) {
  const __m256 a0 = _mm256_castsi256_ps(r[0]), a1 = _mm256_castsi256_ps(r[1]);
  const __m256 a2 = _mm256_castsi256_ps(r[2]), a3 = _mm256_castsi256_ps(r[3]);
  const __m256 a4 = _mm256_castsi256_ps(r[4]), a5 = _mm256_castsi256_ps(r[5]);
  const __m256 a6 = _mm256_castsi256_ps(r[6]), a7 = _mm256_castsi256_ps(r[7]);
  const __m256 t0 = _mm256_unpacklo_ps(a0, a1), t1 = _mm256_unpackhi_ps(a0, a1);
  const __m256 t2 = _mm256_unpacklo_ps(a2, a3), t3 = _mm256_unpackhi_ps(a2, a3);
  const __m256 t4 = _mm256_unpacklo_ps(a4, a5), t5 = _mm256_unpackhi_ps(a4, a5);
  const __m256 t6 = _mm256_unpacklo_ps(a6, a7), t7 = _mm256_unpackhi_ps(a6, a7);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_castps_si256(_mm256_permute2f128_ps(s0, s4, 0x20));
  r[1] = _mm256_castps_si256(_mm256_permute2f128_ps(s1, s5, 0x20));
  r[2] = _mm256_castps_si256(_mm256_permute2f128_ps(s2, s6, 0x20));
  r[3] = _mm256_castps_si256(_mm256_permute2f128_ps(s3, s7, 0x20));
  r[4] = _mm256_castps_si256(_mm256_permute2f128_ps(s0, s4, 0x31));
  r[5] = _mm256_castps_si256(_mm256_permute2f128_ps(s1, s5, 0x31));
  r[6] = _mm256_castps_si256(_mm256_permute2f128_ps(s2, s6, 0x31));
  r[7] = _mm256_castps_si256(_mm256_permute2f128_ps(s3, s7, 0x31));
}

void nn_q8_pack_xt__avx2(size_t k, size_t nc, size_t nr, const uint8_t *xt, size_t ldxt,
                         uint8_t xor_mask, uint8_t *out) {
  const size_t kq = (k + 3) / 4, kf = k / 4, k8 = kf / 8 * 8;
  const __m256i m = _mm256_set1_epi8((char)xor_mask);
  size_t j = 0;
  for (; j + 8 <= nc; j += 8) {
    for (size_t q = 0; q < k8; q += 8) {
      __m256i r[8];
      for (int i = 0; i < 8; i++)
        r[i] = _mm256_xor_si256(
            _mm256_loadu_si256((const __m256i *)(xt + (j + i) * ldxt + 4 * q)), m);
      transpose8(r);
      for (int c = 0; c < 8; c++)
        _mm256_storeu_si256((__m256i *)(out + ((q + c) * nr + j) * 4), r[c]);
    }
  }
  /* the rest: quads beyond k8 of the blocked rows, and rows beyond the last block */
  const uint32_t m32 = 0x01010101u * xor_mask;
  for (size_t jj = 0; jj < nc; jj++) {
    const uint8_t *row = xt + jj * ldxt;
    for (size_t q = jj < j ? k8 : 0; q < kf; q++) {
      uint32_t v;
      memcpy(&v, row + 4 * q, 4);
      v ^= m32;
      memcpy(out + (q * nr + jj) * 4, &v, 4);
    }
    if (kf < kq) {
      uint8_t t[4] = {0};
      for (size_t b = 0; b < k - 4 * kf; b++) t[b] = row[4 * kf + b] ^ xor_mask;
      memcpy(out + (kf * nr + jj) * 4, t, 4);
    }
  }
  for (size_t jj = nc; jj < nr; jj++)
    for (size_t q = 0; q < kq; q++) memset(out + (q * nr + jj) * 4, 0, 4);
}
