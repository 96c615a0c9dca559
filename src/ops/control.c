/*
 * control.c - control flow: If, Loop and Scan. Bodies run as nested sessions
 * (runtime/session.h); their output shapes are only known by running them, so these
 * ops size their outputs themselves at run time (infer returns NN_INFER_DEFERRED).
 */
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"
#include "runtime/session.h"

static nn_status deferred(nn_op_ctx *ctx) { return NN_INFER_DEFERRED; }

static const nn_graph *graph_attr(const nn_node *n, const char *name) {
  const nn_attr *a = nn_node_attr(n, name);
  return a && a->type == NN_ATTR_GRAPH && a->graphs ? a->graphs[0] : NULL;
}

/* Copy src into dst (a dynamic output or a carried value), sizing dst. */
static nn_status copy_value(nn_op_ctx *ctx, nn_value *dst, const nn_value *src) {
  nn_status st;
  if (!dst) return NN_OK;
  if (dst->flags & NN_V_DYNAMIC || !dst->flags) {
    dst->flags |= NN_V_DYNAMIC;
    if ((st = nn_value_ensure(ctx, dst, src->dtype, src->ndim, src->dims))) return st;
  } else if ((st = nn_value_ensure(ctx, dst, src->dtype, src->ndim, src->dims))) {
    return st;
  }
  if (src->dtype == NN_STRING) {
    nn_bytes *d = dst->data;
    const nn_bytes *s = src->data;
    for (int64_t i = 0; i < nn_value_numel(src); i++) {
      d[i].data = nn_strndup(s[i].data, s[i].len);
      d[i].len = s[i].len;
      if (!d[i].data) return nn_op_error(ctx, NN_ERR_NOMEM, "out of memory");
    }
  } else if (src->nbytes) {
    memmove(dst->data, src->data, src->nbytes);
  }
  return NN_OK;
}

static int truthy(const nn_value *v) {
  return v && v->data && nn_value_numel(v) > 0 && nn_value_get_f64(v, 0) != 0.0;
}

/* ---- If ---- */

typedef struct if_state {
  nn_subsession *then_s, *else_s;
} if_state;

static void if_release(void *p) {
  if_state *s = p;
  nn_subsession_free(s->then_s);
  nn_subsession_free(s->else_s);
  free(s);
}

static nn_status if_prepare(nn_op_ctx *ctx) {
  const nn_graph *tb = graph_attr(ctx->node, "then_branch");
  const nn_graph *eb = graph_attr(ctx->node, "else_branch");
  if (!tb || !eb) return nn_op_error(ctx, NN_ERR_INVALID, "missing then_branch/else_branch");
  if (tb->n_outputs != ctx->n_out || eb->n_outputs != ctx->n_out)
    return nn_op_error(ctx, NN_ERR_INVALID, "branches must have %d outputs", ctx->n_out);
  if_state *s = calloc(1, sizeof *s);
  if (!s) return nn_op_error(ctx, NN_ERR_NOMEM, "out of memory");
  nn_status st = nn_subsession_create(ctx->session, tb, &s->then_s);
  if (!st) st = nn_subsession_create(ctx->session, eb, &s->else_s);
  if (st) {
    if_release(s);
    return nn_error_prefix(st, "%s", ctx->node->name ? ctx->node->name : "If");
  }
  ctx->state = s;
  return NN_OK;
}

static nn_status if_run(nn_op_ctx *ctx) {
  if_state *s = ctx->state;
  nn_subsession *b = truthy(nn_in(ctx, 0)) ? s->then_s : s->else_s;
  nn_status st = nn_subsession_run(b, 0, NULL);
  if (st) return st;
  for (int k = 0; k < ctx->n_out; k++)
    if ((st = copy_value(ctx, ctx->out[k], nn_subsession_output(b, k)))) return st;
  return NN_OK;
}

NN_OP(If) = {.op_type = "If", .domain = "", .infer = deferred, .prepare = if_prepare,
             .run = if_run, .release = if_release, .no_fold = 1};

/* ---- Loop ---- */

