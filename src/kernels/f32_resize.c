/*
 * f32_resize.c - the separable float32 Resize of f32_resize.h: per-axis tap tables
 * (index pairs and weights) built once per run, then per plane each output row blends
 * its two input rows, each read at the column taps.
 */
#include "kernels/f32_resize.h"

#include <stdint.h>

#include "runtime/threadpool.h"

/* 4-byte members only: the workspace needs no more than float alignment. */
typedef struct tap2 {
  int32_t i0, i1;
  float w0, w1;
} tap2;

size_t nn_f32_resize2d_workspace(const nn_resize_params *p) {
  if (p->ndim < 2 || p->mode == NN_RESIZE_CUBIC || p->coord == NN_COORD_TF_CROP_AND_RESIZE)
    return 0;
  for (int d = 0; d + 2 < p->ndim; d++)
    if (!nn_resize_axis_is_identity(p, d)) return 0;
  const int h = p->ndim - 2, w = p->ndim - 1;
  if (p->in[h] < 1 || p->in[w] < 1 || p->in[h] > INT32_MAX || p->in[w] > INT32_MAX) return 0;
  return (size_t)(p->out[h] + p->out[w] + 1) * sizeof(tap2);
}

typedef struct job {
  const nn_resize_params *p;
  const float *x;
  float *y;
  const tap2 *th, *tw;
} job;

static void plane(void *ctx, size_t thread, size_t t) {
  const job *j = ctx;
  const nn_resize_params *p = j->p;
  const int h = p->ndim - 2, w = p->ndim - 1;
  const size_t ih = (size_t)p->in[h], iw = (size_t)p->in[w];
  const size_t oh = (size_t)p->out[h], ow = (size_t)p->out[w];
  const float *x = j->x + t * ih * iw;
  float *y = j->y + t * oh * ow;
  (void)thread;
  for (size_t oy = 0; oy < oh; oy++, y += ow) {
    const tap2 ty = j->th[oy];
    const float *r0 = x + ty.i0 * (int64_t)iw, *r1 = x + ty.i1 * (int64_t)iw;
    for (size_t ox = 0; ox < ow; ox++) {
      const tap2 tx = j->tw[ox];
      const float a = r0[tx.i0] * tx.w0 + r0[tx.i1] * tx.w1;
      const float b = r1[tx.i0] * tx.w0 + r1[tx.i1] * tx.w1;
      y[ox] = a * ty.w0 + b * ty.w1;
    }
  }
}

void nn_f32_resize2d(const nn_resize_params *p, const float *x, float *y, void *ws,
                     nn_threadpool *pool) {
  const int h = p->ndim - 2, w = p->ndim - 1;
  tap2 *th = ws, *tw = th + p->out[h];
  for (int a = 0; a < 2; a++) {
    const int d = a ? w : h;
    tap2 *t = a ? tw : th;
    for (int64_t o = 0; o < p->out[d]; o++) {
      int64_t idx[2];
      double wt[2];
      nn_resize_axis_taps2(p, d, o, idx, wt); /* cannot fail: checked by the workspace */
      t[o].i0 = (int32_t)idx[0];
      t[o].i1 = (int32_t)idx[1];
      t[o].w0 = (float)wt[0];
      t[o].w1 = (float)wt[1];
    }
  }
  size_t planes = 1;
  for (int d = 0; d + 2 < p->ndim; d++) planes *= (size_t)p->out[d];
  job j = {p, x, y, th, tw};
  nn_threadpool_parallelize(pool, plane, &j, planes);
}
