/*
 * session.h - internal interface of the executor (see nnopt.h for the public API).
 */
#ifndef NN_RUNTIME_SESSION_H
#define NN_RUNTIME_SESSION_H

#include "ops/op.h"

/* Grow a dynamic value's buffer to at least bytes (growth only; a run whose shapes
 * repeat does not allocate). */
nn_status nn_session_grow(struct nn_session *s, nn_value *v, size_t bytes);

/* A nested session executing a subgraph (If/Loop/Scan bodies). Names the body does
 * not define are looked up in the enclosing session's values at run time. */
typedef struct nn_subsession nn_subsession;
nn_status nn_subsession_create(struct nn_session *outer, const nn_graph *body,
                               nn_subsession **out);
/* Run the body with the given inputs (by position of body->inputs). Outputs are
 * available through nn_subsession_output() until the next run. */
nn_status nn_subsession_run(nn_subsession *s, int n_in, nn_value *const *inputs);
nn_value *nn_subsession_output(nn_subsession *s, int i);
void nn_subsession_free(nn_subsession *s);



/* Called after every node with each output it produced (and once per run for each
 * graph input), for calibration and debugging. The value is valid only during the
 * call. NULL removes the observer. */
typedef void (*nn_value_observer)(void *user, int tensor, const nn_value *v);
void nn_session_set_observer(struct nn_session *s, nn_value_observer fn, void *user);
/* The graph the session executes (a lowered private copy for QDQ models). */
const nn_graph *nn_session_graph(const struct nn_session *s);

/* Internal session flags. NN_SESSION_NO_PREPACK: float32 MatMul and Gemm keep no
 * packed copy of constant weights (the GEMM packs panels of the model's weights per
 * call instead), so a session adds no second copy of the weights to memory; used by
 * calibration (quant/calibrate.c). Results are the same, only slower per call. */
#define NN_SESSION_NO_PREPACK 1u
/* NN_SESSION_AS_WRITTEN: no channel-last rewrite (src/passes/nhwc.c), so every tensor
 * of the graph keeps its index, layout and values for observers (calibration, analysis,
 * SmoothQuant); QDQ models are still lowered. */
#define NN_SESSION_AS_WRITTEN 2u
nn_status nn_session_create_flags(const nn_model *m, const nn_session_options *opt,
                                  unsigned flags, nn_session **out);
/* Flags of s (of its outermost session for a subgraph body). */
unsigned nn_session_flags(const struct nn_session *s);

/* A session planned for shape inference: unknown/symbolic input dimensions are 1. */
nn_status nn_session_create_planned(const nn_model *m, nn_session **out);
/* A session planned with the inputs' values and shapes unknown: only what follows
 * from constants is inferred and folded. */
nn_status nn_session_create_constants_only(const nn_model *m, nn_session **out);
/* The value of graph tensor t after planning (shape, dtype; data when known). */
const nn_value *nn_session_value(const nn_session *s, int t);
/* Whether node i was folded into a constant at plan time. */
int nn_session_node_folded(const nn_session *s, int i);
/* The session's thread pool (NULL: one thread), created from nn_session_options.threads;
 * ops split their work over it (runtime/threadpool.h). */
struct nn_threadpool;
struct nn_threadpool *nn_session_threadpool(const struct nn_session *s);
#endif
