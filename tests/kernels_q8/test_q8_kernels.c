/*
 * test_q8_kernels.c - the 8-bit kernels of every ISA level this machine has, compared
 * exactly with the reference kernels (src/kernels/ref/qgemm.h, requant.h): x8_gemm over
 * sweeps of m, n, k (odd sizes, depths across the driver's blocking), every signedness
 * pair, per-tensor / per-row / per-column zero points including every value 0..255;
 * the saturating corners of 16-bit madd paths (255 x -128 everywhere); the packed GEMM
 * with fused requantization; depthwise 3x3 (stride 1 and 2) against im2col + GEMM; and
 * QLinearAdd; QuantizeLinear (ties, NaN, infinities, huge values); 8-bit MaxPool.
 * Buffers end at a PROT_NONE page so any over-read faults.
 * Plain C (no test framework) so it also runs under qemu-aarch64; ends with the line
 * "N passed, N failed". NNOPT_ISA=level restricts it to one level.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kernels/dispatch.h"
#include "kernels/q8_dwconv.h"
#include "kernels/q8_eltwise.h"
#include "kernels/q8_gemm.h"
#include "kernels/ref/pool.h"
#include "kernels/ref/qgemm.h"
#include "kernels/ref/requant.h"

static int g_pass, g_fail;
static const char *g_level = "";

#define CHECK(cond, ...)                                       \
  do {                                                         \
    if (cond) {                                                \
      g_pass++;                                                \
    } else {                                                   \
      g_fail++;                                                \
      if (g_fail <= 20) {                                      \
        printf("FAIL [%s] %s:%d: ", g_level, __FILE__, __LINE__); \
        printf(__VA_ARGS__);                                   \
        printf("\n");                                          \
      }                                                        \
    }                                                          \
  } while (0)

/* ---------------------------------------------------------------- guarded buffers */

typedef struct guard {
  void *base;
  size_t len;
} guard;

/* n bytes that end exactly at a PROT_NONE page. */
static void *gmalloc(guard *g, size_t n) {
  const size_t pg = (size_t)sysconf(_SC_PAGESIZE);
  const size_t body = (n + pg - 1) / pg * pg;
  g->len = body + pg;
  g->base = mmap(NULL, g->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (g->base == MAP_FAILED) {
    perror("mmap");
    exit(2);
  }
  mprotect((char *)g->base + body, pg, PROT_NONE);
  return (char *)g->base + body - n;
}

static void gfree(guard *g) { munmap(g->base, g->len); }

/* ---------------------------------------------------------------- random data */

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void) {
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return (uint32_t)(g_rng >> 16);
}

/* Random bytes, a quarter of them at the extremes 0x00 / 0x7F / 0x80 / 0xFF. */
static void fill(uint8_t *p, size_t n) {
  static const uint8_t ext[4] = {0x00, 0x7F, 0x80, 0xFF};
  for (size_t i = 0; i < n; i++) p[i] = (rnd() & 3) == 0 ? ext[rnd() & 3] : (uint8_t)rnd();
}

/* ---------------------------------------------------------------- levels */

static const nn_isa k_levels[] = {NN_ISA_REF, NN_ISA_AVX2, NN_ISA_AVX512, NN_ISA_AVX512VNNI,
                                  NN_ISA_NEON, NN_ISA_NEONDOT};

/* ---------------------------------------------------------------- x8_gemm */

static int gemm_case(const nn_kernels *k, int as, int bs, size_t m, size_t n, size_t kk,
                     size_t azi, size_t bzi, int zp_mode, int fixed_az, int fixed_bz,
                     int extreme) {
  guard ga, gb, gaz, gbz, gc, gr;
  const size_t lda = kk + (m & 1), ldb = n + (kk & 1), ldc = n + 1;
  uint8_t *a = gmalloc(&ga, m ? (m - 1) * lda + kk : 0);
  uint8_t *b = gmalloc(&gb, kk ? (kk - 1) * ldb + n : 0);
  uint8_t *az = gmalloc(&gaz, azi ? m : 1), *bz = gmalloc(&gbz, bzi ? n : 1);
  int32_t *c = gmalloc(&gc, ((m ? m - 1 : 0) * ldc + n) * sizeof(int32_t));
  int32_t *r = gmalloc(&gr, ((m ? m - 1 : 0) * ldc + n) * sizeof(int32_t));
  if (m) fill(a, (m - 1) * lda + kk);
  if (kk) fill(b, (kk - 1) * ldb + n);
  if (extreme) {
    /* The saturating corner of vpmaddubsw: 255 (or -128) x -128 in every pair. */
    for (size_t i = 0; m && i < (m - 1) * lda + kk; i++) a[i] = 0x80;
    for (size_t i = 0; kk && i < (kk - 1) * ldb + n; i++) b[i] = bs ? 0x80 : 0xFF;
  }
  fill(az, azi ? m : 1);
  fill(bz, bzi ? n : 1);
  if (zp_mode == 1) {
    memset(az, fixed_az, azi ? m : 1);
    memset(bz, fixed_bz, bzi ? n : 1);
  }
  memset(c, 0xAB, ((m ? m - 1 : 0) * ldc + n) * sizeof(int32_t));
  memcpy(r, c, ((m ? m - 1 : 0) * ldc + n) * sizeof(int32_t));
  nn_x8_gemm__ref(as, bs, m, n, kk, a, lda, az, azi, b, ldb, bz, bzi, r, ldc);
  k->x8_gemm(as, bs, m, n, kk, a, lda, az, azi, b, ldb, bz, bzi, c, ldc);
  int ok = 1;
  for (size_t i = 0; i < m && ok; i++)
    for (size_t j = 0; j < ldc && ok; j++) {
      if (i == m - 1 && j >= n) break;
      if (c[i * ldc + j] != r[i * ldc + j]) {
        CHECK(0, "x8_gemm as=%d bs=%d m=%zu n=%zu k=%zu azi=%zu bzi=%zu: c[%zu][%zu] = %d, "
              "want %d", as, bs, m, n, kk, azi, bzi, i, j, c[i * ldc + j], r[i * ldc + j]);
        ok = 0;
      }
    }
  if (ok) g_pass++;
  gfree(&ga), gfree(&gb), gfree(&gaz), gfree(&gbz), gfree(&gc), gfree(&gr);
  return ok;
}

