/*
 * pad.c - reference Pad: walks the output row by row (all axes but the last),
 * resolves the source row once, then copies the interior of the row with memcpy
 * and fills its borders element by element.
 */
#include "kernels/ref/pad.h"

#include <string.h>

#include "nnopt.h"

/* Source index of output position i (already shifted by pad_begin) on an axis of
 * n elements, or -1 for "outside" (constant mode). */
static int64_t src_index(int64_t i, int64_t n, nn_pad_mode mode) {
  if (i >= 0 && i < n) return i;
  switch (mode) {
  case NN_PAD_EDGE: return i < 0 ? 0 : n - 1;
  case NN_PAD_REFLECT: {
    if (n == 1) return 0;
    const int64_t period = 2 * (n - 1);
    int64_t r = i % period;
    if (r < 0) r += period;
    return r < n ? r : period - r;
  }
  case NN_PAD_WRAP: {
    int64_t r = i % n;
    return r < 0 ? r + n : r;
  }
  default: return -1;
  }
}

static void fill(char *dst, const void *value, size_t es, int64_t n) {
  for (int64_t k = 0; k < n; k++) memcpy(dst + (size_t)k * es, value, es);
}

void nn_x_pad__ref(int ndim, const int64_t *in_dims, const int64_t *out_dims,
                   const int64_t *pad_begin, size_t es, const void *x, void *y,
                   nn_pad_mode mode, const void *value) {
  int64_t rows = 1, in_stride[NN_MAX_DIMS];
  if (ndim == 0) {
    memcpy(y, x, es);
    return;
  }
  for (int d = 0; d < ndim; d++) {
    if (out_dims[d] == 0) return;
    if (d < ndim - 1) rows *= out_dims[d];
  }
  int64_t s = 1;
  for (int d = ndim - 1; d >= 0; d--) {
    in_stride[d] = s;
    s *= in_dims[d];
  }
  const int last = ndim - 1;
  const int64_t ow = out_dims[last], iw = in_dims[last], pb = pad_begin[last];
  /* Interior of a row: output [o0, o1) maps onto input [o0 - pb, o1 - pb). */
  int64_t o0 = pb < 0 ? 0 : pb, o1 = pb + iw;
  if (o1 > ow) o1 = ow;
  if (o1 < o0) o1 = o0;
  int64_t idx[NN_MAX_DIMS] = {0};
  const char *xb = x;
  char *yrow = y;
  for (int64_t r = 0; r < rows; r++, yrow += (size_t)ow * es) {
    int64_t off = 0, inside = 1;
    for (int d = 0; d < last; d++) {
      const int64_t si = src_index(idx[d] - pad_begin[d], in_dims[d], mode);
      if (si < 0) {
        inside = 0;
        break;
      }
      off += si * in_stride[d];
    }
    if (!inside) {
      fill(yrow, value, es, ow);
    } else {
      const char *xrow = xb + (size_t)off * es;
      for (int64_t o = 0; o < o0; o++) {
        const int64_t si = src_index(o - pb, iw, mode);
        if (si < 0) fill(yrow + (size_t)o * es, value, es, 1);
        else memcpy(yrow + (size_t)o * es, xrow + (size_t)si * es, es);
      }
      if (o1 > o0)
        memcpy(yrow + (size_t)o0 * es, xrow + (size_t)(o0 - pb) * es, (size_t)(o1 - o0) * es);
      for (int64_t o = o1; o < ow; o++) {
        const int64_t si = src_index(o - pb, iw, mode);
        if (si < 0) fill(yrow + (size_t)o * es, value, es, 1);
        else memcpy(yrow + (size_t)o * es, xrow + (size_t)si * es, es);
      }
    }
    for (int d = last - 1; d >= 0; d--) {
      if (++idx[d] < out_dims[d]) break;
      idx[d] = 0;
    }
  }
}
