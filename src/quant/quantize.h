/*
 * quantize.h - static post-training quantization: calibration over a dataset, then
 * a QDQ rewrite of the graph (QuantizeLinear/DequantizeLinear around int8 weights and
 * calibrated activations) that ONNX Runtime runs with its integer kernels, and a
 * lowering of QDQ patterns to integer ops (QLinearConv, QLinearMatMul, QLinearAdd)
 * for nnopt's own runtime.
 */
#ifndef NN_QUANT_QUANTIZE_H
#define NN_QUANT_QUANTIZE_H

#include "core/graph.h"
#include "quant/observer.h"
#include "quant/qparams.h"

/* Calibrated range of one tensor. */
typedef struct nn_tensor_range {
  float lo, hi;
  int valid;
} nn_tensor_range;

/* Per-channel mean of one tensor (the input of a weighted layer), for bias correction:
 * channel axis 1 for Conv inputs, the last axis for Gemm/MatMul inputs. */
typedef struct nn_channel_mean {
  int64_t channels;
  double *sum;          /* per channel, over all values seen */
  int64_t per_channel;  /* values summed per channel */
  int ndim;             /* shape of the last value seen (spatial dims for padding) */
  int64_t dims[NN_MAX_DIMS];
} nn_channel_mean;

typedef struct nn_calib_result {
  int n_tensors;           /* = graph tensors when calibrated */
  nn_observer **observers; /* per tensor, NULL when not observed */
  nn_channel_mean **means; /* per tensor, when cfg->channel_means; NULL otherwise */
  int64_t samples;
} nn_calib_result;

typedef struct nn_calib_config {
  int64_t limit; /* samples (0: all) */
  int channel_means; /* also collect per-channel means of weighted layers' inputs */
  void (*progress)(void *user, int64_t done, int64_t total);
  void *user;
} nn_calib_config;

/* Run sample i of ds through s: dataset arrays go to the session inputs of the same
 * name, else in order (extra arrays, e.g. token_type_ids, are skipped), converted to the
 * input's dtype. finite: refuse NaN/Inf input values, naming sample, input and element.
 * label (may be NULL) receives the sample's label (the caller releases it). */
#define NN_SAMPLE_MAX_INPUTS 16
struct nn_session;
/* Session input slot that dataset array k feeds: the input of the same name, else
 * input k; -1 when neither exists. */
int nn_dataset_input_slot(const struct nn_session *s, const nn_dataset *ds, int k);
/* Samples a calibration pass over ds uses (limit > 0 caps them); an error when none. */
nn_status nn_calib_sample_count(const nn_dataset *ds, int64_t limit, int64_t *total);
nn_status nn_run_dataset_sample(struct nn_session *s, nn_dataset *ds, int64_t i, int finite,
                                nn_array *label);

/* Run the float model over ds and observe every float32 tensor produced by a node or
 * fed as an input. */
nn_status nn_calibrate(const nn_model *m, nn_dataset *ds, const nn_calib_config *cfg,
                       nn_calib_result *out);
void nn_calib_result_free(nn_calib_result *r);
/* Ranges from the observers with the chosen method (ranges has n_tensors entries). */
nn_status nn_calib_ranges(const nn_calib_result *r, const nn_calib_options *opt,
                          nn_tensor_range *ranges);

typedef struct nn_quant_options {
  int per_channel;     /* weights per output channel (needs opset >= 13) */
  int act_signed;      /* 0: uint8 asymmetric activations; 1: int8 */
  int act_symmetric;   /* int8 activations with zero point 0 */
  int keep_first_last; /* keep the first and last weighted layers in float */
  int n_exclude;
  const char *const *exclude; /* node names or op types kept in float */
} nn_quant_options;

typedef struct nn_quant_report {
  int quantized_nodes; /* ops that now run on quantized inputs */
  int float_nodes;     /* quantizable ops kept in float (excluded or not calibrated) */
  int weights;         /* weight tensors stored as int8 */
  int bias_corrected;  /* layers whose bias absorbed the quantization shift */
  char *notes;         /* one line per op kept in float, with the reason (malloc'ed) */
} nn_quant_report;

