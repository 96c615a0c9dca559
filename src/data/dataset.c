/*
 * dataset.c - the dataset front end: parse a SPEC ("kind:path,key=value,..."), hand it
 * to the reader of that kind, and stack the samples readers produce into batches.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/graph.h"
#include "data/dataset.h"

/* ---- SPEC options ---- */

static void spec_opts_free(nn_spec_opts *o) {
  free(o->keys);
  free(o->values);
  free(o->used);
  free(o->storage);
  memset(o, 0, sizeof *o);
}

static nn_status spec_parse(const char *spec, nn_spec_opts *o) {
  memset(o, 0, sizeof *o);
  o->storage = nn_strdup(spec);
  if (!o->storage) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  char *colon = strchr(o->storage, ':');
  if (!colon || colon == o->storage)
    return nn_errorf(NN_ERR_INVALID,
                     "dataset spec '%s': expected KIND:PATH[,key=value...] "
                     "(KIND: idx, npz, npy, images, tsv, wav)",
                     spec);
  *colon = 0;
  o->kind = o->storage;
  o->path = colon + 1;
  int cap = 1;
  for (const char *p = o->path; *p; p++) cap += *p == ',';
  o->keys = calloc((size_t)cap, sizeof *o->keys);
  o->values = calloc((size_t)cap, sizeof *o->values);
  o->used = calloc((size_t)cap, 1);
  if (!o->keys || !o->values || !o->used) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  char *p = strchr(colon + 1, ',');
  if (p) *p++ = 0;
  while (p) {
    char *next = strchr(p, ',');
    if (next) *next++ = 0;
    char *eq = strchr(p, '=');
    if (!eq || eq == p)
      return nn_errorf(NN_ERR_INVALID, "dataset spec '%s': option '%s' is not key=value", spec,
                       p);
    *eq = 0;
    o->keys[o->n] = p;
    o->values[o->n] = eq + 1;
    o->n++;
    p = next;
  }
  if (!*o->path) return nn_errorf(NN_ERR_INVALID, "dataset spec '%s': empty path", spec);
  return NN_OK;
}

const char *nn_opt_str(nn_spec_opts *o, const char *key, const char *dflt) {
  const char *v = dflt;
  for (int i = 0; i < o->n; i++)
    if (!strcmp(o->keys[i], key)) {
      o->used[i] = 1;
      v = o->values[i];
    }
  return v;
}

nn_status nn_opt_int(nn_spec_opts *o, const char *key, int64_t dflt, int64_t *out) {
  const char *v = nn_opt_str(o, key, NULL);
  *out = dflt;
  if (!v) return NN_OK;
  char *end;
  errno = 0;
  long long x = strtoll(v, &end, 10);
  if (end == v || *end || errno)
    return nn_errorf(NN_ERR_INVALID, "%s: option %s=%s is not an integer", o->path, key, v);
  *out = x;
  return NN_OK;
}

nn_status nn_opt_double(nn_spec_opts *o, const char *key, double dflt, double *out) {
  const char *v = nn_opt_str(o, key, NULL);
  *out = dflt;
  if (!v) return NN_OK;
  char *end;
  errno = 0;
  double x = strtod(v, &end);
  if (end == v || *end || errno || !isfinite(x))
    return nn_errorf(NN_ERR_INVALID, "%s: option %s=%s is not a number", o->path, key, v);
  *out = x;
  return NN_OK;
}

nn_status nn_opt_size(nn_spec_opts *o, const char *key, int *w, int *h, int *single) {
  const char *v = nn_opt_str(o, key, NULL);
  *w = *h = 0;
  if (single) *single = 0;
  if (!v) return NN_OK;
  char *end;
  long a = strtol(v, &end, 10), b = a;
  int one = 1;
  if (end != v && (*end == 'x' || *end == 'X')) {
    const char *q = end + 1;
    b = strtol(q, &end, 10);
    one = 0;
    if (end == q) end = (char *)v;
  }
  if (end == v || *end || a <= 0 || b <= 0 || a > 65536 || b > 65536)
    return nn_errorf(NN_ERR_INVALID, "%s: option %s=%s: expected N or WxH (positive)",
                     o->path, key, v);
  *w = (int)a;
  *h = (int)b;
  if (single) *single = one;
  return NN_OK;
}

