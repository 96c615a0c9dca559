/*
 * test_onnx_io.c - ONNX reader/writer: every dtype through typed fields and raw_data,
 * external data (and the locations that must be refused), atomic save and the
 * no-overwrite rule, preservation of unmodeled fields, malformed input, subgraphs,
 * validation and equality. Fixture models are built here with protobuf-c, not with
 * our own writer, so the reader is checked against an independent encoding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/dtype.h"
#include "core/graph.h"
#include "nnopt.h"
#include "onnx.pb-c.h"
#include "onnx/onnx_io.h"

/* ---- fixture builder: protobuf-c messages from an arena freed after each test ---- */

static void **g_allocs;
static size_t g_nallocs, g_capallocs;

static void *A(size_t n) {
  if (g_nallocs == g_capallocs) {
    g_capallocs = g_capallocs ? g_capallocs * 2 : 256;
    g_allocs = realloc(g_allocs, g_capallocs * sizeof *g_allocs);
    assert_non_null(g_allocs);
  }
  void *p = calloc(1, n ? n : 1);
  assert_non_null(p);
  g_allocs[g_nallocs++] = p;
  return p;
}

static int arena_teardown(void **state) {
  (void)state;
  for (size_t i = 0; i < g_nallocs; i++) free(g_allocs[i]);
  free(g_allocs);
  g_allocs = NULL;
  g_nallocs = g_capallocs = 0;
  return 0;
}

#define CAP 16
#define PUSH(msg, field, v)                                                            \
  do {                                                                                 \
    if (!(msg)->field) (msg)->field = A(CAP * sizeof(*(msg)->field));                  \
    assert_true((msg)->n_##field < CAP);                                               \
    (msg)->field[(msg)->n_##field++] = (v);                                            \
  } while (0)

static Onnx__ValueInfoProto *mk_vi(const char *name, int dtype, int ndim,
                                   const int64_t *dims) {
  Onnx__ValueInfoProto *v = A(sizeof *v);
  onnx__value_info_proto__init(v);
  v->name = (char *)name;
  Onnx__TypeProto *t = A(sizeof *t);
  onnx__type_proto__init(t);
  Onnx__TypeProto__Tensor *tt = A(sizeof *tt);
  onnx__type_proto__tensor__init(tt);
  t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  t->tensor_type = tt;
  tt->has_elem_type = 1;
  tt->elem_type = dtype;
  if (ndim >= 0) {
    Onnx__TensorShapeProto *s = A(sizeof *s);
    onnx__tensor_shape_proto__init(s);
    for (int i = 0; i < ndim; i++) {
      Onnx__TensorShapeProto__Dimension *d = A(sizeof *d);
      onnx__tensor_shape_proto__dimension__init(d);
      if (dims[i] >= 0) {
        d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        d->dim_value = dims[i];
      } else {
        d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
        d->dim_param = "N";
      }
      PUSH(s, dim, d);
    }
    tt->shape = s;
  }
  v->type = t;
  return v;
}

static Onnx__TensorProto *mk_tensor(const char *name, int dtype, int ndim,
                                    const int64_t *dims) {
  Onnx__TensorProto *t = A(sizeof *t);
  onnx__tensor_proto__init(t);
  t->name = (char *)name;
  t->has_data_type = 1;
  t->data_type = dtype;
  t->n_dims = (size_t)ndim;
  t->dims = A((size_t)(ndim ? ndim : 1) * sizeof(int64_t));
  if (ndim) memcpy(t->dims, dims, (size_t)ndim * sizeof(int64_t));
  return t;
}

static void set_raw(Onnx__TensorProto *t, const void *data, size_t len) {
  t->has_raw_data = 1;
  t->raw_data.len = len;
  t->raw_data.data = A(len);
  memcpy(t->raw_data.data, data, len);
}

static Onnx__TensorProto *mk_float_tensor(const char *name, int ndim, const int64_t *dims,
                                          int n, const float *vals) {
  Onnx__TensorProto *t = mk_tensor(name, NN_FLOAT, ndim, dims);
  t->n_float_data = (size_t)n;
  t->float_data = A((size_t)(n ? n : 1) * sizeof(float));
  if (n) memcpy(t->float_data, vals, (size_t)n * sizeof(float));
  return t;
}

static Onnx__NodeProto *mk_node(Onnx__GraphProto *g, const char *op, const char *name,
                                const char *in0, const char *in1, const char *out) {
  Onnx__NodeProto *n = A(sizeof *n);
  onnx__node_proto__init(n);
  n->op_type = (char *)op;
  n->name = (char *)name;
  if (in0) PUSH(n, input, (char *)in0);
  if (in1) PUSH(n, input, (char *)in1);
  if (out) PUSH(n, output, (char *)out);
  PUSH(g, node, n);
  return n;
}

static Onnx__AttributeProto *mk_attr(Onnx__NodeProto *n, const char *name, int type) {
  Onnx__AttributeProto *a = A(sizeof *a);
  onnx__attribute_proto__init(a);
  a->name = (char *)name;
  a->has_type = 1;
  a->type = (Onnx__AttributeProto__AttributeType)type;
  PUSH(n, attribute, a);
  return a;
}

static Onnx__GraphProto *mk_graph(const char *name) {
  Onnx__GraphProto *g = A(sizeof *g);
  onnx__graph_proto__init(g);
  g->name = (char *)name;
  return g;
}

static Onnx__ModelProto *mk_model(Onnx__GraphProto *g) {
  Onnx__ModelProto *m = A(sizeof *m);
  onnx__model_proto__init(m);
  m->has_ir_version = 1;
  m->ir_version = 8;
  m->producer_name = "test_onnx_io";
  Onnx__OperatorSetIdProto *o = A(sizeof *o);
  onnx__operator_set_id_proto__init(o);
  o->domain = "";
  o->has_version = 1;
  o->version = 17;
  PUSH(m, opset_import, o);
  m->graph = g;
  return m;
}

/* y = x + w, x: float[N,3], w: float[3] initializer (raw_data). */
static Onnx__ModelProto *mk_add_model(void) {
  static const int64_t xd[] = {-1, 3}, wd[] = {3};
  static const float w[] = {1.5f, -2.0f, 3.25f};
  Onnx__GraphProto *g = mk_graph("main");
  PUSH(g, input, mk_vi("x", NN_FLOAT, 2, xd));
  PUSH(g, output, mk_vi("y", NN_FLOAT, 2, xd));
  Onnx__TensorProto *t = mk_tensor("w", NN_FLOAT, 1, wd);
  set_raw(t, w, sizeof w);
  PUSH(g, initializer, t);
  mk_node(g, "Add", "add0", "x", "w", "y");
  return mk_model(g);
}

static uint8_t *pack(const ProtobufCMessage *m, size_t *len) {
  *len = protobuf_c_message_get_packed_size(m);
  uint8_t *b = A(*len);
  protobuf_c_message_pack(m, b);
  return b;
}

static nn_model *load_msg(const Onnx__ModelProto *mp) {
  size_t len;
  uint8_t *b = pack(&mp->base, &len);
  nn_model *m = NULL;
  nn_status st = nn_model_load_buffer(b, len, NULL, "fixture", &m);
  if (st) print_error("load failed: %s\n", nn_last_error());
  assert_int_equal(st, NN_OK);
  return m;
}

static nn_status load_msg_status(const Onnx__ModelProto *mp, const char *dir) {
  size_t len;
  uint8_t *b = pack(&mp->base, &len);
  nn_model *m = NULL;
  nn_status st = nn_model_load_buffer(b, len, dir, "fixture", &m);
  nn_model_free(m);
  return st;
}

/* Save to a buffer, reload, require equality; returns the reloaded model. */
static nn_model *roundtrip(const nn_model *m) {
  void *buf;
  size_t len;
  nn_model *r = NULL;
  char why[512];
  assert_int_equal(nn_model_save_buffer(m, &buf, &len), NN_OK);
  assert_int_equal(nn_model_load_buffer(buf, len, NULL, "roundtrip", &r), NN_OK);
  free(buf);
  if (!nn_model_equal(m, r, why, sizeof why)) print_error("differs: %s\n", why);
  assert_true(nn_model_equal(m, r, NULL, 0));
  return r;
}

static void assert_error_has(const char *needle) {
  if (!strstr(nn_last_error(), needle))
    print_error("error '%s' does not contain '%s'\n", nn_last_error(), needle);
  assert_non_null(strstr(nn_last_error(), needle));
}

/* ---- temp folders ---- */

static char *mk_tmpdir(void) {
  char *d = A(64);
  strcpy(d, "/tmp/nnopt_onnx_io_XXXXXX");
  assert_non_null(mkdtemp(d));
  return d;
}

static char *path_in(const char *dir, const char *name) {
  char *p = A(strlen(dir) + strlen(name) + 2);
  sprintf(p, "%s/%s", dir, name);
  return p;
}

static void write_bytes(const char *path, const void *b, size_t n) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(b, 1, n, f), n);
  fclose(f);
}

