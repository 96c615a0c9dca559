/*
 * test_q8_ops.c - QLinearConv and QLinearAdd through their op implementations (the
 * packed / depthwise / shifted / panel / im2col paths chosen in prepare) against an
 * oracle built here from the reference kernels: nn_x8_im2col__ref + nn_x8_gemm__ref +
 * bias + nn_requantize_one with the multiplier x_scale * w_scale / y_scale. Geometries
 * cover 1-D, 2-D and 3-D, strides 1-3, dilations, asymmetric and auto pads, groups,
 * depthwise 3x3 (with and without weight zero points), uint8 / int8 on every side, and
 * every ISA level of this machine (the table is switched with NNOPT_ISA per process,
 * so the CMake test runs this program once per level).
 * Plain C; ends with "N passed, N failed".
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/dispatch.h"
#include "kernels/ref/qgemm.h"
#include "kernels/ref/requant.h"
#include "ops/op.h"

static int g_pass, g_fail;

static uint64_t g_rng = 0x2545F4914F6CDD1Dull;
static uint32_t rnd(void) {
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return (uint32_t)(g_rng >> 16);
}

typedef struct conv_case {
  int rank;
  int64_t n, c, m, group;
  int64_t in[3], k[3], s[3], d[3], pb[3], pe[3];
  const char *auto_pad; /* NULL: explicit pads */
  int x_signed, w_signed, y_signed;
  int w_per_channel, w_zp_nonzero, bias;
  int weights_const;    /* weights known at prepare (packed) or not (reference path) */
} conv_case;

static void set_ints(nn_attr *a, const char *name, const int64_t *v, int n) {
  memset(a, 0, sizeof *a);
  a->name = (char *)name;
  a->type = NN_ATTR_INTS;
  a->n = n;
  a->ints = (int64_t *)v;
}

static nn_value val(nn_dtype dt, int ndim, const int64_t *dims, void *data, size_t esize) {
  nn_value v;
  memset(&v, 0, sizeof v);
  v.dtype = dt;
  v.ndim = ndim;
  size_t n = 1;
  for (int i = 0; i < ndim; i++) {
    v.dims[i] = dims[i];
    n *= (size_t)dims[i];
  }
  v.data = data;
  v.nbytes = v.capacity = n * esize;
  v.flags = NN_V_CONST;
  return v;
}

