/*
 * batchnorm.c - normalization ops over the channel axis 1: BatchNormalization
 * (inference, and training mode with batch statistics and running-stat outputs),
 * InstanceNormalization and LRN. Statistics are computed in double.
 */
#include <math.h>
#include <string.h>

#include "ops/op.h"

static int is_fp(nn_dtype t) { return t == NN_FLOAT || t == NN_DOUBLE; }

/* Element i of a float32/float64 tensor as double. */
static double fget(const nn_value *v, int64_t i) {
  return v->dtype == NN_FLOAT ? (double)((const float *)v->data)[i]
                              : ((const double *)v->data)[i];
}
static void fset(nn_value *v, int64_t i, double x) {
  if (v->dtype == NN_FLOAT)
    ((float *)v->data)[i] = (float)x;
  else
    ((double *)v->data)[i] = x;
}

/* ---- BatchNormalization ---- */

typedef struct bn_setup {
  int64_t n, c, spatial; /* X viewed as N x C x spatial */
  int per_activation;    /* spatial == 0 (opsets 1-7): parameters are C x spatial */
  int training;
  double eps, momentum;
} bn_setup;

static nn_status bn_check(nn_op_ctx *ctx, bn_setup *b) {
  const nn_value *x = nn_in(ctx, 0);
  static const char *const names[5] = {"X", "scale", "B", "input_mean", "input_var"};
  for (int i = 0; i < 5; i++) {
    const nn_value *v = nn_in(ctx, i);
    if (!v) return nn_op_error(ctx, NN_ERR_INVALID, "input '%s' is required", names[i]);
    if (!is_fp(v->dtype))
      return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "input '%s' has dtype %s (float32, float64 "
                         "supported)", names[i], nn_dtype_name(v->dtype));
  }
  if (x->ndim < 2)
    return nn_op_error(ctx, NN_ERR_INVALID, "input 'X' has rank %d, expected >= 2", x->ndim);
  b->n = x->dims[0];
  b->c = x->dims[1];
  b->spatial = 1;
  for (int d = 2; d < x->ndim; d++) b->spatial *= x->dims[d];
  b->per_activation = ctx->opset < 9 && nn_attr_int(ctx->node, "spatial", 1) == 0;
  b->eps = nn_attr_float(ctx->node, "epsilon", 1e-5f);
  b->momentum = nn_attr_float(ctx->node, "momentum", 0.9f);
  if (ctx->opset >= 14) {
    b->training = nn_attr_int(ctx->node, "training_mode", 0) != 0;
  } else {
    /* Before opset 14, the extra outputs (mean, var, saved_mean, saved_var) exist
     * only in training; is_test (opsets 1-6) forces inference. */
    int extra = 0;
    for (int k = 1; k < ctx->n_out; k++) extra |= nn_out(ctx, k) != NULL;
    b->training = extra && !(ctx->opset < 7 && nn_attr_int(ctx->node, "is_test", 0));
  }
  const int64_t want = b->per_activation ? b->c * b->spatial : b->c;
  for (int i = 1; i < 5; i++) {
    const nn_value *v = nn_in(ctx, i);
    if (nn_value_numel(v) != want)
      return nn_op_error(ctx, NN_ERR_INVALID, "input '%s' has %lld values, expected %lld",
                         names[i], (long long)nn_value_numel(v), (long long)want);
  }
  if (b->training && b->per_activation)
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "training with spatial=0 is not supported");
  return NN_OK;
}

static nn_status bn_infer(nn_op_ctx *ctx) {
  bn_setup b;
  nn_status s = bn_check(ctx, &b);
  if (s) return s;
  const nn_value *x = nn_in(ctx, 0), *mean = nn_in(ctx, 3);
  if ((s = nn_value_set(ctx, nn_out(ctx, 0), x->dtype, x->ndim, x->dims))) return s;
  const int64_t cdim[1] = {b.c};
  for (int k = 1; k < ctx->n_out && k < 5; k++)
    if ((s = nn_value_set(ctx, nn_out(ctx, k), mean->dtype, 1, cdim))) return s;
  return NN_OK;
}

