/*
 * calibrate.c - run the float model over a dataset and feed every float32 activation
 * into its observer (bounded memory: one fixed histogram per tensor, and for bias
 * correction one running sum per channel of each weighted layer's input).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quant/quantize.h"
#include "runtime/session.h"

typedef struct calib_ctx {
  nn_calib_result *r;
  const signed char *mean_axis; /* per tensor: channel axis to average over, -1: none */
  nn_status st;
} calib_ctx;

/* Sum v per channel along axis (-1: the last) into the tensor's running means. */
static void accumulate_means(calib_ctx *c, int t, const nn_value *v, int axis) {
  if (v->ndim < 2) return;
  if (axis < 0) axis = v->ndim - 1;
  int64_t C = v->dims[axis], inner = 1, outer = 1;
  for (int d = axis + 1; d < v->ndim; d++) inner *= v->dims[d];
  for (int d = 0; d < axis; d++) outer *= v->dims[d];
  nn_channel_mean *cm = c->r->means[t];
  if (!cm) {
    cm = c->r->means[t] = calloc(1, sizeof *cm);
    if (cm) cm->sum = calloc((size_t)C + 1, sizeof *cm->sum);
    if (!cm || !cm->sum) {
      c->st = nn_errorf(NN_ERR_NOMEM, "out of memory for calibration statistics");
      return;
    }
    cm->channels = C;
  }
  if (cm->channels != C) return; /* a layer whose channel count varies: left alone */
  const float *x = v->data;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t ch = 0; ch < C; ch++) {
      const float *p = x + (o * C + ch) * inner;
      double s = 0;
      for (int64_t k = 0; k < inner; k++) s += p[k];
      cm->sum[ch] += s;
    }
  cm->per_channel += outer * inner;
  cm->ndim = v->ndim;
  memcpy(cm->dims, v->dims, sizeof cm->dims);
}

static void observe(void *user, int t, const nn_value *v) {
  calib_ctx *c = user;
  if (c->st || v->dtype != NN_FLOAT || !v->data || t < 0 || t >= c->r->n_tensors) return;
  if (c->mean_axis && c->mean_axis[t] != -2) accumulate_means(c, t, v, c->mean_axis[t]);
  nn_observer *o = c->r->observers[t];
  if (!o) {
    o = c->r->observers[t] = malloc(sizeof *o);
    if (!o) {
      c->st = nn_errorf(NN_ERR_NOMEM, "out of memory for calibration statistics");
      return;
    }
    nn_observer_init(o);
  }
  nn_observer_update(o, v->data, nn_value_numel(v));
}

/* NaN or Inf in calibration data would poison every range downstream (and a histogram
 * cannot place them): refused, naming the sample and input. */
static nn_status check_finite(const nn_array *a, int64_t sample, const char *name) {
  if (a->dtype != NN_FLOAT) return NN_OK;
  const float *x = a->data;
  int64_t n = (int64_t)(a->nbytes / sizeof *x);
  for (int64_t j = 0; j < n; j++)
    if (!isfinite(x[j]))
      return nn_errorf(NN_ERR_INVALID,
                       "calibration sample %lld, input '%s': element %lld is %s; calibration "
                       "data must be finite",
                       (long long)sample, name, (long long)j, isnan(x[j]) ? "NaN" : "Inf");
  return NN_OK;
}

/* Finite inputs can still make NaN inside the model (0/0, log of a negative): the
 * tensor and its producer are named. Infinities are allowed: masked attention adds
 * -inf on purpose, and the observers clamp them to the histogram's range. */
static nn_status check_activations(const nn_graph *g, const nn_calib_result *r) {
  /* Nodes in graph order: the first NaN output is where the NaNs start. */
  for (int i = 0; i < g->n_nodes; i++)
    for (int k = 0; k < g->nodes[i].n_outputs; k++) {
      int t = g->nodes[i].outputs[k];
      if (t < 0 || t >= r->n_tensors || !r->observers[t] || !r->observers[t]->nan_count)
        continue;
      char label[256];
      nn_node_label(g, i, label, sizeof label);
      return nn_errorf(NN_ERR_INVALID,
                       "tensor '%s' (output of %s) has NaN values on the calibration data; "
                       "no range can be chosen for it",
                       g->tensors[t].name, label);
    }
  return NN_OK;
}

int nn_dataset_input_slot(const nn_session *s, const nn_dataset *ds, int k) {
  const char *dn = nn_dataset_input_name(ds, k);
  for (int j = 0; j < nn_session_input_count(s); j++)
    if (dn && !strcmp(dn, nn_session_input_name(s, j))) return j;
  return k < nn_session_input_count(s) ? k : -1;
}

nn_status nn_calib_sample_count(const nn_dataset *ds, int64_t limit, int64_t *total) {
  *total = nn_dataset_count(ds);
  if (limit > 0 && limit < *total) *total = limit;
  return *total > 0 ? NN_OK : nn_errorf(NN_ERR_INVALID, "the calibration dataset is empty");
}

