/*
 * scatter.c - ScatterElements (and the deprecated Scatter), ScatterND, with the
 * reductions of opset 16 (add, mul) and 18 (max, min). The output starts as a copy of
 * data; updates are applied in index order, so with reduction 'none' the last write wins.
 */
#include <string.h>

#include "kernels/ref/gather.h"
#include "ops/op.h"

typedef enum { RED_NONE, RED_ADD, RED_MUL, RED_MAX, RED_MIN } reduction;

static nn_status get_reduction(nn_op_ctx *ctx, reduction *r) {
  *r = RED_NONE;
  if (ctx->opset < 16) return NN_OK;
  const char *s = nn_attr_string(ctx->node, "reduction", "none");
  if (!strcmp(s, "none")) *r = RED_NONE;
  else if (!strcmp(s, "add")) *r = RED_ADD;
  else if (!strcmp(s, "mul")) *r = RED_MUL;
  else if (ctx->opset >= 18 && !strcmp(s, "max")) *r = RED_MAX;
  else if (ctx->opset >= 18 && !strcmp(s, "min")) *r = RED_MIN;
  else return nn_op_error(ctx, NN_ERR_INVALID, "unknown reduction '%s'", s);
  return NN_OK;
}

/* dst = dst (op) src for one element. Floats go through double, which rounds exactly
 * like native float arithmetic for one add/mul; integers wrap like C unsigned math. */
static void apply(char *dst, const char *src, size_t elem, const nn_dtype_traits *tr,
                  nn_dtype dt, reduction r) {
  if (r == RED_NONE) {
    memcpy(dst, src, elem);
    return;
  }
  if (tr->is_float) {
    double a = tr->to_f64(dst), b = tr->to_f64(src), v;
    switch (r) {
    case RED_ADD: v = a + b; break;
    case RED_MUL: v = a * b; break;
    case RED_MAX: v = (a != a || b != b) ? a + b : a > b ? a : b; break;
    default: v = (a != a || b != b) ? a + b : a < b ? a : b; break;
    }
    tr->from_f64(dst, v);
    return;
  }
  int64_t a = tr->to_i64(dst), b = tr->to_i64(src), v;
  int lt = dt == NN_UINT64 ? (uint64_t)a < (uint64_t)b : a < b;
  switch (r) {
  case RED_ADD: v = (int64_t)((uint64_t)a + (uint64_t)b); break;
  case RED_MUL: v = (int64_t)((uint64_t)a * (uint64_t)b); break;
  case RED_MAX: v = lt ? b : a; break;
  default: v = lt ? a : b; break;
  }
  tr->from_i64(dst, v);
}

static nn_status check_common(nn_op_ctx *ctx, reduction r) {
  const nn_value *x = ctx->in[0], *ix = ctx->in[1], *u = ctx->in[2];
  if (ix->dtype != NN_INT64 && ix->dtype != NN_INT32)
    return nn_op_error(ctx, NN_ERR_INVALID, "input 'indices' has dtype %s, expected int32/int64",
                       nn_dtype_name(ix->dtype));
  if (u->dtype != x->dtype)
    return nn_op_error(ctx, NN_ERR_INVALID, "input 'updates' has dtype %s, 'data' has %s",
                       nn_dtype_name(u->dtype), nn_dtype_name(x->dtype));
  const nn_dtype_traits *tr = nn_dtype_traits_of(x->dtype);
  if (r != RED_NONE && (!tr || !tr->is_numeric))
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "reduction on dtype %s",
                       nn_dtype_name(x->dtype));
  return NN_OK;
}

static void copy_data(nn_op_ctx *ctx) {
  const nn_value *x = ctx->in[0];
  nn_value *y = ctx->out[0];
  if (y->data != x->data && x->nbytes) memcpy(y->data, x->data, x->nbytes);
}

