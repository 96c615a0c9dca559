/*
 * graph.c - graph IR construction, lookup, producer/consumer maps, topological order
 * and attribute access.
 */
#include "core/graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *nn_strdup(const char *s) { return s ? strdup(s) : NULL; }

char *nn_strndup(const char *s, size_t n) {
  char *p = malloc(n + 1);
  if (!p) return NULL;
  if (n) memcpy(p, s, n);
  p[n] = 0;
  return p;
}

/* ---- tensors ---- */

int64_t nn_tensor_numel(const nn_tensor *t) {
  if (t->ndim < 0) return -1;
  int64_t n = 1;
  for (int i = 0; i < t->ndim; i++) {
    if (t->dims[i] < 0) return -1;
    n *= t->dims[i];
  }
  return n;
}

void nn_strings_free(nn_bytes *s, int64_t n) {
  if (!s) return;
  for (int64_t i = 0; i < n; i++) free(s[i].data);
}

void nn_tensor_drop_data(nn_tensor *t) {
  if (!(t->flags & NN_T_BORROWED)) {
    if (t->dtype == NN_STRING && t->data)
      nn_strings_free(t->data, (int64_t)(t->nbytes / sizeof(nn_bytes)));
    free(t->data);
  }
  t->data = NULL;
  t->nbytes = 0;
  t->flags &= ~(unsigned)NN_T_BORROWED;
}

void nn_tensor_clear(nn_tensor *t) {
  free(t->name);
  for (int i = 0; i < NN_MAX_DIMS; i++) free(t->dim_param[i]);
  nn_tensor_drop_data(t);
  free(t->doc_string);
  free(t->type_shell.data);
  free(t->init_shell.data);
  memset(t, 0, sizeof *t);
  t->producer = -1;
}

static nn_status blob_copy(nn_blob *dst, const nn_blob *src) {
  dst->len = 0;
  dst->data = NULL;
  if (!src->len) return NN_OK;
  dst->data = malloc(src->len);
  if (!dst->data) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  memcpy(dst->data, src->data, src->len);
  dst->len = src->len;
  return NN_OK;
}

nn_status nn_tensor_copy(nn_tensor *dst, const nn_tensor *src) {
  memset(dst, 0, sizeof *dst);
  dst->producer = -1;
  dst->dtype = src->dtype;
  dst->ndim = src->ndim;
  memcpy(dst->dims, src->dims, sizeof dst->dims);
  dst->flags = src->flags & ~(unsigned)NN_T_BORROWED; /* the copy owns its data */
  if (src->name && !(dst->name = strdup(src->name))) goto oom;
  if (src->doc_string && !(dst->doc_string = strdup(src->doc_string))) goto oom;
  for (int i = 0; i < NN_MAX_DIMS; i++)
    if (src->dim_param[i] && !(dst->dim_param[i] = strdup(src->dim_param[i]))) goto oom;
  if (src->data) {
    dst->data = malloc(src->nbytes ? src->nbytes : 1);
    if (!dst->data) goto oom;
    memcpy(dst->data, src->data, src->nbytes);
    dst->nbytes = src->nbytes;
    if (src->dtype == NN_STRING) {
      nn_bytes *d = dst->data;
      int64_t n = (int64_t)(src->nbytes / sizeof(nn_bytes));
      for (int64_t i = 0; i < n; i++) d[i].data = NULL;
      const nn_bytes *s = src->data;
      for (int64_t i = 0; i < n; i++)
        if (!(d[i].data = nn_strndup(s[i].data, s[i].len))) goto oom;
    }
  }
  if (blob_copy(&dst->type_shell, &src->type_shell)) goto oom;
  if (blob_copy(&dst->init_shell, &src->init_shell)) goto oom;
  return NN_OK;
oom:
  nn_tensor_clear(dst);
  return nn_errorf(NN_ERR_NOMEM, "out of memory copying tensor");
}

/* ---- graphs ---- */

nn_graph *nn_graph_new(nn_graph *parent) {
  nn_graph *g = calloc(1, sizeof *g);
  if (g) g->parent = parent;
  return g;
}

