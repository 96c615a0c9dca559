/*
 * test_f32_gemv.c - the M == 1 path of nn_f32_gemm_run (one row of A times a pre-packed
 * B through the table's f32_gemv) against a double-precision reference, on every ISA
 * level the machine has and on the plain-C twin, 1 and 2 threads, guard pages on every
 * buffer: N and K around the panel width and the 4-way k unroll, A plain or transposed,
 * alpha, and each epilogue flag (ACC, BIAS_ROW, BIAS_COL, CLAMP).
 * Tolerance: the GEMM bound of f32_gemm.h, |err| <= 1e-6 (K + 4) (sum |a b| + |bias| + |c|).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel_test.h"
#include "kernels/dispatch.h"
#include "kernels/f32_gemm.h"
#include "runtime/threadpool.h"

static const char *g_level = "";

static void one_case(const nn_kernels *k, nn_threadpool *pool, size_t N, size_t K, int trans,
                     float alpha, unsigned flags) {
  const size_t nr = k->f32_gemm_nr, lda = trans ? 3 : K; /* trans: A stored K x 3 */
  kt_guard ga, gb, gc, gbias, gp;
  const size_t an = trans ? K * lda : K;
  float *a = kt_guard_rand(an > 0 ? an : 1, &ga), *b = kt_guard_rand(K > 0 ? K * N : 1, &gb);
  float *c = kt_guard_rand(N, &gc), *bias = kt_guard_rand(N, &gbias);
  float *packed = kt_guard_alloc(nn_f32_packed_b_size(K, N, nr) + 1, &gp);
  nn_f32_pack_b(b, N, 0, 0, K, 0, N, nr, packed);
  double *want = malloc(N * sizeof *want), *mag = malloc(N * sizeof *mag);
  const float mm[2] = {-0.5f, 0.7f};
  for (size_t j = 0; j < N; j++) {
    double s = 0.0, m = 0.0;
    for (size_t q = 0; q < K; q++) {
      const double av = trans ? a[q * lda] : a[q];
      s += av * b[q * N + j];
      m += fabs(av * b[q * N + j]);
    }
    s *= alpha;
    m *= fabs(alpha);
    if (flags & NN_F32_GEMM_ACC) s += c[j], m += fabs(c[j]);
    if (flags & NN_F32_GEMM_BIAS_ROW) s += bias[0], m += fabs(bias[0]);
    if (flags & NN_F32_GEMM_BIAS_COL) s += bias[j], m += fabs(bias[j]);
    if (flags & NN_F32_GEMM_CLAMP) s = s < mm[0] ? mm[0] : s > mm[1] ? mm[1] : s;
    want[j] = s;
    mag[j] = m;
  }
  nn_f32_gemm_problem p = {.M = 1, .N = N, .K = K, .alpha = alpha, .c = c, .ldc = N,
                           .bias = bias, .flags = flags, .min = mm[0], .max = mm[1]};
  p.a.data = a;
  p.a.ld = lda;
  p.a.trans = trans;
  p.b.packed = packed;
  /* levels without f32_gemv run the tile kernel, which needs its workspace */
  const size_t wsb = nn_f32_gemm_workspace(k, 1, N, K, 0, 1, nn_threadpool_size(pool));
  void *ws = aligned_alloc(64, (wsb + 63) / 64 * 64 + 64);
  nn_f32_gemm_run(k, &p, ws, wsb, pool);
  free(ws);
  for (size_t j = 0; j < N; j++) {
    const double tol = 1e-6 * (double)(K + 4) * (mag[j] + 1e-30);
    KT_CHECK(fabs(c[j] - want[j]) <= tol,
             "%s N=%zu K=%zu trans=%d alpha=%g flags=%u threads=%d: c[%zu]=%.9g want %.9g",
             g_level, N, K, trans, alpha, flags, nn_threadpool_size(pool), j, c[j], want[j]);
  }
  free(want);
  free(mag);
  kt_guard_free(&ga);
  kt_guard_free(&gb);
  kt_guard_free(&gc);
  kt_guard_free(&gbias);
  kt_guard_free(&gp);
}

static void sweep(const nn_kernels *k, nn_threadpool *pool) {
  static const size_t ns[] = {1, 7, 31, 32, 33, 100, 257};
  static const size_t ks[] = {0, 1, 3, 4, 5, 17, 64, 321};
  static const unsigned fl[] = {0,
                                NN_F32_GEMM_ACC,
                                NN_F32_GEMM_BIAS_COL | NN_F32_GEMM_CLAMP,
                                NN_F32_GEMM_BIAS_ROW,
                                NN_F32_GEMM_ACC | NN_F32_GEMM_BIAS_COL | NN_F32_GEMM_CLAMP};
  for (size_t i = 0; i < sizeof ns / sizeof *ns; i++)
    for (size_t j = 0; j < sizeof ks / sizeof *ks; j++)
      for (size_t f = 0; f < sizeof fl / sizeof *fl; f++) {
        if (pool && (ns[i] < 100 || ks[j] < 64)) continue; /* threads: several tasks */
        one_case(k, pool, ns[i], ks[j], (int)((i + j + f) & 1), f == 1 ? 0.5f : 1.0f, fl[f]);
      }
}

int main(void) {
  static const nn_isa levels[] = {NN_ISA_AVX2, NN_ISA_AVX512, NN_ISA_NEON, NN_ISA_NEONDOT};
  nn_threadpool *pool2 = nn_threadpool_create(2);
  /* the driver's M == 1 path with the plain-C twin, on any machine */
  nn_kernels sk;
  nn_kernels_fill(&sk, NN_ISA_REF);
  sk.f32_gemm_ukernel = nn_f32_gemm_ukernel_4x8__scalar;
  sk.f32_gemm_mr = 4;
  sk.f32_gemm_nr = 8;
  sk.f32_gemv = nn_f32_gemv__scalar;
  g_level = "scalar";
  sweep(&sk, NULL);
  sweep(&sk, pool2);
  for (size_t l = 0; l < sizeof levels / sizeof *levels; l++) {
    nn_kernels k;
    if (!(g_level = kt_level(levels[l], &k)) || !k.f32_gemm_ukernel) continue;
    if (!k.f32_gemv) printf("  (no GEMV kernel: the tile kernel)\n");
    sweep(&k, NULL);
    sweep(&k, pool2);
  }
  nn_threadpool_destroy(pool2);
  return kt_report("test_f32_gemv");
}
