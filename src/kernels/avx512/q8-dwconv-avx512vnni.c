/*
 * q8-dwconv-avx512vnni.c - depthwise 3x3 on a padded uint8 plane with vpdpbusd. A dword
 * lane holds the 4 bytes x[ox*s + 0..3] of one output (the 4th weight is 0), so one
 * unaligned 64-byte load at offset b gives the windows of outputs 4a + b (stride 1) or,
 * at offset 2b, of outputs 2a + b (stride 2); the requantized bytes of the 4 (or 2)
 * vectors are then interleaved back into order. Contract: src/kernels/q8_dwconv.h.
 */
#include "kernels/q8_avx512_inl.h"
#include "kernels/q8_dwconv.h"

void nn_q8_dwconv3x3__avx512vnni(const nn_q8_dw_args *a);

static inline __m512i win3(__m512i acc, const uint8_t *r0, const uint8_t *r1,
                           const uint8_t *r2, __m512i w0, __m512i w1, __m512i w2) {
  acc = _mm512_dpbusd_epi32(acc, _mm512_loadu_si512(r0), w0);
  acc = _mm512_dpbusd_epi32(acc, _mm512_loadu_si512(r1), w1);
  return _mm512_dpbusd_epi32(acc, _mm512_loadu_si512(r2), w2);
}

void nn_q8_dwconv3x3__avx512vnni(const nn_q8_dw_args *a) {
  const __m512i w0 = q8_bcst_quad(a->w), w1 = q8_bcst_quad(a->w + 4),
                w2 = q8_bcst_quad(a->w + 8);
  const __m512i bias = _mm512_set1_epi32(a->bias), zp = _mm512_set1_epi32(a->out_zp);
  const __m512 s = _mm512_set1_ps(a->scale);
  const __m512 lo = _mm512_set1_ps((float)(a->qmin - a->out_zp));
  const __m512 hi = _mm512_set1_ps((float)(a->qmax - a->out_zp));
  const size_t ow = a->ow, ldx = a->ldx;
  for (size_t oy = 0; oy < a->oh; oy++) {
    const uint8_t *r0 = a->x + oy * a->stride * ldx, *r1 = r0 + ldx, *r2 = r1 + ldx;
    uint8_t *y = a->y + oy * a->ldy;
    if (a->stride == 1) {
      for (size_t ox = 0; ox < ow; ox += 64) {
        __m128i q[4];
        for (int b = 0; b < 4; b++) {
          __m512i acc = win3(bias, r0 + ox + b, r1 + ox + b, r2 + ox + b, w0, w1, w2);
          q[b] = _mm512_cvtepi32_epi8(q8_requant16(acc, s, lo, hi, zp));
        }
        const __m128i t0 = _mm_unpacklo_epi8(q[0], q[1]), t1 = _mm_unpackhi_epi8(q[0], q[1]);
        const __m128i t2 = _mm_unpacklo_epi8(q[2], q[3]), t3 = _mm_unpackhi_epi8(q[2], q[3]);
        __m512i o = _mm512_castsi128_si512(_mm_unpacklo_epi16(t0, t2));
        o = _mm512_inserti32x4(o, _mm_unpackhi_epi16(t0, t2), 1);
        o = _mm512_inserti32x4(o, _mm_unpacklo_epi16(t1, t3), 2);
        o = _mm512_inserti32x4(o, _mm_unpackhi_epi16(t1, t3), 3);
        const size_t n = ow - ox;
        const __mmask64 m = n >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << n) - 1);
        _mm512_mask_storeu_epi8(y + ox, m, o);
      }
    } else {
      for (size_t ox = 0; ox < ow; ox += 32) {
        const size_t ix = 2 * ox;
        __m512i e = win3(bias, r0 + ix, r1 + ix, r2 + ix, w0, w1, w2);
        __m512i d = win3(bias, r0 + ix + 2, r1 + ix + 2, r2 + ix + 2, w0, w1, w2);
        const __m128i qe = _mm512_cvtepi32_epi8(q8_requant16(e, s, lo, hi, zp));
        const __m128i qd = _mm512_cvtepi32_epi8(q8_requant16(d, s, lo, hi, zp));
        __m256i o = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_unpacklo_epi8(qe, qd)),
                                            _mm_unpackhi_epi8(qe, qd), 1);
        const size_t n = ow - ox;
        const __mmask32 m = n >= 32 ? (__mmask32)0xFFFFFFFFu : (__mmask32)((1u << n) - 1u);
        _mm256_mask_storeu_epi8(y + ox, m, o);
      }
    }
  }
}
