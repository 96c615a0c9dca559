/*
 * f32c_conv.h - float32 convolution on channel-last (NHWC) activations, the float twin
 * of q8c_conv.h: the input is read through an indirection buffer (one pointer per output
 * pixel and kernel tap, a buffer of zeros where the tap falls in the padding), weights
 * are packed once. Epilogue: y = clamp(acc + z, lo, hi), acc starting from the bias
 * and accumulating with FMA in tap, then channel order; z (the fused residual of
 * com.microsoft FusedConv) is optional.
 *
 * Reference twins: the __scalar functions (the same order of operations, fmaf), checked
 * against nn_f32_conv__ref within a tolerance in tests/kernels/test_f32c_conv.c.
 */
#ifndef NN_KERNELS_F32C_CONV_H
#define NN_KERNELS_F32C_CONV_H

#include <stddef.h>

/*
 * Dense tile: mr <= 8 output pixels x nc <= 32 output channels,
 *   y[r * ldy + j] = clamp(bias[j] + sum_t sum_c x(t, r)[c] * w[t][c][j]
 *                          (+ z[r * ldy + j]), lo, hi)
 * with x(t, r) = ind[8 t + r] (step 0) or ind[t] + r * step (a tile inside one output
 * row). Rows r >= mr must be readable (callers repeat a row). w: one panel of
 * nn_f32c_pack_w ([t][c][32], zero past the panel's channels); bias: 32 values.
 */
#define NN_F32C_MR 8
#define NN_F32C_NR 32
typedef void (*nn_f32c_conv_fn)(size_t mr, size_t nc, size_t ntaps, size_t kc,
                                const void *const *ind, size_t step, const float *w,
                                const float *bias, const float *z, float lo, float hi, float *y,
                                size_t ldy);
void nn_f32c_conv_8x32__scalar(size_t mr, size_t nc, size_t ntaps, size_t kc,
                               const void *const *ind, size_t step, const float *w,
                               const float *bias, const float *z, float lo, float hi, float *y,
                               size_t ldy);
void nn_f32c_conv_8x32__avx512(size_t mr, size_t nc, size_t ntaps, size_t kc,
                               const void *const *ind, size_t step, const float *w,
                               const float *bias, const float *z, float lo, float hi, float *y,
                               size_t ldy);

/* Floats of the packed weights of m output channels, ntaps taps of kc channels. */
size_t nn_f32c_pack_w_size(size_t m, size_t ntaps, size_t kc);
/* The ONNX weight w[j][c][t] into panels of 32 output channels. */
void nn_f32c_pack_w(size_t m, size_t ntaps, size_t kc, const float *w, float *out);

/*
 * Depthwise, npix pixels of one output row whose tap pointers advance by step floats:
 *   y[i * ldy + ch] = clamp(bias[ch] + sum_t (ind[t] + i * step)[ch] * w[t * ws + ch]
 *                           (+ z[i * ldy + ch]), lo, hi)
 * for ch < c (w: a tap's weights ws >= c floats apart).
 */
typedef void (*nn_f32c_dw_fn)(size_t npix, size_t c, size_t ntaps, const void *const *ind,
                              size_t step, const float *w, size_t ws, const float *bias, const float *z,
                              float lo, float hi, float *y, size_t ldy);
void nn_f32c_dw__scalar(size_t npix, size_t c, size_t ntaps, const void *const *ind,
                        size_t step, const float *w, size_t ws, const float *bias, const float *z,
                        float lo, float hi, float *y, size_t ldy);
void nn_f32c_dw__avx512(size_t npix, size_t c, size_t ntaps, const void *const *ind,
                        size_t step, const float *w, size_t ws, const float *bias, const float *z,
                        float lo, float hi, float *y, size_t ldy);

struct nn_kernels;
/* The kernels for a table's level, or NULL where the planar paths are the faster. */
nn_f32c_conv_fn nn_f32c_conv_for(const struct nn_kernels *k);
nn_f32c_dw_fn nn_f32c_dw_for(const struct nn_kernels *k);

#endif
