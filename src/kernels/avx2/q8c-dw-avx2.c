/*
 * q8c-dw-avx2.c - the channel-last 8-bit depthwise kernel (q8c_conv.h) for AVX2, exact:
 * 16 channels per group, inputs zero-extended to 16 bits and the taps taken in pairs -
 * the two taps' inputs interleaved (vpunpck{l,h}wd) against their interleaved 16-bit
 * weights in one vpmaddwd, x(t) w(t) + x(t + 1) w(t + 1) per channel in 32 bits, with no
 * saturation for any 8-bit input. The interleave leaves channels 0-3 / 8-11 in one
 * accumulator and 4-7 / 12-15 in the other, which the saturating packs put back in order.
 * The weights come in nn_q8c_pack_dw's order (one byte of four per dword, four vectors
 * a tap): a group's 16 weights of a tap are the OR of the four vectors' bytes there,
 * gathered once per call. Four pixels per step (eight accumulators); channels past the
 * last whole group one by one. Equals nn_q8c_dw__scalar bit for bit.
 */
#include <immintrin.h>
#include <string.h>

#include "kernels/q8_avx2_inl.h"
#include "kernels/q8c_conv.h"
#include "kernels/ref/requant.h"

#define Q8C_DW_AVX2_MAX_PAIRS 32 /* 64 taps (the ops' limit); more go channel by channel */

/* Tap t's weights of channels g .. g + 15 (a 16-aligned group) as 16-bit integers. */
static inline __m256i wgroup16(const int8_t *w, size_t ntaps, size_t t, size_t g) {
  const int8_t *v = w + ((g / NN_Q8C_DW_CB * ntaps + t) * 4) * NN_Q8C_DW_CB + g % NN_Q8C_DW_CB;
  __m128i a = _mm_loadu_si128((const __m128i *)v);
  a = _mm_or_si128(a, _mm_loadu_si128((const __m128i *)(v + NN_Q8C_DW_CB)));
  a = _mm_or_si128(a, _mm_loadu_si128((const __m128i *)(v + 2 * NN_Q8C_DW_CB)));
  a = _mm_or_si128(a, _mm_loadu_si128((const __m128i *)(v + 3 * NN_Q8C_DW_CB)));
  return _mm256_cvtepi8_epi16(a);
}

static inline __m256i ld16(const uint8_t *p) {
  return _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)p));
}

/* Requantize the two accumulators of a group (lo: channels 0-3 / 8-11, hi: 4-7 / 12-15)
 * and store its 16 bytes in channel order. */
static inline void store_group(uint8_t *y, __m256i lo, __m256i hi, __m256 sl, __m256 sh,
                               __m256 qlo, __m256 qhi, __m256i zp) {
  const __m256i ql = q8_round_clamp8(_mm256_mul_ps(_mm256_cvtepi32_ps(lo), sl), qlo, qhi, zp);
  const __m256i qh = q8_round_clamp8(_mm256_mul_ps(_mm256_cvtepi32_ps(hi), sh), qlo, qhi, zp);
  const __m256i h = _mm256_packs_epi32(ql, qh);
  const __m256i b = _mm256_permute4x64_epi64(_mm256_packus_epi16(h, h), 0xD8);
  _mm_storeu_si128((__m128i *)y, _mm256_castsi256_si128(b));
}

#define PAIR(q)                                                                         \
  do {                                                                                  \
    const __m256i xa = ld16(pa + (q) * step), xb = ld16(pb + (q) * step);               \
    l##q = _mm256_add_epi32(l##q, _mm256_madd_epi16(_mm256_unpacklo_epi16(xa, xb), wl)); \
    h##q = _mm256_add_epi32(h##q, _mm256_madd_epi16(_mm256_unpackhi_epi16(xa, xb), wh)); \
  } while (0)

