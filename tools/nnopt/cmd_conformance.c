/*
 * cmd_conformance.c - `nnopt conformance`: run ONNX backend test cases (model.onnx +
 * test_data_set_N/{input,output}_K.pb) and compare outputs at the suite's tolerance.
 * Each case runs in a child process with a time limit, so a crash or hang is reported
 * as a failure of that case instead of ending the run.
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

enum { R_PASS = 0, R_FAIL = 1, R_UNSUPPORTED = 2 };

static int is_dir(const char *p) {
  struct stat sb;
  return !stat(p, &sb) && S_ISDIR(sb.st_mode);
}
static int is_file(const char *p) {
  struct stat sb;
  return !stat(p, &sb) && S_ISREG(sb.st_mode);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted list of entries of dir starting with prefix. */
static int list_dir(const char *dir, const char *prefix, char ***out) {
  DIR *d = opendir(dir);
  int n = 0, cap = 0;
  char **v = NULL;
  *out = NULL;
  if (!d) return 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (strncmp(e->d_name, prefix, strlen(prefix))) continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 16;
      char **nv = realloc(v, (size_t)cap * sizeof *v);
      if (!nv) break;
      v = nv;
    }
    v[n++] = strdup(e->d_name);
  }
  closedir(d);
  if (n) qsort(v, (size_t)n, sizeof *v, cmp_str);
  *out = v;
  return n;
}

static void free_list(char **v, int n) {
  for (int i = 0; i < n; i++) free(v[i]);
  free(v);
}

/* Numeric order of input_K.pb / output_K.pb (input_10 after input_9). */
static int cmp_numbered(const void *a, const void *b) {
  const char *x = *(char *const *)a, *y = *(char *const *)b;
  const char *ux = strchr(x, '_'), *uy = strchr(y, '_');
  return (ux ? atoi(ux + 1) : 0) - (uy ? atoi(uy + 1) : 0);
}

/* Run one test case; write a one-line reason into msg. Runs in the child. */
static int run_case(const char *dir, double rtol, double atol, char *msg, size_t len) {
  char path[4096];
  nn_model *m = NULL;
  nn_session *s = NULL;
  nn_status st;
  int result = R_PASS;
  char **sets = NULL;
  int nsets = 0;
  snprintf(path, sizeof path, "%s/model.onnx", dir);
  if ((st = nn_model_load(path, &m))) {
    snprintf(msg, len, "load: %s", nn_last_error());
    return st == NN_ERR_UNSUPPORTED ? R_UNSUPPORTED : R_FAIL;
  }
  if ((st = nn_session_create(m, NULL, &s))) {
    snprintf(msg, len, "%s", nn_last_error());
    nn_model_free(m);
    return st == NN_ERR_UNSUPPORTED ? R_UNSUPPORTED : R_FAIL;
  }
  nsets = list_dir(dir, "test_data_set_", &sets);
  if (!nsets) {
    snprintf(msg, len, "no test_data_set_* folders");
    result = R_FAIL;
  }
  for (int d = 0; d < nsets && result == R_PASS; d++) {
    char sd[4096];
    snprintf(sd, sizeof sd, "%s/%s", dir, sets[d]);
    char **ins = NULL, **outs = NULL;
    int nin = list_dir(sd, "input_", &ins), nout = list_dir(sd, "output_", &outs);
    if (nin) qsort(ins, (size_t)nin, sizeof *ins, cmp_numbered);
    if (nout) qsort(outs, (size_t)nout, sizeof *outs, cmp_numbered);
    cli_inputs in = {0};
    for (int k = 0; k < nin && result == R_PASS; k++) {
      snprintf(path, sizeof path, "%s/%s", sd, ins[k]);
      if ((st = cli_inputs_add(&in, path))) {
        snprintf(msg, len, "%s", nn_last_error());
        result = st == NN_ERR_UNSUPPORTED || st == NN_ERR_PARSE ? R_UNSUPPORTED : R_FAIL;
      }
    }
    /* Names in .pb files are usually the graph input names; otherwise positional. */
    for (int k = 0; k < in.count && result == R_PASS; k++) {
      int known = 0;
      for (int j = 0; in.names[k] && j < nn_session_input_count(s); j++)
        known |= !strcmp(in.names[k], nn_session_input_name(s, j));
      if (!known && k < nn_session_input_count(s)) {
        free(in.names[k]);
        in.names[k] = strdup(nn_session_input_name(s, k));
      }
    }
    /* The suite stores bfloat16 data as uint16 (numpy has no bfloat16). */
    for (int k = 0; k < in.count; k++)
      for (int j = 0; in.names[k] && j < nn_session_input_count(s); j++) {
        nn_dtype dt;
        if (!strcmp(in.names[k], nn_session_input_name(s, j)) &&
            !nn_session_input_info(s, j, &dt, NULL, NULL) && dt == NN_BFLOAT16 &&
            in.arrays[k].dtype == NN_UINT16)
          in.arrays[k].dtype = NN_BFLOAT16;
      }
    if (result == R_PASS &&
        (st = nn_session_run(s, in.count, (const char *const *)in.names, in.arrays))) {
      snprintf(msg, len, "run: %s", nn_last_error());
      result = st == NN_ERR_UNSUPPORTED ? R_UNSUPPORTED : R_FAIL;
    }
    for (int k = 0; k < nout && result == R_PASS; k++) {
      nn_array want;
      snprintf(path, sizeof path, "%s/%s", sd, outs[k]);
      if ((st = nn_array_read(path, &want, NULL))) {
        snprintf(msg, len, "%s", nn_last_error());
        result = R_UNSUPPORTED;
        break;
      }
      if (k >= nn_session_output_count(s)) {
        snprintf(msg, len, "model has fewer outputs than the test data");
        result = R_FAIL;
      } else {
        nn_compare c;
        const nn_array *got = nn_session_output(s, k);
        if (got->dtype == NN_BFLOAT16 && want.dtype == NN_UINT16) want.dtype = NN_BFLOAT16;
        nn_array_compare(got, &want, rtol, atol, &c);
        if (!c.shape_ok) {
          char g1[128], g2[128];
          snprintf(msg, len, "output '%s': got %s %s, expected %s %s",
                   nn_session_output_name(s, k), nn_dtype_name(got->dtype),
                   cli_shape_str(got, g1, sizeof g1), nn_dtype_name(want.dtype),
                   cli_shape_str(&want, g2, sizeof g2));
          result = R_FAIL;
        } else if (c.mismatches) {
          snprintf(msg, len, "output '%s': %lld mismatches (first at %lld), max_abs=%.3g",
                   nn_session_output_name(s, k), (long long)c.mismatches,
                   (long long)c.first_bad, c.max_abs);
          result = R_FAIL;
        }
      }
      nn_array_release(&want);
    }
    cli_inputs_free(&in);
    free_list(ins, nin);
    free_list(outs, nout);
  }
  free_list(sets, nsets);
  nn_session_free(s);
  nn_model_free(m);
  return result;
}

