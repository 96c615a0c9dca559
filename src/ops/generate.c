/*
 * generate.c - ops that create tensors: Constant, ConstantOfShape, Range, EyeLike and
 * OneHot. Fills work on element bytes (a one-element pattern repeated), so any dtype
 * the attribute or input carries is supported.
 */
#include <math.h>
#include <string.h>

#include "ops/op.h"

/* Repeat one element of elem bytes n times at dst. */
static void fill_pattern(void *dst, const void *val, size_t elem, int64_t n) {
  char *d = dst;
  if (n <= 0) return;
  memcpy(d, val, elem);
  size_t done = elem, total = (size_t)n * elem;
  while (done < total) { /* doubling copies */
    size_t c = done < total - done ? done : total - done;
    memcpy(d + done, d, c);
    done += c;
  }
}

/* ---- Constant ---- */

/* Which value attribute a Constant carries, and as what. */
typedef struct const_src {
  nn_dtype dt;
  int ndim;
  int64_t dims[NN_MAX_DIMS];
  const void *data;     /* element data, or NULL for the converted kinds below */
  const nn_attr *attr;
  int kind;             /* 0 tensor, 1 float, 2 floats, 3 int, 4 ints, 5 string, 6 strings */
} const_src;

static nn_status constant_source(nn_op_ctx *ctx, const_src *c) {
  static const char *const names[] = {"value",     "value_float",  "value_floats",
                                      "value_int", "value_ints",   "value_string",
                                      "value_strings"};
  const nn_attr *found = NULL;
  int kind = -1;
  for (int i = 0; i < 7; i++) {
    const nn_attr *a = nn_node_attr(ctx->node, names[i]);
    if (!a) continue;
    if (found)
      return nn_op_error(ctx, NN_ERR_INVALID, "both '%s' and '%s' are set", found->name,
                         a->name);
    found = a;
    kind = i;
  }
  if (!found) {
    if (nn_node_attr(ctx->node, "sparse_value"))
      return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "attribute 'sparse_value' is not supported");
    return nn_op_error(ctx, NN_ERR_INVALID, "no value attribute");
  }
  memset(c, 0, sizeof *c);
  c->attr = found;
  c->kind = kind;
  switch (kind) {
  case 0: {
    if (found->type != NN_ATTR_TENSOR || !found->tensors)
      return nn_op_error(ctx, NN_ERR_INVALID, "attribute 'value' is not a tensor");
    const nn_tensor *t = &found->tensors[0];
    if (t->ndim < 0 || t->ndim > NN_MAX_DIMS)
      return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "attribute 'value' has rank %d", t->ndim);
    c->dt = t->dtype;
    c->ndim = t->ndim;
    memcpy(c->dims, t->dims, (size_t)t->ndim * sizeof t->dims[0]);
    int64_t n = nn_tensor_numel(t);
    if (n < 0 || (n > 0 && (!t->data || t->nbytes < (size_t)n * nn_dtype_size(t->dtype))))
      return nn_op_error(ctx, NN_ERR_INVALID, "attribute 'value' has no or short data");
    c->data = t->data;
    break;
  }
  case 1: c->dt = NN_FLOAT; c->data = &found->f; break;
  case 2: c->dt = NN_FLOAT; c->ndim = 1; c->dims[0] = found->n; c->data = found->floats; break;
  case 3: c->dt = NN_INT64; c->data = &found->i; break;
  case 4: c->dt = NN_INT64; c->ndim = 1; c->dims[0] = found->n; c->data = found->ints; break;
  case 5: c->dt = NN_STRING; c->data = &found->s; break;
  default: c->dt = NN_STRING; c->ndim = 1; c->dims[0] = found->n; c->data = found->strings; break;
  }
  return NN_OK;
}

static nn_status constant_infer(nn_op_ctx *ctx) {
  if (nn_op_need_io(ctx, 0)) return NN_ERR_INVALID;
  const_src c;
  nn_status st = constant_source(ctx, &c);
  if (st) return st;
  return nn_value_set(ctx, ctx->out[0], c.dt, c.ndim, c.dims);
}

static nn_status constant_run(nn_op_ctx *ctx) {
  const_src c;
  nn_status st = constant_source(ctx, &c);
  if (st) return st;
  nn_value *y = ctx->out[0];
  /* string elements are copied as nn_bytes referring to the attribute's payload */
  if (y->nbytes) memcpy(y->data, c.data, y->nbytes);
  return nn_value_own_strings(ctx, y);
}

