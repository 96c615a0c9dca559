/*
 * session.c - the executor: plans a graph for concrete input shapes (shape inference,
 * folding of values computable before running, liveness-based memory planning, op
 * preparation) and runs it. A run with the planned shapes does not allocate; a change
 * of input shape re-plans. Subgraphs (If/Loop/Scan bodies) run as nested sessions
 * whose undefined names resolve to the enclosing session's values.
 */
#include "runtime/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/dispatch.h"
#include "kernels/f32c_conv.h"
#include "kernels/q8c_conv.h"
#include "passes/passes.h"
#include "runtime/planner.h"
#include "runtime/threadpool.h"

#define NN_ALIGN 64

struct nn_session {
  const nn_model *model;
  nn_model *owned_model; /* a lowered copy of the caller's QDQ model, or NULL */
  const nn_graph *g;
  struct nn_session *outer; /* enclosing session for subgraph bodies */

  nn_value *own;   /* per tensor storage */
  nn_value **vals; /* per tensor: &own[t] or a value of an enclosing session */
  int *order;      /* topological node order */
  nn_op_ctx *ctx;  /* per node (indexed by node) */
  nn_value **ptrs; /* backing store for ctx in/out pointer arrays */
  unsigned char *folded, *deferred, *prepared;

  /* Inputs the caller provides: graph inputs (main graph) or body inputs. */
  int n_in, n_out;
  int *in_idx, *out_idx;
  int64_t *planned_dims; /* per input: ndim + dims as planned, NN_MAX_DIMS+1 each */
  nn_dtype *planned_dtype;
  int n_captures;
  int *capture_idx; /* tensors bound to enclosing values */
  int64_t *capture_dims; /* per capture: dtype, ndim, dims as planned */
  int planned;

  uint8_t *arena;
  size_t arena_size;
  void *scratch;
  size_t scratch_size;
  size_t weight_bytes;
  nn_array *outputs;
  nn_session_options opt;
  unsigned flags;      /* NN_SESSION_* (runtime/session.h) */
  nn_threadpool *pool; /* opt.threads > 1 (main session only; bodies use the outer one) */
  nn_value_observer observer;
  void *observer_user;
};

void nn_session_set_observer(struct nn_session *s, nn_value_observer fn, void *user) {
  s->observer = fn;
  s->observer_user = user;
}

/* ---- values ---- */

nn_status nn_session_grow(struct nn_session *s, nn_value *v, size_t bytes) {
  (void)s;
  if (v->capacity >= bytes && v->data) return NN_OK;
  size_t cap = bytes < 64 ? 64 : bytes;
  if (v->capacity && cap < v->capacity * 3 / 2) cap = v->capacity * 3 / 2;
  void *p = (v->flags & NN_V_OWNED) ? realloc(v->data, cap) : malloc(cap);
  if (!p) return nn_errorf(NN_ERR_NOMEM, "out of memory (%zu bytes)", cap);
  if (!(v->flags & NN_V_OWNED) && v->data && v->nbytes)
    memcpy(p, v->data, v->nbytes < cap ? v->nbytes : cap);
  v->data = p;
  v->capacity = cap;
  v->flags |= NN_V_OWNED;
  return NN_OK;
}

static void value_reset(nn_value *v) {
  if (v->flags & NN_V_OWNED) {
    if (v->dtype == NN_STRING && v->data)
      nn_strings_free(v->data, (int64_t)(v->nbytes / sizeof(nn_bytes)));
    free(v->data);
  }
  memset(v, 0, sizeof *v);
  v->ndim = -1;
}

/* ---- plan ---- */

static void unplan(nn_session *s) {
  const nn_graph *g = s->g;
  if (s->ctx)
    for (int i = 0; i < g->n_nodes; i++) {
      if (s->prepared[i] && s->ctx[i].def && s->ctx[i].def->release && s->ctx[i].state)
        s->ctx[i].def->release(s->ctx[i].state);
      s->ctx[i].state = NULL;
      s->prepared[i] = 0;
    }
  for (int t = 0; t < g->n_tensors; t++) value_reset(&s->own[t]);
  free(s->arena);
  s->arena = NULL;
  s->arena_size = 0;
  free(s->scratch);
  s->scratch = NULL;
  s->scratch_size = 0;
  s->planned = 0;
}

static int is_capture(const nn_session *s, int t) {
  return s->vals[t] != &s->own[t];
}

static nn_status check_input(const nn_session *s, int t, const nn_value *v,
                             const char *what) {
  const nn_tensor *dt = &s->g->tensors[t];
  if (dt->dtype != NN_UNDEFINED && v->dtype != dt->dtype)
    return nn_errorf(NN_ERR_INVALID, "%s '%s': dtype %s, model expects %s", what, dt->name,
                     nn_dtype_name(v->dtype), nn_dtype_name(dt->dtype));
  if (dt->ndim >= 0 && (dt->flags & NN_T_SHAPE_KNOWN)) {
    if (v->ndim != dt->ndim)
      return nn_errorf(NN_ERR_INVALID, "%s '%s': rank %d, model expects %d", what,
                       dt->name, v->ndim, dt->ndim);
    for (int i = 0; i < dt->ndim; i++)
      if (dt->dims[i] >= 0 && dt->dims[i] != v->dims[i])
        return nn_errorf(NN_ERR_INVALID, "%s '%s': dim %d is %lld, model expects %lld",
                         what, dt->name, i, (long long)v->dims[i], (long long)dt->dims[i]);
  }
  return NN_OK;
}