static void write_model(const char *path, const Onnx__ModelProto *mp) {
  size_t len;
  uint8_t *b = pack(&mp->base, &len);
  write_bytes(path, b, len);
}

static void rm_rf(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  for (struct dirent *e; (e = readdir(d));) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    unlink(p);
  }
  closedir(d);
  rmdir(dir);
}

static int count_tmp_files(const char *dir) {
  int n = 0;
  DIR *d = opendir(dir);
  for (struct dirent *e; d && (e = readdir(d));)
    if (strstr(e->d_name, ".tmp.")) n++;
  if (d) closedir(d);
  return n;
}

/* ---- tests ---- */

static void test_load_basic(void **state) {
  (void)state;
  nn_model *m = load_msg(mk_add_model());
  nn_graph *g = m->graph;
  assert_int_equal(m->ir_version, 8);
  assert_int_equal(nn_model_opset(m, ""), 17);
  assert_string_equal(m->producer_name, "test_onnx_io");
  assert_string_equal(g->name, "main");
  assert_int_equal(g->n_inputs, 1);
  assert_int_equal(g->n_outputs, 1);
  assert_int_equal(g->n_inits, 1);
  const nn_tensor *x = &g->tensors[g->inputs[0]];
  assert_string_equal(x->name, "x");
  assert_int_equal(x->dtype, NN_FLOAT);
  assert_int_equal(x->ndim, 2);
  assert_int_equal(x->dims[0], -1);
  assert_string_equal(x->dim_param[0], "N");
  assert_int_equal(x->dims[1], 3);
  assert_true(x->flags & NN_T_INPUT);
  const nn_tensor *w = &g->tensors[g->inits[0]];
  assert_true(w->flags & NN_T_INITIALIZER);
  assert_int_equal(w->nbytes, 12);
  assert_true(((float *)w->data)[2] == 3.25f);
  assert_int_equal(g->n_nodes, 1);
  assert_string_equal(g->nodes[0].op_type, "Add");
  assert_string_equal(g->nodes[0].domain, "");
  int y = nn_graph_find(g, "y");
  assert_true(y >= 0);
  assert_int_equal(g->tensors[y].producer, 0);
  assert_int_equal(nn_model_validate(m, 0), NN_OK);
  nn_model_free(roundtrip(m));
  nn_model_free(m);
}

/* One dtype case: values written through the typed field, expected dense bytes. */
typedef struct dtype_case {
  int dtype;
  int n; /* elements */
  uint8_t expect[64];
} dtype_case;

static void fill_typed(Onnx__TensorProto *t, const dtype_case *c) {
  switch (c->dtype) {
  case NN_FLOAT:
  case NN_COMPLEX64: {
    size_t n = c->dtype == NN_FLOAT ? (size_t)c->n : (size_t)c->n * 2;
    t->n_float_data = n;
    t->float_data = A(n * 4);
    memcpy(t->float_data, c->expect, n * 4);
    break;
  }
  case NN_DOUBLE:
  case NN_COMPLEX128: {
    size_t n = c->dtype == NN_DOUBLE ? (size_t)c->n : (size_t)c->n * 2;
    t->n_double_data = n;
    t->double_data = A(n * 8);
    memcpy(t->double_data, c->expect, n * 8);
    break;
  }
  case NN_INT64:
    t->n_int64_data = (size_t)c->n;
    t->int64_data = A((size_t)c->n * 8);
    memcpy(t->int64_data, c->expect, (size_t)c->n * 8);
    break;
  case NN_UINT64:
  case NN_UINT32:
    t->n_uint64_data = (size_t)c->n;
    t->uint64_data = A((size_t)c->n * 8);
    for (int i = 0; i < c->n; i++)
      t->uint64_data[i] = c->dtype == NN_UINT64 ? ((const uint64_t *)c->expect)[i]
                                                : ((const uint32_t *)c->expect)[i];
    break;
  default: { /* int32_data: int8/16, uint8/16, bool, fp16, bf16, int32 */
    t->n_int32_data = (size_t)c->n;
    t->int32_data = A((size_t)c->n * 4);
    size_t es = nn_dtype_size(c->dtype);
    for (int i = 0; i < c->n; i++) {
      int32_t v = 0;
      if (es == 1)
        v = c->dtype == NN_INT8 ? (int8_t)c->expect[i] : c->expect[i];
      else if (es == 2) {
        uint16_t u;
        memcpy(&u, c->expect + 2 * i, 2);
        v = c->dtype == NN_INT16 ? (int16_t)u : u;
      } else
        memcpy(&v, c->expect + 4 * i, 4);
      t->int32_data[i] = v;
    }
  }
  }
}

