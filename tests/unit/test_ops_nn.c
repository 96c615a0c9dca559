/*
 * test_ops_nn.c - reference kernels of the nn family on cases the ONNX node tests
 * miss: GEMM blocking/transposes/strides against a double-precision oracle, the
 * three Conv paths agreeing bit for bit, ConvTranspose against a scatter oracle,
 * pooling windows at the padding edges, Pad's periodic modes and Resize weights.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kernels/ref/conv.h"
#include "kernels/ref/gemm.h"
#include "kernels/ref/pad.h"
#include "kernels/ref/pool.h"
#include "kernels/ref/resize.h"

static uint32_t rng_state = 12345;
static float frand(void) { /* deterministic values in [-1, 1) */
  rng_state = rng_state * 1664525u + 1013904223u;
  return (float)((rng_state >> 8) & 0xffff) / 32768.0f - 1.0f;
}
static float *frand_buf(size_t n) {
  float *p = malloc(n * sizeof *p);
  assert_non_null(p);
  for (size_t i = 0; i < n; i++) p[i] = frand();
  return p;
}

/* ---- GEMM ---- */

static void gemm_case(int64_t M, int64_t N, int64_t K, int ta, int tb, float alpha,
                      float beta) {
  /* leading dims wider than the matrices, to catch stride mix-ups */
  const int64_t lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 2, ldc = N + 5;
  const int64_t arows = ta ? K : M, brows = tb ? N : K;
  float *A = frand_buf((size_t)(arows * lda)), *B = frand_buf((size_t)(brows * ldb));
  float *C = frand_buf((size_t)(M * ldc)), *C0 = malloc((size_t)(M * ldc) * sizeof *C0);
  memcpy(C0, C, (size_t)(M * ldc) * sizeof *C);
  nn_f32_gemm__ref(M, N, K, A, lda, ta, B, ldb, tb, C, ldc, alpha, beta);
  for (int64_t i = 0; i < M; i++)
    for (int64_t j = 0; j < N; j++) {
      double acc = 0, mag = 0;
      for (int64_t k = 0; k < K; k++) {
        double a = ta ? A[k * lda + i] : A[i * lda + k];
        double b = tb ? B[j * ldb + k] : B[k * ldb + j];
        acc += a * b;
        mag += fabs(a * b);
      }
      double want = alpha * acc + (beta != 0 ? beta * C0[i * ldc + j] : 0);
      double tol = 1e-6 * (fabs(alpha) * mag + fabs(beta) + 1);
      if (fabs(C[i * ldc + j] - want) > tol)
        fail_msg("M=%lld N=%lld K=%lld ta=%d tb=%d: C[%lld,%lld] = %g, want %g", (long long)M,
                 (long long)N, (long long)K, ta, tb, (long long)i, (long long)j,
                 (double)C[i * ldc + j], want);
    }
  /* padding columns of C are untouched */
  for (int64_t i = 0; i < M; i++)
    for (int64_t j = N; j < ldc; j++) assert_true(C[i * ldc + j] == C0[i * ldc + j]);
  free(A);
  free(B);
  free(C);
  free(C0);
}

static void test_gemm_sweep(void **state) {
  (void)state;
  static const int64_t sizes[][3] = {{1, 1, 1},  {3, 5, 7},   {17, 1, 33}, {1, 19, 4},
                                     {9, 270, 5}, {4, 7, 300}, {33, 31, 0}};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
    for (int ta = 0; ta < 2; ta++)
      for (int tb = 0; tb < 2; tb++) {
        gemm_case(sizes[s][0], sizes[s][1], sizes[s][2], ta, tb, 1.0f, 0.0f);
        gemm_case(sizes[s][0], sizes[s][1], sizes[s][2], ta, tb, 0.5f, 1.0f);
        gemm_case(sizes[s][0], sizes[s][1], sizes[s][2], ta, tb, -2.0f, 0.25f);
      }
}

