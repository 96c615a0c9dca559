/*
 * test_ops_rnn.c - the recurrent reference kernel on cases the ONNX node tests miss:
 * activation names and alpha/beta defaults, GRU linear_before_reset both ways and an
 * LSTM step with peepholes, clip and input_forget (against the equations evaluated by
 * hand in double), ragged sequence_lens with a reverse direction (against a forward run
 * on the reversed sequences), batch-major strides (against time-major), and one
 * bidirectional LSTM against golden data from ONNX Runtime.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ref/rnn.h"

static float scratch[4096];

static double sigm(double x) { return 1.0 / (1.0 + exp(-x)); }

static void test_activation_names(void **state) {
  (void)state;
  nn_rnn_act a;
  int ua, ub;
  assert_int_equal(nn_rnn_act_parse("HARDSIGMOID", 11, &a, &ua, &ub), 0);
  assert_int_equal(a.kind, NN_RNN_ACT_HARD_SIGMOID);
  assert_true(ua && ub && a.alpha == 0.2f && a.beta == 0.5f);
  assert_int_equal(nn_rnn_act_parse("Tanhx", 4, &a, &ua, &ub), 0); /* length-delimited */
  assert_int_equal(a.kind, NN_RNN_ACT_TANH);
  assert_true(!ua && !ub);
  assert_int_equal(nn_rnn_act_parse("LeakyRelu", 9, &a, &ua, &ub), 0);
  assert_true(ua && !ub && a.alpha == 0.01f);
  assert_int_equal(nn_rnn_act_parse("Gelu", 4, &a, &ua, &ub), -1);
  assert_int_equal(nn_rnn_act_parse("Tan", 3, &a, &ua, &ub), -1);
}

static void test_activation_values(void **state) {
  (void)state;
  nn_rnn_act hs = {NN_RNN_ACT_HARD_SIGMOID, 0.2f, 0.5f};
  float x[3] = {1.0f, -10.0f, 10.0f};
  nn_f32_rnn_act__ref(&hs, x, 3);
  assert_float_equal(x[0], 0.7f, 1e-7);
  assert_true(x[1] == 0.0f && x[2] == 1.0f);
  nn_rnn_act tr = {NN_RNN_ACT_THRESHOLDED_RELU, 1.0f, 0.0f};
  float t[2] = {1.0f, 0.5f};
  nn_f32_rnn_act__ref(&tr, t, 2);
  assert_true(t[0] == 1.0f && t[1] == 0.0f);
  nn_rnn_act sp = {NN_RNN_ACT_SOFTPLUS, 0.0f, 0.0f};
  float s[2] = {100.0f, 0.0f};
  nn_f32_rnn_act__ref(&sp, s, 2);
  assert_true(s[0] == 100.0f); /* no overflow to inf */
  assert_float_equal(s[1], logf(2.0f), 1e-7);
  nn_rnn_act st = {NN_RNN_ACT_SCALED_TANH, 2.0f, 0.5f};
  float v = 1.0f;
  nn_f32_rnn_act__ref(&st, &v, 1);
  assert_float_equal(v, 2.0f * tanhf(0.5f), 1e-6);
}

static void default_acts(nn_f32_rnn_args *a) {
  a->act[0] = (nn_rnn_act){NN_RNN_ACT_SIGMOID, 0, 0};
  a->act[1] = (nn_rnn_act){NN_RNN_ACT_TANH, 0, 0};
  a->act[2] = (nn_rnn_act){NN_RNN_ACT_TANH, 0, 0};
}

