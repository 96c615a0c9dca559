/*
 * requant.h - reference quantization arithmetic shared by the quantized ops and the
 * quantization passes: float -> int (QuantizeLinear), int -> float (DequantizeLinear)
 * and int32 accumulator -> int8/uint8 (requantization after an integer GEMM).
 * Rounding is always half to even, independent of the FP environment's rounding mode,
 * and results saturate to the target range. Fast kernels must match these exactly.
 */
#ifndef NN_KERNELS_REF_REQUANT_H
#define NN_KERNELS_REF_REQUANT_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

/* Round to the nearest integer, ties to even (like np.rint in the default mode).
 * x - floor(x) is exact for every float, so the tie test is exact. NaN stays NaN. */
static inline float nn_round_half_even_f32(float x) {
  float r = floorf(x);
  float d = x - r;
  if (d > 0.5f || (d == 0.5f && fmodf(r, 2.0f) != 0.0f)) r += 1.0f;
  return r;
}

/* round_half_even(v) + zp saturated to [qmin, qmax]; NaN maps to zp (clamped).
 * The clamp happens in float before the conversion, so huge v cannot overflow. */
static inline int32_t nn_quantize_round_sat(float v, int32_t zp, int32_t qmin, int32_t qmax) {
  float r = nn_round_half_even_f32(v);
  float lo = (float)((int64_t)qmin - zp), hi = (float)((int64_t)qmax - zp);
  int64_t q;
  if (r != r)
    q = zp;
  else if (r <= lo)
    q = qmin;
  else if (r >= hi)
    q = qmax;
  else
    q = (int64_t)r + zp;
  if (q < qmin) q = qmin;
  if (q > qmax) q = qmax;
  return (int32_t)q;
}

/* Requantize one accumulator: saturate(round_half_even((float)acc * scale) + zp). */
static inline int32_t nn_requantize_one(int32_t acc, float scale, int32_t zp, int32_t qmin,
                                        int32_t qmax) {
  return nn_quantize_round_sat((float)acc * scale, zp, qmin, qmax);
}

/* ---- QuantizeLinear: y[i] = saturate(round_half_even(x[i] / scale) + zp) ----
 * x / scale is a float32 division, as in the ONNX reference. */
void nn_f32_qu8_quantize__ref(size_t n, const float *x, float scale, uint8_t zp,
                              uint8_t *y);
void nn_f32_qs8_quantize__ref(size_t n, const float *x, float scale, int8_t zp, int8_t *y);

/* ---- DequantizeLinear: y[i] = ((float)x[i] - (float)zp) * scale ---- */
void nn_qu8_f32_dequantize__ref(size_t n, const uint8_t *x, float scale, uint8_t zp,
                                float *y);
void nn_qs8_f32_dequantize__ref(size_t n, const int8_t *x, float scale, int8_t zp,
                                float *y);
void nn_qs32_f32_dequantize__ref(size_t n, const int32_t *x, float scale, int32_t zp,
                                 float *y);

/* ---- Requantization of int32 accumulators to 8 bits ----
 * y[i] = saturate(round_half_even((float)acc[i] * scale[i * scale_inc]) + zp).
 * scale_inc is 0 for one scale (per tensor / per output channel row) or 1 for one
 * scale per element (per output column). */
void nn_qu8_requantize__ref(size_t n, const int32_t *acc, const float *scale,
                            size_t scale_inc, uint8_t zp, uint8_t *y);
void nn_qs8_requantize__ref(size_t n, const int32_t *acc, const float *scale,
                            size_t scale_inc, int8_t zp, int8_t *y);

#endif
