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

/* Fold into a float32 Conv what alone reads its output: a residual Add of a tensor Z
 * of the output's shape, then a Relu or Clip (constant bounds). The Conv becomes a
 * com.microsoft FusedConv (ONNX Runtime's contrib op, Z as its 4th input) that adds and
 * clamps in its kernels' epilogue. *n_fused: nodes removed. */
nn_status nn_pass_fuse_conv_activation(nn_model *m, int *n_fused);

/* Fuse the LayerNorm and GELU subgraphs exporters decompose below opset 17 into
 * com.microsoft LayerNormalization / Gelu (fuse_transformer.c). *n_fused: subgraphs. */
nn_status nn_pass_fuse_transformer(nn_model *m, int *n_fused);

/* Replace QDQ patterns by integer ops (QLinearConv, QLinearMatMul, QLinearAdd, and
 * data movement on quantized tensors) so the runtime executes them in integers.
 * *n_lowered: patterns replaced. */
nn_status nn_pass_lower_qdq(nn_model *m, int *n_lowered);

/* Chains of convolutions become channel-last com.nnopt ops, with layout changes at the
 * chain's edges (nhwc.c): what = NN_NHWC_Q8 (lowered QLinearConv chains, with the
 * MaxPool, QLinearAdd, Max and classifier head on their outputs) and / or NN_NHWC_F32
 * (float32 Conv / FusedConv chains with Add, Relu, Clip and GlobalAveragePool).
 * *n_changed: nodes moved to channel-last. With NN_NHWC_DRY the graph is left as it is
 * (only the use maps are rebuilt). */
#define NN_NHWC_Q8 1u
#define NN_NHWC_F32 2u
#define NN_NHWC_DRY 4u /* only count the convolution-chain nodes that would move */
#define NN_NHWC_ALL 8u /* every chain, whatever its size and channels (NNOPT_*_LAYOUT=nhwc) */
/* 8-bit chains convert whatever their size and channels: for levels whose planar 8-bit
 * kernels are the slower ones even there (AVX2: U-Net small INT8 18.8 -> 11.6 ms). */
#define NN_NHWC_Q8_ANY 16u
nn_status nn_pass_nhwc(nn_model *m, unsigned what, int *n_changed);

/* Cross-layer equalization (data-free): rescale Conv -> [Relu] -> Conv channel pairs so
 * their float32 weight ranges match; the float function is unchanged. Pairs across a
 * Clip with a finite bound (ReLU6) are skipped. *n_pairs: pairs rescaled. */
nn_status nn_pass_equalize(nn_model *m, int iterations, int *n_pairs);

/* Empirical bias correction (Nagel et al. 2019; AIMET's empirical variant) on a QDQ
 * graph: for each ref whose node (Conv, or Gemm with transA 0 and alpha = beta = 1)
 * now reads an int8 weight through DequantizeLinear, the expected output shift
 * (Wq - W) E[x] is subtracted from its bias (a bias is added when absent). Conv uses
 * one mean per input channel, weighted per kernel tap by the share of output positions
 * where the tap reads inside the input (padding reads zeros). MatMul (no bias) is left
 * alone. *n_corrected: layers whose bias changed. */
struct nn_channel_mean;
typedef struct nn_bias_correction_ref {
  const char *node;                   /* the layer's node name */
  const float *weight;                /* its float32 weight before quantization */
  int64_t numel;
  const struct nn_channel_mean *mean; /* per-channel mean of its input (calibration) */
} nn_bias_correction_ref;
nn_status nn_pass_bias_correct(nn_model *m, const nn_bias_correction_ref *refs, int n_refs,
                               int *n_corrected);

#endif