static void run_conv_case(const conv_case *cc) {
  const int r = cc->rank;
  const int64_t cg = cc->c / cc->group, mg = cc->m / cc->group;
  int64_t xd[5] = {cc->n, cc->c}, wd[5] = {cc->m, cg};
  int64_t in_size = 1, ksize = 1;
  for (int i = 0; i < r; i++) {
    xd[2 + i] = cc->in[i];
    wd[2 + i] = cc->k[i];
    in_size *= cc->in[i];
    ksize *= cc->k[i];
  }
  const size_t nx = (size_t)(cc->n * cc->c * in_size), nw = (size_t)(cc->m * cg * ksize);
  uint8_t *x = malloc(nx), *w = malloc(nw);
  for (size_t i = 0; i < nx; i++) x[i] = (uint8_t)rnd();
  for (size_t i = 0; i < nw; i++) w[i] = (uint8_t)rnd();
  float xs = 0.02f + (float)(rnd() % 100) * 1e-3f, ys = 0.05f + (float)(rnd() % 100) * 1e-2f;
  float *ws = malloc((size_t)cc->m * sizeof(float));
  uint8_t *wz = calloc((size_t)cc->m, 1);
  int32_t *bias = malloc((size_t)cc->m * sizeof(int32_t));
  for (int64_t i = 0; i < cc->m; i++) {
    ws[i] = 0.001f + (float)(rnd() % 1000) * 1e-5f;
    if (cc->w_zp_nonzero == 2) wz[i] = (uint8_t)(cc->w_signed ? (i & 1 ? 0x80 : 0x7F) : (i & 1 ? 0 : 255));
    else if (cc->w_zp_nonzero) wz[i] = (uint8_t)(rnd() % 7 - 3 + (cc->w_signed ? 0 : 128));
    else wz[i] = cc->w_signed ? 0 : 128;
    bias[i] = (int32_t)(rnd() % 4001) - 2000;
  }
  uint8_t xz = (uint8_t)rnd(), yz = (uint8_t)rnd();
  const nn_dtype xt = cc->x_signed ? NN_INT8 : NN_UINT8, wt = cc->w_signed ? NN_INT8 : NN_UINT8;
  const nn_dtype yt = cc->y_signed ? NN_INT8 : NN_UINT8;
  const int64_t one = 1, mdim = cc->m;
  nn_value vx = val(xt, r + 2, xd, x, 1), vxs = val(NN_FLOAT, 0, &one, &xs, 4),
           vxz = val(xt, 0, &one, &xz, 1), vw = val(wt, r + 2, wd, w, 1),
           vws = cc->w_per_channel ? val(NN_FLOAT, 1, &mdim, ws, 4) : val(NN_FLOAT, 0, &one, ws, 4),
           vwz = cc->w_per_channel ? val(wt, 1, &mdim, wz, 1) : val(wt, 0, &one, wz, 1),
           vys = val(NN_FLOAT, 0, &one, &ys, 4), vyz = val(yt, 0, &one, &yz, 1),
           vb = val(NN_INT32, 1, &mdim, bias, 4), vy;
  memset(&vy, 0, sizeof vy);
  nn_value *ins[9] = {&vx, &vxs, &vxz, &vw, &vws, &vwz, &vys, &vyz, cc->bias ? &vb : NULL};
  nn_value *outs[1] = {&vy};
  int64_t pads[6];
  for (int i = 0; i < r; i++) {
    pads[i] = cc->pb[i];
    pads[r + i] = cc->pe[i];
  }
  nn_attr attrs[6];
  int na = 0;
  set_ints(&attrs[na++], "kernel_shape", cc->k, r);
  set_ints(&attrs[na++], "strides", cc->s, r);
  set_ints(&attrs[na++], "dilations", cc->d, r);
  if (cc->auto_pad) {
    memset(&attrs[na], 0, sizeof attrs[na]);
    attrs[na].name = "auto_pad";
    attrs[na].type = NN_ATTR_STRING;
    attrs[na].s.data = (void *)cc->auto_pad;
    attrs[na].s.len = strlen(cc->auto_pad);
    na++;
  } else {
    set_ints(&attrs[na++], "pads", pads, 2 * r);
  }
  memset(&attrs[na], 0, sizeof attrs[na]);
  attrs[na].name = "group";
  attrs[na].type = NN_ATTR_INT;
  attrs[na++].i = cc->group;
  nn_node node;
  memset(&node, 0, sizeof node);
  node.name = "qconv";
  node.op_type = "QLinearConv";
  node.domain = "";
  node.n_attrs = na;
  node.attrs = attrs;
  nn_op_ctx ctx;
  memset(&ctx, 0, sizeof ctx);
  ctx.node = &node;
  ctx.def = nn_op_find("QLinearConv", "");
  ctx.opset = 13;
  ctx.n_in = 9;
  ctx.n_out = 1;
  ctx.in = ins;
  ctx.out = outs;
  int ok = ctx.def && !ctx.def->infer(&ctx);
  void *w_saved = vw.data;
  if (ok && !cc->weights_const) vw.data = NULL;
  ok = ok && !ctx.def->prepare(&ctx);
  vw.data = w_saved;
  uint8_t *y = NULL;
  if (ok) {
    ctx.scratch = ctx.scratch_size ? aligned_alloc(64, (ctx.scratch_size + 63) / 64 * 64) : NULL;
    vy.data = y = malloc(vy.nbytes ? vy.nbytes : 1);
    ok = !ctx.def->run(&ctx);
  }
  if (!ok) {
    g_fail++;
    printf("FAIL [%s] conv case: op failed: %s\n", nn_isa_name(nn_kernels_get()->isa),
           nn_last_error());
  } else {
    /* Oracle. */
    nn_conv_geom g;
    memset(&g, 0, sizeof g);
    g.rank = r;
    g.channels = cg;
    int64_t out_size = 1;
    for (int i = 0; i < r; i++) {
      g.in[i] = cc->in[i];
      g.kernel[i] = cc->k[i];
      g.stride[i] = cc->s[i];
      g.dilation[i] = cc->d[i];
      g.out[i] = vy.dims[2 + i];
      int64_t pb = cc->pb[i];
      if (cc->auto_pad) {
        int64_t ek = (cc->k[i] - 1) * cc->d[i] + 1;
        int64_t total = (g.out[i] - 1) * cc->s[i] + ek - cc->in[i];
        if (total < 0) total = 0;
        pb = !strcmp(cc->auto_pad, "SAME_UPPER") ? total / 2 : total - total / 2;
      }
      g.pad_begin[i] = pb;
      out_size *= g.out[i];
    }
    uint8_t *col = malloc((size_t)(cg * ksize * out_size));
    int32_t *acc = malloc((size_t)(mg * out_size) * sizeof(int32_t));
    int bad = 0;
    for (int64_t n = 0; n < cc->n && !bad; n++)
      for (int64_t gi = 0; gi < cc->group && !bad; gi++) {
        nn_x8_im2col__ref(&g, x + (n * cc->c + gi * cg) * in_size, xz, col);
        nn_x8_gemm__ref(cc->w_signed, cc->x_signed, (size_t)mg, (size_t)out_size,
                        (size_t)(cg * ksize), w + gi * mg * cg * ksize, (size_t)(cg * ksize),
                        cc->w_per_channel ? wz + gi * mg : wz, cc->w_per_channel ? 1 : 0, col,
                        (size_t)out_size, &xz, 0, acc, (size_t)out_size);
        for (int64_t mi = 0; mi < mg && !bad; mi++) {
          const int64_t oc = gi * mg + mi;
          const float mult = xs * ws[cc->w_per_channel ? oc : 0] / ys;
          const int32_t yzv = cc->y_signed ? (int8_t)yz : yz;
          for (int64_t j = 0; j < out_size; j++) {
            int32_t t = acc[mi * out_size + j];
            if (cc->bias) t = (int32_t)((uint32_t)t + (uint32_t)bias[oc]);
            int32_t want = nn_requantize_one(t, mult, yzv, cc->y_signed ? -128 : 0,
                                             cc->y_signed ? 127 : 255);
            uint8_t b = y[(n * cc->m + oc) * out_size + j];
            int32_t got = cc->y_signed ? (int8_t)b : b;
            if (got != want) {
              printf("FAIL [%s] conv rank %d c=%lld m=%lld g=%lld k=%lld s=%lld d=%lld "
                     "in=%lldx%lld xs=%d ws=%d ys=%d wz=%d const=%d: y[%lld][%lld][%lld] = %d, "
                     "want %d\n", nn_isa_name(nn_kernels_get()->isa), r, (long long)cc->c,
                     (long long)cc->m, (long long)cc->group, (long long)cc->k[0],
                     (long long)cc->s[0], (long long)cc->d[0], (long long)cc->in[0],
                     (long long)(r > 1 ? cc->in[1] : 1), cc->x_signed, cc->w_signed,
                     cc->y_signed, cc->w_zp_nonzero, cc->weights_const, (long long)n,
                     (long long)oc, (long long)j, got, want);
              bad = 1;
              break;
            }
          }
        }
      }
    if (bad) g_fail++;
    else g_pass++;
    free(col);
    free(acc);
  }
  if (ctx.def && ctx.def->release && ctx.state) ctx.def->release(ctx.state);
  free(ctx.scratch);
  free(y);
  free(x), free(w), free(ws), free(wz), free(bias);
}

