/*
 * test_q8c_conv.c - the channel-last 8-bit convolution kernels of q8c_conv.h (the
 * level's kernels from nn_q8c_conv_for / nn_q8c_dw_for, and the scalar twins on every
 * level) against a direct convolution written here (int64 sums of (x - x_zp) * w, then
 * nn_requantize_one), exactly, over odd shapes: channel counts off the 4-byte quads and
 * the 32 / 64-channel tiles, 1x1 to 7x7 kernels, strides, dilations, padding, several
 * images, input channels padded to a multiple of 4 (the stem), output zero points and
 * clamps. The input and the output end against guard pages (the k % 4 tail and the
 * masked channel tails must not touch the bytes past them). The driver builds the
 * indirection as the op does: per pixel, and for the depthwise kernel whole interior row
 * runs advancing by stride x channels.
 */
#include "kernel_test.h"
#include "kernels/dispatch.h"
#include "kernels/q8c_conv.h"
#include "kernels/ref/requant.h"

static const char *g_level = "?";
static size_t stepped; /* dense tiles run with a step (the sweep must reach some) */

typedef struct cv {
  size_t n, h, w, c, cp, m, kh, kw, sy, sx, dy, dx, pt, pl, pb, pr, oh, ow;
  int dw;
  uint8_t xz;
  nn_q8c_params p;
} cv;

static uint8_t *bytes_at_guard(size_t n, kt_guard *g) {
  return (uint8_t *)kt_guard_alloc((n + 3) / 4, g) + ((n + 3) / 4 * 4 - n);
}

/* the pointer of tap (ky, kx) of output pixel (img, oy, ox), or zbuf */
static const uint8_t *tap(const cv *s, const uint8_t *x, const uint8_t *zbuf, size_t img,
                          size_t oy, size_t ox, size_t ky, size_t kx) {
  const long iy = (long)(oy * s->sy + ky * s->dy) - (long)s->pt;
  const long ix = (long)(ox * s->sx + kx * s->dx) - (long)s->pl;
  if (iy < 0 || ix < 0 || iy >= (long)s->h || ix >= (long)s->w) return zbuf;
  return x + ((img * s->h + (size_t)iy) * s->w + (size_t)ix) * s->cp;
}

