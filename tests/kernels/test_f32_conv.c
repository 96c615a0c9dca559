/*
 * test_f32_conv.c - float32 convolution plans (kernels/f32_conv.h) against
 * nn_f32_conv__ref on every ISA level the machine has, 1 and 2 threads, guard pages on
 * every buffer: the stride-1 padded-grid ("shifted") path over widths, dilations,
 * asymmetric pads, groups and K > KC, and the fused sum (FusedConv input Z) with and
 * without a clamp on each path (pointwise, im2col GEMM, shifted, swapped, depthwise),
 * B operands too large to pre-pack with more rows than one row tile, and the grid with
 * stride phases, read in place, with B packed or read by the direct microkernel.
 * Tolerance: the GEMM bound of f32_gemm.h, |err| <= 1e-6 (K + 4) sum |w x| + |b| + |z|.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel_test.h"
#include "kernels/dispatch.h"
#include "kernels/f32_conv.h"
#include "kernels/f32_gemm.h"
#include "kernels/ref/conv.h"
#include "runtime/threadpool.h"

static const char *g_level = "";

typedef struct shape {
  int64_t n, c, m, g, ih, iw, kh, kw, s, pt, pl, pb, pr, dil;
} shape;

static void one_case(const nn_kernels *k, nn_threadpool *pool, const shape *cs, int clamp,
                     int with_sum) {
  nn_conv_params p;
  memset(&p, 0, sizeof p);
  p.batch = cs->n;
  p.in_ch = cs->c;
  p.out_ch = cs->m;
  p.group = cs->g;
  const int64_t in[3] = {1, cs->ih, cs->iw}, ker[3] = {1, cs->kh, cs->kw};
  const int64_t pbeg[3] = {0, cs->pt, cs->pl}, pend[3] = {0, cs->pb, cs->pr};
  for (int d = 0; d < 3; d++) {
    p.in[d] = in[d];
    p.kernel[d] = ker[d];
    p.stride[d] = d ? cs->s : 1;
    p.dilation[d] = d ? cs->dil : 1;
    p.pad_begin[d] = pbeg[d];
    const int64_t ek = (ker[d] - 1) * p.dilation[d] + 1;
    p.out[d] = (in[d] + pbeg[d] + pend[d] - ek) / p.stride[d] + 1;
  }
  const size_t in_sz = (size_t)(cs->ih * cs->iw), out_sz = (size_t)(p.out[1] * p.out[2]);
  const size_t xs = (size_t)(cs->n * cs->c) * in_sz, ys = (size_t)(cs->n * cs->m) * out_sz;
  const size_t wsz = (size_t)(cs->m * (cs->c / cs->g) * cs->kh * cs->kw);
  kt_guard gx, gw, gb, gy, gz, gws;
  float *x = kt_guard_rand(xs, &gx), *w = kt_guard_rand(wsz, &gw);
  float *b = kt_guard_rand((size_t)cs->m, &gb), *y = kt_guard_alloc(ys, &gy);
  float *z = with_sum ? kt_guard_rand(ys, &gz) : NULL;
  float *r = malloc(ys * sizeof *r + 1), *mag = malloc(ys * sizeof *mag + 1);
  float *scr = malloc(nn_conv_scratch_elems(&p) * sizeof *scr + 1);
  float *ax = malloc(xs * sizeof *ax + 1), *aw = malloc(wsz * sizeof *aw + 1);
  float *ab = malloc((size_t)cs->m * sizeof *ab);
  nn_f32_conv__ref(&p, x, w, b, r, scr, nn_conv_scratch_elems(&p));
  for (size_t i = 0; i < xs; i++) ax[i] = fabsf(x[i]);
  for (size_t i = 0; i < wsz; i++) aw[i] = fabsf(w[i]);
  for (int64_t i = 0; i < cs->m; i++) ab[i] = fabsf(b[i]);
  nn_f32_conv__ref(&p, ax, aw, ab, mag, scr, nn_conv_scratch_elems(&p));
  const float mm[2] = {-0.25f, 0.5f};
  nn_f32_conv_plan *pl = nn_f32_conv_plan_create(k, &p, w, b, clamp ? mm : NULL);
  KT_CHECK(pl != NULL, "%s conv plan not created", g_level);
  if (pl) {
    const size_t wsb = nn_f32_conv_plan_workspace(pl, nn_threadpool_size(pool));
    float *ws = kt_guard_alloc(wsb / sizeof(float) + 1, &gws);
    for (size_t i = 0; i < ys; i++) y[i] = NAN;
    nn_f32_conv_plan_run_sum(pl, x, z, y, ws, wsb, pool);
    const size_t K = (size_t)((cs->c / cs->g) * cs->kh * cs->kw);
    int bad = 0;
    for (size_t i = 0; i < ys && bad < 3; i++) {
      double want = r[i], m = mag[i];
      if (z) {
        want += z[i];
        m += fabs(z[i]);
      }
      if (clamp) want = want < mm[0] ? mm[0] : want > mm[1] ? mm[1] : want;
      const int ok = fabs(y[i] - want) <= 1e-6 * (double)(K + 4) * m + 1e-30;
      bad += !ok;
      KT_CHECK(ok, "%s conv n=%lld c=%lld m=%lld g=%lld in=%lldx%lld k=%lldx%lld s=%lld "
               "pads=%lld,%lld,%lld,%lld dil=%lld clamp=%d sum=%d threads=%d: y[%zu]=%.9g "
               "want %.9g", g_level, (long long)cs->n, (long long)cs->c, (long long)cs->m,
               (long long)cs->g, (long long)cs->ih, (long long)cs->iw, (long long)cs->kh,
               (long long)cs->kw, (long long)cs->s, (long long)cs->pt, (long long)cs->pl,
               (long long)cs->pb, (long long)cs->pr, (long long)cs->dil, clamp, with_sum,
               nn_threadpool_size(pool), i, (double)y[i], want);
    }
    kt_guard_free(&gws);
    nn_f32_conv_plan_free(pl);
  }
  free(r);
  free(mag);
  free(scr);
  free(ax);
  free(aw);
  free(ab);
  kt_guard_free(&gx);
  kt_guard_free(&gw);
  kt_guard_free(&gb);
  kt_guard_free(&gy);
  if (z) kt_guard_free(&gz);
}

/* Stride-1 2-D convolutions wide enough for the padded-grid path, and their neighbours. */
static void test_shifted(const nn_kernels *k, nn_threadpool *pool) {
  static const shape shapes[] = {
      /* n  c   m  g  ih  iw kh kw s pt pl pb pr dil */
      {1, 8, 16, 1, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1},   /* 3x3 same */
      {1, 5, 7, 1, 13, 17, 3, 3, 1, 1, 1, 1, 1, 1},    /* odd channels and sizes */
      {2, 6, 9, 1, 11, 23, 3, 3, 1, 0, 0, 0, 0, 1},    /* valid, batch 2 */
      {1, 4, 6, 1, 12, 31, 3, 3, 1, 2, 0, 0, 2, 1},    /* asymmetric pads */
      {1, 3, 5, 1, 9, 40, 3, 3, 1, 1, 2, 0, 1, 1},     /* pads larger on one side */
      {1, 4, 8, 1, 14, 30, 3, 3, 1, 2, 2, 2, 2, 2},    /* dilation 2 */
      {1, 6, 6, 1, 20, 44, 5, 5, 1, 2, 2, 2, 2, 1},    /* 5x5 */
      {1, 3, 4, 1, 9, 50, 1, 7, 1, 0, 3, 0, 3, 1},     /* 1x7 */
      {1, 3, 4, 1, 30, 12, 7, 1, 1, 3, 0, 3, 0, 1},    /* 7x1 */
      {1, 12, 18, 3, 10, 20, 3, 3, 1, 1, 1, 1, 1, 1},  /* grouped */
      {1, 40, 20, 1, 12, 16, 3, 3, 1, 1, 1, 1, 1, 1},  /* K = 360 > KC */
      {1, 16, 100, 1, 28, 28, 3, 3, 1, 1, 1, 1, 1, 1}, /* M > MC, pre-packed B */
      {1, 2, 3, 1, 3, 64, 3, 3, 1, 1, 1, 1, 1, 1},     /* few rows, wide */
      {1, 3, 5, 1, 10, 12, 3, 3, 1, 0, 1, 0, 0, 1},    /* output narrower than input-2 */
      {1, 8, 8, 1, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1},      /* narrow: im2col path */
  };
  for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
    one_case(k, pool, &shapes[i], 0, 0);
    one_case(k, pool, &shapes[i], 1, 0);
  }
}

