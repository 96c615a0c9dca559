/*
 * test_session.c - the executor on graphs built in memory: shape-only folding, a
 * re-plan when an input shape changes, no allocation in a run with unchanged shapes,
 * If bodies reading enclosing values, views sharing their input's buffer, and clear errors
 * for bad inputs.
 * Linked with -Wl,--wrap for the allocation functions to count allocations.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/graph.h"
#include "graph_builder.h"
#include "passes/passes.h"
#include "quant/quantize.h"
#include "runtime/session.h"

/* ---- allocation counting ---- */
static long g_allocs;
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t a, size_t n);
void *__wrap_malloc(size_t n) { g_allocs++; return __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t m) { g_allocs++; return __real_calloc(n, m); }
void *__wrap_realloc(void *p, size_t n) { g_allocs++; return __real_realloc(p, n); }
void *__wrap_aligned_alloc(size_t a, size_t n) { g_allocs++; return __real_aligned_alloc(a, n); }

static int add_node(nn_graph *g, const char *op, const char *name, int n_in, const char **in,
                    int n_out, const char **out) {
  int ii[8], oo[8];
  for (int k = 0; k < n_in; k++) ii[k] = in[k] ? nn_graph_intern(g, in[k]) : -1;
  for (int k = 0; k < n_out; k++) oo[k] = nn_graph_intern(g, out[k]);
  return nn_graph_add_node(g, op, "", name, n_in, ii, n_out, oo);
}

static void add_ints_attr(nn_node *n, const char *name, const int64_t *v, int count) {
  n->attrs = realloc(n->attrs, (size_t)(n->n_attrs + 1) * sizeof *n->attrs);
  nn_attr *a = &n->attrs[n->n_attrs++];
  memset(a, 0, sizeof *a);
  a->name = strdup(name);
  a->type = NN_ATTR_INTS;
  a->n = count;
  a->ints = malloc((size_t)count * sizeof *a->ints);
  memcpy(a->ints, v, (size_t)count * sizeof *v);
}

static void add_graph_attr(nn_node *n, const char *name, nn_graph *sub) {
  n->attrs = realloc(n->attrs, (size_t)(n->n_attrs + 1) * sizeof *n->attrs);
  nn_attr *a = &n->attrs[n->n_attrs++];
  memset(a, 0, sizeof *a);
  a->name = strdup(name);
  a->type = NN_ATTR_GRAPH;
  a->n = 1;
  a->graphs = malloc(sizeof *a->graphs);
  a->graphs[0] = sub;
}

static void mark_io(nn_graph *g, const char *name, int input, nn_dtype dt, int ndim,
                    const int64_t *dims) {
  int t = nn_graph_intern(g, name);
  nn_tensor *tt = &g->tensors[t];
  tt->dtype = dt;
  tt->ndim = ndim;
  for (int d = 0; d < ndim; d++) tt->dims[d] = dims[d];
  tt->flags |= (input ? NN_T_INPUT : NN_T_OUTPUT) | NN_T_SHAPE_KNOWN;
  if (input)
    nn_graph_list_push(&g->inputs, &g->n_inputs, t);
  else
    nn_graph_list_push(&g->outputs, &g->n_outputs, t);
}

/* x[N,4] -> Shape -> Reshape(x, shape) -> Transpose -> y[4,N];
 * If(cond): then z = Identity(y) (captured), else z = Transpose(y). */
