/*
 * test_int4.c - block-wise INT4 weights: the MatMulNBits op against dequantize + matmul
 * computed here (odd K and N, K not a multiple of the block, batch dims, zero points or
 * not, bias), the int4 pass's packing against an independent round-to-nearest, and
 * GPTQ against round to nearest on a synthetic layer with correlated inputs.
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

static uint32_t g_seed = 12345;
static float frand(void) { /* [-1, 1) */
  g_seed = g_seed * 1664525u + 1013904223u;
  return (float)((g_seed >> 8) & 0xffff) / 32768.0f - 1.0f;
}

/* Opset 17 plus com.microsoft (MatMulNBits). */
static nn_model *new_model_ms(void) {
  nn_model *m = new_model(8, 17);
  nn_model_ensure_opset(m, "com.microsoft", 1);
  return m;
}

static int add_init(nn_graph *g, const char *name, nn_dtype dt, int ndim, const int64_t *dims,
                    void *data, size_t nbytes) {
  int t = nn_graph_intern(g, name);
  nn_tensor *tt = &g->tensors[t];
  tt->dtype = dt;
  tt->ndim = ndim;
  memcpy(tt->dims, dims, (size_t)ndim * sizeof *dims);
  tt->data = data;
  tt->nbytes = nbytes;
  tt->flags = NN_T_INITIALIZER;
  nn_graph_list_push(&g->inits, &g->n_inits, t);
  return t;
}

/* Code of element k of a block blob (4 bits, low nibble first). */
static int code_at(const uint8_t *blob, int64_t k) { return (blob[k / 2] >> ((k & 1) * 4)) & 15; }

/* One MatMulNBits node over A [2, 3, K]: the output against A * dequant(B)^T (+ bias),
 * dequantized here from the raw codes. */
static void check_nbits(int64_t K, int64_t N, int64_t block, int with_zp, int with_bias) {
  enum { B0 = 2, B1 = 3 };
  const int64_t M = B0 * B1, nb = (K + block - 1) / block, blob = block / 2, zpb = (nb + 1) / 2;
  nn_model *m = new_model_ms();
  nn_graph *g = m->graph;
  int64_t ad[3] = {B0, B1, K}, yd[3] = {B0, B1, N}, bd[3] = {N, nb, blob}, sd[1] = {N * nb},
          zd[1] = {N * zpb}, nd[1] = {N};
  io(g, "a", 1, 3, ad);
  uint8_t *codes = malloc((size_t)(N * nb * blob));
  for (int64_t i = 0; i < N * nb * blob; i++) codes[i] = (uint8_t)((frand() + 1.0f) * 128.0f);
  float *sc = malloc((size_t)(N * nb) * sizeof *sc);
  for (int64_t i = 0; i < N * nb; i++) sc[i] = 0.01f + 0.05f * (frand() + 1.0f);
  uint8_t *zp = malloc((size_t)(N * zpb));
  for (int64_t i = 0; i < N * zpb; i++) zp[i] = (uint8_t)((frand() + 1.0f) * 128.0f);
  float *bias = malloc((size_t)N * sizeof *bias);
  for (int64_t i = 0; i < N; i++) bias[i] = frand();
  int ins[6];
  ins[0] = nn_graph_intern(g, "a");
  ins[1] = add_init(g, "b", NN_UINT8, 3, bd, codes, (size_t)(N * nb * blob));
  ins[2] = add_init(g, "scales", NN_FLOAT, 1, sd, sc, (size_t)(N * nb) * sizeof *sc);
  ins[3] = with_zp ? add_init(g, "zp", NN_UINT8, 1, zd, zp, (size_t)(N * zpb)) : -1;
  ins[4] = -1;
  ins[5] = with_bias ? add_init(g, "bias", NN_FLOAT, 1, nd, bias, (size_t)N * sizeof *bias) : -1;
  int y = nn_graph_intern(g, "y");
  int n = nn_graph_add_node(g, "MatMulNBits", "com.microsoft", "mmnb", with_bias ? 6 : with_zp ? 4 : 3,
                            ins, 1, &y);
  assert_true(n >= 0);
  assert_int_equal(nn_node_add_attr_int(&g->nodes[n], "K", K), NN_OK);
  assert_int_equal(nn_node_add_attr_int(&g->nodes[n], "N", N), NN_OK);
  assert_int_equal(nn_node_add_attr_int(&g->nodes[n], "bits", 4), NN_OK);
  assert_int_equal(nn_node_add_attr_int(&g->nodes[n], "block_size", block), NN_OK);
  io(g, "y", 0, 3, yd);
  /* Expected values, in double, before the session (the graph owns the buffers). */
  float *a = malloc((size_t)(M * K) * sizeof *a);
  for (int64_t i = 0; i < M * K; i++) a[i] = frand();
  double *want = calloc((size_t)(M * N), sizeof *want), *mag = calloc((size_t)(M * N), sizeof *mag);
  for (int64_t j = 0; j < N; j++)
    for (int64_t k = 0; k < K; k++) {
      const int64_t b = k / block;
      const int z = with_zp ? (zp[j * zpb + b / 2] >> ((b & 1) * 4)) & 15 : 8;
      const double w = (double)(code_at(codes + (j * nb + b) * blob, k % block) - z) * sc[j * nb + b];
      for (int64_t i = 0; i < M; i++) {
        want[i * N + j] += a[i * K + k] * w;
        mag[i * N + j] += fabs(a[i * K + k] * w);
      }
    }
  if (with_bias)
    for (int64_t i = 0; i < M * N; i++) want[i] += bias[i % N];
  if (!with_zp) free(zp);
  if (!with_bias) free(bias);
  nn_session *s = NULL;
  assert_int_equal(nn_session_create(m, NULL, &s), NN_OK);
  nn_array in = {NN_FLOAT, 3, {B0, B1, K}, a, (size_t)(M * K) * sizeof *a};
  const char *names[1] = {"a"};
  for (int rep = 0; rep < 2; rep++) { /* a second run reuses the prepared op */
    assert_int_equal(nn_session_run(s, 1, names, &in), NN_OK);
    const nn_array *out = nn_session_output(s, 0);
    assert_int_equal(out->ndim, 3);
    assert_int_equal(out->dims[2], N);
    const float *yv = out->data;
    for (int64_t i = 0; i < M * N; i++) {
      const double tol = 1e-5 * (double)(K + 4) * (mag[i] + 1.0);
      if (fabs(yv[i] - want[i]) > tol)
        fail_msg("K=%lld N=%lld block=%lld zp=%d bias=%d: y[%lld] = %g, expected %g",
                 (long long)K, (long long)N, (long long)block, with_zp, with_bias, (long long)i,
                 yv[i], want[i]);
    }
  }
  nn_session_free(s);
  nn_model_free(m);
  free(a);
  free(want);
  free(mag);
}

