/*
 * analyze.h - accuracy debugging for post-training quantization (`nnopt analyze`):
 *
 *  1. calibration representativeness: per quantized activation, the share of eval
 *     values the calibrated range clips (against the share it clips on the
 *     calibration data itself), the Jensen-Shannon divergence between the two
 *     histograms and the ratio of the observed extents; per eval sample and per class,
 *     how far outside the calibrated ranges it falls; whether the ranges have
 *     converged (first half of the calibration set against all of it);
 *  2. per-layer error: the float model and the QDQ model (run as float fake
 *     quantization, so every tensor keeps its name) side by side; per layer output,
 *     SQNR, cosine similarity and max error with every layer quantized ("total":
 *     introduced + inherited) and with only that layer quantized ("local": introduced
 *     by the layer alone, its inputs exact);
 *  3. sensitivity: the metric and the output SQNR with only one layer quantized and with
 *     all but one quantized, on the sensitivity subset; layers ranked;
 *  4. mixed precision: layers kept in float in ranking order (sensitivity per unit of
 *     measured float latency) until the metric drop meets the budget, each candidate
 *     verified by evaluating it with the integer runtime;
 *  5. verdict: the budget is met within the allowed float share, or quantization-aware
 *     training is recommended.
 *
 * A "layer" is a node that static quantization quantizes as one unit: Conv,
 * ConvTranspose, Gemm, MatMul (with a fused Relu/Clip), Add, Mul, Concat, pools.
 */
#ifndef NN_EVAL_ANALYZE_H
#define NN_EVAL_ANALYZE_H

#include <stdio.h>

#include "core/graph.h"
#include "quant/quantize.h"

typedef struct nn_analyze_options {
  nn_calib_options calib;  /* range method for the activations */
  nn_quant_options quant;  /* scheme (per-channel, activation type, exclusions) */
  int64_t calib_limit;     /* calibration samples (0: all) */
  int64_t eval_limit;      /* eval samples for the metric and mixed precision (0: all) */
  int64_t sens_limit;      /* eval samples for per-layer error and sensitivity */
  const char *metric;      /* metric name (nn_metric_create) */
  double max_drop;         /* metric budget in points (e.g. 0.3); < 0: no search */
  double max_float_share;  /* share of layers allowed in float (e.g. 0.10) */
  int calib_only;          /* stop after the representativeness check (step 1) */
  int float16;             /* layers kept out of INT8 store their weights as float16 */
  /* Representativeness thresholds: a tensor is flagged when eval clips more than
   * clip_excess (fraction of values) beyond what the calibration data itself clips,
   * when the histograms diverge by more than js_limit bits, or when the eval values
   * span more than extent_limit times the calibration values' extent. The calibration
   * set is called unrepresentative when more than flag_share of the tensors are
   * flagged. */
  double clip_excess, js_limit, extent_limit, flag_share;
  void (*progress)(void *user, const char *stage, int64_t done, int64_t total);
  void *user;
} nn_analyze_options;

void nn_analyze_defaults(nn_analyze_options *o);

typedef struct nn_an_tensor {
  char *name;
  float lo, hi;             /* calibrated range */
  double calib_clip;        /* fraction of calibration values outside [lo, hi] */
  double eval_clip;         /* fraction of eval values outside [lo, hi] */
  double js;                /* Jensen-Shannon divergence of the histograms (bits) */
  double extent_ratio;      /* eval observed (max - min) / calibration observed */
  double calib_drift;       /* range change from half to all calibration samples */
  int flagged;
} nn_an_tensor;

typedef struct nn_an_sample {
  int64_t index;  /* eval sample */
  int64_t label;  /* -1 when none */
  double score;   /* largest excess share of clipped values (over what the
                   * calibration data itself clips) in one tensor */
  int tensors;    /* tensors where it clips 1% more values than calibration does */
} nn_an_sample;

typedef struct nn_an_class {
  int64_t label;
  int64_t calib_samples, eval_samples;
  double eval_clip; /* mean share of quantized values clipped in this class's samples */
} nn_an_class;

typedef struct nn_an_layer {
  char *name, *op, *out_name;
  int64_t macs;
  double float_ms;                  /* measured float time per run */
  double sqnr, cosine, max_err;     /* all layers quantized (dB; total error) */
  double local_sqnr, local_cosine;  /* only this layer quantized (introduced error) */
  double only_metric, only_out_sqnr;     /* metric / output SQNR, only this quantized */
  double allbut_metric, allbut_out_sqnr; /* all but this one quantized */
  double score;                     /* ranking score (higher: more sensitive) */
  int rank;                         /* 1 = most sensitive */
  int kept_float;                   /* in the chosen mixed-precision model */
} nn_an_layer;

typedef struct nn_an_candidate {
  char *label;         /* "float", "int8", "int8 + 3 float layers", ... */
  int n_float;         /* layers kept in float (-1: the float model) */
  double float_share;  /* share of layers in float */
  double macs_share;   /* share of the MACs in float */
  double metric;
  int64_t samples;
  long long bytes;     /* serialized model size */
  double latency_ms;   /* median single-thread latency */
  int meets;           /* within the budget */
} nn_an_candidate;

typedef struct nn_analysis {
  char *model;          /* input path */
  char *metric;
  int64_t calib_samples, eval_samples, sens_samples;
  /* 1. representativeness */
  int n_tensors;
  nn_an_tensor *tensors;
  int n_flagged;
  int representative;
  int64_t outside_samples;  /* eval samples with a tensor clipping > 1% of values */
  int n_worst;
  nn_an_sample *worst;      /* eval samples furthest outside, worst first */
  int n_classes;
  nn_an_class *classes;
  int ranges_converged;     /* half vs full calibration ranges agree */
  char *calib_advice;       /* one paragraph */
  /* 2-3. layers, in graph order */
  int n_layers;
  nn_an_layer *layers;
  double float_sens_metric, int8_sens_metric; /* on the sensitivity subset */
  double int8_out_sqnr;
  /* 4. candidates tried, in order (float, int8, mixed ...) */
  int n_candidates;
  nn_an_candidate *candidates;
  int chosen;           /* index of the chosen candidate, -1 if none met the budget */
  double max_drop, max_float_share;
  /* 5. */
  int recommend_qat;
  char *verdict;
} nn_analysis;

/* Analyse m (float, not modified) with calibration data calib and evaluation data
 * eval (labelled). When out_model is non-NULL and a candidate meets the budget, the
 * chosen mixed-precision QDQ model is stored there (caller frees). */
nn_status nn_analyze(const nn_model *m, nn_dataset *calib, nn_dataset *eval,
                     const nn_analyze_options *opt, nn_analysis *out, nn_model **out_model);
void nn_analysis_free(nn_analysis *a);

/* Reports (analyze_report.c). */
void nn_analysis_print(const nn_analysis *a, FILE *f);
nn_status nn_analysis_write_json(const nn_analysis *a, const char *path);
/* Self-contained HTML (data inline, plots drawn as SVG by an inline script; no network). */
nn_status nn_analysis_write_html(const nn_analysis *a, const char *path);

/* Multiply-accumulates of node i of g from a planned session (inspect.c). */
struct nn_session;
int64_t nn_node_macs(const nn_graph *g, const struct nn_session *s, int i);

#endif