static nn_status bad_index(nn_op_ctx *ctx, const nn_value *idx, int64_t pos) {
  nn_value *y = ctx->out[0]; /* a partly copied string output must not share payloads */
  if (y->dtype == NN_STRING && y->data && y->data != ctx->in[0]->data)
    memset(y->data, 0, y->nbytes);
  return nn_op_error(ctx, NN_ERR_RUNTIME,
                     "index %lld at position %lld of input 'indices' is out of range",
                     (long long)nn_value_get_i64(idx, pos), (long long)pos);
}

/* ---- ScatterElements / Scatter ---- */

static nn_status scatter_elements_infer(nn_op_ctx *ctx) {
  if (nn_op_need_io(ctx, 3)) return NN_ERR_INVALID;
  const nn_value *x = ctx->in[0], *ix = ctx->in[1], *u = ctx->in[2];
  reduction r;
  nn_status st;
  if ((st = get_reduction(ctx, &r)) || (st = check_common(ctx, r))) return st;
  if (x->ndim < 1) return nn_op_error(ctx, NN_ERR_INVALID, "input 'data' is a scalar");
  int axis;
  if ((st = nn_norm_axis(ctx, nn_attr_int(ctx->node, "axis", 0), x->ndim, &axis))) return st;
  if (ix->ndim != x->ndim)
    return nn_op_error(ctx, NN_ERR_INVALID, "input 'indices' has rank %d, expected %d",
                       ix->ndim, x->ndim);
  if (u->ndim != ix->ndim || memcmp(u->dims, ix->dims, (size_t)ix->ndim * sizeof(int64_t)))
    return nn_op_error(ctx, NN_ERR_INVALID, "inputs 'updates' and 'indices' differ in shape");
  for (int i = 0; i < x->ndim; i++)
    if (i != axis && ix->dims[i] > x->dims[i])
      return nn_op_error(ctx, NN_ERR_INVALID,
                         "dim %d of input 'indices' (%lld) exceeds that of 'data' (%lld)", i,
                         (long long)ix->dims[i], (long long)x->dims[i]);
  return nn_value_set(ctx, ctx->out[0], x->dtype, x->ndim, x->dims);
}

static nn_status scatter_elements_run(nn_op_ctx *ctx) {
  const nn_value *x = ctx->in[0], *ix = ctx->in[1], *u = ctx->in[2];
  nn_value *y = ctx->out[0];
  reduction r;
  int axis;
  nn_status st;
  if ((st = get_reduction(ctx, &r))) return st;
  if ((st = nn_norm_axis(ctx, nn_attr_int(ctx->node, "axis", 0), x->ndim, &axis))) return st;
  copy_data(ctx);
  const int nd = x->ndim;
  const size_t elem = nn_dtype_size(x->dtype);
  const nn_dtype_traits *tr = nn_dtype_traits_of(x->dtype);
  int64_t n = nn_value_numel(ix);
  if (n == 0) return y->data != x->data ? nn_value_own_strings(ctx, y) : NN_OK;
  int64_t ds[NN_MAX_DIMS], c[NN_MAX_DIMS] = {0}, s = 1;
  for (int k = nd - 1; k >= 0; k--) {
    ds[k] = s;
    s *= x->dims[k];
  }
  const int is64 = ix->dtype == NN_INT64;
  const char *up = u->data;
  char *out = y->data;
  int64_t base = 0;
  for (int64_t p = 0; p < n; p++) {
    int64_t i = nn_gather_norm_index(nn_gather_index_at(ix->data, is64, p), x->dims[axis]);
    if (i < 0) return bad_index(ctx, ix, p);
    apply(out + (size_t)(base + i * ds[axis]) * elem, up + (size_t)p * elem, elem, tr,
          x->dtype, r);
    for (int k = nd - 1; k >= 0; k--) {
      if (k != axis) base += ds[k];
      if (++c[k] < ix->dims[k]) break;
      if (k != axis) base -= ds[k] * ix->dims[k];
      c[k] = 0;
    }
  }
  return y->data != x->data ? nn_value_own_strings(ctx, y) : NN_OK;
}

