/*
 * test_f32_transformer.c - the kernels of the transformer ops against their reference
 * twins on every ISA level this machine has (nn_kernels_fill), operands against guard
 * pages:
 *   f32_vbinary (add/sub/mul/div, every stride pattern, sizes 0..70 and 1000): equal
 *     to nn_f32_<op>__ref bit for bit, in place too; x32_where vs nn_where__ref, exact;
 *   f32_layernorm vs nn_f32_layernorm__ref within the bound of f32_eltwise.h;
 *   f32_verf over a dense sweep of [-6, 6] and special values: |error| <= 1e-6 against
 *     double erf (the bound stated in kernels/f32_eltwise.h);
 *   f32_softmax vs nn_f32_softmax__ref: |error| <= 1e-5 * max(|want|, 1e-3 / n) + 1e-12
 *     on rows 1..300 and 4096 with spreads up to 100 and masked (-inf / -1e9) entries;
 *   the q8 MatMul adapter's panel packer vs nn_q8_pack_xt byte for byte, and the
 *   adapter (kernels/q8_matmul.h) vs nn_x8_gemm__ref, exactly (int32) and
 *     with the float epilogue computed from the reference int32 with the same float
 *     operations, over odd M, N, K, zero points, signedness and a thread split.
 */
#include <math.h>

#include "kernel_test.h"
#include "kernels/dispatch.h"
#include "kernels/f32_eltwise.h"
#include "kernels/q8_matmul.h"
#include "kernels/ref/elementwise.h"
#include "kernels/ref/layernorm.h"
#include "kernels/ref/qgemm.h"
#include "kernels/ref/softmax.h"
#include "runtime/threadpool.h"

static const char *g_level = "?";

/* ---------------------------------------------------------------- binary */

static void vbinary_case(const nn_kernels *k, int op, nn_binop ref_op, int64_t n, int sa,
                         int sb) {
  kt_guard ga, gb, gy, gr;
  const int64_t na = sa ? n : 1, nb = sb ? n : 1;
  float *a = kt_guard_rand((size_t)(na ? na : 1), &ga);
  float *b = kt_guard_rand((size_t)(nb ? nb : 1), &gb);
  for (int64_t i = 0; i < nb; i++)
    if (b[i] == 0.0f) b[i] = 0.5f;
  float *y = kt_guard_alloc((size_t)(n ? n : 1), &gy), *r = kt_guard_alloc((size_t)(n ? n : 1), &gr);
  nn_binary_lookup__ref(ref_op, NN_FLOAT)(n, a, sa, b, sb, r, NULL);
  k->f32_vbinary[op](n, a, sa, b, sb, y, NULL);
  int bad = 0;
  for (int64_t i = 0; i < n; i++) bad += memcmp(&y[i], &r[i], sizeof(float)) != 0;
  KT_CHECK(!bad, "%s vbinary op %d n=%lld sa=%d sb=%d: %d elements differ", g_level, op,
           (long long)n, sa, sb, bad);
  if (sa && n) { /* in place over a */
    memcpy(y, a, (size_t)n * sizeof(float));
    k->f32_vbinary[op](n, y, 1, b, sb, y, NULL);
    bad = 0;
    for (int64_t i = 0; i < n; i++) bad += memcmp(&y[i], &r[i], sizeof(float)) != 0;
    KT_CHECK(!bad, "%s vbinary op %d n=%lld in place: %d elements differ", g_level, op,
             (long long)n, bad);
  }
  kt_guard_free(&ga);
  kt_guard_free(&gb);
  kt_guard_free(&gy);
  kt_guard_free(&gr);
}

static void test_vbinary(const nn_kernels *k) {
  static const nn_binop ref_ops[4] = {NN_BIN_ADD, NN_BIN_SUB, NN_BIN_MUL, NN_BIN_DIV};
  for (int op = 0; op < 4; op++)
    for (int s = 0; s < 4; s++) {
      for (int64_t n = 0; n <= 70; n++) vbinary_case(k, op, ref_ops[op], n, s & 1, s >> 1);
      vbinary_case(k, op, ref_ops[op], 1000, s & 1, s >> 1);
    }
}

/* ---------------------------------------------------------------- where */

