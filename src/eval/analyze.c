/*
 * analyze.c - accuracy debugging for static INT8 quantization: calibration
 * representativeness, per-layer error, sensitivity, mixed precision within a metric
 * budget, and a verdict (see analyze.h).
 */
#include "eval/analyze.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/bench.h"
#include "ops/op.h"
#include "passes/passes.h"
#include "runtime/session.h"

#define MAX_INPUTS 16
#define JS_BINS 512
/* Float copies of every layer output for the local-error runs stay under this. */
#define LOCAL_BUDGET_BYTES ((size_t)256 << 20)

void nn_analyze_defaults(nn_analyze_options *o) {
  memset(o, 0, sizeof *o);
  o->calib.method = NN_CALIB_MINMAX;
  o->quant.per_channel = 1;
  o->calib_limit = 500;
  o->eval_limit = 2000;
  o->sens_limit = 200;
  o->metric = "top1";
  o->max_drop = 0.5;
  o->max_float_share = 0.10;
  o->clip_excess = 0.001;
  o->js_limit = 0.02;
  o->extent_limit = 1.5;
  o->flag_share = 0.10;
}

static double sqnr_db(double signal, double noise) {
  if (noise <= 0) return 200.0;
  if (signal <= 0) return -200.0;
  return 10.0 * log10(signal / noise);
}

static void progress(const nn_analyze_options *o, const char *stage, int64_t done,
                     int64_t total) {
  if (o->progress) o->progress(o->user, stage, done, total);
}

/* ---- models ---- */

static nn_status clone_model(const nn_model *m, nn_model **out) {
  void *buf = NULL;
  size_t len = 0;
  nn_status st = nn_model_save_buffer(m, &buf, &len);
  if (!st) st = nn_model_load_buffer(buf, len, m->dir, m->path, out);
  free(buf);
  return st;
}

static long long model_bytes(const nn_model *m) {
  void *buf = NULL;
  size_t len = 0;
  if (nn_model_save_buffer(m, &buf, &len)) return -1;
  free(buf);
  return (long long)len;
}

/* ---- samples held in memory, converted to the model's input dtypes ---- */

typedef struct sample_set {
  int64_t n;
  int nin;               /* arrays per sample that the model takes */
  const char *names[MAX_INPUTS];
  nn_array *in;          /* n * nin */
  int64_t *label;        /* n class ids (-1 when none or not an integer) */
  nn_array *label_arr;   /* n labels as read (for metrics) */
} sample_set;

static void samples_free(sample_set *ss) {
  for (int64_t i = 0; ss->in && i < ss->n * ss->nin; i++) nn_array_release(&ss->in[i]);
  for (int64_t i = 0; ss->label_arr && i < ss->n; i++) nn_array_release(&ss->label_arr[i]);
  for (int k = 0; k < ss->nin; k++) free((char *)ss->names[k]);
  free(ss->in);
  free(ss->label);
  free(ss->label_arr);
  memset(ss, 0, sizeof *ss);
}

static int64_t label_id(const nn_array *l) {
  if (!l->data || nn_array_numel(l) != 1) return -1;
  if (l->dtype == NN_INT64) return *(const int64_t *)l->data;
  if (l->dtype == NN_INT32) return *(const int32_t *)l->data;
  return -1;
}

static nn_status samples_load(nn_dataset *ds, int64_t limit, const nn_session *s,
                              sample_set *ss) {
  nn_status st = NN_OK;
  memset(ss, 0, sizeof *ss);
  int64_t n = nn_dataset_count(ds);
  if (limit > 0 && limit < n) n = limit;
  if (n <= 0) return nn_errorf(NN_ERR_INVALID, "the dataset is empty");
  int slots[MAX_INPUTS], nds = nn_dataset_input_count(ds);
  for (int k = 0; k < nds && k < MAX_INPUTS; k++) {
    slots[k] = nn_dataset_input_slot(s, ds, k);
    if (slots[k] >= 0) ss->names[ss->nin++] = nn_strdup(nn_session_input_name(s, slots[k]));
  }
  ss->in = calloc((size_t)(n * ss->nin) + 1, sizeof *ss->in);
  ss->label = malloc((size_t)n * sizeof *ss->label);
  ss->label_arr = calloc((size_t)n, sizeof *ss->label_arr);
  if (!ss->in || !ss->label || !ss->label_arr) {
    samples_free(ss);
    return nn_errorf(NN_ERR_NOMEM, "out of memory loading samples");
  }
  ss->n = n;
  for (int64_t i = 0; i < n; i++) {
    nn_batch b;
    NN_TRY(nn_dataset_get(ds, i, 1, &b));
    int j = 0;
    for (int k = 0; k < b.count && k < MAX_INPUTS; k++) {
      if (slots[k] < 0) continue;
      nn_dtype want;
      nn_session_input_info(s, slots[k], &want, NULL, NULL);
      st = nn_array_convert(&b.inputs[k], want, ss->names[j]);
      if (st) {
        nn_batch_release(&b);
        goto done;
      }
      ss->in[i * ss->nin + j++] = b.inputs[k];
      memset(&b.inputs[k], 0, sizeof b.inputs[k]);
    }
    ss->label_arr[i] = b.label;
    memset(&b.label, 0, sizeof b.label);
    ss->label[i] = label_id(&ss->label_arr[i]);
    nn_batch_release(&b);
  }
done:
  if (st) samples_free(ss);
  return st;
}

static nn_status run_sample(nn_session *s, const sample_set *ss, int64_t i) {
  return nn_session_run(s, ss->nin, ss->names, &ss->in[i * ss->nin]);
}

/* ---- 1. calibration representativeness ---- */

typedef struct watch_tensor {
  int t;        /* tensor in the prepared float graph */
  float lo, hi; /* clip range the QDQ model applies */
} watch_tensor;

typedef struct clip_pass {
  const watch_tensor *w;
  int nw;
  int *widx;            /* float-graph tensor -> watch index or -1 */
  uint64_t *count, *clipped;
  nn_observer *obs;     /* histograms per watched tensor */
  double *sample_frac;  /* clipped share per watched tensor in the current sample */
} clip_pass;

static void clip_observe(void *user, int t, const nn_value *v) {
  clip_pass *c = user;
  if (t < 0 || !v->data || v->dtype != NN_FLOAT) return;
  int k = c->widx[t];
  if (k < 0) return;
  const float *x = v->data;
  int64_t n = nn_value_numel(v);
  /* Values within half a step outside the range round to its ends: not clipped. */
  float half = (c->w[k].hi - c->w[k].lo) / 510.0f;
  float lo = c->w[k].lo - half, hi = c->w[k].hi + half;
  uint64_t cl = 0;
  for (int64_t i = 0; i < n; i++) cl += x[i] < lo || x[i] > hi;
  c->count[k] += (uint64_t)n;
  c->clipped[k] += cl;
  c->sample_frac[k] = n ? (double)cl / (double)n : 0;
  nn_observer_update(&c->obs[k], x, n);
}

