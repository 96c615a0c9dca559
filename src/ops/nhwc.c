/*
 * nhwc.c - ops on channel-last (NHWC) tensors, which only the runtime's own layout pass
 * (src/passes/nhwc.c) creates, in domain "com.nnopt":
 *   QLinearConvNhwc: QLinearConv's inputs and attributes (2-D, group 1 or depthwise),
 *     x [N, H, W, C] uint8, constant int8 weights [M, C / group, kh, kw] with zero
 *     points 0, y [N, OH, OW, M] uint8; the kernels of src/kernels/q8c_conv.h.
 *   ConvNhwc: Conv / com.microsoft FusedConv of float32 NHWC tensors (residual Z,
 *     Relu / Clip), the kernels of src/kernels/f32c_conv.h; 3x3 convolutions of stride
 *     1 as Winograd F(2x2, 3x3) where the fast dense tile exists (nn_f32c_wino_fits).
 *   MaxPoolNhwc: MaxPool (2-D, no indices, no ceil_mode) of uint8 or float32 [N, H, W, C].
 *   QGlobalAvgPoolNhwc: DequantizeLinear -> GlobalAveragePool -> QuantizeLinear of such a
 *     tensor as one integer pass (a classifier head); GlobalAvgPoolNhwc the float one.
 *   ToNhwc / FromNhwc: the layout changes at the edges of a channel-last chain (8-bit
 *     or float32; ToNhwc may quantize a float image on the way).
 * The 8-bit results equal QLinearConv / MaxPool on the NCHW tensors exactly (same integer
 * sums, same requantization), which the quant tests check on whole models; the float
 * ones agree within rounding (the peer tests against ONNX Runtime).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#elif defined(__ARM_NEON)
#include <arm_neon.h>
#endif

#include "kernels/dispatch.h"
#include "kernels/f32c_conv.h"
#include "kernels/q8c_conv.h"
#include "kernels/ref/requant.h"
#include "ops/op.h"
#include "runtime/session.h"
#include "runtime/threadpool.h"

#define Q8C_TRY(x)                 \
  do {                             \
    const nn_status q8c_st_ = (x); \
    if (q8c_st_) return q8c_st_;   \
  } while (0)

#define Q8C_MAX_TAPS 64
#define Q8C_TILE_CHUNK 16 /* tiles of NN_Q8C_MR pixels per dense task */

typedef struct nhwc_geom {
  int64_t n, h, w, c, m, oh, ow, group;
  int64_t kh, kw, sy, sx, dy, dx, pt, pl;
} nhwc_geom;

/* 2-D geometry from the attributes; pads must be explicit (the pass keeps auto_pad
 * models planar). */
static nn_status geom_make(nn_op_ctx *ctx, const nn_value *x, const int64_t *k, int64_t m,
                           nhwc_geom *g) {
  const nn_node *nd = ctx->node;
  if (x->ndim != 4)
    return nn_op_error(ctx, NN_ERR_INVALID, "input 'x' has rank %d, expected 4 (NHWC)", x->ndim);
  memset(g, 0, sizeof *g);
  g->n = x->dims[0];
  g->h = x->dims[1];
  g->w = x->dims[2];
  g->c = x->dims[3];
  g->m = m;
  g->kh = k[0];
  g->kw = k[1];
  const int64_t *st, *dl, *pd;
  const int nst = nn_attr_ints(nd, "strides", &st), ndl = nn_attr_ints(nd, "dilations", &dl);
  const int npd = nn_attr_ints(nd, "pads", &pd);
  if ((nst >= 0 && nst != 2) || (ndl >= 0 && ndl != 2) || (npd >= 0 && npd != 4))
    return nn_op_error(ctx, NN_ERR_INVALID, "strides, dilations and pads must be 2-D");
  if (strcmp(nn_attr_string(nd, "auto_pad", "NOTSET"), "NOTSET"))
    return nn_op_error(ctx, NN_ERR_INVALID, "attribute 'auto_pad' is not supported here");
  g->sy = nst >= 0 ? st[0] : 1;
  g->sx = nst >= 0 ? st[1] : 1;
  g->dy = ndl >= 0 ? dl[0] : 1;
  g->dx = ndl >= 0 ? dl[1] : 1;
  g->pt = npd >= 0 ? pd[0] : 0;
  g->pl = npd >= 0 ? pd[1] : 0;
  const int64_t pb = npd >= 0 ? pd[2] : 0, pr = npd >= 0 ? pd[3] : 0;
  if (g->kh < 1 || g->kw < 1 || g->sy < 1 || g->sx < 1 || g->dy < 1 || g->dx < 1 || g->pt < 0 ||
      g->pl < 0 || pb < 0 || pr < 0 || g->n < 1 || g->h < 1 || g->w < 1 || g->c < 1)
    return nn_op_error(ctx, NN_ERR_INVALID, "bad kernel, stride, dilation, padding or shape");
  const int64_t ey = (g->kh - 1) * g->dy + 1, ex = (g->kw - 1) * g->dx + 1;
  if (g->h + g->pt + pb < ey || g->w + g->pl + pr < ex)
    return nn_op_error(ctx, NN_ERR_INVALID, "kernel extent exceeds the padded input");
  g->oh = (g->h + g->pt + pb - ey) / g->sy + 1;
  g->ow = (g->w + g->pl + pr - ex) / g->sx + 1;
  return NN_OK;
}

/* ============================================================ QLinearConvNhwc */

/* A value fixed before running (an initializer or folded): packed once at prepare. A
 * graph input's buffer exists at prepare too, but holds nothing yet. */
static int known_const(const nn_value *v) { return v && v->data && (v->flags & NN_V_CONST); }

typedef struct q8c_state {
  nhwc_geom g;
  int dw;
  nn_q8c_conv_fn conv;
  nn_q8c_dw_fn dwk;
  int8_t *w;        /* packed weights */
  /* depthwise, stride 1, c = 16 or 32: interior runs go as 64 / c pixels per 64-byte
   * vector (adjacent pixels are adjacent in memory), weights and terms repeated */
  size_t group_px;
  int8_t *wg;
  int32_t *bg;
  float *sg;
  int32_t *bias;    /* zero point folded (panels of 32 / depthwise order) */
  float *scale;
  uint8_t *zbuf;    /* the input zero point's byte: a padding tap's channels, long enough
                     * for a row of taps advancing by stride x channels (depthwise: the
                     * output row; dense: a tile) */
  int pointwise;    /* 1x1, stride 1, no padding: pixel q reads x + q * c */
  int64_t ox_lo, ox_hi; /* output columns whose windows are inside the input's columns */
  nn_q8c_params p;
  size_t threads, ws_stride, panel_bytes; /* ws_stride: bytes of a thread's workspace */
  /* float32 (ConvNhwc): es = 4 and these instead of the 8-bit kernels and terms */
  size_t es;         /* bytes per element: 1 or 4 */
  nn_f32c_conv_fn fconv;
  nn_f32c_dw_fn fdw;
  float *fw, *fbias; /* packed weights; bias (panels of 32 / rounded up to 16) */
  float lo, hi;      /* activation bounds */
  nn_f32c_wino wino; /* 3x3 of stride 1: Winograd F(2x2, 3x3) when wino.u is set (= fw) */
} q8c_state;

static void q8c_release(void *s) {
  q8c_state *st = s;
  if (!st) return;
  free(st->fw);
  free(st->fbias);
  free(st->w);
  free(st->wg);
  free(st->bg);
  free(st->sg);
  free(st->bias);
  free(st->scale);
  free(st->zbuf);
  free(st);
}

/* Geometry of a channel-last convolution of x by the weight w (input 'wn'): group 1 or
 * depthwise, at most Q8C_MAX_TAPS taps; with padded_ok, a group-1 x may carry the
 * weight's c % 4 != 0 channels padded to a multiple of 4 (ToNhwc's channels). */
