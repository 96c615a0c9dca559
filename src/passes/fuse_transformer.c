/*
 * fuse_transformer.c - the transformer subgraphs exporters decompose below opset 17,
 * fused back into single ops (as ONNX Runtime's default level does):
 *
 *   LayerNorm  ReduceMean(x) -> Sub(x, m) -> Pow(d, 2) -> ReduceMean -> Add(eps) -> Sqrt
 *              -> Div(d, s) -> Mul(gamma) -> Add(beta)      =>  LayerNormalization
 *   GELU       Div(x, sqrt 2) | Mul(x, 1/sqrt 2) -> Erf -> Add(1) -> Mul(x, .) -> Mul(0.5)
 *              (or Mul(x, 0.5) first)                       =>  Gelu
 *   DynamicQuantizeLinear(x) read by one MatMulIntegerToFloat   =>  DynamicQuantizeMatMul
 *   Add(a, b) -> LayerNormalization (last axis, rank 3)     =>  SkipLayerNormalization
 *
 * as ONNX Runtime's own transformer optimizer writes them: LayerNormalization in the
 * default domain (ONNX Runtime registers it there for every opset, as a contrib op
 * below opset 17), com.microsoft Gelu, DynamicQuantizeMatMul and SkipLayerNormalization,
 * so ONNX Runtime still runs the model.
 * Intermediate tensors must have no reader outside the pattern and must not be graph
 * outputs.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"

/* Return on error (for functions without a cleanup label). */
#define TRY_RET(expr)             \
  do {                            \
    nn_status st_ = (expr);       \
    if (st_ != NN_OK) return st_; \
  } while (0)

typedef struct ctx {
  nn_graph *g;
  nn_use_map u;
  unsigned char *kill;
} ctx;

static int producer_op(const ctx *c, int t, const char *op) {
  if (t < 0) return -1;
  int p = c->g->tensors[t].producer;
  if (p < 0 || c->kill[p] || c->g->nodes[p].domain[0] || strcmp(c->g->nodes[p].op_type, op))
    return -1;
  return p;
}

static int n_uses(const ctx *c, int t) {
  if (t < 0 || (c->g->tensors[t].flags & NN_T_OUTPUT)) return 1000;
  return c->u.off[t + 1] - c->u.off[t];
}

/* The only reader of t if it is op, else -1. */
static int only_reader(const ctx *c, int t, const char *op) {
  if (n_uses(c, t) != 1) return -1;
  int r = c->u.cons[c->u.off[t]];
  const nn_node *n = &c->g->nodes[r];
  return !c->kill[r] && !n->domain[0] && !strcmp(n->op_type, op) ? r : -1;
}

/* Scalar float32 constant value of t (an initializer of one element). */
static int const_scalar(const ctx *c, int t, float *v) {
  if (t < 0) return 0;
  const nn_tensor *x = &c->g->tensors[t];
  if (!x->data || x->dtype != NN_FLOAT || nn_tensor_numel(x) != 1 ||
      (x->flags & NN_T_INPUT))
    return 0;
  *v = *(const float *)x->data;
  return 1;
}

/* The other input of a binary node (k: the known one). */
static int other_input(const nn_node *n, int t) {
  if (n->n_inputs != 2) return -1;
  return n->inputs[0] == t ? n->inputs[1] : n->inputs[1] == t ? n->inputs[0] : -1;
}

/* ReduceMean over the last axis only, keepdims. */
static int mean_last_axis(const ctx *c, int i, int rank) {
  const nn_node *n = &c->g->nodes[i];
  if (nn_attr_int(n, "keepdims", 1) != 1 || n->n_inputs != 1) return 0;
  const int64_t *ax;
  int na = nn_attr_ints(n, "axes", &ax);
  return na == 1 && (ax[0] == -1 || (rank > 0 && ax[0] == rank - 1));
}

/* Vector constant of the given length (gamma/beta), or -1. */
static int const_vector(const ctx *c, int t, int64_t len) {
  if (t < 0) return 0;
  const nn_tensor *x = &c->g->tensors[t];
  return x->data && x->dtype == NN_FLOAT && !(x->flags & NN_T_INPUT) &&
         (len < 0 || nn_tensor_numel(x) == len);
}

