/*
 * test_f32_kernels.c - the float32 fast kernels against their reference twins on
 * every ISA level this machine has (nn_kernels_fill): the table's GEMM vs
 * nn_f32_gemm__ref over sweeps of M, N, K (odd sizes, transposes, alpha/beta), the
 * microkernels on every tail (mr x nr) and epilogue, the threaded driver with packed
 * operands, the convolution plans vs nn_f32_conv__ref and the depthwise 3x3 kernels.
 * Operands end against guard pages, so an over-read faults.
 *
 * Tolerance (float results vs the double-precision sum or the float reference):
 *   |got - want| <= 1e-6 * (K + 4) * (sum_k |a_ik b_kj| + |bias| + |beta c|) + 1e-30.
 */
#include <math.h>

#include "kernel_test.h"
#include "kernels/dispatch.h"
#include "kernels/f32_conv.h"
#include "kernels/f32_gemm.h"
#include "kernels/f32_pool.h"
#include "kernels/ref/conv.h"
#include "kernels/ref/gemm.h"
#include "runtime/threadpool.h"

static const char *g_level = "?";

static int close_enough(double got, double want, double mag, size_t K) {
  return fabs(got - want) <= 1e-6 * (double)(K + 4) * mag + 1e-30;
}

/* ---- the table's f32_gemm vs nn_f32_gemm__ref ---- */

static void gemm_entry_case(const nn_kernels *k, int64_t M, int64_t N, int64_t K, int ta,
                            int tb, float alpha, float beta) {
  const int64_t lda = (ta ? M : K) + (M & 1), ldb = (tb ? K : N) + 3, ldc = N + 2;
  const int64_t arows = ta ? K : M, brows = tb ? N : K;
  kt_guard ga, gb, gc, gr;
  /* the last row of each operand is only as long as the matrix (guard right after) */
  const size_t asz = arows ? (size_t)((arows - 1) * lda + (ta ? M : K)) : 0;
  const size_t bsz = brows ? (size_t)((brows - 1) * ldb + (tb ? K : N)) : 0;
  const size_t csz = (size_t)((M - 1) * ldc + N);
  float *A = kt_guard_rand(asz, &ga), *B = kt_guard_rand(bsz, &gb);
  float *C = kt_guard_rand(csz, &gc), *R = kt_guard_alloc(csz, &gr);
  memcpy(R, C, csz * sizeof *C);
  if (beta == 0.0f) /* C must not be read: NaN would show */
    for (size_t i = 0; i < csz; i++) C[i] = NAN;
  k->f32_gemm(M, N, K, A, lda, ta, B, ldb, tb, C, ldc, alpha, beta);
  float *C0 = malloc(csz * sizeof *C0);
  memcpy(C0, R, csz * sizeof *R);
  nn_f32_gemm__ref(M, N, K, A, lda, ta, B, ldb, tb, R, ldc, alpha, beta);
  int bad = 0;
  for (int64_t i = 0; i < M && bad < 3; i++)
    for (int64_t j = 0; j < N && bad < 3; j++) {
      double mag = beta != 0.0f ? fabs((double)beta * C0[i * ldc + j]) : 0;
      for (int64_t q = 0; q < K; q++)
        mag += fabs((double)alpha * (ta ? A[q * lda + i] : A[i * lda + q]) *
                    (tb ? B[j * ldb + q] : B[q * ldb + j]));
      const double got = C[i * ldc + j], want = R[i * ldc + j];
      if (!close_enough(got, want, mag, (size_t)K)) bad++;
      KT_CHECK(close_enough(got, want, mag, (size_t)K),
               "%s gemm M=%lld N=%lld K=%lld ta=%d tb=%d alpha=%g beta=%g: C[%lld,%lld]=%.9g "
               "ref %.9g", g_level, (long long)M, (long long)N, (long long)K, ta, tb, alpha,
               beta, (long long)i, (long long)j, got, want);
    }
  free(C0);
  kt_guard_free(&ga);
  kt_guard_free(&gb);
  kt_guard_free(&gc);
  kt_guard_free(&gr);
}

static void test_gemm_entry(const nn_kernels *k) {
  static const int64_t Ms[] = {1, 2, 3, 5, 6, 7, 8, 9, 12, 13, 17, 33, 97};
  static const int64_t Ns[] = {1, 2, 7, 8, 15, 16, 17, 31, 32, 33, 65, 130};
  static const int64_t Ks[] = {0, 1, 3, 17, 64};
  for (size_t a = 0; a < sizeof Ms / sizeof *Ms; a++)
    for (size_t b = 0; b < sizeof Ns / sizeof *Ns; b++)
      for (size_t c = 0; c < sizeof Ks / sizeof *Ks; c++)
        gemm_entry_case(k, Ms[a], Ns[b], Ks[c], 0, 0, 1.0f, 0.0f);
  static const int64_t Ms2[] = {1, 7, 13, 100}, Ns2[] = {1, 17, 33, 130},
                       Ks2[] = {255, 256, 257, 600};
  for (size_t a = 0; a < 4; a++)
    for (size_t b = 0; b < 4; b++)
      for (size_t c = 0; c < 4; c++) gemm_entry_case(k, Ms2[a], Ns2[b], Ks2[c], 0, 0, 1.0f, 0.0f);
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++)
      for (size_t a = 0; a < 4; a++)
        for (size_t b = 0; b < 4; b++) {
          gemm_entry_case(k, Ms2[a], Ns2[b], 19, ta, tb, 1.0f, 1.0f);
          gemm_entry_case(k, Ms2[a], Ns2[b], 300, ta, tb, 0.5f, -2.0f);
          gemm_entry_case(k, Ms2[a], Ns2[b], 5, ta, tb, -1.5f, 0.0f);
        }
}

