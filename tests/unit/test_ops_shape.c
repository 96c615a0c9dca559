/*
 * test_ops_shape.c - kernel tests for the shape family: the tiled transpose and the
 * strided copy against a naive per-element reference over sweeps of ranks,
 * permutations, odd sizes and element sizes; gather kernels on edge cases.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "kernels/ref/gather.h"
#include "kernels/ref/transpose.h"

/* Deterministic byte pattern so every element is distinguishable. */
static void fill_bytes(uint8_t *p, size_t n, uint32_t seed) {
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; i++) {
    x = x * 1664525u + 1013904223u;
    p[i] = (uint8_t)(x >> 24);
  }
}

static void naive_transpose(const uint8_t *in, uint8_t *out, size_t elem, int nd,
                            const int64_t *dims, const int *perm) {
  int64_t is[8], od[8], n = 1;
  int64_t s = 1;
  for (int a = nd - 1; a >= 0; a--) {
    is[a] = s;
    s *= dims[a];
  }
  for (int k = 0; k < nd; k++) {
    od[k] = dims[perm[k]];
    n *= od[k];
  }
  for (int64_t o = 0; o < n; o++) {
    int64_t rem = o, off = 0;
    for (int k = nd - 1; k >= 0; k--) {
      int64_t c = rem % od[k];
      rem /= od[k];
      off += c * is[perm[k]];
    }
    memcpy(out + (size_t)o * elem, in + (size_t)off * elem, elem);
  }
}

/* Next permutation in lexicographic order; 0 when done. */
static int next_perm(int *p, int n) {
  int i = n - 2;
  while (i >= 0 && p[i] >= p[i + 1]) i--;
  if (i < 0) return 0;
  int j = n - 1;
  while (p[j] <= p[i]) j--;
  int t = p[i];
  p[i] = p[j];
  p[j] = t;
  for (int a = i + 1, b = n - 1; a < b; a++, b--) {
    t = p[a];
    p[a] = p[b];
    p[b] = t;
  }
  return 1;
}

static void check_transpose(size_t elem, int nd, const int64_t *dims, const int *perm) {
  int64_t n = 1;
  for (int a = 0; a < nd; a++) n *= dims[a];
  size_t bytes = (size_t)n * elem;
  uint8_t *in = malloc(bytes + 1), *got = malloc(bytes + 1), *want = malloc(bytes + 1);
  assert_non_null(in);
  assert_non_null(got);
  assert_non_null(want);
  fill_bytes(in, bytes, (uint32_t)(nd * 131 + elem));
  memset(got, 0xAB, bytes + 1);
  naive_transpose(in, want, elem, nd, dims, perm);
  nn_xN_transpose__ref(in, got, elem, nd, dims, perm);
  assert_memory_equal(got, want, bytes);
  assert_int_equal(got[bytes], 0xAB); /* no write past the end */
  free(in);
  free(got);
  free(want);
}

/* Every permutation of ranks 1..5 over odd sizes (incl. 1s that get dropped), for
 * element sizes 1, 2, 4, 8 and an odd 3 bytes. */
static void test_transpose_sweep(void **state) {
  (void)state;
  static const int64_t shapes[][5] = {
      {7, 1, 1, 1, 1}, {3, 5, 1, 1, 1}, {33, 40, 1, 1, 1}, {2, 3, 4, 1, 1},
      {1, 37, 1, 1, 1}, {5, 1, 7, 2, 1}, {2, 3, 1, 4, 3}, {3, 35, 2, 1, 1}};
  static const int ranks[] = {1, 2, 2, 3, 3, 4, 5, 3};
  static const size_t elems[] = {1, 2, 4, 8, 3};
  for (size_t si = 0; si < sizeof ranks / sizeof ranks[0]; si++) {
    int nd = ranks[si];
    for (size_t ei = 0; ei < sizeof elems / sizeof elems[0]; ei++) {
      int perm[5] = {0, 1, 2, 3, 4};
      do {
        check_transpose(elems[ei], nd, shapes[si], perm);
      } while (next_perm(perm, nd));
    }
  }
}

