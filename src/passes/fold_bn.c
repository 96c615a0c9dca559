/*
 * fold_bn.c - fold an inference-mode BatchNormalization into the Conv, ConvTranspose
 * or Gemm that feeds it: y = s * (conv(x) + b - mean) + beta with s = gamma /
 * sqrt(var + eps) becomes conv'(x) with W' = W * s (per output channel) and
 * b' = (b - mean) * s + beta. Only float32 constants are folded.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"

static const nn_tensor *const_f32(const nn_graph *g, int t, int64_t numel) {
  if (t < 0) return NULL;
  const nn_tensor *tt = &g->tensors[t];
  if (!(tt->flags & NN_T_INITIALIZER) || !tt->data || tt->dtype != NN_FLOAT ||
      (tt->flags & NN_T_INPUT))
    return NULL;
  return numel < 0 || nn_tensor_numel(tt) == numel ? tt : NULL;
}

/* Make t a private initializer (copy-on-write when others read it). */
static int private_copy(nn_graph *g, nn_node *n, int slot, const nn_use_map *uses) {
  int t = n->inputs[slot];
  if (uses->off[t + 1] - uses->off[t] <= 1 && !(g->tensors[t].flags & NN_T_OUTPUT)) return t;
  char name[512];
  for (int k = 0;; k++) {
    snprintf(name, sizeof name, "%s_bnfold%d", g->tensors[t].name, k);
    if (nn_graph_find(g, name) < 0) break;
  }
  int c = nn_graph_intern(g, name);
  if (c < 0) return -1;
  nn_tensor tmp;
  if (nn_tensor_copy(&tmp, &g->tensors[t])) return -1;
  free(tmp.name);
  tmp.name = g->tensors[c].name;
  tmp.flags = NN_T_INITIALIZER;
  g->tensors[c] = tmp;
  if (nn_graph_list_push(&g->inits, &g->n_inits, c)) return -1;
  n->inputs[slot] = c;
  return c;
}