/* beta == 0 must not read C: NaN there stays out of the result. */
static void test_gemm_beta0_ignores_c(void **state) {
  (void)state;
  float A[6] = {1, 2, 3, 4, 5, 6}, B[6] = {1, 0, 0, 1, 1, 1}, C[4];
  for (int i = 0; i < 4; i++) C[i] = NAN;
  nn_f32_gemm__ref(2, 2, 3, A, 3, 0, B, 2, 0, C, 2, 1.0f, 0.0f);
  assert_true(C[0] == 4 && C[1] == 5 && C[2] == 10 && C[3] == 11);
}

/* Integer GEMM wraps like unsigned arithmetic instead of overflowing. */
static void test_gemm_int_wraps(void **state) {
  (void)state;
  int32_t A[2] = {INT32_MAX, 2}, B[2] = {2, 1}, C[1] = {0};
  nn_i32_gemm__ref(1, 1, 2, A, 2, 0, B, 1, 0, C, 1, 1, 0);
  assert_int_equal(C[0], (int32_t)((uint32_t)INT32_MAX * 2u + 2u));
}

/* ---- Conv ---- */

static void conv_oracle(const nn_conv_params *p, const float *x, const float *w,
                        const float *b, double *y) {
  const int64_t G = p->group, cg = p->in_ch / G, mg = p->out_ch / G;
  for (int64_t n = 0; n < p->batch; n++)
    for (int64_t m = 0; m < p->out_ch; m++)
      for (int64_t od = 0; od < p->out[0]; od++)
        for (int64_t oh = 0; oh < p->out[1]; oh++)
          for (int64_t ow = 0; ow < p->out[2]; ow++) {
            double acc = b ? b[m] : 0;
            for (int64_t c = 0; c < cg; c++)
              for (int64_t kd = 0; kd < p->kernel[0]; kd++)
                for (int64_t kh = 0; kh < p->kernel[1]; kh++)
                  for (int64_t kw = 0; kw < p->kernel[2]; kw++) {
                    int64_t id = od * p->stride[0] - p->pad_begin[0] + kd * p->dilation[0];
                    int64_t ih = oh * p->stride[1] - p->pad_begin[1] + kh * p->dilation[1];
                    int64_t iw = ow * p->stride[2] - p->pad_begin[2] + kw * p->dilation[2];
                    if (id < 0 || id >= p->in[0] || ih < 0 || ih >= p->in[1] || iw < 0 ||
                        iw >= p->in[2])
                      continue;
                    int64_t ci = (m / mg) * cg + c;
                    acc += (double)x[(((n * p->in_ch + ci) * p->in[0] + id) * p->in[1] + ih) *
                                         p->in[2] + iw] *
                           w[(((m * cg + c) * p->kernel[0] + kd) * p->kernel[1] + kh) *
                                 p->kernel[2] + kw];
                  }
            y[(((n * p->out_ch + m) * p->out[0] + od) * p->out[1] + oh) * p->out[2] + ow] = acc;
          }
}

static nn_conv_params conv_problem(int64_t n, int64_t c, int64_t m, int64_t g, int64_t ih,
                                   int64_t iw, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                                   int64_t dh, int64_t dw, int64_t pt, int64_t pl, int64_t pb,
                                   int64_t pr) {
  nn_conv_params p = {.batch = n, .in_ch = c, .out_ch = m, .group = g};
  p.in[0] = p.out[0] = p.kernel[0] = p.stride[0] = p.dilation[0] = 1;
  p.in[1] = ih;
  p.in[2] = iw;
  p.kernel[1] = kh;
  p.kernel[2] = kw;
  p.stride[1] = sh;
  p.stride[2] = sw;
  p.dilation[1] = dh;
  p.dilation[2] = dw;
  p.pad_begin[1] = pt;
  p.pad_begin[2] = pl;
  p.out[1] = (ih + pt + pb - ((kh - 1) * dh + 1)) / sh + 1;
  p.out[2] = (iw + pl + pr - ((kw - 1) * dw + 1)) / sw + 1;
  return p;
}

