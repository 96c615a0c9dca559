/*
 * q8c-dw-avx512vnni.c - channel-last depthwise convolution (q8c_conv.h): 64 channels of
 * one output pixel per step. A tap's 64 input bytes are one load; four vpdpbusd against
 * weight vectors that keep one byte per dword lane (byte j of lane i: channel 4 i + j)
 * sum each channel alone, into four accumulators of 16 channels each (channels j, 4 + j,
 * ...). Requantized per lane, the four are merged back into channel order with shifts
 * (each lane holds a byte value) and stored as 64 bytes. No shuffles anywhere; padding
 * taps read the zero-point buffer through the indirection. Equals nn_q8c_dw__scalar.
 */
#include <immintrin.h>

#include "kernels/q8_avx512_inl.h"
#include "kernels/q8c_conv.h"

static inline __mmask64 mask64(size_t n) {
  return n >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << n) - 1);
}

/* The four accumulators requantized and merged into 64 bytes in channel order. */
static inline __m512i merge4(const __m512i a[4], __m512 s0, __m512 s1, __m512 s2, __m512 s3,
                             __m512 lo, __m512 hi, __m512i zp) {
  const __m512i q0 = q8_requant16(a[0], s0, lo, hi, zp), q1 = q8_requant16(a[1], s1, lo, hi, zp);
  const __m512i q2 = q8_requant16(a[2], s2, lo, hi, zp), q3 = q8_requant16(a[3], s3, lo, hi, zp);
  return _mm512_or_si512(_mm512_or_si512(q0, _mm512_slli_epi32(q1, 8)),
                         _mm512_or_si512(_mm512_slli_epi32(q2, 16), _mm512_slli_epi32(q3, 24)));
}

/* Groups of four pixels from pixel 0 (input offset off); returns the pixels done. With
 * ntaps a constant the tap loop unrolls and the sixteen accumulators stay in registers. */
static inline __attribute__((always_inline)) size_t
dw4(size_t npix, size_t ntaps, const void *const *ind, size_t step, size_t off, __mmask64 m,
    const int8_t *wb, __m512i b0, __m512i b1, __m512i b2, __m512i b3, __m512 s0, __m512 s1,
    __m512 s2, __m512 s3, __m512 lo, __m512 hi, __m512i zp, uint8_t *y, size_t ldy) {
  size_t i = 0;
  for (; i + 4 <= npix; i += 4, off += 4 * step) {
      __m512i p00 = b0, p01 = b1, p02 = b2, p03 = b3, p10 = b0, p11 = b1, p12 = b2, p13 = b3,
              p20 = b0, p21 = b1, p22 = b2, p23 = b3, p30 = b0, p31 = b1, p32 = b2, p33 = b3;
      const int8_t *wt = wb;
#pragma GCC unroll 9
      for (size_t t = 0; t < ntaps; t++, wt += 4 * NN_Q8C_DW_CB) {
        const __m512i w0 = _mm512_loadu_si512(wt), w1 = _mm512_loadu_si512(wt + 64),
                      w2 = _mm512_loadu_si512(wt + 128), w3 = _mm512_loadu_si512(wt + 192);
        const uint8_t *xp = (const uint8_t *)ind[t] + off;
#define PIX(q)                                                                   \
  do {                                                                           \
    const __m512i x = _mm512_maskz_loadu_epi8(m, xp + (size_t)(q) * step);       \
    p##q##0 = _mm512_dpbusd_epi32(p##q##0, x, w0);                               \
    p##q##1 = _mm512_dpbusd_epi32(p##q##1, x, w1);                               \
    p##q##2 = _mm512_dpbusd_epi32(p##q##2, x, w2);                               \
    p##q##3 = _mm512_dpbusd_epi32(p##q##3, x, w3);                               \
  } while (0)
        PIX(0);
        PIX(1);
        PIX(2);
        PIX(3);
#undef PIX
      }
#define OUT(q)                                                                            \
  do {                                                                                    \
    const __m512i acc[4] = {p##q##0, p##q##1, p##q##2, p##q##3};                          \
    _mm512_mask_storeu_epi8(y + (i + (q)) * ldy, m, merge4(acc, s0, s1, s2, s3, lo, hi, zp)); \
  } while (0)
      OUT(0);
      OUT(1);
      OUT(2);
      OUT(3);
#undef OUT
    }
  return i;
}

/* The same for a block of at most 32 channels (the tail of c, or c itself: 16, 24, 32)
 * in 256-bit vectors, which cost half on CPUs that split 512-bit operations: the low
 * halves of the block's weight, bias and scale vectors hold its first 32 channels. */
static inline __m256i merge4y(const __m256i a[4], const float *scale, __m256 lo, __m256 hi,
                              __m256i zp) {
  __m256i q[4];
  for (int j = 0; j < 4; j++) {
    __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(a[j]), _mm256_loadu_ps(scale + 16 * j));
    f = _mm256_min_ps(_mm256_max_ps(f, lo), hi);
    q[j] = _mm256_add_epi32(_mm256_cvtps_epi32(f), zp); /* MXCSR default: nearest even */
  }
  return _mm256_or_si256(_mm256_or_si256(q[0], _mm256_slli_epi32(q[1], 8)),
                         _mm256_or_si256(_mm256_slli_epi32(q[2], 16), _mm256_slli_epi32(q[3], 24)));
}

