/*
 * elementwise_unary.c - unary math ops and activations (attributes -> kernel params),
 * Clip (bounds as attributes before opset 11, optional inputs after) and the Gelu
 * family (ai.onnx Gelu-20 with "approximate"; com.microsoft Gelu, FastGelu, BiasGelu).
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "kernels/ref/elementwise.h"
#include "kernels/ref/elementwise_unary.h"
#include "kernels/dispatch.h"
#include "ops/op.h"
#include "runtime/session.h"
#include "runtime/threadpool.h"

typedef void (*params_fn)(const nn_op_ctx *ctx, nn_unary_params *p);

static nn_status un_infer(nn_op_ctx *ctx, nn_unop op) {
  const nn_value *x = nn_in(ctx, 0);
  if (!x) return nn_op_error(ctx, NN_ERR_INVALID, "input 'X' is missing");
  if (!nn_out(ctx, 0)) return nn_op_error(ctx, NN_ERR_INVALID, "output 0 is missing");
  if (!nn_unary_lookup__ref(op, x->dtype))
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "dtype %s is not supported",
                       nn_dtype_name(x->dtype));
  nn_dtype out = (op == NN_UN_ISNAN || op == NN_UN_ISINF) ? NN_BOOL : x->dtype;
  return nn_value_set(ctx, ctx->out[0], out, x->ndim, x->dims);
}

/* Erf and the erf form of Gelu on float32 through the table's vector erf
 * (f32_eltwise.h: |error| <= 1e-6), split into chunks over the session's threads when
 * large. */
typedef struct verf_par {
  void (*fn)(size_t n, const float *x, float *y);
  void (*gelu_fn)(size_t n, const float *x, float *y); /* one pass, or NULL */
  const float *x;
  float *y;
  size_t n, chunk;
  int gelu;
} verf_par;

/* gelu: y = 0.5 x (1 + erf(x / sqrt 2)) in blocks through a stack buffer, so that y
 * may alias x. */
static void verf_task(void *ctx, size_t thread, size_t task) {
  const verf_par *w = ctx;
  (void)thread;
  const size_t i0 = task * w->chunk, n = w->n - i0 < w->chunk ? w->n - i0 : w->chunk;
  if (!w->gelu || w->gelu_fn) {
    (w->gelu ? w->gelu_fn : w->fn)(n, w->x + i0, w->y + i0);
    return;
  }
  float t[256];
  for (size_t b = 0; b < n; b += 256) {
    const size_t m = n - b < 256 ? n - b : 256;
    const float *x = w->x + i0 + b;
    float *y = w->y + i0 + b;
    for (size_t j = 0; j < m; j++) t[j] = x[j] * 0.70710678118654752f;
    w->fn(m, t, t);
    for (size_t j = 0; j < m; j++) y[j] = 0.5f * x[j] * (1.0f + t[j]);
  }
}

static int verf_fast(nn_op_ctx *ctx, const nn_value *x, const void *src, nn_value *y, int gelu) {
  const nn_kernels *k = nn_kernels_get();
  if (x->dtype != NN_FLOAT || !k->f32_verf) return 0;
  verf_par w = {.fn = k->f32_verf, .gelu_fn = k->f32_vgelu, .x = src, .y = y->data, .n = (size_t)nn_value_numel(x),
                .chunk = 16384, .gelu = gelu};
  const size_t tasks = (w.n + w.chunk - 1) / w.chunk;
  nn_threadpool_parallelize(tasks > 1 ? nn_session_threadpool(ctx->session) : NULL, verf_task,
                            &w, tasks);
  return 1;
}

static nn_status un_run(nn_op_ctx *ctx, nn_unop op, params_fn pf) {
  const nn_value *x = ctx->in[0];
  nn_unary_params p = {0};
  if (op == NN_UN_ERF && verf_fast(ctx, x, x->data, ctx->out[0], 0)) return NN_OK;
  if (pf) pf(ctx, &p);
  nn_unary_lookup__ref(op, x->dtype)(nn_value_numel(x), x->data, ctx->out[0]->data, &p);
  return NN_OK;
}

