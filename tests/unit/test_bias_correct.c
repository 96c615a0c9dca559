/*
 * test_bias_correct.c - empirical bias correction on a padded 3x3 Conv whose input has
 * a non-zero mean, quantized per tensor with one wide channel (so the other channels'
 * weights round coarsely): after correction the mean output error per channel against
 * the float model, on held-out inputs, is much smaller than before. Graph in, graph
 * out, numerics checked; also with a Conv that had no bias (one is added).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/graph.h"
#include "graph_builder.h"
#include "passes/passes.h"
#include "quant/quantize.h"

enum { CI = 8, CO = 6, H = 8, W = 8, NX = CI * H * W, NZ = CO * H * W, SAMPLES = 40 };

static uint32_t lcg(uint32_t *s) {
  *s = *s * 1664525u + 1013904223u;
  return *s >> 8;
}

static float uni(uint32_t *s) { return (float)lcg(s) / 16777216.0f; }

/* x[1,8,8,8] -> Conv 3x3 pads 1 (bias when with_bias) -> z[1,6,8,8]. Channel 0 of the
 * weight is 20x wider than the rest, so per-tensor int8 rounds the others coarsely. */
static nn_model *build(int with_bias) {
  nn_model *m = new_model(8, 13);
  nn_graph *g = m->graph;
  int64_t xd[4] = {1, CI, H, W}, wd[4] = {CO, CI, 3, 3}, bd[1] = {CO}, zd[4] = {1, CO, H, W};
  io(g, "x", 1, 4, xd);
  float *w = malloc(CO * CI * 9 * sizeof *w), *b = malloc(CO * sizeof *b);
  uint32_t s = 99;
  for (int j = 0; j < CO * CI * 9; j++) w[j] = (j / (CI * 9) == 0 ? 2.0f : 0.1f) * (2 * uni(&s) - 1);
  for (int c = 0; c < CO; c++) b[c] = 0.05f * (float)c;
  f32_initializer(g, "w", 4, wd, w);
  if (with_bias)
    f32_initializer(g, "b", 1, bd, b);
  else
    free(b);
  const char *in[] = {"x", "w", "b"};
  int c = node(g, "Conv", "conv", with_bias ? 3 : 2, in, "z");
  nn_node *n = &g->nodes[c];
  int64_t pads[4] = {1, 1, 1, 1};
  n->attrs = realloc(n->attrs, (size_t)(n->n_attrs + 1) * sizeof *n->attrs);
  nn_attr *a = &n->attrs[n->n_attrs++];
  memset(a, 0, sizeof *a);
  a->name = strdup("pads");
  a->type = NN_ATTR_INTS;
  a->n = 4;
  a->ints = malloc(sizeof pads);
  memcpy(a->ints, pads, sizeof pads);
  io(g, "z", 0, 4, zd);
  nn_graph_build_maps(g, NULL);
  return m;
}

/* Inputs with a per-channel mean of 1 + c / 4 and noise of +-0.5. */
static void input(float *x, uint32_t *s) {
  for (int i = 0; i < NX; i++) x[i] = 1.0f + (float)(i / (H * W)) / 4 + (uni(s) - 0.5f);
}

static void run(const nn_model *m, const float *x, float *out) {
  nn_session *s = NULL;
  assert_int_equal(nn_session_create(m, NULL, &s), NN_OK);
  nn_array in = {NN_FLOAT, 4, {1, CI, H, W}, (void *)x, NX * sizeof(float)};
  const char *names[1] = {"x"};
  assert_int_equal(nn_session_run(s, 1, names, &in), NN_OK);
  const nn_array *z = nn_session_output(s, 0);
  assert_int_equal(z->nbytes, NZ * sizeof(float));
  memcpy(out, z->data, z->nbytes);
  nn_session_free(s);
}

/* Sum over output channels of |mean(q - f)| on held-out inputs. */
static double mean_error(const nn_model *f, const nn_model *q) {
  float *x = malloc(NX * sizeof *x), *zf = malloc(NZ * sizeof *zf), *zq = malloc(NZ * sizeof *zq);
  double err[CO] = {0};
  uint32_t s = 12345; /* not the calibration seed */
  for (int k = 0; k < SAMPLES; k++) {
    input(x, &s);
    run(f, x, zf);
    run(q, x, zq);
    for (int i = 0; i < NZ; i++) err[i / (H * W)] += (double)zq[i] - zf[i];
  }
  double total = 0;
  for (int c = 0; c < CO; c++) total += fabs(err[c] / (SAMPLES * H * W));
  free(x);
  free(zf);
  free(zq);
  return total;
}

