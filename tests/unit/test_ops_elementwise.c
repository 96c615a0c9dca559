/*
 * test_ops_elementwise.c - reference kernels of the elementwise family on cases the
 * ONNX node tests miss: broadcast collapsing and its strided fallback against a naive
 * loop, integer corner cases that must not trap, NaN rules, rounding of casts, chunk
 * boundaries of reductions/softmax, and string formatting; then the ops themselves on
 * one-node models for opset and domain variants the node tests do not exercise.
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

#include "core/dtype.h"
#include "core/graph.h"
#include "kernels/ref/elementwise.h"
#include "kernels/ref/elementwise_cast.h"
#include "kernels/ref/elementwise_unary.h"
#include "kernels/ref/layernorm.h"
#include "kernels/ref/reduce.h"
#include "kernels/ref/softmax.h"

/* ---- helpers ---- */

static int64_t numel(int nd, const int64_t *d) {
  int64_t n = 1;
  for (int i = 0; i < nd; i++) n *= d[i];
  return n;
}

/* Offset into a right-aligned, broadcast input of the output index flat. */
static int64_t bcast_offset(int64_t flat, int on, const int64_t *od, int in,
                            const int64_t *id) {
  int64_t off = 0, stride = 1;
  for (int k = on - 1; k >= 0; k--) {
    int64_t i = flat % od[k];
    flat /= od[k];
    int j = k - (on - in);
    if (j < 0) continue;
    if (id[j] != 1) off += i * stride;
    stride *= id[j];
  }
  return off;
}

/* Run float Add through the plan and compare with the naive index arithmetic. */
static void check_add(int an, const int64_t *ad, int bn, const int64_t *bd, int on,
                      const int64_t *od) {
  int64_t na = numel(an, ad), nb = numel(bn, bd), no = numel(on, od);
  float *a = malloc((size_t)na * 4), *b = malloc((size_t)nb * 4),
        *y = malloc((size_t)no * 4);
  for (int64_t i = 0; i < na; i++) a[i] = (float)(i % 97) * 0.5f;
  for (int64_t i = 0; i < nb; i++) b[i] = (float)(i % 13) * 100.0f;
  nn_bcast p;
  const int nd[2] = {an, bn};
  const int64_t *dims[2] = {ad, bd};
  nn_bcast_init(&p, 2, nd, dims, on, od);
  assert_int_equal(p.numel, no);
  nn_binary__ref(&p, nn_binary_lookup__ref(NN_BIN_ADD, NN_FLOAT), a, 4, b, 4, y, 4, NULL);
  for (int64_t i = 0; i < no; i++) {
    float want = a[bcast_offset(i, on, od, an, ad)] + b[bcast_offset(i, on, od, bn, bd)];
    assert_true(y[i] == want);
  }
  free(a);
  free(b);
  free(y);
}

/* ---- broadcasting ---- */

static void test_bcast_collapse(void **state) {
  (void)state;
  nn_bcast p;
  /* same shape: one contiguous axis */
  const int64_t s[4] = {2, 3, 4, 5};
  const int nd2[2] = {4, 4};
  const int64_t *same[2] = {s, s};
  nn_bcast_init(&p, 2, nd2, same, 4, s);
  assert_int_equal(p.ndim, 1);
  assert_int_equal(p.dims[0], 120);
  assert_int_equal(p.strides[0][0], 1);
  assert_int_equal(p.strides[1][0], 1);
  /* NCHW + [C,1,1]: [N, C, HW] with the channel input still on the inner run */
  const int64_t c[3] = {3, 1, 1};
  const int ndc[2] = {4, 3};
  const int64_t *pc[2] = {s, c};
  nn_bcast_init(&p, 2, ndc, pc, 4, s);
  assert_int_equal(p.ndim, 3);
  assert_int_equal(p.dims[2], 20);
  assert_int_equal(p.strides[1][2], 0);
  assert_int_equal(p.strides[1][1], 1);
  assert_int_equal(p.strides[1][0], 0);
  /* tensor + scalar: one axis, scalar stride 0 */
  const int nds[2] = {4, 0};
  const int64_t *ps[2] = {s, NULL};
  nn_bcast_init(&p, 2, nds, ps, 4, s);
  assert_int_equal(p.ndim, 1);
  assert_int_equal(p.strides[1][0], 0);
}

