/*
 * f32_conv.c - float32 convolution plans (see f32_conv.h): choose the path once,
 * pack the weights of each group as the GEMM's A, and run over images and groups
 * with the work of each GEMM (or the depthwise planes) split over the pool.
 */
#include "kernels/f32_conv.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/f32_gemm.h"
#include "runtime/threadpool.h"

enum { PATH_GEMM, PATH_POINTWISE, PATH_DW3X3, PATH_TRANSPOSED, PATH_SHIFTED };

struct nn_f32_conv_plan {
  nn_kernels k;
  nn_conv_params p;
  int path;
  size_t cg, mg, kk, in_sz, out_sz;
  float *w;      /* PATH_DW3X3: M x 9 copy; GEMM paths: packed A per group */
  size_t wg;     /* floats of one group's packed weights */
  float *bias;   /* M values (zeros without bias) */
  float minmax[2];
  int clamp;
  /* GEMM paths with few output positions: compute Y^T = X'^T W^T (positions as rows,
   * channels as columns, weights packed as B) into the workspace and transpose, so
   * tiles are not mostly padding (7x7: 49 columns fill 64 lanes, but 56 rows). */
  int swap;
  /* PATH_SHIFTED (2-D, not swapped): the input is copied into zero-padded grid planes,
   * one per stride phase (nphy x nphx planes of hp x wp per channel; see
   * nn_f32_conv_shift_ctx), or read as it is (copy == 0: stride 1, no padding, 1 column
   * tap); the GEMM runs over oh x wp positions with row k of B at koff[k], then each
   * channel's rows are compacted to ow columns (wide != 0: wp > ow). */
  size_t hp, wp, nphy, nphx;
  int copy, wide, direct;
  /* with swap: positions as rows read in place by the direct-A microkernel into the
   * workspace, then transposed into the output */
  int swap_direct;
  int32_t *koff;
  /* PATH_DW3X3 on narrow planes: blocks of 16 channels (f32_dwconv3x3c16), each thread
   * with dw_scratch floats of the workspace */
  size_t dw_scratch;
};

/* Grid geometry of the shifted path: phase-plane rows hp and columns wp. */
static void grid_dims(const nn_conv_params *p, size_t *hp, size_t *wp) {
  *hp = (size_t)(p->out[1] + (p->kernel[1] - 1) * p->dilation[1] / p->stride[1]);
  *wp = (size_t)(p->out[2] + (p->kernel[2] - 1) * p->dilation[2] / p->stride[2]);
}

/* Shifted path: worth it when the dropped columns cost less than the im2col packing
 * they replace (a 3x3 conv at width 14 computes 16/14 of the outputs); with the direct
 * microkernel nothing is packed, so only the dropped columns count. */
static int shifted_ok(const nn_conv_params *p, int direct) {
  if (p->in[0] != 1 || p->out[0] != 1 || p->kernel[0] != 1) return 0;
  if (p->stride[1] < 1 || p->stride[2] < 1 || p->out[1] <= 0 || p->out[2] <= 0) return 0;
  if (!direct && (p->stride[1] != 1 || p->stride[2] != 1 || p->kernel[1] * p->kernel[2] <= 1))
    return 0;
  size_t hp, wp;
  grid_dims(p, &hp, &wp);
  return direct ? wp <= (size_t)p->out[2] * 2 : wp * 5 <= (size_t)p->out[2] * 6;
}

static int is_pointwise(const nn_conv_params *p) {
  for (int d = 0; d < NN_CONV_SP; d++)
    if (p->kernel[d] != 1 || p->stride[d] != 1 || p->pad_begin[d] != 0 || p->in[d] != p->out[d])
      return 0;
  return 1;
}

static int is_dw3x3(const nn_kernels *k, const nn_conv_params *p) {
  if (p->group != p->in_ch || p->group != p->out_ch) return 0;
  if (p->in[0] != 1 || p->out[0] != 1 || p->kernel[0] != 1 || p->pad_begin[0] != 0) return 0;
  if (p->kernel[1] != 3 || p->kernel[2] != 3) return 0;
  if (p->dilation[1] != 1 || p->dilation[2] != 1) return 0;
  if (p->stride[1] != p->stride[2] || p->stride[1] < 1 || p->stride[1] > 2) return 0;
  if (p->pad_begin[1] > 2 || p->pad_begin[2] > 2) return 0;
  return k->f32_dwconv3x3[p->stride[1] - 1] != NULL;
}

/* The shifted path's grid (see plan.hp): dimensions, phases and the row offsets koff of
 * every k = (c, kh, kw) of one group. Returns 1, 0 when the offsets would overflow 32
 * bits (the plan keeps its other path), or -1 when out of memory. */
