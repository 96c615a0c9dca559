/*
 * fuse_activation.c - fold a Relu or Clip into the float32 Conv that feeds it:
 * Conv -> Relu/Clip becomes one com.microsoft FusedConv (ONNX Runtime's contrib op:
 * Conv's attributes plus activation = "Relu" | "Clip" and, for Clip,
 * activation_params = [min, max]), whose kernels clamp in their epilogue instead of
 * making another pass over the tensor. Only when the conv output feeds nothing else
 * and Clip's bounds are constants.
 */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"

/* A float32 scalar initializer's value (Clip-11 min/max inputs). */
static int const_scalar(const nn_graph *g, int t, float *v) {
  if (t < 0) return 1; /* omitted: keep the default */
  const nn_tensor *tt = &g->tensors[t];
  if (!(tt->flags & NN_T_INITIALIZER) || (tt->flags & NN_T_INPUT) || !tt->data ||
      tt->dtype != NN_FLOAT || nn_tensor_numel(tt) != 1)
    return 0;
  *v = *(const float *)tt->data;
  return 1;
}

static nn_status add_attr(nn_node *n, const nn_attr *src) {
  nn_attr *a = realloc(n->attrs, (size_t)(n->n_attrs + 1) * sizeof *a);
  if (!a) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  n->attrs = a;
  n->attrs[n->n_attrs++] = *src;
  return NN_OK;
}

static nn_status set_activation(nn_node *cv, const char *act, const float *params, int np) {
  nn_attr a;
  memset(&a, 0, sizeof a);
  a.name = strdup("activation");
  a.type = NN_ATTR_STRING;
  a.s.len = strlen(act);
  a.s.data = strdup(act);
  if (!a.name || !a.s.data || add_attr(cv, &a)) {
    free(a.name);
    free(a.s.data);
    return nn_errorf(NN_ERR_NOMEM, "out of memory");
  }
  if (!np) return NN_OK;
  memset(&a, 0, sizeof a);
  a.name = strdup("activation_params");
  a.type = NN_ATTR_FLOATS;
  a.n = np;
  a.floats = malloc((size_t)np * sizeof *a.floats);
  if (!a.name || !a.floats || add_attr(cv, &a)) {
    free(a.name);
    free(a.floats);
    return nn_errorf(NN_ERR_NOMEM, "out of memory");
  }
  memcpy(a.floats, params, (size_t)np * sizeof *params);
  return NN_OK;
}

nn_status nn_pass_fuse_conv_activation(nn_model *m, int *n_fused) {
  nn_graph *g = m->graph;
  nn_status st = NN_OK;
  nn_use_map uses = {0};
  unsigned char *kill = NULL;
  *n_fused = 0;
  NN_TRY(nn_graph_build_maps(g, &uses));
  kill = calloc((size_t)g->n_nodes + 1, 1);
  if (!kill) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  const int64_t opset = nn_model_opset(m, "");
  for (int i = 0; i < g->n_nodes; i++) {
    nn_node *act = &g->nodes[i];
    const int relu = !strcmp(act->op_type, "Relu"), clip = !strcmp(act->op_type, "Clip");
    if ((!relu && !clip) || act->domain[0] || act->n_inputs < 1 || act->n_outputs != 1)
      continue;
    const int x = act->inputs[0];
    if (x < 0 || g->tensors[x].producer < 0 || act->outputs[0] < 0) continue;
    if (uses.off[x + 1] - uses.off[x] != 1 || (g->tensors[x].flags & NN_T_OUTPUT)) continue;
    const int ci = g->tensors[x].producer;
    nn_node *cv = &g->nodes[ci];
    if (kill[ci] || strcmp(cv->op_type, "Conv") || cv->domain[0] || cv->n_outputs != 1 ||
        cv->n_inputs < 2)
      continue;
    const int w = cv->inputs[1];
    if (w < 0 || g->tensors[w].dtype != NN_FLOAT) continue;
    float mm[2] = {-FLT_MAX, FLT_MAX};
    if (clip) {
      if (opset >= 0 && opset < 11) {
        mm[0] = nn_attr_float(act, "min", -FLT_MAX);
        mm[1] = nn_attr_float(act, "max", FLT_MAX);
      } else if (!const_scalar(g, act->n_inputs > 1 ? act->inputs[1] : -1, &mm[0]) ||
                 !const_scalar(g, act->n_inputs > 2 ? act->inputs[2] : -1, &mm[1])) {
        continue;
      }
    }
    if ((st = nn_node_set_op(cv, "FusedConv", "com.microsoft")) ||
        (st = set_activation(cv, relu ? "Relu" : "Clip", mm, clip ? 2 : 0)))
      goto done;
    cv->outputs[0] = act->outputs[0];
    kill[i] = 1;
    (*n_fused)++;
  }
  if (*n_fused) {
    if ((st = nn_model_ensure_opset(m, "com.microsoft", 1))) goto done;
    nn_graph_remove_nodes(g, kill);
    int removed;
    st = nn_pass_eliminate_dead(m, &removed); /* Clip bounds nobody reads now */
  }
done:
  nn_use_map_free(&uses);
  free(kill);
  return st;
}
