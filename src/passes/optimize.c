/*
 * optimize.c - the graph rewrites for execution that ONNX Runtime's default level also
 * makes: constant folding, batch-norm folding, Conv + Relu/Clip fusion, LayerNorm and
 * GELU subgraphs fused into single ops, dead nodes.
 */
#include "passes/passes.h"

nn_status nn_model_optimize(nn_model *m) {
  int n;
  nn_status st;
  if ((st = nn_pass_fold_constants(m, &n)) || (st = nn_pass_fold_batchnorm(m, &n)) ||
      (st = nn_pass_fuse_conv_activation(m, &n)) || (st = nn_pass_fuse_transformer(m, &n)) ||
      (st = nn_pass_eliminate_dead(m, &n)))
    return st;
  return nn_graph_sort(m->graph);
}
