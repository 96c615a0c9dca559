/*
 * resize.c - reference Resize. The output is walked row by row (all axes but the
 * last): per row the taps of the outer axes are combined once into (offset, weight)
 * pairs, then each output element of the row adds its last-axis taps over them.
 * Coordinates and weights follow onnx/backend/test/case/node/resize.py.
 */
#include "kernels/ref/resize.h"

#include <math.h>
#include <string.h>

#include "core/dtype.h"

typedef struct taps {
  int n;       /* 1 (nearest / identity), 2 (linear) or 4 (cubic) */
  int outside; /* tf_crop_and_resize: the coordinate left the input */
  int64_t idx[4];
  double w[4];
} taps;

static int is_identity(const nn_resize_params *p, int d) {
  return p->in[d] == p->out[d] && p->scale[d] == 1.0 && p->length[d] == (double)p->out[d] &&
         p->coord != NN_COORD_TF_CROP_AND_RESIZE && p->coord != NN_COORD_TF_HALF_PIXEL_FOR_NN &&
         p->coord != NN_COORD_HALF_PIXEL_SYMMETRIC;
}

static int ntaps(const nn_resize_params *p, int d) {
  if (is_identity(p, d) || p->mode == NN_RESIZE_NEAREST) return 1;
  return p->mode == NN_RESIZE_LINEAR ? 2 : 4;
}

int nn_resize_check(const nn_resize_params *p) {
  int64_t combos = 1;
  for (int d = 0; d + 1 < p->ndim; d++) combos *= ntaps(p, d);
  return combos <= NN_RESIZE_MAX_COMBOS ? 0 : -1;
}

/* Input coordinate of output position o on axis d. */
static double orig_coord(const nn_resize_params *p, int d, int64_t o) {
  const double s = p->scale[d], len = p->length[d], n = (double)p->in[d], x = (double)o;
  switch (p->coord) {
  case NN_COORD_PYTORCH_HALF_PIXEL: return len > 1 ? (x + 0.5) / s - 0.5 : 0.0;
  case NN_COORD_ALIGN_CORNERS: return len > 1 ? x * (n - 1) / (len - 1) : 0.0;
  case NN_COORD_ASYMMETRIC: return x / s;
  case NN_COORD_TF_HALF_PIXEL_FOR_NN: return (x + 0.5) / s;
  case NN_COORD_TF_CROP_AND_RESIZE: {
    const double a = p->roi_start[d], b = p->roi_end[d];
    return len > 1 ? a * (n - 1) + x * (b - a) * (n - 1) / (len - 1) : 0.5 * (a + b) * (n - 1);
  }
  case NN_COORD_HALF_PIXEL_SYMMETRIC: {
    const double adj = (double)p->out[d] / (s * n), center = n / 2;
    return center * (1 - adj) + (x + 0.5) / s - 0.5;
  }
  case NN_COORD_HALF_PIXEL:
  default: return (x + 0.5) / s - 0.5;
  }
}

static int64_t clamp_idx(int64_t i, int64_t n) { return i < 0 ? 0 : i >= n ? n - 1 : i; }

static void cubic_coeffs(double r, double A, double *c) {
  const double r1 = r + 1, q = 1 - r, q1 = q + 1;
  c[0] = ((A * r1 - 5 * A) * r1 + 8 * A) * r1 - 4 * A;
  c[1] = ((A + 2) * r - (A + 3)) * r * r + 1;
  c[2] = ((A + 2) * q - (A + 3)) * q * q + 1;
  c[3] = ((A * q1 - 5 * A) * q1 + 8 * A) * q1 - 4 * A;
}