nn_status nn_opt_doubles(nn_spec_opts *o, const char *key, double *vals, int max, int *n) {
  const char *v = nn_opt_str(o, key, NULL);
  *n = 0;
  if (!v) return NN_OK;
  const char *p = v;
  for (;;) {
    char *end;
    errno = 0;
    double x = strtod(p, &end);
    if (end == p || errno || !isfinite(x) || *n >= max)
      return nn_errorf(NN_ERR_INVALID,
                       "%s: option %s=%s: expected up to %d numbers separated by ':'",
                       o->path, key, v, max);
    vals[(*n)++] = x;
    if (!*end) break;
    if (*end != ':' && *end != '+' && *end != '/')
      return nn_errorf(NN_ERR_INVALID, "%s: option %s=%s: expected numbers separated by ':'",
                       o->path, key, v);
    p = end + 1;
  }
  return NN_OK;
}

nn_status nn_dataset_single_input(nn_dataset *ds, nn_spec_opts *o) {
  ds->n_inputs = 1;
  ds->names = calloc(1, sizeof *ds->names);
  if (ds->names) ds->names[0] = nn_strdup(nn_opt_str(o, "name", "input"));
  if (!ds->names || !ds->names[0]) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  return NN_OK;
}

/* ---- open / free ---- */

void nn_dataset_free(nn_dataset *ds) {
  if (!ds) return;
  if (ds->free_impl) ds->free_impl(ds->impl);
  for (int i = 0; i < ds->n_inputs; i++) free(ds->names ? ds->names[i] : NULL);
  free(ds->names);
  for (int i = 0; i < ds->n_classes; i++) free(ds->classes[i]);
  free(ds->classes);
  free(ds->label);
  free(ds->index);
  free(ds);
}

/* classes=A:B:...: keep the records whose integer label is one of the listed class
 * ids; skip=N: drop the first N (kept) records, e.g. to take calibration and
 * evaluation samples from disjoint parts of one split. Labels are read once here. */
static nn_status select_records(nn_dataset *ds, nn_spec_opts *o) {
  double want[64];
  int n_want = 0;
  int64_t skip;
  nn_status st = nn_opt_doubles(o, "classes", want, 64, &n_want);
  if (!st) st = nn_opt_int(o, "skip", 0, &skip);
  if (st) return st;
  if (skip < 0)
    return nn_errorf(NN_ERR_INVALID, "%s: skip=%lld is negative", ds->label, (long long)skip);
  if (!n_want && !skip) return NN_OK;
  if (n_want && !ds->has_labels)
    return nn_errorf(NN_ERR_INVALID, "%s: classes= needs labels (labels=...)", ds->label);
  int64_t *idx = malloc((size_t)(ds->count + 1) * sizeof *idx), kept = 0, seen = 0;
  nn_array *in = calloc((size_t)ds->n_inputs + 1, sizeof *in);
  if (!idx || !in) {
    free(idx);
    free(in);
    return nn_errorf(NN_ERR_NOMEM, "out of memory");
  }
  for (int64_t r = 0; r < ds->count && !st; r++) {
    int keep = 1;
    if (n_want) {
      nn_array label = {0};
      st = ds->get(ds, r, in, &label);
      int64_t v = -1;
      if (!st && label.data && (label.dtype == NN_INT64 || label.dtype == NN_INT32))
        v = label.dtype == NN_INT64 ? *(const int64_t *)label.data
                                    : *(const int32_t *)label.data;
      else if (!st)
        st = nn_errorf(NN_ERR_INVALID, "%s: record %lld: classes= needs integer class labels",
                       ds->label, (long long)r);
      keep = 0;
      for (int k = 0; k < n_want; k++) keep |= (double)v == want[k];
      for (int k = 0; k < ds->n_inputs; k++) nn_array_release(&in[k]);
      nn_array_release(&label);
    }
    if (keep && seen++ >= skip) idx[kept++] = r;
  }
  free(in);
  if (st) {
    free(idx);
    return st;
  }
  if (!kept) {
    free(idx);
    return nn_errorf(NN_ERR_INVALID, "%s: no record left after classes=/skip=", ds->label);
  }
  ds->index = idx;
  ds->count = kept;
  return NN_OK;
}

