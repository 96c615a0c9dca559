/*
 * layernorm.c - two-pass (mean, then centred variance) LayerNormalization in double,
 * which avoids the cancellation of the one-pass E[x^2] - E[x]^2 form.
 */
#include "kernels/ref/layernorm.h"

#include <math.h>

#define LAYERNORM(name, T)                                                                 \
  void name(int64_t rows, int64_t cols, const T *x, const T *scale, int scale_step,        \
            const T *bias, int bias_step, float eps, T *y, float *mean, float *inv_std) {  \
    for (int64_t r = 0; r < rows; r++) {                                                   \
      const T *xr = x + r * cols;                                                          \
      T *yr = y + r * cols;                                                                \
      double s = 0;                                                                        \
      for (int64_t c = 0; c < cols; c++) s += xr[c];                                       \
      double mu = cols ? s / (double)cols : 0;                                             \
      double v = 0;                                                                        \
      for (int64_t c = 0; c < cols; c++) {                                                 \
        double d = xr[c] - mu;                                                             \
        v += d * d;                                                                        \
      }                                                                                    \
      double inv = 1.0 / sqrt((cols ? v / (double)cols : 0) + (double)eps);                \
      for (int64_t c = 0; c < cols; c++) {                                                 \
        double t = (xr[c] - mu) * inv * (double)scale[scale_step ? c : 0];                 \
        if (bias) t += (double)bias[bias_step ? c : 0];                                    \
        yr[c] = (T)t;                                                                      \
      }                                                                                    \
      if (mean) mean[r] = (float)mu;                                                       \
      if (inv_std) inv_std[r] = (float)inv;                                                \
    }                                                                                      \
  }

LAYERNORM(nn_f32_layernorm__ref, float)
LAYERNORM(nn_f64_layernorm__ref, double)
