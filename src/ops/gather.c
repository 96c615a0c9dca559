/*
 * gather.c - Gather, GatherElements, GatherND and Compress. Shapes and attributes are
 * checked in infer; indices are checked against the data while copying, and an index
 * out of range fails the run with the offending value.
 */
#include <string.h>

#include "kernels/ref/gather.h"
#include "ops/op.h"

static nn_status check_indices_dtype(nn_op_ctx *ctx, const nn_value *v, const char *name) {
  if (v->dtype != NN_INT64 && v->dtype != NN_INT32)
    return nn_op_error(ctx, NN_ERR_INVALID, "input '%s' has dtype %s, expected int32/int64",
                       name, nn_dtype_name(v->dtype));
  return NN_OK;
}

static nn_status bad_index(nn_op_ctx *ctx, const nn_value *idx, int64_t pos) {
  nn_value *y = ctx->out[0]; /* a partly copied string output must not share payloads */
  if (y->dtype == NN_STRING && y->data) memset(y->data, 0, y->nbytes);
  return nn_op_error(ctx, NN_ERR_RUNTIME, "index %lld at position %lld of input 'indices' is out of range",
                     (long long)nn_value_get_i64(idx, pos), (long long)pos);
}

/* ---- Gather ---- */

static nn_status gather_infer(nn_op_ctx *ctx) {
  if (nn_op_need_io(ctx, 2)) return NN_ERR_INVALID;
  const nn_value *x = ctx->in[0], *ix = ctx->in[1];
  nn_status st;
  if ((st = check_indices_dtype(ctx, ix, "indices"))) return st;
  if (x->ndim < 1) return nn_op_error(ctx, NN_ERR_INVALID, "input 'data' is a scalar");
  int axis;
  if ((st = nn_norm_axis(ctx, nn_attr_int(ctx->node, "axis", 0), x->ndim, &axis))) return st;
  int r = x->ndim - 1 + ix->ndim;
  if (r > NN_MAX_DIMS)
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "output rank %d exceeds %d", r, NN_MAX_DIMS);
  int64_t d[NN_MAX_DIMS];
  int k = 0;
  for (int i = 0; i < axis; i++) d[k++] = x->dims[i];
  for (int i = 0; i < ix->ndim; i++) d[k++] = ix->dims[i];
  for (int i = axis + 1; i < x->ndim; i++) d[k++] = x->dims[i];
  return nn_value_set(ctx, ctx->out[0], x->dtype, r, d);
}

static nn_status gather_run(nn_op_ctx *ctx) {
  const nn_value *x = ctx->in[0], *ix = ctx->in[1];
  int axis;
  nn_status st = nn_norm_axis(ctx, nn_attr_int(ctx->node, "axis", 0), x->ndim, &axis);
  if (st) return st;
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; i++) outer *= x->dims[i];
  for (int i = axis + 1; i < x->ndim; i++) inner *= x->dims[i];
  int64_t bad = nn_xN_gather__ref(x->data, ctx->out[0]->data, nn_dtype_size(x->dtype), outer,
                                  x->dims[axis], inner, ix->data, ix->dtype == NN_INT64,
                                  nn_value_numel(ix));
  return bad >= 0 ? bad_index(ctx, ix, bad) : nn_value_own_strings(ctx, ctx->out[0]);
}

NN_OP(Gather) = {.op_type = "Gather", .domain = "", .infer = gather_infer, .run = gather_run};

/* ---- GatherElements ---- */

static nn_status gather_elements_infer(nn_op_ctx *ctx) {
  if (nn_op_need_io(ctx, 2)) return NN_ERR_INVALID;
  const nn_value *x = ctx->in[0], *ix = ctx->in[1];
  nn_status st;
  if ((st = check_indices_dtype(ctx, ix, "indices"))) return st;
  if (x->ndim < 1) return nn_op_error(ctx, NN_ERR_INVALID, "input 'data' is a scalar");
  if (ix->ndim != x->ndim)
    return nn_op_error(ctx, NN_ERR_INVALID, "input 'indices' has rank %d, expected %d",
                       ix->ndim, x->ndim);
  int axis;
  if ((st = nn_norm_axis(ctx, nn_attr_int(ctx->node, "axis", 0), x->ndim, &axis))) return st;
  for (int i = 0; i < x->ndim; i++)
    if (i != axis && ix->dims[i] > x->dims[i])
      return nn_op_error(ctx, NN_ERR_INVALID,
                         "dim %d of input 'indices' (%lld) exceeds that of 'data' (%lld)", i,
                         (long long)ix->dims[i], (long long)x->dims[i]);
  return nn_value_set(ctx, ctx->out[0], x->dtype, ix->ndim, ix->dims);
}