/* The fused sum on each path. */
static void test_sum(const nn_kernels *k, nn_threadpool *pool) {
  static const shape shapes[] = {
      /* n  c   m   g  ih  iw kh kw s pt pl pb pr dil */
      {1, 16, 24, 1, 14, 14, 1, 1, 1, 0, 0, 0, 0, 1},   /* pointwise */
      {2, 7, 5, 1, 9, 11, 1, 1, 1, 0, 0, 0, 0, 1},      /* pointwise, batch 2 */
      {1, 3, 16, 1, 23, 19, 3, 3, 2, 1, 1, 1, 1, 1},    /* im2col, stride 2 */
      {1, 20, 30, 1, 12, 13, 3, 3, 1, 1, 1, 1, 1, 1},   /* shifted */
      {2, 12, 12, 3, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1},   /* shifted, grouped, batch 2 */
      {1, 640, 96, 1, 7, 7, 1, 1, 1, 0, 0, 0, 0, 1},    /* pointwise, swapped */
      {1, 60, 300, 1, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1},    /* swapped, K > KC */
      {1, 16, 16, 16, 13, 17, 3, 3, 1, 1, 1, 1, 1, 1},  /* depthwise s1 */
      {2, 8, 8, 8, 20, 33, 3, 3, 2, 1, 1, 1, 1, 1},     /* depthwise s2 */
  };
  for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
    one_case(k, pool, &shapes[i], 0, 1);
    one_case(k, pool, &shapes[i], 1, 1);
  }
}

