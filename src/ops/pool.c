/*
 * pool.c - MaxPool (with Indices), AveragePool, LpPool and the Global* pools:
 * attribute handling across opsets (ceil_mode and dilations from opset 10,
 * storage_order and Indices from 8, count_include_pad from 7, LpPool p as a float
 * in opset 1), output sizes and padding, then the kernels of kernels/ref/pool.c.
 */
#include <string.h>

#include "kernels/dispatch.h"
#include "kernels/f32_pool.h"
#include "kernels/q8_eltwise.h"
#include "kernels/ref/pool.h"
#include "ops/op.h"
#include "runtime/session.h"
#include "runtime/threadpool.h"

enum { POOL_MAX, POOL_AVG, POOL_LP };

/* The Lp exponent: FLOAT in LpPool-1/GlobalLpPool-1, INT from opset 2. */
static nn_status lp_exponent(nn_op_ctx *ctx, double *pw) {
  const nn_attr *a = nn_node_attr(ctx->node, "p");
  *pw = 2.0;
  if (a && a->type == NN_ATTR_INT) *pw = (double)a->i;
  if (a && a->type == NN_ATTR_FLOAT) *pw = (double)a->f;
  if (!(*pw > 0))
    return nn_op_error(ctx, NN_ERR_INVALID, "attribute 'p' is %g, expected > 0", *pw);
  return NN_OK;
}

static nn_status check_dtype(nn_op_ctx *ctx, int kind, const nn_value *x) {
  int ok = x->dtype == NN_FLOAT || x->dtype == NN_DOUBLE;
  if (kind == POOL_MAX) ok |= x->dtype == NN_INT8 || x->dtype == NN_UINT8;
  if (!ok)
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "input 'X' has dtype %s (supported: float32, "
                       "float64%s)", nn_dtype_name(x->dtype),
                       kind == POOL_MAX ? ", int8, uint8" : "");
  return NN_OK;
}

static nn_status pool_setup(nn_op_ctx *ctx, int kind, nn_pool_params *p, int64_t *outdims) {
  const nn_value *x = nn_in(ctx, 0);
  nn_status s;
  if (!x) return nn_op_error(ctx, NN_ERR_INVALID, "input 'X' is required");
  if ((s = check_dtype(ctx, kind, x))) return s;
  if (x->ndim < 3 || x->ndim > 2 + NN_POOL_SP)
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED,
                       "input 'X' has rank %d, expected 3 to %d (N, C, 1 to 3 spatial dims)",
                       x->ndim, 2 + NN_POOL_SP);
  const int nsp = x->ndim - 2, off = NN_POOL_SP - nsp;
  int64_t ks[NN_POOL_SP], st[NN_POOL_SP], dl[NN_POOL_SP], pads[2 * NN_POOL_SP];
  int has_ks;
  if ((s = nn_op_ints_attr(ctx, "kernel_shape", nsp, 1, 1, ks, &has_ks))) return s;
  if (!has_ks) return nn_op_error(ctx, NN_ERR_INVALID, "attribute 'kernel_shape' is required");
  if ((s = nn_op_ints_attr(ctx, "strides", nsp, 1, 1, st, NULL))) return s;
  if ((s = nn_op_ints_attr(ctx, "dilations", nsp, 1, 1, dl, NULL))) return s;
  if ((s = nn_op_ints_attr(ctx, "pads", 2 * nsp, 0, 0, pads, NULL))) return s;
  const int64_t ceil_mode = nn_attr_int(ctx->node, "ceil_mode", 0);
  const char *ap = nn_attr_string(ctx->node, "auto_pad", "NOTSET");
  const int same_upper = !strcmp(ap, "SAME_UPPER"), same_lower = !strcmp(ap, "SAME_LOWER");
  const int valid = !strcmp(ap, "VALID");
  if (!same_upper && !same_lower && !valid && strcmp(ap, "NOTSET") && *ap)
    return nn_op_error(ctx, NN_ERR_INVALID, "attribute 'auto_pad' is '%s'", ap);

  memset(p, 0, sizeof *p);
  p->planes = x->dims[0] * x->dims[1];
  p->count_include_pad = kind == POOL_AVG && nn_attr_int(ctx->node, "count_include_pad", 0);
  p->storage_order = (int)nn_attr_int(ctx->node, "storage_order", 0);
  if (p->storage_order != 0 && p->storage_order != 1)
    return nn_op_error(ctx, NN_ERR_INVALID, "attribute 'storage_order' is %d, expected 0 or 1",
                       p->storage_order);
  for (int d = 0; d < NN_POOL_SP; d++)
    p->in[d] = p->out[d] = p->kernel[d] = p->stride[d] = p->dilation[d] = 1;
  outdims[0] = x->dims[0];
  outdims[1] = x->dims[1];
  for (int d = 0; d < nsp; d++) {
    const int64_t in = x->dims[2 + d], ek = (ks[d] - 1) * dl[d] + 1;
    int64_t pb = pads[d], pe = pads[d + nsp], out;
    if (same_upper || same_lower) {
      out = (in + st[d] - 1) / st[d];
      int64_t total = (out - 1) * st[d] + ek - in;
      if (total < 0) total = 0;
      pb = same_upper ? total / 2 : total - total / 2;
      pe = total - pb;
    } else {
      if (valid) pb = pe = 0;
      const int64_t span = in + pb + pe - ek;
      if (span < 0)
        return nn_op_error(ctx, NN_ERR_INVALID,
                           "spatial dim %d: input %lld plus pads %lld+%lld is smaller than "
                           "the kernel extent %lld", d, (long long)in, (long long)pb,
                           (long long)pe, (long long)ek);
      out = (ceil_mode ? (span + st[d] - 1) / st[d] : span / st[d]) + 1;
      /* ceil_mode: a last window starting inside the end padding is dropped (the
       * PyTorch / ONNX Runtime convention, made explicit in later ONNX specs). */
      if (ceil_mode && (out - 1) * st[d] >= in + pb) out--;
    }
    outdims[2 + d] = out;
    p->in[off + d] = in;
    p->out[off + d] = out;
    p->kernel[off + d] = ks[d];
    p->stride[off + d] = st[d];
    p->dilation[off + d] = dl[d];
    p->pad_begin[off + d] = pb;
    p->pad_end[off + d] = pe;
  }
  return NN_OK;
}

