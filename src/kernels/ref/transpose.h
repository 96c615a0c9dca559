/*
 * transpose.h - reference data-movement kernels that work on element size, not dtype:
 * axis permutation (Transpose and the runtime's layout changes) and a strided copy
 * (Slice, Expand, Tile are all "read in with arbitrary strides, write out densely").
 */
#ifndef NN_KERNELS_REF_TRANSPOSE_H
#define NN_KERNELS_REF_TRANSPOSE_H

#include <stddef.h>
#include <stdint.h>

/*
 * out = transpose(in, perm): in is a dense row-major tensor of shape dims[0..ndim),
 * out is dense with shape dims[perm[0]], ..., dims[perm[ndim-1]] (output axis k is
 * input axis perm[k]). perm must be a permutation of 0..ndim-1; in and out must not
 * overlap. ndim <= NN_MAX_DIMS (8). Size-1 axes are dropped and axes that stay
 * adjacent are merged first, so e.g. NCHW->NHWC runs as a tiled [C, HW] transpose.
 */
void nn_x8_transpose__ref(const uint8_t *in, uint8_t *out, int ndim, const int64_t *dims,
                          const int *perm);
void nn_x16_transpose__ref(const uint16_t *in, uint16_t *out, int ndim,
                           const int64_t *dims, const int *perm);
void nn_x32_transpose__ref(const uint32_t *in, uint32_t *out, int ndim,
                           const int64_t *dims, const int *perm);
void nn_x64_transpose__ref(const uint64_t *in, uint64_t *out, int ndim,
                           const int64_t *dims, const int *perm);
/* Any element size (bytes); dispatches to the typed versions for 1/2/4/8. */
void nn_xN_transpose__ref(const void *in, void *out, size_t elem, int ndim,
                          const int64_t *dims, const int *perm);

/*
 * Dense out of shape out_dims[0..ndim) where element (i0..in-1) is read from
 * in + sum_k i_k * in_strides[k] (strides in elements; may be 0 to broadcast or
 * negative to walk backwards). in points at the element read for index (0,...,0).
 * ndim <= 2 * NN_MAX_DIMS (Tile interleaves a repeat axis before each input axis).
 */
void nn_xN_strided_copy__ref(const void *in, void *out, size_t elem, int ndim,
                             const int64_t *out_dims, const int64_t *in_strides);

#endif
