/*
 * quantize_qdq.c - rewrite a float graph into QDQ form from calibrated ranges.
 * Activations feeding quantizable ops get a QuantizeLinear/DequantizeLinear pair
 * right after their producer (every consumer reads the dequantized value, as ONNX
 * Runtime's quantizer does); weights become int8 initializers (symmetric, per output
 * channel) behind a DequantizeLinear; biases become int32 with scale = input scale x
 * weight scale. Conv/Gemm/MatMul/Add followed by Relu or Clip(0, x) is one unit: only
 * the activation's output is quantized. Data-movement ops pass their input's
 * parameters through; Concat inputs share one range.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"
#include "quant/quantize.h"

enum { Q_NONE = 0, Q_OP = 1, Q_FUSED_ACT = 2 };

typedef struct qstate {
  nn_model *m;
  nn_graph *g;
  const nn_quant_options *opt;
  nn_quant_report *rep;
  size_t notes_len, notes_cap;
  int n0;              /* tensors before the rewrite */
  unsigned char *mark; /* per tensor: quantize this activation */
  int *share;          /* per tensor: take parameters from this tensor, or -1 */
  nn_qparams *qp;      /* per tensor */
  unsigned char *has_qp;
  int *dq_of;          /* per tensor: its dequantized twin, or -1 */
  unsigned char *qnode;
  int opset;
} qstate;

static const char *const k_weighted[] = {"Conv", "ConvTranspose", "Gemm", "MatMul", NULL};
static const char *const k_binary[] = {"Add", "Mul", NULL};
static const char *const k_unary[] = {"MaxPool",     "AveragePool", "GlobalAveragePool",
                                      "GlobalMaxPool", "Resize",    "Sigmoid",
                                      "HardSigmoid", "HardSwish",   "Tanh",
                                      "LeakyRelu",   "Relu",        "Clip",
                                      NULL};
static const char *const k_passthrough[] = {"Reshape", "Flatten",   "Transpose", "Squeeze",
                                            "Unsqueeze", "Identity", NULL};

static int in_list(const char *op, const char *const *list);

int nn_qdq_is_unit_op(const char *op_type) {
  return in_list(op_type, k_weighted) || in_list(op_type, k_binary) ||
         in_list(op_type, k_unary) || !strcmp(op_type, "Concat");
}

static int in_list(const char *op, const char *const *list) {
  for (; *list; list++)
    if (!strcmp(op, *list)) return 1;
  return 0;
}

static void note(qstate *q, const char *fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n >= sizeof line) n = sizeof line - 1;
  if (q->notes_len + (size_t)n + 2 > q->notes_cap) {
    size_t cap = q->notes_cap ? q->notes_cap * 2 : 1024;
    while (cap < q->notes_len + (size_t)n + 2) cap *= 2;
    char *p = realloc(q->rep->notes, cap);
    if (!p) return;
    q->rep->notes = p;
    q->notes_cap = cap;
  }
  memcpy(q->rep->notes + q->notes_len, line, (size_t)n);
  q->notes_len += (size_t)n;
  q->rep->notes[q->notes_len++] = '\n';
  q->rep->notes[q->notes_len] = 0;
}

static int is_const(const nn_graph *g, int t) {
  return t >= 0 && (g->tensors[t].flags & NN_T_INITIALIZER) && g->tensors[t].data &&
         !(g->tensors[t].flags & NN_T_INPUT);
}

static int excluded(const qstate *q, const nn_node *n) {
  for (int k = 0; k < q->opt->n_exclude; k++) {
    const char *e = q->opt->exclude[k];
    if (!strcmp(e, n->op_type) || (n->name && !strcmp(e, n->name))) return 1;
  }
  return 0;
}

/* The Relu/Clip(min >= 0) that is the only reader of t, or -1. */
static int fusable_activation(const qstate *q, const nn_use_map *u, int t) {
  const nn_graph *g = q->g;
  if (t < 0 || u->off[t + 1] - u->off[t] != 1 || (g->tensors[t].flags & NN_T_OUTPUT))
    return -1;
  int c = u->cons[u->off[t]];
  const nn_node *n = &g->nodes[c];
  if (n->domain[0] || n->n_inputs < 1 || n->inputs[0] != t) return -1;
  if (!strcmp(n->op_type, "Relu")) return c;
  if (strcmp(n->op_type, "Clip")) return -1;
  float lo;
  if (q->opset < 11) {
    lo = nn_attr_float(n, "min", -INFINITY);
  } else {
    if (n->n_inputs < 2 || !is_const(g, n->inputs[1])) return -1;
    const nn_tensor *mt = &g->tensors[n->inputs[1]];
    if (mt->dtype != NN_FLOAT || nn_tensor_numel(mt) != 1) return -1;
    lo = *(const float *)mt->data;
  }
  return lo >= 0 ? c : -1;
}

