/*
 * bias_correct.c - empirical bias correction (Nagel et al. 2019, "Data-Free
 * Quantization Through Weight Equalization and Bias Correction"; AIMET's empirical
 * variant) on a QDQ graph: a quantized weight shifts a layer's expected output by
 * (Wq - W) E[x]; that shift is subtracted from the layer's bias.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"
#include "quant/quantize.h"

static int producer_of(const nn_graph *g, int t) {
  for (int i = 0; i < g->n_nodes; i++)
    for (int k = 0; k < g->nodes[i].n_outputs; k++)
      if (g->nodes[i].outputs[k] == t) return i;
  return -1;
}

static int find_node(const nn_graph *g, const char *name) {
  for (int i = 0; i < g->n_nodes; i++)
    if (g->nodes[i].name && !strcmp(g->nodes[i].name, name)) return i;
  return -1;
}

/* A DequantizeLinear of a constant int8 / int32 tensor: its scale and values. */
typedef struct dq_const {
  int node, q, scale, axis;
  int64_t numel, n_scales;
} dq_const;

static int as_dq_const(const nn_graph *g, int t, nn_dtype want, dq_const *d) {
  int p = t >= 0 ? producer_of(g, t) : -1;
  if (p < 0 || strcmp(g->nodes[p].op_type, "DequantizeLinear") || g->nodes[p].n_inputs < 2)
    return 0;
  const nn_node *n = &g->nodes[p];
  int q = n->inputs[0], s = n->inputs[1];
  if (q < 0 || s < 0 || !g->tensors[q].data || !g->tensors[s].data) return 0;
  if (g->tensors[q].dtype != want || g->tensors[s].dtype != NN_FLOAT) return 0;
  if (n->n_inputs > 2 && n->inputs[2] >= 0) { /* zero point: must be all 0 */
    const nn_tensor *z = &g->tensors[n->inputs[2]];
    if (!z->data) return 0;
    for (size_t b = 0; b < z->nbytes; b++)
      if (((const uint8_t *)z->data)[b]) return 0;
  }
  d->node = p;
  d->q = q;
  d->scale = s;
  d->numel = nn_tensor_numel(&g->tensors[q]);
  d->n_scales = nn_tensor_numel(&g->tensors[s]);
  d->axis = (int)nn_attr_int(n, "axis", 1);
  if (d->axis < 0) d->axis += g->tensors[q].ndim;
  return d->numel > 0 && d->n_scales > 0;
}

/* Fraction of a Conv's output positions at which kernel tap k of spatial dim d reads
 * inside the input (the rest read padding zeros, whose mean is 0, not E[x]). */
static double tap_fraction(const nn_node *n, int d, int nsp, int64_t in, int64_t K, int64_t k) {
  const int64_t *v;
  int64_t stride = nn_attr_ints(n, "strides", &v) == nsp ? v[d] : 1;
  int64_t dil = nn_attr_ints(n, "dilations", &v) == nsp ? v[d] : 1;
  int64_t pb = 0, pe = 0;
  if (nn_attr_ints(n, "pads", &v) == 2 * nsp) pb = v[d], pe = v[nsp + d];
  const char *ap = nn_attr_string(n, "auto_pad", "NOTSET");
  int64_t out;
  if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
    out = (in + stride - 1) / stride;
    int64_t total = (out - 1) * stride + dil * (K - 1) + 1 - in;
    if (total < 0) total = 0;
    pb = !strcmp(ap, "SAME_UPPER") ? total / 2 : total - total / 2;
  } else {
    if (!strcmp(ap, "VALID")) pb = pe = 0;
    out = (in + pb + pe - dil * (K - 1) - 1) / stride + 1;
  }
  if (out <= 0 || stride <= 0) return 1.0;
  int64_t inside = 0;
  for (int64_t o = 0; o < out; o++) {
    int64_t i = o * stride - pb + k * dil;
    inside += i >= 0 && i < in;
  }
  return (double)inside / (double)out;
}