static nn_status bn_run(nn_op_ctx *ctx) {
  bn_setup b;
  nn_status s = bn_check(ctx, &b);
  if (s) return s;
  const nn_value *x = nn_in(ctx, 0), *sc = nn_in(ctx, 1), *bias = nn_in(ctx, 2);
  const nn_value *mean = nn_in(ctx, 3), *var = nn_in(ctx, 4);
  nn_value *y = nn_out(ctx, 0);
  const int64_t S = b.spatial, C = b.c;
  if (b.training) {
    const double count = (double)(b.n * S);
    for (int64_t c = 0; c < C; c++) {
      double sum = 0, sq = 0;
      for (int64_t n = 0; n < b.n; n++)
        for (int64_t i = 0; i < S; i++) sum += fget(x, (n * C + c) * S + i);
      const double mu = count > 0 ? sum / count : 0;
      for (int64_t n = 0; n < b.n; n++)
        for (int64_t i = 0; i < S; i++) {
          const double d = fget(x, (n * C + c) * S + i) - mu;
          sq += d * d;
        }
      const double v = count > 0 ? sq / count : 0;
      const double a = fget(sc, c) / sqrt(v + b.eps), sh = fget(bias, c);
      if (y)
        for (int64_t n = 0; n < b.n; n++)
          for (int64_t i = 0; i < S; i++) {
            const int64_t k = (n * C + c) * S + i;
            fset(y, k, (fget(x, k) - mu) * a + sh);
          }
      const double rm = fget(mean, c) * b.momentum + mu * (1 - b.momentum);
      const double rv = fget(var, c) * b.momentum + v * (1 - b.momentum);
      if (nn_out(ctx, 1)) fset(nn_out(ctx, 1), c, rm);
      if (nn_out(ctx, 2)) fset(nn_out(ctx, 2), c, rv);
      if (ctx->opset < 14 && nn_out(ctx, 3)) fset(nn_out(ctx, 3), c, mu);
      if (ctx->opset < 14 && nn_out(ctx, 4)) fset(nn_out(ctx, 4), c, v);
    }
    return NN_OK;
  }
  /* Inference: y = (x - mean) * (scale / sqrt(var + eps)) + B. */
  if (y) {
    for (int64_t n = 0; n < b.n; n++)
      for (int64_t c = 0; c < C; c++) {
        const int64_t base = (n * C + c) * S;
        if (!b.per_activation) {
          const double a = fget(sc, c) / sqrt(fget(var, c) + b.eps);
          const double mu = fget(mean, c), sh = fget(bias, c);
          if (x->dtype == NN_FLOAT) {
            const float af = (float)a, muf = (float)mu, shf = (float)sh;
            const float *xs = (const float *)x->data + base;
            float *ys = (float *)y->data + base;
            for (int64_t i = 0; i < S; i++) ys[i] = (xs[i] - muf) * af + shf;
          } else {
            const double *xs = (const double *)x->data + base;
            double *ys = (double *)y->data + base;
            for (int64_t i = 0; i < S; i++) ys[i] = (xs[i] - mu) * a + sh;
          }
        } else {
          for (int64_t i = 0; i < S; i++) {
            const int64_t p = c * S + i;
            const double a = fget(sc, p) / sqrt(fget(var, p) + b.eps);
            fset(y, base + i, (fget(x, base + i) - fget(mean, p)) * a + fget(bias, p));
          }
        }
      }
  }
  /* Running statistics pass through unchanged in inference. */
  for (int k = 1; k <= 2 && k < ctx->n_out; k++) {
    nn_value *o = nn_out(ctx, k);
    const nn_value *src = k == 1 ? mean : var;
    if (o && o->data != src->data) memcpy(o->data, src->data, o->nbytes);
  }
  for (int k = 3; k < 5 && k < ctx->n_out; k++)
    if (nn_out(ctx, k)) memset(nn_out(ctx, k)->data, 0, nn_out(ctx, k)->nbytes);
  return NN_OK;
}

NN_OP(BatchNormalization) = {.op_type = "BatchNormalization", .domain = "",
                             .infer = bn_infer, .run = bn_run};

/* ---- InstanceNormalization ---- */

static nn_status in_check(nn_op_ctx *ctx) {
  const nn_value *x = nn_in(ctx, 0), *sc = nn_in(ctx, 1), *b = nn_in(ctx, 2);
  if (!x || !sc || !b)
    return nn_op_error(ctx, NN_ERR_INVALID, "inputs 'input', 'scale' and 'B' are required");
  if (!is_fp(x->dtype))
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "input 'input' has dtype %s (float32, float64 "
                       "supported)", nn_dtype_name(x->dtype));
  if (sc->dtype != x->dtype || b->dtype != x->dtype)
    return nn_op_error(ctx, NN_ERR_INVALID, "inputs 'scale' and 'B' must have dtype %s",
                       nn_dtype_name(x->dtype));
  if (x->ndim < 3)
    return nn_op_error(ctx, NN_ERR_INVALID, "input 'input' has rank %d, expected >= 3",
                       x->ndim);
  if (nn_value_numel(sc) != x->dims[1] || nn_value_numel(b) != x->dims[1])
    return nn_op_error(ctx, NN_ERR_INVALID, "inputs 'scale' and 'B' must have %lld values",
                       (long long)x->dims[1]);
  return NN_OK;
}