void nn_attr_free(nn_attr *a) {
  free(a->name);
  free(a->s.data);
  free(a->floats);
  free(a->ints);
  if (a->strings)
    for (int i = 0; i < a->n; i++) free(a->strings[i].data);
  free(a->strings);
  if (a->tensors) {
    int n = a->type == NN_ATTR_TENSOR ? 1 : a->n;
    for (int i = 0; i < n; i++) nn_tensor_clear(&a->tensors[i]);
  }
  free(a->tensors);
  if (a->graphs) {
    int n = a->type == NN_ATTR_GRAPH ? 1 : a->n;
    for (int i = 0; i < n; i++) nn_graph_free(a->graphs[i]);
  }
  free(a->graphs);
  free(a->ref_attr_name);
  free(a->doc_string);
  free(a->shell.data);
  memset(a, 0, sizeof *a);
}

static void node_clear(nn_node *n) {
  free(n->name);
  free(n->op_type);
  free(n->domain);
  free(n->inputs);
  free(n->outputs);
  for (int i = 0; i < n->n_attrs; i++) nn_attr_free(&n->attrs[i]);
  free(n->attrs);
  free(n->doc_string);
  free(n->shell.data);
}

void nn_graph_free(nn_graph *g) {
  if (!g) return;
  for (int i = 0; i < g->n_tensors; i++) nn_tensor_clear(&g->tensors[i]);
  free(g->tensors);
  for (int i = 0; i < g->n_nodes; i++) node_clear(&g->nodes[i]);
  free(g->nodes);
  free(g->inputs);
  free(g->outputs);
  free(g->inits);
  free(g->value_infos);
  free(g->name);
  free(g->doc_string);
  free(g->shell.data);
  free(g->hash);
  free(g);
}

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static int hash_rebuild(nn_graph *g, int cap) {
  int *h = malloc((size_t)cap * sizeof *h);
  if (!h) return -1;
  for (int i = 0; i < cap; i++) h[i] = -1;
  for (int t = 0; t < g->n_tensors; t++) {
    size_t j = hash_str(g->tensors[t].name) & (size_t)(cap - 1);
    while (h[j] >= 0) j = (j + 1) & (size_t)(cap - 1);
    h[j] = t;
  }
  free(g->hash);
  g->hash = h;
  g->hash_cap = cap;
  return 0;
}

int nn_graph_find(const nn_graph *g, const char *name) {
  if (!name || !g->hash_cap) return -1;
  size_t j = hash_str(name) & (size_t)(g->hash_cap - 1);
  while (g->hash[j] >= 0) {
    if (!strcmp(g->tensors[g->hash[j]].name, name)) return g->hash[j];
    j = (j + 1) & (size_t)(g->hash_cap - 1);
  }
  return -1;
}

int nn_graph_intern(nn_graph *g, const char *name) {
  int idx = nn_graph_find(g, name);
  if (idx >= 0) return idx;
  if (g->n_tensors == g->cap_tensors) {
    int cap = g->cap_tensors ? g->cap_tensors * 2 : 64;
    nn_tensor *t = realloc(g->tensors, (size_t)cap * sizeof *t);
    if (!t) return -1;
    g->tensors = t;
    g->cap_tensors = cap;
  }
  nn_tensor *t = &g->tensors[g->n_tensors];
  memset(t, 0, sizeof *t);
  t->producer = -1;
  t->ndim = -1;
  if (!(t->name = strdup(name))) return -1;
  g->n_tensors++;
  if (g->n_tensors * 2 > g->hash_cap) {
    int cap = g->hash_cap ? g->hash_cap * 2 : 128;
    while (cap < g->n_tensors * 2) cap *= 2;
    if (hash_rebuild(g, cap)) {
      g->n_tensors--;
      free(t->name);
      return -1;
    }
  } else {
    size_t j = hash_str(name) & (size_t)(g->hash_cap - 1);
    while (g->hash[j] >= 0) j = (j + 1) & (size_t)(g->hash_cap - 1);
    g->hash[j] = g->n_tensors - 1;
  }
  return g->n_tensors - 1;
}

