/*
 * graph_equal.c - structural and value equality of two models (nn_model_equal), used
 * by round-trip tests and by pass tests that expect "no change". Tensors are matched
 * by name, nodes by position; values compare bitwise (so NaN equals the same NaN).
 * The first difference is described in the caller's buffer.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/graph.h"

typedef struct eq_ctx {
  char *why;
  size_t why_len;
} eq_ctx;

static int differ(eq_ctx *c, const char *where, const char *fmt, ...) NN_PRINTF(3, 4);

static int differ(eq_ctx *c, const char *where, const char *fmt, ...) {
  if (c->why && c->why_len) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(c->why, c->why_len, "%s%s%s", where, *where ? ": " : "", msg);
  }
  return 0;
}

static const char *show(const char *s) { return s ? s : "(none)"; }

static int str_eq(const char *a, const char *b) {
  if (!a || !b) return a == b;
  return !strcmp(a, b);
}

static int blob_eq(const nn_blob *a, const nn_blob *b) {
  return a->len == b->len && (!a->len || !memcmp(a->data, b->data, a->len));
}

static int bytes_eq(const nn_bytes *a, const nn_bytes *b) {
  return a->len == b->len && (!a->len || !memcmp(a->data, b->data, a->len));
}

static int graph_eq(eq_ctx *c, const char *where, const nn_graph *a, const nn_graph *b);

static int tensor_eq(eq_ctx *c, const char *where, const nn_tensor *a, const nn_tensor *b) {
  const unsigned roles = NN_T_INITIALIZER | NN_T_INPUT | NN_T_OUTPUT | NN_T_VALUE_INFO;
  char w[1024];
  snprintf(w, sizeof w, "%s%stensor '%s'", where, *where ? ": " : "", show(a->name));
  if (!str_eq(a->name, b->name))
    return differ(c, where, "tensor names differ ('%s' vs '%s')", show(a->name), show(b->name));
  if (a->dtype != b->dtype)
    return differ(c, w, "dtype %s vs %s", nn_dtype_name(a->dtype), nn_dtype_name(b->dtype));
  if (a->ndim != b->ndim) return differ(c, w, "rank %d vs %d", a->ndim, b->ndim);
  for (int i = 0; i < a->ndim && i < NN_MAX_DIMS; i++) {
    if (a->dims[i] != b->dims[i])
      return differ(c, w, "dim %d is %lld vs %lld", i, (long long)a->dims[i],
                    (long long)b->dims[i]);
    if (!str_eq(a->dim_param[i], b->dim_param[i]))
      return differ(c, w, "dim %d is '%s' vs '%s'", i, show(a->dim_param[i]),
                    show(b->dim_param[i]));
  }
  if ((a->flags & roles) != (b->flags & roles))
    return differ(c, w, "roles differ (flags 0x%x vs 0x%x)", a->flags & roles,
                  b->flags & roles);
  if (!a->data != !b->data)
    return differ(c, w, "%s has data, the other not", a->data ? "first" : "second");
  if (a->nbytes != b->nbytes)
    return differ(c, w, "data size %zu vs %zu bytes", a->nbytes, b->nbytes);
  if (a->data && a->dtype == NN_STRING) {
    const nn_bytes *sa = a->data, *sb = b->data;
    for (size_t i = 0; i < a->nbytes / sizeof(nn_bytes); i++)
      if (!bytes_eq(&sa[i], &sb[i])) return differ(c, w, "string %zu differs", i);
  } else if (a->data && a->nbytes && memcmp(a->data, b->data, a->nbytes)) {
    size_t i = 0, es = nn_dtype_size(a->dtype);
    const unsigned char *pa = a->data, *pb = b->data;
    while (i < a->nbytes && pa[i] == pb[i]) i++;
    return differ(c, w, "values differ at element %zu", es ? i / es : i);
  }
  if (!str_eq(a->doc_string, b->doc_string)) return differ(c, w, "doc_string differs");
  if (!blob_eq(&a->type_shell, &b->type_shell)) return differ(c, w, "non-tensor type differs");
  if (!blob_eq(&a->init_shell, &b->init_shell))
    return differ(c, w, "preserved TensorProto fields differ");
  return 1;
}

static int attr_eq(eq_ctx *c, const char *where, const nn_attr *a, const nn_attr *b) {
  char w[1024];
  snprintf(w, sizeof w, "%s: attribute '%s'", where, show(a->name));
  if (!str_eq(a->name, b->name))
    return differ(c, where, "attribute names differ ('%s' vs '%s')", show(a->name),
                  show(b->name));
  if (a->type != b->type) return differ(c, w, "type %d vs %d", (int)a->type, (int)b->type);
  if (!str_eq(a->ref_attr_name, b->ref_attr_name)) return differ(c, w, "ref_attr_name differs");
  if (!str_eq(a->doc_string, b->doc_string)) return differ(c, w, "doc_string differs");
  if (!blob_eq(&a->shell, &b->shell)) return differ(c, w, "preserved fields differ");
  switch (a->type) {
  case NN_ATTR_FLOAT:
    if (memcmp(&a->f, &b->f, sizeof a->f))
      return differ(c, w, "%.9g vs %.9g", (double)a->f, (double)b->f);
    return 1;
  case NN_ATTR_INT:
    if (a->i != b->i) return differ(c, w, "%lld vs %lld", (long long)a->i, (long long)b->i);
    return 1;
  case NN_ATTR_STRING:
    if (!bytes_eq(&a->s, &b->s)) return differ(c, w, "strings differ");
    return 1;
  default: break;
  }
  if (a->n != b->n) return differ(c, w, "%d vs %d elements", a->n, b->n);
  for (int i = 0; i < a->n; i++) {
    switch (a->type) {
    case NN_ATTR_FLOATS:
      if (memcmp(&a->floats[i], &b->floats[i], sizeof(float)))
        return differ(c, w, "element %d: %.9g vs %.9g", i, (double)a->floats[i],
                      (double)b->floats[i]);
      break;
    case NN_ATTR_INTS:
      if (a->ints[i] != b->ints[i])
        return differ(c, w, "element %d: %lld vs %lld", i, (long long)a->ints[i],
                      (long long)b->ints[i]);
      break;
    case NN_ATTR_STRINGS:
      if (!bytes_eq(&a->strings[i], &b->strings[i]))
        return differ(c, w, "string %d differs", i);
      break;
    case NN_ATTR_TENSOR:
    case NN_ATTR_TENSORS:
      if (!tensor_eq(c, w, &a->tensors[i], &b->tensors[i])) return 0;
      break;
    case NN_ATTR_GRAPH:
    case NN_ATTR_GRAPHS:
      if (!graph_eq(c, w, a->graphs[i], b->graphs[i])) return 0;
      break;
    default: break; /* sparse tensors / type protos: compared through the shell */
    }
  }
  return 1;
}

