/*
 * elementwise_unary.h - reference kernels of unary elementwise ops (math functions and
 * activations), one inner loop per (dtype, op) named nn_<dtype>_<op>__ref, reached
 * through nn_unary_lookup__ref. float16/bfloat16 run the float32 loop on chunks.
 */
#ifndef NN_KERNELS_REF_ELEMENTWISE_UNARY_H
#define NN_KERNELS_REF_ELEMENTWISE_UNARY_H

#include <stdint.h>

#include "nnopt.h"

typedef enum nn_unop {
  NN_UN_ABS,
  NN_UN_NEG,
  NN_UN_SIGN,
  NN_UN_RELU,
  NN_UN_CLIP, /* min(max(x, lo), hi) (so lo > hi gives hi); NaN passes through */
  NN_UN_SQRT,
  NN_UN_EXP,
  NN_UN_LOG,
  NN_UN_RECIPROCAL,
  NN_UN_FLOOR,
  NN_UN_CEIL,
  NN_UN_ROUND, /* half to even */
  NN_UN_ERF,
  NN_UN_SIN,
  NN_UN_COS,
  NN_UN_TAN,
  NN_UN_ASIN,
  NN_UN_ACOS,
  NN_UN_ATAN,
  NN_UN_SINH,
  NN_UN_COSH,
  NN_UN_ASINH,
  NN_UN_ACOSH,
  NN_UN_ATANH,
  NN_UN_TANH,
  NN_UN_SIGMOID,
  NN_UN_LEAKY_RELU,       /* alpha */
  NN_UN_ELU,              /* alpha */
  NN_UN_SELU,             /* alpha, gamma */
  NN_UN_CELU,             /* alpha */
  NN_UN_THRESHOLDED_RELU, /* alpha */
  NN_UN_HARD_SIGMOID,     /* alpha, beta */
  NN_UN_HARD_SWISH,
  NN_UN_SOFTPLUS,
  NN_UN_SOFTSIGN,
  NN_UN_MISH,
  NN_UN_GELU,      /* 0.5 x (1 + erf(x / sqrt 2)) */
  NN_UN_GELU_TANH, /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
  NN_UN_NOT,       /* bool -> bool */
  NN_UN_ISNAN,     /* float -> bool */
  NN_UN_ISINF,     /* float -> bool; detect_negative / detect_positive */
  NN_UN_COUNT
} nn_unop;

typedef struct nn_unary_params {
  float alpha, beta, gamma;
  double lo, hi; /* Clip bounds for float types */
  /* Clip bounds for integer types, as the dtype's value cast to int64 (cast back to
   * the dtype in the kernel, so -1 is the maximum of an unsigned type) */
  int64_t ilo, ihi;
  int detect_negative, detect_positive;
} nn_unary_params;

/* y[i] = op(x[i]) for n elements; y may alias x. */
typedef void (*nn_unary_fn)(int64_t n, const void *x, void *y, const nn_unary_params *p);

/* Inner loop for op on dtype dt, or NULL when unsupported. */
nn_unary_fn nn_unary_lookup__ref(nn_unop op, nn_dtype dt);

#endif