static nn_status clip_pass_init(clip_pass *c, const watch_tensor *w, int nw, int n_tensors) {
  memset(c, 0, sizeof *c);
  c->w = w;
  c->nw = nw;
  c->widx = malloc(((size_t)n_tensors + 1) * sizeof *c->widx);
  c->count = calloc((size_t)nw + 1, sizeof *c->count);
  c->clipped = calloc((size_t)nw + 1, sizeof *c->clipped);
  c->obs = malloc(((size_t)nw + 1) * sizeof *c->obs);
  c->sample_frac = calloc((size_t)nw + 1, sizeof *c->sample_frac);
  if (!c->widx || !c->count || !c->clipped || !c->obs || !c->sample_frac)
    return nn_errorf(NN_ERR_NOMEM, "out of memory for calibration statistics");
  for (int t = 0; t < n_tensors; t++) c->widx[t] = -1;
  for (int k = 0; k < nw; k++) {
    c->widx[w[k].t] = k;
    nn_observer_init(&c->obs[k]);
  }
  return NN_OK;
}

static void clip_pass_free(clip_pass *c) {
  free(c->widx);
  free(c->count);
  free(c->clipped);
  free(c->obs);
  free(c->sample_frac);
  memset(c, 0, sizeof *c);
}

/* Histograms resampled onto one grid over both extents; Jensen-Shannon in bits. */
static double js_divergence(const nn_observer *a, const nn_observer *b) {
  double p[JS_BINS] = {0}, q[JS_BINS] = {0};
  double R = fmax(a->range, b->range);
  if (R <= 0 || !a->count || !b->count) return 0;
  const nn_observer *o[2] = {a, b};
  double *d[2] = {p, q};
  for (int s = 0; s < 2; s++) {
    double tot = 0;
    for (int i = 0; i < NN_OBS_BINS; i++) {
      if (!o[s]->hist[i]) continue;
      double c = -o[s]->range + (i + 0.5) * 2 * o[s]->range / NN_OBS_BINS;
      int j = (int)((c + R) / (2 * R) * JS_BINS);
      if (j < 0) j = 0;
      if (j >= JS_BINS) j = JS_BINS - 1;
      d[s][j] += (double)o[s]->hist[i];
      tot += (double)o[s]->hist[i];
    }
    if (tot <= 0) return 0;
    for (int j = 0; j < JS_BINS; j++) d[s][j] /= tot;
  }
  double js = 0;
  for (int j = 0; j < JS_BINS; j++) {
    double m = 0.5 * (p[j] + q[j]);
    if (p[j] > 0) js += 0.5 * p[j] * log2(p[j] / m);
    if (q[j] > 0) js += 0.5 * q[j] * log2(q[j] / m);
  }
  return js;
}

static int cmp_sample(const void *a, const void *b) {
  const nn_an_sample *x = a, *y = b;
  if (x->score != y->score) return x->score < y->score ? 1 : -1;
  return x->index < y->index ? -1 : x->index > y->index;
}

/* Quantized activations of the QDQ model q: inputs of QuantizeLinear that are not
 * initializers, mapped to the prepared graph g, with the range the QDQ clips to. */
static nn_status find_quantized_activations(const nn_model *q, const nn_graph *g,
                                            watch_tensor **out, int *n_out) {
  const nn_graph *qg = q->graph;
  watch_tensor *w = calloc((size_t)qg->n_nodes + 1, sizeof *w);
  int n = 0;
  if (!w) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  for (int i = 0; i < qg->n_nodes; i++) {
    const nn_node *nd = &qg->nodes[i];
    if (strcmp(nd->op_type, "QuantizeLinear") || nd->domain[0] || nd->n_inputs < 2) continue;
    const nn_tensor *x = &qg->tensors[nd->inputs[0]];
    if (x->data) continue;
    char name[512];
    snprintf(name, sizeof name, "%s", x->name);
    size_t len = strlen(name);
    int t = nn_graph_find(g, name);
    if (t < 0 && len > 6 && !strcmp(name + len - 6, "_float")) {
      name[len - 6] = 0;
      t = nn_graph_find(g, name);
    }
    if (t < 0) continue;
    const nn_tensor *sc = &qg->tensors[nd->inputs[1]];
    const nn_tensor *zp = nd->n_inputs > 2 && nd->inputs[2] >= 0 ? &qg->tensors[nd->inputs[2]] : NULL;
    if (!sc->data || sc->dtype != NN_FLOAT) continue;
    float s = *(const float *)sc->data;
    int z = 0, qmin = 0, qmax = 255;
    if (zp && zp->data && zp->dtype == NN_INT8) z = *(const int8_t *)zp->data, qmin = -128, qmax = 127;
    else if (zp && zp->data && zp->dtype == NN_UINT8) z = *(const uint8_t *)zp->data;
    w[n].t = t;
    w[n].lo = (float)(qmin - z) * s;
    w[n].hi = (float)(qmax - z) * s;
    n++;
  }
  *out = w;
  *n_out = n;
  return NN_OK;
}

typedef struct class_acc {
  int64_t label, calib, eval;
  double clip_sum;
} class_acc;

static class_acc *class_slot(class_acc *c, int *n, int64_t label) {
  for (int k = 0; k < *n; k++)
    if (c[k].label == label) return &c[k];
  if (*n >= 1024) return NULL;
  c[*n].label = label;
  return &c[(*n)++];
}