NN_OP(Constant) = {.op_type = "Constant", .domain = "", .infer = constant_infer,
                   .run = constant_run};

/* ---- ConstantOfShape ---- */

static nn_status cos_value(nn_op_ctx *ctx, nn_dtype *dt, const void **val) {
  static const float zero = 0.0f;
  const nn_attr *a = nn_node_attr(ctx->node, "value");
  *dt = NN_FLOAT;
  *val = &zero;
  if (!a) return NN_OK;
  if (a->type != NN_ATTR_TENSOR || !a->tensors)
    return nn_op_error(ctx, NN_ERR_INVALID, "attribute 'value' is not a tensor");
  const nn_tensor *t = &a->tensors[0];
  if (nn_tensor_numel(t) != 1 || !t->data)
    return nn_op_error(ctx, NN_ERR_INVALID, "attribute 'value' must hold one element");
  if (!nn_dtype_size(t->dtype))
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "attribute 'value' has dtype %d", t->dtype);
  *dt = t->dtype;
  *val = t->data;
  return NN_OK;
}

static nn_status cos_infer(nn_op_ctx *ctx) {
  if (nn_op_need_io(ctx, 1)) return NN_ERR_INVALID;
  nn_dtype dt;
  const void *val;
  nn_status st = cos_value(ctx, &dt, &val);
  if (st) return st;
  const nn_value *s = ctx->in[0];
  if (s->dtype != NN_INT64)
    return nn_op_error(ctx, NN_ERR_INVALID, "input 'input' has dtype %s, expected int64",
                       nn_dtype_name(s->dtype));
  if (s->ndim != 1)
    return nn_op_error(ctx, NN_ERR_INVALID, "input 'input' has rank %d, expected 1", s->ndim);
  if (!s->data) {
    ctx->out[0]->dtype = dt;
    return NN_INFER_DEFERRED;
  }
  if (s->dims[0] > NN_MAX_DIMS)
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "output rank %lld exceeds %d",
                       (long long)s->dims[0], NN_MAX_DIMS);
  int64_t d[NN_MAX_DIMS];
  for (int i = 0; i < s->dims[0]; i++) {
    d[i] = nn_value_get_i64(s, i);
    if (d[i] < 0)
      return nn_op_error(ctx, NN_ERR_INVALID, "input 'input'[%d] is %lld", i, (long long)d[i]);
  }
  return nn_value_set(ctx, ctx->out[0], dt, (int)s->dims[0], d);
}

static nn_status cos_run(nn_op_ctx *ctx) {
  nn_dtype dt;
  const void *val;
  nn_status st = cos_value(ctx, &dt, &val);
  if (st) return st;
  nn_value *y = ctx->out[0];
  fill_pattern(y->data, val, nn_dtype_size(dt), nn_value_numel(y));
  return nn_value_own_strings(ctx, y);
}

NN_OP(ConstantOfShape) = {.op_type = "ConstantOfShape", .domain = "", .infer = cos_infer,
                          .run = cos_run};

/* ---- Range ---- */

static nn_status range_check(nn_op_ctx *ctx) {
  const char *names[3] = {"start", "limit", "delta"};
  const nn_dtype dt = ctx->in[0]->dtype;
  for (int i = 0; i < 3; i++) {
    const nn_value *v = nn_in(ctx, i);
    if (!v) return nn_op_error(ctx, NN_ERR_INVALID, "input '%s' is missing", names[i]);
    if (v->dtype != dt)
      return nn_op_error(ctx, NN_ERR_INVALID, "input '%s' has dtype %s, 'start' has %s",
                         names[i], nn_dtype_name(v->dtype), nn_dtype_name(dt));
    if (nn_value_numel(v) != 1)
      return nn_op_error(ctx, NN_ERR_INVALID, "input '%s' must be a scalar", names[i]);
  }
  switch (dt) {
  case NN_FLOAT: case NN_DOUBLE: case NN_INT16: case NN_INT32: case NN_INT64: return NN_OK;
  default:
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "Range on dtype %s", nn_dtype_name(dt));
  }
}