/* ---- microkernel tails and epilogues ---- */

static void ukernel_case(const nn_kernels *k, size_t mr, size_t nr, size_t kc, unsigned flags) {
  const size_t MR = k->f32_gemm_mr, NR = k->f32_gemm_nr;
  kt_guard ga, gb, gbias, gc;
  float *a = kt_guard_rand(kc * MR, &ga), *b = kt_guard_rand(kc * NR, &gb);
  for (size_t q = 0; q < kc; q++) /* padding rows/columns of the panels are zero */
    for (size_t i = mr; i < MR; i++) a[q * MR + i] = 0.0f;
  for (size_t q = 0; q < kc; q++)
    for (size_t j = nr; j < NR; j++) b[q * NR + j] = 0.0f;
  const size_t nb = (flags & NN_F32_GEMM_BIAS_ROW) ? mr : nr;
  float *bias = kt_guard_rand(nb, &gbias);
  /* C: the tile ends right at the guard page; the rows have ldc > nr with sentinels */
  const size_t ldc = nr + 3, csz = (mr - 1) * ldc + nr;
  float *c = kt_guard_rand(csz, &gc);
  float *c0 = malloc(csz * sizeof *c0);
  memcpy(c0, c, csz * sizeof *c);
  const float minmax[2] = {-0.5f, 0.75f};
  k->f32_gemm_ukernel(mr, nr, kc, a, b, c, ldc, bias, flags, minmax);
  for (size_t i = 0; i < mr; i++)
    for (size_t j = 0; j < ldc && i * ldc + j < csz; j++) {
      const size_t at = i * ldc + j;
      if (j >= nr) {
        KT_CHECK(c[at] == c0[at], "%s ukernel mr=%zu nr=%zu kc=%zu: wrote outside the tile at "
                 "[%zu,%zu]", g_level, mr, nr, kc, i, j);
        continue;
      }
      double want = 0, mag = 0;
      for (size_t q = 0; q < kc; q++) {
        want += (double)a[q * MR + i] * b[q * NR + j];
        mag += fabs((double)a[q * MR + i] * b[q * NR + j]);
      }
      if (flags & NN_F32_GEMM_ACC) want += c0[at], mag += fabs(c0[at]);
      if (flags & NN_F32_GEMM_BIAS_ROW) want += bias[i], mag += fabs(bias[i]);
      if (flags & NN_F32_GEMM_BIAS_COL) want += bias[j], mag += fabs(bias[j]);
      if (flags & NN_F32_GEMM_CLAMP) want = want < minmax[0] ? minmax[0] : want > minmax[1] ? minmax[1] : want;
      KT_CHECK(close_enough(c[at], want, mag, kc),
               "%s ukernel mr=%zu nr=%zu kc=%zu flags=%u: C[%zu,%zu]=%.9g want %.9g", g_level,
               mr, nr, kc, flags, i, j, (double)c[at], want);
    }
  free(c0);
  kt_guard_free(&ga);
  kt_guard_free(&gb);
  kt_guard_free(&gbias);
  kt_guard_free(&gc);
}

static void test_ukernel(const nn_kernels *k) {
  static const unsigned fl[] = {0, NN_F32_GEMM_ACC, NN_F32_GEMM_BIAS_ROW | NN_F32_GEMM_CLAMP,
                                NN_F32_GEMM_BIAS_COL | NN_F32_GEMM_ACC | NN_F32_GEMM_CLAMP};
  static const size_t kcs[] = {0, 1, 3, 16};
  for (size_t mr = 1; mr <= k->f32_gemm_mr; mr++)
    for (size_t nr = 1; nr <= k->f32_gemm_nr; nr++)
      for (size_t q = 0; q < 4; q++)
        for (size_t f = 0; f < 4; f++) ukernel_case(k, mr, nr, kcs[q], fl[(f + nr) % 4]);
}

/* ---- the driver: packed operands, bias, clamp, threads ---- */