static void test_matmul_nbits_vs_dequant(void **state) {
  (void)state;
  check_nbits(37, 7, 16, 1, 0);     /* 3 blocks of 16, the last one short */
  check_nbits(100, 33, 32, 1, 1);  /* K not a multiple of the block, N odd, bias */
  check_nbits(64, 5, 32, 0, 0);    /* symmetric: zero point 8 */
  check_nbits(129, 301, 128, 1, 0); /* N over one 256-column panel */
  check_nbits(300, 17, 64, 0, 1);
}

/* A MatMulNBits whose B has the wrong shape fails with a message naming the node. */
static void test_matmul_nbits_bad_shape(void **state) {
  (void)state;
  nn_model *m = new_model_ms();
  nn_graph *g = m->graph;
  int64_t ad[2] = {1, 40}, yd[2] = {1, 4}, bd[3] = {4, 1, 16}, sd[1] = {8};
  io(g, "a", 1, 2, ad);
  int ins[3] = {nn_graph_intern(g, "a"),
                add_init(g, "b", NN_UINT8, 3, bd, calloc(64, 1), 64),
                add_init(g, "scales", NN_FLOAT, 1, sd, calloc(8, sizeof(float)), 8 * sizeof(float))};
  int y = nn_graph_intern(g, "y");
  int n = nn_graph_add_node(g, "MatMulNBits", "com.microsoft", "bad_nbits", 3, ins, 1, &y);
  nn_node_add_attr_int(&g->nodes[n], "K", 40);
  nn_node_add_attr_int(&g->nodes[n], "N", 4);
  nn_node_add_attr_int(&g->nodes[n], "block_size", 32);
  io(g, "y", 0, 2, yd);
  nn_session *s = NULL;
  assert_int_not_equal(nn_session_create(m, NULL, &s), NN_OK);
  assert_non_null(strstr(nn_last_error(), "bad_nbits"));
  assert_non_null(strstr(nn_last_error(), "'B'"));
  nn_session_free(s);
  nn_model_free(m);
}

/* ---- the pass ---- */

enum { T = 192, K = 80, N = 24, BLOCK = 32 };
static float g_x[T * K];

