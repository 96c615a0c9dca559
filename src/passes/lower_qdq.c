/*
 * lower_qdq.c - turn QDQ patterns into integer ops for nnopt's runtime, so quantized
 * models execute with integer kernels (u8 x s8 -> s32, requantize) instead of float
 * fake-quantization:
 *   DQ(x) DQ(w) [DQ(b)] -> Conv   -> [Relu|Clip] -> Q   =>  QLinearConv
 *   DQ(x) DQ(w) [DQ(b)] -> Gemm (transB) -> [Relu|Clip] -> Q
 *                          =>  Reshape [M, K, 1, 1] -> QLinearConv (1x1) -> Reshape [M, N]
 *     (a classifier head then runs on int8 weights, a quarter of the float bytes, with
 *     the bias and requantization in the GEMM epilogue)
 *   DQ(a) DQ(b)         -> MatMul -> Q               =>  QLinearMatMul
 *   DQ(a) DQ(b)         -> Add    -> [Relu]   -> Q   =>  QLinearAdd (com.microsoft)
 *   DQ(x) -> MaxPool / Reshape / Transpose / ... -> Q (same parameters)  =>  the op on
 *   the quantized tensor itself; Concat likewise when every input has the output's
 *   parameters (the quantizer unifies them around U-Net skip connections).
 * A fused Relu/Clip is exact only when the output zero point is the lowest code (the
 * quantized range starts at 0), which calibration of a Relu output guarantees. A Relu
 * after a Conv whose output zero point is higher (its scale shared with a Concat) becomes
 * Max(codes, zero point) after the QLinearConv: both sides give the zero point's code
 * for negative sums and the same code otherwise.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"

typedef struct dq_info {
  int node;   /* the DequantizeLinear node */
  int q;      /* quantized input tensor */
  int scale;  /* scale tensor */
  int zp;     /* zero point tensor or -1 */
  int per_axis;
} dq_info;

static int is_init(const nn_graph *g, int t) {
  return t >= 0 && (g->tensors[t].flags & NN_T_INITIALIZER) && g->tensors[t].data &&
         !(g->tensors[t].flags & NN_T_INPUT);
}

static int op_is(const nn_node *n, const char *op) {
  return !n->domain[0] && !strcmp(n->op_type, op);
}

/* t produced by a DequantizeLinear with constant scale/zero point. */
static int get_dq(const nn_graph *g, int t, dq_info *d) {
  if (t < 0 || g->tensors[t].producer < 0) return 0;
  const nn_node *n = &g->nodes[g->tensors[t].producer];
  if (!op_is(n, "DequantizeLinear") || n->n_inputs < 2) return 0;
  d->node = g->tensors[t].producer;
  d->q = n->inputs[0];
  d->scale = n->inputs[1];
  d->zp = n->n_inputs > 2 ? n->inputs[2] : -1;
  if (!is_init(g, d->scale) || (d->zp >= 0 && !is_init(g, d->zp))) return 0;
  d->per_axis = nn_tensor_numel(&g->tensors[d->scale]) > 1;
  return 1;
}

/* The single QuantizeLinear reading t (with constant per-tensor parameters), or -1. */
static int sole_q(const nn_graph *g, const nn_use_map *u, int t) {
  if (t < 0 || u->off[t + 1] - u->off[t] != 1 || (g->tensors[t].flags & NN_T_OUTPUT)) return -1;
  int c = u->cons[u->off[t]];
  const nn_node *n = &g->nodes[c];
  if (!op_is(n, "QuantizeLinear") || n->n_inputs < 2 || n->inputs[0] != t) return -1;
  if (!is_init(g, n->inputs[1]) || nn_tensor_numel(&g->tensors[n->inputs[1]]) != 1) return -1;
  if (n->n_inputs > 2 && n->inputs[2] >= 0 &&
      (!is_init(g, n->inputs[2]) || nn_tensor_numel(&g->tensors[n->inputs[2]]) != 1))
    return -1;
  return c;
}

