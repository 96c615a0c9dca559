/*
 * test_f32c_conv.c - the channel-last float32 convolution kernels of f32c_conv.h (the
 * level's kernels from nn_f32c_conv_for / nn_f32c_dw_for, and the scalar twins on every
 * level) against a direct convolution in double written here: |y - want| <= 1e-5 *
 * (sum |x * w| + |b| + |z|) + 1e-6 before the clamp (float FMA sums in another order),
 * over odd channel counts (around the 16 / 32 lanes), 1x1 to 7x7 kernels, strides,
 * dilations, padding, several images, with and without the fused residual z and with
 * Relu / Clip bounds; input, z and output end against guard pages. The driver builds
 * the indirection as the op does (per pixel; depthwise and in-row dense tiles with a
 * step). NaN inputs must come out NaN (the clamp keeps them).
 */
#include <math.h>

#include "kernel_test.h"
#include "kernels/dispatch.h"
#include "kernels/f32c_conv.h"

static const char *g_level = "?";
static size_t stepped;

typedef struct cv {
  size_t n, h, w, c, m, kh, kw, sy, sx, dy, dx, pt, pl, pb, pr, oh, ow;
  int dw, with_z;
  float lo, hi;
  size_t wino; /* > 0: Winograd F(2x2, 3x3) in blocks of this many tiles */
} cv;

/* The Winograd transforms conv_case uses (set per level). */
static nn_f32c_wino_in_fn g_win;
static nn_f32c_wino_out_fn g_wout;

static const float *tap(const cv *s, const float *x, const float *zbuf, size_t img, size_t oy,
                        size_t ox, size_t ky, size_t kx) {
  const long iy = (long)(oy * s->sy + ky * s->dy) - (long)s->pt;
  const long ix = (long)(ox * s->sx + kx * s->dx) - (long)s->pl;
  if (iy < 0 || ix < 0 || iy >= (long)s->h || ix >= (long)s->w) return zbuf;
  return x + ((img * s->h + (size_t)iy) * s->w + (size_t)ix) * s->c;
}

