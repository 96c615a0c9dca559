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

/* Value of key in a comma-separated "key=value" list, copied into val; 0 if absent. */
static int list_value(const char *list, const char *key, char *val, size_t len) {
  size_t kl = strlen(key);
  for (const char *p = list; p && *p;) {
    const char *end = strchr(p, ',');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    if (n > kl && !strncmp(p, key, kl) && p[kl] == '=') {
      size_t vl = n - kl - 1 < len - 1 ? n - kl - 1 : len - 1;
      memcpy(val, p + kl + 1, vl);
      val[vl] = 0;
      return 1;
    }
    p = end ? end + 1 : NULL;
  }
  return 0;
}

/* Streaming state: one buffer per model input carried from an output. */
typedef struct stream_io {
  int role;        /* 0 data, 1 state, 2 constant */
  int out;         /* state: index of the output fed back */
  nn_array value;  /* state / constant value (owned) */
} stream_io;

static nn_status zeros_like_input(const nn_session *s, int j, nn_array *a) {
  nn_dtype dt;
  int ndim;
  int64_t dims[NN_MAX_DIMS];
  nn_status st = nn_session_input_info(s, j, &dt, &ndim, dims);
  if (st) return st;
  memset(a, 0, sizeof *a);
  a->dtype = dt == NN_UNDEFINED ? NN_FLOAT : dt;
  a->ndim = ndim < 0 ? 0 : ndim;
  for (int d = 0; d < a->ndim; d++) a->dims[d] = dims[d] < 0 ? 1 : dims[d];
  a->nbytes = (size_t)nn_array_numel(a) * nn_dtype_size(a->dtype);
  a->data = calloc(1, a->nbytes + 1);
  return a->data ? NN_OK : nn_errorf(NN_ERR_NOMEM, "out of memory");
}

/* Score one sample of a streaming model: data input x [1, S] (or [S]) in chunks. */
static nn_status run_stream(nn_session *s, const nn_eval_options *o, stream_io *io, int n_in,
                            const char **names, nn_array *args, int data_j,
                            const nn_array *x, int out_idx, nn_metric *metric,
                            const nn_array *label) {
  nn_status st = NN_OK;
  int64_t total = x->ndim ? x->dims[x->ndim - 1] : 1, T = total / o->chunk;
  int64_t win = o->context + o->chunk;
  float *probs = malloc((size_t)(T ? T : 1) * sizeof *probs);
  float *buf = calloc((size_t)win, sizeof *buf);
  if (!probs || !buf) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  if (x->dtype != NN_FLOAT) {
    st = nn_errorf(NN_ERR_INVALID, "streamed input '%s' must be float32", names[data_j]);
    goto done;
  }
  for (int j = 0; j < n_in; j++)
    if (io[j].role == 1) memset(io[j].value.data, 0, io[j].value.nbytes);
  const float *xd = x->data;
  for (int64_t t = 0; t < T; t++) {
    /* Window = the context values before the chunk (zeros before the start), then it. */
    memmove(buf, buf + o->chunk, (size_t)o->context * sizeof *buf);
    memcpy(buf + o->context, xd + t * o->chunk, (size_t)o->chunk * sizeof *buf);
    for (int j = 0; j < n_in; j++) {
      if (io[j].role) {
        args[j] = io[j].value;
      } else {
        nn_array a = {NN_FLOAT, 2, {1, win}, buf, (size_t)win * sizeof *buf};
        args[j] = a;
      }
    }
    if ((st = nn_session_run(s, n_in, names, args))) {
      nn_error_prefix(st, "chunk %lld", (long long)t);
      goto done;
    }
    const nn_array *y = nn_session_output(s, out_idx);
    if (y->dtype != NN_FLOAT || !nn_array_numel(y)) {
      st = nn_errorf(NN_ERR_INVALID, "scored output must be float32 and non-empty");
      goto done;
    }
    probs[t] = ((const float *)y->data)[0];
    for (int j = 0; j < n_in; j++) {
      if (io[j].role != 1) continue;
      const nn_array *sv = nn_session_output(s, io[j].out);
      if (sv->nbytes != io[j].value.nbytes || sv->dtype != io[j].value.dtype) {
        void *p = realloc(io[j].value.data, sv->nbytes + 1);
        if (!p) {
          st = nn_errorf(NN_ERR_NOMEM, "out of memory");
          goto done;
        }
        io[j].value.data = p;
      }
      memcpy(io[j].value.data, sv->data, sv->nbytes);
      io[j].value.dtype = sv->dtype;
      io[j].value.ndim = sv->ndim;
      memcpy(io[j].value.dims, sv->dims, sizeof sv->dims);
      io[j].value.nbytes = sv->nbytes;
    }
  }
  nn_array scores = {NN_FLOAT, 2, {1, T}, probs, (size_t)T * sizeof *probs};
  st = nn_metric_update(metric, &scores, label);
done:
  free(probs);
  free(buf);
  return st;
}

