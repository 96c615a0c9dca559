/*
 * test_quantize.c - static PTQ on a small Conv -> Relu -> MaxPool -> Add graph built in
 * memory: calibration over an .npy dataset, the QDQ rewrite (int8 weights, int32
 * bias, fused Relu), integer execution after lowering against the QDQ graph run in
 * float, and clear errors for what cannot be quantized.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/graph.h"
#include "graph_builder.h"
#include "passes/passes.h"
#include "quant/quantize.h"

static void init(nn_graph *g, const char *name, int ndim, const int64_t *dims, uint32_t seed,
                 float amp) {
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) n *= dims[d];
  float *v = malloc((size_t)n * sizeof *v);
  for (int64_t i = 0; i < n; i++) {
    seed = seed * 1103515245u + 12345u;
    v[i] = amp * ((float)((seed >> 9) & 0xffff) / 32768.0f - 1.0f);
  }
  f32_initializer(g, name, ndim, dims, v);
}

/* x[1,4,8,8] -> Conv(3x3, 8 ch, pad 1) -> Relu -> r; r -> MaxPool 2x2 -> p;
 * Conv1x1(r) -> c2 -> MaxPool -> p2; z = Add(p, p2). */
static nn_model *build(void) {
  nn_model *m = new_model(8, 13);
  nn_graph *g = m->graph;
  int64_t xd[4] = {1, 4, 8, 8}, wd[4] = {8, 4, 3, 3}, bd[1] = {8}, w2d[4] = {8, 8, 1, 1},
          zd[4] = {1, 8, 4, 4};
  io(g, "x", 1, 4, xd);
  init(g, "w", 4, wd, 1, 0.5f);
  init(g, "b", 1, bd, 2, 0.1f);
  init(g, "w2", 4, w2d, 3, 0.3f);
  const char *c1[] = {"x", "w", "b"}, *r1[] = {"c"}, *m1[] = {"r"}, *c2[] = {"r", "w2"},
             *m2[] = {"c2"}, *a[] = {"p", "p2"};
  int ci = node(g, "Conv", "conv1", 3, c1, "c");
  int64_t pads[4] = {1, 1, 1, 1}, k2[2] = {2, 2};
  nn_node *n = &g->nodes[ci];
  n->attrs = calloc(1, sizeof *n->attrs);
  n->attrs[0].name = strdup("pads");
  n->attrs[0].type = NN_ATTR_INTS;
  n->attrs[0].n = 4;
  n->attrs[0].ints = malloc(sizeof pads);
  memcpy(n->attrs[0].ints, pads, sizeof pads);
  n->n_attrs = 1;
  node(g, "Relu", "relu1", 1, r1, "r");
  int mp[2];
  mp[0] = node(g, "MaxPool", "pool1", 1, m1, "p");
  node(g, "Conv", "conv2", 2, c2, "c2");
  mp[1] = node(g, "MaxPool", "pool2", 1, m2, "p2");
  for (int k = 0; k < 2; k++) {
    for (int j = 0; j < 2; j++) {
      nn_node *pn = &g->nodes[mp[k]];
      pn->attrs = realloc(pn->attrs, (size_t)(pn->n_attrs + 1) * sizeof *pn->attrs);
      nn_attr *at = &pn->attrs[pn->n_attrs++];
      memset(at, 0, sizeof *at);
      at->name = strdup(j ? "strides" : "kernel_shape");
      at->type = NN_ATTR_INTS;
      at->n = 2;
      at->ints = malloc(sizeof k2);
      memcpy(at->ints, k2, sizeof k2);
    }
  }
  node(g, "Add", "add", 2, a, "z");
  io(g, "z", 0, 4, zd);
  nn_graph_build_maps(g, NULL);
  return m;
}