static void conv_check(const nn_conv_params *p, int with_bias) {
  const int64_t xs = p->batch * p->in_ch * p->in[0] * p->in[1] * p->in[2];
  const int64_t ws = p->out_ch * (p->in_ch / p->group) * p->kernel[0] * p->kernel[1] *
                     p->kernel[2];
  const int64_t ys = p->batch * p->out_ch * p->out[0] * p->out[1] * p->out[2];
  float *x = frand_buf((size_t)xs), *w = frand_buf((size_t)ws);
  float *b = with_bias ? frand_buf((size_t)p->out_ch) : NULL;
  float *y_direct = malloc((size_t)ys * sizeof(float)), *y_col = malloc((size_t)ys * sizeof(float));
  float *y_chunk = malloc((size_t)ys * sizeof(float));
  double *want = malloc((size_t)ys * sizeof(double));
  size_t se = nn_conv_scratch_elems(p);
  float *scratch = malloc((se ? se : 1) * sizeof(float));
  nn_f32_conv__ref(p, x, w, b, y_direct, NULL, 0);
  nn_f32_conv__ref(p, x, w, b, y_col, scratch, se);
  /* a scratch of just over one column block forces many im2col chunks */
  const int64_t kk = (p->in_ch / p->group) * p->kernel[0] * p->kernel[1] * p->kernel[2];
  nn_f32_conv__ref(p, x, w, b, y_chunk, scratch, se ? (size_t)(kk * 3) : 0);
  conv_oracle(p, x, w, b, want);
  for (int64_t i = 0; i < ys; i++) {
    if (fabs(y_direct[i] - want[i]) > 1e-5 * (1 + fabs(want[i])))
      fail_msg("conv y[%lld] = %g, want %g", (long long)i, (double)y_direct[i], want[i]);
  }
  /* im2col, chunked im2col and direct loops add the same terms in the same order */
  assert_memory_equal(y_direct, y_col, (size_t)ys * sizeof(float));
  assert_memory_equal(y_direct, y_chunk, (size_t)ys * sizeof(float));
  free(x);
  free(w);
  free(b);
  free(y_direct);
  free(y_col);
  free(y_chunk);
  free(want);
  free(scratch);
}

static void test_conv_paths_agree(void **state) {
  (void)state;
  nn_conv_params p;
  p = conv_problem(2, 3, 4, 1, 7, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1); /* same pads */
  conv_check(&p, 1);
  p = conv_problem(1, 4, 6, 2, 9, 8, 3, 2, 2, 3, 2, 1, 0, 2, 1, 0); /* asym pads, dilation */
  conv_check(&p, 0);
  p = conv_problem(1, 5, 5, 5, 10, 11, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1); /* depthwise */
  conv_check(&p, 1);
  p = conv_problem(1, 4, 8, 4, 6, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1); /* channel multiplier 2 */
  conv_check(&p, 1);
  p = conv_problem(2, 6, 4, 1, 5, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0); /* pointwise */
  conv_check(&p, 1);
  p = conv_problem(1, 2, 3, 1, 4, 4, 1, 1, 2, 2, 1, 1, 1, 0, 0, 1); /* 1x1 with stride/pad */
  conv_check(&p, 0);
  p = conv_problem(1, 2, 2, 1, 3, 3, 3, 3, 1, 1, 1, 1, 2, 2, 2, 2); /* pads >= kernel-1 */
  conv_check(&p, 1);
}

