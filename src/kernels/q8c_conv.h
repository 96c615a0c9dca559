/*
 * q8c_conv.h - 8-bit convolution on channel-last (NHWC) activations: uint8 codes in,
 * int8 weights, uint8 codes out, requantized as src/kernels/ref/requant.h does
 * (y = saturate(round_half_even((float)acc * scale[j]) + out_zp) into [qmin, qmax]).
 *
 * Both kernels read their input through an indirection buffer, as XNNPACK's igemm:
 * one pointer per (output pixel, kernel tap) to the channel vector of the input pixel
 * the tap reads, or to a buffer holding the input zero point's byte where the tap falls
 * in the padding. So every kernel size, stride, dilation and padding is the same loop,
 * with no im2col, no padded copy and no columns computed for nothing. The zero point
 * is folded into the bias by the caller: bias[j] = b[j] - x_zp * sum(w[j]), since the
 * sums here are of the raw codes.
 *
 * Reference twins: the __scalar functions below (checked against nn_x8_im2col__ref +
 * nn_x8_gemm__ref in tests/kernels/test_q8c_conv.c).
 */
#ifndef NN_KERNELS_Q8C_CONV_H
#define NN_KERNELS_Q8C_CONV_H

#include <stddef.h>
#include <stdint.h>

typedef struct nn_q8c_params {
  int32_t out_zp, qmin, qmax; /* uint8 output: 0 <= qmin <= qmax <= 255 */
} nn_q8c_params;

/*
 * Dense convolution tile: mr <= 8 output pixels x nc <= 32 output channels.
 *   y[r * ldy + j] = requant(bias[j] + sum_t sum_c x(t, r)[c] * w(t, c, j))
 * for r < mr, j < nc; t < ntaps, c < kc, where x(t, r) = ind[8 t + r] when step is 0,
 * and x(t, r) = ind[t] + r * step otherwise (a tile inside one output row: every tap
 * pointer advances by stride x channels). Rows r >= mr must still be readable pointers
 * (callers repeat a valid row, or size the zero-point buffer for the steps). Reads
 * exactly kc bytes per pointer.
 * w: one panel of nn_q8c_pack_w: for each tap, ceil(kc / 4) quads of 32 columns x 4
 * bytes (w(t, c, j) at [t][c / 4][j][c % 4]), zero past kc and past the panel's
 * channels. bias, scale: 32 entries (zero past nc).
 */
#define NN_Q8C_MR 8
#define NN_Q8C_NR 32
typedef void (*nn_q8c_conv_fn)(size_t mr, size_t nc, size_t ntaps, size_t kc,
                               const void *const *ind, size_t step, const int8_t *w,
                               const int32_t *bias, const float *scale,
                               const nn_q8c_params *p, uint8_t *y, size_t ldy);
void nn_q8c_conv_8x32__scalar(size_t mr, size_t nc, size_t ntaps, size_t kc,
                              const void *const *ind, size_t step, const int8_t *w, const int32_t *bias,
                              const float *scale, const nn_q8c_params *p, uint8_t *y,
                              size_t ldy);
void nn_q8c_conv_8x32__avx2(size_t mr, size_t nc, size_t ntaps, size_t kc,
                            const void *const *ind, size_t step, const int8_t *w,
                            const int32_t *bias, const float *scale, const nn_q8c_params *p,
                            uint8_t *y, size_t ldy);
void nn_q8c_conv_8x32__avx512vnni(size_t mr, size_t nc, size_t ntaps, size_t kc,
                                  const void *const *ind, size_t step, const int8_t *w,
                                  const int32_t *bias, const float *scale,
                                  const nn_q8c_params *p, uint8_t *y, size_t ldy);

