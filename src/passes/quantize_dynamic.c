/*
 * quantize_dynamic.c - dynamic quantization of MatMul/Gemm with constant weights, the
 * usual choice for transformers: weights become int8 (symmetric, per output column)
 * once; activations are quantized at run time per tensor. Each op becomes
 *   x -> DynamicQuantizeLinear -> (x_q, x_scale, x_zp)
 *   MatMulInteger(x_q, W_q, x_zp) -> Cast(float) -> Mul(x_scale * W_scale) [-> Add(bias)]
 * which is what ONNX Runtime's dynamic quantizer emits and runs with integer kernels.
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
  for (int k = 0; k < o->n_exclude; k++)
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

/* Rewrite node i (MatMul, or Gemm with transA = 0, alpha = beta = 1). */
static nn_status rewrite(nn_graph *g, int i) {
  nn_node *n = &g->nodes[i];
  int gemm = !strcmp(n->op_type, "Gemm");
  int trans_b = gemm && nn_attr_int(n, "transB", 0);
  int x = n->inputs[0], w = n->inputs[1], bias = gemm && n->n_inputs > 2 ? n->inputs[2] : -1;
  int y = n->outputs[0];
  const nn_tensor *wt = &g->tensors[w];
  int64_t K = trans_b ? wt->dims[1] : wt->dims[0], N = trans_b ? wt->dims[0] : wt->dims[1];
  const float *wd = wt->data;
  char base[512];
  snprintf(base, sizeof base, "%s", n->name && *n->name ? n->name : g->tensors[y].name);

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

  /* Tensors of the new chain. */
  const char *suffix[] = {"_x_quantized", "_x_scale", "_x_zero_point", "_int32", "_float",
                          "_scale", "_matmul"};
  int t[7];
  for (int k = 0; k < 7; k++) {
    snprintf(nm, sizeof nm, "%s%s", base, suffix[k]);
    if ((t[k] = nn_graph_add_tensor(g, nm)) < 0) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  }
  int out_mul = bias >= 0 ? t[6] : y;
  int dq_out[3] = {t[0], t[1], t[2]};
  snprintf(nm, sizeof nm, "%s_DynamicQuantizeLinear", base);
  char *dname = nn_graph_unique_node_name(g, nm);
  int d = dname ? nn_graph_add_node(g, "DynamicQuantizeLinear", "", dname, 1, &x, 3, dq_out) : -1;
  free(dname);
  int mi_in[3] = {t[0], wq, t[2]}, sm_in[2] = {t[1], ws}, mul_in[2] = {t[4], t[5]};
  snprintf(nm, sizeof nm, "%s_MatMulInteger", base);
  int mi = add_node1(g, "MatMulInteger", nm, 3, mi_in, t[3]);
  snprintf(nm, sizeof nm, "%s_Cast", base);
  int ca = add_node1(g, "Cast", nm, 1, &t[3], t[4]);
  snprintf(nm, sizeof nm, "%s_scale_Mul", base);
  int sm = add_node1(g, "Mul", nm, 2, sm_in, t[5]);
  snprintf(nm, sizeof nm, "%s_Mul", base);
  int mu = add_node1(g, "Mul", nm, 2, mul_in, out_mul);
  if (d < 0 || mi < 0 || ca < 0 || sm < 0 || mu < 0 ||
      nn_node_add_attr_int(&g->nodes[ca], "to", NN_FLOAT))
    return nn_errorf(NN_ERR_NOMEM, "out of memory");
  if (bias >= 0) {
    int add_in[2] = {t[6], bias};
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
  for (int i = 0; i < n0; i++) {
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
    if ((st = rewrite(g, i))) return st;
    rep->quantized_nodes++;
    rep->weights++;
  }
  int dead;
  if ((st = nn_pass_eliminate_dead(m, &dead))) return st;
  return nn_graph_sort(g);
}
