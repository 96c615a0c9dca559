/*
 * qgemm.c - reference 8-bit GEMM with zero points and the byte im2col. The loop order
 * (i, p, j) streams rows of B and C so the inner loop vectorizes; products are formed in
 * int32 exactly as the spec's (a - a_zp) * (b - b_zp).
 */
#include "kernels/ref/qgemm.h"

#include <string.h>

/* Two's-complement wrap on overflow (as the SIMD kernels do) instead of C's UB. */
static inline int32_t wrap_add(int32_t x, int32_t y) {
  return (int32_t)((uint32_t)x + (uint32_t)y);
}

#define DEFINE_QGEMM(NAME, TA, TB)                                                     \
  void NAME(size_t m, size_t n, size_t k, const TA *a, size_t lda, const TA *a_zp,    \
            size_t a_zp_inc, const TB *b, size_t ldb, const TB *b_zp, size_t b_zp_inc, \
            int32_t *c, size_t ldc) {                                                  \
    for (size_t i = 0; i < m; i++) {                                                   \
      int32_t *ci = c + i * ldc;                                                       \
      const TA *ai = a + i * lda;                                                      \
      int32_t az = a_zp[i * a_zp_inc];                                                 \
      memset(ci, 0, n * sizeof *ci);                                                   \
      for (size_t p = 0; p < k; p++) {                                                 \
        int32_t av = (int32_t)ai[p] - az;                                              \
        const TB *bp = b + p * ldb;                                                    \
        if (av == 0) continue;                                                         \
        if (b_zp_inc == 0) {                                                           \
          int32_t bz = b_zp[0];                                                        \
          for (size_t j = 0; j < n; j++)                                               \
            ci[j] = wrap_add(ci[j], av * ((int32_t)bp[j] - bz));                       \
        } else {                                                                       \
          for (size_t j = 0; j < n; j++)                                               \
            ci[j] = wrap_add(ci[j], av * ((int32_t)bp[j] - (int32_t)b_zp[j]));         \
        }                                                                              \
      }                                                                                \
    }                                                                                  \
  }

DEFINE_QGEMM(nn_qu8_gemm__ref, uint8_t, uint8_t)
DEFINE_QGEMM(nn_qs8_gemm__ref, int8_t, int8_t)
DEFINE_QGEMM(nn_qu8s8_gemm__ref, uint8_t, int8_t)
DEFINE_QGEMM(nn_qs8u8_gemm__ref, int8_t, uint8_t)

void nn_x8_gemm__ref(int a_signed, int b_signed, size_t m, size_t n, size_t k,
                     const void *a, size_t lda, const void *a_zp, size_t a_zp_inc,
                     const void *b, size_t ldb, const void *b_zp, size_t b_zp_inc,
                     int32_t *c, size_t ldc) {
  if (a_signed && b_signed)
    nn_qs8_gemm__ref(m, n, k, a, lda, a_zp, a_zp_inc, b, ldb, b_zp, b_zp_inc, c, ldc);
  else if (a_signed)
    nn_qs8u8_gemm__ref(m, n, k, a, lda, a_zp, a_zp_inc, b, ldb, b_zp, b_zp_inc, c, ldc);
  else if (b_signed)
    nn_qu8s8_gemm__ref(m, n, k, a, lda, a_zp, a_zp_inc, b, ldb, b_zp, b_zp_inc, c, ldc);
  else
    nn_qu8_gemm__ref(m, n, k, a, lda, a_zp, a_zp_inc, b, ldb, b_zp, b_zp_inc, c, ldc);
}

void nn_x8_im2col__ref(const nn_conv_geom *g, const uint8_t *x, uint8_t pad, uint8_t *col) {
  const int r = g->rank;
  int64_t in_size = 1, ksize = 1, osize = 1;
  for (int d = 0; d < r; d++) {
    in_size *= g->in[d];
    ksize *= g->kernel[d];
    osize *= g->out[d];
  }
  /* The last spatial dim is the inner loop; the outer ones are decoded per output row.
   * rank >= 1 (a convolution has at least one spatial dim). */
  if (r < 1) return;
  const int last = r - 1;
  const int64_t olast = g->out[last];
  const int64_t orows = olast ? osize / olast : 0;
  for (int64_t ch = 0; ch < g->channels; ch++) {
    const uint8_t *xc = x + ch * in_size;
    for (int64_t kp = 0; kp < ksize; kp++) {
      int64_t kidx[NN_CONV_MAX_SPATIAL], t = kp;
      for (int d = r - 1; d >= 0; d--) {
        kidx[d] = t % g->kernel[d];
        t /= g->kernel[d];
      }
      uint8_t *row = col + (ch * ksize + kp) * osize;
      for (int64_t orow = 0; orow < orows; orow++) {
        /* Offset of the input line for the outer output coordinates, or -1 when one of
         * them falls into the padding. */
        int64_t off = 0, rest = orow;
        int inside = 1;
        int64_t oidx[NN_CONV_MAX_SPATIAL];
        for (int d = last - 1; d >= 0; d--) {
          oidx[d] = rest % g->out[d];
          rest /= g->out[d];
        }
        for (int d = 0; d < last; d++) {
          int64_t i = oidx[d] * g->stride[d] - g->pad_begin[d] + kidx[d] * g->dilation[d];
          if (i < 0 || i >= g->in[d]) inside = 0;
          off = off * g->in[d] + i;
        }
        uint8_t *dst = row + orow * olast;
        if (!inside) {
          memset(dst, pad, (size_t)olast);
          continue;
        }
        const uint8_t *line = xc + off * g->in[last];
        const int64_t s = g->stride[last];
        const int64_t base = kidx[last] * g->dilation[last] - g->pad_begin[last];
        const int64_t w = g->in[last];
        for (int64_t o = 0; o < olast; o++) {
          int64_t i = o * s + base;
          dst[o] = (i >= 0 && i < w) ? line[i] : pad;
        }
      }
    }
  }
}
