/*
 * evaluate.c - run a model over a dataset and score its outputs with a metric:
 * matches dataset arrays to model inputs (by name, then in order), converts dtypes
 * to what the model declares, batches when the batch dimension is symbolic.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/dtype.h"
#include "core/graph.h"

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Convert a numeric array to dtype to in place (no-op when equal). */
static nn_status convert(nn_array *a, nn_dtype to, const char *name) {
  if (a->dtype == to || to == NN_UNDEFINED) return NN_OK;
  const nn_dtype_traits *from = nn_dtype_traits_of(a->dtype), *dst = nn_dtype_traits_of(to);
  if (!from || !dst || !from->is_numeric || !dst->is_numeric)
    return nn_errorf(NN_ERR_INVALID, "input '%s': dataset gives %s, model wants %s", name,
                     nn_dtype_name(a->dtype), nn_dtype_name(to));
  int64_t n = nn_array_numel(a);
  void *data = malloc((size_t)n * dst->size + 1);
  if (!data) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  for (int64_t i = 0; i < n; i++) {
    const char *s = (const char *)a->data + (size_t)i * from->size;
    char *d = (char *)data + (size_t)i * dst->size;
    if (from->is_integer && dst->is_integer) dst->from_i64(d, from->to_i64(s));
    else dst->from_f64(d, from->to_f64(s));
  }
  free(a->data);
  a->data = data;
  a->dtype = to;
  a->nbytes = (size_t)n * dst->size;
  return NN_OK;
}

nn_status nn_evaluate(const nn_model *model, nn_dataset *ds, nn_metric *metric,
                      const nn_eval_options *opt, nn_eval_result *out) {
  nn_status st = NN_OK;
  nn_session *s = NULL;
  nn_batch b = {0};
  int *map = NULL;
  const char **names = NULL;
  nn_array *args = NULL;
  nn_eval_options o = {0};
  if (opt) o = *opt;
  memset(out, 0, sizeof *out);
  if (!nn_dataset_has_labels(ds)) return nn_errorf(NN_ERR_INVALID, "the dataset has no labels to score against");
  nn_session_options so = {0};
  so.threads = o.threads;
  NN_TRY(nn_session_create(model, &so, &s));
  int n_in = nn_session_input_count(s), n_ds = nn_dataset_input_count(ds);
  map = calloc((size_t)n_in + 1, sizeof *map);
  names = calloc((size_t)n_in + 1, sizeof *names);
  args = calloc((size_t)n_in + 1, sizeof *args);
  unsigned char *used = calloc((size_t)n_ds + 1, 1);
  if (!map || !names || !args || !used) {
    free(used);
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  /* Dataset arrays to model inputs: same name first, then the rest in order. */
  for (int j = 0; j < n_in; j++) {
    map[j] = -1;
    names[j] = nn_session_input_name(s, j);
    for (int k = 0; k < n_ds; k++)
      if (!used[k] && !strcmp(nn_dataset_input_name(ds, k), names[j])) {
        map[j] = k;
        used[k] = 1;
        break;
      }
  }
  for (int j = 0; j < n_in; j++) {
    if (map[j] >= 0) continue;
    for (int k = 0; k < n_ds; k++) {
      int named_elsewhere = 0; /* a dataset array named after another model input stays there */
      for (int q = 0; q < n_in; q++) named_elsewhere |= !strcmp(nn_dataset_input_name(ds, k), names[q]);
      if (!used[k] && !named_elsewhere) {
        map[j] = k;
        used[k] = 1;
        break;
      }
    }
    if (map[j] < 0) {
      free(used);
      st = nn_errorf(NN_ERR_INVALID, "model input '%s' gets no data: the dataset provides %d array%s (%s%s)",
                     names[j], n_ds, n_ds == 1 ? "" : "s", nn_dataset_input_name(ds, 0), n_ds > 1 ? ", ..." : "");
      goto done;
    }
  }
  free(used);

  int out_idx = 0;
  if (o.output) {
    out_idx = -1;
    for (int k = 0; k < nn_session_output_count(s); k++)
      if (!strcmp(nn_session_output_name(s, k), o.output)) out_idx = k;
    if (out_idx < 0) {
      st = nn_errorf(NN_ERR_INVALID, "model has no output '%s'", o.output);
      goto done;
    }
  }
  int batch = o.batch > 1 ? o.batch : 1;
  const nn_graph *g = model->graph;
  nn_dtype *want = calloc((size_t)n_in + 1, sizeof *want);
  if (!want) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  for (int j = 0; j < n_in; j++) {
    int t = nn_graph_find(g, names[j]);
    want[j] = t >= 0 ? g->tensors[t].dtype : NN_UNDEFINED;
    if (batch > 1 && t >= 0 && g->tensors[t].ndim > 0 && g->tensors[t].dims[0] >= 0) {
      free(want);
      st = nn_errorf(NN_ERR_INVALID, "model input '%s' has a fixed batch dimension of %lld; use batch 1",
                     names[j], (long long)g->tensors[t].dims[0]);
      goto done;
    }
  }

  int64_t total = nn_dataset_count(ds);
  if (o.limit > 0 && o.limit < total) total = o.limit;
  double t0 = now_seconds();
  for (int64_t first = 0; first < total; first += batch) {
    int64_t n = total - first < batch ? total - first : batch;
    st = nn_dataset_get(ds, first, n, &b);
    for (int j = 0; !st && j < n_in; j++) {
      st = convert(&b.inputs[map[j]], want[j], names[j]);
      args[j] = b.inputs[map[j]];
    }
    if (!st) st = nn_session_run(s, n_in, names, args);
    if (st) {
      if (n == 1) nn_error_prefix(st, "sample %lld", (long long)first);
      else nn_error_prefix(st, "samples %lld..%lld", (long long)first, (long long)(first + n - 1));
      break;
    }
    st = nn_metric_update(metric, nn_session_output(s, out_idx), &b.label);
    if (st) {
      nn_error_prefix(st, "sample %lld", (long long)first);
      break;
    }
    nn_batch_release(&b);
    if (o.progress) o.progress(o.user, first + n, total);
  }
  free(want);
  if (st) goto done;
  out->seconds = now_seconds() - t0;
  out->samples = nn_metric_samples(metric);
  out->value = nn_metric_value(metric);
done:
  nn_batch_release(&b);
  nn_session_free(s);
  free(map);
  free(names);
  free(args);
  return st;
}