nn_status nn_run_dataset_sample(nn_session *s, nn_dataset *ds, int64_t i, int finite,
                                nn_array *label) {
  const char *names[NN_SAMPLE_MAX_INPUTS];
  nn_array arrays[NN_SAMPLE_MAX_INPUTS];
  nn_batch b;
  nn_status st = nn_dataset_get(ds, i, 1, &b);
  if (st) return st;
  int n = 0;
  for (int k = 0; k < b.count && !st; k++) {
    int slot = nn_dataset_input_slot(s, ds, k);
    if (slot < 0) continue;
    if (n == NN_SAMPLE_MAX_INPUTS) {
      st = nn_errorf(NN_ERR_UNSUPPORTED, "sample %lld: more than %d model inputs",
                     (long long)i, NN_SAMPLE_MAX_INPUTS);
      break;
    }
    nn_dtype want;
    const char *name = nn_session_input_name(s, slot);
    nn_session_input_info(s, slot, &want, NULL, NULL);
    if ((st = nn_array_convert(&b.inputs[k], want, name))) break;
    if (finite && (st = check_finite(&b.inputs[k], i, name))) break;
    names[n] = name;
    arrays[n++] = b.inputs[k];
  }
  if (!st) st = nn_session_run(s, n, names, arrays);
  if (!st && label) {
    *label = b.label;
    memset(&b.label, 0, sizeof b.label);
  }
  nn_batch_release(&b);
  return st;
}

/* Which tensors get per-channel means: the float input of Conv (channel axis 1), Gemm
 * (transA 0) and MatMul (last axis) with a constant weight. -2: none. */
static signed char *mean_axes(const nn_graph *g) {
  signed char *ax = malloc((size_t)g->n_tensors + 1);
  if (!ax) return NULL;
  memset(ax, -2, (size_t)g->n_tensors + 1);
  for (int i = 0; i < g->n_nodes; i++) {
    const nn_node *n = &g->nodes[i];
    if (n->n_inputs < 2 || n->inputs[0] < 0 || n->inputs[1] < 0) continue;
    if (!g->tensors[n->inputs[1]].data) continue;
    if (!strcmp(n->op_type, "Conv")) ax[n->inputs[0]] = 1;
    else if ((!strcmp(n->op_type, "Gemm") && !nn_attr_int(n, "transA", 0)) ||
             !strcmp(n->op_type, "MatMul"))
      ax[n->inputs[0]] = -1;
  }
  return ax;
}

nn_status nn_calibrate(const nn_model *m, nn_dataset *ds, const nn_calib_config *cfg,
                       nn_calib_result *out) {
  nn_status st = NN_OK;
  nn_session *s = NULL;
  signed char *axes = NULL;
  memset(out, 0, sizeof *out);
  out->n_tensors = m->graph->n_tensors;
  out->observers = calloc((size_t)out->n_tensors + 1, sizeof *out->observers);
  if (!out->observers) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  if (cfg && cfg->channel_means) {
    out->means = calloc((size_t)out->n_tensors + 1, sizeof *out->means);
    axes = mean_axes(m->graph);
    if (!out->means || !axes) {
      free(axes);
      nn_calib_result_free(out);
      return nn_errorf(NN_ERR_NOMEM, "out of memory");
    }
  }
  /* No packed copies of the weights: calibration memory stays near the model size. */
  if ((st = nn_session_create_flags(m, NULL, NN_SESSION_NO_PREPACK | NN_SESSION_AS_WRITTEN, &s))) {
    free(axes);
    nn_calib_result_free(out);
    return st;
  }
  calib_ctx ctx = {out, axes, NN_OK};
  nn_session_set_observer(s, observe, &ctx);
  int64_t total;
  NN_TRY(nn_calib_sample_count(ds, cfg ? cfg->limit : 0, &total));
  for (int64_t i = 0; i < total; i++) {
    NN_TRY(nn_run_dataset_sample(s, ds, i, 1, NULL));
    if (ctx.st) {
      st = ctx.st;
      goto done;
    }
    out->samples++;
    if (cfg && cfg->progress) cfg->progress(cfg->user, i + 1, total);
  }
  st = check_activations(m->graph, out);
done:
  free(axes);
  nn_session_free(s);
  if (st) nn_calib_result_free(out);
  return st;
}

void nn_calib_result_free(nn_calib_result *r) {
  if (r->observers)
    for (int t = 0; t < r->n_tensors; t++) free(r->observers[t]);
  if (r->means)
    for (int t = 0; t < r->n_tensors; t++)
      if (r->means[t]) {
        free(r->means[t]->sum);
        free(r->means[t]);
      }
  free(r->means);
  free(r->observers);
  memset(r, 0, sizeof *r);
}

nn_status nn_calib_ranges(const nn_calib_result *r, const nn_calib_options *opt,
                          nn_tensor_range *ranges) {
  for (int t = 0; t < r->n_tensors; t++) {
    ranges[t].valid = 0;
    if (!r->observers[t] || !r->observers[t]->count) continue;
    nn_status st = nn_observer_range(r->observers[t], opt, &ranges[t].lo, &ranges[t].hi);
    if (st) return st;
    ranges[t].valid = 1;
  }
  return NN_OK;
}
