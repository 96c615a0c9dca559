/*
 * main.c - the nnopt command-line tool: dispatch to one subcommand per file.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct command {
  const char *name;
  int (*fn)(int argc, char **argv);
  const char *help;
} command;

static const command g_commands[] = {
    {"inspect", cmd_inspect, "MODEL [--json]: opsets, I/O, ops, parameters, MACs"},
    {"run", cmd_run,
     "MODEL --input NAME=FILE ... [--output-dir DIR] [--compare REF] [--threads N] [--optimize]"},
    {"quantize", cmd_quantize,
     "IN -o OUT --calib SPEC [--method M] [--eval SPEC --metric M]: static INT8 QDQ"},
    {"analyze", cmd_analyze,
     "MODEL --calib SPEC --eval SPEC [--metric M] [--max-drop X] [-o OUT] [--json F] "
     "[--html F]: why INT8 loses accuracy, and a mixed-precision fix"},
    {"simplify", cmd_simplify,
     "IN -o OUT [--lower-qdq]: fold constants, remove dead nodes, record shapes"},
    {"ops", cmd_ops, ": list the ops the runtime supports"},
    {"bench", cmd_bench,
     "MODEL [--input NAME=FILE] [--threads N] [--runs N] [--warmup N] [--optimize]\n"
     "               [--profile [--top N]] [--json]"},
    {"eval", cmd_eval,
     "MODEL --data SPEC --metric top1|top5|accuracy|f1|miou|cer|vad-f1 [--limit N] [--json]"},
    {"conformance", cmd_conformance,
     "DIR... [--filter S] [--skip NAME] [-v]: run ONNX backend tests, compare outputs"},
};

int cli_fail(nn_status st) {
  fprintf(stderr, "nnopt: error: %s\n", *nn_last_error() ? nn_last_error() : nn_status_name(st));
  return CLI_ERROR;
}

int cli_usage(const char *cmd, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "nnopt %s: ", cmd);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, " (see 'nnopt help')\n");
  return CLI_USAGE;
}

static void usage(FILE *f) {
  fprintf(f, "nnopt %s - model optimization toolkit for ONNX\n\nusage: nnopt COMMAND ...\n\n",
          NNOPT_VERSION);
  for (size_t i = 0; i < sizeof g_commands / sizeof g_commands[0]; i++)
    fprintf(f, "  %-12s %s\n", g_commands[i].name, g_commands[i].help);
}

int main(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help") ||
      !strcmp(argv[1], "-h")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? CLI_USAGE : CLI_OK;
  }
  if (!strcmp(argv[1], "--version")) {
    printf("nnopt %s\n", NNOPT_VERSION);
    return CLI_OK;
  }
  for (size_t i = 0; i < sizeof g_commands / sizeof g_commands[0]; i++)
    if (!strcmp(argv[1], g_commands[i].name)) return g_commands[i].fn(argc - 1, argv + 1);
  fprintf(stderr, "nnopt: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return CLI_USAGE;
}
