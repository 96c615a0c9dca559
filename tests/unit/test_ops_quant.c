/*
 * test_ops_quant.c - the quantization reference kernels on cases the ONNX node tests
 * miss: exact ties of round half to even, saturation and NaN, per-column requantization
 * scales, every signedness pair of the 8-bit GEMM with per-row / per-column zero points
 * over odd sizes (against a plain int64 triple loop), and im2col with padding, strides
 * and dilations (against a direct convolution).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ref/qgemm.h"
#include "kernels/ref/requant.h"

static void test_round_half_even(void **state) {
  (void)state;
  const float in[] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 0.49999997f, 2.5000002f,
                      -3.7f, 8388609.0f};
  const float want[] = {0.0f, 2.0f, 2.0f, -0.0f, -2.0f, -2.0f, 0.0f, 3.0f, -4.0f, 8388609.0f};
  for (size_t i = 0; i < sizeof in / sizeof in[0]; i++)
    assert_true(nn_round_half_even_f32(in[i]) == want[i]);
}

static void test_quantize_saturates(void **state) {
  (void)state;
  const float x[] = {-1000.0f, 1000.0f, 1.0f, 3.0f, NAN, INFINITY, -INFINITY, 0.25f};
  uint8_t u[8];
  int8_t s[8];
  nn_f32_qu8_quantize__ref(8, x, 2.0f, 128, u);
  /* 1/2 = 0.5 -> 0 (tie to even), 3/2 = 1.5 -> 2; NaN -> zero point. */
  const uint8_t wu[] = {0, 255, 128, 130, 128, 255, 0, 128};
  assert_memory_equal(u, wu, sizeof wu);
  nn_f32_qs8_quantize__ref(8, x, 2.0f, -1, s);
  const int8_t ws[] = {-128, 127, -1, 1, -1, 127, -128, -1};
  assert_memory_equal(s, ws, sizeof ws);
}

static void test_dequantize(void **state) {
  (void)state;
  const uint8_t u[] = {0, 128, 255};
  const int8_t s[] = {-128, 0, 127};
  const int32_t w[] = {-5, 0, 7};
  float y[3];
  nn_qu8_f32_dequantize__ref(3, u, 0.5f, 128, y);
  assert_true(y[0] == -64.0f && y[1] == 0.0f && y[2] == 63.5f);
  nn_qs8_f32_dequantize__ref(3, s, 0.25f, -128, y);
  assert_true(y[0] == 0.0f && y[1] == 32.0f && y[2] == 63.75f);
  nn_qs32_f32_dequantize__ref(3, w, 2.0f, 0, y);
  assert_true(y[0] == -10.0f && y[1] == 0.0f && y[2] == 14.0f);
}

static void test_requantize_per_column(void **state) {
  (void)state;
  const int32_t acc[] = {5, 7, -3, 100000, -100000, 1};
  const float scale[] = {0.5f, 0.5f, 0.5f, 1.0f, 1.0f, 0.25f};
  uint8_t u[6];
  int8_t s[6];
  nn_qu8_requantize__ref(6, acc, scale, 1, 10, u);
  /* 2.5 -> 2, 3.5 -> 4, -1.5 -> -2, saturate, saturate, 0.25 -> 0 */
  const uint8_t wu[] = {12, 14, 8, 255, 0, 10};
  assert_memory_equal(u, wu, sizeof wu);
  const float one = 0.5f;
  nn_qs8_requantize__ref(6, acc, &one, 0, 0, s);
  const int8_t ws[] = {2, 4, -2, 127, -128, 0};
  assert_memory_equal(s, ws, sizeof ws);
}

/* ---- integer GEMM against an int64 triple loop ---- */

static uint32_t g_rng = 12345;
static uint32_t rnd(void) {
  g_rng = g_rng * 1664525u + 1013904223u;
  return g_rng >> 8;
}

static void check_gemm(int as, int bs, size_t m, size_t n, size_t k, size_t azi, size_t bzi) {
  size_t lda = k + 3, ldb = n + 1, ldc = n + 2;
  uint8_t *a = malloc(m * lda), *b = malloc(k * ldb), az[64], bz[64];
  int32_t *c = malloc(m * ldc * sizeof *c);
  assert_non_null(a);
  assert_non_null(b);
  assert_non_null(c);
  for (size_t i = 0; i < m * lda; i++) a[i] = (uint8_t)rnd();
  for (size_t i = 0; i < k * ldb; i++) b[i] = (uint8_t)rnd();
  for (size_t i = 0; i < 64; i++) az[i] = (uint8_t)rnd(), bz[i] = (uint8_t)rnd();
  for (size_t i = 0; i < m * ldc; i++) c[i] = 0x5a5a5a5a; /* overwritten, not accumulated */
  nn_x8_gemm__ref(as, bs, m, n, k, a, lda, az, azi, b, ldb, bz, bzi, c, ldc);
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < n; j++) {
      int64_t sum = 0;
      for (size_t p = 0; p < k; p++) {
        int64_t av = as ? (int8_t)a[i * lda + p] : a[i * lda + p];
        int64_t bv = bs ? (int8_t)b[p * ldb + j] : b[p * ldb + j];
        int64_t za = as ? (int8_t)az[i * azi] : az[i * azi];
        int64_t zb = bs ? (int8_t)bz[j * bzi] : bz[j * bzi];
        sum += (av - za) * (bv - zb);
      }
      assert_int_equal(c[i * ldc + j], sum);
    }
  free(a);
  free(b);
  free(c);
}