static const char *tname(const nn_graph *g, int idx) {
  return idx >= 0 && idx < g->n_tensors ? g->tensors[idx].name : NULL;
}

static int node_eq(eq_ctx *c, const char *where, const nn_graph *ga, int i, const nn_graph *gb) {
  const nn_node *a = &ga->nodes[i], *b = &gb->nodes[i];
  char label[320], w[1024];
  snprintf(w, sizeof w, "%s: %s", where, nn_node_label(ga, i, label, sizeof label));
  if (strcmp(a->op_type, b->op_type) || !str_eq(a->domain, b->domain))
    return differ(c, w, "op %s:%s vs %s:%s", show(a->domain), a->op_type, show(b->domain),
                  b->op_type);
  if (!str_eq(a->name, b->name))
    return differ(c, w, "name '%s' vs '%s'", show(a->name), show(b->name));
  if (a->n_inputs != b->n_inputs || a->n_outputs != b->n_outputs)
    return differ(c, w, "%d/%d inputs/outputs vs %d/%d", a->n_inputs, a->n_outputs,
                  b->n_inputs, b->n_outputs);
  for (int k = 0; k < a->n_inputs + a->n_outputs; k++) {
    int in = k < a->n_inputs;
    int ta = in ? a->inputs[k] : a->outputs[k - a->n_inputs];
    int tb = in ? b->inputs[k] : b->outputs[k - a->n_inputs];
    if (!str_eq(tname(ga, ta), tname(gb, tb)))
      return differ(c, w, "%s %d is '%s' vs '%s'", in ? "input" : "output",
                    in ? k : k - a->n_inputs, show(tname(ga, ta)), show(tname(gb, tb)));
  }
  if (a->n_attrs != b->n_attrs)
    return differ(c, w, "%d attributes vs %d", a->n_attrs, b->n_attrs);
  for (int k = 0; k < a->n_attrs; k++)
    if (!attr_eq(c, w, &a->attrs[k], &b->attrs[k])) return 0;
  if (!str_eq(a->doc_string, b->doc_string)) return differ(c, w, "doc_string differs");
  if (!blob_eq(&a->shell, &b->shell)) return differ(c, w, "preserved NodeProto fields differ");
  return 1;
}