static nn_status conv_geom(nn_op_ctx *ctx, const nn_value *x, const nn_value *w, const char *wn,
                           int padded_ok, nhwc_geom *g) {
  Q8C_TRY(geom_make(ctx, x, w->dims + 2, w->dims[0], g));
  g->group = nn_attr_int(ctx->node, "group", 1);
  const int64_t wc = w->dims[1];
  const int padded = padded_ok && wc % 4 && g->c == (wc + 3) / 4 * 4;
  if (g->group > 1 ? (g->group != g->c || g->m != g->c || wc != 1)
                   : (g->group != 1 || !(wc == g->c || padded)))
    return nn_op_error(ctx, NN_ERR_INVALID,
                       "input '%s' [%lld, %lld, ...] does not match %lld channels and group %lld",
                       wn, (long long)w->dims[0], (long long)wc, (long long)g->c,
                       (long long)g->group);
  if (g->kh * g->kw > Q8C_MAX_TAPS)
    return nn_op_error(ctx, NN_ERR_INVALID, "kernel of %lld taps is over %d",
                       (long long)(g->kh * g->kw), Q8C_MAX_TAPS);
  return NN_OK;
}

static nn_status q8c_check(nn_op_ctx *ctx, nhwc_geom *g) {
  Q8C_TRY(nn_op_need_io(ctx, 8));
  const nn_value *x = nn_in(ctx, 0), *w = nn_in(ctx, 3);
  if (x->dtype != NN_UINT8 || w->dtype != NN_INT8 || w->ndim != 4)
    return nn_op_error(ctx, NN_ERR_INVALID, "expects uint8 'x' and 4-D int8 'w'");
  const nn_value *yz = nn_in(ctx, 7), *xz = nn_in(ctx, 2);
  if (!xz || xz->dtype != NN_UINT8 || nn_value_numel(xz) != 1 || !yz || yz->dtype != NN_UINT8 ||
      nn_value_numel(yz) != 1)
    return nn_op_error(ctx, NN_ERR_INVALID, "expects scalar uint8 zero points for 'x' and 'y'");
  return conv_geom(ctx, x, w, "w", 1, g);
}

static nn_status q8c_infer(nn_op_ctx *ctx) {
  nhwc_geom g;
  Q8C_TRY(q8c_check(ctx, &g));
  const int64_t d[4] = {g.n, g.oh, g.ow, g.m};
  return nn_value_set(ctx, nn_out(ctx, 0), NN_UINT8, 4, d);
}

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

/* What prepare derives from the geometry for the run (both element types, the same
 * tiles: NN_Q8C_MR == NN_F32C_MR): the pointwise case, the output columns whose windows
 * lie inside the input's columns, and per-thread workspaces for one task's indirection. */
static void q8c_plan_tasks(nn_op_ctx *ctx, q8c_state *s) {
  const nhwc_geom g = s->g;
  const size_t taps = (size_t)(g.kh * g.kw);
  s->pointwise = g.kh == 1 && g.kw == 1 && g.sy == 1 && g.sx == 1 && !g.pt && !g.pl && g.oh == g.h &&
                 g.ow == g.w;
  s->ox_lo = (g.pl + g.sx - 1) / g.sx;
  const int64_t last = g.w - 1 - (g.kw - 1) * g.dx + g.pl; /* ox * sx <= last */
  s->ox_hi = last < 0 ? 0 : last / g.sx + 1;
  if (s->ox_hi > g.ow) s->ox_hi = g.ow;
  if (s->ox_lo > s->ox_hi) s->ox_lo = s->ox_hi;
  s->threads = (size_t)nn_threadpool_size(nn_session_threadpool(ctx->session));
  if (!s->threads) s->threads = 1;
  const size_t ptrs = s->dw ? taps : Q8C_TILE_CHUNK * NN_Q8C_MR * taps;
  s->ws_stride = align64(ptrs * sizeof(void *));
  ctx->scratch_size = s->threads * s->ws_stride;
}

_Static_assert(NN_Q8C_MR == NN_F32C_MR && NN_Q8C_NR == NN_F32C_NR, "one tiling for both types");

static nn_status q8c_prepare(nn_op_ctx *ctx) {
  nhwc_geom g;
  Q8C_TRY(q8c_check(ctx, &g));
  const nn_value *w = nn_in(ctx, 3), *xs = nn_in(ctx, 1), *ws = nn_in(ctx, 4),
                 *wz = nn_in(ctx, 5), *ys = nn_in(ctx, 6), *b = nn_in(ctx, 8);
  if (!known_const(w) || !known_const(xs) || !known_const(ws) || !known_const(ys) ||
      !known_const(nn_in(ctx, 2)) || !known_const(nn_in(ctx, 7)) || (b && !known_const(b)) ||
      (wz && !known_const(wz)))
    return nn_op_error(ctx, NN_ERR_INVALID, "weights, scales, zero points and bias must be constant");
  const size_t m = (size_t)g.m, taps = (size_t)(g.kh * g.kw), kc = (size_t)(g.group > 1 ? 1 : g.c);
  const size_t wc = (size_t)w->dims[1]; /* kc, or fewer: padded input channels */
  const int64_t nws = nn_value_numel(ws);
  if (xs->dtype != NN_FLOAT || ys->dtype != NN_FLOAT || ws->dtype != NN_FLOAT ||
      nn_value_numel(xs) != 1 || nn_value_numel(ys) != 1 || (nws != 1 && nws != g.m))
    return nn_op_error(ctx, NN_ERR_INVALID, "expects float scales (per tensor or per channel)");
  if (wz) {
    if (wz->dtype != NN_INT8 || (nn_value_numel(wz) != 1 && nn_value_numel(wz) != g.m))
      return nn_op_error(ctx, NN_ERR_INVALID, "input 'w_zero_point' must be int8 like 'w'");
    for (int64_t i = 0; i < nn_value_numel(wz); i++)
      if (((const int8_t *)wz->data)[i])
        return nn_op_error(ctx, NN_ERR_INVALID, "input 'w_zero_point' must be 0");
  }
  if (b && (b->dtype != NN_INT32 || nn_value_numel(b) != g.m))
    return nn_op_error(ctx, NN_ERR_INVALID, "input 'B' must be int32 [%lld]", (long long)g.m);
  q8c_state *s = calloc(1, sizeof *s);
  if (!s) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  ctx->state = s;
  s->g = g;
  s->es = 1;
  s->dw = g.group > 1;
  const nn_kernels *k = nn_kernels_get();
  s->conv = nn_q8c_conv_for(k);
  s->dwk = nn_q8c_dw_for(k);
  if (!s->conv) s->conv = nn_q8c_conv_8x32__scalar;
  if (!s->dwk) s->dwk = nn_q8c_dw__scalar;
  const uint8_t xz = *(const uint8_t *)nn_in(ctx, 2)->data;
  const float xsv = *(const float *)xs->data, ysv = *(const float *)ys->data;
  const int8_t *wd = w->data;
  const int32_t *bd = b ? b->data : NULL;
  const size_t terms = s->dw ? nn_q8c_dw_terms(m) : (m + NN_Q8C_NR - 1) / NN_Q8C_NR * NN_Q8C_NR;
  int32_t *bias = calloc(m, sizeof *bias);
  float *scale = calloc(m, sizeof *scale);
  s->bias = calloc(terms, sizeof *s->bias);
  s->scale = calloc(terms, sizeof *s->scale);
  const size_t zrow = (size_t)((s->dw ? g.ow : NN_Q8C_MR) * g.sx + 1);
  const size_t zbytes = zrow * (size_t)g.c + 64;
  s->zbuf = malloc(zbytes);
  const size_t wbytes = s->dw ? nn_q8c_pack_dw_size(m, taps) : nn_q8c_pack_w_size(m, taps, kc);
  s->w = malloc(wbytes ? wbytes : 1);
  if (!bias || !scale || !s->bias || !s->scale || !s->zbuf || !s->w) {
    free(bias);
    free(scale);
    return nn_errorf(NN_ERR_NOMEM, "out of memory");
  }
  memset(s->zbuf, xz, zbytes);
  for (size_t j = 0; j < m; j++) {
    int32_t sum = 0;
    for (size_t i = 0; i < taps * wc; i++) sum += wd[j * taps * wc + i];
    bias[j] = (int32_t)((bd ? (uint32_t)bd[j] : 0u) - (uint32_t)xz * (uint32_t)sum);
    scale[j] = xsv * ((const float *)ws->data)[nws == 1 ? 0 : j] / ysv; /* as QLinearConv */
  }
  if (s->dw) {
    nn_q8c_pack_dw(m, taps, wd, bias, scale, s->w, s->bias, s->scale);
    if ((m == 16 || m == 32) && g.sx == 1) {
      const size_t gp = NN_Q8C_DW_CB / m;
      int8_t *wr = malloc(NN_Q8C_DW_CB * taps);
      int32_t *br = malloc(NN_Q8C_DW_CB * sizeof *br);
      float *sr = malloc(NN_Q8C_DW_CB * sizeof *sr);
      s->wg = malloc(nn_q8c_pack_dw_size(NN_Q8C_DW_CB, taps));
      s->bg = malloc(NN_Q8C_DW_CB * sizeof *s->bg);
      s->sg = malloc(NN_Q8C_DW_CB * sizeof *s->sg);
      if (wr && br && sr && s->wg && s->bg && s->sg) {
        for (size_t k2 = 0; k2 < gp; k2++) {
          memcpy(wr + k2 * m * taps, wd, m * taps);
          memcpy(br + k2 * m, bias, m * sizeof *br);
          memcpy(sr + k2 * m, scale, m * sizeof *sr);
        }
        nn_q8c_pack_dw(NN_Q8C_DW_CB, taps, wr, br, sr, s->wg, s->bg, s->sg);
        s->group_px = gp;
      }
      free(wr);
      free(br);
      free(sr);
      if (!s->group_px) {
        free(bias);
        free(scale);
        return nn_errorf(NN_ERR_NOMEM, "out of memory");
      }
    }
  } else {
    nn_q8c_pack_w(m, taps, kc, wc, wd, s->w);
    memcpy(s->bias, bias, m * sizeof *bias);
    memcpy(s->scale, scale, m * sizeof *scale);
    s->panel_bytes = taps * ((kc + 3) / 4) * NN_Q8C_NR * 4;
  }
  free(bias);
  free(scale);
  s->p.out_zp = *(const uint8_t *)nn_in(ctx, 7)->data;
  s->p.qmin = 0;
  s->p.qmax = 255;
  q8c_plan_tasks(ctx, s);
  return NN_OK;
}

