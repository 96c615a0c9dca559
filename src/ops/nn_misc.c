/*
 * nn_misc.c - small NN ops: DepthToSpace (DCR/CRD), SpaceToDepth, Dropout (identity
 * in inference; training mode with a seeded generator) and Shrink.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ops/op.h"

/* ---- DepthToSpace / SpaceToDepth ---- */

static nn_status d2s_check(nn_op_ctx *ctx, int to_space, int64_t *od, int *crd) {
  const nn_value *x = nn_in(ctx, 0);
  if (!x) return nn_op_error(ctx, NN_ERR_INVALID, "input 'input' is required");
  if (x->dtype == NN_STRING || !nn_dtype_traits_of(x->dtype))
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "input 'input' has dtype %s",
                       nn_dtype_name(x->dtype));
  if (x->ndim != 4)
    return nn_op_error(ctx, NN_ERR_INVALID, "input 'input' has rank %d, expected 4", x->ndim);
  const int64_t b = nn_attr_int(ctx->node, "blocksize", 0);
  if (b < 1)
    return nn_op_error(ctx, NN_ERR_INVALID, "attribute 'blocksize' is %lld, expected >= 1",
                       (long long)b);
  *crd = 0;
  if (to_space) {
    const char *mode = nn_attr_string(ctx->node, "mode", "DCR");
    if (!strcmp(mode, "CRD")) *crd = 1;
    else if (strcmp(mode, "DCR"))
      return nn_op_error(ctx, NN_ERR_INVALID, "attribute 'mode' is '%s', expected DCR or CRD",
                         mode);
    if (x->dims[1] % (b * b))
      return nn_op_error(ctx, NN_ERR_INVALID, "input has %lld channels, not a multiple of "
                         "blocksize^2 = %lld", (long long)x->dims[1], (long long)(b * b));
    od[0] = x->dims[0];
    od[1] = x->dims[1] / (b * b);
    od[2] = x->dims[2] * b;
    od[3] = x->dims[3] * b;
  } else {
    if (x->dims[2] % b || x->dims[3] % b)
      return nn_op_error(ctx, NN_ERR_INVALID, "input spatial dims %lld x %lld are not "
                         "multiples of blocksize %lld", (long long)x->dims[2],
                         (long long)x->dims[3], (long long)b);
    od[0] = x->dims[0];
    od[1] = x->dims[1] * b * b;
    od[2] = x->dims[2] / b;
    od[3] = x->dims[3] / b;
  }
  return NN_OK;
}

static nn_status d2s_infer_any(nn_op_ctx *ctx, int to_space) {
  int64_t od[4];
  int crd;
  nn_status s = d2s_check(ctx, to_space, od, &crd);
  if (s) return s;
  return nn_value_set(ctx, nn_out(ctx, 0), nn_in(ctx, 0)->dtype, 4, od);
}

/* Both ops move whole rows of w elements: for every (n, c, h, i, j) of the deep
 * layout one input row maps to every b-th element of one output row (or back). */
static nn_status d2s_run_any(nn_op_ctx *ctx, int to_space) {
  int64_t od[4];
  int crd;
  nn_status s = d2s_check(ctx, to_space, od, &crd);
  if (s) return s;
  const nn_value *x = nn_in(ctx, 0);
  nn_value *y = nn_out(ctx, 0);
  if (!y) return NN_OK;
  const size_t es = nn_dtype_size(x->dtype);
  const int64_t b = nn_attr_int(ctx->node, "blocksize", 1);
  /* Space layout: N x C x (H*b) x (W*b); depth layout: N x (C*b*b) x H x W. */
  const int64_t N = to_space ? od[0] : x->dims[0];
  const int64_t C = to_space ? od[1] : x->dims[1];
  const int64_t H = to_space ? x->dims[2] : od[2];
  const int64_t W = to_space ? x->dims[3] : od[3];
  const char *src = x->data;
  char *dst = y->data;
  for (int64_t n = 0; n < N; n++)
    for (int64_t c = 0; c < C; c++)
      for (int64_t i = 0; i < b; i++)
        for (int64_t j = 0; j < b; j++) {
          const int64_t dc = crd ? (c * b + i) * b + j : (i * b + j) * C + c;
          for (int64_t h = 0; h < H; h++) {
            const int64_t deep = ((n * C * b * b + dc) * H + h) * W;
            const int64_t flat = ((n * C + c) * H * b + h * b + i) * W * b + j;
            for (int64_t w = 0; w < W; w++) {
              const int64_t di = deep + w, si = flat + w * b;
              if (to_space)
                memcpy(dst + (size_t)si * es, src + (size_t)di * es, es);
              else
                memcpy(dst + (size_t)di * es, src + (size_t)si * es, es);
            }
          }
        }
  return NN_OK;
}

