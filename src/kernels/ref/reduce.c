/*
 * reduce.c - reductions over a collapsed [kept/reduced ...] layout. When the innermost
 * collapsed axis is reduced, each output element sums contiguous runs; when it is kept,
 * a chunk of adjacent outputs accumulates on the stack while whole rows stream in. No
 * case reads memory against the grain, and nothing is allocated.
 */
#include "kernels/ref/reduce.h"

#include <math.h>
#include <string.h>

#include "core/dtype.h"
#include "kernels/ref/elementwise_cast.h"

#define CHUNK 256
#define ID_LD(v) (v)

void nn_reduce_plan_init(nn_reduce_plan *p, int ndim, const int64_t *dims,
                         const unsigned char *reduce_mask) {
  memset(p, 0, sizeof *p);
  int n = 0;
  for (int i = 0; i < ndim; i++) {
    if (dims[i] == 1) continue;
    unsigned char r = reduce_mask[i] != 0;
    if (n > 0 && p->reduced[n - 1] == r) {
      p->dims[n - 1] *= dims[i];
    } else {
      p->dims[n] = dims[i];
      p->reduced[n] = r;
      n++;
    }
  }
  if (n == 0) {
    p->dims[0] = 1;
    n = 1;
  }
  p->ndim = n;
  int64_t s = 1;
  p->count = p->out_n = 1;
  for (int i = n - 1; i >= 0; i--) {
    p->strides[i] = s;
    s *= p->dims[i];
    if (p->reduced[i])
      p->count *= p->dims[i];
    else
      p->out_n *= p->dims[i];
  }
}

/* Odometer over a subset of axes, tracking the element offset. */
typedef struct odo {
  int n;
  int64_t dims[NN_MAX_DIMS], strides[NN_MAX_DIMS], idx[NN_MAX_DIMS];
  int64_t off, total;
} odo;

static void odo_reset(odo *o) {
  memset(o->idx, 0, sizeof o->idx);
  o->off = 0;
}
static inline void odo_next(odo *o) {
  for (int k = o->n - 1; k >= 0; k--) {
    o->off += o->strides[k];
    if (++o->idx[k] < o->dims[k]) return;
    o->off -= o->strides[k] * o->dims[k];
    o->idx[k] = 0;
  }
}

/* Split the outer axes (all but the innermost) into kept and reduced odometers. */
static void split_axes(const nn_reduce_plan *p, odo *kept, odo *red) {
  kept->n = red->n = 0;
  kept->total = red->total = 1;
  for (int i = 0; i < p->ndim - 1; i++) {
    odo *o = p->reduced[i] ? red : kept;
    o->dims[o->n] = p->dims[i];
    o->strides[o->n] = p->strides[i];
    o->total *= p->dims[i];
    o->n++;
  }
  odo_reset(kept);
  odo_reset(red);
}

static int finalizes_in_double(nn_reduce_op op) {
  return op == NN_RED_MEAN || op == NN_RED_L2 || op == NN_RED_LOGSUM;
}

/*
 * One reduction kernel. T element type, ACC accumulator (double or int64), LD loads
 * T as ACC, ADDF/MULF combine without UB, ABSF is |v|, ISNAN tests NaN, ST_ACC/ST_DBL
 * store an ACC/double result as T, LO/HI start values of max/min.
 */