typedef struct q8c_run {
  const q8c_state *s;
  const void *z;               /* ConvNhwc: the fused residual (NHWC like y) or NULL */
  const uint8_t *x;
  uint8_t *y;
  char *ws;
  size_t npix;                 /* N * OH * OW */
  size_t tiles, tile_chunk, panels, panel_chunk, tile_tasks;
  size_t cblocks, cchunk;      /* depthwise: channel blocks of 64 per task */
} q8c_run;

/* Pointers of the taps of output pixel (n, oy, ox) into ind[t * stride]. */
static void q8c_taps(const q8c_state *s, const uint8_t *x, int64_t n, int64_t oy, int64_t ox,
                     const void **ind, size_t stride) {
  const nhwc_geom *g = &s->g;
  const int64_t iy0 = oy * g->sy - g->pt, ix0 = ox * g->sx - g->pl;
  const size_t c = (size_t)g->c * s->es; /* bytes per pixel */
  const uint8_t *xn = x + (size_t)(n * g->h * g->w) * c;
  size_t t = 0;
  for (int64_t ky = 0; ky < g->kh; ky++) {
    const int64_t iy = iy0 + ky * g->dy;
    const int row_in = iy >= 0 && iy < g->h;
    for (int64_t kx = 0; kx < g->kw; kx++, t++) {
      const int64_t ix = ix0 + kx * g->dx;
      ind[t * stride] = row_in && ix >= 0 && ix < g->w
                            ? xn + ((size_t)iy * (size_t)g->w + (size_t)ix) * c
                            : s->zbuf;
    }
  }
}

static void q8c_dense_task(void *ctx, size_t thread, size_t task) {
  const q8c_run *r = ctx;
  const q8c_state *s = r->s;
  const nhwc_geom *g = &s->g;
  const size_t taps = (size_t)(g->kh * g->kw), m = (size_t)g->m, kc = (size_t)g->c;
  const size_t t0 = task % r->tile_tasks * r->tile_chunk;
  const size_t t1 = t0 + r->tile_chunk < r->tiles ? t0 + r->tile_chunk : r->tiles;
  const size_t p0 = task / r->tile_tasks * r->panel_chunk;
  const size_t p1 = p0 + r->panel_chunk < r->panels ? p0 + r->panel_chunk : r->panels;
  const void **ind = (const void **)(r->ws + thread * s->ws_stride);
  /* The indirection of the task's tiles: a tile inside one output row whose windows
   * lie inside the input's columns is one pointer per tap and a step (stride x
   * channels; rows above or below the input read the zero buffer, long enough for
   * the steps); other tiles a pointer per tap and row, rows past the last pixel
   * repeating the tile's first. */
  const size_t q0 = t0 * NN_Q8C_MR, qend = t1 * NN_Q8C_MR < r->npix ? t1 * NN_Q8C_MR : r->npix;
  size_t tstep[Q8C_TILE_CHUNK];
  const size_t step = (size_t)g->sx * kc;
  if (s->pointwise) {
    for (size_t t = t0; t < t1; t++) {
      const size_t q = t * NN_Q8C_MR;
      const void **it = ind + (t - t0) * NN_Q8C_MR;
      tstep[t - t0] = q + NN_Q8C_MR <= r->npix ? kc : 0;
      for (size_t i = 0; i < NN_Q8C_MR; i++)
        it[i] = r->x + (q + i < r->npix ? q + i : q) * kc * s->es;
    }
  } else {
    int64_t ox = (int64_t)(q0 % (size_t)g->ow), rr = (int64_t)(q0 / (size_t)g->ow);
    int64_t oy = rr % g->oh, n = rr / g->oh;
    for (size_t q = q0; q < qend;) {
      const size_t tile = (q - q0) / NN_Q8C_MR, i = (q - q0) % NN_Q8C_MR;
      const void **it = ind + tile * taps * NN_Q8C_MR;
      if (!i && q + NN_Q8C_MR <= qend && ox >= s->ox_lo && ox + NN_Q8C_MR <= s->ox_hi) {
        q8c_taps(s, r->x, n, oy, ox, it, 1);
        tstep[tile] = step;
        q += NN_Q8C_MR;
        ox += NN_Q8C_MR;
      } else {
        q8c_taps(s, r->x, n, oy, ox, it + i, NN_Q8C_MR);
        tstep[tile] = 0;
        q++;
        ox++;
      }
      if (ox == g->ow) {
        ox = 0;
        if (++oy == g->oh) oy = 0, n++;
      }
    }
    for (size_t q = qend; q < t1 * NN_Q8C_MR; q++) { /* ragged last tile */
      const size_t tile = (q - q0) / NN_Q8C_MR, i = (q - q0) % NN_Q8C_MR;
      const void **it = ind + tile * taps * NN_Q8C_MR;
      for (size_t t = 0; t < taps; t++) it[t * NN_Q8C_MR + i] = it[t * NN_Q8C_MR];
    }
  }
  const size_t tstride = s->pointwise ? NN_Q8C_MR : taps * NN_Q8C_MR;
  for (size_t pn = p0; pn < p1; pn++) {
    const size_t j0 = pn * NN_Q8C_NR, nc = m - j0 < NN_Q8C_NR ? m - j0 : NN_Q8C_NR;
    for (size_t t = t0; t < t1; t++) {
      const size_t qt = t * NN_Q8C_MR, mr = r->npix - qt < NN_Q8C_MR ? r->npix - qt : NN_Q8C_MR;
      if (s->es == 4) /* float: the same tiles (NN_F32C_MR x NN_F32C_NR = 8 x 32) */
        s->fconv(mr, nc, taps, kc, ind + (t - t0) * tstride, tstep[t - t0],
                 s->fw + pn * s->panel_bytes, s->fbias + j0,
                 r->z ? (const float *)r->z + qt * m + j0 : NULL, s->lo, s->hi,
                 (float *)(void *)r->y + qt * m + j0, m);
      else
        s->conv(mr, nc, taps, kc, ind + (t - t0) * tstride, tstep[t - t0],
                s->w + pn * s->panel_bytes, s->bias + j0, s->scale + j0, &s->p,
                r->y + qt * m + j0, m);
    }
  }
}

