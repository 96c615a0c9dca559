/*
 * f32-maxpool-avx2.c - float32 2-D MaxPool of NCHW planes, 8 lanes: the AVX2 twin of
 * f32-maxpool-avx512.c (row max into a -inf padded row buffer, even and odd columns
 * apart for stride 2, then one unaligned load per column tap). Masked loads at the row
 * ends; other column strides and over-wide rows take nn_f32_maxpool2d.
 */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>

#include "kernels/f32_pool.h"

/* Floats per row buffer; two of them, as in f32-maxpool-avx512.c (the column loads do
 * not wait on store-to-load forwarding from the row pass just before). */
#define BUF 4352
/* at most this many output columns with a tap in the left padding */
#define MAX_EDGE 64

typedef struct mp_ctx {
  int64_t iW, oW, kW, dW, pW, oa, qf[MAX_EDGE];
  int s2, fast3;
} mp_ctx;

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
static void row_pass(const mp_ctx *c, const float *r0, int64_t rstep, int64_t nr, float *e,
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
static void col_pass(const mp_ctx *c, const float *e, const float *o, float *yr) {
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
  /* Outputs [0, oa) fold -inf from the left padding in first; the reference starts from
   * the first tap inside instead, which differs only when that tap is NaN (kept). */
  for (int64_t j = 0; j < c->oa; j++) {
    const int64_t q = c->qf[j];
    const float v = q < 0 ? 0.0f : s2 ? ((q & 1) ? o : e)[q >> 1] : e[q];
    if (v != v) yr[j] = v;
  }
}

void nn_f32_maxpool2d__avx2(const nn_pool_params *p, const float *x, float *y, size_t plane0,
                            size_t n) {
  const int64_t iH = p->in[1], iW = p->in[2], oH = p->out[1], oW = p->out[2];
  const int64_t kH = p->kernel[1], kW = p->kernel[2], sH = p->stride[1], sW = p->stride[2];
  const int64_t dH = p->dilation[1], dW = p->dilation[2];
  const int64_t pH = p->pad_begin[1], pW = p->pad_begin[2];
  const int s2 = sW == 2;
  /* floats of e[] (and o[]) written by the row pass or read by the column pass */
  const int64_t ow8 = (oW + 7) / 8 * 8;
  int64_t wr, rd;
  if (s2) {
    wr = (pW + 1) / 2 + (iW + 15) / 16 * 8;
    rd = ow8 + (kW - 1) * dW / 2;
  } else {
    wr = pW + (iW + 7) / 8 * 8;
    rd = ow8 + (kW - 1) * dW;
  }
  const int64_t need = wr > rd ? wr : rd;
  if ((sW != 1 && !s2) || pW < 0 || pH < 0 || need + 16 > (s2 ? BUF / 2 : BUF) ||
      (pW + sW - 1) / sW > MAX_EDGE) {
    nn_f32_maxpool2d(p, x, y, plane0, n);
    return;
  }
  mp_ctx c = {.iW = iW, .oW = oW, .kW = kW, .dW = dW, .pW = pW, .s2 = s2,
              .fast3 = kW == 3 && dW == 1};
  c.oa = (pW + sW - 1) / sW;
  if (c.oa > oW) c.oa = oW;
  for (int64_t j = 0; j < c.oa; j++) {
    c.qf[j] = -1; /* the first tap inside the row */
    for (int64_t k = kW - 1; k >= 0; k--)
      if (j * sW + k * dW >= pW && j * sW + k * dW < pW + iW) c.qf[j] = j * sW + k * dW;
  }
  float buf[2][BUF];
  const __m256 ninf = _mm256_set1_ps(-INFINITY);
  for (int b = 0; b < 2; b++)
    for (int64_t i = 0; i < need; i += 8) {
      _mm256_storeu_ps(buf[b] + i, ninf);
      if (s2) _mm256_storeu_ps(buf[b] + BUF / 2 + i, ninf);
    }

  for (size_t pl = plane0; pl < plane0 + n; pl++) {
    const float *xp = x + (int64_t)pl * iH * iW;
    float *yp = y + (int64_t)pl * oH * oW;
    int empty[2] = {0, 0};
    /* the row pass of output row oh, then the column pass of row oh - 1 */
    for (int64_t oh = 0; oh <= oH; oh++) {
      if (oh < oH) {
        float *e = buf[oh & 1];
        const int64_t h0 = oh * sH - pH;
        int64_t t0 = 0, t1 = kH;
        while (t0 < kH && h0 + t0 * dH < 0) t0++;
        while (t1 > t0 && h0 + (t1 - 1) * dH >= iH) t1--;
        empty[oh & 1] = t0 >= t1;
        if (t0 < t1) row_pass(&c, xp + (h0 + t0 * dH) * iW, dH * iW, t1 - t0, e, e + BUF / 2);
      }
      if (oh > 0) {
        const int64_t r = oh - 1;
        float *yr = yp + r * oW;
        if (empty[r & 1]) {
          for (int64_t ow = 0; ow < oW; ow++) yr[ow] = -INFINITY;
        } else {
          col_pass(&c, buf[r & 1], buf[r & 1] + BUF / 2, yr);
        }
      }
    }
  }
}
