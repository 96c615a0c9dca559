/*
 * dtype.h - one table of data-type traits, used everywhere instead of switches.
 * Generic element access goes through to_f64/from_f64 (and to_i64/from_i64 for exact
 * integer handling); kernels that care about speed use typed code instead.
 */
#ifndef NN_CORE_DTYPE_H
#define NN_CORE_DTYPE_H

#include <stdint.h>
#include <string.h>

#include "nnopt.h"

typedef struct nn_dtype_traits {
  const char *name;  /* "float32", "int8", ... */
  const char *numpy; /* numpy descr without byte order: "f4", "i1", "b1"; NULL if none */
  size_t size;       /* bytes per element */
  unsigned is_float : 1, is_signed : 1, is_integer : 1, is_numeric : 1;
  double (*to_f64)(const void *p);
  void (*from_f64)(void *p, double v); /* rounds/saturates like a C cast for ints */
  int64_t (*to_i64)(const void *p);
  void (*from_i64)(void *p, int64_t v);
} nn_dtype_traits;

/* Traits for t, or NULL for an unknown/unsupported code (complex, undefined). */
const nn_dtype_traits *nn_dtype_traits_of(nn_dtype t);

static inline int nn_dtype_valid(int t) { return t > 0 && t < NN_DTYPE_COUNT; }

/* IEEE half and bfloat16 conversions (round to nearest even). */
float nn_f16_to_f32(uint16_t h);
uint16_t nn_f32_to_f16(float f);
float nn_bf16_to_f32(uint16_t h);
uint16_t nn_f32_to_bf16(float f);

#endif
