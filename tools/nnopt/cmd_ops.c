/*
 * cmd_ops.c - `nnopt ops`: list the ops the runtime executes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int cmp(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int cmd_ops(int argc, char **argv) {
  (void)argv;
  if (argc > 1) return cli_usage("ops", "takes no arguments");
  const char *const *ops = nn_supported_ops();
  size_t n = 0;
  while (ops[n]) n++;
  const char **sorted = malloc((n + 1) * sizeof *sorted);
  if (!sorted) return CLI_ERROR;
  memcpy(sorted, ops, n * sizeof *sorted);
  qsort(sorted, n, sizeof *sorted, cmp);
  for (size_t i = 0; i < n; i++) printf("%s\n", sorted[i]);
  free(sorted);
  return CLI_OK;
}
