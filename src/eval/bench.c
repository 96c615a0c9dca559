/*
 * bench.c - latency of repeated session runs: warm-up, then each run timed alone;
 * median, p90, mean and minimum. And a per-node profile: the session observer is
 * called on the calling thread when each node has finished, so the time between two
 * calls is the time of the node that just ran (parallel parts included).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/graph.h"
#include "core/status.h"
#include "eval/bench.h"
#include "nnopt.h"
#include "runtime/session.h"

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

nn_status nn_session_benchmark(nn_session *s, int n, const char *const *names,
                               const nn_array *inputs, int warmup, int runs,
                               nn_bench_result *out) {
  if (runs < 1) runs = 1;
  double *t = malloc((size_t)runs * sizeof *t);
  if (!t) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  nn_status st = NN_OK;
  for (int i = 0; i < warmup && !st; i++) st = nn_session_run(s, n, names, inputs);
  for (int i = 0; i < runs && !st; i++) {
    double t0 = now_ms();
    st = nn_session_run(s, n, names, inputs);
    t[i] = now_ms() - t0;
  }
  if (!st) {
    double sum = 0;
    for (int i = 0; i < runs; i++) sum += t[i];
    qsort(t, (size_t)runs, sizeof *t, cmp_double);
    out->runs = runs;
    out->median_ms = runs % 2 ? t[runs / 2] : (t[runs / 2 - 1] + t[runs / 2]) / 2;
    out->p90_ms = t[(int)((runs - 1) * 0.9 + 0.5)];
    out->mean_ms = sum / runs;
    out->min_ms = t[0];
  }
  free(t);
  return st;
}

typedef struct prof_ctx {
  const nn_graph *g;
  double last;
  double *node_ms;
  int *seen; /* run in which node i was last charged (multi-output nodes count once) */
  int run;
} prof_ctx;

static void prof_observe(void *user, int t, const nn_value *v) {
  (void)v;
  prof_ctx *c = user;
  double now = now_ms();
  int p = t >= 0 && t < c->g->n_tensors ? c->g->tensors[t].producer : -1;
  if (p >= 0 && c->seen[p] != c->run) {
    c->node_ms[p] += now - c->last;
    c->seen[p] = c->run;
  }
  c->last = now;
}

nn_status nn_session_node_times(nn_session *s, int n, const char *const *names,
                                const nn_array *inputs, int runs, double *node_ms,
                                double *run_ms) {
  const nn_graph *g = nn_session_graph(s);
  nn_status st = NN_OK;
  prof_ctx c = {g, 0, node_ms, calloc((size_t)g->n_nodes + 1, sizeof(int)), 0};
  if (!c.seen) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  for (int i = 0; i < g->n_nodes; i++) c.seen[i] = -1, node_ms[i] = 0;
  if (runs < 1) runs = 1;
  nn_session_set_observer(s, prof_observe, &c);
  double total = 0;
  for (c.run = 0; c.run < runs && !st; c.run++) {
    double t0 = c.last = now_ms();
    st = nn_session_run(s, n, names, inputs);
    total += now_ms() - t0;
  }
  nn_session_set_observer(s, NULL, NULL);
  for (int i = 0; i < g->n_nodes; i++) node_ms[i] = c.seen[i] < 0 ? -1 : node_ms[i] / runs;
  if (run_ms) *run_ms = total / runs;
  free(c.seen);
  return st;
}

typedef struct prof_row {
  const char *key;
  double ms;
  int count;
} prof_row;

static int cmp_row(const void *a, const void *b) {
  const prof_row *x = a, *y = b;
  return x->ms < y->ms ? 1 : x->ms > y->ms ? -1 : strcmp(x->key, y->key);
}

nn_status nn_session_profile(nn_session *s, int n, const char *const *names,
                             const nn_array *inputs, int runs, int top, FILE *out) {
  const nn_graph *g = nn_session_graph(s);
  nn_status st = NN_OK;
  double *node_ms = calloc((size_t)g->n_nodes + 1, sizeof *node_ms), total = 0;
  prof_row *ops = calloc((size_t)g->n_nodes + 1, sizeof *ops);
  prof_row *nodes = calloc((size_t)g->n_nodes + 1, sizeof *nodes);
  if (!node_ms || !ops || !nodes) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  if (runs < 1) runs = 1;
  NN_TRY(nn_session_node_times(s, n, names, inputs, runs, node_ms, &total));
  int nops = 0, nn = 0;
  double charged = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    if (node_ms[i] < 0) continue; /* folded at plan time */
    const nn_node *nd = &g->nodes[i];
    double ms = node_ms[i];
    charged += ms;
    char label[200];
    nn_node_label(g, i, label, sizeof label);
    int k = 0;
    while (k < nops && strcmp(ops[k].key, nd->op_type)) k++;
    if (k == nops) ops[nops++].key = nd->op_type;
    ops[k].ms += ms;
    ops[k].count++;
    nodes[nn].key = nd->name && nd->name[0] ? nd->name : nd->op_type;
    nodes[nn].ms = ms;
    nodes[nn++].count = i;
  }
  qsort(ops, (size_t)nops, sizeof *ops, cmp_row);
  qsort(nodes, (size_t)nn, sizeof *nodes, cmp_row);
  fprintf(out, "profile: %.3f ms per run over %d runs, %.3f ms in %d nodes\n", total, runs,
          charged, nn);
  fprintf(out, "%-28s %6s %10s %7s\n", "op", "nodes", "ms/run", "share");
  for (int k = 0; k < nops; k++)
    fprintf(out, "%-28s %6d %10.4f %6.1f%%\n", ops[k].key, ops[k].count, ops[k].ms,
            total > 0 ? 100 * ops[k].ms / total : 0);
  fprintf(out, "slowest nodes:\n");
  for (int k = 0; k < nn && k < top; k++)
    fprintf(out, "  %-56.56s %-18.18s %9.4f ms %5.1f%%\n", nodes[k].key,
            g->nodes[nodes[k].count].op_type, nodes[k].ms,
            total > 0 ? 100 * nodes[k].ms / total : 0);
done:
  free(node_ms);
  free(ops);
  free(nodes);
  return st;
}
