/*
 * quantize_weights.c - weight-only compression for the smallest files: int8 weights
 * (symmetric, per output channel) behind DequantizeLinear, or float16 weights behind
 * Cast, with activations left in float. Runtimes dequantize the constants once at load
 * (nnopt folds them at plan time), so accuracy is that of the rounded weights.
 */
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "passes/passes.h"
#include "quant/quantize.h"

static int excluded(const nn_quant_options *o, const nn_node *n) {
  for (int k = 0; o && k < o->n_exclude; k++)
    if (!strcmp(o->exclude[k], n->op_type) || (n->name && !strcmp(o->exclude[k], n->name)))
      return 1;
  return 0;
}

static int const_f32(const nn_graph *g, int t) {
  return t >= 0 && (g->tensors[t].flags & NN_T_INITIALIZER) && g->tensors[t].data &&
         !(g->tensors[t].flags & NN_T_INPUT) && g->tensors[t].dtype == NN_FLOAT;
}

static nn_status int8_weights(nn_model *m, const nn_quant_options *opt, nn_quant_report *rep) {
  nn_graph *g = m->graph;
  int opset = (int)nn_model_opset(m, "");
  if (opset < 10)
    return nn_errorf(NN_ERR_UNSUPPORTED, "int8 weights need opset 10 or newer (the model has %d)",
                     opset);
  int n0 = g->n_nodes;
  for (int i = 0; i < n0; i++) {
    const nn_node *n = &g->nodes[i];
    if (n->domain[0] || n->n_inputs < 2) continue;
    if (strcmp(n->op_type, "Conv") && strcmp(n->op_type, "ConvTranspose") &&
        strcmp(n->op_type, "Gemm") && strcmp(n->op_type, "MatMul"))
      continue;
    if (!const_f32(g, n->inputs[1]) || excluded(opt, n)) continue;
    int axis = nn_qdq_weight_axis(n, &g->tensors[n->inputs[1]], opt ? opt->per_channel : 1, opset);
    float *sc = NULL;
    int64_t nsc;
    nn_status st = nn_qdq_weight(g, i, 1, axis, &sc, &nsc);
    free(sc);
    if (st) return st;
    rep->weights++;
    rep->quantized_nodes++;
  }
  return NN_OK;
}

static nn_status fp16_weights(nn_model *m, nn_quant_report *rep) {
  nn_graph *g = m->graph;
  int n0 = g->n_inits;
  for (int k = 0; k < n0; k++) {
    int t = g->inits[k];
    if (!const_f32(g, t) || nn_tensor_numel(&g->tensors[t]) < 16) continue;
    const nn_tensor *src = &g->tensors[t];
    int64_t n = nn_tensor_numel(src);
    uint16_t *h = malloc((size_t)n * sizeof *h);
    if (!h) return nn_errorf(NN_ERR_NOMEM, "out of memory");
    for (int64_t j = 0; j < n; j++) h[j] = nn_f32_to_f16(((const float *)src->data)[j]);
    char name[600];
    snprintf(name, sizeof name, "%s_fp16", src->name);
    int64_t dims[NN_MAX_DIMS];
    int ndim = src->ndim;
    memcpy(dims, src->dims, sizeof dims);
    int h16 = nn_graph_add_initializer(g, name, NN_FLOAT16, ndim, dims, h);
    int out = h16 >= 0 ? nn_graph_add_tensor(g, g->tensors[t].name) : -1;
    if (out < 0) return nn_errorf(NN_ERR_NOMEM, "out of memory");
    /* Readers of the float initializer now read Cast(fp16 copy). */
    for (int i = 0; i < g->n_nodes; i++)
      for (int j = 0; j < g->nodes[i].n_inputs; j++)
        if (g->nodes[i].inputs[j] == t) g->nodes[i].inputs[j] = out;
    snprintf(name, sizeof name, "%s_Cast", g->tensors[t].name);
    char *cn = nn_graph_unique_node_name(g, name);
    int c = cn ? nn_graph_add_node(g, "Cast", "", cn, 1, &h16, 1, &out) : -1;
    free(cn);
    if (c < 0 || nn_node_add_attr_int(&g->nodes[c], "to", NN_FLOAT))
      return nn_errorf(NN_ERR_NOMEM, "out of memory");
    g->tensors[out].dtype = NN_FLOAT;
    rep->weights++;
  }
  return NN_OK;
}

nn_status nn_quantize_weights_only(nn_model *m, nn_weight_format fmt,
                                   const nn_quant_options *opt, nn_quant_report *rep) {
  memset(rep, 0, sizeof *rep);
  nn_status st = fmt == NN_WEIGHTS_FP16 ? fp16_weights(m, rep) : int8_weights(m, opt, rep);
  int dead;
  if (!st) st = nn_pass_eliminate_dead(m, &dead);
  if (!st) st = nn_graph_sort(m->graph);
  return st;
}