static void axis_taps(const nn_resize_params *p, int d, int64_t o, taps *t) {
  const int64_t n = p->in[d];
  t->outside = 0;
  if (is_identity(p, d)) {
    t->n = 1;
    t->idx[0] = o;
    t->w[0] = 1;
    return;
  }
  const double xo = orig_coord(p, d, o);
  if (p->coord == NN_COORD_TF_CROP_AND_RESIZE && (xo < 0 || xo > (double)(n - 1))) {
    t->outside = 1;
    t->n = 0;
    return;
  }
  const double f = floor(xo), r = xo - f;
  const int64_t fi = (int64_t)f;
  if (p->mode == NN_RESIZE_NEAREST) {
    int64_t i;
    switch (p->nearest) {
    case NN_NEAREST_ROUND_PREFER_CEIL: i = r < 0.5 ? fi : fi + 1; break;
    case NN_NEAREST_FLOOR: i = fi; break;
    case NN_NEAREST_CEIL: i = r > 0 ? fi + 1 : fi; break;
    case NN_NEAREST_SIMPLE: i = (p->scale[d] < 1 && r > 0) ? fi + 1 : fi; break;
    case NN_NEAREST_ROUND_PREFER_FLOOR:
    default: i = r <= 0.5 ? fi : fi + 1; break;
    }
    t->n = 1;
    t->idx[0] = clamp_idx(i, n);
    t->w[0] = 1;
  } else if (p->mode == NN_RESIZE_LINEAR) {
    t->n = 2;
    t->idx[0] = clamp_idx(fi, n);
    t->idx[1] = clamp_idx(fi + 1, n);
    t->w[0] = 1 - r;
    t->w[1] = r;
  } else {
    t->n = 4;
    cubic_coeffs(r, p->cubic_a, t->w);
    double sum = 0;
    for (int k = 0; k < 4; k++) {
      const int64_t i = fi - 1 + k;
      if (p->exclude_outside && (i < 0 || i >= n)) t->w[k] = 0;
      sum += t->w[k];
      t->idx[k] = clamp_idx(i, n);
    }
    if (p->exclude_outside && sum != 0)
      for (int k = 0; k < 4; k++) t->w[k] /= sum;
  }
}

int nn_resize_axis_is_identity(const nn_resize_params *p, int d) { return is_identity(p, d); }

int nn_resize_axis_taps2(const nn_resize_params *p, int d, int64_t o, int64_t idx[2],
                         double w[2]) {
  if (p->mode == NN_RESIZE_CUBIC && !is_identity(p, d)) return -1;
  taps t;
  axis_taps(p, d, o, &t);
  if (t.outside) return -1;
  idx[0] = idx[1] = t.idx[0];
  w[0] = t.w[0];
  w[1] = 0;
  if (t.n == 2) {
    idx[1] = t.idx[1];
    w[1] = t.w[1];
  }
  return 0;
}

/* Outer-axis taps of the row at idx combined into (offset, weight) pairs; returns
 * the count, or -1 when some axis is outside (tf_crop_and_resize). */
static int row_combos(const nn_resize_params *p, const int64_t *idx, const int64_t *xs,
                      int64_t *off, double *w) {
  int nc = 1;
  off[0] = 0;
  w[0] = 1;
  for (int d = 0; d + 1 < p->ndim; d++) {
    taps t;
    axis_taps(p, d, idx[d], &t);
    if (t.outside) return -1;
    /* expand in place, last taps first so sources are read before overwritten */
    for (int k = t.n - 1; k >= 0; k--)
      for (int c = 0; c < nc; c++) {
        off[k * nc + c] = off[c] + t.idx[k] * xs[d];
        w[k * nc + c] = w[c] * t.w[k];
      }
    nc *= t.n;
  }
  return nc;
}

static void strides_of(const nn_resize_params *p, int64_t *xs, int64_t *rows) {
  int64_t s = 1;
  *rows = 1;
  for (int d = p->ndim - 1; d >= 0; d--) {
    xs[d] = s;
    s *= p->in[d];
    if (d < p->ndim - 1) *rows *= p->out[d];
  }
}

static void next_row(const nn_resize_params *p, int64_t *idx) {
  for (int d = p->ndim - 2; d >= 0; d--) {
    if (++idx[d] < p->out[d]) return;
    idx[d] = 0;
  }
}

