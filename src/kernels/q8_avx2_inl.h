/*
 * q8_avx2_inl.h - shared inline pieces of the AVX2 8-bit kernels (included only by files
 * under avx2/): exact requantization of 8 int32 lanes to 8 bytes, identical to
 * nn_requantize_one for finite scales.
 */
#ifndef NN_KERNELS_Q8_AVX2_INL_H
#define NN_KERNELS_Q8_AVX2_INL_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

/* round_half_even(f) clamped to [lo, hi] (= q range - zp), + zp, as int32 lanes. */
static inline __m256i q8_round_clamp8(__m256 f, __m256 lo, __m256 hi, __m256i zp) {
  f = _mm256_round_ps(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  f = _mm256_min_ps(_mm256_max_ps(f, lo), hi);
  return _mm256_add_epi32(_mm256_cvtps_epi32(f), zp);
}

/* 8 in-range int32 lanes -> 8 bytes in the low half (unsigned or signed codes). */
static inline __m128i q8_narrow8(__m256i q, int is_signed) {
  const __m128i h = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
  return is_signed ? _mm_packs_epi16(h, h) : _mm_packus_epi16(h, h);
}

static inline void q8_store_bytes(uint8_t *d, __m128i v, size_t n) {
  if (n >= 16) {
    _mm_storeu_si128((__m128i *)d, v);
  } else {
    uint8_t t[16];
    _mm_storeu_si128((__m128i *)t, v);
    memcpy(d, t, n);
  }
}

#endif