static nn_status fold_node(nn_session *s, int i) {
  nn_op_ctx *c = &s->ctx[i];
  nn_status st;
  for (int k = 0; k < c->n_out; k++) {
    nn_value *v = c->out[k];
    if (!v) continue;
    if ((st = nn_session_grow(s, v, v->nbytes))) return st;
    memset(v->data, 0, v->nbytes);
  }
  if (c->def->prepare) {
    c->scratch_size = 0;
    if ((st = c->def->prepare(c))) return st;
    s->prepared[i] = 1;
  }
  void *scratch = NULL;
  if (c->scratch_size && !(scratch = calloc(1, c->scratch_size)))
    return nn_errorf(NN_ERR_NOMEM, "out of memory");
  c->scratch = scratch;
  c->planning = 0;
  st = c->def->run(c);
  c->scratch = NULL;
  free(scratch);
  if (s->prepared[i] && c->def->release && c->state) c->def->release(c->state);
  c->state = NULL;
  s->prepared[i] = 0;
  if (st) return st;
  for (int k = 0; k < c->n_out; k++)
    if (c->out[k]) c->out[k]->flags |= NN_V_CONST;
  s->folded[i] = 1;
  return NN_OK;
}

/* Plan for the current input values (their shapes are in s->vals of the inputs). */
static nn_status plan(nn_session *s) {
  nn_status st = NN_OK;
  const nn_graph *g = s->g;
  planner_item *items = NULL;
  int n_items = 0;
  int *def_step = NULL, *last_step = NULL, *step_of = NULL, *alias = NULL;
  nn_use_map uses = {0};

  memset(s->folded, 0, (size_t)g->n_nodes);
  memset(s->deferred, 0, (size_t)g->n_nodes);
  s->weight_bytes = 0;

  /* Initializers are constants that point at the model's data (no copy). */
  for (int t = 0; t < g->n_tensors; t++) {
    const nn_tensor *tt = &g->tensors[t];
    nn_value *v = &s->own[t];
    if (is_capture(s, t) || !(tt->flags & NN_T_INITIALIZER) || !tt->data) continue;
    int provided = 0;
    for (int k = 0; k < s->n_in; k++) provided |= s->in_idx[k] == t && v->ndim >= 0;
    if (provided) continue;
    v->dtype = tt->dtype;
    v->ndim = tt->ndim;
    memcpy(v->dims, tt->dims, sizeof v->dims);
    v->data = tt->data;
    v->nbytes = tt->nbytes;
    v->capacity = tt->nbytes;
    v->flags = NN_V_CONST;
    s->weight_bytes += tt->nbytes;
  }

  /* Shape inference and folding in topological order. */
  for (int oi = 0; oi < g->n_nodes; oi++) {
    int i = s->order[oi];
    nn_op_ctx *c = &s->ctx[i];
    int all_const = 1, any_unknown = 0;
    for (int k = 0; k < c->n_in; k++) {
      nn_value *v = c->in[k];
      if (!v) continue;
      if (!(v->flags & NN_V_CONST)) all_const = 0;
      if (v->ndim < 0 || (v->flags & NN_V_DYNAMIC)) any_unknown = 1;
    }
    for (int k = 0; k < c->n_out; k++)
      if (c->out[k]) value_reset(c->out[k]);
    if (any_unknown) {
      st = NN_INFER_DEFERRED;
    } else {
      c->planning = 1;
      st = c->def->infer(c);
    }
    if (st == NN_INFER_DEFERRED) {
      s->deferred[i] = 1;
      for (int k = 0; k < c->n_out; k++)
        if (c->out[k]) c->out[k]->flags |= NN_V_DYNAMIC;
      st = NN_OK;
      continue;
    }
    if (st) goto done;
    if ((all_const || c->def->shape_only) && !c->def->no_fold) NN_TRY(fold_node(s, i));
  }

  /* Liveness of the remaining (planned) values, in steps of the topological order. */
  NN_TRY(nn_graph_build_maps((nn_graph *)g, &uses));
  def_step = malloc(((size_t)g->n_tensors + 1) * sizeof(int));
  step_of = malloc(((size_t)g->n_nodes + 1) * sizeof(int));
  last_step = malloc(((size_t)g->n_tensors + 1) * sizeof(int));
  items = malloc(((size_t)g->n_tensors + 1) * sizeof *items);
  alias = malloc(((size_t)g->n_tensors + 1) * sizeof *alias);
  if (!def_step || !last_step || !items || !step_of || !alias) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  for (int t = 0; t < g->n_tensors; t++) def_step[t] = last_step[t] = -1;
  for (int k = 0; k < s->n_in; k++) def_step[s->in_idx[k]] = 0;
  for (int oi = 0; oi < g->n_nodes; oi++) {
    int i = s->order[oi];
    const nn_node *n = &g->nodes[i];
    for (int k = 0; k < n->n_outputs; k++)
      if (n->outputs[k] >= 0 && def_step[n->outputs[k]] < 0) def_step[n->outputs[k]] = oi;
  }
  for (int oi = 0; oi < g->n_nodes; oi++) step_of[s->order[oi]] = oi;
  for (int t = 0; t < g->n_tensors; t++)
    for (int u = uses.off[t]; u < uses.off[t + 1]; u++)
      if (step_of[uses.cons[u]] > last_step[t]) last_step[t] = step_of[uses.cons[u]];
  for (int k = 0; k < s->n_out; k++) last_step[s->out_idx[k]] = g->n_nodes;
  /* Views (op def 'view') share their input's buffer: alias[t] is the tensor whose item
   * holds t, alive from its definition to the last use of any tensor sharing it. */
#define PLANNED(t)                                                                      (!is_capture(s, t) && def_step[t] >= 0 && s->vals[t]->ndim >= 0 &&                     !(s->vals[t]->flags & (NN_V_CONST | NN_V_DYNAMIC)))
  for (int t = 0; t < g->n_tensors; t++) alias[t] = t;
  for (int oi = 0; oi < g->n_nodes; oi++) {
    const int i = s->order[oi];
    const nn_node *n = &g->nodes[i];
    if (s->folded[i] || s->deferred[i] || !s->ctx[i].def || !s->ctx[i].def->view ||
        n->n_inputs < 1 || n->n_outputs != 1)
      continue;
    const int ti = n->inputs[0], to = n->outputs[0];
    if (ti < 0 || to < 0 || ti == to || !PLANNED(ti) || !PLANNED(to) || def_step[to] != oi) continue;
    const nn_value *vi = s->vals[ti], *vo = s->vals[to];
    if (vi->dtype != vo->dtype || vi->dtype == NN_STRING || vi->nbytes != vo->nbytes) continue;
    const int r = alias[ti];
    alias[to] = r;
    const int end = last_step[to] > def_step[to] ? last_step[to] : def_step[to];
    if (end > last_step[r]) last_step[r] = end;
  }
  for (int t = 0; t < g->n_tensors; t++) {
    nn_value *v = s->vals[t];
    if (!PLANNED(t) || alias[t] != t) continue;
#undef PLANNED
    items[n_items].id = t;
    items[n_items].size = (v->nbytes + NN_ALIGN - 1) / NN_ALIGN * NN_ALIGN;
    items[n_items].first = def_step[t];
    items[n_items].last = last_step[t] < def_step[t] ? def_step[t] : last_step[t];
    n_items++;
  }
  NN_TRY(nn_plan_offsets(items, n_items, &s->arena_size));
  if (s->arena_size && !(s->arena = aligned_alloc(NN_ALIGN, s->arena_size))) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory planning %zu bytes of activations",
                   s->arena_size);
    goto done;
  }
  for (int k = 0; k < n_items; k++) {
    nn_value *v = s->vals[items[k].id];
    v->data = s->arena + items[k].offset;
    v->capacity = items[k].size;
  }
  for (int t = 0; t < g->n_tensors; t++)
    if (alias[t] != t) {
      s->vals[t]->data = s->vals[alias[t]]->data;
      s->vals[t]->capacity = s->vals[alias[t]]->capacity;
    }

  /* Prepare the nodes that will run. */
  for (int oi = 0; oi < g->n_nodes; oi++) {
    int i = s->order[oi];
    nn_op_ctx *c = &s->ctx[i];
    if (s->folded[i] || s->deferred[i] || !c->def->prepare) continue;
    c->scratch_size = 0;
    c->planning = 1;
    st = c->def->prepare(c);
    if (st) goto done;
    s->prepared[i] = 1;
    if (c->scratch_size > s->scratch_size) s->scratch_size = c->scratch_size;
  }
  if (s->scratch_size && !(s->scratch = aligned_alloc(NN_ALIGN, (s->scratch_size + NN_ALIGN - 1) / NN_ALIGN * NN_ALIGN))) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory for %zu bytes of workspace", s->scratch_size);
    goto done;
  }
  s->planned = 1;
