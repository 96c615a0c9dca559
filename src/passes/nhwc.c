/*
 * nhwc.c - run chains of convolutions channel-last (NHWC), as ONNX Runtime's NHWC
 * transformer does for QLinearConv (and its blocked layout for float): the planar layout
 * costs the kernels a packed copy of every activation panel (1x1 convolutions),
 * stride-phase copies and padded grids (3x3), and transposes around the depthwise
 * kernels; channel-last convolutions read the activations in place
 * (src/kernels/q8c_conv.h, f32c_conv.h).
 *
 * On a graph already lowered by nn_pass_lower_qdq:
 *   QLinearConv (2-D, uint8 activations, constant int8 weights with zero points 0,
 *     group 1 or depthwise, explicit pads)          -> com.nnopt QLinearConvNhwc
 *   MaxPool of such a tensor (2-D, no indices)       -> com.nnopt MaxPoolNhwc
 *   QLinearAdd of two such tensors, Max of one with a scalar constant: unchanged (the
 *     broadcast of two 4-D tensors and an elementwise op mean the same in either layout)
 *   DequantizeLinear -> GlobalAveragePool -> QuantizeLinear of such a tensor (each the
 *     sole reader of the one before, per-tensor uint8 parameters) -> com.nnopt
 *     QGlobalAvgPoolNhwc, whose [N, C, 1, 1] output needs no transpose
 * A tensor entering such a node from outside gets one com.nnopt ToNhwc (the stem's 3
 * channels padded to 4); a tensor leaving for any other consumer (or a graph output)
 * one FromNhwc back, under its original name. Which connected groups convert: see the
 * comment in nn_pass_nhwc. Float32 chains (NN_NHWC_F32): Conv / FusedConv -> com.nnopt
 * ConvNhwc, with the Add, Relu, Clip and MaxPool between them, and a GlobalAveragePool
 * of their output -> GlobalAvgPoolNhwc.
 */
#include <stdlib.h>
#include <string.h>

#include "kernels/f32c_conv.h"
#include "kernels/q8c_conv.h"
#include "passes/passes.h"

enum { K_NONE = 0, K_CONV, K_POOL, K_ADD, K_MAX, K_GAP, /* 8-bit */
       K_FCONV, K_FADD, K_FACT, K_FPOOL, K_FGAP };     /* float32 */
#define IS_Q8(k) ((k) >= K_CONV && (k) <= K_MAX)
#define IS_F32(k) ((k) >= K_FCONV && (k) <= K_FPOOL)

static int is_init(const nn_graph *g, int t) {
  return t >= 0 && (g->tensors[t].flags & NN_T_INITIALIZER) && g->tensors[t].data &&
         !(g->tensors[t].flags & NN_T_INPUT);
}

static int init_dtype_scalar(const nn_graph *g, int t, nn_dtype dt) {
  return is_init(g, t) && g->tensors[t].dtype == dt && nn_tensor_numel(&g->tensors[t]) == 1;
}

static int explicit_2d(const nn_node *n) {
  const int64_t *v;
  if (strcmp(nn_attr_string(n, "auto_pad", "NOTSET"), "NOTSET")) return 0;
  const int np = nn_attr_ints(n, "pads", &v), ns = nn_attr_ints(n, "strides", &v);
  const int nd = nn_attr_ints(n, "dilations", &v);
  return (np < 0 || np == 4) && (ns < 0 || ns == 2) && (nd < 0 || nd == 2);
}

/* A convolution by the 4-D weight w that the channel-last kernels take: group 1 or
 * depthwise, at most 64 taps, kernel_shape (if given) matching w, explicit 2-D pads. */
static int conv_shape_ok(const nn_graph *g, const nn_node *n, int w) {
  const int64_t *d = g->tensors[w].dims, grp = nn_attr_int(n, "group", 1);
  if (!(grp == 1 || (grp == d[0] && d[1] == 1))) return 0;
  if (d[2] * d[3] > 64 || d[2] < 1 || d[3] < 1) return 0;
  const int64_t *ks;
  const int nk = nn_attr_ints(n, "kernel_shape", &ks);
  if (nk >= 0 && (nk != 2 || ks[0] != d[2] || ks[1] != d[3])) return 0;
  return explicit_2d(n);
}

