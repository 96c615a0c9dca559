/*
 * ptq.c - static post-training quantization, end to end: prepare the float graph,
 * calibrate it, choose ranges, rewrite it to QDQ.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"
#include "quant/quantize.h"

/* Append one line to the report's notes. */
static nn_status add_note(nn_quant_report *rep, const char *line) {
  size_t have = rep->notes ? strlen(rep->notes) : 0, add = strlen(line);
  char *p = realloc(rep->notes, have + add + 2);
  if (!p) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  memcpy(p + have, line, add);
  p[have + add] = '\n';
  p[have + add + 1] = 0;
  rep->notes = p;
  return NN_OK;
}

/* Ops the QDQ rewrite has no integer form for (LSTM, GRU, Einsum, ...) keep their float
 * weights and run in float; the report names each one that holds a weight (a float
 * initializer of 16 values or more), so a user sees where the model stays float. */
static nn_status note_float_weights(const nn_graph *g, nn_quant_report *rep) {
  static const char *const handled[] = {"Conv", "ConvTranspose", "Gemm", "MatMul",
                                        "DequantizeLinear", "QuantizeLinear", NULL};
  for (int i = 0; i < g->n_nodes; i++) {
    const nn_node *n = &g->nodes[i];
    int known = 0;
    for (int k = 0; handled[k]; k++) known |= !strcmp(n->op_type, handled[k]);
    if (known) continue;
    for (int k = 0; k < n->n_inputs; k++) {
      int t = n->inputs[k];
      if (t < 0 || !g->tensors[t].data || g->tensors[t].dtype != NN_FLOAT ||
          nn_tensor_numel(&g->tensors[t]) < 16)
        continue;
      char label[256], line[400];
      nn_node_label(g, i, label, sizeof label);
      snprintf(line, sizeof line,
               "%s: kept in float (nnopt does not quantize %s; weight '%s' stays float32)",
               label, n->op_type, g->tensors[t].name);
      rep->float_nodes++;
      nn_status st = add_note(rep, line);
      if (st) return st;
      break;
    }
  }
  return NN_OK;
}

/* Float weights and input means of the Conv/Gemm layers, kept across the QDQ rewrite
 * (which replaces the weights) for bias correction. */
static nn_status bias_refs(const nn_model *m, const nn_calib_result *cr,
                           nn_bias_correction_ref **out, int *n_out) {
  const nn_graph *g = m->graph;
  nn_bias_correction_ref *refs = calloc((size_t)g->n_nodes + 1, sizeof *refs);
  int n = 0;
  if (!refs) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  *out = refs;
  for (int i = 0; i < g->n_nodes; i++) {
    const nn_node *nd = &g->nodes[i];
    if (strcmp(nd->op_type, "Conv") && strcmp(nd->op_type, "Gemm")) continue;
    if (nd->n_inputs < 2 || nd->inputs[0] < 0 || nd->inputs[1] < 0 || !nd->name) continue;
    const nn_tensor *w = &g->tensors[nd->inputs[1]];
    if (!w->data || w->dtype != NN_FLOAT || !cr->means || nd->inputs[0] >= cr->n_tensors ||
        !cr->means[nd->inputs[0]])
      continue;
    refs[n].node = nn_strdup(nd->name);
    refs[n].weight = malloc(w->nbytes ? w->nbytes : 1);
    refs[n].numel = nn_tensor_numel(w);
    refs[n].mean = cr->means[nd->inputs[0]];
    n++;
    *n_out = n;
    if (!refs[n - 1].node || !refs[n - 1].weight)
      return nn_errorf(NN_ERR_NOMEM, "out of memory");
    memcpy((float *)refs[n - 1].weight, w->data, w->nbytes);
  }
  return NN_OK;
}

nn_status nn_ptq_static(nn_model *m, nn_dataset *calib, const nn_ptq_options *opt,
                        nn_quant_report *rep) {
  nn_status st = NN_OK;
  nn_calib_result cr = {0};
  nn_tensor_range *ranges = NULL;
  nn_bias_correction_ref *refs = NULL;
  int n_refs = 0;
  int folded, bn, dead;
  NN_TRY(nn_pass_fold_constants(m, &folded));
  NN_TRY(nn_pass_fold_batchnorm(m, &bn));
  NN_TRY(nn_pass_eliminate_dead(m, &dead));
  if (opt->smooth_alpha > 0) {
    int smoothed;
    NN_TRY(nn_pass_smooth_quant(m, calib, opt->config.limit, opt->smooth_alpha, &smoothed));
  }
  if (opt->equalize > 0) {
    int pairs;
    NN_TRY(nn_pass_equalize(m, opt->equalize, &pairs));
  }
  NN_TRY(nn_graph_sort(m->graph));
  nn_calib_config cc = opt->config;
  cc.channel_means = opt->bias_correction;
  NN_TRY(nn_calibrate(m, calib, &cc, &cr));
  if (opt->bias_correction) NN_TRY(bias_refs(m, &cr, &refs, &n_refs));
  ranges = calloc((size_t)cr.n_tensors + 1, sizeof *ranges);
  if (!ranges) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  NN_TRY(nn_calib_ranges(&cr, &opt->calib, ranges));
  /* Clipping methods trade outliers for resolution, which is wrong for the model's
   * outputs: clipped logits tie at the top and change the argmax. Outputs keep their
   * full observed range. */
  for (int k = 0; k < m->graph->n_outputs; k++) {
    int t = m->graph->outputs[k];
    nn_calib_options mm = opt->calib;
    mm.method = NN_CALIB_MINMAX;
    if (t < cr.n_tensors && cr.observers[t] && cr.observers[t]->count)
      NN_TRY(nn_observer_range(cr.observers[t], &mm, &ranges[t].lo, &ranges[t].hi));
  }
  NN_TRY(nn_quantize_qdq(m, ranges, &opt->quant, rep));
  NN_TRY(note_float_weights(m->graph, rep));
  if (opt->bias_correction) {
    int corrected;
    NN_TRY(nn_pass_bias_correct(m, refs, n_refs, &corrected));
    rep->bias_corrected = corrected;
  }
done:
  for (int k = 0; k < n_refs; k++) {
    free((char *)refs[k].node);
    free((float *)refs[k].weight);
  }
  free(refs);
  nn_calib_result_free(&cr);
  free(ranges);
  return st;
}
