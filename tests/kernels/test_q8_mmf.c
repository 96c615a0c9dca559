/*
 * test_q8_mmf.c - the dynamic-quantization MatMul kernels of q8_matmul.h against
 * independent references, exactly:
 *   direct float path   nn_q8_matmul_* with wd/mmf set (the level's microkernel from
 *                       nn_q8_mmf_ukernel_for, and the scalar twin on every level) vs
 *                       nn_x8_gemm__ref + the float epilogue (a multiply, then an add),
 *                       over odd m, n, k, activation zero points, with and without bias,
 *                       split for 1 and 3 threads; activations end against a guard page
 *                       (the k % 4 tail must not read past a row);
 *   range               nn_f32_range_for(level) vs nn_f32_range__scalar, bit for bit,
 *                       with NaN, -0.0, one-signed data and odd lengths.
 */
#include <math.h>

#include "kernel_test.h"
#include "kernels/dispatch.h"
#include "kernels/q8_gemm.h"
#include "kernels/q8_matmul.h"
#include "kernels/ref/qgemm.h"

static const char *g_level = "?";

static uint8_t *u8_rand(size_t n, kt_guard *g) { /* ends right before the guard page */
  uint8_t *p = (uint8_t *)kt_guard_alloc((n + 3) / 4, g) + ((n + 3) / 4 * 4 - n);
  for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(kt_frand() * 128.0f + 128.0f);
  return p;
}

static void mmf_case(const nn_kernels *k, nn_q8_mmf_ukernel_fn mmf, const char *what, size_t m,
                     size_t n, size_t kk, uint8_t xz, int with_bias, size_t threads) {
  kt_guard gx, gw, gy, gb, gr, gp;
  const uint8_t *x = u8_rand(m * kk, &gx);
  int8_t *w = (int8_t *)u8_rand(kk * n, &gw); /* W [k x n], int8 */
  int32_t *r = (int32_t *)kt_guard_alloc(m * n, &gr);
  const uint8_t wz0 = 0;
  nn_x8_gemm__ref(0, 1, m, n, kk, x, kk, &xz, 0, w, n, &wz0, 0, r, n);
  int8_t *wt = malloc(n * kk + 1);
  for (size_t a = 0; a < kk; a++)
    for (size_t j = 0; j < n; j++) wt[j * kk + a] = w[a * n + j];
  int8_t *wd = (int8_t *)kt_guard_alloc(nn_q8_packed_w_size(n, kk, NN_Q8_MMF_NR) / 4 + 1, &gp);
  int32_t *rowsum = malloc(n * sizeof *rowsum), *row_bias = malloc(n * sizeof *row_bias);
  float *mult = malloc(n * sizeof *mult);
  nn_q8_pack_w(n, kk, NN_Q8_MMF_NR, wt, kk, 1, wd, rowsum);
  for (size_t j = 0; j < n; j++) /* no activation offset on the direct path */
    row_bias[j] = (int32_t)(0u - (uint32_t)xz * (uint32_t)rowsum[j]);
  for (size_t j = 0; j < n; j++) mult[j] = 0.003f * (float)(j % 11 + 1) * (j % 3 ? 1.0f : -1.0f);
  float *bias = kt_guard_rand(n, &gb);
  float *y = kt_guard_alloc(m * n, &gy);
  for (size_t i = 0; i < m * n; i++) y[i] = NAN;
  nn_q8_matmul_job job = {.kern = k, .m = m, .n = n, .k = kk, .row_bias = row_bias, .x = x,
                          .ldx = kk, .y = y, .ldy = n, .mult = mult,
                          .bias = with_bias ? bias : NULL, .wd = wd, .mmf = mmf};
  nn_q8_gemm_tasks t;
  nn_q8_matmul_split(&job, threads, &t);
  for (size_t task = 0; task < t.tasks; task++) nn_q8_matmul_run_task(&job, &t, task, NULL);
  int bad = 0;
  for (size_t i = 0; i < m * n; i++) {
    const size_t j = i % n;
    const float p = (float)r[i] * mult[j];
    const float want = p + (with_bias ? bias[j] : 0.0f);
    bad += memcmp(&y[i], &want, sizeof want) != 0;
  }
  KT_CHECK(!bad, "%s %s m=%zu n=%zu k=%zu xz=%u bias=%d threads=%zu: %d of %zu differ", g_level,
           what, m, n, kk, xz, with_bias, threads, bad, m * n);
  free(wt);
  free(rowsum);
  free(row_bias);
  free(mult);
  kt_guard_free(&gx);
  kt_guard_free(&gw);
  kt_guard_free(&gy);
  kt_guard_free(&gb);
  kt_guard_free(&gr);
  kt_guard_free(&gp);
}