nn_status nn_pass_fold_batchnorm(nn_model *m, int *n_folded) {
  nn_graph *g = m->graph;
  nn_status st = NN_OK;
  nn_use_map uses = {0};
  unsigned char *kill = NULL;
  *n_folded = 0;
  NN_TRY(nn_graph_build_maps(g, &uses));
  kill = calloc((size_t)g->n_nodes + 1, 1);
  if (!kill) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  for (int i = 0; i < g->n_nodes; i++) {
    nn_node *bn = &g->nodes[i];
    if (strcmp(bn->op_type, "BatchNormalization") || bn->domain[0] || bn->n_inputs < 5)
      continue;
    if (nn_attr_int(bn, "training_mode", 0)) continue;
    int valid_outputs = 0;
    for (int k = 0; k < bn->n_outputs; k++) valid_outputs += bn->outputs[k] >= 0;
    if (valid_outputs != 1 || bn->outputs[0] < 0) continue;
    int x = bn->inputs[0];
    if (x < 0 || g->tensors[x].producer < 0) continue;
    if (uses.off[x + 1] - uses.off[x] != 1 || (g->tensors[x].flags & NN_T_OUTPUT)) continue;
    nn_node *cv = &g->nodes[g->tensors[x].producer];
    int is_conv = !strcmp(cv->op_type, "Conv"), is_convt = !strcmp(cv->op_type, "ConvTranspose");
    int is_gemm = !strcmp(cv->op_type, "Gemm");
    if ((!is_conv && !is_convt && !is_gemm) || cv->domain[0] || cv->n_outputs != 1) continue;
    if (cv->n_inputs < 2) continue;
    const nn_tensor *w = const_f32(g, cv->inputs[1], -1);
    if (!w || w->ndim < 2) continue;
    int64_t group = nn_attr_int(cv, "group", 1);
    int64_t cout;
    if (is_conv) cout = w->dims[0];
    else if (is_convt) cout = w->dims[1] * group;
    else {
      if (nn_attr_int(cv, "transA", 0) || w->ndim != 2) continue;
      cout = nn_attr_int(cv, "transB", 0) ? w->dims[0] : w->dims[1];
    }
    const nn_tensor *gam = const_f32(g, bn->inputs[1], cout), *beta = const_f32(g, bn->inputs[2], cout),
                    *mean = const_f32(g, bn->inputs[3], cout), *var = const_f32(g, bn->inputs[4], cout);
    if (!gam || !beta || !mean || !var) continue;
    const nn_tensor *b = cv->n_inputs > 2 ? const_f32(g, cv->inputs[2], cout) : NULL;
    if (cv->n_inputs > 2 && cv->inputs[2] >= 0 && !b) continue;
    if (is_gemm && (nn_attr_float(cv, "alpha", 1.0f) != 1.0f || nn_attr_float(cv, "beta", 1.0f) != 1.0f))
      continue;
    float eps = nn_attr_float(bn, "epsilon", 1e-5f);
    float *s = malloc((size_t)cout * sizeof *s);
    if (!s) {
      st = nn_errorf(NN_ERR_NOMEM, "out of memory");
      goto done;
    }
    /* Tensor structs may move as tensors are added below; their data does not. */
    const float *gp = gam->data, *vp = var->data, *mp = mean->data, *bp = beta->data;
    const float *ob = b ? b->data : NULL;
    for (int64_t c = 0; c < cout; c++) s[c] = gp[c] / sqrtf(vp[c] + eps);

    /* Scale the weights per output channel. */
    int wt = private_copy(g, cv, 1, &uses);
    if (wt < 0) {
      free(s);
      st = nn_errorf(NN_ERR_NOMEM, "out of memory");
      goto done;
    }
    nn_tensor *wm = &g->tensors[wt];
    float *wd = wm->data;
    int64_t numel = nn_tensor_numel(wm);
    if (is_conv) {
      int64_t per = numel / cout;
      for (int64_t c = 0; c < cout; c++)
        for (int64_t j = 0; j < per; j++) wd[c * per + j] *= s[c];
    } else if (is_convt) { /* [Cin, Cout/group, k...] */
      int64_t cin = wm->dims[0], cpg = wm->dims[1], ksz = numel / (cin * cpg);
      for (int64_t ci = 0; ci < cin; ci++) {
        int64_t gi = ci / (cin / group);
        for (int64_t co = 0; co < cpg; co++)
          for (int64_t j = 0; j < ksz; j++) wd[(ci * cpg + co) * ksz + j] *= s[gi * cpg + co];
      }
    } else if (nn_attr_int(cv, "transB", 0)) { /* [N, K] */
      int64_t k = wm->dims[1];
      for (int64_t c = 0; c < cout; c++)
        for (int64_t j = 0; j < k; j++) wd[c * k + j] *= s[c];
    } else { /* [K, N] */
      int64_t k = wm->dims[0];
      for (int64_t j = 0; j < k; j++)
        for (int64_t c = 0; c < cout; c++) wd[j * cout + c] *= s[c];
    }

    /* New bias b' = (b - mean) * s + beta, as a fresh initializer. */
    char name[512];
    for (int k = 0;; k++) {
      snprintf(name, sizeof name, "%s_bias_bnfold%d", cv->name && *cv->name ? cv->name : "conv", k);
      if (nn_graph_find(g, name) < 0) break;
    }
    int bt = nn_graph_intern(g, name);
    float *nb = malloc((size_t)cout * sizeof *nb);
    if (bt < 0 || !nb) {
      free(s);
      free(nb);
      st = nn_errorf(NN_ERR_NOMEM, "out of memory");
      goto done;
    }
    for (int64_t c = 0; c < cout; c++) nb[c] = ((ob ? ob[c] : 0.0f) - mp[c]) * s[c] + bp[c];
    free(s);
    nn_tensor *btt = &g->tensors[bt];
    btt->dtype = NN_FLOAT;
    btt->ndim = 1;
    btt->dims[0] = cout;
    btt->data = nb;
    btt->nbytes = (size_t)cout * sizeof *nb;
    btt->flags = NN_T_INITIALIZER;
    NN_TRY(nn_graph_list_push(&g->inits, &g->n_inits, bt));
    if (cv->n_inputs < 3) {
      int *in = realloc(cv->inputs, 3 * sizeof *in);
      if (!in) {
        st = nn_errorf(NN_ERR_NOMEM, "out of memory");
        goto done;
      }
      cv->inputs = in;
      cv->n_inputs = 3;
    }
    cv->inputs[2] = bt;
    /* The conv now produces the BN's output tensor directly. */
    cv->outputs[0] = bn->outputs[0];
    kill[i] = 1;
    (*n_folded)++;
  }
  if (*n_folded) {
    nn_graph_remove_nodes(g, kill);
    int removed;
    st = nn_pass_eliminate_dead(m, &removed); /* drops BN params nobody reads now */
  }
done:
  nn_use_map_free(&uses);
  free(kill);
  return st;
}