static void test_dtypes(void **state) {
  (void)state;
  dtype_case cases[16];
  int nc = 0;
#define CASE(dt, T, ...)                                                               \
  do {                                                                                 \
    T v_[] = {__VA_ARGS__};                                                            \
    cases[nc].dtype = dt;                                                              \
    cases[nc].n = (int)(sizeof v_ / sizeof v_[0]);                                     \
    memcpy(cases[nc].expect, v_, sizeof v_);                                           \
    nc++;                                                                              \
  } while (0)
  CASE(NN_FLOAT, float, 1.5f, -2.0f, FLT_MAX);
  CASE(NN_UINT8, uint8_t, 1, 255, 7);
  CASE(NN_INT8, int8_t, -1, 127, -128);
  CASE(NN_UINT16, uint16_t, 1, 65535, 3);
  CASE(NN_INT16, int16_t, -1, 32767, -32768);
  CASE(NN_INT32, int32_t, -1, INT32_MAX, INT32_MIN);
  CASE(NN_INT64, int64_t, -1, INT64_MAX, INT64_MIN);
  CASE(NN_BOOL, uint8_t, 1, 0, 1);
  CASE(NN_FLOAT16, uint16_t, 0x3c00, 0xc000, 0x7c00);
  CASE(NN_DOUBLE, double, 0.1, -1e300, 2.0);
  CASE(NN_UINT32, uint32_t, 1, 0xffffffffu, 3);
  CASE(NN_UINT64, uint64_t, 1, UINT64_MAX, 3);
  CASE(NN_BFLOAT16, uint16_t, 0x3f80, 0xbf80, 0x7f80);
  CASE(NN_COMPLEX64, float, 1, 2, 3, 4, 5, 6);
  CASE(NN_COMPLEX128, double, 1, 2, 3, 4);
#undef CASE
  cases[13].n = 3; /* complex: element count is half the float count */
  cases[14].n = 2;
  for (int c = 0; c < nc; c++) {
    size_t nbytes = (size_t)cases[c].n * nn_dtype_size(cases[c].dtype);
    for (int raw = 0; raw < 2; raw++) {
      int64_t dims[] = {cases[c].n};
      Onnx__GraphProto *g = mk_graph("g");
      Onnx__TensorProto *t = mk_tensor("t", cases[c].dtype, 1, dims);
      if (raw)
        set_raw(t, cases[c].expect, nbytes);
      else
        fill_typed(t, &cases[c]);
      PUSH(g, initializer, t);
      PUSH(g, output, mk_vi("t", cases[c].dtype, 1, dims));
      nn_model *m = load_msg(mk_model(g));
      const nn_tensor *lt = &m->graph->tensors[m->graph->inits[0]];
      if ((int)lt->dtype != cases[c].dtype || lt->nbytes != nbytes ||
          memcmp(lt->data, cases[c].expect, nbytes))
        print_error("dtype %s (%s) loaded wrong\n", nn_dtype_name(cases[c].dtype),
                    raw ? "raw_data" : "typed field");
      assert_int_equal(lt->dtype, cases[c].dtype);
      assert_int_equal(lt->nbytes, nbytes);
      assert_memory_equal(lt->data, cases[c].expect, nbytes);
      nn_model *r = roundtrip(m);
      const nn_tensor *rt = &r->graph->tensors[r->graph->inits[0]];
      assert_memory_equal(rt->data, cases[c].expect, nbytes);
      nn_model_free(r);
      nn_model_free(m);
    }
  }

  /* Strings: byte arrays, possibly with NUL inside; raw_data is refused. */
  int64_t sd[] = {3};
  Onnx__GraphProto *g = mk_graph("g");
  Onnx__TensorProto *t = mk_tensor("s", NN_STRING, 1, sd);
  t->n_string_data = 3;
  t->string_data = A(3 * sizeof(ProtobufCBinaryData));
  t->string_data[0] = (ProtobufCBinaryData){5, (uint8_t *)"hello"};
  t->string_data[1] = (ProtobufCBinaryData){0, NULL};
  t->string_data[2] = (ProtobufCBinaryData){3, (uint8_t *)"a\0b"};
  PUSH(g, initializer, t);
  nn_model *m = load_msg(mk_model(g));
  const nn_tensor *st = &m->graph->tensors[m->graph->inits[0]];
  assert_int_equal(st->nbytes, 3 * sizeof(nn_bytes));
  const nn_bytes *s = st->data;
  assert_string_equal(s[0].data, "hello");
  assert_int_equal(s[1].len, 0);
  assert_string_equal(s[1].data, "");
  assert_int_equal(s[2].len, 3);
  assert_memory_equal(s[2].data, "a\0b", 3);
  nn_model_free(roundtrip(m));
  nn_model_free(m);
  t->n_string_data = 0;
  set_raw(t, "abc", 3);
  assert_int_equal(load_msg_status(mk_model(g), NULL), NN_ERR_INVALID);
  assert_error_has("'s'");

  /* Scalars and empty tensors. */
  g = mk_graph("g");
  float one = 1.0f;
  int64_t zd[] = {0, 4};
  PUSH(g, initializer, mk_float_tensor("scalar", 0, NULL, 1, &one));
  PUSH(g, initializer, mk_float_tensor("empty", 2, zd, 0, NULL));
  m = load_msg(mk_model(g));
  const nn_tensor *sc = &m->graph->tensors[nn_graph_find(m->graph, "scalar")];
  assert_int_equal(sc->ndim, 0);
  assert_int_equal(sc->nbytes, 4);
  const nn_tensor *em = &m->graph->tensors[nn_graph_find(m->graph, "empty")];
  assert_int_equal(em->ndim, 2);
  assert_int_equal(em->nbytes, 0);
  assert_non_null(em->data);
  nn_model_free(roundtrip(m));
  nn_model_free(m);
}

static Onnx__ModelProto *mk_external_model(const char *location, const char *offset,
                                           const char *length) {
  int64_t wd[] = {3};
  Onnx__GraphProto *g = mk_graph("main");
  Onnx__TensorProto *t = mk_tensor("w", NN_FLOAT, 1, wd);
  t->has_data_location = 1;
  t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
  const char *keys[] = {"location", "offset", "length"};
  const char *vals[] = {location, offset, length};
  for (int i = 0; i < 3; i++) {
    if (!vals[i]) continue;
    Onnx__StringStringEntryProto *e = A(sizeof *e);
    onnx__string_string_entry_proto__init(e);
    e->key = (char *)keys[i];
    e->value = (char *)vals[i];
    PUSH(t, external_data, e);
  }
  PUSH(g, initializer, t);
  PUSH(g, output, mk_vi("w", NN_FLOAT, 1, wd));
  return mk_model(g);
}

static nn_status load_external(const char *dir, const char *location, const char *offset,
                               const char *length, nn_model **out) {
  char *path = path_in(dir, "model.onnx");
  write_model(path, mk_external_model(location, offset, length));
  *out = NULL;
  return nn_model_load(path, out);
}

static void test_external_data(void **state) {
  (void)state;
  char *dir = mk_tmpdir();
  char *outside = mk_tmpdir();
  uint8_t blob[16 + 12] = {0};
  const float w[] = {1.0f, 2.0f, -3.5f};
  memcpy(blob + 16, w, sizeof w);
  write_bytes(path_in(dir, "w.bin"), blob, sizeof blob);
  write_bytes(path_in(outside, "secret.bin"), blob, sizeof blob);
  nn_model *m;

  assert_int_equal(load_external(dir, "w.bin", "16", "12", &m), NN_OK);
  const nn_tensor *t = &m->graph->tensors[m->graph->inits[0]];
  assert_memory_equal(t->data, w, sizeof w);
  nn_model_free(m);

  /* length missing: to the end of the file */
  assert_int_equal(load_external(dir, "w.bin", "16", NULL, &m), NN_OK);
  assert_memory_equal(m->graph->tensors[m->graph->inits[0]].data, w, sizeof w);
  nn_model_free(m);

  /* past the end of the file */
  assert_int_equal(load_external(dir, "w.bin", "20", "12", &m), NN_ERR_INVALID);
  assert_error_has("'w'");
  assert_error_has("w.bin");
  assert_error_has("past the end");
  assert_int_equal(load_external(dir, "w.bin", "100", NULL, &m), NN_ERR_INVALID);
  assert_error_has("past the end");
  assert_int_equal(load_external(dir, "w.bin", "0", "12", &m), NN_OK); /* zeros */
  nn_model_free(m);
  assert_int_equal(load_external(dir, "w.bin", "0", "16", &m), NN_ERR_INVALID);
  assert_error_has("shape needs 12");
  assert_int_equal(load_external(dir, "w.bin", "-4", "12", &m), NN_ERR_PARSE);

  /* escaping locations */
  char rel[256];
  snprintf(rel, sizeof rel, "../%s/secret.bin", strrchr(outside, '/') + 1);
  assert_int_equal(load_external(dir, rel, "16", "12", &m), NN_ERR_INVALID);
  assert_error_has("'w'");
  assert_error_has("secret.bin");
  assert_int_equal(load_external(dir, "sub/../w.bin", "16", "12", &m), NN_ERR_INVALID);
  char *abs = path_in(outside, "secret.bin");
  assert_int_equal(load_external(dir, abs, "16", "12", &m), NN_ERR_INVALID);
  assert_error_has("relative path");
  /* a symlink inside the folder pointing outside */
  assert_int_equal(symlink(abs, path_in(dir, "link.bin")), 0);
  assert_int_equal(load_external(dir, "link.bin", "16", "12", &m), NN_ERR_INVALID);
  assert_error_has("outside the model's folder");
  /* a symlink that stays inside is fine */
  assert_int_equal(symlink("w.bin", path_in(dir, "alias.bin")), 0);
  assert_int_equal(load_external(dir, "alias.bin", "16", "12", &m), NN_OK);
  nn_model_free(m);
  /* a FIFO must be refused, not block the load */
  assert_int_equal(mkfifo(path_in(dir, "pipe.bin"), 0600), 0);
  assert_int_not_equal(load_external(dir, "pipe.bin", "0", "12", &m), NN_OK);
  assert_error_has("pipe.bin");
  assert_int_equal(nn_model_load(path_in(dir, "pipe.bin"), &m), NN_ERR_IO);
  /* missing file */
  assert_int_equal(load_external(dir, "nope.bin", "0", "12", &m), NN_ERR_IO);
  assert_error_has("nope.bin");
  /* from memory without a base folder */
  assert_int_equal(load_msg_status(mk_external_model("w.bin", "16", "12"), NULL),
                   NN_ERR_INVALID);
  assert_error_has("without a base folder");
  /* from memory with one */
  assert_int_equal(load_msg_status(mk_external_model("w.bin", "16", "12"), dir), NN_OK);
  rm_rf(dir);
  rm_rf(outside);
}