/* shift[m] = sum (Wq - W)[m, ...] E[x] for one Conv or Gemm; 0 when shapes disagree. */
static int compute_shift(const nn_graph *g, const nn_node *n, const nn_tensor *wq_t,
                         const float *wq, const float *w, const nn_channel_mean *cm,
                         double *shift, int64_t *M_out) {
  int64_t numel = nn_tensor_numel(wq_t);
  double *mean = malloc((size_t)cm->channels * sizeof *mean);
  if (!mean || cm->per_channel <= 0) {
    free(mean);
    return 0;
  }
  for (int64_t c = 0; c < cm->channels; c++) mean[c] = cm->sum[c] / (double)cm->per_channel;
  int ok = 0;
  if (!strcmp(n->op_type, "Conv") && wq_t->ndim >= 3) {
    int64_t M = wq_t->dims[0], Cg = wq_t->dims[1], group = nn_attr_int(n, "group", 1);
    int nsp = wq_t->ndim - 2;
    int64_t taps = numel / (M * Cg);
    if (group > 0 && M % group == 0 && Cg * group == cm->channels) {
      /* Per-tap in-bounds fraction from the input's spatial shape seen in calibration. */
      double *frac = malloc((size_t)taps * sizeof *frac);
      if (frac) {
        for (int64_t t = 0; t < taps; t++) {
          double f = 1;
          int64_t r = t;
          for (int d = nsp - 1; d >= 0; d--) {
            int64_t K = wq_t->dims[2 + d], k = r % K;
            r /= K;
            if (cm->ndim == wq_t->ndim) f *= tap_fraction(n, d, nsp, cm->dims[2 + d], K, k);
          }
          frac[t] = f;
        }
        for (int64_t m = 0; m < M; m++) {
          int64_t g0 = (m / (M / group)) * Cg;
          double s = 0;
          for (int64_t c = 0; c < Cg; c++)
            for (int64_t t = 0; t < taps; t++) {
              int64_t j = (m * Cg + c) * taps + t;
              s += ((double)wq[j] - (double)w[j]) * mean[g0 + c] * frac[t];
            }
          shift[m] = s;
        }
        *M_out = M;
        ok = 1;
        free(frac);
      }
    }
  } else if (!strcmp(n->op_type, "Gemm") && wq_t->ndim == 2) {
    int tb = (int)nn_attr_int(n, "transB", 0);
    int64_t K = tb ? wq_t->dims[1] : wq_t->dims[0], N = tb ? wq_t->dims[0] : wq_t->dims[1];
    if (K == cm->channels) {
      for (int64_t o = 0; o < N; o++) {
        double s = 0;
        for (int64_t k = 0; k < K; k++) {
          int64_t j = tb ? o * K + k : k * N + o;
          s += ((double)wq[j] - (double)w[j]) * mean[k];
        }
        shift[o] = s;
      }
      *M_out = N;
      ok = 1;
    }
  }
  (void)g;
  free(mean);
  return ok;
}

/* Subtract shift from node i's bias (slot 2): an int32 bias behind DequantizeLinear is
 * requantized with its own scale, a float one is replaced by a corrected private copy,
 * and a missing one is added (int32 behind DequantizeLinear when the input and weight
 * scales are known, as the QDQ pass writes biases, else float). */