static int run_isolated(const char *dir, double rtol, double atol, int timeout, char *msg,
                        size_t len) {
  int fds[2];
  if (pipe(fds)) return run_case(dir, rtol, atol, msg, len);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    alarm((unsigned)timeout);
    char buf[1024] = "";
    int r = run_case(dir, rtol, atol, buf, sizeof buf);
    ssize_t w = write(fds[1], buf, strlen(buf));
    (void)w;
    _exit(r);
  }
  close(fds[1]);
  size_t got = 0;
  ssize_t r;
  while (got + 1 < len && (r = read(fds[0], msg + got, len - 1 - got)) > 0) got += (size_t)r;
  msg[got] = 0;
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) {
    snprintf(msg, len, "%s (signal %d)",
             WTERMSIG(status) == SIGALRM ? "timed out" : "crashed", WTERMSIG(status));
    return R_FAIL;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : R_FAIL;
}

static void collect(const char *root, char ***cases, int *n) {
  char path[4096];
  snprintf(path, sizeof path, "%s/model.onnx", root);
  if (is_file(path)) {
    *cases = realloc(*cases, (size_t)(*n + 1) * sizeof **cases);
    (*cases)[(*n)++] = strdup(root);
    return;
  }
  char **ents;
  int ne = list_dir(root, "", &ents);
  for (int i = 0; i < ne; i++) {
    if (ents[i][0] == '.') continue;
    snprintf(path, sizeof path, "%s/%s", root, ents[i]);
    if (is_dir(path)) collect(path, cases, n);
  }
  free_list(ents, ne);
}

int cmd_conformance(int argc, char **argv) {
  const char *filter = NULL;
  const char *skips[64];
  int nskips = 0, skipped = 0;
  int verbose = 0, timeout = 60, ncases = 0, counts[3] = {0};
  double rtol = 1e-3, atol = 1e-7;
  char **cases = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--filter") && i + 1 < argc)
      filter = argv[++i];
    else if (!strcmp(argv[i], "--skip") && i + 1 < argc && nskips < 64)
      skips[nskips++] = argv[++i];
    else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose"))
      verbose = 1;
    else if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
      timeout = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--rtol") && i + 1 < argc)
      rtol = atof(argv[++i]);
    else if (!strcmp(argv[i], "--atol") && i + 1 < argc)
      atol = atof(argv[++i]);
    else if (argv[i][0] == '-')
      return cli_usage("conformance", "unknown option '%s'", argv[i]);
    else if (!is_dir(argv[i]))
      return cli_usage("conformance", "'%s' is not a folder", argv[i]);
    else
      collect(argv[i], &cases, &ncases);
  }
  if (!ncases) return cli_usage("conformance", "no test cases found (give DIR)");
  static const char *names[] = {"pass", "FAIL", "unsupported"};
  for (int i = 0; i < ncases; i++) {
    if (filter && !strstr(cases[i], filter)) continue;
    const char *base = strrchr(cases[i], '/');
    base = base ? base + 1 : cases[i];
    int skip = 0;
    for (int k = 0; k < nskips; k++) skip |= !strcmp(skips[k], base);
    if (skip) {
      printf("%-11s %s\n", "skipped", base);
      skipped++;
      continue;
    }
    char msg[1024] = "";
    int r = run_isolated(cases[i], rtol, atol, timeout, msg, sizeof msg);
    if (r < 0 || r > 2) r = R_FAIL;
    counts[r]++;
    if (verbose || r != R_PASS)
      printf("%-11s %s%s%s\n", names[r], base, *msg ? ": " : "", msg);
  }
  printf("%d passed, %d failed, %d unsupported, %d skipped\n", counts[R_PASS],
         counts[R_FAIL], counts[R_UNSUPPORTED], skipped);
  free_list(cases, ncases);
  return counts[R_FAIL] ? CLI_FAILED : CLI_OK;
}