/* x [1, K] -> MatMul(w [K, N]) -> y, or Gemm(x, w [N, K], c [N], transB=1) -> y. */
static nn_model *build_layer(int gemm, const float *w) {
  nn_model *m = new_model_ms();
  nn_graph *g = m->graph;
  int64_t xd[2] = {1, K}, yd[2] = {1, N}, wd[2] = {gemm ? N : K, gemm ? K : N}, cd[1] = {N};
  io(g, "x", 1, 2, xd);
  float *wc = malloc(K * N * sizeof *wc);
  memcpy(wc, w, K * N * sizeof *wc);
  f32_initializer(g, "w", 2, wd, wc);
  if (gemm) {
    float *c = malloc(N * sizeof *c);
    for (int j = 0; j < N; j++) c[j] = 0.1f * (float)j;
    f32_initializer(g, "c", 1, cd, c);
    const char *in[] = {"x", "w", "c"};
    int n = node(g, "Gemm", "fc", 3, in, "y");
    assert_int_equal(nn_node_add_attr_int(&g->nodes[n], "transB", 1), NN_OK);
  } else {
    const char *in[] = {"x", "w"};
    node(g, "MatMul", "fc", 2, in, "y");
  }
  io(g, "y", 0, 2, yd);
  nn_graph_build_maps(g, NULL);
  return m;
}

/* The weight as W (N x K) from the layer's float initializer. */
static void weight_nk(int gemm, const float *w, float *wnk) {
  for (int n = 0; n < N; n++)
    for (int k = 0; k < K; k++) wnk[n * K + k] = gemm ? w[n * K + k] : w[k * N + n];
}

static const nn_node *find_op(const nn_graph *g, const char *op) {
  for (int i = 0; i < g->n_nodes; i++)
    if (!strcmp(g->nodes[i].op_type, op)) return &g->nodes[i];
  return NULL;
}

/* Dequantized weight (N x K) read back from the MatMulNBits node's initializers. */
static void read_back(const nn_graph *g, float *wq, uint8_t *codes_out) {
  const nn_node *q = find_op(g, "MatMulNBits");
  assert_non_null(q);
  assert_int_equal(nn_attr_int(q, "K", 0), K);
  assert_int_equal(nn_attr_int(q, "N", 0), N);
  assert_int_equal(nn_attr_int(q, "bits", 0), 4);
  assert_int_equal(nn_attr_int(q, "block_size", 0), BLOCK);
  assert_int_equal(q->n_inputs, 4);
  const nn_tensor *b = &g->tensors[q->inputs[1]], *s = &g->tensors[q->inputs[2]],
                  *z = &g->tensors[q->inputs[3]];
  const int64_t nb = (K + BLOCK - 1) / BLOCK;
  assert_int_equal(b->dtype, NN_UINT8);
  assert_int_equal(b->ndim, 3);
  assert_int_equal(b->dims[0], N);
  assert_int_equal(b->dims[1], nb);
  assert_int_equal(b->dims[2], BLOCK / 2);
  assert_int_equal(nn_tensor_numel(s), N * nb);
  assert_int_equal(nn_tensor_numel(z), N * ((nb + 1) / 2));
  const uint8_t *codes = b->data, *zp = z->data;
  const float *sc = s->data;
  for (int n = 0; n < N; n++)
    for (int k = 0; k < (int)(nb * BLOCK); k++) {
      const int64_t blk = k / BLOCK;
      const int c = code_at(codes + (n * nb + blk) * (BLOCK / 2), k % BLOCK);
      const int zz = (zp[n * ((nb + 1) / 2) + blk / 2] >> ((blk & 1) * 4)) & 15;
      if (k >= K) { /* padding holds the code of 0 */
        assert_int_equal(c, zz);
        continue;
      }
      if (codes_out) codes_out[n * K + k] = (uint8_t)c;
      if (wq) wq[n * K + k] = (float)(c - zz) * sc[n * nb + blk];
    }
}

/* Round to nearest written independently: range [min(0, lo), max(0, hi)] in 15 steps. */
static void rtn_codes(const float *w, uint8_t *codes) {
  for (int n = 0; n < N; n++)
    for (int k0 = 0; k0 < K; k0 += BLOCK) {
      const int cnt = K - k0 < BLOCK ? K - k0 : BLOCK;
      float lo = 0, hi = 0;
      for (int k = 0; k < cnt; k++) {
        lo = fminf(lo, w[n * K + k0 + k]);
        hi = fmaxf(hi, w[n * K + k0 + k]);
      }
      const float s = (hi - lo) / 15.0f;
      const int z = (int)fminf(15.0f, fmaxf(0.0f, roundf(-lo / s)));
      for (int k = 0; k < cnt; k++) {
        const int q = (int)roundf(w[n * K + k0 + k] / s) + z;
        codes[n * K + k0 + k] = (uint8_t)(q < 0 ? 0 : q > 15 ? 15 : q);
      }
    }
}

