/*
 * passes.h - graph transformations. Each pass is one file, takes a model and rewrites
 * its main graph in place, and reports what it changed.
 */
#ifndef NN_PASSES_PASSES_H
#define NN_PASSES_PASSES_H

#include "core/graph.h"

/* Record inferred dtypes and shapes of intermediate tensors in the IR (saved as
 * value_info). Dims are recorded only when every model input shape is static; with
 * symbolic inputs only dtype and rank are. *n_tensors: tensors updated. */
nn_status nn_pass_infer_shapes(nn_model *m, int *n_tensors);

/* Evaluate nodes whose inputs are all constant (initializers, Constant nodes, and
 * their folded results) and replace them by initializers. Outputs much larger than
 * their inputs (ConstantOfShape, Expand, Tile of small constants) stay computed at
 * run time unless a folded consumer needs them. *n_folded: nodes removed. */
nn_status nn_pass_fold_constants(nn_model *m, int *n_folded);

/* Remove nodes none of whose outputs are used (by nodes, subgraphs or graph outputs)
 * and initializers nothing uses. *n_removed: nodes removed. */
nn_status nn_pass_eliminate_dead(nn_model *m, int *n_removed);

/* Fold inference-mode BatchNormalization into the preceding Conv, ConvTranspose or
 * Gemm (float32 constants, the conv output read only by the BN). */
nn_status nn_pass_fold_batchnorm(nn_model *m, int *n_folded);

/* Fold a Relu or Clip (constant bounds) that alone reads a float32 Conv's output into
 * the Conv, which becomes a com.microsoft FusedConv (ONNX Runtime's contrib op) that
 * clamps in its kernels' epilogue. *n_fused: activations removed. */
nn_status nn_pass_fuse_conv_activation(nn_model *m, int *n_fused);

/* Replace QDQ patterns by integer ops (QLinearConv, QLinearMatMul, QLinearAdd, and
 * data movement on quantized tensors) so the runtime executes them in integers.
 * *n_lowered: patterns replaced. */
nn_status nn_pass_lower_qdq(nn_model *m, int *n_lowered);

/* Cross-layer equalization (data-free): rescale Conv -> [Relu] -> Conv channel pairs so
 * their float32 weight ranges match; the float function is unchanged. Pairs across a
 * Clip with a finite bound (ReLU6) are skipped. *n_pairs: pairs rescaled. */
nn_status nn_pass_equalize(nn_model *m, int iterations, int *n_pairs);

#endif
