/*
 * cli_inputs.c - parsing of --input NAME=FILE arguments shared by subcommands.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static nn_status push(cli_inputs *in, const char *name, nn_array *a) {
  char **names = realloc(in->names, (size_t)(in->count + 1) * sizeof *names);
  if (!names) return NN_ERR_NOMEM;
  in->names = names;
  nn_array *arrays = realloc(in->arrays, (size_t)(in->count + 1) * sizeof *arrays);
  if (!arrays) return NN_ERR_NOMEM;
  in->arrays = arrays;
  in->names[in->count] = name ? strdup(name) : NULL;
  in->arrays[in->count] = *a;
  in->count++;
  return NN_OK;
}

nn_status cli_inputs_add(cli_inputs *in, const char *spec) {
  const char *eq = strchr(spec, '=');
  const char *path = eq ? eq + 1 : spec;
  char *name = eq ? strndup(spec, (size_t)(eq - spec)) : NULL;
  nn_status st = NN_OK;
  size_t n = strlen(path);
  if (n > 4 && !strcmp(path + n - 4, ".npz")) {
    nn_npz z;
    if (!(st = nn_npz_read(path, &z))) {
      for (int i = 0; i < z.count && !st; i++) {
        st = push(in, z.names[i], &z.arrays[i]);
        if (!st) memset(&z.arrays[i], 0, sizeof z.arrays[i]);
      }
      nn_npz_release(&z);
    }
  } else {
    nn_array a;
    char *stored = NULL;
    if (!(st = nn_array_read(path, &a, &stored))) {
      st = push(in, name ? name : (stored && *stored ? stored : NULL), &a);
      if (st) nn_array_release(&a);
    }
    free(stored);
  }
  free(name);
  return st;
}

void cli_inputs_free(cli_inputs *in) {
  for (int i = 0; i < in->count; i++) {
    free(in->names[i]);
    nn_array_release(&in->arrays[i]);
  }
  free(in->names);
  free(in->arrays);
  memset(in, 0, sizeof *in);
}

const char *cli_shape_str(const nn_array *a, char *buf, size_t len) {
  size_t o = (size_t)snprintf(buf, len, "[");
  for (int i = 0; i < a->ndim && o < len; i++)
    o += (size_t)snprintf(buf + o, len - o, "%s%lld", i ? "," : "", (long long)a->dims[i]);
  if (o < len) snprintf(buf + o, len - o, "]");
  return buf;
}

/* Give unnamed inputs the names of the model inputs not named explicitly, in order. */
int cli_inputs_assign_names(cli_inputs *in, const nn_session *s) {
  int next = 0;
  for (int i = 0; i < in->count; i++) {
    if (in->names[i]) continue;
    for (; next < nn_session_input_count(s); next++) {
      const char *nm = nn_session_input_name(s, next);
      int taken = 0;
      for (int j = 0; j < in->count; j++) taken |= in->names[j] && !strcmp(in->names[j], nm);
      if (!taken) break;
    }
    if (next >= nn_session_input_count(s)) return -1;
    in->names[i] = strdup(nn_session_input_name(s, next++));
  }
  return 0;
}

int cli_open_session(const char *cmd, const char *model_path, int threads, int optimize,
                     cli_inputs *in, nn_model **m, nn_session **s) {
  nn_status st;
  if (!model_path) return cli_usage(cmd, "missing MODEL");
  nn_session_options opt;
  memset(&opt, 0, sizeof opt);
  opt.threads = threads;
  if ((st = nn_model_load(model_path, m)) || (optimize && (st = nn_model_optimize(*m))) ||
      (st = nn_session_create(*m, &opt, s)))
    return cli_fail(st);
  if (cli_inputs_assign_names(in, *s)) return cli_usage(cmd, "more inputs given than the model has");
  return CLI_OK;
}