#define REDUCE_KERNEL(fname, T, ACC, LD, ADDF, MULF, ABSF, ISNAN, ST_ACC, ST_DBL, LO, HI)  \
  static inline ACC fname##_init(nn_reduce_op op) {                                        \
    return op == NN_RED_PROD  ? (ACC)1                                                     \
           : op == NN_RED_MAX ? LO                                                         \
           : op == NN_RED_MIN ? HI                                                         \
                              : (ACC)0;                                                    \
  }                                                                                        \
  static inline T fname##_fin(nn_reduce_op op, ACC a, int64_t count) {                     \
    if (!finalizes_in_double(op)) return ST_ACC(a);                                        \
    double d = (double)a;                                                                  \
    return ST_DBL(op == NN_RED_MEAN ? d / (double)count                                    \
                  : op == NN_RED_L2 ? sqrt(d)                                              \
                                    : log(d));                                             \
  }                                                                                        \
  /* acc[j] (j < w) combined with rows xp[j] for one run */                                \
  static inline void fname##_run(nn_reduce_op op, ACC *acc, int64_t w, int64_t step,       \
                                 const T *xp) {                                            \
    /* step 0: one accumulator over w contiguous values; 1: w accumulators */              \
    ACC a = acc[0];                                                                        \
    switch (op) {                                                                          \
    case NN_RED_SUM:                                                                       \
    case NN_RED_MEAN:                                                                      \
    case NN_RED_LOGSUM:                                                                    \
      if (step)                                                                            \
        for (int64_t j = 0; j < w; j++) acc[j] = ADDF(acc[j], LD(xp[j]));                  \
      else                                                                                 \
        for (int64_t j = 0; j < w; j++) a = ADDF(a, LD(xp[j]));                            \
      break;                                                                               \
    case NN_RED_SUMSQ:                                                                     \
    case NN_RED_L2:                                                                        \
      if (step)                                                                            \
        for (int64_t j = 0; j < w; j++) {                                                  \
          ACC v = LD(xp[j]);                                                               \
          acc[j] = ADDF(acc[j], MULF(v, v));                                               \
        }                                                                                  \
      else                                                                                 \
        for (int64_t j = 0; j < w; j++) {                                                  \
          ACC v = LD(xp[j]);                                                               \
          a = ADDF(a, MULF(v, v));                                                         \
        }                                                                                  \
      break;                                                                               \
    case NN_RED_L1:                                                                        \
      if (step)                                                                            \
        for (int64_t j = 0; j < w; j++) acc[j] = ADDF(acc[j], ABSF(LD(xp[j])));            \
      else                                                                                 \
        for (int64_t j = 0; j < w; j++) a = ADDF(a, ABSF(LD(xp[j])));                      \
      break;                                                                               \
    case NN_RED_PROD:                                                                      \
      if (step)                                                                            \
        for (int64_t j = 0; j < w; j++) acc[j] = MULF(acc[j], LD(xp[j]));                  \
      else                                                                                 \
        for (int64_t j = 0; j < w; j++) a = MULF(a, LD(xp[j]));                            \
      break;                                                                               \
    case NN_RED_MAX:                                                                       \
      if (step)                                                                            \
        for (int64_t j = 0; j < w; j++) {                                                  \
          ACC v = LD(xp[j]);                                                               \
          if (v > acc[j] || ISNAN(v)) acc[j] = v;                                          \
        }                                                                                  \
      else                                                                                 \
        for (int64_t j = 0; j < w; j++) {                                                  \
          ACC v = LD(xp[j]);                                                               \
          if (v > a || ISNAN(v)) a = v;                                                    \
        }                                                                                  \
      break;                                                                               \
    case NN_RED_MIN:                                                                       \
      if (step)                                                                            \
        for (int64_t j = 0; j < w; j++) {                                                  \
          ACC v = LD(xp[j]);                                                               \
          if (v < acc[j] || ISNAN(v)) acc[j] = v;                                          \
        }                                                                                  \
      else                                                                                 \
        for (int64_t j = 0; j < w; j++) {                                                  \
          ACC v = LD(xp[j]);                                                               \
          if (v < a || ISNAN(v)) a = v;                                                    \
        }                                                                                  \
      break;                                                                               \
    default: break;                                                                        \
    }                                                                                      \
    if (!step) acc[0] = a;                                                                 \
  }                                                                                        \
  static void fname(const nn_reduce_plan *p, nn_reduce_op op, const T *x, T *y) {          \
    if (p->out_n == 0) return;                                                             \
    int last = p->ndim - 1;                                                                \
    int64_t L = p->dims[last];                                                             \
    odo ko, ro;                                                                            \
    split_axes(p, &ko, &ro);                                                               \
    if (p->reduced[last]) { /* contiguous runs reduce into one output each */              \
      for (int64_t o = 0; o < ko.total; o++, odo_next(&ko)) {                              \
        const T *base = x + ko.off;                                                        \
        odo_reset(&ro);                                                                    \
        ACC a = fname##_init(op == NN_RED_LOGSUMEXP ? NN_RED_MAX : op);                    \
        for (int64_t r = 0; r < ro.total; r++, odo_next(&ro))                              \
          fname##_run(op == NN_RED_LOGSUMEXP ? NN_RED_MAX : op, &a, L, 0, base + ro.off);  \
        if (op != NN_RED_LOGSUMEXP) {                                                      \
          y[o] = fname##_fin(op, a, p->count);                                             \
          continue;                                                                        \
        }                                                                                  \
        double m = (double)a, s = 0;                                                       \
        if (isfinite(m)) {                                                                 \
          odo_reset(&ro);                                                                  \
          for (int64_t r = 0; r < ro.total; r++, odo_next(&ro))                            \
            for (int64_t j = 0; j < L; j++) s += exp((double)LD(base[ro.off + j]) - m);    \
          m += log(s);                                                                     \
        }                                                                                  \
        y[o] = ST_DBL(m);                                                                  \
      }                                                                                    \
    } else { /* whole rows accumulate into a chunk of adjacent outputs */                  \
      for (int64_t o = 0; o < ko.total; o++, odo_next(&ko)) {                              \
        const T *base = x + ko.off;                                                        \
        T *yo = y + o * L;                                                                 \
        for (int64_t j0 = 0; j0 < L; j0 += CHUNK) {                                        \
          int64_t w = L - j0 < CHUNK ? L - j0 : CHUNK;                                     \
          ACC acc[CHUNK];                                                                  \
          nn_reduce_op op1 = op == NN_RED_LOGSUMEXP ? NN_RED_MAX : op;                     \
          for (int64_t j = 0; j < w; j++) acc[j] = fname##_init(op1);                      \
          odo_reset(&ro);                                                                  \
          for (int64_t r = 0; r < ro.total; r++, odo_next(&ro))                            \
            fname##_run(op1, acc, w, 1, base + ro.off + j0);                               \
          if (op != NN_RED_LOGSUMEXP) {                                                    \
            for (int64_t j = 0; j < w; j++)                                                \
              yo[j0 + j] = fname##_fin(op, acc[j], p->count);                              \
            continue;                                                                      \
          }                                                                                \
          double s[CHUNK];                                                                 \
          for (int64_t j = 0; j < w; j++) s[j] = 0;                                        \
          odo_reset(&ro);                                                                  \
          for (int64_t r = 0; r < ro.total; r++, odo_next(&ro)) {                          \
            const T *xp = base + ro.off + j0;                                              \
            for (int64_t j = 0; j < w; j++)                                                \
              if (isfinite((double)acc[j]))                                                \
                s[j] += exp((double)LD(xp[j]) - (double)acc[j]);                           \
          }                                                                                \
          for (int64_t j = 0; j < w; j++) {                                                \
            double m = (double)acc[j];                                                     \
            yo[j0 + j] = ST_DBL(isfinite(m) ? m + log(s[j]) : m);                          \
          }                                                                                \
        }                                                                                  \
      }                                                                                    \
    }                                                                                      \
  }

