/*
 * infer_shapes.c - write the dtypes and shapes the planner infers back into the IR,
 * so they are saved as value_info and available to later passes.
 */
#include <string.h>

#include "passes/passes.h"
#include "runtime/session.h"

nn_status nn_pass_infer_shapes(nn_model *m, int *n_tensors) {
  nn_graph *g = m->graph;
  nn_session *s = NULL;
  int all_static = 1, count = 0;
  *n_tensors = 0;
  for (int k = 0; k < g->n_inputs; k++) {
    const nn_tensor *t = &g->tensors[g->inputs[k]];
    if (t->flags & NN_T_INITIALIZER) continue;
    if (nn_tensor_numel(t) < 0) all_static = 0;
  }
  nn_status st = nn_session_create_planned(m, &s);
  if (st) return st;
  for (int i = 0; i < g->n_nodes; i++)
    for (int k = 0; k < g->nodes[i].n_outputs; k++) {
      int t = g->nodes[i].outputs[k];
      if (t < 0) continue;
      nn_tensor *tt = &g->tensors[t];
      const nn_value *v = nn_session_value(s, t);
      if (!v || v->ndim < 0 || (v->flags & NN_V_DYNAMIC) || tt->type_shell.len) continue;
      if (tt->dtype == NN_UNDEFINED) tt->dtype = v->dtype;
      if (tt->ndim < 0) {
        tt->ndim = v->ndim;
        for (int d = 0; d < v->ndim; d++) tt->dims[d] = all_static ? v->dims[d] : -1;
      } else if (all_static && tt->ndim == v->ndim) {
        for (int d = 0; d < v->ndim; d++)
          if (tt->dims[d] < 0 && !tt->dim_param[d]) tt->dims[d] = v->dims[d];
      }
      if (!(tt->flags & (NN_T_OUTPUT | NN_T_VALUE_INFO))) {
        tt->flags |= NN_T_VALUE_INFO;
        if ((st = nn_graph_list_push(&g->value_infos, &g->n_value_infos, t))) goto done;
      }
      count++;
    }
  *n_tensors = count;
done:
  nn_session_free(s);
  return st;
}