static void test_x8_gemm(const nn_kernels *k) {
  static const size_t ms[] = {1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17};
  static const size_t ns[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 65};
  static const size_t ks[] = {1, 2, 3, 4, 5, 7, 8, 13, 16, 31, 64, 129};
  for (int sg = 0; sg < 4; sg++) {
    const int as = sg & 1, bs = sg >> 1;
    for (size_t mi = 0; mi < sizeof ms / sizeof ms[0]; mi++)
      for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++)
        for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
          size_t zm = (mi + ni + ki) % 4;
          gemm_case(k, as, bs, ms[mi], ns[ni], ks[ki], zm & 1, zm >> 1, 0, 0, 0, 0);
        }
    /* Depths across the driver's 512 blocking, with per-row and per-column points. */
    gemm_case(k, as, bs, 9, 37, 513, 1, 1, 0, 0, 0, 0);
    gemm_case(k, as, bs, 5, 33, 1100, 0, 0, 0, 0, 0, 0);
    /* Every ragged panel width (the VNNI tile's column and half-width paths), int32
     * output, accumulated across the 512 blocking at the largest depth. */
    for (size_t n = 1; n <= 66; n++)
      gemm_case(k, as, bs, n % 5 ? 9 : 8, n, n % 3 ? 37 : 515, n % 2, (n / 2) % 2, 0, 0, 0, 0);
    gemm_case(k, as, bs, 17, 20, 1027, 1, 0, 0, 0, 0, 0);
    gemm_case(k, as, bs, 0, 5, 7, 0, 0, 0, 0, 0, 0);
    gemm_case(k, as, bs, 3, 5, 0, 0, 0, 0, 0, 0, 0);
    /* Saturation corners. */
    gemm_case(k, as, bs, 8, 32, 64, 0, 0, 1, 0, 0, 1);
    gemm_case(k, as, bs, 5, 19, 301, 0, 0, 1, 0, 0, 1);
  }
  /* Every zero point 0..255 on both sides. */
  for (int z = 0; z < 256; z++) {
    gemm_case(k, 0, 0, 5, 19, 23, 0, 0, 1, z, 255 - z, 0);
    gemm_case(k, 1, 0, 3, 33, 9, 0, 0, 1, (z * 7) & 255, z, 0);
    gemm_case(k, 0, 1, 9, 7, 17, 0, 0, 1, z, (z * 13) & 255, 0);
    gemm_case(k, 1, 1, 4, 9, 6, 0, 0, 1, 255 - z, z, 0);
  }
}

/* ---------------------------------------------------------------- packed + requant */