static void test_bcast_add_cases(void **state) {
  (void)state;
  const int64_t x[4] = {2, 3, 4, 5}, ch[3] = {3, 1, 1}, last[1] = {5};
  check_add(4, x, 4, x, 4, x);
  check_add(4, x, 3, ch, 4, x);
  check_add(3, ch, 4, x, 4, x); /* broadcast on the left operand */
  check_add(4, x, 1, last, 4, x);
  /* both sides broadcast in different axes: [2,1,3] + [1,4,1] -> [2,4,3] */
  const int64_t a[3] = {2, 1, 3}, b[3] = {1, 4, 1}, o[3] = {2, 4, 3};
  check_add(3, a, 3, b, 3, o);
  /* attention-mask style: [2,3,4,4] + [2,1,1,4] */
  const int64_t s[4] = {2, 3, 4, 4}, m[4] = {2, 1, 1, 4};
  check_add(4, s, 4, m, 4, s);
  /* rank-0 with rank-0 */
  check_add(0, NULL, 0, NULL, 0, NULL);
  /* empty output */
  const int64_t e[2] = {0, 3}, r[1] = {3};
  check_add(2, e, 1, r, 2, e);
}

static void test_where_bcast(void **state) {
  (void)state;
  const int64_t cd[2] = {2, 1}, xd[1] = {3}, yd[2] = {1, 3}, od[2] = {2, 3};
  uint8_t c[2] = {1, 0};
  int64_t x[3] = {1, 2, 3}, y[3] = {-1, -2, -3}, o[6];
  nn_bcast p;
  const int nd[3] = {2, 1, 2};
  const int64_t *dims[3] = {cd, xd, yd};
  nn_bcast_init(&p, 3, nd, dims, 2, od);
  nn_where__ref(&p, c, x, y, o, 8);
  const int64_t want[6] = {1, 2, 3, -1, -2, -3};
  assert_memory_equal(o, want, sizeof want);
}

/* ---- integer and NaN corner cases ---- */

static void run_bin(nn_binop op, nn_dtype dt, const void *a, const void *b, void *y,
                    int64_t n) {
  nn_binary_lookup__ref(op, dt)(n, a, 1, b, 1, y, NULL);
}

static void test_int_div_mod(void **state) {
  (void)state;
  int32_t a[6] = {7, -7, 7, -7, INT32_MIN, 5}, b[6] = {2, 2, -2, -2, -1, 0}, y[6];
  run_bin(NN_BIN_DIV, NN_INT32, a, b, y, 6);
  const int32_t div[6] = {3, -3, -3, 3, INT32_MIN, 0}; /* truncation; no trap */
  assert_memory_equal(y, div, sizeof div);
  run_bin(NN_BIN_MOD, NN_INT32, a, b, y, 6);
  const int32_t mod[6] = {1, 1, -1, -1, 0, 0}; /* sign of the divisor */
  assert_memory_equal(y, mod, sizeof mod);
  run_bin(NN_BIN_FMOD, NN_INT32, a, b, y, 6);
  const int32_t fmd[6] = {1, -1, 1, -1, 0, 0}; /* sign of the dividend */
  assert_memory_equal(y, fmd, sizeof fmd);
  int8_t c[2] = {100, -128}, d[2] = {100, 1}, z[2];
  run_bin(NN_BIN_ADD, NN_INT8, c, d, z, 2);
  assert_int_equal(z[0], -56); /* wraps */
  run_bin(NN_BIN_SUB, NN_INT8, c + 1, d + 1, z, 1);
  assert_int_equal(z[0], 127);
}

static void test_int_pow_shift(void **state) {
  (void)state;
  int64_t a[4] = {3, 2, -2, 5}, b[4] = {39, -1, 3, 0}, y[4];
  run_bin(NN_BIN_POW, NN_INT64, a, b, y, 4);
  assert_true(y[0] == 4052555153018976267LL); /* exact, beyond double's 2^53 */
  assert_int_equal(y[1], 0);
  assert_int_equal(y[2], -8);
  assert_int_equal(y[3], 1);
  uint8_t s[3] = {1, 255, 16}, k[3] = {7, 8, 2}, z[3];
  run_bin(NN_BIN_SHL, NN_UINT8, s, k, z, 3);
  assert_int_equal(z[0], 128);
  assert_int_equal(z[1], 0); /* shift by the full width */
  assert_int_equal(z[2], 64);
  /* mixed pow: int32 base, float exponent */
  int32_t base[2] = {2, 3};
  float ex[2] = {10.0f, 0.5f};
  int32_t out[2];
  nn_pow_types t = {NN_INT32, NN_FLOAT, NN_INT32};
  nn_any_pow__ref(2, base, 1, ex, 1, out, &t);
  assert_int_equal(out[0], 1024);
  assert_int_equal(out[1], 1); /* sqrt(3) truncated */
}

static void test_nan_rules(void **state) {
  (void)state;
  float a[3] = {NAN, 1.0f, 2.0f}, b[3] = {1.0f, NAN, 1.0f}, y[3];
  run_bin(NN_BIN_MAX, NN_FLOAT, a, b, y, 3);
  assert_true(isnan(y[0]) && isnan(y[1]) && y[2] == 2.0f);
  run_bin(NN_BIN_MIN, NN_FLOAT, a, b, y, 3);
  assert_true(isnan(y[0]) && isnan(y[1]) && y[2] == 1.0f);
  float m[2] = {-5.5f, 5.5f}, d[2] = {2.0f, -2.0f};
  run_bin(NN_BIN_MOD, NN_FLOAT, m, d, y, 2);
  assert_true(y[0] == 0.5f && y[1] == -0.5f);
}

