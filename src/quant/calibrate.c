/*
 * calibrate.c - run the float model over a dataset and feed every float32 activation
 * into its observer (bounded memory: one fixed histogram per tensor).
 */
#include <stdlib.h>
#include <string.h>

#include "quant/quantize.h"
#include "runtime/session.h"

typedef struct calib_ctx {
  nn_calib_result *r;
  nn_status st;
} calib_ctx;

static void observe(void *user, int t, const nn_value *v) {
  calib_ctx *c = user;
  if (c->st || v->dtype != NN_FLOAT || !v->data || t < 0 || t >= c->r->n_tensors) return;
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

/* Match dataset inputs to model inputs by name, else in order. */
static int input_slot(const nn_session *s, const nn_dataset *ds, int k) {
  const char *dn = nn_dataset_input_name(ds, k);
  for (int j = 0; j < nn_session_input_count(s); j++)
    if (dn && !strcmp(dn, nn_session_input_name(s, j))) return j;
  return k < nn_session_input_count(s) ? k : -1;
}

nn_status nn_calibrate(const nn_model *m, nn_dataset *ds, const nn_calib_config *cfg,
                       nn_calib_result *out) {
  nn_status st = NN_OK;
  nn_session *s = NULL;
  const char **names = NULL;
  nn_array *arrays = NULL;
  memset(out, 0, sizeof *out);
  out->n_tensors = m->graph->n_tensors;
  out->observers = calloc((size_t)out->n_tensors + 1, sizeof *out->observers);
  if (!out->observers) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  NN_TRY(nn_session_create(m, NULL, &s));
  calib_ctx ctx = {out, NN_OK};
  nn_session_set_observer(s, observe, &ctx);
  int64_t total = nn_dataset_count(ds);
  if (cfg && cfg->limit > 0 && cfg->limit < total) total = cfg->limit;
  if (total <= 0) {
    st = nn_errorf(NN_ERR_INVALID, "the calibration dataset is empty");
    goto done;
  }
  int nin = nn_dataset_input_count(ds);
  names = calloc((size_t)nin + 1, sizeof *names);
  arrays = calloc((size_t)nin + 1, sizeof *arrays);
  if (!names || !arrays) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  for (int64_t i = 0; i < total; i++) {
    nn_batch b;
    NN_TRY(nn_dataset_get(ds, i, 1, &b));
    int n = 0;
    for (int k = 0; k < b.count; k++) {
      int slot = input_slot(s, ds, k);
      if (slot < 0) continue;
      nn_dtype want;
      nn_session_input_info(s, slot, &want, NULL, NULL);
      if ((st = nn_array_convert(&b.inputs[k], want, nn_session_input_name(s, slot)))) {
        nn_batch_release(&b);
        goto done;
      }
      names[n] = nn_session_input_name(s, slot);
      arrays[n++] = b.inputs[k];
    }
    st = nn_session_run(s, n, names, arrays);
    nn_batch_release(&b);
    if (st) goto done;
    if (ctx.st) {
      st = ctx.st;
      goto done;
    }
    out->samples++;
    if (cfg && cfg->progress) cfg->progress(cfg->user, i + 1, total);
  }
done:
  free(names);
  free(arrays);
  nn_session_free(s);
  if (st) nn_calib_result_free(out);
  return st;
}

void nn_calib_result_free(nn_calib_result *r) {
  if (r->observers)
    for (int t = 0; t < r->n_tensors; t++) free(r->observers[t]);
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