/* y = requant(sum (w - wz)(x - xz) + bias) through nn_q8_gemm_run vs the reference. */
static void qconv_case(const nn_kernels *k, size_t m, size_t n, size_t kk, int x_signed,
                       int out_signed, int with_wz, int xz_raw, int scale_kind) {
  guard gw, gx, gy;
  const size_t ldx = n + 3, ldy = n + 1;
  int8_t *w = gmalloc(&gw, m * kk);
  uint8_t *x = gmalloc(&gx, kk ? (kk - 1) * ldx + n : 0);
  uint8_t *y = gmalloc(&gy, m ? (m - 1) * ldy + n : 0);
  fill((uint8_t *)w, m * kk);
  if (kk) fill(x, (kk - 1) * ldx + n);
  int8_t *wz = malloc(m ? m : 1);
  int32_t *wz32 = malloc((m ? m : 1) * sizeof(int32_t)), *bias = malloc((m ? m : 1) * 4);
  float *scale = malloc((m ? m : 1) * sizeof(float));
  for (size_t i = 0; i < m; i++) {
    wz[i] = with_wz ? (int8_t)rnd() : 0;
    wz32[i] = wz[i];
    bias[i] = (int32_t)(rnd() % 200001) - 100000;
    if (scale_kind == 0) scale[i] = (float)((rnd() % 1000) + 1) * 1e-5f;
    else if (scale_kind == 1) scale[i] = 0.5f; /* many exact ties */
    else if (scale_kind == 3) scale[i] = (float)(rnd() % 5 + 1) * (i % 2 ? 1e2f : 1e5f); /* |t * s| > 2^31 */
    else scale[i] = 1e-9f + (float)(rnd() % 7) * 3e-3f;
  }
  /* Reference: int32 accumulators, + bias, requantize per row. */
  int32_t *acc = malloc((m && n ? m * n : 1) * sizeof(int32_t));
  uint8_t xzb = (uint8_t)xz_raw;
  nn_x8_gemm__ref(1, x_signed, m, n, kk, w, kk, wz, with_wz ? 1 : 0, x, ldx, &xzb, 0, acc, n);
  const int32_t yz = out_signed ? (int32_t)(rnd() % 256) - 128 : (int32_t)(rnd() % 256);
  const int32_t qmin = out_signed ? -128 : 0, qmax = out_signed ? 127 : 255;

  /* Packed path. */
  int8_t *pw = malloc(nn_q8_packed_w_size(m, kk, k->q8_mr) + 1);
  int32_t *rowsum = malloc((m ? m : 1) * 4), *rb = malloc((m ? m : 1) * 4),
          *rm = malloc((m ? m : 1) * 4);
  nn_q8_pack_w(m, kk, k->q8_mr, w, kk, 1, pw, rowsum);
  const int32_t xz = x_signed ? (int32_t)(int8_t)xzb + 128 : xzb;
  nn_q8_gemm_row_terms(k, m, kk, rowsum, with_wz ? wz32 : NULL, xz, bias, rb, rm);
  size_t wsz = nn_q8_gemm_workspace(k, kk, 0);
  const uint8_t **xrows = malloc((kk ? kk : 1) * sizeof *xrows);
  for (size_t r = 0; r < kk; r++) xrows[r] = x + r * ldx;
  void *ws = aligned_alloc(64, (wsz + 63) / 64 * 64);
  nn_q8_gemm_job job = {.kern = k, .m = m, .n = n, .k = kk, .w = pw, .row_bias = rb,
                        .row_mul = with_wz ? rm : NULL, .xrows = xrows,
                        .x_xor = x_signed ? 0x80 : 0,
                        .mode = out_signed ? NN_Q8_OUT_S8 : NN_Q8_OUT_U8, .scale = scale,
                        .out_zp = yz, .qmin = qmin, .qmax = qmax, .y = y, .ldy = ldy};
  nn_q8_gemm_run(&job, 0, n, ws);
  int ok = 1;
  for (size_t i = 0; i < m && ok; i++)
    for (size_t j = 0; j < n && ok; j++) {
      int32_t t = (int32_t)((uint32_t)acc[i * n + j] + (uint32_t)bias[i]);
      int32_t want = nn_requantize_one(t, scale[i], yz, qmin, qmax);
      int32_t got = out_signed ? (int32_t)(int8_t)y[i * ldy + j] : y[i * ldy + j];
      if (got != want) {
        CHECK(0, "q8_gemm_run m=%zu n=%zu k=%zu xs=%d os=%d wz=%d xz=%d: y[%zu][%zu] = %d, "
              "want %d (t=%d)", m, n, kk, x_signed, out_signed, with_wz, xz_raw, i, j, got,
              want, t);
        ok = 0;
      }
    }
  if (ok) g_pass++;
  free(xrows), free(ws), free(pw), free(rowsum), free(rb), free(rm), free(acc), free(wz), free(wz32),
      free(bias), free(scale);
  gfree(&gw), gfree(&gx), gfree(&gy);
}

static void test_packed_requant(const nn_kernels *k) {
  static const size_t ms[] = {1, 3, 4, 8, 9, 16, 24, 33};
  static const size_t ns[] = {1, 5, 8, 16, 31, 32, 33, 49, 64, 100};
  static const size_t ks[] = {1, 3, 4, 9, 27, 64, 147, 576};
  int c = 0;
  for (size_t mi = 0; mi < sizeof ms / sizeof ms[0]; mi++)
    for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++)
      for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++, c++)
        qconv_case(k, ms[mi], ns[ni], ks[ki], c % 3 == 2, c % 5 == 4, c % 4 == 3,
                   (int)(rnd() % 256), c % 3);
  for (int z = 0; z < 256; z++) qconv_case(k, 9, 37, 19, z & 1, (z >> 1) & 1, z % 3 == 0, z, z % 3);
  /* Every ragged panel width (up to two panels), odd and full tile heights, even and
   * odd depth quads, both output signs, weight zero points or not. */
  for (size_t n = 1; n <= 66; n++)
    for (int v = 0; v < 4; v++)
      qconv_case(k, v & 1 ? 8 : 5 + 6 * (size_t)(v >> 1), n, v & 2 ? 9 : 130 + (size_t)v, v & 1,
                 (int)(n & 1), (int)((n / 2) & 1), (int)(rnd() % 256), (int)(n % 3));
  /* Products beyond the int32 range (the saturating epilogue's lower clamp), full tiles
   * and ragged ones, both output signs and zero points at both ends. */
  for (int z = 0; z < 32; z++)
    qconv_case(k, 16, z % 2 ? 64 : 33 + (size_t)z, 64 + (size_t)z, z & 2, z & 1, 0,
               z & 4 ? 255 : 0, 3);
  /* One column (classifier heads: the VNNI tile's single-column path), odd depths. */
  for (int z = 0; z < 64; z++)
    qconv_case(k, 17, 1, 21 + 8 * (size_t)(z % 5), z & 1, (z >> 1) & 1, z % 3 == 0, 4 * z, z % 3);
}