static void test_where(const nn_kernels *k) {
  for (int64_t n = 0; n <= 70; n += (n < 20 ? 1 : 25))
    for (int s = 0; s < 8; s++) {
      const int sc = s & 1, sx = (s >> 1) & 1, sy = s >> 2;
      kt_guard gc, gx, gy, go, gr;
      uint8_t *c = (uint8_t *)kt_guard_alloc((size_t)(n + 3) / 4 + 1, &gc);
      for (int64_t i = 0; i < (sc ? n : 1); i++) c[i] = kt_frand() > 0 ? (uint8_t)1 : 0;
      float *x = kt_guard_rand((size_t)(sx ? n : 1) + 1, &gx);
      float *y = kt_guard_rand((size_t)(sy ? n : 1) + 1, &gy);
      x[0] = NAN; /* payloads are copied, not computed */
      float *o = kt_guard_alloc((size_t)n + 1, &go), *r = kt_guard_alloc((size_t)n + 1, &gr);
      const int64_t dn = n, d1 = 1;
      const int nd[3] = {1, 1, 1};
      const int64_t *dims[3] = {sc ? &dn : &d1, sx ? &dn : &d1, sy ? &dn : &d1};
      nn_bcast p;
      nn_bcast_init(&p, 3, nd, dims, 1, &dn);
      nn_where__ref(&p, c, x, y, r, 4);
      k->x32_where(n, c, sc, x, sx, y, sy, o);
      KT_CHECK(!memcmp(o, r, (size_t)n * 4), "%s where n=%lld strides %d%d%d differ", g_level,
               (long long)n, sc, sx, sy);
      kt_guard_free(&gc);
      kt_guard_free(&gx);
      kt_guard_free(&gy);
      kt_guard_free(&go);
      kt_guard_free(&gr);
    }
}

/* ---------------------------------------------------------------- erf */

static void test_verf(const nn_kernels *k) {
  const size_t n = 120001; /* [-6, 6] in steps of 1e-4, an odd count for the tail */
  kt_guard gx, gy;
  float *x = kt_guard_alloc(n, &gx), *y = kt_guard_alloc(n, &gy);
  for (size_t i = 0; i < n; i++) x[i] = -6.0f + 1e-4f * (float)i;
  k->f32_verf(n, x, y);
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < n; i++) {
    const double e = fabs((double)y[i] - erf((double)x[i]));
    if (e > worst) worst = e, at = i;
  }
  KT_CHECK(worst <= 1e-6, "%s erf: max error %.3g at x=%.6f", g_level, worst, (double)x[at]);
  /* every tail length, in place */
  for (size_t m = 1; m <= 40; m++) {
    for (size_t i = 0; i < m; i++) y[i] = x[i * 3001 % n];
    k->f32_verf(m, y, y);
    for (size_t i = 0; i < m; i++) {
      const double e = fabs((double)y[i] - erf((double)x[i * 3001 % n]));
      KT_CHECK(e <= 1e-6, "%s erf n=%zu [%zu]: error %.3g", g_level, m, i, e);
    }
  }
  const float sp[5] = {INFINITY, -INFINITY, NAN, 0.0f, -0.0f};
  float so[5];
  k->f32_verf(5, sp, so);
  KT_CHECK(so[0] == 1.0f && so[1] == -1.0f && isnan(so[2]) && so[3] == 0.0f && so[4] == 0.0f,
           "%s erf specials: %g %g %g %g %g", g_level, so[0], so[1], so[2], so[3], so[4]);
  printf("  %s erf max error %.3g over [-6, 6]\n", g_level, worst);
  if (k->f32_vgelu) { /* Gelu in one pass = the composition through f32_verf, bit for bit */
    float *g = malloc(n * sizeof *g), *t = malloc(n * sizeof *t);
    for (size_t i = 0; i < n; i++) t[i] = x[i] * 0.70710678118654752f;
    k->f32_verf(n, t, t);
    for (size_t i = 0; i < n; i++) t[i] = 0.5f * x[i] * (1.0f + t[i]);
    for (size_t m = 1; m <= 40; m++) { /* every tail, in place, ending against the guard */
      float *yy = y + n - m;
      memcpy(yy, x + 7 * m, m * sizeof *yy);
      k->f32_vgelu(m, yy, yy);
      KT_CHECK(!memcmp(yy, t + 7 * m, m * sizeof *yy), "%s gelu n=%zu differs from erf composed", g_level, m);
    }
    k->f32_vgelu(n, x, g);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) bad += memcmp(&g[i], &t[i], sizeof *g) != 0;
    KT_CHECK(!bad, "%s gelu: %zu of %zu differ from erf composed", g_level, bad, n);
    free(g);
    free(t);
  }
  kt_guard_free(&gx);
  kt_guard_free(&gy);
}