static void conv_case(const nn_kernels *k, nn_q8c_conv_fn conv, nn_q8c_dw_fn dwk, const char *what,
                      cv s) {
  s.oh = (s.h + s.pt + s.pb - (s.kh - 1) * s.dy - 1) / s.sy + 1;
  s.ow = (s.w + s.pl + s.pr - (s.kw - 1) * s.dx - 1) / s.sx + 1;
  const size_t taps = s.kh * s.kw, wc = s.dw ? 1 : s.c, npix = s.n * s.oh * s.ow;
  kt_guard gx, gy;
  uint8_t *x = bytes_at_guard(s.n * s.h * s.w * s.cp, &gx);
  for (size_t i = 0; i < s.n * s.h * s.w * s.cp; i++) x[i] = (uint8_t)(kt_frand() * 128.0f + 128.0f);
  uint8_t *y = bytes_at_guard(npix * s.m, &gy);
  int8_t *w = malloc(s.m * wc * taps);
  for (size_t i = 0; i < s.m * wc * taps; i++) w[i] = (int8_t)(kt_frand() * 127.0f);
  int32_t *b = malloc(s.m * sizeof *b), *bias = malloc(s.m * sizeof *bias);
  float *sc = malloc(s.m * sizeof *sc);
  for (size_t j = 0; j < s.m; j++) {
    b[j] = (int32_t)(kt_frand() * 5000.0f);
    sc[j] = 0.0005f * (float)(j % 7 + 1) * (j % 5 ? 1.0f : 3.0f);
    int32_t sum = 0;
    for (size_t i = 0; i < wc * taps; i++) sum += w[j * wc * taps + i];
    bias[j] = b[j] - (int32_t)s.xz * sum;
  }
  const size_t zlen = ((s.dw ? s.ow : 8) * s.sx + 1) * s.cp + 64;
  uint8_t *zbuf = malloc(zlen);
  memset(zbuf, s.xz, zlen);
  /* the oracle */
  uint8_t *want = malloc(npix * s.m);
  for (size_t q = 0; q < npix; q++) {
    const size_t img = q / (s.oh * s.ow), oy = q / s.ow % s.oh, ox = q % s.ow;
    for (size_t j = 0; j < s.m; j++) {
      int64_t acc = b[j];
      for (size_t ci = 0; ci < wc; ci++)
        for (size_t t = 0; t < taps; t++) {
          const uint8_t *p = tap(&s, x, zbuf, img, oy, ox, t / s.kw, t % s.kw);
          const int v = p == zbuf ? s.xz : p[s.dw ? j : ci];
          acc += (int64_t)(v - s.xz) * w[(j * wc + ci) * taps + t];
        }
      want[q * s.m + j] = (uint8_t)nn_requantize_one((int32_t)acc, sc[j], s.p.out_zp, s.p.qmin, s.p.qmax);
    }
  }
  memset(y, 0xA5, npix * s.m);
  const void **ind = malloc(8 * taps * sizeof *ind + 8);
  if (!s.dw) {
    int8_t *wp = malloc(nn_q8c_pack_w_size(s.m, taps, s.cp));
    nn_q8c_pack_w(s.m, taps, s.cp, wc, w, wp);
    const size_t panels = (s.m + 31) / 32;
    int32_t *bp = calloc(panels * 32, sizeof *bp);
    float *sp = calloc(panels * 32, sizeof *sp);
    memcpy(bp, bias, s.m * sizeof *bp);
    memcpy(sp, sc, s.m * sizeof *sp);
    const size_t pbytes = nn_q8c_pack_w_size(32, taps, s.cp);
    /* interior columns (the windows inside [0, w)): tiles there run with a step */
    size_t lo = (s.pl + s.sx - 1) / s.sx, hi = 0;
    const long last = (long)s.w - 1 - (long)((s.kw - 1) * s.dx) + (long)s.pl;
    hi = last < 0 ? 0 : (size_t)last / s.sx + 1;
    if (hi > s.ow) hi = s.ow;
    for (size_t q0 = 0; q0 < npix; q0 += 8) {
      const size_t mr = npix - q0 < 8 ? npix - q0 : 8, ox0 = q0 % s.ow;
      if (mr == 8 && ox0 + 8 <= s.ow && ox0 >= lo && ox0 + 8 <= hi) {
        const size_t img = q0 / (s.oh * s.ow), oy = q0 / s.ow % s.oh;
        for (size_t t = 0; t < taps; t++) ind[t] = tap(&s, x, zbuf, img, oy, ox0, t / s.kw, t % s.kw);
        for (size_t pn = 0; pn < panels; pn++) {
          const size_t nc = s.m - pn * 32 < 32 ? s.m - pn * 32 : 32;
          conv(8, nc, taps, s.cp, ind, s.sx * s.cp, wp + pn * pbytes, bp + pn * 32, sp + pn * 32,
               &s.p, y + q0 * s.m + pn * 32, s.m);
        }
        stepped++;
        continue;
      }
      for (size_t r = 0; r < 8; r++) {
        const size_t q = q0 + (r < mr ? r : 0);
        const size_t img = q / (s.oh * s.ow), oy = q / s.ow % s.oh, ox = q % s.ow;
        for (size_t t = 0; t < taps; t++) ind[t * 8 + r] = tap(&s, x, zbuf, img, oy, ox, t / s.kw, t % s.kw);
      }
      for (size_t pn = 0; pn < panels; pn++) {
        const size_t nc = s.m - pn * 32 < 32 ? s.m - pn * 32 : 32;
        conv(mr, nc, taps, s.cp, ind, 0, wp + pn * pbytes, bp + pn * 32, sp + pn * 32, &s.p,
             y + q0 * s.m + pn * 32, s.m);
      }
    }
    free(wp);
    free(bp);
    free(sp);
  } else {
    int8_t *wp = malloc(nn_q8c_pack_dw_size(s.c, taps));
    int32_t *bp = malloc(nn_q8c_dw_terms(s.c) * sizeof *bp);
    float *sp = malloc(nn_q8c_dw_terms(s.c) * sizeof *sp);
    nn_q8c_pack_dw(s.c, taps, w, bias, sc, wp, bp, sp);
    /* interior columns: the window inside [0, w) */
    size_t lo = (s.pl + s.sx - 1) / s.sx, hi = 0;
    const long last = (long)s.w - 1 - (long)((s.kw - 1) * s.dx) + (long)s.pl;
    hi = last < 0 ? 0 : (size_t)last / s.sx + 1;
    if (hi > s.ow) hi = s.ow;
    if (lo > hi) lo = hi;
    for (size_t row = 0; row < s.n * s.oh; row++)
      for (size_t ox = 0; ox < s.ow;) {
        const size_t np = ox >= lo && ox < hi ? hi - ox : 1;
        for (size_t t = 0; t < taps; t++)
          ind[t] = tap(&s, x, zbuf, row / s.oh, row % s.oh, ox, t / s.kw, t % s.kw);
        dwk(np, s.c, taps, ind, s.sx * s.cp, wp, bp, sp, &s.p, y + (row * s.ow + ox) * s.m, s.m);
        ox += np;
      }
    free(wp);
    free(bp);
    free(sp);
  }
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < npix * s.m; i++)
    if (y[i] != want[i] && !bad++) first = i;
  KT_CHECK(!bad,
           "%s %s n=%zu %zux%zu c=%zu(%zu) m=%zu k=%zux%zu s=%zu,%zu d=%zu,%zu pads=%zu,%zu,%zu,%zu "
           "xz=%u zp=%d [%d,%d]: %zu of %zu differ (first %zu: %u vs %u)",
           g_level, what, s.n, s.h, s.w, s.c, s.cp, s.m, s.kh, s.kw, s.sy, s.sx, s.dy, s.dx, s.pt,
           s.pl, s.pb, s.pr, s.xz, s.p.out_zp, s.p.qmin, s.p.qmax, bad, npix * s.m, first,
           y[first], want[first]);
  (void)k;
  free(ind);
  free(w);
  free(b);
  free(bias);
  free(sc);
  free(zbuf);
  free(want);
  kt_guard_free(&gx);
  kt_guard_free(&gy);
}