int nn_graph_add_node(nn_graph *g, const char *op_type, const char *domain,
                      const char *name, int n_in, const int *in, int n_out,
                      const int *out) {
  if (g->n_nodes == g->cap_nodes) {
    int cap = g->cap_nodes ? g->cap_nodes * 2 : 64;
    nn_node *n = realloc(g->nodes, (size_t)cap * sizeof *n);
    if (!n) return -1;
    g->nodes = n;
    g->cap_nodes = cap;
  }
  nn_node *n = &g->nodes[g->n_nodes];
  memset(n, 0, sizeof *n);
  n->op_type = strdup(op_type ? op_type : "");
  n->domain = strdup(domain ? domain : "");
  n->name = name ? strdup(name) : NULL;
  n->inputs = malloc((size_t)(n_in ? n_in : 1) * sizeof(int));
  n->outputs = malloc((size_t)(n_out ? n_out : 1) * sizeof(int));
  if (!n->op_type || !n->domain || (name && !n->name) || !n->inputs || !n->outputs) {
    node_clear(n);
    return -1;
  }
  n->n_inputs = n_in;
  n->n_outputs = n_out;
  if (n_in) memcpy(n->inputs, in, (size_t)n_in * sizeof(int));
  if (n_out) memcpy(n->outputs, out, (size_t)n_out * sizeof(int));
  return g->n_nodes++;
}

nn_status nn_graph_list_push(int **list, int *n, int idx) {
  /* Lists grow by powers of two; capacity is implied by n. */
  if ((*n & (*n - 1)) == 0) {
    int cap = *n ? *n * 2 : 4;
    int *p = realloc(*list, (size_t)cap * sizeof *p);
    if (!p) return nn_errorf(NN_ERR_NOMEM, "out of memory");
    *list = p;
  }
  (*list)[(*n)++] = idx;
  return NN_OK;
}

const char *nn_node_label(const nn_graph *g, int node_idx, char *buf, size_t len) {
  const nn_node *n = &g->nodes[node_idx];
  if (n->name && *n->name)
    snprintf(buf, len, "node '%s' (%s)", n->name, n->op_type);
  else
    snprintf(buf, len, "node #%d (%s)", node_idx, n->op_type);
  return buf;
}

static int is_defined(const nn_graph *g, int t) {
  return t >= 0 && (g->tensors[t].producer >= 0 ||
                    (g->tensors[t].flags & (NN_T_INPUT | NN_T_INITIALIZER)));
}

static nn_status push_unique(int **out, int *count, int v) {
  for (int j = 0; j < *count; j++)
    if ((*out)[j] == v) return NN_OK;
  return nn_graph_list_push(out, count, v);
}

/* Tensors of 'outer' that 'sub' (or graphs nested in it) uses without defining. */
static nn_status collect_captures(const nn_graph *outer, const nn_graph *sub, int **out,
                                  int *count) {
  nn_status st = NN_OK;
  for (int i = 0; i < sub->n_nodes; i++) {
    const nn_node *n = &sub->nodes[i];
    for (int k = 0; k < n->n_inputs; k++) {
      int t = n->inputs[k];
      if (t < 0 || is_defined(sub, t)) continue;
      int o = nn_graph_find(outer, sub->tensors[t].name);
      if (o >= 0 && (st = push_unique(out, count, o))) return st;
    }
    /* Names a nested graph captures from 'sub' or further out. */
    for (int a = 0; a < n->n_attrs; a++) {
      const nn_attr *at = &n->attrs[a];
      if (at->type != NN_ATTR_GRAPH && at->type != NN_ATTR_GRAPHS) continue;
      for (int k = 0; k < (at->type == NN_ATTR_GRAPH ? 1 : at->n); k++) {
        int *deep = NULL, ndeep = 0;
        if ((st = collect_captures(outer, at->graphs[k], &deep, &ndeep))) return st;
        for (int j = 0; j < ndeep && !st; j++) {
          /* Skip names that 'sub' itself defines (they shadow the outer ones). */
          int local = nn_graph_find(sub, outer->tensors[deep[j]].name);
          if (!is_defined(sub, local)) st = push_unique(out, count, deep[j]);
        }
        free(deep);
        if (st) return st;
      }
    }
  }
  return st;
}

nn_status nn_node_captures(const nn_graph *g, const nn_node *n, int **out, int *count) {
  *out = NULL;
  *count = 0;
  for (int a = 0; a < n->n_attrs; a++) {
    const nn_attr *at = &n->attrs[a];
    if (at->type != NN_ATTR_GRAPH && at->type != NN_ATTR_GRAPHS) continue;
    int ng = at->type == NN_ATTR_GRAPH ? 1 : at->n;
    for (int k = 0; k < ng; k++) {
      nn_status st = collect_captures(g, at->graphs[k], out, count);
      if (st) {
        free(*out);
        *out = NULL;
        *count = 0;
        return st;
      }
    }
  }
  return NN_OK;
}

