/*
 * f32_eltwise.h - float32 elementwise kernels of the transformer ops (the dispatch
 * table entries f32_vbinary, f32_verf, f32_softmax; NULL at the reference level).
 *
 * Contracts and tolerances against the reference twins (src/kernels/ref/):
 *   f32_vbinary[op]  op in {add, sub, mul, div}: the nn_binary_fn contract of
 *                    elementwise.h (sa, sb in {0, 1}; y may alias a or b when their
 *                    stride is 1). One IEEE operation per element: equal to
 *                    nn_f32_<op>__ref bit for bit.
 *   f32_verf         y[i] = erf(x[i]), y may alias x. Rational approximation on
 *                    [-4, 4] (+-1 beyond): |error| <= 1e-6 absolute against double
 *                    erf (tested over a sweep); NaN propagates, +-inf give +-1.
 *   f32_vgelu        y[i] = 0.5f * x[i] * (1.0f + verf(x[i] * 0.70710678f)), float
 *                    operations in that order: equal bit for bit to the erf form of
 *                    Gelu composed from f32_verf of the same level; y may alias x.
 *   f32_softmax      one row of n contiguous elements: y = exp(x - max) / sum;
 *                    polynomial exp (inputs below -87.3 give 0), float sums: relative
 *                    error <= 1e-5 against nn_f32_softmax__ref for rows up to 4096.
 *   x32_where        one inner run of Where over 32-bit elements: o[i] = c[i * sc] ?
 *                    x[i * sx] : y[i * sy], strides in {0, 1}; bit-exact (nn_where__ref).
 *   f32_layernorm    one row of n elements with per-element scale (and bias or NULL):
 *                    float sums, two passes; |error| <= 1e-5 * (|scale[i]| * (|x[i] -
 *                    mean| * inv_std + 1) + |bias[i]|) against nn_f32_layernorm__ref for
 *                    rows up to 4096; mean / inv_std (one value each) may be NULL.
 * Never allocate.
 */
#ifndef NN_KERNELS_F32_ELTWISE_H
#define NN_KERNELS_F32_ELTWISE_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/dispatch.h"

enum { NN_F32_VADD = 0, NN_F32_VSUB = 1, NN_F32_VMUL = 2, NN_F32_VDIV = 3 };

void nn_f32_vadd__avx2(int64_t n, const void *a, int sa, const void *b, int sb, void *y,
                       const void *aux);
void nn_f32_vsub__avx2(int64_t n, const void *a, int sa, const void *b, int sb, void *y,
                       const void *aux);
void nn_f32_vmul__avx2(int64_t n, const void *a, int sa, const void *b, int sb, void *y,
                       const void *aux);
void nn_f32_vdiv__avx2(int64_t n, const void *a, int sa, const void *b, int sb, void *y,
                       const void *aux);
void nn_x32_where__avx2(int64_t n, const uint8_t *c, int sc, const void *x, int sx,
                        const void *y, int sy, void *o);
void nn_f32_layernorm__avx2(size_t n, const float *x, const float *scale, const float *bias,
                            float eps, float *y, float *mean, float *inv_std);
void nn_f32_verf__avx2(size_t n, const float *x, float *y);
void nn_f32_vgelu__avx2(size_t n, const float *x, float *y);
void nn_f32_softmax__avx2(size_t n, const float *x, float *y);
void nn_f32_verf__avx512(size_t n, const float *x, float *y);
void nn_f32_vgelu__avx512(size_t n, const float *x, float *y);
void nn_f32_softmax__avx512(size_t n, const float *x, float *y);

#endif
