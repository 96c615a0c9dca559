/*
 * test_calib_memory.c - the memory-saving paths of calibration (issue #5): sessions
 * created with NN_SESSION_NO_PREPACK (float MatMul/Gemm without packed weight copies)
 * compute what pre-packed sessions and a double-precision reference compute, and a
 * model loaded from a file (mapping released as the unpack copies tensors out) holds
 * exactly the initializers that were saved, large ones included.
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
#include "nnopt.h"
#include "runtime/session.h"

enum { R = 5, K = 67, H = 96, N = 80, BIG = 1024 * 320 /* 1.25 MB of floats */ };

static float *filled(size_t n, unsigned seed, float scale) {
  float *v = malloc(n * sizeof *v);
  assert_non_null(v);
  for (size_t i = 0; i < n; i++) {
    seed = seed * 1103515245u + 12345u;
    v[i] = scale * ((float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f);
  }
  return v;
}

/* x[R,K] -> MatMul(W[K,H]) -> h -> Gemm(h, B[N,H]^T, C[N]) -> y[R,N]; optionally an
 * unused-by-the-graph large initializer 'big' (for the loader test). */
static nn_model *build(int with_big) {
  nn_model *m = new_model(8, 13);
  nn_graph *g = m->graph;
  int64_t xd[2] = {R, K}, wd[2] = {K, H}, bd[2] = {N, H}, cd[1] = {N}, yd[2] = {R, N},
          bigd[1] = {BIG};
  io(g, "x", 1, 2, xd);
  f32_initializer(g, "W", 2, wd, filled((size_t)K * H, 1, 0.5f));
  f32_initializer(g, "B", 2, bd, filled((size_t)N * H, 2, 0.25f));
  f32_initializer(g, "C", 1, cd, filled(N, 3, 1.0f));
  if (with_big) f32_initializer(g, "big", 1, bigd, filled(BIG, 4, 3.0f));
  const char *mm[] = {"x", "W"}, *gm[] = {"h", "B", "C"};
  node(g, "MatMul", "mm", 2, mm, "h");
  int gi = node(g, "Gemm", "gemm", 3, gm, "y");
  nn_node_add_attr_int(&g->nodes[gi], "transB", 1);
  io(g, "y", 0, 2, yd);
  assert_int_equal(nn_graph_build_maps(g, NULL), NN_OK);
  return m;
}

static void run(const nn_model *m, unsigned flags, const float *x, float *y) {
  nn_session *s = NULL;
  assert_int_equal(nn_session_create_flags(m, NULL, flags, &s), NN_OK);
  assert_int_equal(nn_session_flags(s), flags);
  nn_array in = {NN_FLOAT, 2, {R, K}, (void *)x, (size_t)R * K * sizeof(float)};
  const char *names[1] = {"x"};
  for (int rep = 0; rep < 2; rep++) { /* twice: per-call packing leaves nothing stale */
    assert_int_equal(nn_session_run(s, 1, names, &in), NN_OK);
    const nn_array *o = nn_session_output(s, 0);
    assert_int_equal(o->nbytes, (size_t)R * N * sizeof(float));
    memcpy(y, o->data, o->nbytes);
  }
  nn_session_free(s);
}

static const float *init_data(const nn_model *m, const char *name) {
  int t = nn_graph_find(m->graph, name);
  assert_true(t >= 0);
  return m->graph->tensors[t].data;
}

static void test_no_prepack_matches(void **state) {
  (void)state;
  nn_model *m = build(0);
  float *x = filled((size_t)R * K, 9, 1.0f);
  float packed[R * N], unpacked[R * N];
  run(m, 0, x, packed);
  run(m, NN_SESSION_NO_PREPACK, x, unpacked);
  const float *W = init_data(m, "W"), *B = init_data(m, "B"), *C = init_data(m, "C");
  for (int r = 0; r < R; r++)
    for (int n = 0; n < N; n++) {
      double acc = C[n];
      for (int j = 0; j < H; j++) {
        double h = 0;
        for (int k = 0; k < K; k++) h += (double)x[r * K + k] * W[k * H + j];
        acc += h * B[n * H + j];
      }
      const float a = packed[r * N + n], b = unpacked[r * N + n];
      assert_true(fabs(a - acc) <= 1e-4 * (1 + fabs(acc)));
      assert_true(fabs(b - acc) <= 1e-4 * (1 + fabs(acc)));
      assert_true(fabsf(a - b) <= 1e-5f * (1 + fabsf(a)));
    }
  free(x);
  nn_model_free(m);
}

static void test_file_load_keeps_large_initializers(void **state) {
  (void)state;
  char dir[] = "/tmp/nnopt_calib_mem_XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[64];
  snprintf(path, sizeof path, "%s/m.onnx", dir);
  nn_model *m = build(1);
  assert_int_equal(nn_model_save(m, path, NULL), NN_OK);
  for (int rep = 0; rep < 2; rep++) {
    nn_model *l = NULL;
    assert_int_equal(nn_model_load(path, &l), NN_OK);
    const char *names[] = {"W", "B", "C", "big"};
    for (int k = 0; k < 4; k++) {
      int a = nn_graph_find(m->graph, names[k]), b = nn_graph_find(l->graph, names[k]);
      assert_true(a >= 0 && b >= 0);
      const nn_tensor *ta = &m->graph->tensors[a], *tb = &l->graph->tensors[b];
      assert_int_equal(ta->nbytes, tb->nbytes);
      assert_int_equal(tb->dtype, NN_FLOAT);
      assert_memory_equal(ta->data, tb->data, ta->nbytes);
    }
    /* and it computes what the original does */
    float *x = filled((size_t)R * K, 11, 1.0f);
    float y0[R * N], y1[R * N];
    run(m, 0, x, y0);
    run(l, NN_SESSION_NO_PREPACK, x, y1);
    for (int i = 0; i < R * N; i++) assert_true(fabsf(y0[i] - y1[i]) <= 1e-5f * (1 + fabsf(y0[i])));
    free(x);
    nn_model_free(l);
  }
  nn_model_free(m);
  unlink(path);
  rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_no_prepack_matches),
      cmocka_unit_test(test_file_load_keeps_large_initializers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
