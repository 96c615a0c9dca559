/*
 * pad.c - the Pad op: pads as an attribute ('paddings' in opset 1, 'pads' in 2-10)
 * or an input (11+), constant value as attribute or input, optional 'axes' input
 * (18+), modes constant / reflect / edge / wrap (19). Negative pads crop.
 */
#include <string.h>

#include "kernels/ref/pad.h"
#include "ops/op.h"

typedef struct pad_setup {
  nn_pad_mode mode;
  int ndim;
  int64_t begin[NN_MAX_DIMS], out[NN_MAX_DIMS];
} pad_setup;

static nn_status pad_mode(nn_op_ctx *ctx, nn_pad_mode *m) {
  const char *s = nn_attr_string(ctx->node, "mode", "constant");
  if (!strcmp(s, "constant")) *m = NN_PAD_CONSTANT;
  else if (!strcmp(s, "reflect")) *m = NN_PAD_REFLECT;
  else if (!strcmp(s, "edge")) *m = NN_PAD_EDGE;
  else if (!strcmp(s, "wrap")) *m = NN_PAD_WRAP;
  else
    return nn_op_error(ctx, NN_ERR_INVALID, "attribute 'mode' is '%s', expected constant, "
                       "reflect, edge or wrap", s);
  return NN_OK;
}

/* Resolve pads. Returns NN_INFER_DEFERRED when pads/axes are not known yet. */
static nn_status pad_resolve(nn_op_ctx *ctx, pad_setup *p) {
  const nn_value *x = nn_in(ctx, 0);
  nn_status s;
  if (!x) return nn_op_error(ctx, NN_ERR_INVALID, "input 'data' is required");
  if (x->dtype == NN_STRING || !nn_dtype_traits_of(x->dtype))
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "input 'data' has dtype %s",
                       nn_dtype_name(x->dtype));
  if ((s = pad_mode(ctx, &p->mode))) return s;
  const int r = x->ndim;
  p->ndim = r;
  int64_t pads[2 * NN_MAX_DIMS] = {0};
  if (ctx->opset < 11) {
    const int64_t *a;
    int n = nn_attr_ints(ctx->node, "pads", &a);
    if (n < 0) n = nn_attr_ints(ctx->node, "paddings", &a);
    if (n < 0) return nn_op_error(ctx, NN_ERR_INVALID, "attribute 'pads' is required");
    if (n != 2 * r)
      return nn_op_error(ctx, NN_ERR_INVALID, "attribute 'pads' has %d values, expected %d",
                         n, 2 * r);
    memcpy(pads, a, (size_t)n * sizeof *a);
  } else {
    const nn_value *pv = nn_in(ctx, 1), *av = nn_in(ctx, 3);
    if (!pv) return nn_op_error(ctx, NN_ERR_INVALID, "input 'pads' is required");
    if (pv->dtype != NN_INT64)
      return nn_op_error(ctx, NN_ERR_INVALID, "input 'pads' has dtype %s, expected int64",
                         nn_dtype_name(pv->dtype));
    if (av && av->dtype != NN_INT64 && av->dtype != NN_INT32)
      return nn_op_error(ctx, NN_ERR_INVALID, "input 'axes' has dtype %s, expected int32 or "
                         "int64", nn_dtype_name(av->dtype));
    if (!pv->data || (av && !av->data)) return NN_INFER_DEFERRED;
    const int64_t np = nn_value_numel(pv);
    if (!av) {
      if (np != 2 * r)
        return nn_op_error(ctx, NN_ERR_INVALID, "input 'pads' has %lld values, expected %d",
                           (long long)np, 2 * r);
      for (int i = 0; i < 2 * r; i++) pads[i] = nn_value_get_i64(pv, i);
    } else {
      const int64_t na = nn_value_numel(av);
      if (np != 2 * na)
        return nn_op_error(ctx, NN_ERR_INVALID, "input 'pads' has %lld values, expected %lld "
                           "(2 per axis)", (long long)np, (long long)(2 * na));
      int seen[NN_MAX_DIMS] = {0};
      for (int64_t i = 0; i < na; i++) {
        int ax;
        if ((s = nn_norm_axis(ctx, nn_value_get_i64(av, i), r, &ax))) return s;
        if (seen[ax])
          return nn_op_error(ctx, NN_ERR_INVALID, "input 'axes' repeats axis %d", ax);
        seen[ax] = 1;
        pads[ax] = nn_value_get_i64(pv, i);
        pads[ax + r] = nn_value_get_i64(pv, i + na);
      }
    }
  }
  for (int d = 0; d < r; d++) {
    p->begin[d] = pads[d];
    p->out[d] = x->dims[d] + pads[d] + pads[d + r];
    if (p->out[d] < 0)
      return nn_op_error(ctx, NN_ERR_INVALID, "axis %d: pads %lld, %lld remove more than its "
                         "%lld elements", d, (long long)pads[d], (long long)pads[d + r],
                         (long long)x->dims[d]);
    if (p->mode != NN_PAD_CONSTANT && x->dims[d] == 0 && p->out[d] > 0)
      return nn_op_error(ctx, NN_ERR_INVALID, "axis %d is empty: cannot pad it in mode '%s'",
                         d, nn_attr_string(ctx->node, "mode", ""));
  }
  return NN_OK;
}

static nn_status pad_infer(nn_op_ctx *ctx) {
  pad_setup p;
  nn_status s = pad_resolve(ctx, &p);
  if (s) return s;
  const nn_value *cv = nn_in(ctx, 2);
  if (ctx->opset >= 11 && cv && cv->dtype != nn_in(ctx, 0)->dtype)
    return nn_op_error(ctx, NN_ERR_INVALID, "input 'constant_value' has dtype %s, expected %s",
                       nn_dtype_name(cv->dtype), nn_dtype_name(nn_in(ctx, 0)->dtype));
  return nn_value_set(ctx, nn_out(ctx, 0), nn_in(ctx, 0)->dtype, p.ndim, p.out);
}

static nn_status pad_run(nn_op_ctx *ctx) {
  pad_setup p;
  nn_status s = pad_resolve(ctx, &p);
  if (s == NN_INFER_DEFERRED)
    return nn_op_error(ctx, NN_ERR_RUNTIME, "input 'pads' has no value");
  if (s) return s;
  const nn_value *x = nn_in(ctx, 0), *cv = nn_in(ctx, 2);
  nn_value *y = nn_out(ctx, 0);
  if (!y) return NN_OK;
  const nn_dtype_traits *tr = nn_dtype_traits_of(x->dtype);
  unsigned char value[16] = {0}; /* largest element: 8 bytes */
  if (ctx->opset < 11) {
    if (tr && tr->from_f64) tr->from_f64(value, nn_attr_float(ctx->node, "value", 0.0f));
  } else if (cv && cv->data && nn_value_numel(cv) >= 1) {
    memcpy(value, cv->data, tr->size);
  }
  nn_x_pad__ref(p.ndim, x->dims, p.out, p.begin, tr->size, x->data, y->data, p.mode, value);
  return NN_OK;
}

NN_OP(Pad) = {.op_type = "Pad", .domain = "", .infer = pad_infer, .run = pad_run};
