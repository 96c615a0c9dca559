/*
 * elementwise_unary.c - unary math and activation loops. Each float op is written once
 * as an expression in v of compute type CT (type-generic math from <tgmath.h>) and
 * stamped for float and double; float16/bfloat16 convert chunks to float32 on the stack.
 */
#include "kernels/ref/elementwise_unary.h"

#include <tgmath.h>

#include "core/dtype.h"

#define SQRT1_2 0.70710678118654752440
#define SQRT_2_OVER_PI 0.79788456080286535588

/* The parameters are copied so that stores to y cannot alias them: the loops then
 * vectorize (Clip, LeakyRelu, ... read them on every element). */
#define DEFUN(fname, T, YT, EXPR)                                                          \
  static void fname(int64_t n, const void *x_, void *y_, const nn_unary_params *p_) {      \
    const T *x = x_;                                                                       \
    YT *y = y_;                                                                            \
    const nn_unary_params pv = *p_, *const p = &pv;                                        \
    (void)p;                                                                               \
    for (int64_t i = 0; i < n; i++) {                                                      \
      const T v = x[i];                                                                    \
      y[i] = (YT)(EXPR);                                                                   \
    }                                                                                      \
  }

/* min(max(v, lo), hi) without touching NaN; lo > hi gives hi, as ONNX Clip says */
#define CLAMP(v, lo, hi)                                                                   \
  ((v) < (lo) ? ((lo) > (hi) ? (hi) : (lo)) : (v) > (hi) ? (hi) : (v))
/* numerically stable softplus: log(1 + e^v) */
#define SOFTPLUS(v) ((v) > 0 ? (v) + log1p(exp(-(v))) : log1p(exp(v)))
#define ALPHA ((CT)p->alpha)
#define BETA ((CT)p->beta)
#define GAMMA ((CT)p->gamma)

/* (name, expression in v of type CT) */
#define FLOAT_UNOPS(X)                                                                     \
  X(abs, fabs(v))                                                                          \
  X(neg, -v)                                                                               \
  X(sign, v > 0 ? (CT)1 : v < 0 ? (CT)-1 : v)                                              \
  X(relu, v < 0 ? (CT)0 : v)                                                               \
  X(clip, CLAMP(v, (CT)p->lo, (CT)p->hi))                                                  \
  X(sqrt, sqrt(v))                                                                         \
  X(exp, exp(v))                                                                           \
  X(log, log(v))                                                                           \
  X(reciprocal, (CT)1 / v)                                                                 \
  X(floor, floor(v))                                                                       \
  X(ceil, ceil(v))                                                                         \
  X(round, nearbyint(v))                                                                   \
  X(erf, erf(v))                                                                           \
  X(sin, sin(v))                                                                           \
  X(cos, cos(v))                                                                           \
  X(tan, tan(v))                                                                           \
  X(asin, asin(v))                                                                         \
  X(acos, acos(v))                                                                         \
  X(atan, atan(v))                                                                         \
  X(sinh, sinh(v))                                                                         \
  X(cosh, cosh(v))                                                                         \
  X(asinh, asinh(v))                                                                       \
  X(acosh, acosh(v))                                                                       \
  X(atanh, atanh(v))                                                                       \
  X(tanh, tanh(v))                                                                         \
  X(sigmoid, v >= 0 ? (CT)1 / ((CT)1 + exp(-v)) : exp(v) / ((CT)1 + exp(v)))               \
  X(leaky_relu, v < 0 ? ALPHA * v : v)                                                     \
  X(elu, v < 0 ? ALPHA * expm1(v) : v)                                                     \
  X(selu, v > 0 ? GAMMA * v : GAMMA * (ALPHA * exp(v) - ALPHA))                            \
  X(celu, fmax((CT)0, v) + fmin((CT)0, ALPHA * expm1(v / ALPHA)))                          \
  X(thresholded_relu, v > ALPHA ? v : (CT)0)                                               \
  X(hard_sigmoid, fmax((CT)0, fmin((CT)1, ALPHA *v + BETA)))                               \
  X(hard_swish, v *fmax((CT)0, fmin((CT)1, (CT)(1.0 / 6.0) * v + (CT)0.5)))                \
  X(softplus, SOFTPLUS(v))                                                                 \
  X(softsign, v / ((CT)1 + fabs(v)))                                                       \
  X(mish, v *tanh(SOFTPLUS(v)))                                                            \
  X(gelu, (CT)0.5 * v * ((CT)1 + erf(v * (CT)SQRT1_2)))                                    \
  X(gelu_tanh,                                                                             \
    (CT)0.5 * v * ((CT)1 + tanh((CT)SQRT_2_OVER_PI * (v + (CT)0.044715 * v * v * v))))

#define ISINF_EXPR (isinf(v) && (v > 0 ? p->detect_positive : p->detect_negative))