static int conv_ok(const nn_graph *g, const nn_node *n) {
  if (n->domain[0] || strcmp(n->op_type, "QLinearConv") || n->n_inputs < 8 || n->n_outputs != 1)
    return 0;
  const int w = n->inputs[3], wz = n->inputs[5];
  if (!is_init(g, w) || g->tensors[w].dtype != NN_INT8 || g->tensors[w].ndim != 4) return 0;
  if (!init_dtype_scalar(g, n->inputs[2], NN_UINT8) || !init_dtype_scalar(g, n->inputs[7], NN_UINT8) ||
      !init_dtype_scalar(g, n->inputs[1], NN_FLOAT) || !init_dtype_scalar(g, n->inputs[6], NN_FLOAT) ||
      !is_init(g, n->inputs[4]))
    return 0;
  if (wz >= 0) {
    if (!is_init(g, wz) || g->tensors[wz].dtype != NN_INT8) return 0;
    const int8_t *z = g->tensors[wz].data;
    for (int64_t i = 0; i < nn_tensor_numel(&g->tensors[wz]); i++)
      if (z[i]) return 0;
  }
  if (n->n_inputs > 8 && n->inputs[8] >= 0 && !is_init(g, n->inputs[8])) return 0;
  return conv_shape_ok(g, n, w);
}

static int pool_ok(const nn_node *n) {
  const int64_t *ks;
  return !n->domain[0] && !strcmp(n->op_type, "MaxPool") && n->n_outputs == 1 &&
         nn_attr_ints(n, "kernel_shape", &ks) == 2 && !nn_attr_int(n, "ceil_mode", 0) &&
         !nn_attr_int(n, "storage_order", 0) && explicit_2d(n);
}

static int add_ok(const nn_graph *g, const nn_node *n) {
  return !strcmp(n->domain, "com.microsoft") && !strcmp(n->op_type, "QLinearAdd") &&
         n->n_inputs == 8 && n->n_outputs == 1 && init_dtype_scalar(g, n->inputs[2], NN_UINT8) &&
         init_dtype_scalar(g, n->inputs[5], NN_UINT8) && init_dtype_scalar(g, n->inputs[7], NN_UINT8);
}

static int max_ok(const nn_graph *g, const nn_node *n) {
  return !n->domain[0] && !strcmp(n->op_type, "Max") && n->n_inputs == 2 && n->n_outputs == 1 &&
         init_dtype_scalar(g, n->inputs[1], NN_UINT8);
}

/* The DequantizeLinear -> GlobalAveragePool -> QuantizeLinear chain reading tensor t
 * alone: returns the DequantizeLinear node and sets *gap, *q; else -1. */
static int gap_head(const nn_graph *g, const nn_use_map *u, int t, int *gap, int *q) {
  if ((g->tensors[t].flags & NN_T_OUTPUT) || u->off[t + 1] - u->off[t] != 1) return -1;
  const int dq = u->cons[u->off[t]];
  const nn_node *d = &g->nodes[dq];
  if (d->domain[0] || strcmp(d->op_type, "DequantizeLinear") || d->n_inputs != 3 ||
      d->n_outputs != 1 || d->inputs[0] != t || !init_dtype_scalar(g, d->inputs[1], NN_FLOAT) ||
      !init_dtype_scalar(g, d->inputs[2], NN_UINT8))
    return -1;
  const int a = d->outputs[0];
  if (a < 0 || (g->tensors[a].flags & NN_T_OUTPUT) || u->off[a + 1] - u->off[a] != 1) return -1;
  *gap = u->cons[u->off[a]];
  const nn_node *p = &g->nodes[*gap];
  if (p->domain[0] || strcmp(p->op_type, "GlobalAveragePool") || p->n_inputs != 1 || p->n_outputs != 1)
    return -1;
  const int b = p->outputs[0];
  if (b < 0 || (g->tensors[b].flags & NN_T_OUTPUT) || u->off[b + 1] - u->off[b] != 1) return -1;
  *q = u->cons[u->off[b]];
  const nn_node *qn = &g->nodes[*q];
  if (qn->domain[0] || strcmp(qn->op_type, "QuantizeLinear") || qn->n_inputs != 3 ||
      qn->n_outputs != 1 || qn->inputs[0] != b || !init_dtype_scalar(g, qn->inputs[1], NN_FLOAT) ||
      !init_dtype_scalar(g, qn->inputs[2], NN_UINT8) || nn_attr_int(qn, "saturate", 1) != 1)
    return -1;
  return dq;
}

/* An entry tensor t made by a per-tensor uint8 QuantizeLinear of at most 4 channels
 * (the network's image) and read by the region alone: the ToNhwc node cv quantizes
 * itself, from the float input (the QuantizeLinear is left without readers). */