static int sole_consumer(const nn_graph *g, const nn_use_map *u, int t) {
  if (t < 0 || u->off[t + 1] - u->off[t] != 1 || (g->tensors[t].flags & NN_T_OUTPUT)) return -1;
  return u->cons[u->off[t]];
}

static float scalar_f(const nn_graph *g, int t) { return *(const float *)g->tensors[t].data; }

/* Zero point value of a Q/DQ node's optional input (0 when absent), and its dtype. */
static int32_t zp_value(const nn_graph *g, int t, nn_dtype *dt) {
  if (t < 0) {
    *dt = NN_UINT8;
    return 0;
  }
  *dt = g->tensors[t].dtype;
  if (*dt == NN_INT8) return *(const int8_t *)g->tensors[t].data;
  if (*dt == NN_UINT8) return *(const uint8_t *)g->tensors[t].data;
  return 0;
}

/* Can the activation node a (Relu/Clip between op and Q) be dropped given the
 * output quantization (scale s, zero point z of type dt)? */
static int act_implied(const nn_graph *g, const nn_node *a, int opset, float s, int32_t z,
                       nn_dtype dt) {
  int32_t qmin = dt == NN_INT8 ? -128 : 0, qmax = dt == NN_INT8 ? 127 : 255;
  if (z != qmin) return 0;
  if (op_is(a, "Relu")) return 1;
  if (!op_is(a, "Clip")) return 0;
  float lo = -INFINITY, hi = INFINITY;
  if (opset < 11) {
    lo = nn_attr_float(a, "min", -INFINITY);
    hi = nn_attr_float(a, "max", INFINITY);
  } else {
    if (a->n_inputs > 1 && a->inputs[1] >= 0) {
      if (!is_init(g, a->inputs[1])) return 0;
      lo = scalar_f(g, a->inputs[1]);
    }
    if (a->n_inputs > 2 && a->inputs[2] >= 0) {
      if (!is_init(g, a->inputs[2])) return 0;
      hi = scalar_f(g, a->inputs[2]);
    }
  }
  /* Saturation gives [0, s * (qmax - z)]: equal to the clip when inside it. */
  return lo == 0 && s * (float)(qmax - z) <= hi * (1 + 1e-6f);
}

/* A zero-point tensor of the weight's type (needed by QLinear* ops). */
static int zeros_like_scale(nn_graph *g, int scale, nn_dtype dt) {
  const nn_tensor *s = &g->tensors[scale];
  int64_t n = nn_tensor_numel(s);
  void *d = calloc((size_t)(n ? n : 1), nn_dtype_size(dt));
  if (!d) return -1;
  return nn_graph_add_initializer(g, "zero_point", dt, s->ndim, s->dims, d);
}

static nn_status set_inputs(nn_node *n, const int *in, int count) {
  int *p = realloc(n->inputs, (size_t)count * sizeof *p);
  if (!p) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  memcpy(p, in, (size_t)count * sizeof *p);
  n->inputs = p;
  n->n_inputs = count;
  return NN_OK;
}

static const char *const k_moves[] = {"MaxPool",   "GlobalMaxPool", "Reshape", "Flatten",
                                      "Transpose", "Squeeze",       "Unsqueeze", "Identity",
                                      NULL};

/* Concat of DQ outputs that all have the parameters of the Q after it: concatenate the
 * codes (inputs rewired to the quantized tensors, the Q killed). */
static int concat_moves(nn_graph *g, const nn_use_map *u, nn_node *n, unsigned char *kill) {
  const int qn = sole_q(g, u, n->outputs[0]);
  if (qn < 0) return 0;
  const nn_node *q = &g->nodes[qn];
  const float ys = scalar_f(g, q->inputs[1]);
  nn_dtype ydt, xdt;
  const int32_t yzv = zp_value(g, q->n_inputs > 2 ? q->inputs[2] : -1, &ydt);
  dq_info d;
  for (int k = 0; k < n->n_inputs; k++) {
    if (!get_dq(g, n->inputs[k], &d) || d.per_axis ||
        fabsf(scalar_f(g, d.scale) - ys) > 1e-7f * ys || zp_value(g, d.zp, &xdt) != yzv ||
        xdt != ydt)
      return 0;
    const nn_tensor *x = &g->tensors[d.q];
    if ((x->flags & NN_T_INITIALIZER) && x->dtype != ydt) return 0; /* e.g. int32 codes */
  }
  for (int k = 0; k < n->n_inputs; k++) {
    get_dq(g, n->inputs[k], &d);
    n->inputs[k] = d.q;
  }
  n->outputs[0] = q->outputs[0];
  kill[qn] = 1;
  return 1;
}

