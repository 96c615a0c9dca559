/*
 * dtype.c - the data-type traits table and half-precision conversions.
 */
#include "core/dtype.h"

#include <math.h>

float nn_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else { /* subnormal: normalize */
      exp = 127 - 15 + 1;
      while (!(man & 0x400)) {
        man <<= 1;
        exp--;
      }
      man &= 0x3ff;
      bits = sign | (exp << 23) | (man << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (man << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
  }
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

uint16_t nn_f32_to_f16(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000;
  uint32_t absx = x & 0x7fffffffu;
  if (absx >= 0x7f800000u) /* inf or nan */
    return (uint16_t)(sign | 0x7c00 | (absx > 0x7f800000u ? 0x200 | ((absx >> 13) & 0x3ff) : 0));
  if (absx >= 0x477ff000u) /* rounds to >= 65520: overflow to inf */
    return (uint16_t)(sign | 0x7c00);
  if (absx < 0x38800000u) { /* below smallest normal half: subnormal or zero */
    if (absx < 0x33000000u) return (uint16_t)sign; /* < 2^-25 rounds to 0 */
    uint32_t e = absx >> 23, m = (absx & 0x7fffff) | 0x800000;
    uint32_t shift = 126 - e; /* 14..24 */
    uint32_t half = m >> shift, rem = m & ((1u << shift) - 1), mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1))) half++;
    return (uint16_t)(sign | half);
  }
  uint32_t r = absx - 0x38000000u; /* rebias exponent 127 -> 15 */
  uint32_t half = r >> 13, rem = r & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) half++;
  return (uint16_t)(sign | half);
}

float nn_bf16_to_f32(uint16_t h) {
  uint32_t bits = (uint32_t)h << 16;
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

uint16_t nn_f32_to_bf16(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40); /* quiet nan */
  uint32_t lsb = (x >> 16) & 1;
  x += 0x7fff + lsb;
  return (uint16_t)(x >> 16);
}

/* Saturating double -> integer conversion: NaN -> 0, out of range clamps. */
#define SAT(T, lo, hi)                                                                 \
  static T sat_##T(double v) {                                                        \
    if (v != v) return 0;                                                              \
    if (v <= (double)(lo)) return (T)(lo);                                             \
    if (v >= (double)(hi)) return (T)(hi);                                             \
    return (T)v;                                                                       \
  }
SAT(int8_t, INT8_MIN, INT8_MAX)
SAT(uint8_t, 0, UINT8_MAX)
SAT(int16_t, INT16_MIN, INT16_MAX)
SAT(uint16_t, 0, UINT16_MAX)
SAT(int32_t, INT32_MIN, INT32_MAX)
SAT(uint32_t, 0, UINT32_MAX)
SAT(int64_t, INT64_MIN, INT64_MAX)
SAT(uint64_t, 0, UINT64_MAX)

#define INT_TRAITS(T)                                                                  \
  static double T##_to_f64(const void *p) {                                            \
    T v;                                                                               \
    memcpy(&v, p, sizeof v);                                                           \
    return (double)v;                                                                  \
  }                                                                                    \
  static void T##_from_f64(void *p, double d) {                                        \
    T v = sat_##T(d);                                                                  \
    memcpy(p, &v, sizeof v);                                                           \
  }                                                                                    \
  static int64_t T##_to_i64(const void *p) {                                           \
    T v;                                                                               \
    memcpy(&v, p, sizeof v);                                                           \
    return (int64_t)v;                                                                 \
  }                                                                                    \
  static void T##_from_i64(void *p, int64_t i) {                                       \
    T v = (T)i; /* wraps like a C cast, as ONNX Cast between ints does */              \
    memcpy(p, &v, sizeof v);                                                           \
  }
INT_TRAITS(int8_t)
INT_TRAITS(uint8_t)
INT_TRAITS(int16_t)
INT_TRAITS(uint16_t)
INT_TRAITS(int32_t)
INT_TRAITS(uint32_t)
INT_TRAITS(int64_t)
INT_TRAITS(uint64_t)

