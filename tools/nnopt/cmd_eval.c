/*
 * cmd_eval.c - `nnopt eval MODEL --data SPEC --metric M`: score a model on a dataset,
 * with a progress bar on a terminal and text or JSON output.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int parse_num(const char *s, double *v) {
  char *end;
  *v = strtod(s, &end);
  return end != s && !*end && isfinite(*v);
}

int cmd_eval(int argc, char **argv) {
  const char *model_path = NULL, *spec = NULL, *metric_name = NULL;
  nn_metric_options mo = {0};
  nn_eval_options eo = {0};
  int json = 0, rc = CLI_OK, quiet = 0;
  double expect = NAN, tol = 0.1;
  nn_model *m = NULL;
  nn_dataset *ds = NULL;
  nn_metric *metric = NULL;
  nn_status st;

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int more = i + 1 < argc;
    double v;
    if (!strcmp(a, "--data") && more) spec = argv[++i];
    else if (!strcmp(a, "--metric") && more) metric_name = argv[++i];
    else if (!strcmp(a, "--json")) json = 1;
    else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) quiet = 1;
    else if (!strcmp(a, "--output") && more) eo.output = argv[++i];
    else if (!strcmp(a, "--charset") && more) mo.charset = argv[++i];
    else if (!strcmp(a, "--average") && more) mo.average = argv[++i];
    else if (!strcmp(a, "--state") && more) eo.state = argv[++i];
    else if (!strcmp(a, "--const") && more) eo.consts = argv[++i];
    else if ((!strcmp(a, "--limit") || !strcmp(a, "--batch") || !strcmp(a, "--threads") ||
              !strcmp(a, "--positive") || !strcmp(a, "--chunk") || !strcmp(a, "--context")) &&
             more) {
      if (!parse_num(argv[++i], &v) || v < 0 || v != floor(v) || v > 1e12) {
        rc = cli_usage("eval", "%s needs a non-negative integer, not '%s'", a, argv[i]);
        goto done;
      }
      if (!strcmp(a, "--limit")) eo.limit = (int64_t)v;
      else if (!strcmp(a, "--batch")) eo.batch = (int)v;
      else if (!strcmp(a, "--threads")) eo.threads = (int)v;
      else if (!strcmp(a, "--chunk")) eo.chunk = (int64_t)v;
      else if (!strcmp(a, "--context")) eo.context = (int64_t)v;
      else mo.positive = (int)v;
    } else if ((!strcmp(a, "--threshold") || !strcmp(a, "--expect") ||
                !strcmp(a, "--tolerance")) && more) {
      if (!parse_num(argv[++i], &v)) {
        rc = cli_usage("eval", "%s needs a number, not '%s'", a, argv[i]);
        goto done;
      }
      if (!strcmp(a, "--threshold")) mo.threshold = v;
      else if (!strcmp(a, "--expect")) expect = v;
      else tol = v;
    } else if (a[0] == '-') {
      rc = cli_usage("eval", "unknown option '%s'", a);
      goto done;
    } else if (!model_path) {
      model_path = a;
    } else {
      rc = cli_usage("eval", "unexpected argument '%s'", a);
      goto done;
    }
  }
  if (!model_path || !spec || !metric_name) {
    rc = cli_usage("eval", "usage: nnopt eval MODEL --data SPEC --metric %s",
                   "top1|top5|accuracy|f1|miou|cer|vad-f1");
    goto done;
  }
  nn_dataset_options dopt = {eo.limit};
  if ((st = nn_metric_create(metric_name, &mo, &metric)) ||
      (st = nn_model_load(model_path, &m)) || (st = nn_dataset_open(spec, &dopt, &ds))) {
    rc = cli_fail(st);
    goto done;
  }
  if (!quiet) eo.progress = cli_progress;
  nn_eval_result res;
  st = nn_evaluate(m, ds, metric, &eo, &res);
  cli_progress_done();
  if (st) {
    rc = cli_fail(st);
    goto done;
  }
  int pass = isnan(expect) || fabs(res.value * 100.0 - expect) <= tol + 1e-9;
  if (json) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", model_path);
    cJSON_AddStringToObject(o, "data", spec);
    cJSON_AddStringToObject(o, "metric", nn_metric_name(metric));
    cJSON_AddNumberToObject(o, "value", res.value);
    cJSON_AddNumberToObject(o, "samples", (double)res.samples);
    cJSON_AddNumberToObject(o, "seconds", res.seconds);
    const char *name;
    double v;
    for (int k = 0; k < nn_metric_extra(metric, k, &name, &v); k++)
      cJSON_AddNumberToObject(o, name, v);
    if (!isnan(expect)) {
      cJSON_AddNumberToObject(o, "expect", expect / 100.0);
      cJSON_AddBoolToObject(o, "pass", pass);
    }
    char *txt = cJSON_Print(o);
    if (txt) printf("%s\n", txt);
    free(txt);
    cJSON_Delete(o);
  } else {
    printf("%s: %.2f%% (%lld samples)\n", nn_metric_name(metric), res.value * 100.0,
           (long long)res.samples);
    const char *name;
    double v;
    for (int k = 0; k < nn_metric_extra(metric, k, &name, &v); k++)
      printf("%s: %.2f%%\n", name, v * 100.0);
    printf("time: %.2f s (%.3f ms/sample)\n", res.seconds,
           res.samples ? res.seconds * 1000.0 / (double)res.samples : 0.0);
    if (!isnan(expect))
      printf("expected %.2f%% +- %.2f: %s\n", expect, tol, pass ? "OK" : "FAIL");
  }
  if (!pass) rc = CLI_FAILED;
done:
  nn_dataset_free(ds);
  nn_metric_free(metric);
  nn_model_free(m);
  return rc;
}
