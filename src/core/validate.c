/*
 * validate.c - structural checks of a model (nn_model_validate): cycles, undefined
 * inputs (allowing captures from enclosing graphs), tensors produced twice, attribute
 * types of well-known attributes, cheap dtype agreement, and (optionally) ops the
 * runtime cannot execute. The first problem found is reported, naming node and tensor.
 */
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/graph.h"
#include "ops/op.h"

typedef struct val_ctx {
  const nn_model *m;
  int check_ops;
} val_ctx;

/* Attribute types of common attributes; a mismatch is a malformed model. */
typedef struct attr_rule {
  const char *op; /* NULL: any op in the default domain */
  const char *attr;
  nn_attr_type type;
} attr_rule;

static const attr_rule k_attr_rules[] = {
    {"Conv", "kernel_shape", NN_ATTR_INTS},   {"Conv", "strides", NN_ATTR_INTS},
    {"Conv", "pads", NN_ATTR_INTS},           {"Conv", "dilations", NN_ATTR_INTS},
    {"Conv", "group", NN_ATTR_INT},           {"Conv", "auto_pad", NN_ATTR_STRING},
    {"ConvTranspose", "strides", NN_ATTR_INTS}, {"ConvTranspose", "pads", NN_ATTR_INTS},
    {"ConvTranspose", "group", NN_ATTR_INT},  {"MaxPool", "kernel_shape", NN_ATTR_INTS},
    {"MaxPool", "strides", NN_ATTR_INTS},     {"MaxPool", "pads", NN_ATTR_INTS},
    {"AveragePool", "kernel_shape", NN_ATTR_INTS}, {"AveragePool", "strides", NN_ATTR_INTS},
    {"AveragePool", "pads", NN_ATTR_INTS},    {"Gemm", "alpha", NN_ATTR_FLOAT},
    {"Gemm", "beta", NN_ATTR_FLOAT},          {"Gemm", "transA", NN_ATTR_INT},
    {"Gemm", "transB", NN_ATTR_INT},          {"Cast", "to", NN_ATTR_INT},
    {"Concat", "axis", NN_ATTR_INT},          {"Softmax", "axis", NN_ATTR_INT},
    {"LogSoftmax", "axis", NN_ATTR_INT},      {"Flatten", "axis", NN_ATTR_INT},
    {"Gather", "axis", NN_ATTR_INT},          {"Transpose", "perm", NN_ATTR_INTS},
    {"BatchNormalization", "epsilon", NN_ATTR_FLOAT}, {"LeakyRelu", "alpha", NN_ATTR_FLOAT},
    {"Elu", "alpha", NN_ATTR_FLOAT},          {"Constant", "value", NN_ATTR_TENSOR},
    {"If", "then_branch", NN_ATTR_GRAPH},     {"If", "else_branch", NN_ATTR_GRAPH},
    {"Loop", "body", NN_ATTR_GRAPH},          {"Scan", "body", NN_ATTR_GRAPH},
    {"QuantizeLinear", "axis", NN_ATTR_INT},  {"DequantizeLinear", "axis", NN_ATTR_INT},
    {"Reshape", "allowzero", NN_ATTR_INT},    {"Resize", "mode", NN_ATTR_STRING},
};

/* Ops whose listed inputs must share one dtype: bitmask of input positions, or ~0 for
 * all inputs. */
typedef struct dtype_rule {
  const char *op;
  unsigned inputs;
} dtype_rule;

static const dtype_rule k_dtype_rules[] = {
    {"Add", 3u},    {"Sub", 3u},     {"Mul", 3u},     {"Div", 3u},      {"MatMul", 3u},
    {"Gemm", 3u},   {"Equal", 3u},   {"Less", 3u},    {"Greater", 3u},  {"And", 3u},
    {"Or", 3u},     {"Xor", 3u},     {"Sum", ~0u},    {"Max", ~0u},     {"Min", ~0u},
    {"Mean", ~0u},  {"Concat", ~0u}, {"Where", 6u},   {"Conv", 3u},     {"PRelu", 3u},
};