static int grid_setup(nn_f32_conv_plan *pl, int direct) { /* -1: out of memory */
  const nn_conv_params *p = &pl->p;
  const int64_t sy = p->stride[1], sx = p->stride[2], kh = p->kernel[1], kw = p->kernel[2];
  const int64_t dh = p->dilation[1], dw = p->dilation[2];
  size_t hp, wp;
  grid_dims(p, &hp, &wp);
  const size_t nphy = (size_t)(sy < (kh - 1) * dh + 1 ? sy : (kh - 1) * dh + 1);
  const size_t nphx = (size_t)(sx < (kw - 1) * dw + 1 ? sx : (kw - 1) * dw + 1);
  if ((double)pl->cg * (double)(nphy * nphx) * (double)(hp * wp) + (double)wp >= 2147483647.0)
    return 0;
  pl->path = PATH_SHIFTED;
  pl->direct = direct;
  pl->hp = hp;
  pl->wp = wp;
  pl->nphy = nphy;
  pl->nphx = nphx;
  pl->copy = !(sy == 1 && sx == 1 && p->pad_begin[1] == 0 && p->pad_begin[2] == 0 &&
               (kw - 1) * dw == 0 && pl->hp == (size_t)p->in[1] && pl->wp == (size_t)p->in[2]);
  pl->wide = pl->wp != (size_t)p->out[2];
  pl->koff = malloc(pl->kk * sizeof *pl->koff + 1);
  if (!pl->koff) return -1;
  size_t k = 0;
  for (size_t c = 0; c < pl->cg; c++)
    for (int64_t i = 0; i < kh; i++)
      for (int64_t j = 0; j < kw; j++, k++) {
        const int64_t ty = i * dh, tx = j * dw;
        /* phases used by some tap: tap offset t*d reads phase (t*d) % s, which is below
         * nphy (nphx) as t*d <= (k-1)*d */
        const size_t ph = (size_t)((ty % sy) * (int64_t)pl->nphx + tx % sx);
        pl->koff[k] = (int32_t)(((c * pl->nphy * pl->nphx + ph) * pl->hp + (size_t)(ty / sy)) *
                                    pl->wp +
                                (size_t)(tx / sx));
      }
  return 1;
}

nn_f32_conv_plan *nn_f32_conv_plan_create(const nn_kernels *k, const nn_conv_params *p,
                                          const float *w, const float *b,
                                          const float *minmax) {
  if (!k->f32_gemm_ukernel || p->group < 1) return NULL;
  nn_f32_conv_plan *pl = calloc(1, sizeof *pl);
  if (!pl) return NULL;
  pl->k = *k;
  pl->p = *p;
  pl->cg = (size_t)(p->in_ch / p->group);
  pl->mg = (size_t)(p->out_ch / p->group);
  pl->kk = pl->cg * (size_t)(p->kernel[0] * p->kernel[1] * p->kernel[2]);
  pl->in_sz = (size_t)(p->in[0] * p->in[1] * p->in[2]);
  pl->out_sz = (size_t)(p->out[0] * p->out[1] * p->out[2]);
  if (minmax) {
    pl->clamp = 1;
    pl->minmax[0] = minmax[0];
    pl->minmax[1] = minmax[1];
  }
  const size_t M = (size_t)p->out_ch;
  pl->bias = calloc(M ? M : 1, sizeof *pl->bias);
  if (!pl->bias) goto fail;
  if (b) memcpy(pl->bias, b, M * sizeof *b);
  if (is_dw3x3(k, p)) {
    pl->path = PATH_DW3X3;
    /* channels in lanes where a plane's rows fill few lanes and its grid copy stays in L1 */
    if (k->f32_dwconv3x3c16 && p->out[2] < 16 &&
        (size_t)((p->out[1] - 1) * p->stride[1] + 3) * (size_t)((p->out[2] - 1) * p->stride[2] + 3) <= 1156)
      pl->dw_scratch = (nn_f32_dwconv3x3c16_scratch((size_t)p->in[1], (size_t)p->in[2],
                                                     (size_t)p->out[1], (size_t)p->out[2],
                                                     (size_t)p->stride[1]) + 15) / 16 * 16;
    pl->w = malloc(M * 9 * sizeof *pl->w + 1);
    if (!pl->w) goto fail;
    memcpy(pl->w, w, M * 9 * sizeof *w);
    return pl;
  }
  pl->path = is_pointwise(p) ? PATH_POINTWISE : PATH_GEMM;
  const size_t mr = k->f32_gemm_mr, nr = k->f32_gemm_nr;
  /* lanes computed per useful output, as laid out (channels x positions) or swapped */
  const double fill = (double)((pl->out_sz + nr - 1) / nr * nr) / (double)pl->out_sz;
  const double fill_t = (double)((pl->out_sz + mr - 1) / mr * mr) / (double)pl->out_sz *
                        (double)((pl->mg + nr - 1) / nr * nr) / (double)pl->mg;
  /* the transpose back costs about what 300 MACs per output do: worth it for deep K */
  pl->swap = pl->out_sz && pl->mg && pl->out_sz <= 1024 && pl->kk >= 512 &&
             fill_t < 0.95 * fill;
  const int direct = k->f32_gemm_ukernel_direct != NULL;
  const int direct_a = k->f32_gemm_ukernel_direct_a != NULL;
  if ((pl->path == PATH_GEMM || ((direct || direct_a) && pl->path == PATH_POINTWISE)) &&
      shifted_ok(p, direct || direct_a)) {
    size_t hp, wp;
    grid_dims(p, &hp, &wp);
    const size_t ow = (size_t)p->out[2], amr = k->f32_gemm_direct_a_mr;
    /* lanes per useful output: B read in place (positions as columns on the wp-wide
     * grid, dropped columns included), A read in place (positions as rows, tiles
     * within an output row; the transpose back costs about 32 MACs per output) */
    const double fill_g = (double)(((size_t)p->out[1] * wp + nr - 1) / nr * nr) /
                          (double)pl->out_sz * (double)((pl->mg + mr - 1) / mr * mr) /
                          (double)pl->mg;
    const double fill_a = direct_a && (wp == ow || ow % amr == 0)
                              ? (double)((pl->out_sz + amr - 1) / amr * amr) /
                                    (double)pl->out_sz * (double)((pl->mg + nr - 1) / nr * nr) /
                                    (double)pl->mg * (1.0 + 32.0 / (double)pl->kk)
                              : 1e30;
    /* read in place, the grid beats the swapped GEMM (im2col packing, transpose) unless it
     * computes many more lanes (measured: 7x7 outputs, 64 lanes for 49, still win) */
    const int use_a = fill_a < 0.97 * (direct ? fill_g : 1e30) && fill_a < 1e29;
    if (use_a || (direct && (!pl->swap || fill_g <= 1.2 * fill_t))) {
      const int g = grid_setup(pl, !use_a);
      if (g < 0) goto fail;
      if (g > 0) {
        pl->swap = use_a; /* weights packed as B for positions as rows */
        pl->swap_direct = use_a;
      }
    }
  }
  pl->wg = pl->swap ? nn_f32_packed_b_size(pl->kk, pl->mg, nr)
                    : nn_f32_packed_a_size(pl->mg, pl->kk, mr);
  const size_t bytes = (pl->wg * (size_t)p->group * sizeof(float) + 63) / 64 * 64;
  pl->w = aligned_alloc(64, bytes ? bytes : 64);
  if (!pl->w) goto fail;
  for (int64_t g = 0; g < p->group; g++) {
    const float *wg = w + (size_t)g * pl->mg * pl->kk;
    if (pl->swap) /* B = W^T, W stored mg x kk */
      nn_f32_pack_b(wg, pl->kk, 1, 0, pl->kk, 0, pl->mg, nr, pl->w + (size_t)g * pl->wg);
    else
      nn_f32_pack_a(wg, pl->kk, 0, 1.0f, 0, pl->mg, 0, pl->kk, mr, pl->w + (size_t)g * pl->wg);
  }
  return pl;
fail:
  nn_f32_conv_plan_free(pl);
  return NULL;
}

