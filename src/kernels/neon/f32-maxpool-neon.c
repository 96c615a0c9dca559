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

#include "kernels/f32_maxpool_inl.h"

/* new where greater, else acc: a NaN in new is dropped, a NaN in acc kept, as the
 * reference's `if (v > best) best = v` (vmaxq would propagate either). */
static inline float32x4_t gt_max(float32x4_t nw, float32x4_t acc) {
  return vbslq_f32(vcgtq_f32(nw, acc), nw, acc);
}

/* P (padded row, input column w at P[pW + w]) is e[] for stride 1; for stride 2
 * P[2i] = e[i], P[2i + 1] = o[i]. nr rows from r0, rstep apart, first row as is. */
static void row_pass(const nn_mp_ctx *c, const float *r0, int64_t rstep, int64_t nr, float *e,
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
static void col_pass(const nn_mp_ctx *c, const float *e, const float *o, float *yr) {
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
  nn_mp_edge_nans(c, e, o, yr);
}

void nn_f32_maxpool2d__neon(const nn_pool_params *p, const float *x, float *y, size_t plane0,
                            size_t n) {
  nn_mp_run(p, x, y, plane0, n, 4, 1, 2, row_pass, col_pass);
}
