/*
 * equalize.c - data-free cross-layer equalization (Nagel et al. 2019): for Conv1 ->
 * [Relu] -> Conv2, output channel i of Conv1 is divided by s_i and input channel i of
 * Conv2 multiplied by it, with s_i = sqrt(r1_i / r2_i) so both weight ranges become
 * sqrt(r1_i * r2_i). Relu(x / s) = Relu(x) / s for s > 0, so the float function is
 * unchanged while per-channel ranges even out, which helps per-tensor int8 weights.
 * Clip with a finite bound (ReLU6) is not scale-equivariant; such pairs are left alone.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"

typedef struct eq_pair {
  int conv1, conv2;
} eq_pair;

static int const_f32(const nn_graph *g, int t) {
  if (t < 0) return 0;
  const nn_tensor *tt = &g->tensors[t];
  return (tt->flags & NN_T_INITIALIZER) && !(tt->flags & NN_T_INPUT) && tt->data &&
         tt->dtype == NN_FLOAT && nn_tensor_numel(tt) > 0;
}

/* A float32 scalar initializer's value; an omitted input keeps *v. */
static int const_scalar(const nn_graph *g, int t, float *v) {
  if (t < 0) return 1;
  if (!const_f32(g, t) || nn_tensor_numel(&g->tensors[t]) != 1) return 0;
  *v = *(const float *)g->tensors[t].data;
  return 1;
}

/* Relu, or a Clip that is a Relu (min 0, no finite max): positively homogeneous. */
static int is_equivariant_act(const nn_model *m, const nn_node *n) {
  if (n->domain[0] || n->n_inputs < 1 || n->n_outputs != 1) return 0;
  if (!strcmp(n->op_type, "Relu")) return 1;
  if (strcmp(n->op_type, "Clip")) return 0;
  float lo = -FLT_MAX, hi = FLT_MAX;
  int64_t opset = nn_model_opset(m, "");
  if (opset >= 0 && opset < 11) {
    lo = nn_attr_float(n, "min", -FLT_MAX);
    hi = nn_attr_float(n, "max", FLT_MAX);
  } else if (!const_scalar(m->graph, n->n_inputs > 1 ? n->inputs[1] : -1, &lo) ||
             !const_scalar(m->graph, n->n_inputs > 2 ? n->inputs[2] : -1, &hi)) {
    return 0;
  }
  return lo == 0.0f && (isinf(hi) || hi >= FLT_MAX);
}

/* Index of the single node reading t (not a graph output), or -1. */
static int sole_consumer(const nn_graph *g, const nn_use_map *u, int t) {
  if (t < 0 || (g->tensors[t].flags & NN_T_OUTPUT)) return -1;
  if (u->off[t + 1] - u->off[t] != 1) return -1;
  return u->cons[u->off[t]];
}

static int is_conv(const nn_node *n) {
  return !strcmp(n->op_type, "Conv") && !n->domain[0] && n->n_inputs >= 2 && n->n_outputs == 1;
}

/* Conv2 of a pair starting at Conv1 ci, or -1. Shapes: W1 [C, ...], W2 [M, C/group, ...]. */
static int match_pair(const nn_model *m, const nn_use_map *u, int ci) {
  const nn_graph *g = m->graph;
  const nn_node *c1 = &g->nodes[ci];
  if (!is_conv(c1) || !const_f32(g, c1->inputs[1])) return -1;
  const nn_tensor *w1 = &g->tensors[c1->inputs[1]];
  if (w1->ndim < 3) return -1;
  int64_t ch = w1->dims[0];
  if (c1->n_inputs > 2 && c1->inputs[2] >= 0 &&
      (!const_f32(g, c1->inputs[2]) || nn_tensor_numel(&g->tensors[c1->inputs[2]]) != ch))
    return -1;
  int y = c1->outputs[0];
  int next = sole_consumer(g, u, y);
  if (next < 0) return -1;
  if (!is_conv(&g->nodes[next])) {
    if (!is_equivariant_act(m, &g->nodes[next]) || g->nodes[next].inputs[0] != y) return -1;
    y = g->nodes[next].outputs[0];
    next = sole_consumer(g, u, y);
    if (next < 0) return -1;
  }
  const nn_node *c2 = &g->nodes[next];
  if (!is_conv(c2) || c2->inputs[0] != y || c2->inputs[1] == y || !const_f32(g, c2->inputs[1]))
    return -1;
  for (int k = 2; k < c2->n_inputs; k++)
    if (c2->inputs[k] == y) return -1;
  const nn_tensor *w2 = &g->tensors[c2->inputs[1]];
  int64_t group = nn_attr_int(c2, "group", 1);
  if (w2->ndim < 3 || group < 1 || w2->dims[1] * group != ch || w2->dims[0] % group) return -1;
  return next;
}

/* Make the tensor in slot of node n a private initializer (copy-on-write when others
 * read it); uses describes the graph before any copy was made. */
