/*
 * test_lower_qdq.c - graph in, graph out for nn_pass_lower_qdq's integer rewrites:
 *  - a QDQ classifier head DQ(x) DQ(w) DQ(b) -> Gemm(transB) -> Relu -> Q becomes
 *    Reshape -> QLinearConv -> Reshape (a Gemm with transB = 0 is left alone);
 *  - Conv -> Relu -> Q with a zero point above the lowest code (shared with a Concat)
 *    becomes QLinearConv -> Max(codes, zero point), and the Concat of DQ outputs with the
 *    Q's parameters runs on the codes.
 * The sessions must give exactly the integer results computed here from the quantized
 * values, and stay within one output step of the fake-quantized float graph.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/graph.h"
#include "kernels/ref/requant.h"
#include "nnopt.h"
#include "passes/passes.h"

static int g_pass, g_fail;
#define CHECK(cond, ...)                      \
  do {                                        \
    if (cond) {                               \
      g_pass++;                               \
    } else {                                  \
      g_fail++;                               \
      printf("FAIL %s:%d: ", __FILE__, __LINE__); \
      printf(__VA_ARGS__);                    \
      printf("\n");                           \
    }                                         \
  } while (0)

enum { M = 3, K = 40, N = 24 };

static uint32_t g_seed = 12345;
static uint32_t rnd(void) {
  g_seed = g_seed * 1664525u + 1013904223u;
  return g_seed >> 8;
}

/* An initializer of any dtype holding a copy of data. */
static void init(nn_graph *g, const char *name, nn_dtype dt, int ndim, const int64_t *dims,
                 const void *data) {
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) n *= dims[d];
  const size_t bytes = (size_t)n * nn_dtype_size(dt);
  int t = nn_graph_intern(g, name);
  nn_tensor *tt = &g->tensors[t];
  tt->dtype = dt;
  tt->ndim = ndim;
  memcpy(tt->dims, dims, (size_t)ndim * sizeof *dims);
  tt->data = malloc(bytes);
  memcpy(tt->data, data, bytes);
  tt->nbytes = bytes;
  tt->flags = NN_T_INITIALIZER | NN_T_SHAPE_KNOWN;
  nn_graph_list_push(&g->inits, &g->n_inits, t);
}

static void io(nn_graph *g, const char *name, int input, int ndim, const int64_t *dims) {
  int t = nn_graph_intern(g, name);
  nn_tensor *tt = &g->tensors[t];
  tt->dtype = NN_FLOAT;
  tt->ndim = ndim;
  memcpy(tt->dims, dims, (size_t)ndim * sizeof *dims);
  tt->flags |= (input ? NN_T_INPUT : NN_T_OUTPUT) | NN_T_SHAPE_KNOWN;
  if (input)
    nn_graph_list_push(&g->inputs, &g->n_inputs, t);
  else
    nn_graph_list_push(&g->outputs, &g->n_outputs, t);
}

static int add(nn_graph *g, const char *op, const char *name, int n_in, const char **in,
               const char *out) {
  int ii[8];
  for (int k = 0; k < n_in; k++) ii[k] = nn_graph_intern(g, in[k]);
  int o = nn_graph_intern(g, out);
  return nn_graph_add_node(g, op, "", name, n_in, ii, 1, &o);
}

/* The quantized values of the head. */
typedef struct head {
  float xs, ys, ws[N];
  uint8_t xz;
  int8_t w[N * K];
  int32_t b[N];
} head;

static void make_head(head *h) {
  h->xs = 0.25f; /* inputs xs * (q - xz) quantize back to q exactly */
  h->xz = 128;
  h->ys = 0.5f;
  for (int n = 0; n < N; n++) {
    h->ws[n] = 0.001f * (float)(1 + rnd() % 9);
    h->b[n] = (int32_t)(rnd() % 4001) - 2000;
  }
  for (int i = 0; i < N * K; i++) h->w[i] = (int8_t)(rnd() % 255 - 127);
}

/* x -> Q -> DQ -> Gemm(DQ(w), DQ(b), transB) -> Relu -> Q -> DQ -> y. With trans_b = 0 the
 * weight is stored [K, N] (per-tensor scale, the pass must not lower it). */