/* Rewrite m's main graph to QDQ form using ranges (indexed by tensor). */
nn_status nn_quantize_qdq(nn_model *m, const nn_tensor_range *ranges,
                          const nn_quant_options *opt, nn_quant_report *rep);
void nn_quant_report_free(nn_quant_report *r);
/* Whether static QDQ quantization treats an op type as a unit of its own (weighted
 * ops, Add/Mul, Concat, pools, activations); data movement ops are not units. */
int nn_qdq_is_unit_op(const char *op_type);

/* Replace the constant float32 weight in input slot of node i by DequantizeLinear of
 * an int8 copy (symmetric; per channel along axis, per tensor when axis < 0). The
 * scales (one per channel) are returned in *scales (malloc'ed, *n of them). */
nn_status nn_qdq_weight(nn_graph *g, int i, int slot, int axis, float **scales, int64_t *n);
/* Output-channel axis of node n's weight w (Conv 0, ConvTranspose 1, Gemm by transB,
 * MatMul 1), or -1 for per-tensor (also when per_channel is 0 or opset < 13). */
int nn_qdq_weight_axis(const nn_node *n, const nn_tensor *w, int per_channel, int opset);

/* Weight-only compression: int8 weights behind DequantizeLinear (activations stay
 * float), or float16 weights behind Cast. Conv, ConvTranspose, Gemm and MatMul weights;
 * for fp16 every float32 initializer of 16 elements or more. */
typedef enum nn_weight_format { NN_WEIGHTS_INT8 = 0, NN_WEIGHTS_FP16 = 1 } nn_weight_format;
nn_status nn_quantize_weights_only(nn_model *m, nn_weight_format fmt,
                                   const nn_quant_options *opt, nn_quant_report *rep);
/* Store the float32 initializers (16 elements or more) read only by the named nodes as
 * float16 behind Cast: layers kept in float by mixed precision, at half the bytes.
 * *converted (may be NULL): initializers converted. */
nn_status nn_weights_to_fp16(nn_model *m, const char *const *nodes, int n_nodes,
                             int *converted);

/* Dynamic quantization: MatMul/Gemm with constant 2-D weights become
 * DynamicQuantizeLinear (one per distinct input, shared by e.g. Q/K/V) + com.microsoft
 * MatMulIntegerToFloat (int8 weights, the rescale and a following bias Add fused), the
 * form ONNX Runtime's quantizer writes and runs. Needs no calibration. opt: exclude
 * list only. */
nn_status nn_quantize_dynamic(nn_model *m, const nn_quant_options *opt, nn_quant_report *rep);

/* The whole static PTQ pipeline on m in place: preparation (constant folding, batch
 * norm folding, dead nodes), calibration over calib, ranges by calib_opt, QDQ rewrite. */
typedef struct nn_ptq_options {
  nn_calib_options calib;
  nn_calib_config config;
  nn_quant_options quant;
  int equalize; /* > 0: sweeps of cross-layer equalization before calibration */
  float smooth_alpha; /* > 0: SmoothQuant with this alpha before calibration */
  int bias_correction; /* empirical bias correction of quantized Conv/Gemm (means from
                          the calibration pass) */
} nn_ptq_options;
nn_status nn_ptq_static(nn_model *m, nn_dataset *calib, const nn_ptq_options *opt,
                        nn_quant_report *rep);

/* SmoothQuant (Xiao et al. 2023) on m's main graph in place: for each LayerNormalization
 * (constant float32 scale/bias, last axis) whose output feeds MatMul/Gemm (transA 0)
 * with constant float32 2-D weights, per channel k s_k = max|X_k|^alpha /
 * max|W_k,:|^(1-alpha) (clamped to [1e-5, 1e5]; max over all those readers' weights);
 * the LayerNorm's scale and bias are divided by s and the weights' rows multiplied by s,
 * so the float graph is unchanged. max|X_k| comes from running m over up to limit
 * samples of ds (0: all). Shared initializers get private copies; when the LayerNorm
 * output has other readers, the weighted readers get a private LayerNorm copy.
 * MatMuls not fed by a LayerNorm are left alone. *n_smoothed: MatMul/Gemm rescaled. */
