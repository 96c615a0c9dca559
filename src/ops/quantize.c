/*
 * quantize.c - QuantizeLinear, DequantizeLinear (per tensor and, from opset 13, per
 * axis) and DynamicQuantizeLinear. The arithmetic (float32 division, round half to even,
 * saturation) is in kernels/ref/requant.h, shared with the quantization passes.
 */

#include "kernels/ref/requant.h"
#include "kernels/dispatch.h"
#include "ops/op.h"
#include "runtime/session.h"
#include "runtime/threadpool.h"

/* Per-tensor float32 <-> 8-bit conversion of a large tensor, split into chunks over the
 * session's threads (element-wise, so the result does not depend on the split). */
enum { QCHUNK_MIN = 16384 };
typedef struct qconv_job {
  int deq;
  nn_dtype xt; /* 8-bit type (the input of DequantizeLinear, the output of QuantizeLinear) */
  size_t n, chunk;
  const void *x;
  void *y;
  float scale;
  int32_t zp, qmin, qmax;
} qconv_job;

static void qconv_task(void *ctx, size_t thread, size_t t) {
  const qconv_job *j = ctx;
  const size_t off = t * j->chunk, n = j->n - off < j->chunk ? j->n - off : j->chunk;
  if (!j->deq)
    nn_kernels_get()->q8_quantize(n, (const float *)j->x + off, j->scale, j->zp, j->qmin,
                                  j->qmax, (uint8_t *)j->y + off);
  else if (j->xt == NN_UINT8)
    nn_qu8_f32_dequantize__ref(n, (const uint8_t *)j->x + off, j->scale, (uint8_t)j->zp,
                               (float *)j->y + off);
  else
    nn_qs8_f32_dequantize__ref(n, (const int8_t *)j->x + off, j->scale, (int8_t)j->zp,
                               (float *)j->y + off);
  (void)thread;
}

/* Runs j over the pool when the tensor is big enough to pay for a parallel loop;
 * returns 0 (nothing done) otherwise. */
static int qconv_parallel(nn_op_ctx *ctx, qconv_job *j) {
  nn_threadpool *pool = nn_session_threadpool(ctx->session);
  const size_t threads = (size_t)nn_threadpool_size(pool);
  if (threads < 2 || j->n < 2 * QCHUNK_MIN) return 0;
  size_t tasks = j->n / QCHUNK_MIN;
  if (tasks > 4 * threads) tasks = 4 * threads;
  j->chunk = ((j->n + tasks - 1) / tasks + 63) & ~(size_t)63;
  nn_threadpool_parallelize(pool, qconv_task, j, (j->n + j->chunk - 1) / j->chunk);
  return 1;
}

static int is_q8(nn_dtype t) { return t == NN_UINT8 || t == NN_INT8; }

/* Input types QuantizeLinear accepts for x: float32 natively, the rest via float. */
static int is_quant_src(nn_dtype t) {
  return t == NN_FLOAT || t == NN_INT32 || t == NN_FLOAT16 || t == NN_BFLOAT16 ||
         t == NN_DOUBLE;
}

static int is_scale_type(nn_dtype t) {
  return t == NN_FLOAT || t == NN_FLOAT16 || t == NN_BFLOAT16 || t == NN_DOUBLE;
}

/* How a scale / zero-point pair applies to x: per tensor (channels == 1) or along axis.
 * x is then viewed as [outer, channels, inner]. */
typedef struct qaxis {
  int64_t outer, channels, inner;
} qaxis;

/* Validate scale (input si) and zero point (input zi, optional) against x and find the
 * quantization axis. names: the spec's input names for messages. */