/* ---------------------------------------------------------------- layernorm */

static void test_layernorm(const nn_kernels *k) {
  static const size_t ns[] = {1, 2, 7, 8, 15, 16, 17, 33, 64, 100, 768, 1023, 4096};
  double worst = 0;
  for (size_t t = 0; t < sizeof ns / sizeof *ns; t++)
    for (int hasb = 0; hasb < 2; hasb++) {
      const size_t n = ns[t];
      kt_guard gx, gs, gb, gy, gr;
      float *x = kt_guard_rand(n, &gx), *sc = kt_guard_rand(n, &gs), *b = kt_guard_rand(n, &gb);
      float *y = kt_guard_alloc(n, &gy), *r = kt_guard_alloc(n, &gr);
      for (size_t i = 0; i < n; i++) x[i] = 3.0f + 5.0f * x[i]; /* an offset mean */
      float m1, i1, m2, i2;
      nn_f32_layernorm__ref(1, (int64_t)n, x, sc, 1, hasb ? b : NULL, 1, 1e-5f, r, &m1, &i1);
      k->f32_layernorm(n, x, sc, hasb ? b : NULL, 1e-5f, y, &m2, &i2);
      int bad = 0;
      for (size_t i = 0; i < n; i++) {
        const double e = fabs((double)y[i] - r[i]);
        const double tol = 1e-5 * (fabs(sc[i]) * (fabs(x[i] - m1) * i1 + 1) +
                                   (hasb ? fabs(b[i]) : 0));
        if (e > worst) worst = e;
        bad += !(e <= tol);
      }
      KT_CHECK(!bad, "%s layernorm n=%zu bias=%d: %d elements off", g_level, n, hasb, bad);
      KT_CHECK(fabs(m2 - m1) <= 1e-5 * (fabs(m1) + 5) && fabs(i2 - i1) <= 1e-5 * i1,
               "%s layernorm n=%zu: mean %g vs %g, inv_std %g vs %g", g_level, n, m2, m1, i2, i1);
      kt_guard_free(&gx);
      kt_guard_free(&gs);
      kt_guard_free(&gb);
      kt_guard_free(&gy);
      kt_guard_free(&gr);
    }
  printf("  %s layernorm max abs error %.3g\n", g_level, worst);
}

/* ---------------------------------------------------------------- softmax */

static double g_sm_worst;

static void softmax_case(const nn_kernels *k, size_t n, float spread, int masked) {
  kt_guard gx, gy, gr;
  float *x = kt_guard_rand(n, &gx), *y = kt_guard_alloc(n, &gy), *r = kt_guard_alloc(n, &gr);
  for (size_t i = 0; i < n; i++) {
    x[i] *= spread;
    if (masked && i % 3 == 1) x[i] = masked == 1 ? -INFINITY : -1e9f;
  }
  nn_f32_softmax__ref(1, (int64_t)n, 1, x, r);
  k->f32_softmax(n, x, y);
  int bad = 0;
  for (size_t i = 0; i < n; i++) {
    const double want = r[i], e = fabs((double)y[i] - want);
    const double tol = 1e-5 * fmax(fabs(want), 1e-3 / (double)n) + 1e-12;
    if (fabs(want) > 1e-30 && e / fabs(want) > g_sm_worst) g_sm_worst = e / fabs(want);
    if (!(e <= tol) && bad++ < 3)
      fprintf(stderr, "  %s softmax n=%zu [%zu]: got %.9g want %.9g\n", g_level, n, i, y[i],
              want);
  }
  KT_CHECK(!bad, "%s softmax n=%zu spread=%g masked=%d: %d elements off", g_level, n,
           (double)spread, masked, bad);
  /* in place gives the same */
  memcpy(r, x, n * sizeof(float));
  k->f32_softmax(n, r, r);
  KT_CHECK(!memcmp(r, y, n * sizeof(float)), "%s softmax n=%zu in place differs", g_level, n);
  kt_guard_free(&gx);
  kt_guard_free(&gy);
  kt_guard_free(&gr);
}