static nn_status private_copy(nn_graph *g, nn_node *n, int slot, const nn_use_map *uses,
                              int n_orig) {
  int t = n->inputs[slot];
  if (t >= n_orig) return NN_OK; /* already a copy made by this pass */
  if (uses->off[t + 1] - uses->off[t] <= 1 && !(g->tensors[t].flags & NN_T_OUTPUT)) return NN_OK;
  nn_tensor tmp;
  if (nn_tensor_copy(&tmp, &g->tensors[t]))
    return nn_errorf(NN_ERR_NOMEM, "out of memory");
  char base[512];
  snprintf(base, sizeof base, "%s_cle", g->tensors[t].name);
  int c = nn_graph_add_initializer(g, base, NN_FLOAT, tmp.ndim, tmp.dims, tmp.data);
  tmp.data = NULL;
  nn_tensor_clear(&tmp);
  if (c < 0) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  n->inputs[slot] = c;
  return NN_OK;
}

/* One equalization step over the pair; returns 1 when some channel was rescaled. */
static int equalize_pair(nn_graph *g, const eq_pair *p) {
  nn_node *c1 = &g->nodes[p->conv1], *c2 = &g->nodes[p->conv2];
  nn_tensor *w1 = &g->tensors[c1->inputs[1]], *w2 = &g->tensors[c2->inputs[1]];
  float *b1 = c1->n_inputs > 2 && c1->inputs[2] >= 0 ? g->tensors[c1->inputs[2]].data : NULL;
  float *d1 = w1->data, *d2 = w2->data;
  const int64_t ch = w1->dims[0], per1 = nn_tensor_numel(w1) / ch;
  const int64_t group = nn_attr_int(c2, "group", 1), cpg = w2->dims[1];
  const int64_t opg = w2->dims[0] / group, k2 = nn_tensor_numel(w2) / (w2->dims[0] * cpg);
  int changed = 0;
  for (int64_t i = 0; i < ch; i++) {
    const int64_t gi = i / cpg, li = i % cpg;
    float r1 = 0.0f, r2 = 0.0f;
    for (int64_t j = 0; j < per1; j++) r1 = fmaxf(r1, fabsf(d1[i * per1 + j]));
    for (int64_t o = gi * opg; o < (gi + 1) * opg; o++)
      for (int64_t j = 0; j < k2; j++) r2 = fmaxf(r2, fabsf(d2[(o * cpg + li) * k2 + j]));
    /* A dead channel on either side carries no range to balance. */
    if (!(r1 > 0.0f) || !(r2 > 0.0f) || !isfinite(r1) || !isfinite(r2)) continue;
    const double s = sqrt((double)r1 / (double)r2);
    if (!(s > 0.0) || !isfinite(s) || s == 1.0) continue;
    for (int64_t j = 0; j < per1; j++) d1[i * per1 + j] = (float)(d1[i * per1 + j] / s);
    if (b1) b1[i] = (float)(b1[i] / s);
    for (int64_t o = gi * opg; o < (gi + 1) * opg; o++)
      for (int64_t j = 0; j < k2; j++) {
        float *w = &d2[(o * cpg + li) * k2 + j];
        *w = (float)(*w * s);
      }
    changed = 1;
  }
  return changed;
}

nn_status nn_pass_equalize(nn_model *m, int iterations, int *n_pairs) {
  nn_graph *g = m->graph;
  nn_status st = NN_OK;
  nn_use_map uses = {0};
  eq_pair *pairs = NULL;
  int np = 0;
  *n_pairs = 0;
  if (iterations < 1) return NN_OK;
  NN_TRY(nn_graph_build_maps(g, &uses));
  const int n_orig = g->n_tensors;
  pairs = malloc(((size_t)g->n_nodes + 1) * sizeof *pairs);
  if (!pairs) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  /* Find every pair first; a Conv may be Conv2 of one pair and Conv1 of the next. */
  for (int i = 0; i < g->n_nodes; i++) {
    int j = match_pair(m, &uses, i);
    if (j >= 0) pairs[np++] = (eq_pair){i, j};
  }
  /* Weights shared with other readers are copied before they are rescaled. */
  for (int k = 0; k < np; k++) {
    nn_node *c1 = &g->nodes[pairs[k].conv1], *c2 = &g->nodes[pairs[k].conv2];
    NN_TRY(private_copy(g, c1, 1, &uses, n_orig));
    if (c1->n_inputs > 2 && c1->inputs[2] >= 0) NN_TRY(private_copy(g, c1, 2, &uses, n_orig));
    NN_TRY(private_copy(g, c2, 1, &uses, n_orig));
  }
  unsigned char *done_any = calloc((size_t)np + 1, 1);
  if (!done_any) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  for (int it = 0; it < iterations; it++)
    for (int k = 0; k < np; k++) done_any[k] |= (unsigned char)equalize_pair(g, &pairs[k]);
  for (int k = 0; k < np; k++) *n_pairs += done_any[k];
  free(done_any);
  if (np) {
    int removed;
    st = nn_pass_eliminate_dead(m, &removed); /* originals nobody reads after copies */
  }
done:
  nn_use_map_free(&uses);
  free(pairs);
  return st;
}
