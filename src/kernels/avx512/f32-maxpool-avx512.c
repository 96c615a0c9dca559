/*
 * f32-maxpool-avx512.c - float32 2-D MaxPool of NCHW planes, 16 lanes. Per output row
 * the max of the window's rows lands in a row buffer padded with -inf (stride 2: even
 * and odd columns apart), then each tap of the column max is one unaligned load.
 * Column strides other than 1 and 2, or rows too wide for the buffer, go to
 * nn_f32_maxpool2d.
 */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>

#include "kernels/f32_maxpool_inl.h"

static __mmask16 tail_mask(int64_t rem) {
  return rem >= 16 ? (__mmask16)0xFFFF : rem <= 0 ? 0 : (__mmask16)((1u << rem) - 1u);
}

/* Row buffer P (padded coordinates: input column w at P[pW + w], -inf elsewhere) is e[]
 * for stride 1; for stride 2 P[2i] = e[i] and P[2i + 1] = o[i]. Rows r0, r0 + rstep, ...
 * (nr of them) are reduced, first row as is, later ones only where greater (as the
 * reference does, so a NaN only survives from the first row). */
static void row_pass(const nn_mp_ctx *c, const float *r0, int64_t rstep, int64_t nr, float *e,
                     float *o) {
  const int64_t iW = c->iW, pW = c->pW;
  const __m512 ninf = _mm512_set1_ps(-INFINITY);
  if (c->s2) {
    const __m512i even =
        _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd =
        _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    /* the input's even columns go to e[] when pW is even, to o[] when odd */
    float *const ev = ((pW & 1) ? o : e) + pW / 2;
    float *const od = ((pW & 1) ? e : o) + (pW + 1) / 2;
    int64_t w = 0;
    for (; w + 32 <= iW; w += 32) {
      const float *r = r0 + w;
      __m512 a = _mm512_loadu_ps(r), b = _mm512_loadu_ps(r + 16);
      for (int64_t t = 1; t < nr; t++) {
        r += rstep;
        a = _mm512_max_ps(_mm512_loadu_ps(r), a);
        b = _mm512_max_ps(_mm512_loadu_ps(r + 16), b);
      }
      _mm512_storeu_ps(ev + w / 2, _mm512_permutex2var_ps(a, even, b));
      _mm512_storeu_ps(od + w / 2, _mm512_permutex2var_ps(a, odd, b));
    }
    if (w < iW) {
      const __mmask16 m0 = tail_mask(iW - w), m1 = tail_mask(iW - w - 16);
      const float *r = r0 + w;
      __m512 a = _mm512_mask_loadu_ps(ninf, m0, r), b = ninf;
      if (m1) {
        b = _mm512_mask_loadu_ps(ninf, m1, r + 16);
        for (int64_t t = 1; t < nr; t++) {
          r += rstep;
          a = _mm512_max_ps(_mm512_mask_loadu_ps(ninf, m0, r), a);
          b = _mm512_max_ps(_mm512_mask_loadu_ps(ninf, m1, r + 16), b);
        }
      } else {
        for (int64_t t = 1; t < nr; t++) {
          r += rstep;
          a = _mm512_max_ps(_mm512_mask_loadu_ps(ninf, m0, r), a);
        }
      }
      _mm512_storeu_ps(ev + w / 2, _mm512_permutex2var_ps(a, even, b));
      _mm512_storeu_ps(od + w / 2, _mm512_permutex2var_ps(a, odd, b));
    }
  } else {
    for (int64_t w = 0; w < iW; w += 16) {
      const __mmask16 m = tail_mask(iW - w);
      const float *r = r0 + w;
      __m512 a = _mm512_mask_loadu_ps(ninf, m, r);
      for (int64_t t = 1; t < nr; t++) {
        r += rstep;
        a = _mm512_max_ps(_mm512_mask_loadu_ps(ninf, m, r), a);
      }
      _mm512_storeu_ps(e + pW + w, a);
    }
  }
}

/* yr[j] = max over taps k of P[j * sW + k * dW], in tap order. */
static void col_pass(const nn_mp_ctx *c, const float *e, const float *o, float *yr) {
  const int64_t oW = c->oW, kW = c->kW, dW = c->dW;
  const int s2 = c->s2;
  for (int64_t j = 0; j < oW; j += 16) {
    __m512 acc;
    if (c->fast3 && s2) {
      acc = _mm512_max_ps(_mm512_loadu_ps(o + j), _mm512_loadu_ps(e + j));
      acc = _mm512_max_ps(_mm512_loadu_ps(e + j + 1), acc);
    } else if (c->fast3) {
      acc = _mm512_max_ps(_mm512_loadu_ps(e + j + 1), _mm512_loadu_ps(e + j));
      acc = _mm512_max_ps(_mm512_loadu_ps(e + j + 2), acc);
    } else {
      acc = _mm512_loadu_ps(e + j);
      for (int64_t k = 1; k < kW; k++) {
        const int64_t q = k * dW;
        const float *src = s2 ? ((q & 1) ? o : e) + (q >> 1) : e + q;
        acc = _mm512_max_ps(_mm512_loadu_ps(src + j), acc);
      }
    }
    _mm512_mask_storeu_ps(yr + j, tail_mask(oW - j), acc);
  }
  nn_mp_edge_nans(c, e, o, yr);
}

void nn_f32_maxpool2d__avx512(const nn_pool_params *p, const float *x, float *y,
                              size_t plane0, size_t n) {
  nn_mp_run(p, x, y, plane0, n, 16, 16, 32, row_pass, col_pass);
}
