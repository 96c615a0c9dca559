/*
 * softmax.c - Softmax, LogSoftmax, Hardmax. Before opset 13 the input is coerced to
 * 2-D at "axis" (default 1) and the op runs over the flattened trailing block; from
 * opset 13 it runs along the single axis "axis" (default -1).
 */
#include <string.h>

#include "kernels/dispatch.h"
#include "kernels/ref/softmax.h"
#include "ops/op.h"
#include "runtime/session.h"
#include "runtime/threadpool.h"

enum { SOFTMAX, LOGSOFTMAX, HARDMAX };

static int kind_of(const nn_op_ctx *ctx) {
  const char *t = ctx->def->op_type;
  return !strcmp(t, "Softmax") ? SOFTMAX : !strcmp(t, "LogSoftmax") ? LOGSOFTMAX : HARDMAX;
}

/* View the input as [outer, n, inner] for the opset's semantics. */
static nn_status layout(nn_op_ctx *ctx, const nn_value *x, int64_t *outer, int64_t *n,
                        int64_t *inner) {
  int legacy = ctx->opset < 13;
  int axis;
  nn_status st =
      nn_norm_axis(ctx, nn_attr_int(ctx->node, "axis", legacy ? 1 : -1), x->ndim, &axis);
  if (st) return st;
  if (x->ndim == 0) return nn_op_error(ctx, NN_ERR_INVALID, "input 'input' is a scalar");
  *outer = *n = *inner = 1;
  for (int i = 0; i < x->ndim; i++) {
    if (i < axis)
      *outer *= x->dims[i];
    else if (i == axis || legacy)
      *n *= x->dims[i];
    else
      *inner *= x->dims[i];
  }
  return NN_OK;
}

static nn_status softmax_infer(nn_op_ctx *ctx) {
  const nn_value *x = nn_in(ctx, 0);
  if (!x) return nn_op_error(ctx, NN_ERR_INVALID, "input 'input' is missing");
  if (!nn_out(ctx, 0)) return nn_op_error(ctx, NN_ERR_INVALID, "output 0 is missing");
  if (x->dtype != NN_FLOAT && x->dtype != NN_DOUBLE)
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "dtype %s is not supported",
                       nn_dtype_name(x->dtype));
  int64_t o, n, i;
  nn_status st = layout(ctx, x, &o, &n, &i);
  if (st) return st;
  return nn_value_set(ctx, ctx->out[0], x->dtype, x->ndim, x->dims);
}

typedef struct sm_par {
  void (*fn)(size_t n, const float *x, float *y);
  const float *x;
  float *y;
  size_t n, rows, chunk;
} sm_par;

static void sm_task(void *ctx, size_t thread, size_t task) {
  const sm_par *w = ctx;
  (void)thread;
  const size_t r0 = task * w->chunk, r1 = r0 + w->chunk < w->rows ? r0 + w->chunk : w->rows;
  for (size_t r = r0; r < r1; r++) w->fn(w->n, w->x + r * w->n, w->y + r * w->n);
}

static nn_status softmax_run(nn_op_ctx *ctx) {
  const nn_value *x = ctx->in[0];
  nn_value *y = ctx->out[0];
  int64_t o, n, i;
  nn_status st = layout(ctx, x, &o, &n, &i);
  if (st) return st;
  int k = kind_of(ctx);
  const nn_kernels *kern = nn_kernels_get();
  if (x->dtype == NN_FLOAT && k == SOFTMAX && i == 1 && n > 0 && kern->f32_softmax) {
    /* rows along the last axis: the vector kernel (f32_eltwise.h), rows over threads */
    sm_par w = {.fn = kern->f32_softmax, .x = x->data, .y = y->data, .n = (size_t)n,
                .rows = (size_t)o};
    w.chunk = (size_t)(16384 / n) + 1;
    const size_t tasks = (w.rows + w.chunk - 1) / w.chunk;
    nn_threadpool_parallelize(tasks > 1 ? nn_session_threadpool(ctx->session) : NULL, sm_task,
                              &w, tasks);
    return NN_OK;
  }
  if (x->dtype == NN_FLOAT) {
    if (k == SOFTMAX) nn_f32_softmax__ref(o, n, i, x->data, y->data);
    if (k == LOGSOFTMAX) nn_f32_logsoftmax__ref(o, n, i, x->data, y->data);
    if (k == HARDMAX) nn_f32_hardmax__ref(o, n, i, x->data, y->data);
  } else {
    if (k == SOFTMAX) nn_f64_softmax__ref(o, n, i, x->data, y->data);
    if (k == LOGSOFTMAX) nn_f64_logsoftmax__ref(o, n, i, x->data, y->data);
    if (k == HARDMAX) nn_f64_hardmax__ref(o, n, i, x->data, y->data);
  }
  return NN_OK;
}

NN_OP(Softmax) = {
    .op_type = "Softmax", .domain = "", .infer = softmax_infer, .run = softmax_run};
NN_OP(LogSoftmax) = {
    .op_type = "LogSoftmax", .domain = "", .infer = softmax_infer, .run = softmax_run};
NN_OP(Hardmax) = {
    .op_type = "Hardmax", .domain = "", .infer = softmax_infer, .run = softmax_run};
