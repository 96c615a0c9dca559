/*
 * elementwise.h - reference kernels for numpy-broadcasting elementwise ops: a
 * broadcast plan shared by binary ops, Where and broadcast copies, plus typed inner
 * loops per (dtype, op) named nn_<dtype>_<op>__ref.
 */
#ifndef NN_KERNELS_REF_ELEMENTWISE_H
#define NN_KERNELS_REF_ELEMENTWISE_H

#include <stddef.h>
#include <stdint.h>

#include "nnopt.h"

/*
 * Broadcast plan for up to 3 inputs against one dense row-major output. Output axes
 * of size 1 are dropped and adjacent axes along which every input walks contiguously
 * (or stays put) are merged, so "same shape" collapses to one axis, "tensor + scalar"
 * to one axis with stride 0, and "NCHW + per-channel [C,1,1]" to [N, C, HW] whose
 * innermost run is HW long. strides are in elements; after merging, the innermost
 * stride of every input is 0 or 1.
 */
typedef struct nn_bcast {
  int ndim; /* collapsed rank, >= 1 (a scalar output is [1]) */
  int n_in;
  int64_t numel; /* output elements */
  int64_t dims[NN_MAX_DIMS];
  int64_t strides[3][NN_MAX_DIMS];
} nn_bcast;

/* out_dims must be the numpy broadcast of the inputs' shapes (the op checks that). */
void nn_bcast_init(nn_bcast *p, int n_in, const int *in_ndim, const int64_t *const *in_dims,
                   int out_ndim, const int64_t *out_dims);

/*
 * Inner loop of a binary op over n output elements: y[i] = op(a[i*sa], b[i*sb]) with
 * sa, sb in {0, 1}. aux carries op-specific constants (NULL for most ops). y may alias
 * a or b when their stride is 1.
 */
typedef void (*nn_binary_fn)(int64_t n, const void *a, int sa, const void *b, int sb,
                             void *y, const void *aux);

typedef enum nn_binop {
  NN_BIN_ADD,
  NN_BIN_SUB,
  NN_BIN_MUL,
  NN_BIN_DIV,  /* integer division truncates; x/0 gives 0 for integers */
  NN_BIN_POW,  /* same-dtype base and exponent; integers by repeated squaring */
  NN_BIN_MOD,  /* result has the sign of the divisor (Python / numpy.mod) */
  NN_BIN_FMOD, /* result has the sign of the dividend (C fmod, %) */
  NN_BIN_MAX,  /* NaN propagates */
  NN_BIN_MIN,
  NN_BIN_PRELU, /* a < 0 ? a * b : a */
  NN_BIN_EQ,    /* comparisons write bool (uint8 0/1) */
  NN_BIN_LT,
  NN_BIN_GT,
  NN_BIN_LE,
  NN_BIN_GE,
  NN_BIN_AND, /* bool only */
  NN_BIN_OR,
  NN_BIN_XOR,
  NN_BIN_SHL, /* unsigned only; shifts >= the bit width give 0 */
  NN_BIN_SHR,
  NN_BIN_COUNT
} nn_binop;

/* Inner loop for op on inputs of dtype dt, or NULL when unsupported. */
nn_binary_fn nn_binary_lookup__ref(nn_binop op, nn_dtype dt);

/* Pow with base, exponent and output dtypes given by aux (nn_pow_types): computes in
 * double, or exactly in int64 when base and exponent are both integers. */
typedef struct nn_pow_types {
  nn_dtype base, exponent, out;
} nn_pow_types;
void nn_any_pow__ref(int64_t n, const void *a, int sa, const void *b, int sb, void *y,
                     const void *aux);

/* Apply fn over a 2-input plan; asz/bsz/ysz are element sizes in bytes. */
void nn_binary__ref(const nn_bcast *p, nn_binary_fn fn, const void *a, size_t asz,
                    const void *b, size_t bsz, void *y, size_t ysz, const void *aux);

/* out = cond ? x : y over a 3-input plan (cond, x, y); cond is bool, esize in {1,2,4,8}
 * or any other size (memcpy). */
void nn_where__ref(const nn_bcast *p, const uint8_t *cond, const void *x, const void *y,
                   void *out, size_t esize);

/* Dense out = broadcast of x over a 1-input plan. */
void nn_bcast_copy__ref(const nn_bcast *p, const void *x, void *out, size_t esize);

#endif
