/*
 * reduce.c - Reduce* ops (axes from the attribute, or from the second input as in
 * ReduceSum-13 and every Reduce-18; keepdims; noop_with_empty_axes), ArgMax/ArgMin and
 * CumSum, on top of the reference reduction kernels.
 */
#include <string.h>

#include "kernels/ref/reduce.h"
#include "ops/op.h"

static const struct {
  const char *name;
  nn_reduce_op op;
} g_reduce_ops[] = {
    {"ReduceSum", NN_RED_SUM},
    {"ReduceMean", NN_RED_MEAN},
    {"ReduceMax", NN_RED_MAX},
    {"ReduceMin", NN_RED_MIN},
    {"ReduceProd", NN_RED_PROD},
    {"ReduceL1", NN_RED_L1},
    {"ReduceL2", NN_RED_L2},
    {"ReduceLogSum", NN_RED_LOGSUM},
    {"ReduceLogSumExp", NN_RED_LOGSUMEXP},
    {"ReduceSumSquare", NN_RED_SUMSQ},
};

static nn_reduce_op reduce_op_of(const nn_op_ctx *ctx) {
  for (size_t i = 0; i < sizeof g_reduce_ops / sizeof g_reduce_ops[0]; i++)
    if (!strcmp(ctx->def->op_type, g_reduce_ops[i].name)) return g_reduce_ops[i].op;
  return NN_RED_SUM;
}

/*
 * Reduced-axes mask of the input; *noop set when the op is an identity (empty axes
 * with noop_with_empty_axes). Returns NN_INFER_DEFERRED when the axes input is not
 * known yet.
 */
static nn_status reduce_axes(nn_op_ctx *ctx, const nn_value *x, unsigned char *mask,
                             int *noop) {
  int rank = x->ndim;
  const int64_t *attr_axes = NULL;
  int64_t in_axes[NN_MAX_DIMS];
  int n = -1;
  const nn_value *ax = nn_in(ctx, 1);
  if (ax) {
    if (ax->dtype != NN_INT64)
      return nn_op_error(ctx, NN_ERR_INVALID, "input 'axes' is %s, expected int64",
                         nn_dtype_name(ax->dtype));
    if (ax->ndim > 1)
      return nn_op_error(ctx, NN_ERR_INVALID, "input 'axes' has rank %d, expected 1",
                         ax->ndim);
    int64_t m = nn_value_numel(ax);
    if (m > 0 && !ax->data) return NN_INFER_DEFERRED;
    if (m > rank)
      return nn_op_error(ctx, NN_ERR_INVALID, "input 'axes' has %lld entries for rank %d",
                         (long long)m, rank);
    for (int64_t i = 0; i < m; i++) in_axes[i] = nn_value_get_i64(ax, i);
    n = (int)m;
    attr_axes = in_axes;
  } else {
    n = nn_attr_ints(ctx->node, "axes", &attr_axes);
  }
  memset(mask, 0, NN_MAX_DIMS);
  *noop = 0;
  if (n <= 0) {
    if (nn_attr_int(ctx->node, "noop_with_empty_axes", 0)) {
      *noop = 1;
      return NN_OK;
    }
    memset(mask, 1, (size_t)rank);
    return NN_OK;
  }
  for (int i = 0; i < n; i++) {
    int a;
    nn_status st = nn_norm_axis(ctx, attr_axes[i], rank, &a);
    if (st) return st;
    if (rank == 0) continue;
    if (mask[a])
      return nn_op_error(ctx, NN_ERR_INVALID, "axis %lld is listed twice",
                         (long long)attr_axes[i]);
    mask[a] = 1;
  }
  return NN_OK;
}

