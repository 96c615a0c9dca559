/*
 * q8-pack-avx512.c - activation panel packer of the 32-column AVX-512 tiles: four rows of
 * 32 columns become 32 column quads with byte / word unpacks and one 128-bit lane swap,
 * and the ragged last panel (a 7x7 or 14x14 map is not a multiple of 32) is read with
 * masked loads instead of being copied aside. Other panel widths take the AVX2 packer.
 * Contract: nn_q8_pack_x_fn in src/kernels/q8_gemm.h (reads only the k x nc bytes given;
 * bytes past nc and rows past k are 0).
 */
#include <immintrin.h>

#include "kernels/q8_gemm.h"

void nn_q8_pack_x__avx2(size_t k, size_t nc, size_t nr, const uint8_t *const *xrows,
                        size_t col, uint8_t xor_mask, uint8_t *out);
void nn_q8_pack_x__avx512(size_t k, size_t nc, size_t nr, const uint8_t *const *xrows,
                          size_t col, uint8_t xor_mask, uint8_t *out);

void nn_q8_pack_x__avx512(size_t k, size_t nc, size_t nr, const uint8_t *const *xrows,
                          size_t col, uint8_t xor_mask, uint8_t *out) {
  if (nr != 32 || nc > 32) {
    nn_q8_pack_x__avx2(k, nc, nr, xrows, col, xor_mask, out);
    return;
  }
  const __mmask32 m = nc >= 32 ? (__mmask32)0xFFFFFFFFu : (__mmask32)((1u << nc) - 1u);
  const __m256i xm = _mm256_maskz_mov_epi8(m, _mm256_set1_epi8((char)xor_mask));
  const size_t kq = (k + 3) / 4;
  for (size_t q = 0; q < kq; q++, out += 128) {
    __m256i r[4];
    for (size_t i = 0; i < 4; i++)
      r[i] = 4 * q + i < k
                 ? _mm256_xor_si256(_mm256_maskz_loadu_epi8(m, xrows[4 * q + i] + col), xm)
                 : _mm256_setzero_si256();
    const __m256i a = _mm256_unpacklo_epi8(r[0], r[1]), b = _mm256_unpackhi_epi8(r[0], r[1]);
    const __m256i c = _mm256_unpacklo_epi8(r[2], r[3]), d = _mm256_unpackhi_epi8(r[2], r[3]);
    /* 128-bit lane L of o0..o3 holds the quads of columns 16L + 0..3, 4..7, 8..11, 12..15. */
    const __m256i o0 = _mm256_unpacklo_epi16(a, c), o1 = _mm256_unpackhi_epi16(a, c);
    const __m256i o2 = _mm256_unpacklo_epi16(b, d), o3 = _mm256_unpackhi_epi16(b, d);
    _mm256_storeu_si256((__m256i *)out, _mm256_permute2x128_si256(o0, o1, 0x20));
    _mm256_storeu_si256((__m256i *)(out + 32), _mm256_permute2x128_si256(o2, o3, 0x20));
    _mm256_storeu_si256((__m256i *)(out + 64), _mm256_permute2x128_si256(o0, o1, 0x31));
    _mm256_storeu_si256((__m256i *)(out + 96), _mm256_permute2x128_si256(o2, o3, 0x31));
  }
}
