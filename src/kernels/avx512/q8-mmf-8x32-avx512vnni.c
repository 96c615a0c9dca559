/*
 * q8-mmf-8x32-avx512vnni.c - the direct MatMulIntegerToFloat microkernel (q8_matmul.h):
 * 8 activation rows x 32 weight columns with vpdpbusd, activation quads broadcast
 * straight from the uint8 rows (no panel packing) against a 32-column weight block in
 * the lanes, and the float epilogue (a multiply then an add, no FMA) stored as whole
 * output rows (no transpose). Equals nn_q8_mmf_ukernel_8x32__scalar bit for bit.
 */
#include <immintrin.h>
#include <string.h>

#include "kernels/q8_matmul.h"

static inline __mmask16 mask16(size_t n) {
  return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
}

static inline int32_t quad(const uint8_t *p) {
  int32_t v;
  memcpy(&v, p, 4);
  return v;
}

/* The last depth quad of a row with k % 4 bytes left: never reads past the row. */
static inline int32_t quad_tail(const uint8_t *p, size_t left) {
  uint8_t b[4] = {0, 0, 0, 0};
  memcpy(b, p, left);
  int32_t v;
  memcpy(&v, b, 4);
  return v;
}

#define DP(r, XR)                                                  \
  do {                                                             \
    const __m512i xb = _mm512_set1_epi32(XR);                      \
    a##r##0 = _mm512_dpbusd_epi32(a##r##0, xb, w0);                \
    a##r##1 = _mm512_dpbusd_epi32(a##r##1, xb, w1);                \
  } while (0)

#define STORE(r)                                                                         \
  do {                                                                                   \
    if (r < mr) {                                                                        \
      const __m512 f0 = _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(a##r##0), m0), b0); \
      const __m512 f1 = _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(a##r##1), m1), b1); \
      _mm512_mask_storeu_ps(y + (r) * ldy, k0, f0);                                      \
      _mm512_mask_storeu_ps(y + (r) * ldy + 16, k1, f1);                                 \
    }                                                                                    \
  } while (0)

void nn_q8_mmf_ukernel_8x32__avx512vnni(size_t mr, size_t nc, size_t k, const uint8_t *x,
                                        size_t ldx, const int8_t *w, const int32_t *col_bias,
                                        const float *mult, const float *bias, float *y,
                                        size_t ldy) {
  const __mmask16 k0 = mask16(nc), k1 = mask16(nc > 16 ? nc - 16 : 0);
  /* Rows past mr repeat row 0 (computed, not stored): no branch in the loop. */
  const uint8_t *x0 = x, *x1 = mr > 1 ? x + ldx : x, *x2 = mr > 2 ? x + 2 * ldx : x,
                *x3 = mr > 3 ? x + 3 * ldx : x, *x4 = mr > 4 ? x + 4 * ldx : x,
                *x5 = mr > 5 ? x + 5 * ldx : x, *x6 = mr > 6 ? x + 6 * ldx : x,
                *x7 = mr > 7 ? x + 7 * ldx : x;
  const __m512i c0 = _mm512_maskz_loadu_epi32(k0, col_bias);
  const __m512i c1 = _mm512_maskz_loadu_epi32(k1, col_bias + 16);
  __m512i a00 = c0, a01 = c1, a10 = c0, a11 = c1, a20 = c0, a21 = c1, a30 = c0, a31 = c1,
          a40 = c0, a41 = c1, a50 = c0, a51 = c1, a60 = c0, a61 = c1, a70 = c0, a71 = c1;
  const size_t kf = k / 4;
  for (size_t q = 0; q < kf; q++, w += 128) {
    const __m512i w0 = _mm512_loadu_si512(w), w1 = _mm512_loadu_si512(w + 64);
    const size_t o = 4 * q;
    DP(0, quad(x0 + o));
    DP(1, quad(x1 + o));
    DP(2, quad(x2 + o));
    DP(3, quad(x3 + o));
    DP(4, quad(x4 + o));
    DP(5, quad(x5 + o));
    DP(6, quad(x6 + o));
    DP(7, quad(x7 + o));
  }
  if (k % 4) {
    const __m512i w0 = _mm512_loadu_si512(w), w1 = _mm512_loadu_si512(w + 64);
    const size_t o = 4 * kf, left = k % 4;
    DP(0, quad_tail(x0 + o, left));
    DP(1, quad_tail(x1 + o, left));
    DP(2, quad_tail(x2 + o, left));
    DP(3, quad_tail(x3 + o, left));
    DP(4, quad_tail(x4 + o, left));
    DP(5, quad_tail(x5 + o, left));
    DP(6, quad_tail(x6 + o, left));
    DP(7, quad_tail(x7 + o, left));
  }
  const __m512 m0 = _mm512_maskz_loadu_ps(k0, mult), m1 = _mm512_maskz_loadu_ps(k1, mult + 16);
  const __m512 b0 = bias ? _mm512_maskz_loadu_ps(k0, bias) : _mm512_setzero_ps();
  const __m512 b1 = bias ? _mm512_maskz_loadu_ps(k1, bias + 16) : _mm512_setzero_ps();
  STORE(0);
  STORE(1);
  STORE(2);
  STORE(3);
  STORE(4);
  STORE(5);
  STORE(6);
  STORE(7);
}