static nn_status range_count(nn_op_ctx *ctx, int64_t *n) {
  const nn_dtype_traits *tr = nn_dtype_traits_of(ctx->in[0]->dtype);
  if (tr->is_float) {
    double s = nn_value_get_f64(ctx->in[0], 0), l = nn_value_get_f64(ctx->in[1], 0),
           d = nn_value_get_f64(ctx->in[2], 0);
    if (d == 0 || d != d || s != s || l != l)
      return nn_op_error(ctx, NN_ERR_INVALID, "input 'delta' is zero or an input is NaN");
    double c = ceil((l - s) / d);
    if (ctx->in[0]->dtype == NN_FLOAT) /* the spec's arithmetic is in the input type */
      c = ceilf(((float)l - (float)s) / (float)d);
    if (c > (double)(1LL << 40))
      return nn_op_error(ctx, NN_ERR_NOMEM, "Range of %g elements", c);
    *n = c > 0 ? (int64_t)c : 0;
  } else {
    int64_t s = nn_value_get_i64(ctx->in[0], 0), l = nn_value_get_i64(ctx->in[1], 0),
            d = nn_value_get_i64(ctx->in[2], 0);
    if (d == 0) return nn_op_error(ctx, NN_ERR_INVALID, "input 'delta' is zero");
    /* differences of int32/int16 values fit; int64 ones are checked */
    int64_t diff;
    if (__builtin_sub_overflow(l, s, &diff))
      return nn_op_error(ctx, NN_ERR_INVALID, "Range limits overflow");
    int64_t c = (diff > 0) == (d > 0) && diff != 0
                    ? (diff / d) + (diff % d != 0)
                    : 0;
    *n = c;
  }
  return NN_OK;
}

static nn_status range_infer(nn_op_ctx *ctx) {
  if (nn_op_need_io(ctx, 0)) return NN_ERR_INVALID;
  nn_status st = range_check(ctx);
  if (st) return st;
  if (!nn_in_known(ctx, 0) || !nn_in_known(ctx, 1) || !nn_in_known(ctx, 2)) {
    ctx->out[0]->dtype = ctx->in[0]->dtype;
    return NN_INFER_DEFERRED;
  }
  int64_t n;
  if ((st = range_count(ctx, &n))) return st;
  return nn_value_set(ctx, ctx->out[0], ctx->in[0]->dtype, 1, &n);
}

static nn_status range_run(nn_op_ctx *ctx) {
  nn_value *y = ctx->out[0];
  const int64_t n = nn_value_numel(y);
  switch (y->dtype) {
  case NN_FLOAT: {
    float s = *(const float *)ctx->in[0]->data, d = *(const float *)ctx->in[2]->data;
    float *o = y->data;
    for (int64_t i = 0; i < n; i++) o[i] = s + (float)i * d;
    break;
  }
  case NN_DOUBLE: {
    double s = *(const double *)ctx->in[0]->data, d = *(const double *)ctx->in[2]->data;
    double *o = y->data;
    for (int64_t i = 0; i < n; i++) o[i] = s + (double)i * d;
    break;
  }
  default: {
    const nn_dtype_traits *tr = nn_dtype_traits_of(y->dtype);
    int64_t s = nn_value_get_i64(ctx->in[0], 0), d = nn_value_get_i64(ctx->in[2], 0);
    for (int64_t i = 0; i < n; i++)
      tr->from_i64((char *)y->data + (size_t)i * tr->size, s + i * d);
    break;
  }
  }
  return NN_OK;
}

NN_OP(Range) = {.op_type = "Range", .domain = "", .infer = range_infer, .run = range_run};

/* ---- EyeLike ---- */

static nn_status eyelike_dtype(nn_op_ctx *ctx, nn_dtype *dt) {
  const nn_value *x = ctx->in[0];
  *dt = (nn_dtype)nn_attr_int(ctx->node, "dtype", x->dtype);
  const nn_dtype_traits *tr = nn_dtype_traits_of(*dt);
  if (!tr || !tr->is_numeric)
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "EyeLike output dtype %d", (int)*dt);
  if (x->ndim != 2)
    return nn_op_error(ctx, NN_ERR_INVALID, "input 'input' has rank %d, expected 2", x->ndim);
  return NN_OK;
}

static nn_status eyelike_infer(nn_op_ctx *ctx) {
  if (nn_op_need_io(ctx, 1)) return NN_ERR_INVALID;
  nn_dtype dt;
  nn_status st = eyelike_dtype(ctx, &dt);
  if (st) return st;
  return nn_value_set(ctx, ctx->out[0], dt, 2, ctx->in[0]->dims);
}

static nn_status eyelike_run(nn_op_ctx *ctx) {
  nn_value *y = ctx->out[0];
  const nn_dtype_traits *tr = nn_dtype_traits_of(y->dtype);
  memset(y->data, 0, y->nbytes);
  const int64_t rows = y->dims[0], cols = y->dims[1], k = nn_attr_int(ctx->node, "k", 0);
  for (int64_t i = 0; i < rows; i++) {
    int64_t j = i + k;
    if (j >= 0 && j < cols) tr->from_f64((char *)y->data + (size_t)(i * cols + j) * tr->size, 1.0);
  }
  return NN_OK;
}