nn_status nn_pass_smooth_quant(nn_model *m, nn_dataset *ds, int64_t limit, float alpha,
                               int *n_smoothed);

/* ---- Weight-only INT4, block-wise (gptq.c, passes/quantize_weights.c) ----
 * Layout of ONNX Runtime's com.microsoft MatMulNBits (bits 4): the weight as W = B^T
 * (N x K, one row per output), each row cut into ceil(K/block) blocks along K; block
 * codes packed two per byte, low nibble first (block/2 bytes, the padding past K holds
 * the code of 0); one float scale per block; zero points (asymmetric) packed two per
 * byte, low nibble first, ceil(blocks/2) bytes per row. w = (code - zp) * scale, zp = 8
 * when symmetric. Parameters follow ONNX Runtime's MLAS quantizer: asymmetric
 * scale = (max - min) / 15 over [min(min,0), max(max,0)], zp = round(-min / scale);
 * symmetric scale = -v / 8 with v the value of largest magnitude. */
void nn_int4_layout(int64_t K, int64_t block, int64_t *n_blocks, int64_t *blob,
                    int64_t *zp_bytes);
void nn_int4_block_params(const float *x, int64_t n, int symmetric, float *scale, int *zp);
/* Round to nearest: packed N*blocks*block/2 bytes, scales N*blocks, zps N*zp_bytes
 * (not written when symmetric). */
void nn_int4_quantize_rtn(const float *w, int64_t N, int64_t K, int64_t block, int symmetric,
                          uint8_t *packed, float *scales, uint8_t *zps);
/* Back to float (zps NULL: symmetric). */
void nn_int4_dequantize(const uint8_t *packed, const float *scales, const uint8_t *zps,
                        int64_t N, int64_t K, int64_t block, float *w);
/* GPTQ on w (N x K, updated in place) with the inputs' Hessian H (K x K, row-major;
 * dead inputs get H_kk = 1), damping damp * mean(diag H) (damp 0: 0.01): columns in
 * lazy batches of max(128, block), block parameters computed when a block starts from
 * the weights updated so far. Outputs as nn_int4_quantize_rtn. */
nn_status nn_gptq_quantize(float *w, int64_t N, int64_t K, double *H, int64_t block,
                           int symmetric, float damp, uint8_t *packed, float *scales,
                           uint8_t *zps);
/* Hessians H_i = 2 X_i^T X_i (every row of every observation of tensor i, whose last
 * dim is K[i]) over up to cfg->limit samples of ds; the caller owns all arrays
 * (H[i] holds K[i]^2 doubles, zeroed here). */
typedef struct nn_gptq_hessians {
  int n;
  const int *tensors;
  const int64_t *K;
  double **H;
  int64_t *rows;
  int64_t samples;
} nn_gptq_hessians;
nn_status nn_gptq_collect(const nn_model *m, nn_dataset *ds, const nn_calib_config *cfg,
                          nn_gptq_hessians *h);

/* MatMul and Gemm (transA 0, alpha 1, beta 1) with a constant float32 2-D weight become
 * com.microsoft MatMulNBits (bits 4, Gemm's C added back by an Add); with calib, the
 * weights are quantized with GPTQ from Hessians over calib. opt: exclude list. */
typedef struct nn_int4_options {
  int block_size;      /* power of two >= 16; 0: 32 */
  int symmetric;       /* no zero points */
  nn_dataset *calib;   /* non-NULL: GPTQ */
  nn_calib_config config;
  float damp;          /* 0: 0.01 */
} nn_int4_options;
nn_status nn_quantize_weights_int4(nn_model *m, const nn_int4_options *o,
                                   const nn_quant_options *opt, nn_quant_report *rep);

#endif
