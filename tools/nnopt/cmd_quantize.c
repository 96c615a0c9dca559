/*
 * cmd_quantize.c - `nnopt quantize IN -o OUT (--calib SPEC | --dynamic | --weight-only F)`:
 * static INT8 post-training quantization to a QDQ model, dynamic quantization of
 * MatMul/Gemm, or weight-only int8/fp16 compression or block-wise int4 (MatMulNBits, round
 * to nearest or GPTQ with --gptq --calib), with a before/after table of file size,
 * parameter bytes, accuracy (when --eval is given) and single-thread latency.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "core/graph.h"
#include "quant/quantize.h"

typedef struct measured {
  long long file_bytes;
  long long param_bytes;
  int has_metric;
  double metric;
  long long samples;
  double latency_ms;
} measured;

static long long file_size(const char *path) {
  struct stat sb;
  return stat(path, &sb) ? -1 : (long long)sb.st_size;
}

static long long param_bytes(const nn_model *m) {
  long long n = 0;
  for (int k = 0; k < m->graph->n_inits; k++) n += (long long)m->graph->tensors[m->graph->inits[k]].nbytes;
  return n;
}

/* Latency on the first sample of ds (or of the calibration set). */
static nn_status latency(const nn_model *m, nn_dataset *ds, double *ms) {
  nn_session *s = NULL;
  nn_batch b = {0};
  nn_status st = nn_session_create(m, NULL, &s);
  if (!st) st = nn_dataset_get(ds, 0, 1, &b);
  if (!st) {
    /* Dataset arrays to model inputs by name, else by position; extra arrays (e.g.
     * token_type_ids for a model without them) are left out. */
    const char *names[16];
    nn_array arrays[16];
    int n = 0;
    for (int k = 0; k < b.count && n < 16; k++) {
      const char *nm = nn_dataset_input_name(ds, k);
      int known = 0;
      for (int j = 0; j < nn_session_input_count(s); j++)
        known |= !strcmp(nm, nn_session_input_name(s, j));
      if (!known && k >= nn_session_input_count(s)) continue;
      names[n] = known ? nm : nn_session_input_name(s, k);
      arrays[n++] = b.inputs[k];
    }
    nn_bench_result r;
    st = nn_session_benchmark(s, n, names, arrays, 3, 20, &r);
    if (!st) *ms = r.median_ms;
  }
  nn_batch_release(&b);
  nn_session_free(s);
  return st;
}

static nn_status measure(const nn_model *m, const char *path, nn_dataset *eval,
                         const char *metric_name, nn_dataset *bench_ds, measured *out) {
  nn_status st = NN_OK;
  memset(out, 0, sizeof *out);
  out->file_bytes = file_size(path);
  out->param_bytes = param_bytes(m);
  if (eval) {
    nn_metric *metric = NULL;
    nn_eval_result r;
    nn_eval_options eo = {0};
    eo.progress = cli_progress;
    if ((st = nn_metric_create(metric_name, NULL, &metric))) return st;
    st = nn_evaluate(m, eval, metric, &eo, &r);
    nn_metric_free(metric);
    cli_progress_done();
    if (st) return st;
    out->has_metric = 1;
    out->metric = r.value;
    out->samples = r.samples;
  }
  if (!bench_ds) return NN_OK; /* latency needs a sample: --calib or --eval */
  return latency(m, bench_ds, &out->latency_ms);
}

