/*
 * pack_f32.c - packing of float32 GEMM operands into the panel layouts of the
 * microkernels (f32_gemm.h): weights once at prepare, activation blocks per call,
 * and convolution inputs straight from the NC[D]HW image (implicit im2col, so no
 * column matrix is ever materialized).
 */
#include "kernels/f32_conv.h"
#include "kernels/f32_gemm.h"

#include <string.h>

static size_t round_up(size_t x, size_t r) { return (x + r - 1) / r * r; }

size_t nn_f32_packed_a_size(size_t M, size_t K, size_t mr) { return round_up(M, mr) * K; }
size_t nn_f32_packed_b_size(size_t K, size_t N, size_t nr) { return round_up(N, nr) * K; }

void nn_f32_pack_a(const float *A, size_t lda, int transA, float alpha, size_t i0,
                   size_t mi, size_t k0, size_t kc, size_t mr, float *dst) {
  for (size_t p = 0; p < mi; p += mr, dst += kc * mr) {
    const size_t rows = mi - p < mr ? mi - p : mr;
    if (rows < mr)
      for (size_t k = 0; k < kc; k++)
        for (size_t r = rows; r < mr; r++) dst[k * mr + r] = 0.0f;
    if (!transA) {
      for (size_t r = 0; r < rows; r++) {
        const float *src = A + (i0 + p + r) * lda + k0;
        if (alpha == 1.0f)
          for (size_t k = 0; k < kc; k++) dst[k * mr + r] = src[k];
        else
          for (size_t k = 0; k < kc; k++) dst[k * mr + r] = alpha * src[k];
      }
    } else if (alpha == 1.0f && rows == mr && (mr == 8 || mr == 6 || mr == 12)) {
      /* full panels of the usual tiles: constant-size copies the compiler inlines */
      const float *src = A + k0 * lda + i0 + p;
      if (mr == 8)
        for (size_t k = 0; k < kc; k++) memcpy(dst + k * 8, src + k * lda, 8 * sizeof *dst);
      else if (mr == 6)
        for (size_t k = 0; k < kc; k++) memcpy(dst + k * 6, src + k * lda, 6 * sizeof *dst);
      else
        for (size_t k = 0; k < kc; k++) memcpy(dst + k * 12, src + k * lda, 12 * sizeof *dst);
    } else {
      for (size_t k = 0; k < kc; k++) {
        const float *src = A + (k0 + k) * lda + i0 + p;
        for (size_t r = 0; r < rows; r++) dst[k * mr + r] = alpha * src[r];
      }
    }
  }
}

void nn_f32_pack_b(const float *B, size_t ldb, int transB, size_t k0, size_t kc, size_t j0,
                   size_t nj, size_t nr, float *dst) {
  for (size_t q = 0; q < nj; q += nr, dst += kc * nr) {
    const size_t cols = nj - q < nr ? nj - q : nr;
    if (!transB) {
      for (size_t k = 0; k < kc; k++) {
        float *d = dst + k * nr;
        const float *src = B + (k0 + k) * ldb + j0 + q;
        for (size_t c = 0; c < cols; c++) d[c] = src[c]; /* short: no memcpy call */
        for (size_t c = cols; c < nr; c++) d[c] = 0.0f;
      }
    } else {
      if (cols < nr)
        for (size_t k = 0; k < kc; k++)
          for (size_t c = cols; c < nr; c++) dst[k * nr + c] = 0.0f;
      for (size_t c = 0; c < cols; c++) {
        const float *src = B + (j0 + q + c) * ldb + k0;
        for (size_t k = 0; k < kc; k++) dst[k * nr + c] = src[k];
      }
    }
  }
}

/* ---- convolution input as the GEMM's B: rows (c, kd, kh, kw), columns (od, oh, ow) ---- */