void nn_use_map_free(nn_use_map *u) {
  free(u->off);
  free(u->cons);
  u->off = u->cons = NULL;
}

nn_status nn_graph_build_maps(nn_graph *g, nn_use_map *uses) {
  nn_status st = NN_OK;
  int *cnt = NULL, *caps = NULL, ncaps = 0;
  for (int t = 0; t < g->n_tensors; t++) g->tensors[t].producer = -1;
  for (int i = 0; i < g->n_nodes; i++)
    for (int k = 0; k < g->nodes[i].n_outputs; k++) {
      int t = g->nodes[i].outputs[k];
      if (t >= 0 && g->tensors[t].producer < 0) g->tensors[t].producer = i;
    }
  if (!uses) return NN_OK;
  uses->off = calloc((size_t)g->n_tensors + 1, sizeof(int));
  cnt = calloc((size_t)g->n_tensors + 1, sizeof(int));
  if (!uses->off || !cnt) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  /* Two passes: count, then fill. Captures count as uses by the holding node. */
  for (int pass = 0; pass < 2; pass++) {
    for (int i = 0; i < g->n_nodes; i++) {
      const nn_node *n = &g->nodes[i];
      NN_TRY(nn_node_captures(g, n, &caps, &ncaps));
      for (int k = 0; k < n->n_inputs + ncaps; k++) {
        int t = k < n->n_inputs ? n->inputs[k] : caps[k - n->n_inputs];
        if (t < 0) continue;
        if (pass == 0)
          uses->off[t + 1]++;
        else
          uses->cons[uses->off[t] + cnt[t]++] = i;
      }
      free(caps);
      caps = NULL;
    }
    if (pass == 0) {
      for (int t = 0; t < g->n_tensors; t++) uses->off[t + 1] += uses->off[t];
      uses->cons = malloc((size_t)(uses->off[g->n_tensors] + 1) * sizeof(int));
      if (!uses->cons) {
        st = nn_errorf(NN_ERR_NOMEM, "out of memory");
        goto done;
      }
    }
  }
done:
  free(cnt);
  free(caps);
  if (st) nn_use_map_free(uses);
  return st;
}

nn_status nn_graph_topo_order(const nn_graph *g, int *order) {
  nn_status st = NN_OK;
  int n = g->n_nodes, head = 0, tail = 0;
  int *indeg = calloc((size_t)n + 1, sizeof(int));
  int *producer = malloc(((size_t)g->n_tensors + 1) * sizeof(int));
  nn_use_map uses = {0};
  if (!indeg || !producer) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  /* Producers: first node in file order that outputs the tensor. */
  for (int t = 0; t < g->n_tensors; t++) producer[t] = -1;
  for (int i = 0; i < n; i++)
    for (int k = 0; k < g->nodes[i].n_outputs; k++) {
      int t = g->nodes[i].outputs[k];
      if (t >= 0 && producer[t] < 0) producer[t] = i;
    }
  NN_TRY(nn_graph_build_maps((nn_graph *)g, &uses));
  for (int t = 0; t < g->n_tensors; t++)
    if (producer[t] >= 0 && !(g->tensors[t].flags & NN_T_INITIALIZER))
      for (int u = uses.off[t]; u < uses.off[t + 1]; u++) indeg[uses.cons[u]]++;
  /* Kahn's algorithm; a FIFO in file order keeps the order stable. */
  for (int i = 0; i < n; i++)
    if (!indeg[i]) order[tail++] = i;
  while (head < tail) {
    int i = order[head++];
    const nn_node *nd = &g->nodes[i];
    for (int k = 0; k < nd->n_outputs; k++) {
      int t = nd->outputs[k];
      if (t < 0 || producer[t] != i || (g->tensors[t].flags & NN_T_INITIALIZER)) continue;
      for (int u = uses.off[t]; u < uses.off[t + 1]; u++)
        if (--indeg[uses.cons[u]] == 0) order[tail++] = uses.cons[u];
    }
  }
  if (tail < n) {
    char label[256];
    int bad = 0;
    for (int i = 0; i < n; i++)
      if (indeg[i] > 0) {
        bad = i;
        break;
      }
    st = nn_errorf(NN_ERR_INVALID, "graph has a cycle through %s",
                   nn_node_label(g, bad, label, sizeof label));
  }
done:
  nn_use_map_free(&uses);
  free(indeg);
  free(producer);
  return st;
}