nn_status nn_evaluate(const nn_model *model, nn_dataset *ds, nn_metric *metric,
                      const nn_eval_options *opt, nn_eval_result *out) {
  nn_status st = NN_OK;
  nn_session *s = NULL;
  nn_batch b = {0};
  int *map = NULL;
  stream_io *io = NULL;
  int n_in_saved = 0;
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
  n_in_saved = n_in;
  map = calloc((size_t)n_in + 1, sizeof *map);
  names = calloc((size_t)n_in + 1, sizeof *names);
  args = calloc((size_t)n_in + 1, sizeof *args);
  unsigned char *used = calloc((size_t)n_ds + 1, 1);
  if (!map || !names || !args || !used) {
    free(used);
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  io = calloc((size_t)n_in + 1, sizeof *io);
  if (!io) {
    free(used);
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  /* Streaming: state inputs carried from outputs, constant scalar inputs. */
  for (int j = 0; j < n_in && o.chunk > 0; j++) {
    char val[256];
    const char *nm = nn_session_input_name(s, j);
    if (o.state && list_value(o.state, nm, val, sizeof val)) {
      io[j].role = 1;
      io[j].out = -1;
      for (int k = 0; k < nn_session_output_count(s); k++)
        if (!strcmp(nn_session_output_name(s, k), val)) io[j].out = k;
      if (io[j].out < 0) {
        free(used);
        st = nn_errorf(NN_ERR_INVALID, "state '%s=%s': the model has no output '%s'", nm, val, val);
        goto done;
      }
      if ((st = zeros_like_input(s, j, &io[j].value))) {
        free(used);
        goto done;
      }
    } else if (o.consts && list_value(o.consts, nm, val, sizeof val)) {
      io[j].role = 2;
      if ((st = zeros_like_input(s, j, &io[j].value))) {
        free(used);
        goto done;
      }
      const nn_dtype_traits *tr = nn_dtype_traits_of(io[j].value.dtype);
      if (!tr || !tr->from_f64 || nn_array_numel(&io[j].value) != 1) {
        free(used);
        st = nn_errorf(NN_ERR_INVALID, "constant input '%s' must be a numeric scalar", nm);
        goto done;
      }
      tr->from_f64(io[j].value.data, atof(val));
    }
  }
  /* Dataset arrays to model inputs: same name first, then the rest in order. */
  for (int j = 0; j < n_in; j++) {
    map[j] = -1;
    names[j] = nn_session_input_name(s, j);
    if (io[j].role) continue;
    for (int k = 0; k < n_ds; k++)
      if (!used[k] && !strcmp(nn_dataset_input_name(ds, k), names[j])) {
        map[j] = k;
        used[k] = 1;
        break;
      }
  }
  for (int j = 0; j < n_in; j++) {
    if (map[j] >= 0 || io[j].role) continue;
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
  if (o.chunk > 0) batch = 1;
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
      if (io[j].role) continue;
      st = nn_array_convert(&b.inputs[map[j]], want[j], names[j]);
      args[j] = b.inputs[map[j]];
    }
    if (!st && o.chunk > 0) {
      int data_j = 0;
      for (int j = 0; j < n_in; j++)
        if (!io[j].role) data_j = j;
      st = run_stream(s, &o, io, n_in, names, args, data_j, &b.inputs[map[data_j]], out_idx,
                      metric, &b.label);
      if (st) {
        nn_error_prefix(st, "sample %lld", (long long)first);
        break;
      }
      nn_batch_release(&b);
      if (o.progress) o.progress(o.user, first + n, total);
      continue;
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
  for (int j = 0; io && j < n_in_saved; j++) free(io[j].value.data);
  free(io);
  free(map);
  free(names);
  free(args);
  return st;
}