static inline __attribute__((always_inline)) void dw_block32(size_t npix, size_t nch, size_t ntaps, const void *const *ind,
                       size_t step, size_t off, const int8_t *wb, const int32_t *bias,
                       const float *scale, const nn_q8c_params *p, uint8_t *y, size_t ldy) {
  const __mmask32 m = nch >= 32 ? (__mmask32)0xFFFFFFFFu : (__mmask32)((1u << nch) - 1u);
  const __m256 lo = _mm256_set1_ps((float)(p->qmin - p->out_zp));
  const __m256 hi = _mm256_set1_ps((float)(p->qmax - p->out_zp));
  const __m256i zp = _mm256_set1_epi32(p->out_zp);
  const __m256i b0 = _mm256_loadu_si256((const __m256i *)bias),
                b1 = _mm256_loadu_si256((const __m256i *)(bias + 16)),
                b2 = _mm256_loadu_si256((const __m256i *)(bias + 32)),
                b3 = _mm256_loadu_si256((const __m256i *)(bias + 48));
  size_t i = 0;
  for (; i + 4 <= npix; i += 4, off += 4 * step) {
    __m256i p00 = b0, p01 = b1, p02 = b2, p03 = b3, p10 = b0, p11 = b1, p12 = b2, p13 = b3,
            p20 = b0, p21 = b1, p22 = b2, p23 = b3, p30 = b0, p31 = b1, p32 = b2, p33 = b3;
    const int8_t *wt = wb;
#pragma GCC unroll 9
    for (size_t t = 0; t < ntaps; t++, wt += 4 * NN_Q8C_DW_CB) {
      const __m256i w0 = _mm256_loadu_si256((const __m256i *)wt),
                    w1 = _mm256_loadu_si256((const __m256i *)(wt + 64)),
                    w2 = _mm256_loadu_si256((const __m256i *)(wt + 128)),
                    w3 = _mm256_loadu_si256((const __m256i *)(wt + 192));
      const uint8_t *xp = (const uint8_t *)ind[t] + off;
#define PIX(q)                                                             \
  do {                                                                     \
    const __m256i x = _mm256_maskz_loadu_epi8(m, xp + (size_t)(q) * step); \
    p##q##0 = _mm256_dpbusd_epi32(p##q##0, x, w0);                         \
    p##q##1 = _mm256_dpbusd_epi32(p##q##1, x, w1);                         \
    p##q##2 = _mm256_dpbusd_epi32(p##q##2, x, w2);                         \
    p##q##3 = _mm256_dpbusd_epi32(p##q##3, x, w3);                         \
  } while (0)
      PIX(0);
      PIX(1);
      PIX(2);
      PIX(3);
#undef PIX
    }
#define OUT(q)                                                                          \
  do {                                                                                  \
    const __m256i acc[4] = {p##q##0, p##q##1, p##q##2, p##q##3};                        \
    _mm256_mask_storeu_epi8(y + (i + (q)) * ldy, m, merge4y(acc, scale, lo, hi, zp));   \
  } while (0)
    OUT(0);
    OUT(1);
    OUT(2);
    OUT(3);
#undef OUT
  }
  for (; i < npix; i++, off += step) {
    __m256i a[4] = {b0, b1, b2, b3};
    const int8_t *wt = wb;
    for (size_t t = 0; t < ntaps; t++, wt += 4 * NN_Q8C_DW_CB) {
      const __m256i x = _mm256_maskz_loadu_epi8(m, (const uint8_t *)ind[t] + off);
      for (int j = 0; j < 4; j++)
        a[j] = _mm256_dpbusd_epi32(a[j], x, _mm256_loadu_si256((const __m256i *)(wt + 64 * j)));
    }
    _mm256_mask_storeu_epi8(y + i * ldy, m, merge4y(a, scale, lo, hi, zp));
  }
}

void nn_q8c_dw__avx512vnni(size_t npix, size_t c, size_t ntaps, const void *const *ind,
                           size_t step, const int8_t *w, const int32_t *bias, const float *scale,
                           const nn_q8c_params *p, uint8_t *y, size_t ldy) {
  const __m512 lo = _mm512_set1_ps((float)(p->qmin - p->out_zp));
  const __m512 hi = _mm512_set1_ps((float)(p->qmax - p->out_zp));
  const __m512i zp = _mm512_set1_epi32(p->out_zp);
  for (size_t cb = 0; cb < c; cb += NN_Q8C_DW_CB) {
    const __mmask64 m = mask64(c - cb);
    const int8_t *wb = w + cb / NN_Q8C_DW_CB * ntaps * 4 * NN_Q8C_DW_CB;
    if (c - cb <= 32) {
      if (ntaps == 9) /* a constant: the tap loop unrolls, the accumulators stay in registers */
        dw_block32(npix, c - cb, 9, ind, step, cb, wb, bias + cb, scale + cb, p, y + cb, ldy);
      else
        dw_block32(npix, c - cb, ntaps, ind, step, cb, wb, bias + cb, scale + cb, p, y + cb, ldy);
      continue;
    }
    const __m512i b0 = _mm512_loadu_si512(bias + cb), b1 = _mm512_loadu_si512(bias + cb + 16),
                  b2 = _mm512_loadu_si512(bias + cb + 32), b3 = _mm512_loadu_si512(bias + cb + 48);
    const __m512 s0 = _mm512_loadu_ps(scale + cb), s1 = _mm512_loadu_ps(scale + cb + 16),
                 s2 = _mm512_loadu_ps(scale + cb + 32), s3 = _mm512_loadu_ps(scale + cb + 48);
    /* Four pixels at a time: sixteen independent accumulation chains (one pixel's four
     * would wait on vpdpbusd's latency), each weight vector loaded once for the four. */
    size_t i, off = cb;
    if (ntaps == 9)
      i = dw4(npix, 9, ind, step, off, m, wb, b0, b1, b2, b3, s0, s1, s2, s3, lo, hi, zp, y + cb, ldy);
    else
      i = dw4(npix, ntaps, ind, step, off, m, wb, b0, b1, b2, b3, s0, s1, s2, s3, lo, hi, zp, y + cb,
              ldy);
    off += i * step;
    for (; i < npix; i++, off += step) {
      __m512i a[4] = {b0, b1, b2, b3};
      const int8_t *wt = wb;
      for (size_t t = 0; t < ntaps; t++, wt += 4 * NN_Q8C_DW_CB) {
        const __m512i x = _mm512_maskz_loadu_epi8(m, (const uint8_t *)ind[t] + off);
        a[0] = _mm512_dpbusd_epi32(a[0], x, _mm512_loadu_si512(wt));
        a[1] = _mm512_dpbusd_epi32(a[1], x, _mm512_loadu_si512(wt + 64));
        a[2] = _mm512_dpbusd_epi32(a[2], x, _mm512_loadu_si512(wt + 128));
        a[3] = _mm512_dpbusd_epi32(a[3], x, _mm512_loadu_si512(wt + 192));
      }
      _mm512_mask_storeu_epi8(y + i * ldy + cb, m, merge4(a, s0, s1, s2, s3, lo, hi, zp));
    }
  }
}