/* ---- unary ---- */

static void test_round_clip(void **state) {
  (void)state;
  float x[6] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 2.6f}, y[6];
  nn_unary_params p = {0};
  nn_unary_lookup__ref(NN_UN_ROUND, NN_FLOAT)(6, x, y, &p);
  const float want[6] = {0.0f, 2.0f, 2.0f, -0.0f, -2.0f, 3.0f};
  for (int i = 0; i < 6; i++) assert_true(y[i] == want[i]);
  /* min > max: everything becomes max; NaN passes through */
  float c[3] = {-10.0f, 0.0f, NAN};
  p.lo = 2.0;
  p.hi = 1.0;
  nn_unary_lookup__ref(NN_UN_CLIP, NN_FLOAT)(3, c, y, &p);
  assert_true(y[0] == 1.0f && y[1] == 1.0f && isnan(y[2]));
  uint64_t u[2] = {UINT64_MAX, 3};
  uint64_t uy[2];
  p.ilo = 5;
  p.ihi = -1; /* unsigned maximum */
  nn_unary_lookup__ref(NN_UN_CLIP, NN_UINT64)(2, u, uy, &p);
  assert_true(uy[0] == UINT64_MAX && uy[1] == 5);
  int8_t i8[2] = {-128, 5}, o8[2];
  nn_unary_lookup__ref(NN_UN_ABS, NN_INT8)(2, i8, o8, &p);
  assert_int_equal(o8[0], -128); /* wraps like two's complement, no UB */
  assert_int_equal(o8[1], 5);
}

static void test_activations_extremes(void **state) {
  (void)state;
  float x[4] = {-100.0f, 100.0f, 0.0f, -1e-8f}, y[4];
  nn_unary_params p = {0};
  nn_unary_lookup__ref(NN_UN_SIGMOID, NN_FLOAT)(4, x, y, &p);
  assert_true(y[0] >= 0.0f && y[0] < 1e-40f && y[1] == 1.0f && y[2] == 0.5f);
  nn_unary_lookup__ref(NN_UN_SOFTPLUS, NN_FLOAT)(4, x, y, &p);
  assert_true(y[1] == 100.0f && !isinf(y[1])); /* no exp overflow */
  assert_true(fabsf(y[2] - logf(2.0f)) < 1e-7f);
  /* float16 runs the float loop chunk-wise: 600 elements cross two chunk edges */
  uint16_t h[600], hy[600];
  for (int i = 0; i < 600; i++) h[i] = nn_f32_to_f16((float)(i - 300) / 100.0f);
  nn_unary_lookup__ref(NN_UN_TANH, NN_FLOAT16)(600, h, hy, &p);
  for (int i = 0; i < 600; i++)
    assert_int_equal(hy[i], nn_f32_to_f16(tanhf(nn_f16_to_f32(h[i]))));
}

/* ---- cast ---- */

static void test_cast_rounding(void **state) {
  (void)state;
  /* 1 + 2^-11 + 2^-40 is above the midpoint of 1 and the next half: via float it
   * would first land on the midpoint and then tie to even (1.0). */
  double d = 1.0 + ldexp(1.0, -11) + ldexp(1.0, -40);
  assert_int_equal(nn_f64_to_f16__ref(d), 0x3c01);
  uint16_t h;
  assert_int_equal(nn_cast__ref(1, &d, NN_DOUBLE, &h, NN_FLOAT16), 0);
  assert_int_equal(h, 0x3c01);
  float f[5] = {3.9f, -3.9f, 1e20f, NAN, -1e20f};
  int32_t i[5];
  nn_cast__ref(5, f, NN_FLOAT, i, NN_INT32);
  assert_int_equal(i[0], 3);
  assert_int_equal(i[1], -3);
  assert_int_equal(i[2], INT32_MAX);
  assert_int_equal(i[3], 0);
  assert_int_equal(i[4], INT32_MIN);
  int64_t big = 300;
  uint8_t u;
  nn_cast__ref(1, &big, NN_INT64, &u, NN_UINT8);
  assert_int_equal(u, 44); /* integer -> integer wraps like C */
  float half_up = nn_bf16_to_f32(0x3f80) + ldexpf(1.0f, -8) + ldexpf(1.0f, -20);
  uint16_t bf;
  nn_cast__ref(1, &half_up, NN_FLOAT, &bf, NN_BFLOAT16);
  assert_int_equal(bf, 0x3f81); /* rounds, does not truncate */
  float nz = -0.0f;
  uint8_t b;
  nn_cast__ref(1, &nz, NN_FLOAT, &b, NN_BOOL);
  assert_int_equal(b, 0);
}

