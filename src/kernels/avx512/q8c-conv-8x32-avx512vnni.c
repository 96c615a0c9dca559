/*
 * q8c-conv-8x32-avx512vnni.c - the channel-last convolution tile (q8c_conv.h): 8 output
 * pixels x 32 output channels in 16 accumulators, the input quads broadcast straight
 * from the pixels' channel vectors through the indirection buffer (no packing, no
 * im2col) against a 32-channel weight block in the lanes, requantized per lane with the
 * channels' scales and stored as whole pixel rows. Equals nn_q8c_conv_8x32__scalar bit
 * for bit.
 */
#include <immintrin.h>
#include <string.h>

#include "kernels/indirect_rows_inl.h"
#include "kernels/q8_avx512_inl.h"
#include "kernels/q8c_conv.h"

static inline int32_t quad(const uint8_t *p) {
  int32_t v;
  memcpy(&v, p, 4);
  return v;
}

/* The last quad of a tap with kc % 4 bytes left: a masked load, never reading past them. */
static inline int32_t quad_tail(const uint8_t *p, __mmask16 m) {
  return _mm_cvtsi128_si32(_mm_maskz_loadu_epi8(m, p));
}

#define DP(r, XR)                                   \
  do {                                              \
    const __m512i xb = _mm512_set1_epi32(XR);       \
    a##r##0 = _mm512_dpbusd_epi32(a##r##0, xb, w0); \
    a##r##1 = _mm512_dpbusd_epi32(a##r##1, xb, w1); \
  } while (0)

