/*
 * test_quant_observer.c - calibration observers and quantization parameters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quant/observer.h"
#include "quant/qparams.h"

/* Deterministic standard normal samples (Box-Muller over a fixed LCG). */
static void gaussian(float *x, int n, uint32_t seed) {
  for (int i = 0; i < n; i += 2) {
    seed = seed * 1664525u + 1013904223u;
    double u1 = ((seed >> 8) + 1.0) / 16777217.0;
    seed = seed * 1664525u + 1013904223u;
    double u2 = (seed >> 8) / 16777216.0;
    double r = sqrt(-2 * log(u1));
    x[i] = (float)(r * cos(2 * M_PI * u2));
    if (i + 1 < n) x[i + 1] = (float)(r * sin(2 * M_PI * u2));
  }
}

static void test_qparams(void **state) {
  (void)state;
  nn_qparams q = nn_qparams_from_range(-1.0f, 3.0f, 8, 0, 0);
  assert_true(fabsf(q.scale - 4.0f / 255) < 1e-7f);
  assert_int_equal(q.zero_point, 64);
  assert_int_equal(nn_quantize_one(0.0f, &q), q.zero_point); /* zero is exact */
  assert_int_equal(nn_quantize_one(100.0f, &q), 255);       /* saturates */
  q = nn_qparams_from_range(-0.5f, 2.0f, 8, 1, 1);
  assert_int_equal(q.zero_point, 0);
  assert_true(fabsf(q.scale - 2.0f / 127) < 1e-7f);
  assert_int_equal(nn_quantize_one(-2.0f, &q), -127);
  /* A range not containing zero is widened to contain it. */
  q = nn_qparams_from_range(1.0f, 2.0f, 8, 0, 0);
  assert_int_equal(q.zero_point, 0);
  /* Round half to even, as ONNX QuantizeLinear. */
  q.scale = 1.0f;
  q.zero_point = 0;
  assert_int_equal(nn_quantize_one(2.5f, &q), 2);
  assert_int_equal(nn_quantize_one(3.5f, &q), 4);
}

static void test_minmax_and_merge(void **state) {
  (void)state;
  enum { N = 20000 };
  float *x = malloc(N * sizeof *x);
  gaussian(x, N, 1);
  x[17] = 9.5f; /* an outlier grows the histogram range */
  nn_observer a, b, c;
  nn_observer_init(&a);
  nn_observer_init(&b);
  nn_observer_init(&c);
  /* Sequential feed in chunks vs. two observers merged: identical histograms. */
  for (int i = 0; i < N; i += 1000) nn_observer_update(&a, x + i, 1000);
  nn_observer_update(&b, x, N / 2);
  nn_observer_update(&c, x + N / 2, N / 2);
  nn_observer_merge(&b, &c);
  assert_true(a.range == b.range);
  assert_memory_equal(a.hist, b.hist, sizeof a.hist);
  assert_int_equal(a.count, N);
  float lo, hi;
  nn_calib_options opt = {NN_CALIB_MINMAX, 0, 8, 0};
  assert_int_equal(nn_observer_range(&a, &opt, &lo, &hi), NN_OK);
  assert_true(hi == 9.5f);
  float mn = x[0];
  for (int i = 0; i < N; i++) mn = fminf(mn, x[i]);
  assert_true(lo == mn);
  /* Histogram counts add up. */
  uint64_t total = 0;
  for (int j = 0; j < NN_OBS_BINS; j++) total += a.hist[j];
  assert_int_equal(total, N);
  free(x);
}

static void test_percentile_ignores_outliers(void **state) {
  (void)state;
  enum { N = 10000 };
  float *x = malloc(N * sizeof *x);
  for (int i = 0; i < N; i++) x[i] = (float)i / N; /* uniform [0, 1) */
  x[5] = 1000.0f;
  nn_observer o;
  nn_observer_init(&o);
  nn_observer_update(&o, x, N);
  float lo, hi;
  nn_calib_options opt = {NN_CALIB_PERCENTILE, 99.9, 8, 0};
  assert_int_equal(nn_observer_range(&o, &opt, &lo, &hi), NN_OK);
  assert_true(lo == 0.0f);
  assert_true(hi > 0.9f && hi < 2.0f); /* bins are 1000/2048 wide around the data */
  free(x);
}

static void test_entropy_and_mse_clip_gaussian(void **state) {
  (void)state;
  enum { N = 200000 };
  float *x = malloc(N * sizeof *x);
  gaussian(x, N, 42);
  x[0] = 40.0f; /* rare outlier: min-max would waste the range on it */
  nn_observer o;
  nn_observer_init(&o);
  nn_observer_update(&o, x, N);
  float lo, hi, mlo, mhi, elo, ehi;
  nn_calib_options mm = {NN_CALIB_MINMAX, 0, 8, 1};
  nn_observer_range(&o, &mm, &lo, &hi);
  assert_true(hi == 40.0f);
  nn_calib_options en = {NN_CALIB_ENTROPY, 0, 8, 1};
  assert_int_equal(nn_observer_range(&o, &en, &elo, &ehi), NN_OK);
  assert_true(ehi > 2.0f && ehi < 10.0f);
  assert_true(elo == -ehi);
  nn_calib_options ms = {NN_CALIB_MSE, 0, 8, 1};
  assert_int_equal(nn_observer_range(&o, &ms, &mlo, &mhi), NN_OK);
  assert_true(mhi < 40.0f);
  /* Measured on the data itself, MSE-chosen clipping beats min-max. */
  nn_qparams qa = nn_qparams_from_range(lo, hi, 8, 1, 1), qb = nn_qparams_from_range(mlo, mhi, 8, 1, 1);
  double ea = 0, eb = 0;
  for (int i = 0; i < N; i++) {
    double da = nn_dequantize_one(nn_quantize_one(x[i], &qa), &qa) - x[i];
    double db = nn_dequantize_one(nn_quantize_one(x[i], &qb), &qb) - x[i];
    ea += da * da;
    eb += db * db;
  }
  assert_true(eb < ea);
  free(x);
}

static void test_degenerate(void **state) {
  (void)state;
  nn_observer o;
  nn_observer_init(&o);
  float lo, hi;
  assert_int_equal(nn_observer_range(&o, NULL, &lo, &hi), NN_ERR_INVALID);
  float z[4] = {0, 0, 0, 0};
  nn_observer_update(&o, z, 4);
  assert_int_equal(nn_observer_range(&o, NULL, &lo, &hi), NN_OK);
  assert_true(lo == 0 && hi == 0);
  float v[3] = {NAN, 2.0f, INFINITY};
  nn_observer_update(&o, v, 3);
  assert_int_equal(o.nan_count, 1);
  assert_int_equal(nn_calib_method_parse("entropy"), NN_CALIB_ENTROPY);
  assert_int_equal(nn_calib_method_parse("bogus"), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_qparams),
      cmocka_unit_test(test_minmax_and_merge),
      cmocka_unit_test(test_percentile_ignores_outliers),
      cmocka_unit_test(test_entropy_and_mse_clip_gaussian),
      cmocka_unit_test(test_degenerate),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
