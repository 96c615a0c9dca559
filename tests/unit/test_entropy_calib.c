/*
 * test_entropy_calib.c - the entropy (KL) range chooser on synthetic distributions
 * whose right answer is known: far outliers are clipped but a Gaussian keeps >= 3
 * sigma, a uniform distribution keeps ~ its maximum, and the exact zeros of a
 * post-ReLU tensor do not drag the threshold down.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>

#include "quant/observer.h"

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

enum { N = 400000 };

static float entropy_hi(const float *x, int n, int symmetric, float *lo) {
  nn_observer *o = malloc(sizeof *o);
  nn_observer_init(o);
  for (int i = 0; i < n; i += 5000) nn_observer_update(o, x + i, n - i < 5000 ? n - i : 5000);
  nn_calib_options en = {NN_CALIB_ENTROPY, 0, 8, symmetric};
  float l = 0, h = 0;
  assert_int_equal(nn_observer_range(o, &en, &l, &h), NN_OK);
  free(o);
  if (lo) *lo = l;
  return h;
}

static void test_gaussian_with_far_outliers(void **state) {
  (void)state;
  float *x = malloc(N * sizeof *x);
  gaussian(x, N, 7);
  for (int i = 0; i < 8; i++) x[i * 1000] = i % 2 ? 60.0f : -60.0f;
  float lo, hi = entropy_hi(x, N, 1, &lo);
  assert_true(hi >= 3.0f);  /* keeps at least 3 sigma */
  assert_true(hi < 15.0f);  /* but not the outliers at 60 */
  assert_true(lo == -hi);
  free(x);
}

static void test_uniform_keeps_max(void **state) {
  (void)state;
  float *x = malloc(N * sizeof *x);
  uint32_t s = 3;
  for (int i = 0; i < N; i++) {
    s = s * 1664525u + 1013904223u;
    x[i] = 3.0f * (float)((s >> 8) / 16777216.0); /* uniform [0, 3) */
  }
  float hi = entropy_hi(x, N, 0, NULL);
  assert_true(hi >= 0.95f * 3.0f && hi <= 3.0f + 1e-3f);
  /* Symmetric uniform, int8: the same. */
  for (int i = 0; i < N; i++) x[i] = 2 * x[i] - 3.0f;
  hi = entropy_hi(x, N, 1, NULL);
  assert_true(hi >= 0.95f * 3.0f && hi <= 3.0f + 1e-2f);
  free(x);
}

/* ReLU(N(0,1)): half the values are exactly 0. Counted in the KL reference their
 * spike made the search stop where bin 0 still had a level to itself (t ~ 2 x levels
 * bins, here 2.0), clipping 2.3% of the positive values. */
static void test_post_relu_zeros_do_not_clip(void **state) {
  (void)state;
  float *x = malloc(N * sizeof *x);
  gaussian(x, N, 11);
  int zeros = 0;
  for (int i = 0; i < N; i++)
    if (x[i] <= 0) x[i] = 0, zeros++;
  assert_true(zeros > N / 3);
  float lo, hi = entropy_hi(x, N, 0, &lo);
  assert_true(lo == 0.0f);
  assert_true(hi >= 3.0f);
  /* The same data as int8 symmetric: the |x| search keeps >= 3 sigma as well. */
  hi = entropy_hi(x, N, 1, NULL);
  assert_true(hi >= 3.0f);
  free(x);
}

/* Asymmetric signed data (uint8 grid over [min, t]): a long positive tail is clipped,
 * the negative side keeps its minimum, and a Gaussian positive side keeps >= 3 sigma. */
static void test_signed_asymmetric(void **state) {
  (void)state;
  float *x = malloc(N * sizeof *x);
  gaussian(x, N, 5);
  for (int i = 0; i < N; i++)
    if (x[i] < -1.0f) x[i] = -1.0f; /* like a normalized image's background */
  for (int i = 0; i < 4; i++) x[i * 777] = 50.0f;
  float lo, hi = entropy_hi(x, N, 0, &lo);
  assert_true(lo == -1.0f);
  assert_true(hi >= 3.0f && hi < 15.0f);
  free(x);
}

/* Zero counts survive merging, so merged observers choose what one observer does. */
static void test_zero_count_merges(void **state) {
  (void)state;
  float *x = malloc(N * sizeof *x);
  gaussian(x, N, 13);
  for (int i = 0; i < N; i++)
    if (x[i] < 0) x[i] = 0;
  nn_observer *a = malloc(sizeof *a), *b = malloc(sizeof *b), *c = malloc(sizeof *c);
  nn_observer_init(a);
  nn_observer_init(b);
  nn_observer_init(c);
  nn_observer_update(a, x, N);
  nn_observer_update(b, x, N / 2);
  nn_observer_update(c, x + N / 2, N - N / 2);
  nn_observer_merge(b, c);
  assert_int_equal(a->zeros, b->zeros);
  nn_calib_options en = {NN_CALIB_ENTROPY, 0, 8, 0};
  float l1, h1, l2, h2;
  assert_int_equal(nn_observer_range(a, &en, &l1, &h1), NN_OK);
  assert_int_equal(nn_observer_range(b, &en, &l2, &h2), NN_OK);
  assert_true(h1 == h2 && l1 == l2);
  free(a);
  free(b);
  free(c);
  free(x);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gaussian_with_far_outliers),
      cmocka_unit_test(test_uniform_keeps_max),
      cmocka_unit_test(test_post_relu_zeros_do_not_clip),
      cmocka_unit_test(test_signed_asymmetric),
      cmocka_unit_test(test_zero_count_merges),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
