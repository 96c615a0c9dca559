/*
 * qparams.h - quantization parameters from a real range: scale and zero point for
 * affine (asymmetric, unsigned) or symmetric (signed, zero point 0) schemes, with 0.0
 * always exactly representable, and the quantize/dequantize of one value.
 */
#ifndef NN_QUANT_QPARAMS_H
#define NN_QUANT_QPARAMS_H

#include <math.h>
#include <stdint.h>

typedef struct nn_qparams {
  float scale;
  int32_t zero_point;
  int32_t qmin, qmax; /* integer range of the quantized type */
} nn_qparams;

/* bits in 2..16. symmetric: signed type, zero point 0, range [-(2^(b-1)), 2^(b-1)-1]
 * with scale = max(|lo|,|hi|) / (2^(b-1)-1) (the most negative code is unused by
 * the range, as in ONNX Runtime and PyTorch). Otherwise unsigned when is_signed is 0
 * ([0, 2^b-1]) or signed ([-(2^(b-1)), 2^(b-1)-1]) with a zero point. A degenerate
 * range gives scale 1 (all values quantize to the zero point). */
nn_qparams nn_qparams_from_range(float lo, float hi, int bits, int symmetric, int is_signed);

/* Round half to even (as ONNX QuantizeLinear), then saturate. */
static inline int32_t nn_quantize_one(float x, const nn_qparams *q) {
  float v = nearbyintf(x / q->scale) + (float)q->zero_point;
  if (v < (float)q->qmin) return q->qmin;
  if (v > (float)q->qmax) return q->qmax;
  return (int32_t)v;
}

static inline float nn_dequantize_one(int32_t v, const nn_qparams *q) {
  return (float)(v - q->zero_point) * q->scale;
}

#endif