typedef struct loop_state {
  nn_subsession *body;
  int n_carried, n_scan;
  nn_value *cur;  /* carried values between iterations (owned buffers) */
  nn_value iter, cond;
  int64_t iter_v;
  uint8_t cond_v;
} loop_state;

static void free_values(nn_value *v, int n) {
  for (int i = 0; v && i < n; i++)
    if (v[i].flags & NN_V_OWNED) free(v[i].data);
  free(v);
}

static void loop_release(void *p) {
  loop_state *s = p;
  nn_subsession_free(s->body);
  free_values(s->cur, s->n_carried);
  free(s);
}

static nn_status loop_prepare(nn_op_ctx *ctx) {
  const nn_graph *body = graph_attr(ctx->node, "body");
  if (!body) return nn_op_error(ctx, NN_ERR_INVALID, "missing body");
  int n_carried = ctx->n_in - 2;
  if (n_carried < 0 || body->n_inputs != n_carried + 2 || body->n_outputs < n_carried + 1 ||
      ctx->n_out != body->n_outputs - 1)
    return nn_op_error(ctx, NN_ERR_INVALID, "body inputs/outputs do not match the node");
  loop_state *s = calloc(1, sizeof *s);
  if (!s) return nn_op_error(ctx, NN_ERR_NOMEM, "out of memory");
  s->n_carried = n_carried;
  s->n_scan = ctx->n_out - n_carried;
  s->cur = calloc((size_t)n_carried + 1, sizeof *s->cur);
  nn_status st = s->cur ? nn_subsession_create(ctx->session, body, &s->body)
                        : nn_op_error(ctx, NN_ERR_NOMEM, "out of memory");
  if (st) {
    loop_release(s);
    return st;
  }
  s->iter.dtype = NN_INT64;
  s->iter.data = &s->iter_v;
  s->iter.nbytes = 8;
  s->cond.dtype = NN_BOOL;
  s->cond.data = &s->cond_v;
  s->cond.nbytes = 1;
  ctx->state = s;
  return NN_OK;
}

/* Append one iteration's scan value as a new leading slice of out. */
static nn_status scan_append(nn_op_ctx *ctx, nn_value *out, const nn_value *v, int64_t it) {
  int64_t dims[NN_MAX_DIMS];
  if (v->ndim + 1 > NN_MAX_DIMS) return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "scan rank too high");
  dims[0] = it + 1;
  memcpy(dims + 1, v->dims, (size_t)v->ndim * sizeof *dims);
  if (it > 0 && (out->ndim != v->ndim + 1 || memcmp(out->dims + 1, v->dims,
                                                      (size_t)v->ndim * sizeof *dims)))
    return nn_op_error(ctx, NN_ERR_RUNTIME, "scan output changes shape between iterations");
  size_t before = it > 0 ? out->nbytes : 0;
  nn_status st = nn_value_ensure(ctx, out, v->dtype, v->ndim + 1, dims);
  if (st) return st;
  memcpy((char *)out->data + before, v->data, v->nbytes);
  return NN_OK;
}