nn_status nn_dataset_open(const char *spec, const nn_dataset_options *opt, nn_dataset **out) {
  nn_status st = NN_OK;
  nn_spec_opts o;
  nn_dataset *ds = NULL;
  *out = NULL;
  if (!spec) return nn_errorf(NN_ERR_INVALID, "dataset spec is NULL");
  NN_TRY(spec_parse(spec, &o));
  ds = calloc(1, sizeof *ds);
  if (!ds || !(ds->label = nn_strdup(o.path))) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  static const struct {
    const char *kind;
    nn_status (*open)(nn_dataset *, nn_spec_opts *);
  } kinds[] = {{"idx", nn_dataset_open_idx},       {"npz", nn_dataset_open_npz},
               {"npy", nn_dataset_open_npy},       {"images", nn_dataset_open_images},
               {"tsv", nn_dataset_open_tsv},       {"wav", nn_dataset_open_wav}};
  int k = -1;
  for (int i = 0; i < (int)(sizeof kinds / sizeof kinds[0]); i++)
    if (!strcmp(o.kind, kinds[i].kind)) k = i;
  if (k < 0) {
    st = nn_errorf(NN_ERR_INVALID,
                   "dataset spec '%s': unknown kind '%s' (idx, npz, npy, images, tsv, wav)",
                   spec, o.kind);
    goto done;
  }
  NN_TRY(kinds[k].open(ds, &o));
  NN_TRY(select_records(ds, &o));
  for (int i = 0; i < o.n; i++)
    if (!o.used[i]) {
      st = nn_errorf(NN_ERR_INVALID, "dataset spec '%s': unknown option '%s' for %s", spec,
                     o.keys[i], o.kind);
      goto done;
    }
  if (opt && opt->limit > 0 && opt->limit < ds->count) ds->count = opt->limit;
  *out = ds;
  ds = NULL;
done:
  nn_dataset_free(ds);
  spec_opts_free(&o);
  return st;
}

int64_t nn_dataset_count(const nn_dataset *ds) { return ds ? ds->count : 0; }
int nn_dataset_input_count(const nn_dataset *ds) { return ds ? ds->n_inputs : 0; }
const char *nn_dataset_input_name(const nn_dataset *ds, int i) {
  return ds && i >= 0 && i < ds->n_inputs ? ds->names[i] : NULL;
}
int nn_dataset_has_labels(const nn_dataset *ds) { return ds ? ds->has_labels : 0; }
const char *nn_dataset_class_name(const nn_dataset *ds, int64_t v) {
  return ds && v >= 0 && v < ds->n_classes ? ds->classes[v] : NULL;
}

/* ---- batches ---- */

void nn_batch_release(nn_batch *b) {
  if (!b) return;
  for (int i = 0; i < b->count; i++) nn_array_release(&b->inputs[i]);
  free(b->inputs);
  nn_array_release(&b->label);
  memset(b, 0, sizeof *b);
}

static const char *shape_str(const nn_array *a, char *buf, size_t len) {
  size_t o = (size_t)snprintf(buf, len, "[");
  for (int i = 0; i < a->ndim && o < len; i++)
    o += (size_t)snprintf(buf + o, len - o, "%s%lld", i ? "," : "", (long long)a->dims[i]);
  if (o < len) snprintf(buf + o, len - o, "]");
  return buf;
}

