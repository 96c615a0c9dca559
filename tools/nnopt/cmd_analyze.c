/*
 * cmd_analyze.c - `nnopt analyze MODEL --calib SPEC --eval SPEC [--metric M]
 * [--max-drop X] [-o OUT] [--json FILE] [--html FILE]`: calibration
 * representativeness, per-layer error, sensitivity, mixed precision within a metric
 * budget and a verdict (src/eval/analyze.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/graph.h"
#include "eval/analyze.h"

static void stage_progress(void *user, const char *stage, int64_t done, int64_t total) {
  (void)user;
  (void)stage;
  cli_progress(NULL, done, total);
  if (done >= total) cli_progress_done();
}

static int usage(void) {
  return cli_usage(
      "analyze",
      "usage: nnopt analyze MODEL --calib SPEC --eval SPEC [--metric top1] [--calib-size N]\n"
      "       [--eval-size N] [--sens-size N] [--method minmax|percentile|entropy|mse]\n"
      "       [--per-tensor] [--act-int8] [--exclude NODE_OR_OP]... [--max-drop POINTS]\n"
      "       [--max-float-share F] [--float-type fp32|fp16] [--calib-only] [-o OUT.onnx]\n"
      "       [--json FILE] [--html FILE]");
}

int cmd_analyze(int argc, char **argv) {
  const char *model_path = NULL, *calib_spec = NULL, *eval_spec = NULL, *out = NULL;
  const char *json = NULL, *html = NULL, *method = "minmax";
  const char *excl[64];
  nn_analyze_options o;
  nn_analyze_defaults(&o);
  o.quant.exclude = excl;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int more = i + 1 < argc;
    if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && more) out = argv[++i];
    else if (!strcmp(a, "--calib") && more) calib_spec = argv[++i];
    else if (!strcmp(a, "--eval") && more) eval_spec = argv[++i];
    else if (!strcmp(a, "--metric") && more) o.metric = argv[++i];
    else if (!strcmp(a, "--calib-size") && more) o.calib_limit = atoll(argv[++i]);
    else if (!strcmp(a, "--eval-size") && more) o.eval_limit = atoll(argv[++i]);
    else if (!strcmp(a, "--sens-size") && more) o.sens_limit = atoll(argv[++i]);
    else if (!strcmp(a, "--method") && more) method = argv[++i];
    else if (!strcmp(a, "--percentile") && more) o.calib.percentile = atof(argv[++i]);
    else if (!strcmp(a, "--per-tensor")) o.quant.per_channel = 0;
    else if (!strcmp(a, "--act-int8")) o.quant.act_signed = 1;
    else if (!strcmp(a, "--exclude") && more && o.quant.n_exclude < 64)
      excl[o.quant.n_exclude++] = argv[++i];
    else if (!strcmp(a, "--max-drop") && more) o.max_drop = atof(argv[++i]);
    else if (!strcmp(a, "--max-float-share") && more) o.max_float_share = atof(argv[++i]);
    else if (!strcmp(a, "--calib-only")) o.calib_only = 1;
    else if (!strcmp(a, "--float-type") && more) {
      const char *t = argv[++i];
      if (strcmp(t, "fp16") && strcmp(t, "fp32"))
        return cli_usage("analyze", "--float-type takes fp32 or fp16, not '%s'", t);
      o.float16 = !strcmp(t, "fp16");
    }
    else if (!strcmp(a, "--json") && more) json = argv[++i];
    else if (!strcmp(a, "--html") && more) html = argv[++i];
    else if (a[0] == '-' && a[1]) return usage();
    else if (!model_path) model_path = a;
    else return usage();
  }
  if (!model_path || !calib_spec || !eval_spec) return usage();
  int mth = nn_calib_method_parse(method);
  if (mth < 0)
    return cli_usage("analyze", "unknown --method '%s' (minmax, percentile, entropy, mse)",
                     method);
  o.calib.method = (nn_calib_method)mth;
  if (o.max_float_share < 0 || o.max_float_share > 1)
    return cli_usage("analyze", "--max-float-share takes a fraction in [0, 1]");
  if (o.calib_limit < 0 || o.eval_limit < 0 || o.sens_limit < 0)
    return cli_usage("analyze", "sizes must not be negative");
  o.progress = stage_progress;
  nn_metric *probe = NULL;
  nn_status st = nn_metric_create(o.metric, NULL, &probe);
  nn_metric_free(probe);
  if (st) return cli_fail(st);

  nn_model *m = NULL, *best = NULL;
  nn_dataset *calib = NULL, *eval = NULL;
  nn_analysis an = {0};
  int rc = CLI_OK;
  if ((st = nn_model_load(model_path, &m)) || (st = nn_dataset_open(calib_spec, NULL, &calib)) ||
      (st = nn_dataset_open(eval_spec, NULL, &eval)) ||
      (st = nn_analyze(m, calib, eval, &o, &an, out ? &best : NULL))) {
    rc = cli_fail(st);
    goto done;
  }
  nn_analysis_print(&an, stdout);
  if (json && (st = nn_analysis_write_json(&an, json))) {
    rc = cli_fail(st);
    goto done;
  }
  if (html && (st = nn_analysis_write_html(&an, html))) {
    rc = cli_fail(st);
    goto done;
  }
  if (out) {
    if (!best || o.calib_only) {
      fprintf(stderr, "nnopt analyze: no candidate met the budget; %s not written\n", out);
      rc = CLI_FAILED;
      goto done;
    }
    nn_save_options so = {0};
    if ((st = nn_model_save(best, out, &so))) {
      rc = cli_fail(st);
      goto done;
    }
    printf("wrote %s\n", out);
  }
  if (o.calib_only ? !an.representative : an.chosen < 0 && o.max_drop >= 0) rc = CLI_FAILED;
done:
  nn_analysis_free(&an);
  nn_model_free(best);
  nn_model_free(m);
  nn_dataset_free(calib);
  nn_dataset_free(eval);
  return rc;
}
