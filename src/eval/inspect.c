/*
 * inspect.c - model summary: opsets, inputs/outputs, op histogram, parameters by
 * dtype, per-node multiply-accumulate counts (from planned shapes) and the largest
 * tensors; as text or JSON.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/graph.h"
#include "eval/analyze.h"
#include "runtime/session.h"

static int64_t prod(const int64_t *d, int n) {
  int64_t p = 1;
  for (int i = 0; i < n; i++) p *= d[i];
  return p;
}

/* MACs of node i given planned shapes; 0 for ops that are not counted. */
int64_t nn_node_macs(const nn_graph *g, const nn_session *s, int i) {
  const nn_node *n = &g->nodes[i];
  const nn_value *x = n->n_inputs > 0 ? nn_session_value(s, n->inputs[0]) : NULL;
  const nn_value *w = n->n_inputs > 1 ? nn_session_value(s, n->inputs[1]) : NULL;
  const nn_value *y = n->n_outputs > 0 ? nn_session_value(s, n->outputs[0]) : NULL;
  if (!x || !y || x->ndim < 0 || y->ndim < 0 || (y->flags & NN_V_DYNAMIC)) return 0;
  const char *op = n->op_type;
  int64_t group = nn_attr_int(n, "group", 1);
  if ((!strcmp(op, "Conv") || !strcmp(op, "ConvInteger") || !strcmp(op, "QLinearConv"))) {
    if (!strcmp(op, "QLinearConv")) w = n->n_inputs > 3 ? nn_session_value(s, n->inputs[3]) : NULL;
    if (!w || w->ndim < 3) return 0;
    return prod(y->dims, y->ndim) * w->dims[1] * prod(w->dims + 2, w->ndim - 2);
  }
  if (!strcmp(op, "ConvTranspose")) {
    if (!w || w->ndim < 3 || !group) return 0;
    return prod(x->dims, x->ndim) * w->dims[1] * prod(w->dims + 2, w->ndim - 2);
  }
  if (!strcmp(op, "Gemm")) {
    if (x->ndim != 2) return 0;
    int64_t k = nn_attr_int(n, "transA", 0) ? x->dims[0] : x->dims[1];
    return prod(y->dims, y->ndim) * k;
  }
  if (!strcmp(op, "MatMul") || !strcmp(op, "MatMulInteger") || !strcmp(op, "QLinearMatMul")) {
    if (x->ndim < 1) return 0;
    return prod(y->dims, y->ndim) * x->dims[x->ndim - 1];
  }
  if (!strcmp(op, "MaxPool") || !strcmp(op, "AveragePool") || !strcmp(op, "LpPool")) {
    const int64_t *k;
    int nk = nn_attr_ints(n, "kernel_shape", &k);
    return nk > 0 ? prod(y->dims, y->ndim) * prod(k, nk) : 0;
  }
  if (!strcmp(op, "GlobalAveragePool") || !strcmp(op, "GlobalMaxPool"))
    return prod(x->dims, x->ndim);
  return 0;
}

nn_status nn_model_macs(const nn_model *m, int64_t *macs) {
  nn_session *s = NULL;
  *macs = 0;
  nn_status st = nn_session_create_planned(m, &s);
  if (st) return st;
  for (int i = 0; i < m->graph->n_nodes; i++) *macs += nn_node_macs(m->graph, s, i);
  nn_session_free(s);
  return NN_OK;
}

static cJSON *shape_json(const nn_tensor *t) {
  cJSON *a = cJSON_CreateArray();
  for (int i = 0; i < t->ndim; i++) {
    if (t->dims[i] >= 0)
      cJSON_AddItemToArray(a, cJSON_CreateNumber((double)t->dims[i]));
    else
      cJSON_AddItemToArray(a, cJSON_CreateString(t->dim_param[i] ? t->dim_param[i] : "?"));
  }
  return a;
}

static void shape_text(const nn_tensor *t, char *buf, size_t len) {
  if (t->ndim < 0) {
    snprintf(buf, len, "(unknown rank)");
    return;
  }
  size_t o = (size_t)snprintf(buf, len, "[");
  for (int i = 0; i < t->ndim && o < len; i++) {
    if (t->dims[i] >= 0)
      o += (size_t)snprintf(buf + o, len - o, "%s%lld", i ? "," : "", (long long)t->dims[i]);
    else
      o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? "," : "",
                            t->dim_param[i] ? t->dim_param[i] : "?");
  }
  if (o < len) snprintf(buf + o, len - o, "]");
}

typedef struct op_count {
  const char *op;
  int count;
  int64_t macs;
} op_count;

