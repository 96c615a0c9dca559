/*
 * elementwise_cast.c - typed Cast loops for every pair of native C types (stamped by
 * two X-macro lists), and float16/bfloat16 through float32/double chunks on the stack.
 */
#include "kernels/ref/elementwise_cast.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"

/* float -> integer: truncate, saturate, NaN -> 0 */
#define SAT(T, lo, hi)                                                                     \
  static inline T sat_##T(double v) {                                                      \
    if (v != v) return 0;                                                                  \
    if (v <= (double)(lo)) return (T)(lo);                                                 \
    if (v >= (double)(hi)) return (T)(hi);                                                 \
    return (T)v;                                                                           \
  }
SAT(int8_t, INT8_MIN, INT8_MAX)
SAT(int16_t, INT16_MIN, INT16_MAX)
SAT(int32_t, INT32_MIN, INT32_MAX)
SAT(int64_t, INT64_MIN, INT64_MAX)
SAT(uint8_t, 0, UINT8_MAX)
SAT(uint16_t, 0, UINT16_MAX)
SAT(uint32_t, 0, UINT32_MAX)
SAT(uint64_t, 0, UINT64_MAX)

/* conversion by (source kind, destination kind): F float, I integer, B bool */
#define CONV_FF(D, v) ((D)(v))
#define CONV_FI(D, v) sat_##D((double)(v))
#define CONV_FB(D, v) ((D)((v) != 0))
#define CONV_IF(D, v) ((D)(v))
#define CONV_II(D, v) ((D)(v))
#define CONV_IB(D, v) ((D)((v) != 0))
#define CONV_BF(D, v) ((D)((v) != 0))
#define CONV_BI(D, v) ((D)((v) != 0))
#define CONV_BB(D, v) ((D)((v) != 0))

#define CAST_LOOP(s, S, SK, d, D, DK)                                                      \
  static void cast_##s##_##d(int64_t n, const void *x_, void *y_) {                        \
    const S *x = x_;                                                                       \
    D *y = y_;                                                                             \
    for (int64_t i = 0; i < n; i++) y[i] = CONV_##SK##DK(D, x[i]);                         \
  }

#define DST_TYPES(X, s, S, SK)                                                             \
  X(s, S, SK, f32, float, F)                                                               \
  X(s, S, SK, f64, double, F)                                                              \
  X(s, S, SK, i8, int8_t, I)                                                               \
  X(s, S, SK, i16, int16_t, I)                                                             \
  X(s, S, SK, i32, int32_t, I)                                                             \
  X(s, S, SK, i64, int64_t, I)                                                             \
  X(s, S, SK, u8, uint8_t, I)                                                              \
  X(s, S, SK, u16, uint16_t, I)                                                            \
  X(s, S, SK, u32, uint32_t, I)                                                            \
  X(s, S, SK, u64, uint64_t, I)                                                            \
  X(s, S, SK, b8, uint8_t, B)
#define SRC_TYPES(X)                                                                       \
  X(f32, float, F)                                                                         \
  X(f64, double, F)                                                                        \
  X(i8, int8_t, I)                                                                         \
  X(i16, int16_t, I)                                                                       \
  X(i32, int32_t, I)                                                                       \
  X(i64, int64_t, I)                                                                       \
  X(u8, uint8_t, I)                                                                        \
  X(u16, uint16_t, I)                                                                      \
  X(u32, uint32_t, I)                                                                      \
  X(u64, uint64_t, I)                                                                      \
  X(b8, uint8_t, B)

#define STAMP_SRC(s, S, SK) DST_TYPES(CAST_LOOP, s, S, SK)
SRC_TYPES(STAMP_SRC)

typedef void (*cast_fn)(int64_t n, const void *x, void *y);

#define ROW_ENTRY(s, S, SK, d, D, DK) [DT_##d] = cast_##s##_##d,
#define DT_f32 NN_FLOAT
#define DT_f64 NN_DOUBLE
#define DT_i8 NN_INT8
#define DT_i16 NN_INT16
#define DT_i32 NN_INT32
#define DT_i64 NN_INT64
#define DT_u8 NN_UINT8
#define DT_u16 NN_UINT16
#define DT_u32 NN_UINT32
#define DT_u64 NN_UINT64
#define DT_b8 NN_BOOL
#define ROW(s, S, SK) [DT_##s] = {DST_TYPES(ROW_ENTRY, s, S, SK)},

