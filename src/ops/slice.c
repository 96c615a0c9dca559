/*
 * slice.c - Slice (opset 1 attributes; opset >= 10 inputs with steps, negative steps
 * and clamping). The result is a strided view of the input, copied densely.
 */
#include "kernels/ref/transpose.h"
#include "ops/op.h"

/* Per input axis: first index read, step and output count. */
typedef struct slice_params {
  int64_t start[NN_MAX_DIMS], step[NN_MAX_DIMS], count[NN_MAX_DIMS];
} slice_params;

/* Values of a 1-D int32/int64 input or attribute; n = -1 when absent. */
static nn_status slice_list(nn_op_ctx *ctx, int idx, const char *name, int64_t *vals,
                            int *n) {
  *n = -1;
  if (ctx->opset < 10) {
    const int64_t *a;
    int c = nn_attr_ints(ctx->node, name, &a);
    if (c > NN_MAX_DIMS)
      return nn_op_error(ctx, NN_ERR_INVALID, "attribute '%s' has %d values", name, c);
    for (int i = 0; i < c; i++) vals[i] = a[i];
    *n = c;
    return NN_OK;
  }
  if (!nn_in(ctx, idx)) return NN_OK;
  const nn_value *v = nn_in_known(ctx, idx);
  if (!v) return NN_INFER_DEFERRED;
  if (v->dtype != NN_INT64 && v->dtype != NN_INT32)
    return nn_op_error(ctx, NN_ERR_INVALID, "input '%s' has dtype %s, expected int32/int64",
                       name, nn_dtype_name(v->dtype));
  if (v->ndim != 1)
    return nn_op_error(ctx, NN_ERR_INVALID, "input '%s' has rank %d, expected 1", name,
                       v->ndim);
  int64_t c = v->dims[0];
  if (c > NN_MAX_DIMS)
    return nn_op_error(ctx, NN_ERR_INVALID, "input '%s' has %lld values", name, (long long)c);
  for (int64_t i = 0; i < c; i++) vals[i] = nn_value_get_i64(v, i);
  *n = (int)c;
  return NN_OK;
}

static nn_status slice_compute(nn_op_ctx *ctx, slice_params *p) {
  const nn_value *x = ctx->in[0];
  const int r = x->ndim;
  int64_t starts[NN_MAX_DIMS], ends[NN_MAX_DIMS], axes[NN_MAX_DIMS], steps[NN_MAX_DIMS];
  int ns, ne, na, nst;
  nn_status st, deferred = NN_OK;
  if ((st = slice_list(ctx, 1, "starts", starts, &ns)) == NN_INFER_DEFERRED) deferred = st;
  else if (st) return st;
  if ((st = slice_list(ctx, 2, "ends", ends, &ne)) == NN_INFER_DEFERRED) deferred = st;
  else if (st) return st;
  if ((st = slice_list(ctx, 3, "axes", axes, &na)) == NN_INFER_DEFERRED) deferred = st;
  else if (st) return st;
  nst = -1;
  if (ctx->opset >= 10) {
    if ((st = slice_list(ctx, 4, "steps", steps, &nst)) == NN_INFER_DEFERRED) deferred = st;
    else if (st) return st;
  }
  if (deferred) return deferred;
  if (ns < 0 || ne < 0)
    return nn_op_error(ctx, NN_ERR_INVALID, "'starts' and 'ends' are required");
  if (ns != ne || (na >= 0 && na != ns) || (nst >= 0 && nst != ns))
    return nn_op_error(ctx, NN_ERR_INVALID,
                       "starts/ends/axes/steps have different lengths (%d/%d/%d/%d)", ns, ne,
                       na, nst);
  for (int a = 0; a < r; a++) {
    p->start[a] = 0;
    p->step[a] = 1;
    p->count[a] = x->dims[a];
  }
  int seen[NN_MAX_DIMS] = {0};
  for (int i = 0; i < ns; i++) {
    int a;
    if ((st = nn_norm_axis(ctx, na >= 0 ? axes[i] : i, r, &a))) return st;
    if (r == 0) return nn_op_error(ctx, NN_ERR_INVALID, "cannot slice a scalar");
    if (seen[a]) return nn_op_error(ctx, NN_ERR_INVALID, "axis %d repeated", a);
    seen[a] = 1;
    const int64_t n = x->dims[a], step = nst >= 0 ? steps[i] : 1;
    if (step == 0) return nn_op_error(ctx, NN_ERR_INVALID, "steps[%d] is 0", i);
    int64_t s = starts[i], e = ends[i], cnt;
    if (s < 0) s += n;
    if (e < 0) e += n;
    if (step > 0) {
      s = s < 0 ? 0 : s > n ? n : s;
      e = e < 0 ? 0 : e > n ? n : e;
      cnt = e > s ? (e - s - 1) / step + 1 : 0;
    } else {
      s = s < 0 ? 0 : s > n - 1 ? n - 1 : s;
      e = e < -1 ? -1 : e > n - 1 ? n - 1 : e;
      const int64_t mag = step == INT64_MIN ? INT64_MAX : -step;
      cnt = (n > 0 && s > e) ? (s - e - 1) / mag + 1 : 0;
    }
    p->start[a] = cnt ? s : 0;
    p->step[a] = step;
    p->count[a] = cnt;
  }
  return NN_OK;
}

static nn_status slice_infer(nn_op_ctx *ctx) {
  if (nn_op_need_io(ctx, 1)) return NN_ERR_INVALID;
  const nn_value *x = ctx->in[0];
  slice_params p;
  nn_status st = slice_compute(ctx, &p);
  if (st == NN_INFER_DEFERRED) ctx->out[0]->dtype = x->dtype;
  if (st) return st;
  return nn_value_set(ctx, ctx->out[0], x->dtype, x->ndim, p.count);
}

static nn_status slice_run(nn_op_ctx *ctx) {
  const nn_value *x = ctx->in[0];
  nn_value *y = ctx->out[0];
  slice_params p;
  nn_status st = slice_compute(ctx, &p);
  if (st) return st == NN_INFER_DEFERRED ? nn_op_error(ctx, NN_ERR_RUNTIME, "inputs unknown") : st;
  if (nn_value_numel(y) == 0) return NN_OK;
  const size_t elem = nn_dtype_size(x->dtype);
  int64_t strides[NN_MAX_DIMS], s = 1, off = 0;
  for (int a = x->ndim - 1; a >= 0; a--) {
    off += p.start[a] * s;
    strides[a] = p.step[a] * s;
    s *= x->dims[a];
  }
  nn_xN_strided_copy__ref((const char *)x->data + (size_t)off * elem, y->data, elem, x->ndim,
                          p.count, strides);
  return nn_value_own_strings(ctx, y);
}

NN_OP(Slice) = {.op_type = "Slice", .domain = "", .infer = slice_infer, .run = slice_run};