static nn_status check_qparams(nn_op_ctx *ctx, const nn_value *x, int si, int zi,
                               const char *sname, const char *zname, qaxis *qa) {
  const nn_value *s = nn_in(ctx, si), *z = nn_in(ctx, zi);
  if (!s) return nn_op_error(ctx, NN_ERR_INVALID, "input '%s' is missing", sname);
  if (nn_attr_int(ctx->node, "block_size", 0) != 0)
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "blocked quantization (attribute "
                       "'block_size') is not supported");
  if (!is_scale_type(s->dtype))
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "input '%s' has dtype %s, expected float",
                       sname, nn_dtype_name(s->dtype));
  int64_t ns = nn_value_numel(s);
  if (s->ndim > 1 || ns < 1)
    return nn_op_error(ctx, NN_ERR_INVALID, "input '%s' must be a scalar or 1-D tensor",
                       sname);
  if (z) {
    if (z->ndim != s->ndim || nn_value_numel(z) != ns)
      return nn_op_error(ctx, NN_ERR_INVALID, "input '%s' must have the shape of '%s'",
                         zname, sname);
  }
  int64_t n = nn_value_numel(x);
  qa->outer = 1;
  qa->channels = 1;
  qa->inner = n;
  if (ns > 1) { /* per axis (a one-element 1-D scale is a per-tensor scale) */
    if (ctx->opset < 13)
      return nn_op_error(ctx, NN_ERR_INVALID,
                         "input '%s' must be a scalar before opset 13 (per-axis "
                         "quantization needs opset 13)", sname);
    if (x->ndim == 0)
      return nn_op_error(ctx, NN_ERR_INVALID, "input '%s' has %lld elements but x is a scalar",
                         sname, (long long)ns);
    int axis;
    nn_status st = nn_norm_axis(ctx, nn_attr_int(ctx->node, "axis", 1), x->ndim, &axis);
    if (st) return st;
    if (x->dims[axis] != ns)
      return nn_op_error(ctx, NN_ERR_INVALID,
                         "input '%s' has %lld elements but x has %lld along axis %d", sname,
                         (long long)ns, (long long)x->dims[axis], axis);
    qa->outer = 1;
    for (int d = 0; d < axis; d++) qa->outer *= x->dims[d];
    qa->channels = ns;
    qa->inner = 1;
    for (int d = axis + 1; d < x->ndim; d++) qa->inner *= x->dims[d];
  }
  return NN_OK;
}

/* ---------------------------------------------------------------- QuantizeLinear */

static nn_status quantize_infer(nn_op_ctx *ctx) {
  const nn_value *x = nn_in(ctx, 0), *z = nn_in(ctx, 2);
  if (!x) return nn_op_error(ctx, NN_ERR_INVALID, "input 'x' is missing");
  if (!is_quant_src(x->dtype))
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "input 'x' has dtype %s, expected float or int32",
                       nn_dtype_name(x->dtype));
  /* Output type: that of y_zero_point, else attribute output_dtype (opset 21), else
   * uint8. */
  nn_dtype out = z ? z->dtype : (nn_dtype)nn_attr_int(ctx->node, "output_dtype", NN_UINT8);
  if (out == NN_UNDEFINED) out = NN_UINT8;
  if (!is_q8(out))
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "output dtype %s is not supported (uint8 "
                       "or int8)", nn_dtype_name(out));
  qaxis qa;
  nn_status st = check_qparams(ctx, x, 1, 2, "y_scale", "y_zero_point", &qa);
  if (st) return st;
  return nn_value_set(ctx, nn_out(ctx, 0), out, x->ndim, x->dims);
}

