/*
 * bench.c - latency of repeated session runs: warm-up, then each run timed alone;
 * median, p90, mean and minimum.
 */
#include <stdlib.h>
#include <time.h>

#include "core/status.h"
#include "nnopt.h"

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

nn_status nn_session_benchmark(nn_session *s, int n, const char *const *names,
                               const nn_array *inputs, int warmup, int runs,
                               nn_bench_result *out) {
  if (runs < 1) runs = 1;
  double *t = malloc((size_t)runs * sizeof *t);
  if (!t) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  nn_status st = NN_OK;
  for (int i = 0; i < warmup && !st; i++) st = nn_session_run(s, n, names, inputs);
  for (int i = 0; i < runs && !st; i++) {
    double t0 = now_ms();
    st = nn_session_run(s, n, names, inputs);
    t[i] = now_ms() - t0;
  }
  if (!st) {
    double sum = 0;
    for (int i = 0; i < runs; i++) sum += t[i];
    qsort(t, (size_t)runs, sizeof *t, cmp_double);
    out->runs = runs;
    out->median_ms = runs % 2 ? t[runs / 2] : (t[runs / 2 - 1] + t[runs / 2]) / 2;
    out->p90_ms = t[(int)((runs - 1) * 0.9 + 0.5)];
    out->mean_ms = sum / runs;
    out->min_ms = t[0];
  }
  free(t);
  return st;
}
