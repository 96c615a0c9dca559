/*
 * shape_ops.c - ops that change only the shape, or read it: Reshape, Flatten, Squeeze,
 * Unsqueeze, Identity, Shape, Size, plus the broadcasting copies Expand and Tile.
 * The data is moved as bytes, so every dtype works; shape values read from inputs
 * (Reshape shape, Squeeze axes, ...) defer inference until they are known.
 */
#include <string.h>

#include "kernels/ref/transpose.h"
#include "ops/op.h"

/* Read a 0-D/1-D int64 (or int32 when allow_i32) tensor into vals (at most max). */
static nn_status read_int_list(nn_op_ctx *ctx, const nn_value *v, const char *what,
                               int allow_i32, int64_t *vals, int max, int *count) {
  if (v->dtype != NN_INT64 && !(allow_i32 && v->dtype == NN_INT32))
    return nn_op_error(ctx, NN_ERR_INVALID, "input '%s' has dtype %s, expected int64", what,
                       nn_dtype_name(v->dtype));
  if (v->ndim > 1)
    return nn_op_error(ctx, NN_ERR_INVALID, "input '%s' has rank %d, expected 1", what,
                       v->ndim);
  int64_t n = nn_value_numel(v);
  if (n > max)
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "input '%s' has %lld values, at most %d supported",
                       what, (long long)n, max);
  for (int64_t i = 0; i < n; i++) vals[i] = nn_value_get_i64(v, i);
  *count = (int)n;
  return NN_OK;
}

/* Output 0 gets input 0's bytes (shape-only ops). */
static nn_status run_copy(nn_op_ctx *ctx) {
  nn_value *x = ctx->in[0], *y = nn_out(ctx, 0);
  if (!y || y->data == x->data) return NN_OK;
  size_t n = x->nbytes < y->nbytes ? x->nbytes : y->nbytes;
  if (n) memcpy(y->data, x->data, n);
  return nn_value_own_strings(ctx, y);
}

/* ---- Reshape ---- */

static nn_status reshape_infer(nn_op_ctx *ctx) {
  if (nn_op_need_io(ctx, 1)) return NN_ERR_INVALID;
  const nn_value *x = ctx->in[0];
  int64_t shape[NN_MAX_DIMS];
  int n = 0;
  nn_status st;
  int allowzero = ctx->opset >= 14 ? (int)nn_attr_int(ctx->node, "allowzero", 0) : 0;
  if (ctx->opset < 5) {
    const int64_t *s;
    n = nn_attr_ints(ctx->node, "shape", &s);
    if (n < 0) return nn_op_error(ctx, NN_ERR_INVALID, "attribute 'shape' is missing");
    if (n > NN_MAX_DIMS)
      return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "shape has %d dims, at most %d supported",
                         n, NN_MAX_DIMS);
    memcpy(shape, s, (size_t)n * sizeof *s);
  } else {
    if (!nn_in(ctx, 1))
      return nn_op_error(ctx, NN_ERR_INVALID, "input 'shape' is missing");
    const nn_value *sv = nn_in_known(ctx, 1);
    if (!sv) {
      ctx->out[0]->dtype = x->dtype;
      return NN_INFER_DEFERRED;
    }
    if ((st = read_int_list(ctx, sv, "shape", 0, shape, NN_MAX_DIMS, &n))) return st;
  }
  int64_t total = nn_value_numel(x), known = 1;
  int infer_at = -1;
  for (int i = 0; i < n; i++) {
    if (shape[i] == 0 && !allowzero) {
      if (i >= x->ndim)
        return nn_op_error(ctx, NN_ERR_INVALID,
                           "shape[%d] is 0 (copy) but input 'data' has rank %d", i, x->ndim);
      shape[i] = x->dims[i];
    }
    if (shape[i] == -1) {
      if (infer_at >= 0)
        return nn_op_error(ctx, NN_ERR_INVALID, "shape has more than one -1");
      infer_at = i;
    } else if (shape[i] < 0) {
      return nn_op_error(ctx, NN_ERR_INVALID, "shape[%d] is %lld", i, (long long)shape[i]);
    } else if (__builtin_mul_overflow(known, shape[i], &known)) {
      return nn_op_error(ctx, NN_ERR_INVALID, "shape product overflows");
    }
  }
  if (infer_at >= 0) {
    if (known == 0) {
      if (total != 0)
        return nn_op_error(ctx, NN_ERR_INVALID, "cannot infer -1 with a zero-sized shape");
      shape[infer_at] = 0;
    } else {
      if (total % known)
        return nn_op_error(ctx, NN_ERR_INVALID,
                           "cannot reshape %lld elements with -1 and known product %lld",
                           (long long)total, (long long)known);
      shape[infer_at] = total / known;
    }
  } else if (known != total) {
    return nn_op_error(ctx, NN_ERR_INVALID, "cannot reshape %lld elements into %lld",
                       (long long)total, (long long)known);
  }
  return nn_value_set(ctx, ctx->out[0], x->dtype, n, shape);
}