static nn_status quantize_run(nn_op_ctx *ctx) {
  const nn_value *x = nn_in(ctx, 0), *s = nn_in(ctx, 1), *z = nn_in(ctx, 2);
  nn_value *y = nn_out(ctx, 0);
  qaxis qa;
  nn_status st = check_qparams(ctx, x, 1, 2, "y_scale", "y_zero_point", &qa);
  if (st) return st;
  const int sgn = y->dtype == NN_INT8;
  const int32_t qmin = sgn ? -128 : 0, qmax = sgn ? 127 : 255;
  const nn_dtype_traits *xt = nn_dtype_traits_of(x->dtype);
  if (x->dtype == NN_FLOAT && qa.outer == 1 && qa.channels == 1) {
    qconv_job j = {0, y->dtype, (size_t)qa.inner, 0, x->data, y->data,
                   (float)nn_value_get_f64(s, 0), z ? (int32_t)nn_value_get_i64(z, 0) : 0,
                   qmin, qmax};
    if (qconv_parallel(ctx, &j)) return NN_OK;
  }
  for (int64_t o = 0; o < qa.outer; o++) {
    for (int64_t c = 0; c < qa.channels; c++) {
      float scale = (float)nn_value_get_f64(s, c);
      int32_t zp = z ? (int32_t)nn_value_get_i64(z, c) : 0;
      int64_t off = (o * qa.channels + c) * qa.inner;
      size_t n = (size_t)qa.inner;
      if (x->dtype == NN_FLOAT) {
        const float *xp = (const float *)x->data + off;
        nn_kernels_get()->q8_quantize(n, xp, scale, zp, qmin, qmax, (uint8_t *)y->data + off);
        continue;
      }
      /* Other input types: convert each element to float32 first, as the spec's
       * float computation does. */
      for (int64_t i = off; i < off + qa.inner; i++) {
        float v = (float)xt->to_f64((const char *)x->data + (size_t)i * xt->size);
        int32_t q = nn_quantize_round_sat(v / scale, zp, qmin, qmax);
        if (sgn)
          ((int8_t *)y->data)[i] = (int8_t)q;
        else
          ((uint8_t *)y->data)[i] = (uint8_t)q;
      }
    }
  }
  return NN_OK;
}

NN_OP(QuantizeLinear) = {.op_type = "QuantizeLinear",
                         .domain = "",
                         .infer = quantize_infer,
                         .run = quantize_run};

/* -------------------------------------------------------------- DequantizeLinear */

static nn_status dequantize_infer(nn_op_ctx *ctx) {
  const nn_value *x = nn_in(ctx, 0), *z = nn_in(ctx, 2);
  if (!x) return nn_op_error(ctx, NN_ERR_INVALID, "input 'x' is missing");
  if (!is_q8(x->dtype) && x->dtype != NN_INT32)
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED,
                       "input 'x' has dtype %s, expected uint8, int8 or int32",
                       nn_dtype_name(x->dtype));
  if (z && z->dtype != x->dtype)
    return nn_op_error(ctx, NN_ERR_INVALID,
                       "input 'x_zero_point' has dtype %s but 'x' has %s",
                       nn_dtype_name(z->dtype), nn_dtype_name(x->dtype));
  qaxis qa;
  nn_status st = check_qparams(ctx, x, 1, 2, "x_scale", "x_zero_point", &qa);
  if (st) return st;
  /* y has the type of x_scale: float32, or float16/bfloat16 from opset 19. */
  return nn_value_set(ctx, nn_out(ctx, 0), nn_in(ctx, 1)->dtype, x->ndim, x->dims);
}

static nn_status dequantize_run(nn_op_ctx *ctx) {
  const nn_value *x = nn_in(ctx, 0), *s = nn_in(ctx, 1), *z = nn_in(ctx, 2);
  nn_value *y = nn_out(ctx, 0);
  qaxis qa;
  nn_status st = check_qparams(ctx, x, 1, 2, "x_scale", "x_zero_point", &qa);
  if (st) return st;
  if (y->dtype == NN_FLOAT && is_q8(x->dtype) && qa.outer == 1 && qa.channels == 1) {
    qconv_job j = {1, x->dtype, (size_t)qa.inner, 0, x->data, y->data,
                   (float)nn_value_get_f64(s, 0), z ? (int32_t)nn_value_get_i64(z, 0) : 0,
                   0, 0};
    if (qconv_parallel(ctx, &j)) return NN_OK;
  }
  for (int64_t o = 0; o < qa.outer; o++) {
    for (int64_t c = 0; c < qa.channels; c++) {
      float scale = (float)nn_value_get_f64(s, c);
      int32_t zp = z ? (int32_t)nn_value_get_i64(z, c) : 0;
      int64_t off = (o * qa.channels + c) * qa.inner;
      size_t n = (size_t)qa.inner;
      if (y->dtype != NN_FLOAT) { /* half-precision output: compute in float32, round */
        const nn_dtype_traits *yt = nn_dtype_traits_of(y->dtype);
        for (int64_t i = off; i < off + qa.inner; i++) {
          float v = ((float)nn_value_get_i64(x, i) - (float)zp) * scale;
          yt->from_f64((char *)y->data + (size_t)i * yt->size, v);
        }
        continue;
      }
      float *yp = (float *)y->data + off;
      if (x->dtype == NN_UINT8)
        nn_qu8_f32_dequantize__ref(n, (const uint8_t *)x->data + off, scale, (uint8_t)zp, yp);
      else if (x->dtype == NN_INT8)
        nn_qs8_f32_dequantize__ref(n, (const int8_t *)x->data + off, scale, (int8_t)zp, yp);
      else
        nn_qs32_f32_dequantize__ref(n, (const int32_t *)x->data + off, scale, zp, yp);
    }
  }
  return NN_OK;
}