static nn_status reduce_infer(nn_op_ctx *ctx) {
  const nn_value *x = nn_in(ctx, 0);
  if (!x) return nn_op_error(ctx, NN_ERR_INVALID, "input 'data' is missing");
  if (!nn_out(ctx, 0)) return nn_op_error(ctx, NN_ERR_INVALID, "output 0 is missing");
  nn_reduce_op op = reduce_op_of(ctx);
  if (!nn_reduce_supported__ref(op, x->dtype))
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "dtype %s is not supported",
                       nn_dtype_name(x->dtype));
  unsigned char mask[NN_MAX_DIMS];
  int noop;
  nn_status st = reduce_axes(ctx, x, mask, &noop);
  if (st) return st;
  if (noop) return nn_value_set(ctx, ctx->out[0], x->dtype, x->ndim, x->dims);
  int keep = (int)nn_attr_int(ctx->node, "keepdims", 1);
  int n = 0;
  int64_t d[NN_MAX_DIMS];
  for (int i = 0; i < x->ndim; i++) {
    if (!mask[i])
      d[n++] = x->dims[i];
    else if (keep)
      d[n++] = 1;
  }
  return nn_value_set(ctx, ctx->out[0], x->dtype, n, d);
}

static nn_status reduce_run(nn_op_ctx *ctx) {
  const nn_value *x = ctx->in[0];
  nn_value *y = ctx->out[0];
  unsigned char mask[NN_MAX_DIMS];
  int noop;
  nn_status st = reduce_axes(ctx, x, mask, &noop);
  if (st == NN_INFER_DEFERRED)
    return nn_op_error(ctx, NN_ERR_RUNTIME, "axes unknown at run");
  if (st) return st;
  if (noop) {
    if (y->data != x->data) memcpy(y->data, x->data, y->nbytes);
    return NN_OK;
  }
  nn_reduce_plan p;
  nn_reduce_plan_init(&p, x->ndim, x->dims, mask);
  if (nn_reduce__ref(&p, reduce_op_of(ctx), x->dtype, x->data, y->data))
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "dtype %s is not supported",
                       nn_dtype_name(x->dtype));
  return NN_OK;
}

#define DEF_REDUCE(Name)                                                                   \
  NN_OP(Name) = {.op_type = #Name, .domain = "", .infer = reduce_infer, .run = reduce_run};
DEF_REDUCE(ReduceSum)
DEF_REDUCE(ReduceMean)
DEF_REDUCE(ReduceMax)
DEF_REDUCE(ReduceMin)
DEF_REDUCE(ReduceProd)
DEF_REDUCE(ReduceL1)
DEF_REDUCE(ReduceL2)
DEF_REDUCE(ReduceLogSum)
DEF_REDUCE(ReduceLogSumExp)
DEF_REDUCE(ReduceSumSquare)

/* ---- ArgMax / ArgMin ---- */

static nn_status arg_layout(nn_op_ctx *ctx, const nn_value *x, int *axis, int64_t *outer,
                            int64_t *n, int64_t *inner) {
  nn_status st = nn_norm_axis(ctx, nn_attr_int(ctx->node, "axis", 0), x->ndim, axis);
  if (st) return st;
  if (x->ndim == 0) return nn_op_error(ctx, NN_ERR_INVALID, "input 'data' is a scalar");
  *outer = *n = *inner = 1;
  for (int i = 0; i < x->ndim; i++) {
    int64_t d = x->dims[i];
    if (i < *axis)
      *outer *= d;
    else if (i == *axis)
      *n = d;
    else
      *inner *= d;
  }
  if (*n < 1)
    return nn_op_error(ctx, NN_ERR_INVALID, "axis %d of input 'data' is empty", *axis);
  return NN_OK;
}

static nn_status arg_infer(nn_op_ctx *ctx) {
  const nn_value *x = nn_in(ctx, 0);
  if (!x) return nn_op_error(ctx, NN_ERR_INVALID, "input 'data' is missing");
  if (!nn_out(ctx, 0)) return nn_op_error(ctx, NN_ERR_INVALID, "output 0 is missing");
  int axis;
  int64_t o, n, i;
  nn_status st = arg_layout(ctx, x, &axis, &o, &n, &i);
  if (st) return st;
  int64_t probe = 0;
  if (nn_argmax__ref(0, 1, 0, x->dtype, NULL, &probe, 0, 0))
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "dtype %s is not supported",
                       nn_dtype_name(x->dtype));
  int keep = (int)nn_attr_int(ctx->node, "keepdims", 1);
  int nd = 0;
  int64_t d[NN_MAX_DIMS];
  for (int k = 0; k < x->ndim; k++) {
    if (k != axis)
      d[nd++] = x->dims[k];
    else if (keep)
      d[nd++] = 1;
  }
  return nn_value_set(ctx, ctx->out[0], NN_INT64, nd, d);
}

