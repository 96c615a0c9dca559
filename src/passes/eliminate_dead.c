/*
 * eliminate_dead.c - remove nodes whose results nothing uses, then unused initializers.
 */
#include <stdlib.h>

#include "passes/passes.h"

nn_status nn_pass_eliminate_dead(nn_model *m, int *n_removed) {
  nn_graph *g = m->graph;
  nn_status st = NN_OK;
  unsigned char *kill = NULL, *used = NULL;
  nn_use_map uses = {0};
  *n_removed = 0;
  NN_TRY(nn_graph_build_maps(g, &uses));
  kill = calloc((size_t)g->n_nodes + 1, 1);
  used = calloc((size_t)g->n_tensors + 1, 1);
  if (!kill || !used) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  /* Mark live tensors backwards from the graph outputs. */
  int *order = malloc(((size_t)g->n_nodes + 1) * sizeof(int));
  if (!order) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  st = nn_graph_topo_order(g, order);
  if (st) {
    free(order);
    goto done;
  }
  for (int k = 0; k < g->n_outputs; k++) used[g->outputs[k]] = 1;
  for (int oi = g->n_nodes - 1; oi >= 0; oi--) {
    int i = order[oi];
    const nn_node *n = &g->nodes[i];
    int live = 0;
    for (int k = 0; k < n->n_outputs; k++) live |= n->outputs[k] >= 0 && used[n->outputs[k]];
    if (!live) {
      kill[i] = 1;
      (*n_removed)++;
      continue;
    }
    for (int k = 0; k < n->n_inputs; k++)
      if (n->inputs[k] >= 0) used[n->inputs[k]] = 1;
    int *caps = NULL, ncaps = 0;
    if ((st = nn_node_captures(g, n, &caps, &ncaps))) {
      free(order);
      goto done;
    }
    for (int k = 0; k < ncaps; k++) used[caps[k]] = 1;
    free(caps);
  }
  free(order);
  if (*n_removed) nn_graph_remove_nodes(g, kill);
  /* Initializers nothing reads (and that are not graph inputs) go too. */
  for (int k = g->n_inits - 1; k >= 0; k--) {
    int t = g->inits[k];
    nn_tensor *tt = &g->tensors[t];
    if (used[t] || (tt->flags & (NN_T_INPUT | NN_T_OUTPUT))) continue;
    nn_graph_list_remove(g->inits, &g->n_inits, t);
    nn_tensor_drop_data(tt);
    tt->flags &= ~(unsigned)NN_T_INITIALIZER;
  }
done:
  nn_use_map_free(&uses);
  free(kill);
  free(used);
  return st;
}