static nn_status loop_run(nn_op_ctx *ctx) {
  loop_state *s = ctx->state;
  nn_status st;
  const nn_value *mv = nn_in(ctx, 0), *cv = nn_in(ctx, 1);
  int64_t max_trip = mv && mv->data ? nn_value_get_i64(mv, 0) : INT64_MAX;
  s->cond_v = cv && cv->data ? (uint8_t)truthy(cv) : 1;
  for (int j = 0; j < s->n_carried; j++)
    if ((st = copy_value(ctx, &s->cur[j], ctx->in[2 + j]))) return st;
  nn_value *inputs[2 + 64];
  if (s->n_carried > 64) return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "too many loop values");
  inputs[0] = &s->iter;
  inputs[1] = &s->cond;
  for (int j = 0; j < s->n_carried; j++) inputs[2 + j] = &s->cur[j];
  int64_t it = 0;
  for (; it < max_trip && s->cond_v; it++) {
    s->iter_v = it;
    if ((st = nn_subsession_run(s->body, 2 + s->n_carried, inputs))) return st;
    s->cond_v = (uint8_t)truthy(nn_subsession_output(s->body, 0));
    for (int j = 0; j < s->n_carried; j++)
      if ((st = copy_value(ctx, &s->cur[j], nn_subsession_output(s->body, 1 + j)))) return st;
    for (int k = 0; k < s->n_scan; k++) {
      nn_value *o = ctx->out[s->n_carried + k];
      if (o && (st = scan_append(ctx, o, nn_subsession_output(s->body, 1 + s->n_carried + k), it)))
        return st;
    }
  }
  for (int j = 0; j < s->n_carried; j++)
    if ((st = copy_value(ctx, ctx->out[j], &s->cur[j]))) return st;
  if (it == 0)
    for (int k = 0; k < s->n_scan; k++) {
      nn_value *o = ctx->out[s->n_carried + k];
      int64_t zero = 0;
      const nn_tensor *bt = NULL;
      const nn_graph *body = graph_attr(ctx->node, "body");
      bt = &body->tensors[body->outputs[1 + s->n_carried + k]];
      if (o && (st = nn_value_ensure(ctx, o, bt->dtype ? bt->dtype : NN_FLOAT, 1, &zero)))
        return st;
    }
  return NN_OK;
}

NN_OP(Loop) = {.op_type = "Loop", .domain = "", .infer = deferred, .prepare = loop_prepare,
               .run = loop_run, .release = loop_release, .no_fold = 1};

/* ---- Scan (opset 9+) ---- */

typedef struct scan_state {
  nn_subsession *body;
  int n_state, n_scan_in, n_scan_out;
  nn_value *cur;    /* state values */
  nn_value *slices; /* per scan input: one slice (owned) */
} scan_state;

static void scan_release(void *p) {
  scan_state *s = p;
  nn_subsession_free(s->body);
  free_values(s->cur, s->n_state);
  free_values(s->slices, s->n_scan_in);
  free(s);
}

static nn_status scan_prepare(nn_op_ctx *ctx) {
  if (ctx->opset < 9)
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "Scan before opset 9 (batched form)");
  const nn_graph *body = graph_attr(ctx->node, "body");
  int64_t n_scan_in = nn_attr_int(ctx->node, "num_scan_inputs", -1);
  if (!body || n_scan_in < 0 || n_scan_in > ctx->n_in)
    return nn_op_error(ctx, NN_ERR_INVALID, "missing body or num_scan_inputs");
  scan_state *s = calloc(1, sizeof *s);
  if (!s) return nn_op_error(ctx, NN_ERR_NOMEM, "out of memory");
  s->n_scan_in = (int)n_scan_in;
  s->n_state = ctx->n_in - s->n_scan_in;
  s->n_scan_out = ctx->n_out - s->n_state;
  nn_status st = NN_OK;
  if (body->n_inputs != ctx->n_in || body->n_outputs != ctx->n_out || s->n_scan_out < 0)
    st = nn_op_error(ctx, NN_ERR_INVALID, "body inputs/outputs do not match the node");
  s->cur = calloc((size_t)s->n_state + 1, sizeof *s->cur);
  s->slices = calloc((size_t)s->n_scan_in + 1, sizeof *s->slices);
  if (!st && (!s->cur || !s->slices)) st = nn_op_error(ctx, NN_ERR_NOMEM, "out of memory");
  if (!st) st = nn_subsession_create(ctx->session, body, &s->body);
  if (st) {
    scan_release(s);
    return st;
  }
  ctx->state = s;
  return NN_OK;
}

static int64_t list_at(const nn_node *n, const char *name, int i, int64_t dflt) {
  const int64_t *v;
  int c = nn_attr_ints(n, name, &v);
  return i < c ? v[i] : dflt;
}