static void test_conv_transpose_oracle(void **state) {
  (void)state;
  /* C=4, M=6, group 2, kernel 3x2, stride 2x3, dilation 2x1, pad_begin 1x0 */
  nn_conv_params p = {.batch = 2, .in_ch = 4, .out_ch = 6, .group = 2};
  const int64_t in[3] = {1, 4, 3}, k[3] = {1, 3, 2}, s[3] = {1, 2, 3}, d[3] = {1, 2, 1};
  const int64_t pb[3] = {0, 1, 0}, out[3] = {1, 10, 9}; /* out chosen past the full size */
  for (int i = 0; i < 3; i++) {
    p.in[i] = in[i];
    p.kernel[i] = k[i];
    p.stride[i] = s[i];
    p.dilation[i] = d[i];
    p.pad_begin[i] = pb[i];
    p.out[i] = out[i];
  }
  const int64_t cg = 2, mg = 3, xs = 2 * 4 * 12, ws = 4 * mg * 6, ys = 2 * 6 * 90;
  float *x = frand_buf(xs), *w = frand_buf(ws), *b = frand_buf(6), *y = malloc(ys * sizeof(float));
  double want[2 * 6 * 90];
  for (int64_t n = 0; n < 2; n++)
    for (int64_t m = 0; m < 6; m++)
      for (int64_t i = 0; i < 90; i++) want[(n * 6 + m) * 90 + i] = b[m];
  for (int64_t n = 0; n < 2; n++)
    for (int64_t c = 0; c < 4; c++)
      for (int64_t mm = 0; mm < mg; mm++)
        for (int64_t ih = 0; ih < 4; ih++)
          for (int64_t iw = 0; iw < 3; iw++)
            for (int64_t kh = 0; kh < 3; kh++)
              for (int64_t kw = 0; kw < 2; kw++) {
                int64_t oh = ih * 2 - 1 + kh * 2, ow = iw * 3 + kw;
                if (oh < 0 || oh >= 10 || ow < 0 || ow >= 9) continue;
                int64_t m = (c / cg) * mg + mm;
                want[((n * 6 + m) * 10 + oh) * 9 + ow] +=
                    (double)x[((n * 4 + c) * 4 + ih) * 3 + iw] * w[((c * mg + mm) * 3 + kh) * 2 + kw];
              }
  nn_f32_conv_transpose__ref(&p, x, w, b, y);
  for (int64_t i = 0; i < ys; i++)
    if (fabs(y[i] - want[i]) > 1e-5 * (1 + fabs(want[i])))
      fail_msg("convT y[%lld] = %g, want %g", (long long)i, (double)y[i], want[i]);
  free(x);
  free(w);
  free(b);
  free(y);
}

/* ---- pooling ---- */

static nn_pool_params pool2d(int64_t ih, int64_t iw, int64_t k, int64_t s, int64_t pb,
                             int64_t pe, int64_t oh, int64_t ow) {
  nn_pool_params p = {.planes = 1};
  for (int d = 0; d < 3; d++) p.in[d] = p.out[d] = p.kernel[d] = p.stride[d] = p.dilation[d] = 1;
  p.in[1] = ih;
  p.in[2] = iw;
  p.out[1] = oh;
  p.out[2] = ow;
  p.kernel[1] = p.kernel[2] = k;
  p.stride[1] = p.stride[2] = s;
  p.pad_begin[1] = p.pad_begin[2] = pb;
  p.pad_end[1] = p.pad_end[2] = pe;
  return p;
}

/* 1-D view (H = 1): input 0..4, kernel 3, stride 2, pads 1/0, ceil mode gives 3
 * outputs; the last window covers [3, 6) of which 5 lies past the end padding and
 * so is never counted, even with count_include_pad. */
static void test_avgpool_count_include_pad_edges(void **state) {
  (void)state;
  const float x[5] = {0, 1, 2, 3, 4};
  float y[3];
  nn_pool_params p = pool2d(1, 5, 1, 1, 0, 0, 1, 3);
  p.kernel[2] = 3;
  p.stride[2] = 2;
  p.pad_begin[2] = 1;
  p.pad_end[2] = 0;
  p.count_include_pad = 1;
  nn_f32_avgpool__ref(&p, x, y);
  /* windows [-1,2): (0+1)/3 with the begin pad counted; [1,4): 6/3; [3,6): 7/2 */
  assert_float_equal(y[0], 1.0f / 3, 1e-6);
  assert_float_equal(y[1], 6.0f / 3, 1e-6);
  assert_float_equal(y[2], 7.0f / 2, 1e-6);
  p.count_include_pad = 0;
  nn_f32_avgpool__ref(&p, x, y);
  assert_float_equal(y[0], 0.5f, 1e-6);
  assert_float_equal(y[2], 3.5f, 1e-6);
}

