/*
 * reduce.h - reference reductions (ReduceSum/Mean/Max/Min/Prod/L1/L2/LogSum/
 * LogSumExp/SumSquare), ArgMax/ArgMin and CumSum. Float inputs accumulate in double,
 * integer inputs in int64 (wrapping), so the reference is at least as exact as any
 * fast kernel tested against it.
 */
#ifndef NN_KERNELS_REF_REDUCE_H
#define NN_KERNELS_REF_REDUCE_H

#include <stdint.h>

#include "nnopt.h"

typedef enum nn_reduce_op {
  NN_RED_SUM,
  NN_RED_MEAN,
  NN_RED_MAX,
  NN_RED_MIN,
  NN_RED_PROD,
  NN_RED_L1,
  NN_RED_L2,
  NN_RED_LOGSUM,
  NN_RED_LOGSUMEXP, /* float dtypes only */
  NN_RED_SUMSQ,
} nn_reduce_op;

/*
 * Input shape with a set of reduced axes, collapsed: size-1 axes dropped and runs of
 * adjacent axes with the same role merged. The output is the kept axes in order
 * (dense, row-major), whatever keepdims says about its shape.
 */
typedef struct nn_reduce_plan {
  int ndim; /* >= 1 */
  int64_t dims[NN_MAX_DIMS];
  int64_t strides[NN_MAX_DIMS]; /* input strides in elements */
  unsigned char reduced[NN_MAX_DIMS];
  int64_t count; /* input elements per output element */
  int64_t out_n; /* output elements */
} nn_reduce_plan;

/* reduce_mask[i] != 0 marks axis i (of ndim) as reduced. */
void nn_reduce_plan_init(nn_reduce_plan *p, int ndim, const int64_t *dims,
                         const unsigned char *reduce_mask);

void nn_f32_reduce__ref(const nn_reduce_plan *p, nn_reduce_op op, const float *x, float *y);
void nn_f64_reduce__ref(const nn_reduce_plan *p, nn_reduce_op op, const double *x,
                        double *y);
/* Any supported dtype (float32/64, float16, bfloat16, 8..64-bit integers); returns 0,
 * or -1 for an unsupported dtype/op pair. */
int nn_reduce__ref(const nn_reduce_plan *p, nn_reduce_op op, nn_dtype dt, const void *x,
                   void *y);
int nn_reduce_supported__ref(nn_reduce_op op, nn_dtype dt);

/*
 * ArgMax/ArgMin of x viewed as [outer, n, inner] along n (n >= 1): y is
 * [outer, inner] int64. Ties pick the first index, or the last with select_last.
 * NaN counts as the maximum (and minimum), as numpy does. Returns -1 for an
 * unsupported dtype.
 */
int nn_argmax__ref(int64_t outer, int64_t n, int64_t inner, nn_dtype dt, const void *x,
                   int64_t *y, int is_min, int select_last);

/* CumSum of x viewed as [outer, n, inner] along n; exclusive shifts by one (first is
 * 0), reverse sums from the end. Accumulates in the dtype itself, like numpy.
 * x and y must not overlap. Returns -1 for an unsupported dtype. */
int nn_cumsum__ref(int64_t outer, int64_t n, int64_t inner, nn_dtype dt, const void *x,
                   void *y, int exclusive, int reverse);

#endif