static nn_status representativeness(const nn_model *prep, const nn_model *qfull,
                                    nn_dataset *calib, const sample_set *ev,
                                    const nn_tensor_range *half, const nn_calib_result *cr,
                                    const nn_analyze_options *opt, nn_analysis *a) {
  nn_status st = NN_OK;
  watch_tensor *w = NULL;
  int nw = 0;
  clip_pass cp = {0}, ep = {0};
  nn_session *s = NULL;
  class_acc *cls = calloc(1024, sizeof *cls);
  int ncls = 0;
  if (!cls) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  NN_TRY(find_quantized_activations(qfull, prep->graph, &w, &nw));
  NN_TRY(nn_session_create_flags(prep, NULL, NN_SESSION_AS_WRITTEN, &s));
  NN_TRY(clip_pass_init(&cp, w, nw, prep->graph->n_tensors));
  NN_TRY(clip_pass_init(&ep, w, nw, prep->graph->n_tensors));
  /* Calibration data, streamed (it may be large). */
  nn_session_set_observer(s, clip_observe, &cp);
  int64_t nc = nn_dataset_count(calib);
  if (opt->calib_limit > 0 && opt->calib_limit < nc) nc = opt->calib_limit;
  for (int64_t i = 0; i < nc; i++) {
    nn_array label = {0};
    NN_TRY(nn_run_dataset_sample(s, calib, i, 0, &label));
    class_acc *c = label.dtype != NN_UNDEFINED ? class_slot(cls, &ncls, label_id(&label)) : NULL;
    if (c) c->calib++; /* class counts of the calibration set */
    nn_array_release(&label);
    progress(opt, "calibration coverage", i + 1, nc);
  }
  /* Eval samples, one by one, keeping per-sample scores. */
  a->n_worst = 0;
  a->worst = calloc((size_t)ev->n + 1, sizeof *a->worst);
  if (!a->worst) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  nn_session_set_observer(s, clip_observe, &ep);
  for (int64_t i = 0; i < ev->n; i++) {
    memset(ep.sample_frac, 0, (size_t)nw * sizeof *ep.sample_frac);
    NN_TRY(run_sample(s, ev, i));
    nn_an_sample *sm = &a->worst[i];
    sm->index = i;
    sm->label = ev->label[i];
    double mean = 0;
    for (int k = 0; k < nw; k++) {
      double f = ep.sample_frac[k];
      double own = cp.count[k] ? (double)cp.clipped[k] / (double)cp.count[k] : 0;
      mean += f;
      if (f - own > sm->score) sm->score = f - own;
      sm->tensors += f - own > 0.01;
    }
    mean = nw ? mean / nw : 0;
    a->outside_samples += sm->tensors > 0;
    class_acc *c = ev->label[i] >= 0 ? class_slot(cls, &ncls, ev->label[i]) : NULL;
    if (c) {
      c->eval++;
      c->clip_sum += mean;
    }
    progress(opt, "eval coverage", i + 1, ev->n);
  }
  qsort(a->worst, (size_t)ev->n, sizeof *a->worst, cmp_sample);
  a->n_worst = ev->n < 10 ? (int)ev->n : 10;
  /* Per tensor. */
  a->tensors = calloc((size_t)nw + 1, sizeof *a->tensors);
  if (!a->tensors) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  a->n_tensors = nw;
  int drifted = 0;
  for (int k = 0; k < nw; k++) {
    nn_an_tensor *t = &a->tensors[k];
    int ti = w[k].t;
    t->name = nn_strdup(prep->graph->tensors[ti].name);
    t->lo = w[k].lo;
    t->hi = w[k].hi;
    t->calib_clip = cp.count[k] ? (double)cp.clipped[k] / (double)cp.count[k] : 0;
    t->eval_clip = ep.count[k] ? (double)ep.clipped[k] / (double)ep.count[k] : 0;
    t->js = js_divergence(&cp.obs[k], &ep.obs[k]);
    double ce = cp.obs[k].max - cp.obs[k].min, ee = ep.obs[k].max - ep.obs[k].min;
    t->extent_ratio = ce > 0 ? ee / ce : 1;
    if (half && cr && ti < cr->n_tensors && half[ti].valid && cr->observers[ti]) {
      nn_tensor_range full;
      if (!nn_observer_range(cr->observers[ti], &opt->calib, &full.lo, &full.hi)) {
        double fe = (double)full.hi - full.lo, he = (double)half[ti].hi - half[ti].lo;
        t->calib_drift = fe > 0 ? fabs(fe - he) / fe : 0;
      }
    }
    drifted += t->calib_drift > 0.10;
    t->flagged = t->eval_clip - t->calib_clip > opt->clip_excess || t->js > opt->js_limit ||
                 t->extent_ratio > opt->extent_limit;
    a->n_flagged += t->flagged;
  }
  a->representative = nw == 0 || a->n_flagged <= opt->flag_share * nw;
  a->ranges_converged = nw == 0 || drifted <= 0.10 * nw;
  a->classes = calloc((size_t)ncls + 1, sizeof *a->classes);
  if (!a->classes) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  for (int k = 0; k < ncls; k++) {
    a->classes[k].label = cls[k].label;
    a->classes[k].calib_samples = cls[k].calib;
    a->classes[k].eval_samples = cls[k].eval;
    a->classes[k].eval_clip = cls[k].eval ? cls[k].clip_sum / (double)cls[k].eval : 0;
  }
  a->n_classes = ncls;
done:
  nn_session_free(s);
  clip_pass_free(&cp);
  clip_pass_free(&ep);
  free(w);
  free(cls);
  return st;
}

static void calib_advice(nn_analysis *a) {
  char buf[2048];
  size_t o = 0;
#define ADD(...) o += (size_t)snprintf(buf + o, o < sizeof buf ? sizeof buf - o : 0, __VA_ARGS__)
  if (a->representative) {
    ADD("The calibration set covers the evaluation data: %d of %d quantized tensors flagged.",
        a->n_flagged, a->n_tensors);
  } else {
    ADD("The calibration set is NOT representative: %d of %d quantized tensors clip more "
        "evaluation values than calibration values or have diverging histograms; "
        "%lld of %lld evaluation samples fall outside the calibrated ranges.",
        a->n_flagged, a->n_tensors, (long long)a->outside_samples, (long long)a->eval_samples);
    /* Classes the calibration lacks or that clip the most. */
    int missing = 0;
    for (int k = 0; k < a->n_classes; k++) missing += a->classes[k].eval_samples && !a->classes[k].calib_samples;
    if (missing) {
      ADD(" Classes in the evaluation data with no calibration sample:");
      for (int k = 0; k < a->n_classes; k++)
        if (a->classes[k].eval_samples && !a->classes[k].calib_samples)
          ADD(" %lld", (long long)a->classes[k].label);
      ADD(".");
    }
    int covered = a->n_classes - missing;
    if (missing && covered > 0) {
      int64_t per = a->calib_samples / covered;
      ADD(" Add about %lld samples from each missing class (as many as each covered class "
          "has), %lld in all, drawn like the evaluation data.",
          (long long)per, (long long)(per * missing));
    } else {
      ADD(" Add calibration samples like the evaluation samples furthest outside the ranges "
          "(worst: #%lld): at least the %lld that fall outside, drawn like the evaluation "
          "data.",
          a->n_worst ? (long long)a->worst[0].index : -1LL, (long long)a->outside_samples);
    }
  }
  if (!a->ranges_converged)
    ADD(" Ranges still move by more than 10%% between %lld and %lld calibration samples on "
        "over 10%% of the tensors: use at least %lld samples.",
        (long long)(a->calib_samples / 2), (long long)a->calib_samples,
        (long long)(2 * a->calib_samples));
#undef ADD
  a->calib_advice = nn_strdup(buf);
}