NN_OP(ScatterElements) = {.op_type = "ScatterElements", .domain = "",
                          .infer = scatter_elements_infer, .run = scatter_elements_run};

/* Scatter (opset 9, deprecated at 11) is ScatterElements without reduction. */
NN_OP(Scatter) = {.op_type = "Scatter", .domain = "", .infer = scatter_elements_infer,
                  .run = scatter_elements_run};

/* ---- ScatterND ---- */

static nn_status scatter_nd_infer(nn_op_ctx *ctx) {
  if (nn_op_need_io(ctx, 3)) return NN_ERR_INVALID;
  const nn_value *x = ctx->in[0], *ix = ctx->in[1], *u = ctx->in[2];
  reduction r;
  nn_status st;
  if ((st = get_reduction(ctx, &r)) || (st = check_common(ctx, r))) return st;
  if (ix->ndim < 1) return nn_op_error(ctx, NN_ERR_INVALID, "input 'indices' is a scalar");
  int64_t k = ix->dims[ix->ndim - 1];
  if (k < 1 || k > x->ndim)
    return nn_op_error(ctx, NN_ERR_INVALID,
                       "last dim of input 'indices' is %lld, expected 1..%d", (long long)k,
                       x->ndim);
  /* updates: indices.shape[:-1] + data.shape[k:] */
  int ur = ix->ndim - 1 + x->ndim - (int)k;
  int ok = u->ndim == ur;
  for (int i = 0; ok && i < ix->ndim - 1; i++) ok = u->dims[i] == ix->dims[i];
  for (int i = (int)k; ok && i < x->ndim; i++) ok = u->dims[ix->ndim - 1 + i - k] == x->dims[i];
  if (!ok)
    return nn_op_error(ctx, NN_ERR_INVALID,
                       "input 'updates' must have shape indices.shape[:-1] + data.shape[%lld:]",
                       (long long)k);
  return nn_value_set(ctx, ctx->out[0], x->dtype, x->ndim, x->dims);
}

static nn_status scatter_nd_run(nn_op_ctx *ctx) {
  const nn_value *x = ctx->in[0], *ix = ctx->in[1], *u = ctx->in[2];
  reduction r;
  nn_status st;
  if ((st = get_reduction(ctx, &r))) return st;
  copy_data(ctx);
  const int k = (int)ix->dims[ix->ndim - 1];
  const size_t elem = nn_dtype_size(x->dtype);
  const nn_dtype_traits *tr = nn_dtype_traits_of(x->dtype);
  int64_t slice = 1, st_k[NN_MAX_DIMS];
  for (int i = k; i < x->ndim; i++) slice *= x->dims[i];
  int64_t s = slice;
  for (int j = k - 1; j >= 0; j--) {
    st_k[j] = s;
    s *= x->dims[j];
  }
  const int64_t n_tuples = nn_value_numel(ix) / k;
  const int is64 = ix->dtype == NN_INT64;
  const char *up = u->data;
  char *out = ctx->out[0]->data;
  for (int64_t t = 0; t < n_tuples; t++) {
    int64_t off = 0;
    for (int j = 0; j < k; j++) {
      int64_t i = nn_gather_norm_index(nn_gather_index_at(ix->data, is64, t * k + j), x->dims[j]);
      if (i < 0) return bad_index(ctx, ix, t * k + j);
      off += i * st_k[j];
    }
    char *dst = out + (size_t)off * elem;
    const char *src = up + (size_t)(t * slice) * elem;
    if (r == RED_NONE) {
      memcpy(dst, src, (size_t)slice * elem);
    } else {
      for (int64_t e = 0; e < slice; e++)
        apply(dst + (size_t)e * elem, src + (size_t)e * elem, elem, tr, x->dtype, r);
    }
  }
  return out != x->data ? nn_value_own_strings(ctx, ctx->out[0]) : NN_OK;
}

NN_OP(ScatterND) = {.op_type = "ScatterND", .domain = "", .infer = scatter_nd_infer,
                    .run = scatter_nd_run};
