/*
 * smooth_quant.c - SmoothQuant (Xiao et al. 2023): move activation outliers into the
 * weights before int8 quantization. Per input channel k of a LayerNormalization ->
 * MatMul/Gemm pair, s_k = max|X_k|^alpha / max|W_k,:|^(1-alpha); the LayerNorm's
 * scale and bias are divided by s and row k of every reading weight multiplied by s,
 * so the float graph computes the same function with a flatter activation range.
 * A LayerNorm is the op, or its opset < 17 export whose affine tail is
 * Add(Mul(Div(...), gamma), beta) with constant per-channel gamma and beta.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quant/quantize.h"
#include "runtime/session.h"

/* One LayerNorm output smoothed: its weighted readers, and per-channel statistics. */
typedef struct sq_group {
  int ln;        /* LayerNormalization node, or the Add of a decomposed one */
  int mul;       /* the Mul of a decomposed LayerNorm, or -1 */
  int sc_node, sc_slot, bi_node, bi_slot; /* where scale and bias are read (-1: none) */
  int y;         /* the normalized output */
  int64_t k;     /* channels (last dim) */
  int n_mm;      /* readers that qualify */
  int *mm;       /* node indices */
  int shared;    /* y also has readers that are not smoothed (or is a graph output) */
  float *xmax;   /* per-channel max|x| over the calibration data */
} sq_group;

typedef struct sq_ctx {
  const nn_graph *g;
  int n_tensors;
  int *group_of; /* per tensor: group index or -1 */
  sq_group *groups;
  nn_status st;
} sq_ctx;

static int is_const_f32(const nn_graph *g, int t) {
  return t >= 0 && (g->tensors[t].flags & NN_T_INITIALIZER) && g->tensors[t].data &&
         !(g->tensors[t].flags & NN_T_INPUT) && g->tensors[t].dtype == NN_FLOAT;
}

static int is_layernorm(const nn_node *n) {
  return !strcmp(n->op_type, "LayerNormalization") &&
         (!n->domain[0] || !strcmp(n->domain, "ai.onnx") || !strcmp(n->domain, "com.microsoft"));
}

/* A constant float32 vector of k values along the last axis (leading dims 1). */
static int channel_vector(const nn_graph *g, int t, int64_t k) {
  if (!is_const_f32(g, t) || g->tensors[t].ndim < 1) return 0;
  const nn_tensor *v = &g->tensors[t];
  for (int d = 0; d + 1 < v->ndim; d++)
    if (v->dims[d] != 1) return 0;
  return v->dims[v->ndim - 1] == k && k > 1;
}

/* Node i is Add(Mul(Div(..), gamma), beta) (a LayerNorm exported below opset 17,
 * where the Mul output is read only by the Add): fills gr's mul and slots. */
static int affine_tail(const nn_graph *g, const nn_use_map *u, int i, sq_group *gr) {
  const nn_node *a = &g->nodes[i];
  if (a->domain[0] || strcmp(a->op_type, "Add") || a->n_inputs != 2 || a->n_outputs < 1)
    return 0;
  for (int bs = 0; bs < 2; bs++) {
    int mt = a->inputs[1 - bs], beta = a->inputs[bs];
    if (mt < 0 || beta < 0 || !is_const_f32(g, beta)) continue;
    int64_t k = nn_tensor_numel(&g->tensors[beta]);
    int mp = g->tensors[mt].producer;
    if (!channel_vector(g, beta, k) || mp < 0 || u->off[mt + 1] - u->off[mt] != 1 ||
        (g->tensors[mt].flags & NN_T_OUTPUT))
      continue;
    const nn_node *m = &g->nodes[mp];
    if (m->domain[0] || strcmp(m->op_type, "Mul") || m->n_inputs != 2) continue;
    for (int gs = 0; gs < 2; gs++) {
      int z = m->inputs[1 - gs], zp = z >= 0 ? g->tensors[z].producer : -1;
      if (!channel_vector(g, m->inputs[gs], k) || zp < 0 ||
          strcmp(g->nodes[zp].op_type, "Div"))
        continue;
      gr->mul = mp;
      gr->sc_node = mp;
      gr->sc_slot = gs;
      gr->bi_node = i;
      gr->bi_slot = bs;
      gr->k = k;
      return 1;
    }
  }
  return 0;
}