/* ---- 2-3. layers: per-layer error and sensitivity ---- */

typedef struct layer_acc {
  double xx, ee, xy, yy, maxe;
} layer_acc;

static void acc_add(layer_acc *a, const float *x, const float *y, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    double e = (double)y[i] - x[i];
    a->xx += (double)x[i] * x[i];
    a->yy += (double)y[i] * y[i];
    a->xy += (double)x[i] * y[i];
    a->ee += e * e;
    if (fabs(e) > a->maxe) a->maxe = fabs(e);
  }
}

static double acc_cos(const layer_acc *a) {
  return a->xx > 0 && a->yy > 0 ? a->xy / sqrt(a->xx * a->yy) : 1.0;
}

typedef struct layer_info {
  int node;      /* in the prepared graph */
  int out;       /* unit output tensor (after a fused Relu/Clip) */
  int act_node;  /* fused activation node or -1 */
} layer_info;

/* Float values of the watched tensors, per sample (or only the current one). */
typedef struct float_store {
  int nl;
  const layer_info *li;
  int *lidx;           /* prepared tensor -> layer index */
  int64_t *numel;      /* per layer */
  int64_t stored;      /* samples with all layer outputs stored */
  float **buf;         /* per layer: stored * numel floats */
  int64_t cur;         /* sample being recorded */
} float_store;

static void store_observe(void *user, int t, const nn_value *v) {
  float_store *f = user;
  if (t < 0 || v->dtype != NN_FLOAT || !v->data) return;
  int l = f->lidx[t];
  if (l < 0 || f->cur >= f->stored) return;
  int64_t n = nn_value_numel(v);
  if (n != f->numel[l]) return;
  memcpy(f->buf[l] + f->cur * n, v->data, (size_t)n * sizeof(float));
}

typedef struct compare_ctx {
  const float_store *f;
  const int *qidx; /* quantized-graph tensor -> layer index or -1 */
  layer_acc *acc;  /* per layer */
  int64_t cur;
  int only;        /* >= 0: compare only this layer */
} compare_ctx;

static void compare_observe(void *user, int t, const nn_value *v) {
  compare_ctx *c = user;
  if (t < 0 || v->dtype != NN_FLOAT || !v->data) return;
  int l = c->qidx[t];
  if (l < 0 || (c->only >= 0 && l != c->only) || c->cur >= c->f->stored) return;
  int64_t n = nn_value_numel(v);
  if (n != c->f->numel[l]) return;
  acc_add(&c->acc[l], c->f->buf[l] + c->cur * n, v->data, n);
}

/* Tensor of model q that holds layer l's output as the next layer sees it: the
 * dequantized value when the output is quantized. */
static int *map_layers(const nn_model *q, const nn_graph *g, const layer_info *li, int nl) {
  int *qidx = malloc(((size_t)q->graph->n_tensors + 1) * sizeof *qidx);
  if (!qidx) return NULL;
  for (int t = 0; t < q->graph->n_tensors; t++) qidx[t] = -1;
  for (int l = 0; l < nl; l++) {
    char name[512];
    const char *base = g->tensors[li[l].out].name;
    snprintf(name, sizeof name, "%s_dequantized", base);
    int t = nn_graph_find(q->graph, name);
    if (t < 0) t = nn_graph_find(q->graph, base);
    if (t >= 0) qidx[t] = l;
  }
  return qidx;
}

/* Output 0 of the last run as floats (NULL if not float). */
static const float *out_floats(const nn_session *s, int64_t *n) {
  const nn_array *o = nn_session_output(s, 0);
  if (!o || o->dtype != NN_FLOAT) return NULL;
  *n = nn_array_numel(o);
  return o->data;
}

typedef struct eval_out {
  double metric;
  double out_sqnr;
} eval_out;

/* Run q (fake-quantized) over the sensitivity samples: metric, output SQNR against the
 * stored float outputs, and per-layer comparisons through cc (may be NULL). */
static nn_status eval_fake(const nn_model *q, const sample_set *ss, const float *fout,
                           int64_t out_n, const nn_analyze_options *opt, compare_ctx *cc,
                           eval_out *r) {
  nn_status st = NN_OK;
  nn_session *s = NULL;
  nn_metric *met = NULL;
  nn_session_options so = {0};
  so.qdq_as_float = 1;
  layer_acc oa = {0};
  NN_TRY(nn_session_create_flags(q, &so, NN_SESSION_AS_WRITTEN, &s));
  NN_TRY(nn_metric_create(opt->metric, NULL, &met));
  if (cc) nn_session_set_observer(s, compare_observe, cc);
  for (int64_t i = 0; i < ss->n; i++) {
    if (cc) cc->cur = i;
    NN_TRY(run_sample(s, ss, i));
    int64_t n = 0;
    const float *y = out_floats(s, &n);
    if (y && n == out_n) acc_add(&oa, fout + i * out_n, y, n);
    NN_TRY(nn_metric_update(met, nn_session_output(s, 0), &ss->label_arr[i]));
  }
  r->metric = nn_metric_value(met);
  r->out_sqnr = sqnr_db(oa.xx, oa.ee);
done:
  nn_metric_free(met);
  nn_session_free(s);
  return st;
}

/* Integer runtime over samples: metric. */
static nn_status eval_int(const nn_model *q, const sample_set *ss,
                          const nn_analyze_options *opt, const char *stage, double *metric) {
  nn_status st = NN_OK;
  nn_session *s = NULL;
  nn_metric *met = NULL;
  NN_TRY(nn_session_create_flags(q, NULL, NN_SESSION_AS_WRITTEN, &s));
  NN_TRY(nn_metric_create(opt->metric, NULL, &met));
  for (int64_t i = 0; i < ss->n; i++) {
    NN_TRY(run_sample(s, ss, i));
    NN_TRY(nn_metric_update(met, nn_session_output(s, 0), &ss->label_arr[i]));
    if ((i + 1) % 50 == 0 || i + 1 == ss->n) progress(opt, stage, i + 1, ss->n);
  }
  *metric = nn_metric_value(met);
done:
  nn_metric_free(met);
  nn_session_free(s);
  return st;
}