static nn_status pool_infer(nn_op_ctx *ctx, int kind) {
  nn_pool_params p;
  int64_t od[2 + NN_POOL_SP];
  nn_status s = pool_setup(ctx, kind, &p, od);
  if (s) return s;
  const nn_value *x = nn_in(ctx, 0);
  if ((s = nn_value_set(ctx, nn_out(ctx, 0), x->dtype, x->ndim, od))) return s;
  if (kind == POOL_MAX && nn_out(ctx, 1))
    return nn_value_set(ctx, nn_out(ctx, 1), NN_INT64, x->ndim, od);
  return NN_OK;
}

typedef struct maxpool_job {
  const nn_kernels *k;
  const nn_pool_params *p;
  const float *x;
  float *y;
  size_t per_task;
} maxpool_job;

static void maxpool_task(void *ctx, size_t thread, size_t t) {
  const maxpool_job *j = ctx;
  const size_t planes = (size_t)j->p->planes, p0 = t * j->per_task;
  const size_t n = planes - p0 < j->per_task ? planes - p0 : j->per_task;
  j->k->f32_maxpool2d(j->p, j->x, j->y, p0, n);
  (void)thread;
}

typedef struct x8_maxpool_job {
  const nn_kernels *k;
  const nn_pool_params *p;
  const void *x;
  void *y;
  size_t per_task;
  int is_signed;
} x8_maxpool_job;

static void x8_maxpool_task(void *ctx, size_t thread, size_t t) {
  const x8_maxpool_job *j = ctx;
  const size_t planes = (size_t)j->p->planes, p0 = t * j->per_task;
  const size_t n = planes - p0 < j->per_task ? planes - p0 : j->per_task;
  j->k->x8_maxpool2d(j->p, j->x, j->y, p0, n, j->is_signed);
  (void)thread;
}