/* A model built in the IR: 'big' (2000 floats) and 'small' (10 floats) initializers. */
static nn_model *mk_ir_model(void) {
  nn_model *m = nn_model_new();
  assert_non_null(m);
  m->ir_version = 8;
  m->n_opsets = 1;
  m->opsets = calloc(1, sizeof *m->opsets);
  m->opsets[0].domain = strdup("");
  m->opsets[0].version = 17;
  nn_graph *g = m->graph;
  g->name = strdup("ir");
  const char *names[] = {"big", "small"};
  const int counts[] = {2000, 10};
  for (int k = 0; k < 2; k++) {
    int t = nn_graph_intern(g, names[k]);
    nn_tensor *tt = &g->tensors[t];
    tt->dtype = NN_FLOAT;
    tt->ndim = 1;
    tt->dims[0] = counts[k];
    tt->nbytes = (size_t)counts[k] * 4;
    tt->data = malloc(tt->nbytes);
    for (int i = 0; i < counts[k]; i++) ((float *)tt->data)[i] = (float)i * 0.5f + (float)k;
    tt->flags = NN_T_INITIALIZER | NN_T_SHAPE_KNOWN | NN_T_OUTPUT;
    nn_graph_list_push(&g->inits, &g->n_inits, t);
    nn_graph_list_push(&g->outputs, &g->n_outputs, t);
  }
  return m;
}

static void test_save_external(void **state) {
  (void)state;
  char *dir = mk_tmpdir();
  char *out = path_in(dir, "out.onnx");
  nn_model *m = mk_ir_model(), *r;
  nn_save_options opt = {.external_threshold = 1000};
  assert_int_equal(nn_model_save(m, out, &opt), NN_OK);
  struct stat sb;
  assert_int_equal(stat(path_in(dir, "out.onnx.data"), &sb), 0);
  assert_true(sb.st_size >= 8000);
  assert_int_equal(count_tmp_files(dir), 0);

  /* Inspect the file with protobuf-c: big is external and aligned, small inline. */
  FILE *f = fopen(out, "rb");
  uint8_t buf[65536];
  size_t len = fread(buf, 1, sizeof buf, f);
  fclose(f);
  assert_true(len < 4000);
  Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, buf);
  assert_non_null(mp);
  Onnx__TensorProto *big = mp->graph->initializer[0], *small = mp->graph->initializer[1];
  assert_string_equal(big->name, "big");
  assert_int_equal(big->data_location, ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL);
  assert_int_equal(big->n_external_data, 3);
  assert_string_equal(big->external_data[0]->value, "out.onnx.data");
  assert_int_equal(atoll(big->external_data[1]->value) % 4096, 0);
  assert_string_equal(big->external_data[2]->value, "8000");
  assert_true(small->has_raw_data);
  assert_int_equal(small->raw_data.len, 40);
  onnx__model_proto__free_unpacked(mp, NULL);

  assert_int_equal(nn_model_load(out, &r), NN_OK);
  assert_true(nn_model_equal(m, r, NULL, 0));
  nn_model_free(r);

  /* Attribute tensors (Constant values) go external too, and come back. */
  int out_c = nn_graph_intern(m->graph, "c");
  int ni = nn_graph_add_node(m->graph, "Constant", "", "const", 0, NULL, 1, &out_c);
  nn_node *cn = &m->graph->nodes[ni];
  cn->n_attrs = 1;
  cn->attrs = calloc(1, sizeof(nn_attr));
  cn->attrs[0].name = strdup("value");
  cn->attrs[0].type = NN_ATTR_TENSOR;
  cn->attrs[0].n = 1;
  cn->attrs[0].tensors = calloc(1, sizeof(nn_tensor));
  nn_tensor *ct = &cn->attrs[0].tensors[0];
  ct->dtype = NN_INT32;
  ct->ndim = 1;
  ct->dims[0] = 600;
  ct->nbytes = 2400;
  ct->data = calloc(600, 4);
  ((int32_t *)ct->data)[599] = 7;
  char *out3 = path_in(dir, "const.onnx");
  assert_int_equal(nn_model_save(m, out3, &opt), NN_OK);
  assert_int_equal(stat(out3, &sb), 0);
  assert_true(sb.st_size < 2000);
  assert_int_equal(nn_model_load(out3, &r), NN_OK);
  assert_true(nn_model_equal(m, r, NULL, 0));
  nn_model_free(r);

  /* Default threshold (2 GB): everything inline, no data file written. */
  char *out2 = path_in(dir, "inline.onnx");
  assert_int_equal(nn_model_save(m, out2, NULL), NN_OK);
  assert_int_equal(stat(path_in(dir, "inline.onnx.data"), &sb), -1);
  assert_int_equal(nn_model_load(out2, &r), NN_OK);
  assert_true(nn_model_equal(m, r, NULL, 0));
  nn_model_free(r);
  nn_model_free(m);
  rm_rf(dir);
}

static void test_atomic_no_overwrite(void **state) {
  (void)state;
  char *dir = mk_tmpdir();
  char *in = path_in(dir, "model.onnx");
  write_model(in, mk_add_model());
  struct stat before, after;
  assert_int_equal(stat(in, &before), 0);
  nn_model *m;
  assert_int_equal(nn_model_load(in, &m), NN_OK);
  /* change the model so an overwrite would be visible */
  nn_tensor *w = &m->graph->tensors[m->graph->inits[0]];
  ((float *)w->data)[0] = 42.0f;
  assert_int_equal(nn_model_save(m, in, NULL), NN_ERR_INVALID);
  assert_error_has("overwrite");
  /* through another name of the same file too */
  assert_int_equal(link(in, path_in(dir, "hard.onnx")), 0);
  assert_int_equal(nn_model_save(m, path_in(dir, "hard.onnx"), NULL), NN_ERR_INVALID);
  assert_int_equal(stat(in, &after), 0);
  assert_int_equal(before.st_size, after.st_size);
  assert_int_equal(before.st_ino, after.st_ino);
  nn_model *again;
  assert_int_equal(nn_model_load(in, &again), NN_OK);
  assert_true(((float *)again->graph->tensors[again->graph->inits[0]].data)[0] == 1.5f);
  nn_model_free(again);

  nn_save_options opt = {.allow_overwrite_input = 1};
  assert_int_equal(nn_model_save(m, in, &opt), NN_OK);
  assert_int_equal(nn_model_load(in, &again), NN_OK);
  assert_true(((float *)again->graph->tensors[again->graph->inits[0]].data)[0] == 42.0f);
  assert_true(nn_model_equal(m, again, NULL, 0));
  nn_model_free(again);
  assert_int_equal(count_tmp_files(dir), 0);

  /* An unwritable destination fails cleanly and leaves nothing behind. */
  assert_int_equal(nn_model_save(m, "/nonexistent-nnopt-dir/x.onnx", NULL), NN_ERR_IO);
  nn_model_free(m);
  rm_rf(dir);
}