static nn_status retype(nn_graph *g, int i, const char *op, const char *domain, int n_in,
                        const int *in) {
  nn_node *n = &g->nodes[i];
  TRY_RET(nn_node_set_op(n, op, domain));
  int *ins = realloc(n->inputs, (size_t)n_in * sizeof *ins);
  if (!ins) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  memcpy(ins, in, (size_t)n_in * sizeof *ins);
  n->inputs = ins;
  n->n_inputs = n_in;
  for (int k = 0; k < n->n_attrs; k++) free(n->attrs[k].name); /* Mul/Add have none */
  free(n->attrs);
  n->attrs = NULL;
  n->n_attrs = 0;
  return NN_OK;
}

/* Match a LayerNorm ending at the Div node i. */
static nn_status try_layernorm(ctx *c, int i, int *fused) {
  nn_graph *g = c->g;
  const nn_node *div = &g->nodes[i];
  if (div->n_inputs != 2) return NN_OK;
  int d = div->inputs[0], s = div->inputs[1];
  int sq = producer_op(c, s, "Sqrt");
  int sub = producer_op(c, d, "Sub");
  if (sq < 0 || sub < 0) return NN_OK;
  int addeps = producer_op(c, g->nodes[sq].inputs[0], "Add");
  if (addeps < 0) return NN_OK;
  float eps;
  int v = g->nodes[addeps].inputs[0];
  if (!const_scalar(c, g->nodes[addeps].inputs[1], &eps)) {
    v = g->nodes[addeps].inputs[1];
    if (!const_scalar(c, g->nodes[addeps].inputs[0], &eps)) return NN_OK;
  }
  int rm2 = producer_op(c, v, "ReduceMean");
  if (rm2 < 0) return NN_OK;
  int pw = producer_op(c, g->nodes[rm2].inputs[0], "Pow");
  float two;
  if (pw < 0 || g->nodes[pw].inputs[0] != d || !const_scalar(c, g->nodes[pw].inputs[1], &two) ||
      two != 2.0f)
    return NN_OK;
  const nn_node *sb = &g->nodes[sub];
  int x = sb->inputs[0], m = sb->inputs[1];
  int rm1 = producer_op(c, m, "ReduceMean");
  if (rm1 < 0 || g->nodes[rm1].inputs[0] != x) return NN_OK;
  int rank = g->tensors[x].ndim;
  if (!mean_last_axis(c, rm1, rank) || !mean_last_axis(c, rm2, rank)) return NN_OK;
  /* Uses: m (Sub), d (Pow, Div), p, v, ve, s: only inside. */
  if (n_uses(c, m) != 1 || n_uses(c, d) != 2 || n_uses(c, g->nodes[pw].outputs[0]) != 1 ||
      n_uses(c, v) != 1 || n_uses(c, g->nodes[addeps].outputs[0]) != 1 || n_uses(c, s) != 1)
    return NN_OK;
  int nrm = div->outputs[0];
  int mul = only_reader(c, nrm, "Mul");
  if (mul < 0) return NN_OK;
  int gamma = other_input(&g->nodes[mul], nrm);
  int scaled = g->nodes[mul].outputs[0];
  int add = only_reader(c, scaled, "Add");
  if (add < 0) return NN_OK;
  int beta = other_input(&g->nodes[add], scaled);
  int64_t cols = rank > 0 ? g->tensors[x].dims[rank - 1] : -1;
  if (!const_vector(c, gamma, cols) || !const_vector(c, beta, cols) ||
      g->tensors[gamma].ndim != 1 || g->tensors[beta].ndim != 1)
    return NN_OK;
  int in[3] = {x, gamma, beta};
  TRY_RET(retype(g, add, "LayerNormalization", "", 3, in));
  TRY_RET(nn_node_add_attr_int(&g->nodes[add], "axis", -1));
  TRY_RET(nn_node_add_attr_float(&g->nodes[add], "epsilon", eps));
  int gone[] = {rm1, sub, pw, rm2, addeps, sq, i, mul};
  for (int k = 0; k < 8; k++) c->kill[gone[k]] = 1;
  (*fused)++;
  return NN_OK;
}

static int near(float a, float b) { return fabsf(a - b) <= 1e-4f * fabsf(b); }