void nn_f32_conv_plan_free(nn_f32_conv_plan *pl) {
  if (!pl) return;
  free(pl->w);
  free(pl->bias);
  free(pl->koff);
  free(pl);
}

nn_f32_conv_plan *nn_f32_convt_plan_create(const nn_kernels *k, const nn_conv_params *p,
                                           const float *w, const float *b) {
  if (!k->f32_gemm_ukernel || p->group < 1) return NULL;
  nn_f32_conv_plan *pl = calloc(1, sizeof *pl);
  if (!pl) return NULL;
  pl->k = *k;
  pl->p = *p;
  pl->path = PATH_TRANSPOSED;
  pl->cg = (size_t)(p->in_ch / p->group);
  pl->mg = (size_t)(p->out_ch / p->group);
  const size_t ksz = (size_t)(p->kernel[0] * p->kernel[1] * p->kernel[2]);
  pl->kk = pl->mg * ksz; /* GEMM rows: (m', tap) */
  pl->in_sz = (size_t)(p->in[0] * p->in[1] * p->in[2]);
  pl->out_sz = (size_t)(p->out[0] * p->out[1] * p->out[2]);
  const size_t M = (size_t)p->out_ch;
  pl->bias = calloc(M ? M : 1, sizeof *pl->bias);
  if (!pl->bias) goto fail;
  if (b) memcpy(pl->bias, b, M * sizeof *b);
  const size_t mr = k->f32_gemm_mr;
  pl->wg = nn_f32_packed_a_size(pl->kk, pl->cg, mr);
  const size_t bytes = (pl->wg * (size_t)p->group * sizeof(float) + 63) / 64 * 64;
  pl->w = aligned_alloc(64, bytes ? bytes : 64);
  if (!pl->w) goto fail;
  /* A = W_g^T: W_g is cg x (mg * ksz), i.e. A stored transposed. */
  for (int64_t g = 0; g < p->group; g++)
    nn_f32_pack_a(w + (size_t)g * pl->cg * pl->kk, pl->kk, 1, 1.0f, 0, pl->kk, 0, pl->cg, mr,
                  pl->w + (size_t)g * pl->wg);
  return pl;
fail:
  nn_f32_conv_plan_free(pl);
  return NULL;
}