/* ---------------------------------------------------------------- panel packer */

/* The table's packer against the scalar one, byte for byte (padding included), with
 * every row ending at a guard page right after the columns packed. */
static void test_pack_x(const nn_kernels *k) {
  static const size_t ks[] = {1, 3, 4, 5, 9, 37};
  const size_t nr = k->q8_nr;
  for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++)
    for (size_t nc = 1; nc <= nr; nc++) {
      const size_t kk = ks[ki], col = (ki + nc) % 5, kq = (kk + 3) / 4;
      guard g[64];
      const uint8_t *rows[64];
      for (size_t r = 0; r < kk; r++) {
        uint8_t *b = gmalloc(&g[r], col + nc);
        fill(b, col + nc);
        rows[r] = b;
      }
      uint8_t *want = malloc(kq * 4 * nr), *got = malloc(kq * 4 * nr);
      const uint8_t xm = (nc & 1) ? 0x80 : 0;
      memset(got, 0xA5, kq * 4 * nr);
      nn_q8_pack_x__scalar(kk, nc, nr, rows, col, xm, want);
      k->q8_pack_x(kk, nc, nr, rows, col, xm, got);
      CHECK(!memcmp(want, got, kq * 4 * nr), "pack_x k %zu nc %zu nr %zu col %zu", kk, nc, nr,
            col);
      free(want), free(got);
      for (size_t r = 0; r < kk; r++) gfree(&g[r]);
    }
}

/* ---------------------------------------------------------------- depthwise 3x3 */

static void dw_case(const nn_kernels *k, size_t ih, size_t iw, unsigned stride, size_t pad,
                    int out_signed) {
  const size_t oh = (ih + 2 * pad - 3) / stride + 1, ow = (iw + 2 * pad - 3) / stride + 1;
  const size_t ph = (oh - 1) * stride + 3, pwid = (ow - 1) * stride + 3 + NN_Q8_DW_SLACK;
  guard gx, gy;
  uint8_t *xp = gmalloc(&gx, ph * pwid);
  uint8_t *y = gmalloc(&gy, oh * ow);
  uint8_t *img = malloc(ih * iw);
  fill(img, ih * iw);
  const uint8_t xz = (uint8_t)rnd();
  memset(xp, 0x5A, ph * pwid); /* slack: arbitrary */
  for (size_t r = 0; r < ph; r++)
    for (size_t cc = 0; cc < (ow - 1) * stride + 3; cc++) {
      long sr = (long)r - (long)pad, sc = (long)cc - (long)pad;
      xp[r * pwid + cc] = (sr >= 0 && sr < (long)ih && sc >= 0 && sc < (long)iw)
                              ? img[sr * iw + sc] : xz;
    }
  int8_t w[12] = {0}, w9[9];
  fill((uint8_t *)w9, 9);
  int32_t sw = 0;
  for (int i = 0; i < 9; i++) {
    w[4 * (i / 3) + i % 3] = w9[i];
    sw += w9[i];
  }
  const int32_t b = (int32_t)(rnd() % 20001) - 10000;
  const int32_t yz = out_signed ? (int32_t)(rnd() % 256) - 128 : (int32_t)(rnd() % 256);
  nn_q8_dw_args a = {.oh = oh, .ow = ow, .stride = stride, .x = xp, .ldx = pwid, .w = w,
                     .bias = b - (int32_t)xz * sw, .scale = 0.0123f + (float)(rnd() % 9) * 0.25f,
                     .out_zp = yz, .qmin = out_signed ? -128 : 0, .qmax = out_signed ? 127 : 255,
                     .y = y, .ldy = ow};
  k->q8_dwconv3x3(&a);
  /* Reference: the convolution as im2col + GEMM on the unpadded image. */
  nn_conv_geom g = {.rank = 2, .channels = 1, .in = {(int64_t)ih, (int64_t)iw},
                    .kernel = {3, 3}, .stride = {stride, stride}, .dilation = {1, 1},
                    .pad_begin = {(int64_t)pad, (int64_t)pad},
                    .out = {(int64_t)oh, (int64_t)ow}};
  uint8_t *col = malloc(9 * oh * ow);
  int32_t *acc = malloc(oh * ow * sizeof(int32_t));
  nn_x8_im2col__ref(&g, img, xz, col);
  const int8_t wzero = 0;
  nn_x8_gemm__ref(1, 0, 1, oh * ow, 9, w9, 9, &wzero, 0, col, oh * ow, &xz, 0, acc, oh * ow);
  int ok = 1;
  for (size_t i = 0; i < oh * ow && ok; i++) {
    int32_t want = nn_requantize_one((int32_t)((uint32_t)acc[i] + (uint32_t)b), a.scale, yz,
                                     a.qmin, a.qmax);
    int32_t got = out_signed ? (int32_t)(int8_t)y[i] : y[i];
    if (got != want) {
      CHECK(0, "dwconv %zux%zu s%u pad %zu: y[%zu] = %d, want %d", ih, iw, stride, pad, i, got,
            want);
      ok = 0;
    }
  }
  if (ok) g_pass++;
  free(img), free(col), free(acc);
  gfree(&gx), gfree(&gy);
}