/* One GRU step, hidden 1, input 1, with every weight and bias distinct. */
static void gru_step(int lbr, float *h_out) {
  const float x = 0.7f, h0 = -0.4f;
  const float w[3] = {0.3f, -0.8f, 0.5f}, r[3] = {0.9f, 0.2f, -0.6f};
  const float b[6] = {0.1f, 0.2f, -0.3f, 0.05f, -0.15f, 0.25f};
  nn_f32_rnn_args a;
  memset(&a, 0, sizeof a);
  a.cell = NN_RNN_CELL_GRU;
  a.seq = a.batch = a.input = a.hidden = 1;
  a.x = &x, a.x_ts = 1, a.x_bs = 1;
  a.w = w, a.r = r, a.wb = b, a.rb = b + 3;
  a.h0 = &h0, a.h_out = h_out, a.state_bs = 1;
  a.linear_before_reset = lbr;
  default_acts(&a);
  nn_f32_rnn_dir__ref(&a, scratch);
}

static void test_gru_linear_before_reset(void **state) {
  (void)state;
  const double x = 0.7, h = -0.4;
  double z = sigm(x * 0.3 + h * 0.9 + 0.1 + 0.05);
  double r = sigm(x * -0.8 + h * 0.2 + 0.2 - 0.15);
  double hh0 = tanh(x * 0.5 + (r * h) * -0.6 + 0.25 - 0.3);
  double hh1 = tanh(x * 0.5 + r * (h * -0.6 + 0.25) - 0.3);
  float got;
  gru_step(0, &got);
  assert_float_equal(got, (1 - z) * hh0 + z * h, 1e-6);
  gru_step(1, &got);
  assert_float_equal(got, (1 - z) * hh1 + z * h, 1e-6);
  assert_true(fabs(hh0 - hh1) > 1e-3); /* the two variants really differ here */
}

static void test_lstm_peephole_clip_input_forget(void **state) {
  (void)state;
  const float x = 1.5f, h0 = 0.3f, c0 = -0.6f, clip = 0.8f;
  /* gate order i, o, f, c */
  const float w[4] = {0.9f, -0.4f, 0.7f, 1.2f}, r[4] = {0.2f, 0.5f, -0.3f, 0.1f};
  const float p[3] = {0.4f, -0.7f, 0.25f}; /* i, o, f */
  for (int input_forget = 0; input_forget < 2; input_forget++) {
    nn_f32_rnn_args a;
    float h, c;
    memset(&a, 0, sizeof a);
    a.cell = NN_RNN_CELL_LSTM;
    a.seq = a.batch = a.input = a.hidden = 1;
    a.x = &x, a.x_ts = 1, a.x_bs = 1;
    a.w = w, a.r = r, a.p = p;
    a.h0 = &h0, a.c0 = &c0, a.h_out = &h, a.c_out = &c, a.state_bs = 1;
    a.clip = clip;
    a.input_forget = input_forget;
    default_acts(&a);
    nn_f32_rnn_dir__ref(&a, scratch);
#define CL(v) fmin(fmax((v), -clip), clip)
    double i = sigm(CL(x * 0.9 + h0 * 0.2 + p[0] * c0));
    double f = input_forget ? 1.0 - i : sigm(CL(x * 0.7 + h0 * -0.3 + p[2] * c0));
    double g = tanh(CL(x * 1.2 + h0 * 0.1));
    double cn = f * c0 + i * g;
    double o = sigm(CL(x * -0.4 + h0 * 0.5 + p[1] * cn));
#undef CL
    assert_float_equal(c, cn, 1e-6);
    assert_float_equal(h, o * tanh(cn), 1e-6);
  }
}

/* Ragged batch, reverse direction: each sequence must come out as a forward run over its
 * own reversed prefix, with zero Y rows past its length. */
