/*
 * rnn.c - reference RNN / GRU / LSTM direction kernel (see rnn.h). The input projection
 * X * W^T + Wb is computed for all time steps up front (one pass over W per step would
 * be slower and is not clearer); the recurrence then walks the time steps, each batch
 * row on its own so ragged sequence lengths need no special casing.
 */
#include "kernels/ref/rnn.h"

#include <ctype.h>
#include <math.h>
#include <string.h>

/* Defaults are those of the ONNX operators of the same name, as the spec says (Affine
 * and ScaledTanh: the former experimental ops). ONNX Runtime instead defaults the alpha
 * and beta of Affine, ScaledTanh and ThresholdedRelu to 0; given explicitly, the
 * values are consumed identically. */
static const struct {
  const char *name;
  nn_rnn_act_kind kind;
  int uses_alpha, uses_beta;
  float alpha, beta;
} g_acts[] = {
    {"sigmoid", NN_RNN_ACT_SIGMOID, 0, 0, 0.0f, 0.0f},
    {"tanh", NN_RNN_ACT_TANH, 0, 0, 0.0f, 0.0f},
    {"relu", NN_RNN_ACT_RELU, 0, 0, 0.0f, 0.0f},
    {"affine", NN_RNN_ACT_AFFINE, 1, 1, 1.0f, 0.0f},
    {"leakyrelu", NN_RNN_ACT_LEAKY_RELU, 1, 0, 0.01f, 0.0f},
    {"thresholdedrelu", NN_RNN_ACT_THRESHOLDED_RELU, 1, 0, 1.0f, 0.0f},
    {"scaledtanh", NN_RNN_ACT_SCALED_TANH, 1, 1, 1.0f, 1.0f},
    {"hardsigmoid", NN_RNN_ACT_HARD_SIGMOID, 1, 1, 0.2f, 0.5f},
    {"elu", NN_RNN_ACT_ELU, 1, 0, 1.0f, 0.0f},
    {"softsign", NN_RNN_ACT_SOFTSIGN, 0, 0, 0.0f, 0.0f},
    {"softplus", NN_RNN_ACT_SOFTPLUS, 0, 0, 0.0f, 0.0f},
};

int nn_rnn_act_parse(const char *name, size_t len, nn_rnn_act *act, int *uses_alpha,
                     int *uses_beta) {
  for (size_t i = 0; i < sizeof g_acts / sizeof g_acts[0]; i++) {
    const char *n = g_acts[i].name;
    if (strlen(n) != len) continue;
    size_t j = 0;
    while (j < len && tolower((unsigned char)name[j]) == n[j]) j++;
    if (j < len) continue;
    act->kind = g_acts[i].kind;
    act->alpha = g_acts[i].alpha;
    act->beta = g_acts[i].beta;
    *uses_alpha = g_acts[i].uses_alpha;
    *uses_beta = g_acts[i].uses_beta;
    return 0;
  }
  return -1;
}

static inline float act_one(const nn_rnn_act *a, float x) {
  switch (a->kind) {
  case NN_RNN_ACT_SIGMOID: return 1.0f / (1.0f + expf(-x));
  case NN_RNN_ACT_TANH: return tanhf(x);
  case NN_RNN_ACT_RELU: return x > 0.0f ? x : 0.0f;
  case NN_RNN_ACT_AFFINE: return a->alpha * x + a->beta;
  case NN_RNN_ACT_LEAKY_RELU: return x >= 0.0f ? x : a->alpha * x;
  case NN_RNN_ACT_THRESHOLDED_RELU: return x >= a->alpha ? x : 0.0f;
  case NN_RNN_ACT_SCALED_TANH: return a->alpha * tanhf(a->beta * x);
  case NN_RNN_ACT_HARD_SIGMOID: {
    float v = a->alpha * x + a->beta;
    return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
  }
  case NN_RNN_ACT_ELU: return x >= 0.0f ? x : a->alpha * (expf(x) - 1.0f);
  case NN_RNN_ACT_SOFTSIGN: return x / (1.0f + fabsf(x));
  case NN_RNN_ACT_SOFTPLUS: return x > 20.0f ? x : log1pf(expf(x)); /* avoid inf */
  }
  return x;
}