static float *run(nn_model *m, int qdq_as_float, const float *x, float *out) {
  nn_session *s = NULL;
  nn_session_options o = {0};
  o.qdq_as_float = qdq_as_float;
  assert_int_equal(nn_session_create(m, &o, &s), NN_OK);
  nn_array in = {NN_FLOAT, 4, {1, 4, 8, 8}, (void *)x, 256 * sizeof(float)};
  const char *names[1] = {"x"};
  assert_int_equal(nn_session_run(s, 1, names, &in), NN_OK);
  const nn_array *z = nn_session_output(s, 0);
  assert_int_equal(z->nbytes, 128 * sizeof(float));
  memcpy(out, z->data, z->nbytes);
  nn_session_free(s);
  return out;
}

static int count_op(const nn_graph *g, const char *op) {
  int n = 0;
  for (int i = 0; i < g->n_nodes; i++) n += !strcmp(g->nodes[i].op_type, op);
  return n;
}

static void test_ptq_end_to_end(void **state) {
  (void)state;
  /* 32 calibration samples in an .npy dataset. */
  static float calib[32 * 256];
  uint32_t seed = 9;
  for (int i = 0; i < 32 * 256; i++) {
    seed = seed * 1664525u + 1013904223u;
    calib[i] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
  }
  char path[] = "/tmp/nnopt_calib_XXXXXX.npy";
  int fd = mkstemps(path, 4);
  close(fd);
  nn_array ca = {NN_FLOAT, 4, {32, 4, 8, 8}, calib, sizeof calib};
  assert_int_equal(nn_array_write_npy(path, &ca), NN_OK);
  char spec[256];
  snprintf(spec, sizeof spec, "npy:%s,name=x", path);
  nn_dataset *ds = NULL;
  assert_int_equal(nn_dataset_open(spec, NULL, &ds), NN_OK);

  nn_model *fm = build(), *qm = build();
  float ref[128], fq[128], iq[128];
  run(fm, 0, calib, ref);

  nn_ptq_options po = {0};
  po.calib.method = NN_CALIB_MINMAX;
  po.quant.per_channel = 1;
  nn_quant_report rep;
  assert_int_equal(nn_ptq_static(qm, ds, &po, &rep), NN_OK);
  assert_int_equal(rep.weights, 2);
  nn_quant_report_free(&rep);
  const nn_graph *g = qm->graph;
  /* Weights are int8, the bias int32; the Relu is fused (no Q/DQ between conv and relu). */
  int n_i8 = 0, n_i32 = 0, n_f32_weights = 0;
  for (int k = 0; k < g->n_inits; k++) {
    const nn_tensor *t = &g->tensors[g->inits[k]];
    n_i8 += t->dtype == NN_INT8 && t->ndim == 4;
    n_i32 += t->dtype == NN_INT32 && t->ndim == 1;
    n_f32_weights += t->dtype == NN_FLOAT && t->ndim == 4;
  }
  assert_int_equal(n_i8, 2);
  assert_int_equal(n_i32, 1);
  assert_int_equal(n_f32_weights, 0);
  int c = nn_graph_find(g, "c");
  assert_true(c >= 0);
  for (int i = 0; i < g->n_nodes; i++)
    if (!strcmp(g->nodes[i].op_type, "QuantizeLinear")) assert_int_not_equal(g->nodes[i].inputs[0], c);

  /* The QDQ graph lowers to integer ops: every Conv, the Add and both pools. */
  void *buf;
  size_t len;
  nn_model *low = NULL;
  assert_int_equal(nn_model_save_buffer(qm, &buf, &len), NN_OK);
  assert_int_equal(nn_model_load_buffer(buf, len, NULL, "q.onnx", &low), NN_OK);
  free(buf);
  int lowered = 0;
  assert_int_equal(nn_pass_lower_qdq(low, &lowered), NN_OK);
  assert_int_equal(count_op(low->graph, "QLinearConv"), 2);
  assert_int_equal(count_op(low->graph, "QLinearAdd"), 1);
  assert_int_equal(count_op(low->graph, "Conv"), 0);
  assert_int_equal(count_op(low->graph, "Relu"), 0);
  nn_model_free(low);

  /* Integer execution agrees with the QDQ graph run in float within one output step,
   * and both stay close to the float model. */
  run(qm, 1, calib, fq);
  run(qm, 0, calib, iq);
  int zt = nn_graph_find(g, "z_scale");
  assert_true(zt >= 0);
  float step = *(const float *)g->tensors[zt].data;
  double max_fi = 0, max_ref = 0, range = 0;
  for (int i = 0; i < 128; i++) {
    max_fi = fmax(max_fi, fabs(fq[i] - iq[i]));
    max_ref = fmax(max_ref, fabs(ref[i] - iq[i]));
    range = fmax(range, fabs(ref[i]));
  }
  assert_true(max_fi <= step * 1.001);
  assert_true(max_ref <= range * 0.05);
  nn_model_free(fm);
  nn_model_free(qm);
  nn_dataset_free(ds);
  unlink(path);
}