static void test_reverse_ragged(void **state) {
  (void)state;
  enum { S = 4, B = 3, I = 2, H = 3, G = 4 };
  float x[S * B * I], w[G * H * I], r[G * H * H], bias[2 * G * H], h0[B * H], c0[B * H];
  uint32_t seed = 7;
  float *all[] = {x, w, r, bias, h0, c0};
  size_t sizes[] = {S * B * I, G * H * I, G * H * H, 2 * G * H, B * H, B * H};
  for (int k = 0; k < 6; k++)
    for (size_t i = 0; i < sizes[k]; i++) {
      seed = seed * 1664525u + 1013904223u;
      all[k][i] = (float)((seed >> 9) % 2001) / 1000.0f - 1.0f;
    }
  const int32_t lens[B] = {4, 1, 0};
  float y[S * B * H], yh[B * H], yc[B * H];
  memset(y, 0x7f, sizeof y); /* garbage that must be overwritten */
  nn_f32_rnn_args a;
  memset(&a, 0, sizeof a);
  a.cell = NN_RNN_CELL_LSTM;
  a.seq = S, a.batch = B, a.input = I, a.hidden = H;
  a.reverse = 1;
  a.x = x, a.x_ts = B * I, a.x_bs = I;
  a.w = w, a.r = r, a.wb = bias, a.rb = bias + G * H;
  a.seq_lens = lens;
  a.h0 = h0, a.c0 = c0, a.h_out = yh, a.c_out = yc, a.state_bs = H;
  a.y = y, a.y_ts = B * H, a.y_bs = H;
  default_acts(&a);
  nn_f32_rnn_dir__ref(&a, scratch);

  for (int b = 0; b < B; b++) {
    int L = lens[b];
    for (int t = L; t < S; t++)
      for (int j = 0; j < H; j++) assert_true(y[(t * B + b) * H + j] == 0.0f);
    if (L == 0) { /* nothing to run: the state passes through */
      assert_memory_equal(yh + b * H, h0 + b * H, H * sizeof(float));
      assert_memory_equal(yc + b * H, c0 + b * H, H * sizeof(float));
      continue;
    }
    /* forward over the reversed prefix of this one sequence */
    float xr[S * I], yf[S * H], hf[H], cf[H];
    for (int t = 0; t < L; t++)
      memcpy(xr + t * I, x + ((L - 1 - t) * B + b) * I, I * sizeof(float));
    nn_f32_rnn_args f = a;
    f.reverse = 0;
    f.seq = (size_t)L, f.batch = 1, f.seq_lens = NULL;
    f.x = xr, f.x_ts = I, f.x_bs = 0;
    f.h0 = h0 + b * H, f.c0 = c0 + b * H, f.h_out = hf, f.c_out = cf;
    f.y = yf, f.y_ts = H, f.y_bs = 0;
    nn_f32_rnn_dir__ref(&f, scratch);
    for (int t = 0; t < L; t++)
      for (int j = 0; j < H; j++)
        assert_float_equal(y[(t * B + b) * H + j], yf[(L - 1 - t) * H + j], 1e-6);
    for (int j = 0; j < H; j++) {
      assert_float_equal(yh[b * H + j], hf[j], 1e-6);
      assert_float_equal(yc[b * H + j], cf[j], 1e-6);
      assert_float_equal(yh[b * H + j], y[b * H + j], 0); /* = Y at position 0 */
    }
  }
}

/* The same RNN over batch-major strides gives bit-identical results. */
static void test_batch_major_strides(void **state) {
  (void)state;
  enum { S = 3, B = 2, I = 2, H = 2 };
  float xt[S * B * I], xb[B * S * I], w[H * I] = {0.5f, -0.2f, 0.1f, 0.8f},
                                        r[H * H] = {0.3f, 0.4f, -0.5f, 0.6f};
  for (int t = 0; t < S; t++)
    for (int b = 0; b < B; b++)
      for (int i = 0; i < I; i++) {
        float v = (float)(t * 7 + b * 3 + i) * 0.1f - 0.5f;
        xt[(t * B + b) * I + i] = v;
        xb[(b * S + t) * I + i] = v;
      }
  float yt[S * B * H], yb[B * S * H], ht[B * H], hb[B * H];
  nn_f32_rnn_args a;
  memset(&a, 0, sizeof a);
  a.cell = NN_RNN_CELL_SIMPLE;
  a.seq = S, a.batch = B, a.input = I, a.hidden = H;
  a.w = w, a.r = r;
  a.act[0] = (nn_rnn_act){NN_RNN_ACT_RELU, 0, 0};
  a.x = xt, a.x_ts = B * I, a.x_bs = I;
  a.y = yt, a.y_ts = B * H, a.y_bs = H;
  a.h_out = ht, a.state_bs = H;
  nn_f32_rnn_dir__ref(&a, scratch);
  a.x = xb, a.x_ts = I, a.x_bs = S * I;
  a.y = yb, a.y_ts = H, a.y_bs = S * H;
  a.h_out = hb;
  nn_f32_rnn_dir__ref(&a, scratch);
  for (int t = 0; t < S; t++)
    for (int b = 0; b < B; b++)
      for (int j = 0; j < H; j++) assert_true(yt[(t * B + b) * H + j] == yb[(b * S + t) * H + j]);
  assert_memory_equal(ht, hb, sizeof ht);
  float any = 0;
  for (int i = 0; i < S * B * H; i++) any += fabsf(yt[i]);
  assert_true(any > 0.1f);
}

