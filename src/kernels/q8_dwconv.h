/*
 * q8_dwconv.h - depthwise 3x3 convolution of one uint8 NCHW channel plane with int8
 * weights, requantized like src/kernels/ref/requant.h. The caller pads the plane with
 * the input zero point (so the kernel has no border cases) and folds the zero point
 * into the bias: acc = bias + sum_{ky,kx} w[ky][kx] * x[oy*s + ky][ox*s + kx], with x the
 * raw uint8 codes; y = saturate(round_half_even((float)acc * scale) + out_zp).
 * Reference twin: nn_q8_dwconv3x3__scalar (itself checked against the int8 convolution
 * made of nn_x8_im2col__ref + nn_x8_gemm__ref).
 */
#ifndef NN_KERNELS_Q8_DWCONV_H
#define NN_KERNELS_Q8_DWCONV_H

#include <stddef.h>
#include <stdint.h>

/* Bytes past column (ow - 1) * stride + 2 of every input row that a kernel may read
 * (the values there only reach outputs that are not stored). */
#define NN_Q8_DW_SLACK 80

typedef struct nn_q8_dw_args {
  size_t oh, ow;       /* output plane */
  unsigned stride;     /* 1 or 2 */
  const uint8_t *x;    /* padded input: rows 0 .. (oh - 1) * stride + 2 */
  size_t ldx;          /* row stride of x, bytes */
  const int8_t *w;     /* 12 bytes: w[ky][kx] at [4 * ky + kx]; [4 * ky + 3] is 0 */
  int32_t bias;        /* bias - x_zero_point * sum(w) */
  float scale;         /* finite */
  int32_t out_zp, qmin, qmax;
  uint8_t *y;          /* output codes (int8 outputs are stored as their bytes) */
  size_t ldy;
} nn_q8_dw_args;

void nn_q8_dwconv3x3__scalar(const nn_q8_dw_args *a);

/*
 * Depthwise 3x3 over a run of channels at once, for small planes (14x14, 7x7) where a
 * call per plane and its padded copy cost more than the arithmetic: the channels become
 * the vector lanes (16 at a time), so borders and narrow rows cost nothing extra.
 * Padding is implicit. Per channel c (of one image, NCHW):
 *   acc = bias[c] + sum_{ky,kx} w[12c + 4ky + kx] * v(oy*s + ky - pt, ox*s + kx - pl)
 *   v(iy, ix) = x[c*ih*iw + iy*iw + ix] ^ xor_mask inside the plane, pad outside
 *   y[c*oh*ow + oy*ow + ox] = saturate(round_half_even((float)acc * scale[c]) + out_zp)
 * (the values and the bias of nn_q8_dw_args: pad is the input zero point's byte after
 * the XOR, folded into bias). Channels [c0, c1) only; ws holds
 * nn_q8_dwconv3x3_cl_workspace bytes, 64-byte aligned. Never allocates.
 */
typedef struct nn_q8_dwcl_args {
  size_t ih, iw, oh, ow;
  unsigned stride;      /* 1 or 2 */
  size_t pt, pl;        /* padding before rows and columns (after: whatever oh, ow need) */
  const uint8_t *x;
  uint8_t xor_mask, pad;
  const int8_t *w;      /* 12 bytes per channel */
  const int32_t *bias;
  const float *scale;   /* finite */
  int32_t out_zp, qmin, qmax;
  uint8_t *y;
} nn_q8_dwcl_args;

typedef void (*nn_q8_dwconv3x3_cl_fn)(const nn_q8_dwcl_args *a, size_t c0, size_t c1, void *ws);

size_t nn_q8_dwconv3x3_cl_workspace(const nn_q8_dwcl_args *a);
void nn_q8_dwconv3x3_cl__scalar(const nn_q8_dwcl_args *a, size_t c0, size_t c1, void *ws);
/* The fastest version for a kernel table's level (the scalar one below AVX-512). */
struct nn_kernels;
nn_q8_dwconv3x3_cl_fn nn_q8_dwconv3x3_cl_select(const struct nn_kernels *k);

#endif