static void conv_case(nn_f32c_conv_fn conv, nn_f32c_dw_fn dwk, const char *what, cv s) {
  s.oh = (s.h + s.pt + s.pb - (s.kh - 1) * s.dy - 1) / s.sy + 1;
  s.ow = (s.w + s.pl + s.pr - (s.kw - 1) * s.dx - 1) / s.sx + 1;
  const size_t taps = s.kh * s.kw, wc = s.dw ? 1 : s.c, npix = s.n * s.oh * s.ow;
  kt_guard gx, gy, gz;
  float *x = kt_guard_rand(s.n * s.h * s.w * s.c, &gx);
  float *z = kt_guard_rand(npix * s.m, &gz);
  float *y = kt_guard_alloc(npix * s.m, &gy);
  float *w = malloc(s.m * wc * taps * sizeof *w), *b = malloc(s.m * sizeof *b);
  for (size_t i = 0; i < s.m * wc * taps; i++) w[i] = kt_frand();
  for (size_t j = 0; j < s.m; j++) b[j] = kt_frand();
  const size_t zlen = ((s.dw ? s.ow : 8) * s.sx + 1) * s.c + 16;
  float *zbuf = calloc(zlen, sizeof *zbuf);
  double *want = malloc(npix * s.m * sizeof *want), *mag = malloc(npix * s.m * sizeof *mag);
  for (size_t q = 0; q < npix; q++) {
    const size_t img = q / (s.oh * s.ow), oy = q / s.ow % s.oh, ox = q % s.ow;
    for (size_t j = 0; j < s.m; j++) {
      double acc = b[j], a = fabs(b[j]);
      for (size_t ci = 0; ci < wc; ci++)
        for (size_t t = 0; t < taps; t++) {
          const float *p = tap(&s, x, zbuf, img, oy, ox, t / s.kw, t % s.kw);
          const double v = (double)p[s.dw ? j : ci] * w[(j * wc + ci) * taps + t];
          acc += v;
          a += fabs(v);
        }
      if (s.with_z) acc += z[q * s.m + j], a += fabs(z[q * s.m + j]);
      want[q * s.m + j] = acc < s.lo ? s.lo : acc > s.hi ? s.hi : acc;
      mag[q * s.m + j] = a;
    }
  }
  for (size_t i = 0; i < npix * s.m; i++) y[i] = NAN;
  const void **ind = malloc(8 * taps * sizeof *ind + 8);
  const float *zp = s.with_z ? z : NULL;
  if (s.wino) { /* blocks of s.wino tiles; output channels in two groups past 32 */
    float *u = malloc(nn_f32c_wino_w_size(s.m, s.c) * sizeof *u);
    nn_f32c_wino_pack_w(s.m, s.c, w, u);
    const nn_f32c_wino p = {.n = s.n, .h = s.h, .w = s.w, .c = s.c, .m = s.m, .oh = s.oh,
                            .ow = s.ow, .pt = s.pt, .pl = s.pl, .tb = s.wino, .u = u, .bias = b,
                            .zero = zbuf, .lo = s.lo, .hi = s.hi, .gemm = conv, .in = g_win,
                            .out = g_wout};
    const size_t tiles = nn_f32c_wino_tiles(&p), split = s.m > 32 ? 32 : s.m;
    float *ws = malloc(nn_f32c_wino_ws_size(&p, 0, (s.m + 31) / 32 * 32) * sizeof *ws);
    for (size_t t0 = 0; t0 < tiles; t0 += s.wino) {
      const size_t nt = tiles - t0 < s.wino ? tiles - t0 : s.wino;
      nn_f32c_wino_block(&p, x, zp, y, t0, nt, 0, split, ws);
      if (split < s.m) nn_f32c_wino_block(&p, x, zp, y, t0, nt, split, s.m, ws);
    }
    free(ws);
    free(u);
  } else if (!s.dw) {
    float *wp = malloc(nn_f32c_pack_w_size(s.m, taps, s.c) * sizeof *wp);
    nn_f32c_pack_w(s.m, taps, s.c, w, wp);
    const size_t panels = (s.m + 31) / 32, pf = taps * s.c * 32;
    float *bp = calloc(panels * 32, sizeof *bp);
    memcpy(bp, b, s.m * sizeof *bp);
    size_t lo = (s.pl + s.sx - 1) / s.sx, hi;
    const long last = (long)s.w - 1 - (long)((s.kw - 1) * s.dx) + (long)s.pl;
    hi = last < 0 ? 0 : (size_t)last / s.sx + 1;
    if (hi > s.ow) hi = s.ow;
    for (size_t q0 = 0; q0 < npix; q0 += 8) {
      const size_t mr = npix - q0 < 8 ? npix - q0 : 8, ox0 = q0 % s.ow;
      size_t step = 0;
      if (mr == 8 && ox0 + 8 <= s.ow && ox0 >= lo && ox0 + 8 <= hi) {
        const size_t img = q0 / (s.oh * s.ow), oy = q0 / s.ow % s.oh;
        for (size_t t = 0; t < taps; t++) ind[t] = tap(&s, x, zbuf, img, oy, ox0, t / s.kw, t % s.kw);
        step = s.sx * s.c;
        stepped++;
      } else {
        for (size_t r = 0; r < 8; r++) {
          const size_t q = q0 + (r < mr ? r : 0);
          const size_t img = q / (s.oh * s.ow), oy = q / s.ow % s.oh, ox = q % s.ow;
          for (size_t t = 0; t < taps; t++)
            ind[t * 8 + r] = tap(&s, x, zbuf, img, oy, ox, t / s.kw, t % s.kw);
        }
      }
      for (size_t pn = 0; pn < panels; pn++) {
        const size_t nc = s.m - pn * 32 < 32 ? s.m - pn * 32 : 32;
        conv(mr, nc, taps, s.c, ind, step, wp + pn * pf, bp + pn * 32,
             zp ? zp + q0 * s.m + pn * 32 : NULL, s.lo, s.hi, y + q0 * s.m + pn * 32, s.m);
      }
    }
    free(wp);
    free(bp);
  } else {
    float *wt = malloc(taps * s.c * sizeof *wt);
    for (size_t ch = 0; ch < s.c; ch++)
      for (size_t t = 0; t < taps; t++) wt[t * s.c + ch] = w[ch * taps + t];
    size_t lo = (s.pl + s.sx - 1) / s.sx, hi;
    const long last = (long)s.w - 1 - (long)((s.kw - 1) * s.dx) + (long)s.pl;
    hi = last < 0 ? 0 : (size_t)last / s.sx + 1;
    if (hi > s.ow) hi = s.ow;
    if (lo > hi) lo = hi;
    for (size_t row = 0; row < s.n * s.oh; row++)
      for (size_t ox = 0; ox < s.ow;) {
        const size_t np = ox >= lo && ox < hi ? hi - ox : 1;
        for (size_t t = 0; t < taps; t++)
          ind[t] = tap(&s, x, zbuf, row / s.oh, row % s.oh, ox, t / s.kw, t % s.kw);
        dwk(np, s.c, taps, ind, s.sx * s.c, wt, s.c, b, zp ? zp + (row * s.ow + ox) * s.m : NULL,
            s.lo, s.hi, y + (row * s.ow + ox) * s.m, s.m);
        ox += np;
      }
    free(wt);
  }
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < npix * s.m; i++) {
    const double tol = 1e-5 * mag[i] + 1e-6;
    if (!(fabs((double)y[i] - want[i]) <= tol) && !bad++) first = i;
  }
  KT_CHECK(!bad,
           "%s %s n=%zu %zux%zu c=%zu m=%zu dw=%d k=%zux%zu s=%zu,%zu d=%zu,%zu pads=%zu,%zu,%zu,%zu "
           "z=%d [%g,%g] wino=%zu: %zu of %zu off (first %zu: %.7g vs %.7g)",
           g_level, what, s.n, s.h, s.w, s.c, s.m, s.dw, s.kh, s.kw, s.sy, s.sx, s.dy, s.dx, s.pt,
           s.pl, s.pb, s.pr, s.with_z, (double)s.lo, (double)s.hi, s.wino, bad, npix * s.m, first,
           (double)y[first], want[first]);
  free(ind);
  free(w);
  free(b);
  free(zbuf);
  free(want);
  free(mag);
  kt_guard_free(&gx);
  kt_guard_free(&gy);
  kt_guard_free(&gz);
}

