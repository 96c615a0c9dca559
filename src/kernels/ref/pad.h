/*
 * pad.h - reference Pad for any element type (elements are moved as bytes).
 */
#ifndef NN_KERNELS_REF_PAD_H
#define NN_KERNELS_REF_PAD_H

#include <stddef.h>
#include <stdint.h>

typedef enum nn_pad_mode {
  NN_PAD_CONSTANT = 0, /* outside positions take *value */
  NN_PAD_REFLECT = 1,  /* mirror without repeating the edge: 2 1 | 0 1 2 | 1 0 */
  NN_PAD_EDGE = 2,     /* repeat the edge element */
  NN_PAD_WRAP = 3,     /* periodic: 1 2 | 0 1 2 | 0 1 */
} nn_pad_mode;

/*
 * y[o] = x[o - pad_begin] per axis, out-of-range positions resolved by mode.
 * pad_begin may be negative (cropping); out_dims gives the output extent (which
 * implies the end pads). Element size es bytes; value points to one element (used
 * by NN_PAD_CONSTANT only). For the non-constant modes every in_dim must be > 0
 * unless the output is empty. Reflect on an axis of size 1 repeats that element;
 * reflect and wrap are periodic, so pads larger than the axis are allowed.
 */
void nn_x_pad__ref(int ndim, const int64_t *in_dims, const int64_t *out_dims,
                   const int64_t *pad_begin, size_t es, const void *x, void *y,
                   nn_pad_mode mode, const void *value);

#endif