/* Depthwise: one output row (task / cchunks) and a run of channel blocks. The pixels
 * whose windows lie inside the row's columns go to the kernel in one call, every tap
 * pointer advancing by stride x channels (rows above or below the input read the
 * zero-point buffer, long enough for a whole row); border pixels one by one. */
static void q8c_dw_task(void *ctx, size_t thread, size_t task) {
  const q8c_run *r = ctx;
  const q8c_state *s = r->s;
  const nhwc_geom *g = &s->g;
  const size_t taps = (size_t)(g->kh * g->kw), c = (size_t)g->c;
  const size_t nck = (r->cblocks + r->cchunk - 1) / r->cchunk;
  const size_t row = task / nck, cb0 = task % nck * r->cchunk * NN_Q8C_DW_CB;
  const size_t cb1 = cb0 + r->cchunk * NN_Q8C_DW_CB < c ? cb0 + r->cchunk * NN_Q8C_DW_CB : c;
  const int64_t oy = (int64_t)row % g->oh, n = (int64_t)row / g->oh;
  const void **ind = (const void **)(r->ws + thread * s->ws_stride);
  const int8_t *w = s->w + cb0 / NN_Q8C_DW_CB * taps * 4 * NN_Q8C_DW_CB;
  const int32_t *bias = s->bias + cb0;
  const float *scale = s->scale + cb0;
  uint8_t *y = r->y + (row * (size_t)g->ow * c + cb0) * s->es;
  const size_t step = (size_t)g->sx * c;
  if (s->es == 4) { /* float: 16-channel blocks, all of [cb0, cb1) per call */
    const float *z = r->z ? (const float *)r->z + row * (size_t)g->ow * c + cb0 : NULL;
    for (int64_t ox = 0; ox < g->ow;) {
      size_t npix = 1;
      if (ox >= s->ox_lo && ox < s->ox_hi) npix = (size_t)(s->ox_hi - ox);
      q8c_taps(s, r->x, n, oy, ox, ind, 1);
      for (size_t t = 0; t < taps; t++) ind[t] = (const float *)ind[t] + cb0;
      s->fdw(npix, cb1 - cb0, taps, ind, step, s->fw + cb0, c, s->fbias + cb0,
             z ? z + (size_t)ox * c : NULL, s->lo, s->hi, (float *)(void *)y + (size_t)ox * c, c);
      ox += (int64_t)npix;
    }
    return;
  }
  for (int64_t ox = 0; ox < g->ow;) {
    size_t npix = 1;
    if (ox >= s->ox_lo && ox < s->ox_hi) npix = (size_t)(s->ox_hi - ox);
    q8c_taps(s, r->x, n, oy, ox, ind, 1);
    for (size_t t = 0; t < taps; t++) ind[t] = (const uint8_t *)ind[t] + cb0 * s->es;
    if (s->group_px && npix >= s->group_px) { /* 64 / c adjacent pixels per vector */
      const size_t ng = npix / s->group_px;
      s->dwk(ng, NN_Q8C_DW_CB, taps, ind, NN_Q8C_DW_CB, s->wg, s->bg, s->sg, &s->p,
             y + (size_t)ox * c, NN_Q8C_DW_CB);
      ox += (int64_t)(ng * s->group_px);
      continue;
    }
    s->dwk(npix, cb1 - cb0, taps, ind, step, w, bias, scale, &s->p, y + (size_t)ox * c, c);
    ox += (int64_t)npix;
  }
}

/* Winograd: a block of tiles (task % blocks) for a group of panels (task / blocks). */
static void wino_task(void *ctx, size_t thread, size_t task) {
  const q8c_run *r = ctx;
  const q8c_state *s = r->s;
  const size_t tb = s->wino.tb, t0 = task % r->tile_tasks * tb;
  const size_t nt = r->tiles - t0 < tb ? r->tiles - t0 : tb;
  const size_t j0 = task / r->tile_tasks * r->panel_chunk * NN_F32C_NR;
  const size_t j1 = j0 + r->panel_chunk * NN_F32C_NR < (size_t)s->g.m ? j0 + r->panel_chunk * NN_F32C_NR
                                                                      : (size_t)s->g.m;
  nn_f32c_wino_block(&s->wino, (const float *)(const void *)r->x, r->z, (float *)(void *)r->y, t0,
                     nt, j0, j1, (float *)(void *)(r->ws + thread * s->ws_stride));
}

static nn_status q8c_run_op(nn_op_ctx *ctx) {
  const q8c_state *s = ctx->state;
  if (!s || !ctx->scratch || ctx->scratch_size < s->threads * s->ws_stride)
    return nn_op_error(ctx, NN_ERR_RUNTIME, "not prepared");
  const nn_value *x = nn_in(ctx, 0);
  if (x->ndim != 4 || x->dims[1] != s->g.h || x->dims[2] != s->g.w || x->dims[3] != s->g.c ||
      x->dims[0] != s->g.n)
    return nn_op_error(ctx, NN_ERR_INVALID, "input 'x' changed shape after planning");
  nn_threadpool *pool = nn_session_threadpool(ctx->session);
  size_t threads = (size_t)nn_threadpool_size(pool);
  if (threads > s->threads || !threads) threads = s->threads;
  q8c_run r = {.s = s, .x = x->data, .y = nn_out(ctx, 0)->data, .ws = ctx->scratch,
               .npix = (size_t)(s->g.n * s->g.oh * s->g.ow)};
  if (s->es == 4 && ctx->n_in > 3 && nn_in(ctx, 3)) {
    const nn_value *z = nn_in(ctx, 3), *y = nn_out(ctx, 0);
    if (z->dtype != NN_FLOAT || z->ndim != 4 || nn_value_numel(z) != nn_value_numel(y))
      return nn_op_error(ctx, NN_ERR_INVALID, "input 'Z' must have the output's shape");
    r.z = z->data;
  }
  size_t want = threads > 1 ? 4 * threads : 1;
  size_t tasks;
  if (s->dw) {
    const size_t rows = (size_t)(s->g.n * s->g.oh);
    r.cblocks = ((size_t)s->g.c + NN_Q8C_DW_CB - 1) / NN_Q8C_DW_CB;
    size_t split = rows >= want ? 1 : (want + rows - 1) / rows;
    if (split > r.cblocks) split = r.cblocks;
    r.cchunk = (r.cblocks + split - 1) / split;
    tasks = rows * ((r.cblocks + r.cchunk - 1) / r.cchunk);
    nn_threadpool_parallelize(threads > 1 && tasks > 1 ? pool : NULL, q8c_dw_task, &r, tasks);
    return NN_OK;
  }
  nn_parallel_fn task_fn = q8c_dense_task;
  r.panels = ((size_t)s->g.m + NN_Q8C_NR - 1) / NN_Q8C_NR;
  if (s->wino.u) { /* Winograd: a task is a block of tb tiles */
    r.tiles = nn_f32c_wino_tiles(&s->wino);
    r.tile_tasks = (r.tiles + s->wino.tb - 1) / s->wino.tb;
    task_fn = wino_task;
    if (r.tile_tasks == 1) want = threads; /* each panel group transforms the block again */
  } else {
    r.tiles = (r.npix + NN_Q8C_MR - 1) / NN_Q8C_MR;
    r.tile_chunk = Q8C_TILE_CHUNK;
    while (r.tile_chunk > 1 && (r.tiles + r.tile_chunk - 1) / r.tile_chunk < want) r.tile_chunk /= 2;
    r.tile_tasks = (r.tiles + r.tile_chunk - 1) / r.tile_chunk;
  }
  /* Enough tasks to balance the threads: tile chunks first, then panel groups. */
  size_t groups = r.tile_tasks >= want ? 1 : (want + r.tile_tasks - 1) / r.tile_tasks;
  if (groups > r.panels) groups = r.panels;
  r.panel_chunk = (r.panels + groups - 1) / groups;
  groups = (r.panels + r.panel_chunk - 1) / r.panel_chunk;
  tasks = r.tile_tasks * groups;
  nn_threadpool_parallelize(threads > 1 && tasks > 1 ? pool : NULL, task_fn, &r, tasks);
  return NN_OK;
}