/* Channels K of the weight of node i when y feeds its A input and B is a constant
 * float32 2-D weight (Gemm: transA = 0), else -1. */
static int64_t weighted_k(const nn_graph *g, int i, int y) {
  const nn_node *n = &g->nodes[i];
  if (n->domain[0] || n->n_inputs < 2 || n->inputs[0] != y || n->inputs[1] == y) return -1;
  int gemm = !strcmp(n->op_type, "Gemm");
  if (!gemm && strcmp(n->op_type, "MatMul")) return -1;
  if (gemm && nn_attr_int(n, "transA", 0) != 0) return -1;
  const nn_tensor *w = &g->tensors[n->inputs[1]];
  if (!is_const_f32(g, n->inputs[1]) || w->ndim != 2) return -1;
  return gemm && nn_attr_int(n, "transB", 0) ? w->dims[1] : w->dims[0];
}

static void observe(void *user, int t, const nn_value *v) {
  sq_ctx *c = user;
  if (c->st || t < 0 || t >= c->n_tensors || c->group_of[t] < 0) return;
  sq_group *gr = &c->groups[c->group_of[t]];
  if (v->dtype != NN_FLOAT || !v->data || v->ndim < 1 || v->dims[v->ndim - 1] != gr->k) {
    c->st = nn_errorf(NN_ERR_INVALID,
                      "smooth_quant: tensor '%s' is not float32 with %lld channels last",
                      c->g->tensors[t].name ? c->g->tensors[t].name : "?", (long long)gr->k);
    return;
  }
  int64_t n = nn_value_numel(v), k = gr->k;
  const float *x = v->data;
  for (int64_t r = 0; r < n; r += k)
    for (int64_t j = 0; j < k; j++) {
      float a = fabsf(x[r + j]);
      if (a > gr->xmax[j]) gr->xmax[j] = a;
    }
}

static nn_status collect(const nn_model *m, nn_dataset *ds, int64_t limit, sq_ctx *c) {
  nn_status st = NN_OK;
  nn_session *s = NULL;
  NN_TRY(nn_session_create_flags(m, NULL, NN_SESSION_AS_WRITTEN, &s));
  nn_session_set_observer(s, observe, c);
  int64_t total;
  NN_TRY(nn_calib_sample_count(ds, limit, &total));
  for (int64_t i = 0; i < total && !st; i++) {
    st = nn_run_dataset_sample(s, ds, i, 0, NULL);
    if (!st) st = c->st;
  }
done:
  nn_session_free(s);
  return st;
}

/* Make initializer t private to node i's input slot when anything else reads it;
 * returns the (possibly new) tensor index or -1 on OOM. */
static int private_init(nn_graph *g, const nn_use_map *u, int i, int slot) {
  int t = g->nodes[i].inputs[slot];
  int readers = 0;
  for (int j = u->off[t]; j < u->off[t + 1]; j++) {
    const nn_node *n = &g->nodes[u->cons[j]];
    for (int s = 0; s < n->n_inputs; s++) readers += n->inputs[s] == t;
  }
  if (readers <= 1 && !(g->tensors[t].flags & NN_T_OUTPUT)) return t;
  void *copy = malloc(g->tensors[t].nbytes ? g->tensors[t].nbytes : 1);
  if (!copy) return -1;
  memcpy(copy, g->tensors[t].data, g->tensors[t].nbytes);
  nn_tensor *src = &g->tensors[t];
  int64_t dims[NN_MAX_DIMS];
  int ndim = src->ndim;
  memcpy(dims, src->dims, sizeof dims);
  char *base = nn_strdup(src->name);
  int nt = nn_graph_add_initializer(g, base ? base : "smoothed", NN_FLOAT, ndim, dims, copy);
  free(base);
  if (nt >= 0) g->nodes[i].inputs[slot] = nt;
  return nt;
}