/* Move sample src (record k of n) into its slot of dst, which the first record sizes.
 * String payloads change owner; src is emptied either way. */
static nn_status stack(nn_array *dst, nn_array *src, int64_t k, int64_t n, int64_t record,
                       const nn_dataset *ds, const char *what) {
  nn_status st = NN_OK;
  if (k == 0) {
    if (n == 1) {
      *dst = *src;
      memset(src, 0, sizeof *src);
      return NN_OK;
    }
    size_t bytes;
    if (src->ndim < 1 || !nn_mul_size(src->nbytes, (size_t)n, &bytes)) {
      st = nn_errorf(NN_ERR_INVALID, "%s: record %lld: %s has no batch dimension", ds->label,
                     (long long)record, what);
      goto done;
    }
    *dst = *src;
    dst->dims[0] = src->dims[0] * n;
    dst->nbytes = bytes;
    dst->data = calloc(1, bytes ? bytes : 1); /* zeroed: a partial string batch frees cleanly */
    if (!dst->data) {
      memset(dst, 0, sizeof *dst);
      st = nn_errorf(NN_ERR_NOMEM, "out of memory stacking a batch of %lld", (long long)n);
      goto done;
    }
  } else {
    int same = src->dtype == dst->dtype && src->ndim == dst->ndim &&
               src->nbytes * (size_t)n == dst->nbytes && src->dims[0] * n == dst->dims[0];
    for (int d = 1; same && d < src->ndim; d++) same = src->dims[d] == dst->dims[d];
    if (!same) {
      char a[128], b[128];
      nn_array first = *dst;
      first.dims[0] /= n;
      st = nn_errorf(NN_ERR_INVALID,
                     "%s: record %lld: %s is %s %s but record %lld is %s %s; "
                     "samples of different shapes need batch 1",
                     ds->label, (long long)record, what, nn_dtype_name(src->dtype),
                     shape_str(src, a, sizeof a), (long long)(record - k),
                     nn_dtype_name(dst->dtype), shape_str(&first, b, sizeof b));
      goto done;
    }
  }
  memcpy((char *)dst->data + (size_t)k * src->nbytes, src->data, src->nbytes);
  if (src->dtype == NN_STRING) { /* the nn_bytes now belong to dst */
    free(src->data);
    memset(src, 0, sizeof *src);
  }
done:
  nn_array_release(src);
  return st;
}

nn_status nn_dataset_get(nn_dataset *ds, int64_t first, int64_t n, nn_batch *out) {
  nn_status st = NN_OK;
  nn_array *sample = NULL, label = {0};
  memset(out, 0, sizeof *out);
  if (!ds || n < 1 || first < 0 || first > ds->count - n)
    return nn_errorf(NN_ERR_INVALID, "%s: samples %lld..%lld out of range (count %lld)",
                     ds ? ds->label : "dataset", (long long)first, (long long)(first + n - 1),
                     (long long)(ds ? ds->count : 0));
  out->first = first;
  out->n = n;
  out->count = ds->n_inputs;
  out->inputs = calloc((size_t)ds->n_inputs, sizeof *out->inputs);
  sample = calloc((size_t)ds->n_inputs, sizeof *sample);
  if (!out->inputs || !sample) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  for (int64_t k = 0; k < n; k++) {
    NN_TRY(ds->get(ds, ds->index ? ds->index[first + k] : first + k, sample, &label));
    for (int i = 0; i < ds->n_inputs; i++) {
      char what[300];
      snprintf(what, sizeof what, "input '%s'", ds->names[i]);
      NN_TRY(stack(&out->inputs[i], &sample[i], k, n, first + k, ds, what));
    }
    if (ds->has_labels) NN_TRY(stack(&out->label, &label, k, n, first + k, ds, "the label"));
    nn_array_release(&label);
  }
done:
  if (sample)
    for (int i = 0; i < ds->n_inputs; i++) nn_array_release(&sample[i]);
  free(sample);
  nn_array_release(&label);
  if (st) nn_batch_release(out);
  return st;
}