NN_OP(QLinearConvNhwc) = {.op_type = "QLinearConvNhwc",
                          .domain = "com.nnopt",
                          .infer = q8c_infer,
                          .prepare = q8c_prepare,
                          .run = q8c_run_op,
                          .release = q8c_release};

/* ============================================================ ConvNhwc */

/* Conv / com.microsoft FusedConv of float32 channel-last tensors: inputs X [N, H, W, C],
 * W [M, C / group, kh, kw] and B constant, Z (optional, the fused residual, [N, OH, OW,
 * M]); attributes as Conv plus FusedConv's activation (Relu, Clip) and its params. */
static nn_status fc_check(nn_op_ctx *ctx, nhwc_geom *g, float *lo, float *hi) {
  Q8C_TRY(nn_op_need_io(ctx, 2));
  const nn_value *x = nn_in(ctx, 0), *w = nn_in(ctx, 1);
  if (x->dtype != NN_FLOAT || w->dtype != NN_FLOAT || w->ndim != 4)
    return nn_op_error(ctx, NN_ERR_INVALID, "expects float32 'X' and a 4-D float32 'W'");
  Q8C_TRY(conv_geom(ctx, x, w, "W", 0, g));
  const nn_value *b = ctx->n_in > 2 ? nn_in(ctx, 2) : NULL;
  if (b && (b->dtype != NN_FLOAT || nn_value_numel(b) != g->m))
    return nn_op_error(ctx, NN_ERR_INVALID, "input 'B' must be float32 [%lld]", (long long)g->m);
  *lo = -INFINITY;
  *hi = INFINITY;
  const char *a = nn_attr_string(ctx->node, "activation", "");
  if (!strcmp(a, "Relu")) {
    *lo = 0.0f;
  } else if (!strcmp(a, "Clip")) {
    const float *v;
    if (nn_attr_floats(ctx->node, "activation_params", &v) != 2)
      return nn_op_error(ctx, NN_ERR_INVALID, "activation Clip needs 2 activation_params");
    *lo = v[0];
    *hi = v[1];
  } else if (*a) {
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "activation '%s' (Relu and Clip supported)", a);
  }
  return NN_OK;
}

static nn_status fc_infer(nn_op_ctx *ctx) {
  nhwc_geom g;
  float lo, hi;
  Q8C_TRY(fc_check(ctx, &g, &lo, &hi));
  const int64_t d[4] = {g.n, g.oh, g.ow, g.m};
  return nn_value_set(ctx, nn_out(ctx, 0), NN_FLOAT, 4, d);
}

static nn_status fc_prepare(nn_op_ctx *ctx) {
  nhwc_geom g;
  float lo, hi;
  Q8C_TRY(fc_check(ctx, &g, &lo, &hi));
  const nn_value *w = nn_in(ctx, 1), *b = ctx->n_in > 2 ? nn_in(ctx, 2) : NULL;
  if (!known_const(w) || (b && !known_const(b)))
    return nn_op_error(ctx, NN_ERR_INVALID, "weights and bias must be constant");
  q8c_state *s = calloc(1, sizeof *s);
  if (!s) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  ctx->state = s;
  s->g = g;
  s->es = 4;
  s->dw = g.group > 1;
  s->lo = lo;
  s->hi = hi;
  const nn_kernels *k = nn_kernels_get();
  s->fconv = nn_f32c_conv_for(k);
  s->fdw = nn_f32c_dw_for(k);
  if (!s->fconv) s->fconv = nn_f32c_conv_8x32__scalar;
  if (!s->fdw) s->fdw = nn_f32c_dw__scalar;
  const size_t m = (size_t)g.m, taps = (size_t)(g.kh * g.kw), kc = (size_t)g.c;
  const size_t panels = (m + NN_F32C_NR - 1) / NN_F32C_NR;
  const int wino = !s->dw && nn_f32c_conv_for(k) &&
                   nn_f32c_wino_fits(g.kh, g.kw, g.sy, g.sx, g.dy, g.dx, g.pt, g.pl, g.c, g.m);
  const size_t wfloats = wino ? nn_f32c_wino_w_size(m, kc)
                              : s->dw ? taps * m : nn_f32c_pack_w_size(m, taps, kc);
  s->fw = malloc((wfloats ? wfloats : 1) * sizeof *s->fw);
  s->fbias = calloc(panels * NN_F32C_NR, sizeof *s->fbias);
  const size_t zrow = (size_t)((s->dw ? g.ow : NN_F32C_MR) * g.sx + 1);
  const size_t zbytes = (zrow * (size_t)g.c + NN_F32C_NR) * sizeof(float);
  s->zbuf = calloc(1, zbytes); /* zeros: float padding (and Winograd's zero bias) */
  if (!s->fw || !s->fbias || !s->zbuf) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  const float *wd = w->data;
  if (wino) {
    nn_f32c_wino_pack_w(m, kc, wd, s->fw);
  } else if (s->dw) { /* [t][c] */
    for (size_t ch = 0; ch < m; ch++)
      for (size_t t = 0; t < taps; t++) s->fw[t * m + ch] = wd[ch * taps + t];
  } else {
    nn_f32c_pack_w(m, taps, kc, wd, s->fw);
    s->panel_bytes = taps * kc * NN_F32C_NR; /* floats per panel */
  }
  if (b) memcpy(s->fbias, b->data, m * sizeof(float));
  q8c_plan_tasks(ctx, s);
  if (wino) { /* Winograd F(2x2, 3x3): s->fw holds U; blocks of tb tiles */
    const size_t tiles = (size_t)(g.n * ((g.oh + 1) / 2) * ((g.ow + 1) / 2));
    size_t tb = 4096 / kc / NN_F32C_MR * NN_F32C_MR; /* V of a block: ~256 KB */
    if (tb < NN_F32C_MR) tb = NN_F32C_MR;
    if (tb > 64) tb = 64;
    const size_t all = (tiles + NN_F32C_MR - 1) / NN_F32C_MR * NN_F32C_MR;
    /* few tiles: one block, which reads U once (V up to ~512 KB) */
    if (tb > all || (all <= 4 * tb && all * kc <= 8192)) tb = all;
    s->wino = (nn_f32c_wino){.n = (size_t)g.n, .h = (size_t)g.h, .w = (size_t)g.w, .c = kc,
                             .m = m, .oh = (size_t)g.oh, .ow = (size_t)g.ow, .pt = (size_t)g.pt,
                             .pl = (size_t)g.pl, .tb = tb, .u = s->fw, .bias = s->fbias,
                             .zero = (const float *)(const void *)s->zbuf, .lo = lo, .hi = hi,
                             .gemm = s->fconv, .in = nn_f32c_wino_in_for(k),
                             .out = nn_f32c_wino_out_for(k)};
    /* its V and M blocks instead of the indirection */
    s->ws_stride = align64(nn_f32c_wino_ws_size(&s->wino, 0, panels * NN_F32C_NR) * sizeof(float));
    ctx->scratch_size = s->threads * s->ws_stride;
  }
  return NN_OK;
}

