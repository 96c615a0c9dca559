/*
 * f32_pool.h - fast float32 max pooling of 2-D NCHW planes (no Indices output):
 * the max of the kernel rows first (contiguous, vectorizable), then of the columns.
 * Reference twin: nn_f32_maxpool__ref (kernels/ref/pool.h), matched exactly on inputs
 * without NaN; with NaN every variant here gives the same result as nn_f32_maxpool2d.
 */
#ifndef NN_KERNELS_F32_POOL_H
#define NN_KERNELS_F32_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/ref/pool.h"

/* Planes [plane0, plane0 + n) of a problem with p->in[0] == p->out[0] ==
 * p->kernel[0] == 1 and p->in[2] <= NN_F32_MAXPOOL_MAX_W. */
#define NN_F32_MAXPOOL_MAX_W 8192
void nn_f32_maxpool2d(const nn_pool_params *p, const float *x, float *y, size_t plane0,
                      size_t n);

/* The same contract, vectorized for column strides 1 and 2 (any kernel, padding,
 * dilation, row stride) on rows up to about 4300 floats padded; other problems go to
 * nn_f32_maxpool2d. Same results. About 35 KB of stack (two row buffers). */
void nn_f32_maxpool2d__avx2(const nn_pool_params *p, const float *x, float *y, size_t plane0,
                            size_t n);
void nn_f32_maxpool2d__avx512(const nn_pool_params *p, const float *x, float *y,
                              size_t plane0, size_t n);
void nn_f32_maxpool2d__neon(const nn_pool_params *p, const float *x, float *y, size_t plane0,
                            size_t n);

/* GlobalAveragePool of `planes` planes of n values: y[p] = mean of plane p, summed in
 * double over eight independent chains (the reference keeps one chain: a 4-cycle add per
 * value). Same code on every architecture; agrees with nn_f32_global_avgpool__ref up to
 * the order of the double additions (float results equal but for rare last-bit ties). */
void nn_f32_global_avgpool(int64_t planes, int64_t n, const float *x, float *y);

#endif