/* ---- golden data from ONNX Runtime 1.30.0 (CPU provider, onnxruntime-node) ----
 * One bidirectional LSTM node: S=3, B=2, I=2, H=2, sequence_lens {3, 2}, initial_h/c,
 * peepholes, clip 1.5, activations [HardSigmoid, Tanh, Softsign, Sigmoid, LeakyRelu,
 * Tanh], activation_alpha [0.3, 0.2], activation_beta [0.6] (so HardSigmoid takes 0.3 and
 * 0.6, LeakyRelu 0.2). Layout 0: Y [S, 2, B, H], Y_h/Y_c [2, B, H]. */
static const float gx[12] = {-0.486f, 0.647f, 0.193f, -0.413f, -0.649f, 0.441f, -0.862f,
    -0.543f, 0.119f, 0.705f, 0.229f, -0.44f};
static const float gw[32] = {-0.095f, 0.12f, 0.848f, -0.069f, 0.016f, 0.175f, -0.631f,
    0.024f, 0.26f, 0.586f, -0.812f, -0.393f, -0.819f, 0.619f, 0.387f, -0.916f, 0.964f,
    0.93f, 0.308f, 0.231f, -0.685f, -0.97f, 0.057f, -0.881f, -0.62f, -0.516f, -0.94f,
    -0.072f, -0.119f, 0.685f, 0.038f, 0.281f};
static const float gr[32] = {-0.0f, 0.325f, -0.085f, -0.444f, 0.995f, 0.991f, 0.68f,
    0.416f, -0.369f, -0.541f, -0.422f, -0.86f, 0.533f, -0.199f, 0.693f, -0.227f, 0.916f,
    0.695f, -0.999f, -0.581f, 0.821f, -0.06f, 0.961f, -0.205f, -0.854f, 0.259f, 0.557f,
    -0.46f, -0.826f, -0.335f, 0.928f, 0.516f};
static const float gb[32] = {-0.764f, -0.507f, -0.798f, -0.88f, 0.594f, -0.645f, 0.119f,
    -0.105f, -0.619f, 0.464f, -0.738f, 0.287f, -0.767f, -0.158f, -0.574f, -0.46f, 0.942f,
    0.607f, -0.392f, 0.77f, -0.579f, -0.211f, 0.709f, 0.284f, -0.799f, 0.979f, -0.574f,
    -0.483f, 0.545f, -0.342f, -0.407f, -0.853f};
static const float gh0[8] = {-0.82f, 0.165f, -0.514f, 0.203f, -0.257f, -0.094f, 0.918f,
    -0.033f};
static const float gc0[8] = {0.149f, 0.733f, -0.634f, -0.692f, 0.817f, 0.636f, -0.501f,
    -0.62f};
static const float gp[12] = {0.479f, 0.881f, -0.607f, 0.9f, 0.764f, 0.207f, -0.157f,
    -0.792f, -0.923f, 0.925f, -0.523f, 0.409f};