static void test_cast_strings(void **state) {
  (void)state;
  const float f[7] = {1.0f, 0.1f, 1e-5f, 0.001f, -2.5f, 1e17f, INFINITY};
  const char *want[7] = {"1.0", "0.1", "1e-05", "0.001", "-2.5", "1e+17", "inf"};
  char buf[64];
  for (int i = 0; i < 7; i++) {
    int n = nn_cast_format__ref(f, NN_FLOAT, i, buf, sizeof buf);
    assert_int_equal(n, (int)strlen(want[i]));
    assert_string_equal(buf, want[i]);
  }
  float x = 0.0f;
  assert_int_equal(nn_cast_parse__ref("0.47892547", 10, &x, NN_FLOAT, 0), 0);
  assert_true(x == 0.47892547f);
  assert_int_equal(nn_cast_parse__ref("-INF", 4, &x, NN_FLOAT, 0), 0);
  assert_true(isinf(x) && x < 0);
  int64_t v = 0;
  assert_int_equal(nn_cast_parse__ref("-42", 3, &v, NN_INT64, 0), 0);
  assert_int_equal(v, -42);
  assert_int_equal(nn_cast_parse__ref("abc", 3, &x, NN_FLOAT, 0), -1);
}

/* ---- reductions ---- */

static void test_reduce_axes(void **state) {
  (void)state;
  /* [3, 300, 2]: reduce axis 1 (kept innermost, chunk edge at 256) and axes {0, 2} */
  enum { A = 3, B = 300, C = 2 };
  static float x[A * B * C];
  for (int i = 0; i < A * B * C; i++) x[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
  const int64_t dims[3] = {A, B, C};
  nn_reduce_plan p;
  const unsigned char m1[3] = {0, 1, 0};
  nn_reduce_plan_init(&p, 3, dims, m1);
  assert_int_equal(p.count, B);
  assert_int_equal(p.out_n, A * C);
  float y[A * C];
  nn_f32_reduce__ref(&p, NN_RED_SUM, x, y);
  for (int a = 0; a < A; a++)
    for (int c = 0; c < C; c++) {
      double s = 0;
      for (int b = 0; b < B; b++) s += x[(a * B + b) * C + c];
      assert_true(fabs(y[a * C + c] - s) < 1e-4);
    }
  const unsigned char m2[3] = {1, 0, 1};
  nn_reduce_plan_init(&p, 3, dims, m2);
  static float y2[B];
  nn_f32_reduce__ref(&p, NN_RED_MAX, x, y2);
  for (int b = 0; b < B; b++) {
    float mx = -INFINITY;
    for (int a = 0; a < A; a++)
      for (int c = 0; c < C; c++) mx = fmaxf(mx, x[(a * B + b) * C + c]);
    assert_true(y2[b] == mx);
  }
  /* LogSumExp stays finite for large values and gives -inf for all -inf rows */
  float big[4] = {1000.0f, 1000.0f, -INFINITY, -INFINITY}, r[2];
  const int64_t d2[2] = {2, 2};
  const unsigned char m3[2] = {0, 1};
  nn_reduce_plan_init(&p, 2, d2, m3);
  nn_f32_reduce__ref(&p, NN_RED_LOGSUMEXP, big, r);
  assert_true(fabsf(r[0] - (1000.0f + logf(2.0f))) < 1e-3f);
  assert_true(isinf(r[1]) && r[1] < 0);
  /* integer sums are exact in int64 */
  int64_t iv[2] = {INT64_C(9007199254740993), 2}, ir;
  const int64_t d1[1] = {2};
  const unsigned char m4[1] = {1};
  nn_reduce_plan_init(&p, 1, d1, m4);
  assert_int_equal(nn_reduce__ref(&p, NN_RED_SUM, NN_INT64, iv, &ir), 0);
  assert_true(ir == INT64_C(9007199254740995));
}

static void test_argmax_cumsum(void **state) {
  (void)state;
  float x[5] = {1.0f, 3.0f, 3.0f, 0.0f, 3.0f};
  int64_t y;
  nn_argmax__ref(1, 5, 1, NN_FLOAT, x, &y, 0, 0);
  assert_int_equal(y, 1);
  nn_argmax__ref(1, 5, 1, NN_FLOAT, x, &y, 0, 1);
  assert_int_equal(y, 4);
  nn_argmax__ref(1, 5, 1, NN_FLOAT, x, &y, 1, 0);
  assert_int_equal(y, 3);
  float n[3] = {1.0f, NAN, 5.0f};
  nn_argmax__ref(1, 3, 1, NN_FLOAT, n, &y, 0, 0);
  assert_int_equal(y, 1);                  /* NaN is the maximum, as in numpy */
  int32_t c[6] = {1, 2, 3, 4, 5, 6}, o[6]; /* [3, 2], along axis 0 */
  nn_cumsum__ref(1, 3, 2, NN_INT32, c, o, 1, 1);
  const int32_t want[6] = {8, 10, 5, 6, 0, 0};
  assert_memory_equal(o, want, sizeof want);
}

/* ---- softmax / layernorm ---- */

static void test_softmax_strided(void **state) {
  (void)state;
  /* [2, 3, 300]: axis 1 with 300 inner columns (chunk edge at 256) */
  enum { O = 2, N = 3, I = 300 };
  static float x[O * N * I], y[O * N * I], l[O * N * I];
  for (int i = 0; i < O * N * I; i++)
    x[i] = (float)((i * 31) % 17) - 8.0f + (i % 3) * 500.0f;
  nn_f32_softmax__ref(O, N, I, x, y);
  nn_f32_logsoftmax__ref(O, N, I, x, l);
  for (int o = 0; o < O; o++)
    for (int j = 0; j < I; j++) {
      double m = -INFINITY, s = 0;
      for (int k = 0; k < N; k++) m = fmax(m, x[(o * N + k) * I + j]);
      for (int k = 0; k < N; k++) s += exp(x[(o * N + k) * I + j] - m);
      for (int k = 0; k < N; k++) {
        int idx = (o * N + k) * I + j;
        assert_true(fabs(y[idx] - exp(x[idx] - m) / s) < 1e-6);
        assert_true(fabs(l[idx] - (x[idx] - m - log(s))) < 1e-4);
      }
    }
  float h[4] = {1.0f, 5.0f, 5.0f, 2.0f}, hy[4];
  nn_f32_hardmax__ref(1, 4, 1, h, hy);
  assert_true(hy[0] == 0 && hy[1] == 1 && hy[2] == 0 && hy[3] == 0);
}

static void test_layernorm(void **state) {
  (void)state;
  /* a large offset makes one-pass variance lose everything; two-pass keeps it */
  float x[4] = {10000.0f, 10001.0f, 10002.0f, 10003.0f}, g[4] = {1, 1, 1, 1}, y[4];
  float mean, inv;
  nn_f32_layernorm__ref(1, 4, x, g, 1, NULL, 1, 0.0f, y, &mean, &inv);
  assert_true(fabsf(mean - 10001.5f) < 1e-3f);
  assert_true(fabsf(inv - 1.0f / sqrtf(1.25f)) < 1e-6f);
  const float want[4] = {-1.3416408f, -0.4472136f, 0.4472136f, 1.3416408f};
  for (int i = 0; i < 4; i++) assert_true(fabsf(y[i] - want[i]) < 1e-5f);
  float b = 0.5f, s = 2.0f;
  nn_f32_layernorm__ref(1, 4, x, &s, 0, &b, 0, 0.0f, y, NULL, NULL);
  for (int i = 0; i < 4; i++) assert_true(fabsf(y[i] - (2 * want[i] + 0.5f)) < 1e-5f);
}

/* ---- ops on one-node models ---- */

typedef struct io {
  const char *name; /* NULL: omitted optional input */
  nn_dtype dt;
  int ndim;
  int64_t dims[4];
  const void *data;
} io;

static nn_attr *new_attr(nn_node *n, const char *name, nn_attr_type t) {
  n->attrs = realloc(n->attrs, (size_t)(n->n_attrs + 1) * sizeof *n->attrs);
  nn_attr *a = &n->attrs[n->n_attrs++];
  memset(a, 0, sizeof *a);
  a->name = strdup(name);
  a->type = t;
  return a;
}
static void attr_i(nn_node *n, const char *name, int64_t v) {
  new_attr(n, name, NN_ATTR_INT)->i = v;
}
static void attr_s(nn_node *n, const char *name, const char *v) {
  nn_attr *a = new_attr(n, name, NN_ATTR_STRING);
  a->s.data = strdup(v);
  a->s.len = strlen(v);
}

/* Model with one node op (domain, opset) over the given inputs; *node lets the caller
 * add attributes before the session is created by run_model. */
static nn_model *one_node(const char *op, const char *domain, int64_t opset, int n_in,
                          const io *in, int n_out, nn_node **node) {
  nn_model *m = nn_model_new();
  m->ir_version = 8;
  m->n_opsets = 2;
  m->opsets = calloc(2, sizeof *m->opsets);
  m->opsets[0].domain = strdup("");
  m->opsets[0].version = opset;
  m->opsets[1].domain = strdup("com.microsoft");
  m->opsets[1].version = 1;
  nn_graph *g = m->graph;
  int ii[8], oo[4];
  for (int k = 0; k < n_in; k++) {
    ii[k] = in[k].name ? nn_graph_intern(g, in[k].name) : -1;
    if (ii[k] < 0) continue;
    nn_tensor *t = &g->tensors[ii[k]];
    t->dtype = in[k].dt;
    t->ndim = in[k].ndim;
    for (int d = 0; d < in[k].ndim; d++) t->dims[d] = in[k].dims[d];
    t->flags |= NN_T_INPUT | NN_T_SHAPE_KNOWN;
    nn_graph_list_push(&g->inputs, &g->n_inputs, ii[k]);
  }
  for (int k = 0; k < n_out; k++) {
    char nm[16];
    snprintf(nm, sizeof nm, "y%d", k);
    oo[k] = nn_graph_intern(g, nm);
    g->tensors[oo[k]].ndim = -1;
    g->tensors[oo[k]].flags |= NN_T_OUTPUT;
    nn_graph_list_push(&g->outputs, &g->n_outputs, oo[k]);
  }
  int ni = nn_graph_add_node(g, op, domain, "node", n_in, ii, n_out, oo);
  *node = &g->nodes[ni];
  return m;
}

/* Run the model on its inputs; the session (to read outputs from) goes to *sp. */
static nn_status run_model(nn_model *m, int n_in, const io *in, nn_session **sp) {
  nn_graph_build_maps(m->graph, NULL);
  nn_status st = nn_session_create(m, NULL, sp);
  if (st) return st;
  nn_array arr[8];
  const char *names[8];
  int n = 0;
  for (int k = 0; k < n_in; k++) {
    if (!in[k].name) continue;
    size_t bytes = nn_dtype_size(in[k].dt);
    for (int d = 0; d < in[k].ndim; d++) bytes *= (size_t)in[k].dims[d];
    arr[n] = (nn_array){in[k].dt, in[k].ndim, {0}, (void *)in[k].data, bytes};
    for (int d = 0; d < in[k].ndim; d++) arr[n].dims[d] = in[k].dims[d];
    names[n++] = in[k].name;
  }
  return nn_session_run(*sp, n, names, arr);
}

static void test_op_gelu_family(void **state) {
  (void)state;
  const float x[6] = {-3.0f, -1.0f, -0.25f, 0.0f, 0.5f, 2.0f}, b[3] = {0.5f, -0.5f, 1.0f};
  const io in[2] = {{"x", NN_FLOAT, 2, {2, 3}, x}, {"bias", NN_FLOAT, 1, {3}, b}};
  nn_node *n;
  nn_session *s = NULL;
  nn_model *m = one_node("FastGelu", "com.microsoft", 17, 2, in, 1, &n);
  assert_int_equal(run_model(m, 2, in, &s), NN_OK);
  const float *y = nn_session_output(s, 0)->data;
  for (int i = 0; i < 6; i++) {
    double v = x[i] + b[i % 3];
    double want = 0.5 * v * (1 + tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)));
    assert_true(fabs(y[i] - want) < 1e-6);
  }
  nn_session_free(s);
  nn_model_free(m);

  m = one_node("Gelu", "", 20, 1, in, 1, &n); /* ai.onnx Gelu-20, exact erf form */
  assert_int_equal(run_model(m, 1, in, &s), NN_OK);
  y = nn_session_output(s, 0)->data;
  for (int i = 0; i < 6; i++)
    assert_true(fabs(y[i] - 0.5 * x[i] * (1 + erf(x[i] / sqrt(2.0)))) < 1e-6);
  nn_session_free(s);
  nn_model_free(m);

  m = one_node("Gelu", "", 20, 1, in, 1, &n);
  attr_s(n, "approximate", "fast"); /* not an allowed value */
  assert_int_equal(run_model(m, 1, in, &s), NN_ERR_INVALID);
  assert_non_null(strstr(nn_last_error(), "approximate"));
  nn_session_free(s);
  nn_model_free(m);
}

