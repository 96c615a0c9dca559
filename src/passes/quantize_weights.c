/*
 * quantize_weights.c - weight-only compression for the smallest files: int8 weights
 * (symmetric, per output channel) behind DequantizeLinear, or float16 weights behind
 * Cast, with activations left in float. Runtimes dequantize the constants once at load
 * (nnopt folds them at plan time), so accuracy is that of the rounded weights.
 */
#include <stdio.h>
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

/* Whether every reader of t is one of the named nodes. */
static int read_only_by(const nn_graph *g, int t, const char *const *nodes, int n_nodes) {
  int readers = 0;
  for (int i = 0; i < g->n_nodes; i++)
    for (int j = 0; j < g->nodes[i].n_inputs; j++) {
      if (g->nodes[i].inputs[j] != t) continue;
      int listed = 0;
      for (int k = 0; k < n_nodes && !listed; k++)
        listed = g->nodes[i].name && !strcmp(g->nodes[i].name, nodes[k]);
      if (!listed) return 0;
      readers++;
    }
  return readers > 0;
}

static nn_status fp16_weights(nn_model *m, const char *const *nodes, int n_nodes,
                              nn_quant_report *rep) {
  nn_graph *g = m->graph;
  int n0 = g->n_inits;
  for (int k = 0; k < n0; k++) {
    int t = g->inits[k];
    if (!const_f32(g, t) || nn_tensor_numel(&g->tensors[t]) < 16) continue;
    if (nodes && !read_only_by(g, t, nodes, n_nodes)) continue;
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
  nn_status st = fmt == NN_WEIGHTS_FP16 ? fp16_weights(m, NULL, 0, rep) : int8_weights(m, opt, rep);
  int dead;
  if (!st) st = nn_pass_eliminate_dead(m, &dead);
  if (!st) st = nn_graph_sort(m->graph);
  return st;
}

nn_status nn_weights_to_fp16(nn_model *m, const char *const *nodes, int n_nodes,
                             int *converted) {
  nn_quant_report rep = {0};
  nn_status st = fp16_weights(m, nodes, n_nodes, &rep);
  int dead;
  if (!st) st = nn_pass_eliminate_dead(m, &dead);
  if (!st) st = nn_graph_sort(m->graph);
  if (converted) *converted = rep.weights;
  nn_quant_report_free(&rep);
  return st;
}

/* ---- INT4 block-wise weights: com.microsoft MatMulNBits ---- */

/* A MatMul/Gemm whose weight can go to MatMulNBits: its W = B^T as N x K, or -1. */
typedef struct int4_target {
  int node;
  int64_t K, N;
  int trans_b; /* B stored N x K (Gemm transB) */
} int4_target;

static int int4_candidate(const nn_graph *g, const nn_quant_options *opt, int i,
                          int4_target *t) {
  const nn_node *n = &g->nodes[i];
  if (n->domain[0] || n->n_inputs < 2 || n->n_outputs < 1 || excluded(opt, n)) return 0;
  const int is_gemm = !strcmp(n->op_type, "Gemm");
  if (!is_gemm && strcmp(n->op_type, "MatMul")) return 0;
  if (!const_f32(g, n->inputs[1]) || n->inputs[0] < 0) return 0;
  const nn_tensor *b = &g->tensors[n->inputs[1]];
  if (b->ndim != 2) return 0;
  t->trans_b = 0;
  if (is_gemm) {
    if (nn_attr_int(n, "transA", 0) || nn_attr_float(n, "alpha", 1.0f) != 1.0f) return 0;
    if (n->n_inputs > 2 && n->inputs[2] >= 0 && nn_attr_float(n, "beta", 1.0f) != 1.0f) return 0;
    t->trans_b = nn_attr_int(n, "transB", 0) != 0;
  }
  t->node = i;
  t->K = b->dims[t->trans_b ? 1 : 0];
  t->N = b->dims[t->trans_b ? 0 : 1];
  return t->K > 0 && t->N > 0;
}

/* Node t becomes MatMulNBits(A, codes, scales[, zero points]) (+ Add of Gemm's C). */
static nn_status int4_rewrite(nn_model *m, const int4_target *t, int64_t block, int symmetric,
                              uint8_t *packed, float *scales, uint8_t *zps) {
  nn_graph *g = m->graph;
  int64_t nb, blob, zpb;
  nn_int4_layout(t->K, block, &nb, &blob, &zpb);
  const char *wname = g->tensors[g->nodes[t->node].inputs[1]].name;
  char name[600];
  int64_t d3[3] = {t->N, nb, blob}, d1 = t->N * nb, dz = t->N * zpb;
  snprintf(name, sizeof name, "%s_Q4", wname);
  const int tq = nn_graph_add_initializer(g, name, NN_UINT8, 3, d3, packed);
  snprintf(name, sizeof name, "%s_scales", wname);
  const int ts = tq >= 0 ? nn_graph_add_initializer(g, name, NN_FLOAT, 1, &d1, scales) : -1;
  if (tq < 0) free(scales);
  int tz = -2;
  if (!symmetric) {
    snprintf(name, sizeof name, "%s_zero_points", wname);
    tz = ts >= 0 ? nn_graph_add_initializer(g, name, NN_UINT8, 1, &dz, zps) : -1;
    if (ts < 0) free(zps);
  }
  if (tq < 0 || ts < 0 || tz == -1) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  nn_node *n = &g->nodes[t->node];
  const int a = n->inputs[0];
  const int bias = n->n_inputs > 2 ? n->inputs[2] : -1;
  const int y = n->outputs[0];
  int *in = realloc(n->inputs, 4 * sizeof *in);
  if (!in) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  n->inputs = in;
  in[0] = a;
  in[1] = tq;
  in[2] = ts;
  in[3] = tz;
  n->n_inputs = symmetric ? 3 : 4;
  for (int k = 0; k < n->n_attrs; k++) nn_attr_free(&n->attrs[k]);
  n->n_attrs = 0;
  nn_status st;
  if ((st = nn_node_set_op(n, "MatMulNBits", "com.microsoft")) ||
      (st = nn_node_add_attr_int(n, "K", t->K)) || (st = nn_node_add_attr_int(n, "N", t->N)) ||
      (st = nn_node_add_attr_int(n, "bits", 4)) ||
      (st = nn_node_add_attr_int(n, "block_size", block)))
    return st;
  if (bias < 0) return NN_OK;
  /* Gemm's C: the product goes to a fresh tensor, Add writes the original output. */
  snprintf(name, sizeof name, "%s_nbits", g->tensors[y].name);
  const int mid = nn_graph_add_tensor(g, name);
  if (mid < 0) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  g->nodes[t->node].outputs[0] = mid;
  g->tensors[mid].dtype = NN_FLOAT;
  snprintf(name, sizeof name, "%s_bias", g->nodes[t->node].name ? g->nodes[t->node].name : "Gemm");
  char *an = nn_graph_unique_node_name(g, name);
  const int ins[2] = {mid, bias};
  const int c = an ? nn_graph_add_node(g, "Add", "", an, 2, ins, 1, &y) : -1;
  free(an);
  return c < 0 ? nn_errorf(NN_ERR_NOMEM, "out of memory") : NN_OK;
}

nn_status nn_quantize_weights_int4(nn_model *m, const nn_int4_options *o,
                                   const nn_quant_options *opt, nn_quant_report *rep) {
  nn_status st = NN_OK;
  nn_graph *g = m->graph;
  const int64_t block = o && o->block_size ? o->block_size : 32;
  const int symmetric = o ? o->symmetric : 0;
  memset(rep, 0, sizeof *rep);
  if (block < 16 || (block & (block - 1)))
    return nn_errorf(NN_ERR_INVALID, "int4 block size %lld: expected a power of two >= 16",
                     (long long)block);
  int4_target *tg = calloc((size_t)g->n_nodes + 1, sizeof *tg);
  int nt = 0;
  /* GPTQ: one Hessian per distinct input tensor (q, k and v share theirs). */
  int *hin = NULL;
  int64_t *hk = NULL, *hrows = NULL;
  double **H = NULL;
  int nh = 0;
  float *w = NULL;
  if (!tg) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  for (int i = 0; i < g->n_nodes; i++)
    if (int4_candidate(g, opt, i, &tg[nt])) nt++;
  if (o && o->calib && nt) {
    hin = calloc((size_t)nt, sizeof *hin);
    hk = calloc((size_t)nt, sizeof *hk);
    hrows = calloc((size_t)nt, sizeof *hrows);
    H = calloc((size_t)nt, sizeof *H);
    if (!hin || !hk || !hrows || !H) {
      st = nn_errorf(NN_ERR_NOMEM, "out of memory");
      goto done;
    }
    for (int k = 0; k < nt; k++) {
      const int a = g->nodes[tg[k].node].inputs[0];
      int j = 0;
      while (j < nh && hin[j] != a) j++;
      if (j < nh) {
        if (hk[j] != tg[k].K) {
          st = nn_errorf(NN_ERR_INVALID, "tensor '%s' feeds weights with K %lld and %lld",
                         g->tensors[a].name, (long long)hk[j], (long long)tg[k].K);
          goto done;
        }
        continue;
      }
      hin[nh] = a;
      hk[nh] = tg[k].K;
      if (!(H[nh] = malloc((size_t)(tg[k].K * tg[k].K) * sizeof **H))) {
        st = nn_errorf(NN_ERR_NOMEM, "out of memory for a %lld x %lld Hessian",
                       (long long)tg[k].K, (long long)tg[k].K);
        goto done;
      }
      nh++;
    }
    nn_gptq_hessians hs = {nh, hin, hk, H, hrows, 0};
    if ((st = nn_gptq_collect(m, o->calib, &o->config, &hs))) goto done;
  }
  for (int k = 0; k < nt; k++) {
    const int4_target *t = &tg[k];
    const nn_tensor *b = &g->tensors[g->nodes[t->node].inputs[1]];
    const float *bd = b->data;
    int64_t nb, blob, zpb;
    nn_int4_layout(t->K, block, &nb, &blob, &zpb);
    w = malloc((size_t)(t->N * t->K) * sizeof *w);
    uint8_t *packed = malloc((size_t)(t->N * nb * blob));
    float *scales = malloc((size_t)(t->N * nb) * sizeof *scales);
    uint8_t *zps = symmetric ? NULL : calloc((size_t)(t->N * zpb), 1);
    if (!w || !packed || !scales || (!symmetric && !zps)) {
      free(packed);
      free(scales);
      free(zps);
      st = nn_errorf(NN_ERR_NOMEM, "out of memory");
      goto done;
    }
    for (int64_t n = 0; n < t->N; n++)
      for (int64_t kk = 0; kk < t->K; kk++)
        w[n * t->K + kk] = t->trans_b ? bd[n * t->K + kk] : bd[kk * t->N + n];
    int h = -1;
    for (int j = 0; j < nh; j++)
      if (hin[j] == g->nodes[t->node].inputs[0]) h = j;
    if (h >= 0 && hrows[h] > 0) {
      /* GPTQ consumes its Hessian: work on a copy when another weight shares it. */
      double *hc = malloc((size_t)(t->K * t->K) * sizeof *hc);
      if (!hc) st = nn_errorf(NN_ERR_NOMEM, "out of memory");
      else {
        memcpy(hc, H[h], (size_t)(t->K * t->K) * sizeof *hc);
        st = nn_gptq_quantize(w, t->N, t->K, hc, block, symmetric, o->damp, packed, scales, zps);
        free(hc);
      }
      if (st) {
        const nn_node *n = &g->nodes[t->node];
        char msg[512];
        snprintf(msg, sizeof msg, "%s", nn_last_error());
        nn_status st2 =
            nn_errorf(st, "node '%s' (%s): %s", n->name ? n->name : "", n->op_type, msg);
        free(packed);
        free(scales);
        free(zps);
        st = st2;
        goto done;
      }
    } else {
      nn_int4_quantize_rtn(w, t->N, t->K, block, symmetric, packed, scales, zps);
    }
    free(w);
    w = NULL;
    if ((st = int4_rewrite(m, t, block, symmetric, packed, scales, zps))) goto done;
    rep->weights++;
    rep->quantized_nodes++;
  }
  if (nt) st = nn_model_ensure_opset(m, "com.microsoft", 1);
  int dead;
  if (!st) st = nn_pass_eliminate_dead(m, &dead);
  if (!st) st = nn_graph_sort(m->graph);
done:
  for (int j = 0; H && j < nh; j++) free(H[j]);
  free(H);
  free(hin);
  free(hk);
  free(hrows);
  free(w);
  free(tg);
  return st;
}