#define DEF_UNARY(Name, OP, PF)                                                            \
  static nn_status Name##_infer(nn_op_ctx *ctx) { return un_infer(ctx, OP); }              \
  static nn_status Name##_run(nn_op_ctx *ctx) { return un_run(ctx, OP, PF); }              \
  NN_OP(Name) = {.op_type = #Name, .domain = "", .infer = Name##_infer, .run = Name##_run};

static float attr_f(const nn_op_ctx *ctx, const char *name, float dflt) {
  return nn_attr_float(ctx->node, name, dflt);
}
static void leaky_params(const nn_op_ctx *c, nn_unary_params *p) {
  p->alpha = attr_f(c, "alpha", 0.01f);
}
static void alpha1_params(const nn_op_ctx *c, nn_unary_params *p) {
  p->alpha = attr_f(c, "alpha", 1.0f);
}
static void selu_params(const nn_op_ctx *c, nn_unary_params *p) {
  p->alpha = attr_f(c, "alpha", 1.67326319217681884765625f);
  p->gamma = attr_f(c, "gamma", 1.05070102214813232421875f);
}
static void hard_sigmoid_params(const nn_op_ctx *c, nn_unary_params *p) {
  p->alpha = attr_f(c, "alpha", 0.2f);
  p->beta = attr_f(c, "beta", 0.5f);
}
static void isinf_params(const nn_op_ctx *c, nn_unary_params *p) {
  p->detect_negative = (int)nn_attr_int(c->node, "detect_negative", 1);
  p->detect_positive = (int)nn_attr_int(c->node, "detect_positive", 1);
}

DEF_UNARY(Abs, NN_UN_ABS, NULL)
DEF_UNARY(Neg, NN_UN_NEG, NULL)
DEF_UNARY(Sign, NN_UN_SIGN, NULL)
DEF_UNARY(Relu, NN_UN_RELU, NULL)
DEF_UNARY(Sqrt, NN_UN_SQRT, NULL)
DEF_UNARY(Exp, NN_UN_EXP, NULL)
DEF_UNARY(Log, NN_UN_LOG, NULL)
DEF_UNARY(Reciprocal, NN_UN_RECIPROCAL, NULL)
DEF_UNARY(Floor, NN_UN_FLOOR, NULL)
DEF_UNARY(Ceil, NN_UN_CEIL, NULL)
DEF_UNARY(Round, NN_UN_ROUND, NULL)
DEF_UNARY(Erf, NN_UN_ERF, NULL)
DEF_UNARY(Sin, NN_UN_SIN, NULL)
DEF_UNARY(Cos, NN_UN_COS, NULL)
DEF_UNARY(Tan, NN_UN_TAN, NULL)
DEF_UNARY(Asin, NN_UN_ASIN, NULL)
DEF_UNARY(Acos, NN_UN_ACOS, NULL)
DEF_UNARY(Atan, NN_UN_ATAN, NULL)
DEF_UNARY(Sinh, NN_UN_SINH, NULL)
DEF_UNARY(Cosh, NN_UN_COSH, NULL)
DEF_UNARY(Asinh, NN_UN_ASINH, NULL)
DEF_UNARY(Acosh, NN_UN_ACOSH, NULL)
DEF_UNARY(Atanh, NN_UN_ATANH, NULL)
DEF_UNARY(Tanh, NN_UN_TANH, NULL)
DEF_UNARY(Sigmoid, NN_UN_SIGMOID, NULL)
DEF_UNARY(LeakyRelu, NN_UN_LEAKY_RELU, leaky_params)
DEF_UNARY(Elu, NN_UN_ELU, alpha1_params)
DEF_UNARY(Selu, NN_UN_SELU, selu_params)
DEF_UNARY(Celu, NN_UN_CELU, alpha1_params)
DEF_UNARY(ThresholdedRelu, NN_UN_THRESHOLDED_RELU, alpha1_params)
DEF_UNARY(HardSigmoid, NN_UN_HARD_SIGMOID, hard_sigmoid_params)
DEF_UNARY(HardSwish, NN_UN_HARD_SWISH, NULL)
DEF_UNARY(Softplus, NN_UN_SOFTPLUS, NULL)
DEF_UNARY(Softsign, NN_UN_SOFTSIGN, NULL)
DEF_UNARY(Mish, NN_UN_MISH, NULL)
DEF_UNARY(Not, NN_UN_NOT, NULL)
DEF_UNARY(IsNaN, NN_UN_ISNAN, NULL)
DEF_UNARY(IsInf, NN_UN_ISINF, isinf_params)

/* ---- Clip ---- */

static nn_status clip_infer(nn_op_ctx *ctx) {
  nn_status st = un_infer(ctx, NN_UN_CLIP);
  if (st) return st;
  if (ctx->opset < 11 && !nn_dtype_traits_of(ctx->in[0]->dtype)->is_float)
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "Clip-%lld needs a float input",
                       (long long)ctx->opset);
  for (int i = 1; i < 3; i++) {
    const nn_value *b = nn_in(ctx, i);
    if (!b) continue;
    if (b->dtype != ctx->in[0]->dtype)
      return nn_op_error(ctx, NN_ERR_INVALID, "input '%s' is %s, input 'input' is %s",
                         i == 1 ? "min" : "max", nn_dtype_name(b->dtype),
                         nn_dtype_name(ctx->in[0]->dtype));
    if (nn_value_numel(b) != 1)
      return nn_op_error(ctx, NN_ERR_INVALID,
                         "input '%s' must be a scalar, has %lld elements",
                         i == 1 ? "min" : "max", (long long)nn_value_numel(b));
  }
  return NN_OK;
}

