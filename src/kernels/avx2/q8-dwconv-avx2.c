/*
 * q8-dwconv-avx2.c - depthwise 3x3 on a padded uint8 plane for AVX2 (also used by
 * AVX-512 without VNNI). Inputs are widened to 16 bits; a dword lane of the widened
 * load at offset p holds (x[p + 2a], x[p + 2a + 1]), so vpmaddwd with the weight pairs
 * (w0, w1) at offset 0 and (w2, 0) at offset 2 gives outputs 2a (stride 1: offsets
 * +1 and +3 give outputs 2a + 1) or a (stride 2). Exact: no 16-bit saturation.
 * Contract: src/kernels/q8_dwconv.h.
 */
#include "kernels/q8_avx2_inl.h"
#include "kernels/q8_dwconv.h"

void nn_q8_dwconv3x3__avx2(const nn_q8_dw_args *a);

static inline __m256i wpair(int8_t lo, int8_t hi) {
  return _mm256_set1_epi32((int32_t)(((uint32_t)(uint16_t)(int16_t)hi << 16) |
                                     (uint16_t)(int16_t)lo));
}

static inline __m256i ld16(const uint8_t *p) {
  return _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)p));
}

void nn_q8_dwconv3x3__avx2(const nn_q8_dw_args *a) {
  __m256i wa[3], wb[3];
  for (int ky = 0; ky < 3; ky++) {
    wa[ky] = wpair(a->w[4 * ky], a->w[4 * ky + 1]);
    wb[ky] = wpair(a->w[4 * ky + 2], 0);
  }
  const __m256i bias = _mm256_set1_epi32(a->bias), zp = _mm256_set1_epi32(a->out_zp);
  const __m256 s = _mm256_set1_ps(a->scale);
  const __m256 lo = _mm256_set1_ps((float)(a->qmin - a->out_zp));
  const __m256 hi = _mm256_set1_ps((float)(a->qmax - a->out_zp));
  const int sgn = a->qmin < 0;
  const size_t ow = a->ow, ldx = a->ldx;
  for (size_t oy = 0; oy < a->oh; oy++) {
    const uint8_t *r = a->x + oy * a->stride * ldx;
    uint8_t *y = a->y + oy * a->ldy;
    if (a->stride == 1) {
      for (size_t ox = 0; ox < ow; ox += 16) {
        __m256i e = bias, o = bias;
        for (int ky = 0; ky < 3; ky++) {
          const uint8_t *p = r + ky * ldx + ox;
          e = _mm256_add_epi32(e, _mm256_madd_epi16(ld16(p), wa[ky]));
          e = _mm256_add_epi32(e, _mm256_madd_epi16(ld16(p + 2), wb[ky]));
          o = _mm256_add_epi32(o, _mm256_madd_epi16(ld16(p + 1), wa[ky]));
          o = _mm256_add_epi32(o, _mm256_madd_epi16(ld16(p + 3), wb[ky]));
        }
        const __m128i qe = q8_narrow8(q8_round_clamp8(_mm256_mul_ps(_mm256_cvtepi32_ps(e), s), lo, hi, zp), sgn);
        const __m128i qo = q8_narrow8(q8_round_clamp8(_mm256_mul_ps(_mm256_cvtepi32_ps(o), s), lo, hi, zp), sgn);
        q8_store_bytes(y + ox, _mm_unpacklo_epi8(qe, qo), ow - ox);
      }
    } else {
      for (size_t ox = 0; ox < ow; ox += 8) {
        __m256i e = bias;
        for (int ky = 0; ky < 3; ky++) {
          const uint8_t *p = r + ky * ldx + 2 * ox;
          e = _mm256_add_epi32(e, _mm256_madd_epi16(ld16(p), wa[ky]));
          e = _mm256_add_epi32(e, _mm256_madd_epi16(ld16(p + 2), wb[ky]));
        }
        const __m128i q = q8_narrow8(q8_round_clamp8(_mm256_mul_ps(_mm256_cvtepi32_ps(e), s), lo, hi, zp), sgn);
        q8_store_bytes(y + ox, q, ow - ox < 8 ? ow - ox : 8);
      }
    }
  }
}