/* A Reshape of tensor in to the constant shape dims (0 copies the input dim, -1 is
 * inferred) writing tensor out. Returns NN_OK or an out-of-memory status. */
static nn_status add_reshape(nn_graph *g, const char *base, int in, int ndim,
                             const int64_t *dims, int out) {
  int64_t *d = malloc((size_t)ndim * sizeof *d);
  if (!d) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  memcpy(d, dims, (size_t)ndim * sizeof *d);
  const int64_t sd = ndim;
  int shape = nn_graph_add_initializer(g, "shape", NN_INT64, 1, &sd, d);
  char *name = shape >= 0 ? nn_graph_unique_node_name(g, base) : NULL;
  const int ins[2] = {in, shape};
  int r = name ? nn_graph_add_node(g, "Reshape", "", name, 2, ins, 1, &out) : -1;
  free(name);
  return r < 0 ? nn_errorf(NN_ERR_NOMEM, "out of memory") : NN_OK;
}

/* Gemm(DQ(x), DQ(w), DQ(b)) with a constant int8 weight [N, K] (transB = 1, per tensor or
 * per row), alpha = beta = 1, no transA, and a 1-D bias: the shape of a classifier head
 * that QLinearConv runs as a 1x1 convolution. */
static int gemm_lowerable(const nn_graph *g, const nn_node *n, const dq_info *dw) {
  if (nn_attr_int(n, "transA", 0) != 0 || nn_attr_int(n, "transB", 0) != 1 ||
      nn_attr_float(n, "alpha", 1.0f) != 1.0f || nn_attr_float(n, "beta", 1.0f) != 1.0f)
    return 0;
  const nn_tensor *w = &g->tensors[dw->q];
  if (!is_init(g, dw->q) || w->dtype != NN_INT8 || w->ndim != 2) return 0;
  if (dw->per_axis) {
    const nn_node *d = &g->nodes[dw->node];
    if (nn_attr_int(d, "axis", 1) != 0 || nn_tensor_numel(&g->tensors[dw->scale]) != w->dims[0])
      return 0;
  }
  return 1;
}

