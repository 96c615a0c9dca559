/*
 * test_quantize_dynamic.c - dynamic quantization on a graph built in memory: two
 * MatMuls reading the same activation (one followed by a bias Add), then a Gemm with
 * transB and a bias. After the pass the graph holds one DynamicQuantizeLinear per
 * distinct activation, MatMulIntegerToFloat (com.microsoft) in place of every MatMul /
 * Gemm with the bias folded in, no Add left; the outputs stay within the quantization
 * error of the float graph. MatMulIntegerToFloat with a constant B (packed GEMM) gives
 * the same bits as with B a graph input (reference x8_gemm path), both with and
 * without per-column weight zero points, and matches its definition in double.
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

#include "core/graph.h"
#include "graph_builder.h"
#include "quant/quantize.h"
#include "runtime/session.h"

enum { T = 37, K = 24, N = 40, N2 = 10 };

static float *init(nn_graph *g, const char *name, int ndim, const int64_t *dims,
                   uint32_t seed, float amp) {
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) n *= dims[d];
  float *v = malloc((size_t)n * sizeof *v);
  for (int64_t i = 0; i < n; i++) {
    seed = seed * 1103515245u + 12345u;
    v[i] = amp * ((float)((seed >> 9) & 0xffff) / 32768.0f - 1.0f);
  }
  f32_initializer(g, name, ndim, dims, v);
  return v;
}

/* x[T,K]: a = MatMul(x, w1) + b1; c = MatMul(x, w2); z = Gemm(a, w3[N2,N], b3, transB=1).
 * Outputs z and c. */
static nn_model *build(void) {
  nn_model *m = new_model(8, 13);
  nn_graph *g = m->graph;
  int64_t xd[2] = {T, K}, wd[2] = {K, N}, bd[1] = {N}, w3d[2] = {N2, N}, b3d[1] = {N2},
          zd[2] = {T, N2}, cd[2] = {T, N};
  io(g, "x", 1, 2, xd);
  init(g, "w1", 2, wd, 1, 0.4f);
  init(g, "b1", 1, bd, 2, 0.5f);
  init(g, "w2", 2, wd, 3, 0.3f);
  init(g, "w3", 2, w3d, 4, 0.2f);
  init(g, "b3", 1, b3d, 5, 0.1f);
  const char *m1[] = {"x", "w1"}, *a1[] = {"xw1", "b1"}, *m2[] = {"x", "w2"},
             *gm[] = {"a", "w3", "b3"};
  node(g, "MatMul", "mm1", 2, m1, "xw1");
  node(g, "Add", "bias1", 2, a1, "a");
  node(g, "MatMul", "mm2", 2, m2, "c");
  int gi = node(g, "Gemm", "proj", 3, gm, "z");
  assert_int_equal(nn_node_add_attr_int(&g->nodes[gi], "transB", 1), NN_OK);
  io(g, "z", 0, 2, zd);
  io(g, "c", 0, 2, cd);
  return m;
}

static void run(const nn_model *m, const float *x, float *z, float *c) {
  nn_session *s = NULL;
  assert_int_equal(nn_session_create(m, NULL, &s), NN_OK);
  nn_array in = {NN_FLOAT, 2, {T, K}, (void *)x, T * K * sizeof(float)};
  const char *names[1] = {"x"};
  assert_int_equal(nn_session_run(s, 1, names, &in), NN_OK);
  memcpy(z, nn_session_output(s, 0)->data, T * N2 * sizeof(float));
  memcpy(c, nn_session_output(s, 1)->data, T * N * sizeof(float));
  nn_session_free(s);
}

static int count(const nn_graph *g, const char *op, const char *domain) {
  int n = 0;
  for (int i = 0; i < g->n_nodes; i++)
    n += !strcmp(g->nodes[i].op_type, op) && !strcmp(g->nodes[i].domain, domain);
  return n;
}

/* |got - want| within frac of the output's largest magnitude */
static void check_close(const float *want, const float *got, size_t n, double frac) {
  double amax = 0;
  for (size_t i = 0; i < n; i++) amax = fmax(amax, fabs(want[i]));
  assert_true(amax > 0.1);
  for (size_t i = 0; i < n; i++)
    if (fabs(want[i] - got[i]) > frac * amax)
      fail_msg("output %zu: %g float, %g dynamic int8 (amax %g)", i, want[i], got[i], amax);
}

static void test_dynamic_rewrite(void **state) {
  (void)state;
  float x[T * K], z0[T * N2], c0[T * N], z1[T * N2], c1[T * N];
  uint32_t seed = 99;
  for (int i = 0; i < T * K; i++) {
    seed = seed * 1103515245u + 12345u;
    x[i] = 2.0f * ((float)((seed >> 9) & 0xffff) / 32768.0f - 1.0f) + 0.3f;
  }
  nn_model *m = build();
  run(m, x, z0, c0);
  nn_quant_options opt = {0};
  nn_quant_report rep;
  assert_int_equal(nn_quantize_dynamic(m, &opt, &rep), NN_OK);
  assert_int_equal(rep.quantized_nodes, 3);
  const nn_graph *g = m->graph;
  assert_int_equal(count(g, "DynamicQuantizeLinear", ""), 2); /* x once, a once */
  assert_int_equal(count(g, "MatMulIntegerToFloat", "com.microsoft"), 3);
  assert_int_equal(count(g, "MatMul", ""), 0);
  assert_int_equal(count(g, "Gemm", ""), 0);
  assert_int_equal(count(g, "Add", ""), 0); /* both biases folded */
  assert_true(nn_model_opset(m, "com.microsoft") >= 1);
  run(m, x, z1, c1);
  /* 8-bit activations and weights over K = 24 / 40 terms: a few percent at most */
  check_close(c0, c1, T * N, 0.02);
  check_close(z0, z1, T * N2, 0.03);
  nn_model_free(m);
}

