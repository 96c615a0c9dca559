/*
 * rnn.c - the recurrent ops RNN, GRU and LSTM: validation, attribute resolution
 * (direction, activations with their alpha/beta, clip, layout of opset 14) and shape
 * inference; the math is one call of nn_f32_rnn_dir__ref (kernels/ref/rnn.h) per
 * direction. Inputs: X, W, R, B, sequence_lens, initial_h (+ initial_c, P for LSTM);
 * outputs: Y, Y_h (+ Y_c for LSTM), all optional.
 */
#include <stdio.h>
#include <string.h>

#include "kernels/ref/rnn.h"
#include "ops/op.h"

typedef struct rnn_info {
  nn_rnn_cell cell;
  int layout;            /* 0: [seq, batch, ...], 1: [batch, seq, ...] */
  int nd;                /* directions */
  int reverse_only;      /* direction == "reverse" */
  int64_t seq, batch, input, hidden;
  nn_rnn_act act[2][3];  /* per direction: f, g, h */
  float clip;            /* 0: none */
  int linear_before_reset, input_forget;
} rnn_info;

static const char *const g_in_names[] = {"X", "W", "R", "B", "sequence_lens", "initial_h",
                                         "initial_c", "P"};

static int dims_eq(const nn_value *v, int n, int64_t d0, int64_t d1, int64_t d2) {
  const int64_t want[3] = {d0, d1, d2};
  if (v->ndim != n) return 0;
  for (int i = 0; i < n; i++)
    if (v->dims[i] != want[i]) return 0;
  return 1;
}

static nn_status bad_shape(nn_op_ctx *ctx, int idx, const char *want) {
  const nn_value *v = nn_in(ctx, idx);
  char got[160] = "";
  size_t len = 0;
  for (int i = 0; i < v->ndim && len < sizeof got - 24; i++)
    len += (size_t)snprintf(got + len, sizeof got - len, "%s%lld", i ? ", " : "",
                            (long long)v->dims[i]);
  return nn_op_error(ctx, NN_ERR_INVALID, "input '%s' has shape [%s], expected %s",
                     g_in_names[idx], got, want);
}

/* Activations: the attribute's list (one group per direction, alpha/beta consumed in
 * order by the functions that take them, as ONNX Runtime does) or the defaults. */
static nn_status resolve_activations(nn_op_ctx *ctx, rnn_info *ri) {
  static const char *const defaults[3][3] = {
      {"Tanh"}, {"Sigmoid", "Tanh"}, {"Sigmoid", "Tanh", "Tanh"}};
  const int na = ri->cell == NN_RNN_CELL_LSTM ? 3 : ri->cell == NN_RNN_CELL_GRU ? 2 : 1;
  const nn_attr *acts = nn_node_attr(ctx->node, "activations");
  const float *alpha, *beta;
  int nalpha = nn_attr_floats(ctx->node, "activation_alpha", &alpha);
  int nbeta = nn_attr_floats(ctx->node, "activation_beta", &beta);
  int ia = 0, ib = 0;
  int nacts = acts && acts->type == NN_ATTR_STRINGS ? acts->n : 0;
  if (nacts && nacts != na * ri->nd && !(nacts == na && ri->nd == 2))
    return nn_op_error(ctx, NN_ERR_INVALID,
                       "attribute 'activations' has %d names, expected %d (%d per direction)",
                       nacts, na * ri->nd, na);
  for (int d = 0; d < ri->nd; d++) {
    if (nacts == na) ia = ib = 0; /* one list shared by both directions */
    for (int k = 0; k < na; k++) {
      const char *name;
      size_t len;
      if (nacts) {
        const nn_bytes *s = &acts->strings[nacts == na ? k : d * na + k];
        name = s->data ? s->data : "";
        len = s->len;
      } else {
        name = defaults[na - 1][k];
        len = strlen(name);
      }
      int ua, ub;
      nn_rnn_act *a = &ri->act[d][k];
      if (nn_rnn_act_parse(name, len, a, &ua, &ub))
        return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "activation '%.*s' is not supported",
                           (int)len, name);
      if (ua && ia < nalpha) a->alpha = alpha[ia++];
      if (ub && ib < nbeta) a->beta = beta[ib++];
    }
  }
  return NN_OK;
}