static nn_status in_infer(nn_op_ctx *ctx) {
  nn_status s = in_check(ctx);
  if (s) return s;
  const nn_value *x = nn_in(ctx, 0);
  return nn_value_set(ctx, nn_out(ctx, 0), x->dtype, x->ndim, x->dims);
}

static nn_status in_run(nn_op_ctx *ctx) {
  nn_status s = in_check(ctx);
  if (s) return s;
  const nn_value *x = nn_in(ctx, 0), *sc = nn_in(ctx, 1), *b = nn_in(ctx, 2);
  nn_value *y = nn_out(ctx, 0);
  if (!y) return NN_OK;
  const double eps = nn_attr_float(ctx->node, "epsilon", 1e-5f);
  const int64_t C = x->dims[1], planes = x->dims[0] * C;
  int64_t S = 1;
  for (int d = 2; d < x->ndim; d++) S *= x->dims[d];
  for (int64_t p = 0; p < planes; p++) {
    const int64_t base = p * S;
    double sum = 0, sq = 0;
    for (int64_t i = 0; i < S; i++) sum += fget(x, base + i);
    const double mu = S ? sum / (double)S : 0;
    for (int64_t i = 0; i < S; i++) {
      const double d = fget(x, base + i) - mu;
      sq += d * d;
    }
    const double var = S ? sq / (double)S : 0;
    const double a = fget(sc, p % C) / sqrt(var + eps), sh = fget(b, p % C);
    for (int64_t i = 0; i < S; i++) fset(y, base + i, (fget(x, base + i) - mu) * a + sh);
  }
  return NN_OK;
}

NN_OP(InstanceNormalization) = {.op_type = "InstanceNormalization", .domain = "",
                                .infer = in_infer, .run = in_run};

/* ---- LRN ---- */

static nn_status lrn_check(nn_op_ctx *ctx) {
  const nn_value *x = nn_in(ctx, 0);
  if (!x) return nn_op_error(ctx, NN_ERR_INVALID, "input 'X' is required");
  if (!is_fp(x->dtype))
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "input 'X' has dtype %s (float32, float64 "
                       "supported)", nn_dtype_name(x->dtype));
  if (x->ndim < 2)
    return nn_op_error(ctx, NN_ERR_INVALID, "input 'X' has rank %d, expected >= 2", x->ndim);
  const int64_t size = nn_attr_int(ctx->node, "size", 0);
  if (size < 1)
    return nn_op_error(ctx, NN_ERR_INVALID, "attribute 'size' is %lld, expected >= 1",
                       (long long)size);
  return NN_OK;
}

static nn_status lrn_infer(nn_op_ctx *ctx) {
  nn_status s = lrn_check(ctx);
  if (s) return s;
  const nn_value *x = nn_in(ctx, 0);
  return nn_value_set(ctx, nn_out(ctx, 0), x->dtype, x->ndim, x->dims);
}

/* y[c] = x[c] / (bias + alpha / size * sum of x^2 over channels
 *        [c - floor((size-1)/2), c + ceil((size-1)/2)])^beta; the sum of squares is
 * accumulated in y itself, channel plane by channel plane. */
static nn_status lrn_run(nn_op_ctx *ctx) {
  nn_status s = lrn_check(ctx);
  if (s) return s;
  const nn_value *x = nn_in(ctx, 0);
  nn_value *y = nn_out(ctx, 0);
  if (!y) return NN_OK;
  const double alpha = nn_attr_float(ctx->node, "alpha", 1e-4f);
  const double beta = nn_attr_float(ctx->node, "beta", 0.75f);
  const double bias = nn_attr_float(ctx->node, "bias", 1.0f);
  const int64_t size = nn_attr_int(ctx->node, "size", 1);
  const int64_t C = x->dims[1], lo = (size - 1) / 2, hi = size - 1 - lo;
  int64_t S = 1;
  for (int d = 2; d < x->ndim; d++) S *= x->dims[d];
  for (int64_t n = 0; n < x->dims[0]; n++)
    for (int64_t c = 0; c < C; c++) {
      const int64_t base = (n * C + c) * S;
      const int64_t c0 = c - lo < 0 ? 0 : c - lo, c1 = c + hi >= C ? C - 1 : c + hi;
      for (int64_t i = 0; i < S; i++) fset(y, base + i, 0);
      for (int64_t cc = c0; cc <= c1; cc++) {
        const int64_t src = (n * C + cc) * S;
        for (int64_t i = 0; i < S; i++) {
          const double v = fget(x, src + i);
          fset(y, base + i, fget(y, base + i) + v * v);
        }
      }
      for (int64_t i = 0; i < S; i++)
        fset(y, base + i, fget(x, base + i) / pow(bias + alpha / (double)size *
                                                          fget(y, base + i), beta));
    }
  return NN_OK;
}

NN_OP(LRN) = {.op_type = "LRN", .domain = "", .infer = lrn_infer, .run = lrn_run};
