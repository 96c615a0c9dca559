/*
 * pool.c - reference Max/Average/Lp pooling and their global forms. Windows are
 * clipped per axis to the taps that fall inside the input, so the inner loops
 * carry no bounds checks. Average and Lp pooling accumulate in double.
 */
#include "kernels/ref/pool.h"

#include <float.h>
#include <math.h>

static int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* Taps t in [0, k) with lo <= start + t*dil < hi, as a range [*t0, *t1). */
static void tap_range(int64_t start, int64_t dil, int64_t k, int64_t lo, int64_t hi,
                      int64_t *t0, int64_t *t1) {
  int64_t a = -floor_div(start - lo, dil);       /* ceil((lo - start) / dil) */
  int64_t b = floor_div(hi - 1 - start, dil) + 1; /* last tap below hi, plus one */
  if (a < 0) a = 0;
  if (b > k) b = k;
  if (b < a) b = a;
  *t0 = a;
  *t1 = b;
}

typedef struct window {
  int64_t start[NN_POOL_SP];      /* input coordinate of tap 0 */
  int64_t t0[NN_POOL_SP], t1[NN_POOL_SP]; /* taps inside the input */
  int64_t count_pad;              /* taps inside the padded extent */
} window;

static void window_at(const nn_pool_params *p, int64_t od, int64_t oh, int64_t ow,
                      window *w) {
  const int64_t o[NN_POOL_SP] = {od, oh, ow};
  w->count_pad = 1;
  for (int d = 0; d < NN_POOL_SP; d++) {
    int64_t c0, c1;
    w->start[d] = o[d] * p->stride[d] - p->pad_begin[d];
    tap_range(w->start[d], p->dilation[d], p->kernel[d], 0, p->in[d], &w->t0[d], &w->t1[d]);
    tap_range(w->start[d], p->dilation[d], p->kernel[d], -p->pad_begin[d],
              p->in[d] + p->pad_end[d], &c0, &c1);
    w->count_pad *= c1 - c0;
  }
}

#define NN_MAXPOOL_REF(name, T, LOWEST)                                                 \
  void name(const nn_pool_params *p, const T *x, T *y, int64_t *indices) {             \
    const int64_t iD = p->in[0], iH = p->in[1], iW = p->in[2];                         \
    const int64_t in_sz = iD * iH * iW;                                                \
    for (int64_t pl = 0; pl < p->planes; pl++) {                                       \
      const T *xp = x + pl * in_sz;                                                    \
      for (int64_t od = 0; od < p->out[0]; od++)                                       \
        for (int64_t oh = 0; oh < p->out[1]; oh++)                                     \
          for (int64_t ow = 0; ow < p->out[2]; ow++) {                                 \
            window w;                                                                  \
            window_at(p, od, oh, ow, &w);                                              \
            T best = LOWEST;                                                           \
            int64_t bi = -1;                                                           \
            for (int64_t a = w.t0[0]; a < w.t1[0]; a++) {                              \
              const int64_t id = w.start[0] + a * p->dilation[0];                      \
              for (int64_t b = w.t0[1]; b < w.t1[1]; b++) {                            \
                const int64_t ih = w.start[1] + b * p->dilation[1];                    \
                const T *row = xp + (id * iH + ih) * iW;                               \
                for (int64_t c = w.t0[2]; c < w.t1[2]; c++) {                          \
                  const int64_t iw = w.start[2] + c * p->dilation[2];                  \
                  if (bi < 0 || row[iw] > best) {                                      \
                    best = row[iw];                                                    \
                    bi = p->storage_order ? id + ih * iD + iw * iD * iH                \
                                          : (id * iH + ih) * iW + iw;                  \
                  }                                                                    \
                }                                                                      \
              }                                                                        \
            }                                                                          \
            *y++ = best;                                                               \
            if (indices) *indices++ = bi < 0 ? -1 : pl * in_sz + bi;                   \
          }                                                                            \
    }                                                                                  \
  }

NN_MAXPOOL_REF(nn_f32_maxpool__ref, float, -INFINITY)
NN_MAXPOOL_REF(nn_f64_maxpool__ref, double, -INFINITY)
NN_MAXPOOL_REF(nn_i8_maxpool__ref, int8_t, INT8_MIN)
NN_MAXPOOL_REF(nn_u8_maxpool__ref, uint8_t, 0)