static void driver_case(const nn_kernels *k, nn_threadpool *pool, size_t M, size_t N, size_t K,
                        int form, unsigned flags) {
  const size_t mr = k->f32_gemm_mr, nr = k->f32_gemm_nr;
  kt_guard ga, gb, gc, gbias, gp, gw;
  float *A = kt_guard_rand(M * K + 1, &ga), *B = kt_guard_rand(K * N + 1, &gb);
  float *C = kt_guard_rand(M * N, &gc);
  float *bias = kt_guard_rand((flags & NN_F32_GEMM_BIAS_ROW) ? M : N, &gbias);
  float *C0 = malloc(M * N * sizeof *C0 + 1);
  memcpy(C0, C, M * N * sizeof *C);
  nn_f32_gemm_problem p = {.M = M, .N = N, .K = K, .alpha = 1.0f, .c = C, .ldc = N,
                           .bias = bias, .flags = flags, .min = -1.0f, .max = 2.0f};
  float *packed = NULL;
  const int a_packed = form == 1, b_packed = form == 2;
  if (a_packed) {
    packed = kt_guard_alloc(nn_f32_packed_a_size(M, K, mr) + 1, &gp);
    nn_f32_pack_a(A, K, 0, 1.0f, 0, M, 0, K, mr, packed);
    p.a.packed = packed;
  } else {
    p.a.data = A;
    p.a.ld = K;
  }
  if (b_packed) {
    packed = kt_guard_alloc(nn_f32_packed_b_size(K, N, nr) + 1, &gp);
    nn_f32_pack_b(B, N, 0, 0, K, 0, N, nr, packed);
    p.b.packed = packed;
  } else {
    p.b.data = B;
    p.b.ld = N;
  }
  const int threads = nn_threadpool_size(pool);
  const size_t wsb = nn_f32_gemm_workspace(k, M, N, K, a_packed, b_packed, threads);
  float *ws = kt_guard_alloc(wsb / sizeof(float) + 1, &gw);
  nn_f32_gemm_run(k, &p, ws, wsb, pool);
  int bad = 0;
  for (size_t i = 0; i < M && bad < 3; i++)
    for (size_t j = 0; j < N && bad < 3; j++) {
      double want = 0, mag = 0;
      for (size_t q = 0; q < K; q++) {
        want += (double)A[i * K + q] * B[q * N + j];
        mag += fabs((double)A[i * K + q] * B[q * N + j]);
      }
      if (flags & NN_F32_GEMM_ACC) want += C0[i * N + j], mag += fabs(C0[i * N + j]);
      if (flags & NN_F32_GEMM_BIAS_ROW) want += bias[i], mag += fabs(bias[i]);
      if (flags & NN_F32_GEMM_BIAS_COL) want += bias[j], mag += fabs(bias[j]);
      if (flags & NN_F32_GEMM_CLAMP) want = want < -1 ? -1 : want > 2 ? 2 : want;
      const int ok = close_enough(C[i * N + j], want, mag, K);
      bad += !ok;
      KT_CHECK(ok, "%s driver M=%zu N=%zu K=%zu form=%d flags=%u threads=%d: C[%zu,%zu]=%.9g "
               "want %.9g", g_level, M, N, K, form, flags, threads, i, j, (double)C[i * N + j],
               want);
    }
  free(C0);
  kt_guard_free(&ga);
  kt_guard_free(&gb);
  kt_guard_free(&gc);
  kt_guard_free(&gbias);
  if (packed) kt_guard_free(&gp);
  kt_guard_free(&gw);
}

static void test_driver(const nn_kernels *k, nn_threadpool *pool) {
  static const size_t Ms[] = {1, 5, 16, 37, 200}, Ns[] = {1, 9, 64, 77, 600},
                      Ks[] = {1, 30, 257, 700};
  static const unsigned fl[] = {NN_F32_GEMM_BIAS_ROW | NN_F32_GEMM_CLAMP, NN_F32_GEMM_BIAS_COL,
                                NN_F32_GEMM_ACC, 0};
  for (size_t a = 0; a < 5; a++)
    for (size_t b = 0; b < 5; b++)
      for (size_t c = 0; c < 4; c++)
        driver_case(k, pool, Ms[a], Ns[b], Ks[c], (int)((a + b + c) % 3), fl[(a + 2 * b + c) % 4]);
}

/* ---- convolution plans vs nn_f32_conv__ref ---- */

typedef struct conv_shape {
  int64_t n, c, m, g, ih, iw, kh, kw, s, pad, dil;
} conv_shape;