/* Match a GELU around the Erf node i. */
static nn_status try_gelu(ctx *c, int i, int *fused) {
  nn_graph *g = c->g;
  int a = g->nodes[i].inputs[0];
  int sc = producer_op(c, a, "Div"), x = -1;
  float k;
  if (sc >= 0) {
    x = g->nodes[sc].inputs[0];
    if (!const_scalar(c, g->nodes[sc].inputs[1], &k) || !near(k, 1.41421356f)) return NN_OK;
  } else if ((sc = producer_op(c, a, "Mul")) >= 0) {
    const nn_node *n = &g->nodes[sc];
    x = n->inputs[0];
    if (!const_scalar(c, n->inputs[1], &k)) {
      x = n->inputs[1];
      if (!const_scalar(c, n->inputs[0], &k)) return NN_OK;
    }
    if (!near(k, 0.70710678f)) return NN_OK;
  } else {
    return NN_OK;
  }
  if (n_uses(c, a) != 1) return NN_OK;
  int e = g->nodes[i].outputs[0];
  int add = only_reader(c, e, "Add");
  float one;
  if (add < 0 || !const_scalar(c, other_input(&g->nodes[add], e), &one) || one != 1.0f)
    return NN_OK;
  int c1 = g->nodes[add].outputs[0];
  int m1 = only_reader(c, c1, "Mul");
  if (m1 < 0) return NN_OK;
  int other = other_input(&g->nodes[m1], c1), last = -1;
  float half;
  if (other == x) {
    /* x * (1 + erf) then * 0.5 */
    last = only_reader(c, g->nodes[m1].outputs[0], "Mul");
    if (last < 0 || !const_scalar(c, other_input(&g->nodes[last], g->nodes[m1].outputs[0]), &half) ||
        half != 0.5f)
      return NN_OK;
  } else {
    /* (x * 0.5) * (1 + erf) */
    int h = producer_op(c, other, "Mul");
    if (h < 0 || n_uses(c, other) != 1) return NN_OK;
    if (other_input(&g->nodes[h], x) < 0 ||
        !const_scalar(c, other_input(&g->nodes[h], x), &half) || half != 0.5f)
      return NN_OK;
    last = m1;
    c->kill[h] = 1;
  }
  int in[1] = {x};
  TRY_RET(retype(g, last, "Gelu", "com.microsoft", 1, in));
  c->kill[sc] = 1;
  c->kill[i] = 1;
  c->kill[add] = 1;
  if (last != m1) c->kill[m1] = 1;
  (*fused)++;
  return NN_OK;
}

/* Fuse the DynamicQuantizeLinear node i into the MatMulIntegerToFloat node that is the
 * only reader of its three outputs (as A, a_scale, a_zero_point), which becomes
 * DynamicQuantizeMatMul(x, B, b_scale, b_zero_point, bias) and quantizes x itself.
 * A DynamicQuantizeLinear shared by several matmuls (attention's Q, K, V) stays: each
 * fused reader would quantize x again (ONNX Runtime leaves those too). */
static nn_status try_dynquant_matmul(ctx *c, int i, int *fused) {
  nn_graph *g = c->g;
  const nn_node *dq = &g->nodes[i];
  if (dq->n_inputs != 1 || dq->n_outputs != 3) return NN_OK;
  const int x = dq->inputs[0], yq = dq->outputs[0], ys = dq->outputs[1], yz = dq->outputs[2];
  if (x < 0 || yq < 0 || ys < 0 || yz < 0) return NN_OK;
  if (n_uses(c, yq) != 1 || n_uses(c, ys) != 1 || n_uses(c, yz) != 1) return NN_OK;
  const int r = c->u.cons[c->u.off[yq]];
  const nn_node *mm = &g->nodes[r];
  if (c->kill[r] || strcmp(mm->domain, "com.microsoft") ||
      strcmp(mm->op_type, "MatMulIntegerToFloat") || mm->n_inputs < 5 || mm->inputs[0] != yq ||
      mm->inputs[2] != ys || mm->inputs[4] != yz)
    return NN_OK;
  int in[5] = {x, mm->inputs[1], mm->inputs[3], mm->n_inputs > 5 ? mm->inputs[5] : -1,
               mm->n_inputs > 6 ? mm->inputs[6] : -1};
  int n_in = 5;
  while (n_in > 3 && in[n_in - 1] < 0) n_in--;
  TRY_RET(retype(g, r, "DynamicQuantizeMatMul", "com.microsoft", n_in, in));
  c->kill[i] = 1;
  (*fused)++;
  return NN_OK;
}

/* Fuse the residual Add feeding the LayerNormalization node i (last axis, rank 3, only
 * its first output used) into com.microsoft SkipLayerNormalization(a, b, gamma, beta),
 * when the Add's operands have the same known shape and its sum has no other reader. */