static void test_maxpool_indices_storage_order(void **state) {
  (void)state;
  /* 2 planes of 3x4; 2x2 windows stride 2: argmax positions known by construction */
  float x[24] = {0};
  x[0 * 4 + 1] = 5;      /* plane 0 (h0,w1) */
  x[1 * 4 + 3] = 6;      /* plane 0 (h1,w3) */
  x[12 + 2 * 4 + 0] = 7; /* plane 1 (h2,w0), window row 1 (ceil not used: out 1x2) */
  x[12 + 0 * 4 + 2] = 8; /* plane 1 (h0,w2) */
  nn_pool_params p = pool2d(3, 4, 2, 2, 0, 0, 1, 2);
  p.planes = 2;
  float y[4];
  int64_t idx[4];
  nn_f32_maxpool__ref(&p, x, y, idx);
  assert_true(y[0] == 5 && y[1] == 6 && y[2] == 0 && y[3] == 8);
  assert_int_equal(idx[0], 1);          /* row-major h*W + w */
  assert_int_equal(idx[1], 1 * 4 + 3);
  assert_int_equal(idx[2], 12 + 0);     /* first of equal zeros */
  assert_int_equal(idx[3], 12 + 2);
  p.storage_order = 1;
  nn_f32_maxpool__ref(&p, x, y, idx);
  assert_int_equal(idx[0], 0 + 1 * 3);  /* column-major h + w*H */
  assert_int_equal(idx[1], 1 + 3 * 3);
  assert_int_equal(idx[3], 12 + 0 + 2 * 3);
}

/* ---- pad ---- */

static void test_pad_periodic_modes(void **state) {
  (void)state;
  const int32_t x[3] = {0, 1, 2};
  int32_t y[12], v = -7;
  const int64_t in = 3, out = 12, b5 = 5, b4 = 4;
  nn_x_pad__ref(1, &in, &out, &b5, 4, x, y, NN_PAD_REFLECT, &v);
  const int32_t refl[12] = {1, 0, 1, 2, 1, 0, 1, 2, 1, 0, 1, 2}; /* numpy 'reflect' */
  assert_memory_equal(y, refl, sizeof refl);
  nn_x_pad__ref(1, &in, &out, &b4, 4, x, y, NN_PAD_WRAP, &v);
  const int32_t wrap[12] = {2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1}; /* numpy 'wrap' */
  assert_memory_equal(y, wrap, sizeof wrap);
  const int64_t one = 1, five = 5, two = 2;
  nn_x_pad__ref(1, &one, &five, &two, 4, x, y, NN_PAD_REFLECT, &v);
  for (int i = 0; i < 5; i++) assert_int_equal(y[i], 0); /* size-1 axis repeats */
}

static void test_pad_crop_and_constant(void **state) {
  (void)state;
  /* 2x3 -> crop the first column, add a row on top and two columns at the end */
  const float x[6] = {1, 2, 3, 4, 5, 6};
  const int64_t in[2] = {2, 3}, out[2] = {3, 4}, begin[2] = {1, -1};
  float y[12], v = 9;
  nn_x_pad__ref(2, in, out, begin, sizeof(float), x, y, NN_PAD_CONSTANT, &v);
  const float want[12] = {9, 9, 9, 9, 2, 3, 9, 9, 5, 6, 9, 9};
  assert_memory_equal(y, want, sizeof want);
  nn_x_pad__ref(2, in, out, begin, sizeof(float), x, y, NN_PAD_EDGE, &v);
  const float edge[12] = {2, 3, 3, 3, 2, 3, 3, 3, 5, 6, 6, 6};
  assert_memory_equal(y, edge, sizeof edge);
}

/* ---- resize ---- */

static nn_resize_params resize1d(int64_t in, int64_t out, double scale, nn_resize_mode mode,
                                 nn_resize_coord coord) {
  nn_resize_params p = {.ndim = 1, .mode = mode, .coord = coord, .cubic_a = -0.75};
  p.in[0] = in;
  p.out[0] = out;
  p.scale[0] = scale;
  p.length[0] = scale * (double)in;
  p.roi_start[0] = 0;
  p.roi_end[0] = 1;
  return p;
}

/* Cubic weights sum to 1, with or without exclude_outside: a constant stays
 * constant, including at the borders where taps are clamped or excluded. */