/* A private copy of LayerNorm node ln writing a new tensor (its other readers keep the
 * original output). Returns the new output tensor or -1. */
static int clone_layernorm(nn_graph *g, int ln) {
  char *on = nn_graph_unique_name(g, "smoothed_ln_out");
  char *nn = nn_graph_unique_node_name(g, "smoothed_ln");
  int out = on ? nn_graph_add_tensor(g, on) : -1;
  int idx = -1;
  if (out >= 0 && nn) {
    const nn_node *o = &g->nodes[ln];
    int in[3];
    int n_in = o->n_inputs > 3 ? 3 : o->n_inputs;
    memcpy(in, o->inputs, (size_t)n_in * sizeof *in);
    idx = nn_graph_add_node(g, o->op_type, o->domain, nn, n_in, in, 1, &out);
  }
  if (idx >= 0) {
    const nn_node *o = &g->nodes[ln];
    nn_node *n = &g->nodes[idx];
    n->attrs = calloc((size_t)o->n_attrs + 1, sizeof *n->attrs);
    if (!n->attrs) idx = -1;
    for (int a = 0; idx >= 0 && a < o->n_attrs; a++) {
      const nn_attr *s = &o->attrs[a];
      if (s->type != NN_ATTR_INT && s->type != NN_ATTR_FLOAT) continue;
      nn_attr *d = &n->attrs[n->n_attrs];
      d->name = nn_strdup(s->name);
      if (!d->name) {
        idx = -1;
        break;
      }
      d->type = s->type;
      d->i = s->i;
      d->f = s->f;
      n->n_attrs++;
    }
  }
  free(on);
  free(nn);
  return idx >= 0 ? out : -1;
}

/* A private copy of the decomposed LayerNorm tail (Mul, Add) of group gr writing a
 * new tensor; gr's scale/bias nodes become the copies. Returns the tensor or -1. */
static int clone_affine(nn_graph *g, sq_group *gr) {
  char *mn = nn_graph_unique_name(g, "smoothed_ln_mul"),
       *an = nn_graph_unique_name(g, "smoothed_ln_out");
  int mo = mn ? nn_graph_add_tensor(g, mn) : -1, ao = an ? nn_graph_add_tensor(g, an) : -1;
  int mi = -1, ai = -1;
  free(mn);
  free(an);
  if (mo < 0 || ao < 0) return -1;
  int in[2];
  memcpy(in, g->nodes[gr->mul].inputs, sizeof in);
  char *nm = nn_graph_unique_node_name(g, "smoothed_ln_mul");
  if (nm) mi = nn_graph_add_node(g, "Mul", "", nm, 2, in, 1, &mo);
  free(nm);
  if (mi < 0) return -1;
  memcpy(in, g->nodes[gr->ln].inputs, sizeof in);
  in[1 - gr->bi_slot] = mo;
  nm = nn_graph_unique_node_name(g, "smoothed_ln_add");
  if (nm) ai = nn_graph_add_node(g, "Add", "", nm, 2, in, 1, &ao);
  free(nm);
  if (ai < 0) return -1;
  gr->sc_node = mi;
  gr->bi_node = ai;
  return ao;
}