static nn_status try_skip_layernorm(ctx *c, int i, int *fused) {
  nn_graph *g = c->g;
  const nn_node *ln = &g->nodes[i];
  if (ln->n_inputs < 2 || ln->inputs[0] < 0 || ln->inputs[1] < 0) return NN_OK;
  for (int k = 1; k < ln->n_outputs; k++)
    if (ln->outputs[k] >= 0 && n_uses(c, ln->outputs[k]) > 0) return NN_OK;
  const int s = ln->inputs[0];
  const int add = producer_op(c, s, "Add");
  if (add < 0 || n_uses(c, s) != 1 || g->nodes[add].n_inputs != 2) return NN_OK;
  const int a = g->nodes[add].inputs[0], b = g->nodes[add].inputs[1];
  if (a < 0 || b < 0) return NN_OK;
  const nn_tensor *ta = &g->tensors[a], *tb = &g->tensors[b], *ts = &g->tensors[s];
  if (ta->ndim != 3 || tb->ndim != 3 || ts->ndim != 3 || ta->dtype != NN_FLOAT ||
      tb->dtype != NN_FLOAT)
    return NN_OK;
  for (int d = 0; d < 3; d++)
    if (ta->dims[d] <= 0 || ta->dims[d] != tb->dims[d] || ta->dims[d] != ts->dims[d])
      return NN_OK;
  const int64_t axis = nn_attr_int(ln, "axis", -1);
  if (axis != -1 && axis != 2) return NN_OK;
  if (nn_attr_int(ln, "stash_type", 1) != 1) return NN_OK;
  const int64_t cols = ta->dims[2];
  const int gamma = ln->inputs[1], beta = ln->n_inputs > 2 ? ln->inputs[2] : -1;
  if (!const_vector(c, gamma, cols) || g->tensors[gamma].ndim != 1 ||
      (beta >= 0 && (!const_vector(c, beta, cols) || g->tensors[beta].ndim != 1)))
    return NN_OK;
  const float eps = nn_attr_float(ln, "epsilon", 1e-5f);
  int in[4] = {a, b, gamma, beta};
  TRY_RET(retype(g, i, "SkipLayerNormalization", "com.microsoft", beta >= 0 ? 4 : 3, in));
  TRY_RET(nn_node_add_attr_float(&g->nodes[i], "epsilon", eps));
  c->kill[add] = 1;
  (*fused)++;
  return NN_OK;
}

nn_status nn_pass_fuse_transformer(nn_model *m, int *n_fused) {
  nn_status st = NN_OK;
  ctx c = {m->graph, {0}, NULL};
  *n_fused = 0;
  c.kill = calloc((size_t)c.g->n_nodes + 1, 1);
  if (!c.kill) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  NN_TRY(nn_graph_build_maps(c.g, &c.u));
  int n0 = c.g->n_nodes;
  for (int i = 0; i < n0; i++) {
    const nn_node *n = &c.g->nodes[i];
    if (c.kill[i] || n->domain[0]) continue;
    if (!strcmp(n->op_type, "Div")) NN_TRY(try_layernorm(&c, i, n_fused));
    else if (!strcmp(n->op_type, "Erf")) NN_TRY(try_gelu(&c, i, n_fused));
    else if (!strcmp(n->op_type, "DynamicQuantizeLinear"))
      NN_TRY(try_dynquant_matmul(&c, i, n_fused));
  }
  if (*n_fused) nn_graph_remove_nodes(c.g, c.kill);
  /* Second round, over the LayerNormalization nodes (some just made): the shapes of
   * intermediates rule out a broadcasting Add, so infer them when one is unknown. */
  for (int i = 0; i < c.g->n_nodes; i++) {
    const nn_node *n = &c.g->nodes[i];
    if (!n->domain[0] && !strcmp(n->op_type, "LayerNormalization") && n->inputs[0] >= 0 &&
        c.g->tensors[n->inputs[0]].ndim < 0) {
      int nt;
      if (nn_pass_infer_shapes(m, &nt)) nn_error_clear();
      break;
    }
  }
  nn_use_map_free(&c.u);
  NN_TRY(nn_graph_build_maps(c.g, &c.u));
  memset(c.kill, 0, (size_t)c.g->n_nodes + 1);
  int skip = 0;
  for (int i = 0; i < c.g->n_nodes; i++) {
    const nn_node *n = &c.g->nodes[i];
    if (!c.kill[i] && !n->domain[0] && !strcmp(n->op_type, "LayerNormalization"))
      NN_TRY(try_skip_layernorm(&c, i, &skip));
  }
  if (skip) nn_graph_remove_nodes(c.g, c.kill);
  *n_fused += skip;
  if (*n_fused) NN_TRY(nn_model_ensure_opset(m, "com.microsoft", 1));
done:
  nn_use_map_free(&c.u);
  free(c.kill);
  return st;
}
