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

#include "kernels/f32_pool.h"

/* Floats per row buffer. Two buffers: the row pass fills one while the column pass reads
 * the other, so the column loads (unaligned against the stores) do not wait on
 * store-to-load forwarding. Wider rows take the generic kernel. */
#define BUF 4352
/* at most this many output columns with a tap in the left padding */
#define MAX_EDGE 64

typedef struct mp_ctx {
  int64_t iW, oW, kW, dW, pW, oa, qf[MAX_EDGE];
  int s2, fast3;
} mp_ctx;

static __mmask16 tail_mask(int64_t rem) {
  return rem >= 16 ? (__mmask16)0xFFFF : rem <= 0 ? 0 : (__mmask16)((1u << rem) - 1u);
}

/* Row buffer P (padded coordinates: input column w at P[pW + w], -inf elsewhere) is e[]
 * for stride 1; for stride 2 P[2i] = e[i] and P[2i + 1] = o[i]. Rows r0, r0 + rstep, ...
 * (nr of them) are reduced, first row as is, later ones only where greater (as the
 * reference does, so a NaN only survives from the first row). */
static void row_pass(const mp_ctx *c, const float *r0, int64_t rstep, int64_t nr, float *e,
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
static void col_pass(const mp_ctx *c, const float *e, const float *o, float *yr) {
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
  /* Outputs [0, oa) fold -inf from the left padding in first; the reference starts from
   * the first tap inside instead, which differs only when that tap is NaN (kept). */
  for (int64_t j = 0; j < c->oa; j++) {
    const int64_t q = c->qf[j];
    const float v = q < 0 ? 0.0f : s2 ? ((q & 1) ? o : e)[q >> 1] : e[q];
    if (v != v) yr[j] = v;
  }
}

void nn_f32_maxpool2d__avx512(const nn_pool_params *p, const float *x, float *y,
                              size_t plane0, size_t n) {
  const int64_t iH = p->in[1], iW = p->in[2], oH = p->out[1], oW = p->out[2];
  const int64_t kH = p->kernel[1], kW = p->kernel[2], sH = p->stride[1], sW = p->stride[2];
  const int64_t dH = p->dilation[1], dW = p->dilation[2];
  const int64_t pH = p->pad_begin[1], pW = p->pad_begin[2];
  const int s2 = sW == 2;
  /* floats of e[] (and o[]) written by the row pass or read by the column pass */
  const int64_t ow16 = (oW + 15) / 16 * 16;
  int64_t wr, rd;
  if (s2) {
    wr = (pW + 1) / 2 + (iW + 31) / 32 * 16;
    rd = ow16 + (kW - 1) * dW / 2;
  } else {
    wr = pW + (iW + 15) / 16 * 16;
    rd = ow16 + (kW - 1) * dW;
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
  const __m512 ninf = _mm512_set1_ps(-INFINITY);
  for (int b = 0; b < 2; b++)
    for (int64_t i = 0; i < need; i += 16) {
      _mm512_storeu_ps(buf[b] + i, ninf);
      if (s2) _mm512_storeu_ps(buf[b] + BUF / 2 + i, ninf);
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