#define STORE(r)                                                                        \
  do {                                                                                  \
    if (r < mr) {                                                                       \
      _mm_mask_storeu_epi8(y + (r) * ldy, k0,                                           \
                           _mm512_cvtepi32_epi8(q8_requant16(a##r##0, s0, lo, hi, zp))); \
      _mm_mask_storeu_epi8(y + (r) * ldy + 16, k1,                                      \
                           _mm512_cvtepi32_epi8(q8_requant16(a##r##1, s1, lo, hi, zp))); \
    }                                                                                   \
  } while (0)

/* A panel of at most 16 channels (16 output channels, or the tail of 144): only the
 * first weight vector, eight accumulation chains, the clamp and narrowing per row. */
static void tile16(size_t mr, size_t nc, size_t ntaps, size_t kc, const void *const *ind,
                   size_t step, const int8_t *w, const int32_t *bias, const float *scale,
                   const nn_q8c_params *p, uint8_t *y, size_t ldy) {
  const __m512i c0 = _mm512_loadu_si512(bias);
  __m512i a0 = c0, a1 = c0, a2 = c0, a3 = c0, a4 = c0, a5 = c0, a6 = c0, a7 = c0;
  const size_t kf = kc / 4, left = kc % 4;
  const __mmask16 lm = (__mmask16)((1u << left) - 1u);
#define DP1(r, XR) a##r = _mm512_dpbusd_epi32(a##r, _mm512_set1_epi32(XR), w0)
  for (size_t t = 0; t < ntaps; t++, ind += step ? 1 : NN_Q8C_MR) {
    NN_IND_ROWS8(uint8_t, ind, step)
    for (size_t o = 0; o < 4 * kf; o += 4, w += 128) {
      const __m512i w0 = _mm512_loadu_si512(w);
      DP1(0, quad(x0 + o));
      DP1(1, quad(x1 + o));
      DP1(2, quad(x2 + o));
      DP1(3, quad(x3 + o));
      DP1(4, quad(x4 + o));
      DP1(5, quad(x5 + o));
      DP1(6, quad(x6 + o));
      DP1(7, quad(x7 + o));
    }
    if (left) {
      const __m512i w0 = _mm512_loadu_si512(w);
      const size_t o = 4 * kf;
      DP1(0, quad_tail(x0 + o, lm));
      DP1(1, quad_tail(x1 + o, lm));
      DP1(2, quad_tail(x2 + o, lm));
      DP1(3, quad_tail(x3 + o, lm));
      DP1(4, quad_tail(x4 + o, lm));
      DP1(5, quad_tail(x5 + o, lm));
      DP1(6, quad_tail(x6 + o, lm));
      DP1(7, quad_tail(x7 + o, lm));
      w += 128;
    }
  }
#undef DP1
  const __mmask16 k0 = q8_mask16(nc);
  const __m512 s0 = _mm512_loadu_ps(scale);
  const __m512 lo = _mm512_set1_ps((float)(p->qmin - p->out_zp));
  const __m512 hi = _mm512_set1_ps((float)(p->qmax - p->out_zp));
  const __m512i zp = _mm512_set1_epi32(p->out_zp);
  const __m512i acc[8] = {a0, a1, a2, a3, a4, a5, a6, a7};
  for (size_t r = 0; r < mr; r++)
    _mm_mask_storeu_epi8(y + r * ldy, k0, _mm512_cvtepi32_epi8(q8_requant16(acc[r], s0, lo, hi, zp)));
}

void nn_q8c_conv_8x32__avx512vnni(size_t mr, size_t nc, size_t ntaps, size_t kc,
                                  const void *const *ind, size_t step, const int8_t *w,
                                  const int32_t *bias, const float *scale,
                                  const nn_q8c_params *p, uint8_t *y, size_t ldy) {
  if (nc <= 16) {
    tile16(mr, nc, ntaps, kc, ind, step, w, bias, scale, p, y, ldy);
    return;
  }
  const __m512i c0 = _mm512_loadu_si512(bias), c1 = _mm512_loadu_si512(bias + 16);
  __m512i a00 = c0, a01 = c1, a10 = c0, a11 = c1, a20 = c0, a21 = c1, a30 = c0, a31 = c1,
          a40 = c0, a41 = c1, a50 = c0, a51 = c1, a60 = c0, a61 = c1, a70 = c0, a71 = c1;
  const size_t kf = kc / 4, left = kc % 4;
  const __mmask16 lm = (__mmask16)((1u << left) - 1u);
  for (size_t t = 0; t < ntaps; t++, ind += step ? 1 : NN_Q8C_MR) {
    NN_IND_ROWS8(uint8_t, ind, step)
    for (size_t o = 0; o < 4 * kf; o += 4, w += 128) {
      const __m512i w0 = _mm512_loadu_si512(w), w1 = _mm512_loadu_si512(w + 64);
      DP(0, quad(x0 + o));
      DP(1, quad(x1 + o));
      DP(2, quad(x2 + o));
      DP(3, quad(x3 + o));
      DP(4, quad(x4 + o));
      DP(5, quad(x5 + o));
      DP(6, quad(x6 + o));
      DP(7, quad(x7 + o));
    }
    if (left) {
      const __m512i w0 = _mm512_loadu_si512(w), w1 = _mm512_loadu_si512(w + 64);
      const size_t o = 4 * kf;
      DP(0, quad_tail(x0 + o, lm));
      DP(1, quad_tail(x1 + o, lm));
      DP(2, quad_tail(x2 + o, lm));
      DP(3, quad_tail(x3 + o, lm));
      DP(4, quad_tail(x4 + o, lm));
      DP(5, quad_tail(x5 + o, lm));
      DP(6, quad_tail(x6 + o, lm));
      DP(7, quad_tail(x7 + o, lm));
      w += 128;
    }
  }
  const __m512 s0 = _mm512_loadu_ps(scale), s1 = _mm512_loadu_ps(scale + 16);
  const __m512 hi = _mm512_set1_ps((float)(p->qmax - p->out_zp));
  if (p->qmin == 0 && p->qmax == 255) {
    /* Full uint8 range: two rows per pass through saturating packs (+ zp in 16 bits,
     * the packus clamps at 0 and 255 after rounding, equal to clamping before as the
     * bounds minus zp are integers); only the upper clamp is done in float, as a float
     * below -2^31 converts to INT32_MIN, which the packs take to 0 anyway. */
    const __m512i zp16 = _mm512_set1_epi16((short)p->out_zp);
    const __mmask32 km = nc >= 32 ? (__mmask32)0xFFFFFFFFu : (__mmask32)((1u << nc) - 1u);
    /* after the packs, 128-bit lane L holds dwords (r, 4L..), (r, 16 + 4L..), (r + 1, 4L..),
     * (r + 1, 16 + 4L..): gather row r's 8 dwords, then row r + 1's */
    const __m512i perm = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
#define RQ(v, s)                                                                               \
  _mm512_cvt_roundps_epi32(_mm512_min_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(v), s), hi),          \
                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define STORE2(r, q)                                                                           \
  do {                                                                                         \
    if (r < mr) {                                                                              \
      const __m512i pa = _mm512_adds_epi16(_mm512_packs_epi32(RQ(a##r##0, s0), RQ(a##r##1, s1)), zp16); \
      const __m512i pb = _mm512_adds_epi16(_mm512_packs_epi32(RQ(a##q##0, s0), RQ(a##q##1, s1)), zp16); \
      const __m512i o = _mm512_permutexvar_epi32(perm, _mm512_packus_epi16(pa, pb));          \
      _mm256_mask_storeu_epi8(y + (r) * ldy, km, _mm512_castsi512_si256(o));                   \
      if (q < mr) _mm256_mask_storeu_epi8(y + (q) * ldy, km, _mm512_extracti64x4_epi64(o, 1)); \
    }                                                                                          \
  } while (0)
    STORE2(0, 1);
    STORE2(2, 3);
    STORE2(4, 5);
    STORE2(6, 7);
#undef STORE2
#undef RQ
    return;
  }
  const __mmask16 k0 = q8_mask16(nc), k1 = nc > 16 ? q8_mask16(nc - 16) : 0;
  const __m512 lo = _mm512_set1_ps((float)(p->qmin - p->out_zp));
  const __m512i zp = _mm512_set1_epi32(p->out_zp);
  STORE(0);
  STORE(1);
  STORE(2);
  STORE(3);
  STORE(4);
  STORE(5);
  STORE(6);
  STORE(7);
}
