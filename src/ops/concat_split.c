/*
 * concat_split.c - Concat and Split: both view tensors as [outer, axis * inner] and
 * move contiguous byte blocks, so every dtype is supported.
 */
#include <string.h>

#include "ops/op.h"

/* ---- Concat ---- */

static nn_status concat_axis(nn_op_ctx *ctx, int rank, int *axis) {
  const nn_attr *a = nn_node_attr(ctx->node, "axis");
  if (!a && ctx->opset >= 4) return nn_op_error(ctx, NN_ERR_INVALID, "attribute 'axis' is missing");
  return nn_norm_axis(ctx, a ? a->i : 1, rank, axis);
}

static nn_status concat_infer(nn_op_ctx *ctx) {
  if (nn_op_need_io(ctx, 0)) return NN_ERR_INVALID;
  const nn_value *first = NULL;
  int fi = -1;
  for (int i = 0; i < ctx->n_in && !first; i++)
    if (ctx->in[i]) first = ctx->in[fi = i];
  if (!first) return nn_op_error(ctx, NN_ERR_INVALID, "no inputs");
  int axis;
  nn_status st = concat_axis(ctx, first->ndim, &axis);
  if (st) return st;
  if (first->ndim == 0) return nn_op_error(ctx, NN_ERR_INVALID, "cannot concatenate scalars");
  int64_t d[NN_MAX_DIMS];
  memcpy(d, first->dims, sizeof d);
  d[axis] = 0;
  for (int i = 0; i < ctx->n_in; i++) {
    const nn_value *x = ctx->in[i];
    if (!x) continue;
    if (x->dtype != first->dtype)
      return nn_op_error(ctx, NN_ERR_INVALID, "input %d has dtype %s, input %d has %s", i,
                         nn_dtype_name(x->dtype), fi, nn_dtype_name(first->dtype));
    if (x->ndim != first->ndim)
      return nn_op_error(ctx, NN_ERR_INVALID, "input %d has rank %d, input %d has rank %d", i,
                         x->ndim, fi, first->ndim);
    for (int k = 0; k < x->ndim; k++)
      if (k != axis && x->dims[k] != first->dims[k])
        return nn_op_error(ctx, NN_ERR_INVALID,
                           "input %d has dim %d = %lld, input %d has %lld", i, k,
                           (long long)x->dims[k], fi, (long long)first->dims[k]);
    d[axis] += x->dims[axis];
  }
  return nn_value_set(ctx, ctx->out[0], first->dtype, first->ndim, d);
}

static nn_status concat_run(nn_op_ctx *ctx) {
  nn_value *y = ctx->out[0];
  int axis;
  nn_status st = concat_axis(ctx, y->ndim, &axis);
  if (st) return st;
  const size_t elem = nn_dtype_size(y->dtype);
  int64_t outer = 1, inner = 1;
  for (int k = 0; k < axis; k++) outer *= y->dims[k];
  for (int k = axis + 1; k < y->ndim; k++) inner *= y->dims[k];
  const size_t orow = (size_t)(y->dims[axis] * inner) * elem;
  size_t col = 0; /* byte offset of the current input inside an output row */
  for (int i = 0; i < ctx->n_in; i++) {
    const nn_value *x = ctx->in[i];
    if (!x) continue;
    const size_t row = (size_t)(x->dims[axis] * inner) * elem;
    if (row) {
      const char *src = x->data;
      char *dst = (char *)y->data + col;
      for (int64_t b = 0; b < outer; b++) memcpy(dst + (size_t)b * orow, src + (size_t)b * row, row);
    }
    col += row;
  }
  return nn_value_own_strings(ctx, y);
}

NN_OP(Concat) = {.op_type = "Concat", .domain = "", .infer = concat_infer,
                 .run = concat_run};

/* ---- Split ---- */