static void test_qgemm_all_signedness(void **state) {
  (void)state;
  const size_t sizes[][3] = {{1, 1, 1}, {3, 5, 7}, {17, 9, 33}, {4, 31, 2}, {13, 1, 64}};
  for (int as = 0; as < 2; as++)
    for (int bs = 0; bs < 2; bs++)
      for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++)
        for (size_t zi = 0; zi < 4; zi++)
          check_gemm(as, bs, sizes[t][0], sizes[t][1], sizes[t][2], zi & 1, zi >> 1);
}

static void test_qgemm_extremes(void **state) {
  (void)state;
  /* All operands at the far ends: (0 - 255) * (255 - 0) summed k times. */
  enum { K = 1000 };
  static uint8_t a[K], b[K];
  memset(a, 0, sizeof a);
  memset(b, 255, sizeof b);
  const uint8_t az = 255, bz = 0;
  int32_t c;
  nn_qu8_gemm__ref(1, 1, K, a, K, &az, 0, b, 1, &bz, 0, &c, 1);
  assert_int_equal(c, -255 * 255 * K);
  const int8_t sa[2] = {-128, 127}, sb[2] = {-128, -128}, sz = 0;
  int32_t cs;
  nn_qs8_gemm__ref(1, 1, 2, sa, 2, &sz, 0, sb, 1, &sz, 0, &cs, 1);
  assert_int_equal(cs, 128 * 128 - 127 * 128);
}

/* ---- im2col + GEMM against a direct convolution ---- */

static void test_im2col_conv2d(void **state) {
  (void)state;
  enum { C = 3, IH = 7, IW = 6, M = 2, KH = 3, KW = 2 };
  nn_conv_geom g = {.rank = 2, .channels = C};
  g.in[0] = IH, g.in[1] = IW;
  g.kernel[0] = KH, g.kernel[1] = KW;
  g.stride[0] = 2, g.stride[1] = 1;
  g.dilation[0] = 1, g.dilation[1] = 2;
  g.pad_begin[0] = 1, g.pad_begin[1] = 2;
  const int64_t pad_end[2] = {2, 0};
  for (int d = 0; d < 2; d++)
    g.out[d] = (g.in[d] + g.pad_begin[d] + pad_end[d] - (g.kernel[d] - 1) * g.dilation[d] - 1) /
                   g.stride[d] + 1;
  const int64_t OH = g.out[0], OW = g.out[1], P = OH * OW, K = C * KH * KW;
  uint8_t x[C * IH * IW], w[M * C * KH * KW];
  for (size_t i = 0; i < sizeof x; i++) x[i] = (uint8_t)rnd();
  for (size_t i = 0; i < sizeof w; i++) w[i] = (uint8_t)rnd();
  const uint8_t xz = 7, wz[M] = {100, 3};
  uint8_t *col = malloc((size_t)(K * P));
  int32_t *y = malloc((size_t)(M * P) * sizeof *y);
  assert_non_null(col);
  assert_non_null(y);
  nn_x8_im2col__ref(&g, x, xz, col);
  nn_qu8_gemm__ref(M, (size_t)P, (size_t)K, w, (size_t)K, wz, 1, col, (size_t)P, &xz, 0, y,
                   (size_t)P);
  for (int m = 0; m < M; m++)
    for (int64_t oh = 0; oh < OH; oh++)
      for (int64_t ow = 0; ow < OW; ow++) {
        int64_t sum = 0;
        for (int c = 0; c < C; c++)
          for (int kh = 0; kh < KH; kh++)
            for (int kw = 0; kw < KW; kw++) {
              int64_t ih = oh * 2 - 1 + kh, iw = ow - 2 + kw * 2;
              if (ih < 0 || ih >= IH || iw < 0 || iw >= IW) continue; /* pad = zero point */
              int64_t xv = x[(c * IH + ih) * IW + iw] - xz;
              int64_t wv = w[((m * C + c) * KH + kh) * KW + kw] - wz[m];
              sum += xv * wv;
            }
        assert_int_equal(y[m * P + oh * OW + ow], sum);
      }
  free(col);
  free(y);
}

static void test_im2col_conv1d_all_padding(void **state) {
  (void)state;
  /* A kernel position that only ever sees padding yields a row of zero points. */
  nn_conv_geom g = {.rank = 1, .channels = 1};
  g.in[0] = 2, g.kernel[0] = 3, g.stride[0] = 3, g.dilation[0] = 2, g.pad_begin[0] = 2;
  g.out[0] = 2; /* pad_end 4: (2 + 2 + 4 - 5) / 3 + 1 */
  const uint8_t x[2] = {10, 20};
  uint8_t col[6];
  nn_x8_im2col__ref(&g, x, 99, col);
  /* row k, column o reads input o*3 - 2 + k*2: k=0 -> {-2, 1}, k=1 -> {0, 3},
   * k=2 -> {2, 5}: the last row lies entirely in the padding */
  const uint8_t want[6] = {99, 20, 10, 99, 99, 99};
  assert_memory_equal(col, want, sizeof want);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_half_even),
      cmocka_unit_test(test_quantize_saturates),
      cmocka_unit_test(test_dequantize),
      cmocka_unit_test(test_requantize_per_column),
      cmocka_unit_test(test_qgemm_all_signedness),
      cmocka_unit_test(test_qgemm_extremes),
      cmocka_unit_test(test_im2col_conv2d),
      cmocka_unit_test(test_im2col_conv1d_all_padding),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
