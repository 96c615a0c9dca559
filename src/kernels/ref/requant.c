/*
 * requant.c - reference quantize / dequantize / requantize loops (see requant.h for
 * the exact arithmetic; the per-element helpers are inline in the header).
 */
#include "kernels/ref/requant.h"

void nn_f32_qu8_quantize__ref(size_t n, const float *x, float scale, uint8_t zp,
                              uint8_t *y) {
  for (size_t i = 0; i < n; i++) y[i] = (uint8_t)nn_quantize_round_sat(x[i] / scale, zp, 0, 255);
}

void nn_f32_qs8_quantize__ref(size_t n, const float *x, float scale, int8_t zp, int8_t *y) {
  for (size_t i = 0; i < n; i++)
    y[i] = (int8_t)nn_quantize_round_sat(x[i] / scale, zp, -128, 127);
}

void nn_qu8_f32_dequantize__ref(size_t n, const uint8_t *x, float scale, uint8_t zp,
                                float *y) {
  for (size_t i = 0; i < n; i++) y[i] = ((float)x[i] - (float)zp) * scale;
}

void nn_qs8_f32_dequantize__ref(size_t n, const int8_t *x, float scale, int8_t zp,
                                float *y) {
  for (size_t i = 0; i < n; i++) y[i] = ((float)x[i] - (float)zp) * scale;
}

void nn_qs32_f32_dequantize__ref(size_t n, const int32_t *x, float scale, int32_t zp,
                                 float *y) {
  for (size_t i = 0; i < n; i++) y[i] = ((float)x[i] - (float)zp) * scale;
}

void nn_qu8_requantize__ref(size_t n, const int32_t *acc, const float *scale,
                            size_t scale_inc, uint8_t zp, uint8_t *y) {
  for (size_t i = 0; i < n; i++)
    y[i] = (uint8_t)nn_requantize_one(acc[i], scale[i * scale_inc], zp, 0, 255);
}

void nn_qs8_requantize__ref(size_t n, const int32_t *acc, const float *scale,
                            size_t scale_inc, int8_t zp, int8_t *y) {
  for (size_t i = 0; i < n; i++)
    y[i] = (int8_t)nn_requantize_one(acc[i], scale[i * scale_inc], zp, -128, 127);
}
