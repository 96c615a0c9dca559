/*
 * normalization.c - LayerNormalization (ai.onnx-17, and the com.microsoft contrib op
 * of the same contract): normalize over axes [axis, rank), optional Mean and
 * InvStdDev outputs shaped like X with those axes set to 1 (float, stash_type 1).
 */
#include <string.h>

#include "kernels/dispatch.h"
#include "kernels/ref/layernorm.h"
#include "ops/op.h"
#include "runtime/session.h"
#include "runtime/threadpool.h"

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

/* Rows of the vector kernel split over the pool (rows are independent). */
typedef struct ln_par {
  const nn_kernels *k;
  size_t cols, rows, chunk;
  const float *x, *scale, *bias;
  float eps;
  float *y, *mean, *inv;
} ln_par;

/* Row chunks of a normalization over the pool: two per thread, at least 16K elements each
 * (a pool round costs microseconds); returns the task count, *chunk rows per task. */
static size_t row_tasks(size_t rows, size_t cols, nn_threadpool *pool, size_t *chunk) {
  const size_t threads = (size_t)nn_threadpool_size(pool), most = rows * cols / 16384;
  size_t tasks = threads > 1 ? 2 * threads : 1;
  if (tasks > most) tasks = most ? most : 1;
  if (tasks > rows) tasks = rows;
  if (!tasks) tasks = 1;
  *chunk = (rows + tasks - 1) / tasks;
  return *chunk ? (rows + *chunk - 1) / *chunk : 0;
}

static void ln_task(void *ctx, size_t thread, size_t t) {
  const ln_par *w = ctx;
  (void)thread;
  const size_t r1 = (t + 1) * w->chunk < w->rows ? (t + 1) * w->chunk : w->rows;
  for (size_t r = t * w->chunk; r < r1; r++)
    w->k->f32_layernorm(w->cols, w->x + r * w->cols, w->scale, w->bias, w->eps,
                        w->y + r * w->cols, w->mean ? w->mean + r : NULL,
                        w->inv ? w->inv + r : NULL);
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
    /* per-element scale and bias: the vector row kernel (f32_eltwise.h), in chunks of
     * at least 16K elements per task */
    ln_par w = {.k = k, .cols = (size_t)cols, .rows = (size_t)rows, .x = x->data,
                .scale = scale->data, .bias = b ? b->data : NULL, .eps = eps,
                .y = ctx->out[0]->data, .mean = mp, .inv = ip};
    nn_threadpool *pool = nn_session_threadpool(ctx->session);
    const size_t tasks = row_tasks(w.rows, w.cols, pool, &w.chunk);
    nn_threadpool_parallelize(tasks > 1 ? pool : NULL, ln_task, &w, tasks);
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

/* ======================================= SkipLayerNormalization (com.microsoft) */

/* ONNX Runtime's fusion of a residual Add into the LayerNormalization after it
 * (written by passes/fuse_transformer.c): inputs input, skip (same shape), gamma, beta
 * and bias (1-D, the last dim; beta and bias optional); outputs output, mean,
 * inv_std_var and input_skip_bias_sum (all but the first optional). Each row's sum
 * (input + skip) + bias is formed in the sum output (or in the output itself) and
 * normalized there by the LayerNormalization row kernel, so results equal Add then
 * LayerNormalization (axis -1) bit for bit. */
static nn_status skln_check(nn_op_ctx *ctx, int64_t *rows, int64_t *cols) {
  const nn_value *x = nn_in(ctx, 0), *skip = nn_in(ctx, 1);
  if (!x || !skip || !nn_in(ctx, 2))
    return nn_op_error(ctx, NN_ERR_INVALID, "inputs 'input', 'skip' and 'gamma' are required");
  if (x->dtype != NN_FLOAT)
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "dtype %s is not supported (only float32)",
                       nn_dtype_name(x->dtype));
  if (x->ndim < 1) return nn_op_error(ctx, NN_ERR_INVALID, "input 'input' is a scalar");
  int same = skip->ndim == x->ndim && skip->dtype == x->dtype;
  for (int i = 0; same && i < x->ndim; i++) same = skip->dims[i] == x->dims[i];
  if (!same)
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "input 'skip' must have the shape and dtype "
                       "of 'input'");
  *cols = x->dims[x->ndim - 1];
  *rows = *cols ? nn_value_numel(x) / *cols : 0;
  static const char *const names[] = {"gamma", "beta", "bias"};
  for (int k = 2; k < 5; k++) {
    const nn_value *v = nn_in(ctx, k);
    if (v && (v->dtype != NN_FLOAT || nn_value_numel(v) != *cols))
      return nn_op_error(ctx, NN_ERR_INVALID, "input '%s' must hold %lld float32 values",
                         names[k - 2], (long long)*cols);
  }
  return NN_OK;
}