static nn_status rnn_check(nn_op_ctx *ctx, nn_rnn_cell cell, rnn_info *ri) {
  const nn_node *nd = ctx->node;
  const int G = nn_rnn_gates(cell);
  memset(ri, 0, sizeof *ri);
  ri->cell = cell;
  const nn_value *x = nn_in(ctx, 0), *w = nn_in(ctx, 1), *r = nn_in(ctx, 2);
  if (!x || !w || !r)
    return nn_op_error(ctx, NN_ERR_INVALID, "inputs 'X', 'W' and 'R' are required");
  if (x->dtype != NN_FLOAT)
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "input 'X' has dtype %s; only float32 is "
                       "supported", nn_dtype_name(x->dtype));
  for (int i = 1; i < ctx->n_in && i < 8; i++) {
    const nn_value *v = nn_in(ctx, i);
    if (v && i != 4 && v->dtype != x->dtype)
      return nn_op_error(ctx, NN_ERR_INVALID, "input '%s' has dtype %s, expected %s like 'X'",
                         g_in_names[i], nn_dtype_name(v->dtype), nn_dtype_name(x->dtype));
  }
  if (x->ndim != 3)
    return nn_op_error(ctx, NN_ERR_INVALID, "input 'X' has rank %d, expected 3", x->ndim);

  ri->layout = ctx->opset >= 14 ? (int)nn_attr_int(nd, "layout", 0) : 0;
  if (ri->layout != 0 && ri->layout != 1)
    return nn_op_error(ctx, NN_ERR_INVALID, "attribute 'layout' is %d, expected 0 or 1",
                       ri->layout);
  const char *dir = nn_attr_string(nd, "direction", "forward");
  if (!strcmp(dir, "forward")) {
    ri->nd = 1;
  } else if (!strcmp(dir, "reverse")) {
    ri->nd = 1;
    ri->reverse_only = 1;
  } else if (!strcmp(dir, "bidirectional")) {
    ri->nd = 2;
  } else {
    return nn_op_error(ctx, NN_ERR_INVALID, "attribute 'direction' is '%s', expected "
                       "forward, reverse or bidirectional", dir);
  }
  ri->seq = x->dims[ri->layout ? 1 : 0];
  ri->batch = x->dims[ri->layout ? 0 : 1];
  ri->input = x->dims[2];
  ri->hidden = nn_attr_int(nd, "hidden_size", r->ndim == 3 ? r->dims[2] : -1);
  if (ri->hidden < 1)
    return nn_op_error(ctx, NN_ERR_INVALID, "attribute 'hidden_size' is %lld, expected >= 1",
                       (long long)ri->hidden);
  const int64_t H = ri->hidden, GH = G * H, ND = ri->nd;
  char want[128];
  if (!dims_eq(w, 3, ND, GH, ri->input)) {
    snprintf(want, sizeof want, "[%lld, %lld, %lld]", (long long)ND, (long long)GH,
             (long long)ri->input);
    return bad_shape(ctx, 1, want);
  }
  if (!dims_eq(r, 3, ND, GH, H)) {
    snprintf(want, sizeof want, "[%lld, %lld, %lld]", (long long)ND, (long long)GH, (long long)H);
    return bad_shape(ctx, 2, want);
  }
  const nn_value *b = nn_in(ctx, 3), *sl = nn_in(ctx, 4), *h0 = nn_in(ctx, 5);
  if (b && !dims_eq(b, 2, ND, 2 * GH, 0)) {
    snprintf(want, sizeof want, "[%lld, %lld]", (long long)ND, (long long)(2 * GH));
    return bad_shape(ctx, 3, want);
  }
  if (sl) {
    if (sl->dtype != NN_INT32)
      return nn_op_error(ctx, NN_ERR_INVALID, "input 'sequence_lens' has dtype %s, expected "
                         "int32", nn_dtype_name(sl->dtype));
    if (!dims_eq(sl, 1, ri->batch, 0, 0)) {
      snprintf(want, sizeof want, "[%lld]", (long long)ri->batch);
      return bad_shape(ctx, 4, want);
    }
  }
  const int64_t s0 = ri->layout ? ri->batch : ND, s1 = ri->layout ? ND : ri->batch;
  snprintf(want, sizeof want, "[%lld, %lld, %lld]", (long long)s0, (long long)s1, (long long)H);
  if (h0 && !dims_eq(h0, 3, s0, s1, H)) return bad_shape(ctx, 5, want);
  if (cell == NN_RNN_CELL_LSTM) {
    const nn_value *c0 = nn_in(ctx, 6), *p = nn_in(ctx, 7);
    if (c0 && !dims_eq(c0, 3, s0, s1, H)) return bad_shape(ctx, 6, want);
    if (p && !dims_eq(p, 2, ND, 3 * H, 0)) {
      snprintf(want, sizeof want, "[%lld, %lld]", (long long)ND, (long long)(3 * H));
      return bad_shape(ctx, 7, want);
    }
    ri->input_forget = nn_attr_int(nd, "input_forget", 0) != 0;
  }
  if (cell == NN_RNN_CELL_GRU)
    ri->linear_before_reset = nn_attr_int(nd, "linear_before_reset", 0) != 0;
  const nn_attr *clip = nn_node_attr(nd, "clip");
  if (clip) {
    ri->clip = clip->f;
    if (!(ri->clip > 0.0f))
      return nn_op_error(ctx, NN_ERR_INVALID, "attribute 'clip' is %g, expected > 0",
                         (double)ri->clip);
  }
  return resolve_activations(ctx, ri);
}