static void conv_case(const nn_kernels *k, nn_threadpool *pool, const conv_shape *cs, int clamp,
                      int with_bias) {
  nn_conv_params p;
  memset(&p, 0, sizeof p);
  p.batch = cs->n;
  p.in_ch = cs->c;
  p.out_ch = cs->m;
  p.group = cs->g;
  const int64_t in[3] = {1, cs->ih, cs->iw}, ker[3] = {1, cs->kh, cs->kw};
  for (int d = 0; d < 3; d++) {
    p.in[d] = in[d];
    p.kernel[d] = ker[d];
    p.stride[d] = d ? cs->s : 1;
    p.dilation[d] = d ? cs->dil : 1;
    p.pad_begin[d] = d ? cs->pad : 0;
    const int64_t ek = (ker[d] - 1) * p.dilation[d] + 1;
    p.out[d] = (in[d] + 2 * p.pad_begin[d] - ek) / p.stride[d] + 1;
  }
  const size_t in_sz = (size_t)(cs->ih * cs->iw), out_sz = (size_t)(p.out[1] * p.out[2]);
  const size_t xs = (size_t)(cs->n * cs->c) * in_sz, ys = (size_t)(cs->n * cs->m) * out_sz;
  const size_t ws_ = (size_t)(cs->m * (cs->c / cs->g) * cs->kh * cs->kw);
  kt_guard gx, gw, gb, gy, gws;
  float *x = kt_guard_rand(xs, &gx), *w = kt_guard_rand(ws_, &gw);
  float *b = kt_guard_rand((size_t)cs->m, &gb), *y = kt_guard_alloc(ys, &gy);
  float *r = malloc(ys * sizeof *r + 1);
  float *scr = malloc(nn_conv_scratch_elems(&p) * sizeof *scr + 1);
  nn_f32_conv__ref(&p, x, w, with_bias ? b : NULL, r, scr, nn_conv_scratch_elems(&p));
  /* per-output magnitude sum |w x| + |b|: the same convolution of absolute values */
  float *ax = malloc(xs * sizeof *ax + 1), *aw = malloc(ws_ * sizeof *aw + 1);
  float *ab = malloc((size_t)cs->m * sizeof *ab), *mag = malloc(ys * sizeof *mag + 1);
  for (size_t i = 0; i < xs; i++) ax[i] = fabsf(x[i]);
  for (size_t i = 0; i < ws_; i++) aw[i] = fabsf(w[i]);
  for (int64_t i = 0; i < cs->m; i++) ab[i] = fabsf(b[i]);
  nn_f32_conv__ref(&p, ax, aw, ab, mag, scr, nn_conv_scratch_elems(&p));
  const float mm[2] = {-0.25f, 0.5f};
  nn_f32_conv_plan *pl = nn_f32_conv_plan_create(k, &p, w, with_bias ? b : NULL,
                                                 clamp ? mm : NULL);
  KT_CHECK(pl != NULL, "%s conv plan not created", g_level);
  if (pl) {
    const int threads = nn_threadpool_size(pool);
    const size_t wsb = nn_f32_conv_plan_workspace(pl, threads);
    float *ws = kt_guard_alloc(wsb / sizeof(float) + 1, &gws);
    for (size_t i = 0; i < ys; i++) y[i] = NAN;
    nn_f32_conv_plan_run(pl, x, y, ws, wsb, pool);
    const size_t K = (size_t)((cs->c / cs->g) * cs->kh * cs->kw);
    int bad = 0;
    for (size_t i = 0; i < ys && bad < 3; i++) {
      double want = r[i];
      if (clamp) want = want < mm[0] ? mm[0] : want > mm[1] ? mm[1] : want;
      const int ok = close_enough(y[i], want, mag[i], K);
      bad += !ok;
      KT_CHECK(ok, "%s conv n=%lld c=%lld m=%lld g=%lld in=%lldx%lld k=%lldx%lld s=%lld pad=%lld "
               "dil=%lld clamp=%d threads=%d: y[%zu]=%.9g ref %.9g", g_level,
               (long long)cs->n, (long long)cs->c, (long long)cs->m, (long long)cs->g,
               (long long)cs->ih, (long long)cs->iw, (long long)cs->kh, (long long)cs->kw,
               (long long)cs->s, (long long)cs->pad, (long long)cs->dil, clamp, threads, i,
               (double)y[i], want);
    }
    kt_guard_free(&gws);
    nn_f32_conv_plan_free(pl);
  }
  free(r);
  free(scr);
  free(ax);
  free(aw);
  free(ab);
  free(mag);
  kt_guard_free(&gx);
  kt_guard_free(&gw);
  kt_guard_free(&gb);
  kt_guard_free(&gy);
}

static void test_conv(const nn_kernels *k, nn_threadpool *pool) {
  static const conv_shape shapes[] = {
      /* n  c   m   g  ih  iw kh kw s pad dil */
      {1, 16, 24, 1, 14, 14, 1, 1, 1, 0, 1},   /* pointwise */
      {2, 7, 5, 1, 9, 11, 1, 1, 1, 0, 1},      /* pointwise, odd, batch 2 */
      {1, 32, 64, 1, 7, 7, 1, 1, 2, 0, 1},     /* 1x1 stride 2 (downsample) */
      {1, 3, 16, 1, 23, 19, 3, 3, 2, 1, 1},    /* stem conv */
      {1, 3, 8, 1, 30, 30, 7, 7, 2, 3, 1},     /* 7x7 stem */
      {1, 20, 30, 1, 12, 13, 3, 3, 1, 1, 1},   /* 3x3 same */
      {2, 8, 12, 1, 10, 10, 3, 3, 1, 0, 2},    /* dilated, valid */
      {1, 12, 12, 3, 9, 9, 3, 3, 1, 1, 1},     /* grouped */
      {1, 16, 16, 16, 13, 17, 3, 3, 1, 1, 1},  /* depthwise s1 */
      {2, 8, 8, 8, 20, 33, 3, 3, 2, 1, 1},     /* depthwise s2 */
      {1, 4, 4, 4, 5, 6, 3, 3, 2, 0, 1},       /* depthwise s2 no pad */
      {1, 4, 4, 4, 40, 3, 3, 3, 1, 2, 1},      /* depthwise pad 2 */
      {1, 6, 12, 6, 8, 8, 3, 3, 1, 1, 1},      /* depthwise multiplier 2 (GEMM path) */
      {1, 5, 5, 5, 9, 9, 5, 5, 1, 2, 1},       /* depthwise 5x5 (GEMM path) */
      {1, 300, 33, 1, 6, 5, 3, 3, 1, 1, 1},    /* K > KC */
      {1, 640, 96, 1, 7, 7, 1, 1, 1, 0, 1},    /* pointwise, few positions (swapped GEMM) */
      {2, 128, 64, 2, 6, 6, 3, 3, 1, 1, 1},    /* grouped 3x3, swapped GEMM */
      {1, 60, 300, 1, 7, 7, 3, 3, 1, 1, 1},    /* swapped with K > KC, M > NC */
  };
  for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
    conv_case(k, pool, &shapes[i], 0, 1);
    conv_case(k, pool, &shapes[i], 1, i & 1);
  }
}

/* ---- transposed convolution plans vs nn_f32_conv_transpose__ref ---- */

