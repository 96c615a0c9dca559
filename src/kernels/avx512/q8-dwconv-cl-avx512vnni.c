/*
 * q8-dwconv-cl-avx512vnni.c - depthwise 3x3 over 16 channels at once (contract and reference:
 * nn_q8_dwconv3x3_cl__scalar in src/kernels/q8_dwconv.h). The block of channel planes is
 * transposed 16 x 16 bytes at a time into a channel-last buffer already filled with the
 * padding byte, then spread to one dword per channel holding three horizontal neighbours,
 * so a kernel row is one vpdpbusd for 16 channels whatever the border; the 16 outputs of
 * a pixel are requantized per lane with their channels' scales and transposed back into
 * the planes. Small planes (7x7, 14x14) cost no per-plane setup.
 */
#include <immintrin.h>
#include <string.h>

#include "kernels/q8_avx512_inl.h"
#include "kernels/q8_dwconv.h"

void nn_q8_dwconv3x3_cl__avx512vnni(const nn_q8_dwcl_args *a, size_t c0, size_t c1, void *ws);

/* r[i] byte j -> r[j] byte i (unpack network: bytes, words, dwords, qwords). */
static inline void tr16x16(__m128i r[16]) {
  __m128i t[16], u[16];
  for (int i = 0; i < 8; i++) {
    t[2 * i] = _mm_unpacklo_epi8(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm_unpackhi_epi8(r[2 * i], r[2 * i + 1]);
  }
  /* t[4g + 0..3]: rows 4g..4g+3 come from t[4g], t[4g+1] (rows 4g, 4g+1) and
   * t[4g+2], t[4g+3] (rows 4g+2, 4g+3). */
  for (int g = 0; g < 4; g++) {
    u[4 * g + 0] = _mm_unpacklo_epi16(t[4 * g], t[4 * g + 2]);     /* cols 0..3 */
    u[4 * g + 1] = _mm_unpackhi_epi16(t[4 * g], t[4 * g + 2]);     /* cols 4..7 */
    u[4 * g + 2] = _mm_unpacklo_epi16(t[4 * g + 1], t[4 * g + 3]); /* cols 8..11 */
    u[4 * g + 3] = _mm_unpackhi_epi16(t[4 * g + 1], t[4 * g + 3]); /* cols 12..15 */
  }
  /* Rows 0..7 from u[0..3] and u[4..7], rows 8..15 from u[8..11] and u[12..15]. */
  for (int h = 0; h < 2; h++)
    for (int q = 0; q < 4; q++) {
      t[8 * h + 2 * q] = _mm_unpacklo_epi32(u[8 * h + q], u[8 * h + 4 + q]);
      t[8 * h + 2 * q + 1] = _mm_unpackhi_epi32(u[8 * h + q], u[8 * h + 4 + q]);
    }
  /* t[i] (i < 8) holds columns 2i, 2i+1 of rows 0..7; t[8 + i] those of rows 8..15. */
  for (int i = 0; i < 8; i++) {
    r[2 * i] = _mm_unpacklo_epi64(t[i], t[8 + i]);
    r[2 * i + 1] = _mm_unpackhi_epi64(t[i], t[8 + i]);
  }
}

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

void nn_q8_dwconv3x3_cl__avx512vnni(const nn_q8_dwcl_args *a, size_t c0, size_t c1, void *ws) {
  const size_t s = a->stride, ih = a->ih, iw = a->iw, oh = a->oh, ow = a->ow;
  const size_t hp = (oh - 1) * s + 3, wp = (ow - 1) * s + 3;
  const size_t pin = ih * iw, pout = oh * ow;
  uint8_t *buf = ws, *dbuf = buf + align64(hp * wp * 16), *obuf = dbuf + align64(hp * wp * 64);
  const __m512i padv = _mm512_set1_epi8((char)a->pad);
  const __m128i xm = _mm_set1_epi8((char)a->xor_mask);
  const __m512i zp = _mm512_set1_epi32(a->out_zp);
  const __m512 lo = _mm512_set1_ps((float)(a->qmin - a->out_zp));
  const __m512 hi = _mm512_set1_ps((float)(a->qmax - a->out_zp));
  for (size_t cb = c0; cb < c1; cb += 16) {
    const size_t nch = c1 - cb < 16 ? c1 - cb : 16;
    const __mmask16 kch = q8_mask16(nch);
    /* The padded channel-last block. */
    for (size_t i = 0; i < hp * wp * 16; i += 64) _mm512_store_si512(buf + i, padv);
    for (size_t p0 = 0; p0 < pin; p0 += 16) {
      const size_t n = pin - p0 < 16 ? pin - p0 : 16;
      const __mmask16 m = q8_mask16(n);
      __m128i r[16];
      for (size_t ch = 0; ch < 16; ch++)
        r[ch] = ch < nch ? _mm_xor_si128(_mm_maskz_loadu_epi8(m, a->x + (cb + ch) * pin + p0), xm)
                         : _mm_setzero_si128();
      tr16x16(r);
      size_t iy = p0 / iw, ix = p0 % iw;
      for (size_t j = 0; j < n; j++) {
        const size_t py = iy + a->pt, px = ix + a->pl;
        if (py < hp && px < wp) _mm_storeu_si128((__m128i *)(buf + (py * wp + px) * 16), r[j]);
        if (++ix == iw) ix = 0, iy++;
      }
    }
    /* Window rows: dword lane ch of pixel (py, px) holds the channel's bytes at px, px + 1,
     * px + 2 and a zero, the shape of a weight row (w[4ky .. 4ky + 3], the last 0), so a
     * kernel row is one vpdpbusd. */
    for (size_t py = 0; py < hp; py++) {
      const uint8_t *b = buf + py * wp * 16;
      uint8_t *d = dbuf + py * wp * 64;
      for (size_t px = 0; px + 2 < wp; px++, b += 16, d += 64) {
        const __m128i b0 = _mm_loadu_si128((const __m128i *)b);
        const __m128i b1 = _mm_loadu_si128((const __m128i *)(b + 16));
        const __m128i b2 = _mm_loadu_si128((const __m128i *)(b + 32));
        const __m128i z = _mm_setzero_si128();
        const __m128i l01 = _mm_unpacklo_epi8(b0, b1), h01 = _mm_unpackhi_epi8(b0, b1);
        const __m128i l2 = _mm_unpacklo_epi8(b2, z), h2 = _mm_unpackhi_epi8(b2, z);
        _mm_storeu_si128((__m128i *)d, _mm_unpacklo_epi16(l01, l2));
        _mm_storeu_si128((__m128i *)(d + 16), _mm_unpackhi_epi16(l01, l2));
        _mm_storeu_si128((__m128i *)(d + 32), _mm_unpacklo_epi16(h01, h2));
        _mm_storeu_si128((__m128i *)(d + 48), _mm_unpackhi_epi16(h01, h2));
      }
    }
    /* Weight rows per lane, bias and scales per lane. */
    __m512i wr[3];
    for (int ky = 0; ky < 3; ky++) {
      _Alignas(64) int32_t v[16] = {0};
      for (size_t ch = 0; ch < nch; ch++) memcpy(&v[ch], a->w + 12 * (cb + ch) + 4 * ky, 4);
      wr[ky] = _mm512_load_si512(v);
    }
    const __m512i bias = _mm512_maskz_loadu_epi32(kch, a->bias + cb);
    const __m512 sc = _mm512_maskz_loadu_ps(kch, a->scale + cb);
    for (size_t oy = 0; oy < oh; oy++) {
      const uint8_t *row = dbuf + oy * s * wp * 64;
      uint8_t *o = obuf + oy * ow * 16;
      for (size_t ox = 0; ox < ow; ox++, o += 16) {
        const uint8_t *d = row + ox * s * 64;
        __m512i acc = _mm512_dpbusd_epi32(bias, _mm512_loadu_si512(d), wr[0]);
        acc = _mm512_dpbusd_epi32(acc, _mm512_loadu_si512(d + wp * 64), wr[1]);
        acc = _mm512_dpbusd_epi32(acc, _mm512_loadu_si512(d + 2 * wp * 64), wr[2]);
        _mm_storeu_si128((__m128i *)o, _mm512_cvtepi32_epi8(q8_requant16(acc, sc, lo, hi, zp)));
      }
    }
    /* Back to the planes. */
    for (size_t p0 = 0; p0 < pout; p0 += 16) {
      const size_t n = pout - p0 < 16 ? pout - p0 : 16;
      const __mmask16 m = q8_mask16(n);
      __m128i r[16];
      for (size_t j = 0; j < 16; j++)
        r[j] = j < n ? _mm_loadu_si128((const __m128i *)(obuf + (p0 + j) * 16)) : _mm_setzero_si128();
      tr16x16(r);
      for (size_t ch = 0; ch < nch; ch++) _mm_mask_storeu_epi8(a->y + (cb + ch) * pout + p0, m, r[ch]);
    }
  }
}