#if defined(__x86_64__)
void nn_q8_dwconv3x3__avx512vnni(const nn_q8_dw_args *);
#endif

/* Channels-at-once depthwise: the level's version against the scalar one (exact, over
 * channel runs not a multiple of 16, odd planes, both strides, asymmetric padding, int8
 * input flipped by the XOR), input and output ending at guard pages, channels outside
 * [c0, c1) untouched; and the scalar one against im2col + GEMM per channel. */
static void dwcl_case(const nn_kernels *k, size_t nc, size_t c0, size_t c1, size_t ih,
                      size_t iw, unsigned stride, size_t pt, size_t pl, size_t pb, size_t pr,
                      int x_signed, int out_signed) {
  const size_t oh = (ih + pt + pb - 3) / stride + 1, ow = (iw + pl + pr - 3) / stride + 1;
  guard gx, gy, gw;
  uint8_t *x = gmalloc(&gx, nc * ih * iw);
  uint8_t *y = gmalloc(&gy, nc * oh * ow);
  int8_t *w = gmalloc(&gw, 12 * nc);
  uint8_t *r = malloc(nc * oh * ow);
  int32_t *bias = malloc(nc * sizeof(int32_t));
  float *scale = malloc(nc * sizeof(float));
  fill(x, nc * ih * iw);
  fill((uint8_t *)w, 12 * nc);
  for (size_t c = 0; c < nc; c++) {
    w[12 * c + 3] = w[12 * c + 7] = w[12 * c + 11] = 0;
    bias[c] = (int32_t)(rnd() % 40001) - 20000;
    scale[c] = c % 5 == 4 ? 0.5f : 1e-4f + (float)(rnd() % 1000) * 2e-4f;
  }
  const int32_t yz = out_signed ? (int32_t)(rnd() % 256) - 128 : (int32_t)(rnd() % 256);
  nn_q8_dwcl_args a = {.ih = ih, .iw = iw, .oh = oh, .ow = ow, .stride = stride, .pt = pt,
                       .pl = pl, .x = x, .xor_mask = x_signed ? 0x80 : 0, .pad = (uint8_t)rnd(),
                       .w = w, .bias = bias, .scale = scale, .out_zp = yz,
                       .qmin = out_signed ? -128 : 0, .qmax = out_signed ? 127 : 255, .y = y};
  void *ws = aligned_alloc(64, (nn_q8_dwconv3x3_cl_workspace(&a) + 63) / 64 * 64);
  memset(y, 0xC3, nc * oh * ow);
  memset(r, 0xC3, nc * oh * ow);
  nn_q8_dwconv3x3_cl_select(k)(&a, c0, c1, ws);
  a.y = r;
  nn_q8_dwconv3x3_cl__scalar(&a, c0, c1, NULL);
  int ok = 1;
  for (size_t i = 0; i < nc * oh * ow && ok; i++)
    if (y[i] != r[i]) {
      CHECK(0, "dwconv_cl c=%zu [%zu,%zu) %zux%zu s%u pad %zu,%zu,%zu,%zu xs=%d: y[%zu] = %d, "
            "want %d", nc, c0, c1, ih, iw, stride, pt, pl, pb, pr, x_signed, i, y[i], r[i]);
      ok = 0;
    }
  /* The scalar twin against im2col + GEMM (uint8 input: the pad byte is the zero point). */
  if (ok && !x_signed) {
    nn_conv_geom g = {.rank = 2, .channels = 1, .in = {(int64_t)ih, (int64_t)iw},
                      .kernel = {3, 3}, .stride = {stride, stride}, .dilation = {1, 1},
                      .pad_begin = {(int64_t)pt, (int64_t)pl},
                      .out = {(int64_t)oh, (int64_t)ow}};
    uint8_t *col = malloc(9 * oh * ow);
    int32_t *acc = malloc(oh * ow * sizeof(int32_t));
    for (size_t c = c0; c < c1 && ok; c++) {
      int8_t w9[9];
      for (int t = 0; t < 9; t++) w9[t] = w[12 * c + 4 * (t / 3) + t % 3];
      const int8_t wzero = 0;
      const uint8_t zero = 0;
      nn_x8_im2col__ref(&g, x + c * ih * iw, a.pad, col);
      nn_x8_gemm__ref(1, 0, 1, oh * ow, 9, w9, 9, &wzero, 0, col, oh * ow, &zero, 0, acc,
                      oh * ow);
      for (size_t i = 0; i < oh * ow && ok; i++) {
        const int32_t want = nn_requantize_one((int32_t)((uint32_t)acc[i] + (uint32_t)bias[c]),
                                               scale[c], yz, a.qmin, a.qmax);
        const int32_t got = out_signed ? (int32_t)(int8_t)r[c * oh * ow + i] : r[c * oh * ow + i];
        if (got != want) {
          CHECK(0, "dwconv_cl__scalar c=%zu %zux%zu s%u: y[%zu][%zu] = %d, want %d", nc, ih, iw,
                stride, c, i, got, want);
          ok = 0;
        }
      }
    }
    free(col), free(acc);
  }
  if (ok) g_pass++;
  free(ws), free(r), free(bias), free(scale);
  gfree(&gx), gfree(&gy), gfree(&gw);
}

