/*
 * test_equalize.c - cross-layer equalization on a Conv -> Relu -> depthwise Conv ->
 * Relu -> pointwise Conv chain built in memory with very unequal channel ranges: the
 * outputs stay those of the original model, per-channel weight ranges even out, and a
 * Clip(0, 6) between two convs blocks the pair it sits in.
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

enum { ACT_RELU, ACT_RELU6, ACT_CLIP_MIN0 };

/* Random values in [-amp, amp), channel c (along dim 0) scaled by chan_scale(c). */
static void init(nn_graph *g, const char *name, int ndim, const int64_t *dims, uint32_t seed,
                 float amp, int skew) {
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) n *= dims[d];
  const int64_t per = n / dims[0];
  float *v = malloc((size_t)n * sizeof *v);
  for (int64_t i = 0; i < n; i++) {
    seed = seed * 1103515245u + 12345u;
    /* Channel ranges spread over 1e-2 .. 1e1 (skew > 0) or the reverse (skew < 0). */
    int64_t c = i / per;
    float s = skew ? powf(10.0f, (float)((skew > 0 ? c : 7 - c) % 4) - 2.0f) : 1.0f;
    v[i] = s * amp * ((float)((seed >> 9) & 0xffff) / 32768.0f - 1.0f);
  }
  f32_initializer(g, name, ndim, dims, v);
}

static void add_pads(nn_node *n) {
  int64_t pads[4] = {1, 1, 1, 1};
  n->attrs = realloc(n->attrs, (size_t)(n->n_attrs + 1) * sizeof *n->attrs);
  nn_attr *a = &n->attrs[n->n_attrs++];
  memset(a, 0, sizeof *a);
  a->name = strdup("pads");
  a->type = NN_ATTR_INTS;
  a->n = 4;
  a->ints = malloc(sizeof pads);
  memcpy(a->ints, pads, sizeof pads);
}

/* x[1,4,8,8] -> conv1 (3x3, 4->8, bias) -> act -> dw (3x3, group 8, bias) -> Relu ->
 * pw (1x1, 8->6) -> z[1,6,8,8]. */
static nn_model *build(int act) {
  nn_model *m = new_model(8, 13);
  nn_graph *g = m->graph;
  int64_t xd[4] = {1, 4, 8, 8}, w1d[4] = {8, 4, 3, 3}, b8[1] = {8}, w2d[4] = {8, 1, 3, 3},
          w3d[4] = {6, 8, 1, 1}, zd[4] = {1, 6, 8, 8}, scalar[1] = {1};
  io(g, "x", 1, 4, xd);
  init(g, "w1", 4, w1d, 1, 1.0f, 1);
  init(g, "b1", 1, b8, 2, 0.1f, 0);
  init(g, "w2", 4, w2d, 3, 1.0f, -1);
  init(g, "b2", 1, b8, 4, 0.1f, 0);
  init(g, "w3", 4, w3d, 5, 0.5f, 0);
  const char *c1[] = {"x", "w1", "b1"}, *a1[] = {"c1", "lo", "hi"}, *c2[] = {"r1", "w2", "b2"},
             *a2[] = {"c2"}, *c3[] = {"r2", "w3"};
  int c1n = node(g, "Conv", "conv1", 3, c1, "c1"); /* nodes may move: index first */
  add_pads(&g->nodes[c1n]);
  if (act == ACT_RELU) {
    node(g, "Relu", "act1", 1, a1, "r1");
  } else {
    init(g, "lo", 0, scalar, 0, 0.0f, 0); /* amp 0: value 0 */
    int n_in = 2;
    if (act == ACT_RELU6) {
      init(g, "hi", 0, scalar, 0, 0.0f, 0);
      *(float *)g->tensors[nn_graph_find(g, "hi")].data = 6.0f;
      n_in = 3;
    }
    node(g, "Clip", "act1", n_in, a1, "r1");
  }
  int dw = node(g, "Conv", "dw", 3, c2, "c2");
  add_pads(&g->nodes[dw]);
  nn_node_add_attr_int(&g->nodes[dw], "group", 8);
  node(g, "Relu", "act2", 1, a2, "r2");
  node(g, "Conv", "pw", 2, c3, "z");
  io(g, "z", 0, 4, zd);
  nn_graph_build_maps(g, NULL);
  return m;
}

static void run(nn_model *m, const float *x, float *out) {
  nn_session *s = NULL;
  nn_session_options o = {0};
  assert_int_equal(nn_session_create(m, &o, &s), NN_OK);
  nn_array in = {NN_FLOAT, 4, {1, 4, 8, 8}, (void *)x, 256 * sizeof(float)};
  const char *names[1] = {"x"};
  assert_int_equal(nn_session_run(s, 1, names, &in), NN_OK);
  const nn_array *z = nn_session_output(s, 0);
  assert_int_equal(z->nbytes, 384 * sizeof(float));
  memcpy(out, z->data, z->nbytes);
  nn_session_free(s);
}

