/*
 * q8c-conv-8x32-avx2.c - the channel-last 8-bit convolution tile (q8c_conv.h) for AVX2,
 * exact for every 8-bit input: vpmaddubsw would saturate (255 * -128 * 2 < -32768), so
 * the products go through vpmaddwd on 16-bit halves. A weight block of 8 output channels
 * x one input quad (w0 w1 w2 w3 per dword) splits into its even bytes (w0, w2) and odd
 * bytes (w1, w3) sign-extended to 16 bits (two shifts); the input quad, broadcast to all
 * lanes, into (x0, x2) and (x1, x3) zero-extended (a mask, a shift); two vpmaddwd then
 * give x0 w0 + x2 w2 and x1 w1 + x3 w3 per output channel in 32 bits. The 8x32 tile runs
 * as blocks of 4 pixels x 16 channels (eight accumulators). Requantization as the
 * scalar twin (float multiply, clamp, round half to even, + zero point); equals
 * nn_q8c_conv_8x32__scalar bit for bit.
 */
#include <immintrin.h>
#include <string.h>

#include "kernels/q8_avx2_inl.h"
#include "kernels/q8c_conv.h"

static inline __m256i xquad(const uint8_t *p) {
  int32_t v;
  memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

/* The last quad of a tap with left = kc % 4 bytes: never reads past them. */
static inline __m256i xquad_tail(const uint8_t *p, size_t left) {
  int32_t v = 0;
  memcpy(&v, p, left);
  return _mm256_set1_epi32(v);
}

#define MADD(r, XQ)                                                                     \
  do {                                                                                  \
    const __m256i xq = (XQ);                                                            \
    const __m256i xe = _mm256_and_si256(xq, lo8), xo = _mm256_srli_epi16(xq, 8);        \
    a##r##0 = _mm256_add_epi32(a##r##0, _mm256_add_epi32(_mm256_madd_epi16(xe, we0),    \
                                                         _mm256_madd_epi16(xo, wo0)));  \
    a##r##1 = _mm256_add_epi32(a##r##1, _mm256_add_epi32(_mm256_madd_epi16(xe, we1),    \
                                                         _mm256_madd_epi16(xo, wo1)));  \
  } while (0)

/* 16 accumulators' worth (two vectors of 8 channels) of one pixel row: requantized,
 * narrowed and stored, n <= 16 bytes. */
static inline void store16(uint8_t *y, size_t n, __m256i v0, __m256i v1, __m256 s0, __m256 s1,
                           __m256 lo, __m256 hi, __m256i zp) {
  const __m256i q0 = q8_round_clamp8(_mm256_mul_ps(_mm256_cvtepi32_ps(v0), s0), lo, hi, zp);
  const __m256i q1 = q8_round_clamp8(_mm256_mul_ps(_mm256_cvtepi32_ps(v1), s1), lo, hi, zp);
  /* in range: the saturating packs only narrow; then back into channel order */
  const __m256i h = _mm256_permute4x64_epi64(_mm256_packs_epi32(q0, q1), 0xD8);
  const __m256i b = _mm256_permute4x64_epi64(_mm256_packus_epi16(h, h), 0xD8);
  q8_store_bytes(y, _mm256_castsi256_si128(b), n);
}

/* Pixels r0 .. r0 + 3 of the tile, channels j0 .. j0 + 15 of the panel (n16 stored). */
static void blk4x16(size_t r0, size_t mr, size_t j0, size_t n16, size_t ntaps, size_t kc,
                    const void *const *ind, size_t step, const int8_t *w, const int32_t *bias,
                    const float *scale, const nn_q8c_params *p, uint8_t *y, size_t ldy) {
  const __m256i b0 = _mm256_loadu_si256((const __m256i *)(bias + j0));
  const __m256i b1 = _mm256_loadu_si256((const __m256i *)(bias + j0 + 8));
  const __m256i lo8 = _mm256_set1_epi16(0x00FF);
  __m256i a00 = b0, a01 = b1, a10 = b0, a11 = b1, a20 = b0, a21 = b1, a30 = b0, a31 = b1;
  const size_t kf = kc / 4, left = kc % 4, tap_bytes = (kc + 3) / 4 * 4 * NN_Q8C_NR;
  for (size_t t = 0; t < ntaps; t++) {
    const uint8_t *x0, *x1, *x2, *x3;
    if (step) {
      x0 = (const uint8_t *)ind[t] + r0 * step, x1 = x0 + step, x2 = x1 + step, x3 = x2 + step;
    } else {
      const void *const *it = ind + t * NN_Q8C_MR + r0;
      x0 = it[0], x1 = it[1], x2 = it[2], x3 = it[3];
    }
    const int8_t *wq = w + t * tap_bytes + 4 * j0;
    for (size_t q = 0; q <= kf; q++, wq += 4 * NN_Q8C_NR) {
      if (q == kf && !left) break;
      const __m256i wv0 = _mm256_loadu_si256((const __m256i *)wq);
      const __m256i wv1 = _mm256_loadu_si256((const __m256i *)(wq + 32));
      const __m256i we0 = _mm256_srai_epi16(_mm256_slli_epi16(wv0, 8), 8);
      const __m256i wo0 = _mm256_srai_epi16(wv0, 8);
      const __m256i we1 = _mm256_srai_epi16(_mm256_slli_epi16(wv1, 8), 8);
      const __m256i wo1 = _mm256_srai_epi16(wv1, 8);
      const size_t o = 4 * q;
      if (q < kf) {
        MADD(0, xquad(x0 + o));
        MADD(1, xquad(x1 + o));
        MADD(2, xquad(x2 + o));
        MADD(3, xquad(x3 + o));
      } else {
        MADD(0, xquad_tail(x0 + o, left));
        MADD(1, xquad_tail(x1 + o, left));
        MADD(2, xquad_tail(x2 + o, left));
        MADD(3, xquad_tail(x3 + o, left));
      }
    }
  }
  const __m256 s0 = _mm256_loadu_ps(scale + j0), s1 = _mm256_loadu_ps(scale + j0 + 8);
  const __m256 lo = _mm256_set1_ps((float)(p->qmin - p->out_zp));
  const __m256 hi = _mm256_set1_ps((float)(p->qmax - p->out_zp));
  const __m256i zp = _mm256_set1_epi32(p->out_zp);
  const __m256i acc[8] = {a00, a01, a10, a11, a20, a21, a30, a31};
  for (size_t r = 0; r < 4 && r0 + r < mr; r++)
    store16(y + (r0 + r) * ldy + j0, n16, acc[2 * r], acc[2 * r + 1], s0, s1, lo, hi, zp);
}

#undef MADD

void nn_q8c_conv_8x32__avx2(size_t mr, size_t nc, size_t ntaps, size_t kc,
                            const void *const *ind, size_t step, const int8_t *w,
                            const int32_t *bias, const float *scale, const nn_q8c_params *p,
                            uint8_t *y, size_t ldy) {
  for (size_t j0 = 0; j0 < nc; j0 += 16) {
    const size_t n16 = nc - j0 < 16 ? nc - j0 : 16;
    blk4x16(0, mr, j0, n16, ntaps, kc, ind, step, w, bias, scale, p, y, ldy);
    if (mr > 4) blk4x16(4, mr, j0, n16, ntaps, kc, ind, step, w, bias, scale, p, y, ldy);
  }
}