static void convt_case(const nn_kernels *k, nn_threadpool *pool, const conv_shape *cs,
                       int64_t opad) {
  nn_conv_params p;
  memset(&p, 0, sizeof p);
  p.batch = cs->n;
  p.in_ch = cs->c;
  p.out_ch = cs->m;
  p.group = cs->g;
  const int64_t in[3] = {1, cs->ih, cs->iw}, ker[3] = {1, cs->kh, cs->kw};
  for (int d = 0; d < 3; d++) {
    p.in[d] = in[d];
    p.kernel[d] = ker[d];
    p.stride[d] = d ? cs->s : 1;
    p.dilation[d] = d ? cs->dil : 1;
    p.pad_begin[d] = d ? cs->pad : 0;
    const int64_t ek = (ker[d] - 1) * p.dilation[d] + 1;
    p.out[d] = p.stride[d] * (in[d] - 1) + ek - 2 * p.pad_begin[d] + (d ? opad : 0);
  }
  const size_t in_sz = (size_t)(cs->ih * cs->iw), out_sz = (size_t)(p.out[1] * p.out[2]);
  const size_t xs = (size_t)(cs->n * cs->c) * in_sz, ys = (size_t)(cs->n * cs->m) * out_sz;
  const size_t wn = (size_t)(cs->c * (cs->m / cs->g) * cs->kh * cs->kw);
  kt_guard gx, gw, gb, gy, gws;
  float *x = kt_guard_rand(xs, &gx), *w = kt_guard_rand(wn, &gw);
  float *b = kt_guard_rand((size_t)cs->m, &gb), *y = kt_guard_alloc(ys, &gy);
  float *r = malloc(ys * sizeof *r + 1), *mag = malloc(ys * sizeof *mag + 1);
  nn_f32_conv_transpose__ref(&p, x, w, b, r);
  /* per-output magnitude: the same transposed convolution of absolute values */
  float *ax = malloc(xs * sizeof *ax + 1), *aw = malloc(wn * sizeof *aw + 1);
  float *ab = malloc((size_t)cs->m * sizeof *ab);
  for (size_t i = 0; i < xs; i++) ax[i] = fabsf(x[i]);
  for (size_t i = 0; i < wn; i++) aw[i] = fabsf(w[i]);
  for (int64_t i = 0; i < cs->m; i++) ab[i] = fabsf(b[i]);
  nn_f32_conv_transpose__ref(&p, ax, aw, ab, mag);
  free(ax);
  free(aw);
  nn_f32_conv_plan *pl = nn_f32_convt_plan_create(k, &p, w, b);
  KT_CHECK(pl != NULL, "%s convt plan not created", g_level);
  if (pl) {
    const size_t wsb = nn_f32_conv_plan_workspace(pl, nn_threadpool_size(pool));
    float *ws = kt_guard_alloc(wsb / sizeof(float) + 1, &gws);
    for (size_t i = 0; i < ys; i++) y[i] = NAN;
    nn_f32_conv_plan_run(pl, x, y, ws, wsb, pool);
    const size_t K = (size_t)(cs->c / cs->g);
    int bad = 0;
    for (size_t i = 0; i < ys && bad < 3; i++) {
      const int ok = close_enough(y[i], r[i], mag[i], K * 16);
      bad += !ok;
      KT_CHECK(ok, "%s convt c=%lld m=%lld g=%lld in=%lldx%lld k=%lldx%lld s=%lld pad=%lld "
               "dil=%lld opad=%lld: y[%zu]=%.9g ref %.9g", g_level, (long long)cs->c,
               (long long)cs->m, (long long)cs->g, (long long)cs->ih, (long long)cs->iw,
               (long long)cs->kh, (long long)cs->kw, (long long)cs->s, (long long)cs->pad,
               (long long)cs->dil, (long long)opad, i, (double)y[i], (double)r[i]);
    }
    kt_guard_free(&gws);
    nn_f32_conv_plan_free(pl);
  }
  free(r);
  free(mag);
  free(ab);
  kt_guard_free(&gx);
  kt_guard_free(&gw);
  kt_guard_free(&gb);
  kt_guard_free(&gy);
}

static void test_convt(const nn_kernels *k, nn_threadpool *pool) {
  static const conv_shape shapes[] = {
      /* n  c   m   g  ih  iw kh kw s pad dil */
      {1, 16, 8, 1, 8, 8, 2, 2, 2, 0, 1},     /* U-Net upsampling */
      {2, 7, 5, 1, 5, 6, 3, 3, 2, 1, 1},      /* overlapping taps */
      {1, 6, 9, 3, 4, 7, 3, 3, 1, 1, 1},      /* grouped */
      {1, 4, 4, 1, 6, 5, 3, 3, 2, 0, 2},      /* dilated */
      {1, 300, 17, 1, 3, 3, 4, 4, 2, 1, 1},   /* K > KC */
  };
  for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) convt_case(k, pool, &shapes[i], i & 1);
}

/* ---- the level's B packers vs the plain-C ones (bit for bit) ---- */