/* The grid with stride phases (stride > 1), the grid read in place (stride 1, no padding,
 * one column tap) and small outputs where the grid competes with the swapped GEMM and with
 * positions as rows read in place (direct A). */
static void test_strided(const nn_kernels *k, nn_threadpool *pool) {
  static const shape shapes[] = {
      /* n  c   m   g  ih   iw kh kw s pt pl pb pr dil */
      {1, 5, 9, 1, 23, 31, 3, 3, 2, 1, 1, 1, 1, 1},     /* 3x3 s2, odd sizes */
      {1, 4, 12, 1, 24, 24, 3, 3, 2, 1, 1, 0, 0, 1},    /* 3x3 s2, pads at the start only */
      {1, 3, 16, 1, 45, 40, 7, 7, 2, 3, 3, 3, 3, 1},    /* 7x7 s2 (ResNet stem) */
      {1, 12, 20, 1, 14, 15, 1, 1, 2, 0, 0, 0, 0, 1},   /* 1x1 s2 (downsample) */
      {1, 4, 6, 1, 26, 29, 5, 5, 3, 2, 1, 2, 2, 1},     /* 5x5 s3, asymmetric pads */
      {1, 4, 7, 1, 30, 33, 3, 3, 2, 2, 2, 2, 2, 2},     /* s2 with dilation 2 */
      {2, 6, 6, 2, 17, 19, 3, 3, 2, 1, 1, 1, 1, 1},     /* s2 grouped, batch 2 */
      {1, 9, 11, 1, 30, 12, 7, 1, 1, 0, 0, 0, 0, 1},    /* 7x1, no pad: read in place */
      {1, 33, 70, 1, 9, 10, 1, 1, 1, 0, 0, 0, 0, 1},    /* pointwise in place */
      {1, 64, 40, 1, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1},     /* 7x7 output, K = 576 */
      {1, 96, 36, 1, 14, 14, 3, 3, 2, 1, 1, 1, 1, 1},   /* 7x7 output of s2, K = 864 */
      {1, 320, 50, 1, 7, 7, 1, 1, 1, 0, 0, 0, 0, 1},    /* pointwise 7x7, K = 320 */
      {1, 2, 3, 1, 5, 5, 3, 3, 2, 0, 0, 0, 0, 1},       /* 2x2 output */
      {1, 70, 64, 1, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1},     /* positions as rows, read in place */
      {1, 50, 96, 1, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1},   /* ... 14x14, tiles of half rows */
      {1, 40, 64, 1, 14, 13, 3, 3, 2, 1, 1, 1, 1, 1},   /* ... of a stride-2 grid */
      {1, 300, 64, 1, 6, 6, 1, 1, 1, 0, 0, 0, 0, 1},    /* ... pointwise, a short last tile */
      {2, 90, 40, 2, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1},     /* ... grouped, batch 2 */
  };
  for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
    one_case(k, pool, &shapes[i], 0, 0);
    one_case(k, pool, &shapes[i], 1, 1);
  }
}