static void test_conv(void) {
  /* Model-like 2-D geometries: 1x1, 3x3 s1/s2 p1, depthwise, 7x7 s2 p3, 1x1 s2. */
  static const int64_t geo[][7] = {
      /* c, m, group, k, s, hw, pad */
      {16, 24, 1, 1, 1, 28, 0},  {24, 16, 1, 1, 1, 7, 0},   {64, 64, 1, 3, 1, 56, 1},
      {64, 64, 1, 3, 1, 14, 1},  {32, 48, 1, 3, 2, 28, 1},  {32, 32, 32, 3, 1, 29, 1},
      {24, 24, 24, 3, 2, 30, 1}, {3, 16, 1, 7, 2, 40, 3},   {64, 32, 1, 1, 2, 28, 0},
      {96, 96, 96, 3, 2, 7, 1},  {20, 20, 20, 3, 1, 5, 0},  {130, 9, 1, 3, 1, 12, 1},
      {8, 8, 2, 3, 1, 17, 1},    {12, 18, 3, 5, 3, 23, 2},  {5, 7, 1, 2, 2, 9, 0},
      {600, 10, 1, 1, 1, 5, 0},  {40, 40, 40, 3, 1, 64, 1}, {33, 17, 1, 3, 1, 70, 1},
      /* depthwise on small planes, channels not a multiple of 16 (the channels-at-once
       * kernel, nn_q8_dwconv3x3_cl, where the op uses it) */
      {40, 40, 40, 3, 1, 14, 1}, {37, 37, 37, 3, 2, 14, 1}, {17, 17, 17, 3, 1, 28, 1},
      {19, 19, 19, 3, 2, 9, 1},
      /* small maps: the gathered (panel) im2col rather than shifted views */
      {16, 8, 1, 3, 1, 3, 1},    {6, 10, 1, 7, 1, 8, 3},    {9, 4, 1, 5, 2, 6, 2},
  };
  int idx = 0;
  for (size_t i = 0; i < sizeof geo / sizeof geo[0]; i++)
    for (int var = 0; var < 5; var++, idx++) {
      conv_case cc;
      memset(&cc, 0, sizeof cc);
      cc.rank = 2;
      cc.n = var == 4 ? 2 : 1;
      cc.c = geo[i][0];
      cc.m = geo[i][1];
      cc.group = geo[i][2];
      for (int d = 0; d < 2; d++) {
        cc.in[d] = geo[i][5] + (d && var == 2 ? 3 : 0);
        cc.k[d] = geo[i][3];
        cc.s[d] = geo[i][4];
        cc.d[d] = 1;
        cc.pb[d] = geo[i][6];
        cc.pe[d] = geo[i][6] + (var == 3 && d == 1 ? 1 : 0);
      }
      cc.x_signed = var == 1;
      cc.w_signed = var != 2;
      cc.y_signed = var == 3;
      cc.w_per_channel = var != 4;
      cc.w_zp_nonzero = var == 2 || var == 3;
      cc.bias = var != 1;
      cc.weights_const = 1;
      run_conv_case(&cc);
      if (var == 0) {
        cc.weights_const = 0;
        run_conv_case(&cc);
      }
    }
  /* Dilations, auto pads, other ranks. */
  conv_case cc;
  memset(&cc, 0, sizeof cc);
  cc.rank = 2, cc.n = 1, cc.c = 8, cc.m = 12, cc.group = 1, cc.w_signed = 1, cc.bias = 1;
  cc.w_per_channel = 1, cc.weights_const = 1;
  for (int d = 0; d < 2; d++) {
    cc.in[d] = 31, cc.k[d] = 3, cc.s[d] = 1, cc.d[d] = 2, cc.pb[d] = 2, cc.pe[d] = 2;
  }
  run_conv_case(&cc);
  cc.s[0] = cc.s[1] = 2;
  run_conv_case(&cc);
  cc.auto_pad = "SAME_UPPER";
  run_conv_case(&cc);
  cc.auto_pad = "SAME_LOWER";
  cc.s[0] = 1;
  run_conv_case(&cc);
  cc.auto_pad = "VALID";
  run_conv_case(&cc);
  cc.auto_pad = NULL;
  cc.rank = 1, cc.in[0] = 50, cc.k[0] = 5, cc.s[0] = 1, cc.d[0] = 1, cc.pb[0] = 2, cc.pe[0] = 1;
  run_conv_case(&cc);
  cc.s[0] = 2;
  run_conv_case(&cc);
  cc.rank = 3;
  for (int d = 0; d < 3; d++) {
    cc.in[d] = 6 + d, cc.k[d] = 3, cc.s[d] = 1 + (d == 2), cc.d[d] = 1, cc.pb[d] = 1, cc.pe[d] = 1;
  }
  run_conv_case(&cc);
  /* Extreme weight zero points (0 / 255, -128 / 127), as in the ONNX node test. */
  for (int ws = 0; ws < 2; ws++)
    for (int pc = 0; pc < 2; pc++) {
      memset(&cc, 0, sizeof cc);
      cc.rank = 2, cc.n = 1, cc.c = pc ? 5 : 1, cc.m = pc ? 3 : 1, cc.group = 1;
      cc.w_signed = ws, cc.w_per_channel = pc, cc.w_zp_nonzero = 2, cc.weights_const = 1;
      for (int d = 0; d < 2; d++) cc.in[d] = 7, cc.k[d] = 1, cc.s[d] = 1, cc.d[d] = 1;
      run_conv_case(&cc);
      cc.bias = 1, cc.k[0] = cc.k[1] = 3, cc.pb[0] = cc.pe[1] = 1;
      run_conv_case(&cc);
    }
  /* Depthwise with implicit padding (uint8 input, planes >= 96 wide): pads 0 / 1 / 2,
   * symmetric or not, stride 1 / 2, odd widths, maps of 1 to 30 rows; two images so the
   * last planes (whose slack reads would pass the tensor's end) take the padded copy. */
  static const int64_t dwhw[][2] = {{27, 96}, {9, 97}, {4, 113}, {30, 99}, {3, 101}};
  for (int pad = 0; pad < 3; pad++)
    for (int pe = 0; pe < 2; pe++)
      for (int s = 1; s <= 2; s++)
        for (size_t i = 0; i < sizeof dwhw / sizeof dwhw[0]; i++) {
          memset(&cc, 0, sizeof cc);
          cc.rank = 2, cc.n = 2, cc.c = cc.m = cc.group = 3 + (int64_t)i % 3;
          cc.w_signed = 1, cc.y_signed = (pad + s) & 1, cc.bias = 1, cc.w_per_channel = 1;
          cc.w_zp_nonzero = pe, cc.weights_const = 1;
          for (int d = 0; d < 2; d++) {
            cc.in[d] = dwhw[i][d], cc.k[d] = 3, cc.s[d] = s, cc.d[d] = 1;
            cc.pb[d] = pad, cc.pe[d] = pad + (pe && d == (int)(i & 1));
          }
          if (cc.in[0] + cc.pb[0] + cc.pe[0] < 3) continue;
          run_conv_case(&cc);
        }
  /* Strided convolutions around the stride-phase path: 3x3 s2 and 1x1 s2 (one phase
   * used of four), odd and even widths, pads 0 / 1. */
  static const int64_t sgeo[][4] = {/* k, hw, pad, c */
                                    {3, 31, 1, 6}, {3, 28, 0, 5}, {1, 29, 0, 7},
                                    {1, 56, 0, 4}, {1, 27, 1, 3},  {3, 57, 1, 3}};
  for (size_t i = 0; i < sizeof sgeo / sizeof sgeo[0]; i++) {
    memset(&cc, 0, sizeof cc);
    cc.rank = 2, cc.n = 1, cc.c = sgeo[i][3], cc.m = 9, cc.group = 1, cc.w_signed = 1;
    cc.bias = 1, cc.w_per_channel = 1, cc.weights_const = 1, cc.w_zp_nonzero = (int)(i & 1);
    for (int d = 0; d < 2; d++) {
      cc.in[d] = sgeo[i][1] + d, cc.k[d] = sgeo[i][0], cc.s[d] = 2, cc.d[d] = 1;
      cc.pb[d] = cc.pe[d] = sgeo[i][2];
    }
    run_conv_case(&cc);
  }
  /* Depthwise whose weights minus zero point do not fit int8 (falls back to the GEMM). */
  memset(&cc, 0, sizeof cc);
  cc.rank = 2, cc.n = 1, cc.c = 8, cc.m = 8, cc.group = 8, cc.w_signed = 0, cc.bias = 1;
  cc.w_per_channel = 1, cc.w_zp_nonzero = 0, cc.weights_const = 1;
  for (int d = 0; d < 2; d++) {
    cc.in[d] = 20, cc.k[d] = 3, cc.s[d] = 1, cc.d[d] = 1, cc.pb[d] = 1, cc.pe[d] = 1;
  }
  run_conv_case(&cc);
  (void)idx;
}