static nn_model *build_model(void) {
  nn_model *m = new_model(8, 17);
  nn_graph *g = m->graph;
  int64_t xd[2] = {-1, 4}, yd[2] = {4, -1};
  mark_io(g, "x", 1, NN_FLOAT, 2, xd);
  mark_io(g, "cond", 1, NN_BOOL, 0, NULL);
  const char *a[] = {"x"}, *b[] = {"s"}, *c[] = {"x", "s"}, *d[] = {"r"}, *e[] = {"y"};
  add_node(g, "Shape", "shape", 1, a, 1, b);
  add_node(g, "Reshape", "reshape", 2, c, 1, d);
  int tr = add_node(g, "Transpose", "transpose", 1, d, 1, e);
  int64_t perm[2] = {1, 0};
  add_ints_attr(&g->nodes[tr], "perm", perm, 2);

  nn_graph *then_g = nn_graph_new(g), *else_g = nn_graph_new(g);
  const char *ty[] = {"y"}, *tz[] = {"then_out"}, *ez[] = {"else_out"};
  add_node(then_g, "Identity", "then_id", 1, ty, 1, tz);
  int et = add_node(else_g, "Transpose", "else_tr", 1, ty, 1, ez);
  add_ints_attr(&else_g->nodes[et], "perm", perm, 2);
  mark_io(then_g, "then_out", 0, NN_FLOAT, -1, NULL);
  mark_io(else_g, "else_out", 0, NN_FLOAT, -1, NULL);
  nn_graph_build_maps(then_g, NULL);
  nn_graph_build_maps(else_g, NULL);
  const char *ic[] = {"cond"}, *iz[] = {"z"};
  int ifn = add_node(g, "If", "if", 1, ic, 1, iz);
  add_graph_attr(&g->nodes[ifn], "then_branch", then_g);
  add_graph_attr(&g->nodes[ifn], "else_branch", else_g);
  mark_io(g, "y", 0, NN_FLOAT, 2, yd);
  mark_io(g, "z", 0, NN_FLOAT, -1, NULL);
  nn_graph_build_maps(g, NULL);
  return m;
}

static nn_status run(nn_session *s, int rows, int cond) {
  static float x[4 * 8];
  static uint8_t c;
  for (int i = 0; i < rows * 4; i++) x[i] = (float)i;
  c = (uint8_t)cond;
  nn_array in[2] = {{NN_FLOAT, 2, {rows, 4}, x, (size_t)rows * 4 * sizeof(float)},
                    {NN_BOOL, 0, {0}, &c, 1}};
  const char *names[2] = {"x", "cond"};
  return nn_session_run(s, 2, names, in);
}

static void test_run_replan_no_alloc(void **state) {
  (void)state;
  nn_model *m = build_model();
  nn_session *s = NULL;
  assert_int_equal(nn_model_validate(m, 1), NN_OK);
  assert_int_equal(nn_session_create(m, NULL, &s), NN_OK);
  assert_int_equal(run(s, 2, 1), NN_OK);
  const nn_array *y = nn_session_output(s, 0), *z = nn_session_output(s, 1);
  assert_int_equal(y->ndim, 2);
  assert_int_equal(y->dims[0], 4);
  assert_int_equal(y->dims[1], 2);
  assert_true(((float *)y->data)[1] == 4.0f); /* y[0][1] = x[1][0] */
  assert_int_equal(z->dims[0], 4);            /* then branch: z = y */
  assert_true(nn_session_activation_bytes(s) > 0);

  /* Same shapes again: no allocation at all. */
  g_allocs = 0;
  assert_int_equal(run(s, 2, 1), NN_OK);
  assert_int_equal(g_allocs, 0);

  /* A new batch size re-plans and stays correct. */
  assert_int_equal(run(s, 5, 0), NN_OK);
  y = nn_session_output(s, 0);
  z = nn_session_output(s, 1);
  assert_int_equal(y->dims[1], 5);
  assert_int_equal(z->dims[0], 5); /* else branch: z = transpose(y) = x */
  assert_int_equal(z->dims[1], 4);
  assert_true(((float *)z->data)[7] == 7.0f);
  g_allocs = 0;
  assert_int_equal(run(s, 5, 0), NN_OK);
  assert_int_equal(g_allocs, 0);
  nn_session_free(s);
  nn_model_free(m);
}

/* A second run of a real fixture with unchanged shapes allocates nothing either, on the
 * fast paths (FusedConv after nn_model_optimize; dynamic INT8 BERT: DynamicQuantizeLinear,
 * MatMulIntegerToFloat, LayerNorm, Gelu, Softmax), at 1 and 2 threads. */