#define LOAD_PLAIN(v) ((double)(v))
#define LOAD_F16(v) ((double)nn_f16_to_f32(v))
#define STORE_F32(a) ((float)(a))
#define STORE_F64(a) (a)
#define STORE_F16(a) nn_f32_to_f16((float)(a))
#define SAT(a, lo, hi) ((a) != (a) ? 0 : (a) <= (lo) ? (lo) : (a) >= (hi) ? (hi) : (a))
#define STORE_U8(a) ((uint8_t)SAT(a, 0.0, 255.0))
#define STORE_I8(a) ((int8_t)SAT(a, -128.0, 127.0))
#define STORE_I32(a) ((int32_t)SAT(a, -2147483648.0, 2147483647.0))
#define STORE_I64(a) ((int64_t)SAT(a, -9223372036854775808.0, 9223372036854774784.0))

#define NN_RESIZE_REF(name, T, LOAD, STORE)                                             \
  void name(const nn_resize_params *p, const T *x, T *y) {                              \
    if (p->ndim == 0) {                                                                 \
      y[0] = x[0];                                                                      \
      return;                                                                           \
    }                                                                                   \
    int64_t xs[NN_MAX_DIMS], rows, idx[NN_MAX_DIMS] = {0};                              \
    int64_t off[NN_RESIZE_MAX_COMBOS];                                                  \
    double w[NN_RESIZE_MAX_COMBOS];                                                     \
    const int last = p->ndim - 1;                                                       \
    const int64_t ow = p->out[last];                                                    \
    const T ext = STORE(p->extrapolation);                                              \
    strides_of(p, xs, &rows);                                                           \
    for (int64_t r = 0; r < rows; r++, y += ow) {                                       \
      const int nc = row_combos(p, idx, xs, off, w);                                    \
      for (int64_t o = 0; o < ow; o++) {                                                \
        taps t;                                                                         \
        if (nc < 0 || (axis_taps(p, last, o, &t), t.outside)) {                         \
          y[o] = ext;                                                                   \
          continue;                                                                     \
        }                                                                               \
        double acc = 0;                                                                 \
        for (int c = 0; c < nc; c++) {                                                  \
          const T *row = x + off[c];                                                    \
          double s = 0;                                                                 \
          for (int k = 0; k < t.n; k++) s += t.w[k] * LOAD(row[t.idx[k]]);              \
          acc += w[c] * s;                                                              \
        }                                                                               \
        y[o] = STORE(acc);                                                              \
      }                                                                                 \
      next_row(p, idx);                                                                 \
    }                                                                                   \
  }

NN_RESIZE_REF(nn_f32_resize__ref, float, LOAD_PLAIN, STORE_F32)
NN_RESIZE_REF(nn_f64_resize__ref, double, LOAD_PLAIN, STORE_F64)
NN_RESIZE_REF(nn_f16_resize__ref, uint16_t, LOAD_F16, STORE_F16)
NN_RESIZE_REF(nn_u8_resize__ref, uint8_t, LOAD_PLAIN, STORE_U8)
NN_RESIZE_REF(nn_i8_resize__ref, int8_t, LOAD_PLAIN, STORE_I8)
NN_RESIZE_REF(nn_i32_resize__ref, int32_t, LOAD_PLAIN, STORE_I32)
NN_RESIZE_REF(nn_i64_resize__ref, int64_t, LOAD_PLAIN, STORE_I64)

void nn_x_resize_nearest__ref(const nn_resize_params *p, size_t es, const void *x, void *y,
                              const void *extrap) {
  const char *xb = x;
  char *yb = y;
  if (p->ndim == 0) {
    memcpy(yb, xb, es);
    return;
  }
  int64_t xs[NN_MAX_DIMS], rows, idx[NN_MAX_DIMS] = {0};
  int64_t off[NN_RESIZE_MAX_COMBOS];
  double w[NN_RESIZE_MAX_COMBOS];
  const int last = p->ndim - 1;
  const int64_t ow = p->out[last];
  strides_of(p, xs, &rows);
  for (int64_t r = 0; r < rows; r++, yb += (size_t)ow * es) {
    const int nc = row_combos(p, idx, xs, off, w);
    for (int64_t o = 0; o < ow; o++) {
      taps t;
      if (nc < 0 || (axis_taps(p, last, o, &t), t.outside))
        memcpy(yb + (size_t)o * es, extrap, es);
      else
        memcpy(yb + (size_t)o * es, xb + (size_t)(off[0] + t.idx[0]) * es, es);
    }
    next_row(p, idx);
  }
}