/* com.microsoft SkipLayerNormalization (the fusion of a residual Add and LayerNormalization):
 * y = LayerNorm(input + skip + bias) * gamma + beta, against a double oracle; wrong shapes
 * give an error naming the input. */
static void test_skip_layernorm(void **state) {
  (void)state;
  nn_node *n;
  nn_session *s = NULL;
  const float x[6] = {0.5f, -1.0f, 2.0f, 3.0f, 0.25f, -0.75f};
  const float sk[6] = {1.0f, 0.5f, -0.5f, -2.0f, 1.5f, 0.0f};
  const float g[3] = {1.0f, 2.0f, -0.5f}, b[3] = {0.1f, -0.2f, 0.3f}, bias[3] = {0.0f, 1.0f, -1.0f};
  const io in[5] = {{"x", NN_FLOAT, 2, {2, 3}, x},  {"skip", NN_FLOAT, 2, {2, 3}, sk},
                    {"g", NN_FLOAT, 1, {3}, g},     {"b", NN_FLOAT, 1, {3}, b},
                    {"bias", NN_FLOAT, 1, {3}, bias}};
  nn_model *m = one_node("SkipLayerNormalization", "com.microsoft", 17, 5, in, 1, &n);
  assert_int_equal(run_model(m, 5, in, &s), NN_OK);
  const float *y = nn_session_output(s, 0)->data;
  for (int r = 0; r < 2; r++) {
    double v[3], mean = 0, var = 0;
    for (int i = 0; i < 3; i++) mean += v[i] = (double)x[r * 3 + i] + sk[r * 3 + i] + bias[i];
    mean /= 3;
    for (int i = 0; i < 3; i++) var += (v[i] - mean) * (v[i] - mean);
    var /= 3;
    for (int i = 0; i < 3; i++)
      assert_true(fabs(y[r * 3 + i] - ((v[i] - mean) / sqrt(var + 1e-12) * g[i] + b[i])) < 1e-5);
  }
  nn_session_free(s);
  nn_model_free(m);

  const io bad_skip[3] = {in[0], {"skip", NN_FLOAT, 2, {3, 2}, sk}, in[2]};
  m = one_node("SkipLayerNormalization", "com.microsoft", 17, 3, bad_skip, 1, &n);
  assert_int_not_equal(run_model(m, 3, bad_skip, &s), NN_OK);
  assert_non_null(strstr(nn_last_error(), "skip"));
  nn_session_free(s);
  nn_model_free(m);

  const io bad_gamma[3] = {in[0], in[1], {"g", NN_FLOAT, 1, {2}, g}};
  m = one_node("SkipLayerNormalization", "com.microsoft", 17, 3, bad_gamma, 1, &n);
  assert_int_equal(run_model(m, 3, bad_gamma, &s), NN_ERR_INVALID);
  assert_non_null(strstr(nn_last_error(), "gamma"));
  nn_session_free(s);
  nn_model_free(m);
}