static nn_dataset *dataset(char *path) {
  /* Correlated inputs with uneven channel scales, as a layer's activations are. */
  float mix[K][8];
  for (int k = 0; k < K; k++)
    for (int f = 0; f < 8; f++) mix[k][f] = frand();
  for (int t = 0; t < T; t++) {
    float z[8];
    for (int f = 0; f < 8; f++) z[f] = frand() * 2.0f;
    for (int k = 0; k < K; k++) {
      float v = 0.1f * frand();
      for (int f = 0; f < 8; f++) v += mix[k][f] * z[f];
      g_x[t * K + k] = v * (k % 7 == 0 ? 4.0f : 1.0f);
    }
  }
  int fd = mkstemps(path, 4);
  close(fd);
  nn_array ca = {NN_FLOAT, 2, {T, K}, g_x, sizeof g_x};
  assert_int_equal(nn_array_write_npy(path, &ca), NN_OK);
  char spec[256];
  snprintf(spec, sizeof spec, "npy:%s,name=x", path);
  nn_dataset *ds = NULL;
  assert_int_equal(nn_dataset_open(spec, NULL, &ds), NN_OK);
  return ds;
}

/* ||X W^T - X Wq^T||_F over the calibration rows. */
static double output_error(const float *w, const float *wq) {
  double e = 0;
  for (int t = 0; t < T; t++)
    for (int n = 0; n < N; n++) {
      double d = 0;
      for (int k = 0; k < K; k++) d += (double)g_x[t * K + k] * (w[n * K + k] - wq[n * K + k]);
      e += d * d;
    }
  return sqrt(e);
}

static void random_weight(float *w) {
  for (int i = 0; i < K * N; i++) w[i] = 0.2f * frand() + (i % 11 == 0 ? 0.3f : 0.0f);
}

/* RTN: codes equal an independent round to nearest; the session's output equals x times
 * the dequantized weight (plus Gemm's C). */
static void check_rtn_pass(int gemm) {
  float w[K * N], wnk[K * N], wq[K * N];
  uint8_t got[K * N], want[K * N];
  random_weight(w);
  weight_nk(gemm, w, wnk);
  nn_model *m = build_layer(gemm, w);
  nn_int4_options o = {0};
  nn_quant_report rep;
  assert_int_equal(nn_quantize_weights_int4(m, &o, NULL, &rep), NN_OK);
  assert_int_equal(rep.weights, 1);
  assert_null(find_op(m->graph, gemm ? "Gemm" : "MatMul"));
  if (gemm) assert_non_null(find_op(m->graph, "Add"));
  read_back(m->graph, wq, got);
  rtn_codes(wnk, want);
  assert_memory_equal(got, want, sizeof got);
  nn_session *s = NULL;
  assert_int_equal(nn_session_create(m, NULL, &s), NN_OK);
  for (int t = 0; t < 4; t++) {
    float x[K];
    for (int k = 0; k < K; k++) x[k] = frand();
    nn_array in = {NN_FLOAT, 2, {1, K}, x, sizeof x};
    const char *names[1] = {"x"};
    assert_int_equal(nn_session_run(s, 1, names, &in), NN_OK);
    const float *y = nn_session_output(s, 0)->data;
    for (int n = 0; n < N; n++) {
      double e = gemm ? 0.1 * n : 0.0;
      for (int k = 0; k < K; k++) e += (double)x[k] * wq[n * K + k];
      assert_float_equal(y[n], e, 1e-4);
    }
  }
  nn_session_free(s);
  nn_model_free(m);
}

static void test_int4_pass_rtn_matmul(void **state) {
  (void)state;
  check_rtn_pass(0);
}

static void test_int4_pass_rtn_gemm(void **state) {
  (void)state;
  check_rtn_pass(1);
}

/* GPTQ's output error on the calibration inputs is well below round to nearest's. */
static void test_gptq_beats_rtn(void **state) {
  (void)state;
  char path[] = "/tmp/nnopt_int4_XXXXXX.npy";
  nn_dataset *ds = dataset(path);
  float w[K * N], wnk[K * N], wr[K * N], wg[K * N];
  random_weight(w);
  weight_nk(0, w, wnk);
  nn_quant_report rep;
  nn_model *m = build_layer(0, w);
  nn_int4_options o = {0};
  assert_int_equal(nn_quantize_weights_int4(m, &o, NULL, &rep), NN_OK);
  read_back(m->graph, wr, NULL);
  nn_model_free(m);
  m = build_layer(0, w);
  o.calib = ds;
  assert_int_equal(nn_quantize_weights_int4(m, &o, NULL, &rep), NN_OK);
  read_back(m->graph, wg, NULL);
  nn_model_free(m);
  const double er = output_error(wnk, wr), eg = output_error(wnk, wg);
  print_message("output error: RTN %.4f, GPTQ %.4f\n", er, eg);
  assert_true(er > 0);
  assert_true(eg < 0.8 * er);
  nn_dataset_free(ds);
  unlink(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_matmul_nbits_vs_dequant),
      cmocka_unit_test(test_matmul_nbits_bad_shape),
      cmocka_unit_test(test_int4_pass_rtn_matmul),
      cmocka_unit_test(test_int4_pass_rtn_gemm),
      cmocka_unit_test(test_gptq_beats_rtn),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