static const float g_y[24] = {0.01045739f, -0.054636903f, -0.039570149f, -0.056309052f,
    0.1035311f, -0.017991837f, -0.026930502f, -0.1471196f, 0.016521608f, -0.12460354f,
    -0.016989157f, -0.12804811f, 0.10778179f, 0.0081772543f, -0.25481176f, -0.25719875f,
    0.010155233f, -0.086169012f, 0.0f, 0.0f, 0.13050984f, 0.048755202f, 0.0f, 0.0f};
static const float g_yh[8] = {0.010155233f, -0.086169012f, -0.016989157f, -0.12804811f,
    0.1035311f, -0.017991837f, -0.026930502f, -0.1471196f};
static const float g_yc[8] = {0.072617888f, -0.51626205f, -0.1277276f, -0.38220635f,
    0.64386463f, -0.04104238f, -0.087716378f, -0.2719084f};

static void test_lstm_bidirectional_vs_onnxruntime(void **state) {
  (void)state;
  enum { S = 3, B = 2, I = 2, H = 2, G = 4, ND = 2 };
  static const int32_t lens[B] = {3, 2};
  float y[S * ND * B * H], yh[ND * B * H], yc[ND * B * H];
  memset(y, 0x55, sizeof y);
  for (int d = 0; d < ND; d++) {
    nn_f32_rnn_args a;
    memset(&a, 0, sizeof a);
    a.cell = NN_RNN_CELL_LSTM;
    a.seq = S, a.batch = B, a.input = I, a.hidden = H;
    a.reverse = d == 1;
    a.x = gx, a.x_ts = B * I, a.x_bs = I;
    a.w = gw + d * G * H * I, a.r = gr + d * G * H * H;
    a.wb = gb + d * 2 * G * H, a.rb = a.wb + G * H;
    a.p = gp + d * 3 * H;
    a.seq_lens = lens;
    a.h0 = gh0 + d * B * H, a.c0 = gc0 + d * B * H, a.state_bs = H;
    a.h_out = yh + d * B * H, a.c_out = yc + d * B * H;
    a.y = y + d * B * H, a.y_ts = ND * B * H, a.y_bs = H;
    a.clip = 1.5f;
    if (d == 0) {
      a.act[0] = (nn_rnn_act){NN_RNN_ACT_HARD_SIGMOID, 0.3f, 0.6f};
      a.act[1] = (nn_rnn_act){NN_RNN_ACT_TANH, 0, 0};
      a.act[2] = (nn_rnn_act){NN_RNN_ACT_SOFTSIGN, 0, 0};
    } else {
      a.act[0] = (nn_rnn_act){NN_RNN_ACT_SIGMOID, 0, 0};
      a.act[1] = (nn_rnn_act){NN_RNN_ACT_LEAKY_RELU, 0.2f, 0};
      a.act[2] = (nn_rnn_act){NN_RNN_ACT_TANH, 0, 0};
    }
    nn_f32_rnn_dir__ref(&a, scratch);
  }
  for (int i = 0; i < S * ND * B * H; i++) assert_float_equal(y[i], g_y[i], 1e-5);
  for (int i = 0; i < ND * B * H; i++) {
    assert_float_equal(yh[i], g_yh[i], 1e-5);
    assert_float_equal(yc[i], g_yc[i], 1e-5);
  }
}

int main(void) {
  assert_true(nn_f32_rnn_scratch_floats(NN_RNN_CELL_LSTM, 4, 3, 3) <= 4096);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_activation_names),
      cmocka_unit_test(test_activation_values),
      cmocka_unit_test(test_gru_linear_before_reset),
      cmocka_unit_test(test_lstm_peephole_clip_input_forget),
      cmocka_unit_test(test_reverse_ragged),
      cmocka_unit_test(test_batch_major_strides),
      cmocka_unit_test(test_lstm_bidirectional_vs_onnxruntime),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