#define CT float
#define DEF_F32(name, EXPR) DEFUN(nn_f32_##name##__ref, float, float, EXPR)
FLOAT_UNOPS(DEF_F32)
DEFUN(nn_f32_isnan__ref, float, uint8_t, isnan(v))
DEFUN(nn_f32_isinf__ref, float, uint8_t, ISINF_EXPR)
#undef CT

#define CT double
#define DEF_F64(name, EXPR) DEFUN(nn_f64_##name##__ref, double, double, EXPR)
FLOAT_UNOPS(DEF_F64)
DEFUN(nn_f64_isnan__ref, double, uint8_t, isnan(v))
DEFUN(nn_f64_isinf__ref, double, uint8_t, ISINF_EXPR)
#undef CT

/* float16 / bfloat16: convert a chunk to float32, run the float32 loop, convert back. */
#define CHUNK 256
static void half_via_f32(nn_unary_fn f32, int bf16, int bool_out, int64_t n, const void *x,
                         void *y, const nn_unary_params *p) {
  const uint16_t *xs = x;
  float buf[CHUNK];
  for (int64_t i0 = 0; i0 < n; i0 += CHUNK) {
    int64_t m = n - i0 < CHUNK ? n - i0 : CHUNK;
    for (int64_t i = 0; i < m; i++)
      buf[i] = bf16 ? nn_bf16_to_f32(xs[i0 + i]) : nn_f16_to_f32(xs[i0 + i]);
    if (bool_out) {
      f32(m, buf, (uint8_t *)y + i0, p);
    } else {
      f32(m, buf, buf, p);
      uint16_t *ys = (uint16_t *)y + i0;
      for (int64_t i = 0; i < m; i++)
        ys[i] = bf16 ? nn_f32_to_bf16(buf[i]) : nn_f32_to_f16(buf[i]);
    }
  }
}