int cmd_quantize(int argc, char **argv) {
  const char *in = NULL, *out = NULL, *calib_spec = NULL, *eval_spec = NULL;
  const char *metric = "top1", *method = "minmax";
  const char *excl[64];
  int rc = CLI_OK;
  nn_ptq_options po = {0};
  po.calib.bits = 8;
  po.quant.per_channel = 1;
  int64_t calib_size = 500, eval_limit = 0;
  int dynamic = 0, weight_only = -1;
  enum { WEIGHTS_INT4 = 100 }; /* --weight-only int4: MatMulNBits, not nn_weight_format */
  nn_int4_options i4 = {0};
  int gptq = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int more = i + 1 < argc;
    if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && more) out = argv[++i];
    else if (!strcmp(a, "--calib") && more) calib_spec = argv[++i];
    else if (!strcmp(a, "--calib-size") && more) calib_size = atoll(argv[++i]);
    else if (!strcmp(a, "--method") && more) method = argv[++i];
    else if (!strcmp(a, "--percentile") && more) po.calib.percentile = atof(argv[++i]);
    else if (!strcmp(a, "--per-tensor")) po.quant.per_channel = 0;
    else if (!strcmp(a, "--dynamic")) dynamic = 1;
    else if (!strcmp(a, "--weight-only") && more) {
      const char *f = argv[++i];
      if (!strcmp(f, "int8")) weight_only = NN_WEIGHTS_INT8;
      else if (!strcmp(f, "fp16")) weight_only = NN_WEIGHTS_FP16;
      else if (!strcmp(f, "int4")) weight_only = WEIGHTS_INT4;
      else return cli_usage("quantize", "--weight-only takes int8, int4 or fp16, not '%s'", f);
    }
    else if (!strcmp(a, "--block-size") && more) {
      i4.block_size = atoi(argv[++i]);
      if (i4.block_size < 16 || (i4.block_size & (i4.block_size - 1)))
        return cli_usage("quantize", "--block-size takes a power of two >= 16 (32, 64, 128)");
    }
    else if (!strcmp(a, "--gptq")) gptq = 1;
    else if (!strcmp(a, "--symmetric")) i4.symmetric = 1;
    else if (!strcmp(a, "--act-int8")) po.quant.act_signed = 1;
    else if (!strcmp(a, "--act-symmetric")) po.quant.act_signed = po.quant.act_symmetric = 1;
    else if (!strcmp(a, "--keep-first-last")) po.quant.keep_first_last = 1;
    else if (!strcmp(a, "--equalize")) po.equalize = 4;
    else if (!strcmp(a, "--bias-correction")) po.bias_correction = 1;
    else if (!strcmp(a, "--smooth-quant") && more) {
      po.smooth_alpha = (float)atof(argv[++i]);
      if (!(po.smooth_alpha > 0 && po.smooth_alpha < 1))
        return cli_usage("quantize", "--smooth-quant takes an alpha in (0, 1)");
    }
    else if (!strcmp(a, "--exclude") && more && po.quant.n_exclude < 64) excl[po.quant.n_exclude++] = argv[++i];
    else if (!strcmp(a, "--eval") && more) eval_spec = argv[++i];
    else if (!strcmp(a, "--metric") && more) metric = argv[++i];
    else if (!strcmp(a, "--eval-limit") && more) eval_limit = atoll(argv[++i]);
    else if (a[0] == '-') return cli_usage("quantize", "unknown option '%s'", a);
    else if (!in) in = a;
    else return cli_usage("quantize", "unexpected argument '%s'", a);
  }
  int modes = (calib_spec && !gptq) + dynamic + (weight_only >= 0);
  if (!in || !out || modes != 1)
    return cli_usage("quantize", "usage: nnopt quantize IN.onnx -o OUT.onnx "
                                 "(--calib SPEC | --dynamic | --weight-only int8|int4|fp16 "
                                 "[--block-size N] [--gptq --calib SPEC])");
  if (gptq && (weight_only != WEIGHTS_INT4 || !calib_spec))
    return cli_usage("quantize", "--gptq needs --weight-only int4 and --calib SPEC");
  if ((i4.block_size || i4.symmetric) && weight_only != WEIGHTS_INT4)
    return cli_usage("quantize", "--block-size and --symmetric apply to --weight-only int4 only");
  int mth = nn_calib_method_parse(method);
  if (mth < 0) return cli_usage("quantize", "unknown --method '%s' (minmax, percentile, entropy, mse)", method);
  po.calib.method = (nn_calib_method)mth;
  po.quant.exclude = excl;
  po.config.limit = calib_size;
  po.config.progress = cli_progress;

  nn_model *m = NULL, *q = NULL;
  nn_dataset *calib = NULL, *eval = NULL;
  nn_quant_report rep = {0};
  measured before, after;
  nn_status st;
  nn_dataset_options eo = {eval_limit};
  if ((st = nn_model_load(in, &m)) ||
      (calib_spec && (st = nn_dataset_open(calib_spec, NULL, &calib))) ||
      (eval_spec && (st = nn_dataset_open(eval_spec, &eo, &eval)))) {
    rc = cli_fail(st);
    goto done;
  }
  if (calib && nn_dataset_count(calib) <= 0) {
    rc = cli_fail(nn_errorf(NN_ERR_INVALID, "%s: the calibration dataset is empty", calib_spec));
    goto done;
  }
  nn_dataset *bench_ds = calib ? calib : eval;
  if ((st = measure(m, in, eval, metric, bench_ds, &before))) {
    rc = cli_fail(st);
    goto done;
  }
  if (dynamic) {
    st = nn_quantize_dynamic(m, &po.quant, &rep);
  } else if (weight_only == WEIGHTS_INT4) {
    i4.calib = gptq ? calib : NULL;
    i4.config = po.config;
    if (gptq) fprintf(stderr, "GPTQ: collecting Hessians over %lld samples\n",
                      (long long)(calib_size > 0 && calib_size < nn_dataset_count(calib)
                                      ? calib_size : nn_dataset_count(calib)));
    st = nn_quantize_weights_int4(m, &i4, &po.quant, &rep);
    cli_progress_done();
  } else if (weight_only >= 0) {
    st = nn_quantize_weights_only(m, (nn_weight_format)weight_only, &po.quant, &rep);
  } else {
    fprintf(stderr, "calibrating on %lld samples (%s)\n",
            (long long)(calib_size > 0 && calib_size < nn_dataset_count(calib)
                            ? calib_size
                            : nn_dataset_count(calib)),
            method);
    st = nn_ptq_static(m, calib, &po, &rep);
    cli_progress_done();
  }
  nn_save_options so = {0};
  so.allow_overwrite_input = !strcmp(in, out);
  if (st || (st = nn_model_save(m, out, &so))) {
    rc = cli_fail(st);
    goto done;
  }
  if (rep.notes) fputs(rep.notes, stderr);
  /* Measure what was written, as a user would load it. */
  if ((st = nn_model_load(out, &q)) || (st = measure(q, out, eval, metric, bench_ds, &after))) {
    rc = cli_fail(st);
    goto done;
  }
  const char *kind = dynamic ? "int8 (dynamic)"
                     : weight_only == NN_WEIGHTS_INT8 ? "int8 weights"
                     : weight_only == NN_WEIGHTS_FP16 ? "fp16 weights"
                     : weight_only == WEIGHTS_INT4 ? (gptq ? "int4 (GPTQ)" : "int4 (RTN)")
                                                      : "int8 (QDQ)";
  printf("\n%-28s %16s %16s %10s\n", "", "float", kind, "ratio");
  printf("%-28s %13.2f MB %13.2f MB %9.2fx\n", "file size", before.file_bytes / 1e6,
         after.file_bytes / 1e6, (double)after.file_bytes / (double)before.file_bytes);
  printf("%-28s %13.2f MB %13.2f MB %9.2fx\n", "parameter bytes", before.param_bytes / 1e6,
         after.param_bytes / 1e6, (double)after.param_bytes / (double)before.param_bytes);
  if (before.has_metric) {
    char label[64];
    snprintf(label, sizeof label, "%s (%lld samples)", metric, before.samples);
    printf("%-28s %15.2f%% %15.2f%% %+9.2f pt\n", label, 100 * before.metric,
           100 * after.metric, 100 * (after.metric - before.metric));
  }
  if (before.latency_ms > 0)
    printf("%-28s %13.3f ms %13.3f ms %9.2fx\n", "latency (1 thread, median)",
           before.latency_ms, after.latency_ms, after.latency_ms / before.latency_ms);
  if (weight_only >= 0)
    printf("%d weight tensors stored as %s\n", rep.weights,
           weight_only == NN_WEIGHTS_FP16 ? "float16"
           : weight_only == WEIGHTS_INT4   ? "int4 blocks (MatMulNBits)"
                                           : "int8");
  else
    printf("%d ops quantized, %d weights int8, %d quantizable ops kept in float\n",
           rep.quantized_nodes, rep.weights, rep.float_nodes);
  if (rep.bias_corrected)
    printf("%d biases corrected for the weight quantization shift\n", rep.bias_corrected);
done:
  nn_quant_report_free(&rep);
  nn_dataset_free(calib);
  nn_dataset_free(eval);
  nn_model_free(m);
  nn_model_free(q);
  return rc;
}
