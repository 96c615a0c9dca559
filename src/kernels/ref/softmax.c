/*
 * softmax.c - Softmax family kernels. Rows along the axis are contiguous when
 * inner == 1 (the usual last-axis case); otherwise the axis is strided and the
 * kernel keeps per-column maxima and sums for a chunk of columns on the stack, so
 * memory is still read row by row.
 */
#include "kernels/ref/softmax.h"

#include <tgmath.h>

#define CHUNK 256
enum { SOFTMAX, LOGSOFTMAX, HARDMAX };

#define SOFTMAX_KERNEL(T, name, MODE)                                                      \
  void name(int64_t outer, int64_t n, int64_t inner, const T *x, T *y) {                   \
    if (n <= 0) return;                                                                    \
    if (inner == 1 && MODE != HARDMAX) { /* contiguous rows */                             \
      for (int64_t o = 0; o < outer; o++) {                                                \
        const T *xr = x + o * n;                                                           \
        T *yr = y + o * n;                                                                 \
        T m = xr[0];                                                                       \
        for (int64_t k = 1; k < n; k++) m = xr[k] > m ? xr[k] : m;                         \
        double s = 0;                                                                      \
        for (int64_t k = 0; k < n; k++) {                                                  \
          T e = exp(xr[k] - m);                                                            \
          if (MODE == SOFTMAX) yr[k] = e;                                                  \
          s += e;                                                                          \
        }                                                                                  \
        if (MODE == SOFTMAX) {                                                             \
          double inv = 1.0 / s;                                                            \
          for (int64_t k = 0; k < n; k++) yr[k] = (T)(yr[k] * inv);                        \
        } else {                                                                           \
          double sh = (double)m + log(s);                                                  \
          for (int64_t k = 0; k < n; k++) yr[k] = (T)(xr[k] - sh);                         \
        }                                                                                  \
      }                                                                                    \
      return;                                                                              \
    }                                                                                      \
    for (int64_t o = 0; o < outer; o++) {                                                  \
      const T *xr = x + o * n * inner;                                                     \
      T *yr = y + o * n * inner;                                                           \
      for (int64_t j0 = 0; j0 < inner; j0 += CHUNK) {                                      \
        int64_t w = inner - j0 < CHUNK ? inner - j0 : CHUNK;                               \
        T m[CHUNK];                                                                        \
        double s[CHUNK];                                                                   \
        int64_t arg[CHUNK];                                                                \
        for (int64_t j = 0; j < w; j++) {                                                  \
          m[j] = xr[j0 + j];                                                               \
          s[j] = 0;                                                                        \
          arg[j] = 0;                                                                      \
        }                                                                                  \
        for (int64_t k = 1; k < n; k++)                                                    \
          for (int64_t j = 0; j < w; j++) {                                                \
            T v = xr[k * inner + j0 + j];                                                  \
            if (v > m[j]) {                                                                \
              m[j] = v;                                                                    \
              arg[j] = k;                                                                  \
            }                                                                              \
          }                                                                                \
        if (MODE == HARDMAX) {                                                             \
          for (int64_t k = 0; k < n; k++)                                                  \
            for (int64_t j = 0; j < w; j++) yr[k * inner + j0 + j] = (T)(arg[j] == k);     \
          continue;                                                                        \
        }                                                                                  \
        for (int64_t k = 0; k < n; k++)                                                    \
          for (int64_t j = 0; j < w; j++) {                                                \
            T e = exp(xr[k * inner + j0 + j] - m[j]);                                      \
            if (MODE == SOFTMAX) yr[k * inner + j0 + j] = e;                               \
            s[j] += e;                                                                     \
          }                                                                                \
        for (int64_t j = 0; j < w; j++)                                                    \
          s[j] = MODE == SOFTMAX ? 1.0 / s[j] : (double)m[j] + log(s[j]);                  \
        for (int64_t k = 0; k < n; k++)                                                    \
          for (int64_t j = 0; j < w; j++) {                                                \
            int64_t i = k * inner + j0 + j;                                                \
            if (MODE == SOFTMAX)                                                           \
              yr[i] = (T)(yr[i] * s[j]);                                                   \
            else                                                                           \
              yr[i] = (T)(xr[i] - s[j]);                                                   \
          }                                                                                \
      }                                                                                    \
    }                                                                                      \
  }

SOFTMAX_KERNEL(float, nn_f32_softmax__ref, SOFTMAX)
SOFTMAX_KERNEL(float, nn_f32_logsoftmax__ref, LOGSOFTMAX)
SOFTMAX_KERNEL(float, nn_f32_hardmax__ref, HARDMAX)
SOFTMAX_KERNEL(double, nn_f64_softmax__ref, SOFTMAX)
SOFTMAX_KERNEL(double, nn_f64_logsoftmax__ref, LOGSOFTMAX)
SOFTMAX_KERNEL(double, nn_f64_hardmax__ref, HARDMAX)