/* Floats of the column buffer of a transposed plan (64-byte multiple). */
static size_t cols_floats(const nn_f32_conv_plan *pl) {
  return (pl->kk * pl->in_sz + 15) / 16 * 16;
}

/* Floats of the shifted path's grid (with the slack the last row's dropped columns read
 * past it; 0 when the input is read in place) and of its wide output (0 when the GEMM
 * writes the output directly), both 64-byte multiples. */
static size_t shift_in_floats(const nn_f32_conv_plan *pl) {
  if (!pl->copy) return 0;
  const size_t slack = pl->wp - (size_t)pl->p.out[2];
  return (pl->cg * pl->nphy * pl->nphx * pl->hp * pl->wp + slack + 15) / 16 * 16;
}
static size_t shift_out_floats(const nn_f32_conv_plan *pl) {
  if (!pl->wide) return 0;
  return (pl->mg * (size_t)pl->p.out[1] * pl->wp + 15) / 16 * 16;
}

size_t nn_f32_conv_plan_workspace(const nn_f32_conv_plan *pl, int threads) {
  if (pl->path == PATH_DW3X3)
    return pl->dw_scratch * (size_t)(threads > 1 ? threads : 1) * sizeof(float);
  if (pl->path == PATH_SHIFTED && pl->swap_direct)
    return (shift_in_floats(pl) + (pl->out_sz * pl->mg + 15) / 16 * 16) * sizeof(float);
  if (pl->path == PATH_SHIFTED)
    return (shift_in_floats(pl) + shift_out_floats(pl)) * sizeof(float) +
           nn_f32_gemm_workspace(&pl->k, pl->mg, (size_t)pl->p.out[1] * pl->wp, pl->kk, 1,
                                 pl->direct, threads);
  if (pl->path == PATH_TRANSPOSED)
    return cols_floats(pl) * sizeof(float) +
           nn_f32_gemm_workspace(&pl->k, pl->kk, pl->in_sz, pl->cg, 1, 0, threads);
  if (pl->swap)
    return (pl->out_sz * pl->mg + 15) / 16 * 16 * sizeof(float) +
           nn_f32_gemm_workspace(&pl->k, pl->out_sz, pl->mg, pl->kk, 0, 1, threads);
  return nn_f32_gemm_workspace(&pl->k, pl->mg, pl->out_sz, pl->kk, 1, 0, threads);
}

/* Two selects in the operand order of maxss/minss, so no data-dependent branch (Relu
 * outputs flip sign at random); a NaN v stays NaN. */
static inline float clampf(float v, const float *mm) {
  v = mm[0] > v ? mm[0] : v;
  return mm[1] < v ? mm[1] : v;
}

/* y (m x n) = t^T, t being n x m (row-major both), or clamp(t^T + z) with a fused sum z
 * (m x n; no clamp when mm is NULL): one task per block of 32 rows of y, 32 x 32 blocks. */
typedef struct transpose_job {
  const float *t, *z, *mm;
  float *y;
  size_t n, m;
} transpose_job;

static void transpose_rows(void *ctx, size_t thread, size_t task) {
  const transpose_job *j = ctx;
  const size_t n = j->n, m = j->m, i0 = task * 32, i1 = i0 + 32 < m ? i0 + 32 : m;
  (void)thread;
  for (size_t j0 = 0; j0 < n; j0 += 32) {
    const size_t j1 = j0 + 32 < n ? j0 + 32 : n;
    for (size_t i = i0; i < i1; i++) {
      float *yi = j->y + i * n;
      if (!j->z) {
        for (size_t q = j0; q < j1; q++) yi[q] = j->t[q * m + i];
        continue;
      }
      const float *zi = j->z + i * n;
      for (size_t q = j0; q < j1; q++) {
        const float v = j->t[q * m + i] + zi[q];
        yi[q] = j->mm ? clampf(v, j->mm) : v;
      }
    }
  }
}

static void transpose_back(const float *t, size_t n, size_t m, const float *z, const float *mm,
                           float *y, nn_threadpool *pool) {
  transpose_job j = {t, z, mm, y, n, m};
  nn_threadpool_parallelize(pool, transpose_rows, &j, (m + 31) / 32);
}

/* y[i] = clamp(y[i] + z[i]) (no clamp when mm is NULL), n values. */
static void add_sum(float *y, const float *z, size_t n, const float *mm) {
  if (mm)
    for (size_t i = 0; i < n; i++) y[i] = clampf(y[i] + z[i], mm);
  else
    for (size_t i = 0; i < n; i++) y[i] += z[i];
}