static void test_resize_cubic_partition_of_unity(void **state) {
  (void)state;
  float x[5] = {3, 3, 3, 3, 3}, y[13];
  for (int ex = 0; ex < 2; ex++) {
    nn_resize_params p = resize1d(5, 13, 13.0 / 5, NN_RESIZE_CUBIC, NN_COORD_HALF_PIXEL);
    p.exclude_outside = ex;
    p.cubic_a = -0.5;
    nn_f32_resize__ref(&p, x, y);
    for (int i = 0; i < 13; i++) assert_float_equal(y[i], 3.0f, 1e-5);
  }
}

static void test_resize_linear_and_extrapolation(void **state) {
  (void)state;
  const float x[4] = {0, 10, 20, 30};
  float y[8];
  /* asymmetric x2: x_orig = o / 2, the last sample clamps */
  nn_resize_params p = resize1d(4, 8, 2.0, NN_RESIZE_LINEAR, NN_COORD_ASYMMETRIC);
  nn_f32_resize__ref(&p, x, y);
  const float want[8] = {0, 5, 10, 15, 20, 25, 30, 30};
  for (int i = 0; i < 8; i++) assert_float_equal(y[i], want[i], 1e-5);
  /* tf_crop_and_resize over roi [0.5, 1.5]: positions past the input take the
   * extrapolation value */
  p = resize1d(4, 3, 0.75, NN_RESIZE_LINEAR, NN_COORD_TF_CROP_AND_RESIZE);
  p.length[0] = 3;
  p.roi_start[0] = 0.5;
  p.roi_end[0] = 1.5;
  p.extrapolation = -1;
  nn_f32_resize__ref(&p, x, y);
  assert_float_equal(y[0], 15.0f, 1e-5); /* x_orig = 1.5 */
  assert_float_equal(y[1], 30.0f, 1e-5); /* x_orig = 3.0, the last element */
  assert_float_equal(y[2], -1.0f, 1e-6); /* x_orig = 4.5, outside */
}

static void test_resize_nearest_modes(void **state) {
  (void)state;
  const int8_t x[4] = {0, 1, 2, 3};
  int8_t y[8];
  /* half_pixel x2: x_orig = (o + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25 ... */
  nn_resize_params p = resize1d(4, 8, 2.0, NN_RESIZE_NEAREST, NN_COORD_HALF_PIXEL);
  p.nearest = NN_NEAREST_ROUND_PREFER_FLOOR;
  nn_i8_resize__ref(&p, x, y);
  const int8_t rpf[8] = {0, 0, 1, 1, 2, 2, 3, 3};
  assert_memory_equal(y, rpf, 8);
  p.nearest = NN_NEAREST_CEIL;
  nn_i8_resize__ref(&p, x, y);
  const int8_t ceil_[8] = {0, 1, 1, 2, 2, 3, 3, 3};
  assert_memory_equal(y, ceil_, 8);
  /* asymmetric x0.5 downscale with Upsample's rule: 0 / 0.5 = 0, 1 / 0.5 = 2 */
  p = resize1d(4, 2, 0.5, NN_RESIZE_NEAREST, NN_COORD_ASYMMETRIC);
  p.nearest = NN_NEAREST_SIMPLE;
  nn_i8_resize__ref(&p, x, y);
  assert_int_equal(y[0], 0);
  assert_int_equal(y[1], 2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gemm_sweep),
      cmocka_unit_test(test_gemm_beta0_ignores_c),
      cmocka_unit_test(test_gemm_int_wraps),
      cmocka_unit_test(test_conv_paths_agree),
      cmocka_unit_test(test_conv_transpose_oracle),
      cmocka_unit_test(test_avgpool_count_include_pad_edges),
      cmocka_unit_test(test_maxpool_indices_storage_order),
      cmocka_unit_test(test_pad_periodic_modes),
      cmocka_unit_test(test_pad_crop_and_constant),
      cmocka_unit_test(test_resize_cubic_partition_of_unity),
      cmocka_unit_test(test_resize_linear_and_extrapolation),
      cmocka_unit_test(test_resize_nearest_modes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