NN_OP(Reshape) = {.op_type = "Reshape", .domain = "", .infer = reshape_infer,
                  .run = run_copy, .view = 1};

/* ---- Flatten ---- */

static nn_status flatten_infer(nn_op_ctx *ctx) {
  if (nn_op_need_io(ctx, 1)) return NN_ERR_INVALID;
  const nn_value *x = ctx->in[0];
  int64_t axis = nn_attr_int(ctx->node, "axis", 1);
  if (axis < 0) axis += x->ndim;
  if (axis < 0 || axis > x->ndim)
    return nn_op_error(ctx, NN_ERR_INVALID, "axis %lld out of range for input rank %d",
                       (long long)nn_attr_int(ctx->node, "axis", 1), x->ndim);
  int64_t d[2] = {1, 1};
  for (int i = 0; i < x->ndim; i++) d[i >= axis] *= x->dims[i];
  return nn_value_set(ctx, ctx->out[0], x->dtype, 2, d);
}

NN_OP(Flatten) = {.op_type = "Flatten", .domain = "", .infer = flatten_infer,
                  .run = run_copy, .view = 1};

/* ---- Squeeze / Unsqueeze ---- */

/* Axes from the attribute (opset < 13) or input 1. Returns NN_INFER_DEFERRED when the
 * input is present but unknown; *n = -1 when no axes are given at all. */
static nn_status get_axes(nn_op_ctx *ctx, int64_t *axes, int *n) {
  if (ctx->opset < 13) {
    const int64_t *a;
    int c = nn_attr_ints(ctx->node, "axes", &a);
    if (c > NN_MAX_DIMS)
      return nn_op_error(ctx, NN_ERR_INVALID, "too many axes (%d)", c);
    if (c > 0) memcpy(axes, a, (size_t)c * sizeof *a);
    *n = c;
    return NN_OK;
  }
  if (!nn_in(ctx, 1)) {
    *n = -1;
    return NN_OK;
  }
  const nn_value *av = nn_in_known(ctx, 1);
  if (!av) return NN_INFER_DEFERRED;
  return read_int_list(ctx, av, "axes", 0, axes, NN_MAX_DIMS, n);
}

static nn_status squeeze_infer(nn_op_ctx *ctx) {
  if (nn_op_need_io(ctx, 1)) return NN_ERR_INVALID;
  const nn_value *x = ctx->in[0];
  int64_t axes[NN_MAX_DIMS];
  int n;
  nn_status st = get_axes(ctx, axes, &n);
  if (st == NN_INFER_DEFERRED) ctx->out[0]->dtype = x->dtype;
  if (st) return st;
  int drop[NN_MAX_DIMS] = {0};
  if (n <= 0) { /* no (or empty) axes: every size-1 dim, as ONNX Runtime does */
    for (int i = 0; i < x->ndim; i++) drop[i] = x->dims[i] == 1;
  } else {
    for (int j = 0; j < n; j++) {
      int a;
      if ((st = nn_norm_axis(ctx, axes[j], x->ndim, &a))) return st;
      if (x->ndim == 0)
        return nn_op_error(ctx, NN_ERR_INVALID, "cannot squeeze a scalar");
      if (x->dims[a] != 1)
        return nn_op_error(ctx, NN_ERR_INVALID,
                           "cannot squeeze axis %d of input 'data': its size is %lld", a,
                           (long long)x->dims[a]);
      drop[a] = 1;
    }
  }
  int64_t d[NN_MAX_DIMS];
  int r = 0;
  for (int i = 0; i < x->ndim; i++)
    if (!drop[i]) d[r++] = x->dims[i];
  return nn_value_set(ctx, ctx->out[0], x->dtype, r, d);
}

NN_OP(Squeeze) = {.op_type = "Squeeze", .domain = "", .infer = squeeze_infer,
                  .run = run_copy, .view = 1};

