/*
 * test_threadpool.c - the runtime thread pool and the ops it splits. The pool must run
 * every task of a loop exactly once (its claims take several tasks at a time), pass a
 * thread index below the pool size, and survive many back-to-back loops; the ops that
 * split large tensors over threads (QuantizeLinear, DequantizeLinear, GlobalAveragePool)
 * must give bit-identical results at 1, 2 and 3 threads.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/graph.h"
#include "graph_builder.h"
#include "nnopt.h"
#include "runtime/threadpool.h"

typedef struct count_job {
  atomic_int *hits;
  atomic_int bad_thread;
  size_t threads;
} count_job;

static void count_task(void *ctx, size_t thread, size_t task) {
  count_job *j = ctx;
  if (thread >= j->threads) atomic_fetch_add(&j->bad_thread, 1);
  atomic_fetch_add(&j->hits[task], 1);
}

static void test_every_task_once(void **state) {
  (void)state;
  static const size_t counts[] = {0, 1, 2, 3, 7, 8, 9, 31, 100, 1000, 4099, 100003};
  for (int threads = 1; threads <= 3; threads++) {
    nn_threadpool *p = nn_threadpool_create(threads);
    assert_int_equal(nn_threadpool_size(p), threads);
    for (size_t c = 0; c < sizeof counts / sizeof *counts; c++) {
      const size_t n = counts[c];
      atomic_int *hits = calloc(n ? n : 1, sizeof *hits);
      assert_non_null(hits);
      count_job j = {hits, 0, (size_t)threads};
      /* Back-to-back loops reuse the pool while workers may still be spinning. */
      for (int rep = 0; rep < 20; rep++) nn_threadpool_parallelize(p, count_task, &j, n);
      for (size_t t = 0; t < n; t++) assert_int_equal(atomic_load(&hits[t]), 20);
      assert_int_equal(atomic_load(&j.bad_thread), 0);
      free(hits);
    }
    nn_threadpool_destroy(p);
  }
}

/* x [1,C,H,W] -> QuantizeLinear(x, s) -> DequantizeLinear(., s) -> d -> GlobalAveragePool -> y
 * with per-tensor scale s; big enough (C*H*W = 65536) for the ops' parallel paths. */
enum { C = 64, H = 32, W = 32 };

static nn_model *build_qdq_pool(void) {
  nn_model *m = new_model(8, 13);
  nn_graph *g = m->graph;
  const int64_t xd[] = {1, C, H, W}, yd[] = {1, C, 1, 1};
  io(g, "x", 1, 4, xd);
  float *s = malloc(sizeof *s);
  *s = 0.0173f;
  const int64_t no_dims[1] = {0}; /* a scalar (graph_builder memcpy()s the dims) */
  f32_initializer(g, "s", 0, no_dims, s);
  const char *qin[] = {"x", "s"}, *din[] = {"q", "s"}, *pin[] = {"d"};
  node(g, "QuantizeLinear", "quant", 2, qin, "q");
  node(g, "DequantizeLinear", "dequant", 2, din, "d");
  node(g, "GlobalAveragePool", "gap", 1, pin, "y");
  io(g, "d", 0, 4, xd);
  io(g, "y", 0, 4, yd);
  nn_graph_build_maps(g, NULL);
  return m;
}

static void run_qdq_pool(const nn_model *m, int threads, const float *x, float *d, float *y) {
  nn_session_options opt = {.threads = threads, .qdq_as_float = 1};
  nn_session *s = NULL;
  assert_int_equal(nn_session_create(m, &opt, &s), NN_OK);
  nn_array in = {NN_FLOAT, 4, {1, C, H, W}, (void *)x, (size_t)C * H * W * sizeof(float)};
  const char *names[] = {"x"};
  assert_int_equal(nn_session_run(s, 1, names, &in), NN_OK);
  const nn_array *od = nn_session_output(s, 0), *oy = nn_session_output(s, 1);
  assert_int_equal(od->nbytes, (size_t)C * H * W * sizeof(float));
  assert_int_equal(oy->nbytes, (size_t)C * sizeof(float));
  memcpy(d, od->data, od->nbytes);
  memcpy(y, oy->data, oy->nbytes);
  nn_session_free(s);
}

static void test_split_ops_match_one_thread(void **state) {
  (void)state;
  nn_model *m = build_qdq_pool();
  assert_int_equal(nn_model_validate(m, 1), NN_OK);
  const size_t n = (size_t)C * H * W;
  float *x = malloc(n * sizeof *x), *d1 = malloc(n * sizeof *d1), *dt = malloc(n * sizeof *dt);
  float y1[C], yt[C];
  uint32_t r = 2463534242u;
  for (size_t i = 0; i < n; i++) { /* values spanning [0, 255] steps, some saturating */
    r ^= r << 13, r ^= r >> 17, r ^= r << 5;
    x[i] = (float)(r % 6000) * 0.001f - 0.5f;
  }
  run_qdq_pool(m, 1, x, d1, y1);
  /* Sanity against the definition: d = (sat(round(x / s))) * s, y = plane mean of d. */
  for (size_t i = 0; i < n; i += 997) {
    float q = nearbyintf(x[i] / 0.0173f);
    q = q < 0 ? 0 : q > 255 ? 255 : q;
    assert_true(d1[i] == q * 0.0173f);
  }
  double mean0 = 0;
  for (size_t i = 0; i < (size_t)H * W; i++) mean0 += d1[i];
  assert_true(fabs(y1[0] - mean0 / (H * W)) < 1e-5);
  for (int threads = 2; threads <= 3; threads++) {
    run_qdq_pool(m, threads, x, dt, yt);
    assert_memory_equal(d1, dt, n * sizeof *dt);
    assert_memory_equal(y1, yt, sizeof yt);
  }
  free(x);
  free(d1);
  free(dt);
  nn_model_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_task_once),
      cmocka_unit_test(test_split_ops_match_one_thread),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
