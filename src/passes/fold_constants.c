/*
 * fold_constants.c - replace nodes computable from constants by initializers, using
 * the executor's plan-time folding (so folding and execution share one semantics).
 */
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"
#include "runtime/session.h"

/* Materializing outputs far larger than the inputs only bloats the file. */
static int worth_materializing(const nn_graph *g, const nn_session *s, int i) {
  const nn_node *n = &g->nodes[i];
  size_t in_bytes = 0, out_bytes = 0;
  for (int k = 0; k < n->n_inputs; k++)
    if (n->inputs[k] >= 0) in_bytes += nn_session_value(s, n->inputs[k])->nbytes;
  for (int k = 0; k < n->n_outputs; k++)
    if (n->outputs[k] >= 0) out_bytes += nn_session_value(s, n->outputs[k])->nbytes;
  return out_bytes <= 65536 || out_bytes <= 2 * in_bytes + 1024;
}

nn_status nn_pass_fold_constants(nn_model *m, int *n_folded) {
  nn_graph *g = m->graph;
  nn_session *s = NULL;
  nn_status st = NN_OK;
  unsigned char *kill = NULL, *need = NULL;
  nn_use_map uses = {0};
  *n_folded = 0;
  NN_TRY(nn_session_create_constants_only(m, &s));
  NN_TRY(nn_graph_build_maps(g, &uses));
  kill = calloc((size_t)g->n_nodes + 1, 1);
  need = calloc((size_t)g->n_tensors + 1, 1);
  if (!kill || !need) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  /* A folded value must become an initializer if anything that stays reads it. */
  /* DequantizeLinear of a constant stays: its integer input is the compact form of a
   * weight, and the DQ -> op -> Q pattern is what integer execution (nnopt's lowering,
   * ONNX Runtime's QDQ fusion) recognizes. Folding it would store float weights. */
  for (int i = 0; i < g->n_nodes; i++)
    kill[i] = nn_session_node_folded(s, i) &&
              strcmp(g->nodes[i].op_type, "DequantizeLinear") &&
              (worth_materializing(g, s, i) || !strcmp(g->nodes[i].op_type, "Constant"));
  /* ... and so does everything computed from it (kill = 2 marks that chain). */
  for (int i = 0; i < g->n_nodes; i++)
    if (nn_session_node_folded(s, i) && !strcmp(g->nodes[i].op_type, "DequantizeLinear"))
      kill[i] = 2;
  for (int changed = 1; changed;) {
    changed = 0;
    for (int i = 0; i < g->n_nodes; i++) {
      const nn_node *n = &g->nodes[i];
      for (int k = 0; kill[i] == 1 && k < n->n_inputs; k++) {
        int p = n->inputs[k] >= 0 ? g->tensors[n->inputs[k]].producer : -1;
        if (p >= 0 && kill[p] == 2) kill[i] = 2, changed = 1;
      }
    }
  }
  for (int i = 0; i < g->n_nodes; i++)
    if (kill[i] == 2) kill[i] = 0;
  for (int t = 0; t < g->n_tensors; t++) {
    int p = g->tensors[t].producer;
    if (p < 0 || !kill[p]) continue;
    if (g->tensors[t].flags & NN_T_OUTPUT) need[t] = 1;
    for (int u = uses.off[t]; u < uses.off[t + 1]; u++)
      if (!kill[uses.cons[u]]) need[t] = 1;
  }
  for (int t = 0; t < g->n_tensors; t++) {
    if (!need[t]) continue;
    const nn_value *v = nn_session_value(s, t);
    nn_tensor *tt = &g->tensors[t];
    void *data = malloc(v->nbytes ? v->nbytes : 1);
    if (!data) {
      st = nn_errorf(NN_ERR_NOMEM, "out of memory folding '%s'", tt->name);
      goto done;
    }
    if (v->dtype == NN_STRING) {
      const nn_bytes *src = v->data;
      nn_bytes *dst = data;
      for (int64_t j = 0; j < nn_value_numel(v); j++) {
        dst[j].len = src[j].len;
        dst[j].data = nn_strndup(src[j].data, src[j].len);
      }
    } else if (v->nbytes) {
      memcpy(data, v->data, v->nbytes);
    }
    nn_tensor_drop_data(tt);
    tt->data = data;
    tt->nbytes = v->nbytes;
    tt->dtype = v->dtype;
    tt->ndim = v->ndim;
    memcpy(tt->dims, v->dims, sizeof tt->dims);
    if (!(tt->flags & NN_T_INITIALIZER)) {
      tt->flags |= NN_T_INITIALIZER;
      NN_TRY(nn_graph_list_push(&g->inits, &g->n_inits, t));
    }
    if (tt->flags & NN_T_VALUE_INFO) {
      tt->flags &= ~(unsigned)NN_T_VALUE_INFO;
      nn_graph_list_remove(g->value_infos, &g->n_value_infos, t);
    }
  }
  for (int i = 0; i < g->n_nodes; i++) *n_folded += kill[i];
  nn_session_free(s); /* before the graph changes under it */
  s = NULL;
  if (*n_folded) nn_graph_remove_nodes(g, kill);
done:
  nn_use_map_free(&uses);
  nn_session_free(s);
  free(kill);
  free(need);
  return st;
}
