/*
 * cmd_run.c - `nnopt run`: execute a model on tensors from files, write or compare
 * its outputs.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static void sanitize(const char *name, char *out, size_t len) {
  size_t i = 0;
  for (; name[i] && i + 1 < len; i++)
    out[i] = (name[i] == '/' || name[i] == ':' || name[i] == '\\') ? '_' : name[i];
  out[i] = 0;
}

static void describe(const char *name, const nn_array *a) {
  char shape[256];
  printf("output '%s': %s %s", name, nn_dtype_name(a->dtype), cli_shape_str(a, shape, sizeof shape));
  int64_t n = nn_array_numel(a);
  if (a->dtype == NN_FLOAT && n > 0) {
    const float *f = a->data;
    double mn = f[0], mx = f[0], sum = 0;
    int64_t arg = 0;
    for (int64_t i = 0; i < n; i++) {
      if (f[i] < mn) mn = f[i];
      if (f[i] > mx) mx = f[i], arg = i;
      sum += f[i];
    }
    printf(" min=%.6g max=%.6g mean=%.6g argmax=%lld", mn, mx, sum / (double)n, (long long)arg);
  }
  printf("\n");
}

int cmd_run(int argc, char **argv) {
  const char *model_path = NULL, *out_dir = NULL, *compare = NULL;
  double rtol = 1e-4, atol = 1e-5;
  int repeat = 1, threads = 1, optimize = 0, rc = CLI_OK;
  cli_inputs in = {0}, ref = {0};
  nn_model *m = NULL;
  nn_session *s = NULL;
  nn_status st;

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if ((!strcmp(a, "--input") || !strcmp(a, "-i")) && i + 1 < argc) {
      if ((st = cli_inputs_add(&in, argv[++i]))) {
        rc = cli_fail(st);
        goto done;
      }
    } else if (!strcmp(a, "--output-dir") && i + 1 < argc) {
      out_dir = argv[++i];
    } else if (!strcmp(a, "--compare") && i + 1 < argc) {
      compare = argv[++i];
    } else if (!strcmp(a, "--rtol") && i + 1 < argc) {
      rtol = atof(argv[++i]);
    } else if (!strcmp(a, "--atol") && i + 1 < argc) {
      atol = atof(argv[++i]);
    } else if (!strcmp(a, "--repeat") && i + 1 < argc) {
      repeat = atoi(argv[++i]);
    } else if (!strcmp(a, "--threads") && i + 1 < argc) {
      threads = atoi(argv[++i]);
    } else if (!strcmp(a, "--optimize")) {
      optimize = 1;
    } else if (a[0] == '-') {
      rc = cli_usage("run", "unknown option '%s'", a);
      goto done;
    } else if (!model_path) {
      model_path = a;
    } else {
      rc = cli_usage("run", "unexpected argument '%s'", a);
      goto done;
    }
  }
  if ((rc = cli_open_session("run", model_path, threads, optimize, &in, &m, &s))) goto done;
  for (int r = 0; r < (repeat < 1 ? 1 : repeat); r++)
    if ((st = nn_session_run(s, in.count, (const char *const *)in.names, in.arrays))) {
      rc = cli_fail(st);
      goto done;
    }

  if (out_dir) mkdir(out_dir, 0755);
  if (compare) {
    size_t n = strlen(compare);
    struct stat sb;
    if (!stat(compare, &sb) && S_ISDIR(sb.st_mode)) {
      for (int k = 0; k < nn_session_output_count(s); k++) {
        char file[4096], clean[1024];
        sanitize(nn_session_output_name(s, k), clean, sizeof clean);
        snprintf(file, sizeof file, "%s/%s.npy", compare, clean);
        char spec[5200];
        snprintf(spec, sizeof spec, "%s=%s", nn_session_output_name(s, k), file);
        if ((st = cli_inputs_add(&ref, spec))) {
          rc = cli_fail(st);
          goto done;
        }
      }
    } else if ((st = cli_inputs_add(&ref, compare))) {
      rc = cli_fail(st);
      goto done;
    }
    (void)n;
  }
  for (int k = 0; k < nn_session_output_count(s); k++) {
    const char *name = nn_session_output_name(s, k);
    const nn_array *a = nn_session_output(s, k);
    describe(name, a);
    if (out_dir) {
      char file[4096], clean[1024];
      sanitize(name, clean, sizeof clean);
      snprintf(file, sizeof file, "%s/%s.npy", out_dir, clean);
      if ((st = nn_array_write_npy(file, a))) {
        rc = cli_fail(st);
        goto done;
      }
    }
    if (compare) {
      int found = -1;
      for (int j = 0; j < ref.count; j++)
        if (ref.names[j] && !strcmp(ref.names[j], name)) found = j;
      if (found < 0 && ref.count == nn_session_output_count(s) && !ref.names[k]) found = k;
      if (found < 0) {
        printf("%s: no reference\n", name);
        rc = CLI_FAILED;
        continue;
      }
      nn_compare c;
      nn_array_compare(a, &ref.arrays[found], rtol, atol, &c);
      printf("%s: max_abs=%.3g max_rel=%.3g mismatches=%lld %s\n", name, c.max_abs,
             c.max_rel, (long long)c.mismatches,
             !c.shape_ok ? "FAIL (dtype/shape differ)" : c.mismatches ? "FAIL" : "OK");
      if (!c.shape_ok || c.mismatches) rc = CLI_FAILED;
    }
  }
  printf("activation memory: %zu bytes, weights: %zu bytes\n", nn_session_activation_bytes(s),
         nn_session_weight_bytes(s));
done:
  nn_session_free(s);
  nn_model_free(m);
  cli_inputs_free(&in);
  cli_inputs_free(&ref);
  return rc;
}
