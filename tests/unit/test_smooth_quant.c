/*
 * test_smooth_quant.c - SmoothQuant on LayerNorm -> MatMul graphs built in memory with
 * one outlier channel: the float outputs stay the same, the outlier channel's
 * activation range shrinks, the projections reading one LayerNorm share one scale,
 * and a LayerNorm output with other readers keeps feeding them unchanged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/graph.h"
#include "graph_builder.h"
#include "quant/quantize.h"
#include "runtime/session.h"

enum { T = 16, K = 8, N = 6, SAMPLES = 8, OUTLIER = 3 };

static float *init(nn_graph *g, const char *name, int ndim, const int64_t *dims,
                   uint32_t seed, float amp, float offset) {
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) n *= dims[d];
  float *v = malloc((size_t)n * sizeof *v);
  for (int64_t i = 0; i < n; i++) {
    seed = seed * 1103515245u + 12345u;
    v[i] = offset + amp * ((float)((seed >> 9) & 0xffff) / 32768.0f - 1.0f);
  }
  f32_initializer(g, name, ndim, dims, v);
  return v;
}

/* x[1,K] -> LayerNorm(scale with an outlier at channel OUTLIER, bias) -> h;
 * q = MatMul(h, wq[K,N]); k = Gemm(h, wk[N,K], transB=1); z = q + k. With residual,
 * also r = Add(h, h) as a second output (h then has a reader that is not smoothed).
 * Each calibration sample is one row (token). */
static nn_model *build(int residual, int decomposed) {
  nn_model *m = new_model(8, 17);
  nn_graph *g = m->graph;
  int64_t xd[2] = {1, K}, sd[1] = {K}, wqd[2] = {K, N}, wkd[2] = {N, K}, zd[2] = {1, N};
  io(g, "x", 1, 2, xd);
  float *scale = init(g, "scale", 1, sd, 1, 0.3f, 1.0f);
  scale[OUTLIER] = 40.0f;
  float *bias = init(g, "bias", 1, sd, 2, 0.2f, 0.0f);
  bias[OUTLIER] = 5.0f;
  init(g, "wq", 2, wqd, 3, 0.5f, 0.0f);
  init(g, "wk", 2, wkd, 4, 0.5f, 0.0f);
  const char *ln[] = {"x", "scale", "bias"}, *mq[] = {"h", "wq"}, *mk[] = {"h", "wk"},
             *ad[] = {"q", "k"}, *rd[] = {"h", "h"};
  if (decomposed) { /* the affine tail of a LayerNorm exported below opset 17 */
    int64_t one[1] = {1};
    init(g, "two", 1, one, 5, 0.0f, 2.0f);
    const char *dv[] = {"x", "two"}, *ml[] = {"zn", "scale"}, *ab[] = {"hm", "bias"};
    node(g, "Div", "ln_div", 2, dv, "zn");
    node(g, "Mul", "ln_mul", 2, ml, "hm");
    node(g, "Add", "ln_add", 2, ab, "h");
  } else {
    node(g, "LayerNormalization", "ln", 3, ln, "h");
  }
  node(g, "MatMul", "q_proj", 2, mq, "q");
  int gi = node(g, "Gemm", "k_proj", 2, mk, "k");
  assert_int_equal(nn_node_add_attr_int(&g->nodes[gi], "transB", 1), NN_OK);
  node(g, "Add", "add", 2, ad, "z");
  io(g, "z", 0, 2, zd);
  if (residual) {
    node(g, "Add", "residual", 2, rd, "r");
    io(g, "r", 0, 2, xd);
  }
  nn_graph_build_maps(g, NULL);
  return m;
}

typedef struct range_ctx {
  int t;
  float amax[K];
} range_ctx;

static void observe(void *user, int t, const nn_value *v) {
  range_ctx *c = user;
  if (t != c->t) return;
  const float *x = v->data;
  for (int64_t i = 0; i < nn_value_numel(v); i++)
    if (fabsf(x[i]) > c->amax[i % K]) c->amax[i % K] = fabsf(x[i]);
}

