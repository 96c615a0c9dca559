/*
 * test_core.c - dtype traits and half conversions, the memory planner, graph IR
 * lookups/topological order, and .npy/.npz files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/dtype.h"
#include "core/graph.h"
#include "core/io.h"
#include "runtime/planner.h"

static void test_f16_round_trip(void **state) {
  (void)state;
  /* Every finite half survives half -> float -> half exactly. */
  for (uint32_t h = 0; h < 0x10000; h++) {
    if ((h & 0x7c00) == 0x7c00) continue; /* inf/nan */
    float f = nn_f16_to_f32((uint16_t)h);
    assert_int_equal(nn_f32_to_f16(f), h);
  }
  assert_int_equal(nn_f32_to_f16(65520.0f), 0x7c00); /* rounds to inf */
  assert_int_equal(nn_f32_to_f16(1.0f + 1.0f / 2048), 0x3c00); /* tie to even */
  assert_true(isnan(nn_f16_to_f32(nn_f32_to_f16(NAN))));
  assert_int_equal(nn_f32_to_bf16(1.0f), 0x3f80);
  assert_true(nn_bf16_to_f32(nn_f32_to_bf16(3.140625f)) == 3.140625f);
}

static void test_traits(void **state) {
  (void)state;
  int8_t i8;
  nn_dtype_traits_of(NN_INT8)->from_f64(&i8, 300.0);
  assert_int_equal(i8, 127); /* saturates */
  nn_dtype_traits_of(NN_INT8)->from_f64(&i8, -1000.0);
  assert_int_equal(i8, -128);
  uint8_t u8;
  nn_dtype_traits_of(NN_UINT8)->from_i64(&u8, 257); /* wraps like a C cast */
  assert_int_equal(u8, 1);
  assert_string_equal(nn_dtype_name(NN_BFLOAT16), "bfloat16");
  assert_int_equal(nn_dtype_size(NN_DOUBLE), 8);
  assert_null(nn_dtype_traits_of((nn_dtype)99));
  assert_string_equal(nn_dtype_name((nn_dtype)99), "undefined");
}

static int overlap(const planner_item *a, const planner_item *b) {
  int live = a->first <= b->last && b->first <= a->last;
  int mem = a->offset < b->offset + b->size && b->offset < a->offset + a->size;
  return live && mem;
}

static void test_planner(void **state) {
  (void)state;
  /* A chain a->b->c->d: each value dies after the next is made, so two slots do. */
  planner_item it[4] = {{0, 1024, 0, 1, 0}, {1, 1024, 1, 2, 0}, {2, 1024, 2, 3, 0},
                        {3, 1024, 3, 4, 0}};
  size_t total;
  assert_int_equal(nn_plan_offsets(it, 4, &total), NN_OK);
  assert_int_equal(total, 2048);
  /* Random lifetimes: no two live values may overlap in memory. */
  srand(7);
  planner_item r[200];
  size_t sum = 0;
  for (int i = 0; i < 200; i++) {
    r[i].id = i;
    r[i].size = (size_t)(rand() % 50 + 1) * 64;
    r[i].first = rand() % 100;
    r[i].last = r[i].first + rand() % 10;
    sum += r[i].size;
  }
  assert_int_equal(nn_plan_offsets(r, 200, &total), NN_OK);
  for (int i = 0; i < 200; i++)
    for (int j = i + 1; j < 200; j++) assert_false(overlap(&r[i], &r[j]));
  assert_true(total < sum);
}

static void test_graph_topo_cycle(void **state) {
  (void)state;
  nn_graph *g = nn_graph_new(NULL);
  int a = nn_graph_intern(g, "a"), b = nn_graph_intern(g, "b"), c = nn_graph_intern(g, "c");
  assert_int_equal(nn_graph_find(g, "b"), b);
  assert_int_equal(nn_graph_find(g, "zz"), -1);
  /* n1: b = f(a); n0: c = f(b) listed first in the file: order must be n1, n0. */
  assert_int_equal(nn_graph_add_node(g, "Relu", "", "n0", 1, &b, 1, &c), 0);
  assert_int_equal(nn_graph_add_node(g, "Relu", "", "n1", 1, &a, 1, &b), 1);
  g->tensors[a].flags |= NN_T_INPUT;
  int order[2];
  assert_int_equal(nn_graph_topo_order(g, order), NN_OK);
  assert_int_equal(order[0], 1);
  assert_int_equal(order[1], 0);
  /* Close a cycle: a = f(c). */
  assert_int_equal(nn_graph_add_node(g, "Relu", "", "n2", 1, &c, 1, &a), 2);
  g->tensors[a].flags &= ~NN_T_INPUT;
  int order3[3];
  assert_int_equal(nn_graph_topo_order(g, order3), NN_ERR_INVALID);
  assert_non_null(strstr(nn_last_error(), "cycle"));
  /* Many tensors: the name index keeps working as it grows. */
  char name[32];
  for (int i = 0; i < 5000; i++) {
    snprintf(name, sizeof name, "t%d", i);
    assert_true(nn_graph_intern(g, name) >= 0);
  }
  assert_int_equal(nn_graph_find(g, "t4321"), 3 + 4321);
  nn_graph_free(g);
}