static nn_status rnn_infer_common(nn_op_ctx *ctx, nn_rnn_cell cell) {
  rnn_info ri;
  nn_status st = rnn_check(ctx, cell, &ri);
  if (st) return st;
  const nn_dtype dt = nn_in(ctx, 0)->dtype;
  int64_t y[4], hs[3];
  if (ri.layout) {
    y[0] = ri.batch, y[1] = ri.seq, y[2] = ri.nd, y[3] = ri.hidden;
    hs[0] = ri.batch, hs[1] = ri.nd, hs[2] = ri.hidden;
  } else {
    y[0] = ri.seq, y[1] = ri.nd, y[2] = ri.batch, y[3] = ri.hidden;
    hs[0] = ri.nd, hs[1] = ri.batch, hs[2] = ri.hidden;
  }
  st = nn_value_set(ctx, nn_out(ctx, 0), dt, 4, y);
  if (!st) st = nn_value_set(ctx, nn_out(ctx, 1), dt, 3, hs);
  if (!st && cell == NN_RNN_CELL_LSTM) st = nn_value_set(ctx, nn_out(ctx, 2), dt, 3, hs);
  return st;
}

static size_t rnn_scratch_bytes(const rnn_info *ri) {
  return nn_f32_rnn_scratch_floats(ri->cell, (size_t)ri->seq, (size_t)ri->batch,
                                   (size_t)ri->hidden) * sizeof(float);
}

static nn_status rnn_prepare_common(nn_op_ctx *ctx, nn_rnn_cell cell) {
  rnn_info ri;
  nn_status st = rnn_check(ctx, cell, &ri);
  if (st) return st;
  ctx->scratch_size = rnn_scratch_bytes(&ri);
  return NN_OK;
}