static void pack_conv_case(const nn_kernels *k, const conv_shape *cs, int front) {
  nn_conv_params p;
  memset(&p, 0, sizeof p);
  p.batch = 1;
  p.in_ch = cs->c;
  p.out_ch = cs->m;
  p.group = 1;
  const int64_t in[3] = {1, cs->ih, cs->iw}, ker[3] = {1, cs->kh, cs->kw};
  for (int d = 0; d < 3; d++) {
    p.in[d] = in[d];
    p.kernel[d] = ker[d];
    p.stride[d] = d ? cs->s : 1;
    p.dilation[d] = d ? cs->dil : 1;
    p.pad_begin[d] = d ? cs->pad : 0;
    const int64_t ek = (ker[d] - 1) * p.dilation[d] + 1;
    p.out[d] = (in[d] + 2 * p.pad_begin[d] - ek) / p.stride[d] + 1;
  }
  const size_t xs = (size_t)(cs->c * cs->ih * cs->iw), N = (size_t)(p.out[1] * p.out[2]);
  const size_t K = (size_t)(cs->c * cs->kh * cs->kw), nr = k->f32_gemm_nr;
  kt_guard gx;
  float *x = front ? kt_guard_alloc_front(xs, &gx) : kt_guard_alloc(xs, &gx);
  for (size_t i = 0; i < xs; i++) x[i] = kt_frand();
  nn_f32_conv_pack_ctx ctx = {&p, x};
  /* a few (j0, nj, k0, kc) windows: whole, ragged start, ragged end */
  const size_t mid = N > 5 ? (N / 2 < N - 5 ? N / 2 : N - 5) : N;
  const size_t js[3][2] = {{0, N}, {N / 3, N - N / 3}, {N > 5 ? 5 : 0, mid}};
  const size_t ks[2][2] = {{0, K}, {K / 2, K - K / 2}};
  for (int a = 0; a < 3; a++)
    for (int b = 0; b < 2; b++) {
      const size_t j0 = js[a][0], nj = js[a][1], k0 = ks[b][0], kc = ks[b][1];
      if (!nj || !kc) continue;
      const size_t sz = (nj + nr - 1) / nr * nr * kc;
      float *want = malloc(sz * sizeof *want), *got = malloc(sz * sizeof *got);
      for (size_t i = 0; i < sz; i++) want[i] = got[i] = NAN;
      nn_f32_conv_pack_b(&ctx, j0, nj, k0, kc, nr, want);
      k->f32_conv_pack_b(&ctx, j0, nj, k0, kc, nr, got);
      KT_CHECK(!memcmp(want, got, sz * sizeof *got),
               "%s conv pack c=%lld in=%lldx%lld k=%lldx%lld s=%lld pad=%lld dil=%lld j0=%zu "
               "nj=%zu k0=%zu kc=%zu differs", g_level, (long long)cs->c, (long long)cs->ih,
               (long long)cs->iw, (long long)cs->kh, (long long)cs->kw, (long long)cs->s,
               (long long)cs->pad, (long long)cs->dil, j0, nj, k0, kc);
      free(want);
      free(got);
    }
  kt_guard_free(&gx);
}

static void test_pack(const nn_kernels *k) {
  if (k->f32_conv_pack_b) {
    static const int64_t sizes[] = {1, 3, 5, 7, 14, 17, 33};
    for (size_t a = 0; a < 7; a++)
      for (size_t b = 0; b < 7; b++)
        for (int64_t kk = 1; kk <= 7; kk += 2)
          for (int64_t s = 1; s <= 3; s++)
            for (int64_t pad = 0; pad <= (kk > 1 ? 3 : 0); pad += 1 + (kk > 3)) {
              const conv_shape cs = {1, 3, 1, 1, sizes[a], sizes[b], kk, kk, s, pad,
                                     1 + (a + b + pad) % 2};
              const int64_t ek = (kk - 1) * cs.dil + 1;
              if (sizes[a] + 2 * pad < ek || sizes[b] + 2 * pad < ek) continue;
              pack_conv_case(k, &cs, (int)((a + b) & 1));
            }
  }
  if (k->f32_pack_b) {
    const size_t nr = k->f32_gemm_nr;
    for (size_t N = 1; N <= 3 * nr + 1; N += 5)
      for (size_t K = 1; K <= 9; K += 4) {
        kt_guard gb;
        const size_t ld = N + 1;
        float *B = kt_guard_rand((K - 1) * ld + N, &gb);
        for (size_t j0 = 0; j0 < N; j0 += nr + 3) {
          const size_t nj = N - j0, sz = (nj + nr - 1) / nr * nr * K;
          float *want = malloc(sz * sizeof *want), *got = malloc(sz * sizeof *got);
          nn_f32_pack_b(B, ld, 0, 0, K, j0, nj, nr, want);
          k->f32_pack_b(B, ld, 0, 0, K, j0, nj, nr, got);
          KT_CHECK(!memcmp(want, got, sz * sizeof *got), "%s pack_b N=%zu K=%zu j0=%zu differs",
                   g_level, N, K, j0);
          free(want);
          free(got);
        }
        kt_guard_free(&gb);
      }
  }
}

/* ---- depthwise 3x3 kernels on their own ---- */

static void test_dwconv(const nn_kernels *k) {
  static const size_t sizes[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 34};
  const size_t ns = sizeof sizes / sizeof *sizes;
  for (int s = 1; s <= 2; s++) {
    if (!k->f32_dwconv3x3[s - 1]) continue;
    for (size_t a = 0; a < ns; a++)
      for (size_t b = 0; b < ns; b++)
        for (size_t pt = 0; pt <= 2; pt++)
          for (size_t pl = 0; pl <= 2; pl++) {
            const size_t ih = sizes[a], iw = sizes[b];
            const size_t pb = (a + b) % 3 < pt ? (a + b) % 3 : pt, pr = pl;
            if (ih + pt + pb < 3 || iw + pl + pr < 3) continue;
            const size_t oh = (ih + pt + pb - 3) / (size_t)s + 1;
            const size_t ow = (iw + pl + pr - 3) / (size_t)s + 1;
            kt_guard gx, gy;
            float *x = kt_guard_rand(ih * iw, &gx), *y = kt_guard_alloc(oh * ow, &gy);
            float w[9];
            for (int i = 0; i < 9; i++) w[i] = kt_frand();
            const float bias = kt_frand(), mm[2] = {-0.5f, 0.5f};
            const int clamp = (a + pt) & 1;
            k->f32_dwconv3x3[s - 1](ih, iw, oh, ow, pt, pl, x, w, bias, y, clamp ? mm : NULL);
            int bad = 0;
            for (size_t oy = 0; oy < oh && bad < 3; oy++)
              for (size_t ox = 0; ox < ow && bad < 3; ox++) {
                double want = nn_f32_dwconv3x3_point(ih, iw, (size_t)s, pt, pl, x, w, bias, oy, ox);
                if (clamp) want = want < mm[0] ? mm[0] : want > mm[1] ? mm[1] : want;
                const int ok = close_enough(y[oy * ow + ox], want, 10.0, 9);
                bad += !ok;
                KT_CHECK(ok, "%s dwconv3x3 s%d %zux%zu pad %zu,%zu: y[%zu,%zu]=%.9g want %.9g",
                         g_level, s, ih, iw, pt, pl, oy, ox, (double)y[oy * ow + ox], want);
              }
            kt_guard_free(&gx);
            kt_guard_free(&gy);
          }
  }
}

