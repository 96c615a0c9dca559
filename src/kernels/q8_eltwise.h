/*
 * q8_eltwise.h - element-wise 8-bit kernels of the quantized ops. QLinearAdd follows
 * ONNX Runtime's MLAS kernel exactly (checked against it on every pair of codes over 40
 * scale and zero-point sets): the zero points are folded into one float32 constant,
 *   fixed = (float)zc - fmaf(ra, (float)za, rb * (float)zb)
 *   v = fmaf((float)a, ra, fmaf((float)b, rb, fixed))       (a, b the raw codes)
 * then round half to even and saturate to [qmin, qmax]; zc is added before the rounding,
 * so a value a hair below a tie after the zero point rounds as MLAS does.
 */
#ifndef NN_KERNELS_Q8_ELTWISE_H
#define NN_KERNELS_Q8_ELTWISE_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

typedef struct nn_q8_add_params {
  float ra, rb;                 /* a_scale / c_scale, b_scale / c_scale */
  int32_t za, zb, zc, qmin, qmax;
  int is_signed;                /* inputs and output int8 (else uint8) */
  int b_scalar;                 /* b is one element, broadcast */
} nn_q8_add_params;

void nn_q8_add__scalar(size_t n, const uint8_t *a, const uint8_t *b, const nn_q8_add_params *p,
                       uint8_t *y);

/* The constant of the expression above (every implementation computes it this way). */
static inline float nn_q8_add_fixed(const nn_q8_add_params *p) {
  const float zb_rb = p->rb * (float)p->zb; /* rounded, then fused with ra * za */
  return (float)p->zc - fmaf(p->ra, (float)p->za, zb_rb);
}

/* QuantizeLinear: y = saturate(round_half_even(x / scale) + zp) to [qmin, qmax] (int8
 * outputs stored as their bytes); x / scale is one float32 division, NaN gives zp,
 * exactly as nn_f32_qu8_quantize__ref / nn_f32_qs8_quantize__ref. */
void nn_q8_quantize__scalar(size_t n, const float *x, float scale, int32_t zp, int32_t qmin,
                            int32_t qmax, uint8_t *y);

/* MaxPool of 8-bit NCHW planes (no Indices): the contract of nn_f32_maxpool2d
 * (kernels/f32_pool.h: p->in[0] == p->out[0] == p->kernel[0] == 1, planes [plane0,
 * plane0 + n), rows up to NN_Q8_MAXPOOL_MAX_W wide), for uint8 or int8 codes; a window
 * without taps inside the input gives the lowest code, as nn_u8_maxpool__ref /
 * nn_i8_maxpool__ref. */
#define NN_Q8_MAXPOOL_MAX_W 8192
struct nn_pool_params;
void nn_u8_maxpool2d(const struct nn_pool_params *p, const uint8_t *x, uint8_t *y,
                     size_t plane0, size_t n);
void nn_i8_maxpool2d(const struct nn_pool_params *p, const int8_t *x, int8_t *y, size_t plane0,
                     size_t n);
/* The table's x8_maxpool2d: one of the two by is_signed. */
void nn_x8_maxpool2d(const struct nn_pool_params *p, const void *x, void *y, size_t plane0,
                     size_t n, int is_signed);

#endif