static nn_status arg_run(nn_op_ctx *ctx) {
  const nn_value *x = ctx->in[0];
  int axis;
  int64_t o, n, i;
  nn_status st = arg_layout(ctx, x, &axis, &o, &n, &i);
  if (st) return st;
  int is_min = !strcmp(ctx->def->op_type, "ArgMin");
  int last = (int)nn_attr_int(ctx->node, "select_last_index", 0);
  if (nn_argmax__ref(o, n, i, x->dtype, x->data, ctx->out[0]->data, is_min, last))
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "dtype %s is not supported",
                       nn_dtype_name(x->dtype));
  return NN_OK;
}

NN_OP(ArgMax) = {.op_type = "ArgMax", .domain = "", .infer = arg_infer, .run = arg_run};
NN_OP(ArgMin) = {.op_type = "ArgMin", .domain = "", .infer = arg_infer, .run = arg_run};

/* ---- CumSum ---- */

static nn_status cumsum_infer(nn_op_ctx *ctx) {
  const nn_value *x = nn_in(ctx, 0), *ax = nn_in(ctx, 1);
  if (!x || !ax)
    return nn_op_error(ctx, NN_ERR_INVALID, "inputs 'x' and 'axis' are required");
  if (!nn_out(ctx, 0)) return nn_op_error(ctx, NN_ERR_INVALID, "output 0 is missing");
  if (ax->dtype != NN_INT32 && ax->dtype != NN_INT64)
    return nn_op_error(ctx, NN_ERR_INVALID, "input 'axis' is %s, expected int32 or int64",
                       nn_dtype_name(ax->dtype));
  if (nn_value_numel(ax) != 1 || ax->ndim > 1)
    return nn_op_error(ctx, NN_ERR_INVALID, "input 'axis' must be a scalar");
  if (x->ndim == 0) return nn_op_error(ctx, NN_ERR_INVALID, "input 'x' is a scalar");
  if (nn_cumsum__ref(0, 0, 0, x->dtype, NULL, NULL, 0, 0))
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "dtype %s is not supported",
                       nn_dtype_name(x->dtype));
  if (ax->data) {
    int a;
    nn_status st = nn_norm_axis(ctx, nn_value_get_i64(ax, 0), x->ndim, &a);
    if (st) return st;
  }
  return nn_value_set(ctx, ctx->out[0], x->dtype, x->ndim, x->dims);
}

static nn_status cumsum_run(nn_op_ctx *ctx) {
  const nn_value *x = ctx->in[0];
  int axis;
  nn_status st = nn_norm_axis(ctx, nn_value_get_i64(ctx->in[1], 0), x->ndim, &axis);
  if (st) return st;
  int64_t outer = 1, n = x->dims[axis], inner = 1;
  for (int i = 0; i < axis; i++) outer *= x->dims[i];
  for (int i = axis + 1; i < x->ndim; i++) inner *= x->dims[i];
  if (x->data == ctx->out[0]->data)
    return nn_op_error(ctx, NN_ERR_RUNTIME, "CumSum cannot run in place");
  nn_cumsum__ref(outer, n, inner, x->dtype, x->data, ctx->out[0]->data,
                 (int)nn_attr_int(ctx->node, "exclusive", 0),
                 (int)nn_attr_int(ctx->node, "reverse", 0));
  return NN_OK;
}

NN_OP(CumSum) = {
    .op_type = "CumSum", .domain = "", .infer = cumsum_infer, .run = cumsum_run};