static nn_status clip_run(nn_op_ctx *ctx) {
  const nn_value *x = ctx->in[0];
  const nn_dtype_traits *tr = nn_dtype_traits_of(x->dtype);
  nn_unary_params p = {0};
  p.lo = -INFINITY;
  p.hi = INFINITY;
  if (tr->is_signed && tr->is_integer) {
    int bits = (int)tr->size * 8;
    p.ilo = bits == 64 ? INT64_MIN : -((int64_t)1 << (bits - 1));
    p.ihi = bits == 64 ? INT64_MAX : ((int64_t)1 << (bits - 1)) - 1;
  } else {
    p.ilo = 0;
    p.ihi = -1; /* all ones: the unsigned maximum after the cast to T */
  }
  if (ctx->opset < 11) {
    p.lo = nn_attr_float(ctx->node, "min", -FLT_MAX);
    p.hi = nn_attr_float(ctx->node, "max", FLT_MAX);
  } else {
    const nn_value *lo = nn_in(ctx, 1), *hi = nn_in(ctx, 2);
    if (lo) {
      p.lo = nn_value_get_f64(lo, 0);
      p.ilo = nn_value_get_i64(lo, 0);
    }
    if (hi) {
      p.hi = nn_value_get_f64(hi, 0);
      p.ihi = nn_value_get_i64(hi, 0);
    }
  }
  nn_unary_lookup__ref(NN_UN_CLIP, x->dtype)(nn_value_numel(x), x->data, ctx->out[0]->data,
                                             &p);
  return NN_OK;
}

NN_OP(Clip) = {.op_type = "Clip", .domain = "", .infer = clip_infer, .run = clip_run};

/* ---- Gelu family ---- */

static nn_unop gelu_kind(const nn_op_ctx *ctx) {
  if (!strcmp(ctx->def->op_type, "FastGelu")) return NN_UN_GELU_TANH;
  if (!strcmp(ctx->def->domain, "com.microsoft")) return NN_UN_GELU;
  return strcmp(nn_attr_string(ctx->node, "approximate", "none"), "tanh") ? NN_UN_GELU
                                                                          : NN_UN_GELU_TANH;
}

static nn_status gelu_infer(nn_op_ctx *ctx) {
  const char *ap = nn_attr_string(ctx->node, "approximate", "none");
  if (strcmp(ap, "none") && strcmp(ap, "tanh"))
    return nn_op_error(ctx, NN_ERR_INVALID,
                       "attribute 'approximate' is '%s', expected none or tanh", ap);
  nn_status st = un_infer(ctx, gelu_kind(ctx));
  if (st) return st;
  const nn_value *x = ctx->in[0], *b = nn_in(ctx, 1);
  if (b) { /* bias: broadcast along the last axis onto X */
    if (b->dtype != x->dtype)
      return nn_op_error(ctx, NN_ERR_INVALID, "input 'bias' is %s, input 'X' is %s",
                         nn_dtype_name(b->dtype), nn_dtype_name(x->dtype));
    if (!nn_binary_lookup__ref(NN_BIN_ADD, x->dtype))
      return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "dtype %s is not supported",
                         nn_dtype_name(x->dtype));
    int no;
    int64_t od[NN_MAX_DIMS];
    if ((st = nn_broadcast_shape(ctx, x->ndim, x->dims, b->ndim, b->dims, &no, od)))
      return st;
    if (no != x->ndim || memcmp(od, x->dims, (size_t)no * sizeof *od))
      return nn_op_error(ctx, NN_ERR_INVALID, "input 'bias' does not broadcast to 'X'");
  } else if (!strcmp(ctx->def->op_type, "BiasGelu")) {
    return nn_op_error(ctx, NN_ERR_INVALID, "input 'bias' is missing");
  }
  return NN_OK;
}

static nn_status gelu_run(nn_op_ctx *ctx) {
  const nn_value *x = ctx->in[0], *b = nn_in(ctx, 1);
  nn_value *y = ctx->out[0];
  const void *src = x->data;
  if (b) { /* y = x + bias, then Gelu in place */
    nn_bcast p;
    const int nd[2] = {x->ndim, b->ndim};
    const int64_t *dims[2] = {x->dims, b->dims};
    nn_bcast_init(&p, 2, nd, dims, y->ndim, y->dims);
    size_t es = nn_dtype_size(x->dtype);
    nn_binary__ref(&p, nn_binary_lookup__ref(NN_BIN_ADD, x->dtype), x->data, es, b->data,
                   es, y->data, es, NULL);
    src = y->data;
  }
  if (gelu_kind(ctx) == NN_UN_GELU && verf_fast(ctx, x, src, y, 1)) return NN_OK;
  nn_unary_params p = {0};
  nn_unary_lookup__ref(gelu_kind(ctx), x->dtype)(nn_value_numel(x), src, y->data, &p);
  return NN_OK;
}

NN_OP(Gelu) = {.op_type = "Gelu", .domain = "", .infer = gelu_infer, .run = gelu_run};
NN_OP(GeluMs) = {
    .op_type = "Gelu", .domain = "com.microsoft", .infer = gelu_infer, .run = gelu_run};
NN_OP(FastGelu) = {
    .op_type = "FastGelu", .domain = "com.microsoft", .infer = gelu_infer, .run = gelu_run};
NN_OP(BiasGelu) = {
    .op_type = "BiasGelu", .domain = "com.microsoft", .infer = gelu_infer, .run = gelu_run};