static void fuse_quantize(nn_graph *g, const nn_use_map *u, const int *kind, int t, int cv) {
  const int pq = g->tensors[t].producer;
  if (pq < 0 || (g->tensors[t].flags & NN_T_OUTPUT)) return;
  const nn_node *q = &g->nodes[pq];
  if (q->domain[0] || strcmp(q->op_type, "QuantizeLinear") || q->n_inputs != 3 ||
      !init_dtype_scalar(g, q->inputs[1], NN_FLOAT) || !init_dtype_scalar(g, q->inputs[2], NN_UINT8) ||
      nn_attr_int(q, "saturate", 1) != 1)
    return;
  for (int k = u->off[t]; k < u->off[t + 1]; k++) {
    const nn_node *n = &g->nodes[u->cons[k]];
    if (!kind[u->cons[k]] || kind[u->cons[k]] != K_CONV || nn_attr_int(n, "group", 1) != 1 ||
        g->tensors[n->inputs[3]].dims[1] > 4)
      return;
  }
  nn_node *c = &g->nodes[cv];
  int *in = realloc(c->inputs, 3 * sizeof *in);
  if (!in) return; /* stays unfused */
  in[0] = q->inputs[0];
  in[1] = q->inputs[1];
  in[2] = q->inputs[2];
  c->inputs = in;
  c->n_inputs = 3;
}

/* Conv / FusedConv of float32 with constant weights (and bias), 2-D, group 1 or
 * depthwise, explicit pads, activation none / Relu / Clip. */
static int fconv_ok(const nn_graph *g, const nn_node *n) {
  const int fused = !strcmp(n->domain, "com.microsoft") && !strcmp(n->op_type, "FusedConv");
  if (!(fused || (!n->domain[0] && !strcmp(n->op_type, "Conv"))) || n->n_inputs < 2 ||
      n->n_outputs != 1 || (!fused && n->n_inputs > 3))
    return 0;
  const int w = n->inputs[1];
  if (!is_init(g, w) || g->tensors[w].dtype != NN_FLOAT || g->tensors[w].ndim != 4) return 0;
  if (n->n_inputs > 2 && n->inputs[2] >= 0 &&
      (!is_init(g, n->inputs[2]) || g->tensors[n->inputs[2]].dtype != NN_FLOAT))
    return 0;
  const char *a = nn_attr_string(n, "activation", "");
  const float *v;
  if (*a && strcmp(a, "Relu") && !(!strcmp(a, "Clip") && nn_attr_floats(n, "activation_params", &v) == 2))
    return 0;
  return conv_shape_ok(g, n, w);
}

/* A float convolution (fconv_ok) that ConvNhwc runs as Winograd F(2x2, 3x3). */
static int fconv_wino(const nn_graph *g, const nn_node *n) {
  const int64_t *d = g->tensors[n->inputs[1]].dims, *v;
  long st[2] = {1, 1}, dl[2] = {1, 1}, pd[2] = {0, 0};
  if (nn_attr_ints(n, "strides", &v) == 2) st[0] = (long)v[0], st[1] = (long)v[1];
  if (nn_attr_ints(n, "dilations", &v) == 2) dl[0] = (long)v[0], dl[1] = (long)v[1];
  if (nn_attr_ints(n, "pads", &v) == 4) pd[0] = (long)v[0], pd[1] = (long)v[1];
  return nn_attr_int(n, "group", 1) == 1 &&
         nn_f32c_wino_fits((long)d[2], (long)d[3], st[0], st[1], dl[0], dl[1], pd[0], pd[1],
                           (long)d[1], (long)d[0]);
}

static int op_plain(const nn_node *n, const char *op) {
  return !n->domain[0] && !strcmp(n->op_type, op) && n->n_outputs == 1;
}

/* Data inputs a region node reads in channel-last form (slots), their count. */
static int data_slots(int kind, const nn_node *n, int *slot) {
  int k = 0;
  slot[k++] = 0;
  if (kind == K_ADD) slot[k++] = 3;
  if (kind == K_FADD) slot[k++] = 1;
  if (kind == K_FCONV && n->n_inputs > 3 && n->inputs[3] >= 0) slot[k++] = 3;
  return k;
}

static int find(int *p, int i) {
  while (p[i] != i) i = p[i] = p[p[i]];
  return i;
}