static void test_dwconv_cl(const nn_kernels *k) {
  static const size_t sizes[][2] = {{1, 1}, {2, 3}, {3, 3}, {4, 4}, {5, 7}, {7, 7}, {8, 8},
                                    {9, 5}, {13, 13}, {14, 14}, {15, 17}, {28, 28}, {3, 40}};
  static const size_t chans[][3] = {{1, 0, 1}, {5, 0, 5}, {16, 0, 16}, {17, 0, 17},
                                    {40, 3, 37}, {33, 16, 33}, {48, 0, 48}};
  int v = 0;
  for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
    for (size_t ci = 0; ci < sizeof chans / sizeof chans[0]; ci++)
      for (unsigned st = 1; st <= 2; st++, v++) {
        const size_t ih = sizes[si][0], iw = sizes[si][1];
        const size_t pt = v % 3 == 2 ? 0 : 1, pl = v % 4 == 3 ? 0 : 1;
        size_t pb = (size_t)(v % 2), pr = (size_t)((v / 2) % 3);
        if (ih + pt + pb < 3) pb = 3 - ih - pt;
        if (iw + pl + pr < 3) pr = 3 - iw - pl;
        dwcl_case(k, chans[ci][0], chans[ci][1], chans[ci][2], ih, iw, st, pt, pl, pb, pr,
                  v % 3 == 1, v % 5 == 2);
      }
}

static void test_dwconv(const nn_kernels *k) {
  /* Widths around the narrow-plane kernel's limits (8 and 48 outputs at stride 1, 8 and
   * 16 at stride 2) as well as MobileNet's planes. */
  static const size_t sizes[] = {3,  4,  5,  7,  8,  9,  10, 14, 15, 16, 17, 18, 28, 31,
                                 32, 33, 34, 47, 48, 49, 50, 56, 65, 70, 112, 131};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
    for (size_t j = 0; j < sizeof sizes / sizeof sizes[0]; j += 3)
      for (unsigned s = 1; s <= 2; s++) {
        dw_case(k, sizes[i], sizes[j], s, 1, (int)((i + j + s) & 1));
        dw_case(k, sizes[j], sizes[i], s, 0, (int)((i + j) & 1));
      }
#if defined(__x86_64__)
  /* The table takes the VBMI kernel where the CPU has it; the VNNI-only one (Cascade
   * Lake) must stay exact too. */
  if (k->isa == NN_ISA_AVX512VNNI && k->q8_dwconv3x3 != nn_q8_dwconv3x3__avx512vnni) {
    nn_kernels k2 = *k;
    k2.q8_dwconv3x3 = nn_q8_dwconv3x3__avx512vnni;
    test_dwconv(&k2);
  }
#endif
}

/* ---------------------------------------------------------------- QLinearAdd */

static void test_add(const nn_kernels *k) {
  static const size_t ns[] = {1, 7, 8, 15, 16, 17, 31, 33, 64, 100, 1001};
  for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++)
    for (int var = 0; var < 8; var++) {
      const size_t n = ns[ni];
      guard ga, gb, gy;
      uint8_t *a = gmalloc(&ga, n), *b = gmalloc(&gb, var & 4 ? 1 : n), *y = gmalloc(&gy, n);
      uint8_t *r = malloc(n);
      fill(a, n);
      fill(b, var & 4 ? 1 : n);
      nn_q8_add_params p = {.ra = var & 1 ? 0.5f : 0.37f + (float)(rnd() % 100) * 0.01f,
                            .rb = var & 1 ? 1.5f : 0.81f, .is_signed = (var >> 1) & 1,
                            .b_scalar = (var >> 2) & 1};
      p.qmin = p.is_signed ? -128 : 0;
      p.qmax = p.is_signed ? 127 : 255;
      p.za = p.is_signed ? (int32_t)(rnd() % 256) - 128 : (int32_t)(rnd() % 256);
      p.zb = p.is_signed ? (int32_t)(rnd() % 256) - 128 : (int32_t)(rnd() % 256);
      p.zc = p.is_signed ? (int32_t)(rnd() % 256) - 128 : (int32_t)(rnd() % 256);
      nn_q8_add__scalar(n, a, b, &p, r);
      k->q8_add(n, a, b, &p, y);
      CHECK(!memcmp(r, y, n), "q8_add n=%zu var=%d", n, var);
      /* The scalar kernel itself against MLAS's expression, written out here. */
      int ok = 1;
      const float fixed = (float)p.zc - fmaf(p.ra, (float)p.za, p.rb * (float)p.zb);
      for (size_t i = 0; i < n; i++) {
        int32_t qa = p.is_signed ? (int8_t)a[i] : a[i];
        int32_t qb = p.is_signed ? (int8_t)b[p.b_scalar ? 0 : i] : b[p.b_scalar ? 0 : i];
        float v = fmaf((float)qa, p.ra, fmaf((float)qb, p.rb, fixed));
        if ((uint8_t)nn_quantize_round_sat(v, 0, p.qmin, p.qmax) != r[i]) ok = 0;
      }
      CHECK(ok, "nn_q8_add__scalar n=%zu var=%d", n, var);
      free(r);
      gfree(&ga), gfree(&gb), gfree(&gy);
    }
}