static int float_act(const nn_graph *g, int t) {
  return t >= 0 && !is_const(g, t) &&
         (g->tensors[t].dtype == NN_FLOAT || g->tensors[t].dtype == NN_UNDEFINED);
}

/* Choose the ops to quantize and the activations to quantize. */
static nn_status select_ops(qstate *q, const nn_use_map *u, const int *order) {
  nn_graph *g = q->g;
  int first = -1, last = -1;
  for (int oi = 0; oi < g->n_nodes; oi++) {
    int i = order[oi];
    const nn_node *n = &g->nodes[i];
    if (n->domain[0] || !in_list(n->op_type, k_weighted)) continue;
    if (first < 0) first = i;
    last = i;
  }
  for (int oi = 0; oi < g->n_nodes; oi++) {
    int i = order[oi];
    const nn_node *n = &g->nodes[i];
    char label[256];
    if (n->domain[0] || q->qnode[i] == Q_FUSED_ACT) continue;
    int weighted = in_list(n->op_type, k_weighted), binary = in_list(n->op_type, k_binary);
    int unary = in_list(n->op_type, k_unary), concat = !strcmp(n->op_type, "Concat");
    if (!weighted && !binary && !unary && !concat) continue;
    nn_node_label(g, i, label, sizeof label);
    if (excluded(q, n)) {
      note(q, "%s: kept in float (excluded)", label);
      q->rep->float_nodes++;
      /* Its Relu/Clip stays float with it (quantizing the activation alone would
       * quantize the excluded node's output all the same). */
      int act = weighted || binary ? fusable_activation(q, u, n->outputs[0]) : -1;
      if (act >= 0) q->qnode[act] = Q_FUSED_ACT;
      continue;
    }
    if (q->opt->keep_first_last && (i == first || i == last)) {
      note(q, "%s: kept in float (first/last layer)", label);
      q->rep->float_nodes++;
      continue;
    }
    int ok = n->n_inputs > 0 && float_act(g, n->inputs[0]);
    if (binary) ok = ok && n->n_inputs == 2 && float_act(g, n->inputs[1]);
    if (concat)
      for (int k = 0; k < n->n_inputs; k++) ok = ok && float_act(g, n->inputs[k]);
    if (!ok) {
      if (weighted || binary) {
        note(q, "%s: kept in float (inputs are not float activations)", label);
        q->rep->float_nodes++;
      }
      continue;
    }
    q->qnode[i] = Q_OP;
    /* Activation inputs. */
    int nact = binary || concat ? n->n_inputs : 1;
    if (!strcmp(n->op_type, "MatMul") && !is_const(g, n->inputs[1])) nact = 2;
    for (int k = 0; k < nact; k++)
      if (float_act(g, n->inputs[k])) q->mark[n->inputs[k]] = 1;
    /* Output, or the output of a fused Relu/Clip. */
    int out = n->outputs[0];
    if (weighted || binary) {
      int act = fusable_activation(q, u, out);
      if (act >= 0) {
        q->qnode[act] = Q_FUSED_ACT;
        out = g->nodes[act].outputs[0];
      }
    }
    if (out >= 0) q->mark[out] = 1;
  }
  /* Data movement keeps the quantized domain: output shares the input's parameters. */
  for (int oi = 0; oi < g->n_nodes; oi++) {
    int i = order[oi];
    const nn_node *n = &g->nodes[i];
    if (n->domain[0] || !in_list(n->op_type, k_passthrough) || excluded(q, n)) continue;
    int in = n->inputs[0], out = n->outputs[0];
    if (in < 0 || out < 0 || !q->mark[in]) continue;
    q->mark[out] = 1;
    q->share[out] = q->share[in] >= 0 ? q->share[in] : in;
    q->qnode[i] = Q_OP;
  }
  /* Ops whose inputs pass parameters through unchanged (MaxPool, Resize). */
  for (int oi = 0; oi < g->n_nodes; oi++) {
    int i = order[oi];
    const nn_node *n = &g->nodes[i];
    if (q->qnode[i] != Q_OP) continue;
    if (strcmp(n->op_type, "MaxPool") && strcmp(n->op_type, "GlobalMaxPool") &&
        strcmp(n->op_type, "Resize"))
      continue;
    int in = n->inputs[0], out = n->outputs[0];
    if (out >= 0 && q->share[out] < 0) q->share[out] = q->share[in] >= 0 ? q->share[in] : in;
  }
  return NN_OK;
}