/* A com.nnopt ToNhwc (to != 0; 'channels' cp when > 0) or FromNhwc node from in to out. */
static nn_status add_convert(nn_graph *g, int to, int in, int out, int64_t cp) {
  char *name = nn_graph_unique_node_name(g, to ? "to_nhwc" : "to_nchw");
  const int ni = name ? nn_graph_add_node(g, to ? "ToNhwc" : "FromNhwc", "com.nnopt", name, 1,
                                          &in, 1, &out)
                      : -1;
  free(name);
  if (ni < 0) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  return cp > 0 ? nn_node_add_attr_int(&g->nodes[ni], "channels", cp) : NN_OK;
}

/* Channels to pad a tensor entering the region to: when all its region consumers are
 * group-1 convolutions of the same c % 4 != 0 input channels (the network's stem),
 * rounded up to 4 (whole quads, no tails in the kernel); else 0 (as is). */
static int64_t entry_channels(const nn_graph *g, const nn_use_map *u, const int *kind, int t) {
  int64_t c = -1;
  for (int k = u->off[t]; k < u->off[t + 1]; k++) {
    const int ci = u->cons[k];
    if (!kind[ci]) continue;
    const nn_node *n = &g->nodes[ci];
    if (kind[ci] != K_CONV || n->inputs[0] != t || nn_attr_int(n, "group", 1) != 1) return 0;
    const int64_t wc = g->tensors[n->inputs[3]].dims[1];
    if (c >= 0 && wc != c) return 0;
    c = wc;
  }
  return c > 0 && c % 4 ? (c + 3) / 4 * 4 : 0;
}