static nn_status d2s_infer(nn_op_ctx *ctx) { return d2s_infer_any(ctx, 1); }
static nn_status d2s_run(nn_op_ctx *ctx) { return d2s_run_any(ctx, 1); }
static nn_status s2d_infer(nn_op_ctx *ctx) { return d2s_infer_any(ctx, 0); }
static nn_status s2d_run(nn_op_ctx *ctx) { return d2s_run_any(ctx, 0); }

NN_OP(DepthToSpace) = {.op_type = "DepthToSpace", .domain = "", .infer = d2s_infer,
                       .run = d2s_run};
NN_OP(SpaceToDepth) = {.op_type = "SpaceToDepth", .domain = "", .infer = s2d_infer,
                       .run = s2d_run};

/* ---- Dropout ----
 * Training mode draws u ~ U[0, 1) per element from MT19937 (53-bit doubles, as
 * numpy's RandomState.uniform) and keeps elements with u >= ratio, scaled by
 * 1 / (1 - ratio). The generator is seeded once per plan from the 'seed'
 * attribute (else from the clock) and its stream continues across runs. */

typedef struct mt19937 {
  uint32_t mt[624];
  int idx;
} mt19937;

static void mt_seed(mt19937 *g, uint32_t s) {
  g->mt[0] = s;
  for (int i = 1; i < 624; i++)
    g->mt[i] = 1812433253u * (g->mt[i - 1] ^ (g->mt[i - 1] >> 30)) + (uint32_t)i;
  g->idx = 624;
}

static uint32_t mt_next(mt19937 *g) {
  if (g->idx >= 624) {
    for (int i = 0; i < 624; i++) {
      uint32_t y = (g->mt[i] & 0x80000000u) | (g->mt[(i + 1) % 624] & 0x7fffffffu);
      g->mt[i] = g->mt[(i + 397) % 624] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
    }
    g->idx = 0;
  }
  uint32_t y = g->mt[g->idx++];
  y ^= y >> 11;
  y ^= (y << 7) & 0x9d2c5680u;
  y ^= (y << 15) & 0xefc60000u;
  y ^= y >> 18;
  return y;
}

static double mt_double(mt19937 *g) {
  const uint32_t a = mt_next(g) >> 5, b = mt_next(g) >> 6;
  return ((double)a * 67108864.0 + (double)b) / 9007199254740992.0;
}

static void mt_init(nn_op_ctx *ctx, mt19937 *g) {
  const nn_attr *a = nn_node_attr(ctx->node, "seed");
  uint32_t seed = a ? (uint32_t)nn_attr_int(ctx->node, "seed", 0)
                    : (uint32_t)time(NULL) ^ ((uint32_t)ctx->node_index * 2654435761u);
  mt_seed(g, seed);
}

static int dropout_fp(nn_dtype t) {
  return t == NN_FLOAT || t == NN_DOUBLE || t == NN_FLOAT16 || t == NN_BFLOAT16;
}

static nn_status dropout_infer(nn_op_ctx *ctx) {
  const nn_value *x = nn_in(ctx, 0), *r = nn_in(ctx, 1), *t = nn_in(ctx, 2);
  nn_status s;
  if (!x) return nn_op_error(ctx, NN_ERR_INVALID, "input 'data' is required");
  if (!dropout_fp(x->dtype))
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "input 'data' has dtype %s (float types "
                       "supported)", nn_dtype_name(x->dtype));
  if (ctx->opset >= 12) {
    if (r && (!dropout_fp(r->dtype) || nn_value_numel(r) != 1))
      return nn_op_error(ctx, NN_ERR_INVALID, "input 'ratio' must be a float scalar");
    if (t && (t->dtype != NN_BOOL || nn_value_numel(t) != 1))
      return nn_op_error(ctx, NN_ERR_INVALID, "input 'training_mode' must be a bool scalar");
  }
  if ((s = nn_value_set(ctx, nn_out(ctx, 0), x->dtype, x->ndim, x->dims))) return s;
  return nn_value_set(ctx, nn_out(ctx, 1), ctx->opset >= 10 ? NN_BOOL : x->dtype, x->ndim,
                      x->dims);
}

static nn_status dropout_prepare(nn_op_ctx *ctx) {
  if (ctx->opset < 12 || !nn_in(ctx, 2) || ctx->state) return NN_OK;
  mt19937 *g = malloc(sizeof *g);
  if (!g) return nn_op_error(ctx, NN_ERR_NOMEM, "out of memory");
  mt_init(ctx, g);
  ctx->state = g;
  return NN_OK;
}

