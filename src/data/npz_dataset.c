/*
 * npz_dataset.c - datasets held in .npz archives or .npy files: dimension 0 of every
 * array indexes samples; a sample is the slice [i:i+1] of each selected array.
 */
#include <stdlib.h>
#include <string.h>

#include "core/graph.h"
#include "data/dataset.h"

typedef struct npz_impl {
  nn_npz z;        /* every member; arrays used are referenced by index */
  int *input_idx;  /* n_inputs member indices */
  int label_idx;   /* -1 when no labels */
  nn_array npy[2]; /* npy: input, label (z unused) */
  const nn_array **arrays; /* n_inputs + 1 (label) views */
} npz_impl;

static void npz_free(void *impl) {
  npz_impl *x = impl;
  if (!x) return;
  nn_npz_release(&x->z);
  nn_array_release(&x->npy[0]);
  nn_array_release(&x->npy[1]);
  free(x->input_idx);
  free(x->arrays);
  free(x);
}

static nn_status slice(const nn_array *a, int64_t i, nn_array *out) {
  size_t row = a->dims[0] ? a->nbytes / (size_t)a->dims[0] : 0;
  *out = *a;
  out->dims[0] = 1;
  out->nbytes = row;
  out->data = malloc(row ? row : 1);
  if (!out->data) {
    memset(out, 0, sizeof *out);
    return nn_errorf(NN_ERR_NOMEM, "out of memory");
  }
  memcpy(out->data, (const char *)a->data + (size_t)i * row, row);
  return NN_OK;
}

static nn_status npz_get(nn_dataset *ds, int64_t i, nn_array *inputs, nn_array *label) {
  npz_impl *x = ds->impl;
  nn_status st;
  for (int k = 0; k < ds->n_inputs; k++)
    if ((st = slice(x->arrays[k], i, &inputs[k]))) return st;
  if (ds->has_labels) return slice(x->arrays[ds->n_inputs], i, label);
  return NN_OK;
}

/* Check the arrays agree on the sample count and record it. */
static nn_status check_rows(nn_dataset *ds, const char *path, const char *name, const nn_array *a) {
  if (a->ndim < 1)
    return nn_errorf(NN_ERR_INVALID, "%s: '%s' is a scalar; dimension 0 must index samples", path,
                     name);
  if (a->dtype == NN_STRING)
    return nn_errorf(NN_ERR_UNSUPPORTED, "%s: '%s': string arrays are not supported", path, name);
  if (ds->count >= 0 && a->dims[0] != ds->count)
    return nn_errorf(NN_ERR_INVALID, "%s: '%s' has %lld rows but other arrays have %lld", path,
                     name, (long long)a->dims[0], (long long)ds->count);
  ds->count = a->dims[0];
  return NN_OK;
}

nn_status nn_dataset_open_npz(nn_dataset *ds, nn_spec_opts *o) {
  nn_status st = NN_OK;
  char *list = NULL;
  npz_impl *x = calloc(1, sizeof *x);
  if (!x) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  ds->impl = x;
  ds->free_impl = npz_free;
  ds->get = npz_get;
  ds->count = -1;
  x->label_idx = -1;
  const char *inputs = nn_opt_str(o, "inputs", NULL), *labels = nn_opt_str(o, "labels", NULL);
  NN_TRY(nn_npz_read(o->path, &x->z));
  if (labels) {
    for (int i = 0; i < x->z.count; i++)
      if (!strcmp(x->z.names[i], labels)) x->label_idx = i;
    if (x->label_idx < 0) {
      st = nn_errorf(NN_ERR_INVALID, "%s: no array named '%s' (labels)", o->path, labels);
      goto done;
    }
    ds->has_labels = 1;
  }
  x->input_idx = calloc((size_t)x->z.count + 1, sizeof *x->input_idx);
  ds->names = calloc((size_t)x->z.count + 1, sizeof *ds->names);
  if (!x->input_idx || !ds->names) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  if (inputs) {
    list = nn_strdup(inputs);
    if (!list) {
      st = nn_errorf(NN_ERR_NOMEM, "out of memory");
      goto done;
    }
    char *save = NULL;
    for (char *tok = strtok_r(list, "+", &save); tok; tok = strtok_r(NULL, "+", &save)) {
      int found = -1;
      for (int i = 0; i < x->z.count; i++)
        if (!strcmp(x->z.names[i], tok)) found = i;
      if (found < 0) {
        st = nn_errorf(NN_ERR_INVALID, "%s: no array named '%s' (inputs)", o->path, tok);
        goto done;
      }
      if (ds->n_inputs >= x->z.count) {
        st = nn_errorf(NN_ERR_INVALID, "%s: inputs=%s lists an array twice", o->path, inputs);
        goto done;
      }
      x->input_idx[ds->n_inputs] = found;
      ds->names[ds->n_inputs++] = nn_strdup(tok);
    }
  } else {
    for (int i = 0; i < x->z.count; i++)
      if (i != x->label_idx) {
        x->input_idx[ds->n_inputs] = i;
        ds->names[ds->n_inputs++] = nn_strdup(x->z.names[i]);
      }
  }
  if (ds->n_inputs == 0) {
    st = nn_errorf(NN_ERR_INVALID, "%s: no input arrays", o->path);
    goto done;
  }
  x->arrays = calloc((size_t)ds->n_inputs + 1, sizeof *x->arrays);
  if (!x->arrays) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  for (int k = 0; k < ds->n_inputs; k++) {
    if (!ds->names[k]) {
      st = nn_errorf(NN_ERR_NOMEM, "out of memory");
      goto done;
    }
    x->arrays[k] = &x->z.arrays[x->input_idx[k]];
    NN_TRY(check_rows(ds, o->path, ds->names[k], x->arrays[k]));
  }
  if (ds->has_labels) {
    x->arrays[ds->n_inputs] = &x->z.arrays[x->label_idx];
    NN_TRY(check_rows(ds, o->path, labels, x->arrays[ds->n_inputs]));
  }
done:
  free(list);
  return st;
}

nn_status nn_dataset_open_npy(nn_dataset *ds, nn_spec_opts *o) {
  nn_status st = NN_OK;
  npz_impl *x = calloc(1, sizeof *x);
  if (!x) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  ds->impl = x;
  ds->free_impl = npz_free;
  ds->get = npz_get;
  ds->count = -1;
  x->label_idx = -1;
  const char *labels = nn_opt_str(o, "labels", NULL);
  NN_TRY(nn_dataset_single_input(ds, o));
  x->arrays = calloc(2, sizeof *x->arrays);
  if (!x->arrays) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  NN_TRY(nn_array_read(o->path, &x->npy[0], NULL));
  x->arrays[0] = &x->npy[0];
  NN_TRY(check_rows(ds, o->path, ds->names[0], &x->npy[0]));
  if (labels) {
    NN_TRY(nn_array_read(labels, &x->npy[1], NULL));
    x->arrays[1] = &x->npy[1];
    NN_TRY(check_rows(ds, labels, "labels", &x->npy[1]));
    ds->has_labels = 1;
  }
done:
  return st;
}