/* Shapes where tiles are partial on both axes and the layout-change case NCHW->NHWC. */
static void test_transpose_layouts(void **state) {
  (void)state;
  const int64_t nchw[4] = {2, 3, 17, 19};
  const int to_nhwc[4] = {0, 2, 3, 1}, to_nchw[4] = {0, 3, 1, 2};
  check_transpose(4, 4, nchw, to_nhwc);
  check_transpose(4, 4, nchw, to_nchw);
  const int64_t big[2] = {65, 97};
  const int t2[2] = {1, 0};
  for (size_t e = 1; e <= 8; e *= 2) check_transpose(e, 2, big, t2);
  /* typed entry points agree with the generic one */
  uint32_t in[6] = {1, 2, 3, 4, 5, 6}, out[6];
  const int64_t d[2] = {2, 3};
  nn_x32_transpose__ref(in, out, 2, d, t2);
  const uint32_t want[6] = {1, 4, 2, 5, 3, 6};
  assert_memory_equal(out, want, sizeof want);
  /* zero-sized input writes nothing */
  const int64_t z[3] = {2, 0, 3};
  const int p3[3] = {2, 1, 0};
  uint8_t guard = 0x5A;
  nn_x8_transpose__ref(NULL, &guard, 3, z, p3);
  assert_int_equal(guard, 0x5A);
}

/* Strided copy: negative steps (Slice), stride 0 (Expand) and the Tile interleave. */
static void test_strided_copy(void **state) {
  (void)state;
  int32_t x[12];
  for (int i = 0; i < 12; i++) x[i] = i; /* [3, 4] */
  int32_t out[24];
  /* x[::-1, 3:0:-2] -> rows 2,1,0 and cols 3,1 */
  const int64_t d1[2] = {3, 2}, s1[2] = {-4, -2};
  nn_xN_strided_copy__ref(&x[2 * 4 + 3], out, 4, 2, d1, s1);
  const int32_t w1[6] = {11, 9, 7, 5, 3, 1};
  assert_memory_equal(out, w1, sizeof w1);
  /* expand column [3, 1] -> [3, 4]: inner stride 0 */
  const int64_t d2[2] = {3, 4}, s2[2] = {4, 0};
  nn_xN_strided_copy__ref(x, out, 4, 2, d2, s2);
  for (int r = 0; r < 3; r++)
    for (int c = 0; c < 4; c++) assert_int_equal(out[r * 4 + c], r * 4);
  /* tile [2, 2] by [2, 3] as [r0=2, d0=2, r1=3, d1=2] */
  const int32_t t[4] = {1, 2, 3, 4};
  const int64_t d3[4] = {2, 2, 3, 2}, s3[4] = {0, 2, 0, 1};
  nn_xN_strided_copy__ref(t, out, 4, 4, d3, s3);
  const int32_t w3[24] = {1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4,
                          1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4};
  assert_memory_equal(out, w3, sizeof w3);
  /* a rank-0 copy moves one element of odd size */
  const uint8_t e[3] = {7, 8, 9};
  uint8_t o3[3] = {0};
  nn_xN_strided_copy__ref(e, o3, 3, 0, NULL, NULL);
  assert_memory_equal(o3, e, 3);
}

static void test_gather_kernels(void **state) {
  (void)state;
  const float data[6] = {0, 1, 2, 3, 4, 5}; /* [2, 3] */
  float out[8];
  /* Gather axis 1 with negative index and int32 indices */
  const int32_t i32[2] = {-1, 0};
  assert_int_equal(nn_xN_gather__ref(data, out, 4, 2, 3, 1, i32, 0, 2), -1);
  const float w1[4] = {2, 0, 5, 3};
  assert_memory_equal(out, w1, sizeof w1);
  /* out of range reports the position */
  const int64_t bad[3] = {0, 2, 3};
  assert_int_equal(nn_xN_gather__ref(data, out, 4, 1, 2, 3, bad, 1, 3), 1); /* axis 2 */
  assert_int_equal(nn_xN_gather__ref(data, out, 4, 2, 3, 1, bad, 1, 3), 2); /* axis 3 */
  /* GatherElements axis 0 with indices smaller than data on the other axis */
  const int64_t ge[2] = {1, -2}; /* [1, 2] */
  const int64_t dd[2] = {2, 3}, idd[2] = {1, 2};
  assert_int_equal(nn_xN_gather_elements__ref(data, out, 4, 2, dd, ge, 1, idd, 0), -1);
  assert_true(out[0] == 3 && out[1] == 1);
  /* GatherND with batch: data [2, 3], one index per batch entry -> [2] */
  const int64_t nd_idx[2] = {2, -3};
  const int64_t idims[1] = {3};
  assert_int_equal(nn_xN_gather_nd__ref(data, out, 4, 2, 1, idims, 1, nd_idx, 1, 1), -1);
  assert_true(out[0] == 2 && out[1] == 3);
  const int64_t nd_bad[2] = {0, 3};
  assert_int_equal(nn_xN_gather_nd__ref(data, out, 4, 2, 1, idims, 1, nd_bad, 1, 1), 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_transpose_sweep),
      cmocka_unit_test(test_transpose_layouts),
      cmocka_unit_test(test_strided_copy),
      cmocka_unit_test(test_gather_kernels),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