static nn_model *build(const head *h, int trans_b) {
  nn_model *m = nn_model_new();
  m->ir_version = 8;
  m->n_opsets = 1;
  m->opsets = calloc(1, sizeof *m->opsets);
  m->opsets[0].domain = strdup("");
  m->opsets[0].version = 13;
  nn_graph *g = m->graph;
  const int64_t xd[2] = {M, K}, yd[2] = {M, N}, nd[1] = {N}, one[1] = {1};
  io(g, "x", 1, 2, xd);
  init(g, "xs", NN_FLOAT, 0, one, &h->xs);
  init(g, "xz", NN_UINT8, 0, one, &h->xz);
  init(g, "ys", NN_FLOAT, 0, one, &h->ys);
  const uint8_t yz = 0;
  init(g, "yz", NN_UINT8, 0, one, &yz);
  float bs[N];
  for (int n = 0; n < N; n++) bs[n] = h->xs * h->ws[n];
  init(g, "b_q", NN_INT32, 1, nd, h->b);
  init(g, "b_s", NN_FLOAT, 1, nd, bs);
  if (trans_b) {
    const int64_t wd[2] = {N, K};
    init(g, "w_q", NN_INT8, 2, wd, h->w);
    init(g, "w_s", NN_FLOAT, 1, nd, h->ws);
  } else {
    const int64_t wd[2] = {K, N};
    int8_t wt[K * N];
    for (int n = 0; n < N; n++)
      for (int k = 0; k < K; k++) wt[k * N + n] = h->w[n * K + k];
    init(g, "w_q", NN_INT8, 2, wd, wt);
    init(g, "w_s", NN_FLOAT, 0, one, &h->ws[0]);
  }
  const char *q1[] = {"x", "xs", "xz"}, *d1[] = {"xq", "xs", "xz"}, *dw[] = {"w_q", "w_s"},
             *db[] = {"b_q", "b_s"}, *gm[] = {"xd", "wd", "bd"}, *r[] = {"gm"},
             *q2[] = {"r", "ys", "yz"}, *d2[] = {"yq", "ys", "yz"};
  add(g, "QuantizeLinear", "q_x", 3, q1, "xq");
  add(g, "DequantizeLinear", "dq_x", 3, d1, "xd");
  int wi = add(g, "DequantizeLinear", "dq_w", 2, dw, "wd");
  int bi = add(g, "DequantizeLinear", "dq_b", 2, db, "bd");
  if (trans_b) nn_node_add_attr_int(&g->nodes[wi], "axis", 0);
  nn_node_add_attr_int(&g->nodes[bi], "axis", 0);
  int gi = add(g, "Gemm", "head", 3, gm, "gm");
  if (trans_b) nn_node_add_attr_int(&g->nodes[gi], "transB", 1);
  add(g, "Relu", "relu", 1, r, "r");
  add(g, "QuantizeLinear", "q_y", 3, q2, "yq");
  add(g, "DequantizeLinear", "dq_y", 3, d2, "y");
  io(g, "y", 0, 2, yd);
  nn_graph_build_maps(g, NULL);
  return m;
}

static int count_op(const nn_graph *g, const char *op) {
  int n = 0;
  for (int i = 0; i < g->n_nodes; i++) n += !strcmp(g->nodes[i].op_type, op);
  return n;
}

static int run(const nn_model *m, int qdq_as_float, int threads, const float *x, float *y) {
  nn_session *s = NULL;
  nn_session_options o = {.threads = threads, .qdq_as_float = qdq_as_float};
  if (nn_session_create(m, &o, &s)) return 0;
  nn_array in = {NN_FLOAT, 2, {M, K}, (void *)x, M * K * sizeof(float)};
  const char *names[1] = {"x"};
  int ok = !nn_session_run(s, 1, names, &in);
  const nn_array *out = ok ? nn_session_output(s, 0) : NULL;
  ok = out && out->nbytes == M * N * sizeof(float);
  if (ok) memcpy(y, out->data, out->nbytes);
  nn_session_free(s);
  return ok;
}