/* Bytes of the packed weights of m output channels, ntaps taps of kc channels. */
size_t nn_q8c_pack_w_size(size_t m, size_t ntaps, size_t kc);
/* Pack the ONNX weight w[j][c][t] (j < m, c < wc <= kc, t < ntaps) into panels of 32
 * channels for inputs of kc channels (channels wc .. kc - 1 get zero weights: inputs
 * padded to a multiple of 4 channels). */
void nn_q8c_pack_w(size_t m, size_t ntaps, size_t kc, size_t wc, const int8_t *w, int8_t *out);

/*
 * Depthwise convolution of npix output pixels over c channels (multiplier 1), the
 * pixels of one output row whose taps advance by the same step:
 *   y[i * ldy + ch] = requant(bias(ch) + sum_t (ind[t] + i * step)[ch] * w(ch, t))
 * ind[t] + i * step points at c readable bytes for every i < npix. Channels run in blocks of 64; inside
 * a block, byte j of the dword lanes of the j-th weight vector of a tap holds channel
 * 4 lane + j (the others 0), so one 64-byte load of the inputs feeds four vpdpbusd and
 * the four accumulators are merged back into channel order by shifts. w, bias and
 * scale come from nn_q8c_pack_dw (that order, zero past c).
 */
#define NN_Q8C_DW_CB 64
typedef void (*nn_q8c_dw_fn)(size_t npix, size_t c, size_t ntaps, const void *const *ind,
                             size_t step, const int8_t *w, const int32_t *bias, const float *scale,
                             const nn_q8c_params *p, uint8_t *y, size_t ldy);
void nn_q8c_dw__scalar(size_t npix, size_t c, size_t ntaps, const void *const *ind,
                       size_t step, const int8_t *w, const int32_t *bias, const float *scale,
                       const nn_q8c_params *p, uint8_t *y, size_t ldy);
void nn_q8c_dw__avx2(size_t npix, size_t c, size_t ntaps, const void *const *ind, size_t step,
                     const int8_t *w, const int32_t *bias, const float *scale,
                     const nn_q8c_params *p, uint8_t *y, size_t ldy);
void nn_q8c_dw__avx512vnni(size_t npix, size_t c, size_t ntaps, const void *const *ind,
                           size_t step, const int8_t *w, const int32_t *bias, const float *scale,
                           const nn_q8c_params *p, uint8_t *y, size_t ldy);

/* Where nn_q8c_pack_dw puts channel ch's bias and scale (lane (ch % 64) / 4 of
 * accumulator ch % 4 of its block) and its weight of tap t. */
static inline size_t nn_q8c_dw_term_index(size_t ch) {
  return ch / NN_Q8C_DW_CB * NN_Q8C_DW_CB + (ch % 4) * 16 + (ch % NN_Q8C_DW_CB) / 4;
}
static inline size_t nn_q8c_dw_w_index(size_t ch, size_t t, size_t ntaps) {
  const size_t b = ch / NN_Q8C_DW_CB, i = ch % NN_Q8C_DW_CB;
  return ((b * ntaps + t) * 4 + i % 4) * NN_Q8C_DW_CB + i;
}

/* Bytes of nn_q8c_pack_dw's weights; its bias and scale arrays hold nn_q8c_dw_terms(c). */
size_t nn_q8c_pack_dw_size(size_t c, size_t ntaps);
size_t nn_q8c_dw_terms(size_t c);
/* w[ch][t] (the ONNX [C, 1, kh, kw] weight), bias[ch], scale[ch] into the kernel's order. */
void nn_q8c_pack_dw(size_t c, size_t ntaps, const int8_t *w, const int32_t *bias,
                    const float *scale, int8_t *wout, int32_t *bout, float *sout);

/* The kernels for a kernel table's level, or NULL where the planar (NCHW) paths are
 * the faster ones (channel-last convolution is used where both exist). */
struct nn_kernels;
nn_q8c_conv_fn nn_q8c_conv_for(const struct nn_kernels *k);
nn_q8c_dw_fn nn_q8c_dw_for(const struct nn_kernels *k);

#endif