static nn_status gather_elements_run(nn_op_ctx *ctx) {
  const nn_value *x = ctx->in[0], *ix = ctx->in[1];
  int axis;
  nn_status st = nn_norm_axis(ctx, nn_attr_int(ctx->node, "axis", 0), x->ndim, &axis);
  if (st) return st;
  int64_t bad = nn_xN_gather_elements__ref(x->data, ctx->out[0]->data, nn_dtype_size(x->dtype),
                                           x->ndim, x->dims, ix->data, ix->dtype == NN_INT64,
                                           ix->dims, axis);
  return bad >= 0 ? bad_index(ctx, ix, bad) : nn_value_own_strings(ctx, ctx->out[0]);
}

NN_OP(GatherElements) = {.op_type = "GatherElements", .domain = "",
                         .infer = gather_elements_infer, .run = gather_elements_run};

/* ---- GatherND ---- */

typedef struct gnd_geom {
  int b, k;
  int64_t batch, n_tuples, slice;
} gnd_geom;

static nn_status gather_nd_geom(nn_op_ctx *ctx, gnd_geom *g) {
  const nn_value *x = ctx->in[0], *ix = ctx->in[1];
  nn_status st;
  if ((st = check_indices_dtype(ctx, ix, "indices"))) return st;
  int64_t b = ctx->opset >= 12 ? nn_attr_int(ctx->node, "batch_dims", 0) : 0;
  if (ix->ndim < 1) return nn_op_error(ctx, NN_ERR_INVALID, "input 'indices' is a scalar");
  if (b < 0 || b >= ix->ndim || b >= x->ndim)
    return nn_op_error(ctx, NN_ERR_INVALID, "batch_dims %lld out of range", (long long)b);
  int64_t k = ix->dims[ix->ndim - 1];
  if (k < 1 || k > x->ndim - b)
    return nn_op_error(ctx, NN_ERR_INVALID,
                       "last dim of input 'indices' is %lld, expected 1..%lld", (long long)k,
                       (long long)(x->ndim - b));
  g->b = (int)b;
  g->k = (int)k;
  g->batch = 1;
  for (int i = 0; i < b; i++) {
    if (ix->dims[i] != x->dims[i])
      return nn_op_error(ctx, NN_ERR_INVALID,
                         "batch dim %d differs: 'data' %lld vs 'indices' %lld", i,
                         (long long)x->dims[i], (long long)ix->dims[i]);
    g->batch *= x->dims[i];
  }
  g->n_tuples = 1;
  for (int i = (int)b; i < ix->ndim - 1; i++) g->n_tuples *= ix->dims[i];
  g->slice = 1;
  for (int i = (int)(b + k); i < x->ndim; i++) g->slice *= x->dims[i];
  return NN_OK;
}

static nn_status gather_nd_infer(nn_op_ctx *ctx) {
  if (nn_op_need_io(ctx, 2)) return NN_ERR_INVALID;
  const nn_value *x = ctx->in[0], *ix = ctx->in[1];
  gnd_geom g;
  nn_status st = gather_nd_geom(ctx, &g);
  if (st) return st;
  int r = ix->ndim - 1 + x->ndim - g.b - g.k;
  if (r > NN_MAX_DIMS)
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "output rank %d exceeds %d", r, NN_MAX_DIMS);
  int64_t d[NN_MAX_DIMS];
  int n = 0;
  for (int i = 0; i < ix->ndim - 1; i++) d[n++] = ix->dims[i];
  for (int i = g.b + g.k; i < x->ndim; i++) d[n++] = x->dims[i];
  return nn_value_set(ctx, ctx->out[0], x->dtype, r, d);
}