void nn_q8c_dw__avx2(size_t npix, size_t c, size_t ntaps, const void *const *ind, size_t step,
                     const int8_t *w, const int32_t *bias, const float *scale,
                     const nn_q8c_params *p, uint8_t *y, size_t ldy) {
  __m256i wv[Q8C_DW_AVX2_MAX_PAIRS * 2];
  const size_t pairs = (ntaps + 1) / 2;
  const __m256 qlo = _mm256_set1_ps((float)(p->qmin - p->out_zp));
  const __m256 qhi = _mm256_set1_ps((float)(p->qmax - p->out_zp));
  const __m256i zp = _mm256_set1_epi32(p->out_zp);
  size_t g = 0;
  for (; g + 16 <= c && pairs <= Q8C_DW_AVX2_MAX_PAIRS; g += 16) {
    for (size_t pr = 0; pr < pairs; pr++) {
      const __m256i a = wgroup16(w, ntaps, 2 * pr, g);
      const __m256i b = 2 * pr + 1 < ntaps ? wgroup16(w, ntaps, 2 * pr + 1, g) : _mm256_setzero_si256();
      wv[2 * pr] = _mm256_unpacklo_epi16(a, b);
      wv[2 * pr + 1] = _mm256_unpackhi_epi16(a, b);
    }
    int32_t bl[8], bh[8];
    float sl8[8], sh8[8];
    for (size_t k = 0; k < 8; k++) {
      const size_t cl = g + (k < 4 ? k : k + 4), ch = g + (k < 4 ? k + 4 : k + 8);
      bl[k] = bias[nn_q8c_dw_term_index(cl)];
      bh[k] = bias[nn_q8c_dw_term_index(ch)];
      sl8[k] = scale[nn_q8c_dw_term_index(cl)];
      sh8[k] = scale[nn_q8c_dw_term_index(ch)];
    }
    const __m256i vbl = _mm256_loadu_si256((const __m256i *)bl);
    const __m256i vbh = _mm256_loadu_si256((const __m256i *)bh);
    const __m256 sl = _mm256_loadu_ps(sl8), sh = _mm256_loadu_ps(sh8);
    size_t i = 0;
    for (; i + 4 <= npix; i += 4) {
      __m256i l0 = vbl, l1 = vbl, l2 = vbl, l3 = vbl, h0 = vbh, h1 = vbh, h2 = vbh, h3 = vbh;
      for (size_t pr = 0; pr < pairs; pr++) {
        const size_t ta = 2 * pr, tb = ta + 1 < ntaps ? ta + 1 : ta; /* odd count: zero weights */
        const uint8_t *pa = (const uint8_t *)ind[ta] + i * step + g;
        const uint8_t *pb = (const uint8_t *)ind[tb] + i * step + g;
        const __m256i wl = wv[2 * pr], wh = wv[2 * pr + 1];
        PAIR(0);
        PAIR(1);
        PAIR(2);
        PAIR(3);
      }
      store_group(y + i * ldy + g, l0, h0, sl, sh, qlo, qhi, zp);
      store_group(y + (i + 1) * ldy + g, l1, h1, sl, sh, qlo, qhi, zp);
      store_group(y + (i + 2) * ldy + g, l2, h2, sl, sh, qlo, qhi, zp);
      store_group(y + (i + 3) * ldy + g, l3, h3, sl, sh, qlo, qhi, zp);
    }
    for (; i < npix; i++) {
      __m256i l0 = vbl, h0 = vbh;
      for (size_t pr = 0; pr < pairs; pr++) {
        const size_t ta = 2 * pr, tb = ta + 1 < ntaps ? ta + 1 : ta;
        const uint8_t *pa = (const uint8_t *)ind[ta] + i * step + g;
        const uint8_t *pb = (const uint8_t *)ind[tb] + i * step + g;
        const __m256i wl = wv[2 * pr], wh = wv[2 * pr + 1];
        PAIR(0);
      }
      store_group(y + i * ldy + g, l0, h0, sl, sh, qlo, qhi, zp);
    }
  }
  for (; g < c; g++) /* channels past the last group: as the scalar twin */
    for (size_t i = 0; i < npix; i++) {
      uint32_t acc = (uint32_t)bias[nn_q8c_dw_term_index(g)];
      for (size_t t = 0; t < ntaps; t++)
        acc += (uint32_t)((int32_t)((const uint8_t *)ind[t])[i * step + g] *
                          (int32_t)w[nn_q8c_dw_w_index(g, t, ntaps)]);
      y[i * ldy + g] = (uint8_t)nn_requantize_one((int32_t)acc, scale[nn_q8c_dw_term_index(g)],
                                                  p->out_zp, p->qmin, p->qmax);
    }
}