/* QLinearAdd (com.microsoft) with same shapes, a scalar operand and broadcast. */
static void test_add(void) {
  const nn_op_def *def = nn_op_find("QLinearAdd", "com.microsoft");
  static const int64_t shapes[][2][4] = {
      {{1, 24, 56, 56}, {1, 24, 56, 56}}, {{2, 3, 5, 7}, {1, 1, 1, 1}},
      {{1, 1, 1, 1}, {1, 8, 9, 10}},      {{1, 16, 7, 7}, {1, 16, 1, 1}},
      {{1, 1, 1, 33}, {1, 1, 1, 33}},
  };
  for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
    for (int sg = 0; sg < 2; sg++) {
      const nn_dtype dt = sg ? NN_INT8 : NN_UINT8;
      size_t na = 1, nb = 1;
      for (int d = 0; d < 4; d++) {
        na *= (size_t)shapes[si][0][d];
        nb *= (size_t)shapes[si][1][d];
      }
      uint8_t *a = malloc(na), *b = malloc(nb);
      for (size_t i = 0; i < na; i++) a[i] = (uint8_t)rnd();
      for (size_t i = 0; i < nb; i++) b[i] = (uint8_t)rnd();
      float sa = 0.031f, sb = 0.017f + (float)(rnd() % 10) * 1e-3f, sc = 0.04f;
      uint8_t za = (uint8_t)rnd(), zb = (uint8_t)rnd(), zc = (uint8_t)rnd();
      const int64_t one = 1;
      nn_value va = val(dt, 4, shapes[si][0], a, 1), vsa = val(NN_FLOAT, 0, &one, &sa, 4),
               vza = val(dt, 0, &one, &za, 1), vb = val(dt, 4, shapes[si][1], b, 1),
               vsb = val(NN_FLOAT, 0, &one, &sb, 4), vzb = val(dt, 0, &one, &zb, 1),
               vsc = val(NN_FLOAT, 0, &one, &sc, 4), vzc = val(dt, 0, &one, &zc, 1), vy;
      memset(&vy, 0, sizeof vy);
      nn_value *ins[8] = {&va, &vsa, &vza, &vb, &vsb, &vzb, &vsc, &vzc};
      nn_value *outs[1] = {&vy};
      nn_node node;
      memset(&node, 0, sizeof node);
      node.name = "qadd";
      node.op_type = "QLinearAdd";
      node.domain = "com.microsoft";
      nn_op_ctx ctx;
      memset(&ctx, 0, sizeof ctx);
      ctx.node = &node;
      ctx.def = def;
      ctx.opset = 1;
      ctx.n_in = 8;
      ctx.n_out = 1;
      ctx.in = ins;
      ctx.out = outs;
      int ok = def && !def->infer(&ctx);
      uint8_t *y = ok ? malloc(vy.nbytes) : NULL;
      vy.data = y;
      ok = ok && !def->run(&ctx);
      if (ok) {
        /* Oracle: ONNX Runtime's (MLAS) expression with numpy broadcasting: zero points
         * folded into one constant, two fused multiply-adds, B first where A is the
         * broadcast operand of a run (a scalar A, or a last dimension of 1). */
        const float ra = sa / sc, rb = sb / sc;
        const int32_t qmin = sg ? -128 : 0, qmax = sg ? 127 : 255;
        const int32_t zav = sg ? (int8_t)za : za, zbv = sg ? (int8_t)zb : zb;
        const int32_t zcv = sg ? (int8_t)zc : zc;
        const float rzb = rb * (float)zbv, rza = ra * (float)zav;
        const float fixed_ab = (float)zcv - fmaf(ra, (float)zav, rzb);
        const float fixed_ba = (float)zcv - fmaf(rb, (float)zbv, rza);
        size_t ny = 1, na = 1, nb = 1;
        for (int d = 0; d < 4; d++) {
          ny *= (size_t)vy.dims[d];
          na *= (size_t)shapes[si][0][d];
          nb *= (size_t)shapes[si][1][d];
        }
        const int b_first = !(na == ny && (nb == ny || nb == 1)) &&
                            ((na == 1 && nb == ny) ||
                             (shapes[si][0][3] == 1 && shapes[si][1][3] != 1));
        for (size_t i = 0; i < ny && ok; i++) {
          size_t rem = i, ia = 0, ib = 0, sta = 1, stb = 1;
          for (int d = 3; d >= 0; d--) {
            size_t o = rem % (size_t)vy.dims[d];
            rem /= (size_t)vy.dims[d];
            ia += (shapes[si][0][d] == 1 ? 0 : o) * sta;
            ib += (shapes[si][1][d] == 1 ? 0 : o) * stb;
            sta *= (size_t)shapes[si][0][d];
            stb *= (size_t)shapes[si][1][d];
          }
          int32_t qa = sg ? (int8_t)a[ia] : a[ia], qb = sg ? (int8_t)b[ib] : b[ib];
          const float v = b_first ? fmaf((float)qb, rb, fmaf((float)qa, ra, fixed_ba))
                                  : fmaf((float)qa, ra, fmaf((float)qb, rb, fixed_ab));
          uint8_t want = (uint8_t)nn_quantize_round_sat(v, 0, qmin, qmax);
          if (y[i] != want) {
            printf("FAIL [%s] QLinearAdd shape %zu signed %d: y[%zu] = %d, want %d\n",
                   nn_isa_name(nn_kernels_get()->isa), si, sg, i, y[i], want);
            ok = 0;
          }
        }
      } else {
        printf("FAIL QLinearAdd shape %zu: op failed: %s\n", si, nn_last_error());
      }
      if (ok) g_pass++;
      else g_fail++;
      free(a), free(b), free(y);
    }
}

