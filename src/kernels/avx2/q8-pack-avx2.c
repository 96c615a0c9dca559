/*
 * q8-pack-avx2.c - activation panel packer for x86 (AVX2 and up): four rows of up to 16
 * columns become 16 column quads with two rounds of byte / word unpacks. Contract:
 * nn_q8_pack_x_fn in src/kernels/q8_gemm.h (reads only the k x nc bytes given).
 */
#include <immintrin.h>
#include <string.h>

#include "kernels/q8_gemm.h"

void nn_q8_pack_x__avx2(size_t k, size_t nc, size_t nr, const uint8_t *const *xrows,
                        size_t col, uint8_t xor_mask, uint8_t *out);

void nn_q8_pack_x__avx2(size_t k, size_t nc, size_t nr, const uint8_t *const *xrows,
                        size_t col, uint8_t xor_mask, uint8_t *out) {
  const __m128i xm = _mm_set1_epi8((char)xor_mask);
  const size_t kq = (k + 3) / 4;
  for (size_t q = 0; q < kq; q++, out += 4 * nr) {
    const uint8_t *rows[4];
    size_t nrows = k - 4 * q < 4 ? k - 4 * q : 4;
    for (size_t i = 0; i < 4; i++) rows[i] = i < nrows ? xrows[4 * q + i] + col : NULL;
    size_t j = 0;
    for (; j + 16 <= nc; j += 16) {
      __m128i r[4];
      for (int i = 0; i < 4; i++)
        r[i] = rows[i] ? _mm_xor_si128(_mm_loadu_si128((const __m128i *)(rows[i] + j)), xm)
                       : _mm_setzero_si128();
      const __m128i a = _mm_unpacklo_epi8(r[0], r[1]), b = _mm_unpackhi_epi8(r[0], r[1]);
      const __m128i cc = _mm_unpacklo_epi8(r[2], r[3]), d = _mm_unpackhi_epi8(r[2], r[3]);
      _mm_storeu_si128((__m128i *)(out + 4 * j), _mm_unpacklo_epi16(a, cc));
      _mm_storeu_si128((__m128i *)(out + 4 * j + 16), _mm_unpackhi_epi16(a, cc));
      _mm_storeu_si128((__m128i *)(out + 4 * j + 32), _mm_unpacklo_epi16(b, d));
      _mm_storeu_si128((__m128i *)(out + 4 * j + 48), _mm_unpackhi_epi16(b, d));
    }
    if (j < nr) {
      /* Tail: copy the remaining columns into zero-padded rows, then unpack. */
      _Alignas(16) uint8_t t[4][16];
      const size_t rem = nc - j;
      for (int i = 0; i < 4; i++) {
        memset(t[i], 0, 16);
        if (rows[i] && rem) {
          memcpy(t[i], rows[i] + j, rem < 16 ? rem : 16);
          for (size_t e = 0; e < rem && e < 16; e++) t[i][e] ^= xor_mask;
        }
      }
      const __m128i r0 = _mm_load_si128((const __m128i *)t[0]);
      const __m128i r1 = _mm_load_si128((const __m128i *)t[1]);
      const __m128i r2 = _mm_load_si128((const __m128i *)t[2]);
      const __m128i r3 = _mm_load_si128((const __m128i *)t[3]);
      const __m128i a = _mm_unpacklo_epi8(r0, r1), b = _mm_unpackhi_epi8(r0, r1);
      const __m128i cc = _mm_unpacklo_epi8(r2, r3), d = _mm_unpackhi_epi8(r2, r3);
      __m128i o[4] = {_mm_unpacklo_epi16(a, cc), _mm_unpackhi_epi16(a, cc),
                      _mm_unpacklo_epi16(b, d), _mm_unpackhi_epi16(b, d)};
      /* Write quads for columns j .. nr - 1 (zeros past nc). */
      for (size_t jj = j, s = 0; jj < nr; jj += 4, s++) {
        if (s < 4)
          _mm_storeu_si128((__m128i *)(out + 4 * jj), o[s]);
        else
          _mm_storeu_si128((__m128i *)(out + 4 * jj), _mm_setzero_si128());
      }
    }
  }
}