static void test_softmax(const nn_kernels *k) {
  g_sm_worst = 0;
  static const float spreads[] = {1.0f, 10.0f, 100.0f};
  for (size_t n = 1; n <= 300; n += (n < 40 ? 1 : 13))
    for (int s = 0; s < 3; s++)
      for (int m = 0; m < 3; m++) softmax_case(k, n, spreads[s], m);
  softmax_case(k, 4096, 10.0f, 0);
  softmax_case(k, 4096, 10.0f, 2);
  printf("  %s softmax max relative error %.3g\n", g_level, g_sm_worst);
}

/* ---------------------------------------------------------------- q8 MatMul */

static uint8_t *u8_rand(size_t n, kt_guard *g) {
  uint8_t *p = (uint8_t *)kt_guard_alloc((n + 3) / 4, g) + ((n + 3) / 4 * 4 - n);
  for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(kt_frand() * 128.0f + 128.0f);
  return p;
}

typedef struct q8mm_par {
  const nn_q8_matmul_job *job;
  const nn_q8_gemm_tasks *t;
  char *ws;
  size_t stride;
} q8mm_par;

static void q8mm_task(void *ctx, size_t thread, size_t task) {
  const q8mm_par *p = ctx;
  nn_q8_matmul_run_task(p->job, p->t, task, p->ws + thread * p->stride);
}

static void q8mm_case(const nn_kernels *k, nn_threadpool *pool, size_t m, size_t n, size_t kk,
                      int a_signed, int b_signed, int b_zp_mode, int fused) {
  kt_guard ga, gb, gy, gr, gw, gbias;
  const uint8_t *a = u8_rand(m * kk, &ga), *b = u8_rand(kk * n, &gb);
  uint8_t az = (uint8_t)(a_signed ? 251 : 131), bzs[512];
  for (size_t j = 0; j < n; j++)
    bzs[j] = b_zp_mode == 0 ? (uint8_t)(b_signed ? 0 : 128)
             : b_zp_mode == 1 ? (uint8_t)(b_signed ? 7 : 121) : (uint8_t)(j * 37 + 3);
  int32_t *r = (int32_t *)kt_guard_alloc(m * n, &gr);
  nn_x8_gemm__ref(a_signed, b_signed, m, n, kk, a, kk, &az, 0, b, n, bzs, b_zp_mode == 2, r, n);
  /* the op's preparation: B^T packed, weight zero points in the packed domain */
  uint8_t *bt = malloc(n * kk + 1);
  int32_t rowsum[512], wz[512], row_bias[512], row_mul[512];
  float mult[512];
  for (size_t x = 0; x < kk; x++)
    for (size_t j = 0; j < n; j++) bt[j * kk + x] = b[x * n + j];
  int8_t *wp = (int8_t *)kt_guard_alloc(nn_q8_packed_w_size(n, kk, k->q8_mr) / 4 + 1, &gw);
  nn_q8_pack_w(n, kk, k->q8_mr, bt, kk, b_signed, wp, rowsum);
  free(bt);
  int any = 0;
  for (size_t j = 0; j < n; j++) {
    wz[j] = b_signed ? (int32_t)(int8_t)bzs[j] : (int32_t)bzs[j] - 128;
    any |= wz[j] != 0;
  }
  const int32_t xz = a_signed ? (int32_t)(int8_t)az + 128 : az;
  nn_q8_gemm_row_terms(k, n, kk, rowsum, any ? wz : NULL, xz, NULL, row_bias, row_mul);
  float *bias = kt_guard_rand(n, &gbias);
  for (size_t j = 0; j < n; j++) mult[j] = 0.01f * (float)(j % 7 + 1);
  void *y = kt_guard_alloc(m * n, &gy);
  nn_q8_matmul_job job = {.kern = k, .m = m, .n = n, .k = kk, .wp = wp, .row_bias = row_bias,
                          .row_mul = any ? row_mul : NULL, .x = a, .ldx = kk,
                          .x_xor = a_signed ? 0x80 : 0, .y = y, .ldy = n,
                          .mult = fused ? mult : NULL, .bias = fused == 2 ? bias : NULL};
  const size_t threads = pool ? (size_t)nn_threadpool_size(pool) : 1;
  const size_t ws_stride = (nn_q8_matmul_workspace(k, kk) + 63) / 64 * 64;
  char *ws = aligned_alloc(64, threads * ws_stride);
  nn_q8_gemm_tasks t;
  nn_q8_matmul_split(&job, threads, &t);
  q8mm_par par = {&job, &t, ws, ws_stride};
  nn_threadpool_parallelize(pool, q8mm_task, &par, t.tasks);
  free(ws);
  int bad = 0;
  for (size_t i = 0; i < m * n; i++) {
    if (!fused) {
      bad += ((int32_t *)y)[i] != r[i];
    } else {
      const size_t j = i % n;
      const float want = (float)r[i] * mult[j] + (fused == 2 ? bias[j] : 0.0f);
      bad += memcmp(&((float *)y)[i], &want, sizeof want) != 0;
    }
  }
  KT_CHECK(!bad, "%s q8 matmul m=%zu n=%zu k=%zu a%c b%c zp=%d fused=%d threads=%zu: %d of "
           "%zu differ", g_level, m, n, kk, a_signed ? 's' : 'u', b_signed ? 's' : 'u',
           b_zp_mode, fused, threads, bad, m * n);
  kt_guard_free(&ga);
  kt_guard_free(&gb);
  kt_guard_free(&gy);
  kt_guard_free(&gr);
  kt_guard_free(&gw);
  kt_guard_free(&gbias);
}