static int list_eq(eq_ctx *c, const char *where, const char *what, const nn_graph *ga, int na,
                   const int *la, const nn_graph *gb, int nb, const int *lb) {
  if (na != nb) return differ(c, where, "%d %s vs %d", na, what, nb);
  for (int i = 0; i < na; i++)
    if (!tensor_eq(c, where, &ga->tensors[la[i]], &gb->tensors[lb[i]])) return 0;
  return 1;
}

static int graph_eq(eq_ctx *c, const char *where, const nn_graph *a, const nn_graph *b) {
  char w[1024];
  if (!a || !b) return a == b ? 1 : differ(c, where, "one graph is missing");
  snprintf(w, sizeof w, "%s%sgraph '%s'", where, *where ? ": " : "", show(a->name));
  if (!str_eq(a->name, b->name))
    return differ(c, where, "graph names differ ('%s' vs '%s')", show(a->name), show(b->name));
  if (!str_eq(a->doc_string, b->doc_string)) return differ(c, w, "doc_string differs");
  if (!list_eq(c, w, "inputs", a, a->n_inputs, a->inputs, b, b->n_inputs, b->inputs) ||
      !list_eq(c, w, "outputs", a, a->n_outputs, a->outputs, b, b->n_outputs, b->outputs) ||
      !list_eq(c, w, "initializers", a, a->n_inits, a->inits, b, b->n_inits, b->inits) ||
      !list_eq(c, w, "value_infos", a, a->n_value_infos, a->value_infos, b, b->n_value_infos,
               b->value_infos))
    return 0;
  if (a->n_nodes != b->n_nodes) return differ(c, w, "%d nodes vs %d", a->n_nodes, b->n_nodes);
  for (int i = 0; i < a->n_nodes; i++)
    if (!node_eq(c, w, a, i, b)) return 0;
  if (!blob_eq(&a->shell, &b->shell)) return differ(c, w, "preserved GraphProto fields differ");
  return 1;
}

int nn_model_equal(const nn_model *a, const nn_model *b, char *why, size_t why_len) {
  eq_ctx c = {why, why_len};
  if (why && why_len) why[0] = 0;
  if (!a || !b) return a == b ? 1 : differ(&c, "", "one model is NULL");
  if (a->ir_version != b->ir_version)
    return differ(&c, "", "ir_version %lld vs %lld", (long long)a->ir_version,
                  (long long)b->ir_version);
  if (a->n_opsets != b->n_opsets)
    return differ(&c, "", "%d opset imports vs %d", a->n_opsets, b->n_opsets);
  for (int i = 0; i < a->n_opsets; i++)
    if (!str_eq(a->opsets[i].domain, b->opsets[i].domain) ||
        a->opsets[i].version != b->opsets[i].version)
      return differ(&c, "", "opset %d is '%s' v%lld vs '%s' v%lld", i,
                    show(a->opsets[i].domain), (long long)a->opsets[i].version,
                    show(b->opsets[i].domain), (long long)b->opsets[i].version);
  if (!str_eq(a->producer_name, b->producer_name) ||
      !str_eq(a->producer_version, b->producer_version) || !str_eq(a->domain, b->domain) ||
      a->model_version != b->model_version || !str_eq(a->doc_string, b->doc_string))
    return differ(&c, "", "model producer/domain/version/doc_string differ");
  if (a->n_meta != b->n_meta)
    return differ(&c, "", "%d metadata entries vs %d", a->n_meta, b->n_meta);
  for (int i = 0; i < a->n_meta; i++)
    if (!str_eq(a->meta_keys[i], b->meta_keys[i]) || !str_eq(a->meta_values[i], b->meta_values[i]))
      return differ(&c, "", "metadata entry %d differs ('%s')", i, show(a->meta_keys[i]));
  if (!blob_eq(&a->shell, &b->shell))
    return differ(&c, "", "preserved ModelProto fields (functions, training info, unknown) differ");
  return graph_eq(&c, "", a->graph, b->graph);
}
