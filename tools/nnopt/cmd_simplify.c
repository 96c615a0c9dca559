/*
 * cmd_simplify.c - `nnopt simplify IN -o OUT`: fold constants and batch norms, remove dead nodes,
 * record inferred shapes, and save (atomically; never over the input unless named).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "core/graph.h"
#include "passes/passes.h"

int cmd_simplify(int argc, char **argv) {
  const char *in = NULL, *out = NULL;
  int fold = 1, dce = 1, shapes = 1, lower = 0, fuse = 0;
  for (int i = 1; i < argc; i++) {
    if ((!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) && i + 1 < argc)
      out = argv[++i];
    else if (!strcmp(argv[i], "--no-fold"))
      fold = 0;
    else if (!strcmp(argv[i], "--no-dce"))
      dce = 0;
    else if (!strcmp(argv[i], "--no-shapes"))
      shapes = 0;
    else if (!strcmp(argv[i], "--lower-qdq"))
      lower = 1;
    else if (!strcmp(argv[i], "--fuse"))
      fuse = 1;
    else if (argv[i][0] == '-')
      return cli_usage("simplify", "unknown option '%s'", argv[i]);
    else if (!in)
      in = argv[i];
    else
      return cli_usage("simplify", "unexpected argument '%s'", argv[i]);
  }
  if (!in || !out) return cli_usage("simplify", "usage: nnopt simplify IN.onnx -o OUT.onnx");
  nn_model *m = NULL;
  int folded = 0, removed = 0, typed = 0, bn = 0, lowered = 0, acts = 0, blocks = 0;
  nn_status st = nn_model_load(in, &m);
  int before = st ? 0 : m->graph->n_nodes;
  /* Lowering first: folding would turn DequantizeLinear(int8 weight) into floats. */
  if (!st && lower) st = nn_pass_lower_qdq(m, &lowered);
  if (!st && fold) st = nn_pass_fold_constants(m, &folded);
  if (!st && fold) st = nn_pass_fold_batchnorm(m, &bn);
  /* Execution fusions (as nn_model_optimize): com.microsoft FusedConv, LayerNorm, Gelu. */
  if (!st && fuse) st = nn_pass_fuse_conv_activation(m, &acts);
  if (!st && fuse) st = nn_pass_fuse_transformer(m, &blocks);
  if (!st && dce) st = nn_pass_eliminate_dead(m, &removed);
  if (!st && shapes) st = nn_pass_infer_shapes(m, &typed);
  nn_save_options opt = {0};
  opt.allow_overwrite_input = !strcmp(in, out); /* named explicitly as the output */
  if (!st) st = nn_model_save(m, out, &opt);
  if (!st)
    printf("%s: %d nodes -> %d (%d folded, %d batch norms folded, %d QDQ patterns lowered, "
           "%d activations and %d LayerNorm/GELU subgraphs fused, %d dead removed), %d shapes "
           "recorded\n",
           out, before, m->graph->n_nodes, folded, bn, lowered, acts, blocks, removed, typed);
  nn_model_free(m);
  return st ? cli_fail(st) : CLI_OK;
}
