/*
 * model_outputs.c - run a model on the first N samples of a dataset, one sample per
 * run, and write the stacked first output as .npy, or compare it with one written by
 * another build (the x86 build's, for the ARM64 cross build under qemu-aarch64).
 *
 *   model_outputs MODEL --data SPEC --limit N --write OUT.npy
 *   model_outputs MODEL --data SPEC --limit N --compare REF.npy [--rtol R] [--atol A]
 *
 * Single-input models only. The comparison passes when every element is within |got - want| <= atol + rtol*|want|
 * (rtol = atol = 0: bit-exact) and every sample's argmax agrees.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/dispatch.h"
#include "nnopt.h"

/* One line naming the file or spec (the library's message usually names it already). */
static int fail(const char *what) {
  const char *err = nn_last_error();
  if (strstr(err, what)) fprintf(stderr, "model_outputs: %s\n", err);
  else fprintf(stderr, "model_outputs: %s: %s\n", what, err);
  return 2;
}

static int64_t argmax(const float *x, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; i++)
    if (x[i] > x[best]) best = i;
  return best;
}

int main(int argc, char **argv) {
  const char *model_path = NULL, *spec = NULL, *write_path = NULL, *ref_path = NULL;
  int64_t limit = 0;
  double rtol = 0, atol = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int more = i + 1 < argc;
    if (!strcmp(a, "--data") && more) spec = argv[++i];
    else if (!strcmp(a, "--limit") && more) limit = atoll(argv[++i]);
    else if (!strcmp(a, "--write") && more) write_path = argv[++i];
    else if (!strcmp(a, "--compare") && more) ref_path = argv[++i];
    else if (!strcmp(a, "--rtol") && more) rtol = atof(argv[++i]);
    else if (!strcmp(a, "--atol") && more) atol = atof(argv[++i]);
    else if (a[0] != '-' && !model_path) model_path = a;
    else {
      fprintf(stderr, "model_outputs: unexpected argument '%s'\n", a);
      return 2;
    }
  }
  if (!model_path || !spec || limit <= 0 || !write_path == !ref_path) {
    fprintf(stderr, "usage: model_outputs MODEL --data SPEC --limit N "
                    "(--write OUT.npy | --compare REF.npy [--rtol R] [--atol A])\n");
    return 2;
  }

  int rc = 2;
  nn_model *m = NULL;
  nn_session *s = NULL;
  nn_dataset *ds = NULL;
  float *all = NULL;
  nn_array ref = {0};
  nn_dataset_options dopt = {.limit = limit};
  if (nn_model_load(model_path, &m)) return fail(model_path);
  if (nn_session_create(m, NULL, &s)) {
    rc = fail(model_path);
    goto done;
  }
  if (nn_dataset_open(spec, &dopt, &ds)) {
    rc = fail(spec);
    goto done;
  }
  const int64_t n = nn_dataset_count(ds);
  const int n_in = nn_dataset_input_count(ds);
  /* One model input fed by the dataset's one array, whatever its name. */
  if (n < limit || n_in != 1 || nn_session_input_count(s) != 1) {
    fprintf(stderr, "model_outputs: %s: %lld samples with %d inputs for %d model inputs, "
                    "need %lld samples and one input\n",
            spec, (long long)n, n_in, nn_session_input_count(s), (long long)limit);
    goto done;
  }
  const char *names[1] = {nn_session_input_name(s, 0)};

  int64_t per = 0, correct = 0;
  for (int64_t k = 0; k < n; k++) {
    nn_batch b = {0};
    if (nn_dataset_get(ds, k, 1, &b)) {
      rc = fail(spec);
      goto done;
    }
    nn_status st = nn_session_run(s, b.count, names, b.inputs);
    const nn_array *y = st ? NULL : nn_session_output(s, 0);
    if (y && (y->dtype != NN_FLOAT || nn_array_numel(y) < 1 ||
              (per && nn_array_numel(y) != per))) {
      fprintf(stderr, "model_outputs: %s: output '%s' of sample %lld is not float32 [1,C] "
                      "like the first\n", model_path, nn_session_output_name(s, 0), (long long)k);
      nn_batch_release(&b);
      goto done;
    }
    if (y && !per) {
      per = nn_array_numel(y);
      if (!(all = malloc((size_t)(n * per) * sizeof *all))) {
        fprintf(stderr, "model_outputs: out of memory\n");
        nn_batch_release(&b);
        goto done;
      }
    }
    if (y) {
      memcpy(all + k * per, y->data, (size_t)per * sizeof *all);
      if (b.label.dtype == NN_INT64 && nn_array_numel(&b.label) == 1)
        correct += argmax(all + k * per, per) == *(const int64_t *)b.label.data;
    }
    nn_batch_release(&b);
    if (st) {
      rc = fail(model_path);
      goto done;
    }
  }

  const char *isa = nn_isa_name(nn_kernels_get()->isa);
  nn_array got = {.dtype = NN_FLOAT, .ndim = 2, .dims = {n, per}, .data = all,
                  .nbytes = (size_t)(n * per) * sizeof *all};
  printf("%s on %lld samples (ISA %s): top1 %lld/%lld\n", model_path, (long long)n, isa,
         (long long)correct, (long long)n);
  if (write_path) {
    if (nn_array_write_npy(write_path, &got)) {
      rc = fail(write_path);
      goto done;
    }
    rc = 0;
    goto done;
  }
  if (nn_array_read(ref_path, &ref, NULL)) {
    rc = fail(ref_path);
    goto done;
  }
  nn_compare c;
  nn_array_compare(&got, &ref, rtol, atol, &c);
  if (!c.shape_ok) {
    fprintf(stderr, "model_outputs: %s: reference is not float32 [%lld,%lld]\n", ref_path,
            (long long)n, (long long)per);
    rc = 1;
    goto done;
  }
  int64_t agree = 0;
  for (int64_t k = 0; k < n; k++)
    agree += argmax(all + k * per, per) == argmax((const float *)ref.data + k * per, per);
  printf("vs %s (rtol %g, atol %g): max_abs %.3g, max_rel %.3g, %lld of %lld values "
         "outside, argmax agrees on %lld/%lld\n",
         ref_path, rtol, atol, c.max_abs, c.max_rel, (long long)c.mismatches,
         (long long)(n * per), (long long)agree, (long long)n);
  rc = c.mismatches == 0 && agree == n ? 0 : 1;
  printf("%d passed, %d failed\n", rc == 0, rc != 0);

done:
  nn_array_release(&ref);
  free(all);
  nn_dataset_free(ds);
  nn_session_free(s);
  nn_model_free(m);
  return rc;
}
