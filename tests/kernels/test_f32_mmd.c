/*
 * test_f32_mmd.c - the direct float32 matmul (f32_mm_direct.h): the level's microkernel
 * (nn_f32_mmd_ukernel_for) through nn_f32_mmd_run against the scalar twin bit for bit
 * (both are one FMA per term in increasing depth), and the scalar twin against
 * nn_f32_gemm__ref within |err| <= 1e-5 * (sum over k of |a| |b|) + 1e-30, over odd
 * m, n, k and row strides larger than the rows, with A, B and C against guard pages.
 */
#include <math.h>

#include "kernel_test.h"
#include "kernels/dispatch.h"
#include "kernels/f32_mm_direct.h"
#include "kernels/ref/gemm.h"

static const char *g_level = "?";

static size_t nz(size_t v) { return v ? v : 1; }

static void mmd_case(nn_f32_mmd_ukernel_fn uk, size_t m, size_t n, size_t k, size_t pad) {
  const size_t lda = k + pad, ldb = n + pad, ldc = n + pad;
  kt_guard ga, gb, gc, gs, gr;
  const float *a = kt_guard_rand(nz(m * lda), &ga);
  const float *b = kt_guard_rand(nz(k * ldb), &gb);
  float *c = kt_guard_alloc(m * ldc, &gc), *s = kt_guard_alloc(m * ldc, &gs);
  float *r = kt_guard_alloc(m * n, &gr);
  for (size_t i = 0; i < m * ldc; i++) c[i] = s[i] = -7.0f; /* padding must stay */
  nn_f32_mmd_run(nn_f32_mmd_ukernel_8x32__scalar, m, n, k, a, lda, b, ldb, s, ldc);
  if (uk) nn_f32_mmd_run(uk, m, n, k, a, lda, b, ldb, c, ldc);
  nn_f32_gemm__ref((int64_t)m, (int64_t)n, (int64_t)k, a, (int64_t)lda, 0, b, (int64_t)ldb, 0, r,
                   (int64_t)n, 1.0f, 0.0f);
  int bad_twin = 0, bad_ref = 0, bad_pad = 0;
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < ldc; j++) {
      const float sv = s[i * ldc + j];
      if (uk) bad_twin += memcmp(&sv, &c[i * ldc + j], sizeof sv) != 0;
      if (j >= n) {
        bad_pad += sv != -7.0f;
        continue;
      }
      double mag = 0.0;
      for (size_t kk = 0; kk < k; kk++) mag += fabs((double)a[i * lda + kk] * b[kk * ldb + j]);
      bad_ref += fabs((double)sv - r[i * n + j]) > 1e-5 * mag + 1e-30;
    }
  KT_CHECK(!bad_twin, "%s mmd m=%zu n=%zu k=%zu pad=%zu: %d differ from the scalar twin",
           g_level, m, n, k, pad, bad_twin);
  KT_CHECK(!bad_ref && !bad_pad, "%s mmd scalar m=%zu n=%zu k=%zu pad=%zu: %d off the "
           "reference, %d padding elements written", g_level, m, n, k, pad, bad_ref, bad_pad);
  kt_guard_free(&ga);
  kt_guard_free(&gb);
  kt_guard_free(&gc);
  kt_guard_free(&gs);
  kt_guard_free(&gr);
}

int main(void) {
  static const size_t ms[] = {1, 7, 8, 9, 20}, ns[] = {1, 5, 16, 17, 31, 32, 33, 64, 70},
                      ks[] = {0, 1, 3, 16, 64, 129};
  for (size_t l = 0; l < KT_NLEVELS; l++) {
    nn_kernels k;
    if (!(g_level = kt_level(kt_levels[l], &k))) continue;
    const nn_f32_mmd_ukernel_fn uk = nn_f32_mmd_ukernel_for(&k);
    for (size_t a = 0; a < sizeof ms / sizeof *ms; a++)
      for (size_t b = 0; b < sizeof ns / sizeof *ns; b++)
        for (size_t c = 0; c < sizeof ks / sizeof *ks; c++)
          mmd_case(uk, ms[a], ns[b], ks[c], (a + b + c) % 3);
    mmd_case(uk, 128, 128, 64, 0); /* attention's Q K^T and P V per head */
    mmd_case(uk, 128, 64, 128, 0);
  }
  return kt_report("test_f32_mmd");
}
