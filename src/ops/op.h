/*
 * op.h - the contract between the runtime and an op implementation.
 * An op has three phases, as in TFLite Micro: infer (dtype + shape of outputs, from
 * input dtypes/shapes and, when known, input values), prepare (validate attributes,
 * allocate per-node state, pack weights; once per plan) and run (compute; must not
 * allocate). The session calls infer at plan time with whatever values are known
 * (initializers, folded constants) and again at run time for outputs whose shape
 * depended on values not known at plan time.
 */
#ifndef NN_OPS_OP_H
#define NN_OPS_OP_H

#include "core/dtype.h"
#include "core/graph.h"

/* A runtime value: a dense tensor. data is NULL at plan time unless the value is
 * known (constant); at run time it points into the session's arena or a buffer. */
typedef struct nn_value {
  nn_dtype dtype;
  int ndim;
  int64_t dims[NN_MAX_DIMS];
  void *data;
  size_t nbytes;   /* bytes of the current shape */
  size_t capacity; /* bytes available at data (for dynamic outputs) */
  unsigned flags;  /* NN_V_* */
} nn_value;

enum {
  NN_V_CONST = 1u << 0,   /* value known before running (initializer or folded) */
  NN_V_DYNAMIC = 1u << 1, /* shape only known at run time; buffer grows on demand */
  NN_V_OWNED = 1u << 2,   /* data is malloc'ed by the session (not arena/model) */
};

struct nn_session;
typedef struct nn_op_def nn_op_def;

typedef struct nn_op_ctx {
  const nn_graph *graph;
  const nn_node *node;
  int node_index;
  const nn_op_def *def;
  int64_t opset;        /* opset version of the node's domain in the model */
  int n_in, n_out;
  nn_value **in;        /* in[i] is NULL for an omitted optional input */
  nn_value **out;       /* out[i] is NULL for an omitted optional output */
  void *state;          /* set by prepare, freed by def->release */
  void *scratch;        /* workspace of def->workspace bytes, valid during run */
  size_t scratch_size;
  struct nn_session *session;
  int planning;         /* 1 while inferring at plan time (values may be NULL) */
} nn_op_ctx;

/* Outcome of infer beyond errors: shape not determinable yet (needs run-time values). */
#define NN_INFER_DEFERRED ((nn_status)100)

struct nn_op_def {
  const char *op_type;
  const char *domain; /* "" for ai.onnx */
  /* Set output dtypes and shapes. Return NN_OK, NN_INFER_DEFERRED when an output
   * shape needs input values that are unknown (plan time only), or an error. */
  nn_status (*infer)(nn_op_ctx *ctx);
  /* Optional: validate, set ctx->state and ctx->scratch_size (workspace bytes). */
  nn_status (*prepare)(nn_op_ctx *ctx);
  /* Compute outputs. Inputs and outputs have data. Must not allocate, except for
   * outputs marked NN_V_DYNAMIC, through nn_value_ensure(). */
  nn_status (*run)(nn_op_ctx *ctx);
  /* Optional: free ctx->state. */
  void (*release)(void *state);
  /* Non-zero for ops that must not be folded at plan time (random, control flow). */
  int no_fold;
  /* Non-zero for ops whose outputs depend only on input shapes (Shape, Size): they
   * are folded at plan time whenever those shapes are known; run must not read
   * input data. */
  int shape_only;
  /* Non-zero for ops whose output 0 holds input 0's bytes unchanged (Reshape, Flatten,
   * Squeeze, Unsqueeze, Identity): the planner may give both one buffer (run must then
   * copy nothing when the two data pointers are equal). */
  int view;
};

/* Look up an op implementation; NULL if unsupported. */
const nn_op_def *nn_op_find(const char *op_type, const char *domain);

/* ---- helpers for op implementations ---- */

/* Error naming the node: "node 'x' (Conv): <message>". */
nn_status nn_op_error(const nn_op_ctx *ctx, nn_status st, const char *fmt, ...)
    NN_PRINTF(3, 4);

int64_t nn_value_numel(const nn_value *v);
/* Set dtype/shape of an output (infer). Fails over NN_MAX_DIMS or negative dims. */
nn_status nn_value_set(nn_op_ctx *ctx, nn_value *v, nn_dtype dt, int ndim,
                       const int64_t *dims);
/* In run, for dynamic outputs: set the shape and make sure the buffer holds it. For
 * non-dynamic outputs, checks the shape matches the planned one. */
nn_status nn_value_ensure(nn_op_ctx *ctx, nn_value *v, nn_dtype dt, int ndim,
                          const int64_t *dims);

/* Required inputs 0..n_in-1 and output 0 are present (models are not trusted). */
nn_status nn_op_need_io(nn_op_ctx *ctx, int n_in);
/* String tensors own their bytes (the session frees them with the value): the
 * nn_bytes copied into y are duplicated; on failure the rest is emptied, never shared. */
nn_status nn_value_own_strings(nn_op_ctx *ctx, nn_value *y);

/* An optional INTS attribute with exactly n values (each >= min), or dflt for all;
 * *present (may be NULL) says whether the node has it. */
nn_status nn_op_ints_attr(nn_op_ctx *ctx, const char *name, int n, int64_t dflt, int64_t min,
                          int64_t *out, int *present);

/* Numpy-style broadcast of shapes a and b into out; error names the node. */
nn_status nn_broadcast_shape(nn_op_ctx *ctx, int na, const int64_t *a, int nb,
                             const int64_t *b, int *nout, int64_t *out);
/* Normalize a possibly negative axis against rank; error if out of range. */
nn_status nn_norm_axis(nn_op_ctx *ctx, int64_t axis, int rank, int *out);
/* Read an integer tensor (int32/int64) element i as int64. */
int64_t nn_value_get_i64(const nn_value *v, int64_t i);
/* Read any numeric element i as double. */
double nn_value_get_f64(const nn_value *v, int64_t i);
/* Input i if present and its value known, else NULL. */
static inline const nn_value *nn_in_known(const nn_op_ctx *c, int i) {
  return (i < c->n_in && c->in[i] && c->in[i]->data) ? c->in[i] : NULL;
}
static inline nn_value *nn_in(const nn_op_ctx *c, int i) {
  return i < c->n_in ? c->in[i] : NULL;
}
static inline nn_value *nn_out(const nn_op_ctx *c, int i) {
  return i < c->n_out ? c->out[i] : NULL;
}

/* Declaration helper for op families: each file defines its nn_op_def tables and
 * lists them in src/ops/registry.c. */
#define NN_OP(name) const nn_op_def nn_op_##name

#endif