/* QLinearMatMul: a [batch, m, k] (or 1-D) times a 2-D b, constant (packed path) or not. */
static void matmul_case(int64_t batch, int64_t m, int64_t k, int64_t n, int a_signed,
                        int b_signed, int y_signed, int per_col, int zp_kind, int b_const) {
  const int a1d = batch == 0;
  const int64_t rows = a1d ? 1 : batch * m;
  uint8_t *a = malloc((size_t)(rows * k) + 1), *b = malloc((size_t)(k * n) + 1);
  for (int64_t i = 0; i < rows * k; i++) a[i] = (uint8_t)rnd();
  for (int64_t i = 0; i < k * n; i++) b[i] = (uint8_t)rnd();
  float as = 0.02f + (float)(rnd() % 50) * 1e-3f, ys = 0.3f + (float)(rnd() % 50) * 1e-2f;
  float *bs = malloc((size_t)n * sizeof(float));
  uint8_t *bz = malloc((size_t)n), az = (uint8_t)rnd(), yz = (uint8_t)rnd();
  for (int64_t j = 0; j < n; j++) {
    bs[j] = 0.001f + (float)(rnd() % 1000) * 1e-5f;
    bz[j] = zp_kind == 0 ? (b_signed ? 0 : 128)
                         : zp_kind == 1 ? (uint8_t)rnd() : (uint8_t)(j & 1 ? 0 : 255);
  }
  const nn_dtype at = a_signed ? NN_INT8 : NN_UINT8, bt = b_signed ? NN_INT8 : NN_UINT8;
  const nn_dtype yt = y_signed ? NN_INT8 : NN_UINT8;
  const int64_t one = 1, ad3[3] = {batch, m, k}, ad1[1] = {k}, bd[2] = {k, n}, nd = n;
  nn_value va = a1d ? val(at, 1, ad1, a, 1) : val(at, 3, ad3, a, 1),
           vas = val(NN_FLOAT, 0, &one, &as, 4), vaz = val(at, 0, &one, &az, 1),
           vb = val(bt, 2, bd, b, 1),
           vbs = per_col ? val(NN_FLOAT, 1, &nd, bs, 4) : val(NN_FLOAT, 0, &one, bs, 4),
           vbz = per_col ? val(bt, 1, &nd, bz, 1) : val(bt, 0, &one, bz, 1),
           vys = val(NN_FLOAT, 0, &one, &ys, 4), vyz = val(yt, 0, &one, &yz, 1), vy;
  if (!b_const) vb.flags = 0;
  memset(&vy, 0, sizeof vy);
  nn_value *ins[8] = {&va, &vas, &vaz, &vb, &vbs, &vbz, &vys, &vyz};
  nn_value *outs[1] = {&vy};
  nn_node node;
  memset(&node, 0, sizeof node);
  node.name = "qmm";
  node.op_type = "QLinearMatMul";
  node.domain = "";
  nn_op_ctx ctx;
  memset(&ctx, 0, sizeof ctx);
  ctx.node = &node;
  ctx.def = nn_op_find("QLinearMatMul", "");
  ctx.opset = 13;
  ctx.n_in = 8;
  ctx.n_out = 1;
  ctx.in = ins;
  ctx.out = outs;
  int ok = ctx.def && !ctx.def->infer(&ctx) && !ctx.def->prepare(&ctx);
  uint8_t *y = NULL;
  if (ok) {
    ctx.scratch = ctx.scratch_size ? aligned_alloc(64, (ctx.scratch_size + 63) / 64 * 64) : NULL;
    vy.data = y = malloc(vy.nbytes ? vy.nbytes : 1);
    ok = !ctx.def->run(&ctx);
  }
  if (!ok) {
    printf("FAIL QLinearMatMul: op failed: %s\n", nn_last_error());
    g_fail++;
  } else {
    int32_t *acc = malloc((size_t)(rows * n) * sizeof(int32_t));
    nn_x8_gemm__ref(a_signed, b_signed, (size_t)rows, (size_t)n, (size_t)k, a, (size_t)k, &az,
                    0, b, (size_t)n, bz, per_col ? 1 : 0, acc, (size_t)n);
    int bad = 0;
    const int32_t yzv = y_signed ? (int8_t)yz : yz;
    for (int64_t i = 0; i < rows && !bad; i++)
      for (int64_t j = 0; j < n; j++) {
        const float mult = as * bs[per_col ? j : 0] / ys;
        int32_t want = nn_requantize_one(acc[i * n + j], mult, yzv, y_signed ? -128 : 0,
                                         y_signed ? 127 : 255);
        int32_t got = y_signed ? (int8_t)y[i * n + j] : y[i * n + j];
        if (got != want) {
          printf("FAIL [%s] QLinearMatMul batch=%lld m=%lld k=%lld n=%lld as=%d bs=%d ys=%d "
                 "pc=%d zp=%d const=%d: y[%lld][%lld] = %d, want %d\n",
                 nn_isa_name(nn_kernels_get()->isa), (long long)batch, (long long)m,
                 (long long)k, (long long)n, a_signed, b_signed, y_signed, per_col, zp_kind,
                 b_const, (long long)i, (long long)j, got, want);
          bad = 1;
          break;
        }
      }
    if (bad) g_fail++;
    else g_pass++;
    free(acc);
  }
  if (ctx.def && ctx.def->release && ctx.state) ctx.def->release(ctx.state);
  free(ctx.scratch);
  free(y), free(a), free(b), free(bs), free(bz);
}

static void test_matmul(void) {
  static const int64_t shapes[][4] = {
      {1, 1, 1, 1}, {1, 7, 13, 9}, {2, 5, 64, 33}, {1, 128, 96, 40}, {3, 17, 31, 65},
      {0, 1, 50, 70}, {1, 33, 600, 8}, {2, 40, 9, 100},
  };
  int v = 0;
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
    for (int var = 0; var < 6; var++, v++)
      matmul_case(shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][3], var & 1,
                  (var >> 1) & 1, var == 3 || var == 4, var != 2, var % 3, var != 5);
}

int main(void) {
  test_conv();
  test_matmul();
  test_add();
  printf("level %s\n", nn_isa_name(nn_kernels_get()->isa));
  printf("%d passed, %d failed\n", g_pass, g_fail);
  return g_fail ? 1 : 0;
}