done:
  nn_use_map_free(&uses);
  free(def_step);
  free(step_of);
  free(last_step);
  free(items);
  free(alias);
  return st;
}

/* ---- creation ---- */

static nn_session *session_alloc(const nn_model *m, const nn_graph *g) {
  nn_session *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->model = m;
  s->g = g;
  size_t nt = (size_t)g->n_tensors + 1, nn = (size_t)g->n_nodes + 1;
  s->own = calloc(nt, sizeof *s->own);
  s->vals = calloc(nt, sizeof *s->vals);
  s->order = calloc(nn, sizeof *s->order);
  s->ctx = calloc(nn, sizeof *s->ctx);
  s->folded = calloc(nn, 1);
  s->deferred = calloc(nn, 1);
  s->prepared = calloc(nn, 1);
  if (!s->own || !s->vals || !s->order || !s->ctx || !s->folded || !s->deferred ||
      !s->prepared) {
    nn_session_free(s);
    return NULL;
  }
  for (int t = 0; t < g->n_tensors; t++) {
    s->own[t].ndim = -1;
    s->vals[t] = &s->own[t];
  }
  return s;
}

/* Find the value of name in the enclosing sessions. */
static nn_value *outer_lookup(nn_session *outer, const char *name) {
  for (; outer; outer = outer->outer) {
    int t = nn_graph_find(outer->g, name);
    if (t >= 0) return outer->vals[t];
  }
  return NULL;
}