static nn_status apply_shift(nn_graph *g, int i, const double *shift, int64_t M,
                             const dq_const *wdq) {
  nn_node *n = &g->nodes[i];
  int bt = n->n_inputs > 2 ? n->inputs[2] : -1;
  dq_const bdq;
  if (bt >= 0 && as_dq_const(g, bt, NN_INT32, &bdq) && bdq.numel == M &&
      (bdq.n_scales == 1 || bdq.n_scales == M)) {
    int32_t *q = g->tensors[bdq.q].data;
    const float *sc = g->tensors[bdq.scale].data;
    for (int64_t m = 0; m < M; m++) {
      double s = sc[bdq.n_scales == 1 ? 0 : m];
      double v = nearbyint(((double)q[m] * s - shift[m]) / s);
      q[m] = (int32_t)(v > INT32_MAX ? INT32_MAX : v < -INT32_MAX ? -INT32_MAX : v);
    }
    return NN_OK;
  }
  if (bt >= 0 && (g->tensors[bt].dtype != NN_FLOAT || !g->tensors[bt].data ||
                  nn_tensor_numel(&g->tensors[bt]) != M))
    return NN_ERR_UNSUPPORTED; /* not a constant float bias: left alone */
  float *b = malloc((size_t)M * sizeof *b);
  if (!b) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  for (int64_t m = 0; m < M; m++)
    b[m] = (float)((bt >= 0 ? (double)((const float *)g->tensors[bt].data)[m] : 0.0) - shift[m]);
  /* A new bias without a quantized input scale stays float; ONNX Runtime and the QDQ
   * lowering both accept a float bias on a QDQ Conv/Gemm. */
  const char *base = bt >= 0 ? g->tensors[bt].name : n->name ? n->name : "bias";
  char *nm = malloc(strlen(base) + 16);
  if (!nm) {
    free(b);
    return nn_errorf(NN_ERR_NOMEM, "out of memory");
  }
  strcpy(nm, base);
  strcat(nm, bt >= 0 ? "_corrected" : "_bias_corrected");
  int nt = nn_graph_add_initializer(g, nm, NN_FLOAT, 1, &M, b);
  free(nm);
  if (nt < 0) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  n = &g->nodes[i];
  if (n->n_inputs < 3) {
    int *in = realloc(n->inputs, 3 * sizeof *in);
    if (!in) return nn_errorf(NN_ERR_NOMEM, "out of memory");
    n->inputs = in;
    for (int k = n->n_inputs; k < 3; k++) in[k] = -1;
    n->n_inputs = 3;
  }
  n->inputs[2] = nt;
  (void)wdq;
  return NN_OK;
}

nn_status nn_pass_bias_correct(nn_model *m, const nn_bias_correction_ref *refs, int n_refs,
                               int *n_corrected) {
  nn_graph *g = m->graph;
  nn_status st = NN_OK;
  int count = 0;
  double *shift = NULL;
  float *wq = NULL;
  for (int r = 0; r < n_refs; r++) {
    const nn_bias_correction_ref *ref = &refs[r];
    int i = ref->node ? find_node(g, ref->node) : -1;
    if (i < 0 || !ref->mean || !ref->weight) continue;
    const nn_node *n = &g->nodes[i];
    if (strcmp(n->op_type, "Conv") && strcmp(n->op_type, "Gemm")) continue;
    if (!strcmp(n->op_type, "Gemm") &&
        (nn_attr_int(n, "transA", 0) || nn_attr_float(n, "alpha", 1) != 1 ||
         nn_attr_float(n, "beta", 1) != 1))
      continue;
    dq_const wdq;
    if (n->n_inputs < 2 || !as_dq_const(g, n->inputs[1], NN_INT8, &wdq) ||
        wdq.numel != ref->numel)
      continue; /* weight not quantized: nothing to correct */
    const nn_tensor *qt = &g->tensors[wdq.q];
    const int8_t *q = qt->data;
    const float *sc = g->tensors[wdq.scale].data;
    int64_t C = wdq.n_scales > 1 ? qt->dims[wdq.axis] : 1, inner = 1;
    if (wdq.n_scales > 1 && C != wdq.n_scales) continue;
    for (int d = wdq.axis + 1; wdq.n_scales > 1 && d < qt->ndim; d++) inner *= qt->dims[d];
    free(wq);
    free(shift);
    wq = malloc((size_t)wdq.numel * sizeof *wq);
    shift = calloc((size_t)wdq.numel + 1, sizeof *shift);
    if (!wq || !shift) {
      st = nn_errorf(NN_ERR_NOMEM, "out of memory");
      goto done;
    }
    for (int64_t j = 0; j < wdq.numel; j++)
      wq[j] = (float)q[j] * sc[wdq.n_scales > 1 ? (j / inner) % C : 0];
    int64_t M = 0;
    if (!compute_shift(g, n, qt, wq, ref->weight, ref->mean, shift, &M)) continue;
    nn_status a = apply_shift(g, i, shift, M, &wdq);
    if (a == NN_ERR_UNSUPPORTED) continue;
    if (a) {
      st = a;
      goto done;
    }
    count++;
  }
done:
  free(wq);
  free(shift);
  if (n_corrected) *n_corrected = count;
  return st;
}