static nn_status compute_qparams(qstate *q, const nn_tensor_range *ranges, const int *order) {
  nn_graph *g = q->g;
  int sym = q->opt->act_signed && q->opt->act_symmetric;
  /* Concat: one range over inputs and output, applied to all of them. */
  for (int oi = 0; oi < g->n_nodes; oi++) {
    int i = order[oi];
    const nn_node *n = &g->nodes[i];
    if (q->qnode[i] != Q_OP || strcmp(n->op_type, "Concat")) continue;
    float lo = 0, hi = 0;
    int valid = 1;
    for (int k = 0; k <= n->n_inputs; k++) {
      int t = k < n->n_inputs ? n->inputs[k] : n->outputs[0];
      if (!ranges[t].valid) valid = 0;
      else lo = fminf(lo, ranges[t].lo), hi = fmaxf(hi, ranges[t].hi);
    }
    if (!valid) continue;
    nn_qparams p = nn_qparams_from_range(lo, hi, 8, sym, q->opt->act_signed);
    for (int k = 0; k <= n->n_inputs; k++) {
      int t = k < n->n_inputs ? n->inputs[k] : n->outputs[0];
      q->qp[t] = p;
      q->has_qp[t] = 1;
    }
  }
  for (int t = 0; t < q->n0; t++) {
    if (!q->mark[t] || q->has_qp[t] || q->share[t] >= 0) continue;
    if (!ranges[t].valid) {
      q->mark[t] = 0;
      note(q, "tensor '%s': not quantized (no calibration data reached it)",
           g->tensors[t].name);
      continue;
    }
    q->qp[t] = nn_qparams_from_range(ranges[t].lo, ranges[t].hi, 8, sym, q->opt->act_signed);
    q->has_qp[t] = 1;
  }
  for (int t = 0; t < q->n0; t++) {
    if (!q->mark[t] || q->share[t] < 0) continue;
    int r = q->share[t];
    if (!q->has_qp[r] || !q->mark[r]) {
      q->mark[t] = 0;
      continue;
    }
    q->qp[t] = q->qp[r];
    q->has_qp[t] = 1;
  }
  return NN_OK;
}

static int add_scalar_f32(nn_graph *g, const char *base, float v) {
  float *d = malloc(sizeof *d);
  if (!d) return -1;
  *d = v;
  return nn_graph_add_initializer(g, base, NN_FLOAT, 0, NULL, d);
}

static int add_zero_point(nn_graph *g, const char *base, nn_dtype dt, int64_t n, int ndim,
                          const int32_t *vals) {
  size_t es = nn_dtype_size(dt);
  void *d = calloc((size_t)(n ? n : 1), es);
  if (!d) return -1;
  for (int64_t i = 0; vals && i < n; i++) {
    if (dt == NN_UINT8) ((uint8_t *)d)[i] = (uint8_t)vals[i];
    else if (dt == NN_INT8) ((int8_t *)d)[i] = (int8_t)vals[i];
  }
  return nn_graph_add_initializer(g, base, dt, ndim, &n, d);
}

static char *name_with(const char *a, const char *suffix) {
  size_t n = strlen(a) + strlen(suffix) + 1;
  char *s = malloc(n);
  if (s) snprintf(s, n, "%s%s", a, suffix);
  return s;
}