/* float flavours: double accumulators */
#define D_LD(v) ((double)(v))
#define D_ADD(a, b) ((a) + (b))
#define D_MUL(a, b) ((a) * (b))
#define D_ABS(v) fabs(v)
#define D_ISNAN(v) isnan(v)
#define ST_F32(d) ((float)(d))
#define ST_F64(d) ((double)(d))
#define ST_F16(d) nn_f64_to_f16__ref(d)
#define ST_BF16(d) nn_f64_to_bf16__ref(d)
#define LD_F16(v) ((double)nn_f16_to_f32(v))
#define LD_BF16(v) ((double)nn_bf16_to_f32(v))

REDUCE_KERNEL(reduce_f32, float, double, D_LD, D_ADD, D_MUL, D_ABS, D_ISNAN, ST_F32, ST_F32,
              -INFINITY, INFINITY)
REDUCE_KERNEL(reduce_f64, double, double, D_LD, D_ADD, D_MUL, D_ABS, D_ISNAN, ST_F64,
              ST_F64, -INFINITY, INFINITY)
REDUCE_KERNEL(reduce_f16, uint16_t, double, LD_F16, D_ADD, D_MUL, D_ABS, D_ISNAN, ST_F16,
              ST_F16, -INFINITY, INFINITY)
REDUCE_KERNEL(reduce_bf16, uint16_t, double, LD_BF16, D_ADD, D_MUL, D_ABS, D_ISNAN, ST_BF16,
              ST_BF16, -INFINITY, INFINITY)

