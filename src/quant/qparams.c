/*
 * qparams.c - scale and zero point from a range.
 */
#include "quant/qparams.h"

nn_qparams nn_qparams_from_range(float lo, float hi, int bits, int symmetric, int is_signed) {
  nn_qparams q;
  if (bits < 2) bits = 2;
  if (bits > 16) bits = 16;
  /* Zero must be inside the range so padding and ReLU zeros stay exact. */
  if (lo > 0) lo = 0;
  if (hi < 0) hi = 0;
  if (symmetric) {
    q.qmax = (1 << (bits - 1)) - 1;
    q.qmin = -(1 << (bits - 1));
    float m = fmaxf(fabsf(lo), fabsf(hi));
    q.scale = m > 0 ? m / (float)q.qmax : 1.0f;
    q.zero_point = 0;
    return q;
  }
  q.qmin = is_signed ? -(1 << (bits - 1)) : 0;
  q.qmax = is_signed ? (1 << (bits - 1)) - 1 : (1 << bits) - 1;
  if (hi - lo <= 0) {
    q.scale = 1.0f;
    q.zero_point = is_signed ? 0 : 0;
    return q;
  }
  q.scale = (hi - lo) / (float)(q.qmax - q.qmin);
  float zp = (float)q.qmin - lo / q.scale;
  zp = nearbyintf(zp);
  if (zp < (float)q.qmin) zp = (float)q.qmin;
  if (zp > (float)q.qmax) zp = (float)q.qmax;
  q.zero_point = (int32_t)zp;
  return q;
}