static nn_status unsqueeze_infer(nn_op_ctx *ctx) {
  if (nn_op_need_io(ctx, 1)) return NN_ERR_INVALID;
  const nn_value *x = ctx->in[0];
  int64_t axes[NN_MAX_DIMS];
  int n;
  nn_status st = get_axes(ctx, axes, &n);
  if (st == NN_INFER_DEFERRED) ctx->out[0]->dtype = x->dtype;
  if (st) return st;
  if (n < 0) return nn_op_error(ctx, NN_ERR_INVALID, "axes are missing");
  int r = x->ndim + n;
  if (r > NN_MAX_DIMS)
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "output rank %d exceeds %d", r, NN_MAX_DIMS);
  int ins[NN_MAX_DIMS] = {0};
  for (int j = 0; j < n; j++) {
    int a;
    if ((st = nn_norm_axis(ctx, axes[j], r, &a))) return st;
    if (ins[a]) return nn_op_error(ctx, NN_ERR_INVALID, "axis %d repeated", a);
    ins[a] = 1;
  }
  int64_t d[NN_MAX_DIMS];
  for (int i = 0, k = 0; i < r; i++) d[i] = ins[i] ? 1 : x->dims[k++];
  return nn_value_set(ctx, ctx->out[0], x->dtype, r, d);
}

NN_OP(Unsqueeze) = {.op_type = "Unsqueeze", .domain = "", .infer = unsqueeze_infer,
                    .run = run_copy, .view = 1};

/* ---- Identity ---- */

static nn_status identity_infer(nn_op_ctx *ctx) {
  if (nn_op_need_io(ctx, 1)) return NN_ERR_INVALID;
  const nn_value *x = ctx->in[0];
  return nn_value_set(ctx, ctx->out[0], x->dtype, x->ndim, x->dims);
}

NN_OP(Identity) = {.op_type = "Identity", .domain = "", .infer = identity_infer,
                   .run = run_copy, .view = 1};

/* ---- Shape / Size ---- */

static void shape_range(const nn_op_ctx *ctx, int rank, int64_t *s, int64_t *e) {
  int64_t start = 0, end = rank;
  if (ctx->opset >= 15) {
    start = nn_attr_int(ctx->node, "start", 0);
    end = nn_attr_int(ctx->node, "end", rank);
  }
  if (start < 0) start += rank;
  if (end < 0) end += rank;
  start = start < 0 ? 0 : start > rank ? rank : start;
  end = end < 0 ? 0 : end > rank ? rank : end;
  *s = start;
  *e = end > start ? end : start;
}

static nn_status shape_infer(nn_op_ctx *ctx) {
  if (nn_op_need_io(ctx, 1)) return NN_ERR_INVALID;
  int64_t s, e;
  shape_range(ctx, ctx->in[0]->ndim, &s, &e);
  int64_t n = e - s;
  return nn_value_set(ctx, ctx->out[0], NN_INT64, 1, &n);
}

static nn_status shape_run(nn_op_ctx *ctx) {
  int64_t s, e;
  shape_range(ctx, ctx->in[0]->ndim, &s, &e);
  int64_t *y = ctx->out[0]->data;
  for (int64_t i = s; i < e; i++) y[i - s] = ctx->in[0]->dims[i];
  return NN_OK;
}

NN_OP(Shape) = {.op_type = "Shape", .domain = "", .infer = shape_infer, .run = shape_run,
                .shape_only = 1};

static nn_status size_infer(nn_op_ctx *ctx) {
  if (nn_op_need_io(ctx, 1)) return NN_ERR_INVALID;
  return nn_value_set(ctx, ctx->out[0], NN_INT64, 0, NULL);
}

static nn_status size_run(nn_op_ctx *ctx) {
  *(int64_t *)ctx->out[0]->data = nn_value_numel(ctx->in[0]);
  return NN_OK;
}

NN_OP(Size) = {.op_type = "Size", .domain = "", .infer = size_infer, .run = size_run,
               .shape_only = 1};

/* ---- Expand ---- */

static nn_status expand_infer(nn_op_ctx *ctx) {
  if (nn_op_need_io(ctx, 2)) return NN_ERR_INVALID;
  const nn_value *x = ctx->in[0];
  const nn_value *sv = nn_in_known(ctx, 1);
  if (!nn_in(ctx, 1)) return nn_op_error(ctx, NN_ERR_INVALID, "input 'shape' is missing");
  if (!sv) {
    ctx->out[0]->dtype = x->dtype;
    return NN_INFER_DEFERRED;
  }
  int64_t shape[NN_MAX_DIMS], d[NN_MAX_DIMS];
  int n, r;
  nn_status st = read_int_list(ctx, sv, "shape", 0, shape, NN_MAX_DIMS, &n);
  if (st) return st;
  for (int i = 0; i < n; i++)
    if (shape[i] < 0)
      return nn_op_error(ctx, NN_ERR_INVALID, "shape[%d] is %lld", i, (long long)shape[i]);
  if ((st = nn_broadcast_shape(ctx, x->ndim, x->dims, n, shape, &r, d))) return st;
  return nn_value_set(ctx, ctx->out[0], x->dtype, r, d);
}