/* A NaN input reaches the output through the epilogue (the clamp keeps it). */
static void nan_case(nn_f32c_conv_fn conv, nn_f32c_dw_fn dwk, const char *what) {
  float x[32], w[32 * 32] = {0}, b[32] = {0}, y[32], zb[48] = {0};
  for (int i = 0; i < 32; i++) x[i] = 1.0f;
  x[3] = NAN;
  for (int i = 0; i < 32 * 32; i++) w[i] = 0.5f;
  const void *ind[8] = {x, x, x, x, x, x, x, x};
  conv(1, 32, 1, 32, ind, 0, w, b, NULL, 0.0f, 6.0f, y, 32);
  KT_CHECK(isnan(y[0]) && isnan(y[31]), "%s %s dense: NaN lost (%g)", g_level, what, (double)y[0]);
  const void *dind[1] = {x};
  dwk(1, 32, 1, dind, 32, w, 32, b, NULL, 0.0f, 6.0f, y, 32);
  KT_CHECK(isnan(y[3]) && y[2] == 0.5f, "%s %s dw: NaN lane %g, other %g", g_level, what,
           (double)y[3], (double)y[2]);
  (void)zb;
}

static void test_level(nn_f32c_conv_fn conv, nn_f32c_dw_fn dwk, const char *what) {
  static const size_t cs[] = {1, 3, 7, 15, 16, 17, 31, 32, 33, 48, 96};
  static const size_t ms[] = {1, 5, 16, 17, 32, 33, 64, 70};
  size_t v = 0;
  for (size_t a = 0; a < sizeof cs / sizeof *cs; a++) {
    for (size_t bi = 0; bi < sizeof ms / sizeof *ms; bi++, v++) {
      const size_t kk = 1 + 2 * (v % 3);
      cv s = {.n = 1 + v % 2, .h = 5 + v % 9, .w = 3 + v % 11, .c = cs[a], .m = ms[bi],
              .kh = kk, .kw = v % 4 == 1 ? 1 : kk, .sy = 1 + v % 2, .sx = 1 + (v / 2) % 2,
              .dy = 1 + (v % 5 == 0), .dx = 1, .pt = v % 3 ? kk / 2 : 0, .pl = kk / 2,
              .pb = kk / 2, .pr = v % 4 ? kk / 2 : 0, .with_z = (int)(v % 2),
              .lo = v % 3 == 0 ? -INFINITY : 0.0f, .hi = v % 3 == 2 ? 0.5f : INFINITY};
      if (s.h + s.pt + s.pb < (s.kh - 1) * s.dy + 1) s.h = (s.kh - 1) * s.dy + 1;
      if (s.w + s.pl + s.pr < (s.kw - 1) * s.dx + 1) s.w = (s.kw - 1) * s.dx + 1;
      conv_case(conv, dwk, what, s);
    }
    for (size_t d = 0; d < 4; d++, v++) {
      const size_t kk = d == 3 ? 5 : 3;
      cv s = {.n = 1 + d % 2, .h = 4 + 3 * d, .w = 1 + 9 * d + v % 5, .c = cs[a], .m = cs[a],
              .dw = 1, .kh = kk, .kw = kk, .sy = 1 + d % 2, .sx = 1 + d % 2, .dy = 1,
              .dx = 1 + (d == 2), .pt = 1, .pl = d == 1 ? 0 : kk / 2, .pb = 1, .pr = kk / 2,
              .with_z = (int)(d % 2), .lo = 0.0f, .hi = d == 2 ? 6.0f : INFINITY};
      if (s.w + s.pl + s.pr < (s.kw - 1) * s.dx + 1) s.w = (s.kw - 1) * s.dx + 1;
      if (s.h + s.pt + s.pb < (s.kh - 1) * s.dy + 1) s.h = (s.kh - 1) * s.dy + 1;
      conv_case(conv, dwk, what, s);
    }
  }
  KT_CHECK(stepped > 0, "%s %s: no dense tile ran with a step", g_level, what);
  /* MobileNetV2-like layers: a pointwise 96 -> 576 at 14x14, a depthwise 3x3 at 28x28 */
  conv_case(conv, dwk, what, (cv){.n = 1, .h = 14, .w = 14, .c = 96, .m = 576, .kh = 1, .kw = 1, .sy = 1, .sx = 1, .dy = 1, .dx = 1, .lo = 0.0f, .hi = 6.0f});
  conv_case(conv, dwk, what, (cv){.n = 1, .h = 28, .w = 28, .c = 192, .m = 192, .dw = 1, .kh = 3, .kw = 3, .sy = 1, .sx = 1, .dy = 1, .dx = 1, .pt = 1, .pl = 1, .pb = 1, .pr = 1, .lo = 0.0f, .hi = 6.0f});
  nan_case(conv, dwk, what);
  /* Winograd F(2x2, 3x3): odd sizes (partial tiles at the right and bottom), pads 0-2,
   * channels around the lanes, blocks of 8 / 16 / 64 tiles, two channel groups */
  static const size_t wc[] = {8, 13, 16, 17, 33, 64};
  static const size_t wm[] = {8, 17, 32, 45, 70};
  for (size_t a = 0; a < sizeof wc / sizeof *wc; a++)
    for (size_t bi = 0; bi < sizeof wm / sizeof *wm; bi++, v++) {
      cv s = {.n = 1 + v % 2, .h = 3 + v % 8, .w = 2 + v % 9, .c = wc[a], .m = wm[bi], .kh = 3,
              .kw = 3, .sy = 1, .sx = 1, .dy = 1, .dx = 1, .pt = v % 3, .pl = (v + 1) % 3,
              .pb = v % 2 + 1, .pr = (v / 2) % 3, .with_z = (int)(v % 2),
              .lo = v % 3 == 0 ? -INFINITY : 0.0f, .hi = v % 3 == 2 ? 0.5f : INFINITY,
              .wino = v % 3 == 0 ? 8 : v % 3 == 1 ? 16 : 64};
      if (s.h + s.pt + s.pb < 3) s.h = 3;
      if (s.w + s.pl + s.pr < 3) s.w = 3;
      conv_case(conv, dwk, what, s);
    }
  conv_case(conv, dwk, what, (cv){.n = 1, .h = 28, .w = 28, .c = 128, .m = 128, .kh = 3, .kw = 3, .sy = 1, .sx = 1, .dy = 1, .dx = 1, .pt = 1, .pl = 1, .pb = 1, .pr = 1, .with_z = 1, .lo = 0.0f, .hi = INFINITY, .wino = 32});
}