static void test_op_versions(void **state) {
  (void)state;
  nn_node *n;
  nn_session *s = NULL;
  /* Clip-13 on int32 with only "max" given */
  const int32_t xi[4] = {-100, 5, 50, 7}, hi = 10;
  const io ci[3] = {{"x", NN_INT32, 1, {4}, xi}, {NULL}, {"hi", NN_INT32, 0, {0}, &hi}};
  nn_model *m = one_node("Clip", "", 13, 3, ci, 1, &n);
  assert_int_equal(run_model(m, 3, ci, &s), NN_OK);
  const int32_t want_c[4] = {-100, 5, 10, 7};
  assert_memory_equal(nn_session_output(s, 0)->data, want_c, sizeof want_c);
  nn_session_free(s);
  nn_model_free(m);

  /* ReduceMax-18 takes axes as an input */
  const float xr[6] = {1, 9, 3, 4, 5, -6};
  const int64_t ax = -1;
  const io ri[2] = {{"x", NN_FLOAT, 2, {2, 3}, xr}, {"axes", NN_INT64, 1, {1}, &ax}};
  m = one_node("ReduceMax", "", 18, 2, ri, 1, &n);
  attr_i(n, "keepdims", 0);
  assert_int_equal(run_model(m, 2, ri, &s), NN_OK);
  const nn_array *r = nn_session_output(s, 0);
  assert_int_equal(r->ndim, 1);
  assert_true(((float *)r->data)[0] == 9.0f && ((float *)r->data)[1] == 5.0f);
  nn_session_free(s);
  nn_model_free(m);

  /* Softmax before opset 13 flattens [2,2,2] at axis 1 into rows of 4 */
  const float xs[8] = {0, 0, 0, 0, 1, 1, 1, 1};
  const io si[1] = {{"x", NN_FLOAT, 3, {2, 2, 2}, xs}};
  m = one_node("Softmax", "", 11, 1, si, 1, &n);
  attr_i(n, "axis", 1);
  assert_int_equal(run_model(m, 1, si, &s), NN_OK);
  for (int i = 0; i < 8; i++)
    assert_true(fabsf(((float *)nn_session_output(s, 0)->data)[i] - 0.25f) < 1e-7f);
  nn_session_free(s);
  nn_model_free(m);
  m = one_node("Softmax", "", 13, 1, si, 1, &n); /* opset 13: along axis 1 only */
  attr_i(n, "axis", 1);
  assert_int_equal(run_model(m, 1, si, &s), NN_OK);
  for (int i = 0; i < 8; i++)
    assert_true(fabsf(((float *)nn_session_output(s, 0)->data)[i] - 0.5f) < 1e-7f);
  nn_session_free(s);
  nn_model_free(m);

  /* Cast-1 names the target type with a string */
  const float xc[2] = {2.7f, -1.5f};
  const io cc[1] = {{"x", NN_FLOAT, 1, {2}, xc}};
  m = one_node("Cast", "", 1, 1, cc, 1, &n);
  attr_s(n, "to", "INT32");
  assert_int_equal(run_model(m, 1, cc, &s), NN_OK);
  const int32_t want_i[2] = {2, -1};
  assert_int_equal(nn_session_output(s, 0)->dtype, NN_INT32);
  assert_memory_equal(nn_session_output(s, 0)->data, want_i, sizeof want_i);
  nn_session_free(s);
  nn_model_free(m);

  /* PRelu-6: a 1-D slope of size C is per channel (axis 1), not numpy-trailing */
  const float xp[8] = {-1, -1, -1, -1, -1, -1, -1, -1}, sl[2] = {0.5f, 2.0f};
  const io pi[2] = {{"x", NN_FLOAT, 3, {2, 2, 2}, xp}, {"slope", NN_FLOAT, 1, {2}, sl}};
  m = one_node("PRelu", "", 6, 2, pi, 1, &n);
  assert_int_equal(run_model(m, 2, pi, &s), NN_OK);
  const float want_p[8] = {-0.5f, -0.5f, -2, -2, -0.5f, -0.5f, -2, -2};
  assert_memory_equal(nn_session_output(s, 0)->data, want_p, sizeof want_p);
  nn_session_free(s);
  nn_model_free(m);

  /* Add-6 with broadcast=1, axis=0: B [2] lines up with A's first axis */
  const float a6[4] = {1, 2, 3, 4}, b6[2] = {10, 20};
  const io ai[2] = {{"a", NN_FLOAT, 2, {2, 2}, a6}, {"b", NN_FLOAT, 1, {2}, b6}};
  m = one_node("Add", "", 6, 2, ai, 1, &n);
  attr_i(n, "broadcast", 1);
  attr_i(n, "axis", 0);
  assert_int_equal(run_model(m, 2, ai, &s), NN_OK);
  const float want_a[4] = {11, 12, 23, 24};
  assert_memory_equal(nn_session_output(s, 0)->data, want_a, sizeof want_a);
  nn_session_free(s);
  nn_model_free(m);
}