static void test_npy_round_trip(void **state) {
  (void)state;
  char path[] = "/tmp/nnopt_test_XXXXXX.npy";
  int fd = mkstemps(path, 4);
  assert_true(fd >= 0);
  close(fd);
  float data[6] = {1, -2, 3.5f, 4, 5, 6};
  nn_array a = {NN_FLOAT, 2, {2, 3}, data, sizeof data};
  assert_int_equal(nn_array_write_npy(path, &a), NN_OK);
  nn_array b;
  assert_int_equal(nn_array_read(path, &b, NULL), NN_OK);
  assert_int_equal(b.dtype, NN_FLOAT);
  assert_int_equal(b.ndim, 2);
  assert_int_equal(b.dims[1], 3);
  assert_memory_equal(b.data, data, sizeof data);
  nn_array_release(&b);
  /* A truncated file is refused with a message naming it. */
  assert_int_equal(nn_write_file_atomic(path, "\x93NUMPY\x01\x00\x10\x00{'descr': '<f4'", 25, NULL, 0), NN_OK);
  assert_int_equal(nn_array_read(path, &b, NULL), NN_ERR_PARSE);
  assert_non_null(strstr(nn_last_error(), path));
  unlink(path);
}

static void test_npz(void **state) {
  (void)state;
  nn_npz z;
  assert_int_equal(nn_npz_read(NNOPT_SOURCE_DIR "/tests/data/sample.npz", &z), NN_OK);
  assert_int_equal(z.count, 2);
  int seen = 0;
  for (int i = 0; i < z.count; i++) {
    if (!strcmp(z.names[i], "x")) { /* np.arange(6, dtype=float32).reshape(2, 3) */
      assert_int_equal(z.arrays[i].dtype, NN_FLOAT);
      assert_true(((float *)z.arrays[i].data)[5] == 5.0f);
      seen |= 1;
    }
    if (!strcmp(z.names[i], "ids")) { /* np.array([7, 8, 9], dtype=int64) */
      assert_int_equal(z.arrays[i].dtype, NN_INT64);
      assert_int_equal(((int64_t *)z.arrays[i].data)[2], 9);
      seen |= 2;
    }
  }
  assert_int_equal(seen, 3);
  nn_npz_release(&z);
  assert_int_equal(nn_npz_read(NNOPT_SOURCE_DIR "/tests/data/sample_compressed.npz", &z), NN_OK);
  assert_int_equal(z.count, 2);
  nn_npz_release(&z);
  assert_int_not_equal(nn_npz_read(NNOPT_SOURCE_DIR "/CMakeLists.txt", &z), NN_OK);
}

static void test_array_convert(void **state) {
  (void)state;
  uint8_t *u = malloc(3);
  u[0] = 0, u[1] = 7, u[2] = 255;
  nn_array a = {NN_UINT8, 1, {3}, u, 3};
  assert_int_equal(nn_array_convert(&a, NN_FLOAT, "x"), NN_OK);
  assert_int_equal(a.dtype, NN_FLOAT);
  assert_int_equal(a.nbytes, 12);
  assert_true(((float *)a.data)[2] == 255.0f);
  assert_int_equal(nn_array_convert(&a, NN_INT64, "x"), NN_OK);
  assert_int_equal(((int64_t *)a.data)[1], 7);
  assert_int_equal(nn_array_convert(&a, NN_STRING, "ids"), NN_ERR_INVALID);
  assert_non_null(strstr(nn_last_error(), "'ids'"));
  nn_array_release(&a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_array_convert),
      cmocka_unit_test(test_f16_round_trip), cmocka_unit_test(test_traits),
      cmocka_unit_test(test_planner),        cmocka_unit_test(test_graph_topo_cycle),
      cmocka_unit_test(test_npy_round_trip), cmocka_unit_test(test_npz),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
