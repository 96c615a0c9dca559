/*
 * layernorm.h - reference LayerNormalization over rows: each of the rows (product
 * of the axes before "axis") is normalized over its cols elements (product of the
 * rest), in double, then scaled and shifted.
 */
#ifndef NN_KERNELS_REF_LAYERNORM_H
#define NN_KERNELS_REF_LAYERNORM_H

#include <stdint.h>

/*
 * y[r][c] = (x[r][c] - mean_r) * inv_std_r * scale[c] + bias[c], where
 * inv_std_r = 1 / sqrt(var_r + eps) (biased variance). scale/bias hold cols values,
 * or 1 when scale_step/bias_step is 0; bias may be NULL. mean and inv_std (rows
 * values each) may be NULL. y may alias x.
 */
void nn_f32_layernorm__ref(int64_t rows, int64_t cols, const float *x, const float *scale,
                           int scale_step, const float *bias, int bias_step, float eps,
                           float *y, float *mean, float *inv_std);
void nn_f64_layernorm__ref(int64_t rows, int64_t cols, const double *x, const double *scale,
                           int scale_step, const double *bias, int bias_step, float eps,
                           double *y, float *mean, float *inv_std);

#endif