/* Sizes of the outputs along the axis; NN_INFER_DEFERRED when input 'split' is unknown. */
static nn_status split_sizes(nn_op_ctx *ctx, int *axis_out, int64_t *sizes) {
  const nn_value *x = ctx->in[0];
  int axis;
  nn_status st = nn_norm_axis(ctx, nn_attr_int(ctx->node, "axis", 0), x->ndim, &axis);
  if (st) return st;
  if (x->ndim == 0) return nn_op_error(ctx, NN_ERR_INVALID, "cannot split a scalar");
  *axis_out = axis;
  const int n = ctx->n_out;
  const int64_t dim = x->dims[axis];
  int have = 0;
  const int64_t *s;
  int c = ctx->opset < 13 ? nn_attr_ints(ctx->node, "split", &s) : -1;
  if (c >= 0) {
    if (c != n)
      return nn_op_error(ctx, NN_ERR_INVALID, "'split' has %d values for %d outputs", c, n);
    memcpy(sizes, s, (size_t)n * sizeof *s);
    have = 1;
  } else if (nn_in(ctx, 1) && (ctx->opset >= 13 || ctx->opset < 2)) {
    const nn_value *sv = nn_in_known(ctx, 1);
    if (!sv) return NN_INFER_DEFERRED;
    if (sv->dtype != NN_INT64)
      return nn_op_error(ctx, NN_ERR_INVALID, "input 'split' has dtype %s, expected int64",
                         nn_dtype_name(sv->dtype));
    if (nn_value_numel(sv) != n)
      return nn_op_error(ctx, NN_ERR_INVALID, "input 'split' has %lld values for %d outputs",
                         (long long)nn_value_numel(sv), n);
    for (int i = 0; i < n; i++) sizes[i] = nn_value_get_i64(sv, i);
    have = 1;
  }
  if (have) {
    int64_t sum = 0;
    for (int i = 0; i < n; i++) {
      if (sizes[i] < 0)
        return nn_op_error(ctx, NN_ERR_INVALID, "split[%d] is %lld", i, (long long)sizes[i]);
      sum += sizes[i];
    }
    if (sum != dim)
      return nn_op_error(ctx, NN_ERR_INVALID,
                         "split sizes sum to %lld but axis %d of input 'input' has %lld",
                         (long long)sum, axis, (long long)dim);
    return NN_OK;
  }
  if (ctx->opset >= 18) {
    const nn_attr *no = nn_node_attr(ctx->node, "num_outputs");
    if (no && no->i != n)
      return nn_op_error(ctx, NN_ERR_INVALID, "num_outputs is %lld but the node has %d outputs",
                         (long long)no->i, n);
  }
  /* equal parts; when not divisible the last one is smaller (opset 18 rule) */
  int64_t chunk = (dim + n - 1) / n, last = dim - chunk * (n - 1);
  if (last < 0 || (ctx->opset < 18 && dim % n))
    return nn_op_error(ctx, NN_ERR_INVALID, "cannot split %lld into %d parts", (long long)dim,
                       n);
  for (int i = 0; i < n; i++) sizes[i] = i == n - 1 ? last : chunk;
  return NN_OK;
}

static nn_status split_infer(nn_op_ctx *ctx) {
  if (!nn_in(ctx, 0)) return nn_op_error(ctx, NN_ERR_INVALID, "input 'input' is missing");
  const nn_value *x = ctx->in[0];
  if (ctx->n_out < 1 || ctx->n_out > 4096)
    return nn_op_error(ctx, NN_ERR_INVALID, "bad output count %d", ctx->n_out);
  int64_t sizes[4096];
  int axis;
  nn_status st = split_sizes(ctx, &axis, sizes);
  if (st == NN_INFER_DEFERRED)
    for (int i = 0; i < ctx->n_out; i++)
      if (ctx->out[i]) ctx->out[i]->dtype = x->dtype;
  if (st) return st;
  int64_t d[NN_MAX_DIMS];
  memcpy(d, x->dims, sizeof d);
  for (int i = 0; i < ctx->n_out; i++) {
    d[axis] = sizes[i];
    if ((st = nn_value_set(ctx, ctx->out[i], x->dtype, x->ndim, d))) return st;
  }
  return NN_OK;
}

static nn_status split_run(nn_op_ctx *ctx) {
  const nn_value *x = ctx->in[0];
  int axis;
  int64_t sizes[4096];
  nn_status st = split_sizes(ctx, &axis, sizes);
  if (st) return st == NN_INFER_DEFERRED ? nn_op_error(ctx, NN_ERR_RUNTIME, "split unknown") : st;
  const size_t elem = nn_dtype_size(x->dtype);
  int64_t outer = 1, inner = 1;
  for (int k = 0; k < axis; k++) outer *= x->dims[k];
  for (int k = axis + 1; k < x->ndim; k++) inner *= x->dims[k];
  const size_t irow = (size_t)(x->dims[axis] * inner) * elem;
  size_t col = 0;
  for (int i = 0; i < ctx->n_out; i++) {
    const size_t row = (size_t)(sizes[i] * inner) * elem;
    nn_value *y = ctx->out[i];
    if (y && row) {
      const char *src = (const char *)x->data + col;
      char *dst = y->data;
      for (int64_t b = 0; b < outer; b++) memcpy(dst + (size_t)b * row, src + (size_t)b * irow, row);
      if ((st = nn_value_own_strings(ctx, y))) return st;
    }
    col += row;
  }
  return NN_OK;
}

NN_OP(Split) = {.op_type = "Split", .domain = "", .infer = split_infer, .run = split_run};
