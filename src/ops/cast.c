/*
 * cast.c - Cast (target dtype from the "to" attribute) and CastLike (target dtype of
 * the second input) between numeric dtypes, through the reference Cast kernel, and
 * between numbers and strings (numpy's str() formatting; strtod parsing).
 */
#include <string.h>

#include "kernels/ref/elementwise_cast.h"
#include "ops/op.h"

static nn_status cast_target(nn_op_ctx *ctx, nn_dtype *to) {
  if (!strcmp(ctx->def->op_type, "CastLike")) {
    const nn_value *like = nn_in(ctx, 1);
    if (!like) return nn_op_error(ctx, NN_ERR_INVALID, "input 'target_type' is missing");
    *to = like->dtype;
    return NN_OK;
  }
  const nn_attr *a = nn_node_attr(ctx->node, "to");
  if (!a) return nn_op_error(ctx, NN_ERR_INVALID, "attribute 'to' is missing");
  int64_t t = a->i;
  if (a->type == NN_ATTR_STRING) { /* Cast-1 named the type: "FLOAT", "INT64", ... */
    static const char *const names[NN_DTYPE_COUNT] = {
        "UNDEFINED", "FLOAT",  "UINT8",     "INT8",       "UINT16",  "INT16",
        "INT32",     "INT64",  "STRING",    "BOOL",       "FLOAT16", "DOUBLE",
        "UINT32",    "UINT64", "COMPLEX64", "COMPLEX128", "BFLOAT16"};
    const char *nm = nn_attr_string(ctx->node, "to", "");
    t = 0;
    for (int k = 1; k < NN_DTYPE_COUNT; k++)
      if (!strcmp(nm, names[k])) t = k;
  } else if (a->type != NN_ATTR_INT) {
    return nn_op_error(ctx, NN_ERR_INVALID, "attribute 'to' is not an int");
  }
  if (!nn_dtype_valid((int)t) || t != (int)t)
    return nn_op_error(ctx, NN_ERR_INVALID, "attribute 'to' is %lld, not a dtype",
                       (long long)t);
  *to = (nn_dtype)t;
  return NN_OK;
}

static nn_status cast_infer(nn_op_ctx *ctx) {
  const nn_value *x = nn_in(ctx, 0);
  if (!x) return nn_op_error(ctx, NN_ERR_INVALID, "input 'input' is missing");
  if (!nn_out(ctx, 0)) return nn_op_error(ctx, NN_ERR_INVALID, "output 0 is missing");
  nn_dtype to = NN_UNDEFINED;
  nn_status st = cast_target(ctx, &to);
  if (st) return st;
  int strings = (x->dtype == NN_STRING) != (to == NN_STRING) &&
                nn_dtype_traits_of(x->dtype == NN_STRING ? to : x->dtype)->to_f64;
  if (!strings && !nn_cast_supported__ref(x->dtype, to) &&
      !(x->dtype == NN_STRING && to == NN_STRING))
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "cast from %s to %s is not supported",
                       nn_dtype_name(x->dtype), nn_dtype_name(to));
  return nn_value_set(ctx, ctx->out[0], to, x->ndim, x->dims);
}

/* number -> string: each element gets its own malloc'ed bytes, which the string
 * value owns (the session frees them), as every op producing strings does */
static nn_status to_strings(nn_op_ctx *ctx, const nn_value *x, nn_value *y) {
  nn_bytes *o = y->data;
  int64_t n = nn_value_numel(x);
  for (int64_t i = 0; i < n; i++) o[i] = (nn_bytes){0, NULL};
  for (int64_t i = 0; i < n; i++) {
    char buf[64];
    int len = nn_cast_format__ref(x->data, x->dtype, i, buf, sizeof buf);
    if (len < 0 || len >= (int)sizeof buf)
      return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "cannot format %s as a string",
                         nn_dtype_name(x->dtype));
    if (!(o[i].data = nn_strndup(buf, (size_t)len)))
      return nn_op_error(ctx, NN_ERR_NOMEM, "out of memory formatting strings");
    o[i].len = (size_t)len;
  }
  return NN_OK;
}

static nn_status from_strings(nn_op_ctx *ctx, const nn_value *x, nn_value *y) {
  const nn_bytes *s = x->data;
  int64_t n = nn_value_numel(x);
  for (int64_t i = 0; i < n; i++)
    if (nn_cast_parse__ref(s[i].data ? s[i].data : "", s[i].len, y->data, y->dtype, i))
      return nn_op_error(
          ctx, NN_ERR_RUNTIME, "element %lld of input 'input' ('%.*s') is not a number",
          (long long)i, (int)(s[i].len > 40 ? 40 : s[i].len), s[i].data ? s[i].data : "");
  return NN_OK;
}

static nn_status cast_run(nn_op_ctx *ctx) {
  const nn_value *x = ctx->in[0];
  nn_value *y = ctx->out[0];
  if (x->dtype == NN_STRING && y->dtype == NN_STRING) { /* deep copy */
    const nn_bytes *s = x->data;
    nn_bytes *o = y->data;
    int64_t n = nn_value_numel(x);
    for (int64_t i = 0; i < n; i++) o[i] = (nn_bytes){0, NULL};
    for (int64_t i = 0; i < n; i++) {
      if (s[i].len && !(o[i].data = nn_strndup(s[i].data, s[i].len)))
        return nn_op_error(ctx, NN_ERR_NOMEM, "out of memory copying strings");
      o[i].len = s[i].len;
    }
    return NN_OK;
  }
  if (y->dtype == NN_STRING) return to_strings(ctx, x, y);
  if (x->dtype == NN_STRING) return from_strings(ctx, x, y);
  if (nn_cast__ref(nn_value_numel(x), x->data, x->dtype, y->data, y->dtype))
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "cast from %s to %s is not supported",
                       nn_dtype_name(x->dtype), nn_dtype_name(y->dtype));
  return NN_OK;
}

NN_OP(Cast) = {.op_type = "Cast", .domain = "", .infer = cast_infer, .run = cast_run};
NN_OP(CastLike) = {
    .op_type = "CastLike", .domain = "", .infer = cast_infer, .run = cast_run};