/* max/min over channels (dim 0 of w, or dim 1 when in_axis) of max|w| per channel. */
static double range_ratio(const nn_graph *g, const char *conv, int in_axis) {
  const nn_node *n = NULL;
  for (int i = 0; i < g->n_nodes; i++)
    if (!strcmp(g->nodes[i].name, conv)) n = &g->nodes[i];
  assert_non_null(n);
  const nn_tensor *w = &g->tensors[n->inputs[1]];
  const float *d = w->data;
  const int64_t co = w->dims[0], ci = w->dims[1], k = nn_tensor_numel(w) / (co * ci);
  const int64_t nch = in_axis ? ci : co;
  double lo = INFINITY, hi = 0.0;
  for (int64_t c = 0; c < nch; c++) {
    double r = 0.0;
    for (int64_t o = 0; o < co; o++)
      for (int64_t i = 0; i < ci; i++)
        for (int64_t j = 0; j < k; j++)
          if ((in_axis ? i : o) == c) r = fmax(r, fabs(d[(o * ci + i) * k + j]));
    lo = fmin(lo, r);
    hi = fmax(hi, r);
  }
  return hi / lo;
}

static void input(float *x) {
  uint32_t seed = 7;
  for (int i = 0; i < 256; i++) {
    seed = seed * 1664525u + 1013904223u;
    x[i] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
  }
}

static void assert_close(const float *ref, const float *got, int n) {
  float peak = 0.0f;
  for (int i = 0; i < n; i++) peak = fmaxf(peak, fabsf(ref[i]));
  assert_true(peak > 0.0f);
  for (int i = 0; i < n; i++) {
    float tol = 1e-5f * fmaxf(fabsf(ref[i]), peak);
    if (fabsf(ref[i] - got[i]) > tol)
      fail_msg("z[%d]: %.9g after equalization, %.9g before", i, got[i], ref[i]);
  }
}

static void test_equalize_chain(void **state) {
  (void)state;
  float x[256], ref[384], got[384];
  input(x);
  nn_model *m = build(ACT_RELU);
  run(m, x, ref);
  const double w1_before = range_ratio(m->graph, "conv1", 0);
  const double w2_before = range_ratio(m->graph, "dw", 0);
  assert_true(w1_before > 500.0 && w2_before > 500.0);

  int pairs = -1;
  assert_int_equal(nn_pass_equalize(m, 4, &pairs), NN_OK);
  assert_int_equal(pairs, 2); /* conv1 -> dw and dw -> pw */
  run(m, x, got);
  assert_close(ref, got, 384);

  /* The skew of opposite sign on both sides cancels: ranges come out far more even. */
  const double w1_after = range_ratio(m->graph, "conv1", 0);
  const double w2_after = range_ratio(m->graph, "dw", 0);
  assert_true(w1_after < w1_before / 10.0);
  assert_true(w2_after < w2_before / 10.0);
  nn_model_free(m);
}

static void test_relu6_blocks_pair(void **state) {
  (void)state;
  float x[256], ref[384], got[384];
  input(x);
  nn_model *m = build(ACT_RELU6);
  run(m, x, ref);
  const double w1_before = range_ratio(m->graph, "conv1", 0);
  int pairs = -1;
  assert_int_equal(nn_pass_equalize(m, 2, &pairs), NN_OK);
  assert_int_equal(pairs, 1); /* only dw -> pw; conv1 -> Clip(0, 6) -> dw is not exact */
  assert_true(range_ratio(m->graph, "conv1", 0) == w1_before);
  run(m, x, got);
  assert_close(ref, got, 384);
  nn_model_free(m);

  /* Clip with min 0 and no max is a Relu: the pair is equalized. */
  m = build(ACT_CLIP_MIN0);
  run(m, x, ref);
  assert_int_equal(nn_pass_equalize(m, 2, &pairs), NN_OK);
  assert_int_equal(pairs, 2);
  run(m, x, got);
  assert_close(ref, got, 384);
  nn_model_free(m);
}

static void test_shared_weight_copied(void **state) {
  (void)state;
  /* w1 also read by a second graph output conv: equalization must not change it. */
  float x[256], ref[384];
  input(x);
  nn_model *m = build(ACT_RELU);
  nn_graph *g = m->graph;
  const char *c[] = {"x", "w1"};
  node(g, "Conv", "side", 2, c, "side_out");
  add_pads(&g->nodes[g->n_nodes - 1]);
  int64_t sd[4] = {1, 8, 8, 8};
  io(g, "side_out", 0, 4, sd);
  nn_graph_build_maps(g, NULL);
  const int w1 = nn_graph_find(g, "w1");
  float before[288];
  memcpy(before, g->tensors[w1].data, sizeof before);
  run(m, x, ref);
  int pairs = -1;
  assert_int_equal(nn_pass_equalize(m, 1, &pairs), NN_OK);
  assert_int_equal(pairs, 2);
  assert_memory_equal(g->tensors[nn_graph_find(g, "w1")].data, before, sizeof before);
  float got[384];
  run(m, x, got);
  assert_close(ref, got, 384);
  nn_model_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_equalize_chain),
      cmocka_unit_test(test_relu6_blocks_pair),
      cmocka_unit_test(test_shared_weight_copied),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