/* MatMulIntegerToFloat(a uint8 [T,K] input, b int8 [K,N], a_scale, b_scale [N], a_zp,
 * -, bias [N]) with b an initializer (packed path) or a graph input (reference path). */
static void mmf_run(int b_const, int with_bzp, const uint8_t *a, const int8_t *b, float *y) {
  nn_model *m = nn_model_new();
  m->ir_version = 8;
  m->n_opsets = 2;
  m->opsets = calloc(2, sizeof *m->opsets);
  m->opsets[0].domain = strdup("");
  m->opsets[0].version = 13;
  m->opsets[1].domain = strdup("com.microsoft");
  m->opsets[1].version = 1;
  nn_graph *g = m->graph;
  int64_t ad[2] = {T, K}, bd[2] = {K, N}, nd[1] = {N}, one = 1, yd[2] = {T, N};
  io(g, "a", 1, 2, ad);
  g->tensors[nn_graph_find(g, "a")].dtype = NN_UINT8;
  int bt;
  if (b_const) {
    int8_t *bv = malloc(K * N);
    memcpy(bv, b, K * N);
    bt = nn_graph_add_initializer(g, "b", NN_INT8, 2, bd, bv);
  } else {
    io(g, "b", 1, 2, bd);
    bt = nn_graph_find(g, "b");
    g->tensors[bt].dtype = NN_INT8;
  }
  float *as = malloc(sizeof *as), *bs = malloc(N * sizeof *bs), *bias = malloc(N * sizeof *bias);
  uint8_t *az = malloc(1);
  int8_t *bz = malloc(N);
  *as = 0.013f;
  *az = 117;
  for (int j = 0; j < N; j++) {
    bs[j] = 0.002f * (float)(j % 5 + 1);
    bias[j] = 0.1f * (float)(j % 3) - 0.1f;
    bz[j] = (int8_t)(j % 7 - 3);
  }
  int ti[7] = {nn_graph_find(g, "a"), bt,
               nn_graph_add_initializer(g, "a_scale", NN_FLOAT, 0, &one, as),
               nn_graph_add_initializer(g, "b_scale", NN_FLOAT, 1, nd, bs),
               nn_graph_add_initializer(g, "a_zp", NN_UINT8, 0, &one, az),
               with_bzp ? nn_graph_add_initializer(g, "b_zp", NN_INT8, 1, nd, bz) : -1,
               nn_graph_add_initializer(g, "bias", NN_FLOAT, 1, nd, bias)};
  if (!with_bzp) free(bz);
  int yo = nn_graph_intern(g, "y");
  assert_true(nn_graph_add_node(g, "MatMulIntegerToFloat", "com.microsoft", "mmf", 7, ti, 1,
                                &yo) >= 0);
  io(g, "y", 0, 2, yd);
  nn_session *s = NULL;
  assert_int_equal(nn_session_create(m, NULL, &s), NN_OK);
  nn_array in[2] = {{NN_UINT8, 2, {T, K}, (void *)a, T * K},
                    {NN_INT8, 2, {K, N}, (void *)b, K * N}};
  const char *names[2] = {"a", "b"};
  assert_int_equal(nn_session_run(s, b_const ? 1 : 2, names, in), NN_OK);
  memcpy(y, nn_session_output(s, 0)->data, T * N * sizeof(float));
  nn_session_free(s);
  nn_model_free(m);
}

static void test_matmul_integer_to_float_paths(void **state) {
  (void)state;
  uint8_t a[T * K];
  int8_t b[K * N];
  uint32_t seed = 7;
  for (int i = 0; i < T * K; i++) a[i] = (uint8_t)((seed = seed * 1103515245u + 12345u) >> 24);
  for (int i = 0; i < K * N; i++) b[i] = (int8_t)((seed = seed * 1103515245u + 12345u) >> 24);
  for (int zp = 0; zp < 2; zp++) {
    float fast[T * N], ref[T * N];
    mmf_run(1, zp, a, b, fast);
    mmf_run(0, zp, a, b, ref);
    for (int i = 0; i < T * N; i++)
      if (memcmp(&fast[i], &ref[i], sizeof(float)))
        fail_msg("b_zp %d, element %d: packed %.9g, reference %.9g", zp, i, fast[i], ref[i]);
    /* and against the definition, in double */
    for (int i = 0; i < T; i++)
      for (int j = 0; j < N; j++) {
        long acc = 0;
        for (int k = 0; k < K; k++)
          acc += (long)(a[i * K + k] - 117) * (b[k * N + j] - (zp ? j % 7 - 3 : 0));
        const double want = (double)acc * 0.013 * 0.002 * (j % 5 + 1) + (0.1 * (j % 3) - 0.1);
        if (fabs(ref[i * N + j] - want) > 1e-5 * (fabs(want) + 1))
          fail_msg("(%d, %d): %.9g, expected %.9g", i, j, ref[i * N + j], want);
      }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dynamic_rewrite),
      cmocka_unit_test(test_matmul_integer_to_float_paths),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
