/*
 * graph_builder.h - small helpers the pass tests use to build float graphs in memory:
 * an empty model, a one-output node, a declared float input/output, a float initializer.
 */
#ifndef NNOPT_TESTS_GRAPH_BUILDER_H
#define NNOPT_TESTS_GRAPH_BUILDER_H

#include <stdlib.h>
#include <string.h>

#include "core/graph.h"

/* An empty model (IR version ir) importing the default domain at opset. */
static inline nn_model *new_model(int64_t ir, int64_t opset) {
  nn_model *m = nn_model_new();
  m->ir_version = ir;
  m->n_opsets = 1;
  m->opsets = calloc(1, sizeof *m->opsets);
  m->opsets[0].domain = strdup("");
  m->opsets[0].version = opset;
  return m;
}

/* A node with one output; inputs and the output are interned by name. */
static inline int node(nn_graph *g, const char *op, const char *name, int n_in,
                       const char **in, const char *out) {
  int ii[8];
  for (int k = 0; k < n_in; k++) ii[k] = nn_graph_intern(g, in[k]);
  int o = nn_graph_intern(g, out);
  return nn_graph_add_node(g, op, "", name, n_in, ii, 1, &o);
}

/* Declare a float32 graph input (input != 0) or output with a static shape. */
static inline void io(nn_graph *g, const char *name, int input, int ndim, const int64_t *dims) {
  int t = nn_graph_intern(g, name);
  nn_tensor *tt = &g->tensors[t];
  tt->dtype = NN_FLOAT;
  tt->ndim = ndim;
  memcpy(tt->dims, dims, (size_t)ndim * sizeof *dims);
  tt->flags |= (input ? NN_T_INPUT : NN_T_OUTPUT) | NN_T_SHAPE_KNOWN;
  if (input)
    nn_graph_list_push(&g->inputs, &g->n_inputs, t);
  else
    nn_graph_list_push(&g->outputs, &g->n_outputs, t);
}

/* Make name a float32 initializer holding v (ownership passes to the graph). */
static inline void f32_initializer(nn_graph *g, const char *name, int ndim,
                                   const int64_t *dims, float *v) {
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) n *= dims[d];
  int t = nn_graph_intern(g, name);
  nn_tensor *tt = &g->tensors[t];
  tt->dtype = NN_FLOAT;
  tt->ndim = ndim;
  memcpy(tt->dims, dims, (size_t)ndim * sizeof *dims);
  tt->data = v;
  tt->nbytes = (size_t)n * sizeof *v;
  tt->flags = NN_T_INITIALIZER;
  nn_graph_list_push(&g->inits, &g->n_inits, t);
}

#endif
