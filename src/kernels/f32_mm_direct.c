/*
 * f32_mm_direct.c - the scalar twin of the direct float32 matmul microkernel and its
 * driver (f32_mm_direct.h).
 */
#include "kernels/f32_mm_direct.h"

#include <math.h>

void nn_f32_mmd_ukernel_8x32__scalar(size_t mr, size_t nc, size_t k, const float *a,
                                     size_t lda, const float *b, size_t ldb, float *c,
                                     size_t ldc) {
  for (size_t r = 0; r < mr; r++)
    for (size_t j = 0; j < nc; j++) {
      float s = 0.0f;
      for (size_t kk = 0; kk < k; kk++) s = fmaf(a[r * lda + kk], b[kk * ldb + j], s);
      c[r * ldc + j] = s;
    }
}

void nn_f32_mmd_run(nn_f32_mmd_ukernel_fn uk, size_t m, size_t n, size_t k, const float *a,
                    size_t lda, const float *b, size_t ldb, float *c, size_t ldc) {
  const size_t mr = NN_F32_MMD_MR, nr = NN_F32_MMD_NR;
  for (size_t j0 = 0; j0 < n; j0 += nr) {
    const size_t nc = n - j0 < nr ? n - j0 : nr;
    for (size_t i0 = 0; i0 < m; i0 += mr)
      uk(m - i0 < mr ? m - i0 : mr, nc, k, a + i0 * lda, lda, b + j0, ldb, c + i0 * ldc + j0,
         ldc);
  }
}