static void test_mmf(const nn_kernels *k, nn_q8_mmf_ukernel_fn mmf, const char *what) {
  static const size_t ms[] = {1, 5, 8, 9, 23}, ns[] = {1, 15, 16, 31, 32, 33, 70},
                      ks[] = {1, 3, 4, 7, 64, 130};
  static const uint8_t xzs[] = {0, 128, 255};
  for (size_t a = 0; a < sizeof ms / sizeof *ms; a++)
    for (size_t b = 0; b < sizeof ns / sizeof *ns; b++)
      for (size_t c = 0; c < sizeof ks / sizeof *ks; c++) {
        const size_t v = a + b + c;
        mmf_case(k, mmf, what, ms[a], ns[b], ks[c], xzs[v % 3], (int)(v % 2), 1 + 2 * (v % 2));
      }
  mmf_case(k, mmf, what, 128, 300, 768, 131, 1, 3); /* a BERT-like projection */
}

static void range_case(nn_f32_range_fn fn, const float *x, size_t n, const char *what) {
  float l0, h0, l1, h1;
  nn_f32_range__scalar(n, x, &l0, &h0);
  fn(n, x, &l1, &h1);
  KT_CHECK(!memcmp(&l0, &l1, sizeof l0) && !memcmp(&h0, &h1, sizeof h0),
           "%s range %s n=%zu: [%g, %g] vs scalar [%g, %g]", g_level, what, n, (double)l1,
           (double)h1, (double)l0, (double)h0);
}

static void test_range(nn_f32_range_fn fn) {
  static const size_t lens[] = {0, 1, 5, 15, 16, 17, 63, 64, 65, 100, 1000, 4099};
  for (size_t t = 0; t < sizeof lens / sizeof *lens; t++) {
    const size_t n = lens[t];
    kt_guard g;
    float *x = kt_guard_alloc(n ? n : 1, &g); /* ends against the guard page */
    for (size_t i = 0; i < n; i++) x[i] = kt_frand() * 7.0f;
    range_case(fn, x, n, "mixed");
    for (size_t i = 0; i < n; i++) x[i] = fabsf(x[i]) + 0.5f;
    range_case(fn, x, n, "positive");
    for (size_t i = 0; i < n; i++) x[i] = -x[i];
    range_case(fn, x, n, "negative");
    for (size_t i = 0; i < n; i++) x[i] = (i % 3) ? -0.0f : NAN;
    range_case(fn, x, n, "nan and -0");
    for (size_t i = 0; i < n; i++) x[i] = (i % 5 == 4) ? NAN : kt_frand() * 3.0f;
    if (n) x[n - 1] = -9.0f; /* the extreme in the tail */
    range_case(fn, x, n, "nan mixed");
    kt_guard_free(&g);
  }
}

int main(void) {
  for (size_t l = 0; l < KT_NLEVELS; l++) {
    nn_kernels k;
    if (!(g_level = kt_level(kt_levels[l], &k))) continue;
    test_mmf(&k, nn_q8_mmf_ukernel_8x32__scalar, "mmf scalar");
    if (nn_q8_mmf_ukernel_for(&k)) test_mmf(&k, nn_q8_mmf_ukernel_for(&k), "mmf");
    test_range(nn_f32_range_for(&k));
  }
  return kt_report("test_q8_mmf");
}
