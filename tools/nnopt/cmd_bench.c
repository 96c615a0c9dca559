/*
 * cmd_bench.c - `nnopt bench`: latency of a model on given (or generated) inputs:
 * warm-up runs, then timed runs one by one (nn_session_benchmark) reported as median,
 * p90, mean and min, CPU time per run and the peak resident memory of the process;
 * --optimize applies the graph rewrites first (BN folding, Conv+Relu/Clip fusion);
 * --profile adds time per op type and the --top N (15) slowest nodes.
 * The numbers that bench/compare_latency.sh sets against ONNX Runtime.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli.h"
#include "eval/bench.h"
#include "kernels/dispatch.h"

/* Deterministic inputs for the model inputs not given: floats in [0, 1), integers 1
 * (valid token ids and attention masks), booleans true. Symbolic dims become 1. */
static nn_status fill_missing(nn_session *s, cli_inputs *in) {
  for (int i = 0; i < nn_session_input_count(s); i++) {
    const char *name = nn_session_input_name(s, i);
    int given = 0;
    for (int j = 0; j < in->count; j++) given |= in->names[j] && !strcmp(in->names[j], name);
    if (given) continue;
    nn_dtype dt;
    int ndim;
    int64_t dims[NN_MAX_DIMS];
    nn_status st = nn_session_input_info(s, i, &dt, &ndim, dims);
    if (st) return st;
    if (ndim < 0) ndim = 0;
    nn_array a;
    memset(&a, 0, sizeof a);
    a.dtype = dt;
    a.ndim = ndim;
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) {
      a.dims[d] = dims[d] < 0 ? 1 : dims[d];
      n *= a.dims[d];
    }
    const size_t es = nn_dtype_size(dt);
    if (!es || dt == NN_STRING) {
      fprintf(stderr, "nnopt bench: input '%s' has dtype %s: give it with --input\n", name,
              nn_dtype_name(dt));
      return NN_ERR_INVALID;
    }
    a.nbytes = (size_t)n * es;
    a.data = calloc(a.nbytes ? a.nbytes : 1, 1);
    char **names = realloc(in->names, (size_t)(in->count + 1) * sizeof *names);
    nn_array *arrays = names ? realloc(in->arrays, (size_t)(in->count + 1) * sizeof *arrays) : NULL;
    if (names) in->names = names;
    if (arrays) in->arrays = arrays;
    if (!a.data || !names || !arrays) {
      free(a.data);
      return NN_ERR_NOMEM;
    }
    uint32_t r = 2463534242u;
    for (int64_t k = 0; k < n; k++) {
      r ^= r << 13, r ^= r >> 17, r ^= r << 5;
      const double u = (double)(r >> 8) / 16777216.0;
      switch (dt) {
      case NN_FLOAT: ((float *)a.data)[k] = (float)u; break;
      case NN_DOUBLE: ((double *)a.data)[k] = u; break;
      case NN_INT64: ((int64_t *)a.data)[k] = 1; break;
      case NN_INT32: ((int32_t *)a.data)[k] = 1; break;
      case NN_BOOL: ((uint8_t *)a.data)[k] = 1; break;
      default: break; /* zeros */
      }
    }
    in->names[in->count] = strdup(name);
    in->arrays[in->count++] = a;
  }
  return NN_OK;
}

int cmd_bench(int argc, char **argv) {
  const char *model_path = NULL;
  int threads = 1, runs = 20, warmup = 3, json = 0, optimize = 0, profile = 0, top = 15;
  int rc = CLI_OK;
  cli_inputs in = {0};
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
    } else if ((!strcmp(a, "--threads") || !strcmp(a, "--runs") || !strcmp(a, "--warmup") ||
                !strcmp(a, "--top")) &&
               i + 1 < argc) {
      char *end;
      long v = strtol(argv[++i], &end, 10);
      if (*end || v < (strcmp(a, "--warmup") ? 1 : 0) || v > 100000) {
        rc = cli_usage("bench", "%s expects a positive integer, got '%s'", a, argv[i]);
        goto done;
      }
      if (!strcmp(a, "--threads")) threads = (int)v;
      else if (!strcmp(a, "--runs")) runs = (int)v;
      else if (!strcmp(a, "--top")) top = (int)v;
      else warmup = (int)v;
    } else if (!strcmp(a, "--json")) {
      json = 1;
    } else if (!strcmp(a, "--optimize")) {
      optimize = 1;
    } else if (!strcmp(a, "--profile")) {
      profile = 1;
    } else if (a[0] == '-') {
      rc = cli_usage("bench", "unknown option '%s'", a);
      goto done;
    } else if (!model_path) {
      model_path = a;
    } else {
      rc = cli_usage("bench", "unexpected argument '%s'", a);
      goto done;
    }
  }
  if ((rc = cli_open_session("bench", model_path, threads, optimize, &in, &m, &s))) goto done;
  if ((st = fill_missing(s, &in))) {
    rc = cli_fail(st);
    goto done;
  }
  /* Warm-up first, so the CPU time below covers the timed runs only. */
  for (int w = 0; w < warmup; w++)
    if ((st = nn_session_run(s, in.count, (const char *const *)in.names, in.arrays))) {
      rc = cli_fail(st);
      goto done;
    }
  nn_bench_result r;
  struct rusage ru0, ru;
  getrusage(RUSAGE_SELF, &ru0);
  if ((st = nn_session_benchmark(s, in.count, (const char *const *)in.names, in.arrays, 0,
                                 runs, &r))) {
    rc = cli_fail(st);
    goto done;
  }
  getrusage(RUSAGE_SELF, &ru);
  const long rss_kb = ru.ru_maxrss; /* kilobytes on Linux */
  /* CPU time of all threads per run (user + system), as bench/ort_run.mjs reports it:
   * on a loaded machine it is steadier than wall time. */
  const double cpu_ms =
      ((double)(ru.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru.ru_stime.tv_sec -
                ru0.ru_stime.tv_sec) * 1e3 +
       (double)(ru.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru.ru_stime.tv_usec -
                ru0.ru_stime.tv_usec) / 1e3) / r.runs;
  const char *isa = nn_isa_name(nn_kernels_get()->isa);
  if (json)
    printf("{\"runtime\":\"nnopt %s\",\"model\":\"%s\",\"threads\":%d,\"isa\":\"%s\","
           "\"optimized\":%s,"
           "\"runs\":%d,\"median_ms\":%.3f,\"p90_ms\":%.3f,\"mean_ms\":%.3f,\"min_ms\":%.3f,"
           "\"cpu_ms_per_run\":%.3f,\"peak_rss_kb\":%ld}\n",
           NNOPT_VERSION, model_path, threads, isa, optimize ? "true" : "false", r.runs, r.median_ms, r.p90_ms, r.mean_ms,
           r.min_ms, cpu_ms, rss_kb);
  else
    printf("%s: median %.3f ms  p90 %.3f ms  mean %.3f ms  min %.3f ms  cpu %.3f ms/run  "
           "(%d runs, %d thread%s, %s)  peak RSS %.1f MB\n",
           model_path, r.median_ms, r.p90_ms, r.mean_ms, r.min_ms, cpu_ms, r.runs, threads,
           threads == 1 ? "" : "s", isa, (double)rss_kb / 1024.0);
  if (profile && (st = nn_session_profile(s, in.count, (const char *const *)in.names,
                                          in.arrays, runs, top, json ? stderr : stdout)))
    rc = cli_fail(st);
done:
  nn_session_free(s);
  nn_model_free(m);
  cli_inputs_free(&in);
  return rc;
}