/* ---- attributes ---- */

const nn_attr *nn_node_attr(const nn_node *n, const char *name) {
  for (int i = 0; i < n->n_attrs; i++)
    if (!strcmp(n->attrs[i].name, name)) return &n->attrs[i];
  return NULL;
}

int64_t nn_attr_int(const nn_node *n, const char *name, int64_t dflt) {
  const nn_attr *a = nn_node_attr(n, name);
  if (!a) return dflt;
  if (a->type == NN_ATTR_INT) return a->i;
  if (a->type == NN_ATTR_FLOAT) return (int64_t)a->f;
  return dflt;
}

float nn_attr_float(const nn_node *n, const char *name, float dflt) {
  const nn_attr *a = nn_node_attr(n, name);
  if (!a) return dflt;
  if (a->type == NN_ATTR_FLOAT) return a->f;
  if (a->type == NN_ATTR_INT) return (float)a->i;
  return dflt;
}

const char *nn_attr_string(const nn_node *n, const char *name, const char *dflt) {
  const nn_attr *a = nn_node_attr(n, name);
  if (!a || a->type != NN_ATTR_STRING || !a->s.data) return dflt;
  return a->s.data;
}

int nn_attr_ints(const nn_node *n, const char *name, const int64_t **vals) {
  const nn_attr *a = nn_node_attr(n, name);
  *vals = NULL;
  if (!a || a->type != NN_ATTR_INTS) return -1;
  *vals = a->ints;
  return a->n;
}

int nn_attr_floats(const nn_node *n, const char *name, const float **vals) {
  const nn_attr *a = nn_node_attr(n, name);
  *vals = NULL;
  if (!a || a->type != NN_ATTR_FLOATS) return -1;
  *vals = a->floats;
  return a->n;
}

/* ---- models ---- */

nn_model *nn_model_new(void) {
  nn_model *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  m->graph = nn_graph_new(NULL);
  if (!m->graph) {
    free(m);
    return NULL;
  }
  return m;
}

int64_t nn_model_opset(const nn_model *m, const char *domain) {
  int want_default = !domain || !*domain || !strcmp(domain, "ai.onnx");
  for (int i = 0; i < m->n_opsets; i++) {
    const char *d = m->opsets[i].domain;
    int is_default = !d || !*d || !strcmp(d, "ai.onnx");
    if (want_default ? is_default : (d && !strcmp(d, domain))) return m->opsets[i].version;
  }
  return -1;
}

void nn_model_free(nn_model *m) {
  if (!m) return;
  nn_graph_free(m->graph);
  for (int i = 0; i < m->n_opsets; i++) free(m->opsets[i].domain);
  free(m->opsets);
  free(m->producer_name);
  free(m->producer_version);
  free(m->domain);
  free(m->doc_string);
  for (int i = 0; i < m->n_meta; i++) {
    free(m->meta_keys[i]);
    free(m->meta_values[i]);
  }
  free(m->meta_keys);
  free(m->meta_values);
  free(m->shell.data);
  free(m->path);
  free(m->dir);
  free(m);
}

/* ---- editing ---- */

void nn_graph_remove_nodes(nn_graph *g, const unsigned char *kill) {
  int w = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    if (kill[i]) {
      node_clear(&g->nodes[i]);
      continue;
    }
    if (w != i) g->nodes[w] = g->nodes[i];
    w++;
  }
  g->n_nodes = w;
  nn_graph_build_maps(g, NULL);
}

void nn_graph_list_remove(int *list, int *n, int t) {
  int w = 0;
  for (int i = 0; i < *n; i++)
    if (list[i] != t) list[w++] = list[i];
  *n = w;
}