static ProtobufCMessageUnknownField *mk_unknown(uint32_t tag, uint8_t value) {
  ProtobufCMessageUnknownField *u = A(sizeof *u);
  u->tag = tag;
  u->wire_type = PROTOBUF_C_WIRE_TYPE_VARINT;
  u->len = 1;
  u->data = A(1);
  u->data[0] = value;
  return u;
}

static void add_unknown(ProtobufCMessage *m, uint32_t tag, uint8_t value) {
  m->n_unknown_fields = 1;
  m->unknown_fields = mk_unknown(tag, value);
}

static int has_unknown(const ProtobufCMessage *m, uint32_t tag, uint8_t value) {
  for (unsigned i = 0; i < m->n_unknown_fields; i++)
    if (m->unknown_fields[i].tag == tag && m->unknown_fields[i].len == 1 &&
        m->unknown_fields[i].data[0] == value)
      return 1;
  return 0;
}

static void test_preserved_fields(void **state) {
  (void)state;
  Onnx__ModelProto *mp = mk_add_model();
  Onnx__GraphProto *g = mp->graph;
  add_unknown(&mp->base, 900, 1);
  add_unknown(&g->base, 901, 2);
  add_unknown(&g->node[0]->base, 902, 3);
  add_unknown(&g->initializer[0]->base, 903, 4);
  Onnx__AttributeProto *a = mk_attr(g->node[0], "custom", NN_ATTR_INT);
  a->has_i = 1;
  a->i = 7;
  add_unknown(&a->base, 904, 5);
  /* a doc_string on an initializer that also has a value info */
  PUSH(g, value_info, mk_vi("w", NN_FLOAT, 1, (int64_t[]){3}));
  g->value_info[0]->doc_string = "value info doc";
  g->initializer[0]->doc_string = "initializer doc";
  /* TensorProto.segment */
  Onnx__TensorProto__Segment *seg = A(sizeof *seg);
  onnx__tensor_proto__segment__init(seg);
  seg->has_begin = 1;
  seg->begin = 0;
  seg->has_end = 1;
  seg->end = 3;
  g->initializer[0]->segment = seg;
  /* functions and training info */
  Onnx__FunctionProto *fn = A(sizeof *fn);
  onnx__function_proto__init(fn);
  fn->name = "myfunc";
  fn->domain = "my.domain";
  PUSH(mp, functions, fn);
  Onnx__TrainingInfoProto *ti = A(sizeof *ti);
  onnx__training_info_proto__init(ti);
  ti->algorithm = mk_graph("algo");
  PUSH(mp, training_info, ti);
  Onnx__StringStringEntryProto *meta = A(sizeof *meta);
  onnx__string_string_entry_proto__init(meta);
  meta->key = "k";
  meta->value = "v";
  PUSH(mp, metadata_props, meta);
  /* graph-level: quantization annotation and a sparse initializer */
  Onnx__TensorAnnotation *qa = A(sizeof *qa);
  onnx__tensor_annotation__init(qa);
  qa->tensor_name = "w";
  PUSH(g, quantization_annotation, qa);
  Onnx__SparseTensorProto *sp = A(sizeof *sp);
  onnx__sparse_tensor_proto__init(sp);
  sp->values = mk_float_tensor("sp", 1, (int64_t[]){1}, 1, (float[]){9.0f});
  PUSH(g, sparse_initializer, sp);
  /* attributes the IR does not model: TYPE_PROTO and SPARSE_TENSOR */
  Onnx__AttributeProto *tpa = mk_attr(g->node[0], "tp", NN_ATTR_TYPE_PROTO);
  tpa->tp = mk_vi("", NN_INT8, 1, (int64_t[]){2})->type;
  Onnx__AttributeProto *spa = mk_attr(g->node[0], "sp", NN_ATTR_SPARSE_TENSOR);
  spa->sparse_tensor = sp;
  /* a sequence-typed value info */
  Onnx__ValueInfoProto *seqvi = A(sizeof *seqvi);
  onnx__value_info_proto__init(seqvi);
  seqvi->name = "seq";
  Onnx__TypeProto *seqt = A(sizeof *seqt);
  onnx__type_proto__init(seqt);
  Onnx__TypeProto__Sequence *seq = A(sizeof *seq);
  onnx__type_proto__sequence__init(seq);
  seq->elem_type = mk_vi("", NN_FLOAT, 1, (int64_t[]){-1})->type;
  seqt->value_case = ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE;
  seqt->sequence_type = seq;
  seqvi->type = seqt;
  PUSH(g, value_info, seqvi);

  nn_model *m = load_msg(mp);
  assert_int_equal(m->n_meta, 1);
  assert_string_equal(m->meta_keys[0], "k");
  const nn_tensor *w = &m->graph->tensors[m->graph->inits[0]];
  assert_string_equal(w->doc_string, "value info doc");
  assert_int_equal(nn_node_attr(&m->graph->nodes[0], "custom")->i, 7);
  assert_true(nn_node_attr(&m->graph->nodes[0], "tp")->shell.len > 0);
  assert_true(m->graph->tensors[nn_graph_find(m->graph, "seq")].type_shell.len > 0);

  void *buf;
  size_t len;
  assert_int_equal(nn_model_save_buffer(m, &buf, &len), NN_OK);
  Onnx__ModelProto *o = onnx__model_proto__unpack(NULL, len, buf);
  assert_non_null(o);
  assert_true(has_unknown(&o->base, 900, 1));
  assert_true(has_unknown(&o->graph->base, 901, 2));
  assert_true(has_unknown(&o->graph->node[0]->base, 902, 3));
  assert_true(has_unknown(&o->graph->initializer[0]->base, 903, 4));
  Onnx__AttributeProto *oa = o->graph->node[0]->attribute[0];
  assert_string_equal(oa->name, "custom");
  assert_true(has_unknown(&oa->base, 904, 5));
  assert_int_equal(o->n_functions, 1);
  assert_string_equal(o->functions[0]->name, "myfunc");
  assert_int_equal(o->n_training_info, 1);
  assert_string_equal(o->training_info[0]->algorithm->name, "algo");
  assert_int_equal(o->graph->n_quantization_annotation, 1);
  assert_int_equal(o->graph->n_sparse_initializer, 1);
  assert_string_equal(o->graph->sparse_initializer[0]->values->name, "sp");
  Onnx__TensorProto *ow = o->graph->initializer[0];
  assert_non_null(ow->segment);
  assert_int_equal(ow->segment->end, 3);
  assert_string_equal(ow->doc_string, "initializer doc");
  assert_string_equal(o->graph->value_info[0]->doc_string, "value info doc");
  Onnx__AttributeProto *otp = o->graph->node[0]->attribute[1];
  assert_string_equal(otp->name, "tp");
  assert_int_equal(otp->type, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTO);
  assert_int_equal(otp->tp->tensor_type->elem_type, NN_INT8);
  Onnx__AttributeProto *osp = o->graph->node[0]->attribute[2];
  assert_string_equal(osp->sparse_tensor->values->name, "sp");
  assert_int_equal(o->graph->value_info[1]->type->value_case,
                   ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE);
  onnx__model_proto__free_unpacked(o, NULL);
  nn_model *r;
  assert_int_equal(nn_model_load_buffer(buf, len, NULL, "saved", &r), NN_OK);
  assert_true(nn_model_equal(m, r, NULL, 0));
  nn_model_free(r);
  free(buf);
  nn_model_free(m);
}

/* Found by the fuzzer: a name listed twice with a tensor type and then a sequence type
 * must not keep a mix of both (the reload used to differ). The last listing wins. */