static void check_head(int trans_b) {
  head h;
  make_head(&h);
  float x[M * K], want[M * N], got[M * N], fq[M * N];
  uint8_t xq[M * K];
  for (int i = 0; i < M * K; i++) {
    xq[i] = (uint8_t)(rnd() % 256);
    x[i] = h.xs * (float)((int)xq[i] - h.xz);
  }
  /* The integer result: accumulate, add the bias, requantize (Relu is the range). */
  for (int mm = 0; mm < M; mm++)
    for (int n = 0; n < N; n++) {
      int32_t acc = h.b[n];
      for (int k = 0; k < K; k++) acc += ((int32_t)xq[mm * K + k] - h.xz) * h.w[n * K + k];
      const float ws = trans_b ? h.ws[n] : h.ws[0];
      const int32_t q = nn_requantize_one(acc, h.xs * ws / h.ys, 0, 0, 255);
      want[mm * N + n] = (float)q * h.ys;
    }
  if (!trans_b) /* one weight scale: the bias scale follows it */
    for (int n = 0; n < N; n++) h.ws[n] = h.ws[0];

  /* Graph in -> graph out. */
  nn_model *m = build(&h, trans_b);
  nn_model *low = build(&h, trans_b);
  int lowered = 0;
  CHECK(nn_pass_lower_qdq(low, &lowered) == NN_OK, "lower_qdq failed: %s", nn_last_error());
  const nn_graph *lg = low->graph;
  if (trans_b) {
    CHECK(count_op(lg, "Gemm") == 0 && count_op(lg, "QLinearConv") == 1 &&
              count_op(lg, "Reshape") == 2 && count_op(lg, "Relu") == 0,
          "transB head: %d Gemm, %d QLinearConv, %d Reshape, %d Relu after lowering",
          count_op(lg, "Gemm"), count_op(lg, "QLinearConv"), count_op(lg, "Reshape"),
          count_op(lg, "Relu"));
  } else {
    CHECK(count_op(lg, "Gemm") == 1 && count_op(lg, "QLinearConv") == 0,
          "transB = 0 head: %d Gemm, %d QLinearConv after lowering (want 1, 0)",
          count_op(lg, "Gemm"), count_op(lg, "QLinearConv"));
  }
  nn_model_free(low);

  /* Numerics: the integer session exactly (transB) and the float graph within a step. */
  for (int threads = 1; threads <= 2; threads++) {
    CHECK(run(m, 0, threads, x, got), "integer session failed: %s", nn_last_error());
    CHECK(run(m, 1, threads, x, fq), "float session failed: %s", nn_last_error());
    int exact = 0, close = 0;
    for (int i = 0; i < M * N; i++) {
      exact += got[i] == want[i];
      close += fabsf(fq[i] - got[i]) <= h.ys * 1.001f;
    }
    if (trans_b)
      CHECK(exact == M * N, "transB head, %d threads: %d of %d outputs exact", threads, exact,
            M * N);
    CHECK(close == M * N, "transB %d, %d threads: %d of %d outputs within a step of float",
          trans_b, threads, close, M * N);
  }
  nn_model_free(m);
}

/* x [1, 3, 5, 5] -> Q -> DQ -> Conv 1x1 (4 channels, DQ w per channel, DQ b) -> Relu -> Q
 * -> DQ -> c; Concat(c, DQ(xq)) -> Q -> DQ -> y [1, 7, 5, 5]. Every activation has scale
 * 0.25 and zero point 90. */
