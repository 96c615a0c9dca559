/*
 * q8-dwconv-avx512vbmi.c - depthwise 3x3 for the narrow planes of mobile networks (14x14,
 * 7x7, ...), where the vpdpbusd kernel of q8-dwconv-avx512vnni.c fills 64 output lanes
 * per row and keeps 7 or 14 of them. Here a dword lane is one output, in order: one
 * vpermb turns a 64-byte row load into the 16 windows x[ox*s + 0..3], so a row costs
 * 16-output blocks, and planes at most 8 wide put two output rows in one vector
 * (vpermt2b over both rows' loads). Wider planes go to the vnni kernel, which is as
 * fast there. Contract: src/kernels/q8_dwconv.h (reads stay inside the slack).
 */
#include "kernels/q8_avx512_inl.h"
#include "kernels/q8_dwconv.h"

void nn_q8_dwconv3x3__avx512vnni(const nn_q8_dw_args *a);
void nn_q8_dwconv3x3__avx512vbmi(const nn_q8_dw_args *a);

#define VBMI __attribute__((target("avx512vbmi")))

/* Byte 4i + j of the window index: s * i + j, for outputs 0 .. 15 of one row; with two
 * rows (outputs 0 .. 7 each), lanes 8 .. 15 read the second operand (bit 6 set). */
static inline __m512i win_index(unsigned s, int two_rows) {
  _Alignas(64) uint8_t b[64];
  for (int i = 0; i < 16; i++)
    for (int j = 0; j < 4; j++) {
      const int lane = two_rows ? i % 8 : i;
      b[4 * i + j] = (uint8_t)((two_rows && i >= 8 ? 64 : 0) + (int)s * lane + j);
    }
  return _mm512_load_si512(b);
}

VBMI void nn_q8_dwconv3x3__avx512vbmi(const nn_q8_dw_args *a) {
  const size_t ow = a->ow, oh = a->oh, ldx = a->ldx, ldy = a->ldy;
  const unsigned s = a->stride;
  if (ow > (s == 1 ? 48u : 16u)) {
    nn_q8_dwconv3x3__avx512vnni(a);
    return;
  }
  const __m512i w0 = q8_bcst_quad(a->w), w1 = q8_bcst_quad(a->w + 4),
                w2 = q8_bcst_quad(a->w + 8);
  const __m512i bias = _mm512_set1_epi32(a->bias), zp = _mm512_set1_epi32(a->out_zp);
  const __m512 sc = _mm512_set1_ps(a->scale);
  const __m512 lo = _mm512_set1_ps((float)(a->qmin - a->out_zp));
  const __m512 hi = _mm512_set1_ps((float)(a->qmax - a->out_zp));
  const uint8_t *x = a->x;
  uint8_t *y = a->y;
  if (ow <= 8) {
    const __m512i idx = win_index(s, 1);
    const __mmask16 m = (__mmask16)((1u << ow) - 1u);
    for (size_t oy = 0; oy < oh; oy += 2) {
      /* An odd last row pairs with itself (its loads stay inside the buffer). */
      const size_t oy2 = oy + 1 < oh ? oy + 1 : oy;
      const uint8_t *ra = x + oy * s * ldx, *rb = x + oy2 * s * ldx;
      __m512i acc = bias;
      acc = _mm512_dpbusd_epi32(acc, _mm512_permutex2var_epi8(_mm512_loadu_si512(ra), idx,
                                                              _mm512_loadu_si512(rb)), w0);
      acc = _mm512_dpbusd_epi32(
          acc, _mm512_permutex2var_epi8(_mm512_loadu_si512(ra + ldx), idx,
                                        _mm512_loadu_si512(rb + ldx)), w1);
      acc = _mm512_dpbusd_epi32(
          acc, _mm512_permutex2var_epi8(_mm512_loadu_si512(ra + 2 * ldx), idx,
                                        _mm512_loadu_si512(rb + 2 * ldx)), w2);
      const __m128i q = _mm512_cvtepi32_epi8(q8_requant16(acc, sc, lo, hi, zp));
      _mm_mask_storeu_epi8(y + oy * ldy, m, q);
      if (oy + 1 < oh) _mm_mask_storeu_epi8(y + (oy + 1) * ldy, m, _mm_srli_si128(q, 8));
    }
    return;
  }
  const __m512i idx = win_index(s, 0);
  size_t oy = 0;
  if (s == 1)
    /* Two output rows share two of their three input rows: 4 windows for 2 rows. */
    for (; oy + 2 <= oh; oy += 2) {
      const uint8_t *r0 = x + oy * ldx;
      uint8_t *yr = y + oy * ldy;
      for (size_t ox = 0; ox < ow; ox += 16) {
        const __m512i p0 = _mm512_permutexvar_epi8(idx, _mm512_loadu_si512(r0 + ox));
        const __m512i p1 = _mm512_permutexvar_epi8(idx, _mm512_loadu_si512(r0 + ldx + ox));
        const __m512i p2 = _mm512_permutexvar_epi8(idx, _mm512_loadu_si512(r0 + 2 * ldx + ox));
        const __m512i p3 = _mm512_permutexvar_epi8(idx, _mm512_loadu_si512(r0 + 3 * ldx + ox));
        __m512i a0 = _mm512_dpbusd_epi32(bias, p0, w0), a1 = _mm512_dpbusd_epi32(bias, p1, w0);
        a0 = _mm512_dpbusd_epi32(a0, p1, w1);
        a1 = _mm512_dpbusd_epi32(a1, p2, w1);
        a0 = _mm512_dpbusd_epi32(a0, p2, w2);
        a1 = _mm512_dpbusd_epi32(a1, p3, w2);
        const __mmask16 m = q8_mask16(ow - ox);
        _mm_mask_storeu_epi8(yr + ox, m, _mm512_cvtepi32_epi8(q8_requant16(a0, sc, lo, hi, zp)));
        _mm_mask_storeu_epi8(yr + ldy + ox, m,
                             _mm512_cvtepi32_epi8(q8_requant16(a1, sc, lo, hi, zp)));
      }
    }
  for (; oy < oh; oy++) {
    const uint8_t *r0 = x + oy * s * ldx, *r1 = r0 + ldx, *r2 = r1 + ldx;
    uint8_t *yr = y + oy * ldy;
    for (size_t ox = 0; ox < ow; ox += 16) {
      const size_t ix = ox * s;
      __m512i acc = bias;
      acc = _mm512_dpbusd_epi32(acc, _mm512_permutexvar_epi8(idx, _mm512_loadu_si512(r0 + ix)),
                                w0);
      acc = _mm512_dpbusd_epi32(acc, _mm512_permutexvar_epi8(idx, _mm512_loadu_si512(r1 + ix)),
                                w1);
      acc = _mm512_dpbusd_epi32(acc, _mm512_permutexvar_epi8(idx, _mm512_loadu_si512(r2 + ix)),
                                w2);
      const __m128i q = _mm512_cvtepi32_epi8(q8_requant16(acc, sc, lo, hi, zp));
      _mm_mask_storeu_epi8(yr + ox, q8_mask16(ow - ox), q);
    }
  }
}