/* kind 0: average, 1: Lp with exponent pw. */
#define NN_SUMPOOL_REF(name, T)                                                         \
  static void name##_impl(const nn_pool_params *p, const T *x, T *y, int kind,          \
                          double pw) {                                                  \
    const int64_t iH = p->in[1], iW = p->in[2];                                         \
    const int64_t in_sz = p->in[0] * iH * iW;                                           \
    for (int64_t pl = 0; pl < p->planes; pl++) {                                        \
      const T *xp = x + pl * in_sz;                                                     \
      for (int64_t od = 0; od < p->out[0]; od++)                                        \
        for (int64_t oh = 0; oh < p->out[1]; oh++)                                      \
          for (int64_t ow = 0; ow < p->out[2]; ow++) {                                  \
            window w;                                                                   \
            window_at(p, od, oh, ow, &w);                                               \
            double acc = 0;                                                             \
            for (int64_t a = w.t0[0]; a < w.t1[0]; a++) {                               \
              const int64_t id = w.start[0] + a * p->dilation[0];                       \
              for (int64_t b = w.t0[1]; b < w.t1[1]; b++) {                             \
                const int64_t ih = w.start[1] + b * p->dilation[1];                     \
                const T *row = xp + (id * iH + ih) * iW;                                \
                for (int64_t c = w.t0[2]; c < w.t1[2]; c++) {                           \
                  const double v = (double)row[w.start[2] + c * p->dilation[2]];        \
                  acc += kind ? pow(fabs(v), pw) : v;                                   \
                }                                                                       \
              }                                                                         \
            }                                                                           \
            if (kind) {                                                                 \
              *y++ = (T)pow(acc, 1.0 / pw);                                             \
            } else {                                                                    \
              const int64_t n = p->count_include_pad                                    \
                                    ? w.count_pad                                       \
                                    : (w.t1[0] - w.t0[0]) * (w.t1[1] - w.t0[1]) *       \
                                          (w.t1[2] - w.t0[2]);                          \
              *y++ = n ? (T)(acc / (double)n) : (T)0;                                   \
            }                                                                           \
          }                                                                             \
    }                                                                                   \
  }

NN_SUMPOOL_REF(pool_f32, float)
NN_SUMPOOL_REF(pool_f64, double)

void nn_f32_avgpool__ref(const nn_pool_params *p, const float *x, float *y) {
  pool_f32_impl(p, x, y, 0, 0);
}
void nn_f64_avgpool__ref(const nn_pool_params *p, const double *x, double *y) {
  pool_f64_impl(p, x, y, 0, 0);
}
void nn_f32_lppool__ref(const nn_pool_params *p, const float *x, float *y, double pw) {
  pool_f32_impl(p, x, y, 1, pw);
}
void nn_f64_lppool__ref(const nn_pool_params *p, const double *x, double *y, double pw) {
  pool_f64_impl(p, x, y, 1, pw);
}

#define NN_GLOBAL_REF(T, sfx)                                                           \
  void nn_##sfx##_global_avgpool__ref(int64_t planes, int64_t n, const T *x, T *y) {    \
    for (int64_t pl = 0; pl < planes; pl++, x += n) {                                   \
      double acc = 0;                                                                   \
      for (int64_t i = 0; i < n; i++) acc += (double)x[i];                              \
      y[pl] = n ? (T)(acc / (double)n) : (T)0;                                          \
    }                                                                                   \
  }                                                                                     \
  void nn_##sfx##_global_maxpool__ref(int64_t planes, int64_t n, const T *x, T *y) {    \
    for (int64_t pl = 0; pl < planes; pl++, x += n) {                                   \
      T best = n ? x[0] : (T)-INFINITY;                                                 \
      for (int64_t i = 1; i < n; i++)                                                   \
        if (x[i] > best) best = x[i];                                                   \
      y[pl] = best;                                                                     \
    }                                                                                   \
  }                                                                                     \
  void nn_##sfx##_global_lppool__ref(int64_t planes, int64_t n, const T *x, T *y,       \
                                     double pw) {                                       \
    for (int64_t pl = 0; pl < planes; pl++, x += n) {                                   \
      double acc = 0;                                                                   \
      for (int64_t i = 0; i < n; i++) acc += pow(fabs((double)x[i]), pw);               \
      y[pl] = (T)pow(acc, 1.0 / pw);                                                    \
    }                                                                                   \
  }

NN_GLOBAL_REF(float, f32)
NN_GLOBAL_REF(double, f64)