static nn_status latency_ms(const nn_model *q, const sample_set *ss, double *ms) {
  nn_status st = NN_OK;
  nn_session *s = NULL;
  nn_bench_result r;
  NN_TRY(nn_session_create_flags(q, NULL, NN_SESSION_AS_WRITTEN, &s));
  NN_TRY(nn_session_benchmark(s, ss->nin, ss->names, ss->in, 3, 30, &r));
  *ms = r.median_ms;
done:
  nn_session_free(s);
  return st;
}

/* The prepared float model serialized once: every copy loaded from it has the same
 * tensor indices, which the calibrated ranges are indexed by. */
typedef struct prepared {
  void *buf;
  size_t len;
  const char *dir, *label;
} prepared;

static nn_status load_prepared(const prepared *p, nn_model **out) {
  return nn_model_load_buffer(p->buf, p->len, p->dir, p->label, out);
}

/* Quantize a copy of prep with the given names excluded (on top of the user's list). */
static nn_status quantize_excluding(const prepared *prep, const nn_tensor_range *ranges,
                                    const nn_analyze_options *opt, const char *const *names,
                                    int n_names, nn_model **out) {
  nn_status st = NN_OK;
  nn_model *q = NULL;
  nn_quant_report rep = {0};
  const char **ex = malloc(((size_t)n_names + (size_t)opt->quant.n_exclude + 1) * sizeof *ex);
  if (!ex) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  int n = 0;
  for (int k = 0; k < opt->quant.n_exclude; k++) ex[n++] = opt->quant.exclude[k];
  for (int k = 0; k < n_names; k++) ex[n++] = names[k];
  nn_quant_options qo = opt->quant;
  qo.exclude = ex;
  qo.n_exclude = n;
  NN_TRY(load_prepared(prep, &q));
  NN_TRY(nn_quantize_qdq(q, ranges, &qo, &rep));
  *out = q;
  q = NULL;
done:
  nn_quant_report_free(&rep);
  nn_model_free(q);
  free(ex);
  return st;
}

/* Per-node float time (bench.c), nodes that never run count 0. */
static nn_status node_times(const nn_model *prep, const sample_set *ss, double *node_ms) {
  nn_status st = NN_OK;
  nn_session *s = NULL;
  nn_session_options so = {0};
  so.qdq_as_float = 1; /* runs prep->graph itself: node indices are prep's */
  NN_TRY(nn_session_create_flags(prep, &so, NN_SESSION_AS_WRITTEN, &s));
  NN_TRY(run_sample(s, ss, 0)); /* warm-up */
  NN_TRY(nn_session_node_times(s, ss->nin, ss->names, ss->in, 20, node_ms, NULL));
  for (int i = 0; i < prep->graph->n_nodes; i++)
    if (node_ms[i] < 0) node_ms[i] = 0;
done:
  nn_session_free(s);
  return st;
}

/* Indices sorted by a key, largest first (ties: graph order). */
typedef struct keyed {
  double key;
  int idx;
} keyed;

static int cmp_keyed(const void *a, const void *b) {
  const keyed *x = a, *y = b;
  if (x->key != y->key) return x->key < y->key ? 1 : -1;
  return x->idx - y->idx;
}

static void order_by(const double *key, int n, int *order, keyed *tmp) {
  for (int i = 0; i < n; i++) tmp[i].key = key[i], tmp[i].idx = i;
  qsort(tmp, (size_t)n, sizeof *tmp, cmp_keyed);
  for (int i = 0; i < n; i++) order[i] = tmp[i].idx;
}

static nn_status add_candidate(nn_analysis *a, const char *label, int n_float,
                               double float_share, double macs_share, double metric,
                               int64_t samples, long long bytes, double lat, int meets) {
  nn_an_candidate *c = realloc(a->candidates, ((size_t)a->n_candidates + 1) * sizeof *c);
  if (!c) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  a->candidates = c;
  c = &a->candidates[a->n_candidates++];
  memset(c, 0, sizeof *c);
  c->label = nn_strdup(label);
  c->n_float = n_float;
  c->float_share = float_share;
  c->macs_share = macs_share;
  c->metric = metric;
  c->samples = samples;
  c->bytes = bytes;
  c->latency_ms = lat;
  c->meets = meets;
  return NN_OK;
}