/* The level's Winograd transforms equal the scalar twins bit for bit (the same sums in
 * the same order), over channel tails, with and without outputs outside the image. */
static void wino_exact(nn_f32c_wino_in_fn in, nn_f32c_wino_out_fn out) {
  for (size_t c = 1; c <= 40; c++) {
    float *px = malloc(16 * c * sizeof *px), *va = malloc(16 * c * sizeof *va);
    float *vb = malloc(16 * c * sizeof *vb), *zz = malloc(4 * c * sizeof *zz), *bias = malloc(c * 4);
    float *ya = malloc(4 * c * sizeof *ya), *yb = malloc(4 * c * sizeof *yb);
    const float *p[16], *zp[4];
    float *pa[4], *pb[4];
    for (size_t i = 0; i < 16 * c; i++) px[i] = kt_frand();
    for (size_t i = 0; i < 4 * c; i++) zz[i] = kt_frand(), ya[i] = yb[i] = -7.0f;
    for (size_t i = 0; i < c; i++) bias[i] = kt_frand();
    for (size_t i = 0; i < 16; i++) p[i] = px + i * c;
    for (size_t k = 0; k < 4; k++) {
      zp[k] = zz + k * c;
      pa[k] = k == c % 4 ? NULL : ya + k * c;
      pb[k] = k == c % 4 ? NULL : yb + k * c;
    }
    nn_f32c_wino_in__scalar(c, p, va, c);
    in(c, p, vb, c);
    KT_CHECK(!memcmp(va, vb, 16 * c * sizeof *va), "%s wino_in c=%zu differs from the scalar twin", g_level, c);
    nn_f32c_wino_out__scalar(c, px, c, bias, c % 2 ? zp : NULL, 0.0f, 1.5f, pa);
    out(c, px, c, bias, c % 2 ? zp : NULL, 0.0f, 1.5f, pb);
    KT_CHECK(!memcmp(ya, yb, 4 * c * sizeof *ya), "%s wino_out c=%zu differs from the scalar twin", g_level, c);
    free(px), free(va), free(vb), free(zz), free(bias), free(ya), free(yb);
  }
}