/* Depthwise 3x3 on planes narrower than a vector: blocks of 16 channels in lanes. */
static void test_dw_narrow(const nn_kernels *k, nn_threadpool *pool) {
  static const shape shapes[] = {
      /* n  c   m   g  ih  iw kh kw s pt pl pb pr dil */
      {1, 40, 40, 40, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1},     /* 7x7, channels 16+16+8 */
      {2, 24, 24, 24, 14, 14, 3, 3, 2, 1, 1, 1, 1, 1},   /* 14 -> 7, stride 2, batch 2 */
      {1, 17, 17, 17, 5, 9, 3, 3, 1, 0, 2, 2, 0, 1},     /* asymmetric pads */
      {1, 16, 16, 16, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1},     /* 1x1 plane */
      {1, 33, 33, 33, 28, 15, 3, 3, 1, 1, 1, 1, 1, 1},   /* 28 rows of 15 */
      {1, 5, 5, 5, 9, 8, 3, 3, 2, 0, 0, 0, 0, 1},        /* fewer than 16 channels, valid */
  };
  for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
    one_case(k, pool, &shapes[i], 0, 0);
    one_case(k, pool, &shapes[i], 1, 0);
    one_case(k, pool, &shapes[i], 1, 1);
  }
}

/* B too large to pack whole (K x N > 2M floats) and M > MC: tiles take all rows. */
static void test_rows_all(const nn_kernels *k, nn_threadpool *pool) {
  static const shape shapes[] = {
      /* n  c   m   g  ih   iw kh kw s pt pl pb pr dil */
      {1, 16, 100, 1, 256, 520, 1, 1, 1, 0, 0, 0, 0, 1}, /* pointwise */
      {1, 8, 100, 1, 100, 300, 3, 3, 1, 1, 1, 1, 1, 1},  /* shifted */
  };
  for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) one_case(k, pool, &shapes[i], 1, 1);
}

int main(void) {
  static const nn_isa levels[] = {NN_ISA_AVX2, NN_ISA_AVX512, NN_ISA_NEON, NN_ISA_NEONDOT};
  nn_threadpool *pool2 = nn_threadpool_create(2);
  /* the plan logic with the plain-C microkernel (4 x 8, packers in C), on any machine */
  nn_kernels sk;
  nn_kernels_fill(&sk, NN_ISA_REF);
  sk.f32_gemm_ukernel = nn_f32_gemm_ukernel_4x8__scalar;
  sk.f32_gemm_mr = 4;
  sk.f32_gemm_nr = 8;
  g_level = "scalar";
  test_shifted(&sk, pool2);
  test_sum(&sk, NULL);
  test_strided(&sk, pool2);
  /* ... and with B read in place by the plain-C direct microkernel */
  sk.f32_gemm_ukernel_direct = nn_f32_gemm_direct_ukernel_4x8__scalar;
  sk.f32_gemm_ukernel_direct_a = nn_f32_gemm_direct_a_ukernel_3x8__scalar;
  sk.f32_gemm_direct_a_mr = 3;
  g_level = "scalar-direct";
  test_shifted(&sk, pool2);
  test_sum(&sk, NULL);
  test_strided(&sk, NULL);
  test_rows_all(&sk, pool2);
  for (size_t l = 0; l < sizeof levels / sizeof *levels; l++) {
    nn_kernels k;
    if (!(g_level = kt_level(levels[l], &k)) || !k.f32_gemm_ukernel) continue;
    test_shifted(&k, NULL);
    test_shifted(&k, pool2);
    test_sum(&k, NULL);
    test_sum(&k, pool2);
    test_strided(&k, NULL);
    test_strided(&k, pool2);
    test_dw_narrow(&k, NULL);
    test_dw_narrow(&k, pool2);
    test_rows_all(&k, l & 1 ? pool2 : NULL);
  }
  nn_threadpool_destroy(pool2);
  return kt_report("test_f32_conv");
}