/* ---------------------------------------------------------------- im2col panels */

/* nn_q8_im2col_panel against the columns of nn_x8_im2col__ref, over blocks of columns
 * that start and end anywhere in the output rows. */
static void test_im2col_panel(void) {
  static const int64_t cfg[][8] = {
      /* c, h, w, k, s, d, pad_begin, pad_end */
      {3, 9, 11, 3, 1, 1, 1, 1}, {2, 7, 7, 7, 2, 1, 3, 3}, {4, 14, 13, 3, 2, 1, 1, 0},
      {1, 5, 5, 3, 1, 2, 2, 2},  {5, 3, 3, 3, 1, 1, 1, 1}, {2, 20, 30, 1, 3, 1, 0, 0},
      {1, 1, 40, 5, 1, 1, 2, 2}, {3, 12, 12, 5, 3, 2, 4, 1},
  };
  for (size_t ci = 0; ci < sizeof cfg / sizeof cfg[0]; ci++) {
    nn_conv_geom g;
    memset(&g, 0, sizeof g);
    g.rank = 2;
    g.channels = cfg[ci][0];
    for (int d = 0; d < 2; d++) {
      g.in[d] = cfg[ci][1 + d];
      g.kernel[d] = cfg[ci][3];
      g.stride[d] = cfg[ci][4];
      g.dilation[d] = cfg[ci][5];
      g.pad_begin[d] = cfg[ci][6];
      const int64_t ek = (g.kernel[d] - 1) * g.dilation[d] + 1;
      g.out[d] = (g.in[d] + cfg[ci][6] + cfg[ci][7] - ek) / g.stride[d] + 1;
    }
    const size_t k = (size_t)(g.channels * g.kernel[0] * g.kernel[1]);
    const size_t p = (size_t)(g.out[0] * g.out[1]);
    guard gx;
    uint8_t *x = gmalloc(&gx, (size_t)(g.channels * g.in[0] * g.in[1]));
    fill(x, (size_t)(g.channels * g.in[0] * g.in[1]));
    uint8_t *col = malloc(k * p), *rows = malloc(k * 256);
    nn_x8_im2col__ref(&g, x, 0x3C, col);
    int ok = 1;
    for (size_t p0 = 0; p0 < p && ok; p0 += 1 + p0 % 37) {
      const size_t nc = p - p0 < 1 + (p0 * 7) % 256 ? p - p0 : 1 + (p0 * 7) % 256;
      nn_q8_im2col_panel(&g, x, 0x3C, p0, nc, 256, rows);
      for (size_t kk = 0; kk < k && ok; kk++)
        if (memcmp(rows + kk * 256, col + kk * p + p0, nc)) ok = 0;
      CHECK(ok, "im2col_panel cfg %zu p0 %zu nc %zu", ci, p0, nc);
    }
    free(col), free(rows);
    gfree(&gx);
  }
}

/* ---------------------------------------------------------------- QuantizeLinear */

static void test_quantize(const nn_kernels *k) {
  static const size_t ns[] = {1, 7, 8, 9, 15, 16, 17, 33, 100, 1000};
  static const float special[] = {0.0f, -0.0f, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f,
                                  NAN, INFINITY, -INFINITY, 1e30f, -1e30f, 1e-40f, 127.5f,
                                  128.5f, -128.5f, 255.5f, 3.4e38f};
  for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++)
    for (int var = 0; var < 4; var++) {
      const size_t n = ns[ni];
      guard gx, gy;
      float *x = gmalloc(&gx, n * sizeof(float));
      uint8_t *y = gmalloc(&gy, n), *r = malloc(n);
      for (size_t i = 0; i < n; i++)
        x[i] = (rnd() & 3) == 0 ? special[rnd() % (sizeof special / sizeof special[0])]
                                : ((float)(int32_t)(rnd() % 20001) - 10000.0f) * 0.0625f;
      const float scale = var & 1 ? 1.0f : 0.0371f * (float)(1 + var);
      const int sg = var >> 1;
      const int32_t qmin = sg ? -128 : 0, qmax = sg ? 127 : 255;
      const int32_t zp = sg ? (int32_t)(rnd() % 256) - 128 : (int32_t)(rnd() % 256);
      if (sg)
        nn_f32_qs8_quantize__ref(n, x, scale, (int8_t)zp, (int8_t *)r);
      else
        nn_f32_qu8_quantize__ref(n, x, scale, (uint8_t)zp, r);
      k->q8_quantize(n, x, scale, zp, qmin, qmax, y);
      CHECK(!memcmp(r, y, n), "q8_quantize n=%zu var=%d", n, var);
      free(r);
      gfree(&gx), gfree(&gy);
    }
}