nn_status nn_analyze(const nn_model *m, nn_dataset *calib, nn_dataset *eval,
                     const nn_analyze_options *opt, nn_analysis *a, nn_model **out_model) {
  nn_status st = NN_OK;
  nn_model *prep = NULL, *qfull = NULL, *best = NULL;
  nn_session *fs = NULL, *plan = NULL;
  nn_calib_result cr = {0}, crh = {0};
  nn_tensor_range *ranges = NULL, *half = NULL;
  sample_set ev = {0}, sens = {0};
  layer_info *li = NULL;
  float_store fst = {0};
  float *fout = NULL;
  int *qidx = NULL, *order = NULL;
  const char **names = NULL;
  double *node_ms = NULL, *prio = NULL;
  keyed *tmp = NULL;
  layer_acc *acc = NULL;
  nn_use_map u = {0};
  prepared pp = {NULL, 0, m->dir, m->path};
  memset(a, 0, sizeof *a);
  a->chosen = -1;
  a->max_drop = opt->max_drop;
  a->max_float_share = opt->max_float_share;
  a->metric = nn_strdup(opt->metric);
  a->model = nn_strdup(m->path ? m->path : "");
  if (out_model) *out_model = NULL;
  if (!nn_dataset_has_labels(eval))
    return nn_errorf(NN_ERR_INVALID, "analyze: the evaluation dataset has no labels");

  /* Preparation as static PTQ does it, so tensor names match the QDQ models. */
  int nf;
  NN_TRY(clone_model(m, &prep));
  NN_TRY(nn_pass_fold_constants(prep, &nf));
  NN_TRY(nn_pass_fold_batchnorm(prep, &nf));
  NN_TRY(nn_pass_eliminate_dead(prep, &nf));
  NN_TRY(nn_graph_sort(prep->graph));
  nn_graph *g = prep->graph;
  for (int i = 0; i < g->n_nodes; i++) /* exclusion works by name */
    if (!g->nodes[i].name || !g->nodes[i].name[0]) {
      char base[64];
      snprintf(base, sizeof base, "%s_%d", g->nodes[i].op_type, i);
      char *nm = nn_graph_unique_node_name(g, base);
      if (!nm) {
        st = nn_errorf(NN_ERR_NOMEM, "out of memory");
        goto done;
      }
      free(g->nodes[i].name);
      g->nodes[i].name = nm;
    }

  /* Canonical copy: prep is reloaded from its serialized form (see prepared). */
  NN_TRY(nn_model_save_buffer(prep, &pp.buf, &pp.len));
  nn_model_free(prep);
  prep = NULL;
  NN_TRY(load_prepared(&pp, &prep));
  g = prep->graph;

  /* Calibration: all samples, and the first half for convergence. */
  nn_calib_config cc = {0};
  cc.limit = opt->calib_limit;
  NN_TRY(nn_calibrate(prep, calib, &cc, &cr));
  a->calib_samples = cr.samples;
  ranges = calloc((size_t)cr.n_tensors + 1, sizeof *ranges);
  half = calloc((size_t)cr.n_tensors + 1, sizeof *half);
  if (!ranges || !half) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  NN_TRY(nn_calib_ranges(&cr, &opt->calib, ranges));
  for (int k = 0; k < g->n_outputs; k++) { /* as nn_ptq_static: outputs keep min-max */
    int t = g->outputs[k];
    nn_calib_options mm = opt->calib;
    mm.method = NN_CALIB_MINMAX;
    if (t < cr.n_tensors && cr.observers[t] && cr.observers[t]->count)
      NN_TRY(nn_observer_range(cr.observers[t], &mm, &ranges[t].lo, &ranges[t].hi));
  }
  if (cr.samples >= 4) {
    nn_calib_config ch = cc;
    ch.limit = cr.samples / 2;
    NN_TRY(nn_calibrate(prep, calib, &ch, &crh));
    NN_TRY(nn_calib_ranges(&crh, &opt->calib, half));
  }
  progress(opt, "calibration", 1, 1);

  NN_TRY(quantize_excluding(&pp, ranges, opt, NULL, 0, &qfull));
  {
    nn_use_map uq = {0};
    NN_TRY(nn_graph_build_maps(qfull->graph, &uq)); /* producers of the new nodes */
    nn_use_map_free(&uq);
  }

  /* Samples. */
  NN_TRY(nn_session_create_flags(prep, NULL, NN_SESSION_AS_WRITTEN, &fs));
  NN_TRY(samples_load(eval, opt->eval_limit, fs, &ev));
  NN_TRY(samples_load(eval, opt->sens_limit > 0 ? opt->sens_limit : 200, fs, &sens));
  a->eval_samples = ev.n;
  a->sens_samples = sens.n;

  /* 1. */
  NN_TRY(representativeness(prep, qfull, calib, &ev, crh.samples ? half : NULL, &cr, opt, a));
  calib_advice(a);
  if (opt->calib_only) {
    a->verdict = nn_strdup(a->representative
                             ? "The calibration set represents the evaluation data."
                             : "The calibration set does not represent the evaluation data: "
                               "fix it before anything else.");
    goto done;
  }

  /* Layers: units the full QDQ model quantized. */
  NN_TRY(nn_graph_build_maps(g, &u));
  li = calloc((size_t)g->n_nodes + 1, sizeof *li);
  a->layers = calloc((size_t)g->n_nodes + 1, sizeof *a->layers);
  node_ms = calloc((size_t)g->n_nodes + 1, sizeof *node_ms);
  if (!li || !a->layers || !node_ms) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  NN_TRY(nn_session_create_planned(prep, &plan));
  NN_TRY(node_times(prep, &ev, node_ms));
  int64_t total_macs = 0;
  for (int i = 0; i < g->n_nodes; i++) total_macs += nn_node_macs(g, plan, i);
  double total_ms = 0;
  for (int i = 0; i < g->n_nodes; i++) total_ms += node_ms[i];
  int nl = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    const nn_node *n = &g->nodes[i];
    if (n->domain[0] || !nn_qdq_is_unit_op(n->op_type) || n->n_outputs < 1) continue;
    int qi = -1;
    for (int j = 0; j < qfull->graph->n_nodes; j++)
      if (!strcmp(qfull->graph->nodes[j].name, n->name)) qi = j;
    if (qi < 0) continue;
    const nn_node *qn = &qfull->graph->nodes[qi];
    int quantized = 0;
    for (int k = 0; k < qn->n_inputs; k++) {
      int t = qn->inputs[k];
      int p = t >= 0 ? qfull->graph->tensors[t].producer : -1;
      quantized |= p >= 0 && !strcmp(qfull->graph->nodes[p].op_type, "DequantizeLinear");
    }
    if (!quantized) continue;
    layer_info *L = &li[nl];
    L->node = i;
    L->out = n->outputs[0];
    L->act_node = -1;
    int t = n->outputs[0];
    int weighted = !strcmp(n->op_type, "Conv") || !strcmp(n->op_type, "ConvTranspose") ||
                   !strcmp(n->op_type, "Gemm") || !strcmp(n->op_type, "MatMul") ||
                   !strcmp(n->op_type, "Add") || !strcmp(n->op_type, "Mul");
    if (weighted && t >= 0 && u.off[t + 1] - u.off[t] == 1 && !(g->tensors[t].flags & NN_T_OUTPUT)) {
      int c = u.cons[u.off[t]];
      if (!strcmp(g->nodes[c].op_type, "Relu") || !strcmp(g->nodes[c].op_type, "Clip")) {
        L->act_node = c;
        L->out = g->nodes[c].outputs[0];
      }
    }
    nn_an_layer *al = &a->layers[nl];
    al->name = nn_strdup(n->name);
    al->op = nn_strdup(n->op_type);
    al->out_name = nn_strdup(g->tensors[L->out].name);
    al->macs = nn_node_macs(g, plan, i);
    al->float_ms = node_ms[i] + (L->act_node >= 0 ? node_ms[L->act_node] : 0);
    nl++;
  }
  a->n_layers = nl;
  if (!nl) {
    a->verdict = nn_strdup("No layer was quantized: nothing to analyse.");
    goto done;
  }

  /* Float reference on the sensitivity samples: outputs and, within a budget, every
   * layer output (for local errors). */
  fst.nl = nl;
  fst.li = li;
  fst.lidx = malloc(((size_t)g->n_tensors + 1) * sizeof *fst.lidx);
  fst.numel = calloc((size_t)nl + 1, sizeof *fst.numel);
  fst.buf = calloc((size_t)nl + 1, sizeof *fst.buf);
  if (!fst.lidx || !fst.numel || !fst.buf) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  for (int t = 0; t < g->n_tensors; t++) fst.lidx[t] = -1;
  for (int l = 0; l < nl; l++) fst.lidx[li[l].out] = l;
  {
    size_t per_sample = 0;
    for (int l = 0; l < nl; l++) {
      const nn_value *v = nn_session_value(plan, li[l].out);
      fst.numel[l] = v && v->ndim >= 0 ? nn_value_numel(v) : 0;
      per_sample += (size_t)fst.numel[l] * sizeof(float);
    }
    fst.stored = per_sample ? (int64_t)(LOCAL_BUDGET_BYTES / per_sample) : sens.n;
    if (fst.stored > sens.n) fst.stored = sens.n;
    if (fst.stored < 1) fst.stored = 1;
    for (int l = 0; l < nl; l++) {
      fst.buf[l] = malloc((size_t)(fst.stored * fst.numel[l]) * sizeof(float) + 1);
      if (!fst.buf[l]) {
        st = nn_errorf(NN_ERR_NOMEM, "out of memory for float layer outputs");
        goto done;
      }
    }
  }
  int64_t out_n = 0;
  nn_metric *fm = NULL;
  NN_TRY(nn_metric_create(opt->metric, NULL, &fm));
  nn_session_set_observer(fs, store_observe, &fst);
  for (int64_t i = 0; i < sens.n; i++) {
    fst.cur = i;
    if ((st = run_sample(fs, &sens, i))) break;
    int64_t n = 0;
    const float *y = out_floats(fs, &n);
    if (!y) {
      st = nn_errorf(NN_ERR_UNSUPPORTED, "analyze: output 0 of the model is not float32");
      break;
    }
    if (!fout) {
      out_n = n;
      fout = malloc((size_t)(sens.n * n) * sizeof *fout + 1);
      if (!fout) {
        st = nn_errorf(NN_ERR_NOMEM, "out of memory");
        break;
      }
    }
    if (n != out_n) {
      st = nn_errorf(NN_ERR_INVALID, "analyze: output 0 changes size between samples");
      break;
    }
    memcpy(fout + i * n, y, (size_t)n * sizeof *fout);
    if ((st = nn_metric_update(fm, nn_session_output(fs, 0), &sens.label_arr[i]))) break;
  }
  nn_session_set_observer(fs, NULL, NULL);
  a->float_sens_metric = nn_metric_value(fm);
  nn_metric_free(fm);
  if (st) goto done;

  /* 2. All layers quantized: total error per layer. */
  acc = calloc((size_t)nl + 1, sizeof *acc);
  if (!acc) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  qidx = map_layers(qfull, g, li, nl);
  if (!qidx) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  compare_ctx cmp = {&fst, qidx, acc, 0, -1};
  eval_out full;
  NN_TRY(eval_fake(qfull, &sens, fout, out_n, opt, &cmp, &full));
  a->int8_sens_metric = full.metric;
  a->int8_out_sqnr = full.out_sqnr;
  for (int l = 0; l < nl; l++) {
    a->layers[l].sqnr = sqnr_db(acc[l].xx, acc[l].ee);
    a->layers[l].cosine = acc_cos(&acc[l]);
    a->layers[l].max_err = acc[l].maxe;
  }
  free(qidx);
  qidx = NULL;

  /* 3. One layer quantized, and all but one. */
  names = calloc((size_t)nl + 1, sizeof *names);
  if (!names) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  for (int l = 0; l < nl; l++) {
    nn_model *q = NULL;
    int n = 0;
    for (int k = 0; k < nl; k++)
      if (k != l) names[n++] = a->layers[k].name;
    NN_TRY(quantize_excluding(&pp, ranges, opt, names, n, &q));
    qidx = map_layers(q, g, li, nl);
    if (!qidx) {
      nn_model_free(q);
      st = nn_errorf(NN_ERR_NOMEM, "out of memory");
      goto done;
    }
    memset(acc, 0, (size_t)nl * sizeof *acc);
    compare_ctx c1 = {&fst, qidx, acc, 0, l};
    eval_out r;
    st = eval_fake(q, &sens, fout, out_n, opt, &c1, &r);
    nn_model_free(q);
    free(qidx);
    qidx = NULL;
    if (st) goto done;
    a->layers[l].only_metric = r.metric;
    a->layers[l].only_out_sqnr = r.out_sqnr;
    a->layers[l].local_sqnr = sqnr_db(acc[l].xx, acc[l].ee);
    a->layers[l].local_cosine = acc_cos(&acc[l]);
    names[0] = a->layers[l].name;
    NN_TRY(quantize_excluding(&pp, ranges, opt, names, 1, &q));
    st = eval_fake(q, &sens, fout, out_n, opt, NULL, &r);
    nn_model_free(q);
    if (st) goto done;
    a->layers[l].allbut_metric = r.metric;
    a->layers[l].allbut_out_sqnr = r.out_sqnr;
    /* Output noise power (relative to the signal) this layer adds alone, plus the
     * noise removed when only it stays float; both are additive to first order. */
    double alone = pow(10.0, -a->layers[l].only_out_sqnr / 10.0);
    double removed = pow(10.0, -a->int8_out_sqnr / 10.0) - pow(10.0, -r.out_sqnr / 10.0);
    a->layers[l].score = alone + (removed > 0 ? removed : 0);
    progress(opt, "sensitivity", l + 1, nl);
  }
  order = malloc(((size_t)nl + 1) * sizeof *order);
  prio = malloc(((size_t)nl + 1) * sizeof *prio);
  tmp = malloc(((size_t)nl + 1) * sizeof *tmp);
  if (!order || !prio || !tmp) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  for (int l = 0; l < nl; l++) prio[l] = a->layers[l].score;
  order_by(prio, nl, order, tmp);
  for (int r = 0; r < nl; r++) a->layers[order[r]].rank = r + 1;

  /* 4. Mixed precision. */
  {
    double fmetric, imetric, flat, ilat;
    NN_TRY(eval_int(prep, &ev, opt, "evaluate float", &fmetric));
    NN_TRY(latency_ms(prep, &ev, &flat));
    NN_TRY(add_candidate(a, "float", -1, 1, 1, fmetric, ev.n, model_bytes(prep), flat, 1));
    NN_TRY(eval_int(qfull, &ev, opt, "evaluate int8", &imetric));
    NN_TRY(latency_ms(qfull, &ev, &ilat));
    double budget = opt->max_drop / 100.0;
    int ok = fmetric - imetric <= budget + 1e-12;
    NN_TRY(add_candidate(a, "int8 (all layers)", 0, 0, 0, imetric, ev.n, model_bytes(qfull),
                         ilat, ok));
    if (ok) a->chosen = 1;
    /* Cheap-to-keep-float layers first among equally sensitive ones: priority =
     * sensitivity / (share of float latency the layer would keep + 5%). */
    double saved = flat > ilat ? flat - ilat : 0;
    for (int l = 0; l < nl; l++) {
      double share = total_ms > 0 ? a->layers[l].float_ms / total_ms : 0;
      double cost = flat > 0 ? share * saved / flat : 0;
      prio[l] = a->layers[l].score / (cost + 0.05);
    }
    order_by(prio, nl, order, tmp);
    int max_float = (int)floor(opt->max_float_share * nl + 1e-9);
    best = NULL;
    if (!ok && opt->max_drop >= 0) {
      for (int k = 1; k <= max_float && k <= nl; k++) {
        nn_model *q = NULL;
        int64_t fmacs = 0;
        for (int j = 0; j < k; j++) {
          names[j] = a->layers[order[j]].name;
          fmacs += a->layers[order[j]].macs;
        }
        NN_TRY(quantize_excluding(&pp, ranges, opt, names, k, &q));
        double mm, lat;
        char label[64];
        snprintf(label, sizeof label, "int8 + %d float layer%s", k, k > 1 ? "s" : "");
        st = eval_int(q, &ev, opt, label, &mm);
        if (!st) st = latency_ms(q, &ev, &lat);
        if (st) {
          nn_model_free(q);
          goto done;
        }
        int meets = fmetric - mm <= budget + 1e-12;
        st = add_candidate(a, label, k, (double)k / nl,
                           total_macs ? (double)fmacs / (double)total_macs : 0, mm, ev.n,
                           model_bytes(q), lat, meets);
        if (st || !meets) {
          nn_model_free(q);
          if (st) goto done;
          continue;
        }
        a->chosen = a->n_candidates - 1;
        best = q;
        for (int j = 0; j < k; j++) a->layers[order[j]].kept_float = 1;
        if (opt->float16) {
          /* The same layers with float16 weights: smaller, verified the same way. */
          nn_model *h = NULL;
          int conv = 0;
          st = quantize_excluding(&pp, ranges, opt, names, k, &h);
          if (!st) st = nn_weights_to_fp16(h, names, k, &conv);
          snprintf(label, sizeof label, "int8 + %d fp16 layer%s", k, k > 1 ? "s" : "");
          if (!st) st = eval_int(h, &ev, opt, label, &mm);
          if (!st) st = latency_ms(h, &ev, &lat);
          if (st) {
            nn_model_free(h);
            goto done;
          }
          meets = fmetric - mm <= budget + 1e-12;
          st = add_candidate(a, label, k, (double)k / nl,
                             total_macs ? (double)fmacs / (double)total_macs : 0, mm, ev.n,
                             model_bytes(h), lat, meets);
          if (!st && meets) {
            a->chosen = a->n_candidates - 1;
            nn_model_free(best);
            best = h;
            h = NULL;
          }
          nn_model_free(h);
          if (st) goto done;
        }
        break;
      }
    } else if (ok) {
      best = qfull;
      qfull = NULL;
    }
  }

  /* 5. Verdict. */
  {
    char buf[2048];
    size_t o = 0;
#define ADD(...) o += (size_t)snprintf(buf + o, o < sizeof buf ? sizeof buf - o : 0, __VA_ARGS__)
    const nn_an_candidate *f = &a->candidates[0], *i8 = &a->candidates[1];
    double drop = (f->metric - i8->metric) * 100;
    if (a->chosen == 1) {
      ADD("INT8 meets the budget: %s %.2f%% vs float %.2f%% (drop %.2f <= %.2f points, %lld "
          "samples).", a->metric, i8->metric * 100, f->metric * 100, drop, opt->max_drop,
          (long long)i8->samples);
    } else if (a->chosen > 1) {
      const nn_an_candidate *c = &a->candidates[a->chosen];
      ADD("INT8 loses %.2f points (%.2f%% vs %.2f%%). Mixed precision meets the %.2f-point "
          "budget with %d of %d layers in float (%.1f%% of layers, %.1f%% of MACs): %.2f%% "
          "(drop %.2f, %lld samples), %.2fx the float latency. Float layers:",
          drop, i8->metric * 100, f->metric * 100, opt->max_drop, c->n_float, nl,
          c->float_share * 100, c->macs_share * 100, c->metric * 100,
          (f->metric - c->metric) * 100, (long long)c->samples,
          f->latency_ms > 0 ? c->latency_ms / f->latency_ms : 0);
      for (int l = 0; l < nl; l++)
        if (a->layers[l].kept_float) ADD(" %s", a->layers[l].name);
      ADD(strstr(c->label, "fp16") ? " (weights stored as float16)." : ".");
    } else {
      a->recommend_qat = opt->max_drop >= 0;
      ADD("INT8 loses %.2f points (%.2f%% vs %.2f%%) and no mixed-precision choice with at "
          "most %.0f%% of the layers in float meets the %.2f-point budget (best tried: "
          "%.2f%%). Recommendation: quantization-aware training.",
          drop, i8->metric * 100, f->metric * 100, opt->max_float_share * 100, opt->max_drop,
          a->n_candidates > 2 ? a->candidates[a->n_candidates - 1].metric * 100 : i8->metric * 100);
    }
    if (!a->representative)
      ADD(" Fix the calibration set first: it does not represent the evaluation data.");
#undef ADD
    a->verdict = nn_strdup(buf);
  }
  if (out_model && best) {
    *out_model = best;
    best = NULL;
  }