static void test_value_info_listed_twice(void **state) {
  (void)state;
  Onnx__ModelProto *mp = mk_add_model();
  Onnx__ValueInfoProto *seqvi = mk_vi("y", NN_FLOAT, 1, (int64_t[]){3});
  Onnx__TypeProto *elem = seqvi->type;
  Onnx__TypeProto *seqt = A(sizeof *seqt);
  onnx__type_proto__init(seqt);
  Onnx__TypeProto__Sequence *seq = A(sizeof *seq);
  onnx__type_proto__sequence__init(seq);
  seq->elem_type = elem;
  seqt->value_case = ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE;
  seqt->sequence_type = seq;
  seqvi->type = seqt;
  PUSH(mp->graph, value_info, seqvi);
  nn_model *m = load_msg(mp);
  const nn_tensor *y = &m->graph->tensors[nn_graph_find(m->graph, "y")];
  assert_int_equal(y->dtype, NN_UNDEFINED);
  assert_int_equal(y->ndim, -1);
  assert_true(y->type_shell.len > 0);
  nn_model_free(roundtrip(m));
  nn_model_free(m);
  /* and the other way round: the tensor type replaces the verbatim one */
  mp->graph->value_info[0] = mk_vi("y", NN_INT32, 1, (int64_t[]){-1});
  mp->graph->output[0]->type = seqt;
  m = load_msg(mp);
  y = &m->graph->tensors[nn_graph_find(m->graph, "y")];
  assert_int_equal(y->dtype, NN_INT32);
  assert_string_equal(y->dim_param[0], "N");
  assert_int_equal(y->type_shell.len, 0);
  nn_model_free(roundtrip(m));
  nn_model_free(m);
}

static void test_attributes_and_subgraphs(void **state) {
  (void)state;
  int64_t sd[] = {1};
  Onnx__GraphProto *g = mk_graph("main");
  PUSH(g, input, mk_vi("cond", NN_BOOL, 0, NULL));
  PUSH(g, input, mk_vi("x", NN_FLOAT, 1, sd));
  PUSH(g, output, mk_vi("y", NN_FLOAT, 1, sd));
  Onnx__NodeProto *n = mk_node(g, "If", "if0", "cond", NULL, "y");
  /* then: y_then = Neg(x) using the outer x; else: a nested If capturing x as well */
  Onnx__GraphProto *then_g = mk_graph("then");
  PUSH(then_g, output, mk_vi("y_then", NN_FLOAT, 1, sd));
  mk_node(then_g, "Neg", "neg", "x", NULL, "y_then");
  Onnx__GraphProto *else_g = mk_graph("else");
  PUSH(else_g, output, mk_vi("y_else", NN_FLOAT, 1, sd));
  Onnx__NodeProto *inner = mk_node(else_g, "If", "if1", "cond", NULL, "y_else");
  Onnx__GraphProto *deep = mk_graph("deep");
  PUSH(deep, output, mk_vi("y_deep", NN_FLOAT, 1, sd));
  mk_node(deep, "Abs", "abs", "x", NULL, "y_deep");
  mk_attr(inner, "then_branch", NN_ATTR_GRAPH)->g = deep;
  mk_attr(inner, "else_branch", NN_ATTR_GRAPH)->g = deep;
  mk_attr(n, "then_branch", NN_ATTR_GRAPH)->g = then_g;
  mk_attr(n, "else_branch", NN_ATTR_GRAPH)->g = else_g;
  /* one attribute of every modeled type on an extra node */
  Onnx__NodeProto *c = mk_node(g, "Custom", "c0", NULL, NULL, "z");
  c->domain = "my.domain";
  Onnx__AttributeProto *a;
  a = mk_attr(c, "f", NN_ATTR_FLOAT), a->has_f = 1, a->f = 0.25f;
  a = mk_attr(c, "i", NN_ATTR_INT), a->has_i = 1, a->i = -5;
  a = mk_attr(c, "s", NN_ATTR_STRING), a->has_s = 1, a->s = (ProtobufCBinaryData){3, (uint8_t *)"abc"};
  a = mk_attr(c, "t", NN_ATTR_TENSOR), a->t = mk_float_tensor("", 1, sd, 1, (float[]){2.5f});
  a = mk_attr(c, "fs", NN_ATTR_FLOATS), a->n_floats = 2, a->floats = (float[]){1, 2};
  a = mk_attr(c, "is", NN_ATTR_INTS), a->n_ints = 3, a->ints = (int64_t[]){1, -2, 3};
  a = mk_attr(c, "ss", NN_ATTR_STRINGS), a->n_strings = 2;
  a->strings = (ProtobufCBinaryData[]){{1, (uint8_t *)"p"}, {2, (uint8_t *)"qr"}};
  a = mk_attr(c, "ts", NN_ATTR_TENSORS), a->n_tensors = 2;
  a->tensors = (Onnx__TensorProto *[]){mk_float_tensor("a", 1, sd, 1, (float[]){1}),
                                       mk_float_tensor("b", 1, sd, 1, (float[]){2})};
  a = mk_attr(c, "gs", NN_ATTR_GRAPHS), a->n_graphs = 2;
  a->graphs = (Onnx__GraphProto *[]){deep, then_g};
  /* no 'type' field (IR v1 style): inferred from the value */
  a = mk_attr(c, "untyped", NN_ATTR_INT), a->has_type = 0, a->has_i = 1, a->i = 11;

  nn_model *m = load_msg(mk_model(g));
  nn_graph *mg = m->graph;
  const nn_node *ifn = &mg->nodes[0];
  const nn_attr *tb = nn_node_attr(ifn, "then_branch");
  assert_int_equal(tb->type, NN_ATTR_GRAPH);
  nn_graph *sub = tb->graphs[0];
  assert_ptr_equal(sub->parent, mg);
  int sx = nn_graph_find(sub, "x");
  assert_true(sx >= 0);
  assert_int_equal(sub->tensors[sx].producer, -1); /* captured, not local */
  assert_int_equal(sub->tensors[nn_graph_find(sub, "y_then")].producer, 0);
  nn_graph *eg = nn_node_attr(ifn, "else_branch")->graphs[0];
  nn_graph *dg = nn_node_attr(&eg->nodes[0], "then_branch")->graphs[0];
  assert_ptr_equal(dg->parent, eg);
  /* x is a capture of the If node (through two levels) */
  int *caps, ncaps;
  assert_int_equal(nn_node_captures(mg, ifn, &caps, &ncaps), NN_OK);
  assert_int_equal(ncaps, 2); /* x (both branches) and cond (the inner If) */
  assert_true(caps[0] == nn_graph_find(mg, "x") || caps[1] == nn_graph_find(mg, "x"));
  free(caps);

  const nn_node *cn = &mg->nodes[1];
  assert_string_equal(cn->domain, "my.domain");
  assert_true(nn_attr_float(cn, "f", 0) == 0.25f);
  assert_int_equal(nn_attr_int(cn, "i", 0), -5);
  assert_string_equal(nn_attr_string(cn, "s", ""), "abc");
  const nn_attr *ta = nn_node_attr(cn, "t");
  assert_int_equal(ta->tensors[0].dtype, NN_FLOAT);
  assert_true(*(float *)ta->tensors[0].data == 2.5f);
  const int64_t *iv;
  assert_int_equal(nn_attr_ints(cn, "is", &iv), 3);
  assert_int_equal(iv[1], -2);
  const float *fv;
  assert_int_equal(nn_attr_floats(cn, "fs", &fv), 2);
  const nn_attr *ssa = nn_node_attr(cn, "ss");
  assert_int_equal(ssa->n, 2);
  assert_string_equal(ssa->strings[1].data, "qr");
  assert_int_equal(nn_node_attr(cn, "ts")->n, 2);
  assert_string_equal(nn_node_attr(cn, "ts")->tensors[1].name, "b");
  const nn_attr *gsa = nn_node_attr(cn, "gs");
  assert_int_equal(gsa->n, 2);
  assert_string_equal(gsa->graphs[1]->name, "then");
  assert_ptr_equal(gsa->graphs[0]->parent, mg);
  assert_int_equal(nn_node_attr(cn, "untyped")->type, NN_ATTR_INT);
  assert_int_equal(nn_attr_int(cn, "untyped", 0), 11);
  assert_int_equal(nn_model_validate(m, 0), NN_OK);
  nn_model *r = roundtrip(m);
  assert_ptr_equal(nn_node_attr(&r->graph->nodes[0], "then_branch")->graphs[0]->parent,
                   r->graph);
  nn_model_free(r);
  nn_model_free(m);
}