static const cast_fn g_cast[NN_DTYPE_COUNT][NN_DTYPE_COUNT] = {SRC_TYPES(ROW)};

/* ---- 16-bit floats ---- */

/*
 * double -> float rounded to odd (truncate, then set the last bit if inexact): a
 * second rounding of that float to a format with <= 22 mantissa bits is then exact
 * round-to-nearest-even of the original double.
 */
static float f64_to_f32_odd(double d) {
  float f = (float)d;
  if (!isfinite(d) || (double)f == d || !isfinite(f)) return f;
  uint32_t b;
  memcpy(&b, &f, 4);
  if (fabs((double)f) > fabs(d)) b -= 1; /* rounded away from zero: step back */
  b |= 1;
  memcpy(&f, &b, 4);
  return f;
}

uint16_t nn_f64_to_f16__ref(double d) { return nn_f32_to_f16(f64_to_f32_odd(d)); }
uint16_t nn_f64_to_bf16__ref(double d) { return nn_f32_to_bf16(f64_to_f32_odd(d)); }

static int is_half(nn_dtype t) { return t == NN_FLOAT16 || t == NN_BFLOAT16; }
static int is_native(nn_dtype t) {
  return nn_dtype_valid((int)t) && g_cast[t][NN_FLOAT] != NULL;
}

int nn_cast_supported__ref(nn_dtype from, nn_dtype to) {
  return (is_native(from) || is_half(from)) && (is_native(to) || is_half(to));
}

#define CHUNK 256

int nn_cast__ref(int64_t n, const void *x, nn_dtype from, void *y, nn_dtype to) {
  if (!nn_cast_supported__ref(from, to)) return -1;
  if (from == to) {
    if (x != y) memcpy(y, x, (size_t)n * nn_dtype_size(from));
    return 0;
  }
  if (is_native(from) && is_native(to)) {
    g_cast[from][to](n, x, y);
    return 0;
  }
  size_t xs = nn_dtype_size(from), ys = nn_dtype_size(to);
  const char *xc = x;
  char *yc = y;
  if (is_half(from)) { /* half -> float chunk -> destination */
    float buf[CHUNK];
    for (int64_t i0 = 0; i0 < n; i0 += CHUNK) {
      int64_t m = n - i0 < CHUNK ? n - i0 : CHUNK;
      const uint16_t *h = (const uint16_t *)(xc + (size_t)i0 * xs);
      for (int64_t i = 0; i < m; i++)
        buf[i] = from == NN_FLOAT16 ? nn_f16_to_f32(h[i]) : nn_bf16_to_f32(h[i]);
      void *dst = yc + (size_t)i0 * ys;
      if (is_half(to)) {
        uint16_t *o = dst;
        for (int64_t i = 0; i < m; i++)
          o[i] = to == NN_FLOAT16 ? nn_f32_to_f16(buf[i]) : nn_f32_to_bf16(buf[i]);
      } else {
        g_cast[NN_FLOAT][to](m, buf, dst);
      }
    }
    return 0;
  }
  /* native -> half: float32 converts directly, others go through double */
  uint16_t *o = y;
  int f16 = to == NN_FLOAT16;
  if (from == NN_FLOAT) {
    const float *f = x;
    for (int64_t i = 0; i < n; i++) o[i] = f16 ? nn_f32_to_f16(f[i]) : nn_f32_to_bf16(f[i]);
    return 0;
  }
  double buf[CHUNK];
  for (int64_t i0 = 0; i0 < n; i0 += CHUNK) {
    int64_t m = n - i0 < CHUNK ? n - i0 : CHUNK;
    g_cast[from][NN_DOUBLE](m, xc + (size_t)i0 * xs, buf);
    for (int64_t i = 0; i < m; i++)
      o[i0 + i] = f16 ? nn_f64_to_f16__ref(buf[i]) : nn_f64_to_bf16__ref(buf[i]);
  }
  return 0;
}

/* ---- strings ---- */

/* Shortest "%.*e" digits of v that read back exactly (as float when is_f32). */
static void shortest_e(double v, int is_f32, char *out, size_t cap) {
  for (int p = 0; p < 17; p++) {
    snprintf(out, cap, "%.*e", p, v);
    if (is_f32 ? strtof(out, NULL) == (float)v : strtod(out, NULL) == v) return;
  }
  snprintf(out, cap, "%.17e", v);
}