static void test_pack_xt(const nn_kernels *k) {
  static const size_t ks[] = {1, 3, 4, 5, 31, 32, 33, 64, 100, 768};
  const size_t nr = k->q8_nr;
  for (size_t t = 0; t < sizeof ks / sizeof *ks; t++)
    for (size_t nc = 1; nc <= nr; nc += (nc < 9 ? 1 : 7))
      for (int x = 0; x < 2; x++) {
        const size_t kk = ks[t], ld = kk + 3, kq = (kk + 3) / 4;
        kt_guard gx, ga, gb;
        const uint8_t *xt = u8_rand(nc * ld, &gx);
        uint8_t *a = (uint8_t *)kt_guard_alloc(kq * nr, &ga), *b = (uint8_t *)kt_guard_alloc(kq * nr, &gb);
        memset(a, 0xAB, kq * nr * 4);
        memset(b, 0xCD, kq * nr * 4);
        nn_q8_pack_xt(kk, nc, nr, xt, ld, x ? 0x80 : 0, a, NULL);
        k->q8_pack_xt(kk, nc, nr, xt, ld, x ? 0x80 : 0, b);
        KT_CHECK(!memcmp(a, b, kq * nr * 4), "%s pack_xt k=%zu nc=%zu xor=%d differs", g_level,
                 kk, nc, x);
        kt_guard_free(&gx);
        kt_guard_free(&ga);
        kt_guard_free(&gb);
      }
}

static void test_q8_matmul(const nn_kernels *k, nn_threadpool *pool) {
  static const size_t ms[] = {1, 3, 33, 70}, ns[] = {1, 7, 16, 40, 97},
                      ks[] = {1, 3, 4, 17, 64, 130};
  for (size_t a = 0; a < 4; a++)
    for (size_t b = 0; b < 5; b++)
      for (size_t c = 0; c < 6; c++)
        for (int sg = 0; sg < 4; sg++)
          for (int zp = 0; zp < 3; zp++)
            q8mm_case(k, pool, ms[a], ns[b], ks[c], sg & 1, sg >> 1, zp, (int)((a + b + c) % 3));
  q8mm_case(k, pool, 128, 300, 768, 0, 1, 0, 2); /* a BERT-like projection */
}

int main(void) {
  nn_threadpool *pool2 = nn_threadpool_create(2);
  for (size_t l = 0; l < KT_NLEVELS; l++) {
    nn_kernels k;
    if (!(g_level = kt_level(kt_levels[l], &k))) continue;
    if (k.q8_pack_xt) test_pack_xt(&k);
    test_q8_matmul(&k, NULL);
    test_q8_matmul(&k, pool2);
    if (k.f32_vbinary[NN_F32_VADD]) test_vbinary(&k);
    if (k.x32_where) test_where(&k);
    if (k.f32_layernorm) test_layernorm(&k);
    if (k.f32_verf) test_verf(&k);
    if (k.f32_softmax) test_softmax(&k);
  }
  nn_threadpool_destroy(pool2);
  return kt_report("test_f32_transformer");
}
