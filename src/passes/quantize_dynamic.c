/*
 * quantize_dynamic.c - dynamic quantization of MatMul/Gemm with constant weights, the
 * usual choice for transformers: weights become int8 (symmetric, per output column)
 * once; activations are quantized at run time per tensor, once per tensor however many
 * MatMuls read it (the Q, K and V projections share one). Each op becomes
 *   x -> DynamicQuantizeLinear -> (x_q, x_scale, x_zp)
 *   MatMulIntegerToFloat(x_q, W_q, x_scale, W_scale, x_zp, -, bias)   (com.microsoft)
 * the fused form ONNX Runtime's optimizer makes of MatMulInteger -> Cast -> Mul -> Add
 * and runs natively, so both runtimes execute the same file with fused kernels.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"
#include "quant/quantize.h"

static int is_const_f32(const nn_graph *g, int t) {
  return t >= 0 && (g->tensors[t].flags & NN_T_INITIALIZER) && g->tensors[t].data &&
         !(g->tensors[t].flags & NN_T_INPUT) && g->tensors[t].dtype == NN_FLOAT;
}

static int excluded(const nn_quant_options *o, const nn_node *n) {
  for (int k = 0; o && k < o->n_exclude; k++)
    if (!strcmp(o->exclude[k], n->op_type) || (n->name && !strcmp(o->exclude[k], n->name)))
      return 1;
  return 0;
}

/* A node with one output; returns its index (or -1). Names are derived from base. */
static int add_node1(nn_graph *g, const char *op, const char *base, int n_in, const int *in,
                     int out) {
  char *name = nn_graph_unique_node_name(g, base);
  int i = name ? nn_graph_add_node(g, op, "", name, n_in, in, 1, &out) : -1;
  free(name);
  return i;
}

/* DynamicQuantizeLinear outputs per quantized input tensor (-1: not yet made). */
typedef struct dq_memo {
  int n;
  int (*out)[3];
} dq_memo;

/* Rewrite node i (MatMul, or Gemm with transA = 0, alpha = beta = 1). add_node >= 0: a
 * bias Add reading only the MatMul's output (add_bias its constant input), folded in. */
static nn_status rewrite(nn_graph *g, int i, dq_memo *memo, int add_node, int add_bias) {
  nn_node *n = &g->nodes[i];
  int gemm = !strcmp(n->op_type, "Gemm");
  int trans_b = gemm && nn_attr_int(n, "transB", 0);
  int x = n->inputs[0], w = n->inputs[1], bias = gemm && n->n_inputs > 2 ? n->inputs[2] : -1;
  int y = n->outputs[0];
  if (add_node >= 0) {
    bias = add_bias;
    y = g->nodes[add_node].outputs[0];
    /* The Add stops producing its output; dead-node elimination removes it. */
    if ((g->nodes[add_node].outputs[0] = nn_graph_add_tensor(g, "dynamic_quant_replaced")) < 0)
      return nn_errorf(NN_ERR_NOMEM, "out of memory");
    n = &g->nodes[i];
  }
  const nn_tensor *wt = &g->tensors[w];
  int64_t K = trans_b ? wt->dims[1] : wt->dims[0], N = trans_b ? wt->dims[0] : wt->dims[1];
  const float *wd = wt->data;
  char base[512];
  snprintf(base, sizeof base, "%s", n->name && *n->name ? n->name : g->tensors[y].name);
  /* A 1-D bias of N values goes into the fused op; any other broadcast stays an Add. */
  const int fuse_bias = bias >= 0 && g->tensors[bias].ndim == 1 && g->tensors[bias].dims[0] == N;

  /* Weights: int8 [K, N], symmetric per column. */
  int8_t *q = malloc((size_t)(K * N > 0 ? K * N : 1));
  float *sc = malloc((size_t)N * sizeof *sc);
  if (!q || !sc) {
    free(q);
    free(sc);
    return nn_errorf(NN_ERR_NOMEM, "out of memory");
  }
  for (int64_t c = 0; c < N; c++) {
    float m = 0;
    for (int64_t k = 0; k < K; k++) m = fmaxf(m, fabsf(wd[trans_b ? c * K + k : k * N + c]));
    sc[c] = m > 0 ? m / 127.0f : 1.0f;
  }
  for (int64_t k = 0; k < K; k++)
    for (int64_t c = 0; c < N; c++) {
      float v = nearbyintf(wd[trans_b ? c * K + k : k * N + c] / sc[c]);
      q[k * N + c] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
    }
  char nm[600];
  int64_t kn[2] = {K, N};
  snprintf(nm, sizeof nm, "%s_W_quantized", base);
  int wq = nn_graph_add_initializer(g, nm, NN_INT8, 2, kn, q);
  snprintf(nm, sizeof nm, "%s_W_scale", base);
  int ws = nn_graph_add_initializer(g, nm, NN_FLOAT, 1, &N, sc);
  if (wq < 0 || ws < 0) return nn_errorf(NN_ERR_NOMEM, "out of memory");

  /* The activation's DynamicQuantizeLinear, shared by every MatMul reading x. */
  int *dq = x < memo->n ? memo->out[x] : NULL;
  int dq_local[3] = {-1, -1, -1};
  if (!dq) dq = dq_local;
  if (dq[0] < 0) {
    const char *suffix[] = {"_quantized", "_scale", "_zero_point"};
    for (int k = 0; k < 3; k++) {
      snprintf(nm, sizeof nm, "%s%s", g->tensors[x].name, suffix[k]);
      if ((dq[k] = nn_graph_add_tensor(g, nm)) < 0) return nn_errorf(NN_ERR_NOMEM, "out of memory");
    }
    snprintf(nm, sizeof nm, "%s_DynamicQuantizeLinear", g->tensors[x].name);
    char *dname = nn_graph_unique_node_name(g, nm);
    int d = dname ? nn_graph_add_node(g, "DynamicQuantizeLinear", "", dname, 1, &x, 3, dq) : -1;
    free(dname);
    if (d < 0) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  }
  int out_mm = y;
  if (bias >= 0 && !fuse_bias) {
    snprintf(nm, sizeof nm, "%s_matmul", base);
    if ((out_mm = nn_graph_add_tensor(g, nm)) < 0) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  }
  int mm_in[7] = {dq[0], wq, dq[1], ws, dq[2], -1, fuse_bias ? bias : -1};
  snprintf(nm, sizeof nm, "%s_MatMulIntegerToFloat", base);
  char *mname = nn_graph_unique_node_name(g, nm);
  int mi = mname ? nn_graph_add_node(g, "MatMulIntegerToFloat", "com.microsoft", mname,
                                     fuse_bias ? 7 : 5, mm_in, 1, &out_mm)
                 : -1;
  free(mname);
  if (mi < 0) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  if (bias >= 0 && !fuse_bias) {
    int add_in[2] = {out_mm, bias};
    snprintf(nm, sizeof nm, "%s_bias_Add", base);
    if (add_node1(g, "Add", nm, 2, add_in, y) < 0) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  }
  /* The original node stops producing y; dead-node elimination removes it. */
  g->nodes[i].outputs[0] = nn_graph_add_tensor(g, "dynamic_quant_replaced");
  return g->nodes[i].outputs[0] < 0 ? nn_errorf(NN_ERR_NOMEM, "out of memory") : NN_OK;
}