static void no_alloc_fixture(nn_model *m, int threads) {
  nn_session_options so = {0};
  so.threads = threads;
  nn_session *s = NULL;
  assert_int_equal(nn_session_create(m, &so, &s), NN_OK);
  int n = nn_session_input_count(s);
  const char *names[4];
  nn_array in[4];
  memset(in, 0, sizeof in);
  for (int k = 0; k < n && k < 4; k++) {
    int ndim = 0;
    int64_t dims[NN_MAX_DIMS];
    nn_dtype dt;
    assert_int_equal(nn_session_input_info(s, k, &dt, &ndim, dims), NN_OK);
    in[k].dtype = dt;
    in[k].ndim = ndim;
    int64_t numel = 1;
    for (int d = 0; d < ndim; d++) numel *= (in[k].dims[d] = dims[d] < 0 ? 1 : dims[d]);
    in[k].nbytes = (size_t)numel * (dt == NN_INT64 ? 8 : 4);
    in[k].data = calloc(1, in[k].nbytes);
    if (dt == NN_INT64)
      for (int64_t j = 0; j < numel; j++) ((int64_t *)in[k].data)[j] = 1 + j % 7;
    names[k] = nn_session_input_name(s, k);
  }
  assert_int_equal(nn_session_run(s, n, names, in), NN_OK);
  g_allocs = 0;
  assert_int_equal(nn_session_run(s, n, names, in), NN_OK);
  assert_int_equal(g_allocs, 0);
  for (int k = 0; k < n && k < 4; k++) free(in[k].data);
  nn_session_free(s);
}

static void test_fixtures_no_alloc(void **state) {
  (void)state;
  nn_model *m = NULL;
  assert_int_equal(nn_model_load(NNOPT_SOURCE_DIR "/models/mobilenetv2_fmnist.onnx", &m), NN_OK);
  assert_int_equal(nn_model_optimize(m), NN_OK);
  no_alloc_fixture(m, 1);
  no_alloc_fixture(m, 2);
  nn_model_free(m);
  assert_int_equal(nn_model_load(NNOPT_SOURCE_DIR "/models/bert_sst2.onnx", &m), NN_OK);
  nn_quant_report rep;
  nn_quant_options qo = {0};
  assert_int_equal(nn_quantize_dynamic(m, &qo, &rep), NN_OK);
  assert_true(rep.quantized_nodes > 0);
  nn_quant_report_free(&rep);
  assert_int_equal(nn_model_optimize(m), NN_OK);
  no_alloc_fixture(m, 1);
  no_alloc_fixture(m, 2);
  nn_model_free(m);
}

/* Views share their input's buffer: a = Relu(x), b = Flatten(a), c = Neg(b),
 * d = b + c, y = d + x (= x). b is a's buffer, which must stay alive past a's last
 * direct use (the Flatten) until the Add reads b: else c, planned after, takes it. */
static void test_view_alias(void **state) {
  (void)state;
  nn_model *m = new_model(8, 17);
  nn_graph *g = m->graph;
  const int64_t xd[2] = {2, 3};
  mark_io(g, "x", 1, NN_FLOAT, 2, xd);
  const char *x[] = {"x"}, *a[] = {"a"}, *b[] = {"b"}, *c[] = {"c"}, *bc[] = {"b", "c"},
             *d[] = {"d"}, *dx[] = {"d", "x"}, *y[] = {"y"};
  add_node(g, "Relu", "relu", 1, x, 1, a);
  add_node(g, "Flatten", "flatten", 1, a, 1, b);
  add_node(g, "Neg", "neg", 1, b, 1, c);
  add_node(g, "Add", "add", 2, bc, 1, d);
  add_node(g, "Add", "add2", 2, dx, 1, y);
  mark_io(g, "y", 0, NN_FLOAT, 2, xd);
  assert_int_equal(nn_model_validate(m, 1), NN_OK);
  nn_session *s = NULL;
  assert_int_equal(nn_session_create(m, NULL, &s), NN_OK);
  float xv[6] = {-3, -1, 0, 1, 2, 5};
  nn_array in = {.dtype = NN_FLOAT, .ndim = 2, .dims = {2, 3}, .data = xv, .nbytes = sizeof xv};
  const char *names[] = {"x"};
  for (int rep = 0; rep < 2; rep++) {
    assert_int_equal(nn_session_run(s, 1, names, &in), NN_OK);
    const float *yv = nn_session_output(s, 0)->data;
    for (int i = 0; i < 6; i++) assert_true(yv[i] == xv[i]);
  }
  assert_ptr_equal(nn_session_value(s, nn_graph_find(g, "b"))->data,
                   nn_session_value(s, nn_graph_find(g, "a"))->data);
  nn_session_free(s);
  nn_model_free(m);
}