NN_OP(ConvNhwc) = {.op_type = "ConvNhwc",
                   .domain = "com.nnopt",
                   .infer = fc_infer,
                   .prepare = fc_prepare,
                   .run = q8c_run_op,
                   .release = q8c_release};

/* ============================================================ MaxPoolNhwc */

static nn_status mp_check(nn_op_ctx *ctx, nhwc_geom *g) {
  Q8C_TRY(nn_op_need_io(ctx, 1));
  const nn_value *x = nn_in(ctx, 0);
  if (x->dtype != NN_UINT8 && x->dtype != NN_FLOAT)
    return nn_op_error(ctx, NN_ERR_INVALID, "expects a uint8 or float32 input 'x'");
  const int64_t *ks;
  if (nn_attr_ints(ctx->node, "kernel_shape", &ks) != 2)
    return nn_op_error(ctx, NN_ERR_INVALID, "attribute 'kernel_shape' must have 2 values");
  if (nn_attr_int(ctx->node, "ceil_mode", 0) || nn_attr_int(ctx->node, "storage_order", 0) ||
      ctx->n_out > 1)
    return nn_op_error(ctx, NN_ERR_INVALID, "ceil_mode, storage_order and indices are not supported here");
  Q8C_TRY(geom_make(ctx, x, ks, x->ndim == 4 ? x->dims[3] : 0, g));
  return NN_OK;
}

static nn_status mp_infer(nn_op_ctx *ctx) {
  nhwc_geom g;
  Q8C_TRY(mp_check(ctx, &g));
  const int64_t d[4] = {g.n, g.oh, g.ow, g.c};
  return nn_value_set(ctx, nn_out(ctx, 0), nn_in(ctx, 0)->dtype, 4, d);
}

typedef struct mp_run {
  nhwc_geom g;
  const uint8_t *x;
  uint8_t *y;
  size_t es; /* bytes per element: 1 (uint8) or 4 (float32) */
} mp_run;

/* y[i] = max(y[i], p[i]) over c bytes (unsigned): 16 bytes
 * at a time with SSE2 / NEON (both baseline on their architectures). */
static void max_bytes(uint8_t *y, const uint8_t *p, size_t c) {
  size_t i = 0;
#if defined(__SSE2__)
  for (; i + 16 <= c; i += 16)
    _mm_storeu_si128((__m128i *)(y + i), _mm_max_epu8(_mm_loadu_si128((const __m128i *)(y + i)),
                                                      _mm_loadu_si128((const __m128i *)(p + i))));
#elif defined(__ARM_NEON)
  for (; i + 16 <= c; i += 16) vst1q_u8(y + i, vmaxq_u8(vld1q_u8(y + i), vld1q_u8(p + i)));
#endif
  for (; i < c; i++) y[i] = p[i] > y[i] ? p[i] : y[i];
}

/* y[i] = p[i] > y[i] ? p[i] : y[i] over c floats, as MaxPool's reference: the first tap
 * stays unless a later one is greater (a NaN first tap stays, a later NaN never wins).
 * maxps(p, y) is exactly that. */
static void max_floats(float *y, const float *p, size_t c) {
  size_t i = 0;
#if defined(__SSE2__)
  for (; i + 4 <= c; i += 4)
    _mm_storeu_ps(y + i, _mm_max_ps(_mm_loadu_ps(p + i), _mm_loadu_ps(y + i)));
#endif
  for (; i < c; i++) y[i] = p[i] > y[i] ? p[i] : y[i];
}

/* One output row (image n, row oy): max over the window taps inside the input
 * (padding never wins; a window of padding only, which valid pads exclude, gives the
 * lowest code, or -inf). */
static void mp_row(void *ctx, size_t thread, size_t row) {
  const mp_run *r = ctx;
  const nhwc_geom *g = &r->g;
  const size_t c = (size_t)g->c, cb = c * r->es;
  const int64_t oy = (int64_t)row % g->oh, n = (int64_t)row / g->oh;
  const uint8_t *xn = r->x + (size_t)(n * g->h * g->w) * cb;
  uint8_t *y = r->y + row * (size_t)g->ow * cb;
  for (int64_t ox = 0; ox < g->ow; ox++, y += cb) {
    int first = 1;
    for (int64_t ky = 0; ky < g->kh; ky++) {
      const int64_t iy = oy * g->sy - g->pt + ky * g->dy;
      if (iy < 0 || iy >= g->h) continue;
      for (int64_t kx = 0; kx < g->kw; kx++) {
        const int64_t ix = ox * g->sx - g->pl + kx * g->dx;
        if (ix < 0 || ix >= g->w) continue;
        const uint8_t *p = xn + (size_t)(iy * g->w + ix) * cb;
        if (first)
          memcpy(y, p, cb);
        else if (r->es == 4)
          max_floats((float *)(void *)y, (const float *)(const void *)p, c);
        else
          max_bytes(y, p, c);
        first = 0;
      }
    }
    if (first && r->es == 4)
      for (size_t i = 0; i < c; i++) ((float *)(void *)y)[i] = -INFINITY;
    else if (first)
      memset(y, 0, c);
  }
  (void)thread;
}

static nn_status mp_run_op(nn_op_ctx *ctx) {
  mp_run r;
  Q8C_TRY(mp_check(ctx, &r.g));
  r.x = nn_in(ctx, 0)->data;
  r.y = nn_out(ctx, 0)->data;
  r.es = nn_in(ctx, 0)->dtype == NN_FLOAT ? 4 : 1;
  const size_t rows = (size_t)(r.g.n * r.g.oh);
  nn_threadpool *pool = nn_session_threadpool(ctx->session);
  nn_threadpool_parallelize(rows > 1 ? pool : NULL, mp_row, &r, rows);
  return NN_OK;
}

NN_OP(MaxPoolNhwc) = {
    .op_type = "MaxPoolNhwc", .domain = "com.nnopt", .infer = mp_infer, .run = mp_run_op};

/* ============================================================ ToNhwc / FromNhwc */

/* ToNhwc: 8-bit x [N, C, H, W] -> y [N, H, W, Cp], Cp = attribute 'channels' (>= C,
 * default C; channels C .. Cp - 1 are 0: the 4-byte quads of the convolution kernels).
 * With a float32 x and two more inputs (scale, uint8 zero point; C <= 4: a network's
 * image input) it is QuantizeLinear and the change of layout in one pass, through the
 * same quantize kernel. FromNhwc: y [N, H, W, C] -> [N, C, H, W]. */
static int cvt_quantizes(const nn_op_ctx *ctx) {
  return nn_in(ctx, 0)->dtype == NN_FLOAT && ctx->n_in >= 3;
}

static nn_status cvt_check(nn_op_ctx *ctx, int to, int64_t *d) {
  Q8C_TRY(nn_op_need_io(ctx, 1));
  const nn_value *x = nn_in(ctx, 0);
  if (to && cvt_quantizes(ctx)) {
    const nn_value *sc = nn_in(ctx, 1), *zp = nn_in(ctx, 2);
    if (x->ndim != 4 || x->dims[1] > 4 || !sc || !zp || sc->dtype != NN_FLOAT ||
        zp->dtype != NN_UINT8 || nn_value_numel(sc) != 1 || nn_value_numel(zp) != 1)
      return nn_op_error(ctx, NN_ERR_INVALID,
                         "a float input 'x' needs 4-D [N, <=4, H, W], a float scale and a uint8 zero point");
  } else if ((x->dtype != NN_UINT8 && x->dtype != NN_INT8 && x->dtype != NN_FLOAT) ||
             x->ndim != 4) {
    return nn_op_error(ctx, NN_ERR_INVALID, "expects a 4-D 8-bit or float32 input 'x'");
  }
  if (to) {
    const int64_t cp = nn_attr_int(ctx->node, "channels", x->dims[1]);
    if (cp < x->dims[1] || cp > x->dims[1] + 64 || (x->dtype == NN_FLOAT && !cvt_quantizes(ctx) && cp != x->dims[1]))
      return nn_op_error(ctx, NN_ERR_INVALID, "attribute 'channels' %lld is below %lld or far above",
                         (long long)cp, (long long)x->dims[1]);
    d[0] = x->dims[0], d[1] = x->dims[2], d[2] = x->dims[3], d[3] = cp;
  } else {
    d[0] = x->dims[0], d[1] = x->dims[3], d[2] = x->dims[1], d[3] = x->dims[2];
  }
  return NN_OK;
}