nn_status nn_pass_nhwc(nn_model *m, unsigned what, int *n_changed) {
  nn_graph *g = m->graph;
  *n_changed = 0;
  const int nn = g->n_nodes, nt = g->n_tensors;
  if (!nn) return NN_OK;
  nn_use_map u = {0};
  nn_status st = nn_graph_build_maps(g, &u);
  int *kind = calloc((size_t)nn, sizeof *kind), *order = malloc((size_t)nn * sizeof *order);
  int *parent = malloc((size_t)nn * sizeof *parent), *convs = calloc((size_t)nn, sizeof *convs);
  int *odd = calloc((size_t)nn, sizeof *odd), *dws = calloc((size_t)nn, sizeof *dws);
  int *flt = calloc((size_t)nn, sizeof *flt), *wino = calloc((size_t)nn, sizeof *wino);
  unsigned char *kill = NULL; /* heads' pools and QuantizeLinears */
  int *to_nhwc = malloc((size_t)nt * sizeof *to_nhwc);
  if (!st && (!kind || !order || !parent || !convs || !odd || !dws || !flt || !wino || !to_nhwc))
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
  if (!st) st = nn_graph_topo_order(g, order);
  if (st) goto done;
  for (int i = 0; i < nn; i++) parent[i] = i;
  for (int t = 0; t < nt; t++) to_nhwc[t] = -1;
  /* Tentative kinds in topological order: a node joins when its data inputs allow. */
/* t is written channel-last by a region node (the pools of heads write planar) */
#define IN_REGION(t)                                  \
  ((t) >= 0 && g->tensors[t].producer >= 0 &&           \
   (IS_Q8(kind[g->tensors[t].producer]) || IS_F32(kind[g->tensors[t].producer])))
#define IN_Q8(t) ((t) >= 0 && g->tensors[t].producer >= 0 && IS_Q8(kind[g->tensors[t].producer]))
#define IN_F32(t) ((t) >= 0 && g->tensors[t].producer >= 0 && IS_F32(kind[g->tensors[t].producer]))
  const int q8 = (what & NN_NHWC_Q8) != 0, f32 = (what & NN_NHWC_F32) != 0;
  for (int k = 0; k < nn; k++) {
    const int i = order[k];
    const nn_node *n = &g->nodes[i];
    if (q8 && conv_ok(g, n) &&
        (nn_attr_int(n, "group", 1) > 1 || g->tensors[n->inputs[3]].dims[1] % 4 == 0 ||
         !IN_Q8(n->inputs[0])))
      kind[i] = K_CONV; /* dense inputs of whole quads (an entry is padded to them) */
    else if (pool_ok(n) && IN_Q8(n->inputs[0]))
      kind[i] = K_POOL;
    else if (add_ok(g, n) && IN_Q8(n->inputs[0]) && IN_Q8(n->inputs[3]))
      kind[i] = K_ADD;
    else if (max_ok(g, n) && IN_Q8(n->inputs[0]))
      kind[i] = K_MAX;
    else if (f32 && fconv_ok(g, n))
      kind[i] = K_FCONV;
    else if (op_plain(n, "Add") && n->n_inputs == 2 && IN_F32(n->inputs[0]) && IN_F32(n->inputs[1]))
      kind[i] = K_FADD;
    else if ((op_plain(n, "Relu") || op_plain(n, "Clip")) && IN_F32(n->inputs[0]))
      kind[i] = K_FACT;
    else if (pool_ok(n) && IN_F32(n->inputs[0]))
      kind[i] = K_FPOOL;
    if (!kind[i]) continue;
    int slot[3];
    const int ns = data_slots(kind[i], n, slot);
    for (int d = 0; d < ns; d++)
      if (IN_REGION(n->inputs[slot[d]])) {
        const int a = find(parent, i), b = find(parent, g->tensors[n->inputs[slot[d]]].producer);
        if (a != b) parent[a] = b;
      }
  }
  /* convs[root]: convolutions of the group; odd[root]: dense ones whose output channels
   * are not whole 32-channel tiles; dws[root]: depthwise ones. */
  for (int i = 0; i < nn; i++)
    if (kind[i] == K_CONV || kind[i] == K_FCONV) {
      const int r = find(parent, i);
      convs[r]++;
      const nn_node *n = &g->nodes[i];
      if (kind[i] == K_FCONV) flt[r] = 1;
      if (kind[i] == K_FCONV && fconv_wino(g, n)) wino[r]++;
      if (nn_attr_int(n, "group", 1) > 1)
        dws[r]++;
      else if (g->tensors[n->inputs[kind[i] == K_CONV ? 3 : 1]].dims[0] % NN_Q8C_NR)
        odd[r]++;
    }
  /* Groups stay planar when small (the transposes would cost more than they save), or
   * when dense convolutions leave part of the kernel's 32-channel tile empty and no
   * depthwise convolution (where the planar path pays transposes of its own) makes up
   * for it: U-Nets of 20, 40, 80 channels run faster planar (with AVX-512 VNNI; with
   * AVX2, NN_NHWC_Q8_ANY, every 8-bit group converts, even of one convolution: the
   * planar 8-bit kernels there are the slower ones by far). Float groups convert with
   * depthwise convolutions (MobileNets: -6% on MobileNetV2) or 3x3 convolutions that
   * ConvNhwc runs as Winograd F(2x2, 3x3) (ResNet-18 36 -> 23 ms), the latter however
   * small (a U-Net's decoder block between a Concat and an upsampling is two: 287 MB
   * U-Net 1.80 -> 1.27 s with them); without either they measured no faster.
   * Removing a group removes all of it (its members only depend on each other). */
  int changed = 0;
  for (int i = 0; i < nn; i++) {
    const int r = find(parent, i);
    int keep;
    if (what & NN_NHWC_ALL)
      keep = convs[r] > 0;
    else if (flt[r])
      keep = (dws[r] >= 1 && convs[r] >= 3) || wino[r] >= 1;
    else if (what & NN_NHWC_Q8_ANY)
      keep = convs[r] >= 1;
    else
      keep = convs[r] >= 3 && !(odd[r] && !dws[r]);
    if (kind[i] && !keep) kind[i] = K_NONE;
    changed += kind[i] != K_NONE;
  }
  if (!changed || (what & NN_NHWC_DRY)) {
    *n_changed = changed;
    goto done;
  }
  /* Float heads: a GlobalAveragePool of a channel-last tensor reads it as it is. */
  for (int i = 0; i < nn; i++) {
    const nn_node *n = &g->nodes[i];
    if (op_plain(n, "GlobalAveragePool") && n->n_inputs == 1 && IN_F32(n->inputs[0])) {
      kind[i] = K_FGAP;
      if ((st = nn_node_set_op(&g->nodes[i], "GlobalAvgPoolNhwc", "com.nnopt"))) goto done;
      changed++;
    }
  }
  /* Classifier heads: the DequantizeLinear becomes the integer pool and takes the
   * QuantizeLinear's output; the pool and the QuantizeLinear go. */
  for (int i = 0; i < nn; i++) {
    if (!IS_Q8(kind[i]) || g->nodes[i].outputs[0] < 0) continue;
    int gap, q;
    const int dq = gap_head(g, &u, g->nodes[i].outputs[0], &gap, &q);
    if (dq < 0) continue;
    if (!kill && !(kill = calloc((size_t)nn + 1, 1))) goto oom;
    nn_node *d = &g->nodes[dq];
    const int in[5] = {d->inputs[0], d->inputs[1], d->inputs[2], g->nodes[q].inputs[1],
                       g->nodes[q].inputs[2]};
    int *ni = realloc(d->inputs, sizeof in);
    if (!ni) goto oom;
    memcpy(ni, in, sizeof in);
    d->inputs = ni;
    d->n_inputs = 5;
    d->outputs[0] = g->nodes[q].outputs[0];
    g->nodes[q].outputs[0] = -1;
    if ((st = nn_node_set_op(d, "QGlobalAvgPoolNhwc", "com.nnopt"))) goto done;
    kind[dq] = K_GAP;
    kill[gap] = kill[q] = 1;
    changed++;
  }
  if ((st = nn_model_ensure_opset(m, "com.nnopt", 1))) goto done;
  for (int i = 0; i < nn; i++) {
    if (!kind[i] || kind[i] == K_GAP || kind[i] == K_FGAP) continue;
    /* Inputs first: a planar data input is read through one ToNhwc per tensor. */
    int slots[3];
    const int nd = data_slots(kind[i], &g->nodes[i], slots);
    for (int d = 0; d < nd; d++) {
      const int slot = slots[d], t = g->nodes[i].inputs[slot];
      if (t < 0 || IN_REGION(t)) continue;
      if (to_nhwc[t] < 0) {
        const int tn = nn_graph_add_tensor(g, "to_nhwc");
        if (tn < 0 || (st = add_convert(g, 1, t, tn, entry_channels(g, &u, kind, t)))) {
          if (!st) st = nn_errorf(NN_ERR_NOMEM, "out of memory");
          goto done;
        }
        fuse_quantize(g, &u, kind, t, g->n_nodes - 1);
        to_nhwc[t] = tn;
      }
      g->nodes[i].inputs[slot] = to_nhwc[t];
    }
    if (kind[i] == K_CONV && (st = nn_node_set_op(&g->nodes[i], "QLinearConvNhwc", "com.nnopt")))
      goto done;
    if ((kind[i] == K_POOL || kind[i] == K_FPOOL) &&
        (st = nn_node_set_op(&g->nodes[i], "MaxPoolNhwc", "com.nnopt")))
      goto done;
    if (kind[i] == K_FCONV && (st = nn_node_set_op(&g->nodes[i], "ConvNhwc", "com.nnopt")))
      goto done;
  }
  /* Outputs: the node writes a new channel-last tensor; region consumers read it, and a
   * Transpose back gives the original tensor to everything else. */
  for (int i = 0; i < nn; i++) {
    if (!kind[i] || kind[i] == K_GAP || kind[i] == K_FGAP) continue; /* planar already */
    const int t = g->nodes[i].outputs[0];
    if (t < 0) continue;
    const int tn = nn_graph_add_tensor(g, "nhwc");
    if (tn < 0) goto oom;
    g->nodes[i].outputs[0] = tn;
    int outside = (g->tensors[t].flags & NN_T_OUTPUT) != 0;
    for (int c = u.off[t]; c < u.off[t + 1]; c++) {
      nn_node *cn = &g->nodes[u.cons[c]];
      if (!kind[u.cons[c]]) {
        outside = 1;
        continue;
      }
      for (int s = 0; s < cn->n_inputs; s++)
        if (cn->inputs[s] == t) cn->inputs[s] = tn;
    }
    if (outside && (st = add_convert(g, 0, tn, t, 0))) goto done;
  }
#undef IN_REGION
#undef IN_Q8
#undef IN_F32
  *n_changed = changed;
  if (kill) { /* sized for the nodes added since */
    unsigned char *k2 = realloc(kill, (size_t)g->n_nodes + 1);
    if (!k2) goto oom;
    kill = k2;
    memset(kill + nn + 1, 0, (size_t)(g->n_nodes - nn));
    nn_graph_remove_nodes(g, kill);
  }
  int dead; /* a QuantizeLinear the image entry took over */
  if ((st = nn_pass_eliminate_dead(m, &dead))) goto done;
  st = nn_graph_sort(g);
  goto done;
oom:
  st = nn_errorf(NN_ERR_NOMEM, "out of memory");
done:
  nn_use_map_free(&u);
  free(kind);
  free(order);
  free(parent);
  free(convs);
  free(odd);
  free(dws);
  free(flt);
  free(wino);
  free(kill);
  free(to_nhwc);
  return st;
}