static int by_count(const void *a, const void *b) {
  const op_count *x = a, *y = b;
  if (x->count != y->count) return y->count - x->count;
  return strcmp(x->op, y->op);
}

typedef struct big_tensor {
  int t;
  size_t bytes;
} big_tensor;

static int by_bytes(const void *a, const void *b) {
  const big_tensor *x = a, *y = b;
  return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : x->t - y->t;
}

nn_status nn_model_inspect(const nn_model *m, FILE *out, int json) {
  const nn_graph *g = m->graph;
  nn_status st = NN_OK;
  nn_session *s = NULL;
  op_count *ops = calloc((size_t)g->n_nodes + 1, sizeof *ops);
  big_tensor *big = calloc((size_t)g->n_tensors + 1, sizeof *big);
  int64_t *macs = calloc((size_t)g->n_nodes + 1, sizeof *macs);
  int nops = 0, nbig = 0;
  int64_t total_macs = 0, params[NN_DTYPE_COUNT] = {0}, pbytes[NN_DTYPE_COUNT] = {0};
  cJSON *root = NULL;
  if (!ops || !big || !macs) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  /* MACs need shapes; a model whose shapes cannot be planned still gets a summary. */
  if (nn_session_create_planned(m, &s)) {
    fprintf(stderr, "nnopt: warning: shapes could not be inferred (%s); MACs omitted\n",
            nn_last_error());
    s = NULL;
  }
  for (int i = 0; i < g->n_nodes; i++) {
    macs[i] = s ? nn_node_macs(g, s, i) : 0;
    total_macs += macs[i];
    int k = 0;
    while (k < nops && strcmp(ops[k].op, g->nodes[i].op_type)) k++;
    if (k == nops) ops[nops++].op = g->nodes[i].op_type;
    ops[k].count++;
    ops[k].macs += macs[i];
  }
  qsort(ops, (size_t)nops, sizeof *ops, by_count);
  for (int k = 0; k < g->n_inits; k++) {
    const nn_tensor *t = &g->tensors[g->inits[k]];
    int64_t n = nn_tensor_numel(t);
    if (nn_dtype_valid(t->dtype) && n > 0) {
      params[t->dtype] += n;
      pbytes[t->dtype] += (int64_t)t->nbytes;
    }
    big[nbig].t = g->inits[k];
    big[nbig++].bytes = t->nbytes;
  }
  qsort(big, (size_t)nbig, sizeof *big, by_bytes);
  int64_t total_params = 0, total_bytes = 0;
  for (int d = 0; d < NN_DTYPE_COUNT; d++) total_params += params[d], total_bytes += pbytes[d];

  if (json) {
    root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "ir_version", (double)m->ir_version);
    cJSON *os = cJSON_AddArrayToObject(root, "opsets");
    for (int i = 0; i < m->n_opsets; i++) {
      cJSON *o = cJSON_CreateObject();
      cJSON_AddStringToObject(o, "domain", m->opsets[i].domain ? m->opsets[i].domain : "");
      cJSON_AddNumberToObject(o, "version", (double)m->opsets[i].version);
      cJSON_AddItemToArray(os, o);
    }
    if (m->producer_name) cJSON_AddStringToObject(root, "producer", m->producer_name);
    for (int io = 0; io < 2; io++) {
      cJSON *arr = cJSON_AddArrayToObject(root, io ? "outputs" : "inputs");
      int n = io ? g->n_outputs : g->n_inputs;
      for (int k = 0; k < n; k++) {
        const nn_tensor *t = &g->tensors[io ? g->outputs[k] : g->inputs[k]];
        if (!io && (t->flags & NN_T_INITIALIZER)) continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", t->name);
        cJSON_AddStringToObject(o, "dtype", nn_dtype_name(t->dtype));
        cJSON_AddItemToObject(o, "shape", shape_json(t));
        cJSON_AddItemToArray(arr, o);
      }
    }
    cJSON_AddNumberToObject(root, "nodes", g->n_nodes);
    cJSON *hist = cJSON_AddObjectToObject(root, "op_types");
    for (int k = 0; k < nops; k++) cJSON_AddNumberToObject(hist, ops[k].op, ops[k].count);
    cJSON_AddNumberToObject(root, "parameters", (double)total_params);
    cJSON_AddNumberToObject(root, "parameter_bytes", (double)total_bytes);
    cJSON *pd = cJSON_AddObjectToObject(root, "parameters_by_dtype");
    for (int d = 0; d < NN_DTYPE_COUNT; d++)
      if (params[d]) {
        cJSON *o = cJSON_AddObjectToObject(pd, nn_dtype_name((nn_dtype)d));
        cJSON_AddNumberToObject(o, "count", (double)params[d]);
        cJSON_AddNumberToObject(o, "bytes", (double)pbytes[d]);
      }
    cJSON_AddNumberToObject(root, "macs", (double)total_macs);
    cJSON_AddBoolToObject(root, "shapes_inferred", s != NULL);
    cJSON *nm = cJSON_AddArrayToObject(root, "node_macs");
    for (int i = 0; i < g->n_nodes; i++) {
      if (!macs[i]) continue;
      cJSON *o = cJSON_CreateObject();
      char label[256];
      cJSON_AddStringToObject(o, "node", nn_node_label(g, i, label, sizeof label));
      cJSON_AddStringToObject(o, "op", g->nodes[i].op_type);
      cJSON_AddNumberToObject(o, "macs", (double)macs[i]);
      cJSON_AddItemToArray(nm, o);
    }
    cJSON *bt = cJSON_AddArrayToObject(root, "largest_tensors");
    for (int k = 0; k < nbig && k < 10; k++) {
      const nn_tensor *t = &g->tensors[big[k].t];
      cJSON *o = cJSON_CreateObject();
      cJSON_AddStringToObject(o, "name", t->name);
      cJSON_AddStringToObject(o, "dtype", nn_dtype_name(t->dtype));
      cJSON_AddItemToObject(o, "shape", shape_json(t));
      cJSON_AddNumberToObject(o, "bytes", (double)big[k].bytes);
      cJSON_AddItemToArray(bt, o);
    }
    char *txt = cJSON_Print(root);
    if (!txt) {
      st = nn_errorf(NN_ERR_NOMEM, "out of memory");
      goto done;
    }
    fprintf(out, "%s\n", txt);
    free(txt);
  } else {
    char buf[512];
    fprintf(out, "model: %s\nir_version: %lld   producer: %s %s\nopsets:", m->path ? m->path : "(memory)",
            (long long)m->ir_version, m->producer_name ? m->producer_name : "?",
            m->producer_version ? m->producer_version : "");
    for (int i = 0; i < m->n_opsets; i++)
      fprintf(out, " %s=%lld", m->opsets[i].domain && *m->opsets[i].domain ? m->opsets[i].domain : "ai.onnx",
              (long long)m->opsets[i].version);
    fprintf(out, "\n\ninputs:\n");
    for (int k = 0; k < g->n_inputs; k++) {
      const nn_tensor *t = &g->tensors[g->inputs[k]];
      if (t->flags & NN_T_INITIALIZER) continue;
      shape_text(t, buf, sizeof buf);
      fprintf(out, "  %-30s %-8s %s\n", t->name, nn_dtype_name(t->dtype), buf);
    }
    fprintf(out, "outputs:\n");
    for (int k = 0; k < g->n_outputs; k++) {
      const nn_tensor *t = &g->tensors[g->outputs[k]];
      shape_text(t, buf, sizeof buf);
      fprintf(out, "  %-30s %-8s %s\n", t->name, nn_dtype_name(t->dtype), buf);
    }
    fprintf(out, "\nops: %d nodes, %d types\n", g->n_nodes, nops);
    for (int k = 0; k < nops; k++)
      fprintf(out, "  %-24s %6d   MACs %14lld\n", ops[k].op, ops[k].count, (long long)ops[k].macs);
    fprintf(out, "\nparameters: %lld (%.2f MB)\n", (long long)total_params, (double)total_bytes / 1e6);
    for (int d = 0; d < NN_DTYPE_COUNT; d++)
      if (params[d])
        fprintf(out, "  %-8s %14lld params %14lld bytes\n", nn_dtype_name((nn_dtype)d),
                (long long)params[d], (long long)pbytes[d]);
    if (s)
      fprintf(out, "\nMACs: %lld (%.3f G)\n", (long long)total_macs, (double)total_macs / 1e9);
    else
      fprintf(out, "\nMACs: unknown (shapes could not be inferred)\n");
    fprintf(out, "\nlargest tensors:\n");
    for (int k = 0; k < nbig && k < 10; k++) {
      const nn_tensor *t = &g->tensors[big[k].t];
      shape_text(t, buf, sizeof buf);
      fprintf(out, "  %-40s %-8s %-20s %12zu bytes\n", t->name, nn_dtype_name(t->dtype), buf,
              big[k].bytes);
    }
  }
done:
  cJSON_Delete(root);
  nn_session_free(s);
  free(ops);
  free(big);
  free(macs);
  return st;
}