static nn_status rnn_run_common(nn_op_ctx *ctx, nn_rnn_cell cell) {
  rnn_info ri;
  nn_status st = rnn_check(ctx, cell, &ri);
  if (st) return st;
  size_t need = rnn_scratch_bytes(&ri);
  if (ctx->scratch_size < need || !ctx->scratch)
    return nn_op_error(ctx, NN_ERR_RUNTIME, "scratch of %zu bytes is too small (%zu needed)",
                       ctx->scratch_size, need);
  const int lstm = cell == NN_RNN_CELL_LSTM;
  const size_t S = (size_t)ri.seq, B = (size_t)ri.batch, I = (size_t)ri.input,
               H = (size_t)ri.hidden, ND = (size_t)ri.nd;
  const size_t GH = (size_t)nn_rnn_gates(cell) * H;
  const nn_value *x = nn_in(ctx, 0), *w = nn_in(ctx, 1), *r = nn_in(ctx, 2),
                 *b = nn_in(ctx, 3), *sl = nn_in(ctx, 4), *h0 = nn_in(ctx, 5),
                 *c0 = lstm ? nn_in(ctx, 6) : NULL, *p = lstm ? nn_in(ctx, 7) : NULL;
  nn_value *y = nn_out(ctx, 0), *yh = nn_out(ctx, 1), *yc = lstm ? nn_out(ctx, 2) : NULL;
  if (sl)
    for (size_t i = 0; i < B; i++) {
      int32_t l = ((const int32_t *)sl->data)[i];
      if (l < 0 || (size_t)l > S)
        return nn_op_error(ctx, NN_ERR_INVALID,
                           "input 'sequence_lens' [%zu] is %d, expected 0 to %zu", i, (int)l, S);
    }
  for (size_t d = 0; d < ND; d++) {
    nn_f32_rnn_args a;
    memset(&a, 0, sizeof a);
    a.cell = cell;
    a.seq = S, a.batch = B, a.input = I, a.hidden = H;
    a.reverse = ri.reverse_only || d == 1;
    a.x = x->data;
    a.x_ts = ri.layout ? I : B * I;
    a.x_bs = ri.layout ? S * I : I;
    a.w = (const float *)w->data + d * GH * I;
    a.r = (const float *)r->data + d * GH * H;
    if (b) {
      a.wb = (const float *)b->data + d * 2 * GH;
      a.rb = a.wb + GH;
    }
    if (p) a.p = (const float *)p->data + d * 3 * H;
    a.seq_lens = sl ? sl->data : NULL;
    /* Y_h / initial states: [nd, batch, H] or (layout 1) [batch, nd, H]. */
    const size_t st_off = ri.layout ? d * H : d * B * H;
    a.state_bs = ri.layout ? ND * H : H;
    if (h0) a.h0 = (const float *)h0->data + st_off;
    if (c0) a.c0 = (const float *)c0->data + st_off;
    if (yh) a.h_out = (float *)yh->data + st_off;
    if (yc) a.c_out = (float *)yc->data + st_off;
    /* Y: [seq, nd, batch, H] or (layout 1) [batch, seq, nd, H]. */
    if (y) {
      a.y = (float *)y->data + (ri.layout ? d * H : d * B * H);
      a.y_ts = ri.layout ? ND * H : ND * B * H;
      a.y_bs = ri.layout ? S * ND * H : H;
    }
    memcpy(a.act, ri.act[d], sizeof a.act);
    a.clip = ri.clip;
    a.linear_before_reset = ri.linear_before_reset;
    a.input_forget = ri.input_forget;
    nn_f32_rnn_dir__ref(&a, ctx->scratch);
  }
  return NN_OK;
}

#define RNN_OP(NAME, CELL)                                                             \
  static nn_status NAME##_infer(nn_op_ctx *ctx) { return rnn_infer_common(ctx, CELL); }    \
  static nn_status NAME##_prepare(nn_op_ctx *ctx) { return rnn_prepare_common(ctx, CELL); } \
  static nn_status NAME##_run(nn_op_ctx *ctx) { return rnn_run_common(ctx, CELL); }        \
  NN_OP(NAME) = {.op_type = #NAME,                                                     \
                 .domain = "",                                                         \
                 .infer = NAME##_infer,                                                \
                 .prepare = NAME##_prepare,                                            \
                 .run = NAME##_run};

RNN_OP(RNN, NN_RNN_CELL_SIMPLE)
RNN_OP(GRU, NN_RNN_CELL_GRU)
RNN_OP(LSTM, NN_RNN_CELL_LSTM)
