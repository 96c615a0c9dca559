/*
 * f32-maxpool-neon.c - float32 2-D MaxPool of NCHW planes, 4 lanes: the NEON twin of
 * f32-maxpool-avx512.c (row max into a -inf padded row buffer, even and odd columns
 * apart for stride 2 by vld2q, then one load per column tap). Row and output ends are
 * done in scalar code; other column strides and over-wide rows take nn_f32_maxpool2d.
 */
#include <arm_neon.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels/f32_pool.h"

/* Floats per row buffer; two of them, as in f32-maxpool-avx512.c. */
#define BUF 4352
/* at most this many output columns with a tap in the left padding */
#define MAX_EDGE 64

typedef struct mp_ctx {
  int64_t iW, oW, kW, dW, pW, oa, qf[MAX_EDGE];
  int s2, fast3;
} mp_ctx;

/* new where greater, else acc: a NaN in new is dropped, a NaN in acc kept, as the
 * reference's `if (v > best) best = v` (vmaxq would propagate either). */
static inline float32x4_t gt_max(float32x4_t nw, float32x4_t acc) {
  return vbslq_f32(vcgtq_f32(nw, acc), nw, acc);
}

/* P (padded row, input column w at P[pW + w]) is e[] for stride 1; for stride 2
 * P[2i] = e[i], P[2i + 1] = o[i]. nr rows from r0, rstep apart, first row as is. */
static void row_pass(const mp_ctx *c, const float *r0, int64_t rstep, int64_t nr, float *e,
                     float *o) {
  const int64_t iW = c->iW, pW = c->pW;
  int64_t w = 0;
  if (c->s2) {
    float *const ev = ((pW & 1) ? o : e) + pW / 2;
    float *const od = ((pW & 1) ? e : o) + (pW + 1) / 2;
    for (; w + 8 <= iW; w += 8) {
      const float *r = r0 + w;
      float32x4x2_t a = vld2q_f32(r);
      for (int64_t t = 1; t < nr; t++) {
        r += rstep;
        const float32x4x2_t b = vld2q_f32(r);
        a.val[0] = gt_max(b.val[0], a.val[0]);
        a.val[1] = gt_max(b.val[1], a.val[1]);
      }
      vst1q_f32(ev + w / 2, a.val[0]);
      vst1q_f32(od + w / 2, a.val[1]);
    }
  } else {
    for (; w + 4 <= iW; w += 4) {
      const float *r = r0 + w;
      float32x4_t a = vld1q_f32(r);
      for (int64_t t = 1; t < nr; t++) {
        r += rstep;
        a = gt_max(vld1q_f32(r), a);
      }
      vst1q_f32(e + pW + w, a);
    }
  }
  for (; w < iW; w++) {
    const float *r = r0 + w;
    float m = *r;
    for (int64_t t = 1; t < nr; t++) {
      r += rstep;
      if (*r > m) m = *r;
    }
    const int64_t q = pW + w;
    if (c->s2) ((q & 1) ? o : e)[q >> 1] = m;
    else e[q] = m;
  }
}

/* yr[j] = max over taps k of P[j * sW + k * dW], in tap order. */
static void col_pass(const mp_ctx *c, const float *e, const float *o, float *yr) {
  const int64_t oW = c->oW, kW = c->kW, dW = c->dW;
  const int s2 = c->s2;
  for (int64_t j = 0; j < oW; j += 4) {
    float32x4_t acc;
    if (c->fast3 && s2) {
      acc = gt_max(vld1q_f32(o + j), vld1q_f32(e + j));
      acc = gt_max(vld1q_f32(e + j + 1), acc);
    } else if (c->fast3) {
      acc = gt_max(vld1q_f32(e + j + 1), vld1q_f32(e + j));
      acc = gt_max(vld1q_f32(e + j + 2), acc);
    } else {
      acc = vld1q_f32(e + j);
      for (int64_t k = 1; k < kW; k++) {
        const int64_t q = k * dW;
        const float *src = s2 ? ((q & 1) ? o : e) + (q >> 1) : e + q;
        acc = gt_max(vld1q_f32(src + j), acc);
      }
    }
    if (oW - j >= 4) {
      vst1q_f32(yr + j, acc);
    } else {
      float tmp[4];
      vst1q_f32(tmp, acc);
      memcpy(yr + j, tmp, (size_t)(oW - j) * sizeof *tmp);
    }
  }
  /* Outputs [0, oa) fold -inf from the left padding in first; the reference starts from
   * the first tap inside instead, which differs only when that tap is NaN (kept). */
  for (int64_t j = 0; j < c->oa; j++) {
    const int64_t q = c->qf[j];
    const float v = q < 0 ? 0.0f : s2 ? ((q & 1) ? o : e)[q >> 1] : e[q];
    if (v != v) yr[j] = v;
  }
}

void nn_f32_maxpool2d__neon(const nn_pool_params *p, const float *x, float *y, size_t plane0,
                            size_t n) {
  const int64_t iH = p->in[1], iW = p->in[2], oH = p->out[1], oW = p->out[2];
  const int64_t kH = p->kernel[1], kW = p->kernel[2], sH = p->stride[1], sW = p->stride[2];
  const int64_t dH = p->dilation[1], dW = p->dilation[2];
  const int64_t pH = p->pad_begin[1], pW = p->pad_begin[2];
  const int s2 = sW == 2;
  /* floats of e[] (and o[]) written by the row pass or read by the column pass */
  const int64_t ow4 = (oW + 3) / 4 * 4;
  int64_t wr, rd;
  if (s2) {
    wr = (pW + 1) / 2 + (iW + 1) / 2;
    rd = ow4 + (kW - 1) * dW / 2;
  } else {
    wr = pW + iW;
    rd = ow4 + (kW - 1) * dW;
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
  for (int b = 0; b < 2; b++)
    for (int64_t i = 0; i < need; i++) {
      buf[b][i] = -INFINITY;
      if (s2) buf[b][BUF / 2 + i] = -INFINITY;
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