/* ---- max pooling vs nn_f32_maxpool__ref (exact) ---- */

/* Output size along one axis as ops/pool.c computes it (floor or ceil_mode); 0 when the
 * padded input is shorter than the kernel extent. */
static int64_t mp_out(int64_t in, int64_t k, int64_t s, int64_t dil, int64_t pb, int64_t pe,
                      int ceil_mode) {
  const int64_t span = in + pb + pe - ((k - 1) * dil + 1);
  if (span < 0) return 0;
  int64_t out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
  if (ceil_mode && (out - 1) * s >= in + pb) out--;
  return out;
}

/* One problem of 3 planes of H x W; x against a guard page at its end, or (front) at its
 * start; some inputs -inf. Planes 0 and 1-2 in two calls, as the thread split does. */
static void maxpool_case(const nn_kernels *k, int64_t H, int64_t W, const int64_t kern[2],
                         const int64_t st[2], const int64_t dil[2], const int64_t pb[2],
                         const int64_t pe[2], int ceil_mode, int front) {
  nn_pool_params p;
  memset(&p, 0, sizeof p);
  p.planes = 3;
  const int64_t in[3] = {1, H, W};
  for (int d = 0; d < 3; d++) {
    p.in[d] = in[d];
    p.kernel[d] = d ? kern[d - 1] : 1;
    p.stride[d] = d ? st[d - 1] : 1;
    p.dilation[d] = d ? dil[d - 1] : 1;
    p.pad_begin[d] = d ? pb[d - 1] : 0;
    p.pad_end[d] = d ? pe[d - 1] : 0;
    p.out[d] = mp_out(in[d], p.kernel[d], p.stride[d], p.dilation[d], p.pad_begin[d],
                      p.pad_end[d], ceil_mode);
    if (!p.out[d]) return;
  }
  const size_t xs = (size_t)(3 * H * W), ys = (size_t)(3 * p.out[1] * p.out[2]);
  kt_guard gx, gy;
  float *x = front ? kt_guard_alloc_front(xs, &gx) : kt_guard_alloc(xs, &gx);
  for (size_t i = 0; i < xs; i++) x[i] = i % 37 == 5 ? -INFINITY : kt_frand();
  float *y = kt_guard_alloc(ys, &gy);
  float *r = malloc(ys * sizeof *r + 1);
  nn_f32_maxpool__ref(&p, x, r, NULL);
  k->f32_maxpool2d(&p, x, y, 0, 1);
  k->f32_maxpool2d(&p, x, y, 1, 2);
  KT_CHECK(!memcmp(y, r, ys * sizeof *r),
           "%s maxpool %lldx%lld k%lldx%lld s%lldx%lld dil %lldx%lld pads %lld,%lld/%lld,%lld "
           "ceil %d differs", g_level, (long long)H, (long long)W, (long long)kern[0],
           (long long)kern[1], (long long)st[0], (long long)st[1], (long long)dil[0],
           (long long)dil[1], (long long)pb[0], (long long)pb[1], (long long)pe[0],
           (long long)pe[1], ceil_mode);
  free(r);
  kt_guard_free(&gx);
  kt_guard_free(&gy);
}

/* ---- GlobalAveragePool vs nn_f32_global_avgpool__ref (double sums in another order) ---- */
static void test_global_avgpool(const nn_kernels *k) {
  if (!k->f32_global_avgpool) return;
  static const int64_t ns[] = {0, 1, 7, 8, 9, 49, 196, 3136};
  for (size_t i = 0; i < sizeof ns / sizeof *ns; i++)
    for (int64_t planes = 1; planes <= 17; planes += 8) {
      const int64_t n = ns[i];
      kt_guard gx, gy;
      float *x = kt_guard_rand((size_t)(planes * n > 0 ? planes * n : 1), &gx);
      float *y = kt_guard_alloc((size_t)planes, &gy), *r = malloc((size_t)planes * sizeof *r);
      nn_f32_global_avgpool__ref(planes, n, x, r);
      k->f32_global_avgpool(planes, n, x, y);
      for (int64_t p = 0; p < planes; p++)
        KT_CHECK(fabsf(y[p] - r[p]) <= 1e-6f * (1.0f + fabsf(r[p])),
                 "global_avgpool planes=%lld n=%lld: y[%lld]=%.9g ref %.9g", (long long)planes,
                 (long long)n, (long long)p, y[p], r[p]);
      free(r);
      kt_guard_free(&gx);
      kt_guard_free(&gy);
    }
}