enum { C = 3, CO = 4, P = 25 };
static void check_relu_concat(void) {
  const float s = 0.25f;
  const uint8_t z = 90;
  float ws[CO];
  int8_t w[CO * C];
  int32_t b[CO];
  for (int o = 0; o < CO; o++) {
    ws[o] = 0.01f * (float)(1 + rnd() % 7);
    b[o] = (int32_t)(rnd() % 401) - 200;
  }
  for (int i = 0; i < CO * C; i++) w[i] = (int8_t)(rnd() % 255 - 127);
  nn_model *m = nn_model_new();
  m->ir_version = 8;
  m->n_opsets = 1;
  m->opsets = calloc(1, sizeof *m->opsets);
  m->opsets[0].domain = strdup("");
  m->opsets[0].version = 13;
  nn_graph *g = m->graph;
  const int64_t xd[4] = {1, C, 5, 5}, yd[4] = {1, C + CO, 5, 5}, wd[4] = {CO, C, 1, 1},
                od[1] = {CO}, one[1] = {1};
  io(g, "x", 1, 4, xd);
  init(g, "s", NN_FLOAT, 0, one, &s);
  init(g, "z", NN_UINT8, 0, one, &z);
  init(g, "w_q", NN_INT8, 4, wd, w);
  init(g, "w_s", NN_FLOAT, 1, od, ws);
  float bs[CO];
  for (int o = 0; o < CO; o++) bs[o] = s * ws[o];
  init(g, "b_q", NN_INT32, 1, od, b);
  init(g, "b_s", NN_FLOAT, 1, od, bs);
  const char *q1[] = {"x", "s", "z"}, *d1[] = {"xq", "s", "z"}, *dw[] = {"w_q", "w_s"},
             *db[] = {"b_q", "b_s"}, *cv[] = {"xd", "wd", "bd"}, *r[] = {"cv"},
             *q2[] = {"r", "s", "z"}, *d2[] = {"rq", "s", "z"}, *d3[] = {"xq", "s", "z"},
             *ct[] = {"rd", "xd2"}, *q3[] = {"cat", "s", "z"}, *d4[] = {"catq", "s", "z"};
  add(g, "QuantizeLinear", "q_x", 3, q1, "xq");
  add(g, "DequantizeLinear", "dq_x", 3, d1, "xd");
  nn_node_add_attr_int(&g->nodes[add(g, "DequantizeLinear", "dq_w", 2, dw, "wd")], "axis", 0);
  nn_node_add_attr_int(&g->nodes[add(g, "DequantizeLinear", "dq_b", 2, db, "bd")], "axis", 0);
  add(g, "Conv", "conv", 3, cv, "cv");
  add(g, "Relu", "relu", 1, r, "r");
  add(g, "QuantizeLinear", "q_r", 3, q2, "rq");
  add(g, "DequantizeLinear", "dq_r", 3, d2, "rd");
  add(g, "DequantizeLinear", "dq_x2", 3, d3, "xd2");
  nn_node_add_attr_int(&g->nodes[add(g, "Concat", "cat", 2, ct, "cat")], "axis", 1);
  add(g, "QuantizeLinear", "q_cat", 3, q3, "catq");
  add(g, "DequantizeLinear", "dq_cat", 3, d4, "y");
  io(g, "y", 0, 4, yd);
  nn_graph_build_maps(g, NULL);

  /* Graph in -> graph out (on a copy: the session lowers its own). */
  void *buf = NULL;
  size_t len = 0;
  nn_model *low = NULL;
  CHECK(nn_model_save_buffer(m, &buf, &len) == NN_OK &&
            nn_model_load_buffer(buf, len, NULL, "relu_concat.onnx", &low) == NN_OK,
        "copy failed: %s", nn_last_error());
  free(buf);
  if (!low) return;
  int lowered = 0;
  CHECK(nn_pass_lower_qdq(low, &lowered) == NN_OK, "lower_qdq failed: %s", nn_last_error());
  const nn_graph *lg = low->graph;
  CHECK(count_op(lg, "Relu") == 0 && count_op(lg, "Max") == 1 &&
            count_op(lg, "QLinearConv") == 1 && count_op(lg, "QuantizeLinear") == 1 &&
            count_op(lg, "DequantizeLinear") == 1,
        "after lowering: %d Relu, %d Max, %d QLinearConv, %d Q, %d DQ (want 0 1 1 1 1)",
        count_op(lg, "Relu"), count_op(lg, "Max"), count_op(lg, "QLinearConv"),
        count_op(lg, "QuantizeLinear"), count_op(lg, "DequantizeLinear"));
  nn_model_free(low);

  /* The integer result: Relu on codes is max(code, z); x passes through the Concat. */
  uint8_t xq[C * P];
  float x[C * P], want[(C + CO) * P], got[(C + CO) * P], fq[(C + CO) * P];
  for (int i = 0; i < C * P; i++) {
    xq[i] = (uint8_t)(rnd() % 256);
    x[i] = s * (float)((int)xq[i] - z);
  }
  for (int o = 0; o < CO; o++)
    for (int p = 0; p < P; p++) {
      int32_t acc = b[o];
      for (int c = 0; c < C; c++) acc += ((int32_t)xq[c * P + p] - z) * w[o * C + c];
      int32_t q = nn_requantize_one(acc, s * ws[o] / s, z, 0, 255);
      if (q < z) q = z;
      want[o * P + p] = (float)(q - z) * s;
    }
  for (int i = 0; i < C * P; i++) want[CO * P + i] = x[i];
  for (int threads = 1; threads <= 2; threads++) {
    nn_session *ss = NULL;
    int ok = 1;
    for (int f = 0; f < 2 && ok; f++) {
      nn_session_options o = {.threads = threads, .qdq_as_float = f};
      nn_array in = {NN_FLOAT, 4, {1, C, 5, 5}, x, sizeof x};
      const char *names[1] = {"x"};
      ok = !nn_session_create(m, &o, &ss) && !nn_session_run(ss, 1, names, &in);
      const nn_array *out = ok ? nn_session_output(ss, 0) : NULL;
      ok = out && out->nbytes == sizeof got;
      if (ok) memcpy(f ? fq : got, out->data, sizeof got);
      nn_session_free(ss);
      ss = NULL;
    }
    CHECK(ok, "relu/concat sessions failed: %s", nn_last_error());
    int exact = 0, close = 0;
    for (int i = 0; i < (C + CO) * P; i++) {
      exact += got[i] == want[i];
      close += fabsf(fq[i] - got[i]) <= s * 1.001f;
    }
    CHECK(exact == (C + CO) * P, "relu/concat, %d threads: %d of %d outputs exact", threads,
          exact, (C + CO) * P);
    CHECK(close == (C + CO) * P, "relu/concat, %d threads: %d of %d within a step of float",
          threads, close, (C + CO) * P);
  }
  nn_model_free(m);
}

int main(void) {
  check_head(1);
  check_head(0);
  check_relu_concat();
  printf("%d passed, %d failed\n", g_pass, g_fail);
  return g_fail ? 1 : 0;
}
