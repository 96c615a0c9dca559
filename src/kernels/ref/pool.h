/*
 * pool.h - reference pooling over NC[D]HW tensors. As in conv.h, 1-D and 2-D
 * problems are 3-D ones with leading spatial dims of size 1.
 */
#ifndef NN_KERNELS_REF_POOL_H
#define NN_KERNELS_REF_POOL_H

#include <stdint.h>

#define NN_POOL_SP 3

typedef struct nn_pool_params {
  int64_t planes; /* N * C: pooling is independent per (n, c) plane */
  int64_t in[NN_POOL_SP], out[NN_POOL_SP], kernel[NN_POOL_SP];
  int64_t stride[NN_POOL_SP], dilation[NN_POOL_SP];
  int64_t pad_begin[NN_POOL_SP], pad_end[NN_POOL_SP];
  /* AveragePool: divide by all taps inside [-pad_begin, in + pad_end) (1) or only by
   * the taps inside the input (0). Taps past pad_end (ceil_mode) never count. */
  int count_include_pad;
  /* MaxPool indices: 0 row-major (d, h, w), 1 column-major (w, h, d) within a plane. */
  int storage_order;
} nn_pool_params;

/* y = max over the taps inside x; indices (may be NULL) receive the flat index of
 * the first maximum in the whole NCDHW input (plane * D*H*W + offset in the plane,
 * by storage_order). A window without taps inside x yields the lowest value, -1. */
void nn_f32_maxpool__ref(const nn_pool_params *p, const float *x, float *y, int64_t *indices);
void nn_f64_maxpool__ref(const nn_pool_params *p, const double *x, double *y,
                         int64_t *indices);
void nn_i8_maxpool__ref(const nn_pool_params *p, const int8_t *x, int8_t *y, int64_t *indices);
void nn_u8_maxpool__ref(const nn_pool_params *p, const uint8_t *x, uint8_t *y,
                        int64_t *indices);

/* y = sum of taps inside x / count (see count_include_pad); sums in the element
 * type in order (d, h, w). A window without any counted tap gives 0. */
void nn_f32_avgpool__ref(const nn_pool_params *p, const float *x, float *y);
void nn_f64_avgpool__ref(const nn_pool_params *p, const double *x, double *y);

/* y = (sum of |x|^pw over taps inside x)^(1/pw) (padding contributes 0). */
void nn_f32_lppool__ref(const nn_pool_params *p, const float *x, float *y, double pw);
void nn_f64_lppool__ref(const nn_pool_params *p, const double *x, double *y, double pw);

/* Global pooling of planes of size n each: one output per plane. */
void nn_f32_global_avgpool__ref(int64_t planes, int64_t n, const float *x, float *y);
void nn_f64_global_avgpool__ref(int64_t planes, int64_t n, const double *x, double *y);
void nn_f32_global_maxpool__ref(int64_t planes, int64_t n, const float *x, float *y);
void nn_f64_global_maxpool__ref(int64_t planes, int64_t n, const double *x, double *y);
void nn_f32_global_lppool__ref(int64_t planes, int64_t n, const float *x, float *y, double pw);
void nn_f64_global_lppool__ref(int64_t planes, int64_t n, const double *x, double *y,
                               double pw);

#endif