/* Runs m over the samples; out gets the outputs (n_out of them, each numel floats) and
 * rc the per-channel range of the input of node "q_proj". */
static void run(const nn_model *m, const float *xs, float *out, int n_out, range_ctx *rc) {
  nn_session *s = NULL;
  assert_int_equal(nn_session_create(m, NULL, &s), NN_OK);
  const nn_graph *g = m->graph;
  memset(rc, 0, sizeof *rc);
  rc->t = -1;
  for (int i = 0; i < g->n_nodes; i++)
    if (g->nodes[i].name && !strcmp(g->nodes[i].name, "q_proj")) rc->t = g->nodes[i].inputs[0];
  assert_true(rc->t >= 0);
  nn_session_set_observer(s, observe, rc);
  size_t off = 0;
  for (int i = 0; i < SAMPLES * T; i++) {
    nn_array in = {NN_FLOAT, 2, {1, K}, (void *)(xs + i * K), K * sizeof(float)};
    const char *names[1] = {"x"};
    assert_int_equal(nn_session_run(s, 1, names, &in), NN_OK);
    for (int o = 0; o < n_out; o++) {
      const nn_array *z = nn_session_output(s, o);
      memcpy(out + off, z->data, z->nbytes);
      off += z->nbytes / sizeof(float);
    }
  }
  nn_session_free(s);
}

static void check_close(const float *a, const float *b, size_t n) {
  double amax = 0;
  for (size_t i = 0; i < n; i++) amax = fmax(amax, fabs(a[i]));
  for (size_t i = 0; i < n; i++) {
    if (fabs(a[i] - b[i]) > 1e-4 * fmax(fabs(a[i]), 1e-2 * amax)) {
      fail_msg("output %zu: %g before, %g after SmoothQuant", i, a[i], b[i]);
    }
  }
}

static float xs[SAMPLES * T * K];