nn_status nn_quantize_dynamic(nn_model *m, const nn_quant_options *opt, nn_quant_report *rep) {
  nn_graph *g = m->graph;
  nn_status st = NN_OK;
  memset(rep, 0, sizeof *rep);
  if (nn_model_opset(m, "") < 11)
    return nn_errorf(NN_ERR_UNSUPPORTED,
                     "dynamic quantization needs opset 11 or newer (the model has %lld)",
                     (long long)nn_model_opset(m, ""));
  int n0 = g->n_nodes;
  dq_memo memo = {.n = g->n_tensors, .out = malloc((size_t)(g->n_tensors + 1) * sizeof *memo.out)};
  if (!memo.out) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  for (int t = 0; t < memo.n; t++) memo.out[t][0] = memo.out[t][1] = memo.out[t][2] = -1;
  nn_use_map uses = {0};
  if ((st = nn_graph_build_maps(g, &uses))) {
    free(memo.out);
    return st;
  }
  for (int i = 0; i < n0 && !st; i++) {
    const nn_node *n = &g->nodes[i];
    int mm = !strcmp(n->op_type, "MatMul"), gemm = !strcmp(n->op_type, "Gemm");
    if (n->domain[0] || (!mm && !gemm) || n->n_inputs < 2 || n->n_outputs != 1) continue;
    if (excluded(opt, n)) {
      rep->float_nodes++;
      continue;
    }
    int w = n->inputs[1];
    if (!is_const_f32(g, w) || g->tensors[w].ndim != 2) continue;
    if (gemm && (nn_attr_int(n, "transA", 0) || nn_attr_float(n, "alpha", 1) != 1 ||
                 nn_attr_float(n, "beta", 1) != 1))
      continue;
    if (gemm && n->n_inputs > 2 && n->inputs[2] >= 0 && !is_const_f32(g, n->inputs[2])) continue;
    /* MatMul + Add(constant [N]) as exported from Linear layers: fold the bias. */
    int add_node = -1, add_bias = -1;
    const int y = n->outputs[0];
    if (mm && y >= 0 && !(g->tensors[y].flags & NN_T_OUTPUT) &&
        uses.off[y + 1] - uses.off[y] == 1) {
      const nn_node *a = &g->nodes[uses.cons[uses.off[y]]];
      const int64_t ncol = g->tensors[w].dims[1];
      if (!a->domain[0] && !strcmp(a->op_type, "Add") && a->n_inputs == 2 && a->n_outputs == 1 &&
          (a->inputs[0] == y) != (a->inputs[1] == y)) {
        const int b = a->inputs[a->inputs[0] == y ? 1 : 0];
        if (is_const_f32(g, b) && g->tensors[b].ndim == 1 && g->tensors[b].dims[0] == ncol) {
          add_node = uses.cons[uses.off[y]];
          add_bias = b;
        }
      }
    }
    if ((st = rewrite(g, i, &memo, add_node, add_bias))) break;
    rep->quantized_nodes++;
    rep->weights++;
  }
  free(memo.out);
  nn_use_map_free(&uses);
  if (st) return st;
  if (rep->quantized_nodes && (st = nn_model_ensure_opset(m, "com.microsoft", 1))) return st;
  int dead;
  if ((st = nn_pass_eliminate_dead(m, &dead))) return st;
  return nn_graph_sort(g);
}