/* The swapped GEMM of one image and group (see plan.swap). */
static void run_swapped(const nn_f32_conv_plan *pl, const float *xg, const float *zg,
                        float *yg, size_t g, void *ws, size_t ws_bytes, nn_threadpool *pool) {
  const nn_conv_params *p = &pl->p;
  float *t = ws;
  const size_t tf = (pl->out_sz * pl->mg + 15) / 16 * 16;
  nn_f32_gemm_problem gp = {.M = pl->out_sz, .N = pl->mg, .K = pl->kk, .alpha = 1.0f, .c = t,
                            .ldc = pl->mg, .bias = pl->bias + g * pl->mg,
                            .flags = NN_F32_GEMM_BIAS_COL |
                                     (pl->clamp && !zg ? NN_F32_GEMM_CLAMP : 0),
                            .min = pl->minmax[0], .max = pl->minmax[1]};
  gp.b.packed = pl->w + g * pl->wg;
  nn_f32_conv_pack_ctx pc = {.p = p, .x = xg};
  if (pl->path == PATH_POINTWISE) { /* A = X^T, X stored channels x positions */
    gp.a.data = xg;
    gp.a.ld = pl->in_sz;
    gp.a.trans = 1;
  } else { /* rows of A = output positions: the conv packer's columns */
    gp.a.pack = pl->k.f32_conv_pack_b ? pl->k.f32_conv_pack_b : nn_f32_conv_pack_b;
    gp.a.ctx = &pc;
  }
  nn_f32_gemm_run(&pl->k, &gp, t + tf, ws_bytes - tf * sizeof(float), pool);
  transpose_back(t, pl->out_sz, pl->mg, zg, pl->clamp ? pl->minmax : NULL, yg, pool);
}