static nn_status session_init(nn_session *s) {
  nn_status st = NN_OK;
  const nn_graph *g = s->g;
  char label[256];
  size_t nptr = 0;

  NN_TRY(nn_graph_topo_order(g, s->order));
  for (int i = 0; i < g->n_nodes; i++) nptr += (size_t)g->nodes[i].n_inputs + g->nodes[i].n_outputs;
  s->ptrs = calloc(nptr + 1, sizeof *s->ptrs);
  if (!s->ptrs) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }

  /* Sequence, map and optional values are not supported by the runtime. */
  for (int io = 0; io < 2; io++)
    for (int k = 0; k < (io ? g->n_outputs : g->n_inputs); k++) {
      const nn_tensor *tt = &g->tensors[io ? g->outputs[k] : g->inputs[k]];
      if (tt->type_shell.len) {
        st = nn_errorf(NN_ERR_UNSUPPORTED, "%s '%s' has a non-tensor type (sequence, map or optional)",
                       io ? "output" : "input", tt->name);
        goto done;
      }
    }

  /* Names used but not defined here come from enclosing sessions. */
  for (int t = 0; t < g->n_tensors; t++) {
    const nn_tensor *tt = &g->tensors[t];
    if (tt->producer >= 0 || (tt->flags & (NN_T_INPUT | NN_T_INITIALIZER))) continue;
    nn_value *ov = outer_lookup(s->outer, tt->name);
    if (ov) {
      s->vals[t] = ov;
      NN_TRY(nn_graph_list_push(&s->capture_idx, &s->n_captures, t));
    }
  }

  nn_value **p = s->ptrs;
  for (int i = 0; i < g->n_nodes; i++) {
    const nn_node *n = &g->nodes[i];
    nn_op_ctx *c = &s->ctx[i];
    c->graph = g;
    c->node = n;
    c->node_index = i;
    c->session = s;
    c->def = nn_op_find(n->op_type, n->domain);
    c->opset = nn_model_opset(s->model, n->domain);
    if (!c->def) {
      st = nn_errorf(NN_ERR_UNSUPPORTED, "%s: unsupported op %s (domain '%s', opset %lld)",
                     nn_node_label(g, i, label, sizeof label), n->op_type,
                     n->domain[0] ? n->domain : "ai.onnx", (long long)c->opset);
      goto done;
    }
    c->n_in = n->n_inputs;
    c->n_out = n->n_outputs;
    c->in = p;
    p += n->n_inputs;
    c->out = p;
    p += n->n_outputs;
    for (int k = 0; k < n->n_inputs; k++) {
      int t = n->inputs[k];
      if (t < 0) continue;
      const nn_tensor *tt = &g->tensors[t];
      if (tt->producer < 0 && !(tt->flags & (NN_T_INPUT | NN_T_INITIALIZER)) &&
          !is_capture(s, t)) {
        st = nn_errorf(NN_ERR_INVALID, "%s: input '%s' is not defined",
                       nn_node_label(g, i, label, sizeof label), tt->name);
        goto done;
      }
      c->in[k] = s->vals[t];
    }
    for (int k = 0; k < n->n_outputs; k++)
      c->out[k] = n->outputs[k] >= 0 ? s->vals[n->outputs[k]] : NULL;
  }

  s->n_out = g->n_outputs;
  s->out_idx = g->outputs;
  s->outputs = calloc((size_t)g->n_outputs + 1, sizeof *s->outputs);
  if (!s->outputs) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
done:
  return st;
}

static nn_status set_inputs_list(nn_session *s, int all_inputs) {
  const nn_graph *g = s->g;
  nn_status st = NN_OK;
  for (int k = 0; k < g->n_inputs; k++) {
    int t = g->inputs[k];
    /* Inputs with initializers are optional overrides (IR < 4 style defaults). */
    if (!all_inputs && (g->tensors[t].flags & NN_T_INITIALIZER)) continue;
    if ((st = nn_graph_list_push(&s->in_idx, &s->n_in, t))) return st;
  }
  s->planned_dims = calloc((size_t)s->n_in + 1, (NN_MAX_DIMS + 1) * sizeof(int64_t));
  s->planned_dtype = calloc((size_t)s->n_in + 1, sizeof(nn_dtype));
  s->capture_dims = calloc((size_t)s->n_captures + 1, (NN_MAX_DIMS + 2) * sizeof(int64_t));
  if (!s->planned_dims || !s->planned_dtype || !s->capture_dims) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  return NN_OK;
}

/* Give input k the dtype and shape to plan for, and remember them. */
static void set_input_shape(nn_session *s, int k, nn_dtype dt, int ndim, const int64_t *dims) {
  nn_value *v = s->vals[s->in_idx[k]];
  v->dtype = dt;
  v->ndim = ndim;
  if (ndim > 0) memcpy(v->dims, dims, (size_t)ndim * sizeof(int64_t));
  v->nbytes = (size_t)nn_value_numel(v) * nn_dtype_size(dt);
  int64_t *pd = s->planned_dims + (size_t)k * (NN_MAX_DIMS + 1);
  pd[0] = ndim;
  if (ndim > 0) memcpy(pd + 1, dims, (size_t)ndim * sizeof(int64_t));
  s->planned_dtype[k] = dt;
}

/* A deep copy of m for the session to rewrite (through the serialized form). */
/* The copy goes through the ONNX serializer with the main graph's initializers written
 * empty, then borrows their data from m (NN_T_BORROWED: m outlives the session and the
 * copy, which the session frees first): a 287 MB model costs its session no second copy
 * of the weights and no serialized buffer of them. */
static int borrowable(const nn_tensor *t) {
  return t->data && t->nbytes && t->dtype != NN_STRING && t->ndim >= 0;
}