/* integer flavours: int64 accumulators that wrap through uint64 */
#define I_LD(v) ((int64_t)(v))
#define I_ADD(a, b) ((int64_t)((uint64_t)(a) + (uint64_t)(b)))
#define I_MUL(a, b) ((int64_t)((uint64_t)(a) * (uint64_t)(b)))
#define I_ABS(v) ((v) < 0 ? (int64_t)(0u - (uint64_t)(v)) : (v))
#define I_ISNAN(v) 0
#define INT_FLAVOUR(s, T)                                                                  \
  static inline T st_acc_##s(int64_t a) { return (T)a; }                                   \
  static inline T st_dbl_##s(double d) { return d != d ? (T)0 : (T)(int64_t)d; }           \
  REDUCE_KERNEL(reduce_##s, T, int64_t, I_LD, I_ADD, I_MUL, I_ABS, I_ISNAN, st_acc_##s,    \
                st_dbl_##s, INT64_MIN, INT64_MAX)
INT_FLAVOUR(i8, int8_t)
INT_FLAVOUR(i16, int16_t)
INT_FLAVOUR(i32, int32_t)
INT_FLAVOUR(i64, int64_t)
INT_FLAVOUR(u8, uint8_t)
INT_FLAVOUR(u16, uint16_t)
INT_FLAVOUR(u32, uint32_t)

void nn_f32_reduce__ref(const nn_reduce_plan *p, nn_reduce_op op, const float *x,
                        float *y) {
  reduce_f32(p, op, x, y);
}
void nn_f64_reduce__ref(const nn_reduce_plan *p, nn_reduce_op op, const double *x,
                        double *y) {
  reduce_f64(p, op, x, y);
}

int nn_reduce_supported__ref(nn_reduce_op op, nn_dtype dt) {
  switch (dt) {
  case NN_FLOAT:
  case NN_DOUBLE:
  case NN_FLOAT16:
  case NN_BFLOAT16: return 1;
  case NN_INT8:
  case NN_INT16:
  case NN_INT32:
  case NN_INT64:
  case NN_UINT8:
  case NN_UINT16:
  case NN_UINT32: return op != NN_RED_LOGSUMEXP;
  default: return 0;
  }
}

int nn_reduce__ref(const nn_reduce_plan *p, nn_reduce_op op, nn_dtype dt, const void *x,
                   void *y) {
  if (!nn_reduce_supported__ref(op, dt)) return -1;
  switch (dt) {
  case NN_FLOAT: reduce_f32(p, op, x, y); break;
  case NN_DOUBLE: reduce_f64(p, op, x, y); break;
  case NN_FLOAT16: reduce_f16(p, op, x, y); break;
  case NN_BFLOAT16: reduce_bf16(p, op, x, y); break;
  case NN_INT8: reduce_i8(p, op, x, y); break;
  case NN_INT16: reduce_i16(p, op, x, y); break;
  case NN_INT32: reduce_i32(p, op, x, y); break;
  case NN_INT64: reduce_i64(p, op, x, y); break;
  case NN_UINT8: reduce_u8(p, op, x, y); break;
  case NN_UINT16: reduce_u16(p, op, x, y); break;
  case NN_UINT32: reduce_u32(p, op, x, y); break;
  default: return -1;
  }
  return 0;
}

/* ---- ArgMax / ArgMin ---- */

#define ARG_KERNEL(s, T, CT, LD, ISNAN)                                                    \
  static void argmax_##s(int64_t outer, int64_t n, int64_t inner, const T *x, int64_t *y,  \
                         int is_min, int last) {                                           \
    for (int64_t o = 0; o < outer; o++) {                                                  \
      const T *xr = x + o * n * inner;                                                     \
      for (int64_t j0 = 0; j0 < inner; j0 += CHUNK) {                                      \
        int64_t w = inner - j0 < CHUNK ? inner - j0 : CHUNK;                               \
        CT best[CHUNK];                                                                    \
        int64_t *bi = y + o * inner + j0;                                                  \
        for (int64_t j = 0; j < w; j++) {                                                  \
          best[j] = LD(xr[j0 + j]);                                                        \
          bi[j] = 0;                                                                       \
        }                                                                                  \
        for (int64_t k = 1; k < n; k++)                                                    \
          for (int64_t j = 0; j < w; j++) {                                                \
            CT v = LD(xr[k * inner + j0 + j]);                                             \
            if (ISNAN(best[j]) && !last) continue; /* first NaN wins */                    \
            int take = is_min ? v < best[j] : v > best[j];                                 \
            take =                                                                         \
                take || (last && v == best[j]) || (ISNAN(v) && (last || !ISNAN(best[j]))); \
            if (take) {                                                                    \
              best[j] = v;                                                                 \
              bi[j] = k;                                                                   \
            }                                                                              \
          }                                                                                \
      }                                                                                    \
    }                                                                                      \
  }
ARG_KERNEL(f32, float, float, ID_LD, isnan)
ARG_KERNEL(f64, double, double, ID_LD, isnan)
ARG_KERNEL(f16, uint16_t, float, nn_f16_to_f32, isnan)
ARG_KERNEL(bf16, uint16_t, float, nn_bf16_to_f32, isnan)
#define NO_NAN(v) 0
ARG_KERNEL(i8, int8_t, int8_t, ID_LD, NO_NAN)
ARG_KERNEL(i16, int16_t, int16_t, ID_LD, NO_NAN)
ARG_KERNEL(i32, int32_t, int32_t, ID_LD, NO_NAN)
ARG_KERNEL(i64, int64_t, int64_t, ID_LD, NO_NAN)
ARG_KERNEL(u8, uint8_t, uint8_t, ID_LD, NO_NAN)
ARG_KERNEL(u16, uint16_t, uint16_t, ID_LD, NO_NAN)
ARG_KERNEL(u32, uint32_t, uint32_t, ID_LD, NO_NAN)
ARG_KERNEL(u64, uint64_t, uint64_t, ID_LD, NO_NAN)