static int64_t floor_div(int64_t a, int64_t b) { /* b > 0 */
  const int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* Input positions i with 0 <= i*s + off < out, as [lo, hi) within [0, in). */
static void tap_range(int64_t off, int64_t s, int64_t out, int64_t in, int64_t *lo,
                      int64_t *hi) {
  int64_t a = -floor_div(off, s), b = floor_div(out - 1 - off, s) + 1;
  if (a < 0) a = 0;
  if (b > in) b = in;
  if (b < a) b = a;
  *lo = a;
  *hi = b;
}

typedef struct col2im_job {
  const nn_f32_conv_plan *pl;
  const float *cols;
  float *y; /* the group's first output channel */
  size_t m0; /* first output channel of the group (bias) */
} col2im_job;

/* Output channel m' of the group: bias, then every tap's column rows added in. */
static void col2im_channel(void *ctx, size_t thread, size_t mm) {
  const col2im_job *j = ctx;
  const nn_f32_conv_plan *pl = j->pl;
  const nn_conv_params *p = &pl->p;
  const int64_t kD = p->kernel[0], kH = p->kernel[1], kW = p->kernel[2];
  const int64_t iD = p->in[0], iH = p->in[1], iW = p->in[2];
  const int64_t oD = p->out[0], oH = p->out[1], oW = p->out[2];
  float *ym = j->y + mm * pl->out_sz;
  const float bv = pl->bias[j->m0 + mm];
  (void)thread;
  for (size_t s = 0; s < pl->out_sz; s++) ym[s] = bv;
  const size_t ksz = (size_t)(kD * kH * kW);
  for (int64_t kd = 0; kd < kD; kd++)
    for (int64_t kh = 0; kh < kH; kh++)
      for (int64_t kw = 0; kw < kW; kw++) {
        const size_t t = (size_t)((kd * kH + kh) * kW + kw);
        const float *col = j->cols + (mm * ksz + t) * pl->in_sz;
        const int64_t offd = kd * p->dilation[0] - p->pad_begin[0];
        const int64_t offh = kh * p->dilation[1] - p->pad_begin[1];
        const int64_t offw = kw * p->dilation[2] - p->pad_begin[2];
        int64_t d0, d1, h0, h1, w0, w1;
        tap_range(offd, p->stride[0], oD, iD, &d0, &d1);
        tap_range(offh, p->stride[1], oH, iH, &h0, &h1);
        tap_range(offw, p->stride[2], oW, iW, &w0, &w1);
        const int64_t sw = p->stride[2];
        for (int64_t id = d0; id < d1; id++)
          for (int64_t ih = h0; ih < h1; ih++) {
            const float *src = col + (id * iH + ih) * iW;
            float *dst = ym + ((id * p->stride[0] + offd) * oH + ih * p->stride[1] + offh) * oW;
            if (sw == 1)
              for (int64_t iw = w0; iw < w1; iw++) dst[iw + offw] += src[iw];
            else
              for (int64_t iw = w0; iw < w1; iw++) dst[iw * sw + offw] += src[iw];
          }
      }
}

/* Shifted path: padding copy (one task per input channel) and compaction (one task per
 * output channel). */
typedef struct shift_job {
  const nn_f32_conv_plan *pl;
  const float *x; /* the group's first input channel */
  float *xp, *t, *y;
  const float *z; /* fused sum (the group's first channel) or NULL */
} shift_job;

/* Grid planes of input channel c: for each phase (py, px), row r and column q hold the
 * padded input at (r*sy + py, q*sx + px), zero in the padding. */
static void shift_pad_channel(void *ctx, size_t thread, size_t c) {
  const shift_job *j = ctx;
  const nn_f32_conv_plan *pl = j->pl;
  const nn_conv_params *p = &pl->p;
  const int64_t iH = p->in[1], iW = p->in[2], ph = p->pad_begin[1], pw = p->pad_begin[2];
  const int64_t sy = p->stride[1], sx = p->stride[2];
  const size_t wp = pl->wp;
  const float *xc = j->x + c * pl->in_sz;
  (void)thread;
  for (size_t py = 0; py < pl->nphy; py++)
    for (size_t px = 0; px < pl->nphx; px++) {
      float *dp = j->xp + ((c * pl->nphy + py) * pl->nphx + px) * pl->hp * wp;
      /* columns [c0, c1) of a grid row come from the input row: q*sx + px - pw in [0, iW) */
      int64_t c0 = (pw - (int64_t)px + sx - 1) / sx, c1 = (iW + pw - (int64_t)px + sx - 1) / sx;
      if (c0 < 0) c0 = 0;
      if (c1 > (int64_t)wp) c1 = (int64_t)wp;
      if (c1 < c0) c1 = c0;
      for (size_t r = 0; r < pl->hp; r++) {
        float *d = dp + r * wp;
        const int64_t iy = (int64_t)r * sy + (int64_t)py - ph;
        if (iy < 0 || iy >= iH || c1 == c0) {
          memset(d, 0, wp * sizeof *d);
          continue;
        }
        const float *src = xc + iy * iW + (int64_t)px - pw;
        for (int64_t q = 0; q < c0; q++) d[q] = 0.0f;
        if (sx == 1)
          memcpy(d + c0, src + c0, (size_t)(c1 - c0) * sizeof *d);
        else if (sx == 2 && pl->k.f32_copy_stride2)
          pl->k.f32_copy_stride2(src + c0 * 2, (size_t)(c1 - c0), d + c0);
        else
          for (int64_t q = c0; q < c1; q++) d[q] = src[q * sx];
        for (int64_t q = c1; q < (int64_t)wp; q++) d[q] = 0.0f;
      }
    }
}

static void shift_compact_channel(void *ctx, size_t thread, size_t m) {
  const shift_job *j = ctx;
  const nn_f32_conv_plan *pl = j->pl;
  const size_t oh = (size_t)pl->p.out[1], ow = (size_t)pl->p.out[2], wp = pl->wp;
  const float *src = j->t + m * oh * wp;
  float *dst = j->y + m * pl->out_sz;
  (void)thread;
  for (size_t r = 0; r < oh; r++) memcpy(dst + r * ow, src + r * wp, ow * sizeof *dst);
}

/* The fused sum spread onto the wide grid, which the GEMM then accumulates into (the
 * dropped columns are left as they are: whatever they hold is never read back). */
static void shift_sum_channel(void *ctx, size_t thread, size_t m) {
  const shift_job *j = ctx;
  const nn_f32_conv_plan *pl = j->pl;
  const size_t oh = (size_t)pl->p.out[1], ow = (size_t)pl->p.out[2], wp = pl->wp;
  const float *src = j->z + m * pl->out_sz;
  float *dst = j->t + m * oh * wp;
  (void)thread;
  for (size_t r = 0; r < oh; r++) memcpy(dst + r * wp, src + r * ow, ow * sizeof *dst);
}

/* Copy of the fused sum into y, one task per channel (the GEMM then accumulates). */
typedef struct copy_job {
  const float *z;
  float *y;
  size_t n;
} copy_job;

static void copy_channel(void *ctx, size_t thread, size_t c) {
  const copy_job *j = ctx;
  (void)thread;
  memcpy(j->y + c * j->n, j->z + c * j->n, j->n * sizeof *j->y);
}

static void run_shifted(const nn_f32_conv_plan *pl, const float *xg, const float *zg,
                        float *yg, size_t g, void *ws, size_t ws_bytes, nn_threadpool *pool) {
  const nn_conv_params *p = &pl->p;
  const size_t fin = shift_in_floats(pl), fout = shift_out_floats(pl);
  float *xp = pl->copy ? (float *)ws : (float *)xg, *t = pl->wide ? (float *)ws + fin : yg;
  shift_job sj = {pl, xg, xp, t, yg, zg};
  if (pl->copy) {
    nn_threadpool_parallelize(pool, shift_pad_channel, &sj, pl->cg);
    /* the slack past the last plane is only read for dropped columns; keep it defined */
    for (size_t q = pl->cg * pl->nphy * pl->nphx * pl->hp * pl->wp; q < fin; q++) xp[q] = 0.0f;
  }
  if (pl->swap_direct) {
    float *tt = (float *)ws + fin;
    nn_f32_gemm_problem gp = {.M = pl->out_sz, .N = pl->mg, .K = pl->kk, .alpha = 1.0f,
                              .c = tt, .ldc = pl->mg, .bias = pl->bias + g * pl->mg,
                              .flags = NN_F32_GEMM_BIAS_COL |
                                       (pl->clamp && !zg ? NN_F32_GEMM_CLAMP : 0),
                              .min = pl->minmax[0], .max = pl->minmax[1]};
    gp.a.direct = xp;
    gp.a.koff = pl->koff;
    gp.a.row_w = (size_t)p->out[2];
    gp.a.row_stride = pl->wp;
    gp.b.packed = pl->w + g * pl->wg;
    nn_f32_gemm_run(&pl->k, &gp, NULL, 0, pool);
    transpose_back(tt, pl->out_sz, pl->mg, zg, pl->clamp ? pl->minmax : NULL, yg, pool);
    return;
  }
  if (zg) { /* the GEMM accumulates onto the fused sum */
    if (pl->wide) {
      nn_threadpool_parallelize(pool, shift_sum_channel, &sj, pl->mg);
    } else {
      copy_job cj = {zg, yg, pl->out_sz};
      nn_threadpool_parallelize(pool, copy_channel, &cj, pl->mg);
    }
  }
  nn_f32_conv_shift_ctx cx = {xp, pl->koff};
  const size_t n = (size_t)p->out[1] * pl->wp;
  nn_f32_gemm_problem gp = {.M = pl->mg, .N = n, .K = pl->kk, .alpha = 1.0f, .c = t, .ldc = n,
                            .bias = pl->bias + g * pl->mg,
                            .flags = NN_F32_GEMM_BIAS_ROW | (zg ? NN_F32_GEMM_ACC : 0) |
                                     (pl->clamp ? NN_F32_GEMM_CLAMP : 0),
                            .min = pl->minmax[0], .max = pl->minmax[1]};
  gp.a.packed = pl->w + g * pl->wg;
  if (pl->direct) {
    gp.b.direct = xp;
    gp.b.koff = pl->koff;
  } else {
    gp.b.pack = pl->k.f32_conv_pack_b_shifted ? pl->k.f32_conv_pack_b_shifted
                                               : nn_f32_conv_pack_b_shifted;
    gp.b.ctx = &cx;
  }
  nn_f32_gemm_run(&pl->k, &gp, (float *)ws + fin + fout,
                  ws_bytes - (fin + fout) * sizeof(float), pool);
  if (pl->wide) nn_threadpool_parallelize(pool, shift_compact_channel, &sj, pl->mg);
}

/* Floats of scratch of nn_f32_dwconv3x3c16__* (f32_conv.h): the padded grid and the
 * larger of the input and output as [position][16]. */
size_t nn_f32_dwconv3x3c16_scratch(size_t ih, size_t iw, size_t oh, size_t ow, size_t stride) {
  const size_t hp = (oh - 1) * stride + 3, wp = (ow - 1) * stride + 3;
  const size_t in_sz = (ih * iw + 15) / 16 * 16, out_sz = (oh * ow + 15) / 16 * 16;
  return (hp * wp + (in_sz > out_sz ? in_sz : out_sz)) * 16;
}

typedef struct dw_job {
  const nn_f32_conv_plan *pl;
  const float *x, *z;
  float *y;
  float *ws; /* blocks of 16 channels: dw_scratch floats per thread */
} dw_job;

/* Block t = (n, 16 channels) of a depthwise conv on narrow planes. */
static void dw_block(void *ctx, size_t thread, size_t t) {
  const dw_job *j = ctx;
  const nn_f32_conv_plan *pl = j->pl;
  const nn_conv_params *p = &pl->p;
  const size_t M = (size_t)p->out_ch, blocks = (M + 15) / 16;
  const size_t n = t / blocks, c0 = t % blocks * 16, nc = M - c0 < 16 ? M - c0 : 16;
  const nn_f32_dwconv3x3c16_args a = {(size_t)p->in[1], (size_t)p->in[2], (size_t)p->out[1],
                                      (size_t)p->out[2], (size_t)p->stride[1],
                                      (size_t)p->pad_begin[1], (size_t)p->pad_begin[2],
                                      pl->clamp ? pl->minmax : NULL};
  const size_t yo = (n * M + c0) * pl->out_sz;
  pl->k.f32_dwconv3x3c16(&a, j->x + (n * M + c0) * pl->in_sz, pl->w + c0 * 9, pl->bias + c0,
                         j->z ? j->z + yo : NULL, j->y + yo, nc, j->ws + thread * pl->dw_scratch);
}

static void dw_plane(void *ctx, size_t thread, size_t t) {
  const dw_job *j = ctx;
  const nn_f32_conv_plan *pl = j->pl;
  const nn_conv_params *p = &pl->p;
  const size_t m = t % (size_t)p->out_ch; /* plane t = (n, m) */
  pl->k.f32_dwconv3x3[p->stride[1] - 1](
      (size_t)p->in[1], (size_t)p->in[2], (size_t)p->out[1], (size_t)p->out[2],
      (size_t)p->pad_begin[1], (size_t)p->pad_begin[2], j->x + t * pl->in_sz, pl->w + m * 9,
      pl->bias[m], j->y + t * pl->out_sz, pl->clamp && !j->z ? pl->minmax : NULL);
  if (j->z)
    add_sum(j->y + t * pl->out_sz, j->z + t * pl->out_sz, pl->out_sz,
            pl->clamp ? pl->minmax : NULL);
  (void)thread;
}

void nn_f32_conv_plan_run(const nn_f32_conv_plan *pl, const float *x, float *y, void *ws,
                          size_t ws_bytes, nn_threadpool *pool) {
  nn_f32_conv_plan_run_sum(pl, x, NULL, y, ws, ws_bytes, pool);
}

void nn_f32_conv_plan_run_sum(const nn_f32_conv_plan *pl, const float *x, const float *z,
                              float *y, void *ws, size_t ws_bytes, nn_threadpool *pool) {
  const nn_conv_params *p = &pl->p;
  if (pl->path == PATH_DW3X3 && pl->dw_scratch) {
    dw_job j = {pl, x, z, y, ws};
    (void)ws_bytes;
    nn_threadpool_parallelize(pool, dw_block, &j,
                              (size_t)p->batch * (((size_t)p->out_ch + 15) / 16));
    return;
  }
  if (pl->path == PATH_DW3X3) {
    dw_job j = {pl, x, z, y, NULL};
    nn_threadpool_parallelize(pool, dw_plane, &j, (size_t)(p->batch * p->out_ch));
    return;
  }
  if (pl->path == PATH_TRANSPOSED) {
    (void)z; /* transposed plans are not made with a sum */
    float *cols = ws;
    const size_t cf = cols_floats(pl);
    nn_f32_gemm_problem gp = {.M = pl->kk, .N = pl->in_sz, .K = pl->cg, .alpha = 1.0f,
                              .c = cols, .ldc = pl->in_sz};
    for (int64_t n = 0; n < p->batch; n++)
      for (int64_t g = 0; g < p->group; g++) {
        gp.a.packed = pl->w + (size_t)g * pl->wg;
        gp.b.data = x + ((size_t)n * (size_t)p->in_ch + (size_t)g * pl->cg) * pl->in_sz;
        gp.b.ld = pl->in_sz;
        nn_f32_gemm_run(&pl->k, &gp, cols + cf, ws_bytes - cf * sizeof(float), pool);
        col2im_job j = {pl, cols,
                        y + ((size_t)n * (size_t)p->out_ch + (size_t)g * pl->mg) * pl->out_sz,
                        (size_t)g * pl->mg};
        nn_threadpool_parallelize(pool, col2im_channel, &j, pl->mg);
      }
    return;
  }
  nn_f32_gemm_problem gp = {.M = pl->mg, .N = pl->out_sz, .K = pl->kk, .alpha = 1.0f,
                            .ldc = pl->out_sz,
                            .flags = NN_F32_GEMM_BIAS_ROW | (pl->clamp ? NN_F32_GEMM_CLAMP : 0),
                            .min = pl->minmax[0], .max = pl->minmax[1]};
  nn_f32_conv_pack_ctx pc = {.p = p};
  if (z) /* y = z, then the GEMM adds the products and the bias, then clamps */
    gp.flags |= NN_F32_GEMM_ACC;
  for (int64_t n = 0; n < p->batch; n++)
    for (int64_t g = 0; g < p->group; g++) {
      const float *xg = x + ((size_t)n * (size_t)p->in_ch + (size_t)g * pl->cg) * pl->in_sz;
      const size_t yoff = ((size_t)n * (size_t)p->out_ch + (size_t)g * pl->mg) * pl->out_sz;
      const float *zg = z ? z + yoff : NULL;
      if (pl->path == PATH_SHIFTED) {
        run_shifted(pl, xg, zg, y + yoff, (size_t)g, ws, ws_bytes, pool);
        continue;
      }
      if (pl->swap) {
        run_swapped(pl, xg, zg, y + yoff, (size_t)g, ws, ws_bytes, pool);
        continue;
      }
      if (zg) {
        copy_job cj = {zg, y + yoff, pl->out_sz};
        nn_threadpool_parallelize(pool, copy_channel, &cj, pl->mg);
      }
      gp.a.packed = pl->w + (size_t)g * pl->wg;
      if (pl->path == PATH_POINTWISE) {
        gp.b.data = xg;
        gp.b.ld = pl->in_sz;
        gp.b.pack = NULL;
      } else {
        pc.x = xg;
        gp.b.pack = pl->k.f32_conv_pack_b ? pl->k.f32_conv_pack_b : nn_f32_conv_pack_b;
        gp.b.ctx = &pc;
      }
      gp.c = y + ((size_t)n * (size_t)p->out_ch + (size_t)g * pl->mg) * pl->out_sz;
      gp.bias = pl->bias + (size_t)g * pl->mg;
      nn_f32_gemm_run(&pl->k, &gp, ws, ws_bytes, pool);
    }
}