static void expect_load_error(const Onnx__ModelProto *mp, nn_status want, const char *needle) {
  nn_status st = load_msg_status(mp, NULL);
  if (st != want) print_error("status %d (%s), wanted %d\n", st, nn_last_error(), want);
  assert_int_equal(st, want);
  if (needle) assert_error_has(needle);
}

static void test_malformed(void **state) {
  (void)state;
  nn_model *m = NULL;
  /* empty / garbage */
  assert_int_not_equal(nn_model_load_buffer("", 0, NULL, "empty", &m), NN_OK);
  assert_null(m);
  assert_int_not_equal(nn_model_load_buffer("hello world", 11, NULL, "text", &m), NN_OK);
  assert_int_equal(nn_model_load("/nonexistent/model.onnx", &m), NN_ERR_IO);
  /* wrong wire type: ModelProto.graph (field 7) as a varint */
  static const uint8_t wrong_wire[] = {0x38, 0x01};
  assert_int_equal(nn_model_load_buffer(wrong_wire, sizeof wrong_wire, NULL, "w", &m),
                   NN_ERR_PARSE);
  /* length running past the end */
  static const uint8_t overrun[] = {0x3a, 0x7f, 0x0a, 0x00};
  assert_int_equal(nn_model_load_buffer(overrun, sizeof overrun, NULL, "o", &m), NN_ERR_PARSE);
  /* group wire types are refused */
  static const uint8_t group[] = {0x3b, 0x3c};
  assert_int_not_equal(nn_model_load_buffer(group, sizeof group, NULL, "g", &m), NN_OK);

  /* every truncation and single-byte corruption of a valid model: no crash */
  Onnx__ModelProto *good = mk_add_model();
  size_t len;
  uint8_t *b = pack(&good->base, &len);
  for (size_t n = 0; n < len; n++) {
    nn_status st = nn_model_load_buffer(b, n, NULL, "truncated", &m);
    if (st == NN_OK) nn_model_free(m);
  }
  uint8_t *c = A(len);
  unsigned seed = 12345;
  for (int it = 0; it < 3000; it++) {
    memcpy(c, b, len);
    for (int k = 0; k < 1 + it % 3; k++) {
      seed = seed * 1103515245u + 12345u;
      c[(seed >> 8) % len] = (uint8_t)(seed >> 20);
    }
    if (nn_model_load_buffer(c, len, NULL, "corrupt", &m) == NN_OK) {
      void *out;
      size_t olen;
      if (nn_model_save_buffer(m, &out, &olen) == NN_OK) free(out);
      nn_model_validate(m, 0);
      nn_model_free(m);
    }
  }

  /* tensor shapes vs data */
  Onnx__ModelProto *mp = mk_add_model();
  Onnx__TensorProto *w = mp->graph->initializer[0];
  w->dims[0] = -3;
  expect_load_error(mp, NN_ERR_INVALID, "'w'");
  assert_error_has("negative");
  w->dims[0] = 4; /* 3 floats of raw data for 4 elements */
  expect_load_error(mp, NN_ERR_INVALID, "'w'");
  assert_error_has("raw_data has 12 bytes");
  w->dims[0] = 2; /* longer than the shape */
  expect_load_error(mp, NN_ERR_INVALID, "'w'");
  int64_t huge[] = {INT64_C(1) << 40, INT64_C(1) << 40};
  w->n_dims = 2;
  w->dims = huge;
  expect_load_error(mp, NN_ERR_INVALID, "'w'");
  int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 3};
  w->n_dims = 9;
  w->dims = nine;
  expect_load_error(mp, NN_ERR_UNSUPPORTED, "rank 9");
  w->n_dims = 1;
  w->dims = (int64_t[]){3};
  w->data_type = 99;
  expect_load_error(mp, NN_ERR_UNSUPPORTED, "data type 99");
  w->data_type = 0;
  expect_load_error(mp, NN_ERR_UNSUPPORTED, "'w'");
  w->data_type = NN_FLOAT;
  /* typed data shorter than the shape */
  Onnx__TensorProto *tf = mk_float_tensor("tf", 1, (int64_t[]){5}, 2, (float[]){1, 2});
  PUSH(mp->graph, initializer, tf);
  expect_load_error(mp, NN_ERR_INVALID, "'tf'");
  assert_error_has("has 2 values");
  mp->graph->n_initializer--;
  /* absurd dims with no data at all */
  PUSH(mp->graph, initializer, mk_tensor("nodata", NN_FLOAT, 1, (int64_t[]){INT64_MAX}));
  expect_load_error(mp, NN_ERR_INVALID, "'nodata'");
  mp->graph->n_initializer--;
  /* duplicate initializer */
  PUSH(mp->graph, initializer, w);
  expect_load_error(mp, NN_ERR_INVALID, "duplicate initializer 'w'");
  mp->graph->n_initializer--;
  /* value info: bad dtype, rank, negative dim */
  Onnx__ValueInfoProto *vi = mp->graph->input[0];
  vi->type->tensor_type->elem_type = 77;
  expect_load_error(mp, NN_ERR_UNSUPPORTED, "'x'");
  vi->type->tensor_type->elem_type = NN_FLOAT;
  vi->type->tensor_type->shape->dim[1]->dim_value = -7;
  expect_load_error(mp, NN_ERR_INVALID, "'x'");
  vi->type->tensor_type->shape->dim[1]->dim_value = 3;
  assert_int_equal(load_msg_status(mp, NULL), NN_OK);
  /* no graph */
  mp->graph = NULL;
  expect_load_error(mp, NN_ERR_INVALID, "no graph");

  /* Deep nesting (graph -> node -> attribute -> graph ...) is refused, not recursed. */
  size_t cap = 1 << 16, used = 0;
  uint8_t *deep = A(cap), *tmp = A(cap);
  static const uint8_t tags[] = {0x32 /* attr.g */, 0x2a /* node.attribute */,
                                 0x0a /* graph.node */};
  for (int level = 0; level < 3 * 200; level++) {
    uint8_t tag = tags[level % 3];
    size_t n = 0;
    tmp[n++] = tag;
    size_t v = used;
    do {
      tmp[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
      v >>= 7;
    } while (v);
    assert_true(n + used < cap);
    memcpy(tmp + n, deep, used);
    used += n;
    memcpy(deep, tmp, used);
  }
  memmove(deep + 4, deep, used); /* model.graph (field 7), 2-byte length prefix assumed */
  assert_true(used < (1u << 14));
  deep[0] = 0x3a;
  deep[1] = (uint8_t)((used & 0x7f) | 0x80);
  deep[2] = (uint8_t)(used >> 7);
  memmove(deep + 3, deep + 4, used);
  assert_int_equal(nn_model_load_buffer(deep, used + 3, NULL, "deep", &m), NN_ERR_PARSE);
  assert_error_has("nested");
}

static Onnx__GraphProto *g_vgraph;
static Onnx__ModelProto *mk_relu_chain(void) {
  int64_t d[] = {2};
  g_vgraph = mk_graph("v");
  PUSH(g_vgraph, input, mk_vi("x", NN_FLOAT, 1, d));
  PUSH(g_vgraph, output, mk_vi("z", NN_FLOAT, 1, d));
  mk_node(g_vgraph, "Relu", "r1", "x", NULL, "y");
  mk_node(g_vgraph, "Relu", "r2", "y", NULL, "z");
  return mk_model(g_vgraph);
}

static void expect_invalid(const Onnx__ModelProto *mp, int check_ops, nn_status want,
                           const char *n1, const char *n2) {
  nn_model *m = load_msg(mp);
  nn_status st = nn_model_validate(m, check_ops);
  if (st != want) print_error("validate: %d (%s), wanted %d\n", st, nn_last_error(), want);
  assert_int_equal(st, want);
  if (n1) assert_error_has(n1);
  if (n2) assert_error_has(n2);
  nn_model_free(m);
}