static nn_status private_copy(const nn_model *m, nn_model **out) {
  void *buf = NULL;
  size_t len = 0;
  *out = NULL;
  const nn_graph *g = m->graph;
  nn_tensor *ts = malloc(((size_t)g->n_tensors + 1) * sizeof *ts);
  if (!ts) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  memcpy(ts, g->tensors, (size_t)g->n_tensors * sizeof *ts);
  for (int k = 0; k < g->n_inits; k++) {
    nn_tensor *t = &ts[g->inits[k]];
    if (!borrowable(t)) continue;
    t->data = NULL; /* written as an empty [0] tensor */
    t->nbytes = 0;
    t->ndim = 1;
    t->dims[0] = 0;
  }
  nn_graph shallow = *g;
  shallow.tensors = ts;
  nn_model mm = *m;
  mm.graph = &shallow;
  nn_status st = nn_model_save_buffer(&mm, &buf, &len);
  free(ts);
  if (!st) st = nn_model_load_buffer(buf, len, m->dir, m->path, out);
  free(buf);
  if (st) return st;
  nn_graph *cg = (*out)->graph;
  for (int k = 0; k < g->n_inits; k++) {
    const nn_tensor *t = &g->tensors[g->inits[k]];
    if (!borrowable(t)) continue;
    const int ci = nn_graph_find(cg, t->name);
    if (ci < 0) {
      nn_model_free(*out);
      *out = NULL;
      return nn_errorf(NN_ERR_RUNTIME, "private copy lost initializer '%s'", t->name);
    }
    nn_tensor *c = &cg->tensors[ci];
    nn_tensor_drop_data(c);
    c->ndim = t->ndim;
    memcpy(c->dims, t->dims, sizeof c->dims);
    c->data = t->data;
    c->nbytes = t->nbytes;
    c->flags |= NN_T_BORROWED;
  }
  return NN_OK;
}

/* NN_NHWC_ALL when the variable forces channel-last (every chain, for tests). */
static unsigned layout_forced(const char *var) {
  const char *e = getenv(var);
  return e && !strcmp(e, "nhwc") ? NN_NHWC_ALL : 0;
}

/* Whether 8-bit convolution chains run channel-last: where the CPU has those kernels
 * (q8c_conv.h), unless NNOPT_Q8_LAYOUT=nchw; NNOPT_Q8_LAYOUT=nhwc forces it for every
 * chain (with the scalar twins where the CPU lacks the kernels: for tests). */
static int q8_channel_last(void) {
  const char *e = getenv("NNOPT_Q8_LAYOUT");
  if (e && !strcmp(e, "nchw")) return 0;
  if (e && !strcmp(e, "nhwc")) return 1;
  return nn_q8c_conv_for(nn_kernels_get()) != NULL;
}

/* Whether float32 convolution chains run channel-last: where the CPU has those kernels
 * (f32c_conv.h), unless NNOPT_F32_LAYOUT=nchw; NNOPT_F32_LAYOUT=nhwc forces it for every
 * chain. */
static int f32_channel_last(void) {
  const char *e = getenv("NNOPT_F32_LAYOUT");
  if (e && !strcmp(e, "nchw")) return 0;
  if (e && !strcmp(e, "nhwc")) return 1;
  return nn_f32c_conv_for(nn_kernels_get()) != NULL;
}

/* A private copy of a float model with its convolution chains channel-last, or NULL
 * (and NN_OK) when nothing moved. */
static nn_status nhwc_copy(const nn_model *m, nn_model **out) {
  *out = NULL;
  int has_conv = 0;
  for (int i = 0; i < m->graph->n_nodes && !has_conv; i++)
    has_conv = !strcmp(m->graph->nodes[i].op_type, "Conv") ||
               !strcmp(m->graph->nodes[i].op_type, "FusedConv");
  if (!has_conv || !f32_channel_last()) return NN_OK;
  int would = 0; /* no private copy (the weights twice) unless something moves */
  nn_status st = nn_pass_nhwc((nn_model *)m, NN_NHWC_F32 | NN_NHWC_DRY | layout_forced("NNOPT_F32_LAYOUT"), &would);
  if (st || !would) return st;
  nn_model *c = NULL;
  int n = 0;
  st = private_copy(m, &c);
  if (!st) st = nn_pass_nhwc(c, NN_NHWC_F32 | layout_forced("NNOPT_F32_LAYOUT"), &n);
  if (st || !n) {
    nn_model_free(c);
    return st;
  }
  *out = c;
  return NN_OK;
}

/* A private copy of a QDQ model with its patterns lowered to integer ops, or NULL
 * (and NN_OK) when the model has nothing to lower. */
static nn_status lowered_copy(const nn_model *m, int nhwc, nn_model **out) {
  *out = NULL;
  int has_dq = 0;
  for (int i = 0; i < m->graph->n_nodes && !has_dq; i++)
    has_dq = !strcmp(m->graph->nodes[i].op_type, "DequantizeLinear");
  if (!has_dq) return NN_OK;
  nn_model *c = NULL;
  int n = 0;
  nn_status st = private_copy(m, &c);
  if (!st) st = nn_pass_lower_qdq(c, &n);
  if (!st && n && nhwc && q8_channel_last()) {
    int moved;
    st = nn_pass_nhwc(c, NN_NHWC_Q8 | (f32_channel_last() ? NN_NHWC_F32 : 0) |
                             (nn_kernels_get()->isa == NN_ISA_AVX512VNNI ? 0 : NN_NHWC_Q8_ANY) |
                             layout_forced("NNOPT_Q8_LAYOUT"), &moved);
  }
  if (st || !n) {
    nn_model_free(c);
    return st;
  }
  *out = c;
  return NN_OK;
}