static nn_status scan_run(nn_op_ctx *ctx) {
  scan_state *s = ctx->state;
  nn_status st;
  int64_t T = -1;
  int in_axis[64], out_axis[64];
  if (s->n_scan_in > 64 || s->n_scan_out > 64 || s->n_state + s->n_scan_in > 64)
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "too many scan values");
  for (int j = 0; j < s->n_scan_in; j++) {
    const nn_value *x = ctx->in[s->n_state + j];
    if ((st = nn_norm_axis(ctx, list_at(ctx->node, "scan_input_axes", j, 0), x->ndim, &in_axis[j])))
      return st;
    int64_t len = x->dims[in_axis[j]];
    if (T >= 0 && len != T) return nn_op_error(ctx, NN_ERR_INVALID, "scan inputs differ in length");
    T = len;
  }
  if (T < 0) T = 0;
  for (int j = 0; j < s->n_state; j++)
    if ((st = copy_value(ctx, &s->cur[j], ctx->in[j]))) return st;
  nn_value *inputs[64];
  for (int j = 0; j < s->n_state; j++) inputs[j] = &s->cur[j];
  for (int j = 0; j < s->n_scan_in; j++) inputs[s->n_state + j] = &s->slices[j];
  for (int64_t t = 0; t < T; t++) {
    for (int j = 0; j < s->n_scan_in; j++) {
      const nn_value *x = ctx->in[s->n_state + j];
      int a = in_axis[j];
      int64_t tt = list_at(ctx->node, "scan_input_directions", j, 0) ? T - 1 - t : t;
      nn_value *sl = &s->slices[j];
      int64_t dims[NN_MAX_DIMS];
      int nd = 0;
      for (int d = 0; d < x->ndim; d++)
        if (d != a) dims[nd++] = x->dims[d];
      sl->flags |= NN_V_DYNAMIC;
      if ((st = nn_value_ensure(ctx, sl, x->dtype, nd, dims))) return st;
      size_t es = nn_dtype_size(x->dtype);
      int64_t outer = 1, inner = 1;
      for (int d = 0; d < a; d++) outer *= x->dims[d];
      for (int d = a + 1; d < x->ndim; d++) inner *= x->dims[d];
      for (int64_t o = 0; o < outer; o++)
        memcpy((char *)sl->data + (size_t)(o * inner) * es,
               (const char *)x->data + (size_t)((o * x->dims[a] + tt) * inner) * es,
               (size_t)inner * es);
    }
    if ((st = nn_subsession_run(s->body, s->n_state + s->n_scan_in, inputs))) return st;
    for (int j = 0; j < s->n_state; j++)
      if ((st = copy_value(ctx, &s->cur[j], nn_subsession_output(s->body, j)))) return st;
    for (int k = 0; k < s->n_scan_out; k++) {
      const nn_value *y = nn_subsession_output(s->body, s->n_state + k);
      nn_value *o = ctx->out[s->n_state + k];
      if (!o) continue;
      if ((st = nn_norm_axis(ctx, list_at(ctx->node, "scan_output_axes", k, 0), y->ndim + 1,
                             &out_axis[k])))
        return st;
      int a = out_axis[k];
      int64_t dims[NN_MAX_DIMS];
      int nd = 0;
      for (int d = 0; d <= y->ndim; d++) dims[nd++] = d == a ? T : y->dims[d - (d > a)];
      if (t == 0) {
        o->flags |= NN_V_DYNAMIC;
        if ((st = nn_value_ensure(ctx, o, y->dtype, nd, dims))) return st;
      }
      int64_t tt = list_at(ctx->node, "scan_output_directions", k, 0) ? T - 1 - t : t;
      size_t es = nn_dtype_size(y->dtype);
      int64_t outer = 1, inner = 1;
      for (int d = 0; d < a; d++) outer *= y->dims[d];
      for (int d = a; d < y->ndim; d++) inner *= y->dims[d];
      for (int64_t q = 0; q < outer; q++)
        memcpy((char *)o->data + (size_t)((q * T + tt) * inner) * es,
               (const char *)y->data + (size_t)(q * inner) * es, (size_t)inner * es);
    }
  }
  for (int j = 0; j < s->n_state; j++)
    if ((st = copy_value(ctx, ctx->out[j], &s->cur[j]))) return st;
  return NN_OK;
}

NN_OP(Scan) = {.op_type = "Scan", .domain = "", .infer = deferred, .prepare = scan_prepare,
               .run = scan_run, .release = scan_release, .no_fold = 1};