static void test_validate(void **state) {
  (void)state;
  Onnx__ModelProto *mp = mk_relu_chain();
  expect_invalid(mp, 0, NN_OK, NULL, NULL);
  /* cycle: r1 consumes z */
  g_vgraph->node[0]->input[0] = "z";
  expect_invalid(mp, 0, NN_ERR_INVALID, "cycle", "Relu");
  /* undefined input */
  g_vgraph->node[0]->input[0] = "q";
  expect_invalid(mp, 0, NN_ERR_INVALID, "node 'r1' (Relu)", "'q'");
  g_vgraph->node[0]->input[0] = "x";
  /* duplicate output */
  mk_node(g_vgraph, "Relu", "r3", "x", NULL, "y");
  expect_invalid(mp, 0, NN_ERR_INVALID, "node 'r3'", "'y'");
  g_vgraph->n_node--;
  /* output not produced */
  PUSH(g_vgraph, output, mk_vi("nowhere", NN_FLOAT, 1, (int64_t[]){2}));
  expect_invalid(mp, 0, NN_ERR_INVALID, "'nowhere'", NULL);
  g_vgraph->n_output--;
  /* attribute type mismatch */
  Onnx__NodeProto *conv = mk_node(g_vgraph, "Conv", "conv", "x", "x", "c");
  Onnx__AttributeProto *a = mk_attr(conv, "strides", NN_ATTR_INT);
  a->has_i = 1;
  a->i = 1;
  expect_invalid(mp, 0, NN_ERR_INVALID, "node 'conv' (Conv)", "'strides' has type INT, expected INTS");
  g_vgraph->n_node--;
  /* dtype mismatch */
  PUSH(g_vgraph, input, mk_vi("i", NN_INT64, 1, (int64_t[]){2}));
  mk_node(g_vgraph, "Add", "add", "x", "i", "s");
  expect_invalid(mp, 0, NN_ERR_INVALID, "node 'add' (Add)", "'i' (int64)");
  g_vgraph->n_node--;
  g_vgraph->n_input--;
  /* unsupported op, only with check_ops (a graph of that op alone, so the test does
   * not depend on which ops the runtime has today) */
  Onnx__GraphProto *u = mk_graph("u");
  PUSH(u, input, mk_vi("x", NN_FLOAT, 1, (int64_t[]){2}));
  PUSH(u, output, mk_vi("o", NN_FLOAT, 1, (int64_t[]){2}));
  mk_node(u, "NoSuchOp", "mystery", "x", NULL, "o");
  expect_invalid(mk_model(u), 0, NN_OK, NULL, NULL);
  expect_invalid(mk_model(u), 1, NN_ERR_UNSUPPORTED,
                 "unsupported op NoSuchOp (domain 'ai.onnx', opset 17)", "mystery");
  u->node[0]->domain = "com.example";
  expect_invalid(mk_model(u), 1, NN_ERR_UNSUPPORTED, "(domain 'com.example', opset -1)", NULL);
  /* subgraph: outer capture is fine, an undefined name is not */
  PUSH(g_vgraph, input, mk_vi("cond", NN_BOOL, 0, NULL));
  Onnx__NodeProto *ifn = mk_node(g_vgraph, "If", "if", "cond", NULL, "w");
  Onnx__GraphProto *br = mk_graph("branch");
  PUSH(br, output, mk_vi("o", NN_FLOAT, 1, (int64_t[]){2}));
  Onnx__NodeProto *inner = mk_node(br, "Neg", "neg", "y", NULL, "o");
  mk_attr(ifn, "then_branch", NN_ATTR_GRAPH)->g = br;
  mk_attr(ifn, "else_branch", NN_ATTR_GRAPH)->g = br;
  expect_invalid(mp, 0, NN_OK, NULL, NULL);
  inner->input[0] = "ghost";
  expect_invalid(mp, 0, NN_ERR_INVALID, "node 'neg' (Neg)", "'ghost'");
}

static void test_equal(void **state) {
  (void)state;
  nn_model *a = load_msg(mk_add_model()), *b = load_msg(mk_add_model());
  char why[512];
  assert_true(nn_model_equal(a, b, why, sizeof why));
  assert_string_equal(why, "");
  ((float *)b->graph->tensors[b->graph->inits[0]].data)[1] = 0.0f;
  assert_false(nn_model_equal(a, b, why, sizeof why));
  assert_non_null(strstr(why, "'w'"));
  assert_non_null(strstr(why, "element 1"));
  nn_model_free(b);
  b = load_msg(mk_add_model());
  free(b->graph->nodes[0].op_type);
  b->graph->nodes[0].op_type = strdup("Sub");
  assert_false(nn_model_equal(a, b, why, sizeof why));
  assert_non_null(strstr(why, "add0"));
  nn_model_free(b);
  b = load_msg(mk_add_model());
  b->graph->tensors[b->graph->inputs[0]].dims[1] = 4;
  assert_false(nn_model_equal(a, b, why, sizeof why));
  assert_non_null(strstr(why, "'x'"));
  nn_model_free(a);
  nn_model_free(b);
}

static void test_read_tensor_pb(void **state) {
  (void)state;
  char *dir = mk_tmpdir();
  int64_t d[] = {2, 2};
  Onnx__TensorProto *t = mk_tensor("t0", NN_INT64, 2, d);
  t->n_int64_data = 4;
  t->int64_data = (int64_t[]){1, -2, 3, INT64_MAX};
  size_t len;
  uint8_t *b = pack(&t->base, &len);
  char *p = path_in(dir, "input_0.pb");
  write_bytes(p, b, len);
  nn_array a;
  char *name;
  assert_int_equal(nn_onnx_read_tensor_pb(p, &a, &name), NN_OK);
  assert_int_equal(a.dtype, NN_INT64);
  assert_int_equal(a.ndim, 2);
  assert_int_equal(a.dims[1], 2);
  assert_int_equal(a.nbytes, 32);
  assert_int_equal(((int64_t *)a.data)[3], INT64_MAX);
  assert_string_equal(name, "t0");
  free(name);
  nn_array_release(&a);
  /* a truncated file is an error naming the file */
  write_bytes(p, b, len - 3);
  assert_int_not_equal(nn_onnx_read_tensor_pb(p, &a, NULL), NN_OK);
  assert_error_has("input_0.pb");
  /* nn_onnx_tensor_from_proto works on an unpacked message without taking from it */
  nn_tensor tt;
  assert_int_equal(nn_onnx_tensor_from_proto(t, NULL, "here", &tt), NN_OK);
  assert_int_equal(tt.nbytes, 32);
  nn_tensor_clear(&tt);
  t->dims[0] = -1;
  assert_int_equal(nn_onnx_tensor_from_proto(t, NULL, "here", &tt), NN_ERR_INVALID);
  assert_error_has("here");
  rm_rf(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_load_basic, arena_teardown),
      cmocka_unit_test_teardown(test_dtypes, arena_teardown),
      cmocka_unit_test_teardown(test_external_data, arena_teardown),
      cmocka_unit_test_teardown(test_save_external, arena_teardown),
      cmocka_unit_test_teardown(test_atomic_no_overwrite, arena_teardown),
      cmocka_unit_test_teardown(test_preserved_fields, arena_teardown),
      cmocka_unit_test_teardown(test_value_info_listed_twice, arena_teardown),
      cmocka_unit_test_teardown(test_attributes_and_subgraphs, arena_teardown),
      cmocka_unit_test_teardown(test_malformed, arena_teardown),
      cmocka_unit_test_teardown(test_validate, arena_teardown),
      cmocka_unit_test_teardown(test_equal, arena_teardown),
      cmocka_unit_test_teardown(test_read_tensor_pb, arena_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