/* ---------------------------------------------------------------- MaxPool */

static void test_maxpool(void) {
  static const int64_t cfg[][7] = {
      /* h, w, k, s, pad_begin, pad_end, dilation */
      {112, 112, 3, 2, 1, 1, 1}, {7, 9, 3, 1, 1, 1, 1}, {10, 11, 2, 2, 0, 1, 1},
      {5, 5, 3, 3, 2, 2, 1},     {9, 13, 3, 2, 1, 2, 2}, {1, 1, 1, 1, 0, 0, 1},
      {6, 6, 2, 2, 0, 3, 1}, /* a window past the input (ceil mode) */
      {56, 56, 3, 1, 1, 1, 1},   {17, 30, 5, 2, 2, 2, 1}, {8, 21, 3, 3, 0, 2, 2},
      {2, 8192, 3, 2, 1, 1, 1}, /* the widest row */
  };
  for (size_t ci = 0; ci < sizeof cfg / sizeof cfg[0]; ci++)
    for (int sg = 0; sg < 2; sg++) {
      nn_pool_params p;
      memset(&p, 0, sizeof p);
      p.planes = 3;
      p.in[0] = p.out[0] = p.kernel[0] = p.stride[0] = p.dilation[0] = 1;
      for (int d = 1; d < 3; d++) {
        p.in[d] = cfg[ci][d - 1];
        p.kernel[d] = cfg[ci][2];
        p.stride[d] = cfg[ci][3];
        p.pad_begin[d] = cfg[ci][4];
        p.pad_end[d] = cfg[ci][5];
        p.dilation[d] = cfg[ci][6];
        const int64_t ek = (p.kernel[d] - 1) * p.dilation[d] + 1;
        p.out[d] = (p.in[d] + p.pad_begin[d] + p.pad_end[d] - ek) / p.stride[d] + 1;
      }
      const size_t nin = (size_t)(p.planes * p.in[1] * p.in[2]);
      const size_t nout = (size_t)(p.planes * p.out[1] * p.out[2]);
      uint8_t *x = malloc(nin), *y = malloc(nout), *r = malloc(nout);
      fill(x, nin);
      if (sg) {
        nn_i8_maxpool__ref(&p, (const int8_t *)x, (int8_t *)r, NULL);
        nn_i8_maxpool2d(&p, (const int8_t *)x, (int8_t *)y, 0, (size_t)p.planes);
      } else {
        nn_u8_maxpool__ref(&p, x, r, NULL);
        nn_u8_maxpool2d(&p, x, y, 0, (size_t)p.planes);
      }
      CHECK(!memcmp(r, y, nout), "maxpool2d cfg %zu signed %d", ci, sg);
      free(x), free(y), free(r);
    }
}

int main(void) {
  nn_isa done[8];
  int ndone = 0;
  /* NNOPT_ISA (as the cross-build script sets it per run) limits the test to that level
   * (clamped to this CPU); unset, every level this CPU has is tested. */
  const char *env = getenv("NNOPT_ISA");
  const int only = env && *env ? nn_isa_parse(env) : -1;
  nn_isa only_isa = NN_ISA_REF;
  if (only >= 0) {
    nn_kernels t;
    nn_kernels_fill(&t, (nn_isa)only);
    only_isa = t.isa;
  }
  for (size_t li = 0; li < sizeof k_levels / sizeof k_levels[0]; li++) {
    nn_kernels k;
    nn_kernels_fill(&k, k_levels[li]);
    if (only >= 0 && k.isa != only_isa) continue;
    if (k.isa != k_levels[li]) continue; /* not on this machine */
    int seen = 0;
    for (int d = 0; d < ndone; d++) seen |= done[d] == k.isa;
    if (seen) continue;
    done[ndone++] = k.isa;
    g_level = nn_isa_name(k.isa);
    int before = g_fail;
    test_x8_gemm(&k);
    test_packed_requant(&k);
    test_pack_x(&k);
    test_dwconv(&k);
    test_dwconv_cl(&k);
    test_add(&k);
    test_quantize(&k);
    printf("level %-11s q8 tile %ux%u: %s\n", g_level, k.q8_mr, k.q8_nr,
           g_fail == before ? "ok" : "FAILED");
  }
  g_level = "generic";
  test_maxpool();
  test_im2col_panel();
  printf("%d passed, %d failed\n", g_pass, g_fail);
  return g_fail ? 1 : 0;
}