NN_OP(EyeLike) = {.op_type = "EyeLike", .domain = "", .infer = eyelike_infer,
                  .run = eyelike_run};

/* ---- OneHot ---- */

static nn_status onehot_check(nn_op_ctx *ctx, int *axis) {
  const nn_value *ix = ctx->in[0], *dp = ctx->in[1], *vals = ctx->in[2];
  const nn_dtype_traits *ti = nn_dtype_traits_of(ix->dtype), *td = nn_dtype_traits_of(dp->dtype);
  if (!ti || !ti->is_numeric)
    return nn_op_error(ctx, NN_ERR_INVALID, "input 'indices' has dtype %s",
                       nn_dtype_name(ix->dtype));
  if (!td || !td->is_numeric)
    return nn_op_error(ctx, NN_ERR_INVALID, "input 'depth' has dtype %s",
                       nn_dtype_name(dp->dtype));
  if (nn_value_numel(dp) != 1 || dp->ndim > 1)
    return nn_op_error(ctx, NN_ERR_INVALID, "input 'depth' must hold one value");
  if (nn_value_numel(vals) != 2 || vals->ndim != 1)
    return nn_op_error(ctx, NN_ERR_INVALID, "input 'values' must be [off_value, on_value]");
  if (ix->ndim + 1 > NN_MAX_DIMS)
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "output rank %d exceeds %d", ix->ndim + 1,
                       NN_MAX_DIMS);
  return nn_norm_axis(ctx, nn_attr_int(ctx->node, "axis", -1), ix->ndim + 1, axis);
}

/* Float indices/depth truncate toward zero; NaN and huge values map to -1 (invalid). */
static int64_t onehot_int(const nn_value *v, int64_t i) {
  if (!nn_dtype_traits_of(v->dtype)->is_float) return nn_value_get_i64(v, i);
  double d = nn_value_get_f64(v, i);
  return (d > -9.0e18 && d < 9.0e18) ? (int64_t)d : INT64_MIN;
}

static int64_t onehot_depth(const nn_value *dp) { return onehot_int(dp, 0); }

static nn_status onehot_infer(nn_op_ctx *ctx) {
  if (nn_op_need_io(ctx, 3)) return NN_ERR_INVALID;
  int axis;
  nn_status st = onehot_check(ctx, &axis);
  if (st) return st;
  const nn_value *ix = ctx->in[0], *dp = nn_in_known(ctx, 1);
  if (!dp) {
    ctx->out[0]->dtype = ctx->in[2]->dtype;
    return NN_INFER_DEFERRED;
  }
  int64_t depth = onehot_depth(dp);
  if (depth < 1)
    return nn_op_error(ctx, NN_ERR_INVALID, "input 'depth' is %lld", (long long)depth);
  int64_t d[NN_MAX_DIMS];
  for (int i = 0, k = 0; i <= ix->ndim; i++) d[i] = i == axis ? depth : ix->dims[k++];
  return nn_value_set(ctx, ctx->out[0], ctx->in[2]->dtype, ix->ndim + 1, d);
}

static nn_status onehot_run(nn_op_ctx *ctx) {
  int axis;
  nn_status st = onehot_check(ctx, &axis);
  if (st) return st;
  const nn_value *ix = ctx->in[0], *vals = ctx->in[2];
  nn_value *y = ctx->out[0];
  const int64_t depth = y->dims[axis];
  const size_t elem = nn_dtype_size(y->dtype);
  const char *off = vals->data, *on = off + elem;
  fill_pattern(y->data, off, elem, nn_value_numel(y));
  int64_t inner = 1;
  for (int i = axis; i < ix->ndim; i++) inner *= ix->dims[i];
  const int64_t n = nn_value_numel(ix);
  for (int64_t p = 0; p < n; p++) {
    int64_t v = onehot_int(ix, p);
    if (v < 0 && v != INT64_MIN) v += depth;
    if (v < 0 || v >= depth) continue; /* out of range: the row stays off_value */
    int64_t o = p / inner, i = p % inner;
    memcpy((char *)y->data + (size_t)((o * depth + v) * inner + i) * elem, on, elem);
  }
  return NN_OK;
}

NN_OP(OneHot) = {.op_type = "OneHot", .domain = "", .infer = onehot_infer,
                 .run = onehot_run};