static const char *attr_type_name(nn_attr_type t) {
  switch (t) {
  case NN_ATTR_FLOAT: return "FLOAT";
  case NN_ATTR_INT: return "INT";
  case NN_ATTR_STRING: return "STRING";
  case NN_ATTR_TENSOR: return "TENSOR";
  case NN_ATTR_GRAPH: return "GRAPH";
  case NN_ATTR_FLOATS: return "FLOATS";
  case NN_ATTR_INTS: return "INTS";
  case NN_ATTR_STRINGS: return "STRINGS";
  case NN_ATTR_TENSORS: return "TENSORS";
  case NN_ATTR_GRAPHS: return "GRAPHS";
  case NN_ATTR_SPARSE_TENSOR: return "SPARSE_TENSOR";
  case NN_ATTR_SPARSE_TENSORS: return "SPARSE_TENSORS";
  case NN_ATTR_TYPE_PROTO: return "TYPE_PROTO";
  case NN_ATTR_TYPE_PROTOS: return "TYPE_PROTOS";
  default: return "UNDEFINED";
  }
}

static int locally_defined(const nn_graph *g, int t) {
  return t >= 0 && (g->tensors[t].producer >= 0 ||
                    (g->tensors[t].flags & (NN_T_INPUT | NN_T_INITIALIZER)));
}

/* Defined in g or captured from an enclosing graph. */
static int defined_in_scope(const nn_graph *g, int t) {
  if (locally_defined(g, t)) return 1;
  const char *name = g->tensors[t].name;
  for (const nn_graph *p = g->parent; p; p = p->parent) {
    int o = nn_graph_find(p, name);
    if (locally_defined(p, o)) return 1;
  }
  return 0;
}

static int is_default_domain(const char *d) { return !d || !*d || !strcmp(d, "ai.onnx"); }

static nn_status validate_graph(const val_ctx *c, nn_graph *g);

static nn_status check_node(const val_ctx *c, nn_graph *g, int i) {
  nn_status st = NN_OK;
  const nn_node *n = &g->nodes[i];
  char label[320];
  nn_node_label(g, i, label, sizeof label);
  for (int k = 0; k < n->n_inputs; k++) {
    int t = n->inputs[k];
    if (t >= g->n_tensors) return nn_errorf(NN_ERR_INVALID, "%s: input %d is out of range", label, k);
    if (t >= 0 && !defined_in_scope(g, t))
      return nn_errorf(NN_ERR_INVALID, "%s: input '%s' is not defined (not produced by a node, "
                       "not a graph input or initializer)", label, g->tensors[t].name);
  }
  for (int k = 0; k < n->n_outputs; k++) {
    int t = n->outputs[k];
    if (t >= g->n_tensors) return nn_errorf(NN_ERR_INVALID, "%s: output %d is out of range", label, k);
    if (t < 0) continue;
    const nn_tensor *tt = &g->tensors[t];
    if (tt->producer != i) {
      char other[320];
      return nn_errorf(NN_ERR_INVALID, "%s: output '%s' is also produced by %s", label,
                       tt->name, nn_node_label(g, tt->producer, other, sizeof other));
    }
    for (int j = 0; j < k; j++)
      if (n->outputs[j] == t)
        return nn_errorf(NN_ERR_INVALID, "%s: output '%s' is listed twice", label, tt->name);
    if (tt->flags & (NN_T_INPUT | NN_T_INITIALIZER))
      return nn_errorf(NN_ERR_INVALID, "%s: output '%s' is also a graph %s", label, tt->name,
                       (tt->flags & NN_T_INPUT) ? "input" : "initializer");
  }
  if (is_default_domain(n->domain)) {
    for (size_t r = 0; r < sizeof k_attr_rules / sizeof *k_attr_rules; r++) {
      const attr_rule *ru = &k_attr_rules[r];
      if (strcmp(ru->op, n->op_type)) continue;
      const nn_attr *a = nn_node_attr(n, ru->attr);
      if (a && a->type != ru->type && !a->ref_attr_name)
        return nn_errorf(NN_ERR_INVALID, "%s: attribute '%s' has type %s, expected %s", label,
                         ru->attr, attr_type_name(a->type), attr_type_name(ru->type));
    }
    if (!strcmp(n->op_type, "Cast")) {
      const nn_attr *a = nn_node_attr(n, "to");
      if (a && a->type == NN_ATTR_INT && !nn_dtype_valid((int)a->i))
        return nn_errorf(NN_ERR_INVALID, "%s: attribute 'to' is not a data type (%lld)", label,
                         (long long)a->i);
    }
    for (size_t r = 0; r < sizeof k_dtype_rules / sizeof *k_dtype_rules; r++) {
      const dtype_rule *ru = &k_dtype_rules[r];
      if (strcmp(ru->op, n->op_type)) continue;
      int first = -1;
      for (int k = 0; k < n->n_inputs && k < 32; k++) {
        int t = n->inputs[k];
        if (!(ru->inputs & (1u << k)) || t < 0 || g->tensors[t].dtype == NN_UNDEFINED) continue;
        if (first < 0) {
          first = t;
        } else if (g->tensors[t].dtype != g->tensors[first].dtype) {
          return nn_errorf(NN_ERR_INVALID, "%s: inputs '%s' (%s) and '%s' (%s) have different "
                           "data types", label, g->tensors[first].name,
                           nn_dtype_name(g->tensors[first].dtype), g->tensors[t].name,
                           nn_dtype_name(g->tensors[t].dtype));
        }
      }
    }
  }
  if (c->check_ops && !nn_op_find(n->op_type, n->domain)) {
    const char *d = is_default_domain(n->domain) ? "ai.onnx" : n->domain;
    return nn_errorf(NN_ERR_UNSUPPORTED, "%s: unsupported op %s (domain '%s', opset %lld)",
                     label, n->op_type, d, (long long)nn_model_opset(c->m, n->domain));
  }
  for (int a = 0; a < n->n_attrs; a++) {
    const nn_attr *at = &n->attrs[a];
    if (at->type != NN_ATTR_GRAPH && at->type != NN_ATTR_GRAPHS) continue;
    for (int k = 0; k < (at->type == NN_ATTR_GRAPH ? 1 : at->n); k++) {
      if (!at->graphs || !at->graphs[k]) continue;
      if ((st = validate_graph(c, at->graphs[k])))
        return nn_error_prefix(st, "%s: attribute '%s'", label, at->name);
    }
  }
  return NN_OK;
}

