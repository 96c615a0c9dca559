/*
 * cmd_inspect.c - `nnopt inspect MODEL [--json]`.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cmd_inspect(int argc, char **argv) {
  const char *path = NULL;
  int json = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--json"))
      json = 1;
    else if (argv[i][0] == '-')
      return cli_usage("inspect", "unknown option '%s'", argv[i]);
    else if (!path)
      path = argv[i];
    else
      return cli_usage("inspect", "unexpected argument '%s'", argv[i]);
  }
  if (!path) return cli_usage("inspect", "missing MODEL");
  nn_model *m = NULL;
  nn_status st = nn_model_load(path, &m);
  if (!st) st = nn_model_inspect(m, stdout, json);
  nn_model_free(m);
  return st ? cli_fail(st) : CLI_OK;
}