/* Insert Q -> DQ after activation t; every reader of t (but the Q) reads the DQ. */
static nn_status insert_qdq(qstate *q, int t) {
  nn_graph *g = q->g;
  nn_dtype qt = q->opt->act_signed ? NN_INT8 : NN_UINT8;
  int is_out = (g->tensors[t].flags & NN_T_OUTPUT) && g->tensors[t].producer >= 0;
  char *nm = strdup(g->tensors[t].name), *b1 = name_with(nm, "_scale"),
       *b2 = name_with(nm, "_zero_point"), *b3 = name_with(nm, "_quantized"),
       *b4 = name_with(nm, is_out ? "_float" : "_dequantized"),
       *b5 = name_with(nm, "_QuantizeLinear"),
       *b6 = name_with(nm, "_DequantizeLinear");
  nn_status st = NN_OK;
  if (!nm || !b1 || !b2 || !b3 || !b4 || !b5 || !b6) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  int s = add_scalar_f32(g, b1, q->qp[t].scale);
  int32_t zpv = q->qp[t].zero_point;
  int z = add_zero_point(g, b2, qt, 1, 0, &zpv);
  int tq = nn_graph_add_tensor(g, b3), tdq = nn_graph_add_tensor(g, b4);
  if (s < 0 || z < 0 || tq < 0 || tdq < 0) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  g->tensors[tq].dtype = qt;
  g->tensors[tdq].dtype = NN_FLOAT;
  int src = t, prod = g->tensors[t].producer;
  if (is_out) {
    /* A graph output keeps its name on the dequantized value, so the producer, Q and
     * DQ form the usual pattern: the producer writes a renamed float tensor. */
    nn_node *pn = &g->nodes[prod];
    for (int k = 0; k < pn->n_outputs; k++)
      if (pn->outputs[k] == t) pn->outputs[k] = tdq;
    src = tdq;
    tdq = t;
    g->tensors[t].producer = -1;
  }
  int qin[3] = {src, s, z}, dqin[3] = {tq, s, z};
  char *qn = nn_graph_unique_node_name(g, b5), *dqn = nn_graph_unique_node_name(g, b6);
  int qi = qn ? nn_graph_add_node(g, "QuantizeLinear", "", qn, 3, qin, 1, &tq) : -1;
  int di = dqn ? nn_graph_add_node(g, "DequantizeLinear", "", dqn, 3, dqin, 1, &tdq) : -1;
  free(qn);
  free(dqn);
  if (qi < 0 || di < 0) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  for (int i = 0; i < g->n_nodes && tdq != t; i++) {
    if (i == qi) continue;
    nn_node *n = &g->nodes[i];
    for (int k = 0; k < n->n_inputs; k++)
      if (n->inputs[k] == t) n->inputs[k] = tdq;
  }
  q->dq_of[t] = tdq;
done:
  free(nm);
  free(b1);
  free(b2);
  free(b3);
  free(b4);
  free(b5);
  free(b6);
  return st;
}

