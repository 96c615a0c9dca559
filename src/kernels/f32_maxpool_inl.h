/*
 * f32_maxpool_inl.h - what the SIMD MaxPool kernels (f32-maxpool-{avx512,avx2,neon}.c)
 * share: the two -inf padded row buffers, the columns whose window starts in the left
 * padding, and the loop over planes and output rows around an ISA's row pass (max of the
 * window's rows into a row buffer; stride 2: even and odd columns apart) and column pass
 * (one unaligned load per column tap). Each kernel file supplies its two passes to
 * nn_mp_run, which is inlined there, so the passes are direct calls.
 */
#ifndef NN_KERNELS_F32_MAXPOOL_INL_H
#define NN_KERNELS_F32_MAXPOOL_INL_H

#include <math.h>
#include <stdint.h>

#include "kernels/f32_pool.h"

/* Floats per row buffer. Two buffers: the row pass fills one while the column pass reads
 * the other, so the column loads (unaligned against the stores) do not wait on
 * store-to-load forwarding. Wider rows take the generic kernel. */
#define NN_MP_BUF 4352
/* at most this many output columns with a tap in the left padding */
#define NN_MP_MAX_EDGE 64

typedef struct nn_mp_ctx {
  int64_t iW, oW, kW, dW, pW, oa, qf[NN_MP_MAX_EDGE];
  int s2, fast3;
} nn_mp_ctx;

typedef void (*nn_mp_row_fn)(const nn_mp_ctx *c, const float *r0, int64_t rstep, int64_t nr,
                             float *e, float *o);
typedef void (*nn_mp_col_fn)(const nn_mp_ctx *c, const float *e, const float *o, float *yr);

/* The end of a column pass: outputs [0, oa) fold -inf from the left padding in first; the
 * reference starts from the first tap inside instead, which differs only when that tap is
 * NaN (kept). */
static inline void nn_mp_edge_nans(const nn_mp_ctx *c, const float *e, const float *o,
                                   float *yr) {
  for (int64_t j = 0; j < c->oa; j++) {
    const int64_t q = c->qf[j];
    const float v = q < 0 ? 0.0f : c->s2 ? ((q & 1) ? o : e)[q >> 1] : e[q];
    if (v != v) yr[j] = v;
  }
}

/*
 * nn_f32_maxpool2d's contract with the ISA's passes: vw = lanes of a column-pass store,
 * s1_in / s2_in = input columns one row-pass step covers at column stride 1 / 2 (the row
 * pass writes up to that rounding). Column strides other than 1 and 2, or rows too wide
 * for the buffers, go to nn_f32_maxpool2d.
 */
static inline __attribute__((always_inline)) void nn_mp_run(
    const nn_pool_params *p, const float *x, float *y, size_t plane0, size_t n, int64_t vw,
    int64_t s1_in, int64_t s2_in, nn_mp_row_fn row_pass, nn_mp_col_fn col_pass) {
  const int64_t iH = p->in[1], iW = p->in[2], oH = p->out[1], oW = p->out[2];
  const int64_t kH = p->kernel[1], kW = p->kernel[2], sH = p->stride[1], sW = p->stride[2];
  const int64_t dH = p->dilation[1], dW = p->dilation[2];
  const int64_t pH = p->pad_begin[1], pW = p->pad_begin[2];
  const int s2 = sW == 2;
  /* floats of e[] (and o[]) written by the row pass or read by the column pass */
  const int64_t owr = (oW + vw - 1) / vw * vw;
  int64_t wr, rd;
  if (s2) {
    wr = (pW + 1) / 2 + (iW + s2_in - 1) / s2_in * (s2_in / 2);
    rd = owr + (kW - 1) * dW / 2;
  } else {
    wr = pW + (iW + s1_in - 1) / s1_in * s1_in;
    rd = owr + (kW - 1) * dW;
  }
  const int64_t need = wr > rd ? wr : rd;
  if ((sW != 1 && !s2) || pW < 0 || pH < 0 || need + 16 > (s2 ? NN_MP_BUF / 2 : NN_MP_BUF) ||
      (pW + sW - 1) / sW > NN_MP_MAX_EDGE) {
    nn_f32_maxpool2d(p, x, y, plane0, n);
    return;
  }
  nn_mp_ctx c = {.iW = iW, .oW = oW, .kW = kW, .dW = dW, .pW = pW, .s2 = s2,
                 .fast3 = kW == 3 && dW == 1};
  c.oa = (pW + sW - 1) / sW;
  if (c.oa > oW) c.oa = oW;
  for (int64_t j = 0; j < c.oa; j++) {
    c.qf[j] = -1; /* the first tap inside the row */
    for (int64_t k = kW - 1; k >= 0; k--)
      if (j * sW + k * dW >= pW && j * sW + k * dW < pW + iW) c.qf[j] = j * sW + k * dW;
  }
  float buf[2][NN_MP_BUF];
  for (int b = 0; b < 2; b++)
    for (int64_t i = 0; i < need; i++) {
      buf[b][i] = -INFINITY;
      if (s2) buf[b][NN_MP_BUF / 2 + i] = -INFINITY;
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
        if (t0 < t1)
          row_pass(&c, xp + (h0 + t0 * dH) * iW, dH * iW, t1 - t0, e, e + NN_MP_BUF / 2);
      }
      if (oh > 0) {
        const int64_t r = oh - 1;
        float *yr = yp + r * oW;
        if (empty[r & 1]) {
          for (int64_t ow = 0; ow < oW; ow++) yr[ow] = -INFINITY;
        } else {
          col_pass(&c, buf[r & 1], buf[r & 1] + NN_MP_BUF / 2, yr);
        }
      }
    }
  }
}

#endif
