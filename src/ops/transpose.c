/*
 * transpose.c - Transpose: validates perm (default: reversed axes) and calls the
 * element-size transpose kernel, so every dtype is supported.
 */
#include "kernels/ref/transpose.h"
#include "ops/op.h"

static nn_status get_perm(nn_op_ctx *ctx, int rank, int *perm) {
  const int64_t *p;
  int n = nn_attr_ints(ctx->node, "perm", &p);
  if (n < 0) {
    for (int i = 0; i < rank; i++) perm[i] = rank - 1 - i;
    return NN_OK;
  }
  if (n != rank)
    return nn_op_error(ctx, NN_ERR_INVALID, "perm has %d entries but input 'data' has rank %d",
                       n, rank);
  int seen[NN_MAX_DIMS] = {0};
  for (int i = 0; i < n; i++) {
    int64_t a = p[i] < 0 ? p[i] + rank : p[i]; /* tolerate negative axes */
    if (a < 0 || a >= rank || seen[a])
      return nn_op_error(ctx, NN_ERR_INVALID, "perm is not a permutation of 0..%d", rank - 1);
    seen[a] = 1;
    perm[i] = (int)a;
  }
  return NN_OK;
}

static nn_status transpose_infer(nn_op_ctx *ctx) {
  if (nn_op_need_io(ctx, 1)) return NN_ERR_INVALID;
  const nn_value *x = ctx->in[0];
  int perm[NN_MAX_DIMS];
  int64_t d[NN_MAX_DIMS];
  nn_status st = get_perm(ctx, x->ndim, perm);
  if (st) return st;
  for (int i = 0; i < x->ndim; i++) d[i] = x->dims[perm[i]];
  return nn_value_set(ctx, ctx->out[0], x->dtype, x->ndim, d);
}

static nn_status transpose_run(nn_op_ctx *ctx) {
  const nn_value *x = ctx->in[0];
  int perm[NN_MAX_DIMS];
  nn_status st = get_perm(ctx, x->ndim, perm);
  if (st) return st;
  nn_xN_transpose__ref(x->data, ctx->out[0]->data, nn_dtype_size(x->dtype), x->ndim, x->dims,
                       perm);
  return nn_value_own_strings(ctx, ctx->out[0]);
}

NN_OP(Transpose) = {.op_type = "Transpose", .domain = "", .infer = transpose_infer,
                    .run = transpose_run};