static void test_maxpool(const nn_kernels *k) {
  if (!k->f32_maxpool2d) return;
  /* widths below, at and around one vector of 8 / 16 / 32 lanes, odd, and ResNet's */
  static const int64_t widths[] = {1, 2, 5, 7, 8, 13, 15, 16, 17, 31, 33, 57, 112};
  static const int64_t heights[] = {1, 2, 5, 8, 13, 31};
  const size_t nw = sizeof widths / sizeof *widths, nh = sizeof heights / sizeof *heights;
  int n = 0;
  for (size_t a = 0; a < nh; a++)
    for (size_t b = 0; b < nw; b++)
      for (int64_t kk = 1; kk <= 4; kk++)
        for (int64_t s = 1; s <= 3; s++)
          for (int64_t pad = 0; pad < kk && pad <= 2; pad++)
            for (int64_t dil = 1; dil <= 2; dil++)
              for (int ceil_mode = 0; ceil_mode <= 1; ceil_mode++) {
                /* rows: another kernel / stride now and then; uneven end pads */
                const int64_t kern[2] = {(a + b) % 3 ? kk : 1 + kk % 3, kk};
                const int64_t st[2] = {(a + b) % 4 ? s : 1 + s % 3, s};
                const int64_t dl[2] = {dil, dil};
                const int64_t pb[2] = {pad < kern[0] ? pad : 0, pad};
                const int64_t pe[2] = {(pad + (int64_t)a) % kern[0], (pad + (int64_t)b) % kk};
                maxpool_case(k, heights[a], widths[b], kern, st, dl, pb, pe, ceil_mode,
                             n++ & 1);
              }
  /* ResNet's stem pool at its size, and rows about as wide as the fast kernels' buffers
   * hold (past them, the generic kernel) */
  static const int64_t wide[] = {112, 2000, 4300, 4400, 8192};
  for (size_t b = 0; b < sizeof wide / sizeof *wide; b++)
    for (int64_t s = 1; s <= 2; s++) {
      const int64_t kern[2] = {3, 3}, st[2] = {2, s}, dl[2] = {1, 1}, pad[2] = {1, 1};
      maxpool_case(k, wide[b] == 112 ? 112 : 3, wide[b], kern, st, dl, pad, pad, 0, (int)s & 1);
      maxpool_case(k, 5, wide[b], kern, st, dl, pad, pad, 1, 0);
    }
  /* pads as wide as the kernel or wider, windows wholly in the padding */
  for (int64_t pad = 2; pad <= 5; pad++)
    for (int64_t s = 1; s <= 2; s++) {
      const int64_t kern[2] = {2, 3}, st[2] = {s, s}, dl[2] = {1, 2}, pb[2] = {pad, pad};
      maxpool_case(k, 4, 9, kern, st, dl, pb, pb, (int)(pad & 1), (int)s & 1);
    }
}

/* ---- the thread pool ---- */

static void count_task(void *ctx, size_t thread, size_t task) {
  int *hits = ctx;
  (void)thread;
  __atomic_fetch_add(&hits[task], 1, __ATOMIC_RELAXED);
}

static void test_threadpool(void) {
  for (int threads = 1; threads <= 4; threads++) {
    nn_threadpool *p = nn_threadpool_create(threads);
    KT_CHECK(nn_threadpool_size(p) == threads, "pool of %d has %d threads", threads,
             nn_threadpool_size(p));
    for (size_t n = 0; n < 300; n += 37) {
      int hits[300] = {0};
      for (int rep = 0; rep < 3; rep++) nn_threadpool_parallelize(p, count_task, hits, n);
      for (size_t i = 0; i < n; i++)
        KT_CHECK(hits[i] == 3, "threads=%d tasks=%zu: task %zu ran %d times", threads, n, i,
                 hits[i]);
    }
    nn_threadpool_destroy(p);
  }
}

int main(void) {
  static const nn_isa levels[] = {NN_ISA_REF,  NN_ISA_AVX2, NN_ISA_AVX512,
                                  NN_ISA_NEON, NN_ISA_NEONDOT};
  test_threadpool();
  nn_threadpool *pool2 = nn_threadpool_create(2), *pool3 = nn_threadpool_create(3);
  /* the driver logic with the plain-C microkernel, on any machine */
  nn_kernels sk;
  nn_kernels_fill(&sk, NN_ISA_REF);
  sk.f32_gemm_ukernel = nn_f32_gemm_ukernel_4x8__scalar;
  sk.f32_gemm_mr = 4;
  sk.f32_gemm_nr = 8;
  g_level = "scalar";
  test_ukernel(&sk);
  test_driver(&sk, pool3);
  test_conv(&sk, NULL);
  test_convt(&sk, pool3);
  for (size_t l = 0; l < sizeof levels / sizeof *levels; l++) {
    nn_kernels k;
    if (!(g_level = kt_level(levels[l], &k))) continue;
    test_gemm_entry(&k);
    if (!k.f32_gemm_ukernel) continue;
    test_ukernel(&k);
    test_driver(&k, NULL);
    test_driver(&k, pool2);
    test_conv(&k, NULL);
    test_conv(&k, pool2);
    test_convt(&k, NULL);
    test_convt(&k, pool2);
    test_pack(&k);
    test_dwconv(&k);
    test_maxpool(&k);
    test_global_avgpool(&k);
  }
  nn_threadpool_destroy(pool2);
  nn_threadpool_destroy(pool3);
  return kt_report("test_f32_kernels");
}