NN_OP(DequantizeLinear) = {.op_type = "DequantizeLinear",
                           .domain = "",
                           .infer = dequantize_infer,
                           .run = dequantize_run};

/* --------------------------------------------------------- DynamicQuantizeLinear */

static nn_status dynquant_infer(nn_op_ctx *ctx) {
  const nn_value *x = nn_in(ctx, 0);
  if (!x) return nn_op_error(ctx, NN_ERR_INVALID, "input 'x' is missing");
  if (x->dtype != NN_FLOAT)
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "input 'x' has dtype %s, expected float32",
                       nn_dtype_name(x->dtype));
  nn_status st = nn_value_set(ctx, nn_out(ctx, 0), NN_UINT8, x->ndim, x->dims);
  if (!st) st = nn_value_set(ctx, nn_out(ctx, 1), NN_FLOAT, 0, NULL);
  if (!st) st = nn_value_set(ctx, nn_out(ctx, 2), NN_UINT8, 0, NULL);
  return st;
}

/* Scale and zero point as the op's function body computes them in float32: the range
 * widened to include 0, scale = range / 255, zp = round(clip(0 - min / scale, 0, 255)).
 * An all-zero input (empty range) gets scale 1 and zero point 0, as in ONNX Runtime,
 * instead of the function body's 0 / 0. */
static void dynquant_params(const float *x, size_t n, float *scale_out, uint8_t *zp_out) {
  /* 16 independent lanes so the compiler keeps them in vector registers; min and max
   * are exact in any order, and NaN is skipped as the scalar compares skip it. */
  float l16[16] = {0}, h16[16] = {0};
  size_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (size_t j = 0; j < 16; j++) {
      const float v = x[i + j];
      l16[j] = v < l16[j] ? v : l16[j];
      h16[j] = v > h16[j] ? v : h16[j];
    }
  float lo = 0.0f, hi = 0.0f;
  for (size_t j = 0; j < 16; j++) {
    if (l16[j] < lo) lo = l16[j];
    if (h16[j] > hi) hi = h16[j];
  }
  for (; i < n; i++) {
    if (x[i] < lo) lo = x[i];
    if (x[i] > hi) hi = x[i];
  }
  float scale = hi == lo ? 1.0f : (hi - lo) / 255.0f;
  float zpf = 0.0f - lo / scale;
  if (zpf < 0.0f) zpf = 0.0f;
  if (zpf > 255.0f) zpf = 255.0f;
  *scale_out = scale;
  *zp_out = (uint8_t)nn_round_half_even_f32(zpf);
}

static nn_status dynquant_run(nn_op_ctx *ctx) {
  const nn_value *x = nn_in(ctx, 0);
  nn_value *y = nn_out(ctx, 0), *ys = nn_out(ctx, 1), *yz = nn_out(ctx, 2);
  size_t n = (size_t)nn_value_numel(x);
  float scale;
  uint8_t zp;
  dynquant_params(x->data, n, &scale, &zp);
  if (y) nn_kernels_get()->q8_quantize(n, x->data, scale, zp, 0, 255, y->data);
  if (ys) *(float *)ys->data = scale;
  if (yz) *(uint8_t *)yz->data = zp;
  return NN_OK;
}

NN_OP(DynamicQuantizeLinear) = {.op_type = "DynamicQuantizeLinear",
                                .domain = "",
                                .infer = dynquant_infer,
                                .run = dynquant_run};