#define DEF_HALF(name, EXPR)                                                               \
  static void nn_f16_##name##__ref(int64_t n, const void *x, void *y,                      \
                                   const nn_unary_params *p) {                             \
    half_via_f32(nn_f32_##name##__ref, 0, 0, n, x, y, p);                                  \
  }                                                                                        \
  static void nn_bf16_##name##__ref(int64_t n, const void *x, void *y,                     \
                                    const nn_unary_params *p) {                            \
    half_via_f32(nn_f32_##name##__ref, 1, 0, n, x, y, p);                                  \
  }
FLOAT_UNOPS(DEF_HALF)
#define DEF_HALF_BOOL(name)                                                                \
  static void nn_f16_##name##__ref(int64_t n, const void *x, void *y,                      \
                                   const nn_unary_params *p) {                             \
    half_via_f32(nn_f32_##name##__ref, 0, 1, n, x, y, p);                                  \
  }                                                                                        \
  static void nn_bf16_##name##__ref(int64_t n, const void *x, void *y,                     \
                                    const nn_unary_params *p) {                            \
    half_via_f32(nn_f32_##name##__ref, 1, 1, n, x, y, p);                                  \
  }
DEF_HALF_BOOL(isnan)
DEF_HALF_BOOL(isinf)

/* Integers: (short name, type, unsigned type used to wrap without UB). */
#define SINT_UN(s, T, UT)                                                                  \
  DEFUN(nn_##s##_abs__ref, T, T, v < 0 ? (T)(0u - (UT)v) : v)                              \
  DEFUN(nn_##s##_neg__ref, T, T, (T)(0u - (UT)v))                                          \
  DEFUN(nn_##s##_sign__ref, T, T, (v > 0) - (v < 0))                                       \
  DEFUN(nn_##s##_relu__ref, T, T, v < 0 ? (T)0 : v)                                        \
  DEFUN(nn_##s##_clip__ref, T, T, CLAMP(v, (T)p->ilo, (T)p->ihi))
SINT_UN(i8, int8_t, uint32_t)
SINT_UN(i16, int16_t, uint32_t)
SINT_UN(i32, int32_t, uint32_t)
SINT_UN(i64, int64_t, uint64_t)

/* integer clip bounds hold the dtype's value (uint64 above INT64_MAX as its bit
 * pattern, so (T)ihi recovers it; -1 is the unsigned maximum) */
#define UINT_UN(s, T)                                                                      \
  DEFUN(nn_##s##_abs__ref, T, T, v)                                                        \
  DEFUN(nn_##s##_sign__ref, T, T, v > 0)                                                   \
  DEFUN(nn_##s##_relu__ref, T, T, v)                                                       \
  DEFUN(nn_##s##_clip__ref, T, T, CLAMP(v, (T)p->ilo, (T)p->ihi))
UINT_UN(u8, uint8_t)
UINT_UN(u16, uint16_t)
UINT_UN(u32, uint32_t)
UINT_UN(u64, uint64_t)

DEFUN(nn_b8_not__ref, uint8_t, uint8_t, !v)

/* ---- lookup ---- */

#define FLOAT_ROW(s)                                                                       \
  [NN_UN_ABS] = nn_##s##_abs__ref, [NN_UN_NEG] = nn_##s##_neg__ref,                        \
  [NN_UN_SIGN] = nn_##s##_sign__ref, [NN_UN_RELU] = nn_##s##_relu__ref,                    \
  [NN_UN_CLIP] = nn_##s##_clip__ref, [NN_UN_SQRT] = nn_##s##_sqrt__ref,                    \
  [NN_UN_EXP] = nn_##s##_exp__ref, [NN_UN_LOG] = nn_##s##_log__ref,                        \
  [NN_UN_RECIPROCAL] = nn_##s##_reciprocal__ref, [NN_UN_FLOOR] = nn_##s##_floor__ref,      \
  [NN_UN_CEIL] = nn_##s##_ceil__ref, [NN_UN_ROUND] = nn_##s##_round__ref,                  \
  [NN_UN_ERF] = nn_##s##_erf__ref, [NN_UN_SIN] = nn_##s##_sin__ref,                        \
  [NN_UN_COS] = nn_##s##_cos__ref, [NN_UN_TAN] = nn_##s##_tan__ref,                        \
  [NN_UN_ASIN] = nn_##s##_asin__ref, [NN_UN_ACOS] = nn_##s##_acos__ref,                    \
  [NN_UN_ATAN] = nn_##s##_atan__ref, [NN_UN_SINH] = nn_##s##_sinh__ref,                    \
  [NN_UN_COSH] = nn_##s##_cosh__ref, [NN_UN_ASINH] = nn_##s##_asinh__ref,                  \
  [NN_UN_ACOSH] = nn_##s##_acosh__ref, [NN_UN_ATANH] = nn_##s##_atanh__ref,                \
  [NN_UN_TANH] = nn_##s##_tanh__ref, [NN_UN_SIGMOID] = nn_##s##_sigmoid__ref,              \
  [NN_UN_LEAKY_RELU] = nn_##s##_leaky_relu__ref, [NN_UN_ELU] = nn_##s##_elu__ref,          \
  [NN_UN_SELU] = nn_##s##_selu__ref, [NN_UN_CELU] = nn_##s##_celu__ref,                    \
  [NN_UN_THRESHOLDED_RELU] = nn_##s##_thresholded_relu__ref,                               \
  [NN_UN_HARD_SIGMOID] = nn_##s##_hard_sigmoid__ref,                                       \
  [NN_UN_HARD_SWISH] = nn_##s##_hard_swish__ref,                                           \
  [NN_UN_SOFTPLUS] = nn_##s##_softplus__ref, [NN_UN_SOFTSIGN] = nn_##s##_softsign__ref,    \
  [NN_UN_MISH] = nn_##s##_mish__ref, [NN_UN_GELU] = nn_##s##_gelu__ref,                    \
  [NN_UN_GELU_TANH] = nn_##s##_gelu_tanh__ref, [NN_UN_ISNAN] = nn_##s##_isnan__ref,        \
  [NN_UN_ISINF] = nn_##s##_isinf__ref

#define SINT_ROW(s)                                                                        \
  [NN_UN_ABS] = nn_##s##_abs__ref, [NN_UN_NEG] = nn_##s##_neg__ref,                        \
  [NN_UN_SIGN] = nn_##s##_sign__ref, [NN_UN_RELU] = nn_##s##_relu__ref,                    \
  [NN_UN_CLIP] = nn_##s##_clip__ref
#define UINT_ROW(s)                                                                        \
  [NN_UN_ABS] = nn_##s##_abs__ref, [NN_UN_SIGN] = nn_##s##_sign__ref,                      \
  [NN_UN_RELU] = nn_##s##_relu__ref, [NN_UN_CLIP] = nn_##s##_clip__ref

static const nn_unary_fn g_un[NN_DTYPE_COUNT][NN_UN_COUNT] = {
    [NN_FLOAT] = {FLOAT_ROW(f32)},
    [NN_DOUBLE] = {FLOAT_ROW(f64)},
    [NN_FLOAT16] = {FLOAT_ROW(f16)},
    [NN_BFLOAT16] = {FLOAT_ROW(bf16)},
    [NN_INT8] = {SINT_ROW(i8)},
    [NN_INT16] = {SINT_ROW(i16)},
    [NN_INT32] = {SINT_ROW(i32)},
    [NN_INT64] = {SINT_ROW(i64)},
    [NN_UINT8] = {UINT_ROW(u8)},
    [NN_UINT16] = {UINT_ROW(u16)},
    [NN_UINT32] = {UINT_ROW(u32)},
    [NN_UINT64] = {UINT_ROW(u64)},
    [NN_BOOL] = {[NN_UN_NOT] = nn_b8_not__ref},
};

nn_unary_fn nn_unary_lookup__ref(nn_unop op, nn_dtype dt) {
  if (!nn_dtype_valid((int)dt) || (int)op < 0 || op >= NN_UN_COUNT) return NULL;
  return g_un[dt][op];
}