static nn_status expand_run(nn_op_ctx *ctx) {
  const nn_value *x = ctx->in[0];
  nn_value *y = ctx->out[0];
  int64_t strides[NN_MAX_DIMS], s = 1;
  int off = y->ndim - x->ndim;
  for (int k = y->ndim - 1; k >= 0; k--) {
    int64_t xd = k >= off ? x->dims[k - off] : 1;
    strides[k] = xd == 1 ? 0 : s;
    s *= xd;
  }
  nn_xN_strided_copy__ref(x->data, y->data, nn_dtype_size(x->dtype), y->ndim, y->dims,
                          strides);
  return nn_value_own_strings(ctx, y);
}

NN_OP(Expand) = {.op_type = "Expand", .domain = "", .infer = expand_infer,
                 .run = expand_run};

/* ---- Tile ---- */

/* Repeats per axis: input 'repeats' (opset >= 6) or 'tiles' + 'axis' (opset 1). */
static nn_status tile_repeats(nn_op_ctx *ctx, int64_t *rep) {
  const nn_value *x = ctx->in[0];
  nn_status st;
  for (int i = 0; i < x->ndim; i++) rep[i] = 1;
  if (ctx->opset < 6) {
    const nn_value *tv = nn_in_known(ctx, 1), *av = nn_in_known(ctx, 2);
    if (!nn_in(ctx, 1) || !nn_in(ctx, 2))
      return nn_op_error(ctx, NN_ERR_INVALID, "inputs 'tiles' and 'axis' are required");
    if (!tv || !av) return NN_INFER_DEFERRED;
    int a;
    if ((st = nn_norm_axis(ctx, nn_value_get_i64(av, 0), x->ndim, &a))) return st;
    rep[a] = nn_value_get_i64(tv, 0);
  } else {
    if (!nn_in(ctx, 1)) return nn_op_error(ctx, NN_ERR_INVALID, "input 'repeats' is missing");
    const nn_value *rv = nn_in_known(ctx, 1);
    if (!rv) return NN_INFER_DEFERRED;
    int n;
    if ((st = read_int_list(ctx, rv, "repeats", 0, rep, NN_MAX_DIMS, &n))) return st;
    if (n != x->ndim)
      return nn_op_error(ctx, NN_ERR_INVALID,
                         "input 'repeats' has %d values, expected the input rank %d", n,
                         x->ndim);
  }
  for (int i = 0; i < x->ndim; i++)
    if (rep[i] < 0)
      return nn_op_error(ctx, NN_ERR_INVALID, "repeats[%d] is %lld", i, (long long)rep[i]);
  return NN_OK;
}

static nn_status tile_infer(nn_op_ctx *ctx) {
  if (nn_op_need_io(ctx, 1)) return NN_ERR_INVALID;
  const nn_value *x = ctx->in[0];
  int64_t rep[NN_MAX_DIMS], d[NN_MAX_DIMS];
  nn_status st = tile_repeats(ctx, rep);
  if (st == NN_INFER_DEFERRED) ctx->out[0]->dtype = x->dtype;
  if (st) return st;
  for (int i = 0; i < x->ndim; i++)
    if (__builtin_mul_overflow(x->dims[i], rep[i], &d[i]))
      return nn_op_error(ctx, NN_ERR_INVALID, "output dim %d overflows", i);
  return nn_value_set(ctx, ctx->out[0], x->dtype, x->ndim, d);
}

static nn_status tile_run(nn_op_ctx *ctx) {
  const nn_value *x = ctx->in[0];
  nn_value *y = ctx->out[0];
  int64_t rep[NN_MAX_DIMS];
  nn_status st = tile_repeats(ctx, rep);
  if (st) return st == NN_INFER_DEFERRED ? nn_op_error(ctx, NN_ERR_RUNTIME, "repeats unknown") : st;
  /* out viewed as [r0, d0, r1, d1, ...]: repeat axes read with stride 0 */
  int64_t od[2 * NN_MAX_DIMS], is[2 * NN_MAX_DIMS], s = 1;
  for (int k = x->ndim - 1; k >= 0; k--) {
    od[2 * k] = rep[k];
    is[2 * k] = 0;
    od[2 * k + 1] = x->dims[k];
    is[2 * k + 1] = s;
    s *= x->dims[k];
  }
  nn_xN_strided_copy__ref(x->data, y->data, nn_dtype_size(x->dtype), 2 * x->ndim, od, is);
  return nn_value_own_strings(ctx, y);
}

NN_OP(Tile) = {.op_type = "Tile", .domain = "", .infer = tile_infer, .run = tile_run};
