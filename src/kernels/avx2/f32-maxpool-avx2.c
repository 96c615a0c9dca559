/*
 * f32-maxpool-avx2.c - float32 2-D MaxPool of NCHW planes, 8 lanes: the AVX2 twin of
 * f32-maxpool-avx512.c (row max into a -inf padded row buffer, even and odd columns
 * apart for stride 2, then one unaligned load per column tap). Masked loads at the row
 * ends; other column strides and over-wide rows take nn_f32_maxpool2d.
 */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>

#include "kernels/f32_maxpool_inl.h"

/* lanes [0, rem) set */
static __m256i tail_mask(int64_t rem) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(rem > 8 ? 8 : rem < 0 ? 0 : rem)), lane);
}

/* x[0, 8) with -inf in the lanes off the mask; never touches memory off the mask */
static __m256 load_or_ninf(const float *x, __m256i m, __m256 ninf) {
  return _mm256_blendv_ps(ninf, _mm256_maskload_ps(x, m), _mm256_castsi256_ps(m));
}

/* the even (evens) and odd (odds) columns of the 16 in a, b */
static __m256 evens(__m256 a, __m256 b) {
  const __m256 s = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(s), _MM_SHUFFLE(3, 1, 2, 0)));
}
static __m256 odds(__m256 a, __m256 b) {
  const __m256 s = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(s), _MM_SHUFFLE(3, 1, 2, 0)));
}

/* Row buffer P (padded coordinates: input column w at P[pW + w], -inf elsewhere) is e[]
 * for stride 1; for stride 2 P[2i] = e[i] and P[2i + 1] = o[i]. Rows r0, r0 + rstep, ...
 * (nr of them) are reduced, first row as is, later ones only where greater (as the
 * reference does, so a NaN only survives from the first row). */
static void row_pass(const nn_mp_ctx *c, const float *r0, int64_t rstep, int64_t nr, float *e,
                     float *o) {
  const int64_t iW = c->iW, pW = c->pW;
  const __m256 ninf = _mm256_set1_ps(-INFINITY);
  if (c->s2) {
    /* the input's even columns go to e[] when pW is even, to o[] when odd */
    float *const ev = ((pW & 1) ? o : e) + pW / 2;
    float *const od = ((pW & 1) ? e : o) + (pW + 1) / 2;
    int64_t w = 0;
    for (; w + 16 <= iW; w += 16) {
      const float *r = r0 + w;
      __m256 a = _mm256_loadu_ps(r), b = _mm256_loadu_ps(r + 8);
      for (int64_t t = 1; t < nr; t++) {
        r += rstep;
        a = _mm256_max_ps(_mm256_loadu_ps(r), a);
        b = _mm256_max_ps(_mm256_loadu_ps(r + 8), b);
      }
      _mm256_storeu_ps(ev + w / 2, evens(a, b));
      _mm256_storeu_ps(od + w / 2, odds(a, b));
    }
    if (w < iW) {
      const __m256i m0 = tail_mask(iW - w), m1 = tail_mask(iW - w - 8);
      const float *r = r0 + w;
      __m256 a = load_or_ninf(r, m0, ninf), b = load_or_ninf(r + 8, m1, ninf);
      for (int64_t t = 1; t < nr; t++) {
        r += rstep;
        a = _mm256_max_ps(load_or_ninf(r, m0, ninf), a);
        b = _mm256_max_ps(load_or_ninf(r + 8, m1, ninf), b);
      }
      _mm256_storeu_ps(ev + w / 2, evens(a, b));
      _mm256_storeu_ps(od + w / 2, odds(a, b));
    }
  } else {
    int64_t w = 0;
    for (; w + 8 <= iW; w += 8) {
      const float *r = r0 + w;
      __m256 a = _mm256_loadu_ps(r);
      for (int64_t t = 1; t < nr; t++) {
        r += rstep;
        a = _mm256_max_ps(_mm256_loadu_ps(r), a);
      }
      _mm256_storeu_ps(e + pW + w, a);
    }
    if (w < iW) {
      const __m256i m = tail_mask(iW - w);
      const float *r = r0 + w;
      __m256 a = load_or_ninf(r, m, ninf);
      for (int64_t t = 1; t < nr; t++) {
        r += rstep;
        a = _mm256_max_ps(load_or_ninf(r, m, ninf), a);
      }
      _mm256_storeu_ps(e + pW + w, a);
    }
  }
}

/* yr[j] = max over taps k of P[j * sW + k * dW], in tap order. */
static void col_pass(const nn_mp_ctx *c, const float *e, const float *o, float *yr) {
  const int64_t oW = c->oW, kW = c->kW, dW = c->dW;
  const int s2 = c->s2;
  for (int64_t j = 0; j < oW; j += 8) {
    __m256 acc;
    if (c->fast3 && s2) {
      acc = _mm256_max_ps(_mm256_loadu_ps(o + j), _mm256_loadu_ps(e + j));
      acc = _mm256_max_ps(_mm256_loadu_ps(e + j + 1), acc);
    } else if (c->fast3) {
      acc = _mm256_max_ps(_mm256_loadu_ps(e + j + 1), _mm256_loadu_ps(e + j));
      acc = _mm256_max_ps(_mm256_loadu_ps(e + j + 2), acc);
    } else {
      acc = _mm256_loadu_ps(e + j);
      for (int64_t k = 1; k < kW; k++) {
        const int64_t q = k * dW;
        const float *src = s2 ? ((q & 1) ? o : e) + (q >> 1) : e + q;
        acc = _mm256_max_ps(_mm256_loadu_ps(src + j), acc);
      }
    }
    if (oW - j >= 8) _mm256_storeu_ps(yr + j, acc);
    else _mm256_maskstore_ps(yr + j, tail_mask(oW - j), acc);
  }
  nn_mp_edge_nans(c, e, o, yr);
}

void nn_f32_maxpool2d__avx2(const nn_pool_params *p, const float *x, float *y, size_t plane0,
                            size_t n) {
  nn_mp_run(p, x, y, plane0, n, 8, 8, 16, row_pass, col_pass);
}