unsigned nn_session_flags(const struct nn_session *s) {
  while (s->outer) s = s->outer;
  return s->flags;
}

nn_status nn_session_create(const nn_model *m, const nn_session_options *opt,
                            nn_session **out) {
  return nn_session_create_flags(m, opt, 0, out);
}

nn_status nn_session_create_flags(const nn_model *m, const nn_session_options *opt,
                                  unsigned flags, nn_session **out) {
  nn_status st = NN_OK;
  nn_model *lowered = NULL;
  *out = NULL;
  const int nhwc = !(flags & NN_SESSION_AS_WRITTEN);
  if (!(opt && opt->qdq_as_float) && (st = lowered_copy(m, nhwc, &lowered))) return st;
  /* qdq_as_float: the graph as written (callers index values by m's own tensors) */
  if (!lowered && nhwc && !(opt && opt->qdq_as_float) && (st = nhwc_copy(m, &lowered)))
    return st;
  nn_session *s = session_alloc(lowered ? lowered : m, lowered ? lowered->graph : m->graph);
  if (!s) {
    nn_model_free(lowered);
    return nn_errorf(NN_ERR_NOMEM, "out of memory creating session");
  }
  s->owned_model = lowered;
  s->flags = flags;
  if (opt) s->opt = *opt;
  s->pool = nn_threadpool_create(s->opt.threads);
  NN_TRY(session_init(s));
  NN_TRY(set_inputs_list(s, 0));

  /* Plan now when every input shape is static; otherwise at the first run. */
  int all_static = 1;
  for (int k = 0; k < s->n_in; k++) {
    const nn_tensor *tt = &s->g->tensors[s->in_idx[k]];
    if (tt->ndim < 0 || tt->dtype == NN_UNDEFINED) all_static = 0;
    for (int d = 0; d < tt->ndim; d++)
      if (tt->dims[d] < 0) all_static = 0;
  }
  if (all_static) {
    for (int k = 0; k < s->n_in; k++) {
      const nn_tensor *tt = &s->g->tensors[s->in_idx[k]];
      set_input_shape(s, k, tt->dtype, tt->ndim, tt->dims);
    }
    st = plan(s);
    if (st) {
      if (s->model->path) nn_error_prefix(st, "%s", s->model->path);
      goto done;
    }
  }
done:
  if (st) {
    nn_session_free(s);
    return st;
  }
  *out = s;
  return NN_OK;
}

void nn_session_free(nn_session *s) {
  if (!s) return;
  if (s->own) unplan(s);
  free(s->own);
  free(s->vals);
  free(s->order);
  free(s->ctx);
  free(s->ptrs);
  free(s->folded);
  free(s->deferred);
  free(s->prepared);
  free(s->in_idx);
  free(s->planned_dims);
  free(s->planned_dtype);
  free(s->capture_idx);
  free(s->capture_dims);
  free(s->outputs);
  nn_model_free(s->owned_model);
  nn_threadpool_destroy(s->pool);
  free(s);
}

nn_threadpool *nn_session_threadpool(const struct nn_session *s) {
  while (s && !s->pool) s = s->outer;
  return s ? s->pool : NULL;
}

int nn_session_input_count(const nn_session *s) { return s->n_in; }
const char *nn_session_input_name(const nn_session *s, int i) {
  return i >= 0 && i < s->n_in ? s->g->tensors[s->in_idx[i]].name : NULL;
}
nn_status nn_session_input_info(const nn_session *s, int i, nn_dtype *dtype, int *ndim,
                                int64_t *dims) {
  if (i < 0 || i >= s->n_in)
    return nn_errorf(NN_ERR_INVALID, "input index %d out of range (%d inputs)", i, s->n_in);
  const nn_tensor *t = &s->g->tensors[s->in_idx[i]];
  if (dtype) *dtype = t->dtype;
  if (ndim) *ndim = t->ndim;
  for (int d = 0; dims && d < t->ndim; d++) dims[d] = t->dims[d];
  return NN_OK;
}

int nn_session_output_count(const nn_session *s) { return s->n_out; }
const char *nn_session_output_name(const nn_session *s, int i) {
  return i >= 0 && i < s->n_out ? s->g->tensors[s->out_idx[i]].name : NULL;
}
size_t nn_session_activation_bytes(const nn_session *s) { return s->arena_size; }
size_t nn_session_weight_bytes(const nn_session *s) { return s->weight_bytes; }
const nn_array *nn_session_output(const nn_session *s, int i) {
  return i >= 0 && i < s->n_out ? &s->outputs[i] : NULL;
}

/* ---- run ---- */