void nn_f32_conv_pack_b(const void *ctx_, size_t j0, size_t nj, size_t k0, size_t kc,
                        size_t nr, float *dst) {
  const nn_f32_conv_pack_ctx *ctx = ctx_;
  const nn_conv_params *p = ctx->p;
  const int64_t kD = p->kernel[0], kH = p->kernel[1], kW = p->kernel[2];
  const int64_t oH = p->out[1], oW = p->out[2];
  const int64_t iD = p->in[0], iH = p->in[1], iW = p->in[2];
  const int64_t sw = p->stride[2];
  const size_t panel = kc * nr;
  for (size_t k = 0; k < kc; k++) {
    const int64_t r = (int64_t)(k0 + k);
    const int64_t kw = r % kW, kh = (r / kW) % kH, kd = (r / (kW * kH)) % kD;
    const int64_t c = r / (kW * kH * kD);
    const float *xc = ctx->x + c * iD * iH * iW;
    const int64_t offw = kw * p->dilation[2] - p->pad_begin[2];
    int64_t s = (int64_t)j0;
    int64_t ow = s % oW, oh = (s / oW) % oH, od = s / (oW * oH);
    float *d = dst + k * nr;
    size_t lane = 0;
    for (size_t j = 0; j < nj;) {
      const int64_t run = oW - ow < (int64_t)(nj - j) ? oW - ow : (int64_t)(nj - j);
      const int64_t id = od * p->stride[0] - p->pad_begin[0] + kd * p->dilation[0];
      const int64_t ih = oh * p->stride[1] - p->pad_begin[1] + kh * p->dilation[1];
      if (id < 0 || id >= iD || ih < 0 || ih >= iH) {
        for (int64_t t = 0; t < run; t++) {
          d[lane] = 0.0f;
          if (++lane == nr) lane = 0, d += panel;
        }
      } else {
        const float *src = xc + (id * iH + ih) * iW;
        /* valid outputs [lo, hi) of this run: 0 <= (ow+t)*sw + offw < iW */
        int64_t t = 0;
        int64_t iw = ow * sw + offw;
        for (; t < run && iw < 0; t++, iw += sw) {
          d[lane] = 0.0f;
          if (++lane == nr) lane = 0, d += panel;
        }
        if (sw == 1) {
          int64_t hi = iW - iw < run - t ? iW - iw : run - t; /* copyable count */
          if (hi < 0) hi = 0;
          while (hi > 0) {
            size_t n = nr - lane < (size_t)hi ? nr - lane : (size_t)hi;
            const float *sp = src + iw;
            float *dp = d + lane;
            for (size_t q = 0; q < n; q++) dp[q] = sp[q];
            lane += n;
            iw += (int64_t)n;
            t += (int64_t)n;
            hi -= (int64_t)n;
            if (lane == nr) lane = 0, d += panel;
          }
        } else {
          for (; t < run && iw < iW; t++, iw += sw) {
            d[lane] = src[iw];
            if (++lane == nr) lane = 0, d += panel;
          }
        }
        for (; t < run; t++) {
          d[lane] = 0.0f;
          if (++lane == nr) lane = 0, d += panel;
        }
      }
      j += (size_t)run;
      ow = 0;
      if (++oh == oH) oh = 0, od++;
    }
    for (; lane && lane < nr; lane++) d[lane] = 0.0f; /* tail of the last panel */
  }
}

/* ---- convolution input on the padded (phase) grid (see nn_f32_conv_shift_ctx) ---- */

/* One packed row of n <= NR floats (zero past n); constant NR lets the copy inline. */
static inline void copy_panel_row(size_t NR, float *d, const float *src, size_t n) {
  if (n == NR) {
    memcpy(d, src, NR * sizeof *d); /* constant size: inlined vector moves */
  } else {
    for (size_t c = 0; c < n; c++) d[c] = src[c];
    for (size_t c = n; c < NR; c++) d[c] = 0.0f;
  }
}

static inline __attribute__((always_inline)) void pack_shifted(
    size_t NR, const nn_f32_conv_shift_ctx *cx, size_t j0, size_t nj, size_t k0, size_t kc,
    float *dst) {
  for (size_t k = 0; k < kc; k++) {
    const float *src = cx->xp + cx->koff[k0 + k] + j0;
    float *d = dst + k * NR;
    for (size_t q = 0; q < nj; q += NR, d += kc * NR)
      copy_panel_row(NR, d, src + q, nj - q < NR ? nj - q : NR);
  }
}

void nn_f32_conv_pack_b_shifted(const void *ctx, size_t j0, size_t nj, size_t k0, size_t kc,
                                size_t nr, float *dst) {
  const nn_f32_conv_shift_ctx *cx = ctx;
  switch (nr) {
  case 32: pack_shifted(32, cx, j0, nj, k0, kc, dst); break;
  case 16: pack_shifted(16, cx, j0, nj, k0, kc, dst); break;
  case 8: pack_shifted(8, cx, j0, nj, k0, kc, dst); break;
  default: pack_shifted(nr, cx, j0, nj, k0, kc, dst); break;
  }
}