static nn_status gather_nd_run(nn_op_ctx *ctx) {
  const nn_value *x = ctx->in[0], *ix = ctx->in[1];
  gnd_geom g;
  nn_status st = gather_nd_geom(ctx, &g);
  if (st) return st;
  int64_t bad = nn_xN_gather_nd__ref(x->data, ctx->out[0]->data, nn_dtype_size(x->dtype),
                                     g.batch, g.k, x->dims + g.b, g.slice, ix->data,
                                     ix->dtype == NN_INT64, g.n_tuples);
  return bad >= 0 ? bad_index(ctx, ix, bad) : nn_value_own_strings(ctx, ctx->out[0]);
}

NN_OP(GatherND) = {.op_type = "GatherND", .domain = "", .infer = gather_nd_infer,
                   .run = gather_nd_run};

/* ---- Compress ---- */

/* Geometry: input viewed as [outer, dim, inner]; axis < 0 means flattened. */
static nn_status compress_geom(nn_op_ctx *ctx, int *axis, int64_t *outer, int64_t *dim,
                               int64_t *inner) {
  const nn_value *x = ctx->in[0], *c = ctx->in[1];
  if (c->dtype != NN_BOOL)
    return nn_op_error(ctx, NN_ERR_INVALID, "input 'condition' has dtype %s, expected bool",
                       nn_dtype_name(c->dtype));
  if (c->ndim != 1)
    return nn_op_error(ctx, NN_ERR_INVALID, "input 'condition' has rank %d, expected 1",
                       c->ndim);
  *axis = -1;
  *outer = *inner = 1;
  *dim = nn_value_numel(x);
  if (nn_node_attr(ctx->node, "axis")) {
    nn_status st = nn_norm_axis(ctx, nn_attr_int(ctx->node, "axis", 0), x->ndim, axis);
    if (st) return st;
    if (x->ndim == 0) return nn_op_error(ctx, NN_ERR_INVALID, "input 'input' is a scalar");
    *dim = x->dims[*axis];
    for (int i = 0; i < *axis; i++) *outer *= x->dims[i];
    for (int i = *axis + 1; i < x->ndim; i++) *inner *= x->dims[i];
  }
  return NN_OK;
}

static nn_status compress_infer(nn_op_ctx *ctx) {
  if (nn_op_need_io(ctx, 2)) return NN_ERR_INVALID;
  const nn_value *x = ctx->in[0];
  int axis;
  int64_t outer, dim, inner;
  nn_status st = compress_geom(ctx, &axis, &outer, &dim, &inner);
  if (st) return st;
  const nn_value *c = nn_in_known(ctx, 1);
  if (!c) {
    ctx->out[0]->dtype = x->dtype;
    return NN_INFER_DEFERRED;
  }
  const uint8_t *cv = c->data;
  int64_t n = c->dims[0], cnt = 0;
  for (int64_t i = 0; i < n; i++) {
    if (!cv[i]) continue;
    if (i >= dim)
      return nn_op_error(ctx, NN_ERR_INVALID,
                         "input 'condition' selects index %lld beyond the axis size %lld",
                         (long long)i, (long long)dim);
    cnt++;
  }
  if (axis < 0) return nn_value_set(ctx, ctx->out[0], x->dtype, 1, &cnt);
  int64_t d[NN_MAX_DIMS];
  memcpy(d, x->dims, sizeof d);
  d[axis] = cnt;
  return nn_value_set(ctx, ctx->out[0], x->dtype, x->ndim, d);
}

static nn_status compress_run(nn_op_ctx *ctx) {
  const nn_value *x = ctx->in[0], *c = ctx->in[1];
  int axis;
  int64_t outer, dim, inner;
  nn_status st = compress_geom(ctx, &axis, &outer, &dim, &inner);
  if (st) return st;
  const size_t row = (size_t)inner * nn_dtype_size(x->dtype);
  const uint8_t *cv = c->data;
  const int64_t n = c->dims[0] < dim ? c->dims[0] : dim;
  const char *src = x->data;
  char *dst = ctx->out[0]->data;
  for (int64_t b = 0; b < outer; b++)
    for (int64_t i = 0; i < n; i++)
      if (cv[i]) {
        memcpy(dst, src + (size_t)(b * dim + i) * row, row);
        dst += row;
      }
  return nn_value_own_strings(ctx, ctx->out[0]);
}

NN_OP(Compress) = {.op_type = "Compress", .domain = "", .infer = compress_infer,
                   .run = compress_run};