static void test_nothing_to_quantize(void **state) {
  (void)state;
  nn_model *m = nn_model_new();
  m->n_opsets = 1;
  m->opsets = calloc(1, sizeof *m->opsets);
  m->opsets[0].domain = strdup("");
  m->opsets[0].version = 13;
  int64_t d[1] = {4};
  io(m->graph, "x", 1, 1, d);
  const char *in[] = {"x"};
  node(m->graph, "Softmax", "sm", 1, in, "y");
  io(m->graph, "y", 0, 1, d);
  nn_graph_build_maps(m->graph, NULL);
  nn_tensor_range ranges[4] = {{0}};
  nn_quant_options qo = {0};
  nn_quant_report rep;
  assert_int_equal(nn_quantize_qdq(m, ranges, &qo, &rep), NN_OK);
  assert_int_equal(rep.quantized_nodes, 0);
  assert_non_null(strstr(rep.notes, "no quantizable op"));
  nn_quant_report_free(&rep);
  /* Old opsets are refused with a reason. */
  m->opsets[0].version = 9;
  assert_int_equal(nn_quantize_qdq(m, ranges, &qo, &rep), NN_ERR_UNSUPPORTED);
  assert_non_null(strstr(nn_last_error(), "opset"));
  nn_model_free(m);
}

static void test_weight_only(void **state) {
  (void)state;
  static float x[256];
  for (int i = 0; i < 256; i++) x[i] = (float)((i * 37) % 19) / 9.0f - 1.0f;
  nn_model *fm = build();
  float ref[128], got[128];
  run(fm, 0, x, ref);
  for (int fmt = 0; fmt < 2; fmt++) {
    nn_model *m = build();
    nn_quant_options qo = {0};
    qo.per_channel = 1;
    nn_quant_report rep;
    assert_int_equal(nn_quantize_weights_only(m, (nn_weight_format)fmt, &qo, &rep), NN_OK);
    nn_dtype want = fmt == NN_WEIGHTS_FP16 ? NN_FLOAT16 : NN_INT8;
    int n_want = 0, n_f32 = 0;
    for (int k = 0; k < m->graph->n_inits; k++) {
      const nn_tensor *t = &m->graph->tensors[m->graph->inits[k]];
      n_want += t->dtype == want && t->ndim == 4;
      n_f32 += t->dtype == NN_FLOAT && t->ndim == 4;
    }
    assert_int_equal(n_want, 2);
    assert_int_equal(n_f32, 0);
    nn_quant_report_free(&rep);
    run(m, 0, x, got);
    double err = 0, mag = 0;
    for (int i = 0; i < 128; i++) err = fmax(err, fabs(got[i] - ref[i])), mag = fmax(mag, fabs(ref[i]));
    assert_true(err <= mag * (fmt == NN_WEIGHTS_FP16 ? 2e-3 : 3e-2));
    nn_model_free(m);
  }
  nn_model_free(fm);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ptq_end_to_end),
      cmocka_unit_test(test_weight_only),
      cmocka_unit_test(test_nothing_to_quantize),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
