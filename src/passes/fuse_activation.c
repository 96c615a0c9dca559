/*
 * fuse_activation.c - fold a residual Add and a Relu or Clip into the float32 Conv
 * that feeds them: Conv -> [Add(., Z)] -> [Relu/Clip] becomes one com.microsoft
 * FusedConv (ONNX Runtime's contrib op: Conv's attributes and inputs, the Add's other
 * operand as input Z, activation = "Relu" | "Clip" and, for Clip, activation_params =
 * [min, max]), whose kernels add Z and clamp in their epilogue instead of making more
 * passes over the tensor. Only when the conv output feeds nothing else, Z has the conv
 * output's shape (no broadcasting) and Clip's bounds are constants.
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

/* Known float32 shape of tensor t equal to that of u. */
static int same_known_shape(const nn_graph *g, int t, int u) {
  const nn_tensor *a = &g->tensors[t], *b = &g->tensors[u];
  if (a->dtype != NN_FLOAT || b->dtype != NN_FLOAT || a->ndim < 1 || a->ndim != b->ndim)
    return 0;
  for (int d = 0; d < a->ndim; d++)
    if (a->dims[d] < 0 || a->dims[d] != b->dims[d]) return 0;
  return 1;
}

/* A float32 Conv, or a FusedConv with neither activation nor Z yet, whose output t is
 * read once and is no graph output: its node index, or -1. */
static int sum_target(const nn_graph *g, const nn_use_map *uses, int t) {
  if (t < 0 || g->tensors[t].producer < 0) return -1;
  if (uses->off[t + 1] - uses->off[t] != 1 || (g->tensors[t].flags & NN_T_OUTPUT)) return -1;
  const int ci = g->tensors[t].producer;
  const nn_node *cv = &g->nodes[ci];
  const int conv = !strcmp(cv->op_type, "Conv") && !cv->domain[0];
  const int fused = !strcmp(cv->op_type, "FusedConv") && !strcmp(cv->domain, "com.microsoft");
  if ((!conv && !fused) || cv->n_outputs != 1 || cv->n_inputs < 2) return -1;
  if (fused && (nn_node_attr(cv, "activation") || (cv->n_inputs > 3 && cv->inputs[3] >= 0)))
    return -1;
  const int w = cv->inputs[1];
  if (w < 0 || g->tensors[w].dtype != NN_FLOAT) return -1;
  return ci;
}

/* Conv -> Add(., Z) into FusedConv(X, W, B, Z); the node order is re-sorted after, as Z
 * may be computed after the conv. */
static nn_status fuse_adds(nn_model *m, int *n_fused) {
  nn_graph *g = m->graph;
  nn_status st = NN_OK;
  nn_use_map uses = {0};
  unsigned char *kill = NULL;
  int shapes_inferred = 0;
  *n_fused = 0;
  NN_TRY(nn_graph_build_maps(g, &uses));
  kill = calloc((size_t)g->n_nodes + 1, 1);
  if (!kill) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  for (int i = 0; i < g->n_nodes; i++) {
    nn_node *add = &g->nodes[i];
    if (strcmp(add->op_type, "Add") || add->domain[0] || add->n_inputs != 2 ||
        add->n_outputs != 1 || add->outputs[0] < 0 || add->inputs[0] == add->inputs[1])
      continue;
    for (int side = 0; side < 2; side++) {
      const int c = add->inputs[side], z = add->inputs[1 - side];
      const int ci = sum_target(g, &uses, c);
      if (ci < 0 || kill[ci] || z < 0) continue;
      if (!same_known_shape(g, c, z) && !shapes_inferred) {
        /* shapes of intermediates are needed to rule out broadcasting */
        int n;
        shapes_inferred = 1;
        if (nn_pass_infer_shapes(m, &n)) nn_error_clear();
      }
      if (!same_known_shape(g, c, z)) continue;
      nn_node *cv = &g->nodes[ci];
      if (cv->n_inputs < 4) {
        int *in = realloc(cv->inputs, 4 * sizeof *in);
        if (!in) {
          st = nn_errorf(NN_ERR_NOMEM, "out of memory");
          goto done;
        }
        for (int k = cv->n_inputs; k < 4; k++) in[k] = -1;
        cv->inputs = in;
        cv->n_inputs = 4;
      }
      if ((st = nn_node_set_op(cv, "FusedConv", "com.microsoft"))) goto done;
      cv->inputs[3] = z;
      cv->outputs[0] = add->outputs[0];
      kill[i] = 1;
      (*n_fused)++;
      break;
    }
  }
  if (*n_fused) {
    if ((st = nn_model_ensure_opset(m, "com.microsoft", 1))) goto done;
    nn_graph_remove_nodes(g, kill);
    st = nn_graph_sort(g);
  }
done:
  nn_use_map_free(&uses);
  free(kill);
  return st;
}

nn_status nn_pass_fuse_conv_activation(nn_model *m, int *n_fused) {
  nn_graph *g = m->graph;
  nn_status st = NN_OK;
  nn_use_map uses = {0};
  unsigned char *kill = NULL;
  *n_fused = 0;
  NN_TRY(fuse_adds(m, n_fused));
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
    const int fused = !strcmp(cv->op_type, "FusedConv") &&
                      !strcmp(cv->domain, "com.microsoft") && !nn_node_attr(cv, "activation");
    if (kill[ci] || !(fused || (!strcmp(cv->op_type, "Conv") && !cv->domain[0])) ||
        cv->n_outputs != 1 || cv->n_inputs < 2)
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