nn_status nn_pass_smooth_quant(nn_model *m, nn_dataset *ds, int64_t limit, float alpha,
                               int *n_smoothed) {
  nn_status st = NN_OK;
  nn_graph *g = m->graph;
  nn_use_map u = {0};
  sq_ctx c = {0};
  int n_groups = 0;
  *n_smoothed = 0;
  if (!(alpha >= 0.0f && alpha <= 1.0f))
    return nn_errorf(NN_ERR_INVALID, "smooth_quant: alpha %g is outside [0, 1]", alpha);
  NN_TRY(nn_graph_build_maps(g, &u));
  c.g = g;
  c.n_tensors = g->n_tensors;
  c.group_of = malloc(((size_t)g->n_tensors + 1) * sizeof *c.group_of);
  c.groups = calloc((size_t)g->n_nodes + 1, sizeof *c.groups);
  if (!c.group_of || !c.groups) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  for (int t = 0; t < g->n_tensors; t++) c.group_of[t] = -1;

  /* Find LayerNorm outputs read by weighted MatMul/Gemm nodes. */
  for (int i = 0; i < g->n_nodes; i++) {
    const nn_node *n = &g->nodes[i];
    sq_group *gr = &c.groups[n_groups];
    memset(gr, 0, sizeof *gr);
    gr->mul = -1;
    if (n->n_outputs < 1 || n->outputs[0] < 0) continue;
    int64_t k;
    if (is_layernorm(n)) {
      if (n->n_inputs < 2) continue;
      int sc = n->inputs[1], bi = n->n_inputs > 2 ? n->inputs[2] : -1;
      /* only the last axis normalized, so scale/bias are indexed by channel */
      int64_t axis = nn_attr_int(n, "axis", -1);
      int xr = n->inputs[0] >= 0 ? g->tensors[n->inputs[0]].ndim : -1;
      if (axis != -1 && !(xr > 0 && axis == xr - 1)) continue;
      k = sc >= 0 ? nn_tensor_numel(&g->tensors[sc]) : 0;
      if (!channel_vector(g, sc, k) || (bi >= 0 && !channel_vector(g, bi, k))) continue;
      gr->sc_node = i;
      gr->sc_slot = 1;
      gr->bi_node = bi >= 0 ? i : -1;
      gr->bi_slot = 2;
    } else if (affine_tail(g, &u, i, gr)) {
      k = gr->k;
    } else {
      continue;
    }
    int y = n->outputs[0];
    gr->mm = malloc(((size_t)(u.off[y + 1] - u.off[y]) + 1) * sizeof *gr->mm);
    if (!gr->mm) {
      st = nn_errorf(NN_ERR_NOMEM, "out of memory");
      goto done;
    }
    gr->shared = (g->tensors[y].flags & NN_T_OUTPUT) != 0;
    for (int j = u.off[y]; j < u.off[y + 1]; j++) {
      int r = u.cons[j];
      int dup = 0;
      for (int q = 0; q < gr->n_mm; q++) dup |= gr->mm[q] == r;
      if (dup) continue;
      if (weighted_k(g, r, y) == k)
        gr->mm[gr->n_mm++] = r;
      else
        gr->shared = 1;
    }
    if (!gr->n_mm) {
      free(gr->mm);
      memset(gr, 0, sizeof *gr);
      continue;
    }
    gr->ln = i;
    gr->y = y;
    gr->k = k;
    gr->xmax = calloc((size_t)k, sizeof *gr->xmax);
    if (!gr->xmax) {
      st = nn_errorf(NN_ERR_NOMEM, "out of memory");
      n_groups++;
      goto done;
    }
    c.group_of[y] = n_groups++;
  }
  if (!n_groups) goto done;

  NN_TRY(collect(m, ds, limit, &c));

  for (int gi = 0; gi < n_groups; gi++) {
    sq_group *gr = &c.groups[gi];
    int64_t k = gr->k;
    float *s = malloc((size_t)k * sizeof *s), *wmax = calloc((size_t)k, sizeof *wmax);
    if (!s || !wmax) {
      free(s);
      free(wmax);
      st = nn_errorf(NN_ERR_NOMEM, "out of memory");
      goto done;
    }
    /* one s for all readers (Q, K, V projections): the max over their weights */
    for (int q = 0; q < gr->n_mm; q++) {
      const nn_node *n = &g->nodes[gr->mm[q]];
      const nn_tensor *w = &g->tensors[n->inputs[1]];
      int tb = !strcmp(n->op_type, "Gemm") && nn_attr_int(n, "transB", 0);
      int64_t rows = w->dims[0], cols = w->dims[1];
      const float *wd = w->data;
      for (int64_t r = 0; r < rows; r++)
        for (int64_t cc = 0; cc < cols; cc++) {
          float a = fabsf(wd[r * cols + cc]);
          int64_t ch = tb ? cc : r;
          if (a > wmax[ch]) wmax[ch] = a;
        }
    }
    for (int64_t j = 0; j < k; j++) {
      float v = 1.0f;
      if (gr->xmax[j] > 0 && wmax[j] > 0 && isfinite(gr->xmax[j]))
        v = powf(gr->xmax[j], alpha) / powf(wmax[j], 1.0f - alpha);
      if (!isfinite(v)) v = 1.0f;
      s[j] = v < 1e-5f ? 1e-5f : v > 1e5f ? 1e5f : v;
    }
    free(wmax);

    /* Readers other than the weighted ones keep the original LayerNorm output. */
    if (gr->shared) {
      int y2 = gr->mul >= 0 ? clone_affine(g, gr) : clone_layernorm(g, gr->ln);
      if (y2 < 0) {
        free(s);
        st = nn_errorf(NN_ERR_NOMEM, "out of memory");
        goto done;
      }
      if (gr->mul < 0) gr->sc_node = g->n_nodes - 1;
      if (gr->mul < 0 && gr->bi_node >= 0) gr->bi_node = g->n_nodes - 1;
      for (int q = 0; q < gr->n_mm; q++) g->nodes[gr->mm[q]].inputs[0] = y2;
    }
    /* The maps still describe the graph before this group's edits; private_init only
     * looks at initializers, whose readers changed only by the clone (counted here). */
    int pn[2] = {gr->sc_node, gr->bi_node}, ps[2] = {gr->sc_slot, gr->bi_slot};
    for (int si = 0; si < 2; si++) {
      int ln = pn[si], slot = ps[si];
      if (ln < 0 || slot >= g->nodes[ln].n_inputs || g->nodes[ln].inputs[slot] < 0) continue;
      int t = g->nodes[ln].inputs[slot];
      if (gr->shared) {
        /* the clone shares the original's scale/bias: always copy */
        float *copy = malloc(g->tensors[t].nbytes);
        if (!copy) {
          free(s);
          st = nn_errorf(NN_ERR_NOMEM, "out of memory");
          goto done;
        }
        memcpy(copy, g->tensors[t].data, g->tensors[t].nbytes);
        int64_t dims[NN_MAX_DIMS];
        memcpy(dims, g->tensors[t].dims, sizeof dims);
        char *base = nn_strdup(g->tensors[t].name);
        t = nn_graph_add_initializer(g, base ? base : "smoothed", NN_FLOAT,
                                     g->tensors[t].ndim, dims, copy);
        free(base);
      } else {
        t = private_init(g, &u, ln, slot);
      }
      if (t < 0) {
        free(s);
        st = nn_errorf(NN_ERR_NOMEM, "out of memory");
        goto done;
      }
      g->nodes[ln].inputs[slot] = t;
      float *p = g->tensors[t].data;
      for (int64_t j = 0; j < k; j++) p[j] /= s[j];
    }
    for (int q = 0; q < gr->n_mm; q++) {
      int t = private_init(g, &u, gr->mm[q], 1);
      if (t < 0) {
        free(s);
        st = nn_errorf(NN_ERR_NOMEM, "out of memory");
        goto done;
      }
      const nn_node *n = &g->nodes[gr->mm[q]];
      int tb = !strcmp(n->op_type, "Gemm") && nn_attr_int(n, "transB", 0);
      nn_tensor *w = &g->tensors[t];
      int64_t rows = w->dims[0], cols = w->dims[1];
      float *wd = w->data;
      for (int64_t r = 0; r < rows; r++)
        for (int64_t cc = 0; cc < cols; cc++) wd[r * cols + cc] *= s[tb ? cc : r];
    }
    free(s);
    *n_smoothed += gr->n_mm;
  }
  if (n_groups) st = nn_graph_sort(g);
done:
  if (c.groups)
    for (int gi = 0; gi < n_groups; gi++) {
      free(c.groups[gi].mm);
      free(c.groups[gi].xmax);
    }
  free(c.groups);
  free(c.group_of);
  nn_use_map_free(&u);
  return st;
}