static double f32_to_f64(const void *p) {
  float v;
  memcpy(&v, p, 4);
  return v;
}
static void f32_from_f64(void *p, double d) {
  float v = (float)d;
  memcpy(p, &v, 4);
}
static double f64_to_f64(const void *p) {
  double v;
  memcpy(&v, p, 8);
  return v;
}
static void f64_from_f64(void *p, double d) { memcpy(p, &d, 8); }
static double f16_to_f64(const void *p) {
  uint16_t v;
  memcpy(&v, p, 2);
  return nn_f16_to_f32(v);
}
static void f16_from_f64(void *p, double d) {
  uint16_t v = nn_f32_to_f16((float)d);
  memcpy(p, &v, 2);
}
static double bf16_to_f64(const void *p) {
  uint16_t v;
  memcpy(&v, p, 2);
  return nn_bf16_to_f32(v);
}
static void bf16_from_f64(void *p, double d) {
  uint16_t v = nn_f32_to_bf16((float)d);
  memcpy(p, &v, 2);
}
static double bool_to_f64(const void *p) { return *(const uint8_t *)p ? 1.0 : 0.0; }
static void bool_from_f64(void *p, double d) { *(uint8_t *)p = d != 0.0; }
static int64_t bool_to_i64(const void *p) { return *(const uint8_t *)p ? 1 : 0; }
static void bool_from_i64(void *p, int64_t v) { *(uint8_t *)p = v != 0; }
static int64_t flt_to_i64(double d) { return sat_int64_t(d); }
static int64_t f32_to_i64(const void *p) { return flt_to_i64(f32_to_f64(p)); }
static int64_t f64_to_i64(const void *p) { return flt_to_i64(f64_to_f64(p)); }
static int64_t f16_to_i64(const void *p) { return flt_to_i64(f16_to_f64(p)); }
static int64_t bf16_to_i64(const void *p) { return flt_to_i64(bf16_to_f64(p)); }
static void f32_from_i64(void *p, int64_t v) { f32_from_f64(p, (double)v); }
static void f64_from_i64(void *p, int64_t v) { f64_from_f64(p, (double)v); }
static void f16_from_i64(void *p, int64_t v) { f16_from_f64(p, (double)v); }
static void bf16_from_i64(void *p, int64_t v) { bf16_from_f64(p, (double)v); }

#define I(T, nm, np, sgn)                                                              \
  {nm, np, sizeof(T), 0, sgn, 1, 1, T##_to_f64, T##_from_f64, T##_to_i64, T##_from_i64}

static const nn_dtype_traits g_traits[NN_DTYPE_COUNT] = {
    [NN_FLOAT] = {"float32", "f4", 4, 1, 1, 0, 1, f32_to_f64, f32_from_f64, f32_to_i64,
                  f32_from_i64},
    [NN_UINT8] = I(uint8_t, "uint8", "u1", 0),
    [NN_INT8] = I(int8_t, "int8", "i1", 1),
    [NN_UINT16] = I(uint16_t, "uint16", "u2", 0),
    [NN_INT16] = I(int16_t, "int16", "i2", 1),
    [NN_INT32] = I(int32_t, "int32", "i4", 1),
    [NN_INT64] = I(int64_t, "int64", "i8", 1),
    [NN_STRING] = {"string", NULL, sizeof(nn_bytes), 0, 0, 0, 0, NULL, NULL, NULL, NULL},
    [NN_BOOL] = {"bool", "b1", 1, 0, 0, 0, 1, bool_to_f64, bool_from_f64, bool_to_i64,
                 bool_from_i64},
    [NN_FLOAT16] = {"float16", "f2", 2, 1, 1, 0, 1, f16_to_f64, f16_from_f64, f16_to_i64,
                    f16_from_i64},
    [NN_DOUBLE] = {"float64", "f8", 8, 1, 1, 0, 1, f64_to_f64, f64_from_f64, f64_to_i64,
                   f64_from_i64},
    [NN_UINT32] = I(uint32_t, "uint32", "u4", 0),
    [NN_UINT64] = I(uint64_t, "uint64", "u8", 0),
    [NN_COMPLEX64] = {"complex64", "c8", 8, 0, 1, 0, 0, NULL, NULL, NULL, NULL},
    [NN_COMPLEX128] = {"complex128", "c16", 16, 0, 1, 0, 0, NULL, NULL, NULL, NULL},
    [NN_BFLOAT16] = {"bfloat16", NULL, 2, 1, 1, 0, 1, bf16_to_f64, bf16_from_f64,
                     bf16_to_i64, bf16_from_i64},
};

const nn_dtype_traits *nn_dtype_traits_of(nn_dtype t) {
  if (!nn_dtype_valid((int)t)) return NULL;
  return &g_traits[t];
}

const char *nn_dtype_name(nn_dtype t) {
  const nn_dtype_traits *tr = nn_dtype_traits_of(t);
  return tr ? tr->name : "undefined";
}

size_t nn_dtype_size(nn_dtype t) {
  const nn_dtype_traits *tr = nn_dtype_traits_of(t);
  return tr ? tr->size : 0;
}