nn_status nn_graph_sort(nn_graph *g) {
  int *order = malloc(((size_t)g->n_nodes + 1) * sizeof *order);
  nn_node *nodes = malloc(((size_t)g->cap_nodes + 1) * sizeof *nodes);
  if (!order || !nodes) {
    free(order);
    free(nodes);
    return nn_errorf(NN_ERR_NOMEM, "out of memory");
  }
  nn_status st = nn_graph_topo_order(g, order);
  if (!st) {
    for (int i = 0; i < g->n_nodes; i++) nodes[i] = g->nodes[order[i]];
    free(g->nodes);
    g->nodes = nodes;
    nodes = NULL;
    nn_graph_build_maps(g, NULL);
  }
  free(order);
  free(nodes);
  return st;
}

char *nn_graph_unique_name(const nn_graph *g, const char *base) {
  size_t n = strlen(base) + 24;
  char *name = malloc(n);
  if (!name) return NULL;
  snprintf(name, n, "%s", base);
  for (int k = 1; nn_graph_find(g, name) >= 0; k++) snprintf(name, n, "%s_%d", base, k);
  return name;
}

int nn_graph_add_tensor(nn_graph *g, const char *base) {
  char *name = nn_graph_unique_name(g, base);
  if (!name) return -1;
  int t = nn_graph_intern(g, name);
  free(name);
  return t;
}

int nn_graph_add_initializer(nn_graph *g, const char *base, nn_dtype dt, int ndim,
                             const int64_t *dims, void *data) {
  int t = nn_graph_add_tensor(g, base);
  if (t < 0 || nn_graph_list_push(&g->inits, &g->n_inits, t)) {
    free(data);
    return -1;
  }
  nn_tensor *tt = &g->tensors[t];
  tt->dtype = dt;
  tt->ndim = ndim;
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) n *= (tt->dims[d] = dims[d]);
  tt->data = data;
  tt->nbytes = (size_t)n * nn_dtype_size(dt);
  tt->flags = NN_T_INITIALIZER;
  return t;
}

nn_status nn_node_add_attr_int(nn_node *n, const char *name, int64_t v) {
  nn_attr *a = realloc(n->attrs, (size_t)(n->n_attrs + 1) * sizeof *a);
  if (!a) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  n->attrs = a;
  a = &n->attrs[n->n_attrs];
  memset(a, 0, sizeof *a);
  if (!(a->name = strdup(name))) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  a->type = NN_ATTR_INT;
  a->i = v;
  n->n_attrs++;
  return NN_OK;
}

nn_status nn_node_add_attr_float(nn_node *n, const char *name, float v) {
  nn_status st = nn_node_add_attr_int(n, name, 0);
  if (st) return st;
  nn_attr *a = &n->attrs[n->n_attrs - 1];
  a->type = NN_ATTR_FLOAT;
  a->f = v;
  return NN_OK;
}

static int node_name_used(const nn_graph *g, const char *name) {
  for (int i = 0; i < g->n_nodes; i++)
    if (g->nodes[i].name && !strcmp(g->nodes[i].name, name)) return 1;
  return nn_graph_find(g, name) >= 0;
}

char *nn_graph_unique_node_name(const nn_graph *g, const char *base) {
  size_t n = strlen(base) + 24;
  char *name = malloc(n);
  if (!name) return NULL;
  snprintf(name, n, "%s", base);
  for (int k = 1; node_name_used(g, name); k++) snprintf(name, n, "%s_%d", base, k);
  return name;
}

nn_status nn_node_set_op(nn_node *n, const char *op_type, const char *domain) {
  char *a = strdup(op_type), *b = strdup(domain ? domain : "");
  if (!a || !b) {
    free(a);
    free(b);
    return nn_errorf(NN_ERR_NOMEM, "out of memory");
  }
  free(n->op_type);
  free(n->domain);
  n->op_type = a;
  n->domain = b;
  return NN_OK;
}

nn_status nn_model_ensure_opset(nn_model *m, const char *domain, int64_t version) {
  if (nn_model_opset(m, domain) >= 0) return NN_OK;
  nn_opset *o = realloc(m->opsets, (size_t)(m->n_opsets + 1) * sizeof *o);
  if (!o) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  m->opsets = o;
  if (!(o[m->n_opsets].domain = strdup(domain))) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  o[m->n_opsets].version = version;
  m->n_opsets++;
  return NN_OK;
}