/* Quantize m to QDQ per tensor with ranges from calibration samples; fill the mean. */
static void quantize(nn_model *m, nn_channel_mean *cm, float **w_copy) {
  nn_graph *g = m->graph;
  float *x = malloc(NX * sizeof *x), *z = malloc(NZ * sizeof *z);
  float xlo = INFINITY, xhi = -INFINITY, zlo = INFINITY, zhi = -INFINITY;
  memset(cm, 0, sizeof *cm);
  cm->channels = CI;
  cm->sum = calloc(CI, sizeof *cm->sum);
  cm->ndim = 4;
  cm->dims[0] = 1, cm->dims[1] = CI, cm->dims[2] = H, cm->dims[3] = W;
  uint32_t s = 1;
  for (int k = 0; k < SAMPLES; k++) {
    input(x, &s);
    run(m, x, z);
    for (int i = 0; i < NX; i++) {
      xlo = fminf(xlo, x[i]), xhi = fmaxf(xhi, x[i]);
      cm->sum[i / (H * W)] += x[i];
    }
    for (int i = 0; i < NZ; i++) zlo = fminf(zlo, z[i]), zhi = fmaxf(zhi, z[i]);
    cm->per_channel += H * W;
  }
  const nn_tensor *wt = &g->tensors[nn_graph_find(g, "w")];
  *w_copy = malloc(wt->nbytes);
  memcpy(*w_copy, wt->data, wt->nbytes);
  nn_tensor_range *r = calloc((size_t)g->n_tensors, sizeof *r);
  r[nn_graph_find(g, "x")] = (nn_tensor_range){xlo, xhi, 1};
  r[nn_graph_find(g, "z")] = (nn_tensor_range){zlo, zhi, 1};
  nn_quant_options qo = {0}; /* per tensor, uint8 activations */
  nn_quant_report rep = {0};
  assert_int_equal(nn_quantize_qdq(m, r, &qo, &rep), NN_OK);
  assert_int_equal(rep.weights, 1);
  nn_quant_report_free(&rep);
  free(r);
  free(x);
  free(z);
}

static void check(int with_bias) {
  nn_model *f = build(with_bias), *q = build(with_bias), *c = build(with_bias);
  nn_channel_mean cm, cm2;
  float *w, *w2;
  quantize(q, &cm, &w);
  quantize(c, &cm2, &w2);
  nn_bias_correction_ref ref = {"conv", w2, CO * CI * 9, &cm2};
  int corrected = 0;
  assert_int_equal(nn_pass_bias_correct(c, &ref, 1, &corrected), NN_OK);
  assert_int_equal(corrected, 1);
  double before = mean_error(f, q), after = mean_error(f, c);
  print_message("mean output error per channel: %.5f before, %.5f after correction\n", before, after);
  /* The shift is real (several output LSBs) and correction removes most of it. */
  assert_true(before > 1e-2);
  if (!(after < 0.25 * before)) fail_msg("mean error %.5f after correction, %.5f before", after, before);
  /* A ref whose node is not in the graph, or whose weight stayed float, changes nothing. */
  nn_bias_correction_ref none = {"no_such_node", w2, CO * CI * 9, &cm2};
  assert_int_equal(nn_pass_bias_correct(c, &none, 1, &corrected), NN_OK);
  assert_int_equal(corrected, 0);
  nn_model *f2 = build(with_bias);
  assert_int_equal(nn_pass_bias_correct(f2, &ref, 1, &corrected), NN_OK);
  assert_int_equal(corrected, 0);
  nn_model_free(f2);
  free(cm.sum);
  free(cm2.sum);
  free(w);
  free(w2);
  nn_model_free(f);
  nn_model_free(q);
  nn_model_free(c);
}

static void test_conv_with_bias(void **state) {
  (void)state;
  check(1);
}

static void test_conv_without_bias(void **state) {
  (void)state;
  check(0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_conv_with_bias),
      cmocka_unit_test(test_conv_without_bias),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