nn_status nn_pass_lower_qdq(nn_model *m, int *n_lowered) {
  nn_graph *g = m->graph;
  nn_status st = NN_OK;
  nn_use_map u = {0};
  unsigned char *kill = NULL;
  int opset = (int)nn_model_opset(m, "");
  *n_lowered = 0;
  NN_TRY(nn_graph_build_maps(g, &u));
  kill = calloc((size_t)g->n_nodes + 1, 1);
  if (!kill) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  int n_nodes = g->n_nodes;
  for (int i = 0; i < n_nodes; i++) {
    nn_node *n = &g->nodes[i];
    if (kill[i] || n->n_outputs < 1) continue;
    if (op_is(n, "Concat")) {
      if (n->n_outputs == 1 && n->n_inputs >= 1 && concat_moves(g, &u, n, kill)) (*n_lowered)++;
      continue;
    }
    int conv = op_is(n, "Conv"), mm = op_is(n, "MatMul"), add = op_is(n, "Add");
    const int gemm = op_is(n, "Gemm");
    conv |= gemm; /* lowered to a QLinearConv too, between two Reshapes */
    int moves = 0;
    for (const char *const *p = k_moves; *p; p++) moves |= op_is(n, *p);
    if (!conv && !mm && !add && !moves) continue;
    if (moves && (n->n_outputs != 1 || n->n_inputs < 1)) continue;
    dq_info dx, dw, db;
    if (!get_dq(g, n->inputs[0], &dx) || dx.per_axis) continue;
    /* Output side: op -> [act] -> Q. */
    int t = n->outputs[0], act = -1;
    int qn = sole_q(g, &u, t);
    if (qn < 0 && (conv || add)) {
      act = sole_consumer(g, &u, t);
      if (act < 0 || g->nodes[act].n_inputs < 1 || g->nodes[act].inputs[0] != t ||
          (!op_is(&g->nodes[act], "Relu") && !op_is(&g->nodes[act], "Clip")))
        continue;
      qn = sole_q(g, &u, g->nodes[act].outputs[0]);
    }
    if (qn < 0) continue;
    const nn_node *q = &g->nodes[qn];
    int ys = q->inputs[1], yz = q->n_inputs > 2 ? q->inputs[2] : -1, yq = q->outputs[0];
    nn_dtype ydt, xdt;
    int32_t yzv = zp_value(g, yz, &ydt), xzv = zp_value(g, dx.zp, &xdt);
    int relu_max = 0; /* a Relu kept as Max(codes, zero point) after the op */
    if (act >= 0 && !act_implied(g, &g->nodes[act], opset, scalar_f(g, ys), yzv, ydt)) {
      if (!conv || !op_is(&g->nodes[act], "Relu") || yz < 0) continue;
      relu_max = 1;
    }
    if (moves) {
      /* Same parameters on both sides: the op moves quantized values as they are. */
      if (fabsf(scalar_f(g, ys) - scalar_f(g, dx.scale)) > 1e-7f * scalar_f(g, ys) ||
          yzv != xzv || ydt != xdt)
        continue;
      n->inputs[0] = dx.q;
      n->outputs[0] = yq;
      kill[qn] = 1;
      (*n_lowered)++;
      continue;
    }
    if (n->n_inputs < 2 || !get_dq(g, n->inputs[1], &dw)) continue;
    if (yz < 0 && (yz = zeros_like_scale(g, ys, NN_UINT8)) < 0) goto oom;
    if (dx.zp < 0 && (dx.zp = zeros_like_scale(g, dx.scale, NN_UINT8)) < 0) goto oom;
    n = &g->nodes[i];
    if (conv) {
      if (!is_init(g, dw.q) || g->tensors[dw.q].dtype != NN_INT8) continue;
      if (gemm && !gemm_lowerable(g, n, &dw)) continue;
      int bias = -1;
      if (n->n_inputs > 2 && n->inputs[2] >= 0) {
        if (!get_dq(g, n->inputs[2], &db) || g->tensors[db.q].dtype != NN_INT32) continue;
        if (gemm && (g->tensors[db.q].ndim != 1 ||
                     g->tensors[db.q].dims[0] != g->tensors[dw.q].dims[0]))
          continue;
        /* The bias must already be in the accumulator's scale (x_scale * w_scale). */
        const nn_tensor *bs = &g->tensors[db.scale], *ws = &g->tensors[dw.scale];
        int64_t nb = nn_tensor_numel(bs), nw = nn_tensor_numel(ws);
        int ok = db.zp < 0 || nn_tensor_numel(&g->tensors[db.zp]) >= 0;
        float xs = scalar_f(g, dx.scale);
        for (int64_t c = 0; c < nb && ok; c++) {
          float want = xs * ((const float *)ws->data)[nw == 1 ? 0 : c];
          ok = fabsf(((const float *)bs->data)[c] - want) <= 1e-6f * fabsf(want);
        }
        if (!ok) continue;
        bias = db.q;
      }
      if (dw.zp < 0 && (dw.zp = zeros_like_scale(g, dw.scale, NN_INT8)) < 0) goto oom;
      int xin = dx.q, wq = dw.q;
      if (gemm) {
        /* x [M, K] -> [M, K, 1, 1]; w [N, K] -> [N, K, 1, 1]; y [M, N, 1, 1] -> [M, N]. */
        const nn_tensor *wt = &g->tensors[dw.q];
        const int64_t wd[4] = {wt->dims[0], wt->dims[1], 1, 1};
        void *wcopy = malloc(wt->nbytes ? wt->nbytes : 1);
        if (!wcopy) goto oom;
        memcpy(wcopy, wt->data, wt->nbytes);
        static const int64_t to4[4] = {0, -1, 1, 1}, to2[2] = {0, -1};
        if ((wq = nn_graph_add_initializer(g, "gemm_weight_1x1", NN_INT8, 4, wd, wcopy)) < 0 ||
            (xin = nn_graph_add_tensor(g, "gemm_x_nchw")) < 0)
          goto oom;
        int y4 = nn_graph_add_tensor(g, "gemm_y_nchw");
        if (y4 < 0) goto oom;
        if ((st = add_reshape(g, "gemm_x_to_nchw", dx.q, 4, to4, xin)) ||
            (st = add_reshape(g, "gemm_y_to_2d", y4, 2, to2, yq)))
          goto done;
        yq = y4;
        n = &g->nodes[i];
        for (int a = 0; a < n->n_attrs; a++) nn_attr_free(&n->attrs[a]);
        free(n->attrs);
        n->attrs = NULL;
        n->n_attrs = 0;
      }
      n = &g->nodes[i];
      int in[9] = {xin, dx.scale, dx.zp, wq, dw.scale, dw.zp, ys, yz, bias};
      if ((st = set_inputs(n, in, bias >= 0 ? 9 : 8)) || (st = nn_node_set_op(n, "QLinearConv", "")))
        goto done;
    } else if (mm) {
      if (dw.zp < 0 &&
          (dw.zp = zeros_like_scale(g, dw.scale, g->tensors[dw.q].dtype)) < 0)
        goto oom;
      n = &g->nodes[i];
      int in[8] = {dx.q, dx.scale, dx.zp, dw.q, dw.scale, dw.zp, ys, yz};
      if ((st = set_inputs(n, in, 8)) || (st = nn_node_set_op(n, "QLinearMatMul", ""))) goto done;
    } else { /* Add */
      if (dw.per_axis) continue;
      if (dw.zp < 0 && (dw.zp = zeros_like_scale(g, dw.scale, NN_UINT8)) < 0) goto oom;
      NN_TRY(nn_model_ensure_opset(m, "com.microsoft", 1));
      n = &g->nodes[i];
      int in[8] = {dx.q, dx.scale, dx.zp, dw.q, dw.scale, dw.zp, ys, yz};
      if ((st = set_inputs(n, in, 8)) || (st = nn_node_set_op(n, "QLinearAdd", "com.microsoft")))
        goto done;
    }
    if (relu_max) {
      const int pre = nn_graph_add_tensor(g, "codes_before_relu");
      char *nm = pre >= 0 ? nn_graph_unique_node_name(g, "relu_on_codes") : NULL;
      const int mx[2] = {pre, yz};
      const int mi = nm ? nn_graph_add_node(g, "Max", "", nm, 2, mx, 1, &yq) : -1;
      free(nm);
      if (mi < 0) goto oom;
      yq = pre;
      n = &g->nodes[i];
    }
    n->outputs[0] = yq;
    kill[qn] = 1;
    if (act >= 0) kill[act] = 1;
    (*n_lowered)++;
  }
  if (*n_lowered) {
    unsigned char *k2 = realloc(kill, (size_t)g->n_nodes + 1);
    if (!k2) goto oom;
    kill = k2;
    memset(kill + n_nodes, 0, (size_t)(g->n_nodes - n_nodes) + 1);
    nn_graph_remove_nodes(g, kill);
    int dead;
    NN_TRY(nn_pass_eliminate_dead(m, &dead));
    NN_TRY(nn_graph_sort(g));
  }
  goto done;
oom:
  st = nn_errorf(NN_ERR_NOMEM, "out of memory");
done:
  nn_use_map_free(&u);
  free(kill);
  return st;
}
