/*
 * bench.h - per-node profile of a session (bench.c); nn_session_benchmark is public.
 */
#ifndef NN_EVAL_BENCH_H
#define NN_EVAL_BENCH_H

#include <stdio.h>

#include "nnopt.h"

/* Time of each node of the executed graph (nn_session_graph(s)) per run, averaged over
 * runs: the observer is called on the calling thread when a node has finished, so the
 * time between two calls is the node that just ran (its parallel parts included).
 * node_ms[i] = -1 for nodes that never ran (folded at plan time); *run_ms (may be NULL)
 * gets the mean run time. */
nn_status nn_session_node_times(nn_session *s, int n, const char *const *names,
                                const nn_array *inputs, int runs, double *node_ms,
                                double *run_ms);

/* Run s runs times with an observer that charges the time between node completions to
 * the node that finished; print time per op type and the top slowest nodes to out. The
 * graph is the one the session executes (QDQ models: the lowered integer graph). */
nn_status nn_session_profile(nn_session *s, int n, const char *const *names,
                             const nn_array *inputs, int runs, int top, FILE *out);

#endif