static nn_status to_infer(nn_op_ctx *ctx) {
  int64_t d[4];
  Q8C_TRY(cvt_check(ctx, 1, d));
  return nn_value_set(ctx, nn_out(ctx, 0), cvt_quantizes(ctx) ? NN_UINT8 : nn_in(ctx, 0)->dtype,
                      4, d);
}

static nn_status from_infer(nn_op_ctx *ctx) {
  int64_t d[4];
  Q8C_TRY(cvt_check(ctx, 0, d));
  return nn_value_set(ctx, nn_out(ctx, 0), nn_in(ctx, 0)->dtype, 4, d);
}

#define CVT_PB 256

typedef struct cvt_run {
  const uint8_t *x;
  uint8_t *y;
  size_t c, cp, hw, blocks; /* blocks of CVT_PB pixels per image */
  const float *xf;          /* float input: quantized first (x then unused) */
  float scale;
  int32_t zp;
  const nn_kernels *k;
} cvt_run;

static void to_task(void *ctx, size_t thread, size_t task) {
  const cvt_run *r = ctx;
  const size_t n = task / r->blocks, p0 = task % r->blocks * CVT_PB;
  const size_t np = r->hw - p0 < CVT_PB ? r->hw - p0 : CVT_PB;
  const uint8_t *x = r->x + n * r->c * r->hw + p0;
  uint8_t *y = r->y + (n * r->hw + p0) * r->cp;
  _Alignas(64) uint8_t q[4 * CVT_PB];
  if (r->xf) { /* quantize this block's channel rows first (c <= 4) */
    for (size_t c = 0; c < r->c; c++)
      r->k->q8_quantize(np, r->xf + (n * r->c + c) * r->hw + p0, r->scale, r->zp, 0, 255,
                        q + c * np);
    x = q;
  }
  const size_t xs = r->xf ? np : r->hw; /* channel row stride of x */
  if (r->cp == 4) { /* the stem's 3 channels: whole 4-byte pixels (vectorizes) */
    const uint8_t *x1 = r->c > 1 ? x + xs : NULL, *x2 = r->c > 2 ? x + 2 * xs : NULL;
    const uint8_t *x3 = r->c > 3 ? x + 3 * xs : NULL;
    size_t p = 0;
    if (r->c == 3) { /* 16 pixels at a time */
#if defined(__SSE2__)
      const __m128i z = _mm_setzero_si128();
      for (; p + 16 <= np; p += 16) {
        const __m128i a = _mm_loadu_si128((const __m128i *)(x + p));
        const __m128i b = _mm_loadu_si128((const __m128i *)(x1 + p));
        const __m128i c = _mm_loadu_si128((const __m128i *)(x2 + p));
        const __m128i ablo = _mm_unpacklo_epi8(a, b), abhi = _mm_unpackhi_epi8(a, b);
        const __m128i c0lo = _mm_unpacklo_epi8(c, z), c0hi = _mm_unpackhi_epi8(c, z);
        uint8_t *d = y + 4 * p;
        _mm_storeu_si128((__m128i *)d, _mm_unpacklo_epi16(ablo, c0lo));
        _mm_storeu_si128((__m128i *)(d + 16), _mm_unpackhi_epi16(ablo, c0lo));
        _mm_storeu_si128((__m128i *)(d + 32), _mm_unpacklo_epi16(abhi, c0hi));
        _mm_storeu_si128((__m128i *)(d + 48), _mm_unpackhi_epi16(abhi, c0hi));
      }
#elif defined(__ARM_NEON)
      for (; p + 16 <= np; p += 16) {
        const uint8x16x4_t v = {{vld1q_u8(x + p), vld1q_u8(x1 + p), vld1q_u8(x2 + p), vdupq_n_u8(0)}};
        vst4q_u8(y + 4 * p, v);
      }
#endif
    }
    for (; p < np; p++) {
      const uint32_t v = (uint32_t)x[p] | (x1 ? (uint32_t)x1[p] << 8 : 0) |
                         (x2 ? (uint32_t)x2[p] << 16 : 0) | (x3 ? (uint32_t)x3[p] << 24 : 0);
      memcpy(y + 4 * p, &v, 4);
    }
    return;
  }
  for (size_t c = 0; c < r->c; c++)
    for (size_t p = 0; p < np; p++) y[p * r->cp + c] = x[c * xs + p];
  for (size_t c = r->c; c < r->cp; c++)
    for (size_t p = 0; p < np; p++) y[p * r->cp + c] = 0;
  (void)thread;
}

static void from_task(void *ctx, size_t thread, size_t task) {
  const cvt_run *r = ctx;
  const size_t n = task / r->blocks, p0 = task % r->blocks * CVT_PB;
  const size_t np = r->hw - p0 < CVT_PB ? r->hw - p0 : CVT_PB;
  const uint8_t *x = r->x + (n * r->hw + p0) * r->c;
  uint8_t *y = r->y + n * r->c * r->hw + p0;
  for (size_t c = 0; c < r->c; c++)
    for (size_t p = 0; p < np; p++) y[c * r->hw + p] = x[p * r->c + c];
  (void)thread;
}

/* float32: blocks of CVT_PB pixels, all channels */
static void to_task_f32(void *ctx, size_t thread, size_t task) {
  const cvt_run *r = ctx;
  const size_t n = task / r->blocks, p0 = task % r->blocks * CVT_PB;
  const size_t np = r->hw - p0 < CVT_PB ? r->hw - p0 : CVT_PB;
  const float *x = (const float *)(const void *)r->x + n * r->c * r->hw + p0;
  float *y = (float *)(void *)r->y + (n * r->hw + p0) * r->c;
  for (size_t c = 0; c < r->c; c++)
    for (size_t p = 0; p < np; p++) y[p * r->c + c] = x[c * r->hw + p];
  (void)thread;
}

static void from_task_f32(void *ctx, size_t thread, size_t task) {
  const cvt_run *r = ctx;
  const size_t n = task / r->blocks, p0 = task % r->blocks * CVT_PB;
  const size_t np = r->hw - p0 < CVT_PB ? r->hw - p0 : CVT_PB;
  const float *x = (const float *)(const void *)r->x + (n * r->hw + p0) * r->c;
  float *y = (float *)(void *)r->y + n * r->c * r->hw + p0;
  for (size_t c = 0; c < r->c; c++)
    for (size_t p = 0; p < np; p++) y[c * r->hw + p] = x[p * r->c + c];
  (void)thread;
}

static nn_status cvt_run_op(nn_op_ctx *ctx, int to) {
  int64_t d[4];
  Q8C_TRY(cvt_check(ctx, to, d));
  const nn_value *x = nn_in(ctx, 0);
  cvt_run r = {.x = x->data, .y = nn_out(ctx, 0)->data, .c = (size_t)(to ? x->dims[1] : x->dims[3]),
               .cp = (size_t)(to ? d[3] : x->dims[3]), .hw = (size_t)(x->dims[2] * (to ? x->dims[3] : x->dims[1]))};
  r.blocks = (r.hw + CVT_PB - 1) / CVT_PB;
  if (to && cvt_quantizes(ctx)) {
    if (!nn_in(ctx, 1)->data || !nn_in(ctx, 2)->data)
      return nn_op_error(ctx, NN_ERR_INVALID, "scale and zero point must have values");
    r.xf = x->data;
    r.scale = *(const float *)nn_in(ctx, 1)->data;
    r.zp = *(const uint8_t *)nn_in(ctx, 2)->data;
    r.k = nn_kernels_get();
  }
  const size_t tasks = (size_t)x->dims[0] * r.blocks;
  nn_threadpool *pool = nn_session_threadpool(ctx->session);
  const int f32 = x->dtype == NN_FLOAT && !r.xf;
  nn_threadpool_parallelize(tasks > 1 ? pool : NULL,
                            f32 ? (to ? to_task_f32 : from_task_f32) : (to ? to_task : from_task),
                            &r, tasks);
  return NN_OK;
}