void nn_f32_rnn_act__ref(const nn_rnn_act *act, float *x, size_t n) {
  for (size_t i = 0; i < n; i++) x[i] = act_one(act, x[i]);
}

int nn_rnn_gates(nn_rnn_cell cell) {
  return cell == NN_RNN_CELL_LSTM ? 4 : cell == NN_RNN_CELL_GRU ? 3 : 1;
}

size_t nn_f32_rnn_scratch_floats(nn_rnn_cell cell, size_t seq, size_t batch, size_t hidden) {
  size_t gh = (size_t)nn_rnn_gates(cell) * hidden;
  /* xw [seq * batch * GH], gates [GH], h and c [batch * H], tmp [H] */
  return seq * batch * gh + gh + 2 * batch * hidden + hidden;
}

static inline float dot(const float *a, const float *b, size_t n) {
  float s = 0.0f;
  for (size_t i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

static inline void clip_n(float *x, size_t n, float c) {
  if (!(c > 0.0f)) return;
  for (size_t i = 0; i < n; i++) x[i] = x[i] > c ? c : (x[i] < -c ? -c : x[i]);
}

/* g[j] += h . r[j] + rb[j] for rows j in [j0, j1) of r. */
static void add_recurrent(float *g, const float *h, const float *r, const float *rb,
                          size_t j0, size_t j1, size_t hidden) {
  for (size_t j = j0; j < j1; j++) g[j] += dot(h, r + j * hidden, hidden) + (rb ? rb[j] : 0.0f);
}

static void step_simple(const nn_f32_rnn_args *a, float *g, float *h) {
  const size_t H = a->hidden;
  add_recurrent(g, h, a->r, a->rb, 0, H, H);
  clip_n(g, H, a->clip);
  nn_f32_rnn_act__ref(&a->act[0], g, H);
  memcpy(h, g, H * sizeof *h);
}

/* zt = f(Xt Wz + Ht-1 Rz + Wbz + Rbz); rt likewise;
 * ht = g(Xt Wh + (rt . Ht-1) Rh + Rbh + Wbh)        (linear_before_reset = 0)
 * ht = g(Xt Wh + rt . (Ht-1 Rh + Rbh) + Wbh)        (linear_before_reset != 0)
 * Ht = (1 - zt) . ht + zt . Ht-1 */
static void step_gru(const nn_f32_rnn_args *a, float *g, float *h, float *tmp) {
  const size_t H = a->hidden;
  float *z = g, *r = g + H, *hh = g + 2 * H;
  add_recurrent(g, h, a->r, a->rb, 0, 2 * H, H);
  clip_n(g, 2 * H, a->clip);
  nn_f32_rnn_act__ref(&a->act[0], g, 2 * H);
  const float *rh = a->r + 2 * H * H, *rbh = a->rb ? a->rb + 2 * H : NULL;
  if (a->linear_before_reset) {
    for (size_t j = 0; j < H; j++)
      hh[j] += r[j] * (dot(h, rh + j * H, H) + (rbh ? rbh[j] : 0.0f));
  } else {
    for (size_t k = 0; k < H; k++) tmp[k] = r[k] * h[k];
    for (size_t j = 0; j < H; j++) hh[j] += dot(tmp, rh + j * H, H) + (rbh ? rbh[j] : 0.0f);
  }
  clip_n(hh, H, a->clip);
  nn_f32_rnn_act__ref(&a->act[1], hh, H);
  for (size_t j = 0; j < H; j++) h[j] = (1.0f - z[j]) * hh[j] + z[j] * h[j];
}

/* it = f(Xt Wi + Ht-1 Ri + Pi . Ct-1 + Wbi + Rbi); ft likewise with Pf; ct = g(...);
 * Ct = ft . Ct-1 + it . ct; ot = f(... + Po . Ct); Ht = ot . h(Ct).
 * With input_forget, ft = 1 - it (as ONNX Runtime couples them). */
static void step_lstm(const nn_f32_rnn_args *a, float *g, float *h, float *c, float *tmp) {
  const size_t H = a->hidden;
  float *gi = g, *go = g + H, *gf = g + 2 * H, *gc = g + 3 * H;
  const float *pi = a->p, *po = a->p ? a->p + H : NULL, *pf = a->p ? a->p + 2 * H : NULL;
  add_recurrent(g, h, a->r, a->rb, 0, 4 * H, H);
  if (pi)
    for (size_t j = 0; j < H; j++) {
      gi[j] += pi[j] * c[j];
      gf[j] += pf[j] * c[j];
    }
  clip_n(gi, H, a->clip);
  clip_n(gf, H, a->clip);
  clip_n(gc, H, a->clip);
  nn_f32_rnn_act__ref(&a->act[0], gi, H);
  if (a->input_forget)
    for (size_t j = 0; j < H; j++) gf[j] = 1.0f - gi[j];
  else
    nn_f32_rnn_act__ref(&a->act[0], gf, H);
  nn_f32_rnn_act__ref(&a->act[1], gc, H);
  for (size_t j = 0; j < H; j++) c[j] = gf[j] * c[j] + gi[j] * gc[j];
  if (po)
    for (size_t j = 0; j < H; j++) go[j] += po[j] * c[j];
  clip_n(go, H, a->clip);
  nn_f32_rnn_act__ref(&a->act[0], go, H);
  memcpy(tmp, c, H * sizeof *tmp);
  nn_f32_rnn_act__ref(&a->act[2], tmp, H);
  for (size_t j = 0; j < H; j++) h[j] = go[j] * tmp[j];
}

static size_t seq_len_of(const nn_f32_rnn_args *a, size_t b) {
  if (!a->seq_lens) return a->seq;
  int32_t l = a->seq_lens[b];
  return l < 0 ? 0 : ((size_t)l > a->seq ? a->seq : (size_t)l);
}

void nn_f32_rnn_dir__ref(const nn_f32_rnn_args *a, float *scratch) {
  const size_t S = a->seq, B = a->batch, I = a->input, H = a->hidden;
  const size_t GH = (size_t)nn_rnn_gates(a->cell) * H;
  float *xw = scratch, *g = xw + S * B * GH, *hs = g + GH, *cs = hs + B * H, *tmp = cs + B * H;

  /* Input projections of every valid step: xw[t][b] = x[t][b] W^T + Wb. */
  for (size_t t = 0; t < S; t++)
    for (size_t b = 0; b < B; b++) {
      if (t >= seq_len_of(a, b)) continue;
      const float *xr = a->x + t * a->x_ts + b * a->x_bs;
      float *row = xw + (t * B + b) * GH;
      for (size_t j = 0; j < GH; j++)
        row[j] = dot(xr, a->w + j * I, I) + (a->wb ? a->wb[j] : 0.0f);
    }

  for (size_t b = 0; b < B; b++) {
    float *h = hs + b * H, *c = cs + b * H;
    if (a->h0)
      memcpy(h, a->h0 + b * a->state_bs, H * sizeof *h);
    else
      memset(h, 0, H * sizeof *h);
    if (a->c0)
      memcpy(c, a->c0 + b * a->state_bs, H * sizeof *c);
    else
      memset(c, 0, H * sizeof *c);
    if (a->y)
      for (size_t t = seq_len_of(a, b); t < S; t++)
        memset(a->y + t * a->y_ts + b * a->y_bs, 0, H * sizeof(float));
  }

  for (size_t s = 0; s < S; s++)
    for (size_t b = 0; b < B; b++) {
      size_t len = seq_len_of(a, b);
      if (s >= len) continue;
      size_t pos = a->reverse ? len - 1 - s : s;
      float *h = hs + b * H, *c = cs + b * H;
      memcpy(g, xw + (pos * B + b) * GH, GH * sizeof *g);
      switch (a->cell) {
      case NN_RNN_CELL_SIMPLE: step_simple(a, g, h); break;
      case NN_RNN_CELL_GRU: step_gru(a, g, h, tmp); break;
      case NN_RNN_CELL_LSTM: step_lstm(a, g, h, c, tmp); break;
      }
      if (a->y) memcpy(a->y + pos * a->y_ts + b * a->y_bs, h, H * sizeof *h);
    }

  for (size_t b = 0; b < B; b++) {
    if (a->h_out) memcpy(a->h_out + b * a->state_bs, hs + b * H, H * sizeof(float));
    if (a->c_out) memcpy(a->c_out + b * a->state_bs, cs + b * H, H * sizeof(float));
  }
}