static nn_dataset *dataset(char *path) {
  uint32_t seed = 7;
  for (int i = 0; i < SAMPLES * T * K; i++) {
    seed = seed * 1664525u + 1013904223u;
    xs[i] = 2.0f * ((float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f);
  }
  int fd = mkstemps(path, 4);
  close(fd);
  nn_array ca = {NN_FLOAT, 2, {SAMPLES * T, K}, xs, sizeof xs};
  assert_int_equal(nn_array_write_npy(path, &ca), NN_OK);
  char spec[256];
  snprintf(spec, sizeof spec, "npy:%s,name=x", path);
  nn_dataset *ds = NULL;
  assert_int_equal(nn_dataset_open(spec, NULL, &ds), NN_OK);
  return ds;
}

static int count_op(const nn_graph *g, const char *op) {
  int n = 0;
  for (int i = 0; i < g->n_nodes; i++) n += !strcmp(g->nodes[i].op_type, op);
  return n;
}

static void check_smoothing(int residual, int decomposed) {
  char path[] = "/tmp/nnopt_sq_XXXXXX.npy";
  nn_dataset *ds = dataset(path);
  nn_model *m = build(residual, decomposed);
  int n_out = residual ? 2 : 1;
  size_t per = (size_t)T * (N + (residual ? K : 0));
  float *before = malloc(SAMPLES * per * sizeof *before),
        *after = malloc(SAMPLES * per * sizeof *after);
  range_ctx r0, r1;
  run(m, xs, before, n_out, &r0);

  int n = 0;
  assert_int_equal(nn_pass_smooth_quant(m, ds, 0, 0.5f, &n), NN_OK);
  assert_int_equal(n, 2); /* both projections, one shared scale */
  /* no Mul inserted; a private LayerNorm (tail) copy only for the residual reader */
  assert_int_equal(count_op(m->graph, "Mul"), decomposed ? (residual ? 2 : 1) : 0);
  assert_int_equal(count_op(m->graph, "LayerNormalization"),
                   decomposed ? 0 : (residual ? 2 : 1));
  run(m, xs, after, n_out, &r1);
  check_close(before, after, SAMPLES * per);

  /* The outlier channel dominated the range before and is much closer to the others
   * now. */
  float rest0 = 0, rest1 = 0;
  for (int k = 0; k < K; k++)
    if (k != OUTLIER) {
      rest0 = fmaxf(rest0, r0.amax[k]);
      rest1 = fmaxf(rest1, r1.amax[k]);
    }
  assert_true(r0.amax[OUTLIER] > 10 * rest0);
  assert_true(r1.amax[OUTLIER] < r0.amax[OUTLIER] / 4);
  assert_true(r1.amax[OUTLIER] / rest1 < r0.amax[OUTLIER] / rest0 / 4);

  /* One s for both projections: row k of each weight scaled by the same factor. */
  const nn_graph *g = m->graph;
  int qp = -1, kp = -1;
  for (int i = 0; i < g->n_nodes; i++) {
    if (!strcmp(g->nodes[i].name, "q_proj")) qp = i;
    if (!strcmp(g->nodes[i].name, "k_proj")) kp = i;
  }
  nn_model *orig = build(residual, decomposed);
  const float *wq0 = orig->graph->tensors[nn_graph_find(orig->graph, "wq")].data,
              *wk0 = orig->graph->tensors[nn_graph_find(orig->graph, "wk")].data,
              *wq1 = g->tensors[g->nodes[qp].inputs[1]].data,
              *wk1 = g->tensors[g->nodes[kp].inputs[1]].data;
  for (int k = 0; k < K; k++) {
    float sq = wq1[k * N] / wq0[k * N], sk = wk1[k] / wk0[k]; /* wk is [N,K] */
    assert_float_equal(sq, sk, 1e-5f * fabsf(sq));
  }
  assert_int_equal(g->nodes[kp].inputs[0], g->nodes[qp].inputs[0]);
  int h = nn_graph_find(g, "h");
  if (residual) { /* the residual still reads the original LayerNorm output */
    assert_int_not_equal(g->nodes[qp].inputs[0], h);
    for (int i = 0; i < g->n_nodes; i++)
      if (!strcmp(g->nodes[i].name, "residual")) assert_int_equal(g->nodes[i].inputs[0], h);
  } else {
    assert_int_equal(g->nodes[qp].inputs[0], h);
  }

  nn_model_free(orig);
  nn_model_free(m);
  free(before);
  free(after);
  nn_dataset_free(ds);
  unlink(path);
}

static void test_smooth_layernorm_matmul(void **state) {
  (void)state;
  check_smoothing(0, 0);
}

static void test_smooth_shared_layernorm_output(void **state) {
  (void)state;
  check_smoothing(1, 0);
}

static void test_smooth_decomposed_layernorm(void **state) {
  (void)state;
  check_smoothing(0, 1);
  check_smoothing(1, 1);
}

/* A MatMul whose input does not come from a LayerNorm is left alone. */
static void test_skip_without_layernorm(void **state) {
  (void)state;
  char path[] = "/tmp/nnopt_sq_XXXXXX.npy";
  nn_dataset *ds = dataset(path);
  nn_model *m = new_model(8, 17);
  nn_graph *g = m->graph;
  int64_t xd[2] = {1, K}, wd[2] = {K, N}, zd[2] = {1, N};
  io(g, "x", 1, 2, xd);
  float *w = init(g, "w", 2, wd, 3, 0.5f, 0.0f);
  float w0 = w[0];
  const char *mm[] = {"x", "w"};
  node(g, "MatMul", "mm", 2, mm, "z");
  io(g, "z", 0, 2, zd);
  int n = -1;
  assert_int_equal(nn_pass_smooth_quant(m, ds, 0, 0.5f, &n), NN_OK);
  assert_int_equal(n, 0);
  assert_int_equal(g->n_nodes, 1);
  assert_float_equal(((float *)g->tensors[nn_graph_find(g, "w")].data)[0], w0, 0);
  nn_model_free(m);
  nn_dataset_free(ds);
  unlink(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_smooth_layernorm_matmul),
      cmocka_unit_test(test_smooth_shared_layernorm_output),
      cmocka_unit_test(test_smooth_decomposed_layernorm),
      cmocka_unit_test(test_skip_without_layernorm),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
