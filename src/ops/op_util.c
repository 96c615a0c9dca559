/*
 * op_util.c - helpers shared by op implementations: errors naming the node, output
 * shape setting, broadcasting, axis normalization and generic element reads.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ops/op.h"
#include "runtime/session.h"

nn_status nn_op_error(const nn_op_ctx *ctx, nn_status st, const char *fmt, ...) {
  char msg[768], label[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  nn_node_label(ctx->graph, ctx->node_index, label, sizeof label);
  return nn_errorf(st, "%s: %s", label, msg);
}

int64_t nn_value_numel(const nn_value *v) {
  int64_t n = 1;
  for (int i = 0; i < v->ndim; i++) n *= v->dims[i];
  return n;
}

static nn_status shape_bytes(nn_op_ctx *ctx, nn_dtype dt, int ndim, const int64_t *dims,
                             size_t *bytes) {
  if (ndim < 0 || ndim > NN_MAX_DIMS)
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "output rank %d exceeds %d", ndim,
                       NN_MAX_DIMS);
  size_t n = nn_dtype_size(dt);
  if (!n) return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "output dtype %d unsupported", dt);
  for (int i = 0; i < ndim; i++) {
    if (dims[i] < 0)
      return nn_op_error(ctx, NN_ERR_INVALID, "output dim %d is negative (%lld)", i,
                         (long long)dims[i]);
    if (!nn_mul_size(n, (size_t)dims[i], &n) || n > ((size_t)1 << 40))
      return nn_op_error(ctx, NN_ERR_NOMEM, "output size overflows");
  }
  *bytes = n;
  return NN_OK;
}

nn_status nn_value_set(nn_op_ctx *ctx, nn_value *v, nn_dtype dt, int ndim,
                       const int64_t *dims) {
  if (!v) return NN_OK; /* omitted optional output */
  size_t bytes;
  nn_status st = shape_bytes(ctx, dt, ndim, dims, &bytes);
  if (st) return st;
  v->dtype = dt;
  v->ndim = ndim;
  if (ndim) memmove(v->dims, dims, (size_t)ndim * sizeof *dims);
  v->nbytes = bytes;
  return NN_OK;
}

nn_status nn_value_ensure(nn_op_ctx *ctx, nn_value *v, nn_dtype dt, int ndim,
                          const int64_t *dims) {
  if (!v) return NN_OK;
  size_t bytes;
  nn_status st = shape_bytes(ctx, dt, ndim, dims, &bytes);
  if (st) return st;
  if (!(v->flags & NN_V_DYNAMIC)) {
    if (v->dtype != dt || v->ndim != ndim ||
        (ndim && memcmp(v->dims, dims, (size_t)ndim * sizeof *dims)))
      return nn_op_error(ctx, NN_ERR_RUNTIME, "output shape differs from the planned one");
    return NN_OK;
  }
  st = nn_session_grow(ctx->session, v, bytes);
  if (st) return st;
  v->dtype = dt;
  v->ndim = ndim;
  if (ndim) memmove(v->dims, dims, (size_t)ndim * sizeof *dims);
  v->nbytes = bytes;
  return NN_OK;
}

nn_status nn_broadcast_shape(nn_op_ctx *ctx, int na, const int64_t *a, int nb,
                             const int64_t *b, int *nout, int64_t *out) {
  int n = na > nb ? na : nb;
  for (int i = 0; i < n; i++) {
    int64_t da = i < n - na ? 1 : a[i - (n - na)];
    int64_t db = i < n - nb ? 1 : b[i - (n - nb)];
    if (da == db || db == 1)
      out[i] = da;
    else if (da == 1)
      out[i] = db;
    else
      return nn_op_error(ctx, NN_ERR_INVALID,
                         "shapes cannot broadcast: dim %d is %lld vs %lld", i,
                         (long long)da, (long long)db);
  }
  *nout = n;
  return NN_OK;
}

nn_status nn_norm_axis(nn_op_ctx *ctx, int64_t axis, int rank, int *out) {
  if (axis < -(int64_t)rank || axis >= (int64_t)(rank ? rank : 1))
    return nn_op_error(ctx, NN_ERR_INVALID, "axis %lld out of range for rank %d",
                       (long long)axis, rank);
  *out = (int)(axis < 0 ? axis + rank : axis);
  return NN_OK;
}

int64_t nn_value_get_i64(const nn_value *v, int64_t i) {
  const nn_dtype_traits *tr = nn_dtype_traits_of(v->dtype);
  if (!tr || !tr->to_i64) return 0;
  return tr->to_i64((const char *)v->data + (size_t)i * tr->size);
}

double nn_value_get_f64(const nn_value *v, int64_t i) {
  const nn_dtype_traits *tr = nn_dtype_traits_of(v->dtype);
  if (!tr || !tr->to_f64) return 0;
  return tr->to_f64((const char *)v->data + (size_t)i * tr->size);
}

nn_status nn_op_need_io(nn_op_ctx *ctx, int n_in) {
  for (int i = 0; i < n_in; i++)
    if (!nn_in(ctx, i)) return nn_op_error(ctx, NN_ERR_INVALID, "input %d is missing", i);
  if (!nn_out(ctx, 0)) return nn_op_error(ctx, NN_ERR_INVALID, "output 0 is missing");
  return NN_OK;
}

nn_status nn_value_own_strings(nn_op_ctx *ctx, nn_value *y) {
  if (!y || y->dtype != NN_STRING || !y->data) return NN_OK;
  nn_bytes *b = y->data;
  const int64_t n = nn_value_numel(y);
  for (int64_t i = 0; i < n; i++) {
    if (!b[i].data) continue;
    char *p = nn_strndup(b[i].data, b[i].len);
    if (!p) {
      for (int64_t j = i; j < n; j++) b[j] = (nn_bytes){0, NULL};
      return nn_op_error(ctx, NN_ERR_NOMEM, "out of memory copying strings");
    }
    b[i].data = p;
  }
  return NN_OK;
}

nn_status nn_op_ints_attr(nn_op_ctx *ctx, const char *name, int n, int64_t dflt,
                          int64_t min, int64_t *out, int *present) {
  const int64_t *v;
  int c = nn_attr_ints(ctx->node, name, &v);
  if (present) *present = c >= 0;
  if (c < 0) {
    for (int i = 0; i < n; i++) out[i] = dflt;
    return NN_OK;
  }
  if (c != n)
    return nn_op_error(ctx, NN_ERR_INVALID, "attribute '%s' has %d values, expected %d",
                       name, c, n);
  for (int i = 0; i < n; i++) {
    if (v[i] < min)
      return nn_op_error(ctx, NN_ERR_INVALID, "attribute '%s'[%d] is %lld, expected >= %lld",
                         name, i, (long long)v[i], (long long)min);
    out[i] = v[i];
  }
  return NN_OK;
}