static void test_bad_inputs(void **state) {
  (void)state;
  nn_model *m = build_model();
  nn_session *s = NULL;
  assert_int_equal(nn_session_create(m, NULL, &s), NN_OK);
  float x[8] = {0};
  nn_array in = {NN_FLOAT, 2, {2, 4}, x, sizeof x};
  const char *names[1] = {"x"};
  assert_int_equal(nn_session_run(s, 1, names, &in), NN_ERR_INVALID);
  assert_non_null(strstr(nn_last_error(), "'cond'"));
  nn_array two[2] = {in, {NN_INT32, 0, {0}, x, 4}};
  const char *names2[2] = {"x", "cond"};
  assert_int_equal(nn_session_run(s, 2, names2, two), NN_ERR_INVALID);
  assert_non_null(strstr(nn_last_error(), "dtype"));
  two[1].dtype = NN_BOOL;
  two[1].nbytes = 1;
  two[0].dims[1] = 3; /* model says 4 */
  two[0].nbytes = 6 * sizeof(float);
  assert_int_equal(nn_session_run(s, 2, names2, two), NN_ERR_INVALID);
  assert_non_null(strstr(nn_last_error(), "'x'"));
  nn_session_free(s);
  nn_model_free(m);
}

static void test_unsupported_op(void **state) {
  (void)state;
  nn_model *m = build_model();
  free(m->graph->nodes[0].op_type);
  m->graph->nodes[0].op_type = strdup("NoSuchOp");
  nn_session *s = NULL;
  assert_int_equal(nn_session_create(m, NULL, &s), NN_ERR_UNSUPPORTED);
  assert_non_null(strstr(nn_last_error(), "unsupported op NoSuchOp"));
  assert_non_null(strstr(nn_last_error(), "'shape'"));
  nn_model_free(m);
}

static void test_passes(void **state) {
  (void)state;
  /* Constant folding leaves input-dependent nodes alone; an unused node is dead. */
  nn_model *m = build_model();
  nn_graph *g = m->graph;
  const char *a[] = {"x"}, *b[] = {"unused"};
  add_node(g, "Identity", "dead", 1, a, 1, b);
  nn_graph_build_maps(g, NULL);
  int folded = -1, removed = -1;
  assert_int_equal(nn_pass_fold_constants(m, &folded), NN_OK);
  assert_int_equal(folded, 0);
  assert_int_equal(nn_pass_eliminate_dead(m, &removed), NN_OK);
  assert_int_equal(removed, 1);
  assert_int_equal(g->n_nodes, 4);
  nn_session *s = NULL;
  assert_int_equal(nn_session_create(m, NULL, &s), NN_OK);
  assert_int_equal(run(s, 3, 1), NN_OK);
  nn_session_free(s);
  nn_model_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_run_replan_no_alloc),
      cmocka_unit_test(test_fixtures_no_alloc),
      cmocka_unit_test(test_view_alias),
      cmocka_unit_test(test_bad_inputs),
      cmocka_unit_test(test_unsupported_op),
      cmocka_unit_test(test_passes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
