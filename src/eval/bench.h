/*
 * bench.h - per-node profile of a session (bench.c); nn_session_benchmark is public.
 */
#ifndef NN_EVAL_BENCH_H
#define NN_EVAL_BENCH_H

#include <stdio.h>

#include "nnopt.h"

/* Run s runs times with an observer that charges the time between node completions to
 * the node that finished; print time per op type and the top slowest nodes to out. The
 * graph is the one the session executes (QDQ models: the lowered integer graph). */
nn_status nn_session_profile(nn_session *s, int n, const char *const *names,
                             const nn_array *inputs, int runs, int top, FILE *out);

#endif
