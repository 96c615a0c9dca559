/*
 * normalization.c - LayerNormalization (ai.onnx-17, and the com.microsoft contrib op
 * of the same contract): normalize over axes [axis, rank), optional Mean and
 * InvStdDev outputs shaped like X with those axes set to 1 (float, stash_type 1).
 */
#include <string.h>

#include "kernels/dispatch.h"
#include "kernels/ref/layernorm.h"
#include "ops/op.h"

static nn_status ln_layout(nn_op_ctx *ctx, const nn_value *x, int *axis, int64_t *rows,
                           int64_t *cols) {
  nn_status st = nn_norm_axis(ctx, nn_attr_int(ctx->node, "axis", -1), x->ndim, axis);
  if (st) return st;
  if (x->ndim == 0) return nn_op_error(ctx, NN_ERR_INVALID, "input 'X' is a scalar");
  *rows = *cols = 1;
  for (int i = 0; i < x->ndim; i++) {
    if (i < *axis)
      *rows *= x->dims[i];
    else
      *cols *= x->dims[i];
  }
  return NN_OK;
}

/* Scale/B must hold one value per normalized element (any shape that broadcasts to
 * X's trailing axes with that many elements) or a single value. */
static nn_status param_step(nn_op_ctx *ctx, const nn_value *v, const char *name,
                            const nn_value *x, int axis, int64_t cols, int *step) {
  if (v->dtype != x->dtype)
    return nn_op_error(ctx, NN_ERR_INVALID, "input '%s' is %s, input 'X' is %s", name,
                       nn_dtype_name(v->dtype), nn_dtype_name(x->dtype));
  int64_t n = nn_value_numel(v);
  if (n == 1) {
    *step = 0;
    return NN_OK;
  }
  /* right-aligned against X's normalized axes, each dim equal or 1; with n == cols
   * that makes the layout identical to the normalized block */
  int ok = n == cols, nr = x->ndim - axis;
  for (int i = 0; ok && i < v->ndim; i++) {
    int j = nr - (v->ndim - i);
    ok = j < 0 ? v->dims[i] == 1 : (v->dims[i] == 1 || v->dims[i] == x->dims[axis + j]);
  }
  if (!ok)
    return nn_op_error(
        ctx, NN_ERR_UNSUPPORTED,
        "input '%s' has %lld elements, expected %lld (the normalized shape) or 1", name,
        (long long)n, (long long)cols);
  *step = 1;
  return NN_OK;
}

static nn_status ln_infer(nn_op_ctx *ctx) {
  const nn_value *x = nn_in(ctx, 0), *scale = nn_in(ctx, 1), *b = nn_in(ctx, 2);
  if (!x || !scale)
    return nn_op_error(ctx, NN_ERR_INVALID, "inputs 'X' and 'Scale' are required");
  if (!nn_out(ctx, 0)) return nn_op_error(ctx, NN_ERR_INVALID, "output 'Y' is missing");
  if (x->dtype != NN_FLOAT && x->dtype != NN_DOUBLE)
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "dtype %s is not supported",
                       nn_dtype_name(x->dtype));
  int64_t stash = nn_attr_int(ctx->node, "stash_type", 1);
  if (stash != 1)
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "stash_type %lld is not supported (only 1)",
                       (long long)stash);
  int axis, step;
  int64_t rows, cols;
  nn_status st = ln_layout(ctx, x, &axis, &rows, &cols);
  if (st) return st;
  if ((st = param_step(ctx, scale, "Scale", x, axis, cols, &step))) return st;
  if (b && (st = param_step(ctx, b, "B", x, axis, cols, &step))) return st;
  if ((st = nn_value_set(ctx, ctx->out[0], x->dtype, x->ndim, x->dims))) return st;
  int64_t sd[NN_MAX_DIMS];
  for (int i = 0; i < x->ndim; i++) sd[i] = i < axis ? x->dims[i] : 1;
  for (int k = 1; k < 3; k++)
    if ((st = nn_value_set(ctx, nn_out(ctx, k), NN_FLOAT, x->ndim, sd))) return st;
  return NN_OK;
}

static nn_status ln_run(nn_op_ctx *ctx) {
  const nn_value *x = ctx->in[0], *scale = ctx->in[1], *b = nn_in(ctx, 2);
  int axis, ss = 1, bs = 1;
  int64_t rows, cols;
  nn_status st = ln_layout(ctx, x, &axis, &rows, &cols);
  if (st) return st;
  if ((st = param_step(ctx, scale, "Scale", x, axis, cols, &ss))) return st;
  if (b && (st = param_step(ctx, b, "B", x, axis, cols, &bs))) return st;
  float eps = nn_attr_float(ctx->node, "epsilon", 1e-5f);
  nn_value *m = nn_out(ctx, 1), *inv = nn_out(ctx, 2);
  float *mp = m ? m->data : NULL, *ip = inv ? inv->data : NULL;
  const nn_kernels *k = nn_kernels_get();
  if (x->dtype == NN_FLOAT && k->f32_layernorm && ss && (!b || bs) && cols > 0) {
    /* per-element scale and bias: the vector row kernel (f32_eltwise.h) */
    const float *xd = x->data, *sd = scale->data, *bd = b ? b->data : NULL;
    float *yd = ctx->out[0]->data;
    for (int64_t r = 0; r < rows; r++)
      k->f32_layernorm((size_t)cols, xd + r * cols, sd, bd, eps, yd + r * cols,
                       mp ? mp + r : NULL, ip ? ip + r : NULL);
    return NN_OK;
  }
  if (x->dtype == NN_FLOAT)
    nn_f32_layernorm__ref(rows, cols, x->data, scale->data, ss, b ? b->data : NULL, bs, eps,
                          ctx->out[0]->data, mp, ip);
  else
    nn_f64_layernorm__ref(rows, cols, x->data, scale->data, ss, b ? b->data : NULL, bs, eps,
                          ctx->out[0]->data, mp, ip);
  return NN_OK;
}

NN_OP(LayerNormalization) = {
    .op_type = "LayerNormalization", .domain = "", .infer = ln_infer, .run = ln_run};
NN_OP(LayerNormalizationMs) = {.op_type = "LayerNormalization",
                               .domain = "com.microsoft",
                               .infer = ln_infer,
                               .run = ln_run};