static int shapes_changed(nn_session *s, const nn_value *const *in) {
  if (!s->planned) return 1;
  for (int k = 0; k < s->n_in; k++) {
    const int64_t *pd = s->planned_dims + (size_t)k * (NN_MAX_DIMS + 1);
    if (in[k]->dtype != s->planned_dtype[k] || in[k]->ndim != pd[0] ||
        memcmp(in[k]->dims, pd + 1, (size_t)in[k]->ndim * sizeof(int64_t)))
      return 1;
  }
  /* Captured values of a body: re-plan when their shape changed since planning. */
  for (int k = 0; k < s->n_captures; k++) {
    const nn_value *v = s->vals[s->capture_idx[k]];
    const int64_t *pd = s->capture_dims + (size_t)k * (NN_MAX_DIMS + 2);
    if (pd[0] != v->dtype || pd[1] != v->ndim ||
        (v->ndim > 0 && memcmp(v->dims, pd + 2, (size_t)v->ndim * sizeof(int64_t))))
      return 1;
  }
  return 0;
}

static nn_status execute(nn_session *s) {
  nn_status st = NN_OK;
  const nn_graph *g = s->g;
  for (int oi = 0; oi < g->n_nodes; oi++) {
    int i = s->order[oi];
    if (s->folded[i]) continue;
    nn_op_ctx *c = &s->ctx[i];
    c->planning = 0;
    if (s->deferred[i]) {
      int dyn = 0;
      st = c->def->infer(c);
      if (st == NN_INFER_DEFERRED) {
        dyn = 1; /* the op sizes its outputs itself in run (control flow) */
        st = NN_OK;
      }
      if (st) return st;
      for (int k = 0; k < c->n_out && !dyn; k++) {
        nn_value *v = c->out[k];
        if (!v) continue;
        v->flags |= NN_V_DYNAMIC;
        if ((st = nn_session_grow(s, v, v->nbytes))) return st;
      }
      if (!s->prepared[i] && c->def->prepare) {
        c->scratch_size = 0;
        if ((st = c->def->prepare(c))) return st;
        s->prepared[i] = 1;
        if (c->scratch_size > s->scratch_size) {
          void *p = realloc(s->scratch, c->scratch_size);
          if (!p) return nn_errorf(NN_ERR_NOMEM, "out of memory");
          s->scratch = p;
          s->scratch_size = c->scratch_size;
        }
      }
    }
    c->scratch = s->scratch;
    st = c->def->run(c);
    if (st) return st;
    if (s->observer)
      for (int k = 0; k < c->n_out; k++)
        if (c->out[k]) s->observer(s->observer_user, g->nodes[i].outputs[k], c->out[k]);
  }
  return NN_OK;
}

static nn_status run_values(nn_session *s, const nn_value *const *in) {
  nn_status st = NN_OK;
  for (int k = 0; k < s->n_in; k++)
    if ((st = check_input(s, s->in_idx[k], in[k], "input"))) return st;
  if (shapes_changed(s, in)) {
    unplan(s);
    for (int k = 0; k < s->n_in; k++) set_input_shape(s, k, in[k]->dtype, in[k]->ndim, in[k]->dims);
    for (int k = 0; k < s->n_captures; k++) {
      const nn_value *v = s->vals[s->capture_idx[k]];
      int64_t *pd = s->capture_dims + (size_t)k * (NN_MAX_DIMS + 2);
      pd[0] = v->dtype;
      pd[1] = v->ndim;
      if (v->ndim > 0) memcpy(pd + 2, v->dims, (size_t)v->ndim * sizeof(int64_t));
    }
    if ((st = plan(s))) return st;
  }
  for (int k = 0; k < s->n_in; k++) {
    nn_value *v = s->vals[s->in_idx[k]];
    if (!v->data && (st = nn_session_grow(s, v, in[k]->nbytes))) return st;
    if (in[k]->dtype == NN_STRING) {
      /* Strings are copied deeply into owned storage. */
      int64_t n = nn_value_numel(in[k]);
      if ((st = nn_session_grow(s, v, in[k]->nbytes))) return st;
      nn_bytes *d = v->data;
      const nn_bytes *src = in[k]->data;
      for (int64_t j = 0; j < n; j++) {
        d[j].data = nn_strndup(src[j].data, src[j].len);
        d[j].len = src[j].len;
      }
    } else if (in[k]->nbytes) {
      memcpy(v->data, in[k]->data, in[k]->nbytes);
    }
  }
  if (s->observer)
    for (int k = 0; k < s->n_in; k++)
      s->observer(s->observer_user, s->in_idx[k], s->vals[s->in_idx[k]]);
  if ((st = execute(s))) return st;
  for (int k = 0; k < s->n_out; k++) {
    const nn_value *v = s->vals[s->out_idx[k]];
    nn_array *a = &s->outputs[k];
    a->dtype = v->dtype;
    a->ndim = v->ndim < 0 ? 0 : v->ndim;
    memcpy(a->dims, v->dims, sizeof a->dims);
    a->data = v->data;
    a->nbytes = v->nbytes;
  }
  return NN_OK;
}