int nn_argmax__ref(int64_t outer, int64_t n, int64_t inner, nn_dtype dt, const void *x,
                   int64_t *y, int is_min, int select_last) {
  if (n < 1) return -1;
#define CASE(D, s)                                                                         \
  case D: argmax_##s(outer, n, inner, x, y, is_min, select_last); return 0;
  switch (dt) {
    CASE(NN_FLOAT, f32)
    CASE(NN_DOUBLE, f64)
    CASE(NN_FLOAT16, f16)
    CASE(NN_BFLOAT16, bf16)
    CASE(NN_INT8, i8)
    CASE(NN_INT16, i16)
    CASE(NN_INT32, i32)
    CASE(NN_INT64, i64)
    CASE(NN_UINT8, u8)
    CASE(NN_UINT16, u16)
    CASE(NN_UINT32, u32)
    CASE(NN_UINT64, u64)
  default: return -1;
  }
#undef CASE
}

/* ---- CumSum ---- */

#define CUMSUM_KERNEL(s, T, ADD, ZERO)                                                     \
  static void cumsum_##s(int64_t outer, int64_t n, int64_t inner, const T *x, T *y,        \
                         int exclusive, int reverse) {                                     \
    for (int64_t o = 0; o < outer; o++) {                                                  \
      const T *xr = x + o * n * inner;                                                     \
      T *yr = y + o * n * inner;                                                           \
      for (int64_t t = 0; t < n; t++) {                                                    \
        int64_t k = reverse ? n - 1 - t : t, prev = reverse ? k + 1 : k - 1;               \
        T *yk = yr + k * inner;                                                            \
        if (t == 0) {                                                                      \
          for (int64_t j = 0; j < inner; j++)                                              \
            yk[j] = exclusive ? ZERO : xr[k * inner + j];                                  \
        } else {                                                                           \
          const T *yp = yr + prev * inner;                                                 \
          const T *xk = xr + (exclusive ? prev : k) * inner;                               \
          for (int64_t j = 0; j < inner; j++) yk[j] = ADD(yp[j], xk[j]);                   \
        }                                                                                  \
      }                                                                                    \
    }                                                                                      \
  }
#define F_ADD(a, b) ((a) + (b))
#define U32_ADD(a, b) ((a) + (b))
#define S32_ADD(a, b) ((int32_t)((uint32_t)(a) + (uint32_t)(b)))
#define S64_ADD(a, b) ((int64_t)((uint64_t)(a) + (uint64_t)(b)))
#define H_ADD(a, b) nn_f32_to_f16(nn_f16_to_f32(a) + nn_f16_to_f32(b))
#define BH_ADD(a, b) nn_f32_to_bf16(nn_bf16_to_f32(a) + nn_bf16_to_f32(b))
CUMSUM_KERNEL(f32, float, F_ADD, 0.0f)
CUMSUM_KERNEL(f64, double, F_ADD, 0.0)
CUMSUM_KERNEL(f16, uint16_t, H_ADD, 0)
CUMSUM_KERNEL(bf16, uint16_t, BH_ADD, 0)
CUMSUM_KERNEL(i32, int32_t, S32_ADD, 0)
CUMSUM_KERNEL(i64, int64_t, S64_ADD, 0)
CUMSUM_KERNEL(u32, uint32_t, U32_ADD, 0)
CUMSUM_KERNEL(u64, uint64_t, U32_ADD, 0)

int nn_cumsum__ref(int64_t outer, int64_t n, int64_t inner, nn_dtype dt, const void *x,
                   void *y, int exclusive, int reverse) {
#define CASE(D, s)                                                                         \
  case D: cumsum_##s(outer, n, inner, x, y, exclusive, reverse); return 0;
  switch (dt) {
    CASE(NN_FLOAT, f32)
    CASE(NN_DOUBLE, f64)
    CASE(NN_FLOAT16, f16)
    CASE(NN_BFLOAT16, bf16)
    CASE(NN_INT32, i32)
    CASE(NN_INT64, i64)
    CASE(NN_UINT32, u32)
    CASE(NN_UINT64, u64)
  default: return -1;
  }
#undef CASE
}