static nn_status skln_infer(nn_op_ctx *ctx) {
  int64_t rows, cols;
  nn_status st = skln_check(ctx, &rows, &cols);
  if (st) return st;
  const nn_value *x = nn_in(ctx, 0);
  if (!nn_out(ctx, 0)) return nn_op_error(ctx, NN_ERR_INVALID, "output 'output' is missing");
  int64_t sd[NN_MAX_DIMS];
  for (int i = 0; i < x->ndim; i++) sd[i] = i < x->ndim - 1 ? x->dims[i] : 1;
  if ((st = nn_value_set(ctx, nn_out(ctx, 0), NN_FLOAT, x->ndim, x->dims))) return st;
  for (int k = 1; k < 3; k++)
    if ((st = nn_value_set(ctx, nn_out(ctx, k), NN_FLOAT, x->ndim, sd))) return st;
  return nn_value_set(ctx, nn_out(ctx, 3), NN_FLOAT, x->ndim, x->dims);
}

typedef struct skln_par {
  const nn_kernels *k;
  size_t cols, rows, chunk;
  const float *x, *skip, *gamma, *beta, *bias;
  float eps;
  float *y, *mean, *inv, *sum;
} skln_par;

static void skln_task(void *ctx, size_t thread, size_t t) {
  const skln_par *w = ctx;
  (void)thread;
  const size_t n = w->cols, r1 = (t + 1) * w->chunk < w->rows ? (t + 1) * w->chunk : w->rows;
  for (size_t r = t * w->chunk; r < r1; r++) {
    const float *x = w->x + r * n, *sk = w->skip + r * n;
    float *y = w->y + r * n, *s = w->sum ? w->sum + r * n : y;
    for (size_t i = 0; i < n; i++) s[i] = x[i] + sk[i];
    if (w->bias)
      for (size_t i = 0; i < n; i++) s[i] = s[i] + w->bias[i];
    float *mp = w->mean ? w->mean + r : NULL, *ip = w->inv ? w->inv + r : NULL;
    if (w->k->f32_layernorm)
      w->k->f32_layernorm(n, s, w->gamma, w->beta, w->eps, y, mp, ip);
    else
      nn_f32_layernorm__ref(1, (int64_t)n, s, w->gamma, 1, w->beta, 1, w->eps, y, mp, ip);
  }
}

static nn_status skln_run(nn_op_ctx *ctx) {
  int64_t rows, cols;
  nn_status st = skln_check(ctx, &rows, &cols);
  if (st) return st;
  nn_value *m = nn_out(ctx, 1), *inv = nn_out(ctx, 2), *sum = nn_out(ctx, 3);
  const nn_value *beta = nn_in(ctx, 3), *bias = nn_in(ctx, 4);
  skln_par w = {.k = nn_kernels_get(), .cols = (size_t)cols, .rows = (size_t)rows,
                .x = nn_in(ctx, 0)->data, .skip = nn_in(ctx, 1)->data,
                .gamma = nn_in(ctx, 2)->data, .beta = beta ? beta->data : NULL,
                .bias = bias ? bias->data : NULL,
                .eps = nn_attr_float(ctx->node, "epsilon", 1e-12f), .y = ctx->out[0]->data,
                .mean = m ? m->data : NULL, .inv = inv ? inv->data : NULL,
                .sum = sum ? sum->data : NULL};
  if (!rows || !cols) return NN_OK;
  nn_threadpool *pool = nn_session_threadpool(ctx->session);
  const size_t tasks = row_tasks(w.rows, w.cols, pool, &w.chunk);
  nn_threadpool_parallelize(tasks > 1 ? pool : NULL, skln_task, &w, tasks);
  return NN_OK;
}

NN_OP(SkipLayerNormalization) = {.op_type = "SkipLayerNormalization",
                                 .domain = "com.microsoft",
                                 .infer = skln_infer,
                                 .run = skln_run};
