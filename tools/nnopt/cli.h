/*
 * cli.h - shared pieces of the nnopt command-line tool (one file per subcommand).
 */
#ifndef NNOPT_CLI_H
#define NNOPT_CLI_H

#include "nnopt.h"

/* Exit codes: 0 success, 1 the check a command performs failed (mismatch, failing
 * tests), 2 usage error, 3 the library reported an error (message on stderr). */
enum { CLI_OK = 0, CLI_FAILED = 1, CLI_USAGE = 2, CLI_ERROR = 3 };

/* Print "nnopt: <last library error>" and return CLI_ERROR. */
int cli_fail(nn_status st);
/* Print "nnopt <cmd>: <message>" for a usage error and return CLI_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...);

/* Named input tensors gathered from --input arguments. */
typedef struct cli_inputs {
  int count;
  char **names;
  nn_array *arrays;
} cli_inputs;
/* Parse "NAME=FILE" or "FILE" (.npy/.pb/.npz; an .npz adds all its members). A
 * missing name is filled later from the model's input order. */
nn_status cli_inputs_add(cli_inputs *in, const char *spec);
void cli_inputs_free(cli_inputs *in);
/* Give unnamed inputs the names of the model inputs not named explicitly, in order;
 * -1 when more inputs were given than the model has. */
int cli_inputs_assign_names(cli_inputs *in, const nn_session *s);
/* Load MODEL (optionally nn_model_optimize it), create a session with threads and name
 * the unnamed inputs; returns CLI_OK or the exit code after printing the error. The
 * caller frees *m and *s either way. */
int cli_open_session(const char *cmd, const char *model_path, int threads, int optimize,
                     cli_inputs *in, nn_model **m, nn_session **s);
/* Progress bar on stderr when it is a terminal (an nn_*_options progress callback);
 * cli_progress_done() marks the end of a task, so the next one restarts the clock. */
void cli_progress(void *user, int64_t done, int64_t total);
void cli_progress_done(void);
/* Format a shape as "[1,3,224,224]". */
const char *cli_shape_str(const nn_array *a, char *buf, size_t len);

int cmd_inspect(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_conformance(int argc, char **argv);
int cmd_simplify(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_ops(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_analyze(int argc, char **argv);

#endif