static void test_level(const nn_kernels *k, nn_q8c_conv_fn conv, nn_q8c_dw_fn dwk, const char *what) {
  static const size_t cs[] = {1, 3, 4, 8, 13, 16, 24, 31, 32, 33, 64, 65, 96, 144};
  static const size_t ms[] = {1, 10, 16, 20, 32, 33, 64, 70};
  size_t v = 0;
  for (size_t a = 0; a < sizeof cs / sizeof *cs; a++) {
    for (size_t b = 0; b < sizeof ms / sizeof *ms; b++, v++) {
      const size_t kk = 1 + 2 * (v % 3); /* 1, 3, 5 */
      cv s = {.n = 1 + v % 2, .h = 5 + v % 9, .w = 3 + v % 11, .c = cs[a], .m = ms[b],
              .kh = kk, .kw = v % 4 == 1 ? 1 : kk, .sy = 1 + v % 2, .sx = 1 + (v / 2) % 2,
              .dy = 1 + (v % 5 == 0), .dx = 1, .pt = v % 3 ? kk / 2 : 0, .pl = kk / 2,
              .pb = kk / 2, .pr = v % 4 ? kk / 2 : 0, .xz = (uint8_t)(v * 37),
              .p = {(int32_t)(v * 53 % 256), 0, 255}};
      if (v % 7 == 3) s.p.qmin = 10, s.p.qmax = 200; /* a clamped range: the generic store */
      if (s.h + s.pt + s.pb < (s.kh - 1) * s.dy + 1) s.h = (s.kh - 1) * s.dy + 1;
      if (s.w + s.pl + s.pr < (s.kw - 1) * s.dx + 1) s.w = (s.kw - 1) * s.dx + 1;
      s.cp = s.c % 4 && v % 2 ? (s.c + 3) / 4 * 4 : s.c; /* padded stem input */
      conv_case(k, conv, dwk, what, s);
    }
    /* depthwise over the same channel counts: 3x3 (the unrolled path) and others */
    for (size_t d = 0; d < 4; d++, v++) {
      const size_t kk = d == 3 ? 5 : 3;
      cv s = {.n = 1 + d % 2, .h = 4 + 3 * d, .w = 1 + 7 * d + v % 5, .c = cs[a], .m = cs[a],
              .dw = 1, .kh = kk, .kw = kk, .sy = 1 + d % 2, .sx = 1 + d % 2, .dy = 1,
              .dx = 1 + (d == 2), .pt = 1, .pl = d == 1 ? 0 : kk / 2, .pb = 1, .pr = kk / 2,
              .xz = (uint8_t)(v * 29), .p = {(int32_t)(v * 71 % 256), 0, 255}};
      if (d == 1) s.p.qmin = 3, s.p.qmax = 250;
      if (s.w + s.pl + s.pr < (s.kw - 1) * s.dx + 1) s.w = (s.kw - 1) * s.dx + 1;
      if (s.h + s.pt + s.pb < (s.kh - 1) * s.dy + 1) s.h = (s.kh - 1) * s.dy + 1;
      s.cp = s.c;
      conv_case(k, conv, dwk, what, s);
    }
  }
  KT_CHECK(stepped > 0, "%s %s: no dense tile ran with a step", g_level, what);
  /* the shapes of the networks: MobileNetV2's stem (3 channels padded to 4), a pointwise
   * and a depthwise layer; ResNet-18's 7x7 stride-2 stem and a 3x3 layer */
  conv_case(k, conv, dwk, what, (cv){.n = 1, .h = 32, .w = 32, .c = 3, .cp = 4, .m = 32, .kh = 3, .kw = 3, .sy = 2, .sx = 2, .dy = 1, .dx = 1, .pt = 1, .pl = 1, .pb = 1, .pr = 1, .xz = 120, .p = {0, 0, 255}});
  conv_case(k, conv, dwk, what, (cv){.n = 1, .h = 14, .w = 14, .c = 96, .cp = 96, .m = 576, .kh = 1, .kw = 1, .sy = 1, .sx = 1, .dy = 1, .dx = 1, .xz = 131, .p = {7, 0, 255}});
  conv_case(k, conv, dwk, what, (cv){.n = 1, .h = 28, .w = 28, .c = 192, .cp = 192, .m = 192, .dw = 1, .kh = 3, .kw = 3, .sy = 1, .sx = 1, .dy = 1, .dx = 1, .pt = 1, .pl = 1, .pb = 1, .pr = 1, .xz = 0, .p = {0, 0, 255}});
  conv_case(k, conv, dwk, what, (cv){.n = 1, .h = 40, .w = 40, .c = 3, .cp = 4, .m = 64, .kh = 7, .kw = 7, .sy = 2, .sx = 2, .dy = 1, .dx = 1, .pt = 3, .pl = 3, .pb = 3, .pr = 3, .xz = 101, .p = {0, 0, 255}});
  conv_case(k, conv, dwk, what, (cv){.n = 1, .h = 14, .w = 14, .c = 128, .cp = 128, .m = 128, .kh = 3, .kw = 3, .sy = 1, .sx = 1, .dy = 1, .dx = 1, .pt = 1, .pl = 1, .pb = 1, .pr = 1, .xz = 3, .p = {0, 0, 255}});
}

int main(void) {
  for (size_t l = 0; l < KT_NLEVELS; l++) {
    nn_kernels k;
    if (!(g_level = kt_level(kt_levels[l], &k))) continue;
    test_level(&k, nn_q8c_conv_8x32__scalar, nn_q8c_dw__scalar, "scalar");
    if (nn_q8c_conv_for(&k)) /* a level may have the dense kernel only (AVX2) */
      test_level(&k, nn_q8c_conv_for(&k),
                 nn_q8c_dw_for(&k) ? nn_q8c_dw_for(&k) : nn_q8c_dw__scalar, "fast");
  }
  return kt_report("test_q8c_conv");
}