static void test_op_errors(void **state) {
  (void)state;
  nn_node *n;
  nn_session *s = NULL;
  const float x[6] = {0};
  const int32_t xi[6] = {0};
  const io in[2] = {{"a", NN_FLOAT, 2, {2, 3}, x}, {"b", NN_INT32, 2, {2, 3}, xi}};
  nn_model *m = one_node("Add", "", 17, 2, in, 1, &n);
  assert_int_equal(run_model(m, 2, in, &s), NN_ERR_INVALID);
  assert_non_null(strstr(nn_last_error(), "dtypes"));
  nn_session_free(s);
  nn_model_free(m);
  const io bc[2] = {{"a", NN_FLOAT, 2, {2, 3}, x}, {"b", NN_FLOAT, 1, {2}, x}};
  m = one_node("Mul", "", 17, 2, bc, 1, &n);
  assert_int_equal(run_model(m, 2, bc, &s), NN_ERR_INVALID);
  assert_non_null(strstr(nn_last_error(), "broadcast"));
  nn_session_free(s);
  nn_model_free(m);
  m = one_node("ReduceSum", "", 11, 1, in, 1, &n);
  const int64_t axes[2] = {1, -1};
  nn_attr *a = new_attr(n, "axes", NN_ATTR_INTS);
  a->n = 2;
  a->ints = malloc(sizeof axes);
  memcpy(a->ints, axes, sizeof axes);
  assert_int_equal(run_model(m, 1, in, &s), NN_ERR_INVALID);
  assert_non_null(strstr(nn_last_error(), "twice"));
  nn_session_free(s);
  nn_model_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bcast_collapse),  cmocka_unit_test(test_bcast_add_cases),
      cmocka_unit_test(test_where_bcast),     cmocka_unit_test(test_int_div_mod),
      cmocka_unit_test(test_int_pow_shift),   cmocka_unit_test(test_nan_rules),
      cmocka_unit_test(test_round_clip),      cmocka_unit_test(test_activations_extremes),
      cmocka_unit_test(test_cast_rounding),   cmocka_unit_test(test_cast_strings),
      cmocka_unit_test(test_reduce_axes),     cmocka_unit_test(test_argmax_cumsum),
      cmocka_unit_test(test_softmax_strided), cmocka_unit_test(test_layernorm),
      cmocka_unit_test(test_op_gelu_family),  cmocka_unit_test(test_op_versions),
      cmocka_unit_test(test_op_errors),       cmocka_unit_test(test_skip_layernorm),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