static nn_status validate_graph(const val_ctx *c, nn_graph *g) {
  nn_status st = NN_OK;
  int *order = NULL;
  NN_TRY(nn_graph_build_maps(g, NULL));
  for (int i = 0; i < g->n_inits; i++) {
    const nn_tensor *t = &g->tensors[g->inits[i]];
    int64_t numel = nn_tensor_numel(t);
    size_t es = nn_dtype_size(t->dtype);
    if (!es) {
      st = nn_errorf(NN_ERR_INVALID, "initializer '%s' has no valid data type", t->name);
      goto done;
    }
    if (numel < 0 || (uint64_t)numel * es != t->nbytes) {
      st = nn_errorf(NN_ERR_INVALID, "initializer '%s' has %zu bytes of data, its shape needs "
                     "%lld", t->name, t->nbytes, (long long)(numel < 0 ? -1 : numel * (int64_t)es));
      goto done;
    }
  }
  for (int i = 0; i < g->n_nodes; i++) NN_TRY(check_node(c, g, i));
  for (int i = 0; i < g->n_outputs; i++) {
    int t = g->outputs[i];
    if (!defined_in_scope(g, t)) {
      st = nn_errorf(NN_ERR_INVALID, "graph output '%s' is not produced by any node",
                     g->tensors[t].name);
      goto done;
    }
  }
  if (!(order = malloc(((size_t)g->n_nodes + 1) * sizeof *order))) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  NN_TRY(nn_graph_topo_order(g, order));
done:
  free(order);
  if (st && g->name && *g->name) nn_error_prefix(st, "graph '%s'", g->name);
  return st;
}

nn_status nn_model_validate(const nn_model *m, int check_ops) {
  if (!m || !m->graph) return nn_errorf(NN_ERR_INVALID, "no model");
  val_ctx c = {m, check_ops};
  /* Producer indices are a cache the maps rebuild; refreshing them is not a change. */
  nn_status st = validate_graph(&c, m->graph);
  if (st && m->path) nn_error_prefix(st, "%s", m->path);
  return st;
}
