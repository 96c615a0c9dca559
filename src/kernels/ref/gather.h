/*
 * gather.h - reference gather kernels (Gather, GatherElements, GatherND), by element
 * size. Indices are int32 or int64 (idx_is_i64), may be negative (counted from the
 * end of the axis); each kernel returns -1 on success or the flat position of the
 * first index out of range, in which case out is partly written.
 */
#ifndef NN_KERNELS_REF_GATHER_H
#define NN_KERNELS_REF_GATHER_H

#include <stddef.h>
#include <stdint.h>

/* Normalize an index against an axis of size n: -1 when out of [-n, n). */
static inline int64_t nn_gather_norm_index(int64_t i, int64_t n) {
  if (i < 0) i += n;
  return (i < 0 || i >= n) ? -1 : i;
}

/* Index element k of an int32/int64 index buffer. */
static inline int64_t nn_gather_index_at(const void *idx, int idx_is_i64, int64_t k) {
  return idx_is_i64 ? ((const int64_t *)idx)[k] : (int64_t)((const int32_t *)idx)[k];
}

/*
 * Gather along an axis: data viewed as [outer, axis_dim, inner] (inner in elements),
 * indices flat with n_idx entries; out is [outer, n_idx, inner].
 */
int64_t nn_xN_gather__ref(const void *data, void *out, size_t elem, int64_t outer,
                          int64_t axis_dim, int64_t inner, const void *idx, int idx_is_i64,
                          int64_t n_idx);

/*
 * GatherElements: out has the shape of indices (idx_dims, rank ndim, same rank as data);
 * out[i] = data[i with coordinate axis replaced by indices[i]]. idx_dims[d] <= data_dims[d]
 * is the caller's job to check.
 */
int64_t nn_xN_gather_elements__ref(const void *data, void *out, size_t elem, int ndim,
                                   const int64_t *data_dims, const void *idx,
                                   int idx_is_i64, const int64_t *idx_dims, int axis);

/*
 * GatherND: data [B, D_0..D_{k-1}, slice] where B = product of the batch dims and
 * slice = elements after the k indexed axes; indices [B, n_tuples, k]; out
 * [B, n_tuples, slice].
 */
int64_t nn_xN_gather_nd__ref(const void *data, void *out, size_t elem, int64_t batch,
                             int k, const int64_t *index_dims, int64_t slice,
                             const void *idx, int idx_is_i64, int64_t n_tuples);

#endif