static nn_status to_run(nn_op_ctx *ctx) { return cvt_run_op(ctx, 1); }
static nn_status from_run(nn_op_ctx *ctx) { return cvt_run_op(ctx, 0); }

NN_OP(ToNhwc) = {.op_type = "ToNhwc", .domain = "com.nnopt", .infer = to_infer, .run = to_run};
NN_OP(FromNhwc) = {
    .op_type = "FromNhwc", .domain = "com.nnopt", .infer = from_infer, .run = from_run};

/* ============================================================ QGlobalAvgPoolNhwc */

/* QuantizeLinear(GlobalAveragePool(DequantizeLinear(x))) of a channel-last uint8 x
 * [N, H, W, C] (inputs x, x_scale, x_zero_point, y_scale, y_zero_point; per-tensor),
 * to uint8 [N, C, 1, 1] (the same bytes in either layout), equal to the three float
 * ops bit for bit: each dequantized value (float)(x - zp) * s is a multiple of ulp(s)
 * below 2^32 of them, so their double sum is exact in any order; the mean is then
 * rounded to float and quantized as QuantizeLinear does. */
static nn_status gap_check(nn_op_ctx *ctx) {
  Q8C_TRY(nn_op_need_io(ctx, 5));
  const nn_value *x = nn_in(ctx, 0);
  if (x->dtype != NN_UINT8 || x->ndim != 4)
    return nn_op_error(ctx, NN_ERR_INVALID, "expects a 4-D uint8 input 'x' (NHWC)");
  for (int i = 1; i < 5; i++) {
    const nn_value *v = nn_in(ctx, i);
    if (!v || nn_value_numel(v) != 1 || v->dtype != (i % 2 ? NN_FLOAT : NN_UINT8))
      return nn_op_error(ctx, NN_ERR_INVALID, "input %d must be a float scale or uint8 zero point", i);
  }
  return NN_OK;
}

static nn_status gap_infer(nn_op_ctx *ctx) {
  Q8C_TRY(gap_check(ctx));
  const nn_value *x = nn_in(ctx, 0);
  const int64_t d[4] = {x->dims[0], x->dims[3], 1, 1};
  return nn_value_set(ctx, nn_out(ctx, 0), NN_UINT8, 4, d);
}

static nn_status gap_prepare(nn_op_ctx *ctx) {
  Q8C_TRY(gap_check(ctx));
  ctx->scratch_size = (size_t)nn_in(ctx, 0)->dims[3] * sizeof(double) + 256 * sizeof(double);
  return NN_OK;
}

static nn_status gap_run(nn_op_ctx *ctx) {
  Q8C_TRY(gap_check(ctx));
  const nn_value *x = nn_in(ctx, 0);
  for (int i = 1; i < 5; i++)
    if (!nn_in(ctx, i)->data) return nn_op_error(ctx, NN_ERR_INVALID, "input %d has no value", i);
  const size_t n = (size_t)x->dims[0], hw = (size_t)(x->dims[1] * x->dims[2]), c = (size_t)x->dims[3];
  if (!ctx->scratch || ctx->scratch_size < (c + 256) * sizeof(double))
    return nn_op_error(ctx, NN_ERR_RUNTIME, "not prepared");
  const float xs = *(const float *)nn_in(ctx, 1)->data, ys = *(const float *)nn_in(ctx, 3)->data;
  const int32_t xz = *(const uint8_t *)nn_in(ctx, 2)->data, yz = *(const uint8_t *)nn_in(ctx, 4)->data;
  double *tab = ctx->scratch, *acc = tab + 256;
  for (int k = 0; k < 256; k++) tab[k] = (double)((float)(k - xz) * xs); /* DequantizeLinear */
  const uint8_t *p = x->data;
  uint8_t *y = nn_out(ctx, 0)->data;
  for (size_t img = 0; img < n; img++, y += c) {
    for (size_t ch = 0; ch < c; ch++) acc[ch] = 0.0;
    for (size_t q = 0; q < hw; q++, p += c)
      for (size_t ch = 0; ch < c; ch++) acc[ch] += tab[p[ch]];
    for (size_t ch = 0; ch < c; ch++) {
      const float mean = hw ? (float)(acc[ch] / (double)hw) : 0.0f; /* nn_f32_global_avgpool */
      y[ch] = (uint8_t)nn_quantize_round_sat(mean / ys, yz, 0, 255);
    }
  }
  return NN_OK;
}

NN_OP(QGlobalAvgPoolNhwc) = {.op_type = "QGlobalAvgPoolNhwc",
                             .domain = "com.nnopt",
                             .infer = gap_infer,
                             .prepare = gap_prepare,
                             .run = gap_run};

/* ============================================================ GlobalAvgPoolNhwc */

/* GlobalAveragePool of a float32 channel-last x [N, H, W, C] to [N, C, 1, 1] (the same
 * bytes in either layout): per channel a double sum, divided, rounded to float, as
 * nn_f32_global_avgpool does (its sums in another order: equal to within a float ulp). */
static nn_status fgap_check(nn_op_ctx *ctx) {
  Q8C_TRY(nn_op_need_io(ctx, 1));
  const nn_value *x = nn_in(ctx, 0);
  if (x->dtype != NN_FLOAT || x->ndim != 4)
    return nn_op_error(ctx, NN_ERR_INVALID, "expects a 4-D float32 input 'x' (NHWC)");
  return NN_OK;
}

static nn_status fgap_infer(nn_op_ctx *ctx) {
  Q8C_TRY(fgap_check(ctx));
  const nn_value *x = nn_in(ctx, 0);
  const int64_t d[4] = {x->dims[0], x->dims[3], 1, 1};
  return nn_value_set(ctx, nn_out(ctx, 0), NN_FLOAT, 4, d);
}

static nn_status fgap_prepare(nn_op_ctx *ctx) {
  Q8C_TRY(fgap_check(ctx));
  ctx->scratch_size = (size_t)nn_in(ctx, 0)->dims[3] * sizeof(double);
  return NN_OK;
}

static nn_status fgap_run(nn_op_ctx *ctx) {
  Q8C_TRY(fgap_check(ctx));
  const nn_value *x = nn_in(ctx, 0);
  const size_t n = (size_t)x->dims[0], hw = (size_t)(x->dims[1] * x->dims[2]), c = (size_t)x->dims[3];
  if (!ctx->scratch || ctx->scratch_size < c * sizeof(double))
    return nn_op_error(ctx, NN_ERR_RUNTIME, "not prepared");
  double *acc = ctx->scratch;
  const float *p = x->data;
  float *y = nn_out(ctx, 0)->data;
  for (size_t img = 0; img < n; img++, y += c) {
    for (size_t ch = 0; ch < c; ch++) acc[ch] = 0.0;
    for (size_t q = 0; q < hw; q++, p += c)
      for (size_t ch = 0; ch < c; ch++) acc[ch] += (double)p[ch];
    for (size_t ch = 0; ch < c; ch++) y[ch] = hw ? (float)(acc[ch] / (double)hw) : 0.0f;
  }
  return NN_OK;
}

NN_OP(GlobalAvgPoolNhwc) = {.op_type = "GlobalAvgPoolNhwc",
                            .domain = "com.nnopt",
                            .infer = fgap_infer,
                            .prepare = fgap_prepare,
                            .run = fgap_run};