static void dropout_release(void *state) { free(state); }

static nn_status dropout_run(nn_op_ctx *ctx) {
  const nn_value *x = nn_in(ctx, 0), *r = nn_in(ctx, 1), *t = nn_in(ctx, 2);
  nn_value *y = nn_out(ctx, 0), *mask = nn_out(ctx, 1);
  const int64_t n = nn_value_numel(x);
  const nn_dtype_traits *tr = nn_dtype_traits_of(x->dtype);
  int training = ctx->opset >= 12 && t && *(const uint8_t *)t->data;
  double ratio = 0.5;
  if (ctx->opset >= 12 && r) ratio = nn_value_get_f64(r, 0);
  if (training && !(ratio >= 0 && ratio < 1))
    return nn_op_error(ctx, NN_ERR_INVALID, "ratio %g is outside [0, 1)", ratio);
  if (!training || ratio == 0) {
    if (y && y->data != x->data) memcpy(y->data, x->data, x->nbytes);
    if (mask) {
      if (mask->dtype == NN_BOOL)
        memset(mask->data, 1, mask->nbytes);
      else
        for (int64_t i = 0; i < n; i++) tr->from_f64((char *)mask->data + i * tr->size, 1.0);
    }
    return NN_OK;
  }
  mt19937 local, *g = ctx->state;
  if (!g) {
    mt_init(ctx, &local);
    g = &local;
  }
  /* The ratio and scale are rounded to the element type's precision first, like a
   * framework computing them in that type. */
  const float rf = (float)ratio, scale = 1.0f / (1.0f - rf);
  for (int64_t i = 0; i < n; i++) {
    const int keep = mt_double(g) >= (x->dtype == NN_DOUBLE ? ratio : (double)rf);
    if (y) {
      const char *src = (const char *)x->data + i * tr->size;
      char *dst = (char *)y->data + i * tr->size;
      if (x->dtype == NN_FLOAT)
        *(float *)dst = keep ? *(const float *)src * scale : 0.0f;
      else if (x->dtype == NN_DOUBLE)
        *(double *)dst = keep ? *(const double *)src * (1.0 / (1.0 - ratio)) : 0.0;
      else
        tr->from_f64(dst, keep ? tr->to_f64(src) * (double)scale : 0.0);
    }
    if (mask) ((uint8_t *)mask->data)[i] = (uint8_t)keep;
  }
  return NN_OK;
}

NN_OP(Dropout) = {.op_type = "Dropout", .domain = "", .infer = dropout_infer,
                  .prepare = dropout_prepare, .run = dropout_run,
                  .release = dropout_release, .no_fold = 1};

/* ---- Shrink ---- */

static nn_status shrink_infer(nn_op_ctx *ctx) {
  const nn_value *x = nn_in(ctx, 0);
  if (!x) return nn_op_error(ctx, NN_ERR_INVALID, "input 'input' is required");
  const nn_dtype_traits *tr = nn_dtype_traits_of(x->dtype);
  if (!tr || !tr->is_numeric)
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "input 'input' has dtype %s",
                       nn_dtype_name(x->dtype));
  return nn_value_set(ctx, nn_out(ctx, 0), x->dtype, x->ndim, x->dims);
}

/* y = x + bias if x < -lambd, x - bias if x > lambd, else 0. */
static nn_status shrink_run(nn_op_ctx *ctx) {
  const nn_value *x = nn_in(ctx, 0);
  nn_value *y = nn_out(ctx, 0);
  if (!y) return NN_OK;
  const float lambd = nn_attr_float(ctx->node, "lambd", 0.5f);
  const float bias = nn_attr_float(ctx->node, "bias", 0.0f);
  const int64_t n = nn_value_numel(x);
  if (x->dtype == NN_FLOAT) {
    const float *xs = x->data;
    float *ys = y->data;
    for (int64_t i = 0; i < n; i++)
      ys[i] = xs[i] < -lambd ? xs[i] + bias : xs[i] > lambd ? xs[i] - bias : 0.0f;
    return NN_OK;
  }
  const nn_dtype_traits *tr = nn_dtype_traits_of(x->dtype);
  const double l = lambd, b = bias;
  for (int64_t i = 0; i < n; i++) {
    const double v = tr->to_f64((const char *)x->data + i * tr->size);
    tr->from_f64((char *)y->data + i * tr->size, v < -l ? v + b : v > l ? v - b : 0.0);
  }
  return NN_OK;
}

NN_OP(Shrink) = {.op_type = "Shrink", .domain = "", .infer = shrink_infer, .run = shrink_run};