int main(void) {
  for (size_t l = 0; l < KT_NLEVELS; l++) {
    nn_kernels k;
    if (!(g_level = kt_level(kt_levels[l], &k))) continue;
    stepped = 0;
    g_win = nn_f32c_wino_in__scalar;
    g_wout = nn_f32c_wino_out__scalar;
    test_level(nn_f32c_conv_8x32__scalar, nn_f32c_dw__scalar, "scalar");
    g_win = nn_f32c_wino_in_for(&k);
    g_wout = nn_f32c_wino_out_for(&k);
    wino_exact(g_win, g_wout);
    if (nn_f32c_conv_for(&k)) {
      stepped = 0;
      test_level(nn_f32c_conv_for(&k), nn_f32c_dw_for(&k), "fast");
    }
  }
  /* which convolutions run as Winograd, and NNOPT_WINOGRAD=0 turning it off */
  KT_CHECK(nn_f32c_wino_fits(3, 3, 1, 1, 1, 1, 1, 1, 64, 64), "3x3/1 pads 1 not Winograd");
  KT_CHECK(!nn_f32c_wino_fits(3, 3, 2, 2, 1, 1, 1, 1, 64, 64), "3x3/2 taken as Winograd");
  KT_CHECK(!nn_f32c_wino_fits(3, 3, 1, 1, 2, 2, 1, 1, 64, 64), "dilated 3x3 taken as Winograd");
  KT_CHECK(!nn_f32c_wino_fits(3, 3, 1, 1, 1, 1, 3, 1, 64, 64), "pad 3 taken as Winograd");
  KT_CHECK(!nn_f32c_wino_fits(3, 3, 1, 1, 1, 1, 1, 1, 4, 64), "4 channels taken as Winograd");
  KT_CHECK(!nn_f32c_wino_fits(1, 1, 1, 1, 1, 1, 0, 0, 64, 64), "1x1 taken as Winograd");
  setenv("NNOPT_WINOGRAD", "0", 1);
  KT_CHECK(!nn_f32c_wino_fits(3, 3, 1, 1, 1, 1, 1, 1, 64, 64), "NNOPT_WINOGRAD=0 ignored");
  unsetenv("NNOPT_WINOGRAD");
  return kt_report("test_f32c_conv");
}