nn_status nn_session_run(nn_session *s, int n, const char *const *names,
                         const nn_array *inputs) {
  nn_status st = NN_OK;
  nn_value tmp[64];
  const nn_value *ptr[64];
  if (s->n_in > 64) return nn_errorf(NN_ERR_UNSUPPORTED, "more than 64 model inputs");
  for (int k = 0; k < s->n_in; k++) {
    const char *nm = s->g->tensors[s->in_idx[k]].name;
    int found = -1;
    for (int j = 0; j < n; j++)
      if (names[j] && !strcmp(names[j], nm)) found = j;
    if (found < 0)
      return nn_errorf(NN_ERR_INVALID, "input '%s' was not given", nm);
    const nn_array *a = &inputs[found];
    if (a->ndim < 0 || a->ndim > NN_MAX_DIMS)
      return nn_errorf(NN_ERR_INVALID, "input '%s': rank %d unsupported", nm, a->ndim);
    memset(&tmp[k], 0, sizeof tmp[k]);
    tmp[k].dtype = a->dtype;
    tmp[k].ndim = a->ndim;
    memcpy(tmp[k].dims, a->dims, (size_t)a->ndim * sizeof(int64_t));
    tmp[k].data = a->data;
    tmp[k].nbytes = a->nbytes;
    int64_t numel = nn_array_numel(a);
    if (numel < 0 || (size_t)numel * nn_dtype_size(a->dtype) != a->nbytes)
      return nn_errorf(NN_ERR_INVALID, "input '%s': %zu bytes do not match its shape", nm,
                       a->nbytes);
    ptr[k] = &tmp[k];
  }
  for (int j = 0; j < n; j++) {
    int known = 0;
    for (int k = 0; k < s->n_in; k++)
      known |= names[j] && !strcmp(names[j], s->g->tensors[s->in_idx[k]].name);
    if (!known)
      return nn_errorf(NN_ERR_INVALID, "'%s' is not an input of the model",
                       names[j] ? names[j] : "(null)");
  }
  st = run_values(s, ptr);
  if (st && s->model->path) nn_error_prefix(st, "%s", s->model->path);
  return st;
}

int64_t nn_array_numel(const nn_array *a) {
  int64_t n = 1;
  for (int i = 0; i < a->ndim; i++) {
    if (a->dims[i] < 0) return -1;
    n *= a->dims[i];
  }
  return n;
}

/* ---- nested sessions ---- */

struct nn_subsession {
  nn_session *s;
};

nn_status nn_subsession_create(struct nn_session *outer, const nn_graph *body,
                               nn_subsession **out) {
  nn_status st = NN_OK;
  *out = NULL;
  nn_subsession *ss = calloc(1, sizeof *ss);
  if (!ss) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  ss->s = session_alloc(outer->model, body);
  if (!ss->s) {
    free(ss);
    return nn_errorf(NN_ERR_NOMEM, "out of memory");
  }
  ss->s->outer = outer;
  ss->s->opt = outer->opt;
  NN_TRY(session_init(ss->s));
  NN_TRY(set_inputs_list(ss->s, 1));
done:
  if (st) {
    nn_subsession_free(ss);
    return st;
  }
  *out = ss;
  return NN_OK;
}

nn_status nn_subsession_run(nn_subsession *ss, int n_in, nn_value *const *inputs) {
  nn_session *s = ss->s;
  if (n_in != s->n_in)
    return nn_errorf(NN_ERR_INVALID, "subgraph '%s' takes %d inputs, given %d",
                     s->g->name ? s->g->name : "", s->n_in, n_in);
  return run_values(s, (const nn_value *const *)inputs);
}

nn_value *nn_subsession_output(nn_subsession *ss, int i) {
  nn_session *s = ss->s;
  return i >= 0 && i < s->n_out ? s->vals[s->out_idx[i]] : NULL;
}

void nn_subsession_free(nn_subsession *ss) {
  if (!ss) return;
  nn_session_free(ss->s);
  free(ss);
}

/* ---- planning for analysis ---- */

const nn_graph *nn_session_graph(const nn_session *s) { return s->g; }

nn_status nn_session_create_planned(const nn_model *m, nn_session **out) {
  nn_status st = NN_OK;
  nn_session *s = NULL;
  /* As written (no QDQ lowering): callers index values by m's own tensors. */
  nn_session_options so = {0};
  so.qdq_as_float = 1;
  *out = NULL;
  NN_TRY(nn_session_create(m, &so, &s));
  if (!s->planned) {
    for (int k = 0; k < s->n_in; k++) {
      const nn_tensor *tt = &s->g->tensors[s->in_idx[k]];
      int64_t dims[NN_MAX_DIMS];
      int ndim = tt->ndim < 0 ? 0 : tt->ndim;
      for (int d = 0; d < ndim; d++) dims[d] = tt->dims[d] < 0 ? 1 : tt->dims[d];
      set_input_shape(s, k, tt->dtype == NN_UNDEFINED ? NN_FLOAT : tt->dtype, ndim, dims);
    }
    NN_TRY(plan(s));
  }
done:
  if (st) {
    nn_session_free(s);
    return st;
  }
  *out = s;
  return NN_OK;
}

const nn_value *nn_session_value(const nn_session *s, int t) {
  return t >= 0 && t < s->g->n_tensors ? s->vals[t] : NULL;
}

int nn_session_node_folded(const nn_session *s, int i) {
  return i >= 0 && i < s->g->n_nodes && s->folded[i];
}

nn_status nn_session_create_constants_only(const nn_model *m, nn_session **out) {
  nn_status st = NN_OK;
  *out = NULL;
  nn_session *s = session_alloc(m, m->graph);
  if (!s) return nn_errorf(NN_ERR_NOMEM, "out of memory creating session");
  NN_TRY(session_init(s));
  NN_TRY(set_inputs_list(s, 0));
  for (int k = 0; k < s->n_in; k++) s->vals[s->in_idx[k]]->ndim = -1;
  NN_TRY(plan(s));
done:
  if (st) {
    nn_session_free(s);
    return st;
  }
  *out = s;
  return NN_OK;
}
