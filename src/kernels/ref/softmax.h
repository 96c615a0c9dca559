/*
 * softmax.h - reference Softmax, LogSoftmax and Hardmax over one axis of a tensor
 * viewed as [outer, n, inner] (the axis has n elements, inner is the product of the
 * axes after it; opset < 13 flattening is inner = 1). Max-subtracted, sums in double.
 */
#ifndef NN_KERNELS_REF_SOFTMAX_H
#define NN_KERNELS_REF_SOFTMAX_H

#include <stdint.h>

void nn_f32_softmax__ref(int64_t outer, int64_t n, int64_t inner, const float *x, float *y);
void nn_f32_logsoftmax__ref(int64_t outer, int64_t n, int64_t inner, const float *x,
                            float *y);
/* 1 at the first maximum along the axis, 0 elsewhere */
void nn_f32_hardmax__ref(int64_t outer, int64_t n, int64_t inner, const float *x, float *y);

void nn_f64_softmax__ref(int64_t outer, int64_t n, int64_t inner, const double *x,
                         double *y);
void nn_f64_logsoftmax__ref(int64_t outer, int64_t n, int64_t inner, const double *x,
                            double *y);
void nn_f64_hardmax__ref(int64_t outer, int64_t n, int64_t inner, const double *x,
                         double *y);

#endif