static nn_status pool_run(nn_op_ctx *ctx, int kind) {
  nn_pool_params p;
  int64_t od[2 + NN_POOL_SP];
  nn_status s = pool_setup(ctx, kind, &p, od);
  if (s) return s;
  const nn_value *x = nn_in(ctx, 0);
  nn_value *y = nn_out(ctx, 0), *ind = nn_out(ctx, 1);
  if (!y) return NN_OK;
  int64_t *idx = kind == POOL_MAX && ind ? ind->data : NULL;
  double pw = 2;
  if (kind == POOL_LP && (s = lp_exponent(ctx, &pw))) return s;
  switch (x->dtype) {
  case NN_FLOAT:
    if (kind == POOL_MAX && !idx && nn_kernels_get()->f32_maxpool2d && p.in[0] == 1 &&
        p.out[0] == 1 && p.kernel[0] == 1 && p.in[2] <= NN_F32_MAXPOOL_MAX_W) {
      /* fast path, planes split over the session's threads */
      nn_threadpool *pool = nn_session_threadpool(ctx->session);
      const size_t tasks = (size_t)nn_threadpool_size(pool) * 4;
      maxpool_job j = {nn_kernels_get(), &p, x->data, y->data,
                       ((size_t)p.planes + tasks - 1) / tasks};
      if (j.per_task)
        nn_threadpool_parallelize(pool, maxpool_task, &j,
                                  ((size_t)p.planes + j.per_task - 1) / j.per_task);
    } else if (kind == POOL_MAX) nn_f32_maxpool__ref(&p, x->data, y->data, idx);
    else if (kind == POOL_AVG) nn_f32_avgpool__ref(&p, x->data, y->data);
    else nn_f32_lppool__ref(&p, x->data, y->data, pw);
    break;
  case NN_DOUBLE:
    if (kind == POOL_MAX) nn_f64_maxpool__ref(&p, x->data, y->data, idx);
    else if (kind == POOL_AVG) nn_f64_avgpool__ref(&p, x->data, y->data);
    else nn_f64_lppool__ref(&p, x->data, y->data, pw);
    break;
  case NN_INT8:
  case NN_UINT8:
    if (kind == POOL_MAX && !idx && nn_kernels_get()->x8_maxpool2d && p.in[0] == 1 &&
        p.out[0] == 1 && p.kernel[0] == 1 && p.in[2] <= NN_Q8_MAXPOOL_MAX_W) {
      /* fast path, planes split over the session's threads */
      nn_threadpool *pool = nn_session_threadpool(ctx->session);
      const size_t tasks = (size_t)nn_threadpool_size(pool) * 4;
      x8_maxpool_job j = {nn_kernels_get(), &p, x->data, y->data,
                          ((size_t)p.planes + tasks - 1) / tasks, x->dtype == NN_INT8};
      if (j.per_task)
        nn_threadpool_parallelize(pool, x8_maxpool_task, &j,
                                  ((size_t)p.planes + j.per_task - 1) / j.per_task);
    } else if (x->dtype == NN_INT8) {
      nn_i8_maxpool__ref(&p, x->data, y->data, idx);
    } else {
      nn_u8_maxpool__ref(&p, x->data, y->data, idx);
    }
    break;
  default: return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "dtype %s", nn_dtype_name(x->dtype));
  }
  return NN_OK;
}

static nn_status maxpool_infer(nn_op_ctx *ctx) { return pool_infer(ctx, POOL_MAX); }
static nn_status maxpool_run(nn_op_ctx *ctx) { return pool_run(ctx, POOL_MAX); }
static nn_status avgpool_infer(nn_op_ctx *ctx) { return pool_infer(ctx, POOL_AVG); }
static nn_status avgpool_run(nn_op_ctx *ctx) { return pool_run(ctx, POOL_AVG); }
static nn_status lppool_infer(nn_op_ctx *ctx) {
  double pw;
  nn_status s = lp_exponent(ctx, &pw);
  return s ? s : pool_infer(ctx, POOL_LP);
}
static nn_status lppool_run(nn_op_ctx *ctx) { return pool_run(ctx, POOL_LP); }

NN_OP(MaxPool) = {.op_type = "MaxPool", .domain = "", .infer = maxpool_infer,
                  .run = maxpool_run};
NN_OP(AveragePool) = {.op_type = "AveragePool", .domain = "", .infer = avgpool_infer,
                      .run = avgpool_run};
NN_OP(LpPool) = {.op_type = "LpPool", .domain = "", .infer = lppool_infer,
                 .run = lppool_run};

/* ---- global pools: reduce every spatial dim to 1 ---- */

static nn_status global_infer(nn_op_ctx *ctx, int kind) {
  const nn_value *x = nn_in(ctx, 0);
  nn_status s;
  if (!x) return nn_op_error(ctx, NN_ERR_INVALID, "input 'X' is required");
  if (x->dtype != NN_FLOAT && x->dtype != NN_DOUBLE)
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "input 'X' has dtype %s (supported: float32, "
                       "float64)", nn_dtype_name(x->dtype));
  if (x->ndim < 2)
    return nn_op_error(ctx, NN_ERR_INVALID, "input 'X' has rank %d, expected >= 2", x->ndim);
  if (kind == POOL_LP) {
    double pw;
    if ((s = lp_exponent(ctx, &pw))) return s;
  }
  int64_t od[NN_MAX_DIMS];
  for (int d = 0; d < x->ndim; d++) od[d] = d < 2 ? x->dims[d] : 1;
  return nn_value_set(ctx, nn_out(ctx, 0), x->dtype, x->ndim, od);
}