done:
  free(pp.buf);
  nn_use_map_free(&u);
  nn_model_free(best);
  nn_model_free(qfull);
  nn_session_free(fs);
  nn_session_free(plan);
  nn_model_free(prep);
  nn_calib_result_free(&cr);
  nn_calib_result_free(&crh);
  free(ranges);
  free(half);
  samples_free(&ev);
  samples_free(&sens);
  free(li);
  for (int l = 0; fst.buf && l < fst.nl; l++) free(fst.buf[l]);
  free(fst.buf);
  free(fst.lidx);
  free(fst.numel);
  free(fout);
  free(qidx);
  free(order);
  free(prio);
  free(tmp);
  free((void *)names);
  free(node_ms);
  free(acc);
  return st;
}

void nn_analysis_free(nn_analysis *a) {
  for (int k = 0; a->tensors && k < a->n_tensors; k++) free(a->tensors[k].name);
  for (int k = 0; a->layers && k < a->n_layers; k++) {
    free(a->layers[k].name);
    free(a->layers[k].op);
    free(a->layers[k].out_name);
  }
  for (int k = 0; a->candidates && k < a->n_candidates; k++) free(a->candidates[k].label);
  free(a->tensors);
  free(a->layers);
  free(a->candidates);
  free(a->worst);
  free(a->classes);
  free(a->calib_advice);
  free(a->verdict);
  free(a->model);
  free(a->metric);
  memset(a, 0, sizeof *a);
}