nn_status nn_qdq_weight(nn_graph *g, int i, int slot, int axis, float **scales,
                        int64_t *n_scales) {
  int wt = g->nodes[i].inputs[slot];
  const nn_tensor *w = &g->tensors[wt];
  int64_t numel = nn_tensor_numel(w);
  const float *wd = w->data;
  int64_t C = axis >= 0 ? w->dims[axis] : 1, inner = 1;
  for (int d = axis + 1; axis >= 0 && d < w->ndim; d++) inner *= w->dims[d];
  int8_t *qd = malloc((size_t)(numel ? numel : 1));
  float *sc = malloc((size_t)C * sizeof *sc);
  int64_t dims[NN_MAX_DIMS];
  memcpy(dims, w->dims, sizeof dims);
  int ndim = w->ndim;
  char *base = strdup(w->name);
  if (!qd || !sc || !base) {
    free(qd);
    free(sc);
    free(base);
    return nn_errorf(NN_ERR_NOMEM, "out of memory");
  }
  for (int64_t c = 0; c < C; c++) sc[c] = 0;
  for (int64_t j = 0; j < numel; j++) {
    int64_t c = axis >= 0 ? (j / inner) % C : 0;
    float a = fabsf(wd[j]);
    if (a > sc[c]) sc[c] = a;
  }
  for (int64_t c = 0; c < C; c++) sc[c] = sc[c] > 0 ? sc[c] / 127.0f : 1.0f;
  for (int64_t j = 0; j < numel; j++) {
    int64_t c = axis >= 0 ? (j / inner) % C : 0;
    float v = nearbyintf(wd[j] / sc[c]);
    qd[j] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
  }
  char *b1 = name_with(base, "_quantized"), *b2 = name_with(base, "_scale"),
       *b4 = name_with(base, "_dequantized"), *b5 = name_with(base, "_DequantizeLinear");
  free(base);
  nn_status st = NN_OK;
  float *sc_copy = malloc((size_t)C * sizeof *sc_copy);
  if (!b1 || !b2 || !b4 || !b5 || !sc_copy) {
    free(qd);
    free(sc_copy);
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  memcpy(sc_copy, sc, (size_t)C * sizeof *sc);
  /* Symmetric: the zero point input is omitted (it defaults to 0 of the int8 type). */
  int tq = nn_graph_add_initializer(g, b1, NN_INT8, ndim, dims, qd);
  int ts = nn_graph_add_initializer(g, b2, NN_FLOAT, axis >= 0 ? 1 : 0, &C, sc_copy);
  int tdq = nn_graph_add_tensor(g, b4);
  if (tq < 0 || ts < 0 || tdq < 0) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  g->tensors[tdq].dtype = NN_FLOAT;
  int in[2] = {tq, ts};
  char *dn = nn_graph_unique_node_name(g, b5);
  int di = dn ? nn_graph_add_node(g, "DequantizeLinear", "", dn, 2, in, 1, &tdq) : -1;
  free(dn);
  if (di < 0 || (axis >= 0 && nn_node_add_attr_int(&g->nodes[di], "axis", axis))) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  g->nodes[i].inputs[slot] = tdq;
done:
  free(b1);
  free(b2);
  free(b4);
  free(b5);
  if (st) {
    free(sc);
    return st;
  }
  *scales = sc;
  *n_scales = C;
  return NN_OK;
}

/* Bias as int32 with scale = input scale x weight scale (per channel). */
static nn_status quantize_bias(qstate *q, int i, int slot, float in_scale, const float *wsc,
                               int64_t nsc) {
  nn_graph *g = q->g;
  int bt = g->nodes[i].inputs[slot];
  const nn_tensor *b = &g->tensors[bt];
  int64_t C = nn_tensor_numel(b);
  if (b->dtype != NN_FLOAT || b->ndim != 1 || (nsc != 1 && nsc != C)) return NN_OK;
  const float *bd = b->data;
  int32_t *qd = malloc((size_t)C * sizeof *qd);
  float *sc = malloc((size_t)C * sizeof *sc);
  char *base = strdup(b->name);
  nn_status st = NN_OK;
  char *b1 = NULL, *b2 = NULL, *b4 = NULL, *b5 = NULL;
  if (!qd || !sc || !base) goto oom;
  for (int64_t c = 0; c < C; c++) {
    sc[c] = in_scale * wsc[nsc == 1 ? 0 : c];
    double v = nearbyint((double)bd[c] / sc[c]);
    qd[c] = (int32_t)(v > INT32_MAX ? INT32_MAX : v < -INT32_MAX ? -INT32_MAX : v);
  }
  b1 = name_with(base, "_quantized");
  b2 = name_with(base, "_scale");
  b4 = name_with(base, "_dequantized");
  b5 = name_with(base, "_DequantizeLinear");
  if (!b1 || !b2 || !b4 || !b5) goto oom;
  int tq = nn_graph_add_initializer(g, b1, NN_INT32, 1, &C, qd);
  qd = NULL;
  int ts = nn_graph_add_initializer(g, b2, NN_FLOAT, 1, &C, sc);
  sc = NULL;
  int tdq = nn_graph_add_tensor(g, b4);
  if (tq < 0 || ts < 0 || tdq < 0) goto oom;
  g->tensors[tdq].dtype = NN_FLOAT;
  int in[2] = {tq, ts}; /* zero point omitted: 0 */
  char *dn = nn_graph_unique_node_name(g, b5);
  int di = dn ? nn_graph_add_node(g, "DequantizeLinear", "", dn, 2, in, 1, &tdq) : -1;
  free(dn);
  if (di < 0 || nn_node_add_attr_int(&g->nodes[di], "axis", 0)) goto oom;
  g->nodes[i].inputs[slot] = tdq;
  goto done;
oom:
  st = nn_errorf(NN_ERR_NOMEM, "out of memory");
done:
  free(qd);
  free(sc);
  free(base);
  free(b1);
  free(b2);
  free(b4);
  free(b5);
  return st;
}

/* Output-channel axis of a weight, or -1 for per-tensor. */
int nn_qdq_weight_axis(const nn_node *n, const nn_tensor *w, int per_channel, int opset) {
  if (!per_channel || opset < 13) return -1;
  if (!strcmp(n->op_type, "Conv")) return 0;
  if (!strcmp(n->op_type, "ConvTranspose")) return nn_attr_int(n, "group", 1) == 1 ? 1 : -1;
  if (!strcmp(n->op_type, "Gemm")) return nn_attr_int(n, "transB", 0) ? 0 : 1;
  if (!strcmp(n->op_type, "MatMul")) return w->ndim == 2 ? 1 : -1;
  return -1;
}

static nn_status quantize_weights(qstate *q, const int *order) {
  nn_graph *g = q->g;
  int n_nodes = g->n_nodes;
  for (int oi = 0; oi < n_nodes; oi++) {
    int i = order[oi];
    nn_node *n = &g->nodes[i];
    if (q->qnode[i] != Q_OP || !in_list(n->op_type, k_weighted) || n->n_inputs < 2) continue;
    int wt = n->inputs[1];
    if (!is_const(g, wt) || g->tensors[wt].dtype != NN_FLOAT) continue;
    if (!strcmp(n->op_type, "Gemm") && nn_attr_int(n, "transA", 0)) continue;
    int axis = nn_qdq_weight_axis(n, &g->tensors[wt], q->opt->per_channel, q->opset);
    float *sc = NULL;
    int64_t nsc = 0;
    nn_status st = nn_qdq_weight(g, i, 1, axis, &sc, &nsc);
    if (st) return st;
    q->rep->weights++;
    n = &g->nodes[i];
    int x = n->inputs[0];
    int gemm_plain = strcmp(n->op_type, "Gemm") ||
                     (nn_attr_float(n, "alpha", 1) == 1 && nn_attr_float(n, "beta", 1) == 1);
    if (n->n_inputs > 2 && is_const(g, n->inputs[2]) && x >= 0 && q->mark[x] &&
        q->has_qp[x] && gemm_plain && strcmp(n->op_type, "MatMul"))
      st = quantize_bias(q, i, 2, q->qp[x].scale, sc, nsc);
    free(sc);
    if (st) return st;
  }
  return NN_OK;
}

void nn_quant_report_free(nn_quant_report *r) {
  free(r->notes);
  memset(r, 0, sizeof *r);
}

nn_status nn_quantize_qdq(nn_model *m, const nn_tensor_range *ranges,
                          const nn_quant_options *opt, nn_quant_report *rep) {
  nn_status st = NN_OK;
  nn_graph *g = m->graph;
  nn_use_map u = {0};
  int *order = NULL;
  qstate q = {0};
  memset(rep, 0, sizeof *rep);
  q.m = m;
  q.g = g;
  q.opt = opt;
  q.rep = rep;
  q.opset = (int)nn_model_opset(m, "");
  if (q.opset < 10)
    return nn_errorf(NN_ERR_UNSUPPORTED,
                     "QDQ quantization needs opset 10 or newer (the model has %d)", q.opset);
  q.n0 = g->n_tensors;
  size_t nt = (size_t)q.n0 + 1, nn = (size_t)g->n_nodes + 1;
  q.mark = calloc(nt, 1);
  q.share = malloc(nt * sizeof *q.share);
  q.qp = calloc(nt, sizeof *q.qp);
  q.has_qp = calloc(nt, 1);
  q.dq_of = malloc(nt * sizeof *q.dq_of);
  q.qnode = calloc(nn, 1);
  order = malloc(nn * sizeof *order);
  if (!q.mark || !q.share || !q.qp || !q.has_qp || !q.dq_of || !q.qnode || !order) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  for (int t = 0; t < q.n0; t++) q.share[t] = q.dq_of[t] = -1;
  NN_TRY(nn_graph_build_maps(g, &u));
  NN_TRY(nn_graph_topo_order(g, order));
  NN_TRY(select_ops(&q, &u, order));
  NN_TRY(compute_qparams(&q, ranges, order));
  /* Weights first: biases need the input scales, which are already known. */
  NN_TRY(quantize_weights(&q, order));
  for (int t = 0; t < q.n0; t++)
    if (q.mark[t]) NN_TRY(insert_qdq(&q, t));
  for (size_t i = 0; i + 1 < nn; i++) rep->quantized_nodes += q.qnode[i] == Q_OP;
  if (!rep->quantized_nodes)
    note(&q, "no quantizable op found: the model is unchanged apart from preparation");
  NN_TRY(nn_graph_sort(g));
  int removed;
  NN_TRY(nn_pass_eliminate_dead(m, &removed));
done:
  nn_use_map_free(&u);
  free(order);
  free(q.mark);
  free(q.share);
  free(q.qp);
  free(q.has_qp);
  free(q.dq_of);
  free(q.qnode);
  return st;
}
