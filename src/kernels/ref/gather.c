/*
 * gather.c - reference gather kernels. They copy bytes (rows with memcpy, single
 * elements with typed stores when aligned), so every dtype, strings included, works.
 */
#include "kernels/ref/gather.h"

#include <string.h>

#include "nnopt.h"

static inline void copy_elem(char *dst, const char *src, size_t elem) {
  switch (elem) {
  case 1: *dst = *src; break;
  case 2: memcpy(dst, src, 2); break;
  case 4: memcpy(dst, src, 4); break;
  case 8: memcpy(dst, src, 8); break;
  default: memcpy(dst, src, elem); break;
  }
}

int64_t nn_xN_gather__ref(const void *data, void *out, size_t elem, int64_t outer,
                          int64_t axis_dim, int64_t inner, const void *idx, int idx_is_i64,
                          int64_t n_idx) {
  const char *d = (const char *)data;
  char *o = (char *)out;
  const size_t row = (size_t)inner * elem;
  for (int64_t b = 0; b < outer; b++) {
    const char *db = d + (size_t)(b * axis_dim) * row;
    for (int64_t j = 0; j < n_idx; j++) {
      int64_t i = nn_gather_norm_index(nn_gather_index_at(idx, idx_is_i64, j), axis_dim);
      if (i < 0) return j;
      if (row == elem)
        copy_elem(o, db + (size_t)i * row, elem);
      else
        memcpy(o, db + (size_t)i * row, row);
      o += row;
    }
  }
  return -1;
}

int64_t nn_xN_gather_elements__ref(const void *data, void *out, size_t elem, int ndim,
                                   const int64_t *data_dims, const void *idx,
                                   int idx_is_i64, const int64_t *idx_dims, int axis) {
  int64_t n = 1, ds[NN_MAX_DIMS] = {0}, c[NN_MAX_DIMS] = {0};
  for (int k = 0; k < ndim; k++) n *= idx_dims[k];
  if (n == 0) return -1;
  int64_t s = 1;
  for (int k = ndim - 1; k >= 0; k--) {
    ds[k] = s;
    s *= data_dims[k];
  }
  const char *d = (const char *)data;
  char *o = (char *)out;
  int64_t base = 0; /* data offset of the current coordinate with the axis term zeroed */
  const int64_t na = data_dims[axis], sa = ds[axis];
  for (int64_t p = 0; p < n; p++) {
    int64_t i = nn_gather_norm_index(nn_gather_index_at(idx, idx_is_i64, p), na);
    if (i < 0) return p;
    copy_elem(o + (size_t)p * elem, d + (size_t)(base + i * sa) * elem, elem);
    for (int k = ndim - 1; k >= 0; k--) {
      if (k != axis) base += ds[k];
      if (++c[k] < idx_dims[k]) break;
      if (k != axis) base -= ds[k] * idx_dims[k];
      c[k] = 0;
    }
  }
  return -1;
}

int64_t nn_xN_gather_nd__ref(const void *data, void *out, size_t elem, int64_t batch,
                             int k, const int64_t *index_dims, int64_t slice,
                             const void *idx, int idx_is_i64, int64_t n_tuples) {
  int64_t st[NN_MAX_DIMS];
  int64_t s = slice;
  for (int j = k - 1; j >= 0; j--) {
    st[j] = s;
    s *= index_dims[j];
  }
  const int64_t batch_stride = s; /* elements of data per batch entry */
  const size_t row = (size_t)slice * elem;
  const char *d = (const char *)data;
  char *o = (char *)out;
  int64_t t = 0;
  for (int64_t b = 0; b < batch; b++) {
    for (int64_t q = 0; q < n_tuples; q++, t++) {
      int64_t off = b * batch_stride;
      for (int j = 0; j < k; j++) {
        int64_t i = nn_gather_norm_index(nn_gather_index_at(idx, idx_is_i64, t * k + j),
                                         index_dims[j]);
        if (i < 0) return t * k + j;
        off += i * st[j];
      }
      memcpy(o, d + (size_t)off * elem, row);
      o += row;
    }
  }
  return -1;
}