/* Global pooling, planes split over threads: each plane is reduced by one thread in
 * the same order as the serial loop, so results do not depend on the thread count. */
typedef struct global_job {
  int kind;
  int64_t n, per_task, planes;
  double pw;
  const float *x;
  float *y;
  void (*avg)(int64_t planes, int64_t n, const float *x, float *y);
} global_job;

static void global_task(void *ctx, size_t thread, size_t t) {
  const global_job *j = ctx;
  const int64_t p0 = (int64_t)t * j->per_task;
  const int64_t np = j->planes - p0 < j->per_task ? j->planes - p0 : j->per_task;
  const float *x = j->x + p0 * j->n;
  float *y = j->y + p0;
  if (j->kind == POOL_MAX) nn_f32_global_maxpool__ref(np, j->n, x, y);
  else if (j->kind == POOL_AVG) j->avg(np, j->n, x, y);
  else nn_f32_global_lppool__ref(np, j->n, x, y, j->pw);
  (void)thread;
}

static nn_status global_run(nn_op_ctx *ctx, int kind) {
  const nn_value *x = nn_in(ctx, 0);
  nn_value *y = nn_out(ctx, 0);
  if (!y) return NN_OK;
  const int64_t planes = x->dims[0] * x->dims[1];
  int64_t n = 1;
  for (int d = 2; d < x->ndim; d++) n *= x->dims[d];
  double pw = 2;
  nn_status s;
  if (kind == POOL_LP && (s = lp_exponent(ctx, &pw))) return s;
  const nn_kernels *k = nn_kernels_get();
  void (*avg)(int64_t, int64_t, const float *, float *) =
      k->f32_global_avgpool ? k->f32_global_avgpool : nn_f32_global_avgpool__ref;
  nn_threadpool *pool = nn_session_threadpool(ctx->session);
  const int threads = nn_threadpool_size(pool);
  /* Worth a parallel loop only above ~16K elements (a wake-up costs a few microseconds). */
  if (x->dtype == NN_FLOAT && threads > 1 && planes > 1 && planes * n >= 16384) {
    global_job j = {kind, n, 0, planes, pw, x->data, y->data, avg};
    const int64_t tasks = planes < 4 * threads ? planes : 4 * threads;
    j.per_task = (planes + tasks - 1) / tasks;
    nn_threadpool_parallelize(pool, global_task, &j,
                              (size_t)((planes + j.per_task - 1) / j.per_task));
    return NN_OK;
  }
  if (x->dtype == NN_FLOAT) {
    if (kind == POOL_MAX) nn_f32_global_maxpool__ref(planes, n, x->data, y->data);
    else if (kind == POOL_AVG) avg(planes, n, x->data, y->data);
    else nn_f32_global_lppool__ref(planes, n, x->data, y->data, pw);
  } else {
    if (kind == POOL_MAX) nn_f64_global_maxpool__ref(planes, n, x->data, y->data);
    else if (kind == POOL_AVG) nn_f64_global_avgpool__ref(planes, n, x->data, y->data);
    else nn_f64_global_lppool__ref(planes, n, x->data, y->data, pw);
  }
  return NN_OK;
}

static nn_status gmax_infer(nn_op_ctx *ctx) { return global_infer(ctx, POOL_MAX); }
static nn_status gmax_run(nn_op_ctx *ctx) { return global_run(ctx, POOL_MAX); }
static nn_status gavg_infer(nn_op_ctx *ctx) { return global_infer(ctx, POOL_AVG); }
static nn_status gavg_run(nn_op_ctx *ctx) { return global_run(ctx, POOL_AVG); }
static nn_status glp_infer(nn_op_ctx *ctx) { return global_infer(ctx, POOL_LP); }
static nn_status glp_run(nn_op_ctx *ctx) { return global_run(ctx, POOL_LP); }

NN_OP(GlobalMaxPool) = {.op_type = "GlobalMaxPool", .domain = "", .infer = gmax_infer,
                        .run = gmax_run};
NN_OP(GlobalAveragePool) = {.op_type = "GlobalAveragePool", .domain = "",
                            .infer = gavg_infer, .run = gavg_run};
NN_OP(GlobalLpPool) = {.op_type = "GlobalLpPool", .domain = "", .infer = glp_infer,
                       .run = glp_run};