static int format_float(double v, int is_f32, char *buf, size_t cap) {
  if (isnan(v)) return snprintf(buf, cap, "nan");
  if (isinf(v)) return snprintf(buf, cap, v < 0 ? "-inf" : "inf");
  char e[64], digits[32];
  shortest_e(v, is_f32, e, sizeof e);
  /* e is [-]D[.DDD]e[+-]XX: collect the digits and the decimal exponent */
  const char *q = e;
  int neg = *q == '-', nd = 0;
  if (neg) q++;
  for (; *q && *q != 'e'; q++)
    if (*q >= '0' && *q <= '9') digits[nd++] = *q;
  int exp10 = atoi(q + 1);
  while (nd > 1 && digits[nd - 1] == '0') nd--; /* trailing zeros carry nothing */
  digits[nd] = 0;
  double a = fabs(v);
  size_t n = 0;
#define PUT(c)                                                                             \
  do {                                                                                     \
    if (n + 1 < cap) buf[n] = (c);                                                         \
    n++;                                                                                   \
  } while (0)
  if (neg) PUT('-');
  if (a == 0 || (a >= 1e-4 && a < 1e16)) {
    if (exp10 < 0) { /* 0.000ddd */
      PUT('0');
      PUT('.');
      for (int k = 0; k < -exp10 - 1; k++) PUT('0');
      for (int k = 0; k < nd; k++) PUT(digits[k]);
    } else { /* ddd[.ddd], at least one digit after the point */
      for (int k = 0; k <= exp10; k++) PUT(k < nd ? digits[k] : '0');
      PUT('.');
      if (nd <= exp10 + 1) PUT('0');
      for (int k = exp10 + 1; k < nd; k++) PUT(digits[k]);
    }
  } else {
    PUT(digits[0]);
    if (nd > 1) {
      PUT('.');
      for (int k = 1; k < nd; k++) PUT(digits[k]);
    }
    char ex[16];
    snprintf(ex, sizeof ex, "e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
    for (char *c = ex; *c; c++) PUT(*c);
  }
#undef PUT
  if (cap) buf[n < cap ? n : cap - 1] = 0;
  return (int)n;
}

int nn_cast_format__ref(const void *x, nn_dtype from, int64_t i, char *buf, size_t cap) {
  const nn_dtype_traits *t = nn_dtype_traits_of(from);
  if (!t || !t->to_f64 || from == NN_STRING) return -1;
  const void *p = (const char *)x + (size_t)i * t->size;
  if (from == NN_BOOL)
    return snprintf(buf, cap, "%s", *(const uint8_t *)p ? "True" : "False");
  if (t->is_integer) {
    if (!t->is_signed && t->size == 8)
      return snprintf(buf, cap, "%llu", (unsigned long long)*(const uint64_t *)p);
    return snprintf(buf, cap, "%lld", (long long)t->to_i64(p));
  }
  return format_float(t->to_f64(p), from != NN_DOUBLE, buf, cap);
}

int nn_cast_parse__ref(const char *s, size_t len, void *y, nn_dtype to, int64_t i) {
  const nn_dtype_traits *t = nn_dtype_traits_of(to);
  if (!t || !t->from_f64 || to == NN_STRING) return -1;
  char tmp[128];
  if (len >= sizeof tmp) len = sizeof tmp - 1;
  memcpy(tmp, s, len);
  tmp[len] = 0;
  char *end;
  void *p = (char *)y + (size_t)i * t->size;
  if (to == NN_FLOAT) { /* strtof rounds once, straight to float */
    float f = strtof(tmp, &end);
    memcpy(p, &f, 4);
  } else if (t->is_integer && to != NN_BOOL) {
    long long v = strtoll(tmp, &end, 10);
    if (end == tmp || *end) { /* "1.5", "1e3": go through double */
      double d = strtod(tmp, &end);
      t->from_f64(p, d);
    } else {
      t->from_i64(p, v);
    }
  } else {
    double d = strtod(tmp, &end);
    if (to == NN_FLOAT16) {
      uint16_t h = nn_f64_to_f16__ref(d);
      memcpy(p, &h, 2);
    } else if (to == NN_BFLOAT16) {
      uint16_t h = nn_f64_to_bf16__ref(d);
      memcpy(p, &h, 2);
    } else {
      t->from_f64(p, d);
    }
  }
  return end == tmp ? -1 : 0;
}
